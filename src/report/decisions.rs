//! `decisions.csv`, line by line: the contract's columns and number forms.
//! The batch renders its windows of decisions through [`line_of`], in
//! parallel; nothing else writes a decision.

use rust_decimal::Decimal;

use crate::eval::{self, Outcome};

/// The header of `decisions.csv`.
pub const HEADER: &str = "key,policy,outcome,amount,funded,reasons\n";

/// One decision as a line of `decisions.csv`: key, policy id, outcome,
/// amount and funded with two decimals (empty when none), the reasons as
/// written (`; ` between). (What [`line_of`] writes, given the key and the
/// policy id as texts.)
#[cfg(test)]
pub fn line(
    out: &mut Vec<u8>,
    key: &str,
    policy: &str,
    outcome: Outcome,
    amount: Option<Decimal>,
    funded: Option<Decimal>,
    reasons: &str,
) {
    let (mut k, mut p) = (Vec::new(), Vec::new());
    field(&mut k, key);
    field(&mut p, policy);
    line_of(out, &k, &p, outcome, amount, funded, reasons);
}

/// [`line`] with the key and the policy id already as fields ([`field`]):
/// a firm's key and each policy's id are quoted once, not once a line.
pub fn line_of(
    out: &mut Vec<u8>,
    key: &[u8],
    policy: &[u8],
    outcome: Outcome,
    amount: Option<Decimal>,
    funded: Option<Decimal>,
    reasons: &str,
) {
    out.extend_from_slice(key);
    out.push(b',');
    out.extend_from_slice(policy);
    out.push(b',');
    out.extend_from_slice(outcome.as_str().as_bytes());
    out.push(b',');
    cents(out, amount);
    out.push(b',');
    cents(out, funded);
    out.push(b',');
    field(out, reasons);
    out.push(b'\n');
}

/// A text as a CSV field appended to `out`, quoted as the csv crate quotes
/// (only when it holds a comma, a quote or a line break; quotes doubled),
/// so files read the same whoever wrote them.
pub fn field(out: &mut Vec<u8>, s: &str) {
    if !s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    out.push(b'"');
    for b in s.bytes() {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// The mantissa of `d` rescaled to two decimals (`eval::cents`): amounts
/// are mostly whole cents or whole units already, taken without rescaling
/// while the cents fit in a decimal's 96 bits.
fn cents_of(d: Decimal) -> i128 {
    const MAX: i128 = (1 << 96) - 1;
    let m = d.mantissa();
    let fast = match d.scale() {
        2 => Some(m),
        1 => Some(m * 10),
        0 => Some(m * 100),
        _ => None,
    };
    match fast {
        Some(c) if c.unsigned_abs() <= MAX as u128 => c,
        _ => eval::cents(d).mantissa(),
    }
}

/// Money with exactly two decimals (`60000.00`, `-0.50`), or nothing.
fn cents(out: &mut Vec<u8>, d: Option<Decimal>) {
    let Some(d) = d else { return };
    let m = cents_of(d);
    if m < 0 {
        out.push(b'-');
    }
    let mut buf = itoa::Buffer::new();
    // most amounts fit in 64 bits, whose digits come faster
    let digits = match u64::try_from(m.unsigned_abs()) {
        Ok(small) => buf.format(small),
        Err(_) => buf.format(m.unsigned_abs()),
    }
    .as_bytes();
    // the point before the last two digits, at least one before it
    match digits.len() {
        n @ 3.. => {
            let (whole, fraction) = digits.split_at(n - 2);
            out.extend_from_slice(whole);
            out.push(b'.');
            out.extend_from_slice(fraction);
        }
        n => {
            out.extend_from_slice(if n == 2 { b"0." } else { b"0.0" });
            out.extend_from_slice(digits);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_cents_and_fields_like_the_csv_crate() {
        let mut out = Vec::new();
        for d in [
            "60000",
            "0.5",
            "-0.5",
            "12.345",
            "0",
            "0.05",
            "-0.05",
            "1",
            "-7",
            "123456789012345678901234.5678",
            "-79228162514264337593543950.335",
        ] {
            out.clear();
            cents(&mut out, Some(d.parse().unwrap()));
            let expected = eval::cents(d.parse().unwrap()).to_string();
            assert_eq!(String::from_utf8_lossy(&out), expected);
        }
        // every scale, mantissas small and huge, both signs: as rescaled
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let hi = if next() % 4 == 0 { next() as u32 } else { 0 };
            let mid = if next() % 2 == 0 { next() as u32 } else { 0 };
            let lo = next() as u32 % if next() % 2 == 0 { 1000 } else { u32::MAX };
            let d = Decimal::from_parts(lo, mid, hi, next() % 2 == 0, (next() % 29) as u32);
            out.clear();
            cents(&mut out, Some(d));
            assert_eq!(cents_of(d), eval::cents(d).mantissa(), "{d:?}");
            let c = eval::cents(d);
            if !c.is_zero() && c.scale() == 2 {
                // (a negative zero is written `0.00`; an amount too large
                // for two places keeps its digits, the point before the last two)
                assert_eq!(String::from_utf8_lossy(&out), c.to_string(), "{d:?}");
            }
            let (mut a, mut b) = (Vec::new(), Vec::new());
            line(&mut a, "k,1", "p", Outcome::Eligible, Some(d), None, "r");
            line_of(
                &mut b,
                b"\"k,1\"",
                b"p",
                Outcome::Eligible,
                Some(d),
                None,
                "r",
            );
            assert_eq!(a, b);
        }
        for f in ["plain", "a,b", "say \"hi\"", "two\nlines", "中文; 标签", ""] {
            let mut mine = Vec::new();
            field(&mut mine, f);
            mine.push(b',');
            field(&mut mine, "x");
            mine.push(b'\n');
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record([f, "x"]).unwrap();
            assert_eq!(mine, w.into_inner().unwrap(), "{f:?}");
        }
    }
}
