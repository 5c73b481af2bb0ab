//! mianshen: the engine that pays enterprise subsidies without an application
//! (免申即享).
//!
//! The pipeline, one module per stage: [`syntax`] (parse) → [`check`]
//! (names and types, compiled to a program) → [`data`] (typed rows, rejects)
//! → [`eval`] (per firm and policy) → [`settle`] (across firms) → [`report`].

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

pub mod batch;
pub mod cases;
pub mod check;
pub mod cli;
pub mod data;
pub mod date;
pub mod diag;
pub mod engine;
pub mod eval;
pub mod explain;
pub mod generate;
pub mod load;
pub mod program;
pub mod record;
pub mod report;
pub mod schema;
pub mod settle;
pub mod suggest;
pub mod syntax;

pub use date::Date;
pub use engine::{Decision, Engine};
pub use eval::Outcome;
