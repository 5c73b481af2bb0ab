//! The record schema (`schema.yaml`, LANGUAGE.md section 2).

use std::collections::HashMap;

use serde_yaml_ng::Value as Yaml;

use crate::diag::{Diagnostic, SourceText};

/// The type of a field in an enterprise record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldType {
    Bool,
    Integer,
    /// Exact decimal.
    Number,
    /// Exact decimal, yuan.
    Money,
    /// Exact decimal; `5.5%` is 0.055.
    Percent,
    Date,
    Text,
    /// One of the listed values.
    Enum(Vec<String>),
    /// A set of texts.
    List,
}

impl FieldType {
    pub fn name(&self) -> &'static str {
        match self {
            FieldType::Bool => "bool",
            FieldType::Integer => "integer",
            FieldType::Number => "number",
            FieldType::Money => "money",
            FieldType::Percent => "percent",
            FieldType::Date => "date",
            FieldType::Text => "text",
            FieldType::Enum(_) => "enum",
            FieldType::List => "list",
        }
    }
}

/// A validation applied to a field's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// The 18-character unified social credit code, check character included (GB 32100-2015).
    Uscc,
}

#[derive(Clone, Debug)]
pub struct Field {
    pub name: String,
    pub ty: FieldType,
    /// The Chinese name; a data column may be named by it.
    pub title: Option<String>,
    pub aliases: Vec<String>,
    /// The department the data comes from.
    pub source: Option<String>,
    pub check: Option<Check>,
}

impl Field {
    /// Every name that refers to this field: name, title, aliases.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.name.as_str())
            .chain(self.title.as_deref())
            .chain(self.aliases.iter().map(|s| s.as_str()))
    }
}

/// The fields of an enterprise record and which one is the key.
#[derive(Clone, Debug)]
pub struct Schema {
    pub fields: Vec<Field>,
    /// Index of the key field in `fields`.
    pub key: usize,
    /// The field that holds the firm's name (top-level `name: FIELD`), for
    /// the lists a department publishes.
    pub name: Option<usize>,
    /// The fields `publish` breaks its figures down by, as the schema names
    /// them (`region:`, `industry:`, `size:`); see [`Schema::region`].
    pub roles: Roles,
    by_name: HashMap<String, usize>,
}

/// The fields of a schema that say where a firm is, what it does and how
/// large it is, where the schema names them.
#[derive(Clone, Debug, Default)]
pub struct Roles {
    pub region: Option<usize>,
    pub industry: Option<usize>,
    pub size: Option<usize>,
}

impl Schema {
    /// The type of the key field.
    pub fn key_type(&self) -> &FieldType {
        self.fields
            .get(self.key)
            .map_or(&FieldType::Text, |f| &f.ty)
    }

    /// The region field (GB/T 2260 codes): `region: FIELD`, else a field
    /// named `region` or titled 行政区划代码.
    pub fn region(&self) -> Option<usize> {
        self.roles
            .region
            .or_else(|| self.by_role("region", "行政区划代码"))
    }

    /// The industry field (GB/T 4754 codes): `industry: FIELD`, else a
    /// field named `industry` or titled 国民经济行业代码.
    pub fn industry(&self) -> Option<usize> {
        self.roles
            .industry
            .or_else(|| self.by_role("industry", "国民经济行业代码"))
    }

    /// The size field (大型/中型/小型/微型): `size: FIELD`, else a field
    /// named `size` or titled 企业规模.
    pub fn size(&self) -> Option<usize> {
        self.roles.size.or_else(|| self.by_role("size", "企业规模"))
    }

    fn by_role(&self, name: &str, title: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name).or_else(|| {
            self.fields
                .iter()
                .position(|f| f.title.as_deref() == Some(title))
        })
    }

    /// The field a name, title or alias refers to.
    pub fn lookup(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    pub fn key_field(&self) -> &Field {
        // a schema is built with its key among its fields
        #[allow(clippy::indexing_slicing)]
        &self.fields[self.key.min(self.fields.len().saturating_sub(1))]
    }

    /// Every name usable for a field (for "did you mean" suggestions).
    pub fn all_names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(|s| s.as_str())
    }

    /// Builds a schema from fields; used by tests and by embedders.
    pub fn new(fields: Vec<Field>, key: &str) -> Result<Schema, Diagnostic> {
        let mut by_name = HashMap::new();
        for (i, f) in fields.iter().enumerate() {
            for n in f.names() {
                if let Some(prev) = by_name.insert(n.to_string(), i) {
                    if prev != i {
                        return Err(Diagnostic::new(
                            "schema::duplicate-name",
                            format!(
                                "`{n}` 同时是 `{}` 和 `{}` 的名称 (names two fields)",
                                fields.get(prev).map_or("", |p| p.name.as_str()),
                                f.name
                            ),
                        ));
                    }
                }
            }
        }
        let key = match fields.iter().position(|f| f.name == key) {
            Some(k) => k,
            None => {
                return Err(Diagnostic::new(
                    "schema::no-key",
                    format!("主键 `{key}` 不是字段 (the key is not a field)"),
                ))
            }
        };
        Ok(Schema {
            fields,
            key,
            name: None,
            roles: Roles::default(),
            by_name,
        })
    }

    /// Loads `schema.yaml`, reporting every problem found.
    pub fn load(src: &SourceText) -> Result<Schema, Vec<Diagnostic>> {
        let doc: Yaml = match serde_yaml_ng::from_str(&src.text) {
            Ok(d) => d,
            Err(e) => {
                let (start, end) = match e.location() {
                    Some(l) => (l.index(), l.index() + 1),
                    None => (0, 0),
                };
                let msg = e.to_string();
                let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
                return Err(vec![Diagnostic::new(
                    "schema::yaml",
                    format!("schema 不是有效的 YAML:{msg} (not valid YAML)"),
                )
                .at(src, start.min(src.text.len()), end.min(src.text.len()))]);
            }
        };
        let mut diags = Vec::new();
        let at_key = |name: &str| find_key(src, name);
        let at_field = |name: &str| find_field(src, name).unwrap_or_else(|| find_key(src, name));
        let Some(map) = doc.as_mapping() else {
            return Err(vec![Diagnostic::new(
                "schema::shape",
                "schema 要写 `key` 和 `fields` 两项 (a mapping with `key` and `fields`)",
            )
            .at(src, 0, 0)]);
        };
        for (k, _) in map {
            let k = k.as_str().unwrap_or("");
            if !["key", "fields", "name", "region", "industry", "size"].contains(&k) {
                let (s, e) = at_key(k);
                diags.push(
                    Diagnostic::new(
                        "schema::unknown-key",
                        format!("schema 里不认识的项 `{k}` (unknown entry)"),
                    )
                    .at(src, s, e)
                    .help("schema 有 `key`、`fields`,可选 `name`、`region`、`industry`、`size` (a schema has `key`, `fields` and optionally `name`, `region`, `industry` and `size`)"),
                );
            }
        }
        let key = match map.get("key").and_then(|k| k.as_str()) {
            Some(k) => k.to_string(),
            None => {
                diags.push(
                    Diagnostic::new(
                        "schema::no-key",
                        "schema 没有说明哪个字段是主键 `key` (no key)",
                    )
                    .at(src, 0, 0)
                    .help("加上 `key: uscc`(用来识别企业的字段)"),
                );
                String::new()
            }
        };
        let mut fields = Vec::new();
        match map.get("fields").and_then(|f| f.as_mapping()) {
            None => diags.push(
                Diagnostic::new("schema::no-fields", "schema 没有 `fields` (no fields)")
                    .at(src, 0, 0),
            ),
            Some(fmap) => {
                for (name, spec) in fmap {
                    let name = yaml_text(name);
                    let (s, e) = at_field(&name);
                    match field(&name, spec) {
                        Ok(f) => fields.push(f),
                        Err((msg, help, entry)) => {
                            let (s, e) = entry
                                .and_then(|entry| find_entry(src, s, &entry))
                                .unwrap_or((s, e));
                            let mut d = Diagnostic::new("schema::field", msg).at(src, s, e);
                            if let Some(h) = help {
                                d = d.help(h);
                            }
                            diags.push(d);
                        }
                    }
                }
            }
        }
        // names must be unique across names, titles and aliases
        let mut seen: HashMap<String, String> = HashMap::new();
        for f in &fields {
            let mut own = std::collections::HashSet::new();
            for n in f.names() {
                if !own.insert(n) {
                    continue;
                }
                if let Some(other) = seen.insert(n.to_string(), f.name.clone()) {
                    let (s, e) = at_field(&f.name);
                    diags.push(
                        Diagnostic::new(
                            "schema::duplicate-name",
                            format!(
                                "`{n}` 同时是字段 `{other}` 和 `{}` 的名称 (names two fields)",
                                f.name
                            ),
                        )
                        .at(src, s, e)
                        .help("title 和别名在整个 schema 里不能重复"),
                    );
                }
            }
        }
        if !key.is_empty() && !fields.iter().any(|f| f.name == key) && diags.is_empty() {
            let (s, e) = at_key("key");
            diags.push(
                Diagnostic::new(
                    "schema::no-key",
                    format!("主键 `{key}` 不是已定义的字段 (the key is not a field)"),
                )
                .at(src, s, e),
            );
        }
        // `name: FIELD` (the field that holds the firm's name) and the
        // fields `publish` breaks its figures down by
        let mut role = |entry: &str, example: &str| -> Option<usize> {
            let wanted = yaml_text(map.get(entry)?);
            // by its name, title or an alias, as a policy may name it
            let found = fields
                .iter()
                .position(|f| f.name == wanted)
                .or_else(|| fields.iter().position(|f| f.names().any(|n| n == wanted)));
            if found.is_none() && diags.is_empty() {
                let (s, e) = at_key(entry);
                let help = crate::suggest::closest(&wanted, fields.iter().flat_map(|f| f.names()))
                    .map(|c| format!("did you mean `{c}`?"))
                    .unwrap_or_else(|| {
                        format!("`{entry}:` 写一个字段名,如 `{example}` (names a field)")
                    });
                diags.push(
                    Diagnostic::new(
                        "schema::no-name-field",
                        format!("`{entry}: {wanted}` 不是已定义的字段 (not a field)"),
                    )
                    .at(src, s, e)
                    .help(help),
                );
            }
            found
        };
        let name = role("name", "name: name");
        let roles = Roles {
            region: role("region", "region: region"),
            industry: role("industry", "industry: industry"),
            size: role("size", "size: size"),
        };
        if !diags.is_empty() {
            return Err(diags);
        }
        let mut schema = Schema::new(fields, &key).map_err(|d| vec![d.at(src, 0, 0)])?;
        schema.name = name;
        schema.roles = roles;
        Ok(schema)
    }
}

fn yaml_text(v: &Yaml) -> String {
    match v {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// A field's problem: the message, a help, and the field's entry it is
/// about (`type`, `values`, …), pointed at where it is written.
type FieldError = (String, Option<String>, Option<String>);

/// The entries a field may have.
const FIELD_ENTRIES: [&str; 6] = ["type", "title", "values", "aliases", "source", "check"];

/// [`FIELD_ENTRIES`] as a help shows them: "`type`、`title`、…".
fn entries() -> String {
    FIELD_ENTRIES.map(|e| format!("`{e}`")).join("、")
}

fn field(name: &str, spec: &Yaml) -> Result<Field, FieldError> {
    let Some(m) = spec.as_mapping() else {
        return Err((
            format!("字段 `{name}` 要写成 `{{ type: text }}` 这样的形式 (a mapping)"),
            None,
            None,
        ));
    };
    for (k, _) in m {
        let k = yaml_text(k);
        if !FIELD_ENTRIES.contains(&k.as_str()) {
            return Err((
                format!("字段 `{name}` 里不认识的项 `{k}` (unknown entry)"),
                Some(
                    match crate::suggest::closest(&k, FIELD_ENTRIES.iter().copied()) {
                        Some(near) => format!(
                            "是不是 `{near}`? (did you mean `{near}`?) 字段可以有 {}",
                            entries()
                        ),
                        None => format!("字段可以有 {}", entries()),
                    },
                ),
                Some(k),
            ));
        }
    }
    let ty_name = m.get("type").map(yaml_text).unwrap_or_default();
    let ty = match ty_name.as_str() {
        "bool" => FieldType::Bool,
        "integer" => FieldType::Integer,
        "number" => FieldType::Number,
        "money" => FieldType::Money,
        "percent" => FieldType::Percent,
        "date" => FieldType::Date,
        "text" => FieldType::Text,
        "list" => FieldType::List,
        "enum" => {
            let values: Vec<String> = match m.get("values").and_then(|v| v.as_sequence()) {
                Some(seq) => seq.iter().map(yaml_text).collect(),
                None => {
                    return Err((
                        format!("enum 字段 `{name}` 要写 `values` (needs its values)"),
                        Some("如 `values: [大型, 中型, 小型, 微型]`".into()),
                        Some("type".into()),
                    ))
                }
            };
            if values.is_empty() || values.iter().any(|v| v.is_empty()) {
                return Err((
                    format!("enum 字段 `{name}` 有空的可选值 (an empty value)"),
                    None,
                    Some("values".into()),
                ));
            }
            FieldType::Enum(values)
        }
        "" => {
            return Err((
                format!("字段 `{name}` 没有 `type` (no type)"),
                Some("类型:bool、integer、number、money、percent、date、text、enum、list".into()),
                None,
            ))
        }
        other => {
            let known = [
                "bool", "integer", "number", "money", "percent", "date", "text", "enum", "list",
            ];
            let help = match crate::suggest::closest(other, known.iter().copied()) {
                Some(s) => format!("是不是 `{s}`? (did you mean `{s}`?)"),
                None => format!("类型:{}", known.join("、")),
            };
            return Err((
                format!("字段 `{name}` 的类型 `{other}` 不存在 (unknown type)"),
                Some(help),
                Some("type".into()),
            ));
        }
    };
    if m.get("values").is_some() && !matches!(ty, FieldType::Enum(_)) {
        return Err((
            format!("字段 `{name}` 写了 `values`,但类型不是 enum (values but not an enum)"),
            None,
            Some("values".into()),
        ));
    }
    let check = match m.get("check").map(yaml_text) {
        None => None,
        Some(c) if c == "uscc" => Some(Check::Uscc),
        Some(c) => {
            return Err((
                format!("字段 `{name}` 的校验 `{c}` 不存在 (unknown check)"),
                Some("可用的校验是 `uscc`".into()),
                Some("check".into()),
            ))
        }
    };
    if check.is_some() && ty != FieldType::Text {
        return Err((
            format!("字段 `{name}`:`check: uscc` 只用于 text 字段 (text fields only)"),
            None,
            Some("check".into()),
        ));
    }
    let aliases = match m.get("aliases") {
        None => Vec::new(),
        Some(Yaml::Sequence(s)) => s.iter().map(yaml_text).collect(),
        Some(v) => vec![yaml_text(v)],
    };
    Ok(Field {
        name: name.to_string(),
        ty,
        title: m.get("title").map(yaml_text).filter(|t| !t.is_empty()),
        aliases,
        source: m.get("source").map(yaml_text),
        check,
    })
}

/// Where `name:` is written in the YAML text, for diagnostics.
/// Where field `name` is written under the top-level `fields:`: the first
/// indented `name:` after it (a top-level `name:` naming the firm's name
/// field is not it).
fn find_field(src: &SourceText, name: &str) -> Option<(usize, usize)> {
    let mut offset = 0;
    let mut inside = false;
    for line in src.text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if indent == 0 && !trimmed.trim().is_empty() && !trimmed.starts_with('#') {
            inside = trimmed
                .strip_prefix("fields")
                .is_some_and(|r| r.trim_start().starts_with(':'));
        } else if inside && key_named(trimmed, name) {
            return Some((offset + indent, offset + indent + name.len()));
        }
        offset += line.len();
    }
    None
}

/// Whether `text` starts with the key `name` (its colon after).
fn key_named(text: &str, name: &str) -> bool {
    let text = text.strip_prefix(['"', '\'']).unwrap_or(text);
    text.strip_prefix(name).is_some_and(|rest| {
        let rest = rest.strip_prefix(['"', '\'']).unwrap_or(rest);
        rest.trim_start().starts_with(':')
    })
}

/// Where entry `entry` of the field written at `field` is: on the field's
/// own line (`{ type: money, titel: … }`) or on the lines indented under it.
fn find_entry(src: &SourceText, field: usize, entry: &str) -> Option<(usize, usize)> {
    let line_start = src.text.get(..field)?.rfind('\n').map_or(0, |i| i + 1);
    let indent = field - line_start;
    let mut offset = line_start;
    for (n, line) in src
        .text
        .get(line_start..)?
        .split_inclusive('\n')
        .enumerate()
    {
        let trimmed = line.trim_start();
        let own = line.len() - trimmed.len();
        if n > 0 && !trimmed.trim().is_empty() && !trimmed.starts_with('#') && own <= indent {
            return None;
        }
        // after the field's own name on its line; at a key's start elsewhere
        let from = if n == 0 { indent + 1 } else { 0 };
        let mut at = from;
        while let Some(i) = line.get(at..).and_then(|l| l.find(entry)) {
            let start = at + i;
            let before = line.get(..start).and_then(|b| b.chars().next_back());
            let starts_key = matches!(before, None | Some(' ' | '\t' | '{' | ',' | '"' | '\''));
            if starts_key && line.get(start..).is_some_and(|l| key_named(l, entry)) {
                return Some((offset + start, offset + start + entry.len()));
            }
            at = start + entry.len();
        }
        offset += line.len();
    }
    None
}

fn find_key(src: &SourceText, name: &str) -> (usize, usize) {
    let text: &str = &src.text;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix(name) {
            if rest.trim_start().starts_with(':') {
                let start = offset + (line.len() - trimmed.len());
                return (start, start + name.len());
            }
        }
        offset += line.len();
    }
    (0, 0)
}

/// The characters of a unified social credit code (GB 32100-2015), in the
/// order of their values.
pub const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// The weights of the first 17 characters in the check character.
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// The value of each ASCII character in [`USCC_ALPHABET`], or 255.
#[allow(clippy::indexing_slicing)] // evaluated at compile time: an error would not compile
const USCC_VALUE: [u8; 128] = {
    let mut t = [255u8; 128];
    let mut i = 0;
    while i < USCC_ALPHABET.len() {
        t[USCC_ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// The value of a credit-code character, if it is one.
fn uscc_value(c: char) -> Option<u32> {
    let v = *USCC_VALUE.get(c as usize)?;
    (v != 255).then_some(u32::from(v))
}

/// The check character (the 18th) of the first 17 characters of a credit
/// code, if they are all credit-code characters.
pub fn uscc_check_char(first17: &str) -> Option<char> {
    let mut sum = 0u32;
    for (c, w) in first17.chars().zip(USCC_WEIGHTS) {
        sum += w * uscc_value(c)?;
    }
    let check = (31 - sum % 31) % 31;
    USCC_ALPHABET.get(check as usize).map(|&b| b as char)
}

/// Validates an 18-character unified social credit code (GB 32100-2015):
/// characters of the alphabet, the last the check character of the others.
pub fn uscc_valid(code: &str) -> Result<(), String> {
    let count = code.chars().count();
    if count != 18 {
        return Err(format!(
            "a credit code has 18 characters, this one has {count}"
        ));
    }
    if let Some((i, c)) = code
        .chars()
        .enumerate()
        .find(|(_, c)| uscc_value(*c).is_none())
    {
        return Err(format!(
            "`{c}` (position {}) cannot appear in a credit code",
            i + 1
        ));
    }
    let (first17, given) = code.split_at(code.len() - 1);
    let expected = uscc_check_char(first17).unwrap_or('?');
    if !given.starts_with(expected) {
        return Err(format!(
            "the check character is `{given}`, it should be `{expected}`"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uscc_examples() {
        assert!(uscc_valid("91420102MA4K2L3R0G").is_ok());
        assert!(uscc_valid("91420102MA4K2L3R63").is_ok());
        assert!(uscc_valid("91350100M000100Y43").is_ok());
        assert!(uscc_valid("91350100M000100Y44").is_err());
        assert!(uscc_valid("9135010").is_err());
        assert!(uscc_valid("91350100M000100YI3").is_err());
    }

    fn load_text(text: &str) -> Result<Schema, Vec<Diagnostic>> {
        Schema::load(&SourceText {
            name: "schema.yaml".into(),
            text: text.into(),
        })
    }

    #[test]
    fn name_names_the_field_of_the_firms_name() {
        let fields =
            "fields:\n  uscc: { type: text }\n  firm_name: { type: text, title: 企业名称 }\n";
        let s = load_text(&format!("key: uscc\nname: firm_name\n{fields}")).expect("checks");
        assert_eq!(s.name, Some(1));
        let s = load_text(&format!("key: uscc\n{fields}")).expect("checks");
        assert_eq!(s.name, None);
        let e =
            load_text(&format!("key: uscc\nname: firm_nam\n{fields}")).expect_err("no such field");
        assert_eq!(e.len(), 1);
        assert!(
            e[0].message
                .contains("`name: firm_nam` 不是已定义的字段 (not a field)"),
            "{:?}",
            e[0]
        );
    }

    /// A slip in a field's entry is placed at the entry itself, in a flow
    /// mapping or a block one, with the entry meant; the field `name` is
    /// found under `fields:`, not at the top-level `name:`.
    #[test]
    fn a_slip_in_an_entry_is_placed_at_the_entry() {
        let text = "key: uscc\nname: name\nfields:\n  uscc: { type: text }\n  name: { type: text, titl: 企业名称 }\n  revenue:\n    type: money\n    # 营业收入\n    titel: 营业收入\n  size: { type: enum, values: [] }\n  subtype: { type: txt }\n";
        let e = load_text(text).expect_err("three slips");
        let places: Vec<(usize, usize)> = e
            .iter()
            .filter_map(|d| d.location())
            .map(|(_, line, col)| (line, col))
            .collect();
        assert_eq!(places, [(5, 23), (9, 5), (10, 23), (11, 14)], "{e:?}");
        assert!(
            e[0].help
                .as_deref()
                .is_some_and(|h| h.contains("did you mean `title`?")),
            "{e:?}"
        );
    }
}
