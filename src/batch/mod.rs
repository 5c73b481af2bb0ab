//! A batch run in bounded memory: firms are evaluated in parallel chunks,
//! their decisions kept compactly ([`store`]), their keys indexed and their
//! candidates for settlement gathered in sorts that spill to disk past a
//! limit ([`sort`], [`Memory`]), settled across firms one sorted pass at a
//! time ([`crate::settle::streamed`]), and written in key order ([`output`]).
//!
//! Every result is identical whatever the number of threads and the memory
//! limits: chunks are absorbed in input order, every sort order is total,
//! output order is by key, and sums of decimals do not depend on order while
//! they fit in 28 significant digits (docs/language.md).

mod aligned;
pub mod joined;
mod memory;
pub mod output;
pub mod records;
pub mod rejects;
mod repeated;
pub mod sort;
pub mod store;
#[cfg(test)]
mod stream_tests;

pub use self::memory::{Memory, Spill, DEFAULT_MEMORY};
pub use self::repeated::ByLine;
pub(crate) use self::repeated::Skip;

use std::cmp::Ordering;
use std::path::PathBuf;

use rust_decimal::Decimal;

use self::sort::{key_heap, put_text, take_array, take_key, Item, Key, Order, Sorted, Sorter};
use self::store::Store;
use crate::data::stream::DupRow;
use crate::date::Date;
use crate::eval::expr::Scratch;
use crate::eval::value::V;
use crate::eval::{self, Outcome};
use crate::program::{Allocation, Program};
use crate::record::{Cell, Record};
use crate::settle::alloc::OrderValue;
use crate::settle::streamed::{ByKey, Cand, CandOrder};
use crate::settle::{self as settlement, Pair};

/// What a run is asked to do.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The reference date (`as_of`); never the clock.
    pub as_of: Date,
    /// Keep `ineligible` decisions too (`--all`).
    pub all: bool,
    /// The prior payments `paid` and `last_paid` read (`--ledger`); a set
    /// that reads them without one reads no payment.
    pub ledger: Option<std::sync::Arc<crate::data::ledger::Ledger>>,
    /// Publishing ([`crate::publish`]): evaluate nothing, and keep for each
    /// firm the run would evaluate the texts of these fields (by schema
    /// index), read by [`output::Settled::profiles`]. The firms, their
    /// rejects and their joins are the run's own.
    pub profile: Option<std::sync::Arc<[usize]>>,
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

    /// Counts a stored decision (`sign` -1 takes it back out).
    fn count(&mut self, s: &store::Stored<'_>, sign: i64) {
        match s.outcome {
            Outcome::Eligible if !s.settled => {
                self.eligible = self.eligible.saturating_add_signed(sign);
                if let Some(a) = s.amount {
                    self.add_amount(if sign < 0 { -a } else { a });
                }
            }
            Outcome::Review => self.review = self.review.saturating_add_signed(sign),
            _ => {}
        }
    }
}

/// A firm's place in the run: its key, its row's line, and where its
/// decisions are stored. A rejected row's entry (its key takes part in the
/// duplicate check) stores no decisions: its `start` is where a reject for
/// its key being on other rows goes among its rejects
/// ([`crate::data::stream::KeyReject::to_u64`]).
#[derive(Clone, Debug, PartialEq)]
pub struct FirmEntry {
    pub key: Key,
    pub line: u64,
    pub(crate) start: u64,
    pub(crate) len: u32,
}

impl Item for FirmEntry {
    fn encode(&self, out: &mut Vec<u8>) {
        put_text(out, &self.key);
        out.extend_from_slice(&self.line.to_le_bytes());
        out.extend_from_slice(&self.start.to_le_bytes());
        out.extend_from_slice(&self.len.to_le_bytes());
    }

    fn decode(bytes: &mut &[u8]) -> Option<Self> {
        Some(FirmEntry {
            key: take_key(bytes)?,
            line: u64::from_le_bytes(take_array(bytes)?),
            start: u64::from_le_bytes(take_array(bytes)?),
            len: u32::from_le_bytes(take_array(bytes)?),
        })
    }

    fn heap(&self) -> usize {
        key_heap(&self.key)
    }
}

impl Order<FirmEntry> for ByKey {
    fn cmp(&self, a: &FirmEntry, b: &FirmEntry) -> Ordering {
        a.key.cmp(&b.key).then(a.line.cmp(&b.line))
    }

    fn prefix(&self, f: &FirmEntry) -> Option<u128> {
        Some(prefix(&f.key))
    }
}

/// What one chunk of firms gave, before it joins the run.
pub struct Chunk {
    /// Each firm's key, line and block length.
    firms: Vec<(Key, u64, u32)>,
    bytes: Vec<u8>,
    /// `(policy, candidate)` of policies settled across firms.
    candidates: Vec<(u16, Cand)>,
    tally: Vec<Tally>,
}

/// Evaluates chunks of firms for a run ([`Batch::evaluator`]).
#[derive(Clone, Debug)]
pub struct Evaluator<'p> {
    program: &'p Program,
    /// The program with its lets and repeated conditions as hidden defines
    /// ([`eval::shared`]): what is evaluated, when there is one.
    shared: Option<std::sync::Arc<Program>>,
    opts: RunOptions,
    in_force: Vec<bool>,
    across: Vec<bool>,
}

impl Evaluator<'_> {
    /// Evaluates a chunk of firms.
    pub fn evaluate(&self, records: &[Record]) -> Chunk {
        self.evaluate_each(records.len(), |i| {
            records
                .get(i)
                .map_or((0, &[][..]), |r| (r.row, &r.cells[..]))
        })
    }

    /// [`Evaluator::evaluate`] of firms held one after the other in `cells`
    /// (`width` cells each, the firm on line `lines[i]` the i-th), as
    /// [`crate::data::stream::RowParser::parse_in`] reads them: no record
    /// of its own per firm.
    pub fn evaluate_rows(&self, lines: &[u64], cells: &[Cell], width: usize) -> Chunk {
        self.evaluate_each(lines.len(), |i| {
            let firm = cells.get(i * width..(i + 1) * width).unwrap_or_default();
            (lines.get(i).copied().unwrap_or_default(), firm)
        })
    }

    /// Evaluates `n` firms, the i-th being `firm(i)`: its line and cells.
    fn evaluate_each<'r>(&self, n: usize, firm: impl Fn(usize) -> (u64, &'r [Cell])) -> Chunk {
        let program = self.shared.as_deref().unwrap_or(self.program);
        let key_of = |cells: &'r [Cell]| {
            cells
                .get(program.schema.key)
                .and_then(Cell::as_key)
                .unwrap_or_default()
        };
        let mut chunk = Chunk {
            firms: Vec::with_capacity(n),
            bytes: Vec::new(),
            candidates: Vec::new(),
            tally: vec![Tally::default(); program.policies.len()],
        };
        if let Some(fields) = &self.opts.profile {
            for i in 0..n {
                let (row, cells) = firm(i);
                let start = chunk.bytes.len();
                for &f in fields.iter() {
                    let text = cells.get(f).and_then(|c| c.as_key());
                    store::put_text(&mut chunk.bytes, text.as_deref().unwrap_or_default());
                }
                let key = Key::from(&*key_of(cells));
                let len = u32::try_from(chunk.bytes.len() - start).unwrap_or(u32::MAX);
                chunk.firms.push((key, row, len));
            }
            return chunk;
        }
        let mut scratch = Scratch::default();
        let mut pairs = Vec::new();
        // the chunk's firms looked up in the ledger together, before any is
        // evaluated: the look-ups' memory reads overlap
        let paid = match &self.opts.ledger {
            Some(ledger) => {
                let keys: Vec<_> = (0..n).map(|i| key_of(firm(i).1)).collect();
                ledger.payments_of_all(&keys)
            }
            None => Vec::new(),
        };
        for i in 0..n {
            let (row, cells) = firm(i);
            evaluate_firm_paid(
                program,
                &self.in_force,
                cells,
                paid.get(i).copied().unwrap_or_default(),
                &self.opts,
                &mut scratch,
                &mut pairs,
            );
            let key = Key::from(&*key_of(cells));
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
                        chunk.candidates.push((
                            pair.policy,
                            Cand {
                                key: key.clone(),
                                line: row,
                                amount: pair.amount,
                                limit_by: pair.limit_by,
                                alloc_by: pair.alloc_by,
                                kept: true,
                            },
                        ));
                    }
                    Outcome::Eligible => {
                        tally.eligible += 1;
                        if let Some(a) = pair.amount {
                            tally.add_amount(a);
                        }
                    }
                    Outcome::Review => tally.review += 1,
                    // held for the figures of `combined` groups, not listed
                    Outcome::Ineligible
                        if !self.opts.all
                            && !pair
                                .reasons
                                .iter()
                                .any(|r| matches!(r, eval::Reason::Combined { .. })) =>
                    {
                        continue
                    }
                    Outcome::Ineligible => {}
                }
                let mut reasons = String::new();
                eval::Reason::store(&pair.reasons, &mut reasons);
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
            chunk.firms.push((key, row, len));
        }
        chunk
    }
}

/// A run in progress.
pub struct Batch<'p> {
    program: &'p Program,
    shared: Option<std::sync::Arc<Program>>,
    opts: RunOptions,
    in_force: Vec<bool>,
    across: Vec<bool>,
    spill_dir: Option<PathBuf>,
    memory: Memory,
    /// Firms by key, while they come, then sorted ([`Batch::duplicates`]).
    index: Option<Sorter<FirmEntry, ByKey>>,
    sorted: Option<Sorted<FirmEntry, ByKey>>,
    store: Store,
    /// Per policy settled across firms, its candidates.
    candidates: Vec<Option<Sorter<Cand, CandOrder>>>,
    tally: Vec<Tally>,
    /// The firms taken out, their keys found on more than one row
    /// ([`Batch::duplicates`]), in key order.
    dropped: Option<Sorted<FirmEntry, ByKey>>,
}

impl<'p> Batch<'p> {
    /// Starts a run; what is kept beyond the limits of `spill` spills into
    /// its directory (without one, everything stays in memory).
    pub fn new(program: &'p Program, opts: RunOptions, spill: Option<Spill>) -> Batch<'p> {
        let n = program.policies.len();
        let memory = spill.as_ref().map(|s| s.memory).unwrap_or_default();
        let spill_dir = spill.map(|s| s.dir);
        let across: Vec<bool> = program
            .policies
            .iter()
            .map(settlement::across_firms)
            .collect();
        Batch {
            program,
            shared: opts
                .profile
                .is_none()
                .then(|| eval::shared::share(program).map(std::sync::Arc::new))
                .flatten(),
            // a profile evaluates nothing
            in_force: program
                .policies
                .iter()
                .map(|p| opts.profile.is_none() && p.in_force(opts.as_of))
                .collect(),
            candidates: program
                .policies
                .iter()
                .zip(&across)
                .map(|(p, a)| {
                    a.then(|| {
                        Sorter::new(
                            "candidates",
                            CandOrder::first(p),
                            memory.settle,
                            spill_dir.clone(),
                        )
                    })
                })
                .collect(),
            across,
            opts,
            // the index and the decisions spill together (in `absorb`)
            index: Some(Sorter::new("index", ByKey, usize::MAX, spill_dir.clone())),
            sorted: None,
            store: Store::in_order(spill_dir.clone(), memory.decisions),
            spill_dir,
            memory,
            tally: vec![Tally::default(); n],
            dropped: None,
        }
    }

    /// Evaluates a chunk of firms (no shared state: call from any thread).
    pub fn evaluate(&self, records: &[Record]) -> Chunk {
        self.evaluator().evaluate(records)
    }

    /// What evaluating firms needs, apart from the run (so chunks can be
    /// evaluated while earlier ones are added).
    pub fn evaluator(&self) -> Evaluator<'p> {
        Evaluator {
            program: self.program,
            shared: self.shared.clone(),
            opts: self.opts.clone(),
            in_force: self.in_force.clone(),
            across: self.across.clone(),
        }
    }

    /// Adds an evaluated chunk, in input order.
    pub fn absorb(&mut self, chunk: Chunk) -> std::io::Result<()> {
        for (policy, c) in chunk.candidates {
            if let Some(Some(sorter)) = self.candidates.get_mut(policy as usize) {
                sorter.push(c)?;
            }
        }
        // past the limit, the largest list of candidates goes to disk
        if self.spill_dir.is_some() {
            while self.candidates_held() > self.memory.settle {
                let largest = self
                    .candidates
                    .iter_mut()
                    .flatten()
                    .max_by_key(|s| s.held());
                match largest {
                    Some(s) if s.held() > 0 => s.spill()?,
                    _ => break,
                }
            }
        }
        let mut at = self.store.append(&chunk.bytes)?;
        if let Some(index) = &mut self.index {
            for (key, line, len) in chunk.firms {
                index.push(FirmEntry {
                    key,
                    line,
                    start: at,
                    len,
                })?;
                at += len as u64;
            }
            // past either limit, the firms held go to a run of the index in
            // key order, and their decisions to the store's file in the
            // same order: the output reads them back in long stretches
            if self.spill_dir.is_some()
                && (self.store.held() > self.memory.decisions || index.held() > self.memory.index)
            {
                self.store
                    .spill_in_order(|visit| index.spill_each(|e| visit(&mut e.start, e.len)))?;
            }
        }
        for (t, c) in self.tally.iter_mut().zip(&chunk.tally) {
            t.merge(c);
        }
        Ok(())
    }

    fn candidates_held(&self) -> usize {
        self.candidates.iter().flatten().map(Sorter::held).sum()
    }

    /// Firms evaluated so far.
    pub fn firms(&self) -> usize {
        let read = match (&self.index, &self.sorted) {
            (Some(index), _) => index.len(),
            (None, Some(sorted)) => sorted.len(),
            (None, None) => 0,
        };
        let gone = self.dropped.as_ref().map_or(0, Sorted::len);
        usize::try_from(read.saturating_sub(gone)).unwrap_or(usize::MAX)
    }

    /// The firms in key order (sorting them the first time).
    fn sorted(&mut self) -> &Sorted<FirmEntry, ByKey> {
        if let Some(index) = self.index.take() {
            self.sorted = Some(index.finish());
        }
        self.sorted
            .get_or_insert_with(|| Sorter::new("index", ByKey, 0, None).finish())
    }
}

/// The first 16 bytes of a key, big-endian, zero-padded: ordered as the bytes.
pub(crate) fn prefix(key: &str) -> u128 {
    let mut b = [0u8; 16];
    for (d, s) in b.iter_mut().zip(key.bytes()) {
        *d = s;
    }
    u128::from_be_bytes(b)
}

/// Evaluates every policy in force for one firm and applies the exclusive
/// groups (which only look at the firm's own decisions). Without `--all`,
/// ineligible decisions are left out. `scratch` and `pairs` are reused.
pub fn evaluate_firm<'a>(
    program: &'a Program,
    in_force: &[bool],
    record: &'a Record,
    opts: &'a RunOptions,
    scratch: &mut Scratch<'a>,
    pairs: &mut Vec<Pair>,
) {
    let payments = match &opts.ledger {
        Some(ledger) => ledger.payments(&record.key_text(program.schema.key)),
        None => &[],
    };
    evaluate_firm_paid(
        program,
        in_force,
        &record.cells,
        payments,
        opts,
        scratch,
        pairs,
    );
}

/// [`evaluate_firm`] with the firm's prior payments already looked up.
fn evaluate_firm_paid<'a>(
    program: &'a Program,
    in_force: &[bool],
    cells: &'a [Cell],
    payments: &'a [crate::data::ledger::Payment],
    opts: &'a RunOptions,
    scratch: &mut Scratch<'a>,
    pairs: &mut Vec<Pair>,
) {
    pairs.clear();
    scratch.firm(program);
    scratch.payments(payments);
    for (p, policy) in program.policies.iter().enumerate() {
        if !in_force.get(p).copied().unwrap_or(false)
            || (!opts.all && eval::known_to_fail(policy, scratch))
        {
            continue;
        }
        let v = eval::verdict(program, policy, cells, opts.as_of, scratch, opts.all);
        if v.outcome == Outcome::Ineligible && !opts.all {
            continue;
        }
        let reasons =
            if v.outcome == Outcome::Review || (v.outcome == Outcome::Ineligible && opts.all) {
                eval::reasons(policy, &program.schema, &v, cells, |base| {
                    eval::why_from(program, policy, cells, opts.as_of, payments, base)
                })
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
        settlement::exclusive(program, pairs, opts.all);
    }
    if !program.combined.is_empty() {
        let env = scratch.env(program, None, cells, opts.as_of);
        settlement::combined(program, pairs, |g| combined_cap(program, g, &env));
    }
}

impl RunOptions {
    /// A run needs a ledger when its set reads prior payments.
    pub fn check_ledger(&self, program: &Program) -> Result<(), RunError> {
        match (&self.ledger, program.ledger_needed()) {
            (None, Some(used)) => Err(RunError::LedgerRequired(used.needs_ledger())),
            _ => Ok(()),
        }
    }
}

/// Group `g`'s cap for the firm of `env`, or the reasons it is missing.
pub fn combined_cap<'a>(
    program: &'a Program,
    g: usize,
    env: &crate::eval::expr::Env<'_, 'a>,
) -> settlement::CapValue {
    let Some(group) = program.combined.get(g) else {
        return Err(Vec::new());
    };
    match env.eval(&group.cap) {
        V::Num(n) => Ok(settlement::cap_amount(n)),
        V::Miss(why) => Err(eval::missing_reasons(&program.schema, why, |base| {
            let mut scratch = crate::eval::expr::Scratch::default();
            scratch.firm(program);
            scratch.payments(env.payments);
            scratch.window(base);
            let env = scratch.env(program, None, env.cells, env.as_of);
            env.eval(&group.cap).why().unwrap_or_default()
        })),
        _ => Err(Vec::new()),
    }
}

fn order_value(v: V<'_>) -> Option<OrderValue> {
    match v {
        V::Num(n) => Some(OrderValue::Num(n)),
        V::Date(d) => Some(OrderValue::Date(d)),
        _ => None,
    }
}

/// Why a run stopped: the data file cannot be read at all, the disk failed
/// (spilling, reading back), the set reads prior payments and there is no
/// ledger, or records given in memory are out of row order or do not fit
/// the schema.
///
/// ```
/// use mianshen::{Date, Engine, RunError};
///
/// let engine = Engine::load("policies")?;
/// let a = engine.firm_on_row(5, &[("uscc", "91420102MA4K2L3R0G")]).unwrap();
/// let b = engine.firm_on_row(3, &[("uscc", "91420112MAW4G4L943")]).unwrap();
/// let err = engine.run(&[a, b], Date::parse_iso("2024-12-31").unwrap(), false).unwrap_err();
/// assert!(matches!(err, RunError::RowsOutOfOrder { row: 3, after: 5 }));
/// // every stage's error is a miette diagnostic with a code of its own
/// use miette::Diagnostic;
/// assert_eq!(err.code().unwrap().to_string(), "mianshen::run::rows_out_of_order");
/// # Ok::<(), mianshen::LoadError>(())
/// ```
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RunError {
    #[error("{0}")]
    #[diagnostic(transparent)]
    Data(#[from] crate::data::DataError),
    #[error("{0}")]
    #[diagnostic(code(mianshen::run::io))]
    Io(#[from] std::io::Error),
    /// The policy set reads prior payments (`paid`, `last_paid`) and the run
    /// was given no ledger.
    #[error("{0}")]
    #[diagnostic(code(mianshen::run::ledger_required))]
    LedgerRequired(String),
    /// A run over data files was given none.
    #[error("没有给出数据文件, 请用 --data FILE 给出企业数据 (no data file given: give the firm data with --data FILE)")]
    #[diagnostic(code(mianshen::run::no_data))]
    NoData,
    /// The same data file given twice to one run, as named the second time.
    #[error("`{0}` 给了两次, 每个数据文件只给一次 (`{0}` is given twice: give each file once)")]
    #[diagnostic(code(mianshen::run::given_twice))]
    GivenTwice(String),
    /// A row of a joined run held in the sort (in memory, or in a run
    /// file in the spill directory) does not read back as it was written.
    #[error("`{file}` 第 {row} 行在排序中损坏, 无法读回, 请重新运行 (row {row} of `{file}`, held for the join, does not read back as it was written: was the spill directory changed during the run? run again)")]
    #[diagnostic(code(mianshen::run::row_damaged))]
    RowDamaged { file: String, row: u64 },
    /// Records given to a run in memory must have rising row numbers.
    #[error("记录的行号须递增: 第 {row} 行排在第 {after} 行之后 (record rows must rise: row {row} comes after row {after})")]
    #[diagnostic(code(mianshen::run::rows_out_of_order))]
    RowsOutOfOrder { row: u64, after: u64 },
    /// A record given to the library that the schema's reader would not
    /// give (built by hand, or by another policy set's engine): its row and
    /// every problem. It is not evaluated.
    #[error("第 {row} 行的记录不符合本政策集的 schema, 不予评估: {} (the record of row {row} does not fit the policy set's schema and is not evaluated: build records with `Engine::firm`)", problems.join("; "))]
    #[diagnostic(code(mianshen::run::invalid_record))]
    InvalidRecord { row: u64, problems: Vec<String> },
}

/// What a chunk of rows gave: its rejects, what it saw (the keys of its
/// rejected rows among it), its firms.
type Parsed = (Vec<crate::data::Reject>, crate::data::stream::Seen, Chunk);

/// Adds chunks of rows to the run, in input order.
fn add(
    batch: &mut Batch<'_>,
    log: &mut rejects::RejectLog,
    rejected: &mut Sorter<FirmEntry, ByKey>,
    seen: &mut crate::data::stream::Seen,
    chunks: impl IntoIterator<Item = Parsed>,
) -> std::io::Result<()> {
    for (rejects, mut more, chunk) in chunks {
        log.add(&rejects)?;
        for (key, line, at) in more.keys.drain(..) {
            rejected.push(FirmEntry {
                key: Key::from(&*key),
                line,
                start: at.to_u64(),
                len: 0,
            })?;
        }
        seen.join(more);
        batch.absorb(chunk)?;
    }
    Ok(())
}

/// What parsing a chunk of rows reuses: its firms' cells one after the
/// other and their lines.
#[derive(Default)]
struct ChunkBuffers {
    cells: Vec<Cell>,
    lines: Vec<u64>,
}

/// Parses a chunk of rows and evaluates the firms among them: the firms one
/// after the other, `width` cells each, no record of its own per firm.
fn parse_evaluate(
    parser: &crate::data::stream::RowParser,
    evaluator: &Evaluator<'_>,
    raw: &[crate::data::stream::RawRow],
    buffers: &mut ChunkBuffers,
) -> Parsed {
    let width = parser.schema().fields.len();
    let ChunkBuffers { cells, lines } = buffers;
    cells.clear();
    lines.clear();
    cells.reserve(raw.len() * width);
    lines.reserve(raw.len());
    let mut rejects = Vec::new();
    let mut seen = crate::data::stream::Seen::default();
    for r in raw {
        let at = cells.len();
        cells.extend(std::iter::repeat_with(|| Cell::Missing).take(width));
        let slots = cells.get_mut(at..).unwrap_or_default();
        match parser.parse_in(r, &mut seen, slots) {
            Ok(()) => lines.push(r.line),
            Err(rs) => {
                cells.truncate(at);
                rejects.extend(rs);
            }
        }
    }
    let chunk = evaluator.evaluate_rows(lines, cells, width);
    (rejects, seen, chunk)
}

/// Rows read per batch from a data file; a batch is parsed and evaluated in
/// parallel while the next one is read.
pub const ROWS_PER_BATCH: usize = 16_384;

/// The fields whose values a run keeps: those its policies read, or a
/// profile's fields and the key (a profile evaluates nothing). Only text
/// and list cells of the others are skipped (any value of those reads: the
/// rejects are the same), unless the file is known to be clean
/// ([`crate::data::stream::Stream::known_clean`]).
fn kept_fields(program: &Program, opts: &RunOptions) -> Vec<bool> {
    let Some(profile) = &opts.profile else {
        return program.used_fields();
    };
    let mut keep = vec![false; program.schema.fields.len()];
    for &f in profile.iter().chain([&program.schema.key]) {
        if let Some(k) = keep.get_mut(f) {
            *k = true;
        }
    }
    keep
}

/// Streams a data file through a run: rows are parsed and evaluated in
/// parallel chunks while the next batch is read. Rejects go to `on_reject`
/// in row order once the file is read (when it is known which keys are on
/// several rows); `on_progress` hears the bytes read so far.
pub fn stream<'p>(
    program: &'p Program,
    data: &mut crate::data::stream::Stream,
    opts: RunOptions,
    spill: Option<Spill>,
    mut on_reject: impl FnMut(&crate::data::Reject) -> std::io::Result<()>,
    mut on_progress: impl FnMut(u64),
) -> Result<Batch<'p>, RunError> {
    use crate::data::stream::{RawBatch, Seen};
    use rayon::prelude::*;
    let log_memory = spill.as_ref().map_or(0, |s| s.memory.rejects);
    let spill_dir = spill.as_ref().map(|s| s.dir.clone());
    let mut log = rejects::RejectLog::new(spill_dir.clone(), log_memory);
    // the keys of rejected rows, for the duplicate check
    let mut rejected = Sorter::new("rejected-keys", ByKey, log_memory, spill_dir.clone());
    data.keep_fields(kept_fields(program, &opts));
    let mut batch = Batch::new(program, opts, spill);
    let mut seen = Seen::default();
    let parser = data.parser();
    let mut current = RawBatch::default();
    let evaluator = batch.evaluator();
    if rayon::current_num_threads() == 1 {
        // one worker: nothing runs beside it, so each chunk is read, parsed,
        // evaluated and added before the next is read, while its bytes and
        // cells are still in the core's cache (a whole batch is not), with
        // the buffers of the chunk before it
        let mut buffers = ChunkBuffers::default();
        while data.next_batch(records::CHUNK, &mut current)? {
            let parsed = parse_evaluate(&parser, &evaluator, current.rows(), &mut buffers);
            add(&mut batch, &mut log, &mut rejected, &mut seen, [parsed])?;
            on_progress(data.position());
        }
    } else {
        let mut next = RawBatch::default();
        data.next_batch(ROWS_PER_BATCH, &mut current)?;
        // while both cores parse and evaluate a batch, the batch before it
        // joins the run (which may sort and write to disk) and the next one
        // is read
        let mut pending = Vec::new();
        while !current.rows().is_empty() {
            let rows = current.rows();
            let (done, rest) = rayon::join(
                || {
                    rows.par_chunks(records::CHUNK)
                        .map(|raw| {
                            parse_evaluate(&parser, &evaluator, raw, &mut ChunkBuffers::default())
                        })
                        .collect::<Vec<_>>()
                },
                || -> Result<(), RunError> {
                    add(
                        &mut batch,
                        &mut log,
                        &mut rejected,
                        &mut seen,
                        pending.drain(..),
                    )?;
                    data.next_batch(ROWS_PER_BATCH, &mut next)?;
                    Ok(())
                },
            );
            pending = done;
            on_progress(data.position());
            rest?;
            std::mem::swap(&mut current, &mut next);
        }
        add(&mut batch, &mut log, &mut rejected, &mut seen, pending)?;
    }
    data.add_seen(&seen);
    let repeated = batch.duplicates(&rejected.finish())?;
    let rows = || repeated.iter().map(|r| r.map(|r| DupRow::clone(&r)));
    if data.knows_repeated(rows())? {
        // each row of a repeated key gets a reject for it among those it had
        log.replay_inserting(data.repeated_rejects(rows()), &mut on_reject)?;
        return Ok(batch);
    }
    // else the rows of repeated keys are read again for their rejects,
    // which take the place of those logged
    let mut again = rejects::RejectLog::new(spill_dir, log_memory);
    data.reparse_each(rows(), |_, rejects| again.add(&rejects))?;
    log.replay(&mut again, &mut on_reject)?;
    Ok(batch)
}
