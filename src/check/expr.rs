//! Expressions: resolve names, infer types (LANGUAGE.md section 5), lower to [`Ir`].

use std::collections::BTreeSet;

use rust_decimal::Decimal;

use super::types::{arith, comparable, unify, Ty};
use super::Checker;
use crate::program::{Const, Func, Ir};
use crate::schema::FieldType;
use crate::syntax::ast::{CmpOp, Expr, ExprKind, NumKind, Span};

/// The names visible inside one policy (its `let`s so far).
#[derive(Default)]
pub struct Scope {
    /// `let`s defined so far: name, type, fields read.
    pub lets: Vec<(String, Ty, BTreeSet<u16>)>,
    /// `let`s of the policy defined further down, with where.
    pub later: Vec<(String, Span)>,
}

/// A checked expression: its lowered form, type, and the fields it reads.
pub struct Typed {
    pub ir: Ir,
    pub ty: Ty,
}

impl Checker<'_> {
    pub(super) fn expr(&mut self, e: &Expr, scope: &Scope, reads: &mut BTreeSet<u16>) -> Typed {
        let (ir, ty) = self.expr_inner(e, scope, reads);
        Typed { ir, ty }
    }

    fn sub(&mut self, e: &Expr, scope: &Scope, reads: &mut BTreeSet<u16>) -> (Box<Ir>, Ty) {
        let t = self.expr(e, scope, reads);
        (Box::new(t.ir), t.ty)
    }

    fn expect_bool(
        &mut self,
        e: &Expr,
        scope: &Scope,
        reads: &mut BTreeSet<u16>,
        what: &str,
    ) -> Box<Ir> {
        let (ir, ty) = self.sub(e, scope, reads);
        if ty != Ty::Bool && ty != Ty::Error {
            self.err(
                "check::type",
                e.span,
                format!(
                    "{what}要得出真或假,这里是{} (must be true or false)",
                    ty.describe()
                ),
                Some("写成比较,如 `revenue >= 500万`".into()),
            );
        }
        ir
    }

    fn expect_numeric(
        &mut self,
        e: &Expr,
        scope: &Scope,
        reads: &mut BTreeSet<u16>,
        what: &str,
    ) -> (Box<Ir>, Ty) {
        let (ir, ty) = self.sub(e, scope, reads);
        if !ty.is_numeric() {
            let help = if ty == Ty::Date {
                Some("日期不能做加减乘除:请用 `months_between(a, b)`、`years_between(a, b)` 或 `year(d)`".into())
            } else {
                None
            };
            self.err(
                "check::type",
                e.span,
                format!("{what}要是数字,这里是{} (must be a number)", ty.describe()),
                help,
            );
            return (ir, Ty::Error);
        }
        (ir, ty)
    }

    fn expr_inner(&mut self, e: &Expr, scope: &Scope, reads: &mut BTreeSet<u16>) -> (Ir, Ty) {
        match &e.kind {
            ExprKind::Invalid => (Ir::Const(Const::Bool(false)), Ty::Error),
            ExprKind::Number(v, kind) => {
                let ty = match kind {
                    NumKind::Integer => Ty::Integer,
                    NumKind::Number => Ty::Number,
                    NumKind::Money => Ty::Money,
                    NumKind::Percent => Ty::Percent,
                };
                (Ir::Const(Const::Num(*v)), ty)
            }
            ExprKind::Date(d) => (Ir::Const(Const::Date(*d)), Ty::Date),
            ExprKind::Text(t) => (Ir::Const(Const::Text(t.as_str().into())), Ty::Text),
            ExprKind::Bool(b) => (Ir::Const(Const::Bool(*b)), Ty::Bool),
            ExprKind::List(_) => {
                self.err(
                    "check::list",
                    e.span,
                    "方括号列表只能写在 `in` 或 `not in` 之后 (a list only follows `in`)".into(),
                    Some("如 `size in [\"中型\", \"小型\"]`".into()),
                );
                (Ir::Const(Const::Bool(false)), Ty::Error)
            }
            ExprKind::Name(name) => self.name(name, e.span, scope, reads),
            ExprKind::Call(name, args) => {
                self.call(&name.name, name.span, args, e.span, scope, reads)
            }
            ExprKind::Neg(x) => {
                let (ir, ty) = self.expect_numeric(x, scope, reads, "`-` 的运算对象");
                (Ir::Neg(ir), ty)
            }
            ExprKind::Not(x) => (
                Ir::Not(self.expect_bool(x, scope, reads, "`not` 的运算对象")),
                Ty::Bool,
            ),
            ExprKind::And(a, b) | ExprKind::Or(a, b) => {
                let is_and = matches!(e.kind, ExprKind::And(..));
                let what = if is_and {
                    "`and` 两边"
                } else {
                    "`or` 两边"
                };
                let a = self.expect_bool(a, scope, reads, what);
                let b = self.expect_bool(b, scope, reads, what);
                (if is_and { Ir::And(a, b) } else { Ir::Or(a, b) }, Ty::Bool)
            }
            ExprKind::Arith(op, a, b) => {
                let sym = match op {
                    crate::syntax::ast::ArithOp::Add => "+",
                    crate::syntax::ast::ArithOp::Sub => "-",
                    crate::syntax::ast::ArithOp::Mul => "*",
                    crate::syntax::ast::ArithOp::Div => "/",
                };
                let what = format!("`{sym}` 两边");
                let (ia, ta) = self.expect_numeric(a, scope, reads, &what);
                let (ib, tb) = self.expect_numeric(b, scope, reads, &what);
                (Ir::Arith(*op, ia, ib), arith(*op, ta, tb))
            }
            ExprKind::Compare(op, a, b) => {
                let (ia, ta) = self.sub(a, scope, reads);
                let (ib, tb) =
                    self.sub_quoted(b, scope, reads, matches!(ta, Ty::Text | Ty::Enum(_)));
                self.compare_types(ta, tb, a, b, e.span);
                (compare_ir(*op, ia, ib), Ty::Bool)
            }
            ExprKind::In {
                negated,
                item,
                list,
            } => {
                let (ii, mut ti) = self.sub(item, scope, reads);
                if ti == Ty::List {
                    self.err(
                        "check::type",
                        item.span,
                        "`in` 检查单个值,这里是列表 (a single value, not a list)".into(),
                        Some("检查列表是否含某项,写 `tags contains \"…\"`".into()),
                    );
                    ti = Ty::Error;
                }
                match &list.kind {
                    ExprKind::List(elems) => {
                        let mut out = Vec::with_capacity(elems.len());
                        for el in elems {
                            let (ie, te) = self.sub_quoted(
                                el,
                                scope,
                                reads,
                                matches!(ti, Ty::Text | Ty::Enum(_)),
                            );
                            self.compare_types(ti, te, item, el, el.span);
                            out.push(*ie);
                        }
                        (
                            Ir::InList {
                                negated: *negated,
                                item: ii,
                                list: out,
                            },
                            Ty::Bool,
                        )
                    }
                    _ => {
                        let (il, tl) = self.sub(list, scope, reads);
                        if tl != Ty::List && tl != Ty::Error {
                            self.err(
                                "check::type",
                                list.span,
                                format!("`in` 后面要跟列表,这里是{} (needs a list)", tl.describe()),
                                Some("把各个值写在方括号里:`x in [\"a\", \"b\"]`".into()),
                            );
                        } else if !ti.is_textual() {
                            self.err(
                                "check::type",
                                item.span,
                                format!(
                                    "列表里是文字,这里是{} (a list holds texts)",
                                    ti.describe()
                                ),
                                None,
                            );
                        }
                        (
                            Ir::InValue {
                                negated: *negated,
                                item: ii,
                                list: il,
                            },
                            Ty::Bool,
                        )
                    }
                }
            }
            ExprKind::Contains(a, b) => {
                let (ia, ta) = self.sub(a, scope, reads);
                let (ib, tb) = self.sub_quoted(b, scope, reads, true);
                if !tb.is_textual() {
                    self.err(
                        "check::type",
                        b.span,
                        format!(
                            "`contains` 查找的是文字,这里是{} (looks for a text)",
                            tb.describe()
                        ),
                        None,
                    );
                }
                match ta {
                    Ty::List | Ty::Error => (Ir::ListContains(ia, ib), Ty::Bool),
                    t if t.is_textual() => (Ir::TextContains(ia, ib), Ty::Bool),
                    t => {
                        self.err(
                            "check::type",
                            a.span,
                            format!(
                                "`contains` 用于列表(或文字),这里是{} (applies to a list)",
                                t.describe()
                            ),
                            Some("比较单个值请用 `==` 或 `in [...]`".into()),
                        );
                        (Ir::ListContains(ia, ib), Ty::Bool)
                    }
                }
            }
            ExprKind::Between(x, lo, hi) => {
                let (ix, tx) = self.sub(x, scope, reads);
                let (il, tl) = self.sub(lo, scope, reads);
                let (ih, th) = self.sub(hi, scope, reads);
                if tx == Ty::List {
                    self.err(
                        "check::type",
                        x.span,
                        format!(
                            "`between` 比较单个值,这里是{} (a single value, not a list)",
                            tx.describe()
                        ),
                        None,
                    );
                } else {
                    self.compare_types(tl, tx, lo, x, lo.span);
                    self.compare_types(tx, th, x, hi, hi.span);
                }
                (Ir::Between(ix, il, ih), Ty::Bool)
            }
            ExprKind::IsMissing { present, expr } => {
                let (ie, _) = self.sub(expr, scope, reads);
                (
                    Ir::IsMissing {
                        present: *present,
                        expr: ie,
                    },
                    Ty::Bool,
                )
            }
            ExprKind::If(c, a, b) => {
                let ic = self.expect_bool(c, scope, reads, "`if` 的条件");
                let (ia, ta) = self.sub(a, scope, reads);
                let (ib, tb) = self.sub(b, scope, reads);
                let ty = self.unify_or_report(ta, tb, b.span, "`then` 和 `else` 两个分支");
                (Ir::If(ic, ia, ib), ty)
            }
            ExprKind::When { arms, otherwise } => {
                let mut ty = Ty::Error;
                let mut out = Vec::with_capacity(arms.len());
                for (c, v) in arms {
                    let ic = self.expect_bool(c, scope, reads, "`when` 的条件");
                    let (iv, tv) = self.sub(v, scope, reads);
                    ty = self.unify_or_report(ty, tv, v.span, "`when` 的各分支");
                    out.push((*ic, *iv));
                }
                let other = match otherwise {
                    Some(o) => {
                        let (io, to) = self.sub(o, scope, reads);
                        ty = self.unify_or_report(ty, to, o.span, "`when` 的各分支");
                        io
                    }
                    None => {
                        self.err(
                            "check::when-without-else",
                            e.span,
                            "`when` 缺少 `else` (`when` needs an `else`)".into(),
                            Some("加上 `else …`,给不满足任何条件的企业一个值,如 `else 0`".into()),
                        );
                        Box::new(Ir::Const(Const::Num(Decimal::ZERO)))
                    }
                };
                (Ir::When(out, other), ty)
            }
            ExprKind::Tiers {
                base,
                rows,
                otherwise,
                misplaced_else,
            } => {
                if let Some(s) = misplaced_else {
                    self.err(
                        "check::tiers",
                        *s,
                        "`else` 行必须是最后一行 (the `else` row comes last)".into(),
                        None,
                    );
                }
                let (ib, tb) = self.sub(base, scope, reads);
                if !(tb.is_numeric() || tb == Ty::Date || tb.is_textual()) {
                    self.err(
                        "check::type",
                        base.span,
                        format!(
                            "`tiers` 要按数字、日期或文字分档,这里是{} (needs a number, date or text)",
                            tb.describe()
                        ),
                        None,
                    );
                }
                if rows.is_empty() && otherwise.is_none() {
                    self.err(
                        "check::tiers",
                        e.span,
                        "`tiers` 至少要有一行 (needs a row)".into(),
                        Some("写成 `>= 100万 : 5万` 这样的行,从上到下取第一条成立的行".into()),
                    );
                }
                let mut ty = Ty::Error;
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    let (ibound, tbound) = self.sub(&row.bound, scope, reads);
                    self.compare_types(tb, tbound, base, &row.bound, row.bound.span);
                    let (ir, tr) = self.sub(&row.result, scope, reads);
                    ty = self.unify_or_report(ty, tr, row.result.span, "`tiers` 各行的结果");
                    out.push((row.op, *ibound, *ir));
                }
                let other = match otherwise {
                    Some(o) => {
                        let (io, to) = self.sub(o, scope, reads);
                        ty = self.unify_or_report(ty, to, o.span, "`tiers` 各行的结果");
                        Some(io)
                    }
                    None => {
                        if !ty.is_numeric() {
                            self.err(
                                "check::type",
                                e.span,
                                format!(
                                    "没有 `else` 行时不命中得 0,但各行结果是{} (no `else` row)",
                                    ty.describe()
                                ),
                                Some("在最后加一行 `else : …`".into()),
                            );
                        }
                        if ty == Ty::Error {
                            ty = Ty::Integer;
                        }
                        None
                    }
                };
                (
                    Ir::Tiers {
                        base: ib,
                        rows: out,
                        otherwise: other,
                    },
                    ty,
                )
            }
            ExprKind::Progressive {
                base,
                rows,
                misplaced_above,
            } => {
                if let Some(s) = misplaced_above {
                    self.err(
                        "check::progressive",
                        *s,
                        "`above` 行必须是最后一行 (the `above` row comes last)".into(),
                        None,
                    );
                }
                let (ib, tb) = self.expect_numeric(base, scope, reads, "`progressive` 的基数");
                if rows.is_empty() {
                    self.err(
                        "check::progressive",
                        e.span,
                        "`progressive` 至少要有一行 (needs a row)".into(),
                        None,
                    );
                }
                let mut rate_ty = Ty::Error;
                let mut last: Option<Decimal> = None;
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    let bound = match &row.upto {
                        Some(b) => {
                            let (ibd, tbd) =
                                self.expect_numeric(b, scope, reads, "`progressive` 的分段上限");
                            if let Err((why, help)) = comparable(tb, tbd) {
                                self.err("check::type", b.span, why, help);
                            }
                            if let Ir::Const(Const::Num(v)) = *ibd {
                                if last.is_some_and(|l| v <= l) {
                                    self.err(
                                        "check::progressive",
                                        b.span,
                                        "`progressive` 的分段上限必须逐行增大 (bounds must rise)"
                                            .into(),
                                        None,
                                    );
                                }
                                last = Some(v);
                            }
                            Some(*ibd)
                        }
                        None => None,
                    };
                    let (ir, tr) =
                        self.expect_numeric(&row.rate, scope, reads, "`progressive` 的比例");
                    rate_ty = unify(rate_ty, tr).unwrap_or(Ty::Number);
                    out.push((bound, *ir));
                }
                let ty = arith(crate::syntax::ast::ArithOp::Mul, tb, rate_ty);
                let ty = if ty == Ty::Error { tb } else { ty };
                (
                    Ir::Progressive {
                        base: ib,
                        rows: out,
                    },
                    ty,
                )
            }
        }
    }

    fn unify_or_report(&mut self, a: Ty, b: Ty, span: Span, what: &str) -> Ty {
        match unify(a, b) {
            Some(t) => t,
            None => {
                self.err(
                    "check::type",
                    span,
                    format!(
                        "{what}要得出同一种值,这里是{}和{} (must give the same kind of value)",
                        a.describe(),
                        b.describe()
                    ),
                    None,
                );
                Ty::Error
            }
        }
    }

    fn compare_types(&mut self, ta: Ty, tb: Ty, a: &Expr, b: &Expr, span: Span) {
        if let Err((why, help)) = comparable(ta, tb) {
            // `2020/01/01` or `20200101`: a date written as a data file writes it
            let written = [a, b].into_iter().find_map(|e| {
                let t = self.source_text(e.span);
                crate::syntax::data_file_date(&t).map(|d| (t, d))
            });
            // `registered_on < "2024-01-01"`: a date in quotes is a text
            let quoted = [a, b].into_iter().find_map(|e| match &e.kind {
                ExprKind::Text(t) => crate::syntax::data_file_date(t),
                _ => None,
            });
            let help = match (written, quoted) {
                (Some((t, d)), _) if ta == Ty::Date || tb == Ty::Date => Some(format!(
                    "日期请写成 `{d}`,不是 `{t}` (write dates as `{d}`)"
                )),
                (_, Some(d)) if ta == Ty::Date || tb == Ty::Date => Some(format!(
                    "日期不加引号:写 `{d}`,不是 `\"{d}\"` (a date is written without quotes)"
                )),
                _ => help,
            };
            self.err("check::type", span, why, help);
            return;
        }
        // texts (and enum values) order by code point, `false` before
        // `true`: LANGUAGE.md section 5 forbids only the comparisons of
        // `comparable`, so `region >= "4201"` is a comparison like any other
        self.enum_literal(ta, b);
        self.enum_literal(tb, a);
    }

    /// An enum compared with a text literal outside its values is an error.
    fn enum_literal(&mut self, ty: Ty, lit: &Expr) {
        let (Ty::Enum(field), ExprKind::Text(value)) = (ty, &lit.kind) else {
            return;
        };
        let Some(f) = self.schema.fields.get(field as usize) else {
            return;
        };
        let FieldType::Enum(values) = &f.ty else {
            return;
        };
        if values.iter().any(|v| v == value) {
            return;
        }
        let help = match crate::suggest::closest(value, values.iter().map(|s| s.as_str())) {
            Some(s) => format!("是不是 `{s}`?可选的值:{}", values.join("、")),
            None => format!("可选的值:{}", values.join("、")),
        };
        self.err(
            "check::enum-value",
            lit.span,
            format!(
                "`{value}` 不是 `{}` 的可选值 (not a value of the field)",
                f.name
            ),
            Some(help),
        );
    }

    fn name(
        &mut self,
        name: &str,
        span: Span,
        scope: &Scope,
        reads: &mut BTreeSet<u16>,
    ) -> (Ir, Ty) {
        if let Some((slot, (_, ty, fields))) = scope
            .lets
            .iter()
            .enumerate()
            .rev()
            .find(|(_, (n, _, _))| n == name)
        {
            reads.extend(fields.iter().copied());
            return (Ir::Let(slot as u16), *ty);
        }
        if let Some((ir, ty, fields)) = self.define_ref(name, span) {
            reads.extend(fields.iter().copied());
            return (ir, ty);
        }
        if let Some(i) = self.schema.lookup(name) {
            let idx = i as u16;
            reads.insert(idx);
            let ty = self
                .schema
                .fields
                .get(i)
                .map_or(Ty::Error, |f| Ty::of_field(&f.ty, idx));
            return (Ir::Field(idx), ty);
        }
        if name == "as_of" {
            return (Ir::AsOf, Ty::Date);
        }
        if let Some((_, at)) = scope.later.iter().find(|(n, _)| n == name) {
            let line = self.line_of(*at);
            self.err(
                "check::let-before-definition",
                span,
                format!("`{name}` 在定义之前就用到了 (used before it is defined)"),
                Some(format!("`let {name}` 在后面第 {line} 行:把它移到这里之前")),
            );
            return (Ir::Const(Const::Bool(false)), Ty::Error);
        }
        if !self.unread.contains(name) {
            let mut candidates: Vec<String> =
                scope.lets.iter().map(|(n, _, _)| n.clone()).collect();
            candidates.extend(self.define_names());
            candidates.extend(self.schema.all_names().map(|s| s.to_string()));
            candidates.push("as_of".into());
            let help = self.quote_help(name).or_else(|| {
                crate::suggest::closest(name, candidates.iter().map(|s| s.as_str()))
                    .map(|s| format!("是不是 `{s}`? (did you mean `{s}`?)"))
            });
            let help = help.or_else(|| {
                self.quote_hint.then(|| {
                    format!(
                        "文字要加英文双引号:写 `\"{name}\"` (a text is written in double quotes)"
                    )
                })
            });
            let help = help.or_else(|| {
                crate::syntax::KEYWORDS
                    .contains(&name)
                    .then(|| format!("`{name}` 是保留字"))
            });
            self.err(
                "check::unknown-name",
                span,
                format!("不认识的名称 `{name}` (unknown name)"),
                help.or(Some(
                    "可用的名称:schema 里的字段(字段名、title 或别名)、`let` 和 `define`".into(),
                )),
            );
        }
        (Ir::Const(Const::Bool(false)), Ty::Error)
    }

    /// `size == 大型`: an unknown name that is a value of an `enum` field
    /// is that value without its quotes.
    fn quote_help(&self, name: &str) -> Option<String> {
        let field = self.schema.fields.iter().find(|f| match &f.ty {
            FieldType::Enum(values) => values.iter().any(|v| v == name),
            _ => false,
        })?;
        Some(format!(
            "`{name}` 是字段 `{}` 的可选值;文字要加英文双引号:写 `\"{name}\"` (quote it: `\"{name}\"`)",
            field.name
        ))
    }

    /// [`Self::sub`] where a text is expected when `text` holds: an unknown
    /// name standing there is told to be quoted.
    fn sub_quoted(
        &mut self,
        e: &Expr,
        scope: &Scope,
        reads: &mut BTreeSet<u16>,
        text: bool,
    ) -> (Box<Ir>, Ty) {
        let text = text && matches!(e.kind, ExprKind::Name(_));
        let outer = std::mem::replace(&mut self.quote_hint, text);
        let out = self.sub(e, scope, reads);
        self.quote_hint = outer;
        out
    }

    fn call(
        &mut self,
        name: &str,
        name_span: Span,
        args: &[Expr],
        span: Span,
        scope: &Scope,
        reads: &mut BTreeSet<u16>,
    ) -> (Ir, Ty) {
        if name == "paid" || name == "last_paid" {
            return self.ledger_call(name == "last_paid", name, args, span);
        }
        let Some(func) = Func::ALL.iter().copied().find(|f| f.name() == name) else {
            let names = ["paid", "last_paid"]
                .into_iter()
                .chain(Func::ALL.iter().map(|f| f.name()));
            let help = crate::suggest::closest(name, names)
                .map(|s| format!("是不是 `{s}`? (did you mean `{s}`?)"))
                .unwrap_or_else(|| {
                    "可用的函数:min、max、abs、round、floor、coalesce、starts_with、years_between、months_between、year、paid、last_paid"
                        .into()
                });
            self.err(
                "check::unknown-function",
                name_span,
                format!("不认识的函数 `{name}` (unknown function)"),
                Some(help),
            );
            for a in args {
                self.expr(a, scope, reads);
            }
            return (Ir::Const(Const::Bool(false)), Ty::Error);
        };
        let typed: Vec<(Ir, Ty, Span)> = args
            .iter()
            .map(|a| {
                let t = self.expr(a, scope, reads);
                (t.ir, t.ty, a.span)
            })
            .collect();
        let arity_ok = match func {
            Func::Min | Func::Max | Func::Coalesce => !typed.is_empty(),
            Func::Abs | Func::Year => typed.len() == 1,
            _ => typed.len() == 2,
        };
        if !arity_ok {
            let want = match func {
                Func::Min | Func::Max | Func::Coalesce => "至少一个参数",
                Func::Abs | Func::Year => "一个参数",
                _ => "两个参数",
            };
            self.err(
                "check::arity",
                span,
                format!(
                    "`{name}` 要{want},这里有 {} 个 (wrong number of arguments)",
                    typed.len()
                ),
                Some(signature(func).into()),
            );
            return (
                Ir::Call(func, typed.into_iter().map(|t| t.0).collect()),
                Ty::Error,
            );
        }
        let tys: Vec<Ty> = typed.iter().map(|t| t.1).collect();
        let ty = match func {
            Func::Min | Func::Max => {
                let mut ty = Ty::Error;
                for (_, t, s) in &typed {
                    if !(t.is_numeric() || *t == Ty::Date) {
                        self.err(
                            "check::type",
                            *s,
                            format!("`{name}` 的参数是数字或日期,这里是{}", t.describe()),
                            None,
                        );
                        continue;
                    }
                    ty = self.unify_or_report(ty, *t, *s, &format!("`{name}` 的各参数"));
                }
                ty
            }
            Func::Coalesce => {
                let mut ty = Ty::Error;
                for (_, t, s) in &typed {
                    ty = self.unify_or_report(ty, *t, *s, "`coalesce` 的各参数");
                }
                ty
            }
            Func::Abs | Func::Round | Func::Floor => {
                for (i, (_, t, s)) in typed.iter().enumerate() {
                    if !t.is_numeric() {
                        let what = if i == 0 {
                            "数字"
                        } else {
                            "步长,如 0.01 或 1万"
                        };
                        self.err(
                            "check::type",
                            *s,
                            format!("`{name}` 的参数是{what},这里是{}", t.describe()),
                            Some(signature(func).into()),
                        );
                    }
                }
                tys.first().copied().unwrap_or(Ty::Error)
            }
            Func::StartsWith => {
                for (_, t, s) in &typed {
                    if !t.is_textual() {
                        self.err(
                            "check::type",
                            *s,
                            format!("`starts_with` 的参数是文字,这里是{}", t.describe()),
                            Some(signature(func).into()),
                        );
                    }
                }
                Ty::Bool
            }
            Func::YearsBetween | Func::MonthsBetween | Func::Year => {
                for (_, t, s) in &typed {
                    if *t != Ty::Date && *t != Ty::Error {
                        self.err(
                            "check::type",
                            *s,
                            format!("`{name}` 的参数是日期,这里是{}", t.describe()),
                            Some(signature(func).into()),
                        );
                    }
                }
                Ty::Integer
            }
        };
        (Ir::Call(func, typed.into_iter().map(|t| t.0).collect()), ty)
    }
}

impl Checker<'_> {
    /// `paid(ID, …)` and `last_paid(ID, …)` (LANGUAGE.md sections 5 and 12):
    /// the arguments are policy ids written as names, not expressions, and
    /// may name policies outside the set (earlier years' awards).
    fn ledger_call(&mut self, last: bool, name: &str, args: &[Expr], span: Span) -> (Ir, Ty) {
        let form = format!("{name}(xiaojuren_2022, xiaojuren_2023)");
        if args.is_empty() {
            self.err(
                "check::arity",
                span,
                format!("`{name}` 至少要写一个政策编号 (names at least one policy id)"),
                Some(format!("列出兑付时所依据的政策编号:`{form}`")),
            );
            return (Ir::Const(Const::Bool(false)), Ty::Error);
        }
        let mut ids = Vec::new();
        let mut ok = true;
        for a in args {
            let ExprKind::Name(id) = &a.kind else {
                self.err(
                    "check::ledger-id",
                    a.span,
                    format!("`{name}` 的参数是政策编号,不是表达式 (policy ids, not expressions)"),
                    Some(format!("把兑付所依据的政策编号直接写成名称:`{form}`")),
                );
                ok = false;
                continue;
            };
            let slot = match self.ledger_ids.iter().position(|known| known == id) {
                Some(i) => i,
                None => {
                    self.ledger_ids.push(id.clone());
                    self.ledger_ids.len() - 1
                }
            };
            let slot = slot as u16;
            if !ids.contains(&slot) {
                ids.push(slot);
            }
        }
        if !ok {
            return (Ir::Const(Const::Bool(false)), Ty::Error);
        }
        self.ledger_uses.push(crate::program::LedgerUse {
            within: self.within.clone(),
            call: self.source_text(span),
            file: self.file_name(span),
            line: self.line_of(span),
            span,
        });
        let ty = if last { Ty::Date } else { Ty::Money };
        (Ir::Paid { last, ids }, ty)
    }
}

fn signature(f: Func) -> &'static str {
    match f {
        Func::Min => "min(a, b, …):最小值",
        Func::Max => "max(a, b, …):最大值",
        Func::Abs => "abs(x)",
        Func::Round => "round(x, 步长),如 round(x, 0.01):四舍五入",
        Func::Floor => "floor(x, 步长),如 floor(x, 1万):向下取整",
        Func::Coalesce => "coalesce(a, b, …):第一个有值的参数",
        Func::StartsWith => "starts_with(文字, 前缀),如 starts_with(industry, \"C39\")",
        Func::YearsBetween => "years_between(d1, d2):从 d1 到 d2 的整年数",
        Func::MonthsBetween => "months_between(d1, d2):从 d1 到 d2 的整月数",
        Func::Year => "year(d)",
    }
}

/// `a OP b`, specialised when one side is a field and the other a number.
// the operands arrive boxed from checking and stay boxed in `Ir::Cmp`
#[allow(clippy::boxed_local)]
fn compare_ir(op: CmpOp, a: Box<Ir>, b: Box<Ir>) -> Ir {
    match (*a, *b) {
        (Ir::Field(field), Ir::Const(Const::Num(value))) => Ir::CmpField { op, field, value },
        (Ir::Const(Const::Num(value)), Ir::Field(field)) => Ir::CmpField {
            op: flip(op),
            field,
            value,
        },
        (a, b) => Ir::Cmp(op, Box::new(a), Box::new(b)),
    }
}

/// The operator with its sides swapped: `5 < x` is `x > 5`.
fn flip(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        other => other,
    }
}
