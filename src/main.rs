//! The `mianshen` command line. Only this file renders diagnostics and sets
//! exit statuses: 0 done, 1 policy errors (or failed test cases), 2 bad
//! command line or unreadable file.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use mianshen::cli;

#[derive(Parser)]
#[command(
    name = "mianshen",
    version,
    about = "免申即享: match enterprise subsidy policies against firm data"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum EncodingArg {
    Auto,
    Utf8,
    Gb18030,
}

/// How a run is published (`publish`, `run --publish`).
#[derive(clap::Args)]
struct PublishOpts {
    /// Where to write (default: OUTDIR/publish)
    #[arg(long, value_name = "DIR")]
    to: Option<PathBuf>,
    /// Hide these characters of the credit code in the notice lists,
    /// 1-based FROM-TO: `--mask-key 7-14` shows 914201********3R0G
    #[arg(long, value_name = "FROM-TO")]
    mask_key: Option<String>,
    /// The notice period in days (公示期)
    #[arg(long, default_value_t = 7)]
    notice_days: u32,
    /// The day the lists are published, YYYY-MM-DD (公示日期; required:
    /// the same run published twice gives the same files, so the date is
    /// given, never read from the clock)
    #[arg(long, value_name = "YYYY-MM-DD")]
    date: Option<String>,
    /// Order each list by credit code instead of by amount (largest first)
    #[arg(long)]
    by_key: bool,
    /// The encoding of the CSV files for people
    #[arg(long = "csv-encoding", value_enum, default_value = "utf8-bom")]
    csv_encoding: PeopleCsvEncoding,
    /// The most rows per worksheet before a list continues on the next (Excel's limit)
    #[arg(long, hide = true, default_value_t = 1_048_576)]
    sheet_rows: u32,
}

#[derive(Clone, Copy, ValueEnum)]
enum PeopleCsvEncoding {
    Utf8Bom,
    Gb18030,
}

fn publish_args(
    p: PublishOpts,
    policies: Option<PathBuf>,
    data: &[String],
    timings: bool,
) -> cli::PublishArgs {
    cli::PublishArgs {
        timings,
        policies,
        data: inputs(data),
        to: p.to,
        mask_key: p.mask_key,
        notice_days: p.notice_days,
        date: p.date,
        order_by_key: p.by_key,
        gb18030: matches!(p.csv_encoding, PeopleCsvEncoding::Gb18030),
        sheet_rows: p.sheet_rows,
    }
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Record the payments of a run (its eligible decisions with a funded
    /// amount) in the ledger, once: the run is verified first, the same run
    /// is never added twice, and the ledger is replaced whole or not at all.
    Add {
        /// The results folder of the run (`mianshen run … --out DIR`)
        out: PathBuf,
        /// The ledger file (created when absent)
        #[arg(long, value_name = "FILE")]
        ledger: PathBuf,
        /// The date the money is paid, YYYY-MM-DD (after the run's as_of)
        #[arg(long)]
        paid_on: String,
        /// Allow paying a firm again under a policy it was already paid under
        #[arg(long)]
        allow_repeat: bool,
    },
    /// Read a whole ledger: every row must read; prints totals by policy and year.
    Check {
        /// The ledger file
        ledger: PathBuf,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Check a policy set: parse, resolve names, check types. Exit 1 on errors.
    Check {
        /// The policy set directory (schema.yaml and *.policy files)
        dir: PathBuf,
        /// How to print errors
        #[arg(long, value_enum, default_value = "human")]
        error_format: Format,
    },
    /// Evaluate every policy in force against every firm of a data file.
    Run {
        dir: PathBuf,
        /// The firm data, `[SOURCE=]FILE`: CSV (UTF-8 or GB18030), JSON Lines
        /// (.jsonl) or Excel (.xlsx, .xls); repeat for several departments' files,
        /// joined per firm on the key
        #[arg(long, required = true, value_name = "[SOURCE=]FILE")]
        data: Vec<String>,
        /// The reference date, YYYY-MM-DD
        #[arg(long)]
        as_of: String,
        /// Where to write the result files
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// List ineligible decisions too
        #[arg(long)]
        all: bool,
        /// The data file's encoding
        #[arg(long, value_enum, default_value = "auto")]
        encoding: EncodingArg,
        /// Worker threads (default: all cores); results are identical for any count
        #[arg(long)]
        threads: Option<usize>,
        /// Memory to hold before spilling to disk beside the results, in MiB
        /// (the run needs about 100 MiB more); results are identical for any value
        #[arg(long, default_value_t = 768, value_parser = clap::value_parser!(u32).range(64..))]
        memory: u32,
        /// How to print policy errors
        #[arg(long, value_enum, default_value = "human")]
        error_format: Format,
        /// Print how long each phase took (on standard error)
        #[arg(long)]
        timings: bool,
        /// The payments already made (`key,policy,amount,paid_on`), which
        /// `paid` and `last_paid` read
        #[arg(long, value_name = "FILE")]
        ledger: Option<PathBuf>,
        /// Publish the results when the run is done (as `mianshen publish OUTDIR`)
        #[arg(long)]
        publish: bool,
        #[command(flatten)]
        publishing: PublishOpts,
    },
    /// Run the test cases in DIR/tests/*.yaml. Exit 1 if any case fails.
    Test {
        dir: PathBuf,
        /// How to print policy errors
        #[arg(long, value_enum, default_value = "human")]
        error_format: Format,
    },
    /// Explain one firm's decisions step by step.
    Explain {
        dir: PathBuf,
        /// The firm data, `[SOURCE=]FILE`; repeat for several departments'
        /// files, joined per firm as `run` joins them
        #[arg(long, required = true, value_name = "[SOURCE=]FILE")]
        data: Vec<String>,
        /// The firm's key (e.g. its credit code)
        #[arg(long)]
        firm: String,
        #[arg(long)]
        as_of: String,
        /// Only this policy
        #[arg(long)]
        policy: Option<String>,
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
        #[arg(long, value_enum, default_value = "auto")]
        encoding: EncodingArg,
        /// The payments already made (`key,policy,amount,paid_on`), which
        /// `paid` and `last_paid` read
        #[arg(long, value_name = "FILE")]
        ledger: Option<PathBuf>,
    },
    /// Replay a run from its manifest and confirm the results are byte-identical.
    Verify {
        /// The result directory of an earlier `mianshen run`
        out: PathBuf,
        /// The policy set, if it has moved since the run
        #[arg(long)]
        policies: Option<PathBuf>,
        /// The data files, if they have moved since the run: all of them, in
        /// the run's order
        #[arg(long, value_name = "[SOURCE=]FILE")]
        data: Vec<String>,
        /// The ledger, if it has moved since the run
        #[arg(long, value_name = "FILE")]
        ledger: Option<PathBuf>,
    },
    /// Publish a finished run (公示): notice lists, coverage figures (底数),
    /// review work lists per department, firm totals (Excel and CSV), and a
    /// self-contained HTML report, all reconciled with summary.csv.
    Publish {
        /// The results folder of the run (`mianshen run … --out DIR`)
        out: PathBuf,
        /// The policy set, if it has moved since the run
        #[arg(long)]
        policies: Option<PathBuf>,
        /// The data files, if they have moved since the run: all of them, in
        /// the run's order
        #[arg(long, value_name = "[SOURCE=]FILE")]
        data: Vec<String>,
        #[command(flatten)]
        publishing: PublishOpts,
        /// Print how long each phase took (on standard error)
        #[arg(long)]
        timings: bool,
    },
    /// The ledger of payments made: record a run's payments, check a ledger.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// Write a synthetic firm file for a policy set's schema (seeded).
    Generate {
        dir: PathBuf,
        /// Number of firms
        #[arg(long, default_value_t = 1000)]
        rows: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Vary value formats as Excel exports do
        #[arg(long)]
        messy: bool,
        /// Fraction of deliberately bad rows (0 to 1)
        #[arg(long, default_value_t = 0.0)]
        bad_rows: f64,
        /// Output file (default: standard output); with --split-by-source, the folder
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Write one file per department (`source:` in schema.yaml), each with
        /// the key column, into the folder given by -o
        #[arg(long)]
        split_by_source: bool,
        /// With --split-by-source: `[SOURCE=]FORMAT`, FORMAT one of csv, gbk,
        /// jsonl, xlsx; without SOURCE, for every department not named
        /// (default: a mix of all four)
        #[arg(long, value_name = "[SOURCE=]FORMAT", requires = "split_by_source")]
        format: Vec<String>,
    },
}

fn encoding(e: EncodingArg) -> mianshen::data::Encoding {
    match e {
        EncodingArg::Auto => mianshen::data::Encoding::Auto,
        EncodingArg::Utf8 => mianshen::data::Encoding::Utf8,
        EncodingArg::Gb18030 => mianshen::data::Encoding::Gb18030,
    }
}

fn inputs(args: &[String]) -> Vec<mianshen::data::Input> {
    args.iter()
        .map(|a| mianshen::data::Input::parse(a))
        .collect()
}

fn json(f: Format) -> bool {
    matches!(f, Format::Json)
}

/// A panic inside the workbook reader is caught and reported as a file
/// that cannot be read; the default message of the panic would only
/// confuse, so it is not printed. Every other panic prints as usual.
fn quiet_caught_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !mianshen::data::reading_workbook() {
            default(info);
        }
    }));
}

/// A large run reads many sorted runs from disk at once (up to 64 per sort):
/// take the most open files the system allows, as other tools that merge
/// on disk do.
fn raise_open_file_limit() {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: both calls read or write a struct we own.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0
                && limit.rlim_cur < limit.rlim_max
            {
                limit.rlim_cur = limit.rlim_max;
                let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            }
        }
    }
}

fn main() -> ExitCode {
    // Like other Unix tools, stop quietly when the reader of our output goes
    // away (`mianshen test policies | head`) instead of failing to print.
    #[cfg(unix)]
    // SAFETY: restoring the default action of a signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    raise_open_file_limit();
    quiet_caught_panics();
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Check { dir, error_format } => cli::check(&dir, json(error_format)),
        Command::Run {
            dir,
            data,
            as_of,
            out,
            all,
            encoding: enc,
            threads,
            memory,
            error_format,
            timings,
            ledger,
            publish,
            publishing,
        } => {
            if publish && publishing.date.is_none() {
                return ExitCode::from(cli::publish_needs_date());
            }
            let code = cli::run(&cli::RunArgs {
                dir,
                data: inputs(&data),
                as_of,
                out: out.clone(),
                all,
                encoding: encoding(enc),
                threads,
                memory_mib: memory as usize,
                json_errors: json(error_format),
                timings,
                quiet: false,
                ledger,
            });
            if code == cli::EXIT_OK && publish {
                cli::publish(&out, &publish_args(publishing, None, &[], timings))
            } else {
                code
            }
        }
        Command::Publish {
            out,
            policies,
            data,
            publishing,
            timings,
        } => cli::publish(&out, &publish_args(publishing, policies, &data, timings)),
        Command::Test { dir, error_format } => cli::test(&dir, json(error_format)),
        Command::Explain {
            dir,
            data,
            firm,
            as_of,
            policy,
            format,
            encoding: enc,
            ledger,
        } => cli::explain(&cli::ExplainArgs {
            dir: &dir,
            data: &inputs(&data),
            firm: &firm,
            as_of: &as_of,
            policy: policy.as_deref(),
            json: json(format),
            encoding: encoding(enc),
            ledger: ledger.as_deref(),
        }),
        Command::Verify {
            out,
            policies,
            data,
            ledger,
        } => cli::verify(&out, policies.as_deref(), &inputs(&data), ledger.as_deref()),
        Command::Ledger(LedgerCommand::Add {
            out,
            ledger,
            paid_on,
            allow_repeat,
        }) => cli::ledger_add(&out, &ledger, &paid_on, allow_repeat),
        Command::Ledger(LedgerCommand::Check { ledger }) => cli::ledger_check(&ledger),
        Command::Generate {
            dir,
            rows,
            seed,
            messy,
            bad_rows,
            output,
            split_by_source,
            format,
        } => cli::generate(&cli::GenerateArgs {
            dir: &dir,
            rows,
            seed,
            messy,
            bad_rows,
            output: output.as_deref(),
            split: split_by_source.then_some(&format[..]),
        }),
    };
    ExitCode::from(code)
}
