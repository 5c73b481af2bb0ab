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

/// The example set compiles whole: `shebao_2024` divides by a field
/// (jiuye.policy:34), by the engine's long division in the script (its
/// shape is in the snapshot of `divisions_by_fields_as_spark_sql`).
#[test]
fn the_example_set_compiles_for_spark() {
    let out = sql(std::path::Path::new("policies"), &["--as-of", "2024-12-31"]);
    assert!(
        out.starts_with("exit 0\n"),
        "{}",
        &out[..out.len().min(2000)]
    );
    assert!(
        out.ends_with("--- stderr\n"),
        "{}",
        &out[out.len().saturating_sub(2000)..]
    );
    assert!(out.contains(" div "), "the long division is in the script");
    assert!(
        out.contains("CREATE TABLE ms_keys"),
        "the keys are checked first"
    );
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
    require "by a field: the engine's quotient, DECIMAL(38,28)" y / n > 1
    require "by three, times a number" y / 3 * x > 1
    require "quotients added, rounded" round(y / n + x / p, 0.01) > 0
    amount "tiers and progressive" tiers n { >= 10 : y * 10% else : progressive y { up to 1000 : 5% above : 1% } }
}
policy refused {
    title "computed otherwise in Spark"
    require "a step of a third" round(y, 0.3) > 0
    require "three rates: DECIMAL(38,14) cut" y * p * p * p > 0
    require "a quotient compared with money: DECIMAL(38,22) in Spark" y / n > y
    require "a quotient divided" y / n / x > 1
    require "two quotients multiplied" y / n * (x / n) > 1
    amount "two numbers: DECIMAL(37,12)" x * x
}
define wide = x * x * y
combined "capped" { exact, refused } cap y * p * p
"#;

/// A fresh folder with [`SCHEMA`] and one policy file.
fn set_dir(name: &str, file: &str, policies: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mianshen-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("schema.yaml"), SCHEMA).unwrap();
    std::fs::write(dir.join(file), policies).unwrap();
    dir
}

#[test]
fn a_small_set_in_spark_refused_construct_by_construct() {
    let dir = set_dir("spark", "small.policy", POLICIES);
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

/// The example set's division by a field (`shebao_2024`) alone: the long
/// division, the engine's rounding of the quotient and of its product by
/// the months, then the cents.
#[test]
fn divisions_by_fields_as_spark_sql() {
    let dir = set_dir(
        "spark-div",
        "div.policy",
        "policy per_month {\n    title \"monthly average times months\"\n    amount \"y / n * min(n, 12)\" round(y / n * min(n, 12), 0.01)\n}\n",
    );
    let got = sql(&dir, &["--as-of", "2024-12-31"]).replace(&dir.display().to_string(), "SET");
    let _ = std::fs::remove_dir_all(&dir);
    insta::assert_snapshot!(got);
}
