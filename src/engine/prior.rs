//! Prior payments given in memory (LANGUAGE.md section 12): the engine files
//! them itself, under the ids its own policy set reads, so a payment can
//! never count under another policy than the one it was paid under.

use rust_decimal::Decimal;

use super::Engine;
use crate::data::ledger::Ledger;
use crate::date::Date;

/// A payment already made to a firm, as a row of the ledger holds it.
///
/// ```
/// use mianshen::{Date, PriorPayment};
/// use rust_decimal::Decimal;
///
/// let paid = PriorPayment::new(
///     "91420102MA4K2L3R0G",
///     "xiaojuren_2023",
///     Decimal::new(1_000_000, 0),
///     Date::parse_iso("2023-06-30").expect("a date"),
/// );
/// assert_eq!(paid.policy, "xiaojuren_2023");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriorPayment {
    /// The firm's key, as its records give it.
    pub key: String,
    /// The policy id it was paid under: any id (earlier years' policies
    /// keep theirs); only those the set's `paid` and `last_paid` name count.
    pub policy: String,
    /// Yuan; negative for money clawed back (追回).
    pub amount: Decimal,
    /// Counted by runs whose `as_of` is on or after it.
    pub paid_on: Date,
}

impl PriorPayment {
    pub fn new(key: &str, policy: &str, amount: Decimal, paid_on: Date) -> PriorPayment {
        PriorPayment {
            key: key.to_string(),
            policy: policy.to_string(),
            amount,
            paid_on,
        }
    }
}

/// A payment given to [`Engine::with_payments`] that a ledger row could not
/// hold (an empty key or policy, too many payments): `number` counts from 1
/// in the order given.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("第 {number} 笔兑付无法记入台账: {message}; 兑付记录不作猜测 (payment {number} cannot be put in the ledger; a payment is never guessed away)")]
#[diagnostic(code(mianshen::ledger::payment))]
pub struct PaymentError {
    pub number: usize,
    pub message: String,
}

impl Engine {
    /// The engine with the prior payments `paid` and `last_paid` read
    /// (LANGUAGE.md section 12), in place of any ledger given before. The
    /// engine files them under the ids its policy set reads; payments under
    /// other ids are kept out, as a ledger file's are. A set whose policies
    /// use `paid` or `last_paid` needs a ledger (no payments at all is an
    /// empty ledger), or its runs fail with
    /// [`RunError::LedgerRequired`](crate::RunError::LedgerRequired). A
    /// ledger kept as a file is read with [`Engine::with_ledger_file`].
    ///
    /// ```
    /// use mianshen::{Date, Engine, Outcome, PriorPayment};
    /// use rust_decimal::Decimal;
    ///
    /// let engine = Engine::from_texts(
    ///     "key: id\nfields:\n  id: { type: text }\n",
    ///     &[("once.policy", "policy once {\n  title \"只奖励一次\"\n  exclude \"已奖励\" paid(once) > 0\n  amount 10万\n}\n")],
    /// )
    /// .expect("the set checks");
    /// let as_of = Date::parse_iso("2024-12-31").expect("a date");
    /// let paid_on = Date::parse_iso("2023-12-31").expect("a date");
    /// let engine = engine.with_payments(&[PriorPayment::new("A1", "once", Decimal::new(100_000, 0), paid_on)])?;
    /// let a1 = engine.firm(&[("id", "A1")]).expect("valid");
    /// let d = engine.evaluate_policy(&a1, "once", as_of)?.expect("in force");
    /// assert_eq!(d.outcome, Outcome::Ineligible, "paid once already");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_payments(self, payments: &[PriorPayment]) -> Result<Engine, PaymentError> {
        let program = &self.set.program;
        let mut ledger = Ledger::adding(program.ledger_ids.len(), program.schema.key_type());
        for (i, p) in payments.iter().enumerate() {
            ledger
                .add(
                    &program.ledger_ids,
                    &p.key,
                    &p.policy,
                    &p.amount.to_string(),
                    &p.paid_on.to_string(),
                    0,
                )
                .map_err(|message| PaymentError {
                    number: i + 1,
                    message,
                })?;
        }
        let ledger = ledger.finish().map_err(|message| PaymentError {
            number: payments.len(),
            message,
        })?;
        Ok(self.holding(ledger))
    }
}
