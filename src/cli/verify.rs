//! `mianshen verify OUTDIR`: replay a run from its manifest.

use std::path::{Path, PathBuf};

use super::*;

/// `mianshen verify OUTDIR`: replays a run from its manifest and confirms the
/// results are byte-identical, or says exactly which input or file differs.
// serde_json's `value["key"]` gives `Null` for what is absent; it never panics
#[allow(clippy::indexing_slicing)]
pub fn verify(
    out: &Path,
    policies: Option<&Path>,
    data: &[crate::data::Input],
    ledger: Option<&Path>,
) -> u8 {
    let manifest_path = out.join("manifest.json");
    let manifest: serde_json::Value = match std::fs::read_to_string(&manifest_path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: cannot read `{}`: {e}", manifest_path.display());
            return EXIT_USAGE;
        }
    };
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let dir = policies
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(text(&manifest["policy_set"]["dir"])));
    // the data files as recorded: a list, or one file (older manifests)
    let recorded_data: Vec<(crate::data::Input, String)> = match &manifest["data"] {
        serde_json::Value::Array(files) => files
            .iter()
            .map(|f| {
                let input = crate::data::Input {
                    source: f["source"].as_str().map(str::to_string),
                    path: PathBuf::from(text(&f["path"])),
                };
                (input, text(&f["sha256"]))
            })
            .collect(),
        one => vec![(
            crate::data::Input {
                source: None,
                path: PathBuf::from(text(&one["path"])),
            },
            text(&one["sha256"]),
        )],
    };
    if !data.is_empty() && data.len() != recorded_data.len() {
        eprintln!(
            "error: the run read {} data files; give all of them with --data, in the same order, or none",
            recorded_data.len()
        );
        return EXIT_USAGE;
    }
    let inputs: Vec<crate::data::Input> = recorded_data
        .iter()
        .enumerate()
        .map(|(i, (recorded, _))| match data.get(i) {
            // a moved file keeps the source it was read with
            Some(moved) => crate::data::Input {
                source: moved.source.clone().or_else(|| recorded.source.clone()),
                path: moved.path.clone(),
            },
            None => recorded.clone(),
        })
        .collect();
    let as_of = text(&manifest["as_of"]);
    let version = text(&manifest["engine"]["version"]);
    let mut changed = Vec::new();
    if version != env!("CARGO_PKG_VERSION") {
        changed.push(format!(
            "the results were made by mianshen {version}; this is mianshen {}",
            env!("CARGO_PKG_VERSION")
        ));
    }
    // every input file, by its hash
    let recorded: Vec<(String, String)> = manifest["policy_set"]["files"]
        .as_array()
        .map(|files| {
            files
                .iter()
                .map(|f| (text(&f["path"]), text(&f["sha256"])))
                .collect()
        })
        .unwrap_or_default();
    let current = match PolicySet::load(&dir) {
        Ok(set) => Some(set),
        Err(_) => {
            changed.push(format!(
                "the policy set in `{}` no longer checks clean",
                dir.display()
            ));
            None
        }
    };
    if let Some(set) = &current {
        for (path, sha) in &recorded {
            match set.files.iter().find(|f| &f.path == path) {
                None => changed.push(format!("policy file `{path}` is gone")),
                Some(f) if &f.sha256 != sha => {
                    changed.push(format!("policy file `{path}` has changed"))
                }
                Some(_) => {}
            }
        }
        for f in &set.files {
            if !recorded.iter().any(|(p, _)| p == &f.path) {
                changed.push(format!("policy file `{}` is new", f.path));
            }
        }
    }
    for (input, (_, sha)) in inputs.iter().zip(&recorded_data) {
        let data_path = &input.path;
        match std::fs::read(data_path) {
            Ok(bytes) => {
                if &crate::load::sha256_hex(&bytes) != sha {
                    changed.push(format!(
                        "the data file `{}` has changed",
                        data_path.display()
                    ));
                }
            }
            Err(e) => changed.push(format!(
                "the data file `{}` cannot be read: {e}",
                data_path.display()
            )),
        }
    }
    // the ledger of prior payments, where the run read one
    let recorded_ledger = manifest["ledger"]["path"].as_str().map(PathBuf::from);
    let ledger_path = ledger.map(Path::to_path_buf).or(recorded_ledger);
    // a ledger that only gained payments since the run (`ledger add`) may
    // still give the same results: then the replay decides
    let mut ledger_changed = None;
    if let Some(path) = &ledger_path {
        let sha = text(&manifest["ledger"]["sha256"]);
        match std::fs::read(path) {
            Ok(_) if manifest["ledger"].is_null() => changed.push(format!(
                "the run read no ledger, and `{}` was given",
                path.display()
            )),
            Ok(bytes) => {
                if crate::load::sha256_hex(&bytes) != sha {
                    ledger_changed = Some(path.clone());
                }
            }
            Err(e) => changed.push(format!(
                "the ledger `{}` cannot be read: {e}",
                path.display()
            )),
        }
    }
    if !changed.is_empty() {
        println!(
            "not verified: the inputs differ from the run recorded in {}",
            manifest_path.display()
        );
        for c in &changed {
            println!("  {c}");
        }
        return EXIT_POLICY;
    }
    // replay into a scratch directory beside the results
    let replay = out.with_file_name(format!(
        ".{}.verify-{}",
        out.file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&replay);
    let encoding = match text(&manifest["encoding"]).as_str() {
        "utf8" => crate::data::Encoding::Utf8,
        "gb18030" => crate::data::Encoding::Gb18030,
        _ => crate::data::Encoding::Auto,
    };
    let args = RunArgs {
        dir: PathBuf::from(text(&manifest["policy_set"]["dir"])),
        data: inputs,
        as_of,
        out: replay.clone(),
        all: manifest["all"].as_bool().unwrap_or(false),
        encoding,
        threads: None,
        memory_mib: crate::batch::DEFAULT_MEMORY >> 20,
        json_errors: false,
        timings: false,
        quiet: true,
        ledger: ledger_path,
        selection: crate::select::Selection::from_json(&manifest["selection"]),
    };
    let args = RunArgs {
        dir: policies.map(Path::to_path_buf).unwrap_or(args.dir),
        ..args
    };
    let code = run(&args);
    if code != EXIT_OK {
        let _ = std::fs::remove_dir_all(&replay);
        println!("not verified: the replay did not complete (exit {code})");
        return EXIT_POLICY;
    }
    let mut differ = Vec::new();
    for f in crate::report::RESULT_FILES {
        let mut a = std::fs::read(out.join(f)).unwrap_or_default();
        let mut b = std::fs::read(replay.join(f)).unwrap_or_default();
        if f == "manifest.json" && ledger_changed.is_some() {
            // the ledger's own hash and counts differ, by design
            a = without_ledger(&a);
            b = without_ledger(&b);
        }
        if a != b {
            differ.push(first_difference(f, &a, &b));
        }
    }
    let _ = std::fs::remove_dir_all(&replay);
    if let Some(path) = &ledger_changed {
        if differ.is_empty() {
            println!(
                "verified: the ledger `{}` has changed since the run (台账已变更), but the payments it counts on as_of give byte-identical results",
                path.display()
            );
            return EXIT_OK;
        }
        println!(
            "not verified: the ledger `{}` has changed since the run (台账已变更) and the replay differs",
            path.display()
        );
        for d in &differ {
            println!("  {d}");
        }
        return EXIT_POLICY;
    }
    if differ.is_empty() {
        println!(
            "verified: the replay gives byte-identical results ({})",
            crate::report::RESULT_FILES.join(", ")
        );
        EXIT_OK
    } else {
        println!("not verified: the replay differs from the recorded results");
        for d in &differ {
            println!("  {d}");
        }
        EXIT_POLICY
    }
}

/// manifest.json without its `ledger` entry.
fn without_ledger(bytes: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(mut m) => {
            if let Some(o) = m.as_object_mut() {
                o.remove("ledger");
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
                "{file}, line {}: recorded `{}`, replay `{}`",
                i + 1,
                String::from_utf8_lossy(x),
                String::from_utf8_lossy(y)
            );
        }
    }
    format!(
        "{file}: {} lines recorded, {} in the replay",
        a_lines.len(),
        b_lines.len()
    )
}
