//! Conditions shared between policies: a batch run computes each distinct
//! condition at most once per firm, however many policies state it.
//!
//! Catalogues repeat conditions: a policy's yearly versions, district
//! copies, the tiers of one programme (首次/重新认定) state the same
//! `require`s with other amounts. A condition reads only the firm (its
//! cells and prior payments), the run date, the set's defines and its
//! policy's lets, all fixed for a firm, so its value (missing values with
//! their causes included) is the same in every policy that states it.
//!
//! [`share`] gives a copy of the program in which every `let` and every
//! condition stated by more than one policy is a hidden define, appended
//! after the set's own: computed when first read and kept for the firm, as
//! defines are. The policies still evaluate their conditions one by one in
//! their order and stop where they did, so outcomes, amounts and reasons do
//! not change; only a value some other policy already computed is read
//! instead of computed again. The copy serves evaluation only: explain,
//! lint and the exports read the program as written.

use std::collections::HashMap;

use crate::ops::CmpOp;
use crate::program::{Allocation, Const, Define, Ir, Policy, Program};

/// The program with its lets and repeated conditions as hidden defines, or
/// `None` when it has neither (evaluating it as written is then as fast).
pub fn share(program: &Program) -> Option<Program> {
    let mut out = program.clone();
    let mut hidden = Hidden {
        defines: std::mem::take(&mut out.defines),
        keys: HashMap::new(),
    };
    let own = hidden.defines.len();
    let mut changed = false;
    for policy in &mut out.policies {
        changed |= lets_to_defines(policy, &mut hidden);
    }
    // the conditions stated more than once, by their form
    let mut count: HashMap<String, usize> = HashMap::new();
    let clauses = || out.policies.iter().flat_map(|p| &p.clauses);
    for c in clauses().filter(|c| worth_sharing(&c.expr)) {
        *count.entry(key(&c.expr)).or_default() += 1;
    }
    for clause in out.policies.iter_mut().flat_map(|p| &mut p.clauses) {
        if !worth_sharing(&clause.expr) || count.get(&key(&clause.expr)) < Some(&2) {
            continue;
        }
        if let Some(slot) = hidden.slot(clause.expr.clone()) {
            clause.expr = Ir::Define(slot);
            changed = true;
        }
    }
    changed |= group_same_conditions(&mut out.policies);
    out.defines = hidden.defines;
    changed |= text_equalities(&mut out);
    (changed || out.defines.len() > own).then_some(out)
}

/// Writes every `field == "text"` (and `!=`) of the copy as the leaf
/// [`Ir::EqFieldText`], which [`crate::eval::expr::Env::eval`] takes
/// itself, instead of the general comparison, which goes through
/// `Env::eval_node` only to call the same `eq_field_text` (a table of
/// `when industry == "A" then …` arms is six or seven of them a firm);
/// true when there was one. The program as written keeps the general form
/// (the checker's, which explain and the exports show).
fn text_equalities(program: &mut Program) -> bool {
    let mut exprs: Vec<&mut Ir> = program.defines.iter_mut().map(|d| &mut d.expr).collect();
    exprs.extend(program.combined.iter_mut().map(|c| &mut c.cap));
    for p in &mut program.policies {
        let Policy {
            lets,
            clauses,
            amount,
            limit,
            allocate,
            ..
        } = p;
        exprs.extend(lets.iter_mut().map(|l| &mut l.expr));
        exprs.extend(read_lets(clauses, amount, limit, allocate));
    }
    exprs
        .into_iter()
        .fold(false, |changed, e| text_equality(e) | changed)
}

/// [`text_equalities`] of one expression.
fn text_equality(expr: &mut Ir) -> bool {
    if let Ir::Cmp(op @ (CmpOp::Eq | CmpOp::Ne), a, b) = expr {
        if let (Ir::Field(field), Ir::Const(Const::Text(value))) = (&**a, &**b) {
            *expr = Ir::EqFieldText {
                negated: *op == CmpOp::Ne,
                field: *field,
                value: value.clone(),
            };
            return true;
        }
    }
    expr.children_mut()
        .into_iter()
        .fold(false, |changed, e| text_equality(e) | changed)
}

/// Gives the policies that state the same conditions in the same order
/// (after the repeated ones became hidden defines) a slot of their own, in
/// which the first of them evaluated for a firm keeps what its clauses gave
/// for the others ([`Policy::same_conditions`]); true when some did. A
/// policy that still has lets of its own (whose reads look alike in every
/// policy) takes no part.
fn group_same_conditions(policies: &mut [Policy]) -> bool {
    let form = |p: &Policy| {
        (p.lets.is_empty() && !p.clauses.is_empty()).then(|| {
            let clauses: Vec<_> = p.clauses.iter().map(|c| (c.kind, &c.expr)).collect();
            format!("{clauses:?}")
        })
    };
    let mut count: HashMap<String, usize> = HashMap::new();
    for k in policies.iter().filter_map(form) {
        *count.entry(k).or_default() += 1;
    }
    let mut slots: HashMap<String, u16> = HashMap::new();
    for p in policies.iter_mut() {
        let Some(k) = form(p).filter(|k| count.get(k) >= Some(&2)) else {
            continue;
        };
        let next = slots.len();
        let slot = match slots.get(&k) {
            Some(&s) => s,
            None => match u16::try_from(next) {
                Ok(s) => *slots.entry(k).or_insert(s),
                Err(_) => continue,
            },
        };
        p.same_conditions = Some(slot);
    }
    !slots.is_empty()
}

/// The set's defines followed by the hidden ones, each hidden one once.
struct Hidden {
    defines: Vec<Define>,
    /// A hidden define's expression, by its form ([`key`]).
    keys: HashMap<String, u16>,
}

impl Hidden {
    /// The slot of a hidden define of `expr` (the same for the same form).
    fn slot(&mut self, expr: Ir) -> Option<u16> {
        let k = key(&expr);
        if let Some(&slot) = self.keys.get(&k) {
            return Some(slot);
        }
        let slot = u16::try_from(self.defines.len()).ok()?;
        self.defines.push(Define {
            name: format!("(shared {slot})"),
            expr,
        });
        self.keys.insert(k, slot);
        Some(slot)
    }
}

/// An expression's form: equal forms read the same things the same way
/// (constants keep their scale: `1.0` and `1.00` differ).
fn key(expr: &Ir) -> String {
    format!("{expr:?}")
}

/// Whether reading a kept value is cheaper than computing `expr` again: not
/// for a field, a constant, a define or a field compared with a constant.
fn worth_sharing(expr: &Ir) -> bool {
    let mut lets = false;
    expr.walk(&mut |e| lets |= matches!(e, Ir::Let(_)));
    !lets
        && !matches!(
            expr,
            Ir::Const(_)
                | Ir::Field(_)
                | Ir::Define(_)
                | Ir::AsOf
                | Ir::CmpField { .. }
                | Ir::EqFieldText { .. }
        )
}

/// Turns the policy's lets into hidden defines and its reads of them into
/// reads of those; false (the policy unchanged) when a let reads one not
/// yet defined or the slots run out.
fn lets_to_defines(policy: &mut Policy, hidden: &mut Hidden) -> bool {
    if policy.lets.is_empty() {
        return false;
    }
    let mut p = policy.clone();
    let mut slots = Vec::with_capacity(p.lets.len());
    for l in &p.lets {
        let mut expr = l.expr.clone();
        if !read_defines(&mut expr, &slots) {
            return false;
        }
        match hidden.slot(expr) {
            Some(slot) => slots.push(slot),
            None => return false,
        }
    }
    let exprs = read_lets(&mut p.clauses, &mut p.amount, &mut p.limit, &mut p.allocate);
    // every let has its slot, so every read of one is replaced
    if !exprs.into_iter().all(|e| read_defines(e, &slots)) {
        return false;
    }
    p.lets.clear();
    *policy = p;
    true
}

/// A policy's expressions that may read its lets: its clauses, amount
/// and cap, limit and allocation.
fn read_lets<'p>(
    clauses: &'p mut [crate::program::Clause],
    amount: &'p mut Option<crate::program::Amount>,
    limit: &'p mut Option<crate::program::Limit>,
    allocate: &'p mut Option<Allocation>,
) -> Vec<&'p mut Ir> {
    let mut exprs: Vec<&mut Ir> = clauses.iter_mut().map(|c| &mut c.expr).collect();
    if let Some(a) = amount {
        exprs.push(&mut a.expr);
        exprs.extend(a.cap.as_mut());
    }
    if let Some(l) = limit {
        exprs.push(&mut l.by);
    }
    if let Some(Allocation::By(by, _)) = allocate {
        exprs.push(by);
    }
    exprs
}

/// Replaces each `Let(i)` in `expr` by `Define(slots[i])`; false when some
/// `i` has no slot (then `expr` is left partly replaced).
fn read_defines(expr: &mut Ir, slots: &[u16]) -> bool {
    if let Ir::Let(i) = expr {
        return match slots.get(*i as usize) {
            Some(&slot) => {
                *expr = Ir::Define(slot);
                true
            }
            None => false,
        };
    }
    expr.children_mut()
        .into_iter()
        .all(|e| read_defines(e, slots))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{evaluate_firm, RunOptions};
    use crate::date::Date;
    use crate::eval::expr::Scratch;
    use crate::eval::{verdict, Outcome};
    use crate::record::{Cell, Record};

    /// The example set with each policy stated twice (the copy last, so
    /// the groups' indices still hold): every condition repeats.
    fn doubled(program: &Program) -> Program {
        let mut p = program.clone();
        let copies: Vec<Policy> = p
            .policies
            .iter()
            .map(|q| Policy {
                id: format!("{}_v2", q.id),
                ..q.clone()
            })
            .collect();
        p.policies.extend(copies);
        p
    }

    /// Firms of the bundled example data, each row several times with its
    /// cells mixed with other rows' cells of the same column and about one
    /// in six blanked, so that conditions are missing too.
    fn firms(engine: &crate::Engine, copies: usize, seed: u64) -> Vec<Record> {
        let schema = &engine.program().schema;
        let mut reader = csv::Reader::from_path("policies/data/firms.csv").expect("the data");
        let header: Vec<String> = reader
            .headers()
            .expect("a header")
            .iter()
            .map(str::to_string)
            .collect();
        let rows: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.expect("a row").iter().map(str::to_string).collect())
            .collect();
        let mut rng = crate::test_rng::Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut out = Vec::new();
        for row in &rows {
            for _ in 0..copies {
                let values: Vec<(&str, &str)> = header
                    .iter()
                    .enumerate()
                    .map(|(c, name)| {
                        let from = match rng.below(4) {
                            0 => &rows[rng.below(rows.len() as u64) as usize],
                            _ => row,
                        };
                        (name.as_str(), from.get(c).map_or("", String::as_str))
                    })
                    .collect();
                let Ok(mut firm) = engine.firm_on_row(out.len() as u64 + 2, &values) else {
                    continue;
                };
                for (i, cell) in firm.cells.iter_mut().enumerate() {
                    if i != schema.key && rng.below(6) == 0 {
                        *cell = Cell::Missing;
                    }
                }
                out.push(firm);
            }
        }
        out
    }

    /// Evaluating the shared copy gives what evaluating the program as
    /// written gives: every firm's decisions (outcomes, amounts, reasons,
    /// ordering values, exclusive and combined groups), with and without
    /// `--all`, and every verdict (failed and missing clauses, their
    /// causes counted from several bases), thorough or not.
    #[test]
    fn the_shared_copy_decides_as_the_program_does() {
        let engine = crate::Engine::load("policies").expect("the example set loads");
        let as_of = Date::parse_iso("2024-12-31").expect("a date");
        for (program, seed) in [
            (engine.program().clone(), 1),
            (doubled(engine.program()), 2),
        ] {
            let shared = share(&program).expect("the example set has lets and repeats");
            assert!(shared.defines.len() > program.defines.len());
            assert!(shared.policies.iter().all(|p| p.lets.is_empty()));
            assert!(program.policies.iter().all(|p| p.same_conditions.is_none()));
            if seed == 2 {
                // each copy states its original's conditions: they share a slot
                let n = program.policies.len() / 2;
                let (first, copies) = shared.policies.split_at(n);
                for (p, q) in first.iter().zip(copies) {
                    let expected = (!p.clauses.is_empty())
                        .then_some(p.same_conditions)
                        .flatten();
                    assert!(
                        p.clauses.is_empty() || p.same_conditions.is_some(),
                        "{}",
                        p.id
                    );
                    assert_eq!(q.same_conditions, expected, "{}", q.id);
                }
            }
            let firms = firms(&engine, 3, seed);
            assert!(firms.len() > 2000);
            decide_alike(&program, &shared, &firms, as_of, true);
        }
    }

    /// Every firm's decisions by `shared` are `program`'s, with and without
    /// `--all`, and so is every verdict (failed and missing clauses, their
    /// causes counted from several bases), thorough or not. With `review`,
    /// the firms must reach every outcome (at least 50 times each).
    fn decide_alike(
        program: &Program,
        shared: &Program,
        firms: &[Record],
        as_of: Date,
        review: bool,
    ) {
        let in_force: Vec<bool> = program.policies.iter().map(|p| p.in_force(as_of)).collect();
        for all in [false, true] {
            let opts = RunOptions {
                as_of,
                all,
                ledger: None,
                profile: None,
            };
            let (mut plain, mut fast) = (Vec::new(), Vec::new());
            let (mut s1, mut s2) = (Scratch::default(), Scratch::default());
            let mut seen = std::collections::BTreeMap::new();
            for firm in firms {
                evaluate_firm(program, &in_force, firm, &opts, &mut s1, &mut plain);
                evaluate_firm(shared, &in_force, firm, &opts, &mut s2, &mut fast);
                assert_eq!(plain, fast, "row {} all {all}", firm.row);
                for pair in &plain {
                    *seen.entry(pair.outcome).or_insert(0u32) += 1;
                }
            }
            // the firms reach every outcome
            let at_least = |o: Outcome| seen.get(&o).is_some_and(|&n| n > 50);
            assert!(at_least(Outcome::Eligible) && (!review || at_least(Outcome::Review)));
            assert!(!all || at_least(Outcome::Ineligible), "{seen:?}");
        }
        for firm in firms.iter().take(400) {
            for base in [0u16, 3, 20] {
                for thorough in [false, true] {
                    let (mut s1, mut s2) = (Scratch::default(), Scratch::default());
                    s1.firm(program);
                    s1.window(base);
                    s2.firm(shared);
                    s2.window(base);
                    for (p, q) in program.policies.iter().zip(&shared.policies) {
                        let a = verdict(program, p, &firm.cells, as_of, &mut s1, thorough);
                        let b = verdict(shared, q, &firm.cells, as_of, &mut s2, thorough);
                        assert_eq!(a, b, "row {} policy {} base {base}", firm.row, p.id);
                    }
                }
            }
        }
    }

    /// A table of `when industry == "A" then …` arms, a `!=` and an
    /// equality in a define, as the copy writes them
    /// ([`text_equalities`]): the copy decides as the program does on
    /// random firms, texts that are and are not the constants (blanks
    /// around them, another case), and cells missing.
    #[test]
    fn text_equalities_decide_as_the_general_comparison() {
        let schema = "key: id\nfields:\n  id: { type: text }\n  industry: { type: text }\n  region: { type: text }\n  headcount: { type: integer }\n  revenue: { type: money }\n  grade: { type: enum, values: [A, B, M] }\n";
        let set = r#"define local = region == "4201" or region != "4202"
policy narrow {
    title "中小企业补助"
    valid 2024-01-01 to 2024-12-31
    let sme = when industry == "A" then revenue < 2亿
              when industry == "B" then headcount < 1000 and revenue < 4亿
              when "C" == industry then headcount < 1000
              when industry != "G" and industry == "I" then headcount < 300
              else headcount < 300 and revenue < 1亿
    require "中小企业" sme
    require "本地" local
    exclude "D级" grade == "M"
    amount "1%" revenue * 1%
    cap 50万
}
"#;
        let engine = crate::Engine::from_texts(schema, &[("narrow.policy", set)]).expect("loads");
        let program = engine.program();
        let shared = share(program).expect("the set has a let and text equalities");
        let mut forms = 0;
        let mut walk = |e: &Ir| forms += usize::from(matches!(e, Ir::EqFieldText { .. }));
        for d in &shared.defines {
            d.expr.walk(&mut walk);
        }
        for c in shared.policies.iter().flat_map(|p| &p.clauses) {
            c.expr.walk(&mut walk);
        }
        // all but `"C" == industry` (the field on the right)
        assert_eq!(forms, 7);
        let texts = [
            "A", "B", "C", "G", "I", "K", "a", " A", "A ", "", "4201", "4202", "M",
        ];
        let mut rng = crate::test_rng::Rng(0x7e47_e9a1);
        let pick = |rng: &mut crate::test_rng::Rng, from: &[&'static str]| {
            *from
                .get(rng.below(from.len() as u64) as usize)
                .unwrap_or(&"")
        };
        let mut firms = Vec::new();
        for row in 0..3000u64 {
            let headcount = format!("{}", rng.below(1500));
            let revenue = format!("{}.{:02}", rng.below(900_000_000), rng.below(100));
            let values = [
                ("id", format!("N{row}")),
                ("industry", pick(&mut rng, &texts).to_string()),
                (
                    "region",
                    pick(&mut rng, &["4201", "4202", "4203", "", " 4201"]).to_string(),
                ),
                (
                    "headcount",
                    [headcount, String::new()][usize::from(rng.below(6) == 0)].clone(),
                ),
                (
                    "revenue",
                    [revenue, String::new()][usize::from(rng.below(6) == 0)].clone(),
                ),
                ("grade", pick(&mut rng, &["A", "B", "M", ""]).to_string()),
            ];
            let values: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
            if let Ok(firm) = engine.firm_on_row(row + 2, &values) {
                firms.push(firm);
            }
        }
        assert!(firms.len() > 2500);
        let as_of = Date::parse_iso("2024-12-31").expect("a date");
        decide_alike(program, &shared, &firms, as_of, true);
    }

    /// Forms keep a constant's scale and a text's exact bytes: `1.0` and
    /// `1.00` (whose products differ in scale) are two conditions.
    #[test]
    fn forms_tell_scales_and_texts_apart() {
        use rust_decimal::Decimal;
        let num = |m, s| Ir::Const(crate::program::Const::Num(Decimal::new(m, s)));
        assert_ne!(key(&num(10, 1)), key(&num(100, 2)));
        assert_eq!(key(&num(10, 1)), key(&num(10, 1)));
        let text = |t: &str| Ir::Const(crate::program::Const::Text(t.into()));
        assert_ne!(key(&text("A")), key(&text("A ")));
    }

    /// A condition is shared only when stated twice, and a let keeps its
    /// policy's reads of it: each read becomes the hidden define's.
    #[test]
    fn repeated_conditions_and_lets_become_hidden_defines() {
        let engine = crate::Engine::from_texts(
            "key: id\nfields:\n  id: { type: text }\n  n: { type: integer }\n  m: { type: integer }\n",
            &[(
                "a.policy",
                "policy a {\n  title \"a\"\n  let k = n * 2\n  require \"r\" n + m > 3\n  require \"s\" n > 1\n  amount k\n}\n\
                 policy b {\n  title \"b\"\n  let j = n * 2\n  require \"r\" n + m > 3\n  require \"t\" m - n > 1\n  amount j + 1\n}\n",
            )],
        )
        .expect("the set checks");
        let program = engine.program();
        let shared = share(program).expect("something to share");
        // `n * 2` once for both lets, `n + m > 3` once for both policies
        assert_eq!(shared.defines.len(), program.defines.len() + 2);
        let exprs: Vec<String> = shared
            .policies
            .iter()
            .flat_map(|p| &p.clauses)
            .map(|c| format!("{:?}", c.expr))
            .collect();
        assert!(exprs[0].starts_with("Define("), "{exprs:?}");
        assert_eq!(exprs[0], exprs[2]);
        assert!(exprs[1].starts_with("CmpField"), "{exprs:?}");
        assert!(exprs[3].starts_with("Cmp("), "{exprs:?}");
        let amounts: Vec<String> = shared
            .policies
            .iter()
            .filter_map(|p| p.amount.as_ref())
            .map(|a| format!("{:?}", a.expr))
            .collect();
        assert!(!amounts.iter().any(|a| a.contains("Let(")), "{amounts:?}");
    }
}
