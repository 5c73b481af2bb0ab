//! A finished run's results folder, confirmed by its manifest: every result
//! file present, made by this engine, its inputs unchanged (the hashing is
//! `verify`'s, [`crate::report::Recorded`]), and summary.csv read.

use std::path::Path;

use super::PublishError;
use crate::data::Input;
use crate::date::Date;
use crate::load::PolicySet;
use crate::report::Recorded;

/// One line of summary.csv, as the run wrote it.
pub type SummaryRow = crate::batch::output::PolicySummary;

/// The run to publish.
pub struct Run {
    pub recorded: Recorded,
    pub set: PolicySet,
    pub as_of: Date,
    /// summary.csv, in the program's policy order.
    pub summary: Vec<SummaryRow>,
}

impl Run {
    /// Opens `out` and refuses it, saying what differs, unless it is a
    /// complete run of this engine over inputs that are still as they were.
    #[allow(clippy::indexing_slicing)]
    pub fn open(out: &Path, policies: Option<&Path>, data: &[Input]) -> Result<Run, PublishError> {
        let missing: Vec<String> = crate::report::RESULT_FILES
            .iter()
            .filter(|f| !out.join(f).is_file())
            .map(|f| f.to_string())
            .collect();
        if missing.len() == crate::report::RESULT_FILES.len() {
            return Err(PublishError::NotAResultsFolder(out.to_path_buf()));
        }
        if !missing.is_empty() {
            return Err(PublishError::Incomplete {
                out: out.to_path_buf(),
                missing,
            });
        }
        let recorded = Recorded::read(out, policies, data, None)?;
        if let Some((table, place)) = recorded.database.clone() {
            return Err(PublishError::InDatabase { table, place });
        }
        let changes = recorded.changes();
        if !changes.changed.is_empty() {
            return Err(PublishError::Changed(changes.changed));
        }
        let Some(set) = changes.set else {
            return Err(PublishError::Changed(vec![format!(
                "the policy set in `{}` cannot be loaded",
                recorded.dir.display()
            )]));
        };
        let as_of = Date::parse_iso(&recorded.as_of).ok_or_else(|| {
            PublishError::Mismatch(vec![format!(
                "manifest.json: `as_of` is `{}`, not a date",
                recorded.as_of
            )])
        })?;
        let summary = read_summary(&out.join("summary.csv"))?;
        let ids: Vec<&str> = set.program.policies.iter().map(|p| p.id.as_str()).collect();
        let listed: Vec<&str> = summary.iter().map(|s| s.id.as_str()).collect();
        if ids != listed {
            return Err(PublishError::Mismatch(vec![format!(
                "summary.csv lists the policies {}; the policy set has {}",
                listed.join(", "),
                ids.join(", ")
            )]));
        }
        let firms = recorded.manifest["counts"]["firms"].as_u64();
        if let Some(s) = summary
            .iter()
            .find(|s| s.in_force && Some(s.evaluated) != firms)
        {
            return Err(PublishError::Mismatch(vec![format!(
                "summary.csv: policy `{}` evaluated {} firms; manifest.json counts {}",
                s.id,
                s.evaluated,
                firms.map_or("none".into(), |f| f.to_string())
            )]));
        }
        Ok(Run {
            recorded,
            set,
            as_of,
            summary,
        })
    }
}

fn read_summary(path: &Path) -> Result<Vec<SummaryRow>, PublishError> {
    let bad = |line: u64, what: &str| {
        PublishError::Mismatch(vec![format!("summary.csv, line {line}: {what}")])
    };
    let file = std::fs::File::open(path).map_err(|e| bad(1, &e.to_string()))?;
    crate::report::read_summary(std::io::BufReader::new(file))
        .map_err(|(line, what)| bad(line, &what))
}
