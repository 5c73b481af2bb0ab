//! Excel workbooks (LANGUAGE.md section 8): the first worksheet, its first
//! row the header, every cell written out as the text a CSV cell would hold
//! and read from there by the same rules (section 10).
//!
//! A workbook is a zip of XML parts, not a stream of rows: the file is read
//! whole into memory (it is compressed: a few bytes a cell), and calamine
//! reads the sheet's cells that hold something on a thread of its own,
//! while its rows are handed out in batches like a CSV file's. Each
//! cell becomes one field of a [`RawRow`] whose first byte tells how the
//! sheet stored it ([`Stored`]), so that the row parser can reject an error
//! cell and say when a code was kept as a number. The reading thread
//! writes each cell so, straight from calamine's borrowed value, into the
//! bytes of a chunk of cells ([`Chunk`]); the rows are made of those
//! bytes.

use std::panic::AssertUnwindSafe;

use calamine::{Data, ExcelDateTime, Reader as Workbook, SheetType, Xls, Xlsx};

use super::*;

/// The endings read as workbooks: Excel's, and its 97-2003 format. Not
/// OpenDocument (`.ods`): calamine reads an error cell there as its text,
/// which a text field would take as a value.
const ENDINGS: [&str; 3] = ["xlsx", "xlsm", "xls"];

/// Endings of spreadsheets that are not read: a clear error, rather than
/// reading their bytes as CSV.
const NOT_READ: [&str; 3] = ["ods", "xlsb", "numbers"];

/// A spreadsheet that is not read, by its ending: the ending as written.
pub(super) fn not_read(path: &Path) -> Option<String> {
    let e = path.extension()?.to_str()?;
    NOT_READ
        .iter()
        .any(|x| x.eq_ignore_ascii_case(e))
        .then(|| e.to_string())
}

/// A file read as a workbook, by its ending.
pub(super) fn is_workbook(path: &Path) -> bool {
    ending(path).is_some()
}

fn ending(path: &Path) -> Option<&'static str> {
    let e = path.extension()?.to_str()?;
    ENDINGS.into_iter().find(|x| x.eq_ignore_ascii_case(e))
}

/// How the sheet stored a cell: the first byte of its field in a [`RawRow`]
/// (an empty field is an empty cell).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stored {
    /// Text, a date or a boolean, read as written.
    Text,
    /// A number, written in plain decimal notation.
    Number,
    /// An error value such as `#N/A`: the row is rejected.
    Error,
    /// A formula saved without its computed value (by a program that does
    /// not calculate): the row is rejected.
    Uncomputed,
}

impl Stored {
    fn tag(self) -> u8 {
        match self {
            Stored::Text => b't',
            Stored::Number => b'n',
            Stored::Error => b'e',
            Stored::Uncomputed => b'f',
        }
    }
}

/// A field of a sheet's [`RawRow`]: how the cell was stored, and its text.
pub(super) fn split(field: &[u8]) -> (Stored, &[u8]) {
    match field.split_first() {
        Some((b'n', text)) => (Stored::Number, text),
        Some((b'e', text)) => (Stored::Error, text),
        Some((b'f', text)) => (Stored::Uncomputed, text),
        Some((_, text)) => (Stored::Text, text),
        None => (Stored::Text, field),
    }
}

/// A value as the text a CSV cell would hold, and how it was stored.
fn written_value(cell: &Data) -> (Stored, Cow<'_, str>) {
    match cell {
        Data::Empty => (Stored::Text, Cow::Borrowed("")),
        Data::String(s) => (Stored::Text, Cow::Borrowed(s)),
        Data::Float(f) => (Stored::Number, Cow::Owned(plain(*f))),
        Data::Int(i) => (Stored::Number, Cow::Owned(i.to_string())),
        Data::Bool(b) => (
            Stored::Text,
            Cow::Borrowed(if *b { "true" } else { "false" }),
        ),
        Data::DateTime(d) if d.is_datetime() => (Stored::Text, Cow::Owned(date(d))),
        // a duration (`[h]:mm`): its number of days
        Data::DateTime(d) => (Stored::Number, Cow::Owned(plain(d.as_f64()))),
        Data::DateTimeIso(s) => (Stored::Text, Cow::Borrowed(iso_date(s))),
        Data::DurationIso(s) => (Stored::Text, Cow::Borrowed(s)),
        Data::Error(e) => (Stored::Error, Cow::Owned(e.to_string())),
    }
}

/// A number in plain decimal notation, the shortest that reads back as the
/// same binary number: Rust's `Display` for `f64`, which never writes an
/// exponent (0.1 is `0.1`, 1e20 is `100000000000000000000`, 3.0 is `3`).
pub(super) fn plain(f: f64) -> String {
    if f == 0.0 {
        // not `-0`
        return "0".to_string();
    }
    format!("{f}")
}

/// A date cell as `YYYY-MM-DD`; a time of day is dropped. A cell that holds
/// only a time (its serial number below 1) is written `hh:mm:ss`: it is no
/// date, and a `date` field rejects it.
fn date(d: &ExcelDateTime) -> String {
    let (year, month, day, hour, minute, second, _) = d.to_ymd_hms_milli();
    if (0.0..1.0).contains(&d.as_f64()) {
        return format!("{hour:02}:{minute:02}:{second:02}");
    }
    format!("{year:04}-{month:02}-{day:02}")
}

/// An ISO 8601 date and time (as OpenDocument stores dates): its date.
fn iso_date(s: &str) -> &str {
    let digits = |r: std::ops::Range<usize>| {
        s.get(r)
            .is_some_and(|t| t.bytes().all(|b| b.is_ascii_digit()))
    };
    let dashes = s.get(4..5) == Some("-") && s.get(7..8) == Some("-");
    match s.get(..10) {
        Some(d) if dashes && digits(0..4) && digits(5..7) && digits(8..10) => d,
        _ => s,
    }
}

/// A cell with nothing in it, or nothing but blanks: a row of them is no
/// row (as a blank line of a CSV file is not).
fn is_blank(cell: &Data) -> bool {
    match cell {
        Data::Empty => true,
        Data::String(s) => trim(s).is_empty(),
        _ => false,
    }
}

thread_local! {
    static READING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread is reading a workbook with calamine, whose panics are
/// caught and reported as a file that cannot be read: a panic hook may keep
/// quiet about them.
pub fn reading_workbook() -> bool {
    READING.get()
}

fn not_a_workbook(path: &Path, message: String) -> DataError {
    DataError::NotAWorkbook {
        path: path.to_path_buf(),
        message,
    }
}

/// A cell that holds something, where the sheet has it (0-based), and
/// where its field ends in its [`Chunk`]'s bytes.
#[derive(Clone, Copy)]
struct Placed {
    row: u32,
    col: u32,
    end: u32,
}

/// Cells of a sheet in the order read, each written as the field of a
/// [`RawRow`] (the tag of how it was stored, then its text; nothing for an
/// empty text), one after the other.
#[derive(Default)]
struct Chunk {
    bytes: Vec<u8>,
    cells: Vec<Placed>,
}

impl Chunk {
    fn with_capacity() -> Chunk {
        Chunk {
            bytes: Vec::with_capacity(CELLS_PER_CHUNK * 8),
            cells: Vec::with_capacity(CELLS_PER_CHUNK),
        }
    }

    /// A chunk the rows are done with, emptied, when one came back;
    /// else a new one (its memory used again rather than allocated anew).
    fn again(back: &std::sync::mpsc::Receiver<Chunk>) -> Chunk {
        match back.try_recv() {
            Ok(mut chunk) => {
                chunk.bytes.clear();
                chunk.cells.clear();
                chunk
            }
            Err(_) => Chunk::with_capacity(),
        }
    }

    /// Adds the cell at (`row`, `col`) that `write` writes (tag and text).
    fn push(&mut self, row: u32, col: u32, write: impl FnOnce(&mut Vec<u8>)) {
        write(&mut self.bytes);
        let end = u32::try_from(self.bytes.len()).unwrap_or(u32::MAX);
        self.cells.push(Placed { row, col, end });
    }

    /// Full: to be sent (also when its bytes near what a place can say).
    fn full(&self) -> bool {
        self.cells.len() >= CELLS_PER_CHUNK || self.bytes.len() >= 1 << 30
    }
}

type Bytes = std::io::Cursor<Vec<u8>>;

/// Cells sent at a time by the thread that reads a worksheet.
const CELLS_PER_CHUNK: usize = 1 << 15;
/// Chunks that thread reads ahead of the rows taken.
const CHUNKS_AHEAD: usize = 8;

/// What the thread reading a workbook's first worksheet sends: the sheet's
/// name, then its cells in row order, a chunk at a time; or why it cannot
/// be read. The end of the cells is the end of the channel.
enum Sent {
    Name(String),
    Cells(Chunk),
    Failed(DataError),
}

/// A cell's field as [`written`] gives it: its tag and text, nothing when
/// the text is empty.
fn write_field(stored: Stored, text: &str, out: &mut Vec<u8>) {
    if !text.is_empty() {
        out.push(stored.tag());
        out.extend_from_slice(text.as_bytes());
    }
}

/// A value of an `.xlsx` sheet written as its field ([`write_field`] of
/// [`written_value`]), without the owned value: text borrowed, numbers and
/// dates written in place.
fn write_ref(cell: &calamine::DataRef<'_>, out: &mut Vec<u8>) {
    use calamine::DataRef;
    use std::io::Write;
    match cell {
        DataRef::String(s) => write_field(Stored::Text, s, out),
        DataRef::SharedString(s) => write_field(Stored::Text, s, out),
        DataRef::Float(f) => {
            out.push(Stored::Number.tag());
            if *f == 0.0 {
                out.push(b'0');
            } else if f.fract() == 0.0 && f.abs() < WHOLE {
                // a whole number below 2^53: `Display` writes its digits
                #[allow(clippy::cast_possible_truncation)] // whole and below 2^53
                write_int(*f as i64, 1, out);
            } else {
                let _ = write!(out, "{f}");
            }
        }
        DataRef::Int(i) => {
            out.push(Stored::Number.tag());
            write_int(*i, 1, out);
        }
        DataRef::DateTime(d) if d.is_datetime() && d.as_f64() >= 1.0 => {
            let (year, month, day, ..) = d.to_ymd_hms_milli();
            out.push(Stored::Text.tag());
            write_int(i64::from(year), 4, out);
            out.push(b'-');
            write_int(i64::from(month), 2, out);
            out.push(b'-');
            write_int(i64::from(day), 2, out);
        }
        other => {
            let value = Data::from(other.clone());
            let (stored, text) = written_value(&value);
            write_field(stored, &text, out);
        }
    }
}

/// Floats whose whole values [`write_int`] writes as `Display` would:
/// below 2^53 every whole number is a float of its own, so its shortest
/// decimal form is its digits.
const WHOLE: f64 = 9_007_199_254_740_992.0;

/// `n` in decimal, at least `width` digits (zeros before), a `-` before a
/// negative one: what `write!(out, "{n:0width$}")` writes, without the
/// formatting machinery (most of a sheet's cells are numbers and dates).
fn write_int(n: i64, width: usize, out: &mut Vec<u8>) {
    let mut digits = [b'0'; 20];
    let mut at = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        #[allow(clippy::cast_possible_truncation)] // a digit
        if let Some(d) = digits.get_mut(at) {
            *d = b'0' + (rest % 10) as u8;
        }
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let mut written = digits.len() - at;
    if n < 0 {
        // the sign counts in the width, as `format!` counts it
        out.push(b'-');
        written += 1;
    }
    out.extend(std::iter::repeat_n(b'0', width.saturating_sub(written)));
    out.extend_from_slice(digits.get(at..).unwrap_or_default());
}

/// Reads the first worksheet of the workbook `bytes` and sends its cells;
/// stops when no one listens. calamine may panic on a malformed file (a
/// cell reference past the largest number, for one): that is a file that
/// cannot be read, not a crash of the run.
fn read_sheet(
    path: &Path,
    bytes: Vec<u8>,
    sent: &std::sync::mpsc::SyncSender<Sent>,
    back: &std::sync::mpsc::Receiver<Chunk>,
) {
    READING.set(true);
    let read = std::panic::catch_unwind(AssertUnwindSafe(|| send_cells(path, bytes, sent, back)));
    READING.set(false);
    let failed = match read {
        Ok(Ok(())) => return,
        Ok(Err(e)) => e,
        Err(_) => not_a_workbook(path, "its contents are malformed".into()),
    };
    let _ = sent.send(Sent::Failed(failed));
}

/// Sends the cells of `cells` (in row order) in chunks: `false` when no
/// one listens.
fn send_chunks(sent: &std::sync::mpsc::SyncSender<Sent>, cells: Vec<(u32, u32, &Data)>) -> bool {
    let mut chunk = Chunk::with_capacity();
    for (row, col, value) in cells {
        chunk.push(row, col, |out| {
            let (stored, text) = written_value(value);
            write_field(stored, &text, out);
        });
        if chunk.full() {
            let full = std::mem::replace(&mut chunk, Chunk::with_capacity());
            if sent.send(Sent::Cells(full)).is_err() {
                return false;
            }
        }
    }
    chunk.cells.is_empty() || sent.send(Sent::Cells(chunk)).is_ok()
}

/// The name and the cells of a workbook's first worksheet, sent in row
/// order (`Ok` too when no one listens any more).
fn send_cells(
    path: &Path,
    bytes: Vec<u8>,
    sent: &std::sync::mpsc::SyncSender<Sent>,
    back: &std::sync::mpsc::Receiver<Chunk>,
) -> Result<(), DataError> {
    let bad = |e: &dyn std::fmt::Display| not_a_workbook(path, e.to_string());
    let bad_sheet = |name: &str, e: &dyn std::fmt::Display| {
        not_a_workbook(path, format!("its worksheet `{name}`: {e}"))
    };
    let cursor = std::io::Cursor::new(bytes);
    if ending(path) == Some("xls") {
        // a 97-2003 workbook is read whole by calamine: its cells sorted
        // into row order (stable, so a cell written twice keeps its last
        // value)
        let mut book: Xls<Bytes> = calamine::open_workbook_from_rs(cursor).map_err(|e| bad(&e))?;
        let name = first_worksheet(&book, path)?;
        let range = book
            .worksheet_range(&name)
            .map_err(|e| bad_sheet(&name, &e))?;
        let (top, left) = range.start().unwrap_or_default();
        let mut cells: Vec<(u32, u32, &Data)> = range
            .used_cells()
            .filter(|(_, _, v)| !is_blank(v))
            .map(|(r, c, v)| {
                let row = top.saturating_add(u32::try_from(r).unwrap_or(u32::MAX));
                let col = left.saturating_add(u32::try_from(c).unwrap_or(u32::MAX));
                (row, col, v)
            })
            .collect();
        cells.sort_by_key(|&(row, col, _)| (row, col));
        if sent.send(Sent::Name(name)).is_ok() {
            send_chunks(sent, cells);
        }
        return Ok(());
    }
    let mut book: Xlsx<Bytes> = calamine::open_workbook_from_rs(cursor).map_err(|e| bad(&e))?;
    let name = first_worksheet(&book, path)?;
    if sent.send(Sent::Name(name.clone())).is_err() {
        return Ok(());
    }
    xlsx_cells(&mut book, &name, sent, back).map_err(|e| match e {
        SheetError::Calamine(e) => bad_sheet(&name, &e),
        SheetError::Backwards { row, after } => bad_sheet(
            &name,
            &format!(
                "its row {} is written after row {after}, out of order",
                row + 1
            ),
        ),
    })
}

fn first_worksheet<R: Workbook<Bytes>>(book: &R, path: &Path) -> Result<String, DataError> {
    book.sheets_metadata()
        .iter()
        .find(|s| s.typ == SheetType::WorkSheet)
        .map(|s| s.name.clone())
        .ok_or_else(|| DataError::NoWorksheet {
            path: path.to_path_buf(),
        })
}

/// Why the cells of an `.xlsx` worksheet cannot be read.
enum SheetError {
    Calamine(calamine::XlsxError),
    /// A cell of an earlier row than the cells before it (the format
    /// writes rows in ascending order; the sheet is read as it comes).
    Backwards {
        row: u32,
        after: u32,
    },
}

/// Sends the cells of an `.xlsx` worksheet that hold something, as they
/// come, a chunk at a time: only they are kept, however far apart (a dense
/// range would hold every cell between the first and the last). A formula
/// with no value saved (not even an empty text) is kept, to be rejected.
/// The cells of a row may come in any order (the one written last to a
/// place counts, [`Sheet::next_batch`]); the rows must come in order.
fn xlsx_cells(
    book: &mut Xlsx<Bytes>,
    name: &str,
    sent: &std::sync::mpsc::SyncSender<Sent>,
    back: &std::sync::mpsc::Receiver<Chunk>,
) -> Result<(), SheetError> {
    use calamine::{DataRef, XlsxFormulaMetadata as Formula};
    let mut reader = book
        .worksheet_cells_reader(name)
        .map_err(SheetError::Calamine)?;
    let mut chunk = Chunk::with_capacity();
    let mut last_row = None;
    while let Some(cell) = reader
        .next_cell_with_formula_metadata()
        .map_err(SheetError::Calamine)?
    {
        let (row, col) = cell.pos;
        let uncomputed = match (&cell.value, cell.formula) {
            (
                DataRef::Empty,
                Some(Formula::Normal { formula } | Formula::Shared { formula, .. }),
            ) => Some(formula),
            (DataRef::Empty, Some(Formula::SharedDerived { .. })) => Some(String::new()),
            (DataRef::Empty, _) => continue,
            (DataRef::String(s), _) if trim(s).is_empty() => continue,
            (DataRef::SharedString(s), _) if trim(s).is_empty() => continue,
            _ => None,
        };
        if let Some(after) = last_row.filter(|&last| row < last) {
            return Err(SheetError::Backwards {
                row,
                after: after + 1,
            });
        }
        last_row = Some(row);
        chunk.push(row, col, |out| match &uncomputed {
            Some(formula) => {
                out.push(Stored::Uncomputed.tag());
                out.push(b'=');
                out.extend_from_slice(formula.as_bytes());
            }
            None => write_ref(&cell.value, out),
        });
        if chunk.full() {
            let full = std::mem::replace(&mut chunk, Chunk::again(back));
            if sent.send(Sent::Cells(full)).is_err() {
                return Ok(());
            }
        }
    }
    if !chunk.cells.is_empty() {
        let _ = sent.send(Sent::Cells(chunk));
    }
    Ok(())
}

/// The cells of a worksheet as its reading thread sends them, one at a
/// time.
struct Cells {
    received: std::sync::mpsc::Receiver<Sent>,
    /// Chunks done with, back to the reading thread.
    back: std::sync::mpsc::Sender<Chunk>,
    chunk: Chunk,
    /// The next cell of the chunk, and where its field starts.
    at: usize,
    start: usize,
}

impl Cells {
    /// The place (row, column) of the next cell, `None` at the end of the
    /// sheet.
    fn peek(&mut self) -> Result<Option<(u32, u32)>, DataError> {
        loop {
            if let Some(cell) = self.chunk.cells.get(self.at) {
                return Ok(Some((cell.row, cell.col)));
            }
            match self.received.recv() {
                Ok(Sent::Cells(chunk)) => {
                    let done = std::mem::replace(&mut self.chunk, chunk);
                    // the thread may be done: the chunk is dropped then
                    let _ = self.back.send(done);
                    self.at = 0;
                    self.start = 0;
                }
                Ok(Sent::Name(_)) => {}
                Ok(Sent::Failed(e)) => return Err(e),
                // the thread is done: every cell is sent
                Err(_) => return Ok(None),
            }
        }
    }

    /// The field of the cell [`Cells::peek`] placed, taken.
    fn take(&mut self) -> &[u8] {
        let Some(cell) = self.chunk.cells.get(self.at) else {
            return &[];
        };
        let (start, end) = (self.start, cell.end as usize);
        self.at += 1;
        self.start = end;
        self.chunk.bytes.get(start..end).unwrap_or_default()
    }
}

/// The first worksheet of a workbook, read on a thread of its own while its
/// rows are handed out in order. Columns are those of the header, from its
/// first cell to its last: a cell under no header is ignored.
pub(super) struct Sheet {
    /// The cells after the header's row, in row order.
    cells: Cells,
    /// The header's first column.
    left: u32,
    /// The row being read: where each column's field lies in `bytes`.
    row: Vec<(usize, usize)>,
    /// The fields of the row being read, one after the other.
    bytes: Vec<u8>,
    /// The workbook's bytes: their SHA-256 and how many.
    sha256: String,
    size: u64,
}

impl Sheet {
    /// Reads a workbook (its bytes hashed for the manifest) and starts
    /// reading its first worksheet; gives the header's cells as written.
    /// A fault in the sheet after its header is told when the rows reach
    /// it ([`Sheet::next_batch`]).
    pub(super) fn open(open: &Open, path: &Path) -> Result<(Sheet, Vec<String>), DataError> {
        let unreadable = |source| DataError::Unreadable {
            path: path.to_path_buf(),
            source,
        };
        let mut bytes = Vec::new();
        open()
            .and_then(|mut r| r.read_to_end(&mut bytes))
            .map_err(unreadable)?;
        let sha256 = crate::load::sha256_hex(&bytes);
        let size = bytes.len() as u64;
        let (sent, received) = std::sync::mpsc::sync_channel(CHUNKS_AHEAD);
        let (back, comes_back) = std::sync::mpsc::channel();
        let owned = path.to_path_buf();
        std::thread::Builder::new()
            .name("workbook".into())
            .spawn(move || read_sheet(&owned, bytes, &sent, &comes_back))
            .map_err(unreadable)?;
        let name = match received.recv() {
            Ok(Sent::Name(name)) => name,
            Ok(Sent::Failed(e)) => return Err(e),
            Ok(Sent::Cells(_)) | Err(_) => {
                return Err(not_a_workbook(path, "its contents are malformed".into()))
            }
        };
        let mut cells = Cells {
            received,
            back,
            chunk: Chunk::default(),
            at: 0,
            start: 0,
        };
        // the header is the first row with something in it
        let Some((top, _)) = cells.peek()? else {
            return Err(DataError::EmptySheet {
                path: path.to_path_buf(),
                sheet: name,
            });
        };
        let mut header: Vec<(u32, String)> = Vec::new();
        while let Some((row, col)) = cells.peek()? {
            if row != top {
                break;
            }
            let text = split(cells.take()).1;
            header.push((col, String::from_utf8_lossy(text).into_owned()));
        }
        // in column order; stable, so a cell written twice keeps its last
        // value
        header.sort_by_key(|&(col, _)| col);
        let left = header.first().map_or(0, |c| c.0);
        let right = header.last().map_or(0, |c| c.0);
        let mut names = vec![String::new(); (right - left) as usize + 1];
        for (col, text) in header {
            if let Some(name) = names.get_mut((col - left) as usize) {
                *name = text;
            }
        }
        let sheet = Sheet {
            cells,
            left,
            row: vec![(0, 0); names.len()],
            bytes: Vec::new(),
            sha256,
            size,
        };
        Ok((sheet, names))
    }

    /// Reads up to `max` more rows into `out`, numbered by the sheet's rows.
    /// A row's cells in column order (as the format writes them) go
    /// straight into its record; a cell before one already placed (the
    /// format allows it) lays the row out by column first, the later of two
    /// cells at one place counting.
    pub(super) fn next_batch(&mut self, max: usize, out: &mut RawBatch) -> Result<(), DataError> {
        let width = self.row.len();
        while out.len < max {
            let Some((at, _)) = self.cells.peek()? else {
                break;
            };
            let slot = out.slot();
            slot.record.clear();
            // the columns written to the record so far, while in order
            let mut next = 0;
            let mut in_order = true;
            let mut any = false;
            while let Some((row, col)) = self.cells.peek()? {
                if row != at {
                    break;
                }
                let field = self.cells.take();
                let Some(i) = col
                    .checked_sub(self.left)
                    .map(|i| i as usize)
                    .filter(|&i| i < width)
                else {
                    // under no header
                    continue;
                };
                any = true;
                if in_order && i >= next {
                    for _ in next..i {
                        slot.record.push_field(b"");
                    }
                    slot.record.push_field(field);
                    next = i + 1;
                    continue;
                }
                if in_order {
                    // out of column order: the fields so far laid out by column
                    in_order = false;
                    self.row.fill((0, 0));
                    self.bytes.clear();
                    for (place, written) in self.row.iter_mut().zip(slot.record.iter()) {
                        let start = self.bytes.len();
                        self.bytes.extend_from_slice(written);
                        *place = (start, self.bytes.len());
                    }
                }
                if let Some(place) = self.row.get_mut(i) {
                    let start = self.bytes.len();
                    self.bytes.extend_from_slice(field);
                    *place = (start, self.bytes.len());
                }
            }
            if !any {
                // only cells under no header
                continue;
            }
            if in_order {
                for _ in next..width {
                    slot.record.push_field(b"");
                }
            } else {
                slot.record.clear();
                for &(start, end) in &self.row {
                    slot.record
                        .push_field(self.bytes.get(start..end).unwrap_or_default());
                }
            }
            slot.line = u64::from(at) + 1;
            slot.unterminated = false;
            out.len += 1;
        }
        Ok(())
    }

    /// The workbook's size: it is read whole when opened.
    pub(super) fn position(&self) -> u64 {
        self.size
    }

    /// SHA-256 of the workbook's bytes, lowercase hex.
    pub(super) fn sha256(&self) -> &str {
        &self.sha256
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_plain_and_shortest() {
        assert_eq!(plain(0.1), "0.1");
        assert_eq!(plain(1e20), "100000000000000000000");
        assert_eq!(plain(1234567.89), "1234567.89");
        assert_eq!(plain(-0.5), "-0.5");
        assert_eq!(plain(3.0), "3");
        assert_eq!(plain(1e-7), "0.0000001");
        assert_eq!(plain(-0.0), "0");
        assert_eq!(plain(420102.0), "420102");
        assert_eq!(plain(0.1 + 0.2), "0.30000000000000004");
        // an 18-digit code kept as a number has lost its last digits
        assert_eq!(plain(914201020000000123.0), "914201020000000100");
    }

    #[test]
    fn whole_numbers_are_written_as_format_writes_them() {
        for n in [0, 7, -7, 42, 2024, -123_456, i64::MAX, i64::MIN, 5, -5] {
            for width in [1, 2, 4] {
                let mut got = Vec::new();
                write_int(n, width, &mut got);
                assert_eq!(got, format!("{n:0width$}").into_bytes(), "{n} {width}");
            }
        }
    }

    #[test]
    fn dates_are_written_as_dates() {
        use calamine::ExcelDateTimeType::{DateTime, TimeDelta};
        let cell = |v, is_1904| Data::DateTime(ExcelDateTime::new(v, DateTime, is_1904));
        assert_eq!(written_value(&cell(45296.0, false)).1, "2024-01-05");
        assert_eq!(written_value(&cell(45296.75, false)).1, "2024-01-05");
        assert_eq!(written_value(&cell(43834.0, true)).1, "2024-01-05");
        assert_eq!(written_value(&cell(0.5, false)).1, "12:00:00");
        let span = Data::DateTime(ExcelDateTime::new(1.5, TimeDelta, false));
        assert_eq!(written_value(&span), (Stored::Number, Cow::Borrowed("1.5")));
        let iso = Data::DateTimeIso("2024-01-05T10:30:00".into());
        assert_eq!(written_value(&iso).1, "2024-01-05");
        assert_eq!(iso_date("10:30:00"), "10:30:00");
        assert_eq!(iso_date("2024-1-5"), "2024-1-5");
    }

    #[test]
    fn cells_keep_how_they_were_stored() {
        let na = Data::Error(calamine::CellErrorType::NA);
        assert_eq!(written_value(&na), (Stored::Error, Cow::Borrowed("#N/A")));
        assert_eq!(written_value(&Data::Bool(true)).1, "true");
        assert_eq!(written_value(&Data::Int(-7)), (Stored::Number, "-7".into()));
        for stored in [
            Stored::Text,
            Stored::Number,
            Stored::Error,
            Stored::Uncomputed,
        ] {
            let field = [&[stored.tag()][..], b"12.5"].concat();
            assert_eq!(split(&field), (stored, &b"12.5"[..]));
        }
        assert_eq!(split(b""), (Stored::Text, &b""[..]));
    }

    #[test]
    fn values_are_written_in_place_as_written_value_writes_them() {
        use calamine::{CellErrorType, DataRef, ExcelDateTimeType};
        let mut rng = crate::test_rng::Rng(0x510e_527f_ade6_82d1);
        let floats = [
            0.0,
            -0.0,
            0.1,
            1e20,
            3.0,
            -12.5,
            1e-7,
            45296.75,
            0.5,
            1.0,
            -1.0,
            1e300,
            f64::NAN,
        ];
        for _ in 0..5000 {
            let f = match rng.below(5) {
                0 => floats[rng.below(floats.len() as u64) as usize],
                1 => rng.below(1 << 40) as f64 / 100.0 - 1e9,
                // whole numbers, on both sides of 2^53
                2 => rng.below(1 << 20) as f64 - 5e5,
                3 => {
                    (rng.below(1 << 56) as f64 - 2f64.powi(55)) * [1.0, 0.5][rng.below(2) as usize]
                }
                _ => f64::from_bits(rng.below(u64::MAX)),
            };
            let text = ["", " ", "甲", "a b", "\u{3000}", "2024-01-05"][rng.below(6) as usize];
            let kind =
                [ExcelDateTimeType::DateTime, ExcelDateTimeType::TimeDelta][rng.below(2) as usize];
            let date = ExcelDateTime::new(
                [f, rng.below(80_000) as f64, rng.below(80_000) as f64 / 7.0]
                    [rng.below(3) as usize],
                kind,
                rng.below(2) == 0,
            );
            let value = match rng.below(10) {
                0 => DataRef::Int(match rng.below(3) {
                    0 => rng.below(u64::MAX) as i64,
                    1 => rng.below(2000) as i64 - 1000,
                    _ => [i64::MIN, i64::MAX, 0, -1][rng.below(4) as usize],
                }),
                1 | 2 => DataRef::Float(f),
                3 => DataRef::String(text.into()),
                4 => DataRef::SharedString(text),
                5 => DataRef::Bool(rng.below(2) == 0),
                6 | 7 => DataRef::DateTime(date),
                8 => DataRef::DateTimeIso(
                    ["2024-01-05T10:30:00", "10:30", ""][rng.below(3) as usize].into(),
                ),
                _ => DataRef::Error(CellErrorType::Div0),
            };
            let mut got = Vec::new();
            write_ref(&value, &mut got);
            let owned = Data::from(value.clone());
            let (stored, text) = written_value(&owned);
            let mut want = Vec::new();
            write_field(stored, &text, &mut want);
            assert_eq!(got, want, "{value:?}");
        }
    }

    /// The rows [`Sheet::next_batch`] makes of `cells` (row, column,
    /// field), laid out as the plain way lays them: by column, the later of
    /// two cells at one place counting, a row of cells under no header none.
    fn laid_out(
        cells: &[(u32, u32, Vec<u8>)],
        left: u32,
        width: usize,
    ) -> Vec<(u64, Vec<Vec<u8>>)> {
        let mut rows: Vec<(u64, Vec<Vec<u8>>)> = Vec::new();
        let mut last = None;
        for (row, col, field) in cells {
            if last != Some(*row) {
                last = Some(*row);
                rows.push((u64::from(*row) + 1, Vec::new()));
            }
            let Some(i) = col
                .checked_sub(left)
                .map(|i| i as usize)
                .filter(|&i| i < width)
            else {
                continue;
            };
            if let Some((_, fields)) = rows.last_mut() {
                fields.resize(width, Vec::new());
                fields[i] = field.clone();
            }
        }
        rows.retain(|(_, fields)| !fields.is_empty());
        rows
    }

    #[test]
    fn rows_read_in_column_order_or_not_are_laid_out_by_column() {
        let mut rng = crate::test_rng::Rng(0x9b05_688c_2b3e_6c1f);
        let texts: [&[u8]; 6] = [
            b"",
            b"t",
            b"tabc",
            b"n12.5",
            b"e#N/A",
            "t\u{7532}".as_bytes(),
        ];
        for case in 0..300 {
            let left = rng.below(3) as u32;
            let width = 1 + rng.below(8) as usize;
            // cells in row order, columns in order but now and then not,
            // twice at one place, or under no header
            let mut cells = Vec::new();
            let mut row = 1 + rng.below(3) as u32;
            for _ in 0..rng.below(40) {
                row += rng.below(3) as u32;
                let mut col = rng.below(2) as u32;
                for _ in 0..rng.below(10) {
                    col = match rng.below(8) {
                        0 => rng.below(width as u64 + 4) as u32,
                        1 => col,
                        _ => col + rng.below(3) as u32,
                    };
                    let text = texts[rng.below(texts.len() as u64) as usize].to_vec();
                    cells.push((row, col, text));
                }
            }
            let (sent, received) = std::sync::mpsc::channel();
            let (back, _comes_back) = std::sync::mpsc::channel();
            let per_chunk = 1 + rng.below(7) as usize;
            for part in cells.chunks(per_chunk) {
                let mut chunk = Chunk::default();
                for (row, col, text) in part {
                    chunk.push(*row, *col, |out| out.extend_from_slice(text));
                }
                sent.send(Sent::Cells(chunk)).unwrap();
            }
            drop(sent);
            let mut sheet = Sheet {
                cells: Cells {
                    received,
                    back,
                    chunk: Chunk::default(),
                    at: 0,
                    start: 0,
                },
                left,
                row: vec![(0, 0); width],
                bytes: Vec::new(),
                sha256: String::new(),
                size: 0,
            };
            let mut got = Vec::new();
            let mut batch = RawBatch::default();
            loop {
                sheet
                    .next_batch(1 + rng.below(5) as usize, &mut batch)
                    .unwrap();
                if batch.rows().is_empty() {
                    break;
                }
                for raw in batch.rows() {
                    let fields = raw.record.iter().map(<[u8]>::to_vec).collect();
                    got.push((raw.line, fields));
                }
                batch.len = 0;
            }
            assert_eq!(got, laid_out(&cells, left, width), "case {case}: {cells:?}");
        }
    }
}
