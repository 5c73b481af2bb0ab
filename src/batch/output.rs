//! The end of a run: settlement across firms, the totals, and decisions in
//! key order (rendered in parallel, written in order).

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use rayon::prelude::*;
use rust_decimal::Decimal;

use super::sort::{Got, Merge, Sorted};
use super::store::{self, Store, Stored};
use super::{Batch, FirmEntry, RunOptions, Skip};
use crate::eval::{self, Outcome};
use crate::program::Program;
use crate::settle::streamed::{self as settle, ByKey, Paid, Room};
use crate::settle::{BudgetNote, CapFigures, Firm, Pair};

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
    /// Every firm read, in key order (those dropped included).
    index: Sorted<FirmEntry, ByKey>,
    /// The firms taken out (their keys are on several rows), in key order.
    dropped: Option<Sorted<FirmEntry, ByKey>>,
    store: Store,
    /// Per policy settled across firms, each candidate's result in key order.
    paid: Vec<Option<Sorted<Paid, ByKey>>>,
    summary: Vec<PolicySummary>,
}

/// What writing decisions.csv gave: how many decisions, and what each
/// `combined` group's cap took.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Written {
    pub decisions: u64,
    pub caps: Vec<CapFigures>,
}

/// One parallel task's part of decisions.csv.
struct Rendered {
    bytes: Vec<u8>,
    lines: u64,
    caps: Vec<CapFigures>,
}

/// Firms rendered per parallel task, and tasks per written window.
const RENDER_CHUNK: usize = 2048;
const WINDOW: usize = 32;
/// Text rendered per window, roughly (two windows are held at once).
const WINDOW_BYTES: usize = 16 << 20;

impl<'p> Batch<'p> {
    /// Settles across firms (limits, budgets), policies side by side, and
    /// computes the totals.
    pub fn finish(mut self) -> std::io::Result<Settled<'p>> {
        self.sorted();
        let Batch {
            program,
            opts,
            in_force,
            spill_dir,
            memory,
            sorted,
            store,
            candidates,
            tally,
            dropped,
            ..
        } = self;
        let index = match sorted {
            Some(s) => s,
            None => super::sort::Sorter::new("index", ByKey, 0, None).finish(),
        };
        let firms = index
            .len()
            .saturating_sub(dropped.as_ref().map_or(0, Sorted::len));
        let room = Room {
            dir: spill_dir.clone(),
            // policies settle side by side, one per thread: beyond two
            // threads, each sort gets a share
            limit: (memory.work.saturating_mul(2) / rayon::current_num_threads().max(2))
                .max(1 << 20),
        };
        // the candidates of firms taken out leave (only when keys repeat)
        let candidates = match &dropped {
            None => candidates,
            Some(gone) => {
                // held in a table when they fit in one sort's share
                let set = settle::GoneSet::of(gone, room.limit)?;
                program
                    .policies
                    .iter()
                    .zip(candidates)
                    .map(|(policy, cands)| match cands {
                        Some(c) => {
                            settle::without(policy, c, gone, set.as_ref(), &room, memory.settle)
                                .map(Some)
                        }
                        None => Ok(None),
                    })
                    .collect::<std::io::Result<Vec<_>>>()?
            }
        };
        // Policies settle in parallel. What is held of candidates and of
        // results together stays within `memory.settle`: a policy's results
        // replace its candidates, and spill when they do not fit.
        let held = AtomicUsize::new(candidates.iter().flatten().map(|c| c.held()).sum());
        let settled: Vec<std::io::Result<Option<settle::Settlement>>> = program
            .policies
            .par_iter()
            .zip(candidates.into_par_iter())
            .zip(tally.par_iter())
            .map(|((policy, cands), t)| {
                let Some(cands) = cands else { return Ok(None) };
                let had = cands.held();
                let mut s = settle::settle(policy, cands.finish(), t, &room)?;
                let size = s.paid.held();
                let fits = held
                    .fetch_update(Relaxed, Relaxed, |h| {
                        let h = h.saturating_sub(had) + size;
                        (h <= memory.settle).then_some(h)
                    })
                    .is_ok();
                // results wait for the output in memory or in one file each
                if fits {
                    s.paid = s.paid.compact("paid", spill_dir.clone())?;
                } else {
                    let _ = held.fetch_update(Relaxed, Relaxed, |h| Some(h.saturating_sub(had)));
                    s.paid = s.paid.spill("paid", spill_dir.clone())?;
                }
                Ok(Some(s))
            })
            .collect();
        let mut paid = Vec::with_capacity(settled.len());
        let mut summary = Vec::with_capacity(settled.len());
        for (p, (policy, s)) in program.policies.iter().zip(settled).enumerate() {
            let t = tally.get(p).cloned().unwrap_or_default();
            let (eligible, amount, funded, overflow, mut note) = match s? {
                Some(s) => {
                    paid.push(Some(s.paid));
                    (s.eligible, s.amount, s.funded, s.overflow, s.note)
                }
                None => {
                    paid.push(None);
                    (
                        t.eligible,
                        t.amount,
                        t.amount,
                        t.overflow,
                        BudgetNote::default(),
                    )
                }
            };
            let force = in_force.get(p).copied().unwrap_or(false);
            if overflow {
                note.error = Some("the amounts overflow when added up".into());
            }
            let evaluated = if force { firms } else { 0 };
            let has_amount = force && policy.amount.is_some();
            summary.push(PolicySummary {
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
            });
        }
        Ok(Settled {
            program,
            opts,
            index,
            dropped,
            store,
            paid,
            summary,
        })
    }
}

/// A decision ready to be written.
struct Line<'a> {
    outcome: Outcome,
    amount: Option<Decimal>,
    funded: Option<Decimal>,
    reasons: &'a str,
}

/// Firms in key order, a window at a time, with the settled results of
/// the firms in the window.
struct Windows<'s> {
    store: &'s Store,
    firms: Merge<'s, FirmEntry, ByKey>,
    dropped: Option<Dropped<'s>>,
    /// Per policy settled across firms, its results.
    paid: Vec<Option<Merge<'s, Paid, ByKey>>>,
    /// Only the firms with decisions stored are taken (writing
    /// decisions.csv: a firm all of whose decisions were ineligible and
    /// not listed has no line to write, and most firms of a narrow run are
    /// such firms).
    stored_only: bool,
}

/// The firms taken out of the run (their keys on several rows), passed over
/// as the firms go by.
enum Dropped<'s> {
    /// Walked beside the firms, in key order (some of them are on disk).
    Walk(Skip<'s>),
    /// Their lines, when all are held in memory: a window's firms are then
    /// looked up on every core, where they are first read (the entries of
    /// the index, in key order, are scattered in memory: reading them one
    /// by one on one thread keeps the other cores waiting).
    Lines(std::collections::HashSet<u64>),
}

struct Window<'s> {
    firms: Vec<Got<'s, FirmEntry>>,
    /// Per policy, the results of the window's firms, in key order.
    paid: Vec<Vec<Got<'s, Paid>>>,
    /// The decisions of the window's firms that were spilled to disk, read
    /// in a few long stretches ([`spilled_decisions`]), and per firm where
    /// its own start in them (`usize::MAX`: held in memory).
    spilled: Vec<u8>,
    at: Vec<usize>,
}

impl Window<'_> {
    /// The `i`-th firm's decisions when they were read with the window.
    fn decisions(&self, i: usize) -> Option<&[u8]> {
        let at = *self.at.get(i)?;
        let len = self.firms.get(i)?.len as usize;
        self.spilled.get(at..at.checked_add(len)?)
    }
}

/// Spilled bytes between two firms' decisions read through rather than
/// read apart (the firms of one key range are one stretch of each run
/// spilled, but for those taken out).
const GAP: u64 = 64 << 10;

/// The decisions of `firms` that are in the store's file, read in long
/// stretches: each run of the index spilled them in key order, so the
/// firms of a window, in key order too, are a stretch of each run. Returns
/// the bytes read and where each firm's start (`usize::MAX`: not spilled).
fn spilled_decisions(
    store: &Store,
    firms: &[Got<'_, FirmEntry>],
) -> std::io::Result<(Vec<u8>, Vec<usize>)> {
    let edge = store.spilled();
    let mut on_disk: Vec<(u64, u32, usize)> = firms
        .iter()
        .enumerate()
        .filter(|(_, f)| f.start < edge)
        .map(|(i, f)| (f.start, f.len, i))
        .collect();
    if on_disk.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    on_disk.sort_unstable();
    let mut at = vec![usize::MAX; firms.len()];
    let mut bytes = Vec::new();
    let mut rest = &on_disk[..];
    while let Some(&(from, len, _)) = rest.first() {
        let mut end = from + u64::from(len);
        let mut n = 1;
        for &(start, len, _) in rest.get(1..).unwrap_or_default() {
            if start > end.saturating_add(GAP) {
                break;
            }
            end = end.max(start + u64::from(len));
            n += 1;
        }
        let base = bytes.len();
        let size = usize::try_from(end - from).map_err(std::io::Error::other)?;
        bytes.resize(base + size, 0);
        store.read_spilled(from, bytes.get_mut(base..).unwrap_or_default())?;
        let (stretch, after) = rest.split_at(n.min(rest.len()));
        for &(start, _, i) in stretch {
            if let Some(a) = at.get_mut(i) {
                *a = base + (start - from) as usize;
            }
        }
        rest = after;
    }
    Ok((bytes, at))
}

impl<'s> Windows<'s> {
    fn next(&mut self, size: usize) -> std::io::Result<Option<Window<'s>>> {
        let mut firms = Vec::with_capacity(size);
        loop {
            let mut ended = false;
            while firms.len() < size {
                let Some(f) = self.firms.next().transpose()? else {
                    ended = true;
                    break;
                };
                let gone = match &mut self.dropped {
                    Some(Dropped::Walk(skip)) => skip.skips(&f.key, f.line)?,
                    Some(Dropped::Lines(_)) | None => false,
                };
                if gone || (self.stored_only && f.len == 0) {
                    continue;
                }
                firms.push(f);
            }
            if let Some(Dropped::Lines(lines)) = &self.dropped {
                // a window of fewer firms; none only at the end
                firms = firms
                    .into_par_iter()
                    .filter(|f| !lines.contains(&f.line))
                    .collect();
            }
            if ended || !firms.is_empty() {
                break;
            }
        }
        let Some(last) = firms.last() else {
            return Ok(None);
        };
        let mut paid = Vec::with_capacity(self.paid.len());
        for results in &mut self.paid {
            let mut got = Vec::new();
            if let Some(merge) = results {
                while let Some(h) =
                    merge.next_if(|h| (&*h.key, h.line) <= (&*last.key, last.line))?
                {
                    got.push(h);
                }
            }
            paid.push(got);
        }
        let (spilled, at) = spilled_decisions(self.store, &firms)?;
        Ok(Some(Window {
            firms,
            paid,
            spilled,
            at,
        }))
    }
}

/// Where each policy's results stand while firms are taken in key order:
/// a policy's results are those of its settled firms, in the same order, so
/// each settled decision takes the next one.
struct Cursor<'w, 's> {
    paid: &'w [Vec<Got<'s, Paid>>],
    at: Vec<usize>,
}

impl<'w, 's> Cursor<'w, 's> {
    /// Starts at `first` (the results of firms before it are passed over).
    fn new(paid: &'w [Vec<Got<'s, Paid>>], first: Option<&FirmEntry>) -> Self {
        let at = paid
            .iter()
            .map(|results| match first {
                Some(f) => results.partition_point(|p| (&*p.key, p.line) < (&*f.key, f.line)),
                None => 0,
            })
            .collect();
        Cursor { paid, at }
    }

    /// The result of `firm`'s decision of `policy`.
    fn next(&mut self, policy: u16, firm: &FirmEntry) -> Option<&'w Paid> {
        let p = policy as usize;
        let at = self.at.get_mut(p)?;
        let paid = self.paid.get(p)?.get(*at)?;
        *at += 1;
        (paid.line == firm.line).then_some(&**paid)
    }
}

impl<'p> Settled<'p> {
    pub fn summary(&self) -> &[PolicySummary] {
        &self.summary
    }

    /// Firms in the run.
    pub fn firm_count(&self) -> usize {
        let gone = self.dropped.as_ref().map_or(0, Sorted::len);
        usize::try_from(self.index.len().saturating_sub(gone)).unwrap_or(usize::MAX)
    }

    /// The firms in key order, window by window; with `stored_only`, only
    /// those with decisions stored ([`Windows::stored_only`]).
    fn windows(&self, stored_only: bool) -> Windows<'_> {
        Windows {
            stored_only,
            store: &self.store,
            firms: self.index.iter(),
            dropped: self.dropped.as_ref().map(|d| match d.held_in_order() {
                Some(held) => Dropped::Lines(
                    (0..held.len())
                        .filter_map(|i| Some(held.get(i)?.line))
                        .collect(),
                ),
                None => Dropped::Walk(Skip::new(d.iter())),
            }),
            paid: self
                .paid
                .iter()
                .map(|p| p.as_ref().map(Sorted::iter))
                .collect(),
        }
    }

    /// The final form of a stored decision, or `None` when it is not written
    /// (ineligible without `--all`). `paid` is its settlement, if settled.
    fn line<'s>(&self, s: &Stored<'s>, paid: Option<&Paid>) -> Option<Line<'s>> {
        let mut line = Line {
            outcome: s.outcome,
            amount: s.amount,
            funded: None,
            reasons: s.reasons,
        };
        if s.outcome == Outcome::Eligible {
            line.funded = s.amount;
            if let Some(paid) = paid {
                if !paid.kept {
                    line.outcome = Outcome::Ineligible;
                    line.amount = None;
                    line.funded = None;
                    line.reasons = eval::LIMIT_STORED;
                } else {
                    line.funded = paid.funded;
                }
            }
        }
        if line.outcome == Outcome::Ineligible && !self.opts.all {
            return None;
        }
        Some(line)
    }

    /// Each decision of a firm as stored, and in its final form when it is
    /// written.
    fn each<'s>(
        &'s self,
        firm: &FirmEntry,
        read: Option<&'s [u8]>,
        paid: &mut Cursor<'_, '_>,
        buf: &'s mut Vec<u8>,
        mut f: impl FnMut(&Stored<'_>, Option<Line<'_>>),
    ) -> std::io::Result<()> {
        let bytes = match read {
            Some(bytes) => bytes,
            None => self.store.read(firm.start, firm.len, buf)?,
        };
        for s in store::decode(bytes) {
            let settled = if s.settled {
                match paid.next(s.policy, firm) {
                    Some(p) => Some(p),
                    None => {
                        return Err(std::io::Error::other(format!(
                            "settlement lost the decision of firm `{}` (line {})",
                            firm.key, firm.line
                        )))
                    }
                }
            } else {
                None
            };
            f(&s, self.line(&s, settled));
        }
        Ok(())
    }

    /// Writes decisions.csv: `key,policy,outcome,amount,funded,reasons`,
    /// sorted by key then policy id. Returns the number of decisions.
    pub fn write_decisions(&self, out: impl Write + Send) -> std::io::Result<Written> {
        type Parts = Vec<std::io::Result<Rendered>>;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
        out.write_all(crate::report::decisions::HEADER.as_bytes())?;
        let mut count = 0u64;
        let mut caps = vec![CapFigures::default(); self.program.combined.len()];
        let mut write = |out: &mut std::io::BufWriter<_>, parts: Parts| -> std::io::Result<u64> {
            let mut n = 0;
            for part in parts {
                let part = part?;
                out.write_all(&part.bytes)?;
                n += part.lines;
                CapFigures::merge(&mut caps, &part.caps);
            }
            Ok(n)
        };
        // each window is rendered while the one before it is written and
        // the one after it is taken from the index (one core's walk)
        let mut rendered: Parts = Vec::new();
        let mut windows = self.windows(true);
        // each policy's id as a field, quoted once
        let ids: Vec<Vec<u8>> = self
            .program
            .policies
            .iter()
            .map(|p| {
                let mut f = Vec::new();
                crate::report::decisions::field(&mut f, &p.id);
                f
            })
            .collect();
        // the first windows of two tasks, then sized by what the last
        // rendered window gave
        let mut size = RENDER_CHUNK * 2;
        let mut current = windows.next(size)?;
        // the window before, dropped beside the rendering (not on the thread
        // that waits for both)
        let mut done: Option<Window<'_>> = None;
        // bytes a firm's lines took in the window before
        let mut per_firm = 96;
        while let Some(window) = current {
            let (next, (written, following)) = rayon::join(
                || {
                    window
                        .firms
                        .par_chunks(RENDER_CHUNK)
                        .enumerate()
                        .map(|(c, firms)| {
                            self.render(&window, c * RENDER_CHUNK, firms, &ids, per_firm)
                        })
                        .collect::<Parts>()
                },
                || {
                    drop(done.take());
                    let written = write(&mut out, std::mem::take(&mut rendered));
                    (written, windows.next(size))
                },
            );
            count += written?;
            current = following?;
            // the windows after, about WINDOW_BYTES of text (firms with many
            // decisions, `--all`, long reasons: fewer firms)
            let bytes: usize = next
                .iter()
                .map(|p| p.as_ref().map_or(0, |p| p.bytes.len()))
                .sum();
            size = (WINDOW_BYTES.saturating_mul(window.firms.len()) / bytes.max(1))
                .clamp(RENDER_CHUNK, RENDER_CHUNK * WINDOW);
            // a little more than the average, so a chunk's text seldom grows
            per_firm = (bytes / window.firms.len().max(1))
                .saturating_add(16)
                .min(1 << 16);
            rendered = next;
            done = Some(window);
        }
        drop(done);
        count += write(&mut out, rendered)?;
        out.flush()?;
        Ok(Written {
            decisions: count,
            caps,
        })
    }

    /// Renders `firms`, the window's from its `first`-th on.
    fn render(
        &self,
        window: &Window<'_>,
        first: usize,
        firms: &[Got<'_, FirmEntry>],
        ids: &[Vec<u8>],
        per_firm: usize,
    ) -> std::io::Result<Rendered> {
        let paid = &window.paid;
        let mut out = Vec::with_capacity(firms.len().saturating_mul(per_firm));
        let mut text = String::new();
        let mut buf = Vec::new();
        let mut n = 0u64;
        let mut caps = vec![CapFigures::default(); self.program.combined.len()];
        let (mut shaped, mut seen) = (Vec::new(), Vec::new());
        let mut paid = Cursor::new(paid, firms.first().map(|f| &**f));
        let mut key = Vec::new();
        for (i, f) in firms.iter().enumerate() {
            shaped.clear();
            key.clear();
            crate::report::decisions::field(&mut key, &f.key);
            let read = window.decisions(first + i);
            self.each(f, read, &mut paid, &mut buf, |s, line| {
                if !caps.is_empty() {
                    let eligible = s.outcome == Outcome::Eligible;
                    shaped.extend(
                        eval::Reason::stored_combined(s.reasons).map(|(g, cut)| (g, cut, eligible)),
                    );
                }
                let Some(line) = line else {
                    return;
                };
                let id = ids.get(s.policy as usize).map_or(&[][..], |p| &p[..]);
                text.clear();
                eval::Reason::render_stored(line.reasons, &mut text);
                crate::report::decisions::line_of(
                    &mut out,
                    &key,
                    id,
                    line.outcome,
                    line.amount,
                    line.funded,
                    &text,
                );
                n += 1;
            })?;
            if !shaped.is_empty() {
                CapFigures::count_firm(&mut caps, &mut seen, shaped.drain(..));
            }
        }
        Ok(Rendered {
            bytes: out,
            lines: n,
            caps,
        })
    }

    /// The decisions of the firm whose key is `key`, if it is in the run
    /// (read window by window: nothing else is decoded or held).
    pub fn firm(&self, key: &str) -> std::io::Result<Option<Firm>> {
        let mut windows = self.windows(false);
        while let Some(window) = windows.next(RENDER_CHUNK * WINDOW)? {
            if let Some(i) = window.firms.iter().position(|f| &*f.key == key) {
                let f = window.firms.get(i..=i).unwrap_or_default();
                return Ok(self.decode_firms(&window, i, f)?.pop());
            }
            if window.firms.last().is_some_and(|f| &*f.key > key) {
                break;
            }
        }
        Ok(None)
    }

    /// Publishing: each firm of a profile run ([`super::RunOptions::profile`])
    /// in key order, with the texts kept of it (read window by window).
    pub fn profiles(
        &self,
        mut f: impl FnMut(&str, Vec<String>) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mut windows = self.windows(false);
        let mut buf = Vec::new();
        while let Some(window) = windows.next(RENDER_CHUNK * WINDOW)? {
            for (i, firm) in window.firms.iter().enumerate() {
                let mut bytes = match window.decisions(i) {
                    Some(bytes) => bytes,
                    None => self.store.read(firm.start, firm.len, &mut buf)?,
                };
                let mut texts = Vec::new();
                while let Some(t) = store::take_text(&mut bytes) {
                    texts.push(t);
                }
                f(&firm.key, texts)?;
            }
        }
        Ok(())
    }

    /// Every firm's decisions, in key order (for the library and tests).
    pub fn firms(&self) -> std::io::Result<Vec<Firm>> {
        let mut out = Vec::with_capacity(self.firm_count());
        let mut windows = self.windows(false);
        while let Some(window) = windows.next(RENDER_CHUNK * WINDOW)? {
            let parts: Vec<std::io::Result<Vec<Firm>>> = window
                .firms
                .par_chunks(RENDER_CHUNK)
                .enumerate()
                .map(|(c, chunk)| self.decode_firms(&window, c * RENDER_CHUNK, chunk))
                .collect();
            for part in parts {
                out.extend(part?);
            }
        }
        Ok(out)
    }

    /// The decisions of `firms`, the window's from its `first`-th on.
    fn decode_firms(
        &self,
        window: &Window<'_>,
        first: usize,
        firms: &[Got<'_, FirmEntry>],
    ) -> std::io::Result<Vec<Firm>> {
        let paid = &window.paid;
        let mut out = Vec::with_capacity(firms.len());
        let mut buf = Vec::new();
        let mut paid = Cursor::new(paid, firms.first().map(|f| &**f));
        for (i, f) in firms.iter().enumerate() {
            let mut pairs = Vec::new();
            let read = window.decisions(first + i);
            self.each(f, read, &mut paid, &mut buf, |s, line| {
                let Some(line) = line else {
                    return;
                };
                let reasons = eval::Reason::restore(line.reasons);
                pairs.push(Pair {
                    policy: s.policy,
                    outcome: line.outcome,
                    amount: line.amount,
                    funded: line.funded,
                    reasons,
                    limit_by: None,
                    alloc_by: None,
                });
            })?;
            out.push(Firm {
                key: f.key.to_string(),
                pairs,
            });
        }
        Ok(out)
    }
}
