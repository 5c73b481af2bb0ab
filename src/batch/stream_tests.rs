//! Property: a data file streamed by one worker (each chunk read, parsed,
//! evaluated and added before the next is read) gives what the plain way
//! gives (batches read while the batch before is parsed and evaluated in
//! parallel chunks): random rows of the example firms with messy values,
//! missing and empty cells, short and long rows, bad cells, repeated keys,
//! rows without a key, blank lines and a quote left open at the end, as
//! CSV or JSON Lines, with and without `--all`, a tiny memory on some.

use std::path::{Path, PathBuf};

use super::*;
use crate::data::stream::Stream;
use crate::data::ReadOptions;
use crate::test_rng::Rng;

/// In `0..n` (0 when `n` is 0).
fn below(rng: &mut Rng, n: usize) -> usize {
    rng.below(n as u64) as usize
}

/// The example firms as cells, the header first.
fn example_rows() -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path("policies/data/firms.csv")
        .expect("the example firms");
    reader
        .records()
        .map(|r| r.expect("a row").iter().map(String::from).collect())
        .collect()
}

/// Values that read oddly or not at all in some field.
const MESSY: [&str; 24] = [
    "",
    " ",
    "  12 ",
    "1,234.5",
    "12万",
    "3.5亿元",
    "-7",
    "0.5%",
    "1e5",
    "abc",
    "不是数#",
    "N/A",
    "—",
    "是",
    "否",
    "TRUE",
    "2024-02-30",
    "2024/1/1",
    "20240101",
    "１２３",
    "a,b",
    "two\nlines",
    "\"quoted\"",
    "99999999999999999999999999999999",
];

/// `n` random firms built from the example's rows: each cell the cell of
/// its column in a random row, some then made messy, some rows cut short or
/// made long, some keys repeated or left empty.
fn random_rows(rng: &mut Rng, example: &[Vec<String>], n: usize) -> Vec<Vec<String>> {
    let Some((header, rows)) = example.split_first() else {
        panic!("no example firms");
    };
    let width = header.len();
    let mut out: Vec<Vec<String>> = Vec::with_capacity(n);
    for i in 0..n {
        let mut row: Vec<String> = (0..width)
            .map(|c| {
                let from = rows.get(below(rng, rows.len()));
                from.and_then(|r| r.get(c)).cloned().unwrap_or_default()
            })
            .collect();
        // keys of their own, mostly: a key twice rejects both rows
        if let Some(k) = row.first_mut() {
            *k = format!("91420100MA4K{:06}", i);
        }
        for _ in 0..below(rng, 4) {
            let c = below(rng, width);
            if let Some(cell) = row.get_mut(c) {
                *cell = MESSY
                    .get(below(rng, MESSY.len()))
                    .copied()
                    .unwrap_or_default()
                    .to_string();
            }
        }
        match below(rng, 40) {
            0 => row.truncate(below(rng, width)),
            1 => row.push("extra".into()),
            2 => {
                if let Some(k) = row.first_mut() {
                    k.clear();
                }
            }
            3 if !out.is_empty() => {
                let j = below(rng, out.len());
                let key = out.get(j).and_then(|r| r.first()).cloned();
                if let (Some(k), Some(key)) = (row.first_mut(), key) {
                    *k = key;
                }
            }
            _ => {}
        }
        out.push(row);
    }
    out
}

/// The rows written as CSV (blank lines among them, a quote left open at
/// the end on some) or as JSON Lines (cells left out, a key of no field).
fn write(rng: &mut Rng, path: &Path, header: &[String], rows: &[Vec<String>], json: bool) {
    let mut text = Vec::new();
    if json {
        for row in rows {
            let mut object = serde_json::Map::new();
            for (name, cell) in header.iter().zip(row) {
                if below(rng, 30) != 0 {
                    object.insert(name.clone(), serde_json::Value::String(cell.clone()));
                }
            }
            if below(rng, 50) == 0 {
                object.insert("not_a_field".into(), serde_json::Value::from(1));
            }
            text.extend_from_slice(serde_json::Value::Object(object).to_string().as_bytes());
            text.push(b'\n');
            if below(rng, 100) == 0 {
                text.extend_from_slice(b"\n");
            }
        }
    } else {
        let mut w = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(Vec::new());
        w.write_record(header).expect("a header");
        for row in rows {
            w.write_record(row).expect("a row");
            if below(rng, 100) == 0 {
                w.write_record([""]).expect("a blank line");
            }
        }
        text = w.into_inner().expect("written");
        if below(rng, 4) == 0 {
            text.extend_from_slice(b"91420100MA4K999999,\"never closed\n");
        }
    }
    std::fs::write(path, text).expect("written");
}

/// Everything a run over `path` on `threads` workers gives, as text.
fn run(program: &Program, path: &Path, threads: usize, all: bool, spill: Option<Spill>) -> String {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a pool");
    pool.install(|| {
        assert_eq!(rayon::current_num_threads(), threads);
        let mut data = Stream::open_path(path, &program.schema, &ReadOptions::default())
            .expect("the data opens");
        let opts = RunOptions {
            as_of: crate::date::Date::parse_iso("2024-12-31").expect("a date"),
            all,
            ledger: None,
            profile: None,
        };
        let mut rejects = Vec::new();
        let mut progress = Vec::new();
        let batch = stream(
            program,
            &mut data,
            opts,
            spill,
            |r| {
                rejects.push(r.clone());
                Ok(())
            },
            |at| progress.push(at),
        )
        .expect("a run");
        // progress rises, and ends at the end of the file
        assert!(progress.is_sorted(), "{progress:?}");
        if let Some(&last) = progress.last() {
            assert_eq!(last, data.position());
        }
        let settled = batch.finish().expect("settled");
        let info = data.info();
        format!(
            "{:?}\n{:?}\n{rejects:?}\n{:?} {} {:?} {:?}",
            settled.firms().expect("firms"),
            settled.summary(),
            info.rows,
            info.sha256,
            info.unknown_columns,
            info.odd,
        )
    })
}

#[test]
fn one_worker_streams_as_the_plain_way_does() {
    let program = crate::load::PolicySet::load(Path::new("policies"))
        .expect("the example set")
        .program;
    let dir: PathBuf =
        std::env::temp_dir().join(format!("mianshen-one-worker-{}", std::process::id()));
    let spill_dir = dir.join("spill");
    std::fs::create_dir_all(&spill_dir).expect("a folder");
    let example = example_rows();
    let header = example.first().cloned().unwrap_or_default();
    let (mut rejected, mut decided) = (0, 0);
    for seed in 1..=24u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        // past a read batch once; else a few chunks, or none
        let n = match seed {
            1 => ROWS_PER_BATCH + records::CHUNK + 17,
            2 => 0,
            _ => below(&mut rng, 4 * records::CHUNK),
        };
        let rows = random_rows(&mut rng, &example, n);
        let json = seed % 4 == 3;
        let path = dir.join(if json { "firms.jsonl" } else { "firms.csv" });
        write(&mut rng, &path, &header, &rows, json);
        let all = seed % 2 == 0;
        let spill = (seed % 3 == 0).then(|| Spill {
            dir: spill_dir.clone(),
            memory: Memory::within(1 << 16),
        });
        let plain = run(&program, &path, 2, all, spill.clone());
        let one = run(&program, &path, 1, all, spill);
        assert!(
            one == plain,
            "seed {seed}: one worker differs from the plain way"
        );
        rejected += usize::from(plain.contains("Reject"));
        decided += usize::from(plain.contains("Eligible"));
    }
    assert!(rejected > 15 && decided > 15, "{rejected} {decided}");
    let _ = std::fs::remove_dir_all(dir);
}
