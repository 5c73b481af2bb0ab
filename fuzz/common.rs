//! What the fuzz targets share: the example policy set, the fixed reference
//! date, and the invariants every run must keep.
//!
//! Included by each target with `#[path = "../common.rs"] mod common;`, so
//! not every target uses every item.
#![allow(dead_code)]

use std::collections::BTreeSet;

/// The plain in-memory reader and run the integration tests use.
#[path = "../tests/common/oracle.rs"]
pub mod oracle;

use std::path::Path;
use std::sync::OnceLock;

pub use oracle::DataSet;
use mianshen::load::PolicySet;
use mianshen::program::Program;
use mianshen::batch::records::RunResult;
use mianshen::batch::RunOptions;
use mianshen::Date;

/// The schema of the example policy set, fixed at build time.
pub const SCHEMA: &str = include_str!("../policies/schema.yaml");

/// The reference date of every run.
pub fn as_of() -> Date {
    Date::new(2024, 12, 31).expect("2024-12-31 is a date")
}

/// The example policy set (`../policies`), loaded once. It must check: a
/// failure here is a broken set, not a finding, and stops the fuzzer at once.
pub fn example_program() -> &'static Program {
    static PROGRAM: OnceLock<Program> = OnceLock::new();
    PROGRAM.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
        match PolicySet::load(&dir) {
            Ok(set) => set.program,
            Err(diags) => panic!(
                "the example policy set does not check:\n{}",
                mianshen::diag::render_human(&diags)
            ),
        }
    })
}

/// Every data row is exactly one record or is among the rejects, never both
/// and never neither (LANGUAGE.md section 8).
pub fn assert_rows_accounted(set: &DataSet) {
    let recorded: BTreeSet<u64> = set.records.iter().map(|r| r.row).collect();
    let rejected: BTreeSet<u64> = set.rejects.iter().map(|r| r.row).collect();
    assert_eq!(
        recorded.len(),
        set.records.len(),
        "two records claim one row"
    );
    assert!(
        recorded.is_disjoint(&rejected),
        "a row is both a record and a reject: {:?}",
        recorded.intersection(&rejected).collect::<Vec<_>>()
    );
    assert_eq!(
        (recorded.len() + rejected.len()) as u64,
        set.rows,
        "rows read {} but records {} + rejected rows {}",
        set.rows,
        recorded.len(),
        rejected.len()
    );
}

/// Runs `program` over the records (every decision kept) and checks that
/// every record became one firm with one decision per policy in force.
pub fn run_and_check(program: &Program, set: &DataSet) -> RunResult {
    let opts = RunOptions {
        as_of: as_of(),
        all: true,
        ledger: None,
        profile: None,
    };
    let result =
        mianshen::batch::records::run(program, &set.records, &opts).expect("the run goes through");
    assert!(result.rejects.is_empty(), "the data set's keys are unique");
    assert_eq!(result.firms.len(), set.records.len(), "one firm per record");
    let in_force = program
        .policies
        .iter()
        .filter(|p| p.in_force(opts.as_of))
        .count();
    for firm in &result.firms {
        assert_eq!(
            firm.pairs.len(),
            in_force,
            "firm `{}`: one decision per policy in force",
            firm.key
        );
    }
    assert!(
        result.firms.windows(2).all(|w| w[0].key < w[1].key),
        "firms sorted by key, keys unique"
    );
    result
}
