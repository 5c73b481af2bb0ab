//! `mianshen run DIR --data [SOURCE=]FILE [--data …] --as-of DATE`: the
//! batch run into a results folder, over one data file or several
//! departments' files joined per firm.

use std::path::{Path, PathBuf};

use super::*;

pub struct RunArgs {
    pub dir: PathBuf,
    /// One file, or several joined per firm.
    pub data: Vec<crate::data::Input>,
    pub as_of: String,
    pub out: PathBuf,
    pub all: bool,
    pub encoding: crate::data::Encoding,
    pub threads: Option<usize>,
    /// Memory held before spilling to disk, in MiB.
    pub memory_mib: usize,
    pub json_errors: bool,
    /// Print how long each phase took (stderr).
    pub timings: bool,
    /// Print nothing on the terminal but errors (no summary, warnings or
    /// progress): a replay by `verify`.
    pub quiet: bool,
    /// The payments already made (`--ledger`).
    pub ledger: Option<PathBuf>,
}

/// `mianshen run DIR --data FILE --as-of DATE`
pub fn run(args: &RunArgs) -> u8 {
    let as_of = match parse_as_of(&args.as_of) {
        Ok(d) => d,
        Err(c) => return c,
    };
    if let Some(n) = args.threads {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global();
    }
    let set = match load(&args.dir, args.json_errors) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let opts = crate::data::ReadOptions {
        encoding: args.encoding,
    };
    let started = std::time::Instant::now();
    if let Some(twice) = crate::data::given_twice(&args.data) {
        eprintln!("error: `{twice}` is given twice after --data; give each file once");
        return EXIT_USAGE;
    }
    let ledger = match &args.ledger {
        None => None,
        Some(path) => match crate::data::ledger::Ledger::read(
            path,
            &set.program.ledger_ids,
            set.program.schema.key_type(),
        ) {
            Ok(l) => Some(std::sync::Arc::new(l)),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_USAGE;
            }
        },
    };
    if ledger.is_none() {
        if let Some(used) = set.program.ledger_uses.first() {
            eprintln!("error: {}", used.needs_ledger());
            return EXIT_USAGE;
        }
    }
    let mut data = Vec::new();
    for input in &args.data {
        match crate::data::stream::Stream::open_path(&input.path, &set.program.schema, &opts) {
            Ok(d) => data.push(d),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_USAGE;
            }
        }
    }
    if data.is_empty() {
        eprintln!("error: give the firm data with --data FILE");
        return EXIT_USAGE;
    }
    let pending = match crate::report::Pending::create(&args.out) {
        Ok(p) => p,
        Err(e) => {
            eprintln!(
                "error: cannot write the results to `{}`: {e}",
                args.out.display()
            );
            return EXIT_USAGE;
        }
    };
    let mut clock = Timings {
        on: args.timings,
        last: started,
    };
    clock.lap("load policies, read header");
    match run_into(
        &set,
        &mut data[..],
        as_of,
        args,
        ledger,
        &pending,
        &mut clock,
    ) {
        Ok(done) => {
            if let Err(e) = pending.commit() {
                eprintln!(
                    "error: cannot write the results to `{}`: {e}",
                    args.out.display()
                );
                return EXIT_USAGE;
            }
            if !args.quiet {
                for w in &done.warnings {
                    eprintln!("warning: {w}");
                }
            }
            clock.lap("rename results into place");
            if !args.quiet {
                print_run_summary(&done, &args.out);
            }
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_USAGE
        }
    }
}

/// A progress bar (bytes read) on a terminal for long runs; hidden otherwise
/// (a pipe, a file, CI, `--timings`, a source of unknown size).
fn progress(size: Option<u64>, timings: bool) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    const LONG_RUN: u64 = 32 << 20;
    let Some(size) = size.filter(|s| *s >= LONG_RUN) else {
        return indicatif::ProgressBar::hidden();
    };
    if timings || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(size);
    let style = indicatif::ProgressStyle::with_template(
        "{bar:40} {binary_bytes}/{binary_total_bytes} read  eta {eta}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

/// A field that policies in force read and that no data file has a column
/// for: every firm's value is missing, so their decisions are at best
/// `review`. Names the department to ask (`source:`) and the policies.
fn fields_no_file_has(
    program: &crate::program::Program,
    data: &[crate::data::stream::Stream],
    as_of: Date,
) -> Vec<String> {
    let parsers: Vec<_> = data.iter().map(|d| d.parser()).collect();
    let mut out = Vec::new();
    for (i, field) in program.schema.fields.iter().enumerate() {
        let absent = parsers.iter().all(|p| p.has_column(i) == Some(false));
        if !absent || i == program.schema.key {
            continue;
        }
        let mut readers: Vec<String> = program
            .policies
            .iter()
            .filter(|p| p.in_force(as_of) && policy_reads(p, i as u16))
            .map(|p| p.id.clone())
            .collect();
        readers.extend(
            program
                .combined
                .iter()
                .filter(|c| c.fields.contains(&(i as u16)))
                .map(|c| format!("combined \"{}\"", c.label)),
        );
        if readers.is_empty() {
            continue;
        }
        let ask = field
            .source
            .as_ref()
            .map(|s| format!("; ask {s} for it (向{s}索取)"))
            .unwrap_or_default();
        out.push(format!(
            "no data file has a column for `{}` ({}), read by {}: every firm's value is missing, so their decisions are at best review (数据缺少此字段{ask})",
            field.name,
            field.title.as_deref().unwrap_or(""),
            readers.join(", ")
        ));
    }
    out
}

/// A `SOURCE=` that no field's `source:` names: conflicts are then never
/// resolved in that file's favour (a likely typo).
fn unknown_sources(
    program: &crate::program::Program,
    inputs: &[crate::data::Input],
) -> Vec<String> {
    let known: std::collections::BTreeSet<&str> = program
        .schema
        .fields
        .iter()
        .filter_map(|f| f.source.as_deref())
        .collect();
    inputs
        .iter()
        .filter_map(|i| {
            let s = i.source.as_deref()?;
            (!known.contains(s)).then(|| {
                let close = crate::suggest::closest(s, known.iter().copied())
                    .map(|c| format!("; did you mean `{c}`?"))
                    .unwrap_or_default();
                format!(
                    "`{s}={}`: no field of the schema has `source: {s}`, so no conflict is settled by this file (部门名称与 schema 的 source 不符){close}; the departments are {}",
                    i.path.display(),
                    known.iter().copied().collect::<Vec<_>>().join(", ")
                )
            })
        })
        .collect()
}

/// Whether a policy's conditions or amount read field `f` (through lets
/// and defines too).
fn policy_reads(p: &crate::program::Policy, f: u16) -> bool {
    p.clauses.iter().any(|c| c.fields.contains(&f))
        || p.amount.as_ref().is_some_and(|a| a.fields.contains(&f))
}

/// What a run reports on the terminal.
struct RunDone {
    summary: Vec<crate::batch::output::PolicySummary>,
    rows: u64,
    files: usize,
    firms: u64,
    rejected_rows: u64,
    conflicts: u64,
    warnings: Vec<String>,
    /// Each `combined` group's label and what its cap took.
    caps: Vec<(String, crate::settle::CapFigures)>,
}

/// Streams the data through the engine and writes every result file into the
/// pending directory.
fn run_into(
    set: &PolicySet,
    data: &mut [crate::data::stream::Stream],
    as_of: Date,
    args: &RunArgs,
    ledger: Option<std::sync::Arc<crate::data::ledger::Ledger>>,
    pending: &crate::report::Pending,
    clock: &mut Timings,
) -> Result<RunDone, crate::batch::RunError> {
    let program = &set.program;
    let labels = crate::data::Labels::of(&args.data);
    let mut rejects = crate::report::RejectsWriter::new(pending.file("rejects.csv")?)?;
    let mut conflicts = crate::report::ConflictsWriter::new(pending.file("conflicts.csv")?)?;
    let run_opts = crate::batch::RunOptions {
        as_of,
        all: args.all,
        ledger: ledger.clone(),
        profile: None,
    };
    let spill = Some(crate::batch::Spill {
        dir: pending.path().to_path_buf(),
        memory: crate::batch::Memory::within(args.memory_mib.saturating_mul(1 << 20)),
    });
    let size = data.iter().map(|d| d.size()).sum::<Option<u64>>();
    let bar = progress(size, clock.on || args.quiet);
    let name = |f: usize| labels.names.get(f).map_or("", String::as_str);
    let (batch, evaluated) = crate::batch::joined::stream_files(
        program,
        crate::batch::joined::DataFiles::new(data, &labels),
        run_opts,
        spill,
        |f, r| rejects.write(f as usize, name(f as usize), r),
        |c| conflicts.write(c, name(c.file as usize)),
        |read| bar.set_position(read),
    )?;
    bar.finish_and_clear();
    let (reject_lines, rejected_rows) = (rejects.lines, rejects.rows);
    let per_file = rejects.per_file.clone();
    rejects.finish()?;
    let conflict_lines = conflicts.lines;
    conflicts.finish()?;
    clock.lap("parse and evaluate rows, find duplicate keys, write rejects");
    let settled = batch.finish()?;
    clock.lap("settle across firms");
    let written = settled.write_decisions(pending.file("decisions.csv")?)?;
    clock.lap("write decisions");
    let summary = settled.summary().to_vec();
    crate::report::write_summary(&summary, pending.file("summary.csv")?)?;
    let files: Vec<crate::report::DataFile> = args
        .data
        .iter()
        .zip(data.iter())
        .enumerate()
        .map(|(f, (input, d))| crate::report::DataFile {
            input: input.clone(),
            info: d.info(),
            rejected_rows: per_file.get(f).copied().unwrap_or(0),
            evaluated_rows: evaluated.get(f).copied().unwrap_or(0),
        })
        .collect();
    let mut warnings = Vec::new();
    for crate::report::DataFile { input, info, .. } in &files {
        for c in &info.unknown_columns {
            let names = program.schema.fields.iter().flat_map(|f| f.names());
            let close = crate::suggest::closest(c, names)
                .map(|n| format!("; did you mean `{n}`? (是否应为`{n}`)"))
                .unwrap_or_default();
            let file = if files.len() > 1 {
                format!("`{}`: ", input.name())
            } else {
                String::new()
            };
            warnings.push(format!(
                "{file}column `{c}` matches no field of the schema and was ignored{close}"
            ));
        }
    }
    for crate::report::DataFile { input, info, .. } in &files {
        for (&f, &(n, first)) in &info.percent_over_one {
            let Some(field) = program.schema.fields.get(f) else {
                continue;
            };
            let readers: Vec<&str> = program
                .policies
                .iter()
                .filter(|p| p.in_force(as_of) && policy_reads(p, f as u16))
                .map(|p| p.id.as_str())
                .collect();
            let read_by = if readers.is_empty() {
                String::new()
            } else {
                format!(", read by {}", readers.join(", "))
            };
            warnings.push(format!(
                "`{}`: {n} values of the percent field `{}` are written without `%` and read above 1 (`3.5` is 350%), the first on row {first}{read_by}; write `3.5%` or `0.035` (百分比未写%且大于1,请核对)",
                input.name(),
                field.name
            ));
        }
    }
    warnings.extend(fields_no_file_has(program, data, as_of));
    warnings.extend(unknown_sources(program, &args.data));
    for s in &summary {
        if s.note.overrun {
            warnings.push(format!(
                "policy `{}`: eligible amounts {} exceed the budget {}; no `allocate`, so every firm keeps its full amount",
                s.id,
                s.amount.unwrap_or_default(),
                s.budget.unwrap_or_default()
            ));
        }
        if let Some(e) = &s.note.error {
            warnings.push(format!("policy `{}`: {e}", s.id));
        }
    }
    if let Some(l) = &ledger {
        for (i, id) in program.ledger_ids.iter().enumerate() {
            if program.policy_index(id).is_none() && !l.ids_found.get(i).copied().unwrap_or(false) {
                warnings.push(format!(
                    "`paid`/`last_paid` name `{id}`, which is neither a policy of the set nor found in the ledger: a typo? (台账中无此政策编号)"
                ));
            }
        }
    }
    let dir_text = args.dir.to_string_lossy().to_string();
    let firms = settled.firm_count() as u64;
    let record = crate::report::RunRecord {
        set,
        policy_dir: &dir_text,
        data: &files,
        conflicts: conflict_lines,
        as_of,
        all: args.all,
        encoding: encoding_name(args.encoding),
        firms,
        rejected_rows,
        rejects: reject_lines,
        decisions: written.decisions,
        caps: &written.caps,
        summary: &summary,
        warnings: &warnings,
        ledger: ledger.as_deref(),
        ledger_arg: args.ledger.as_deref(),
    };
    crate::report::write_manifest(&record, pending.file("manifest.json")?)?;
    Ok(RunDone {
        summary,
        rows: files.iter().map(|f| f.info.rows).sum(),
        files: files.len(),
        firms,
        rejected_rows,
        conflicts: conflict_lines,
        warnings,
        caps: program
            .combined
            .iter()
            .map(|c| c.label.clone())
            .zip(written.caps)
            .collect(),
    })
}

fn print_run_summary(done: &RunDone, out: &Path) {
    let rows = done.rows;
    if done.files > 1 {
        println!(
            "{rows} rows in {} files: {} firms evaluated, {} rows rejected (see rejects.csv), {} conflicting values (see conflicts.csv)",
            done.files, done.firms, done.rejected_rows, done.conflicts
        );
    } else {
        println!(
            "{rows} rows: {} firms evaluated, {} rows rejected (see rejects.csv)",
            done.firms, done.rejected_rows
        );
    }
    println!(
        "{:<28} {:>9} {:>9} {:>9} {:>9} {:>16} {:>16}",
        "policy", "evaluated", "eligible", "inelig.", "review", "amount", "funded"
    );
    for s in &done.summary {
        if !s.in_force {
            println!("{:<28} not in force on this date", s.id);
            continue;
        }
        let flag = if s.note.overrun {
            "  budget exceeded, not allocated"
        } else if s.note.exceeded {
            "  budget allocated"
        } else {
            ""
        };
        let show = |d: Option<rust_decimal::Decimal>| {
            d.map(|a| a.to_string()).unwrap_or_else(|| "-".into())
        };
        println!(
            "{:<28} {:>9} {:>9} {:>9} {:>9} {:>16} {:>16}{flag}",
            s.id,
            s.evaluated,
            s.eligible,
            s.ineligible,
            s.review,
            show(s.amount),
            show(s.funded),
        );
    }
    for (label, c) in &done.caps {
        let taken = format!("{:.2}", c.amount);
        println!(
            "combined \"{label}\": {} firms cut, {} decisions cut, {} turned ineligible, {} taken, {} firms to review (cap missing) (合计封顶: {} 户被核减, 共 {} 元; {} 户上限缺失待核实)",
            c.firms, c.cut, c.zeroed, taken, c.review, c.firms, taken, c.review
        );
    }
    println!("results in {}/", out.display());
}

fn encoding_name(e: crate::data::Encoding) -> &'static str {
    match e {
        crate::data::Encoding::Auto => "auto",
        crate::data::Encoding::Utf8 => "utf8",
        crate::data::Encoding::Gb18030 => "gb18030",
    }
}
