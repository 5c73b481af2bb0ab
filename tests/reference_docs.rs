//! The language references (docs/reference.zh.md, docs/reference.md): every
//! ```policy block is a whole policy file that checks against the check
//! cases' schema and is already in `mianshen fmt`'s layout, and every
//! ```yaml block holding `cases:` reads as a test file with no broken case.

use std::path::{Path, PathBuf};

use mianshen::diag::{render_human, SourceText};
use mianshen::load::PolicySet;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The blocks fenced ```lang in a Markdown text, with the line each starts on.
fn blocks(text: &str, lang: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        match &mut current {
            None if line.trim() == format!("```{lang}") => current = Some((i + 2, String::new())),
            None => {}
            Some(_) if line.trim() == "```" => out.extend(current.take()),
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    out
}

fn check_reference(doc: &str) {
    let text = std::fs::read_to_string(root().join(doc)).unwrap();
    let schema = std::fs::read_to_string(root().join("tests/cases/check/schema.yaml")).unwrap();
    let policies = blocks(&text, "policy");
    assert!(
        policies.len() >= 10,
        "{doc}: only {} policy blocks",
        policies.len()
    );
    for (line, body) in &policies {
        let name = format!("{doc}:{line}");
        if let Err(d) = PolicySet::from_texts(&schema, &[(&name, body)]) {
            panic!("{name} does not check:\n{}", render_human(&d));
        }
        let formatted = mianshen::fmt::format(&SourceText::new(name.as_str(), body.as_str()))
            .unwrap_or_else(|e| panic!("{name} does not format: {e:?}"));
        assert_eq!(&formatted, body, "{name} is not in `mianshen fmt`'s layout");
    }
    for (line, body) in blocks(&text, "yaml") {
        if !body.contains("cases:") {
            continue;
        }
        let name = format!("{doc}:{line}");
        let file = mianshen::cases::parse(&name, &body).unwrap_or_else(|e| panic!("{e}"));
        for case in &file.cases {
            assert!(
                case.problem.is_none(),
                "{name}: {}: {:?}",
                case.name,
                case.problem
            );
        }
    }
}

#[test]
fn the_chinese_reference_checks() {
    check_reference("docs/reference.zh.md");
}

#[test]
fn the_english_reference_checks() {
    check_reference("docs/reference.md");
}
