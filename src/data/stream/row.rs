//! One row read into a record, or into every reason it cannot be one.

use super::*;

/// Rejects of one row sort by column position: whole-row problems first, an
/// absent JSON key last.
pub(super) const WHOLE_ROW: usize = 0;
pub(super) const ABSENT: usize = usize::MAX;

/// A cell of a CSV file or a worksheet as text, and whether the workbook
/// stored it as a number.
pub(super) struct Written<'a> {
    pub(super) text: Cow<'a, str>,
    pub(super) number: bool,
}

impl<'a> Written<'a> {
    fn text(text: &'a str) -> Written<'a> {
        Written {
            text: Cow::Borrowed(text),
            number: false,
        }
    }
}

/// A cell that has no text to read: what a reject shows of it, and why.
pub(super) struct NoText<'a> {
    shown: Cow<'a, str>,
    reason: &'static str,
}

/// Why an error cell of a workbook is rejected.
const ERROR_CELL: &str =
    "Excel error cell: it holds an error, not a value; correct it in the workbook";

/// Why a formula cell saved without its value is rejected.
const UNCOMPUTED_CELL: &str = "公式没有计算结果 (a formula saved without its computed value, by a program that does not calculate): open the workbook in Excel and save it again";

/// Added to the reason of a credit code the workbook stored as a number.
const CODE_AS_NUMBER: &str = "the workbook stores this code as a number, which keeps no letters and only 15 significant digits, so the code cannot be recovered from it: format the column as text in Excel and enter the codes again";

/// What a parser needs, shared read-only between threads.
#[derive(Clone)]
pub struct RowParser {
    pub(super) schema: Schema,
    pub(super) format: Format,
    pub(super) encoding: Encoding,
    pub(super) columns: Vec<Column>,
    /// Every key found on more than one row, with its rows (known only
    /// when the rows are read again, [`Stream::reparse_each`]).
    pub(super) duplicates: HashMap<Box<str>, Repeated>,
    /// Fields whose values are kept; text and list cells of other fields are
    /// checked but not stored (evaluation never reads them).
    pub(super) keep: Option<Vec<bool>>,
    /// The rows are known to have no reject ([`super::Stream::known_clean`]):
    /// cells of fields not kept are not read at all.
    pub(super) clean: bool,
    /// How each column is read on the fast path ([`super::fast`]); empty:
    /// every row takes the plain path. Made again by [`RowParser::replan`]
    /// whenever what is kept changes.
    pub(super) fast: Vec<super::fast::Fast>,
    /// The schema's `percent` fields ([`RowParser::note_slips`]), in
    /// field order.
    pub(super) percents: Vec<usize>,
    /// Those of them this file has a column for (all of them for JSON
    /// Lines, whose lines name their own fields): the ones a row of the
    /// file writes in [`RowParser::parse_into`].
    pub(super) own_percents: Vec<usize>,
    /// The `list` fields this file has a column for (all of them for JSON
    /// Lines), whose items [`RowParser::note_slips`] looks at.
    pub(super) own_lists: Vec<usize>,
}

/// One missing cell per field: a row before it is read.
pub fn missing_cells(fields: usize) -> Vec<Cell> {
    std::iter::repeat_with(|| Cell::Missing)
        .take(fields)
        .collect()
}

/// The key as a record would hold it ([`Record::key`]); for a cell that fails
/// to parse, its trimmed text. `None` when empty.
impl RowParser {
    /// Whether the file has a column for field `i`: known from the header of
    /// a CSV file or a sheet; `None` for JSON Lines, whose lines name their
    /// own keys.
    pub fn has_column(&self, i: usize) -> Option<bool> {
        match self.format {
            super::Format::JsonLines => None,
            _ => Some(self.columns.iter().any(|c| c.field == Some(i))),
        }
    }

    /// The header, as written, of the column that gives field `i`, if the
    /// file has one (not JSON Lines, whose lines name their own fields).
    pub fn column_header(&self, i: usize) -> Option<&str> {
        (self.format != super::Format::JsonLines)
            .then(|| self.columns.iter().find(|c| c.field == Some(i)))
            .flatten()
            .map(|c| c.header.as_str())
    }
}

pub(super) fn key_of(field: &Field, text: &str) -> Option<String> {
    key_of_as(field, text, str::to_string)
}

/// [`key_of`], the key made by `make` from its text (no `String` first).
fn key_of_as<T>(field: &Field, text: &str, make: impl FnOnce(&str) -> T) -> Option<T> {
    if field.ty == crate::schema::FieldType::Text {
        // a text key is kept as written; blank is empty
        return (!trim(text).is_empty()).then(|| make(text));
    }
    match parse_cell(&field.ty, text) {
        Ok(cell) => cell.as_key().map(|k| make(&k)),
        Err(_) => Some(trim(text)).filter(|k| !k.is_empty()).map(make),
    }
}

/// The rejects of one row as they are found, with their column positions.
pub(super) struct RowRejects<'r> {
    pub(super) line: u64,
    pub(super) found: Vec<(usize, Reject)>,
    /// The rows of this row's key, when it is on several rows of its file
    /// and the caller knows them already (a joined run).
    pub(super) repeated: Option<&'r Repeated>,
    /// Where the row's key was checked for repetition (its column
    /// position): a reject for a repeated key goes there. The key checked is
    /// the one [`RowParser::row_key`] reads (both read it as
    /// [`key_of`] does).
    pub(super) key_at: Option<usize>,
}

impl<'r> RowRejects<'r> {
    /// No reject yet for the row at `line`.
    pub(super) fn new(line: u64, repeated: Option<&'r Repeated>) -> RowRejects<'r> {
        RowRejects {
            line,
            found: Vec::new(),
            repeated,
            key_at: None,
        }
    }

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

    /// [`RowRejects::finish`], with where a reject for the row's key being
    /// on other rows would go among them ([`KeyReject`]).
    fn finish_keyed(self) -> (Vec<Reject>, KeyReject) {
        let at = match self.key_at {
            None => KeyReject::None,
            // nothing is added at the key's position after it is checked:
            // the reject goes after every one up to that position
            Some(position) => {
                let before = self.found.iter().filter(|(p, _)| *p <= position).count();
                u32::try_from(before).map_or(KeyReject::Reread, KeyReject::At)
            }
        };
        (self.finish(), at)
    }
}

/// The reject of a row whose key is on the rows `rows` too.
pub(super) fn repeated_key(line: u64, column: &str, key: &str, rows: &Repeated) -> Reject {
    Reject {
        row: line,
        column: column.to_string(),
        value: shown(key).into_owned(),
        reason: also_on(rows, line),
    }
}

impl RowParser {
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Chooses again how each column is read on the fast path (after the
    /// fields kept or the file's cleanness changed).
    pub(super) fn replan(&mut self) {
        self.fast = super::fast::plan(self);
        self.percents = (self.schema.fields.iter().enumerate())
            .filter(|(_, f)| f.ty == crate::schema::FieldType::Percent)
            .map(|(i, _)| i)
            .collect();
        self.own_percents = (self.percents.iter().copied())
            .filter(|&f| self.has_column(f) != Some(false))
            .collect();
        self.own_lists = (self.schema.fields.iter().enumerate())
            .filter(|(i, f)| {
                f.ty == crate::schema::FieldType::List && self.has_column(*i) != Some(false)
            })
            .map(|(i, _)| i)
            .collect();
    }

    /// The same parser without its fast path: every row read the plain way
    /// (what the fast path is tested against).
    #[cfg(test)]
    pub(crate) fn plain(&self) -> RowParser {
        RowParser {
            fast: Vec::new(),
            ..self.clone()
        }
    }

    /// Reads one row: its record, or every reason it cannot be one. The key
    /// of a rejected row goes to `seen` (it still takes part in the duplicate
    /// check), with the unknown keys of a JSON line.
    pub fn parse(&self, raw: &RawRow, seen: &mut Seen) -> Result<Record, Vec<Reject>> {
        self.parse_repeated(raw, seen, None)
    }

    /// [`RowParser::parse`] of a row whose key is on the rows `repeated` of
    /// its file (every one of them rejected), when that is known already.
    pub fn parse_repeated(
        &self,
        raw: &RawRow,
        seen: &mut Seen,
        repeated: Option<&Repeated>,
    ) -> Result<Record, Vec<Reject>> {
        let mut cells = missing_cells(self.schema.fields.len());
        self.parse_repeated_in(raw, seen, repeated, &mut cells)?;
        Ok(Record {
            row: raw.line,
            cells,
        })
    }

    /// [`RowParser::parse`] of a row into `cells` (one per field, each
    /// missing), without a record of its own: the same cells, the same
    /// rejects, the same things seen. What is written is unspecified when
    /// the row is rejected.
    pub fn parse_in(
        &self,
        raw: &RawRow,
        seen: &mut Seen,
        cells: &mut [Cell],
    ) -> Result<(), Vec<Reject>> {
        self.parse_repeated_in(raw, seen, None, cells)
    }

    fn parse_repeated_in(
        &self,
        raw: &RawRow,
        seen: &mut Seen,
        repeated: Option<&Repeated>,
        cells: &mut [Cell],
    ) -> Result<(), Vec<Reject>> {
        let parsed = match self.format {
            Format::JsonLines => self
                .json_into(raw, seen, repeated, cells)
                .map_err(|r| (r, KeyReject::Reread)),
            Format::Csv | Format::Excel => self.cells_into(raw, repeated, cells),
        };
        match parsed {
            Err((rejects, at)) => {
                if let Some(key) = self.row_key(raw) {
                    seen.keys.push((key.into_boxed_str(), raw.line, at));
                }
                Err(rejects)
            }
            Ok(()) => {
                self.note_slips(cells, &self.percents, raw, seen);
                Ok(())
            }
        }
    }

    /// A JSON line's cells written into `cells` (every one of them).
    fn json_into(
        &self,
        raw: &RawRow,
        seen: &mut Seen,
        repeated: Option<&Repeated>,
        cells: &mut [Cell],
    ) -> Result<(), Vec<Reject>> {
        let record = self.parse_json(raw, seen, repeated)?;
        for (slot, cell) in cells.iter_mut().zip(record.cells) {
            *slot = cell;
        }
        Ok(())
    }

    /// [`RowParser::parse`] of a row into `cells`, a record that other
    /// files' rows fill too: a CSV file's or a worksheet's row writes only
    /// the cells of its columns (a JSON line, which names its own fields,
    /// writes every cell). What is written is unspecified when the row is
    /// rejected.
    pub fn parse_into(
        &self,
        raw: &RawRow,
        seen: &mut Seen,
        cells: &mut [Cell],
    ) -> Result<(), Vec<Reject>> {
        let parsed = match self.format {
            Format::JsonLines => self.json_into(raw, seen, None, cells),
            Format::Csv | Format::Excel => self.cells_into(raw, None, cells).map_err(|(r, _)| r),
        };
        match &parsed {
            Err(_) => {
                if let Some(key) = self.row_key(raw) {
                    // a joined run knows its repeated keys as it reads
                    seen.keys
                        .push((key.into_boxed_str(), raw.line, KeyReject::Reread));
                }
            }
            Ok(()) => self.note_slips(cells, &self.own_percents, raw, seen),
        }
        parsed
    }

    /// [`RowParser::parse_into`] of a row of a firm whose key cell has the
    /// same text (`key_text`) as an earlier row of the firm's (of any file,
    /// the same schema) that [`RowParser::parse_into`] read without a
    /// reject, and wrote into `cells`: the key's cell is not read again
    /// when the row takes the fast path (it reads as the earlier one did:
    /// a cell's reading depends only on its text, its field, and the
    /// file's keys known to be repeated, of which this file has none then).
    /// The same result, cells, rejects and things seen as
    /// [`RowParser::parse_into`]; any other row is read by it.
    pub fn parse_into_known_key(
        &self,
        raw: &RawRow,
        seen: &mut Seen,
        cells: &mut [Cell],
    ) -> Result<(), Vec<Reject>> {
        if self.format != Format::JsonLines
            && self.duplicates.is_empty()
            && self.fast_cells_as::<true>(raw, cells).is_some()
        {
            self.note_slips(cells, &self.own_percents, raw, seen);
            return Ok(());
        }
        self.parse_into(raw, seen, cells)
    }

    /// The text of a row's key cell as [`RowParser::row_key`] reads it
    /// before making it a key: `None` for JSON Lines, a file without the
    /// key's column, or a cell without text.
    pub fn key_text<'a>(&self, raw: &'a RawRow) -> Option<Cow<'a, str>> {
        if self.format == Format::JsonLines {
            return None;
        }
        let i = self
            .columns
            .iter()
            .position(|c| c.field == Some(self.schema.key))?;
        self.written(raw.record.get(i)?).ok().map(|w| w.text)
    }

    /// Notes the row's values that the contract reads but that look like
    /// slips ([`Odd`]): a text key with blanks around it (` A1 `: compared
    /// as written, it is not the firm `A1`) or reading 合计; a list item
    /// holding another separator; `percent` values above 1 written without
    /// `%` (`3.5` reads as 350%: likely meant 3.5%), among the `percent`
    /// fields `fields` (the row's). They are read all the same.
    fn note_slips(&self, cells: &[Cell], fields: &[usize], raw: &RawRow, seen: &mut Seen) {
        if let Some(Cell::Text(key)) = cells.get(self.schema.key) {
            if is_totals_row(key) {
                note_odd(seen, Odd::TotalsRow, raw.line);
            }
            if key.starts_with(char::is_whitespace) || key.ends_with(char::is_whitespace) {
                note_odd(seen, Odd::PaddedKey, raw.line);
            }
        }
        for &f in &self.own_lists {
            if let Some(Cell::List(items)) = cells.get(f) {
                if items.iter().any(|i| holds_other_separator(i)) {
                    note_odd(seen, Odd::ListSeparator(f), raw.line);
                }
            }
        }
        for &f in fields {
            let Some(Cell::Num(n)) = cells.get(f) else {
                continue;
            };
            if *n <= rust_decimal::Decimal::ONE || self.cell_text(raw, f).contains(['%', '％']) {
                continue;
            }
            note_odd(seen, Odd::PercentOverOne(f), raw.line);
        }
    }

    /// The key of a row however bad the rest of it is: as a record would
    /// hold it, or the trimmed text of a key cell that does not parse; `None`
    /// when there is none (empty, not decodable, no JSON object).
    pub(crate) fn row_key(&self, raw: &RawRow) -> Option<String> {
        self.row_key_as(raw, str::to_string)
    }

    /// [`RowParser::row_key`], the key made by `make` from its text (no
    /// `String` first when the key is a cell's text).
    pub(crate) fn row_key_as<T>(&self, raw: &RawRow, make: impl FnOnce(&str) -> T) -> Option<T> {
        let schema = &self.schema;
        if self.format != Format::JsonLines {
            let i = self
                .columns
                .iter()
                .position(|c| c.field == Some(schema.key))?;
            let cell = self.written(raw.record.get(i)?).ok()?;
            return key_of_as(schema.key_field(), &cell.text, make);
        }
        let text = decode(self.encoding, raw.record.get(0)?).ok()?;
        let Entries(entries) = Entries::parse(&text).ok()?;
        let (_, value) = entries
            .iter()
            .find(|(name, _)| schema.lookup(trim(name)) == Some(schema.key))?;
        match parse_json(&schema.key_field().ty, value) {
            Ok(cell) => cell.as_key().map(|k| make(&k)),
            Err(_) => Some(trim(&value_text(value)))
                .filter(|k| !k.is_empty())
                .map(make),
        }
    }

    /// The cell of field `f` in a row, as written (empty when the row has
    /// none): what `conflicts.csv` shows.
    pub fn cell_text(&self, raw: &RawRow, f: usize) -> String {
        let text = if self.format == Format::JsonLines {
            let Some(Ok(line)) = raw.record.get(0).map(|b| decode(self.encoding, b)) else {
                return String::new();
            };
            Entries::parse(&line).ok().and_then(|Entries(e)| {
                e.iter()
                    .find(|(name, _)| self.schema.lookup(trim(name)) == Some(f))
                    .map(|(_, v)| value_text(v).into_owned())
            })
        } else {
            self.columns
                .iter()
                .position(|c| c.field == Some(f))
                .and_then(|i| raw.record.get(i))
                .and_then(|b| self.written(b).ok())
                .map(|w| w.text.into_owned())
        };
        shown(&text.unwrap_or_default()).into_owned()
    }

    /// The key's column as the file's header (or the row's JSON key)
    /// writes it.
    pub fn key_column(&self, raw: &RawRow) -> String {
        let key = self.schema.key;
        if self.format == Format::JsonLines {
            let line = raw
                .record
                .get(0)
                .and_then(|b| decode(self.encoding, b).ok());
            let name = line.and_then(|l| {
                let Entries(e) = Entries::parse(&l).ok()?;
                e.into_iter()
                    .map(|(name, _)| name)
                    .find(|name| self.schema.lookup(trim(name)) == Some(key))
            });
            return name.unwrap_or_else(|| self.schema.key_field().name.clone());
        }
        self.columns
            .iter()
            .find(|c| c.field == Some(key))
            .map(|c| c.header.clone())
            .unwrap_or_else(|| self.schema.key_field().name.clone())
    }

    /// One cell of a CSV file (decoded) or of a worksheet (its text, and how
    /// the sheet stored it); an error cell of a worksheet has none.
    pub(super) fn written<'a>(&self, raw: &'a [u8]) -> Result<Written<'a>, NoText<'a>> {
        if self.format == Format::Excel {
            let (stored, bytes) = excel::split(raw);
            // written from text when the sheet was read
            let text = String::from_utf8_lossy(bytes);
            return match stored {
                excel::Stored::Error => Err(NoText {
                    shown: text,
                    reason: ERROR_CELL,
                }),
                excel::Stored::Uncomputed => Err(NoText {
                    shown: text,
                    reason: UNCOMPUTED_CELL,
                }),
                stored => Ok(Written {
                    text,
                    number: stored == excel::Stored::Number,
                }),
            };
        }
        decode(self.encoding, raw)
            .map(|text| Written {
                text,
                number: false,
            })
            .map_err(|reason| NoText {
                shown: String::from_utf8_lossy(raw),
                reason,
            })
    }

    /// A field not kept of rows known to be clean: its cell is not read.
    pub(super) fn unread(&self, f: usize) -> bool {
        self.clean
            && f != self.schema.key
            && self
                .keep
                .as_ref()
                .is_some_and(|k| !k.get(f).copied().unwrap_or(true))
    }

    /// A text or list field that evaluation never reads: any value is valid,
    /// so it need not be stored.
    pub(super) fn skipped(&self, f: usize, field: &Field) -> bool {
        matches!(
            field.ty,
            crate::schema::FieldType::Text | crate::schema::FieldType::List
        ) && self
            .keep
            .as_ref()
            .is_some_and(|k| !k.get(f).copied().unwrap_or(true))
    }

    fn duplicate(&self, rejects: &mut RowRejects, position: usize, column: &str, key: &str) {
        if rejects.key_at.is_none() {
            rejects.key_at = Some(position);
        }
        let rows = match rejects.repeated {
            Some(rows) => rows,
            None if self.duplicates.is_empty() => return,
            None => match self.duplicates.get(key) {
                Some(rows) => rows,
                None => return,
            },
        };
        let reject = repeated_key(rejects.line, column, key, rows);
        rejects.found.push((position, reject));
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
        written: &Written,
    ) -> Cell {
        let text = &*written.text;
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
                    let reason = if written.number {
                        format!("{reason}; {CODE_AS_NUMBER}")
                    } else {
                        reason
                    };
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

    /// The cells of a CSV row or a worksheet's row written into `cells` (by
    /// field), or every reason the row cannot be read (and where a reject
    /// for its key being on other rows goes among them).
    fn cells_into(
        &self,
        raw: &RawRow,
        repeated: Option<&Repeated>,
        cells: &mut [Cell],
    ) -> Result<(), (Vec<Reject>, KeyReject)> {
        // most rows have no reject: read those without the bookkeeping
        if repeated.is_none() && self.fast_cells(raw, cells).is_some() {
            return Ok(());
        }
        let schema = &self.schema;
        let mut rejects = RowRejects::new(raw.line, repeated);
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
            return Err(rejects.finish_keyed());
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
                if let Ok(cell) = self.written(raw_key) {
                    if let Some(k) = key_of(schema.key_field(), &cell.text) {
                        self.duplicate(&mut rejects, i + 1, &column.header, &k);
                    }
                }
            }
            return Err(rejects.finish_keyed());
        }
        // A record that is valid UTF-8 as a whole is so in every cell (cells
        // split at ASCII delimiters): validate once, then slice.
        let whole = match (self.format, self.encoding) {
            (Format::Csv, Encoding::Utf8) => std::str::from_utf8(record.as_slice()).ok(),
            _ => None,
        };
        for (i, (raw_cell, column)) in record.iter().zip(&self.columns).enumerate() {
            let Some((f, field)) = column.field.and_then(|f| Some((f, schema.fields.get(f)?)))
            else {
                continue;
            };
            if self.unread(f) {
                continue;
            }
            let position = i + 1;
            let valid = whole.and_then(|w| w.get(record.range(i)?));
            let decoded = match valid {
                Some(t) => Ok(Written::text(t)),
                None => self.written(raw_cell),
            };
            let written = match decoded {
                Ok(w) => w,
                Err(no) => {
                    rejects.add(position, &column.header, &no.shown, no.reason);
                    continue;
                }
            };
            let is_key = f == schema.key;
            if !is_key && field.check.is_none() && self.skipped(f, field) {
                continue;
            }
            let parsed = parse_cell(&field.ty, &written.text);
            let cell = self.cell(
                &mut rejects,
                position,
                &column.header,
                field,
                is_key,
                parsed,
                &written,
            );
            if let Some(slot) = cells.get_mut(f) {
                *slot = cell;
            }
        }
        if rejects.found.is_empty() {
            Ok(())
        } else {
            Err(rejects.finish_keyed())
        }
    }

    fn parse_json(
        &self,
        raw: &RawRow,
        seen: &mut Seen,
        repeated: Option<&Repeated>,
    ) -> Result<Record, Vec<Reject>> {
        let schema = &self.schema;
        let mut rejects = RowRejects::new(raw.line, repeated);
        let bytes = raw.record.get(0).unwrap_or_default();
        let line = match decode(self.encoding, bytes) {
            Ok(l) => l,
            Err(reason) => {
                rejects.add(WHOLE_ROW, "", &String::from_utf8_lossy(bytes), reason);
                return Err(rejects.finish());
            }
        };
        let entries = match Entries::parse(&line) {
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
                &Written::text(&text),
            );
            if let Some(slot) = cells.get_mut(f) {
                *slot = cell;
            }
        }
        if filled_by.get(schema.key).is_some_and(Option::is_none) {
            rejects.add(ABSENT, &schema.key_field().name, "", "the key is empty");
        }
        // an absent key of a `list` field is the empty list, as null and an
        // empty CSV cell are
        for ((field, by), cell) in schema.fields.iter().zip(&filled_by).zip(&mut cells) {
            if by.is_none() && field.ty == crate::schema::FieldType::List {
                *cell = Cell::List(Box::new([]));
            }
        }
        rejects.into_result(cells)
    }
}

/// What separates a list's items in other people's habits but not in the
/// contract's (`;`, `、`, `|`): an item holding one of them is noted.
const NOT_SEPARATORS: [char; 8] = ['；', ',', '，', '/', '／', ' ', '\u{3000}', '\t'];

/// Whether a list's item holds one of [`NOT_SEPARATORS`]: its bytes looked
/// at first (ASCII ones, or the lead bytes of the full-width ones), as most
/// items hold none.
fn holds_other_separator(item: &str) -> bool {
    item.bytes()
        .any(|b| matches!(b, b',' | b'/' | b' ' | b'\t' | 0xE3 | 0xEF))
        && item.contains(NOT_SEPARATORS)
}

/// Whether a key reads as a spreadsheet's totals row (合计, 总计, 小计,
/// blanks inside or around it, a colon after it).
fn is_totals_row(key: &str) -> bool {
    if !key.contains('计') {
        return false;
    }
    let key: String = key
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, ':' | '：'))
        .collect();
    matches!(key.as_str(), "合计" | "总计" | "小计" | "共计" | "总合计")
}

/// Counts a row of `line` as `odd`.
fn note_odd(seen: &mut Seen, odd: Odd, line: u64) {
    super::add_count(seen.odd.entry(odd).or_insert((0, line)), (1, line));
}

#[cfg(test)]
mod odd_tests {
    use super::{holds_other_separator, is_totals_row};

    #[test]
    fn other_separators_and_totals_rows_are_told() {
        for odd in [
            "高新；小巨人",
            "a,b",
            "a/b",
            "a b",
            "a\u{3000}b",
            "a，b",
            "a／b",
            "a\tb",
        ] {
            assert!(holds_other_separator(odd), "{odd}");
        }
        for plain in ["高新技术企业", "专精特新“小巨人”", "", "「认定」"] {
            assert!(!holds_other_separator(plain), "{plain}");
        }
        for total in ["合计", " 合 计 ", "总计：", "小计:"] {
            assert!(is_totals_row(total), "{total}");
        }
        for firm in ["合计公司", "A", "会计师事务所"] {
            assert!(!is_totals_row(firm), "{firm}");
        }
    }
}
