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

const DIGITS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// Reports every full-width punctuation mark outside texts and comments, and
/// nesting deeper than [`MAX_NESTING`].
pub fn scan(src: &SourceText) -> Vec<Diagnostic> {
    let text: &str = &src.text;
    let mut diags = Vec::new();
    let mut depth = 0usize;
    let mut too_deep_reported = false;
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
                depth += 1;
                if depth > MAX_NESTING && !too_deep_reported {
                    too_deep_reported = true;
                    diags.push(
                        Diagnostic::new(
                            "syntax::too-deep",
                            format!("brackets nested more than {MAX_NESTING} deep"),
                        )
                        .at(src, i, i + 1)
                        .label("too deep")
                        .help("split the expression with `let`"),
                    );
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {
                if let Some(ascii) = ascii_for(c) {
                    diags.push(
                        Diagnostic::new(
                            "syntax::full-width",
                            format!("full-width `{c}` outside a text: use the ASCII `{ascii}`"),
                        )
                        .at(src, i, i + c.len_utf8())
                        .label(format!("write `{ascii}` here"))
                        .help("switch the input method to half-width (半角) punctuation outside quotes"),
                    );
                }
            }
        }
    }
    diags
}

fn skip_line(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>) {
    while let Some(&(_, c)) = chars.peek() {
        if c == '\n' {
            break;
        }
        chars.next();
    }
}
