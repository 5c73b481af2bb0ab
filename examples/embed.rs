//! Embedding mianshen in a payment system: load the policy set once, then
//! evaluate firms as their data arrives.
//!
//! Run with: `cargo run --example embed`

use mianshen::{Date, Engine, Outcome};

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let engine = match Engine::load(&dir) {
        Ok(e) => e,
        Err(diags) => {
            eprint!("{}", mianshen::diag::render_human(&diags));
            std::process::exit(1);
        }
    };
    let Some(as_of) = Date::parse_iso("2024-12-31") else {
        return;
    };

    // A firm's record as the payment system holds it: field names (or Chinese
    // titles) to cell texts, read exactly like a data file's cells.
    let firm = engine.firm(&[
        ("uscc", "91420102MA4K2L3R0G"),
        ("region", "420102"),
        ("企业规模", "小型"),
        ("employees", "25"),
        ("insured_months", "24"),
        ("layoff_rate", "3%"),
        ("ui_premium_paid", "10万"),
        ("serious_dishonesty", "否"),
    ]);
    let firm = match firm {
        Ok(f) => f,
        Err(problems) => {
            for p in problems {
                eprintln!("bad value: {p}");
            }
            std::process::exit(2);
        }
    };

    let decisions = match engine.evaluate(&firm, as_of) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("the run failed: {e}");
            std::process::exit(2);
        }
    };
    for d in decisions {
        match d.outcome {
            Outcome::Eligible => println!(
                "{:<24} eligible  amount {}  funded {}",
                d.policy,
                d.amount
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "-".into()),
                d.funded
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "-".into())
            ),
            Outcome::Review => println!("{:<24} review    {}", d.policy, d.reasons.join("; ")),
            Outcome::Ineligible => println!("{:<24} no        {}", d.policy, d.reasons.join("; ")),
        }
    }
}
