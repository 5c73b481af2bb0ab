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

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use mianshen::diag::render_human;
use mianshen::load::PolicySet;
use mianshen::program::{Allocation, ClauseKind, Const, Ir, Policy, Program};
use mianshen::syntax::ast::{ArithOp, Direction};

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

fn direction(d: Direction) -> &'static str {
    match d {
        Direction::Asc => "asc",
        Direction::Desc => "desc",
    }
}

/// An expression as a prefix form that shows how it was grouped, e.g.
/// `(or serious_dishonesty (and (> employees 10) (> insured_months 12)))`.
fn sexpr(ir: &Ir, program: &Program, policy: Option<&Policy>) -> String {
    let e = |x: &Ir| sexpr(x, program, policy);
    let all = |xs: &[Ir]| {
        xs.iter()
            .map(|x| sexpr(x, program, policy))
            .collect::<Vec<_>>()
            .join(" ")
    };
    match ir {
        Ir::Const(Const::Bool(b)) => b.to_string(),
        Ir::Const(Const::Num(n)) => n.normalize().to_string(),
        Ir::Const(Const::Date(d)) => d.to_string(),
        Ir::Const(Const::Text(t)) => format!("{t:?}"),
        Ir::Field(i) => program.schema.fields[*i as usize].name.clone(),
        Ir::Let(i) => policy.map_or("?".into(), |p| p.lets[*i as usize].name.clone()),
        Ir::Define(i) => program.defines[*i as usize].name.clone(),
        Ir::AsOf => "as_of".into(),
        Ir::Paid { last, ids } => format!(
            "({} {})",
            if *last { "last_paid" } else { "paid" },
            ids.iter()
                .map(|i| program.ledger_ids[*i as usize].as_str())
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Ir::Neg(x) => format!("(- {})", e(x)),
        Ir::Not(x) => format!("(not {})", e(x)),
        Ir::Arith(op, a, b) => {
            let op = match op {
                ArithOp::Add => "+",
                ArithOp::Sub => "-",
                ArithOp::Mul => "*",
                ArithOp::Div => "/",
            };
            format!("({op} {} {})", e(a), e(b))
        }
        Ir::And(a, b) => format!("(and {} {})", e(a), e(b)),
        Ir::Or(a, b) => format!("(or {} {})", e(a), e(b)),
        Ir::Cmp(op, a, b) => format!("({} {} {})", op.symbol(), e(a), e(b)),
        Ir::EqFieldText {
            negated,
            field,
            value,
        } => {
            let op = if *negated { "!=" } else { "==" };
            format!(
                "({op} {} {})",
                e(&Ir::Field(*field)),
                e(&Ir::Const(Const::Text(value.clone())))
            )
        }
        Ir::CmpField { op, field, value } => {
            format!(
                "({} {} {})",
                op.symbol(),
                e(&Ir::Field(*field)),
                value.normalize()
            )
        }
        Ir::InList {
            negated,
            item,
            list,
        } => {
            format!(
                "({} {} [{}])",
                if *negated { "not-in" } else { "in" },
                e(item),
                all(list)
            )
        }
        Ir::InValue {
            negated,
            item,
            list,
        } => {
            format!(
                "({} {} {})",
                if *negated { "not-in" } else { "in" },
                e(item),
                e(list)
            )
        }
        Ir::ListContains(a, b) => format!("(list-contains {} {})", e(a), e(b)),
        Ir::TextContains(a, b) => format!("(text-contains {} {})", e(a), e(b)),
        Ir::Between(x, lo, hi) => format!("(between {} {} {})", e(x), e(lo), e(hi)),
        Ir::IsMissing { present, expr } => {
            format!(
                "({} {})",
                if *present { "is-present" } else { "is-missing" },
                e(expr)
            )
        }
        Ir::If(c, a, b) => format!("(if {} {} {})", e(c), e(a), e(b)),
        Ir::When(arms, other) => {
            let arms: Vec<String> = arms
                .iter()
                .map(|(c, v)| format!("[{} {}]", e(c), e(v)))
                .collect();
            format!("(when {} [else {}])", arms.join(" "), e(other))
        }
        Ir::Tiers {
            base,
            rows,
            otherwise,
        } => {
            let mut rows: Vec<String> = rows
                .iter()
                .map(|(op, v, r)| format!("[{} {} {}]", op.symbol(), e(v), e(r)))
                .collect();
            if let Some(o) = otherwise {
                rows.push(format!("[else {}]", e(o)));
            }
            format!("(tiers {} {})", e(base), rows.join(" "))
        }
        Ir::Progressive { base, rows } => {
            let rows: Vec<String> = rows
                .iter()
                .map(|(upto, rate)| match upto {
                    Some(u) => format!("[up-to {} {}]", e(u), e(rate)),
                    None => format!("[above {}]", e(rate)),
                })
                .collect();
            format!("(progressive {} {})", e(base), rows.join(" "))
        }
        Ir::Call(f, args) => format!("({} {})", f.name(), all(args)),
    }
}

/// A short, readable account of a checked program: what an officer would
/// check against the policy text.
fn describe(program: &Program) -> String {
    let mut out = String::new();
    for d in &program.defines {
        let _ = writeln!(out, "define {} = {}", d.name, sexpr(&d.expr, program, None));
    }
    for p in &program.policies {
        let _ = writeln!(out, "policy {} ({})", p.id, p.file);
        let _ = writeln!(out, "  title: {}", p.title);
        if let Some(i) = &p.issuer {
            let _ = writeln!(out, "  issuer: {i}");
        }
        if let Some(b) = &p.basis {
            let _ = writeln!(out, "  basis: {b}");
        }
        if let Some((from, to)) = p.valid {
            let _ = writeln!(out, "  valid: {from} to {to}");
        }
        if let Some(b) = p.budget {
            let _ = writeln!(out, "  budget: {b}");
        }
        match &p.allocate {
            Some(Allocation::ProRata) => out.push_str("  allocate: pro_rata\n"),
            Some(Allocation::By(by, dir)) => {
                let _ = writeln!(
                    out,
                    "  allocate: by {} {}",
                    sexpr(by, program, Some(p)),
                    direction(*dir)
                );
            }
            None => {}
        }
        if let Some(l) = &p.limit {
            let _ = writeln!(
                out,
                "  limit: {} by {} {}",
                l.n,
                sexpr(&l.by, program, Some(p)),
                direction(l.dir)
            );
        }
        if !p.lets.is_empty() {
            let names: Vec<&str> = p.lets.iter().map(|l| l.name.as_str()).collect();
            let _ = writeln!(out, "  lets: {}", names.join(", "));
            for l in &p.lets {
                let _ = writeln!(out, "    {} = {}", l.name, sexpr(&l.expr, program, Some(p)));
            }
        }
        for c in &p.clauses {
            let kind = match c.kind {
                ClauseKind::Require => "require",
                ClauseKind::Exclude => "exclude",
            };
            let _ = writeln!(out, "  {kind}: {}", c.label);
            let _ = writeln!(out, "    {}", sexpr(&c.expr, program, Some(p)));
        }
        match &p.amount {
            Some(a) => {
                let _ = writeln!(out, "  amount: {}", a.label);
                let _ = writeln!(out, "    {}", sexpr(&a.expr, program, Some(p)));
                if let Some(cap) = &a.cap {
                    let _ = writeln!(out, "  cap: {}", sexpr(cap, program, Some(p)));
                }
            }
            None => out.push_str("  amount: none (qualification only)\n"),
        }
    }
    let ids = |policies: &[usize]| {
        policies
            .iter()
            .map(|&i| program.policies[i].id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for x in &program.exclusives {
        let _ = writeln!(
            out,
            "exclusive {}: {} keep highest",
            x.label,
            ids(&x.policies)
        );
    }
    for x in &program.combined {
        let cap = sexpr(&x.cap, program, None);
        let _ = writeln!(out, "combined {}: {} cap {cap}", x.label, ids(&x.policies));
    }
    if !program.ledger_uses.is_empty() {
        let _ = writeln!(out, "ledger ids: {}", program.ledger_ids.join(", "));
        for u in &program.ledger_uses {
            let _ = writeln!(
                out,
                "  {} reads {} ({}:{})",
                u.within, u.call, u.file, u.line
            );
        }
    }
    out
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
