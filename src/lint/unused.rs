//! `let` and `define` names nothing reads: usually a condition the officer
//! meant to add, or a name misspelt where it is used.

use std::collections::HashSet;

use super::Warnings;
use crate::syntax::ast::{Expr, ExprKind, Ident, ItemKind, SourceFile, TopItem};

/// Every name an expression reads.
fn names<'a>(e: &'a Expr, out: &mut HashSet<&'a str>) {
    e.walk(&mut |x| {
        if let ExprKind::Name(n) = &x.kind {
            out.insert(n.as_str());
        }
    });
}

pub(super) fn check(files: &[SourceFile], w: &mut Warnings<'_>) {
    let mut read_anywhere = HashSet::new();
    for p in super::policies(files) {
        let mut read_here = HashSet::new();
        for item in &p.items {
            for e in item.exprs() {
                names(e, &mut read_here);
            }
        }
        for item in &p.items {
            if let ItemKind::Let(name, _) = &item.kind {
                if !read_here.contains(name.name.as_str()) {
                    unused(w, "lint::unused-let", "let", name, "这条政策");
                }
            }
        }
        read_anywhere.extend(read_here);
    }
    let mut defines: Vec<&Ident> = Vec::new();
    for f in files {
        for i in &f.items {
            match i {
                TopItem::Define(d) => {
                    names(&d.expr, &mut read_anywhere);
                    defines.push(&d.name);
                }
                TopItem::Combined(c) => names(&c.cap, &mut read_anywhere),
                _ => {}
            }
        }
    }
    for d in defines {
        if !read_anywhere.contains(d.name.as_str()) {
            unused(w, "lint::unused-define", "define", d, "任何政策");
        }
    }
}

fn unused(w: &mut Warnings<'_>, code: &'static str, kw: &str, name: &Ident, scope: &str) {
    w.warn_labelled(
        code,
        name.span,
        format!(
            "`{kw} {}` 没有被{scope}用到 (`{}` is never read)",
            name.name, name.name
        ),
        "没有用到".into(),
        "是漏写了用到它的条件,还是用的地方名字拼错了?不需要时删去这一行".into(),
    );
}
