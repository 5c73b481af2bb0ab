//! 公示名单: per policy, the eligible firms with money to be paid, largest
//! amount first (or by key), held in a sort that spills to disk; for a
//! policy without an `amount` (a qualification: 入库、认定), every eligible
//! firm, by key, with no amount.

use std::cmp::Ordering;
use std::fmt::Write;
use std::path::Path;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::firms::{Decision, Firm};
use super::folder::Run;
use super::table::{code, col, Book, Column, PeopleCsv, Value};
use crate::batch::sort::{take_array, Item, Order, Sorter};
use crate::batch::store::{put_text, take_text};
use crate::eval::Outcome;

/// The order of a policy's list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ListOrder {
    /// Largest amount first, then by key.
    #[default]
    Amount,
    /// By key.
    Key,
}

/// Which characters of a key the list hides (1-based, inclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mask {
    pub from: usize,
    pub to: usize,
}

impl Mask {
    /// `7-14`: the 7th to the 14th character.
    pub fn parse(s: &str) -> Option<Mask> {
        let (a, b) = s.split_once('-')?;
        let (from, to) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        (from >= 1 && from <= to).then_some(Mask { from, to })
    }

    pub fn apply(&self, key: &str) -> String {
        key.chars()
            .enumerate()
            .map(|(i, c)| {
                if (self.from..=self.to).contains(&(i + 1)) {
                    '*'
                } else {
                    c
                }
            })
            .collect()
    }
}

/// One firm on one policy's list.
struct Entry {
    policy: u16,
    funded: Decimal,
    /// The firm's place among the firms, which come in key order: it
    /// orders as the key does, and is cheaper to compare.
    seq: u64,
    key: String,
    name: String,
}

impl Item for Entry {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.policy.to_le_bytes());
        out.extend_from_slice(&self.funded.serialize());
        out.extend_from_slice(&self.seq.to_le_bytes());
        put_text(out, &self.key);
        put_text(out, &self.name);
    }

    fn decode(bytes: &mut &[u8]) -> Option<Self> {
        Some(Entry {
            policy: u16::from_le_bytes(take_array(bytes)?),
            funded: Decimal::deserialize(take_array(bytes)?),
            seq: u64::from_le_bytes(take_array(bytes)?),
            key: take_text(bytes)?,
            name: take_text(bytes)?,
        })
    }

    fn heap(&self) -> usize {
        self.key.capacity() + self.name.capacity()
    }
}

impl Order<Entry> for ListOrder {
    fn cmp(&self, a: &Entry, b: &Entry) -> Ordering {
        let by = match self {
            ListOrder::Amount => b.funded.cmp(&a.funded),
            ListOrder::Key => Ordering::Equal,
        };
        // the firm's place orders as its key ([`Notice::add`])
        a.policy.cmp(&b.policy).then(by).then(a.seq.cmp(&b.seq))
    }

    /// The policy, then (by amount) the amount in whole cents, largest
    /// first, then the firm's place (so unique: no full comparison). The
    /// place counts only where the cents are the amount exactly: an amount
    /// between two cents sorts before the firms of the whole cent below it,
    /// as it should.
    fn prefix(&self, e: &Entry) -> Option<u128> {
        const MAX: u64 = (1 << 48) - 1;
        let key = u128::from(e.seq);
        let (amount, key) = match self {
            ListOrder::Key => (0, key),
            ListOrder::Amount => {
                let cents = e.funded.checked_mul(Decimal::ONE_HUNDRED);
                let whole = cents.and_then(|c| c.floor().to_u64()).filter(|&c| c < MAX);
                let exact = cents.is_some_and(|c| c.fract().is_zero());
                match whole {
                    Some(c) => (MAX - c, if exact { key } else { 0 }),
                    None => (0, 0),
                }
            }
        };
        Some(u128::from(e.policy) << 112 | u128::from(amount) << 64 | key)
    }
}

/// The lists being gathered.
pub struct Notice {
    sorter: Sorter<Entry, ListOrder>,
    /// Firms listed per policy.
    pub counts: Vec<u64>,
    /// Per policy: it has no `amount` (a qualification), so its eligible
    /// firms are listed with no amount.
    qualification: Vec<bool>,
    /// Firms seen, and the last one's key.
    firms: u64,
    last: String,
}

impl Notice {
    pub fn new(qualification: Vec<bool>, order: ListOrder, limit: usize, dir: &Path) -> Notice {
        Notice {
            sorter: Sorter::new("notice", order, limit, Some(dir.to_path_buf())),
            counts: vec![0; qualification.len()],
            qualification,
            firms: 0,
            last: String::new(),
        }
    }

    /// Adds a firm's decisions; the firms come in key order (as the run
    /// wrote them), which their places in the list keep.
    pub fn add(&mut self, firm: &Firm, decisions: &[Decision]) -> std::io::Result<()> {
        if self.firms > 0 && firm.key < self.last {
            return Err(std::io::Error::other(format!(
                "企业 `{}` 排在 `{}` 之后, 未按统一社会信用代码排序 (the firms are not in key order)",
                firm.key, self.last
            )));
        }
        self.firms += 1;
        self.last.clone_from(&firm.key);
        for d in decisions {
            let funded = d.funded.unwrap_or_default();
            let qualification = self.qualification.get(d.policy).copied().unwrap_or(false);
            if d.outcome != Outcome::Eligible || (funded <= Decimal::ZERO && !qualification) {
                continue;
            }
            if let Some(c) = self.counts.get_mut(d.policy) {
                *c += 1;
            }
            self.sorter.push(Entry {
                policy: u16::try_from(d.policy).unwrap_or(u16::MAX),
                funded,
                seq: self.firms,
                key: firm.key.clone(),
                name: firm.name.clone(),
            })?;
        }
        Ok(())
    }

    /// Writes 公示名单.csv (all policies) and one sheet per policy.
    pub fn write(
        self,
        run: &Run,
        heading: &Heading,
        csv: &mut PeopleCsv,
        book: &mut Book,
    ) -> std::io::Result<()> {
        let columns: [Column<'_>; 7] = [
            col("序号"),
            col("企业名称"),
            code("统一社会信用代码"),
            col("政策名称"),
            col("发文机关"),
            col("政策依据"),
            col("兑付金额(元)"),
        ];
        let mut header = vec!["政策编号"];
        header.extend(columns.iter().map(|c| c.title));
        csv.header(&header)?;
        let policies = &run.set.program.policies;
        let mut current: Option<u16> = None;
        let mut n = 0u64;
        let mut seq = String::new();
        for e in self.sorter.finish().iter() {
            let e = e?;
            let Some(policy) = policies.get(e.policy as usize) else {
                continue;
            };
            if current != Some(e.policy) {
                current = Some(e.policy);
                n = 0;
                let rows = self.counts.get(e.policy as usize).copied().unwrap_or(0);
                let title = match policy.amount {
                    Some(_) => heading.title(&policy.title),
                    None => heading.title_without_amount(&policy.title),
                };
                book.sheet(&policy.title, &title, &columns, rows)?;
            }
            n += 1;
            let key = heading.key(&e.key);
            seq.clear();
            // writing into a String cannot fail
            let _ = write!(seq, "{n}");
            let cells = [
                Value::Text(&seq),
                Value::Text(&e.name),
                Value::Text(&key),
                Value::Text(&policy.title),
                Value::Text(policy.issuer.as_deref().unwrap_or("")),
                Value::Text(policy.basis.as_deref().unwrap_or("")),
                match policy.amount {
                    Some(_) => Value::Money(e.funded),
                    // a qualification pays nothing: no amount, not 0.00
                    None => Value::Text(""),
                },
            ];
            book.row(&cells)?;
            let [seq, name, key, title, issuer, basis, funded] = cells;
            let id = Value::Text(&policy.id);
            csv.row(&[id, seq, name, key, title, issuer, basis, funded])?;
        }
        Ok(())
    }
}

/// What heads each list: the notice period and the date, the key's mask.
pub struct Heading {
    pub date: crate::date::Date,
    pub notice_days: u32,
    pub mask: Option<Mask>,
}

impl Heading {
    pub fn title(&self, policy: &str) -> String {
        let end = self
            .date
            .add_days(i64::from(self.notice_days.saturating_sub(1)))
            .map(|d| d.to_string())
            .unwrap_or_default();
        format!(
            "{policy} 拟兑付企业名单公示（公示期{}天：{} 至 {end}；公示日期 {}）",
            self.notice_days, self.date, self.date
        )
    }

    /// The title of a list of a policy that pays nothing (入库、认定).
    pub fn title_without_amount(&self, policy: &str) -> String {
        self.title(policy).replacen(
            "拟兑付企业名单公示",
            "拟入选企业名单公示（不涉及兑付金额）",
            1,
        )
    }

    /// The key as the list shows it (not copied when nothing is hidden).
    pub fn key<'k>(&self, key: &'k str) -> std::borrow::Cow<'k, str> {
        match &self.mask {
            Some(m) => m.apply(key).into(),
            None => key.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_agrees_with_the_order() {
        let amounts = [
            "100000",
            "100000.00",
            "0.01",
            "1.005",
            "1.00",
            "1",
            "1.01",
            "0.999",
        ];
        // in key order, as the firms come
        let keys = [
            "9",
            "91420102MA4K2L3R0F",
            "91420102MA4K2L3R0G",
            "91A",
            "91B",
        ];
        let mut entries = Vec::new();
        for policy in [0u16, 1] {
            for a in amounts {
                for k in keys {
                    entries.push(Entry {
                        policy,
                        funded: a.parse().expect("an amount"),
                        seq: keys.iter().position(|x| x == &k).expect("a key") as u64 + 1,
                        key: k.into(),
                        name: String::new(),
                    });
                }
            }
        }
        for order in [ListOrder::Amount, ListOrder::Key] {
            for a in &entries {
                for b in &entries {
                    // the firm's place orders as the key would
                    let by = match order {
                        ListOrder::Amount => b.funded.cmp(&a.funded),
                        ListOrder::Key => Ordering::Equal,
                    };
                    let by_key = a.policy.cmp(&b.policy).then(by).then(a.key.cmp(&b.key));
                    assert_eq!(
                        order.cmp(a, b),
                        by_key,
                        "{} {} / {} {}",
                        a.funded,
                        a.key,
                        b.funded,
                        b.key
                    );
                    let (pa, pb) = (order.prefix(a), order.prefix(b));
                    if pa < pb {
                        assert_eq!(
                            order.cmp(a, b),
                            Ordering::Less,
                            "{} {} / {} {}",
                            a.funded,
                            a.key,
                            b.funded,
                            b.key
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn masks() {
        let m = Mask::parse("7-14").expect("a mask");
        assert_eq!(m.apply("91420102MA4K2L3R0G"), "914201********3R0G");
        assert_eq!(Mask::parse("0-3"), None);
        assert_eq!(Mask::parse("5-2"), None);
    }
}
