//! The example data as the departments send it (一企一档, LANGUAGE.md
//! section 11): `generate --split-by-source` writes one file per `source:`
//! in a mix of formats (UTF-8 CSV, GBK CSV, JSON Lines, an Excel
//! workbook); a run joining them decides byte for byte as the run over the
//! single pooled file, and every row of every file is either one of an
//! evaluated firm's or rejected.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::mianshen;

/// A scratch folder, removed when dropped.
struct Temp(PathBuf);

impl Temp {
    fn new(name: &str) -> Temp {
        let dir = std::env::temp_dir().join(format!("mianshen-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Temp(dir)
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The example firms as department files in `tmp/dir`.
fn split(tmp: &Path, dir: &str, extra: &[&str]) -> Vec<String> {
    common::example_departments(tmp, dir, extra)
}

/// `run policies --data … --as-of 2024-12-31 --all --out OUT`.
fn run(tmp: &Path, data: &[String], out: &str) -> String {
    let policies = root().join("policies");
    let mut args = vec!["run", policies.to_str().unwrap()];
    for d in data {
        args.extend(["--data", d]);
    }
    args.extend(["--as-of", "2024-12-31", "--all", "--out", out]);
    let (code, text) = mianshen(tmp, &args);
    assert_eq!(code, 0, "{text}");
    text
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The key of every row of a department file, by its row number as
/// rejects.csv counts it (the header is row 1 of a CSV file and a sheet;
/// a JSON line is its own row). Read here with plain readers, not the
/// engine's.
fn keys_by_row(path: &Path) -> BTreeMap<u64, String> {
    let name = path.to_string_lossy();
    let mut keys = BTreeMap::new();
    if name.ends_with(".jsonl") {
        for (i, line) in read(path).lines().enumerate() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let key = v["uscc"].as_str().unwrap_or("").to_string();
            keys.insert(i as u64 + 1, key);
        }
    } else if name.ends_with(".xlsx") {
        use calamine::Reader;
        let mut book = calamine::open_workbook_auto(path).unwrap();
        let range = book.worksheet_range_at(0).unwrap().unwrap();
        for (i, row) in range.rows().enumerate().skip(1) {
            keys.insert(i as u64 + 1, row[0].to_string());
        }
    } else {
        let bytes = std::fs::read(path).unwrap();
        let text = match String::from_utf8(bytes.clone()) {
            Ok(t) => t,
            Err(_) => encoding_rs::GB18030.decode(&bytes).0.into_owned(),
        };
        let mut r = csv::Reader::from_reader(text.as_bytes());
        for rec in r.records() {
            let rec = rec.unwrap();
            let line = rec.position().unwrap().line();
            keys.insert(line, rec[0].to_string());
        }
    }
    keys
}

#[test]
fn department_files_decide_as_the_pooled_file() {
    let tmp = Temp::new("departments");
    // the single file of these options is the bundled one
    let policies = root().join("policies");
    let mut args = vec!["generate", policies.to_str().unwrap()];
    args.extend(common::EXAMPLE_FIRMS);
    args.extend(["-o", "pooled.csv"]);
    let (code, text) = mianshen(&tmp.0, &args);
    assert_eq!(code, 0, "{text}");
    let pooled = read(&tmp.0.join("pooled.csv"));
    assert!(pooled == read(&root().join("policies/data/firms.csv")));

    let data = split(&tmp.0, "departments", &[]);
    assert_eq!(data.len(), 12, "{data:?}");
    let endings: BTreeSet<&str> = data.iter().filter_map(|d| d.rsplit('.').next()).collect();
    assert_eq!(endings, BTreeSet::from(["csv", "jsonl", "xlsx"]));
    let gbk = tmp.0.join("departments/统计.csv");
    assert!(
        String::from_utf8(std::fs::read(&gbk).unwrap()).is_err(),
        "统计.csv is GBK"
    );
    assert_eq!(data[1], "统计=departments/统计.csv");
    assert_eq!(
        data[11], "departments/其他.csv",
        "no SOURCE= for fields of no source"
    );

    let joined = run(&tmp.0, &data, "joined");
    assert!(joined.contains("in 12 files"), "{joined}");
    let pooled = vec!["pooled.csv".to_string()];
    run(&tmp.0, &pooled, "single");
    for file in ["decisions.csv", "summary.csv"] {
        let (a, b) = (
            tmp.0.join("single").join(file),
            tmp.0.join("joined").join(file),
        );
        assert!(read(&a) == read(&b), "{file} differs");
    }
    assert_eq!(
        read(&tmp.0.join("joined/conflicts.csv")),
        "key,field,file,row,value,used\n"
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&read(&tmp.0.join("joined/manifest.json"))).unwrap();
    assert_eq!(manifest["warnings"], serde_json::json!([]));

    // every row of every file: an evaluated firm's, or rejected, not both
    let decisions = read(&tmp.0.join("joined/decisions.csv"));
    let firms: BTreeSet<&str> = decisions
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .collect();
    assert_eq!(manifest["counts"]["firms"], firms.len() as u64);
    let mut rejected: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    let rejects_csv = read(&tmp.0.join("joined/rejects.csv"));
    let mut r = csv::Reader::from_reader(rejects_csv.as_bytes());
    for rec in r.records() {
        let rec = rec.unwrap();
        let row: u64 = rec[0].parse().unwrap();
        rejected.entry(rec[4].to_string()).or_default().insert(row);
    }
    let files = manifest["data"].as_array().unwrap();
    assert_eq!(files.len(), 12);
    for (f, arg) in files.iter().zip(&data) {
        let name = f["path"].as_str().unwrap();
        assert!(arg.ends_with(name), "{arg} {name}");
        let keys = keys_by_row(&tmp.0.join(name));
        let evaluated: BTreeSet<u64> = keys
            .iter()
            .filter(|(_, k)| firms.contains(k.as_str()))
            .map(|(row, _)| *row)
            .collect();
        let none = BTreeSet::new();
        let rejects = rejected.get(name).unwrap_or(&none);
        assert!(evaluated.is_disjoint(rejects), "{name}");
        let all: BTreeSet<u64> = keys.keys().copied().collect();
        let accounted: BTreeSet<u64> = evaluated.union(rejects).copied().collect();
        assert_eq!(all, accounted, "{name}: every row accounted for");
        let count = |k: &str| f[k].as_u64().unwrap();
        assert_eq!(count("rows"), keys.len() as u64, "{name}");
        assert_eq!(count("evaluated_rows"), evaluated.len() as u64, "{name}");
        assert_eq!(count("rejected_rows"), rejects.len() as u64, "{name}");
        assert_eq!(
            count("rows"),
            count("evaluated_rows") + count("rejected_rows"),
            "{name}"
        );
    }
}

#[test]
fn the_same_firms_in_other_formats_decide_alike() {
    let tmp = Temp::new("departments-formats");
    let base = split(&tmp.0, "csv", &["--format", "csv"]);
    assert!(base.iter().all(|d| d.ends_with(".csv")), "{base:?}");
    let other = split(
        &tmp.0,
        "other",
        &[
            "--format",
            "xlsx",
            "--format",
            "市场监管=jsonl",
            "--format",
            "人社=gbk",
        ],
    );
    assert_eq!(other[0], "市场监管=other/市场监管.jsonl");
    assert_eq!(other[2], "人社=other/人社.csv");
    assert!(other[5].ends_with(".xlsx"), "{other:?}");
    run(&tmp.0, &base, "a");
    run(&tmp.0, &other, "b");
    assert!(read(&tmp.0.join("a/decisions.csv")) == read(&tmp.0.join("b/decisions.csv")));
}

#[test]
fn split_needs_a_folder_and_known_formats() {
    let tmp = Temp::new("departments-bad");
    let policies = root().join("policies");
    let policies = policies.to_str().unwrap();
    for (args, says) in [
        (vec!["--split-by-source"], "-o DIR"),
        (
            vec!["--split-by-source", "-o", "d", "--format", "ods"],
            "unknown format",
        ),
        (
            vec!["--split-by-source", "-o", "d", "--format", "税物=xlsx"],
            "did you mean `税务`?",
        ),
    ] {
        let mut all = vec!["generate", policies];
        all.extend(args);
        let (code, text) = mianshen(&tmp.0, &all);
        assert_eq!(code, 2, "{text}");
        assert!(text.contains(says), "{text}");
    }
}
