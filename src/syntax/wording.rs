//! Syntax errors in words an officer can act on: what was expected and
//! found, where (the furthest token pest tried), and a help to follow.

use super::parse::{PolicyGrammar, Rule};
use super::slips;
use crate::diag::{Diagnostic, SourceText};
use pest::Parser;

/// Held while pest's process-wide error-detail switch is not as the host
/// program left it.
pub(super) static DETAIL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Whether pest's error detail is on now: pest has no getter, but a parse
/// that fails says whether it recorded its attempts.
pub(super) fn detail_is_on() -> bool {
    PolicyGrammar::parse(Rule::file, "\u{1}")
        .err()
        .is_some_and(|e| e.parse_attempts().is_some())
}

/// Parses `text` again recording the literal tokens pest tried (`}`, `:`,
/// `=` …), which the message names. Recording slows parsing down, so only a
/// failed file pays for it. pest's switch is process-wide: it is turned on
/// for this parse only, under a lock (so no other parse of ours turns it off
/// meanwhile), and then put back as it was, so a host program that uses pest
/// finds it as it left it.
pub(super) fn parse_in_detail(text: &str) -> Result<(), pest::error::Error<Rule>> {
    let _held = DETAIL.lock().unwrap_or_else(|e| e.into_inner());
    let was_on = detail_is_on();
    pest::set_error_detail(true);
    let result = PolicyGrammar::parse(Rule::file, text).map(|_| ());
    pest::set_error_detail(was_on);
    result
}

/// Parses one policy file. Returns what could be read and every problem found;
/// a syntax error stops the file at that point (the rest of the set goes on).
/// What each byte of a policy file is, for placing markers: pest's spans
/// and error positions know nothing of comments.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Lex {
    /// Whitespace.
    Blank,
    /// Part of a comment, `//` or `#` to the end of the line.
    Comment,
    /// Part of a token other than a text.
    Code,
    /// Part of a text `"…"`, quotes included.
    Text,
}

impl Lex {
    /// Whitespace or a comment: nothing pest reads.
    pub fn blank(self) -> bool {
        matches!(self, Lex::Blank | Lex::Comment)
    }
}

/// Classifies every byte of `text` (see [`Lex`]); a `#` or `{` inside a
/// text is part of the text.
pub fn lex_map(text: &str) -> Vec<Lex> {
    let mut map = vec![Lex::Blank; text.len()];
    let mut chars = text.char_indices().peekable();
    let mark = |map: &mut Vec<Lex>, i: usize, c: char, lex: Lex| {
        for b in map.iter_mut().skip(i).take(c.len_utf8()) {
            *b = lex;
        }
    };
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                mark(&mut map, i, c, Lex::Text);
                let mut escaped = false;
                while let Some((j, d)) = chars.next_if(|&(_, d)| d != '\n') {
                    mark(&mut map, j, d, Lex::Text);
                    if escaped {
                        escaped = false;
                    } else if d == '\\' {
                        escaped = true;
                    } else if d == '"' {
                        break;
                    }
                }
            }
            '#' => mark_comment(&mut map, i, &mut chars),
            '/' if matches!(chars.peek(), Some(&(_, '/'))) => mark_comment(&mut map, i, &mut chars),
            ' ' | '\t' | '\r' | '\n' | '\u{3000}' | '\u{FEFF}' => {}
            _ => mark(&mut map, i, c, Lex::Code),
        }
    }
    map
}

/// Marks a comment from `start` to the end of its line.
fn mark_comment(
    map: &mut [Lex],
    start: usize,
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
) {
    let mut end = start + 1;
    while let Some((j, c)) = chars.next_if(|&(_, c)| c != '\n') {
        end = j + c.len_utf8();
    }
    for b in map.iter_mut().take(end).skip(start) {
        *b = Lex::Comment;
    }
}

/// End of the last token before `pos`: where "the end of the file" or "the
/// line before ends too early" is best shown.
pub(super) fn last_token_end(lex: &[Lex], pos: usize) -> usize {
    let mut end = pos.min(lex.len());
    while end > 0 && lex.get(end - 1).is_some_and(|l| l.blank()) {
        end -= 1;
    }
    end
}

/// The innermost `{` still open at `pos`, outside texts and comments.
pub(super) fn unclosed_brace(text: &str, lex: &[Lex], pos: usize) -> Option<usize> {
    unclosed(text, lex, pos, (b'{', b'}'))
}

/// The innermost `open` of the pair still open at `pos`, outside texts and
/// comments.
fn unclosed(text: &str, lex: &[Lex], pos: usize, (open, close): (u8, u8)) -> Option<usize> {
    let mut opened = Vec::new();
    for (i, b) in text.bytes().enumerate().take(pos) {
        if lex.get(i) != Some(&Lex::Code) {
            continue;
        }
        if b == open {
            opened.push(i);
        } else if b == close {
            opened.pop();
        }
    }
    opened.pop()
}

/// `require "x" (revenue >= 2000万` and the next line: the parser stops at
/// the next line, but the `(` (or `[`) left open is what to mark.
fn unclosed_bracket(
    src: &SourceText,
    lex: &[Lex],
    expected: &Expected,
    at: &Found,
) -> Option<Diagnostic> {
    if !(at.starts_line || at.end_of_file || at.is(&["}"])) {
        return None;
    }
    let text: &str = &src.text;
    let (pair, open, close) = [((b'(', b')'), '(', ')'), ((b'[', b']'), '[', ']')]
        .into_iter()
        .find(|(_, _, close)| expected.has(&format!("`{close}`")))?;
    let i = unclosed(text, lex, at.pos, pair)?;
    let (line, col) = src.line_col(i);
    Some(
        Diagnostic::new(
            "syntax::unexpected",
            format!("`{open}` 没有对应的 `{close}` (an unclosed `{open}`)"),
        )
        .at(src, i, i + 1)
        .label(format!("这个 `{open}` 没有配对的 `{close}`"))
        .also(at.start, at.end, format!("到这里还没有 `{close}`"))
        .help(format!(
            "第 {line} 行第 {col} 列的 `{open}` 要在表达式结束处用 `{close}` 关上"
        )),
    )
}

/// What the `{` at `brace` opens, in the officer's words: "policy `wengang`",
/// "the `tiers` table".
pub(super) fn block_name(text: &str, brace: usize) -> String {
    let head = text.get(..brace).unwrap_or("");
    let head = &head[head.rfind('\n').map_or(0, |i| i + 1)..];
    let words: Vec<&str> = head.split_whitespace().collect();
    if let Some(i) = words.iter().rposition(|w| *w == "policy") {
        if let Some(id) = words.get(i + 1) {
            return format!("政策 `{id}`");
        }
    }
    for (word, what) in [
        ("tiers", "`tiers` 档位表"),
        ("progressive", "`progressive` 累进表"),
        ("exclusive", "`exclusive` 互斥组"),
        ("combined", "`combined` 合并限额组"),
        ("amount", "`amount { … }`"),
    ] {
        if words.contains(&word) {
            return what.to_string();
        }
    }
    "这个 `{`".to_string()
}

/// What pest was ready to accept where it stopped, grouped and worded for
/// officers, loosest last: `}` and `:` first, then words like `then`, then
/// values, rows, policy items, operators, top-level items, the end of file.
#[derive(Default)]
pub(super) struct Expected {
    items: Vec<(u8, String)>,
    /// An expression is expected here, but not one that may be an `if` or a
    /// `when` (the operand of an operator, a tier row's value …).
    pub(super) operand_only: bool,
}

impl Expected {
    /// What was expected and where. pest places its error at the furthest
    /// *rule* it tried; a literal token tried further on (the `=` of
    /// `let x = …`) moves the place there.
    fn new(e: &pest::error::Error<Rule>, pos: usize) -> (Expected, usize) {
        let mut out = Expected::default();
        let attempts = e.parse_attempts();
        // pest does not export the token type; its Display is the token
        let tokens: Vec<String> = attempts
            .as_ref()
            .map(|a| a.expected_tokens().iter().map(|t| t.to_string()).collect())
            .unwrap_or_default();
        let further = attempts
            .as_ref()
            .map(|a| a.max_position)
            .filter(|&p| p > pos);
        let described: Vec<(u8, String)> =
            tokens.iter().filter_map(|t| describe_token(t)).collect();
        // (a keyword's `!ident_char` also leaves tokens further on, `_` and
        // letters, which say nothing: those keep pest's place)
        if let (Some(p), false) = (further, described.is_empty()) {
            for (order, text) in described {
                out.push(order, text);
            }
            out.tidy();
            return (out, p);
        }
        let mut any_expr = false;
        let mut full_expr = false;
        if let pest::error::ErrorVariant::ParsingError { positives, .. } = &e.variant {
            for r in positives {
                any_expr |= is_expression(*r);
                full_expr |= *r == Rule::expr;
                match r {
                    Rule::direction => {
                        out.push(1, "`asc`".into());
                        out.push(1, "`desc`".into());
                    }
                    _ => {
                        if let Some(d) = describe(*r) {
                            out.push(d.0, d.1);
                        }
                    }
                }
            }
        }
        out.operand_only = any_expr && !full_expr;
        if attempts.is_some_and(|a| a.max_position == pos) {
            for token in tokens.iter().filter(|t| is_punctuation(t)) {
                out.push(0, format!("`{token}`"));
            }
        }
        out.tidy();
        (out, pos)
    }

    fn tidy(&mut self) {
        if self.has(OPERATOR) {
            // `=` is then the comparison written wrong, reported after parsing
            self.items.retain(|(_, d)| d != "`=`");
        }
        if self.has(EXPRESSION) {
            self.items.retain(|(_, d)| d != DATE && d != NAME);
        }
        self.items.sort();
    }

    fn push(&mut self, order: u8, text: String) {
        if !self.items.iter().any(|(_, t)| *t == text) {
            self.items.push((order, text));
        }
    }

    pub(super) fn has(&self, text: &str) -> bool {
        self.items.iter().any(|(_, t)| t == text)
    }

    pub(super) fn has_value(&self) -> bool {
        self.has(EXPRESSION) || self.has(NAME)
    }

    /// [`Self::text`] in English, for the part of a message in brackets.
    pub(super) fn text_en(&self) -> String {
        let words: Vec<String> = self.items.iter().map(|(_, t)| english(t)).collect();
        match words.as_slice() {
            [] => "something else".to_string(),
            [one] => one.clone(),
            [first @ .., last] => format!("{} or {last}", first.join(", ")),
        }
    }

    pub(super) fn text(&self) -> String {
        let words: Vec<&str> = self.items.iter().map(|(_, t)| t.as_str()).collect();
        match words.as_slice() {
            [] => "其他内容".to_string(),
            [one] => one.to_string(),
            [first @ .., last] => format!("{} 或 {last}", first.join("、")),
        }
    }
}

/// Turns pest's error into a diagnostic that says what was expected, in the
/// officer's terms, with a help for the mistakes officers make most.
pub(super) fn syntax_error(
    src: &SourceText,
    e: &pest::error::Error<Rule>,
    lex: &[Lex],
) -> Diagnostic {
    let text: &str = &src.text;
    let pos = match e.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    }
    .min(text.len());
    let rest = text.get(pos..).unwrap_or("");
    if rest.starts_with('"') && !text_closes(rest) {
        let line_end = pos + rest.find(['\r', '\n']).unwrap_or(rest.len());
        return Diagnostic::new("syntax::unterminated-text", "这段文字没有结束的双引号")
            .at(src, pos, line_end)
            .label("文字从这里开始,一直到行尾")
            .help(
                "在同一行用 `\"` 结束文字;文字里要用引号时写「」或“”(a text ends with `\"` on its line)",
            );
    }
    let (expected, pos) = Expected::new(e, pos);
    let at = Found::at(text, lex, pos);
    let found_desc = if at.end_of_file {
        END_OF_FILE.to_string()
    } else if at.keyword && expected.has_value() {
        format!("保留字 `{}`", at.token)
    } else {
        format!("`{}`", at.token)
    };
    let expected_text = expected.text();
    let hint = slips::hint(src, lex, &expected, &at, &found_desc);
    if hint.message.is_none() {
        if let Some(d) = unclosed_bracket(src, lex, &expected, &at) {
            return d;
        }
    }
    let message = hint.message.unwrap_or_else(|| {
        let found_en = if at.end_of_file {
            english(END_OF_FILE)
        } else if at.keyword && expected.has_value() {
            format!("the keyword `{}`", at.token)
        } else {
            format!("`{}`", at.token)
        };
        format!(
            "这里应为 {expected_text},却是 {found_desc} (expected {}, found {found_en})",
            expected.text_en()
        )
    });
    let label = hint
        .label
        .or_else(|| (expected_text.chars().count() <= 40).then(|| format!("应为 {expected_text}")));
    let (start, end) = hint.span.unwrap_or((at.start, at.end));
    let mut d = Diagnostic::new("syntax::unexpected", message).at(src, start, end);
    if let Some(l) = label {
        d = d.label(l);
    }
    if let Some(h) = hint.help {
        d = d.help(h);
    }
    d
}

/// What stands where the parser stopped, and where to put the marker.
pub(super) struct Found {
    /// The word or symbol there (empty at the end of the file).
    pub(super) token: String,
    pub(super) keyword: bool,
    pub(super) end_of_file: bool,
    /// The token is the first thing on its line.
    pub(super) starts_line: bool,
    /// The token before it is a text (a label, a title).
    pub(super) after_text: bool,
    pub(super) pos: usize,
    pub(super) start: usize,
    pub(super) end: usize,
}

impl Found {
    fn at(text: &str, lex: &[Lex], pos: usize) -> Found {
        let rest = text.get(pos..).unwrap_or("");
        let token = found_token(rest);
        let before = text.get(..pos).unwrap_or("");
        let last = last_token_end(lex, pos);
        let end_of_file = rest.trim_start().is_empty();
        // at the end of the file, mark the last character written
        let (start, end) = if end_of_file {
            let width = text
                .get(..last)
                .and_then(|t| t.chars().next_back())
                .map_or(0, char::len_utf8);
            (last - width, last)
        } else {
            (pos, pos + token.len().max(1).min(rest.len()))
        };
        Found {
            keyword: KEYWORDS.contains(&token.as_str()),
            end_of_file,
            starts_line: before
                .rsplit('\n')
                .next()
                .is_some_and(|l| l.trim().is_empty()),
            after_text: last > 0 && lex.get(last - 1) == Some(&Lex::Text),
            token,
            pos,
            start,
            end,
        }
    }

    pub(super) fn is(&self, words: &[&str]) -> bool {
        words.contains(&self.token.as_str())
    }
}

/// Whether a text that starts `rest` is closed on its line.
pub(super) fn text_closes(rest: &str) -> bool {
    let mut chars = rest.chars().skip(1);
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '"' => return true,
            '\n' => return false,
            _ => {}
        }
    }
    false
}

/// The reserved words of LANGUAGE.md section 3.
pub const KEYWORDS: &[&str] = &[
    "policy",
    "title",
    "issuer",
    "basis",
    "valid",
    "to",
    "budget",
    "allocate",
    "pro_rata",
    "by",
    "asc",
    "desc",
    "limit",
    "let",
    "require",
    "exclude",
    "amount",
    "cap",
    "define",
    "exclusive",
    "combined",
    "keep",
    "highest",
    "and",
    "or",
    "not",
    "in",
    "contains",
    "between",
    "is",
    "missing",
    "present",
    "if",
    "then",
    "else",
    "when",
    "tiers",
    "progressive",
    "up",
    "above",
    "true",
    "false",
];

pub(super) const TIER_ROW: &str = "档位行(如 `>= 100万 : 5万`)";
pub(super) const EXPRESSION: &str = "表达式";
pub(super) const OPERATOR: &str = "运算符";
pub(super) const ITEM: &str = "政策条目";
pub(super) const NAME: &str = "名称";
pub(super) const TEXT: &str = "双引号中的文字";
pub(super) const DATE: &str = "日期(如 `2024-01-01`)";
pub(super) const END_OF_FILE: &str = "文件结尾";
const NUMBER: &str = "数字";
const PROG_ROW: &str = "分段行(如 `up to 100万 : 10%`)";
const MISSING_PRESENT: &str = "`missing` 或 `present`";

/// A thing [`Expected`] names, in English; tokens in backticks as they are.
fn english(zh: &str) -> String {
    match zh {
        TIER_ROW => "a `tiers` row",
        EXPRESSION => "an expression",
        OPERATOR => "an operator",
        ITEM => "a policy item",
        NAME => "a name",
        TEXT => "a text in double quotes",
        DATE => "a date",
        END_OF_FILE => "the end of the file",
        NUMBER => "a number",
        PROG_ROW => "a `progressive` row",
        MISSING_PRESENT => "`missing` or `present`",
        _ => return zh.to_string(),
    }
    .to_string()
}

/// The words that start an item of a policy.
pub(super) const ITEM_WORDS: &[&str] = &[
    "title", "issuer", "basis", "valid", "budget", "allocate", "limit", "let", "require",
    "exclude", "amount", "cap",
];

/// Reserved words that continue an expression rather than name something;
/// the first six are operators.
pub(super) const OPERATOR_WORDS: &[&str] = &[
    "and", "or", "in", "contains", "between", "is", "then", "else", "to", "by",
];

pub(super) fn found_token(rest: &str) -> String {
    let mut chars = rest.chars();
    match chars.next() {
        None => String::new(),
        Some(c) if c.is_alphanumeric() || c == '_' => rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
            .collect(),
        Some(c) => match ["==", "!=", "<=", ">=", "//"]
            .iter()
            .find(|op| rest.starts_with(**op))
        {
            Some(op) => op.to_string(),
            None => c.to_string(),
        },
    }
}

/// The punctuation worth naming when pest tried it (`(` and `[` only start
/// an expression, which is named as such).
pub(super) fn is_punctuation(token: &str) -> bool {
    ["{", "}", ":", ",", ")", "]", "="].contains(&token)
}

/// A literal token pest tried, in the words of [`describe`].
pub(super) fn describe_token(token: &str) -> Option<(u8, String)> {
    if is_punctuation(token) {
        return Some((0, format!("`{token}`")));
    }
    if ["==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/"].contains(&token)
        || OPERATOR_WORDS.iter().take(6).any(|w| *w == token)
    {
        return Some((5, OPERATOR.into()));
    }
    if ITEM_WORDS.contains(&token) {
        return Some((4, ITEM.into()));
    }
    if KEYWORDS.contains(&token) {
        return Some((1, format!("`{token}`")));
    }
    None
}

pub(super) fn is_expression(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::expr
            | Rule::or_expr
            | Rule::and_expr
            | Rule::not_expr
            | Rule::cmp_expr
            | Rule::sum
            | Rule::product
            | Rule::unary
            | Rule::if_expr
            | Rule::when_expr
            | Rule::paren
            | Rule::list_lit
            | Rule::call
            | Rule::tiers
            | Rule::progressive
            | Rule::number_lit
            | Rule::percent_lit
            | Rule::kw_true
            | Rule::kw_false
    )
}

/// A rule pest tried, as the officer would name what goes there, with its
/// place in the list (see [`Expected`]); `None` for rules that add nothing.
pub(super) fn describe(rule: Rule) -> Option<(u8, String)> {
    let (order, s) = match rule {
        r if is_expression(r) => (2, EXPRESSION),
        Rule::date_lit | Rule::date_body | Rule::bad_date => (2, DATE),
        // what may not follow a number or a date: never what was expected
        Rule::bad_follow | Rule::word_follow => return None,
        Rule::ident => (2, NAME),
        Rule::text => (2, TEXT),
        Rule::signed_lit => (2, NUMBER),
        Rule::tier_row | Rule::tier_op => (3, TIER_ROW),
        Rule::tier_else => (3, "`else : …`"),
        Rule::prog_row | Rule::kw_up => (3, PROG_ROW),
        Rule::prog_above | Rule::kw_above => (3, "`above : …`"),
        Rule::title
        | Rule::issuer
        | Rule::basis
        | Rule::valid
        | Rule::budget
        | Rule::allocate
        | Rule::limit
        | Rule::let_item
        | Rule::require
        | Rule::exclude
        | Rule::amount
        | Rule::cap
        | Rule::kw_title
        | Rule::kw_issuer
        | Rule::kw_basis
        | Rule::kw_valid
        | Rule::kw_budget
        | Rule::kw_allocate
        | Rule::kw_limit
        | Rule::kw_let
        | Rule::kw_require
        | Rule::kw_exclude
        | Rule::kw_amount
        | Rule::kw_cap => (4, ITEM),
        Rule::compare
        | Rule::cmp_op
        | Rule::in_list
        | Rule::not_in
        | Rule::contains
        | Rule::between
        | Rule::is_missing
        | Rule::is_present
        | Rule::single_eq
        | Rule::chained
        | Rule::add_op
        | Rule::mul_op
        | Rule::kw_and
        | Rule::kw_or
        | Rule::kw_not
        | Rule::kw_in
        | Rule::kw_contains
        | Rule::kw_between
        | Rule::kw_is => (5, OPERATOR),
        Rule::kw_asc => (1, "`asc`"),
        Rule::kw_desc | Rule::direction => (1, "`desc`"),
        Rule::kw_missing | Rule::kw_present => (1, MISSING_PRESENT),
        Rule::kw_keep => (1, "`keep highest`"),
        Rule::policy | Rule::kw_policy => (6, "`policy`"),
        Rule::define | Rule::kw_define => (6, "`define`"),
        Rule::exclusive | Rule::kw_exclusive => (6, "`exclusive`"),
        Rule::combined | Rule::kw_combined => (6, "`combined`"),
        Rule::EOI => (7, END_OF_FILE),
        other => {
            let name = format!("{other:?}");
            return Some(match name.strip_prefix("kw_") {
                Some(k) => (1, format!("`{k}`")),
                None => (1, name),
            });
        }
    };
    Some((order, s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse_file;

    fn set_detail(on: bool) {
        let _held = DETAIL.lock().unwrap_or_else(|e| e.into_inner());
        pest::set_error_detail(on);
    }

    fn detail_now() -> bool {
        let _held = DETAIL.lock().unwrap_or_else(|e| e.into_inner());
        detail_is_on()
    }

    /// A failed file is parsed again in detail; pest's process-wide switch
    /// is left as the host program had it, on or off.
    #[test]
    fn a_syntax_error_leaves_pests_switch_as_it_was() {
        let src = SourceText::new("bad.policy", "policy x { require = }");
        for on in [false, true, false] {
            set_detail(on);
            let (_, diags) = parse_file(&src, 0);
            assert!(!diags.is_empty(), "a syntax error");
            assert_eq!(detail_now(), on, "the switch is back to {on}");
        }
    }
}
