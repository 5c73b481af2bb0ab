//! `mianshen publish OUTDIR`: the lists, figures and report of a finished run.

use std::path::{Path, PathBuf};

use super::*;
use crate::publish::{ListOrder, Mask, Options, PeopleEncoding};

/// The command line of `publish` (and of `run … --publish`).
pub struct PublishArgs {
    pub policies: Option<PathBuf>,
    pub data: Vec<crate::data::Input>,
    pub to: Option<PathBuf>,
    /// `FROM-TO`: the characters of the key to hide (1-based).
    pub mask_key: Option<String>,
    pub notice_days: u32,
    /// The day of publication, YYYY-MM-DD (required).
    pub date: Option<String>,
    pub order_by_key: bool,
    pub gb18030: bool,
    pub sheet_rows: u32,
    /// Print how long each phase took (on standard error).
    pub timings: bool,
}

/// `mianshen publish OUTDIR`
pub fn publish(out: &Path, args: &PublishArgs) -> u8 {
    let mut clock = Timings {
        on: args.timings,
        last: std::time::Instant::now(),
    };
    let mask = match &args.mask_key {
        None => None,
        Some(m) => match Mask::parse(m) {
            Some(m) => Some(m),
            None => {
                eprintln!("error: `--mask-key {m}` 不是位数范围: 请写成 起-止, 如 `--mask-key 7-14` 遮盖第7至14位 (not a range of characters: write FROM-TO)");
                return EXIT_USAGE;
            }
        },
    };
    let date = match &args.date {
        Some(d) => match parse_date(d) {
            Ok(d) => d,
            Err(c) => return c,
        },
        None => return publish_needs_date(),
    };
    let opts = Options {
        policies: args.policies.clone(),
        data: args.data.clone(),
        to: args.to.clone(),
        mask,
        notice_days: args.notice_days.max(1),
        date,
        order: if args.order_by_key {
            ListOrder::Key
        } else {
            ListOrder::Amount
        },
        encoding: if args.gb18030 {
            PeopleEncoding::Gb18030
        } else {
            PeopleEncoding::Utf8Bom
        },
        sheet_rows: args.sheet_rows,
    };
    match crate::publish::publish_timed(out, &opts, &mut |what| clock.lap(what)) {
        Ok(p) => {
            for n in &p.notes {
                eprintln!("注意 note: {n}");
            }
            println!(
                "已发布: 共评估 {} 家企业 (published: firms evaluated)",
                p.firms
            );
            for (id, title, n) in &p.listed {
                println!("  {title} ({id}): 公示 {n} 家");
            }
            println!("文件在 {}/ (files in it)", p.dir.display());
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_USAGE
        }
    }
}

fn parse_date(s: &str) -> Result<Date, u8> {
    Date::parse_iso(s).ok_or_else(|| {
        eprintln!("error: `--date {s}` 不是日期: 请写成 YYYY-MM-DD (not a date: write YYYY-MM-DD)");
        EXIT_USAGE
    })
}

/// A publication without `--date`: refused, the date is an input.
pub fn publish_needs_date() -> u8 {
    eprintln!("error: 请用 --date YYYY-MM-DD 给出公示日期; 日期是输入, 不取自系统时钟, 同一次运行两次发布得到相同的文件 (give the day of publication with --date YYYY-MM-DD: the date is an input, never read from the clock)");
    EXIT_USAGE
}
