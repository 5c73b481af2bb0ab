//! What both readers share: records and rejects as rows are read, the key
//! checks, and the final sorting.
//!
//! Duplicate keys can only be known at the end of the file, so records are
//! kept as read and those whose key turns out to be on several rows are
//! dropped then (LANGUAGE.md section 8: every row of that key is rejected,
//! even one already rejected for another cell).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use super::cell::{parse_cell, shown, trim};
use super::{DataSet, Reject};
use crate::schema::{uscc_valid, Check, Field};
use crate::value::{Cell, Record};

/// Where a key was seen.
#[derive(Clone, Copy)]
struct Seen {
    row: u64,
    /// Column position, for sorting rejects.
    position: usize,
    /// Index into [`Rows::key_columns`]: how the key column was written.
    column: u32,
}

/// Rejects of one row are sorted after whole-row rejects (position 0) by
/// column position (1-based); an absent JSON key sorts last.
pub(super) const WHOLE_ROW: usize = 0;
pub(super) const ABSENT: usize = usize::MAX;

/// Records and rejects as a data file is read.
#[derive(Default)]
pub(super) struct Rows {
    records: Vec<Record>,
    /// (position, reject), in the order found.
    rejects: Vec<(usize, Reject)>,
    unknown: Vec<String>,
    unknown_seen: HashSet<String>,
    rows: u64,
    /// First row of each key.
    keys: HashMap<Box<str>, Seen>,
    /// Every later row of a key already seen.
    repeats: Vec<(Box<str>, Seen)>,
    /// The spellings of the key column (name, title, alias as written).
    key_columns: Vec<String>,
}

impl Rows {
    /// Counts one more data row.
    pub(super) fn start_row(&mut self) {
        self.rows += 1;
    }

    /// Rejects so far, to tell whether a row added any.
    pub(super) fn reject_count(&self) -> usize {
        self.rejects.len()
    }

    pub(super) fn reject(
        &mut self,
        row: u64,
        position: usize,
        column: &str,
        value: &str,
        reason: impl Into<String>,
    ) {
        let reject = Reject {
            row,
            column: column.to_string(),
            value: shown(value).into_owned(),
            reason: reason.into(),
        };
        self.rejects.push((position, reject));
    }

    /// A column that names no field, remembered once.
    pub(super) fn unknown_column(&mut self, name: &str) {
        if !self.unknown_seen.contains(name) {
            self.unknown_seen.insert(name.to_string());
            self.unknown.push(name.to_string());
        }
    }

    /// The (non-empty) key of a row, whether or not the row becomes a record.
    pub(super) fn key(&mut self, row: u64, position: usize, column: &str, key: &str) {
        let column = match self.key_columns.iter().position(|c| c == column) {
            Some(i) => i,
            None => {
                self.key_columns.push(column.to_string());
                self.key_columns.len() - 1
            }
        };
        let seen = Seen {
            row,
            position,
            column: u32::try_from(column).unwrap_or(u32::MAX),
        };
        // One hash for a new key (the common case); a repeat puts the first
        // occurrence back.
        if let Some(first) = self.keys.insert(key.into(), seen) {
            self.keys.insert(key.into(), first);
            self.repeats.push((key.into(), seen));
        }
    }

    /// Takes one parsed cell of a known column: rejects it if it failed to
    /// parse or fails its check, and checks and remembers the key. A rejected
    /// cell reads as missing. `text` is the cell as written.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn cell(
        &mut self,
        row: u64,
        position: usize,
        column: &str,
        field: &Field,
        key: bool,
        parsed: Result<Cell, String>,
        text: &str,
    ) -> Cell {
        let cell = match parsed {
            Ok(cell) => cell,
            Err(reason) => {
                self.reject(row, position, column, text, reason);
                if key && !trim(text).is_empty() {
                    self.key(row, position, column, trim(text));
                }
                return Cell::Missing;
            }
        };
        if field.check == Some(Check::Uscc) {
            if let Cell::Text(t) = &cell {
                if let Err(reason) = uscc_valid(t) {
                    self.reject(row, position, column, text, reason);
                }
            }
        }
        if key {
            match key_text(&cell, text) {
                Some(k) => self.key(row, position, column, &k),
                None => self.reject(row, position, column, text, "the key is empty"),
            }
        }
        cell
    }

    /// The key of a row rejected as a whole (a wrong number of cells): it
    /// still takes part in the duplicate check, read as [`Rows::cell`] would.
    pub(super) fn key_of_rejected_row(
        &mut self,
        row: u64,
        position: usize,
        column: &str,
        field: &Field,
        text: &str,
    ) {
        let key = match parse_cell(&field.ty, text) {
            Ok(cell) => key_text(&cell, text).map(Cow::into_owned),
            Err(_) => Some(trim(text).to_string()).filter(|k| !k.is_empty()),
        };
        if let Some(key) = key {
            self.key(row, position, column, &key);
        }
    }

    pub(super) fn record(&mut self, record: Record) {
        self.records.push(record);
    }

    /// Applies the duplicate-key rule and sorts the rejects.
    pub(super) fn finish(mut self) -> DataSet {
        let mut groups: HashMap<&str, Vec<Seen>> = HashMap::new();
        for (key, seen) in &self.repeats {
            let group = groups
                .entry(key)
                .or_insert_with(|| self.keys.get(key).into_iter().copied().collect());
            group.push(*seen);
        }
        let mut duplicated: HashSet<u64> = HashSet::new();
        let mut found = Vec::new();
        for (key, mut group) in groups {
            group.sort_by_key(|s| s.row);
            let rows: Vec<u64> = group.iter().map(|s| s.row).collect();
            for seen in &group {
                duplicated.insert(seen.row);
                let column = self
                    .key_columns
                    .get(seen.column as usize)
                    .cloned()
                    .unwrap_or_default();
                let reason = also_on(&rows, seen.row);
                let reject = Reject {
                    row: seen.row,
                    column,
                    value: shown(key).into_owned(),
                    reason,
                };
                found.push((seen.position, reject));
            }
        }
        self.rejects.extend(found);
        self.records.retain(|r| !duplicated.contains(&r.row));
        // Stable: the rejects of one cell stay in the order found.
        self.rejects.sort_by_key(|(position, r)| (r.row, *position));
        DataSet {
            records: self.records,
            rejects: self.rejects.into_iter().map(|(_, r)| r).collect(),
            unknown_columns: self.unknown,
            rows: self.rows,
            sha256: String::new(),
        }
    }
}

/// The key as later stages see it ([`Record::key`]); `None` when missing.
fn key_text<'a>(cell: &'a Cell, text: &'a str) -> Option<Cow<'a, str>> {
    match cell {
        Cell::Missing => None,
        Cell::Text(t) => Some(Cow::Borrowed(t)),
        Cell::Num(n) => Some(n.normalize().to_string().into()),
        Cell::Date(d) => Some(d.to_string().into()),
        Cell::Bool(b) => Some(b.to_string().into()),
        Cell::List(items) if items.is_empty() => None,
        Cell::List(_) => Some(trim(text).into()),
    }
}

/// "the key is also on rows 3, 7": the other rows of a duplicated key, at most ten named.
fn also_on(rows: &[u64], this: u64) -> String {
    const NAMED: usize = 10;
    let others = rows.len().saturating_sub(1);
    let named: Vec<String> = rows
        .iter()
        .filter(|&&r| r != this)
        .take(NAMED)
        .map(u64::to_string)
        .collect();
    let plural = if others == 1 { "row" } else { "rows" };
    let mut reason = format!("the key is also on {plural} {}", named.join(", "));
    if others > NAMED {
        reason += &format!(" and {} more", others - NAMED);
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_other_rows() {
        assert_eq!(also_on(&[2, 5], 2), "the key is also on row 5");
        assert_eq!(also_on(&[2, 5, 9], 5), "the key is also on rows 2, 9");
        let many: Vec<u64> = (1..=13).collect();
        assert_eq!(
            also_on(&many, 1),
            "the key is also on rows 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 2 more"
        );
    }

    #[test]
    fn every_row_of_a_duplicated_key_is_rejected() {
        let mut rows = Rows::default();
        for row in [2, 3, 4] {
            rows.start_row();
            rows.key(row, 1, "uscc", if row == 3 { "B" } else { "A" });
            rows.record(Record { row, cells: vec![] });
        }
        let set = rows.finish();
        assert_eq!(
            set.records.iter().map(|r| r.row).collect::<Vec<_>>(),
            vec![3]
        );
        assert_eq!(
            set.rejects.iter().map(|r| r.row).collect::<Vec<_>>(),
            vec![2, 4]
        );
        assert_eq!(set.rejects[0].reason, "the key is also on row 4");
        assert_eq!(set.rejects[0].value, "A");
        assert_eq!(set.rows, 3);
    }
}
