//! `mianshen explain`: one firm's decisions step by step.

use std::path::Path;

use super::*;

/// `mianshen explain …`
pub fn explain(
    dir: &Path,
    data: &Path,
    firm: &str,
    as_of: &str,
    policy: Option<&str>,
    json: bool,
    encoding: crate::data::Encoding,
) -> u8 {
    let as_of = match parse_as_of(as_of) {
        Ok(d) => d,
        Err(c) => return c,
    };
    let set = match load(dir, json) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let program = &set.program;
    let only = match policy {
        None => None,
        Some(id) => match program.policy_index(id) {
            Some(i) => Some(i),
            None => {
                let ids = || program.policies.iter().map(|p| p.id.as_str());
                let starting: Vec<String> = ids()
                    .filter(|p| p.starts_with(id))
                    .map(|p| format!("`{p}`"))
                    .collect();
                let help = match crate::suggest::closest(id, ids()) {
                    Some(s) => format!(" (did you mean `{s}`?)"),
                    None if !starting.is_empty() => {
                        format!(" (did you mean {}?)", starting.join(" or "))
                    }
                    None => String::new(),
                };
                eprintln!("error: no policy `{id}` in `{}`{help}", dir.display());
                return EXIT_USAGE;
            }
        },
    };
    let data = match crate::data::read(
        data,
        &program.schema,
        &crate::data::ReadOptions { encoding },
    ) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let Some(record) = data
        .records
        .iter()
        .find(|r| r.key(program.schema.key) == firm)
    else {
        let rows: Vec<&crate::data::Reject> =
            data.rejects.iter().filter(|r| r.value == firm).collect();
        if rows.is_empty() {
            eprintln!("error: no firm with key `{firm}` in the data");
        } else {
            eprintln!("firm `{firm}` was not evaluated: its row was rejected");
            for r in data
                .rejects
                .iter()
                .filter(|r| rows.iter().any(|x| x.row == r.row))
            {
                eprintln!(
                    "  row {}, column `{}`, value `{}`: {}",
                    r.row, r.column, r.value, r.reason
                );
            }
        }
        return EXIT_USAGE;
    };
    let run = match crate::batch::records::run(
        program,
        &data.records,
        &crate::batch::RunOptions { as_of, all: true },
    ) {
        Ok(run) => run,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let e = crate::explain::explain(program, record, &run, as_of, only);
    if json {
        println!("{}", serde_json::to_string_pretty(&e).unwrap_or_default());
    } else {
        print!("{}", crate::explain::render(&e));
    }
    EXIT_OK
}
