//! A checked program as a short, readable text: what an officer would
//! check against the policy text, and what two sets that mean the same
//! compile to alike (the check snapshots; `fmt` keeping the meaning).

use std::fmt::Write as _;

use mianshen::program::{Allocation, ClauseKind, Const, Ir, Policy, Program};
use mianshen::syntax::ast::{ArithOp, Direction};

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
pub fn describe(program: &Program) -> String {
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
