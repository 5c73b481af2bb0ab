//! `mianshen explain`: one firm's decisions step by step, from one data
//! file or several departments' files joined as `run` joins them.

mod firm;

use std::path::Path;

use super::*;
use crate::data::Input;

/// What `mianshen explain` is asked.
pub struct ExplainArgs<'a> {
    pub dir: &'a Path,
    /// One file, or several joined per firm.
    pub data: &'a [Input],
    pub firm: &'a str,
    pub as_of: &'a str,
    /// Only this policy.
    pub policy: Option<&'a str>,
    pub json: bool,
    pub encoding: crate::data::Encoding,
    /// The payments already made (`--ledger`).
    pub ledger: Option<&'a Path>,
}

/// `mianshen explain …`
pub fn explain(args: &ExplainArgs<'_>) -> u8 {
    let ExplainArgs {
        dir,
        data,
        firm,
        as_of,
        policy,
        json,
        encoding,
        ledger,
    } = *args;
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
                eprintln!("error: {}", program.no_such_policy(id));
                return EXIT_USAGE;
            }
        },
    };
    let opts = crate::data::ReadOptions { encoding };
    if let Err(code) = data_given(data) {
        return code;
    }
    let found = match data {
        [] => return EXIT_USAGE,
        [one] => firm::in_file(program, &one.path, &opts, firm),
        several => firm::in_files(program, several, &opts, firm),
    };
    let (record, sources) = match found {
        Ok(f) => f,
        Err(code) => return code,
    };
    let ledger = match ledger.map(|l| {
        crate::data::ledger::Ledger::read(l, &program.ledger_ids, program.schema.key_type())
    }) {
        None => None,
        Some(Ok(l)) => Some(std::sync::Arc::new(l)),
        Some(Err(e)) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let run_opts = crate::batch::RunOptions {
        as_of,
        all: true,
        ledger: ledger.clone(),
        profile: None,
    };
    if let Err(e) = run_opts.check_ledger(program) {
        eprintln!("error: {e}");
        return EXIT_USAGE;
    }
    // only `limit` and budgets need the other firms: then the whole file is
    // run as `mianshen run` runs it (streamed, spilling), and only this
    // firm's decisions are read back
    let across = program.policies.iter().enumerate().any(|(i, p)| {
        only.is_none_or(|o| o == i) && p.in_force(as_of) && crate::settle::across_firms(p)
    });
    let (decisions, summary) = if across {
        match run_whole(program, data, &opts, run_opts, firm) {
            Ok(found) => found,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_USAGE;
            }
        }
    } else {
        match crate::batch::records::run(program, std::slice::from_ref(&record), &run_opts) {
            Ok(mut run) => (run.firms.pop(), run.summary),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_USAGE;
            }
        }
    };
    let payments = ledger.as_ref().map_or(&[][..], |l| {
        l.payments(&record.key_text(program.schema.key))
    });
    let mut e = crate::explain::explain(
        program,
        &record,
        decisions.as_ref(),
        &summary,
        as_of,
        only,
        payments,
    );
    e.sources = sources;
    if json {
        println!("{}", serde_json::to_string_pretty(&e).unwrap_or_default());
    } else {
        print!("{}", crate::explain::render(&e));
    }
    EXIT_OK
}

/// Runs every firm of `data`, joined as `run` joins several files
/// (spilling into a scratch folder, removed after), and reads back the
/// decisions of `firm` and the totals.
fn run_whole(
    program: &crate::program::Program,
    data: &[Input],
    opts: &crate::data::ReadOptions,
    run_opts: crate::batch::RunOptions,
    firm: &str,
) -> Result<
    (
        Option<crate::settle::Firm>,
        Vec<crate::batch::output::PolicySummary>,
    ),
    crate::batch::RunError,
> {
    let mut streams = firm::open(program, data, opts)?;
    let scratch = Scratch::new()?;
    let spill = Some(crate::batch::Spill {
        dir: scratch.0.clone(),
        memory: crate::batch::Memory::within(crate::batch::DEFAULT_MEMORY),
    });
    let labels = crate::data::Labels::of(data);
    let files = crate::batch::joined::DataFiles::new(&mut streams, &labels);
    let (batch, _) = crate::batch::joined::stream_files(
        program,
        files,
        run_opts,
        spill,
        |_, _| Ok(()),
        |_| Ok(()),
        |_| {},
    )?;
    let settled = batch.finish()?;
    Ok((settled.firm(firm)?, settled.summary().to_vec()))
}

/// A scratch folder of this process, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new() -> std::io::Result<Scratch> {
        let dir = std::env::temp_dir().join(format!("mianshen-explain-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
