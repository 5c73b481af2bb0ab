//! mianshen: the engine that pays enterprise subsidies without an application
//! (免申即享).
//!
//! A payment system loads a checked policy set once ([`Engine::load`]) and
//! runs batches of firms through it ([`Engine::run`], [`Engine::run_file`]).
//! A run applies exactly the data rules of `mianshen run`: unreadable rows
//! and every row of a repeated key come back as [`Reject`]s, never paid; each
//! decision carries its [`Reason`]s by kind; amounts are [`Decimal`]s with
//! exactly two decimals, as decisions.csv writes them. A set whose policies
//! read prior payments (`paid`, `last_paid`) needs them
//! ([`Engine::with_ledger_file`], [`Engine::with_payments`]). Records built
//! in memory come from [`Engine::firm_on_row`]; one the schema's reader would
//! not give is [`RunError::InvalidRecord`], never evaluated. Every failure
//! is a typed error ([`LoadError`], [`RunError`], [`LedgerError`],
//! [`PaymentError`]), never an empty result. Each stage's error
//! is also a [`miette::Diagnostic`] with a code of its own
//! (`mianshen::data::unreadable`, `mianshen::run::rows_out_of_order`, …;
//! a wrapped error keeps its stage's code), and a policy set that does not
//! check gives every problem found as a related diagnostic.
//!
//! ```
//! use mianshen::{Date, Engine, Outcome, Reason};
//!
//! let engine = Engine::load("policies")?;
//! let as_of = Date::parse_iso("2024-12-31").expect("a date");
//! let result = engine.run_file("policies/data/firms.csv", as_of, false)?;
//! println!("{} rows rejected", result.rejects.len());
//! for d in engine.decisions(&result) {
//!     if d.outcome == Outcome::Review {
//!         for r in &d.reasons {
//!             if let Reason::Missing(fields) = r {
//!                 println!("{} {}: ask for {}", d.key, d.policy, fields.join(", "));
//!             }
//!         }
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Inside, one module per stage of the pipeline: `syntax` (parse) → `check`
//! (names and types, compiled to a `program`) → `data` (typed rows,
//! rejects) → `eval` (per firm and policy) → `settle` (across firms) →
//! `report` (the result files), with `batch` running the stages over a file
//! in bounded memory. The modules the binary, the tests, the benchmark and
//! the fuzz targets reach into are public but hidden from the
//! documentation: they are not an API and change without notice. The rest
//! (`check`, `report`, `engine`, `ops`, `width`) are the crate's own.

// Diagnostics travel on the error path only, and rarely: boxing them buys nothing.
#![allow(clippy::result_large_err)]
// No input may crash the engine: nothing that can panic on an input path.
// Each exception is a local `allow` with its reason.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

// the test oracle shared with tests/ names the crate as they do
#[cfg(test)]
extern crate self as mianshen;

/// The plain in-memory run the integration tests also hold the engine to.
#[cfg(test)]
#[path = "../tests/common/oracle.rs"]
mod oracle;

#[cfg(test)]
mod test_rng;

#[doc(hidden)]
pub mod batch;
#[doc(hidden)]
pub mod cases;
pub(crate) mod check;
#[doc(hidden)]
pub mod cli;
#[doc(hidden)]
pub mod data;
#[doc(hidden)]
pub mod date;
#[doc(hidden)]
pub mod diag;
pub(crate) mod engine;
#[doc(hidden)]
pub mod eval;
#[doc(hidden)]
pub mod explain;
#[doc(hidden)]
pub mod fmt;
#[doc(hidden)]
pub mod lint;
#[doc(hidden)]
pub mod load;
pub(crate) mod ops;
pub mod payments;
#[doc(hidden)]
pub mod program;
#[doc(hidden)]
pub mod publish;
#[doc(hidden)]
pub mod record;
pub(crate) mod report;
#[doc(hidden)]
pub mod schema;
#[doc(hidden)]
pub mod select;
#[doc(hidden)]
pub mod settle;
/// `mianshen sql`: a policy set compiled to PostgreSQL.
pub mod sql;
#[doc(hidden)]
pub mod suggest;
#[doc(hidden)]
pub mod syntax;
pub(crate) mod width;

pub use batch::output::PolicySummary;
pub use batch::records::RunResult;
pub use batch::RunError;
pub use data::join::Conflict;
pub use data::ledger::LedgerError;
pub use data::{DataError, Reject};
pub use date::Date;
pub use diag::{render_human, Diagnostic};
pub use engine::{
    Decision, Engine, FileCounts, FileReject, FilesResult, PaymentError, PriorPayment, Source,
};
pub use eval::{Outcome, Reason};
pub use load::LoadError;
pub use record::{Cell, Record};
/// The exact decimal amounts are held in.
pub use rust_decimal::Decimal;
pub use settle::{BudgetNote, Firm, Pair};
