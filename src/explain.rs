//! "Why (not)?": one firm's decisions step by step — each condition with the
//! values it read, the branch or tier the amount took, the cap, the rounding,
//! and what settlement did.

use serde::Serialize;

pub mod sources;

use crate::batch::output::PolicySummary;
use crate::eval::expr::Scratch;
use crate::eval::trace::{Step as Path, Trace};
use crate::eval::value::{show, V};
use crate::eval::{self, Outcome};
use crate::ops::ArithOp;
use crate::program::{Allocation, ClauseKind, Const, Ir, Policy, Program};
use crate::record::Record;
use crate::schema::FieldType;
use crate::settle::Firm;

/// One explained step.
#[derive(Debug, Serialize)]
pub struct Step {
    /// `let`, `require`, `exclude`, `amount`, `cap`, `round`, `settle`.
    pub kind: &'static str,
    pub label: String,
    /// The expression, written back as policy text.
    pub expr: String,
    /// `true`, `false`, `missing` or a value.
    pub result: String,
    /// The fields read, `name=value`.
    pub values: Vec<String>,
    /// Sub-steps: branches, tiers, brackets.
    pub detail: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct PolicyExplanation {
    pub policy: String,
    pub title: String,
    pub basis: Option<String>,
    pub in_force: bool,
    pub steps: Vec<Step>,
    pub outcome: Option<String>,
    pub amount: Option<String>,
    pub funded: Option<String>,
    pub reasons: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Explanation {
    pub key: String,
    pub as_of: String,
    /// The rows joined and the values that differed, when the firm's data
    /// comes from several files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<sources::Sources>,
    pub policies: Vec<PolicyExplanation>,
}

/// Explains `record`'s decisions. `firm` is its decisions in the batch run
/// (with ineligible ones kept) and `summary` the run's totals, so that
/// settlement across firms can be told.
pub fn explain(
    program: &Program,
    record: &Record,
    firm: Option<&Firm>,
    summary: &[PolicySummary],
    as_of: crate::date::Date,
    only: Option<usize>,
    payments: &[crate::data::ledger::Payment],
) -> Explanation {
    let key = record.key(program.schema.key);
    let mut scratch = Scratch::default();
    scratch.firm(program);
    scratch.payments(payments);
    let mut policies = Vec::new();
    for (pi, policy) in program.policies.iter().enumerate() {
        if only.is_some_and(|o| o != pi) {
            continue;
        }
        let in_force = policy.in_force(as_of);
        let mut pe = PolicyExplanation {
            policy: policy.id.clone(),
            title: policy.title.clone(),
            basis: policy.basis.clone(),
            in_force,
            steps: Vec::new(),
            outcome: None,
            amount: None,
            funded: None,
            reasons: Vec::new(),
        };
        if !in_force {
            if let Some((from, to)) = policy.valid {
                pe.reasons.push(format!(
                    "{as_of} 不在有效期内: 有效期 {from} 至 {to} (not in force on {as_of}: valid {from} to {to})"
                ));
            }
            policies.push(pe);
            continue;
        }
        let ctx = Ctx { program, policy };
        scratch.policy(policy);
        let trace = Trace::default();
        let env = scratch
            .env(program, Some(policy), &record.cells, as_of)
            .traced(&trace);
        for l in &policy.lets {
            let v = env.eval(&l.expr);
            pe.steps.push(Step {
                kind: "let",
                label: l.name.clone(),
                expr: l.source.clone(),
                result: show(&v, false),
                values: Vec::new(),
                detail: Vec::new(),
            });
        }
        for c in &policy.clauses {
            trace.take();
            let v = env.eval(&c.expr);
            // the payments a condition read (`paid`, `last_paid`)
            let paid: Vec<_> = trace
                .take()
                .into_iter()
                .filter(|s| matches!(s, Path::Paid { .. }))
                .collect();
            pe.steps.push(Step {
                kind: if c.kind == ClauseKind::Require {
                    "require"
                } else {
                    "exclude"
                },
                label: c.label.clone(),
                expr: c.source.clone(),
                result: show(&v, false),
                values: field_values(program, &c.fields, record),
                detail: ctx.tell(&paid),
            });
        }
        if let Some(a) = &policy.amount {
            // the steps of the lets and clauses are not the amount's
            trace.take();
            let v = env.eval(&a.expr);
            let detail = ctx.tell(&trace.take());
            pe.steps.push(Step {
                kind: "amount",
                label: a.label.clone(),
                expr: a.source.clone(),
                result: show(&v, false),
                values: field_values(program, &a.fields, record),
                detail,
            });
            if let Some(cap) = &a.cap {
                let c = env.eval(cap);
                let after = match (v, c) {
                    (V::Num(x), V::Num(y)) => {
                        if x > y {
                            let y = y.normalize();
                            format!("按上限 {y} 封顶 (capped at {y})")
                        } else {
                            "未超过上限 (below the cap)".into()
                        }
                    }
                    _ => "缺失 (missing)".into(),
                };
                pe.steps.push(Step {
                    kind: "cap",
                    label: String::new(),
                    expr: a.cap_source.clone().unwrap_or_else(|| ctx.show(cap)),
                    result: show(&c, false),
                    values: Vec::new(),
                    detail: vec![after],
                });
            }
        }
        let mut own = Scratch::default();
        own.firm(program);
        own.payments(payments);
        let verdict = eval::verdict(program, policy, &record.cells, as_of, &mut own, true);
        if let Some(amount) = verdict.amount {
            pe.steps.push(Step {
                kind: "round",
                label: "取整到分, 四舍五入 (rounded to the cent, half away from zero)".into(),
                expr: String::new(),
                result: amount.to_string(),
                values: Vec::new(),
                detail: Vec::new(),
            });
        }
        let pair = firm.and_then(|f| f.pairs.iter().find(|p| p.policy as usize == pi));
        if let Some(pair) = pair {
            pe.outcome = Some(pair.outcome.as_str().to_string());
            pe.amount = pair.amount.map(|a| a.to_string());
            pe.funded = pair.funded.map(|a| a.to_string());
            pe.reasons = pair.reasons.iter().map(ToString::to_string).collect();
            let settled = settlement(policy, summary, pi, verdict.outcome, pair);
            if !settled.is_empty() {
                pe.steps.push(Step {
                    kind: "settle",
                    label: "跨企业结算: 互斥组、名额、预算 (across firms: exclusive groups, limit, budget)"
                        .into(),
                    expr: String::new(),
                    result: pair.outcome.as_str().into(),
                    values: Vec::new(),
                    detail: settled,
                });
            }
        }
        for group in program.combined.iter().filter(|g| g.policies.contains(&pi)) {
            pe.steps
                .push(combined_step(program, group, record, firm, as_of, payments));
        }
        policies.push(pe);
    }
    Explanation {
        key,
        as_of: as_of.to_string(),
        sources: None,
        policies,
    }
}

fn settlement(
    policy: &Policy,
    summary: &[PolicySummary],
    pi: usize,
    before: Outcome,
    pair: &crate::settle::Pair,
) -> Vec<String> {
    let mut out = Vec::new();
    if before == Outcome::Eligible && pair.outcome == Outcome::Ineligible {
        for why in &pair.reasons {
            match why {
                crate::eval::Reason::Limit => {
                    if let Some(l) = &policy.limit {
                        let n = l.n;
                        out.push(format!(
                            "符合条件, 但按 `limit` 的顺序不在前 {n} 户之内 (eligible, but not among the first {n} firms by the `limit` order)"
                        ));
                    }
                }
                crate::eval::Reason::Exclusive(group) => out.push(format!(
                    "符合条件, 但互斥组 `{group}` 中另一政策金额相同或更高 (相同时取先列出的政策) (eligible, but another policy of the exclusive group pays as much or more; a tie goes to the policy listed first)"
                )),
                _ => {}
            }
        }
    }
    if pair.outcome == Outcome::Eligible {
        if let (Some(s), Some(budget)) = (summary.get(pi), policy.budget) {
            let total = s.amount.unwrap_or_default();
            if s.note.exceeded {
                let how = match &policy.allocate {
                    Some(Allocation::ProRata) => "按比例分配: 金额 × 预算 ÷ 合计, 截到分, 余下的分给截去部分最大的企业 (shared pro rata: amount × budget ÷ total, cut to the cent, leftover cents to the largest remainders)".to_string(),
                    Some(Allocation::By(_, dir)) => {
                        let dir = if *dir == crate::ops::Direction::Asc { "asc" } else { "desc" };
                        format!("按 `allocate by` 的顺序 ({dir}) 足额支付, 直到预算用完 (paid in `allocate by` order while the budget lasts)")
                    }
                    None => "未写 `allocate`: 每户仍按全额, 超支另行报告 (no `allocate`: every firm keeps its full amount, overrun reported)".to_string(),
                };
                let budget = eval::cents(budget);
                out.push(format!(
                    "符合条件的金额合计 {total}, 超出预算 {budget} (eligible amounts total {total}, over the budget {budget}): {how}"
                ));
            } else {
                let budget = eval::cents(budget);
                out.push(format!(
                    "符合条件的金额合计 {total}, 未超出预算 {budget} (eligible amounts total {total}, within the budget {budget})"
                ));
            }
            if let (Some(a), Some(f)) = (pair.amount, pair.funded) {
                out.push(format!("金额 (amount) {a}, 拨付 (funded) {f}"));
            }
        }
    }
    out
}

fn field_values(program: &Program, fields: &[u16], record: &Record) -> Vec<String> {
    fields
        .iter()
        .filter_map(|&f| {
            let field = program.schema.fields.get(f as usize)?;
            let v = crate::eval::expr::cell(&record.cells, f);
            Some(format!(
                "{}={}",
                field.name,
                show(&v, field.ty == FieldType::Percent)
            ))
        })
        .collect()
}

struct Ctx<'a> {
    program: &'a Program,
    policy: &'a Policy,
}

impl<'p> Ctx<'p> {
    /// Writes an expression back as policy text.
    fn show(&self, ir: &Ir) -> String {
        let b = |x: &Ir| self.show_operand(x);
        match ir {
            Ir::Const(Const::Bool(v)) => v.to_string(),
            Ir::Const(Const::Num(n)) => n.normalize().to_string(),
            Ir::Const(Const::Date(d)) => d.to_string(),
            Ir::Const(Const::Text(t)) => format!("\"{t}\""),
            Ir::Field(i) => self
                .program
                .schema
                .fields
                .get(*i as usize)
                .map_or("?".into(), |f| f.name.clone()),
            Ir::Let(i) => self
                .policy
                .lets
                .get(*i as usize)
                .map_or("?".into(), |l| l.name.clone()),
            Ir::Define(i) => self
                .program
                .defines
                .get(*i as usize)
                .map_or("?".into(), |d| d.name.clone()),
            Ir::AsOf => "as_of".into(),
            Ir::Neg(x) => format!("-{}", b(x)),
            Ir::Not(x) => format!("not {}", b(x)),
            Ir::Arith(op, x, y) => {
                let sym = match op {
                    ArithOp::Add => "+",
                    ArithOp::Sub => "-",
                    ArithOp::Mul => "*",
                    ArithOp::Div => "/",
                };
                format!("{} {sym} {}", b(x), b(y))
            }
            Ir::And(x, y) => format!("{} and {}", b(x), b(y)),
            Ir::Or(x, y) => format!("{} or {}", b(x), b(y)),
            Ir::Cmp(op, x, y) => format!("{} {} {}", b(x), op.symbol(), b(y)),
            Ir::EqFieldText {
                negated,
                field,
                value,
            } => {
                format!(
                    "{} {} \"{value}\"",
                    self.show(&Ir::Field(*field)),
                    if *negated { "!=" } else { "==" }
                )
            }
            Ir::CmpField { op, field, value } => {
                format!(
                    "{} {} {}",
                    self.show(&Ir::Field(*field)),
                    op.symbol(),
                    value.normalize()
                )
            }
            Ir::InList {
                negated,
                item,
                list,
            } => {
                let items: Vec<String> = list.iter().map(|x| self.show(x)).collect();
                format!(
                    "{}{} in [{}]",
                    b(item),
                    if *negated { " not" } else { "" },
                    items.join(", ")
                )
            }
            Ir::InValue {
                negated,
                item,
                list,
            } => {
                format!(
                    "{}{} in {}",
                    b(item),
                    if *negated { " not" } else { "" },
                    b(list)
                )
            }
            Ir::ListContains(x, y) | Ir::TextContains(x, y) => {
                format!("{} contains {}", b(x), b(y))
            }
            Ir::Between(x, lo, hi) => format!("{} between {} and {}", b(x), b(lo), b(hi)),
            Ir::IsMissing { present, expr } => {
                format!(
                    "{} is {}",
                    b(expr),
                    if *present { "present" } else { "missing" }
                )
            }
            Ir::If(c, x, y) => format!(
                "if {} then {} else {}",
                self.show(c),
                self.show(x),
                self.show(y)
            ),
            Ir::When(arms, other) => {
                let mut s = String::new();
                for (c, v) in arms {
                    s.push_str(&format!("when {} then {} ", self.show(c), self.show(v)));
                }
                s.push_str(&format!("else {}", self.show(other)));
                s
            }
            Ir::Tiers { base, .. } => format!("tiers {} {{ … }}", self.show(base)),
            Ir::Progressive { base, .. } => format!("progressive {} {{ … }}", self.show(base)),
            Ir::Call(f, args) => {
                let a: Vec<String> = args.iter().map(|x| self.show(x)).collect();
                format!("{}({})", f.name(), a.join(", "))
            }
            Ir::Paid { last, ids } => {
                format!(
                    "{}({})",
                    if *last { "last_paid" } else { "paid" },
                    self.ledger_ids(ids)
                )
            }
        }
    }

    /// The ids of a `paid`/`last_paid` call, as written.
    fn ledger_ids(&self, ids: &[u16]) -> String {
        ids.iter()
            .map(|&i| {
                self.program
                    .ledger_ids
                    .get(i as usize)
                    .map_or("?", String::as_str)
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn show_operand(&self, ir: &Ir) -> String {
        let s = self.show(ir);
        match ir {
            Ir::Arith(..)
            | Ir::And(..)
            | Ir::Or(..)
            | Ir::Cmp(..)
            | Ir::If(..)
            | Ir::When(..)
            | Ir::Between(..) => {
                format!("({s})")
            }
            _ => s,
        }
    }

    /// The path evaluation recorded, told step by step.
    fn tell(&self, steps: &[Path<'_>]) -> Vec<String> {
        steps
            .iter()
            .map(|step| match step {
                Path::If { cond, value } => {
                    format!("if {} → {}", self.show(cond), show(value, false))
                }
                Path::When { cond, value } => {
                    format!("when {} → {}", self.show(cond), show(value, false))
                }
                Path::WhenTakes { expr, value } => {
                    format!("  取 (takes) {} = {}", self.show(expr), show(value, false))
                }
                Path::WhenElse { expr, value } => {
                    format!(
                        "else: 取 (takes) {} = {}",
                        self.show(expr),
                        show(value, false)
                    )
                }
                Path::TiersOn { base, value } => {
                    format!(
                        "分档 (tiers) {} = {}",
                        self.show(base),
                        show(value, false)
                    )
                }
                Path::TierRow {
                    op,
                    bound,
                    result,
                    hit,
                } => format!(
                    "  {} {} : {} → {}",
                    op.symbol(),
                    show(bound, false),
                    self.show(result),
                    show(hit, false)
                ),
                Path::TierTaken { value } => {
                    format!("  命中此行 (row taken): {}", show(value, false))
                }
                Path::TierElse { value } => {
                    format!("  命中 else 行 (else row taken): {}", show(value, false))
                }
                Path::TierNone => "  没有命中的行, 取 0 (no row matches: 0)".to_string(),
                Path::ProgressiveOn { base, value } => {
                    format!(
                        "分段累进 (progressive) {} = {}",
                        self.show(base),
                        show(value, false)
                    )
                }
                Path::Bracket {
                    floor,
                    top,
                    slice,
                    rate,
                    part,
                } => {
                    let range = match top {
                        Some(t) => format!("{} 至 {}", floor.normalize(), t.normalize()),
                        None => format!("{} 以上", floor.normalize()),
                    };
                    let part = part.map_or_else(
                        || "计算溢出 (arithmetic overflow)".to_string(),
                        |p| p.normalize().to_string(),
                    );
                    format!(
                        "  {range}: {} × {} = {part}",
                        slice.normalize(),
                        show(&V::Num(*rate), true),
                    )
                }
                Path::MinMax { func, args } => {
                    let vals: Vec<String> = args
                        .iter()
                        .map(|(a, v)| format!("{} = {}", self.show(a), show(v, false)))
                        .collect();
                    format!("{}: {}", func.name(), vals.join(", "))
                }
                Path::Paid {
                    last,
                    ids,
                    payments,
                    value,
                } => {
                    let call = format!(
                        "{}({})",
                        if *last { "last_paid" } else { "paid" },
                        self.ledger_ids(ids)
                    );
                    let value = show(value, false);
                    let mut told = if payments.is_empty() {
                        format!("{call} = {value}: 截至 as_of 台账无兑付记录 (no payment in the ledger on or before as_of)")
                    } else {
                        format!("{call} = {value}, 台账已兑付 (paid, per the ledger):")
                    };
                    for p in payments {
                        told.push_str(&format!(
                            "\n  {} {} {}{}",
                            p.paid_on,
                            self.ledger_ids(&[p.id]),
                            p.amount,
                            if p.line > 0 {
                                format!("  (台账第 {} 行, ledger line)", p.line)
                            } else {
                                String::new()
                            }
                        ));
                    }
                    told
                }
            })
            .collect()
    }
}

/// A `combined` group's arithmetic for the firm: the cap, and what each
/// listed policy asked and was left, in the order listed.
fn combined_step(
    program: &Program,
    group: &crate::program::Combined,
    record: &Record,
    firm: Option<&Firm>,
    as_of: crate::date::Date,
    payments: &[crate::data::ledger::Payment],
) -> Step {
    let mut scratch = Scratch::default();
    scratch.firm(program);
    scratch.payments(payments);
    let cap = scratch
        .env(program, None, &record.cells, as_of)
        .eval(&group.cap);
    let result = match cap {
        V::Num(n) => format!(
            "{}, 取整到分、负数按 0 为 {} (rounded to the cent, 0 when negative)",
            n.normalize(),
            crate::settle::cap_amount(n)
        ),
        other => format!(
            "{}: 本组符合条件的决定均为待核实 (the group's eligible decisions are review)",
            show(&other, false)
        ),
    };
    let mut detail = Vec::new();
    for &p in &group.policies {
        let Some(policy) = program.policies.get(p) else {
            continue;
        };
        if !policy.in_force(as_of) {
            detail.push(format!("{}: 不在有效期内 (not in force)", policy.id));
            continue;
        }
        let mut own = Scratch::default();
        own.firm(program);
        own.payments(payments);
        let v = eval::verdict(program, policy, &record.cells, as_of, &mut own, true);
        let asked = match (v.outcome, v.amount) {
            (crate::eval::Outcome::Eligible, Some(a)) => a.to_string(),
            (o, _) => format!("{}, 不参与 (takes no part)", outcome_text(o.as_str())),
        };
        let pair = firm.and_then(|f| f.pairs.iter().find(|x| x.policy as usize == p));
        let left = match pair {
            Some(x) => match x.amount {
                Some(a) => format!("{} {a}", outcome_text(x.outcome.as_str())),
                None => outcome_text(x.outcome.as_str()),
            },
            None => "-".into(),
        };
        detail.push(format!("{}: 应得 (asked) {asked} → {left}", policy.id));
    }
    Step {
        kind: "combined",
        label: group.label.clone(),
        expr: group.cap_source.clone(),
        result,
        values: Vec::new(),
        detail,
    }
}

/// An outcome as officers read it, the engine's word beside: `符合 (eligible)`.
fn outcome_text(outcome: &str) -> String {
    [Outcome::Eligible, Outcome::Ineligible, Outcome::Review]
        .into_iter()
        .find(|o| o.as_str() == outcome)
        .map_or_else(
            || outcome.to_string(),
            |o| format!("{} ({outcome})", o.chinese()),
        )
}

/// A step's heading: what it is in Chinese, the language's word beside.
fn kind_text(kind: &str) -> String {
    let zh = match kind {
        "let" => "定义",
        "require" => "须满足",
        "exclude" => "排除",
        "amount" => "金额",
        "cap" => "上限",
        "round" => "取整",
        "settle" => "结算",
        "combined" => "合计封顶",
        _ => return kind.to_string(),
    };
    format!("{zh} ({kind})")
}

/// A step's result as people read it: whether a condition held, an
/// outcome in Chinese; values as they are.
fn result_text(kind: &str, result: &str) -> String {
    match (kind, result) {
        ("require", "true") => "满足 (held)".into(),
        ("require", "false") => "不满足 (failed)".into(),
        ("exclude", "true") => "属于排除情形 (applies)".into(),
        ("exclude", "false") => "不属于排除情形 (does not apply)".into(),
        (_, "missing") => "缺失 (missing)".into(),
        ("settle", outcome) => outcome_text(outcome),
        (_, value) => value.into(),
    }
}

/// Renders an explanation for people: Chinese first, the engine's words
/// beside (`--format json` keeps the engine's words alone).
pub fn render(e: &Explanation) -> String {
    let mut s = format!("企业 (firm) {}, 评估日期 (as of) {}\n", e.key, e.as_of);
    if let Some(sources) = &e.sources {
        s.push_str(&sources::render(sources));
    }
    for p in &e.policies {
        s.push_str(&format!("\n政策 (policy) {}  {}\n", p.policy, p.title));
        if let Some(b) = &p.basis {
            s.push_str(&format!("  依据 (basis): {b}\n"));
        }
        if !p.in_force {
            for r in &p.reasons {
                s.push_str(&format!("  {r}\n"));
            }
            continue;
        }
        for st in &p.steps {
            // (an amount without a label is labelled `amount`: said once)
            let head: Vec<&str> = [st.label.as_str(), st.expr.as_str()]
                .into_iter()
                .filter(|t| !t.is_empty() && *t != st.kind)
                .collect();
            s.push_str(&format!("  {}  {}\n", kind_text(st.kind), head.join("  ")));
            s.push_str(&format!(
                "           → {}",
                result_text(st.kind, &st.result)
            ));
            if !st.values.is_empty() {
                s.push_str(&format!("   读取 (read): {}", st.values.join(", ")));
            }
            s.push('\n');
            for d in &st.detail {
                // a detail's later lines (the payments read) under its first
                let d = d.replace('\n', "\n             ");
                s.push_str(&format!("             {d}\n"));
            }
        }
        s.push_str(&format!(
            "  结果 (outcome): {}",
            p.outcome
                .as_deref()
                .map_or_else(|| "?".into(), outcome_text)
        ));
        if let Some(a) = &p.amount {
            s.push_str(&format!("  金额 (amount) {a}"));
        }
        if let Some(f) = &p.funded {
            s.push_str(&format!("  拨付 (funded) {f}"));
        }
        s.push('\n');
        if !p.reasons.is_empty() {
            s.push_str(&format!("  理由 (reasons): {}\n", p.reasons.join("; ")));
        }
    }
    s
}
