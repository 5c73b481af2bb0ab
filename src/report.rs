//! Stage 6: the result files of a run (LANGUAGE.md section 8), written into a
//! temporary directory and renamed into place, so an interrupted run never
//! leaves a partial result that looks complete.

use std::io::Write;
use std::path::{Path, PathBuf};

use rust_decimal::Decimal;

use crate::data::{DataSet, Reject};
use crate::load::PolicySet;
use crate::program::Program;
use crate::run::{PolicySummary, RunResult};

/// The files a result directory holds.
pub const RESULT_FILES: [&str; 4] = [
    "decisions.csv",
    "summary.csv",
    "rejects.csv",
    "manifest.json",
];

/// What the manifest records about the run's inputs.
pub struct RunInputs<'a> {
    pub set: &'a PolicySet,
    pub policy_dir: &'a str,
    pub data_path: &'a str,
    pub data: &'a DataSet,
    pub as_of: crate::date::Date,
    pub all: bool,
    pub warnings: &'a [String],
}

fn money(d: Option<Decimal>) -> String {
    d.map(|d| crate::eval::cents(d).to_string())
        .unwrap_or_default()
}

fn csv_err(e: csv::Error) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// decisions.csv: `key,policy,outcome,amount,funded,reasons`, sorted by key
/// then policy id.
pub fn write_decisions(
    program: &Program,
    result: &RunResult,
    out: impl Write,
) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["key", "policy", "outcome", "amount", "funded", "reasons"])
        .map_err(csv_err)?;
    for firm in &result.firms {
        for pair in &firm.pairs {
            let id = program
                .policies
                .get(pair.policy as usize)
                .map_or("", |p| p.id.as_str());
            w.write_record([
                firm.key.as_str(),
                id,
                pair.outcome.as_str(),
                &money(pair.amount),
                &money(pair.funded),
                &pair.reasons.join("; "),
            ])
            .map_err(csv_err)?;
        }
    }
    w.flush()
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

/// rejects.csv: `row,column,value,reason`, by row.
pub fn write_rejects(rejects: &[Reject], out: impl Write) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["row", "column", "value", "reason"])
        .map_err(csv_err)?;
    for r in rejects {
        w.write_record([r.row.to_string().as_str(), &r.column, &r.value, &r.reason])
            .map_err(csv_err)?;
    }
    w.flush()
}

/// manifest.json: engine version, as_of, input hashes and the counts.
pub fn manifest(inputs: &RunInputs<'_>, result: &RunResult) -> serde_json::Value {
    let mut rejected_rows: Vec<u64> = inputs.data.rejects.iter().map(|r| r.row).collect();
    rejected_rows.dedup();
    let (mut eligible, mut review, mut ineligible, mut decisions) = (0u64, 0u64, 0u64, 0u64);
    for s in &result.summary {
        eligible += s.eligible;
        review += s.review;
        ineligible += s.ineligible;
    }
    for f in &result.firms {
        decisions += f.pairs.len() as u64;
    }
    let files: Vec<serde_json::Value> = inputs
        .set
        .files
        .iter()
        .map(|f| serde_json::json!({ "path": f.path, "sha256": f.sha256 }))
        .collect();
    let policies: Vec<serde_json::Value> = result
        .summary
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
        .collect();
    serde_json::json!({
        "engine": { "name": "mianshen", "version": env!("CARGO_PKG_VERSION") },
        "as_of": inputs.as_of.to_string(),
        "all": inputs.all,
        "policy_set": { "dir": inputs.policy_dir, "files": files },
        "data": { "path": inputs.data_path, "sha256": inputs.data.sha256 },
        "counts": {
            "rows": inputs.data.rows,
            "firms": inputs.data.records.len(),
            "rejected_rows": rejected_rows.len(),
            "rejects": inputs.data.rejects.len(),
            "policies": result.summary.len(),
            "policies_in_force": result.summary.iter().filter(|s| s.in_force).count(),
            "decisions": decisions,
            "eligible": eligible,
            "review": review,
            "ineligible": ineligible,
        },
        "policies": policies,
        "unknown_columns": inputs.data.unknown_columns,
        "warnings": inputs.warnings,
    })
}

/// Writes the four result files into `out_dir`, atomically: into a sibling
/// temporary directory first, then renamed. An existing `out_dir` is replaced
/// only if it holds nothing but result files.
pub fn write_all(
    out_dir: &Path,
    inputs: &RunInputs<'_>,
    result: &RunResult,
) -> std::io::Result<()> {
    let program = &inputs.set.program;
    let parent = match out_dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)?;
    let name = out_dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "out".into());
    let tmp = parent.join(format!(".{name}.partial-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    std::fs::create_dir(&tmp)?;
    let written = (|| -> std::io::Result<()> {
        let open = |f: &str| std::fs::File::create(tmp.join(f)).map(std::io::BufWriter::new);
        write_decisions(program, result, open("decisions.csv")?)?;
        write_summary(&result.summary, open("summary.csv")?)?;
        write_rejects(&inputs.data.rejects, open("rejects.csv")?)?;
        let mut m = open("manifest.json")?;
        let text = serde_json::to_string_pretty(&manifest(inputs, result))
            .map_err(std::io::Error::other)?;
        m.write_all(text.as_bytes())?;
        m.write_all(b"\n")?;
        m.flush()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if out_dir.exists() {
        let foreign: Vec<String> = std::fs::read_dir(out_dir)?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| !RESULT_FILES.contains(&n.as_str()))
            .collect();
        if !foreign.is_empty() {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(std::io::Error::other(format!(
                "`{}` holds other files ({}); choose an empty or new --out directory",
                out_dir.display(),
                foreign.join(", ")
            )));
        }
        std::fs::remove_dir_all(out_dir)?;
    }
    std::fs::rename(&tmp, out_dir)
}
