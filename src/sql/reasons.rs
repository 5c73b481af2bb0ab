//! Reasons in SQL, worded exactly as `decisions.csv` writes them
//! ([`crate::eval::Reason`]'s text): labels, `values: field=value, …`,
//! `missing: field, …` and the notes.

use super::dialect::Dialect;
use super::expr::{field_bit_in, Ty};
use crate::eval::value::Why;
use crate::schema::{FieldType, Schema};

/// An array of SQL texts.
pub fn array(d: Dialect, items: &[String]) -> String {
    d.texts(items)
}

/// A field's value as [`crate::eval::value::show`] writes it: decimals
/// without trailing zeros, percents as `5.5%`, lists as `[a; b]`, a missing
/// value as `missing`.
pub fn show_field(d: Dialect, schema: &Schema, firm: &str, i: usize) -> String {
    let Some(f) = schema.fields.get(i) else {
        return "'missing'".into();
    };
    let col = format!("{firm}.{}", d.ident(&f.name));
    let spark = d.is_spark();
    let shown = match (&f.ty, Ty::of_field(&f.ty)) {
        (FieldType::Percent, _) if spark => {
            format!("{} || '%'", d.trimmed(&format!("{col} * 100BD")))
        }
        (FieldType::Percent, _) => format!("trim_scale({col} * 100)::text || '%'"),
        (_, Ty::Num) if spark => d.trimmed(&col),
        (_, Ty::Num) => format!("trim_scale({col}::numeric)::text"),
        (_, Ty::Date) if spark => format!("CAST({col} AS STRING)"),
        (_, Ty::Date) => format!("to_char({col}, 'YYYY-MM-DD')"),
        (_, Ty::Bool) => format!("CASE WHEN {col} THEN 'true' ELSE 'false' END"),
        (_, Ty::Text) => col.clone(),
        (_, Ty::List) => {
            return format!(
                "{} || '=[' || {} || ']'",
                d.text(&f.name),
                d.join(&format!("coalesce({col}, {})", d.no_texts()), "'; '")
            )
        }
    };
    format!("{} || '=' || coalesce({shown}, 'missing')", d.text(&f.name))
}

/// `values: f=v, …` for fields known when the SQL is written.
pub fn values_static(d: Dialect, schema: &Schema, firm: &str, fields: &[u16]) -> Option<String> {
    if fields.is_empty() {
        return None;
    }
    let parts: Vec<String> = fields
        .iter()
        .map(|&f| show_field(d, schema, firm, f as usize))
        .collect();
    Some(format!("'values: ' || {}", parts.join(" || ', ' || ")))
}

/// `values: f=v, …` for the fields in the `int[]` SQL `fields`, each once,
/// in order of first appearance.
pub fn values_dynamic(d: Dialect, schema: &Schema, firm: &str, fields: &str) -> String {
    let var = if d.is_spark() { "x" } else { "u.f" };
    let mut case = format!("CASE {var}");
    for i in 0..schema.fields.len() {
        case += &format!(" WHEN {i} THEN {}", show_field(d, schema, firm, i));
    }
    case += " END";
    if d.is_spark() {
        // array_distinct keeps each field's first place
        return format!(
            "CASE WHEN size({fields}) > 0 THEN 'values: ' || array_join(transform(array_distinct({fields}), x -> {case}), ', ') END"
        );
    }
    format!(
        "(SELECT 'values: ' || string_agg({case}, ', ' ORDER BY u.pos) FROM (SELECT x.f, min(x.pos) AS pos FROM unnest({fields}) WITH ORDINALITY AS x(f, pos) GROUP BY x.f) u)"
    )
}

/// What a review lists after its labels: `missing: …` (the fields whose
/// bits are in the `bigint` SQL `w`, in schema order), then the notes in
/// the `integer` SQL `n` ([`crate::eval::missing_reasons`]).
pub fn missing(d: Dialect, schema: &Schema, w: &str, n: &str) -> String {
    let names: Vec<String> = schema
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            format!(
                "CASE WHEN ({w}) & {} <> 0 THEN {} END",
                field_bit_in(d, i),
                d.text(&f.name)
            )
        })
        .collect();
    let names = d.join(&d.texts(&names), "', '");
    let items = [
        format!("CASE WHEN {names} <> '' THEN 'missing: ' || {names} END"),
        format!(
            "CASE WHEN ({n}) & {} <> 0 THEN 'division by zero' END",
            Why::DIV_ZERO
        ),
        format!(
            "CASE WHEN ({n}) & {} <> 0 THEN 'arithmetic overflow' END",
            Why::OVERFLOW
        ),
        format!(
            "CASE WHEN ({n}) & {} <> 0 THEN 'no prior payment' END",
            Why::NO_PAYMENT
        ),
    ];
    d.without_nulls(&d.texts(&items))
}
