//! `mianshen ledger add` and `mianshen ledger check`: a run's payments are
//! recorded once, only from verified results, atomically and under a lock.

mod common;

use std::path::{Path, PathBuf};

/// Runs mianshen in `dir` expecting exit `code`; what it printed.
fn mianshen(dir: &Path, args: &[&str], code: i32) -> String {
    let (status, text) = common::mianshen(dir, args);
    assert_eq!(status, code, "{args:?}: {text}");
    text
}

/// The ledger run case (policies, data.csv, ledger.csv) in a fresh folder.
fn workspace(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("mianshen-ledger-add-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/run/ledger");
    common::copy_dir(&case, &dir);
    dir
}

fn run(dir: &Path, as_of: &str, out: &str, all: bool) {
    let mut args = vec![
        "run",
        "policies",
        "--data",
        "data.csv",
        "--as-of",
        as_of,
        "--ledger",
        "ledger.csv",
        "--out",
        out,
    ];
    if all {
        args.push("--all");
    }
    mianshen(dir, &args, 0);
}

/// `mianshen ledger add OUT --ledger LEDGER --paid-on DATE`, expecting `code`.
fn add(dir: &Path, out: &str, ledger: &str, paid_on: &str, code: i32) -> String {
    let args = [
        "ledger",
        "add",
        out,
        "--ledger",
        ledger,
        "--paid-on",
        paid_on,
    ];
    mianshen(dir, &args, code)
}

fn read(dir: &Path, f: &str) -> String {
    std::fs::read_to_string(dir.join(f)).unwrap()
}

#[test]
fn a_run_is_recorded_once_and_the_next_year_reads_it() {
    let dir = workspace("once");
    run(&dir, "2024-12-31", "out2024", false);
    let before = read(&dir, "ledger.csv");
    let t = add(&dir, "out2024", "ledger.csv", "2025-01-20", 0);
    assert!(
        t.contains("recorded: 9 payments, total 7200000.00 yuan"),
        "{t}"
    );
    let after = read(&dir, "ledger.csv");
    let lines: Vec<&str> = after.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(
        lines[0], "key,policy,amount,paid_on,note,run",
        "a run column is added"
    );
    assert_eq!(lines.len(), before.lines().count() + 9);
    // the old rows are kept as they were, with an empty run cell
    assert_eq!(lines[1], "B,xiaojuren_2022,100万,2022-09-30,小巨人,");
    // every eligible decision with a funded amount, as decisions.csv gives it
    let decisions = read(&dir, "out2024/decisions.csv");
    for d in decisions.lines().filter(|l| l.contains(",eligible,")) {
        let c: Vec<&str> = d.split(',').collect();
        let wanted = format!("{},{},{},2025-01-20,,", c[0], c[1], c[4]);
        assert!(
            lines.iter().any(|l| l.starts_with(&wanted)),
            "{wanted} in the ledger"
        );
    }

    // the same run again is refused, saying when it was added
    let t = add(&dir, "out2024", "ledger.csv", "2025-02-01", 1);
    assert!(t.contains("already added to the ledger"), "{t}");
    assert!(t.contains("lines 13 to 21, paid on 2025-01-20"), "{t}");
    assert_eq!(read(&dir, "ledger.csv"), after, "the ledger is untouched");

    // the 2024 results still verify: the payments added are dated after as_of
    let t = mianshen(&dir, &["verify", "out2024"], 0);
    assert!(t.contains("has changed since the run"), "{t}");

    // 2025 reads what was paid in 2025-01: C was paid 150万 + 30万 under the
    // capped policies, its whole yearly cap of 180万, so nothing is left
    run(&dir, "2025-12-31", "out2025", true);
    let d = read(&dir, "out2025/decisions.csv");
    assert!(
        d.contains("C,guanjun_2024,ineligible,,,年度奖励累计上限"),
        "{d}"
    );
    assert!(
        d.contains("C,chuangxin_2024,ineligible,,,年度奖励累计上限"),
        "{d}"
    );
    // the once-only award stays refused to B
    assert!(
        d.contains("B,gaoxin_first_2024,ineligible,,,已享受过首次认定奖励"),
        "{d}"
    );
    // F's 2025-01-15 小巨人 payment (80万) now counts: the top-up is 70万
    assert!(
        d.contains("F,guanjun_2024,eligible,700000.00,700000.00,"),
        "{d}"
    );
}

#[test]
fn only_verified_results_are_recorded() {
    let dir = workspace("verified");
    run(&dir, "2024-12-31", "out", false);
    let before = read(&dir, "ledger.csv");
    // a hand-edited result: a funded amount raised
    let d = read(&dir, "out/decisions.csv").replace(
        "A,guanjun_2024,eligible,1500000.00,1500000.00",
        "A,guanjun_2024,eligible,1500000.00,2500000.00",
    );
    std::fs::write(dir.join("out/decisions.csv"), d).unwrap();
    let t = add(&dir, "out", "ledger.csv", "2025-01-20", 1);
    assert!(t.contains("not confirmed by `mianshen verify`"), "{t}");
    assert_eq!(read(&dir, "ledger.csv"), before);
}

#[test]
fn a_payment_date_not_after_as_of_is_refused() {
    let dir = workspace("early");
    run(&dir, "2024-12-31", "out", false);
    let before = read(&dir, "ledger.csv");
    let t = add(&dir, "out", "ledger.csv", "2024-12-31", 2);
    assert!(t.contains("is not after the run's as_of 2024-12-31"), "{t}");
    assert_eq!(read(&dir, "ledger.csv"), before);
}

#[test]
fn a_held_lock_refuses_a_second_writer() {
    let dir = workspace("lock");
    run(&dir, "2024-12-31", "out", false);
    let before = read(&dir, "ledger.csv");
    std::fs::write(dir.join("ledger.csv.lock"), "12345\n").unwrap();
    let t = add(&dir, "out", "ledger.csv", "2025-01-20", 2);
    assert!(t.contains("holds the lock"), "{t}");
    assert_eq!(read(&dir, "ledger.csv"), before);
    assert!(
        dir.join("ledger.csv.lock").exists(),
        "another writer's lock stays"
    );
    std::fs::remove_file(dir.join("ledger.csv.lock")).unwrap();
    add(&dir, "out", "ledger.csv", "2025-01-20", 0);
    assert!(
        !dir.join("ledger.csv.lock").exists(),
        "the lock is released"
    );
    let leftovers = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".new-"))
        .count();
    assert_eq!(leftovers, 0, "no temporary ledger is left behind");
}

#[test]
fn another_run_paying_the_same_firm_under_the_same_policy_is_refused() {
    let dir = workspace("repeat");
    run(&dir, "2024-12-31", "a", false);
    run(&dir, "2024-12-31", "b", true); // the same payments, another run
    add(&dir, "a", "ledger.csv", "2025-01-20", 0);
    let after = read(&dir, "ledger.csv");
    let t = add(&dir, "b", "ledger.csv", "2025-01-20", 1);
    assert!(
        t.contains("9 of the run's payments are already in the ledger under the same policy"),
        "{t}"
    );
    assert_eq!(read(&dir, "ledger.csv"), after);
}

#[test]
fn a_new_ledger_is_created_and_checked() {
    let dir = workspace("new");
    run(&dir, "2024-12-31", "out", false);
    add(&dir, "out", "new.csv", "2025-01-20", 0);
    let new = read(&dir, "new.csv");
    assert!(
        new.starts_with("\u{feff}key,policy,amount,paid_on,run\n"),
        "{new}"
    );
    let t = mianshen(&dir, &["ledger", "check", "new.csv"], 0);
    assert!(t.contains("9 payments, 4 firms"), "{t}");
    assert!(
        t.contains("guanjun_2024") && t.contains("5000000.00"),
        "{t}"
    );
    assert!(t.contains("runs recorded 已记入的批次: 1"), "{t}");
}

#[test]
fn ledger_check_names_a_bad_row_and_flags_clawbacks_beyond_payments() {
    let dir = workspace("check");
    let bad = "key,policy,amount,paid_on\nA,p,100,2024-01-01\nA,p,12,34,2024-01-02\n";
    std::fs::write(dir.join("bad.csv"), bad).unwrap();
    let t = mianshen(&dir, &["ledger", "check", "bad.csv"], 2);
    assert!(t.contains("bad.csv`:3"), "{t}");
    let claw = "key,policy,amount,paid_on\nA,p,100,2024-01-01\nA,p,-150,2024-06-01\n";
    std::fs::write(dir.join("claw.csv"), claw).unwrap();
    let t = mianshen(&dir, &["ledger", "check", "claw.csv"], 0);
    assert!(
        t.contains("`A` under `p`: payments sum to -50.00, below 0"),
        "{t}"
    );
}

/// A firm paid more than once under one policy is named (paid twice?);
/// paid twice with one of them clawed back, or paid once under each
/// instalment's own id, is not.
#[test]
fn ledger_check_names_a_firm_paid_twice_under_one_policy() {
    let dir = workspace("twice");
    let ledger = "key,policy,amount,paid_on\n\
                  A,p,10,2024-01-01\nA,p,10,2024-02-01\nA,p,-10,2024-03-01\n\
                  B,p1,5,2024-01-01\nB,p2,5,2025-01-01\n\
                  C,q,1,2024-01-01\nC,q,1,2024-01-01\nC,q,1,2024-01-01\n";
    std::fs::write(dir.join("twice.csv"), ledger).unwrap();
    let t = mianshen(&dir, &["ledger", "check", "twice.csv"], 0);
    let warned: Vec<&str> = t.lines().filter(|l| l.contains("是否重复兑付")).collect();
    assert_eq!(warned.len(), 1, "{t}");
    assert!(
        warned[0].contains("`C` has 3 payments under `q`, lines 7, 8"),
        "{t}"
    );
}

/// A later batch (补发) of the same year: `--skip-paid` records only the
/// firms not yet paid under each policy, says how many it skipped, and
/// warns when a skipped firm's amount now differs from what it was paid.
#[test]
fn a_later_batch_records_only_the_firms_not_yet_paid() {
    let dir = workspace("skip");
    // the first batch paid one policy only; the second runs them all
    let first = [
        "run",
        "policies",
        "--data",
        "data.csv",
        "--as-of",
        "2024-12-31",
        "--ledger",
        "ledger.csv",
        "--out",
        "a",
        "--policy",
        "guanjun_2024",
    ];
    mianshen(&dir, &first, 0);
    add(&dir, "a", "ledger.csv", "2025-01-20", 0);
    run(&dir, "2024-12-31", "b", false);
    let before = read(&dir, "ledger.csv");
    let refused = add(&dir, "b", "ledger.csv", "2025-02-20", 1);
    assert!(refused.contains("--skip-paid"), "{refused}");
    assert_eq!(read(&dir, "ledger.csv"), before);
    let args = [
        "ledger",
        "add",
        "b",
        "--ledger",
        "ledger.csv",
        "--paid-on",
        "2025-02-20",
        "--skip-paid",
    ];
    let said = mianshen(&dir, &args, 0);
    // the run's payments: eligible decisions with money
    let paid_now: Vec<(String, String)> = read(&dir, "b/decisions.csv")
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let funded = f.get(4)?.parse::<f64>().ok()?;
            (f.get(2) == Some(&"eligible") && funded > 0.0)
                .then(|| (f[0].to_string(), f[1].to_string()))
        })
        .collect();
    let guanjun = paid_now.iter().filter(|(_, p)| p == "guanjun_2024").count();
    assert!(guanjun > 0 && paid_now.len() > guanjun, "{paid_now:?}");
    assert!(said.contains(&format!("跳过 {guanjun} 笔")), "{said}");
    // each of the run's payments is in the ledger once, from one batch or
    // the other
    let ledger = read(&dir, "ledger.csv");
    for (key, policy) in &paid_now {
        let n = ledger
            .lines()
            .filter(|l| {
                let f: Vec<&str> = l.split(',').collect();
                f.first() == Some(&key.as_str())
                    && f.get(1) == Some(&policy.as_str())
                    && matches!(f.get(3), Some(&"2025-01-20" | &"2025-02-20"))
            })
            .count();
        assert_eq!(n, 1, "{key} {policy}:\n{ledger}");
    }
    assert!(!said.contains("warning:"), "{said}");
    mianshen(&dir, &["ledger", "check", "ledger.csv"], 0);
    // --allow-repeat and --skip-paid say opposite things
    let both = [&args[..], &["--allow-repeat"]].concat();
    let t = mianshen(&dir, &both, 2);
    assert!(t.contains("错误: 参数"), "{t}");
}
