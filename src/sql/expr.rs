//! Expressions in SQL with three-valued logic made explicit.
//!
//! Each expression becomes a [`Node`]: its value (`NULL` is missing) and,
//! beside it, why it is missing as the engine records it (a bit per schema
//! field, [`FIELD_BITS`], and the notes: division by zero, no prior
//! payment). A node is only meaningful as the engine's `Why` where its value
//! is `NULL`; elsewhere both are 0, so merging two causes is a bitwise or.
//!
//! Every operation with more than one use of an operand is materialised as
//! a `CROSS JOIN LATERAL (SELECT … OFFSET 0)` step, so the SQL grows with the
//! size of the policy, never with its nesting.

use rust_decimal::Decimal;

use crate::eval::value::Why;
use crate::ops::{ArithOp, CmpOp};
use crate::program::{Const, Func, Ir, Program};
use crate::schema::FieldType;

use super::dialect::Dialect;

/// The fields whose missing values a reason can name: one bit each.
pub const FIELD_BITS: usize = Why::OTHER_FIELDS_BIT as usize;

/// The SQL type of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    Bool,
    Num,
    Date,
    Text,
    List,
}

impl Ty {
    pub fn sql(self) -> &'static str {
        match self {
            Ty::Bool => "boolean",
            Ty::Num => "numeric",
            Ty::Date => "date",
            Ty::Text => "text",
            Ty::List => "text[]",
        }
    }

    pub fn of_field(ty: &FieldType) -> Ty {
        match ty {
            FieldType::Bool => Ty::Bool,
            FieldType::Integer | FieldType::Number | FieldType::Money | FieldType::Percent => {
                Ty::Num
            }
            FieldType::Date => Ty::Date,
            FieldType::Text | FieldType::Enum(_) => Ty::Text,
            FieldType::List => Ty::List,
        }
    }
}

/// A compiled expression: SQL for its value, the fields that made it
/// missing (`bigint`) and the notes (`integer`).
#[derive(Clone, Debug)]
pub struct Node {
    pub v: String,
    pub w: String,
    pub n: String,
    pub ty: Ty,
}

impl Node {
    fn constant(v: String, ty: Ty) -> Node {
        Node {
            v,
            w: "0".into(),
            n: "0".into(),
            ty,
        }
    }

    /// Never missing: no cause to carry.
    fn present(&self) -> bool {
        self.w == "0" && self.n == "0" && !self.v.contains("NULL")
    }
}

/// Why an expression is not compiled: the message a diagnostic shows.
pub type Refusal = String;

/// A text as an SQL literal.
pub fn text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A number as an SQL literal, exactly as written (its scale kept).
pub fn number(d: &Decimal) -> String {
    format!("{d}::numeric")
}

/// An identifier, quoted.
pub fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The `bigint` bit of field `i` in a node's `w`.
pub fn field_bit(i: usize) -> String {
    field_bit_in(Dialect::Postgres, i)
}

/// [`field_bit`] in a dialect.
pub fn field_bit_in(dialect: Dialect, i: usize) -> String {
    match (dialect, i >= FIELD_BITS) {
        (Dialect::Postgres, true) => "(-9223372036854775808)::bigint".into(),
        (Dialect::Postgres, false) => format!("{}::bigint", 1i64 << i),
        (Dialect::Spark, true) => "CAST(-9223372036854775808 AS BIGINT)".into(),
        (Dialect::Spark, false) => format!("{}L", 1i64 << i),
    }
}

/// The compiler of one scope: a policy (its lets) over the firm row `f`.
pub struct Scope<'a> {
    pub program: &'a Program,
    /// The firm row's alias.
    pub firm: String,
    /// The run's reference date as SQL.
    pub as_of: String,
    /// The compiled defines (columns of the firm row).
    pub defines: Vec<Node>,
    /// The compiled lets of the policy.
    pub lets: Vec<Node>,
    /// Prior payments: `(last, ids)` and the column of the firm row.
    pub paid: Vec<((bool, Vec<u16>), String)>,
    /// The lateral steps so far.
    pub steps: Vec<String>,
    /// Step names: `{prefix}{n}`.
    pub prefix: String,
    /// The SQL written.
    pub dialect: Dialect,
    /// Spark: the types of the lets and defines compiled so far, to tell
    /// a quotient ([`super::spark::WIDE`]) from a narrow number.
    pub types: super::spark::Types<'a>,
}

fn or_bits(parts: &[&str], zero: &str) -> String {
    let parts: Vec<&str> = parts.iter().copied().filter(|p| *p != "0").collect();
    match parts.as_slice() {
        [] => zero.into(),
        [one] => one.to_string(),
        _ => format!("({})", parts.join(" | ")),
    }
}

impl<'a> Scope<'a> {
    /// Names a node's value and causes as a step of the lateral chain.
    fn step(&mut self, v: String, w: String, n: String, ty: Ty) -> Node {
        if w == "0" && n == "0" && is_simple(&v) {
            return Node::constant(v, ty);
        }
        if !self.dialect.is_spark() && is_cheap(&[&v, &w, &n]) {
            // repeated where it is read: cheaper than a lateral step (a
            // nested loop per row), and bounded, so the SQL still grows
            // with the policy, not with its nesting
            return Node {
                v: format!("(({v})::{})", ty.sql()),
                w: format!("(({w})::bigint)"),
                n: format!("(({n})::integer)"),
                ty,
            };
        }
        self.push_step(v, w, n, ty)
    }

    /// A step of the chain: in PostgreSQL a `LATERAL` subquery, in Spark
    /// three lateral column aliases of the same `SELECT`.
    pub fn push_step(&mut self, v: String, w: String, n: String, ty: Ty) -> Node {
        if self.dialect.is_spark() {
            let name = format!("ms_{}{}", self.prefix, self.steps.len());
            self.steps.push(format!(
                "{v} AS {name}_v, CAST({w} AS BIGINT) AS {name}_w, CAST({n} AS INT) AS {name}_n"
            ));
            return Node {
                v: format!("{name}_v"),
                w: format!("{name}_w"),
                n: format!("{name}_n"),
                ty,
            };
        }
        let name = format!("{}{}", self.prefix, self.steps.len());
        self.steps.push(format!(
            "CROSS JOIN LATERAL (SELECT ({v})::{} AS v, ({w})::bigint AS w, ({n})::integer AS n OFFSET 0) {name}",
            ty.sql()
        ));
        Node {
            v: format!("{name}.v"),
            w: format!("{name}.w"),
            n: format!("{name}.n"),
            ty,
        }
    }

    /// A strict operation: missing when any operand is, the causes merged.
    fn strict(&mut self, args: &[&Node], value: String, ty: Ty) -> Node {
        let ws: Vec<&str> = args.iter().map(|a| a.w.as_str()).collect();
        let ns: Vec<&str> = args.iter().map(|a| a.n.as_str()).collect();
        if args.iter().all(|a| a.present()) {
            return self.step(value, "0".into(), "0".into(), ty);
        }
        let nulls: Vec<String> = args
            .iter()
            .filter(|a| !a.present())
            .map(|a| format!("{} IS NULL", a.v))
            .collect();
        let v = format!(
            "CASE WHEN {} THEN NULL ELSE {value} END",
            nulls.join(" OR ")
        );
        self.step(v, or_bits(&ws, "0"), or_bits(&ns, "0"), ty)
    }

    pub fn expr(&mut self, ir: &Ir) -> Result<Node, Refusal> {
        Ok(match ir {
            Ir::Const(c) => match c {
                Const::Bool(b) => {
                    Node::constant(if *b { "TRUE" } else { "FALSE" }.into(), Ty::Bool)
                }
                Const::Num(d) => Node::constant(self.dialect.number(d), Ty::Num),
                Const::Date(d) => Node::constant(format!("DATE '{d}'"), Ty::Date),
                Const::Text(t) => Node::constant(self.dialect.text(t), Ty::Text),
            },
            Ir::Field(i) => self.field(*i as usize),
            Ir::Let(i) => self
                .lets
                .get(*i as usize)
                .cloned()
                .ok_or_else(|| "a `let` read before it is defined".to_string())?,
            Ir::Define(i) => self
                .defines
                .get(*i as usize)
                .cloned()
                .ok_or_else(|| "a `define` read before it is defined".to_string())?,
            Ir::AsOf => Node::constant(self.as_of.clone(), Ty::Date),
            Ir::Neg(x) => {
                let x = self.expr(x)?;
                self.strict(&[&x], format!("-({})", x.v), Ty::Num)
            }
            Ir::Not(x) => {
                let x = self.expr(x)?;
                let v = format!("NOT ({})", x.v);
                self.step(v, x.w, x.n, Ty::Bool)
            }
            Ir::Arith(op, a, b) if self.dialect.is_spark() => {
                let wide = |x: &Ir| self.types.of(x).ok().flatten() == Some(super::spark::WIDE);
                let wide = (wide(a), wide(b));
                let (a, b) = (self.expr(a)?, self.expr(b)?);
                self.spark_arith(*op, a, b, wide)?
            }
            Ir::Arith(op, a, b) => {
                let (a, b) = (self.expr(a)?, self.expr(b)?);
                self.arith(*op, a, b)?
            }
            Ir::And(a, b) | Ir::Or(a, b) => {
                let (a, b) = (self.expr(a)?, self.expr(b)?);
                let op = if matches!(ir, Ir::And(..)) {
                    "AND"
                } else {
                    "OR"
                };
                let v = format!("({}) {op} ({})", a.v, b.v);
                self.decided_by_one(v, &[&a, &b], Ty::Bool)
            }
            Ir::Cmp(op, a, b) => {
                let (a, b) = (self.expr(a)?, self.expr(b)?);
                let v = self.compare(*op, &a, &b);
                self.strict(&[&a, &b], v, Ty::Bool)
            }
            Ir::CmpField { op, field, value } => {
                let a = self.field(*field as usize);
                let b = Node::constant(self.dialect.number(value), Ty::Num);
                let v = self.compare(*op, &a, &b);
                self.strict(&[&a], v, Ty::Bool)
            }
            Ir::EqFieldText {
                negated,
                field,
                value,
            } => {
                let a = self.field(*field as usize);
                let op = if *negated { "<>" } else { "=" };
                let v = format!("{} {op} {}", a.v, self.dialect.text(value));
                self.strict(&[&a], v, Ty::Bool)
            }
            Ir::InList {
                negated,
                item,
                list,
            } => {
                let x = self.expr(item)?;
                let mut els = Vec::new();
                for e in list {
                    els.push(self.expr(e)?);
                }
                let ors: Vec<String> = els
                    .iter()
                    .map(|e| format!("({}) = ({})", x.v, e.v))
                    .collect();
                let any = if ors.is_empty() {
                    "FALSE".to_string()
                } else {
                    ors.join(" OR ")
                };
                let any = if *negated {
                    format!("NOT ({any})")
                } else {
                    any
                };
                // a comparison: missing when the item or any element is
                let refs: Vec<&Node> = std::iter::once(&x).chain(els.iter()).collect();
                self.strict(&refs, any, Ty::Bool)
            }
            Ir::InValue {
                negated,
                item,
                list,
            } => {
                let (x, l) = (self.expr(item)?, self.expr(list)?);
                let not = if *negated { "NOT " } else { "" };
                let v = if self.dialect.is_spark() {
                    format!("{not}array_contains({}, {})", l.v, x.v)
                } else {
                    format!("{not}(({}) = ANY({}))", x.v, l.v)
                };
                self.strict(&[&x, &l], v, Ty::Bool)
            }
            Ir::ListContains(l, x) => {
                let (l, x) = (self.expr(l)?, self.expr(x)?);
                let v = if self.dialect.is_spark() {
                    format!("array_contains({}, {})", l.v, x.v)
                } else {
                    format!("({}) = ANY({})", x.v, l.v)
                };
                self.strict(&[&l, &x], v, Ty::Bool)
            }
            Ir::TextContains(s, t) => {
                let (s, t) = (self.expr(s)?, self.expr(t)?);
                let f = if self.dialect.is_spark() {
                    "instr"
                } else {
                    "strpos"
                };
                let v = format!("{f}({}, {}) > 0", s.v, t.v);
                self.strict(&[&s, &t], v, Ty::Bool)
            }
            Ir::Between(x, lo, hi) => {
                let x = self.expr(x)?;
                let (lo, hi) = (self.expr(lo)?, self.expr(hi)?);
                let v = format!(
                    "({}) AND ({})",
                    self.compare(CmpOp::Le, &lo, &x),
                    self.compare(CmpOp::Le, &x, &hi)
                );
                // a comparison: missing when any of its three values is
                self.strict(&[&x, &lo, &hi], v, Ty::Bool)
            }
            Ir::IsMissing { present, expr } => {
                let x = self.expr(expr)?;
                let test = if *present { "IS NOT NULL" } else { "IS NULL" };
                self.step(
                    format!("({}) {test}", x.v),
                    "0".into(),
                    "0".into(),
                    Ty::Bool,
                )
            }
            Ir::If(c, a, b) => {
                let c = self.expr(c)?;
                let (a, b) = (self.expr(a)?, self.expr(b)?);
                self.first_true(&[(c, a)], b)
            }
            Ir::When(arms, otherwise) => {
                let mut compiled = Vec::new();
                for (c, v) in arms {
                    compiled.push((self.expr(c)?, self.expr(v)?));
                }
                let otherwise = self.expr(otherwise)?;
                self.first_true(&compiled, otherwise)
            }
            Ir::Tiers {
                base,
                rows,
                otherwise,
            } => {
                let x = self.expr(base)?;
                let mut arms = Vec::new();
                let mut ty = None;
                for (op, bound, result) in rows {
                    let bound = self.expr(bound)?;
                    let result = self.expr(result)?;
                    ty.get_or_insert(result.ty);
                    let hit = self.compare(*op, &x, &bound);
                    let hit = self.strict(&[&bound], hit, Ty::Bool);
                    arms.push((hit, result));
                }
                let otherwise = match otherwise {
                    Some(o) => self.expr(o)?,
                    None => {
                        Node::constant(self.dialect.number(&Decimal::ZERO), ty.unwrap_or(Ty::Num))
                    }
                };
                let inner = self.first_true(&arms, otherwise);
                self.guarded(&x, inner)
            }
            Ir::Progressive { base, rows } => self.progressive(base, rows)?,
            Ir::Call(f, args) => self.call(*f, args)?,
            Ir::Paid { last, ids } => {
                let column = self
                    .paid
                    .iter()
                    .find(|((l, i), _)| l == last && i == ids)
                    .map(|(_, c)| c.clone())
                    .ok_or_else(|| "a `paid` call without its ledger column".to_string())?;
                let v = format!("{}.{column}", self.firm);
                if *last {
                    let n = format!("CASE WHEN {v} IS NULL THEN {} ELSE 0 END", Why::NO_PAYMENT);
                    Node {
                        v,
                        w: "0".into(),
                        n,
                        ty: Ty::Date,
                    }
                } else {
                    Node::constant(v, Ty::Num)
                }
            }
        })
    }

    /// A schema field of the firm row; a list field is never missing (an
    /// empty cell is the empty list).
    pub fn field(&self, i: usize) -> Node {
        let Some(f) = self.program.schema.fields.get(i) else {
            return Node::constant("NULL".into(), Ty::Num);
        };
        let col = format!("{}.{}", self.firm, self.dialect.ident(&f.name));
        let ty = Ty::of_field(&f.ty);
        let bit = field_bit_in(self.dialect, i);
        match ty {
            Ty::List => Node::constant(format!("coalesce({col}, {})", self.dialect.no_texts()), ty),
            Ty::Num => Node {
                w: format!("CASE WHEN {col} IS NULL THEN {bit} ELSE 0 END"),
                v: if self.dialect.is_spark() {
                    col
                } else {
                    format!("{col}::numeric")
                },
                n: "0".into(),
                ty,
            },
            _ => Node {
                w: format!("CASE WHEN {col} IS NULL THEN {bit} ELSE 0 END"),
                v: col,
                n: "0".into(),
                ty,
            },
        }
    }

    /// `x` missing gives `x`'s causes; otherwise `inner`.
    fn guarded(&mut self, x: &Node, inner: Node) -> Node {
        if x.present() {
            return inner;
        }
        let v = format!("CASE WHEN {} IS NULL THEN NULL ELSE {} END", x.v, inner.v);
        let w = format!(
            "CASE WHEN {} IS NULL THEN {} ELSE {} END",
            x.v, x.w, inner.w
        );
        let n = format!(
            "CASE WHEN {} IS NULL THEN {} ELSE {} END",
            x.v, x.n, inner.n
        );
        self.step(v, w, n, inner.ty)
    }

    /// `and`, `or`, `coalesce`: the value as SQL's three-valued
    /// logic gives it; when missing, the causes of every missing operand.
    fn decided_by_one(&mut self, v: String, args: &[&Node], ty: Ty) -> Node {
        let ws: Vec<&str> = args.iter().map(|a| a.w.as_str()).collect();
        let ns: Vec<&str> = args.iter().map(|a| a.n.as_str()).collect();
        let (w, n) = (or_bits(&ws, "0"), or_bits(&ns, "0"));
        if w == "0" && n == "0" {
            return self.step(v, w, n, ty);
        }
        let named = self.step(v, "0".into(), "0".into(), ty);
        let w = format!("CASE WHEN {} IS NULL THEN {w} ELSE 0 END", named.v);
        let n = format!("CASE WHEN {} IS NULL THEN {n} ELSE 0 END", named.v);
        self.step(named.v.clone(), w, n, ty)
    }

    /// `if` / `when` / `tiers`: the first arm whose condition is true; a
    /// missing condition before it makes the whole missing.
    fn first_true(&mut self, arms: &[(Node, Node)], otherwise: Node) -> Node {
        let ty = arms.first().map_or(otherwise.ty, |(_, v)| v.ty);
        let mut v = String::from("CASE");
        let mut w = String::from("CASE");
        let mut n = String::from("CASE");
        for (c, x) in arms {
            v += &format!(
                " WHEN ({c}) IS NULL THEN NULL WHEN ({c}) THEN {}",
                x.v,
                c = c.v
            );
            w += &format!(
                " WHEN ({c}) IS NULL THEN {} WHEN ({c}) THEN {}",
                c.w,
                x.w,
                c = c.v
            );
            n += &format!(
                " WHEN ({c}) IS NULL THEN {} WHEN ({c}) THEN {}",
                c.n,
                x.n,
                c = c.v
            );
        }
        v += &format!(" ELSE {} END", otherwise.v);
        w += &format!(" ELSE {} END", otherwise.w);
        n += &format!(" ELSE {} END", otherwise.n);
        self.step(v, w, n, ty)
    }

    /// `a OP b` as the engine computes it: PostgreSQL's exact result fitted
    /// to the engine's decimals ([`FUNCTIONS`]); a division by zero is
    /// missing for division by zero, a result too large for overflow.
    fn arith(&mut self, op: ArithOp, a: Node, b: Node) -> Result<Node, Refusal> {
        let value = match op {
            ArithOp::Add => fit(&format!("({}) + ({})", a.v, b.v)),
            ArithOp::Sub => fit(&format!("({}) - ({})", a.v, b.v)),
            ArithOp::Mul => fit(&format!("({}) * ({})", a.v, b.v)),
            ArithOp::Div => {
                if b.present() && b.v == number(&Decimal::ZERO) {
                    return Ok(self.by_zero(&a));
                }
                format!(
                    "CASE WHEN ({b}) = 0 THEN NULL ELSE {} END",
                    quotient(&a.v, &b),
                    b = b.v
                )
            }
        };
        let x = self.strict(&[&a, &b], value, Ty::Num);
        let divisor = (op == ArithOp::Div).then_some(&b);
        Ok(self.noted(x, divisor))
    }

    /// `a OP b` in Spark, admitted by [`mod@super::spark`] only where the
    /// script computes the engine's result: `+ - *` of narrow numbers within
    /// 28 digits (Spark's exact `DECIMAL` result), a division by a number
    /// written in the policy whose inverse is a finite decimal (a
    /// multiplication by it), any other division by the engine's long
    /// division ([`Scope::spark_div`]), and `+ - *` on such a quotient
    /// (`wide`: which operand is one) rounded as the engine rounds
    /// ([`Scope::spark_fit`]). A division is missing when its divisor is 0.
    fn spark_arith(
        &mut self,
        op: ArithOp,
        a: Node,
        b: Node,
        wide: (bool, bool),
    ) -> Result<Node, Refusal> {
        let value = match op {
            ArithOp::Div => match self.spark_inverse(&b) {
                Ok(inverse) if inverse.is_zero() => return Ok(self.by_zero(&a)),
                Ok(inverse) if wide.0 => {
                    let r = Node::constant(self.dialect.number(&inverse), Ty::Num);
                    self.spark_product(&a, &r)
                }
                Ok(inverse) => format!("({}) * {}", a.v, self.dialect.number(&inverse)),
                Err(_) => {
                    let v = self.spark_div(&a, &b);
                    let x = self.strict(&[&a, &b], v, Ty::Num);
                    return Ok(self.noted(x, Some(&b)));
                }
            },
            ArithOp::Mul if wide.0 => self.spark_product(&a, &b),
            ArithOp::Mul if wide.1 => self.spark_product(&b, &a),
            ArithOp::Add if wide.0 || wide.1 => self.spark_exact(format!("({}) + ({})", a.v, b.v)),
            ArithOp::Sub if wide.0 || wide.1 => self.spark_exact(format!("({}) - ({})", a.v, b.v)),
            ArithOp::Add => format!("({}) + ({})", a.v, b.v),
            ArithOp::Sub => format!("({}) - ({})", a.v, b.v),
            ArithOp::Mul => format!("({}) * ({})", a.v, b.v),
        };
        Ok(self.strict(&[&a, &b], value, Ty::Num))
    }

    /// A value of the Spark chain that is not a node (no causes): an
    /// alias of the same `SELECT`, NULL where an operand is.
    fn spark_let(&mut self, v: String) -> String {
        let name = format!("ms_{}{}_x", self.prefix, self.steps.len());
        self.steps.push(format!("{v} AS {name}"));
        name
    }

    /// The engine's quotient `a / b` in Spark (NULL when `b` is 0), as
    /// `DECIMAL(38,28)`: the long division of `|a|` by `|b|` in exact
    /// `DECIMAL` steps: the whole part with `div` (10 digits at most: a
    /// larger one stops the run), then 28 decimals, 14 at a time, from the
    /// remainders (`%`), and whether the remainder left is below, at or
    /// above half of the last digit; [`Scope::spark_fit`] rounds that as
    /// the engine does.
    fn spark_div(&mut self, a: &Node, b: &Node) -> String {
        let ten14 = "100000000000000BD";
        let divisor = self.spark_let(format!(
            "CASE WHEN ({b}) = 0 THEN NULL ELSE abs({b}) END",
            b = b.v
        ));
        let dividend = self.spark_let(format!("abs({})", a.v));
        let whole = self.spark_let(format!("{dividend} div {divisor}"));
        let whole = self.spark_let(format!(
            "CASE WHEN {whole} >= 10000000000L THEN raise_error(concat({}, CAST({} AS STRING), ' / ', CAST({} AS STRING))) ELSE CAST({whole} AS DECIMAL(10,0)) END",
            self.dialect.text(QUOTIENT_TOO_LARGE),
            a.v,
            b.v
        ));
        // 28 decimals, 14 at a time: each the remainder times 10^14 `div`
        // the divisor; the last remainder decides the rounding
        let mut rest = self.spark_let(format!("{dividend} % {divisor}"));
        let mut decimals = Vec::new();
        for _ in 0..2 {
            let x = self.spark_let(format!("{rest} * {ten14}"));
            decimals.push(format!("lpad(CAST({x} div {divisor} AS STRING), 14, '0')"));
            rest = self.spark_let(format!("{x} % {divisor}"));
        }
        let t = self.spark_let(format!(
            "CAST(concat(CAST({whole} AS STRING), '.', {}) AS DECIMAL(38,28))",
            decimals.join(", ")
        ));
        // the remainder left over the divisor is the rest of the last digit
        self.spark_signed_fit(&t, (&rest, &divisor), a, b)
    }

    /// [`Scope::spark_fit`] of `±(t + rest/unit · 10^-28)`, negative when
    /// exactly one of `a` and `b` is.
    fn spark_signed_fit(
        &mut self,
        t: &str,
        (rest, unit): (&str, &str),
        a: &Node,
        b: &Node,
    ) -> String {
        let half = format!(
            "CASE WHEN {rest} + {rest} > {unit} THEN 1 WHEN {rest} + {rest} = {unit} THEN 0 ELSE -1 END"
        );
        let negative = format!("(({}) < 0) <> (({}) < 0)", a.v, b.v);
        self.spark_fit(t, &half, &format!("{rest} > 0"), &negative)
    }

    /// `w * o` with `w` a quotient (`DECIMAL(38,28)`) as the engine
    /// computes it: `|w|`'s first 14 decimals (with its whole part) and its
    /// last 14 multiplied by `|o|` apart, each exact within 38 digits, the
    /// digits beyond the 28th kept aside for the rounding
    /// ([`Scope::spark_fit`]).
    fn spark_product(&mut self, w: &Node, o: &Node) -> String {
        let q = self.spark_let(format!("abs({})", w.v));
        let f = self.spark_let(format!("abs({})", o.v));
        let low = self.spark_let(format!("{q} % 1e-14BD"));
        let high = self.spark_let(format!("CAST({q} - {low} AS DECIMAL(24,14)) * {f}"));
        let low = self.spark_let(format!("{low} * {f}"));
        let rest = self.spark_let(format!("{low} % 1e-28BD"));
        let t = self.spark_let(format!(
            "CAST({high} AS DECIMAL(38,28)) + CAST({low} - {rest} AS DECIMAL(38,28))"
        ));
        self.spark_signed_fit(&t, (&rest, "1e-28BD"), w, o)
    }

    /// An exact `DECIMAL(38,28)` result (a sum with a quotient) rounded as
    /// the engine rounds ([`Scope::spark_fit`]).
    fn spark_exact(&mut self, exact: String) -> String {
        let e = self.spark_let(exact);
        let t = self.spark_let(format!("abs({e})"));
        self.spark_fit(&t, "-1", "FALSE", &format!("{e} < 0"))
    }

    /// The engine's decimal of an exact value `±(t + r)`: `t` its first 28
    /// decimals (`DECIMAL(38,28)`, at least 0, below 10^10), `r` the rest
    /// below 10^-28, of which `half` tells whether it is below (-1), at (0)
    /// or above (1) half of 10^-28 and `nonzero` whether it is 0. As
    /// [`FUNCTIONS`]: rounded half to even at the largest scale at most 28
    /// whose mantissa fits in 96 bits: 28 - k, with k = w - 1 for w whole
    /// digits (or 0), or one fewer decimal when the rounding carried past
    /// 2^96. Rounding at k digits short of 28: `d`, the digits dropped, is
    /// `t % 10^(k-28)`; up when `d` (and `r`) is above half of 10^(k-28),
    /// or at half and the digit kept is odd.
    fn spark_fit(&mut self, t: &str, half: &str, nonzero: &str, negative: &str) -> String {
        let w = self.spark_let(format!(
            "CASE WHEN {t} < 1 THEN 0 ELSE length(CAST(floor({t}) AS STRING)) END"
        ));
        let k0 = self.spark_let(format!("greatest({w} - 1, 0)"));
        let units: Vec<String> = (0..=10).map(|k| format!("1e-{}BD", 28 - k)).collect();
        let mut round_at = |k: String| {
            let p = self.spark_let(format!("element_at(array({}), {k} + 1)", units.join(", ")));
            let d = self.spark_let(format!("{t} % {p}"));
            let base = self.spark_let(format!("{t} - {d}"));
            let c = self.spark_let(format!(
                "CASE WHEN {k} = 0 THEN {half} WHEN {d} + {d} > {p} THEN 1 WHEN {d} + {d} < {p} THEN -1 WHEN {nonzero} THEN 1 ELSE 0 END"
            ));
            let n = self.spark_let(format!(
                "{base} + CASE WHEN {c} > 0 OR ({c} = 0 AND {base} % ({p} + {p}) <> 0) THEN {p} ELSE 0BD END"
            ));
            (k, n)
        };
        let (k, n0) = round_at(k0.clone());
        let (_, n1) = round_at(format!("{k0} + 1"));
        let m = self.spark_let(format!(
            "CASE WHEN {k} >= 10 OR {n0} < element_at(array({}), least({k}, 9) + 1) THEN {n0} ELSE {n1} END",
            MANTISSA_LIMITS.join(", ")
        ));
        format!("CASE WHEN {negative} THEN -{m} ELSE {m} END")
    }

    /// The inverse of a divisor written in the policy (0 for 0), or why
    /// Spark is not given the division.
    fn spark_inverse(&self, b: &Node) -> Result<Decimal, Refusal> {
        let d = literal(Dialect::Spark, b).ok_or_else(|| super::spark::DIVISION.to_string())?;
        if d.is_zero() {
            return Ok(d);
        }
        super::spark::inverse(d).ok_or_else(|| super::spark::DIVISION.to_string())
    }

    /// A computed number that came out missing although none of its operands
    /// was: division by zero when `divisor` is 0, otherwise overflow (a
    /// missing operand always carries a cause, so `w` and `n` are 0 only
    /// then).
    fn noted(&mut self, x: Node, divisor: Option<&Node>) -> Node {
        let note = match divisor {
            Some(d) => format!(
                "CASE WHEN ({}) = 0 THEN {} ELSE {} END",
                d.v,
                Why::DIV_ZERO,
                Why::OVERFLOW
            ),
            None => Why::OVERFLOW.to_string(),
        };
        let n = format!(
            "CASE WHEN {v} IS NULL AND {w} = 0 AND {n} = 0 THEN {note} ELSE {n} END",
            v = x.v,
            w = x.w,
            n = x.n
        );
        self.step(x.v, x.w, n, Ty::Num)
    }

    /// `x` divided by zero: missing, for division by zero unless `x` is
    /// missing itself (then for `x`'s causes).
    fn by_zero(&mut self, x: &Node) -> Node {
        let n = if x.present() {
            Why::DIV_ZERO.to_string()
        } else {
            format!(
                "CASE WHEN {} IS NULL THEN {} ELSE {} END",
                x.v,
                x.n,
                Why::DIV_ZERO
            )
        };
        let null = if self.dialect.is_spark() {
            "CAST(NULL AS DECIMAL(1,0))"
        } else {
            "NULL"
        };
        self.step(null.into(), x.w.clone(), n, Ty::Num)
    }

    /// Marginal brackets as the engine takes them, row by row: each slice,
    /// its part and the running total fitted to the engine's decimals; a
    /// missing bound or rate, or a total that overflowed, ends it with its
    /// causes, the first in row order.
    fn progressive(&mut self, base: &Ir, rows: &[(Option<Ir>, Ir)]) -> Result<Node, Refusal> {
        let x = self.expr(base)?;
        let mut checks: Vec<(String, String, String)> = Vec::new();
        let zero = self.dialect.number(&Decimal::ZERO);
        let mut floor = zero.clone();
        let mut total = zero.clone();
        // PostgreSQL widens an integer 0 to numeric; Spark types it INT,
        // which would widen the slice's DECIMAL: a DECIMAL 0 there
        let no_slice = if self.dialect.is_spark() {
            zero.clone()
        } else {
            "0".to_string()
        };
        for (bound, rate) in rows {
            let top = match bound {
                Some(b) => Some(self.expr(b)?),
                None => None,
            };
            let rate = self.expr(rate)?;
            let upper = match &top {
                Some(t) => format!("LEAST({}, {})", x.v, t.v),
                None => x.v.clone(),
            };
            let slice = format!(
                "CASE WHEN ({upper}) > ({floor}) THEN {} ELSE {no_slice} END",
                self.fit(&format!("({upper}) - ({floor})"))
            );
            let part = self.fit(&format!("({slice}) * ({})", rate.v));
            let sum = self.step(
                self.fit(&format!("({total}) + ({part})")),
                "0".into(),
                "0".into(),
                Ty::Num,
            );
            for o in top.iter().chain([&rate]) {
                if !o.present() {
                    checks.push((o.v.clone(), o.w.clone(), o.n.clone()));
                }
            }
            checks.push((sum.v.clone(), "0".into(), Why::OVERFLOW.to_string()));
            total = sum.v;
            match &top {
                Some(t) => floor = format!("GREATEST({floor}, {})", t.v),
                None => break,
            }
        }
        let mut v = String::from("CASE");
        let mut w = String::from("CASE");
        let mut n = String::from("CASE");
        for (cv, cw, cn) in &checks {
            v += &format!(" WHEN {cv} IS NULL THEN NULL");
            w += &format!(" WHEN {cv} IS NULL THEN {cw}");
            n += &format!(" WHEN {cv} IS NULL THEN {cn}");
        }
        v += &format!(" ELSE {total} END");
        w += " ELSE 0 END";
        n += " ELSE 0 END";
        let inner = self.step(v, w, n, Ty::Num);
        Ok(self.guarded(&x, inner))
    }

    fn call(&mut self, f: Func, args: &[Ir]) -> Result<Node, Refusal> {
        let mut a = Vec::new();
        for x in args {
            a.push(self.expr(x)?);
        }
        let first_ty = a.first().map_or(Ty::Num, |x| x.ty);
        let arg = |i: usize| {
            a.get(i)
                .cloned()
                .unwrap_or(Node::constant("NULL".into(), Ty::Num))
        };
        Ok(match f {
            Func::Coalesce => {
                let vs: Vec<&str> = a.iter().map(|x| x.v.as_str()).collect();
                let refs: Vec<&Node> = a.iter().collect();
                self.decided_by_one(format!("COALESCE({})", vs.join(", ")), &refs, first_ty)
            }
            Func::Min | Func::Max => {
                let name = if f == Func::Min { "LEAST" } else { "GREATEST" };
                let vs: Vec<String> = a.iter().map(|x| self.collated(x)).collect();
                let refs: Vec<&Node> = a.iter().collect();
                self.strict(&refs, format!("{name}({})", vs.join(", ")), first_ty)
            }
            Func::Abs => {
                let x = arg(0);
                self.strict(&[&x], format!("abs({})", x.v), Ty::Num)
            }
            Func::Round | Func::Floor => {
                // the engine divides by the step (its decimals), rounds half
                // away from zero (as PostgreSQL's round) or floors, and
                // multiplies back
                let (x, step) = (arg(0), arg(1));
                if self.dialect.is_spark() {
                    // a multiplication by the step's inverse, `ROUND` (half
                    // up: away from zero, on a DECIMAL) or `FLOOR`, and back;
                    // of a quotient, the product rounded as the engine does
                    let inverse = self.spark_inverse(&step)?;
                    if inverse.is_zero() {
                        return Ok(self.by_zero(&x));
                    }
                    let r = Node::constant(self.dialect.number(&inverse), Ty::Num);
                    let wide = args.first().and_then(|x| self.types.of(x).ok().flatten())
                        == Some(super::spark::WIDE);
                    let step_decimals = match args.get(1) {
                        Some(Ir::Const(Const::Num(d))) => super::spark::decimals(*d),
                        _ => None,
                    };
                    if let (true, Some(j)) = (wide, step_decimals) {
                        // the engine's x / 10^-j is exact: Spark rounds at j
                        let func = if f == Func::Round { "round" } else { "floor" };
                        return Ok(self.strict(&[&x], format!("{func}({}, {j})", x.v), Ty::Num));
                    }
                    let q = if wide {
                        self.spark_product(&x, &r)
                    } else {
                        format!("({}) * {}", x.v, r.v)
                    };
                    let whole = if f == Func::Round {
                        format!("round({q}, 0)")
                    } else {
                        format!("floor({q})")
                    };
                    return Ok(self.strict(&[&x], format!("{whole} * {}", step.v), Ty::Num));
                }
                if step.present() && step.v == number(&Decimal::ZERO) {
                    return Ok(self.by_zero(&x));
                }
                let func = if f == Func::Round { "round" } else { "floor" };
                let v = format!(
                    "CASE WHEN ({s}) = 0 THEN NULL ELSE {} END",
                    fit(&format!(
                        "{func}({}) * ({s})",
                        quotient(&x.v, &step),
                        s = step.v
                    )),
                    s = step.v
                );
                let r = self.strict(&[&x, &step], v, Ty::Num);
                self.noted(r, Some(&step))
            }
            Func::StartsWith => {
                let (s, p) = (arg(0), arg(1));
                let f = if self.dialect.is_spark() {
                    "startswith"
                } else {
                    "starts_with"
                };
                self.strict(&[&s, &p], format!("{f}({}, {})", s.v, p.v), Ty::Bool)
            }
            Func::YearsBetween | Func::MonthsBetween => {
                let (d1, d2) = (arg(0), arg(1));
                let months = months_between(&d1.v, &d2.v);
                let v = match (self.dialect, f == Func::YearsBetween) {
                    (Dialect::Postgres, true) => format!("div({months}, 12)"),
                    (Dialect::Postgres, false) => months,
                    // as Spark types an INT in arithmetic (super::spark)
                    (Dialect::Spark, true) => format!("CAST(({months}) div 12 AS DECIMAL(10,0))"),
                    (Dialect::Spark, false) => format!("CAST({months} AS DECIMAL(10,0))"),
                };
                self.strict(&[&d1, &d2], v, Ty::Num)
            }
            Func::Year => {
                let d = arg(0);
                let v = if self.dialect.is_spark() {
                    format!("CAST(extract(year FROM {}) AS DECIMAL(10,0))", d.v)
                } else {
                    format!("extract(year FROM {})", d.v)
                };
                self.strict(&[&d], v, Ty::Num)
            }
        })
    }
}

/// 2^96 · 10^(k-28) for k = 0…9: a `DECIMAL(38,28)` rounded at 28 - k
/// decimals fits the engine's 96-bit mantissa when below it (10^10 and
/// more do not occur: such a value stops the run).
const MANTISSA_LIMITS: [&str; 10] = [
    "7.9228162514264337593543950336BD",
    "79.228162514264337593543950336BD",
    "792.28162514264337593543950336BD",
    "7922.8162514264337593543950336BD",
    "79228.162514264337593543950336BD",
    "792281.62514264337593543950336BD",
    "7922816.2514264337593543950336BD",
    "79228162.514264337593543950336BD",
    "792281625.14264337593543950336BD",
    "7922816251.4264337593543950336BD",
];

/// The error a quotient of 10^10 or more stops the Spark script with.
const QUOTIENT_TOO_LARGE: &str = "mianshen: 商达到 10^10, Spark 脚本的 DECIMAL(38,28) 不能精确表示, 运行已停止 (a quotient of 10^10 or more: the Spark script holds quotients as DECIMAL(38,28) and stops rather than round): ";

/// An exact PostgreSQL result as the engine's decimal holds it: see
/// [`FUNCTIONS`].
fn fit(exact: &str) -> String {
    format!("pg_temp.ms_fit({exact})")
}

/// The engine's quotient `a / b` (`b` not 0) in PostgreSQL: `ms_div`, or,
/// when `b` is a number written in the policy whose inverse `r` is a
/// finite decimal (`/ 4`, `round(x, 0.01)`), `ms_fit(a * r)`: `a · r` is
/// the exact quotient, and `ms_fit` rounds an exact value as `ms_div`
/// rounds the exact quotient (it is `ms_div(x, 1)` past the fast path),
/// so the value is the same, without `ms_div`'s long division row by row.
fn quotient(a: &str, b: &Node) -> String {
    match literal(Dialect::Postgres, b).and_then(super::spark::inverse) {
        Some(r) => fit(&format!("({a}) * {}", number(&r))),
        None => format!("pg_temp.ms_div({a}, {})", b.v),
    }
}

/// A number written in the policy, as [`Dialect::number`] wrote it.
fn literal(dialect: Dialect, x: &Node) -> Option<Decimal> {
    if !x.present() {
        return None;
    }
    dialect.read_number(&x.v)
}

/// The engine's decimal arithmetic in SQL, created at the start of the
/// script (`pg_temp`: the session's own, gone when it ends).
///
/// The engine computes with `rust_decimal`: a 96-bit mantissa and a scale of
/// at most 28. Its `+ - *` and `/` give the exact result when it fits, and
/// otherwise the exact result rounded half to even at the largest scale
/// (at most 28) whose mantissa fits in 96 bits; when not even the whole part
/// fits, overflow. (Its division computes the quotient digit by digit to
/// that scale and rounds on the remainder; its multiplication and addition
/// drop digits with a sticky remainder: both are that rounding, read in
/// `rust_decimal`'s `ops/div.rs`, `ops/mul.rs`, `ops/add.rs` and checked
/// against it by tests/sql_postgres.rs on random quotients, sums and
/// products.) PostgreSQL's `numeric` is exact for `+ - *`, so
/// `ms_fit(x)` rounds its result to that scale; for `/`, `ms_div(a, b)`
/// finds the quotient's whole digits with `div`, and rounds `a·10^s / b`
/// half to even with `div` and `mod`, all exact. Both return `NULL` on
/// overflow.
///
/// Speed (docs/performance.md, "In PostgreSQL"): `ms_fit` is one
/// expression, not `STRICT`, so the planner inlines it; its fast path
/// returns `x` when `scale(x) <= 18` and `|x| < 10^10` (the mantissa is
/// then below `10^28 < 2^96`: it fits), else `ms_fit_all`, the full test.
/// `ms_div` is PL/pgSQL: a SQL function with a subquery is never inlined
/// and costs far more per row than PL/pgSQL's simple expressions.
pub const FUNCTIONS: &str = "\
CREATE OR REPLACE FUNCTION pg_temp.ms_div(a numeric, b numeric) RETURNS numeric
  LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
  q numeric; s integer; m numeric; t numeric; r numeric;
BEGIN
  IF a = 0 THEN RETURN 0::numeric; END IF;
  q := div(abs(a), abs(b));
  s := LEAST(28, 29 - CASE WHEN q = 0 THEN 0 ELSE length(q::text) END);
  FOR i IN 0..1 LOOP
    IF s < 0 THEN RETURN NULL; END IF;
    m := a * ('1e' || s)::numeric;
    t := div(m, b);
    r := mod(m, b);
    IF 2 * abs(r) > abs(b) OR (2 * abs(r) = abs(b) AND mod(t, 2) <> 0) THEN t := t + sign(a) * sign(b); END IF;
    IF abs(t) < 79228162514264337593543950336 THEN RETURN t * ('1e-' || s)::numeric; END IF;
    s := s - 1;
  END LOOP;
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION pg_temp.ms_fit_all(x numeric) RETURNS numeric
  LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT CASE WHEN scale(x) <= 28 AND abs(x) * ('1e' || scale(x))::numeric < 79228162514264337593543950336 THEN x
    ELSE pg_temp.ms_div(x, 1) END $$;
CREATE OR REPLACE FUNCTION pg_temp.ms_fit(x numeric) RETURNS numeric
  LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN scale(x) <= 18 AND abs(x) < 10000000000 THEN x ELSE pg_temp.ms_fit_all(x) END $$;
";

impl Scope<'_> {
    /// Text compared in byte order, as the engine compares (`COLLATE "C"`;
    /// Spark's strings compare in byte order already).
    fn collated(&self, x: &Node) -> String {
        if x.ty == Ty::Text && !self.dialect.is_spark() {
            format!("({}) COLLATE \"C\"", x.v)
        } else {
            x.v.clone()
        }
    }

    fn compare(&self, op: CmpOp, a: &Node, b: &Node) -> String {
        let sym = match op {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        };
        format!("{} {sym} {}", self.collated(a), self.collated(b))
    }

    /// An exact result as the engine holds it: [`fit`] in PostgreSQL; in
    /// Spark the result as it is (admitted only within 28 digits).
    fn fit(&self, exact: &str) -> String {
        if self.dialect.is_spark() {
            exact.to_string()
        } else {
            fit(exact)
        }
    }
}

/// Whole months from `d1` to `d2`, by anniversary; from a later to an
/// earlier date, the negative of the reverse count (LANGUAGE.md section 5).
fn months_between(d1: &str, d2: &str) -> String {
    let count = |a: &str, b: &str| {
        format!(
            "((extract(year FROM {b}) - extract(year FROM {a})) * 12 + extract(month FROM {b}) - extract(month FROM {a}) - CASE WHEN extract(day FROM {b}) < extract(day FROM {a}) THEN 1 ELSE 0 END)"
        )
    };
    format!(
        "CASE WHEN {d2} < {d1} THEN -{} ELSE {} END",
        count(d2, d1),
        count(d1, d2)
    )
}

/// The most characters of a step's value and causes written out where
/// they are read instead of computed once as a step.
const CHEAP: usize = 320;

/// A step small enough to repeat where it is read: no function of the
/// script (`ms_fit`, `ms_div`: their work is worth naming once), no
/// subquery, at most [`CHEAP`] characters in all.
fn is_cheap(parts: &[&str]) -> bool {
    parts.iter().map(|p| p.len()).sum::<usize>() <= CHEAP
        && parts
            .iter()
            .all(|p| !p.contains("pg_temp.") && !p.contains("SELECT"))
}

/// A column reference, literal or cast: safe to repeat.
fn is_simple(v: &str) -> bool {
    !v.contains(' ') || v.starts_with("DATE '") && v.len() == 17
}
