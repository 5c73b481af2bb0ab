//! Every firm the run evaluated, in key order, with its decisions: the
//! data are read again by the run's own code (a profile run,
//! [`crate::batch::RunOptions::profile`]: same rejects, same joins, nothing
//! evaluated) and matched with decisions.csv, which is sorted the same way.

use std::path::Path;
use std::str::FromStr;

use rust_decimal::Decimal;

use super::codes::{self, Region};
use super::folder::Run;
use super::PublishError;
use crate::eval::Outcome;

/// A firm as publishing shows it.
#[derive(Clone, Debug)]
pub struct Firm {
    pub key: String,
    /// Empty when the schema names no `name:` field (or the cell is empty).
    pub name: String,
    pub region: Region,
    /// The GB/T 4754 section letter, or "未识别".
    pub section: &'static str,
    /// The size class, or "未识别".
    pub size: String,
}

/// One line of decisions.csv.
#[derive(Clone, Debug)]
pub struct Decision {
    /// Index into the program's policies.
    pub policy: usize,
    pub outcome: Outcome,
    pub amount: Option<Decimal>,
    pub funded: Option<Decimal>,
    pub reasons: String,
}

/// What the pass found, to check against the manifest.
#[derive(Debug, Default)]
pub struct Pass {
    pub firms: u64,
    pub decisions: u64,
    pub rejected_rows: u64,
}

/// Calls `f` with each evaluated firm and its decisions, in key order.
pub fn each(
    run: &Run,
    scratch: &Path,
    mut f: impl FnMut(Firm, Vec<Decision>) -> std::io::Result<()>,
) -> Result<Pass, PublishError> {
    let program = &run.set.program;
    let schema = &program.schema;
    let roles = [
        schema.name,
        schema.region(),
        schema.industry(),
        schema.size(),
    ];
    let fields: Vec<usize> = roles.iter().flatten().copied().collect();
    let opts = crate::data::ReadOptions {
        encoding: run.recorded.encoding,
    };
    let inputs = run.recorded.inputs();
    let clean = rejected_none(run);
    let mut streams = Vec::new();
    for input in &inputs {
        let mut stream = crate::data::stream::Stream::open_path(&input.path, schema, &opts)?;
        if clean {
            stream.known_clean();
        }
        streams.push(stream);
    }
    let run_opts = crate::batch::RunOptions {
        as_of: run.as_of,
        all: false,
        ledger: None,
        profile: Some(fields.into()),
    };
    let spill = Some(crate::batch::Spill {
        dir: scratch.to_path_buf(),
        memory: crate::batch::Memory::within(crate::batch::DEFAULT_MEMORY),
    });
    let mut pass = Pass::default();
    let mut last_row = None;
    let mut rejected = |file: u16, r: &crate::data::Reject| {
        if last_row != Some((file, r.row)) {
            pass.rejected_rows += 1;
            last_row = Some((file, r.row));
        }
        Ok(())
    };
    let names: Vec<String> = inputs.iter().map(crate::data::Input::name).collect();
    let sources: Vec<Option<String>> = inputs.iter().map(|i| i.source.clone()).collect();
    let (batch, _) = crate::batch::joined::stream_files(
        program,
        crate::batch::joined::DataFiles {
            streams: &mut streams,
            names: &names,
            sources: &sources,
        },
        run_opts,
        spill,
        &mut rejected,
        |_| Ok(()),
        |_| {},
    )?;
    let rejected_rows = pass.rejected_rows;
    let settled = batch.finish()?;
    let mut decisions = Decisions::open(
        &run.recorded.manifest_path.with_file_name("decisions.csv"),
        run,
    )?;
    let mut mismatch = None;
    let mut firms = 0u64;
    let walked = settled.profiles(|key, texts| {
        firms += 1;
        let mut texts = texts.into_iter();
        let mut take = |role: Option<usize>| match role {
            Some(_) => texts.next().unwrap_or_default(),
            None => String::new(),
        };
        let name = take(roles[0]);
        let region = Region::of(&take(roles[1]));
        let section = codes::section(&take(roles[2]));
        let size = match take(roles[3]) {
            s if s.trim().is_empty() => codes::UNKNOWN.to_string(),
            s => s,
        };
        let firm = Firm {
            key: key.to_string(),
            name,
            region,
            section,
            size,
        };
        let mut held = Vec::new();
        match decisions.of(key, &mut held) {
            Ok(()) => f(firm, held),
            Err(e) => {
                mismatch = Some(e);
                Err(std::io::Error::other(
                    "decisions.csv does not match the data",
                ))
            }
        }
    });
    if let Some(m) = mismatch {
        return Err(PublishError::Mismatch(vec![m]));
    }
    walked?;
    if let Some(rest) = decisions.next_key() {
        return Err(PublishError::Mismatch(vec![format!(
            "decisions.csv, line {}: firm `{rest}` is not among the firms the data gives",
            decisions.line
        )]));
    }
    Ok(Pass {
        firms,
        decisions: decisions.read,
        rejected_rows,
    })
}

/// Whether the run rejected no row of its data, as its manifest counts
/// (over all files and of each). The data are the run's (their hashes
/// checked on opening), so reading them again rejects none either: only
/// the cells publishing shows need be read. Should the manifest lie, the
/// firms read would not be the run's, and the counts and decisions.csv
/// checked after reading them would not agree.
// serde_json's `value["key"]` gives `Null` for what is absent; it never panics
#[allow(clippy::indexing_slicing)]
fn rejected_none(run: &Run) -> bool {
    let m = &run.recorded.manifest;
    let none = |v: &serde_json::Value| v.as_u64() == Some(0);
    none(&m["counts"]["rejected_rows"])
        && match &m["data"] {
            serde_json::Value::Array(files) => files.iter().all(|f| none(&f["rejected_rows"])),
            one => none(&one["rejected_rows"]),
        }
}

/// decisions.csv, read in step with the firms (one record, read into
/// again line after line).
struct Decisions<'r> {
    reader: csv::Reader<std::fs::File>,
    /// The next line, if `more`.
    next: csv::StringRecord,
    more: bool,
    run: &'r Run,
    line: u64,
    read: u64,
}

impl<'r> Decisions<'r> {
    fn open(path: &Path, run: &'r Run) -> Result<Decisions<'r>, PublishError> {
        let reader = csv::ReaderBuilder::new()
            .buffer_capacity(1 << 16)
            .from_path(path)
            .map_err(|e| PublishError::Mismatch(vec![format!("decisions.csv: {e}")]))?;
        let mut d = Decisions {
            reader,
            next: csv::StringRecord::new(),
            more: false,
            run,
            line: 1,
            read: 0,
        };
        d.advance().map_err(|m| PublishError::Mismatch(vec![m]))?;
        Ok(d)
    }

    fn advance(&mut self) -> Result<(), String> {
        self.more = self
            .reader
            .read_record(&mut self.next)
            .map_err(|e| format!("decisions.csv: {e}"))?;
        if self.more {
            self.line += 1;
        }
        Ok(())
    }

    fn next_key(&self) -> Option<String> {
        self.more
            .then(|| self.next.get(0).unwrap_or_default().to_string())
    }

    /// The decisions of firm `key` (the next firm in key order).
    fn of(&mut self, key: &str, out: &mut Vec<Decision>) -> Result<(), String> {
        while self.more {
            let rec = &self.next;
            let k = rec.get(0).unwrap_or_default();
            if k > key {
                break;
            }
            if k < key {
                return Err(format!(
                    "decisions.csv, line {}: firm `{k}` is not among the firms the data gives",
                    self.line
                ));
            }
            out.push(self.decision(rec)?);
            self.read += 1;
            self.advance()?;
        }
        Ok(())
    }

    fn decision(&self, rec: &csv::StringRecord) -> Result<Decision, String> {
        let at = |what: &str| format!("decisions.csv, line {}: {what}", self.line);
        let cell = |n: usize| rec.get(n).unwrap_or_default();
        let program = &self.run.set.program;
        let policy = program
            .policy_index(cell(1))
            .filter(|&p| self.run.summary.get(p).is_some_and(|s| s.in_force))
            .ok_or_else(|| at(&format!("`{}` is not a policy in force", cell(1))))?;
        let outcome = match cell(2) {
            "eligible" => Outcome::Eligible,
            "review" => Outcome::Review,
            "ineligible" => Outcome::Ineligible,
            o => return Err(at(&format!("`{o}` is not an outcome"))),
        };
        let money = |n: usize| match cell(n) {
            "" => Ok(None),
            t => Decimal::from_str(t)
                .map(Some)
                .map_err(|_| at(&format!("`{t}` is not an amount"))),
        };
        Ok(Decision {
            policy,
            outcome,
            amount: money(3)?,
            funded: money(4)?,
            reasons: cell(5).to_string(),
        })
    }
}
