//! JSON Lines values: one object per line, keys as column names.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

pub(super) fn value_text(v: &Value) -> Cow<'_, str> {
    match v {
        Value::String(s) => Cow::Borrowed(s),
        Value::Null => Cow::Borrowed(""),
        other => Cow::Owned(other.to_string()),
    }
}

pub(super) fn not_an_object(e: &serde_json::Error) -> String {
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
pub(super) struct Entries(pub(super) Vec<(String, Value)>);

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
