//! The syntax tree of policy files. Every node carries its [`Span`].

use crate::date::Date;
pub use crate::diag::{FileId, Span};
pub use crate::ops::{ArithOp, CmpOp, Direction};
use rust_decimal::Decimal;

/// A name with where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A text with where it was written (labels, titles).
#[derive(Clone, Debug, PartialEq)]
pub struct Text {
    pub value: String,
    pub span: Span,
}

/// One parsed `*.policy` file.
#[derive(Clone, Debug, Default)]
pub struct SourceFile {
    pub items: Vec<TopItem>,
}

#[derive(Clone, Debug)]
pub enum TopItem {
    Policy(Policy),
    /// `define NAME = EXPR`: a derived field visible to every policy.
    Define(Define),
    /// `exclusive "LABEL" { A, B } keep highest`.
    Exclusive(Exclusive),
    /// `combined "LABEL" { A, B } cap EXPR`.
    Combined(Combined),
}

#[derive(Clone, Debug)]
pub struct Define {
    pub name: Ident,
    pub expr: Expr,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Exclusive {
    pub label: Text,
    pub policies: Vec<Ident>,
    pub span: Span,
}

/// `combined "LABEL" { A, B } cap EXPR`: what one firm receives from the
/// listed policies together is capped.
#[derive(Clone, Debug)]
pub struct Combined {
    pub label: Text,
    pub policies: Vec<Ident>,
    pub cap: Expr,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Policy {
    pub id: Ident,
    pub items: Vec<Item>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum Allocate {
    ProRata,
    By(Expr, Direction),
}

/// A signed number or percent literal, as `budget` and `limit` take.
#[derive(Clone, Debug)]
pub struct SignedLit {
    pub value: Decimal,
    pub kind: NumKind,
    pub span: Span,
}

/// An item of a policy body or header; `span` covers the whole item.
#[derive(Clone, Debug)]
pub struct Item {
    pub kind: ItemKind,
    pub span: Span,
    /// The span of the leading keyword, for "given twice" messages.
    pub keyword: Span,
}

#[derive(Clone, Debug)]
pub enum ItemKind {
    Title(Text),
    Issuer(Text),
    Basis(Text),
    Valid(DateLit, DateLit),
    Budget(SignedLit),
    Allocate(Allocate),
    Limit(SignedLit, Expr, Direction),
    Let(Ident, Expr),
    Require(Option<Text>, Expr),
    Exclude(Option<Text>, Expr),
    Amount(Option<Text>, Expr),
    Cap(Expr),
}

#[derive(Clone, Copy, Debug)]
pub struct DateLit {
    pub date: Date,
    pub span: Span,
}

/// What a number literal's suffixes made of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumKind {
    /// `12`, `500万`
    Integer,
    /// `3.5`
    Number,
    /// `3000元`, `1.5亿元`
    Money,
    /// `5.5%`
    Percent,
}

#[derive(Clone, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct TierRow {
    pub op: CmpOp,
    pub bound: Expr,
    pub result: Expr,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Bracket {
    /// `None` for the `above` row.
    pub upto: Option<Expr>,
    pub rate: Expr,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum ExprKind {
    Number(Decimal, NumKind),
    Date(Date),
    Text(String),
    Bool(bool),
    List(Vec<Expr>),
    Name(String),
    Call(Ident, Vec<Expr>),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Compare(CmpOp, Box<Expr>, Box<Expr>),
    /// `x in LIST` / `x not in LIST`
    In {
        negated: bool,
        item: Box<Expr>,
        list: Box<Expr>,
    },
    /// `tags contains "专精特新"`
    Contains(Box<Expr>, Box<Expr>),
    /// `x between a and b`
    Between(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `x is missing` (`present: false`) / `x is present`
    IsMissing {
        present: bool,
        expr: Box<Expr>,
    },
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `when C1 then A1 … else B`; `otherwise` is `None` when `else` was left out
    /// (a check error, kept so the checker can say so at the right place).
    When {
        arms: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    /// `tiers EXPR { >= V : R … else : R }`; `otherwise` is the `else` row.
    Tiers {
        base: Box<Expr>,
        rows: Vec<TierRow>,
        otherwise: Option<Box<Expr>>,
        misplaced_else: Option<Span>,
    },
    /// `progressive EXPR { up to V : RATE … above : RATE }`
    Progressive {
        base: Box<Expr>,
        rows: Vec<Bracket>,
        misplaced_above: Option<Span>,
    },
    /// Something the parser recognised as wrong but could read past; its
    /// diagnostic has already been reported.
    Invalid,
}

impl Expr {
    /// The expressions directly inside this one, in the order written.
    pub fn children(&self) -> Vec<&Expr> {
        match &self.kind {
            ExprKind::Number(..)
            | ExprKind::Date(_)
            | ExprKind::Text(_)
            | ExprKind::Bool(_)
            | ExprKind::Name(_)
            | ExprKind::Invalid => Vec::new(),
            ExprKind::List(xs) | ExprKind::Call(_, xs) => xs.iter().collect(),
            ExprKind::Neg(x) | ExprKind::Not(x) => vec![x],
            ExprKind::IsMissing { expr, .. } => vec![expr],
            ExprKind::Arith(_, a, b)
            | ExprKind::And(a, b)
            | ExprKind::Or(a, b)
            | ExprKind::Compare(_, a, b)
            | ExprKind::Contains(a, b)
            | ExprKind::In {
                item: a, list: b, ..
            } => vec![a, b],
            ExprKind::Between(x, lo, hi) => vec![x, lo, hi],
            ExprKind::If(c, a, b) => vec![c, a, b],
            ExprKind::When { arms, otherwise } => arms
                .iter()
                .flat_map(|(c, v)| [c, v])
                .chain(otherwise.as_deref())
                .collect(),
            ExprKind::Tiers {
                base,
                rows,
                otherwise,
                ..
            } => std::iter::once(&**base)
                .chain(rows.iter().flat_map(|r| [&r.bound, &r.result]))
                .chain(otherwise.as_deref())
                .collect(),
            ExprKind::Progressive { base, rows, .. } => std::iter::once(&**base)
                .chain(rows.iter().flat_map(|r| r.upto.iter().chain([&r.rate])))
                .collect(),
        }
    }

    /// Calls `f` on this expression and every expression inside it.
    pub fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Expr)) {
        f(self);
        for c in self.children() {
            c.walk(f);
        }
    }
}

impl Item {
    /// The expressions of this item (none for a title or a date).
    pub fn exprs(&self) -> Vec<&Expr> {
        match &self.kind {
            ItemKind::Title(_)
            | ItemKind::Issuer(_)
            | ItemKind::Basis(_)
            | ItemKind::Valid(..)
            | ItemKind::Budget(_)
            | ItemKind::Allocate(Allocate::ProRata) => Vec::new(),
            ItemKind::Allocate(Allocate::By(e, _))
            | ItemKind::Limit(_, e, _)
            | ItemKind::Let(_, e)
            | ItemKind::Require(_, e)
            | ItemKind::Exclude(_, e)
            | ItemKind::Amount(_, e)
            | ItemKind::Cap(e) => vec![e],
        }
    }
}
