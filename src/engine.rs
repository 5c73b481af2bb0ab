//! The engine as a library, for payment systems: load a policy set once, then
//! evaluate one firm or a whole batch for a reference date.
//!
//! ```
//! use mianshen::{Date, Engine};
//!
//! let engine = Engine::load("policies").expect("the policy set checks clean");
//! let firm = engine
//!     .firm(&[("uscc", "91420102MA4K2L3R0G"), ("region", "420102"), ("insured_months", "24"), ("ui_premium_paid", "10万")])
//!     .expect("valid values");
//! let as_of = Date::parse_iso("2024-12-31").unwrap();
//! for d in engine.evaluate(&firm, as_of).expect("the run goes through") {
//!     println!("{} {} {:?} {:?}", d.policy, d.outcome.as_str(), d.amount, d.reasons);
//! }
//! ```

mod files;
mod prior;
mod valid;

use std::path::Path;

use rust_decimal::Decimal;

pub use files::{FileCounts, FileReject, FilesResult, Source};
pub use prior::{PaymentError, PriorPayment};

use crate::batch::records::RunResult;
use crate::batch::{RunError, RunOptions};
use crate::data::ledger::{Ledger, LedgerError};
use crate::data::named::Input;
use crate::date::Date;
use crate::diag::Diagnostic;
use crate::eval::{cents, Outcome, Reason};
use crate::load::{LoadError, PolicySet};
use crate::program::Program;
use crate::record::Record;

/// A loaded, checked policy set, ready to evaluate firms. Cheap to share
/// between threads (`&Engine` is `Sync`).
#[derive(Debug, Clone)]
pub struct Engine {
    set: PolicySet,
    /// The prior payments `paid` and `last_paid` read.
    ledger: Option<std::sync::Arc<Ledger>>,
}

/// One firm's decision under one policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub key: String,
    pub policy: String,
    pub outcome: Outcome,
    /// The payable amount (eligible firms of policies with an `amount`),
    /// in yuan with exactly two decimals as decisions.csv writes it
    /// (`to_string()` gives `60000.00`).
    pub amount: Option<Decimal>,
    /// What the budget allows (equal to `amount` when no budget binds), two
    /// decimals.
    pub funded: Option<Decimal>,
    /// Why ineligible, or what blocked a decision, by kind: a failed
    /// clause, a missing field, a limit cut, an exclusive group, a combined
    /// cap, a budget… (`to_string()` gives decisions.csv's wording; the
    /// [`Reason::Budget`] a funded amount below the amount adds is the
    /// library's alone: decisions.csv shows that cut as `funded`).
    pub reasons: Vec<Reason>,
}

impl Engine {
    /// Loads and checks the policy set in `dir` (schema.yaml and *.policy).
    /// A folder that cannot be read is [`LoadError::Unreadable`]; a set with
    /// errors is [`LoadError::Invalid`], with every error found.
    ///
    /// ```
    /// use mianshen::{Engine, LoadError};
    ///
    /// assert!(Engine::load("policies").is_ok());
    /// assert!(matches!(Engine::load("no/such/folder"), Err(LoadError::Unreadable(_))));
    /// ```
    pub fn load(dir: impl AsRef<Path>) -> Result<Engine, LoadError> {
        PolicySet::load(dir.as_ref()).map(|set| Engine { set, ledger: None })
    }

    /// Builds an engine from texts: the schema and `(file name, policy text)`
    /// pairs; `Err` holds every error found.
    ///
    /// ```
    /// let engine = mianshen::Engine::from_texts(
    ///     "key: uscc\nfields:\n  uscc: { type: text }\n  n: { type: integer }\n",
    ///     &[("p.policy", "policy p {\n  title \"t\"\n  require \"n\" n > 1\n}\n")],
    /// );
    /// assert!(engine.is_ok());
    /// ```
    pub fn from_texts(schema: &str, files: &[(&str, &str)]) -> Result<Engine, Vec<Diagnostic>> {
        PolicySet::from_texts(schema, files).map(|set| Engine { set, ledger: None })
    }

    /// The engine with a ledger of prior payments, read from a file
    /// (LANGUAGE.md section 12) as `mianshen run --ledger FILE` reads it,
    /// in place of any ledger given before: a set whose policies use `paid`
    /// or `last_paid` needs one, or its runs fail with
    /// [`RunError::LedgerRequired`]. Payments held in memory are given with
    /// [`Engine::with_payments`].
    ///
    /// ```
    /// use mianshen::{Engine, LedgerError};
    ///
    /// let engine = Engine::load("policies")?;
    /// let missing = engine.with_ledger_file("no/such/ledger.csv");
    /// assert!(matches!(missing, Err(LedgerError::Unreadable { .. })));
    /// # Ok::<(), mianshen::LoadError>(())
    /// ```
    pub fn with_ledger_file(self, path: impl AsRef<Path>) -> Result<Engine, LedgerError> {
        let ledger = Ledger::read(
            path.as_ref(),
            &self.set.program.ledger_ids,
            self.set.program.schema.key_type(),
        )?;
        Ok(self.holding(ledger))
    }

    /// The engine with `ledger`, read or built for this engine's program
    /// (its `ledger_ids`: a payment's id is its place among them).
    fn holding(mut self, ledger: Ledger) -> Engine {
        self.ledger = Some(std::sync::Arc::new(ledger));
        self
    }

    fn options(&self, as_of: Date, all: bool) -> Result<RunOptions, RunError> {
        let opts = RunOptions {
            as_of,
            all,
            ledger: self.ledger.clone(),
            profile: None,
        };
        opts.check_ledger(&self.set.program)?;
        Ok(opts)
    }

    /// The checked program (policies, schema).
    pub fn program(&self) -> &Program {
        &self.set.program
    }

    /// The policy set with its files' hashes.
    pub fn policy_set(&self) -> &PolicySet {
        &self.set
    }

    /// Builds a firm record from `(field name/title/alias, cell text)` pairs,
    /// read by the same rules as data files. An empty text is missing;
    /// `Err` holds every problem (an unknown name with a "did you mean", a
    /// value that does not read, a missing key).
    ///
    /// ```
    /// let engine = mianshen::Engine::load("policies")?;
    /// assert!(engine.firm(&[("uscc", "91420102MA4K2L3R0G"), ("企业规模", "小型")]).is_ok());
    /// let problems = engine.firm(&[("uscc", "91420102MA4K2L3R0G"), ("employes", "3")]).unwrap_err();
    /// assert!(problems[0].contains("did you mean `employees`"), "{problems:?}");
    /// # Ok::<(), mianshen::LoadError>(())
    /// ```
    pub fn firm(&self, values: &[(&str, &str)]) -> Result<Record, Vec<String>> {
        self.firm_on_row(1, values)
    }

    /// [`Engine::firm`] for one record of a batch: `row` names it in rejects
    /// (rows rise from record to record in [`Engine::run`]).
    ///
    /// ```
    /// let engine = mianshen::Engine::load("policies")?;
    /// let firm = engine.firm_on_row(7, &[("uscc", "91420102MA4K2L3R0G")]).expect("valid");
    /// assert_eq!(firm.row, 7);
    /// # Ok::<(), mianshen::LoadError>(())
    /// ```
    pub fn firm_on_row(&self, row: u64, values: &[(&str, &str)]) -> Result<Record, Vec<String>> {
        let values: Vec<(String, Input)> = values
            .iter()
            .map(|(k, v)| {
                let input = if v.trim().is_empty() {
                    Input::Missing
                } else {
                    Input::Text(v.to_string())
                };
                (k.to_string(), input)
            })
            .collect();
        crate::data::named::record(&self.set.program.schema, row, &values)
    }

    /// Evaluates one firm against every policy in force on `as_of`, every
    /// outcome included. Exclusive groups apply; budgets and limits see only
    /// this firm (use [`Engine::run`] for a batch).
    ///
    /// ```
    /// use mianshen::{Date, Engine, Outcome};
    ///
    /// let engine = Engine::load("policies")?;
    /// let firm = engine.firm(&[
    ///     ("uscc", "91420102MA4K2L3R0G"), ("region", "420102"), ("企业规模", "小型"),
    ///     ("employees", "25"), ("insured_months", "24"), ("layoff_rate", "3%"),
    ///     ("ui_premium_paid", "10万"), ("serious_dishonesty", "否"),
    /// ]).expect("valid values");
    /// let as_of = Date::parse_iso("2024-12-31").expect("a date");
    /// let wengang = engine
    ///     .evaluate(&firm, as_of)?
    ///     .into_iter()
    ///     .find(|d| d.policy == "wengang_2024")
    ///     .expect("in force");
    /// assert_eq!(wengang.outcome, Outcome::Eligible);
    /// assert_eq!(wengang.amount.map(|a| a.to_string()).as_deref(), Some("60000.00"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn evaluate(&self, firm: &Record, as_of: Date) -> Result<Vec<Decision>, RunError> {
        let result = self.run(std::slice::from_ref(firm), as_of, true)?;
        Ok(self.decisions(&result))
    }

    /// Evaluates one policy for one firm: outcome, amount and reasons, as a
    /// batch would give them before anything across firms (exclusive groups,
    /// limits and budgets need the other firms: use [`Engine::run`]).
    /// `Ok(None)` when the policy is unknown or not in force on `as_of`. It
    /// fails as [`Engine::run`] does: [`RunError::LedgerRequired`] when the
    /// set reads prior payments and the engine has no ledger,
    /// [`RunError::InvalidRecord`] for a record the schema's reader would
    /// not give.
    ///
    /// ```
    /// use mianshen::{Date, Engine, Outcome, Reason};
    ///
    /// let engine = Engine::load("policies")?;
    /// let firm = engine.firm(&[("uscc", "91420102MA4K2L3R0G")]).expect("valid");
    /// let as_of = Date::parse_iso("2024-12-31").expect("a date");
    /// let d = engine.evaluate_policy(&firm, "wengang_2024", as_of)?.expect("in force");
    /// assert_eq!(d.outcome, Outcome::Review);
    /// assert!(d.reasons.iter().any(|r| matches!(r, Reason::Missing(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn evaluate_policy(
        &self,
        firm: &Record,
        policy: &str,
        as_of: Date,
    ) -> Result<Option<Decision>, RunError> {
        let program = &self.set.program;
        self.options(as_of, true)?;
        valid::record(&program.schema, firm)?;
        let Some(p) = program
            .policy_index(policy)
            .and_then(|i| program.policies.get(i))
        else {
            return Ok(None);
        };
        if !p.in_force(as_of) {
            return Ok(None);
        }
        let mut scratch = crate::eval::expr::Scratch::default();
        scratch.firm(program);
        let payments = match &self.ledger {
            Some(ledger) => ledger.payments(&firm.key_text(program.schema.key)),
            None => &[],
        };
        scratch.payments(payments);
        let v = crate::eval::verdict(program, p, &firm.cells, as_of, &mut scratch, true);
        let amount = v.amount.map(cents);
        Ok(Some(Decision {
            key: firm.key(program.schema.key),
            policy: p.id.clone(),
            outcome: v.outcome,
            amount,
            funded: amount,
            reasons: crate::eval::reasons(p, &program.schema, &v, &firm.cells, |base| {
                crate::eval::why_from(program, p, &firm.cells, as_of, payments, base)
            }),
        }))
    }

    /// A batch run: evaluation and settlement across firms (section 7), by
    /// the command line's data rules: every record of a key found on more
    /// than one record is rejected (in [`RunResult::rejects`]) and neither
    /// evaluated nor paid. Records' rows must rise (they name records in
    /// rejects). Records are built by [`Engine::firm_on_row`]; one the
    /// schema's reader would not give (built by hand or by another policy
    /// set's engine: cells not one per field of the schema, a cell of
    /// another type, an empty key) fails the run with
    /// [`RunError::InvalidRecord`], never evaluated. `all` keeps ineligible
    /// decisions too. Amounts carry exactly two decimals, as decisions.csv
    /// and summary.csv write them. A failure is an error, never an empty
    /// result.
    ///
    /// ```
    /// use mianshen::{Date, Engine};
    ///
    /// let engine = Engine::load("policies")?;
    /// let a = engine.firm_on_row(1, &[("uscc", "91420102MA4K2L3R0G")]).expect("valid");
    /// let b = engine.firm_on_row(2, &[("uscc", "91420102MA4K2L3R0G")]).expect("valid");
    /// let result = engine.run(&[a, b], Date::parse_iso("2024-12-31").expect("a date"), false)?;
    /// assert_eq!(result.rejects.len(), 2, "both records of the key are rejected");
    /// assert!(result.firms.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run(&self, firms: &[Record], as_of: Date, all: bool) -> Result<RunResult, RunError> {
        let program = &self.set.program;
        let opts = self.options(as_of, all)?;
        valid::records(&program.schema, firms)?;
        let mut result = crate::batch::records::run(program, firms, &opts)?;
        in_cents(&mut result.firms, &mut result.summary);
        Ok(result)
    }

    /// A batch run over a data file (CSV, JSON Lines when it ends in
    /// `.jsonl`, the first worksheet of an Excel workbook when it ends in
    /// `.xlsx`, `.xlsm` or `.xls`), read exactly as `mianshen run` reads
    /// it: rows that cannot be read, and every row of a key on several rows,
    /// are in [`RunResult::rejects`] (in row order), the others evaluated
    /// and settled. A file that cannot be read at all is an error.
    ///
    /// ```
    /// use mianshen::{Date, Engine, RunError};
    ///
    /// let engine = Engine::load("policies")?;
    /// let as_of = Date::parse_iso("2024-12-31").expect("a date");
    /// let result = engine.run_file("policies/data/firms.csv", as_of, false)?;
    /// assert!(!result.rejects.is_empty() && !result.firms.is_empty());
    /// assert!(matches!(engine.run_file("no/such.csv", as_of, false), Err(RunError::Data(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run_file(
        &self,
        path: impl AsRef<Path>,
        as_of: Date,
        all: bool,
    ) -> Result<RunResult, RunError> {
        let program = &self.set.program;
        let mut data = crate::data::stream::Stream::open_path(
            path.as_ref(),
            &program.schema,
            &crate::data::ReadOptions::default(),
        )?;
        let mut rejects = Vec::new();
        let batch = crate::batch::stream(
            program,
            &mut data,
            self.options(as_of, all)?,
            None,
            |r| {
                rejects.push(r.clone());
                Ok(())
            },
            |_| {},
        )?;
        let settled = batch.finish()?;
        let mut result = RunResult {
            firms: settled.firms()?,
            summary: settled.summary().to_vec(),
            rejects,
        };
        in_cents(&mut result.firms, &mut result.summary);
        Ok(result)
    }

    /// Flattens a run's result into decisions, sorted by key then policy
    /// (see [`Engine::run_file`] for an example).
    pub fn decisions(&self, result: &RunResult) -> Vec<Decision> {
        self.firm_decisions(&result.firms)
    }

    fn firm_decisions(&self, firms: &[crate::settle::Firm]) -> Vec<Decision> {
        let mut out = Vec::new();
        for f in firms {
            for p in &f.pairs {
                let mut reasons = p.reasons.clone();
                if let (Outcome::Eligible, Some(amount), Some(funded)) =
                    (p.outcome, p.amount, p.funded)
                {
                    if funded < amount {
                        reasons.push(Reason::Budget {
                            cut: amount - funded,
                        });
                    }
                }
                out.push(Decision {
                    key: f.key.clone(),
                    policy: self
                        .set
                        .program
                        .policies
                        .get(p.policy as usize)
                        .map(|x| x.id.clone())
                        .unwrap_or_default(),
                    outcome: p.outcome,
                    amount: p.amount,
                    funded: p.funded,
                    reasons,
                });
            }
        }
        out
    }
}

/// A run's amounts, funded amounts, cuts and totals with exactly two
/// decimals (LANGUAGE.md section 8): settlement leaves some whole
/// (`500000`), others in cents (`490000.00`).
fn in_cents(firms: &mut [crate::settle::Firm], summary: &mut [crate::PolicySummary]) {
    for pair in firms.iter_mut().flat_map(|f| f.pairs.iter_mut()) {
        for money in [&mut pair.amount, &mut pair.funded] {
            *money = money.map(cents);
        }
        for reason in &mut pair.reasons {
            if let Reason::Combined { cut, .. } | Reason::Budget { cut } = reason {
                *cut = cents(*cut);
            }
        }
    }
    for s in summary {
        for money in [&mut s.amount, &mut s.funded, &mut s.budget] {
            *money = money.map(cents);
        }
    }
}
