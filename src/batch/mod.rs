//! A batch run in bounded memory: firms are evaluated in parallel chunks,
//! their decisions kept compactly ([`store`]), settled across firms from
//! compact candidate lists, and written in key order ([`output`]).
//!
//! Every result is identical whatever the number of threads: chunks are
//! absorbed in input order, sums of exact decimals do not depend on order, and
//! output order is by key.

pub mod output;
pub mod rejects;
pub mod store;

use std::collections::HashMap;
use std::path::PathBuf;

use rust_decimal::Decimal;

use self::store::Store;
use crate::date::Date;
use crate::eval::expr::Scratch;
use crate::eval::value::V;
use crate::eval::{self, Outcome};
use crate::program::{Allocation, Program};
use crate::settle::alloc::OrderValue;
use crate::settle::{self, Candidate, Pair};
use crate::value::Record;

/// What a run is asked to do.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The reference date (`as_of`); never the clock.
    pub as_of: Date,
    /// Keep `ineligible` decisions too (`--all`).
    pub all: bool,
}

/// Counts and sums of one policy.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    pub eligible: u64,
    pub review: u64,
    pub amount: Decimal,
    pub overflow: bool,
}

impl Tally {
    fn add_amount(&mut self, a: Decimal) {
        match self.amount.checked_add(a) {
            Some(s) => self.amount = s,
            None => self.overflow = true,
        }
    }

    fn merge(&mut self, other: &Tally) {
        self.eligible += other.eligible;
        self.review += other.review;
        self.overflow |= other.overflow;
        self.add_amount(other.amount);
    }
}

/// The eligible firms of one policy settled across firms, as columns (only
/// the order columns the policy needs are filled).
#[derive(Clone, Debug, Default)]
pub struct Columns {
    pub firms: Vec<u32>,
    pub amounts: Vec<Option<Decimal>>,
    pub limit_by: Vec<Option<OrderValue>>,
    pub alloc_by: Vec<Option<OrderValue>>,
}

impl Columns {
    fn push(&mut self, c: &Candidate, limit: bool, alloc: bool) {
        self.firms.push(c.firm);
        self.amounts.push(c.amount);
        if limit {
            self.limit_by.push(c.limit_by);
        }
        if alloc {
            self.alloc_by.push(c.alloc_by);
        }
    }

    /// The same columns without the firms for which `gone` holds, and where
    /// each candidate went (`u32::MAX`: gone).
    fn without(&self, gone: impl Fn(u32) -> bool) -> (Columns, Vec<u32>) {
        let mut out = Columns::default();
        let mut moved = Vec::with_capacity(self.firms.len());
        for (i, &f) in self.firms.iter().enumerate() {
            if gone(f) {
                moved.push(u32::MAX);
                continue;
            }
            moved.push(u32::try_from(out.firms.len()).unwrap_or(u32::MAX));
            out.firms.push(f);
            out.amounts.push(self.amounts.get(i).copied().flatten());
            if let Some(v) = self.limit_by.get(i) {
                out.limit_by.push(*v);
            }
            if let Some(v) = self.alloc_by.get(i) {
                out.alloc_by.push(*v);
            }
        }
        (out, moved)
    }

    /// The candidates as settlement takes them.
    pub fn candidates(&self) -> Vec<Candidate> {
        (0..self.firms.len())
            .map(|i| Candidate {
                firm: self.firms.get(i).copied().unwrap_or_default(),
                amount: self.amounts.get(i).copied().flatten(),
                limit_by: self.limit_by.get(i).copied().flatten(),
                alloc_by: self.alloc_by.get(i).copied().flatten(),
            })
            .collect()
    }
}

/// A firm's place in the run.
pub struct FirmSlot {
    pub key: Box<str>,
    /// The line of its row in the data file.
    pub line: u64,
    start: u64,
    len: u32,
}

/// What one chunk of firms gave, before it joins the run.
pub struct Chunk {
    /// Each firm's key, line and block length.
    firms: Vec<(Box<str>, u64, u32)>,
    bytes: Vec<u8>,
    /// `(policy, firm index within the chunk, candidate, offset in bytes)`:
    /// at the offset, the candidate's index among the policy's candidates is
    /// written when the chunk joins the run.
    candidates: Vec<(u16, u32, Candidate, usize)>,
    tally: Vec<Tally>,
}

/// A run in progress.
pub struct Batch<'p> {
    program: &'p Program,
    opts: RunOptions,
    in_force: Vec<bool>,
    across: Vec<bool>,
    firms: Vec<FirmSlot>,
    store: Store,
    candidates: Vec<Columns>,
    tally: Vec<Tally>,
    /// Firm indices in key order, once sorted ([`Batch::duplicates`]).
    order: Option<Vec<u32>>,
    /// Per policy, where each stored candidate index went when firms were
    /// dropped ([`Batch::drop_rows`]); empty when none were.
    moved: Vec<Vec<u32>>,
}

/// Decisions kept in memory before spilling to disk.
pub const MEMORY_LIMIT: usize = 256 << 20;

impl<'p> Batch<'p> {
    /// Starts a run; decisions beyond [`MEMORY_LIMIT`] spill into `spill_dir`.
    pub fn new(program: &'p Program, opts: RunOptions, spill_dir: Option<PathBuf>) -> Batch<'p> {
        let n = program.policies.len();
        Batch {
            program,
            in_force: program
                .policies
                .iter()
                .map(|p| p.in_force(opts.as_of))
                .collect(),
            across: program.policies.iter().map(settle::across_firms).collect(),
            opts,
            firms: Vec::new(),
            store: Store::new(spill_dir, MEMORY_LIMIT),
            candidates: vec![Columns::default(); n],
            tally: vec![Tally::default(); n],
            order: None,
            moved: Vec::new(),
        }
    }

    /// Evaluates a chunk of firms (no shared state: call from any thread).
    pub fn evaluate(&self, records: &[Record]) -> Chunk {
        let program = self.program;
        let mut chunk = Chunk {
            firms: Vec::with_capacity(records.len()),
            bytes: Vec::new(),
            candidates: Vec::new(),
            tally: vec![Tally::default(); program.policies.len()],
        };
        let mut scratch = Scratch::default();
        let mut pairs = Vec::new();
        for (i, record) in records.iter().enumerate() {
            evaluate_firm(
                program,
                &self.in_force,
                record,
                &self.opts,
                &mut scratch,
                &mut pairs,
            );
            let start = chunk.bytes.len();
            for pair in &pairs {
                let p = pair.policy as usize;
                let Some(tally) = chunk.tally.get_mut(p) else {
                    continue;
                };
                let mut settled = None;
                match pair.outcome {
                    Outcome::Eligible if self.across.get(p).copied().unwrap_or(false) => {
                        // the index is filled in by `absorb`
                        settled = Some(0);
                        let c = Candidate {
                            firm: i as u32,
                            amount: pair.amount,
                            limit_by: pair.limit_by,
                            alloc_by: pair.alloc_by,
                        };
                        let at = chunk.bytes.len() + store::SETTLED_INDEX_AT;
                        chunk.candidates.push((pair.policy, i as u32, c, at));
                    }
                    Outcome::Eligible => {
                        tally.eligible += 1;
                        if let Some(a) = pair.amount {
                            tally.add_amount(a);
                        }
                    }
                    Outcome::Review => tally.review += 1,
                    Outcome::Ineligible if !self.opts.all => continue,
                    Outcome::Ineligible => {}
                }
                let reasons = pair.reasons.join(store::REASON_SEPARATOR);
                store::encode(
                    &mut chunk.bytes,
                    pair.policy,
                    pair.outcome,
                    pair.amount,
                    settled,
                    &reasons,
                );
            }
            let len = u32::try_from(chunk.bytes.len() - start).unwrap_or(u32::MAX);
            chunk
                .firms
                .push((record.key(program.schema.key).into(), record.row, len));
        }
        chunk
    }

    /// Adds an evaluated chunk, in input order.
    pub fn absorb(&mut self, mut chunk: Chunk) -> std::io::Result<()> {
        let first = self.firms.len() as u32;
        for (policy, firm, mut c, index_at) in chunk.candidates {
            c.firm = first + firm;
            let p = self.program.policies.get(policy as usize);
            let limit = p.is_some_and(|p| p.limit.is_some());
            let alloc = p.is_some_and(|p| matches!(p.allocate, Some(Allocation::By(..))));
            if let Some(cols) = self.candidates.get_mut(policy as usize) {
                let index = u32::try_from(cols.firms.len()).unwrap_or(u32::MAX);
                if let Some(slot) = chunk.bytes.get_mut(index_at..index_at + 4) {
                    slot.copy_from_slice(&index.to_le_bytes());
                }
                cols.push(&c, limit, alloc);
            }
        }
        let mut at = self.store.append(&chunk.bytes)?;
        for (key, line, len) in chunk.firms {
            self.firms.push(FirmSlot {
                key,
                line,
                start: at,
                len,
            });
            at += len as u64;
        }
        for (t, c) in self.tally.iter_mut().zip(&chunk.tally) {
            t.merge(c);
        }
        Ok(())
    }

    /// Firms evaluated so far.
    pub fn firms(&self) -> usize {
        self.firms.len()
    }

    /// Sorts the firms by key and finds every key on more than one row,
    /// among the firms and the `rejected` rows' keys, with those rows.
    pub fn duplicates(&mut self, rejected: &[(Box<str>, u64)]) -> HashMap<Box<str>, Vec<u64>> {
        let order = sorted_order(&self.firms);
        let firms = &self.firms;
        let line = |f: u32| firms.get(f as usize).map_or(0, |s| s.line);
        let mut found: HashMap<Box<str>, Vec<u64>> = HashMap::new();
        for run in order.chunk_by(|a, b| key(firms, *a) == key(firms, *b)) {
            let k = run.first().map_or("", |f| key(firms, *f));
            if run.len() > 1 && !k.is_empty() {
                found.insert(k.into(), run.iter().map(|f| line(*f)).collect());
            }
        }
        let mut others: Vec<&(Box<str>, u64)> =
            rejected.iter().filter(|(k, _)| !k.is_empty()).collect();
        others.sort_unstable();
        for run in others.chunk_by(|a, b| a.0 == b.0) {
            let Some((k, _)) = run.first() else { continue };
            let from = order.partition_point(|f| key(firms, *f) < &**k);
            let to = order.partition_point(|f| key(firms, *f) <= &**k);
            let same = order.get(from..to).unwrap_or_default();
            if run.len() + same.len() < 2 {
                continue;
            }
            let rows = found
                .entry(k.clone())
                .or_insert_with(|| same.iter().map(|f| line(*f)).collect());
            rows.extend(run.iter().map(|(_, l)| *l));
        }
        for rows in found.values_mut() {
            rows.sort_unstable();
        }
        self.order = Some(order);
        found
    }

    /// Takes out the firms read from these lines (sorted): their rows were
    /// rejected after all. Their decisions are dropped from the totals and
    /// from settlement across firms.
    pub fn drop_rows(&mut self, lines: &[u64]) -> std::io::Result<()> {
        let mut dropped = vec![false; self.firms.len()];
        let mut any = false;
        for l in lines {
            if let Ok(i) = self.firms.binary_search_by_key(l, |s| s.line) {
                if let Some(d) = dropped.get_mut(i) {
                    *d = true;
                    any = true;
                }
            }
        }
        if !any {
            return Ok(());
        }
        let gone = |f: u32| dropped.get(f as usize).copied().unwrap_or(false);
        let order = match self.order.take() {
            Some(o) => o,
            None => sorted_order(&self.firms),
        };
        self.order = Some(order.into_iter().filter(|f| !gone(*f)).collect());
        self.moved.clear();
        for cols in &mut self.candidates {
            let (kept, moved) = cols.without(gone);
            *cols = kept;
            self.moved.push(moved);
        }
        // the totals again, from what is stored for the firms that stay
        let mut tally = vec![Tally::default(); self.tally.len()];
        let mut buf = Vec::new();
        for (i, slot) in self.firms.iter().enumerate() {
            if gone(i as u32) {
                continue;
            }
            for s in store::decode(self.store.read(slot.start, slot.len, &mut buf)?) {
                let Some(t) = tally.get_mut(s.policy as usize) else {
                    continue;
                };
                match s.outcome {
                    Outcome::Eligible if s.settled.is_none() => {
                        t.eligible += 1;
                        if let Some(a) = s.amount {
                            t.add_amount(a);
                        }
                    }
                    Outcome::Review => t.review += 1,
                    _ => {}
                }
            }
        }
        self.tally = tally;
        Ok(())
    }
}

/// Firm indices in key order. Sorts on the first 16 bytes of each key as an
/// integer (same order as the bytes), falling back to the whole key on a tie.
fn sorted_order(firms: &[FirmSlot]) -> Vec<u32> {
    use rayon::prelude::*;
    let mut sortable: Vec<(u128, u32)> = (0..firms.len() as u32)
        .map(|f| (prefix(key(firms, f)), f))
        .collect();
    sortable.par_sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| key(firms, a.1).cmp(key(firms, b.1)))
            .then(a.1.cmp(&b.1))
    });
    sortable.into_iter().map(|(_, f)| f).collect()
}

/// The first 16 bytes of a key, big-endian, zero-padded: ordered as the bytes.
fn prefix(key: &str) -> u128 {
    let mut b = [0u8; 16];
    for (d, s) in b.iter_mut().zip(key.bytes()) {
        *d = s;
    }
    u128::from_be_bytes(b)
}

fn key(firms: &[FirmSlot], f: u32) -> &str {
    firms.get(f as usize).map_or("", |s| &s.key)
}

/// Evaluates every policy in force for one firm and applies the exclusive
/// groups (which only look at the firm's own decisions). Without `--all`,
/// ineligible decisions are left out. `scratch` and `pairs` are reused.
pub fn evaluate_firm<'a>(
    program: &'a Program,
    in_force: &[bool],
    record: &'a Record,
    opts: &RunOptions,
    scratch: &mut Scratch<'a>,
    pairs: &mut Vec<Pair>,
) {
    pairs.clear();
    let cells = &record.cells;
    scratch.firm(program);
    for (p, policy) in program.policies.iter().enumerate() {
        if !in_force.get(p).copied().unwrap_or(false) {
            continue;
        }
        let v = eval::verdict(program, policy, cells, opts.as_of, scratch, opts.all);
        if v.outcome == Outcome::Ineligible && !opts.all {
            continue;
        }
        let reasons =
            if v.outcome == Outcome::Review || (v.outcome == Outcome::Ineligible && opts.all) {
                eval::reasons(policy, &program.schema, &v, cells)
            } else {
                Vec::new()
            };
        let mut pair = Pair {
            policy: p as u16,
            outcome: v.outcome,
            amount: v.amount,
            funded: None,
            reasons,
            limit_by: None,
            alloc_by: None,
        };
        if v.outcome == Outcome::Eligible && (policy.limit.is_some() || policy.allocate.is_some()) {
            let env = scratch.env(program, Some(policy), cells, opts.as_of);
            if let Some(limit) = &policy.limit {
                pair.limit_by = order_value(env.eval(&limit.by));
            }
            if let Some(Allocation::By(by, _)) = &policy.allocate {
                pair.alloc_by = order_value(env.eval(by));
            }
        }
        pairs.push(pair);
    }
    if !program.exclusives.is_empty() {
        settle::exclusive(program, pairs, opts.all);
    }
}

fn order_value(v: V<'_>) -> Option<OrderValue> {
    match v {
        V::Num(n) => Some(OrderValue::Num(n)),
        V::Date(d) => Some(OrderValue::Date(d)),
        _ => None,
    }
}

/// Why a streamed run stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Data(#[from] crate::data::DataError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Rows read per batch from a data file; a batch is parsed and evaluated in
/// parallel while the next one is read.
pub const ROWS_PER_BATCH: usize = 16_384;

/// Streams a data file through a run: rows are parsed and evaluated in
/// parallel chunks while the next batch is read. Rejects go to `on_reject`
/// in row order once the file is read (when it is known which keys are on
/// several rows); `on_progress` hears the bytes read so far.
pub fn stream<'p>(
    program: &'p Program,
    data: &mut crate::data::stream::Stream,
    opts: RunOptions,
    spill_dir: Option<PathBuf>,
    mut on_reject: impl FnMut(&crate::data::Reject) -> std::io::Result<()>,
    mut on_progress: impl FnMut(u64),
) -> Result<Batch<'p>, RunError> {
    use crate::data::stream::{RawBatch, Seen};
    use rayon::prelude::*;
    let mut batch = Batch::new(program, opts, spill_dir.clone());
    let mut log = rejects::RejectLog::new(spill_dir);
    let mut seen = Seen::default();
    data.keep_fields(program.used_fields());
    let parser = data.parser();
    let mut current = RawBatch::default();
    let mut next = RawBatch::default();
    data.next_batch(ROWS_PER_BATCH, &mut current)?;
    while !current.rows().is_empty() {
        let work = &batch;
        let rows = current.rows();
        let (done, read) = rayon::join(
            || {
                rows.par_chunks(crate::run::CHUNK)
                    .map(|raw| {
                        let mut records = Vec::with_capacity(raw.len());
                        let mut rejects = Vec::new();
                        let mut seen = Seen::default();
                        for r in raw {
                            match parser.parse(r, &mut seen) {
                                Ok(rec) => records.push(rec),
                                Err(rs) => rejects.extend(rs),
                            }
                        }
                        (rejects, seen, work.evaluate(&records))
                    })
                    .collect::<Vec<_>>()
            },
            || data.next_batch(ROWS_PER_BATCH, &mut next),
        );
        for (rejects, more, chunk) in done {
            log.add(&rejects)?;
            seen.join(more);
            batch.absorb(chunk)?;
        }
        on_progress(data.position());
        read?;
        std::mem::swap(&mut current, &mut next);
    }
    data.add_seen(&seen);
    let duplicates = batch.duplicates(&seen.keys);
    let again = if duplicates.is_empty() {
        Vec::new()
    } else {
        data.reparse(duplicates)?
    };
    let lines: Vec<u64> = again.iter().map(|(line, _)| *line).collect();
    batch.drop_rows(&lines)?;
    log.replay(&again, &mut on_reject)?;
    Ok(batch)
}
