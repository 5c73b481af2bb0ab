//! `mianshen publish`: every published figure reconciles with summary.csv
//! and decisions.csv; the workbooks read back with Chinese intact and codes
//! as text; bad folders are refused; the HTML report renders in Chromium.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use calamine::{Data, Reader};
use common::{copy_dir, mianshen};
use rust_decimal::Decimal;

/// A fresh directory holding a copy of the example set.
fn workspace(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mianshen-publish-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(Path::new("policies"), &dir.join("policies"));
    dir
}

/// Runs the example set into `out`, with `extra` arguments.
fn run_example(dir: &Path, extra: &[&str]) {
    let mut args = common::EXAMPLE_RUN.to_vec();
    args.extend(["--out", "out"]);
    args.extend(extra);
    ok(dir, &args);
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let (code, text) = mianshen(dir, args);
    assert_eq!(code, 0, "{args:?}: {text}");
    text
}

/// A CSV file for people: a BOM, then records.
fn people_csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.starts_with("\u{feff}".as_bytes()),
        "{} has no BOM",
        path.display()
    );
    let mut r = csv::Reader::from_reader(&bytes[3..]);
    let head: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            head.iter()
                .cloned()
                .zip(rec.iter().map(|c| c.trim_start_matches('\t').to_string()))
                .collect()
        })
        .collect()
}

fn plain_csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let head: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    r.records()
        .map(|rec| {
            head.iter()
                .cloned()
                .zip(rec.unwrap().iter().map(str::to_string))
                .collect()
        })
        .collect()
}

fn money(s: &str) -> Decimal {
    if s.is_empty() {
        Decimal::ZERO
    } else {
        Decimal::from_str(s).unwrap()
    }
}

/// Every published figure against summary.csv and decisions.csv.
fn reconcile(out: &Path) {
    let publish = out.join("publish");
    let summary = plain_csv(&out.join("summary.csv"));
    let decisions = plain_csv(&out.join("decisions.csv"));
    // 公示名单: eligible with funded > 0, per policy; every eligible firm of
    // a policy without an amount (a qualification), listed with none
    let mut expected: BTreeMap<String, (u64, Decimal)> = BTreeMap::new();
    let mut reviews = BTreeSet::new();
    let mut funded_total = Decimal::ZERO;
    for d in &decisions {
        let qualification = d["amount"].is_empty();
        if d["outcome"] == "eligible" && (money(&d["funded"]) > Decimal::ZERO || qualification) {
            let e = expected.entry(d["policy"].clone()).or_default();
            e.0 += 1;
            e.1 += money(&d["funded"]);
        }
        if d["outcome"] == "eligible" {
            funded_total += money(&d["funded"]);
        }
        if d["outcome"] == "review" {
            reviews.insert((d["key"].clone(), d["policy"].clone()));
        }
    }
    let mut listed: BTreeMap<String, (u64, Decimal)> = BTreeMap::new();
    for row in people_csv(&publish.join("公示名单.csv")) {
        let e = listed.entry(row["政策编号"].clone()).or_default();
        e.0 += 1;
        e.1 += money(&row["兑付金额(元)"]);
    }
    assert_eq!(listed, expected, "公示名单.csv against decisions.csv");
    // 底数: the totals rows are summary.csv's figures
    let base = people_csv(&publish.join("底数.csv"));
    let mut all = [0u64; 4];
    for s in summary.iter().filter(|s| s["in_force"] == "true") {
        let total = base
            .iter()
            .find(|r| r["政策编号"] == s["policy"] && r["省级代码"] == "合计")
            .unwrap_or_else(|| panic!("no total for {}", s["policy"]));
        for (ours, theirs) in [
            ("评估企业数", "evaluated"),
            ("符合", "eligible"),
            ("待核实", "review"),
            ("不符合", "ineligible"),
        ] {
            assert_eq!(total[ours], s[theirs], "{} {theirs}", s["policy"]);
        }
        assert_eq!(
            money(&total["核定金额(元)"]),
            money(&s["amount"]),
            "{} amount",
            s["policy"]
        );
        assert_eq!(
            money(&total["兑付金额(元)"]),
            money(&s["funded"]),
            "{} funded",
            s["policy"]
        );
        // and the rows of the policy add up to its total
        let mut sums = [0u64; 4];
        let mut funded = Decimal::ZERO;
        for r in base
            .iter()
            .filter(|r| r["政策编号"] == s["policy"] && r["省级代码"] != "合计")
        {
            for (i, c) in ["评估企业数", "符合", "待核实", "不符合"]
                .iter()
                .enumerate()
            {
                sums[i] += r[*c].parse::<u64>().unwrap();
            }
            funded += money(&r["兑付金额(元)"]);
        }
        assert_eq!(
            sums.map(|n| n.to_string()),
            ["评估企业数", "符合", "待核实", "不符合"].map(|c| total[c].clone())
        );
        assert_eq!(funded, money(&total["兑付金额(元)"]));
        for (i, c) in ["evaluated", "eligible", "review", "ineligible"]
            .iter()
            .enumerate()
        {
            all[i] += s[*c].parse::<u64>().unwrap();
        }
    }
    let overall = base
        .iter()
        .find(|r| r["政策编号"] == "全部政策合计")
        .expect("overall total");
    assert_eq!(overall["符合"], all[1].to_string());
    assert_eq!(money(&overall["兑付金额(元)"]), funded_total);
    // 待核实清单: every review decision, under at least one department
    let work: BTreeSet<(String, String)> = people_csv(&publish.join("待核实清单.csv"))
        .into_iter()
        .map(|r| (r["统一社会信用代码"].clone(), r["政策编号"].clone()))
        .collect();
    assert_eq!(work, reviews, "待核实清单 against the review decisions");
    // 企业汇总: one line per firm, the money of all eligible decisions
    let firms = people_csv(&publish.join("企业汇总.csv"));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(
        firms.len() as u64,
        manifest["counts"]["firms"].as_u64().unwrap()
    );
    let sum: Decimal = firms.iter().map(|f| money(&f["兑付金额合计(元)"])).sum();
    assert_eq!(sum, funded_total);
    // the workbook: one sheet per listed policy, codes as text, sums equal
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook(publish.join("公示名单.xlsx")).unwrap();
    let titles: BTreeMap<String, String> = summary
        .iter()
        .map(|s| (s["title"].clone(), s["policy"].clone()))
        .collect();
    let mut seen = 0;
    for name in book.sheet_names() {
        let range = book.worksheet_range(&name).unwrap();
        if name == "底数" {
            continue;
        }
        let title = range.get((0, 0)).unwrap().to_string();
        let policy = titles
            .iter()
            .find(|(t, _)| title.starts_with(t.as_str()))
            .map(|(_, id)| id.clone())
            .unwrap_or_else(|| panic!("sheet `{name}` title `{title}` names no policy"));
        assert!(title.contains("公示期7天"), "{title}");
        assert_eq!(
            range.get((1, 2)),
            Some(&Data::String("统一社会信用代码".into()))
        );
        // a qualification (no amount in decisions.csv) lists with no amount
        let qualification = decisions
            .iter()
            .any(|d| d["policy"] == policy && d["outcome"] == "eligible" && d["amount"].is_empty());
        if qualification {
            assert!(
                title.contains("拟入选企业名单公示（不涉及兑付金额）"),
                "{title}"
            );
        }
        let mut total = Decimal::ZERO;
        let mut rows = 0;
        for row in range.rows().skip(2) {
            assert!(
                matches!(&row[2], Data::String(s) if s.len() == 18),
                "code not text: {:?}",
                row[2]
            );
            match &row[6] {
                Data::Float(f) if !qualification => {
                    total += Decimal::from_str(&format!("{f:.2}")).unwrap()
                }
                Data::Empty | Data::String(_) if qualification => {
                    assert_eq!(row[6].to_string(), "", "no amount in `{name}`")
                }
                other => panic!("amount of `{name}` not as it should be: {other:?}"),
            }
            rows += 1;
        }
        assert_eq!(total, expected[&policy].1, "sheet `{name}`");
        assert_eq!(rows, expected[&policy].0, "sheet `{name}`");
        seen += 1;
    }
    assert_eq!(seen, expected.len(), "one sheet per policy listed");
}

#[test]
fn example_set_reconciles_and_reads_back() {
    let dir = workspace("example");
    run_example(&dir, &[]);
    let printed = ok(&dir, &["publish", "out", "--date", "2025-01-06"]);
    insta::assert_snapshot!("example_publish", printed);
    reconcile(&dir.join("out"));
    // the notice's title row, Chinese intact
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook(dir.join("out/publish/公示名单.xlsx")).unwrap();
    let range = book.worksheet_range("2024年度失业保险稳岗返还").unwrap();
    assert_eq!(
        range.get((0, 0)).unwrap().to_string(),
        "2024年度失业保险稳岗返还 拟兑付企业名单公示（公示期7天：2025-01-06 至 2025-01-12；公示日期 2025-01-06）"
    );
    // the work lists: one sheet per department with work
    let review: calamine::Xlsx<_> =
        calamine::open_workbook(dir.join("out/publish/待核实清单.xlsx")).unwrap();
    assert!(
        review.sheet_names().contains(&"人社".to_string()),
        "{:?}",
        review.sheet_names()
    );
    // the same run published twice gives the same files, workbooks included
    ok(
        &dir,
        &["publish", "out", "--date", "2025-01-06", "--to", "again"],
    );
    for f in [
        "公示名单.xlsx",
        "待核实清单.xlsx",
        "公示名单.csv",
        "report.html",
    ] {
        let a = std::fs::read(dir.join("out/publish").join(f)).unwrap();
        let b = std::fs::read(dir.join("again").join(f)).unwrap();
        assert!(a == b, "{f} differs between two publications");
    }
    // ... and into a folder that holds an earlier publication
    ok(
        &dir,
        &["publish", "out", "--date", "2025-01-06", "--to", "again"],
    );
    refuses_other_folders(&dir);
    // a run can still replace a folder that was published
    run_example(&dir, &["--publish", "--date", "2025-01-06"]);
    reconcile(&dir.join("out"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--to` never deletes what publishing did not write: a folder with other
/// files, the results folder itself, a folder holding it, a file.
fn refuses_other_folders(dir: &Path) {
    std::fs::create_dir_all(dir.join("mine/sub")).unwrap();
    std::fs::write(dir.join("mine/重要文件.docx"), "mine").unwrap();
    std::fs::write(dir.join("mine/sub/b.txt"), "b").unwrap();
    std::fs::write(dir.join("a-file"), "a").unwrap();
    for to in ["mine", "out", ".", "a-file"] {
        let (code, text) = mianshen(dir, &["publish", "out", "--date", "2025-01-06", "--to", to]);
        assert_eq!(code, 2, "--to {to}: {text}");
        assert!(text.contains("不能发布到"), "--to {to}: {text}");
    }
    let (_, text) = mianshen(
        dir,
        &["publish", "out", "--date", "2025-01-06", "--to", "mine"],
    );
    assert!(
        text.contains("重要文件.docx") && text.contains("sub"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("mine/重要文件.docx")).unwrap(),
        "mine"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("mine/sub/b.txt")).unwrap(),
        "b"
    );
    assert_eq!(std::fs::read_to_string(dir.join("a-file")).unwrap(), "a");
    for f in ["decisions.csv", "summary.csv", "manifest.json"] {
        assert!(dir.join("out").join(f).is_file(), "{f} is still there");
    }
    assert!(dir.join("policies").is_dir());
    // an empty folder is taken
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    ok(
        dir,
        &["publish", "out", "--date", "2025-01-06", "--to", "empty"],
    );
    assert!(dir.join("empty/公示名单.csv").is_file());
}

#[test]
fn messy_data_with_all_reconciles() {
    let dir = workspace("messy");
    ok(
        &dir,
        &[
            "generate",
            "policies",
            "--rows",
            "10000",
            "--seed",
            "5",
            "--messy",
            "--bad-rows",
            "0.02",
            "-o",
            "messy.csv",
        ],
    );
    ok(
        &dir,
        &[
            "run",
            "policies",
            "--data",
            "messy.csv",
            "--as-of",
            "2024-12-31",
            "--out",
            "out",
            "--all",
        ],
    );
    ok(&dir, &["publish", "out", "--date", "2025-01-06"]);
    reconcile(&dir.join("out"));
    let base = people_csv(&dir.join("out/publish/底数.csv"));
    assert!(
        base.iter()
            .any(|r| r["区县代码"] == "未识别" || r["行业门类"] == "未识别"),
        "unknown codes keep a row"
    );
    // the report lists the reasons for ineligibility of an --all run
    let html = std::fs::read_to_string(dir.join("out/publish/report.html")).unwrap();
    assert!(
        html.contains("足额缴纳失业保险满12个月"),
        "ineligible reasons listed"
    );
    // masked keys, and lists split over sheets
    ok(
        &dir,
        &[
            "publish",
            "out",
            "--date",
            "2025-01-06",
            "--mask-key",
            "7-14",
            "--sheet-rows",
            "100",
            "--to",
            "masked",
        ],
    );
    let list = people_csv(&dir.join("masked/公示名单.csv"));
    assert!(list.iter().all(|r| r["统一社会信用代码"]
        .chars()
        .skip(6)
        .take(8)
        .all(|c| c == '*')));
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook(dir.join("masked/公示名单.xlsx")).unwrap();
    let names = book.sheet_names();
    let split: Vec<&String> = names.iter().filter(|n| n.ends_with("（2）")).collect();
    assert!(
        !split.is_empty(),
        "a list of more than 98 firms is split: {names:?}"
    );
    let range = book.worksheet_range(split[0]).unwrap();
    assert!(range.get((0, 0)).unwrap().to_string().contains("此为第2个"));
    let mut total = Decimal::ZERO;
    for name in names.iter().filter(|n| !n.starts_with("底数")) {
        for row in book.worksheet_range(name).unwrap().rows().skip(2) {
            if let Data::Float(f) = &row[6] {
                total += Decimal::from_str(&format!("{f:.2}")).unwrap();
            }
        }
    }
    let csv_total: Decimal = list.iter().map(|r| money(&r["兑付金额(元)"])).sum();
    assert_eq!(total, csv_total);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Generates `rows` firms into `file` (`messy`: with bad rows).
fn generate(dir: &Path, file: &str, rows: &str, messy: bool) {
    let mut args = vec!["generate", "policies", "--rows", rows, "--seed", "3"];
    if messy {
        args.extend(["--messy", "--bad-rows", "0.05"]);
    }
    args.extend(["-o", file]);
    ok(dir, &args);
    let run = [
        "run",
        "policies",
        "--data",
        file,
        "--as-of",
        "2024-12-31",
        "--out",
        "out",
    ];
    ok(dir, &run);
}

/// A run whose manifest counts no rejected row is read again reading only
/// the cells publishing shows: the files are those of reading every cell
/// (the manifest made to say nothing of the file's rejected rows), byte for
/// byte; a manifest that claims no rejected row of messy data is refused.
#[test]
fn a_clean_run_is_read_again_by_the_cells_it_shows() {
    let dir = workspace("clean");
    generate(&dir, "clean.csv", "3000", false);
    let manifest = std::fs::read_to_string(dir.join("out/manifest.json")).unwrap();
    assert!(manifest.contains("\"rejected_rows\": 0,"), "{manifest}");
    ok(
        &dir,
        &["publish", "out", "--date", "2025-01-06", "--to", "fast"],
    );
    // the file's own count first: without it, every cell is read
    let plain = manifest.replacen("\"rejected_rows\": 0,", "\"rejected_rows\": null,", 1);
    assert_ne!(plain, manifest);
    std::fs::write(dir.join("out/manifest.json"), plain).unwrap();
    ok(
        &dir,
        &["publish", "out", "--date", "2025-01-06", "--to", "plain"],
    );
    for f in mianshen::publish::FILES {
        let a = std::fs::read(dir.join("fast").join(f)).unwrap();
        let b = std::fs::read(dir.join("plain").join(f)).unwrap();
        assert!(a == b, "{f} differs between the two ways of reading");
    }
    // messy data whose manifest claims no rejected row
    let _ = std::fs::remove_dir_all(dir.join("out"));
    generate(&dir, "messy.csv", "3000", true);
    let m = std::fs::read_to_string(dir.join("out/manifest.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&m).unwrap();
    let rejected = v["counts"]["rejected_rows"].as_u64().unwrap();
    assert!(rejected > 0, "{m}");
    let claim = m.replace(
        &format!("\"rejected_rows\": {rejected},"),
        "\"rejected_rows\": 0,",
    );
    std::fs::write(dir.join("out/manifest.json"), claim).unwrap();
    let (code, text) = mianshen(&dir, &["publish", "out", "--date", "2025-01-06"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("结果文件与运行不符"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_folders_are_refused() {
    let dir = workspace("refused");
    run_example(&dir, &[]);
    let copy = |name: &str| {
        let to = dir.join(name);
        copy_dir(&dir.join("out"), &to);
        to
    };
    // no date: the notice date is an input, never the clock
    let (code, text) = mianshen(&dir, &["publish", "out"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("--date"), "{text}");
    // incomplete
    let incomplete = copy("incomplete");
    std::fs::remove_file(incomplete.join("decisions.csv")).unwrap();
    let (code, text) = mianshen(&dir, &["publish", "incomplete", "--date", "2025-01-06"]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("结果目录不完整") && text.contains("decisions.csv"),
        "{text}"
    );
    // another engine version
    let older = copy("older");
    let m = std::fs::read_to_string(older.join("manifest.json")).unwrap();
    std::fs::write(
        older.join("manifest.json"),
        m.replace(env!("CARGO_PKG_VERSION"), "0.0.1"),
    )
    .unwrap();
    let (code, text) = mianshen(&dir, &["publish", "older", "--date", "2025-01-06"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("mianshen 0.0.1"), "{text}");
    // decisions.csv edited after the run
    let edited = copy("edited");
    let d = std::fs::read_to_string(edited.join("decisions.csv")).unwrap();
    let line = d
        .lines()
        .find(|l| l.contains(",eligible,") && l.contains("wengang"))
        .unwrap();
    let changed = line.replacen(",eligible,", ",review,", 1);
    std::fs::write(edited.join("decisions.csv"), d.replacen(line, &changed, 1)).unwrap();
    let (code, text) = mianshen(&dir, &["publish", "edited", "--date", "2025-01-06"]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("结果文件与运行不符") && text.contains("wengang_2024"),
        "{text}"
    );
    assert!(!edited.join("publish").exists(), "nothing published");
    // the data changed since the run
    let data = dir.join("policies/data/firms.csv");
    let mut bytes = std::fs::read(&data).unwrap();
    bytes.extend_from_slice(b"\n");
    std::fs::write(&data, bytes).unwrap();
    let (code, text) = mianshen(&dir, &["publish", "out", "--date", "2025-01-06"]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("has changed") && text.contains("firms.csv"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_schema_without_name_publishes_the_key_and_says_so() {
    let dir = workspace("noname");
    let schema = dir.join("policies/schema.yaml");
    let text = std::fs::read_to_string(&schema)
        .unwrap()
        .replace("\nname: name\n", "\n");
    std::fs::write(&schema, text).unwrap();
    run_example(&dir, &[]);
    let (code, text) = mianshen(
        &dir,
        &[
            "publish",
            "out",
            "--date",
            "2025-01-06",
            "--csv-encoding",
            "gb18030",
        ],
    );
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("no `name:` field"), "{text}");
    let bytes = std::fs::read(dir.join("out/publish/公示名单.csv")).unwrap();
    assert!(
        !bytes.starts_with(&[0xef, 0xbb, 0xbf]),
        "GB18030 has no BOM"
    );
    let (decoded, _, errors) = encoding_rs::GB18030.decode(&bytes);
    assert!(!errors);
    let second = decoded.lines().nth(1).unwrap();
    assert!(second.contains(",1,,"), "no name: {second}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Chromium, as `.ci/run` installs it (Debian package `chromium`).
fn chromium() -> PathBuf {
    for name in [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "chrome-headless-shell",
    ] {
        for dir in std::env::var("PATH").unwrap_or_default().split(':') {
            let p = Path::new(dir).join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "the HTML report test needs Chromium and found none on PATH: install it (`apt-get install chromium`; .ci/run does this as root)"
    );
}

#[test]
fn report_renders_in_chromium() {
    let dir = workspace("html");
    run_example(&dir, &["--all"]);
    ok(&dir, &["publish", "out", "--date", "2025-01-06"]);
    let page = dir.join("out/publish/report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "self-contained"
    );
    let url = format!("file://{}", page.display());
    let browser = chromium();
    let headless = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
    ];
    let dom = std::process::Command::new(&browser)
        .args(headless)
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("run chromium");
    let stdout = String::from_utf8_lossy(&dom.stdout);
    let stderr = String::from_utf8_lossy(&dom.stderr);
    let console: Vec<&str> = stderr.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:?}");
    assert!(
        stdout.contains("data-check=\"ok\""),
        "a chart drew nothing: {}",
        stdout
            .lines()
            .find(|l| l.contains("data-check"))
            .unwrap_or("no check ran")
    );
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("publish-report.png");
    let _ = std::fs::remove_file(&shot);
    let out = std::process::Command::new(&browser)
        .args(headless)
        .arg("--window-size=1100,2000")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "a screenshot with something on it ({} bytes)",
        png.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
