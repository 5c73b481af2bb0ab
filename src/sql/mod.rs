//! `mianshen sql`: a checked policy set compiled to SQL (PostgreSQL, or
//! Spark SQL with `--dialect spark`), which run against a firm table gives
//! the decisions and the summary of a run (`decisions.csv` and
//! `summary.csv`, byte for byte).
//!
//! The SQL is a script of statements in one transaction: `ms_firm` (the
//! firm table with its defines, prior payments and combined caps),
//! `ms_pair` (a row per firm and policy in force, `policy`; without `--all`
//! only the eligible and review ones), the
//! settlement `settle` as `UPDATE`s with window functions, and two
//! `COPY … TO STDOUT` of the results. Spark's script is the same compiler's
//! ([`crate::sql::dialect::Dialect`]): each step a parquet table, settlement as new
//! tables with window functions (`settle`), the results as `SELECT`s of
//! CSV lines, for the sets whose arithmetic Spark computes as the engine
//! ([`crate::sql::spark_check`]). A construct that this compiler cannot
//! express exactly is refused with a diagnostic at its line, never compiled
//! to SQL that computes something else.

pub mod database;
pub mod ddl;
pub mod dialect;
pub mod expr;
mod policy;
mod reasons;
mod settle;
pub mod spark;

use crate::date::Date;
use crate::diag::{Diagnostic, Sources, Span};
use crate::program::Program;

use self::dialect::Dialect;
use self::expr::{ident, Node, Scope, FIELD_BITS};
use self::policy::Refused;

/// What `mianshen sql` is asked for.
pub struct SqlOptions<'a> {
    /// The firm table (may be schema-qualified: `public.firms`).
    pub table: &'a str,
    /// The table of prior payments: `key, policy, amount, paid_on`.
    pub ledger_table: Option<&'a str>,
    /// The run's reference date; without it the SQL reads the setting
    /// `mianshen.as_of` (`SET mianshen.as_of = '2024-12-31'`).
    pub as_of: Option<Date>,
    /// List ineligible decisions too (as `run --all`).
    pub all: bool,
}

/// A table name as given: each dot-separated part quoted.
pub fn table_name(t: &str) -> String {
    t.split('.').map(ident).collect::<Vec<_>>().join(".")
}

/// [`table_name`] in a dialect.
pub fn table_name_in(d: Dialect, t: &str) -> String {
    t.split('.')
        .map(|p| d.ident(p))
        .collect::<Vec<_>>()
        .join(".")
}

/// The Spark SQL script for `program`, or every construct it refuses:
/// those Spark's `DECIMAL` computes otherwise ([`spark_check`]) first.
pub fn spark(
    program: &Program,
    sources: &Sources,
    opts: &SqlOptions<'_>,
) -> Result<String, Vec<Diagnostic>> {
    let diags = spark_check(program, sources);
    if !diags.is_empty() {
        return Err(diags);
    }
    compile_in(program, sources, opts, Dialect::Spark).map(|s| s.text())
}

/// The PostgreSQL script for `program`, or every construct it refuses:
/// [`Script::text`] of [`compile`].
pub fn postgres(
    program: &Program,
    sources: &Sources,
    opts: &SqlOptions<'_>,
) -> Result<String, Vec<Diagnostic>> {
    compile(program, sources, opts).map(|s| s.text())
}

/// The compiled script in its parts, as `mianshen run --postgres` sends
/// them: the statements that compute (in a transaction), then the two
/// `COPY … TO STDOUT` whose output is decisions.csv and summary.csv.
pub struct Script {
    /// Comment lines: what the script is and how to run it.
    pub head: String,
    /// Every statement before the results: the session's functions,
    /// `ms_firm`, `ms_pair`, settlement. Runs inside a transaction.
    pub body: String,
    /// `COPY (…) TO STDOUT WITH (FORMAT csv, HEADER)`: decisions.csv.
    pub decisions: String,
    /// The same for summary.csv.
    pub summary: String,
    /// The dialect it is written in.
    pub dialect: Dialect,
}

impl Script {
    /// The whole script, as `mianshen sql` prints it: `BEGIN`, the body,
    /// the two `COPY`s, `COMMIT`.
    pub fn text(&self) -> String {
        if self.dialect.is_spark() {
            // no transaction: each step is a table of its own
            return format!(
                "{}{}{}{}",
                self.head, self.body, self.decisions, self.summary
            );
        }
        format!(
            "{}BEGIN;\n{}{}{}COMMIT;\n",
            self.head, self.body, self.decisions, self.summary
        )
    }
}

/// The script for `program` in its parts, or every construct it refuses.
pub fn compile(
    program: &Program,
    sources: &Sources,
    opts: &SqlOptions<'_>,
) -> Result<Script, Vec<Diagnostic>> {
    compile_in(program, sources, opts, Dialect::Postgres)
}

/// [`compile`] in a dialect.
fn compile_in(
    program: &Program,
    sources: &Sources,
    opts: &SqlOptions<'_>,
    dialect: Dialect,
) -> Result<Script, Vec<Diagnostic>> {
    let d = dialect;
    let spark = d.is_spark();
    let text = |s: &str| d.text(s);
    let mut diags = Vec::new();
    let schema = &program.schema;
    let schema_file = Diagnostic::in_file;
    if schema.fields.len() > FIELD_BITS {
        diags.push(
            schema_file(
                Diagnostic::new(
                    "sql::schema",
                    format!(
                        "a schema of {} fields is not compiled to SQL yet: a review names the missing fields of at most {FIELD_BITS}",
                        schema.fields.len()
                    ),
                ),
                "schema.yaml",
            ),
        );
    }
    for f in &schema.fields {
        if f.name.len() > 63 {
            diags.push(schema_file(
                Diagnostic::new(
                    "sql::schema",
                    format!(
                        "field `{}` is longer than PostgreSQL's 63-byte names",
                        f.name
                    ),
                ),
                "schema.yaml",
            ));
        }
    }
    let key_field = schema.key_field();
    if !matches!(key_field.ty, crate::schema::FieldType::Text) {
        diags.push(schema_file(
            Diagnostic::new(
                "sql::schema",
                format!(
                    "the key `{}` is not a text field: only a text key is compiled to SQL (keys are ordered as text)",
                    key_field.name
                ),
            ),
            "schema.yaml",
        ));
    }
    if opts.ledger_table.is_none() {
        if let Some(u) = program.ledger_needed() {
            diags.push(
                Diagnostic::new(
                    "sql::ledger",
                    format!(
                        "{} reads prior payments ({}): give --ledger-table TABLE (key, policy, amount, paid_on)",
                        u.within, u.call
                    ),
                )
                .at_span(sources, u.span),
            );
        }
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    let key = d.ident(&key_field.name);
    let as_of = match (opts.as_of, spark) {
        (Some(d), _) => format!("DATE '{d}'"),
        (None, false) => "current_setting('mianshen.as_of')::date".into(),
        (None, true) => "DATE '${mianshen.as_of}'".into(),
    };
    let table = table_name_in(d, opts.table);

    // ---- the firm table, with prior payments, defines and combined caps
    let mut paid = Vec::new();
    let mut paid_cols = Vec::new();
    for e in program.expressions() {
        e.walk(&mut |ir| {
            if let crate::program::Ir::Paid { last, ids } = ir {
                let k = (*last, ids.clone());
                if !paid.iter().any(|(p, _)| *p == k) {
                    let col = format!("ms_paid_{}", paid.len());
                    let names: Vec<String> = ids
                        .iter()
                        .filter_map(|i| program.ledger_ids.get(*i as usize))
                        .map(|s| text(s))
                        .collect();
                    let ledger = opts
                        .ledger_table
                        .map(|l| table_name_in(d, l))
                        .unwrap_or_default();
                    let (agg, empty) = match (*last, spark) {
                        (true, _) => ("max(l.paid_on)", ""),
                        (false, false) => ("coalesce(sum(l.amount), 0)", ""),
                        // the ledger's DECIMAL(18,4) summed exactly, as
                        // spark::PAID types it (ANSI mode stops on overflow)
                        (false, true) => (
                            "CAST(coalesce(sum(l.amount), 0BD) AS DECIMAL(22,4))",
                            "",
                        ),
                    };
                    paid_cols.push(format!(
                        "(SELECT {agg}{empty} FROM {ledger} l WHERE l.key = t.{key} AND l.policy IN ({}) AND l.paid_on <= {as_of}) AS {col}",
                        names.join(", ")
                    ));
                    paid.push((k, col));
                }
            }
        });
    }
    let mut scope = Scope {
        program,
        firm: "f".into(),
        as_of: as_of.clone(),
        defines: Vec::new(),
        lets: Vec::new(),
        paid,
        steps: Vec::new(),
        prefix: "d".into(),
        dialect,
        types: spark::Types::new(program),
    };
    let mut define_cols = Vec::new();
    // within `ms_firm` a define reads the earlier ones as steps of its
    // chain; a policy reads them as columns of `ms_firm`
    let mut define_columns = Vec::new();
    for (i, d) in program.defines.iter().enumerate() {
        let t = scope.types.of(&d.expr).ok().flatten();
        scope.types.defines.push(t);
        match scope.expr(&d.expr) {
            Ok(n) => {
                define_cols.push(if spark {
                    format!(
                        "{} AS ms_def_{i}_v, CAST({} AS BIGINT) AS ms_def_{i}_w, CAST({} AS INT) AS ms_def_{i}_n",
                        n.v, n.w, n.n
                    )
                } else {
                    format!(
                        "({})::{} AS ms_def_{i}_v, ({})::bigint AS ms_def_{i}_w, ({})::integer AS ms_def_{i}_n",
                        n.v,
                        n.ty.sql(),
                        n.w,
                        n.n
                    )
                });
                define_columns.push(Node {
                    v: format!("f.ms_def_{i}_v"),
                    w: format!("f.ms_def_{i}_w"),
                    n: format!("f.ms_def_{i}_n"),
                    ty: n.ty,
                });
                scope.defines.push(n);
            }
            Err(m) => diags.push(
                Diagnostic::new("sql::unsupported", format!("define `{}`: {m}", d.name))
                    .help("`mianshen run` evaluates it; the SQL compiler does not yet"),
            ),
        }
    }
    let mut cap_cols = Vec::new();
    for (g, c) in program.combined.iter().enumerate() {
        match scope.expr(&c.cap) {
            Ok(n) => {
                let why = reasons::missing(d, schema, &n.w, &n.n);
                cap_cols.push(if spark {
                    format!(
                        "{v} AS ms_cap_{g}_v, CASE WHEN ({v}) IS NULL THEN {why} ELSE {} END AS ms_cap_{g}_reasons",
                        d.no_texts(),
                        v = n.v
                    )
                } else {
                    format!(
                        "({v})::numeric AS ms_cap_{g}_v, CASE WHEN ({v}) IS NULL THEN {why} ELSE '{{}}'::text[] END AS ms_cap_{g}_reasons",
                        v = n.v
                    )
                });
            }
            Err(m) => diags.push(
                Diagnostic::new("sql::unsupported", m)
                    .at_span(sources, c.span)
                    .label("not compiled to SQL"),
            ),
        }
    }
    let firm_steps = std::mem::take(&mut scope.steps);
    scope.defines = define_columns;

    // ---- each policy's verdicts
    let mut inserts = Vec::new();
    for (pos, p) in program.policies.iter().enumerate() {
        scope.lets.clear();
        scope.types.lets.clear();
        scope.steps.clear();
        scope.prefix = "s".into();
        match policy::verdicts(&mut scope, p, pos, &key, opts.all) {
            Ok(sql) => inserts.push(sql),
            Err(r) => diags.push(refused(sources, p, r)),
        }
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    if spark {
        return Ok(spark_script(
            program,
            opts,
            &as_of,
            &table,
            SparkParts {
                firm_steps,
                define_cols,
                cap_cols,
                paid_cols,
                inserts,
            },
        ));
    }

    let mut firm_cols = vec!["f.*".to_string()];
    firm_cols.extend(define_cols);
    firm_cols.extend(cap_cols);
    let mut raw_cols = vec!["t.*".to_string()];
    raw_cols.extend(paid_cols);
    let head = format!(
        "-- mianshen sql (PostgreSQL): decisions and summary of a run as SQL\n\
         -- policy set: {} policies; firm table {table}; as_of {}\n\
         -- run with: psql -X -q -v ON_ERROR_STOP=1 -f THIS_FILE > results.csv\n\
         -- prints decisions.csv, then summary.csv (each with its header)\n",
        program.policies.len(),
        opts.as_of
            .map_or("from the setting mianshen.as_of".to_string(), |d| d
                .to_string()),
    );
    let mut body = format!(
        "SET LOCAL client_min_messages = warning;\n\
         -- the engine's decimal arithmetic (28 digits, half to even), exactly\n\
         {}\
         CREATE TEMP TABLE ms_firm ON COMMIT DROP AS\n\
         SELECT {}\n\
         FROM (SELECT {} FROM {table} t) f\n  {};\n\
         CREATE TEMP TABLE ms_pair (key text, policy text, pos integer, outcome text, amount numeric, funded numeric,\n\
         \x20 reasons text[], limit_n numeric, limit_d date, alloc_n numeric, alloc_d date) ON COMMIT DROP;\n",
        expr::FUNCTIONS,
        firm_cols.join(",\n  "),
        raw_cols.join(",\n  "),
        firm_steps.join("\n  "),
    );
    for i in inserts {
        body += &i;
    }
    body += &settle::exclusive(program, opts.all);
    body += &settle::combined(program, &key);
    body += &settle::limits(program);
    body += &settle::budgets(program);
    Ok(Script {
        head,
        body,
        decisions: settle::decisions(opts.all),
        summary: settle::summary(program, &as_of),
        dialect,
    })
}

/// The compiled pieces a Spark script is assembled from.
struct SparkParts {
    firm_steps: Vec<String>,
    define_cols: Vec<String>,
    cap_cols: Vec<String>,
    paid_cols: Vec<String>,
    inserts: Vec<String>,
}

/// The Spark SQL script: ANSI mode, each step a table of its own (`USING
/// parquet`, in the session's current database), settlement as new tables
/// with window functions, and the two results as `SELECT`s of CSV lines.
fn spark_script(
    program: &Program,
    opts: &SqlOptions<'_>,
    as_of: &str,
    table: &str,
    parts: SparkParts,
) -> Script {
    let head = format!(
        "-- mianshen sql (Spark SQL): decisions and summary of a run as SQL\n\
         -- policy set: {} policies; firm table {table}; as_of {}\n\
         -- run with: spark-sql -S -f THIS_FILE | tail -n +3 > results.csv (the SETs' echoes dropped), or scripts/spark-run (docs/sql.md)\n\
         -- prints decisions.csv, then summary.csv (each with its header), one CSV line per row;\n\
         -- stops (raise_error) when a key is empty or on more than one row, as `run --postgres` does;\n\
         -- makes the tables ms_keys, ms_firm, ms_pair and ms_pair_1… in the current database (dropped first)\n",
        program.policies.len(),
        opts.as_of
            .map_or("from the variable mianshen.as_of".to_string(), |d| d
                .to_string()),
    );
    let mut firm_items = vec!["f.*".to_string()];
    firm_items.extend(parts.firm_steps);
    firm_items.extend(parts.define_cols);
    firm_items.extend(parts.cap_cols);
    let mut raw_items = vec!["t.*".to_string()];
    raw_items.extend(parts.paid_cols);
    let mut body = format!(
        "SET spark.sql.ansi.enabled=true;\n\
         SET spark.sql.decimalOperations.allowPrecisionLoss=false;\n\
         {}\
         DROP TABLE IF EXISTS ms_firm;\n\
         CREATE TABLE ms_firm USING parquet AS\n\
         SELECT {}\n\
         FROM (SELECT {} FROM {table} t) f;\n\
         DROP TABLE IF EXISTS ms_pair;\n\
         CREATE TABLE ms_pair (key STRING, policy STRING, pos INT, outcome STRING, amount DECIMAL(38,2), funded DECIMAL(38,2),\n\
         \x20 reasons ARRAY<STRING>, limit_r BIGINT, alloc_r BIGINT) USING parquet;\n",
        spark_key_check(program, opts.table, table),
        firm_items.join(",\n  "),
        raw_items.join(",\n  "),
    );
    for i in parts.inserts {
        body += &i;
    }
    let key = Dialect::Spark.ident(&program.schema.key_field().name);
    let (settled, last) = settle::spark(program, &key, opts.all);
    body += &settled;
    Script {
        head,
        body,
        decisions: settle::spark_decisions(&last, opts.all),
        summary: settle::spark_summary(program, as_of, &last),
        dialect: Dialect::Spark,
    }
}

/// The Spark script's first statement: the firm table's keys checked as
/// `run --postgres` checks them (docs/sql.md): every empty key (`NULL` or
/// `''`) and every key on more than one row, counted, the first five in key
/// order shown, stop the run with `raise_error` before anything is
/// computed (a firm is never evaluated or paid twice). A `CREATE TABLE … AS`
/// so that every client runs it (a `SELECT` may be left unevaluated); the
/// table `ms_keys` is empty when the keys are sound.
fn spark_key_check(program: &Program, name: &str, table: &str) -> String {
    let d = Dialect::Spark;
    let key_name = &program.schema.key_field().name;
    let k = d.ident(key_name);
    // a message with SQL values in it: its texts as literals, `concat`ed
    let message = |parts: &[&str], values: &[&str]| {
        let mut items = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            items.push(d.text(p));
            if let Some(v) = values.get(i) {
                items.push(v.to_string());
            }
        }
        format!("concat({})", items.join(", "))
    };
    let rows = "CAST(e AS STRING)";
    let empty = message(
        &[
            &format!("表 `{name}` 有 "),
            &format!(" 行的主键 `{key_name}` 为空 (NULL 或 ''): 这些企业无法识别, 运行已停止 ("),
            &format!(" rows of `{name}` have an empty key `{key_name}`: the run stops)"),
        ],
        &[rows, rows],
    );
    let keys = "CAST(n AS STRING)";
    let repeated = message(
        &[
            &format!("表 `{name}` 中有 "),
            &format!(" 个主键 `{key_name}` 出现在多行, 如 "),
            ": 同一企业不能按两行计算、兑付两次, 运行已停止; 请先在库中去重 (",
            &format!(" keys of `{name}` are on more than one row, e.g. "),
            &format!(": a firm is never evaluated or paid twice, so the run stops; remove the duplicates first; they are listed by SELECT {k}, count(*) FROM {table} GROUP BY {k} HAVING count(*) > 1)"),
        ],
        &[keys, "shown", keys, "shown"],
    );
    format!(
        "DROP TABLE IF EXISTS ms_keys;\n\
         CREATE TABLE ms_keys USING parquet AS\n\
         SELECT CAST(raise_error(concat_ws('; ', filter(array(\n\
         \x20   CASE WHEN e > 0 THEN {empty} END,\n\
         \x20   CASE WHEN n > 0 THEN {repeated} END), x -> x IS NOT NULL))) AS STRING) AS problem\n\
         FROM (SELECT count_if({k} IS NULL OR {k} = '') AS e FROM {table}) ce\n\
         CROSS JOIN (SELECT count(*) AS n, array_join(transform(slice(array_sort(collect_list(struct(k, c))), 1, 5), x -> concat('`', x.k, '` (', CAST(x.c AS STRING), ' 行 rows)')), ', ') AS shown\n\
         \x20 FROM (SELECT {k} AS k, count(*) AS c FROM {table} WHERE {k} <> '' GROUP BY {k} HAVING count(*) > 1)) cd\n\
         WHERE e > 0 OR n > 0;\n"
    )
}

/// `--dialect spark`: every construct whose arithmetic Spark's `DECIMAL`
/// would compute otherwise than the engine ([`mod@spark`]), each at its line.
/// Empty when Spark computes the whole set exactly.
pub fn spark_check(program: &Program, sources: &Sources) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let mut types = spark::Types::new(program);
    for d in &program.defines {
        let t = types.of(&d.expr).unwrap_or_else(|m| {
            let mut diag = Diagnostic::new("sql::spark", format!("define `{}`: {m}", d.name));
            if let Some(span) = find(sources, &format!("define {}", d.name)) {
                diag = diag
                    .at_span(sources, span)
                    .label("not computed alike in Spark");
            }
            diags.push(diag);
            None
        });
        types.defines.push(t);
    }
    for c in &program.combined {
        if let Err(m) = types.of(&c.cap) {
            diags.push(
                Diagnostic::new("sql::spark", m)
                    .at_span(sources, c.span)
                    .label("not computed alike in Spark"),
            );
        }
    }
    for p in &program.policies {
        types.lets.clear();
        let mut refuse = |message: String, span: Span, within: Option<&str>| {
            let r = Refused {
                message,
                span,
                within: within.map(str::to_string),
            };
            diags.push(spark_refused(refused(sources, p, r)));
        };
        for l in &p.lets {
            let t = types.of(&l.expr).unwrap_or_else(|m| {
                refuse(m, p.span, Some(&l.source));
                None
            });
            types.lets.push(t);
        }
        for c in &p.clauses {
            if let Err(m) = types.of(&c.expr) {
                refuse(m, c.span, None);
            }
        }
        if let Some(a) = &p.amount {
            if let Err(m) = types.of(&a.expr) {
                refuse(m, p.span, Some(&a.source));
            }
            if let Some(Err(m)) = a.cap.as_ref().map(|c| types.of(c)) {
                refuse(m, p.span, a.cap_source.as_deref());
            } else if let Some(Err(m)) = a.cap.as_ref().map(|c| types.capped(&a.expr, c)) {
                refuse(m, p.span, a.cap_source.as_deref());
            }
        }
        if let Some(b) = p.budget.filter(|b| b.normalize().scale() > 2) {
            refuse(
                format!("a budget of {b} yuan: Spark shares out budgets in whole cents"),
                p.span,
                Some("budget"),
            );
        }
        let by = p
            .limit
            .as_ref()
            .map(|l| &l.by)
            .into_iter()
            .chain(p.allocate.as_ref().and_then(|a| match a {
                crate::program::Allocation::By(by, _) => Some(by),
                _ => None,
            }));
        for b in by {
            if let Err(m) = types.of(b) {
                refuse(m, p.span, None);
            }
        }
    }
    diags
}

/// The first place `needle` is written in the set's files.
fn find(sources: &Sources, needle: &str) -> Option<Span> {
    sources.files.iter().enumerate().find_map(|(i, f)| {
        f.text.find(needle).map(|at| Span {
            file: i as u32,
            start: at as u32,
            end: (at + needle.len()) as u32,
        })
    })
}

fn spark_refused(d: Diagnostic) -> Diagnostic {
    Diagnostic {
        code: "sql::spark",
        ..d
    }
    .label("not computed alike in Spark")
    .help("`mianshen run` and `mianshen sql` (PostgreSQL) compute it; see docs/sql.md, Spark")
}

/// A refused construct as a diagnostic at its line: the clause, or the
/// item of the policy whose text holds it.
fn refused(sources: &Sources, p: &crate::program::Policy, r: Refused) -> Diagnostic {
    let mut span = r.span;
    if let (Some(within), Some(src)) = (&r.within, sources.get(p.span.file)) {
        let (start, end) = (p.span.start as usize, p.span.end as usize);
        if let Some(at) = src
            .text
            .get(start..end.min(src.text.len()))
            .and_then(|t| t.find(within.as_str()))
        {
            span = Span {
                file: p.span.file,
                start: (start + at) as u32,
                end: (start + at + within.len()) as u32,
            };
        }
    }
    Diagnostic::new(
        "sql::unsupported",
        format!("policy `{}`: {}", p.id, r.message),
    )
    .at_span(sources, span)
    .label("not compiled to SQL")
    .help("`mianshen run` evaluates it; see docs/sql.md for what `mianshen sql` compiles")
}
