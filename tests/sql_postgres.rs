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
    mianshen(&run);
    pg.sql("postgres", &format!("CREATE DATABASE {db};"));
    let ddl = mianshen(&["sql", set.to_str().unwrap(), "--table", "firms", "--ddl"]);
    let ddl = ddl.replace("'firms.csv'", &format!("'{}'", csv.display()));
    pg.sql(db, &ddl);
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
    eprintln!("{want_summary}");
}

/// The bundled example set, with the one amount `sql` refuses (a division
/// by a field) replaced.
fn example_set(to: &Path) -> PathBuf {
    let set = to.join("policies");
    copy_dir(Path::new("policies"), &set);
    let jiuye = set.join("renshe/jiuye.policy");
    let text = std::fs::read_to_string(&jiuye).unwrap();
    let text = text.replace(
        "grad_insurance_paid / grad_insured_months * min(grad_insured_months, 12)",
        "grad_insurance_paid * 50% * min(grad_insured_months, 12) / 4",
    );
    std::fs::write(&jiuye, text).unwrap();
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
