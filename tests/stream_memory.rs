//! The streamed batch run (what `mianshen run` does: one read of the file,
//! duplicate keys found at the end and their rows taken back out) against
//! a run the plain way (`tests/common/oracle.rs`: `data::read`, whose
//! duplicate check is a hash map, then every firm evaluated and every policy
//! settled over a list in memory). Both must give the same rejects,
//! decisions and totals.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mianshen::batch::output::PolicySummary;
use mianshen::batch::{self, Memory, RunOptions, Spill};
use mianshen::data::stream::Stream;
use mianshen::data::{ReadOptions, Reject};
use mianshen::settle::Firm;
use mianshen::{Date, Engine};

struct Result {
    rejects: Vec<Reject>,
    firms: Vec<Firm>,
    summary: Vec<PolicySummary>,
}

fn options(all: bool) -> RunOptions {
    RunOptions {
        as_of: Date::parse_iso("2024-12-31").expect("a date"),
        all,
        ledger: None,
        profile: None,
    }
}

fn streamed(engine: &Engine, name: &str, bytes: &[u8], all: bool) -> Result {
    streamed_with(engine, name, bytes, all, None)
}

/// A streamed run that spills as `spill` says; asserts that spill files are
/// there while the results are read, and gone after.
fn streamed_with(
    engine: &Engine,
    name: &str,
    bytes: &[u8],
    all: bool,
    spill: Option<Spill>,
) -> Result {
    let shared: Arc<[u8]> = bytes.into();
    let open = move || -> std::io::Result<Box<dyn std::io::Read + Send>> {
        Ok(Box::new(std::io::Cursor::new(Arc::clone(&shared))))
    };
    let dir = spill.as_ref().map(|s| s.dir.clone());
    let files = || {
        dir.as_ref()
            .map_or(0, |d| std::fs::read_dir(d).expect("the spill dir").count())
    };
    let (b, rejects) = stream_from(engine, name, Arc::new(open), all, spill);
    let b = b.expect("the run goes through");
    let settled = b.finish().expect("settled");
    let result = Result {
        rejects,
        firms: settled.firms().expect("read back"),
        summary: settled.summary().to_vec(),
    };
    if dir.is_some() {
        assert!(files() > 3, "it spilled: {} files", files());
        drop(settled);
        assert_eq!(files(), 0, "spill files are removed");
    }
    result
}

/// A streamed run of what `open` gives, named `name`: the batch, and the
/// rejects it gave.
fn stream_from<'e>(
    engine: &'e Engine,
    name: &str,
    open: Arc<mianshen::data::stream::Open>,
    all: bool,
    spill: Option<Spill>,
) -> (
    std::result::Result<batch::Batch<'e>, batch::RunError>,
    Vec<Reject>,
) {
    let program = engine.program();
    let mut stream = Stream::open(
        open,
        Path::new(name),
        &program.schema,
        &ReadOptions::default(),
    )
    .expect("the file opens");
    let mut rejects = Vec::new();
    let b = batch::stream(
        program,
        &mut stream,
        options(all),
        spill,
        |r| {
            rejects.push(r.clone());
            Ok(())
        },
        |_| {},
    );
    (b, rejects)
}

/// Pseudo-random numbers below `n` (xorshift), from `state`.
fn below(mut state: u64) -> impl FnMut(usize) -> usize {
    move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    }
}

fn in_memory(engine: &Engine, name: &str, bytes: &[u8], all: bool) -> Result {
    let program = engine.program();
    let set = common::oracle::read_bytes(
        Path::new(name),
        bytes.to_vec(),
        &program.schema,
        &ReadOptions::default(),
    )
    .expect("the file reads");
    let (firms, summary) = common::oracle::run(program, &set.records, &options(all));
    Result {
        rejects: set.rejects,
        firms,
        summary,
    }
}

fn same(a: &Result, b: &Result) {
    assert_eq!(a.rejects, b.rejects, "rejects differ");
    assert_eq!(a.firms.len(), b.firms.len(), "firm counts differ");
    for (x, y) in a.firms.iter().zip(&b.firms) {
        assert_eq!(x, y, "decisions differ");
    }
    assert_eq!(a.summary, b.summary, "totals differ");
}

fn policies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
}

fn engine() -> Engine {
    Engine::load(policies()).expect("the example set")
}

/// Messy firms with 3% bad rows, as `mianshen generate` writes them.
fn messy_csv(rows: u64) -> Vec<u8> {
    common::generated(&policies(), rows, 7, true, 0.03)
}

/// Clean generated firms.
fn clean_csv(rows: u64, seed: u64) -> String {
    String::from_utf8(common::generated(&policies(), rows, seed, false, 0.0)).expect("utf-8")
}

/// The same rows as JSON Lines: an object per row, every cell a string.
fn to_json_lines(csv_text: &[u8]) -> Vec<u8> {
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(csv_text);
    let header: Vec<String> = r
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_string)
        .collect();
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.expect("a record");
        let mut m = serde_json::Map::new();
        for (h, c) in header.iter().zip(rec.iter()) {
            m.insert(h.clone(), serde_json::Value::String(c.to_string()));
        }
        out.extend_from_slice(serde_json::Value::Object(m).to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

#[test]
fn messy_data_with_duplicate_keys_gives_the_same_results() {
    let engine = engine();
    let csv_text = messy_csv(20_000);
    let jsonl = to_json_lines(&csv_text);
    for (name, bytes) in [("firms.csv", &csv_text), ("firms.jsonl", &jsonl)] {
        for all in [false, true] {
            let s = streamed(&engine, name, bytes, all);
            let m = in_memory(&engine, name, bytes, all);
            let dups = s
                .rejects
                .iter()
                .filter(|r| r.reason.starts_with("the key is also on"))
                .count();
            assert!(dups > 10, "{name}: the data holds duplicate keys ({dups})");
            assert!(
                s.rejects
                    .iter()
                    .filter(|r| r.reason.starts_with("the key is also on"))
                    .any(|d| s
                        .rejects
                        .iter()
                        .any(|o| o.row == d.row && !o.reason.starts_with("the key is also on"))),
                "{name}: some duplicated row is also bad otherwise"
            );
            same(&s, &m);
        }
    }
}

/// With a few KiB of memory, everything a run keeps goes to disk (decisions,
/// the key index in many runs, candidates, settled results, rejects): the
/// results are the same.
#[test]
fn a_run_spilled_to_disk_gives_the_same_results() {
    let engine = engine();
    let csv_text = messy_csv(20_000);
    let dir = std::env::temp_dir().join(format!("mianshen-spill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a spill dir");
    let tiny = Memory {
        decisions: 64 << 10,
        index: 16 << 10,
        settle: 16 << 10,
        work: 4 << 10,
        rejects: 8 << 10,
    };
    for all in [false, true] {
        let spill = Spill {
            dir: dir.clone(),
            memory: tiny,
        };
        let s = streamed_with(&engine, "firms.csv", &csv_text, all, Some(spill));
        same(&s, &in_memory(&engine, "firms.csv", &csv_text, all));
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// A firm eligible for policies settled across firms (budgets, limits) is
/// evaluated before its key turns up again; both rows are then rejected and
/// the run must be as if the firm had never been there.
#[test]
fn a_late_duplicate_takes_the_firm_out_of_settlement() {
    let engine = engine();
    let text = clean_csv(3_000, 11);
    let lines: Vec<&str> = text.lines().collect();
    let base = streamed(&engine, "f.csv", text.as_bytes(), false);
    // the firm (row) eligible for the most budgeted or limited policies
    let across: Vec<u16> = engine
        .program()
        .policies
        .iter()
        .enumerate()
        .filter(|(_, p)| mianshen::settle::across_firms(p))
        .map(|(i, _)| i as u16)
        .collect();
    assert!(!across.is_empty(), "the example set settles across firms");
    let (firm, _) = base
        .firms
        .iter()
        .map(|f| {
            let n = f
                .pairs
                .iter()
                .filter(|p| across.contains(&p.policy) && p.outcome == mianshen::Outcome::Eligible)
                .count();
            (f.key.clone(), n)
        })
        .max_by_key(|(_, n)| *n)
        .expect("firms");
    let at = lines
        .iter()
        .position(|l| l.starts_with(&format!("{firm},")))
        .expect("the firm's line");
    let repeated = format!("{}\n{}\n", text.trim_end(), lines[at]);
    let without: String = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != at)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let twice = streamed(&engine, "f.csv", repeated.as_bytes(), false);
    let gone = streamed(&engine, "f.csv", without.as_bytes(), false);
    assert_eq!(twice.rejects.len(), 2, "both rows of the key are rejected");
    assert_eq!(twice.firms, gone.firms);
    assert_eq!(twice.summary, gone.summary);
    assert_ne!(
        twice.summary, base.summary,
        "the firm counted in the totals"
    );
    same(
        &twice,
        &in_memory(&engine, "f.csv", repeated.as_bytes(), false),
    );
}

/// Many rows on few keys, some of them bad otherwise, some ragged: keys
/// repeated among valid rows, among rejected rows only, and across both.
#[test]
fn keys_repeated_every_way_give_the_same_results() {
    let engine = engine();
    let text = clean_csv(400, 5);
    let mut lines = text.lines();
    let header = lines.next().expect("a header").to_string();
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    // every field is written plainly by the clean generator: no quoted commas
    assert!(rows.iter().all(|r| r.len() == rows[0].len()));
    let employees = header
        .split(',')
        .position(|h| h == "employees")
        .expect("an employees column");
    let keys: Vec<String> = rows.iter().take(60).map(|r| r[0].clone()).collect();
    let mut next = below(0x2545_f491_4f6c_dd1d);
    let mut out = format!("{header}\n");
    for (i, row) in rows.iter().enumerate() {
        let mut row = row.clone();
        // rows 0..60 keep their own key; later rows mostly reuse one
        if i >= 60 && next(4) != 0 {
            row[0] = keys[next(keys.len())].clone();
        }
        match next(10) {
            0 => row[employees] = "many".into(),
            1 => {
                row.truncate(5);
            }
            _ => {}
        }
        out.push_str(&row.join(","));
        out.push('\n');
    }
    // a key on two rejected rows and no other: a bad cell, a ragged row
    let mut lonely = rows[1].clone();
    lonely[0] = "LONELY-KEY".into();
    let mut bad = lonely.clone();
    bad[employees] = "many".into();
    let mut ragged = lonely;
    ragged.truncate(5);
    let lonely_rows = (rows.len() as u64 + 2, rows.len() as u64 + 3);
    out.push_str(&format!("{}\n{}\n", bad.join(","), ragged.join(",")));
    for all in [false, true] {
        let s = streamed(&engine, "few-keys.csv", out.as_bytes(), all);
        let m = in_memory(&engine, "few-keys.csv", out.as_bytes(), all);
        same(&s, &m);
        let reason = |row: u64| -> Vec<&str> {
            s.rejects
                .iter()
                .filter(|r| r.row == row)
                .map(|r| r.reason.as_str())
                .collect()
        };
        let (a, b) = lonely_rows;
        assert!(reason(a).contains(&format!("the key is also on row {b}").as_str()));
        assert!(reason(b).contains(&format!("the key is also on row {a}").as_str()));
        // (the key also fails the credit-code check)
        assert!(
            reason(a).len() >= 2 && reason(b).len() >= 2,
            "and their own faults"
        );
        let repeated = s
            .rejects
            .iter()
            .filter(|r| r.reason.starts_with("the key is also on"))
            .count();
        assert!(repeated > 100, "many rows share keys ({repeated})");
    }
}

/// A key on more rows than the duplicate check holds at once (1,024) is
/// counted first and its rows handed out in a pass of their own; keys on
/// fewer rows around it are not disturbed.
#[test]
fn a_key_on_thousands_of_rows_gives_the_same_results() {
    let engine = engine();
    let text = clean_csv(300, 9);
    let mut lines = text.lines();
    let header = lines.next().expect("a header");
    let rows: Vec<&str> = lines.collect();
    let mut out = format!("{header}\n");
    for (i, row) in rows.iter().enumerate() {
        out.push_str(row);
        out.push('\n');
        if i % 2 == 0 {
            // the same firm again, 1,500 rows in all across the file
            for _ in 0..10 {
                out.push_str(rows[3]);
                out.push('\n');
            }
        }
        if i == 100 {
            // a row of that key that is bad anyway, and a key on three rows
            let key = rows[3].split(',').next().expect("a key");
            out.push_str(&format!("{key},x\n"));
            for _ in 0..2 {
                out.push_str(rows[7]);
                out.push('\n');
            }
        }
    }
    let dir = std::env::temp_dir().join(format!("mianshen-big-key-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a spill dir");
    let spill = Spill {
        dir: dir.clone(),
        memory: Memory {
            decisions: 64 << 10,
            index: 16 << 10,
            settle: 16 << 10,
            work: 4 << 10,
            rejects: 8 << 10,
        },
    };
    let m = in_memory(&engine, "big-key.csv", out.as_bytes(), true);
    let s = streamed(&engine, "big-key.csv", out.as_bytes(), true);
    same(&s, &m);
    same(
        &streamed_with(&engine, "big-key.csv", out.as_bytes(), true, Some(spill)),
        &m,
    );
    let on_key = |row: &str| {
        s.rejects
            .iter()
            .filter(|r| r.value == row.split(',').next().unwrap_or_default())
            .filter(|r| r.reason.starts_with("the key is also on"))
            .count()
    };
    assert_eq!(
        on_key(rows[3]),
        1_502,
        "every row of the key, the bad one too"
    );
    assert_eq!(on_key(rows[7]), 3);
    let _ = std::fs::remove_dir_all(dir);
}

/// A `list` key is the firm's key as its items joined by `;`, for the
/// duplicate check too, whatever separators the cells used.
#[test]
fn a_list_key_is_checked_for_duplicates() {
    let engine = Engine::from_texts(
        "key: k\nfields:\n  k: { type: list }\n  x: { type: integer }\n",
        &[(
            "a.policy",
            "policy a_2024 {\n    title \"a\"\n    issuer \"i\"\n    basis \"b\"\n    valid 2024-01-01 to 2024-12-31\n    require \"x正\" x > 0\n}\n",
        )],
    )
    .expect("the set checks");
    let data = "k,x\na;b,1\na|b,2\nc,3\nc,zz\nd、e,4\n";
    let s = streamed(&engine, "d.csv", data.as_bytes(), true);
    same(&s, &in_memory(&engine, "d.csv", data.as_bytes(), true));
    let repeated: Vec<u64> = s
        .rejects
        .iter()
        .filter(|r| r.reason.starts_with("the key is also on"))
        .map(|r| r.row)
        .collect();
    assert_eq!(repeated, vec![2, 3, 4, 5]);
    let keys: Vec<&str> = s.firms.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(keys, vec!["d;e"]);
}

/// The rows of repeated keys of a JSON Lines file are read a second time
/// (a line names its key its own way): a source that is not the same the
/// second time (a pipe, a file being rewritten) is an error, never a
/// silently different result. A CSV file is read once.
#[test]
fn a_source_that_changes_between_reads_is_an_error() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let engine = engine();
    let text = String::from_utf8(messy_csv(50)).expect("utf-8");
    let mut lines: Vec<&str> = text.lines().collect();
    let first_row = lines[1].to_string();
    lines.push(&first_row); // the first firm's key again
    let csv_text = lines.join("\n") + "\n";
    for (name, first_read, reads) in [
        ("changing.jsonl", to_json_lines(csv_text.as_bytes()), 2),
        ("changing.csv", csv_text.clone().into_bytes(), 1),
    ] {
        let opened = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&opened);
        let open = move || -> std::io::Result<Box<dyn std::io::Read + Send>> {
            let bytes = if count.fetch_add(1, Ordering::SeqCst) == 0 {
                first_read.clone()
            } else {
                b"uscc\n".to_vec()
            };
            Ok(Box::new(std::io::Cursor::new(bytes)))
        };
        let (r, rejects) = stream_from(&engine, name, Arc::new(open), false, None);
        assert_eq!(opened.load(Ordering::SeqCst), reads, "{name}");
        if reads == 1 {
            assert!(r.is_ok(), "{name}");
            let m = in_memory(&engine, name, csv_text.as_bytes(), false);
            assert_eq!(rejects, m.rejects, "{name}");
            continue;
        }
        let err = r.err().expect("an error").to_string();
        assert!(err.contains("read a second time"), "{name}: {err}");
    }
}

/// Random rows of messy values, some cells missing, some rows ragged or bad,
/// keys repeated among them at random: the rejects of the rows of repeated
/// keys, put among their others without reading the file again, are the
/// plain reading's (`data::read`, which checks keys with a hash map), in a
/// CSV file; and the same rows as JSON Lines (read again) agree.
#[test]
fn repeated_keys_among_random_messy_rows_give_the_plain_rejects() {
    let engine = engine();
    let mut next = below(0x9e37_79b9_7f4a_7c15);
    for round in 0..12 {
        let text = String::from_utf8(common::generated(&policies(), 150, round, true, 0.1))
            .expect("utf-8");
        let mut r = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(false)
            .from_reader(text.as_bytes());
        let mut rows: Vec<Vec<String>> = r
            .records()
            .map(|rec| rec.expect("a record").iter().map(str::to_string).collect())
            .collect();
        let body = rows.split_off(1);
        let keys: Vec<String> = body.iter().filter_map(|r| r.first().cloned()).collect();
        let mut w = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(Vec::new());
        w.write_record(&rows[0]).expect("written");
        for row in &body {
            let mut row = row.clone();
            match next(8) {
                // another row's key, or a spaced or empty one
                0 | 1 => row[0] = keys[next(keys.len())].clone(),
                2 => row[0] = format!(" {} ", keys[next(keys.len())]),
                3 if next(3) == 0 => row[0].clear(),
                _ => {}
            }
            match next(12) {
                0 => row.truncate(next(row.len()) + 1),
                1 => {
                    let c = next(row.len());
                    row[c].clear();
                }
                2 => {
                    let c = next(row.len());
                    row[c] = "不详".into();
                }
                _ => {}
            }
            w.write_record(&row).expect("written");
        }
        let csv_text = w.into_inner().expect("written");
        for all in [false, true] {
            let s = streamed(&engine, "random.csv", &csv_text, all);
            same(&s, &in_memory(&engine, "random.csv", &csv_text, all));
            let jsonl = to_json_lines(&csv_text);
            let j = streamed(&engine, "random.jsonl", &jsonl, all);
            same(&j, &in_memory(&engine, "random.jsonl", &jsonl, all));
        }
    }
}

/// What a streamed run writes: decisions.csv's bytes, the totals and the
/// rejects.
fn written(
    engine: &Engine,
    bytes: &[u8],
    all: bool,
    spill: Option<Spill>,
) -> (Vec<u8>, Vec<PolicySummary>, Vec<Reject>) {
    let shared: Arc<[u8]> = bytes.into();
    let open = move || -> std::io::Result<Box<dyn std::io::Read + Send>> {
        Ok(Box::new(std::io::Cursor::new(Arc::clone(&shared))))
    };
    let (b, rejects) = stream_from(engine, "firms.csv", Arc::new(open), all, spill);
    let settled = b.expect("the run goes through").finish().expect("settled");
    let mut out = Vec::new();
    settled.write_decisions(&mut out).expect("written");
    (out, settled.summary().to_vec(), rejects)
}

/// Property: a run whose index and decisions spill together, in key order,
/// in runs of any size (a few firms to thousands, merged on the way when
/// there are many), writes decisions.csv byte for byte as the run held in
/// memory does, with the same totals and rejects: random messy firms, keys
/// on several rows, bad rows, with and without `--all`.
#[test]
fn spilled_decisions_write_the_in_memory_bytes() {
    let engine = engine();
    let dir = std::env::temp_dir().join(format!("mianshen-spill-bytes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a spill dir");
    let mut next = below(0x9e37_79b9_7f4a_7c15);
    for seed in 1..=4u64 {
        let rows = 500 + next(4000) as u64;
        let mut text = common::generated(&policies(), rows, seed, true, 0.02 * seed as f64);
        // some rows again, later in the file: their keys on several rows
        let lines: Vec<Vec<u8>> = text
            .split(|&b| b == b'\n')
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        for _ in 0..next(20) {
            text.extend_from_slice(&lines[next(lines.len())]);
            text.push(b'\n');
        }
        for all in [false, true] {
            let plain = written(&engine, &text, all, None);
            assert!(plain.0.len() > 1000, "decisions written");
            for round in 0..4 {
                let mut k = |n: usize| (1 + next(n)) << 10;
                let memory = if round == 0 {
                    Memory {
                        decisions: 1,
                        index: 1,
                        settle: 1 << 10,
                        work: 1 << 10,
                        rejects: 1 << 10,
                    }
                } else {
                    Memory {
                        decisions: k(256),
                        index: k(64),
                        settle: k(32),
                        work: k(8),
                        rejects: k(16),
                    }
                };
                let spill = Spill {
                    dir: dir.clone(),
                    memory,
                };
                let got = written(&engine, &text, all, Some(spill));
                assert!(
                    got.0 == plain.0,
                    "seed {seed}, all {all}, {memory:?}: decisions.csv differs"
                );
                assert_eq!(got.1, plain.1, "seed {seed}, all {all}: totals differ");
                assert_eq!(got.2, plain.2, "seed {seed}, all {all}: rejects differ");
            }
        }
    }
    let left = std::fs::read_dir(&dir).expect("the spill dir").count();
    assert_eq!(left, 0, "spill files are removed");
    let _ = std::fs::remove_dir_all(dir);
}
