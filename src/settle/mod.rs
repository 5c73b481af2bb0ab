//! Stage 5: across firms (LANGUAGE.md section 7), in its order: exclusive
//! groups, then `limit`, then budgets.

pub mod alloc;

use rust_decimal::Decimal;

use self::alloc::OrderValue;
use crate::eval::Outcome;
use crate::program::{Allocation, Program};

/// One (firm, policy) decision as settlement and the report see it.
#[derive(Clone, Debug, PartialEq)]
pub struct Pair {
    /// Index into `Program::policies`.
    pub policy: u16,
    pub outcome: Outcome,
    /// Eligible only: the amount (None for a qualification-only policy).
    pub amount: Option<Decimal>,
    /// Eligible only, set by settlement.
    pub funded: Option<Decimal>,
    pub reasons: Vec<String>,
    /// `limit … by EXPR` for this firm (eligible pairs of limited policies).
    pub limit_by: Option<OrderValue>,
    /// `allocate by EXPR` for this firm.
    pub alloc_by: Option<OrderValue>,
}

/// One firm's decisions, pairs in policy order.
#[derive(Clone, Debug, PartialEq)]
pub struct Firm {
    pub key: String,
    pub pairs: Vec<Pair>,
}

/// What settlement did to a policy's budget.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BudgetNote {
    /// Eligible amounts exceeded the budget.
    pub exceeded: bool,
    /// ... and there was no `allocate`, so everyone keeps the full amount.
    pub overrun: bool,
    /// The allocation could not be computed exactly (then funded is left empty).
    pub error: Option<String>,
}

/// The reason given to firms cut by `limit`.
pub const LIMIT_REASON: &str = "limit";

/// Applies section 7 to every firm's decisions; returns a note per policy.
pub fn settle(program: &Program, firms: &mut [Firm]) -> Vec<BudgetNote> {
    for group in &program.exclusives {
        exclusive(group.label.as_str(), &group.policies, firms);
    }
    let mut notes = vec![BudgetNote::default(); program.policies.len()];
    for (p, policy) in program.policies.iter().enumerate() {
        let p = p as u16;
        if let Some(limit) = &policy.limit {
            let slots = eligible_slots(firms, p);
            let items: Vec<(&str, Option<OrderValue>)> = slots
                .iter()
                .map(|&(f, i)| (firms[f].key.as_str(), firms[f].pairs[i].limit_by))
                .collect();
            let keep = alloc::limit(&items, limit.n, limit.dir);
            for (&(f, i), kept) in slots.iter().zip(keep) {
                if !kept {
                    make_ineligible(&mut firms[f].pairs[i], LIMIT_REASON);
                }
            }
        }
        let slots: Vec<(usize, usize)> = eligible_slots(firms, p)
            .into_iter()
            .filter(|&(f, i)| firms[f].pairs[i].amount.is_some())
            .collect();
        let amounts: Vec<Decimal> = slots
            .iter()
            .map(|&(f, i)| firms[f].pairs[i].amount.unwrap_or_default())
            .collect();
        let total = amounts
            .iter()
            .try_fold(Decimal::ZERO, |acc, a| acc.checked_add(*a));
        let funded: Result<Vec<Decimal>, String> = match (policy.budget, total) {
            (_, None) => Err("the eligible amounts overflow when added up".into()),
            (Some(budget), Some(total)) if total > budget => {
                notes[p as usize].exceeded = true;
                let keys: Vec<&str> = slots.iter().map(|&(f, _)| firms[f].key.as_str()).collect();
                match &policy.allocate {
                    Some(Allocation::ProRata) => {
                        let items: Vec<(&str, Decimal)> =
                            keys.iter().copied().zip(amounts.iter().copied()).collect();
                        alloc::pro_rata(budget, &items).map_err(|e| e.to_string())
                    }
                    Some(Allocation::By(_, dir)) => {
                        let items: Vec<(&str, Decimal, Option<OrderValue>)> = slots
                            .iter()
                            .zip(&amounts)
                            .map(|(&(f, i), a)| {
                                (firms[f].key.as_str(), *a, firms[f].pairs[i].alloc_by)
                            })
                            .collect();
                        alloc::by_order(budget, &items, *dir).map_err(|e| e.to_string())
                    }
                    None => {
                        notes[p as usize].overrun = true;
                        Ok(amounts.clone())
                    }
                }
            }
            _ => Ok(amounts.clone()),
        };
        match funded {
            Ok(funded) => {
                for (&(f, i), x) in slots.iter().zip(funded) {
                    firms[f].pairs[i].funded = Some(crate::eval::cents(x));
                }
            }
            Err(e) => notes[p as usize].error = Some(e),
        }
    }
    notes
}

/// `exclusive "LABEL" { … } keep highest` over every firm.
fn exclusive(label: &str, group: &[usize], firms: &mut [Firm]) {
    for firm in firms.iter_mut() {
        let slots: Vec<Option<usize>> = group
            .iter()
            .map(|&p| {
                firm.pairs
                    .iter()
                    .position(|pair| pair.policy as usize == p && pair.outcome == Outcome::Eligible)
            })
            .collect();
        let candidates: Vec<Option<Decimal>> = slots
            .iter()
            .map(|s| s.map(|i| firm.pairs[i].amount.unwrap_or(Decimal::ZERO)))
            .collect();
        if let Some(keep) = alloc::keep_highest(&candidates) {
            for (g, slot) in slots.iter().enumerate() {
                if let (Some(i), true) = (slot, g != keep) {
                    make_ineligible(&mut firm.pairs[*i], label);
                }
            }
        }
    }
}

fn make_ineligible(pair: &mut Pair, reason: &str) {
    pair.outcome = Outcome::Ineligible;
    pair.amount = None;
    pair.funded = None;
    pair.reasons = vec![reason.to_string()];
}

/// `(firm index, pair index)` of every eligible pair of policy `p`.
fn eligible_slots(firms: &[Firm], p: u16) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (f, firm) in firms.iter().enumerate() {
        if let Ok(i) = firm.pairs.binary_search_by_key(&p, |pair| pair.policy) {
            if firm.pairs[i].outcome == Outcome::Eligible {
                out.push((f, i));
            }
        }
    }
    out
}
