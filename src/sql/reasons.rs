//! Reasons in SQL, worded exactly as `decisions.csv` writes them
//! ([`crate::eval::Reason`]'s text): labels, `values: field=value, …`,
//! `missing: field, …` and the notes.

use super::expr::{field_bit, ident, text, Ty};
use crate::eval::value::Why;
use crate::schema::{FieldType, Schema};

/// `ARRAY[…]::text[]` of SQL texts.
pub fn array(items: &[String]) -> String {
    format!("ARRAY[{}]::text[]", items.join(", "))
}

/// A field's value as [`crate::eval::value::show`] writes it: decimals
/// without trailing zeros, percents as `5.5%`, lists as `[a; b]`, a missing
/// value as `missing`.
pub fn show_field(schema: &Schema, firm: &str, i: usize) -> String {
    let Some(f) = schema.fields.get(i) else {
        return "'missing'".into();
    };
    let col = format!("{firm}.{}", ident(&f.name));
    let shown = match (&f.ty, Ty::of_field(&f.ty)) {
        (FieldType::Percent, _) => format!("trim_scale({col} * 100)::text || '%'"),
        (_, Ty::Num) => format!("trim_scale({col}::numeric)::text"),
        (_, Ty::Date) => format!("to_char({col}, 'YYYY-MM-DD')"),
        (_, Ty::Bool) => format!("CASE WHEN {col} THEN 'true' ELSE 'false' END"),
        (_, Ty::Text) => col.clone(),
        (_, Ty::List) => {
            return format!(
                "{} || '=[' || array_to_string(coalesce({col}, '{{}}'::text[]), '; ') || ']'",
                text(&f.name)
            )
        }
    };
    format!("{} || '=' || coalesce({shown}, 'missing')", text(&f.name))
}

/// `values: f=v, …` for fields known when the SQL is written.
pub fn values_static(schema: &Schema, firm: &str, fields: &[u16]) -> Option<String> {
    if fields.is_empty() {
        return None;
    }
    let parts: Vec<String> = fields
        .iter()
        .map(|&f| show_field(schema, firm, f as usize))
        .collect();
    Some(format!("'values: ' || {}", parts.join(" || ', ' || ")))
}

/// `values: f=v, …` for the fields in the `int[]` SQL `fields`, each once,
/// in order of first appearance.
pub fn values_dynamic(schema: &Schema, firm: &str, fields: &str) -> String {
    let mut case = String::from("CASE u.f");
    for i in 0..schema.fields.len() {
        case += &format!(" WHEN {i} THEN {}", show_field(schema, firm, i));
    }
    case += " END";
    format!(
        "(SELECT 'values: ' || string_agg({case}, ', ' ORDER BY u.pos) FROM (SELECT x.f, min(x.pos) AS pos FROM unnest({fields}) WITH ORDINALITY AS x(f, pos) GROUP BY x.f) u)"
    )
}

/// What a review lists after its labels: `missing: …` (the fields whose
/// bits are in the `bigint` SQL `w`, in schema order), then the notes in
/// the `integer` SQL `n` ([`crate::eval::missing_reasons`]).
pub fn missing(schema: &Schema, w: &str, n: &str) -> String {
    let names: Vec<String> = schema
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            format!(
                "CASE WHEN ({w}) & {} <> 0 THEN {} END",
                field_bit(i),
                text(&f.name)
            )
        })
        .collect();
    let names = format!("array_to_string(ARRAY[{}]::text[], ', ')", names.join(", "));
    format!(
        "array_remove(ARRAY[CASE WHEN {names} <> '' THEN 'missing: ' || {names} END, \
         CASE WHEN ({n}) & {} <> 0 THEN 'division by zero' END, \
         CASE WHEN ({n}) & {} <> 0 THEN 'arithmetic overflow' END, \
         CASE WHEN ({n}) & {} <> 0 THEN 'no prior payment' END]::text[], NULL)",
        Why::DIV_ZERO,
        Why::OVERFLOW,
        Why::NO_PAYMENT
    )
}
