//! `mianshen lint`: warnings about policies that check but very likely do
//! not say what the officer meant (a `tiers` row no firm can reach, `* 40`
//! where `* 40%` was meant, a `let` nobody reads, a condition on an enum
//! that holds for every firm or for none, a text ordered by its characters,
//! `round(x, 2)` where `round(x, 0.01)` was meant …). Each lint family is one
//! file; every warning has a code `lint::…`, a span and a help.
//!
//! A warning the officer has weighed is silenced by a comment on its line
//! or the line above: `// lint:allow budget-without-allocate`.

mod enums;
mod groups;
mod header;
mod order;
mod percent;
mod step;
mod tiers;
mod unused;

use crate::diag::{Diagnostic, Sources, Span};
use crate::load::PolicySet;
use crate::syntax::ast::{Policy, SourceFile, TopItem};

/// Every warning of a checked set, sorted by file and place.
pub fn lint(set: &PolicySet) -> Vec<Diagnostic> {
    let mut w = Warnings {
        sources: &set.sources,
        out: Vec::new(),
    };
    let files = &set.syntax;
    tiers::check(files, &mut w);
    percent::check(files, &set.program.schema, &mut w);
    unused::check(files, &mut w);
    header::check(files, &mut w);
    groups::check(files, &mut w);
    enums::check(files, &set.program.schema, &mut w);
    order::check(files, &set.program.schema, &mut w);
    step::check(files, &mut w);
    let mut out: Vec<Diagnostic> = w
        .out
        .into_iter()
        .filter(|(span, d)| !allowed(&set.sources, *span, d.code))
        .map(|(_, d)| d)
        .collect();
    out.sort_by_key(|d| d.sort_key());
    out
}

/// The warnings found so far, with the span each is about.
pub(crate) struct Warnings<'a> {
    sources: &'a Sources,
    out: Vec<(Span, Diagnostic)>,
}

impl Warnings<'_> {
    /// The source text at `span`, its blanks run together, for quoting.
    fn text(&self, span: Span) -> String {
        self.sources.quote(span)
    }

    fn warn(&mut self, code: &'static str, span: Span, message: String, help: String) {
        let d = Diagnostic::new(code, message)
            .warning()
            .at_span(self.sources, span)
            .help(help);
        self.out.push((span, d));
    }

    fn warn_labelled(
        &mut self,
        code: &'static str,
        span: Span,
        message: String,
        label: String,
        help: String,
    ) {
        let d = Diagnostic::new(code, message)
            .warning()
            .at_span(self.sources, span)
            .label(label)
            .help(help);
        self.out.push((span, d));
    }
}

/// Whether `// lint:allow NAME` stands on the warning's line or the line
/// above (NAME is the code without `lint::`).
fn allowed(sources: &Sources, span: Span, code: &str) -> bool {
    let Some(src) = sources.get(span.file) else {
        return false;
    };
    let name = code.strip_prefix("lint::").unwrap_or(code);
    let (line, _) = src.line_col(span.start as usize);
    src.text
        .lines()
        .skip(line.saturating_sub(2))
        .take(if line >= 2 { 2 } else { 1 })
        .any(|l| {
            l.split("lint:allow")
                .skip(1)
                .any(|rest| rest.split_whitespace().next() == Some(name))
        })
}

/// Every policy of the set, with the file it is in.
fn policies(files: &[SourceFile]) -> impl Iterator<Item = &Policy> {
    files.iter().flat_map(|f| {
        f.items.iter().filter_map(|i| match i {
            TopItem::Policy(p) => Some(p),
            _ => None,
        })
    })
}

/// The whole expressions of the set: policy items, defines and the caps
/// of combined groups.
fn roots(files: &[SourceFile]) -> Vec<&crate::syntax::ast::Expr> {
    let mut out = Vec::new();
    for file in files {
        for item in &file.items {
            match item {
                TopItem::Policy(p) => out.extend(p.items.iter().flat_map(|i| i.exprs())),
                TopItem::Define(d) => out.push(&d.expr),
                TopItem::Combined(c) => out.push(&c.cap),
                TopItem::Exclusive(_) => {}
            }
        }
    }
    out
}

/// Calls `f` on every expression of the set, whole and in part.
fn each_expr<'a>(files: &'a [SourceFile], f: &mut impl FnMut(&'a crate::syntax::ast::Expr)) {
    for e in roots(files) {
        e.walk(f);
    }
}
