//! Ordering a text, an enum value or a boolean (`region >= "4201"`, `size <
//! "小型"`, a `tiers` row `>= "42"` on a text): the language allows it and
//! compares texts character by character (Unicode code points), so `"9"`
//! is greater than `"4201"` and enum values order by their characters, not
//! by the schema's list. Almost always `starts_with`, `in [...]` or a
//! number was meant.

use super::Warnings;
use crate::ops::CmpOp;
use crate::schema::{FieldType, Schema};
use crate::syntax::ast::{Expr, ExprKind, SourceFile};

pub(super) fn check(files: &[SourceFile], schema: &Schema, w: &mut Warnings<'_>) {
    for e in super::roots(files) {
        visit(schema, e, w);
    }
}

fn visit(schema: &Schema, e: &Expr, w: &mut Warnings<'_>) {
    match &e.kind {
        ExprKind::Compare(op, a, b) if *op != CmpOp::Eq && *op != CmpOp::Ne => {
            if let Some(kind) = ordered(schema, a).or_else(|| ordered(schema, b)) {
                warn(w, e, kind);
            }
        }
        ExprKind::Between(x, _, _) => {
            if let Some(kind) = ordered(schema, x) {
                warn(w, e, kind);
            }
        }
        ExprKind::Tiers { base, rows, .. } => {
            if let Some(kind) = ordered(schema, base) {
                if let Some(row) = rows.iter().find(|r| r.op != CmpOp::Eq) {
                    warn(w, &row.bound, kind);
                }
            }
        }
        _ => {}
    }
    for x in e.children() {
        visit(schema, x, w);
    }
}

/// The field `e` names, as written, when it is one that orders by
/// characters or as `false < true`.
fn ordered<'e>(schema: &Schema, e: &'e Expr) -> Option<(Kind, &'e str)> {
    let ExprKind::Name(n) = &e.kind else {
        return None;
    };
    let f = schema.fields.get(schema.lookup(n)?)?;
    let kind = match &f.ty {
        FieldType::Text => Kind::Text,
        FieldType::Enum(_) => Kind::Enum,
        FieldType::Bool => Kind::Bool,
        _ => return None,
    };
    Some((kind, n.as_str()))
}

#[derive(Clone, Copy)]
enum Kind {
    Text,
    Enum,
    Bool,
}

fn warn(w: &mut Warnings<'_>, e: &Expr, (kind, name): (Kind, &str)) {
    let (message, help) = match kind {
        Kind::Text => (
            "文字按字符逐个比较大小(Unicode 码点):\"9\" 大于 \"4201\",\"10\" 小于 \"9\" (texts order character by character)",
            format!("编码请用 `starts_with({name}, \"4201\")` 或 `in [...]`;确要比较时只比同样长度的编码,并在这一行上面写 `// lint:allow text-order`"),
        ),
        Kind::Enum => (
            "enum 值按字符比较大小,不是按 schema 中 values 的顺序 (enum values order by their characters, not by the schema's list)",
            format!("请列出要的取值:`{name} in [...]`"),
        ),
        Kind::Bool => (
            "真假值比较大小:false 在 true 之前 (booleans order false before true)",
            format!("直接写条件本身:`{name}` 或 `not {name}`"),
        ),
    };
    w.warn("lint::text-order", e.span, message.into(), help);
}
