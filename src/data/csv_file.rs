//! CSV data files: a header naming the columns, then one firm per row.

use std::path::Path;

use csv::ByteRecord;

use super::cell::{parse_cell, trim};
use super::rows::{Rows, WHOLE_ROW};
use super::text::Decoded;
use super::{DataError, DataSet};
use crate::schema::Schema;
use crate::value::{Cell, Record};

/// A column of the header.
struct Column {
    /// As written (byte-order mark removed): rejects name it so.
    header: String,
    /// The field it fills; `None` for an unknown column, whose cells are ignored.
    field: Option<usize>,
}

pub(super) fn read(path: &Path, text: &Decoded, schema: &Schema) -> Result<DataSet, DataError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.bytes());
    let mut record = ByteRecord::new();
    let mut rows = Rows::default();
    let columns = header(path, &mut reader, &mut record, schema, &mut rows)?;

    let key_column = columns.iter().position(|c| c.field == Some(schema.key));
    let mut cells = vec![Cell::Missing; schema.fields.len()];
    let mut lines = Lines::default();
    let mut last_error = None;
    loop {
        let row = match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) if is_blank(&record) => continue,
            Ok(true) => lines.line_at(text.bytes(), record.position()),
            Err(e) => {
                // Reading from memory, the csv crate reports no error for a row;
                // should one come, reject the row, unless the reader is stuck.
                let at = e.position().map(|p| p.byte());
                if at.is_none() || at == last_error {
                    break;
                }
                last_error = at;
                let line = lines.line_at(text.bytes(), e.position());
                rows.start_row();
                rows.reject(
                    line,
                    WHOLE_ROW,
                    "",
                    "",
                    format!("cannot read this row: {e}"),
                );
                continue;
            }
        };
        rows.start_row();
        if record.len() != columns.len() {
            let reason = format!("expected {} cells, found {}", columns.len(), record.len());
            rows.reject(row, WHOLE_ROW, "", "", reason);
            // Its key, if it has one, still takes part in the duplicate check.
            let key = key_column.and_then(|i| {
                Some((
                    i,
                    record.get(i)?,
                    columns.get(i)?,
                    schema.fields.get(schema.key)?,
                ))
            });
            if let Some((i, raw, column, field)) = key {
                if let Ok(t) = text.cell(raw) {
                    rows.key_of_rejected_row(row, i + 1, &column.header, field, t);
                }
            }
            continue;
        }
        let before = rows.reject_count();
        for (i, (raw, column)) in record.iter().zip(&columns).enumerate() {
            let Some((f, field)) = column.field.and_then(|f| Some((f, schema.fields.get(f)?)))
            else {
                continue;
            };
            let key = f == schema.key;
            let position = i + 1;
            let text = match text.cell(raw) {
                Ok(t) => t,
                Err(reason) => {
                    rows.reject(
                        row,
                        position,
                        &column.header,
                        &String::from_utf8_lossy(raw),
                        reason,
                    );
                    continue;
                }
            };
            let cell = rows.cell(
                row,
                position,
                &column.header,
                field,
                key,
                parse_cell(&field.ty, text),
                text,
            );
            if let Some(slot) = cells.get_mut(f) {
                *slot = cell;
            }
        }
        if rows.reject_count() == before {
            let cells = std::mem::replace(&mut cells, vec![Cell::Missing; schema.fields.len()]);
            rows.record(Record { row, cells });
        } else {
            cells.iter_mut().for_each(|c| *c = Cell::Missing);
        }
    }
    Ok(rows.finish())
}

/// Reads the header: skips blank lines before it, maps each column to a field.
fn header(
    path: &Path,
    reader: &mut csv::Reader<&[u8]>,
    record: &mut ByteRecord,
    schema: &Schema,
    rows: &mut Rows,
) -> Result<Vec<Column>, DataError> {
    loop {
        match reader.read_byte_record(record) {
            Ok(false) => {
                return Err(DataError::NoHeader {
                    path: path.to_path_buf(),
                })
            }
            Ok(true) if is_blank(record) => continue,
            Ok(true) => break,
            Err(e) => {
                let line = e.position().map_or(1, |p| p.line());
                return Err(DataError::BadHeader {
                    path: path.to_path_buf(),
                    line,
                    message: e.to_string(),
                });
            }
        }
    }
    let mut columns = Vec::with_capacity(record.len());
    for (i, raw) in record.iter().enumerate() {
        let name = std::str::from_utf8(raw).map_err(|_| DataError::HeaderNotUtf8 {
            path: path.to_path_buf(),
        })?;
        let header = if i == 0 {
            name.trim_start_matches('\u{feff}')
        } else {
            name
        };
        let field = schema.lookup(trim(header));
        if field.is_none() {
            rows.unknown_column(trim(header));
        }
        columns.push(Column {
            header: header.to_string(),
            field,
        });
    }
    check_columns(path, &columns, schema)?;
    Ok(columns)
}

/// The key has a column, and no field has two.
fn check_columns(path: &Path, columns: &[Column], schema: &Schema) -> Result<(), DataError> {
    if !columns.iter().any(|c| c.field == Some(schema.key)) {
        let key = schema.key_field();
        let names: Vec<String> = key.names().map(|n| format!("`{n}`")).collect();
        return Err(DataError::NoKeyColumn {
            path: path.to_path_buf(),
            key: key.name.clone(),
            names: names.join(" or "),
        });
    }
    let mut first: Vec<Option<usize>> = vec![None; schema.fields.len()];
    for (i, c) in columns.iter().enumerate() {
        let Some(f) = c.field else { continue };
        match first.get(f).copied().flatten() {
            Some(j) => {
                return Err(DataError::AmbiguousColumns {
                    path: path.to_path_buf(),
                    field: schema
                        .fields
                        .get(f)
                        .map(|x| x.name.clone())
                        .unwrap_or_default(),
                    first: columns.get(j).map(|x| x.header.clone()).unwrap_or_default(),
                    first_at: j + 1,
                    second: c.header.clone(),
                    second_at: i + 1,
                })
            }
            None => {
                if let Some(slot) = first.get_mut(f) {
                    *slot = Some(i);
                }
            }
        }
    }
    Ok(())
}

/// Line numbers of records. The csv crate's own count goes wrong after a
/// blank line or a CRLF ending (csv 1.4: it counts from the end of the
/// previous record), so lines are counted here from the record's byte
/// offset, which may point at the line ending before the record.
struct Lines {
    /// A byte offset already counted, and its line.
    offset: usize,
    line: u64,
}

impl Default for Lines {
    fn default() -> Self {
        Lines { offset: 0, line: 1 }
    }
}

impl Lines {
    /// The 1-based line where the record at `at` starts; records come in order.
    fn line_at(&mut self, bytes: &[u8], at: Option<&csv::Position>) -> u64 {
        let mut start = at.map_or(self.offset, |p| {
            usize::try_from(p.byte()).unwrap_or(usize::MAX)
        });
        while matches!(bytes.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        let start = start.min(bytes.len());
        if start > self.offset {
            let passed = bytes.get(self.offset..start).unwrap_or_default();
            // A line ends at `\n`, or at a `\r` alone (as old Mac files end them).
            let lone_cr = |i: usize| bytes.get(self.offset + i + 1) != Some(&b'\n');
            let breaks = passed
                .iter()
                .enumerate()
                .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && lone_cr(i)))
                .count();
            self.line += breaks as u64;
            self.offset = start;
        }
        self.line
    }
}

/// A line with nothing but whitespace is not a row.
fn is_blank(record: &ByteRecord) -> bool {
    match record.len() {
        0 => true,
        1 => record
            .get(0)
            .is_some_and(|f| std::str::from_utf8(f).is_ok_and(|s| trim(s).is_empty())),
        _ => false,
    }
}
