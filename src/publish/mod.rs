//! Stage: publishing a finished run (公示). From a results folder confirmed
//! by its manifest, and the run's data read again by the run's own code:
//!
//! - 公示名单.xlsx / .csv ([`notice`]): per policy, the firms to be paid;
//! - 底数.csv and a sheet of the workbook (`coverage`): per policy ×
//!   region × industry section × size, the counts and the money, with
//!   totals equal to summary.csv;
//! - 待核实清单.xlsx / .csv (`review`): the review decisions, one work
//!   list per department;
//! - 企业汇总.csv (`totals`): each firm across policies;
//! - report.html (`html`): one self-contained page.
//!
//! Every figure is checked against summary.csv and decisions.csv before
//! anything is written; a folder that does not reconcile is refused.

pub mod codes;
mod coverage;
mod firms;
mod folder;
mod html;
pub mod notice;
mod reasons;
mod review;
pub mod table;
mod totals;

use std::path::{Path, PathBuf};

pub use self::notice::{ListOrder, Mask};
pub use self::table::PeopleEncoding;

use self::table::{Book, PeopleCsv};

/// What to publish and how.
#[derive(Clone, Debug)]
pub struct Options {
    /// The policy set, if it moved since the run.
    pub policies: Option<PathBuf>,
    /// The data files, if they moved since the run (all, in order).
    pub data: Vec<crate::data::Input>,
    /// Where to write (default `OUTDIR/publish`).
    pub to: Option<PathBuf>,
    pub mask: Option<Mask>,
    pub notice_days: u32,
    /// The day the notice is published.
    pub date: crate::date::Date,
    pub order: ListOrder,
    pub encoding: PeopleEncoding,
    /// The most rows a sheet may have (Excel's 1,048,576).
    pub sheet_rows: u32,
}

/// Why a results folder is not published.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PublishError {
    #[error("`{}` 不是运行结果目录, 其中没有任何结果文件 (not a results folder: it holds none of the result files)", .0.display())]
    #[diagnostic(code(mianshen::publish::not_a_results_folder))]
    NotAResultsFolder(PathBuf),
    #[error("结果目录不完整 `{}`, 缺少 {} (the results folder is incomplete: missing)", out.display(), missing.join(", "))]
    #[diagnostic(code(mianshen::publish::incomplete))]
    Incomplete { out: PathBuf, missing: Vec<String> },
    #[error("{0}")]
    #[diagnostic(transparent)]
    Recorded(#[from] crate::report::RecordedError),
    #[error("这次运行读的是数据库 {place} 中的表 `{table}`, 公示尚不支持数据库中的运行; 可先导出为文件再运行 (the run read the table `{table}` in the database {place}: publishing a run in a database is not supported yet; export the table and run on the file)")]
    #[diagnostic(code(mianshen::publish::in_database))]
    InDatabase { table: String, place: String },
    #[error("输入与运行清单不符 (the inputs differ from the run recorded in manifest.json):\n  {}", .0.join("\n  "))]
    #[diagnostic(code(mianshen::publish::changed))]
    Changed(Vec<String>),
    #[error("结果文件与运行不符 (the result files do not agree with the run):\n  {}", .0.join("\n  "))]
    #[diagnostic(code(mianshen::publish::mismatch))]
    Mismatch(Vec<String>),
    #[error("{0}")]
    #[diagnostic(transparent)]
    Run(#[from] crate::batch::RunError),
    #[error("{0}")]
    #[diagnostic(transparent)]
    Data(#[from] crate::data::DataError),
    #[error("不能发布到 `{}` (cannot publish into it): {why}", dir.display())]
    #[diagnostic(code(mianshen::publish::destination))]
    Destination { dir: PathBuf, why: String },
    #[error("无法写入公示文件 (cannot write the published files): {0}")]
    #[diagnostic(code(mianshen::publish::io))]
    Io(#[from] std::io::Error),
}

/// What was published.
#[derive(Debug)]
pub struct Published {
    pub dir: PathBuf,
    pub firms: u64,
    /// Firms listed per policy in force (id, title, count, funded).
    pub listed: Vec<(String, String, u64)>,
    /// What people should know (a schema without `name:`).
    pub notes: Vec<String>,
}

/// The files a publish folder holds.
pub const FILES: [&str; 8] = [
    "公示名单.xlsx",
    "公示名单.csv",
    "底数.csv",
    "待核实清单.xlsx",
    "待核实清单.csv",
    "企业汇总.csv",
    "report.html",
    "README.txt",
];

/// A firm and its decisions, on their way to be gathered.
type FirmDecisions = (firms::Firm, Vec<firms::Decision>);

/// Firms sent to be gathered at a time.
const FIRMS_PER_BATCH: usize = 1024;

/// Memory for each sort of publishing before it spills.
const SORT_MEMORY: usize = 128 << 20;

/// Publishes the run in `out`.
pub fn publish(out: &Path, opts: &Options) -> Result<Published, PublishError> {
    publish_timed(out, opts, &mut |_| {})
}

/// [`publish`], calling `lap` with the name of each phase as it ends.
pub fn publish_timed(
    out: &Path,
    opts: &Options,
    lap: &mut dyn FnMut(&str),
) -> Result<Published, PublishError> {
    let run = folder::Run::open(out, opts.policies.as_deref(), &opts.data)?;
    let program = &run.set.program;
    let schema = &program.schema;
    let dest = destination(out, opts.to.as_deref())?;
    let tmp = sibling(&dest, "partial");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    lap("open the results folder, check its inputs");
    let result = publish_into(&run, opts, &tmp, lap);
    let pass = match result {
        Ok(p) => p,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    // only the published files stay (spilled sorts are gone with them)
    for entry in std::fs::read_dir(&tmp)?.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if !FILES.contains(&name.as_str()) {
            let _ = std::fs::remove_file(entry.path());
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    if dest.exists() {
        std::fs::remove_dir_all(&dest)?;
    }
    std::fs::rename(&tmp, &dest)?;
    lap("rename the files into place");
    let mut notes = Vec::new();
    if schema.name.is_none() {
        notes.push(
            "the schema has no `name:` field, so the lists show the key alone (schema 未指定 name: 企业名称字段，名单只列统一社会信用代码)".to_string(),
        );
    }
    Ok(Published {
        dir: dest,
        firms: pass.0,
        listed: pass.1,
        notes,
    })
}

type Pass = (u64, Vec<(String, String, u64)>);

fn publish_into(
    run: &folder::Run,
    opts: &Options,
    tmp: &Path,
    lap: &mut dyn FnMut(&str),
) -> Result<Pass, PublishError> {
    let program = &run.set.program;
    let schema = &program.schema;
    let n = program.policies.len();
    let mut coverage = coverage::Coverage::new(&run.summary);
    let qualification = program
        .policies
        .iter()
        .map(|p| p.amount.is_none())
        .collect();
    let mut notice = notice::Notice::new(qualification, opts.order, SORT_MEMORY, tmp);
    let mut review = review::Review::new(schema, SORT_MEMORY, tmp);
    let mut reasons = reasons::Reasons::new(n);
    let mut firm_totals = PeopleCsv::create(&tmp.join("企业汇总.csv"), opts.encoding)?;
    firm_totals.header(&totals::HEADER)?;
    let ids: Vec<&str> = program.policies.iter().map(|p| p.id.as_str()).collect();
    // the firms are read and matched with their decisions on this thread
    // and gathered on another, in batches (a few in flight)
    let (pass, gathered) = std::thread::scope(|scope| {
        let (to, from) = std::sync::mpsc::sync_channel::<Vec<FirmDecisions>>(4);
        let gatherer = scope.spawn(|| -> std::io::Result<()> {
            for batch in from {
                for (firm, decisions) in &batch {
                    coverage.add(firm, decisions);
                    reasons.add(decisions);
                    notice.add(firm, decisions)?;
                    review.add(schema, firm, decisions)?;
                    totals::write(&mut firm_totals, firm, decisions, &ids)?;
                }
            }
            Ok(())
        });
        let stopped = || std::io::Error::other("publishing stopped gathering the firms");
        let mut batch = Vec::with_capacity(FIRMS_PER_BATCH);
        let pass = firms::each(run, tmp, |firm, decisions| {
            batch.push((firm, decisions));
            if batch.len() >= FIRMS_PER_BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(FIRMS_PER_BATCH));
                to.send(full).map_err(|_| stopped())?;
            }
            Ok(())
        });
        if pass.is_ok() && !batch.is_empty() {
            // a gatherer that stopped says why when joined
            let _ = to.send(batch);
        }
        drop(to);
        let gathered = gatherer
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("gathering the firms failed")));
        (pass, gathered)
    });
    gathered?;
    let pass = pass?;
    firm_totals.finish()?;
    lap("read the data again, match decisions.csv, write 企业汇总.csv");
    // everything must reconcile before anything is published
    let mut differ = coverage.differences(&run.summary);
    let count = |k: &str| {
        run.recorded
            .manifest
            .get("counts")
            .and_then(|c| c.get(k))
            .and_then(serde_json::Value::as_u64)
    };
    for (what, ours, theirs) in [
        ("firms", pass.firms, count("firms")),
        ("decisions", pass.decisions, count("decisions")),
        ("rejected rows", pass.rejected_rows, count("rejected_rows")),
    ] {
        if Some(ours) != theirs {
            differ.push(format!(
                "manifest.json counts {} {what}; the data and decisions.csv give {ours}",
                theirs.map_or("no".into(), |t| t.to_string())
            ));
        }
    }
    if !differ.is_empty() {
        return Err(PublishError::Mismatch(differ));
    }
    let heading = notice::Heading {
        date: opts.date,
        notice_days: opts.notice_days,
        mask: opts.mask,
    };
    let listed = run
        .summary
        .iter()
        .zip(&notice.counts)
        .filter(|(s, _)| s.in_force)
        .map(|(s, c)| (s.id.clone(), s.title.clone(), *c))
        .collect();
    // each workbook is written (and compressed) on a thread of its own
    // while this one writes the CSV files
    let mut book = Book::new(opts.sheet_rows, opts.date)?;
    let mut list = PeopleCsv::create(&tmp.join("公示名单.csv"), opts.encoding)?;
    notice.write(run, &heading, &mut list, &mut book)?;
    list.finish()?;
    lap("公示名单: sort the lists, write the CSV (the sheets on their thread)");
    // the workbook is saved (its sheets filled, compressed) on a thread of
    // its own while this one writes 底数.csv and the review lists
    coverage.write(run, None, Some(&mut book))?;
    let notice_book = book.save(&tmp.join("公示名单.xlsx"))?;
    let mut base = PeopleCsv::create(&tmp.join("底数.csv"), opts.encoding)?;
    coverage.write(run, Some(&mut base), None)?;
    base.finish()?;
    lap("底数: write the CSV (the sheet on the workbook's thread)");
    let mut book = Book::new(opts.sheet_rows, opts.date)?;
    let mut work = PeopleCsv::create(&tmp.join("待核实清单.csv"), opts.encoding)?;
    review.write(run, &mut work, &mut book)?;
    work.finish()?;
    let review_book = book.save(&tmp.join("待核实清单.xlsx"))?;
    lap("待核实清单: sort the lists, write the CSV (the sheets on their thread)");
    let page = html::report(run, &coverage, &reasons, &opts.date.to_string());
    std::fs::write(tmp.join("report.html"), page)?;
    std::fs::write(tmp.join("README.txt"), readme(run, opts))?;
    lap("report.html, README.txt");
    review_book.wait()?;
    notice_book.wait()?;
    lap("wait for the workbooks' threads: their sheets, compressed and saved");
    Ok((pass.firms, listed))
}

/// What the folder holds, for whoever opens it.
fn readme(run: &folder::Run, opts: &Options) -> String {
    let mask = opts
        .mask
        .map(|m| format!("统一社会信用代码第{}至{}位以*遮盖。\n", m.from, m.to))
        .unwrap_or_default();
    let name = if run.set.program.schema.name.is_none() {
        "schema 未指定 name: 企业名称字段，名单只列统一社会信用代码。\n"
    } else {
        ""
    };
    format!(
        "mianshen publish：数据基准日 {}，发布日期 {}，公示期 {} 天。\n{mask}{name}\
公示名单.xlsx / .csv  各政策拟兑付企业名单（兑付金额大于0；不涉及金额的资格类政策列出全部符合条件的企业），另含“底数”工作表\n\
底数.csv              各政策按区划、行业门类、企业规模的评估与兑付底数，合计与 summary.csv 一致\n\
待核实清单.xlsx / .csv 待核实企业，按缺少数据项的来源部门分表\n\
企业汇总.csv          每家企业各政策合计\n\
report.html           兑付报告（单一文件，离线可看）\n\
CSV 文件为 UTF-8（带 BOM）或 GB18030，可直接用 Excel / WPS 打开。\n",
        run.as_of, opts.date, opts.notice_days
    )
}

/// A hidden sibling of `dest` to write into first.
/// Where the published files go: `OUTDIR/publish`, or `--to`. A folder
/// that is there already is replaced only when it holds nothing but an
/// earlier publication (or nothing at all), and never when it is, or
/// holds, the results folder itself: publishing does not delete what it
/// did not write.
fn destination(out: &Path, to: Option<&Path>) -> Result<PathBuf, PublishError> {
    let dest = to.map_or_else(|| out.join("publish"), Path::to_path_buf);
    if !dest.exists() {
        return Ok(dest);
    }
    let refuse = |why: String| PublishError::Destination {
        dir: dest.clone(),
        why,
    };
    if !dest.is_dir() {
        return Err(refuse(
            "它是一个文件, 不是文件夹 (it is a file, not a folder)".into(),
        ));
    }
    // the real place ("." and "..", links) to compare and to rename into
    let real = std::fs::canonicalize(&dest)?;
    if std::fs::canonicalize(out).is_ok_and(|o| o.starts_with(&real)) {
        return Err(refuse(
            "它就是运行结果目录或包含结果目录 (it is, or holds, the results folder)".into(),
        ));
    }
    if !crate::report::is_publication(&real) {
        let mut other: Vec<String> = std::fs::read_dir(&real)?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| !FILES.contains(&n.as_str()))
            .collect();
        other.sort();
        let more = other.len().saturating_sub(5);
        other.truncate(5);
        let mut listed = other.join(", ");
        if more > 0 {
            listed.push_str(&format!(" 等另 {more} 项 (and {more} more)"));
        }
        return Err(refuse(format!(
            "其中有并非公示文件的内容: {listed}; 请换一个空文件夹或新文件夹 (it holds files publishing did not write; give an empty or new folder)"
        )));
    }
    Ok(real)
}

fn sibling(dest: &Path, what: &str) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "publish".into());
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    parent.join(format!(".{name}.{what}-{}", std::process::id()))
}
