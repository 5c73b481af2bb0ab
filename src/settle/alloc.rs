//! The across-firm arithmetic of LANGUAGE.md section 7: `exclusive … keep
//! highest`, `limit N by EXPR`, `allocate pro_rata` and `allocate by EXPR`.
//!
//! Every function here is pure and exact. Items are identified by their
//! position in the input slice and carry the firm key that breaks ties (keys
//! ascending, byte order; equal keys fall back to position, so the result
//! never depends on the sort algorithm). Money is computed in whole cents as
//! `i128` with checked arithmetic: an amount times a budget must fit in
//! `i128`, which holds for any amount and budget below about 10^17 yuan;
//! beyond that the caller gets [`AllocError::TooLarge`], never a wrong answer.

use std::cmp::Ordering;

use rust_decimal::Decimal;

use crate::date::Date;
use crate::ops::Direction;

/// Sort value for `limit N by EXPR` / `allocate by EXPR`: a number or a date.
/// A column never mixes the two (the checker sees to it); if it did, every
/// number would sort before every date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum OrderValue {
    Num(Decimal),
    Date(Date),
}

/// Money that cannot be shared out exactly in cents.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum AllocError {
    #[error("预算 `{0}` 超过两位小数 (budget `{0}` has more than 2 decimal places)")]
    #[diagnostic(code(mianshen::settle::budget_not_cents))]
    BudgetNotCents(Decimal),
    #[error("预算 `{0}` 为负数 (budget `{0}` is negative)")]
    #[diagnostic(code(mianshen::settle::negative_budget))]
    NegativeBudget(Decimal),
    #[error("企业 `{key}` 的金额 `{amount}` 超过两位小数 (amount `{amount}` of firm `{key}` has more than 2 decimal places)")]
    #[diagnostic(code(mianshen::settle::amount_not_cents))]
    AmountNotCents { key: String, amount: Decimal },
    #[error(
        "企业 `{key}` 的金额 `{amount}` 为负数 (amount `{amount}` of firm `{key}` is negative)"
    )]
    #[diagnostic(code(mianshen::settle::negative_amount))]
    NegativeAmount { key: String, amount: Decimal },
    #[error(
        "金额与预算过大, 无法精确分配 (amounts and budget are too large to share out exactly)"
    )]
    #[diagnostic(code(mianshen::settle::too_large))]
    TooLarge,
}

/// The order of `limit N by EXPR dir` and `allocate by EXPR dir`: by value in
/// `dir`, ties by key ascending, items whose value is missing last (among
/// themselves by key ascending). Returns positions into `items`.
pub fn order(items: &[(&str, Option<OrderValue>)], dir: Direction) -> Vec<usize> {
    let mut positions: Vec<usize> = (0..items.len()).collect();
    // A stable sort keeps equal keys in input order.
    positions.sort_by(|&a, &b| match (items.get(a), items.get(b)) {
        (Some(&(key_a, value_a)), Some(&(key_b, value_b))) => {
            compare(value_a, value_b, dir).then_with(|| key_a.cmp(key_b))
        }
        _ => Ordering::Equal,
    });
    positions
}

pub(crate) fn compare(a: Option<OrderValue>, b: Option<OrderValue>, dir: Direction) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => match dir {
            Direction::Asc => cmp_value(&a, &b),
            Direction::Desc => cmp_value(&b, &a),
        },
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// [`OrderValue`]'s order, numbers compared the fast way.
fn cmp_value(a: &OrderValue, b: &OrderValue) -> Ordering {
    match (a, b) {
        (OrderValue::Num(x), OrderValue::Num(y)) => crate::eval::expr::cmp_num(x, y),
        _ => a.cmp(b),
    }
}

/// `limit N by EXPR dir`: which items are kept, the first `n` in [`order`];
/// the others become `ineligible` with the reason "limit".
pub fn limit(items: &[(&str, Option<OrderValue>)], n: u64, dir: Direction) -> Vec<bool> {
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    let mut kept = vec![false; items.len()];
    for position in order(items, dir).into_iter().take(n) {
        if let Some(slot) = kept.get_mut(position) {
            *slot = true;
        }
    }
    kept
}

/// `allocate pro_rata`: if the amounts sum to no more than `budget` every item
/// gets its amount. Otherwise each gets amount × budget ÷ total cut down to the
/// cent, and the cents left over go one each to the items with the largest
/// cut-off remainders (compared exactly, ties by key ascending), so exactly
/// `budget` is paid. Results have 2 decimal places.
pub fn pro_rata(budget: Decimal, items: &[(&str, Decimal)]) -> Result<Vec<Decimal>, AllocError> {
    let budget = budget_cents(budget)?;
    let amounts = items
        .iter()
        .map(|&(key, amount)| amount_cents(key, amount))
        .collect::<Result<Vec<i128>, AllocError>>()?;
    let total = sum(&amounts)?;
    if total <= budget {
        return to_money(&amounts);
    }
    // total > budget >= 0, so dividing by total is safe. Each share is
    // floor(amount × budget / total); its remainder, over the common
    // denominator total, is what the rounding cut off.
    let mut shares = Vec::with_capacity(amounts.len());
    let mut remainders = Vec::with_capacity(amounts.len());
    for &amount in &amounts {
        let (share, remainder) = pro_rata_share(amount, budget, total)?;
        shares.push(share);
        remainders.push(remainder);
    }
    // The remainders sum to `left` × total with each below total, so more
    // than `left` items have a positive remainder: a cent never goes to an
    // item whose share was already exact, and no share exceeds its amount.
    let left = budget - sum(&shares)?;
    let mut by_remainder: Vec<usize> = (0..amounts.len()).collect();
    by_remainder.sort_by(|&a, &b| {
        let remainder = |i: usize| remainders.get(i).copied().unwrap_or(0);
        let key = |i: usize| items.get(i).map_or("", |item| item.0);
        remainder_first(remainder(a), remainder(b)).then_with(|| key(a).cmp(key(b)))
    });
    let left = usize::try_from(left).unwrap_or(0);
    for position in by_remainder.into_iter().take(left) {
        if let Some(share) = shares.get_mut(position) {
            *share += 1;
        }
    }
    to_money(&shares)
}

/// `allocate by EXPR dir`: if the amounts sum to no more than `budget` every
/// item gets its amount. Otherwise items in [`order`] are paid in full while
/// the budget lasts; the first item that does not fit gets what is left
/// (which is 0 when the items before it used the budget up exactly); every
/// item after it gets 0. Results have 2 decimal places.
pub fn by_order(
    budget: Decimal,
    items: &[(&str, Decimal, Option<OrderValue>)],
    dir: Direction,
) -> Result<Vec<Decimal>, AllocError> {
    let budget = budget_cents(budget)?;
    let amounts = items
        .iter()
        .map(|&(key, amount, _)| amount_cents(key, amount))
        .collect::<Result<Vec<i128>, AllocError>>()?;
    if sum(&amounts)? <= budget {
        return to_money(&amounts);
    }
    let keyed: Vec<(&str, Option<OrderValue>)> =
        items.iter().map(|&(key, _, value)| (key, value)).collect();
    let mut paid = vec![0i128; amounts.len()];
    let mut left = ByOrder::new(budget);
    for position in order(&keyed, dir) {
        let (Some(&amount), Some(slot)) = (amounts.get(position), paid.get_mut(position)) else {
            continue;
        };
        *slot = left.pay(amount);
    }
    to_money(&paid)
}

/// One item's pro-rata share in cents: `amount × budget ÷ total` cut down
/// to the cent, and what the cut took off (over the denominator `total`,
/// which is above 0), by which the cents left over are handed out
/// ([`remainder_first`]).
pub(crate) fn pro_rata_share(
    amount: i128,
    budget: i128,
    total: i128,
) -> Result<(i128, i128), AllocError> {
    let scaled = amount.checked_mul(budget).ok_or(AllocError::TooLarge)?;
    Ok((scaled / total, scaled % total))
}

/// The order in which pro-rata shares get the cents left over: the largest
/// remainder first (ties go by key, which the caller compares next).
pub(crate) fn remainder_first(a: i128, b: i128) -> Ordering {
    b.cmp(&a)
}

/// `allocate by`: items paid in order from the budget, in full while it
/// lasts; the first that does not fit gets what is left, every later one 0.
pub(crate) struct ByOrder {
    left: i128,
    /// An item did not fit: the budget is used up.
    done: bool,
}

impl ByOrder {
    pub(crate) fn new(budget: i128) -> ByOrder {
        ByOrder {
            left: budget,
            done: false,
        }
    }

    /// What the next item in order is paid, in cents, of its `amount`.
    pub(crate) fn pay(&mut self, amount: i128) -> i128 {
        if self.done {
            return 0;
        }
        if amount <= self.left {
            self.left -= amount;
            amount
        } else {
            self.done = true;
            std::mem::take(&mut self.left)
        }
    }
}

/// `exclusive "LABEL" { A, B, C } keep highest`, for one firm: `candidates`
/// are the group's policies in the order the group lists them, `Some(amount)`
/// where the firm is eligible (0 for a policy without `amount`) and `None`
/// where it is not or the policy is not in force. Returns the position of the
/// policy kept: the largest amount, a tie going to the one listed first.
pub fn keep_highest(candidates: &[Option<Decimal>]) -> Option<usize> {
    keep_highest_of(candidates.iter().copied())
}

/// [`keep_highest`] over any sequence (nothing collected).
pub fn keep_highest_of(candidates: impl IntoIterator<Item = Option<Decimal>>) -> Option<usize> {
    let mut best: Option<(usize, Decimal)> = None;
    for (position, candidate) in candidates.into_iter().enumerate() {
        if let Some(amount) = candidate {
            if best.is_none_or(|(_, top)| amount > top) {
                best = Some((position, amount));
            }
        }
    }
    best.map(|(position, _)| position)
}

pub(crate) fn budget_cents(budget: Decimal) -> Result<i128, AllocError> {
    match cents(budget) {
        None => Err(AllocError::BudgetNotCents(budget)),
        Some(c) if c < 0 => Err(AllocError::NegativeBudget(budget)),
        Some(c) => Ok(c),
    }
}

pub(crate) fn amount_cents(key: &str, amount: Decimal) -> Result<i128, AllocError> {
    match cents(amount) {
        None => Err(AllocError::AmountNotCents {
            key: key.to_owned(),
            amount,
        }),
        Some(c) if c < 0 => Err(AllocError::NegativeAmount {
            key: key.to_owned(),
            amount,
        }),
        Some(c) => Ok(c),
    }
}

/// The value in whole cents, if it is one. Trailing zeros are fine (`1.500`
/// is 150 cents): arithmetic on decimals often leaves them.
fn cents(value: Decimal) -> Option<i128> {
    let mantissa = value.mantissa();
    let scale = value.scale();
    if scale <= 2 {
        // A mantissa has at most 96 bits, so × 100 cannot overflow i128.
        mantissa.checked_mul(10i128.checked_pow(2 - scale)?)
    } else {
        let divisor = 10i128.checked_pow(scale - 2)?;
        (mantissa % divisor == 0).then(|| mantissa / divisor)
    }
}

fn sum(cents: &[i128]) -> Result<i128, AllocError> {
    cents
        .iter()
        .try_fold(0i128, |acc, &c| acc.checked_add(c))
        .ok_or(AllocError::TooLarge)
}

fn to_money(cents: &[i128]) -> Result<Vec<Decimal>, AllocError> {
    cents
        .iter()
        .map(|&c| Decimal::try_from_i128_with_scale(c, 2).map_err(|_| AllocError::TooLarge))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn num(s: &str) -> Option<OrderValue> {
        Some(OrderValue::Num(d(s)))
    }

    fn date(y: i32, m: u32, day: u32) -> Option<OrderValue> {
        Some(OrderValue::Date(Date::new(y, m, day).unwrap()))
    }

    /// The results as text, so scale 2 is checked along with the value.
    fn text(values: &[Decimal]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    // ---- order and limit ----

    #[test]
    fn order_by_value_then_key_missing_last() {
        let items = [
            ("f3", num("10")),
            ("f2", None),
            ("f1", num("20")),
            ("f0", num("10")),
            ("f4", None),
            ("f5", num("10.0")),
        ];
        assert_eq!(order(&items, Direction::Desc), vec![2, 3, 0, 5, 1, 4]);
        assert_eq!(order(&items, Direction::Asc), vec![3, 0, 5, 2, 1, 4]);
    }

    #[test]
    fn order_keys_compare_by_bytes_and_equal_keys_keep_position() {
        let items = [
            ("b", num("1")),
            ("B", num("1")),
            ("a", num("1")),
            ("a", num("1")),
        ];
        assert_eq!(order(&items, Direction::Asc), vec![1, 2, 3, 0]);
    }

    #[test]
    fn order_by_date() {
        let items = [
            ("a", date(2024, 3, 1)),
            ("b", date(2023, 12, 31)),
            ("c", None),
        ];
        assert_eq!(order(&items, Direction::Asc), vec![1, 0, 2]);
        assert_eq!(order(&items, Direction::Desc), vec![0, 1, 2]);
    }

    #[test]
    fn order_of_nothing() {
        assert!(order(&[], Direction::Asc).is_empty());
        assert!(limit(&[], 3, Direction::Asc).is_empty());
    }

    #[test]
    fn limit_keeps_the_first_n() {
        let items = [
            ("c", num("5")),
            ("a", None),
            ("b", num("5")),
            ("d", num("9")),
        ];
        assert_eq!(
            limit(&items, 2, Direction::Desc),
            vec![false, false, true, true]
        );
        assert_eq!(
            limit(&items, 3, Direction::Desc),
            vec![true, false, true, true]
        );
        assert_eq!(limit(&items, 0, Direction::Desc), vec![false; 4]);
        assert_eq!(limit(&items, 4, Direction::Asc), vec![true; 4]);
        assert_eq!(limit(&items, u64::MAX, Direction::Asc), vec![true; 4]);
        // Missing values go last in either direction.
        assert_eq!(
            limit(&items, 3, Direction::Asc),
            vec![true, false, true, true]
        );
    }

    // ---- pro rata ----

    #[test]
    fn pro_rata_language_example() {
        // LANGUAGE.md section 9: two firms of 200000.00 share a budget of 200000.
        let shares = pro_rata(
            d("200000"),
            &[
                ("91420102MA4K2L3R63", d("200000.00")),
                ("91420102MA4K2L3R76", d("200000.00")),
            ],
        );
        assert_eq!(text(&shares.unwrap()), ["100000.00", "100000.00"]);
    }

    #[test]
    fn pro_rata_within_budget_pays_in_full() {
        let items = [("a", d("100")), ("b", d("50.5"))];
        // total == budget: no sharing.
        assert_eq!(
            text(&pro_rata(d("150.50"), &items).unwrap()),
            ["100.00", "50.50"]
        );
        assert_eq!(
            text(&pro_rata(d("1000"), &items).unwrap()),
            ["100.00", "50.50"]
        );
        assert!(pro_rata(d("0"), &[]).unwrap().is_empty());
    }

    #[test]
    fn pro_rata_budget_zero_pays_nothing() {
        let items = [("a", d("100")), ("b", d("0.01"))];
        assert_eq!(text(&pro_rata(d("0"), &items).unwrap()), ["0.00", "0.00"]);
    }

    #[test]
    fn pro_rata_single_item_gets_the_budget() {
        assert_eq!(
            text(&pro_rata(d("99.99"), &[("a", d("100"))]).unwrap()),
            ["99.99"]
        );
    }

    #[test]
    fn pro_rata_one_cent_short() {
        // In cents, 1 × 20000 / 20001 and 20000 × 20000 / 20001 cut off
        // 20000/20001 and 1/20001 of a cent: the small firm gets the cent.
        let items = [("b", d("0.01")), ("a", d("200"))];
        assert_eq!(
            text(&pro_rata(d("200"), &items).unwrap()),
            ["0.01", "199.99"]
        );
    }

    #[test]
    fn pro_rata_equal_amounts_left_cent_goes_by_key() {
        let items = [("b", d("1")), ("a", d("1")), ("c", d("1"))];
        assert_eq!(
            text(&pro_rata(d("1"), &items).unwrap()),
            ["0.33", "0.34", "0.33"]
        );
        assert_eq!(
            text(&pro_rata(d("2"), &items).unwrap()),
            ["0.67", "0.67", "0.66"]
        );
    }

    #[test]
    fn pro_rata_tiny_amounts_mostly_get_nothing() {
        let keys = ["j", "i", "h", "g", "f", "e", "d", "c", "b", "a"];
        let items: Vec<(&str, Decimal)> = keys.iter().map(|&k| (k, d("0.01"))).collect();
        let shares = pro_rata(d("0.03"), &items).unwrap();
        let expected = [
            "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "0.01", "0.01", "0.01",
        ];
        assert_eq!(text(&shares), expected);
    }

    #[test]
    fn pro_rata_remainders_compared_exactly() {
        // Remainders 0.333, 0.334 and 0.333 of a cent: only exact comparison
        // gives the cent to `c`, whose key comes last.
        let items = [("a", d("3.33")), ("c", d("3.34")), ("b", d("3.33"))];
        assert_eq!(
            text(&pro_rata(d("0.01"), &items).unwrap()),
            ["0.00", "0.01", "0.00"]
        );
    }

    #[test]
    fn pro_rata_remainders_tie_exactly() {
        let items = [("z", d("0.01")), ("y", d("0.01"))];
        assert_eq!(
            text(&pro_rata(d("0.01"), &items).unwrap()),
            ["0.00", "0.01"]
        );
        // In cents, 1 × 2 / 4 cuts off half a cent for both `b` and `a`
        // while 2 × 2 / 4 is exact: the one cent left goes to `a` by key.
        let items = [("b", d("0.01")), ("a", d("0.01")), ("c", d("0.02"))];
        assert_eq!(
            text(&pro_rata(d("0.02"), &items).unwrap()),
            ["0.00", "0.01", "0.01"]
        );
    }

    #[test]
    fn pro_rata_zero_amount_gets_nothing() {
        let items = [("a", d("0")), ("b", d("3")), ("c", d("1"))];
        assert_eq!(
            text(&pro_rata(d("2"), &items).unwrap()),
            ["0.00", "1.50", "0.50"]
        );
    }

    #[test]
    fn trailing_zeros_are_whole_cents() {
        let items = [("a", d("1.5000")), ("b", d("0.500"))];
        assert_eq!(
            text(&pro_rata(d("1.00000"), &items).unwrap()),
            ["0.75", "0.25"]
        );
    }

    #[test]
    fn money_that_is_not_whole_cents_is_refused() {
        let items = [("a", d("1")), ("b", d("2"))];
        assert_eq!(
            pro_rata(d("1.005"), &items),
            Err(AllocError::BudgetNotCents(d("1.005")))
        );
        assert_eq!(
            by_order(d("0.001"), &[], Direction::Asc),
            Err(AllocError::BudgetNotCents(d("0.001")))
        );
        let bad = [("a", d("1")), ("b", d("2.001"))];
        let err = AllocError::AmountNotCents {
            key: "b".into(),
            amount: d("2.001"),
        };
        assert_eq!(pro_rata(d("100"), &bad), Err(err.clone()));
        assert_eq!(
            err.to_string(),
            "企业 `b` 的金额 `2.001` 超过两位小数 (amount `2.001` of firm `b` has more than 2 decimal places)"
        );
        assert_eq!(
            pro_rata(d("1.005"), &items).unwrap_err().to_string(),
            "预算 `1.005` 超过两位小数 (budget `1.005` has more than 2 decimal places)"
        );
    }

    #[test]
    fn negative_money_is_refused() {
        let items = [("a", d("1")), ("b", d("-2"))];
        assert_eq!(
            pro_rata(d("-1"), &items),
            Err(AllocError::NegativeBudget(d("-1")))
        );
        assert_eq!(
            pro_rata(d("1"), &items),
            Err(AllocError::NegativeAmount {
                key: "b".into(),
                amount: d("-2")
            })
        );
        let items = [("a", d("1"), None), ("b", d("-2"), None)];
        assert!(matches!(
            by_order(d("1"), &items, Direction::Asc),
            Err(AllocError::NegativeAmount { .. })
        ));
    }

    #[test]
    fn huge_money_is_refused_not_rounded() {
        let items = [("a", Decimal::MAX), ("b", d("1"))];
        assert_eq!(pro_rata(d("1e26"), &items), Err(AllocError::TooLarge));
        // Within budget, but Decimal::MAX has no room for 2 decimal places.
        assert_eq!(
            pro_rata(Decimal::MAX, &[("a", Decimal::MAX)]),
            Err(AllocError::TooLarge)
        );
        let items = [("a", Decimal::MAX), ("b", Decimal::MAX)];
        assert_eq!(
            pro_rata(d("1e20"), &items).unwrap_err().to_string(),
            "金额与预算过大, 无法精确分配 (amounts and budget are too large to share out exactly)"
        );
        // A product of 0 never overflows: a budget of 0 still pays 0.
        assert_eq!(text(&pro_rata(d("0"), &items).unwrap()), ["0.00", "0.00"]);
        // Large but ordinary: 10^15 yuan among three firms.
        let items = [("a", d("1e15")), ("b", d("1e15")), ("c", d("1e15"))];
        assert_eq!(
            text(&pro_rata(d("1e15"), &items).unwrap()),
            [
                "333333333333333.34",
                "333333333333333.33",
                "333333333333333.33"
            ]
        );
    }

    // ---- by order ----

    #[test]
    fn by_order_within_budget_pays_in_full() {
        let items = [("a", d("100"), num("1")), ("b", d("50"), None)];
        assert_eq!(
            text(&by_order(d("150"), &items, Direction::Desc).unwrap()),
            ["100.00", "50.00"]
        );
    }

    #[test]
    fn by_order_pays_in_order_until_the_budget_runs_out() {
        let items = [
            ("a", d("100"), num("1")),
            ("b", d("100"), num("3")),
            ("c", d("100"), num("2")),
        ];
        assert_eq!(
            text(&by_order(d("250"), &items, Direction::Desc).unwrap()),
            ["50.00", "100.00", "100.00"]
        );
        assert_eq!(
            text(&by_order(d("250"), &items, Direction::Asc).unwrap()),
            ["100.00", "50.00", "100.00"]
        );
    }

    #[test]
    fn by_order_after_the_first_that_does_not_fit_all_get_nothing() {
        // `c` would fit in what is left after `b`, but comes after it.
        let items = [
            ("a", d("100"), num("3")),
            ("b", d("150"), num("2")),
            ("c", d("10"), num("1")),
        ];
        assert_eq!(
            text(&by_order(d("200"), &items, Direction::Desc).unwrap()),
            ["100.00", "100.00", "0.00"]
        );
    }

    #[test]
    fn by_order_budget_used_up_exactly() {
        let items = [
            ("a", d("100"), num("3")),
            ("b", d("100"), num("2")),
            ("c", d("10"), num("1")),
        ];
        assert_eq!(
            text(&by_order(d("200"), &items, Direction::Desc).unwrap()),
            ["100.00", "100.00", "0.00"]
        );
    }

    #[test]
    fn by_order_budget_zero_pays_nothing() {
        let items = [("a", d("1"), num("3")), ("b", d("2"), None)];
        assert_eq!(
            text(&by_order(d("0"), &items, Direction::Desc).unwrap()),
            ["0.00", "0.00"]
        );
    }

    #[test]
    fn by_order_single_item_gets_the_budget() {
        assert_eq!(
            text(&by_order(d("0.5"), &[("a", d("1"), None)], Direction::Asc).unwrap()),
            ["0.50"]
        );
    }

    #[test]
    fn by_order_ties_by_key_and_missing_last() {
        let items = [
            ("d", d("10"), None),
            ("c", d("10"), None),
            ("b", d("10"), date(2020, 1, 1)),
            ("a", d("10"), date(2020, 1, 1)),
        ];
        assert_eq!(
            text(&by_order(d("25"), &items, Direction::Asc).unwrap()),
            ["0.00", "5.00", "10.00", "10.00"]
        );
        assert_eq!(
            text(&by_order(d("15"), &items, Direction::Desc).unwrap()),
            ["0.00", "0.00", "5.00", "10.00"]
        );
    }

    // ---- keep highest ----

    #[test]
    fn keep_highest_picks_the_largest_amount() {
        assert_eq!(keep_highest(&[]), None);
        assert_eq!(keep_highest(&[None, None]), None);
        assert_eq!(keep_highest(&[None, Some(d("0"))]), Some(1));
        assert_eq!(
            keep_highest(&[Some(d("5")), None, Some(d("7")), Some(d("6"))]),
            Some(2)
        );
        assert_eq!(keep_highest(&[Some(d("100000")), Some(d("0"))]), Some(0));
    }

    #[test]
    fn keep_highest_tie_goes_to_the_first_listed() {
        assert_eq!(
            keep_highest(&[None, Some(d("7.00")), Some(d("7"))]),
            Some(1)
        );
        assert_eq!(keep_highest(&[Some(d("0")), Some(d("0"))]), Some(0));
    }

    // ---- properties over random cases ----

    /// splitmix64: small, deterministic, good enough to spread test cases.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// Uniform enough in `lo..=hi` for tests.
        fn range(&mut self, lo: u64, hi: u64) -> u64 {
            lo + self.next() % (hi - lo + 1)
        }

        fn cents(&mut self) -> i128 {
            let top = [10, 1_000, 100_000_000, 1_000_000_000_000][self.range(0, 3) as usize];
            i128::from(self.range(0, top))
        }

        fn count(&mut self) -> usize {
            if self.range(0, 19) == 0 {
                self.range(1, 300) as usize
            } else {
                self.range(1, 12) as usize
            }
        }

        fn keys(&mut self, n: usize) -> Vec<String> {
            // Few distinct keys, so ties on key (kept by position) occur too.
            (0..n)
                .map(|_| format!("k{}", self.range(0, 2 * n as u64)))
                .collect()
        }

        fn order_value(&mut self, dates: bool) -> Option<OrderValue> {
            match self.range(0, 3) {
                0 => None,
                _ if dates => Some(OrderValue::Date(
                    Date::new(2024, 1, self.range(1, 5) as u32).unwrap(),
                )),
                _ => Some(OrderValue::Num(Decimal::new(
                    self.range(0, 4) as i64 - 2,
                    1,
                ))),
            }
        }

        fn budget(&mut self, total: i128) -> i128 {
            match self.range(0, 15) {
                0 => 0,
                1 | 2 => total,
                3 => total + i128::from(self.range(1, 100)),
                _ if total == 0 => 0,
                _ => i128::from(self.next()) % total,
            }
        }

        fn direction(&mut self) -> Direction {
            if self.range(0, 1) == 0 {
                Direction::Asc
            } else {
                Direction::Desc
            }
        }
    }

    fn money(cents: i128) -> Decimal {
        Decimal::from_i128_with_scale(cents, 2)
    }

    fn to_cents(value: Decimal) -> i128 {
        assert_eq!(value.scale(), 2, "{value} should have 2 decimal places");
        value.mantissa()
    }

    const CASES: u64 = 4000;

    #[test]
    fn property_pro_rata_shares_the_budget_exactly() {
        let mut rng = Rng(0x5EED_0001);
        for case in 0..CASES {
            let n = rng.count();
            let keys = rng.keys(n);
            let amounts: Vec<i128> = (0..n).map(|_| rng.cents()).collect();
            let total: i128 = amounts.iter().sum();
            let budget = rng.budget(total);
            let items: Vec<(&str, Decimal)> = keys
                .iter()
                .map(String::as_str)
                .zip(amounts.iter().map(|&a| money(a)))
                .collect();
            let shares: Vec<i128> = pro_rata(money(budget), &items)
                .unwrap()
                .into_iter()
                .map(to_cents)
                .collect();
            assert_eq!(shares.len(), n, "case {case}");
            if total <= budget {
                assert_eq!(shares, amounts, "case {case}");
                continue;
            }
            assert_eq!(shares.iter().sum::<i128>(), budget, "case {case}");
            let mut bumped = Vec::new();
            let mut not_bumped = Vec::new();
            for (i, (&share, &amount)) in shares.iter().zip(&amounts).enumerate() {
                assert!(
                    0 <= share && share <= amount,
                    "case {case}: {share} of {amount}"
                );
                // |share − amount × budget ÷ total| < 1 cent, in whole numbers.
                let exact = amount * budget;
                assert!(
                    (share * total - exact).abs() < total,
                    "case {case}: item {i}"
                );
                let floor = exact / total;
                assert!(
                    share == floor || share == floor + 1,
                    "case {case}: item {i}"
                );
                let rank = (exact % total, keys[i].as_str(), i);
                if share == floor + 1 {
                    bumped.push(rank);
                } else {
                    not_bumped.push(rank);
                }
            }
            // Every item given a left-over cent outranks every item not given one.
            for &(r_in, key_in, i_in) in &bumped {
                for &(r_out, key_out, i_out) in &not_bumped {
                    let ahead =
                        r_in > r_out || (r_in == r_out && (key_in, i_in) < (key_out, i_out));
                    assert!(
                        ahead,
                        "case {case}: item {i_in} got a cent before item {i_out}"
                    );
                }
            }
        }
    }

    #[test]
    fn property_by_order_pays_in_order() {
        let mut rng = Rng(0x5EED_0002);
        for case in 0..CASES {
            let n = rng.count();
            let keys = rng.keys(n);
            let dates = rng.range(0, 1) == 0;
            let dir = rng.direction();
            let amounts: Vec<i128> = (0..n).map(|_| rng.cents()).collect();
            let values: Vec<Option<OrderValue>> = (0..n).map(|_| rng.order_value(dates)).collect();
            let total: i128 = amounts.iter().sum();
            let budget = rng.budget(total);
            let items: Vec<(&str, Decimal, Option<OrderValue>)> = (0..n)
                .map(|i| (keys[i].as_str(), money(amounts[i]), values[i]))
                .collect();
            let paid: Vec<i128> = by_order(money(budget), &items, dir)
                .unwrap()
                .into_iter()
                .map(to_cents)
                .collect();
            assert_eq!(paid.len(), n, "case {case}");
            let sum: i128 = paid.iter().sum();
            assert!(sum <= budget, "case {case}");
            assert_eq!(sum, total.min(budget), "case {case}");
            for (&p, &a) in paid.iter().zip(&amounts) {
                assert!(0 <= p && p <= a, "case {case}");
            }
            let keyed: Vec<(&str, Option<OrderValue>)> =
                (0..n).map(|i| (keys[i].as_str(), values[i])).collect();
            let ordered = order(&keyed, dir);
            let cut = ordered.iter().position(|&i| paid[i] < amounts[i]);
            let mut left = budget;
            for (rank, &i) in ordered.iter().enumerate() {
                match cut {
                    Some(c) if rank == c => {
                        assert_eq!(paid[i], left, "case {case}: the cut gets what is left")
                    }
                    Some(c) if rank > c => assert_eq!(paid[i], 0, "case {case}: after the cut"),
                    _ => assert_eq!(paid[i], amounts[i], "case {case}: before the cut"),
                }
                left -= paid[i];
            }
            assert_eq!(cut.is_some(), total > budget, "case {case}");
        }
    }

    #[test]
    fn property_limit_keeps_the_first_in_order() {
        let mut rng = Rng(0x5EED_0003);
        for case in 0..CASES {
            let n = rng.count();
            let keys = rng.keys(n);
            let dates = rng.range(0, 1) == 0;
            let dir = rng.direction();
            let items: Vec<(&str, Option<OrderValue>)> = keys
                .iter()
                .map(|k| (k.as_str(), rng.order_value(dates)))
                .collect();
            let ordered = order(&items, dir);
            let mut seen = ordered.clone();
            seen.sort_unstable();
            assert_eq!(
                seen,
                (0..n).collect::<Vec<_>>(),
                "case {case}: not a permutation"
            );
            for pair in ordered.windows(2) {
                let (a, b) = (items[pair[0]], items[pair[1]]);
                let rule = compare(a.1, b.1, dir)
                    .then_with(|| a.0.cmp(b.0))
                    .then(pair[0].cmp(&pair[1]));
                assert_eq!(rule, Ordering::Less, "case {case}: {a:?} before {b:?}");
                if let (None, Some(_)) = (a.1, b.1) {
                    panic!("case {case}: missing value before a present one");
                }
            }
            let limit_n = rng.range(0, n as u64 + 3);
            let kept = limit(&items, limit_n, dir);
            let expected = (limit_n as usize).min(n);
            assert_eq!(kept.iter().filter(|&&k| k).count(), expected, "case {case}");
            assert!(ordered[..expected].iter().all(|&i| kept[i]), "case {case}");
        }
    }
}
