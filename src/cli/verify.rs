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
    let moved = moved_inputs(&recorded);
    let Some(differ) = compare_moved(run(&args), out, &replay, &moved, |a, b| {
        if ledger_changed.is_some() {
            // the ledger's own hash and counts differ, by design, and so
            // may what the run said of the ledger's rows
            *a = without_ledger(a);
            *b = without_ledger(b);
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

/// The inputs that `--policies`, `--data` or `--ledger` gave anew: each
/// path as the replay will record it, and as the run recorded it.
// serde_json's `value["key"]` gives `Null` for what is absent; it never panics
#[allow(clippy::indexing_slicing)]
fn moved_inputs(recorded: &crate::report::Recorded) -> Vec<(String, String)> {
    let m = &recorded.manifest;
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let mut moved = vec![(
        recorded.dir.display().to_string(),
        text(&m["policy_set"]["dir"]),
    )];
    if let Some(files) = m["data"].as_array() {
        for ((input, _), f) in recorded.data.iter().zip(files) {
            moved.push((input.path.display().to_string(), text(&f["path"])));
        }
    }
    if let (Some(now), Some(then)) = (&recorded.ledger, m["ledger"]["path"].as_str()) {
        moved.push((now.display().to_string(), then.to_string()));
    }
    moved.retain(|(now, then)| now != then);
    moved
}

/// [`compare`], with the inputs given anew (moved since the run) named in
/// the replay's files as the run named them: the manifest's paths and
/// warnings, and the `file` column of rejects.csv and conflicts.csv. Their
/// hashes, and every other byte, still compare.
fn compare_moved(
    code: u8,
    out: &Path,
    replay: &Path,
    moved: &[(String, String)],
    mut manifests: impl FnMut(&mut Vec<u8>, &mut Vec<u8>),
) -> Option<Vec<String>> {
    if moved.is_empty() {
        return compare(code, out, replay, manifests);
    }
    for (file, column) in [("rejects.csv", 4), ("conflicts.csv", 2)] {
        let path = replay.join(file);
        if let Ok(bytes) = std::fs::read(&path) {
            let _ = std::fs::write(&path, renamed_files(&bytes, column, moved));
        }
    }
    compare(code, out, replay, |a, b| {
        *a = relocated(a, &[]);
        *b = relocated(b, moved);
        manifests(a, b);
    })
}

/// A results CSV file with the file named in `column` renamed back (the
/// other bytes as they are: a line is rewritten only when its file moved).
fn renamed_files(bytes: &[u8], column: usize, moved: &[(String, String)]) -> Vec<u8> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut out = Vec::with_capacity(bytes.len());
    let mut record = csv::ByteRecord::new();
    let mut start = 0usize;
    while let Ok(true) = reader.read_byte_record(&mut record) {
        let end = usize::try_from(reader.position().byte()).unwrap_or(bytes.len());
        let line = bytes.get(start..end).unwrap_or_default();
        let found = record
            .get(column)
            .and_then(|f| moved.iter().find(|(now, _)| now.as_bytes() == f));
        match found {
            Some((_, then)) => {
                let mut fields: Vec<&[u8]> = record.iter().collect();
                if let Some(f) = fields.get_mut(column) {
                    *f = then.as_bytes();
                }
                let mut w = csv::Writer::from_writer(Vec::new());
                let _ = w.write_record(&fields);
                out.extend(w.into_inner().unwrap_or_default());
            }
            None => out.extend_from_slice(line),
        }
        start = end;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
    out
}

/// manifest.json with the moved inputs' paths put back as the run recorded
/// them (each path value, and the warnings that name a file), written out
/// compactly; `relocated(a, &[])` writes the recorded manifest the same way.
fn relocated(bytes: &[u8], moved: &[(String, String)]) -> Vec<u8> {
    fn walk(v: &mut serde_json::Value, moved: &[(String, String)]) {
        match v {
            serde_json::Value::String(s) => {
                for (now, then) in moved {
                    if s == now {
                        s.clone_from(then);
                    } else if s.contains(&format!("`{now}`")) {
                        *s = s.replace(&format!("`{now}`"), &format!("`{then}`"));
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|i| walk(i, moved)),
            serde_json::Value::Object(o) => o.values_mut().for_each(|i| walk(i, moved)),
            _ => {}
        }
    }
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(mut m) => {
            walk(&mut m, moved);
            serde_json::to_vec_pretty(&m).unwrap_or_default()
        }
        Err(_) => bytes.to_vec(),
    }
}

/// manifest.json without its entry `key`.
/// A manifest without its `ledger` and the warnings about the ledger's
/// rows ([`super::run::is_ledger_warning`]).
fn without_ledger(bytes: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(mut m) => {
            if let Some(o) = m.as_object_mut() {
                o.remove("ledger");
                if let Some(w) = o.get_mut("warnings").and_then(|w| w.as_array_mut()) {
                    w.retain(|w| !w.as_str().is_some_and(super::run::is_ledger_warning));
                }
            }
            serde_json::to_vec(&m).unwrap_or_default()
        }
        Err(_) => bytes.to_vec(),
    }
}

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
