//! JSON Lines data files: each non-blank line one object, whose keys are
//! column names as in a CSV header (LANGUAGE.md section 8).

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::cell::{parse_json, trim};
use super::rows::{Rows, ABSENT, WHOLE_ROW};
use super::text::Decoded;
use super::DataSet;
use crate::schema::Schema;
use crate::value::{Cell, Record};

pub(super) fn read(text: &Decoded, schema: &Schema) -> DataSet {
    let mut rows = Rows::default();
    for (i, line) in text.bytes().split(|&b| b == b'\n').enumerate() {
        let row = i as u64 + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = match text.cell(line) {
            Ok(l) if trim(l).is_empty() => continue,
            Ok(l) => l,
            Err(reason) => {
                rows.start_row();
                rows.reject(row, WHOLE_ROW, "", &String::from_utf8_lossy(line), reason);
                continue;
            }
        };
        rows.start_row();
        match serde_json::from_str::<Entries>(line) {
            Ok(Entries(entries)) => object(&mut rows, row, &entries, schema),
            Err(e) => rows.reject(row, WHOLE_ROW, "", line, not_an_object(&e)),
        }
    }
    rows.finish()
}

/// One line's object: its cells, or its rejects.
fn object(rows: &mut Rows, row: u64, entries: &[(String, Value)], schema: &Schema) {
    let before = rows.reject_count();
    let mut cells = vec![Cell::Missing; schema.fields.len()];
    // The key that filled each field.
    let mut filled_by: Vec<Option<&str>> = vec![None; schema.fields.len()];
    for (i, (name, value)) in entries.iter().enumerate() {
        let position = i + 1;
        let Some((f, field)) = schema
            .lookup(trim(name))
            .and_then(|f| Some((f, schema.fields.get(f)?)))
        else {
            rows.unknown_column(trim(name));
            continue;
        };
        let shown = value_text(value);
        if let Some(Some(other)) = filled_by.get(f) {
            let reason = format!(
                "`{other}` and `{name}` both name the field `{}`",
                field.name
            );
            rows.reject(row, position, name, &shown, reason);
            continue;
        }
        if let Some(slot) = filled_by.get_mut(f) {
            *slot = Some(name);
        }
        let cell = rows.cell(
            row,
            position,
            name,
            field,
            f == schema.key,
            parse_json(&field.ty, value),
            &shown,
        );
        if let Some(slot) = cells.get_mut(f) {
            *slot = cell;
        }
    }
    if filled_by.get(schema.key).is_some_and(Option::is_none) {
        rows.reject(
            row,
            ABSENT,
            &schema.key_field().name,
            "",
            "the key is empty",
        );
    }
    if rows.reject_count() == before {
        rows.record(Record { row, cells });
    }
}

/// A value as the user wrote it, for rejects: a string without its quotes.
fn value_text(v: &Value) -> Cow<'_, str> {
    match v {
        Value::String(s) => Cow::Borrowed(s),
        Value::Null => Cow::Borrowed(""),
        other => Cow::Owned(other.to_string()),
    }
}

fn not_an_object(e: &serde_json::Error) -> String {
    if e.is_data() {
        return "not a JSON object: each line must be one object like `{\"uscc\": \"…\"}`"
            .to_string();
    }
    let message = e.to_string();
    let message = message.split(" at line ").next().unwrap_or(&message);
    format!("not valid JSON: {message} (column {})", e.column())
}

/// An object's entries in the order written, repeated keys included (a map
/// would keep only one of them).
struct Entries(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> Visitor<'de> for Object {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(16).min(256));
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(Object)
    }
}
