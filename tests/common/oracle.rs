//! A run the plain way, as a yardstick for the batch engine: every record
//! in memory (read by [`read`], whose duplicate-key check is a hash map of
//! its own), each firm evaluated, then each policy settled over a list of
//! its candidates with the straightforward [`settle_policy`]. Nothing here
//! streams, sorts to disk or takes firms back out, which is what the batch
//! engine does and what this holds it to.
//!
//! Shared by the integration tests and, through `#[path]`, by the unit
//! tests of the streamed settlement; it names the crate `mianshen` in both.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use mianshen::batch::output::PolicySummary;
use mianshen::batch::{evaluate_firm, RunOptions};
use mianshen::data::stream::{self, DupRow, KeyReject, Repeated};
use mianshen::data::{DataError, ReadOptions, Reject};
use mianshen::eval::{self, expr::Scratch, Outcome};
use mianshen::program::{Allocation, Policy, Program};
use mianshen::record::Record;
use mianshen::schema::Schema;
use mianshen::settle::alloc::{self, OrderValue};
use mianshen::settle::{across_firms, BudgetNote, Firm, Pair};
use rust_decimal::Decimal;

/// The readable rows of a data file and the rejects of the others.
#[derive(Clone, Debug, Default)]
pub struct DataSet {
    /// In file order.
    pub records: Vec<Record>,
    /// By row, then column position.
    pub rejects: Vec<Reject>,
    /// Columns that name no field, in the order first seen.
    pub unknown_columns: Vec<String>,
    /// Data rows read.
    pub rows: u64,
    /// SHA-256 of the file's bytes, lowercase hex.
    pub sha256: String,
}

/// Reads a whole data file into memory: every row parsed, then every key on
/// more than one row found with a hash map (the batch engine sorts), and
/// those rows read again for their rejects.
pub fn read(path: &Path, schema: &Schema, opts: &ReadOptions) -> Result<DataSet, DataError> {
    collect(stream::Stream::open_path(path, schema, opts)?)
}

/// [`read`] on bytes in memory; `path` names the file and chooses its format.
pub fn read_bytes(
    path: &Path,
    bytes: Vec<u8>,
    schema: &Schema,
    opts: &ReadOptions,
) -> Result<DataSet, DataError> {
    let bytes: Arc<[u8]> = bytes.into();
    let open = move || -> std::io::Result<Box<dyn std::io::Read + Send>> {
        Ok(Box::new(std::io::Cursor::new(Arc::clone(&bytes))))
    };
    collect(stream::Stream::open(Arc::new(open), path, schema, opts)?)
}

fn collect(mut s: stream::Stream) -> Result<DataSet, DataError> {
    let parser = s.parser();
    let mut set = DataSet::default();
    let mut seen = stream::Seen::default();
    let mut batch = stream::RawBatch::default();
    while s.next_batch(4096, &mut batch)? {
        for raw in batch.rows() {
            match parser.parse(raw, &mut seen) {
                Ok(r) => set.records.push(r),
                Err(rejects) => set.rejects.extend(rejects),
            }
        }
    }
    s.add_seen(&seen);
    // every row of a key found twice is rejected, whatever it held
    let key = parser.schema().key;
    let mut rows_of: HashMap<Box<str>, Vec<u64>> = HashMap::new();
    let keys = set
        .records
        .iter()
        .map(|r| (r.key(key).into_boxed_str(), r.row))
        .chain(seen.keys.iter().map(|(k, row, _)| (k.clone(), *row)));
    for (k, row) in keys {
        if !k.is_empty() {
            rows_of.entry(k).or_default().push(row);
        }
    }
    let mut again: Vec<DupRow> = Vec::new();
    for (k, mut rows) in rows_of.into_iter().filter(|(_, rows)| rows.len() > 1) {
        rows.sort_unstable();
        let repeated = Repeated::of(&rows);
        again.extend(rows.iter().map(|&line| DupRow {
            line,
            key: k.clone(),
            repeated: repeated.clone(),
            // read again: the plain way
            at: KeyReject::Reread,
        }));
    }
    if !again.is_empty() {
        again.sort_unstable_by_key(|r| r.line);
        let mut replaced = Vec::new();
        s.reparse_each(again.into_iter().map(Ok), |line, rejects| {
            replaced.push((line, rejects));
            Ok(())
        })?;
        let rows: std::collections::HashSet<u64> = replaced.iter().map(|(row, _)| *row).collect();
        set.records.retain(|r| !rows.contains(&r.row));
        set.rejects.retain(|r| !rows.contains(&r.row));
        set.rejects
            .extend(replaced.into_iter().flat_map(|(_, rejects)| rejects));
        // stable: a row's rejects keep their order
        set.rejects.sort_by_key(|r| r.row);
    }
    let info = s.info();
    set.rows = info.rows;
    set.sha256 = info.sha256;
    set.unknown_columns = info.unknown_columns;
    Ok(set)
}

/// An eligible firm of a policy settled across firms.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    /// The firm's index in the run.
    pub firm: u32,
    pub amount: Option<Decimal>,
    pub limit_by: Option<OrderValue>,
    pub alloc_by: Option<OrderValue>,
}

/// What settlement decided for each candidate of one policy.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settlement {
    /// `false` for candidates cut by `limit` (now ineligible).
    pub kept: Vec<bool>,
    /// What each kept candidate is paid (None for no amount, or an allocation error).
    pub funded: Vec<Option<Decimal>>,
    pub note: BudgetNote,
}

/// `limit`, then the budget, for one policy's candidates held in memory;
/// `key` gives a firm's key for tie-breaks.
pub fn settle_policy<'k>(
    policy: &Policy,
    candidates: &[Candidate],
    key: impl Fn(u32) -> &'k str,
) -> Settlement {
    let mut kept = vec![true; candidates.len()];
    if let Some(limit) = &policy.limit {
        let items: Vec<(&str, Option<OrderValue>)> = candidates
            .iter()
            .map(|c| (key(c.firm), c.limit_by))
            .collect();
        kept = alloc::limit(&items, limit.n, limit.dir);
    }
    let mut note = BudgetNote::default();
    let mut funded: Vec<Option<Decimal>> = candidates
        .iter()
        .zip(&kept)
        .map(|(c, k)| c.amount.filter(|_| *k))
        .collect();
    let paid: Vec<usize> = (0..candidates.len())
        .filter(|&i| kept[i] && candidates[i].amount.is_some())
        .collect();
    let amounts: Vec<Decimal> = paid
        .iter()
        .map(|&i| candidates[i].amount.unwrap_or_default())
        .collect();
    let total = amounts
        .iter()
        .try_fold(Decimal::ZERO, |acc, a| acc.checked_add(*a));
    let shares: Result<Option<Vec<Decimal>>, String> = match (policy.budget, total) {
        (Some(_), None) => Err("the eligible amounts overflow when added up".into()),
        (Some(budget), Some(total)) if total > budget => {
            note.exceeded = true;
            match &policy.allocate {
                Some(Allocation::ProRata) => {
                    let items: Vec<(&str, Decimal)> = paid
                        .iter()
                        .zip(&amounts)
                        .map(|(&i, a)| (key(candidates[i].firm), *a))
                        .collect();
                    alloc::pro_rata(budget, &items)
                        .map(Some)
                        .map_err(|e| e.to_string())
                }
                Some(Allocation::By(_, dir)) => {
                    let items: Vec<(&str, Decimal, Option<OrderValue>)> = paid
                        .iter()
                        .zip(&amounts)
                        .map(|(&i, a)| (key(candidates[i].firm), *a, candidates[i].alloc_by))
                        .collect();
                    alloc::by_order(budget, &items, *dir)
                        .map(Some)
                        .map_err(|e| e.to_string())
                }
                None => {
                    note.overrun = true;
                    Ok(None)
                }
            }
        }
        _ => Ok(None),
    };
    match shares {
        Ok(Some(shares)) => {
            for (&i, s) in paid.iter().zip(shares) {
                funded[i] = Some(s);
            }
        }
        Ok(None) => {}
        Err(e) => {
            note.error = Some(e);
            for &i in &paid {
                funded[i] = None;
            }
        }
    }
    let funded = funded.into_iter().map(|f| f.map(eval::cents)).collect();
    Settlement { kept, funded, note }
}

/// Runs `program` over `records` (keys unique): firms in key order with
/// their written decisions, and the totals.
pub fn run(
    program: &Program,
    records: &[Record],
    opts: &RunOptions,
) -> (Vec<Firm>, Vec<PolicySummary>) {
    let in_force: Vec<bool> = program
        .policies
        .iter()
        .map(|p| p.in_force(opts.as_of))
        .collect();
    let mut firms: Vec<Firm> = records
        .iter()
        .map(|r| {
            let mut scratch = Scratch::default();
            let mut pairs = Vec::new();
            evaluate_firm(program, &in_force, r, opts, &mut scratch, &mut pairs);
            for p in &mut pairs {
                if p.outcome == Outcome::Eligible {
                    p.funded = p.amount;
                }
            }
            Firm {
                key: r.key(program.schema.key),
                pairs,
            }
        })
        .collect();
    firms.sort_by(|a, b| a.key.cmp(&b.key));
    let mut summary = Vec::new();
    for (p, policy) in program.policies.iter().enumerate() {
        let mut note = BudgetNote::default();
        if across_firms(policy) {
            let at: Vec<(usize, usize)> = firms
                .iter()
                .enumerate()
                .filter_map(|(f, firm)| {
                    let i = firm
                        .pairs
                        .iter()
                        .position(|x| x.policy as usize == p && x.outcome == Outcome::Eligible)?;
                    Some((f, i))
                })
                .collect();
            let cands: Vec<Candidate> = at
                .iter()
                .map(|&(f, i)| {
                    let pair = &firms[f].pairs[i];
                    Candidate {
                        firm: f as u32,
                        amount: pair.amount,
                        limit_by: pair.limit_by,
                        alloc_by: pair.alloc_by,
                    }
                })
                .collect();
            let s = settle_policy(policy, &cands, |f| firms[f as usize].key.as_str());
            note = s.note;
            for ((&(f, i), kept), funded) in at.iter().zip(s.kept).zip(s.funded) {
                let pair = &mut firms[f].pairs[i];
                if kept {
                    pair.funded = funded;
                } else {
                    *pair = Pair {
                        outcome: Outcome::Ineligible,
                        amount: None,
                        funded: None,
                        reasons: vec![eval::Reason::Limit],
                        ..pair.clone()
                    };
                }
            }
        }
        let force = in_force[p];
        let decisions = firms
            .iter()
            .filter_map(|f| f.pairs.iter().find(|x| x.policy as usize == p));
        let (mut eligible, mut review) = (0, 0);
        let (mut amount, mut funded) = (Decimal::ZERO, Decimal::ZERO);
        for d in decisions {
            match d.outcome {
                Outcome::Eligible => {
                    eligible += 1;
                    amount += d.amount.unwrap_or_default();
                    funded += d.funded.unwrap_or_default();
                }
                Outcome::Review => review += 1,
                Outcome::Ineligible => {}
            }
        }
        let evaluated = if force { firms.len() as u64 } else { 0 };
        let has_amount = force && policy.amount.is_some();
        summary.push(PolicySummary {
            id: policy.id.clone(),
            title: policy.title.clone(),
            in_force: force,
            evaluated,
            eligible,
            review,
            ineligible: evaluated - eligible - review,
            amount: has_amount.then(|| eval::cents(amount)),
            funded: has_amount.then(|| eval::cents(funded)),
            budget: policy.budget.map(eval::cents),
            note,
        });
    }
    for f in &mut firms {
        for p in &mut f.pairs {
            p.limit_by = None;
            p.alloc_by = None;
        }
        if !opts.all {
            f.pairs.retain(|p| p.outcome != Outcome::Ineligible);
        }
    }
    (firms, summary)
}
