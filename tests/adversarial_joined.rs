//! Hostile inputs for runs over several departments' files (LANGUAGE.md
//! section 11) and for workbooks among them, beside `adversarial.rs`'s
//! catalogue of single files: each gives a clear error or reject, never a
//! panic, and every row of every file is accounted for.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use rust_xlsxwriter::{Format, Formula, Workbook};

const SCHEMA: &str = "\
key: code
fields:
  code:  { type: text,    title: 代码, source: 甲 }
  count: { type: integer, title: 人数, source: 甲 }
  ratio: { type: number,  title: 系数, source: 甲 }
  money: { type: money,   title: 金额, source: 甲 }
  rate:  { type: percent, title: 比率, source: 甲 }
  day:   { type: date,    title: 日期, source: 甲 }
  flag:  { type: bool,    title: 标志, source: 甲 }
  note:  { type: text,    title: 备注, source: 甲 }
  size:  { type: enum,    title: 规模, values: [大, 小], source: 甲 }
  tags:  { type: list,    title: 标签, source: 甲 }
";

const POLICY: &str = r#"
policy p {
    title "每种类型"
    require "人数" count >= 1
    require "系数" ratio > 0
    require "比率" rate <= 50%
    require "日期" day <= 2024-12-31
    exclude "标志" flag
    require "备注" note is present
    require "规模" size == "小"
    require "标签" tags contains "甲"
    amount money
}
"#;

const HEADER: &str = "代码,人数,系数,金额,比率,日期,标志,备注,规模,标签";

/// A scratch folder with the policy set in `policies/`, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir =
            std::env::temp_dir().join(format!("mianshen-adv-join-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("policies")).unwrap();
        std::fs::write(dir.join("policies/schema.yaml"), SCHEMA).unwrap();
        std::fs::write(dir.join("policies/p.policy"), POLICY).unwrap();
        Dir(dir)
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.0.join(name), text).unwrap();
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.0.join(name)).unwrap()
    }

    /// `run policies --data … --as-of 2024-12-31 --all --out out`: exit
    /// status and what it printed; never a panic.
    fn run(&self, data: &[&str]) -> (i32, String) {
        let _ = std::fs::remove_dir_all(self.0.join("out"));
        let mut args = vec!["run", "policies"];
        for d in data {
            args.extend(["--data", d]);
        }
        args.extend(["--as-of", "2024-12-31", "--all", "--out", "out"]);
        let (code, text) = common::mianshen(&self.0, &args);
        assert!(!text.contains("panicked"), "{text}");
        (code, text)
    }

    /// A run that stopped before evaluating anything, naming `file` and
    /// saying `says`.
    fn refused(&self, data: &[&str], file: &str, says: &str) {
        let (code, text) = self.run(data);
        assert_eq!(code, 2, "{text}");
        assert!(text.contains(&format!("`{file}`")), "{text}");
        assert!(text.contains(says), "{text}");
        assert!(!self.0.join("out").exists(), "no results");
    }

    /// A completed run: every row of every file is an evaluated firm's or
    /// rejected, as the manifest counts them. The firms evaluated.
    fn accounted(&self, data: &[&str]) -> BTreeSet<String> {
        let (code, text) = self.run(data);
        assert_eq!(code, 0, "{text}");
        let manifest: serde_json::Value =
            serde_json::from_str(&self.read("out/manifest.json")).unwrap();
        let rejects = self.read("out/rejects.csv");
        for f in manifest["data"].as_array().unwrap() {
            let name = f["path"].as_str().unwrap();
            let rejected: BTreeSet<&str> = rejects
                .lines()
                .skip(1)
                .filter(|l| l.ends_with(&format!(",{name}")))
                .filter_map(|l| l.split(',').next())
                .collect();
            let n = |k: &str| f[k].as_u64().unwrap();
            assert_eq!(n("rejected_rows"), rejected.len() as u64, "{name}");
            assert_eq!(
                n("rows"),
                n("evaluated_rows") + n("rejected_rows"),
                "{name}"
            );
        }
        self.read("out/decisions.csv")
            .lines()
            .skip(1)
            .filter_map(|l| l.split(',').next())
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn keys(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

/// a.csv (甲) and b.csv (乙): K1 written differently but equal in every
/// type, K2 different in every type, K3 only in b.csv, K4 twice in a.csv
/// and once in b.csv.
fn two_departments(dir: &Dir) {
    dir.write(
        "a.csv",
        &format!(
            "{HEADER}\n\
             K1,12,1.50,12.5万,5.5%,2024-01-05,否,好,小,甲;乙\n\
             K2,12,1.5,100,5%,2024-01-05,否,好,小,甲\n\
             K4,1,1,1,1%,2024-01-01,否,好,小,甲\n\
             K4,1,1,1,1%,2024-01-01,否,好,小,甲\n"
        ),
    );
    dir.write(
        "b.csv",
        &format!(
            "{HEADER}\n\
             K1,12,1.5,125000,0.055,2024年1月5日,false,好,小,乙|甲\n\
             K2,13,2.5,200,6%,2024/2/5,是,坏,大,乙\n\
             K3,1,1,300,1%,2024-01-01,否,好,小,甲\n\
             K4,1,1,1,1%,2024-01-01,否,好,小,甲\n"
        ),
    );
}

#[test]
fn conflicting_values_of_every_type() {
    let dir = Dir::new("types");
    two_departments(&dir);
    let firms = dir.accounted(&["甲=a.csv", "乙=b.csv"]);
    assert_eq!(firms, keys(&["K1", "K2", "K3"]));
    // K1's values are equal as typed: no conflict; K2's differ in every
    // field but the key, and 甲's are used
    let fields = [
        ("count", "12", "13"),
        ("ratio", "1.5", "2.5"),
        ("money", "100", "200"),
        ("rate", "5%", "6%"),
        ("day", "2024-01-05", "2024/2/5"),
        ("flag", "否", "是"),
        ("note", "好", "坏"),
        ("size", "小", "大"),
        ("tags", "甲", "乙"),
    ];
    let mut sorted = fields.to_vec();
    sorted.sort();
    let mut want = String::from("key,field,file,row,value,used\n");
    for (field, a, b) in sorted {
        want += &format!("K2,{field},a.csv,3,{a},true\nK2,{field},b.csv,3,{b},false\n");
    }
    assert_eq!(dir.read("out/conflicts.csv"), want);
    let decisions = dir.read("out/decisions.csv");
    assert!(
        decisions.contains("K1,p,eligible,125000.00,125000.00,"),
        "{decisions}"
    );
    assert!(
        decisions.contains("K2,p,eligible,100.00,100.00,"),
        "{decisions}"
    );
    // K4: twice in a.csv rejects both, and its row in b.csv with them
    let rejects = dir.read("out/rejects.csv");
    assert!(
        rejects.contains("4,代码,K4,the key is also on row 5,a.csv"),
        "{rejects}"
    );
    assert!(
        rejects.contains("5,代码,K4,the key is also on row 4,a.csv"),
        "{rejects}"
    );
    assert!(
        rejects.contains("5,代码,K4,\"row 4 of `a.csv`, a row of the same firm, cannot be read (nor can one more of its rows)"),
        "{rejects}"
    );

    // without SOURCE=, no file settles a conflict: every field of K2 is
    // missing, and no value is marked used
    let firms = dir.accounted(&["a.csv", "b.csv"]);
    assert_eq!(firms, keys(&["K1", "K2", "K3"]));
    let conflicts = dir.read("out/conflicts.csv");
    assert_eq!(conflicts.lines().count(), 19, "{conflicts}");
    assert!(!conflicts.contains(",true\n"), "{conflicts}");
    let decisions = dir.read("out/decisions.csv");
    // `note is present` is false on a missing note: the firm is ineligible,
    // and the explanation of its reason names the missing value
    assert!(
        decisions.contains("K2,p,ineligible,,,备注; values: note=missing"),
        "{decisions}"
    );
}

#[test]
fn the_same_file_twice() {
    let dir = Dir::new("twice");
    two_departments(&dir);
    dir.refused(&["a.csv", "a.csv"], "a.csv", "is given twice");
    dir.refused(&["甲=a.csv", "乙=./a.csv"], "./a.csv", "is given twice");
}

#[test]
fn a_file_without_the_key_column_among_several() {
    let dir = Dir::new("nokey");
    two_departments(&dir);
    dir.write("c.csv", "人数,金额\n1,2\n");
    dir.refused(
        &["甲=a.csv", "c.csv", "乙=b.csv"],
        "c.csv",
        "no column for the key field `code`",
    );
}

/// Writes `book` as `name` with every `<v>0</v>` after a formula taken
/// out (formulas saved without their values, as a program that does not
/// calculate saves them), and the text result `EMPTY` made the empty text
/// (a formula calculated to "", as Excel saves `=IF(…, "", …)`).
fn without_values(dir: &Dir, name: &str, mut book: Workbook) {
    use std::io::{Read, Write};
    let bytes = book.save_to_buffer().unwrap();
    let mut zin = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut zout = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..zin.len() {
        let mut part = zin.by_index(i).unwrap();
        let part_name = part.name().unwrap().into_owned();
        let mut text = Vec::new();
        part.read_to_end(&mut text).unwrap();
        if part_name == "xl/worksheets/sheet1.xml" {
            let xml = String::from_utf8(text).unwrap();
            assert!(xml.contains("</f><v>0</v>"), "{xml}");
            assert!(xml.contains("t=\"str\"><f>\"\"</f><v>EMPTY</v>"), "{xml}");
            text = xml
                .replace("</f><v>0</v>", "</f>")
                .replace("<v>EMPTY</v>", "<v></v>")
                .into_bytes();
        }
        zout.start_file(part_name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zout.write_all(&text).unwrap();
    }
    std::fs::write(dir.0.join(name), zout.finish().unwrap().into_inner()).unwrap();
}

#[test]
fn a_formula_without_its_value_is_rejected_with_its_firm() {
    let dir = Dir::new("formula");
    two_departments(&dir);
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "代码").unwrap();
    sheet.write_string(0, 1, "金额").unwrap();
    sheet.write_string(1, 0, "K1").unwrap();
    sheet.write_formula(1, 1, Formula::new("=10+2")).unwrap();
    sheet.write_string(2, 0, "K3").unwrap();
    // a formula whose value is the empty text was calculated: missing
    sheet
        .write_formula(2, 1, Formula::new("=\"\"").set_result("EMPTY"))
        .unwrap();
    without_values(&dir, "formula.xlsx", book);
    let firms = dir.accounted(&["甲=a.csv", "乙=formula.xlsx"]);
    assert_eq!(firms, keys(&["K2", "K3"]));
    let rejects = dir.read("out/rejects.csv");
    assert!(
        rejects.contains(
            "2,金额,=10+2,\"公式没有计算结果 (a formula saved without its computed value"
        ),
        "{rejects}"
    );
    assert!(
        rejects.contains(
            "2,代码,K1,\"row 2 of `formula.xlsx`, a row of the same firm, cannot be read"
        ),
        "{rejects}"
    );
}

#[test]
fn merged_cells_read_as_their_first_cell() {
    let dir = Dir::new("merged");
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in ["代码", "金额", "规模", "备注", "标签"].iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for r in 1..=5 {
        sheet.write_string(r, 3, "好").unwrap();
        sheet.write_string(r, 4, "甲").unwrap();
    }
    // 规模 merged down rows 2-4, as reports group firms; 代码 merged over
    // rows 5-6
    for (r, code) in [(1, "M1"), (2, "M2"), (3, "M3")] {
        sheet.write_string(r, 0, code).unwrap();
        sheet.write_number(r, 1, 100).unwrap();
    }
    sheet.merge_range(1, 2, 3, 2, "小", &Format::new()).unwrap();
    sheet.merge_range(4, 0, 5, 0, "M5", &Format::new()).unwrap();
    sheet.write_number(4, 1, 100).unwrap();
    sheet.write_number(5, 1, 200).unwrap();
    book.save(dir.0.join("merged.xlsx")).unwrap();
    let firms = dir.accounted(&["merged.xlsx"]);
    assert_eq!(firms, keys(&["M1", "M2", "M3", "M5"]));
    let decisions = dir.read("out/decisions.csv");
    // only the first row of a merged range holds its value
    assert!(decisions.contains("M2,p,"), "{decisions}");
    let line = |k: &str| decisions.lines().find(|l| l.starts_with(k)).unwrap();
    assert!(line("M1,").starts_with("M1,p,review,"), "{decisions}");
    assert!(!line("M1,").contains("size"), "{decisions}");
    assert!(
        line("M2,").contains("missing: ") && line("M2,").contains("size"),
        "{decisions}"
    );
    let rejects = dir.read("out/rejects.csv");
    assert!(
        rejects.contains("6,代码,,the key is empty,merged.xlsx"),
        "{rejects}"
    );
}

#[test]
fn an_empty_sheet_among_several() {
    let dir = Dir::new("empty");
    two_departments(&dir);
    let mut book = Workbook::new();
    book.add_worksheet();
    book.save(dir.0.join("empty.xlsx")).unwrap();
    dir.refused(&["甲=a.csv", "empty.xlsx"], "empty.xlsx", "is empty");
}

#[test]
fn a_sheet_of_16384_columns() {
    const COLUMNS: u16 = 16_384;
    let dir = Dir::new("wide");
    two_departments(&dir);
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "代码").unwrap();
    for c in 1..COLUMNS - 1 {
        sheet.write_string(0, c, format!("x{c}")).unwrap();
    }
    // the last column Excel has, XFD
    sheet.write_string(0, COLUMNS - 1, "金额").unwrap();
    for (r, code) in [(1, "K1"), (2, "K3")] {
        sheet.write_string(r, 0, code).unwrap();
        sheet.write_string(r, 7, "x").unwrap();
    }
    sheet.write_number(1, COLUMNS - 1, 125000).unwrap();
    sheet.write_number(2, COLUMNS - 1, 300).unwrap();
    book.save(dir.0.join("wide.xlsx")).unwrap();
    let firms = dir.accounted(&["甲=a.csv", "乙=b.csv", "wide.xlsx"]);
    assert_eq!(firms, keys(&["K1", "K2", "K3"]));
    // the wide sheet's amounts, read from its last column, agree with the
    // other files (125000 is 12.5万): no conflict of its own
    assert!(!dir.read("out/conflicts.csv").contains("wide.xlsx"));
    let manifest: serde_json::Value = serde_json::from_str(&dir.read("out/manifest.json")).unwrap();
    let unknown = manifest["data"][2]["unknown_columns"].as_array().unwrap();
    assert_eq!(unknown.len(), usize::from(COLUMNS) - 2);
}

/// `a.csv` of `rows` firms, each clean: several batches of rows, read
/// ahead while the run opens its other files.
fn many_firms(dir: &Dir, name: &str, rows: usize) {
    let mut text = format!("{HEADER}\n");
    for i in 0..rows {
        text.push_str(&format!("F{i:06},12,1.5,100,5%,2024-01-05,否,好,小,甲\n"));
    }
    dir.write(name, &text);
}

#[test]
fn a_workbook_that_fails_to_open_while_csv_files_are_read_ahead() {
    let dir = Dir::new("ahead");
    many_firms(&dir, "big.csv", 70_000);
    two_departments(&dir);
    dir.write("broken.xlsx", "这不是工作簿 (not a workbook)\n");
    let says = "cannot be read as an Excel workbook";
    dir.refused(
        &["甲=big.csv", "broken.xlsx", "乙=b.csv"],
        "broken.xlsx",
        says,
    );
    dir.refused(&["broken.xlsx", "甲=big.csv"], "broken.xlsx", says);
    // a workbook cut short: its zip's directory is gone
    let mut book = Workbook::new();
    book.add_worksheet().write_string(0, 0, "代码").unwrap();
    let bytes = book.save_to_buffer().unwrap();
    std::fs::write(dir.0.join("cut.xlsx"), &bytes[..bytes.len() / 2]).unwrap();
    dir.refused(&["甲=big.csv", "cut.xlsx"], "cut.xlsx", says);
    // files opened side by side: the error is still the first file's
    dir.refused(
        &["甲=big.csv", "missing.csv", "broken.xlsx"],
        "missing.csv",
        "cannot read the data file",
    );
    dir.refused(
        &["甲=big.csv", "broken.xlsx", "missing.csv"],
        "broken.xlsx",
        says,
    );
    // and the files read ahead are read whole when nothing fails
    let firms = dir.accounted(&["甲=big.csv", "乙=b.csv"]);
    assert_eq!(firms.len(), 70_004);
}
