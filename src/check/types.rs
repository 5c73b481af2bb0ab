//! The static types of the policy language and how they combine.

use crate::schema::FieldType;
use crate::syntax::ast::ArithOp;

/// The type of an expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    Bool,
    Integer,
    Number,
    Money,
    Percent,
    Date,
    Text,
    /// The values of the enum field with this index.
    Enum(u16),
    List,
    /// The type of something already reported as wrong; combines with
    /// anything silently so one mistake gives one message.
    Error,
}

impl Ty {
    pub fn of_field(ty: &FieldType, index: u16) -> Ty {
        match ty {
            FieldType::Bool => Ty::Bool,
            FieldType::Integer => Ty::Integer,
            FieldType::Number => Ty::Number,
            FieldType::Money => Ty::Money,
            FieldType::Percent => Ty::Percent,
            FieldType::Date => Ty::Date,
            FieldType::Text => Ty::Text,
            FieldType::Enum(_) => Ty::Enum(index),
            FieldType::List => Ty::List,
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            Ty::Integer | Ty::Number | Ty::Money | Ty::Percent | Ty::Error
        )
    }

    pub fn is_textual(self) -> bool {
        matches!(self, Ty::Text | Ty::Enum(_) | Ty::Error)
    }

    /// The English word, beside the Chinese where engineers read it.
    pub fn name_en(self) -> &'static str {
        match self {
            Ty::Bool => "a true/false value",
            Ty::Integer => "an integer",
            Ty::Number => "a number",
            Ty::Money => "money",
            Ty::Percent => "a percent",
            Ty::Date => "a date",
            Ty::Text | Ty::Enum(_) => "a text",
            Ty::List => "a list",
            Ty::Error => "an unknown value",
        }
    }

    /// The word officers read in messages.
    pub fn describe(self) -> &'static str {
        match self {
            Ty::Bool => "真假值",
            Ty::Integer => "整数",
            Ty::Number => "数字",
            Ty::Money => "金额",
            Ty::Percent => "百分比",
            Ty::Date => "日期",
            Ty::Text | Ty::Enum(_) => "文字",
            Ty::List => "列表",
            Ty::Error => "未知的值",
        }
    }
}

/// The type of `a OP b` for numeric operands (LANGUAGE.md section 5: money ×
/// percent is money; money ÷ money is a number).
pub fn arith(op: ArithOp, a: Ty, b: Ty) -> Ty {
    use Ty::*;
    if a == Error || b == Error {
        return Error;
    }
    // A percent stays a percent only with percents; a plain number times a
    // percent is a plain number (read as yuan wherever money is expected).
    match op {
        ArithOp::Add | ArithOp::Sub => match (a, b) {
            (Money, _) | (_, Money) => Money,
            (Percent, Percent) => Percent,
            (Integer, Integer) => Integer,
            _ => Number,
        },
        ArithOp::Mul => match (a, b) {
            (Money, _) | (_, Money) => Money,
            (Percent, Percent) => Percent,
            (Integer, Integer) => Integer,
            _ => Number,
        },
        ArithOp::Div => match (a, b) {
            (Money, Money) => Number,
            (Money, _) => Money,
            _ => Number,
        },
    }
}

/// Whether two values may be compared; `Err` says why not, with a hint.
pub fn comparable(a: Ty, b: Ty) -> Result<(), (String, Option<String>)> {
    use Ty::*;
    let no = |m: String, h: Option<&str>| Err((m, h.map(str::to_string)));
    match (a, b) {
        (Error, _) | (_, Error) => Ok(()),
        (Money, Percent) | (Percent, Money) => no(
            "金额不能和百分比比较 (money vs a percent)".into(),
            Some("比较占比请先相除,如 `rnd / revenue >= 3%`"),
        ),
        (x, y) if x.is_numeric() && y.is_numeric() => Ok(()),
        (Date, Date) | (Bool, Bool) => Ok(()),
        (x, y) if x.is_textual() && y.is_textual() => Ok(()),
        (List, _) | (_, List) => no(
            "列表不能和单个值比较 (a list vs a single value)".into(),
            Some("检查列表是否含某项,写 `tags contains \"专精特新\"`"),
        ),
        (Date, y) | (y, Date) if y.is_numeric() => no(
            format!("日期不能和{}比较 (a date vs {})", y.describe(), y.name_en()),
            Some("日期写成 `2020-01-01`,或比较年份:`year(registered_on) >= 2020`"),
        ),
        (Date, y) | (y, Date) if y.is_textual() => no(
            "日期不能和文字比较 (a date vs a text)".into(),
            Some("政策里的日期不加引号,写成 `2024-01-01`;文字才用双引号"),
        ),
        (x, y) if (x.is_textual() && y.is_numeric()) || (x.is_numeric() && y.is_textual()) => no(
            "文字不能和数字比较 (a text vs a number)".into(),
            Some("区划代码等编码是文字:请加引号,如 `region == \"420102\"`"),
        ),
        (x, y) => no(
            format!(
                "{}不能和{}比较 ({} vs {})",
                x.describe(),
                y.describe(),
                x.name_en(),
                y.name_en()
            ),
            None,
        ),
    }
}

/// The common type of branches (`if`, `when`, `tiers`, `coalesce`, `min`).
pub fn unify(a: Ty, b: Ty) -> Option<Ty> {
    use Ty::*;
    Some(match (a, b) {
        (Error, x) | (x, Error) => x,
        (x, y) if x == y => x,
        (Money, Percent) | (Percent, Money) => return None,
        (Money, y) | (y, Money) if y.is_numeric() => Money,
        (Percent, y) | (y, Percent) if y.is_numeric() => Percent,
        (x, y) if x.is_numeric() && y.is_numeric() => Number,
        (x, y) if x.is_textual() && y.is_textual() => Text,
        _ => return None,
    })
}
