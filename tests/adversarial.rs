//! The adversarial catalogue (issue 6): hostile data files and policy files,
//! each run through the real binary. Every case expects a clear message or a
//! reject, never a panic, and the row accounting intact: every data row
//! written is either one firm in `decisions.csv` or a row of `rejects.csv`,
//! and `manifest.json` counts them so.
//!
//! Inputs are built here, in a temporary directory, from the header and a
//! good row of `policies/data/firms.csv` (keys varied with valid credit codes),
//! and run against the bundled example set in `policies/`. Sizes are fixed,
//! not scaled to the build profile; the file runs in well under a minute in a
//! debug build.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_mianshen");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const AS_OF: &str = "2024-12-31";

/// The policy the cases look at: 2024 稳岗返还, 60% of `ui_premium_paid` for
/// a small firm, 30% for a large one.
const WENGANG: &str = "wengang_2024";

// ---- temporary directories ---------------------------------------------------

/// A fresh directory under the system temp dir, removed when dropped.
struct Temp(PathBuf);

impl Temp {
    fn new(tag: &str) -> Temp {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("mianshen-adv-{}-{n}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temp dir");
        Temp(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes a file into the directory and returns its path.
    fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.join(name);
        std::fs::write(&path, bytes).expect("write a temp file");
        path
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---- credit codes and rows ---------------------------------------------------

const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// The 17-character body with its check character (GB 32100-2015).
fn with_check(body: &str) -> String {
    assert_eq!(body.len(), 17, "a credit code body has 17 characters");
    let sum: u32 = body
        .bytes()
        .zip(USCC_WEIGHTS)
        .map(|(c, w)| {
            let v = USCC_ALPHABET
                .iter()
                .position(|&a| a == c)
                .expect("a credit code character");
            w * v as u32
        })
        .sum();
    let check = (31 - sum % 31) % 31;
    format!("{body}{}", USCC_ALPHABET[check as usize] as char)
}

/// A valid credit code numbered `n`: firm `n` of a case.
fn uscc(n: u32) -> String {
    with_check(&format!("91420102MA{n:07}"))
}

/// A valid credit code made of digits only (so a JSON number can hold it).
fn numeric_uscc() -> String {
    (0..10_000u32)
        .map(|n| with_check(&format!("914201020000{n:05}")))
        .find(|c| c.bytes().all(|b| b.is_ascii_digit()))
        .expect("some all-digit credit code")
}

/// The header and a good row of the bundled firm file.
struct Base {
    header: Vec<String>,
    row: Vec<String>,
}

/// What every case's firm is unless it says otherwise: eligible under
/// `wengang_2024` for 60% of 10万 = 60000.00.
const WENGANG_ELIGIBLE: [(&str, &str); 6] = [
    ("region", "420102"),
    ("insured_months", "24"),
    ("layoff_rate", "1%"),
    ("serious_dishonesty", "否"),
    ("size", "小型"),
    ("ui_premium_paid", "10万"),
];

impl Base {
    fn load() -> Base {
        let path = Path::new(ROOT).join("policies/data/firms.csv");
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_path(&path)
            .expect("read policies/data/firms.csv");
        let mut records = reader.records();
        let mut next = || -> Vec<String> {
            let r = records.next().expect("a record").expect("a CSV record");
            r.iter().map(str::to_string).collect()
        };
        let header = next();
        let row = next();
        assert_eq!(header.len(), row.len());
        Base { header, row }
    }

    /// The column of a field (by its name in the header).
    fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column `{name}` in firms.csv"))
    }

    /// Firm `n`: the good row with key `uscc(n)`, the wengang defaults, then `set`.
    fn firm(&self, n: u32, set: &[(&str, &str)]) -> Vec<String> {
        let mut row = self.row.clone();
        row[self.col("uscc")] = uscc(n);
        for (name, value) in WENGANG_ELIGIBLE.iter().chain(set) {
            row[self.col(name)] = value.to_string();
        }
        row
    }

    fn columns(&self) -> usize {
        self.header.len()
    }
}

/// A CSV cell, quoted when it has to be.
fn quote(cell: &str) -> String {
    if cell.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

fn csv_line(cells: &[String], eol: &str) -> String {
    let mut line = cells.iter().map(|c| quote(c)).collect::<Vec<_>>().join(",");
    line.push_str(eol);
    line
}

/// A whole CSV text: the header and the rows, each ended by `eol`.
fn csv_text(header: &[String], rows: &[Vec<String>], eol: &str) -> String {
    let mut text = csv_line(header, eol);
    for r in rows {
        text.push_str(&csv_line(r, eol));
    }
    text
}

// ---- running the binary --------------------------------------------------------

/// One run of the binary.
struct Ran {
    output: Output,
    stdout: String,
    stderr: String,
    out: PathBuf,
}

impl Ran {
    fn code(&self) -> Option<i32> {
        self.output.status.code()
    }
}

fn command(args: &[&str], out: PathBuf) -> Ran {
    let output = Command::new(BIN)
        .current_dir(ROOT)
        .args(args)
        .output()
        .expect("run mianshen");
    Ran {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        output,
        out,
    }
}

/// `mianshen run policies --data DATA --as-of 2024-12-31 --all --out TMP/out-N EXTRA…`
fn run_with(tmp: &Temp, policies: &Path, data: &Path, extra: &[&str]) -> Ran {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let out = tmp.join(&format!("out-{}", NEXT.fetch_add(1, Ordering::Relaxed)));
    let (p, d, o) = (
        policies.to_string_lossy().into_owned(),
        data.to_string_lossy().into_owned(),
        out.to_string_lossy().into_owned(),
    );
    let mut args = vec![
        "run", &p, "--data", &d, "--as-of", AS_OF, "--all", "--out", &o,
    ];
    args.extend_from_slice(extra);
    command(&args, out)
}

fn run(tmp: &Temp, data: &Path, extra: &[&str]) -> Ran {
    run_with(tmp, &Path::new(ROOT).join("policies"), data, extra)
}

/// `mianshen check DIR`
fn check(dir: &Path, extra: &[&str]) -> Ran {
    let d = dir.to_string_lossy().into_owned();
    let mut args = vec!["check", d.as_str()];
    args.extend_from_slice(extra);
    command(&args, PathBuf::new())
}

/// The process ended by itself (no signal, no stack overflow) and without a
/// panic message.
fn assert_no_crash(r: &Ran) {
    assert!(
        !r.stderr.contains("panicked"),
        "the binary panicked:\n{}",
        r.stderr
    );
    assert!(
        matches!(r.code(), Some(0..=2)),
        "exit status {:?} (a crash, a signal or a stack overflow):\n{}",
        r.output.status,
        r.stderr
    );
}

/// The run stopped before evaluating anything: exit 2, a message naming the
/// file and holding every word of `words`, no results written.
fn assert_unreadable(r: &Ran, file: &str, words: &[&str]) {
    assert_no_crash(r);
    assert_eq!(r.code(), Some(2), "stderr:\n{}", r.stderr);
    assert!(
        r.stderr.contains(file),
        "the message should name `{file}`:\n{}",
        r.stderr
    );
    for w in words {
        assert!(
            r.stderr.contains(w),
            "the message should say `{w}`:\n{}",
            r.stderr
        );
    }
    assert!(!r.out.exists(), "no results for an unreadable file");
}

// ---- reading the results ----------------------------------------------------

#[derive(Debug)]
struct Reject {
    row: u64,
    column: String,
    value: String,
    reason: String,
}

#[derive(Debug)]
struct Decision {
    key: String,
    policy: String,
    outcome: String,
    amount: String,
    funded: String,
    reasons: String,
}

/// The four result files of a completed run.
struct Results {
    decisions: Vec<Decision>,
    rejects: Vec<Reject>,
    summary: Vec<Vec<String>>,
    manifest: Value,
}

fn records(path: &Path, columns: &[&str]) -> Vec<Vec<String>> {
    let mut reader =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("read `{}`: {e}", path.display()));
    let header: Vec<String> = reader
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(header, columns, "the columns of `{}`", path.display());
    reader
        .records()
        .map(|r| {
            r.expect("a CSV record")
                .iter()
                .map(str::to_string)
                .collect()
        })
        .collect()
}

impl Results {
    fn read(out: &Path) -> Results {
        let decisions = records(
            &out.join("decisions.csv"),
            &["key", "policy", "outcome", "amount", "funded", "reasons"],
        )
        .into_iter()
        .map(|r| Decision {
            key: r[0].clone(),
            policy: r[1].clone(),
            outcome: r[2].clone(),
            amount: r[3].clone(),
            funded: r[4].clone(),
            reasons: r[5].clone(),
        })
        .collect();
        let rejects = records(
            &out.join("rejects.csv"),
            &["row", "column", "value", "reason", "file"],
        )
        .into_iter()
        .map(|r| {
            assert!(!r[4].is_empty(), "every reject names its file: {r:?}");
            Reject {
                row: r[0].parse().expect("a row number"),
                column: r[1].clone(),
                value: r[2].clone(),
                reason: r[3].clone(),
            }
        })
        .collect();
        let summary = records(
            &out.join("summary.csv"),
            &[
                "policy",
                "title",
                "in_force",
                "evaluated",
                "eligible",
                "ineligible",
                "review",
                "amount",
                "funded",
                "budget",
            ],
        );
        let text = std::fs::read_to_string(out.join("manifest.json")).expect("manifest.json");
        let manifest = serde_json::from_str(&text).expect("manifest.json is JSON");
        Results {
            decisions,
            rejects,
            summary,
            manifest,
        }
    }

    fn count(&self, name: &str) -> u64 {
        self.manifest["counts"][name]
            .as_u64()
            .unwrap_or_else(|| panic!("counts.{name} in manifest.json"))
    }

    /// Keys of the evaluated firms.
    fn firms(&self) -> BTreeSet<String> {
        self.decisions.iter().map(|d| d.key.clone()).collect()
    }

    /// Rows of rejects.csv.
    fn rejected_rows(&self) -> BTreeSet<u64> {
        self.rejects.iter().map(|r| r.row).collect()
    }

    fn rejects_at(&self, row: u64) -> Vec<&Reject> {
        self.rejects.iter().filter(|r| r.row == row).collect()
    }

    /// The one reject of a row whose reason holds `words`; panics with all
    /// rejects otherwise.
    fn reject(&self, row: u64, words: &[&str]) -> &Reject {
        self.rejects_at(row)
            .into_iter()
            .find(|r| words.iter().all(|w| r.reason.contains(w)))
            .unwrap_or_else(|| {
                panic!(
                    "no reject of row {row} saying {words:?}; rejects: {:#?}",
                    self.rejects
                )
            })
    }

    fn decision(&self, key: &str, policy: &str) -> &Decision {
        self.decisions
            .iter()
            .find(|d| d.key == key && d.policy == policy)
            .unwrap_or_else(|| panic!("no decision for {key} under {policy}"))
    }

    fn unknown_columns(&self) -> Vec<String> {
        self.manifest["data"][0]["unknown_columns"]
            .as_array()
            .expect("unknown_columns")
            .iter()
            .map(|v| v.as_str().expect("a column name").to_string())
            .collect()
    }

    fn warnings(&self) -> Vec<String> {
        self.manifest["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .map(|v| v.as_str().expect("a warning").to_string())
            .collect()
    }
}

/// A completed run (exit 0) whose every data row is accounted for: `rows`
/// were written; each is one firm, decided once per policy in force (`--all`),
/// or a rejected row; the manifest and the summary agree.
fn accounted(r: &Ran, rows: u64) -> Results {
    assert_no_crash(r);
    assert_eq!(r.code(), Some(0), "stderr:\n{}", r.stderr);
    let res = Results::read(&r.out);
    let (firms, rejected) = (res.count("firms"), res.count("rejected_rows"));
    assert_eq!(
        res.count("rows"),
        rows,
        "counts.rows: the data rows written"
    );
    assert_eq!(
        firms + rejected,
        rows,
        "counts.firms + counts.rejected_rows"
    );
    assert_eq!(
        res.rejected_rows().len() as u64,
        rejected,
        "rows in rejects.csv"
    );
    assert_eq!(res.count("rejects"), res.rejects.len() as u64);
    let rows_in_order: Vec<u64> = res.rejects.iter().map(|x| x.row).collect();
    assert!(
        rows_in_order.windows(2).all(|w| w[0] <= w[1]),
        "rejects.csv is in row order"
    );
    let in_force = res.count("policies_in_force");
    let mut per_key: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for d in &res.decisions {
        assert!(
            per_key.entry(&d.key).or_default().insert(&d.policy),
            "{} decided twice under {}",
            d.key,
            d.policy
        );
    }
    assert_eq!(
        per_key.len() as u64,
        firms,
        "distinct keys in decisions.csv"
    );
    for (key, policies) in &per_key {
        assert_eq!(policies.len() as u64, in_force, "decisions of {key}");
    }
    assert_eq!(res.count("decisions"), res.decisions.len() as u64);
    let sorted = res
        .decisions
        .windows(2)
        .all(|w| (&w[0].key, &w[0].policy) < (&w[1].key, &w[1].policy));
    assert!(sorted, "decisions.csv is sorted by key, then policy");
    for s in &res.summary {
        let n = |i: usize| -> u64 { s[i].parse().expect("a count") };
        if s[2] == "true" {
            assert_eq!(n(3), firms, "{} evaluated", s[0]);
            assert_eq!(n(4) + n(5) + n(6), n(3), "{} outcomes", s[0]);
        } else {
            assert_eq!(n(3), 0, "{} is not in force", s[0]);
        }
    }
    res
}

/// Exactly these firms were evaluated and exactly these rows rejected.
fn assert_split(res: &Results, firms: &[u32], rejected: &[u64]) {
    let want: BTreeSet<String> = firms.iter().map(|&n| uscc(n)).collect();
    assert_eq!(res.firms(), want, "the firms evaluated");
    let want: BTreeSet<u64> = rejected.iter().copied().collect();
    assert_eq!(
        res.rejected_rows(),
        want,
        "the rows rejected: {:#?}",
        res.rejects
    );
}

/// Firm `n` is eligible under wengang_2024 for `amount`.
fn assert_wengang(res: &Results, n: u32, amount: &str) {
    let d = res.decision(&uscc(n), WENGANG);
    assert_eq!(
        (d.outcome.as_str(), d.amount.as_str()),
        ("eligible", amount),
        "{d:?}"
    );
}

// ---- the header and the file as a whole ----------------------------------------

#[test]
fn empty_file_has_no_header() {
    let tmp = Temp::new("empty");
    for (name, bytes) in [
        ("empty.csv", &b""[..]),
        ("blank-lines.csv", b"\n\r\n   \n\t\n"),
        ("bom-only.csv", b"\xEF\xBB\xBF"),
        ("bom-newline.csv", b"\xEF\xBB\xBF\r\n"),
    ] {
        let data = tmp.write(name, bytes);
        let r = run(&tmp, &data, &[]);
        assert_unreadable(&r, name, &["no header", "empty"]);
    }
}

#[test]
fn empty_json_lines_file_is_an_empty_run() {
    // JSON Lines has no header: an empty file is zero rows, not an error.
    let tmp = Temp::new("empty-jsonl");
    let data = tmp.write("empty.jsonl", b"");
    let res = accounted(&run(&tmp, &data, &[]), 0);
    assert!(res.decisions.is_empty() && res.rejects.is_empty());
}

#[test]
fn header_only_is_a_run_of_no_rows() {
    let base = Base::load();
    let tmp = Temp::new("header-only");
    let header = csv_line(&base.header, "");
    for (name, text) in [
        ("with-newline.csv", format!("{header}\n")),
        ("without-newline.csv", header.clone()),
        (
            "trailing-blank-lines.csv",
            format!("{header}\r\n\r\n  \r\n"),
        ),
    ] {
        let data = tmp.write(name, text);
        let r = run(&tmp, &data, &[]);
        let res = accounted(&r, 0);
        assert!(res.decisions.is_empty() && res.rejects.is_empty());
        assert!(r.stdout.contains("0 rows"), "stdout:\n{}", r.stdout);
    }
}

#[test]
fn no_key_column_names_the_accepted_spellings() {
    let base = Base::load();
    let tmp = Temp::new("no-key");
    let k = base.col("uscc");
    let header: Vec<String> = base
        .header
        .iter()
        .enumerate()
        .map(|(i, h)| if i == k { "code".into() } else { h.clone() })
        .collect();
    let data = tmp.write("nokey.csv", csv_text(&header, &[base.firm(1, &[])], "\n"));
    let r = run(&tmp, &data, &[]);
    assert_unreadable(&r, "nokey.csv", &["`uscc`", "`统一社会信用代码`"]);
}

#[test]
fn missing_or_directory_data_file() {
    let tmp = Temp::new("missing");
    let r = run(&tmp, &tmp.join("nowhere.csv"), &[]);
    assert_unreadable(&r, "nowhere.csv", &["cannot read"]);
    let dir = tmp.join("a-directory.csv");
    std::fs::create_dir(&dir).expect("mkdir");
    let r = run(&tmp, &dir, &[]);
    assert_unreadable(&r, "a-directory.csv", &["cannot read"]);
}

#[test]
fn byte_order_mark() {
    let base = Base::load();
    let tmp = Temp::new("bom");
    let rows = vec![
        base.firm(1, &[]),
        base.firm(2, &[("employees", "很多")]),
        base.firm(3, &[("size", "大型")]),
    ];
    // with field names, and with the key column named by its title
    let mut titled = base.header.clone();
    titled[base.col("uscc")] = "统一社会信用代码".into();
    for (name, header) in [("names.csv", &base.header), ("titles.csv", &titled)] {
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend(csv_text(header, &rows, "\n").into_bytes());
        let data = tmp.write(name, &bytes);
        let res = accounted(&run(&tmp, &data, &[]), 3);
        assert!(
            res.unknown_columns().is_empty(),
            "the mark is not part of the first column: {:?}",
            res.unknown_columns()
        );
        assert_split(&res, &[1, 3], &[3]);
        res.reject(3, &["很多", "not a number"]);
        assert_wengang(&res, 1, "60000.00");
        assert_wengang(&res, 3, "30000.00");
        // the data hash covers the file's bytes, mark included
        let sha = mianshen::load::sha256_hex(&bytes);
        assert_eq!(res.manifest["data"][0]["sha256"], Value::String(sha));
    }
}

/// Line ends of every kind: rows are numbered by the line they start on, a
/// quoted line break and a blank line included.
#[test]
fn line_endings_keep_row_numbers() {
    let base = Base::load();
    let tmp = Temp::new("eol");
    for (name, eol) in [("crlf.csv", "\r\n"), ("cr.csv", "\r"), ("lf.csv", "\n")] {
        let line = |cells: Vec<String>| csv_line(&cells, eol);
        let mut text = line(base.header.clone()); // line 1
        text += &line(base.firm(1, &[])); // line 2
        text += &line(base.firm(2, &[("employees", "x")])); // line 3, bad
        let two_lines = format!("第一行{eol}第二行");
        text += &line(base.firm(3, &[("name", &two_lines)])); // lines 4-5
        text += eol; // line 6, blank
        text += &format!("   {eol}"); // line 7, blank
        text += &line(base.firm(4, &[("employees", "y")])); // line 8, bad
        text += &line(base.firm(5, &[])); // line 9
        let data = tmp.write(name, text);
        let res = accounted(&run(&tmp, &data, &[]), 5);
        assert_split(&res, &[1, 3, 5], &[3, 8]);
        res.reject(3, &["`x`", "not a number"]);
        res.reject(8, &["`y`", "not a number"]);
        assert_wengang(&res, 3, "60000.00");
    }
    // a mixed file: LF, CRLF and CR in turn
    let mut text = csv_line(&base.header, "\n");
    text += &csv_line(&base.firm(1, &[]), "\r\n");
    text += &csv_line(&base.firm(2, &[]), "\r");
    text += &csv_line(&base.firm(3, &[("employees", "z")]), "\n");
    let data = tmp.write("mixed.csv", text);
    let res = accounted(&run(&tmp, &data, &[]), 3);
    assert_split(&res, &[1, 2], &[4]);
}

/// Line breaks inside quoted cells, in the header and in a row: later rows
/// keep their real line numbers.
#[test]
fn quoted_line_breaks_keep_row_numbers() {
    let base = Base::load();
    let tmp = Temp::new("quoted-breaks");
    let mut header = base.header.clone();
    header.push("备\n注".into()); // lines 1-2
    let with = |n: u32, set: &[(&str, &str)], note: &str| {
        let mut r = base.firm(n, set);
        r.push(note.into());
        r
    };
    let many = format!("a{}b", "\n".repeat(100_000));
    let rows = vec![
        with(1, &[("name", &many)], ""),           // lines 3-100003
        with(2, &[("employees", "x")], ""),        // line 100004
        with(3, &[], "x\r\ny\rz"),                 // lines 100005-100007
        with(4, &[("registered_on", "去年")], ""), // line 100008
    ];
    let data = tmp.write("breaks.csv", csv_text(&header, &rows, "\n"));
    let res = accounted(&run(&tmp, &data, &[]), 4);
    assert_split(&res, &[1, 3], &[100_004, 100_008]);
    assert_eq!(res.unknown_columns(), vec!["备\n注".to_string()]);
}

#[test]
fn ragged_rows_are_rejected_whole() {
    let base = Base::load();
    let tmp = Temp::new("ragged");
    let n = base.columns();
    let mut short = base.firm(2, &[]);
    short.pop();
    let mut long = base.firm(3, &[]);
    long.push("surplus".into());
    // a short row sharing its key with a good row: both go
    let mut short_dup = base.firm(4, &[]);
    short_dup.truncate(5);
    let key_only = vec![uscc(6)];
    let mut very_long = base.firm(7, &[]);
    very_long.resize(10_000, "x".into());
    let rows = vec![
        base.firm(1, &[]), // line 2
        short,             // 3
        long,              // 4
        short_dup,         // 5
        base.firm(4, &[]), // 6
        key_only,          // 7
        very_long,         // 8
        base.firm(8, &[]), // 9
    ];
    let data = tmp.write("ragged.csv", csv_text(&base.header, &rows, "\n"));
    let res = accounted(&run(&tmp, &data, &[]), 8);
    assert_split(&res, &[1, 8], &[3, 4, 5, 6, 7, 8]);
    res.reject(3, &[&format!("expected {n} cells, found {}", n - 1)]);
    res.reject(4, &[&format!("expected {n} cells, found {}", n + 1)]);
    res.reject(5, &[&format!("expected {n} cells, found 5")]);
    res.reject(5, &["the key is also on row 6"]);
    res.reject(6, &["the key is also on row 5"]);
    res.reject(7, &[&format!("expected {n} cells, found 1")]);
    res.reject(8, &[&format!("expected {n} cells, found 10000")]);
}

#[test]
fn a_row_of_separators_only_has_an_empty_key() {
    let base = Base::load();
    let tmp = Temp::new("commas");
    let mut text = csv_text(&base.header, &[base.firm(1, &[])], "\n");
    text += &",".repeat(base.columns() - 1);
    text += "\n";
    let data = tmp.write("commas.csv", text);
    let res = accounted(&run(&tmp, &data, &[]), 2);
    assert_split(&res, &[1], &[3]);
    res.reject(3, &["the key is empty"]);
}

#[test]
fn unterminated_quote_at_the_end() {
    let base = Base::load();
    let tmp = Temp::new("unterminated");
    let mut text = csv_text(&base.header, &[base.firm(1, &[]), base.firm(2, &[])], "\n");
    // line 4: the key, then a quote that never closes
    text += &format!("{},\"武汉未闭合引号有限公司\n", uscc(3));
    let data = tmp.write("unterminated.csv", text);
    let res = accounted(&run(&tmp, &data, &[]), 3);
    assert_split(&res, &[1, 2], &[4]);
    res.reject(4, &["never closed", "lines 4-4"]);
}

/// A quote inside an unquoted cell is a plain character (as the csv reader
/// reads it), even though it leaves the file with an odd number of quotes:
/// a last row without a line break after it is not taken as unclosed.
#[test]
fn a_stray_quote_in_a_cell_does_not_open_the_last_row() {
    let base = Base::load();
    let tmp = Temp::new("stray-quote");
    let rows = [
        base.firm(1, &[("name", "武汉STRAY有限公司")]),
        base.firm(2, &[]),
        base.firm(3, &[]),
    ];
    let text = csv_text(&base.header, &rows, "\n").replace("STRAY", "5\"屏");
    assert_eq!(text.matches('"').count() % 2, 1, "an odd number of quotes");
    let data = tmp.write("stray.csv", text.trim_end());
    let res = accounted(&run(&tmp, &data, &[]), 3);
    assert_split(&res, &[1, 2, 3], &[]);
}

/// An unterminated quote swallows every line after it into one cell. When
/// the cell is the last column of a text field, the row has the right number
/// of cells and is accepted: the rows after it vanish without a reject or a
/// warning. Mid-file, the swallowed rows vanish into a reject that says only
/// "expected 37 cells, found 2".
#[test]
fn unterminated_quote_does_not_lose_rows() {
    let base = Base::load();
    let tmp = Temp::new("unterminated-lost");
    // `name` (text, kept verbatim) moved to the last column
    let i = base.col("name");
    let last = |mut r: Vec<String>| {
        let c = r.remove(i);
        r.push(c);
        r
    };
    let header = last(base.header.clone());
    let mut text = csv_line(&header, "\n");
    text += &csv_line(&last(base.firm(1, &[])), "\n"); // line 2
    let mut open = last(base.firm(2, &[]));
    open.pop();
    text += &format!("{},\"武汉未闭合引号有限公司\n", open.join(",")); // line 3
    text += &csv_line(&last(base.firm(3, &[])), "\n"); // line 4
    text += &csv_line(&last(base.firm(4, &[])), "\n"); // line 5
    let data = tmp.write("quote-last-column.csv", text);
    let r = run(&tmp, &data, &[]);
    assert_no_crash(&r);
    let res = Results::read(&r.out);
    let says_quote = res.rejects.iter().any(|x| x.reason.contains("quote"));
    assert!(
        says_quote,
        "4 rows written, {} read, rejects {:#?}",
        res.count("rows"),
        res.rejects
    );

    // mid-file, with the quote in the second column
    let mut text = csv_text(&base.header, &[base.firm(1, &[])], "\n");
    text += &format!("{},\"abc\n", uscc(2)); // line 3
    text += &csv_line(&base.firm(3, &[]), "\n");
    text += &csv_line(&base.firm(4, &[]), "\n");
    let data = tmp.write("quote-mid-file.csv", text);
    let r = run(&tmp, &data, &[]);
    assert_no_crash(&r);
    let res = Results::read(&r.out);
    res.reject(3, &["quote"]);
}

#[test]
fn ten_megabyte_cells() {
    const TEN_MB: usize = 10 << 20;
    let base = Base::load();
    let tmp = Temp::new("big-cell");
    // 3-byte characters: the 4 MiB encoding sniff ends inside one
    let chinese = "企".repeat(TEN_MB / 3);
    let digits = "1".repeat(TEN_MB);
    let letters = "x".repeat(TEN_MB);
    let rows = vec![
        base.firm(1, &[("name", &chinese)]),   // 2: a text column
        base.firm(2, &[("revenue", &digits)]), // 3: a number column
        base.firm(3, &[("ui_premium_paid", &letters)]), // 4
        base.firm(4, &[("size", "大型")]),     // 5: read as UTF-8 all the same
    ];
    let data = tmp.write("big.csv", csv_text(&base.header, &rows, "\n"));
    let res = accounted(&run(&tmp, &data, &[]), 4);
    assert_split(&res, &[1, 4], &[3, 4]);
    assert_wengang(&res, 1, "60000.00");
    assert_wengang(&res, 4, "30000.00");
    let r = res.reject(3, &["more than 28 significant digits"]);
    assert_eq!(r.column, "revenue");
    res.reject(4, &["not a number"]);
    for r in &res.rejects {
        assert!(r.value.chars().count() <= 200, "reject values are cut");
        assert!(
            r.reason.chars().count() <= 400,
            "reasons are cut: {}",
            r.reason.len()
        );
    }
}

#[test]
fn ten_thousand_columns() {
    const COLUMNS: usize = 10_000;
    let base = Base::load();
    let tmp = Temp::new("wide");
    let extra = COLUMNS - base.columns() - 1;
    let mut header = base.header.clone();
    header.extend((0..extra).map(|i| format!("extra_{i}")));
    header.push("extra_0".into()); // an unknown column twice
    assert_eq!(header.len(), COLUMNS);
    let rows: Vec<Vec<String>> = (1..=20)
        .map(|n| {
            let mut r = base.firm(n, &[]);
            r.resize(COLUMNS, format!("v{n}"));
            r
        })
        .collect();
    let data = tmp.write("wide.csv", csv_text(&header, &rows, "\n"));
    let r = run(&tmp, &data, &[]);
    let res = accounted(&r, 20);
    assert_split(&res, &(1..=20).collect::<Vec<_>>(), &[]);
    let want: Vec<String> = (0..extra).map(|i| format!("extra_{i}")).collect();
    assert_eq!(
        res.unknown_columns(),
        want,
        "each unknown column once, in order"
    );
    let warnings = res.warnings();
    assert_eq!(warnings.len(), extra, "one warning per unknown column");
    let said = |text: &str, what: &str| text.matches(what).count();
    assert_eq!(said(&warnings.join("\n"), "column `extra_0` "), 1);
    assert_eq!(said(&r.stderr, "column `extra_0` "), 1, "printed once");
    assert_wengang(&res, 20, "60000.00");
}

#[test]
fn duplicate_header_names() {
    let base = Base::load();
    let tmp = Temp::new("dup-header");
    let n = base.columns();
    for name in ["employees", "uscc"] {
        let mut header = base.header.clone();
        header.push(name.into());
        let mut row = base.firm(1, &[]);
        row.push(row[base.col(name)].clone());
        let file = format!("twice-{name}.csv");
        let data = tmp.write(&file, csv_text(&header, &[row], "\n"));
        let r = run(&tmp, &data, &[]);
        let first = format!("`{name}` (column {})", base.col(name) + 1);
        let second = format!("`{name}` (column {})", n + 1);
        assert_unreadable(&r, &file, &[&first, &second, "both name the field"]);
    }
}

#[test]
fn field_named_by_name_and_by_title() {
    let base = Base::load();
    let tmp = Temp::new("name-title");
    let n = base.columns();
    // (field, its column renamed to, a last column naming it again)
    let cases = [
        ("employees", "employees", "参保职工人数"), // name and title
        ("employees", "参保职工人数", "职工人数"),  // title and alias
        ("uscc", "社会信用代码", "信用代码"),       // two aliases of the key
    ];
    for (i, (field, first, second)) in cases.into_iter().enumerate() {
        let mut header = base.header.clone();
        header[base.col(field)] = first.into();
        header.push(second.into());
        let mut row = base.firm(1, &[]);
        row.push(row[base.col(field)].clone());
        let file = format!("both-{i}.csv");
        let data = tmp.write(&file, csv_text(&header, &[row], "\n"));
        let r = run(&tmp, &data, &[]);
        let first = format!("`{first}` (column {})", base.col(field) + 1);
        let second = format!("`{second}` (column {})", n + 1);
        let field = format!("both name the field `{field}`");
        assert_unreadable(&r, &file, &[&first, &second, &field]);
    }
}

// ---- encodings and odd bytes -------------------------------------------------

#[test]
fn gbk_file_is_detected() {
    let base = Base::load();
    let tmp = Temp::new("gbk");
    let mut header = base.header.clone();
    for (name, title) in [
        ("uscc", "统一社会信用代码"),
        ("name", "企业名称"),
        ("size", "企业规模"),
        ("ui_premium_paid", "上年度实际缴纳失业保险费"),
    ] {
        header[base.col(name)] = title.into();
    }
    let rows = vec![
        base.firm(1, &[("name", "武汉测试科技有限公司"), ("size", "大型")]),
        base.firm(
            2,
            &[
                ("name", "湖北示例股份有限公司"),
                ("tags", "高新技术企业、规上"),
            ],
        ),
        base.firm(3, &[("size", "特大型")]),
    ];
    let text = csv_text(&header, &rows, "\r\n");
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(&text);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&gbk).is_err(), "really not UTF-8");
    let data = tmp.write("gbk.csv", &gbk);
    for extra in [&[][..], &["--encoding", "gb18030"]] {
        let res = accounted(&run(&tmp, &data, extra), 3);
        assert!(
            res.unknown_columns().is_empty(),
            "{:?}",
            res.unknown_columns()
        );
        assert_split(&res, &[1, 2], &[4]);
        assert_wengang(&res, 1, "30000.00");
        assert_wengang(&res, 2, "60000.00");
        let r = res.reject(4, &["is not one of 大型, 中型, 小型, 微型"]);
        assert_eq!(
            (r.column.as_str(), r.value.as_str()),
            ("企业规模", "特大型")
        );
    }
    // forced to UTF-8, the header cannot be read
    let r = run(&tmp, &data, &["--encoding", "utf8"]);
    assert_unreadable(&r, "gbk.csv", &["not valid UTF-8", "--encoding gb18030"]);
}

#[test]
fn invalid_utf8_in_one_row() {
    let base = Base::load();
    let tmp = Temp::new("bad-utf8");
    let rows = vec![
        base.firm(1, &[]),
        base.firm(2, &[("name", "BADBYTES")]),
        base.firm(3, &[("size", "大型")]),
    ];
    let text = csv_text(&base.header, &rows, "\n");
    let at = text.find("BADBYTES").expect("the marker");
    let mut bytes = text.into_bytes();
    bytes.splice(at..at + 8, b"\xFF\xFE\xB9\xFA".iter().copied());
    let data = tmp.write("bad-utf8.csv", &bytes);
    let res = accounted(&run(&tmp, &data, &["--encoding", "utf8"]), 3);
    assert_split(&res, &[1, 3], &[3]);
    let r = res.reject(3, &["not valid UTF-8"]);
    assert_eq!(r.column, "name");
    assert_wengang(&res, 1, "60000.00");
    assert_wengang(&res, 3, "30000.00");
    // Auto-detected, the file is not UTF-8 throughout, so it is read as
    // GB18030 (docs/language.md section 8): whatever that rejects, no row is lost.
    accounted(&run(&tmp, &data, &[]), 3);
}

/// Only the first 4 MiB choose the encoding. A GBK file whose Chinese
/// starts later is read as UTF-8: those rows are rejected with the hint to
/// force GB18030, and none is lost.
#[test]
fn gbk_after_the_first_four_megabytes() {
    let base = Base::load();
    let tmp = Temp::new("late-gbk");
    let ascii = "a".repeat((4 << 20) + 1000);
    let rows = vec![
        base.firm(1, &[("name", &ascii), ("size", "")]),
        base.firm(2, &[("size", "大型")]),
        base.firm(3, &[("tags", "")]),
    ];
    let text = csv_text(&base.header, &rows, "\n");
    let (gbk, _, _) = encoding_rs::GBK.encode(&text);
    let data = tmp.write("late-gbk.csv", &gbk);
    let res = accounted(&run(&tmp, &data, &[]), 3);
    assert!(res.count("rejected_rows") >= 2, "{:#?}", res.rejects);
    res.reject(3, &["not valid UTF-8", "--encoding gb18030"]);
    // forced, it reads
    let res = accounted(&run(&tmp, &data, &["--encoding", "gb18030"]), 3);
    assert_split(&res, &[1, 2, 3], &[]);
    assert_wengang(&res, 2, "30000.00");
}

#[test]
fn nul_bytes() {
    let base = Base::load();
    let tmp = Temp::new("nul");
    let mut header = base.header.clone();
    header.push("ex\0tra".into());
    let with = |n: u32, set: &[(&str, &str)]| {
        let mut r = base.firm(n, set);
        r.push("\0".into());
        r
    };
    let mut nul_key = uscc(5);
    nul_key.replace_range(9..10, "\0");
    let mut key_row = with(5, &[]);
    key_row[base.col("uscc")] = nul_key;
    let rows = vec![
        with(1, &[("name", "武汉\0空字符有限公司")]), // 2: text keeps it
        with(2, &[("employees", "12\0")]),            // 3
        with(3, &[("serious_dishonesty", "\0")]),     // 4
        with(4, &[("registered_on", "2020-01-0\0")]), // 5
        key_row,                                      // 6
        with(6, &[]),                                 // 7
    ];
    let data = tmp.write("nul.csv", csv_text(&header, &rows, "\n"));
    let res = accounted(&run(&tmp, &data, &[]), 6);
    assert_split(&res, &[1, 6], &[3, 4, 5, 6]);
    res.reject(3, &["not a number"]);
    res.reject(4, &["not a yes/no value"]);
    res.reject(5, &["not a date"]);
    res.reject(6, &["cannot appear in a credit code"]);
    assert_eq!(res.unknown_columns(), vec!["ex\0tra".to_string()]);
    assert_wengang(&res, 1, "60000.00");
}

// ---- values ------------------------------------------------------------------

#[test]
fn forty_digit_numbers() {
    let base = Base::load();
    let tmp = Temp::new("forty");
    let forty = "1234567890".repeat(4);
    let grouped = {
        // 1,234,567,… grouped by three
        let digits: Vec<char> = forty.chars().collect();
        let mut s = String::new();
        for (i, c) in digits.iter().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                s.push(',');
            }
            s.push(*c);
        }
        s
    };
    let tiny = format!("0.{}1", "0".repeat(39));
    let huge = format!("1{}", "0".repeat(39));
    let negative = format!("-{forty}");
    let percent = format!("{forty}%");
    let rows = vec![
        base.firm(1, &[("revenue", &forty)]),                  // 2
        base.firm(2, &[("employees", &forty)]),                // 3
        base.firm(3, &[("layoff_rate", &percent)]),            // 4
        base.firm(4, &[("ui_premium_paid", &grouped)]),        // 5
        base.firm(5, &[("revenue", &tiny)]),                   // 6
        base.firm(6, &[("revenue", &huge)]),                   // 7
        base.firm(7, &[("revenue", &negative)]),               // 8
        base.firm(8, &[("revenue", &format!("{forty}万元"))]), // 9
        // 28 significant digits still fit
        base.firm(9, &[("revenue", &"9".repeat(28))]), // 10
        // 28 digits, but times 10^8 beyond what an exact decimal holds
        base.firm(10, &[("revenue", &format!("{}亿", "9".repeat(28)))]), // 11
    ];
    let data = tmp.write("forty.csv", csv_text(&base.header, &rows, "\n"));
    let res = accounted(&run(&tmp, &data, &[]), 10);
    assert_split(&res, &[9], &[2, 3, 4, 5, 6, 7, 8, 9, 11]);
    // 1 and 39 zeros counts its zeros as significant: 40 digits all the same
    for row in [2, 3, 4, 5, 7, 8, 9] {
        let r = res.reject(row, &["more than 28 significant digits"]);
        assert!(r.reason.contains(&r.value), "names the value: {r:?}");
    }
    res.reject(6, &["more than 28 decimal places"]);
    res.reject(11, &["too large"]);
}

#[test]
fn negative_money_is_read_and_pays_nothing() {
    let base = Base::load();
    let tmp = Temp::new("negative");
    let rows = vec![
        base.firm(1, &[("ui_premium_paid", "-10万")]),
        base.firm(2, &[("ui_premium_paid", "-0"), ("revenue", "-1,234.5")]),
        base.firm(3, &[("ui_premium_paid", "-0.01元")]),
        base.firm(4, &[("revenue", "-1.2亿元")]),
    ];
    let data = tmp.write("negative.csv", csv_text(&base.header, &rows, "\n"));
    let res = accounted(&run(&tmp, &data, &[]), 4);
    assert_split(&res, &[1, 2, 3, 4], &[]);
    for n in [1, 2, 3] {
        let d = res.decision(&uscc(n), WENGANG);
        assert_eq!(d.outcome, "ineligible", "{d:?}");
        assert_eq!((d.amount.as_str(), d.funded.as_str()), ("", ""));
        assert!(d.reasons.starts_with("no payable amount"), "{d:?}");
    }
    assert!(res
        .decision(&uscc(1), WENGANG)
        .reasons
        .contains("ui_premium_paid=-100000"));
    assert_wengang(&res, 4, "60000.00");
    // no negative amount anywhere
    for d in &res.decisions {
        assert!(
            !d.amount.starts_with('-') && !d.funded.starts_with('-'),
            "{d:?}"
        );
    }
}

#[test]
fn percents_over_100_are_read() {
    let base = Base::load();
    let tmp = Temp::new("percent");
    let rows = vec![
        base.firm(1, &[("layoff_rate", "150%")]),
        base.firm(2, &[("layoff_rate", "5")]), // a plain 5 is 500%
        base.firm(3, &[("layoff_rate", "1000000%")]),
        base.firm(4, &[("layoff_rate", "-5%")]),
        base.firm(5, &[("layoff_rate", "5.5%")]),
    ];
    let data = tmp.write("percent.csv", csv_text(&base.header, &rows, "\n"));
    let res = accounted(&run(&tmp, &data, &[]), 5);
    assert_split(&res, &[1, 2, 3, 4, 5], &[]);
    for (n, shown) in [(1, "150%"), (2, "500%"), (3, "1000000%")] {
        let d = res.decision(&uscc(n), WENGANG);
        assert_eq!(d.outcome, "ineligible");
        assert!(d.reasons.contains("裁员率不高于5.5%"), "{d:?}");
        assert!(d.reasons.contains(&format!("layoff_rate={shown}")), "{d:?}");
    }
    assert_wengang(&res, 4, "60000.00");
    assert_wengang(&res, 5, "60000.00");
}

#[test]
fn february_29() {
    let base = Base::load();
    let tmp = Temp::new("leap");
    let good = [
        "2024-02-29",
        "2024/2/29",
        "20240229",
        "2024年2月29日",
        "2000-02-29",
    ];
    let bad = [
        "2023-02-29",
        "2023/2/29",
        "20230229",
        "2023年2月29日",
        "1900-02-29",
        "2024-02-30",
    ];
    let mut rows = Vec::new();
    for (i, d) in good.iter().chain(&bad).enumerate() {
        rows.push(base.firm(i as u32 + 1, &[("registered_on", d)]));
    }
    let data = tmp.write("leap.csv", csv_text(&base.header, &rows, "\n"));
    let res = accounted(&run(&tmp, &data, &[]), rows.len() as u64);
    let good_firms: Vec<u32> = (1..=good.len() as u32).collect();
    let bad_rows: Vec<u64> = (0..bad.len() as u64)
        .map(|i| good.len() as u64 + 2 + i)
        .collect();
    assert_split(&res, &good_firms, &bad_rows);
    for (row, value) in bad_rows.iter().zip(bad) {
        let r = res.reject(*row, &["no such day in the calendar"]);
        assert_eq!(
            (r.column.as_str(), r.value.as_str()),
            ("registered_on", value)
        );
    }
    // and as the run's date
    let r = command(
        &[
            "run",
            "policies",
            "--data",
            &data.to_string_lossy(),
            "--as-of",
            "2023-02-29",
            "--out",
            &tmp.join("leap-out").to_string_lossy(),
        ],
        tmp.join("leap-out"),
    );
    assert_unreadable(&r, "2023-02-29", &["not a date"]);
}

#[test]
fn duplicate_keys_reject_every_row() {
    let base = Base::load();
    let tmp = Temp::new("dup-keys");
    let mut ragged = base.firm(1, &[]);
    ragged.truncate(3);
    let rows = vec![
        base.firm(1, &[]),                   // 2
        base.firm(2, &[]),                   // 3
        base.firm(1, &[("size", "大型")]),   // 4
        base.firm(1, &[("employees", "x")]), // 5: also a bad cell
        ragged,                              // 6: also the wrong cell count
        base.firm(3, &[]),                   // 7
    ];
    let data = tmp.write("dups.csv", csv_text(&base.header, &rows, "\n"));
    let res = accounted(&run(&tmp, &data, &[]), 6);
    assert_split(&res, &[2, 3], &[2, 4, 5, 6]);
    res.reject(2, &["the key is also on rows 4, 5, 6"]);
    res.reject(4, &["the key is also on rows 2, 5, 6"]);
    res.reject(5, &["the key is also on rows 2, 4, 6"]);
    res.reject(5, &["not a number"]);
    res.reject(6, &["the key is also on rows 2, 4, 5"]);
}

// ---- JSON Lines ----------------------------------------------------------------

#[test]
fn json_lines_of_every_kind() {
    let base = Base::load();
    let tmp = Temp::new("jsonl");
    let object = |row: &[String]| -> serde_json::Map<String, Value> {
        base.header
            .iter()
            .zip(row)
            .map(|(h, c)| (h.clone(), Value::String(c.clone())))
            .collect()
    };
    let line = |m: &serde_json::Map<String, Value>| Value::Object(m.clone()).to_string();
    let numeric = numeric_uscc();
    let mut lines = Vec::new();
    lines.push(line(&object(&base.firm(1, &[])))); // 1
    lines.push("[1, 2, 3]".into()); // 2
    let mut m = object(&base.firm(0, &[]));
    m.insert(
        "uscc".into(),
        serde_json::from_str(&numeric).expect("a number"),
    );
    lines.push(line(&m)); // 3: the key as a JSON number
    let mut m = object(&base.firm(3, &[]));
    m.insert(
        "revenue".into(),
        serde_json::json!({ "value": 1, "unit": "元" }),
    );
    lines.push(line(&m)); // 4: a nested object
    lines.push("   ".into()); // 5: blank
    let mut m = object(&base.firm(4, &[("size", "大型")]));
    m.insert("employees".into(), serde_json::json!(12));
    m.insert("tags".into(), serde_json::json!(["规上", "高新技术企业"]));
    lines.push(line(&m)); // 6: numbers and arrays as such
    lines.push("\"just a string\"".into()); // 7
    let mut m = object(&base.firm(5, &[]));
    m.insert("参保职工人数".into(), serde_json::json!(7));
    lines.push(line(&m)); // 8: a field by name and by title
    let whole = line(&object(&base.firm(6, &[])));
    let half = whole.chars().count() / 2;
    lines.push(whole.chars().take(half).collect()); // 9: cut short
    lines.push("null".into()); // 10
    let mut m = object(&base.firm(7, &[]));
    m.insert(
        "revenue".into(),
        serde_json::from_str(&"1234567890".repeat(4)).expect("a number"),
    );
    lines.push(line(&m)); // 11: a 40-digit number
    let mut m = object(&base.firm(8, &[]));
    m.insert("uscc".into(), serde_json::json!(12345));
    lines.push(line(&m)); // 12: a short number key
    lines.push(String::new()); // 13: empty
    let mut m = object(&base.firm(9, &[]));
    m.remove("uscc");
    lines.push(line(&m)); // 14: no key at all
    let mut m = object(&base.firm(10, &[]));
    m.insert(
        "serious_dishonesty".into(),
        serde_json::json!({ "nested": [1, { "deeper": null }] }),
    );
    lines.push(line(&m)); // 15
    lines.push(line(&object(&base.firm(11, &[])))); // 16
    let text = lines.join("\n") + "\n";
    let data = tmp.write("firms.jsonl", text);
    let written = lines.iter().filter(|l| !l.trim().is_empty()).count() as u64;
    assert_eq!(written, 14);
    let res = accounted(&run(&tmp, &data, &[]), written);
    let firms: BTreeSet<String> = [uscc(1), numeric.clone(), uscc(4), uscc(11)]
        .into_iter()
        .collect();
    assert_eq!(res.firms(), firms);
    let rejected: BTreeSet<u64> = [2, 4, 7, 8, 9, 10, 11, 12, 14, 15].into_iter().collect();
    assert_eq!(res.rejected_rows(), rejected, "{:#?}", res.rejects);
    res.reject(2, &["not a JSON object"]);
    res.reject(4, &["an object is not a money value"]);
    res.reject(7, &["not a JSON object"]);
    res.reject(8, &["both name the field `employees`"]);
    res.reject(9, &["not valid JSON"]);
    res.reject(10, &["not a JSON object"]);
    res.reject(11, &["more than 28 significant digits"]);
    res.reject(12, &["18 characters"]);
    res.reject(14, &["the key is empty"]);
    res.reject(15, &["an object is not"]);
    assert_eq!(res.decision(&numeric, WENGANG).amount, "60000.00");
    assert_wengang(&res, 4, "30000.00");
}

/// JSON Lines with a byte-order mark and CRLF ends, and JSON Lines in GBK.
#[test]
fn json_lines_bom_crlf_and_gbk() {
    let base = Base::load();
    let tmp = Temp::new("jsonl-enc");
    let object = |row: Vec<String>| -> String {
        let m: serde_json::Map<String, Value> = base
            .header
            .iter()
            .zip(row)
            .map(|(h, c)| (h.clone(), Value::String(c)))
            .collect();
        Value::Object(m).to_string()
    };
    let lines = [
        object(base.firm(1, &[("size", "大型")])),
        object(base.firm(2, &[("employees", "x")])),
        object(base.firm(3, &[])),
    ];
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend(lines.join("\r\n").into_bytes());
    bom.extend(b"\r\n");
    let text = lines.join("\n");
    let (gbk, _, _) = encoding_rs::GBK.encode(&text);
    for (name, bytes) in [("bom.jsonl", bom), ("gbk.jsonl", gbk.into_owned())] {
        let data = tmp.write(name, &bytes);
        let res = accounted(&run(&tmp, &data, &[]), 3);
        assert_split(&res, &[1, 3], &[2]);
        res.reject(2, &["not a number"]);
        assert_wengang(&res, 1, "30000.00");
        assert!(
            res.unknown_columns().is_empty(),
            "{:?}",
            res.unknown_columns()
        );
    }
}

#[test]
fn random_bytes_as_data() {
    let tmp = Temp::new("random-data");
    let bytes = random_bytes(7, 64 << 10);
    // as CSV the header cannot be read: exit 2 with a message, no panic
    let data = tmp.write("random.csv", &bytes);
    let r = run(&tmp, &data, &[]);
    assert_unreadable(&r, "random.csv", &["header"]);
    // as JSON Lines every non-blank line is a rejected row
    let data = tmp.write("random.jsonl", &bytes);
    let lines = bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .count() as u64;
    let res = accounted(&run(&tmp, &data, &[]), lines);
    assert_eq!(res.count("firms"), 0);
}

/// A header that does not decode as GB18030 (auto-detection chose GB18030)
/// is reported as "not valid UTF-8; try --encoding gb18030": the advice is
/// the encoding already in use.
#[test]

fn undecodable_header_names_the_encoding_tried() {
    let tmp = Temp::new("random-header");
    let data = tmp.write("random.csv", random_bytes(7, 64 << 10));
    let r = run(&tmp, &data, &[]);
    assert_unreadable(&r, "random.csv", &["header"]);
    assert!(
        !r.stderr.contains("try --encoding gb18030"),
        "the file was already read as GB18030:\n{}",
        r.stderr
    );
}

// ---- policy files -------------------------------------------------------------

/// A policy set of the example schema and one policy file.
fn policy_set(tmp: &Temp, policy: impl AsRef<[u8]>) -> PathBuf {
    let dir = tmp.join("set");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::copy(
        Path::new(ROOT).join("policies/schema.yaml"),
        dir.join("schema.yaml"),
    )
    .expect("copy schema.yaml");
    std::fs::write(dir.join("a.policy"), policy).expect("write a.policy");
    dir
}

/// Deterministic pseudo-random bytes (xorshift64*).
fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

/// A policy error: exit 1, the file named with a line and column, no panic.
fn assert_policy_error(r: &Ran, words: &[&str]) {
    assert_no_crash(r);
    assert_eq!(r.code(), Some(1), "stderr:\n{}", r.stderr);
    assert!(
        r.stderr.contains("a.policy:"),
        "names the file:\n{}",
        r.stderr
    );
    for w in words {
        assert!(r.stderr.contains(w), "should say `{w}`:\n{}", r.stderr);
    }
}

#[test]
fn parentheses_1000_deep() {
    let tmp = Temp::new("deep");
    let expr = format!("{}employees > 0{}", "(".repeat(1000), ")".repeat(1000));
    let dir = policy_set(
        &tmp,
        format!("policy p {{\n  title \"t\"\n  require \"深\" {expr}\n}}\n"),
    );
    let r = check(&dir, &[]);
    assert_policy_error(&r, &["a.policy:3:", "nested more than 200 deep"]);
    // and as an amount, through `run`: nothing evaluated
    let expr = format!("{}ui_premium_paid{}", "(".repeat(1000), ")".repeat(1000));
    let dir = policy_set(&tmp, format!("policy p {{ title \"t\" amount {expr} }}"));
    let data = tmp.write("d.csv", {
        let base = Base::load();
        csv_text(&base.header, &[base.firm(1, &[])], "\n")
    });
    let r = run_with(&tmp, &dir, &data, &[]);
    assert_policy_error(&r, &["nested more than 200 deep"]);
    assert!(!r.out.exists());
}

#[test]
fn other_deep_expressions_are_refused() {
    let tmp = Temp::new("deep-other");
    let cases = [
        // unary minus 1,000 times
        format!("amount {}ui_premium_paid", "- ".repeat(1000)),
        // an else-if chain 1,000 long
        format!(
            "amount {} 0元",
            (0..1000)
                .map(|i| format!("if employees == {i} then {i}元 else\n"))
                .collect::<String>()
        ),
        // 1,000 terms in a row
        format!("amount {}", vec!["employees"; 1000].join(" + ")),
        // 1,000 nested calls
        format!("amount {}1元{}", "abs(".repeat(1000), ")".repeat(1000)),
    ];
    for body in cases {
        let dir = policy_set(&tmp, format!("policy p {{\n  title \"t\"\n  {body}\n}}\n"));
        let r = check(&dir, &[]);
        assert_policy_error(&r, &["syntax::too-deep"]);
    }
}

#[test]
fn when_with_1000_branches() {
    let tmp = Temp::new("when");
    let branches: String = (1..=1000)
        .map(|i| format!("    when employees == {i} then {i}元\n"))
        .collect();
    let dir = policy_set(
        &tmp,
        format!("policy p {{\n  title \"千支\"\n  amount \"按人数\" {{\n{branches}    else 0元\n  }}\n}}\n"),
    );
    let r = check(&dir, &[]);
    assert_no_crash(&r);
    assert_eq!(r.code(), Some(0), "stderr:\n{}", r.stderr);
    assert!(r.stdout.starts_with("ok: 1 policies"), "{}", r.stdout);
    let base = Base::load();
    let rows: Vec<Vec<String>> = [(1, "1"), (2, "500"), (3, "1000"), (4, "1001"), (5, "")]
        .iter()
        .map(|(n, e)| base.firm(*n, &[("employees", e)]))
        .collect();
    let data = tmp.write("d.csv", csv_text(&base.header, &rows, "\n"));
    let res = accounted(&run_with(&tmp, &dir, &data, &[]), 5);
    let outcome = |n: u32| {
        let d = res.decision(&uscc(n), "p");
        (d.outcome.clone(), d.amount.clone())
    };
    assert_eq!(outcome(1), ("eligible".into(), "1.00".into()));
    assert_eq!(outcome(2), ("eligible".into(), "500.00".into()));
    assert_eq!(outcome(3), ("eligible".into(), "1000.00".into()));
    assert_eq!(outcome(4), ("ineligible".into(), String::new()));
    assert_eq!(outcome(5), ("review".into(), String::new()));
    assert!(res
        .decision(&uscc(5), "p")
        .reasons
        .contains("missing: employees"));
}

#[test]
fn policy_of_random_text() {
    // random characters a policy is made of: a parse error, reported
    let alphabet: Vec<char> =
        "abcpolicytitlerequireamountwhen{}()[]\"\n :,.<>=+-*/%#万元的是规模0123456789"
            .chars()
            .collect();
    let tmp = Temp::new("random-text");
    let text: String = random_bytes(11, 64 << 10)
        .into_iter()
        .map(|b| alphabet[b as usize % alphabet.len()])
        .collect();
    let dir = policy_set(&tmp, text);
    let r = check(&dir, &[]);
    assert_policy_error(&r, &["error"]);
    let r = check(&dir, &["--error-format", "json"]);
    assert_no_crash(&r);
    assert_eq!(r.code(), Some(1));
    let json: Value = serde_json::from_str(&r.stdout).expect("JSON diagnostics");
    assert!(!json["errors"].as_array().expect("errors").is_empty());
}

#[test]
fn policy_of_random_bytes_is_a_clear_error() {
    let tmp = Temp::new("random-policy");
    let dir = policy_set(&tmp, random_bytes(3, 64 << 10));
    let r = check(&dir, &[]);
    assert_no_crash(&r);
    assert_ne!(r.code(), Some(0));
    assert!(
        r.stderr.contains("a.policy"),
        "names the file:\n{}",
        r.stderr
    );
    assert!(r.stderr.contains("not UTF-8"), "says why:\n{}", r.stderr);
}

/// README and LANGUAGE.md section 8: exit 1 when the policy set has errors,
/// 2 for a bad command line or an unreadable file. A policy file that is not
/// UTF-8 (random bytes, or a file saved as GBK) is read fine but exits 2,
/// like a missing directory, because every `load::` diagnostic maps to 2
/// (`cli::load`).
#[test]

fn policy_of_random_bytes_exits_1() {
    let tmp = Temp::new("random-policy-1");
    let dir = policy_set(&tmp, random_bytes(3, 64 << 10));
    let r = check(&dir, &[]);
    assert_policy_error(&r, &["not UTF-8"]);
}

/// A megabyte of `not not not … true`, one `not` per line: refused without a
/// crash.
#[test]
fn one_megabyte_of_not_on_many_lines() {
    let tmp = Temp::new("not-lines");
    let nots = (1 << 20) / 4;
    let dir = policy_set(
        &tmp,
        format!(
            "policy p {{\n  title \"t\"\n  require \"否\"\n{}true\n}}\n",
            "not\n".repeat(nots)
        ),
    );
    let r = check(&dir, &[]);
    assert_no_crash(&r);
    assert_eq!(r.code(), Some(1), "stderr:\n{}", r.stderr);
    assert!(r.stderr.contains("a.policy:"), "{}", r.stderr);
}

/// The same megabyte on one line: the diagnostic's column is beyond 65,535
/// and rendering it panics inside miette ("Formatting argument out of
/// range"), exit 101. With the `not`s on separate lines the message is
/// `expected something else, found `not`` rather than the too-deep error
/// 1,000 `not`s get.
#[test]

fn one_megabyte_of_not_on_one_line() {
    let tmp = Temp::new("not-line");
    let nots = (1 << 20) / 4;
    let dir = policy_set(
        &tmp,
        format!(
            "policy p {{\n  title \"t\"\n  require \"否\" {}true\n}}\n",
            "not ".repeat(nots)
        ),
    );
    let r = check(&dir, &[]);
    assert_policy_error(&r, &["nested more than 200 deep"]);
    // the smallest case: an unknown name at column 70,000
    let dir = policy_set(
        &tmp,
        format!(
            "policy p {{ title \"t\" {}require \"x\" employes > 0 }}\n",
            " ".repeat(70_000)
        ),
    );
    let r = check(&dir, &[]);
    assert_policy_error(&r, &["不认识的名称 `employes` (unknown name)"]);
    // and `not` chains past pest's limit, one per line
    let dir = policy_set(
        &tmp,
        format!(
            "policy p {{\n  title \"t\"\n  require \"否\"\n{}true\n}}\n",
            "not\n".repeat(nots)
        ),
    );
    let r = check(&dir, &[]);
    assert_policy_error(&r, &["nested more than 200 deep"]);
}

#[test]
fn a_1000_not_chain_is_too_deep() {
    let tmp = Temp::new("not-1000");
    let dir = policy_set(
        &tmp,
        format!(
            "policy p {{\n  title \"t\"\n  require \"否\" {}true\n}}\n",
            "not ".repeat(1000)
        ),
    );
    let r = check(&dir, &[]);
    assert_policy_error(&r, &["a.policy:3:", "nested more than 200 deep"]);
}

#[test]
fn forty_digit_literal_in_a_policy() {
    let tmp = Temp::new("forty-literal");
    let forty = "1234567890".repeat(4);
    let dir = policy_set(
        &tmp,
        format!("policy p {{\n  title \"t\"\n  amount {forty}元\n}}\n"),
    );
    let r = check(&dir, &[]);
    assert_policy_error(&r, &["a.policy:3:10", "too large or too precise"]);
}

// ---- determinism ---------------------------------------------------------------

/// The same inputs give byte-identical results, run after run and whatever
/// the number of threads. The data spans more than one read batch
/// (16,384 rows) and holds rejects and duplicate keys.
#[test]
fn same_inputs_same_bytes() {
    let tmp = Temp::new("determinism");
    let data = tmp.join("gen.csv");
    let gen = command(
        &[
            "generate",
            "policies",
            "--rows",
            "17000",
            "--seed",
            "20240229",
            "--messy",
            "--bad-rows",
            "0.02",
            "-o",
            &data.to_string_lossy(),
        ],
        PathBuf::new(),
    );
    assert_no_crash(&gen);
    assert_eq!(gen.code(), Some(0), "{}", gen.stderr);
    let runs = [
        run(&tmp, &data, &[]),
        run(&tmp, &data, &[]),
        run(&tmp, &data, &["--threads", "1"]),
    ];
    // identical bytes account identically: the first run's files are read
    let first = accounted(&runs[0], 17_000);
    assert!(first.count("rejected_rows") > 0, "the data has rejects");
    for r in &runs[1..] {
        assert_no_crash(r);
        assert_eq!(r.code(), Some(0), "stderr:\n{}", r.stderr);
    }
    for file in [
        "decisions.csv",
        "summary.csv",
        "rejects.csv",
        "manifest.json",
    ] {
        let read = |r: &Ran| std::fs::read(r.out.join(file)).expect("a result file");
        let want = read(&runs[0]);
        for r in &runs[1..] {
            assert!(read(r) == want, "{file} differs between runs");
        }
    }
}

/// One worker thread (which reads, parses and evaluates a chunk at a time)
/// gives the same bytes as two and three (which read batches while the
/// batch before is evaluated in parallel): every result file, what is
/// printed (the output folder's name aside) and the exit status, with and
/// without `--all`, with everything in memory and with the smallest
/// `--memory`. The messy data spans more than one read batch (16,384
/// rows) and holds rejects and repeated keys.
#[test]
fn one_thread_gives_the_bytes_of_two() {
    let tmp = Temp::new("one-thread");
    let data = tmp.join("gen.csv");
    let gen = command(
        &[
            "generate",
            "policies",
            "--rows",
            "17000",
            "--seed",
            "7",
            "--messy",
            "--bad-rows",
            "0.03",
            "-o",
            &data.to_string_lossy(),
        ],
        PathBuf::new(),
    );
    assert_no_crash(&gen);
    assert_eq!(gen.code(), Some(0), "{}", gen.stderr);
    let run_bare = |extra: &[&str]| {
        let out = tmp.join(&format!("bare{}", extra.join("")));
        let (p, d, o) = (
            Path::new(ROOT)
                .join("policies")
                .to_string_lossy()
                .into_owned(),
            data.to_string_lossy().into_owned(),
            out.to_string_lossy().into_owned(),
        );
        let mut args = vec!["run", &p, "--data", &d, "--as-of", AS_OF, "--out", &o];
        args.extend_from_slice(extra);
        command(&args, out)
    };
    let bytes = |r: &Ran| {
        let mut all = Vec::new();
        for file in [
            "decisions.csv",
            "summary.csv",
            "rejects.csv",
            "conflicts.csv",
            "manifest.json",
        ] {
            all.extend_from_slice(file.as_bytes());
            all.extend(std::fs::read(r.out.join(file)).unwrap_or_default());
        }
        let name = r.out.to_string_lossy().into_owned();
        all.extend(r.stdout.replace(&name, "OUT").into_bytes());
        all.extend(r.stderr.replace(&name, "OUT").into_bytes());
        all.extend(format!("{:?}", r.code()).into_bytes());
        all
    };
    let mut compared = 0;
    for way in [
        &[][..],
        &["--all"],
        &["--memory", "64"],
        &["--all", "--memory", "64"],
    ] {
        let with = |threads: &str| {
            let mut extra = way.to_vec();
            extra.extend(["--threads", threads]);
            run_bare(&extra)
        };
        let two = with("2");
        assert_no_crash(&two);
        assert_eq!(two.code(), Some(0), "stderr:\n{}", two.stderr);
        let rejects = std::fs::read_to_string(two.out.join("rejects.csv")).expect("rejects");
        assert!(rejects.lines().count() > 100, "the data has rejects");
        let want = bytes(&two);
        for threads in ["1", "3"] {
            let r = with(threads);
            assert!(
                bytes(&r) == want,
                "{way:?} --threads {threads} differs from --threads 2"
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 8);
}
