//! Recording a run's payments in the ledger, exactly once (`mianshen ledger
//! add`), and checking a ledger (`mianshen ledger check`).
//!
//! A run's payments are its eligible decisions with a funded amount above 0.
//! They are appended under the run's identity (the SHA-256 of its
//! `manifest.json`, in the ledger's `run` column), so the same run is never
//! added twice. The ledger is never left half-written: the new ledger is
//! written beside the old one, flushed to disk and renamed over it, so a crash
//! at any point leaves the old or the new ledger whole; a lock file beside it
//! keeps two additions from running at once.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use rust_decimal::Decimal;

use crate::data::ledger::{read_rows, LedgerError, LedgerRow, COLUMNS};
use crate::data::Encoding;
use crate::date::Date;

/// The column that names the run a payment was recorded from.
pub const RUN_COLUMN: &str = "run";

/// The payments of one results folder.
#[derive(Clone, Debug)]
pub struct RunPayments {
    /// The SHA-256 of the run's manifest.json.
    pub run: String,
    pub as_of: Date,
    /// `(key, policy, funded)` in decisions.csv order, funded as written
    /// there (two decimals).
    pub payments: Vec<(String, String, String)>,
    pub total: Decimal,
}

/// Why a run's payments were not added.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum AddError {
    #[error("无法读取 `{}` 中的运行结果 (cannot read the results): {message}", dir.display())]
    #[diagnostic(code(mianshen::ledger_add::results))]
    Results { dir: PathBuf, message: String },
    #[error("{0}")]
    #[diagnostic(transparent)]
    Ledger(#[from] LedgerError),
    #[error("本次结果已记入台账: 第 {first} 至 {last} 行, 兑付日期 {paid_on}; 每笔兑付只记一次 (this run was already added to the ledger: lines {first} to {last}, paid on {paid_on}; a payment is recorded once)")]
    #[diagnostic(code(mianshen::ledger_add::already_added))]
    AlreadyAdded {
        first: u64,
        last: u64,
        paid_on: String,
    },
    #[error("本次有 {count} 笔兑付在台账中已按同一政策兑付过, 第一笔是 `{key}` 的 `{policy}` (第 {line} 行): 再记入就会重复兑付; 若该政策确实可再次兑付同一企业, 请加 --allow-repeat; 若是补发(同一年度数据补齐后重新运行), 请加 --skip-paid 只记入尚未兑付的企业 ({count} of the run's payments are already in the ledger under the same policy, first `{key}` under `{policy}` on line {line}: adding them would pay twice. If the policy really pays the same firm again, add with --allow-repeat; for a later batch of the same year, --skip-paid records only the firms not yet paid)")]
    #[diagnostic(code(mianshen::ledger_add::paid_before))]
    PaidBefore {
        count: usize,
        key: String,
        policy: String,
        line: u64,
    },
    #[error("--paid-on {paid_on} 不晚于该次运行的 as_of {as_of}: 否则重放时会把本次兑付也算进去; 请给出实际付款日期 (--paid-on {paid_on} is not after the run's as_of {as_of}: a replay of the run would then count its own payments; give the date the money is paid)")]
    #[diagnostic(code(mianshen::ledger_add::paid_on_too_early))]
    PaidOnTooEarly { paid_on: Date, as_of: Date },
    #[error("台账正在写入: 另一个 `ledger add` 持有锁 `{}`; 如果并没有在运行, 说明锁已过期, 删除后重新记入 (another `ledger add` holds the lock; if none is running, the lock is stale: remove it and add again)", path.display())]
    #[diagnostic(code(mianshen::ledger_add::locked))]
    Locked { path: PathBuf },
    #[error("无法写入台账 `{}` (cannot write the ledger): {source}", path.display())]
    #[diagnostic(code(mianshen::ledger_add::write))]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What [`append`] added.
#[derive(Clone, Debug)]
pub struct Added {
    pub rows: usize,
    pub total: Decimal,
    /// The ledger's lines of the new rows.
    pub first_line: u64,
    /// With [`Repeats::Skip`]: the run's payments left out.
    pub skipped: Skipped,
}

/// The payments `--skip-paid` left out: firms already paid under the
/// policy.
#[derive(Clone, Debug, Default)]
pub struct Skipped {
    pub rows: usize,
    /// Of them, those whose run decided another amount than the ledger's
    /// sum under the policy (the data changed since: look at them).
    pub differing: usize,
    /// The first of those: key, policy, paid before, decided now.
    pub first_differing: Option<(String, String, Decimal, String)>,
}

/// Reads a results folder's payments and identity.
pub fn run_payments(dir: &Path) -> Result<RunPayments, AddError> {
    let fail = |message: String| AddError::Results {
        dir: dir.into(),
        message,
    };
    let manifest_bytes = std::fs::read(dir.join("manifest.json"))
        .map_err(|e| fail(format!("manifest.json: {e}")))?;
    let manifest: serde_json::Value =
        serde_json::from_slice(&manifest_bytes).map_err(|e| fail(format!("manifest.json: {e}")))?;
    let as_of = manifest
        .get("as_of")
        .and_then(|v| v.as_str())
        .and_then(Date::parse_iso)
        .ok_or_else(|| fail("manifest.json has no as_of".into()))?;
    let mut reader = csv::Reader::from_path(dir.join("decisions.csv"))
        .map_err(|e| fail(format!("decisions.csv: {e}")))?;
    let mut payments = Vec::new();
    let mut total = Decimal::ZERO;
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(|e| fail(format!("decisions.csv: {e}")))?;
        let cell = |c: usize| row.get(c).unwrap_or_default();
        if cell(2) != "eligible" {
            continue;
        }
        let funded: Decimal = match cell(4) {
            "" => continue,
            text => text
                .parse()
                .map_err(|_| fail(format!("decisions.csv line {}: funded `{text}`", i + 2)))?,
        };
        if funded <= Decimal::ZERO {
            continue;
        }
        total += funded;
        payments.push((
            cell(0).to_string(),
            cell(1).to_string(),
            cell(4).to_string(),
        ));
    }
    Ok(RunPayments {
        run: crate::load::sha256_hex(&manifest_bytes),
        as_of,
        payments,
        total,
    })
}

/// Where the ledger already holds the run's payments: its first and last
/// lines and their `paid_on` (None when the run was never added or the
/// ledger does not exist yet).
pub fn already_added(path: &Path, run: &str) -> Result<Option<(u64, u64, String)>, LedgerError> {
    if !path.exists() {
        return Ok(None);
    }
    let mut found: Option<(u64, u64, String)> = None;
    read_rows(path, |row| {
        note_run(&mut found, &row, run);
        Ok(())
    })?;
    Ok(found)
}

/// Where `header` names the column `name` (letter case and blanks aside).
fn column(header: &[String], name: &str) -> Option<usize> {
    header
        .iter()
        .position(|h| h.trim().eq_ignore_ascii_case(name))
}

/// The run a ledger row was recorded from (empty when none).
fn run_of<'a>(row: &LedgerRow<'a>) -> &'a str {
    column(row.header, RUN_COLUMN)
        .and_then(|c| row.cells.get(c))
        .map_or("", |s| s.trim())
}

/// Widens `found` (first line, last line, `paid_on`) by `row` when it was
/// recorded from `run`.
fn note_run(found: &mut Option<(u64, u64, String)>, row: &LedgerRow<'_>, run: &str) {
    if run_of(row) == run {
        let e = found.get_or_insert((row.line, row.line, row.paid_on.to_string()));
        e.1 = row.line;
    }
}

/// What `ledger add` does with a payment to a firm already paid under the
/// same policy in the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeats {
    /// Nothing is recorded ([`AddError::PaidBefore`]): the default.
    Refuse,
    /// Recorded again (`--allow-repeat`): the policy pays a firm again.
    Allow,
    /// Left out (`--skip-paid`): a later batch (补发) of the same year, run
    /// again once missing data came in, records only the firms not yet paid.
    Skip,
}

/// Appends a run's payments to the ledger at `path` (created when absent),
/// paid on `paid_on`: exactly once, atomically, under a lock. `repeats`
/// says what becomes of a payment to a firm already paid under the policy.
pub fn append(
    path: &Path,
    run: &RunPayments,
    paid_on: Date,
    repeats: Repeats,
) -> Result<Added, AddError> {
    if paid_on <= run.as_of {
        return Err(AddError::PaidOnTooEarly {
            paid_on,
            as_of: run.as_of,
        });
    }
    let _lock = Lock::take(path)?;
    let mut header: Vec<String> = COLUMNS
        .iter()
        .map(|c| c.to_string())
        .chain([RUN_COLUMN.to_string()])
        .collect();
    // the ledger as first read: its hash, and whether it lacks a run column
    let mut before: Option<(String, bool)> = None;
    let mut bom = true;
    let mut last_line = 1;
    // per (key, policy) of the run's payments already in the ledger: the
    // sum paid so far under it
    let mut paid_before: BTreeMap<(String, String), Decimal> = BTreeMap::new();
    if path.exists() {
        let new: std::collections::HashSet<(&str, &str)> = run
            .payments
            .iter()
            .map(|(k, p, _)| (k.as_str(), p.as_str()))
            .collect();
        let mut same_run: Option<(u64, u64, String)> = None;
        let mut repeated: Vec<(String, String, u64)> = Vec::new();
        let file = read_rows(path, |row| {
            note_run(&mut same_run, &row, &run.run);
            if new.contains(&(row.key, row.policy)) {
                repeated.push((row.key.to_string(), row.policy.to_string(), row.line));
                *paid_before
                    .entry((row.key.to_string(), row.policy.to_string()))
                    .or_insert(Decimal::ZERO) += row.amount;
            }
            last_line = row.line;
            Ok(())
        })?;
        header = file.header;
        bom = file.bom || file.encoding == Encoding::Gb18030;
        let no_run = column(&header, RUN_COLUMN).is_none();
        if no_run {
            header.push(RUN_COLUMN.to_string());
        }
        before = Some((file.sha256, no_run));
        if let Some((first, last, paid_on)) = same_run {
            return Err(AddError::AlreadyAdded {
                first,
                last,
                paid_on,
            });
        }
        if let (Repeats::Refuse, Some((key, policy, line))) = (repeats, repeated.first()) {
            return Err(AddError::PaidBefore {
                count: repeated.len(),
                key: key.clone(),
                policy: policy.clone(),
                line: *line,
            });
        }
    }
    let at = |name: &str| column(&header, name);
    let slots = [
        at("key"),
        at("policy"),
        at("amount"),
        at("paid_on"),
        at(RUN_COLUMN),
    ];
    let paid_text = paid_on.to_string();
    let mut skipped = Skipped::default();
    let payments: Vec<&(String, String, String)> = run
        .payments
        .iter()
        .filter(|(key, policy, funded)| {
            if repeats != Repeats::Skip {
                return true;
            }
            let Some(before) = paid_before.get(&(key.clone(), policy.clone())) else {
                return true;
            };
            skipped.rows += 1;
            let now = funded.parse::<Decimal>().unwrap_or_default();
            if now != *before {
                skipped.differing += 1;
                skipped
                    .first_differing
                    .get_or_insert_with(|| (key.clone(), policy.clone(), *before, funded.clone()));
            }
            false
        })
        .collect();
    let total: Decimal = if skipped.rows == 0 {
        run.total
    } else {
        payments
            .iter()
            .map(|(_, _, f)| f.parse::<Decimal>().unwrap_or_default())
            .sum()
    };
    write_atomically(path, bom, |w| {
        w.write_record(&header)?;
        // the rows already there, read again (one row held at a time)
        if let Some((sha256, no_run)) = &before {
            let mut failed: Option<std::io::Error> = None;
            let file = read_rows(path, |row| {
                let written = if *no_run {
                    w.write_record(row.cells.iter().map(|c| c.as_bytes()).chain([&b""[..]]))
                } else {
                    w.write_record(row.cells.iter().map(|c| c.as_bytes()))
                };
                written.map_err(|e| {
                    let message = e.to_string();
                    failed = Some(e.into());
                    message
                })
            });
            if let Some(e) = failed {
                return Err(e);
            }
            match file {
                Ok(file) if &file.sha256 == sha256 => {}
                Ok(_) => {
                    return Err(std::io::Error::other(
                        "the ledger changed while it was being added to (台账在写入过程中被修改); nothing was written",
                    ))
                }
                Err(e) => return Err(std::io::Error::other(e.to_string())),
            }
        }
        let mut r = vec![String::new(); header.len()];
        for (key, policy, funded) in &payments {
            for (slot, value) in slots.iter().zip([
                key.as_str(),
                policy.as_str(),
                funded.as_str(),
                paid_text.as_str(),
                run.run.as_str(),
            ]) {
                if let Some(cell) = slot.and_then(|i| r.get_mut(i)) {
                    value.clone_into(cell);
                }
            }
            w.write_record(&r)?;
        }
        Ok(())
    })?;
    Ok(Added {
        rows: payments.len(),
        total,
        first_line: last_line + 1,
        skipped,
    })
}

/// Writes the ledger beside `path` (`fill` gives its rows), flushes it to
/// disk and renames it over `path`: readers see the old ledger or the new
/// one, never a part.
fn write_atomically(
    path: &Path,
    bom: bool,
    fill: impl FnOnce(&mut csv::Writer<std::io::BufWriter<&mut std::fs::File>>) -> std::io::Result<()>,
) -> Result<(), AddError> {
    let failed = |source| AddError::Write {
        path: path.into(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.new-{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        if bom {
            file.write_all(b"\xEF\xBB\xBF")?;
        }
        let mut w = csv::Writer::from_writer(std::io::BufWriter::new(&mut file));
        fill(&mut w)?;
        w.flush()?;
        drop(w);
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // the rename itself is durable once the folder is
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(failed)
}

/// `LEDGER.lock`, held while a ledger is rewritten.
struct Lock {
    path: PathBuf,
}

impl Lock {
    fn take(ledger: &Path) -> Result<Lock, AddError> {
        let mut name = ledger.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                let _ = writeln!(f, "{}", std::process::id());
                Ok(Lock { path })
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(AddError::Locked { path })
            }
            Err(source) => Err(AddError::Write { path, source }),
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A ledger's totals, for `mianshen ledger check`.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    pub rows: u64,
    pub firms: usize,
    /// `(policy, year)` → (payments, total).
    pub by_policy_year: BTreeMap<(String, i32), (u64, Decimal)>,
    /// Runs recorded (`run` column) → payments.
    pub runs: BTreeMap<String, u64>,
    /// `(key, policy)` whose payments sum below 0 (more clawed back than paid).
    pub negative: Vec<(String, String, Decimal)>,
    /// `(key, policy)` paid more than once (payments above 0, more of them
    /// than clawbacks plus one), with how many and the lines of the first
    /// two: likely paid twice.
    pub repeated: Vec<(String, String, u64, [u64; 2])>,
    pub sha256: String,
}

/// What a ledger holds for one firm under one policy.
#[derive(Default)]
struct FirmPaid {
    sum: Decimal,
    /// Payments above 0, and the lines of the first two.
    paid: u64,
    lines: [u64; 2],
    /// Payments below 0 (clawed back).
    clawed: u64,
}

/// Reads a whole ledger and totals it; the first unreadable row is an error.
pub fn totals(path: &Path) -> Result<Totals, LedgerError> {
    let mut t = Totals::default();
    let mut per_firm: BTreeMap<(String, String), FirmPaid> = BTreeMap::new();
    let mut runs: BTreeMap<String, u64> = BTreeMap::new();
    let file = read_rows(path, |row| {
        let e = t
            .by_policy_year
            .entry((row.policy.to_string(), row.paid_on.year()))
            .or_default();
        e.0 += 1;
        e.1 += row.amount;
        let firm = per_firm
            .entry((row.key.to_string(), row.policy.to_string()))
            .or_default();
        firm.sum += row.amount;
        if row.amount > Decimal::ZERO {
            if let Some(at) = firm.lines.get_mut(firm.paid as usize) {
                *at = row.line;
            }
            firm.paid += 1;
        } else if row.amount < Decimal::ZERO {
            firm.clawed += 1;
        }
        let run = run_of(&row);
        if !run.is_empty() {
            *runs.entry(run.to_string()).or_default() += 1;
        }
        Ok(())
    })?;
    t.rows = file.rows;
    t.sha256 = file.sha256;
    t.runs = runs;
    t.firms = per_firm
        .keys()
        .map(|(k, _)| k.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    for ((k, p), firm) in per_firm {
        let FirmPaid {
            sum,
            paid,
            lines,
            clawed,
        } = firm;
        // paid twice and clawed back once is paid once
        if paid > 1 + clawed {
            t.repeated.push((k.clone(), p.clone(), paid, lines));
        }
        if sum < Decimal::ZERO {
            t.negative.push((k, p, sum));
        }
    }
    Ok(t)
}
