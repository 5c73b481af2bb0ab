//! Stage 4: one firm against one policy (LANGUAGE.md section 6).

pub mod expr;
mod reason;
pub mod shared;
pub mod trace;
pub mod value;

pub use reason::Reason;
pub(crate) use reason::LIMIT_STORED;

use rust_decimal::{Decimal, RoundingStrategy};

use self::expr::{Conditions, Scratch};
use self::value::{show, Why, V};
use crate::date::Date;
use crate::program::{ClauseKind, Policy, Program};
use crate::record::Cell;
use crate::schema::{FieldType, Schema};

/// The outcome of a firm under a policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    Eligible,
    Ineligible,
    /// 待核实: undecidable because of missing data.
    Review,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Eligible => "eligible",
            Outcome::Ineligible => "ineligible",
            Outcome::Review => "review",
        }
    }

    /// The outcome as officers call it (符合, 不符合, 待核实).
    pub fn chinese(self) -> &'static str {
        match self {
            Outcome::Eligible => "符合",
            Outcome::Ineligible => "不符合",
            Outcome::Review => "待核实",
        }
    }
}

/// The compact result of one firm under one policy, before settlement.
/// Clause sets are bit masks over the policy's clauses (at most 128).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Verdict {
    pub outcome: Outcome,
    /// For `eligible`: the amount after `cap` and rounding; `None` for a
    /// qualification-only policy.
    pub amount: Option<Decimal>,
    /// Clauses that failed (`require` false or `exclude` true).
    pub failed: u128,
    /// Clauses whose value was missing.
    pub missing: u128,
    /// The amount (or cap) was missing.
    pub amount_missing: bool,
    /// Why the missing clauses and amount were missing.
    pub why: Why,
    /// Eligible by its conditions, but the amount was 0 or less.
    pub no_payable: bool,
}

/// Evaluates one policy for one firm. `scratch` holds the firm's defines
/// (reset with [`Scratch::firm`] for each firm) and is reused for the lets.
/// Unless `thorough`, evaluation stops at the first failed condition (the
/// outcome is then known to be ineligible, but only that one reason is
/// listed).
pub fn verdict<'a>(
    program: &'a Program,
    policy: &'a Policy,
    cells: &'a [Cell],
    as_of: Date,
    scratch: &mut Scratch<'a>,
    thorough: bool,
) -> Verdict {
    scratch.policy(policy);
    let group = policy.same_conditions;
    let known = group.and_then(|g| scratch.conditions(g, thorough));
    let Conditions {
        failed,
        missing,
        why,
        ..
    } = match known {
        Some(c) => c,
        None => {
            let env = scratch.env(program, Some(policy), cells, as_of);
            let c = clauses(&env, policy, thorough);
            if let Some(g) = group {
                scratch.keep_conditions(g, c);
            }
            c
        }
    };
    let mut v = Verdict {
        outcome: Outcome::Ineligible,
        amount: None,
        failed,
        missing,
        amount_missing: false,
        why,
        no_payable: false,
    };
    if failed != 0 {
        return v;
    }
    let env = scratch.env(program, Some(policy), cells, as_of);
    let mut amount = None;
    if let Some(a) = &policy.amount {
        let value = env.eval(&a.expr);
        let value = match &a.cap {
            None => value,
            Some(c) => match (value, env.eval(c)) {
                (V::Num(x), V::Num(c)) => V::Num(x.min(c)),
                (V::Miss(x), V::Miss(y)) => V::Miss(x.merge(y)),
                (V::Miss(x), _) | (_, V::Miss(x)) => V::Miss(x),
                _ => V::Miss(Why::default()),
            },
        };
        match value {
            V::Num(x) => {
                amount = Some(x.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero))
            }
            V::Miss(w) => {
                v.amount_missing = true;
                v.why = v.why.merge(w);
            }
            _ => v.amount_missing = true,
        }
    }
    if missing != 0 || v.amount_missing {
        v.outcome = Outcome::Review;
        return v;
    }
    if let Some(x) = amount {
        if x <= Decimal::ZERO {
            v.no_payable = true;
            return v;
        }
    }
    v.outcome = Outcome::Eligible;
    v.amount = amount.map(cents);
    v
}

/// Whether a policy stating the same conditions as `policy` already failed
/// one for this firm (evaluated not thoroughly): its verdict is then
/// `ineligible` without evaluating anything.
#[inline]
pub fn known_to_fail(policy: &Policy, scratch: &Scratch<'_>) -> bool {
    policy
        .same_conditions
        .and_then(|g| scratch.conditions(g, false))
        .is_some_and(|c| c.failed != 0)
}

/// The policy's clauses in their order: which failed and which were
/// missing (and why). Unless `thorough`, the first failed clause ends it.
fn clauses<'a>(env: &expr::Env<'_, 'a>, policy: &'a Policy, thorough: bool) -> Conditions {
    let mut failed = 0u128;
    let mut missing = 0u128;
    let mut why = Why::default();
    // clause i's bit (the 128th and later share the last)
    let mut bit = 1u128;
    for (i, clause) in policy.clauses.iter().enumerate() {
        if i > 0 && i < 128 {
            bit <<= 1;
        }
        match env.eval(&clause.expr) {
            // a `require` fails when false, an `exclude` when true
            V::Bool(b) if b == (clause.kind == ClauseKind::Exclude) => {
                failed |= bit;
                if !thorough {
                    break;
                }
            }
            V::Bool(_) => {}
            V::Miss(w) => {
                missing |= bit;
                why = why.merge(w);
            }
            _ => missing |= bit,
        }
    }
    Conditions {
        failed,
        missing,
        why,
        thorough,
    }
}

/// A decimal with exactly two places (`60000` → `60000.00`).
pub fn cents(mut d: Decimal) -> Decimal {
    d.rescale(2);
    d
}

/// The reasons of a verdict, as decisions.csv lists them: clause labels, then
/// notes (`values: …`, `missing: …`, `division by zero`). `wide` tells the
/// verdict's [`Why`] again with the fields' bits counted from a base
/// ([`why_from`]); it is asked only when the schema has more fields than
/// `Why` has bits and one past them made the verdict `review`.
pub fn reasons(
    policy: &Policy,
    schema: &Schema,
    v: &Verdict,
    cells: &[Cell],
    wide: impl FnMut(u16) -> Why,
) -> Vec<Reason> {
    let mut out = Vec::new();
    let bit = |i: usize| 1u128 << (i as u32).min(127);
    match v.outcome {
        Outcome::Eligible => {}
        Outcome::Ineligible => {
            let mut fields: Vec<u16> = Vec::new();
            for (i, c) in policy.clauses.iter().enumerate() {
                if v.failed & bit(i) != 0 {
                    out.push(Reason::Failed(c.label.clone()));
                    for f in &c.fields {
                        if !fields.contains(f) {
                            fields.push(*f);
                        }
                    }
                }
            }
            if v.no_payable {
                out.push(Reason::NoPayableAmount);
                if let Some(a) = &policy.amount {
                    fields.extend(
                        a.fields
                            .iter()
                            .filter(|f| !fields.contains(f))
                            .collect::<Vec<_>>(),
                    );
                }
            }
            if !fields.is_empty() {
                out.push(Reason::Values(values_note(schema, &fields, cells)));
            }
        }
        Outcome::Review => {
            for (i, c) in policy.clauses.iter().enumerate() {
                if v.missing & bit(i) != 0 {
                    out.push(Reason::Undecided(c.label.clone()));
                }
            }
            if v.amount_missing {
                if let Some(a) = &policy.amount {
                    out.push(Reason::Undecided(a.label.clone()));
                }
            }
            out.extend(missing_reasons(schema, v.why, wide));
        }
    }
    out
}

/// Why a value is missing, as a review lists it: the fields whose missing
/// values caused it, then notes (division by zero, overflow, no prior
/// payment). `wide` tells the value's [`Why`] again with the fields' bits
/// counted from a base ([`missing_fields`]).
pub fn missing_reasons(schema: &Schema, why: Why, wide: impl FnMut(u16) -> Why) -> Vec<Reason> {
    let mut out = Vec::new();
    let names = missing_fields(schema, why, wide);
    if !names.is_empty() {
        out.push(Reason::Missing(names));
    }
    if why.notes & Why::DIV_ZERO != 0 {
        out.push(Reason::DivisionByZero);
    }
    if why.notes & Why::OVERFLOW != 0 {
        out.push(Reason::Overflow);
    }
    if why.notes & Why::NO_PAYMENT != 0 {
        out.push(Reason::NoPriorPayment);
    }
    out
}

/// The fields whose missing values caused a `review`, in schema order. The
/// first 63 fields have a bit each in `why`; the others share one, and when
/// it is set, `wide(base)` evaluates again with the bits counted from field
/// `base` (63, 126, …), so each field is told exactly, never guessed from
/// what the clause reads.
pub fn missing_fields(schema: &Schema, why: Why, mut wide: impl FnMut(u16) -> Why) -> Vec<String> {
    let bits = Why::OTHER_FIELDS_BIT as usize;
    let window = |why: Why, base: usize| {
        schema
            .fields
            .iter()
            .enumerate()
            .skip(base)
            .take(bits)
            .filter(move |(i, _)| why.has_field((i - base) as u16))
            .map(|(_, f)| f.name.clone())
    };
    let mut names: Vec<String> = window(why, 0).collect();
    if why.has_other_fields() {
        for base in (bits..schema.fields.len()).step_by(bits) {
            let Ok(at) = u16::try_from(base) else { break };
            names.extend(window(wide(at), base));
        }
    }
    names
}

/// The [`Why`] of `policy`'s verdict for a firm, evaluated again with the
/// fields' bits counted from field `base` ([`missing_fields`]).
pub fn why_from<'a>(
    program: &'a Program,
    policy: &'a Policy,
    cells: &'a [Cell],
    as_of: Date,
    payments: &'a [crate::data::ledger::Payment],
    base: u16,
) -> Why {
    let mut scratch = Scratch::default();
    scratch.firm(program);
    scratch.payments(payments);
    scratch.window(base);
    verdict(program, policy, cells, as_of, &mut scratch, true).why
}

/// `field=value, …` for the given fields of a record.
pub fn values_note(schema: &Schema, fields: &[u16], cells: &[Cell]) -> String {
    let parts: Vec<String> = fields
        .iter()
        .filter_map(|&f| {
            let field = schema.fields.get(f as usize)?;
            let v = expr::cell(cells, f);
            Some(format!(
                "{}={}",
                field.name,
                show(&v, field.ty == FieldType::Percent)
            ))
        })
        .collect();
    parts.join(", ")
}
