//! `exclusive` and `combined` groups whose policies are never in force on
//! the same day: the group can never apply, which usually means a year
//! was mistyped in a `valid` or the wrong policy id was listed.

use std::collections::HashMap;

use super::Warnings;
use crate::date::Date;
use crate::syntax::ast::{Ident, ItemKind, SourceFile, Span, TopItem};

pub(super) fn check(files: &[SourceFile], w: &mut Warnings<'_>) {
    let mut valid: HashMap<&str, (Date, Date)> = HashMap::new();
    for p in super::policies(files) {
        for i in &p.items {
            if let ItemKind::Valid(a, b) = &i.kind {
                valid.insert(p.id.name.as_str(), (a.date, b.date));
            }
        }
    }
    for f in files {
        for i in &f.items {
            let (kind, label, ids, span) = match i {
                TopItem::Exclusive(x) => ("exclusive", &x.label.value, &x.policies, x.span),
                TopItem::Combined(x) => ("combined", &x.label.value, &x.policies, x.span),
                _ => continue,
            };
            group(w, kind, label, ids, span, &valid);
        }
    }
}

fn group(
    w: &mut Warnings<'_>,
    kind: &str,
    label: &str,
    ids: &[Ident],
    span: Span,
    valid: &HashMap<&str, (Date, Date)>,
) {
    let periods: Vec<(&Ident, (Date, Date))> = ids
        .iter()
        .filter_map(|id| valid.get(id.name.as_str()).map(|v| (id, *v)))
        .collect();
    // a policy without `valid` is always in force and meets every other
    if periods.len() < ids.len() || periods.len() < 2 {
        return;
    }
    let overlaps = periods.iter().enumerate().any(|(i, (_, (a1, b1)))| {
        periods
            .iter()
            .skip(i + 1)
            .any(|(_, (a2, b2))| a1 <= b2 && a2 <= b1)
    });
    if overlaps {
        return;
    }
    let list: Vec<String> = periods
        .iter()
        .map(|(id, (a, b))| format!("{} {a} 至 {b}", id.name))
        .collect();
    w.warn(
        "lint::group-never-overlaps",
        span,
        format!(
            "`{kind} \"{label}\"` 的政策有效期互不重叠,这个组永远不起作用 (the policies are never in force together)"
        ),
        format!(
            "各政策的有效期:{};请检查 `valid` 的年份或列出的政策编号",
            list.join(";")
        ),
    );
}
