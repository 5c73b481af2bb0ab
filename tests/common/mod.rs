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

/// Copies a folder with everything in it (a policy set, a run case).
#[allow(dead_code)] // not every test file that shares `common` uses it
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// Runs the `mianshen` binary in `dir`: its exit status and everything it
/// printed (standard output, then standard error).
#[allow(dead_code)] // not every test file that shares `common` uses it
pub fn mianshen(dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_mianshen"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run mianshen");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code().unwrap_or(-1), text)
}
