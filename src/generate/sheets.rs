//! Writing rows of cell texts in the formats departments send: UTF-8 CSV,
//! GBK CSV, JSON Lines and Excel workbooks. Each writes a cell so that the
//! data reader gives back the value of its text (LANGUAGE.md section 8):
//! typed where the format has the type and the text is exactly its value
//! (a JSON or Excel number, a date cell, a boolean), as text otherwise.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::*;
use mianshen::publish::table::EXCEL_ROWS;
use mianshen::record::Cell;

/// A department file's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// CSV in UTF-8.
    Csv,
    /// CSV in GBK, as Chinese office software saves it (written as GB18030,
    /// which is GBK for every character GBK has).
    Gbk,
    /// JSON Lines: one object per firm.
    JsonLines,
    /// An Excel workbook, one worksheet.
    Xlsx,
}

impl Format {
    /// `csv`, `gbk`, `jsonl` or `xlsx`.
    pub fn parse(s: &str) -> Option<Format> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "gbk" | "gb18030" => Some(Format::Gbk),
            "jsonl" => Some(Format::JsonLines),
            "xlsx" => Some(Format::Xlsx),
            _ => None,
        }
    }

    /// The default of the department at `place` (from 0): a mix, so that a
    /// generated set holds every format the reader takes.
    pub fn mixed(place: usize) -> Format {
        match place {
            1 => Format::Gbk,
            2 => Format::JsonLines,
            3 => Format::Xlsx,
            _ => Format::Csv,
        }
    }

    /// The file's ending, without the dot.
    pub fn ending(self) -> &'static str {
        match self {
            Format::Csv | Format::Gbk => "csv",
            Format::JsonLines => "jsonl",
            Format::Xlsx => "xlsx",
        }
    }

    /// Creates the file at `path` and writes its header.
    pub fn create(self, path: &Path, header: &[&str]) -> io::Result<Box<dyn Sheet>> {
        let file = BufWriter::new(File::create(path)?);
        Ok(match self {
            Format::Csv | Format::Gbk => {
                let mut sheet = CsvSheet {
                    w: file,
                    gbk: self == Format::Gbk,
                    line: Vec::new(),
                };
                sheet.write(header.iter().copied())?;
                Box::new(sheet)
            }
            Format::JsonLines => Box::new(JsonSheet { w: file }),
            Format::Xlsx => {
                drop(file);
                let mut sheet = rust_xlsxwriter::Worksheet::new();
                for (c, h) in header.iter().enumerate() {
                    sheet.write_string(0, column(c)?, *h).map_err(xlsx)?;
                }
                Box::new(XlsxSheet {
                    path: path.to_path_buf(),
                    sheet,
                    row: 0,
                })
            }
        })
    }
}

/// A file being written, a row at a time.
pub trait Sheet {
    /// One firm's cells, with their fields.
    fn row(&mut self, cells: &[(&Field, &str)]) -> io::Result<()>;
    /// Writes what is held and closes the file.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

struct CsvSheet {
    w: BufWriter<File>,
    gbk: bool,
    line: Vec<u8>,
}

impl CsvSheet {
    fn write<'a>(&mut self, cells: impl Iterator<Item = &'a str>) -> io::Result<()> {
        self.line.clear();
        {
            let mut w = csv::Writer::from_writer(&mut self.line);
            w.write_record(cells)?;
            w.flush()?;
        }
        if self.gbk {
            let text = String::from_utf8_lossy(&self.line);
            let (bytes, _, _) = encoding_rs::GB18030.encode(&text);
            self.w.write_all(&bytes)
        } else {
            self.w.write_all(&self.line)
        }
    }
}

impl Sheet for CsvSheet {
    fn row(&mut self, cells: &[(&Field, &str)]) -> io::Result<()> {
        self.write(cells.iter().map(|(_, t)| *t))
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.w.flush()
    }
}

struct JsonSheet {
    w: BufWriter<File>,
}

/// A cell as a JSON value: a number, boolean or list when the text reads as
/// exactly that, a string otherwise; `None` (the key left out) when empty.
fn json_value(field: &Field, text: &str) -> Option<serde_json::Value> {
    use serde_json::Value;
    if text.is_empty() {
        return None;
    }
    let typed = match (&field.ty, mianshen::data::parse_cell(&field.ty, text)) {
        (FieldType::Integer | FieldType::Number | FieldType::Money | FieldType::Percent, _) => {
            text.parse::<serde_json::Number>().ok().map(Value::Number)
        }
        (FieldType::Bool, _) if text == "true" || text == "false" => {
            Some(Value::Bool(text == "true"))
        }
        (FieldType::List, Ok(Cell::List(items))) => Some(Value::Array(
            items.iter().map(|i| Value::String(i.to_string())).collect(),
        )),
        _ => None,
    };
    Some(typed.unwrap_or_else(|| Value::String(text.to_string())))
}

impl Sheet for JsonSheet {
    fn row(&mut self, cells: &[(&Field, &str)]) -> io::Result<()> {
        let mut object = serde_json::Map::new();
        for (field, text) in cells {
            // keys as systems name them: the field's name
            if let Some(v) = json_value(field, text) {
                object.insert(field.name.clone(), v);
            }
        }
        serde_json::to_writer(&mut self.w, &object)?;
        self.w.write_all(b"\n")
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.w.flush()
    }
}

struct XlsxSheet {
    path: PathBuf,
    sheet: rust_xlsxwriter::Worksheet,
    /// The last row written, from 0 (the header).
    row: u32,
}

fn xlsx(e: rust_xlsxwriter::XlsxError) -> io::Error {
    io::Error::other(e.to_string())
}

fn column(c: usize) -> io::Result<u16> {
    u16::try_from(c).map_err(|_| io::Error::other("too many columns for a worksheet"))
}

impl Sheet for XlsxSheet {
    fn row(&mut self, cells: &[(&Field, &str)]) -> io::Result<()> {
        use rust_xlsxwriter::{ExcelDateTime, Format};
        let row = self.row + 1;
        if row >= EXCEL_ROWS {
            return Err(io::Error::other(format!(
                "Excel 工作表最多 {EXCEL_ROWS} 行 (a worksheet holds at most {EXCEL_ROWS} rows, the header included): `{}` cannot hold more firms; write it as CSV",
                self.path.display()
            )));
        }
        self.row = row;
        let s = &mut self.sheet;
        for (c, (field, text)) in cells.iter().enumerate() {
            let col = column(c)?;
            let number = text.parse::<f64>().ok().filter(|f| f.to_string() == *text);
            let date = match mianshen::data::parse_cell(&field.ty, text) {
                Ok(Cell::Date(d)) if field.ty == FieldType::Date => {
                    ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8).ok()
                }
                _ => None,
            };
            let numeric = matches!(
                field.ty,
                FieldType::Integer | FieldType::Number | FieldType::Money | FieldType::Percent
            );
            if text.is_empty() {
                continue;
            } else if let (true, Some(n)) = (numeric, number) {
                s.write_number(row, col, n).map_err(xlsx)?;
            } else if let Some(d) = date {
                let f = Format::new().set_num_format("yyyy-mm-dd");
                s.write_datetime_with_format(row, col, &d, &f)
                    .map_err(xlsx)?;
            } else if field.ty == FieldType::Bool && (*text == "true" || *text == "false") {
                s.write_boolean(row, col, *text == "true").map_err(xlsx)?;
            } else {
                s.write_string(row, col, *text).map_err(xlsx)?;
            }
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        let mut book = rust_xlsxwriter::Workbook::new();
        // a fixed creation date: the same firms give the same bytes
        let created = rust_xlsxwriter::ExcelDateTime::from_ymd(2025, 1, 1).map_err(xlsx)?;
        book.set_properties(&rust_xlsxwriter::DocProperties::new().set_creation_datetime(&created));
        book.push_worksheet(self.sheet);
        book.save(&self.path).map_err(xlsx)
    }
}
