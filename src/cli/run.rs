//! `mianshen run DIR --data [SOURCE=]FILE [--data …] --as-of DATE`: the
//! batch run into a results folder, over one data file or several
//! departments' files joined per firm.

use std::path::{Path, PathBuf};

use super::*;
use crate::data::stream::Odd;
use crate::syntax::ast::TopItem;

/// How the warnings about the ledger's rows begin: they depend on the rows
/// a ledger holds, which may grow after a run ([`is_ledger_warning`]).
const LEDGER_WARNING: &str = "台账中";
/// How the warning about an id neither in the set nor in the ledger begins.
const ID_WARNING: &str = "`paid`/`last_paid` 里的 ";

/// Whether a warning of the manifest is about the ledger's rows: `verify`
/// sets them aside when the ledger has grown since the run.
pub(super) fn is_ledger_warning(w: &str) -> bool {
    w.starts_with(LEDGER_WARNING) || w.starts_with(ID_WARNING)
}

pub struct RunArgs {
    pub dir: PathBuf,
    /// One file, or several joined per firm.
    pub data: Vec<crate::data::Input>,
    pub as_of: String,
    pub out: PathBuf,
    pub all: bool,
    pub encoding: crate::data::Encoding,
    pub threads: Option<usize>,
    /// Memory held before spilling to disk, in MiB.
    pub memory_mib: usize,
    pub json_errors: bool,
    /// Print how long each phase took (stderr).
    pub timings: bool,
    /// Print nothing on the terminal but errors (no summary, warnings or
    /// progress): a replay by `verify`.
    pub quiet: bool,
    /// The payments already made (`--ledger`).
    pub ledger: Option<PathBuf>,
    /// Only these policies (`--policy`, `--only`); empty: the whole set.
    pub selection: crate::select::Selection,
}

/// `mianshen run DIR --data FILE --as-of DATE`
pub fn run(args: &RunArgs) -> u8 {
    let as_of = match parse_as_of(&args.as_of) {
        Ok(d) => d,
        Err(c) => return c,
    };
    if let Some(n) = args.threads {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global();
    }
    let set = match load_selected(&args.dir, args.json_errors, &args.selection) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let opts = crate::data::ReadOptions {
        encoding: args.encoding,
    };
    let started = std::time::Instant::now();
    if let Err(code) = data_given(&args.data) {
        return code;
    }
    let ledger = match &args.ledger {
        None => None,
        Some(path) => match crate::data::ledger::Ledger::read(
            path,
            &set.program.ledger_ids,
            set.program.schema.key_type(),
        ) {
            Ok(l) => Some(std::sync::Arc::new(l)),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_USAGE;
            }
        },
    };
    if let Some(l) = &ledger {
        let mib = l.heap_bytes() >> 20;
        if mib >= args.memory_mib {
            eprintln!(
                "warning: 台账中本政策集要读的兑付记录约占 {mib} MiB, 超过 --memory {} MiB; 运行仍全部保留, 其余数据写入磁盘 (the ledger's payments under the set's ids take about {mib} MiB, more than --memory {} MiB; the run keeps them all and spills everything else)",
                args.memory_mib, args.memory_mib
            );
        }
    }
    if ledger.is_none() {
        if let Some(used) = set.program.ledger_needed() {
            eprintln!("error: {}", used.needs_ledger());
            return EXIT_USAGE;
        }
    }
    let mut data = match open_data(&args.data, &set.program.schema, &opts) {
        Ok(data) => data,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let pending = match crate::report::Pending::create(&args.out) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {}", cannot_write(&args.out, &e));
            return EXIT_USAGE;
        }
    };
    let mut clock = Timings {
        on: args.timings,
        last: started,
    };
    clock.lap("load policies, read header");
    match run_into(
        &set,
        &mut data[..],
        as_of,
        args,
        ledger,
        &pending,
        &mut clock,
    ) {
        Ok(done) => {
            if let Err(e) = pending.commit() {
                eprintln!("error: {}", cannot_write(&args.out, &e));
                return EXIT_USAGE;
            }
            if !args.quiet {
                for w in &done.warnings {
                    eprintln!("warning: {w}");
                }
            }
            clock.lap("rename results into place");
            if !args.quiet {
                print_run_summary(&done, &args.out);
            }
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_USAGE
        }
    }
}

/// A progress bar (bytes read) on a terminal for long runs; hidden otherwise
/// (a pipe, a file, CI, `--timings`, a source of unknown size).
fn progress(size: Option<u64>, timings: bool) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    const LONG_RUN: u64 = 32 << 20;
    let Some(size) = size.filter(|s| *s >= LONG_RUN) else {
        return indicatif::ProgressBar::hidden();
    };
    if timings || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(size);
    let style = indicatif::ProgressStyle::with_template(
        "{bar:40} 已读 (read) {binary_bytes}/{binary_total_bytes}  剩余 (eta) {eta}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

/// A field that policies in force read and that no data file has a column
/// for: every firm's value is missing, so their decisions are at best
/// `review`. Names the department to ask (`source:`) and the policies.
/// Money and percent columns whose header, matched through a schema's
/// alias or title, names a unit (`营业收入(万元)`): a value written without
/// a unit is read as yuan (or as a fraction), whatever the header says.
fn headers_with_units(
    program: &crate::program::Program,
    files: &[crate::report::DataFile],
    data: &[crate::data::stream::Stream],
) -> Vec<String> {
    let mut out = Vec::new();
    for (file, stream) in files.iter().zip(data) {
        let parser = stream.parser();
        for (i, field) in program.schema.fields.iter().enumerate() {
            let money = field.ty == crate::schema::FieldType::Money;
            if !money && field.ty != crate::schema::FieldType::Percent {
                continue;
            }
            let Some(header) = parser.column_header(i) else {
                continue;
            };
            let Some((_, unit)) = crate::suggest::header_unit(header.trim()) else {
                continue;
            };
            let (zh, en) = if money {
                (
                    format!("不写单位的值按元读 (`5000` 是 5000 元), 不按 {unit}; 请在值上写单位 (`5000万`)"),
                    format!("a value without a unit is read as yuan (`5000` is 5000 yuan), not in {unit}; write the unit with the values (`5000万`)"),
                )
            } else {
                (
                    "不写 `%` 的数按小数读 (`3.5` 即 350%); 请写成 `3.5%`".to_string(),
                    "a number without `%` reads as a fraction (`3.5` is 350%); write `3.5%`"
                        .to_string(),
                )
            };
            let (name, path) = (&field.name, file.input.name());
            out.push(format!(
                "`{path}`: 列 `{header}` 读作字段 `{name}`, 列名带单位 {unit}, 但{zh} (column `{header}` gives `{name}` and names the unit {unit}, but {en})"
            ));
        }
    }
    out
}

fn fields_no_file_has(
    program: &crate::program::Program,
    data: &[crate::data::stream::Stream],
    as_of: Date,
) -> Vec<String> {
    let parsers: Vec<_> = data.iter().map(|d| d.parser()).collect();
    let mut out = Vec::new();
    for (i, field) in program.schema.fields.iter().enumerate() {
        let absent = parsers.iter().all(|p| p.has_column(i) == Some(false));
        if !absent || i == program.schema.key {
            continue;
        }
        let mut readers: Vec<String> = program
            .policies
            .iter()
            .filter(|p| p.in_force(as_of) && policy_reads(p, i as u16))
            .map(|p| p.id.clone())
            .collect();
        readers.extend(
            program
                .combined
                .iter()
                .filter(|c| c.fields.contains(&(i as u16)))
                .map(|c| format!("combined \"{}\"", c.label)),
        );
        if readers.is_empty() {
            continue;
        }
        let ask = field
            .source
            .as_ref()
            .map(|s| (format!(", 请向{s}索取"), format!("; ask {s} for it")))
            .unwrap_or_default();
        let (name, title, readers) = (
            &field.name,
            field.title.as_deref().unwrap_or(""),
            readers.join(", "),
        );
        out.push(format!(
            "数据文件中没有 `{name}` ({title}) 这一列, 而 {readers} 要读它: 所有企业的此项均为缺失: 用到它的条件无法判定, 结果多为待核实{} (no data file has a column for `{name}`, read by {readers}: every firm's value is missing: conditions using it cannot be decided, so most decisions will be review{})",
            ask.0, ask.1
        ));
    }
    out
}

/// A `SOURCE=` that no field's `source:` names: conflicts are then never
/// resolved in that file's favour (a likely typo).
fn unknown_sources(
    program: &crate::program::Program,
    inputs: &[crate::data::Input],
) -> Vec<String> {
    let known: std::collections::BTreeSet<&str> = program
        .schema
        .fields
        .iter()
        .filter_map(|f| f.source.as_deref())
        .collect();
    inputs
        .iter()
        .filter_map(|i| {
            let s = i.source.as_deref()?;
            (!known.contains(s)).then(|| {
                let close = crate::suggest::closest(s, known.iter().copied())
                    .map(|c| (format!("; 是不是 `{c}`?"), format!("; did you mean `{c}`?")))
                    .unwrap_or_default();
                let departments = known.iter().copied().collect::<Vec<_>>().join(", ");
                format!(
                    "`{s}={}`: schema 中没有字段写 `source: {s}`, 数据冲突时不会采用此文件的值; schema 中的部门有 {departments}{} (no field of the schema has `source: {s}`, so no conflict is settled by this file; the departments are {departments}{})",
                    i.path.display(),
                    close.0,
                    close.1
                )
            })
        })
        .collect()
}

/// Whether a policy's conditions or amount read field `f` (through lets
/// and defines too).
fn policy_reads(p: &crate::program::Policy, f: u16) -> bool {
    p.clauses.iter().any(|c| c.fields.contains(&f))
        || p.amount.as_ref().is_some_and(|a| a.fields.contains(&f))
}

/// What a run reports on the terminal.
struct RunDone {
    summary: Vec<crate::batch::output::PolicySummary>,
    rows: u64,
    files: usize,
    firms: u64,
    rejected_rows: u64,
    conflicts: u64,
    warnings: Vec<String>,
    /// Each `combined` group's label and what its cap took.
    caps: Vec<(String, crate::settle::CapFigures)>,
}

/// Streams the data through the engine and writes every result file into the
/// pending directory.
/// Batches of a CSV file read ahead while a run over several files opens
/// them ([`open_data`]): about 5 MB each at the bench's rows (8 raised the
/// bench's peak by about 20 MiB; 4 left it as it was).
const READ_AHEAD: usize = 4;

/// Opens the run's data files, each reading its header. Several files are
/// opened side by side, each CSV file's first batches read ahead while the
/// others open ([`crate::data::stream::Stream::read_ahead`]): a workbook's
/// header is known only once calamine has read all its shared strings, and
/// the files are joined only once every header is known. The error is the
/// first file's that fails, as when they are opened one after another.
fn open_data(
    inputs: &[crate::data::Input],
    schema: &crate::schema::Schema,
    opts: &crate::data::ReadOptions,
) -> Result<Vec<crate::data::stream::Stream>, crate::data::DataError> {
    use crate::data::stream::Stream;
    if inputs.len() < 2 {
        return inputs
            .iter()
            .map(|input| Stream::open_path(&input.path, schema, opts))
            .collect();
    }
    std::thread::scope(|scope| {
        let opening: Vec<_> = inputs
            .iter()
            .map(|input| {
                scope.spawn(move || {
                    let mut stream = Stream::open_path(&input.path, schema, opts)?;
                    // a regular file only: a pipe is read as its rows are wanted
                    if stream.can_read_again() {
                        stream.read_ahead(READ_AHEAD, crate::batch::ROWS_PER_BATCH);
                    }
                    Ok(stream)
                })
            })
            .collect();
        // every thread joined (one that panicked is a file not read), then
        // the first error
        let opened: Vec<Result<Stream, crate::data::DataError>> = opening
            .into_iter()
            .zip(inputs)
            .map(|(thread, input)| {
                thread.join().unwrap_or_else(|_| {
                    Err(crate::data::DataError::Unreadable {
                        path: input.path.clone(),
                        source: std::io::Error::other("the thread opening it failed"),
                    })
                })
            })
            .collect();
        opened.into_iter().collect()
    })
}

fn run_into(
    set: &PolicySet,
    data: &mut [crate::data::stream::Stream],
    as_of: Date,
    args: &RunArgs,
    ledger: Option<std::sync::Arc<crate::data::ledger::Ledger>>,
    pending: &crate::report::Pending,
    clock: &mut Timings,
) -> Result<RunDone, crate::batch::RunError> {
    let program = &set.program;
    let labels = crate::data::Labels::of(&args.data);
    let mut rejects = crate::report::RejectsWriter::new(pending.file("rejects.csv")?)?;
    let mut conflicts = crate::report::ConflictsWriter::new(pending.file("conflicts.csv")?)?;
    let run_opts = crate::batch::RunOptions {
        as_of,
        all: args.all,
        ledger: ledger.clone(),
        profile: None,
    };
    let spill = Some(crate::batch::Spill {
        dir: pending.path().to_path_buf(),
        // the ledger is held whole: what it takes is not the batch's to use
        memory: crate::batch::Memory::within(
            args.memory_mib
                .saturating_mul(1 << 20)
                .saturating_sub(ledger.as_ref().map_or(0, |l| l.heap_bytes())),
        ),
    });
    let size = data.iter().map(|d| d.size()).sum::<Option<u64>>();
    let bar = progress(size, clock.on || args.quiet);
    let name = |f: usize| labels.names.get(f).map_or("", String::as_str);
    let (batch, evaluated) = crate::batch::joined::stream_files(
        program,
        crate::batch::joined::DataFiles::new(data, &labels),
        run_opts,
        spill,
        |f, r| rejects.write(f as usize, name(f as usize), r),
        |c| conflicts.write(c, name(c.file as usize)),
        |read| bar.set_position(read),
    )?;
    bar.finish_and_clear();
    let (reject_lines, rejected_rows) = (rejects.lines, rejects.rows);
    let per_file = rejects.per_file.clone();
    rejects.finish()?;
    let conflict_lines = conflicts.lines;
    conflicts.finish()?;
    clock.lap("parse and evaluate rows, find duplicate keys, write rejects");
    let settled = batch.finish()?;
    clock.lap("settle across firms");
    let written = settled.write_decisions(pending.file("decisions.csv")?)?;
    clock.lap("write decisions");
    let summary = settled.summary().to_vec();
    crate::report::write_summary(&summary, pending.file("summary.csv")?)?;
    let files: Vec<crate::report::DataFile> = args
        .data
        .iter()
        .zip(data.iter())
        .enumerate()
        .map(|(f, (input, d))| crate::report::DataFile {
            input: input.clone(),
            info: d.info(),
            rejected_rows: per_file.get(f).copied().unwrap_or(0),
            evaluated_rows: evaluated.get(f).copied().unwrap_or(0),
        })
        .collect();
    let mut warnings = Vec::new();
    for crate::report::DataFile { input, info, .. } in &files {
        for c in &info.unknown_columns {
            let names = || program.schema.fields.iter().flat_map(|f| f.names());
            let close = match crate::suggest::header_unit(c) {
                // `营业收入(万元)`: the name without its unit, and what the unit means here
                Some((bare, unit)) if names().any(|n| n == bare) => {
                    let (zh, en) = match unit {
                        "万元" | "亿元" | "万" | "亿" => (
                            format!(": 不写单位的金额按元读, 请在值上写单位 (如 `5000{unit}`)"),
                            format!(": amounts without a unit are read as yuan, so write the unit with the values (`5000{unit}`)"),
                        ),
                        "%" | "％" => (
                            ": 不写 `%` 的数按小数读 (`3.5` 即 350%), 请写成 `3.5%`".to_string(),
                            ": numbers without `%` read as fractions (`3.5` is 350%), so write `3.5%`".to_string(),
                        ),
                        _ => Default::default(),
                    };
                    (
                        format!(", 是不是 `{bare}`? 列名带了单位 {unit}, 请改为 `{bare}`{zh}"),
                        format!("; did you mean `{bare}`? The header carries the unit {unit}: rename it `{bare}`{en}"),
                    )
                }
                _ => crate::suggest::closest(c, names())
                    .map(|n| (format!(", 是不是 `{n}`?"), format!("; did you mean `{n}`?")))
                    .unwrap_or_default(),
            };
            let file = if files.len() > 1 {
                format!("`{}`: ", input.name())
            } else {
                String::new()
            };
            warnings.push(format!(
                "{file}列 `{c}` 不对应 schema 中的任何字段, 已忽略{} (column `{c}` matches no field of the schema and was ignored{})",
                close.0, close.1
            ));
        }
    }
    for crate::report::DataFile { input, info, .. } in &files {
        // a field's name, and the policies in force that read it, as said
        let field_read_by = |f: usize| {
            let field = program.schema.fields.get(f)?;
            let readers: Vec<&str> = program
                .policies
                .iter()
                .filter(|p| p.in_force(as_of) && policy_reads(p, f as u16))
                .map(|p| p.id.as_str())
                .collect();
            let read_by = if readers.is_empty() {
                (String::new(), String::new())
            } else {
                let r = readers.join(", ");
                (format!(", 读取它的政策: {r}"), format!(", read by {r}"))
            };
            Some((&field.name, read_by))
        };
        // in the order of [`Odd`]: padded keys, lists, totals rows, percents
        for (&odd, &(n, first)) in &info.odd {
            let file = input.name();
            match odd {
                Odd::PaddedKey => warnings.push(format!(
                    "`{file}`: 有 {n} 行的主键前后带空格, 第一行是第 {first} 行: 主键按原样比较, ` A1 ` 与 `A1` 是两家企业, 同一企业可能因此重复计算或兑付; 请核对数据 ({n} rows have blanks around their key, the first on row {first}: keys compare as written, so ` A1 ` and `A1` are two firms)"
                )),
                Odd::TotalsRow => warnings.push(format!(
                    "`{file}`: 有 {n} 行的主键是 `合计`、`总计` 之类, 第一行是第 {first} 行: 像是表格的合计行, 已当作一家企业评估; 请从数据中删去 ({n} rows have a key reading like a totals row, the first on row {first}: each was evaluated as a firm)"
                )),
                Odd::ListSeparator(f) => {
                    let Some((name, read_by)) = field_read_by(f) else {
                        continue;
                    };
                    warnings.push(format!(
                        "`{file}`: 列表字段 `{name}` 有 {n} 个值的某一项含有 `；`、`,`、`/` 或空格, 第一个在第 {first} 行{}: 列表各项只按 `;`、`、`、`|` 分隔, 这样的值读作一项 (`高新技术企业；小巨人` 是一项); 请改用 `;` 分隔 ({n} values of the list field `{name}` have an item holding `；`, `,`, `/` or a blank, the first on row {first}{}: items are separated by `;`, `、` or `|` only, so each such item was read as one)",
                        read_by.0, read_by.1
                    ));
                }
                Odd::PercentOverOne(f) => {
                    let Some((name, read_by)) = field_read_by(f) else {
                        continue;
                    };
                    warnings.push(format!(
                        "`{file}`: 百分比字段 `{name}` 有 {n} 个值没写 `%` 且大于 1 (`3.5` 即 350%), 第一个在第 {first} 行{}; 请写成 `3.5%` 或 `0.035` ({n} values of the percent field `{name}` are written without `%` and read above 1, the first on row {first}{}; write `3.5%` or `0.035`)",
                        read_by.0, read_by.1
                    ));
                }
            }
        }
    }
    warnings.extend(fields_no_file_has(program, data, as_of));
    warnings.extend(headers_with_units(program, &files, data));
    warnings.extend(unknown_sources(program, &args.data));
    for s in &summary {
        if s.note.overrun {
            let (id, amount, budget) = (
                &s.id,
                s.amount.unwrap_or_default(),
                s.budget.unwrap_or_default(),
            );
            warnings.push(format!(
                "政策 `{id}`: 符合条件的金额合计 {amount} 超出预算 {budget}; 未写 `allocate`, 每户仍按全额计 (policy `{id}`: eligible amounts {amount} exceed the budget {budget}; no `allocate`, so every firm keeps its full amount)"
            ));
        }
        if let Some(e) = &s.note.error {
            warnings.push(format!("政策 (policy) `{}`: {e}", s.id));
        }
    }
    if let Some(l) = &ledger {
        if let (n, Some((line, key))) = &l.padded_keys {
            warnings.push(format!(
                "{LEDGER_WARNING}有 {n} 条兑付记录的 key 前后带空格, 第一条在第 {line} 行 (`{key}`): 它只计入 key 写法完全相同的企业, 不计入 `{}`; 请核对台账 ({n} payments in the ledger have blanks around their key, the first on line {line}: they count only for a firm whose key is written the same way)",
                key.trim()
            ));
        }
        let key_field = program.schema.fields.get(program.schema.key);
        if key_field.is_some_and(|f| f.check == Some(crate::schema::Check::Uscc)) {
            // a padded key is warned about above
            let bad = |key: &str| {
                (key.trim() == key)
                    .then(|| crate::schema::uscc_valid(key).err())
                    .flatten()
            };
            if let (n @ 1.., Some((line, key, why))) = l.bad_keys(bad) {
                warnings.push(format!(
                    "{LEDGER_WARNING}有 {n} 家企业的 key 不是有效的统一社会信用代码, 第一家在第 {line} 行 (`{key}`: {why}): 数据中的主键都经过校验, 这些兑付对不上任何企业, 不会被扣除; 请改正台账 (the keys of {n} firms in the ledger are not valid credit codes, the first on line {line}: their payments match no firm of the data, whose keys are checked, and are deducted from none)"
                ));
            }
        }
        if let (n @ 1.., first, ids) = l.dated_after(as_of) {
            let ids: Vec<&str> = (ids.iter())
                .filter_map(|&i| program.ledger_ids.get(i as usize))
                .map(String::as_str)
                .collect();
            let (ids, first) = (ids.join(", "), first.unwrap_or(0));
            warnings.push(format!(
                "{LEDGER_WARNING}有 {n} 笔兑付 (政策 {ids}) 的兑付日期晚于基准日 {as_of}, 第一笔在第 {first} 行: 按规定不计入 `paid`/`last_paid`; 若本次是为往年补算或补发, 这些企业此后已获的兑付不会被扣除, 可能重复兑付, 请逐户核对 ({n} payments under {ids} are dated after as_of {as_of}, the first on line {first}: they do not count; if this run catches up an earlier year, what those firms were paid since is not deducted and they may be paid twice)"
            ));
        }
        for (i, id) in program.ledger_ids.iter().enumerate() {
            // a policy of the set, selected (`--policy`) or not
            let in_set = || {
                (set.syntax.iter().flat_map(|f| &f.items))
                    .any(|item| matches!(item, TopItem::Policy(p) if p.id.name == *id))
            };
            if program.policy_index(id).is_none()
                && !l.ids_found.get(i).copied().unwrap_or(false)
                && !in_set()
            {
                warnings.push(format!(
                    "{ID_WARNING}`{id}` 既不是本政策集的政策, 台账中也没有: 是否写错? (`{id}` is neither a policy of the set nor found in the ledger: a typo?)"
                ));
            }
        }
    }
    let dir_text = args.dir.to_string_lossy().to_string();
    let firms = settled.firm_count() as u64;
    let record = crate::report::RunRecord {
        set,
        policy_dir: &dir_text,
        data: &files,
        conflicts: conflict_lines,
        as_of,
        all: args.all,
        encoding: encoding_name(args.encoding),
        firms,
        rejected_rows,
        rejects: reject_lines,
        decisions: written.decisions,
        caps: &written.caps,
        summary: &summary,
        warnings: &warnings,
        ledger: ledger.as_deref(),
        ledger_arg: args.ledger.as_deref(),
        selection: (!args.selection.is_all()).then_some(&args.selection),
    };
    crate::report::write_manifest(&record, pending.file("manifest.json")?)?;
    Ok(RunDone {
        summary,
        rows: files.iter().map(|f| f.info.rows).sum(),
        files: files.len(),
        firms,
        rejected_rows,
        conflicts: conflict_lines,
        warnings,
        caps: program
            .combined
            .iter()
            .map(|c| c.label.clone())
            .zip(written.caps)
            .collect(),
    })
}

fn print_run_summary(done: &RunDone, out: &Path) {
    let rows = done.rows;
    if done.files > 1 {
        println!(
            "{} 个文件共 {rows} 行: 评估 {} 户企业, 拒收 {} 行 (见 rejects.csv), 冲突值 {} 个 (见 conflicts.csv) ({rows} rows in {} files: {} firms evaluated, {} rows rejected, {} conflicting values)",
            done.files,
            done.firms,
            done.rejected_rows,
            done.conflicts,
            done.files,
            done.firms,
            done.rejected_rows,
            done.conflicts
        );
    } else {
        println!(
            "共 {rows} 行: 评估 {} 户企业, 拒收 {} 行 (见 rejects.csv) ({rows} rows: {} firms evaluated, {} rows rejected)",
            done.firms, done.rejected_rows, done.firms, done.rejected_rows
        );
    }
    print_policies(&done.summary, &done.caps, out);
}

/// The run's policies, one a line, each `combined` cap, and where the
/// results are.
pub(super) fn print_policies(
    summary: &[crate::batch::output::PolicySummary],
    caps: &[(String, crate::settle::CapFigures)],
    out: &Path,
) {
    use crate::width::{pad_left, pad_right};
    // one line a policy: the id, five counts, two sums; the same widths for
    // the Chinese heading, the English one and the rows
    const ID: usize = 28;
    const WIDTHS: [usize; 6] = [9, 9, 9, 9, 16, 16];
    let line = |id: &str, cells: [&str; 6]| {
        let mut l = pad_right(id, ID);
        for (cell, w) in cells.iter().zip(WIDTHS) {
            l.push(' ');
            l.push_str(&pad_left(cell, w));
        }
        l
    };
    println!(
        "{}",
        line("政策", ["评估", "符合", "不符合", "待核实", "金额", "拨付"])
    );
    println!(
        "{}",
        line(
            "(policy)",
            [
                "evaluated",
                "eligible",
                "inelig.",
                "review",
                "amount",
                "funded"
            ]
        )
    );
    for s in summary {
        if !s.in_force {
            println!(
                "{} 本日不在有效期内 (not in force on this date)",
                pad_right(&s.id, ID)
            );
            continue;
        }
        let flag = if s.note.overrun {
            "  超出预算, 未分配 (budget exceeded, not allocated)"
        } else if s.note.exceeded {
            "  超出预算, 已按规则分配 (budget allocated)"
        } else {
            ""
        };
        let show = |d: Option<rust_decimal::Decimal>| {
            d.map(|a| a.to_string()).unwrap_or_else(|| "-".into())
        };
        let cells = [
            s.evaluated.to_string(),
            s.eligible.to_string(),
            s.ineligible.to_string(),
            s.review.to_string(),
            show(s.amount),
            show(s.funded),
        ];
        println!(
            "{}{flag}",
            line(&s.id, cells.each_ref().map(String::as_str))
        );
    }
    for (label, c) in caps {
        let taken = format!("{:.2}", c.amount);
        println!(
            "合计封顶 \"{label}\": {} 户被核减 (核减 {} 项, {} 项转为不符合), 共核减 {taken} 元; {} 户上限缺失待核实 (combined \"{label}\": {} firms cut, {} decisions cut, {} turned ineligible, {taken} taken, {} firms to review (cap missing))",
            c.firms, c.cut, c.zeroed, c.review, c.firms, c.cut, c.zeroed, c.review
        );
    }
    println!(
        "结果已写入 {}/ (results in {}/)",
        out.display(),
        out.display()
    );
}

/// The results folder cannot be written.
pub(super) fn cannot_write(out: &Path, e: &std::io::Error) -> String {
    format!(
        "无法写入结果目录 `{}` (cannot write the results): {e}",
        out.display()
    )
}

fn encoding_name(e: crate::data::Encoding) -> &'static str {
    match e {
        crate::data::Encoding::Auto => "auto",
        crate::data::Encoding::Utf8 => "utf8",
        crate::data::Encoding::Gb18030 => "gb18030",
    }
}
