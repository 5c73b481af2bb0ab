//! The commands behind the `mianshen` binary, as functions returning an exit
//! status, one file per command. Rendering of diagnostics happens here and
//! nowhere in the library.

mod check;
mod explain;
mod fmt;
mod ledger;
mod lint;
mod pgrun;
mod publish;
mod run;
mod sql;
mod test;
mod verify;

pub use check::check;
pub use explain::{explain, ExplainArgs};
pub use fmt::fmt;
pub use ledger::{ledger_add, ledger_check};
pub use lint::lint;
pub use pgrun::{run_postgres, PgRunArgs};
pub use publish::{publish, publish_needs_date, PublishArgs};
pub use run::{run, RunArgs};
pub use sql::{sql, SqlArgs};
pub use test::{test, TestArgs, TestFormat};
pub use verify::verify;

use std::path::Path;

use crate::date::Date;
use crate::diag::{render_human, render_json, Diagnostic};
use crate::load::{LoadError, PolicySet};

pub const EXIT_OK: u8 = 0;
pub const EXIT_POLICY: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

pub fn print_diags(diags: &[Diagnostic], json: bool) {
    if json {
        println!("{}", render_json(diags));
    } else {
        eprint!("{}", render_human(diags));
    }
}

/// Loads a set, printing its diagnostics; `Err` carries the exit status.
pub(super) fn load(dir: &Path, json: bool) -> Result<PolicySet, u8> {
    PolicySet::load(dir).map_err(|e| {
        print_diags(&e, json);
        match e {
            // a directory that is not there is a command-line problem
            LoadError::Unreadable(_) => EXIT_USAGE,
            LoadError::Invalid(_) => EXIT_POLICY,
        }
    })
}

/// Loads a set and keeps the policies `selection` names (`--policy`,
/// `--only`), printing what is wrong; `Err` carries the exit status.
pub(super) fn load_selected(
    dir: &Path,
    json: bool,
    selection: &crate::select::Selection,
) -> Result<PolicySet, u8> {
    let mut set = load(dir, json)?;
    if !selection.is_all() {
        match set.program.select(selection, &dir.to_string_lossy()) {
            Ok(p) => set.program = p,
            Err(e) => {
                eprintln!("error: {e}");
                return Err(EXIT_USAGE);
            }
        }
    }
    Ok(set)
}

pub fn parse_as_of(s: &str) -> Result<Date, u8> {
    Date::parse_iso(s).ok_or_else(|| {
        eprintln!(
            "error: `--as-of {s}` 不是日期: 请写成 YYYY-MM-DD, 如 `--as-of 2024-12-31` (`--as-of {s}` is not a date: write YYYY-MM-DD)"
        );
        EXIT_USAGE
    })
}

/// The data files after `--data`: at least one, each once; `Err` is the
/// exit status, the problem printed.
pub(super) fn data_given(data: &[crate::data::Input]) -> Result<(), u8> {
    let problem = if data.is_empty() {
        Some(crate::batch::RunError::NoData)
    } else {
        crate::data::given_twice(data).map(crate::batch::RunError::GivenTwice)
    };
    match problem {
        Some(e) => {
            eprintln!("error: {e}");
            Err(EXIT_USAGE)
        }
        None => Ok(()),
    }
}

/// Phase durations for `--timings`.
pub(crate) struct Timings {
    pub on: bool,
    pub last: std::time::Instant,
}

impl Timings {
    pub fn lap(&mut self, what: &str) {
        if self.on {
            let now = std::time::Instant::now();
            let memory = peak_memory()
                .map(|kib| format!("  (peak memory so far {} MiB)", kib / 1024))
                .unwrap_or_default();
            eprintln!(
                "timing: {:>8.3} s  {what}{memory}",
                (now - self.last).as_secs_f64()
            );
            self.last = now;
        }
    }
}

/// The most resident memory the process has had, in KiB (Linux only).
fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
