//! `mianshen explain` as an officer runs it on the example set: a firm is
//! found by streaming the file, rejected rows are named, and settlement
//! across firms is told as the batch run settled it.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn explain(firm: &str, policy: Option<&str>) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut args = vec![
        "explain".to_string(),
        root.join("policies").display().to_string(),
        "--data".into(),
        root.join("policies/data/firms.csv").display().to_string(),
        "--firm".into(),
        firm.into(),
        "--as-of".into(),
        "2024-12-31".into(),
    ];
    if let Some(p) = policy {
        args.extend(["--policy".to_string(), p.to_string()]);
    }
    Command::new(env!("CARGO_BIN_EXE_mianshen"))
        .args(&args)
        .output()
        .expect("run mianshen")
}

#[test]
fn a_firm_whose_row_was_rejected_is_named_with_its_row() {
    // row 48 holds this key with a date that cannot be read
    let out = explain("91420102MAB0H54C7G", None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("was not evaluated: its row was rejected"),
        "{err}"
    );
    assert!(
        err.contains("第 48 行, 列 `zhuanjing_on`, 值 `去年`"),
        "{err}"
    );
}

#[test]
fn a_repeated_key_names_both_rows() {
    let out = explain("91420103MAB0XXG25W", None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("第 4 行, 列 `uscc`, 值 `91420103MAB0XXG25W`: the key is also on row 16"),
        "{err}"
    );
    assert!(
        err.contains("第 16 行, 列 `uscc`, 值 `91420103MAB0XXG25W`: the key is also on row 4"),
        "{err}"
    );
}

#[test]
fn settlement_across_firms_is_told_as_the_run_settled_it() {
    // cut by `limit 20 by rnd desc`
    let out = explain("91420102335370097W", Some("yanfa_rank_2024"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("not among the first 20 firms by the `limit` order"),
        "{text}"
    );
    assert!(
        text.contains("结果 (outcome): 不符合 (ineligible)"),
        "{text}"
    );
    // eligible, but the 200万 budget paid by `allocate by` ran out first
    let out = explain("91420102038837156C", Some("zengliang_2024"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("over the budget 2000000.00"), "{text}");
    assert!(
        text.contains("结果 (outcome): 符合 (eligible)  金额 (amount) 685.78  拨付 (funded) 0.00"),
        "{text}"
    );
}

/// `explain` over the departments' files of the `join` run case, joined as
/// `run` joins them: its stdout, then its stderr, then its exit status.
fn explain_joined(firm: &str, extra: &[&str]) -> String {
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/run/join");
    let mut args = vec![
        "explain",
        "policies",
        "--data",
        "市场监管=market.csv",
        "--data",
        "税务=tax.csv",
        "--data",
        "人社=insurance.jsonl",
        "--data",
        "tech.csv",
        "--firm",
        firm,
        "--as-of",
        "2024-12-31",
    ];
    args.extend(extra);
    let out = Command::new(env!("CARGO_BIN_EXE_mianshen"))
        .current_dir(case)
        .args(&args)
        .output()
        .expect("run mianshen");
    format!(
        "{}{}exit: {}\n",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        out.status.code().unwrap_or(-1)
    )
}

#[test]
fn several_files_tell_which_file_said_what_and_what_was_used() {
    // revenue: 税务 settles it; tags: no source, so missing
    insta::assert_snapshot!(explain_joined("A03", &["--policy", "wengang"]));
    // size: no file labelled 统计=, so missing
    insta::assert_snapshot!(explain_joined("A02", &["--policy", "gaoxin"]));
}

#[test]
fn several_files_name_every_rejected_row_with_its_file() {
    insta::assert_snapshot!(explain_joined("A04", &[]));
    let absent = explain_joined("A99", &[]);
    assert!(
        absent.contains("no firm with key `A99` in the 4 data files"),
        "{absent}"
    );
    assert!(absent.ends_with("exit: 2\n"), "{absent}");
}

#[test]
fn several_files_in_json() {
    let text = explain_joined("A01", &["--format", "json"]);
    let json: serde_json::Value =
        serde_json::from_str(text.trim_end().trim_end_matches("exit: 0")).expect("json");
    let sources = &json["sources"];
    assert_eq!(sources["rows"].as_array().map(Vec::len), Some(4));
    let tags = &sources["conflicts"][0];
    assert_eq!(tags["field"], "tags");
    assert_eq!(tags["used"], serde_json::Value::Null);
    assert_eq!(tags["values"][1]["file"], "insurance.jsonl");
    // one file: no `sources` at all
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_mianshen"))
        .current_dir(root)
        .args([
            "explain",
            "policies",
            "--data",
            "policies/data/firms.csv",
            "--firm",
            "91420102038837156C",
            "--as-of",
            "2024-12-31",
            "--format",
            "json",
        ])
        .output()
        .expect("run mianshen");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(json.get("sources").is_none());
}

#[test]
fn several_files_settle_across_firms_as_the_run_does() {
    let dir = std::env::temp_dir().join(format!("mianshen-explain-split-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = common::example_departments(&dir, "departments", &[]);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // cut by `limit 20 by rnd desc`; not paid by `allocate by` once the budget ran out
    for (firm, policy) in [
        ("91420102335370097W", "yanfa_rank_2024"),
        ("91420102038837156C", "zengliang_2024"),
    ] {
        let mut args = vec![
            "explain".to_string(),
            root.join("policies").display().to_string(),
        ];
        for d in &data {
            args.extend(["--data".to_string(), d.clone()]);
        }
        args.extend(
            ["--firm", firm, "--as-of", "2024-12-31", "--policy", policy].map(String::from),
        );
        let joined = Command::new(env!("CARGO_BIN_EXE_mianshen"))
            .current_dir(&dir)
            .args(&args)
            .output()
            .expect("run mianshen");
        let joined = String::from_utf8_lossy(&joined.stdout).into_owned();
        let single = explain(firm, Some(policy));
        let single = String::from_utf8_lossy(&single.stdout);
        // the same explanation, with the rows it was joined from
        let (head, rest) = joined.split_once('\n').expect("a first line");
        let (sources, rest) = rest.split_once('\n').expect("a second line");
        assert!(sources.starts_with("数据来源 (rows joined): "), "{joined}");
        assert_eq!(format!("{head}\n{rest}"), single);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let twice = explain_joined("A07", &["--data", "tax.csv"]);
    assert!(twice.contains("`tax.csv` is given twice"), "{twice}");
}
