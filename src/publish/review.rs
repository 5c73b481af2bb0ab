//! 待核实清单: the review decisions, grouped by the department (`source:`)
//! of each missing field, so that each department receives its own work
//! list; fields without a source, and reviews not caused by a missing field
//! (a division by zero, an overflow), go to a list of their own.

use std::cmp::Ordering;
use std::path::Path;

use super::firms::{Decision, Firm};
use super::folder::Run;
use super::table::{code, col, Book, Column, PeopleCsv, Value};
use crate::batch::sort::{take_array, Item, Order, Sorter};
use crate::batch::store::{put_text, take_text};
use crate::eval::Outcome;
use crate::schema::Schema;

/// The list of fields without a department.
pub const NO_SOURCE: &str = "未注明数据来源";

/// The fields a review decision lacks, by name (decisions.csv's
/// `missing: a, b`), and its other reasons.
pub fn missing(reasons: &str) -> (Vec<&str>, Vec<&str>) {
    let mut fields = Vec::new();
    let mut other = Vec::new();
    for part in reasons.split("; ") {
        match part.strip_prefix("missing: ") {
            Some(list) => fields.extend(list.split(", ").filter(|f| !f.is_empty())),
            None if !part.is_empty() => other.push(part),
            None => {}
        }
    }
    (fields, other)
}

/// One firm's review of one policy, for one department.
struct Entry {
    department: u16,
    key: String,
    policy: u16,
    name: String,
    titles: String,
    fields: String,
    clauses: String,
}

impl Item for Entry {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.department.to_le_bytes());
        out.extend_from_slice(&self.policy.to_le_bytes());
        for t in [
            &self.key,
            &self.name,
            &self.titles,
            &self.fields,
            &self.clauses,
        ] {
            put_text(out, t);
        }
    }

    fn decode(bytes: &mut &[u8]) -> Option<Self> {
        Some(Entry {
            department: u16::from_le_bytes(take_array(bytes)?),
            policy: u16::from_le_bytes(take_array(bytes)?),
            key: take_text(bytes)?,
            name: take_text(bytes)?,
            titles: take_text(bytes)?,
            fields: take_text(bytes)?,
            clauses: take_text(bytes)?,
        })
    }

    fn heap(&self) -> usize {
        self.key.len()
            + self.name.len()
            + self.titles.len()
            + self.fields.len()
            + self.clauses.len()
    }
}

struct ByDepartment;

impl Order<Entry> for ByDepartment {
    fn cmp(&self, a: &Entry, b: &Entry) -> Ordering {
        (a.department, &a.key, a.policy).cmp(&(b.department, &b.key, b.policy))
    }
}

/// The work lists being gathered.
pub struct Review {
    sorter: Sorter<Entry, ByDepartment>,
    /// The departments of the schema, in order of first mention, then
    /// [`NO_SOURCE`].
    departments: Vec<String>,
    counts: Vec<u64>,
}

impl Review {
    pub fn new(schema: &Schema, limit: usize, dir: &Path) -> Review {
        let mut departments: Vec<String> = Vec::new();
        for f in &schema.fields {
            if let Some(s) = &f.source {
                if !departments.contains(s) {
                    departments.push(s.clone());
                }
            }
        }
        departments.push(NO_SOURCE.into());
        Review {
            sorter: Sorter::new("review", ByDepartment, limit, Some(dir.to_path_buf())),
            counts: vec![0; departments.len()],
            departments,
        }
    }

    pub fn add(
        &mut self,
        schema: &Schema,
        firm: &Firm,
        decisions: &[Decision],
    ) -> std::io::Result<()> {
        for d in decisions.iter().filter(|d| d.outcome == Outcome::Review) {
            let (fields, clauses) = missing(&d.reasons);
            let clauses = clauses.join("；");
            // the fields by department, in the order the decision names them
            let mut by: Vec<(usize, Vec<&str>, Vec<String>)> = Vec::new();
            let no_source = self.departments.len() - 1;
            for f in &fields {
                let field = schema.lookup(f).and_then(|i| schema.fields.get(i));
                let dep = field
                    .and_then(|fd| fd.source.as_ref())
                    .and_then(|s| self.departments.iter().position(|d| d == s))
                    .unwrap_or(no_source);
                let title = field
                    .and_then(|fd| fd.title.clone())
                    .unwrap_or_else(|| f.to_string());
                match by.iter_mut().find(|(d, _, _)| *d == dep) {
                    Some((_, names, titles)) => {
                        names.push(f);
                        titles.push(title);
                    }
                    None => by.push((dep, vec![f], vec![title])),
                }
            }
            if by.is_empty() {
                by.push((no_source, Vec::new(), Vec::new()));
            }
            for (dep, names, titles) in by {
                if let Some(c) = self.counts.get_mut(dep) {
                    *c += 1;
                }
                self.sorter.push(Entry {
                    department: u16::try_from(dep).unwrap_or(u16::MAX),
                    key: firm.key.clone(),
                    policy: u16::try_from(d.policy).unwrap_or(u16::MAX),
                    name: firm.name.clone(),
                    titles: titles.join("、"),
                    fields: names.join(", "),
                    clauses: clauses.clone(),
                })?;
            }
        }
        Ok(())
    }

    /// Writes 待核实清单.csv and one sheet per department with work.
    pub fn write(self, run: &Run, csv: &mut PeopleCsv, book: &mut Book) -> std::io::Result<()> {
        let columns: [Column<'_>; 8] = [
            col("序号"),
            col("企业名称"),
            code("统一社会信用代码"),
            col("政策名称"),
            col("待核实数据项"),
            col("字段名"),
            col("待核实条款"),
            col("政策编号"),
        ];
        let mut header = vec!["核实部门"];
        header.extend(columns.iter().map(|c| c.title));
        csv.header(&header)?;
        let policies = &run.set.program.policies;
        let mut current = None;
        let mut n = 0u64;
        for e in self.sorter.finish().iter() {
            let e = e?;
            let department = self
                .departments
                .get(e.department as usize)
                .map_or("", String::as_str);
            if current != Some(e.department) {
                current = Some(e.department);
                n = 0;
                let rows = self.counts.get(e.department as usize).copied().unwrap_or(0);
                let title = if department == NO_SOURCE {
                    format!("待核实清单：{NO_SOURCE}的数据项及其他待核实情形（{rows}条；数据基准日 {}）", run.as_of)
                } else {
                    format!(
                        "待核实清单：请{department}核实补充以下企业数据（{rows}条；数据基准日 {}）",
                        run.as_of
                    )
                };
                book.sheet(department, &title, &columns, rows)?;
            }
            n += 1;
            let (id, title) = policies
                .get(e.policy as usize)
                .map_or(("", ""), |p| (p.id.as_str(), p.title.as_str()));
            let seq = n.to_string();
            let cells = [
                Value::Text(&seq),
                Value::Text(&e.name),
                Value::Text(&e.key),
                Value::Text(title),
                Value::Text(&e.titles),
                Value::Text(&e.fields),
                Value::Text(&e.clauses),
                Value::Text(id),
            ];
            book.row(&cells)?;
            let mut line = vec![Value::Text(department)];
            line.extend(cells);
            csv.row(&line)?;
        }
        Ok(())
    }
}
