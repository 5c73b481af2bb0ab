//! Stage 5: across firms (LANGUAGE.md section 7), in its order: exclusive
//! groups (within each firm, here), then `limit`, then budgets (across
//! firms, [`streamed`], in bounded memory). The arithmetic of each step
//! (keep highest, limit order, pro-rata shares and their leftover cents,
//! by-order payments) is in [`alloc`], once; the streamed settlement calls it.

pub mod alloc;
pub mod streamed;

use rust_decimal::Decimal;

use self::alloc::OrderValue;
use crate::eval::{Outcome, Reason};
use crate::program::{Policy, Program};

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
    pub reasons: Vec<Reason>,
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
                make_ineligible(
                    pair,
                    reasons.then(|| Reason::Exclusive(group.label.clone())),
                );
            }
        }
    }
}

/// What a `combined` group's cap is for one firm: the amount (rounded to the
/// cent, at least 0), or why it is missing (the reasons a review lists).
pub type CapValue = Result<Decimal, Vec<Reason>>;

/// `combined "LABEL" { … } cap EXPR` for one firm's decisions, group after
/// group as written, each to the amounts the previous ones left
/// (LANGUAGE.md section 7 step 2). `cap` gives group `g`'s cap for the firm;
/// it is asked only when the firm has an eligible decision in the group.
/// Runs for every firm: allocates nothing unless a decision changes.
pub fn combined(program: &Program, pairs: &mut [Pair], mut cap: impl FnMut(usize) -> CapValue) {
    for (g, group) in program.combined.iter().enumerate() {
        // the firm's eligible decisions in the group, in the order listed
        // (a group lists a policy once, so changing one moves no other)
        let members = || group.policies.iter().filter_map(|&p| eligible(pairs, p));
        if members().next().is_none() {
            continue;
        }
        let mut left = match cap(g) {
            Ok(c) => c,
            Err(why) => {
                let members: Vec<usize> = members().collect();
                for i in members {
                    if let Some(pair) = pairs.get_mut(i) {
                        let undecided = Reason::CapUndecided {
                            label: group.label.clone(),
                            group: g,
                        };
                        decide(
                            pair,
                            Outcome::Review,
                            std::iter::once(undecided).chain(why.iter().cloned()),
                        );
                    }
                }
                continue;
            }
        };
        for &p in &group.policies {
            let Some(pair) = eligible(pairs, p).and_then(|i| pairs.get_mut(i)) else {
                continue;
            };
            let amount = pair.amount.unwrap_or(Decimal::ZERO);
            if amount <= left {
                left -= amount;
                continue;
            }
            // the reason is kept even when ineligible decisions are not
            // listed: the run's figures per group count what the cap took
            let reason = Reason::Combined {
                label: group.label.clone(),
                group: g,
                cut: amount - left,
            };
            if left > Decimal::ZERO {
                pair.amount = Some(left);
                pair.reasons.push(reason);
                left = Decimal::ZERO;
            } else {
                make_ineligible(pair, Some(reason));
            }
        }
    }
}

/// What one `combined` group's cap took across a run: the firms it cut,
/// the decisions it cut down or turned ineligible, and the money it took.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CapFigures {
    pub firms: u64,
    /// Decisions cut to what was left (still eligible).
    pub cut: u64,
    /// Decisions turned ineligible (nothing left, or cut to 0).
    pub zeroed: u64,
    /// The amounts taken, in yuan.
    pub amount: Decimal,
    /// Firms whose decisions in the group went to review: their cap could
    /// not be computed.
    pub review: u64,
}

impl CapFigures {
    /// Counts one firm's decisions: `(group, cut, eligible)` for each
    /// decision a group's cap shaped, the cut `None` when the cap could not
    /// be computed (a group's firm is counted once).
    pub fn count_firm(
        figures: &mut [CapFigures],
        seen: &mut Vec<bool>,
        shaped: impl Iterator<Item = (usize, Option<Decimal>, bool)>,
    ) {
        seen.clear();
        seen.resize(figures.len(), false);
        for (g, cut, eligible) in shaped {
            let (Some(f), Some(seen)) = (figures.get_mut(g), seen.get_mut(g)) else {
                continue;
            };
            let first = !std::mem::replace(seen, true);
            let Some(cut) = cut else {
                f.review += u64::from(first);
                continue;
            };
            if first {
                f.firms += 1;
            }
            if eligible {
                f.cut += 1;
            } else {
                f.zeroed += 1;
            }
            f.amount = f.amount.saturating_add(cut);
        }
    }

    /// Adds another part of the run's figures.
    pub fn merge(figures: &mut [CapFigures], other: &[CapFigures]) {
        for (f, o) in figures.iter_mut().zip(other) {
            f.firms += o.firms;
            f.cut += o.cut;
            f.zeroed += o.zeroed;
            f.review += o.review;
            f.amount = f.amount.saturating_add(o.amount);
        }
    }
}

/// Where the firm's eligible decision under policy `policy` is, if any.
fn eligible(pairs: &[Pair], policy: usize) -> Option<usize> {
    pairs
        .iter()
        .position(|pair| pair.policy as usize == policy && pair.outcome == Outcome::Eligible)
}

/// A combined group's cap as the firm's amounts see it: rounded to the cent
/// half away from zero; below 0 it is 0.
pub fn cap_amount(value: Decimal) -> Decimal {
    value
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
        .max(Decimal::ZERO)
}

/// Turns a decision ineligible for a settlement reason.
pub fn make_ineligible(pair: &mut Pair, reason: Option<Reason>) {
    decide(pair, Outcome::Ineligible, reason);
}

/// Gives a decision a new outcome without an amount, and its reasons.
fn decide(pair: &mut Pair, outcome: Outcome, reasons: impl IntoIterator<Item = Reason>) {
    pair.outcome = outcome;
    pair.amount = None;
    pair.funded = None;
    pair.limit_by = None;
    pair.alloc_by = None;
    pair.reasons.clear();
    pair.reasons.extend(reasons);
}
