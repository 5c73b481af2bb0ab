//! The end of a run: settlement across firms, the totals, and decisions in
//! key order (rendered in parallel, written in order).

use std::io::Write;

use rayon::prelude::*;
use rust_decimal::Decimal;

use super::store::{self, Store, Stored};
use super::{key, Batch, FirmSlot, RunOptions};
use crate::eval::{self, Outcome};
use crate::program::Program;
use crate::settle::{self, BudgetNote, Firm, Pair, Settlement};

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

/// A settled run, ready to report.
pub struct Settled<'p> {
    program: &'p Program,
    opts: RunOptions,
    firms: Vec<FirmSlot>,
    /// Firm indices in key order.
    order: Vec<u32>,
    store: Store,
    /// See `Batch::moved`.
    moved: Vec<Vec<u32>>,
    settlements: Vec<Settlement>,
    summary: Vec<PolicySummary>,
}

/// Firms rendered per parallel task, and tasks per written window.
const RENDER_CHUNK: usize = 2048;
const WINDOW: usize = 32;

impl<'p> Batch<'p> {
    /// Settles across firms (limits, budgets) and computes the totals.
    pub fn finish(self) -> Settled<'p> {
        let Batch {
            program,
            opts,
            in_force,
            firms,
            store,
            candidates,
            tally,
            order,
            moved,
            ..
        } = self;
        let order = order.unwrap_or_else(|| super::sorted_order(&firms));
        // policies settle independently of each other: in parallel
        let settlements: Vec<Settlement> = program
            .policies
            .par_iter()
            .zip(candidates.par_iter())
            .map(|(policy, cols)| {
                if cols.firms.is_empty() && policy.budget.is_none() {
                    return Settlement::default();
                }
                settle::settle_policy(policy, &cols.candidates(), |f| key(&firms, f))
            })
            .collect();
        let evaluated = order.len() as u64;
        let summary = program
            .policies
            .iter()
            .enumerate()
            .map(|(p, policy)| {
                let force = in_force.get(p).copied().unwrap_or(false);
                let t = tally.get(p).cloned().unwrap_or_default();
                let (cands, s) = (candidates.get(p), settlements.get(p));
                let mut eligible = t.eligible;
                let mut amount = t.amount;
                let mut funded = t.amount;
                let mut overflow = t.overflow;
                if let (Some(cols), Some(s)) = (cands, s) {
                    for (i, a) in cols.amounts.iter().enumerate() {
                        if !s.kept.get(i).copied().unwrap_or(true) {
                            continue;
                        }
                        eligible += 1;
                        if let Some(a) = *a {
                            amount = amount.checked_add(a).unwrap_or_else(|| {
                                overflow = true;
                                amount
                            });
                        }
                        if let Some(f) = s.funded.get(i).copied().flatten() {
                            funded = funded.checked_add(f).unwrap_or_else(|| {
                                overflow = true;
                                funded
                            });
                        }
                    }
                }
                let evaluated = if force { evaluated } else { 0 };
                let has_amount = force && policy.amount.is_some();
                let mut note = s.map(|s| s.note.clone()).unwrap_or_default();
                if overflow {
                    note.error = Some("the amounts overflow when added up".into());
                }
                PolicySummary {
                    id: policy.id.clone(),
                    title: policy.title.clone(),
                    in_force: force,
                    evaluated,
                    eligible,
                    review: t.review,
                    ineligible: evaluated.saturating_sub(eligible + t.review),
                    amount: has_amount.then(|| eval::cents(amount)),
                    funded: has_amount.then(|| eval::cents(funded)),
                    budget: policy.budget.map(eval::cents),
                    note,
                }
            })
            .collect();
        Settled {
            program,
            opts,
            firms,
            order,
            store,
            moved,
            settlements,
            summary,
        }
    }
}

/// A decision ready to be written.
struct Line<'a> {
    outcome: Outcome,
    amount: Option<Decimal>,
    funded: Option<Decimal>,
    reasons: &'a str,
}

impl<'p> Settled<'p> {
    pub fn summary(&self) -> &[PolicySummary] {
        &self.summary
    }

    /// Firms in the run.
    pub fn firm_count(&self) -> usize {
        self.order.len()
    }

    /// The final form of a stored decision, or `None` when it is not written
    /// (ineligible without `--all`).
    fn line<'s>(&self, s: &Stored<'s>) -> Option<Line<'s>> {
        let mut line = Line {
            outcome: s.outcome,
            amount: s.amount,
            funded: None,
            reasons: s.reasons,
        };
        if s.outcome == Outcome::Eligible {
            line.funded = s.amount;
            if let Some(stored) = s.settled {
                let p = s.policy as usize;
                let settlement = self.settlements.get(p)?;
                let i = match self.moved.get(p) {
                    Some(moved) => *moved.get(stored as usize)? as usize,
                    None => stored as usize,
                };
                if !settlement.kept.get(i).copied().unwrap_or(true) {
                    line.outcome = Outcome::Ineligible;
                    line.amount = None;
                    line.funded = None;
                    line.reasons = settle::LIMIT_REASON;
                } else {
                    line.funded = settlement.funded.get(i).copied().flatten();
                }
            }
        }
        if line.outcome == Outcome::Ineligible && !self.opts.all {
            return None;
        }
        Some(line)
    }

    fn block<'s>(&'s self, firm: u32, buf: &'s mut Vec<u8>) -> std::io::Result<&'s [u8]> {
        match self.firms.get(firm as usize) {
            Some(slot) => self.store.read(slot.start, slot.len, buf),
            None => Ok(&[]),
        }
    }

    /// Writes decisions.csv: `key,policy,outcome,amount,funded,reasons`,
    /// sorted by key then policy id. Returns the number of decisions.
    pub fn write_decisions(&self, out: impl Write + Send) -> std::io::Result<u64> {
        type Parts = Vec<std::io::Result<(Vec<u8>, u64)>>;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
        out.write_all(b"key,policy,outcome,amount,funded,reasons\n")?;
        let mut count = 0u64;
        let write = |out: &mut std::io::BufWriter<_>, parts: Parts| -> std::io::Result<u64> {
            let mut n = 0;
            for part in parts {
                let (bytes, lines) = part?;
                out.write_all(&bytes)?;
                n += lines;
            }
            Ok(n)
        };
        // each window is rendered while the one before it is written
        let mut rendered: Parts = Vec::new();
        for window in self.order.chunks(RENDER_CHUNK * WINDOW) {
            let (next, written) = rayon::join(
                || {
                    window
                        .par_chunks(RENDER_CHUNK)
                        .map(|firms| self.render(firms))
                        .collect::<Parts>()
                },
                || write(&mut out, std::mem::take(&mut rendered)),
            );
            count += written?;
            rendered = next;
        }
        count += write(&mut out, rendered)?;
        out.flush()?;
        Ok(count)
    }

    fn render(&self, firms: &[u32]) -> std::io::Result<(Vec<u8>, u64)> {
        let mut out = Vec::with_capacity(firms.len() * 96);
        let mut buf = Vec::new();
        let mut n = 0u64;
        for &f in firms {
            let key = key(&self.firms, f);
            for s in store::decode(self.block(f, &mut buf)?) {
                let Some(line) = self.line(&s) else {
                    continue;
                };
                let id = self
                    .program
                    .policies
                    .get(s.policy as usize)
                    .map_or("", |p| p.id.as_str());
                csv_field(&mut out, key);
                out.push(b',');
                csv_field(&mut out, id);
                out.push(b',');
                out.extend_from_slice(line.outcome.as_str().as_bytes());
                out.push(b',');
                cents(&mut out, line.amount);
                out.push(b',');
                cents(&mut out, line.funded);
                out.push(b',');
                if line.reasons.contains(store::REASON_SEPARATOR) {
                    csv_field(
                        &mut out,
                        &line.reasons.replace(store::REASON_SEPARATOR, "; "),
                    );
                } else {
                    csv_field(&mut out, line.reasons);
                }
                out.push(b'\n');
                n += 1;
            }
        }
        Ok((out, n))
    }

    /// Every firm's decisions, in key order (for the library and tests).
    pub fn firms(&self) -> std::io::Result<Vec<Firm>> {
        let parts: Vec<std::io::Result<Vec<Firm>>> = self
            .order
            .par_chunks(RENDER_CHUNK)
            .map(|chunk| self.decode_firms(chunk))
            .collect();
        let mut out = Vec::with_capacity(self.order.len());
        for part in parts {
            out.extend(part?);
        }
        Ok(out)
    }

    fn decode_firms(&self, firms: &[u32]) -> std::io::Result<Vec<Firm>> {
        let mut out = Vec::with_capacity(firms.len());
        let mut buf = Vec::new();
        for &f in firms {
            let mut pairs = Vec::new();
            for s in store::decode(self.block(f, &mut buf)?) {
                let Some(line) = self.line(&s) else {
                    continue;
                };
                let reasons = if line.reasons.is_empty() {
                    Vec::new()
                } else {
                    line.reasons
                        .split(store::REASON_SEPARATOR)
                        .map(str::to_string)
                        .collect()
                };
                pairs.push(Pair {
                    policy: s.policy,
                    outcome: line.outcome,
                    amount: line.amount,
                    funded: line.funded,
                    reasons,
                    limit_by: None,
                    alloc_by: None,
                });
            }
            out.push(Firm {
                key: key(&self.firms, f).to_string(),
                pairs,
            });
        }
        Ok(out)
    }
}

/// A CSV field, quoted as the csv crate quotes (only when it holds a comma,
/// a quote or a line break; quotes doubled), so files read the same whoever
/// wrote them.
fn csv_field(out: &mut Vec<u8>, s: &str) {
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

/// Money with exactly two decimals (`60000.00`, `-0.50`), or nothing.
fn cents(out: &mut Vec<u8>, d: Option<Decimal>) {
    let Some(d) = d else { return };
    let m = eval::cents(d).mantissa();
    if m < 0 {
        out.push(b'-');
    }
    // digits from the right, at least three (`0.05`), the point before the
    // last two; in u64 arithmetic when the amount fits (u128 division is slow)
    let mut digits = [0u8; 40];
    let mut n = 0;
    let mut put = |digit: u8| {
        if let Some(d) = digits.get_mut(n) {
            *d = b'0' + digit;
        }
        n += 1;
    };
    let abs = m.unsigned_abs();
    match u64::try_from(abs) {
        Ok(mut small) => {
            let mut written = 0;
            while small > 0 || written < 3 {
                put((small % 10) as u8);
                small /= 10;
                written += 1;
            }
        }
        Err(_) => {
            let mut big = abs;
            while big > 0 {
                put((big % 10) as u8);
                big /= 10;
            }
        }
    }
    for (i, d) in digits.iter().take(n).enumerate().rev() {
        out.push(*d);
        if i == 2 {
            out.push(b'.');
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
        for f in ["plain", "a,b", "say \"hi\"", "two\nlines", "中文; 标签", ""] {
            let mut mine = Vec::new();
            csv_field(&mut mine, f);
            mine.push(b',');
            csv_field(&mut mine, "x");
            mine.push(b'\n');
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record([f, "x"]).unwrap();
            assert_eq!(mine, w.into_inner().unwrap(), "{f:?}");
        }
    }
}
