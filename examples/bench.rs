//! The end-to-end benchmark: generates firms and a policy set of the wanted
//! size from the bundled example, runs `mianshen run` on them, and reports
//! wall time, firm-policy pairs per second and peak memory, with the machine.
//!
//! ```text
//! cargo build --release && cargo run --release --example bench
//! cargo run --release --example bench -- --rows 200000 --policies 20 --check-threads
//! cargo run --release --example bench -- --ledger-rows 5000000
//! ```
//!
//! `--ledger-rows N` adds three policies reading prior payments under 30
//! ids (就高补差, once-only, a three-year rule) to the set, writes a ledger
//! of N payments over 5 years to the generated firms, and runs the set
//! twice: with a ledger of only its header, then with the N payments. The
//! difference is what reading and looking up the ledger costs.
//!
//! `--departments` writes the same firms as four department files, issue
//! 12's benchmark: the schema's `source:` departments folded into four
//! ([`FOUR`]: 市场监管 with 信用 as UTF-8 CSV, 税务 with 统计 and 财政 as GBK
//! CSV, 人社 with 金融 as UTF-8 CSV, 工信 with 科技, 知识产权, 药监 and the
//! `tags` of no source as an Excel workbook), and runs the set over them
//! and over the single joined file, alternately, three times each, checking
//! that both give the same decisions. `--departments 12` writes one file per
//! `source:` instead (`generate --split-by-source`'s mix of UTF-8 CSV, GBK
//! CSV, JSON Lines and a workbook, 12 files).
//!
//! `--publish N` runs the set and publishes its results folder
//! (`mianshen publish OUT --date 2025-01-06`), N times each, alternating so
//! that both see the same machine, and reports the best of N of each with
//! its peak memory (publishing must take at most the time of the run).
//!
//! `--narrow` is the narrow workload: 1,000,000 firms (or `--rows N`) of
//! six columns (id, industry section, region, headcount, revenue, tax
//! credit grade) through one policy with an eight-branch eligibility table
//! and a capped amount, run three times (and once on one thread, compared
//! byte for byte); it reports firms per second. Its set and its data are
//! written by the bench itself (`target/bench/narrow/`).
//!
//! Files go to `target/bench/` (the firms file is reused between runs).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

struct Args {
    rows: u64,
    policies: usize,
    check_threads: bool,
    all: bool,
    ledger_rows: Option<u64>,
    /// `--departments [12]`: the files to split the firms into (4 or 12).
    departments: Option<usize>,
    publish: Option<usize>,
    narrow: bool,
}

fn args() -> Args {
    let mut a = Args {
        rows: 1_000_000,
        policies: 50,
        check_threads: false,
        all: false,
        ledger_rows: None,
        departments: None,
        publish: None,
        narrow: false,
    };
    let mut it = std::env::args().skip(1).peekable();
    while let Some(x) = it.next() {
        match x.as_str() {
            "--rows" => a.rows = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.rows),
            "--policies" => {
                a.policies = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.policies)
            }
            "--check-threads" => a.check_threads = true,
            "--all" => a.all = true,
            "--ledger-rows" => a.ledger_rows = it.next().and_then(|v| v.parse().ok()),
            "--departments" => {
                a.departments = Some(4);
                if it.peek().is_some_and(|v| v == "12") {
                    it.next();
                    a.departments = Some(12);
                }
            }
            "--publish" => a.publish = it.next().and_then(|v| v.parse().ok()),
            "--narrow" => a.narrow = true,
            other => {
                eprintln!(
                    "unknown argument `{other}`; use --rows N --policies N --check-threads --all --ledger-rows N --departments [12] --publish N --narrow"
                );
                std::process::exit(2);
            }
        }
    }
    a
}

fn main() {
    let args = args();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bin = root.join("target/release/mianshen");
    if !bin.exists() {
        eprintln!("build the release binary first: cargo build --release");
        std::process::exit(2);
    }
    let work = root.join("target/bench");
    if args.narrow {
        machine();
        bench_narrow(&bin, &work.join("narrow"), args.rows);
        return;
    }
    let set = work.join(format!("policies-{}", args.policies));
    let mut in_force = build_policy_set(&root.join("policies"), &set, args.policies);
    if args.ledger_rows.is_some() {
        in_force += add_ledger_policies(&set);
    }
    let firms = work.join(format!("firms-{}.csv", args.rows));
    if !firms.exists() {
        let started = Instant::now();
        generate_firms(&bin, &set, &firms, args.rows);
        eprintln!(
            "generated {} firms in {:.1} s",
            args.rows,
            started.elapsed().as_secs_f64()
        );
    }
    machine();
    let out = work.join("out");
    if let Some(files) = args.departments {
        bench_departments(
            &bin,
            &set,
            &firms,
            &work,
            files,
            args.rows,
            args.rows as f64 * in_force as f64,
        );
        return;
    }
    if let Some(n) = args.ledger_rows {
        bench_ledger(
            &bin,
            &set,
            &firms,
            &work,
            n,
            args.rows as f64 * in_force as f64,
        );
        return;
    }
    if let Some(n) = args.publish {
        bench_publish(&bin, &set, &firms, &out, n.max(1), args.all);
        return;
    }
    let run = run(&bin, &set, &firms, &out, None, args.all, None);
    let pairs = args.rows as f64 * in_force as f64;
    println!("command: {}", run.command);
    println!(
        "firms {}  policies in force {}  pairs {:.0}",
        args.rows, in_force, pairs
    );
    println!("wall time        {:.2} s", run.wall);
    println!("pairs per second {:.2} million", pairs / run.wall / 1e6);
    println!("peak memory      {:.0} MiB", run.peak_kib as f64 / 1024.0);
    for t in &run.timings {
        println!("  {t}");
    }
    if args.check_threads {
        let one = run_one(&bin, &set, &firms, &work, args.all);
        let same = std::fs::read(out.join("decisions.csv")).ok()
            == std::fs::read(one.join("decisions.csv")).ok()
            && std::fs::read(out.join("summary.csv")).ok()
                == std::fs::read(one.join("summary.csv")).ok();
        println!(
            "decisions with 1 thread byte-identical: {}",
            if same { "yes" } else { "NO" }
        );
        if !same {
            std::process::exit(1);
        }
    }
}

fn run_one(bin: &Path, set: &Path, firms: &Path, work: &Path, all: bool) -> PathBuf {
    let out = work.join("out-1-thread");
    let r = run(bin, set, firms, &out, Some(1), all, None);
    println!(
        "one thread: wall time {:.2} s, peak memory {:.0} MiB",
        r.wall,
        r.peak_kib as f64 / 1024.0
    );
    out
}

struct Measured {
    command: String,
    wall: f64,
    peak_kib: i64,
    timings: Vec<String>,
}

fn run(
    bin: &Path,
    set: &Path,
    firms: &Path,
    out: &Path,
    threads: Option<usize>,
    all: bool,
    ledger: Option<&Path>,
) -> Measured {
    run_files(
        bin,
        set,
        &[firms.as_os_str().to_owned()],
        out,
        threads,
        all,
        ledger,
    )
}

fn run_files(
    bin: &Path,
    set: &Path,
    data: &[std::ffi::OsString],
    out: &Path,
    threads: Option<usize>,
    all: bool,
    ledger: Option<&Path>,
) -> Measured {
    let mut cmd = Command::new(bin);
    cmd.arg("run").arg(set);
    for d in data {
        cmd.arg("--data").arg(d);
    }
    cmd.args(["--as-of", "2024-12-31", "--timings"])
        .arg("--out")
        .arg(out);
    if let Some(l) = ledger {
        cmd.arg("--ledger").arg(l);
    }
    if let Some(n) = threads {
        cmd.args(["--threads", &n.to_string()]);
    }
    if all {
        cmd.arg("--all");
    }
    measure(cmd, bin)
}

/// Runs `cmd` and measures its wall time and peak memory.
fn measure(mut cmd: Command, bin: &Path) -> Measured {
    let command = format!("{cmd:?}").replace('"', "");
    let started = Instant::now();
    #[allow(clippy::zombie_processes)] // reaped by `wait4` in `wait_with_peak`
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            eprintln!("cannot run {}: {e}", bin.display());
            std::process::exit(2);
        });
    // stdout on a thread of its own so neither pipe can fill up and block
    let mut child_out = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(o) = child_out.as_mut() {
            let _ = o.read_to_end(&mut v);
        }
        v
    });
    let mut stderr = String::new();
    if let Some(e) = child.stderr.as_mut() {
        let _ = e.read_to_string(&mut stderr);
    }
    let _ = reader.join();
    let (status, peak_kib) = wait_with_peak(child.id());
    let wall = started.elapsed().as_secs_f64();
    if status != Some(0) {
        eprintln!("{stderr}");
        std::process::exit(1);
    }
    let timings = stderr
        .lines()
        .filter(|l| l.starts_with("timing:"))
        .map(|l| l.trim_start_matches("timing:").trim().to_string())
        .collect();
    Measured {
        command,
        wall,
        peak_kib,
        timings,
    }
}

/// Waits for the child and returns its exit code and its own peak resident
/// memory in KiB (Linux `wait4`; -1 when unknown). Not `RUSAGE_CHILDREN`,
/// which is the largest of all children so far (the generator included).
fn wait_with_peak(pid: u32) -> (Option<i32>, i64) {
    let mut status: libc::c_int = 0;
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: wait4 writes the status and a rusage into memory we own.
    let reaped = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, usage.as_mut_ptr()) } > 0;
    if !reaped {
        return (None, -1);
    }
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    // SAFETY: initialised by the successful call above.
    (code, unsafe { usage.assume_init() }.ru_maxrss)
}

fn machine() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .and_then(|k| k.parse::<u64>().ok())
        .map(|k| format!("{:.0} GiB", k as f64 / 1048576.0))
        .unwrap_or_default();
    println!("machine: {cpu}, {cores} cores, {mem}");
}

fn generate_firms(bin: &Path, set: &Path, firms: &Path, rows: u64) {
    let status = Command::new(bin)
        .arg("generate")
        .arg(set)
        .args(["--rows", &rows.to_string(), "--seed", "1", "-o"])
        .arg(firms)
        .status()
        .expect("run mianshen generate");
    assert!(status.success(), "mianshen generate failed");
}

/// Copies the example set and adds variants of its policies (ids suffixed
/// `_v2`, `_v3`, …; every `万` figure scaled) until `n` policies are in force.
/// Returns how many are in force on 2024-12-31.
fn build_policy_set(from: &Path, to: &Path, n: usize) -> usize {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).expect("create the policy set");
    std::fs::copy(from.join("schema.yaml"), to.join("schema.yaml")).expect("copy the schema");
    let mut templates = Vec::new();
    collect(from, &mut templates);
    templates.sort();
    let mut files = Vec::new();
    for path in &templates {
        let text = std::fs::read_to_string(path).expect("read a policy");
        let ids = policy_ids(&text);
        if text.contains("valid    2023") || text.contains("valid 2023") {
            continue; // an expired policy adds nothing in force
        }
        files.push((
            path.file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default(),
            text,
            ids,
        ));
    }
    let per_round: usize = files.iter().map(|f| f.2.len()).sum();
    let mut count = 0;
    let mut round = 1;
    while count < n && per_round > 0 {
        for (stem, text, ids) in &files {
            if count >= n && !ids.is_empty() {
                break;
            }
            let factor = [100, 90, 110, 80, 120, 70, 130][(round - 1) % 7];
            let mut out = if round == 1 {
                text.clone()
            } else {
                scale_wan(text, factor)
            };
            if round > 1 {
                for id in ids {
                    out = rename(&out, id, &format!("{id}_v{round}"));
                }
                // the set-wide defines exist once
                out = out
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("define "))
                    .collect::<Vec<_>>()
                    .join("\n");
            }
            std::fs::write(to.join(format!("{stem}_{round}.policy")), out).expect("write a policy");
            count += ids.len();
        }
        round += 1;
    }
    count
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "tests" && n != "data") {
                collect(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "policy") {
            out.push(p);
        }
    }
}

fn policy_ids(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix("policy "))
        .filter_map(|rest| rest.split_whitespace().next().map(str::to_string))
        .collect()
}

fn rename(text: &str, id: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(id) {
        let before_ok = rest[..i]
            .chars()
            .last()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        let after = &rest[i + id.len()..];
        let after_ok = after
            .chars()
            .next()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        out.push_str(&rest[..i]);
        out.push_str(if before_ok && after_ok { to } else { id });
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Scales every `N万` figure (outside texts) by `percent`%, exactly.
fn scale_wan(text: &str, percent: i64) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut buf = String::new();
        let mut digits = String::new();
        let mut in_text = false;
        for c in line.chars() {
            if c == '"' {
                in_text = !in_text;
            }
            if !in_text && (c.is_ascii_digit() || (c == '.' && !digits.is_empty())) {
                digits.push(c);
                continue;
            }
            if c == '万' && !digits.is_empty() {
                let v: rust_decimal::Decimal = digits.parse().unwrap_or_default();
                let scaled = v * rust_decimal::Decimal::new(percent, 2);
                buf.push_str(&scaled.normalize().to_string());
            } else {
                buf.push_str(&digits);
            }
            digits.clear();
            buf.push(c);
        }
        buf.push_str(&digits);
        out.push_str(&buf);
        out.push('\n');
    }
    out
}

/// The ids prior payments are recorded under in the ledger benchmark.
const LEDGER_IDS: usize = 30;

fn prior_ids(range: std::ops::Range<usize>) -> String {
    range
        .map(|i| format!("prior_{i:02}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Adds three policies reading the ledger under [`LEDGER_IDS`] ids; returns
/// how many policies that adds in force.
fn add_ledger_policies(set: &Path) -> usize {
    let (a, b, c) = (
        prior_ids(0..10),
        prior_ids(10..20),
        prior_ids(20..LEDGER_IDS),
    );
    let text = format!(
        r#"// 台账基准: 就高补差, 只奖励一次, 三年内不重复
policy ledger_topup {{
    title "就高补差(基准)"
    valid 2024-01-01 to 2024-12-31
    amount "补齐差额" max(100万 - paid({a}), 0)
}}

policy ledger_once {{
    title "只奖励一次(基准)"
    valid 2024-01-01 to 2024-12-31
    exclude "已享受过" paid({b}) > 0
    amount 10万
}}

policy ledger_three_years {{
    title "三年内不重复(基准)"
    valid 2024-01-01 to 2024-12-31
    exclude "三年内已享受" last_paid({c}) is present
        and years_between(last_paid({c}), as_of) < 3
    amount 5万
}}
"#
    );
    std::fs::write(set.join("ledger_bench.policy"), text).expect("write the ledger policies");
    3
}

/// Writes a ledger of `n` payments: firms of `firms` taken in a fixed
/// pseudo-random order, ids and dates (2020 to 2024) spread over all.
fn write_ledger(firms: &Path, ledger: &Path, n: u64) {
    use std::io::{BufRead, Write};
    let keys: Vec<String> = std::io::BufReader::new(std::fs::File::open(firms).expect("firms"))
        .lines()
        .skip(1)
        .map_while(Result::ok)
        .filter_map(|l| l.split(',').next().map(str::to_string))
        .collect();
    let mut w = std::io::BufWriter::new(std::fs::File::create(ledger).expect("create the ledger"));
    writeln!(w, "key,policy,amount,paid_on").expect("write");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..n {
        // xorshift: the same ledger every time
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let key = &keys[(x % keys.len() as u64) as usize];
        let id = (x >> 20) as usize % LEDGER_IDS;
        let year = 2020 + (x >> 40) % 5;
        let month = 1 + (x >> 44) % 12;
        let day = 1 + (x >> 50) % 28;
        let amount = 1000 + (x >> 8) % 500_000;
        writeln!(
            w,
            "{key},prior_{id:02},{}.{:02},{year}-{month:02}-{day:02}",
            amount / 100,
            amount % 100
        )
        .expect("write");
        let _ = i;
    }
    w.flush().expect("write the ledger");
}

/// The set with a ledger of only its header, then with `n` payments.
fn bench_ledger(bin: &Path, set: &Path, firms: &Path, work: &Path, n: u64, pairs: f64) {
    let empty = work.join("ledger-empty.csv");
    std::fs::write(&empty, "key,policy,amount,paid_on\n").expect("write the empty ledger");
    let full = work.join(format!("ledger-{n}.csv"));
    if !full.exists() {
        let started = Instant::now();
        write_ledger(firms, &full, n);
        eprintln!(
            "wrote {n} payments in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let size = std::fs::metadata(&full).map(|m| m.len()).unwrap_or(0);
    let (best, peak) = alternate(|i| {
        let ledger = if i == 0 { &empty } else { &full };
        run(
            bin,
            set,
            firms,
            &work.join("out-ledger"),
            None,
            false,
            Some(ledger),
        )
    });
    println!(
        "pairs {pairs:.0}; ledger {n} payments under {LEDGER_IDS} ids, {:.0} MiB",
        size as f64 / 1048576.0
    );
    println!(
        "header-only ledger: best of 3 {:.2} s, peak {:.0} MiB",
        best[0],
        peak[0] as f64 / 1024.0
    );
    println!(
        "{n}-payment ledger: best of 3 {:.2} s, peak {:.0} MiB",
        best[1],
        peak[1] as f64 / 1024.0
    );
    println!(
        "the ledger adds {:.0}% to the run's time",
        (best[1] / best[0] - 1.0) * 100.0
    );
}

/// Issue 12's four department files: each the `source:` departments folded
/// into it, and its format.
const FOUR: [(&str, &[&str], &str); 4] = [
    ("市场监管", &["市场监管", "信用"], "csv"),
    ("税务", &["税务", "统计", "财政"], "gbk"),
    ("人社", &["人社", "金融"], "csv"),
    ("工信", &["工信", "科技", "知识产权", "药监"], "xlsx"),
];

/// A copy of the policy set whose schema names only the four departments
/// of [`FOUR`] (the fields of no source go to the last): the same fields,
/// so the same generated firms, split into four files.
fn fold_departments(set: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).expect("create the folded set");
    for e in std::fs::read_dir(set).expect("read the set").flatten() {
        let p = e.path();
        if p.is_file() {
            std::fs::copy(&p, to.join(e.file_name())).expect("copy the set");
        }
    }
    let schema = std::fs::read_to_string(set.join("schema.yaml")).expect("read the schema");
    let last = FOUR[FOUR.len() - 1].0;
    let mut out = String::new();
    for line in schema.lines() {
        let folded = match line.split_once("source: ") {
            Some((head, rest)) => {
                let end = rest.find([',', ' ', '}']).unwrap_or(rest.len());
                let (name, tail) = rest.split_at(end);
                let into = FOUR
                    .iter()
                    .find(|(_, from, _)| from.contains(&name))
                    .map_or(name, |(into, _, _)| into);
                format!("{head}source: {into}{tail}")
            }
            // a field line of no source
            None if line.contains("type:") && line.trim_end().ends_with('}') => {
                let body = line.trim_end().trim_end_matches('}').trim_end();
                format!("{body}, source: {last} }}")
            }
            None => line.to_string(),
        };
        out.push_str(&folded);
        out.push('\n');
    }
    std::fs::write(to.join("schema.yaml"), out).expect("write the folded schema");
}

/// The set over department files (`files`: 4 or 12) and over the one
/// joined file, alternately; their decisions must be the same.
fn bench_departments(
    bin: &Path,
    set: &Path,
    firms: &Path,
    work: &Path,
    files: usize,
    rows: u64,
    pairs: f64,
) {
    let dir = work.join(format!("departments{files}-{rows}"));
    let listed = dir.join("data-args.txt");
    if !listed.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        let started = Instant::now();
        let mut generate = Command::new(bin);
        generate.arg("generate");
        if files == 4 {
            let folded = work.join("policies-departments4");
            fold_departments(set, &folded);
            generate.arg(&folded);
            for (name, _, format) in FOUR {
                generate.args(["--format", &format!("{name}={format}")]);
            }
        } else {
            generate.arg(set);
        }
        let out = generate
            .args([
                "--rows",
                &rows.to_string(),
                "--seed",
                "1",
                "--split-by-source",
                "-o",
            ])
            .arg(&dir)
            .output()
            .expect("run generate");
        if !out.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&out.stderr));
            std::process::exit(1);
        }
        // generate prints the --data arguments to run the files with
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        std::fs::write(&listed, text).expect("write the arguments");
        eprintln!(
            "wrote the department files in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let text = std::fs::read_to_string(&listed).expect("read the arguments");
    let words: Vec<&str> = text.split_whitespace().collect();
    let data: Vec<std::ffi::OsString> = words
        .windows(2)
        .filter(|w| w[0] == "--data")
        .map(|w| w[1].into())
        .collect();
    let mut sizes = Vec::new();
    for d in &data {
        let s = d.to_string_lossy();
        let path = s.split_once('=').map_or(&*s, |(_, p)| p).to_string();
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        sizes.push(format!(
            "{} ({:.0} MiB)",
            path.rsplit('/').next().unwrap_or(&path),
            bytes as f64 / 1048576.0
        ));
    }
    println!("department files: {}", sizes.join(", "));
    let one = [firms.as_os_str().to_owned()];
    let outs = [work.join("out-joined"), work.join("out-departments")];
    let (best, peak) = alternate(|i| {
        let files = if i == 0 { &one[..] } else { &data[..] };
        run_files(bin, set, files, &outs[i], None, false, None)
    });
    let same = ["decisions.csv", "summary.csv"]
        .iter()
        .all(|f| std::fs::read(outs[0].join(f)).ok() == std::fs::read(outs[1].join(f)).ok());
    println!(
        "decisions and summary of the department files byte-identical to the joined file's: {}",
        if same { "yes" } else { "NO" }
    );
    println!("pairs {pairs:.0}");
    println!(
        "one joined file: best of 3 {:.2} s, peak {:.0} MiB",
        best[0],
        peak[0] as f64 / 1024.0
    );
    println!(
        "{} department files: best of 3 {:.2} s, peak {:.0} MiB",
        data.len(),
        best[1],
        peak[1] as f64 / 1024.0
    );
    println!("department files / one file: {:.2}x", best[1] / best[0]);
    if !same {
        std::process::exit(1);
    }
}

/// The run and the publication of its folder, alternated `n` times.
fn bench_publish(bin: &Path, set: &Path, firms: &Path, out: &Path, n: usize, all: bool) {
    let mut best = [f64::MAX; 2];
    let mut peak = [0i64; 2];
    let mut phases = Vec::new();
    for round in 0..n {
        let r = run(bin, set, firms, out, None, all, None);
        let mut cmd = Command::new(bin);
        cmd.arg("publish")
            .arg(out)
            .args(["--date", "2025-01-06", "--timings"]);
        let p = measure(cmd, bin);
        if round == 0 {
            println!("command: {}", r.command);
            println!("command: {}", p.command);
        }
        println!(
            "round {}: run {:.2} s ({:.0} MiB), publish {:.2} s ({:.0} MiB)",
            round + 1,
            r.wall,
            r.peak_kib as f64 / 1024.0,
            p.wall,
            p.peak_kib as f64 / 1024.0
        );
        if p.wall < best[1] {
            phases = p.timings.clone();
        }
        for (i, m) in [&r, &p].into_iter().enumerate() {
            best[i] = best[i].min(m.wall);
            peak[i] = peak[i].max(m.peak_kib);
        }
    }
    println!("phases of the fastest publish:");
    for t in &phases {
        println!("  {t}");
    }
    println!(
        "run:     best of {n} {:.2} s, peak {:.0} MiB",
        best[0],
        peak[0] as f64 / 1024.0
    );
    println!(
        "publish: best of {n} {:.2} s, peak {:.0} MiB ({:.2}× the run)",
        best[1],
        peak[1] as f64 / 1024.0,
        best[1] / best[0]
    );
}

/// Runs `measured(0)` and `measured(1)` alternately three times, so both see
/// the same machine; the best wall time and the peak memory of each, and
/// the phases of the last `measured(1)`.
fn alternate(mut measured: impl FnMut(usize) -> Measured) -> ([f64; 2], [i64; 2]) {
    let mut best = [f64::MAX; 2];
    let mut peak = [0i64; 2];
    for round in 0..3 {
        for i in 0..2 {
            let r = measured(i);
            if round == 0 {
                println!("command: {}", r.command);
            }
            best[i] = best[i].min(r.wall);
            peak[i] = peak[i].max(r.peak_kib);
            if round == 2 && i == 1 {
                for t in &r.timings {
                    println!("  {t}");
                }
            }
        }
    }
    (best, peak)
}

/// The narrow workload's schema: six columns.
const NARROW_SCHEMA: &str = "\
key: id
fields:
  id:           { type: text,    title: 企业编号 }
  industry:     { type: text,    title: 行业门类 }
  region:       { type: text,    title: 行政区划代码 }
  headcount:    { type: integer, title: 从业人员 }
  revenue:      { type: money,   title: 营业收入 }
  credit_grade: { type: enum,    title: 纳税信用等级, values: [A, B, M, C, D] }
";

/// One policy: the SME size standard by industry section (an eight-branch
/// table), a credit grade, and 1% of revenue capped at 50万.
const NARROW_POLICY: &str = r#"policy narrow_2024 {
    title "2024年度中小企业发展补助"
    valid 2024-01-01 to 2024-12-31

    let sme = when industry == "A" then revenue < 2亿
              when industry == "B" then headcount < 1000 and revenue < 4亿
              when industry == "C" then headcount < 1000 and revenue < 4亿
              when industry == "E" then revenue < 8亿
              when industry == "F" then headcount < 1000 and revenue < 4亿
              when industry == "G" then headcount < 200 and revenue < 4亿
              when industry == "I" then headcount < 300 and revenue < 1亿
              else headcount < 300 and revenue < 1亿

    require "中小企业" sme
    require "纳税信用A级或B级" credit_grade in ["A", "B"]
    require "注册在本省" starts_with(region, "42")

    amount "按上年度营业收入的1%补助" revenue * 1%
    cap 50万
}
"#;

/// Writes the narrow set and `rows` firms (a fixed pseudo-random sequence:
/// the same file every time).
fn write_narrow(dir: &Path, rows: u64) -> (PathBuf, PathBuf) {
    use std::io::Write;
    let set = dir.join("policies");
    std::fs::create_dir_all(&set).expect("create the narrow set");
    std::fs::write(set.join("schema.yaml"), NARROW_SCHEMA).expect("write the schema");
    std::fs::write(set.join("narrow.policy"), NARROW_POLICY).expect("write the policy");
    let firms = dir.join(format!("firms-{rows}.csv"));
    if firms.exists() {
        return (set, firms);
    }
    let started = Instant::now();
    let mut w = std::io::BufWriter::new(std::fs::File::create(&firms).expect("create the firms"));
    writeln!(w, "id,industry,region,headcount,revenue,credit_grade").expect("write");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        // xorshift64*
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    const SECTIONS: &[u8] = b"ABCDEFGHIJKLMNOPQRST";
    const REGIONS: &[&str] = &[
        "420102", "420103", "420104", "420105", "420106", "420111", "420112", "420113", "420114",
        "420115", "420116", "420117", "420202", "420303", "420502", "420602", "430102", "110101",
    ];
    const GRADES: &[&str] = &["A", "A", "B", "B", "B", "M", "C", "D"];
    for i in 0..rows {
        let section = SECTIONS[(next() % SECTIONS.len() as u64) as usize] as char;
        let region = REGIONS[(next() % REGIONS.len() as u64) as usize];
        let headcount = 1 + next() % 2000;
        let revenue_cents = next() % 60_000_000_000; // up to 6亿
        let grade = GRADES[(next() % GRADES.len() as u64) as usize];
        writeln!(
            w,
            "N{i:09},{section},{region},{headcount},{}.{:02},{grade}",
            revenue_cents / 100,
            revenue_cents % 100
        )
        .expect("write");
    }
    w.flush().expect("write the firms");
    eprintln!(
        "generated {rows} narrow firms in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    (set, firms)
}

fn bench_narrow(bin: &Path, dir: &Path, rows: u64) {
    let (set, firms) = write_narrow(dir, rows);
    let size = std::fs::metadata(&firms).map(|m| m.len()).unwrap_or(0);
    println!(
        "narrow: {rows} firms, 6 columns, {:.0} MB, one policy",
        size as f64 / 1e6
    );
    let out = dir.join("out");
    let mut best = f64::MAX;
    let mut peak = 0i64;
    for round in 0..3 {
        let r = run(bin, &set, &firms, &out, None, false, None);
        if round == 0 {
            println!("command: {}", r.command);
        }
        best = best.min(r.wall);
        peak = peak.max(r.peak_kib);
        if round == 2 {
            for t in &r.timings {
                println!("  {t}");
            }
        }
    }
    println!(
        "two threads: best of 3 {best:.3} s, {:.2} million firms/s, peak {:.0} MiB",
        rows as f64 / best / 1e6,
        peak as f64 / 1024.0
    );
    let one = dir.join("out-1-thread");
    let r = run(bin, &set, &firms, &one, Some(1), false, None);
    println!(
        "one thread: {:.3} s, {:.2} million firms/s ({:.0}% of the two-thread rate)",
        r.wall,
        rows as f64 / r.wall / 1e6,
        100.0 * best / r.wall
    );
    let same = ["decisions.csv", "summary.csv", "rejects.csv"]
        .iter()
        .all(|f| std::fs::read(out.join(f)).ok() == std::fs::read(one.join(f)).ok());
    println!(
        "results with 1 thread byte-identical: {}",
        if same { "yes" } else { "NO" }
    );
    if !same {
        std::process::exit(1);
    }
}
