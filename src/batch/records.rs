//! A run over records already in memory (the library's way in, and the test
//! runner's): the same [`Batch`] as a streamed run, without spilling, and
//! the same data rules: a key on more than one record rejects every one of
//! them, as it rejects every row of a data file.

use rayon::prelude::*;

use super::output::PolicySummary;
use super::sort::Sorter;
use super::{Batch, RunError, RunOptions};
use crate::data::stream::also_on;
use crate::data::Reject;
use crate::program::Program;
use crate::record::Record;
use crate::settle::streamed::ByKey;
use crate::settle::Firm;

/// The result of a run: firms sorted by key, each with its decisions in
/// policy id order (only eligible and review ones unless `all`), the totals,
/// and the rows rejected, by row.
///
/// ```
/// use mianshen::{Date, Engine};
///
/// let engine = Engine::load("policies")?;
/// let result = engine.run_file("policies/data/firms.csv", Date::parse_iso("2024-12-31").unwrap(), false)?;
/// let wengang = result.summary.iter().find(|s| s.id == "wengang_2024").expect("a policy");
/// assert_eq!(wengang.evaluated as usize, result.firms.len());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct RunResult {
    pub firms: Vec<Firm>,
    pub summary: Vec<PolicySummary>,
    pub rejects: Vec<Reject>,
}

/// Firms evaluated per parallel task.
pub const CHUNK: usize = 256;

/// Evaluates `records` under `program`, then settles across firms. Rows must
/// rise from record to record (they name the records in rejects); every
/// record of a key found on several records is rejected and left out.
pub fn run(
    program: &Program,
    records: &[Record],
    opts: &RunOptions,
) -> Result<RunResult, RunError> {
    for w in records.windows(2) {
        if let [a, b] = w {
            if b.row <= a.row {
                return Err(RunError::RowsOutOfOrder {
                    row: b.row,
                    after: a.row,
                });
            }
        }
    }
    let mut batch = Batch::new(program, opts.clone(), None);
    let chunks: Vec<_> = records
        .par_chunks(CHUNK)
        .map(|c| batch.evaluate(c))
        .collect();
    for c in chunks {
        batch.absorb(c)?;
    }
    let none = Sorter::new("rejected-keys", ByKey, 0, None).finish();
    let repeated = batch.duplicates(&none)?;
    let key = program.schema.key_field().name.clone();
    let mut rejects = Vec::new();
    for row in repeated.iter() {
        let row = row?;
        rejects.push(Reject {
            row: row.line,
            column: key.clone(),
            value: row.key.to_string(),
            reason: also_on(&row.repeated, row.line),
        });
    }
    let settled = batch.finish()?;
    Ok(RunResult {
        firms: settled.firms()?,
        summary: settled.summary().to_vec(),
        rejects,
    })
}
