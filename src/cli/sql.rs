//! `mianshen sql DIR --table T`: the policy set as PostgreSQL.

use std::path::Path;

use super::*;
use crate::diag::{SourceText, Sources};
use crate::sql::{self, SqlOptions};

/// What `mianshen sql` was given.
pub struct SqlArgs<'a> {
    pub dir: &'a Path,
    pub dialect: &'a str,
    pub table: &'a str,
    pub ledger_table: Option<&'a str>,
    pub as_of: Option<&'a str>,
    pub all: bool,
    /// Print the table definitions and a loader instead.
    pub ddl: bool,
    pub json_errors: bool,
}

/// `mianshen sql DIR --dialect postgres --table T [--ledger-table L] [--as-of D] [--all] [--ddl]`
pub fn sql(a: &SqlArgs<'_>) -> u8 {
    let spark = match a.dialect {
        "postgres" => false,
        "spark" => true,
        other => {
            eprintln!("error: `--dialect {other}` is not known: `postgres` or `spark`");
            return EXIT_USAGE;
        }
    };
    let as_of = match a.as_of.map(parse_as_of).transpose() {
        Ok(d) => d,
        Err(code) => return code,
    };
    let set = match load(a.dir, a.json_errors) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if a.ddl {
        let schema = &set.program.schema;
        print!(
            "{}",
            if spark {
                sql::ddl::spark(schema, a.table, a.ledger_table)
            } else {
                sql::ddl::postgres(schema, a.table, a.ledger_table)
            }
        );
        return EXIT_OK;
    }
    let sources = sources(&set, a.dir);
    let opts = SqlOptions {
        table: a.table,
        ledger_table: a.ledger_table,
        as_of,
        all: a.all,
    };
    let script = if spark {
        sql::spark(&set.program, &sources, &opts)
    } else {
        sql::postgres(&set.program, &sources, &opts)
    };
    match script {
        Ok(text) => {
            print!("{text}");
            EXIT_OK
        }
        Err(diags) => {
            print_diags(&diags, a.json_errors);
            EXIT_POLICY
        }
    }
}

/// The set's policy files again, for diagnostics at their lines (a span's
/// file is its place among them, the schema being first in `files`).
pub(super) fn sources(set: &crate::load::PolicySet, dir: &Path) -> Sources {
    Sources {
        files: set
            .files
            .iter()
            .skip(1)
            .map(|f| {
                let text = std::fs::read_to_string(dir.join(&f.path)).unwrap_or_default();
                SourceText::new(dir.join(&f.path).to_string_lossy(), text)
            })
            .collect(),
    }
}
