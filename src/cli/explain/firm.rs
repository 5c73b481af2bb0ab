//! The firm `explain` is asked about: its record from one file, or joined
//! from several as `run` joins them, with where each value came from.

use std::path::Path;

use super::*;
use crate::explain::sources::Sources;
use crate::record::Record;

/// The data files opened, in the order given.
pub(super) fn open(
    program: &crate::program::Program,
    data: &[Input],
    opts: &crate::data::ReadOptions,
) -> Result<Vec<crate::data::stream::Stream>, crate::data::DataError> {
    data.iter()
        .map(|i| crate::data::stream::Stream::open_path(&i.path, &program.schema, opts))
        .collect()
}

/// The firm's record in one file, found by streaming it; `Err` is the exit
/// status, its reason printed.
pub(super) fn in_file(
    program: &crate::program::Program,
    data: &Path,
    opts: &crate::data::ReadOptions,
    firm: &str,
) -> Result<(Record, Option<Sources>), u8> {
    let rows = crate::data::find_key(data, &program.schema, opts, firm).map_err(|e| {
        eprintln!("error: {e}");
        EXIT_USAGE
    })?;
    match rows.as_slice() {
        [] => {
            eprintln!("error: 数据中没有此企业 (no firm with key `{firm}` in the data)");
            Err(EXIT_USAGE)
        }
        [(_, Ok(record))] => Ok((record.clone(), None)),
        _ => {
            eprintln!("企业 `{firm}` 未参与评估: 其数据行被拒 (firm `{firm}` was not evaluated: its row was rejected)");
            for r in rows.iter().filter_map(|(_, r)| r.as_ref().err()).flatten() {
                eprintln!("  {}", rejected(r));
            }
            Err(EXIT_USAGE)
        }
    }
}

/// The firm's record joined from several files, with its rows and the
/// values the files disagreed on; `Err` is the exit status, its reason
/// printed (every rejected row named with its file).
pub(super) fn in_files(
    program: &crate::program::Program,
    data: &[Input],
    opts: &crate::data::ReadOptions,
    firm: &str,
) -> Result<(Record, Option<Sources>), u8> {
    let fail = |e: &dyn std::fmt::Display| {
        eprintln!("error: {e}");
        EXIT_USAGE
    };
    let mut streams = open(program, data, opts).map_err(|e| fail(&e))?;
    let labels = crate::data::Labels::of(data);
    let files = crate::batch::joined::DataFiles::new(&mut streams, &labels);
    let found = crate::batch::joined::find_firm(program, files, firm).map_err(|e| fail(&e))?;
    let Some(crate::batch::joined::Found { joined, rows }) = found else {
        eprintln!(
            "error: 数据中没有此企业 (no firm with key `{firm}` in the {} data files)",
            data.len()
        );
        return Err(EXIT_USAGE);
    };
    let Some(record) = joined.record else {
        eprintln!("企业 `{firm}` 未参与评估: 其数据行被拒 (firm `{firm}` was not evaluated: its rows were rejected)");
        for (file, r) in &joined.rejects {
            let name = labels.names.get(*file as usize).map_or("", String::as_str);
            eprintln!("  `{name}` {}", rejected(r));
        }
        return Err(EXIT_USAGE);
    };
    let files = crate::data::join::Files {
        names: &labels.names,
        sources: &labels.sources,
    };
    let told = crate::explain::sources::sources(&program.schema, &files, &rows, &joined.conflicts);
    Ok((record, Some(told)))
}

/// A rejected row of the firm, as rejects.csv holds it (the reason as
/// written there).
fn rejected(r: &crate::data::Reject) -> String {
    format!(
        "第 {} 行, 列 `{}`, 值 `{}`: {}",
        r.row, r.column, r.value, r.reason
    )
}
