//! A lexical pass before pest: full-width punctuation outside texts and
//! comments, and bracket nesting too deep to parse safely.

use crate::diag::{Diagnostic, SourceText};

/// Deepest bracket nesting accepted; deeper input is refused before parsing.
pub const MAX_NESTING: usize = 200;

fn ascii_for(c: char) -> Option<&'static str> {
    Some(match c {
        '：' => ":",
        '（' => "(",
        '）' => ")",
        '，' | '、' => ",",
        '“' | '”' | '＂' => "\"",
        '‘' | '’' => "'",
        '；' => ";",
        '【' | '［' => "[",
        '】' | '］' => "]",
        '｛' => "{",
        '｝' => "}",
        '＝' => "=",
        '＜' => "<",
        '＞' => ">",
        '％' => "%",
        '！' => "!",
        '＋' => "+",
        '－' => "-",
        '＊' => "*",
        '／' => "/",
        '．' | '。' => ".",
        '＃' => "#",
        '０'..='９' => return DIGITS.get((c as u32 - '０' as u32) as usize).copied(),
        _ => return None,
    })
}

/// Mathematical signs an officer types for an operator.
fn operator_for(c: char) -> Option<&'static str> {
    Some(match c {
        '≥' | '⩾' => ">=",
        '≤' | '⩽' => "<=",
        '≠' => "!=",
        '×' => "*",
        '÷' => "/",
        _ => return None,
    })
}

const DIGITS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// What the lexical pass found.
pub struct Scan {
    pub diags: Vec<Diagnostic>,
    /// Each full-width mark reported, as `(start, end, ASCII counterpart)`,
    /// in the order of the text.
    pub marks: Vec<(usize, usize, &'static str)>,
    /// Nesting deeper than [`MAX_NESTING`] was found: not safe to parse.
    pub too_deep: bool,
}

/// The text with each mark replaced by its ASCII counterpart, and for each
/// byte of it (and its end) the offset in `text` of the character it comes
/// from.
pub fn ascii_text(text: &str, marks: &[(usize, usize, &str)]) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(text.len());
    let mut map = Vec::with_capacity(text.len() + 1);
    let mut from = 0;
    for &(start, end, ascii) in marks {
        if start < from {
            continue;
        }
        out.push_str(text.get(from..start).unwrap_or(""));
        map.extend(from..start);
        out.push_str(ascii);
        map.extend(std::iter::repeat_n(start, ascii.len()));
        from = end;
    }
    out.push_str(text.get(from..).unwrap_or(""));
    map.extend(from..=text.len());
    (out, map)
}

/// Reports every full-width punctuation mark outside texts and comments, and
/// nesting deeper than [`MAX_NESTING`].
pub fn scan(src: &SourceText) -> Scan {
    let text: &str = &src.text;
    let mut diags = Vec::new();
    let mut marks = Vec::new();
    let mut depth = 0usize;
    let mut too_deep_reported = false;
    // prefix operators in a row (`not not …`, `- - …`) and `if`s in one item
    // nest as deeply as brackets do
    let mut prefixes = 0usize;
    let mut ifs = 0usize;
    // a `when` right after `then` or `else` nests; arms of one `when` do not
    let mut after_branch = false;
    let mut too_deep = |diags: &mut Vec<Diagnostic>, at: usize, len: usize, what: &str| {
        if !too_deep_reported {
            too_deep_reported = true;
            diags.push(
                Diagnostic::new(
                    "syntax::too-deep",
                    format!(
                        "{what}嵌套超过 {MAX_NESTING} 层 (nested more than {MAX_NESTING} deep)"
                    ),
                )
                .at(src, at, at + len)
                .label("嵌套太深")
                .help("请用 `let` 把表达式拆开"),
            );
        }
    };
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                // skip the text; an unterminated one is left to the parser
                while let Some(&(_, c)) = chars.peek() {
                    if c == '\n' {
                        break;
                    }
                    chars.next();
                    if c == '\\' {
                        chars.next();
                    } else if c == '"' {
                        break;
                    }
                }
            }
            '#' => skip_line(&mut chars),
            '/' if matches!(chars.peek(), Some(&(_, '/'))) => skip_line(&mut chars),
            '(' | '[' | '{' => {
                prefixes = 0;
                depth += 1;
                if depth > MAX_NESTING {
                    too_deep(&mut diags, i, 1, "括号");
                }
            }
            ')' | ']' | '}' => {
                prefixes = 0;
                depth = depth.saturating_sub(1);
            }
            '-' => {
                prefixes += 1;
                if prefixes > MAX_NESTING {
                    too_deep(&mut diags, i, 1, "前缀运算符");
                }
            }
            c if c.is_whitespace() => {}
            c if (c.is_alphanumeric() || c == '_') && ascii_for(c).is_none() => {
                let mut end = i + c.len_utf8();
                while let Some(&(j, d)) = chars.peek() {
                    if !(d.is_alphanumeric() || d == '_') {
                        break;
                    }
                    end = j + d.len_utf8();
                    chars.next();
                }
                let word = text.get(i..end).unwrap_or("");
                let nests = word == "if" || (word == "when" && after_branch);
                after_branch = word == "then" || word == "else";
                match word {
                    "not" => {
                        prefixes += 1;
                        if prefixes > MAX_NESTING {
                            too_deep(&mut diags, i, 3, "前缀运算符");
                        }
                        continue;
                    }
                    _ if nests => {
                        ifs += 1;
                        if ifs > MAX_NESTING {
                            too_deep(&mut diags, i, word.len(), "`if` 和 `when` 表达式");
                        }
                    }
                    "require" | "exclude" | "let" | "amount" | "cap" | "define" | "policy"
                    | "limit" | "allocate" | "title" | "issuer" | "basis" | "valid" | "budget"
                    | "exclusive" | "combined" => ifs = 0,
                    _ => {}
                }
                prefixes = 0;
            }
            _ => {
                prefixes = 0;
                if let Some(op) = operator_for(c) {
                    marks.push((i, i + c.len_utf8(), op));
                    diags.push(
                        Diagnostic::new(
                            "syntax::full-width",
                            format!("`{c}` 请写 `{op}` (write `{op}`)"),
                        )
                        .at(src, i, i + c.len_utf8())
                        .label(format!("写成 `{op}`"))
                        .help("运算符用英文键盘输入:`>=`、`<=`、`!=`、`*`、`/`"),
                    );
                } else if let Some(ascii) = ascii_for(c) {
                    // `＃` would start a comment, hiding the rest of the line
                    if c != '＃' {
                        marks.push((i, i + c.len_utf8(), ascii));
                    }
                    diags.push(
                        Diagnostic::new(
                            "syntax::full-width",
                            format!(
                                "引号外不能用全角 `{c}`,请写半角 `{ascii}` (full-width `{c}`: use the ASCII `{ascii}`)"
                            ),
                        )
                        .at(src, i, i + c.len_utf8())
                        .label(format!("写成 `{ascii}`"))
                        .help("引号外请把输入法切换到半角标点"),
                    );
                }
            }
        }
    }
    Scan {
        too_deep: diags.iter().any(|d| d.code == "syntax::too-deep"),
        diags,
        marks,
    }
}

fn skip_line(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>) {
    while let Some(&(_, c)) = chars.peek() {
        if c == '\n' {
            break;
        }
        chars.next();
    }
}
