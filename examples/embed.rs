//! Embedding mianshen in a payment system: load the policy set once, build
//! the firms' records as their data arrives, run the batch, and read what
//! it says: rejected records, decisions, and each reason by its kind.
//! Every failure is a typed error; nothing is ever an empty result.
//!
//! Run with: `cargo run --example embed`

use mianshen::{Date, Decimal, Engine, Outcome, PriorPayment, Reason, RunError};

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let engine = match Engine::load(&dir) {
        Ok(e) => e,
        Err(diags) => {
            eprint!("{}", mianshen::render_human(&diags));
            std::process::exit(1);
        }
    };
    let (Some(as_of), Some(paid_on)) =
        (Date::parse_iso("2024-12-31"), Date::parse_iso("2023-12-20"))
    else {
        return;
    };

    // What was paid before. A set whose policies read it (`paid`,
    // `last_paid`) does not run without it (`RunError::LedgerRequired`);
    // the engine files the payments under the ids its own set reads (this
    // set reads none: the payment is kept out, as a ledger file's row
    // would be). A ledger file is read with `Engine::with_ledger_file`.
    let paid = [PriorPayment::new(
        "91420102MA4K2L3R0G",
        "wengang_2023",
        Decimal::new(60_000, 0),
        paid_on,
    )];
    let engine = match engine.with_payments(&paid) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };

    // Records as the payment system holds them: field names (or Chinese
    // titles) to cell texts, read exactly like a data file's cells. The row
    // names a record in rejects; rows rise from record to record.
    let rows: [(u64, &[(&str, &str)]); 4] = [
        (
            1,
            &[
                ("uscc", "91420102MA4K2L3R0G"),
                ("region", "420102"),
                ("企业规模", "小型"),
                ("employees", "25"),
                ("insured_months", "24"),
                ("layoff_rate", "3%"),
                ("ui_premium_paid", "10万"),
                ("serious_dishonesty", "否"),
            ],
        ),
        // no premium figure: the unemployment-insurance refund is a review
        (
            2,
            &[
                ("uscc", "91420112MAW4G4L943"),
                ("region", "420112"),
                ("企业规模", "中型"),
                ("insured_months", "30"),
            ],
        ),
        // the same firm again, from another export: both its records are
        // rejected, neither is paid
        (3, &[("uscc", "91420115MABBHXGCXD"), ("employees", "426")]),
        (4, &[("uscc", "91420115MABBHXGCXD"), ("employees", "430")]),
    ];
    let mut firms = Vec::new();
    for (row, values) in rows {
        match engine.firm_on_row(row, values) {
            Ok(f) => firms.push(f),
            Err(problems) => {
                for p in problems {
                    eprintln!("record {row}: {p}");
                }
            }
        }
    }

    let result = match engine.run(&firms, as_of, false) {
        Ok(r) => r,
        Err(RunError::RowsOutOfOrder { row, after }) => {
            eprintln!("records out of order: row {row} after {after}");
            std::process::exit(2);
        }
        // a record built by hand (`Record`'s fields are public) that the
        // schema's reader would not give: never evaluated
        Err(RunError::InvalidRecord { row, problems }) => {
            eprintln!(
                "record {row} does not fit the schema: {}",
                problems.join("; ")
            );
            std::process::exit(2);
        }
        Err(e) => {
            eprintln!("the run failed: {e}");
            std::process::exit(2);
        }
    };

    for r in &result.rejects {
        println!(
            "rejected  row {} `{}` = {}: {}",
            r.row, r.column, r.value, r.reason
        );
    }
    for d in engine.decisions(&result) {
        match d.outcome {
            Outcome::Eligible => {
                // what shaped the amount: a combined cap, or the budget
                let shaped: Vec<String> = d
                    .reasons
                    .iter()
                    .filter_map(|r| match r {
                        Reason::Budget { cut } => Some(format!("budget cut {cut}")),
                        Reason::Combined { label, cut, .. } => Some(format!("`{label}` cut {cut}")),
                        _ => None,
                    })
                    .collect();
                println!(
                    "pay       {} {:<24} {}{}",
                    d.key,
                    d.policy,
                    d.funded
                        .map(|a| a.to_string())
                        .unwrap_or_else(|| "-".into()),
                    shaped.concat()
                )
            }
            Outcome::Review | Outcome::Ineligible => {
                for reason in &d.reasons {
                    let what = match reason {
                        Reason::Missing(fields) => {
                            format!("ask the departments for {}", fields.join(", "))
                        }
                        Reason::Undecided(label) => format!("could not decide: {label}"),
                        Reason::Failed(label) => format!("not met: {label}"),
                        Reason::Limit => "cut by the policy's limit".to_string(),
                        Reason::Exclusive(group) => format!("another policy of `{group}` pays"),
                        other => other.to_string(),
                    };
                    println!(
                        "{:<9} {} {:<24} {what}",
                        d.outcome.as_str(),
                        d.key,
                        d.policy
                    );
                }
            }
        }
    }
    for s in result
        .summary
        .iter()
        .filter(|s| s.in_force && s.eligible > 0)
    {
        println!(
            "total     {:<24} {} eligible, funded {}",
            s.id,
            s.eligible,
            s.funded
                .map(|a| a.to_string())
                .unwrap_or_else(|| "-".into())
        );
    }
}
