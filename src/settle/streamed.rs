//! Settlement across firms (LANGUAGE.md section 7) in bounded memory: a
//! policy's candidates are read in the order each step needs (`limit`
//! order, allocation order, key order), sorted by [`crate::batch::sort`], which
//! spills to disk beyond its limit. Its unit tests hold it to the plain
//! in-memory settlement of `tests/common/oracle.rs`.

use std::cmp::Ordering;
use std::path::PathBuf;

use rust_decimal::Decimal;

use crate::batch::sort::{
    key_heap, put_text, take_array, take_key, Item, Key, Order, Sorted, Sorter,
};
use crate::batch::Tally;
use crate::date::Date;
use crate::ops::Direction;
use crate::program::{Allocation, Policy};
use crate::settle::alloc::{self, AllocError, OrderValue};
use crate::settle::BudgetNote;

/// An eligible firm of a policy settled across firms.
#[derive(Clone, Debug, PartialEq)]
pub struct Cand {
    pub key: Key,
    /// The line of the firm's row: it tells apart rows of one key.
    pub line: u64,
    pub amount: Option<Decimal>,
    pub limit_by: Option<OrderValue>,
    pub alloc_by: Option<OrderValue>,
    /// Within the `limit` (set by settlement).
    pub kept: bool,
}

/// What settlement decided for one candidate.
#[derive(Clone, Debug, PartialEq)]
pub struct Paid {
    pub key: Key,
    pub line: u64,
    /// `false`: cut by `limit` (now ineligible).
    pub kept: bool,
    /// What it is paid (None for no amount, or an allocation error).
    pub funded: Option<Decimal>,
}

/// A pro-rata share before the cents left over are given out.
#[derive(Clone, Debug, PartialEq)]
struct Share {
    key: Key,
    line: u64,
    cents: i128,
    remainder: i128,
}

fn put_decimal(out: &mut Vec<u8>, d: Option<Decimal>) {
    match d {
        Some(d) => {
            out.push(1);
            out.extend_from_slice(&d.serialize());
        }
        None => out.push(0),
    }
}

fn take_decimal(bytes: &mut &[u8]) -> Option<Option<Decimal>> {
    match take_array::<1>(bytes)?[0] {
        0 => Some(None),
        _ => Some(Some(Decimal::deserialize(take_array(bytes)?))),
    }
}

fn put_value(out: &mut Vec<u8>, v: Option<OrderValue>) {
    match v {
        None => out.push(0),
        Some(OrderValue::Num(d)) => {
            out.push(1);
            out.extend_from_slice(&d.serialize());
        }
        Some(OrderValue::Date(d)) => {
            out.push(2);
            out.extend_from_slice(&d.year().to_le_bytes());
            out.push(d.month() as u8);
            out.push(d.day() as u8);
        }
    }
}

fn take_value(bytes: &mut &[u8]) -> Option<Option<OrderValue>> {
    match take_array::<1>(bytes)?[0] {
        0 => Some(None),
        1 => Some(Some(OrderValue::Num(Decimal::deserialize(take_array(
            bytes,
        )?)))),
        _ => {
            let year = i32::from_le_bytes(take_array(bytes)?);
            let [month, day] = take_array::<2>(bytes)?;
            Some(Some(OrderValue::Date(Date::new(
                year,
                month.into(),
                day.into(),
            )?)))
        }
    }
}

impl Item for Cand {
    fn encode(&self, out: &mut Vec<u8>) {
        put_text(out, &self.key);
        out.extend_from_slice(&self.line.to_le_bytes());
        put_decimal(out, self.amount);
        put_value(out, self.limit_by);
        put_value(out, self.alloc_by);
        out.push(self.kept.into());
    }

    fn decode(bytes: &mut &[u8]) -> Option<Self> {
        Some(Cand {
            key: take_key(bytes)?,
            line: u64::from_le_bytes(take_array(bytes)?),
            amount: take_decimal(bytes)?,
            limit_by: take_value(bytes)?,
            alloc_by: take_value(bytes)?,
            kept: take_array::<1>(bytes)?[0] != 0,
        })
    }

    fn heap(&self) -> usize {
        key_heap(&self.key)
    }
}

impl Item for Paid {
    fn encode(&self, out: &mut Vec<u8>) {
        put_text(out, &self.key);
        out.extend_from_slice(&self.line.to_le_bytes());
        out.push(self.kept.into());
        put_decimal(out, self.funded);
    }

    fn decode(bytes: &mut &[u8]) -> Option<Self> {
        Some(Paid {
            key: take_key(bytes)?,
            line: u64::from_le_bytes(take_array(bytes)?),
            kept: take_array::<1>(bytes)?[0] != 0,
            funded: take_decimal(bytes)?,
        })
    }

    fn heap(&self) -> usize {
        key_heap(&self.key)
    }
}

impl Item for Share {
    fn encode(&self, out: &mut Vec<u8>) {
        put_text(out, &self.key);
        out.extend_from_slice(&self.line.to_le_bytes());
        out.extend_from_slice(&self.cents.to_le_bytes());
        out.extend_from_slice(&self.remainder.to_le_bytes());
    }

    fn decode(bytes: &mut &[u8]) -> Option<Self> {
        Some(Share {
            key: take_key(bytes)?,
            line: u64::from_le_bytes(take_array(bytes)?),
            cents: i128::from_le_bytes(take_array(bytes)?),
            remainder: i128::from_le_bytes(take_array(bytes)?),
        })
    }

    fn heap(&self) -> usize {
        key_heap(&self.key)
    }
}

/// The orders candidates are read in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CandOrder {
    /// By key (then line).
    Key,
    /// `limit N by EXPR dir`: by value, missing last, then key.
    Limit(Direction),
    /// `allocate by EXPR dir`: likewise.
    Alloc(Direction),
}

impl CandOrder {
    /// The order a policy's candidates are first read in.
    pub fn first(policy: &Policy) -> CandOrder {
        match (&policy.limit, &policy.allocate) {
            (Some(l), _) => CandOrder::Limit(l.dir),
            (None, Some(Allocation::By(_, dir))) => CandOrder::Alloc(*dir),
            _ => CandOrder::Key,
        }
    }

    /// The order after `limit`: the allocation's.
    fn after_limit(policy: &Policy) -> CandOrder {
        match &policy.allocate {
            Some(Allocation::By(_, dir)) => CandOrder::Alloc(*dir),
            _ => CandOrder::Key,
        }
    }
}

fn by_key(a: &str, la: u64, b: &str, lb: u64) -> Ordering {
    a.cmp(b).then(la.cmp(&lb))
}

impl Order<Cand> for CandOrder {
    fn cmp(&self, a: &Cand, b: &Cand) -> Ordering {
        let value = match *self {
            CandOrder::Key => Ordering::Equal,
            CandOrder::Limit(dir) => alloc::compare(a.limit_by, b.limit_by, dir),
            CandOrder::Alloc(dir) => alloc::compare(a.alloc_by, b.alloc_by, dir),
        };
        value.then_with(|| by_key(&a.key, a.line, &b.key, b.line))
    }

    fn prefix(&self, c: &Cand) -> Option<u128> {
        match *self {
            CandOrder::Key => Some(crate::batch::prefix(&c.key)),
            CandOrder::Limit(dir) => Some(value_prefix(c.limit_by, dir)),
            CandOrder::Alloc(dir) => Some(value_prefix(c.alloc_by, dir)),
        }
    }
}

/// A number whose order agrees with [`alloc::compare`] where it differs:
/// missing values last, numbers before dates (after them in `desc`), and
/// within each a monotone image of the value (numbers to four decimals,
/// rounded down; equal images are told apart by the full comparison).
fn value_prefix(v: Option<OrderValue>, dir: Direction) -> u128 {
    let (class, image) = match v {
        None => return 3 << 64,
        Some(OrderValue::Num(d)) => (0u128, fixed4(d)),
        Some(OrderValue::Date(d)) => {
            // year, month and day in order; years never near the bounds
            let days =
                (i64::from(d.year()) << 9) | (i64::from(d.month()) << 5) | i64::from(d.day());
            (1, days)
        }
    };
    // as unsigned, in the same order
    let image = (image as u64) ^ (1 << 63);
    match dir {
        Direction::Asc => (class << 64) | u128::from(image),
        Direction::Desc => ((1 - class) << 64) | u128::from(!image),
    }
}

/// `d` × 10⁴ rounded down, within `i64` (saturated): monotone in `d`.
fn fixed4(d: Decimal) -> i64 {
    let (m, scale) = (d.mantissa(), d.scale());
    let v = if scale <= 4 {
        // a mantissa of 96 bits times 10⁴ fits
        m * 10i128.pow(4 - scale)
    } else {
        m.div_euclid(10i128.pow(scale - 4))
    };
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// Key order (then line).
#[derive(Clone, Copy, Debug)]
pub struct ByKey;

impl Order<Paid> for ByKey {
    fn cmp(&self, a: &Paid, b: &Paid) -> Ordering {
        by_key(&a.key, a.line, &b.key, b.line)
    }

    fn prefix(&self, p: &Paid) -> Option<u128> {
        Some(crate::batch::prefix(&p.key))
    }
}

/// Largest remainder first, ties by key.
struct ByRemainder;

impl Order<Share> for ByRemainder {
    fn cmp(&self, a: &Share, b: &Share) -> Ordering {
        alloc::remainder_first(a.remainder, b.remainder)
            .then_with(|| by_key(&a.key, a.line, &b.key, b.line))
    }
}

/// The firms taken out, `(key, line)`, held in a table to look each
/// candidate up in, when they are few enough ([`GoneSet::of`]).
pub struct GoneSet(hashbrown::HashSet<(Key, u64), foldhash::fast::FixedState>);

impl GoneSet {
    /// The firms of `gone` in a table, when it takes at most `budget` bytes
    /// (`None` otherwise: [`without`] then goes through `gone` in key order).
    pub fn of(
        gone: &Sorted<crate::batch::FirmEntry, ByKey>,
        budget: usize,
    ) -> std::io::Result<Option<GoneSet>> {
        // a table slot per entry and as many spare, with each key's own bytes
        let slot = 2 * std::mem::size_of::<(Key, u64)>() as u64;
        if gone.len().saturating_mul(slot + 16) > budget as u64 {
            return Ok(None);
        }
        let mut set = hashbrown::HashSet::with_capacity_and_hasher(
            usize::try_from(gone.len()).unwrap_or(0),
            foldhash::fast::FixedState::default(),
        );
        for f in gone.iter() {
            let f = f?;
            set.insert((f.key.clone(), f.line));
        }
        Ok(Some(GoneSet(set)))
    }

    fn holds(&self, c: &Cand) -> bool {
        self.0.contains(&(c.key.clone(), c.line))
    }
}

/// The candidates without the firms taken out (`gone`, in key order; `set`,
/// the same firms in a table, if they fit in one). With the table and the
/// candidates all in memory they are dropped where they are, without a sort;
/// else the candidates are read in key order beside `gone` and gathered
/// again. The order being total, both give the same candidates in the same
/// order once sorted.
pub fn without(
    policy: &Policy,
    mut cands: Sorter<Cand, CandOrder>,
    gone: &Sorted<crate::batch::FirmEntry, ByKey>,
    set: Option<&GoneSet>,
    room: &Room,
    limit: usize,
) -> std::io::Result<Sorter<Cand, CandOrder>> {
    if let Some(set) = set {
        if cands.retain_held(|c| !set.holds(c)) {
            return Ok(cands);
        }
    }
    let first = cands.finish();
    // in key order, to pass over the firms gone as they come
    let by_key = if CandOrder::first(policy) == CandOrder::Key {
        first
    } else {
        let mut s = Sorter::new("candidates", CandOrder::Key, room.limit, room.dir.clone());
        for c in first.iter() {
            s.push(c?.into_owned())?;
        }
        s.finish()
    };
    let mut out = Sorter::new(
        "candidates",
        CandOrder::first(policy),
        limit,
        room.dir.clone(),
    );
    let mut skip = crate::batch::Skip::new(gone.iter());
    for c in by_key.iter() {
        let c = c?;
        if !skip.skips(&c.key, c.line)? {
            out.push(c.into_owned())?;
        }
    }
    Ok(out)
}

/// Where settlement keeps what it sorts.
#[derive(Clone, Debug)]
pub struct Room {
    pub dir: Option<PathBuf>,
    /// Bytes each sort holds before spilling.
    pub limit: usize,
}

/// One policy settled.
pub struct Settlement {
    /// Every candidate's result, in key order.
    pub paid: Sorted<Paid, ByKey>,
    pub note: BudgetNote,
    /// The policy's totals with its candidates added (those kept, their
    /// amounts and what they are paid), from the totals of its other firms.
    pub eligible: u64,
    pub amount: Decimal,
    pub funded: Decimal,
    pub overflow: bool,
}

/// How the budget is shared out, once the kept candidates are known.
enum Plan {
    /// Every kept candidate gets its amount.
    Amounts,
    /// The allocation failed: kept candidates with an amount get nothing.
    Fail(String),
    ByOrder {
        budget: i128,
    },
    ProRata {
        budget: i128,
        total: i128,
    },
}

/// What the kept candidates with an amount add up to.
struct Paying {
    /// Their sum (None once it overflows).
    total: Option<Decimal>,
    /// The first (by line) whose amount cannot be shared out in cents.
    bad: Option<(u64, AllocError)>,
    /// Their sum in cents, and the largest, while every one is whole cents.
    cents: Option<i128>,
    largest: i128,
}

impl Paying {
    fn new() -> Paying {
        Paying {
            total: Some(Decimal::ZERO),
            bad: None,
            cents: Some(0),
            largest: 0,
        }
    }

    fn add(&mut self, c: &Cand) {
        self.add_kept(c, c.kept);
    }

    /// Adds `c` as if its `kept` were `kept`.
    fn add_kept(&mut self, c: &Cand, kept: bool) {
        let Some(amount) = c.amount.filter(|_| kept) else {
            return;
        };
        self.total = self.total.and_then(|t| t.checked_add(amount));
        match alloc::amount_cents(&c.key, amount) {
            Ok(cents) => {
                self.cents = self.cents.and_then(|t| t.checked_add(cents));
                self.largest = self.largest.max(cents);
            }
            Err(e) => {
                if self.bad.as_ref().is_none_or(|(line, _)| c.line < *line) {
                    self.bad = Some((c.line, e));
                }
            }
        }
    }

    fn plan(self, policy: &Policy, note: &mut BudgetNote) -> Plan {
        let Some(budget) = policy.budget else {
            return Plan::Amounts;
        };
        let Some(total) = self.total else {
            return Plan::Fail("the eligible amounts overflow when added up".into());
        };
        if total <= budget {
            return Plan::Amounts;
        }
        note.exceeded = true;
        let Some(how) = &policy.allocate else {
            note.overrun = true;
            return Plan::Amounts;
        };
        let budget = match alloc::budget_cents(budget) {
            Ok(b) => b,
            Err(e) => return Plan::Fail(e.to_string()),
        };
        if let Some((_, e)) = self.bad {
            return Plan::Fail(e.to_string());
        }
        let Some(total) = self.cents else {
            return Plan::Fail(AllocError::TooLarge.to_string());
        };
        if total <= budget {
            // every amount is paid, written with two decimals
            return match money(self.largest) {
                Some(_) => Plan::Amounts,
                None => Plan::Fail(AllocError::TooLarge.to_string()),
            };
        }
        match how {
            Allocation::By(..) => Plan::ByOrder { budget },
            Allocation::ProRata => {
                if self.largest.checked_mul(budget).is_none() {
                    Plan::Fail(AllocError::TooLarge.to_string())
                } else {
                    Plan::ProRata { budget, total }
                }
            }
        }
    }
}

/// The summary's sums over the candidates, from the policy's other totals.
struct Sums {
    eligible: u64,
    amount: Decimal,
    funded: Decimal,
    overflow: bool,
}

impl Sums {
    /// A candidate kept, with its amount.
    fn kept(&mut self, amount: Option<Decimal>) {
        self.eligible += 1;
        if let Some(a) = amount {
            match self.amount.checked_add(a) {
                Some(s) => self.amount = s,
                None => self.overflow = true,
            }
        }
    }

    /// What a kept candidate is paid.
    fn funded(&mut self, funded: Option<Decimal>) {
        if let Some(f) = funded {
            match self.funded.checked_add(f) {
                Some(s) => self.funded = s,
                None => self.overflow = true,
            }
        }
    }
}

fn money(cents: i128) -> Option<Decimal> {
    Decimal::try_from_i128_with_scale(cents, 2).ok()
}

/// `limit`, then the budget, for one policy's candidates (read in
/// [`CandOrder::first`] order). `tally` holds the policy's totals over its
/// other firms.
pub fn settle(
    policy: &Policy,
    cands: Sorted<Cand, CandOrder>,
    tally: &Tally,
    room: &Room,
) -> std::io::Result<Settlement> {
    let mut paying = Paying::new();
    // `limit`: the first N in its order are kept; the rest are cut
    let cands = match &policy.limit {
        Some(limit) => {
            let mut next = Sorter::new(
                "candidates",
                CandOrder::after_limit(policy),
                room.limit,
                room.dir.clone(),
            );
            let mut kept = 0u64;
            for c in cands.iter() {
                let mut c = c?.into_owned();
                c.kept = kept < limit.n;
                kept += u64::from(c.kept);
                paying.add(&c);
                next.push(c)?;
            }
            drop(cands);
            next.finish()
        }
        None => {
            for c in cands.iter() {
                paying.add_kept(&*c?, true);
            }
            cands
        }
    };
    let mut note = BudgetNote::default();
    let mut plan = paying.plan(policy, &mut note);
    let (paid, sums) = match pay(policy, &cands, tally, room, &plan)? {
        Some(done) => done,
        None => {
            // a share does not fit in a decimal with two places: the
            // allocation fails as a whole
            plan = Plan::Fail(AllocError::TooLarge.to_string());
            pay(policy, &cands, tally, room, &plan)?
                .ok_or_else(|| std::io::Error::other("settlement failed without an allocation"))?
        }
    };
    if let Plan::Fail(e) = plan {
        note.error = Some(e);
    }
    Ok(Settlement {
        paid,
        note,
        eligible: sums.eligible,
        amount: sums.amount,
        funded: sums.funded,
        overflow: sums.overflow,
    })
}

/// Pays the candidates as `plan` says: every result in key order, and the
/// sums. `None` when a share cannot be written with two decimals.
fn pay(
    policy: &Policy,
    cands: &Sorted<Cand, CandOrder>,
    tally: &Tally,
    room: &Room,
    plan: &Plan,
) -> std::io::Result<Option<(Sorted<Paid, ByKey>, Sums)>> {
    let mut paid = Sorter::new("paid", ByKey, room.limit, room.dir.clone());
    let mut sums = Sums {
        eligible: tally.eligible,
        amount: tally.amount,
        funded: tally.amount,
        overflow: tally.overflow,
    };
    let mut shares = Sorter::new("shares", ByRemainder, room.limit, room.dir.clone());
    let mut share_total = 0i128;
    let mut by_order = alloc::ByOrder::new(match plan {
        Plan::ByOrder { budget } => *budget,
        _ => 0,
    });
    for c in cands.iter() {
        let c = c?;
        let kept = c.kept || policy.limit.is_none();
        let amount = c.amount.filter(|_| kept);
        if kept {
            sums.kept(amount);
        }
        let funded = match (plan, amount) {
            (_, None) => None,
            (Plan::Amounts, Some(a)) => Some(a),
            (Plan::Fail(_), Some(_)) => None,
            (Plan::ByOrder { .. }, Some(a)) => {
                let a = alloc::amount_cents(&c.key, a).unwrap_or_default();
                let Some(m) = money(by_order.pay(a)) else {
                    return Ok(None);
                };
                Some(m)
            }
            (Plan::ProRata { budget, total }, Some(a)) => {
                let a = alloc::amount_cents(&c.key, a).unwrap_or_default();
                // the plan saw that the largest amount × budget fits
                let Ok((cents, remainder)) = alloc::pro_rata_share(a, *budget, *total) else {
                    return Ok(None);
                };
                let share = Share {
                    key: c.key.clone(),
                    line: c.line,
                    cents,
                    remainder,
                };
                share_total += share.cents;
                shares.push(share)?;
                continue;
            }
        };
        let p = Paid {
            key: c.key.clone(),
            line: c.line,
            kept,
            funded: funded.map(crate::eval::cents),
        };
        sums.funded(p.funded);
        paid.push(p)?;
    }
    if let Plan::ProRata { budget, .. } = plan {
        // the cents cut off go one each to the largest remainders
        let mut left = budget - share_total;
        for s in shares.finish().iter() {
            let s = s?;
            let cents = s.cents + i128::from(left > 0);
            left -= i128::from(left > 0);
            let Some(m) = money(cents) else {
                return Ok(None);
            };
            let p = Paid {
                key: s.key.clone(),
                line: s.line,
                kept: true,
                funded: Some(m),
            };
            sums.funded(p.funded);
            paid.push(p)?;
        }
    }
    Ok(Some((paid.finish(), sums)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::{self, settle_policy, Candidate};
    use crate::program::{Ir, Limit};
    use crate::test_rng::Rng;

    fn policy(rng: &mut Rng, n: usize) -> Policy {
        let dir = |r: &mut Rng| {
            if r.below(2) == 0 {
                Direction::Asc
            } else {
                Direction::Desc
            }
        };
        let limit = (rng.below(2) == 0).then(|| Limit {
            n: rng.below(n as u64 + 2),
            by: Ir::AsOf,
            dir: dir(rng),
        });
        let budget = match rng.below(5) {
            0 => None,
            1 => Some(Decimal::new(rng.below(1_000_000) as i64, 3)),
            2 if rng.below(4) == 0 => Some(Decimal::new(-100, 2)),
            _ => Some(Decimal::new(rng.below(5_000_000) as i64, 2)),
        };
        let allocate = match rng.below(3) {
            0 => None,
            1 => Some(Allocation::ProRata),
            _ => Some(Allocation::By(Ir::AsOf, dir(rng))),
        };
        Policy {
            id: "p".into(),
            title: String::new(),
            issuer: None,
            basis: None,
            valid: None,
            budget,
            allocate,
            limit,
            lets: Vec::new(),
            clauses: Vec::new(),
            amount: None,
            file: String::new(),
            span: Default::default(),
            same_conditions: None,
        }
    }

    fn value(rng: &mut Rng) -> Option<OrderValue> {
        match rng.below(6) {
            0 => None,
            1 => Some(OrderValue::Date(Date::new(
                2024,
                1 + rng.below(3) as u32,
                1,
            )?)),
            // few distinct values, so ties are common
            _ => Some(OrderValue::Num(Decimal::new(
                rng.below(20) as i64,
                rng.below(3) as u32,
            ))),
        }
    }

    /// An amount; amounts that cannot be shared out only when `bad`.
    fn amount(rng: &mut Rng, bad: bool) -> Option<Decimal> {
        match rng.below(if bad { 40 } else { 20 }) {
            0 => None,
            1 => Some(Decimal::new(15000, 3)),
            2 if bad => Some(Decimal::new(12345, 3)),
            3 if bad => Some(Decimal::new(-500, 2)),
            _ => Some(Decimal::new(rng.below(100_000) as i64, 2)),
        }
    }

    /// The prefix of each order agrees with its comparison: a smaller
    /// prefix is an earlier candidate, an earlier candidate never has a
    /// larger prefix (numbers of every scale and sign, dates, missing).
    #[test]
    fn prefixes_agree_with_the_orders() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let v = |rng: &mut Rng| match rng.below(8) {
            0 => None,
            1 => Some(OrderValue::Date(
                Date::new(
                    1990 + rng.below(60) as i32,
                    1 + rng.below(12) as u32,
                    1 + rng.below(28) as u32,
                )
                .unwrap(),
            )),
            2 => Some(OrderValue::Num(Decimal::from_parts(
                rng.below(u64::from(u32::MAX)) as u32,
                rng.below(u64::from(u32::MAX)) as u32,
                rng.below(u64::from(u32::MAX)) as u32,
                rng.below(2) == 0,
                rng.below(29) as u32,
            ))),
            _ => Some(OrderValue::Num(Decimal::new(
                rng.below(2000) as i64 - 1000,
                rng.below(7) as u32,
            ))),
        };
        let cands: Vec<Cand> = (0..600)
            .map(|i| Cand {
                key: Key::from(format!("k{}", rng.below(50))),
                line: i,
                amount: None,
                limit_by: v(&mut rng),
                alloc_by: v(&mut rng),
                kept: true,
            })
            .collect();
        for order in [
            CandOrder::Key,
            CandOrder::Limit(Direction::Asc),
            CandOrder::Limit(Direction::Desc),
            CandOrder::Alloc(Direction::Asc),
            CandOrder::Alloc(Direction::Desc),
        ] {
            for a in &cands {
                for b in &cands {
                    let (pa, pb) = (order.prefix(a).unwrap(), order.prefix(b).unwrap());
                    let c = order.cmp(a, b);
                    if pa < pb {
                        assert_eq!(c, Ordering::Less, "{order:?} {a:?} {b:?}");
                    }
                    if c == Ordering::Less {
                        assert!(pa <= pb, "{order:?} {a:?} {b:?}");
                    }
                }
            }
        }
    }

    /// Streamed settlement, spilled or not, against [`settle_policy`] on
    /// the same candidates (those dropped left out of the latter).
    #[test]
    fn streamed_settlement_agrees_with_the_in_memory_one() {
        let dir = std::env::temp_dir().join(format!("mianshen-settle-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        // how often each path was taken: pro rata, by order, an error, a cut
        let mut paths = [0u32; 4];
        for round in 0..400 {
            let n = rng.below(if round % 10 == 0 { 3000 } else { 60 }) as usize;
            let policy = policy(&mut rng, n);
            let bad = round % 5 == 0;
            let order = CandOrder::first(&policy);
            let cands: Vec<Cand> = (0..n)
                .map(|i| Cand {
                    // some keys sort before, some after, their row order
                    key: Key::from(format!("k{:05}", rng.below(100_000) * 100 + i as u64 % 100)),
                    line: i as u64 + 2,
                    amount: amount(&mut rng, bad),
                    limit_by: value(&mut rng),
                    alloc_by: value(&mut rng),
                    kept: true,
                })
                .collect();
            let dropped: Vec<u64> = cands
                .iter()
                .filter(|_| rng.below(10) == 0)
                .map(|c| c.line)
                .collect();
            let gone = |l: u64| dropped.binary_search(&l).is_ok();
            let staying: Vec<&Cand> = cands.iter().filter(|c| !gone(c.line)).collect();
            let want = in_memory(&policy, &staying);
            let tally = Tally::default();
            let exceeded = want.note.exceeded && want.note.error.is_none();
            paths[0] += u32::from(exceeded && matches!(policy.allocate, Some(Allocation::ProRata)));
            paths[1] += u32::from(exceeded && matches!(policy.allocate, Some(Allocation::By(..))));
            paths[2] += u32::from(want.note.error.is_some());
            paths[3] += u32::from(want.kept.contains(&false));
            // the candidates as settlement reads them: those staying, in order
            let expect: Vec<(Key, u64)> = {
                let mut v = staying.clone();
                v.sort_by(|a, b| order.cmp(a, b));
                v.iter().map(|c| (c.key.clone(), c.line)).collect()
            };
            // the firms taken out looked up in a table (dropped in place
            // when nothing spilled) or read beside the candidates in key order
            for (limit, spill, table) in [
                (usize::MAX, None, false),
                (usize::MAX, None, true),
                (usize::MAX, Some(dir.clone()), true),
                (4096, Some(dir.clone()), false),
                (4096, Some(dir.clone()), true),
            ] {
                let room = Room {
                    dir: spill.clone(),
                    limit,
                };
                let mut sorter = Sorter::new("candidates", order, limit, spill);
                for c in &cands {
                    sorter.push(c.clone()).unwrap();
                }
                let gone_firms = {
                    let mut g = Sorter::new("gone", ByKey, usize::MAX, None);
                    for c in cands.iter().filter(|c| gone(c.line)) {
                        g.push(crate::batch::FirmEntry {
                            key: c.key.clone(),
                            line: c.line,
                            start: 0,
                            len: 0,
                        })
                        .unwrap();
                    }
                    g.finish()
                };
                let set = table.then(|| GoneSet::of(&gone_firms, usize::MAX).unwrap());
                assert!(set.as_ref().is_none_or(Option::is_some));
                let set = set.as_ref().and_then(Option::as_ref);
                let sorter = without(&policy, sorter, &gone_firms, set, &room, limit).unwrap();
                let finished = sorter.finish();
                let seen: Vec<(Key, u64)> = finished
                    .iter()
                    .map(|c| c.map(|c| (c.key.clone(), c.line)).unwrap())
                    .collect();
                assert_eq!(seen, expect, "round {round}: table {table}, limit {limit}");
                let got = settle(&policy, finished, &tally, &room).unwrap();
                assert_eq!(got.note, want.note, "round {round}: {policy:?}");
                let mut by_key: Vec<(usize, &&Cand)> = staying.iter().enumerate().collect();
                by_key.sort_by(|a, b| by_key_order(a.1, b.1));
                let paid: Vec<Paid> = got.paid.iter().map(|p| Paid::clone(&p.unwrap())).collect();
                assert_eq!(paid.len(), staying.len(), "round {round}");
                let (mut eligible, mut amount, mut funded) = (0, Decimal::ZERO, Decimal::ZERO);
                for ((i, c), p) in by_key.iter().zip(&paid) {
                    assert_eq!((&p.key, p.line), (&c.key, c.line), "round {round}");
                    assert_eq!(p.kept, want.kept[*i], "round {round}: kept {c:?}");
                    assert_eq!(p.funded, want.funded[*i], "round {round}: funded {c:?}");
                    if p.kept {
                        eligible += 1;
                        amount += c.amount.unwrap_or_default();
                        funded += p.funded.unwrap_or_default();
                    }
                }
                assert_eq!(
                    (got.eligible, got.amount, got.funded),
                    (eligible, amount, funded),
                    "round {round}"
                );
            }
        }
        assert!(
            paths.iter().all(|&n| n >= 10),
            "every path taken: {paths:?}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Whether adding `amounts` up rounds nowhere (near 28 digits decimal
    /// addition rounds, and then the order of adding matters).
    fn adds_exactly(amounts: impl Iterator<Item = Decimal> + Clone) -> bool {
        let orders: [Vec<Decimal>; 2] = [amounts.clone().collect(), amounts.rev_collect()];
        orders.iter().all(|xs| {
            let mut acc = Decimal::ZERO;
            xs.iter().all(|&x| match acc.checked_add(x) {
                Some(next) if next - x == acc && next - acc == x => {
                    acc = next;
                    true
                }
                _ => false,
            })
        })
    }

    trait RevCollect: Iterator<Item = Decimal> + Sized {
        fn rev_collect(self) -> Vec<Decimal> {
            let mut v: Vec<Decimal> = self.collect();
            v.reverse();
            v
        }
    }
    impl<I: Iterator<Item = Decimal>> RevCollect for I {}

    /// Amounts and budgets up to the largest decimals: where no sum rounds,
    /// the streamed settlement agrees with the in-memory one, "too large to
    /// share out exactly" included.
    #[test]
    fn huge_amounts_settle_alike() {
        let dir = std::env::temp_dir().join(format!("mianshen-huge-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let values = [
            "0",
            "0.01",
            "1",
            "99999999999999999999999999.99",
            "1000000000000000000000000000",
            "79228162514264337593543950335",
            "7922816251426433759354395033.5",
            "123456789012345678.91",
            "5000000000000000000",
        ];
        let mut rng = Rng(12345);
        let pick = |rng: &mut Rng| -> Decimal {
            values[rng.below(values.len() as u64) as usize]
                .parse()
                .unwrap()
        };
        let (mut compared, mut too_large) = (0, 0);
        for round in 0..3000 {
            let n = rng.below(8) as usize;
            let mut policy = policy(&mut rng, n);
            if policy.budget.is_some() {
                policy.budget = Some(pick(&mut rng));
            }
            let cands: Vec<Cand> = (0..n)
                .map(|i| Cand {
                    key: Key::from(format!("k{}", rng.below(5))),
                    line: i as u64 + 2,
                    amount: (rng.below(6) != 0).then(|| pick(&mut rng)),
                    limit_by: Some(OrderValue::Num(Decimal::from(rng.below(3)))),
                    alloc_by: Some(OrderValue::Num(Decimal::from(rng.below(3)))),
                    kept: true,
                })
                .collect();
            if !adds_exactly(cands.iter().filter_map(|c| c.amount)) {
                continue;
            }
            compared += 1;
            let want = in_memory(&policy, &cands.iter().collect::<Vec<_>>());
            too_large += u32::from(
                want.note
                    .error
                    .as_deref()
                    .is_some_and(|e| e.contains("too large")),
            );
            let room = Room {
                dir: Some(dir.clone()),
                limit: 300,
            };
            let mut sorter = Sorter::new("c", CandOrder::first(&policy), 300, Some(dir.clone()));
            for c in &cands {
                sorter.push(c.clone()).unwrap();
            }
            let got = settle(&policy, sorter.finish(), &Tally::default(), &room).unwrap();
            assert_eq!(got.note, want.note, "round {round}: {policy:?} {cands:?}");
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| by_key_order(&cands[a], &cands[b]));
            let paid: Vec<(bool, Option<Decimal>)> = got
                .paid
                .iter()
                .map(|p| p.map(|p| (p.kept, p.funded)).unwrap())
                .collect();
            let expected: Vec<(bool, Option<Decimal>)> = order
                .iter()
                .map(|&i| (want.kept[i], want.funded[i]))
                .collect();
            assert_eq!(paid, expected, "round {round}: {policy:?} {cands:?}");
        }
        assert!(
            compared > 1000 && too_large > 20,
            "{compared} compared, {too_large} too large"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    /// [`settle_policy`] on the candidates, in row order.
    fn in_memory(policy: &Policy, cands: &[&Cand]) -> oracle::Settlement {
        let list: Vec<Candidate> = cands
            .iter()
            .enumerate()
            .map(|(i, c)| Candidate {
                firm: i as u32,
                amount: c.amount,
                limit_by: c.limit_by,
                alloc_by: c.alloc_by,
            })
            .collect();
        settle_policy(policy, &list, |f| {
            cands.get(f as usize).map_or("", |c| &*c.key)
        })
    }

    fn by_key_order(a: &Cand, b: &Cand) -> Ordering {
        by_key(&a.key, a.line, &b.key, b.line)
    }
}
