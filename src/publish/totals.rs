//! 企业汇总: each firm's total across policies, written as the firms come
//! (in key order).

use rust_decimal::Decimal;

use super::firms::{Decision, Firm};
use super::table::{PeopleCsv, Value};
use crate::eval::Outcome;

pub const HEADER: [&str; 9] = [
    "统一社会信用代码",
    "企业名称",
    "行政区划代码",
    "行政区划",
    "符合政策数",
    "待核实政策数",
    "核定金额合计(元)",
    "兑付金额合计(元)",
    "符合的政策",
];

/// Writes one firm's line.
pub fn write(
    csv: &mut PeopleCsv,
    firm: &Firm,
    decisions: &[Decision],
    ids: &[&str],
) -> std::io::Result<()> {
    let (mut eligible, mut review) = (0u64, 0u64);
    let (mut amount, mut funded) = (Decimal::ZERO, Decimal::ZERO);
    let mut which: Vec<&str> = Vec::new();
    for d in decisions {
        match d.outcome {
            Outcome::Eligible => {
                eligible += 1;
                amount += d.amount.unwrap_or_default();
                funded += d.funded.unwrap_or_default();
                which.extend(ids.get(d.policy).copied());
            }
            Outcome::Review => review += 1,
            Outcome::Ineligible => {}
        }
    }
    let label = firm.region.label();
    let which = which.join("、");
    csv.row(&[
        Value::Text(&firm.key),
        Value::Text(&firm.name),
        Value::Text(&firm.region.district),
        Value::Text(&label),
        Value::Count(eligible),
        Value::Count(review),
        Value::Money(amount),
        Value::Money(funded),
        Value::Text(&which),
    ])
}
