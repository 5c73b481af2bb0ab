//! `mianshen verify`: a result directory is replayed from its manifest and
//! confirmed byte for byte, or the changed input / differing file is named.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn mianshen(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mianshen"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run mianshen")
}

/// A copy of the example set and its data in a fresh directory.
fn workspace(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mianshen-verify-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    common::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"),
        &dir.join("policies"),
    );
    dir
}

/// The names in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    names
}

fn run(dir: &Path) {
    let mut args = common::EXAMPLE_RUN.to_vec();
    args.extend(["--out", "res"]);
    let out = mianshen(dir, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_untouched_run_verifies() {
    let dir = workspace("same");
    run(&dir);
    let out = mianshen(&dir, &["verify", "res"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("byte-identical"), "{text}");
    // the replay folder (`.res.verify-{pid}`, beside the results) is gone:
    // only what was there before verifying remains
    let left = names_in(&dir);
    assert_eq!(left, ["policies", "res"], "nothing is left by the replay");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_folder_of_ones_own_files_receives_the_results() {
    let dir = workspace("own");
    std::fs::create_dir_all(dir.join("res/publish")).unwrap();
    std::fs::write(dir.join("res/keep.txt"), "mine").unwrap();
    // an earlier run's list, now stale
    std::fs::write(dir.join("res/publish/公示名单.csv"), "old").unwrap();
    run(&dir);
    run(&dir);
    assert_eq!(
        std::fs::read_to_string(dir.join("res/keep.txt")).unwrap(),
        "mine"
    );
    assert!(
        !dir.join("res/publish").exists(),
        "a stale publish folder goes"
    );
    // a folder named `publish` holding anything else is the user's: kept
    std::fs::create_dir_all(dir.join("res/publish")).unwrap();
    std::fs::write(dir.join("res/publish/notes.txt"), "mine").unwrap();
    run(&dir);
    assert!(
        dir.join("res/publish/notes.txt").exists(),
        "the user's own folder stays"
    );
    let left = names_in(&dir);
    assert_eq!(left, ["policies", "res"], "no temporary folder is left");
    let out = mianshen(&dir, &["verify", "res"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    // a file where the folder should be is a bad command line
    std::fs::write(dir.join("file"), "x").unwrap();
    let mut args = common::EXAMPLE_RUN.to_vec();
    args.extend(["--out", "file"]);
    let out = mianshen(&dir, &args);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is a file, not a directory"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_changed_input_is_named() {
    let dir = workspace("input");
    run(&dir);
    let data = dir.join("policies/data/firms.csv");
    let mut bytes = std::fs::read(&data).unwrap();
    bytes.extend_from_slice(b"\n");
    std::fs::write(&data, bytes).unwrap();
    let policy = dir.join("policies/keji/gaoxin.policy");
    let text = std::fs::read_to_string(&policy).unwrap() + "\n// edited\n";
    std::fs::write(&policy, text).unwrap();
    let out = mianshen(&dir, &["verify", "res"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("policy file `keji/gaoxin.policy` has changed"),
        "{text}"
    );
    assert!(
        text.contains("the data file `policies/data/firms.csv` has changed"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_tampered_result_is_found() {
    let dir = workspace("tampered");
    run(&dir);
    let decisions = dir.join("res/decisions.csv");
    let text = std::fs::read_to_string(&decisions).unwrap();
    let tampered = text.replacen(",eligible,", ",review,", 1);
    assert_ne!(text, tampered);
    // the line the replacement changed, counted from 1
    let line = text
        .lines()
        .position(|l| l.contains(",eligible,"))
        .expect("an eligible line")
        + 1;
    std::fs::write(&decisions, tampered).unwrap();
    let out = mianshen(&dir, &["verify", "res"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("decisions.csv, line {line}:")),
        "line {line} named: {text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// LANGUAGE.md section 8: the manifest holds the SHA-256 of every policy
/// file, that is of its bytes as `sha256sum` reads them, a byte-order mark
/// included (the mark is dropped only from the text that is parsed).
#[test]
fn policy_files_are_hashed_as_their_bytes_byte_order_mark_included() {
    let dir = workspace("bom");
    let marked = ["schema.yaml", "keji/gaoxin.policy"];
    for name in marked {
        let path = dir.join("policies").join(name);
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend(std::fs::read(&path).unwrap());
        std::fs::write(&path, bytes).unwrap();
    }
    run(&dir);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("res/manifest.json")).unwrap()).unwrap();
    let files = manifest["policy_set"]["files"].as_array().unwrap();
    assert!(files.len() > marked.len());
    for f in files {
        let path = f["path"].as_str().unwrap();
        let bytes = std::fs::read(dir.join("policies").join(path)).unwrap();
        assert_eq!(
            f["sha256"].as_str().unwrap(),
            mianshen::load::sha256_hex(&bytes),
            "{path}"
        );
    }
    let out = mianshen(&dir, &["verify", "res"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn moved_inputs_are_given_anew() {
    let dir = workspace("moved");
    std::fs::create_dir_all(dir.join("d")).unwrap();
    // an unknown column, so the manifest's warnings name the file too
    let firms = std::fs::read_to_string(dir.join("policies/data/firms.csv")).unwrap();
    let with_column: String = firms
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("{l},备用列\n")
            } else {
                format!("{l},x\n")
            }
        })
        .collect();
    std::fs::write(dir.join("d/v.csv"), with_column).unwrap();
    let out = mianshen(
        &dir,
        &[
            "run",
            "policies",
            "--data",
            "d/v.csv",
            "--as-of",
            "2024-12-31",
            "--out",
            "res",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest = std::fs::read_to_string(dir.join("res/manifest.json")).unwrap();
    assert!(manifest.contains("d/v.csv"), "{manifest}");
    std::fs::rename(dir.join("d/v.csv"), dir.join("d/moved.csv")).unwrap();
    std::fs::rename(dir.join("policies"), dir.join("pol2")).unwrap();
    // not found where the manifest says: named as not found
    let out = mianshen(&dir, &["verify", "res"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("不存在") && text.contains("--policies"),
        "{text}"
    );
    // given anew: verified, the manifest left as the run wrote it
    let anew = [
        "verify",
        "res",
        "--policies",
        "pol2",
        "--data",
        "d/moved.csv",
    ];
    let out = mianshen(&dir, &anew);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("byte-identical"), "{text}");
    assert_eq!(
        std::fs::read_to_string(dir.join("res/manifest.json")).unwrap(),
        manifest
    );
    // a moved file that changed is still found out
    let mut changed = std::fs::read(dir.join("d/moved.csv")).unwrap();
    changed.extend_from_slice(b"\n");
    std::fs::write(dir.join("d/moved.csv"), changed).unwrap();
    let out = mianshen(&dir, &anew);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("d/moved.csv"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
