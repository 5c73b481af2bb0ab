//! The `mianshen` command line. Only this file renders diagnostics and sets
//! exit statuses: 0 done, 1 policy errors (or failed test cases), 2 bad
//! command line or unreadable file.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use mianshen::cli;

// The synthetic-data generator is the binary's, not the engine library's.
mod generate;

/// Exit statuses, shown under every command's help.
const EXIT_CODES: &str = "退出码 (exit status):
  0  完成 (done; a run with rejected rows is still done)
  1  政策集有错误、测试用例失败、lint 有警告且 --deny warnings、fmt --check 发现需要格式化的文件
     (policy errors, a failed case, denied warnings, a file fmt would change)
  2  命令行有误或文件无法读取 (a bad command line or an unreadable file)";

#[derive(Parser)]
#[command(
    name = "mianshen",
    version,
    about = "免申即享:用政策规则匹配企业数据 (match enterprise subsidy policies against firm data)",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// 给人看的文字 (text for people)
    Human,
    /// 给程序读的 JSON (JSON for programs)
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum TestFormatArg {
    /// 逐条列出,终端上 PASS/FAIL 着色 (case by case, coloured on a terminal)
    Human,
    /// JUnit XML,供 CI 系统读取 (JUnit XML for CI systems)
    Junit,
}

#[derive(Clone, Copy, ValueEnum)]
enum Deny {
    /// 有任何警告时退出码为 1 (exit 1 on any warning)
    Warnings,
}

#[derive(Clone, Copy, ValueEnum)]
enum EncodingArg {
    /// 自动识别 UTF-8 或 GB18030/GBK (detect UTF-8 or GB18030/GBK)
    Auto,
    /// UTF-8
    Utf8,
    /// GB18030(含 GBK,中文办公软件导出的编码) (GB18030, GBK included)
    #[value(alias = "gbk", alias = "GBK", alias = "GB18030")]
    Gb18030,
}

/// How a run is published (`publish`, `run --publish`).
#[derive(clap::Args)]
struct PublishOpts {
    /// 写到哪个目录,默认 OUTDIR/publish (where to write; default: OUTDIR/publish)
    #[arg(long, value_name = "DIR")]
    to: Option<PathBuf>,
    /// 公示名单中遮盖信用代码的第几位到第几位,如 `--mask-key 7-14` 显示 914201********3R0G
    /// (hide these characters of the credit code in the notice lists, 1-based FROM-TO)
    #[arg(long, value_name = "FROM-TO")]
    mask_key: Option<String>,
    /// 公示期天数,至少 1 天 (the notice period in days, at least 1)
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..))]
    notice_days: u32,
    /// 公示日期,如 2025-01-06,必须给出:不读系统时钟,同一次结果发布两次文件相同
    /// (the day the lists are published, required: never read from the clock,
    /// so publishing the same run twice gives the same files)
    #[arg(long, value_name = "YYYY-MM-DD")]
    date: Option<String>,
    /// 名单按信用代码排序,不按金额从大到小 (order each list by credit code instead of by amount)
    #[arg(long)]
    by_key: bool,
    /// 给人看的 CSV 文件的编码:带 BOM 的 UTF-8 或 GB18030 (the encoding of the CSV files for people)
    #[arg(long = "csv-encoding", value_enum, default_value = "utf8-bom")]
    csv_encoding: PeopleCsvEncoding,
    /// 每个工作表最多行数,超过则续到下一个表 (the most rows per worksheet; Excel's limit)
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
    /// 把一次运行的兑付记入台账,只记一次 (record a run's payments in the ledger, once)
    ///
    /// 先核验这次运行,同一次运行不会记两次,台账整体替换或完全不变。
    /// The run is verified first, the same run is never added twice, and the
    /// ledger is replaced whole or not at all.
    #[command(after_help = EXIT_CODES)]
    Add {
        /// 这次运行的结果目录(`mianshen run … --out DIR`) (the results folder of the run)
        out: PathBuf,
        /// 台账文件,不存在时新建 (the ledger file, created when absent)
        #[arg(long, value_name = "FILE")]
        ledger: PathBuf,
        /// 兑付日期,如 2025-01-20,晚于运行的 as_of (the date paid, after the run's as_of)
        #[arg(long, value_name = "DATE")]
        paid_on: String,
        /// 允许同一企业按同一政策再次兑付 (allow paying a firm again under a policy)
        #[arg(long, conflicts_with = "skip_paid")]
        allow_repeat: bool,
        /// 补发:只记入台账中尚未按同一政策兑付过的企业,已兑付的跳过并报告
        /// (a later batch: record only firms not yet paid under the policy; the others are skipped and reported)
        #[arg(long)]
        skip_paid: bool,
    },
    /// 读取整本台账:每行都须可读;按政策和年度汇总 (read a whole ledger; totals by policy and year)
    #[command(after_help = EXIT_CODES)]
    Check {
        /// 台账文件 (the ledger file)
        ledger: PathBuf,
    },
}

#[derive(Subcommand)]
enum Command {
    /// 检查政策集:语法、名称、类型,列出全部错误 (check a policy set: syntax, names, types)
    #[command(after_help = EXIT_CODES)]
    Check {
        /// 政策集目录:schema.yaml 和各 *.policy 文件 (the policy set folder: schema.yaml and *.policy files)
        dir: PathBuf,
        /// 错误的输出格式 (how to print errors)
        #[arg(long, value_enum, default_value = "human")]
        error_format: Format,
    },
    /// 找出能通过检查、但很可能写错的地方(警告) (warn about likely slips)
    ///
    /// 永远命中不到的 `tiers` 行、把 `40%` 写成 `40`、没有用到的 `let`/`define`、没有 `valid`、
    /// 有 `budget` 没有 `allocate`、有效期互不重叠的互斥组或合并限额组、对所有企业都成立
    /// (或都不成立)的 enum 条件。在条目上一行写 `// lint:allow 代码` 可关闭一条。
    /// Unreachable `tiers` rows, `* 40` for `* 40%`, unused `let`/`define`, no `valid`, `budget`
    /// without `allocate`, groups never in force together, enum conditions true for every firm
    /// or none; `// lint:allow CODE` on the line above silences one.
    #[command(after_help = EXIT_CODES)]
    Lint {
        /// 政策集目录 (the policy set folder)
        dir: PathBuf,
        /// `--deny warnings`:有警告时退出码为 1,供 CI 使用 (exit 1 on any warning, for CI)
        #[arg(long, value_name = "warnings")]
        deny: Option<Deny>,
        /// 警告和错误的输出格式 (how to print warnings and errors)
        #[arg(long, value_enum, default_value = "human")]
        error_format: Format,
    },
    /// 把政策文件排成统一格式,注释保留原位,含义不变 (lay out policy files canonically)
    ///
    /// 抬头条目对齐,每行一个条目,标签、数字和注释照原样保留。
    /// Header items aligned, one item per line; labels, literals and comments kept.
    #[command(after_help = EXIT_CODES)]
    Fmt {
        /// 政策文件或目录(目录下所有 *.policy) (policy files, or folders of them)
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// 只检查不改写:有文件需要格式化时退出码为 1 (write nothing; exit 1 if a file would change)
        #[arg(long)]
        check: bool,
    },
    /// 对数据文件中的每家企业执行所有有效政策,写出结果文件 (evaluate every policy in force for every firm)
    #[command(after_help = EXIT_CODES)]
    Run {
        /// 政策集目录 (the policy set folder)
        dir: PathBuf,
        /// 企业数据 `[来源=]文件`:CSV(UTF-8 或 GBK)、JSON Lines(.jsonl)或 Excel(.xlsx、.xls);
        /// 多个部门的文件各写一次 --data,按统一社会信用代码合并。The firm data, `[SOURCE=]FILE`;
        /// repeat for several departments' files, joined per firm on the key
        #[arg(
            long,
            required_unless_present = "postgres",
            value_name = "[SOURCE=]FILE"
        )]
        data: Vec<String>,
        /// 企业数据所在的 PostgreSQL 数据库,如 `postgresql://user@host:5432/db`(口令可用环境变量
        /// PGPASSWORD 给出);政策集编译成 SQL 在库中执行,结果文件从库中流式写出,与 --data 的运行逐字节相同
        /// (run where the data lives: the PostgreSQL database holding --table; the set runs there as SQL
        /// and the result files stream out, byte-identical to a run on the same rows; docs/sql.md)
        #[arg(long, value_name = "URL", requires = "table", conflicts_with_all = ["data", "ledger", "publish", "threads"])]
        postgres: Option<String>,
        /// 配合 --postgres:企业表,每家企业一行,每个字段一列 (with --postgres: the firm table,
        /// one row per firm, one column per field)
        #[arg(long, value_name = "TABLE", requires = "postgres")]
        table: Option<String>,
        /// 配合 --postgres:已兑付台账表 (key, policy, amount, paid_on),供 `paid` 和 `last_paid` 读取
        /// (with --postgres: the table of payments already made)
        #[arg(long, value_name = "TABLE", requires = "postgres")]
        ledger_table: Option<String>,
        /// 基准日期,如 2024-12-31:决定哪些政策有效,也是 `as_of` 的值 (the reference date)
        #[arg(long, value_name = "DATE")]
        as_of: String,
        /// 结果文件写入的目录 (where to write the result files)
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// 也列出不符合的决定 (list ineligible decisions too)
        #[arg(long)]
        all: bool,
        /// 数据文件的编码 (the data file's encoding)
        #[arg(long, value_enum, default_value = "auto")]
        encoding: EncodingArg,
        /// 工作线程数(默认用全部核心);结果与线程数无关 (worker threads; results are identical for any count)
        #[arg(long)]
        threads: Option<usize>,
        /// 超过多少 MiB 后暂存到磁盘(运行另需约 100 MiB);结果与此值无关
        /// (memory held before spilling to disk, in MiB; results are identical for any value)
        #[arg(long, default_value_t = 768, value_parser = clap::value_parser!(u32).range(64..))]
        memory: u32,
        /// 政策错误的输出格式 (how to print policy errors)
        #[arg(long, value_enum, default_value = "human")]
        error_format: Format,
        /// 在标准错误输出每个阶段的用时 (print how long each phase took, on standard error)
        #[arg(long)]
        timings: bool,
        /// 已兑付台账(`key,policy,amount,paid_on`),供 `paid` 和 `last_paid` 读取
        /// (the payments already made, which `paid` and `last_paid` read)
        #[arg(long, value_name = "FILE")]
        ledger: Option<PathBuf>,
        /// 只执行这条政策,可写多次;互斥组、合并限额组只在所选政策之间起作用,
        /// 所选范围记入 manifest (only this policy; repeatable; recorded in the manifest)
        #[arg(long = "policy", value_name = "ID")]
        policies: Vec<String>,
        /// 只执行政策集里这个子目录或文件中的政策,如 `renshe/`,可写多次
        /// (only the policies written under this folder or file of the set, e.g. `renshe/`)
        #[arg(long, value_name = "PATH")]
        only: Vec<String>,
        /// 运行结束后发布结果,同 `mianshen publish OUTDIR` (publish the results when the run is done)
        #[arg(long)]
        publish: bool,
        #[command(flatten)]
        publishing: PublishOpts,
    },
    /// 运行测试用例:整个政策集、其 tests/ 目录或单个文件 (run the officers' test cases)
    #[command(after_help = EXIT_CODES)]
    Test {
        /// 政策集目录、其 tests/ 目录或单个测试文件 (a policy set folder, its tests/ folder
        /// or single test files)
        #[arg(required = true, value_name = "DIR|FILE")]
        paths: Vec<PathBuf>,
        /// 只运行名称含这段文字的用例 (only the cases whose name holds this text)
        #[arg(long, value_name = "NAME")]
        case: Option<String>,
        /// 报告格式 (how to report)
        #[arg(long, value_enum, default_value = "human")]
        format: TestFormatArg,
        /// 政策错误的输出格式 (how to print policy errors)
        #[arg(long, value_enum, default_value = "human")]
        error_format: Format,
    },
    /// 逐步解释一家企业的决定:每个条件读到的值、金额、封顶、取整 (explain one firm's decisions)
    #[command(after_help = EXIT_CODES)]
    Explain {
        /// 政策集目录 (the policy set folder)
        dir: PathBuf,
        /// 企业数据 `[来源=]文件`,可写多次,按 run 的方式合并 (the firm data, `[SOURCE=]FILE`;
        /// repeat for several departments' files, joined per firm as `run` joins them)
        #[arg(long, required = true, value_name = "[SOURCE=]FILE")]
        data: Vec<String>,
        /// 企业的主键,如统一社会信用代码 (the firm's key, e.g. its credit code)
        #[arg(long, value_name = "KEY")]
        firm: String,
        /// 基准日期,如 2024-12-31 (the reference date)
        #[arg(long, value_name = "DATE")]
        as_of: String,
        /// 只解释这条政策 (only this policy)
        #[arg(long, value_name = "ID")]
        policy: Option<String>,
        /// 输出格式 (how to print the explanation)
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
        /// 数据文件的编码 (the data file's encoding)
        #[arg(long, value_enum, default_value = "auto")]
        encoding: EncodingArg,
        /// 已兑付台账,供 `paid` 和 `last_paid` 读取 (the payments already made)
        #[arg(long, value_name = "FILE")]
        ledger: Option<PathBuf>,
    },
    /// 按 manifest 重放一次运行,确认结果逐字节相同 (replay a run and confirm identical results)
    #[command(after_help = EXIT_CODES)]
    Verify {
        /// 之前 `mianshen run` 的结果目录 (the result folder of an earlier run)
        out: PathBuf,
        /// 政策集,若运行后移动过 (the policy set, if it has moved since the run)
        #[arg(long, value_name = "DIR")]
        policies: Option<PathBuf>,
        /// 数据文件,若运行后移动过:全部给出,顺序与运行时相同
        /// (the data files, if they have moved: all of them, in the run's order)
        #[arg(long, value_name = "[SOURCE=]FILE")]
        data: Vec<String>,
        /// 台账,若运行后移动过 (the ledger, if it has moved since the run)
        #[arg(long, value_name = "FILE")]
        ledger: Option<PathBuf>,
        /// 数据库中的运行(`run --postgres`):连接同一数据库重放,如 `postgresql://user@host/db`
        /// (a run in a database: replay it against that database)
        #[arg(long, value_name = "URL")]
        postgres: Option<String>,
    },
    /// 发布一次运行的结果(公示):公示名单、底数、待核实清单、企业汇总和 HTML 报告
    /// (publish a finished run: notice lists, coverage figures, review work lists per
    /// department, firm totals, and a self-contained HTML report, all reconciled with summary.csv)
    #[command(after_help = EXIT_CODES)]
    Publish {
        /// 这次运行的结果目录(`mianshen run … --out DIR`) (the results folder of the run)
        out: PathBuf,
        /// 政策集目录,运行后移动过时给出 (the policy set, if it has moved since the run)
        #[arg(long)]
        policies: Option<PathBuf>,
        /// 数据文件,运行后移动过时按原顺序全部给出 (the data files, if they have moved: all, in the run's order)
        #[arg(long, value_name = "[SOURCE=]FILE")]
        data: Vec<String>,
        #[command(flatten)]
        publishing: PublishOpts,
        /// 在标准错误输出每个阶段的用时 (print how long each phase took, on standard error)
        #[arg(long)]
        timings: bool,
    },
    /// 兑付台账:记入一次运行的兑付,检查台账 (the ledger of payments made)
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// 把政策集编译成 SQL (PostgreSQL 或 Spark):在企业表上运行,输出 decisions.csv 和 summary.csv
    /// (print the policy set as SQL, PostgreSQL or Spark: run against a firm table, it prints
    /// decisions.csv and summary.csv; docs/sql.md)
    #[command(after_help = EXIT_CODES)]
    Sql {
        /// 政策集目录 (the policy set folder)
        dir: PathBuf,
        /// SQL 方言:`postgres` 或 `spark`;Spark 的 DECIMAL 算法不同的写法在其所在行拒绝 (the SQL dialect: `postgres` or `spark`; constructs Spark's DECIMAL computes otherwise are refused at their lines)
        #[arg(long, default_value = "postgres")]
        dialect: String,
        /// 企业表:每家企业一行,每个字段一列 (the firm table: one row per firm, one column per field)
        #[arg(long)]
        table: String,
        /// 已兑付台账表 (key, policy, amount, paid_on) (the table of prior payments)
        #[arg(long, value_name = "TABLE")]
        ledger_table: Option<String>,
        /// 基准日期,如 2024-12-31;不给时读设置 mianshen.as_of (the reference date; default: the setting mianshen.as_of)
        #[arg(long, value_name = "DATE")]
        as_of: Option<String>,
        /// 也列出不符合的决定 (list ineligible decisions too)
        #[arg(long)]
        all: bool,
        /// 输出企业表的 CREATE TABLE 和 CSV 导入语句 (print CREATE TABLE for the firm table and a CSV loader instead)
        #[arg(long)]
        ddl: bool,
        /// 错误的输出格式 (how to print errors)
        #[arg(long, value_enum, default_value = "human")]
        error_format: Format,
    },
    /// 按政策集的字段生成合成企业数据(可复现) (write a synthetic firm file, seeded)
    #[command(after_help = EXIT_CODES)]
    Generate {
        /// 政策集目录 (the policy set folder)
        dir: PathBuf,
        /// 企业数量 (number of firms)
        #[arg(long, default_value_t = 1000)]
        rows: u64,
        /// 随机种子,同一种子生成同一文件 (the seed: one seed, one file)
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// 像 Excel 导出那样变换数值格式 (vary value formats as Excel exports do)
        #[arg(long)]
        messy: bool,
        /// 故意写坏的行所占比例(0 到 1) (fraction of deliberately bad rows, 0 to 1)
        #[arg(long, default_value_t = 0.0)]
        bad_rows: f64,
        /// 输出文件(默认标准输出);加 --split-by-source 时为目录 (output file, default standard output; with --split-by-source, the folder)
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// 按部门(schema.yaml 中的 `source:`)各写一个文件,都带主键列,写入 -o 给的目录
        /// (write one file per department, each with the key column, into the folder given by -o)
        #[arg(long)]
        split_by_source: bool,
        /// 配合 --split-by-source:`[部门=]格式`,格式为 csv、gbk、jsonl、xlsx;不写部门则用于
        /// 其余各部门(默认四种混合) (with --split-by-source: `[SOURCE=]FORMAT`, FORMAT one of
        /// csv, gbk, jsonl, xlsx; without SOURCE, for every department not named; default: a mix)
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

/// The command line, or exit 2 with what is wrong in Chinese first and
/// clap's English account (with its usage line and suggestions) after it.
fn parse_command_line() -> Cli {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let e = match Cli::try_parse() {
        Ok(cli) => return cli,
        Err(e) => e,
    };
    let context = |kind: ContextKind| match e.get(kind) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(v)) => v.join(", "),
        Some(ContextValue::StyledStr(s)) => s.to_string(),
        Some(ContextValue::StyledStrs(v)) => v
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        Some(ContextValue::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let arg = context(ContextKind::InvalidArg);
    let said = match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
        ErrorKind::MissingRequiredArgument => format!("缺少必需的参数 {arg}"),
        ErrorKind::UnknownArgument => {
            let hint = context(ContextKind::SuggestedArg);
            if hint.is_empty() {
                format!("无法识别的参数 `{arg}`")
            } else {
                format!("无法识别的参数 `{arg}`, 是否想用 `{hint}`?")
            }
        }
        ErrorKind::InvalidSubcommand => {
            let hint = context(ContextKind::SuggestedSubcommand);
            let invalid = context(ContextKind::InvalidSubcommand);
            if hint.is_empty() {
                format!("无法识别的子命令 `{invalid}`")
            } else {
                format!("无法识别的子命令 `{invalid}`, 是否想用 `{hint}`?")
            }
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let value = context(ContextKind::InvalidValue);
            let valid = context(ContextKind::ValidValue);
            if valid.is_empty() {
                format!("参数 {arg} 的值 `{value}` 无效")
            } else {
                format!("参数 {arg} 的值 `{value}` 无效, 可用的值: {valid}")
            }
        }
        ErrorKind::ArgumentConflict => format!(
            "参数 {arg} 不能与 {} 同时使用",
            context(ContextKind::PriorArg)
        ),
        ErrorKind::TooManyValues | ErrorKind::TooFewValues | ErrorKind::WrongNumberOfValues => {
            format!("参数 {arg} 的值的个数不对")
        }
        ErrorKind::MissingSubcommand => "缺少子命令, 见 `mianshen --help`".to_string(),
        ErrorKind::InvalidUtf8 => "命令行参数不是有效的 UTF-8 文字".to_string(),
        _ => "命令行有误".to_string(),
    };
    eprintln!("错误: {said}");
    let _ = e.print();
    std::process::exit(2)
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
    let cli = parse_command_line();
    let code = match cli.command {
        Command::Check { dir, error_format } => cli::check(&dir, json(error_format)),
        Command::Fmt { paths, check } => cli::fmt(&paths, check),
        Command::Lint {
            dir,
            deny,
            error_format,
        } => cli::lint(&dir, deny.is_some(), json(error_format)),
        Command::Run {
            dir,
            data,
            postgres,
            table,
            ledger_table,
            as_of,
            out,
            all,
            encoding: enc,
            threads,
            memory,
            error_format,
            timings,
            ledger,
            policies,
            only,
            publish,
            publishing,
        } => {
            if publish && publishing.date.is_none() {
                return ExitCode::from(cli::publish_needs_date());
            }
            if postgres.is_none() && (table.is_some() || ledger_table.is_some()) {
                eprintln!("error: --table 和 --ledger-table 只用于 --postgres (--table and --ledger-table go with --postgres)");
                return ExitCode::from(cli::EXIT_USAGE);
            }
            if let (Some(url), Some(table)) = (postgres, table) {
                return ExitCode::from(cli::run_postgres(&cli::PgRunArgs {
                    dir,
                    url,
                    table,
                    ledger_table,
                    as_of,
                    out,
                    all,
                    json_errors: json(error_format),
                    timings,
                    quiet: false,
                    selection: mianshen::select::Selection { policies, only },
                }));
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
                selection: mianshen::select::Selection { policies, only },
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
        Command::Test {
            paths,
            case,
            format,
            error_format,
        } => cli::test(&cli::TestArgs {
            paths: &paths,
            case: case.as_deref(),
            format: match format {
                TestFormatArg::Human => cli::TestFormat::Human,
                TestFormatArg::Junit => cli::TestFormat::Junit,
            },
            json_errors: json(error_format),
        }),
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
            postgres,
        } => cli::verify(
            &out,
            policies.as_deref(),
            &inputs(&data),
            ledger.as_deref(),
            postgres.as_deref(),
        ),
        Command::Ledger(LedgerCommand::Add {
            out,
            ledger,
            paid_on,
            allow_repeat,
            skip_paid,
        }) => {
            use mianshen::payments::Repeats;
            let repeats = match (allow_repeat, skip_paid) {
                (true, _) => Repeats::Allow,
                (_, true) => Repeats::Skip,
                _ => Repeats::Refuse,
            };
            cli::ledger_add(&out, &ledger, &paid_on, repeats)
        }
        Command::Ledger(LedgerCommand::Check { ledger }) => cli::ledger_check(&ledger),
        Command::Sql {
            dir,
            dialect,
            table,
            ledger_table,
            as_of,
            all,
            ddl,
            error_format,
        } => cli::sql(&cli::SqlArgs {
            dir: &dir,
            dialect: &dialect,
            table: &table,
            ledger_table: ledger_table.as_deref(),
            as_of: as_of.as_deref(),
            all,
            ddl,
            json_errors: json(error_format),
        }),
        Command::Generate {
            dir,
            rows,
            seed,
            messy,
            bad_rows,
            output,
            split_by_source,
            format,
        } => generate::command::generate(&generate::command::GenerateArgs {
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
