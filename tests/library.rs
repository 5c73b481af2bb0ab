//! The library face, as a payment system uses it: a batch run applies the
//! command line's data rules and a failure is an error, never an empty
//! result.

mod common;

use std::path::Path;

use mianshen::{Cell, Date, Decimal, Engine, Outcome, PriorPayment, Reason, Record, RunError};

fn engine() -> Engine {
    Engine::load(Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")).expect("the example set")
}

fn as_of() -> Date {
    Date::parse_iso("2024-12-31").expect("a date")
}

/// A firm that 稳岗返还 pays, under `key`.
fn firm(engine: &Engine, row: u64, key: &str) -> Record {
    engine
        .firm_on_row(
            row,
            &[
                ("uscc", key),
                ("region", "420102"),
                ("企业规模", "小型"),
                ("employees", "25"),
                ("insured_months", "24"),
                ("layoff_rate", "3%"),
                ("ui_premium_paid", "10万"),
                ("serious_dishonesty", "否"),
            ],
        )
        .expect("valid values")
}

#[test]
fn a_repeated_key_is_rejected_and_never_paid() {
    let engine = engine();
    let (a, b) = ("91420102MA4K2L3R0G", "91420112MAW4G4L943");
    let firms = [
        firm(&engine, 2, a),
        firm(&engine, 3, b),
        firm(&engine, 5, a),
    ];
    let result = engine
        .run(&firms, as_of(), false)
        .expect("the run goes through");
    let rejects: Vec<(u64, &str, &str)> = result
        .rejects
        .iter()
        .map(|r| (r.row, r.value.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(
        rejects,
        [
            (2, a, "the key is also on row 5"),
            (5, a, "the key is also on row 2"),
        ]
    );
    let keys: Vec<&str> = result.firms.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(keys, [b], "only the firm whose key is on one record");
    let decisions = engine.decisions(&result);
    assert!(
        decisions
            .iter()
            .any(|d| d.key == b && d.outcome == Outcome::Eligible),
        "the other firm is paid: {decisions:?}"
    );
    assert!(
        result
            .summary
            .iter()
            .all(|s| !s.in_force || s.evaluated == 1),
        "one firm evaluated per policy in force"
    );
}

#[test]
fn records_out_of_order_are_an_error_not_an_empty_result() {
    let engine = engine();
    let firms = [
        firm(&engine, 4, "91420102MA4K2L3R0G"),
        firm(&engine, 4, "91420112MAW4G4L943"),
    ];
    match engine.run(&firms, as_of(), false) {
        Err(RunError::RowsOutOfOrder { row: 4, after: 4 }) => {}
        other => panic!("expected rows out of order, got {other:?}"),
    }
}

/// A data file through the library gives what `mianshen run` writes: the
/// same rejects, and the same decisions as decisions.csv.
#[test]
fn a_file_run_by_the_library_matches_the_command_line() {
    let engine = engine();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = root.join("policies/data/firms.csv");
    let result = engine
        .run_file(&data, as_of(), false)
        .expect("the run goes through");
    let out = std::env::temp_dir().join(format!("mianshen-library-{}", std::process::id()));
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_mianshen"))
        .args([
            "run",
            &root.join("policies").display().to_string(),
            "--data",
        ])
        .arg(&data)
        .args(["--as-of", "2024-12-31", "--out"])
        .arg(&out)
        .output()
        .expect("run mianshen");
    assert!(status.status.success());
    let mut rejects = csv::Reader::from_path(out.join("rejects.csv")).expect("rejects.csv");
    let from_cli: Vec<(u64, String)> = rejects
        .records()
        .map(|r| {
            let r = r.expect("a row");
            (r[0].parse().expect("a row number"), r[3].to_string())
        })
        .collect();
    let from_lib: Vec<(u64, String)> = result
        .rejects
        .iter()
        .map(|r| (r.row, r.reason.clone()))
        .collect();
    assert!(!from_lib.is_empty(), "the example data has bad rows");
    assert_eq!(from_lib, from_cli);
    let decisions = engine.decisions(&result);
    let lines = std::fs::read_to_string(out.join("decisions.csv")).expect("decisions.csv");
    assert_eq!(
        decisions.len(),
        lines.lines().count() - 1,
        "one decision per line"
    );
    // the typed reasons say what decisions.csv says, and a budget's cut
    // besides: exactly where funded is below amount, by the difference
    let mut csv_rows = csv::Reader::from_path(out.join("decisions.csv")).expect("decisions.csv");
    let mut budget_cuts = 0;
    for (d, row) in decisions.iter().zip(csv_rows.records()) {
        let row = row.expect("a row");
        assert_eq!((d.key.as_str(), d.policy.as_str()), (&row[0], &row[1]));
        // amounts as decisions.csv writes them, two decimals
        let money = |m: Option<mianshen::Decimal>| m.map(|m| m.to_string()).unwrap_or_default();
        assert_eq!(
            (money(d.amount), money(d.funded)),
            (row[3].to_string(), row[4].to_string())
        );
        let listed: Vec<String> = d
            .reasons
            .iter()
            .filter(|r| !matches!(r, Reason::Budget { .. }))
            .map(|r| r.to_string())
            .collect();
        assert_eq!(listed.join("; "), &row[5], "{} {}", d.key, d.policy);
        let cuts: Vec<_> = d
            .reasons
            .iter()
            .filter_map(|r| match r {
                Reason::Budget { cut } => Some(*cut),
                _ => None,
            })
            .collect();
        match (d.amount, d.funded) {
            (Some(a), Some(f)) if f < a => {
                assert_eq!(cuts, vec![a - f], "{} {}", d.key, d.policy);
                budget_cuts += 1;
            }
            _ => assert!(cuts.is_empty(), "{} {}", d.key, d.policy),
        }
    }
    assert!(budget_cuts > 0, "the example's budgets bind");
    let _ = std::fs::remove_dir_all(out);
}

/// The `join` run case's four departments' files, labelled as its `args`.
fn join_case() -> Vec<mianshen::Source> {
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/run/join");
    vec![
        mianshen::Source::of("市场监管", case.join("market.csv")),
        mianshen::Source::of("税务", case.join("tax.csv")),
        mianshen::Source::of("人社", case.join("insurance.jsonl")),
        mianshen::Source::file(case.join("tech.csv")),
    ]
}

#[test]
fn several_files_are_joined_as_the_command_line_joins_them() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/run/join");
    let engine = Engine::load(case.join("policies")).expect("the case's set");
    let result = engine
        .run_files(&join_case(), as_of(), true)
        .expect("the run goes through");
    let keys: Vec<&str> = result.firms.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(keys, ["A01", "A02", "A03", "A07", "A08"]);
    // as the case's snapshot: 15 rejects, 10 conflicting values
    assert_eq!(result.rejects.len(), 15);
    let files: Vec<usize> = result.rejects.iter().map(|r| r.file).collect();
    assert!(files.windows(2).all(|w| w[0] <= w[1]), "in file order");
    assert_eq!(result.conflicts.len(), 10);
    let revenue = result
        .conflicts
        .iter()
        .find(|c| c.key == "A03" && c.field == "revenue" && c.used)
        .expect("税务 settles A03's revenue");
    assert_eq!((revenue.file, revenue.value.as_str()), (1, "300万元"));
    let rows: Vec<(u64, u64, u64)> = result
        .files
        .iter()
        .map(|f| (f.rows, f.evaluated, f.rejected))
        .collect();
    assert_eq!(rows, [(9, 3, 6), (8, 4, 4), (8, 5, 3), (6, 4, 2)]);
    assert!(rows.iter().all(|(r, e, j)| r == &(e + j)));
    let a02 = engine
        .file_decisions(&result)
        .into_iter()
        .find(|d| d.key == "A02" && d.policy == "wengang")
        .expect("a decision");
    assert_eq!(a02.outcome, Outcome::Eligible);
}

#[test]
fn several_files_fail_with_typed_errors() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/run/join");
    let engine = Engine::load(case.join("policies")).expect("the case's set");
    let mut sources = join_case();
    sources.push(mianshen::Source::of("科技", case.join("no-such.csv")));
    assert!(matches!(
        engine.run_files(&sources, as_of(), false),
        Err(RunError::Data(mianshen::DataError::Unreadable { .. }))
    ));
    sources.pop();
    sources.push(mianshen::Source::of("科技", case.join("market.csv")));
    let twice = engine.run_files(&sources, as_of(), false);
    assert!(
        matches!(&twice, Err(RunError::GivenTwice(f)) if f.ends_with("market.csv")),
        "{twice:?}"
    );
    assert!(matches!(
        engine.run_files(&[], as_of(), false),
        Err(RunError::NoData)
    ));
    // a wrapped stage error keeps its own code: the data stage's, not the run's
    use miette::Diagnostic;
    sources.pop();
    sources.push(mianshen::Source::of("科技", case.join("no-such.csv")));
    let unreadable = engine.run_files(&sources, as_of(), false).unwrap_err();
    assert_eq!(
        unreadable.code().map(|c| c.to_string()).as_deref(),
        Some("mianshen::data::unreadable")
    );
}

#[test]
fn a_set_that_does_not_check_is_one_diagnostic_per_problem() {
    use miette::Diagnostic;
    let dir = std::env::temp_dir().join(format!("mianshen-library-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/schema.yaml"),
        dir.join("schema.yaml"),
    )
    .unwrap();
    std::fs::write(
        dir.join("bad.policy"),
        "policy bad {\n    title \"坏\"\n    require \"一\" employeez >= 1\n    require \"二\" revenu > 0\n}\n",
    )
    .unwrap();
    let err = match Engine::load(&dir) {
        Err(e) => e,
        Ok(_) => panic!("a set naming unknown fields loaded"),
    };
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        err.code().map(|c| c.to_string()).as_deref(),
        Some("mianshen::load::invalid")
    );
    let related: Vec<String> = err
        .related()
        .expect("the problems")
        .map(|d| d.to_string())
        .collect();
    assert_eq!(related.len(), err.diagnostics().len());
    assert!(related.len() >= 2, "{related:?}");
    assert!(
        related.iter().any(|d| d.contains("employeez")),
        "{related:?}"
    );
}

#[test]
fn department_files_decide_as_the_pooled_file() {
    let dir = std::env::temp_dir().join(format!("mianshen-library-split-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = common::example_departments(&dir, "departments", &[]);
    let sources: Vec<mianshen::Source> = data
        .iter()
        .map(|d| {
            let input = mianshen::data::Input::parse(d);
            mianshen::Source {
                path: dir.join(&input.path),
                ..input
            }
        })
        .collect();
    let engine = engine();
    let joined = engine.run_files(&sources, as_of(), true).expect("joined");
    let pooled = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/data/firms.csv");
    let single = engine.run_file(pooled, as_of(), true).expect("pooled");
    assert_eq!(engine.file_decisions(&joined), engine.decisions(&single));
    assert!(joined.conflicts.is_empty());
    for f in &joined.files {
        assert_eq!(f.rows, f.evaluated + f.rejected, "{f:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A set that reads prior payments: a pay-once award, a top-up counting
/// what the firm had as 小巨人 and under the award, and a cap on the two.
fn paying_engine() -> Engine {
    Engine::from_texts(
        "key: id\nfields:\n  id: { type: text }\n  size: { type: enum, values: [小型, 中型] }\n  n: { type: integer }\n  on: { type: date }\n",
        &[(
            "awards.policy",
            "policy once {\n  title \"首次认定奖励\"\n  exclude \"已奖励\" paid(once) > 0\n  amount 50万\n}\n\
             policy topup {\n  title \"就高补差\"\n  amount max(100万 - paid(xiaojuren, once), 0)\n}\n\
             combined \"累计不超过100万\" { once, topup } cap 100万 - paid(once, topup)\n",
        )],
    )
    .expect("the set checks")
}

fn day(iso: &str) -> Date {
    Date::parse_iso(iso).expect("a date")
}

fn paid(key: &str, policy: &str, wan: i64, on: &str) -> PriorPayment {
    PriorPayment::new(key, policy, Decimal::new(wan * 10_000, 0), day(on))
}

/// `(key, policy, outcome, funded)` of every decision of a run.
fn funded(engine: &Engine, firms: &[Record]) -> Vec<(String, String, &'static str, String)> {
    let result = engine
        .run(firms, as_of(), true)
        .expect("the run goes through");
    engine
        .decisions(&result)
        .into_iter()
        .map(|d| {
            let funded = d.funded.map(|f| f.to_string()).unwrap_or_default();
            (d.key, d.policy, d.outcome.as_str(), funded)
        })
        .collect()
}

/// Without a ledger, a set that reads `paid` is refused by every way in:
/// one policy for one firm fails as the batch does, never counting 0.
#[test]
fn without_a_ledger_one_policy_fails_as_the_run_does() {
    let engine = paying_engine();
    let a1 = engine.firm(&[("id", "A1")]).expect("valid");
    assert!(matches!(
        engine.evaluate_policy(&a1, "once", as_of()),
        Err(RunError::LedgerRequired(_))
    ));
    assert!(matches!(
        engine.evaluate(&a1, as_of()),
        Err(RunError::LedgerRequired(_))
    ));
    assert!(matches!(
        engine.run(std::slice::from_ref(&a1), as_of(), true),
        Err(RunError::LedgerRequired(_))
    ));
    // no payments at all is an empty ledger
    let engine = engine.with_payments(&[]).expect("an empty ledger");
    let once = engine
        .evaluate_policy(&a1, "once", as_of())
        .expect("a ledger is given")
        .expect("in force");
    assert_eq!(once.outcome, Outcome::Eligible);
    assert_eq!(
        engine.evaluate_policy(&a1, "no_such_policy", as_of()).ok(),
        Some(None)
    );
}

/// Payments are filed by the engine under the ids its own set reads: each
/// counts under the policy it was paid under, so a pay-once award never
/// pays again and a top-up takes off exactly what was paid.
#[test]
fn prior_payments_count_under_the_policy_they_were_paid_under() {
    let engine = paying_engine()
        .with_payments(&[
            paid("A1", "once", 50, "2023-05-01"),
            paid("A2", "xiaojuren", 30, "2023-05-01"),
            paid("A2", "other_2022", 99, "2022-05-01"),
            // paid after as_of: not counted
            paid("A4", "once", 50, "2025-03-01"),
        ])
        .expect("the payments read");
    let firms: Vec<Record> = ["A1", "A2", "A3", "A4"]
        .iter()
        .enumerate()
        .map(|(i, k)| {
            engine
                .firm_on_row(i as u64 + 2, &[("id", k)])
                .expect("valid")
        })
        .collect();
    let decisions = funded(&engine, &firms);
    let got: Vec<(&str, &str, &str, &str)> = decisions
        .iter()
        .map(|(k, p, o, f)| (k.as_str(), p.as_str(), *o, f.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("A1", "once", "ineligible", ""),
            ("A1", "topup", "eligible", "500000.00"),
            ("A2", "once", "eligible", "500000.00"),
            ("A2", "topup", "eligible", "500000.00"),
            ("A3", "once", "eligible", "500000.00"),
            ("A3", "topup", "eligible", "500000.00"),
            ("A4", "once", "eligible", "500000.00"),
            ("A4", "topup", "eligible", "500000.00"),
        ]
    );
    let a1 = firms.first().expect("A1");
    let once = engine
        .evaluate_policy(a1, "once", as_of())
        .expect("evaluated")
        .expect("in force");
    assert_eq!(once.outcome, Outcome::Ineligible, "paid once already");
    // a payment a ledger row could not hold is an error, named by its place
    let bad = paying_engine().with_payments(&[
        paid("A1", "once", 50, "2023-05-01"),
        paid("A1", " ", 50, "2023-05-01"),
    ]);
    match bad {
        Err(e) => assert_eq!(e.number, 2, "{e}"),
        Ok(_) => panic!("a payment without a policy was filed"),
    }
}

/// A record the schema's reader would not give — built by hand, from
/// another set's engine, with an empty key or a cell of another type — is
/// an error by every way in, never evaluated nor paid.
#[test]
fn records_the_reader_would_not_give_are_errors_never_paid() {
    let engine = paying_engine().with_payments(&[]).expect("an empty ledger");
    let valid = engine
        .firm(&[
            ("id", "A1"),
            ("size", "小型"),
            ("n", "3"),
            ("on", "2024-01-05"),
        ])
        .expect("valid");
    let other = Engine::from_texts(
        "key: id\nfields:\n  id: { type: text }\n",
        &[("z.policy", "policy z {\n  title \"Z\"\n  amount 1\n}\n")],
    )
    .expect("another set");
    let foreign = other.firm(&[("id", "A1")]).expect("valid there");
    let with_cell = |at: usize, cell: Cell| {
        let mut r = valid.clone();
        if let Some(c) = r.cells.get_mut(at) {
            *c = cell;
        }
        r
    };
    let invalid = [
        (
            "no cells",
            Record {
                row: 1,
                cells: vec![],
            },
        ),
        ("another set's record", foreign),
        ("an empty key", with_cell(0, Cell::Text("".into()))),
        ("a blank key", with_cell(0, Cell::Text("  ".into()))),
        ("a missing key", with_cell(0, Cell::Missing)),
        (
            "a value the enum does not list",
            with_cell(1, Cell::Text("大型".into())),
        ),
        (
            "a number in an enum field",
            with_cell(1, Cell::Num(Decimal::ONE)),
        ),
        (
            "a fraction in an integer field",
            with_cell(2, Cell::Num(Decimal::new(15, 1))),
        ),
        (
            "a text in a date field",
            with_cell(3, Cell::Text("2024-01-05".into())),
        ),
    ];
    for (what, record) in &invalid {
        let row = record.row;
        match engine.run(std::slice::from_ref(record), as_of(), true) {
            Err(RunError::InvalidRecord { row: r, problems }) => {
                assert_eq!(r, row, "{what}");
                assert!(!problems.is_empty(), "{what}");
            }
            other => panic!("{what}: run gave {other:?}"),
        }
        assert!(
            matches!(
                engine.evaluate(record, as_of()),
                Err(RunError::InvalidRecord { .. })
            ),
            "{what}"
        );
        assert!(
            matches!(
                engine.evaluate_policy(record, "once", as_of()),
                Err(RunError::InvalidRecord { .. })
            ),
            "{what}"
        );
    }
    // one invalid record among valid ones stops the batch: nothing is paid
    let mut late = with_cell(0, Cell::Text("".into()));
    late.row = 2;
    assert!(matches!(
        engine.run(&[valid.clone(), late], as_of(), true),
        Err(RunError::InvalidRecord { row: 2, .. })
    ));
    // a clone of a record the engine built is still good
    assert_eq!(
        engine
            .evaluate(&valid.clone(), as_of())
            .map(|d| d.len())
            .ok(),
        Some(2)
    );
}

/// Amounts come back as decisions.csv and summary.csv write them: exactly
/// two decimals, whether settlement cut them or not.
#[test]
fn amounts_carry_two_decimals_as_the_result_files_do() {
    let engine = paying_engine().with_payments(&[]).expect("an empty ledger");
    let a3 = engine.firm(&[("id", "A3")]).expect("valid");
    let result = engine
        .run(std::slice::from_ref(&a3), as_of(), true)
        .expect("a run");
    let money: Vec<String> = engine
        .decisions(&result)
        .iter()
        .flat_map(|d| [d.amount, d.funded])
        .chain(result.summary.iter().flat_map(|s| [s.amount, s.funded]))
        .flatten()
        .map(|a| a.to_string())
        .collect();
    // the top-up's 100万 is cut by the cap to 50万 (whole yuan as
    // settlement leaves it): decisions, then the totals
    assert_eq!(money, vec!["500000.00"; 8]);
    let topup = engine
        .evaluate_policy(&a3, "topup", as_of())
        .expect("evaluated")
        .expect("in force");
    assert_eq!(
        topup.amount.map(|a| a.to_string()).as_deref(),
        Some("1000000.00")
    );
    let cut: Vec<String> = engine
        .decisions(&result)
        .iter()
        .flat_map(|d| d.reasons.clone())
        .filter_map(|r| match r {
            Reason::Combined { cut, .. } => Some(cut.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(cut, ["500000.00"]);
}
