//! Synthetic firm files for a schema (seeded).
//!
//! [`generate`] writes a CSV that looks like a pooled 一企一档 export: one row
//! per firm, a header of the schema's field names, valid and unique unified
//! social credit codes, and values whose distributions follow the field's
//! meaning where the generator knows it (by field name, title or alias:
//! `employees`, `revenue`, `insured_months`, `tags`, …) and its type
//! otherwise. Fields of one firm agree with each other: revenue grows with
//! staff, the size class follows the 2011 standard for the firm's sector,
//! the `高新技术企业` tag goes with a certification date, and so on.
//!
//! With `messy` the same firms are written the way office exports write them
//! (thousands separators, `万元`, `是/否`, `2024年1月5日`, `0.055` for 5.5%,
//! about 3% of cells empty); every such form is one the data reader accepts
//! (LANGUAGE.md section 10). `bad_rows` adds rows that must be rejected: a
//! cell no reader should accept, or a bad, empty or duplicated key.
//!
//! Output is a pure function of the schema and the options, byte for byte on
//! every platform: a splitmix64 generator, integer money (cents), and no
//! floating-point function whose last bit depends on the C library.

// The generator indexes its own constant tables and vectors sized from the
// schema's fields, and draws with `Rng::pick` only from slices it has just
// checked are non-empty.
#![allow(clippy::indexing_slicing)]

use std::collections::HashSet;
use std::io::{self, Write};

use mianshen::date::Date;
use mianshen::schema::{Check, Field, FieldType, Schema};

mod codes;
pub mod command;
mod concepts;
mod days;
mod firm;
mod places;
mod rng;
mod sheets;
pub mod split;
mod spoil;
mod values;

use codes::*;
use concepts::*;
use days::*;
use firm::*;
use places::*;
use rng::*;
use spoil::*;
use values::*;

pub use sheets::Format;

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenOptions {
    /// Data rows to write, the header not counted; bad rows are among them.
    pub rows: u64,
    pub seed: u64,
    /// Vary value formats and leave about 3% of non-key cells empty.
    pub messy: bool,
    /// Fraction of rows (0 to 1) given a deliberately invalid cell or a bad
    /// or duplicate key.
    pub bad_rows: f64,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            rows: 1000,
            seed: 1,
            messy: false,
            bad_rows: 0.0,
        }
    }
}

/// The day the synthetic data describes: "last year" is 2024, certification
/// dates fall on or before it. Example runs use `--as-of 2024-12-31`.
pub const REFERENCE_DAY: (i32, u32, u32) = (2024, 12, 31);

/// Writes `opts.rows` firms for `schema` as CSV to `out`.
pub fn generate(schema: &Schema, opts: &GenOptions, out: &mut impl Write) -> io::Result<()> {
    let mut w = csv::WriterBuilder::new().from_writer(&mut *out);
    w.write_record(schema.fields.iter().map(|f| f.name.as_str()))?;
    for cells in Rows::new(schema, opts) {
        w.write_record(&cells)?;
    }
    w.flush()?;
    Ok(())
}

/// The firms of [`generate`], one row of cell texts at a time in the
/// schema's field order: every format written from the same rows holds the
/// same firms.
pub struct Rows<'s> {
    schema: &'s Schema,
    opts: GenOptions,
    concepts: Vec<Option<Concept>>,
    key_is_uscc: bool,
    bad_rows: f64,
    row: u64,
    keys_seen: HashSet<String>,
    /// Keys written intact: a later bad row may repeat one.
    keys: Vec<String>,
}

impl<'s> Rows<'s> {
    pub fn new(schema: &'s Schema, opts: &GenOptions) -> Rows<'s> {
        let concepts: Vec<Option<Concept>> = schema.fields.iter().map(concept_of).collect();
        let key_is_uscc = {
            let k = schema.key_field();
            k.ty == FieldType::Text
                && (k.check == Some(Check::Uscc) || concepts[schema.key] == Some(Concept::Key))
        };
        let bad_rows = if opts.bad_rows.is_finite() {
            opts.bad_rows.clamp(0.0, 1.0)
        } else {
            0.0
        };
        Rows {
            schema,
            opts: opts.clone(),
            concepts,
            key_is_uscc,
            bad_rows,
            row: 0,
            keys_seen: HashSet::new(),
            keys: Vec::new(),
        }
    }
}

impl Iterator for Rows<'_> {
    type Item = Vec<String>;

    fn next(&mut self) -> Option<Vec<String>> {
        if self.row >= self.opts.rows {
            return None;
        }
        let (schema, opts, row) = (self.schema, &self.opts, self.row);
        self.row += 1;
        let mut firm_rng = Rng::stream(opts.seed, row, 1);
        let mut fmt_rng = Rng::stream(opts.seed, row, 2);
        let mut bad_rng = Rng::stream(opts.seed, row, 3);
        let firm = Firm::new(&mut firm_rng);
        let key = loop {
            let candidate = if self.key_is_uscc {
                uscc_for(&mut firm_rng, firm.region.code)
            } else {
                generic_key(schema.key_field(), row)
            };
            if self.keys_seen.insert(candidate.clone()) {
                break candidate;
            }
        };
        let mut cells: Vec<String> = Vec::with_capacity(schema.fields.len());
        for (i, field) in schema.fields.iter().enumerate() {
            if i == schema.key {
                cells.push(key.clone());
                continue;
            }
            let value = match self.concepts[i] {
                Some(c) => firm.value(c),
                None => Some(generic(field, &mut firm_rng)),
            };
            // Empty cells are drawn for every field, so that `messy` changes
            // which cells are empty but never the firms themselves.
            let blank = fmt_rng.chance(0.03);
            let text = match value {
                Some(_) if opts.messy && blank => String::new(),
                Some(v) => render(&v, field, opts.messy, &mut fmt_rng)
                    .unwrap_or_else(|| render_generic(field, opts.messy, &mut firm_rng)),
                None => String::new(),
            };
            cells.push(text);
        }
        if bad_rng.unit() < self.bad_rows {
            spoil(
                schema,
                &mut cells,
                &self.keys,
                self.key_is_uscc,
                &mut bad_rng,
            );
        }
        // Only keys written intact can be duplicated by a later bad row.
        if cells[schema.key] == key {
            self.keys.push(key);
        }
        Some(cells)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mianshen::data::parse_cell;
    use mianshen::diag::SourceText;
    use mianshen::schema::uscc_valid;

    fn example_schema() -> Schema {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/policies/schema.yaml");
        let text = std::fs::read_to_string(path).expect("policies/schema.yaml");
        Schema::load(&SourceText::new(path, text)).expect("the example schema loads")
    }

    fn csv_of(schema: &Schema, opts: &GenOptions) -> Vec<u8> {
        let mut out = Vec::new();
        generate(schema, opts, &mut out).expect("writing to memory");
        out
    }

    fn records(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(bytes);
        let header = r
            .headers()
            .expect("header")
            .iter()
            .map(String::from)
            .collect();
        let rows = r
            .records()
            .map(|rec| rec.expect("record").iter().map(String::from).collect())
            .collect();
        (header, rows)
    }

    fn opts(rows: u64, seed: u64, messy: bool, bad_rows: f64) -> GenOptions {
        GenOptions {
            rows,
            seed,
            messy,
            bad_rows,
        }
    }

    #[test]
    fn same_seed_same_bytes() {
        let schema = example_schema();
        for messy in [false, true] {
            let a = csv_of(&schema, &opts(300, 7, messy, 0.05));
            let b = csv_of(&schema, &opts(300, 7, messy, 0.05));
            assert_eq!(a, b);
            let c = csv_of(&schema, &opts(300, 8, messy, 0.05));
            assert_ne!(a, c);
        }
    }

    #[test]
    fn header_is_the_field_names() {
        let schema = example_schema();
        let (header, _) = records(&csv_of(&schema, &opts(3, 1, true, 0.0)));
        let names: Vec<String> = schema.fields.iter().map(|f| f.name.clone()).collect();
        assert_eq!(header, names);
    }

    #[test]
    fn writes_the_rows_asked_for() {
        let schema = example_schema();
        for n in [0, 1, 57] {
            let (_, rows) = records(&csv_of(&schema, &opts(n, 3, true, 0.1)));
            assert_eq!(rows.len() as u64, n);
            assert!(rows.iter().all(|r| r.len() == schema.fields.len()));
        }
    }

    #[test]
    fn keys_are_valid_and_unique_without_bad_rows() {
        let schema = example_schema();
        for messy in [false, true] {
            let (_, rows) = records(&csv_of(&schema, &opts(2000, 11, messy, 0.0)));
            let mut seen = HashSet::new();
            for row in &rows {
                let key = &row[schema.key];
                assert!(uscc_valid(key).is_ok(), "{key}: {:?}", uscc_valid(key));
                assert!(seen.insert(key.clone()), "duplicate key {key}");
            }
        }
    }

    #[test]
    fn every_cell_reads_without_bad_rows() {
        let schema = example_schema();
        for messy in [false, true] {
            let (_, rows) = records(&csv_of(&schema, &opts(2000, 5, messy, 0.0)));
            for row in &rows {
                for (field, cell) in schema.fields.iter().zip(row) {
                    if let Err(e) = parse_cell(&field.ty, cell) {
                        panic!("{} `{cell}`: {e}", field.name);
                    }
                }
            }
        }
    }

    #[test]
    fn bad_rows_are_rejected_by_the_reader() {
        let schema = example_schema();
        let clean = records(&csv_of(&schema, &opts(1000, 9, true, 0.0))).1;
        let dirty = records(&csv_of(&schema, &opts(1000, 9, true, 0.2))).1;
        let mut keys = std::collections::HashMap::new();
        for row in &dirty {
            *keys.entry(row[schema.key].clone()).or_insert(0) += 1;
        }
        let mut spoiled = 0;
        for (c, d) in clean.iter().zip(&dirty) {
            if c == d {
                continue;
            }
            spoiled += 1;
            let key = &d[schema.key];
            let key_bad = key.is_empty() || uscc_valid(key).is_err() || keys[key] > 1;
            let cell_bad = schema
                .fields
                .iter()
                .zip(d)
                .any(|(f, cell)| parse_cell(&f.ty, cell).is_err());
            assert!(key_bad || cell_bad, "row changed but readable: {d:?}");
        }
        assert!(
            (120..=280).contains(&spoiled),
            "{spoiled} spoiled rows of 1000"
        );
    }

    #[test]
    fn messy_changes_formats_not_firms() {
        let schema = example_schema();
        let clean = records(&csv_of(&schema, &opts(200, 4, false, 0.0))).1;
        let messy = records(&csv_of(&schema, &opts(200, 4, true, 0.0))).1;
        for (c, m) in clean.iter().zip(&messy) {
            for (f, (a, b)) in schema.fields.iter().zip(c.iter().zip(m)) {
                if b.is_empty() {
                    continue;
                }
                assert_eq!(
                    parse_cell(&f.ty, a),
                    parse_cell(&f.ty, b),
                    "{}: `{a}` vs `{b}`",
                    f.name
                );
            }
        }
    }

    #[test]
    fn sizes_follow_the_2011_standard() {
        assert_eq!(
            size_class(Sector::Industry, 1000, 40_000 * WAN),
            Some("大型")
        );
        assert_eq!(
            size_class(Sector::Industry, 1000, 39_999 * WAN),
            Some("中型")
        );
        assert_eq!(size_class(Sector::Industry, 19, 5000 * WAN), Some("微型"));
        assert_eq!(size_class(Sector::Industry, 20, 300 * WAN), Some("小型"));
        assert_eq!(size_class(Sector::Other, 150, 0), Some("中型"));
    }

    #[test]
    fn check_characters() {
        let mut rng = Rng::stream(1, 2, 3);
        for _ in 0..500 {
            let code = uscc_for(&mut rng, "420102");
            assert!(uscc_valid(&code).is_ok(), "{code}");
        }
        // The organization-code check of LANGUAGE.md's example key `91420102MA4K2L3R0G`.
        assert_eq!(org_check(b"MA4K2L3R"), b'0');
        assert_eq!(
            mianshen::schema::uscc_check_char("91420102MA4K2L3R0"),
            Some('G')
        );
    }

    #[test]
    fn any_schema_gets_values_of_its_types() {
        let field = |name: &str, ty: FieldType| Field {
            name: name.into(),
            ty,
            title: None,
            aliases: vec![],
            source: None,
            check: None,
        };
        let schema = Schema::new(
            vec![
                field("id", FieldType::Text),
                field("flag", FieldType::Bool),
                field("count", FieldType::Integer),
                field("ratio", FieldType::Percent),
                field("when", FieldType::Date),
                field("kind", FieldType::Enum(vec!["甲".into(), "乙".into()])),
                field("labels", FieldType::List),
                field("weight", FieldType::Number),
                // a known name with an unexpected type falls back to its type
                field("employees", FieldType::Date),
            ],
            "id",
        )
        .expect("schema");
        let (_, rows) = records(&csv_of(&schema, &opts(200, 2, true, 0.0)));
        let mut seen = HashSet::new();
        for row in &rows {
            assert!(seen.insert(row[0].clone()));
            for (f, cell) in schema.fields.iter().zip(row) {
                assert!(parse_cell(&f.ty, cell).is_ok(), "{} `{cell}`", f.name);
            }
        }
    }

    #[test]
    fn dates_round_trip() {
        for s in ["1970-01-01", "2000-02-29", "2024-12-31", "1999-03-01"] {
            let d = Date::parse_iso(s).expect("date");
            assert_eq!(from_days(to_days(d)), d);
        }
        assert_eq!(to_days(Date::parse_iso("1970-01-02").expect("date")), 1);
    }

    #[test]
    fn every_field_is_in_one_department_file_with_the_key() {
        let schema = example_schema();
        let departments = split::departments(&schema, &split::Formats::default());
        assert_eq!(departments.len(), 12);
        assert_eq!(departments[0].source.as_deref(), Some("市场监管"));
        assert_eq!(departments[11].source, None);
        assert_eq!(departments[11].file, "其他.csv");
        let formats: Vec<Format> = departments.iter().take(5).map(|d| d.format).collect();
        assert_eq!(
            formats,
            [
                Format::Csv,
                Format::Gbk,
                Format::JsonLines,
                Format::Xlsx,
                Format::Csv
            ]
        );
        let mut seen = vec![0; schema.fields.len()];
        for d in &departments {
            assert_eq!(d.fields[0], schema.key);
            for &f in &d.fields {
                seen[f] += 1;
            }
        }
        assert_eq!(seen[schema.key], 12);
        assert!(seen
            .iter()
            .enumerate()
            .all(|(i, n)| i == schema.key || *n == 1));
    }

    #[test]
    fn a_format_named_for_a_source_wins() {
        let schema = example_schema();
        let formats = split::Formats {
            all: Some(Format::Csv),
            by_source: vec![("药监".into(), Format::Xlsx)],
        };
        for d in split::departments(&schema, &formats) {
            let want = if d.source.as_deref() == Some("药监") {
                Format::Xlsx
            } else {
                Format::Csv
            };
            assert_eq!(d.format, want, "{:?}", d.source);
        }
    }

    /// Writes the bundled example data: `cargo test --lib write_example_firms -- --ignored`.
    #[test]
    #[ignore]
    fn write_example_firms() {
        let schema = example_schema();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/policies/data/firms.csv");
        let mut file = std::fs::File::create(path).expect("create policies/data/firms.csv");
        generate(&schema, &opts(1000, 20_241_231, true, 0.01), &mut file).expect("write");
    }
}
