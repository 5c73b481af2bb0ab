//! Spark SQL: where its `DECIMAL` arithmetic computes what the engine does,
//! and where it cannot (refused at the construct's line).
//!
//! Spark types every decimal expression statically (`DecimalPrecision`,
//! with `spark.sql.decimalOperations.allowPrecisionLoss` on, its default):
//! `a + b` and `a - b` get scale `max(s1, s2)` and one whole digit more than
//! the wider; `a * b` precision `p1 + p2 + 1`, scale `s1 + s2`; `a / b`
//! scale `max(6, s1 + p2 + 1)`. A type beyond 38 digits is cut to 38 by
//! dropping decimals (keeping at least 6), rounding half up. So a Spark
//! quotient has as many decimals as its types allow, rounded half up, where
//! the engine keeps 28 significant digits rounded half to even; and a
//! product or sum wider than 38 digits is rounded where the engine keeps
//! it, or the reverse past the engine's 28.
//!
//! What is exact in both is what this module admits: with the columns typed
//! as `column` gives, every `+ - *` whose Spark type has at most 28
//! digits (then neither rounds: the engine holds 28 digits at any scale up
//! to 28), and a division or a `round`/`floor` step only by a number written
//! in the policy whose inverse is a finite decimal (compiled as a
//! multiplication by that inverse). Everything else is refused.

use rust_decimal::Decimal;

use crate::ops::ArithOp;
use crate::program::{Const, Func, Ir, Program};
use crate::schema::FieldType;

/// The engine's digits: a Spark type within them is computed exactly by both.
pub const ENGINE_DIGITS: u32 = 28;
/// Spark's widest decimal.
pub const SPARK_DIGITS: u32 = 38;

/// A Spark `DECIMAL(p, s)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dec {
    pub p: u32,
    pub s: u32,
}

impl Dec {
    fn whole(self) -> u32 {
        self.p - self.s
    }

    /// The type both sides of a comparison, `CASE`, `GREATEST`, `LEAST` or
    /// `COALESCE` are widened to.
    fn wider(self, o: Dec) -> Dec {
        let s = self.s.max(o.s);
        Dec {
            p: self.whole().max(o.whole()) + s,
            s,
        }
    }
}

impl std::fmt::Display for Dec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DECIMAL({},{})", self.p, self.s)
    }
}

/// The Spark column type of a numeric field: what the firm table declares
/// and its loader must hold exactly (a value with more decimals or digits
/// is to be refused at loading, never rounded).
pub fn column(ty: &FieldType) -> Option<Dec> {
    match ty {
        // as Spark types an INT in decimal arithmetic
        FieldType::Integer => Some(Dec { p: 10, s: 0 }),
        FieldType::Money => Some(Dec { p: 18, s: 2 }),
        FieldType::Number => Some(Dec { p: 18, s: 6 }),
        // a fraction: 12.3456% is 0.123456
        FieldType::Percent => Some(Dec { p: 9, s: 6 }),
        _ => None,
    }
}

/// The engine's value of a quotient, and of what is computed from one, as
/// the script holds it: `DECIMAL(38,28)` carries every engine decimal below
/// 10^10 exactly (28 decimals, 10 whole digits). The script computes it
/// with the engine's rounding (`super::expr`, `spark_div` and `spark_fit`);
/// a value of 10^10 or more stops the run (ANSI mode) rather than being
/// rounded. Only a product by a narrow number, a sum, a `round`/`floor`
/// step and the comparisons and choices whose other operands have at most
/// 10 whole digits are admitted on it.
pub const WIDE: Dec = Dec { p: 38, s: 28 };

/// `paid(…)`: the ledger's `DECIMAL(18,4)` amounts summed and cast to
/// `DECIMAL(22,4)` (exact; ANSI mode stops on an overflow).
const PAID: Dec = Dec { p: 22, s: 4 };
/// Whole years or months, a year: `DECIMAL(10,0)`.
const COUNT: Dec = Dec { p: 10, s: 0 };

/// A number written in the policy as its exact Spark literal type.
fn literal(d: &Decimal) -> Dec {
    let d = d.normalize();
    let digits = d.mantissa().unsigned_abs().to_string().len() as u32;
    let s = d.scale();
    Dec {
        p: digits.max(s).max(1),
        s,
    }
}

/// `1 / d` when it is a finite decimal the engine holds exactly: `d`'s
/// digits are a product of 2s and 5s (a check on the digits, not on
/// `r × d == 1` in decimals, which the engine's own rounding can make true
/// for 1/3), and `d · (1 / d)` is exactly 1 in integers (mantissas
/// multiplied in `i128`; `None` past it), so that a `1 / d` the engine had
/// to round (`d` of more than 28 digits' worth of 2s and 5s) is refused.
pub fn inverse(d: Decimal) -> Option<Decimal> {
    let mut m = d.mantissa().unsigned_abs();
    if m == 0 {
        return None;
    }
    while m.is_multiple_of(2) {
        m /= 2;
    }
    while m.is_multiple_of(5) {
        m /= 5;
    }
    if m != 1 {
        return None;
    }
    let r = Decimal::ONE.checked_div(d)?;
    let product = r.mantissa().checked_mul(d.mantissa())?;
    let one = 10i128.checked_pow(r.scale() + d.scale())?;
    (product == one).then_some(r)
}

/// The Spark types of a policy set's expressions, with its lets and
/// defines typed once.
pub struct Types<'a> {
    program: &'a Program,
    pub defines: Vec<Option<Dec>>,
    pub lets: Vec<Option<Dec>>,
}

/// Why Spark cannot compute an expression as the engine does.
pub type Refusal = String;

impl<'a> Types<'a> {
    pub fn new(program: &'a Program) -> Types<'a> {
        Types {
            program,
            defines: Vec::new(),
            lets: Vec::new(),
        }
    }

    /// Checks one expression: its Spark type (`None` when not a number), or
    /// the first construct, innermost first, that Spark would compute
    /// otherwise.
    pub fn of(&self, ir: &Ir) -> Result<Option<Dec>, Refusal> {
        Ok(match ir {
            Ir::Const(Const::Num(d)) => Some(literal(d)),
            Ir::Const(_) | Ir::AsOf => None,
            Ir::Field(i) => self
                .program
                .schema
                .fields
                .get(*i as usize)
                .and_then(|f| column(&f.ty)),
            Ir::Let(i) => self.lets.get(*i as usize).copied().flatten(),
            Ir::Define(i) => self.defines.get(*i as usize).copied().flatten(),
            Ir::Neg(x) => self.of(x)?,
            Ir::Not(x) => {
                self.of(x)?;
                None
            }
            Ir::Arith(op, a, b) => {
                let ta = self.of(a)?;
                let tb = self.of(b)?;
                let (Some(ta), Some(tb)) = (ta, tb) else {
                    return Ok(None);
                };
                Some(self.arith(*op, ta, tb, b)?)
            }
            Ir::And(a, b) | Ir::Or(a, b) => {
                self.of(a)?;
                self.of(b)?;
                None
            }
            Ir::Cmp(_, a, b) => {
                self.widened(&[a, b])?;
                None
            }
            Ir::CmpField { field, value, .. } => {
                self.widened(&[&Ir::Field(*field), &Ir::Const(Const::Num(*value))])?;
                None
            }
            Ir::EqFieldText { .. } => None,
            Ir::InList { item, list, .. } => {
                let mut all = vec![item.as_ref()];
                all.extend(list.iter());
                self.widened(&all)?;
                None
            }
            Ir::InValue { item, list, .. } => {
                self.of(item)?;
                self.of(list)?;
                None
            }
            Ir::ListContains(a, b) | Ir::TextContains(a, b) => {
                self.of(a)?;
                self.of(b)?;
                None
            }
            Ir::Between(x, lo, hi) => {
                self.widened(&[x, lo, hi])?;
                None
            }
            Ir::IsMissing { expr, .. } => {
                self.of(expr)?;
                None
            }
            Ir::If(c, a, b) => {
                self.of(c)?;
                self.widened(&[a, b])?
            }
            Ir::When(arms, otherwise) => {
                let mut values = Vec::new();
                for (c, v) in arms {
                    self.of(c)?;
                    values.push(v);
                }
                values.push(otherwise);
                self.widened(&values)?
            }
            Ir::Tiers {
                base,
                rows,
                otherwise,
            } => {
                let mut results: Vec<&Ir> = Vec::new();
                for (_, bound, result) in rows {
                    self.widened(&[base, bound])?;
                    results.push(result);
                }
                results.extend(otherwise.as_deref());
                let zero = Ir::Const(Const::Num(Decimal::ZERO));
                if otherwise.is_none() {
                    results.push(&zero);
                }
                self.widened(&results)?
            }
            Ir::Progressive { base, rows } => self.progressive(base, rows)?,
            Ir::Call(f, args) => self.call(*f, args)?,
            Ir::Paid { last, .. } => (!last).then_some(PAID),
        })
    }

    /// An amount bounded by its cap (`LEAST` in the script): compared as
    /// the wider of the two, which Spark must hold without rounding.
    pub fn capped(&self, amount: &Ir, cap: &Ir) -> Result<Option<Dec>, Refusal> {
        self.widened(&[amount, cap])
    }

    /// The common type of values compared or chosen among.
    fn widened(&self, all: &[&Ir]) -> Result<Option<Dec>, Refusal> {
        let mut wide: Option<Dec> = None;
        for x in all {
            if let Some(t) = self.of(x)? {
                wide = Some(wide.map_or(t, |w| w.wider(t)));
            }
        }
        if let Some(w) = wide {
            if w.p > SPARK_DIGITS {
                return Err(format!(
                    "Spark compares or chooses among these numbers as {w}, wider than its 38 digits: it would round them first"
                ));
            }
        }
        Ok(wide)
    }

    fn arith(&self, op: ArithOp, a: Dec, b: Dec, divisor: &Ir) -> Result<Dec, Refusal> {
        let (sym, t) = match op {
            ArithOp::Add | ArithOp::Sub => {
                let s = a.s.max(b.s);
                let sym = if op == ArithOp::Add { "+" } else { "-" };
                (
                    sym,
                    Dec {
                        p: s + a.whole().max(b.whole()) + 1,
                        s,
                    },
                )
            }
            ArithOp::Mul => ("*", mul(a, b)),
            ArithOp::Div => {
                if let Ir::Const(Const::Num(d)) = divisor {
                    if d.is_zero() {
                        // missing for division by zero, as the engine: no digits
                        return Ok(a);
                    }
                    if let Some(r) = inverse(*d) {
                        if a == WIDE {
                            return wide_product(a, literal(&r));
                        }
                        return fits("/", mul(a, literal(&r)));
                    }
                }
                return quotient(a, b);
            }
        };
        if a == WIDE || b == WIDE {
            return match op {
                ArithOp::Mul => wide_product(a, b),
                // exact in DECIMAL(38,28) below 10^10, then the engine's rounding
                _ => Ok(WIDE),
            };
        }
        fits(sym, t)
    }

    fn progressive(&self, base: &Ir, rows: &[(Option<Ir>, Ir)]) -> Result<Option<Dec>, Refusal> {
        let Some(x) = self.of(base)? else {
            return Ok(None);
        };
        let mut floor = Dec { p: 1, s: 0 };
        let mut total = Dec { p: 1, s: 0 };
        for (bound, rate) in rows {
            let upper = match bound {
                Some(b) => match self.of(b)? {
                    Some(t) => x.wider(t),
                    None => x,
                },
                None => x,
            };
            let Some(rate) = self.of(rate)? else {
                return Ok(None);
            };
            let slice = fits(
                "-",
                Dec {
                    p: upper.s.max(floor.s) + upper.whole().max(floor.whole()) + 1,
                    s: upper.s.max(floor.s),
                },
            )?;
            let part = fits("*", mul(slice, rate))?;
            total = fits(
                "+",
                Dec {
                    p: total.s.max(part.s) + total.whole().max(part.whole()) + 1,
                    s: total.s.max(part.s),
                },
            )?;
            if let Some(b) = bound {
                if let Some(t) = self.of(b)? {
                    floor = floor.wider(t);
                }
            }
        }
        Ok(Some(total))
    }

    fn call(&self, f: Func, args: &[Ir]) -> Result<Option<Dec>, Refusal> {
        let all: Vec<&Ir> = args.iter().collect();
        Ok(match f {
            Func::Min | Func::Max | Func::Coalesce => self.widened(&all)?,
            Func::Abs => match args.first() {
                Some(x) => self.of(x)?,
                None => None,
            },
            Func::Round | Func::Floor => {
                let x = match args.first() {
                    Some(x) => self.of(x)?,
                    None => None,
                };
                let Some(Ir::Const(Const::Num(step))) = args.get(1) else {
                    return Err(format!(
                        "`{}` with a step that is not a number written in the policy: {STEP}",
                        f.name()
                    ));
                };
                let Some(x) = x else { return Ok(None) };
                if step.is_zero() {
                    return Ok(Some(x));
                }
                let r = inverse(*step)
                    .ok_or_else(|| format!("`{}` with step `{step}`: {STEP}", f.name()))?;
                if let (true, Some(j)) = (x == WIDE, decimals(*step)) {
                    // Spark's ROUND(x, j) / FLOOR(x, j): the engine's x / 10^-j
                    // is exact (the mantissa kept, the scale less by j)
                    return Ok(Some(fits(
                        f.name(),
                        Dec {
                            p: WIDE.whole() + 1 + j,
                            s: j,
                        },
                    )?));
                }
                let q = if x == WIDE {
                    wide_product(x, literal(&r))?
                } else {
                    fits("/", mul(x, literal(&r)))?
                };
                // ROUND(q, 0) and FLOOR(q): the whole digits, and one more
                let whole = Dec {
                    p: q.whole() + 1,
                    s: 0,
                };
                Some(fits("*", mul(whole, literal(step)))?)
            }
            Func::YearsBetween | Func::MonthsBetween | Func::Year => {
                for a in args {
                    self.of(a)?;
                }
                Some(COUNT)
            }
            Func::StartsWith => None,
        })
    }
}

fn mul(a: Dec, b: Dec) -> Dec {
    Dec {
        p: a.p + b.p + 1,
        s: a.s + b.s,
    }
}

/// `j` when `step` is 10^-j (1, 0.1, 0.01, …): rounding a quotient to it
/// is Spark's `ROUND(x, j)` / `FLOOR(x, j)`.
pub fn decimals(step: Decimal) -> Option<u32> {
    let n = step.normalize();
    (n.mantissa() == 1).then(|| n.scale())
}

/// `a / b` by a value that is not a number with a finite decimal inverse:
/// the engine's quotient, computed by long division in the script
/// (`super::expr`, `spark_div`), as [`WIDE`]. Its steps are exact in Spark
/// when both operands are narrow (at most 28 digits) and the remainder
/// times 10^14 fits in 38 digits.
fn quotient(a: Dec, b: Dec) -> Result<Dec, Refusal> {
    if a.p > ENGINE_DIGITS || b.p > ENGINE_DIGITS {
        return Err(WIDE_DIVISION.into());
    }
    let remainder = a.whole().min(b.whole()) + a.s.max(b.s);
    if remainder + 16 > SPARK_DIGITS {
        return Err(format!(
            "a division whose remainder Spark types DECIMAL({remainder},{}): the script's long division multiplies it by 10^14 within 38 digits",
            a.s.max(b.s)
        ));
    }
    Ok(WIDE)
}

/// `w * o` with `w` [`WIDE`]: `w`'s first 14 decimals and its last 14 are
/// multiplied by `o` apart, exact within 38 digits when `o` has at most 10
/// decimals and 24 digits (`super::expr`, `spark_product`).
fn wide_product(a: Dec, b: Dec) -> Result<Dec, Refusal> {
    let o = if a == WIDE { b } else { a };
    if o == WIDE || o.s > 10 || o.p > 24 {
        return Err(format!(
            "a product of a quotient (DECIMAL(38,28) in Spark) by {o}: exact in the script only by a number of at most 24 digits and 10 decimals"
        ));
    }
    Ok(WIDE)
}

/// A result type both compute exactly, or why not.
fn fits(sym: &str, t: Dec) -> Result<Dec, Refusal> {
    if t.p <= ENGINE_DIGITS {
        return Ok(t);
    }
    Err(if t.p > SPARK_DIGITS {
        format!(
            "Spark types this `{sym}` {t}, wider than its 38 digits: it would drop decimals (rounding half up) where the engine keeps 28 significant digits (rounding half to even)"
        )
    } else {
        format!(
            "Spark types this `{sym}` {t}: beyond the engine's 28 significant digits the engine rounds (half to even) where Spark keeps every digit"
        )
    })
}

pub const DIVISION: &str = "division by a value that is not a number written in the policy with a finite decimal inverse: Spark's decimal quotient keeps max(6, s1 + p2 + 1) decimals rounded half up, the engine's 28 significant digits rounded half to even";

const WIDE_DIVISION: &str = "a division of or by a quotient (DECIMAL(38,28) in Spark): the script's long division takes numbers of at most 28 digits";

const STEP: &str = "it divides by the step, and Spark's decimal quotient keeps other digits than the engine's (28 significant digits, half to even)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spark_types_follow_decimal_precision() {
        let money = Dec { p: 18, s: 2 };
        let pct = Dec { p: 9, s: 6 };
        assert_eq!(mul(money, pct), Dec { p: 28, s: 8 });
        assert!(fits("*", mul(money, pct)).is_ok());
        assert!(fits("*", mul(mul(money, pct), pct)).is_err());
        assert_eq!(literal(&Decimal::new(150, 2)), Dec { p: 2, s: 1 });
        assert_eq!(literal(&Decimal::new(5, 3)), Dec { p: 3, s: 3 });
        assert_eq!(inverse(Decimal::new(4, 1)), Some(Decimal::new(25, 1)));
        assert_eq!(inverse(Decimal::new(3, 0)), None);
        assert_eq!(inverse(Decimal::new(3, 1)), None);
        assert_eq!(inverse(Decimal::new(8, 0)), Some(Decimal::new(125, 3)));
        // 1 / 2^40 has 40 decimals: the engine rounds it, so it is refused
        assert_eq!(inverse(Decimal::from(1u64 << 40)), None);
        assert_eq!(
            inverse(Decimal::new(1, 28)),
            Some(Decimal::from_i128_with_scale(10i128.pow(28), 0))
        );
    }

    #[test]
    fn quotients_are_wide_and_admitted_where_the_script_is_exact() {
        let money = Dec { p: 18, s: 2 };
        let integer = Dec { p: 10, s: 0 };
        let number = Dec { p: 18, s: 6 };
        // money / integer: the remainder DECIMAL(12,2), times 10^14 fits
        assert_eq!(quotient(money, integer), Ok(WIDE));
        assert_eq!(quotient(number, Dec { p: 9, s: 6 }), Ok(WIDE));
        // a quotient is not divided again, nor a remainder too wide
        assert!(quotient(WIDE, integer).is_err());
        assert!(quotient(Dec { p: 28, s: 8 }, Dec { p: 28, s: 8 }).is_err());
        // a quotient times a narrow number, not times a quotient
        assert_eq!(wide_product(WIDE, number), Ok(WIDE));
        assert_eq!(wide_product(integer, WIDE), Ok(WIDE));
        assert!(wide_product(WIDE, WIDE).is_err());
        assert!(wide_product(WIDE, Dec { p: 28, s: 12 }).is_err());
        // the steps Spark rounds a quotient to directly
        assert_eq!(decimals(Decimal::new(1, 2)), Some(2));
        assert_eq!(decimals(Decimal::new(100, 2)), Some(0));
        assert_eq!(decimals(Decimal::new(5, 1)), None);
        assert_eq!(decimals(Decimal::new(10, 0)), None);
    }
}
