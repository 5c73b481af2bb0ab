//! The bundled example policy set: it checks clean, its officers' test cases
//! pass through the real `mianshen test` command, and a run over the bundled
//! data accounts for every row.

use std::process::Command;

fn mianshen(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mianshen"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("run mianshen")
}

#[test]
fn example_set_checks_clean() {
    let out = mianshen(&["check", "policies"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok: 15 policies"));
}

#[test]
fn example_set_test_cases_pass() {
    let out = mianshen(&["test", "policies"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.trim_end().ends_with(", 0 failed"), "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");
}

#[test]
fn example_run_accounts_for_every_row() {
    let dir = std::env::temp_dir().join(format!("mianshen-example-{}", std::process::id()));
    let out = mianshen(&[
        "run",
        "policies",
        "--data",
        "policies/data/firms.csv",
        "--as-of",
        "2024-12-31",
        "--all",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let counts = &manifest["counts"];
    let rows = counts["rows"].as_u64().unwrap();
    let firms = counts["firms"].as_u64().unwrap();
    let rejected = counts["rejected_rows"].as_u64().unwrap();
    assert_eq!(rows, 1000);
    assert_eq!(firms + rejected, rows, "every row is a firm or a reject");
    // with --all, every firm has one decision per policy in force
    let decisions = std::fs::read_to_string(dir.join("decisions.csv")).unwrap();
    let in_force = counts["policies_in_force"].as_u64().unwrap();
    assert_eq!(decisions.lines().count() as u64 - 1, firms * in_force);
    let _ = std::fs::remove_dir_all(&dir);
}
