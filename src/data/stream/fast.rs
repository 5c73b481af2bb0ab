//! The common row read without the plain path's bookkeeping: a CSV row
//! (UTF-8 or GB18030) or a worksheet's row of the header's shape whose
//! every cell reads without a reject. Each column's way of reading is
//! chosen once ([`plan`]); a row with any cell that would be rejected (or
//! any doubt) is left to the plain path ([`RowParser::cells_into`]), which
//! then finds every reject as before. The cells written are those the
//! plain path writes for the same row.
//!
//! A UTF-8 row is checked whole and its cells sliced from it; a GB18030
//! row that is all ASCII likewise (ASCII reads the same in both), and
//! otherwise each cell read is decoded on its own (as the plain path
//! decodes it). A worksheet's cell is its text after the byte telling how
//! it was stored ([`excel::split`]); an error cell or a formula without a
//! value sends the row to the plain path.

use super::row::RowParser;
use super::*;
use crate::data::cell::plain_decimal;
use crate::schema::FieldType;

/// How the cells of one column are read.
#[derive(Clone, Debug)]
pub(super) enum Fast {
    /// Not read: no field, or a field not read at all (a file known
    /// clean).
    Skip,
    /// A field not kept whose every value is valid: not stored, but its
    /// cell must have text (decode, not be an error cell), as the plain
    /// path rejects a cell without.
    Valid,
    /// A text field that is kept, without a check: the cell as written,
    /// missing when blank.
    Text(usize),
    /// The key, a text field without a check: as written, never blank.
    KeyText(usize),
    /// A number or money field without a check: plain digits read
    /// directly, anything else by [`parse_cell`].
    Number(usize),
    /// An integer field without a check: the same, digits without a point.
    Integer(usize),
    /// An enum field without a check, not the key: one of its values.
    Enum(usize),
    /// Any other field: read by [`parse_cell`] and accepted when it reads
    /// and passes its check (the key: and is not empty).
    Parsed { field: usize, key: bool },
}

/// The way each column of `parser`'s file is read on the fast path; empty
/// when the file has no fast path (JSON Lines).
pub(super) fn plan(parser: &RowParser) -> Vec<Fast> {
    let fast = match parser.format {
        Format::Csv => matches!(parser.encoding, Encoding::Utf8 | Encoding::Gb18030),
        Format::Excel => true,
        Format::JsonLines => false,
    };
    if !fast {
        return Vec::new();
    }
    let schema = &parser.schema;
    parser
        .columns
        .iter()
        .map(|c| {
            let Some((f, field)) = c.field.and_then(|f| Some((f, schema.fields.get(f)?))) else {
                return Fast::Skip;
            };
            let key = f == schema.key;
            if parser.unread(f) {
                return Fast::Skip;
            }
            if !key && field.check.is_none() && parser.skipped(f, field) {
                return Fast::Valid;
            }
            match (&field.ty, &field.check, key) {
                (FieldType::Text, None, false) => Fast::Text(f),
                (FieldType::Text, None, true) => Fast::KeyText(f),
                (FieldType::Number | FieldType::Money, None, false) => Fast::Number(f),
                (FieldType::Integer, None, false) => Fast::Integer(f),
                (FieldType::Enum(_), None, false) => Fast::Enum(f),
                _ => Fast::Parsed { field: f, key },
            }
        })
        .collect()
}

impl RowParser {
    /// The row's cells written into `cells` (by field), when it is a row
    /// the fast path takes and none of its cells is rejected: `None`
    /// otherwise, with `cells` written in part (the plain path then reads
    /// the row again).
    pub(super) fn fast_cells(&self, raw: &RawRow, cells: &mut [Cell]) -> Option<()> {
        self.fast_cells_as::<false>(raw, cells)
    }

    /// [`RowParser::fast_cells`] of a row whose key cell, when `KNOWN`, is
    /// neither read nor written: the caller knows it reads as an earlier
    /// row's accepted key cell of the same text did
    /// ([`RowParser::parse_into_known_key`]). It is still decoded (a cell
    /// that does not decode sends the row to the plain path).
    pub(super) fn fast_cells_as<const KNOWN: bool>(
        &self,
        raw: &RawRow,
        cells: &mut [Cell],
    ) -> Option<()> {
        let record = &raw.record;
        if self.fast.is_empty()
            || raw.unterminated
            || record.len() != self.fast.len()
            || !self.duplicates.is_empty()
        {
            return None;
        }
        let ascii = |whole: &[u8]| whole.is_ascii();
        match (self.format, self.encoding) {
            (Format::Csv, Encoding::Utf8) => self.fast_sliced::<KNOWN>(raw, cells),
            (Format::Csv, Encoding::Gb18030) if ascii(record.as_slice()) => {
                self.fast_sliced::<KNOWN>(raw, cells)
            }
            (Format::Csv, Encoding::Gb18030) => {
                for (raw_cell, how) in record.iter().zip(&self.fast) {
                    if matches!(how, Fast::Skip) {
                        continue;
                    }
                    let text = decode(Encoding::Gb18030, raw_cell).ok()?;
                    self.fast_cell::<KNOWN>(how, &text, cells)?;
                }
                Some(())
            }
            (Format::Excel, _) => {
                for (raw_cell, how) in record.iter().zip(&self.fast) {
                    if matches!(how, Fast::Skip) {
                        continue;
                    }
                    let text = match excel::split(raw_cell) {
                        (excel::Stored::Text | excel::Stored::Number, text) => {
                            std::str::from_utf8(text).ok()?
                        }
                        (excel::Stored::Error | excel::Stored::Uncomputed, _) => return None,
                    };
                    self.fast_cell::<KNOWN>(how, text, cells)?;
                }
                Some(())
            }
            _ => None,
        }
    }

    /// [`RowParser::fast_cells`] of a row whose bytes are valid UTF-8 as a
    /// whole (so in every cell: cells split at ASCII delimiters), checked
    /// once, its cells sliced from it.
    fn fast_sliced<const KNOWN: bool>(&self, raw: &RawRow, cells: &mut [Cell]) -> Option<()> {
        let record = &raw.record;
        let whole = std::str::from_utf8(record.as_slice()).ok()?;
        let mut start = 0;
        for (raw_cell, how) in record.iter().zip(&self.fast) {
            let end = start + raw_cell.len();
            let text = whole.get(start..end)?;
            start = end;
            self.fast_cell::<KNOWN>(how, text, cells)?;
        }
        Some(())
    }

    /// One cell's `text` read as `how` says into `cells`: `None` when the
    /// plain path would reject it (or might). The key's cell is left as it
    /// is when `KNOWN` ([`RowParser::fast_cells_as`]).
    #[inline]
    fn fast_cell<const KNOWN: bool>(
        &self,
        how: &Fast,
        text: &str,
        cells: &mut [Cell],
    ) -> Option<()> {
        if KNOWN && matches!(how, Fast::KeyText(_) | Fast::Parsed { key: true, .. }) {
            return Some(());
        }
        match *how {
            Fast::Skip | Fast::Valid => {}
            Fast::Text(f) => {
                let cell = if trim(text).is_empty() {
                    Cell::Missing
                } else {
                    Cell::Text(text.into())
                };
                *cells.get_mut(f)? = cell;
            }
            Fast::KeyText(f) => {
                if trim(text).is_empty() {
                    return None;
                }
                *cells.get_mut(f)? = Cell::Text(text.into());
            }
            Fast::Number(f) | Fast::Integer(f) => {
                let t = trim(text);
                let cell = match plain_decimal(t) {
                    Some(n) if matches!(how, Fast::Number(_)) => Cell::Num(n),
                    // as `parse_cell` keeps a whole number read from digits
                    Some(n) if n.scale() == 0 && !n.is_zero() => Cell::Num(n),
                    _ => parse_cell(&self.schema.fields.get(f)?.ty, text).ok()?,
                };
                *cells.get_mut(f)? = cell;
            }
            Fast::Enum(f) => {
                let t = trim(text);
                let cell = match &self.schema.fields.get(f)?.ty {
                    _ if t.is_empty() => Cell::Missing,
                    FieldType::Enum(values) => {
                        Cell::Text(values.iter().find(|v| v.as_str() == t)?.as_str().into())
                    }
                    _ => return None,
                };
                *cells.get_mut(f)? = cell;
            }
            Fast::Parsed { field: f, key } => {
                let field = self.schema.fields.get(f)?;
                let cell = parse_cell(&field.ty, text).ok()?;
                if field.check == Some(Check::Uscc) {
                    if let Cell::Text(t) = &cell {
                        uscc_valid(t).ok()?;
                    }
                }
                if key && cell.as_key().is_none() {
                    return None;
                }
                *cells.get_mut(f)? = cell;
            }
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;

    const SCHEMA: &str = "\
key: id
fields:
  id:      { type: text }
  code:    { type: text, check: uscc }
  name:    { type: text }
  n:       { type: integer }
  amount:  { type: money }
  x:       { type: number }
  rate:    { type: percent }
  on:      { type: date }
  yes:     { type: bool }
  grade:   { type: enum, values: [A, B, M] }
  tags:    { type: list }
";

    /// Cells as an Excel-minded officer writes them, good and bad.
    const MESSY: &[&str] = &[
        "",
        " ",
        "\u{3000}",
        "A",
        "B",
        "M",
        "a",
        " A ",
        "AB",
        "甲",
        "0",
        "-0",
        "7",
        "007",
        "-12",
        "1.50",
        "2.0",
        "3.",
        ".5",
        "1,234",
        "1,234.56",
        "12,34",
        "12.5万",
        "3亿元",
        "8%",
        "3.5",
        "0.055",
        "1e3",
        "99999999999999999999",
        "2024-01-05",
        "2024/1/5",
        "20240105",
        "2024年1月5日",
        "2024-13-01",
        "true",
        "是",
        "N",
        "maybe",
        "a;b",
        "x、y|x",
        "91420102MA4K2L3R0G",
        "91420102MA4K2L3R00",
        "\"q,uoted\"",
        "\"a\"\"b\"",
        "N000000001",
        "\u{feff}x",
        "\t1\t",
    ];

    /// A good value of a column, as often written: plain or with a unit,
    /// blank now and then.
    fn good(rng: &mut Rng, column: &str) -> String {
        let n = rng.below(100_000);
        if rng.below(10) == 0 {
            return ["", " "][rng.below(2) as usize].to_string();
        }
        match column {
            "id" => format!("N{n}"),
            "code" => "91420102MA4K2L3R0G".to_string(),
            "n" => [
                "7".to_string(),
                format!("{n}"),
                format!("-{n}"),
                "1,234".into(),
                "0".into(),
                "5.0".into(),
            ][rng.below(6) as usize]
                .clone(),
            "amount" | "x" => [
                format!("{n}.{:02}", n % 100),
                format!("{n}"),
                "12.5万".into(),
                "-0.10".into(),
            ][rng.below(4) as usize]
                .clone(),
            "rate" => ["8%", "0.055", "3.5", "0"][rng.below(4) as usize].to_string(),
            "on" => ["2024-01-05", "20240105", "2024/1/5"][rng.below(3) as usize].to_string(),
            "yes" => ["true", "否", "1"][rng.below(3) as usize].to_string(),
            "grade" => ["A", "B", "M", " A"][rng.below(4) as usize].to_string(),
            "tags" => ["a;b", "专精特新", "x、y"][rng.below(3) as usize].to_string(),
            _ => format!("甲{n} "),
        }
    }

    /// The schema's columns shuffled, with one unknown column, sometimes
    /// one missing (never the key).
    fn header(rng: &mut Rng) -> Vec<&'static str> {
        let mut header: Vec<&str> = vec![
            "id", "code", "name", "n", "amount", "x", "rate", "on", "yes", "grade", "tags", "extra",
        ];
        for i in (1..header.len()).rev() {
            header.swap(i, rng.below(i as u64 + 1) as usize);
        }
        if rng.below(3) == 0 {
            let drop = rng.below(header.len() as u64) as usize;
            if header.get(drop) != Some(&"id") {
                header.remove(drop);
            }
        }
        header
    }

    /// A messy cell of `column`: mostly a value of the column's type.
    fn messy(rng: &mut Rng, column: &str) -> String {
        match rng.below(40) {
            0 => format!("K{}", rng.below(4)),
            1..=4 => MESSY[rng.below(MESSY.len() as u64) as usize].to_string(),
            _ => good(rng, column),
        }
    }

    /// A random CSV file of the schema's columns ([`header`]), rows of
    /// messy cells, some of the wrong length, some not UTF-8 (or with
    /// `gbk`, every cell in GB18030 and some not), keys sometimes
    /// repeated.
    fn file(rng: &mut Rng, gbk: bool) -> Vec<u8> {
        let header = header(rng);
        let mut out = header.join(",").into_bytes();
        out.push(b'\n');
        for _ in 0..rng.below(40) {
            let cells = match rng.below(20) {
                0 => header.len() - 1,
                1 => header.len() + 1,
                _ => header.len(),
            };
            let row: Vec<Vec<u8>> = (0..cells)
                .map(|i| match rng.below(40) {
                    0 => vec![b'x', 0xff, b'y'],
                    // a lead byte of GB18030 with no byte after it
                    1 if gbk => vec![b'a', 0x81],
                    // bytes of UTF-8 text, not GB18030 (and the reverse)
                    2 if gbk => "企业".as_bytes().to_vec(),
                    2 => encoding_rs::GB18030.encode("企业").0.into_owned(),
                    _ => {
                        let text = messy(rng, header.get(i).copied().unwrap_or("extra"));
                        if gbk {
                            encoding_rs::GB18030.encode(&text).0.into_owned()
                        } else {
                            text.into_bytes()
                        }
                    }
                })
                .collect();
            out.extend(row.join(&b","[..]));
            out.push(b'\n');
        }
        out
    }

    /// The schema with `key` its key (`code`: a credit code, checked).
    fn schema_keyed(key: &str) -> Schema {
        let text = SCHEMA.replace("key: id", &format!("key: {key}"));
        Schema::load(&crate::diag::SourceText::new("schema.yaml", text)).expect("the schema loads")
    }

    /// Every row of `rows` read by `fast` and by its plain path: the same
    /// records (or rejects) and the same things seen, and so with the key
    /// known ([`same_with_known_keys`]). How many rows the fast path itself
    /// took, and how many were read without a reject with the key known.
    fn same_rows(fast: &RowParser, rows: &[RawRow]) -> (usize, usize) {
        let plain = fast.plain();
        let width = fast.schema.fields.len();
        let mut taken = 0;
        for raw in rows {
            let (mut seen_fast, mut seen_plain) = (Seen::default(), Seen::default());
            let mut cells = missing_cells(width);
            let got = fast
                .parse_in(raw, &mut seen_fast, &mut cells)
                .map(|()| cells);
            let want = plain.parse(raw, &mut seen_plain).map(|r| r.cells);
            taken += usize::from(
                got.is_ok() && fast.fast_cells(raw, &mut missing_cells(width)).is_some(),
            );
            assert_eq!(got, want, "line {}", raw.line);
            assert_eq!(seen_fast.keys, seen_plain.keys, "line {}", raw.line);
            assert_eq!(seen_fast.odd, seen_plain.odd, "line {}", raw.line);
            let mut into = (missing_cells(width), Seen::default());
            let mut into_plain = (missing_cells(width), Seen::default());
            let got = fast.parse_into(raw, &mut into.1, &mut into.0);
            let want = plain.parse_into(raw, &mut into_plain.1, &mut into_plain.0);
            assert_eq!(got, want, "line {}", raw.line);
            if got.is_ok() {
                assert_eq!(into.0, into_plain.0, "line {}", raw.line);
            }
            assert_eq!(into.1.keys, into_plain.1.keys, "line {}", raw.line);
        }
        (taken, same_with_known_keys(fast, rows))
    }

    /// The key read once per firm: each row whose key cell has the text of
    /// a row read without a reject (the same row or another) read by
    /// [`RowParser::parse_into_known_key`] with that row's key cell given
    /// reads as [`RowParser::parse_into`] of the plain path reads it alone:
    /// the same result, cells, rejects and things seen. How many so read.
    fn same_with_known_keys(fast: &RowParser, rows: &[RawRow]) -> usize {
        let plain = fast.plain();
        let width = fast.schema.fields.len();
        let key = fast.schema.key;
        let mut accepted: Vec<(String, Cell)> = Vec::new();
        for raw in rows {
            let mut cells = missing_cells(width);
            if plain
                .parse_into(raw, &mut Seen::default(), &mut cells)
                .is_ok()
            {
                if let (Some(text), Some(cell)) = (plain.key_text(raw), cells.get(key)) {
                    accepted.push((text.into_owned(), cell.clone()));
                }
            }
        }
        let mut known = 0;
        for raw in rows {
            let Some(text) = fast.key_text(raw) else {
                continue;
            };
            let Some((_, cell)) = accepted.iter().find(|(t, _)| *t == *text) else {
                continue;
            };
            let mut got_cells = missing_cells(width);
            if let Some(slot) = got_cells.get_mut(key) {
                *slot = cell.clone();
            }
            let mut got_seen = Seen::default();
            let got = fast.parse_into_known_key(raw, &mut got_seen, &mut got_cells);
            let (mut want_cells, mut want_seen) = (missing_cells(width), Seen::default());
            let want = plain.parse_into(raw, &mut want_seen, &mut want_cells);
            assert_eq!(got, want, "line {}", raw.line);
            if got.is_ok() {
                assert_eq!(got_cells, want_cells, "line {}", raw.line);
                known += 1;
            }
            assert_eq!(got_seen.keys, want_seen.keys, "line {}", raw.line);
            assert_eq!(got_seen.odd, want_seen.odd, "line {}", raw.line);
        }
        known
    }

    /// Every row of `csv` read by the parser and by its plain path, with
    /// `keep` kept and the file known clean or not, in `encoding`: the
    /// same records (or rejects) and the same things seen.
    fn same_both_ways(
        csv: Vec<u8>,
        keep: Option<Vec<bool>>,
        clean: bool,
        encoding: Encoding,
    ) -> usize {
        same_both_ways_keyed(csv, keep, clean, encoding, "id").0
    }

    /// [`same_both_ways`] with `key` the schema's key; how many rows were
    /// read without a reject with the key known, too.
    fn same_both_ways_keyed(
        csv: Vec<u8>,
        keep: Option<Vec<bool>>,
        clean: bool,
        encoding: Encoding,
        key: &str,
    ) -> (usize, usize) {
        let schema = schema_keyed(key);
        let bytes = Arc::new(csv);
        let open = move || -> std::io::Result<Box<dyn Read + Send>> {
            Ok(Box::new(std::io::Cursor::new(bytes.as_ref().clone())))
        };
        let opts = ReadOptions { encoding };
        let Ok(mut stream) = Stream::open(Arc::new(open), Path::new("firms.csv"), &schema, &opts)
        else {
            return (0, 0);
        };
        if let Some(keep) = keep {
            stream.keep_fields(keep);
        }
        if clean {
            stream.known_clean();
        }
        let fast = stream.parser();
        assert!(!fast.fast.is_empty());
        let mut batch = RawBatch::default();
        let (mut taken, mut known) = (0, 0);
        while stream.next_batch(7, &mut batch).unwrap_or(false) {
            let (t, k) = same_rows(&fast, batch.rows());
            taken += t;
            known += k;
        }
        (taken, known)
    }

    /// Rows taken by the fast path over 400 random files of `encoding`
    /// (each row checked against the plain path).
    fn rows_taken_over_random_files(seed: u64, encoding: Encoding) -> usize {
        rows_taken_keyed(seed, encoding, "id").0
    }

    /// [`rows_taken_over_random_files`] with `key` the schema's key; how
    /// many rows were read without a reject with the key known, too.
    fn rows_taken_keyed(seed: u64, encoding: Encoding, key: &str) -> (usize, usize) {
        let mut rng = Rng(seed);
        let (mut taken, mut known) = (0, 0);
        for _ in 0..400 {
            let keep = match rng.below(3) {
                0 => None,
                _ => Some((0..11).map(|_| rng.below(2) == 0).collect()),
            };
            let clean = rng.below(4) == 0;
            let gb18030 = encoding == Encoding::Gb18030;
            let csv = file(&mut rng, gb18030);
            let (t, k) = same_both_ways_keyed(csv, keep, clean, encoding, key);
            taken += t;
            known += k;
        }
        (taken, known)
    }

    #[test]
    fn a_key_known_reads_as_the_plain_path_reads_it() {
        // a credit code, checked: the bench's key
        for (seed, encoding) in [
            (0x3c6e_f372_fe94_f82b, Encoding::Utf8),
            (0xa54f_f53a_5f1d_36f1, Encoding::Gb18030),
        ] {
            let (taken, known) = rows_taken_keyed(seed, encoding, "code");
            assert!(taken > 100, "{taken}");
            assert!(known > 100, "{known}");
        }
    }

    #[test]
    fn the_fast_path_reads_every_row_as_the_plain_path() {
        let taken = rows_taken_over_random_files(0x9e37_79b9_7f4a_7c15, Encoding::Utf8);
        // the fast path did take rows (a messy cell sends a row to the plain path)
        assert!(taken > 100, "{taken}");
    }

    #[test]
    fn the_fast_path_reads_every_gb18030_row_as_the_plain_path() {
        let taken = rows_taken_over_random_files(0x2545_f491_4f6c_dd1d, Encoding::Gb18030);
        assert!(taken > 100, "{taken}");
    }

    /// A random worksheet's rows as its reading thread writes them: each
    /// cell its tag and text (empty when the sheet has nothing there),
    /// text cells and numbers, error cells, formulas without a value.
    fn sheet_rows(rng: &mut Rng, columns: &[&str]) -> Vec<RawRow> {
        (0..rng.below(40))
            .map(|line| {
                let mut record = ByteRecord::new();
                for column in columns {
                    let text = messy(rng, column);
                    let tag = match rng.below(30) {
                        0 => b'e',
                        1 => b'f',
                        2..=9 => b'n',
                        _ => b't',
                    };
                    let field = match (rng.below(8), tag) {
                        (0, _) => Vec::new(),
                        (1, _) => vec![b't', 0xff],
                        (_, b'e') => b"e#N/A".to_vec(),
                        (_, b'f') => b"f=SUM(A1:A2)".to_vec(),
                        _ => [&[tag][..], text.as_bytes()].concat(),
                    };
                    record.push_field(&field);
                }
                RawRow {
                    line: line + 2,
                    record,
                    unterminated: false,
                }
            })
            .collect()
    }

    #[test]
    fn the_fast_path_reads_every_worksheet_row_as_the_plain_path() {
        let mut rng = Rng(0x6a09_e667_f3bc_c908);
        let (mut taken, mut known) = (0, 0);
        // keyed by a text, and by a credit code (checked: the bench's key)
        for n in 0..800 {
            let schema = schema_keyed(if n < 400 { "id" } else { "code" });
            let names = header(&mut rng);
            let mut unknown = Unknown::default();
            let Ok(columns) = columns(
                Path::new("firms.xlsx"),
                names.iter().map(|n| n.to_string()).collect(),
                &schema,
                &mut unknown,
            ) else {
                continue;
            };
            let mut parser = RowParser {
                schema: schema.clone(),
                format: Format::Excel,
                encoding: Encoding::Utf8,
                columns,
                duplicates: HashMap::new(),
                keep: None,
                clean: false,
                fast: Vec::new(),
                percents: Vec::new(),
                own_percents: Vec::new(),
                own_lists: Vec::new(),
            };
            if rng.below(3) != 0 {
                parser.keep = Some((0..11).map(|_| rng.below(2) == 0).collect());
            }
            parser.clean = rng.below(4) == 0;
            parser.replan();
            assert!(!parser.fast.is_empty());
            let (t, k) = same_rows(&parser, &sheet_rows(&mut rng, &names));
            taken += t;
            known += k;
        }
        assert!(taken > 100, "{taken}");
        assert!(known > 100, "{known}");
    }

    #[test]
    fn clean_rows_take_the_fast_path() {
        let csv = "id,code,name,n,amount,x,rate,on,yes,grade,tags\n\
                   N1,91420102MA4K2L3R0G,甲, 12 ,1234.50,-3,8%,2024-01-05,是,A,a;b\n\
                   N2,,,,,,,,,,\n";
        assert_eq!(
            same_both_ways(csv.as_bytes().to_vec(), None, false, Encoding::Utf8),
            2
        );
        let gbk = encoding_rs::GB18030.encode(csv).0.into_owned();
        assert_eq!(same_both_ways(gbk, None, false, Encoding::Gb18030), 2);
    }
}
