//! The firm table the SQL reads, as `CREATE TABLE`, and a loader for a
//! plain CSV file through a table of texts (`mianshen sql --ddl`).

use super::dialect::Dialect;
use super::expr::{ident, Ty};
use super::{table_name, table_name_in};
use crate::schema::{FieldType, Schema};

/// The column type of a field.
fn column(ty: &FieldType) -> &'static str {
    match ty {
        FieldType::Integer => "bigint",
        other => Ty::of_field(other).sql(),
    }
}

/// `CREATE TABLE` for the firm table (and the ledger table when named),
/// then a loader for a CSV with plain values: decimals (a percent field
/// may write `5.5%`), ISO dates, `true/false` or `是/否`, list items
/// separated by `;`. A value it cannot read stops the load with an error.
pub fn postgres(schema: &Schema, table: &str, ledger: Option<&str>) -> String {
    let t = table_name(table);
    let mut cols = Vec::new();
    for (i, f) in schema.fields.iter().enumerate() {
        let mut c = format!("  {} {}", ident(&f.name), column(&f.ty));
        if i == schema.key {
            c += " PRIMARY KEY";
        }
        if let FieldType::Enum(values) = &f.ty {
            let vs: Vec<String> = values.iter().map(|v| super::expr::text(v)).collect();
            c += &format!(" CHECK ({} IN ({}))", ident(&f.name), vs.join(", "));
        }
        cols.push(c);
    }
    let raw_name = format!("{}_raw", table.rsplit('.').next().unwrap_or(table));
    let raw = ident(&raw_name);
    let raw_cols: Vec<String> = schema
        .fields
        .iter()
        .map(|f| format!("  {} text", ident(&f.name)))
        .collect();
    let converted: Vec<String> = schema
        .fields
        .iter()
        .map(|f| {
            let x = format!("NULLIF({}, '')", ident(&f.name));
            match &f.ty {
                FieldType::Percent => format!(
                    "  CASE WHEN {x} LIKE '%\\%' THEN rtrim({x}, '%')::numeric * 0.01 ELSE {x}::numeric END"
                ),
                FieldType::Integer => format!("  {x}::bigint"),
                FieldType::Number | FieldType::Money => format!("  {x}::numeric"),
                FieldType::Date => format!("  {x}::date"),
                FieldType::Bool => format!(
                    "  CASE {x} WHEN '是' THEN TRUE WHEN '否' THEN FALSE ELSE {x}::boolean END"
                ),
                FieldType::List => format!("  regexp_split_to_array({x}, '[;、|]')"),
                FieldType::Text | FieldType::Enum(_) => format!("  {x}"),
            }
        })
        .collect();
    let mut out = format!(
        "-- the firm table that `mianshen sql` reads: one row per firm, one column per field\n\
         CREATE TABLE {t} (\n{}\n);\n",
        cols.join(",\n")
    );
    if let Some(l) = ledger {
        out += &format!(
            "-- prior payments (LANGUAGE.md section 12), as the ledger file's columns\n\
             CREATE TABLE {} (key text NOT NULL, policy text NOT NULL, amount numeric NOT NULL, paid_on date NOT NULL);\n",
            table_name(l)
        );
    }
    out += &format!(
        "-- loading a CSV with plain values (header: the field names): decimals, a percent as 5.5% or 0.055,\n\
         -- dates YYYY-MM-DD, booleans true/false or 是/否, list items separated by ; 、 or |\n\
         -- (a value it cannot read stops the load; `mianshen run` reads more forms, LANGUAGE.md section 10)\n\
         CREATE TEMP TABLE {raw} (\n{}\n);\n\
         \\copy {raw} FROM 'firms.csv' WITH (FORMAT csv, HEADER)\n\
         INSERT INTO {t} SELECT\n{}\nFROM {raw};\n",
        raw_cols.join(",\n"),
        converted.join(",\n")
    );
    out
}

/// The firm table for Spark (`mianshen sql --dialect spark --ddl`): the
/// numeric columns typed as [`super::spark::column`] says, which the
/// refusals of `--dialect spark` assume, and a loader for a CSV with plain
/// values that puts each value in exactly: a number with more decimals or
/// digits than its column, or a value it cannot read, stops the load
/// (`raise_error`), never rounded.
pub fn spark(schema: &Schema, table: &str, ledger: Option<&str>) -> String {
    let d = Dialect::Spark;
    let cols: Vec<String> = schema
        .fields
        .iter()
        .map(|f| {
            let ty = match (&f.ty, super::spark::column(&f.ty)) {
                (_, Some(d)) => d.to_string(),
                (FieldType::Date, _) => "DATE".into(),
                (FieldType::Bool, _) => "BOOLEAN".into(),
                (FieldType::List, _) => "ARRAY<STRING>".into(),
                _ => "STRING".into(),
            };
            format!("  {} {ty}", d.ident(&f.name))
        })
        .collect();
    let t = table_name_in(d, table);
    let mut out = format!(
        "-- the firm table that `mianshen sql --dialect spark` assumes: one row per firm, one column per field;\n\
         -- numbers as these DECIMAL types hold them exactly (a percent as a fraction: 5.5% is 0.055)\n\
         CREATE TABLE {t} (\n{}\n) USING parquet;\n",
        cols.join(",\n")
    );
    if let Some(l) = ledger {
        out += &format!(
            "-- prior payments (LANGUAGE.md section 12); amounts with up to four decimals, exactly\n\
             CREATE TABLE {} (key STRING, policy STRING, amount {LEDGER_AMOUNT}, paid_on DATE) USING parquet;\n",
            table_name_in(d, l)
        );
    }
    let raw = d.ident(&format!(
        "{}_raw",
        table.rsplit('.').next().unwrap_or(table)
    ));
    let converted: Vec<String> = schema
        .fields
        .iter()
        .map(|f| {
            let x = d.ident(&f.name);
            let bad = format!(
                "raise_error(concat({}, {x}))",
                d.text(&format!("{}: cannot read ", f.name))
            );
            let exact = |dec: super::spark::Dec| {
                format!(
                    "CASE WHEN {x} IS NULL THEN NULL WHEN {x} RLIKE '{}' THEN CAST({x} AS {dec}) ELSE {bad} END",
                    plain(dec)
                )
            };
            match (&f.ty, super::spark::column(&f.ty)) {
                (FieldType::Percent, Some(dec)) => {
                    // 5.5% is 0.055: two decimals fewer, two whole digits more
                    let written = super::spark::Dec {
                        p: dec.p,
                        s: dec.s - 2,
                    };
                    format!(
                        "  CASE WHEN {x} IS NULL THEN NULL WHEN {x} RLIKE '{}' THEN CAST(CAST(substr({x}, 1, length({x}) - 1) AS {written}) * 0.01BD AS {dec})\n    WHEN {x} RLIKE '{}' THEN CAST({x} AS {dec}) ELSE {bad} END",
                        plain(written).replace('$', "%$"),
                        plain(dec)
                    )
                }
                (_, Some(dec)) => format!("  {}", exact(dec)),
                (FieldType::Date, _) => format!("  CAST({x} AS DATE)"),
                (FieldType::Bool, _) => format!(
                    "  CASE {x} WHEN '是' THEN TRUE WHEN '否' THEN FALSE ELSE CAST({x} AS BOOLEAN) END"
                ),
                (FieldType::List, _) => format!("  split({x}, '[;、|]')"),
                (FieldType::Enum(values), _) => {
                    let vs: Vec<String> = values.iter().map(|v| d.text(v)).collect();
                    format!(
                        "  CASE WHEN {x} IS NULL OR {x} IN ({}) THEN {x} ELSE {bad} END",
                        vs.join(", ")
                    )
                }
                _ => format!("  {x}"),
            }
        })
        .collect();
    out += &format!(
        "-- loading a CSV with plain values (header: the field names): decimals, a percent as 5.5% or 0.055,\n\
         -- dates YYYY-MM-DD, booleans true/false or 是/否, list items separated by ; 、 or |\n\
         -- (a value it cannot read stops the load; `mianshen run` reads more forms, LANGUAGE.md section 10)\n\
         CREATE OR REPLACE TEMPORARY VIEW {raw} USING csv OPTIONS (path 'firms.csv', header 'true', multiLine 'true', escape '\"');\n\
         INSERT INTO {t} SELECT\n{}\nFROM {raw};\n",
        converted.join(",\n")
    );
    if let Some(l) = ledger {
        let raw = d.ident(&format!("{}_raw", l.rsplit('.').next().unwrap_or(l)));
        out += &format!(
            "-- the ledger from a CSV with its header (key,policy,amount,paid_on; other columns ignored), amounts as plain decimals\n\
             CREATE OR REPLACE TEMPORARY VIEW {raw} USING csv OPTIONS (path 'ledger.csv', header 'true', multiLine 'true', escape '\"');\n\
             INSERT INTO {} SELECT key, policy,\n\
             \x20 CASE WHEN amount RLIKE '{}' THEN CAST(amount AS {LEDGER_AMOUNT}) ELSE raise_error(concat('ledger amount: cannot read ', coalesce(amount, 'an empty cell'))) END,\n\
             \x20 CAST(paid_on AS DATE)\n\
             FROM {raw};\n",
            table_name_in(d, l),
            plain(LEDGER_AMOUNT),
        );
    }
    out
}

/// The ledger's amounts in Spark: section-10 numbers with up to four
/// decimals (`1.005` counts exactly), never rounded to cents.
pub const LEDGER_AMOUNT: super::spark::Dec = super::spark::Dec { p: 18, s: 4 };

/// A plain decimal that a `DECIMAL(p, s)` holds exactly, as a regex.
fn plain(d: super::spark::Dec) -> String {
    let whole = (d.p - d.s).max(1);
    if d.s == 0 {
        format!("^-?[0-9]{{1,{whole}}}$")
    } else {
        format!("^-?[0-9]{{1,{whole}}}([.][0-9]{{1,{}}})?$", d.s)
    }
}
