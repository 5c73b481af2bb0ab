//! The slips officers make most, recognised where the parser stopped, each
//! with a message in Chinese that says what to write instead: `且` for
//! `and`, a label without quotes, a `"` inside a label, `cap` inside the
//! amount's braces, an `if` without `else`, a date written as in a data
//! file.

use super::wording::{
    block_name, last_token_end, unclosed_brace, Expected, Found, Lex, ITEM_WORDS, OPERATOR,
    OPERATOR_WORDS, TEXT, TIER_ROW,
};
use crate::date::Date;
use crate::diag::SourceText;

/// A better message, label, help or place than "expected X, found Y" alone.
#[derive(Default)]
pub(super) struct Hint {
    pub(super) message: Option<String>,
    pub(super) label: Option<String>,
    pub(super) help: Option<String>,
    /// Where to put the marker instead of the token found.
    pub(super) span: Option<(usize, usize)>,
}

fn help(text: impl Into<String>) -> Hint {
    Hint {
        help: Some(text.into()),
        ..Hint::default()
    }
}

/// Chinese words an officer writes for an operator, with the operator.
const CHINESE_OPERATORS: &[(&str, &str)] = &[
    ("且", "and"),
    ("并且", "and"),
    ("而且", "and"),
    ("同时", "and"),
    ("和", "and"),
    ("或", "or"),
    ("或者", "or"),
    ("大于等于", ">="),
    ("不低于", ">="),
    ("不少于", ">="),
    ("小于等于", "<="),
    ("不高于", "<="),
    ("不超过", "<="),
    ("不多于", "<="),
    ("大于", ">"),
    ("高于", ">"),
    ("超过", ">"),
    ("小于", "<"),
    ("低于", "<"),
    ("等于", "=="),
    ("不等于", "!="),
    ("包含", "contains"),
    ("属于", "in"),
    ("介于", "between"),
    ("那么", "then"),
    ("则", "then"),
    ("否则", "else"),
];

/// The date a word means when written as a data file writes it
/// (`2025/01/01`, `2025年12月31日`, `20240101`), read by the data files' own
/// rule; `None` for anything else.
pub fn data_file_date(word: &str) -> Option<Date> {
    let word = word.trim();
    if word.len() < 8 || !word.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    match crate::data::parse_cell(&crate::schema::FieldType::Date, word) {
        Ok(crate::record::Cell::Date(d)) => Some(d),
        _ => None,
    }
}

/// The word of date characters around `pos` (digits, `/`, `-`, `年月日`).
fn date_word(text: &str, pos: usize) -> (usize, usize) {
    let is_date_char = |c: char| c.is_ascii_digit() || matches!(c, '/' | '-' | '年' | '月' | '日');
    let before = text.get(..pos).unwrap_or("");
    let start = before
        .char_indices()
        .rev()
        .take_while(|&(_, c)| is_date_char(c))
        .last()
        .map_or(pos, |(i, _)| i);
    let after = text.get(pos..).unwrap_or("");
    let end = pos
        + after
            .char_indices()
            .find(|&(_, c)| !is_date_char(c))
            .map_or(after.len(), |(i, _)| i);
    (start, end)
}

/// A date written as in a data file where the parser stopped.
fn date_slip(text: &str, pos: usize) -> Option<Hint> {
    let (start, end) = date_word(text, pos);
    let word = text.get(start..end)?;
    let date = data_file_date(word)?;
    Some(Hint {
        message: Some(format!(
            "日期请写成 `{date}`,不是 `{word}` (write dates as `{date}`)"
        )),
        label: Some(format!("写成 `{date}`")),
        help: Some(
            "政策里的日期一律写成四位年、两位月、两位日,用 `-` 连接,如 `2025-01-01`;\
             `2025/1/1`、`20250101`、`2025年1月1日` 只在数据文件里可用"
                .into(),
        ),
        span: Some((start, end)),
    })
}

/// The line of `text` that holds `pos`, as `(start, end)`.
fn line_at(text: &str, pos: usize) -> (usize, usize) {
    let start = text
        .get(..pos)
        .and_then(|t| t.rfind('\n'))
        .map_or(0, |i| i + 1);
    let end = text
        .get(pos..)
        .and_then(|t| t.find('\n'))
        .map_or(text.len(), |i| pos + i);
    (start, end)
}

/// `require 足额缴纳 insured_months >= 12`: a label written without quotes
/// is read as a name, and the condition after it is where the parser stops.
fn unquoted_label(text: &str, at: &Found) -> Option<Hint> {
    let (line_start, _) = line_at(text, at.pos);
    let before = text.get(line_start..at.pos)?;
    let words: Vec<&str> = before.split_whitespace().collect();
    let [keyword, label] = words.as_slice() else {
        return None;
    };
    if !["require", "exclude", "amount"].contains(keyword)
        || !label.chars().all(|c| c.is_alphanumeric() || c == '_')
        || at.end_of_file
        || at.token.is_empty()
    {
        return None;
    }
    let start = line_start + before.find(label)?;
    let end = start + label.len();
    Some(Hint {
        message: Some(format!(
            "标签要用英文双引号:`{keyword} \"{label}\"` (a label is written in double quotes)"
        )),
        label: Some("这是标签吗?请加上双引号".into()),
        help: Some(format!(
            "写成 `{keyword} \"{label}\" {}…`;标签后面才是条件或金额",
            at.token
        )),
        span: Some((start, end)),
    })
}

/// `require "认定为"小巨人"企业" …`: a `"` inside a label ends it early.
/// Found on the line of the stop: a text whose closing quote touches a word,
/// which touches the next text.
fn inner_quote(text: &str, lex: &[Lex], pos: usize) -> Option<Hint> {
    let (line_start, line_end) = line_at(text, pos);
    let bytes = text.as_bytes();
    let kind = |i: usize| lex.get(i).copied();
    let mut i = line_start;
    while i < line_end {
        // a closing quote: the last byte of a text, followed at once by code
        let closes = bytes.get(i) == Some(&b'"')
            && kind(i) == Some(Lex::Text)
            && kind(i + 1) == Some(Lex::Code)
            && i > line_start
            && kind(i - 1) == Some(Lex::Text);
        if closes {
            let mut open = i;
            while open > line_start && kind(open - 1) == Some(Lex::Text) {
                open -= 1;
            }
            let mut j = i + 1;
            while j < line_end && kind(j) == Some(Lex::Code) {
                j += 1;
            }
            if bytes.get(j) == Some(&b'"') && kind(j) == Some(Lex::Text) && open <= pos {
                let mut close = j + 1;
                while close < line_end && kind(close) == Some(Lex::Text) {
                    close += 1;
                }
                let whole = text.get(open..close)?;
                let inner = whole.get(1..whole.len().saturating_sub(1))?;
                let mut opening = true;
                let fixed: String = inner
                    .chars()
                    .map(|c| {
                        if c == '"' {
                            let q = if opening { '「' } else { '」' };
                            opening = !opening;
                            q
                        } else {
                            c
                        }
                    })
                    .collect();
                return Some(Hint {
                    message: Some(
                        "标签里的引号结束了标签:标签内请用「」或“”(a `\"` inside a label ends it)"
                            .into(),
                    ),
                    label: Some("标签在这里被引号截断".into()),
                    help: Some(format!(
                        "写成 `\"{fixed}\"`;英文双引号 `\"` 只用来括起整个标签"
                    )),
                    span: Some((open, close)),
                });
            }
        }
        i += 1;
    }
    None
}

/// The `if` whose `else` is missing: the last `if` written before `pos`.
fn open_if(text: &str, lex: &[Lex], pos: usize) -> Option<usize> {
    let head = text.get(..pos)?;
    let mut from = head.len();
    while let Some(i) = head.get(..from)?.rfind("if") {
        let before_ok = i == 0
            || head
                .get(..i)
                .and_then(|t| t.chars().next_back())
                .is_some_and(|c| !(c.is_alphanumeric() || c == '_'));
        let after_ok = head
            .get(i + 2..)
            .and_then(|t| t.chars().next())
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        if before_ok && after_ok && lex.get(i) == Some(&Lex::Code) {
            return Some(i);
        }
        from = i;
    }
    None
}

/// Operators of other languages, with the operator to write.
const OTHER_OPERATORS: &[(&str, &str)] = &[
    ("&&", "and"),
    ("||", "or"),
    ("&", "and"),
    ("|", "or"),
    ("=>", ">="),
    ("=<", "<="),
    ("<>", "!="),
];

/// `2000 万` and `10 %`: a unit or a percent sign apart from its number;
/// `&&`, `||`, `=>`: operators of other languages.
fn symbol_slip(text: &str, at: &Found) -> Option<Hint> {
    let before = text.get(..at.pos)?;
    let trimmed = before.trim_end_matches([' ', '\t']);
    let number = trimmed
        .rsplit(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .next()
        .filter(|n| {
            let word_before = trimmed
                .get(..trimmed.len() - n.len())
                .and_then(|t| t.chars().next_back())
                .is_some_and(|c| c.is_alphanumeric() || c == '_');
            n.starts_with(|c: char| c.is_ascii_digit()) && !word_before
        });
    if let (Some(n), true) = (number, trimmed.len() < before.len()) {
        let unit = if at.token == "%" {
            Some("%")
        } else {
            ["万元", "亿元", "万", "亿", "元"]
                .into_iter()
                .find(|u| at.token == *u)
        };
        if let Some(unit) = unit {
            let start = trimmed.len() - n.len();
            return Some(Hint {
                message: Some(format!(
                    "`{unit}` 要紧跟在数字后面:写 `{n}{unit}` (write `{n}{unit}`, without the space)"
                )),
                label: Some(format!("写成 `{n}{unit}`")),
                help: Some("数字和 `万`、`亿`、`元`、`%` 之间不留空格:`2000万`、`5.5%`".into()),
                span: Some((start, at.end)),
            });
        }
    }
    // `=>` is read as `=` and then `>`: the operator starts one byte back
    let start = if before.ends_with(['=', '<']) && matches!(at.token.as_str(), ">" | "<") {
        at.pos - 1
    } else {
        at.pos
    };
    let rest = text.get(start..)?;
    let (written, op) = OTHER_OPERATORS.iter().find(|(w, _)| rest.starts_with(*w))?;
    Some(Hint {
        message: Some(format!("`{written}` 请写 `{op}` (write `{op}`)")),
        label: Some(format!("写成 `{op}`")),
        help: Some(
            "条件里的运算符:`and`、`or`、`not`、`>=`、`<=`、`==`、`!=`、`in`、`contains`".into(),
        ),
        span: Some((start, start + written.len())),
    })
}

/// The mistakes officers make most, recognised from what was expected and
/// what was found.
pub(super) fn hint(
    src: &SourceText,
    lex: &[Lex],
    expected: &Expected,
    at: &Found,
    found_desc: &str,
) -> Hint {
    let text: &str = &src.text;
    let word = at.token.as_str();
    if let Some(h) = date_slip(text, at.pos) {
        return h;
    }
    if let Some(h) = inner_quote(text, lex, at.pos) {
        return h;
    }
    if let Some(h) = symbol_slip(text, at) {
        return h;
    }
    if expected.has(OPERATOR) {
        if let Some((_, op)) = CHINESE_OPERATORS.iter().find(|(w, _)| *w == word) {
            return Hint {
                message: Some(format!("`{word}` 请写 `{op}` (write `{op}`)")),
                label: Some(format!("写成 `{op}`")),
                help: Some(
                    "条件里的运算符用英文:`and`、`or`、`not`、`>=`、`<=`、`==`、`in`、`contains`"
                        .into(),
                ),
                span: None,
            };
        }
        if !at.keyword && !at.starts_line {
            if let Some(h) = unquoted_label(text, at) {
                return h;
            }
        }
    }
    if at.is(&["if", "when"]) && expected.operand_only {
        let form = if word == "if" {
            "(if … then … else …)"
        } else {
            "(when … then … else …)"
        };
        return Hint {
            message: Some(format!(
                "这里的 `{word}` 要加括号 (`{word}` needs parentheses here)"
            )),
            label: Some(format!("在 `{word}` 前写 `(`")),
            help: Some(format!(
                "作为运算符、档位行或 `between` 的一部分时,条件表达式要写在括号里:`{form}`"
            )),
            span: None,
        };
    }
    if expected.has("`}`") && at.is(&["cap"]) {
        if let Some(b) = unclosed_brace(text, lex, at.pos) {
            if block_name(text, b) == "`amount { … }`" {
                return Hint {
                    message: Some(
                        "`cap` 不能写在 `amount { … }` 的花括号里 (`cap` is an item of its own)"
                            .into(),
                    ),
                    label: Some("把 `cap` 移到 `}` 之后".into()),
                    help: Some(
                        "`cap` 是政策的单独一项:先用 `}` 结束金额,再另起一行写 `cap 300万`".into(),
                    ),
                    span: None,
                };
            }
        }
    }
    if expected.has("`}`")
        && (at.end_of_file || at.is(&["policy", "define", "exclusive", "combined"]))
    {
        let opened = unclosed_brace(text, lex, at.pos);
        let what = opened.map_or("政策".to_string(), |b| block_name(text, b));
        let line = opened.map(|b| src.line_col(b).0);
        return Hint {
            message: Some(format!(
                "{what} 缺少结束的 `}}`,这里已是 {found_desc} (a `{{` is not closed)"
            )),
            label: Some(
                if at.end_of_file {
                    "这之后缺少 `}`"
                } else {
                    "这之前缺少 `}`"
                }
                .into(),
            ),
            help: Some(match line {
                Some(line) => format!("{what} 在第 {line} 行以 `{{` 开始,请用 `}}` 结束"),
                None => "每个 `{` 都要有对应的 `}`".to_string(),
            }),
            span: None,
        };
    }
    if expected.has("`policy`") && at.is(ITEM_WORDS) {
        return help(format!(
            "`{word}` 要写在政策里,即 `policy ID {{` 与它的 `}}` 之间;上面是否多写了一个 `}}`?"
        ));
    }
    if at.keyword && expected.has_value() {
        return help(if at.starts_line && at.after_text && at.is(ITEM_WORDS) {
            format!("`{word}` 前面的标签后面什么也没有:请在标签后写条件或金额")
        } else if at.starts_line && at.is(ITEM_WORDS) {
            format!("`{word}` 开始了新的一项:上一行提前结束了(是否漏写了值?)")
        } else if at.is(OPERATOR_WORDS) {
            format!("`{word}` 前面缺少一个值")
        } else {
            format!("`{word}` 是保留字,不能作名称;与保留字同名的字段请用它的 title 或别名")
        });
    }
    if expected.has("`desc`") {
        return help("`by 表达式` 之后写 `desc`(从大到小)或 `asc`(从小到大)");
    }
    if expected.has("`to`") {
        return help("有效期写成 `valid 2024-01-01 to 2024-12-31`");
    }
    if expected.has("`else`") && !expected.has(TIER_ROW) {
        let end = last_token_end(lex, at.pos);
        if let Some(i) = open_if(text, lex, at.pos) {
            return Hint {
                message: Some("`if … then …` 缺少 `else …` (`if` needs its `else`)".into()),
                label: Some("这个 `if` 没有 `else`".into()),
                help: Some("写成 `if 条件 then 值1 else 值2`".into()),
                span: Some((i, end.max(i + 2))),
            };
        }
        return help("写成 `if 条件 then 值1 else 值2`");
    }
    if expected.has("`=`") {
        return help("用 `=` 给名称赋值:`let small_firm = employees <= 30`");
    }
    if expected.has("`:`") {
        return help(
            "表格的行在 `tiers` 里写成 `>= 值 : 结果`,在 `progressive` 里写成 `up to 值 : 比例`",
        );
    }
    if expected.has("`keep highest`") {
        return help("互斥组以 `keep highest` 结尾:`exclusive \"标签\" { A, B } keep highest`");
    }
    if expected.text() == TEXT && !at.end_of_file {
        return Hint {
            message: Some(format!(
                "文字要用英文双引号:`\"{word}\"` (a text is written in double quotes)"
            )),
            help: Some(format!("写成 `\"{word}\"`")),
            ..Hint::default()
        };
    }
    match word {
        "'" => help("文字用英文双引号括起:`\"小型\"`,不用单引号"),
        ";" => help("条目和条件后面不需要 `;`:另起一行写下一项"),
        _ => Hint::default(),
    }
}
