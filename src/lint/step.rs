//! `round(x, 0)` or `round(x, 2)` where `round(x, 0.01)` was meant: the
//! step of `round` and `floor` is a unit of money (0.01 for fen, 1 for
//! yuan, 1万 for ten thousand), not a number of decimal places as in
//! Excel's `ROUND(x, 2)`. A step of 0 makes every firm `review` (a
//! division by zero), a negative one turns `floor` into rounding up, and a
//! small whole step rounds to multiples of it.

use rust_decimal::Decimal;

use super::Warnings;
use crate::syntax::ast::{Expr, ExprKind, NumKind, SourceFile};

pub(super) fn check(files: &[SourceFile], w: &mut Warnings<'_>) {
    super::each_expr(files, &mut |e| {
        let ExprKind::Call(f, args) = &e.kind else {
            return;
        };
        if !matches!(f.name.as_str(), "round" | "floor") {
            return;
        }
        let Some(step) = args.get(1) else {
            return;
        };
        let Some(v) = literal(step) else {
            return;
        };
        let name = &f.name;
        let unit = format!(
            "步长是金额的单位,不是小数位数:保留到分写 `{name}(x, 0.01)`,到元写 `{name}(x, 1)`,到万元写 `{name}(x, 1万)`"
        );
        if v.is_zero() {
            w.warn_labelled(
                "lint::round-step",
                step.span,
                format!(
                    "`{name}` 的步长是 0: 每家企业都会因除以零而待核实 (a step of 0: a division by zero, every firm becomes review)"
                ),
                "步长应大于 0".into(),
                unit,
            );
        } else if v.is_sign_negative() {
            let does = if name == "floor" {
                "向上取整(与 floor 相反)".to_string()
            } else {
                format!("与步长 {} 相同", -v)
            };
            w.warn_labelled(
                "lint::round-step",
                step.span,
                format!(
                    "`{name}` 的步长是负数 {v}: 结果{does} (a negative step: floor rounds up, round is as with its absolute value)"
                ),
                "步长应大于 0".into(),
                unit,
            );
        } else if (2..=4).contains(&v.mantissa()) && v.scale() == 0 {
            w.warn_labelled(
                "lint::round-step",
                step.span,
                format!(
                    "`{name}(…, {v})` 按 {v} 元的整数倍取整,不是保留 {v} 位小数 (rounds to multiples of {v} yuan, not to {v} decimal places)"
                ),
                format!("保留 {v} 位小数?"),
                format!(
                    "步长是金额的单位:保留两位小数(到分)写 `{name}(x, 0.01)`;确实要按 {v} 元取整时,用 `// lint:allow round-step` 标明"
                ),
            );
        }
    });
}

/// The value of a step written as a plain number (`0`, `-1`, `2`): not a
/// money literal (`2元`), which says its unit.
fn literal(e: &Expr) -> Option<Decimal> {
    match &e.kind {
        ExprKind::Number(v, NumKind::Integer | NumKind::Number) => Some(*v),
        ExprKind::Neg(x) => literal(x).map(|v| -v),
        _ => None,
    }
}
