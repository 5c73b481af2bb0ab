//! Diagnostics: language and schema errors as a product.
//!
//! Every stage returns [`Diagnostic`]s; only the command line renders them
//! (human or JSON, through miette). A diagnostic names its file and, where it
//! has one, its span; line and column are computed from the span.

use std::fmt;
use std::sync::Arc;

/// Which source file a span belongs to (an index into the policy set's files).
pub type FileId = u32;

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    /// From the start of the earlier span to the end of the later.
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// The text of one file a diagnostic may point into.
#[derive(Debug, Clone)]
pub struct SourceText {
    pub name: String,
    pub text: Arc<str>,
}

impl SourceText {
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        SourceText {
            name: name.into(),
            text: text.into(),
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before.get(line_start..).unwrap_or("").chars().count() + 1;
        (line, col)
    }
}

/// All source files of a policy set, indexed by [`FileId`].
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub files: Vec<SourceText>,
}

impl Sources {
    pub fn get(&self, file: u32) -> Option<&SourceText> {
        self.files.get(file as usize)
    }

    /// The text at `span`, its blanks run together, for quoting in a
    /// message or a label.
    pub fn quote(&self, span: Span) -> String {
        self.get(span.file)
            .and_then(|s| s.text.get(span.start as usize..span.end as usize))
            .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    }
}

/// One problem found in a policy set, its schema, a test file or a command.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// Lowercase, no final period; the user's text in backticks.
    pub message: String,
    /// A hint on how to fix it ("did you mean `revenue`?").
    pub help: Option<String>,
    /// Where, when the problem has a place in a file.
    pub at: Option<Place>,
    /// A short label under the marked text.
    pub label: Option<String>,
    /// A stable code, e.g. `check::unknown-name`.
    pub code: &'static str,
    /// An error stops the set; a warning (`mianshen lint`) does not.
    pub severity: Severity,
    /// More places in the same file to mark, each with its label (the `(`
    /// that an error at the next `}` leaves open).
    pub also: Vec<(usize, usize, String)>,
}

/// Whether a diagnostic stops the policy set from being used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Severity {
    #[default]
    Error,
    /// Legal but very likely not what the officer meant (`mianshen lint`).
    Warning,
}

/// A place in a file: the source and the byte range.
#[derive(Debug, Clone)]
pub struct Place {
    pub source: SourceText,
    pub start: usize,
    pub end: usize,
}

impl Diagnostic {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            message: message.into(),
            help: None,
            at: None,
            label: None,
            code,
            severity: Severity::Error,
            also: Vec::new(),
        }
    }

    /// Marks one more place in the diagnostic's file.
    pub fn also(mut self, start: usize, end: usize, label: impl Into<String>) -> Self {
        self.also.push((start, end, label.into()));
        self
    }

    /// Makes this a warning: legal, but likely a slip.
    pub fn warning(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn at(mut self, source: &SourceText, start: usize, end: usize) -> Self {
        self.at = Some(Place {
            source: source.clone(),
            start,
            end,
        });
        self
    }

    /// Places the diagnostic at a span of the policy set's sources.
    pub fn at_span(self, sources: &Sources, span: Span) -> Self {
        match sources.get(span.file) {
            Some(src) => self.at(src, span.start as usize, span.end as usize),
            None => self,
        }
    }

    /// A file-only place (no span), e.g. an unreadable file.
    pub fn in_file(mut self, name: &str) -> Self {
        self.at = Some(Place {
            source: SourceText::new(name, ""),
            start: 0,
            end: 0,
        });
        self
    }

    /// `(file, line, column)` if the diagnostic has a place.
    pub fn location(&self) -> Option<(String, usize, usize)> {
        let p = self.at.as_ref()?;
        let (line, col) = p.source.line_col(p.start);
        Some((p.source.name.clone(), line, col))
    }

    /// Sort key: file, offset, then message, so output order never depends
    /// on the order in which checks ran.
    pub fn sort_key(&self) -> (String, usize, String) {
        match &self.at {
            Some(p) => (p.source.name.clone(), p.start, self.message.clone()),
            None => (String::new(), 0, self.message.clone()),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        let p = self.at.as_ref()?;
        if p.source.text.is_empty() {
            return None;
        }
        Some(&p.source as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let p = self.at.as_ref()?;
        if p.source.text.is_empty() {
            return None;
        }
        let len = p.end.saturating_sub(p.start);
        let span = miette::LabeledSpan::new(self.label.clone(), p.start, len);
        let more = self.also.iter().map(|(start, end, label)| {
            miette::LabeledSpan::new(Some(label.clone()), *start, end.saturating_sub(*start))
        });
        Some(Box::new(std::iter::once(span).chain(more)))
    }
}

impl miette::SourceCode for SourceText {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let inner =
            self.text
                .as_ref()
                .read_span(span, context_lines_before, context_lines_after)?;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            inner.line(),
            // miette counts bytes; officers count characters
            self.line_col(inner.span().offset()).1.saturating_sub(1),
            inner.line_count(),
        )))
    }
}

/// Lines longer than this are not drawn with a marker.
const MAX_DRAWN_LINE: usize = 1_000;

/// The length in characters of the line a place is on.
fn line_length(p: &Place) -> usize {
    let text: &str = &p.source.text;
    let at = p.start.min(text.len());
    let start = text
        .get(..at)
        .and_then(|t| t.rfind('\n'))
        .map_or(0, |i| i + 1);
    let end = text
        .get(at..)
        .and_then(|t| t.find('\n'))
        .map_or(text.len(), |i| at + i);
    text.get(start..end).map_or(0, |l| l.chars().count())
}

/// Renders diagnostics for people: each with its file, line and column, the
/// line itself and a marker, then a count.
pub fn render_human(diags: &[Diagnostic]) -> String {
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(100);
    let mut out = String::new();
    for d in diags {
        if let Some((file, line, col)) = d.location() {
            out.push_str(&format!("{file}:{line}:{col}: "));
        }
        let word = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        out.push_str(&format!("{word}: {}\n", d.message));
        match d.at.as_ref().map(line_length) {
            // miette cannot draw very long lines; say where instead
            Some(len) if len > MAX_DRAWN_LINE => {
                out.push_str(&format!("{}\n", d.code));
                if let Some((_, _, col)) = d.location() {
                    out.push_str(&format!(
                        "  (a line of {len} characters; the place is at column {col})\n"
                    ));
                }
                if let Some(h) = &d.help {
                    out.push_str(&format!("  help: {h}\n"));
                }
            }
            _ => {
                let _ = handler.render_report(&mut out, d);
            }
        }
        out.push('\n');
    }
    out.push_str(&count_line(diags));
    out.push('\n');
    out
}

/// `2 errors`, `3 warnings`, `1 error, 2 warnings`.
fn count_line(diags: &[Diagnostic]) -> String {
    let warnings = diags
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .count();
    let errors = diags.len() - warnings;
    let count = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match (errors, warnings) {
        (e, 0) => count(e, "error"),
        (0, w) => count(w, "warning"),
        (e, w) => format!("{}, {}", count(e, "error"), count(w, "warning")),
    }
}

/// Renders diagnostics as one JSON document for machines: `{"errors": […]}`.
pub fn render_json(diags: &[Diagnostic]) -> String {
    render_json_as(diags, "errors")
}

/// Renders diagnostics as one JSON document whose list is named `key`
/// (`warnings` for `mianshen lint`).
pub fn render_json_as(diags: &[Diagnostic], key: &str) -> String {
    let items: Vec<serde_json::Value> = diags
        .iter()
        .map(|d| {
            let mut obj = serde_json::Map::new();
            obj.insert("code".into(), d.code.into());
            obj.insert("message".into(), d.message.clone().into());
            if let Some(h) = &d.help {
                obj.insert("help".into(), h.clone().into());
            }
            if let Some((file, line, col)) = d.location() {
                obj.insert("file".into(), file.into());
                obj.insert("line".into(), line.into());
                obj.insert("column".into(), col.into());
            }
            if let Some(p) = &d.at {
                if let Some(t) = p.source.text.get(p.start..p.end) {
                    obj.insert("text".into(), t.into());
                }
            }
            serde_json::Value::Object(obj)
        })
        .collect();
    let mut doc = serde_json::Map::new();
    doc.insert(key.to_string(), items.into());
    let doc = serde_json::Value::Object(doc);
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}
