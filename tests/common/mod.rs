//! Helpers shared by the integration tests (`mod common;` in each).

pub mod oracle;

use std::collections::BTreeSet;

use oracle::DataSet;

/// Every data row is exactly one record or among the rejects.
#[allow(dead_code)] // not every test file that shares `common` uses it
pub fn assert_rows_accounted(set: &DataSet) {
    let recorded: BTreeSet<u64> = set.records.iter().map(|r| r.row).collect();
    let rejected: BTreeSet<u64> = set.rejects.iter().map(|r| r.row).collect();
    assert_eq!(recorded.len(), set.records.len(), "one record per row");
    assert!(
        recorded.is_disjoint(&rejected),
        "a row is a record or rejected, not both"
    );
    assert_eq!(
        (recorded.len() + rejected.len()) as u64,
        set.rows,
        "every row accounted for"
    );
}
