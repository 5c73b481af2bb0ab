//! The synthetic firms as departments export them (一企一档 before it is
//! pooled): one file per `source:` of the schema's fields, each with the key
//! column, in the formats departments really send (GBK CSV, JSON Lines, an
//! Excel workbook, UTF-8 CSV).
//!
//! The rows are those of the single file ([`super::Rows`]), so a run joining
//! the department files decides exactly as a run over the single file. A
//! department other than the key's own leaves out a firm of which it holds
//! nothing (every cell empty), as a department lists only the firms it
//! knows; the firm's fields are missing either way. A department holding a
//! `list` field lists every firm, since an empty cell there is the empty
//! list and an absent row would be missing.

use std::path::{Path, PathBuf};

use super::sheets::{Format, Sheet};
use super::*;

/// The department file of fields that name no `source:`.
pub const OTHER: &str = "其他";

/// The format of each department's file.
#[derive(Clone, Debug, Default)]
pub struct Formats {
    /// For departments not named in `by_source`; `None`: the mixed default
    /// (the second department GBK CSV, the third JSON Lines, the fourth an
    /// Excel workbook, the others UTF-8 CSV).
    pub all: Option<Format>,
    pub by_source: Vec<(String, Format)>,
}

/// One department's file.
#[derive(Clone, Debug)]
pub struct Department {
    /// The schema's `source:`; `None` for the fields that name none.
    pub source: Option<String>,
    /// Its fields, the key first.
    pub fields: Vec<usize>,
    pub format: Format,
    /// The file's name (the department's name and the format's ending).
    pub file: String,
    /// Firms written (rows after the header).
    pub rows: u64,
}

impl Department {
    /// `--data` as `mianshen run` takes it: `SOURCE=FILE`, or just the file
    /// for the fields of no source.
    pub fn data_arg(&self, dir: &Path) -> String {
        let path = dir.join(&self.file).to_string_lossy().into_owned();
        match &self.source {
            Some(s) => format!("{s}={path}"),
            None => path,
        }
    }
}

/// The departments of `schema`, in the order their first field appears,
/// the key's first; the fields of no source last.
pub fn departments(schema: &Schema, formats: &Formats) -> Vec<Department> {
    let mut order: Vec<Option<&str>> = vec![schema.key_field().source.as_deref()];
    for f in &schema.fields {
        let s = f.source.as_deref();
        if !order.contains(&s) && s.is_some() {
            order.push(s);
        }
    }
    if !order.contains(&None) && schema.fields.iter().any(|f| f.source.is_none()) {
        order.push(None);
    }
    let mut names: Vec<String> = Vec::new();
    order
        .iter()
        .enumerate()
        .map(|(place, source)| {
            let mut fields = vec![schema.key];
            fields.extend(
                (0..schema.fields.len())
                    .filter(|&i| i != schema.key && schema.fields[i].source.as_deref() == *source),
            );
            let named = source.and_then(|s| {
                formats
                    .by_source
                    .iter()
                    .find(|(n, _)| n == s)
                    .map(|(_, f)| *f)
            });
            let format = named
                .or(formats.all)
                .unwrap_or_else(|| Format::mixed(place));
            let mut stem = file_stem(source.unwrap_or(OTHER));
            while names.contains(&stem) {
                stem.push('_');
            }
            names.push(stem.clone());
            Department {
                source: source.map(str::to_string),
                fields,
                format,
                file: format!("{stem}.{}", format.ending()),
                rows: 0,
            }
        })
        .collect()
}

/// A department's name as a file name: characters a file system or `--data`
/// would misread become `_`.
fn file_stem(source: &str) -> String {
    let stem: String = source
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if stem.is_empty() {
        "_".into()
    } else {
        stem
    }
}

/// Writes the firms of `opts` into `dir` as the department files of
/// `schema`; returns the departments with the rows each was given.
pub fn generate_split(
    schema: &Schema,
    opts: &GenOptions,
    formats: &Formats,
    dir: &Path,
) -> io::Result<Vec<Department>> {
    std::fs::create_dir_all(dir)?;
    let mut departments = departments(schema, formats);
    let key_department = schema.key_field().source.clone();
    let mut sheets: Vec<Box<dyn Sheet>> = Vec::new();
    for d in &departments {
        let header: Vec<&str> = d
            .fields
            .iter()
            .map(|&i| {
                let f = &schema.fields[i];
                f.title.as_deref().unwrap_or(&f.name)
            })
            .collect();
        let path: PathBuf = dir.join(&d.file);
        sheets.push(d.format.create(&path, &header)?);
    }
    for cells in Rows::new(schema, opts) {
        for (d, sheet) in departments.iter_mut().zip(sheets.iter_mut()) {
            let holds_nothing = d
                .fields
                .iter()
                .all(|&i| i == schema.key || cells[i].is_empty());
            let lists_all = d.source == key_department
                || d.fields
                    .iter()
                    .any(|&i| schema.fields[i].ty == FieldType::List);
            if holds_nothing && !lists_all {
                continue;
            }
            let row: Vec<(&Field, &str)> = d
                .fields
                .iter()
                .map(|&i| (&schema.fields[i], cells[i].as_str()))
                .collect();
            sheet.row(&row)?;
            d.rows += 1;
        }
    }
    for sheet in sheets {
        sheet.finish()?;
    }
    Ok(departments)
}
