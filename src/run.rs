//! A batch run over records in memory (the library's and the tests' way in;
//! the command line streams files through the same [`crate::batch`] engine).

use rayon::prelude::*;

pub use crate::batch::output::PolicySummary;
use crate::batch::Batch;
pub use crate::batch::RunOptions;
use crate::program::Program;
use crate::settle::Firm;
use crate::value::Record;

/// The result of a run: firms sorted by key, each with its decisions in policy
/// id order (only eligible and review ones unless `all`), and the totals.
#[derive(Clone, Debug)]
pub struct RunResult {
    pub firms: Vec<Firm>,
    pub summary: Vec<PolicySummary>,
}

/// Firms evaluated per parallel task.
pub const CHUNK: usize = 256;

/// Evaluates `records` (whose keys are unique) under `program`.
pub fn run(program: &Program, records: &[Record], opts: &RunOptions) -> RunResult {
    let mut batch = Batch::new(program, opts.clone(), None);
    let chunks: Vec<_> = records
        .par_chunks(CHUNK)
        .map(|c| batch.evaluate(c))
        .collect();
    for c in chunks {
        // in memory, appending cannot fail
        let _ = batch.absorb(c);
    }
    // in memory, nothing is read from disk: settling and reading back
    // cannot fail
    match batch.finish() {
        Ok(settled) => RunResult {
            firms: settled.firms().unwrap_or_default(),
            summary: settled.summary().to_vec(),
        },
        Err(_) => RunResult {
            firms: Vec::new(),
            summary: Vec::new(),
        },
    }
}
