//! `mianshen explain` as an officer runs it on the example set: a firm is
//! found by streaming the file, rejected rows are named, and settlement
//! across firms is told as the batch run settled it.

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
        err.contains("row 48, column `zhuanjing_on`, value `去年`"),
        "{err}"
    );
}

#[test]
fn a_repeated_key_names_both_rows() {
    let out = explain("91420103MAB0XXG25W", None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("row 4, column `uscc`, value `91420103MAB0XXG25W`: the key is also on row 16"),
        "{err}"
    );
    assert!(
        err.contains("row 16, column `uscc`, value `91420103MAB0XXG25W`: the key is also on row 4"),
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
    assert!(text.contains("outcome: ineligible"), "{text}");
    // eligible, but the 200万 budget paid by `allocate by` ran out first
    let out = explain("91420102038837156C", Some("zengliang_2024"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("over the budget 2000000.00"), "{text}");
    assert!(
        text.contains("outcome: eligible  amount 685.78  funded 0.00"),
        "{text}"
    );
}
