//! Places and trades: districts, industries and the words of firm names.

#[derive(Clone, Copy, Debug)]
pub(super) struct Region {
    pub(super) code: &'static str,
    pub(super) city: &'static str,
}

pub(super) const fn region(code: &'static str, city: &'static str) -> Region {
    Region { code, city }
}

/// GB/T 2260 county-level codes: mostly one city (武汉, 4201xx) with the rest
/// of the province and a few other cities, as a city's firm pool looks.
pub(super) const REGIONS: &[(Region, u32)] = &[
    (region("420102", "武汉"), 9),
    (region("420103", "武汉"), 7),
    (region("420104", "武汉"), 5),
    (region("420105", "武汉"), 5),
    (region("420106", "武汉"), 9),
    (region("420107", "武汉"), 4),
    (region("420111", "武汉"), 12),
    (region("420112", "武汉"), 6),
    (region("420113", "武汉"), 2),
    (region("420114", "武汉"), 4),
    (region("420115", "武汉"), 7),
    (region("420116", "武汉"), 4),
    (region("420117", "武汉"), 3),
    (region("420202", "黄石"), 1),
    (region("420281", "大冶"), 1),
    (region("420302", "十堰"), 1),
    (region("420502", "宜昌"), 2),
    (region("420602", "襄阳"), 1),
    (region("420606", "襄阳"), 1),
    (region("420704", "鄂州"), 1),
    (region("420902", "孝感"), 1),
    (region("421002", "荆州"), 1),
    (region("421102", "黄冈"), 1),
    (region("110108", "北京"), 1),
    (region("310115", "上海"), 1),
    (region("440305", "深圳"), 1),
    (region("320505", "苏州"), 1),
    (region("330106", "杭州"), 1),
];

/// Sectors of the 2011 size standard (工信部联企业〔2011〕300号).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Sector {
    Industry,
    Software,
    Wholesale,
    Retail,
    Construction,
    Transport,
    Hospitality,
    RealEstate,
    Farming,
    Other,
}

impl Sector {
    /// (large, medium, small) thresholds as (employees, revenue in yuan); a
    /// class needs both; 0 means "not used".
    pub(super) fn thresholds(self) -> [(i64, i64); 3] {
        const W: i64 = 10_000;
        match self {
            Sector::Industry => [(1000, 40_000 * W), (300, 2000 * W), (20, 300 * W)],
            Sector::Software => [(300, 10_000 * W), (100, 1000 * W), (10, 50 * W)],
            Sector::Wholesale => [(200, 40_000 * W), (20, 5000 * W), (5, 1000 * W)],
            Sector::Retail => [(300, 20_000 * W), (50, 500 * W), (10, 100 * W)],
            Sector::Construction => [(0, 80_000 * W), (0, 6000 * W), (0, 300 * W)],
            Sector::Transport => [(1000, 30_000 * W), (300, 3000 * W), (20, 200 * W)],
            Sector::Hospitality => [(300, 10_000 * W), (100, 2000 * W), (10, 100 * W)],
            Sector::RealEstate => [(0, 200_000 * W), (0, 1000 * W), (0, 100 * W)],
            Sector::Farming => [(0, 20_000 * W), (0, 500 * W), (0, 50 * W)],
            Sector::Other => [(300, 0), (100, 0), (10, 0)],
        }
    }

    /// Revenue per employee, yuan, low and high.
    pub(super) fn revenue_per_head(self) -> (i64, i64) {
        const W: i64 = 10_000;
        match self {
            Sector::Industry => (20 * W, 160 * W),
            Sector::Software => (15 * W, 90 * W),
            Sector::Wholesale => (80 * W, 800 * W),
            Sector::Retail => (20 * W, 200 * W),
            Sector::Construction => (30 * W, 120 * W),
            Sector::Transport => (20 * W, 80 * W),
            Sector::Hospitality => (8 * W, 30 * W),
            Sector::RealEstate => (100 * W, 1000 * W),
            Sector::Farming => (10 * W, 50 * W),
            Sector::Other => (10 * W, 60 * W),
        }
    }

    /// Sectors where R&D, high-tech status and the SME ladder are common.
    pub(super) fn innovative(self) -> bool {
        matches!(self, Sector::Industry | Sector::Software | Sector::Other)
    }
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Trade {
    /// GB/T 4754-2017 class.
    pub(super) code: &'static str,
    pub(super) sector: Sector,
    /// A word for the firm's name.
    pub(super) word: &'static str,
}

pub(super) const fn trade(code: &'static str, sector: Sector, word: &'static str) -> Trade {
    Trade { code, sector, word }
}

pub(super) const TRADES: &[(Trade, u32)] = &[
    (trade("C1713", Sector::Industry, "纺织"), 2),
    (trade("C1810", Sector::Industry, "服饰"), 2),
    (trade("C2641", Sector::Industry, "涂料"), 2),
    (trade("C2669", Sector::Industry, "化工"), 2),
    (trade("C2710", Sector::Industry, "药业"), 3),
    (trade("C2720", Sector::Industry, "制药"), 2),
    (trade("C2761", Sector::Industry, "生物医药"), 2),
    (trade("C2929", Sector::Industry, "塑胶"), 2),
    (trade("C3130", Sector::Industry, "钢铁"), 1),
    (trade("C3411", Sector::Industry, "锅炉"), 1),
    (trade("C3511", Sector::Industry, "重工"), 2),
    (trade("C3562", Sector::Industry, "半导体装备"), 2),
    (trade("C3581", Sector::Industry, "医疗器械"), 3),
    (trade("C3584", Sector::Industry, "医用器材"), 1),
    (trade("C3670", Sector::Industry, "汽车零部件"), 4),
    (trade("C3841", Sector::Industry, "新能源"), 2),
    (trade("C3911", Sector::Industry, "计算机"), 2),
    (trade("C3921", Sector::Industry, "通信"), 2),
    (trade("C3973", Sector::Industry, "集成电路"), 2),
    (trade("C3976", Sector::Industry, "光电子"), 3),
    (trade("C4011", Sector::Industry, "自动化"), 2),
    (trade("C39", Sector::Industry, "电子"), 1),
    (trade("C397", Sector::Industry, "电子器件"), 1),
    (trade("D4411", Sector::Industry, "电力"), 1),
    (trade("I6513", Sector::Software, "软件"), 5),
    (trade("I6520", Sector::Software, "芯片设计"), 1),
    (trade("I6531", Sector::Software, "信息技术"), 3),
    (trade("I6450", Sector::Software, "数据"), 2),
    (trade("I65", Sector::Software, "网络科技"), 1),
    (trade("M7320", Sector::Other, "技术研究"), 2),
    (trade("M7340", Sector::Other, "医学研究"), 1),
    (trade("M7452", Sector::Other, "检测"), 2),
    (trade("M7512", Sector::Other, "科技服务"), 2),
    (trade("M73", Sector::Other, "研究院"), 1),
    (trade("F5171", Sector::Wholesale, "机械设备"), 3),
    (trade("F5123", Sector::Wholesale, "食品"), 3),
    (trade("F5193", Sector::Wholesale, "贸易"), 3),
    (trade("F5271", Sector::Retail, "五金"), 2),
    (trade("F5211", Sector::Retail, "商贸"), 3),
    (trade("E4710", Sector::Construction, "建设"), 3),
    (trade("E4851", Sector::Construction, "工程"), 2),
    (trade("G5431", Sector::Transport, "物流"), 3),
    (trade("H6210", Sector::Hospitality, "餐饮"), 3),
    (trade("H6110", Sector::Hospitality, "酒店"), 1),
    (trade("K7010", Sector::RealEstate, "置业"), 2),
    (trade("A0111", Sector::Farming, "农业"), 1),
    (trade("A0141", Sector::Farming, "生态农业"), 1),
    (trade("L7212", Sector::Other, "投资管理"), 1),
    (trade("O8011", Sector::Other, "家政服务"), 1),
];

pub(super) const BRAND: &[&str] = &[
    "华", "盛", "创", "达", "鑫", "泰", "汇", "博", "瑞", "恒", "光", "联", "科", "中", "楚", "江",
    "天", "宏", "金", "信", "新", "长", "东", "远", "德", "海", "通", "明", "安", "君", "云", "晶",
    "航", "睿",
];
