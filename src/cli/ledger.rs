//! `mianshen ledger add OUTDIR --ledger FILE --paid-on DATE` and
//! `mianshen ledger check FILE`: recording a run's payments once, and
//! reading a ledger's totals.

use std::path::Path;

use super::*;
use crate::payments::{already_added, append, run_payments, totals, AddError};

/// `mianshen ledger add`: the run in `out` must be confirmed by `verify`
/// first (its inputs unchanged, its results replayed byte for byte).
pub fn ledger_add(out: &Path, ledger: &Path, paid_on: &str, allow_repeat: bool) -> u8 {
    let Some(paid_on) = Date::parse_iso(paid_on) else {
        eprintln!("error: `--paid-on {paid_on}` is not a date: write YYYY-MM-DD");
        return EXIT_USAGE;
    };
    let run = match run_payments(out) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    match already_added(ledger, &run.run) {
        Ok(None) => {}
        Ok(Some((first, last, paid_on))) => {
            eprintln!(
                "error: {}",
                AddError::AlreadyAdded {
                    first,
                    last,
                    paid_on
                }
            );
            return EXIT_POLICY;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    }
    println!(
        "核对结果 / verifying the results in `{}` before recording their payments",
        out.display()
    );
    if verify(out, None, &[], None) != EXIT_OK {
        eprintln!(
            "error: `{}` is not confirmed by `mianshen verify`, so its payments are not recorded (结果未通过核验，未记入台账)",
            out.display()
        );
        return EXIT_POLICY;
    }
    match append(ledger, &run, paid_on, allow_repeat) {
        Ok(added) => {
            println!(
                "已记入台账 / recorded: {} payments, total {} yuan, paid on {paid_on}, in `{}` from line {} (run {})",
                added.rows,
                added.total,
                ledger.display(),
                added.first_line,
                short(&run.run)
            );
            EXIT_OK
        }
        Err(e @ (AddError::AlreadyAdded { .. } | AddError::PaidBefore { .. })) => {
            eprintln!("error: {e}");
            EXIT_POLICY
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_USAGE
        }
    }
}

/// `mianshen ledger check FILE`: every row readable, totals by policy and
/// year, runs recorded, and firms clawed back more than paid.
pub fn ledger_check(ledger: &Path) -> u8 {
    let t = match totals(ledger) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    println!(
        "台账 / ledger `{}`: {} payments, {} firms (sha256 {})",
        ledger.display(),
        t.rows,
        t.firms,
        t.sha256
    );
    println!(
        "{:<28} {:>6} {:>10} {:>18}",
        "policy 政策", "year", "payments", "total 金额"
    );
    for ((policy, year), (n, sum)) in &t.by_policy_year {
        println!("{policy:<28} {year:>6} {n:>10} {sum:>18.2}");
    }
    if !t.runs.is_empty() {
        println!("runs recorded 已记入的批次: {}", t.runs.len());
        for (run, n) in &t.runs {
            println!("  {}  {n} payments", short(run));
        }
    }
    for (key, policy, sum) in &t.negative {
        println!(
            "warning: `{key}` under `{policy}`: payments sum to {sum:.2}, below 0 (追回多于兑付)"
        );
    }
    EXIT_OK
}

fn short(run: &str) -> &str {
    run.get(..12).unwrap_or(run)
}
