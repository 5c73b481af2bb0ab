//! End-to-end runs of the `mianshen` binary over `tests/cases/run/*/`: each
//! case holds `policies/`, `data.csv` (or `data.jsonl`) and `args`, or data
//! files that `args` names with `--data`; the result files, the printed
//! summary and the exit status are snapshotted.

use std::path::Path;
use std::process::Command;

fn run_case(args_file: &Path) -> String {
    let dir = args_file.parent().expect("case directory");
    let args = std::fs::read_to_string(args_file).expect("args");
    let data = if dir.join("data.jsonl").exists() {
        "data.jsonl"
    } else {
        "data.csv"
    };
    let out = std::env::temp_dir().join(format!(
        "mianshen-run-case-{}-{}",
        dir.file_name().unwrap().to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&out);
    let mut command = Command::new(env!("CARGO_BIN_EXE_mianshen"));
    command.current_dir(dir).args(["run", "policies"]);
    if !args.contains("--data") {
        command.args(["--data", data]);
    }
    let output = command
        .args(args.split_whitespace())
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run mianshen");
    let mut snap = format!("exit: {}\n", output.status.code().unwrap_or(-1));
    snap.push_str("--- stdout\n");
    snap.push_str(
        &String::from_utf8_lossy(&output.stdout).replace(&out.display().to_string(), "OUT"),
    );
    snap.push_str("--- stderr\n");
    snap.push_str(&String::from_utf8_lossy(&output.stderr));
    for f in [
        "decisions.csv",
        "summary.csv",
        "rejects.csv",
        "conflicts.csv",
    ] {
        snap.push_str(&format!("--- {f}\n"));
        snap.push_str(&std::fs::read_to_string(out.join(f)).unwrap_or_else(|_| "(none)\n".into()));
    }
    let _ = std::fs::remove_dir_all(&out);
    snap
}

#[test]
fn run_cases() {
    insta::glob!("cases/run/*/args", |path| {
        insta::assert_snapshot!(run_case(path));
    });
}
