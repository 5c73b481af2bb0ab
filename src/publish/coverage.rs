//! 底数: per policy × region × industry section × size, the firms evaluated,
//! eligible, review and ineligible, and the money; totals per policy and
//! overall, which must equal summary.csv exactly.

use std::collections::HashMap;

use rust_decimal::Decimal;

use super::codes::{self, Region};
use super::firms::{Decision, Firm};
use super::folder::{Run, SummaryRow};
use super::table::{code, col, Book, Column, PeopleCsv, Value};
use crate::eval::Outcome;

/// Where a firm is, what it does, how large it is.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Group {
    pub region: Region,
    pub section: &'static str,
    pub size: String,
}

/// Counts and money of one policy in one group (or in all).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Figures {
    pub evaluated: u64,
    pub eligible: u64,
    pub review: u64,
    pub ineligible: u64,
    pub amount: Decimal,
    pub funded: Decimal,
}

impl Figures {
    fn add(&mut self, o: &Figures) {
        self.evaluated += o.evaluated;
        self.eligible += o.eligible;
        self.review += o.review;
        self.ineligible += o.ineligible;
        self.amount += o.amount;
        self.funded += o.funded;
    }
}

/// The figures of every group, gathered firm by firm.
pub struct Coverage {
    in_force: Vec<bool>,
    index: HashMap<Group, usize>,
    groups: Vec<Group>,
    /// Firms per group.
    firms: Vec<u64>,
    /// `[group × policies + policy]`: eligible, review and money (ineligible
    /// is what is left of the group's firms).
    cells: Vec<Figures>,
}

impl Coverage {
    pub fn new(summary: &[SummaryRow]) -> Coverage {
        Coverage {
            in_force: summary.iter().map(|s| s.in_force).collect(),
            index: HashMap::new(),
            groups: Vec::new(),
            firms: Vec::new(),
            cells: Vec::new(),
        }
    }

    pub fn add(&mut self, firm: &Firm, decisions: &[Decision]) {
        let group = Group {
            region: firm.region.clone(),
            section: firm.section,
            size: firm.size.clone(),
        };
        let n = self.in_force.len();
        let g = match self.index.get(&group) {
            Some(&g) => g,
            None => {
                let g = self.groups.len();
                self.index.insert(group.clone(), g);
                self.groups.push(group);
                self.firms.push(0);
                self.cells.resize((g + 1) * n, Figures::default());
                g
            }
        };
        if let Some(f) = self.firms.get_mut(g) {
            *f += 1;
        }
        for d in decisions {
            let Some(cell) = self.cells.get_mut(g * n + d.policy) else {
                continue;
            };
            match d.outcome {
                Outcome::Eligible => {
                    cell.eligible += 1;
                    cell.amount += d.amount.unwrap_or_default();
                    cell.funded += d.funded.unwrap_or_default();
                }
                Outcome::Review => cell.review += 1,
                Outcome::Ineligible => {}
            }
        }
    }

    /// The figures of policy `p` in group `g`.
    pub fn figures(&self, g: usize, p: usize) -> Figures {
        if !self.in_force.get(p).copied().unwrap_or(false) {
            return Figures::default();
        }
        let mut f = self
            .cells
            .get(g * self.in_force.len() + p)
            .cloned()
            .unwrap_or_default();
        f.evaluated = self.firms.get(g).copied().unwrap_or(0);
        f.ineligible = f.evaluated.saturating_sub(f.eligible + f.review);
        f
    }

    /// Policy `p` over all groups.
    pub fn total(&self, p: usize) -> Figures {
        let mut t = Figures::default();
        for g in 0..self.groups.len() {
            t.add(&self.figures(g, p));
        }
        t
    }

    /// Policy `p`'s figures by what `by` makes of a group, largest funded first.
    pub fn by(&self, p: usize, by: impl Fn(&Group) -> String) -> Vec<(String, Figures)> {
        let mut out: HashMap<String, Figures> = HashMap::new();
        for (g, group) in self.groups.iter().enumerate() {
            out.entry(by(group)).or_default().add(&self.figures(g, p));
        }
        let mut out: Vec<(String, Figures)> = out.into_iter().collect();
        out.sort_by(|a, b| b.1.funded.cmp(&a.1.funded).then(a.0.cmp(&b.0)));
        out
    }

    /// Where a policy's figures differ from summary.csv.
    pub fn differences(&self, summary: &[SummaryRow]) -> Vec<String> {
        let mut out = Vec::new();
        for (p, s) in summary.iter().enumerate() {
            let t = self.total(p);
            let pairs = [
                ("evaluated", t.evaluated, s.evaluated),
                ("eligible", t.eligible, s.eligible),
                ("review", t.review, s.review),
                ("ineligible", t.ineligible, s.ineligible),
            ];
            for (what, ours, theirs) in pairs {
                if ours != theirs {
                    out.push(format!(
                        "policy `{}`: {what} is {theirs} in summary.csv and {ours} in decisions.csv and the data",
                        s.id
                    ));
                }
            }
            for (what, ours, theirs) in [
                ("amount", t.amount, s.amount),
                ("funded", t.funded, s.funded),
            ] {
                if ours != theirs.unwrap_or_default() {
                    out.push(format!(
                        "policy `{}`: {what} is {} in summary.csv and {ours} in decisions.csv",
                        s.id,
                        theirs.unwrap_or_default()
                    ));
                }
            }
        }
        out
    }

    /// The groups in code order, with their indexes.
    fn ordered(&self) -> Vec<(usize, &Group)> {
        let mut v: Vec<(usize, &Group)> = self.groups.iter().enumerate().collect();
        v.sort_by(|a, b| a.1.cmp(b.1));
        v
    }

    /// Writes 底数.csv, or the 底数 sheet, or both (the sheet is written
    /// first, so that its workbook can be saved while the CSV is written).
    pub fn write(
        &self,
        run: &Run,
        mut csv: Option<&mut PeopleCsv>,
        mut book: Option<&mut Book>,
    ) -> std::io::Result<()> {
        let columns: [Column<'_>; 17] = [
            col("政策编号"),
            col("政策名称"),
            code("省级代码"),
            col("省份"),
            code("市级代码"),
            col("城市"),
            code("区县代码"),
            col("区县"),
            code("行业门类"),
            col("行业门类名称"),
            col("企业规模"),
            col("评估企业数"),
            col("符合"),
            col("待核实"),
            col("不符合"),
            col("核定金额(元)"),
            col("兑付金额(元)"),
        ];
        let in_force = run.summary.iter().filter(|s| s.in_force).count() as u64;
        let rows = in_force * (self.groups.len() as u64 + 1) + 1;
        if let Some(csv) = csv.as_deref_mut() {
            csv.header(&columns.map(|c| c.title))?;
        }
        if let Some(book) = book.as_deref_mut() {
            book.sheet(
                "底数",
                &format!(
                    "底数：各政策按区划、行业门类、企业规模的评估与兑付情况（数据基准日 {}）",
                    run.as_of
                ),
                &columns,
                rows,
            )?;
        }
        let ordered = self.ordered();
        let mut all = Figures::default();
        for (p, s) in run.summary.iter().enumerate() {
            if !s.in_force {
                continue;
            }
            for (g, group) in &ordered {
                let f = self.figures(*g, p);
                let r = &group.region;
                let (province, city) = (r.province(), r.city());
                let cells = [
                    Value::Text(&s.id),
                    Value::Text(&s.title),
                    Value::Text(&province),
                    Value::Text(r.province_name()),
                    Value::Text(&city),
                    Value::Text(r.city_name()),
                    Value::Text(&r.district),
                    Value::Text(r.district_name()),
                    Value::Text(group.section),
                    Value::Text(codes::section_name(group.section)),
                    Value::Text(&group.size),
                ];
                row(csv.as_deref_mut(), book.as_deref_mut(), &cells, &f)?;
            }
            let t = self.total(p);
            all.add(&t);
            let cells = [
                Value::Text(&s.id),
                Value::Text(&s.title),
                Value::Text("合计"),
                Value::Text(""),
                Value::Text(""),
                Value::Text(""),
                Value::Text(""),
                Value::Text(""),
                Value::Text(""),
                Value::Text(""),
                Value::Text(""),
            ];
            row(csv.as_deref_mut(), book.as_deref_mut(), &cells, &t)?;
        }
        let mut cells: Vec<Value<'_>> = vec![Value::Text("全部政策合计")];
        cells.extend((0..10).map(|_| Value::Text("")));
        row(csv, book, &cells, &all)
    }
}

fn row(
    csv: Option<&mut PeopleCsv>,
    book: Option<&mut Book>,
    cells: &[Value<'_>],
    f: &Figures,
) -> std::io::Result<()> {
    let mut all: Vec<Value<'_>> = cells
        .iter()
        .map(|c| match c {
            Value::Text(t) => Value::Text(t),
            Value::Money(m) => Value::Money(*m),
            Value::Count(n) => Value::Count(*n),
        })
        .collect();
    all.extend([
        Value::Count(f.evaluated),
        Value::Count(f.eligible),
        Value::Count(f.review),
        Value::Count(f.ineligible),
        Value::Money(f.amount),
        Value::Money(f.funded),
    ]);
    if let Some(csv) = csv {
        csv.row(&all)?;
    }
    match book {
        Some(book) => book.row(&all),
        None => Ok(()),
    }
}
