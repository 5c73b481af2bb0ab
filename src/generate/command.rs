//! `mianshen generate DIR`: synthetic firms for a schema, as one file or as
//! the departments' files.

use std::path::Path;

use mianshen::cli::{print_diags, EXIT_OK, EXIT_POLICY, EXIT_USAGE};

use super::split::{generate_split, Formats};
use super::{Format, GenOptions};

/// What `mianshen generate` is asked.
pub struct GenerateArgs<'a> {
    pub dir: &'a Path,
    pub rows: u64,
    pub seed: u64,
    pub messy: bool,
    pub bad_rows: f64,
    /// A file (default: standard output); with `split`, a folder.
    pub output: Option<&'a Path>,
    /// `--split-by-source`, with its `--format [SOURCE=]FORMAT`s.
    pub split: Option<&'a [String]>,
}

/// `mianshen generate DIR`: synthetic firms for the set's schema.
pub fn generate(args: &GenerateArgs<'_>) -> u8 {
    let schema_path = args.dir.join("schema.yaml");
    let text = match std::fs::read_to_string(&schema_path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!(
                "error: 无法读取 `{}` (cannot read the schema): {e}",
                schema_path.display()
            );
            return EXIT_USAGE;
        }
    };
    let schema = match mianshen::schema::Schema::load(&mianshen::diag::SourceText::new(
        schema_path.to_string_lossy(),
        text,
    )) {
        Ok(s) => s,
        Err(diags) => {
            print_diags(&diags, false);
            return EXIT_POLICY;
        }
    };
    if !(0.0..=1.0).contains(&args.bad_rows) {
        let b = args.bad_rows;
        eprintln!(
            "error: `--bad-rows {b}` 须是 0 到 1 之间的比例 (must be a fraction from 0 to 1)"
        );
        return EXIT_USAGE;
    }
    let opts = GenOptions {
        rows: args.rows,
        seed: args.seed,
        messy: args.messy,
        bad_rows: args.bad_rows,
    };
    if let Some(formats) = args.split {
        return split(&schema, &opts, formats, args.output);
    }
    let written = match args.output {
        Some(path) => std::fs::File::create(path).and_then(|f| {
            let mut w = std::io::BufWriter::new(f);
            super::generate(&schema, &opts, &mut w)?;
            std::io::Write::flush(&mut w)
        }),
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            super::generate(&schema, &opts, &mut w).and_then(|_| std::io::Write::flush(&mut w))
        }
    };
    match written {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("error: 无法写出企业数据 (cannot write the firms): {e}");
            EXIT_USAGE
        }
    }
}

/// `--split-by-source -o DIR`: the department files, then the `--data`
/// arguments that run them.
fn split(
    schema: &mianshen::schema::Schema,
    opts: &GenOptions,
    formats: &[String],
    output: Option<&Path>,
) -> u8 {
    let Some(dir) = output else {
        eprintln!("error: 按部门拆分需要输出目录 (--split-by-source writes several files: give the folder with -o DIR)");
        return EXIT_USAGE;
    };
    let formats = match parse_formats(schema, formats) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    match generate_split(schema, opts, &formats, dir) {
        Ok(departments) => {
            println!(
                "已写入 {} 个部门文件到 {} (wrote the department files):",
                departments.len(),
                dir.display()
            );
            for d in &departments {
                println!("  {}: {} 行 (rows)", d.file, d.rows);
            }
            let args: Vec<String> = departments
                .iter()
                .map(|d| format!("--data {}", d.data_arg(dir)))
                .collect();
            println!("运行 (run them with): {}", args.join(" "));
            EXIT_OK
        }
        Err(e) => {
            eprintln!(
                "error: 无法把部门文件写入 `{}` (cannot write the department files): {e}",
                dir.display()
            );
            EXIT_USAGE
        }
    }
}

/// `--format [SOURCE=]FORMAT`s: a SOURCE must be one of the schema's.
fn parse_formats(schema: &mianshen::schema::Schema, args: &[String]) -> Result<Formats, String> {
    let sources: Vec<&str> = schema
        .fields
        .iter()
        .filter_map(|f| f.source.as_deref())
        .collect();
    let mut formats = Formats::default();
    for arg in args {
        let (source, name) = match arg.rsplit_once('=') {
            Some((s, f)) => (Some(s.trim()), f),
            None => (None, arg.as_str()),
        };
        let Some(format) = Format::parse(name) else {
            return Err(format!(
                "`--format {arg}`: 未知格式 `{name}` (unknown format): write csv, gbk, jsonl or xlsx"
            ));
        };
        match source {
            None => formats.all = Some(format),
            Some(s) if sources.contains(&s) => formats.by_source.push((s.to_string(), format)),
            Some(s) => {
                let close = mianshen::suggest::closest(s, sources.iter().copied())
                    .map(|c| format!(" 是不是 `{c}`? (did you mean `{c}`?)"))
                    .unwrap_or_default();
                return Err(format!(
                    "`--format {arg}`: 没有字段的 source 为 `{s}` (no field of the schema has `source: {s}`){close}"
                ));
            }
        }
    }
    Ok(formats)
}
