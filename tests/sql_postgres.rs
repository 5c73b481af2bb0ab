//! `mianshen sql` against a real PostgreSQL (Debian's package): a cluster of
//! its own in a temporary folder, the firms loaded through `sql --ddl`, the
//! generated SQL run with psql, and its decisions.csv and summary.csv
//! compared byte for byte with `mianshen run`'s. When PostgreSQL cannot be
//! started the test fails: it never passes without running.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_mianshen");

/// A PostgreSQL cluster in a temporary folder, stopped when dropped.
struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    /// Running as root: the server runs as `postgres`.
    as_postgres: bool,
}

fn pg_bin() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed (/usr/lib/postgresql): apt-get install postgresql")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop()
        .expect("no initdb under /usr/lib/postgresql/*/bin: apt-get install postgresql")
}

impl Cluster {
    fn start(name: &str) -> Cluster {
        let bin = pg_bin();
        let dir = std::env::temp_dir().join(format!("mianshen-pg-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let as_postgres = unsafe { libc::geteuid() } == 0;
        if as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .unwrap()
                .success();
            assert!(ok, "cannot give {} to the postgres user", dir.display());
        }
        // a port of its own: the socket is in the folder, no TCP
        let port = 20000 + (std::process::id() % 20000) as u16;
        let c = Cluster {
            dir,
            bin,
            port,
            as_postgres,
        };
        let data = c.dir.join("data");
        c.server(&[
            "initdb",
            "-D",
            data.to_str().unwrap(),
            "-E",
            "UTF8",
            "--locale=C",
            "-U",
            "ms",
            "--auth=trust",
        ]);
        let opts = format!(
            "-k {} -p {} -c listen_addresses=''",
            c.dir.display(),
            c.port
        );
        c.server(&[
            "pg_ctl",
            "-D",
            data.to_str().unwrap(),
            "-o",
            &opts,
            "-l",
            c.dir.join("log").to_str().unwrap(),
            "-w",
            "start",
        ]);
        c
    }

    /// Runs a server program (as `postgres` when we are root); panics loudly.
    fn server(&self, args: &[&str]) {
        let program = self.bin.join(args[0]);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let out = cmd.args(&args[1..]).output().unwrap();
        assert!(
            out.status.success(),
            "PostgreSQL could not be started: {} failed: {}{}",
            args[0],
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs a SQL file with psql in database `db`; its standard output.
    fn psql(&self, db: &str, file: &Path) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.dir)
            .args(["-p", &self.port.to_string(), "-U", "ms", "-d", db, "-f"])
            .arg(file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql -f {} failed: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn sql(&self, db: &str, text: &str) -> String {
        let file = self.dir.join(format!("q-{db}.sql"));
        std::fs::write(&file, text).unwrap();
        self.psql(db, &file)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let program = self.bin.join("pg_ctl");
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let _ = cmd
            .args(["-D", data.to_str().unwrap_or(""), "-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn mianshen(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "mianshen {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Generates firms for `set`, runs the engine and the SQL on them, and
/// compares decisions.csv and summary.csv.
fn compare(pg: &Cluster, db: &str, set: &Path, rows: u64, seed: u64, as_of: &str, all: bool) {
    let work = pg.dir.join(db);
    std::fs::create_dir_all(&work).unwrap();
    let csv = work.join("firms.csv");
    mianshen(&[
        "generate",
        set.to_str().unwrap(),
        "--rows",
        &rows.to_string(),
        "--seed",
        &seed.to_string(),
        "-o",
        csv.to_str().unwrap(),
    ]);
    compare_on(pg, db, set, &csv, None, as_of, all);
}

/// Runs the engine and the SQL on the firms of `csv` (and the payments of
/// `ledger`), and compares decisions.csv and summary.csv.
fn compare_on(
    pg: &Cluster,
    db: &str,
    set: &Path,
    csv: &Path,
    ledger: Option<&Path>,
    as_of: &str,
    all: bool,
) {
    let work = pg.dir.join(db);
    std::fs::create_dir_all(&work).unwrap();
    let out = work.join("out");
    let mut run = vec![
        "run",
        set.to_str().unwrap(),
        "--data",
        csv.to_str().unwrap(),
        "--as-of",
        as_of,
        "--out",
        out.to_str().unwrap(),
    ];
    if all {
        run.push("--all");
    }
    if let Some(l) = ledger {
        run.extend(["--ledger", l.to_str().unwrap()]);
    }
    mianshen(&run);
    // the table holds every row: the engine must have set none aside
    let rejects = std::fs::read_to_string(out.join("rejects.csv")).unwrap();
    assert_eq!(
        rejects.lines().count(),
        1,
        "rows rejected by run ({db}):\n{rejects}"
    );
    load_tables(pg, db, set, csv, ledger);
    let mut args = vec![
        "sql",
        set.to_str().unwrap(),
        "--table",
        "firms",
        "--as-of",
        as_of,
    ];
    if all {
        args.push("--all");
    }
    if ledger.is_some() {
        args.extend(["--ledger-table", "ledger"]);
    }
    let script = mianshen(&args);
    let got = pg.sql(db, &script);
    let header =
        "policy,title,in_force,evaluated,eligible,ineligible,review,amount,funded,budget\n";
    let at = got.find(header).expect("the summary's header");
    let (decisions, summary) = got.split_at(at);
    let want_decisions = std::fs::read_to_string(out.join("decisions.csv")).unwrap();
    let want_summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(summary, want_summary, "summary.csv differs ({db})");
    if decisions != want_decisions {
        let (a, b): (Vec<&str>, Vec<&str>) = (
            decisions.lines().collect(),
            want_decisions.lines().collect(),
        );
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert_eq!(x, y, "decisions.csv line {} differs ({db})", i + 1);
        }
        assert_eq!(a.len(), b.len(), "decisions.csv line counts differ ({db})");
    }
    assert!(
        want_decisions.lines().count() > 1,
        "no decisions to compare ({db})"
    );
    eprintln!(
        "{db}: {} decisions and {} policies agree",
        want_decisions.lines().count() - 1,
        want_summary.lines().count() - 1
    );
}

/// A new database `db` with the table `firms` loaded from `csv` by the
/// loader of `sql --ddl`, and the table `ledger` from `ledger`.
fn load_tables(pg: &Cluster, db: &str, set: &Path, csv: &Path, ledger: Option<&Path>) {
    pg.sql("postgres", &format!("CREATE DATABASE {db};"));
    let mut ddl_args = vec!["sql", set.to_str().unwrap(), "--table", "firms", "--ddl"];
    if ledger.is_some() {
        ddl_args.extend(["--ledger-table", "ledger"]);
    }
    let mut ddl = mianshen(&ddl_args);
    ddl = ddl.replace("'firms.csv'", &format!("'{}'", csv.display()));
    if let Some(l) = ledger {
        ddl += &format!(
            "\\copy ledger FROM '{}' WITH (FORMAT csv, HEADER)\n",
            l.display()
        );
    }
    pg.sql(db, &ddl);
}

/// The bundled example set as it is (its test cases left out).
fn example_set(to: &Path) -> PathBuf {
    let set = to.join("policies");
    copy_dir(Path::new("policies"), &set);
    std::fs::remove_dir_all(set.join("tests")).unwrap();
    set
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

#[test]
fn the_example_set_in_postgres_matches_the_engine() {
    let pg = Cluster::start("example");
    let set = example_set(&pg.dir);
    compare(&pg, "example_all", &set, 400, 7, "2024-12-31", true);
    compare(&pg, "example", &set, 400, 11, "2024-12-31", false);
}

const SMALL_SCHEMA: &str = "key: id
fields:
  id: { type: text }
  x:  { type: number }
  y:  { type: money }
  p:  { type: percent }
  d:  { type: date }
  t:  { type: list }
  s:  { type: text }
  b:  { type: bool }
";

const SMALL_POLICIES: &str = r#"
define big = y >= 1000
policy half_ties {
    title "ties at .5, negatives, large values"
    require "x present" x is present
    require "round to 0.1 half away from zero" round(x, 0.1) * 10 == floor(x * 10 + 0.5, 1) or x < 0
    amount "x as given" x
    cap 1亿 * 1亿 * 1亿
}
policy money_cut {
    title "combined and prior payments"
    require "money" y > 0
    exclude "paid within three years" last_paid(old_a) is present and years_between(last_paid(old_a), as_of) < 3
    amount "y times rate" y * p
}
policy by_months {
    title "months, tiers, when, division by zero"
    require "dated" months_between(d, as_of) >= 0
    require "tagged or text" t contains "甲" or s == "乙" or s contains "丙"
    let m = months_between(d, as_of)
    amount "tiers on months" {
        when b then y / 0
        else tiers m { >= 24 : 300.005 >= 12 : 100 else : y * 10% }
    }
    cap 5000 - paid(old_a, old_b)
}
policy stepped {
    title "progressive with budget"
    budget 1000
    allocate pro_rata
    require "big" big
    amount "brackets" progressive y { up to 1000 : 10% up to 5000 : 5% above : 1% }
}
policy ranked {
    title "limit by date"
    limit 2 by d asc
    require "any" y is present
    amount "flat" 100
}
combined "two awards at most 2000 less what was paid" { money_cut, by_months } cap 2000 - paid(old_a)
exclusive "one of two" { stepped, ranked } keep highest
"#;

#[test]
fn constructs_rounding_and_prior_payments_in_postgres_match_the_engine() {
    let pg = Cluster::start("small");
    let set = pg.dir.join("small");
    std::fs::create_dir_all(&set).unwrap();
    std::fs::write(set.join("schema.yaml"), SMALL_SCHEMA).unwrap();
    std::fs::write(set.join("small.policy"), SMALL_POLICIES).unwrap();
    let firms = "id,x,y,p,d,t,s,b
a1,0.125,1500.5,12.5%,2020-02-29,甲;乙,乙,false
a2,-0.125,2500,0.333,2023-03-01,,丙丁,true
a3,2.345,0.01,50%,2024-12-31,甲,,false
a4,12345678901234567.125,99999.99,1%,2022-12-31,,乙,
a5,0.005,,5%,,甲,x,false
a6,-0.005,800,100%,2021-01-31,乙,,false
a7,,3000,,2022-01-01,甲,,true
a8,2.335,12000,7.5%,2019-06-15,,丙,false
a9,0.015,4000.333,3%,2024-02-29,甲,,false
";
    std::fs::write(pg.dir.join("small.csv"), firms).unwrap();
    let ledger = "key,policy,amount,paid_on
a1,old_a,500,2021-03-01
a2,old_b,4990.5,2020-01-01
a3,old_a,-20,2024-06-30
a8,old_a,100,2025-01-01
a9,old_b,10,2023-05-05
";
    std::fs::write(pg.dir.join("ledger.csv"), ledger).unwrap();
    let ledger = pg.dir.join("ledger.csv");
    compare_listed_and_all(&pg, "small", &set, &pg.dir.join("small.csv"), Some(&ledger));
}

/// `between` and `in` are comparisons: a missing operand makes them missing
/// in the database as in the engine, whatever the others say.
#[test]
fn between_and_in_with_missing_operands_in_postgres_match_the_engine() {
    let pg = Cluster::start("missing_operands");
    let set = pg.dir.join("missing_operands");
    std::fs::create_dir_all(&set).unwrap();
    let schema = "key: id
fields:
  id: { type: text }
  x:  { type: number }
  lo: { type: number }
  hi: { type: number }
  a:  { type: text }
  b:  { type: text }
  c:  { type: text }
";
    std::fs::write(set.join("schema.yaml"), schema).unwrap();
    let policies = r#"
policy between_bounds { title "between" require "x within" x between lo and hi amount 1 }
policy in_list { title "in" require "a among" a in [b, c] amount 1 }
policy not_in_list { title "not in" require "a not among" a not in [b, c] amount 1 }
"#;
    std::fs::write(set.join("comparisons.policy"), policies).unwrap();
    let firms = "id,x,lo,hi,a,b,c
f1,5,1,9,p,p,q
f2,5,,9,p,q,
f3,5,6,,p,,p
f4,5,,,p,p,
f5,5,1,,,,
f6,10,1,9,r,p,q
";
    std::fs::write(pg.dir.join("missing_operands.csv"), firms).unwrap();
    let csv = pg.dir.join("missing_operands.csv");
    compare_listed_and_all(&pg, "missing_operands", &set, &csv, None);
}

/// Texts and enum values ordered by code point, booleans false first, in
/// comparisons, `between` and `tiers` (tests/cases/run/text_order): the
/// database orders as the engine does.
#[test]
fn ordering_texts_enums_and_booleans_in_postgres_match_the_engine() {
    let pg = Cluster::start("text_order");
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/run/text_order");
    let set = case.join("policies");
    let csv = case.join("data.csv");
    compare_listed_and_all(&pg, "text_order", &set, &csv, None);
}

/// [`compare_on`] with and without `--all`, as of 2024-12-31.
fn compare_listed_and_all(pg: &Cluster, db: &str, set: &Path, csv: &Path, ledger: Option<&Path>) {
    for all in [true, false] {
        let db = if all {
            format!("{db}_all")
        } else {
            db.to_string()
        };
        compare_on(pg, &db, set, csv, ledger, "2024-12-31", all);
    }
}

/// A small deterministic generator (xorshift), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A decimal the engine reads: up to 28 significant digits, scale
    /// 0..=28, either sign.
    fn decimal(&mut self) -> Decimal {
        let digits = 1 + self.below(28) as u32;
        let scale = self.below(29) as u32;
        self.digits(digits, scale)
    }

    /// `digits` random digits (the first not 0) at `scale`, either sign.
    fn digits(&mut self, digits: u32, scale: u32) -> Decimal {
        let mut m: i128 = 1 + self.below(9) as i128;
        for _ in 1..digits {
            m = m * 10 + self.below(10) as i128;
        }
        let d = Decimal::from_i128_with_scale(m, scale);
        if self.below(2) == 0 {
            -d
        } else {
            d
        }
    }
}

use rust_decimal::Decimal;

/// The number of whole digits of `d` (0 below 1).
fn whole_digits(d: Decimal) -> i32 {
    let t = d.abs().trunc();
    if t.is_zero() {
        0
    } else {
        t.to_string().len() as i32
    }
}

/// `10^(27 - whole digits)`: a value of the engine's decimals (a 96-bit
/// mantissa `m`) times it is `m / 10` or `m / 100`, every digit shown in
/// two decimals.
fn spread(d: Option<Decimal>) -> String {
    let k = 27 - d.map_or(0, whole_digits);
    Decimal::from_i128_with_scale(1, 0)
        .checked_mul(Decimal::from_i128_with_scale(
            10i128.pow(k.max(0) as u32),
            0,
        ))
        .map(|p| {
            if k < 0 {
                Decimal::from_i128_with_scale(1, (-k) as u32).to_string()
            } else {
                p.to_string()
            }
        })
        .unwrap_or_else(|| "1".into())
}

const DIVISION_SCHEMA: &str = "key: id
fields:
  id: { type: text }
  x:  { type: number }
  y:  { type: number }
  z:  { type: number }
  e1: { type: number }
  e2: { type: number }
  e3: { type: number }
  e4: { type: number }
  e5: { type: number }
  e6: { type: number }
  e7: { type: number }
";

/// Each value `v` shown whole as two amounts: the digits above 10^15 and
/// the rest (both positive, so the amounts stay small enough to sum).
fn shown_whole(name: &str, value: &str) -> String {
    format!(
        r#"
policy {name}_hi {{
    title "{name}: high digits"
    require "y present" y is present
    let v = {value}
    amount "high digits" floor(v / 1000000000000000, 1) + 100000000000000
}}
policy {name}_lo {{
    title "{name}: low digits"
    require "y present" y is present
    let v = {value}
    amount "low digits" v - floor(v / 1000000000000000, 1) * 1000000000000000 + 1
}}
"#
    )
}

#[test]
fn random_divisions_sums_products_and_steps_in_postgres_match_the_engine() {
    let pg = Cluster::start("division");
    let set = pg.dir.join("division");
    std::fs::create_dir_all(&set).unwrap();
    std::fs::write(set.join("schema.yaml"), DIVISION_SCHEMA).unwrap();
    let mut policies = String::new();
    policies += &shown_whole("quotient", "x / y * e1");
    policies += &shown_whole("sum", "(x / y + z) * e2");
    policies += &shown_whole("product", "x / y * z * e3");
    policies += &shown_whole("rounded", "round(x, y) * e4");
    policies += &shown_whole("floored", "floor(x, y) * e5");
    // a divisor written in the policy with a finite inverse is compiled
    // as a product (`ms_fit(x * 12.5)`), not `ms_div`: the same digits
    policies += &shown_whole("by_written", "x / 0.08 * e6");
    policies += &shown_whole("rounded_written", "round(x, 0.25) * e7");
    std::fs::write(set.join("division.policy"), policies).unwrap();

    let mut rng = Rng(0x5eed_2024_1231);
    let mut csv = String::from("id,x,y,z,e1,e2,e3,e4,e5,e6,e7\n");
    let small = [
        "3", "7", "9", "11", "13", "-3", "0.3", "0.07", "1", "-1", "2", "-2", "4", "8", "10", "16",
        "0.2", "0.5", "1.25", "0",
    ];
    for i in 0..600 {
        let x = rng.decimal();
        let y = match rng.below(4) {
            0 => small[rng.below(small.len() as u64) as usize]
                .parse()
                .unwrap(),
            _ => rng.decimal(),
        };
        let z = match rng.below(4) {
            // a sum or product one digit too long: 0.5…5 + 9.5, q × 0.5
            0 => ["9.5", "-9.5", "0.5", "5", "-0.5", "7"][rng.below(6) as usize]
                .parse()
                .unwrap(),
            _ => rng.decimal(),
        };
        let x = match rng.below(4) {
            // 28 digits at scale 28 ending in an odd digit: halved or
            // divided by 10, a tie at the 28th decimal
            0 => {
                let d = rng.digits(27, 27);
                let last = Decimal::from_i128_with_scale(2 * rng.below(5) as i128 + 1, 28);
                if d.is_sign_negative() {
                    d - last
                } else {
                    d + last
                }
            }
            // 1.000…00k at scale 27
            1 => Decimal::from_i128_with_scale(10i128.pow(27) + rng.below(10) as i128, 27),
            _ => x,
        };
        let q = x.checked_div(y);
        let sum = q.and_then(|q| q.checked_add(z));
        let product = q.and_then(|q| q.checked_mul(z));
        let stepped = |round: bool| {
            x.checked_div(y).and_then(|q| {
                let q = if round {
                    q.round_dp_with_strategy(
                        0,
                        rust_decimal::RoundingStrategy::MidpointAwayFromZero,
                    )
                } else {
                    q.floor()
                };
                q.checked_mul(y)
            })
        };
        let written = x.checked_div(Decimal::new(8, 2));
        let quarter = Decimal::new(25, 2);
        let rounded_written = x.checked_div(quarter).and_then(|q| {
            q.round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
                .checked_mul(quarter)
        });
        csv += &format!(
            "r{i:04},{x},{y},{z},{},{},{},{},{},{},{}\n",
            spread(q),
            spread(sum),
            spread(product),
            spread(stepped(true)),
            spread(stepped(false)),
            spread(written),
            spread(rounded_written)
        );
    }
    let data = pg.dir.join("division.csv");
    std::fs::write(&data, csv).unwrap();
    compare_on(&pg, "division", &set, &data, None, "2024-12-31", true);
}

const SETTLE_SCHEMA: &str = "key: id
fields:
  id: { type: text }
  y:  { type: money }
  z:  { type: money }
  c:  { type: money }
  n:  { type: number }
  d:  { type: date }
";

const SETTLE_POLICIES: &str = r#"
policy first {
    title "first of the group"
    require "y present" y is present
    amount "y" y
}
policy second {
    title "second of the group"
    require "z present" z is present
    amount "z" z
}
policy third {
    title "third of the group"
    require "y present" y is present
    amount "a third of y" y / 3
}
combined "三项合计不超过c" { first, second, third } cap c
combined "前两项合计不超过c减10.005" { first, second } cap c - 10.005
policy ties {
    title "negative ties inside"
    require "n present" n is present
    amount "round and max of negative ties" round(max(n, -1), 0.01) + 10
}
policy dated {
    title "by-order budget by date"
    budget 1000
    allocate by d asc
    require "z present" z is present
    amount "flat" 300
}
"#;

#[test]
fn settlement_cuts_reviews_dates_and_negative_ties_in_postgres_match_the_engine() {
    let pg = Cluster::start("settle");
    let set = pg.dir.join("settle");
    std::fs::create_dir_all(&set).unwrap();
    std::fs::write(set.join("schema.yaml"), SETTLE_SCHEMA).unwrap();
    std::fs::write(set.join("settle.policy"), SETTLE_POLICIES).unwrap();
    // c1: cut by the first cap (600 kept, 500 cut to 400, the third out);
    // c2: the cap missing (review); c3: under both caps; c4: the second cap
    // rounds -0.005 to -0.01, counted as 0; c5, c6: negative ties in round
    // and max; the by-order budget by date with a date missing (last) and
    // two firms on one date (by key)
    let firms = "id,y,z,c,n,d
c1,600,500,1000,-0.125,2024-03-01
c2,600,500,,-0.135,2024-01-01
c3,10,20,100000,-0.005,2024-01-01
c4,5,5,10,-0.015,
c5,900,0.01,1000.01,-1.005,2023-12-31
c6,,30,5,0.125,2024-06-30
";
    std::fs::write(pg.dir.join("settle.csv"), firms).unwrap();
    compare_listed_and_all(&pg, "settle", &set, &pg.dir.join("settle.csv"), None);
    // random firms for the same set, and for the constructs' set
    compare(&pg, "settle_random", &set, 300, 3, "2024-12-31", true);
    let small = pg.dir.join("small");
    std::fs::create_dir_all(&small).unwrap();
    std::fs::write(small.join("schema.yaml"), SMALL_SCHEMA).unwrap();
    let no_ledger = SMALL_POLICIES
        .replace(
            "exclude \"paid within three years\" last_paid(old_a) is present and years_between(last_paid(old_a), as_of) < 3",
            "exclude \"dated within three years\" years_between(d, as_of) < 3",
        )
        .replace("cap 5000 - paid(old_a, old_b)", "cap 5000 - x")
        .replace("cap 2000 - paid(old_a)", "cap 2000 - y / 7");
    std::fs::write(small.join("small.policy"), no_ledger).unwrap();
    for seed in [5, 6] {
        compare(
            &pg,
            &format!("small_random_{seed}"),
            &small,
            200,
            seed,
            "2024-12-31",
            seed == 5,
        );
    }
}

// ---- `mianshen run DIR --postgres URL --table T`: the same result files

/// The connection string of the cluster's database `db` (its socket).
fn url(pg: &Cluster, db: &str) -> String {
    format!(
        "host={} port={} user=ms dbname={db}",
        pg.dir.display(),
        pg.port
    )
}

/// Runs mianshen with `env` set; its exit status, standard output and
/// standard error.
fn mianshen_with(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Runs mianshen; its exit status and what it printed (both streams).
fn status(args: &[&str]) -> (i32, String) {
    let (code, out, err) = mianshen_with(args, &[]);
    assert!(
        !err.contains("panicked"),
        "mianshen {args:?} panicked: {err}"
    );
    (code, format!("{out}{err}"))
}

/// The result files of two runs, byte for byte (manifest.json aside).
fn same_results(a: &Path, b: &Path, what: &str) {
    for f in [
        "decisions.csv",
        "summary.csv",
        "rejects.csv",
        "conflicts.csv",
    ] {
        let (x, y) = (
            std::fs::read_to_string(a.join(f)).unwrap(),
            std::fs::read_to_string(b.join(f)).unwrap(),
        );
        assert_eq!(x, y, "{f} differs ({what})");
    }
    let decisions = std::fs::read_to_string(a.join("decisions.csv")).unwrap();
    assert!(decisions.lines().count() > 1, "no decisions ({what})");
}

/// `run` on files (`on_file`: `--data …`) and `run --postgres … --table
/// firms` (`in_db`: its further options), both with `more`, into
/// `work/NAME-data` and `work/NAME-pg`: the same result files.
fn run_both(
    pg: &Cluster,
    db: &str,
    set: &Path,
    [on_file, in_db, more]: [&[&str]; 3],
    name: &str,
) -> PathBuf {
    let work = pg.dir.join(db);
    std::fs::create_dir_all(&work).unwrap();
    let (file_out, db_out) = (
        work.join(format!("{name}-data")),
        work.join(format!("{name}-pg")),
    );
    let url = url(pg, db);
    let run = |out: &Path, only: &[&str]| {
        let mut a = vec!["run", set.to_str().unwrap(), "--out", out.to_str().unwrap()];
        a.extend(only);
        a.extend(more);
        mianshen(&a)
    };
    run(&file_out, on_file);
    let said = run(
        &db_out,
        &[&["--postgres", &url, "--table", "firms"], in_db].concat(),
    );
    assert!(said.contains("firms evaluated"), "{said}");
    same_results(&db_out, &file_out, &format!("{db}, {name}"));
    db_out
}

#[allow(clippy::indexing_slicing)]
fn manifest(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap()
}

#[test]
fn run_postgres_on_the_example_set_writes_the_results_of_run_data() {
    use sha2::Digest;
    let pg = Cluster::start("pgrun");
    let set = example_set(&pg.dir);
    let csv = pg.dir.join("firms.csv");
    mianshen(&[
        "generate",
        set.to_str().unwrap(),
        "--rows",
        "400",
        "--seed",
        "13",
        "-o",
        csv.to_str().unwrap(),
    ]);
    load_tables(&pg, "pgrun", &set, &csv, None);
    let data = ["--data", csv.to_str().unwrap()];
    let as_of = ["--as-of", "2024-12-31"];
    let both = |more: &[&str], name: &str| run_both(&pg, "pgrun", &set, [&data, &[], more], name);
    let out = both(&as_of, "listed");
    let all = both(&[&as_of[..], &["--all"]].concat(), "all");
    let selected = ["--policy", "wengang_2024", "--policy", "gaoxin_2024"];
    both(&[&as_of[..], &selected].concat(), "selected");
    // the same rows on another date: other policies in force
    both(&["--as-of", "2023-06-30"], "2023");

    // the manifest names the database and the table, never a password, and
    // the fingerprint is the SHA-256 of what its COPY prints
    let m = manifest(&out);
    assert_eq!(m["database"]["host"], pg.dir.to_str().unwrap());
    assert_eq!(m["database"]["port"], pg.port);
    assert_eq!(m["database"]["dbname"], "pgrun");
    assert_eq!(m["table"]["table"], "firms");
    assert_eq!(m["table"]["rows"], 400);
    assert_eq!(m["counts"]["firms"], 400);
    assert!(m.get("data").is_none(), "{m}");
    let copy = m["table"]["fingerprint"].as_str().unwrap();
    let printed = pg.sql("pgrun", &format!("{copy};\n"));
    let sha: String = sha2::Sha256::digest(printed.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(m["table"]["sha256"], sha.as_str());
    assert_eq!(printed.lines().count(), 401);
    assert_eq!(manifest(&all)["table"]["sha256"], sha.as_str());
    assert_eq!(
        std::fs::read_to_string(out.join("rejects.csv")).unwrap(),
        "row,column,value,reason,file\n"
    );

    // verify: a replay needs the database, and then agrees
    let out_s = out.to_str().unwrap();
    let (code, said) = status(&["verify", out_s]);
    assert_eq!(code, 2, "{said}");
    assert!(
        said.contains("--postgres URL") && said.contains("needs that database"),
        "{said}"
    );
    let url = url(&pg, "pgrun");
    let (code, said) = status(&["verify", out_s, "--postgres", &url]);
    assert_eq!(code, 0, "{said}");
    assert!(
        said.contains("verified: a replay against the database"),
        "{said}"
    );
    // publishing a run in a database is refused, said plainly
    let (code, said) = status(&["publish", out_s, "--date", "2025-01-06"]);
    assert_eq!(code, 2, "{said}");
    assert!(
        said.contains("publishing a run in a database is not supported"),
        "{said}"
    );
    // a table without the loader's CHECK: a value outside its enum stops the run
    pg.sql(
        "pgrun",
        "CREATE TABLE loose AS SELECT * FROM firms; UPDATE loose SET size = '巨型' WHERE uscc = (SELECT min(uscc) FROM loose);",
    );
    let (code, said) = status(&[
        "run",
        set.to_str().unwrap(),
        "--postgres",
        &url,
        "--table",
        "loose",
        "--as-of",
        "2024-12-31",
        "--out",
        pg.dir.join("loose-out").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{said}");
    assert!(
        said.contains("1 values of `loose` are outside their enum"),
        "{said}"
    );
    assert!(said.contains("`size` = `巨型`"), "{said}");
    // a row changed since: the fingerprint and the replay differ
    pg.sql(
        "pgrun",
        "UPDATE firms SET revenue = coalesce(revenue, 0) + 1000000000 WHERE uscc = (SELECT min(uscc) FROM firms);",
    );
    let (code, said) = status(&["verify", out_s, "--postgres", &url]);
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("have changed since the run"), "{said}");
    assert!(said.contains("manifest.json"), "{said}");
}

/// examples/programme (its data with 万 and 是, which the table holds as
/// plain values): `paid` and `last_paid` read from a ledger table.
#[test]
fn run_postgres_with_a_ledger_table_gives_the_programme_example() {
    let pg = Cluster::start("pgledger");
    let example = Path::new("examples/programme");
    let set = pg.dir.join("programme-set");
    copy_dir(&example.join("policies"), &set);
    let _ = std::fs::remove_dir_all(set.join("tests"));
    let plain = pg.dir.join("plain.csv");
    std::fs::write(
        &plain,
        "uscc,name,revenue,above_scale,first_scale_year,champion_on,rnd,tax_local
A001,甲机械有限公司,30000000,true,2024,,6000000,500000
B002,乙电子股份有限公司,80000000,true,2024,2024-06-01,8000000,200000
C003,丙材料有限公司,200000000,true,2019,2024-03-15,10000000,
D004,丁食品有限公司,9000000,false,2024,,7000000,0
",
    )
    .unwrap();
    let ledger = pg.dir.join("ledger.csv");
    std::fs::write(
        &ledger,
        "key,policy,amount,paid_on
C003,xiaojuren_2023,1000000,2023-09-30
D004,xiaojuren_2022,500000,2022-10-10
A001,chuangxin_2021,300000,2021-03-01
",
    )
    .unwrap();
    load_tables(&pg, "programme", &set, &plain, Some(&ledger));
    let data = example.join("data.csv");
    let book = example.join("ledger.csv");
    let on_file = [
        "--data",
        data.to_str().unwrap(),
        "--ledger",
        book.to_str().unwrap(),
    ];
    for (more, name) in [(&[][..], "listed"), (&["--all"][..], "all")] {
        let db_out = run_both(
            &pg,
            "programme",
            &set,
            [
                &on_file,
                &["--ledger-table", "ledger"],
                &[&["--as-of", "2024-12-31"][..], more].concat(),
            ],
            name,
        );
        let m = manifest(&db_out);
        // the payments counted: three, all on or before as_of
        assert_eq!(m["ledger_table"]["table"], "ledger");
        assert_eq!(m["ledger_table"]["rows"], 3);
    }
    // a payment after as_of is not counted, and not fingerprinted
    pg.sql(
        "programme",
        "INSERT INTO ledger VALUES ('A001', 'shenggui_2024', 200000, '2025-01-20');",
    );
    let db_out = pg.dir.join("programme").join("listed-pg");
    let url = url(&pg, "programme");
    let (code, said) = status(&["verify", db_out.to_str().unwrap(), "--postgres", &url]);
    assert_eq!(code, 0, "{said}");
    // without --ledger-table: a command-line error naming the option
    let out = pg.dir.join("programme").join("no-ledger");
    let (code, said) = status(&[
        "run",
        set.to_str().unwrap(),
        "--postgres",
        &url,
        "--table",
        "firms",
        "--as-of",
        "2024-12-31",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{said}");
    assert!(said.contains("--ledger-table"), "{said}");
}

#[test]
fn run_postgres_stops_on_duplicate_keys_missing_columns_and_bad_connections() {
    let pg = Cluster::start("pgchecks");
    let set = pg.dir.join("settle");
    std::fs::create_dir_all(&set).unwrap();
    std::fs::write(set.join("schema.yaml"), SETTLE_SCHEMA).unwrap();
    std::fs::write(set.join("settle.policy"), SETTLE_POLICIES).unwrap();
    let csv = pg.dir.join("settle.csv");
    std::fs::write(
        &csv,
        "id,y,z,c,n,d\nc1,600,500,1000,-0.125,2024-03-01\nc2,600,500,,-0.135,2024-01-01\nc3,10,20,100000,-0.005,\n",
    )
    .unwrap();
    load_tables(&pg, "checks", &set, &csv, None);
    let url = url(&pg, "checks");
    let out = pg.dir.join("checks-out");
    let run = |table: &str, url: &str, env: &[(&str, &str)]| {
        let (code, stdout, stderr) = mianshen_with(
            &[
                "run",
                set.to_str().unwrap(),
                "--postgres",
                url,
                "--table",
                table,
                "--as-of",
                "2024-12-31",
                "--out",
                out.to_str().unwrap(),
            ],
            env,
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        (code, stdout, stderr)
    };
    let (code, _, stderr) = run("firms", &url, &[]);
    assert_eq!(code, 0, "{stderr}");
    std::fs::remove_dir_all(&out).unwrap();

    // a key on two rows: the run stops, nothing is written, nobody is paid
    pg.sql(
        "checks",
        "CREATE TABLE twice AS SELECT * FROM firms; INSERT INTO twice SELECT * FROM firms WHERE id = 'c2';",
    );
    let (code, stdout, stderr) = run("twice", &url, &[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("1 keys of `twice` are on more than one row, e.g. `c2` (2 行 rows)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("a firm is never evaluated or paid twice"),
        "{stderr}"
    );
    assert!(!out.exists(), "results written despite the duplicate key");
    // an empty key is stopped too
    pg.sql("checks", "INSERT INTO twice (id, y) VALUES ('', 5);");
    let (code, _, stderr) = run("twice", &url, &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("1 rows of `twice` have an empty key `id`"),
        "{stderr}"
    );

    // a column the set reads is missing, another has an inexact type
    pg.sql(
        "checks",
        "CREATE TABLE partial AS SELECT * FROM firms; ALTER TABLE partial DROP COLUMN z; \
         ALTER TABLE partial ALTER COLUMN c TYPE double precision;",
    );
    let (code, _, stderr) = run("partial", &url, &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(
            "the table `partial` has no column `z`, which the set reads: expected numeric"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("the column `c` of `partial` is double precision: expected numeric"),
        "{stderr}"
    );
    let (code, _, stderr) = run("nosuch", &url, &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no table or view `nosuch`"), "{stderr}");
    assert!(!out.exists());

    // --table without --postgres: a command-line error, not a file run
    let (code, said) = status(&[
        "run",
        set.to_str().unwrap(),
        "--data",
        csv.to_str().unwrap(),
        "--table",
        "firms",
        "--as-of",
        "2024-12-31",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{said}");
    assert!(said.contains("go with --postgres"), "{said}");
    assert!(!out.exists());

    // no server there: a clear error, exit 2
    let (code, _, stderr) = run("firms", "postgresql://ms@127.0.0.1:1/checks", &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("cannot connect to the database"),
        "{stderr}"
    );
    assert!(stderr.contains("`127.0.0.1:1/checks`"), "{stderr}");
    let (code, _, stderr) = run("firms", "postgresql://ms@localhost:notaport/checks", &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("is not a PostgreSQL connection string"),
        "{stderr}"
    );

    // a role that logs in with a password (SCRAM): a wrong one is refused
    // and never shown; the right one, from PGPASSWORD, runs
    let hba = pg.dir.join("data").join("pg_hba.conf");
    let rest = std::fs::read_to_string(&hba).unwrap();
    std::fs::write(&hba, format!("local all pw scram-sha-256\n{rest}")).unwrap();
    pg.server(&[
        "pg_ctl",
        "-D",
        pg.dir.join("data").to_str().unwrap(),
        "reload",
    ]);
    pg.sql(
        "checks",
        "SET password_encryption = 'scram-sha-256'; CREATE ROLE pw LOGIN PASSWORD 'right-one'; GRANT SELECT ON firms TO pw;",
    );
    let as_pw = format!(
        "host={} port={} user=pw dbname=checks",
        pg.dir.display(),
        pg.port
    );
    let (code, _, stderr) = run("firms", &format!("{as_pw} password=wrong-one"), &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("cannot connect to the database"),
        "{stderr}"
    );
    assert!(
        stderr.contains("password authentication failed"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("wrong-one"),
        "the password is shown: {stderr}"
    );
    // what the URL leaves out comes from PGHOST, PGPORT and PGPASSWORD
    let port = pg.port.to_string();
    let env = [
        ("PGHOST", pg.dir.to_str().unwrap()),
        ("PGPORT", port.as_str()),
        ("PGPASSWORD", "right-one"),
    ];
    let (code, _, stderr) = run("firms", "user=pw dbname=checks", &env);
    assert_eq!(code, 0, "{stderr}");
    let m = manifest(&out);
    assert_eq!(m["database"]["user"], "pw");
    assert!(!std::fs::read_to_string(out.join("manifest.json"))
        .unwrap()
        .contains("right-one"));
}
