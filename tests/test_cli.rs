//! `mianshen test` through the binary: single files and cases, test-file
//! errors in the diagnostic format, Chinese outcomes, every date form for
//! `as_of`, GBK files, JUnit output; and `mianshen lint`'s exit status.

mod common;

use std::path::{Path, PathBuf};

/// A copy of the example set in a fresh folder, with `files` added to its
/// `tests/` (name, bytes).
fn set_with(name: &str, files: &[(&str, Vec<u8>)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mianshen-test-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    common::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"),
        &dir.join("set"),
    );
    for (file, bytes) in files {
        std::fs::write(dir.join("set/tests").join(file), bytes).unwrap();
    }
    dir
}

const FIRM: &str = r#"{ uscc: "91420102MA69N5K37B", region: "420102", employees: 120, insured_months: 24, layoff_rate: 3%, size: 中型, ui_premium_paid: 10万, serious_dishonesty: 否 }"#;

fn chinese_case(as_of: &str) -> String {
    format!(
        "as_of: {as_of}\ncases:\n  - name: 中文结果\n    firm: {FIRM}\n    expect:\n      wengang_2024: {{ outcome: 符合, amount: 60000.00 }}\n  - name: 不符合也可写中文\n    firm: {FIRM}\n    expect:\n      wengang_2024: {{ outcome: 不符合 }}\n"
    )
}

#[test]
fn one_file_one_case_chinese_outcomes_and_date_forms() {
    for as_of in ["2024-12-31", "2024/12/31", "20241231", "2024年12月31日"] {
        let dir = set_with("dates", &[("x.yaml", chinese_case(as_of).into_bytes())]);
        let (code, text) = common::mianshen(&dir, &["test", "set/tests/x.yaml"]);
        assert_eq!(code, 1, "{text}");
        assert!(text.contains("PASS  中文结果"), "{as_of}: {text}");
        assert!(
            text.contains("FAIL  不符合也可写中文  (set/tests/x.yaml:7)"),
            "{text}"
        );
        assert!(text.contains("1 passed, 1 failed"), "{text}");
        assert!(
            !text.contains("renshe_wengang.yaml"),
            "only the file named: {text}"
        );
        assert!(!text.contains('\u{1b}'), "no colour when piped: {text}");
        let (code, text) = common::mianshen(&dir, &["test", "set", "--case", "中文结果"]);
        assert_eq!(code, 0, "{text}");
        assert!(text.contains("1 passed, 0 failed"), "{text}");
    }
}

#[test]
fn a_gbk_test_file_reads() {
    let text = chinese_case("2024-12-31")
        .replace("不符合也可写中文", "再一个")
        .replace("outcome: 不符合", "outcome: 符合");
    let (gbk, _, bad) = encoding_rs::GBK.encode(&text);
    assert!(!bad);
    let dir = set_with("gbk", &[("gbk.yaml", gbk.into_owned())]);
    let (code, text) = common::mianshen(&dir, &["test", "set/tests/gbk.yaml"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("2 passed, 0 failed"), "{text}");
}

#[test]
fn a_broken_yaml_file_is_a_diagnostic_and_the_rest_still_runs() {
    let broken = "as_of: 2024-12-31\ncases:\n  - name: 坏的\n    firm: { uscc: \"9142\", employees: 120\n    expect:\n      wengang_2024: { outcome: 符合 }\n";
    let indented = "as_of: 2024-12-31\ncases:\n  - name: 缩进错了\n    firm:\n      uscc: \"91420102MA69N5K37B\"\n      expect:\n        wengang_2024: { outcome: 符合 }\n".to_string();
    let dir = set_with(
        "broken",
        &[
            ("broken.yaml", broken.as_bytes().to_vec()),
            ("indented.yaml", indented.into_bytes()),
        ],
    );
    let (code, text) = common::mianshen(&dir, &["test", "set"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("set/tests/broken.yaml:5:"), "{text}");
    assert!(text.contains("测试文件不是有效的 YAML"), "{text}");
    assert!(
        text.contains("`expect:` 缩进多了,写进了 `firm:` 里面"),
        "{text}"
    );
    assert!(
        text.contains("PASS  中型企业按60%返还"),
        "the other files run: {text}"
    );
}

#[test]
fn junit_for_ci() {
    let dir = set_with(
        "junit",
        &[("x.yaml", chinese_case("2024-12-31").into_bytes())],
    );
    let (code, text) = common::mianshen(&dir, &["test", "set/tests/x.yaml", "--format", "junit"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.starts_with("<?xml"), "{text}");
    assert!(
        text.contains(
            "<testsuites name=\"mianshen test\" tests=\"2\" failures=\"1\" errors=\"0\">"
        ),
        "{text}"
    );
    assert!(
        text.contains("<testcase classname=\"set/tests/x.yaml\" name=\"中文结果\"/>"),
        "{text}"
    );
    assert!(text.contains("<failure message="), "{text}");
    // a test file that cannot be read is in the report too
    let dir = set_with("junit-broken", &[("broken.yaml", b"cases: [".to_vec())]);
    let (code, text) = common::mianshen(&dir, &["test", "set", "--format", "junit"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("errors=\"1\""), "{text}");
    assert!(
        text.contains("<error message=\"测试文件不是有效的 YAML"),
        "{text}"
    );
}

#[test]
fn a_path_that_is_not_there_is_a_usage_error() {
    let dir = set_with("missing", &[]);
    let (code, text) = common::mianshen(&dir, &["test", "set/tests/nope.yaml"]);
    assert_eq!(code, 2, "{text}");
    let (code, text) = common::mianshen(&dir, &["test", "set", "--case", "没有这个用例"]);
    assert_eq!(code, 2, "{text}");
}

#[test]
fn lint_denies_warnings_for_ci() {
    let dir = set_with("lint", &[]);
    let (code, text) = common::mianshen(&dir, &["lint", "set", "--deny", "warnings"]);
    assert_eq!(code, 0, "{text}");
    let policy = dir.join("set/renshe/wengang.policy");
    let text = std::fs::read_to_string(&policy)
        .unwrap()
        .replace("ui_premium_paid * 60%", "ui_premium_paid * 60");
    std::fs::write(&policy, text).unwrap();
    let (code, text) = common::mianshen(&dir, &["lint", "set"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("lint::percent-without-sign"), "{text}");
    let (code, text) = common::mianshen(&dir, &["lint", "set", "--deny", "warnings"]);
    assert_eq!(code, 1, "{text}");
    let (code, text) = common::mianshen(&dir, &["check", "set"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("发现 1 条警告"), "{text}");
}

/// Section 9: a payment's `key` may be left out when the case has one firm,
/// whether it is given as `firm:` or as a `firms:` list of one; with several
/// firms it must be named.
#[test]
fn a_ledger_key_may_be_left_out_for_a_firms_list_of_one() {
    let dir = std::env::temp_dir().join(format!(
        "mianshen-test-cli-ledger-key-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    common::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/programme/policies"),
        &dir.join("set"),
    );
    let one = "as_of: 2024-12-31\ncases:\n  - name: 一家企业的列表\n    firms:\n      - { uscc: C003, champion_on: 2024-03-15 }\n    ledger:\n      - { policy: xiaojuren_2023, amount: 100万, paid_on: 2023-09-30 }\n    expect:\n      C003: { guanjun: { outcome: eligible, amount: 500000.00 } }\n";
    std::fs::write(dir.join("set/tests/one.yaml"), one).unwrap();
    let (code, text) = common::mianshen(&dir, &["test", "set/tests/one.yaml"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("1 passed, 0 failed"), "{text}");

    let two = one.replace(
        "      - { uscc: C003, champion_on: 2024-03-15 }\n",
        "      - { uscc: C003, champion_on: 2024-03-15 }\n      - { uscc: C004, champion_on: 2024-03-15 }\n",
    );
    std::fs::write(dir.join("set/tests/two.yaml"), two).unwrap();
    let (code, text) = common::mianshen(&dir, &["test", "set/tests/two.yaml"]);
    assert_ne!(code, 0, "{text}");
    assert!(
        text.contains("key:"),
        "the payment's firm must be named: {text}"
    );
}
