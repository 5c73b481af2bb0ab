//! A run over several departments' files joined per firm (LANGUAGE.md
//! section 11), from the library: the command line's join, with the rejects
//! of each file, the conflicts and each file's counts.

use std::path::Path;

use super::*;
use crate::data::join::Conflict;
use crate::data::Reject;
use crate::settle::Firm;

/// A data file of a run and the department it comes from (the schema's
/// `source:`), as `--data [SOURCE=]FILE` gives it.
///
/// ```
/// let tax = mianshen::Source::of("税务", "data/tax.xlsx");
/// assert_eq!(tax.source.as_deref(), Some("税务"));
/// let tags = mianshen::Source::file("data/tags.csv");
/// assert_eq!(tags.source, None);
/// ```
pub type Source = crate::data::Input;

impl Source {
    /// A file of no named department.
    pub fn file(path: impl AsRef<Path>) -> Source {
        Source {
            source: None,
            path: path.as_ref().to_path_buf(),
        }
    }

    /// A file of the department `source`.
    pub fn of(source: &str, path: impl AsRef<Path>) -> Source {
        Source {
            source: Some(source.to_string()),
            path: path.as_ref().to_path_buf(),
        }
    }
}

/// A row set aside, and the file it is in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileReject {
    /// The file's place among the sources given.
    pub file: usize,
    pub reject: Reject,
}

/// What became of one file's rows: `rows` is `evaluated + rejected`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileCounts {
    pub rows: u64,
    /// Rows of the firms evaluated.
    pub evaluated: u64,
    pub rejected: u64,
}

/// The result of [`Engine::run_files`]: firms sorted by key with their
/// decisions, the totals, and what `rejects.csv`, `conflicts.csv` and the
/// manifest's per-file counts hold.
#[derive(Clone, Debug)]
pub struct FilesResult {
    pub firms: Vec<Firm>,
    pub summary: Vec<crate::batch::output::PolicySummary>,
    /// In file, then row order.
    pub rejects: Vec<FileReject>,
    /// Sorted by key, field, then file ([`Conflict::file`] is the file's
    /// place among the sources given).
    pub conflicts: Vec<Conflict>,
    /// One per source, in the order given.
    pub files: Vec<FileCounts>,
}

impl Engine {
    /// A batch run over several departments' files joined per firm, read
    /// and joined exactly as `mianshen run --data [SOURCE=]FILE …` does: a
    /// firm is judged only when every one of its rows reads, a field the
    /// files disagree on takes the value of the files of its `source:` (or
    /// is missing), and every disagreement is in [`FilesResult::conflicts`].
    /// One source is a run over that file alone. No source, the same file
    /// twice, or a file that cannot be read is an error.
    ///
    /// ```
    /// use mianshen::{Date, Engine, RunError, Source};
    ///
    /// let engine = Engine::load("policies")?;
    /// let as_of = Date::parse_iso("2024-12-31").expect("a date");
    /// let firms = Source::file("policies/data/firms.csv");
    /// let result = engine.run_files(&[firms.clone()], as_of, false)?;
    /// let counts = &result.files[0];
    /// assert_eq!(counts.rows, counts.evaluated + counts.rejected);
    /// assert!(matches!(engine.run_files(&[], as_of, false), Err(RunError::NoData)));
    /// assert!(matches!(
    ///     engine.run_files(&[firms.clone(), firms], as_of, false),
    ///     Err(RunError::GivenTwice(_))
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run_files(
        &self,
        sources: &[Source],
        as_of: Date,
        all: bool,
    ) -> Result<FilesResult, RunError> {
        let program = &self.set.program;
        if sources.is_empty() {
            return Err(RunError::NoData);
        }
        if let Some(twice) = crate::data::given_twice(sources) {
            return Err(RunError::GivenTwice(twice));
        }
        let opts = self.options(as_of, all)?;
        let mut streams = sources
            .iter()
            .map(|s| {
                crate::data::stream::Stream::open_path(
                    &s.path,
                    &program.schema,
                    &crate::data::ReadOptions::default(),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let labels = crate::data::Labels::of(sources);
        let mut rejects = Vec::new();
        let mut conflicts = Vec::new();
        let (batch, evaluated) = crate::batch::joined::stream_files(
            program,
            crate::batch::joined::DataFiles::new(&mut streams, &labels),
            opts,
            None,
            |file, r| {
                rejects.push(FileReject {
                    file: file as usize,
                    reject: r.clone(),
                });
                Ok(())
            },
            |c| {
                conflicts.push(c.clone());
                Ok(())
            },
            |_| {},
        )?;
        let settled = batch.finish()?;
        let mut firms = settled.firms()?;
        let mut summary = settled.summary().to_vec();
        super::in_cents(&mut firms, &mut summary);
        let files = streams
            .iter()
            .enumerate()
            .map(|(f, s)| {
                let mut rows: Vec<u64> = rejects
                    .iter()
                    .filter(|r| r.file == f)
                    .map(|r| r.reject.row)
                    .collect();
                rows.dedup();
                FileCounts {
                    rows: s.info().rows,
                    evaluated: evaluated.get(f).copied().unwrap_or(0),
                    rejected: rows.len() as u64,
                }
            })
            .collect();
        Ok(FilesResult {
            firms,
            summary,
            rejects,
            conflicts,
            files,
        })
    }

    /// The decisions of a run over several files, sorted by key then policy
    /// (as [`Engine::decisions`]).
    pub fn file_decisions(&self, result: &FilesResult) -> Vec<Decision> {
        self.firm_decisions(&result.firms)
    }
}
