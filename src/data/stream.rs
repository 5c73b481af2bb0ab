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

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use csv::ByteRecord;

use super::cell::{parse_cell, parse_json, shown, trim};
use super::json::{not_an_object, value_text, Entries};
use super::source::{choose, decode, Lines, Tracked, SNIFF};
use super::{DataError, Encoding, ReadOptions, Reject};
use crate::record::{Cell, Record};
use crate::schema::{uscc_valid, Check, Field, Schema};

/// Rejects of one row sort by column position: whole-row problems first, an
/// absent JSON key last.
const WHOLE_ROW: usize = 0;
const ABSENT: usize = usize::MAX;

/// Opens the data from its start: once to read it, and once more when some
/// key is on several rows.
pub type Open = dyn Fn() -> std::io::Result<Box<dyn Read + Send>> + Send + Sync;

/// A header column.
#[derive(Clone, Debug)]
struct Column {
    /// As written (byte-order mark removed): rejects name it so.
    header: String,
    /// The field it fills; `None` for an unknown column, whose cells are ignored.
    field: Option<usize>,
}

/// One row as read: its line and raw cells (a JSON line is one cell).
#[derive(Clone, Debug, Default)]
pub struct RawRow {
    pub line: u64,
    record: ByteRecord,
    /// A double quote opened in this row is never closed: the row ran to the
    /// end of the file.
    unterminated: bool,
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

    /// The next row to fill.
    fn slot(&mut self) -> &mut RawRow {
        if self.rows.len() <= self.len {
            self.rows.resize_with(self.len + 1, RawRow::default);
        }
        let i = self.len;
        #[allow(clippy::indexing_slicing)] // resized just above to hold index `len`
        &mut self.rows[i]
    }
}

/// What a parser needs, shared read-only between threads.
#[derive(Clone)]
pub struct RowParser {
    schema: Schema,
    json: bool,
    encoding: Encoding,
    columns: Vec<Column>,
    /// Every key found on more than one row, with its rows (known only
    /// when the rows are read again, [`Stream::reparse`]).
    duplicates: HashMap<Box<str>, Repeated>,
    /// Fields whose values are kept; text and list cells of other fields are
    /// checked but not stored (evaluation never reads them).
    keep: Option<Vec<bool>>,
}

/// What parsing noticed besides records and rejects, gathered per chunk of
/// rows and joined in file order.
#[derive(Default)]
pub struct Seen {
    /// The key of every rejected row that has one, with its line: it takes
    /// part in the duplicate check like the keys of records.
    pub keys: Vec<(Box<str>, u64)>,
    /// Keys of JSON lines that name no field.
    unknown: Unknown,
}

impl Seen {
    /// Adds what a later chunk saw.
    pub fn join(&mut self, later: Seen) {
        self.keys.extend(later.keys);
        for name in later.unknown.names {
            self.unknown.add(&name);
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
    path: PathBuf,
}

/// What the whole file told once read: for the manifest and the summary.
#[derive(Clone, Debug, Default)]
pub struct StreamInfo {
    pub rows: u64,
    pub sha256: String,
    pub unknown_columns: Vec<String>,
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
    Ok((Tracked::new(chained, encoding == Encoding::Utf8), encoding))
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
    /// first row, the columns (none for JSON Lines) and the encoding.
    fn open(
        open: &Open,
        path: &Path,
        schema: &Schema,
        opts: &ReadOptions,
        unknown: &mut Unknown,
    ) -> Result<(Reader, Vec<Column>, Encoding), DataError> {
        let (source, encoding) = start(open, path, opts)?;
        if is_json_lines(path) {
            let reader = Reader::Jsonl {
                reader: BufReader::with_capacity(1 << 16, source),
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

    fn source(&self) -> &Tracked<Box<dyn Read + Send>> {
        match self {
            Reader::Csv { reader, .. } => reader.get_ref(),
            Reader::Jsonl { reader, .. } => reader.get_ref(),
        }
    }

    /// Reads up to `max` more rows into `out`, reusing its buffers.
    fn next_batch(&mut self, path: &Path, max: usize, out: &mut RawBatch) -> Result<(), DataError> {
        out.len = 0;
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
                        Ok(true) if is_blank(&slot.record) => continue,
                        Ok(true) => {
                            let at = slot.record.position().map_or(0, |p| p.byte());
                            slot.line = lines.line_at(reader.get_ref(), at);
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
        }
        Ok(())
    }
}

impl Stream {
    /// Opens a data file: CSV, or JSON Lines when its name ends in `.jsonl`.
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
    /// duplicated keys); `path` names it in messages and chooses the format
    /// by its ending.
    pub fn open(
        open: Arc<Open>,
        path: &Path,
        schema: &Schema,
        opts: &ReadOptions,
    ) -> Result<Stream, DataError> {
        let mut unknown = Unknown::default();
        let (reader, columns, encoding) = Reader::open(&*open, path, schema, opts, &mut unknown)?;
        let parser = RowParser {
            schema: schema.clone(),
            json: is_json_lines(path),
            encoding,
            columns,
            duplicates: HashMap::new(),
            keep: None,
        };
        Ok(Stream {
            open,
            reader,
            parser: Arc::new(parser),
            rows: 0,
            size: None,
            unknown,
            path: path.to_path_buf(),
        })
    }

    /// Stores only the values of these fields (by schema index); must be
    /// called before [`Stream::parser`] is shared.
    pub fn keep_fields(&mut self, keep: Vec<bool>) {
        if let Some(p) = Arc::get_mut(&mut self.parser) {
            p.keep = Some(keep);
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
    }

    /// Reads up to `max` more rows into `out`, reusing its buffers; `Ok(false)`
    /// at the end of the file.
    pub fn next_batch(&mut self, max: usize, out: &mut RawBatch) -> Result<bool, DataError> {
        self.reader.next_batch(&self.path, max, out)?;
        self.rows += out.len as u64;
        Ok(out.len > 0)
    }

    /// The file's size in bytes, when known.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// Bytes read so far.
    pub fn position(&self) -> u64 {
        self.reader.source().position()
    }

    /// Rows read so far, the hash of the bytes read and the unknown columns.
    pub fn info(&self) -> StreamInfo {
        StreamInfo {
            rows: self.rows,
            sha256: self.reader.source().sha256(),
            unknown_columns: self.unknown.names.clone(),
        }
    }

    /// Reads the file again for the rows of keys found on several rows,
    /// given one at a time in line order (as many as there are, in bounded
    /// memory), and gives each its rejects (its duplicate key among them)
    /// to `emit`, in file order.
    pub fn reparse_each(
        &self,
        rows: impl Iterator<Item = std::io::Result<DupRow>>,
        mut emit: impl FnMut(u64, Vec<Reject>) -> std::io::Result<()>,
    ) -> Result<(), DataError> {
        let mut rows = rows.peekable();
        let failed = |e: std::io::Error| DataError::Unreadable {
            path: self.path.clone(),
            source: e,
        };
        let again = |why: String| DataError::Unreadable {
            path: self.path.clone(),
            source: std::io::Error::other(format!(
                "it was read a second time for the rows of keys found on several rows, and {why}; \
                 read it from a file that does not change during the run"
            )),
        };
        if rows.peek().is_none() {
            return Ok(());
        }
        let mut parser = RowParser::clone(&self.parser);
        let opts = ReadOptions {
            encoding: parser.encoding,
        };
        let (mut reader, _, _) = Reader::open(
            &*self.open,
            &self.path,
            &parser.schema,
            &opts,
            &mut Unknown::default(),
        )
        .map_err(|e| again(format!("that failed ({e})")))?;
        let mut batch = RawBatch::default();
        let (mut wanted, mut found) = (0u64, 0u64);
        // the rows wanted in this batch, by line
        let mut here: Vec<DupRow> = Vec::new();
        loop {
            reader.next_batch(&self.path, 4096, &mut batch)?;
            let batch_rows = batch.rows();
            let Some(last) = batch_rows.last().map(|r| r.line) else {
                break;
            };
            here.clear();
            while let Some(next) = rows.next_if(|r| r.as_ref().map_or(true, |r| r.line <= last)) {
                here.push(next.map_err(failed)?);
            }
            if here.is_empty() {
                if rows.peek().is_none() {
                    break;
                }
                continue;
            }
            wanted += here.len() as u64;
            parser.duplicates = here
                .iter()
                .map(|r| (r.key.clone(), r.repeated.clone()))
                .collect();
            let mut at = here.iter().peekable();
            // what parsing notices was noticed the first time
            let mut seen = Seen::default();
            for raw in batch_rows {
                while at.next_if(|r| r.line < raw.line).is_some() {}
                if at.next_if(|r| r.line == raw.line).is_some() {
                    if let Err(rejects) = parser.parse(raw, &mut seen) {
                        found += 1;
                        emit(raw.line, rejects).map_err(failed)?;
                    }
                }
            }
            if rows.peek().is_none() {
                break;
            }
        }
        // what is left was not found: the file ended early
        wanted += rows.count() as u64;
        // every such row is rejected (its key is repeated): anything else
        // means the file is not what was read the first time
        if found != wanted {
            return Err(again(format!(
                "{} of its {} rows were not found as before",
                wanted - found,
                wanted
            )));
        }
        Ok(())
    }
}

/// The rows of a key found on more than one row, as its rejects name them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repeated {
    /// The first rows, in order (at most [`Repeated::NAMED`] + 1).
    pub first: Vec<u64>,
    /// How many rows in all.
    pub count: u64,
}

impl Repeated {
    /// Rows named in a reason; one more is kept, so that a row's others can
    /// be named whichever it is.
    pub const NAMED: usize = 10;

    /// From all the rows, in order.
    pub fn of(rows: &[u64]) -> Repeated {
        Repeated {
            first: rows.iter().take(Repeated::NAMED + 1).copied().collect(),
            count: rows.len() as u64,
        }
    }

    /// Adds a row (rows come in order).
    pub fn add(&mut self, row: u64) {
        if self.first.len() <= Repeated::NAMED {
            self.first.push(row);
        }
        self.count += 1;
    }
}

/// A row whose key is on other rows too, to be read again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DupRow {
    pub line: u64,
    pub key: Box<str>,
    pub repeated: Repeated,
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

#[derive(Default)]
struct Unknown {
    names: Vec<String>,
    seen: HashSet<String>,
}

impl Unknown {
    fn add(&mut self, name: &str) {
        if !self.seen.contains(name) {
            self.seen.insert(name.to_string());
            self.names.push(name.to_string());
        }
    }
}

/// Reads the header: skips blank lines before it, maps each column to a field.
fn header(
    path: &Path,
    reader: &mut csv::Reader<Tracked<Box<dyn Read + Send>>>,
    lines: &mut Lines,
    schema: &Schema,
    encoding: Encoding,
    unknown: &mut Unknown,
) -> Result<Vec<Column>, DataError> {
    let mut record = ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => {
                return Err(DataError::NoHeader {
                    path: path.to_path_buf(),
                })
            }
            Ok(true) if is_blank(&record) => continue,
            Ok(true) => {
                let at = record.position().map_or(0, |p| p.byte());
                lines.line_at(reader.get_ref(), at);
                break;
            }
            Err(e) => {
                let line = e.position().map_or(1, |p| p.line());
                return Err(DataError::BadHeader {
                    path: path.to_path_buf(),
                    line,
                    message: e.to_string(),
                });
            }
        }
    }
    let mut columns = Vec::with_capacity(record.len());
    for (i, raw) in record.iter().enumerate() {
        let name = decode(encoding, raw).map_err(|_| match encoding {
            Encoding::Gb18030 => DataError::HeaderNotGb18030 {
                path: path.to_path_buf(),
            },
            _ => DataError::HeaderNotUtf8 {
                path: path.to_path_buf(),
            },
        })?;
        let header = if i == 0 {
            name.trim_start_matches('\u{feff}')
        } else {
            &name
        };
        let field = schema.lookup(trim(header));
        if field.is_none() {
            unknown.add(trim(header));
        }
        columns.push(Column {
            header: header.to_string(),
            field,
        });
    }
    check_columns(path, &columns, schema)?;
    Ok(columns)
}

/// The key has a column, and no field has two.
fn check_columns(path: &Path, columns: &[Column], schema: &Schema) -> Result<(), DataError> {
    if !columns.iter().any(|c| c.field == Some(schema.key)) {
        let key = schema.key_field();
        let names: Vec<String> = key.names().map(|n| format!("`{n}`")).collect();
        return Err(DataError::NoKeyColumn {
            path: path.to_path_buf(),
            key: key.name.clone(),
            names: names.join(" or "),
        });
    }
    let mut first: Vec<Option<usize>> = vec![None; schema.fields.len()];
    for (i, c) in columns.iter().enumerate() {
        let Some(f) = c.field else { continue };
        match first.get(f).copied().flatten() {
            Some(j) => {
                return Err(DataError::AmbiguousColumns {
                    path: path.to_path_buf(),
                    field: schema
                        .fields
                        .get(f)
                        .map(|x| x.name.clone())
                        .unwrap_or_default(),
                    first: columns.get(j).map(|x| x.header.clone()).unwrap_or_default(),
                    first_at: j + 1,
                    second: c.header.clone(),
                    second_at: i + 1,
                })
            }
            None => {
                if let Some(slot) = first.get_mut(f) {
                    *slot = Some(i);
                }
            }
        }
    }
    Ok(())
}

/// The key as a record would hold it ([`Record::key`]); for a cell that fails
/// to parse, its trimmed text. `None` when empty.
fn key_of(field: &Field, text: &str) -> Option<String> {
    if field.ty == crate::schema::FieldType::Text {
        // a text key is kept as written; blank is empty
        return (!trim(text).is_empty()).then(|| text.to_string());
    }
    match parse_cell(&field.ty, text) {
        Ok(cell) => cell.as_key().map(Cow::into_owned),
        Err(_) => Some(trim(text).to_string()).filter(|k| !k.is_empty()),
    }
}

/// The rejects of one row as they are found, with their column positions.
struct RowRejects {
    line: u64,
    found: Vec<(usize, Reject)>,
}

impl RowRejects {
    fn add(&mut self, position: usize, column: &str, value: &str, reason: impl Into<String>) {
        let reject = Reject {
            row: self.line,
            column: column.to_string(),
            value: shown(value).into_owned(),
            reason: reason.into(),
        };
        self.found.push((position, reject));
    }

    /// The row's record, or its rejects if it has any.
    fn into_result(self, cells: Vec<Cell>) -> Result<Record, Vec<Reject>> {
        if self.found.is_empty() {
            Ok(Record {
                row: self.line,
                cells,
            })
        } else {
            Err(self.finish())
        }
    }

    fn finish(mut self) -> Vec<Reject> {
        // stable: the rejects of one cell stay in the order found
        self.found.sort_by_key(|(p, _)| *p);
        self.found.into_iter().map(|(_, r)| r).collect()
    }
}

/// "the key is also on rows 3, 7": the other rows of a duplicated key, at most ten named.
pub(crate) fn also_on(rows: &Repeated, this: u64) -> String {
    let others = rows.count.saturating_sub(1);
    let named: Vec<String> = rows
        .first
        .iter()
        .filter(|&&r| r != this)
        .take(Repeated::NAMED)
        .map(u64::to_string)
        .collect();
    let plural = if others == 1 { "row" } else { "rows" };
    let mut reason = format!("the key is also on {plural} {}", named.join(", "));
    if others > Repeated::NAMED as u64 {
        reason += &format!(" and {} more", others - Repeated::NAMED as u64);
    }
    reason
}

impl RowParser {
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Reads one row: its record, or every reason it cannot be one. The key
    /// of a rejected row goes to `seen` (it still takes part in the duplicate
    /// check), with the unknown keys of a JSON line.
    pub fn parse(&self, raw: &RawRow, seen: &mut Seen) -> Result<Record, Vec<Reject>> {
        let parsed = if self.json {
            self.parse_json(raw, seen)
        } else {
            self.parse_csv(raw)
        };
        if parsed.is_err() {
            if let Some(key) = self.row_key(raw) {
                seen.keys.push((key.into_boxed_str(), raw.line));
            }
        }
        parsed
    }

    /// The key of a row however bad the rest of it is: as a record would
    /// hold it, or the trimmed text of a key cell that does not parse; `None`
    /// when there is none (empty, not decodable, no JSON object).
    fn row_key(&self, raw: &RawRow) -> Option<String> {
        let schema = &self.schema;
        if !self.json {
            let i = self
                .columns
                .iter()
                .position(|c| c.field == Some(schema.key))?;
            let text = decode(self.encoding, raw.record.get(i)?).ok()?;
            return key_of(schema.key_field(), &text);
        }
        let text = decode(self.encoding, raw.record.get(0)?).ok()?;
        let Entries(entries) = serde_json::from_str::<Entries>(&text).ok()?;
        let (_, value) = entries
            .iter()
            .find(|(name, _)| schema.lookup(trim(name)) == Some(schema.key))?;
        match parse_json(&schema.key_field().ty, value) {
            Ok(cell) => cell.as_key().map(Cow::into_owned),
            Err(_) => Some(trim(&value_text(value)).to_string()).filter(|k| !k.is_empty()),
        }
    }

    /// A text or list field that evaluation never reads: any value is valid,
    /// so it need not be stored.
    fn skipped(&self, f: usize, field: &Field) -> bool {
        matches!(
            field.ty,
            crate::schema::FieldType::Text | crate::schema::FieldType::List
        ) && self
            .keep
            .as_ref()
            .is_some_and(|k| !k.get(f).copied().unwrap_or(true))
    }

    fn duplicate(&self, rejects: &mut RowRejects, position: usize, column: &str, key: &str) {
        if self.duplicates.is_empty() {
            return;
        }
        if let Some(rows) = self.duplicates.get(key) {
            rejects.add(position, column, key, also_on(rows, rejects.line));
        }
    }

    /// Takes one cell: rejects it if it failed to parse or fails its check,
    /// checks the key. A rejected cell reads as missing.
    #[allow(clippy::too_many_arguments)]
    fn cell(
        &self,
        rejects: &mut RowRejects,
        position: usize,
        column: &str,
        field: &Field,
        is_key: bool,
        parsed: Result<Cell, String>,
        text: &str,
    ) -> Cell {
        let cell = match parsed {
            Ok(cell) => cell,
            Err(reason) => {
                rejects.add(position, column, text, reason);
                if is_key && !trim(text).is_empty() {
                    self.duplicate(rejects, position, column, trim(text));
                }
                return Cell::Missing;
            }
        };
        if field.check == Some(Check::Uscc) {
            if let Cell::Text(t) = &cell {
                if let Err(reason) = uscc_valid(t) {
                    rejects.add(position, column, text, reason);
                }
            }
        }
        if is_key {
            match cell.as_key() {
                Some(k) => self.duplicate(rejects, position, column, &k),
                None => rejects.add(position, column, text, "the key is empty"),
            }
        }
        cell
    }

    fn parse_csv(&self, raw: &RawRow) -> Result<Record, Vec<Reject>> {
        let schema = &self.schema;
        let mut rejects = RowRejects {
            line: raw.line,
            found: Vec::new(),
        };
        let record = &raw.record;
        // lines a record runs over: its cells' line breaks, less a final one
        // (the end of the file swallowed by an open quote)
        let spans = || {
            let breaks = record
                .iter()
                .map(|f| memchr::memchr_iter(b'\n', f).count() as u64)
                .sum::<u64>();
            let last = record
                .iter()
                .next_back()
                .is_some_and(|f| f.ends_with(b"\n"));
            breaks.saturating_sub(u64::from(last))
        };
        if raw.unterminated {
            let reason = format!(
                "a double quote opened in this row is never closed, so lines {}-{} were read as this one row; close the quote (a quote inside a cell is written \"\")",
                raw.line,
                raw.line + spans()
            );
            rejects.add(WHOLE_ROW, "", "", reason);
            return Err(rejects.finish());
        }
        if record.len() != self.columns.len() {
            let mut reason = format!(
                "expected {} cells, found {}",
                self.columns.len(),
                record.len()
            );
            let lines = spans();
            if lines > 0 {
                reason += &format!(
                    "; a quoted cell runs over lines {}-{}: is a closing quote missing?",
                    raw.line,
                    raw.line + lines
                );
            }
            rejects.add(WHOLE_ROW, "", "", reason);
            // its key still takes part in the duplicate check
            let key_column = self
                .columns
                .iter()
                .position(|c| c.field == Some(schema.key));
            if let Some((i, raw_key, column)) =
                key_column.and_then(|i| Some((i, record.get(i)?, self.columns.get(i)?)))
            {
                if let Ok(text) = decode(self.encoding, raw_key) {
                    if let Some(k) = key_of(schema.key_field(), &text) {
                        self.duplicate(&mut rejects, i + 1, &column.header, &k);
                    }
                }
            }
            return Err(rejects.finish());
        }
        let mut cells = vec![Cell::Missing; schema.fields.len()];
        // A record that is valid UTF-8 as a whole is so in every cell (cells
        // split at ASCII delimiters): validate once, then slice.
        let whole = match self.encoding {
            Encoding::Utf8 => std::str::from_utf8(record.as_slice()).ok(),
            _ => None,
        };
        for (i, (raw_cell, column)) in record.iter().zip(&self.columns).enumerate() {
            let Some((f, field)) = column.field.and_then(|f| Some((f, schema.fields.get(f)?)))
            else {
                continue;
            };
            let position = i + 1;
            let valid = whole.and_then(|w| w.get(record.range(i)?));
            let decoded = match valid {
                Some(t) => Ok(Cow::Borrowed(t)),
                None => decode(self.encoding, raw_cell),
            };
            let text = match decoded {
                Ok(t) => t,
                Err(reason) => {
                    rejects.add(
                        position,
                        &column.header,
                        &String::from_utf8_lossy(raw_cell),
                        reason,
                    );
                    continue;
                }
            };
            let is_key = f == schema.key;
            if !is_key && field.check.is_none() && self.skipped(f, field) {
                continue;
            }
            let parsed = parse_cell(&field.ty, &text);
            let cell = self.cell(
                &mut rejects,
                position,
                &column.header,
                field,
                is_key,
                parsed,
                &text,
            );
            if let Some(slot) = cells.get_mut(f) {
                *slot = cell;
            }
        }
        rejects.into_result(cells)
    }

    fn parse_json(&self, raw: &RawRow, seen: &mut Seen) -> Result<Record, Vec<Reject>> {
        let schema = &self.schema;
        let mut rejects = RowRejects {
            line: raw.line,
            found: Vec::new(),
        };
        let bytes = raw.record.get(0).unwrap_or_default();
        let line = match decode(self.encoding, bytes) {
            Ok(l) => l,
            Err(reason) => {
                rejects.add(WHOLE_ROW, "", &String::from_utf8_lossy(bytes), reason);
                return Err(rejects.finish());
            }
        };
        let entries = match serde_json::from_str::<Entries>(&line) {
            Ok(Entries(e)) => e,
            Err(e) => {
                rejects.add(WHOLE_ROW, "", &line, not_an_object(&e));
                return Err(rejects.finish());
            }
        };
        let mut cells = vec![Cell::Missing; schema.fields.len()];
        let mut filled_by: Vec<Option<&str>> = vec![None; schema.fields.len()];
        for (i, (name, value)) in entries.iter().enumerate() {
            let position = i + 1;
            let Some(f) = schema.lookup(trim(name)) else {
                seen.unknown.add(trim(name));
                continue;
            };
            let Some(field) = schema.fields.get(f) else {
                continue;
            };
            let text = value_text(value);
            if let Some(Some(other)) = filled_by.get(f) {
                let reason = format!(
                    "`{other}` and `{name}` both name the field `{}`",
                    field.name
                );
                rejects.add(position, name, &text, reason);
                continue;
            }
            if let Some(slot) = filled_by.get_mut(f) {
                *slot = Some(name);
            }
            let parsed = parse_json(&field.ty, value);
            let cell = self.cell(
                &mut rejects,
                position,
                name,
                field,
                f == schema.key,
                parsed,
                &text,
            );
            if let Some(slot) = cells.get_mut(f) {
                *slot = cell;
            }
        }
        if filled_by.get(schema.key).is_some_and(Option::is_none) {
            rejects.add(ABSENT, &schema.key_field().name, "", "the key is empty");
        }
        rejects.into_result(cells)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_other_rows() {
        assert_eq!(
            also_on(&Repeated::of(&[2, 5]), 2),
            "the key is also on row 5"
        );
        assert_eq!(
            also_on(&Repeated::of(&[2, 5, 9]), 5),
            "the key is also on rows 2, 9"
        );
        let many: Vec<u64> = (1..=13).collect();
        assert_eq!(
            also_on(&Repeated::of(&many), 1),
            "the key is also on rows 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 2 more"
        );
    }
}
