//! Stage 2: names and types. Turns the syntax trees of a policy set into a
//! [`Program`], reporting every error of the set at once.

mod expr;
pub mod types;

use std::collections::{BTreeSet, HashMap};

use rust_decimal::Decimal;

use self::expr::Scope;
use self::types::Ty;
use crate::diag::{Diagnostic, Sources};
use crate::program::{self, Allocation, Amount, Clause, ClauseKind, Const, Ir, Limit, Program};
use crate::schema::Schema;
use crate::syntax::ast::{
    self, Allocate, Expr, ExprKind, ItemKind, NumKind, SourceFile, Span, TopItem,
};

/// Most `require`/`exclude` items one policy may hold.
pub const MAX_CLAUSES: usize = 128;

/// Checks parsed files (in path order, `names[i]` the relative path of
/// `files[i]`) against the schema. `suppress_unknown` is set when some file
/// could not be parsed, so its names are not reported as unknown elsewhere.
pub fn check(
    schema: &Schema,
    sources: &Sources,
    files: &[SourceFile],
    names: &[String],
    suppress_unknown: bool,
) -> Result<Program, Vec<Diagnostic>> {
    let mut c = Checker {
        schema,
        sources,
        diags: Vec::new(),
        suppress_unknown,
        defines: Vec::new(),
        defines_out: Vec::new(),
        ledger_ids: Vec::new(),
        ledger_uses: Vec::new(),
        within: String::new(),
    };
    // defines first: every policy may use every define
    for file in files {
        for item in &file.items {
            if let TopItem::Define(d) = item {
                c.declare_define(d);
            }
        }
    }
    let mut policies = Vec::new();
    let mut ids: HashMap<String, Span> = HashMap::new();
    for (fi, file) in files.iter().enumerate() {
        for item in &file.items {
            if let TopItem::Policy(p) = item {
                if let Some(first) = ids.get(&p.id.name) {
                    let line = c.line_of(*first);
                    let first_file = c.file_name(*first);
                    c.err(
                        "check::duplicate-policy",
                        p.id.span,
                        format!("policy `{}` is defined twice", p.id.name),
                        Some(format!("the first is in {first_file} on line {line}; policy ids are unique across the set")),
                    );
                } else {
                    ids.insert(p.id.name.clone(), p.id.span);
                }
                let name = names.get(fi).cloned().unwrap_or_default();
                if let Some(checked) = c.policy(p, name) {
                    policies.push(checked);
                }
            }
        }
    }
    // defines nobody used are still checked
    for i in 0..c.defines.len() {
        let Some((name, span)) = c.defines.get(i).map(|d| (d.name.clone(), d.span)) else {
            continue;
        };
        c.define_ref(&name, span);
    }
    policies.sort_by(|a, b| a.id.cmp(&b.id));
    let mut exclusives = Vec::new();
    for file in files {
        for item in &file.items {
            if let TopItem::Exclusive(x) = item {
                exclusives.push(c.exclusive(x, &policies));
            }
        }
    }
    let mut combined = Vec::new();
    for file in files {
        for item in &file.items {
            if let TopItem::Combined(x) = item {
                combined.push(c.combined(x, &policies));
            }
        }
    }
    if !c.diags.is_empty() {
        let mut diags = c.diags;
        diags.sort_by_key(|d| d.sort_key());
        return Err(diags);
    }
    Ok(Program {
        schema: schema.clone(),
        defines: c.defines_out,
        policies,
        exclusives,
        combined,
        ledger_ids: c.ledger_ids,
        ledger_uses: c.ledger_uses,
    })
}

enum DefineState {
    Todo,
    Busy,
    Done {
        slot: u16,
        ty: Ty,
        fields: BTreeSet<u16>,
    },
    Failed,
}

struct DefineEntry {
    name: String,
    expr: Expr,
    span: Span,
    state: DefineState,
}

pub(crate) struct Checker<'a> {
    schema: &'a Schema,
    sources: &'a Sources,
    diags: Vec<Diagnostic>,
    suppress_unknown: bool,
    defines: Vec<DefineEntry>,
    defines_out: Vec<program::Define>,
    /// The ids `paid` and `last_paid` name (see [`Program::ledger_ids`]).
    ledger_ids: Vec<String>,
    ledger_uses: Vec<program::LedgerUse>,
    /// What is being checked, for [`program::LedgerUse::within`].
    within: String,
}

impl Checker<'_> {
    fn err(&mut self, code: &'static str, span: Span, message: String, help: Option<String>) {
        let mut d = Diagnostic::new(code, message).at_span(self.sources, span);
        if let Some(h) = help {
            d = d.help(h);
        }
        self.diags.push(d);
    }

    fn line_of(&self, span: Span) -> usize {
        self.sources
            .get(span.file)
            .map_or(0, |s| s.line_col(span.start as usize).0)
    }

    fn file_name(&self, span: Span) -> String {
        self.sources
            .get(span.file)
            .map_or(String::new(), |s| s.name.clone())
    }

    fn source_text(&self, span: Span) -> String {
        self.sources
            .get(span.file)
            .and_then(|s| s.text.get(span.start as usize..span.end as usize))
            .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    }

    fn declare_define(&mut self, d: &ast::Define) {
        let name = &d.name.name;
        if let Some(first) = self
            .defines
            .iter()
            .find(|e| &e.name == name)
            .map(|e| e.span)
        {
            let line = self.line_of(first);
            let file = self.file_name(first);
            self.err(
                "check::duplicate-define",
                d.name.span,
                format!("`define {name}` is given twice"),
                Some(format!("the first is in {file} on line {line}")),
            );
            return;
        }
        if let Some(i) = self.schema.lookup(name) {
            let field = self
                .schema
                .fields
                .get(i)
                .map(|f| f.name.clone())
                .unwrap_or_default();
            self.err(
                "check::define-shadows-field",
                d.name.span,
                format!("`define {name}` has the name of the field `{field}`"),
                Some("choose another name for the derived value".into()),
            );
            return;
        }
        self.defines.push(DefineEntry {
            name: name.clone(),
            expr: d.expr.clone(),
            span: d.name.span,
            state: DefineState::Todo,
        });
    }

    fn define_names(&self) -> Vec<String> {
        self.defines.iter().map(|d| d.name.clone()).collect()
    }

    /// A reference to a define, checking it first if need be.
    #[allow(clippy::indexing_slicing)] // `i` comes from `position` over the same vector
    fn define_ref(&mut self, name: &str, span: Span) -> Option<(Ir, Ty, BTreeSet<u16>)> {
        let i = self.defines.iter().position(|d| d.name == name)?;
        match &self.defines[i].state {
            DefineState::Done { slot, ty, fields } => {
                Some((Ir::Define(*slot), *ty, fields.clone()))
            }
            DefineState::Failed => {
                Some((Ir::Const(Const::Bool(false)), Ty::Error, BTreeSet::new()))
            }
            DefineState::Busy => {
                self.err(
                    "check::define-cycle",
                    span,
                    format!("`{name}` is defined in terms of itself"),
                    Some("a define may use other defines, but not in a circle".into()),
                );
                self.defines[i].state = DefineState::Failed;
                Some((Ir::Const(Const::Bool(false)), Ty::Error, BTreeSet::new()))
            }
            DefineState::Todo => {
                self.defines[i].state = DefineState::Busy;
                let expr = self.defines[i].expr.clone();
                let mut fields = BTreeSet::new();
                let outer = std::mem::replace(&mut self.within, format!("define {name}"));
                let t = self.expr(&expr, &Scope::default(), &mut fields);
                self.within = outer;
                if matches!(self.defines[i].state, DefineState::Failed) {
                    return Some((Ir::Const(Const::Bool(false)), Ty::Error, BTreeSet::new()));
                }
                let slot = self.defines_out.len() as u16;
                self.defines_out.push(program::Define {
                    name: name.to_string(),
                    expr: t.ir,
                });
                self.defines[i].state = DefineState::Done {
                    slot,
                    ty: t.ty,
                    fields: fields.clone(),
                };
                Some((Ir::Define(slot), t.ty, fields))
            }
        }
    }

    fn policy(&mut self, p: &ast::Policy, file: String) -> Option<program::Policy> {
        self.within = format!("policy {}", p.id.name);
        let mut seen: HashMap<&'static str, Span> = HashMap::new();
        let all_lets: Vec<(usize, String, Span)> = p
            .items
            .iter()
            .enumerate()
            .filter_map(|(i, it)| match &it.kind {
                ItemKind::Let(name, _) => Some((i, name.name.clone(), name.span)),
                _ => None,
            })
            .collect();
        let mut scope = Scope::default();
        let mut out = program::Policy {
            id: p.id.name.clone(),
            title: String::new(),
            issuer: None,
            basis: None,
            valid: None,
            budget: None,
            allocate: None,
            limit: None,
            lets: Vec::new(),
            clauses: Vec::new(),
            amount: None,
            file,
            span: p.span,
        };
        let mut amount: Option<(String, Ir, BTreeSet<u16>, String)> = None;
        let mut cap: Option<(Ir, BTreeSet<u16>, String)> = None;
        let mut has_title = false;
        for (index, item) in p.items.iter().enumerate() {
            scope.later = all_lets
                .iter()
                .filter(|(i, _, _)| *i > index)
                .map(|(_, n, s)| (n.clone(), *s))
                .collect();
            if let Some(word) = once_only(&item.kind) {
                if let Some(first) = seen.get(word) {
                    let line = self.line_of(*first);
                    self.err(
                        "check::duplicate-item",
                        item.keyword,
                        format!("`{word}` is given twice in policy `{}`", p.id.name),
                        Some(format!(
                            "the first `{word}` is on line {line}; a policy has at most one"
                        )),
                    );
                    continue;
                }
                seen.insert(word, item.keyword);
            }
            let mut reads = BTreeSet::new();
            match &item.kind {
                ItemKind::Title(t) => {
                    has_title = true;
                    if t.value.trim().is_empty() {
                        self.err(
                            "check::empty-title",
                            t.span,
                            format!("the title of policy `{}` is empty", p.id.name),
                            Some(
                                "write the policy's name as the officers and firms know it".into(),
                            ),
                        );
                    }
                    out.title = t.value.clone();
                }
                ItemKind::Issuer(t) => out.issuer = Some(t.value.clone()),
                ItemKind::Basis(t) => out.basis = Some(t.value.clone()),
                ItemKind::Valid(a, b) => {
                    if b.date < a.date {
                        self.err(
                            "check::valid-range",
                            a.span.to(b.span),
                            format!("the period ends ({}) before it starts ({})", b.date, a.date),
                            Some("write `valid FROM to UNTIL` with the earlier date first".into()),
                        );
                    }
                    out.valid = Some((a.date, b.date));
                }
                ItemKind::Budget(lit) => out.budget = self.budget(lit),
                ItemKind::Allocate(Allocate::ProRata) => out.allocate = Some(Allocation::ProRata),
                ItemKind::Allocate(Allocate::By(e, dir)) => {
                    let ir = self.order_expr(e, &scope, "`allocate by`");
                    out.allocate = Some(Allocation::By(ir, *dir));
                }
                ItemKind::Limit(n, e, dir) => {
                    let by = self.order_expr(e, &scope, "`limit … by`");
                    let count = self.limit_count(n);
                    out.limit = Some(Limit {
                        n: count,
                        by,
                        dir: *dir,
                    });
                }
                ItemKind::Let(name, e) => {
                    if let Some(prev) = all_lets
                        .iter()
                        .find(|(i, n, _)| *i < index && n == &name.name)
                    {
                        let line = self.line_of(prev.2);
                        self.err(
                            "check::duplicate-let",
                            name.span,
                            format!(
                                "`let {}` is defined twice in policy `{}`",
                                name.name, p.id.name
                            ),
                            Some(format!(
                                "the first is on line {line}; give this one another name"
                            )),
                        );
                        continue;
                    }
                    let t = self.expr(e, &scope, &mut reads);
                    out.lets.push(program::Let {
                        name: name.name.clone(),
                        expr: t.ir,
                        source: self.source_text(e.span),
                    });
                    scope.lets.push((name.name.clone(), t.ty, reads));
                }
                ItemKind::Require(label, e) | ItemKind::Exclude(label, e) => {
                    let kind = if matches!(item.kind, ItemKind::Require(..)) {
                        ClauseKind::Require
                    } else {
                        ClauseKind::Exclude
                    };
                    let t = self.expr(e, &scope, &mut reads);
                    if t.ty != Ty::Bool && t.ty != Ty::Error {
                        let word = if kind == ClauseKind::Require {
                            "require"
                        } else {
                            "exclude"
                        };
                        self.err(
                            "check::type",
                            e.span,
                            format!(
                                "{} `{word}` condition must be true or false, this is {}",
                                if word == "exclude" { "an" } else { "a" },
                                t.ty.describe()
                            ),
                            Some("compare it, e.g. `insured_months >= 12`".into()),
                        );
                    }
                    let label = label
                        .as_ref()
                        .map(|l| l.value.clone())
                        .unwrap_or_else(|| self.source_text(e.span));
                    out.clauses.push(Clause {
                        kind,
                        label,
                        expr: t.ir,
                        source: self.source_text(e.span),
                        fields: reads.into_iter().collect(),
                        span: item.span,
                    });
                }
                ItemKind::Amount(label, e) => {
                    let ir = self.money_expr(e, &scope, &mut reads, "the amount");
                    let label = label
                        .as_ref()
                        .map(|l| l.value.clone())
                        .unwrap_or_else(|| "amount".to_string());
                    amount = Some((label, ir, reads, self.source_text(e.span)));
                }
                ItemKind::Cap(e) => {
                    if let Some(v) = negative_literal(e) {
                        self.err(
                            "check::negative-cap",
                            e.span,
                            format!("the cap `{v}` is negative"),
                            Some(
                                "a cap bounds the amount from above; write a positive amount"
                                    .into(),
                            ),
                        );
                    }
                    let ir = self.money_expr(e, &scope, &mut reads, "the cap");
                    cap = Some((ir, reads, self.source_text(e.span)));
                }
            }
        }
        if !has_title {
            self.err(
                "check::missing-title",
                p.id.span,
                format!("policy `{}` has no `title`", p.id.name),
                Some("add `title \"…\"` with the policy's name".into()),
            );
        }
        if out.clauses.len() > MAX_CLAUSES {
            self.err(
                "check::too-many-clauses",
                p.id.span,
                format!(
                    "policy `{}` has {} conditions; at most {MAX_CLAUSES} are allowed",
                    p.id.name,
                    out.clauses.len()
                ),
                Some("combine conditions with `and`, or split the policy".into()),
            );
        }
        match (amount, cap) {
            (Some((label, expr, mut fields, source)), cap) => {
                let (cap, cap_source) = match cap {
                    Some((ir, f, text)) => {
                        fields.extend(f);
                        (Some(ir), Some(text))
                    }
                    None => (None, None),
                };
                out.amount = Some(Amount {
                    label,
                    expr,
                    cap,
                    source,
                    cap_source,
                    fields: fields.into_iter().collect(),
                });
            }
            (None, Some(_)) => {
                let at = seen.get("cap").copied().unwrap_or(p.id.span);
                self.err(
                    "check::cap-without-amount",
                    at,
                    format!("policy `{}` has a `cap` but no `amount`", p.id.name),
                    Some(
                        "add `amount …`, or remove the cap of this qualification-only policy"
                            .into(),
                    ),
                );
            }
            (None, None) => {}
        }
        if out.allocate.is_some() && out.budget.is_none() {
            let at = seen.get("allocate").copied().unwrap_or(p.id.span);
            self.err(
                "check::allocate-without-budget",
                at,
                format!(
                    "policy `{}` says how to `allocate` a budget but has no `budget`",
                    p.id.name
                ),
                Some("add `budget …`".into()),
            );
        }
        Some(out)
    }

    fn budget(&mut self, lit: &ast::SignedLit) -> Option<Decimal> {
        if lit.kind == NumKind::Percent {
            self.err(
                "check::type",
                lit.span,
                "a budget is money, this is a percent".into(),
                Some("e.g. `budget 8000万`".into()),
            );
            return None;
        }
        if lit.value.is_sign_negative() && !lit.value.is_zero() {
            self.err(
                "check::negative-budget",
                lit.span,
                format!("the budget `{}` is negative", lit.value.normalize()),
                Some("a budget is the money available: zero or more".into()),
            );
            return None;
        }
        if lit.value.normalize().scale() > 2 {
            self.err(
                "check::budget-cents",
                lit.span,
                format!(
                    "the budget `{}` has fractions of a cent",
                    lit.value.normalize()
                ),
                Some("a budget is paid in cents: at most two decimals".into()),
            );
            return None;
        }
        Some(lit.value)
    }

    fn limit_count(&mut self, n: &ast::SignedLit) -> u64 {
        let v = n.value.normalize();
        if n.kind == NumKind::Percent || v.scale() > 0 {
            self.err(
                "check::limit",
                n.span,
                format!("`limit` takes a whole number of firms, not `{v}`"),
                None,
            );
            return 1;
        }
        if v < Decimal::ONE {
            self.err(
                "check::limit",
                n.span,
                format!("`limit {v}` pays no firm"),
                Some("the number of firms paid must be 1 or more".into()),
            );
            return 1;
        }
        u64::try_from(v.mantissa()).unwrap_or(u64::MAX)
    }

    fn order_expr(&mut self, e: &Expr, scope: &Scope, what: &str) -> Ir {
        let mut reads = BTreeSet::new();
        let t = self.expr(e, scope, &mut reads);
        if !(t.ty.is_numeric() || t.ty == Ty::Date) {
            self.err(
                "check::type",
                e.span,
                format!(
                    "{what} orders firms by a number or a date, this is {}",
                    t.ty.describe()
                ),
                None,
            );
        }
        t.ir
    }

    fn money_expr(&mut self, e: &Expr, scope: &Scope, reads: &mut BTreeSet<u16>, what: &str) -> Ir {
        let t = self.expr(e, scope, reads);
        match t.ty {
            Ty::Money | Ty::Integer | Ty::Number | Ty::Error => {}
            Ty::Percent => self.err(
                "check::type",
                e.span,
                format!("{what} is money, this is a percent"),
                Some("multiply the percent by an amount, e.g. `ui_premium_paid * 60%`".into()),
            ),
            other => self.err(
                "check::type",
                e.span,
                format!("{what} is money, this is {}", other.describe()),
                None,
            ),
        }
        t.ir
    }

    fn exclusive(
        &mut self,
        x: &ast::Exclusive,
        policies: &[program::Policy],
    ) -> program::Exclusive {
        program::Exclusive {
            label: x.label.value.clone(),
            policies: self.group_ids(
                &x.policies,
                policies,
                "check::exclusive",
                "an exclusive group",
            ),
        }
    }

    /// `combined "LABEL" { … } cap EXPR` (LANGUAGE.md section 7 step 2): the
    /// cap is read for each firm (fields, defines, `as_of`, prior payments;
    /// no `let`), and every listed policy pays an amount.
    fn combined(&mut self, x: &ast::Combined, policies: &[program::Policy]) -> program::Combined {
        let ids = self.group_ids(&x.policies, policies, "check::combined", "a combined group");
        for &i in &ids {
            let Some(p) = policies.get(i) else { continue };
            let Some(id) = x.policies.iter().find(|id| id.name == p.id) else {
                continue;
            };
            if p.amount.is_none() {
                self.err(
                    "check::combined-amount",
                    id.span,
                    format!(
                        "policy `{}` has no `amount`, so a combined cap has nothing to share",
                        id.name
                    ),
                    Some("a combined group lists policies that pay an amount".into()),
                );
            }
        }
        self.within = format!("combined \"{}\"", x.label.value);
        let mut reads = BTreeSet::new();
        let cap = self.money_expr(
            &x.cap,
            &Scope::default(),
            &mut reads,
            "the cap of a combined group",
        );
        self.within.clear();
        program::Combined {
            label: x.label.value.clone(),
            policies: ids,
            cap,
            cap_source: self.source_text(x.cap.span),
            fields: reads.into_iter().collect(),
            span: x.span,
        }
    }

    /// The policies a group lists, as indices in the order listed; unknown
    /// ids (with the closest known one) and ids listed twice are errors.
    fn group_ids(
        &mut self,
        listed: &[ast::Ident],
        policies: &[program::Policy],
        code: &'static str,
        what: &str,
    ) -> Vec<usize> {
        let mut out = Vec::new();
        for id in listed {
            match policies.binary_search_by(|p| p.id.as_str().cmp(&id.name)) {
                Ok(i) => {
                    if out.contains(&i) {
                        self.err(
                            code,
                            id.span,
                            format!("`{}` is listed twice in this group", id.name),
                            None,
                        );
                    } else {
                        out.push(i);
                    }
                }
                Err(_) if self.suppress_unknown => {}
                Err(_) => {
                    let help =
                        crate::suggest::closest(&id.name, policies.iter().map(|p| p.id.as_str()))
                            .map(|s| format!("did you mean `{s}`?"));
                    self.err(
                        "check::unknown-policy",
                        id.span,
                        format!("no policy has the id `{}`", id.name),
                        help.or(Some(format!("{what} lists policy ids of this set"))),
                    );
                }
            }
        }
        out
    }
}

/// Items a policy may hold at most once, by keyword.
fn once_only(kind: &ItemKind) -> Option<&'static str> {
    Some(match kind {
        ItemKind::Title(_) => "title",
        ItemKind::Issuer(_) => "issuer",
        ItemKind::Basis(_) => "basis",
        ItemKind::Valid(..) => "valid",
        ItemKind::Budget(_) => "budget",
        ItemKind::Allocate(_) => "allocate",
        ItemKind::Limit(..) => "limit",
        ItemKind::Amount(..) => "amount",
        ItemKind::Cap(_) => "cap",
        _ => return None,
    })
}

fn negative_literal(e: &Expr) -> Option<Decimal> {
    match &e.kind {
        ExprKind::Neg(inner) => match inner.kind {
            ExprKind::Number(v, _) if !v.is_zero() => Some(-v),
            _ => None,
        },
        ExprKind::Number(v, _) if v.is_sign_negative() && !v.is_zero() => Some(*v),
        _ => None,
    }
}
