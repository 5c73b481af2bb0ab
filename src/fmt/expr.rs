//! Expressions in their canonical form: one line, operators spaced, the
//! parentheses precedence needs plus those the officer wrote; `tiers` and
//! `progressive` tables as blocks with aligned `:`; a `when` standing for
//! a whole item one arm per line with aligned `then`.

use super::source::Src;
use super::{width, WIDTH};
use crate::ops::ArithOp;
use crate::syntax::ast::{Bracket, Expr, ExprKind, TierRow};

/// How tightly an expression binds: an operand binding looser than its
/// operator needs parentheses.
fn binding(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::If(..) | ExprKind::When { .. } => 0,
        ExprKind::Or(..) => 1,
        ExprKind::And(..) => 2,
        ExprKind::Not(_) => 3,
        ExprKind::Compare(..)
        | ExprKind::In { .. }
        | ExprKind::Contains(..)
        | ExprKind::Between(..)
        | ExprKind::IsMissing { .. } => 4,
        ExprKind::Arith(ArithOp::Add | ArithOp::Sub, ..) => 5,
        ExprKind::Arith(..) => 6,
        ExprKind::Neg(_) => 7,
        _ => 8,
    }
}

const SUM: u8 = 5;

pub(super) struct Printer<'s, 'a> {
    pub(super) src: &'s Src<'a>,
}

impl Printer<'_, '_> {
    /// An expression that is the whole value of an item, starting at
    /// column `col` of a line indented `indent`: a `when` takes a line per arm.
    pub(super) fn top(&self, e: &Expr, indent: usize, col: usize) -> String {
        match &e.kind {
            ExprKind::When { arms, otherwise } if !self.wrapped(e) => {
                self.when_block(arms, otherwise.as_deref(), indent, col)
            }
            _ => {
                let one = self.operand(e, 0, indent);
                if col + width(&one) <= WIDTH || one.contains('\n') || self.wrapped(e) {
                    return one;
                }
                self.chain(e, indent, col).unwrap_or(one)
            }
        }
    }

    /// A chain `a or b or c`, `a and b`, `a + b - c` too wide for its line:
    /// one operand a line from column `col`, each after its operator.
    fn chain(&self, e: &Expr, indent: usize, col: usize) -> Option<String> {
        // the operator class, how tight it binds, and the operands' side levels
        let class = |x: &Expr| match &x.kind {
            ExprKind::Or(..) => Some(1),
            ExprKind::And(..) => Some(2),
            ExprKind::Arith(ArithOp::Add | ArithOp::Sub, ..) => Some(5),
            _ => None,
        };
        let level = class(e)?;
        let mut tail: Vec<(&str, &Expr)> = Vec::new();
        let mut head = e;
        while class(head) == Some(level) && (std::ptr::eq(head, e) || !self.wrapped(head)) {
            let (sym, a, b) = match &head.kind {
                ExprKind::Or(a, b) => ("or", a, b),
                ExprKind::And(a, b) => ("and", a, b),
                ExprKind::Arith(ArithOp::Add, a, b) => ("+", a, b),
                ExprKind::Arith(_, a, b) => ("-", a, b),
                _ => return None,
            };
            tail.push((sym, b));
            head = a;
        }
        tail.reverse();
        let pad = " ".repeat(col);
        let mut out = self.operand(head, level, indent);
        for (sym, x) in tail {
            out.push_str(&format!(
                "\n{pad}{sym} {}",
                self.operand(x, level + 1, indent)
            ));
        }
        Some(out)
    }

    fn wrapped(&self, e: &Expr) -> bool {
        self.src.wrapped(e.span.start as usize, e.span.end as usize)
    }

    /// `e` as the operand of something binding at `min`: in parentheses
    /// when it binds looser, or when the officer wrote them.
    pub(super) fn operand(&self, e: &Expr, min: u8, indent: usize) -> String {
        let s = self.expr(e, indent);
        if binding(e) < min || self.wrapped(e) {
            format!("({s})")
        } else {
            s
        }
    }

    fn expr(&self, e: &Expr, indent: usize) -> String {
        let op = |e: &Expr, min: u8| self.operand(e, min, indent);
        let list = |xs: &[Expr]| xs.iter().map(|x| op(x, 0)).collect::<Vec<_>>().join(", ");
        match &e.kind {
            ExprKind::Number(..) | ExprKind::Date(_) | ExprKind::Text(_) | ExprKind::Bool(_) => {
                self.src.bare(e.span).to_string()
            }
            ExprKind::Name(n) => n.clone(),
            ExprKind::List(xs) => format!("[{}]", list(xs)),
            ExprKind::Call(f, args) => format!("{}({})", f.name, list(args)),
            ExprKind::Neg(x) => match x.kind {
                ExprKind::Neg(_) if !self.wrapped(x) => format!("-{}", op(x, 7)),
                _ => format!("-{}", op(x, 8)),
            },
            ExprKind::Not(x) => format!("not {}", op(x, 3)),
            ExprKind::Arith(o, a, b) => {
                let (sym, level) = match o {
                    ArithOp::Add => ("+", 5),
                    ArithOp::Sub => ("-", 5),
                    ArithOp::Mul => ("*", 6),
                    ArithOp::Div => ("/", 6),
                };
                format!("{} {sym} {}", op(a, level), op(b, level + 1))
            }
            ExprKind::And(a, b) => format!("{} and {}", op(a, 2), op(b, 3)),
            ExprKind::Or(a, b) => format!("{} or {}", op(a, 1), op(b, 2)),
            ExprKind::Compare(o, a, b) => {
                format!("{} {} {}", op(a, SUM), o.symbol(), op(b, SUM))
            }
            ExprKind::In {
                negated,
                item,
                list,
            } => format!(
                "{} {} {}",
                op(item, SUM),
                if *negated { "not in" } else { "in" },
                op(list, SUM)
            ),
            ExprKind::Contains(a, b) => format!("{} contains {}", op(a, SUM), op(b, SUM)),
            ExprKind::Between(x, lo, hi) => {
                format!("{} between {} and {}", op(x, SUM), op(lo, SUM), op(hi, SUM))
            }
            ExprKind::IsMissing { present, expr } => format!(
                "{} is {}",
                op(expr, SUM),
                if *present { "present" } else { "missing" }
            ),
            ExprKind::If(c, a, b) => {
                format!("if {} then {} else {}", op(c, 1), op(a, 1), op(b, 0))
            }
            ExprKind::When { arms, otherwise } => {
                let mut parts: Vec<String> = arms
                    .iter()
                    .map(|(c, v)| format!("when {} then {}", op(c, 1), op(v, 1)))
                    .collect();
                if let Some(o) = otherwise {
                    parts.push(format!("else {}", op(o, 0)));
                }
                parts.join(" ")
            }
            ExprKind::Tiers {
                base,
                rows,
                otherwise,
                ..
            } => self.tiers(base, rows, otherwise.as_deref(), indent),
            ExprKind::Progressive { base, rows, .. } => self.progressive(base, rows, indent),
            ExprKind::Invalid => self.src.span(e.span).to_string(),
        }
    }

    /// `when … then …` one arm per line from column `col`, `then` aligned.
    fn when_block(
        &self,
        arms: &[(Expr, Expr)],
        otherwise: Option<&Expr>,
        indent: usize,
        col: usize,
    ) -> String {
        let conds: Vec<String> = arms
            .iter()
            .map(|(c, _)| self.operand(c, 1, indent))
            .collect();
        let w = conds.iter().map(|c| width(c)).max().unwrap_or(0);
        let pad = " ".repeat(col);
        let mut lines: Vec<String> = arms
            .iter()
            .zip(&conds)
            .map(|((_, v), c)| {
                let fill = " ".repeat(w.saturating_sub(width(c)));
                format!("when {c}{fill} then {}", self.operand(v, 1, indent))
            })
            .collect();
        if let Some(o) = otherwise {
            lines.push(format!("else {}", self.operand(o, 0, indent)));
        }
        lines.join(&format!("\n{pad}"))
    }

    /// Rows `left : right` with the `:` aligned, in a block.
    fn table(&self, head: String, rows: Vec<(String, String)>, indent: usize) -> String {
        let w = rows.iter().map(|(l, _)| width(l)).max().unwrap_or(0);
        let inner = " ".repeat(indent + 4);
        let mut out = format!("{head} {{");
        for (l, r) in rows {
            let fill = " ".repeat(w.saturating_sub(width(&l)));
            out.push_str(&format!("\n{inner}{l}{fill} : {r}"));
        }
        out.push_str(&format!("\n{}}}", " ".repeat(indent)));
        out
    }

    fn tiers(
        &self,
        base: &Expr,
        rows: &[TierRow],
        otherwise: Option<&Expr>,
        indent: usize,
    ) -> String {
        let inner = indent + 4;
        let mut out: Vec<(String, String)> = rows
            .iter()
            .map(|r| {
                (
                    format!("{} {}", r.op.symbol(), self.operand(&r.bound, SUM, inner)),
                    self.operand(&r.result, SUM, inner),
                )
            })
            .collect();
        if let Some(o) = otherwise {
            out.push(("else".into(), self.operand(o, SUM, inner)));
        }
        self.table(
            format!("tiers {}", self.operand(base, 0, indent)),
            out,
            indent,
        )
    }

    fn progressive(&self, base: &Expr, rows: &[Bracket], indent: usize) -> String {
        let inner = indent + 4;
        let out: Vec<(String, String)> = rows
            .iter()
            .map(|r| {
                let left = match &r.upto {
                    Some(b) => format!("up to {}", self.operand(b, SUM, inner)),
                    None => "above".into(),
                };
                (left, self.operand(&r.rate, SUM, inner))
            })
            .collect();
        self.table(
            format!("progressive {}", self.operand(base, 0, indent)),
            out,
            indent,
        )
    }
}
