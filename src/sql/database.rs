//! `mianshen run DIR --postgres URL --table T`: the compiled script
//! ([`super::compile`]) run in a PostgreSQL database, its results streamed
//! out with `COPY … TO STDOUT` into the result files.
//!
//! Everything happens in one `REPEATABLE READ` transaction, so the checks,
//! the fingerprint and the run read the same rows: first the columns the
//! set reads (they exist, with a type that holds the field exactly), then
//! the fingerprint of the table (a SHA-256 of its rows in key order, which
//! also finds empty and repeated keys and values outside an `enum`: any of
//! them stops the run), then the script, then the two `COPY`s. The
//! transaction is rolled back at the end: the script only creates
//! temporary tables, and nothing of the run stays in the database.

use std::io::{Read, Write};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::expr::{ident, text};
use super::table_name;
use crate::date::Date;
use crate::program::Program;
use crate::schema::FieldType;

/// Why a run in the database did not complete.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DbError {
    #[error("`--postgres {url}` 不是 PostgreSQL 的连接串 (is not a PostgreSQL connection string): {message}; 例如 (e.g.) postgresql://user@localhost:5432/mydb")]
    #[diagnostic(code(mianshen::database::url))]
    Url { url: String, message: String },
    #[error("无法连接数据库 {place} (cannot connect to the database): {message}")]
    #[diagnostic(code(mianshen::database::connect))]
    Connect { place: String, message: String },
    /// The table is not what the set reads: each problem, said for people.
    #[error("{}", .0.join("\n"))]
    #[diagnostic(code(mianshen::database::table))]
    Table(Vec<String>),
    #[error("数据库在{what}时出错 (the database failed {what_en}): {message}")]
    #[diagnostic(code(mianshen::database::query))]
    Query {
        what: &'static str,
        what_en: &'static str,
        message: String,
    },
    #[error("{0}")]
    #[diagnostic(code(mianshen::database::io))]
    Io(#[from] std::io::Error),
}

/// Where the run reads: the database as the manifest names it (never the
/// password), and the tables.
pub struct Target<'a> {
    pub url: &'a str,
    pub table: &'a str,
    pub ledger_table: Option<&'a str>,
}

/// The database, as said to people and in the manifest.
#[derive(Clone, Debug)]
pub struct Place {
    /// A host name, or the folder of a Unix socket.
    pub host: String,
    pub port: Option<u16>,
    pub dbname: Option<String>,
    pub user: Option<String>,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "/{}`", self.dbname.as_deref().unwrap_or(""))?;
        if let Some(u) = &self.user {
            write!(f, " (user {u})")?;
        }
        Ok(())
    }
}

impl Place {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "host": self.host,
            "port": self.port,
            "dbname": self.dbname,
            "user": self.user,
        })
    }
}

/// A connection, not yet in a transaction.
pub struct Connection {
    client: postgres::Client,
    pub place: Place,
}

/// How long a connection may take when the URL says nothing.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to the database `url` names (a `postgresql://` URL or
/// `key=value` pairs; `host=/folder` for a Unix socket), with psql's
/// defaults for what it leaves out (`libpq_defaults`). No TLS.
pub fn connect(url: &str) -> Result<Connection, DbError> {
    let mut config: postgres::Config = url.parse().map_err(|e: postgres::Error| DbError::Url {
        url: without_password(url),
        message: said(&e),
    })?;
    libpq_defaults(&mut config, |name| std::env::var(name).ok());
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    let place = Place {
        host: config
            .get_hosts()
            .iter()
            .map(|h| match h {
                postgres::config::Host::Tcp(s) => s.clone(),
                #[cfg(unix)]
                postgres::config::Host::Unix(p) => p.to_string_lossy().to_string(),
            })
            .collect::<Vec<_>>()
            .join(","),
        port: config.get_ports().first().copied(),
        dbname: config.get_dbname().map(str::to_string),
        user: config.get_user().map(str::to_string),
    };
    let client = config
        .connect(postgres::NoTls)
        .map_err(|e| DbError::Connect {
            place: place.to_string(),
            message: said(&e),
        })?;
    Ok(Connection { client, place })
}

/// What the URL leaves out, as psql would take it: from `PGHOST`,
/// `PGPORT`, `PGUSER`, `PGDATABASE` and `PGPASSWORD` (`env` reads one),
/// and without a host, the Unix socket in `/var/run/postgresql` when there
/// is one, else `localhost`.
fn libpq_defaults(config: &mut postgres::Config, env: impl Fn(&str) -> Option<String>) {
    if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
        match env("PGHOST").filter(|h| !h.is_empty()) {
            Some(hosts) => {
                for h in hosts.split(',') {
                    config.host(h);
                }
            }
            None if std::path::Path::new("/var/run/postgresql").is_dir() => {
                config.host("/var/run/postgresql");
            }
            None => {
                config.host("localhost");
            }
        }
    }
    if config.get_ports().is_empty() {
        if let Some(p) = env("PGPORT").and_then(|p| p.parse().ok()) {
            config.port(p);
        }
    }
    if config.get_user().is_none() {
        if let Some(u) = env("PGUSER") {
            config.user(&u);
        }
    }
    if config.get_dbname().is_none() {
        if let Some(d) = env("PGDATABASE") {
            config.dbname(&d);
        }
    }
    if config.get_password().is_none() {
        if let Some(p) = env("PGPASSWORD") {
            config.password(p);
        }
    }
}

/// A URL with its password (if any) replaced by `***`, for messages.
fn without_password(url: &str) -> String {
    // postgresql://user:secret@host/db
    if let Some(rest) = url.split_once("://").map(|(_, r)| r) {
        if let Some((userinfo, _)) = rest.split_once('@') {
            if let Some((_, secret)) = userinfo.split_once(':') {
                return url.replacen(&format!(":{secret}@"), ":***@", 1);
            }
        }
    }
    // key=value pairs: password=secret
    url.split_whitespace()
        .map(|kv| {
            if kv.starts_with("password=") {
                "password=***"
            } else {
                kv
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A database error as its server said it (message, detail, hint), or the
/// client's error.
fn said(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = db.message().to_string();
            if let Some(d) = db.detail() {
                s += &format!(" ({d})");
            }
            if let Some(h) = db.hint() {
                s += &format!("; {h}");
            }
            s
        }
        None => {
            let mut s = e.to_string();
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                let more = c.to_string();
                if !s.contains(&more) {
                    s += &format!(": {more}");
                }
                cause = c.source();
            }
            s
        }
    }
}

fn query_error(what: &'static str, what_en: &'static str) -> impl Fn(postgres::Error) -> DbError {
    move |e| DbError::Query {
        what,
        what_en,
        message: said(&e),
    }
}

/// A table's rows as the manifest records them.
#[derive(Clone, Debug)]
pub struct Fingerprint {
    /// The table as given.
    pub table: String,
    /// The SHA-256 (hex) of what `query` writes.
    pub sha256: String,
    pub rows: u64,
    /// The `COPY` whose output is hashed: run it with psql and `sha256sum`
    /// to check the fingerprint by hand.
    pub query: String,
}

impl Fingerprint {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "table": self.table,
            "rows": self.rows,
            "sha256": self.sha256,
            "fingerprint": self.query,
        })
    }
}

/// What a run in the database gave.
pub struct Ran {
    pub firms: Fingerprint,
    pub ledger: Option<Fingerprint>,
    /// Lines of decisions.csv after its header.
    pub decisions: u64,
    /// summary.csv as the database wrote it.
    pub summary: Vec<u8>,
    /// Each policy with a budget: the exact sum of its eligible amounts
    /// (as PostgreSQL's text), for the budget notes of the manifest.
    pub eligible_totals: Vec<(String, String)>,
}

/// The column types that hold a field exactly, as PostgreSQL names them
/// (`format_type`, without a modifier: `numeric(12,2)` is `numeric`).
fn accepted(ty: &FieldType) -> &'static [&'static str] {
    match ty {
        FieldType::Integer => &["bigint", "integer", "smallint"],
        FieldType::Number | FieldType::Money | FieldType::Percent => {
            &["numeric", "bigint", "integer", "smallint"]
        }
        FieldType::Date => &["date"],
        FieldType::Bool => &["boolean"],
        FieldType::List => &["text[]"],
        FieldType::Text | FieldType::Enum(_) => &["text", "character varying"],
    }
}

/// The ledger table's columns and their accepted types.
const LEDGER_COLUMNS: [(&str, &[&str]); 4] = [
    ("key", &["text", "character varying"]),
    ("policy", &["text", "character varying"]),
    ("amount", &["numeric", "bigint", "integer", "smallint"]),
    ("paid_on", &["date"]),
];

impl Connection {
    /// Runs `script` (compiled for `program` over `target`'s tables) and
    /// streams decisions.csv into `decisions`; `lap` is told when each
    /// phase ends.
    pub fn run(
        &mut self,
        program: &Program,
        script: &super::Script,
        target: &Target<'_>,
        as_of: Date,
        decisions: &mut dyn Write,
        lap: &mut dyn FnMut(&str),
    ) -> Result<Ran, DbError> {
        let mut tx = self
            .client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .start()
            .map_err(query_error("开始事务", "to start the transaction"))?;
        // dates as YYYY-MM-DD in every COPY, whatever the server's setting
        tx.batch_execute("SET LOCAL DateStyle = ISO; SET LOCAL client_min_messages = warning;")
            .map_err(query_error("设置会话", "to set the session"))?;
        let used = program.used_fields();
        let schema = &program.schema;
        // ---- the columns
        let mut problems = Vec::new();
        let wanted: Vec<(String, &'static [&'static str], String)> = schema
            .fields
            .iter()
            .zip(&used)
            .filter(|(_, u)| **u)
            .map(|(f, _)| (f.name.clone(), accepted(&f.ty), f.ty.name().to_string()))
            .collect();
        columns(&mut tx, target.table, &wanted, &mut problems)?;
        if let Some(l) = target.ledger_table {
            let wanted: Vec<(String, &'static [&'static str], String)> = LEDGER_COLUMNS
                .iter()
                .map(|(c, t)| (c.to_string(), *t, "ledger".to_string()))
                .collect();
            columns(&mut tx, l, &wanted, &mut problems)?;
        }
        if !problems.is_empty() {
            return Err(DbError::Table(problems));
        }
        lap("connect, check the columns");
        // ---- the fingerprint, with the checks on values
        let firms = fingerprint_firms(&mut tx, program, &used, target.table)?;
        let ledger = match target.ledger_table {
            Some(l) => Some(fingerprint_ledger(&mut tx, program, l, as_of)?),
            None => None,
        };
        lap("fingerprint the table, check keys and values");
        // ---- the run
        tx.batch_execute(&script.body)
            .map_err(query_error("计算", "computing the decisions"))?;
        lap("evaluate and settle in the database");
        let mut counted = CountLines::new(decisions);
        {
            let mut reader = tx
                .copy_out(script.decisions.trim_end().trim_end_matches(';'))
                .map_err(query_error("输出 decisions.csv", "writing decisions.csv"))?;
            std::io::copy(&mut reader, &mut counted)?;
        }
        counted.out.flush()?;
        let lines = counted.lines;
        lap("stream decisions.csv");
        let mut summary = Vec::new();
        {
            let mut reader = tx
                .copy_out(script.summary.trim_end().trim_end_matches(';'))
                .map_err(query_error("输出 summary.csv", "writing summary.csv"))?;
            reader.read_to_end(&mut summary)?;
        }
        let mut eligible_totals = Vec::new();
        if program.policies.iter().any(|p| p.budget.is_some()) {
            let rows = tx
                .query(
                    "SELECT policy, sum(amount)::text FROM ms_pair WHERE outcome = 'eligible' GROUP BY policy",
                    &[],
                )
                .map_err(query_error("汇总", "adding up the amounts"))?;
            for r in rows {
                let (Ok(p), Ok(Some(t))) =
                    (r.try_get::<_, String>(0), r.try_get::<_, Option<String>>(1))
                else {
                    continue;
                };
                eligible_totals.push((p, t));
            }
        }
        // the script made temporary tables only: nothing is kept
        tx.rollback()
            .map_err(query_error("结束事务", "ending the transaction"))?;
        lap("stream summary.csv, add up the budgets, roll back");
        Ok(Ran {
            firms,
            ledger,
            decisions: lines.saturating_sub(1),
            summary,
            eligible_totals,
        })
    }
}

/// Checks that `table` has each of `wanted`'s columns with an accepted
/// type; each problem joins `problems`.
fn columns(
    tx: &mut postgres::Transaction<'_>,
    table: &str,
    wanted: &[(String, &'static [&'static str], String)],
    problems: &mut Vec<String>,
) -> Result<(), DbError> {
    let rows = tx
        .query(
            "SELECT a.attname::text, format_type(a.atttypid, NULL) FROM pg_attribute a \
             WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
            &[&table_name(table)],
        )
        .map_err(query_error("读取表的列", "reading the table's columns"))?;
    let found: Vec<(String, String)> = rows
        .iter()
        .filter_map(|r| Some((r.try_get(0).ok()?, r.try_get(1).ok()?)))
        .collect();
    if found.is_empty() {
        let exists: bool = tx
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table_name(table)])
            .ok()
            .and_then(|r| r.try_get(0).ok())
            .unwrap_or(false);
        problems.push(if exists {
            format!("表 `{table}` 没有列 (the table `{table}` has no columns)")
        } else {
            format!(
                "数据库中没有表 `{table}` (no table or view `{table}` in the database; a name is looked up as PostgreSQL would, on the search_path unless written `schema.table`)"
            )
        });
        return Ok(());
    }
    for (name, types, what) in wanted {
        let expected = types.join(" / ");
        match found.iter().find(|(c, _)| c == name) {
            None => problems.push(format!(
                "表 `{table}` 没有列 `{name}`: 政策集要读它, 应为 {expected} 类型 ({what}) (the table `{table}` has no column `{name}`, which the set reads: expected {expected})"
            )),
            Some((_, ty)) if !types.contains(&ty.as_str()) => problems.push(format!(
                "表 `{table}` 的列 `{name}` 是 {ty} 类型, 应为 {expected} ({what}; 数值须精确, 不接受浮点数) (the column `{name}` of `{table}` is {ty}: expected {expected} for a {what} field, which hold its values exactly)"
            )),
            Some(_) => {}
        }
    }
    Ok(())
}

/// Hashes `r`'s bytes as they are read; once at its end, stays there (a
/// `COPY`'s reader must not be read past its end).
struct Hashing<R> {
    inner: R,
    hash: Sha256,
    ended: bool,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.ended || buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        self.ended = n == 0;
        self.hash.update(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

/// How many of the first problems of a kind a message shows.
const SHOWN: usize = 5;

/// The fingerprint of the firm table: the SHA-256 of the CSV that `COPY`
/// writes of the columns the set reads (in the schema's order), ordered
/// by key (`COLLATE "C"`). Read as it streams, it also finds the empty
/// keys, the keys on more than one row and the values outside an `enum`.
fn fingerprint_firms(
    tx: &mut postgres::Transaction<'_>,
    program: &Program,
    used: &[bool],
    table: &str,
) -> Result<Fingerprint, DbError> {
    let schema = &program.schema;
    let fields: Vec<&crate::schema::Field> = schema
        .fields
        .iter()
        .zip(used)
        .filter(|(_, u)| **u)
        .map(|(f, _)| f)
        .collect();
    let key_name = &schema.key_field().name;
    let key_at = fields.iter().position(|f| &f.name == key_name).unwrap_or(0);
    let cols: Vec<String> = fields.iter().map(|f| ident(&f.name)).collect();
    let query = format!(
        "COPY (SELECT {} FROM {} ORDER BY {} COLLATE \"C\") TO STDOUT WITH (FORMAT csv, HEADER)",
        cols.join(", "),
        table_name(table),
        ident(key_name)
    );
    let reader = tx
        .copy_out(query.as_str())
        .map_err(query_error("读取企业表", "reading the firm table"))?;
    let mut hashing = Hashing {
        inner: reader,
        hash: Sha256::new(),
        ended: false,
    };
    let enums: Vec<(usize, &str, &[String])> = fields
        .iter()
        .enumerate()
        .filter_map(|(i, f)| match &f.ty {
            FieldType::Enum(values) => Some((i, f.name.as_str(), values.as_slice())),
            _ => None,
        })
        .collect();
    let (mut rows, mut empty, mut repeated) = (0u64, 0u64, 0u64);
    let mut repeated_shown: Vec<(String, u64)> = Vec::new();
    let mut outside: Vec<(String, String, String)> = Vec::new();
    let mut outside_count = 0u64;
    let mut prev: Option<Vec<u8>> = None;
    let mut run = 0u64;
    {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(&mut hashing);
        let mut record = csv::ByteRecord::new();
        loop {
            match csv.read_byte_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(DbError::Io(std::io::Error::other(e.to_string()))),
            }
            rows += 1;
            let key = record.get(key_at).unwrap_or_default();
            if key.is_empty() {
                empty += 1;
            }
            if prev.as_deref() == Some(key) && !key.is_empty() {
                run += 1;
                if run == 2 {
                    repeated += 1;
                    if repeated_shown.len() < SHOWN {
                        repeated_shown.push((String::from_utf8_lossy(key).to_string(), 2));
                    }
                } else if let Some(last) = repeated_shown.last_mut() {
                    if last.0.as_bytes() == key {
                        last.1 = run;
                    }
                }
            } else {
                run = 1;
                prev = Some(key.to_vec());
            }
            for (i, name, values) in &enums {
                let v = record.get(*i).unwrap_or_default();
                if v.is_empty() {
                    continue;
                }
                let v = String::from_utf8_lossy(v);
                if !values.iter().any(|x| *x == v) {
                    outside_count += 1;
                    if outside.len() < SHOWN {
                        outside.push((
                            String::from_utf8_lossy(key).to_string(),
                            name.to_string(),
                            v.to_string(),
                        ));
                    }
                }
            }
        }
    }
    // the CSV reader has read to the end: the hash is of the whole output
    let mut problems = Vec::new();
    if empty > 0 {
        problems.push(format!(
            "表 `{table}` 有 {empty} 行的主键 `{key_name}` 为空 (NULL 或 ''): 这些企业无法识别, 运行已停止 ({empty} rows of `{table}` have an empty key `{key_name}`: the run stops)"
        ));
    }
    if repeated > 0 {
        let shown: Vec<String> = repeated_shown
            .iter()
            .map(|(k, n)| format!("`{k}` ({n} 行 rows)"))
            .collect();
        let t = table_name(table);
        let k = ident(key_name);
        problems.push(format!(
            "表 `{table}` 中有 {repeated} 个主键 `{key_name}` 出现在多行, 如 {}: 同一企业不能按两行计算、兑付两次, 运行已停止; 请先在库中去重 ({repeated} keys of `{table}` are on more than one row, e.g. {}: a firm is never evaluated or paid twice, so the run stops; remove the duplicates first; they are listed by SELECT {k}, count(*) FROM {t} GROUP BY {k} HAVING count(*) > 1)",
            shown.join(", "),
            shown.join(", ")
        ));
    }
    if outside_count > 0 {
        let shown: Vec<String> = outside
            .iter()
            .map(|(k, f, v)| format!("`{k}` 的 `{f}` = `{v}`"))
            .collect();
        problems.push(format!(
            "表 `{table}` 有 {outside_count} 个值不在 schema 的 enum 取值中, 如 {}: 运行已停止 ({outside_count} values of `{table}` are outside their enum, e.g. {}: the run stops)",
            shown.join(", "),
            shown.join(", ")
        ));
    }
    if !problems.is_empty() {
        return Err(DbError::Table(problems));
    }
    Ok(Fingerprint {
        table: table.to_string(),
        sha256: crate::load::hex(&hashing.hash.finalize()),
        rows,
        query,
    })
}

/// The fingerprint of the ledger table: the payments the run counts (the
/// set's ids, paid on or before as_of), ordered.
fn fingerprint_ledger(
    tx: &mut postgres::Transaction<'_>,
    program: &Program,
    table: &str,
    as_of: Date,
) -> Result<Fingerprint, DbError> {
    let ids: Vec<String> = program.ledger_ids.iter().map(|s| text(s)).collect();
    let within = if ids.is_empty() {
        "FALSE".to_string()
    } else {
        format!("policy IN ({})", ids.join(", "))
    };
    let query = format!(
        "COPY (SELECT key, policy, amount, paid_on FROM {} WHERE {within} AND paid_on <= DATE '{as_of}' \
         ORDER BY key COLLATE \"C\", policy COLLATE \"C\", paid_on, amount::text COLLATE \"C\") TO STDOUT WITH (FORMAT csv, HEADER)",
        table_name(table)
    );
    let mut reader = tx
        .copy_out(query.as_str())
        .map_err(query_error("读取台账表", "reading the ledger table"))?;
    let mut hash = Sha256::new();
    let mut lines = CountLines::new(std::io::sink());
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let chunk = buf.get(..n).unwrap_or_default();
        hash.update(chunk);
        lines.write_all(chunk)?;
    }
    Ok(Fingerprint {
        table: table.to_string(),
        sha256: crate::load::hex(&hash.finalize()),
        rows: lines.lines.saturating_sub(1),
        query,
    })
}

/// Passes CSV through, counting its records (line ends outside quotes).
struct CountLines<W> {
    out: W,
    lines: u64,
    quoted: bool,
}

impl<W> CountLines<W> {
    fn new(out: W) -> Self {
        CountLines {
            out,
            lines: 0,
            quoted: false,
        }
    }
}

impl<W: Write> Write for CountLines<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        for &b in buf.get(..n).unwrap_or_default() {
            match b {
                b'"' => self.quoted = !self.quoted,
                b'\n' if !self.quoted => self.lines += 1,
                _ => {}
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_never_shown() {
        assert_eq!(
            without_password("postgresql://ms:s3cret@db.example:5432/firms"),
            "postgresql://ms:***@db.example:5432/firms"
        );
        assert_eq!(
            without_password("host=db user=ms password=s3cret dbname=x"),
            "host=db user=ms password=*** dbname=x"
        );
        assert_eq!(
            without_password("postgresql://ms@db/firms"),
            "postgresql://ms@db/firms"
        );
    }

    #[test]
    fn what_the_url_leaves_out_comes_from_the_environment() {
        let env = |name: &str| match name {
            "PGHOST" => Some("/tmp/pg".to_string()),
            "PGPORT" => Some("6543".to_string()),
            "PGUSER" => Some("env_user".to_string()),
            "PGDATABASE" => Some("env_db".to_string()),
            _ => None,
        };
        let mut c: postgres::Config = "dbname=mine".parse().unwrap_or_default();
        libpq_defaults(&mut c, env);
        assert_eq!(c.get_ports(), &[6543]);
        assert_eq!(c.get_user(), Some("env_user"));
        assert_eq!(c.get_dbname(), Some("mine"));
        assert!(
            matches!(c.get_hosts(), [postgres::config::Host::Unix(p)] if p.as_path() == std::path::Path::new("/tmp/pg"))
        );
        // what the URL says is kept
        let mut c: postgres::Config = "postgresql://me@db:5000/x".parse().unwrap_or_default();
        libpq_defaults(&mut c, env);
        assert_eq!(c.get_ports(), &[5000]);
        assert_eq!(c.get_user(), Some("me"));
        assert!(matches!(c.get_hosts(), [postgres::config::Host::Tcp(h)] if h == "db"));
    }

    #[test]
    fn records_are_counted_outside_quotes() {
        let mut c = CountLines::new(Vec::new());
        c.write_all(b"key,reasons\nA,\"two\nlines\"\nB,\"a \"\"q\"\"\"\n")
            .unwrap_or_default();
        assert_eq!(c.lines, 3);
    }
}
