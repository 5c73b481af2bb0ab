//! One firm record built from named values, for test cases and for payment
//! systems that embed the engine and hold a firm's data in memory.

use crate::data::parse_cell;
use crate::record::{Cell, Record};
use crate::schema::{uscc_valid, Check, FieldType, Schema};

/// A value as a caller gives it: a cell's text (read by the rules of
/// LANGUAGE.md section 10), a list of texts, or nothing (missing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    Text(String),
    List(Vec<String>),
    Missing,
}

/// Builds a record from `(name, value)` pairs, names being field names,
/// titles or aliases. Every problem is returned, one message each.
// indices come from `Schema::lookup` over this schema, and `cells`/`given`
// are as long as its fields
#[allow(clippy::indexing_slicing)]
pub fn record(
    schema: &Schema,
    row: u64,
    values: &[(String, Input)],
) -> Result<Record, Vec<String>> {
    let mut cells = vec![Cell::Missing; schema.fields.len()];
    for (i, f) in schema.fields.iter().enumerate() {
        if f.ty == FieldType::List {
            cells[i] = Cell::List(Box::new([]));
        }
    }
    let mut given: Vec<Option<&str>> = vec![None; schema.fields.len()];
    let mut errors = Vec::new();
    for (name, input) in values {
        let Some(i) = schema.lookup(name) else {
            let help = if name.contains('：') {
                " (含全角冒号 `：`, 应为半角 `:` a full-width colon)".to_string()
            } else {
                crate::suggest::closest(name, schema.all_names())
                    .map(|s| format!(" (是不是 `{s}`? did you mean `{s}`?)"))
                    .unwrap_or_default()
            };
            errors.push(format!(
                "`{name}` 不是 schema 中的字段 (not a field of the schema){help}"
            ));
            continue;
        };
        if let Some(prev) = given[i] {
            errors.push(format!(
                "`{name}` 和 `{prev}` 都是字段 `{}` (both give field `{}`)",
                schema.fields[i].name, schema.fields[i].name
            ));
            continue;
        }
        given[i] = Some(name);
        let field = &schema.fields[i];
        let cell = match input {
            Input::Missing => continue,
            Input::Text(t) => parse_cell(&field.ty, t),
            Input::List(items) => {
                if field.ty == FieldType::List {
                    Ok(crate::data::list_cell(items.iter().map(String::as_str)))
                } else {
                    Err(format!(
                        "`{}` 是 {} 字段, 不是列表 (is {}, not a list)",
                        field.name,
                        field.ty.name(),
                        field.ty.name()
                    ))
                }
            }
        };
        match cell {
            Ok(c) => {
                if let (Some(Check::Uscc), Cell::Text(t)) = (field.check, &c) {
                    if let Err(e) = uscc_valid(t) {
                        errors.push(format!("`{name}`: {e}"));
                    }
                }
                // kept even when rejected, so a bad key is not also "missing"
                cells[i] = c;
            }
            Err(e) => errors.push(format!("`{name}`: {e}")),
        }
    }
    if matches!(cells.get(schema.key), Some(Cell::Missing) | None) {
        let key = &schema.key_field().name;
        errors.push(format!("缺少主键 `{key}` (the key `{key}` is missing)"));
    }
    if errors.is_empty() {
        Ok(Record { row, cells })
    } else {
        Err(errors)
    }
}
