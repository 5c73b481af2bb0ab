//! The library face, as a payment system uses it: a batch run applies the
//! command line's data rules and a failure is an error, never an empty
//! result.

mod common;

use std::path::Path;

use mianshen::batch::RunError;
use mianshen::{Date, Engine, Outcome, Reason};

fn engine() -> Engine {
    Engine::load(Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")).expect("the example set")
}

fn as_of() -> Date {
    Date::parse_iso("2024-12-31").expect("a date")
}

/// A firm that 稳岗返还 pays, under `key`.
fn firm(engine: &Engine, row: u64, key: &str) -> mianshen::record::Record {
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
