//! `mianshen run --only PATH --policy ID`: a bureau evaluates its own
//! policies alone; the selection is in the manifest and `verify` replays it.

mod common;

use std::path::Path;

#[test]
fn a_bureau_runs_its_own_policies() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("mianshen-subset-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    common::copy_dir(&root.join("policies"), &dir.join("policies"));
    let run = |extra: &[&str], out: &str| {
        let mut args = common::EXAMPLE_RUN.to_vec();
        args.extend(["--out", out]);
        args.extend_from_slice(extra);
        common::mianshen(&dir, &args)
    };
    let (code, text) = run(&["--only", "policies/renshe/"], "renshe");
    assert_eq!(code, 0, "{text}");
    let summary = std::fs::read_to_string(dir.join("renshe/summary.csv")).unwrap();
    let ids: Vec<&str> = summary
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .collect();
    assert_eq!(
        ids,
        [
            "kuogang_2024",
            "shebao_2024",
            "wengang_2023",
            "wengang_2024"
        ]
    );
    let manifest = std::fs::read_to_string(dir.join("renshe/manifest.json")).unwrap();
    assert!(manifest.contains("\"selection\""), "{manifest}");
    let (code, text) = common::mianshen(&dir, &["verify", "renshe"]);
    assert_eq!(code, 0, "{text}");

    let (code, text) = run(
        &["--policy", "wengang_2024", "--policy", "xingji_2024"],
        "two",
    );
    assert_eq!(code, 0, "{text}");
    let summary = std::fs::read_to_string(dir.join("two/summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 3, "{summary}");

    // a whole run's manifest says nothing of a selection
    let (code, text) = run(&[], "all");
    assert_eq!(code, 0, "{text}");
    let manifest = std::fs::read_to_string(dir.join("all/manifest.json")).unwrap();
    assert!(!manifest.contains("\"selection\""), "{manifest}");

    let (code, text) = run(&["--policy", "wengang_2025"], "bad");
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("是不是 `wengang_20"), "did you mean: {text}");
    let (code, text) = run(&["--only", "caizheng/"], "bad2");
    assert_eq!(code, 2, "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
