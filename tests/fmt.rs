//! `mianshen fmt`: the canonical layout of messy files (snapshots in
//! tests/cases/fmt/), formatting twice is formatting once, no comment is
//! lost or moved out of order, and a formatted set checks to the same
//! program as the set as written.

mod common;
#[path = "common/describe.rs"]
mod describe;

use std::path::{Path, PathBuf};

use mianshen::diag::SourceText;
use mianshen::load::PolicySet;
use mianshen::syntax::{lex_map, Lex};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn format(name: &str, text: &str) -> String {
    match mianshen::fmt::format(&SourceText::new(name, text)) {
        Ok(out) => out,
        Err(e) => panic!("{name} does not format: {e:?}"),
    }
}

/// Every comment of a text, in order.
fn comments(text: &str) -> Vec<String> {
    let lex = lex_map(text);
    let mut out = Vec::new();
    let mut current = String::new();
    for (i, c) in text.char_indices() {
        if lex.get(i) == Some(&Lex::Comment) {
            current.push(c);
        } else if !current.is_empty() {
            out.push(current.trim_end().to_string());
            current.clear();
        }
    }
    if !current.is_empty() {
        out.push(current.trim_end().to_string());
    }
    out
}

fn policy_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            policy_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "policy") {
            out.push(p);
        }
    }
    out.sort();
}

fn check_layout(name: &str, text: &str) -> String {
    let once = format(name, text);
    assert_eq!(
        format(name, &once),
        once,
        "{name}: formatting twice changes it"
    );
    assert_eq!(
        comments(&once),
        comments(text),
        "{name}: a comment was lost or moved"
    );
    once
}

#[test]
fn layouts() {
    insta::glob!("cases/fmt/*.policy", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        insta::assert_snapshot!(check_layout(&path.display().to_string(), &text));
    });
}

/// The describe text of a set's program, without where `paid` calls stand.
fn program(dir: &Path) -> String {
    let set = PolicySet::load(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    describe::describe(&set.program)
        .lines()
        .filter(|l| !l.contains(" reads "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The example sets and every accepted check case: idempotent, comments
/// kept, and the formatted set compiles to the same program.
#[test]
fn formatting_keeps_the_meaning() {
    // deeply nested accepted cases need the stack the checker runs with
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(keeps_the_meaning)
        .unwrap()
        .join()
        .unwrap();
}

fn keeps_the_meaning() {
    let sets = [
        root().join("policies"),
        root().join("examples/programme/policies"),
    ];
    for set in sets {
        let copy = std::env::temp_dir().join(format!(
            "mianshen-fmt-{}-{}",
            set.parent()
                .and_then(|p| p.file_name())
                .unwrap()
                .to_string_lossy(),
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&copy);
        common::copy_dir(&set, &copy);
        let mut files = Vec::new();
        policy_files(&copy, &mut files);
        assert!(!files.is_empty());
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap();
            let out = check_layout(&f.display().to_string(), &text);
            std::fs::write(f, out).unwrap();
        }
        assert_eq!(program(&copy), program(&set), "{}", set.display());
        let _ = std::fs::remove_dir_all(&copy);
    }
    let schema = std::fs::read_to_string(root().join("tests/cases/check/schema.yaml")).unwrap();
    let mut files = Vec::new();
    policy_files(&root().join("tests/cases/check/ok"), &mut files);
    policy_files(&root().join("tests/cases/fmt"), &mut files);
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&f).unwrap();
        let out = check_layout(&name, &text);
        let before = PolicySet::from_texts(&schema, &[(&name, &text)]);
        let after = PolicySet::from_texts(&schema, &[(&name, &out)]);
        match (before, after) {
            (Ok(a), Ok(b)) => {
                let strip = |s: String| {
                    s.lines()
                        .filter(|l| !l.contains(" reads "))
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                assert_eq!(
                    strip(describe::describe(&b.program)),
                    strip(describe::describe(&a.program)),
                    "{name}"
                );
            }
            (Err(_), Err(_)) => {}
            _ => panic!("{name}: formatting changed whether it checks"),
        }
    }
}

#[test]
fn a_file_that_does_not_parse_is_not_formatted() {
    let e = mianshen::fmt::format(&SourceText::new("x.policy", "policy x { require = }"));
    assert!(matches!(e, Err(mianshen::fmt::FmtError::Syntax(_))));
}
