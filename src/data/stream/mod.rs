//! A data file read as a stream of rows, in bounded memory.
//!
//! [`Stream::open`] reads the header; rows then come in batches of raw cells,
//! read once and hashed on the way for the manifest. A [`RowParser`], shared
//! by worker threads, turns each into a [`Record`] or its rejects.
//!
//! A key found on several rows rejects every one of those rows (LANGUAGE.md
//! section 8), which can only be known at the end of the file. Rows are
//! therefore judged as they come, their keys noted, and once the file is read
//! [`Stream::reparse_each`] reads the rows of duplicated keys again to give their
//! rejects; the caller drops whatever it had from them. A file without
//! duplicates is read once.
//!
//! The format follows the file's ending: `.jsonl` is JSON Lines, a
//! workbook's ending (`.xlsx`, `.xlsm`, `.xls`) its first worksheet
//! (`excel`), anything else CSV.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use csv::ByteRecord;

mod excel;
mod fast;
mod header;
mod repeated;
mod row;

pub use excel::reading_workbook;
use header::{columns, header, Column, Unknown};
pub(crate) use repeated::also_on;
pub use repeated::{DupRow, KeyReject, Repeated};
pub use row::{missing_cells, RowParser};

use super::cell::{parse_cell, parse_json, shown, trim};
use super::json::{not_an_object, value_text, Entries};
use super::source::{choose, decode, Lines, Tracked, SNIFF};
use super::{DataError, Encoding, ReadOptions, Reject};
use crate::record::{Cell, Record};
use crate::schema::{uscc_valid, Check, Field, Schema};

/// Opens the data from its start: once to read it, and once more when some
/// key is on several rows.
pub type Open = dyn Fn() -> std::io::Result<Box<dyn Read + Send>> + Send + Sync;

/// One row as read: its line and raw cells (a JSON line is one cell; a
/// worksheet's cell starts with a byte telling how it was stored).
#[derive(Clone, Debug, Default)]
pub struct RawRow {
    pub line: u64,
    record: ByteRecord,
    /// A double quote opened in this row is never closed: the row ran to the
    /// end of the file.
    unterminated: bool,
}

impl RawRow {
    /// Appends the row's bytes (to hold it in a sort that may spill): its
    /// line, whether unterminated, the number of cells and where each ends,
    /// then the cells' bytes in one piece.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.line.to_le_bytes());
        out.push(u8::from(self.unterminated));
        out.extend_from_slice(&(self.record.len() as u32).to_le_bytes());
        let mut end = 0usize;
        for f in &self.record {
            end += f.len();
            out.extend_from_slice(&(end as u32).to_le_bytes());
        }
        out.extend_from_slice(self.record.as_slice());
    }

    /// The bytes [`RawRow::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        13 + 4 * self.record.len() + self.record.as_slice().len()
    }

    /// Takes a row written by [`RawRow::encode`] off the front of `bytes`.
    pub fn decode(bytes: &mut &[u8]) -> Option<RawRow> {
        let mut row = RawRow::default();
        row.decode_into(bytes)?;
        Some(row)
    }

    /// [`RawRow::decode`] into this row, its buffers reused.
    pub fn decode_into(&mut self, bytes: &mut &[u8]) -> Option<()> {
        fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
            let (head, rest) = bytes.split_at_checked(n)?;
            *bytes = rest;
            Some(head)
        }
        let line = u64::from_le_bytes(take(bytes, 8)?.try_into().ok()?);
        let unterminated = take(bytes, 1)?.first() == Some(&1);
        let n = u32::from_le_bytes(take(bytes, 4)?.try_into().ok()?) as usize;
        let ends = take(bytes, n.checked_mul(4)?)?;
        let end_of = |c: &[u8]| Some(u32::from_le_bytes(c.try_into().ok()?) as usize);
        let total = match ends.rchunks_exact(4).next() {
            Some(last) => end_of(last)?,
            None => 0,
        };
        let data = take(bytes, total)?;
        self.record.clear();
        let mut start = 0;
        for c in ends.chunks_exact(4) {
            let end = end_of(c)?;
            self.record.push_field(data.get(start..end)?);
            start = end;
        }
        self.line = line;
        self.unterminated = unterminated;
        Some(())
    }

    /// Bytes the row holds on the heap.
    pub fn heap(&self) -> usize {
        self.record.as_slice().len() + 8 * self.record.len() + 64
    }
}

/// A batch of rows as read; its buffers are reused from batch to batch.
#[derive(Default)]
pub struct RawBatch {
    rows: Vec<RawRow>,
    len: usize,
}

impl RawBatch {
    /// The rows of the last [`Stream::next_batch`].
    pub fn rows(&self) -> &[RawRow] {
        self.rows.get(..self.len).unwrap_or_default()
    }

    /// The next row to fill. A row made new has room for what the row
    /// before it holds, rather than growing cell by cell as it is filled.
    fn slot(&mut self) -> &mut RawRow {
        if self.rows.len() <= self.len {
            let room = self.rows.last().map_or(RawRow::default(), |before| RawRow {
                record: ByteRecord::with_capacity(
                    before.record.as_slice().len(),
                    before.record.len(),
                ),
                ..RawRow::default()
            });
            self.rows.resize(self.len + 1, room);
        }
        let i = self.len;
        #[allow(clippy::indexing_slicing)] // resized just above to hold index `len`
        &mut self.rows[i]
    }
}

/// What parsing noticed besides records and rejects, gathered per chunk of
/// rows and joined in file order.
#[derive(Default)]
pub struct Seen {
    /// The key of every rejected row that has one, with its line and where
    /// a reject for the key being on other rows would go among its rejects:
    /// it takes part in the duplicate check like the keys of records.
    pub keys: Vec<(Box<str>, u64, KeyReject)>,
    /// Keys of JSON lines that name no field.
    unknown: Unknown,
    /// Values read by the contract that look like a slip of the data
    /// ([`Odd`]): how many rows of each, and the first line.
    pub odd: std::collections::BTreeMap<Odd, (u64, u64)>,
}

/// A value read by the contract that looks like a slip of whoever wrote
/// the data: read all the same, and counted for a warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Odd {
    /// The row's key has blanks before or after it (` A1 `, which is not
    /// the firm `A1`).
    PaddedKey,
    /// An item of this `list` field holds `；`, `,`, `，`, `/` or a blank:
    /// likely several items separated by what the contract does not
    /// separate on (`高新技术企业；小巨人` is one item).
    ListSeparator(usize),
    /// The row's key reads 合计, 总计 or 小计: a spreadsheet's totals row,
    /// read as a firm.
    TotalsRow,
    /// This `percent` field's value was written without `%` and reads
    /// above 1 (`3.5` is 350%).
    PercentOverOne(usize),
}

/// Adds the counts of `from` to those of `to`.
fn add_odd(
    to: &mut std::collections::BTreeMap<Odd, (u64, u64)>,
    from: &std::collections::BTreeMap<Odd, (u64, u64)>,
) {
    for (&odd, &(n, first)) in from {
        add_count(to.entry(odd).or_insert((0, first)), (n, first));
    }
}

/// Adds `(n, first)` to a count of rows and their first line.
pub(super) fn add_count(to: &mut (u64, u64), (n, first): (u64, u64)) {
    to.0 += n;
    to.1 = to.1.min(first);
}

impl Seen {
    /// Nothing seen: nothing to add to the file's.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.unknown.names.is_empty() && self.odd.is_empty()
    }

    /// Adds what a later chunk saw.
    pub fn join(&mut self, later: Seen) {
        self.keys.extend(later.keys);
        for name in later.unknown.names {
            self.unknown.add(&name);
        }
        add_odd(&mut self.odd, &later.odd);
    }
}

/// The formats of data files, chosen by the file's ending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Format {
    Csv,
    JsonLines,
    /// The first worksheet of a workbook.
    Excel,
}

impl Format {
    fn of(path: &Path) -> Format {
        if is_json_lines(path) {
            Format::JsonLines
        } else if excel::is_workbook(path) {
            Format::Excel
        } else {
            Format::Csv
        }
    }
}

enum Reader {
    Csv {
        reader: csv::Reader<Tracked<Box<dyn Read + Send>>>,
        lines: Lines,
    },
    Jsonl {
        reader: BufReader<Tracked<Box<dyn Read + Send>>>,
        line: u64,
        buf: Vec<u8>,
    },
    Excel(excel::Sheet),
    /// A reader lost (its thread ended by a panic): the error once, then
    /// nothing.
    Failed(Option<DataError>),
    /// A CSV file's first rows being read on a thread of its own
    /// ([`Stream::read_ahead`]); the reader comes back when they are taken.
    Ahead(Box<Ahead>),
}

/// One batch read ahead: its rows, what reading them gave (an error after
/// the rows before it), and the bytes read by then.
struct Piece {
    rows: RawBatch,
    read: Result<(), DataError>,
    position: u64,
    /// The last piece: the file ended or failed.
    end: bool,
}

/// A CSV file whose first batches are read on a thread of its own while
/// the run still opens its other files ([`Stream::read_ahead`]): rows are
/// taken from the batches read ahead, in order, then from the reader
/// itself, back from the thread. What comes out is what the reader gives
/// read in place: the same rows, in the same batches, the same error after
/// the same rows.
struct Ahead {
    received: std::sync::mpsc::Receiver<Piece>,
    thread: Option<std::thread::JoinHandle<Reader>>,
    /// The piece being taken, and how many of its rows are taken.
    front: Option<(Piece, usize)>,
    position: u64,
    /// Tells the thread to stop when the stream no longer wants its rows.
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for Ahead {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// At most one file is read ahead at a time: the others wait, so that the
/// read-ahead takes one core and leaves the other to the thread that opens
/// a workbook (the run waits on that one).
static READING_AHEAD: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Ahead {
    /// Takes rows into `out` (which holds `out.len` already) up to `max`.
    /// `Some(reader)` when the rows read ahead are all taken: the rest
    /// comes from that reader (which may have ended or failed).
    fn fill(
        &mut self,
        path: &Path,
        max: usize,
        out: &mut RawBatch,
    ) -> (Option<Reader>, Result<(), DataError>) {
        while out.len < max {
            if let Some((piece, taken)) = &self.front {
                if *taken >= piece.rows.len {
                    if let Some((piece, _)) = self.front.take().filter(|(p, _)| p.end) {
                        return (Some(self.reader_back(path)), piece.read);
                    }
                    continue;
                }
            }
            if self.front.is_none() {
                match self.received.recv() {
                    Ok(piece) => self.front = Some((piece, 0)),
                    Err(_) => return (Some(self.reader_back(path)), Ok(())),
                }
            }
            let Some((piece, taken)) = &mut self.front else {
                continue;
            };
            let left = piece.rows.len.saturating_sub(*taken);
            if out.len == 0 && *taken == 0 && (left == max || (piece.end && left <= max)) {
                // the whole batch as read: handed over, not copied
                std::mem::swap(out, &mut piece.rows);
                out.len = left;
                piece.rows.len = 0;
            } else {
                let n = left.min(max - out.len);
                for row in piece.rows.rows().iter().skip(*taken).take(n) {
                    out.slot().clone_from(row);
                    out.len += 1;
                }
                *taken += n;
            }
            self.position = piece.position;
        }
        // a file that ended as read ahead: its reader back now (for the
        // hash), whose next batch is empty; an error is told when a row
        // past it is wanted, as the reader read in place tells it
        let ended = |(p, taken): &(Piece, usize)| p.end && *taken >= p.rows.len && p.read.is_ok();
        if self.front.as_ref().is_some_and(ended) {
            self.front = None;
            return (Some(self.reader_back(path)), Ok(()));
        }
        (None, Ok(()))
    }

    /// The reader, back from the thread that read ahead (which has ended,
    /// or ends now that no batch is wanted).
    fn reader_back(&mut self, path: &Path) -> Reader {
        let thread = self.thread.take();
        match thread.map(std::thread::JoinHandle::join) {
            Some(Ok(reader)) => reader,
            // the thread cannot be without its reader but by a panic
            _ => Reader::Failed(Some(DataError::Unreadable {
                path: path.to_path_buf(),
                source: std::io::Error::other("the thread reading ahead failed"),
            })),
        }
    }
}

/// A data file being read.
pub struct Stream {
    open: Arc<Open>,
    reader: Reader,
    parser: Arc<RowParser>,
    rows: u64,
    /// The file's size in bytes, when known (for progress).
    size: Option<u64>,
    unknown: Unknown,
    odd: std::collections::BTreeMap<Odd, (u64, u64)>,
    path: PathBuf,
    /// The encoding asked for when opened (`Auto` chooses again).
    asked: Encoding,
    /// Rows read and given back ([`Stream::unread`]), the next to come.
    unread: Option<RawBatch>,
}

/// What the whole file told once read: for the manifest and the summary.
#[derive(Clone, Debug, Default)]
pub struct StreamInfo {
    pub rows: u64,
    pub sha256: String,
    pub unknown_columns: Vec<String>,
    /// See [`Seen::odd`].
    pub odd: std::collections::BTreeMap<Odd, (u64, u64)>,
}

fn is_json_lines(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("jsonl"))
}

/// Opens a source, reads enough of it to choose the encoding, and wraps it.
fn start(
    open: &Open,
    path: &Path,
    opts: &ReadOptions,
    hashing: bool,
) -> Result<(Tracked<Box<dyn Read + Send>>, Encoding), DataError> {
    let unreadable = |source| DataError::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    let mut inner = open().map_err(unreadable)?;
    let mut head = Vec::new();
    (&mut inner)
        .take(SNIFF as u64)
        .read_to_end(&mut head)
        .map_err(unreadable)?;
    let encoding = choose(opts.encoding, &head);
    let chained: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(head).chain(inner));
    let tracked = Tracked::new(chained, encoding == Encoding::Utf8).hashing(hashing);
    Ok((tracked, encoding))
}

fn csv_reader(t: Tracked<Box<dyn Read + Send>>) -> csv::Reader<Tracked<Box<dyn Read + Send>>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_reader(t)
}

impl Reader {
    /// Opens the data and reads the header: the reader positioned at the
    /// first row, the columns (none for JSON Lines) and the encoding (of
    /// no account in a workbook, which holds text). A CSV or JSON Lines
    /// file's bytes are hashed only if `hashing`.
    fn open(
        open: &Open,
        path: &Path,
        schema: &Schema,
        opts: &ReadOptions,
        unknown: &mut Unknown,
        hashing: bool,
    ) -> Result<(Reader, Vec<Column>, Encoding), DataError> {
        if let Some(ending) = excel::not_read(path) {
            return Err(DataError::SheetNotRead {
                path: path.to_path_buf(),
                ending,
            });
        }
        if Format::of(path) == Format::Excel {
            let (sheet, names) = excel::Sheet::open(open, path)?;
            let columns = columns(path, names, schema, unknown)?;
            return Ok((Reader::Excel(sheet), columns, Encoding::Utf8));
        }
        let (source, encoding) = start(open, path, opts, hashing)?;
        if is_json_lines(path) {
            let reader = Reader::Jsonl {
                reader: BufReader::with_capacity(1 << 16, source.not_csv()),
                line: 0,
                buf: Vec::new(),
            };
            return Ok((reader, Vec::new(), encoding));
        }
        let mut reader = csv_reader(source);
        let mut lines = Lines::default();
        let columns = header(path, &mut reader, &mut lines, schema, encoding, unknown)?;
        Ok((Reader::Csv { reader, lines }, columns, encoding))
    }

    /// Bytes read so far.
    fn position(&self) -> u64 {
        match self {
            Reader::Csv { reader, .. } => reader.get_ref().position(),
            Reader::Jsonl { reader, .. } => reader.get_ref().position(),
            Reader::Excel(sheet) => sheet.position(),
            Reader::Ahead(ahead) => ahead.position,
            Reader::Failed(_) => 0,
        }
    }

    /// SHA-256 of the bytes read so far, lowercase hex.
    fn sha256(&self) -> String {
        match self {
            Reader::Csv { reader, .. } => reader.get_ref().sha256(),
            Reader::Jsonl { reader, .. } => reader.get_ref().sha256(),
            Reader::Excel(sheet) => sheet.sha256().to_string(),
            // asked only once the file is read, when its reader is back
            Reader::Ahead(_) | Reader::Failed(_) => String::new(),
        }
    }

    /// Reads up to `max` more rows into `out`, reusing its buffers.
    fn next_batch(&mut self, path: &Path, max: usize, out: &mut RawBatch) -> Result<(), DataError> {
        out.len = 0;
        self.fill(path, max, out)
    }

    /// Reads rows into `out` after the `out.len` it holds, up to `max`.
    fn fill(&mut self, path: &Path, max: usize, out: &mut RawBatch) -> Result<(), DataError> {
        if let Reader::Ahead(ahead) = self {
            let (reader, read) = ahead.fill(path, max, out);
            if let Some(reader) = reader {
                *self = reader;
                read?;
                return self.fill(path, max, out);
            }
            return read;
        }
        let unreadable = |e: String| DataError::Unreadable {
            path: path.to_path_buf(),
            source: std::io::Error::other(e),
        };
        match self {
            Reader::Csv { reader, lines } => {
                while out.len < max {
                    let slot = out.slot();
                    match reader.read_byte_record(&mut slot.record) {
                        Ok(false) => break,
                        Ok(true) => {
                            let at = slot.record.position().map_or(0, |p| p.byte());
                            let (line, quoted) = lines.line_and_quoted(reader.get_ref(), at);
                            // a line of blanks is no row; a quoted cell (`""`) is one
                            if !quoted && is_blank(&slot.record) {
                                continue;
                            }
                            slot.line = line;
                            // a record that ends at the end of the file inside
                            // quotes swallowed the rest of it
                            slot.unterminated = reader.get_ref().ended_in_open_quote();
                            out.len += 1;
                        }
                        Err(e) => return Err(unreadable(e.to_string())),
                    }
                }
            }
            Reader::Jsonl { reader, line, buf } => {
                while out.len < max {
                    buf.clear();
                    let n = reader
                        .read_until(b'\n', buf)
                        .map_err(|e| unreadable(e.to_string()))?;
                    if n == 0 {
                        break;
                    }
                    *line += 1;
                    let text = trim_line(buf);
                    if is_blank_bytes(text) {
                        continue;
                    }
                    let slot = out.slot();
                    slot.record.clear();
                    slot.record.push_field(text);
                    slot.line = *line;
                    slot.unterminated = false;
                    out.len += 1;
                }
            }
            Reader::Excel(sheet) => sheet.next_batch(max, out)?,
            Reader::Failed(e) => {
                if let Some(e) = e.take() {
                    return Err(e);
                }
            }
            Reader::Ahead(_) => {}
        }
        Ok(())
    }
}

impl Stream {
    /// Opens a data file: JSON Lines when its name ends in `.jsonl`, the
    /// first worksheet of a workbook when it ends in `.xlsx` (or `.xlsm`,
    /// `.xls`), else CSV.
    pub fn open_path(
        path: &Path,
        schema: &Schema,
        opts: &ReadOptions,
    ) -> Result<Stream, DataError> {
        let owned = path.to_path_buf();
        let open = move || -> std::io::Result<Box<dyn Read + Send>> {
            Ok(Box::new(std::fs::File::open(&owned)?))
        };
        let mut stream = Stream::open(Arc::new(open), path, schema, opts)?;
        stream.size = std::fs::metadata(path).ok().map(|m| m.len());
        Ok(stream)
    }

    /// Opens data from any source (opened again only to read the rows of
    /// duplicated keys of a JSON Lines file); `path` names it in messages and chooses the format
    /// by its ending.
    pub fn open(
        open: Arc<Open>,
        path: &Path,
        schema: &Schema,
        opts: &ReadOptions,
    ) -> Result<Stream, DataError> {
        let mut unknown = Unknown::default();
        let (reader, columns, encoding) =
            Reader::open(&*open, path, schema, opts, &mut unknown, true)?;
        let mut parser = RowParser {
            schema: schema.clone(),
            format: Format::of(path),
            encoding,
            columns,
            duplicates: HashMap::new(),
            keep: None,
            clean: false,
            fast: Vec::new(),
            percents: Vec::new(),
            own_percents: Vec::new(),
            own_lists: Vec::new(),
        };
        parser.replan();
        Ok(Stream {
            open,
            reader,
            parser: Arc::new(parser),
            rows: 0,
            size: None,
            unknown,
            odd: Default::default(),
            path: path.to_path_buf(),
            asked: opts.encoding,
            unread: None,
        })
    }

    /// Starts reading this CSV file's first `batches` batches of `rows`
    /// rows on a thread of its own, while the run opens its other files
    /// (a workbook's header is known only when its shared strings are read,
    /// and the files are joined only once every header is known); the
    /// batches wait, read, until [`Stream::next_batch`] takes them. What
    /// the stream gives is what it gives read in place: the same rows in
    /// the same batches, the same error after the same rows, the same hash.
    /// Nothing is done for other formats, a stream already read from, or
    /// when no thread can be started.
    pub fn read_ahead(&mut self, batches: usize, rows: usize) {
        if batches == 0 || self.rows > 0 || self.unread.is_some() {
            return;
        }
        if !matches!(self.reader, Reader::Csv { .. }) {
            return;
        }
        let (sent, received) = std::sync::mpsc::sync_channel::<Piece>(batches);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (start, started) = std::sync::mpsc::channel::<Reader>();
        let path = self.path.clone();
        let stopped = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("read ahead".into())
            .spawn(move || {
                // the reader comes in once the thread runs, so that it is
                // never lost with a thread that could not start
                let Ok(mut reader) = started.recv() else {
                    return Reader::Failed(None);
                };
                // one file read ahead at a time (poisoned: a panic holding
                // nothing but the turn)
                let _turn = READING_AHEAD.lock().unwrap_or_else(|p| p.into_inner());
                for _ in 0..batches {
                    if stopped.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let mut batch = RawBatch::default();
                    let read = reader.next_batch(&path, rows, &mut batch);
                    let end = read.is_err() || batch.len < rows;
                    let piece = Piece {
                        rows: batch,
                        read,
                        position: reader.position(),
                        end,
                    };
                    if sent.send(piece).is_err() || end {
                        break;
                    }
                }
                reader
            });
        let Ok(thread) = thread else {
            return;
        };
        let ahead = Reader::Ahead(Box::new(Ahead {
            received,
            thread: Some(thread),
            front: None,
            position: self.reader.position(),
            stop,
        }));
        let reader = std::mem::replace(&mut self.reader, ahead);
        if let Err(std::sync::mpsc::SendError(reader)) = start.send(reader) {
            // the thread is gone: read in place
            self.reader = reader;
        }
    }

    /// Stores only the values of these fields (by schema index); must be
    /// called before [`Stream::parser`] is shared.
    pub fn keep_fields(&mut self, keep: Vec<bool>) {
        if let Some(p) = Arc::get_mut(&mut self.parser) {
            p.keep = Some(keep);
            p.replan();
        }
    }

    /// Says that every row of this file is known to be clean: a run of this
    /// engine over this very file (its hash) and schema rejected none of its
    /// rows. The cells of fields not kept ([`Stream::keep_fields`]) are then
    /// not read at all, where otherwise every cell is checked (so that the
    /// rejects are the same whatever is kept). Publishing reads a clean
    /// run's data again this way. Must be called before [`Stream::parser`]
    /// is shared.
    pub fn known_clean(&mut self) {
        if let Some(p) = Arc::get_mut(&mut self.parser) {
            p.clean = true;
            p.replan();
        }
    }

    /// The parser for this file's rows, to share with worker threads.
    pub fn parser(&self) -> Arc<RowParser> {
        Arc::clone(&self.parser)
    }

    /// Columns that name no field (ignored), in the order first seen.
    pub fn unknown_columns(&self) -> &[String] {
        &self.unknown.names
    }

    /// Notes what parsing the rows saw (unknown keys of JSON lines).
    pub fn add_seen(&mut self, seen: &Seen) {
        for name in &seen.unknown.names {
            self.unknown.add(name);
        }
        add_odd(&mut self.odd, &seen.odd);
    }

    /// Whether the file can be read again from its start
    /// ([`Stream::restart`]): a regular file, not a pipe.
    pub fn can_read_again(&self) -> bool {
        std::fs::metadata(&self.path).is_ok_and(|m| m.is_file())
    }

    /// Reads the file again from its first row, as if just opened with
    /// the encoding asked for then: the rows read, their hash and what
    /// was noticed so far are forgotten (the parser stays).
    pub fn restart(&mut self) -> Result<(), DataError> {
        let opts = ReadOptions {
            encoding: self.asked,
        };
        let mut unknown = Unknown::default();
        let (reader, _, _) = Reader::open(
            &*self.open,
            &self.path,
            &self.parser.schema,
            &opts,
            &mut unknown,
            true,
        )?;
        self.reader = reader;
        self.unread = None;
        self.rows = 0;
        self.unknown = unknown;
        self.odd.clear();
        Ok(())
    }

    /// Reads up to `max` more rows into `out`, reusing its buffers; `Ok(false)`
    /// at the end of the file.
    pub fn next_batch(&mut self, max: usize, out: &mut RawBatch) -> Result<bool, DataError> {
        if let Some(back) = self.unread.take() {
            *out = back;
        } else {
            self.reader.next_batch(&self.path, max, out)?;
        }
        self.rows += out.len as u64;
        Ok(out.len > 0)
    }

    /// Gives back the rows of the last [`Stream::next_batch`] (which
    /// gave them to `batch`, and read nothing since): the next call gives
    /// them again, as if they had not been read.
    pub fn unread(&mut self, batch: RawBatch) {
        self.rows = self.rows.saturating_sub(batch.len as u64);
        self.unread = Some(batch);
    }

    /// The file's size in bytes, when known.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// Bytes read so far.
    pub fn position(&self) -> u64 {
        self.reader.position()
    }

    /// Rows read so far, the hash of the bytes read and the unknown columns.
    pub fn info(&self) -> StreamInfo {
        StreamInfo {
            rows: self.rows,
            sha256: self.reader.sha256(),
            unknown_columns: self.unknown.names.clone(),
            odd: self.odd.clone(),
        }
    }
}

fn trim_line(buf: &[u8]) -> &[u8] {
    let b = buf.strip_suffix(b"\n").unwrap_or(buf);
    b.strip_suffix(b"\r").unwrap_or(b)
}

fn is_blank_bytes(b: &[u8]) -> bool {
    b.iter().all(|c| c.is_ascii_whitespace())
        || std::str::from_utf8(b).is_ok_and(|s| trim(s).is_empty())
}

/// A line with nothing but whitespace is not a row.
fn is_blank(record: &ByteRecord) -> bool {
    match record.len() {
        0 => true,
        1 => record.get(0).is_some_and(is_blank_bytes),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of `csv` parsed with `keep` kept, the file known clean or not:
    /// each row's kept cells, or its rejected columns.
    fn parsed(
        csv: &'static str,
        keep: &[bool],
        clean: bool,
    ) -> Vec<Result<Vec<Cell>, Vec<String>>> {
        let schema = Schema::load(&crate::diag::SourceText::new(
            "schema.yaml",
            "key: id\nfields:\n  id: { type: text }\n  name: { type: text }\n  n: { type: integer }\n  on: { type: date }\n",
        ))
        .expect("the schema loads");
        let open = move || -> std::io::Result<Box<dyn Read + Send>> {
            Ok(Box::new(std::io::Cursor::new(csv.as_bytes())))
        };
        let opts = ReadOptions {
            encoding: Encoding::Utf8,
        };
        let mut stream =
            Stream::open(Arc::new(open), Path::new("firms.csv"), &schema, &opts).expect("opens");
        stream.keep_fields(keep.to_vec());
        if clean {
            stream.known_clean();
        }
        let parser = stream.parser();
        let mut batch = RawBatch::default();
        stream.next_batch(100, &mut batch).expect("reads");
        let mut seen = Seen::default();
        batch
            .rows()
            .iter()
            .map(|raw| match parser.parse(raw, &mut seen) {
                Ok(r) => Ok(r
                    .cells
                    .into_iter()
                    .zip(keep)
                    .filter(|(_, k)| **k)
                    .map(|(c, _)| c)
                    .collect()),
                Err(rs) => Err(rs.into_iter().map(|r| r.column).collect()),
            })
            .collect()
    }

    /// Bytes that fail to read after `fail_at` of them (never if `None`).
    struct Failing {
        bytes: std::io::Cursor<Vec<u8>>,
        fail_at: Option<u64>,
    }

    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let at = self.bytes.position();
            let Some(fail_at) = self.fail_at else {
                return self.bytes.read(buf);
            };
            if at >= fail_at {
                return Err(std::io::Error::other("the disk failed"));
            }
            let room = usize::try_from(fail_at - at).unwrap_or(usize::MAX);
            let n = buf.len().min(room);
            self.bytes.read(buf.get_mut(..n).unwrap_or_default())
        }
    }

    /// A random CSV file: a header, rows of random cells (quoted, with line
    /// breaks, blank lines, non-ASCII text, rows short and long), maybe
    /// ending inside an open quote.
    fn random_csv(rng: &mut crate::test_rng::Rng) -> Vec<u8> {
        let mut text = String::from("id,name,n,on\n");
        let rows = match rng.below(4) {
            0 => rng.below(5),
            1 => rng.below(60),
            _ => rng.below(400),
        };
        for r in 0..rows {
            if rng.below(20) == 0 {
                text.push('\n');
            }
            let cells = 1 + rng.below(6);
            for c in 0..cells {
                if c > 0 {
                    text.push(',');
                }
                match rng.below(6) {
                    0 => text.push_str(&format!("K{r}")),
                    1 => text.push_str("\"a,\nb\"\"c\""),
                    2 => text.push_str("企业"),
                    3 => text.push_str(&rng.below(1000).to_string()),
                    4 => {}
                    _ => text.push_str("2024-01-02"),
                }
            }
            text.push_str(if rng.below(10) == 0 { "\r\n" } else { "\n" });
        }
        if rng.below(8) == 0 {
            text.push_str("K9,\"never closed\nrest");
        }
        text.into_bytes()
    }

    /// What a stream gives batch by batch, to the end or the first error
    /// and one batch past it: each batch's rows (line, cells, whether
    /// unterminated) or the error; then the rows read and the hash.
    fn read_all(
        stream: &mut Stream,
        max: usize,
    ) -> (Vec<Result<Vec<String>, String>>, u64, String) {
        let mut got = Vec::new();
        let mut batch = RawBatch::default();
        let mut failed = 0;
        for _ in 0..10_000 {
            match stream.next_batch(max, &mut batch) {
                Ok(more) => {
                    got.push(Ok(batch
                        .rows()
                        .iter()
                        .map(|r| format!("{} {:?} {}", r.line, r.record, r.unterminated))
                        .collect()));
                    if !more {
                        break;
                    }
                }
                Err(e) => {
                    got.push(Err(e.to_string()));
                    failed += 1;
                    if failed == 2 {
                        break;
                    }
                }
            }
        }
        let info = stream.info();
        (got, info.rows, info.sha256)
    }

    #[test]
    fn a_file_read_ahead_reads_as_read_in_place() {
        let schema = Schema::load(&crate::diag::SourceText::new(
            "schema.yaml",
            "key: id\nfields:\n  id: { type: text }\n  name: { type: text }\n  n: { type: integer }\n  on: { type: date }\n",
        ))
        .expect("the schema loads");
        let opts = ReadOptions::default();
        // cases that failed part way, and that read several batches ahead
        let (mut failed, mut several) = (0, 0);
        for seed in 1..300u64 {
            let mut rng = crate::test_rng::Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            // a file read past the bytes sniffed for its encoding (4 MiB,
            // read with the header): a failure there comes with the rows
            let big = seed % 20 == 0;
            let mut bytes = random_csv(&mut rng);
            if big {
                let mut filler = Vec::new();
                for i in 0..(SNIFF / 24) {
                    filler.extend_from_slice(format!("F{i},填充,1,2024-01-02\n").as_bytes());
                }
                let header = bytes.iter().position(|&b| b == b'\n').map_or(0, |n| n + 1);
                bytes.splice(header..header, filler);
            }
            let fail_at = if big {
                (rng.below(4) > 0)
                    .then(|| SNIFF as u64 + rng.below(bytes.len().saturating_sub(SNIFF) as u64 + 1))
            } else {
                (rng.below(3) == 0).then(|| rng.below(bytes.len() as u64 + 1))
            };
            let open = move || -> std::io::Result<Box<dyn Read + Send>> {
                Ok(Box::new(Failing {
                    bytes: std::io::Cursor::new(bytes.clone()),
                    fail_at,
                }))
            };
            let open: Arc<Open> = Arc::new(open);
            let path = Path::new("firms.csv");
            // the size of the batches read ahead, and of those asked for:
            // the same or not
            let most = if big { 20_000 } else { 50 };
            let rows = 1 + rng.below(most) as usize;
            let max = if rng.below(2) == 0 {
                rows
            } else {
                1 + rng.below(most) as usize
            };
            let batches = rng.below(6) as usize;
            let Ok(mut plain) = Stream::open(Arc::clone(&open), path, &schema, &opts) else {
                // the header itself fails: read ahead or not, nothing to read
                continue;
            };
            let mut ahead = Stream::open(Arc::clone(&open), path, &schema, &opts).expect("opens");
            ahead.read_ahead(batches, rows);
            if rng.below(2) == 0 {
                // the thread reads while nothing is asked of it
                std::thread::yield_now();
            }
            let want = read_all(&mut plain, max);
            failed += usize::from(want.0.iter().any(Result::is_err));
            several += usize::from(batches > 1 && want.0.len() > 2);
            assert_eq!(read_all(&mut ahead, max), want, "seed {seed}");
            assert_eq!(ahead.position(), plain.position(), "seed {seed}");
            // dropped part way: the thread stops, nothing hangs
            let mut dropped = Stream::open(Arc::clone(&open), path, &schema, &opts).expect("opens");
            dropped.read_ahead(batches, rows);
            let mut batch = RawBatch::default();
            let _ = dropped.next_batch(max, &mut batch);
            drop(dropped);
            // and read again from the start after reading ahead
            let mut again = Stream::open(Arc::clone(&open), path, &schema, &opts).expect("opens");
            again.read_ahead(batches, rows);
            let _ = again.next_batch(max, &mut batch);
            if again.restart().is_ok() {
                assert_eq!(read_all(&mut again, max), want, "seed {seed}, restarted");
            }
        }
        assert!(
            failed > 5 && several > 50,
            "{failed} failed, {several} of several batches"
        );
    }

    #[test]
    fn a_clean_file_reads_its_kept_cells_as_every_cell_is_read() {
        let keep = [true, true, false, false];
        // clean rows: the kept cells are the same either way
        let good = "id,name,n,on\nA1,甲,3,2024-01-02\nB2,乙,,\nC3, 丙 ,-7,2023-12-31\n";
        let plain = parsed(good, &keep, false);
        assert!(plain.iter().all(Result::is_ok), "{plain:?}");
        assert_eq!(parsed(good, &keep, true), plain);
        // the cells not kept are not read at all when the file is known
        // clean (which a run over it, rejecting none of its rows, tells)
        let bad = "id,name,n,on\nA1,甲,three,2024-13-40\n";
        assert_eq!(
            parsed(bad, &keep, false),
            vec![Err(vec!["n".to_string(), "on".to_string()])]
        );
        assert!(parsed(bad, &keep, true).iter().all(Result::is_ok));
        // the key and the row's shape are always checked
        let broken = "id,name,n,on\n,甲,3,2024-01-02\nB2,乙,3\n";
        assert_eq!(parsed(broken, &keep, true), parsed(broken, &keep, false));
        assert!(parsed(broken, &keep, true).iter().all(Result::is_err));
    }

    #[test]
    fn a_row_reads_back_as_it_was_written() {
        let rows = [
            (vec![], false),
            (vec![&b""[..]], false),
            (vec![&b"914201"[..], b"", "企业".as_bytes(), b"a\nb"], true),
        ];
        let mut bytes = Vec::new();
        for (i, (fields, unterminated)) in rows.iter().enumerate() {
            let mut record = ByteRecord::new();
            for f in fields {
                record.push_field(f);
            }
            let row = RawRow {
                line: i as u64 + 7,
                record,
                unterminated: *unterminated,
            };
            row.encode(&mut bytes);
        }
        let mut rest = &bytes[..];
        for (i, (fields, unterminated)) in rows.iter().enumerate() {
            let row = RawRow::decode(&mut rest).expect("a row");
            assert_eq!(row.line, i as u64 + 7);
            assert_eq!(row.unterminated, *unterminated);
            assert_eq!(row.record.iter().collect::<Vec<_>>(), *fields);
        }
        assert!(rest.is_empty());
        // cut short: no row, no panic
        assert!(RawRow::decode(&mut &bytes[..bytes.len() - 1]).is_some());
        assert!(RawRow::decode(&mut &bytes[..5]).is_none());
    }
}
