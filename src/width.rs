//! Columns a text takes on a terminal or in a spreadsheet: Chinese (and
//! other wide) characters take two. One rule for every table the engine
//! prints or writes — `run`'s summary, the test runner's mismatches, `fmt`'s
//! alignment, `ledger check`, published workbooks' column widths.

/// Display width: characters from U+1100 on (Hangul, CJK, full-width forms)
/// take two columns, the rest one.
pub fn width(s: &str) -> usize {
    s.chars()
        .map(|c| if (c as u32) >= 0x1100 { 2 } else { 1 })
        .sum()
}

/// `s` followed by spaces to `w` columns (left-aligned in a column).
pub fn pad_right(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(width(s))))
}

/// Spaces then `s`, to `w` columns (right-aligned in a column).
pub fn pad_left(s: &str, w: usize) -> String {
    format!("{}{s}", " ".repeat(w.saturating_sub(width(s))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_takes_two_columns() {
        assert_eq!(width("policy"), 6);
        assert_eq!(width("政策"), 4);
        assert_eq!(pad_right("政策", 6), "政策  ");
        assert_eq!(pad_left("政策", 6), "  政策");
        assert_eq!(pad_left("政策编号", 4), "政策编号");
    }
}
