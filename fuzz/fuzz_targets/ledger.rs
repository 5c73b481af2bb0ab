//! Any bytes as a ledger of prior payments (LANGUAGE.md section 12), read by
//! `Ledger::read` as `--ledger` reads it: it never panics, and what it keeps
//! agrees with the rows themselves.
//!
//! The input is written to a file (the reader takes a path: it sniffs the
//! encoding, then streams and hashes the file) and read for a few ids: two
//! of the example ledger's, a one-letter one and a Chinese one, so that
//! short inputs can hit them. On success:
//!
//! - the counts are consistent: `kept <= rows`, `firms() <= kept`, one
//!   `ids_found` per id, and no firm looked up yet;
//! - a second pass over the same file with `read_rows` (every row as read)
//!   gives the same rows; `kept`, `ids_found`, `firms()` and each firm's
//!   payments (id, amount, date, line, in file order) follow from them;
//! - lines rise and are never 0;
//! - the same rows added as text with `Ledger::add` (a test case's
//!   `ledger:`) are accepted and give the same payments;
//! - `sha256` is the SHA-256 of the bytes.
//!
//! On failure: `read_rows` fails too, the message is not empty, and a row
//! that cannot be read is named by a line (not 0).
#![no_main]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mianshen::data::ledger::{read_rows, Ledger, LedgerError, Payment};
use mianshen::schema::FieldType;

/// The ids the set "reads".
const IDS: [&str; 4] = ["xiaojuren_2022", "shenggui_2023", "a", "政策"];

/// One file per fuzzing process, rewritten for each input.
fn path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("mianshen-fuzz-ledger-{}.csv", std::process::id()))
    })
}

/// A row as `read_rows` gave it.
struct Row {
    key: String,
    policy: String,
    payment: Payment,
    cells: Vec<String>,
}

fuzz_target!(|data: &[u8]| {
    let path = path();
    std::fs::write(path, data).expect("write the fuzz input to a temp file");
    let ids: Vec<String> = IDS.iter().map(|s| s.to_string()).collect();

    let read = Ledger::read(path, &ids, &FieldType::Text);
    let mut rows = Vec::new();
    let mut previous_line = 0;
    let pass = read_rows(path, |r| {
        // every row starts on a later line than the one before (and after
        // the header's line)
        assert!(
            r.line > previous_line.max(1),
            "lines rise: {} after {}",
            r.line,
            previous_line
        );
        previous_line = r.line;
        rows.push(Row {
            key: r.key.to_string(),
            policy: r.policy.to_string(),
            payment: Payment {
                id: IDS
                    .iter()
                    .position(|i| *i == r.policy)
                    .unwrap_or(usize::MAX) as u16,
                amount: r.amount,
                paid_on: r.paid_on,
                line: r.line,
            },
            cells: r.cells.iter().map(|c| c.to_string()).collect(),
        });
        Ok(())
    });

    let (ledger, file) = match (read, pass) {
        (Ok(l), Ok(file)) => {
            assert_eq!(file.rows, rows.len() as u64, "read_rows counts its rows");
            assert_eq!(l.sha256.as_deref(), Some(file.sha256.as_str()));
            (l, file)
        }
        (Err(e), Err(_)) => {
            let message = e.to_string();
            assert!(!message.is_empty());
            if let LedgerError::Row { line, .. } = e {
                assert!(line >= 1, "a row that cannot be read is named: {message}");
            }
            return;
        }
        (Ok(_), Err(e)) => panic!("read accepts what read_rows refuses: {e}"),
        (Err(e), Ok(_)) => panic!("read refuses what read_rows accepts: {e}"),
    };

    // the counts
    assert!(
        ledger.kept <= ledger.rows,
        "kept {} of {} rows",
        ledger.kept,
        ledger.rows
    );
    assert_eq!(ledger.rows, rows.len() as u64);
    assert_eq!(ledger.ids_found.len(), IDS.len());
    assert!(ledger.firms() as u64 <= ledger.kept);
    assert_eq!(
        ledger.firms_not_looked_up(),
        ledger.firms(),
        "no firm looked up yet"
    );
    assert_eq!(
        ledger.sha256.as_deref(),
        Some(mianshen::load::sha256_hex(data).as_str()),
        "the SHA-256 of the bytes"
    );
    assert_eq!(ledger.path.as_ref(), Some(path));

    // what was kept follows from the rows
    let kept: Vec<&Row> = rows
        .iter()
        .filter(|r| usize::from(r.payment.id) < IDS.len())
        .collect();
    assert_eq!(ledger.kept, kept.len() as u64);
    for (i, id) in IDS.iter().enumerate() {
        assert_eq!(
            ledger.ids_found[i],
            rows.iter().any(|r| r.policy == *id),
            "ids_found for `{id}`"
        );
    }
    let mut by_key: BTreeMap<&str, Vec<Payment>> = BTreeMap::new();
    for r in &kept {
        assert!(!r.key.is_empty() && !r.policy.is_empty());
        by_key.entry(&r.key).or_default().push(r.payment);
    }
    assert_eq!(ledger.firms(), by_key.len());
    for (key, payments) in &by_key {
        assert_eq!(ledger.payments(key), &payments[..], "payments of `{key}`");
    }
    assert_eq!(ledger.firms_not_looked_up(), 0, "every firm looked up");
    assert!(ledger.payments("\u{0}no such key").is_empty());

    // the same rows as text, as a test case gives them
    let [k, p, a, d] = file.columns;
    let mut added = Ledger::empty(IDS.len(), &FieldType::Text);
    for r in &rows {
        let cell = |i: usize| r.cells.get(i).map_or("", String::as_str);
        if let Err(e) = added.add(&ids, cell(k), cell(p), cell(a), cell(d), r.payment.line) {
            panic!(
                "line {}: the file reads it, add refuses it: {e}",
                r.payment.line
            );
        }
    }
    assert_eq!((added.rows, added.kept), (ledger.rows, ledger.kept));
    assert_eq!(added.ids_found, ledger.ids_found);
    for (key, payments) in &by_key {
        assert_eq!(
            added.payments(key),
            &payments[..],
            "added payments of `{key}`"
        );
    }
});
