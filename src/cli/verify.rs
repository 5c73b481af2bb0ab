//! `mianshen verify OUTDIR`: replay a run from its manifest.

use std::path::Path;

use super::*;

/// `mianshen verify OUTDIR`: replays a run from its manifest and confirms the
/// results are byte-identical, or says exactly which input or file differs.
pub fn verify(
    out: &Path,
    policies: Option<&Path>,
    data: &[crate::data::Input],
    ledger: Option<&Path>,
    postgres: Option<&str>,
) -> u8 {
    let recorded = match crate::report::Recorded::read(out, policies, data, ledger) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    if recorded.database.is_some() {
        return verify_database(out, &recorded, postgres);
    }
    if postgres.is_some() {
        eprintln!(
            "error: 这次运行读的是数据文件, 不是数据库: 核验不用 --postgres (the run read data files, not a database: verify it without --postgres)"
        );
        return EXIT_USAGE;
    }
    let manifest_path = &recorded.manifest_path;
    let crate::report::Changes {
        changed,
        ledger_changed,
        ledger_rows,
        ..
    } = recorded.changes();
    if !changed.is_empty() {
        return inputs_differ(manifest_path, &changed);
    }
    let replay = replay_dir(out);
    let args = RunArgs {
        dir: recorded.dir.clone(),
        data: recorded.inputs(),
        as_of: recorded.as_of.clone(),
        out: replay.clone(),
        all: recorded.all,
        encoding: recorded.encoding,
        threads: None,
        memory_mib: crate::batch::DEFAULT_MEMORY >> 20,
        json_errors: false,
        timings: false,
        quiet: true,
        ledger: recorded.ledger.clone(),
        selection: crate::select::Selection::from_json(
            recorded
                .manifest
                .get("selection")
                .unwrap_or(&serde_json::Value::Null),
        ),
    };
    let Some(differ) = compare(run(&args), out, &replay, |a, b| {
        if ledger_changed.is_some() {
            // the ledger's own hash and counts differ, by design
            *a = without(a, "ledger");
            *b = without(b, "ledger");
        }
    }) else {
        return EXIT_POLICY;
    };
    if let Some(path) = &ledger_changed {
        if differ.is_empty() {
            println!(
                "通过核验: 台账 `{}` 在运行后有变更, 但截至 as_of 计入的兑付记录给出逐字节相同的结果 (verified: the ledger has changed since the run, but the payments it counts on as_of give byte-identical results)",
                path.display()
            );
            if let Some((read, now)) = ledger_rows {
                println!(
                    "  该次运行读过的 {read} 条兑付记录未变, 其后新增 {} 条 (the {read} payment rows the run read are unchanged; rows added after them: {})",
                    now.saturating_sub(read),
                    now.saturating_sub(read)
                );
            }
            return EXIT_OK;
        }
        println!(
            "未通过核验: 台账 `{}` 在运行后有变更, 重放结果不同 (not verified: the ledger has changed since the run and the replay differs)",
            path.display()
        );
        for d in &differ {
            println!("  {d}");
        }
        return EXIT_POLICY;
    }
    if differ.is_empty() {
        println!(
            "通过核验: 重放结果逐字节相同 (verified: the replay gives byte-identical results): {}",
            crate::report::RESULT_FILES.join(", ")
        );
        EXIT_OK
    } else {
        println!("未通过核验: 重放结果与记录的结果不同 (not verified: the replay differs from the recorded results)");
        for d in &differ {
            println!("  {d}");
        }
        EXIT_POLICY
    }
}

/// Not verified: the inputs are not the run's (each difference listed).
fn inputs_differ(manifest_path: &Path, changed: &[String]) -> u8 {
    println!(
        "未通过核验: 输入与 {} 记录的运行不符 (not verified: the inputs differ from the run recorded in it)",
        manifest_path.display()
    );
    for c in changed {
        println!("  {c}");
    }
    EXIT_POLICY
}

/// A scratch directory beside the results, for the replay.
fn replay_dir(out: &Path) -> std::path::PathBuf {
    let replay = out.with_file_name(format!(
        ".{}.verify-{}",
        out.file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&replay);
    replay
}

/// `verify OUT --postgres URL` of a run in a database: the same set run
/// again against the database, every result file compared (the manifest
/// without the address of the database, which may be reached otherwise;
/// the table's fingerprint is compared).
// serde_json's `value["key"]` gives `Null` for what is absent; it never panics
#[allow(clippy::indexing_slicing)]
fn verify_database(out: &Path, recorded: &crate::report::Recorded, postgres: Option<&str>) -> u8 {
    let (table, place) = recorded.database.clone().unwrap_or_default();
    let Some(url) = postgres else {
        eprintln!(
            "error: 未核验: 这次运行读的是数据库 {place} 中的表 `{table}`, 重放须连接同一数据库: 请用 `mianshen verify {out} --postgres URL` (not verified: the run read the table `{table}` in the database {place}; a replay needs that database: `mianshen verify {out} --postgres URL`)",
            out = out.display()
        );
        return EXIT_USAGE;
    };
    let changes = recorded.changes();
    if !changes.changed.is_empty() {
        return inputs_differ(&recorded.manifest_path, &changes.changed);
    }
    let replay = replay_dir(out);
    let m = &recorded.manifest;
    let args = PgRunArgs {
        dir: recorded.dir.clone(),
        url: url.to_string(),
        table: table.clone(),
        ledger_table: m["ledger_table"]["table"].as_str().map(str::to_string),
        as_of: recorded.as_of.clone(),
        out: replay.clone(),
        all: recorded.all,
        json_errors: false,
        timings: false,
        quiet: true,
        selection: crate::select::Selection::from_json(
            m.get("selection").unwrap_or(&serde_json::Value::Null),
        ),
    };
    let mut table_changed = false;
    let Some(differ) = compare(run_postgres(&args), out, &replay, |a, b| {
        let fingerprint = |bytes: &[u8]| {
            serde_json::from_slice::<serde_json::Value>(bytes)
                .map(|v| v["table"]["sha256"].clone())
                .unwrap_or_default()
        };
        table_changed = fingerprint(a) != fingerprint(b);
        *a = without(a, "database");
        *b = without(b, "database");
    }) else {
        return EXIT_POLICY;
    };
    if differ.is_empty() {
        println!(
            "通过核验: 对数据库重放, 结果逐字节相同 (verified: a replay against the database gives byte-identical results): {}",
            crate::report::RESULT_FILES.join(", ")
        );
        return EXIT_OK;
    }
    if table_changed {
        println!(
            "未通过核验: 表 `{table}` 的数据在运行后有变更 (指纹不同), 重放结果不同 (not verified: the rows of `{table}` have changed since the run, its fingerprint differs, and the replay differs)"
        );
    } else {
        println!("未通过核验: 重放结果与记录的结果不同 (not verified: the replay differs from the recorded results)");
    }
    for d in &differ {
        println!("  {d}");
    }
    EXIT_POLICY
}

/// The replay's result files against the recorded ones, after the replay
/// exited with `code`: `None` when it did not complete (said), otherwise
/// each file that differs, by its first differing line. `manifests` sees
/// the two manifest.json (recorded, replayed) before they are compared.
/// The replay folder is removed either way.
fn compare(
    code: u8,
    out: &Path,
    replay: &Path,
    mut manifests: impl FnMut(&mut Vec<u8>, &mut Vec<u8>),
) -> Option<Vec<String>> {
    if code != EXIT_OK {
        let _ = std::fs::remove_dir_all(replay);
        println!(
            "未通过核验: 重放未能完成, 退出码 {code} (not verified: the replay did not complete)"
        );
        return None;
    }
    let mut differ = Vec::new();
    for f in crate::report::RESULT_FILES {
        let mut a = std::fs::read(out.join(f)).unwrap_or_default();
        let mut b = std::fs::read(replay.join(f)).unwrap_or_default();
        if f == "manifest.json" {
            manifests(&mut a, &mut b);
        }
        if a != b {
            differ.push(first_difference(f, &a, &b));
        }
    }
    let _ = std::fs::remove_dir_all(replay);
    Some(differ)
}

/// manifest.json without its entry `key`.
fn without(bytes: &[u8], key: &str) -> Vec<u8> {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(mut m) => {
            if let Some(o) = m.as_object_mut() {
                o.remove(key);
            }
            serde_json::to_vec(&m).unwrap_or_default()
        }
        Err(_) => bytes.to_vec(),
    }
}

fn first_difference(file: &str, a: &[u8], b: &[u8]) -> String {
    let a_lines: Vec<&[u8]> = a.split(|&c| c == b'\n').collect();
    let b_lines: Vec<&[u8]> = b.split(|&c| c == b'\n').collect();
    for (i, (x, y)) in a_lines.iter().zip(&b_lines).enumerate() {
        if x != y {
            return format!(
                "{file}, line {}: 记录为 (recorded) `{}`, 重放为 (replay) `{}`",
                i + 1,
                String::from_utf8_lossy(x),
                String::from_utf8_lossy(y)
            );
        }
    }
    let (a, b) = (a_lines.len(), b_lines.len());
    format!("{file}: 记录 {a} 行, 重放 {b} 行 ({a} lines recorded, {b} in the replay)")
}
