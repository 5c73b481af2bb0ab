//! A bad command line is said in Chinese first (clap's English account
//! after it), with exit status 2; the encoding's usual names are taken.

mod common;

use std::path::Path;

fn said(args: &[&str]) -> (i32, String) {
    common::mianshen(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

#[test]
fn bad_command_lines_are_said_in_chinese_first() {
    let cases: [(&[&str], &str); 5] = [
        (
            &["run", "policies", "--data", "policies/data/firms.csv"],
            "错误: 缺少必需的参数 --as-of",
        ),
        (
            &["run", "policies", "--bogus"],
            "错误: 无法识别的参数 `--bogus`",
        ),
        (
            &[
                "run",
                "policies",
                "--data",
                "x.csv",
                "--as-of",
                "2024-12-31",
                "--encoding",
                "latin1",
            ],
            "错误: 参数 --encoding <ENCODING> 的值 `latin1` 无效, 可用的值: auto, utf8, gb18030",
        ),
        (&["rnu"], "错误: 无法识别的子命令 `rnu`"),
        (
            &[
                "publish",
                "out",
                "--date",
                "2025-01-06",
                "--notice-days",
                "0",
            ],
            "错误: 参数 --notice-days <NOTICE_DAYS> 的值 `0` 无效",
        ),
    ];
    for (args, chinese) in cases {
        let (code, text) = said(args);
        assert_eq!(code, 2, "{args:?}: {text}");
        assert!(text.starts_with(chinese), "{args:?}: {text}");
        // clap's own account (usage, tips) follows
        assert!(text.contains("error: "), "{args:?}: {text}");
    }
    // help and version are not errors
    let (code, text) = said(&["run", "--help"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("Usage: mianshen run"), "{text}");
}

#[test]
fn gbk_names_the_gb18030_encoding() {
    let dir = std::env::temp_dir().join(format!("mianshen-cli-gbk-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    common::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"),
        &dir.join("policies"),
    );
    let mut outs = Vec::new();
    for name in ["gb18030", "gbk", "GBK"] {
        let out = format!("out-{name}");
        let mut args = common::EXAMPLE_RUN.to_vec();
        args.extend(["--out", &out, "--encoding", name]);
        let (code, text) = common::mianshen(&dir, &args);
        assert_eq!(code, 0, "--encoding {name}: {text}");
        outs.push(std::fs::read(dir.join(&out).join("decisions.csv")).unwrap());
    }
    assert!(outs.windows(2).all(|w| w[0] == w[1]));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A folder with a schema but no `*.policy` file is refused, and a file
/// Notepad saved as `a.policy.txt` is named with what to do.
#[test]
fn a_set_without_policy_files_names_what_looks_like_one() {
    let dir = std::env::temp_dir().join(format!("mianshen-nopolicy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("renshe")).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(root.join("policies/schema.yaml"), dir.join("schema.yaml")).unwrap();
    let d = dir.to_string_lossy().to_string();
    let (code, text) = said(&["check", &d]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("里没有 *.policy 文件"), "{text}");
    assert!(text.contains("政策文件的名字以 `.policy` 结尾"), "{text}");
    std::fs::write(dir.join("renshe/wengang.policy.txt"), "policy x {}\n").unwrap();
    let (code, text) = said(&["check", &d]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("找到 `renshe/wengang.policy.txt`"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
