//! The path an evaluation took, recorded as it happens when asked for
//! ([`super::expr::Env::traced`]): the branches of `if` and `when`, the rows
//! of `tiers`, the brackets of `progressive`, the arguments of `min`/`max`.
//! `explain` tells these steps; it never computes them again.

use std::cell::RefCell;

use rust_decimal::Decimal;

use super::value::V;
use crate::ops::CmpOp;
use crate::program::{Func, Ir};

/// One step of an evaluation's path.
#[derive(Clone, Debug)]
pub enum Step<'a> {
    /// `if COND` and what it gave.
    If { cond: &'a Ir, value: V<'a> },
    /// `when COND` of an arm and what it gave.
    When { cond: &'a Ir, value: V<'a> },
    /// The arm's value taken (what follows are its own steps).
    WhenTakes { expr: &'a Ir, value: V<'a> },
    /// No arm held: the `else` value taken.
    WhenElse { expr: &'a Ir, value: V<'a> },
    /// `tiers BASE` and its value.
    TiersOn { base: &'a Ir, value: V<'a> },
    /// One row compared: `OP BOUND : RESULT`, and whether it holds.
    TierRow {
        op: CmpOp,
        bound: V<'a>,
        result: &'a Ir,
        hit: V<'a>,
    },
    /// The row that held, and its value.
    TierTaken { value: V<'a> },
    /// No row held: the `else` row's value.
    TierElse { value: V<'a> },
    /// No row held and there is no `else` row: 0.
    TierNone,
    /// `progressive BASE` and its value.
    ProgressiveOn { base: &'a Ir, value: V<'a> },
    /// One bracket: from `floor` to `top` (none: above `floor`), the slice
    /// of the base in it, the rate, and their product (none: overflow).
    Bracket {
        floor: Decimal,
        top: Option<Decimal>,
        slice: Decimal,
        rate: Decimal,
        part: Option<Decimal>,
    },
    /// `paid(…)`/`last_paid(…)`: the payments counted (under those ids, on
    /// or before `as_of`) and the value.
    Paid {
        last: bool,
        ids: &'a [u16],
        payments: Vec<crate::data::ledger::Payment>,
        value: V<'a>,
    },
    /// `min`/`max` and each argument's value.
    MinMax {
        func: Func,
        args: Vec<(&'a Ir, V<'a>)>,
    },
}

/// Where steps are recorded. The steps of a `let` are kept when it is first
/// computed and told again wherever it is read, as its value is reused.
#[derive(Debug, Default)]
pub struct Trace<'a> {
    steps: RefCell<Vec<Step<'a>>>,
    lets: RefCell<Vec<Option<Vec<Step<'a>>>>>,
    /// Inside a `define`: its steps are not told (they are the schema's, not
    /// the policy's).
    quiet: std::cell::Cell<u32>,
}

impl<'a> Trace<'a> {
    pub(crate) fn push(&self, step: Step<'a>) -> usize {
        let mut steps = self.steps.borrow_mut();
        steps.push(step);
        steps.len() - 1
    }

    pub(crate) fn recording(&self) -> bool {
        self.quiet.get() == 0
    }

    /// Fills in the value of a step pushed before its value was known.
    pub(crate) fn set_value(&self, at: usize, v: V<'a>) {
        if let Some(step) = self.steps.borrow_mut().get_mut(at) {
            match step {
                Step::WhenTakes { value, .. } | Step::WhenElse { value, .. } => *value = v,
                Step::MinMax { args, .. } => {
                    if let Some(last) = args.last_mut() {
                        last.1 = v;
                    }
                }
                _ => {}
            }
        }
    }

    pub(crate) fn push_arg(&self, at: usize, arg: &'a Ir, v: V<'a>) {
        if let Some(Step::MinMax { args, .. }) = self.steps.borrow_mut().get_mut(at) {
            args.push((arg, v));
        }
    }

    /// Runs `f` with steps not told.
    pub(crate) fn hushed<T>(&self, f: impl FnOnce() -> T) -> T {
        self.quiet.set(self.quiet.get() + 1);
        let out = f();
        self.quiet.set(self.quiet.get().saturating_sub(1));
        out
    }

    /// Computes let `i` with its steps kept aside, for [`Trace::tell_let`].
    pub(crate) fn computing_let<T>(&self, i: usize, f: impl FnOnce() -> T) -> T {
        let outer = std::mem::take(&mut *self.steps.borrow_mut());
        let out = f();
        let own = std::mem::replace(&mut *self.steps.borrow_mut(), outer);
        let mut lets = self.lets.borrow_mut();
        if lets.len() <= i {
            lets.resize(i + 1, None);
        }
        if let Some(slot) = lets.get_mut(i) {
            *slot = Some(own);
        }
        out
    }

    /// Tells again the steps of let `i` where it is read.
    pub(crate) fn tell_let(&self, i: usize) {
        let lets = self.lets.borrow();
        if let Some(Some(own)) = lets.get(i) {
            self.steps.borrow_mut().extend(own.iter().cloned());
        }
    }

    /// The steps recorded so far, taken out (the next ones start afresh).
    pub fn take(&self) -> Vec<Step<'a>> {
        std::mem::take(&mut *self.steps.borrow_mut())
    }
}
