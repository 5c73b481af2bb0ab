//! `tiers` rows no value can reach: the first matching row wins, so a row
//! whose condition an earlier row already covers never gives its result
//! (`>= 10万` above `>= 50万`), and a table written low to high pays
//! everyone the lowest tier.

use rust_decimal::Decimal;

use super::Warnings;
use crate::ops::CmpOp;
use crate::syntax::ast::{Expr, ExprKind, SourceFile, TierRow};

pub(super) fn check(files: &[SourceFile], w: &mut Warnings<'_>) {
    super::each_expr(files, &mut |e| {
        if let ExprKind::Tiers { rows, .. } = &e.kind {
            table(e, rows, w);
        }
    });
}

/// The constant a bound is written as (`50万`, `-3`, `5%`), if it is one.
pub(super) fn constant(e: &Expr) -> Option<Decimal> {
    match &e.kind {
        ExprKind::Number(v, _) => Some(*v),
        ExprKind::Neg(x) => constant(x).map(|v| -v),
        _ => None,
    }
}

/// Whether every value matching `later` also matches `earlier`.
fn covers(earlier: (CmpOp, Decimal), later: (CmpOp, Decimal)) -> bool {
    use CmpOp::*;
    let ((eo, a), (lo, b)) = (earlier, later);
    match (eo, lo) {
        (Ge, Ge | Gt) | (Le, Le | Lt) => match eo {
            Ge => b >= a,
            _ => b <= a,
        },
        (Ge, Eq) => b >= a,
        (Gt, Ge | Eq) => b > a,
        (Gt, Gt) => b >= a,
        (Le, Eq) => b <= a,
        (Lt, Le | Eq) => b < a,
        (Lt, Lt) => b <= a,
        (Eq, Eq) => a == b,
        _ => false,
    }
}

fn table(e: &Expr, rows: &[TierRow], w: &mut Warnings<'_>) {
    let consts: Vec<Option<(CmpOp, Decimal)>> = rows
        .iter()
        .map(|r| constant(&r.bound).map(|b| (r.op, b)))
        .collect();
    let unreachable: Vec<(usize, usize)> = consts
        .iter()
        .enumerate()
        .filter_map(|(j, later)| {
            let later = (*later)?;
            consts
                .get(..j)?
                .iter()
                .position(|earlier| earlier.is_some_and(|x| covers(x, later)))
                .map(|i| (j, i))
        })
        .collect();
    if unreachable.is_empty() {
        return;
    }
    // every row after the first is covered by the one before: written low
    // to high (or high to low for `<=`); one warning for the table
    let rising = rows.len() > 1 && unreachable.len() == rows.len() - 1;
    if rising {
        let first = rows.first().map(|r| r.op.symbol()).unwrap_or(">=");
        let order = if matches!(first, ">=" | ">") {
            "从高到低"
        } else {
            "从低到高"
        };
        w.warn_labelled(
            "lint::tiers-order",
            e.span,
            "`tiers` 的行顺序使第 2 行起的各行都不可能命中 (rows after the first can never match)"
                .into(),
            "按行从上到下取第一条命中的行".into(),
            format!(
                "`tiers` 取从上到下第一条成立的行;`{first}` 的行请按门槛{order}排列,否则所有企业都只得到第一行的结果"
            ),
        );
        return;
    }
    for (j, i) in unreachable {
        let Some(row) = rows.get(j) else {
            continue;
        };
        w.warn_labelled(
            "lint::unreachable-tier",
            row.span,
            format!(
                "`tiers` 的第 {} 行永远不会命中:第 {} 行已包含它 (this row can never match)",
                j + 1,
                i + 1
            ),
            "这一行不会被用到".into(),
            format!(
                "满足这一行的值都先满足第 {} 行;把这一行移到第 {} 行之前,或删去它",
                i + 1,
                i + 1
            ),
        );
    }
}
