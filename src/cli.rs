//! The commands behind the `mianshen` binary, as functions returning an exit
//! status. Rendering of diagnostics happens here and nowhere in the library.

use std::path::{Path, PathBuf};

use crate::date::Date;
use crate::diag::{render_human, render_json, Diagnostic};
use crate::load::PolicySet;

pub const EXIT_OK: u8 = 0;
pub const EXIT_POLICY: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

fn print_diags(diags: &[Diagnostic], json: bool) {
    if json {
        println!("{}", render_json(diags));
    } else {
        eprint!("{}", render_human(diags));
    }
}

/// Loads a set, printing its diagnostics; `Err` carries the exit status.
fn load(dir: &Path, json: bool) -> Result<PolicySet, u8> {
    PolicySet::load(dir).map_err(|diags| {
        print_diags(&diags, json);
        // a directory that is not there is a command-line problem
        if diags.iter().all(|d| d.code.starts_with("load::")) {
            EXIT_USAGE
        } else {
            EXIT_POLICY
        }
    })
}

pub fn parse_as_of(s: &str) -> Result<Date, u8> {
    Date::parse_iso(s).ok_or_else(|| {
        eprintln!(
            "error: `--as-of {s}` is not a date: write YYYY-MM-DD, e.g. `--as-of 2024-12-31`"
        );
        EXIT_USAGE
    })
}

/// `mianshen check DIR`
pub fn check(dir: &Path, json: bool) -> u8 {
    match load(dir, json) {
        Ok(set) => {
            let p = &set.program;
            let files = set.files.len() - 1;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "errors": [], "policies": p.policies.len(), "fields": p.schema.fields.len(), "files": files })
                );
            } else {
                println!(
                    "ok: {} policies, {} fields, {} policy file{} in {}",
                    p.policies.len(),
                    p.schema.fields.len(),
                    files,
                    if files == 1 { "" } else { "s" },
                    dir.display()
                );
            }
            EXIT_OK
        }
        Err(code) => code,
    }
}

pub struct RunArgs {
    pub dir: PathBuf,
    pub data: PathBuf,
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
    let mut data =
        match crate::data::stream::Stream::open_path(&args.data, &set.program.schema, &opts) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_USAGE;
            }
        };
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
    match run_into(&set, &mut data, as_of, args, &pending, &mut clock) {
        Ok(done) => {
            if let Err(e) = pending.commit() {
                eprintln!(
                    "error: cannot write the results to `{}`: {e}",
                    args.out.display()
                );
                return EXIT_USAGE;
            }
            if !QUIET.with(|q| q.get()) {
                for w in &done.warnings {
                    eprintln!("warning: {w}");
                }
            }
            clock.lap("rename results into place");
            print_run_summary(&done, &args.out);
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
    if timings || !std::io::stderr().is_terminal() || QUIET.with(|q| q.get()) {
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

/// Phase durations for `--timings`.
struct Timings {
    on: bool,
    last: std::time::Instant,
}

impl Timings {
    fn lap(&mut self, what: &str) {
        if self.on {
            let now = std::time::Instant::now();
            let memory = peak_memory()
                .map(|kib| format!("  (peak memory so far {} MiB)", kib / 1024))
                .unwrap_or_default();
            eprintln!(
                "timing: {:>8.3} s  {what}{memory}",
                (now - self.last).as_secs_f64()
            );
            self.last = now;
        }
    }
}

/// The most resident memory the process has had, in KiB (Linux only).
fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// What a run reports on the terminal.
struct RunDone {
    summary: Vec<crate::batch::output::PolicySummary>,
    info: crate::data::stream::StreamInfo,
    rejected_rows: u64,
    warnings: Vec<String>,
}

/// Streams the data through the engine and writes every result file into the
/// pending directory.
fn run_into(
    set: &PolicySet,
    data: &mut crate::data::stream::Stream,
    as_of: Date,
    args: &RunArgs,
    pending: &crate::report::Pending,
    clock: &mut Timings,
) -> Result<RunDone, crate::batch::RunError> {
    let program = &set.program;
    let mut rejects = crate::report::RejectsWriter::new(pending.file("rejects.csv")?)?;
    let run_opts = crate::batch::RunOptions {
        as_of,
        all: args.all,
    };
    let spill = Some(crate::batch::Spill {
        dir: pending.path().to_path_buf(),
        memory: crate::batch::Memory::within(args.memory_mib.saturating_mul(1 << 20)),
    });
    let bar = progress(data.size(), clock.on);
    let batch = crate::batch::stream(
        program,
        data,
        run_opts,
        spill,
        |r| rejects.write(r),
        |read| bar.set_position(read),
    )?;
    bar.finish_and_clear();
    let (reject_lines, rejected_rows) = (rejects.lines, rejects.rows);
    rejects.finish()?;
    clock.lap("parse and evaluate rows, find duplicate keys, write rejects");
    let settled = batch.finish()?;
    clock.lap("settle across firms");
    let decisions = settled.write_decisions(pending.file("decisions.csv")?)?;
    clock.lap("write decisions");
    let summary = settled.summary().to_vec();
    crate::report::write_summary(&summary, pending.file("summary.csv")?)?;
    let info = data.info();
    let mut warnings = Vec::new();
    for c in &info.unknown_columns {
        warnings.push(format!(
            "column `{c}` matches no field of the schema and was ignored"
        ));
    }
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
    let dir_text = args.dir.to_string_lossy().to_string();
    let data_text = args.data.to_string_lossy().to_string();
    let record = crate::report::RunRecord {
        set,
        policy_dir: &dir_text,
        data_path: &data_text,
        data: &info,
        as_of,
        all: args.all,
        encoding: encoding_name(args.encoding),
        firms: settled.firm_count() as u64,
        rejected_rows,
        rejects: reject_lines,
        decisions,
        summary: &summary,
        warnings: &warnings,
    };
    crate::report::write_manifest(&record, pending.file("manifest.json")?)?;
    Ok(RunDone {
        summary,
        info,
        rejected_rows,
        warnings,
    })
}

fn print_run_summary(done: &RunDone, out: &Path) {
    if QUIET.with(|q| q.get()) {
        return;
    }
    let rows = done.info.rows;
    println!(
        "{rows} rows: {} firms evaluated, {} rows rejected (see rejects.csv)",
        rows.saturating_sub(done.rejected_rows),
        done.rejected_rows
    );
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
    println!("results in {}/", out.display());
}

/// `mianshen test DIR`
pub fn test(dir: &Path, json: bool) -> u8 {
    let set = match load(dir, json) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let paths = crate::cases::find(dir);
    if paths.is_empty() {
        eprintln!(
            "error: no test files in `{}`: write cases in tests/*.yaml",
            dir.join("tests").display()
        );
        return EXIT_POLICY;
    }
    let mut files = Vec::new();
    let mut load_errors = 0;
    for p in &paths {
        match crate::cases::load(p) {
            Ok(f) => files.push(f),
            Err(e) => {
                load_errors += 1;
                eprintln!("error: {e}");
            }
        }
    }
    let results = crate::cases::run_files(&set.program, &files);
    let (text, passed, failed) = crate::cases::render(&results);
    print!("{text}");
    let failed = failed + load_errors;
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        EXIT_OK
    } else {
        EXIT_POLICY
    }
}

/// `mianshen explain …`
pub fn explain(
    dir: &Path,
    data: &Path,
    firm: &str,
    as_of: &str,
    policy: Option<&str>,
    json: bool,
    encoding: crate::data::Encoding,
) -> u8 {
    let as_of = match parse_as_of(as_of) {
        Ok(d) => d,
        Err(c) => return c,
    };
    let set = match load(dir, json) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let program = &set.program;
    let only = match policy {
        None => None,
        Some(id) => match program.policy_index(id) {
            Some(i) => Some(i),
            None => {
                let ids = || program.policies.iter().map(|p| p.id.as_str());
                let starting: Vec<String> = ids()
                    .filter(|p| p.starts_with(id))
                    .map(|p| format!("`{p}`"))
                    .collect();
                let help = match crate::suggest::closest(id, ids()) {
                    Some(s) => format!(" (did you mean `{s}`?)"),
                    None if !starting.is_empty() => {
                        format!(" (did you mean {}?)", starting.join(" or "))
                    }
                    None => String::new(),
                };
                eprintln!("error: no policy `{id}` in `{}`{help}", dir.display());
                return EXIT_USAGE;
            }
        },
    };
    let data = match crate::data::read(
        data,
        &program.schema,
        &crate::data::ReadOptions { encoding },
    ) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let Some(record) = data
        .records
        .iter()
        .find(|r| r.key(program.schema.key) == firm)
    else {
        let rows: Vec<&crate::data::Reject> =
            data.rejects.iter().filter(|r| r.value == firm).collect();
        if rows.is_empty() {
            eprintln!("error: no firm with key `{firm}` in the data");
        } else {
            eprintln!("firm `{firm}` was not evaluated: its row was rejected");
            for r in data
                .rejects
                .iter()
                .filter(|r| rows.iter().any(|x| x.row == r.row))
            {
                eprintln!(
                    "  row {}, column `{}`, value `{}`: {}",
                    r.row, r.column, r.value, r.reason
                );
            }
        }
        return EXIT_USAGE;
    };
    let run = match crate::batch::records::run(
        program,
        &data.records,
        &crate::batch::RunOptions { as_of, all: true },
    ) {
        Ok(run) => run,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let e = crate::explain::explain(program, record, &run, as_of, only);
    if json {
        println!("{}", serde_json::to_string_pretty(&e).unwrap_or_default());
    } else {
        print!("{}", crate::explain::render(&e));
    }
    EXIT_OK
}

/// `mianshen generate DIR`: synthetic firms for the set's schema.
pub fn generate(
    dir: &Path,
    rows: u64,
    seed: u64,
    messy: bool,
    bad_rows: f64,
    output: Option<&Path>,
) -> u8 {
    let schema_path = dir.join("schema.yaml");
    let text = match std::fs::read_to_string(&schema_path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read `{}`: {e}", schema_path.display());
            return EXIT_USAGE;
        }
    };
    let schema = match crate::schema::Schema::load(&crate::diag::SourceText::new(
        schema_path.to_string_lossy(),
        text,
    )) {
        Ok(s) => s,
        Err(diags) => {
            print_diags(&diags, false);
            return EXIT_POLICY;
        }
    };
    if !(0.0..=1.0).contains(&bad_rows) {
        eprintln!("error: `--bad-rows {bad_rows}` must be a fraction from 0 to 1");
        return EXIT_USAGE;
    }
    let opts = crate::generate::GenOptions {
        rows,
        seed,
        messy,
        bad_rows,
    };
    let written = match output {
        Some(path) => std::fs::File::create(path).and_then(|f| {
            let mut w = std::io::BufWriter::new(f);
            crate::generate::generate(&schema, &opts, &mut w)?;
            std::io::Write::flush(&mut w)
        }),
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            crate::generate::generate(&schema, &opts, &mut w)
                .and_then(|_| std::io::Write::flush(&mut w))
        }
    };
    match written {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("error: cannot write the firms: {e}");
            EXIT_USAGE
        }
    }
}

fn encoding_name(e: crate::data::Encoding) -> &'static str {
    match e {
        crate::data::Encoding::Auto => "auto",
        crate::data::Encoding::Utf8 => "utf8",
        crate::data::Encoding::Gb18030 => "gb18030",
    }
}

/// `mianshen verify OUTDIR`: replays a run from its manifest and confirms the
/// results are byte-identical, or says exactly which input or file differs.
// serde_json's `value["key"]` gives `Null` for what is absent; it never panics
#[allow(clippy::indexing_slicing)]
pub fn verify(out: &Path, policies: Option<&Path>, data: Option<&Path>) -> u8 {
    let manifest_path = out.join("manifest.json");
    let manifest: serde_json::Value = match std::fs::read_to_string(&manifest_path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: cannot read `{}`: {e}", manifest_path.display());
            return EXIT_USAGE;
        }
    };
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let dir = policies
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(text(&manifest["policy_set"]["dir"])));
    let data_path = data
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(text(&manifest["data"]["path"])));
    let as_of = text(&manifest["as_of"]);
    let version = text(&manifest["engine"]["version"]);
    let mut changed = Vec::new();
    if version != env!("CARGO_PKG_VERSION") {
        changed.push(format!(
            "the results were made by mianshen {version}; this is mianshen {}",
            env!("CARGO_PKG_VERSION")
        ));
    }
    // every input file, by its hash
    let recorded: Vec<(String, String)> = manifest["policy_set"]["files"]
        .as_array()
        .map(|files| {
            files
                .iter()
                .map(|f| (text(&f["path"]), text(&f["sha256"])))
                .collect()
        })
        .unwrap_or_default();
    let current = match PolicySet::load(&dir) {
        Ok(set) => Some(set),
        Err(_) => {
            changed.push(format!(
                "the policy set in `{}` no longer checks clean",
                dir.display()
            ));
            None
        }
    };
    if let Some(set) = &current {
        for (path, sha) in &recorded {
            match set.files.iter().find(|f| &f.path == path) {
                None => changed.push(format!("policy file `{path}` is gone")),
                Some(f) if &f.sha256 != sha => {
                    changed.push(format!("policy file `{path}` has changed"))
                }
                Some(_) => {}
            }
        }
        for f in &set.files {
            if !recorded.iter().any(|(p, _)| p == &f.path) {
                changed.push(format!("policy file `{}` is new", f.path));
            }
        }
    }
    match std::fs::read(&data_path) {
        Ok(bytes) => {
            if crate::load::sha256_hex(&bytes) != text(&manifest["data"]["sha256"]) {
                changed.push(format!(
                    "the data file `{}` has changed",
                    data_path.display()
                ));
            }
        }
        Err(e) => changed.push(format!(
            "the data file `{}` cannot be read: {e}",
            data_path.display()
        )),
    }
    if !changed.is_empty() {
        println!(
            "not verified: the inputs differ from the run recorded in {}",
            manifest_path.display()
        );
        for c in &changed {
            println!("  {c}");
        }
        return EXIT_POLICY;
    }
    // replay into a scratch directory beside the results
    let replay = out.with_file_name(format!(
        ".{}.verify-{}",
        out.file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&replay);
    let encoding = match text(&manifest["encoding"]).as_str() {
        "utf8" => crate::data::Encoding::Utf8,
        "gb18030" => crate::data::Encoding::Gb18030,
        _ => crate::data::Encoding::Auto,
    };
    let args = RunArgs {
        dir: PathBuf::from(text(&manifest["policy_set"]["dir"])),
        data: PathBuf::from(text(&manifest["data"]["path"])),
        as_of,
        out: replay.clone(),
        all: manifest["all"].as_bool().unwrap_or(false),
        encoding,
        threads: None,
        memory_mib: crate::batch::DEFAULT_MEMORY >> 20,
        json_errors: false,
        timings: false,
    };
    let args = RunArgs {
        dir: policies.map(Path::to_path_buf).unwrap_or(args.dir),
        data: data.map(Path::to_path_buf).unwrap_or(args.data),
        ..args
    };
    let code = quietly(|| run(&args));
    if code != EXIT_OK {
        let _ = std::fs::remove_dir_all(&replay);
        println!("not verified: the replay did not complete (exit {code})");
        return EXIT_POLICY;
    }
    let mut differ = Vec::new();
    for f in crate::report::RESULT_FILES {
        let a = std::fs::read(out.join(f)).unwrap_or_default();
        let b = std::fs::read(replay.join(f)).unwrap_or_default();
        if a != b {
            differ.push(first_difference(f, &a, &b));
        }
    }
    let _ = std::fs::remove_dir_all(&replay);
    if differ.is_empty() {
        println!(
            "verified: the replay gives byte-identical results ({})",
            crate::report::RESULT_FILES.join(", ")
        );
        EXIT_OK
    } else {
        println!("not verified: the replay differs from the recorded results");
        for d in &differ {
            println!("  {d}");
        }
        EXIT_POLICY
    }
}

/// Runs `f` with the run's terminal summary kept off standard output.
fn quietly(f: impl FnOnce() -> u8) -> u8 {
    QUIET.with(|q| q.set(true));
    let code = f();
    QUIET.with(|q| q.set(false));
    code
}

thread_local! {
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn first_difference(file: &str, a: &[u8], b: &[u8]) -> String {
    let a_lines: Vec<&[u8]> = a.split(|&c| c == b'\n').collect();
    let b_lines: Vec<&[u8]> = b.split(|&c| c == b'\n').collect();
    for (i, (x, y)) in a_lines.iter().zip(&b_lines).enumerate() {
        if x != y {
            return format!(
                "{file}, line {}: recorded `{}`, replay `{}`",
                i + 1,
                String::from_utf8_lossy(x),
                String::from_utf8_lossy(y)
            );
        }
    }
    format!(
        "{file}: {} lines recorded, {} in the replay",
        a_lines.len(),
        b_lines.len()
    )
}
