//! `full * 40` where `full * 40%` was meant: money multiplied by a bare
//! number between 1 and 100 is 40 times the money, which no subsidy pays.

use std::collections::HashMap;

use rust_decimal::Decimal;

use super::Warnings;
use crate::ops::ArithOp;
use crate::schema::{FieldType, Schema};
use crate::syntax::ast::{Expr, ExprKind, ItemKind, NumKind, SourceFile, TopItem};

pub(super) fn check(files: &[SourceFile], schema: &Schema, w: &mut Warnings<'_>) {
    let mut defines = HashMap::new();
    for f in files {
        for i in &f.items {
            if let TopItem::Define(d) = i {
                defines.insert(d.name.name.as_str(), &d.expr);
            }
        }
    }
    for p in super::policies(files) {
        let mut money = Money {
            schema,
            defines: &defines,
            lets: HashMap::new(),
            depth: 0,
        };
        for item in &p.items {
            if let ItemKind::Let(name, e) = &item.kind {
                money.lets.insert(name.name.as_str(), e);
            }
        }
        for item in &p.items {
            for e in item.exprs() {
                e.walk(&mut |x| {
                    if let ExprKind::Arith(ArithOp::Mul, a, b) = &x.kind {
                        for (factor, other) in [(b, a), (a, b)] {
                            if percent_like(factor) && money.is_money(other) {
                                warn(factor, w);
                            }
                        }
                    }
                });
            }
        }
    }
}

/// A bare integer from 2 to 100: what a percent looks like without its `%`.
fn percent_like(e: &Expr) -> bool {
    matches!(e.kind, ExprKind::Number(v, NumKind::Integer | NumKind::Number)
        if v > Decimal::ONE && v <= Decimal::ONE_HUNDRED)
}

fn warn(factor: &Expr, w: &mut Warnings<'_>) {
    let ExprKind::Number(v, _) = factor.kind else {
        return;
    };
    w.warn_labelled(
        "lint::percent-without-sign",
        factor.span,
        format!("金额乘以 `{v}` 是 {v} 倍;要乘 {v}% 请写 `{v}%` (did you mean `{v}%`?)"),
        format!("写成 `{v}%`?"),
        format!(
            "`{v}%` 是 {}; 确实要乘 {v} 倍时,把这个数写成 `let` 并在标签里说明,或用 `// lint:allow percent-without-sign` 标明",
            (v / Decimal::ONE_HUNDRED).normalize()
        ),
    );
}

/// Which expressions give money, as far as the syntax tree tells.
struct Money<'a> {
    schema: &'a Schema,
    defines: &'a HashMap<&'a str, &'a Expr>,
    lets: HashMap<&'a str, &'a Expr>,
    /// Names followed so far, so a cycle (an error the checker reports)
    /// cannot loop.
    depth: usize,
}

impl Money<'_> {
    fn is_money(&mut self, e: &Expr) -> bool {
        if self.depth > 64 {
            return false;
        }
        match &e.kind {
            ExprKind::Number(_, NumKind::Money) => true,
            ExprKind::Name(n) => {
                if let Some(x) = self.lets.get(n.as_str()).or(self.defines.get(n.as_str())) {
                    let x: &Expr = x;
                    self.depth += 1;
                    let m = self.is_money(x);
                    self.depth -= 1;
                    return m;
                }
                self.schema
                    .lookup(n)
                    .and_then(|i| self.schema.fields.get(i))
                    .is_some_and(|f| f.ty == FieldType::Money)
            }
            ExprKind::Neg(x) => self.is_money(x),
            ExprKind::Arith(ArithOp::Div, a, b) => self.is_money(a) && !self.is_money(b),
            ExprKind::Arith(_, a, b) => self.is_money(a) || self.is_money(b),
            ExprKind::Call(f, _) if f.name == "paid" => true,
            ExprKind::Call(f, args) => {
                ["min", "max", "abs", "round", "floor", "coalesce"].contains(&f.name.as_str())
                    && args.first().is_some_and(|a| self.is_money(a))
            }
            ExprKind::If(_, a, b) => self.is_money(a) || self.is_money(b),
            ExprKind::When { arms, otherwise } => {
                arms.iter().any(|(_, v)| self.is_money(v))
                    || otherwise.as_deref().is_some_and(|o| self.is_money(o))
            }
            _ => false,
        }
    }
}
