//! `mianshen test DIR|FILE… [--case NAME] [--format junit]`: the officers'
//! cases, of whole sets, single files or single cases.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use super::*;
use crate::cases::{self, CaseFile, CaseResult};

/// How `mianshen test` reports.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TestFormat {
    /// Case by case, `PASS`/`FAIL` coloured on a terminal, then a summary.
    Human,
    /// JUnit XML on standard output, for CI systems.
    Junit,
}

pub struct TestArgs<'a> {
    /// Policy set folders, their `tests/` folders or single test files.
    pub paths: &'a [PathBuf],
    /// Only the cases whose name holds this text.
    pub case: Option<&'a str>,
    pub format: TestFormat,
    pub json_errors: bool,
}

/// One policy set and the test files to run against it.
struct Group {
    set: PathBuf,
    files: Vec<PathBuf>,
}

/// What a path on the command line names: a set (all its tests), a set's
/// `tests/` folder, or one test file.
fn group_of(path: &Path) -> Result<Group, String> {
    if path.is_dir() {
        if path.join("schema.yaml").is_file() {
            return Ok(Group {
                set: path.to_path_buf(),
                files: cases::find(path),
            });
        }
        if let Some(set) = path.parent().filter(|p| p.join("schema.yaml").is_file()) {
            return Ok(Group {
                set: set.to_path_buf(),
                files: cases::find(set),
            });
        }
        return Err(format!(
            "`{}` 不是政策集目录(没有 schema.yaml) (not a policy set folder)",
            path.display()
        ));
    }
    if path.is_file() {
        return match cases::set_of(path) {
            Some(set) => Ok(Group {
                set,
                files: vec![path.to_path_buf()],
            }),
            None => Err(format!(
                "找不到 `{}` 所属的政策集:它应在政策集的 tests/ 目录里 (no schema.yaml above it)",
                path.display()
            )),
        };
    }
    Err(format!(
        "`{}` 不存在 (no such file or folder)",
        path.display()
    ))
}

/// Groups the paths by policy set, in the order first named.
fn groups(paths: &[PathBuf]) -> Result<Vec<Group>, String> {
    let mut out: Vec<Group> = Vec::new();
    for p in paths {
        let g = group_of(p)?;
        match out.iter_mut().find(|o| o.set == g.set) {
            Some(o) => {
                for f in g.files {
                    if !o.files.contains(&f) {
                        o.files.push(f);
                    }
                }
            }
            None => out.push(g),
        }
    }
    Ok(out)
}

fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `mianshen test`: exit 0 when every case passed, 1 when one failed or a
/// test file or the set did not read, 2 for a path that is not there.
pub fn test(args: &TestArgs<'_>) -> u8 {
    let groups = match groups(args.paths) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let mut results: Vec<(String, Vec<CaseResult>)> = Vec::new();
    let mut broken: Vec<Diagnostic> = Vec::new();
    let mut code = EXIT_OK;
    for g in &groups {
        if g.files.is_empty() {
            eprintln!(
                "error: `{}` 里没有测试文件:用例写在 tests/*.yaml (no test files)",
                g.set.join("tests").display()
            );
            code = code.max(EXIT_POLICY);
            continue;
        }
        let set = match load(&g.set, args.json_errors) {
            Ok(s) => s,
            Err(c) => {
                code = code.max(c);
                continue;
            }
        };
        let mut files: Vec<CaseFile> = Vec::new();
        for p in &g.files {
            match cases::load(p) {
                Ok(f) => files.push(f),
                Err(d) => broken.push(d),
            }
        }
        if let Some(name) = args.case {
            for f in &mut files {
                f.cases.retain(|c| c.name.contains(name));
            }
            files.retain(|f| !f.cases.is_empty());
        }
        results.extend(cases::run_files(&set.program, &files));
    }
    if let Some(name) = args.case {
        if results.is_empty() && broken.is_empty() && code == EXIT_OK {
            eprintln!("error: 没有名称含 `{name}` 的用例 (no case named so)");
            return EXIT_USAGE;
        }
    }
    let (text, passed, failed) = cases::render_styled(&results, colour());
    match args.format {
        TestFormat::Junit => print!("{}", cases::junit::render(&results, &broken)),
        TestFormat::Human => print!("{text}"),
    }
    if !broken.is_empty() {
        print_diags(&broken, args.json_errors);
    }
    let failed = failed + broken.len();
    // the English ends the line, as scripts read it: `N passed, M failed`
    let summary = format!("通过 {passed},失败 {failed}: {passed} passed, {failed} failed");
    match args.format {
        TestFormat::Junit => eprintln!("{summary}"),
        TestFormat::Human => println!("{summary}"),
    }
    if failed > 0 {
        code = code.max(EXIT_POLICY);
    }
    code
}
