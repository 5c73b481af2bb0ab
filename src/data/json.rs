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
pub(super) struct Entries<V = Value>(pub(super) Vec<(String, V)>);

impl Entries {
    /// The entries of one line. A number keeps the text it was written with
    /// (as a string: every cell is read from its text): serde_json rewrites
    /// an exponent (`1E2` as `1e+2`), so a line holding one is read again
    /// for the numbers' own text.
    pub(super) fn parse(line: &str) -> serde_json::Result<Entries> {
        let mut entries: Entries = serde_json::from_str(line)?;
        let rewritten = |v: &Value| matches!(v, Value::Number(n) if n.as_str().contains('e'));
        if entries.0.iter().any(|(_, v)| rewritten(v)) {
            let raw: Entries<Box<serde_json::value::RawValue>> = serde_json::from_str(line)?;
            for ((_, v), (_, r)) in entries.0.iter_mut().zip(raw.0) {
                if let Value::Number(_) = v {
                    *v = Value::String(r.get().trim().to_string());
                }
            }
        }
        Ok(entries)
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Entries<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Object<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Object<V> {
            type Value = Entries<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<V>, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(16).min(256));
                while let Some(entry) = map.next_entry::<String, V>()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(Object(std::marker::PhantomData))
    }
}
