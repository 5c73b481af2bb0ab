//! A batch run: every policy in force against every firm, then settlement.

use rayon::prelude::*;
use rust_decimal::Decimal;

use crate::date::Date;
use crate::eval::value::V;
use crate::eval::{self, Outcome};
use crate::program::{Allocation, Program};
use crate::settle::alloc::OrderValue;
use crate::settle::{self, BudgetNote, Firm, Pair};
use crate::value::Record;

/// What a run is asked to do.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The reference date (`as_of`); never the clock.
    pub as_of: Date,
    /// Keep `ineligible` decisions too (`--all`).
    pub all: bool,
}

/// Per-policy totals, as summary.csv lists them.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicySummary {
    pub id: String,
    pub title: String,
    pub in_force: bool,
    pub evaluated: u64,
    pub eligible: u64,
    pub ineligible: u64,
    pub review: u64,
    /// Sum of eligible amounts; `None` for a qualification-only or not-in-force policy.
    pub amount: Option<Decimal>,
    pub funded: Option<Decimal>,
    pub budget: Option<Decimal>,
    pub note: BudgetNote,
}

/// The result of a run: firms sorted by key, each with its decisions in policy
/// id order (only eligible and review ones unless `all`), and the totals.
#[derive(Clone, Debug)]
pub struct RunResult {
    pub firms: Vec<Firm>,
    pub summary: Vec<PolicySummary>,
}

/// Firms evaluated per parallel task; large enough to amortise scheduling.
const CHUNK: usize = 512;

/// Evaluates `records` (whose keys are unique) under `program`.
pub fn run(program: &Program, records: &[Record], opts: &RunOptions) -> RunResult {
    let in_force: Vec<bool> = program
        .policies
        .iter()
        .map(|p| p.in_force(opts.as_of))
        .collect();
    let mut firms: Vec<Firm> = records
        .par_chunks(CHUNK)
        .map(|chunk| {
            let mut defines = Vec::new();
            let mut lets = Vec::new();
            chunk
                .iter()
                .map(|r| evaluate_firm(program, &in_force, r, opts, &mut defines, &mut lets))
                .collect::<Vec<_>>()
        })
        .flatten_iter()
        .collect();
    firms.par_sort_unstable_by(|a, b| a.key.cmp(&b.key));
    let notes = settle::settle(program, &mut firms);
    let summary = summarize(program, &in_force, &firms, records.len() as u64, notes);
    if !opts.all {
        for f in &mut firms {
            f.pairs.retain(|p| p.outcome != Outcome::Ineligible);
        }
    }
    RunResult { firms, summary }
}

/// Evaluates every policy in force for one firm (no settlement).
pub fn evaluate_firm<'a>(
    program: &'a Program,
    in_force: &[bool],
    record: &'a Record,
    opts: &RunOptions,
    defines: &mut Vec<V<'a>>,
    lets: &mut Vec<V<'a>>,
) -> Firm {
    let cells = &record.cells;
    eval::defines(program, cells, opts.as_of, defines);
    let mut pairs = Vec::new();
    for (p, policy) in program.policies.iter().enumerate() {
        if !in_force.get(p).copied().unwrap_or(false) {
            continue;
        }
        let v = eval::verdict(policy, cells, opts.as_of, defines, lets);
        // ineligible pairs are kept (without reasons) so the totals can count
        // them; settlement may also turn eligible ones ineligible
        let reasons =
            if v.outcome == Outcome::Review || (v.outcome == Outcome::Ineligible && opts.all) {
                eval::reasons(policy, &program.schema, &v, cells)
            } else {
                Vec::new()
            };
        let mut pair = Pair {
            policy: p as u16,
            outcome: v.outcome,
            amount: v.amount,
            funded: None,
            reasons,
            limit_by: None,
            alloc_by: None,
        };
        if v.outcome == Outcome::Eligible {
            let env = eval::expr::Env {
                cells,
                as_of: opts.as_of,
                defines,
                lets,
            };
            if let Some(limit) = &policy.limit {
                pair.limit_by = order_value(env.eval(&limit.by));
            }
            if let Some(Allocation::By(by, _)) = &policy.allocate {
                pair.alloc_by = order_value(env.eval(by));
            }
        }
        pairs.push(pair);
    }
    Firm {
        key: record.key(program.schema.key),
        pairs,
    }
}

fn order_value(v: V<'_>) -> Option<OrderValue> {
    match v {
        V::Num(n) => Some(OrderValue::Num(n)),
        V::Date(d) => Some(OrderValue::Date(d)),
        _ => None,
    }
}

fn summarize(
    program: &Program,
    in_force: &[bool],
    firms: &[Firm],
    evaluated: u64,
    notes: Vec<BudgetNote>,
) -> Vec<PolicySummary> {
    let mut out: Vec<PolicySummary> = program
        .policies
        .iter()
        .zip(in_force)
        .zip(notes)
        .map(|((p, &force), note)| PolicySummary {
            id: p.id.clone(),
            title: p.title.clone(),
            in_force: force,
            evaluated: if force { evaluated } else { 0 },
            eligible: 0,
            ineligible: 0,
            review: 0,
            amount: (force && p.amount.is_some()).then_some(Decimal::ZERO),
            funded: (force && p.amount.is_some()).then_some(Decimal::ZERO),
            budget: p.budget.map(eval::cents),
            note,
        })
        .collect();
    for firm in firms {
        for pair in &firm.pairs {
            let Some(s) = out.get_mut(pair.policy as usize) else {
                continue;
            };
            match pair.outcome {
                Outcome::Eligible => {
                    s.eligible += 1;
                    if let (Some(total), Some(a)) = (&mut s.amount, pair.amount) {
                        *total = total.checked_add(a).unwrap_or(*total);
                    }
                    if let (Some(total), Some(f)) = (&mut s.funded, pair.funded) {
                        *total = total.checked_add(f).unwrap_or(*total);
                    }
                }
                Outcome::Review => s.review += 1,
                Outcome::Ineligible => s.ineligible += 1,
            }
        }
    }
    for s in &mut out {
        s.amount = s.amount.map(eval::cents);
        s.funded = s.funded.map(eval::cents);
    }
    out
}
