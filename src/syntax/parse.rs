//! pest grammar to AST. This is the only module that sees pest types.

use std::str::FromStr;

use pest::iterators::Pair;
use pest::Parser;
use pest_derive::Parser;
use rust_decimal::Decimal;

use super::ast::*;
use super::scan;
use crate::date::Date;
use crate::diag::{Diagnostic, SourceText};

#[derive(Parser)]
#[grammar = "../grammar/policy.pest"]
struct PolicyGrammar;

/// Deepest expression nesting the later stages will see.
const MAX_DEPTH: usize = 200;

/// Held while pest's process-wide error-detail switch is not as the host
/// program left it.
static DETAIL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Whether pest's error detail is on now: pest has no getter, but a parse
/// that fails says whether it recorded its attempts.
fn detail_is_on() -> bool {
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
fn parse_in_detail(text: &str) -> Result<(), pest::error::Error<Rule>> {
    let _held = DETAIL.lock().unwrap_or_else(|e| e.into_inner());
    let was_on = detail_is_on();
    pest::set_error_detail(true);
    let result = PolicyGrammar::parse(Rule::file, text).map(|_| ());
    pest::set_error_detail(was_on);
    result
}

/// Parses one policy file. Returns what could be read and every problem found;
/// a syntax error stops the file at that point (the rest of the set goes on).
pub fn parse_file(src: &SourceText, file: FileId) -> (SourceFile, Vec<Diagnostic>) {
    let mut diags = scan::scan(src);
    if !diags.is_empty() {
        return (SourceFile::default(), diags);
    }
    let lex = lex_map(&src.text);
    let pairs = match PolicyGrammar::parse(Rule::file, &src.text) {
        Ok(p) => p,
        Err(first) => {
            let e = parse_in_detail(&src.text).err().unwrap_or(first);
            diags.push(syntax_error(src, &e, &lex));
            return (SourceFile::default(), diags);
        }
    };
    let mut b = Builder {
        src,
        file,
        diags: Vec::new(),
        depth: 0,
        too_deep_reported: false,
        lex,
    };
    let mut out = SourceFile::default();
    for pair in pairs.flatten() {
        match pair.as_rule() {
            Rule::policy => out.items.push(TopItem::Policy(b.policy(pair))),
            Rule::define => {
                let span = b.span(&pair);
                let mut it = pair.into_inner();
                let (Some(_kw), Some(name), Some(expr)) = (it.next(), it.next(), it.next()) else {
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
            _ => {}
        }
    }
    diags.extend(b.diags);
    (out, diags)
}

struct Builder<'s> {
    src: &'s SourceText,
    file: FileId,
    diags: Vec<Diagnostic>,
    /// Depth in the syntax tree of the expression node being built.
    depth: usize,
    too_deep_reported: bool,
    /// What each byte of the source is (see [`lex_map`]).
    lex: Vec<Lex>,
}

impl<'s> Builder<'s> {
    /// The pair's span without the spaces, line breaks and comments pest
    /// takes in after the last token (`a ~ b*` keeps the skip before a `b`
    /// that is not there), so markers sit under the text and labels made
    /// from the source carry no comment.
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        let (start, mut end) = (s.start(), s.end());
        while end > start && self.lex.get(end - 1) == Some(&Lex::Blank) {
            end -= 1;
        }
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
        let message = format!("expression nested more than {MAX_DEPTH} deep");
        self.too_deep_as(span, message, "split it with `let`")
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
                format!("{n} terms in a row joined by operators; at most {MAX_DEPTH} are allowed")
            } else {
                format!("expression nested more than {MAX_DEPTH} deep")
            };
            self.too_deep_as(
                span,
                message,
                "split it with `let`, e.g. `let part_1 = a + b + …`",
            );
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
                    "comparisons do not chain".into(),
                    Some("join two comparisons with `and`, e.g. `a <= x and x <= b`, or use `x between a and b`".into()),
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
                        "`=` does not compare".into(),
                        Some("write `==` to compare two values".into()),
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
            if bad.as_rule() == Rule::bad_follow {
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
                        format!("`{body_text}` is not a date in the calendar"),
                        Some("check the month (01-12) and the day of the month".into()),
                    );
                    ExprKind::Invalid
                }
            },
            Rule::bad_date => {
                let fixed = fix_date(whole);
                self.error(
                    "syntax::bad-date",
                    span,
                    format!("dates are written with four, two and two digits, not `{whole}`"),
                    Some(match fixed {
                        Some(f) => format!("write `{f}`"),
                        None => "write e.g. `2024-01-01`".into(),
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
            format!("`{text}` is too large or too precise for an exact decimal"),
            Some("numbers carry at most 28 significant digits".into()),
        );
        ExprKind::Invalid
    }

    fn bad_follow(&mut self, whole: &str, follow: &str, span: Span) {
        let help = if follow.starts_with(',') {
            "thousands separators belong to data files only: write `1000000` or `1_000_000`"
                .to_string()
        } else if follow.starts_with('.') {
            "a number has at most one decimal point".to_string()
        } else {
            "the only suffixes are `万`, `亿` and `元` (and `%`); put other units in the label, or leave a space before a name".to_string()
        };
        self.error(
            "syntax::number-suffix",
            span,
            format!("`{whole}` is not a number: `{follow}` follows the digits directly"),
            Some(help),
        );
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

/// What each byte of a policy file is, for placing markers: pest's spans
/// and error positions know nothing of comments.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lex {
    /// Whitespace or a comment.
    Blank,
    /// Part of a token other than a text.
    Code,
    /// Part of a text `"…"`, quotes included.
    Text,
}

/// Classifies every byte of `text` (see [`Lex`]); a `#` or `{` inside a
/// text is part of the text.
fn lex_map(text: &str) -> Vec<Lex> {
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
            '#' => skip_comment(&mut chars),
            '/' if matches!(chars.peek(), Some(&(_, '/'))) => skip_comment(&mut chars),
            ' ' | '\t' | '\r' | '\n' | '\u{3000}' | '\u{FEFF}' => {}
            _ => mark(&mut map, i, c, Lex::Code),
        }
    }
    map
}

fn skip_comment(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>) {
    while chars.next_if(|&(_, c)| c != '\n').is_some() {}
}

/// End of the last token before `pos`: where "the end of the file" or "the
/// line before ends too early" is best shown.
fn last_token_end(lex: &[Lex], pos: usize) -> usize {
    let mut end = pos.min(lex.len());
    while end > 0 && lex.get(end - 1) == Some(&Lex::Blank) {
        end -= 1;
    }
    end
}

/// The innermost `{` still open at `pos`, outside texts and comments.
fn unclosed_brace(text: &str, lex: &[Lex], pos: usize) -> Option<usize> {
    let mut open = Vec::new();
    for (i, b) in text.bytes().enumerate().take(pos) {
        match (b, lex.get(i)) {
            (b'{', Some(Lex::Code)) => open.push(i),
            (b'}', Some(Lex::Code)) => {
                open.pop();
            }
            _ => {}
        }
    }
    open.pop()
}

/// What the `{` at `brace` opens, in the officer's words: "policy `wengang`",
/// "the `tiers` table".
fn block_name(text: &str, brace: usize) -> String {
    let head = text.get(..brace).unwrap_or("");
    let head = &head[head.rfind('\n').map_or(0, |i| i + 1)..];
    let words: Vec<&str> = head.split_whitespace().collect();
    if let Some(i) = words.iter().rposition(|w| *w == "policy") {
        if let Some(id) = words.get(i + 1) {
            return format!("policy `{id}`");
        }
    }
    for (word, what) in [
        ("tiers", "the `tiers` table"),
        ("progressive", "the `progressive` table"),
        ("exclusive", "the `exclusive` group"),
        ("amount", "the `amount { … }`"),
    ] {
        if words.contains(&word) {
            return what.to_string();
        }
    }
    "the `{`".to_string()
}

/// What pest was ready to accept where it stopped, grouped and worded for
/// officers, loosest last: `}` and `:` first, then words like `then`, then
/// values, rows, policy items, operators, top-level items, the end of file.
#[derive(Default)]
struct Expected {
    items: Vec<(u8, String)>,
    /// An expression is expected here, but not one that may be an `if` or a
    /// `when` (the operand of an operator, a tier row's value …).
    operand_only: bool,
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
        if self.has("an operator") {
            // `=` is then the comparison written wrong, reported after parsing
            self.items.retain(|(_, d)| d != "`=`");
        }
        if self.has("an expression") {
            self.items
                .retain(|(_, d)| d != "a date like `2024-01-01`" && d != "a name");
        }
        self.items.sort();
    }

    fn push(&mut self, order: u8, text: String) {
        if !self.items.iter().any(|(_, t)| *t == text) {
            self.items.push((order, text));
        }
    }

    fn has(&self, text: &str) -> bool {
        self.items.iter().any(|(_, t)| t == text)
    }

    fn has_value(&self) -> bool {
        self.has("an expression") || self.has("a name")
    }

    fn text(&self) -> String {
        let words: Vec<&str> = self.items.iter().map(|(_, t)| t.as_str()).collect();
        match words.as_slice() {
            [] => "something else".to_string(),
            [one] => one.to_string(),
            [first @ .., last] => format!("{} or {last}", first.join(", ")),
        }
    }
}

/// Turns pest's error into a diagnostic that says what was expected, in the
/// officer's terms, with a help for the mistakes officers make most.
fn syntax_error(src: &SourceText, e: &pest::error::Error<Rule>, lex: &[Lex]) -> Diagnostic {
    let text: &str = &src.text;
    let pos = match e.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    }
    .min(text.len());
    let rest = text.get(pos..).unwrap_or("");
    if rest.starts_with('"') && !text_closes(rest) {
        let line_end = pos + rest.find(['\r', '\n']).unwrap_or(rest.len());
        return Diagnostic::new("syntax::unterminated-text", "this text is not closed")
            .at(src, pos, line_end)
            .label("the text starts here and runs to the end of the line")
            .help(
                "end the text with `\"` on the same line; a `\"` inside a text is written `\\\"`",
            );
    }
    let (expected, pos) = Expected::new(e, pos);
    let at = Found::at(text, lex, pos);
    let found_desc = if at.end_of_file {
        "the end of the file".to_string()
    } else if at.keyword && expected.has_value() {
        format!("the reserved word `{}`", at.token)
    } else {
        format!("`{}`", at.token)
    };
    let expected_text = expected.text();
    let hint = hint(src, lex, &expected, &at, &found_desc);
    let message = hint
        .message
        .unwrap_or_else(|| format!("expected {expected_text}, found {found_desc}"));
    let label = hint.label.or_else(|| {
        (expected_text.chars().count() <= 40).then(|| format!("expected {expected_text}"))
    });
    let mut d = Diagnostic::new("syntax::unexpected", message).at(src, at.start, at.end);
    if let Some(l) = label {
        d = d.label(l);
    }
    if let Some(h) = hint.help {
        d = d.help(h);
    }
    d
}

/// What stands where the parser stopped, and where to put the marker.
struct Found {
    /// The word or symbol there (empty at the end of the file).
    token: String,
    keyword: bool,
    end_of_file: bool,
    /// The token is the first thing on its line.
    starts_line: bool,
    /// The token before it is a text (a label, a title).
    after_text: bool,
    pos: usize,
    start: usize,
    end: usize,
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

    fn is(&self, words: &[&str]) -> bool {
        words.contains(&self.token.as_str())
    }
}

/// A better message, label or help than "expected X, found Y" alone.
#[derive(Default)]
struct Hint {
    message: Option<String>,
    label: Option<String>,
    help: Option<String>,
}

fn help(text: impl Into<String>) -> Hint {
    Hint {
        help: Some(text.into()),
        ..Hint::default()
    }
}

/// The mistakes officers make most, recognised from what was expected and
/// what was found.
fn hint(src: &SourceText, lex: &[Lex], expected: &Expected, at: &Found, found_desc: &str) -> Hint {
    let word = at.token.as_str();
    if at.is(&["if", "when"]) && expected.operand_only {
        let form = if word == "if" {
            "(if … then … else …)"
        } else {
            "(when … then … else …)"
        };
        return Hint {
            message: Some(format!("`{word}` needs parentheses here")),
            label: Some(format!("write `(` before `{word}`")),
            help: Some(format!(
                "as the operand of an operator, a tier row or `between`, \
                 a conditional is written in parentheses: `{form}`"
            )),
        };
    }
    if expected.has("`}`") && (at.end_of_file || at.is(&["policy", "define", "exclusive"])) {
        let opened = unclosed_brace(&src.text, lex, at.pos);
        let what = opened.map_or("the policy".to_string(), |b| block_name(&src.text, b));
        let line = opened.map(|b| src.line_col(b).0);
        return Hint {
            message: Some(format!("expected `}}` to close {what}, found {found_desc}")),
            label: Some(
                if at.end_of_file {
                    "`}` missing after this"
                } else {
                    "`}` missing before this"
                }
                .into(),
            ),
            help: Some(match line {
                Some(line) => format!("{what} opens with `{{` on line {line}; end it with `}}`"),
                None => "every `{` needs its `}`".to_string(),
            }),
        };
    }
    if expected.has("`policy`") && at.is(ITEM_WORDS) {
        return help(format!(
            "`{word}` is written inside a policy, between `policy ID {{` and its `}}`; \
             is there a `}}` too many above?"
        ));
    }
    if at.keyword && expected.has_value() {
        return help(if at.starts_line && at.after_text && at.is(ITEM_WORDS) {
            format!(
                "the label before `{word}` has nothing after it: \
                 write the condition or the amount after the label"
            )
        } else if at.starts_line && at.is(ITEM_WORDS) {
            format!(
                "`{word}` starts a new item: the line before ends too early (is a value missing?)"
            )
        } else if at.is(OPERATOR_WORDS) {
            format!("a value is missing before `{word}`")
        } else {
            format!(
                "`{word}` is a reserved word and cannot be a name; \
                 a field named so is referred to by its title or an alias"
            )
        });
    }
    if expected.has("`desc`") {
        return help("after `by EXPR` write `desc` (largest first) or `asc` (smallest first)");
    }
    if expected.has("`to`") {
        return help("a period is written `valid 2024-01-01 to 2024-12-31`");
    }
    if expected.has("`else`") && !expected.has(TIER_ROW) {
        return help("`if … then …` needs its `else …`: `if C then A else B`");
    }
    if expected.has("`=`") {
        return help("a name is given its value with `=`: `let small_firm = employees <= 30`");
    }
    if expected.has("`:`") {
        return help("a table row is written `>= VALUE : RESULT` in `tiers`, `up to VALUE : RATE` in `progressive`");
    }
    if expected.has("`keep highest`") {
        return help("an exclusive group ends with `keep highest`: `exclusive \"LABEL\" { A, B } keep highest`");
    }
    if expected.text() == "a text in double quotes" && !at.end_of_file {
        return help(format!("write it in double quotes: `\"{word}\"`"));
    }
    match word {
        "'" => help("texts are written in double quotes: `\"小型\"`"),
        ";" => help("items and conditions need no `;`: start the next one on a new line"),
        _ => Hint::default(),
    }
}

/// Whether a text that starts `rest` is closed on its line.
fn text_closes(rest: &str) -> bool {
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

const TIER_ROW: &str = "a tier row like `>= 100万 : 5万`";

/// The words that start an item of a policy.
const ITEM_WORDS: &[&str] = &[
    "title", "issuer", "basis", "valid", "budget", "allocate", "limit", "let", "require",
    "exclude", "amount", "cap",
];

/// Reserved words that continue an expression rather than name something;
/// the first six are operators.
const OPERATOR_WORDS: &[&str] = &[
    "and", "or", "in", "contains", "between", "is", "then", "else", "to", "by",
];

fn found_token(rest: &str) -> String {
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
fn is_punctuation(token: &str) -> bool {
    ["{", "}", ":", ",", ")", "]", "="].contains(&token)
}

/// A literal token pest tried, in the words of [`describe`].
fn describe_token(token: &str) -> Option<(u8, String)> {
    if is_punctuation(token) {
        return Some((0, format!("`{token}`")));
    }
    if ["==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/"].contains(&token)
        || OPERATOR_WORDS.iter().take(6).any(|w| *w == token)
    {
        return Some((5, "an operator".into()));
    }
    if ITEM_WORDS.contains(&token) {
        return Some((4, "a policy item".into()));
    }
    if KEYWORDS.contains(&token) {
        return Some((1, format!("`{token}`")));
    }
    None
}

fn is_expression(rule: Rule) -> bool {
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
fn describe(rule: Rule) -> Option<(u8, String)> {
    let (order, s) = match rule {
        r if is_expression(r) => (2, "an expression"),
        Rule::date_lit | Rule::date_body | Rule::bad_date => (2, "a date like `2024-01-01`"),
        Rule::ident => (2, "a name"),
        Rule::text => (2, "a text in double quotes"),
        Rule::signed_lit => (2, "a number"),
        Rule::tier_row | Rule::tier_op => (3, TIER_ROW),
        Rule::tier_else => (3, "`else : …`"),
        Rule::prog_row | Rule::kw_up => (3, "a bracket row like `up to 100万 : 10%`"),
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
        | Rule::kw_cap => (4, "a policy item"),
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
        | Rule::kw_is => (5, "an operator"),
        Rule::kw_asc => (1, "`asc`"),
        Rule::kw_desc | Rule::direction => (1, "`desc`"),
        Rule::kw_missing | Rule::kw_present => (1, "`missing` or `present`"),
        Rule::kw_keep => (1, "`keep highest`"),
        Rule::policy | Rule::kw_policy => (6, "`policy`"),
        Rule::define | Rule::kw_define => (6, "`define`"),
        Rule::exclusive | Rule::kw_exclusive => (6, "`exclusive`"),
        Rule::EOI => (7, "the end of the file"),
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
