//! Why a decision is what it is, by kind: a payment system reads the kind,
//! `decisions.csv` and people read the text ([`std::fmt::Display`], the
//! contract's wording).

use std::fmt;

/// One reason of a decision.
///
/// ```
/// use mianshen::eval::Reason;
///
/// let r = Reason::Missing(vec!["revenue".into(), "rnd".into()]);
/// assert_eq!(r.to_string(), "missing: revenue, rnd");
/// assert_eq!(Reason::Limit.to_string(), "limit");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// An ineligible decision: the label of a clause that failed.
    Failed(String),
    /// A review: the label of a clause, or of the amount, that could not be
    /// decided.
    Undecided(String),
    /// A review: the fields whose missing values blocked the decision.
    Missing(Vec<String>),
    /// An ineligible decision: the values the failed clauses read
    /// (`field=value, …`).
    Values(String),
    /// Every condition held but the amount is not payable (not above 0).
    NoPayableAmount,
    /// A review: a division by zero left a value unknown.
    DivisionByZero,
    /// A review: the arithmetic overflowed.
    Overflow,
    /// A review: `last_paid` found no prior payment.
    NoPriorPayment,
    /// Turned ineligible by an exclusive group (its label): another policy
    /// of the group paid more.
    Exclusive(String),
    /// Cut by the policy's `limit`.
    Limit,
    /// Cut, or turned ineligible, by a `combined` group's cap: the group's
    /// label, its place among the set's groups, and how much the cap took
    /// from this decision's amount.
    Combined {
        label: String,
        group: usize,
        cut: rust_decimal::Decimal,
    },
    /// A review: a `combined` group's cap could not be computed (the
    /// group's label and place; the missing fields follow).
    CapUndecided { label: String, group: usize },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Failed(label)
            | Reason::Undecided(label)
            | Reason::Exclusive(label)
            | Reason::Combined { label, .. }
            | Reason::CapUndecided { label, .. } => f.write_str(label),
            Reason::Missing(fields) => write!(f, "missing: {}", fields.join(", ")),
            Reason::Values(values) => write!(f, "values: {values}"),
            Reason::NoPayableAmount => f.write_str("no payable amount"),
            Reason::DivisionByZero => f.write_str("division by zero"),
            Reason::Overflow => f.write_str("arithmetic overflow"),
            Reason::NoPriorPayment => f.write_str("no prior payment"),
            Reason::Limit => f.write_str("limit"),
        }
    }
}

/// Between stored reasons: a character no label holds.
const SEPARATOR: char = '\u{1f}';

impl Reason {
    /// The kind as one letter, then what the reason carries.
    fn kind(&self) -> (char, &str) {
        match self {
            Reason::Failed(t) => ('f', t),
            Reason::Undecided(t) => ('u', t),
            Reason::Missing(_) => ('m', ""),
            Reason::Values(t) => ('v', t),
            Reason::NoPayableAmount => ('n', ""),
            Reason::DivisionByZero => ('z', ""),
            Reason::Overflow => ('o', ""),
            Reason::NoPriorPayment => ('p', ""),
            Reason::Exclusive(t) => ('x', t),
            Reason::Limit => ('l', ""),
            Reason::Combined { label, .. } => ('c', label),
            Reason::CapUndecided { label, .. } => ('k', label),
        }
    }

    /// Appends the stored form of `reasons` (kind letter and text of each,
    /// apart by a separator) to `out`.
    pub(crate) fn store(reasons: &[Reason], out: &mut String) {
        for (i, r) in reasons.iter().enumerate() {
            if i > 0 {
                out.push(SEPARATOR);
            }
            let (kind, text) = r.kind();
            out.push(kind);
            match r {
                Reason::Missing(fields) => out.push_str(&fields.join(", ")),
                // `c{group} {cut} {label}`: the label may hold spaces, the
                // numbers do not
                Reason::Combined { group, cut, .. } => {
                    use std::fmt::Write;
                    let _ = write!(out, "{group} {cut} {text}");
                }
                Reason::CapUndecided { group, .. } => {
                    use std::fmt::Write;
                    let _ = write!(out, "{group} {text}");
                }
                _ => out.push_str(text),
            }
        }
    }

    /// The reasons of a stored form ([`Reason::store`]).
    pub(crate) fn restore(stored: &str) -> Vec<Reason> {
        if stored.is_empty() {
            return Vec::new();
        }
        stored.split(SEPARATOR).map(Reason::restore_one).collect()
    }

    fn restore_one(part: &str) -> Reason {
        let mut chars = part.chars();
        let kind = chars.next().unwrap_or('f');
        let text = chars.as_str().to_string();
        match kind {
            'u' => Reason::Undecided(text),
            'm' => Reason::Missing(text.split(", ").map(str::to_string).collect()),
            'v' => Reason::Values(text),
            'n' => Reason::NoPayableAmount,
            'z' => Reason::DivisionByZero,
            'o' => Reason::Overflow,
            'p' => Reason::NoPriorPayment,
            'x' => Reason::Exclusive(text),
            'l' => Reason::Limit,
            'c' => match Reason::combined_parts(&text) {
                Some((group, cut, label)) => Reason::Combined {
                    label: label.to_string(),
                    group,
                    cut,
                },
                None => Reason::Failed(text),
            },
            'k' => match Reason::group_parts(&text) {
                Some((group, label)) => Reason::CapUndecided {
                    label: label.to_string(),
                    group,
                },
                None => Reason::Undecided(text),
            },
            _ => Reason::Failed(text),
        }
    }

    /// The stored form rendered as decisions.csv writes it (`; ` between).
    pub(crate) fn render_stored(stored: &str, out: &mut String) {
        if stored.is_empty() {
            return;
        }
        for (i, part) in stored.split(SEPARATOR).enumerate() {
            if i > 0 {
                out.push_str("; ");
            }
            let mut chars = part.chars();
            let kind = chars.next().unwrap_or('f');
            let text = chars.as_str();
            match kind {
                'm' => {
                    out.push_str("missing: ");
                    out.push_str(text);
                }
                'v' => {
                    out.push_str("values: ");
                    out.push_str(text);
                }
                'n' => out.push_str("no payable amount"),
                'z' => out.push_str("division by zero"),
                'o' => out.push_str("arithmetic overflow"),
                'l' => out.push_str("limit"),
                'c' => out.push_str(Reason::combined_parts(text).map_or(text, |(_, _, l)| l)),
                'k' => out.push_str(Reason::group_parts(text).map_or(text, |(_, l)| l)),
                _ => out.push_str(text),
            }
        }
    }
}

impl Reason {
    /// The group, cut and label of a stored `combined` reason's text.
    fn combined_parts(text: &str) -> Option<(usize, rust_decimal::Decimal, &str)> {
        let (group, rest) = Reason::group_parts(text)?;
        let (cut, label) = rest.split_once(' ')?;
        Some((group, cut.parse().ok()?, label))
    }

    /// The group and the rest of a stored `combined` reason's text.
    fn group_parts(text: &str) -> Option<(usize, &str)> {
        let (group, rest) = text.split_once(' ')?;
        Some((group.parse().ok()?, rest))
    }

    /// What `combined` groups did to a stored decision: `(group, Some(cut))`
    /// for a cut, `(group, None)` for a cap that could not be computed.
    pub(crate) fn stored_combined(
        stored: &str,
    ) -> impl Iterator<Item = (usize, Option<rust_decimal::Decimal>)> + '_ {
        stored.split(SEPARATOR).filter_map(|part| {
            if let Some(text) = part.strip_prefix('c') {
                Reason::combined_parts(text).map(|(g, cut, _)| (g, Some(cut)))
            } else {
                let text = part.strip_prefix('k')?;
                Reason::group_parts(text).map(|(g, _)| (g, None))
            }
        })
    }
}

/// The stored form of [`Reason::Limit`].
pub(crate) const LIMIT_STORED: &str = "l";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_reasons_come_back_and_render_as_displayed() {
        let reasons = vec![
            Reason::Failed("上年度营业收入不低于2000万元".into()),
            Reason::Undecided("研发投入".into()),
            Reason::Missing(vec!["revenue".into(), "rnd".into()]),
            Reason::Values("revenue=12".into()),
            Reason::NoPayableAmount,
            Reason::DivisionByZero,
            Reason::Overflow,
            Reason::Exclusive("就高不重复".into()),
            Reason::Limit,
            Reason::Combined {
                label: "年度奖励 累计不超过500万元".into(),
                group: 1,
                cut: rust_decimal::Decimal::new(12345, 2),
            },
            Reason::CapUndecided {
                label: "年度奖励 上限".into(),
                group: 0,
            },
        ];
        let mut stored = String::new();
        Reason::store(&reasons, &mut stored);
        assert_eq!(Reason::restore(&stored), reasons);
        let mut rendered = String::new();
        Reason::render_stored(&stored, &mut rendered);
        let shown: Vec<String> = reasons.iter().map(Reason::to_string).collect();
        assert_eq!(rendered, shown.join("; "));
        assert!(Reason::restore("").is_empty());
        assert_eq!(Reason::restore(LIMIT_STORED), [Reason::Limit]);
    }
}
