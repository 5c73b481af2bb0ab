//! One firm's rows from several departments' files joined into one record
//! (LANGUAGE.md section 11, 一企一档).
//!
//! A firm is judged only on all of its data: when any of its rows failed to
//! read, every other row of it is rejected too, naming the row that failed.
//! A field given by more than one file is compared as typed values; when
//! they differ, the files of the field's `source` decide if they agree, or
//! else the field is missing. Every value of a field that differed is
//! written out as a conflict.

use crate::record::{Cell, Record};
use crate::schema::Schema;

use super::Reject;

/// One row of a firm, as read from one of the files.
pub struct Part {
    /// The file's place on the command line.
    pub file: u16,
    pub line: u64,
    pub parsed: Result<Record, Vec<Reject>>,
}

/// A line of `conflicts.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub key: String,
    /// The field's name in the schema.
    pub field: String,
    pub file: u16,
    pub row: u64,
    /// The cell as written.
    pub value: String,
    /// The run used this value.
    pub used: bool,
}

/// What a firm's rows gave.
#[derive(Debug, Default)]
pub struct Joined {
    /// The joined record; `None` when some row failed.
    pub record: Option<Record>,
    /// Rejects with the file each is in, in file, row order.
    pub rejects: Vec<(u16, Reject)>,
    /// Sorted by field, then file.
    pub conflicts: Vec<Conflict>,
}

/// The files of a run: what rejects and conflicts call them, and the
/// department each comes from.
pub struct Files<'a> {
    pub names: &'a [String],
    pub sources: &'a [Option<String>],
}

/// Whether a cell gives a value to the join: an empty cell (missing, or an
/// empty list) never conflicts.
fn gives(cell: &Cell) -> bool {
    match cell {
        Cell::Missing => false,
        Cell::List(items) => !items.is_empty(),
        _ => true,
    }
}

/// Typed equality: numbers by value (`12.5万` is `125000`), lists as sets.
pub fn same(a: &Cell, b: &Cell) -> bool {
    match (a, b) {
        (Cell::List(x), Cell::List(y)) => {
            fn set(l: &[Box<str>]) -> Vec<&str> {
                let mut v: Vec<&str> = l.iter().map(|s| &**s).collect();
                v.sort_unstable();
                v.dedup();
                v
            }
            set(x) == set(y)
        }
        _ => a == b,
    }
}

/// Joins the rows of one firm (`parts` in file, then line order). `text`
/// gives the cell of a part (by its place in `parts`) and field as written,
/// for a conflict line; `key_column` the key's column in a part, for the
/// rejects of the rows that read when another failed.
pub fn join(
    schema: &Schema,
    files: &Files<'_>,
    key: &str,
    parts: Vec<Part>,
    text: impl Fn(usize, usize) -> String,
    key_column: impl Fn(usize) -> String,
) -> Joined {
    let failed: Vec<(u16, u64)> = parts
        .iter()
        .filter(|p| p.parsed.is_err())
        .map(|p| (p.file, p.line))
        .collect();
    if let Some(&(file, line)) = failed.first() {
        let name = |f: u16| files.names.get(f as usize).map_or("", String::as_str);
        let mut reason = format!(
            "row {line} of `{}`, a row of the same firm, cannot be read",
            name(file)
        );
        match failed.len() {
            1 => {}
            2 => reason += " (nor can one more of its rows)",
            n => reason += &format!(" (nor can {} more of its rows)", n - 1),
        }
        reason += "; a firm is judged only on all of its data";
        let mut rejects = Vec::new();
        for (i, p) in parts.into_iter().enumerate() {
            match p.parsed {
                Err(rs) => rejects.extend(rs.into_iter().map(|r| (p.file, r))),
                Ok(_) => rejects.push((
                    p.file,
                    Reject {
                        row: p.line,
                        column: key_column(i),
                        value: key.to_string(),
                        reason: reason.clone(),
                    },
                )),
            }
        }
        return Joined {
            record: None,
            rejects,
            conflicts: Vec::new(),
        };
    }
    let mut records: Vec<(u16, Record)> = parts
        .into_iter()
        .filter_map(|p| Some((p.file, p.parsed.ok()?)))
        .collect();
    let Some(first_row) = records.first().map(|(_, r)| r.row) else {
        return Joined::default();
    };
    let mut cells = vec![Cell::Missing; schema.fields.len()];
    let mut conflicts = Vec::new();
    let mut givers: Vec<usize> = Vec::with_capacity(records.len());
    for (f, field) in schema.fields.iter().enumerate() {
        // each record's cell is looked at in place, and the one used is
        // moved out at the end (no other field reads it)
        let value = |i: usize| records.get(i).and_then(|(_, r)| r.cells.get(f));
        givers.clear();
        givers.extend((0..records.len()).filter(|&i| value(i).is_some_and(gives)));
        let same_as = |i: usize, j: usize| match (value(i), value(j)) {
            (Some(a), Some(b)) => same(a, b),
            _ => false,
        };
        // the record whose cell is used
        let used: Option<usize> = match givers.first() {
            None => (0..records.len()).find(|&i| matches!(value(i), Some(Cell::List(_)))),
            Some(&g) if givers.iter().all(|&i| same_as(i, g)) => Some(g),
            Some(_) => {
                let of_source: Vec<usize> = givers
                    .iter()
                    .copied()
                    .filter(|&i| {
                        let file = records.get(i).map_or(u16::MAX, |(file, _)| *file);
                        field.source.is_some()
                            && files.sources.get(file as usize).and_then(Option::as_ref)
                                == field.source.as_ref()
                    })
                    .collect();
                let used = match of_source.first() {
                    Some(&s) if of_source.iter().all(|&i| same_as(i, s)) => Some(s),
                    _ => None,
                };
                for &i in &givers {
                    let Some((file, r)) = records.get(i) else {
                        continue;
                    };
                    conflicts.push(Conflict {
                        key: key.to_string(),
                        field: field.name.clone(),
                        file: *file,
                        row: r.row,
                        value: text(i, f),
                        // a used cell of a giver gives a value
                        used: used.is_some_and(|u| same_as(i, u)),
                    });
                }
                used
            }
        };
        let taken = used
            .and_then(|i| records.get_mut(i)?.1.cells.get_mut(f))
            .map(std::mem::take);
        if let (Some(c), Some(taken)) = (cells.get_mut(f), taken) {
            *c = taken;
        }
    }
    conflicts.sort_by(|a, b| a.field.cmp(&b.field).then(a.file.cmp(&b.file)));
    Joined {
        record: Some(Record {
            row: first_row,
            cells,
        }),
        rejects: Vec::new(),
        conflicts,
    }
}
