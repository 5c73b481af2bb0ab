//! Percents written without their `%`:
//!
//! - `full * 40` where `full * 40%` was meant: money multiplied by a bare
//!   number from 2 to 100 is 40 times the money, which no subsidy pays
//!   (`rnd * 1.5`, a 150% multiplier, and `rnd * 60 / 100`, 60%, are not
//!   warned);
//! - `layoff_rate <= 5.5` where `5.5%` was meant: a percent compared with a
//!   bare number over 1 compares it with more than 100%;
//! - `rnd / revenue >= 3` where `3%` was meant: the ratio of two amounts of
//!   money compared with a bare number from 2 to 100 (`revenue /
//!   revenue_prev >= 1.2`, a growth of 20%, is not warned).

use std::collections::HashMap;

use rust_decimal::Decimal;

use super::Warnings;
use crate::ops::ArithOp;
use crate::schema::{FieldType, Schema};
use crate::syntax::ast::{Expr, ExprKind, ItemKind, NumKind, SourceFile, Span, TopItem};

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
        let mut kinds = Kinds {
            schema,
            defines: &defines,
            lets: HashMap::new(),
            depth: 0,
        };
        for item in &p.items {
            if let ItemKind::Let(name, e) = &item.kind {
                kinds.lets.insert(name.name.as_str(), e);
            }
        }
        for item in &p.items {
            for e in item.exprs() {
                let scaled = scaled_factors(e);
                e.walk(&mut |x| match &x.kind {
                    ExprKind::Arith(ArithOp::Mul, a, b) => {
                        for (factor, other) in [(b, a), (a, b)] {
                            if bare(factor).is_some_and(times_like)
                                && !scaled.contains(&factor.span)
                                && kinds.kind(other) == Kind::Money
                            {
                                warn_times(factor, w);
                            }
                        }
                    }
                    ExprKind::Compare(_, a, b) => {
                        for (lit, other) in [(b, a), (a, b)] {
                            compared(lit, other, &mut kinds, w);
                        }
                    }
                    ExprKind::Between(x, lo, hi) => {
                        for lit in [lo, hi] {
                            compared(lit, x, &mut kinds, w);
                        }
                    }
                    ExprKind::Tiers { base, rows, .. } => {
                        for row in rows {
                            compared(&row.bound, base, &mut kinds, w);
                        }
                    }
                    _ => {}
                });
            }
        }
    }
}

/// The value of a bare number literal: no `%`, no `元`, no `万`-less money.
fn bare(e: &Expr) -> Option<Decimal> {
    match e.kind {
        ExprKind::Number(v, NumKind::Integer | NumKind::Number) => Some(v),
        _ => None,
    }
}

/// From 2 to 100: what a percent looks like without its `%` (a multiplier
/// of 1.5 is a legitimate 150%).
fn times_like(v: Decimal) -> bool {
    v >= Decimal::TWO && v <= Decimal::ONE_HUNDRED
}

/// The factors of `x * 60 / 100` and `x / 100 * 60`: divided by a bare
/// number at least as large, they make a share, not a multiple.
fn scaled_factors(e: &Expr) -> Vec<Span> {
    let mut out = Vec::new();
    let share = |f: &Expr, d: &Expr| match (bare(f), bare(d)) {
        (Some(f), Some(d)) => d > Decimal::ZERO && f <= d,
        _ => false,
    };
    e.walk(&mut |x| {
        let ExprKind::Arith(op, a, b) = &x.kind else {
            return;
        };
        match (op, &a.kind, &b.kind) {
            (ArithOp::Div, ExprKind::Arith(ArithOp::Mul, l, r), _) => {
                out.extend([l, r].into_iter().filter(|f| share(f, b)).map(|f| f.span));
            }
            (ArithOp::Mul, _, _) => {
                for (f, other) in [(b, a), (a, b)] {
                    if let ExprKind::Arith(ArithOp::Div, _, d) = &other.kind {
                        if share(f, d) {
                            out.push(f.span);
                        }
                    }
                }
            }
            _ => {}
        }
    });
    out
}

/// `lit` compared with `other`: a bare number where a percent was meant.
fn compared(lit: &Expr, other: &Expr, kinds: &mut Kinds<'_>, w: &mut Warnings<'_>) {
    let Some(v) = bare(lit) else {
        return;
    };
    let what = match kinds.kind(other) {
        Kind::Percent if v > Decimal::ONE => "百分比",
        Kind::Ratio if times_like(v) => "两项金额之比",
        _ => return,
    };
    let other_text = w.text(other.span);
    let times = (v * Decimal::ONE_HUNDRED).normalize();
    w.warn_labelled(
        "lint::percent-without-sign",
        lit.span,
        format!(
            "{what} `{other_text}` 和 `{v}` 比较,`{v}` 是 {times}%;要比 {v}% 请写 `{v}%` (`{v}` is {times}%: did you mean `{v}%`?)"
        ),
        format!("写成 `{v}%`?"),
        format!(
            "不带 `%` 的 `{v}` 是 {times}%;确实是 {times}% 时写成 `{times}%`,或用 `// lint:allow percent-without-sign` 标明"
        ),
    );
}

fn warn_times(factor: &Expr, w: &mut Warnings<'_>) {
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

/// What an expression gives, as far as the syntax tree tells.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Money,
    Percent,
    /// Money divided by money: a share written as a plain number.
    Ratio,
    Other,
}

struct Kinds<'a> {
    schema: &'a Schema,
    defines: &'a HashMap<&'a str, &'a Expr>,
    lets: HashMap<&'a str, &'a Expr>,
    /// Names followed so far, so a cycle (an error the checker reports)
    /// cannot loop.
    depth: usize,
}

impl Kinds<'_> {
    fn kind(&mut self, e: &Expr) -> Kind {
        if self.depth > 64 {
            return Kind::Other;
        }
        let of_either = |a: Kind, b: Kind| {
            if a == Kind::Money || b == Kind::Money {
                Kind::Money
            } else if a == Kind::Percent || b == Kind::Percent {
                Kind::Percent
            } else if a == Kind::Ratio && b == Kind::Ratio {
                Kind::Ratio
            } else {
                Kind::Other
            }
        };
        match &e.kind {
            ExprKind::Number(_, NumKind::Money) => Kind::Money,
            ExprKind::Number(_, NumKind::Percent) => Kind::Percent,
            ExprKind::Name(n) => {
                if let Some(x) = self.lets.get(n.as_str()).or(self.defines.get(n.as_str())) {
                    let x: &Expr = x;
                    self.depth += 1;
                    let k = self.kind(x);
                    self.depth -= 1;
                    return k;
                }
                match self
                    .schema
                    .lookup(n)
                    .and_then(|i| self.schema.fields.get(i))
                    .map(|f| &f.ty)
                {
                    Some(FieldType::Money) => Kind::Money,
                    Some(FieldType::Percent) => Kind::Percent,
                    _ => Kind::Other,
                }
            }
            ExprKind::Neg(x) => self.kind(x),
            ExprKind::Arith(ArithOp::Div, a, b) => match (self.kind(a), self.kind(b)) {
                (Kind::Money, Kind::Money) => Kind::Ratio,
                (Kind::Money, _) => Kind::Money,
                _ => Kind::Other,
            },
            ExprKind::Arith(ArithOp::Mul, a, b) => {
                if self.kind(a) == Kind::Money || self.kind(b) == Kind::Money {
                    Kind::Money
                } else {
                    Kind::Other
                }
            }
            ExprKind::Arith(_, a, b) => {
                let (a, b) = (self.kind(a), self.kind(b));
                of_either(a, b)
            }
            ExprKind::Call(f, _) if f.name == "paid" => Kind::Money,
            ExprKind::Call(f, args) => match args.first() {
                Some(a)
                    if ["min", "max", "abs", "round", "floor", "coalesce"]
                        .contains(&f.name.as_str()) =>
                {
                    self.kind(a)
                }
                _ => Kind::Other,
            },
            ExprKind::If(_, a, b) => {
                let (a, b) = (self.kind(a), self.kind(b));
                of_either(a, b)
            }
            ExprKind::When { arms, otherwise } => {
                let mut k = match otherwise.as_deref() {
                    Some(o) => self.kind(o),
                    None => Kind::Other,
                };
                for (_, v) in arms {
                    let kv = self.kind(v);
                    k = of_either(k, kv);
                }
                k
            }
            _ => Kind::Other,
        }
    }
}
