//! Records a library caller hands the engine are held to what the schema's
//! reader gives: [`Record`]'s fields are public, so a record may be built by
//! hand or come from another policy set's engine. One the reader would never
//! give (cells not one per field, a cell of another type, an empty key) is
//! an error, never evaluated: it could be paid under a key nobody has.

use crate::batch::RunError;
use crate::data::parse_cell;
use crate::record::{Cell, Record};
use crate::schema::{uscc_valid, Check, Field, FieldType, Schema};

/// Every record fits `schema`, or the first that does not is
/// [`RunError::InvalidRecord`] with each of its problems.
pub(super) fn records(schema: &Schema, records: &[Record]) -> Result<(), RunError> {
    records.iter().try_for_each(|r| record(schema, r))
}

/// The record fits `schema`: one cell per field, each of its field's type
/// and as its reader gives it, the key present.
pub(super) fn record(schema: &Schema, record: &Record) -> Result<(), RunError> {
    let mut problems = Vec::new();
    if record.cells.len() != schema.fields.len() {
        problems.push(format!(
            "记录有 {} 个单元格, 本政策集的 schema 有 {} 个字段 (the record has {} cells, the schema {} fields: is it a record of another policy set?)",
            record.cells.len(),
            schema.fields.len(),
            record.cells.len(),
            schema.fields.len()
        ));
    } else {
        for (field, cell) in schema.fields.iter().zip(&record.cells) {
            if let Err(why) = fits(field, cell) {
                problems.push(format!("`{}`: {why}", field.name));
            }
        }
    }
    let key = schema.key_field();
    let key_present = record
        .cells
        .get(schema.key)
        .and_then(Cell::as_key)
        .is_some_and(|k| !blank(&k));
    if !key_present {
        problems.push(format!(
            "键 `{}` 为空 (the key `{}` is empty)",
            key.name, key.name
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(RunError::InvalidRecord {
            row: record.row,
            problems,
        })
    }
}

/// Whether `cell` is one the reader gives for `field`: of the field's
/// type, an integer whole, an enum value exactly as listed, a text not
/// blank (a date is a real date by construction). Checked on every call of
/// the library: nothing is allocated unless the cell does not fit.
fn fits(field: &Field, cell: &Cell) -> Result<(), String> {
    match (&field.ty, cell) {
        (FieldType::List, Cell::Missing) => Err("列表字段的空单元格是空列表, 不是缺失 (an empty list cell is the empty list, never missing)".into()),
        (_, Cell::Missing)
        | (FieldType::List, Cell::List(_))
        | (FieldType::Bool, Cell::Bool(_))
        | (FieldType::Date, Cell::Date(_))
        | (FieldType::Number | FieldType::Money | FieldType::Percent, Cell::Num(_)) => Ok(()),
        (FieldType::Integer, Cell::Num(n)) if n.fract().is_zero() => Ok(()),
        (FieldType::Integer, Cell::Num(n)) => Err(format!(
            "`{n}` 不是整数 (`{n}` is not a whole number)"
        )),
        (FieldType::Enum(values), Cell::Text(t)) if values.iter().any(|v| v == t) => Ok(()),
        (FieldType::Enum(values), Cell::Text(t)) => Err(format!(
            "`{t}` 不在 {} 之中 (`{t}` is not one of {})",
            values.join(", "),
            values.join(", ")
        )),
        (FieldType::Text, Cell::Text(t)) if blank(t) => Err("空白文本读作缺失, 不是文本 (a blank text reads as missing, not as a text)".into()),
        (FieldType::Text, Cell::Text(t)) => match field.check {
            Some(Check::Uscc) => uscc_valid(t),
            None => Ok(()),
        },
        (ty, other) => {
            let (zh, en) = kind(other);
            let ty = ty.name();
            Err(format!(
                "字段类型为 {ty}, 单元格却是{zh} (the field is {ty}, its cell holds {en})"
            ))
        }
    }
}

/// Whether `text` reads as missing: empty, or blanks only (as the reader
/// trims them). Most texts start and end with a printable ASCII character.
fn blank(text: &str) -> bool {
    match (text.as_bytes().first(), text.as_bytes().last()) {
        (Some(a), Some(b)) if a.is_ascii_graphic() && b.is_ascii_graphic() => false,
        _ => parse_cell(&FieldType::Text, text) == Ok(Cell::Missing),
    }
}

/// What a cell holds, in Chinese and in English.
fn kind(cell: &Cell) -> (&'static str, &'static str) {
    match cell {
        Cell::Missing => ("缺失", "nothing"),
        Cell::Bool(_) => ("布尔值", "a bool"),
        Cell::Num(_) => ("数值", "a number"),
        Cell::Date(_) => ("日期", "a date"),
        Cell::Text(_) => ("文本", "a text"),
        Cell::List(_) => ("列表", "a list"),
    }
}
