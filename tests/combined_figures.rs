//! What each `combined` group's cap took across a run (the manifest's
//! `combined` figures and the run's printed summary), checked against the
//! same run without the cap: the money taken is the difference of the two
//! runs' amounts, decision by decision.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use rust_decimal::Decimal;
use serde_json::Value;

const CASE: &str = "tests/cases/run/ledger";
const LABEL: &str = "年度奖励累计上限";

/// A copy of the ledger run case in a fresh folder.
fn case(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mianshen-combined-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    common::copy_dir(Path::new(CASE), &dir);
    dir
}

fn run(dir: &Path, out: &str, all: bool) -> String {
    let mut args = vec![
        "run",
        "policies",
        "--data",
        "data.csv",
        "--ledger",
        "ledger.csv",
        "--as-of",
        "2024-12-31",
        "--out",
        out,
    ];
    if all {
        args.push("--all");
    }
    let (code, text) = common::mianshen(dir, &args);
    assert_eq!(code, 0, "{text}");
    text
}

/// `(key, policy) -> (outcome, amount)` of a decisions.csv.
fn decisions(path: &Path) -> BTreeMap<(String, String), (String, Option<Decimal>)> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            let amount = (!rec[3].is_empty()).then(|| rec[3].parse().unwrap());
            ((rec[0].into(), rec[1].into()), (rec[2].into(), amount))
        })
        .collect()
}

fn figures(dir: &Path, out: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(out).join("manifest.json")).unwrap();
    let m: Value = serde_json::from_str(&text).unwrap();
    let groups = m["combined"].as_array().expect("a combined list").clone();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["label"], LABEL);
    groups[0].clone()
}

/// The figures a run with the cap and one without it imply: firms cut,
/// decisions cut, decisions turned ineligible, money taken, firms sent to
/// review (the set's only review through the cap is a missing cap).
fn expected(with: &Path, without: &Path) -> (u64, u64, u64, Decimal, u64) {
    let (with, without) = (decisions(with), decisions(without));
    let mut firms = std::collections::BTreeSet::new();
    let mut review = std::collections::BTreeSet::new();
    let (mut cut, mut zeroed, mut taken) = (0, 0, Decimal::ZERO);
    for (k, (outcome, amount)) in &without {
        if outcome != "eligible" {
            continue;
        }
        let full = amount.unwrap_or_default();
        let (now_outcome, now) = with.get(k).expect("the same decisions with --all");
        let now = now.unwrap_or_default();
        if now_outcome == "review" {
            review.insert(k.0.clone());
            continue;
        }
        if now_outcome == "eligible" && now == full {
            continue;
        }
        firms.insert(k.0.clone());
        if now_outcome == "eligible" {
            cut += 1;
        } else {
            zeroed += 1;
        }
        taken += full - now;
    }
    (firms.len() as u64, cut, zeroed, taken, review.len() as u64)
}

fn assert_figures(fig: &Value, (firms, cut, zeroed, taken, review): (u64, u64, u64, Decimal, u64)) {
    assert_eq!(fig["firms_review_cap_missing"], review, "{fig}");
    assert_eq!(fig["firms_cut"], firms, "{fig}");
    assert_eq!(fig["decisions_cut"], cut, "{fig}");
    assert_eq!(fig["decisions_turned_ineligible"], zeroed, "{fig}");
    assert_eq!(fig["amount_taken"], format!("{taken:.2}"), "{fig}");
}

/// Removes the set's combined group (the rest of the file unchanged).
fn drop_cap(dir: &Path) {
    let path = dir.join("policies/awards.policy");
    let text = std::fs::read_to_string(&path).unwrap();
    let at = text
        .find("combined \"")
        .expect("the case has a combined group");
    std::fs::write(&path, &text[..at]).unwrap();
}

#[test]
fn the_figures_are_what_the_cap_took_with_or_without_all() {
    let dir = case("figures");
    let printed = run(&dir, "capped", true);
    run(&dir, "listed", false);
    let nocap = case("figures-nocap");
    drop_cap(&nocap);
    run(&nocap, "full", true);
    let want = expected(
        &dir.join("capped/decisions.csv"),
        &nocap.join("full/decisions.csv"),
    );
    assert!(
        want.0 > 0 && want.1 > 0 && want.2 > 0 && want.4 > 0,
        "the case cuts, zeroes and misses a cap: {want:?}"
    );
    assert_figures(&figures(&dir, "capped"), want);
    // without --all the ineligible decisions are not listed, yet counted
    assert_eq!(figures(&dir, "listed"), figures(&dir, "capped"));
    let listed = std::fs::read_to_string(dir.join("listed/decisions.csv")).unwrap();
    assert!(!listed.contains(",ineligible,"), "{listed}");
    assert!(
        printed.contains(&format!("combined \"{LABEL}\": {} firms cut", want.0)),
        "{printed}"
    );
    for d in [dir, nocap] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn a_firm_dropped_for_a_repeated_key_is_not_counted() {
    let dir = case("dropped");
    run(&dir, "before", false);
    let before = figures(&dir, "before");
    // C is cut by the cap; on two rows, it is rejected and its cut gone
    let data = std::fs::read_to_string(dir.join("data.csv")).unwrap();
    let c_row = data
        .lines()
        .find(|l| l.starts_with("C,"))
        .unwrap()
        .to_string();
    std::fs::write(dir.join("data.csv"), format!("{data}{c_row}\n")).unwrap();
    run(&dir, "after", true);
    let nocap = case("dropped-nocap");
    std::fs::write(nocap.join("data.csv"), format!("{data}{c_row}\n")).unwrap();
    drop_cap(&nocap);
    run(&nocap, "full", true);
    let want = expected(
        &dir.join("after/decisions.csv"),
        &nocap.join("full/decisions.csv"),
    );
    let after = figures(&dir, "after");
    assert_figures(&after, want);
    assert_ne!(after, before, "C's cut is no longer counted");
    for d in [dir, nocap] {
        let _ = std::fs::remove_dir_all(d);
    }
}
