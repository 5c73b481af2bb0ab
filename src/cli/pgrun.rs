//! `mianshen run DIR --postgres URL --table T --as-of DATE`: the set
//! compiled to SQL and run where the data lives; the result files of a
//! run, streamed out of the database (docs/sql.md).

use std::path::PathBuf;

use rust_decimal::Decimal;

use super::run::cannot_write;
use super::*;
use crate::batch::output::PolicySummary;
use crate::sql::database::{self, DbError, Target};

/// What `run --postgres` was given.
pub struct PgRunArgs {
    pub dir: PathBuf,
    /// The connection string (`postgresql://…` or `key=value` pairs).
    pub url: String,
    pub table: String,
    pub ledger_table: Option<String>,
    pub as_of: String,
    pub out: PathBuf,
    pub all: bool,
    pub json_errors: bool,
    pub timings: bool,
    /// Print nothing but errors (a replay by `verify`).
    pub quiet: bool,
    pub selection: crate::select::Selection,
}

/// `mianshen run DIR --postgres URL --table T --as-of DATE --out OUT`
pub fn run_postgres(args: &PgRunArgs) -> u8 {
    let as_of = match parse_as_of(&args.as_of) {
        Ok(d) => d,
        Err(c) => return c,
    };
    let set = match load_selected(&args.dir, args.json_errors, &args.selection) {
        Ok(s) => s,
        Err(c) => return c,
    };
    if args.ledger_table.is_none() {
        if let Some(u) = set.program.ledger_needed() {
            eprintln!("error: {}", u.needs_ledger_table());
            return EXIT_USAGE;
        }
    }
    let sources = super::sql::sources(&set, &args.dir);
    let opts = crate::sql::SqlOptions {
        table: &args.table,
        ledger_table: args.ledger_table.as_deref(),
        as_of: Some(as_of),
        all: args.all,
    };
    let script = match crate::sql::compile(&set.program, &sources, &opts) {
        Ok(s) => s,
        Err(diags) => {
            print_diags(&diags, args.json_errors);
            return EXIT_POLICY;
        }
    };
    let mut clock = Timings {
        on: args.timings,
        last: std::time::Instant::now(),
    };
    clock.lap("load policies, compile to SQL");
    let pending = match crate::report::Pending::create(&args.out) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {}", cannot_write(&args.out, &e));
            return EXIT_USAGE;
        }
    };
    let mut conn = match database::connect(&args.url) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let target = Target {
        url: &args.url,
        table: &args.table,
        ledger_table: args.ledger_table.as_deref(),
    };
    let done = into_pending(
        &set, &mut conn, &script, &target, as_of, args, &pending, &mut clock,
    );
    match done {
        Ok((summary, warnings)) => {
            if let Err(e) = pending.commit() {
                eprintln!("error: {}", cannot_write(&args.out, &e));
                return EXIT_USAGE;
            }
            if !args.quiet {
                for w in &warnings {
                    eprintln!("warning: {w}");
                }
                let firms = summary
                    .iter()
                    .find(|s| s.in_force)
                    .map_or(0, |s| s.evaluated);
                println!(
                    "数据库 {} 的表 `{}`: 评估 {firms} 户企业 (table `{}` in {}: {firms} firms evaluated)",
                    conn.place, args.table, args.table, conn.place
                );
                super::run::print_policies(&summary, &[], &args.out);
            }
            EXIT_OK
        }
        Err(e) => {
            match e {
                DbError::Table(problems) => {
                    for p in problems {
                        eprintln!("error: {p}");
                    }
                }
                other => eprintln!("error: {other}"),
            }
            EXIT_USAGE
        }
    }
}

/// Runs the script and writes every result file into the pending folder;
/// the summary and the warnings, for the terminal.
#[allow(clippy::too_many_arguments)]
fn into_pending(
    set: &crate::load::PolicySet,
    conn: &mut database::Connection,
    script: &crate::sql::Script,
    target: &Target<'_>,
    as_of: crate::date::Date,
    args: &PgRunArgs,
    pending: &crate::report::Pending,
    clock: &mut Timings,
) -> Result<(Vec<PolicySummary>, Vec<String>), DbError> {
    let program = &set.program;
    let mut decisions = pending.file("decisions.csv")?;
    let ran = conn.run(
        program,
        script,
        target,
        as_of,
        &mut decisions,
        &mut |what| clock.lap(what),
    )?;
    drop(decisions);
    std::fs::write(pending.path().join("summary.csv"), &ran.summary)?;
    // the table holds typed rows: nothing is set aside, nothing conflicts
    crate::report::RejectsWriter::new(pending.file("rejects.csv")?)?.finish()?;
    crate::report::ConflictsWriter::new(pending.file("conflicts.csv")?)?.finish()?;
    let mut summary = read_summary(&ran.summary)?;
    let mut warnings = Vec::new();
    for s in &mut summary {
        let Some(p) = program
            .policy_index(&s.id)
            .and_then(|i| program.policies.get(i))
        else {
            continue;
        };
        let (Some(budget), true) = (p.budget, s.in_force) else {
            continue;
        };
        let total = ran
            .eligible_totals
            .iter()
            .find(|(id, _)| *id == s.id)
            .map(|(_, t)| t.as_str());
        // a total past the engine's decimals exceeds any budget it reads
        let exceeded = total.is_some_and(|t| t.parse::<Decimal>().map_or(true, |t| t > budget));
        s.note.exceeded = exceeded;
        s.note.overrun = exceeded && p.allocate.is_none();
        if s.note.overrun {
            let (id, amount) = (&s.id, s.amount.unwrap_or_default());
            warnings.push(format!(
                "政策 `{id}`: 符合条件的金额合计 {amount} 超出预算 {budget}; 未写 `allocate`, 每户仍按全额计 (policy `{id}`: eligible amounts {amount} exceed the budget {budget}; no `allocate`, so every firm keeps its full amount)"
            ));
        }
    }
    let dir_text = args.dir.to_string_lossy().to_string();
    let record = crate::report::DatabaseRecord {
        set,
        policy_dir: &dir_text,
        as_of,
        all: args.all,
        database: &conn.place,
        table: &ran.firms,
        ledger: ran.ledger.as_ref(),
        decisions: ran.decisions,
        summary: &summary,
        warnings: &warnings,
        selection: (!args.selection.is_all()).then_some(&args.selection),
    };
    crate::report::write_database_manifest(&record, pending.file("manifest.json")?)?;
    clock.lap("write summary.csv, rejects.csv, manifest.json");
    Ok((summary, warnings))
}

/// summary.csv as the database wrote it, read back for the terminal and
/// the manifest's counts.
fn read_summary(bytes: &[u8]) -> Result<Vec<PolicySummary>, DbError> {
    crate::report::read_summary(bytes).map_err(|(line, e)| {
        DbError::Io(std::io::Error::other(format!(
            "数据库输出的 summary.csv 第 {line} 行无法读取 (the database's summary.csv, line {line}, cannot be read): {e}"
        )))
    })
}
