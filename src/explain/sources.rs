//! Where a firm's record came from when several departments' files are
//! joined (LANGUAGE.md section 11): the rows joined, and for each field the
//! files gave different values, what each file said and which value the run
//! used, or why the field became missing.

use serde::Serialize;

use crate::data::join::{Conflict, Files};
use crate::schema::Schema;

/// The rows and conflicts of a joined firm.
#[derive(Debug, Serialize)]
pub struct Sources {
    pub rows: Vec<SourceRow>,
    pub conflicts: Vec<FieldConflict>,
}

/// One row of the firm in one file.
#[derive(Debug, Serialize)]
pub struct SourceRow {
    pub file: String,
    /// The file's `SOURCE=`.
    pub source: Option<String>,
    pub row: u64,
}

/// A field the files gave different values.
#[derive(Debug, Serialize)]
pub struct FieldConflict {
    pub field: String,
    /// The field's `source:` in the schema.
    pub source: Option<String>,
    pub values: Vec<GivenValue>,
    /// The value used, as written; `None`: the field is missing.
    pub used: Option<String>,
    /// Why that value, or why missing.
    pub why: String,
}

/// What one file said.
#[derive(Debug, Serialize)]
pub struct GivenValue {
    pub file: String,
    pub row: u64,
    pub value: String,
    pub used: bool,
}

/// The sources of a firm from its rows (file and line) and its conflicts
/// (sorted by field, then file, as the join gives them).
pub fn sources(
    schema: &Schema,
    files: &Files<'_>,
    rows: &[(u16, u64)],
    conflicts: &[Conflict],
) -> Sources {
    let name = |f: u16| files.names.get(f as usize).cloned().unwrap_or_default();
    let source_of = |f: u16| files.sources.get(f as usize).cloned().flatten();
    let rows = rows
        .iter()
        .map(|&(file, row)| SourceRow {
            file: name(file),
            source: source_of(file),
            row,
        })
        .collect();
    let mut by_field: Vec<Vec<&Conflict>> = Vec::new();
    for c in conflicts {
        match by_field.last_mut() {
            Some(group) if group.first().is_some_and(|g| g.field == c.field) => group.push(c),
            _ => by_field.push(vec![c]),
        }
    }
    let mut out = Vec::new();
    for group in by_field {
        let Some(first) = group.first() else {
            continue;
        };
        let source = schema
            .fields
            .iter()
            .find(|f| f.name == first.field)
            .and_then(|f| f.source.clone());
        let labelled = group
            .iter()
            .filter(|c| source.is_some() && source_of(c.file) == source)
            .count();
        let used = group.iter().find(|c| c.used).map(|c| c.value.clone());
        let why = match (&used, &source) {
            (Some(_), Some(s)) => format!(
                "采用标为 {s} 的文件所给的值 (the files labelled `{s}=`, the field's source, give this value)"
            ),
            (Some(_), None) => String::new(),
            (None, None) => "此字段未注明来源部门, 无法裁定, 视为缺失 (the field names no `source:`, so no file settles it: the field is missing)".into(),
            (None, Some(s)) if labelled == 0 => format!(
                "没有标为 {s} 的文件提供此值, 视为缺失 (no file labelled `{s}=` gives it: the field is missing)"
            ),
            (None, Some(s)) => format!(
                "标为 {s} 的文件之间也不一致, 视为缺失 (the files labelled `{s}=` disagree too: the field is missing)"
            ),
        };
        out.push(FieldConflict {
            field: first.field.clone(),
            source,
            values: group
                .iter()
                .map(|c| GivenValue {
                    file: name(c.file),
                    row: c.row,
                    value: c.value.clone(),
                    used: c.used,
                })
                .collect(),
            used,
            why,
        });
    }
    Sources {
        rows,
        conflicts: out,
    }
}

/// The sources as explain prints them, before the policies.
pub fn render(s: &Sources) -> String {
    let rows: Vec<String> = s
        .rows
        .iter()
        .map(|r| format!("{} 第 {} 行", r.file, r.row))
        .collect();
    let mut out = format!("数据来源 (rows joined): {}\n", rows.join(", "));
    if s.conflicts.is_empty() {
        return out;
    }
    out.push_str("数据冲突 (values that differ between files):\n");
    for c in &s.conflicts {
        let source = c
            .source
            .as_ref()
            .map(|s| format!(" (来源 source: {s})"))
            .unwrap_or_default();
        out.push_str(&format!("  {}{source}\n", c.field));
        for v in &c.values {
            let used = if v.used { "  ← 采用 (used)" } else { "" };
            out.push_str(&format!(
                "    {} 第 {} 行: `{}`{used}\n",
                v.file, v.row, v.value
            ));
        }
        match &c.used {
            Some(v) => out.push_str(&format!("    → `{v}`: {}\n", c.why)),
            None => out.push_str(&format!("    → 缺失 (missing): {}\n", c.why)),
        }
    }
    out
}
