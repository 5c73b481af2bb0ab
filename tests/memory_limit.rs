//! A run's results never depend on `--memory`: the same data run with a
//! limit small enough that everything spills (both reject logs included)
//! gives the same result files as a run that keeps everything in memory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

fn policies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
}

fn mianshen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mianshen"))
        .args(args)
        .output()
        .expect("run mianshen")
}

/// `rows` generated firms, every row written twice, with six cells of each
/// row made unreadable: every row is rejected twice over (bad cells, then
/// the repeated key), so both reject logs fill many pages.
fn doubled_bad_rows(rows: u64) -> Vec<u8> {
    let text = common::generated(&policies(), rows, 11, false, 0.0);
    let mut reader = csv::Reader::from_reader(text.as_slice());
    let header = reader.headers().expect("a header").clone();
    let bad: Vec<usize> = [
        "employees",
        "insured_months",
        "revenue",
        "rnd",
        "tax_local",
        "patents",
    ]
    .iter()
    .map(|f| header.iter().position(|h| h == *f).expect("a column"))
    .collect();
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(&header).expect("written");
    for rec in reader.records() {
        let mut cells: Vec<String> = rec.expect("a row").iter().map(str::to_string).collect();
        for &i in &bad {
            cells[i] = "bad!".to_string();
        }
        out.write_record(&cells).expect("written");
        out.write_record(&cells).expect("written");
    }
    out.into_inner().expect("flushed")
}

fn run(data: &Path, out: &Path, memory: &str) -> Output {
    mianshen(&[
        "run",
        policies().to_str().expect("a path"),
        "--data",
        data.to_str().expect("a path"),
        "--as-of",
        "2024-12-31",
        "--threads",
        "1",
        "--memory",
        memory,
        "--out",
        out.to_str().expect("a path"),
    ])
}

fn read(path: PathBuf) -> Vec<u8> {
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_tiny_memory_limit_gives_the_same_rejects_and_decisions() {
    let dir = std::env::temp_dir().join(format!("mianshen-memory-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a work dir");
    let data = dir.join("dup.csv");
    std::fs::write(&data, doubled_bad_rows(20_000)).expect("written");
    let big = run(&data, &dir.join("big"), "4096");
    assert!(
        big.status.success(),
        "--memory 4096: {}",
        String::from_utf8_lossy(&big.stderr)
    );
    let small = run(&data, &dir.join("small"), "64");
    assert!(
        small.status.success(),
        "--memory 64: {}",
        String::from_utf8_lossy(&small.stderr)
    );
    let rejects = read(dir.join("big/rejects.csv"));
    // 40,000 rows, each with six bad cells and its key on another row
    assert_eq!(
        rejects.iter().filter(|&&b| b == b'\n').count(),
        1 + 40_000 * 7,
        "every row rejected for each bad cell and for its key"
    );
    for file in ["rejects.csv", "decisions.csv", "summary.csv"] {
        assert!(
            read(dir.join("small").join(file)) == read(dir.join("big").join(file)),
            "{file} differs between --memory 64 and --memory 4096"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
