//! The payment programme example (`examples/programme`, the officers' guide
//! section 4.5): its cases pass, and the two-year walk-through works as
//! written: run 2024, record its payments, run 2025 with the same ledger.

mod common;

use std::path::Path;

fn example() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/programme")
}

#[test]
fn the_cases_pass_and_a_changed_amount_fails() {
    let (code, text) = common::mianshen(&example(), &["test", "policies"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("12 passed, 0 failed"), "{text}");
    let dir = std::env::temp_dir().join(format!("mianshen-programme-cases-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    common::copy_dir(&example(), &dir);
    let cases = dir.join("policies/tests/awards.yaml");
    let changed = std::fs::read_to_string(&cases).unwrap().replacen(
        "amount: 300000.00",
        "amount: 300000.01",
        1,
    );
    std::fs::write(&cases, changed).unwrap();
    let (code, text) = common::mianshen(&dir, &["test", "policies"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("11 passed, 1 failed"), "{text}");
}

#[test]
fn two_years_of_payments() {
    let dir = std::env::temp_dir().join(format!("mianshen-programme-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    common::copy_dir(&example(), &dir.join("programme"));
    let run = |as_of: &str, out: &str| {
        let args = [
            "run",
            "programme/policies",
            "--data",
            "programme/data.csv",
            "--ledger",
            "programme/ledger.csv",
            "--as-of",
            as_of,
            "--out",
            out,
        ];
        let (code, text) = common::mianshen(&dir, &args);
        assert_eq!(code, 0, "{text}");
        assert!(!text.contains("warning"), "{text}");
        std::fs::read_to_string(dir.join(out).join("decisions.csv")).unwrap()
    };
    let y2024 = run("2024-12-31", "out2024");
    assert_eq!(
        y2024,
        "key,policy,outcome,amount,funded,reasons\n\
         A001,chuangxin,eligible,300000.00,300000.00,\n\
         A001,shenggui_2024,eligible,200000.00,200000.00,\n\
         B002,chuangxin,eligible,200000.00,200000.00,研发创新奖励不超过上年度地方财政贡献\n\
         B002,guanjun,eligible,1500000.00,1500000.00,\n\
         B002,shenggui_2024,eligible,100000.00,100000.00,同一企业年度奖励累计不超过160万元\n\
         C003,chuangxin,review,,,研发创新奖励不超过上年度地方财政贡献; missing: tax_local\n\
         C003,guanjun,eligible,500000.00,500000.00,\n"
    );
    let add = [
        "ledger",
        "add",
        "out2024",
        "--ledger",
        "programme/ledger.csv",
        "--paid-on",
        "2025-01-20",
    ];
    let (code, text) = common::mianshen(&dir, &add);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("recorded: 6 payments, total 2800000.00 yuan"),
        "{text}"
    );
    // the second instalments are paid, the once-only award is not paid again
    let y2025 = run("2025-12-31", "out2025");
    assert_eq!(
        y2025,
        "key,policy,outcome,amount,funded,reasons\n\
         A001,shenggui_2025_second,eligible,300000.00,300000.00,\n\
         B002,shenggui_2025_second,eligible,150000.00,150000.00,\n\
         C003,chuangxin,review,,,研发创新奖励不超过上年度地方财政贡献; missing: tax_local\n"
    );
}

#[test]
fn explain_shows_the_combined_cap_arithmetic() {
    let args = [
        "explain",
        "policies",
        "--data",
        "data.csv",
        "--ledger",
        "ledger.csv",
        "--as-of",
        "2024-12-31",
        "--firm",
        "B002",
        "--policy",
        "shenggui_2024",
    ];
    let (code, text) = common::mianshen(&example(), &args);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("合计封顶 (combined)  同一企业年度奖励累计不超过160万元  160万"),
        "{text}"
    );
    assert!(
        text.contains("guanjun: 应得 (asked) 1500000.00 → 符合 (eligible) 1500000.00"),
        "{text}"
    );
    assert!(
        text.contains("shenggui_2024: 应得 (asked) 200000.00 → 符合 (eligible) 100000.00"),
        "{text}"
    );
    assert!(
        text.contains("理由 (reasons): 同一企业年度奖励累计不超过160万元"),
        "{text}"
    );
}
