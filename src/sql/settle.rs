//! Settlement in SQL (LANGUAGE.md section 7), as `UPDATE`s of `ms_pair` in
//! the contract's order: exclusive groups, combined caps, limits, budgets;
//! then the two result tables as `COPY … TO STDOUT` in CSV.

use super::expr::text;
use super::policy::cents;
use crate::ops::Direction;
use crate::program::{Allocation, Program};

/// Turns the selected pairs `p` ineligible with `reasons` (SQL `text[]`).
fn ineligible(reasons: &str) -> String {
    format!(
        "outcome = 'ineligible', amount = NULL, funded = NULL, reasons = {reasons}, limit_n = NULL, limit_d = NULL, alloc_n = NULL, alloc_d = NULL"
    )
}

fn ids(program: &Program, policies: &[usize]) -> Vec<String> {
    policies
        .iter()
        .filter_map(|&p| program.policies.get(p))
        .map(|p| text(&p.id))
        .collect()
}

/// `CASE policy WHEN 'a' THEN 0 … END`: the place in a group's list.
fn listed(ids: &[String]) -> String {
    let arms: Vec<String> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| format!("WHEN {id} THEN {i}"))
        .collect();
    format!("CASE policy {} END", arms.join(" "))
}

pub fn exclusive(program: &Program, all: bool) -> String {
    let mut out = String::new();
    for group in &program.exclusives {
        let ids = ids(program, &group.policies);
        // without --all the engine attaches no reason (the row is not listed)
        let reasons = if all {
            format!("ARRAY[{}]::text[]", text(&group.label))
        } else {
            "'{}'::text[]".into()
        };
        out += &format!(
            "-- exclusive {label}: keep the highest amount, a tie to the policy listed first\n\
             UPDATE ms_pair p SET {set}\n\
             FROM (SELECT key, policy, row_number() OVER (PARTITION BY key ORDER BY coalesce(amount, 0) DESC, {listed}) AS r\n\
             \x20     FROM ms_pair WHERE outcome = 'eligible' AND policy IN ({ids})) g\n\
             WHERE p.key = g.key AND p.policy = g.policy AND g.r > 1;\n",
            label = group.label.replace('\n', " "),
            set = ineligible(&reasons),
            listed = listed(&ids),
            ids = ids.join(", "),
        );
    }
    out
}

pub fn combined(program: &Program, key: &str) -> String {
    let mut out = String::new();
    for (g, group) in program.combined.iter().enumerate() {
        let ids = ids(program, &group.policies);
        let label = text(&group.label);
        out += &format!(
            "-- combined {l}: a cap that cannot be computed makes the firm's eligible decisions review\n\
             UPDATE ms_pair p SET outcome = 'review', amount = NULL, funded = NULL, reasons = ARRAY[{label}]::text[] || f.ms_cap_{g}_reasons,\n\
             \x20 limit_n = NULL, limit_d = NULL, alloc_n = NULL, alloc_d = NULL\n\
             FROM ms_firm f WHERE p.key = f.{key} AND p.outcome = 'eligible' AND p.policy IN ({ids}) AND f.ms_cap_{g}_v IS NULL;\n\
             UPDATE ms_pair p SET\n\
             \x20 amount = CASE WHEN c.prior + c.amount <= c.cap THEN p.amount WHEN c.cap > c.prior THEN c.cap - c.prior END,\n\
             \x20 reasons = CASE WHEN c.prior + c.amount <= c.cap THEN p.reasons WHEN c.cap > c.prior THEN p.reasons || ARRAY[{label}]::text[] ELSE ARRAY[{label}]::text[] END,\n\
             \x20 outcome = CASE WHEN c.prior + c.amount <= c.cap OR c.cap > c.prior THEN 'eligible' ELSE 'ineligible' END,\n\
             \x20 limit_n = CASE WHEN c.prior + c.amount <= c.cap OR c.cap > c.prior THEN p.limit_n END,\n\
             \x20 limit_d = CASE WHEN c.prior + c.amount <= c.cap OR c.cap > c.prior THEN p.limit_d END,\n\
             \x20 alloc_n = CASE WHEN c.prior + c.amount <= c.cap OR c.cap > c.prior THEN p.alloc_n END,\n\
             \x20 alloc_d = CASE WHEN c.prior + c.amount <= c.cap OR c.cap > c.prior THEN p.alloc_d END\n\
             FROM (SELECT e.key, e.policy, coalesce(e.amount, 0) AS amount, GREATEST(round(f.ms_cap_{g}_v, 2), 0) AS cap,\n\
             \x20       coalesce(sum(coalesce(e.amount, 0)) OVER (PARTITION BY e.key ORDER BY {listed} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS prior\n\
             \x20     FROM ms_pair e JOIN ms_firm f ON f.{key} = e.key\n\
             \x20     WHERE e.outcome = 'eligible' AND e.policy IN ({ids})) c\n\
             WHERE p.key = c.key AND p.policy = c.policy AND c.prior + c.amount > c.cap;\n",
            l = group.label.replace('\n', " "),
            ids = ids.join(", "),
            listed = listed(&ids).replace("policy", "e.policy"),
        );
    }
    out
}

fn order(column: &str, dir: Direction) -> String {
    let d = match dir {
        Direction::Asc => "ASC",
        Direction::Desc => "DESC",
    };
    format!("{column}_n {d} NULLS LAST, {column}_d {d} NULLS LAST, key COLLATE \"C\"")
}

pub fn limits(program: &Program) -> String {
    let mut out = String::new();
    for p in &program.policies {
        let Some(l) = &p.limit else { continue };
        out += &format!(
            "-- limit {n} of {id}: ordered by value, ties by key, missing last\n\
             UPDATE ms_pair p SET {set}\n\
             FROM (SELECT key, row_number() OVER (ORDER BY {order}) AS r FROM ms_pair WHERE policy = {pid} AND outcome = 'eligible') l\n\
             WHERE p.policy = {pid} AND p.key = l.key AND l.r > {n};\n",
            n = l.n,
            id = p.id,
            pid = text(&p.id),
            set = ineligible("ARRAY['limit']::text[]"),
            order = order("limit", l.dir),
        );
    }
    out
}

pub fn budgets(program: &Program) -> String {
    let mut out = String::from(
        "-- funded: the amount, unless a budget is shared below\n\
         UPDATE ms_pair SET funded = amount WHERE outcome = 'eligible';\n",
    );
    for p in &program.policies {
        let (Some(budget), Some(alloc)) = (&p.budget, &p.allocate) else {
            continue;
        };
        let pid = text(&p.id);
        let b = cents(budget);
        match alloc {
            Allocation::ProRata => {
                out += &format!(
                    "-- budget of {id}, pro rata: shares cut down to the cent, the cents left to the largest remainders (ties by key)\n\
                     UPDATE ms_pair p SET funded = (r.share + CASE WHEN r.rank <= r.left THEN 1 ELSE 0 END) * 0.01\n\
                     FROM (SELECT s.key, s.share, row_number() OVER (ORDER BY s.rem DESC, s.key COLLATE \"C\") AS rank,\n\
                     \x20       {b} - sum(s.share) OVER () AS left\n\
                     \x20     FROM (SELECT e.key, div(e.c * {b}, e.total) AS share, mod(e.c * {b}, e.total) AS rem\n\
                     \x20           FROM (SELECT key, amount * 100 AS c, sum(amount * 100) OVER () AS total\n\
                     \x20                 FROM ms_pair WHERE policy = {pid} AND outcome = 'eligible') e\n\
                     \x20           WHERE e.total > {b}) s) r\n\
                     WHERE p.policy = {pid} AND p.key = r.key;\n",
                    id = p.id,
                );
            }
            Allocation::By(_, dir) => {
                out += &format!(
                    "-- budget of {id}, by order: paid in full while it lasts, the first that does not fit gets what is left\n\
                     UPDATE ms_pair p SET funded = CASE WHEN o.prior + o.amount <= {budget} THEN o.amount ELSE GREATEST({budget} - o.prior, 0) END\n\
                     FROM (SELECT key, amount, coalesce(sum(amount) OVER (ORDER BY {order} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS prior,\n\
                     \x20       sum(amount) OVER () AS total\n\
                     \x20     FROM ms_pair WHERE policy = {pid} AND outcome = 'eligible') o\n\
                     WHERE p.policy = {pid} AND p.key = o.key AND o.total > {budget};\n",
                    id = p.id,
                    budget = super::expr::number(budget),
                    order = order("alloc", *dir),
                );
            }
        }
    }
    out
}

/// decisions.csv, as `COPY … TO STDOUT` in CSV.
pub fn decisions(all: bool) -> String {
    let filter = if all {
        ""
    } else {
        " WHERE outcome <> 'ineligible'"
    };
    format!(
        "COPY (SELECT key, policy, outcome, round(amount, 2)::text AS amount, round(funded, 2)::text AS funded,\n\
         \x20            NULLIF(array_to_string(reasons, '; '), '') AS reasons\n\
         \x20     FROM ms_pair{filter} ORDER BY key COLLATE \"C\", policy COLLATE \"C\") TO STDOUT WITH (FORMAT csv, HEADER);\n"
    )
}

/// summary.csv, as `COPY … TO STDOUT` in CSV.
pub fn summary(program: &Program, as_of: &str) -> String {
    let mut rows = Vec::new();
    for (i, p) in program.policies.iter().enumerate() {
        let in_force = match p.valid {
            None => "TRUE".to_string(),
            Some((from, to)) => format!("{as_of} BETWEEN DATE '{from}' AND DATE '{to}'"),
        };
        let budget = p
            .budget
            .map_or("NULL::numeric".into(), |b| super::expr::number(&b));
        rows.push(format!(
            "({i}, {}, {}, {in_force}, {}, {budget})",
            text(&p.id),
            text(&p.title),
            p.amount.is_some()
        ));
    }
    format!(
        "COPY (SELECT s.id AS policy, s.title, CASE WHEN s.in_force THEN 'true' ELSE 'false' END AS in_force,\n\
         \x20            CASE WHEN s.in_force THEN (SELECT count(*) FROM ms_firm) ELSE 0 END AS evaluated,\n\
         \x20            coalesce(t.eligible, 0) AS eligible,\n\
         \x20            CASE WHEN s.in_force THEN (SELECT count(*) FROM ms_firm) ELSE 0 END - coalesce(t.eligible, 0) - coalesce(t.review, 0) AS ineligible,\n\
         \x20            coalesce(t.review, 0) AS review,\n\
         \x20            CASE WHEN s.in_force AND s.has_amount THEN round(coalesce(t.amount, 0), 2)::text END AS amount,\n\
         \x20            CASE WHEN s.in_force AND s.has_amount THEN round(coalesce(t.funded, 0), 2)::text END AS funded,\n\
         \x20            round(s.budget, 2)::text AS budget\n\
         \x20     FROM (VALUES {rows}) AS s(pos, id, title, in_force, has_amount, budget)\n\
         \x20     LEFT JOIN (SELECT policy, count(*) FILTER (WHERE outcome = 'eligible') AS eligible,\n\
         \x20                       count(*) FILTER (WHERE outcome = 'review') AS review,\n\
         \x20                       sum(amount) FILTER (WHERE outcome = 'eligible') AS amount,\n\
         \x20                       sum(funded) FILTER (WHERE outcome = 'eligible') AS funded\n\
         \x20                FROM ms_pair GROUP BY policy) t ON t.policy = s.id\n\
         \x20     ORDER BY s.pos) TO STDOUT WITH (FORMAT csv, HEADER);\n",
        rows = rows.join(",\n         "),
    )
}
