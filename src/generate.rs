//! Synthetic firm files for a schema (seeded).
//!
//! [`generate`] writes a CSV that looks like a pooled 一企一档 export: one row
//! per firm, a header of the schema's field names, valid and unique unified
//! social credit codes, and values whose distributions follow the field's
//! meaning where the generator knows it (by field name, title or alias:
//! `employees`, `revenue`, `insured_months`, `tags`, …) and its type
//! otherwise. Fields of one firm agree with each other: revenue grows with
//! staff, the size class follows the 2011 standard for the firm's sector,
//! the `高新技术企业` tag goes with a certification date, and so on.
//!
//! With `messy` the same firms are written the way office exports write them
//! (thousands separators, `万元`, `是/否`, `2024年1月5日`, `0.055` for 5.5%,
//! about 3% of cells empty); every such form is one the data reader accepts
//! (LANGUAGE.md section 10). `bad_rows` adds rows that must be rejected: a
//! cell no reader should accept, or a bad, empty or duplicated key.
//!
//! Output is a pure function of the schema and the options, byte for byte on
//! every platform: a splitmix64 generator, integer money (cents), and no
//! floating-point function whose last bit depends on the C library.

// The generator indexes its own constant tables and vectors sized from the
// schema's fields, and draws with `Rng::pick` only from slices it has just
// checked are non-empty.
#![allow(clippy::indexing_slicing)]

use std::collections::HashSet;
use std::io::{self, Write};

use crate::date::Date;
use crate::schema::{Check, Field, FieldType, Schema};

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenOptions {
    /// Data rows to write, the header not counted; bad rows are among them.
    pub rows: u64,
    pub seed: u64,
    /// Vary value formats and leave about 3% of non-key cells empty.
    pub messy: bool,
    /// Fraction of rows (0 to 1) given a deliberately invalid cell or a bad
    /// or duplicate key.
    pub bad_rows: f64,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            rows: 1000,
            seed: 1,
            messy: false,
            bad_rows: 0.0,
        }
    }
}

/// The day the synthetic data describes: "last year" is 2024, certification
/// dates fall on or before it. Example runs use `--as-of 2024-12-31`.
pub const REFERENCE_DAY: (i32, u32, u32) = (2024, 12, 31);

/// Writes `opts.rows` firms for `schema` as CSV to `out`.
pub fn generate(schema: &Schema, opts: &GenOptions, out: &mut impl Write) -> io::Result<()> {
    let mut w = csv::WriterBuilder::new().from_writer(&mut *out);
    w.write_record(schema.fields.iter().map(|f| f.name.as_str()))?;
    let concepts: Vec<Option<Concept>> = schema.fields.iter().map(concept_of).collect();
    let key_is_uscc = {
        let k = schema.key_field();
        k.ty == FieldType::Text
            && (k.check == Some(Check::Uscc) || concepts[schema.key] == Some(Concept::Key))
    };
    let bad_rows = if opts.bad_rows.is_finite() {
        opts.bad_rows.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let mut keys_seen: HashSet<String> = HashSet::new();
    let mut keys: Vec<String> = Vec::new();
    for row in 0..opts.rows {
        let mut firm_rng = Rng::stream(opts.seed, row, 1);
        let mut fmt_rng = Rng::stream(opts.seed, row, 2);
        let mut bad_rng = Rng::stream(opts.seed, row, 3);
        let firm = Firm::new(&mut firm_rng);
        let key = loop {
            let candidate = if key_is_uscc {
                uscc_for(&mut firm_rng, firm.region.code)
            } else {
                generic_key(schema.key_field(), row)
            };
            if keys_seen.insert(candidate.clone()) {
                break candidate;
            }
        };
        let mut cells: Vec<String> = Vec::with_capacity(schema.fields.len());
        for (i, field) in schema.fields.iter().enumerate() {
            if i == schema.key {
                cells.push(key.clone());
                continue;
            }
            let value = match concepts[i] {
                Some(c) => firm.value(c),
                None => Some(generic(field, &mut firm_rng)),
            };
            // Empty cells are drawn for every field, so that `messy` changes
            // which cells are empty but never the firms themselves.
            let blank = fmt_rng.chance(0.03);
            let text = match value {
                Some(_) if opts.messy && blank => String::new(),
                Some(v) => render(&v, field, opts.messy, &mut fmt_rng)
                    .unwrap_or_else(|| render_generic(field, opts.messy, &mut firm_rng)),
                None => String::new(),
            };
            cells.push(text);
        }
        if bad_rng.unit() < bad_rows {
            spoil(schema, &mut cells, &keys, key_is_uscc, &mut bad_rng);
        }
        // Only keys written intact can be duplicated by a later bad row.
        if cells[schema.key] == key {
            keys.push(key);
        }
        w.write_record(&cells)?;
    }
    w.flush()?;
    Ok(())
}

// ---- randomness -----------------------------------------------------------

/// splitmix64: small, fast, and the same on every platform.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    /// An independent stream for one row and one purpose, so that adding a
    /// field or turning `messy` on does not shift the other rows' values.
    fn stream(seed: u64, row: u64, purpose: u64) -> Rng {
        let mut r = Rng(seed ^ 0x6d69_616e_7368_656e);
        let a = r.next_u64();
        let mut r = Rng(a ^ row.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let b = r.next_u64();
        Rng(b ^ purpose.wrapping_mul(0xd1b5_4a32_d192_ed03))
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo) as u64 + 1) as i64
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// In `lo..=hi`, crowded toward `lo`: `lo + (hi - lo)·u^power`. Only
    /// multiplications, which IEEE 754 rounds the same everywhere.
    fn skewed(&mut self, lo: i64, hi: i64, power: u32) -> i64 {
        let u = self.unit();
        let mut x = 1.0;
        for _ in 0..power {
            x *= u;
        }
        (lo + ((hi - lo + 1) as f64 * x) as i64).min(hi)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u64 = items.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut n = self.below(total);
        for (item, w) in items {
            if n < u64::from(*w) {
                return item;
            }
            n -= u64::from(*w);
        }
        &items[items.len() - 1].0
    }
}

// ---- what the generator knows about fields --------------------------------

/// A field whose meaning the generator knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Concept {
    Key,
    Name,
    Region,
    Industry,
    Size,
    RegisteredOn,
    Tags,
    Employees,
    InsuredMonths,
    LayoffRate,
    UiPremiumPaid,
    GraduatesHired,
    GradInsuredMonths,
    GradInsurancePaid,
    Revenue,
    RevenuePrev,
    Rnd,
    RndPrev,
    TaxLocal,
    StarPrev,
    CreditGrade,
    AboveScale,
    AboveScaleOn,
    HightechOn,
    HightechTimes,
    Patents,
    InnovativeSmeOn,
    ZhuanjingOn,
    LittleGiantOn,
    ChampionOn,
    GiantAwardPaid,
    IpLoan,
    IpLoanInterest,
    DrugsApproved,
    DevicesApproved,
    MadeInProvince,
    SeriousDishonesty,
}

/// Names (field names and the usual Chinese titles) the generator knows.
const KNOWN: &[(&str, Concept)] = &[
    ("uscc", Concept::Key),
    ("统一社会信用代码", Concept::Key),
    ("name", Concept::Name),
    ("企业名称", Concept::Name),
    ("region", Concept::Region),
    ("行政区划代码", Concept::Region),
    ("industry", Concept::Industry),
    ("国民经济行业代码", Concept::Industry),
    ("行业代码", Concept::Industry),
    ("size", Concept::Size),
    ("企业规模", Concept::Size),
    ("registered_on", Concept::RegisteredOn),
    ("成立日期", Concept::RegisteredOn),
    ("tags", Concept::Tags),
    ("企业标签", Concept::Tags),
    ("employees", Concept::Employees),
    ("参保职工人数", Concept::Employees),
    ("职工人数", Concept::Employees),
    ("insured_months", Concept::InsuredMonths),
    ("连续足额缴纳失业保险月数", Concept::InsuredMonths),
    ("layoff_rate", Concept::LayoffRate),
    ("上年度裁员率", Concept::LayoffRate),
    ("裁员率", Concept::LayoffRate),
    ("ui_premium_paid", Concept::UiPremiumPaid),
    ("上年度实际缴纳失业保险费", Concept::UiPremiumPaid),
    ("graduates_hired", Concept::GraduatesHired),
    ("grad_insured_months", Concept::GradInsuredMonths),
    ("grad_insurance_paid", Concept::GradInsurancePaid),
    ("revenue", Concept::Revenue),
    ("上年度营业收入", Concept::Revenue),
    ("营业收入", Concept::Revenue),
    ("revenue_prev", Concept::RevenuePrev),
    ("rnd", Concept::Rnd),
    ("研发费用", Concept::Rnd),
    ("rnd_prev", Concept::RndPrev),
    ("tax_local", Concept::TaxLocal),
    ("star_prev", Concept::StarPrev),
    ("credit_grade", Concept::CreditGrade),
    ("纳税信用等级", Concept::CreditGrade),
    ("above_scale", Concept::AboveScale),
    ("规模以上企业", Concept::AboveScale),
    ("above_scale_on", Concept::AboveScaleOn),
    ("hightech_certified_on", Concept::HightechOn),
    ("高新技术企业认定日期", Concept::HightechOn),
    ("hightech_times", Concept::HightechTimes),
    ("patents", Concept::Patents),
    ("有效发明专利数", Concept::Patents),
    ("innovative_sme_on", Concept::InnovativeSmeOn),
    ("zhuanjing_on", Concept::ZhuanjingOn),
    ("little_giant_on", Concept::LittleGiantOn),
    ("champion_on", Concept::ChampionOn),
    ("giant_award_paid", Concept::GiantAwardPaid),
    ("ip_loan", Concept::IpLoan),
    ("ip_loan_interest", Concept::IpLoanInterest),
    ("drugs_approved", Concept::DrugsApproved),
    ("devices_approved", Concept::DevicesApproved),
    ("made_in_province", Concept::MadeInProvince),
    ("serious_dishonesty", Concept::SeriousDishonesty),
    ("严重失信主体", Concept::SeriousDishonesty),
];

fn concept_of(field: &Field) -> Option<Concept> {
    field
        .names()
        .find_map(|n| KNOWN.iter().find(|(k, _)| *k == n).map(|(_, c)| *c))
}

/// The tags a `tags` list draws from.
const TAGS: [&str; 6] = [
    "高新技术企业",
    "专精特新",
    "小巨人",
    "规上",
    "科技型中小企业",
    "单项冠军",
];

/// A generated value before formatting.
#[derive(Clone, Debug)]
enum Val {
    Int(i64),
    /// Money in cents (exact).
    Cents(i64),
    /// Hundredths of a percent: 550 is 5.5%.
    Pct(i64),
    Bool(bool),
    Day(Date),
    Text(String),
    List(Vec<&'static str>),
}

// ---- places and trades ------------------------------------------------------

#[derive(Clone, Copy, Debug)]
struct Region {
    code: &'static str,
    city: &'static str,
}

const fn region(code: &'static str, city: &'static str) -> Region {
    Region { code, city }
}

/// GB/T 2260 county-level codes: mostly one city (武汉, 4201xx) with the rest
/// of the province and a few other cities, as a city's firm pool looks.
const REGIONS: &[(Region, u32)] = &[
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
enum Sector {
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
    fn thresholds(self) -> [(i64, i64); 3] {
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
    fn revenue_per_head(self) -> (i64, i64) {
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
    fn innovative(self) -> bool {
        matches!(self, Sector::Industry | Sector::Software | Sector::Other)
    }
}

#[derive(Clone, Copy, Debug)]
struct Trade {
    /// GB/T 4754-2017 class.
    code: &'static str,
    sector: Sector,
    /// A word for the firm's name.
    word: &'static str,
}

const fn trade(code: &'static str, sector: Sector, word: &'static str) -> Trade {
    Trade { code, sector, word }
}

const TRADES: &[(Trade, u32)] = &[
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

const BRAND: &[&str] = &[
    "华", "盛", "创", "达", "鑫", "泰", "汇", "博", "瑞", "恒", "光", "联", "科", "中", "楚", "江",
    "天", "宏", "金", "信", "新", "长", "东", "远", "德", "海", "通", "明", "安", "君", "云", "晶",
    "航", "睿",
];

// ---- one firm ---------------------------------------------------------------

const WAN: i64 = 10_000;
/// Cents in one yuan.
const YUAN: i64 = 100;

/// The latent facts of one firm, from which every known field is rendered.
/// Money is in cents, rates in hundredths of a percent; `None` is a cell the
/// pooled data leaves empty (a date never reached, a count never reported).
#[derive(Clone, Debug)]
struct Firm {
    name: String,
    region: Region,
    industry: &'static str,
    size: Option<&'static str>,
    registered_on: Date,
    employees: i64,
    revenue: i64,
    revenue_prev: Option<i64>,
    staff: Staff,
    ladder: Ladder,
    books: Books,
    pharma: Pharma,
    serious_dishonesty: bool,
}

/// Social insurance and hiring (人社).
#[derive(Clone, Debug)]
struct Staff {
    insured_months: i64,
    layoff_rate: i64,
    ui_premium_paid: i64,
    graduates_hired: i64,
    grad_insured_months: i64,
    grad_insurance_paid: i64,
}

/// Certifications (科技, 工信): an empty date means "never certified".
#[derive(Clone, Debug)]
struct Ladder {
    tech_sme: bool,
    hightech_on: Option<Date>,
    hightech_times: Option<i64>,
    /// False for an expired certificate whose date is still on file.
    hightech_tagged: bool,
    innovative_sme_on: Option<Date>,
    zhuanjing_on: Option<Date>,
    little_giant_on: Option<Date>,
    champion_on: Option<Date>,
    giant_award_paid: Option<i64>,
}

/// Tax, statistics, R&D and financing.
#[derive(Clone, Debug)]
struct Books {
    rnd: i64,
    rnd_prev: Option<i64>,
    tax_local: i64,
    star_prev: Option<i64>,
    credit_grade: &'static str,
    above_scale: bool,
    above_scale_on: Option<Date>,
    patents: i64,
    ip_loan: i64,
    ip_loan_interest: i64,
}

/// Innovative drugs and devices (药监): only approved firms are on file.
#[derive(Clone, Debug)]
struct Pharma {
    drugs_approved: Option<i64>,
    devices_approved: Option<i64>,
    made_in_province: Option<bool>,
}

impl Firm {
    fn new(rng: &mut Rng) -> Firm {
        let today = reference_day();
        let region = *rng.weighted(REGIONS);
        let trade = *rng.weighted(TRADES);
        let employees = headcount(rng);
        let registered_on = from_days(to_days(today) - rng.skewed(30, 30 * 365, 2));
        let age_months = registered_on.months_until(today).max(0);
        let (lo, hi) = trade.sector.revenue_per_head();
        let per_head = rng.skewed(lo, hi, 2);
        // Whole yuan; a firm younger than a year reports part of a year, and a
        // few have no revenue yet.
        let revenue_yuan = if rng.chance(0.02) {
            0
        } else {
            employees * per_head / 100 * 100 * age_months.clamp(1, 12) / 12 + rng.range(0, 99)
        };
        let size = size_class(trade.sector, employees, revenue_yuan);
        let revenue_prev =
            (age_months >= 24).then(|| revenue_yuan * YUAN * rng.range(70, 120) / 100);
        let staff = Staff::new(rng, employees, age_months);
        let ladder = Ladder::new(rng, trade, employees, revenue_yuan, size, registered_on);
        let books = Books::new(rng, revenue_yuan, &ladder, registered_on, age_months);
        let pharma = Pharma::new(rng, trade);
        Firm {
            name: firm_name(rng, region, trade),
            region,
            industry: trade.code,
            // the size class is often missing in the social-insurance data
            size: if rng.chance(0.05) { None } else { size },
            registered_on,
            employees,
            revenue: revenue_yuan * YUAN,
            revenue_prev,
            staff,
            ladder,
            books,
            pharma,
            serious_dishonesty: rng.chance(0.015),
        }
    }

    fn tags(&self) -> Vec<&'static str> {
        let l = &self.ladder;
        let has = [
            l.hightech_tagged,
            l.zhuanjing_on.is_some(),
            l.little_giant_on.is_some(),
            self.books.above_scale,
            l.tech_sme,
            l.champion_on.is_some(),
        ];
        TAGS.iter()
            .zip(has)
            .filter(|(_, h)| *h)
            .map(|(t, _)| *t)
            .collect()
    }

    /// The value of a known field; `None` is an empty cell by design.
    fn value(&self, c: Concept) -> Option<Val> {
        use Concept as C;
        let (s, l, b, p) = (&self.staff, &self.ladder, &self.books, &self.pharma);
        Some(match c {
            C::Key => return None, // written by the caller
            C::Name => Val::Text(self.name.clone()),
            C::Region => Val::Text(self.region.code.to_string()),
            C::Industry => Val::Text(self.industry.to_string()),
            C::Size => Val::Text(self.size?.to_string()),
            C::RegisteredOn => Val::Day(self.registered_on),
            C::Tags => Val::List(self.tags()),
            C::Employees => Val::Int(self.employees),
            C::Revenue => Val::Cents(self.revenue),
            C::RevenuePrev => Val::Cents(self.revenue_prev?),
            C::InsuredMonths => Val::Int(s.insured_months),
            C::LayoffRate => Val::Pct(s.layoff_rate),
            C::UiPremiumPaid => Val::Cents(s.ui_premium_paid),
            C::GraduatesHired => Val::Int(s.graduates_hired),
            C::GradInsuredMonths => Val::Int(s.grad_insured_months),
            C::GradInsurancePaid => Val::Cents(s.grad_insurance_paid),
            C::HightechOn => Val::Day(l.hightech_on?),
            C::HightechTimes => Val::Int(l.hightech_times?),
            C::InnovativeSmeOn => Val::Day(l.innovative_sme_on?),
            C::ZhuanjingOn => Val::Day(l.zhuanjing_on?),
            C::LittleGiantOn => Val::Day(l.little_giant_on?),
            C::ChampionOn => Val::Day(l.champion_on?),
            C::GiantAwardPaid => Val::Cents(l.giant_award_paid?),
            C::Rnd => Val::Cents(b.rnd),
            C::RndPrev => Val::Cents(b.rnd_prev?),
            C::TaxLocal => Val::Cents(b.tax_local),
            C::StarPrev => Val::Int(b.star_prev?),
            C::CreditGrade => Val::Text(b.credit_grade.to_string()),
            C::AboveScale => Val::Bool(b.above_scale),
            C::AboveScaleOn => Val::Day(b.above_scale_on?),
            C::Patents => Val::Int(b.patents),
            C::IpLoan => Val::Cents(b.ip_loan),
            C::IpLoanInterest => Val::Cents(b.ip_loan_interest),
            C::DrugsApproved => Val::Int(p.drugs_approved?),
            C::DevicesApproved => Val::Int(p.devices_approved?),
            C::MadeInProvince => Val::Bool(p.made_in_province?),
            C::SeriousDishonesty => Val::Bool(self.serious_dishonesty),
        })
    }
}

/// Insured staff, heavy-tailed from 1 to 5000: most firms are small.
fn headcount(rng: &mut Rng) -> i64 {
    match rng.weighted(&[
        (0u8, 30),
        (1, 18),
        (2, 20),
        (3, 12),
        (4, 11),
        (5, 6),
        (6, 3),
    ]) {
        0 => rng.range(1, 9),
        1 => rng.range(10, 19),
        2 => rng.range(20, 49),
        3 => rng.range(50, 99),
        4 => rng.skewed(100, 299, 2),
        5 => rng.skewed(300, 999, 2),
        _ => rng.skewed(1000, 5000, 3),
    }
}

impl Staff {
    fn new(rng: &mut Rng, employees: i64, age_months: i64) -> Staff {
        let cap = age_months.min(120);
        let insured_months = if rng.chance(0.8) {
            cap
        } else {
            rng.range(0, cap)
        };
        let layoff_rate = if employees <= 30 {
            if rng.chance(0.6) {
                0
            } else {
                // one to three people out of a small staff, at most a third
                let k = rng.range(1, 3).min(employees / 3);
                (k * 10_000 + employees / 2) / employees.max(1)
            }
        } else {
            match rng.weighted(&[(0u8, 55), (1, 28), (2, 2), (3, 15)]) {
                0 => rng.range(0, 30) * 10,
                1 => rng.range(30, 54) * 10,
                2 => 550, // exactly at the 5.5% line
                _ => rng.range(56, 150) * 10,
            }
        };
        // employer and employee together pay about 1% of the wage base
        let wage_base = rng.range(30, 90) * 100;
        let ui_rate = rng.range(70, 100); // per ten thousand
        let ui_premium_paid = employees * wage_base * insured_months.min(12) * ui_rate / 100;
        let hires_p = if employees >= 10 { 0.4 } else { 0.12 };
        let graduates_hired = if rng.chance(hires_p) {
            rng.skewed(1, (employees / 15).clamp(1, 150), 2)
        } else {
            0
        };
        let (grad_insured_months, grad_insurance_paid) = if graduates_hired > 0 {
            let months = rng.range(1, 18);
            let monthly = rng.range(9, 18) * 100; // the employer's share, yuan
            (months, graduates_hired * months * monthly * YUAN)
        } else {
            (0, 0)
        };
        Staff {
            insured_months,
            layoff_rate,
            ui_premium_paid,
            graduates_hired,
            grad_insured_months,
            grad_insurance_paid,
        }
    }
}

impl Ladder {
    fn new(
        rng: &mut Rng,
        trade: Trade,
        employees: i64,
        revenue_yuan: i64,
        size: Option<&str>,
        registered_on: Date,
    ) -> Ladder {
        let today = reference_day();
        let innovative = trade.sector.innovative();
        let sme = size != Some("大型");
        let tech_sme =
            innovative && employees <= 500 && revenue_yuan <= 20_000 * WAN && rng.chance(0.35);
        let hightech = innovative && employees >= 5 && rng.chance(if tech_sme { 0.4 } else { 0.2 });
        // A certificate lasts three years: the latest one falls in the last three.
        let (hightech_on, hightech_times, hightech_tagged) = if hightech {
            let on = rng_day(rng, add_days(add_years(today, -3), 1), today).max(registered_on);
            let possible = 1 + i64::from((on.year() - registered_on.year()).max(0)) / 3;
            let times = if rng.chance(0.55) {
                1
            } else {
                rng.range(1, possible.clamp(1, 6))
            };
            (Some(on), Some(times), true)
        } else if innovative && rng.chance(0.05) && registered_on < add_years(today, -5) {
            let on = rng_day(rng, add_years(today, -8), add_years(today, -4)).max(registered_on);
            (Some(on), Some(1), false)
        } else {
            (None, None, false)
        };
        // 创新型中小企业 evaluation began in 2022.
        let innovative_sme_on = if innovative && sme && rng.chance(0.25) {
            let year = *rng.weighted(&[(2022, 25), (2023, 35), (2024, 40)]);
            let start = Date::new(year, 1, 1).unwrap_or(today).max(registered_on);
            let end = Date::new(year, 12, 31).unwrap_or(today).min(today);
            (start <= end).then(|| rng_day(rng, start, end))
        } else {
            None
        };
        let next_step = |rng: &mut Rng, from: Option<Date>, p: f64, gap: i64| match from {
            Some(d) if rng.chance(p) && add_days(d, gap) <= today => {
                Some(rng_day(rng, add_days(d, gap), today))
            }
            _ => None,
        };
        let zhuanjing_on = next_step(rng, innovative_sme_on, 0.45, 60);
        let little_giant_on = next_step(rng, zhuanjing_on, 0.25, 90);
        let champion_on = if trade.sector == Sector::Industry
            && (little_giant_on.is_some() || size == Some("大型"))
            && rng.chance(0.3)
        {
            let start = if rng.chance(0.35) {
                Date::new(2024, 1, 1).unwrap_or(today)
            } else {
                add_years(today, -8)
            };
            Some(rng_day(rng, start.max(registered_on), today))
        } else {
            None
        };
        let giant_award_paid = little_giant_on
            .map(|_| *rng.weighted(&[(100 * WAN, 70), (50 * WAN, 20), (0, 10)]) * YUAN);
        Ladder {
            tech_sme,
            hightech_on,
            hightech_times,
            hightech_tagged,
            innovative_sme_on,
            zhuanjing_on,
            little_giant_on,
            champion_on,
            giant_award_paid,
        }
    }
}

impl Books {
    fn new(
        rng: &mut Rng,
        revenue_yuan: i64,
        ladder: &Ladder,
        registered_on: Date,
        age_months: i64,
    ) -> Books {
        let today = reference_day();
        let revenue = revenue_yuan * YUAN;
        // 规上: main-business revenue of 20 million yuan, with a little noise
        let above_scale = if revenue_yuan >= 2000 * WAN {
            rng.chance(0.96)
        } else {
            rng.chance(0.01)
        };
        let above_scale_on = if above_scale {
            let first = registered_on.max(Date::new(2011, 1, 1).unwrap_or(today));
            let recent = Date::new(2024, 1, 1).unwrap_or(today).max(first);
            let start = if rng.chance(0.15) { recent } else { first };
            Some(rng_day(rng, start, today))
        } else {
            None
        };

        // R&D: common among the certified, rare elsewhere (hundredths of a
        // percent of revenue).
        let certified = ladder.hightech_tagged || ladder.tech_sme || ladder.zhuanjing_on.is_some();
        let rnd_rate = if certified {
            rng.skewed(150, 1200, 2)
        } else if rng.chance(0.35) {
            rng.range(10, 300)
        } else {
            0
        };
        let rnd = revenue * rnd_rate / 10_000;
        let rnd_prev = if rnd == 0 {
            Some(0)
        } else if age_months < 24 {
            // a young firm: no R&D the year before, or not reported
            if rng.chance(0.7) {
                Some(0)
            } else {
                None
            }
        } else if rng.chance(0.1) {
            Some(0)
        } else if rng.chance(0.72) {
            Some(rnd * rng.range(60, 99) / 100)
        } else {
            Some(rnd * rng.range(100, 130) / 100)
        };

        let tax_local = revenue * rng.skewed(50, 600, 2) / 10_000;
        let star_prev = if age_months >= 24 {
            Some(star(tax_local * rng.range(70, 120) / 100))
        } else {
            None
        };
        let credit_grade = if age_months < 12 {
            "M" // 新设立企业
        } else {
            *rng.weighted(&[("A", 35), ("B", 40), ("M", 12), ("C", 9), ("D", 4)])
        };

        let patents = if ladder.hightech_tagged {
            rng.skewed(1, 120, 2)
        } else if ladder.tech_sme {
            rng.skewed(0, 20, 2)
        } else if rng.chance(0.15) {
            rng.range(1, 5)
        } else {
            0
        };
        let (ip_loan, ip_loan_interest) = if patents > 0 && rng.chance(0.12) {
            let loan = rng.skewed(10, 300, 2) * 10 * WAN * YUAN;
            let rate = rng.range(300, 450); // hundredths of a percent a year
            let months = rng.range(6, 12);
            (loan, loan * rate * months / 10_000 / 12)
        } else {
            (0, 0)
        };
        Books {
            rnd,
            rnd_prev,
            tax_local,
            star_prev: star_prev.filter(|s| *s > 0),
            credit_grade,
            above_scale,
            above_scale_on,
            patents,
            ip_loan,
            ip_loan_interest,
        }
    }
}

impl Pharma {
    fn new(rng: &mut Rng, trade: Trade) -> Pharma {
        let drugs_approved = (trade.code.starts_with("C27") && rng.chance(0.06))
            .then(|| *rng.weighted(&[(1, 75), (2, 20), (3, 5)]));
        let devices_approved = (trade.code.starts_with("C358") && rng.chance(0.08))
            .then(|| *rng.weighted(&[(1, 80), (2, 20)]));
        let approved = drugs_approved.is_some() || devices_approved.is_some();
        Pharma {
            drugs_approved,
            devices_approved,
            made_in_province: approved.then(|| rng.chance(0.8)),
        }
    }
}

/// 大型/中型/小型/微型 by the 2011 standard: a class needs both of its lower
/// bounds; what misses the small class is micro.
fn size_class(sector: Sector, employees: i64, revenue_yuan: i64) -> Option<&'static str> {
    let classes = ["大型", "中型", "小型"];
    for (class, (e, r)) in classes.iter().zip(sector.thresholds()) {
        if employees >= e && revenue_yuan >= r {
            return Some(class);
        }
    }
    Some("微型")
}

/// Stars of a local fiscal contribution in cents (the example 星级纳税 bands).
fn star(tax_cents: i64) -> i64 {
    let yuan = tax_cents / YUAN;
    match yuan {
        y if y >= 30_000 * WAN => 5,
        y if y >= 15_000 * WAN => 4,
        y if y >= 8000 * WAN => 3,
        y if y >= 4000 * WAN => 2,
        y if y >= 2000 * WAN => 1,
        _ => 0,
    }
}

fn firm_name(rng: &mut Rng, region: Region, trade: Trade) -> String {
    let a = rng.pick(BRAND);
    let b = rng.pick(BRAND);
    let kind = rng.weighted(&[("有限公司", 70), ("股份有限公司", 15), ("有限责任公司", 15)]);
    let tech = if trade.sector.innovative() && rng.chance(0.4) {
        "科技"
    } else {
        ""
    };
    format!("{}{a}{b}{}{tech}{kind}", region.city, trade.word)
}

// ---- credit codes ----------------------------------------------------------

/// The check character of a 9-character organization code (GB 11714-1997).
fn org_check(body: &[u8]) -> u8 {
    const W: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let value = |c: u8| {
        if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            u32::from(c - b'A') + 10
        }
    };
    let sum: u32 = body.iter().zip(W).map(|(c, w)| w * value(*c)).sum();
    match 11 - sum % 11 {
        10 => b'X',
        11 => b'0',
        n => b'0' + n as u8,
    }
}

/// `91` (an enterprise registered with market regulation), the region, an
/// organization code (new style `MA…` or an old all-digit one) with its own
/// check character, then the code's check character.
fn uscc_for(rng: &mut Rng, region: &str) -> String {
    let mut code: Vec<u8> = b"91".to_vec();
    code.extend(region.bytes().take(6));
    while code.len() < 8 {
        code.push(b'0');
    }
    let mut body: Vec<u8> = Vec::with_capacity(8);
    if rng.chance(0.8) {
        body.extend(b"MA");
        for _ in 0..6 {
            body.push(*rng.pick(crate::schema::USCC_ALPHABET));
        }
    } else {
        for _ in 0..8 {
            body.push(b'0' + rng.below(10) as u8);
        }
    }
    let check = org_check(&body);
    code.extend(&body);
    code.push(check);
    let mut code = String::from_utf8(code).unwrap_or_default();
    code.extend(crate::schema::uscc_check_char(&code));
    code
}

/// A key for a schema whose key is not a credit code: the row number.
fn generic_key(field: &Field, row: u64) -> String {
    let n = u128::from(row) + 1;
    match field.ty {
        FieldType::Integer | FieldType::Number | FieldType::Money => n.to_string(),
        _ => format!("F{n:09}"),
    }
}

// ---- values of unknown fields ----------------------------------------------

fn generic(field: &Field, rng: &mut Rng) -> Val {
    match &field.ty {
        FieldType::Bool => Val::Bool(rng.chance(0.3)),
        FieldType::Integer => Val::Int(rng.skewed(0, 1000, 3)),
        FieldType::Number => Val::Cents(rng.skewed(0, 10_000 * YUAN, 3)),
        FieldType::Money => Val::Cents(rng.skewed(0, 10_000 * WAN, 3) * YUAN),
        FieldType::Percent => Val::Pct(rng.range(0, 10_000)),
        FieldType::Date => {
            let today = reference_day();
            Val::Day(rng_day(rng, add_years(today, -25), today))
        }
        FieldType::Text => Val::Text(format!(
            "{}{}",
            field.title.as_deref().unwrap_or(&field.name),
            rng.range(1, 999)
        )),
        FieldType::Enum(values) if values.is_empty() => Val::Text(String::new()),
        FieldType::Enum(values) => Val::Text(rng.pick(values).clone()),
        FieldType::List => {
            let n = rng.skewed(0, 3, 2) as usize;
            let mut items: Vec<&'static str> = Vec::new();
            for _ in 0..n {
                let t = *rng.pick(&TAGS);
                if !items.contains(&t) {
                    items.push(t);
                }
            }
            Val::List(items)
        }
    }
}

fn render_generic(field: &Field, messy: bool, rng: &mut Rng) -> String {
    let v = generic(field, rng);
    render(&v, field, messy, rng).unwrap_or_default()
}

// ---- formatting ------------------------------------------------------------

/// The cell text of a value for a field, or `None` when the value does not
/// suit the field's type (the caller then makes a generic one).
fn render(v: &Val, field: &Field, messy: bool, rng: &mut Rng) -> Option<String> {
    use FieldType as T;
    Some(match (v, &field.ty) {
        (Val::Int(n), T::Integer | T::Number) => int_text(*n, messy, rng),
        (Val::Int(n), T::Money) => money_text(*n * YUAN, messy, rng),
        (Val::Cents(c), T::Money) => money_text(*c, messy, rng),
        (Val::Cents(c), T::Number) => plain_cents(*c),
        (Val::Cents(c), T::Integer) => int_text(*c / YUAN, messy, rng),
        (Val::Pct(p), T::Percent) => pct_text(*p, messy, rng),
        (Val::Pct(p), T::Number) => fraction(i128::from(*p), 4),
        (Val::Bool(b), T::Bool) => bool_text(*b, messy, rng),
        (Val::Day(d), T::Date) => date_text(*d, messy, rng),
        (Val::Text(t), T::Text) => t.clone(),
        (Val::Text(t), T::Enum(values)) if values.iter().any(|v| v == t) => t.clone(),
        (Val::List(items), T::List) => {
            let sep = if messy {
                *rng.weighted(&[(";", 70), ("、", 20), ("|", 10)])
            } else {
                ";"
            };
            items.join(sep)
        }
        (Val::List(items), T::Text) => items.join(";"),
        _ => return None,
    })
}

fn int_text(n: i64, messy: bool, rng: &mut Rng) -> String {
    if messy && n.abs() >= 1000 && rng.chance(0.3) {
        grouped(n)
    } else {
        n.to_string()
    }
}

/// `1,234,567`
fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    if n < 0 {
        out.push('-');
    }
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `1234567.89`, or `1234567` for whole yuan.
fn plain_cents(c: i64) -> String {
    if c % YUAN == 0 {
        (c / YUAN).to_string()
    } else {
        fraction(i128::from(c), 2)
    }
}

/// `n / 10^places` written exactly, trailing zeros dropped.
fn fraction(n: i128, places: u32) -> String {
    let scale = 10i128.pow(places);
    let sign = if n < 0 { "-" } else { "" };
    let (int, frac) = (n.abs() / scale, n.abs() % scale);
    if frac == 0 {
        return format!("{sign}{int}");
    }
    let frac = format!("{frac:0width$}", width = places as usize);
    format!("{sign}{int}.{}", frac.trim_end_matches('0'))
}

fn money_text(c: i64, messy: bool, rng: &mut Rng) -> String {
    if !messy {
        return plain_cents(c);
    }
    let yuan_cents = |c: i64| {
        if c % YUAN == 0 {
            grouped(c / YUAN)
        } else {
            format!("{}.{:02}", grouped(c / YUAN), (c % YUAN).abs())
        }
    };
    match rng.weighted(&[(0u8, 40), (1, 22), (2, 15), (3, 10), (4, 5), (5, 8)]) {
        1 => yuan_cents(c),
        2 if c.abs() >= WAN * YUAN => format!("{}万", fraction(i128::from(c), 6)),
        3 if c.abs() >= WAN * YUAN => format!("{}万元", fraction(i128::from(c), 6)),
        4 => format!("{}元", plain_cents(c)),
        5 if c.abs() >= 10_000 * WAN * YUAN => {
            let unit = if rng.chance(0.5) { "亿" } else { "亿元" };
            format!("{}{unit}", fraction(i128::from(c), 10))
        }
        _ => plain_cents(c),
    }
}

/// `5.5%`, or `0.055` now and then when messy.
fn pct_text(p: i64, messy: bool, rng: &mut Rng) -> String {
    if messy && rng.chance(0.3) {
        fraction(i128::from(p), 4)
    } else {
        format!("{}%", fraction(i128::from(p), 2))
    }
}

fn bool_text(b: bool, messy: bool, rng: &mut Rng) -> String {
    let pair = if messy {
        *rng.weighted(&[
            (("是", "否"), 40),
            (("true", "false"), 40),
            (("1", "0"), 10),
            (("Y", "N"), 10),
        ])
    } else {
        ("true", "false")
    };
    if b { pair.0 } else { pair.1 }.to_string()
}

fn date_text(d: Date, messy: bool, rng: &mut Rng) -> String {
    let (y, m, day) = (d.year(), d.month(), d.day());
    match if messy {
        *rng.weighted(&[(0u8, 55), (1, 18), (2, 10), (3, 17)])
    } else {
        0
    } {
        1 => format!("{y}/{m}/{day}"),
        2 => format!("{y:04}{m:02}{day:02}"),
        3 => format!("{y}年{m}月{day}日"),
        _ => d.to_string(),
    }
}

// ---- bad rows --------------------------------------------------------------

/// Gives a row one fault the reader must reject.
fn spoil(schema: &Schema, cells: &mut [String], keys: &[String], key_is_uscc: bool, rng: &mut Rng) {
    #[derive(Clone, Copy)]
    enum Fault {
        KeyCheck,
        KeyEmpty,
        KeyDuplicate,
        Cell(usize),
    }
    let mut faults = vec![Fault::KeyEmpty];
    if key_is_uscc {
        faults.push(Fault::KeyCheck);
    }
    if !keys.is_empty() {
        faults.push(Fault::KeyDuplicate);
        faults.push(Fault::KeyDuplicate);
    }
    let typed: Vec<usize> = schema
        .fields
        .iter()
        .enumerate()
        .filter(|(i, f)| *i != schema.key && !matches!(f.ty, FieldType::Text | FieldType::List))
        .map(|(i, _)| i)
        .collect();
    for _ in 0..4 {
        if let Some(i) = (!typed.is_empty()).then(|| *rng.pick(&typed)) {
            faults.push(Fault::Cell(i));
        }
    }
    let k = schema.key;
    match *rng.pick(&faults) {
        Fault::KeyEmpty => cells[k].clear(),
        Fault::KeyDuplicate => cells[k] = rng.pick(keys).clone(),
        Fault::KeyCheck => {
            let mut code = cells[k].clone().into_bytes();
            if let Some(last) = code.last_mut() {
                let alphabet = crate::schema::USCC_ALPHABET;
                let at = alphabet.iter().position(|c| c == last).unwrap_or(0);
                *last = alphabet[(at + 1 + rng.below(30) as usize) % 31];
            }
            cells[k] = String::from_utf8(code).unwrap_or_default();
        }
        Fault::Cell(i) => {
            let bad: &[&str] = match &schema.fields[i].ty {
                FieldType::Integer => &["12,34", "3.5", "约100", "N/A"],
                FieldType::Number | FieldType::Money => {
                    &["12,34", "约100万", "1.2.3", "N/A", "一百万"]
                }
                FieldType::Percent => &["5.5%%", "5.5万", "百分之五", "--"],
                FieldType::Date => &["2024-13-45", "2023年2月29日", "2024.01.05", "去年"],
                FieldType::Bool => &["不详", "yes", "--"],
                FieldType::Enum(_) => &["特大型", "未知", "-"],
                FieldType::Text | FieldType::List => &[""],
            };
            let allowed = |v: &str| matches!(&schema.fields[i].ty, FieldType::Enum(vs) if vs.iter().any(|x| x == v));
            let bad: Vec<&str> = bad.iter().copied().filter(|v| !allowed(v)).collect();
            if !bad.is_empty() {
                cells[i] = rng.pick(&bad).to_string();
            }
        }
    }
}

// ---- dates -----------------------------------------------------------------

fn reference_day() -> Date {
    let (y, m, d) = REFERENCE_DAY;
    Date::new(y, m, d).unwrap_or(Date::EPOCH)
}

fn to_days(d: Date) -> i64 {
    d.days_since_epoch()
}

fn from_days(z: i64) -> Date {
    Date::from_days_since_epoch(z).unwrap_or_else(reference_day)
}

fn add_days(d: Date, n: i64) -> Date {
    d.add_days(n).unwrap_or(d)
}

fn add_years(d: Date, n: i32) -> Date {
    d.add_years(n).unwrap_or(d)
}

/// A day in `from..=to`, uniformly.
fn rng_day(rng: &mut Rng, from: Date, to: Date) -> Date {
    let (a, b) = (to_days(from), to_days(to));
    if b <= a {
        return from;
    }
    from_days(rng.range(a, b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::parse_cell;
    use crate::diag::SourceText;
    use crate::schema::uscc_valid;

    fn example_schema() -> Schema {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/policies/schema.yaml");
        let text = std::fs::read_to_string(path).expect("policies/schema.yaml");
        Schema::load(&SourceText::new(path, text)).expect("the example schema loads")
    }

    fn csv_of(schema: &Schema, opts: &GenOptions) -> Vec<u8> {
        let mut out = Vec::new();
        generate(schema, opts, &mut out).expect("writing to memory");
        out
    }

    fn records(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(bytes);
        let header = r
            .headers()
            .expect("header")
            .iter()
            .map(String::from)
            .collect();
        let rows = r
            .records()
            .map(|rec| rec.expect("record").iter().map(String::from).collect())
            .collect();
        (header, rows)
    }

    fn opts(rows: u64, seed: u64, messy: bool, bad_rows: f64) -> GenOptions {
        GenOptions {
            rows,
            seed,
            messy,
            bad_rows,
        }
    }

    #[test]
    fn same_seed_same_bytes() {
        let schema = example_schema();
        for messy in [false, true] {
            let a = csv_of(&schema, &opts(300, 7, messy, 0.05));
            let b = csv_of(&schema, &opts(300, 7, messy, 0.05));
            assert_eq!(a, b);
            let c = csv_of(&schema, &opts(300, 8, messy, 0.05));
            assert_ne!(a, c);
        }
    }

    #[test]
    fn header_is_the_field_names() {
        let schema = example_schema();
        let (header, _) = records(&csv_of(&schema, &opts(3, 1, true, 0.0)));
        let names: Vec<String> = schema.fields.iter().map(|f| f.name.clone()).collect();
        assert_eq!(header, names);
    }

    #[test]
    fn writes_the_rows_asked_for() {
        let schema = example_schema();
        for n in [0, 1, 57] {
            let (_, rows) = records(&csv_of(&schema, &opts(n, 3, true, 0.1)));
            assert_eq!(rows.len() as u64, n);
            assert!(rows.iter().all(|r| r.len() == schema.fields.len()));
        }
    }

    #[test]
    fn keys_are_valid_and_unique_without_bad_rows() {
        let schema = example_schema();
        for messy in [false, true] {
            let (_, rows) = records(&csv_of(&schema, &opts(2000, 11, messy, 0.0)));
            let mut seen = HashSet::new();
            for row in &rows {
                let key = &row[schema.key];
                assert!(uscc_valid(key).is_ok(), "{key}: {:?}", uscc_valid(key));
                assert!(seen.insert(key.clone()), "duplicate key {key}");
            }
        }
    }

    #[test]
    fn every_cell_reads_without_bad_rows() {
        let schema = example_schema();
        for messy in [false, true] {
            let (_, rows) = records(&csv_of(&schema, &opts(2000, 5, messy, 0.0)));
            for row in &rows {
                for (field, cell) in schema.fields.iter().zip(row) {
                    if let Err(e) = parse_cell(&field.ty, cell) {
                        panic!("{} `{cell}`: {e}", field.name);
                    }
                }
            }
        }
    }

    #[test]
    fn bad_rows_are_rejected_by_the_reader() {
        let schema = example_schema();
        let clean = records(&csv_of(&schema, &opts(1000, 9, true, 0.0))).1;
        let dirty = records(&csv_of(&schema, &opts(1000, 9, true, 0.2))).1;
        let mut keys = std::collections::HashMap::new();
        for row in &dirty {
            *keys.entry(row[schema.key].clone()).or_insert(0) += 1;
        }
        let mut spoiled = 0;
        for (c, d) in clean.iter().zip(&dirty) {
            if c == d {
                continue;
            }
            spoiled += 1;
            let key = &d[schema.key];
            let key_bad = key.is_empty() || uscc_valid(key).is_err() || keys[key] > 1;
            let cell_bad = schema
                .fields
                .iter()
                .zip(d)
                .any(|(f, cell)| parse_cell(&f.ty, cell).is_err());
            assert!(key_bad || cell_bad, "row changed but readable: {d:?}");
        }
        assert!(
            (120..=280).contains(&spoiled),
            "{spoiled} spoiled rows of 1000"
        );
    }

    #[test]
    fn messy_changes_formats_not_firms() {
        let schema = example_schema();
        let clean = records(&csv_of(&schema, &opts(200, 4, false, 0.0))).1;
        let messy = records(&csv_of(&schema, &opts(200, 4, true, 0.0))).1;
        for (c, m) in clean.iter().zip(&messy) {
            for (f, (a, b)) in schema.fields.iter().zip(c.iter().zip(m)) {
                if b.is_empty() {
                    continue;
                }
                assert_eq!(
                    parse_cell(&f.ty, a),
                    parse_cell(&f.ty, b),
                    "{}: `{a}` vs `{b}`",
                    f.name
                );
            }
        }
    }

    #[test]
    fn sizes_follow_the_2011_standard() {
        assert_eq!(
            size_class(Sector::Industry, 1000, 40_000 * WAN),
            Some("大型")
        );
        assert_eq!(
            size_class(Sector::Industry, 1000, 39_999 * WAN),
            Some("中型")
        );
        assert_eq!(size_class(Sector::Industry, 19, 5000 * WAN), Some("微型"));
        assert_eq!(size_class(Sector::Industry, 20, 300 * WAN), Some("小型"));
        assert_eq!(size_class(Sector::Other, 150, 0), Some("中型"));
    }

    #[test]
    fn check_characters() {
        let mut rng = Rng::stream(1, 2, 3);
        for _ in 0..500 {
            let code = uscc_for(&mut rng, "420102");
            assert!(uscc_valid(&code).is_ok(), "{code}");
        }
        // The organization-code check of LANGUAGE.md's example key `91420102MA4K2L3R0G`.
        assert_eq!(org_check(b"MA4K2L3R"), b'0');
        assert_eq!(
            crate::schema::uscc_check_char("91420102MA4K2L3R0"),
            Some('G')
        );
    }

    #[test]
    fn any_schema_gets_values_of_its_types() {
        let field = |name: &str, ty: FieldType| Field {
            name: name.into(),
            ty,
            title: None,
            aliases: vec![],
            source: None,
            check: None,
        };
        let schema = Schema::new(
            vec![
                field("id", FieldType::Text),
                field("flag", FieldType::Bool),
                field("count", FieldType::Integer),
                field("ratio", FieldType::Percent),
                field("when", FieldType::Date),
                field("kind", FieldType::Enum(vec!["甲".into(), "乙".into()])),
                field("labels", FieldType::List),
                field("weight", FieldType::Number),
                // a known name with an unexpected type falls back to its type
                field("employees", FieldType::Date),
            ],
            "id",
        )
        .expect("schema");
        let (_, rows) = records(&csv_of(&schema, &opts(200, 2, true, 0.0)));
        let mut seen = HashSet::new();
        for row in &rows {
            assert!(seen.insert(row[0].clone()));
            for (f, cell) in schema.fields.iter().zip(row) {
                assert!(parse_cell(&f.ty, cell).is_ok(), "{} `{cell}`", f.name);
            }
        }
    }

    #[test]
    fn dates_round_trip() {
        for s in ["1970-01-01", "2000-02-29", "2024-12-31", "1999-03-01"] {
            let d = Date::parse_iso(s).expect("date");
            assert_eq!(from_days(to_days(d)), d);
        }
        assert_eq!(to_days(Date::parse_iso("1970-01-02").expect("date")), 1);
    }

    /// Writes the bundled example data: `cargo test --lib write_example_firms -- --ignored`.
    #[test]
    #[ignore]
    fn write_example_firms() {
        let schema = example_schema();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/policies/data/firms.csv");
        let mut file = std::fs::File::create(path).expect("create policies/data/firms.csv");
        generate(&schema, &opts(1000, 20_241_231, true, 0.01), &mut file).expect("write");
    }
}
