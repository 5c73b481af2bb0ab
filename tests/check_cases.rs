//! The check stage on policy files (LANGUAGE.md sections 3-5), driven by
//! folders of cases under `tests/cases/check/`:
//!
//! - `ok/*.policy`: each must check clean against `schema.yaml`; the snapshot
//!   is a short description of the checked program.
//! - `err/*.policy`: each must fail; the snapshot is the rendered diagnostics.
//! - `err_sets/<name>/*.policy`: several files checked as one set, which must
//!   fail (e.g. a policy id used in two files).
//! - `lint/*.policy`: each must check clean and give `mianshen lint`
//!   warnings; the snapshot is the rendered warnings.
//!
//! Diagnostics name files relative to `tests/cases/check/`, so snapshots do not
//! depend on where the repository lives.

#[path = "common/describe.rs"]
mod describe;

use std::path::{Path, PathBuf};

use describe::describe;
use mianshen::diag::render_human;
use mianshen::load::PolicySet;

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/check")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The case's path relative to `tests/cases/check`, with `/` separators.
fn case_name(path: &Path) -> String {
    path.strip_prefix(cases_dir())
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Checks `(name, text)` files as one set. Runs on a thread with a large stack,
/// as `PolicySet::load` does, so deep (accepted) nesting cannot overflow the
/// test thread; the snapshot assertions stay on the test thread.
fn check_set(files: Vec<(String, String)>) -> Result<PolicySet, String> {
    let schema = read(&cases_dir().join("schema.yaml"));
    let worker = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let refs: Vec<(&str, &str)> = files
                .iter()
                .map(|(n, t)| (n.as_str(), t.as_str()))
                .collect();
            PolicySet::from_texts(&schema, &refs).map_err(|d| render_human(&d))
        });
    worker
        .expect("spawn the checker thread")
        .join()
        .expect("the checker must not panic")
}

fn check_file(path: &Path) -> Result<PolicySet, String> {
    check_set(vec![(case_name(path), read(path))])
}

#[test]
fn accepted_policies() {
    insta::glob!("cases/check/ok/*.policy", |path| {
        match check_file(path) {
            Ok(set) => insta::assert_snapshot!(describe(&set.program)),
            Err(rendered) => panic!("{} should check clean:\n{rendered}", case_name(path)),
        }
    });
}

#[test]
fn rejected_policies() {
    insta::glob!("cases/check/err/*.policy", |path| {
        match check_file(path) {
            Ok(_) => panic!("{} should be rejected", case_name(path)),
            Err(rendered) => insta::assert_snapshot!(rendered),
        }
    });
}

#[test]
fn rejected_policy_sets() {
    insta::glob!("cases/check/err_sets/*", |dir| {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("list the set")
            .map(|e| e.expect("a directory entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "policy"))
            .collect();
        paths.sort();
        assert!(!paths.is_empty(), "{} holds no policy file", case_name(dir));
        let files = paths.iter().map(|p| (case_name(p), read(p))).collect();
        match check_set(files) {
            Ok(_) => panic!("{} should be rejected", case_name(dir)),
            Err(rendered) => insta::assert_snapshot!(rendered),
        }
    });
}

#[test]
fn lint_warnings() {
    insta::glob!("cases/check/lint/*.policy", |path| {
        match check_file(path) {
            Ok(set) => {
                let warnings = mianshen::lint::lint(&set);
                assert!(!warnings.is_empty(), "{} gives no warning", case_name(path));
                insta::assert_snapshot!(render_human(&warnings));
            }
            Err(rendered) => panic!("{} should check clean:\n{rendered}", case_name(path)),
        }
    });
}

/// The example set and the accepted cases give no warning a lint does not
/// mean to give.
#[test]
fn example_set_lints_clean() {
    let set = PolicySet::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"))
        .expect("the example set checks");
    let warnings = mianshen::lint::lint(&set);
    assert!(warnings.is_empty(), "{}", render_human(&warnings));
}

/// The percents and multipliers `lint::percent-without-sign` must leave
/// alone (`rnd * 1.5`, `rnd * 60 / 100`, `layoff_rate <= 5.5%`, a growth
/// ratio of 1.2) give no warning.
#[test]
fn percent_forms_lint_clean() {
    let path = cases_dir().join("ok/percent_forms.policy");
    let set = check_file(&path).unwrap_or_else(|r| panic!("should check clean:\n{r}"));
    let warnings = mianshen::lint::lint(&set);
    assert!(warnings.is_empty(), "{}", render_human(&warnings));
}
