//! Conditions on an enum field that do not depend on the firm: `size in`
//! every value of `size` (always true, when the size is known), `size ==
//! "大型" and size == "小型"` (never true). Usually a value list copied
//! whole, or `and` written for `or`.

use std::collections::BTreeSet;

use super::Warnings;
use crate::ops::CmpOp;
use crate::schema::{FieldType, Schema};
use crate::syntax::ast::{Expr, ExprKind, SourceFile};

pub(super) fn check(files: &[SourceFile], schema: &Schema, w: &mut Warnings<'_>) {
    for e in super::roots(files) {
        visit(schema, e, w);
    }
}

/// Looks at `e` and below; a chain `a and b and c` is looked at once, whole.
fn visit(schema: &Schema, e: &Expr, w: &mut Warnings<'_>) {
    let below: Vec<&Expr> = match &e.kind {
        ExprKind::In {
            negated,
            item,
            list,
        } => {
            membership(schema, e, *negated, item, list, w);
            e.children()
        }
        ExprKind::And(..) | ExprKind::Or(..) => {
            let and = matches!(e.kind, ExprKind::And(..));
            let mut parts = Vec::new();
            chain(e, and, &mut parts);
            if and {
                conjunction(schema, e, &parts, w);
            } else {
                disjunction(schema, e, &parts, w);
            }
            parts
        }
        _ => e.children(),
    };
    for x in below {
        visit(schema, x, w);
    }
}

/// The enum field a name is, with its values.
fn enum_field<'s>(schema: &'s Schema, e: &Expr) -> Option<(&'s str, &'s [String])> {
    let ExprKind::Name(n) = &e.kind else {
        return None;
    };
    let f = schema.fields.get(schema.lookup(n)?)?;
    match &f.ty {
        FieldType::Enum(values) => Some((f.name.as_str(), values)),
        _ => None,
    }
}

/// `field == "value"` (either way round): the field and the value.
fn equals<'s>(schema: &'s Schema, e: &Expr) -> Option<(&'s str, &'s [String], String)> {
    let ExprKind::Compare(CmpOp::Eq, a, b) = &e.kind else {
        return None;
    };
    for (f, v) in [(a, b), (b, a)] {
        if let (Some((name, values)), ExprKind::Text(t)) = (enum_field(schema, f), &v.kind) {
            return Some((name, values, t.clone()));
        }
    }
    None
}

fn membership(
    schema: &Schema,
    e: &Expr,
    negated: bool,
    item: &Expr,
    list: &Expr,
    w: &mut Warnings<'_>,
) {
    let (Some((field, values)), ExprKind::List(items)) = (enum_field(schema, item), &list.kind)
    else {
        return;
    };
    let listed: BTreeSet<&str> = items
        .iter()
        .filter_map(|x| match &x.kind {
            ExprKind::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    if values.iter().all(|v| listed.contains(v.as_str())) {
        let (code, what) = if negated {
            ("lint::always-false", "永远不成立")
        } else {
            ("lint::always-true", "对所有企业都成立(只要有值)")
        };
        w.warn(
            code,
            e.span,
            format!(
                "这个条件列出了 `{field}` 的全部可选值,{what} (lists every value of `{field}`)"
            ),
            format!(
                "`{field}` 的可选值只有 {};是否多列了某个值?要判断是否有值请写 `{field} is {}`",
                values.join("、"),
                if negated { "missing" } else { "present" }
            ),
        );
    }
}

/// The operands of a chain of one operator, `a and b and c`.
fn chain<'e>(e: &'e Expr, and: bool, out: &mut Vec<&'e Expr>) {
    match &e.kind {
        ExprKind::And(a, b) if and => {
            chain(a, and, out);
            chain(b, and, out);
        }
        ExprKind::Or(a, b) if !and => {
            chain(a, and, out);
            chain(b, and, out);
        }
        _ => out.push(e),
    }
}

fn conjunction(schema: &Schema, e: &Expr, parts: &[&Expr], w: &mut Warnings<'_>) {
    let eqs: Vec<(&str, String)> = parts
        .iter()
        .filter_map(|p| equals(schema, p).map(|(f, _, v)| (f, v)))
        .collect();
    for (i, (f, v)) in eqs.iter().enumerate() {
        if let Some((_, other)) = eqs.iter().skip(i + 1).find(|(g, u)| g == f && u != v) {
            w.warn(
                "lint::always-false",
                e.span,
                format!(
                    "`{f}` 不可能既是 `{v}` 又是 `{other}`:这个条件永远不成立 (can never hold)"
                ),
                format!("是要写 `or` 吗?或写成 `{f} in [\"{v}\", \"{other}\"]`"),
            );
            return;
        }
    }
}

fn disjunction(schema: &Schema, e: &Expr, parts: &[&Expr], w: &mut Warnings<'_>) {
    let mut by_field: Vec<(&str, &[String], BTreeSet<String>)> = Vec::new();
    for p in parts {
        if let Some((f, values, v)) = equals(schema, p) {
            match by_field.iter_mut().find(|(g, _, _)| *g == f) {
                Some((_, _, seen)) => {
                    seen.insert(v);
                }
                None => by_field.push((f, values, BTreeSet::from([v]))),
            }
        }
    }
    for (f, values, seen) in by_field {
        if values.iter().all(|v| seen.contains(v)) {
            w.warn(
                "lint::always-true",
                e.span,
                format!(
                    "这些 `or` 覆盖了 `{f}` 的全部可选值,对所有企业都成立(只要有值) (covers every value of `{f}`)"
                ),
                format!("`{f}` 的可选值只有 {};是否多写了某个值?", values.join("、")),
            );
        }
    }
}
