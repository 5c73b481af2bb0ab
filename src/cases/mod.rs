//! Test cases written by policy officers (`tests/*.yaml`, LANGUAGE.md
//! section 9), and `mianshen test`.

pub mod junit;
pub mod source;

use std::path::{Path, PathBuf};

use rust_decimal::Decimal;
use serde_yaml_ng::Value as Yaml;

use crate::batch::{records, RunOptions};
use crate::data::named::{self, Input};
use crate::date::Date;
use crate::diag::{Diagnostic, SourceText};
use crate::program::Program;
use crate::width::{pad_right, width};

/// A test file: its reference date and cases.
#[derive(Debug)]
pub struct CaseFile {
    pub path: String,
    pub cases: Vec<Case>,
}

#[derive(Debug)]
pub struct Case {
    pub name: String,
    /// The line of the file where the case starts (its `name:`).
    pub line: Option<usize>,
    pub as_of: Date,
    /// Each firm's values, by column name.
    pub firms: Vec<Vec<(String, Input)>>,
    /// `(firm key or None for the single firm, policy id, expectation)`.
    pub expect: Vec<(Option<String>, String, Expect)>,
    /// The prior payments `paid` and `last_paid` read (`ledger:`).
    pub ledger: Vec<CasePayment>,
    /// What is wrong with the case as written (it then fails alone).
    pub problem: Option<String>,
}

/// One payment of a case's `ledger:`, as written.
#[derive(Debug, Default, Clone)]
pub struct CasePayment {
    /// None: the case's single firm.
    pub key: Option<String>,
    pub policy: String,
    pub amount: String,
    pub paid_on: String,
}

/// What a case expects of one decision; it names only what it checks.
#[derive(Debug, Default, Clone)]
pub struct Expect {
    pub outcome: Option<String>,
    pub amount: Option<Option<Decimal>>,
    pub funded: Option<Option<Decimal>>,
    pub reasons: Vec<String>,
}

/// The result of one case.
#[derive(Debug)]
pub struct CaseResult {
    pub name: String,
    /// The line of its file where the case starts.
    pub line: Option<usize>,
    /// Empty when the case passed: one line per mismatch, `what | expected | actual`.
    pub mismatches: Vec<[String; 3]>,
    /// A problem with the case itself (bad firm data, unknown policy).
    pub errors: Vec<String>,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty() && self.errors.is_empty()
    }
}

/// The test files of a policy set: `DIR/tests/*.yaml` (and `*.yml`), by path.
pub fn find(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir.join("tests"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The policy set a test file belongs to: the folder above its `tests/`
/// folder, or the nearest folder above it holding `schema.yaml`.
pub fn set_of(file: &Path) -> Option<PathBuf> {
    let parent = file.parent()?;
    if parent.file_name().is_some_and(|n| n == "tests") {
        if let Some(set) = parent.parent() {
            if set.join("schema.yaml").is_file() {
                return Some(set.to_path_buf());
            }
        }
    }
    parent
        .ancestors()
        .take(4)
        .find(|d| d.join("schema.yaml").is_file())
        .map(Path::to_path_buf)
}

/// Reads a test file (UTF-8 or GBK). A file that cannot be read or is not
/// a test file is a diagnostic naming the file and, where known, the line.
pub fn load(path: &Path) -> Result<CaseFile, Diagnostic> {
    let src = source::read(path)?;
    parse_source(&src)
}

/// Parses the text of a test file; the error is the diagnostic's message.
pub fn parse(name: &str, text: &str) -> Result<CaseFile, String> {
    parse_source(&SourceText::new(name, text)).map_err(|d| format!("{name}: {}", d.message))
}

/// The line of the first top-level `key:` of a file, for placing a problem.
fn top_key(src: &SourceText, key: &str) -> Option<(usize, usize)> {
    let mut at = 0;
    for line in src.text.split_inclusive('\n') {
        if line.starts_with(&format!("{key}:")) {
            return Some((at, at + key.len()));
        }
        at += line.len();
    }
    None
}

/// Parses a test file.
pub fn parse_source(src: &SourceText) -> Result<CaseFile, Diagnostic> {
    let name = src.name.as_str();
    let doc: Yaml = serde_yaml_ng::from_str(&src.text).map_err(|e| source::yaml_error(src, &e))?;
    let place = |d: Diagnostic, key: &str| match top_key(src, key) {
        Some((a, b)) => d.at(src, a, b),
        None => d.in_file(name),
    };
    let top_as_of = match doc.get("as_of") {
        Some(v) => Some(date(v).map_err(|e| {
            place(
                Diagnostic::new("test::as-of", format!("as_of: {e}")),
                "as_of",
            )
        })?),
        None => None,
    };
    let Some(cases) = doc.get("cases").and_then(|c| c.as_sequence()) else {
        let d = Diagnostic::new(
            "test::cases",
            "测试文件要有 `cases:`,下面是用例的列表 (a test file has `cases:`, a list of cases)",
        )
        .help("写成:\ncases:\n  - name: 用例名称\n    firm: { … }\n    expect: { … }");
        return Err(place(d, "cases"));
    };
    let mut out = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let case_name = c
            .get("name")
            .map(scalar)
            .unwrap_or_else(|| format!("第 {} 个用例 (case {}, no name)", i + 1, i + 1));
        let line = source::case_item_line(src, i).or_else(|| source::case_line(src, &case_name));
        // a broken case fails alone; the others of the file still run
        match case(c, top_as_of) {
            Ok((as_of, firms, expect, ledger)) => out.push(Case {
                line,
                name: case_name,
                as_of,
                firms,
                expect,
                ledger,
                problem: None,
            }),
            Err(e) => out.push(Case {
                line,
                name: case_name,
                as_of: top_as_of.unwrap_or(Date::EPOCH),
                firms: Vec::new(),
                expect: Vec::new(),
                ledger: Vec::new(),
                problem: Some(e),
            }),
        }
    }
    Ok(CaseFile {
        path: name.to_string(),
        cases: out,
    })
}

type CaseBody = (
    Date,
    Vec<Vec<(String, Input)>>,
    Vec<(Option<String>, String, Expect)>,
    Vec<CasePayment>,
);

/// The items a case may have.
const CASE_ITEMS: [&str; 6] = ["name", "as_of", "firm", "firms", "expect", "ledger"];

/// The items an expectation may have.
const EXPECT_ITEMS: [&str; 4] = ["outcome", "amount", "funded", "reasons"];

/// `m` has only `known` keys; otherwise every other one is named, with
/// those it may have: "不认识的用例项 `nme` (…):可用 name、… (unknown case item)".
fn only_known(
    m: &serde_yaml_ng::Mapping,
    known: &[&str],
    zh: &str,
    en: &str,
) -> Result<(), String> {
    let unknown = unknown_keys(m, known);
    if unknown.is_empty() {
        return Ok(());
    }
    Err(format!(
        "不认识的{zh} {}:可用 {} (unknown {en})",
        unknown.join("、"),
        known.join("、")
    ))
}

/// Every key of `m` that is not among `known`, each with the closest known
/// one when it looks like a slip: "`nme` (是不是 `name`?)".
fn unknown_keys(m: &serde_yaml_ng::Mapping, known: &[&str]) -> Vec<String> {
    m.keys()
        .map(scalar)
        .filter(|k| !known.contains(&k.as_str()))
        .map(|k| {
            if k.contains('：') {
                return format!("`{k}` (含全角冒号 `：`, 应为半角 `:` a full-width colon)");
            }
            match crate::suggest::closest(&k, known.iter().copied()) {
                Some(near) => format!("`{k}` (是不是 `{near}`? did you mean `{near}`?)"),
                None => format!("`{k}`"),
            }
        })
        .collect()
}

/// One case's date, firms and expectations.
fn case(c: &Yaml, top_as_of: Option<Date>) -> Result<CaseBody, String> {
    if let Some(m) = c.as_mapping() {
        only_known(m, &CASE_ITEMS, "用例项", "case item")?;
    }
    let as_of = match c.get("as_of") {
        Some(v) => date(v).map_err(|e| format!("as_of: {e}"))?,
        None => top_as_of.ok_or(
            "没有 `as_of`: 写在文件开头或用例里 (no `as_of`: give it at the top of the file or in the case)",
        )?,
    };
    // before the firm: an `expect:` indented into `firm:` is named as such
    if c.get("expect").and_then(|e| e.as_mapping()).is_none() {
        return Err(missing_expect(c));
    }
    let (firms, multi) = match (c.get("firm"), c.get("firms")) {
        (Some(f), None) => (vec![values(f)?], false),
        (None, Some(Yaml::Sequence(fs))) => {
            (fs.iter().map(values).collect::<Result<Vec<_>, _>>()?, true)
        }
        _ => {
            return Err(
                "用例要写 `firm:`(一家企业)或 `firms:`(多家企业的列表),只写其一 (a case has either `firm:` or `firms:`)"
                    .into(),
            )
        }
    };
    let Some(expect_map) = c.get("expect").and_then(|e| e.as_mapping()) else {
        return Err(missing_expect(c));
    };
    let mut expect = Vec::new();
    for (k, v) in expect_map {
        if multi {
            let key = scalar(k);
            let Some(per) = v.as_mapping() else {
                return Err(format!(
                    "expect `{key}`:多企业用例的 expect 先写企业主键,下面再写各政策的预期 (map policy ids to expectations)"
                ));
            };
            for (p, e) in per {
                expect.push((Some(key.clone()), scalar(p), expectation(e)?));
            }
        } else {
            expect.push((None, scalar(k), expectation(v)?));
        }
    }
    let ledger = match c.get("ledger") {
        None | Some(Yaml::Null) => Vec::new(),
        Some(Yaml::Sequence(rows)) => rows
            .iter()
            .enumerate()
            .map(|(i, r)| payment(r, firms.len() > 1).map_err(|e| format!("ledger 第 {} 笔兑付 (payment {}): {e}", i + 1, i + 1)))
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err("`ledger:` 是兑付记录的列表,每项如 `{ policy: xiaojuren_2022, amount: 100万, paid_on: 2022-09-30 }` (a list of payments)".into())
        }
    };
    Ok((as_of, firms, expect, ledger))
}

/// One payment of `ledger:`: `key` (may be left out when the case has one
/// firm, given as `firm:` or as a `firms:` list of one), `policy`, `amount`,
/// `paid_on`.
fn payment(r: &Yaml, several_firms: bool) -> Result<CasePayment, String> {
    let Some(m) = r.as_mapping() else {
        return Err("每笔兑付写成 `{ policy: xiaojuren_2022, amount: 100万, paid_on: 2022-09-30 }` (a payment is a mapping)".into());
    };
    let mut p = CasePayment::default();
    for (k, v) in m {
        let text = match v {
            Yaml::Number(n) => number_text(n)?,
            other => scalar(other),
        };
        match scalar(k).as_str() {
            "key" => p.key = Some(text),
            "policy" => p.policy = text,
            "amount" => p.amount = text,
            "paid_on" => p.paid_on = text,
            other => {
                return Err(format!(
                "兑付记录里不认识的项 `{other}`:可用 key、policy、amount、paid_on (unknown item)"
            ))
            }
        }
    }
    if several_firms && p.key.is_none() {
        return Err(
            "多企业用例的每笔兑付要写 `key:` 指明是哪家企业 (name the firm of each payment)".into(),
        );
    }
    Ok(p)
}

fn scalar(v: &Yaml) -> String {
    match v {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Null => String::new(),
        other => format!("{other:?}"),
    }
}

/// A YAML number as exact text. YAML parsers read decimals as binary floats;
/// up to 15 significant digits the shortest form gives back exactly what was
/// written, beyond that the case must quote the number.
fn number_text(n: &serde_yaml_ng::Number) -> Result<String, String> {
    let t = n.to_string();
    if n.is_f64() {
        let digits = t
            .chars()
            .take_while(|c| *c != 'e' && *c != 'E')
            .filter(|c| c.is_ascii_digit())
            .count();
        if digits > 15 || t.contains(['e', 'E']) || t.contains("inf") || t.contains("NaN") {
            return Err(format!(
                "`{t}` 位数太多,YAML 无法精确读取,请加引号 (too long to be read exactly as a YAML number: put it in quotes)"
            ));
        }
    }
    Ok(t)
}

/// A date in any form a data file may write it (`2024-12-31`, `2024/12/31`,
/// `20241231`, `2024年12月31日`), read by the data files' own rule.
fn date(v: &Yaml) -> Result<Date, String> {
    let s = scalar(v);
    match crate::data::parse_cell(&crate::schema::FieldType::Date, &s) {
        Ok(crate::record::Cell::Date(d)) => Ok(d),
        Ok(_) => Err("没有写日期 (no date given): 写成 `2024-12-31`".into()),
        Err(e) => Err(e),
    }
}

/// Why a case has no usable `expect:`, guessing the indentation slip.
fn missing_expect(c: &Yaml) -> String {
    let nested_in = ["firm", "firms", "ledger"]
        .into_iter()
        .find(|k| match c.get(*k) {
            Some(Yaml::Mapping(m)) => m.contains_key("expect"),
            Some(Yaml::Sequence(xs)) => xs.iter().any(|x| x.get("expect").is_some()),
            _ => false,
        });
    match (nested_in, c.get("expect")) {
        (Some(k), _) => format!(
            "`expect:` 缩进多了,写进了 `{k}:` 里面;请让 `expect:` 与 `{k}:` 左端对齐 (`expect:` is indented under `{k}:`)"
        ),
        (None, Some(Yaml::Null)) => "`expect:` 下面是空的:各政策的期望要比 `expect:` 多缩进两格 (nothing is indented under `expect:`)".into(),
        (None, Some(_)) => "`expect:` 要写成政策编号到期望的对应,如 `expect: { wengang_2024: { outcome: eligible } }`".into(),
        (None, None) => "用例缺少 `expect:`(期望的结果);它与 `firm:` 左端对齐 (a case needs `expect:`)".into(),
    }
}

/// An outcome as the case writes it, English or Chinese, as the engine names it.
fn outcome_name(o: &str) -> Option<&'static str> {
    Some(match o {
        "eligible" | "符合" => "eligible",
        "ineligible" | "不符合" => "ineligible",
        "review" | "待核实" => "review",
        "not_in_force" | "未生效" | "不在有效期" => "not_in_force",
        _ => return None,
    })
}

fn values(f: &Yaml) -> Result<Vec<(String, Input)>, String> {
    let Some(m) = f.as_mapping() else {
        return Err(
            "企业写成字段名到值的对应,如 `{ uscc: \"…\", employees: 120 }` (a firm is a mapping)"
                .into(),
        );
    };
    let mut out = Vec::new();
    for (k, v) in m {
        let input = match v {
            Yaml::Null => Input::Missing,
            Yaml::String(s) => Input::Text(s.clone()),
            Yaml::Bool(b) => Input::Text(b.to_string()),
            Yaml::Number(n) => {
                Input::Text(number_text(n).map_err(|e| format!("`{}`: {e}", scalar(k)))?)
            }
            Yaml::Sequence(items) => Input::List(items.iter().map(scalar).collect()),
            _ => {
                return Err(format!(
                    "`{}`:值应是文字、数字或列表 (a text, a number or a list)",
                    scalar(k)
                ))
            }
        };
        out.push((scalar(k), input));
    }
    Ok(out)
}

fn money(v: &Yaml) -> Result<Option<Decimal>, String> {
    let text = match v {
        Yaml::Null => return Ok(None),
        Yaml::Number(n) => number_text(n)?,
        other => scalar(other),
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    match crate::data::parse_cell(&crate::schema::FieldType::Money, &text) {
        Ok(crate::record::Cell::Num(d)) => Ok(Some(d)),
        Ok(_) => Ok(None),
        Err(e) => Err(e),
    }
}

fn expectation(v: &Yaml) -> Result<Expect, String> {
    let Some(m) = v.as_mapping() else {
        return Err(
            "an expectation is a mapping like `{ outcome: eligible, amount: 60000.00 }`".into(),
        );
    };
    only_known(m, &EXPECT_ITEMS, "预期项", "expectation")?;
    let mut e = Expect::default();
    for (k, val) in m {
        match scalar(k).as_str() {
            "outcome" => {
                let o = scalar(val);
                let Some(name) = outcome_name(&o) else {
                    return Err(format!(
                        "outcome `{o}` 不是可用的结果:符合/eligible、不符合/ineligible、待核实/review、未生效/not_in_force"
                    ));
                };
                e.outcome = Some(name.to_string());
            }
            "amount" => e.amount = Some(money(val).map_err(|x| format!("amount: {x}"))?),
            "funded" => e.funded = Some(money(val).map_err(|x| format!("funded: {x}"))?),
            "reasons" => match val {
                Yaml::Sequence(items) => e.reasons = items.iter().map(scalar).collect(),
                other => e.reasons = vec![scalar(other)],
            },
            // every other key was refused above
            _ => {}
        }
    }
    Ok(e)
}

fn show_money(d: Option<Decimal>) -> String {
    d.map(|d| crate::eval::cents(d).to_string())
        .unwrap_or_else(|| "(none)".into())
}

/// Runs one case against a program.
pub fn run_case(program: &Program, case: &Case) -> CaseResult {
    let mut result = CaseResult {
        name: case.name.clone(),
        line: case.line,
        mismatches: Vec::new(),
        errors: Vec::new(),
    };
    if let Some(p) = &case.problem {
        result.errors.push(p.clone());
        return result;
    }
    let mut records = Vec::new();
    for (i, values) in case.firms.iter().enumerate() {
        match named::record(&program.schema, i as u64 + 1, values) {
            Ok(r) => records.push(r),
            Err(es) => result.errors.extend(
                es.into_iter()
                    .map(|e| format!("第 {} 家企业 (firm {}): {e}", i + 1, i + 1)),
            ),
        }
    }
    let single_key = records.first().map(|r| r.key(program.schema.key));
    let mut ledger =
        crate::data::ledger::Ledger::adding(program.ledger_ids.len(), program.schema.key_type());
    for (i, p) in case.ledger.iter().enumerate() {
        let key = p
            .key
            .clone()
            .or_else(|| single_key.clone())
            .unwrap_or_default();
        if let Err(e) = ledger.add(
            &program.ledger_ids,
            &key,
            &p.policy,
            &p.amount,
            &p.paid_on,
            0,
        ) {
            result.errors.push(format!(
                "ledger 第 {} 笔兑付 (payment {}): {e}",
                i + 1,
                i + 1
            ));
        }
    }
    let ledger = match ledger.finish() {
        Ok(ledger) => ledger,
        Err(e) => {
            result.errors.push(format!("ledger: {e}"));
            return result;
        }
    };
    if !result.errors.is_empty() {
        return result;
    }
    let run = match records::run(
        program,
        &records,
        &RunOptions {
            as_of: case.as_of,
            all: true,
            ledger: Some(std::sync::Arc::new(ledger)),
            profile: None,
        },
    ) {
        Ok(run) => run,
        Err(e) => {
            result
                .errors
                .push(format!("运行失败 (the run failed): {e}"));
            return result;
        }
    };
    // as in a data file, a key on two firms rejects both
    if !run.rejects.is_empty() {
        result
            .errors
            .push("用例里两家企业的主键相同 (two firms of the case have the same key)".into());
        return result;
    }
    for (key, policy, expect) in &case.expect {
        let key = key
            .clone()
            .or_else(|| single_key.clone())
            .unwrap_or_default();
        let Some(pi) = program.policy_index(policy) else {
            let help =
                crate::suggest::closest(policy, program.policies.iter().map(|p| p.id.as_str()))
                    .map(|s| format!(";是不是 `{s}`? (did you mean `{s}`?)"))
                    .unwrap_or_default();
            result.errors.push(format!(
                "政策集里没有政策 `{policy}` (no such policy){help}"
            ));
            continue;
        };
        let Some(f) = run.firms.iter().find(|f| f.key == key) else {
            result.errors.push(format!(
                "用例里没有主键为 `{key}` 的企业 (no such firm in the case)"
            ));
            continue;
        };
        let pair = f.pairs.iter().find(|p| p.policy as usize == pi);
        let what = |w: &str| {
            if case.firms.len() > 1 {
                format!("{key} {policy} {w}")
            } else {
                format!("{policy} {w}")
            }
        };
        let (outcome, amount, funded, reasons) = match pair {
            Some(p) => (
                p.outcome.as_str().to_string(),
                p.amount,
                p.funded,
                p.reasons
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
            ),
            None => ("not_in_force".to_string(), None, None, Vec::new()),
        };
        if let Some(o) = &expect.outcome {
            if *o != outcome {
                let detail = if reasons.is_empty() {
                    outcome.clone()
                } else {
                    format!("{outcome} ({})", reasons.join("; "))
                };
                result.mismatches.push([what("outcome"), o.clone(), detail]);
            }
        }
        if let Some(a) = &expect.amount {
            if *a != amount {
                result
                    .mismatches
                    .push([what("amount"), show_money(*a), show_money(amount)]);
            }
        }
        if let Some(a) = &expect.funded {
            if *a != funded {
                result
                    .mismatches
                    .push([what("funded"), show_money(*a), show_money(funded)]);
            }
        }
        for r in &expect.reasons {
            if !reasons.contains(r) {
                result.mismatches.push([
                    what("reason"),
                    r.clone(),
                    format!("[{}]", reasons.join("; ")),
                ]);
            }
        }
    }
    result
}

/// Runs every case of every file; returns the results by file.
pub fn run_files(program: &Program, files: &[CaseFile]) -> Vec<(String, Vec<CaseResult>)> {
    files
        .iter()
        .map(|f| {
            (
                f.path.clone(),
                f.cases.iter().map(|c| run_case(program, c)).collect(),
            )
        })
        .collect()
}

/// Renders results for people: each case, and each failure with expected
/// against actual side by side; then `N passed, M failed`.
pub fn render(results: &[(String, Vec<CaseResult>)]) -> (String, usize, usize) {
    render_styled(results, false)
}

/// The headings of a failed case's table of mismatches.
const CHECK: &str = "检查项 (check)";
const EXPECTED: &str = "期望 (expected)";

/// As [`render`], with `PASS` in green and `FAIL` in red when `colour`.
pub fn render_styled(
    results: &[(String, Vec<CaseResult>)],
    colour: bool,
) -> (String, usize, usize) {
    let paint = |code: &str, text: &str| {
        if colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    };
    let mut out = String::new();
    let (mut passed, mut failed) = (0, 0);
    for (path, cases) in results {
        out.push_str(&format!("{path}\n"));
        for c in cases {
            if c.passed() {
                passed += 1;
                out.push_str(&format!("  {}  {}\n", paint("32", "PASS"), c.name));
                continue;
            }
            failed += 1;
            let place = c
                .line
                .map(|l| format!("  ({path}:{l})"))
                .unwrap_or_default();
            out.push_str(&format!("  {}  {}{place}\n", paint("1;31", "FAIL"), c.name));
            for e in &c.errors {
                out.push_str(&format!("        error: {e}\n"));
            }
            if !c.mismatches.is_empty() {
                let w0 = c
                    .mismatches
                    .iter()
                    .map(|m| width(&m[0]))
                    .max()
                    .unwrap_or(0)
                    .max(width(CHECK));
                let w1 = c
                    .mismatches
                    .iter()
                    .map(|m| width(&m[1]))
                    .max()
                    .unwrap_or(0)
                    .max(width(EXPECTED));
                out.push_str(&format!(
                    "        {}  {}  实际 (actual)\n",
                    pad_right(CHECK, w0),
                    pad_right(EXPECTED, w1)
                ));
                for m in &c.mismatches {
                    out.push_str(&format!(
                        "        {}  {}  {}\n",
                        pad_right(&m[0], w0),
                        pad_right(&m[1], w1),
                        m[2]
                    ));
                }
            }
        }
    }
    (out, passed, failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two firms of a case with one key are an error of the case, found by
    /// the run's own duplicate check.
    #[test]
    fn two_firms_with_one_key_are_an_error() {
        let program = crate::engine::Engine::from_texts(
            "key: uscc\nfields:\n  uscc: { type: text }\n  n: { type: integer }\n",
            &[(
                "p.policy",
                "policy p {\n  title \"t\"\n  require \"n\" n > 1\n}\n",
            )],
        )
        .expect("the set checks")
        .program()
        .clone();
        let text = "as_of: 2024-12-31\ncases:\n  - name: twice\n    firms:\n      - { uscc: A, n: 2 }\n      - { uscc: A, n: 3 }\n    expect:\n      A: { p: { outcome: eligible } }\n";
        let file = parse("t.yaml", text).expect("the file parses");
        let case = file.cases.first().expect("a case");
        let result = run_case(&program, case);
        assert_eq!(
            result.errors,
            ["用例里两家企业的主键相同 (two firms of the case have the same key)"]
        );
    }

    /// Every unknown item of a case, and of an expectation, is named, with
    /// the item meant when it looks like a slip; the other cases still run.
    #[test]
    fn unknown_items_are_named_with_what_was_meant() {
        let text = "as_of: 2024-12-31\ncases:\n  - nme: a\n    firm: { uscc: A }\n    expect: { p: { outcome: eligible } }\n  - name: b\n    firm: { uscc: A }\n    expect: { p: { outcome: eligible, fundd: 1, reason: x, zzzz: 1 } }\n  - name: c\n    firm: { uscc: A }\n    expect: { p: { outcome: eligible, funded: 1, reasons: x } }\n";
        let file = parse("t.yaml", text).expect("the file parses");
        let problems: Vec<Option<String>> = file.cases.iter().map(|c| c.problem.clone()).collect();
        assert_eq!(
            problems,
            [
                Some("不认识的用例项 `nme` (是不是 `name`? did you mean `name`?):可用 name、as_of、firm、firms、expect、ledger (unknown case item)".to_string()),
                Some("不认识的预期项 `fundd` (是不是 `funded`? did you mean `funded`?)、`reason` (是不是 `reasons`? did you mean `reasons`?)、`zzzz`:可用 outcome、amount、funded、reasons (unknown expectation)".to_string()),
                None,
            ]
        );
    }

    /// Every case is placed at its own `- `, named or not, and whatever
    /// its name: a nameless case, two cases of one name, comments and
    /// blank lines between them, a list at the indentation of `cases:`.
    #[test]
    fn every_case_is_placed_at_its_own_line() {
        let lines = |text: &str| -> Vec<Option<usize>> {
            let file = parse("t.yaml", text).expect("the file parses");
            file.cases.iter().map(|c| c.line).collect()
        };
        let text = "as_of: 2024-12-31\ncases:\n  - name: a\n    firm: { uscc: A }\n    expect: { p: { outcome: eligible } }\n\n  # 没有名称\n  - firm: { uscc: A }\n    expect: { p: { outcome: eligible } }\n  -\n    name: a\n    firm: { uscc: A }\n    expect: { p: { outcome: eligible } }\n";
        assert_eq!(lines(text), [Some(3), Some(8), Some(10)]);
        let file = parse("t.yaml", text).expect("the file parses");
        let names: Vec<&str> = file.cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["a", "第 2 个用例 (case 2, no name)", "a"]);
        let flush = "cases:\n- name: a\n  as_of: 2024-12-31\n  firm: { uscc: A }\n  expect: { p: { outcome: eligible } }\n- firm: { uscc: A }\n  as_of: 2024-12-31\n  expect: { p: { outcome: eligible } }\nas_of: 2024-12-31\n";
        assert_eq!(lines(flush), [Some(2), Some(6)]);
        let flow = "as_of: 2024-12-31\ncases: [ { name: a, firm: { uscc: A }, expect: { p: { outcome: eligible } } } ]\n";
        assert_eq!(lines(flow), [None]);
    }

    /// A full-width colon that breaks the YAML is pointed at, with the
    /// colon meant.
    #[test]
    fn a_full_width_colon_is_named() {
        let text = "as_of: 2024-12-31\ncases:\n  - name: a\n    firm： { uscc: \"A\", n: 1 }\n    expect: { p: { outcome: eligible } }\n";
        let src = SourceText::new("t.yaml", text);
        let d = parse_source(&src).expect_err("not YAML");
        assert_eq!(d.location().map(|(_, l, c)| (l, c)), Some((4, 9)), "{d:?}");
        assert!(
            d.help
                .as_deref()
                .is_some_and(|h| h.contains("全角的 `：`, YAML 要用半角的 `:`")),
            "{d:?}"
        );
    }

    /// Where the YAML still parses (`firm： { uscc: A }` is then one key),
    /// the unknown item says what is wrong with it.
    #[test]
    fn a_key_with_a_full_width_colon_is_named() {
        let text = "as_of: 2024-12-31\ncases:\n  - name: a\n    firm： { uscc: A }\n    expect: { p: { outcome: eligible } }\n";
        let file = parse("t.yaml", text).expect("the file parses");
        let problem = file.cases.first().and_then(|c| c.problem.clone());
        assert!(
            problem
                .as_deref()
                .is_some_and(|p| p.contains("含全角冒号 `：`")),
            "{problem:?}"
        );
    }
}
