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

/// `mianshen run` over the example set and its firms on 2024-12-31 (an
/// `--out` and other options follow).
#[allow(dead_code)] // not every test file that shares `common` uses it
pub const EXAMPLE_RUN: [&str; 6] = [
    "run",
    "policies",
    "--data",
    "policies/data/firms.csv",
    "--as-of",
    "2024-12-31",
];

/// The options `policies/data/firms.csv` was generated with.
#[allow(dead_code)] // not every test file that shares `common` uses it
pub const EXAMPLE_FIRMS: [&str; 7] = [
    "--rows",
    "1000",
    "--seed",
    "20241231",
    "--messy",
    "--bad-rows",
    "0.01",
];

/// `mianshen generate policies EXAMPLE_FIRMS… --split-by-source -o OUT
/// EXTRA…` run in `dir`: the example firms as the departments' files, and
/// the `--data` arguments it prints for the run.
#[allow(dead_code)] // not every test file that shares `common` uses it
pub fn example_departments(dir: &std::path::Path, out: &str, extra: &[&str]) -> Vec<String> {
    let policies = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let mut args = vec!["generate", policies.to_str().unwrap()];
    args.extend(EXAMPLE_FIRMS);
    args.extend(["--split-by-source", "-o", out]);
    args.extend(extra);
    let (code, text) = mianshen(dir, &args);
    assert_eq!(code, 0, "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("--data"))
        .unwrap_or_else(|| panic!("no --data line: {text}"));
    line.split("--data ")
        .skip(1)
        .map(|a| a.trim().to_string())
        .collect()
}

/// `mianshen generate SET --rows ROWS --seed SEED [--messy] --bad-rows BAD`:
/// the synthetic firms' CSV, as the binary writes it to standard output.
#[allow(dead_code)] // not every test file that shares `common` uses it
pub fn generated(set: &std::path::Path, rows: u64, seed: u64, messy: bool, bad: f64) -> Vec<u8> {
    let (rows, seed, bad) = (rows.to_string(), seed.to_string(), bad.to_string());
    let mut args = vec!["generate", set.to_str().unwrap(), "--rows", &rows];
    args.extend(["--seed", &seed, "--bad-rows", &bad]);
    if messy {
        args.push("--messy");
    }
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_mianshen"))
        .args(&args)
        .output()
        .expect("run mianshen generate");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}
