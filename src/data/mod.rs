//! Stage: data files to typed records and rejects (LANGUAGE.md sections 8 and 10).
//!
//! A data file is streamed ([`stream`]): its bytes are hashed for the
//! manifest, decoded cell by cell (UTF-8, or GB18030 as Chinese office
//! software exports it), and each row becomes either one [`Record`] or one or
//! more [`Reject`]s, never both and never neither. The format follows the
//! file's ending: `.jsonl` is JSON Lines, `.xlsx` (also `.xlsm`, `.xls`) the
//! first worksheet of an Excel workbook, anything else CSV.

mod cell;
mod json;

pub mod join;
pub mod ledger;
mod source;

pub mod named;
pub mod stream;

use std::path::{Path, PathBuf};

use crate::record::Record;
use crate::schema::Schema;

pub use cell::{list as list_cell, parse_cell, parse_json};
pub use stream::reading_workbook;

/// How the bytes of a data file are decoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 when the whole file is valid UTF-8 (or starts with a UTF-8
    /// byte-order mark), else GB18030.
    #[default]
    Auto,
    /// UTF-8; a row with bytes that are not UTF-8 is rejected.
    Utf8,
    /// GB18030, which includes GBK and GB2312.
    Gb18030,
}

/// Options for reading a data file.
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    pub encoding: Encoding,
}

/// One data file of a run, as `--data [SOURCE=]FILE` gives it: the
/// department it comes from (the schema's `source:`) and its path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    pub source: Option<String>,
    pub path: PathBuf,
}

impl Input {
    /// Reads `[SOURCE=]FILE`. Text before the first `=` is the source when
    /// it holds no path separator; a file whose own name holds `=` and
    /// exists is taken whole.
    pub fn parse(arg: &str) -> Input {
        let whole = Input {
            source: None,
            path: PathBuf::from(arg),
        };
        let Some((source, path)) = arg.split_once('=') else {
            return whole;
        };
        let separated = source.contains('/') || source.contains('\\');
        if source.trim().is_empty()
            || separated
            || (whole.path.exists() && !Path::new(path).exists())
        {
            return whole;
        }
        Input {
            source: Some(source.trim().to_string()),
            path: PathBuf::from(path),
        }
    }

    /// The file as rejects and conflicts name it: the path as given.
    pub fn name(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }
}

/// What rejects and conflicts call the files of a run (as given, without
/// `SOURCE=`), and the department each comes from.
pub struct Labels {
    pub names: Vec<String>,
    pub sources: Vec<Option<String>>,
}

impl Labels {
    pub fn of(inputs: &[Input]) -> Labels {
        Labels {
            names: inputs.iter().map(Input::name).collect(),
            sources: inputs.iter().map(|i| i.source.clone()).collect(),
        }
    }
}

/// A file named twice after `--data` (the same file by another path too),
/// as it was named the second time.
pub fn given_twice(inputs: &[Input]) -> Option<String> {
    let mut seen = std::collections::HashSet::new();
    for input in inputs {
        let real = std::fs::canonicalize(&input.path).unwrap_or_else(|_| input.path.clone());
        if !seen.insert(real) {
            return Some(input.name());
        }
    }
    None
}

/// A row, or a cell of it, set aside with the reason (`rejects.csv`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    /// The 1-based line of the data file where the row starts.
    pub row: u64,
    /// The column as written in the header (or JSON key); empty when the
    /// whole row is at fault.
    pub column: String,
    /// The cell as written, cut to 200 characters.
    pub value: String,
    pub reason: String,
}

/// A data file that cannot be read at all (as opposed to rows that are rejected).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DataError {
    #[error("无法读取数据文件 `{}` (cannot read the data file): {source}", path.display())]
    #[diagnostic(code(mianshen::data::unreadable))]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{}` 没有表头: 文件是空的 (no header: the file is empty)", path.display())]
    #[diagnostic(code(mianshen::data::no_header))]
    NoHeader { path: PathBuf },
    #[error(
        "`{}` 无法作为 Excel 工作簿读取: {message}; 请在 Excel 中重新保存, CSV 文件请以 `.csv` 结尾 (cannot be read as an Excel workbook: save it again from Excel, or give a CSV file a `.csv` ending)",
        path.display()
    )]
    #[diagnostic(code(mianshen::data::not_a_workbook))]
    NotAWorkbook { path: PathBuf, message: String },
    #[error(
        "`{}`: 不读取 `.{ending}` 格式的表格, 请另存为 Excel 工作簿 (.xlsx) 或 CSV (spreadsheets ending in `.{ending}` are not read; save it as .xlsx or CSV)",
        path.display()
    )]
    #[diagnostic(code(mianshen::data::sheet_not_read))]
    SheetNotRead { path: PathBuf, ending: String },
    #[error("`{}` 中没有工作表 (no worksheet)", path.display())]
    #[diagnostic(code(mianshen::data::no_worksheet))]
    NoWorksheet { path: PathBuf },
    #[error("`{}` 没有表头: 第一个工作表 `{sheet}` 是空的 (no header: its first worksheet is empty)", path.display())]
    #[diagnostic(code(mianshen::data::empty_sheet))]
    EmptySheet { path: PathBuf, sheet: String },
    #[error("`{}`:{line}: 无法读取表头 (cannot read the header): {message}", path.display())]
    #[diagnostic(code(mianshen::data::bad_header))]
    BadHeader {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("`{}`:1: 表头不是有效的 UTF-8, 请试试 --encoding gb18030 (the header is not valid UTF-8; try --encoding gb18030)", path.display())]
    #[diagnostic(code(mianshen::data::header_not_utf8))]
    HeaderNotUtf8 { path: PathBuf },
    #[error("`{}`:1: 表头也不是有效的 GB18030 文本, 这是 CSV 文件吗? 可试 --encoding utf8 (the header is not valid GB18030 text either; is this a CSV file? try --encoding utf8)", path.display())]
    #[diagnostic(code(mianshen::data::header_not_gb18030))]
    HeaderNotGb18030 { path: PathBuf },
    #[error("`{}` 没有主键字段 `{key}` 的列, 请把其中一列命名为 {} (no column for the key field `{key}`; name one {}){hint}", path.display(), names.join(" 或 "), names.join(" or "))]
    #[diagnostic(code(mianshen::data::no_key_column))]
    NoKeyColumn {
        path: PathBuf,
        key: String,
        /// The names the column may have, each in backticks.
        names: Vec<String>,
        /// Why, when the header tells: one column holding semicolons or
        /// tabs is a file separated by them (empty otherwise).
        hint: String,
    },
    #[error("`{}` 是 UTF-16 编码 (Excel 另存为\"Unicode 文本\"时的编码), 无法读取: 请在 Excel 中另存为\"CSV UTF-8(逗号分隔)\"后再运行 (the file is UTF-16, as Excel saves \"Unicode Text\": save it as \"CSV UTF-8 (Comma delimited)\")", path.display())]
    #[diagnostic(code(mianshen::data::utf16))]
    Utf16 { path: PathBuf },
    #[error(
        "`{}`:1: 第 {first_at} 列 `{first}` 和第 {second_at} 列 `{second}` 都对应字段 `{field}` (columns {} and {} both name the field `{field}`)",
        path.display(), ordinal(*first_at, first), ordinal(*second_at, second)
    )]
    #[diagnostic(code(mianshen::data::ambiguous_columns))]
    AmbiguousColumns {
        path: PathBuf,
        field: String,
        first: String,
        /// 1-based column number.
        first_at: usize,
        second: String,
        second_at: usize,
    },
}

/// "`uscc` (column 1)".
fn ordinal(at: usize, name: &str) -> String {
    format!("`{name}` (column {at})")
}

/// One row of a firm: its line, and its record or its rejects.
pub type KeyRow = (u64, Result<Record, Vec<Reject>>);

/// The rows of one firm, found by streaming the file (nothing else is
/// kept): each row whose key is `key`, in line order, as its record or its
/// rejects. When the key is on several rows, every one is rejected, as in a
/// run, and each row's rejects end with the duplicate-key reason.
pub fn find_key(
    path: &Path,
    schema: &Schema,
    opts: &ReadOptions,
    key: &str,
) -> Result<Vec<KeyRow>, DataError> {
    let mut s = stream::Stream::open_path(path, schema, opts)?;
    let parser = s.parser();
    let mut found = Vec::new();
    let mut batch = stream::RawBatch::default();
    while s.next_batch(4096, &mut batch)? {
        for raw in batch.rows() {
            let mut seen = stream::Seen::default();
            match parser.parse(raw, &mut seen) {
                Ok(r) if r.key(schema.key) == key => found.push((raw.line, Ok(r))),
                Ok(_) => {}
                Err(rejects) => {
                    if seen.keys.iter().any(|(k, _, _)| &**k == key) {
                        found.push((raw.line, Err(rejects)));
                    }
                }
            }
        }
    }
    if found.len() > 1 {
        let lines: Vec<u64> = found.iter().map(|(line, _)| *line).collect();
        let repeated = stream::Repeated::of(&lines);
        let column = schema.key_field().name.clone();
        for (line, row) in &mut found {
            let mut rejects = match std::mem::replace(row, Err(Vec::new())) {
                Ok(_) => Vec::new(),
                Err(r) => r,
            };
            rejects.push(Reject {
                row: *line,
                column: column.clone(),
                value: key.to_string(),
                reason: stream::also_on(&repeated, *line),
            });
            *row = Err(rejects);
        }
    }
    Ok(found)
}
