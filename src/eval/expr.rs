//! Evaluating compiled expressions with three-valued logic (LANGUAGE.md
//! section 6): any operation on a missing value is missing, except `is
//! missing`, `is present`, `coalesce`, and `and`/`or` decided by one side.

use std::cmp::Ordering;

use rust_decimal::prelude::*;
use rust_decimal::RoundingStrategy;

use super::trace::{Step, Trace};
use super::value::{Why, V};
use crate::data::ledger::Payment;
use crate::date::Date;
use crate::ops::{ArithOp, CmpOp};
use crate::program::{Const, Define, Func, Ir, Let, Policy, Program};
use crate::record::Cell;

/// A `define` or `let` value, computed the first time it is read.
pub type Slot<'a> = std::cell::Cell<Option<V<'a>>>;

/// The lazily computed `define`s of one firm and `let`s of one policy,
/// reused from firm to firm so evaluation allocates nothing.
#[derive(Default)]
pub struct Scratch<'a> {
    defines: Vec<Slot<'a>>,
    lets: Vec<Slot<'a>>,
    payments: &'a [Payment],
    /// The first field with a bit of its own in [`Why`] (see
    /// [`Scratch::window`]).
    base: u16,
    /// The clauses' outcome of each group of policies stating the same
    /// conditions ([`Policy::same_conditions`]), once one of them was
    /// evaluated for the firm.
    conditions: Vec<Option<Conditions>>,
}

/// What a policy's clauses gave for a firm: the failed and missing clauses'
/// bits and why they were missing, as evaluated `thorough`ly or not.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conditions {
    pub failed: u128,
    pub missing: u128,
    pub why: Why,
    pub thorough: bool,
}

impl<'a> Scratch<'a> {
    /// Forgets the defines of the previous firm.
    pub fn firm(&mut self, program: &Program) {
        self.payments = &[];
        self.conditions.clear();
        self.defines.clear();
        self.defines
            .resize_with(program.defines.len(), Slot::default);
    }

    /// The firm's prior payments (after [`Scratch::firm`]), which `paid`
    /// and `last_paid` read.
    pub fn payments(&mut self, payments: &'a [Payment]) {
        self.payments = payments;
        self.conditions.clear();
    }

    /// Counts the fields' bits in [`Why`] from field `base` on: fields
    /// `base` to `base + 62` have a bit each, all others share the last.
    /// A schema of more fields than `Why` has bits is told exactly by
    /// evaluating again from each further `base` (a fresh scratch: the
    /// defines keep their `Why`).
    pub fn window(&mut self, base: u16) {
        self.base = base;
        self.conditions.clear();
    }

    /// The clauses' outcome already evaluated for this firm by a policy of
    /// group `slot`, evaluated as `thorough`ly.
    pub fn conditions(&self, slot: u16, thorough: bool) -> Option<Conditions> {
        self.conditions
            .get(slot as usize)
            .copied()
            .flatten()
            .filter(|c| c.thorough == thorough)
    }

    /// Keeps the clauses' outcome of group `slot` for the firm's other
    /// policies of the group.
    pub fn keep_conditions(&mut self, slot: u16, c: Conditions) {
        let i = slot as usize;
        if self.conditions.len() <= i {
            self.conditions.resize(i + 1, None);
        }
        if let Some(kept) = self.conditions.get_mut(i) {
            *kept = Some(c);
        }
    }

    /// Forgets the lets of the previous policy.
    pub fn policy(&mut self, policy: &Policy) {
        if self.lets.is_empty() && policy.lets.is_empty() {
            return;
        }
        self.lets.clear();
        self.lets.resize_with(policy.lets.len(), Slot::default);
    }

    /// An environment for expressions of `policy` (or of defines only).
    pub fn env<'e>(
        &'e self,
        program: &'a Program,
        policy: Option<&'a Policy>,
        cells: &'a [Cell],
        as_of: Date,
    ) -> Env<'e, 'a> {
        Env {
            cells,
            as_of,
            defines: &self.defines,
            define_exprs: &program.defines,
            lets: &self.lets,
            let_exprs: policy.map_or(&[], |p| &p.lets),
            payments: self.payments,
            trace: None,
            base: self.base,
        }
    }
}

/// What an expression can read: the record, the run date, and the `define`s
/// and `let`s (each computed once, when first read).
pub struct Env<'e, 'a> {
    pub cells: &'a [Cell],
    pub as_of: Date,
    pub defines: &'e [Slot<'a>],
    pub define_exprs: &'a [Define],
    pub lets: &'e [Slot<'a>],
    pub let_exprs: &'a [Let],
    /// The firm's prior payments, any date (`paid` counts those on or
    /// before `as_of`).
    pub payments: &'a [Payment],
    /// Where the path of evaluation is recorded, when it is (explain).
    pub trace: Option<&'e Trace<'a>>,
    /// The first field with a bit of its own ([`Scratch::window`]).
    pub base: u16,
}

pub fn constant(c: &Const) -> V<'_> {
    match c {
        Const::Bool(b) => V::Bool(*b),
        Const::Num(n) => V::Num(*n),
        Const::Date(d) => V::Date(*d),
        Const::Text(t) => V::Text(t),
    }
}

pub fn cell(cells: &[Cell], index: u16) -> V<'_> {
    match cells.get(index as usize) {
        Some(Cell::Bool(b)) => V::Bool(*b),
        Some(Cell::Num(n)) => V::Num(*n),
        Some(Cell::Date(d)) => V::Date(*d),
        Some(Cell::Text(t)) => V::Text(t),
        Some(Cell::List(l)) => V::List(l),
        Some(Cell::Missing) | None => V::Miss(Why::field(index)),
    }
}

fn overflow() -> V<'static> {
    V::Miss(Why::note(Why::OVERFLOW))
}

fn both<'a>(a: V<'a>, b: V<'a>) -> Result<(V<'a>, V<'a>), V<'a>> {
    match (a, b) {
        (V::Miss(x), V::Miss(y)) => Err(V::Miss(x.merge(y))),
        (V::Miss(x), _) | (_, V::Miss(x)) => Err(V::Miss(x)),
        pair => Ok(pair),
    }
}

pub fn arith<'a>(op: ArithOp, a: V<'a>, b: V<'a>) -> V<'a> {
    let (a, b) = match both(a, b) {
        Ok(p) => p,
        Err(m) => return m,
    };
    let (V::Num(x), V::Num(y)) = (a, b) else {
        return V::Miss(Why::default());
    };
    let r = match op {
        ArithOp::Add => x.checked_add(y),
        ArithOp::Sub => x.checked_sub(y),
        ArithOp::Mul => x.checked_mul(y),
        ArithOp::Div => {
            if y.is_zero() {
                return V::Miss(Why::note(Why::DIV_ZERO));
            }
            x.checked_div(y)
        }
    };
    r.map_or_else(overflow, V::Num)
}

/// Orders two decimals as `Decimal::cmp` does, without rescaling through
/// 96-bit arithmetic when the scales are equal or close (the usual case:
/// data with cents against whole thresholds).
#[inline]
pub fn cmp_num(a: &Decimal, b: &Decimal) -> Ordering {
    let (sa, sb) = (a.scale(), b.scale());
    if sa == sb {
        return a.mantissa().cmp(&b.mantissa());
    }
    // |mantissa| < 2^96, and 2^96 * 10^9 < 2^127: exact in i128
    const POW10: [i128; 10] = [
        1,
        10,
        100,
        1_000,
        10_000,
        100_000,
        1_000_000,
        10_000_000,
        100_000_000,
        1_000_000_000,
    ];
    match POW10.get(sa.abs_diff(sb) as usize) {
        // exact, as said: the overflow check of `*` (on in release builds)
        // would cost a call per comparison
        Some(p) if sa < sb => a.mantissa().wrapping_mul(*p).cmp(&b.mantissa()),
        Some(p) => a.mantissa().cmp(&b.mantissa().wrapping_mul(*p)),
        None => a.cmp(b),
    }
}

/// Orders two present values of comparable types.
fn order(a: &V<'_>, b: &V<'_>) -> Option<Ordering> {
    match (a, b) {
        (V::Num(x), V::Num(y)) => Some(cmp_num(x, y)),
        (V::Date(x), V::Date(y)) => Some(x.cmp(y)),
        (V::Text(x), V::Text(y)) => Some(x.cmp(y)),
        (V::Bool(x), V::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

pub fn compare<'a>(op: CmpOp, a: V<'a>, b: V<'a>) -> V<'a> {
    let (a, b) = match both(a, b) {
        Ok(p) => p,
        Err(m) => return m,
    };
    let Some(o) = order(&a, &b) else {
        return V::Miss(Why::default());
    };
    V::Bool(holds(op, o))
}

/// Whether `a OP b` holds given how `a` orders against `b`.
fn holds(op: CmpOp, o: Ordering) -> bool {
    match op {
        CmpOp::Eq => o == Ordering::Equal,
        CmpOp::Ne => o != Ordering::Equal,
        CmpOp::Lt => o == Ordering::Less,
        CmpOp::Le => o != Ordering::Greater,
        CmpOp::Gt => o == Ordering::Greater,
        CmpOp::Ge => o != Ordering::Less,
    }
}

/// Three-valued `and`: false if any side is false, missing if any is missing.
pub fn and<'a>(a: V<'a>, b: V<'a>) -> V<'a> {
    match (a, b) {
        (V::Bool(false), _) | (_, V::Bool(false)) => V::Bool(false),
        (V::Miss(x), V::Miss(y)) => V::Miss(x.merge(y)),
        (V::Miss(x), _) | (_, V::Miss(x)) => V::Miss(x),
        _ => V::Bool(true),
    }
}

/// Three-valued `or`: true if any side is true, missing if any is missing.
pub fn or<'a>(a: V<'a>, b: V<'a>) -> V<'a> {
    match (a, b) {
        (V::Bool(true), _) | (_, V::Bool(true)) => V::Bool(true),
        (V::Miss(x), V::Miss(y)) => V::Miss(x.merge(y)),
        (V::Miss(x), _) | (_, V::Miss(x)) => V::Miss(x),
        _ => V::Bool(false),
    }
}

/// `a == b`, short texts (an industry section, a grade: a byte or two)
/// compared in place rather than through `memcmp`.
#[inline]
fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    if a.len() <= 8 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    a == b
}

fn not(v: V<'_>) -> V<'_> {
    match v {
        V::Bool(b) => V::Bool(!b),
        other => other,
    }
}

impl<'e, 'a> Env<'e, 'a> {
    /// The same environment, recording its path into `trace`.
    pub fn traced(self, trace: &'e Trace<'a>) -> Env<'e, 'a> {
        Env {
            trace: Some(trace),
            ..self
        }
    }

    /// Records a step when tracing; returns where it went.
    fn step(&self, step: impl FnOnce() -> Step<'a>) -> Option<usize> {
        let t = self.trace.filter(|t| t.recording())?;
        Some(t.push(step()))
    }

    /// Field `index`, missing: its bit counted from [`Env::base`].
    fn missing(&self, index: u16) -> V<'a> {
        V::Miss(Why::field_from(index, self.base))
    }

    /// `field == value` (`!=` when `negated`) of a text constant, as the
    /// general comparison gives it: missing when the field is, missing
    /// without a cause when the cell is not a text.
    #[inline]
    fn eq_field_text(&self, negated: bool, field: u16, value: &str) -> V<'a> {
        match self.cells.get(field as usize) {
            Some(Cell::Text(t)) => V::Bool(same_text(t, value) != negated),
            Some(Cell::Missing) | None => self.missing(field),
            Some(_) => V::Miss(Why::default()),
        }
    }

    /// A cached value, computed from its expression on first use.
    fn slot(&self, slot: Option<&Slot<'a>>, expr: impl FnOnce() -> Option<&'a Ir>) -> V<'a> {
        let Some(slot) = slot else {
            return V::Miss(Why::default());
        };
        if let Some(v) = slot.get() {
            return v;
        }
        let v = expr().map_or(V::Miss(Why::default()), |e| self.eval(e));
        slot.set(Some(v));
        v
    }

    /// Evaluates `ir`. The commonest leaves (a field compared with a
    /// constant, a field, a constant, a define already computed) are taken
    /// here, small enough to be inlined into the callers; everything else
    /// goes to [`Env::eval_node`], whose frame is large.
    #[inline]
    pub fn eval(&self, ir: &'a Ir) -> V<'a> {
        match ir {
            Ir::CmpField { op, field, value } => self.cmp_field(*op, *field, value),
            Ir::EqFieldText {
                negated,
                field,
                value,
            } => self.eq_field_text(*negated, *field, value),
            Ir::Const(c) => constant(c),
            Ir::Field(i) => self.field(*i),
            Ir::Define(i) if self.trace.is_none() => {
                match self.defines.get(*i as usize).and_then(Slot::get) {
                    Some(v) => v,
                    None => self.eval_node(ir),
                }
            }
            _ => self.eval_node(ir),
        }
    }

    /// Field `index`'s value.
    #[inline]
    fn field(&self, index: u16) -> V<'a> {
        match cell(self.cells, index) {
            V::Miss(_) => self.missing(index),
            v => v,
        }
    }

    /// `field OP number`, as the general comparison gives it.
    #[inline]
    fn cmp_field(&self, op: CmpOp, field: u16, value: &Decimal) -> V<'a> {
        match self.cells.get(field as usize) {
            Some(Cell::Num(n)) => V::Bool(holds(op, cmp_num(n, value))),
            Some(Cell::Missing) | None => self.missing(field),
            Some(_) => V::Miss(Why::default()),
        }
    }

    /// [`Env::eval`] of any node.
    #[inline(never)]
    fn eval_node(&self, ir: &'a Ir) -> V<'a> {
        match ir {
            Ir::Const(c) => constant(c),
            Ir::Field(i) => self.field(*i),
            Ir::Let(i) => {
                let i = *i as usize;
                let slot =
                    || self.slot(self.lets.get(i), || self.let_exprs.get(i).map(|l| &l.expr));
                match self.trace {
                    None => slot(),
                    Some(t) => {
                        let computed = self.lets.get(i).is_some_and(|s| s.get().is_some());
                        let v = if computed {
                            slot()
                        } else {
                            t.computing_let(i, slot)
                        };
                        if t.recording() {
                            t.tell_let(i);
                        }
                        v
                    }
                }
            }
            Ir::Define(i) => {
                let i = *i as usize;
                let slot = || {
                    self.slot(self.defines.get(i), || {
                        self.define_exprs.get(i).map(|d| &d.expr)
                    })
                };
                match self.trace {
                    None => slot(),
                    Some(t) => t.hushed(slot),
                }
            }
            Ir::AsOf => V::Date(self.as_of),
            Ir::Neg(x) => match self.eval(x) {
                V::Num(n) => V::Num(-n),
                other => other,
            },
            Ir::Not(x) => not(self.eval(x)),
            Ir::Arith(op, a, b) => arith(*op, self.eval(a), self.eval(b)),
            Ir::And(a, b) => {
                let left = self.eval(a);
                if left == V::Bool(false) {
                    return left;
                }
                and(left, self.eval(b))
            }
            Ir::Or(a, b) => {
                let left = self.eval(a);
                if left == V::Bool(true) {
                    return left;
                }
                or(left, self.eval(b))
            }
            Ir::Cmp(op, a, b) => match (op, &**a, &**b) {
                // `field == "text"`: what the general comparison gives, without
                // building both values and ordering them
                (CmpOp::Eq | CmpOp::Ne, Ir::Field(field), Ir::Const(Const::Text(value))) => {
                    self.eq_field_text(*op == CmpOp::Ne, *field, value)
                }
                _ => compare(*op, self.eval(a), self.eval(b)),
            },
            Ir::EqFieldText {
                negated,
                field,
                value,
            } => self.eq_field_text(*negated, *field, value),
            Ir::CmpField { op, field, value } => self.cmp_field(*op, *field, value),
            // a comparison: missing when the item or any element is
            // (LANGUAGE.md section 6), whatever the other elements say
            Ir::InList {
                negated,
                item,
                list,
            } => {
                let mut why: Option<Why> = None;
                let mut miss = |v: &V<'a>| {
                    if let V::Miss(w) = v {
                        why = Some(why.unwrap_or_default().merge(*w));
                    }
                };
                let x = self.eval(item);
                miss(&x);
                let mut found = false;
                for el in list {
                    // a text constant against a text: equal or not (what
                    // `compare` gives, without building the constant's value)
                    if let (V::Text(t), Ir::Const(Const::Text(c))) = (x, el) {
                        found = found || same_text(t, c);
                        continue;
                    }
                    let e = self.eval(el);
                    miss(&e);
                    found = found || compare(CmpOp::Eq, x, e) == V::Bool(true);
                }
                match why {
                    Some(w) => V::Miss(w),
                    None => V::Bool(found != *negated),
                }
            }
            Ir::InValue {
                negated,
                item,
                list,
            } => {
                let r = match both(self.eval(item), self.eval(list)) {
                    Err(m) => m,
                    Ok((V::Text(t), V::List(l))) => V::Bool(l.iter().any(|s| s.as_ref() == t)),
                    Ok(_) => V::Miss(Why::default()),
                };
                if *negated {
                    not(r)
                } else {
                    r
                }
            }
            Ir::ListContains(a, b) => match both(self.eval(a), self.eval(b)) {
                Err(m) => m,
                Ok((V::List(l), V::Text(t))) => V::Bool(l.iter().any(|s| s.as_ref() == t)),
                Ok(_) => V::Miss(Why::default()),
            },
            Ir::TextContains(a, b) => match both(self.eval(a), self.eval(b)) {
                Err(m) => m,
                Ok((V::Text(s), V::Text(t))) => V::Bool(s.contains(t)),
                Ok(_) => V::Miss(Why::default()),
            },
            // a comparison: missing when any of its three values is
            // (LANGUAGE.md section 6), not decided by one bound alone
            Ir::Between(x, lo, hi) => {
                let x = self.eval(x);
                let (lo, hi) = (self.eval(lo), self.eval(hi));
                let low = compare(CmpOp::Le, lo, x);
                let high = compare(CmpOp::Le, x, hi);
                match (low, high) {
                    (V::Miss(a), V::Miss(b)) => V::Miss(a.merge(b)),
                    (V::Miss(a), _) | (_, V::Miss(a)) => V::Miss(a),
                    (V::Bool(a), V::Bool(b)) => V::Bool(a && b),
                    _ => V::Miss(Why::default()),
                }
            }
            Ir::IsMissing { present, expr } => {
                let missing = matches!(self.eval(expr), V::Miss(_));
                V::Bool(missing != *present)
            }
            Ir::If(c, a, b) => {
                let cv = self.eval(c);
                self.step(|| Step::If { cond: c, value: cv });
                match cv {
                    V::Bool(true) => self.eval(a),
                    V::Bool(false) => self.eval(b),
                    other => other,
                }
            }
            Ir::When(arms, otherwise) => {
                for (c, v) in arms {
                    let cv = self.eval(c);
                    self.step(|| Step::When { cond: c, value: cv });
                    match cv {
                        V::Bool(true) => {
                            let at = self.step(|| Step::WhenTakes {
                                expr: v,
                                value: V::Miss(Why::default()),
                            });
                            let value = self.eval(v);
                            if let (Some(t), Some(at)) = (self.trace, at) {
                                t.set_value(at, value);
                            }
                            return value;
                        }
                        V::Bool(false) => {}
                        other => return other,
                    }
                }
                let at = self.step(|| Step::WhenElse {
                    expr: otherwise,
                    value: V::Miss(Why::default()),
                });
                let value = self.eval(otherwise);
                if let (Some(t), Some(at)) = (self.trace, at) {
                    t.set_value(at, value);
                }
                value
            }
            Ir::Tiers {
                base,
                rows,
                otherwise,
            } => {
                let x = self.eval(base);
                self.step(|| Step::TiersOn { base, value: x });
                if let V::Miss(_) = x {
                    return x;
                }
                for (op, bound, result) in rows {
                    let bv = self.eval(bound);
                    let hit = compare(*op, x, bv);
                    self.step(|| Step::TierRow {
                        op: *op,
                        bound: bv,
                        result,
                        hit,
                    });
                    match hit {
                        V::Bool(true) => {
                            let value = self.eval(result);
                            self.step(|| Step::TierTaken { value });
                            return value;
                        }
                        V::Bool(false) => {}
                        other => return other,
                    }
                }
                match otherwise {
                    Some(o) => {
                        let value = self.eval(o);
                        self.step(|| Step::TierElse { value });
                        value
                    }
                    None => {
                        self.step(|| Step::TierNone);
                        V::Num(Decimal::ZERO)
                    }
                }
            }
            Ir::Progressive { base, rows } => self.progressive(base, rows),
            Ir::Call(f, args) => self.call(*f, args),
            Ir::Paid { last, ids } => {
                let value = self.paid(*last, ids);
                self.step(|| Step::Paid {
                    last: *last,
                    ids,
                    payments: self.counted(ids).copied().collect(),
                    value,
                });
                value
            }
        }
    }

    /// The payments `paid`/`last_paid` count: under one of `ids`, paid on
    /// or before `as_of`.
    pub fn counted(&self, ids: &'a [u16]) -> impl Iterator<Item = &'a Payment> + use<'a, '_> {
        let as_of = self.as_of;
        self.payments
            .iter()
            .filter(move |p| ids.contains(&p.id) && p.paid_on <= as_of)
    }

    /// `paid(…)`: the sum, 0 when none (never missing); `last_paid(…)`: the
    /// latest date, missing when none.
    fn paid(&self, last: bool, ids: &'a [u16]) -> V<'a> {
        if last {
            return self
                .counted(ids)
                .map(|p| p.paid_on)
                .max()
                .map_or(V::Miss(Why::note(Why::NO_PAYMENT)), V::Date);
        }
        let mut sum = Decimal::ZERO;
        for p in self.counted(ids) {
            match sum.checked_add(p.amount) {
                Some(s) => sum = s,
                None => return overflow(),
            }
        }
        V::Num(sum)
    }

    fn progressive(&self, base: &'a Ir, rows: &'a [(Option<Ir>, Ir)]) -> V<'a> {
        let xv = self.eval(base);
        self.step(|| Step::ProgressiveOn { base, value: xv });
        let x = match xv {
            V::Num(n) => n,
            other => return other,
        };
        let mut total = Decimal::ZERO;
        let mut floor = Decimal::ZERO;
        for (bound, rate) in rows {
            let top = match bound {
                Some(b) => match self.eval(b) {
                    V::Num(n) => Some(n),
                    other => return other,
                },
                None => None,
            };
            let rate = match self.eval(rate) {
                V::Num(n) => n,
                other => return other,
            };
            let upper = top.map_or(x, |t| x.min(t));
            // `floor` is never negative, so this cannot overflow (as
            // `upper - floor` could for a base near the negative limit)
            let slice = if upper > floor {
                upper - floor
            } else {
                Decimal::ZERO
            };
            let part = slice.checked_mul(rate);
            self.step(|| Step::Bracket {
                floor,
                top,
                slice,
                rate,
                part,
            });
            let Some(part) = part else {
                return overflow();
            };
            let Some(sum) = total.checked_add(part) else {
                return overflow();
            };
            total = sum;
            match top {
                Some(t) => floor = floor.max(t),
                None => break,
            }
        }
        V::Num(total)
    }

    fn call(&self, f: Func, args: &'a [Ir]) -> V<'a> {
        // the checker has verified each function's number of arguments; a
        // missing one reads as missing rather than panicking
        let arg = |i: usize| {
            args.get(i)
                .map_or(V::Miss(Why::default()), |a| self.eval(a))
        };
        match f {
            Func::Coalesce => {
                let mut why = Why::default();
                for a in args {
                    match self.eval(a) {
                        V::Miss(w) => why = why.merge(w),
                        v => return v,
                    }
                }
                V::Miss(why)
            }
            Func::Min | Func::Max => {
                let mut best: Option<V<'a>> = None;
                let mut why: Option<Why> = None;
                let at = self.step(|| Step::MinMax {
                    func: f,
                    args: Vec::new(),
                });
                for a in args {
                    if let (Some(t), Some(at)) = (self.trace, at) {
                        t.push_arg(at, a, V::Miss(Why::default()));
                    }
                    let v = self.eval(a);
                    if let (Some(t), Some(at)) = (self.trace, at) {
                        t.set_value(at, v);
                    }
                    if let V::Miss(w) = v {
                        why = Some(why.unwrap_or_default().merge(w));
                        continue;
                    }
                    best = Some(match best {
                        None => v,
                        Some(b) => {
                            let o = order(&v, &b).unwrap_or(Ordering::Equal);
                            let better = if f == Func::Min {
                                o == Ordering::Less
                            } else {
                                o == Ordering::Greater
                            };
                            if better {
                                v
                            } else {
                                b
                            }
                        }
                    });
                }
                match (why, best) {
                    (Some(w), _) => V::Miss(w),
                    (None, Some(b)) => b,
                    (None, None) => V::Miss(Why::default()),
                }
            }
            Func::Abs => match arg(0) {
                V::Num(n) => V::Num(n.abs()),
                other => other,
            },
            Func::Round | Func::Floor => {
                let (x, step) = match both(arg(0), arg(1)) {
                    Ok((V::Num(x), V::Num(s))) => (x, s),
                    Ok(_) => return V::Miss(Why::default()),
                    Err(m) => return m,
                };
                if step.is_zero() {
                    return V::Miss(Why::note(Why::DIV_ZERO));
                }
                let Some(q) = x.checked_div(step) else {
                    return overflow();
                };
                let q = if f == Func::Round {
                    q.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
                } else {
                    q.floor()
                };
                q.checked_mul(step).map_or_else(overflow, V::Num)
            }
            Func::StartsWith => match both(arg(0), arg(1)) {
                Ok((V::Text(s), V::Text(p))) => V::Bool(s.starts_with(p)),
                Ok(_) => V::Miss(Why::default()),
                Err(m) => m,
            },
            Func::YearsBetween | Func::MonthsBetween => match both(arg(0), arg(1)) {
                Ok((V::Date(a), V::Date(b))) => {
                    let n = if f == Func::YearsBetween {
                        a.years_until(b)
                    } else {
                        a.months_until(b)
                    };
                    V::Num(Decimal::from(n))
                }
                Ok(_) => V::Miss(Why::default()),
                Err(m) => m,
            },
            Func::Year => match arg(0) {
                V::Date(d) => V::Num(Decimal::from(d.year())),
                other => other,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cmp_num` agrees with `Decimal::cmp` on random decimals of every
    /// scale, sign and size, equal values written at different scales included.
    #[test]
    fn cmp_num_agrees_with_decimal_cmp() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let decimal = |next: &mut dyn FnMut() -> u64| {
            let size = next() % 4;
            let (lo, mid, hi) = match size {
                0 => (next() as u32 % 1000, 0, 0),
                1 => (next() as u32, 0, 0),
                2 => (next() as u32, next() as u32, 0),
                _ => (next() as u32, next() as u32, next() as u32),
            };
            let scale = (next() % 29) as u32;
            Decimal::from_parts(lo, mid, hi, next().is_multiple_of(2), scale)
        };
        for _ in 0..200_000 {
            let a = decimal(&mut next);
            let b = if next() % 4 == 0 {
                // the same value at another scale
                let mut c = a;
                c.rescale((a.scale() + (next() % 12) as u32).min(28));
                c
            } else {
                decimal(&mut next)
            };
            assert_eq!(cmp_num(&a, &b), a.cmp(&b), "{a} vs {b}");
            assert_eq!(cmp_num(&b, &a), b.cmp(&a), "{b} vs {a}");
        }
        let zero = Decimal::ZERO;
        let neg_zero = Decimal::from_parts(0, 0, 0, true, 3);
        assert_eq!(cmp_num(&zero, &neg_zero), Ordering::Equal);
    }

    /// `same_text` is `==` on texts of every length around its cut (8
    /// bytes), equal, differing in one byte, of other lengths, multibyte.
    #[test]
    fn same_text_is_equality() {
        let mut rng = crate::test_rng::Rng(0x5a3e_7e17);
        let alphabet = ["A", "B", "a", "企", "业", "0", " ", "\u{3000}"];
        for _ in 0..20_000 {
            let word = |rng: &mut crate::test_rng::Rng| -> String {
                (0..rng.below(12))
                    .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
                    .collect()
            };
            let a = word(&mut rng);
            let b = match rng.below(3) {
                0 => a.clone(),
                1 => {
                    let mut b = a.clone().into_bytes();
                    if let Some(x) = b.get_mut(rng.below(a.len() as u64 + 1) as usize) {
                        *x ^= 1;
                    }
                    String::from_utf8_lossy(&b).into_owned()
                }
                _ => word(&mut rng),
            };
            assert_eq!(same_text(&a, &b), a == b, "{a:?} {b:?}");
        }
    }

    /// The comparisons of a field with text constants (`industry == "C"`,
    /// `grade in ["A", "B"]`), taken without building the constants'
    /// values, give what the general comparison of both values gives: on
    /// random cells of every kind (missing, texts, numbers, yes/no, lists),
    /// with fields counted from several bases.
    #[test]
    fn text_comparisons_agree_with_the_general_comparison() {
        let mut rng = crate::test_rng::Rng(0x2545_f491_4f6c_dd1d);
        let texts = ["A", "B", "C", "", "AB", "a", "甲", "A "];
        let as_of = Date::parse_iso("2024-12-31").expect("a date");
        for _ in 0..20_000 {
            let cells: Vec<Cell> = (0..4)
                .map(|_| match rng.below(5) {
                    0 => Cell::Missing,
                    1 | 2 => Cell::Text(texts[rng.below(texts.len() as u64) as usize].into()),
                    3 => Cell::Num(Decimal::from(rng.below(3))),
                    _ => match rng.below(2) {
                        0 => Cell::Bool(true),
                        _ => Cell::List(Box::new(["A".into()])),
                    },
                })
                .collect();
            let field = rng.below(5) as u16; // one past the cells too
            let text = |rng: &mut crate::test_rng::Rng| {
                Ir::Const(Const::Text(
                    texts[rng.below(texts.len() as u64) as usize].into(),
                ))
            };
            let value = text(&mut rng);
            let n = rng.below(4);
            let mut list: Vec<Ir> = (0..n).map(|_| text(&mut rng)).collect();
            // an element that is not a text constant takes the general way
            if rng.below(3) == 0 {
                list.push(Ir::Field(rng.below(5) as u16));
            }
            let op = if rng.below(2) == 0 {
                CmpOp::Eq
            } else {
                CmpOp::Ne
            };
            let negated = rng.below(2) == 0;
            let fast = Ir::Cmp(op, Box::new(Ir::Field(field)), Box::new(value.clone()));
            let item = Ir::Field(field);
            let in_list = Ir::InList {
                negated,
                item: Box::new(item.clone()),
                list: list.clone(),
            };
            let env = Env {
                cells: &cells,
                as_of,
                defines: &[],
                define_exprs: &[],
                lets: &[],
                let_exprs: &[],
                payments: &[],
                trace: None,
                base: rng.below(3) as u16,
            };
            let plain = compare(op, env.eval(&item), env.eval(&value));
            assert_eq!(env.eval(&fast), plain, "{cells:?} {field} {op:?} {value:?}");
            let got = env.eval(&in_list);
            // the general comparison of every element
            let x = env.eval(&item);
            let mut why: Option<Why> = None;
            let mut found = false;
            for v in std::iter::once(x).chain(list.iter().map(|e| env.eval(e))) {
                if let V::Miss(w) = v {
                    why = Some(why.unwrap_or_default().merge(w));
                }
            }
            for e in &list {
                found = found || compare(CmpOp::Eq, x, env.eval(e)) == V::Bool(true);
            }
            let want = match why {
                Some(w) => V::Miss(w),
                None => V::Bool(found != negated),
            };
            assert_eq!(got, want, "{cells:?} {field} {list:?}");
        }
    }
}
