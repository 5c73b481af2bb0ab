//! The checked, compiled form of a policy set: what evaluation runs.
//!
//! Every name is resolved to a slot (a schema field, a `let` of the policy, a
//! set-wide `define`); every type is known. Evaluation never looks up a name.

use rust_decimal::Decimal;

use crate::date::Date;
use crate::diag::Span;
use crate::ops::{ArithOp, CmpOp, Direction};
use crate::schema::Schema;

/// A constant of the program.
#[derive(Clone, Debug, PartialEq)]
pub enum Const {
    Bool(bool),
    Num(Decimal),
    Date(Date),
    Text(Box<str>),
}

/// Built-in functions (LANGUAGE.md section 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    Min,
    Max,
    Abs,
    Round,
    Floor,
    Coalesce,
    StartsWith,
    YearsBetween,
    MonthsBetween,
    Year,
}

impl Func {
    pub fn name(self) -> &'static str {
        match self {
            Func::Min => "min",
            Func::Max => "max",
            Func::Abs => "abs",
            Func::Round => "round",
            Func::Floor => "floor",
            Func::Coalesce => "coalesce",
            Func::StartsWith => "starts_with",
            Func::YearsBetween => "years_between",
            Func::MonthsBetween => "months_between",
            Func::Year => "year",
        }
    }

    pub const ALL: [Func; 10] = [
        Func::Min,
        Func::Max,
        Func::Abs,
        Func::Round,
        Func::Floor,
        Func::Coalesce,
        Func::StartsWith,
        Func::YearsBetween,
        Func::MonthsBetween,
        Func::Year,
    ];
}

/// A compiled expression.
#[derive(Clone, Debug)]
pub enum Ir {
    Const(Const),
    /// A schema field, by index.
    Field(u16),
    /// A `let` of the current policy, by slot.
    Let(u16),
    /// A set-wide `define`, by slot.
    Define(u16),
    /// The run's reference date.
    AsOf,
    Neg(Box<Ir>),
    Not(Box<Ir>),
    Arith(ArithOp, Box<Ir>, Box<Ir>),
    And(Box<Ir>, Box<Ir>),
    Or(Box<Ir>, Box<Ir>),
    Cmp(CmpOp, Box<Ir>, Box<Ir>),
    /// `field OP number`: the most common condition, compared without
    /// building values.
    CmpField {
        op: CmpOp,
        field: u16,
        value: Decimal,
    },
    /// `field == "text"` / `field != "text"` (text and enum fields).
    EqFieldText {
        negated: bool,
        field: u16,
        value: Box<str>,
    },
    /// `x in [a, b]`
    InList {
        negated: bool,
        item: Box<Ir>,
        list: Vec<Ir>,
    },
    /// `x in tags` (a list-typed value)
    InValue {
        negated: bool,
        item: Box<Ir>,
        list: Box<Ir>,
    },
    /// `tags contains "专精特新"`
    ListContains(Box<Ir>, Box<Ir>),
    /// `name contains "科技"` (text contains text; an extension)
    TextContains(Box<Ir>, Box<Ir>),
    Between(Box<Ir>, Box<Ir>, Box<Ir>),
    IsMissing {
        present: bool,
        expr: Box<Ir>,
    },
    If(Box<Ir>, Box<Ir>, Box<Ir>),
    When(Vec<(Ir, Ir)>, Box<Ir>),
    Tiers {
        base: Box<Ir>,
        rows: Vec<(CmpOp, Ir, Ir)>,
        otherwise: Option<Box<Ir>>,
    },
    /// Marginal brackets; `None` bound is the `above` row.
    Progressive {
        base: Box<Ir>,
        rows: Vec<(Option<Ir>, Ir)>,
    },
    Call(Func, Vec<Ir>),
    /// `paid(ID, …)` (`last: false`) or `last_paid(ID, …)` (`last: true`):
    /// the ids as indices into [`Program::ledger_ids`].
    Paid {
        last: bool,
        ids: Vec<u16>,
    },
}

/// Whether a condition must hold or must not hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClauseKind {
    Require,
    Exclude,
}

/// A `require` or `exclude` of a policy.
#[derive(Clone, Debug)]
pub struct Clause {
    pub kind: ClauseKind,
    pub label: String,
    pub expr: Ir,
    /// The condition as written (for explanations).
    pub source: String,
    /// The schema fields the condition reads (through lets and defines too).
    pub fields: Vec<u16>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Let {
    pub name: String,
    pub expr: Ir,
    /// The expression as written.
    pub source: String,
}

#[derive(Clone, Debug)]
pub struct Amount {
    pub label: String,
    pub expr: Ir,
    pub cap: Option<Ir>,
    /// The amount and the cap as written.
    pub source: String,
    pub cap_source: Option<String>,
    /// Fields read by the amount and the cap.
    pub fields: Vec<u16>,
}

/// `allocate …`: how an exceeded budget is shared.
#[derive(Clone, Debug)]
pub enum Allocation {
    ProRata,
    By(Ir, Direction),
}

/// `limit N by EXPR dir`.
#[derive(Clone, Debug)]
pub struct Limit {
    pub n: u64,
    pub by: Ir,
    pub dir: Direction,
}

/// One checked policy.
#[derive(Clone, Debug)]
pub struct Policy {
    pub id: String,
    pub title: String,
    pub issuer: Option<String>,
    pub basis: Option<String>,
    pub valid: Option<(Date, Date)>,
    pub budget: Option<Decimal>,
    pub allocate: Option<Allocation>,
    pub limit: Option<Limit>,
    pub lets: Vec<Let>,
    pub clauses: Vec<Clause>,
    pub amount: Option<Amount>,
    /// Path of the file it was written in, relative to the policy set.
    pub file: String,
    pub span: Span,
    /// Only in a batch run's evaluation copy ([`crate::eval::shared`]):
    /// the slot shared by the policies that state exactly these conditions
    /// in this order, whose clauses are then evaluated once per firm for
    /// all of them. `None` in the program as written.
    pub same_conditions: Option<u16>,
}

impl Policy {
    /// In force on `as_of` (no `valid` means always).
    pub fn in_force(&self, as_of: Date) -> bool {
        self.valid
            .is_none_or(|(from, to)| from <= as_of && as_of <= to)
    }
}

/// A set-wide `define`.
#[derive(Clone, Debug)]
pub struct Define {
    pub name: String,
    pub expr: Ir,
}

/// `exclusive "LABEL" { … } keep highest`, with policies as indices.
#[derive(Clone, Debug)]
pub struct Exclusive {
    pub label: String,
    pub policies: Vec<usize>,
}

/// `combined "LABEL" { … } cap EXPR`, with policies as indices.
#[derive(Clone, Debug)]
pub struct Combined {
    pub label: String,
    /// In the order listed.
    pub policies: Vec<usize>,
    pub cap: Ir,
    /// The cap as written (for explanations).
    pub cap_source: String,
    /// The schema fields the cap reads.
    pub fields: Vec<u16>,
    pub span: Span,
}

/// Where a policy set reads prior payments: a `paid` or `last_paid` call.
#[derive(Clone, Debug)]
pub struct LedgerUse {
    /// What the call is part of: `policy ID`, `define NAME` or
    /// `combined "LABEL"`.
    pub within: String,
    /// The call as written.
    pub call: String,
    /// Where: the policy file (relative to the set) and line.
    pub file: String,
    pub line: usize,
    pub span: Span,
}

impl LedgerUse {
    /// Why a run needs `--ledger`: names the policy, the file and the line.
    pub fn needs_ledger(&self) -> String {
        self.needs(
            "需要兑付台账: 请用 --ledger FILE 给出; 只有表头 `key,policy,amount,paid_on` 的台账即空台账",
            "so the run needs the ledger of payments made: give --ledger FILE",
        )
    }

    /// The same for a run in the database (`run --postgres`), which reads
    /// the payments from a table.
    pub fn needs_ledger_table(&self) -> String {
        self.needs(
            "需要台账表: 请用 --ledger-table TABLE 给出 (列 key, policy, amount, paid_on)",
            "give --ledger-table TABLE, with columns key, policy, amount, paid_on",
        )
    }

    fn needs(&self, zh: &str, en: &str) -> String {
        format!(
            "{within} 读取已兑付记录 ({call}, {file}:{line}), {zh} ({within} reads prior payments, {en})",
            within = self.within,
            call = self.call,
            file = self.file,
            line = self.line
        )
    }
}

/// A checked policy set, ready to evaluate.
#[derive(Clone, Debug)]
pub struct Program {
    pub schema: Schema,
    /// In an order where each define only reads earlier ones.
    pub defines: Vec<Define>,
    /// Sorted by id.
    pub policies: Vec<Policy>,
    pub exclusives: Vec<Exclusive>,
    /// In the order written, file by file in path order.
    pub combined: Vec<Combined>,
    /// The policy ids `paid` and `last_paid` name, in order of first use.
    pub ledger_ids: Vec<String>,
    /// Every `paid` and `last_paid` call, and every reference to a define
    /// that reads one: a run needs a ledger when a policy or a combined cap
    /// reads one ([`Program::ledger_needed`]).
    pub ledger_uses: Vec<LedgerUse>,
}

impl Program {
    /// Why a run of this set needs `--ledger`, if it does: the first
    /// `paid`/`last_paid` read by a policy or a combined cap, directly or
    /// through a define, so that the message names the policy; failing
    /// that, a define that reads one (one that no policy reads still makes
    /// the ledger necessary: a payment is never judged without it).
    pub fn ledger_needed(&self) -> Option<&LedgerUse> {
        self.ledger_uses
            .iter()
            .find(|u| !u.within.starts_with("define "))
            .or_else(|| self.ledger_uses.first())
    }

    pub fn policy_index(&self, id: &str) -> Option<usize> {
        self.policies
            .binary_search_by(|p| p.id.as_str().cmp(id))
            .ok()
    }
}

impl Ir {
    /// Calls `f` on this expression and every expression inside it.
    pub fn walk(&self, f: &mut impl FnMut(&Ir)) {
        f(self);
        let mut all = |items: &[&Ir]| items.iter().for_each(|i| i.walk(f));
        match self {
            Ir::Const(_)
            | Ir::Field(_)
            | Ir::CmpField { .. }
            | Ir::EqFieldText { .. }
            | Ir::Let(_)
            | Ir::Define(_)
            | Ir::AsOf
            | Ir::Paid { .. } => {}
            Ir::Neg(x) | Ir::Not(x) | Ir::IsMissing { expr: x, .. } => all(&[x]),
            Ir::Arith(_, a, b)
            | Ir::And(a, b)
            | Ir::Or(a, b)
            | Ir::Cmp(_, a, b)
            | Ir::ListContains(a, b)
            | Ir::TextContains(a, b)
            | Ir::InValue {
                item: a, list: b, ..
            } => all(&[a, b]),
            Ir::InList { item, list, .. } => {
                item.walk(f);
                list.iter().for_each(|i| i.walk(f));
            }
            Ir::Between(a, b, c) | Ir::If(a, b, c) => all(&[a, b, c]),
            Ir::When(arms, other) => {
                for (c, v) in arms {
                    c.walk(f);
                    v.walk(f);
                }
                other.walk(f);
            }
            Ir::Tiers {
                base,
                rows,
                otherwise,
            } => {
                base.walk(f);
                for (_, b, r) in rows {
                    b.walk(f);
                    r.walk(f);
                }
                if let Some(o) = otherwise {
                    o.walk(f);
                }
            }
            Ir::Progressive { base, rows } => {
                base.walk(f);
                for (b, r) in rows {
                    if let Some(b) = b {
                        b.walk(f);
                    }
                    r.walk(f);
                }
            }
            Ir::Call(_, args) => args.iter().for_each(|a| a.walk(f)),
        }
    }
}

impl Ir {
    /// The expressions directly inside this one, to change them.
    pub fn children_mut(&mut self) -> Vec<&mut Ir> {
        match self {
            Ir::Const(_)
            | Ir::Field(_)
            | Ir::CmpField { .. }
            | Ir::EqFieldText { .. }
            | Ir::Let(_)
            | Ir::Define(_)
            | Ir::AsOf
            | Ir::Paid { .. } => Vec::new(),
            Ir::Neg(x) | Ir::Not(x) | Ir::IsMissing { expr: x, .. } => vec![&mut **x],
            Ir::Arith(_, a, b)
            | Ir::And(a, b)
            | Ir::Or(a, b)
            | Ir::Cmp(_, a, b)
            | Ir::ListContains(a, b)
            | Ir::TextContains(a, b)
            | Ir::InValue {
                item: a, list: b, ..
            } => vec![&mut **a, &mut **b],
            Ir::InList { item, list, .. } => std::iter::once(&mut **item).chain(list).collect(),
            Ir::Between(a, b, c) | Ir::If(a, b, c) => vec![&mut **a, &mut **b, &mut **c],
            Ir::When(arms, other) => arms
                .iter_mut()
                .flat_map(|(c, v)| [c, v])
                .chain(std::iter::once(&mut **other))
                .collect(),
            Ir::Tiers {
                base,
                rows,
                otherwise,
            } => std::iter::once(&mut **base)
                .chain(rows.iter_mut().flat_map(|(_, b, r)| [b, r]))
                .chain(otherwise.as_deref_mut())
                .collect(),
            Ir::Progressive { base, rows } => std::iter::once(&mut **base)
                .chain(
                    rows.iter_mut()
                        .flat_map(|(b, r)| b.as_mut().into_iter().chain(std::iter::once(r))),
                )
                .collect(),
            Ir::Call(_, args) => args.iter_mut().collect(),
        }
    }
}

impl Program {
    /// Every expression of the program: defines, and each policy's lets,
    /// conditions, amount, cap and ordering expressions.
    pub fn expressions(&self) -> Vec<&Ir> {
        let mut out: Vec<&Ir> = self.defines.iter().map(|d| &d.expr).collect();
        for p in &self.policies {
            out.extend(p.lets.iter().map(|l| &l.expr));
            out.extend(p.clauses.iter().map(|c| &c.expr));
            if let Some(a) = &p.amount {
                out.push(&a.expr);
                out.extend(a.cap.as_ref());
            }
            if let Some(l) = &p.limit {
                out.push(&l.by);
            }
            if let Some(Allocation::By(by, _)) = &p.allocate {
                out.push(by);
            }
        }
        out.extend(self.combined.iter().map(|c| &c.cap));
        out
    }

    /// Which schema fields evaluation reads (the key always counts).
    pub fn used_fields(&self) -> Vec<bool> {
        let mut used = vec![false; self.schema.fields.len()];
        if let Some(k) = used.get_mut(self.schema.key) {
            *k = true;
        }
        for e in self.expressions() {
            e.walk(&mut |ir| {
                if let Ir::Field(i)
                | Ir::CmpField { field: i, .. }
                | Ir::EqFieldText { field: i, .. } = ir
                {
                    if let Some(u) = used.get_mut(*i as usize) {
                        *u = true;
                    }
                }
            });
        }
        used
    }
}
