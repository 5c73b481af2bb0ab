//! Files for people: CSV that Excel and WPS open on Chinese Windows
//! (UTF-8 with a byte-order mark, or GB18030), and Excel workbooks written a
//! row at a time (rust_xlsxwriter's constant-memory mode), a sheet split
//! where it would pass Excel's 1,048,576 rows.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

/// Excel's rows per sheet.
pub const EXCEL_ROWS: u32 = 1_048_576;

/// The deflate level of the workbooks' zip (1 fastest to 9; the zip
/// crate's default is 6). Compressing the 1.1 GB of sheet XML of 1,000,000
/// firms × 50 policies took 8.7 s of CPU at 6 and about 2.5 s at 2, for a
/// file of 116 MB instead of 101 MB (level 1: 150 MB; 3: 111 MB and twice
/// the time of 2). The sheets' XML is the same at every level.
const ZIP_LEVEL: u8 = 2;

/// One cell of a published row.
pub enum Value<'a> {
    /// Text; a code stays text in the workbook (never `9.14E+17`).
    Text(&'a str),
    /// Yuan, shown with two decimals.
    Money(Decimal),
    Count(u64),
}

impl Value<'_> {
    /// The cell as a CSV field, into `out` (cleared first).
    fn csv(&self, out: &mut Vec<u8>) {
        out.clear();
        // writing into a Vec cannot fail
        let _ = match self {
            Value::Text(t) if looks_numeric(t) => write!(out, "\t{t}"),
            Value::Text(t) => out.write_all(t.as_bytes()),
            Value::Money(d) => {
                yuan(*d, out);
                Ok(())
            }
            Value::Count(n) => {
                digits(u128::from(*n), out);
                Ok(())
            }
        };
    }

    /// Columns the cell takes; `scratch` holds a number's text.
    fn width(&self, scratch: &mut Vec<u8>) -> usize {
        match self {
            Value::Text(t) => crate::width::width(t),
            Value::Money(d) if !d.is_zero() => {
                // the length of `cents(d)` shown, without showing it
                let c = crate::eval::cents(*d);
                let digits = c
                    .mantissa()
                    .unsigned_abs()
                    .checked_ilog10()
                    .map_or(1, |l| l as usize + 1);
                let scale = c.scale() as usize;
                digits.max(scale + 1)
                    + usize::from(scale > 0)
                    + usize::from(c.is_sign_negative())
                    + 4
            }
            Value::Money(_) | Value::Count(_) => {
                self.csv(scratch);
                scratch.len()
                    + if matches!(self, Value::Money(_)) {
                        4
                    } else {
                        1
                    }
            }
        }
    }
}

/// `cents(d)` as its `Display` writes it (`-1234.50`), without the
/// formatting machinery: the CSV files show millions of amounts.
fn yuan(d: Decimal, out: &mut Vec<u8>) {
    let c = crate::eval::cents(d);
    if c.scale() != 2 {
        // too large to show in cents (past 28 digits): as Decimal shows it
        let _ = write!(out, "{c}");
        return;
    }
    if c.is_sign_negative() {
        out.push(b'-');
    }
    let m = c.mantissa().unsigned_abs();
    digits(m / 100, out);
    let cents = (m % 100) as u8;
    out.extend_from_slice(&[b'.', b'0' + cents / 10, b'0' + cents % 10]);
}

/// A number's decimal digits.
fn digits(mut n: u128, out: &mut Vec<u8>) {
    let mut buf = [0u8; 40];
    let mut at = buf.len();
    loop {
        at -= 1;
        if let Some(b) = buf.get_mut(at) {
            *b = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || at == 0 {
            break;
        }
    }
    out.extend_from_slice(buf.get(at..).unwrap_or_default());
}

/// The CSV writer's buffer: its contents go to the file in one write.
const CSV_BUFFER: usize = 1 << 18;

/// How people's CSV files are encoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PeopleEncoding {
    /// UTF-8 with a byte-order mark (what Excel needs to see UTF-8).
    #[default]
    Utf8Bom,
    /// GB18030, as older Chinese office software expects.
    Gb18030,
}

/// A CSV file for people. A cell that Excel would read as a number although
/// it is a code (an all-digit credit code) is written after a tab, which
/// keeps it text and shows nothing.
pub struct PeopleCsv {
    w: csv::Writer<Transcode>,
    field: Vec<u8>,
}

impl PeopleCsv {
    pub fn create(path: &Path, encoding: PeopleEncoding) -> std::io::Result<PeopleCsv> {
        let mut out = BufWriter::with_capacity(1 << 16, File::create(path)?);
        if encoding == PeopleEncoding::Utf8Bom {
            out.write_all("\u{feff}".as_bytes())?;
        }
        let encoder =
            (encoding == PeopleEncoding::Gb18030).then(|| encoding_rs::GB18030.new_encoder());
        Ok(PeopleCsv {
            w: csv::WriterBuilder::new()
                .buffer_capacity(CSV_BUFFER)
                .from_writer(Transcode {
                    out,
                    encoder,
                    pending: Vec::new(),
                }),
            field: Vec::new(),
        })
    }

    pub fn header(&mut self, names: &[&str]) -> std::io::Result<()> {
        self.w.write_record(names).map_err(std::io::Error::other)
    }

    pub fn row(&mut self, cells: &[Value<'_>]) -> std::io::Result<()> {
        for c in cells {
            let field = match c {
                // most cells: the text as it is, not copied first
                Value::Text(t) if !looks_numeric(t) => t.as_bytes(),
                _ => {
                    c.csv(&mut self.field);
                    &self.field
                }
            };
            self.w.write_field(field).map_err(std::io::Error::other)?;
        }
        self.w
            .write_record(None::<&[u8]>)
            .map_err(std::io::Error::other)
    }

    pub fn finish(self) -> std::io::Result<()> {
        let mut t = self.w.into_inner().map_err(|e| e.into_error())?;
        t.flush()?;
        Ok(())
    }
}

/// A long code Excel would turn into a number (and round): 12 or more digits.
fn looks_numeric(t: &str) -> bool {
    t.len() >= 12 && t.bytes().all(|b| b.is_ascii_digit())
}

/// UTF-8 in, the chosen encoding out (a character split between two writes
/// waits for its end).
struct Transcode {
    out: BufWriter<File>,
    encoder: Option<encoding_rs::Encoder>,
    pending: Vec<u8>,
}

impl Write for Transcode {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let Some(encoder) = &mut self.encoder else {
            return self.out.write(buf);
        };
        self.pending.extend_from_slice(buf);
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(s) => s.len(),
            Err(e) => e.valid_up_to(),
        };
        let text =
            std::str::from_utf8(self.pending.get(..valid).unwrap_or_default()).unwrap_or_default();
        let mut bytes = Vec::with_capacity(text.len() + 16);
        let mut rest = text;
        loop {
            let mut chunk = [0u8; 4096];
            let (result, read, written, _) = encoder.encode_from_utf8(rest, &mut chunk, false);
            bytes.extend_from_slice(chunk.get(..written).unwrap_or_default());
            rest = rest.get(read..).unwrap_or_default();
            if result == encoding_rs::CoderResult::InputEmpty {
                break;
            }
        }
        self.out.write_all(&bytes)?;
        self.pending.drain(..valid);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// A column of a sheet.
#[derive(Clone, Copy)]
pub struct Column<'a> {
    pub title: &'a str,
    /// A code: formatted as text, so that edits keep it text too.
    pub code: bool,
}

pub const fn col(title: &str) -> Column<'_> {
    Column { title, code: false }
}

pub const fn code(title: &str) -> Column<'_> {
    Column { title, code: true }
}

/// An Excel workbook written sheet after sheet, row after row. Each sheet
/// is created here (its name, title and header) and filled on one of a few
/// threads, the least loaded, which the rows reach in batches while the
/// caller goes on; saving puts the sheets back in order and compresses the
/// workbook on a thread of its own.
pub struct Book {
    wb: Workbook,
    /// Data rows a sheet holds (below its title and header).
    per_sheet: u32,
    names: Vec<String>,
    bold: Format,
    workers: Vec<Worker>,
    /// Rows given to each worker so far.
    load: Vec<u64>,
    current: Option<Open>,
    batch: Batch,
}

/// The sheet being written.
struct Open {
    worker: usize,
    name: String,
    title: String,
    columns: Vec<(String, bool)>,
    /// Rows in the current part, title and header included.
    row: u32,
    part: u32,
    parts: u32,
}

/// A thread filling sheets.
struct Worker {
    to: Option<SyncSender<Batch>>,
    thread: Option<JoinHandle<std::io::Result<Vec<Filled>>>>,
}

/// A sheet part filled, with its place in the workbook.
type Filled = (usize, Worksheet);

/// Rows on their way to a worker: the texts of their cells one after the
/// other, and what to do with them.
#[derive(Default)]
struct Batch {
    text: String,
    cells: Vec<Cell>,
    ops: Vec<Op>,
}

/// A cell of a batch; a text is a range of the batch's text.
enum Cell {
    Text(usize, usize),
    Money(Decimal),
    Count(u64),
}

enum Op {
    /// A new sheet's columns (titles, and whether each holds codes).
    Sheet(Vec<(String, bool)>),
    /// The rows that follow go to this part (its title and header written).
    Part(usize, Box<Worksheet>),
    /// A row of that many cells.
    Row(usize),
}

/// A batch is sent once it holds this much text, or this many cells.
const BATCH_TEXT: usize = 1 << 20;
const BATCH_CELLS: usize = 1 << 16;
/// Batches in flight to the workers, shared out among them (what bounds the
/// memory between them: about 2.3 MiB a batch of the notice lists, so some
/// 75 MiB at most). A policy's list is a few batches, so the caller can run
/// a sheet or two ahead of each worker: the workers are then busy at once,
/// not in turn (with 4 a worker, the caller waited on the sheet it was
/// sending while the other worker ran dry).
const BATCHES: usize = 32;
/// Threads filling the sheets of a workbook, at most.
const WORKERS: usize = 4;

impl Book {
    /// `sheet_rows` is the most rows a sheet may have (Excel's limit, or
    /// fewer to try splitting); `created` is the day the workbook says it
    /// was created (the publication date, never the clock: the same run
    /// published twice gives the same bytes).
    pub fn new(sheet_rows: u32, created: crate::date::Date) -> std::io::Result<Book> {
        let n = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .clamp(1, WORKERS);
        let mut workers = Vec::with_capacity(n);
        for _ in 0..n {
            let (to, from) = sync_channel::<Batch>(BATCHES / n);
            let thread = std::thread::Builder::new()
                .name("sheets".into())
                .spawn(move || {
                    let mut w = Filler::default();
                    for batch in from {
                        w.batch(batch)?;
                    }
                    w.finish()
                })?;
            workers.push(Worker {
                to: Some(to),
                thread: Some(thread),
            });
        }
        let day = |n: u32| u8::try_from(n).unwrap_or(0);
        let created = ExcelDateTime::from_ymd(
            u16::try_from(created.year()).unwrap_or(0),
            day(created.month()),
            day(created.day()),
        )
        .map_err(xlsx)?;
        let mut wb = Workbook::new();
        wb.set_properties(&DocProperties::new().set_creation_datetime(&created));
        let bold = Format::new().set_bold();
        // rust_xlsxwriter numbers a constant-memory sheet's formats in a
        // table its sheets share, and two sheet threads meeting a format for
        // the first time at once can give it two numbers, one of them
        // another format's (a credit code shown as money, and a workbook
        // that differs from run to run): every format is numbered here,
        // before any thread sees it, always in this order
        let first = wb.add_worksheet_with_constant_memory().map_err(xlsx)?;
        for (c, format) in [&bold, &code_format(), &money_format()]
            .into_iter()
            .enumerate()
        {
            first.set_column_format(c as u16, format).map_err(xlsx)?;
        }
        wb.worksheets_mut().pop();
        Ok(Book {
            wb,
            per_sheet: sheet_rows.clamp(3, EXCEL_ROWS) - 2,
            names: Vec::new(),
            bold,
            load: vec![0; n],
            workers,
            current: None,
            batch: Batch::default(),
        })
    }

    /// Starts a sheet named `name` whose first row is `title`; `rows` is how
    /// many data rows will follow (to say in the title when it is split).
    pub fn sheet(
        &mut self,
        name: &str,
        title: &str,
        columns: &[Column<'_>],
        rows: u64,
    ) -> std::io::Result<()> {
        self.send()?;
        let parts =
            u32::try_from(rows.div_ceil(u64::from(self.per_sheet)).max(1)).unwrap_or(u32::MAX);
        let worker = (0..self.load.len())
            .min_by_key(|&w| self.load.get(w).copied().unwrap_or(0))
            .unwrap_or(0);
        if let Some(l) = self.load.get_mut(worker) {
            *l += rows;
        }
        let columns: Vec<(String, bool)> = columns
            .iter()
            .map(|c| (c.title.to_string(), c.code))
            .collect();
        self.batch.ops.push(Op::Sheet(columns.clone()));
        self.current = Some(Open {
            worker,
            name: name.to_string(),
            title: title.to_string(),
            columns,
            row: 0,
            part: 0,
            parts,
        });
        self.part()
    }

    /// Opens the next part of the current sheet: title, header, frozen.
    fn part(&mut self) -> std::io::Result<()> {
        let Some(open) = &mut self.current else {
            return Ok(());
        };
        open.part += 1;
        let (name, title) = if open.parts > 1 {
            (
                format!("{}（{}）", cut(&open.name, 25), open.part),
                format!(
                    "{}（超过Excel每表行数上限，分{}个工作表，此为第{}个）",
                    open.title, open.parts, open.part
                ),
            )
        } else {
            (cut(&open.name, 31), open.title.clone())
        };
        let name = unique(&mut self.names, sheet_name(&name));
        let ws = self.wb.add_worksheet_with_constant_memory().map_err(xlsx)?;
        ws.set_name(&name).map_err(xlsx)?;
        ws.write_string_with_format(0, 0, &title, &self.bold)
            .map_err(xlsx)?;
        for (c, (t, _)) in open.columns.iter().enumerate() {
            ws.write_string_with_format(1, c as u16, t, &self.bold)
                .map_err(xlsx)?;
        }
        ws.set_freeze_panes(2, 0).map_err(xlsx)?;
        open.row = 2;
        // taken out to be filled, put back in its place when saved
        let index = self.wb.worksheets().len().saturating_sub(1);
        let ws = self
            .wb
            .worksheets_mut()
            .get_mut(index)
            .map(|w| std::mem::replace(w, Worksheet::new()))
            .ok_or_else(|| std::io::Error::other("a new worksheet is missing"))?;
        self.batch.ops.push(Op::Part(index, Box::new(ws)));
        Ok(())
    }

    pub fn row(&mut self, cells: &[Value<'_>]) -> std::io::Result<()> {
        if self
            .current
            .as_ref()
            .is_some_and(|o| o.row >= self.per_sheet + 2)
        {
            self.part()?;
        }
        let Some(open) = &mut self.current else {
            return Ok(());
        };
        open.row += 1;
        let b = &mut self.batch;
        for cell in cells {
            b.cells.push(match cell {
                Value::Text(t) => {
                    let start = b.text.len();
                    b.text.push_str(t);
                    Cell::Text(start, b.text.len())
                }
                Value::Money(d) => Cell::Money(*d),
                Value::Count(n) => Cell::Count(*n),
            });
        }
        b.ops.push(Op::Row(cells.len()));
        if b.text.len() >= BATCH_TEXT || b.cells.len() >= BATCH_CELLS {
            self.send()?;
        }
        Ok(())
    }

    /// Hands the batch to the current sheet's worker; if it has stopped,
    /// its error.
    fn send(&mut self) -> std::io::Result<()> {
        if self.batch.ops.is_empty() {
            return Ok(());
        }
        let at = self.current.as_ref().map_or(0, |o| o.worker);
        let batch = std::mem::take(&mut self.batch);
        let Some(worker) = self.workers.get_mut(at) else {
            return Ok(());
        };
        if worker.to.as_ref().is_some_and(|to| to.send(batch).is_ok()) {
            return Ok(());
        }
        Err(worker
            .finish()
            .err()
            .unwrap_or_else(|| std::io::Error::other("a worksheet writer stopped")))
    }

    /// Saves the workbook to `path` once its sheets are filled; it is
    /// compressed while the caller goes on, and [`Saving::wait`] says when
    /// it is written.
    /// The sheets still being filled are waited for on that thread too, so
    /// the caller goes on at once.
    pub fn save(mut self, path: &Path) -> std::io::Result<Saving> {
        self.send()?;
        let mut workers = std::mem::take(&mut self.workers);
        let mut wb = std::mem::take(&mut self.wb);
        let path = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("workbook".into())
            .spawn(move || {
                for w in &mut workers {
                    for (index, ws) in w.finish()? {
                        if let Some(slot) = wb.worksheets_mut().get_mut(index) {
                            *slot = ws;
                        }
                    }
                }
                if wb.worksheets().is_empty() {
                    wb.add_worksheet();
                }
                wb.set_zip_compression_level(ZIP_LEVEL);
                wb.save(path).map_err(xlsx)
            })?;
        Ok(Saving {
            thread: Some(thread),
        })
    }
}

impl Worker {
    /// Waits for the worker to fill what it was sent: the sheets it filled.
    fn finish(&mut self) -> std::io::Result<Vec<Filled>> {
        self.to = None;
        match self.thread.take().map(JoinHandle::join) {
            None => Ok(Vec::new()),
            Some(Ok(done)) => done,
            Some(Err(_)) => Err(std::io::Error::other("a worksheet writer failed")),
        }
    }
}

impl Drop for Book {
    fn drop(&mut self) {
        for w in &mut self.workers {
            let _ = w.finish();
        }
    }
}

/// A workbook being compressed and saved.
pub struct Saving {
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl Saving {
    pub fn wait(mut self) -> std::io::Result<()> {
        self.join()
    }

    fn join(&mut self) -> std::io::Result<()> {
        match self.thread.take().map(JoinHandle::join) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(e),
            Some(Err(_)) => Err(std::io::Error::other("saving the workbook failed")),
        }
    }
}

impl Drop for Saving {
    fn drop(&mut self) {
        let _ = self.join();
    }
}

/// A worker's sheets: the part being filled and those done.
struct Filler {
    text: Format,
    money: Format,
    columns: Vec<(String, bool)>,
    widths: Vec<usize>,
    /// The part being filled and its next row.
    part: Option<(usize, Box<Worksheet>, u32)>,
    /// The current part's columns given their format (code as text, money)
    /// as a column format: their cells are then written without one, which
    /// spares the writer looking each cell's format up (Excel shows a cell
    /// without a format of its own in its column's format).
    formatted: Vec<bool>,
    done: Vec<Filled>,
    /// A number's text, to size its column.
    scratch: Vec<u8>,
}

impl Default for Filler {
    fn default() -> Filler {
        Filler {
            text: code_format(),
            money: money_format(),
            columns: Vec::new(),
            widths: Vec::new(),
            part: None,
            formatted: Vec::new(),
            done: Vec::new(),
            scratch: Vec::new(),
        }
    }
}

impl Filler {
    /// Does what a batch says.
    fn batch(&mut self, batch: Batch) -> std::io::Result<()> {
        let mut cells = batch.cells.iter();
        let mut row = Vec::new();
        for op in batch.ops {
            match op {
                Op::Sheet(columns) => {
                    self.close()?;
                    self.widths = columns.iter().map(|c| crate::width::width(&c.0)).collect();
                    self.columns = columns;
                }
                Op::Part(index, ws) => {
                    self.close()?;
                    self.part = Some((index, ws, 2));
                    self.formatted.clear();
                }
                Op::Row(n) => {
                    row.clear();
                    row.extend(cells.by_ref().take(n).map(|c| match c {
                        Cell::Text(a, b) => Value::Text(batch.text.get(*a..*b).unwrap_or_default()),
                        Cell::Money(d) => Value::Money(*d),
                        Cell::Count(n) => Value::Count(*n),
                    }));
                    self.row(&row)?;
                }
            }
        }
        Ok(())
    }

    fn row(&mut self, cells: &[Value<'_>]) -> std::io::Result<()> {
        let Some((_, ws, at)) = &mut self.part else {
            return Ok(());
        };
        for (c, cell) in cells.iter().enumerate() {
            let col = c as u16;
            if let Some(w) = self.widths.get_mut(c) {
                // a text is never wider than its bytes
                if !matches!(cell, Value::Text(t) if t.len() <= *w) {
                    *w = (*w).max(cell.width(&mut self.scratch));
                }
            }
            let format = match cell {
                Value::Text(_) if self.columns.get(c).is_some_and(|(_, code)| *code) => {
                    Some(&self.text)
                }
                Value::Money(_) => Some(&self.money),
                _ => None,
            };
            if let Some(format) = format {
                if self.formatted.len() <= c {
                    self.formatted.resize(c + 1, false);
                }
                if let Some(done @ false) = self.formatted.get_mut(c) {
                    ws.set_column_format(col, format).map_err(xlsx)?;
                    *done = true;
                }
            }
            match cell {
                Value::Text(t) => ws.write_string(*at, col, *t),
                Value::Money(d) => {
                    ws.write_number(*at, col, crate::eval::cents(*d).to_f64().unwrap_or(0.0))
                }
                Value::Count(n) => ws.write_number(*at, col, *n as f64),
            }
            .map_err(xlsx)?;
        }
        *at += 1;
        Ok(())
    }

    /// Sizes the current part's columns to what its sheet holds so far, and
    /// sets it aside.
    fn close(&mut self) -> std::io::Result<()> {
        let Some((index, mut ws, _)) = self.part.take() else {
            return Ok(());
        };
        for (c, w) in self.widths.iter().enumerate() {
            ws.set_column_width(c as u16, (*w as f64 + 2.0).min(80.0))
                .map_err(xlsx)?;
        }
        self.done.push((index, *ws));
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<Vec<Filled>> {
        self.close()?;
        Ok(self.done)
    }
}

/// A column of codes: text, never a number.
fn code_format() -> Format {
    Format::new().set_num_format("@")
}

/// A column of yuan.
fn money_format() -> Format {
    Format::new().set_num_format("#,##0.00")
}

fn xlsx(e: XlsxError) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// At most `n` characters.
fn cut(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// A sheet name Excel accepts: no `[]:*?/\`, not empty, at most 31 characters.
fn sheet_name(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .collect();
    let cleaned = cleaned.trim_matches('\'').to_string();
    if cleaned.is_empty() {
        "Sheet".into()
    } else {
        cut(&cleaned, 31)
    }
}

/// The name, or the name with a number, not yet used (Excel compares
/// sheet names without case).
fn unique(used: &mut Vec<String>, name: String) -> String {
    let taken =
        |n: &str, used: &Vec<String>| used.iter().any(|u| u.to_lowercase() == n.to_lowercase());
    let mut candidate = name.clone();
    let mut i = 2;
    while taken(&candidate, used) {
        let suffix = format!("_{i}");
        candidate = format!("{}{suffix}", cut(&name, 31 - suffix.chars().count()));
        i += 1;
    }
    used.push(candidate.clone());
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    /// Every sheet of a workbook filled by several threads gives a code
    /// column the text format and a money column the money format, with
    /// the same style numbers in every workbook, whichever format the
    /// sheets meet first: here the first sheet has no code column, so its
    /// money is met first. (Formats were numbered as the sheet threads met
    /// them, and two threads meeting one at once could number it twice; the
    /// race itself is rare, caught once by the publish test's two
    /// publications differing, and not provoked here.)
    #[test]
    fn formats_are_numbered_the_same_in_every_sheet_and_workbook() {
        use std::io::Read;
        let dir = std::env::temp_dir().join(format!("mianshen-book-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let columns = [col("名称"), code("代码"), col("金额")];
        let money = Decimal::from_str("12.5").unwrap();
        for round in 0..8 {
            let path = dir.join(format!("{round}.xlsx"));
            let mut book =
                Book::new(EXCEL_ROWS, crate::date::Date::new(2025, 1, 6).unwrap()).unwrap();
            book.sheet("无代码", "标题", &[col("名称"), col("金额")], 3)
                .unwrap();
            for _ in 0..3 {
                book.row(&[Value::Text("某公司"), Value::Money(money)])
                    .unwrap();
            }
            for s in 1..24 {
                book.sheet(&format!("表{s}"), "标题", &columns, 3).unwrap();
                for _ in 0..3 {
                    let cells = [
                        Value::Text("某公司"),
                        Value::Text("0042"),
                        Value::Money(money),
                    ];
                    book.row(&cells).unwrap();
                }
            }
            book.save(&path).unwrap().wait().unwrap();
            let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
            for s in 1..=24 {
                let mut xml = String::new();
                zip.by_name(&format!("xl/worksheets/sheet{s}.xml"))
                    .unwrap()
                    .read_to_string(&mut xml)
                    .unwrap();
                let style = |cell: &str| {
                    let at = format!(r#"<c r="{cell}" s=""#);
                    let rest = &xml[xml.find(&at)? + at.len()..];
                    Some(rest[..rest.find('"')?].to_string())
                };
                let (code, yuan) = if s == 1 {
                    (Some("2".to_string()), style("B3"))
                } else {
                    (style("B3"), style("C3"))
                };
                assert_eq!(
                    (code.as_deref(), yuan.as_deref()),
                    (Some("2"), Some("3")),
                    "round {round}, sheet {s}: {xml}"
                );
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The amounts and counts written digit by digit are what `Display`
    /// writes.
    #[test]
    fn amounts_and_counts_are_written_as_displayed() {
        let mut rng = crate::test_rng::Rng(0x9e37_79b9_7f4a_7c15);
        let mut cases: Vec<Decimal> = [
            "0",
            "-0",
            "0.00",
            "-0.001",
            "0.005",
            "0.004",
            "-0.005",
            "1",
            "9.99",
            "10",
            "199999.995",
            "-3.2",
            "123456789012.345",
            "79228162514264337593543950335",
            "-79228162514264337593543950335",
            "7922816251426433759354395033.5",
            "792281625142643375935439503.35",
        ]
        .iter()
        .map(|m| Decimal::from_str(m).unwrap())
        .collect();
        for _ in 0..20_000 {
            let m = i128::from(rng.next() as i64) >> (rng.next() % 60);
            let scale = (rng.next() % 8) as u32;
            cases.push(Decimal::from_i128_with_scale(m, scale));
        }
        let mut out = Vec::new();
        for d in cases {
            out.clear();
            Value::Money(d).csv(&mut out);
            assert_eq!(
                String::from_utf8(out.clone()).unwrap(),
                crate::eval::cents(d).to_string(),
                "{d}"
            );
        }
        for n in [0, 1, 9, 10, 99, 100, 12345, u64::MAX - 1, u64::MAX]
            .into_iter()
            .chain((0..10_000).map(|_| rng.next() >> (rng.next() % 64)))
        {
            out.clear();
            Value::Count(n).csv(&mut out);
            assert_eq!(String::from_utf8(out.clone()).unwrap(), n.to_string());
        }
    }

    /// A file written through [`PeopleCsv`] is what the csv crate writes of
    /// the same fields, cell by cell.
    #[test]
    fn people_csv_is_the_csv_writers() {
        let dir = std::env::temp_dir().join(format!("mianshen-pcsv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let texts = [
            "",
            "某公司",
            "a,b",
            "say \"hi\"",
            "line\nbreak",
            "cr\r",
            " lead",
            "914201020000000000",
            "12345678901",
            "123456789012",
            "0042",
            "x",
            "\u{feff}",
        ];
        let mut rng = crate::test_rng::Rng(0x2545_f491_4f6c_dd1d);
        let mut rows: Vec<Vec<Value<'_>>> = Vec::new();
        for _ in 0..3000 {
            let row = (0..5)
                .map(|i| match (rng.next() % 4, i) {
                    (0, _) => Value::Money(Decimal::from_i128_with_scale(
                        i128::from(rng.next() as i32),
                        (rng.next() % 4) as u32,
                    )),
                    (1, _) => Value::Count(rng.next() % 100_000),
                    _ => Value::Text(texts[(rng.next() % texts.len() as u64) as usize]),
                })
                .collect();
            rows.push(row);
        }
        for encoding in [PeopleEncoding::Utf8Bom, PeopleEncoding::Gb18030] {
            let path = dir.join("fast.csv");
            let mut fast = PeopleCsv::create(&path, encoding).unwrap();
            fast.header(&["一", "二", "三", "四", "五"]).unwrap();
            let mut plain = Vec::new();
            if encoding == PeopleEncoding::Utf8Bom {
                plain.extend_from_slice("\u{feff}".as_bytes());
            }
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(["一", "二", "三", "四", "五"]).unwrap();
            let mut field = Vec::new();
            for row in &rows {
                fast.row(row).unwrap();
                for c in row {
                    c.csv(&mut field);
                    w.write_field(&field).unwrap();
                }
                w.write_record(None::<&[u8]>).unwrap();
            }
            fast.finish().unwrap();
            let text = w.into_inner().unwrap();
            match encoding {
                PeopleEncoding::Utf8Bom => plain.extend_from_slice(&text),
                PeopleEncoding::Gb18030 => {
                    let (bytes, _, _) =
                        encoding_rs::GB18030.encode(std::str::from_utf8(&text).unwrap());
                    plain.extend_from_slice(&bytes);
                }
            }
            assert!(std::fs::read(&path).unwrap() == plain, "{encoding:?}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn money_width_is_that_of_its_text() {
        let mut scratch = Vec::new();
        for m in [
            "0.01",
            "0.5",
            "1",
            "9.99",
            "10",
            "199999.995",
            "200000",
            "-3.2",
            "-0.004",
            "123456789012.345",
        ] {
            let v = Value::Money(Decimal::from_str(m).unwrap());
            let mut text = Vec::new();
            v.csv(&mut text);
            assert_eq!(v.width(&mut scratch), text.len() + 4, "{m}");
        }
    }
}
