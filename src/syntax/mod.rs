//! Stage 1: policy source text to syntax tree ([`ast`]).

pub mod ast;
mod parse;
mod scan;
mod slips;
mod wording;

pub use parse::{declared_names, parse_file};
pub use slips::data_file_date;
pub use wording::{lex_map, Lex, KEYWORDS};
