//! Region (GB/T 2260) and industry (GB/T 4754-2017) codes: what a firm's
//! code says, and the names a bundled table knows. A code that is neither
//! is "未识别", never dropped.

/// The row label of a code that is not a GB/T 2260 or GB/T 4754 code (or is
/// missing).
pub const UNKNOWN: &str = "未识别";

/// A district code and its city and province prefixes (six digits each).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Region {
    /// The district code as written, or [`UNKNOWN`].
    pub district: String,
}

impl Region {
    /// Reads a region cell: six digits whose first two are a province.
    pub fn of(text: &str) -> Region {
        let t = text.trim();
        let ok = t.len() == 6
            && t.bytes().all(|b| b.is_ascii_digit())
            && province_name(t.get(..2).unwrap_or_default()).is_some();
        Region {
            district: if ok { t.to_string() } else { UNKNOWN.into() },
        }
    }

    pub fn known(&self) -> bool {
        self.district != UNKNOWN
    }

    /// The province's code (`420000`), or [`UNKNOWN`].
    pub fn province(&self) -> String {
        self.prefixed(2)
    }

    /// The city's code (`420100`), or [`UNKNOWN`].
    pub fn city(&self) -> String {
        self.prefixed(4)
    }

    fn prefixed(&self, n: usize) -> String {
        match self.district.get(..n) {
            Some(p) if self.known() => format!("{p:0<6}"),
            _ => UNKNOWN.into(),
        }
    }

    pub fn province_name(&self) -> &'static str {
        province_name(self.district.get(..2).unwrap_or_default()).unwrap_or("")
    }

    pub fn city_name(&self) -> &'static str {
        named(CITIES, &self.city())
    }

    pub fn district_name(&self) -> &'static str {
        named(DISTRICTS, &self.district)
    }

    /// "湖北省武汉市洪山区", or the code when no name is known.
    pub fn label(&self) -> String {
        if !self.known() {
            return UNKNOWN.into();
        }
        match self.district_name() {
            "" => self.district.clone(),
            d => format!("{}{d}", self.city_name()),
        }
    }
}

fn named(table: &[(&str, &'static str)], code: &str) -> &'static str {
    table
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("", |(_, n)| n)
}

fn province_name(two: &str) -> Option<&'static str> {
    PROVINCES.iter().find(|(c, _)| *c == two).map(|(_, n)| *n)
}

/// The section (门类) of an industry code: `C3911`, `C39`, `C` or the
/// digits alone (`3911`, from the division); a letter that disagrees with
/// the division, or anything else, is [`UNKNOWN`].
pub fn section(text: &str) -> &'static str {
    let t = text.trim();
    let (letter, digits) = match t.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => (Some(c.to_ascii_uppercase()), t.get(1..)),
        _ => (None, Some(t)),
    };
    let digits = digits.unwrap_or_default();
    let from_digits = if digits.is_empty() {
        None
    } else if matches!(digits.len(), 2..=4) && digits.bytes().all(|b| b.is_ascii_digit()) {
        let division: u32 = digits.get(..2).and_then(|d| d.parse().ok()).unwrap_or(0);
        SECTIONS
            .iter()
            .find(|s| (s.from..=s.to).contains(&division))
            .map(|s| s.letter)
    } else {
        return UNKNOWN;
    };
    let found = match (letter, from_digits) {
        (Some(l), None) => SECTIONS.iter().find(|s| s.letter == l).map(|s| s.letter),
        (Some(l), Some(d)) => (l == d).then_some(d),
        (None, d) => d,
    };
    match found {
        Some(l) => SECTIONS
            .iter()
            .find(|s| s.letter == l)
            .map_or(UNKNOWN, |s| s.code),
        None => UNKNOWN,
    }
}

/// The Chinese name of a section letter (`C` → 制造业).
pub fn section_name(code: &str) -> &'static str {
    SECTIONS
        .iter()
        .find(|s| s.code == code)
        .map_or("", |s| s.name)
}

struct Section {
    letter: char,
    code: &'static str,
    name: &'static str,
    /// Its divisions (大类), two digits.
    from: u32,
    to: u32,
}

const fn s(letter: char, code: &'static str, name: &'static str, from: u32, to: u32) -> Section {
    Section {
        letter,
        code,
        name,
        from,
        to,
    }
}

/// GB/T 4754-2017 sections and their divisions.
const SECTIONS: &[Section] = &[
    s('A', "A", "农、林、牧、渔业", 1, 5),
    s('B', "B", "采矿业", 6, 12),
    s('C', "C", "制造业", 13, 43),
    s('D', "D", "电力、热力、燃气及水生产和供应业", 44, 46),
    s('E', "E", "建筑业", 47, 50),
    s('F', "F", "批发和零售业", 51, 52),
    s('G', "G", "交通运输、仓储和邮政业", 53, 60),
    s('H', "H", "住宿和餐饮业", 61, 62),
    s('I', "I", "信息传输、软件和信息技术服务业", 63, 65),
    s('J', "J", "金融业", 66, 69),
    s('K', "K", "房地产业", 70, 70),
    s('L', "L", "租赁和商务服务业", 71, 72),
    s('M', "M", "科学研究和技术服务业", 73, 75),
    s('N', "N", "水利、环境和公共设施管理业", 76, 79),
    s('O', "O", "居民服务、修理和其他服务业", 80, 82),
    s('P', "P", "教育", 83, 83),
    s('Q', "Q", "卫生和社会工作", 84, 85),
    s('R', "R", "文化、体育和娱乐业", 86, 90),
    s('S', "S", "公共管理、社会保障和社会组织", 91, 96),
    s('T', "T", "国际组织", 97, 97),
];

/// GB/T 2260 provinces (first two digits).
const PROVINCES: &[(&str, &str)] = &[
    ("11", "北京市"),
    ("12", "天津市"),
    ("13", "河北省"),
    ("14", "山西省"),
    ("15", "内蒙古自治区"),
    ("21", "辽宁省"),
    ("22", "吉林省"),
    ("23", "黑龙江省"),
    ("31", "上海市"),
    ("32", "江苏省"),
    ("33", "浙江省"),
    ("34", "安徽省"),
    ("35", "福建省"),
    ("36", "江西省"),
    ("37", "山东省"),
    ("41", "河南省"),
    ("42", "湖北省"),
    ("43", "湖南省"),
    ("44", "广东省"),
    ("45", "广西壮族自治区"),
    ("46", "海南省"),
    ("50", "重庆市"),
    ("51", "四川省"),
    ("52", "贵州省"),
    ("53", "云南省"),
    ("54", "西藏自治区"),
    ("61", "陕西省"),
    ("62", "甘肃省"),
    ("63", "青海省"),
    ("64", "宁夏回族自治区"),
    ("65", "新疆维吾尔自治区"),
    ("71", "台湾省"),
    ("81", "香港特别行政区"),
    ("82", "澳门特别行政区"),
];

/// Cities whose names the bundled table knows (those of the example data
/// and its generator); others show their code.
const CITIES: &[(&str, &str)] = &[
    ("110100", "北京市"),
    ("310100", "上海市"),
    ("320500", "苏州市"),
    ("330100", "杭州市"),
    ("420100", "武汉市"),
    ("420200", "黄石市"),
    ("420300", "十堰市"),
    ("420500", "宜昌市"),
    ("420600", "襄阳市"),
    ("420700", "鄂州市"),
    ("420900", "孝感市"),
    ("421000", "荆州市"),
    ("421100", "黄冈市"),
    ("440300", "深圳市"),
];

/// Districts whose names the bundled table knows.
const DISTRICTS: &[(&str, &str)] = &[
    ("110108", "海淀区"),
    ("310115", "浦东新区"),
    ("320505", "虎丘区"),
    ("330106", "西湖区"),
    ("420102", "江岸区"),
    ("420103", "江汉区"),
    ("420104", "硚口区"),
    ("420105", "汉阳区"),
    ("420106", "武昌区"),
    ("420107", "青山区"),
    ("420111", "洪山区"),
    ("420112", "东西湖区"),
    ("420113", "汉南区"),
    ("420114", "蔡甸区"),
    ("420115", "江夏区"),
    ("420116", "黄陂区"),
    ("420117", "新洲区"),
    ("420202", "黄石港区"),
    ("420281", "大冶市"),
    ("420302", "茅箭区"),
    ("420502", "西陵区"),
    ("420602", "襄城区"),
    ("420606", "樊城区"),
    ("420704", "鄂城区"),
    ("420902", "孝南区"),
    ("421002", "沙市区"),
    ("421102", "黄州区"),
    ("440305", "南山区"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_and_sections() {
        let r = Region::of("420111");
        assert_eq!(
            (r.province(), r.city(), r.label()),
            ("420000".into(), "420100".into(), "武汉市洪山区".into())
        );
        assert_eq!(Region::of("991234").district, UNKNOWN);
        assert_eq!(Region::of("").city(), UNKNOWN);
        assert_eq!(section("C3911"), "C");
        assert_eq!(section("3911"), "C");
        assert_eq!(section("i65"), "I");
        assert_eq!(section("A39"), UNKNOWN);
        assert_eq!(section("Z"), UNKNOWN);
        assert_eq!(section(""), UNKNOWN);
        assert_eq!(section_name("C"), "制造业");
    }
}
