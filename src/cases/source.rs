//! Reading a test file: its bytes as text (UTF-8, with or without a BOM, or
//! GB18030/GBK as Chinese office software saves it, as data files are
//! read), and a YAML error as a diagnostic with file, line, column and the
//! line itself.

use std::path::Path;

use crate::diag::{Diagnostic, SourceText};

/// Largest test file read.
const MAX_BYTES: u64 = 16 << 20;

/// The text of a test file, or why it cannot be read.
pub fn read(path: &Path) -> Result<SourceText, Diagnostic> {
    let name = path.to_string_lossy().replace('\\', "/");
    let cannot = |e: String| {
        Diagnostic::new(
            "test::file",
            format!("无法读取测试文件 `{name}`:{e} (cannot read)"),
        )
        .in_file(&name)
    };
    let len = std::fs::metadata(path)
        .map_err(|e| cannot(e.to_string()))?
        .len();
    if len > MAX_BYTES {
        return Err(cannot(format!("文件大于 {} MiB", MAX_BYTES >> 20)));
    }
    let bytes = std::fs::read(path).map_err(|e| cannot(e.to_string()))?;
    let text = decode(&bytes).ok_or_else(|| {
        cannot("既不是 UTF-8 也不是 GB18030/GBK 文本 (neither UTF-8 nor GB18030)".into())
    })?;
    Ok(SourceText::new(name, text))
}

/// UTF-8 (a BOM dropped), else GB18030, which GBK is part of.
fn decode(bytes: &[u8]) -> Option<String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(t) = std::str::from_utf8(bytes) {
        return Some(t.to_string());
    }
    let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
    (!had_errors).then(|| text.into_owned())
}

/// A YAML syntax error, placed where the parser stopped.
pub fn yaml_error(src: &SourceText, e: &serde_yaml_ng::Error) -> Diagnostic {
    let text = e.to_string();
    // the library appends its own "at line L column C": the place is shown instead
    let message = match text.find(" at line ") {
        Some(i) => text.get(..i).unwrap_or(&text),
        None => &text,
    };
    let d = Diagnostic::new(
        "test::yaml",
        format!("测试文件不是有效的 YAML:{message} (not valid YAML)"),
    )
    .help(
        "检查缩进:同一层的键左端对齐,只用空格不用 Tab;`键:` 的冒号后留一个空格;\
         含 `:`、`#` 或以 `\"` 开头的值请整体加引号",
    );
    if let Some((at, c, ascii)) = e.location().and_then(|l| full_width_near(src, l.index())) {
        let end = at + c.len_utf8();
        return d
            .help(format!(
                "这里是全角的 `{c}`, YAML 要用半角的 `{ascii}` (a full-width `{c}`: YAML needs `{ascii}`)"
            ))
            .at(src, at, end)
            .label("全角符号 (full-width)");
    }
    match e.location() {
        Some(l) => {
            let at = l.index().min(src.text.len());
            let end = src
                .text
                .get(at..)
                .and_then(|t| t.chars().next())
                .map_or(at, |c| at + c.len_utf8());
            d.at(src, at, end).label("这里")
        }
        None => d.in_file(&src.name),
    }
}

/// The first full-width punctuation YAML would need in ASCII (`：`, `，`,
/// `｛`, …) on the line of `offset` or the line before it (a parser stops
/// at the end of what a full-width colon made one long key): its offset,
/// itself and its ASCII form.
fn full_width_near(src: &SourceText, offset: usize) -> Option<(usize, char, char)> {
    let text: &str = &src.text;
    let offset = offset.min(text.len());
    let line_start = |at: usize| {
        text.get(..at)
            .and_then(|t| t.rfind('\n'))
            .map_or(0, |i| i + 1)
    };
    let this = line_start(offset);
    let from = if this > 0 { line_start(this - 1) } else { 0 };
    let to = text
        .get(offset..)
        .and_then(|t| t.find('\n'))
        .map_or(text.len(), |i| offset + i);
    text.get(from..to)?.char_indices().find_map(|(i, c)| {
        let ascii = match c {
            '：' => ':',
            '，' => ',',
            '｛' => '{',
            '｝' => '}',
            '［' => '[',
            '］' => ']',
            '－' => '-',
            _ => return None,
        };
        Some((from + i, c, ascii))
    })
}

/// The 1-based line where the `index`-th case (from 0) starts: its `- ` under
/// the top-level `cases:`, whether or not it has a `name:`. `None` for a
/// list written in flow style (`cases: [ … ]`).
pub fn case_item_line(src: &SourceText, index: usize) -> Option<usize> {
    let mut lines = src.text.lines().enumerate();
    lines.find(|(_, l)| {
        l.strip_prefix("cases:")
            .is_some_and(|r| r.trim().is_empty())
    })?;
    let mut indent = None;
    let mut seen = 0;
    for (i, l) in lines {
        let body = l.trim_start();
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let at = l.len() - body.len();
        let item = body == "-" || body.starts_with("- ");
        match indent {
            None if item => indent = Some(at),
            None => return None,
            Some(n) if at < n || (at == n && !item) => return None,
            _ => {}
        }
        if item && Some(at) == indent {
            if seen == index {
                return Some(i + 1);
            }
            seen += 1;
        }
    }
    None
}

/// The 1-based line where the case named `name` starts (its `name:`), for
/// placing the case's problems.
pub fn case_line(src: &SourceText, name: &str) -> Option<usize> {
    src.text
        .lines()
        .position(|l| {
            let l = l.trim_start().trim_start_matches('-').trim_start();
            l.strip_prefix("name:")
                .map(|v| v.trim().trim_matches(['"', '\'']))
                .is_some_and(|v| v == name)
        })
        .map(|i| i + 1)
}
