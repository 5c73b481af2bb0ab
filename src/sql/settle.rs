//! Settlement in SQL (LANGUAGE.md section 7), as `UPDATE`s of `ms_pair` in
//! the contract's order: exclusive groups, combined caps, limits, budgets;
//! then the two result tables as `COPY … TO STDOUT` in CSV. In Spark
//! (`spark`), each step is a new table of the pairs instead of an
//! `UPDATE`, and the results are `SELECT`s of CSV lines.

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

// ---- Spark: no `UPDATE`; each settlement step is a new table of the
// pairs (`ms_pair_1`, `ms_pair_2`, …) computed from the last with window
// functions, in the same order and with the same rules as above.

/// The columns of the pairs' tables in Spark.
const SPARK_COLUMNS: [&str; 9] = [
    "key", "policy", "pos", "outcome", "amount", "funded", "reasons", "limit_r", "alloc_r",
];

/// The steps of settlement so far, each a table.
struct Steps {
    out: String,
    n: usize,
}

impl Steps {
    fn last(&self) -> String {
        if self.n == 0 {
            "ms_pair".into()
        } else {
            format!("ms_pair_{}", self.n)
        }
    }

    /// A new table of the pairs: the columns of `set` computed anew over
    /// `source` (the last table as `p`, with what it adds), the others kept.
    fn step(&mut self, comment: &str, source: &str, set: &[(&str, String)]) {
        let prev = self.last();
        self.n += 1;
        let cols: Vec<String> = SPARK_COLUMNS
            .iter()
            .map(|c| match set.iter().find(|(name, _)| name == c) {
                Some((_, e)) => format!("{e} AS {c}"),
                None => format!("p.{c}"),
            })
            .collect();
        self.out += &format!(
            "-- {comment}\n\
             DROP TABLE IF EXISTS {next};\n\
             CREATE TABLE {next} USING parquet AS\n\
             SELECT {}\n\
             FROM ({}) p;\n",
            cols.join(",\n  "),
            source.replace("{prev}", &prev),
            next = self.last(),
        );
    }

    /// The pairs for which `cut` is true turned ineligible with `reasons`.
    fn cut(&mut self, comment: &str, source: &str, reasons: &str) {
        let keep = |col: &'static str, x: &str| {
            (col, format!("CASE WHEN p.ms_cut THEN {x} ELSE p.{col} END"))
        };
        let set = [
            keep("outcome", "'ineligible'"),
            keep("amount", "NULL"),
            keep("funded", "NULL"),
            keep("reasons", reasons),
            keep("limit_r", "NULL"),
            keep("alloc_r", "NULL"),
        ];
        self.step(comment, source, &set);
    }
}

fn spark_ids(program: &Program, policies: &[usize]) -> Vec<String> {
    let d = super::dialect::Dialect::Spark;
    policies
        .iter()
        .filter_map(|&p| program.policies.get(p))
        .map(|p| d.text(&p.id))
        .collect()
}

/// Settlement in Spark, and the name of the table of settled pairs.
pub fn spark(program: &Program, key: &str, all: bool) -> (String, String) {
    let d = super::dialect::Dialect::Spark;
    let mut s = Steps {
        out: String::new(),
        n: 0,
    };
    for group in &program.exclusives {
        let ids = spark_ids(program, &group.policies).join(", ");
        let reasons = if all {
            d.texts(&[d.text(&group.label)])
        } else {
            d.no_texts().into()
        };
        let within = format!("(outcome = 'eligible' AND policy IN ({ids}))");
        s.cut(
            &format!(
                "exclusive {}: keep the highest amount, a tie to the policy listed first",
                group.label.replace('\n', " ")
            ),
            &format!(
                "SELECT *, coalesce({within} AND row_number() OVER (PARTITION BY key, {within} ORDER BY coalesce(amount, 0BD) DESC, {listed}) > 1, FALSE) AS ms_cut FROM {{prev}}",
                listed = listed(&spark_ids(program, &group.policies)),
            ),
            &reasons,
        );
    }
    for (g, group) in program.combined.iter().enumerate() {
        let ids = spark_ids(program, &group.policies).join(", ");
        let label = d.texts(&[d.text(&group.label)]);
        let l = group.label.replace('\n', " ");
        let firm = format!(
            "LEFT JOIN (SELECT {key} AS ms_k, ms_cap_{g}_v AS ms_cap, ms_cap_{g}_reasons AS ms_cap_reasons FROM ms_firm) f ON f.ms_k = e.key"
        );
        let unknown = "p.ms_cut";
        s.step(
            &format!("combined {l}: a cap that cannot be computed makes the firm's eligible decisions review"),
            &format!(
                "SELECT e.*, f.ms_cap_reasons, coalesce(e.outcome = 'eligible' AND e.policy IN ({ids}) AND f.ms_cap IS NULL, FALSE) AS ms_cut FROM {{prev}} e {firm}"
            ),
            &[
                ("outcome", format!("CASE WHEN {unknown} THEN 'review' ELSE p.outcome END")),
                ("amount", format!("CASE WHEN {unknown} THEN NULL ELSE p.amount END")),
                ("funded", format!("CASE WHEN {unknown} THEN NULL ELSE p.funded END")),
                (
                    "reasons",
                    format!("CASE WHEN {unknown} THEN {label} || p.ms_cap_reasons ELSE p.reasons END"),
                ),
                ("limit_r", format!("CASE WHEN {unknown} THEN NULL ELSE p.limit_r END")),
                ("alloc_r", format!("CASE WHEN {unknown} THEN NULL ELSE p.alloc_r END")),
            ],
        );
        let within = format!("(e.outcome = 'eligible' AND e.policy IN ({ids}))");
        let over = "p.ms_over";
        let fits = "p.ms_capv > p.ms_prior";
        s.step(
            &format!("combined {l}: in the listed order, what the cap leaves"),
            &format!(
                "SELECT c.*, coalesce(c.ms_in AND c.ms_prior + coalesce(c.amount, 0BD) > c.ms_capv, FALSE) AS ms_over\n\
                 \x20     FROM (SELECT e.*, {within} AS ms_in, CAST(greatest(round(f.ms_cap, 2), 0BD) AS DECIMAL(38,2)) AS ms_capv,\n\
                 \x20             coalesce(sum(coalesce(e.amount, 0BD)) OVER (PARTITION BY e.key, {within} ORDER BY {listed} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0BD) AS ms_prior\n\
                 \x20           FROM {{prev}} e {firm}) c",
                listed = listed(&spark_ids(program, &group.policies)).replace("policy", "e.policy"),
            ),
            &[
                ("amount", format!("CASE WHEN NOT {over} THEN p.amount WHEN {fits} THEN p.ms_capv - p.ms_prior END")),
                (
                    "reasons",
                    format!("CASE WHEN NOT {over} THEN p.reasons WHEN {fits} THEN p.reasons || {label} ELSE {label} END"),
                ),
                ("outcome", format!("CASE WHEN NOT {over} THEN p.outcome WHEN {fits} THEN 'eligible' ELSE 'ineligible' END")),
                ("limit_r", format!("CASE WHEN NOT {over} OR {fits} THEN p.limit_r END")),
                ("alloc_r", format!("CASE WHEN NOT {over} OR {fits} THEN p.alloc_r END")),
            ],
        );
    }
    for p in &program.policies {
        let Some(l) = &p.limit else { continue };
        let within = format!("(policy = {} AND outcome = 'eligible')", d.text(&p.id));
        s.cut(
            &format!("limit {} of {}: ordered by value, ties by key, missing last", l.n, p.id),
            &format!(
                "SELECT *, {within} AND row_number() OVER (PARTITION BY {within} ORDER BY limit_r) > {} AS ms_cut FROM {{prev}}",
                l.n
            ),
            &d.texts(&["'limit'".to_string()]),
        );
    }
    s.step(
        "funded: the amount, unless a budget is shared below",
        "SELECT * FROM {prev}",
        &[(
            "funded",
            "CASE WHEN p.outcome = 'eligible' THEN p.amount ELSE p.funded END".into(),
        )],
    );
    for p in &program.policies {
        let (Some(budget), Some(alloc)) = (&p.budget, &p.allocate) else {
            continue;
        };
        let within = format!("(policy = {} AND outcome = 'eligible')", d.text(&p.id));
        match alloc {
            Allocation::ProRata => {
                let b = d.number(&(budget * rust_decimal::Decimal::ONE_HUNDRED));
                s.step(
                    &format!(
                        "budget of {}, pro rata: shares cut down to the cent, the cents left to the largest remainders (ties by key)",
                        p.id
                    ),
                    &format!(
                        "SELECT r.*, row_number() OVER (PARTITION BY r.ms_in ORDER BY r.ms_rem DESC, r.key) AS ms_rank,\n\
                         \x20       {b} - sum(r.ms_share) OVER (PARTITION BY r.ms_in) AS ms_left\n\
                         \x20     FROM (SELECT e.*, (e.ms_c * {b}) div e.ms_total AS ms_share, (e.ms_c * {b}) % e.ms_total AS ms_rem\n\
                         \x20           FROM (SELECT *, {within} AS ms_in, CAST(amount * 100BD AS DECIMAL(38,0)) AS ms_c,\n\
                         \x20                   sum(CAST(amount * 100BD AS DECIMAL(38,0))) OVER (PARTITION BY {within}) AS ms_total\n\
                         \x20                 FROM {{prev}}) e) r"
                    ),
                    &[(
                        "funded",
                        format!(
                            "CASE WHEN p.ms_in AND p.ms_total > {b} THEN CAST((p.ms_share + CASE WHEN p.ms_rank <= p.ms_left THEN 1 ELSE 0 END) * 0.01BD AS DECIMAL(38,2)) ELSE p.funded END"
                        ),
                    )],
                );
            }
            Allocation::By(..) => {
                let b = d.number(budget);
                s.step(
                    &format!(
                        "budget of {}, by order: paid in full while it lasts, the first that does not fit gets what is left",
                        p.id
                    ),
                    &format!(
                        "SELECT *, {within} AS ms_in,\n\
                         \x20       coalesce(sum(amount) OVER (PARTITION BY {within} ORDER BY alloc_r ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0BD) AS ms_prior,\n\
                         \x20       sum(amount) OVER (PARTITION BY {within}) AS ms_total\n\
                         \x20     FROM {{prev}}"
                    ),
                    &[(
                        "funded",
                        format!(
                            "CASE WHEN p.ms_in AND p.ms_total > {b} THEN CASE WHEN p.ms_prior + p.amount <= {b} THEN p.amount ELSE greatest({b} - p.ms_prior, 0BD) END ELSE p.funded END"
                        ),
                    )],
                );
            }
        }
    }
    let last = s.last();
    (s.out, last)
}

/// A CSV field as the engine writes it: quoted only when it holds a
/// comma, a quote or a line break, quotes doubled; `NULL` as nothing.
fn spark_csv(x: &str) -> String {
    format!(
        "coalesce(CASE WHEN {x} RLIKE '[,\"\\n\\r]' THEN '\"' || replace({x}, '\"', '\"\"') || '\"' ELSE {x} END, '')"
    )
}

/// A decimal with exactly two decimals, or nothing.
fn spark_cents(x: &str) -> String {
    format!("coalesce(CAST(CAST(round({x}, 2) AS DECIMAL(38,2)) AS STRING), '')")
}

/// decisions.csv as CSV lines: the header, then the rows by key and policy.
pub fn spark_decisions(last: &str, all: bool) -> String {
    let filter = if all {
        ""
    } else {
        " WHERE outcome <> 'ineligible'"
    };
    format!(
        "-- decisions.csv\n\
         SELECT line FROM (\n\
         \x20 SELECT 0 AS ms_o, '' AS key, '' AS policy, 'key,policy,outcome,amount,funded,reasons' AS line\n\
         \x20 UNION ALL\n\
         \x20 SELECT 1, key, policy, concat_ws(',', {}, {}, outcome, {}, {}, {})\n\
         \x20 FROM {last}{filter}) d\n\
         ORDER BY ms_o, key, policy;\n",
        spark_csv("key"),
        spark_csv("policy"),
        spark_cents("amount"),
        spark_cents("funded"),
        spark_csv("NULLIF(array_join(reasons, '; '), '')"),
    )
}

/// summary.csv as CSV lines: the header, then a line per policy.
pub fn spark_summary(program: &Program, as_of: &str, last: &str) -> String {
    let d = super::dialect::Dialect::Spark;
    let mut rows = Vec::new();
    for (i, p) in program.policies.iter().enumerate() {
        let (from, to) = match p.valid {
            None => (
                "CAST(NULL AS DATE)".to_string(),
                "CAST(NULL AS DATE)".to_string(),
            ),
            Some((from, to)) => (format!("DATE '{from}'"), format!("DATE '{to}'")),
        };
        let budget = p.budget.map_or("CAST(NULL AS DECIMAL(38,2))".into(), |b| {
            format!("CAST({} AS DECIMAL(38,2))", d.number(&b))
        });
        rows.push(format!(
            "({i}, {}, {}, {from}, {to}, {}, {budget})",
            d.text(&p.id),
            d.text(&p.title),
            p.amount.is_some()
        ));
    }
    let count = "CASE WHEN s.in_force THEN (SELECT count(*) FROM ms_firm) ELSE 0 END";
    format!(
        "-- summary.csv\n\
         SELECT line FROM (\n\
         \x20 SELECT -1 AS pos, 'policy,title,in_force,evaluated,eligible,ineligible,review,amount,funded,budget' AS line\n\
         \x20 UNION ALL\n\
         \x20 SELECT s.pos, concat_ws(',', {id}, {title}, CASE WHEN s.in_force THEN 'true' ELSE 'false' END,\n\
         \x20            CAST({count} AS STRING),\n\
         \x20            CAST(coalesce(t.eligible, 0) AS STRING),\n\
         \x20            CAST({count} - coalesce(t.eligible, 0) - coalesce(t.review, 0) AS STRING),\n\
         \x20            CAST(coalesce(t.review, 0) AS STRING),\n\
         \x20            CASE WHEN s.in_force AND s.has_amount THEN {amount} ELSE '' END,\n\
         \x20            CASE WHEN s.in_force AND s.has_amount THEN {funded} ELSE '' END,\n\
         \x20            {budget})\n\
         \x20 FROM (SELECT v.*, v.valid_from IS NULL OR {as_of} BETWEEN v.valid_from AND v.valid_to AS in_force\n\
         \x20       FROM VALUES {rows} AS v(pos, id, title, valid_from, valid_to, has_amount, budget)) s\n\
         \x20 LEFT JOIN (SELECT policy, count_if(outcome = 'eligible') AS eligible,\n\
         \x20                   count_if(outcome = 'review') AS review,\n\
         \x20                   sum(amount) FILTER (WHERE outcome = 'eligible') AS amount,\n\
         \x20                   sum(funded) FILTER (WHERE outcome = 'eligible') AS funded\n\
         \x20            FROM {last} GROUP BY policy) t ON t.policy = s.id) x\n\
         ORDER BY pos;\n",
        id = spark_csv("s.id"),
        title = spark_csv("s.title"),
        amount = spark_cents("coalesce(t.amount, 0BD)"),
        funded = spark_cents("coalesce(t.funded, 0BD)"),
        budget = spark_cents("s.budget"),
        rows = rows.join(",\n         "),
    )
}
