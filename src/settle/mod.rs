//! Stage 5: across firms (LANGUAGE.md section 7), in its order: exclusive
//! groups (within each firm), then `limit`, then budgets (across firms).

pub mod alloc;

use rust_decimal::Decimal;

use self::alloc::OrderValue;
use crate::eval::Outcome;
use crate::program::{Allocation, Policy, Program};

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

/// Whether a policy's eligible firms are settled across firms (a `limit` or
/// a `budget`); other policies pay every eligible firm its amount.
pub fn across_firms(policy: &Policy) -> bool {
    policy.limit.is_some() || policy.budget.is_some()
}

/// `exclusive "LABEL" { … } keep highest` for one firm's decisions (in policy
/// order), group after group as written. The decisions turned ineligible get
/// the group's label as their reason when `reasons` (a run without `--all`
/// drops them, so it asks for none).
pub fn exclusive(program: &Program, pairs: &mut [Pair], reasons: bool) {
    // runs for every firm: allocates nothing unless a decision changes
    fn eligible(pairs: &[Pair], policy: usize) -> Option<usize> {
        pairs
            .iter()
            .position(|pair| pair.policy as usize == policy && pair.outcome == Outcome::Eligible)
    }
    for group in &program.exclusives {
        let amounts = group.policies.iter().map(|&p| {
            eligible(pairs, p)
                .and_then(|i| pairs.get(i))
                .map(|pair| pair.amount.unwrap_or(Decimal::ZERO))
        });
        let Some(keep) = alloc::keep_highest_of(amounts) else {
            continue;
        };
        // a group lists a policy once (the checker sees to it), so turning
        // one decision ineligible does not move another's
        for (g, &p) in group.policies.iter().enumerate() {
            if g == keep {
                continue;
            }
            if let Some(pair) = eligible(pairs, p).and_then(|i| pairs.get_mut(i)) {
                make_ineligible(pair, reasons.then_some(group.label.as_str()));
            }
        }
    }
}

/// Turns a decision ineligible for a settlement reason.
pub fn make_ineligible(pair: &mut Pair, reason: Option<&str>) {
    pair.outcome = Outcome::Ineligible;
    pair.amount = None;
    pair.funded = None;
    pair.limit_by = None;
    pair.alloc_by = None;
    pair.reasons.clear();
    pair.reasons.extend(reason.map(str::to_string));
}

/// An eligible firm of a policy settled across firms.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    /// The firm's index in the run.
    pub firm: u32,
    pub amount: Option<Decimal>,
    pub limit_by: Option<OrderValue>,
    pub alloc_by: Option<OrderValue>,
}

/// What settlement decided for each candidate of one policy.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settlement {
    /// `false` for candidates cut by `limit` (now ineligible).
    pub kept: Vec<bool>,
    /// What each kept candidate is paid (None for no amount, or an allocation error).
    pub funded: Vec<Option<Decimal>>,
    pub note: BudgetNote,
}

/// `limit`, then the budget, for one policy's candidates held in memory;
/// `key` gives a firm's key for tie-breaks. Batch runs settle in bounded
/// memory with [`crate::batch::settle::settle`], which a property test holds
/// to this straightforward form.
// every index ranges over `0..candidates.len()`, and `kept` and `funded` are
// as long as `candidates`
#[allow(clippy::indexing_slicing)]
pub fn settle_policy<'k>(
    policy: &Policy,
    candidates: &[Candidate],
    key: impl Fn(u32) -> &'k str,
) -> Settlement {
    let mut kept = vec![true; candidates.len()];
    if let Some(limit) = &policy.limit {
        let items: Vec<(&str, Option<OrderValue>)> = candidates
            .iter()
            .map(|c| (key(c.firm), c.limit_by))
            .collect();
        kept = alloc::limit(&items, limit.n, limit.dir);
    }
    let mut note = BudgetNote::default();
    let mut funded: Vec<Option<Decimal>> = candidates
        .iter()
        .zip(&kept)
        .map(|(c, k)| c.amount.filter(|_| *k))
        .collect();
    let paid: Vec<usize> = (0..candidates.len())
        .filter(|&i| kept[i] && candidates[i].amount.is_some())
        .collect();
    let amounts: Vec<Decimal> = paid
        .iter()
        .map(|&i| candidates[i].amount.unwrap_or_default())
        .collect();
    let total = amounts
        .iter()
        .try_fold(Decimal::ZERO, |acc, a| acc.checked_add(*a));
    let shares: Result<Option<Vec<Decimal>>, String> = match (policy.budget, total) {
        (Some(_), None) => Err("the eligible amounts overflow when added up".into()),
        (Some(budget), Some(total)) if total > budget => {
            note.exceeded = true;
            match &policy.allocate {
                Some(Allocation::ProRata) => {
                    let items: Vec<(&str, Decimal)> = paid
                        .iter()
                        .zip(&amounts)
                        .map(|(&i, a)| (key(candidates[i].firm), *a))
                        .collect();
                    alloc::pro_rata(budget, &items)
                        .map(Some)
                        .map_err(|e| e.to_string())
                }
                Some(Allocation::By(_, dir)) => {
                    let items: Vec<(&str, Decimal, Option<OrderValue>)> = paid
                        .iter()
                        .zip(&amounts)
                        .map(|(&i, a)| (key(candidates[i].firm), *a, candidates[i].alloc_by))
                        .collect();
                    alloc::by_order(budget, &items, *dir)
                        .map(Some)
                        .map_err(|e| e.to_string())
                }
                None => {
                    note.overrun = true;
                    Ok(None)
                }
            }
        }
        _ => Ok(None),
    };
    match shares {
        Ok(Some(shares)) => {
            for (&i, s) in paid.iter().zip(shares) {
                funded[i] = Some(s);
            }
        }
        Ok(None) => {}
        Err(e) => {
            note.error = Some(e);
            for &i in &paid {
                funded[i] = None;
            }
        }
    }
    let funded = funded
        .into_iter()
        .map(|f| f.map(crate::eval::cents))
        .collect();
    Settlement { kept, funded, note }
}
