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
/// `files[i]`) against the schema. `unread` holds the names that files
/// which could not be parsed may define (`define` names and policy ids):
/// they are not reported as unknown elsewhere.
pub fn check(
    schema: &Schema,
    sources: &Sources,
    files: &[SourceFile],
    names: &[String],
    unread: &BTreeSet<String>,
) -> Result<Program, Vec<Diagnostic>> {
    let mut c = Checker {
        schema,
        sources,
        diags: Vec::new(),
        unread,
        defines: Vec::new(),
        defines_out: Vec::new(),
        ledger_ids: Vec::new(),
        ledger_uses: Vec::new(),
        within: String::new(),
        quote_hint: false,
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
                        format!(
                            "政策编号 `{}` 重复 (policy `{}` is defined twice)",
                            p.id.name, p.id.name
                        ),
                        Some(format!(
                            "第一个在 {first_file} 第 {line} 行;整个政策集里政策编号不能重复"
                        )),
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
    // defines nobody used are still checked (within nothing: reading the
    // ledger there makes no run need it)
    c.within.clear();
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
        /// The first `paid`/`last_paid` call it reads, directly or through
        /// another define: a policy reading it reads prior payments.
        reads_ledger: Option<String>,
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
    /// Names a file that could not be parsed may define.
    unread: &'a BTreeSet<String>,
    defines: Vec<DefineEntry>,
    defines_out: Vec<program::Define>,
    /// The ids `paid` and `last_paid` name (see [`Program::ledger_ids`]).
    ledger_ids: Vec<String>,
    ledger_uses: Vec<program::LedgerUse>,
    /// What is being checked, for [`program::LedgerUse::within`].
    within: String,
    /// A text is expected where a name is being checked (`tags contains
    /// 高新技术企业`): an unknown name there is a text without its quotes.
    quote_hint: bool,
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
        self.sources.quote(span)
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
                format!("`define {name}` 重复定义 (given twice)"),
                Some(format!("第一个在 {file} 第 {line} 行")),
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
                format!("`define {name}` 与字段 `{field}` 同名 (has the name of a field)"),
                Some("给这个派生值另取一个名字".into()),
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
            DefineState::Done {
                slot,
                ty,
                fields,
                reads_ledger,
            } => {
                let found = (Ir::Define(*slot), *ty, fields.clone());
                if let Some(call) = reads_ledger.clone() {
                    self.ledger_use_through(name, call, span);
                }
                Some(found)
            }
            DefineState::Failed => {
                Some((Ir::Const(Const::Bool(false)), Ty::Error, BTreeSet::new()))
            }
            DefineState::Busy => {
                self.err(
                    "check::define-cycle",
                    span,
                    format!("`{name}` 的定义绕回了它自己 (defined in terms of itself)"),
                    Some("define 可以用其他 define,但不能循环引用".into()),
                );
                self.defines[i].state = DefineState::Failed;
                Some((Ir::Const(Const::Bool(false)), Ty::Error, BTreeSet::new()))
            }
            DefineState::Todo => {
                self.defines[i].state = DefineState::Busy;
                let expr = self.defines[i].expr.clone();
                let mut fields = BTreeSet::new();
                let outer = std::mem::replace(&mut self.within, format!("define {name}"));
                let uses_before = self.ledger_uses.len();
                let t = self.expr(&expr, &Scope::default(), &mut fields);
                self.within = outer;
                let reads_ledger = self.ledger_uses.get(uses_before).map(|u| u.call.clone());
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
                    reads_ledger: reads_ledger.clone(),
                };
                if let Some(call) = reads_ledger {
                    self.ledger_use_through(name, call, span);
                }
                Some((Ir::Define(slot), t.ty, fields))
            }
        }
    }

    /// What is being checked reads prior payments through the define
    /// `name` (whose first call is `call`), referred to at `span`: recorded
    /// as its own use, so that a run without a ledger names the policy (or
    /// combined cap) and the line, not only the define.
    fn ledger_use_through(&mut self, name: &str, call: String, span: Span) {
        if self.within.is_empty() {
            return;
        }
        self.ledger_uses.push(program::LedgerUse {
            within: self.within.clone(),
            call: format!("{name} = {call}"),
            file: self.file_name(span),
            line: self.line_of(span),
            span,
        });
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
            same_conditions: None,
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
                        format!("政策 `{}` 里 `{word}` 写了两次 (given twice)", p.id.name),
                        Some(format!("第一个 `{word}` 在第 {line} 行;每条政策最多一个")),
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
                            format!("政策 `{}` 的 title 是空的 (the title is empty)", p.id.name),
                            Some("写上企业和工作人员熟悉的政策名称".into()),
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
                            format!("有效期的结束日期 ({}) 早于开始日期 ({}) (the period ends before it starts)", b.date, a.date),
                            Some("写成 `valid 开始日期 to 结束日期`,早的日期在前".into()),
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
                                "政策 `{}` 里 `let {}` 定义了两次 (defined twice)",
                                p.id.name, name.name
                            ),
                            Some(format!("第一个在第 {line} 行;给这一个另取名字")),
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
                                "`{word}` 的条件要得出真或假,这里是{} (must be true or false)",
                                t.ty.describe()
                            ),
                            Some("写成比较,如 `insured_months >= 12`".into()),
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
                    let ir = self.money_expr(e, &scope, &mut reads, "`amount`");
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
                            format!("封顶 `{v}` 是负数 (the cap is negative)"),
                            Some("cap 是金额的上限,请写正的金额".into()),
                        );
                    }
                    let ir = self.money_expr(e, &scope, &mut reads, "`cap`");
                    cap = Some((ir, reads, self.source_text(e.span)));
                }
            }
        }
        if !has_title {
            self.err(
                "check::missing-title",
                p.id.span,
                format!("政策 `{}` 没有 `title` (no title)", p.id.name),
                Some("加上 `title \"政策名称\"`".into()),
            );
        }
        if out.clauses.len() > MAX_CLAUSES {
            self.err(
                "check::too-many-clauses",
                p.id.span,
                format!(
                    "政策 `{}` 有 {} 个条件,最多 {MAX_CLAUSES} 个 (too many conditions)",
                    p.id.name,
                    out.clauses.len()
                ),
                Some("用 `and` 合并条件,或把政策拆开".into()),
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
                    format!(
                        "政策 `{}` 有 `cap` 却没有 `amount` (a cap but no amount)",
                        p.id.name
                    ),
                    Some("加上 `amount …`;只认定资格、不发金额的政策请删去 cap".into()),
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
                    "政策 `{}` 写了 `allocate` 却没有 `budget` (allocate without a budget)",
                    p.id.name
                ),
                Some("加上 `budget 金额`".into()),
            );
        }
        Some(out)
    }

    fn budget(&mut self, lit: &ast::SignedLit) -> Option<Decimal> {
        if lit.kind == NumKind::Percent {
            self.err(
                "check::type",
                lit.span,
                "预算是金额,这里是百分比 (a budget is money, this is a percent)".into(),
                Some("写成如 `budget 8000万`".into()),
            );
            return None;
        }
        if lit.value.is_sign_negative() && !lit.value.is_zero() {
            self.err(
                "check::negative-budget",
                lit.span,
                format!(
                    "预算 `{}` 是负数 (the budget is negative)",
                    lit.value.normalize()
                ),
                Some("预算是可用的资金:零或更多".into()),
            );
            return None;
        }
        if lit.value.normalize().scale() > 2 {
            self.err(
                "check::budget-cents",
                lit.span,
                format!(
                    "预算 `{}` 精确到了分以下 (fractions of a cent)",
                    lit.value.normalize()
                ),
                Some("预算以分为单位:最多两位小数".into()),
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
                format!("`limit` 要写企业家数(整数),不是 `{v}` (a whole number of firms)"),
                None,
            );
            return 1;
        }
        if v < Decimal::ONE {
            self.err(
                "check::limit",
                n.span,
                format!("`limit {v}` 一家企业也不发 (pays no firm)"),
                Some("获得兑付的企业数至少为 1".into()),
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
                    "{what} 按数字或日期给企业排序,这里是{} (orders by a number or a date)",
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
                format!("{what} 应是金额,这里是百分比 (money, not a percent)"),
                Some("用金额乘以百分比,如 `ui_premium_paid * 60%`".into()),
            ),
            other => self.err(
                "check::type",
                e.span,
                format!("{what} 应是金额,这里是{} (must be money)", other.describe()),
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
            policies: self.group_ids(&x.policies, policies, "check::exclusive", "互斥组"),
        }
    }

    /// `combined "LABEL" { … } cap EXPR` (LANGUAGE.md section 7 step 2): the
    /// cap is read for each firm (fields, defines, `as_of`, prior payments;
    /// no `let`), and every listed policy pays an amount.
    fn combined(&mut self, x: &ast::Combined, policies: &[program::Policy]) -> program::Combined {
        let ids = self.group_ids(&x.policies, policies, "check::combined", "合并限额组");
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
                        "政策 `{}` 没有 `amount`,合并限额无额可分 (no amount to cap)",
                        id.name
                    ),
                    Some("合并限额组只列发放金额的政策".into()),
                );
            }
        }
        self.within = format!("combined \"{}\"", x.label.value);
        let mut reads = BTreeSet::new();
        let cap = self.money_expr(&x.cap, &Scope::default(), &mut reads, "合并限额组的 `cap`");
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
                            format!("`{}` 在组里列了两次 (listed twice)", id.name),
                            None,
                        );
                    } else {
                        out.push(i);
                    }
                }
                Err(_) if self.unread.contains(&id.name) => {}
                Err(_) => {
                    let help =
                        crate::suggest::closest(&id.name, policies.iter().map(|p| p.id.as_str()))
                            .map(|s| format!("是不是 `{s}`? (did you mean `{s}`?)"));
                    self.err(
                        "check::unknown-policy",
                        id.span,
                        format!("没有编号为 `{}` 的政策 (no such policy)", id.name),
                        help.or(Some(format!("{what}列的是本政策集的政策编号"))),
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
