//! `mianshen fmt [--check] PATH…`: policy files in the canonical layout.

use std::path::{Path, PathBuf};

use super::*;
use crate::diag::SourceText;
use crate::fmt::FmtError;

/// Deepest folder nesting searched for policy files.
const MAX_DEPTH: usize = 32;

fn policy_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if depth > MAX_DEPTH {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            policy_files(&p, depth + 1, out);
        } else if p.extension().is_some_and(|x| x == "policy") {
            out.push(p);
        }
    }
}

/// `mianshen fmt`: exit 0 when done (or, with `--check`, when every file
/// is already in the layout), 1 when a file needs formatting (`--check`)
/// or does not parse, 2 when a path cannot be read or written.
pub fn fmt(paths: &[PathBuf], check: bool) -> u8 {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            policy_files(p, 0, &mut found);
            found.sort();
            files.extend(found);
        } else if p.is_file() {
            files.push(p.clone());
        } else {
            eprintln!("error: `{}` 不存在 (no such file or folder)", p.display());
            return EXIT_USAGE;
        }
    }
    let mut code = EXIT_OK;
    let mut changed = 0;
    for path in &files {
        let name = path.to_string_lossy().replace('\\', "/");
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: 无法读取 `{name}`:{e} (cannot read)");
                code = code.max(EXIT_USAGE);
                continue;
            }
        };
        let src = SourceText::new(name.clone(), text.as_str());
        let out = match crate::fmt::format(&src) {
            Ok(out) => out,
            Err(FmtError::Syntax(diags)) => {
                print_diags(&diags, false);
                code = code.max(EXIT_POLICY);
                continue;
            }
            Err(FmtError::Changed) => {
                eprintln!(
                    "error: `{name}` 未格式化:排版后读出的内容会不同,这是 mianshen 的缺陷,请报告 (the layout would change the file's meaning; not written)"
                );
                code = code.max(EXIT_POLICY);
                continue;
            }
        };
        if out == text {
            continue;
        }
        changed += 1;
        if check {
            println!("需要格式化 (would reformat): {name}");
            code = code.max(EXIT_POLICY);
        } else if let Err(e) = write(path, &out) {
            eprintln!("error: 无法写入 `{name}`:{e} (cannot write)");
            code = code.max(EXIT_USAGE);
        } else {
            println!("已格式化 (formatted): {name}");
        }
    }
    if code == EXIT_OK && changed == 0 {
        println!(
            "ok: {} 个政策文件格式无误 ({} files already formatted)",
            files.len(),
            files.len()
        );
    }
    code
}

/// Replaces the file whole: written beside it, then renamed over it.
fn write(path: &Path, text: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".fmt-tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}
