//! Files, policies and items laid out: comments and blank lines kept
//! between the items they stand between, header keywords padded to one
//! column, runs of `let` and of `require`/`exclude` aligned.

use super::expr::Printer;
use super::source::{Comment, Src};
use super::{width, WIDTH};
use crate::ops::Direction;
use crate::syntax::ast::{
    Allocate, Combined, Exclusive, Expr, ExprKind, Ident, Item, ItemKind, Policy, SourceFile, Span,
    Text, TopItem,
};

/// Labels wider than this put their condition on the next line.
const LABEL_COLUMN: usize = 44;

/// One thing in a sequence: a node of the tree or a comment between nodes.
enum Element<'t, N> {
    Node(&'t N, Span),
    Comment(Comment),
}

/// A sequence element with how it stands after the one before it.
struct Placed<'t, N> {
    element: Element<'t, N>,
    /// An empty line before it in the source.
    blank_before: bool,
    /// A comment on the same line as what came before it.
    trailing: bool,
}

/// The nodes and comments of `start..end` in order, with the gaps between them.
fn sequence<'t, N>(
    src: &Src<'_>,
    start: usize,
    end: usize,
    nodes: impl Iterator<Item = (&'t N, Span)>,
) -> Vec<Placed<'t, N>> {
    let nodes: Vec<(&N, Span)> = nodes.collect();
    let inside = |c: &Comment| {
        nodes
            .iter()
            .any(|(_, s)| (s.start as usize) <= c.start && c.start < s.end as usize)
    };
    let mut elements: Vec<(usize, usize, Element<'t, N>)> = nodes
        .iter()
        .map(|(n, s)| (s.start as usize, s.end as usize, Element::Node(*n, *s)))
        .collect();
    for c in src.comments(start, end) {
        if !inside(&c) {
            elements.push((c.start, c.end, Element::Comment(c)));
        }
    }
    elements.sort_by_key(|(s, _, _)| *s);
    let mut out = Vec::new();
    let mut prev_end = start;
    let mut first = true;
    for (s, e, element) in elements {
        out.push(Placed {
            blank_before: !first && src.blank_line(prev_end, s),
            trailing: matches!(element, Element::Comment(_)) && !src.breaks(prev_end, s),
            element,
        });
        first = false;
        prev_end = e;
    }
    out
}

/// Appends `text` (maybe several lines) at `indent`, or a trailing comment.
struct Lines {
    out: String,
}

impl Lines {
    fn push(&mut self, indent: usize, text: &str) {
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        self.out.push_str(&" ".repeat(indent));
        self.out.push_str(text);
    }

    fn blank(&mut self) {
        if !self.out.is_empty() && !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
    }

    fn trail(&mut self, comment: &str) {
        if self.out.is_empty() {
            self.out.push_str(comment);
        } else {
            self.out.push(' ');
            self.out.push_str(comment);
        }
    }
}

/// A whole file.
pub(super) fn file(src: &Src<'_>, f: &SourceFile) -> String {
    let p = Printer { src };
    let spans = f.items.iter().map(|i| (i, top_span(i)));
    let placed = sequence(src, 0, src.text.len(), spans);
    let mut lines = Lines { out: String::new() };
    let mut prev_policy = false;
    for (n, pl) in placed.iter().enumerate() {
        match &pl.element {
            Element::Comment(c) if pl.trailing && n > 0 => lines.trail(src.comment_text(*c)),
            Element::Comment(c) => {
                if pl.blank_before || prev_policy {
                    lines.blank();
                }
                lines.push(0, src.comment_text(*c));
                prev_policy = false;
            }
            Element::Node(item, _) => {
                let is_block = !matches!(item, TopItem::Define(_));
                let after_node = n > 0
                    && matches!(
                        placed.get(n - 1).map(|p| &p.element),
                        Some(Element::Node(..))
                    );
                if pl.blank_before || prev_policy || (is_block && after_node) {
                    lines.blank();
                }
                lines.push(0, &top_item(&p, item));
                prev_policy = is_block;
            }
        }
    }
    let mut out = lines.out;
    out.push('\n');
    out
}

fn top_span(i: &TopItem) -> Span {
    match i {
        TopItem::Policy(p) => p.span,
        TopItem::Define(d) => d.span,
        TopItem::Exclusive(x) => x.span,
        TopItem::Combined(x) => x.span,
    }
}

/// The item as written, re-indented to `indent` (an item holding a comment).
fn verbatim(src: &Src<'_>, span: Span, indent: usize) -> String {
    let text = src.span(span);
    let was = src.column(span.start as usize);
    let pad = " ".repeat(indent);
    let mut lines = text.lines();
    let mut out = lines.next().unwrap_or("").trim_end().to_string();
    for l in lines {
        let l = l.trim_end();
        let lead = l.len() - l.trim_start().len();
        out.push('\n');
        if l.is_empty() {
            continue;
        }
        let kept = if lead >= was {
            l.get(was..).unwrap_or(l)
        } else {
            l.trim_start()
        };
        out.push_str(&pad);
        out.push_str(kept);
    }
    out
}

/// Whether the tree below holds something it cannot print as written
/// (an `else` row out of place).
fn printable(e: &Expr) -> bool {
    let mut ok = true;
    e.walk(&mut |x| {
        if let ExprKind::Tiers {
            misplaced_else: Some(_),
            ..
        }
        | ExprKind::Progressive {
            misplaced_above: Some(_),
            ..
        } = x.kind
        {
            ok = false;
        }
    });
    ok
}

fn top_item(p: &Printer<'_, '_>, item: &TopItem) -> String {
    let src = p.src;
    let span = top_span(item);
    match item {
        TopItem::Policy(pol) => policy(p, pol),
        _ if src.has_comment(span.start as usize, span.end as usize) => verbatim(src, span, 0),
        TopItem::Define(d) if printable(&d.expr) => {
            let head = format!("define {} = ", d.name.name);
            format!("{head}{}", p.top(&d.expr, 0, width(&head)))
        }
        TopItem::Exclusive(x) => exclusive(src, x),
        TopItem::Combined(x) if printable(&x.cap) => combined(p, x),
        _ => verbatim(src, span, 0),
    }
}

fn ids(ids: &[Ident]) -> Vec<&str> {
    ids.iter().map(|i| i.name.as_str()).collect()
}

/// `{ A, B }` on one line, or one id per line when that is too wide.
fn group(src: &Src<'_>, head: &str, label: &Text, list: &[Ident], tail: &str) -> String {
    let one = format!(
        "{head} {} {{ {} }}{tail}",
        src.span(label.span),
        ids(list).join(", ")
    );
    if width(&one) <= WIDTH {
        return one;
    }
    let mut out = format!("{head} {} {{", src.span(label.span));
    for id in list {
        out.push_str(&format!("\n    {},", id.name));
    }
    out.push_str(&format!("\n}}{tail}"));
    out
}

fn exclusive(src: &Src<'_>, x: &Exclusive) -> String {
    group(src, "exclusive", &x.label, &x.policies, " keep highest")
}

fn combined(p: &Printer<'_, '_>, x: &Combined) -> String {
    let cap = p.top(&x.cap, 4, 8);
    let head = group(p.src, "combined", &x.label, &x.policies, "");
    if head.contains('\n') {
        return format!("{head} cap {cap}");
    }
    let one = format!("{head} cap {cap}");
    if !one.contains('\n') && width(&one) <= WIDTH {
        return one;
    }
    format!("{head}\n    cap {cap}")
}

/// Which items line up with each other.
#[derive(PartialEq, Clone, Copy)]
enum Run {
    Header,
    Let,
    Condition,
    Other,
}

fn run_of(k: &ItemKind) -> Run {
    match k {
        ItemKind::Title(_)
        | ItemKind::Issuer(_)
        | ItemKind::Basis(_)
        | ItemKind::Valid(..)
        | ItemKind::Budget(_)
        | ItemKind::Allocate(_)
        | ItemKind::Limit(..) => Run::Header,
        ItemKind::Let(..) => Run::Let,
        ItemKind::Require(..) | ItemKind::Exclude(..) => Run::Condition,
        ItemKind::Amount(..) | ItemKind::Cap(_) => Run::Other,
    }
}

fn policy(p: &Printer<'_, '_>, pol: &Policy) -> String {
    let src = p.src;
    let (start, end) = (pol.span.start as usize, pol.span.end as usize);
    let Some(open) = src.open_brace(pol.id.span.end as usize) else {
        return verbatim(src, pol.span, 0);
    };
    // a comment between `policy` and its `{` has no place in the layout
    if src.has_comment(start, open) {
        return verbatim(src, pol.span, 0);
    }
    let close = end.saturating_sub(1);
    let placed = sequence(src, open + 1, close, pol.items.iter().map(|i| (i, i.span)));
    let mut lines = Lines {
        out: format!("policy {} {{", pol.id.name),
    };
    // the runs: consecutive items of one kind, no blank line or comment between
    let mut run_id = vec![0usize; placed.len()];
    let mut id = 0;
    let mut last: Option<Run> = None;
    for (n, pl) in placed.iter().enumerate() {
        match &pl.element {
            Element::Node(item, _) => {
                let r = run_of(&item.kind);
                if pl.blank_before || last != Some(r) {
                    id += 1;
                }
                last = Some(r);
            }
            Element::Comment(_) if pl.trailing => {}
            Element::Comment(_) => {
                id += 1;
                last = None;
            }
        }
        if let Some(slot) = run_id.get_mut(n) {
            *slot = id;
        }
    }
    let run_items = |rid: usize| -> Vec<&Item> {
        placed
            .iter()
            .zip(&run_id)
            .filter(|(_, r)| **r == rid)
            .filter_map(|(pl, _)| match pl.element {
                Element::Node(i, _) => Some(i),
                Element::Comment(_) => None,
            })
            .collect()
    };
    for (n, pl) in placed.iter().enumerate() {
        match &pl.element {
            Element::Comment(c) if pl.trailing => lines.trail(src.comment_text(*c)),
            Element::Comment(c) => {
                if pl.blank_before {
                    lines.blank();
                }
                lines.push(4, src.comment_text(*c));
            }
            Element::Node(item, span) => {
                if pl.blank_before {
                    lines.blank();
                }
                let run = run_items(run_id.get(n).copied().unwrap_or(0));
                let text = if src.has_comment(span.start as usize, span.end as usize)
                    || !item.exprs().into_iter().all(printable)
                {
                    verbatim(src, *span, 4)
                } else {
                    self::item(p, item, &run)
                };
                lines.push(4, &text);
            }
        }
    }
    lines.out.push('\n');
    lines.out.push('}');
    lines.out
}

fn dir(d: Direction) -> &'static str {
    match d {
        Direction::Asc => "asc",
        Direction::Desc => "desc",
    }
}

/// A label as written, `"…"`, with its display width.
fn label<'a>(src: &Src<'a>, t: &Option<Text>) -> Option<&'a str> {
    t.as_ref().map(|t| src.span(t.span))
}

/// One item at indent 4; `run` is the run it lines up with.
fn item(p: &Printer<'_, '_>, item: &Item, run: &[&Item]) -> String {
    const INDENT: usize = 4;
    let src = p.src;
    let header = |kw: &str, rest: String| format!("{kw:<8} {rest}");
    match &item.kind {
        ItemKind::Title(t) => header("title", src.span(t.span).to_string()),
        ItemKind::Issuer(t) => header("issuer", src.span(t.span).to_string()),
        ItemKind::Basis(t) => header("basis", src.span(t.span).to_string()),
        ItemKind::Valid(a, b) => header(
            "valid",
            format!("{} to {}", src.span(a.span), src.span(b.span)),
        ),
        ItemKind::Budget(b) => header("budget", src.span(b.span).to_string()),
        ItemKind::Allocate(Allocate::ProRata) => header("allocate", "pro_rata".into()),
        ItemKind::Allocate(Allocate::By(e, d)) => header(
            "allocate",
            format!("by {} {}", p.operand(e, 0, INDENT), dir(*d)),
        ),
        ItemKind::Limit(n, e, d) => header(
            "limit",
            format!(
                "{} by {} {}",
                src.span(n.span),
                p.operand(e, 0, INDENT),
                dir(*d)
            ),
        ),
        ItemKind::Let(name, e) => {
            let w = run
                .iter()
                .filter_map(|i| match &i.kind {
                    ItemKind::Let(n, _) => Some(width(&n.name)),
                    _ => None,
                })
                .max()
                .unwrap_or(0);
            let fill = " ".repeat(w.saturating_sub(width(&name.name)));
            let head = format!("let {}{fill} = ", name.name);
            let col = INDENT + width(&head);
            format!("{head}{}", p.top(e, INDENT, col))
        }
        ItemKind::Require(l, e) | ItemKind::Exclude(l, e) => {
            let kw = if matches!(item.kind, ItemKind::Require(..)) {
                "require"
            } else {
                "exclude"
            };
            condition(p, kw, label(src, l), e, run)
        }
        ItemKind::Amount(l, e) => match label(src, l) {
            Some(l) => {
                let head = format!("amount {l} ");
                let body = p.top(e, INDENT, INDENT + width(&head));
                if !body.contains('\n') && INDENT + width(&head) + width(&body) <= WIDTH {
                    return format!("{head}{body}");
                }
                format!(
                    "amount {l} {{\n{}{}\n{}}}",
                    " ".repeat(INDENT + 4),
                    p.top(e, INDENT + 4, INDENT + 4),
                    " ".repeat(INDENT)
                )
            }
            None => {
                let body = p.top(e, INDENT, INDENT + 7);
                if body.contains('\n')
                    && !matches!(
                        e.kind,
                        ExprKind::Tiers { .. } | ExprKind::Progressive { .. }
                    )
                {
                    format!(
                        "amount {{\n{}{}\n{}}}",
                        " ".repeat(INDENT + 4),
                        p.top(e, INDENT + 4, INDENT + 4),
                        " ".repeat(INDENT)
                    )
                } else {
                    format!("amount {body}")
                }
            }
        },
        ItemKind::Cap(e) => format!("cap {}", p.top(e, INDENT, INDENT + 4)),
    }
}

/// Whether a condition's label stands in the aligned column: a label not
/// too wide, with a condition on one line.
fn inline_label(p: &Printer<'_, '_>, i: &Item) -> Option<usize> {
    let (l, e) = match &i.kind {
        ItemKind::Require(Some(l), e) | ItemKind::Exclude(Some(l), e) => (l, e),
        _ => return None,
    };
    let w = width(p.src.span(l.span));
    let body = p.top(e, 8, 8);
    let fits = 4 + 8 + w + 1 + width(&body) <= WIDTH;
    (w <= LABEL_COLUMN && !body.contains('\n') && fits).then_some(w)
}

fn condition(
    p: &Printer<'_, '_>,
    kw: &str,
    label: Option<&str>,
    e: &Expr,
    run: &[&Item],
) -> String {
    const INDENT: usize = 4;
    let Some(l) = label else {
        // an unlabelled condition is named by its text in reasons and
        // decisions.csv: it stays as written, spaces aside (as the checker
        // reads it)
        let text: Vec<&str> = p.src.span(e.span).split_whitespace().collect();
        return format!("{kw} {}", text.join(" "));
    };
    let column = run
        .iter()
        .filter_map(|i| inline_label(p, i))
        .max()
        .unwrap_or(0);
    let lw = width(l);
    let body = p.top(e, INDENT, INDENT + kw.len() + 2 + column);
    let fits = lw <= LABEL_COLUMN
        && lw <= column
        && !body.contains('\n')
        && INDENT + kw.len() + 1 + column + 1 + width(&body) <= WIDTH;
    if fits {
        format!("{kw} {l}{} {body}", " ".repeat(column.saturating_sub(lw)))
    } else {
        let inner = INDENT + 4;
        format!("{kw} {l}\n{}{}", " ".repeat(inner), p.top(e, inner, inner))
    }
}
