//! `mianshen fmt`: one canonical layout for policy files. Header items
//! aligned, one item per line, labels and literals exactly as written,
//! comments kept where they stand, the officer's own parentheses kept.
//!
//! The layout is printed from the syntax tree; literals and labels are
//! copied from the source, so the formatted file reads to the same tree
//! (checked after every format, see [`same_tree`]). Comments are not in the
//! tree: they are found by the lexer's map and placed between the items
//! they stand between, or after the item they follow on its line. An item
//! with a comment inside it is copied as written, only re-indented, so no
//! comment is ever dropped or moved into another item.

mod expr;
mod layout;
mod source;

use crate::diag::{Diagnostic, SourceText};

/// Lines longer than this are broken where the layout allows.
const WIDTH: usize = 100;

pub use crate::width::width;

/// Why a file was not formatted.
#[derive(Debug)]
pub enum FmtError {
    /// The file does not parse: its syntax errors.
    Syntax(Vec<Diagnostic>),
    /// The layout would not read back to the same tree (a defect of the
    /// formatter, reported rather than written).
    Changed,
}

/// The canonical layout of one policy file. Runs on a thread with a large
/// stack, as checking does, so deeply nested (but accepted) expressions
/// cannot exhaust the caller's.
pub fn format(src: &SourceText) -> Result<String, FmtError> {
    let src = src.clone();
    let worker = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || format_here(&src));
    match worker {
        Ok(handle) => handle.join().unwrap_or(Err(FmtError::Changed)),
        Err(_) => Err(FmtError::Changed),
    }
}

fn format_here(src: &SourceText) -> Result<String, FmtError> {
    let (file, diags) = crate::syntax::parse_file(src, 0);
    if !diags.is_empty() {
        return Err(FmtError::Syntax(diags));
    }
    let out = layout::file(&source::Src::new(&src.text), &file);
    let again = SourceText::new(src.name.clone(), out.as_str());
    let (reread, diags) = crate::syntax::parse_file(&again, 0);
    if !diags.is_empty() || !same_tree(&file, &reread) {
        return Err(FmtError::Changed);
    }
    Ok(out)
}

/// Whether two files read to the same syntax tree, wherever their parts stand.
pub fn same_tree(a: &crate::syntax::ast::SourceFile, b: &crate::syntax::ast::SourceFile) -> bool {
    without_spans(&format!("{a:?}")) == without_spans(&format!("{b:?}"))
}

/// A tree's debug text with every `Span { … }` taken out.
fn without_spans(debug: &str) -> String {
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug;
    while let Some(i) = rest.find("Span {") {
        out.push_str(rest.get(..i).unwrap_or(""));
        let after = rest.get(i..).unwrap_or("");
        rest = after
            .find('}')
            .and_then(|j| after.get(j + 1..))
            .unwrap_or("");
    }
    out.push_str(rest);
    out
}
