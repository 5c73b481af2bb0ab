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
    /// An eligible decision whose funded amount the policy's budget cut
    /// below its amount (section 7 step 4), by `cut` yuan. The library's
    /// decisions carry it; decisions.csv does not list it (there the cut
    /// shows as `funded` below `amount`).
    Budget { cut: rust_decimal::Decimal },
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
            Reason::Budget { .. } => f.write_str("budget"),
        }
    }
}

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
            Reason::Budget { .. } => ('b', ""),
        }
    }

    /// Appends the stored form of `reasons` to `out`: each reason's kind
    /// letter, the length in bytes of what it carries, `:`, and that text.
    /// Labels and values may hold any character (a data value can hold a
    /// line break or a control character), so nothing separates them.
    pub(crate) fn store(reasons: &[Reason], out: &mut String) {
        use std::fmt::Write;
        let mut text = String::new();
        for r in reasons {
            let (kind, label) = r.kind();
            text.clear();
            match r {
                Reason::Missing(fields) => text.push_str(&fields.join(", ")),
                // `{group} {cut} {label}`: the label may hold spaces, the
                // numbers do not
                Reason::Combined { group, cut, .. } => {
                    let _ = write!(text, "{group} {cut} {label}");
                }
                Reason::CapUndecided { group, .. } => {
                    let _ = write!(text, "{group} {label}");
                }
                Reason::Budget { cut } => {
                    let _ = write!(text, "{cut}");
                }
                _ => text.push_str(label),
            }
            let _ = write!(out, "{kind}{}:{text}", text.len());
        }
    }

    /// The `(kind, text)` of each reason of a stored form.
    fn parts(mut stored: &str) -> impl Iterator<Item = (char, &str)> {
        std::iter::from_fn(move || {
            let mut chars = stored.chars();
            let kind = chars.next()?;
            let rest = chars.as_str();
            let (len, rest) = rest.split_once(':')?;
            let len: usize = len.parse().ok()?;
            let (text, after) = (rest.get(..len)?, rest.get(len..)?);
            stored = after;
            Some((kind, text))
        })
    }

    /// The reasons of a stored form ([`Reason::store`]).
    pub(crate) fn restore(stored: &str) -> Vec<Reason> {
        Reason::parts(stored)
            .map(|(kind, text)| Reason::restore_one(kind, text))
            .collect()
    }

    fn restore_one(kind: char, text: &str) -> Reason {
        let label = text.to_string();
        match kind {
            'u' => Reason::Undecided(label),
            'm' => Reason::Missing(text.split(", ").map(str::to_string).collect()),
            'v' => Reason::Values(label),
            'n' => Reason::NoPayableAmount,
            'z' => Reason::DivisionByZero,
            'o' => Reason::Overflow,
            'p' => Reason::NoPriorPayment,
            'x' => Reason::Exclusive(label),
            'l' => Reason::Limit,
            'c' => match Reason::combined_parts(text) {
                Some((group, cut, l)) => Reason::Combined {
                    label: l.to_string(),
                    group,
                    cut,
                },
                None => Reason::Failed(label),
            },
            'k' => match Reason::group_parts(text) {
                Some((group, l)) => Reason::CapUndecided {
                    label: l.to_string(),
                    group,
                },
                None => Reason::Undecided(label),
            },
            'b' => match text.parse() {
                Ok(cut) => Reason::Budget { cut },
                Err(_) => Reason::Failed(label),
            },
            _ => Reason::Failed(label),
        }
    }

    /// The stored form rendered as decisions.csv writes it (`; ` between).
    pub(crate) fn render_stored(stored: &str, out: &mut String) {
        for (i, (kind, text)) in Reason::parts(stored).enumerate() {
            if i > 0 {
                out.push_str("; ");
            }
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
                'p' => out.push_str("no prior payment"),
                'l' => out.push_str("limit"),
                'b' => out.push_str("budget"),
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
        Reason::parts(stored).filter_map(|(kind, text)| match kind {
            'c' => Reason::combined_parts(text).map(|(g, cut, _)| (g, Some(cut))),
            'k' => Reason::group_parts(text).map(|(g, _)| (g, None)),
            _ => None,
        })
    }
}

/// The stored form of [`Reason::Limit`].
pub(crate) const LIMIT_STORED: &str = "l0:";

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
            Reason::NoPriorPayment,
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
            Reason::Budget {
                cut: rust_decimal::Decimal::new(-705, 3),
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
        // a value or label may hold any character, the old separator too
        let odd = vec![
            Reason::Values("name=a\u{1f}b; c\nd".into()),
            Reason::Failed("标签\u{1f}".into()),
        ];
        let mut stored = String::new();
        Reason::store(&odd, &mut stored);
        assert_eq!(Reason::restore(&stored), odd);
        let mut rendered = String::new();
        Reason::render_stored(&stored, &mut rendered);
        assert_eq!(rendered, "values: name=a\u{1f}b; c\nd; 标签\u{1f}");
        assert_eq!(Reason::restore(LIMIT_STORED), [Reason::Limit]);
    }
}
