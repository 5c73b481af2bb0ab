//! Runtime values, with missing values that remember why they are missing.

use rust_decimal::Decimal;

use crate::date::Date;

/// Why a value is missing: which fields were empty (a bit per schema field
/// index below [`Why::OTHER_FIELDS_BIT`]) and notes such as division by zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Why {
    pub fields: u64,
    pub notes: u8,
}

impl Why {
    /// Fields at or beyond this index share one bit; their names are then
    /// recovered from the clause's static field list.
    pub const OTHER_FIELDS_BIT: u32 = 63;
    pub const DIV_ZERO: u8 = 1;
    pub const OVERFLOW: u8 = 2;
    /// `last_paid` of a firm with no payment under those ids.
    pub const NO_PAYMENT: u8 = 4;

    pub fn field(index: u16) -> Why {
        Self::field_from(index, 0)
    }

    /// Field `index` when the bits are counted from field `base`: fields
    /// before `base` or past the bits share the last bit.
    pub fn field_from(index: u16, base: u16) -> Why {
        let bit = index.checked_sub(base).map_or(Self::OTHER_FIELDS_BIT, |i| {
            (i as u32).min(Self::OTHER_FIELDS_BIT)
        });
        Why {
            fields: 1u64 << bit,
            notes: 0,
        }
    }

    pub fn note(note: u8) -> Why {
        Why {
            fields: 0,
            notes: note,
        }
    }

    pub fn merge(self, other: Why) -> Why {
        Why {
            fields: self.fields | other.fields,
            notes: self.notes | other.notes,
        }
    }

    /// Whether field `index` is among the causes (fields past the bit limit
    /// answer for the shared bit).
    pub fn has_field(self, index: u16) -> bool {
        let bit = (index as u32).min(Self::OTHER_FIELDS_BIT);
        self.fields & (1u64 << bit) != 0
    }

    /// Whether the shared bit is set: some field past the bits (or, when
    /// counted from a `base`, before it) is among the causes.
    pub fn has_other_fields(self) -> bool {
        self.fields & (1u64 << Self::OTHER_FIELDS_BIT) != 0
    }
}

/// A value during evaluation. Texts and lists borrow from the record or the
/// program, so evaluating allocates nothing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum V<'a> {
    Miss(Why),
    Bool(bool),
    Num(Decimal),
    Date(Date),
    Text(&'a str),
    List(&'a [Box<str>]),
}

impl V<'_> {
    pub fn why(&self) -> Option<Why> {
        match self {
            V::Miss(w) => Some(*w),
            _ => None,
        }
    }
}

/// Formats a value for reasons and explanations: decimals without trailing
/// zeros, percents as `5.5%`.
pub fn show(v: &V<'_>, percent: bool) -> String {
    match v {
        V::Miss(_) => "missing".into(),
        V::Bool(b) => b.to_string(),
        V::Num(n) if percent => percent_text(*n),
        V::Num(n) => n.normalize().to_string(),
        V::Date(d) => d.to_string(),
        V::Text(t) => t.to_string(),
        V::List(items) => {
            let items: Vec<&str> = items.iter().map(|s| s.as_ref()).collect();
            format!("[{}]", items.join("; "))
        }
    }
}

/// A percent field's value as written in percent: 0.055 is `5.5%`. A value
/// near the decimal range (a data cell may hold 28 digits) does not fit once
/// multiplied by 100, so then the point is moved in the text instead.
fn percent_text(n: Decimal) -> String {
    if let Some(p) = n.checked_mul(Decimal::ONE_HUNDRED) {
        return format!("{}%", p.normalize());
    }
    // beyond about 7.9e26 in magnitude: the integer part has no leading zeros
    let text = n.normalize().to_string();
    let (sign, digits) = match text.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", text.as_str()),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let frac = format!("{frac:0<2}");
    let (moved, rest) = frac.split_at(2);
    if rest.is_empty() {
        format!("{sign}{int}{moved}%")
    } else {
        format!("{sign}{int}{moved}.{rest}%")
    }
}
