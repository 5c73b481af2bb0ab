//! The ledger of prior payments (LANGUAGE.md section 12): one row per
//! payment made, `key,policy,amount,paid_on` (other columns ignored), read
//! whole or not at all. A row that cannot be read stops the run: a payment
//! is never guessed away.
//!
//! Only the payments under ids the policy set names in `paid` and
//! `last_paid` are kept, grouped by firm, so `paid` is a look-up; which
//! payments count (`paid_on` on or before `as_of`) is decided when they are
//! read, so one ledger serves runs of any date.

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use super::cell::{parse_cell, shown, trim};
use super::source::{choose, decode, SNIFF};
use super::Encoding;
use crate::date::Date;
use crate::record::Cell;
use crate::schema::FieldType;

/// One payment of the ledger under an id the policy set reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Payment {
    /// Index into `Program::ledger_ids`.
    pub id: u16,
    /// Yuan, at most two decimals; negative for money clawed back (追回).
    pub amount: Decimal,
    pub paid_on: Date,
    /// The ledger's line (0 for payments given otherwise, as in test cases).
    pub line: u64,
}

/// A ledger row that cannot be read, or a ledger that is not one.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("cannot read the ledger `{}`: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the ledger `{}` is empty: it needs at least the header `key,policy,amount,paid_on`", path.display())]
    Empty { path: PathBuf },
    #[error("`{}`:1: {message}", path.display())]
    Header { path: PathBuf, message: String },
    #[error("`{}`:{line}: {message}; 台账行无法读取, a payment is never guessed away: correct the ledger and run again", path.display())]
    Row {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("the ledger `{}` has more than 65,535 policy ids the set reads", path.display())]
    TooManyIds { path: PathBuf },
}

/// The payments a run may read, by firm key.
#[derive(Debug)]
pub struct Ledger {
    by_key: HashMap<Box<str>, Firm, foldhash::fast::FixedState>,
    /// Payment rows read (all ids).
    pub rows: u64,
    /// Rows kept: under ids the set reads.
    pub kept: u64,
    /// For each of `Program::ledger_ids`: whether the ledger has a payment
    /// under it (any date).
    pub ids_found: Vec<bool>,
    /// Where it was read from, and the SHA-256 of its bytes (none for a
    /// ledger built in memory).
    pub path: Option<PathBuf>,
    pub sha256: Option<String>,
    /// The type of the data's key field: ledger keys are read by it.
    key_type: FieldType,
}

/// One firm's payments, and whether a run has looked them up.
#[derive(Debug, Default)]
struct Firm {
    payments: Vec<Payment>,
    looked_up: AtomicBool,
}

/// The columns a ledger's header must hold.
pub const COLUMNS: [&str; 4] = ["key", "policy", "amount", "paid_on"];

impl Ledger {
    /// A ledger with no payments, for a set that reads `ids` ids and whose
    /// key field has type `key_type`.
    pub fn empty(ids: usize, key_type: &FieldType) -> Ledger {
        Ledger {
            by_key: HashMap::default(),
            rows: 0,
            kept: 0,
            ids_found: vec![false; ids],
            path: None,
            sha256: None,
            key_type: key_type.clone(),
        }
    }

    /// The firm's payments under the ids the set reads (any date). Keys are
    /// compared as the data's key cells read (a text key exactly).
    pub fn payments(&self, key: &str) -> &[Payment] {
        match self.by_key.get(key) {
            Some(firm) => {
                firm.looked_up.store(true, Ordering::Relaxed);
                &firm.payments
            }
            None => &[],
        }
    }

    /// Number of firms with payments under the ids the set reads.
    pub fn firms(&self) -> usize {
        self.by_key.len()
    }

    /// Of those, how many no run has looked up: keys no data file has (or
    /// whose rows were rejected).
    pub fn firms_not_looked_up(&self) -> usize {
        self.by_key
            .values()
            .filter(|f| !f.looked_up.load(Ordering::Relaxed))
            .count()
    }

    /// Adds one payment given as text (a test case's `ledger:`, a library
    /// caller): the same rules as a ledger row.
    pub fn add(
        &mut self,
        ids: &[String],
        key: &str,
        policy: &str,
        amount: &str,
        paid_on: &str,
        line: u64,
    ) -> Result<(), String> {
        let row = read_row(key, policy, amount, paid_on)?;
        self.push(ids, row, line);
        Ok(())
    }

    fn push(&mut self, ids: &[String], (key, policy, amount, paid_on): Row<'_>, line: u64) {
        self.rows += 1;
        let Some(id) = ids.iter().position(|i| i == policy) else {
            return;
        };
        if let Some(found) = self.ids_found.get_mut(id) {
            *found = true;
        }
        self.kept += 1;
        // keys are read as the data reads the key field (an `integer` key
        // `0100` is the firm `100`); one that does not read so stays as written
        let typed: Option<String> = match &self.key_type {
            FieldType::Text => None,
            ty => parse_cell(ty, key)
                .ok()
                .and_then(|c| c.as_key().map(std::borrow::Cow::into_owned)),
        };
        let key = typed.as_deref().unwrap_or(key);
        let payment = Payment {
            id: id as u16,
            amount,
            paid_on,
            line,
        };
        // most rows are of a firm seen before: no key is allocated for them
        match self.by_key.get_mut(key) {
            Some(firm) => firm.payments.push(payment),
            None => {
                let firm = Firm {
                    payments: vec![payment],
                    looked_up: AtomicBool::new(false),
                };
                self.by_key.insert(key.into(), firm);
            }
        }
    }

    /// Reads a ledger file, keeping the payments under `ids` (the set's
    /// `Program::ledger_ids`). Encodings as data files: UTF-8 with or without
    /// a byte-order mark, or GB18030.
    pub fn read(path: &Path, ids: &[String], key_type: &FieldType) -> Result<Ledger, LedgerError> {
        if ids.len() > u16::MAX as usize {
            return Err(LedgerError::TooManyIds { path: path.into() });
        }
        let mut ledger = Ledger::empty(ids.len(), key_type);
        let file = read_rows(path, |row| {
            ledger.push(
                ids,
                (row.key, row.policy, row.amount, row.paid_on),
                row.line,
            );
            Ok(())
        })?;
        ledger.path = Some(path.into());
        ledger.sha256 = Some(file.sha256);
        Ok(ledger)
    }
}

/// One payment row of a ledger file as read: the four columns, and every
/// cell of the row (other columns included) as text.
#[derive(Debug)]
pub struct LedgerRow<'a> {
    pub key: &'a str,
    pub policy: &'a str,
    pub amount: Decimal,
    pub paid_on: Date,
    pub line: u64,
    pub cells: &'a [std::borrow::Cow<'a, str>],
    /// The header's cells.
    pub header: &'a [String],
}

/// What reading a ledger file told besides its rows.
#[derive(Clone, Debug)]
pub struct LedgerFile {
    pub sha256: String,
    /// The header's cells, as written.
    pub header: Vec<String>,
    /// Where the four columns are in a row.
    pub columns: [usize; 4],
    /// The file starts with a UTF-8 byte-order mark.
    pub bom: bool,
    pub encoding: Encoding,
    /// Payment rows read.
    pub rows: u64,
}

/// Reads a ledger file row by row, stopping at the first row that cannot be
/// read (or that `each` refuses, with its reason).
pub fn read_rows(
    path: &Path,
    mut each: impl FnMut(LedgerRow<'_>) -> Result<(), String>,
) -> Result<LedgerFile, LedgerError> {
    let unreadable = |source| LedgerError::Unreadable {
        path: path.into(),
        source,
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut head = Vec::new();
    file.take(SNIFF as u64)
        .read_to_end(&mut head)
        .map_err(unreadable)?;
    let mut encoding = choose(Encoding::Auto, &head);
    // a ledger is read whole or not at all: the whole file decides, not its
    // first bytes (a GBK ledger may start with ASCII rows for megabytes)
    if encoding == Encoding::Utf8 && !head.starts_with(b"\xEF\xBB\xBF") && head.len() >= SNIFF {
        let whole = std::fs::File::open(path).map_err(unreadable)?;
        if !is_utf8(whole).map_err(unreadable)? {
            encoding = Encoding::Gb18030;
        }
    }
    let bom = head.starts_with(b"\xEF\xBB\xBF");
    let rest = std::fs::File::open(path).map_err(unreadable)?;
    let hashed = Hashed {
        inner: BufReader::new(rest),
        hasher: Sha256::new(),
        pos: 0,
        breaks: std::collections::VecDeque::new(),
        passed: 0,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(hashed);
    let mut record = csv::ByteRecord::new();
    let mut found: Option<(Vec<String>, [usize; 4])> = None;
    let mut rows = 0;
    let mut previous_line = 0;
    loop {
        let more = reader.read_byte_record(&mut record).map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            match e.into_kind() {
                csv::ErrorKind::Io(source) => unreadable(source),
                other => LedgerError::Row {
                    path: path.into(),
                    line,
                    message: format!("not a CSV row: {other:?}"),
                },
            }
        })?;
        if !more {
            break;
        }
        // the csv reader's position of a record may sit before the end of
        // the previous line (`\r\n`) or before blank lines; the line is
        // counted back from where the record ends instead
        let end = reader.position().byte().saturating_sub(1);
        let inside: u64 = record
            .iter()
            .map(|f| memchr::memchr_iter(b'\n', f).count() as u64)
            .sum();
        // (a line break that ends an unclosed quote at the end of the file
        // is both inside and last: rows still rise from line 1)
        let line = reader
            .get_mut()
            .line_at(end)
            .saturating_sub(inside)
            .max(previous_line + 1);
        previous_line = line;
        let bad = |message: String| LedgerError::Row {
            path: path.into(),
            line,
            message,
        };
        let cells: Vec<std::borrow::Cow<'_, str>> = record
            .iter()
            .enumerate()
            .map(|(i, raw)| {
                let raw = if i == 0 && found.is_none() {
                    raw.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(raw)
                } else {
                    raw
                };
                decode(encoding, raw)
            })
            .collect::<Result<_, _>>()
            .map_err(|e| bad(e.to_string()))?;
        let Some((header, at)) = &found else {
            let cells: Vec<String> = cells.into_iter().map(|c| c.into_owned()).collect();
            let at = header(&cells).map_err(|message| LedgerError::Header {
                path: path.into(),
                message,
            })?;
            found = Some((cells, at));
            continue;
        };
        if cells.len() <= 1 && cells.iter().all(|c| trim(c).is_empty()) {
            continue; // a blank line
        }
        if cells.len() != header.len() {
            return Err(bad(format!(
                "{} cells where the header has {}",
                cells.len(),
                header.len()
            )));
        }
        let cell = |i: usize| cells.get(i).map_or("", |c| &**c);
        let (key, policy, amount, paid_on) =
            read_row(cell(at[0]), cell(at[1]), cell(at[2]), cell(at[3])).map_err(bad)?;
        rows += 1;
        each(LedgerRow {
            key,
            policy,
            amount,
            paid_on,
            line,
            cells: &cells,
            header,
        })
        .map_err(bad)?;
    }
    let Some((header, columns)) = found else {
        return Err(LedgerError::Empty { path: path.into() });
    };
    // the csv reader may stop before the last bytes (a final blank line)
    let mut hashed = reader.into_inner();
    std::io::copy(&mut hashed, &mut std::io::sink()).map_err(unreadable)?;
    Ok(LedgerFile {
        sha256: format!("{:x}", hashed.hasher.finalize()),
        header,
        columns,
        bom,
        encoding,
        rows,
    })
}

/// Key, policy id, amount and date of one payment.
type Row<'a> = (&'a str, &'a str, Decimal, Date);

fn read_row<'a>(
    key: &'a str,
    policy: &'a str,
    amount: &str,
    paid_on: &str,
) -> Result<Row<'a>, String> {
    // the key as a data file's key cell is read (blanks kept in a text
    // key: ` A2` is not the firm `A2` in a data file, nor here)
    if trim(key).is_empty() {
        return Err("the key is empty".into());
    }
    let policy = trim(policy);
    if policy.is_empty() {
        return Err("the policy id is empty".into());
    }
    let amount = match parse_cell(&FieldType::Money, amount) {
        Ok(Cell::Num(n)) => n.normalize(),
        Ok(_) => return Err("the amount is empty".into()),
        Err(e) => return Err(format!("amount: {e}")),
    };
    let paid_on = match parse_cell(&FieldType::Date, paid_on) {
        Ok(Cell::Date(d)) => d,
        Ok(_) => return Err("paid_on: the date is empty".into()),
        Err(e) => return Err(format!("paid_on: {e}")),
    };
    Ok((key, policy, amount, paid_on))
}

/// Where the four columns are; other columns are ignored.
fn header(cells: &[String]) -> Result<[usize; 4], String> {
    let mut at = [usize::MAX; 4];
    for (i, name) in cells.iter().enumerate() {
        let name = trim(name);
        if let Some(c) = COLUMNS.iter().position(|c| c.eq_ignore_ascii_case(name)) {
            if let Some(slot) = at.get_mut(c) {
                if *slot != usize::MAX {
                    return Err(format!("the column `{name}` is given twice"));
                }
                *slot = i;
            }
        }
    }
    let absent: Vec<&str> = COLUMNS
        .iter()
        .zip(at)
        .filter(|(_, i)| *i == usize::MAX)
        .map(|(c, _)| *c)
        .collect();
    if absent.is_empty() {
        return Ok(at);
    }
    let looks_like_data = absent.len() >= 3;
    Err(format!(
        "the ledger's header has no column {}; a ledger's header holds `key,policy,amount,paid_on` (found: {}){}",
        absent.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", "),
        cells.iter().take(8).map(|c| shown(trim(c)).into_owned()).collect::<Vec<_>>().join(","),
        if looks_like_data {
            ". Is this a data file given as --ledger by mistake? (这看起来是企业数据文件而不是兑付台账)"
        } else {
            ""
        }
    ))
}

/// Whether everything `r` gives is UTF-8, read in pieces.
fn is_utf8(r: impl Read) -> std::io::Result<bool> {
    let mut r = BufReader::with_capacity(1 << 16, r);
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let buf = std::io::BufRead::fill_buf(&mut r)?;
        if buf.is_empty() {
            return Ok(carry.is_empty());
        }
        let n = buf.len();
        carry.extend_from_slice(buf);
        std::io::BufRead::consume(&mut r, n);
        match std::str::from_utf8(&carry) {
            Ok(_) => carry.clear(),
            // a character cut at the end of the piece: keep its bytes
            Err(e) if e.error_len().is_none() => {
                let keep = carry.split_off(e.valid_up_to());
                carry = keep;
            }
            Err(_) => return Ok(false),
        }
    }
}

/// Hashes the bytes read through it.
struct Hashed<R> {
    inner: R,
    hasher: Sha256,
    /// Bytes read so far, and the offsets of the `\n`s read but not yet
    /// passed by [`Hashed::line_at`].
    pos: u64,
    breaks: std::collections::VecDeque<u64>,
    /// `\n`s before the offsets already asked for.
    passed: u64,
}

impl<R> Hashed<R> {
    /// The 1-based line of the file at byte `offset` (offsets asked for
    /// must not go back): whatever the line endings, blank lines counted.
    fn line_at(&mut self, offset: u64) -> u64 {
        while self.breaks.front().is_some_and(|b| *b < offset) {
            self.breaks.pop_front();
            self.passed += 1;
        }
        self.passed + 1
    }
}

impl<R: Read> Read for Hashed<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let read = buf.get(..n).unwrap_or_default();
        self.hasher.update(read);
        for i in memchr::memchr_iter(b'\n', read) {
            self.breaks.push_back(self.pos + i as u64);
        }
        self.pos += n as u64;
        Ok(n)
    }
}
