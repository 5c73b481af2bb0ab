//! Stage 6: the result files of a run (LANGUAGE.md section 8), written into a
//! temporary directory and renamed into place, so an interrupted run never
//! leaves a partial result that looks complete.

pub mod decisions;
mod recorded;

pub use recorded::{Changes, Recorded, RecordedError};

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rust_decimal::Decimal;

use crate::batch::output::PolicySummary;
use crate::data::stream::StreamInfo;
use crate::data::Reject;
use crate::load::PolicySet;

/// The files a result directory holds (the manifest last: it is written and
/// moved into place last).
pub const RESULT_FILES: [&str; 5] = [
    "decisions.csv",
    "summary.csv",
    "rejects.csv",
    "conflicts.csv",
    "manifest.json",
];

fn money(d: Option<Decimal>) -> String {
    d.map(|d| crate::eval::cents(d).to_string())
        .unwrap_or_default()
}

fn csv_err(e: csv::Error) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// A result directory being written: a hidden sibling of the final
/// directory, renamed into place by [`Pending::commit`] and removed if the
/// run stops before.
pub struct Pending {
    tmp: PathBuf,
    out: PathBuf,
    committed: bool,
}

impl Pending {
    /// Starts writing results for `out`.
    pub fn create(out: &Path) -> std::io::Result<Pending> {
        if out.exists() && !out.is_dir() {
            return Err(std::io::Error::other(format!(
                "`{}` is a file, not a directory; choose a directory for --out",
                out.display()
            )));
        }
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent)?;
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "out".into());
        let tmp = parent.join(format!(".{name}.partial-{}", std::process::id()));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        std::fs::create_dir(&tmp)?;
        Ok(Pending {
            tmp,
            out: out.to_path_buf(),
            committed: false,
        })
    }

    /// The temporary directory (also where large runs spill).
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Creates one of the result files.
    pub fn file(&self, name: &str) -> std::io::Result<BufWriter<File>> {
        Ok(BufWriter::with_capacity(
            1 << 16,
            File::create(self.tmp.join(name))?,
        ))
    }

    /// Moves the finished results into place.
    pub fn commit(mut self) -> std::io::Result<()> {
        // only result files may remain (spill files are gone with the run)
        for entry in std::fs::read_dir(&self.tmp)?.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if !RESULT_FILES.contains(&name.as_str()) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        if !self.out.exists() {
            std::fs::rename(&self.tmp, &self.out)?;
        } else if foreign_files(&self.out)?.is_empty() {
            // only an earlier run's results: replaced as a whole
            std::fs::remove_dir_all(&self.out)?;
            std::fs::rename(&self.tmp, &self.out)?;
        } else {
            // a folder of the user's own files: they stay; each result file
            // is renamed into it, the manifest last and the earlier one
            // removed first, so the folder never shows a complete-looking
            // mix of two runs
            remove_if_there(&self.out.join("manifest.json"))?;
            let publish = self.out.join("publish");
            if is_publication(&publish) {
                std::fs::remove_dir_all(&publish)?;
            }
            for name in RESULT_FILES {
                std::fs::rename(self.tmp.join(name), self.out.join(name))?;
            }
            std::fs::remove_dir_all(&self.tmp)?;
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

fn remove_if_there(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn foreign_files(dir: &Path) -> std::io::Result<Vec<String>> {
    Ok(std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        // what `mianshen publish` wrote beside the results goes with them
        .filter(|n| {
            let ours = RESULT_FILES.contains(&n.as_str())
                || (n == "publish" && is_publication(&dir.join(n)));
            !ours
        })
        .collect())
}

/// Whether `dir` is a folder that `mianshen publish` wrote: only its files
/// (a folder of the same name holding anything else is the user's).
/// A folder holding only files `mianshen publish` writes (or nothing).
pub(crate) fn is_publication(dir: &Path) -> bool {
    dir.is_dir()
        && std::fs::read_dir(dir).is_ok_and(|entries| {
            entries.flatten().all(|e| {
                e.file_type().is_ok_and(|t| t.is_file())
                    && crate::publish::FILES.contains(&e.file_name().to_string_lossy().as_ref())
            })
        })
}

/// rejects.csv, written in file, then row order.
pub struct RejectsWriter<W: Write> {
    w: csv::Writer<W>,
    pub lines: u64,
    /// Rows rejected, in all files.
    pub rows: u64,
    /// Rows rejected per file (by its place on the command line).
    pub per_file: Vec<u64>,
    last_row: Option<(usize, u64)>,
}

impl<W: Write> RejectsWriter<W> {
    pub fn new(out: W) -> std::io::Result<Self> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(["row", "column", "value", "reason", "file"])
            .map_err(csv_err)?;
        Ok(RejectsWriter {
            w,
            lines: 0,
            rows: 0,
            per_file: Vec::new(),
            last_row: None,
        })
    }

    /// Writes a reject of the file at place `file`, named `name`.
    pub fn write(&mut self, file: usize, name: &str, r: &Reject) -> std::io::Result<()> {
        if self.last_row != Some((file, r.row)) {
            self.rows += 1;
            if self.per_file.len() <= file {
                self.per_file.resize(file + 1, 0);
            }
            if let Some(n) = self.per_file.get_mut(file) {
                *n += 1;
            }
            self.last_row = Some((file, r.row));
        }
        self.lines += 1;
        self.w
            .write_record([
                r.row.to_string().as_str(),
                &r.column,
                &r.value,
                &r.reason,
                name,
            ])
            .map_err(csv_err)
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        self.w.flush()
    }
}

/// conflicts.csv: the values of a field that differed between files.
pub struct ConflictsWriter<W: Write> {
    w: csv::Writer<W>,
    pub lines: u64,
}

impl<W: Write> ConflictsWriter<W> {
    pub fn new(out: W) -> std::io::Result<Self> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(["key", "field", "file", "row", "value", "used"])
            .map_err(csv_err)?;
        Ok(ConflictsWriter { w, lines: 0 })
    }

    /// Writes a conflict; `name` names its file.
    pub fn write(&mut self, c: &crate::data::join::Conflict, name: &str) -> std::io::Result<()> {
        self.lines += 1;
        self.w
            .write_record([
                c.key.as_str(),
                &c.field,
                name,
                &c.row.to_string(),
                &c.value,
                if c.used { "true" } else { "false" },
            ])
            .map_err(csv_err)
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        self.w.flush()
    }
}

/// summary.csv: one row per policy, in id order.
pub fn write_summary(summary: &[PolicySummary], out: impl Write) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "policy",
        "title",
        "in_force",
        "evaluated",
        "eligible",
        "ineligible",
        "review",
        "amount",
        "funded",
        "budget",
    ])
    .map_err(csv_err)?;
    for s in summary {
        w.write_record([
            s.id.as_str(),
            s.title.as_str(),
            if s.in_force { "true" } else { "false" },
            &s.evaluated.to_string(),
            &s.eligible.to_string(),
            &s.ineligible.to_string(),
            &s.review.to_string(),
            &money(s.amount),
            &money(s.funded),
            &money(s.budget),
        ])
        .map_err(csv_err)?;
    }
    w.flush()
}

/// summary.csv read back, as [`write_summary`] wrote it; `Err` is the line
/// (1-based, the header is line 1) and what is wrong there.
pub fn read_summary(input: impl std::io::Read) -> Result<Vec<PolicySummary>, (u64, String)> {
    let mut r = csv::Reader::from_reader(input);
    let mut rows = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let line = i as u64 + 2;
        let rec = rec.map_err(|e| (line, e.to_string()))?;
        let cell = |n: usize| rec.get(n).unwrap_or_default();
        let count = |n: usize| {
            cell(n)
                .parse::<u64>()
                .map_err(|_| (line, format!("`{}` is not a count", cell(n))))
        };
        let money = |n: usize| match cell(n) {
            "" => Ok(None),
            t => t
                .parse::<rust_decimal::Decimal>()
                .map(Some)
                .map_err(|_| (line, format!("`{t}` is not an amount"))),
        };
        rows.push(PolicySummary {
            id: cell(0).to_string(),
            title: cell(1).to_string(),
            in_force: cell(2) == "true",
            evaluated: count(3)?,
            eligible: count(4)?,
            ineligible: count(5)?,
            review: count(6)?,
            amount: money(7)?,
            funded: money(8)?,
            budget: money(9)?,
            note: Default::default(),
        });
    }
    Ok(rows)
}

/// A data file of a run, as the manifest records it: its rows are its
/// rows evaluated and its rows rejected.
pub struct DataFile {
    pub input: crate::data::Input,
    /// What reading it told (hash, rows, unknown columns).
    pub info: StreamInfo,
    pub rejected_rows: u64,
    /// Rows of the firms evaluated.
    pub evaluated_rows: u64,
}

/// What the manifest records about a run.
pub struct RunRecord<'a> {
    pub set: &'a PolicySet,
    pub policy_dir: &'a str,
    pub data: &'a [DataFile],
    pub conflicts: u64,
    pub as_of: crate::date::Date,
    pub all: bool,
    /// `--encoding` as given (`auto`, `utf8`, `gb18030`).
    pub encoding: &'a str,
    pub firms: u64,
    pub rejected_rows: u64,
    pub rejects: u64,
    pub decisions: u64,
    /// What each `combined` group's cap took, in the set's order.
    pub caps: &'a [crate::settle::CapFigures],
    pub summary: &'a [PolicySummary],
    pub warnings: &'a [String],
    /// The ledger read (`--ledger`), and its path as given.
    pub ledger: Option<&'a crate::data::ledger::Ledger>,
    pub ledger_arg: Option<&'a std::path::Path>,
    /// The policies selected (`--policy`, `--only`); none: the whole set.
    pub selection: Option<&'a crate::select::Selection>,
}

/// The policy files of a run's set, each with its SHA-256.
fn policy_files(set: &PolicySet) -> Vec<serde_json::Value> {
    set.files
        .iter()
        .map(|f| serde_json::json!({ "path": f.path, "sha256": f.sha256 }))
        .collect()
}

/// What settlement noted of each policy's budget.
fn policy_notes(summary: &[PolicySummary]) -> Vec<serde_json::Value> {
    summary
        .iter()
        .map(|s| {
            serde_json::json!({
                "policy": s.id,
                "in_force": s.in_force,
                "budget_exceeded": s.note.exceeded,
                "budget_overrun_unallocated": s.note.overrun,
                "allocation_error": s.note.error,
            })
        })
        .collect()
}

/// Decisions eligible, to review and ineligible, over every policy.
fn outcome_counts(summary: &[PolicySummary]) -> (u64, u64, u64) {
    let (mut eligible, mut review, mut ineligible) = (0u64, 0u64, 0u64);
    for s in summary {
        eligible += s.eligible;
        review += s.review;
        ineligible += s.ineligible;
    }
    (eligible, review, ineligible)
}

/// manifest.json: engine version, as_of, input hashes and the counts.
pub fn manifest(r: &RunRecord<'_>) -> serde_json::Value {
    let files = policy_files(r.set);
    let policies = policy_notes(r.summary);
    let data: Vec<serde_json::Value> = r
        .data
        .iter()
        .map(|f| {
            serde_json::json!({
                "path": f.input.name(),
                "source": f.input.source,
                "sha256": f.info.sha256,
                "rows": f.info.rows,
                "evaluated_rows": f.evaluated_rows,
                "rejected_rows": f.rejected_rows,
                "unknown_columns": f.info.unknown_columns,
            })
        })
        .collect();
    let ledger = r.ledger.map(|l| {
        serde_json::json!({
            "path": r.ledger_arg.map(|p| p.to_string_lossy().to_string()),
            "sha256": l.sha256,
            "rows": l.rows,
            "rows_sha256": l.rows_digest.hex(),
            "payments_read": l.kept,
            "firms": l.firms(),
            "firms_not_in_data": l.firms_not_looked_up(),
        })
    });
    let combined: Vec<serde_json::Value> = r
        .set
        .program
        .combined
        .iter()
        .zip(r.caps)
        .map(|(g, c)| {
            serde_json::json!({
                "label": g.label,
                "firms_cut": c.firms,
                "decisions_cut": c.cut,
                "decisions_turned_ineligible": c.zeroed,
                "amount_taken": money(Some(c.amount)),
                "firms_review_cap_missing": c.review,
            })
        })
        .collect();
    let mut manifest = serde_json::json!({
        "engine": { "name": "mianshen", "version": env!("CARGO_PKG_VERSION") },
        "as_of": r.as_of.to_string(),
        "all": r.all,
        "encoding": r.encoding,
        "policy_set": { "dir": r.policy_dir, "files": files },
        "data": data,
        "ledger": ledger,
        "counts": counts(
            [
                r.data.iter().map(|f| f.info.rows).sum::<u64>(),
                r.firms,
                r.rejected_rows,
                r.rejects,
                r.conflicts,
            ],
            r.summary,
            r.decisions,
        ),
        "policies": policies,
        "warnings": r.warnings,
    });
    if !combined.is_empty() {
        if let Some(m) = manifest.as_object_mut() {
            m.insert("combined".into(), serde_json::Value::Array(combined));
        }
    }
    // only a partial run says so: a whole run's manifest is as it always was
    if let (Some(sel), Some(map)) = (r.selection, manifest.as_object_mut()) {
        map.insert("selection".into(), sel.to_json());
    }
    manifest
}

/// The manifest's `counts`: the rows, firms, rejected rows, rejects and
/// conflicts read, then the policies' and decisions' figures.
fn counts(read: [u64; 5], summary: &[PolicySummary], decisions: u64) -> serde_json::Value {
    let [rows, firms, rejected_rows, rejects, conflicts] = read;
    let (eligible, review, ineligible) = outcome_counts(summary);
    serde_json::json!({
        "rows": rows,
        "firms": firms,
        "rejected_rows": rejected_rows,
        "rejects": rejects,
        "conflicts": conflicts,
        "policies": summary.len(),
        "policies_in_force": summary.iter().filter(|s| s.in_force).count(),
        "decisions": decisions,
        "eligible": eligible,
        "review": review,
        "ineligible": ineligible,
    })
}

/// Writes manifest.json.
pub fn write_manifest(r: &RunRecord<'_>, out: impl Write) -> std::io::Result<()> {
    write_json(&manifest(r), out)
}

/// A manifest, pretty-printed, with a final newline.
fn write_json(value: &serde_json::Value, mut out: impl Write) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
    out.write_all(text.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()
}

/// What the manifest records about a run in a database
/// (`run --postgres`): the database and the tables' fingerprints instead
/// of data files.
pub struct DatabaseRecord<'a> {
    pub set: &'a PolicySet,
    pub policy_dir: &'a str,
    pub as_of: crate::date::Date,
    pub all: bool,
    pub database: &'a crate::sql::database::Place,
    pub table: &'a crate::sql::database::Fingerprint,
    pub ledger: Option<&'a crate::sql::database::Fingerprint>,
    pub decisions: u64,
    pub summary: &'a [PolicySummary],
    pub warnings: &'a [String],
    pub selection: Option<&'a crate::select::Selection>,
}

/// manifest.json of a run in a database.
pub fn database_manifest(r: &DatabaseRecord<'_>) -> serde_json::Value {
    let mut manifest = serde_json::json!({
        "engine": { "name": "mianshen", "version": env!("CARGO_PKG_VERSION") },
        "as_of": r.as_of.to_string(),
        "all": r.all,
        "policy_set": { "dir": r.policy_dir, "files": policy_files(r.set) },
        "database": r.database.to_json(),
        "table": r.table.to_json(),
        "ledger_table": r.ledger.map(|l| l.to_json()),
        "counts": counts([r.table.rows, r.table.rows, 0, 0, 0], r.summary, r.decisions),
        "policies": policy_notes(r.summary),
        "warnings": r.warnings,
    });
    if let (Some(sel), Some(map)) = (r.selection, manifest.as_object_mut()) {
        map.insert("selection".into(), sel.to_json());
    }
    manifest
}

/// Writes manifest.json of a run in a database.
pub fn write_database_manifest(r: &DatabaseRecord<'_>, out: impl Write) -> std::io::Result<()> {
    write_json(&database_manifest(r), out)
}
