//! `mianshen ledger add OUTDIR --ledger FILE --paid-on DATE` and
//! `mianshen ledger check FILE`: recording a run's payments once, and
//! reading a ledger's totals.

use std::path::Path;

use super::*;
use crate::payments::{already_added, append, run_payments, totals, AddError, Repeats};
use crate::width::{pad_left, pad_right};

/// `mianshen ledger add`: the run in `out` must be confirmed by `verify`
/// first (its inputs unchanged, its results replayed byte for byte).
pub fn ledger_add(out: &Path, ledger: &Path, paid_on: &str, repeats: Repeats) -> u8 {
    let Some(paid_on) = Date::parse_iso(paid_on) else {
        eprintln!(
            "error: `--paid-on {paid_on}` 不是日期: 请写成 YYYY-MM-DD (`--paid-on {paid_on}` is not a date: write YYYY-MM-DD)"
        );
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
        "记入台账前先核对 `{}` 中的结果 (verifying the results before recording their payments)",
        out.display()
    );
    if verify(out, None, &[], None, None) != EXIT_OK {
        eprintln!(
            "error: `{}` 的结果未通过核验, 未记入台账 (not confirmed by `mianshen verify`, so its payments are not recorded)",
            out.display()
        );
        return EXIT_POLICY;
    }
    match append(ledger, &run, paid_on, repeats) {
        Ok(added) => {
            let (rows, total, line, run) =
                (added.rows, added.total, added.first_line, short(&run.run));
            println!(
                "已记入台账 `{}`: {rows} 笔, 共 {total} 元, 兑付日期 {paid_on}, 从第 {line} 行起, 批次 {run} (recorded: {rows} payments, total {total} yuan, paid on {paid_on}, from line {line}, run {run})",
                ledger.display(),
            );
            let skipped = &added.skipped;
            if skipped.rows > 0 {
                println!(
                    "跳过 {} 笔: 这些企业已按同一政策兑付过 (--skip-paid) (skipped {} payments: the firms were already paid under the policy)",
                    skipped.rows, skipped.rows
                );
            }
            if let Some((key, policy, before, now)) = &skipped.first_differing {
                eprintln!(
                    "warning: 跳过的 {} 笔中, 本次核定金额与台账已兑付合计不同, 第一笔是 `{key}` 的 `{policy}`: 已兑付 {before} 元, 本次 {now} 元; 请核对是否需要补差或追回 ({} skipped payments differ from what the ledger paid under the policy, first `{key}` under `{policy}`: paid {before}, decided now {now})",
                    skipped.differing, skipped.differing
                );
            }
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
    let (rows, firms) = (t.rows, t.firms);
    println!(
        "台账 `{}`: {rows} 笔兑付, {firms} 户企业 (ledger: {rows} payments, {firms} firms; sha256 {})",
        ledger.display(),
        t.sha256
    );
    let line = |policy: &str, year: &str, n: &str, sum: &str| {
        format!(
            "{} {} {} {}",
            pad_right(policy, 28),
            pad_left(year, 6),
            pad_left(n, 10),
            pad_left(sum, 18)
        )
    };
    println!("{}", line("政策", "年度", "笔数", "金额"));
    println!("{}", line("(policy)", "year", "payments", "total"));
    for ((policy, year), (n, sum)) in &t.by_policy_year {
        let (year, n, sum) = (year.to_string(), n.to_string(), format!("{sum:.2}"));
        println!("{}", line(policy, &year, &n, &sum));
    }
    if !t.runs.is_empty() {
        println!("runs recorded 已记入的批次: {}", t.runs.len());
        for (run, n) in &t.runs {
            println!("  {}  {n} 笔 (payments)", short(run));
        }
    }
    // the first few named, then how many in all
    const NAMED: usize = 20;
    for (key, policy, n, [a, b]) in t.repeated.iter().take(NAMED) {
        let more = if *n > 2 { "…" } else { "" };
        println!(
            "warning: `{key}` 在 `{policy}` 下有 {n} 笔兑付 (第 {a}、{b} 行{more}): 是否重复兑付? 分期兑付请记在各期自己的政策编号下 (`{key}` has {n} payments under `{policy}`, lines {a}, {b}: paid twice? instalments go under each instalment's own id)"
        );
    }
    if t.repeated.len() > NAMED {
        let n = t.repeated.len();
        println!(
            "warning: 共 {n} 户企业在同一政策下有多笔兑付, 以上只列出前 {NAMED} 户 ({n} firms have several payments under one policy; the first {NAMED} are named)"
        );
    }
    for (key, policy, sum) in &t.negative {
        println!(
            "warning: `{key}` 在 `{policy}` 下追回多于兑付, 合计 {sum:.2} (`{key}` under `{policy}`: payments sum to {sum:.2}, below 0)"
        );
    }
    EXIT_OK
}

fn short(run: &str) -> &str {
    run.get(..12).unwrap_or(run)
}
