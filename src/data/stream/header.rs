//! The header of a data file: its columns, the field each fills, the
//! unknown ones.

use super::*;

/// A header column.
#[derive(Clone, Debug)]
pub(super) struct Column {
    /// As written (byte-order mark removed): rejects name it so.
    pub(super) header: String,
    /// The field it fills; `None` for an unknown column, whose cells are ignored.
    pub(super) field: Option<usize>,
}

#[derive(Default)]
pub(super) struct Unknown {
    pub(super) names: Vec<String>,
    pub(super) seen: HashSet<String>,
}

impl Unknown {
    pub(super) fn add(&mut self, name: &str) {
        if !self.seen.contains(name) {
            self.seen.insert(name.to_string());
            self.names.push(name.to_string());
        }
    }
}

/// Reads the header: skips blank lines before it, maps each column to a field.
pub(super) fn header(
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
    let mut names = Vec::with_capacity(record.len());
    for (i, raw) in record.iter().enumerate() {
        let name = decode(encoding, raw).map_err(|_| match encoding {
            // a UTF-16 byte-order mark, either way round
            _ if i == 0 && (raw.starts_with(&[0xFF, 0xFE]) || raw.starts_with(&[0xFE, 0xFF])) => {
                DataError::Utf16 {
                    path: path.to_path_buf(),
                }
            }
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
        names.push(header.to_string());
    }
    columns(path, names, schema, unknown)
}

/// Maps the names of a header, as written, to fields: the columns of a CSV
/// file or of a worksheet's first row.
pub(super) fn columns(
    path: &Path,
    names: Vec<String>,
    schema: &Schema,
    unknown: &mut Unknown,
) -> Result<Vec<Column>, DataError> {
    let mut columns = Vec::with_capacity(names.len());
    for header in names {
        let field = schema.lookup(trim(&header));
        if field.is_none() {
            unknown.add(trim(&header));
        }
        columns.push(Column { header, field });
    }
    check_columns(path, &columns, schema)?;
    Ok(columns)
}

/// A header read as one column that holds semicolons, tabs or bars: the
/// file is separated by them, not by commas.
fn separator_hint(columns: &[Column]) -> String {
    let [only] = columns else {
        return String::new();
    };
    let said = [
        (';', "分号 `;`", "semicolons"),
        ('\t', "制表符 (Tab)", "tabs"),
        ('|', "竖线 `|`", "bars"),
        ('；', "全角分号 `；`", "full-width semicolons"),
    ];
    said.iter()
        .find(|(c, ..)| only.header.contains(*c))
        .map(|(_, zh, en)| {
            format!(
                "; 表头读成了一列, 其中有{zh}: 文件似乎用{zh}分隔, 请另存为逗号分隔的 CSV (the header reads as one column holding {en}: save the file separated by commas)"
            )
        })
        .unwrap_or_default()
}

/// A first row with one cell of text among empty ones (a title, often
/// merged across the columns in Excel) or none at all: the header is
/// further down.
fn title_hint(columns: &[Column]) -> String {
    let filled: Vec<&str> = columns
        .iter()
        .map(|c| trim(&c.header))
        .filter(|h| !h.is_empty())
        .collect();
    match filled.as_slice() {
        [] if columns.len() > 1 => "; 第 1 行是空行: 表头须在第 1 行, 请删去表头上方的空行 (the first row is empty: the header must be the first row)".to_string(),
        [title] => format!(
            "; 第 1 行只有 `{title}` 一格, 像是标题行: 表头须在第 1 行, 请删去表头上方的标题行 (the first row holds only `{title}`, like a title: the header must be the first row, so delete the rows above it)"
        ),
        some if some.len() < columns.len() => {
            let (n, m) = (columns.len(), some.len());
            let shown: Vec<String> = some.iter().take(3).map(|t| format!("`{t}`")).collect();
            format!(
                "; 第 1 行 {n} 格中只有 {m} 格有字 ({}), 像是标题行或合并单元格的分组标题: 表头须在第 1 行, 每列一个名称, 请删去上方的标题行或分组行 (only {m} of the first row's {n} cells hold text, like a title or the group titles of merged cells: the header must be the first row, one name per column)",
                shown.join("、")
            )
        }
        _ => String::new(),
    }
}

/// The key has a column, and no field has two.
pub(super) fn check_columns(
    path: &Path,
    columns: &[Column],
    schema: &Schema,
) -> Result<(), DataError> {
    if !columns.iter().any(|c| c.field == Some(schema.key)) {
        let key = schema.key_field();
        let names: Vec<String> = key.names().map(|n| format!("`{n}`")).collect();
        return Err(DataError::NoKeyColumn {
            path: path.to_path_buf(),
            key: key.name.clone(),
            names,
            hint: match separator_hint(columns) {
                h if h.is_empty() => title_hint(columns),
                h => h,
            },
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
