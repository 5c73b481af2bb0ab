//! `mianshen sql --dialect spark`: which constructs Spark's `DECIMAL`
//! computes otherwise than the engine, refused at their lines, the firm
//! table those refusals assume, and the Spark script of small sets, as
//! snapshots. Spark itself is not run here (it takes minutes to start):
//! `scripts/spark-check` runs these scripts in a local Spark and compares
//! them with the engine byte for byte (docs/sql.md, Spark).

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_mianshen");

/// Exit status, then standard output and standard error.
fn sql(dir: &std::path::Path, extra: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(["sql"])
        .arg(dir)
        .args([
            "--table",
            "firms",
            "--dialect",
            "spark",
            "--error-format",
            "human",
        ])
        .args(extra)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    format!(
        "exit {}\n--- stdout\n{}--- stderr\n{}",
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_example_set_in_spark_refuses_the_division_by_a_field() {
    insta::assert_snapshot!(sql(
        std::path::Path::new("policies"),
        &["--as-of", "2024-12-31"]
    ));
}

#[test]
fn the_example_firm_table_for_spark() {
    insta::assert_snapshot!(sql(
        std::path::Path::new("policies"),
        &["--ddl", "--ledger-table", "ledger"]
    ));
}

const SCHEMA: &str = "key: id
fields:
  id: { type: text }
  n:  { type: integer }
  y:  { type: money }
  p:  { type: percent }
  x:  { type: number }
";

/// Each line of the policy is one construct: the comment says whether Spark
/// computes it as the engine does.
const POLICIES: &str = r#"
policy exact {
    title "exact in both"
    require "money times percent: DECIMAL(28,8)" y * p > 0
    require "a division by 4 is a multiplication by 0.25" y / 4 > 1
    require "round to 0.5 divides by 0.5" round(x, 0.5) > 0
    amount "tiers and progressive" tiers n { >= 10 : y * 10% else : progressive y { up to 1000 : 5% above : 1% } }
}
policy refused {
    title "computed otherwise in Spark"
    require "by a field" y / n > 1
    require "by three" y / 3 > 1
    require "a step of a third" round(y, 0.3) > 0
    require "three rates: DECIMAL(38,14) cut" y * p * p * p > 0
    amount "two numbers: DECIMAL(37,12)" x * x
}
define wide = x * x * y
combined "capped" { exact, refused } cap y * p * p
"#;

#[test]
fn a_small_set_in_spark_refused_construct_by_construct() {
    let dir = std::env::temp_dir().join(format!("mianshen-spark-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("schema.yaml"), SCHEMA).unwrap();
    std::fs::write(dir.join("small.policy"), POLICIES).unwrap();
    let got = sql(&dir, &["--as-of", "2024-12-31"]).replace(&dir.display().to_string(), "SET");
    insta::assert_snapshot!(got);
    // the exact policy alone passes the check, and its script is printed
    let exact = &POLICIES[..POLICIES.find("policy refused").unwrap()];
    std::fs::write(dir.join("small.policy"), exact).unwrap();
    let got = sql(&dir, &["--as-of", "2024-12-31"]).replace(&dir.display().to_string(), "SET");
    insta::assert_snapshot!(got);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The settlement set of scripts/spark-check: budgets pro rata and by
/// order, a limit, an exclusive group and a combined cap, with `--all`.
#[test]
fn the_settlement_set_as_spark_sql() {
    insta::assert_snapshot!(sql(
        std::path::Path::new("scripts/spark-check-sets/settlement"),
        &["--as-of", "2024-12-31", "--all"]
    ));
}

/// Prior payments from a ledger table, the date from the variable
/// `mianshen.as_of` (no `--as-of`), and the loaders of `--ddl`.
#[test]
fn prior_payments_as_spark_sql() {
    let dir = std::path::Path::new("examples/programme/policies");
    insta::assert_snapshot!(sql(dir, &["--ledger-table", "ledger"]));
    insta::assert_snapshot!(sql(dir, &["--ledger-table", "ledger", "--ddl"]));
    // a set that reads the ledger needs the table
    let out = sql(dir, &["--as-of", "2025-12-31"]);
    assert!(out.starts_with("exit 1"), "{out}");
    assert!(out.contains("--ledger-table"), "{out}");
}
