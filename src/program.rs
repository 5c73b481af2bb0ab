//! The checked, compiled form of a policy set: what evaluation runs.
//!
//! Every name is resolved to a slot (a schema field, a `let` of the policy, a
//! set-wide `define`); every type is known. Evaluation never looks up a name.

use rust_decimal::Decimal;

use crate::date::Date;
use crate::schema::Schema;
use crate::syntax::ast::{ArithOp, CmpOp, Direction, Span};

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
    /// The schema fields the condition reads (through lets and defines too).
    pub fields: Vec<u16>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Let {
    pub name: String,
    pub expr: Ir,
}

#[derive(Clone, Debug)]
pub struct Amount {
    pub label: String,
    pub expr: Ir,
    pub cap: Option<Ir>,
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

/// A checked policy set, ready to evaluate.
#[derive(Clone, Debug)]
pub struct Program {
    pub schema: Schema,
    /// In an order where each define only reads earlier ones.
    pub defines: Vec<Define>,
    /// Sorted by id.
    pub policies: Vec<Policy>,
    pub exclusives: Vec<Exclusive>,
}

impl Program {
    pub fn policy_index(&self, id: &str) -> Option<usize> {
        self.policies
            .binary_search_by(|p| p.id.as_str().cmp(id))
            .ok()
    }
}
