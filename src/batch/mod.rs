//! A batch run in bounded memory: firms are evaluated in parallel chunks,
//! their decisions kept compactly ([`store`]), settled across firms from
//! compact candidate lists, and written in key order ([`output`]).
//!
//! Every result is identical whatever the number of threads: chunks are
//! absorbed in input order, sums of exact decimals do not depend on order, and
//! output order is by key.

pub mod output;
pub mod store;

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
    start: u64,
    len: u32,
}

/// What one chunk of firms gave, before it joins the run.
pub struct Chunk {
    firms: Vec<(Box<str>, u32)>,
    bytes: Vec<u8>,
    /// `(policy, firm index within the chunk, candidate)`.
    candidates: Vec<(u16, u32, Candidate)>,
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
                let mut settled = false;
                match pair.outcome {
                    Outcome::Eligible if self.across.get(p).copied().unwrap_or(false) => {
                        settled = true;
                        let c = Candidate {
                            firm: i as u32,
                            amount: pair.amount,
                            limit_by: pair.limit_by,
                            alloc_by: pair.alloc_by,
                        };
                        chunk.candidates.push((pair.policy, i as u32, c));
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
                .push((record.key(program.schema.key).into(), len));
        }
        chunk
    }

    /// Adds an evaluated chunk, in input order.
    pub fn absorb(&mut self, chunk: Chunk) -> std::io::Result<()> {
        let first = self.firms.len() as u32;
        let mut at = self.store.append(&chunk.bytes)?;
        for (key, len) in chunk.firms {
            self.firms.push(FirmSlot {
                key,
                start: at,
                len,
            });
            at += len as u64;
        }
        for (policy, firm, mut c) in chunk.candidates {
            c.firm = first + firm;
            let p = self.program.policies.get(policy as usize);
            let limit = p.is_some_and(|p| p.limit.is_some());
            let alloc = p.is_some_and(|p| matches!(p.allocate, Some(Allocation::By(..))));
            if let Some(cols) = self.candidates.get_mut(policy as usize) {
                cols.push(&c, limit, alloc);
            }
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
        settle::exclusive(program, pairs);
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
/// parallel chunks, rejects handed to `on_reject` in row order.
pub fn stream<'p>(
    program: &'p Program,
    data: &mut crate::data::stream::Stream,
    opts: RunOptions,
    spill_dir: Option<PathBuf>,
    mut on_reject: impl FnMut(&crate::data::Reject) -> std::io::Result<()>,
    mut on_rows: impl FnMut(u64),
) -> Result<Batch<'p>, RunError> {
    use rayon::prelude::*;
    let mut batch = Batch::new(program, opts, spill_dir);
    data.keep_fields(program.used_fields());
    let parser = data.parser();
    let mut current = crate::data::stream::RawBatch::default();
    let mut next = crate::data::stream::RawBatch::default();
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
                        for r in raw {
                            match parser.parse(r) {
                                Ok(rec) => records.push(rec),
                                Err(rs) => rejects.extend(rs),
                            }
                        }
                        (rejects, work.evaluate(&records))
                    })
                    .collect::<Vec<_>>()
            },
            || data.next_batch(ROWS_PER_BATCH, &mut next),
        );
        for (rejects, chunk) in done {
            for r in &rejects {
                on_reject(r)?;
            }
            batch.absorb(chunk)?;
        }
        on_rows(rows.len() as u64);
        read?;
        std::mem::swap(&mut current, &mut next);
    }
    Ok(batch)
}
