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
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.bytes());
    let mut record = ByteRecord::new();
    let mut rows = Rows::default();
    let columns = header(path, &mut reader, &mut record, schema, &mut rows)?;

    let mut cells = vec![Cell::Missing; schema.fields.len()];
    let mut last_line = 1;
    loop {
        let row = match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) if is_blank(&record) => continue,
            Ok(true) => record.position().map_or(last_line + 1, |p| p.line()),
            Err(e) => {
                // Reading from memory, the csv crate reports no error for a row;
                // should one come, reject the row if the reader has moved on.
                match e.position().map(|p| p.line()) {
                    Some(line) if line > last_line => {
                        last_line = line;
                        rows.start_row();
                        rows.reject(line, WHOLE_ROW, "", "", format!("cannot read this row: {e}"));
                        continue;
                    }
                    _ => break,
                }
            }
        };
        last_line = row;
        rows.start_row();
        if record.len() != columns.len() {
            let reason = format!("expected {} cells, found {}", columns.len(), record.len());
            rows.reject(row, WHOLE_ROW, "", "", reason);
            continue;
        }
        let before = rows.reject_count();
        for (i, (raw, column)) in record.iter().zip(&columns).enumerate() {
            let Some((f, field)) = column.field.and_then(|f| Some((f, schema.fields.get(f)?))) else {
                continue;
            };
            let key = f == schema.key;
            let position = i + 1;
            let text = match text.cell(raw) {
                Ok(t) => t,
                Err(reason) => {
                    rows.reject(row, position, &column.header, &String::from_utf8_lossy(raw), reason);
                    continue;
                }
            };
            let cell = rows.cell(row, position, &column.header, field, key, parse_cell(&field.ty, text), text);
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
            Ok(false) => return Err(DataError::NoHeader { path: path.to_path_buf() }),
            Ok(true) if is_blank(record) => continue,
            Ok(true) => break,
            Err(e) => {
                let line = e.position().map_or(1, |p| p.line());
                return Err(DataError::BadHeader { path: path.to_path_buf(), line, message: e.to_string() });
            }
        }
    }
    let mut columns = Vec::with_capacity(record.len());
    for (i, raw) in record.iter().enumerate() {
        let name = std::str::from_utf8(raw).map_err(|_| DataError::HeaderNotUtf8 { path: path.to_path_buf() })?;
        let header = if i == 0 { name.trim_start_matches('\u{feff}') } else { name };
        let field = schema.lookup(trim(header));
        if field.is_none() {
            rows.unknown_column(trim(header));
        }
        columns.push(Column { header: header.to_string(), field });
    }
    check_columns(path, &columns, schema)?;
    Ok(columns)
}

/// The key has a column, and no field has two.
fn check_columns(path: &Path, columns: &[Column], schema: &Schema) -> Result<(), DataError> {
    if !columns.iter().any(|c| c.field == Some(schema.key)) {
        let key = schema.key_field();
        let names: Vec<String> = key.names().map(|n| format!("`{n}`")).collect();
        return Err(DataError::NoKeyColumn { path: path.to_path_buf(), key: key.name.clone(), names: names.join(" or ") });
    }
    let mut first: Vec<Option<usize>> = vec![None; schema.fields.len()];
    for (i, c) in columns.iter().enumerate() {
        let Some(f) = c.field else { continue };
        match first.get(f).copied().flatten() {
            Some(j) => {
                return Err(DataError::AmbiguousColumns {
                    path: path.to_path_buf(),
                    field: schema.fields.get(f).map(|x| x.name.clone()).unwrap_or_default(),
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

/// A line with nothing but whitespace is not a row.
fn is_blank(record: &ByteRecord) -> bool {
    match record.len() {
        0 => true,
        1 => record.get(0).is_some_and(|f| std::str::from_utf8(f).is_ok_and(|s| trim(s).is_empty())),
        _ => false,
    }
}
