//! "Did you mean …" suggestions by edit distance.

/// The closest candidate to `name`, if one is close enough to be a typo.
pub fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = match name.chars().count() {
        0..=2 => 1,
        3..=5 => 2,
        _ => 3,
    };
    let mut best: Option<(usize, &'a str)> = None;
    for c in candidates {
        let d = distance(name, c);
        if d <= limit && best.is_none_or(|(bd, bs)| d < bd || (d == bd && c < bs)) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// A column header that names its unit after the name (`营业收入(万元)`,
/// `裁员率（%）`, `营业收入/万元`): the name and the unit.
pub fn header_unit(header: &str) -> Option<(&str, &str)> {
    let h = header.trim_end();
    let (name, unit) = if let Some(rest) = h.strip_suffix([')', '）', ']', '】']) {
        let open = rest.rfind(['(', '（', '[', '【'])?;
        let unit = rest.get(open..)?;
        let unit = unit.trim_start_matches(['(', '（', '[', '【']);
        (rest.get(..open)?, unit)
    } else {
        let cut = h.rfind(['/', '／', '_'])?;
        let unit = h.get(cut..)?.trim_start_matches(['/', '／', '_']);
        (h.get(..cut)?, unit)
    };
    let unit = unit.trim();
    const UNITS: [&str; 12] = [
        "元", "万元", "亿元", "万", "亿", "%", "％", "人", "个", "月", "年", "件",
    ];
    (UNITS.contains(&unit) && !name.trim().is_empty()).then(|| (name.trim(), unit))
}

/// Levenshtein distance over characters (Chinese names count per character).
// `prev` and `cur` hold `b.len() + 1` entries and `j < b.len()`
#[allow(clippy::indexing_slicing)]
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::header_unit;

    #[test]
    fn a_header_names_its_unit() {
        assert_eq!(header_unit("营业收入(万元)"), Some(("营业收入", "万元")));
        assert_eq!(header_unit("营业收入（万元）"), Some(("营业收入", "万元")));
        assert_eq!(header_unit("裁员率 [%]"), Some(("裁员率", "%")));
        assert_eq!(header_unit("营业收入/亿元"), Some(("营业收入", "亿元")));
        assert_eq!(header_unit("营业收入"), None);
        assert_eq!(header_unit("(万元)"), None);
        assert_eq!(header_unit("研发费用(含委托)"), None);
        assert_eq!(header_unit("a_b"), None);
    }
}
