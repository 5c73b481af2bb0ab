//! Inputs found by fuzzing (`fuzz/`) that crashed the engine, kept so they
//! never crash it again.
//!
//! `tests/cases/regressions/<target>/*` holds each input in the folder of the
//! fuzz target whose kind of input it is (see the README there).
//! [`every_input_passes_its_fuzz_target`] replays them all through the same
//! steps and invariants as the targets; the other tests say what each input
//! must give now: the clear error, reject or outcome, not merely "no panic".

mod common;

use std::path::{Path, PathBuf};

use common::assert_rows_accounted;
use common::oracle::DataSet;
use mianshen::batch::records::RunResult;
use mianshen::batch::RunOptions;
use mianshen::data::ReadOptions;
use mianshen::eval::{Outcome, Reason};
use mianshen::load::PolicySet;
use mianshen::program::Program;
use mianshen::Date;

fn regressions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/regressions")
}

fn as_of() -> Date {
    Date::new(2024, 12, 31).expect("a date")
}

/// The example set, as the data and cases targets load it.
fn example_program() -> Program {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    match PolicySet::load(&dir) {
        Ok(set) => set.program,
        Err(d) => panic!(
            "the example set checks:\n{}",
            mianshen::diag::render_human(&d)
        ),
    }
}

/// A set from texts, checked on a thread with a large stack as
/// `PolicySet::load` does.
fn from_texts(
    schema: &str,
    files: &[(&str, &str)],
) -> Result<PolicySet, Vec<mianshen::diag::Diagnostic>> {
    let schema = schema.to_string();
    let files: Vec<(String, String)> = files
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let refs: Vec<(&str, &str)> = files
                .iter()
                .map(|(n, t)| (n.as_str(), t.as_str()))
                .collect();
            PolicySet::from_texts(&schema, &refs)
        })
        .expect("spawn the checker")
        .join()
        .expect("the checker does not panic")
}

fn run_all(program: &Program, set: &DataSet) -> RunResult {
    let result = mianshen::batch::records::run(
        program,
        &set.records,
        &RunOptions {
            as_of: as_of(),
            all: true,
            ledger: None,
            profile: None,
        },
    )
    .expect("the run goes through");
    assert!(result.rejects.is_empty(), "the data set's keys are unique");
    assert_eq!(result.firms.len(), set.records.len(), "one firm per record");
    result
}

/// `explain` of the first record, rendered for people.
fn explained(program: &Program, data: &DataSet, result: &RunResult) -> String {
    let e = mianshen::explain::explain(
        program,
        &data.records[0],
        result.firms.first(),
        &result.summary,
        as_of(),
        None,
        &[],
    );
    mianshen::explain::render(&e)
}

fn read_data(name: &str, bytes: &[u8], program: &Program) -> DataSet {
    let set = common::oracle::read_bytes(
        Path::new(name),
        bytes.to_vec(),
        &program.schema,
        &ReadOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{name} reads: {e}"));
    assert_rows_accounted(&set);
    set
}

/// The files of one target's folder, by name.
fn inputs(target: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(regressions_dir().join(target))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Each input through the steps of the fuzz target that found it
/// (`fuzz/fuzz_targets/<target>.rs`).
#[test]
fn every_input_passes_its_fuzz_target() {
    let program = example_program();
    let schema =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/schema.yaml"))
            .expect("read the example schema");
    for path in inputs("policy") {
        let text = String::from_utf8_lossy(&std::fs::read(&path).expect("read")).into_owned();
        if let Err(d) = from_texts(&schema, &[("f.policy", &text)]) {
            assert!(!d.is_empty(), "{}", path.display());
            let _ = mianshen::diag::render_human(&d);
            let _ = mianshen::diag::render_json(&d);
        }
    }
    for path in inputs("schema") {
        let text = String::from_utf8_lossy(&std::fs::read(&path).expect("read")).into_owned();
        if let Err(d) = from_texts(&text, &[("p.policy", "policy p { title \"t\" }")]) {
            let _ = mianshen::diag::render_human(&d);
            let _ = mianshen::diag::render_json(&d);
        }
    }
    for (target, name) in [("data_csv", "x.csv"), ("data_jsonl", "x.jsonl")] {
        for path in inputs(target) {
            let bytes = std::fs::read(&path).expect("read");
            if let Ok(set) = common::oracle::read_bytes(
                Path::new(name),
                bytes,
                &program.schema,
                &ReadOptions::default(),
            ) {
                assert_rows_accounted(&set);
                run_all(&program, &set);
            }
        }
    }
    for path in inputs("cases") {
        let text = String::from_utf8_lossy(&std::fs::read(&path).expect("read")).into_owned();
        if let Ok(file) = mianshen::cases::parse("t.yaml", &text) {
            let _ = mianshen::cases::render(&mianshen::cases::run_files(&program, &[file]));
        }
    }
}

/// A percent cell may hold 28 digits (`0.055` style); shown in a reason as a
/// percent it no longer fits the decimal range once multiplied by 100. The
/// run panicked ("Multiplication overflowed") when the firm's reasons quoted
/// the value; now the point moves in the text.
#[test]
fn percent_cell_at_the_digit_limit_is_quoted_in_reasons() {
    let schema = "key: uscc\nfields:\n  uscc: { type: text }\n  layoff_rate: { type: percent, title: 上年度裁员率 }\n";
    let policy =
        "policy p {\n  title \"稳岗返还\"\n  require \"裁员率不高于5.5%\" layoff_rate <= 5.5%\n  \
                  require \"裁员率不为负\" layoff_rate >= 0%\n}\n";
    let set = from_texts(schema, &[("p.policy", policy)]).expect("the set checks");
    let found =
        std::fs::read(regressions_dir().join("data_csv/percent_at_digit_limit.csv")).expect("read");
    let negated = String::from_utf8_lossy(&found)
        .replace(",9", ",-9")
        .into_bytes();
    for (input, label, quoted) in [
        (
            found,
            "裁员率不高于5.5%",
            "layoff_rate=999999999999999999999999999900%",
        ),
        (
            negated,
            "裁员率不为负",
            "layoff_rate=-999999999999999999999999999900%",
        ),
    ] {
        let data = read_data("x.csv", &input, &set.program);
        assert!(
            data.rejects.is_empty(),
            "28 digits are within the reader's limit: {:?}",
            data.rejects
        );
        let result = run_all(&set.program, &data);
        let pair = &result.firms[0].pairs[0];
        assert_eq!(pair.outcome, Outcome::Ineligible);
        assert!(
            pair.reasons.contains(&Reason::Failed(label.to_string())),
            "{:?}",
            pair.reasons
        );
        assert!(
            pair.reasons.iter().any(|r| r.to_string().contains(quoted)),
            "{:?}",
            pair.reasons
        );
    }
}

fn cell(set: &DataSet, program: &Program, field: &str) -> mianshen::record::Cell {
    let i = program.schema.lookup(field).expect("a field of the schema");
    set.records[0].cells[i].clone()
}

fn dec(s: &str) -> mianshen::record::Cell {
    mianshen::record::Cell::Num(s.parse().expect("a decimal"))
}

/// A plain number of 19 digits overflowed the reader's 18-digit fast path
/// ("attempt to multiply with overflow" in `plain_decimal`); it is now read
/// exactly by the general parser, in CSV and in JSON Lines alike.
#[test]
fn nineteen_digit_number_is_read_exactly() {
    let schema =
        "key: uscc\nfields:\n  uscc: { type: text }\n  employees: { type: integer }\n  revenue: { type: money }\n";
    let set = from_texts(
        schema,
        &[(
            "p.policy",
            "policy p {\n  title \"t\"\n  amount revenue\n}\n",
        )],
    )
    .expect("checks");
    for name in [
        "data_csv/nineteen_digit_number.csv",
        "data_jsonl/nineteen_digit_number.jsonl",
    ] {
        let bytes = std::fs::read(regressions_dir().join(name)).expect("read");
        let data = read_data(name, &bytes, &set.program);
        assert!(data.rejects.is_empty(), "{name}: {:?}", data.rejects);
        assert_eq!(data.records.len(), 1, "{name}");
        assert_eq!(
            cell(&data, &set.program, "employees"),
            dec("9999999999999999999"),
            "{name}"
        );
        assert_eq!(
            cell(&data, &set.program, "revenue"),
            dec("-9999999999999999999"),
            "{name}"
        );
        let result = run_all(&set.program, &data);
        assert_eq!(
            result.firms[0].pairs[0].outcome,
            Outcome::Ineligible,
            "{name}: a negative amount is not paid"
        );
    }
}

/// A `progressive` base near the negative limit, below a bound near the
/// positive one: `base - floor` overflowed ("Subtraction overflowed") in the
/// run and in `explain`. No slice of a negative base is above a bound, so
/// the amount is 0 and the firm is not paid.
#[test]
fn progressive_base_at_the_negative_limit_pays_nothing() {
    let schema = "key: uscc\nfields:\n  uscc: { type: text }\n  revenue: { type: money }\n";
    let policy = "policy p {\n  title \"t\"\n  amount \"累进\" progressive revenue {\n    \
                  up to 70000000000000000000000000000 : 1%\n    above : 1%\n  }\n}\n";
    let set = from_texts(schema, &[("p.policy", policy)]).expect("the set checks");
    let bytes =
        std::fs::read(regressions_dir().join("data_csv/progressive_base_at_negative_limit.csv"))
            .expect("read");
    let data = read_data("x.csv", &bytes, &set.program);
    assert!(data.rejects.is_empty(), "{:?}", data.rejects);
    let result = run_all(&set.program, &data);
    let pair = &result.firms[0].pairs[0];
    assert_eq!(pair.outcome, Outcome::Ineligible, "{:?}", pair.reasons);
    assert_eq!(pair.amount, None);
    let text = explained(&set.program, &data, &result);
    assert!(
        text.contains("0 至 70000000000000000000000000000: 0 × 1% = 0"),
        "{text}"
    );
}

/// A `progressive` rate read from a field: slice × rate beyond the decimal
/// range makes the amount missing (review, "arithmetic overflow"); `explain`
/// multiplied unchecked ("Multiplication overflowed"). It now says so.
#[test]
fn progressive_rate_beyond_the_range_is_explained() {
    let schema = "key: uscc\nfields:\n  uscc: { type: text }\n  rnd_prev: { type: money }\n";
    let policy =
        "policy p {\n  title \"t\"\n  amount progressive rnd_prev {\n    up to 1 : 10%\n    above : rnd_prev\n  }\n}\n";
    let set = from_texts(schema, &[("p.policy", policy)]).expect("the set checks");
    let bytes = std::fs::read(regressions_dir().join("data_csv/progressive_rate_beyond_range.csv"))
        .expect("read");
    let data = read_data("x.csv", &bytes, &set.program);
    assert!(data.rejects.is_empty(), "{:?}", data.rejects);
    let result = run_all(&set.program, &data);
    let pair = &result.firms[0].pairs[0];
    assert_eq!(pair.outcome, Outcome::Review);
    assert!(
        pair.reasons.contains(&Reason::Overflow),
        "{:?}",
        pair.reasons
    );
    let text = explained(&set.program, &data, &result);
    let row =
        "1 以上: 9999999999999999999999998 × 999999999999999999999999900% = 计算溢出 (arithmetic overflow)";
    assert!(text.contains(row), "{text}");
}

/// The same 19-digit number as a YAML number in a test case: the case's firm
/// is read through the same cell parser, which panicked.
#[test]
fn nineteen_digit_number_in_a_test_case_is_read_exactly() {
    let schema = "key: uscc\nfields:\n  uscc: { type: text }\n  employees: { type: integer }\n";
    let policy =
        "policy p {\n  title \"t\"\n  require \"人数\" employees >= 9999999999999999999\n}\n";
    let set = from_texts(schema, &[("p.policy", policy)]).expect("the set checks");
    let text = std::fs::read_to_string(regressions_dir().join("cases/nineteen_digit_number.yaml"))
        .expect("read");
    let file =
        mianshen::cases::parse("nineteen_digit_number.yaml", &text).expect("the file parses");
    let results = mianshen::cases::run_files(&set.program, &[file]);
    let case = &results[0].1[0];
    assert!(case.passed(), "{}", mianshen::cases::render(&results).0);
}

/// `explain` tells the path evaluation took (recorded by evaluation, not
/// worked out again): a `let` read by the amount is told where it is read,
/// with its `when` arm and the tier row taken.
#[test]
fn explain_tells_the_path_evaluation_took() {
    let schema = "key: uscc\nfields:\n  uscc: { type: text }\n  revenue: { type: money }\n  \
                  size: { type: enum, values: [大型, 小型] }\n";
    let policy = "policy p {\n  title \"t\"\n  let rate = when size == \"小型\" then 50% else 40%\n  \
                  amount \"分档\" {\n    tiers revenue {\n      >= 2000万 : 30万\n      >= 500万 : 15万\n    \
                  } * rate\n  }\n}\n";
    let set = from_texts(schema, &[("p.policy", policy)]).expect("the set checks");
    let data = read_data(
        "x.csv",
        b"uscc,revenue,size\nA1,800\xe4\xb8\x87,\xe5\xb0\x8f\xe5\x9e\x8b\n",
        &set.program,
    );
    assert!(data.rejects.is_empty(), "{:?}", data.rejects);
    let result = run_all(&set.program, &data);
    assert_eq!(
        result.firms[0].pairs[0].amount,
        Some(rust_decimal::Decimal::from(75_000))
    );
    let text = explained(&set.program, &data, &result);
    for line in [
        "分档 (tiers) revenue = 8000000",
        ">= 20000000 : 300000 → false",
        ">= 5000000 : 150000 → true",
        "命中此行 (row taken): 150000",
        "when size == \"小型\" → true",
        "取 (takes) 0.5 = 0.5",
    ] {
        assert!(text.contains(line), "`{line}` in:\n{text}");
    }
}
