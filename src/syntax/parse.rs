//! pest grammar to AST: the tree built from what pest read. Syntax errors
//! are worded in [`super::wording`]; these two are the only modules that see
//! pest types.

use std::borrow::Cow;
use std::str::FromStr;

use pest::iterators::Pair;
use pest::Parser;
use pest_derive::Parser;
use rust_decimal::Decimal;

use super::ast::*;
use super::scan;
use super::wording::{lex_map, parse_in_detail, syntax_error, Lex, ITEM_WORDS};
use crate::date::Date;
use crate::diag::{Diagnostic, SourceText};

#[derive(Parser)]
#[grammar = "../grammar/policy.pest"]
pub(super) struct PolicyGrammar;

/// Deepest expression nesting the later stages will see.
const MAX_DEPTH: usize = 200;
/// Most syntax errors reported for one file: after each, the item where the
/// parser stopped is blanked out and the file read again.
const MAX_SYNTAX_ERRORS: usize = 20;
/// How much reading again a file's errors may cost, in times the file's
/// length (at least [`MIN_RECOVERY_BYTES`]): a large file with many errors
/// reports those it reaches in a few parses' time.
const RECOVERY_TIMES: usize = 4;
const MIN_RECOVERY_BYTES: usize = 256 << 10;

/// Parses one policy file, reporting every problem it can at once:
/// full-width punctuation is reported and then read as its ASCII
/// counterpart; after a syntax error the item holding it is blanked out
/// and the rest read again, for the errors further on. The tree is that of
/// the whole file when no item had to be blanked out (so the file's names
/// and types can still be checked), and empty otherwise. A file with any
/// diagnostic is never accepted.
pub fn parse_file(src: &SourceText, file: FileId) -> (SourceFile, Vec<Diagnostic>) {
    let scanned = scan::scan(src);
    let mut diags = scanned.diags;
    if scanned.too_deep {
        return (SourceFile::default(), diags);
    }
    let (mut text, map): (Cow<'_, str>, Option<Vec<usize>>) = if scanned.marks.is_empty() {
        (Cow::Borrowed(&src.text), None)
    } else {
        let (t, m) = scan::ascii_text(&src.text, &scanned.marks);
        (Cow::Owned(t), Some(m))
    };
    let orig = |at: usize| {
        map.as_ref()
            .map_or(at, |m| m.get(at).copied().unwrap_or(at))
    };
    let mut blanked = false;
    let mut last_stop = None;
    // bytes read by the failed parses so far, each read twice (in detail)
    let mut spent = 0usize;
    let budget = (text.len() * RECOVERY_TIMES).max(MIN_RECOVERY_BYTES);
    for _ in 0..MAX_SYNTAX_ERRORS {
        let lex = lex_map(&text);
        let first = match PolicyGrammar::parse(Rule::file, &text) {
            Ok(pairs) => {
                let mut b = Builder {
                    src,
                    file,
                    map: map.as_deref(),
                    diags: Vec::new(),
                    depth: 0,
                    too_deep_reported: false,
                    lex,
                };
                let out = b.file(pairs);
                diags.extend(b.diags);
                return (if blanked { SourceFile::default() } else { out }, diags);
            }
            Err(e) => e,
        };
        let e = parse_in_detail(&text).err().unwrap_or(first);
        let read = SourceText::new(src.name.clone(), text.as_ref());
        let d = syntax_error(&read, &e, &lex);
        let pest_stop = match e.location {
            pest::error::InputLocation::Pos(p) => p,
            pest::error::InputLocation::Span((p, _)) => p,
        };
        let stop = d.at.as_ref().map_or(0, |p| p.start).max(pest_stop);
        // blanking the item out did not get the parser further: the same
        // error again
        if last_stop.is_some_and(|l| stop <= l) {
            break;
        }
        // a full-width mark read as `;` or `'` stops the parser where it has
        // been reported already
        let at_mark =
            d.at.as_ref()
                .is_some_and(|p| scanned.marks.iter().any(|m| m.0 == orig(p.start)));
        if !at_mark {
            diags.push(in_source(d, src, &orig));
        }
        last_stop = Some(stop);
        spent += 2 * stop;
        if spent > budget {
            break;
        }
        let Some((from, to)) = recovery_region(&text, &lex, stop) else {
            break;
        };
        let mut bytes = text.into_owned().into_bytes();
        for b in bytes.iter_mut().take(to).skip(from) {
            if !matches!(*b, b'\n' | b'\r') {
                *b = b' ';
            }
        }
        let Ok(t) = String::from_utf8(bytes) else {
            break;
        };
        text = Cow::Owned(t);
        blanked = true;
    }
    (SourceFile::default(), diags)
}

/// The names a file defines for the whole set, as far as its words tell
/// (`define NAME`, `policy ID`): read from a file that does not parse, so
/// that the rest of the set is checked without calling them unknown.
pub fn declared_names(text: &str) -> Vec<String> {
    let lex = lex_map(text);
    let mut words = Vec::new();
    let mut word = String::new();
    for (i, c) in text.char_indices() {
        if lex.get(i) == Some(&Lex::Code) && (c.is_alphanumeric() || c == '_') {
            word.push(c);
        } else if !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
    }
    words.push(word);
    words
        .windows(2)
        .filter_map(|w| match w {
            [kw, name] if kw == "define" || kw == "policy" => Some(name.clone()),
            _ => None,
        })
        .collect()
}

/// A diagnostic placed in the text as read (full-width marks replaced,
/// items blanked out) placed in the file as written.
fn in_source(mut d: Diagnostic, src: &SourceText, orig: &impl Fn(usize) -> usize) -> Diagnostic {
    if let Some(p) = d.at.take() {
        d = d.at(src, orig(p.start), orig(p.end));
    }
    for (start, end, _) in &mut d.also {
        *start = orig(*start);
        *end = orig(*end);
    }
    d
}

/// The words that begin an item of a file, beside those of a policy.
const TOP_WORDS: &[&str] = &["policy", "define", "exclusive", "combined"];

/// Where to resume after a syntax error at `stop`: blank out from the
/// start of the item holding it (the last line before `stop` that begins
/// with an item's word) to the next line that begins with one, or with a
/// `}`. `None` when there is no such item, no such line after it, or the
/// part blanked out would open or close a brace of the policy around it.
fn recovery_region(text: &str, lex: &[Lex], stop: usize) -> Option<(usize, usize)> {
    let mut from = None;
    let mut to = None;
    let mut line = 0;
    while line < text.len() {
        let next = text
            .get(line..)
            .and_then(|t| t.find('\n'))
            .map_or(text.len(), |i| line + i + 1);
        let head = (line..next).find(|&i| lex.get(i) == Some(&Lex::Code));
        if let Some(h) = head {
            let rest = text.get(h..).unwrap_or("");
            let word: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let item = ITEM_WORDS.contains(&word.as_str()) || TOP_WORDS.contains(&word.as_str());
            if item && h < stop {
                from = Some(h);
            }
            if (item || rest.starts_with('}')) && h >= stop {
                to = Some(h);
                break;
            }
        }
        line = next;
    }
    let (from, to) = (from?, to?);
    let mut depth = 0i64;
    for i in from..to {
        if lex.get(i) != Some(&Lex::Code) {
            continue;
        }
        match text.as_bytes().get(i) {
            Some(b'{') => depth += 1,
            Some(b'}') => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return None;
        }
    }
    (depth == 0 && from < to).then_some((from, to))
}

struct Builder<'s> {
    src: &'s SourceText,
    file: FileId,
    /// For each byte of the text parsed, its offset in the file as written,
    /// when they differ (full-width marks read as ASCII).
    map: Option<&'s [usize]>,
    diags: Vec<Diagnostic>,
    /// Depth in the syntax tree of the expression node being built.
    depth: usize,
    too_deep_reported: bool,
    /// What each byte of the source is (see [`lex_map`]).
    lex: Vec<Lex>,
}

impl<'s> Builder<'s> {
    fn file(&mut self, pairs: pest::iterators::Pairs<'_, Rule>) -> SourceFile {
        let b = self;
        let mut out = SourceFile::default();
        for pair in pairs.flatten() {
            match pair.as_rule() {
                Rule::policy => out.items.push(TopItem::Policy(b.policy(pair))),
                Rule::define => {
                    let span = b.span(&pair);
                    let mut it = pair.into_inner();
                    let (Some(_kw), Some(name), Some(expr)) = (it.next(), it.next(), it.next())
                    else {
                        continue;
                    };
                    out.items.push(TopItem::Define(Define {
                        name: b.ident(name),
                        expr: b.expr(expr),
                        span,
                    }));
                }
                Rule::exclusive => {
                    let span = b.span(&pair);
                    let mut label = None;
                    let mut policies = Vec::new();
                    for p in pair.into_inner() {
                        match p.as_rule() {
                            Rule::text => label = Some(b.text(p)),
                            Rule::ident => policies.push(b.ident(p)),
                            _ => {}
                        }
                    }
                    if let Some(label) = label {
                        out.items.push(TopItem::Exclusive(Exclusive {
                            label,
                            policies,
                            span,
                        }));
                    }
                }
                Rule::combined => {
                    let span = b.span(&pair);
                    let mut label = None;
                    let mut policies = Vec::new();
                    let mut cap = None;
                    for p in pair.into_inner() {
                        match p.as_rule() {
                            Rule::text => label = Some(b.text(p)),
                            Rule::ident => policies.push(b.ident(p)),
                            Rule::expr => cap = Some(b.expr(p)),
                            _ => {}
                        }
                    }
                    if let (Some(label), Some(cap)) = (label, cap) {
                        out.items.push(TopItem::Combined(Combined {
                            label,
                            policies,
                            cap,
                            span,
                        }));
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// The pair's span without the spaces, line breaks and comments pest
    /// takes in after the last token (`a ~ b*` keeps the skip before a `b`
    /// that is not there), so markers sit under the text and labels made
    /// from the source carry no comment.
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        let (start, mut end) = (s.start(), s.end());
        while end > start && self.lex.get(end - 1).is_some_and(|l| l.blank()) {
            end -= 1;
        }
        let orig = |at: usize| self.map.and_then(|m| m.get(at).copied()).unwrap_or(at);
        let (start, end) = (orig(start), orig(end));
        Span {
            file: self.file,
            start: start as u32,
            end: end as u32,
        }
    }

    fn error(&mut self, code: &'static str, span: Span, message: String, help: Option<String>) {
        let mut d =
            Diagnostic::new(code, message).at(self.src, span.start as usize, span.end as usize);
        if let Some(h) = help {
            d = d.help(h);
        }
        self.diags.push(d);
    }

    fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_string(),
            span: self.span(&pair),
        }
    }

    fn text(&self, pair: Pair<'_, Rule>) -> Text {
        let span = self.span(&pair);
        let raw = pair.into_inner().next().map(|p| p.as_str()).unwrap_or("");
        Text {
            value: unescape(raw),
            span,
        }
    }

    fn policy(&mut self, pair: Pair<'_, Rule>) -> Policy {
        let span = self.span(&pair);
        let mut it = pair.into_inner();
        let _kw = it.next();
        let id = it.next().map(|p| self.ident(p)).unwrap_or(Ident {
            name: String::new(),
            span,
        });
        let items = it.map(|p| self.item(p)).collect();
        Policy { id, items, span }
    }

    fn item(&mut self, pair: Pair<'_, Rule>) -> Item {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut it = pair.into_inner();
        let keyword = it.next().map(|k| self.span(&k)).unwrap_or(span);
        let rest: Vec<Pair<'_, Rule>> = it.collect();
        let kind = match rule {
            Rule::title => ItemKind::Title(self.first_text(&rest, span)),
            Rule::issuer => ItemKind::Issuer(self.first_text(&rest, span)),
            Rule::basis => ItemKind::Basis(self.first_text(&rest, span)),
            Rule::valid => {
                let mut dates = rest
                    .into_iter()
                    .filter(|p| matches!(p.as_rule(), Rule::date_lit | Rule::bad_date))
                    .map(|p| self.date_lit(p));
                let (from, to) = (dates.next().flatten(), dates.next().flatten());
                // A bad date has been reported; standing in the other date for
                // it keeps the checker from adding a "period ends before it
                // starts" that the officer did not write.
                match (from, to) {
                    (Some(a), Some(b)) => ItemKind::Valid(a, b),
                    (Some(a), None) => ItemKind::Valid(a, a),
                    (None, Some(b)) => ItemKind::Valid(b, b),
                    (None, None) => {
                        let epoch = DateLit {
                            date: Date::EPOCH,
                            span,
                        };
                        ItemKind::Valid(epoch, epoch)
                    }
                }
            }
            Rule::budget => ItemKind::Budget(self.signed(rest.into_iter().next(), span)),
            Rule::allocate => {
                let mut rest = rest.into_iter();
                match rest.next() {
                    Some(p) if p.as_rule() == Rule::kw_by => {
                        let expr = rest.next().map(|e| self.expr(e)).unwrap_or(invalid(span));
                        let dir = rest.next().map(direction).unwrap_or(Direction::Desc);
                        ItemKind::Allocate(Allocate::By(expr, dir))
                    }
                    _ => ItemKind::Allocate(Allocate::ProRata),
                }
            }
            Rule::limit => {
                let mut rest = rest.into_iter();
                let n = self.signed(rest.next(), span);
                let _by = rest.next();
                let expr = rest.next().map(|e| self.expr(e)).unwrap_or(invalid(span));
                let dir = rest.next().map(direction).unwrap_or(Direction::Desc);
                ItemKind::Limit(n, expr, dir)
            }
            Rule::let_item => {
                let mut rest = rest.into_iter();
                let name = rest.next().map(|p| self.ident(p)).unwrap_or(Ident {
                    name: String::new(),
                    span,
                });
                let expr = rest.next().map(|e| self.expr(e)).unwrap_or(invalid(span));
                ItemKind::Let(name, expr)
            }
            Rule::require | Rule::exclude | Rule::amount => {
                let mut label = None;
                let mut expr = invalid(span);
                for p in rest {
                    match p.as_rule() {
                        Rule::text => label = Some(self.text(p)),
                        _ => expr = self.expr(p),
                    }
                }
                match rule {
                    Rule::require => ItemKind::Require(label, expr),
                    Rule::exclude => ItemKind::Exclude(label, expr),
                    _ => ItemKind::Amount(label, expr),
                }
            }
            Rule::cap => ItemKind::Cap(
                rest.into_iter()
                    .next()
                    .map(|e| self.expr(e))
                    .unwrap_or(invalid(span)),
            ),
            _ => ItemKind::Title(Text {
                value: String::new(),
                span,
            }),
        };
        Item {
            kind,
            span,
            keyword,
        }
    }

    fn first_text(&self, rest: &[Pair<'_, Rule>], span: Span) -> Text {
        rest.iter()
            .find(|p| p.as_rule() == Rule::text)
            .map(|p| self.text(p.clone()))
            .unwrap_or(Text {
                value: String::new(),
                span,
            })
    }

    fn signed(&mut self, pair: Option<Pair<'_, Rule>>, span: Span) -> SignedLit {
        let Some(pair) = pair else {
            return SignedLit {
                value: Decimal::ZERO,
                kind: NumKind::Integer,
                span,
            };
        };
        let span = self.span(&pair);
        let mut negative = false;
        let mut out = SignedLit {
            value: Decimal::ZERO,
            kind: NumKind::Integer,
            span,
        };
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::neg => negative = !negative,
                _ => {
                    let e = self.literal(p);
                    if let ExprKind::Number(v, k) = e.kind {
                        out.value = v;
                        out.kind = k;
                    }
                }
            }
        }
        if negative {
            out.value = -out.value;
        }
        out
    }

    /// A date of `valid`; `None` when it was wrong (and has been reported).
    fn date_lit(&mut self, pair: Pair<'_, Rule>) -> Option<DateLit> {
        let span = self.span(&pair);
        match self.literal(pair).kind {
            ExprKind::Date(date) => Some(DateLit { date, span }),
            _ => None,
        }
    }

    /// Builds an expression. `depth` is the depth in the syntax tree the
    /// node will have, so that [`MAX_DEPTH`] caps the tree the later stages
    /// walk (and drop) recursively: parentheses and single-child rules add
    /// nothing, and a chain `a + b + … + z` counts as deep as the tree it
    /// makes (see [`Builder::chain`]).
    fn expr(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(&pair);
        if self.depth == 0 {
            self.too_deep_reported = false;
        }
        if passes_through(&pair) {
            return self.expr_inner(pair, span);
        }
        if self.depth >= MAX_DEPTH {
            return self.too_deep(span);
        }
        self.depth += 1;
        let e = self.expr_inner(pair, span);
        self.depth -= 1;
        e
    }

    /// Builds an operand that will sit `extra` levels further down than
    /// where it is built.
    fn expr_below(&mut self, pair: Pair<'_, Rule>, extra: usize) -> Expr {
        self.depth += extra;
        let e = self.expr(pair);
        self.depth -= extra;
        e
    }

    /// Reports the first too-deep place of an expression; the expression is
    /// then read as invalid from there down.
    fn too_deep(&mut self, span: Span) -> Expr {
        let message = format!("表达式嵌套超过 {MAX_DEPTH} 层 (nested more than {MAX_DEPTH} deep)");
        self.too_deep_as(span, message, "请用 `let` 把它拆开")
    }

    fn too_deep_as(&mut self, span: Span, message: String, help: &str) -> Expr {
        if !self.too_deep_reported {
            self.too_deep_reported = true;
            self.error("syntax::too-deep", span, message, Some(help.into()));
        }
        invalid(span)
    }

    /// The operands of a left-associative chain `a OP b OP c …`, built at the
    /// depth each will have in the left-deep tree (`a` deepest), or `None`
    /// when that tree would be too deep (reported).
    fn chain(&mut self, operands: Vec<Pair<'_, Rule>>, span: Span) -> Option<Vec<Expr>> {
        let n = operands.len();
        if self.depth + n.saturating_sub(1) > MAX_DEPTH {
            let message = if n > MAX_DEPTH {
                format!("{n} 项用运算符连成一串,最多 {MAX_DEPTH} 项 ({n} terms in a row)")
            } else {
                format!("表达式嵌套超过 {MAX_DEPTH} 层 (nested more than {MAX_DEPTH} deep)")
            };
            self.too_deep_as(span, message, "请用 `let` 拆开,如 `let part_1 = a + b + …`");
            return None;
        }
        let built = operands
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let below = if i == 0 {
                    n.saturating_sub(2)
                } else {
                    n - i - 1
                };
                self.expr_below(p, below)
            })
            .collect();
        Some(built)
    }

    fn boxed(&mut self, pair: Option<Pair<'_, Rule>>, span: Span) -> Box<Expr> {
        Box::new(match pair {
            Some(p) => self.expr(p),
            None => invalid(span),
        })
    }

    fn expr_inner(&mut self, pair: Pair<'_, Rule>, span: Span) -> Expr {
        let rule = pair.as_rule();
        let kind = match rule {
            Rule::expr | Rule::paren => {
                let inner = pair.into_inner().next();
                let mut e = match inner {
                    Some(p) => self.expr(p),
                    None => invalid(span),
                };
                if rule == Rule::paren {
                    // the parentheses belong to what an enclosing span covers
                    e.span = span;
                }
                return e;
            }
            Rule::if_expr => {
                let mut it = pair.into_inner().filter(|p| !is_keyword(p.as_rule()));
                let c = self.boxed(it.next(), span);
                let a = self.boxed(it.next(), span);
                let b = self.boxed(it.next(), span);
                ExprKind::If(c, a, b)
            }
            Rule::when_expr => {
                let mut arms = Vec::new();
                let mut otherwise = None;
                for p in pair.into_inner() {
                    let pspan = self.span(&p);
                    let is_else = p.as_rule() == Rule::when_else;
                    let mut it = p.into_inner().filter(|p| !is_keyword(p.as_rule()));
                    if is_else {
                        otherwise = Some(self.boxed(it.next(), pspan));
                    } else {
                        let c = self.boxed(it.next(), pspan);
                        let v = self.boxed(it.next(), pspan);
                        arms.push((*c, *v));
                    }
                }
                ExprKind::When { arms, otherwise }
            }
            Rule::or_expr | Rule::and_expr => {
                let operands: Vec<_> = pair
                    .into_inner()
                    .filter(|p| !is_keyword(p.as_rule()))
                    .collect();
                let Some(operands) = self.chain(operands, span) else {
                    return invalid(span);
                };
                let mut it = operands.into_iter();
                let mut acc = match it.next() {
                    Some(e) => e,
                    None => return invalid(span),
                };
                for rhs in it {
                    let s = acc.span.to(rhs.span);
                    let k = if rule == Rule::or_expr {
                        ExprKind::Or(Box::new(acc), Box::new(rhs))
                    } else {
                        ExprKind::And(Box::new(acc), Box::new(rhs))
                    };
                    acc = Expr { kind: k, span: s };
                }
                return acc;
            }
            Rule::not_expr => {
                let mut it = pair.into_inner();
                let first = it.next();
                match first {
                    Some(p) if p.as_rule() == Rule::kw_not => {
                        ExprKind::Not(self.boxed(it.next(), span))
                    }
                    Some(p) => return self.expr(p),
                    None => return invalid(span),
                }
            }
            Rule::cmp_expr => return self.comparison(pair, span),
            Rule::sum | Rule::product => {
                let (ops, operands): (Vec<_>, Vec<_>) = pair
                    .into_inner()
                    .partition(|p| matches!(p.as_rule(), Rule::add_op | Rule::mul_op));
                let Some(operands) = self.chain(operands, span) else {
                    return invalid(span);
                };
                let mut it = operands.into_iter();
                let mut acc = match it.next() {
                    Some(e) => e,
                    None => return invalid(span),
                };
                for (op, rhs) in ops.into_iter().zip(it) {
                    let op = match op.as_str() {
                        "+" => ArithOp::Add,
                        "-" => ArithOp::Sub,
                        "*" => ArithOp::Mul,
                        _ => ArithOp::Div,
                    };
                    let s = acc.span.to(rhs.span);
                    acc = Expr {
                        kind: ExprKind::Arith(op, Box::new(acc), Box::new(rhs)),
                        span: s,
                    };
                }
                return acc;
            }
            Rule::unary => {
                let parts: Vec<Pair<'_, Rule>> = pair.into_inner().collect();
                let mut negs = 0;
                let mut inner = None;
                for p in parts {
                    if p.as_rule() == Rule::neg {
                        negs += 1;
                    } else {
                        inner = Some(p);
                    }
                }
                // `- - x` nests one `-` in the other: the operand sits `negs`
                // levels down, the first of which this call has counted
                if self.depth + negs > MAX_DEPTH {
                    return self.too_deep(span);
                }
                let mut e = match inner {
                    Some(p) => self.expr_below(p, negs.saturating_sub(1)),
                    None => return invalid(span),
                };
                for _ in 0..negs {
                    e = Expr {
                        kind: ExprKind::Neg(Box::new(e)),
                        span,
                    };
                }
                return e;
            }
            Rule::ident => ExprKind::Name(pair.as_str().to_string()),
            Rule::call => {
                let mut it = pair.into_inner();
                let name = match it.next() {
                    Some(p) => self.ident(p),
                    None => return invalid(span),
                };
                let args = it.map(|p| self.expr(p)).collect();
                ExprKind::Call(name, args)
            }
            Rule::list_lit => ExprKind::List(pair.into_inner().map(|p| self.expr(p)).collect()),
            Rule::tiers => self.tiers(pair, span),
            Rule::progressive => self.progressive(pair, span),
            _ => return self.literal(pair),
        };
        Expr { kind, span }
    }

    fn comparison(&mut self, pair: Pair<'_, Rule>, span: Span) -> Expr {
        let mut it = pair.into_inner();
        let mut lhs = match it.next() {
            Some(p) => self.expr(p),
            None => return invalid(span),
        };
        for (i, tail) in it.enumerate() {
            let tspan = self.span(&tail);
            let tail = if tail.as_rule() == Rule::chained {
                match tail.into_inner().next() {
                    Some(t) => t,
                    None => continue,
                }
            } else {
                tail
            };
            if i > 0 {
                self.error(
                    "syntax::chained-comparison",
                    tspan,
                    "比较不能连写 (comparisons do not chain)".into(),
                    Some(
                        "用 `and` 连接两个比较,如 `a <= x and x <= b`,或写 `x between a and b`"
                            .into(),
                    ),
                );
                return invalid(span);
            }
            let rule = tail.as_rule();
            let mut parts = tail.into_inner().filter(|p| !is_keyword(p.as_rule()));
            let kind = match rule {
                Rule::compare => {
                    let op = match parts.next().map(|p| p.as_str()) {
                        Some("==") => CmpOp::Eq,
                        Some("!=") => CmpOp::Ne,
                        Some("<=") => CmpOp::Le,
                        Some(">=") => CmpOp::Ge,
                        Some("<") => CmpOp::Lt,
                        _ => CmpOp::Gt,
                    };
                    ExprKind::Compare(op, Box::new(lhs), self.boxed(parts.next(), tspan))
                }
                Rule::single_eq => {
                    self.error(
                        "syntax::single-equals",
                        tspan,
                        "`=` 不是比较:比较相等请写 `==` (write `==`)".into(),
                        Some("`=` 只用于 `let` 和 `define` 赋值;比较两个值是否相等用 `==`".into()),
                    );
                    ExprKind::Compare(CmpOp::Eq, Box::new(lhs), self.boxed(parts.next(), tspan))
                }
                Rule::in_list | Rule::not_in => ExprKind::In {
                    negated: rule == Rule::not_in,
                    item: Box::new(lhs),
                    list: self.boxed(parts.next(), tspan),
                },
                Rule::contains => {
                    ExprKind::Contains(Box::new(lhs), self.boxed(parts.next(), tspan))
                }
                Rule::between => {
                    let lo = self.boxed(parts.next(), tspan);
                    let hi = self.boxed(parts.next(), tspan);
                    ExprKind::Between(Box::new(lhs), lo, hi)
                }
                Rule::is_missing => ExprKind::IsMissing {
                    present: false,
                    expr: Box::new(lhs),
                },
                _ => ExprKind::IsMissing {
                    present: true,
                    expr: Box::new(lhs),
                },
            };
            lhs = Expr { kind, span };
        }
        lhs
    }

    fn tiers(&mut self, pair: Pair<'_, Rule>, span: Span) -> ExprKind {
        let mut it = pair.into_inner().filter(|p| p.as_rule() != Rule::kw_tiers);
        let base = self.boxed(it.next(), span);
        let mut rows = Vec::new();
        let mut otherwise: Option<Box<Expr>> = None;
        let mut misplaced_else = None;
        let mut else_span = None;
        for row in it {
            let rspan = self.span(&row);
            // a row after `else`: point at the `else` row, which is the one to move
            if else_span.is_some() && misplaced_else.is_none() {
                misplaced_else = else_span;
            }
            if row.as_rule() == Rule::tier_else {
                else_span = else_span.or(Some(rspan));
                let mut p = row.into_inner().filter(|p| p.as_rule() != Rule::kw_else);
                otherwise = Some(self.boxed(p.next(), rspan));
                continue;
            }
            let mut p = row.into_inner();
            let op = match p.next().map(|o| o.as_str()) {
                Some(">=") => CmpOp::Ge,
                Some("<=") => CmpOp::Le,
                Some("==") => CmpOp::Eq,
                Some(">") => CmpOp::Gt,
                _ => CmpOp::Lt,
            };
            let bound = *self.boxed(p.next(), rspan);
            let result = *self.boxed(p.next(), rspan);
            rows.push(TierRow {
                op,
                bound,
                result,
                span: rspan,
            });
        }
        ExprKind::Tiers {
            base,
            rows,
            otherwise,
            misplaced_else,
        }
    }

    fn progressive(&mut self, pair: Pair<'_, Rule>, span: Span) -> ExprKind {
        let mut it = pair
            .into_inner()
            .filter(|p| p.as_rule() != Rule::kw_progressive);
        let base = self.boxed(it.next(), span);
        let mut rows: Vec<Bracket> = Vec::new();
        let mut misplaced_above = None;
        for row in it {
            let rspan = self.span(&row);
            // a row after `above`: point at the `above` row, which is the one to move
            if misplaced_above.is_none() {
                misplaced_above = rows.iter().find(|r| r.upto.is_none()).map(|r| r.span);
            }
            let above = row.as_rule() == Rule::prog_above;
            let mut p = row.into_inner().filter(|p| !is_keyword(p.as_rule()));
            let upto = if above {
                None
            } else {
                Some(*self.boxed(p.next(), rspan))
            };
            let rate = *self.boxed(p.next(), rspan);
            rows.push(Bracket {
                upto,
                rate,
                span: rspan,
            });
        }
        ExprKind::Progressive {
            base,
            rows,
            misplaced_above,
        }
    }

    fn literal(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let whole = pair.as_str();
        let mut parts = pair.into_inner();
        let body = parts.next();
        if let Some(bad) = parts.next() {
            if matches!(bad.as_rule(), Rule::bad_follow | Rule::word_follow) {
                self.bad_follow(whole, bad.as_str(), span);
                return invalid(span);
            }
        }
        let body_text = body.as_ref().map(|b| b.as_str()).unwrap_or(whole);
        let kind = match rule {
            Rule::kw_true => ExprKind::Bool(true),
            Rule::kw_false => ExprKind::Bool(false),
            Rule::text => ExprKind::Text(unescape(body_text)),
            Rule::date_lit => match Date::parse_iso(body_text) {
                Some(d) => ExprKind::Date(d),
                None => {
                    self.error(
                        "syntax::bad-date",
                        span,
                        format!("`{body_text}` 不是日历上的日期 (no such day)"),
                        Some("请检查月份(01-12)和日期".into()),
                    );
                    ExprKind::Invalid
                }
            },
            Rule::bad_date => {
                let fixed = fix_date(whole);
                self.error(
                    "syntax::bad-date",
                    span,
                    format!("日期请写成四位年、两位月、两位日,不是 `{whole}` (write dates as 2025-01-01)"),
                    Some(match fixed {
                        Some(f) => format!("写成 `{f}`"),
                        None => "写成如 `2024-01-01`".into(),
                    }),
                );
                ExprKind::Invalid
            }
            Rule::percent_lit => match parse_number(body_text.trim_end_matches('%')) {
                Some(v) => ExprKind::Number(v / Decimal::ONE_HUNDRED, NumKind::Percent),
                None => self.too_large(span, body_text),
            },
            Rule::number_lit => {
                let mut t = body_text;
                let money = t.ends_with('元');
                t = t.trim_end_matches('元');
                let (t, unit) = if let Some(s) = t.strip_suffix('万') {
                    (s, Decimal::from(10_000))
                } else if let Some(s) = t.strip_suffix('亿') {
                    (s, Decimal::from(100_000_000))
                } else {
                    (t, Decimal::ONE)
                };
                match parse_number(t).and_then(|v| v.checked_mul(unit)) {
                    Some(v) => {
                        let kind = if money {
                            NumKind::Money
                        } else if t.contains('.') {
                            NumKind::Number
                        } else {
                            NumKind::Integer
                        };
                        ExprKind::Number(v.normalize(), kind)
                    }
                    None => self.too_large(span, body_text),
                }
            }
            _ => ExprKind::Invalid,
        };
        Expr { kind, span }
    }

    fn too_large(&mut self, span: Span, text: &str) -> ExprKind {
        self.error(
            "syntax::number-too-large",
            span,
            format!("`{text}` 太大或小数位太多 (too large or too precise)"),
            Some("数字最多 28 位有效数字".into()),
        );
        ExprKind::Invalid
    }

    fn bad_follow(&mut self, whole: &str, follow: &str, span: Span) {
        if let Some(date) = super::slips::data_file_date(whole) {
            self.error(
                "syntax::bad-date",
                span,
                format!("日期请写成 `{date}`,不是 `{whole}` (write dates as `{date}`)"),
                Some(
                    "政策里的日期写成 `2025-01-01`;`2025/1/1`、`2025年1月1日` 只在数据文件里可用"
                        .into(),
                ),
            );
            return;
        }
        let (message, help) = if follow.starts_with(',') {
            let digits: String = whole.chars().filter(|c| *c != ',').collect();
            (
                format!("数字里不能有千位分隔符:请写 `{digits}` (write `{digits}`)"),
                format!(
                    "千位分隔符 `,` 只能出现在数据文件里;政策里写 `{digits}`,也可以用 `_` 分组"
                ),
            )
        } else if follow.starts_with('.') {
            (
                format!("`{whole}` 不是数字:小数点只能有一个 (not a number)"),
                "一个数字最多一个小数点".to_string(),
            )
        } else {
            (
                format!(
                    "`{whole}` 不是数字:`{follow}` 紧跟在数字后面 (`{follow}` follows the digits)"
                ),
                "数字后只能跟 `万`、`亿`、`元`(或 `%`);其他单位请写在标签里,数字和名称之间留空格"
                    .to_string(),
            )
        };
        self.error("syntax::number-suffix", span, message, Some(help));
    }
}

fn invalid(span: Span) -> Expr {
    Expr {
        kind: ExprKind::Invalid,
        span,
    }
}

/// Rules that make no node of their own: parentheses, and a level of
/// precedence holding a single operand.
fn passes_through(pair: &Pair<'_, Rule>) -> bool {
    match pair.as_rule() {
        Rule::expr | Rule::paren => true,
        Rule::or_expr
        | Rule::and_expr
        | Rule::not_expr
        | Rule::cmp_expr
        | Rule::sum
        | Rule::product
        | Rule::unary => pair.clone().into_inner().nth(1).is_none(),
        _ => false,
    }
}

fn direction(p: Pair<'_, Rule>) -> Direction {
    match p.into_inner().next().map(|k| k.as_rule()) {
        Some(Rule::kw_asc) => Direction::Asc,
        _ => Direction::Desc,
    }
}

fn is_keyword(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::kw_if
            | Rule::kw_then
            | Rule::kw_else
            | Rule::kw_when
            | Rule::kw_and
            | Rule::kw_or
            | Rule::kw_not
            | Rule::kw_in
            | Rule::kw_contains
            | Rule::kw_between
            | Rule::kw_is
            | Rule::kw_missing
            | Rule::kw_present
            | Rule::kw_up
            | Rule::kw_to
            | Rule::kw_above
    )
}

fn parse_number(t: &str) -> Option<Decimal> {
    let cleaned: String = t.chars().filter(|c| *c != '_').collect();
    Decimal::from_str_exact(&cleaned)
        .ok()
        .or_else(|| Decimal::from_str(&cleaned).ok().filter(|_| false))
}

fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn fix_date(s: &str) -> Option<String> {
    let mut parts = s.split('-');
    let y: u32 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    Some(format!("{y:04}-{m:02}-{d:02}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A full-width mark is reported once and read as its ASCII
    /// counterpart: the tree is the whole file's, its spans in the file
    /// as written.
    #[test]
    fn full_width_is_read_as_ascii() {
        let text = "policy p {\n    title \"t\"\n    amount tiers x {\n        >= 1 ： 2\n    }\n    cap （ y ）\n}\n";
        let src = SourceText::new("fw.policy", text);
        let (file, diags) = parse_file(&src, 0);
        assert_eq!(diags.len(), 3, "{diags:?}");
        assert!(diags.iter().all(|d| d.code == "syntax::full-width"));
        let Some(TopItem::Policy(p)) = file.items.first() else {
            panic!("the policy is read");
        };
        assert_eq!(p.items.len(), 3);
        let quote = |s: Span| &text[s.start as usize..s.end as usize];
        assert_eq!(quote(p.span), text.trim_end());
        let Some(ItemKind::Cap(cap)) = p.items.get(2).map(|i| &i.kind) else {
            panic!("the cap is read");
        };
        assert_eq!(quote(cap.span), "（ y ）");
    }

    /// After a syntax error the next item's error is reported too; the
    /// file's tree is empty, as it is not read whole.
    #[test]
    fn errors_after_a_syntax_error_are_reported() {
        let text = "policy p {\n    title \"t\"\n    require \"a\" x >\n    require \"b\" y = 1\n    require \"c\" z > 1 1\n}\n";
        let src = SourceText::new("two.policy", text);
        let (file, diags) = parse_file(&src, 0);
        let mut lines: Vec<usize> = diags
            .iter()
            .filter_map(|d| d.location().map(|l| l.1))
            .collect();
        lines.sort();
        assert_eq!(lines, vec![4, 4, 5], "{diags:?}");
        assert!(file.items.is_empty());
    }

    /// A brace the blanked part would open or close stops the recovery.
    #[test]
    fn recovery_keeps_braces_balanced() {
        let text = "policy p {\n    amount tiers x {\n        >= 1 2\n}\n";
        let lex = lex_map(text);
        let stop = text.find("2\n").unwrap_or(0);
        assert_eq!(recovery_region(text, &lex, stop), None);
    }
}
