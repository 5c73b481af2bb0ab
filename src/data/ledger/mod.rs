//! The ledger of prior payments (LANGUAGE.md section 12): one row per
//! payment made, `key,policy,amount,paid_on` (other columns ignored), read
//! whole or not at all. A row that cannot be read stops the run: a payment
//! is never guessed away.
//!
//! Only the payments under ids the policy set names in `paid` and
//! `last_paid` are kept, grouped by firm, so `paid` is a look-up; which
//! payments count (`paid_on` on or before `as_of`) is decided when they are
//! read, so one ledger serves runs of any date.

mod digest;
mod firms;
mod plain;

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use super::cell::{parse_cell, shown, trim};
use super::source::{decode, SNIFF};
use super::Encoding;
use crate::date::Date;
use crate::record::Cell;
use crate::schema::FieldType;
pub use digest::{row_print, RowPrint, RowsDigest};
use firms::{Part, PARTS};

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
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LedgerError {
    #[error("无法读取兑付台账 `{}` (cannot read the ledger): {source}", path.display())]
    #[diagnostic(code(mianshen::ledger::unreadable))]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("兑付台账 `{}` 是空的: 至少要有表头 `key,policy,amount,paid_on` (the ledger is empty: it needs at least the header)", path.display())]
    #[diagnostic(code(mianshen::ledger::empty))]
    Empty { path: PathBuf },
    #[error("`{}`:1: {message}", path.display())]
    #[diagnostic(code(mianshen::ledger::header))]
    Header { path: PathBuf, message: String },
    #[error("`{}`:{line}: {message}; 台账行无法读取, 兑付记录不作猜测: 请更正台账后重新运行 (a payment is never guessed away: correct the ledger and run again)", path.display())]
    #[diagnostic(code(mianshen::ledger::row))]
    Row {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("兑付台账 `{}` 中本政策集要读的政策编号超过 65,535 个 (the ledger has more than 65,535 policy ids the set reads)", path.display())]
    #[diagnostic(code(mianshen::ledger::too_many_ids))]
    TooManyIds { path: PathBuf },
}

/// The payments a run may read, by firm key.
///
/// Held flat (module `firms`): every kept payment in one vector per part of the
/// firms, grouped by firm (in the ledger's order within a firm), each firm
/// a span of it, found by key.
#[derive(Debug)]
pub struct Ledger {
    /// The firms, by their key's hash ([`firms::part_of`]).
    parts: Vec<Part>,
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
    /// The digest of every payment row read ([`RowsDigest`]), for `verify`
    /// to tell rows added since from rows changed.
    pub rows_digest: RowsDigest,
    /// Kept payments whose key has blanks before or after it (` B002 `):
    /// how many, and the first one's line and key. A text key is compared
    /// as written, so such a payment counts only for a firm whose key is
    /// written the same way; the run warns.
    pub padded_keys: (u64, Option<(u64, String)>),
    /// The type of the data's key field: ledger keys are read by it.
    key_type: FieldType,
}

/// The most payments a ledger may hold under the ids a set reads (they are
/// counted in 32 bits).
const MAX_PAYMENTS: u64 = u32::MAX as u64;

fn too_many() -> String {
    format!("台账中本政策集要读的兑付记录超过 {MAX_PAYMENTS} 条 (the ledger holds more than {MAX_PAYMENTS} payments under the ids the set reads)")
}

/// The columns a ledger's header must hold.
pub const COLUMNS: [&str; 4] = ["key", "policy", "amount", "paid_on"];

impl Ledger {
    /// A ledger with no payments, for a set that reads `ids` ids and whose
    /// key field has type `key_type`.
    pub fn empty(ids: usize, key_type: &FieldType) -> Ledger {
        Ledger {
            parts: (0..PARTS).map(|_| Part::default()).collect(),
            rows: 0,
            kept: 0,
            ids_found: vec![false; ids],
            path: None,
            sha256: None,
            rows_digest: RowsDigest::default(),
            padded_keys: (0, None),
            key_type: key_type.clone(),
        }
    }

    /// The firm's payments under the ids the set reads (any date), in the
    /// ledger's order. Keys are compared as the data's key cells read (a
    /// text key exactly).
    pub fn payments(&self, key: &str) -> &[Payment] {
        let hash = firms::hash(key.as_bytes());
        self.parts
            .get(firms::part_of(hash))
            .and_then(|p| p.payments(hash, key))
            .unwrap_or(&[])
    }

    /// The payments of each of `keys`, as [`Ledger::payments`] gives them:
    /// the keys' hashes first, then the look-ups one after another, each
    /// reading its first payment, so that the memory reads of one overlap
    /// those of the next (evaluating a firm, far from the next, overlaps
    /// nothing).
    pub fn payments_of_all<K: AsRef<str>>(&self, keys: &[K]) -> Vec<&[Payment]> {
        let hashes: Vec<u64> = keys
            .iter()
            .map(|k| firms::hash(k.as_ref().as_bytes()))
            .collect();
        keys.iter()
            .zip(hashes)
            .map(|(key, hash)| {
                let payments = self
                    .parts
                    .get(firms::part_of(hash))
                    .and_then(|p| p.payments(hash, key.as_ref()))
                    .unwrap_or(&[]);
                std::hint::black_box(payments.first().map(|p| p.id));
                payments
            })
            .collect()
    }

    /// About how many bytes the ledger holds in memory: its payments, its
    /// firms' keys, spans and flags, and the key tables.
    /// The kept payments dated after `as_of`, which do not count for a run
    /// of that date: how many, the first one's line, and the indices into
    /// `Program::ledger_ids` they are under (in order).
    pub fn dated_after(&self, as_of: Date) -> (u64, Option<u64>, Vec<u16>) {
        let mut ids = std::collections::BTreeSet::new();
        let (mut n, mut first) = (0, None::<u64>);
        for p in self.parts.iter().flat_map(|p| p.all_payments()) {
            if p.paid_on > as_of {
                n += 1;
                first = Some(first.map_or(p.line, |f| f.min(p.line)));
                ids.insert(p.id);
            }
        }
        (n, first, ids.into_iter().collect())
    }

    /// The firms whose key `bad` finds fault with (the key field's check):
    /// how many, and the one whose first payment comes first (its line and
    /// key, and what is wrong with it). Such a key matches no firm of data
    /// whose key passes the check, so its payments count for none.
    pub fn bad_keys(
        &self,
        bad: impl Fn(&str) -> Option<String>,
    ) -> (u64, Option<(u64, String, String)>) {
        let mut n = 0;
        let mut first: Option<(u64, String, String)> = None;
        for (key, payments) in self.parts.iter().flat_map(|p| p.firms_and_payments()) {
            let Some(why) = bad(key) else { continue };
            n += 1;
            let line = payments.iter().map(|p| p.line).min().unwrap_or(0);
            if first
                .as_ref()
                .is_none_or(|(l, k, _)| (line, key) < (*l, k.as_str()))
            {
                first = Some((line, key.to_string(), why));
            }
        }
        (n, first)
    }

    pub fn heap_bytes(&self) -> usize {
        self.parts.capacity() * std::mem::size_of::<Part>()
            + self.parts.iter().map(Part::heap_bytes).sum::<usize>()
    }

    /// Number of firms with payments under the ids the set reads.
    pub fn firms(&self) -> usize {
        self.parts.iter().map(Part::firms).sum()
    }

    /// Of those, how many no run has looked up: keys no data file has (or
    /// whose rows were rejected).
    pub fn firms_not_looked_up(&self) -> usize {
        self.parts.iter().map(Part::firms_not_looked_up).sum()
    }

    /// A ledger to be given its payments one by one as text (a test case's
    /// `ledger:`, a library caller's), by the rules of a ledger row:
    /// [`Adding::add`] each, then [`Adding::finish`].
    pub fn adding(ids: usize, key_type: &FieldType) -> Adding {
        Adding {
            ledger: Ledger::empty(ids, key_type),
        }
    }

    /// Reads a ledger file, keeping the payments under `ids` (the set's
    /// `Program::ledger_ids`). Encodings as data files: UTF-8 with or without
    /// a byte-order mark, or GB18030.
    ///
    /// Each batch of rows is read on all cores, then filed into the parts
    /// of the firms on all cores; the first row that cannot be read, in the
    /// file's order, stops it.
    pub fn read(path: &Path, ids: &[String], key_type: &FieldType) -> Result<Ledger, LedgerError> {
        if ids.len() > u16::MAX as usize {
            return Err(LedgerError::TooManyIds { path: path.into() });
        }
        // whether the file is UTF-8 throughout is checked while it is read
        // (the check alone takes a tenth of the reading, on one core); a
        // file with quotes is read by the CSV reader
        let mut check = Check::Beside;
        let mut by_lines = true;
        loop {
            let read = if by_lines {
                plain::read(path, ids, key_type, check)
            } else {
                Ledger::read_checked(path, ids, key_type, check)
            };
            match read {
                Err(Reread::NotUtf8) if check == Check::Beside => check = Check::NotUtf8,
                Err(Reread::Quoted) if by_lines => by_lines = false,
                read => return read.map_err(|e| e.into_error(path)),
            }
        }
    }

    fn read_checked(
        path: &Path,
        ids: &[String],
        key_type: &FieldType,
        check: Check,
    ) -> Result<Ledger, Reread> {
        use rayon::prelude::*;
        let mut ledger = Ledger::empty(ids.len(), key_type);
        let places = places(ids);
        let mut filing = Filing::default();
        let file = read_records(path, check, |batch, encoding, header, at| {
            let read: Vec<PaymentRow> = batch
                .par_iter()
                .map(|r| read_payment(encoding, r, header.len(), at, key_type, &places))
                .collect();
            ledger.file_rows(path, &[&read], &mut filing)
        })?;
        ledger.finish(path, file.sha256)?;
        Ok(ledger)
    }

    /// Files a batch of rows read (in pieces, one after another), in the
    /// file's order, into the parts on all cores; the first row that cannot
    /// be read, or kept, stops it.
    fn file_rows(
        &mut self,
        path: &Path,
        read: &[&[PaymentRow]],
        filing: &mut Filing,
    ) -> Result<(), LedgerError> {
        use rayon::prelude::*;
        let by_part = &mut filing.by_part;
        by_part.iter_mut().for_each(Vec::clear);
        by_part.resize_with(PARTS, Vec::new);
        // the rows before the first that cannot be read are filed first:
        // a part that cannot hold one of them names an earlier line
        let mut stop: Option<(u64, String)> = None;
        'pieces: for (p, piece) in read.iter().enumerate() {
            for (i, row) in piece.iter().enumerate() {
                match row {
                    PaymentRow::Blank => {}
                    PaymentRow::Bad(line, message) => {
                        stop = Some((*line, message.clone()));
                        break 'pieces;
                    }
                    PaymentRow::Other(print) => {
                        self.rows += 1;
                        self.rows_digest.add(print);
                    }
                    PaymentRow::Kept {
                        hash,
                        payment,
                        print,
                        key,
                    } => {
                        self.rows += 1;
                        self.rows_digest.add(print);
                        if self.kept >= MAX_PAYMENTS {
                            stop = Some((payment.line, too_many()));
                            break 'pieces;
                        }
                        self.kept += 1;
                        if key.starts_with(char::is_whitespace)
                            || key.ends_with(char::is_whitespace)
                        {
                            let (n, first) = &mut self.padded_keys;
                            *n += 1;
                            first.get_or_insert_with(|| (payment.line, key.to_string()));
                        }
                        if let Some(found) = self.ids_found.get_mut(payment.id as usize) {
                            *found = true;
                        }
                        if let Some(rows) = by_part.get_mut(firms::part_of(*hash)) {
                            rows.push(((p as u64) << 32) | i as u64);
                        }
                    }
                }
            }
        }
        // each part files its rows in order and stops at one it cannot
        // hold: the first such row in the file's order is named
        let full = self
            .parts
            .par_iter_mut()
            .zip(&*by_part)
            .filter_map(|(part, rows)| {
                rows.iter().find_map(|&at| {
                    let row = read
                        .get((at >> 32) as usize)
                        .and_then(|piece| piece.get(at as u32 as usize));
                    match row {
                        Some(PaymentRow::Kept {
                            hash, key, payment, ..
                        }) => part
                            .file(*hash, key, *payment)
                            .err()
                            .map(|(line, e)| (line, e.to_string())),
                        _ => None,
                    }
                })
            })
            .min_by_key(|(line, _)| *line);
        match full.or(stop) {
            Some((line, message)) => Err(LedgerError::Row {
                path: path.into(),
                line,
                message,
            }),
            None => Ok(()),
        }
    }

    /// Groups each part's payments by firm once every row is filed, on all
    /// cores; a part that cannot hold a row names the first such line.
    fn group(&mut self) -> Result<(), firms::FullAt> {
        use rayon::prelude::*;
        match self
            .parts
            .par_iter_mut()
            .filter_map(|p| p.finish().err())
            .min_by_key(|(line, _)| *line)
        {
            Some(full) => Err(full),
            None => Ok(()),
        }
    }

    /// A file's rows grouped ([`Ledger::group`]), and the file named.
    fn finish(&mut self, path: &Path, sha256: String) -> Result<(), LedgerError> {
        if let Err((line, full)) = self.group() {
            return Err(LedgerError::Row {
                path: path.into(),
                line,
                message: full.to_string(),
            });
        }
        self.path = Some(path.into());
        self.sha256 = Some(sha256);
        Ok(())
    }
}

/// A ledger being given its payments one by one ([`Ledger::adding`]): they
/// are filed as a file's rows are, and grouped by firm once, when
/// [`Adding::finish`] makes the ledger (no payment moved at each call).
pub struct Adding {
    ledger: Ledger,
}

impl Adding {
    /// Adds one payment given as text: the same rules as a ledger row;
    /// `line` is what the payment is told by (0 where there is none).
    pub fn add(
        &mut self,
        ids: &[String],
        key: &str,
        policy: &str,
        amount: &str,
        paid_on: &str,
        line: u64,
    ) -> Result<(), String> {
        let ledger = &mut self.ledger;
        let (key, policy, amount, paid_on) = read_row(key, policy, amount, paid_on)?;
        if ledger.kept >= MAX_PAYMENTS {
            return Err(too_many());
        }
        ledger.rows += 1;
        let Some(id) = ids.iter().position(|i| i == policy) else {
            return Ok(());
        };
        if let Some(found) = ledger.ids_found.get_mut(id) {
            *found = true;
        }
        ledger.kept += 1;
        let key = typed_key(&ledger.key_type, Cow::Borrowed(key));
        let hash = firms::hash(key.as_bytes());
        let payment = Payment {
            id: id as u16,
            amount,
            paid_on,
            line,
        };
        match ledger.parts.get_mut(firms::part_of(hash)) {
            Some(part) => part
                .file(hash, &compact_str::CompactString::new(&key), payment)
                .map_err(|(_, e)| e.to_string()),
            None => Ok(()),
        }
    }

    /// The ledger of the payments added, each firm's in the order added.
    pub fn finish(mut self) -> Result<Ledger, String> {
        match self.ledger.group() {
            Err((_, full)) => Err(full.to_string()),
            Ok(()) => Ok(self.ledger),
        }
    }
}

/// What filing rows reuses from one batch to the next: each batch's kept
/// rows (piece and place in it), by part.
#[derive(Default)]
struct Filing {
    by_part: Vec<Vec<u64>>,
}

/// Each of the ids the set reads (`Program::ledger_ids`) with its place,
/// found by hashing; an id given twice keeps its first place.
fn places(ids: &[String]) -> Places<'_> {
    let mut places = Places::default();
    for (i, id) in ids.iter().enumerate() {
        places.entry(id.as_str()).or_insert(i as u16);
    }
    places
}

/// A key read as the data reads the key field (an `integer` key `0100` is
/// the firm `100`); one that does not read so stays as written.
fn typed_key<'a>(key_type: &FieldType, key: Cow<'a, str>) -> Cow<'a, str> {
    match key_type {
        FieldType::Text => key,
        ty => match parse_cell(ty, &key)
            .ok()
            .and_then(|c| c.as_key().map(Cow::into_owned))
        {
            Some(typed) => Cow::Owned(typed),
            None => key,
        },
    }
}

/// A ledger row as [`Ledger::read`] reads it.
enum PaymentRow {
    Blank,
    /// The row's line, and why it cannot be read.
    Bad(u64, String),
    /// A payment under an id the set does not read, and its print.
    Other(RowPrint),
    /// A payment kept: its firm's key (as the data reads it) and its hash.
    /// The key is copied out of the file's bytes while the row is read
    /// (inline up to 24 bytes): filed later, on another core, it would be
    /// a cache miss a row there.
    Kept {
        key: compact_str::CompactString,
        hash: u64,
        payment: Payment,
        print: RowPrint,
    },
}

/// Reads a record as a payment of the ledger, for ids `places`.
fn read_payment(
    encoding: Encoding,
    r: &Numbered,
    columns: usize,
    at: &[usize; 4],
    key_type: &FieldType,
    places: &Places<'_>,
) -> PaymentRow {
    let parsed = parse_record(encoding, &r.record, columns, at, false);
    payment_of(parsed, r.line, key_type, places)
}

/// The ids the set reads, each with its place among them.
type Places<'i> = HashMap<&'i str, u16, foldhash::fast::FixedState>;

/// A record parsed ([`parse_cells`]) as a payment of the ledger's line
/// `line`, for ids `places`.
fn payment_of(
    parsed: Parsed<'_>,
    line: u64,
    key_type: &FieldType,
    places: &Places<'_>,
) -> PaymentRow {
    let (four, amount, paid_on) = match parsed {
        Parsed::Blank => return PaymentRow::Blank,
        Parsed::Bad(message) => return PaymentRow::Bad(line, message),
        Parsed::Row {
            four,
            amount,
            paid_on,
            ..
        } => (four, amount, paid_on),
    };
    let print = row_print(&four);
    let [key, policy, ..] = four;
    let Some(&id) = places.get(trim(&policy)) else {
        return PaymentRow::Other(print);
    };
    let key = typed_key(key_type, key);
    PaymentRow::Kept {
        hash: firms::hash(key.as_bytes()),
        key: compact_str::CompactString::new(&key),
        payment: Payment {
            id,
            amount,
            paid_on,
            line,
        },
        print,
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
    /// The four columns' cells as decoded, untrimmed (what
    /// [`row_print`] prints).
    pub four: &'a [Cow<'a, str>; 4],
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

/// The digest ([`RowsDigest`]) of a ledger file's first `rows` payment
/// rows, as a run that read them recorded it (`None` when the file now has
/// fewer), and how many payment rows the file has.
pub fn rows_digest(path: &Path, rows: u64) -> Result<(Option<String>, u64), LedgerError> {
    let mut digest = RowsDigest::default();
    let file = read_rows(path, |row| {
        if digest.rows() < rows {
            digest.add(&row_print(row.four));
        }
        Ok(())
    })?;
    Ok(((digest.rows() == rows).then(|| digest.hex()), file.rows))
}

/// Reads a ledger file row by row, stopping at the first row that cannot be
/// read (or that `each` refuses, with its reason).
pub fn read_rows(
    path: &Path,
    mut each: impl FnMut(LedgerRow<'_>) -> Result<(), String>,
) -> Result<LedgerFile, LedgerError> {
    use rayon::prelude::*;
    let mut rows = 0;
    let mut file = read_records(path, Check::Before, |batch, encoding, header, at| {
        let parsed: Vec<Parsed<'_>> = batch
            .par_iter()
            .map(|r| parse_record(encoding, &r.record, header.len(), at, true))
            .collect();
        for (r, parsed) in batch.iter().zip(parsed) {
            let bad = |message: String| LedgerError::Row {
                path: path.into(),
                line: r.line,
                message,
            };
            let (four, amount, paid_on, cells) = match parsed {
                Parsed::Blank => continue,
                Parsed::Bad(message) => return Err(bad(message)),
                Parsed::Row {
                    four,
                    amount,
                    paid_on,
                    cells,
                } => (four, amount, paid_on, cells),
            };
            let [key, policy, ..] = &four;
            let (key, policy) = key_and_policy(key, policy).map_err(bad)?;
            rows += 1;
            each(LedgerRow {
                key,
                policy,
                amount,
                paid_on,
                four: &four,
                line: r.line,
                cells: &cells,
                header,
            })
            .map_err(bad)?;
        }
        Ok(())
    })
    .map_err(|e| e.into_error(path))?;
    file.rows = rows;
    Ok(file)
}

/// Reads a ledger file's header, then hands its other records to `each` a
/// batch at a time, with the encoding, the header's cells and where the four
/// columns are in a row; stops at the first error (`each`'s, or a record that
/// is not CSV after the records before it). Every row is counted by `each`:
/// the file's `rows` is 0.
fn read_records(
    path: &Path,
    check: Check,
    mut each: impl FnMut(&[Numbered], Encoding, &[String], &[usize; 4]) -> Result<(), LedgerError>,
) -> Result<LedgerFile, Reread> {
    let unreadable = |source| LedgerError::Unreadable {
        path: path.into(),
        source,
    };
    let (encoding, beside, bom) = encoding_of(path, check)?;
    let rest = std::fs::File::open(path).map_err(unreadable)?;
    let hashed = Hashed {
        inner: BufReader::new(rest),
        hasher: Sha256::new(),
        pos: 0,
        breaks: std::collections::VecDeque::new(),
        passed: 0,
    };
    let reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(hashed);
    // one thread reads, hashes and splits the file into records while this
    // one hands them on: the rows come in order all the same
    let (send, batches) = std::sync::mpsc::sync_channel::<Result<Vec<Numbered>, LedgerError>>(4);
    // batches read are handed back, so that their records' buffers are reused
    let (give_back, recycled) = std::sync::mpsc::sync_channel::<Vec<Numbered>>(4);
    let mut found: Option<(Vec<String>, [usize; 4])> = None;
    let (read, sha256, whole) = std::thread::scope(|scope| {
        let whole = beside.then(|| scope.spawn(|| std::fs::File::open(path).and_then(is_utf8)));
        let producer = scope.spawn(|| records(reader, path, send, recycled));
        let read = (|| -> Result<(), LedgerError> {
            for batch in batches.iter() {
                let batch = batch?;
                let mut rest: &[Numbered] = &batch;
                if found.is_none() {
                    let Some((first, after)) = rest.split_first() else {
                        continue;
                    };
                    rest = after;
                    let bad = |message: String| LedgerError::Row {
                        path: path.into(),
                        line: first.line,
                        message,
                    };
                    let cells = header_cells(encoding, first.record.iter())
                        .map_err(|e| bad(e.to_string()))?;
                    let at = header(&cells).map_err(|message| LedgerError::Header {
                        path: path.into(),
                        message,
                    })?;
                    found = Some((cells, at));
                }
                let Some((header, at)) = &found else {
                    continue;
                };
                each(rest, encoding, header, at)?;
                let _ = give_back.try_send(batch);
            }
            Ok(())
        })();
        // a row refused: the reader stops at its next batch
        drop(batches);
        let failed = || std::io::Error::other("the ledger reader failed");
        let sha256 = producer
            .join()
            .unwrap_or_else(|_| Err(unreadable(failed())));
        let whole = whole.map(|w| w.join().unwrap_or_else(|_| Err(failed())));
        (read, sha256, whole)
    });
    // the whole file checked beside the reading decides as it would have
    // before it: a file that cannot be read, or one to read again as GB18030
    match whole {
        Some(Err(e)) => return Err(unreadable(e).into()),
        Some(Ok(false)) => return Err(Reread::NotUtf8),
        _ => {}
    }
    read?;
    let sha256 = sha256?;
    let Some((header, columns)) = found else {
        return Err(LedgerError::Empty { path: path.into() }.into());
    };
    Ok(LedgerFile {
        sha256,
        header,
        columns,
        bom,
        encoding,
        rows: 0,
    })
}

/// A ledger file's encoding, whether it is still to be checked to be UTF-8
/// throughout beside the reading ([`Check::Beside`]), and whether it starts
/// with a byte-order mark.
fn encoding_of(path: &Path, check: Check) -> Result<(Encoding, bool, bool), LedgerError> {
    let unreadable = |source| LedgerError::Unreadable {
        path: path.into(),
        source,
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    // the first bytes, as `choose` reads them, read a piece at a time: a
    // buffer of megabytes freed before the ledger is read would have every
    // allocation below its size come from the heap after it, where the
    // ledger's growing vectors leave holes (glibc's dynamic threshold)
    let head = sniff(file.take(SNIFF as u64)).map_err(unreadable)?;
    let mut encoding = match head.utf8 {
        true => Encoding::Utf8,
        false => Encoding::Gb18030,
    };
    // a ledger is read whole or not at all: the whole file decides, not its
    // first bytes (a GBK ledger may start with ASCII rows for megabytes)
    let mut beside = false;
    let bom = head.bom;
    if encoding == Encoding::Utf8 && !bom && head.len >= SNIFF {
        match check {
            Check::Before => {
                let whole = std::fs::File::open(path).map_err(unreadable)?;
                if !is_utf8(whole).map_err(unreadable)? {
                    encoding = Encoding::Gb18030;
                }
            }
            Check::Beside => beside = true,
            Check::NotUtf8 => encoding = Encoding::Gb18030,
        }
    }
    Ok((encoding, beside, bom))
}

/// How [`read_records`] settles whether a file without a byte-order mark
/// that starts as UTF-8 is UTF-8 throughout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    /// The whole file is checked before it is read.
    Before,
    /// It is checked beside the reading, on a thread of its own; when it is
    /// not UTF-8, what was read is to be thrown away and the file read again
    /// ([`Reread::NotUtf8`]).
    Beside,
    /// It was found not to be: it is read as GB18030.
    NotUtf8,
}

/// Why [`read_records`] stopped.
#[derive(Debug)]
enum Reread {
    Error(LedgerError),
    /// Read with [`Check::Beside`], the file is not UTF-8 throughout: read
    /// it again with [`Check::NotUtf8`].
    NotUtf8,
    /// Read by lines ([`plain`]), the file has a quote or a lone `\r`: read
    /// it with the CSV reader.
    Quoted,
}

impl Reread {
    /// The error to give: a file read again is never read a third time.
    fn into_error(self, path: &Path) -> LedgerError {
        match self {
            Reread::Error(e) => e,
            Reread::NotUtf8 | Reread::Quoted => LedgerError::Unreadable {
                path: path.into(),
                source: std::io::Error::other(
                    "the ledger changed while it was read (台账在读取过程中被修改)",
                ),
            },
        }
    }
}

impl From<LedgerError> for Reread {
    fn from(e: LedgerError) -> Reread {
        Reread::Error(e)
    }
}

/// A record as the CSV reader gave it, with the line of the file it starts on.
struct Numbered {
    line: u64,
    record: csv::ByteRecord,
}

/// Records handed from the reading thread at a time.
const BATCH: usize = 4096;

/// Reads the file's records in batches into `send`, each with its line,
/// stopping at the first that is not CSV (sent as the error) or when the
/// receiver has gone; the SHA-256 of the whole file when it was read to the
/// end.
fn records(
    mut reader: csv::Reader<Hashed<BufReader<std::fs::File>>>,
    path: &Path,
    send: std::sync::mpsc::SyncSender<Result<Vec<Numbered>, LedgerError>>,
    recycled: std::sync::mpsc::Receiver<Vec<Numbered>>,
) -> Result<String, LedgerError> {
    let mut spare: Vec<csv::ByteRecord> = Vec::new();
    let unreadable = |source| LedgerError::Unreadable {
        path: path.into(),
        source,
    };
    let mut previous_line = 0;
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        if spare.is_empty() {
            if let Ok(used) = recycled.try_recv() {
                spare.extend(used.into_iter().map(|n| n.record));
            }
        }
        let mut record = spare.pop().unwrap_or_default();
        let more = match reader.read_byte_record(&mut record) {
            Ok(more) => more,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                let error = match e.into_kind() {
                    csv::ErrorKind::Io(source) => unreadable(source),
                    other => LedgerError::Row {
                        path: path.into(),
                        line,
                        message: format!("不是有效的 CSV 行 (not a CSV row): {other:?}"),
                    },
                };
                // the rows before it first, then the error in its place
                let _ = send.send(Ok(std::mem::take(&mut batch)));
                let _ = send.send(Err(error));
                return Ok(String::new());
            }
        };
        if !more {
            break;
        }
        // the csv reader's position of a record may sit before the end of
        // the previous line (`\r\n`) or before blank lines; the line is
        // counted back from where the record ends instead
        let end = reader.position().byte().saturating_sub(1);
        // (the fields one after another: one count for the record)
        let inside = memchr::memchr_iter(b'\n', record.as_slice()).count() as u64;
        // (a line break that ends an unclosed quote at the end of the file
        // is both inside and last: rows still rise from line 1)
        let line = reader
            .get_mut()
            .line_at(end)
            .saturating_sub(inside)
            .max(previous_line + 1);
        previous_line = line;
        batch.push(Numbered { line, record });
        if batch.len() >= BATCH
            && send
                .send(Ok(std::mem::replace(&mut batch, Vec::with_capacity(BATCH))))
                .is_err()
        {
            return Ok(String::new());
        }
    }
    if !batch.is_empty() && send.send(Ok(batch)).is_err() {
        return Ok(String::new());
    }
    drop(send);
    // the csv reader may stop before the last bytes (a final blank line)
    let mut hashed = reader.into_inner();
    std::io::copy(&mut hashed, &mut std::io::sink()).map_err(unreadable)?;
    Ok(format!("{:x}", hashed.hasher.finalize()))
}

/// A payment row decoded and read, or why it cannot be.
enum Parsed<'a> {
    /// A blank line.
    Blank,
    Bad(String),
    /// The four columns' cells (key, policy, amount, paid_on), the row's
    /// amount and date, and every cell when they were asked for.
    Row {
        four: [Cow<'a, str>; 4],
        amount: Decimal,
        paid_on: Date,
        cells: Vec<Cow<'a, str>>,
    },
}

/// Decodes a record (not the header) and reads its four columns `at`:
/// the same checks, in the same order, as a row read alone; every cell is
/// kept when `all_cells`.
fn parse_record<'a>(
    encoding: Encoding,
    record: &'a csv::ByteRecord,
    columns: usize,
    at: &[usize; 4],
    all_cells: bool,
) -> Parsed<'a> {
    let decoded = record.iter().map(|raw| decode(encoding, raw));
    parse_cells(decoded, columns, at, all_cells)
}

/// [`parse_record`] over a record's cells as decoded, however they were
/// split.
fn parse_cells<'a>(
    decoded: impl Iterator<Item = Result<Cow<'a, str>, &'static str>>,
    columns: usize,
    at: &[usize; 4],
    all_cells: bool,
) -> Parsed<'a> {
    let mut four: [Cow<'a, str>; 4] = Default::default();
    let mut cells = Vec::new();
    let mut n = 0;
    let mut blank = true;
    for (i, cell) in decoded.enumerate() {
        let cell = match cell {
            Ok(cell) => cell,
            Err(e) => return Parsed::Bad(e.to_string()),
        };
        n += 1;
        blank = blank && trim(&cell).is_empty();
        if all_cells {
            cells.push(cell.clone());
        }
        // the header names each column once: a cell is at most one of four
        if let Some(slot) = at
            .iter()
            .position(|&c| c == i)
            .and_then(|c| four.get_mut(c))
        {
            *slot = cell;
        }
    }
    if n <= 1 && blank {
        return Parsed::Blank;
    }
    if n != columns {
        return Parsed::Bad(format!(
            "本行有 {n} 格, 表头有 {columns} 列 ({n} cells where the header has {columns})"
        ));
    }
    let [key, policy, amount, paid_on] = &four;
    match read_row(key, policy, amount, paid_on) {
        Ok((_, _, amount, paid_on)) => Parsed::Row {
            four,
            amount,
            paid_on,
            cells,
        },
        Err(message) => Parsed::Bad(message),
    }
}

/// Key, policy id, amount and date of one payment.
type Row<'a> = (&'a str, &'a str, Decimal, Date);

/// A payment row's key (as a data file's key cell is read: blanks kept in a
/// text key, ` A2` is not the firm `A2` in a data file, nor here) and its
/// policy id (trimmed), neither empty.
fn key_and_policy<'a>(key: &'a str, policy: &'a str) -> Result<(&'a str, &'a str), String> {
    if trim(key).is_empty() {
        return Err("key 为空 (the key is empty)".into());
    }
    let policy = trim(policy);
    if policy.is_empty() {
        return Err("policy 为空 (the policy id is empty)".into());
    }
    Ok((key, policy))
}

fn read_row<'a>(
    key: &'a str,
    policy: &'a str,
    amount: &str,
    paid_on: &str,
) -> Result<Row<'a>, String> {
    let (key, policy) = key_and_policy(key, policy)?;
    let amount = match parse_cell(&FieldType::Money, amount) {
        Ok(Cell::Num(n)) => n.normalize(),
        Ok(_) => return Err("amount 为空 (the amount is empty)".into()),
        Err(e) => return Err(format!("amount: {e}")),
    };
    let paid_on = match parse_cell(&FieldType::Date, paid_on) {
        Ok(Cell::Date(d)) => d,
        Ok(_) => return Err("paid_on 为空 (paid_on: the date is empty)".into()),
        Err(e) => return Err(format!("paid_on: {e}")),
    };
    Ok((key, policy, amount, paid_on))
}

/// The header row's cells as texts, a byte-order mark before the first
/// dropped.
fn header_cells<'a>(
    encoding: Encoding,
    cells: impl Iterator<Item = &'a [u8]>,
) -> Result<Vec<String>, &'static str> {
    cells
        .enumerate()
        .map(|(i, raw)| {
            let raw = if i == 0 {
                raw.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(raw)
            } else {
                raw
            };
            decode(encoding, raw).map(|c| c.into_owned())
        })
        .collect()
}

/// Where the four columns are; other columns are ignored.
fn header(cells: &[String]) -> Result<[usize; 4], String> {
    let mut at = [usize::MAX; 4];
    for (i, name) in cells.iter().enumerate() {
        let name = trim(name);
        if let Some(c) = COLUMNS.iter().position(|c| c.eq_ignore_ascii_case(name)) {
            if let Some(slot) = at.get_mut(c) {
                if *slot != usize::MAX {
                    return Err(format!(
                        "表头中 `{name}` 列出现两次 (the column `{name}` is given twice)"
                    ));
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
    // a header written in Chinese: which of its cells means which column
    let renames: Vec<String> = absent
        .iter()
        .filter_map(|&column| {
            let meant = CHINESE_COLUMNS.iter().find(|(c, _)| *c == column)?.1;
            let cell = cells.iter().map(|c| trim(c)).find(|c| meant.contains(c))?;
            Some(format!("`{cell}` → `{column}`"))
        })
        .collect();
    // one such cell (a data file's 统一社会信用代码) does not make a ledger
    let renames = if renames.len() >= 2 {
        renames
    } else {
        Vec::new()
    };
    let looks_like_data = absent.len() >= 3 && renames.is_empty();
    let absent = absent
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let found = cells
        .iter()
        .take(8)
        .map(|c| shown(trim(c)).into_owned())
        .collect::<Vec<_>>()
        .join(",");
    let (data, data_en) = if looks_like_data {
        (
            "; 这看起来是企业数据文件而不是兑付台账",
            "; is this a data file given as --ledger by mistake?",
        )
    } else {
        ("", "")
    };
    if !renames.is_empty() {
        let renames = renames.join(", ");
        return Err(format!(
            "台账表头缺少 {absent} 列: 表头须用英文列名 `key,policy,amount,paid_on`, 请改名 {renames} (实际: {found}) (the ledger's header has no column {absent}: the columns are named in English; rename {renames})"
        ));
    }
    Err(format!(
        "台账表头缺少 {absent} 列, 表头应含 `key,policy,amount,paid_on` (实际: {found}){data} (the ledger's header has no column {absent}{data_en})"
    ))
}

/// The Chinese names a ledger's columns are often given, for telling
/// which to rename (the header itself must use the English names).
const CHINESE_COLUMNS: [(&str, &[&str]); 4] = [
    (
        "key",
        &[
            "统一社会信用代码",
            "社会信用代码",
            "信用代码",
            "企业代码",
            "主键",
        ],
    ),
    (
        "policy",
        &["政策编号", "政策代码", "政策", "政策id", "政策ID"],
    ),
    (
        "amount",
        &[
            "兑付金额",
            "拨付金额",
            "奖励金额",
            "补贴金额",
            "金额",
            "兑付金额(元)",
        ],
    ),
    (
        "paid_on",
        &["兑付日期", "拨付日期", "支付日期", "发放日期", "日期"],
    ),
];

/// What the first bytes of a file tell of its encoding.
struct Head {
    /// Starts with a UTF-8 byte-order mark.
    bom: bool,
    /// UTF-8, but maybe for a character cut at the end: what
    /// [`super::source`] takes for UTF-8.
    utf8: bool,
    len: usize,
}

/// Reads `r` to its end in pieces, as the data files' reader would read
/// it whole to choose its encoding.
fn sniff(r: impl Read) -> std::io::Result<Head> {
    let mut r = BufReader::with_capacity(1 << 16, r);
    let mut first: Vec<u8> = Vec::with_capacity(3);
    let mut utf8 = true;
    let mut len = 0;
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let buf = std::io::BufRead::fill_buf(&mut r)?;
        if buf.is_empty() {
            let bom = first == b"\xEF\xBB\xBF";
            return Ok(Head {
                bom,
                utf8: utf8 || bom,
                len,
            });
        }
        let n = buf.len();
        first.extend(buf.iter().take(3 - first.len()));
        if utf8 {
            carry.extend_from_slice(buf);
            match std::str::from_utf8(&carry) {
                Ok(_) => carry.clear(),
                // a character cut at the end of the piece: keep its bytes
                Err(e) if e.error_len().is_none() => {
                    let keep = carry.split_off(e.valid_up_to());
                    carry = keep;
                }
                Err(_) => utf8 = false,
            }
        }
        std::io::BufRead::consume(&mut r, n);
        len += n;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A payment takes 32 bytes: a ledger holds millions of them, and what
    /// it holds is taken from the run's `--memory`.
    #[test]
    fn a_payment_takes_32_bytes() {
        assert_eq!(std::mem::size_of::<Payment>(), 32);
    }

    /// Payments added one at a time, and read from a file (in batches,
    /// filed into the parts on all cores), are grouped by firm in the
    /// ledger's order, as a plain map of lists groups them.
    #[test]
    fn payments_are_grouped_by_firm_in_the_order_added() {
        let ids: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let mut x: u64 = 12345;
        let mut rows = Vec::new();
        // more rows than a batch, more firms than parts
        for line in 2..(BATCH as u64 * 3 + 100) {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let key = format!("K{}", (x >> 33) % 937);
            let id = ["a", "b", "c", "other"][((x >> 20) % 4) as usize];
            let amount = format!("{}.{:02}", (x >> 40) % 1000, (x >> 10) % 100);
            rows.push((key, id, amount, line));
        }
        let mut expected: std::collections::BTreeMap<String, Vec<(u16, String, u64)>> =
            Default::default();
        for (key, id, amount, line) in &rows {
            if let Some(i) = ids.iter().position(|i| i == id) {
                let a: Decimal = amount.parse().unwrap();
                expected.entry(key.clone()).or_default().push((
                    i as u16,
                    a.normalize().to_string(),
                    *line,
                ));
            }
        }
        let text = FieldType::Text;
        let mut one = Ledger::adding(ids.len(), &text);
        let mut csv = String::from("key,policy,amount,paid_on\n");
        for (key, id, amount, line) in &rows {
            one.add(&ids, key, id, amount, "2024-01-01", *line).unwrap();
            csv.push_str(&format!("{key},{id},{amount},2024-01-01\n"));
        }
        let one = one.finish().unwrap();
        let path = std::env::temp_dir().join(format!(
            "mianshen-ledger-grouped-{}.csv",
            std::process::id()
        ));
        std::fs::write(&path, csv).unwrap();
        let read = Ledger::read(&path, &ids, &text);
        // on one thread, the same ledger to the byte count
        let alone = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| Ledger::read(&path, &ids, &text));
        std::fs::remove_file(&path).unwrap();
        let (read, alone) = (read.unwrap(), alone.unwrap());
        assert_eq!(read.heap_bytes(), alone.heap_bytes());
        assert_eq!((read.rows, read.kept), (one.rows, one.kept));
        assert_eq!(read.rows, rows.len() as u64);
        for ledger in [&one, &read] {
            assert_eq!(ledger.firms(), expected.len());
            assert_eq!(ledger.firms_not_looked_up(), expected.len());
            for (key, want) in &expected {
                let got: Vec<(u16, String, u64)> = ledger
                    .payments(key)
                    .iter()
                    .map(|p| (p.id, p.amount.normalize().to_string(), p.line))
                    .collect();
                assert_eq!(&got, want, "payments of {key}");
            }
            assert!(ledger.payments("nobody").is_empty());
            assert_eq!(ledger.firms_not_looked_up(), 0);
        }
        for key in expected.keys() {
            assert_eq!(read.payments(key), alone.payments(key), "payments of {key}");
        }
    }

    /// The run's readers (by lines, and the CSV reader for a quoted file)
    /// and `verify`'s ([`rows_digest`]) print the same rows alike, from
    /// their cells as decoded: quotes and blank lines are not rows' content.
    #[test]
    fn every_reader_prints_the_rows_alike() {
        let ids = vec!["a".to_string()];
        let rows = [
            ["K1", "a", "1.5", "2024-01-01"],
            ["K2", "other", "-3万", "2023/1/2"],
            [" K3 ", "a", "7", "20240101"],
        ];
        let mut expected = RowsDigest::default();
        for r in &rows {
            expected.add(&row_print(r));
        }
        let line = |r: &[&str; 4], q: &str| {
            let cells: Vec<String> = r.iter().map(|c| format!("{q}{c}{q}")).collect();
            cells.join(",") + "\n"
        };
        let plain: String = rows.iter().map(|r| line(r, "")).collect();
        let quoted: String = rows.iter().map(|r| line(r, "\"") + "\n").collect();
        for (name, body) in [("plain", plain), ("quoted", quoted)] {
            let path = std::env::temp_dir().join(format!(
                "mianshen-ledger-prints-{name}-{}.csv",
                std::process::id()
            ));
            std::fs::write(&path, format!("key,policy,amount,paid_on\n{body}")).unwrap();
            let read = Ledger::read(&path, &ids, &FieldType::Text).unwrap();
            let (all, more) = (rows_digest(&path, 3), rows_digest(&path, 4));
            let first = rows_digest(&path, 2).unwrap();
            std::fs::remove_file(&path).unwrap();
            assert_eq!(read.rows, 3, "{name}");
            assert_eq!(read.rows_digest.hex(), expected.hex(), "{name}");
            assert_eq!(all.unwrap(), (Some(expected.hex()), 3), "{name}");
            assert_eq!(more.unwrap(), (None, 3), "{name}: fewer rows than asked");
            let mut two = RowsDigest::default();
            rows.iter().take(2).for_each(|r| two.add(&row_print(r)));
            assert_eq!(first, (Some(two.hex()), 3), "{name}");
        }
    }
}
