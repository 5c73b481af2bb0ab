//! The source text as the formatter reads it: slices of spans, the
//! officer's parentheses, comments and blank lines.

use crate::diag::Span;
use crate::syntax::{lex_map, Lex};

pub(super) struct Src<'a> {
    pub(super) text: &'a str,
    lex: Vec<Lex>,
}

/// A comment: its byte range and text (without the line break).
#[derive(Clone, Copy)]
pub(super) struct Comment {
    pub(super) start: usize,
    pub(super) end: usize,
}

impl<'a> Src<'a> {
    pub(super) fn new(text: &'a str) -> Src<'a> {
        Src {
            text,
            lex: lex_map(text),
        }
    }

    pub(super) fn slice(&self, start: usize, end: usize) -> &'a str {
        self.text.get(start..end).unwrap_or("")
    }

    pub(super) fn span(&self, span: Span) -> &'a str {
        self.slice(span.start as usize, span.end as usize)
    }

    fn code(&self, i: usize, byte: u8) -> bool {
        self.text.as_bytes().get(i) == Some(&byte) && self.lex.get(i) == Some(&Lex::Code)
    }

    /// Whether `start..end` is one parenthesised whole: `(a + b)`, not
    /// `(a) + (b)`.
    pub(super) fn wrapped(&self, start: usize, end: usize) -> bool {
        if end < start + 2 || !self.code(start, b'(') || !self.code(end - 1, b')') {
            return false;
        }
        let mut depth = 0usize;
        for i in start..end - 1 {
            if self.code(i, b'(') {
                depth += 1;
            } else if self.code(i, b')') {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return false;
                }
            }
        }
        true
    }

    /// The span's text without the parentheses around it (a literal as
    /// written inside `((5))`).
    pub(super) fn bare(&self, span: Span) -> &'a str {
        let (mut s, mut e) = (span.start as usize, span.end as usize);
        while self.wrapped(s, e) {
            s += 1;
            e -= 1;
            while s < e && self.lex.get(s).is_some_and(|l| l.blank()) {
                s += 1;
            }
            while e > s && self.lex.get(e - 1).is_some_and(|l| l.blank()) {
                e -= 1;
            }
        }
        self.slice(s, e)
    }

    /// Whether a comment stands anywhere in `start..end`.
    pub(super) fn has_comment(&self, start: usize, end: usize) -> bool {
        self.lex
            .get(start..end.min(self.lex.len()))
            .is_some_and(|l| l.contains(&Lex::Comment))
    }

    /// Every comment in `start..end`.
    pub(super) fn comments(&self, start: usize, end: usize) -> Vec<Comment> {
        let mut out = Vec::new();
        let mut i = start;
        let end = end.min(self.lex.len());
        while i < end {
            if self.lex.get(i) == Some(&Lex::Comment) {
                let s = i;
                while i < end && self.lex.get(i) == Some(&Lex::Comment) {
                    i += 1;
                }
                out.push(Comment { start: s, end: i });
            } else {
                i += 1;
            }
        }
        out
    }

    /// A comment's text, without trailing spaces or `\r`.
    pub(super) fn comment_text(&self, c: Comment) -> &'a str {
        self.slice(c.start, c.end).trim_end()
    }

    /// Whether `start..end` holds a line break.
    pub(super) fn breaks(&self, start: usize, end: usize) -> bool {
        self.slice(start, end).contains('\n')
    }

    /// Whether `start..end` holds an empty line.
    pub(super) fn blank_line(&self, start: usize, end: usize) -> bool {
        self.slice(start, end).split('\n').count() > 2
    }

    /// The first `{` of code at or after `from`.
    pub(super) fn open_brace(&self, from: usize) -> Option<usize> {
        (from..self.text.len()).find(|&i| self.code(i, b'{'))
    }

    /// Column (in bytes of leading whitespace) where the line of `at` starts its text.
    pub(super) fn column(&self, at: usize) -> usize {
        let line_start = self.slice(0, at).rfind('\n').map_or(0, |i| i + 1);
        self.slice(line_start, at).chars().count()
    }
}
