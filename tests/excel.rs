//! Excel workbooks as data files (LANGUAGE.md section 8): real `.xlsx` files
//! written by rust_xlsxwriter, read by the library and by `mianshen run`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::str::FromStr;

use common::assert_rows_accounted;
use common::oracle::read;
use mianshen::data::ReadOptions;
use mianshen::record::Cell;
use rust_decimal::Decimal;
use rust_xlsxwriter::{ExcelDateTime, Format, Formula, Workbook, Worksheet};
use sha2::{Digest, Sha256};

// Valid credit codes.
const A: &str = "91350100M000100Y43";
const B: &str = "91420102MA4K2L3R0G";
const C: &str = "91420102MA4K2L3R63";
const D: &str = "91420102MA4K2L3R76";
const E: &str = "91420112MAW4G4L943";
const F: &str = "91420115MABBHXGCXD";

const SCHEMA: &str = "\
key: uscc
fields:
  uscc:          { type: text,    title: 统一社会信用代码, check: uscc, source: 市场监管 }
  name:          { type: text,    title: 企业名称, source: 市场监管 }
  region:        { type: text,    title: 行政区划代码, source: 市场监管 }
  revenue:       { type: money,   title: 营业收入, source: 税务 }
  rate:          { type: percent, title: 裁员率, source: 人社 }
  staff:         { type: integer, title: 职工人数, source: 人社 }
  registered_on: { type: date,    title: 成立日期, source: 市场监管 }
  dishonest:     { type: bool,    title: 严重失信, source: 信用 }
";

const POLICY: &str = r#"
policy award {
    title "测试奖励"
    require "注册地在本区" region == "420102"
    require "2020年前成立" registered_on < 2020-01-01
    require "裁员率不高于10%" rate <= 10%
    exclude "列入严重失信主体名单" dishonest
    amount "营业收入的10%" { revenue * 10% }
}
"#;

const HEADER: [&str; 8] = [
    "统一社会信用代码",
    "企业名称",
    "行政区划代码",
    "营业收入",
    "裁员率",
    "职工人数",
    "成立日期",
    "严重失信",
];

/// A scratch folder with the policy set in `policies/`, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir =
            std::env::temp_dir().join(format!("mianshen-excel-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("policies")).unwrap();
        std::fs::write(dir.join("policies/schema.yaml"), SCHEMA).unwrap();
        std::fs::write(dir.join("policies/award.policy"), POLICY).unwrap();
        Dir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn mianshen(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mianshen"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run mianshen")
}

/// `mianshen run policies --data … --as-of 2024-12-31 --all --out out`.
fn run(dir: &Dir, data: &[&str]) -> Output {
    let mut args = vec!["run", "policies"];
    for d in data {
        args.extend(["--data", d]);
    }
    args.extend(["--as-of", "2024-12-31", "--all", "--out", "out"]);
    mianshen(&dir.0, &args)
}

fn run_ok(dir: &Dir, data: &[&str]) {
    let out = run(dir, data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn date_format() -> Format {
    Format::new().set_num_format("yyyy-mm-dd")
}

fn date(sheet: &mut Worksheet, row: u32, col: u16, ymd: (u16, u8, u8)) {
    let d = ExcelDateTime::from_ymd(ymd.0, ymd.1, ymd.2).unwrap();
    sheet
        .write_datetime_with_format(row, col, &d, &date_format())
        .unwrap();
}

fn error(sheet: &mut Worksheet, row: u32, col: u16, formula: &str, shown: &str) {
    sheet
        .write_formula(row, col, Formula::new(formula).set_result(shown))
        .unwrap();
}

/// The workbook most tests read: every kind of cell, on the sheet's rows 1-9.
///
/// | row | what |
/// |---|---|
/// | 2 | A: numbers (420102, 12.5, 0.1, 30), a date cell, `false` |
/// | 3 | B: texts (`420102`, `12.5万`, `5%`, `2018/1/5`), an empty cell, `false` |
/// | 4 | C: 1234567.89, 0.055, a date cell after 2020 |
/// | 5 | D: `#N/A` in 营业收入 |
/// | 6 | blank |
/// | 7 | a credit code stored as a number |
/// | 8 | E: 营业收入 empty; 职工人数 a formula with a cached 12 |
/// | 9 | F: `true` in 严重失信 |
fn firms_workbook() -> Workbook {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in HEADER.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    // row 2
    sheet.write_string(1, 0, A).unwrap();
    sheet.write_string(1, 1, "甲公司").unwrap();
    sheet.write_number(1, 2, 420102).unwrap();
    sheet.write_number(1, 3, 12.5).unwrap();
    sheet.write_number(1, 4, 0.1).unwrap();
    sheet.write_number(1, 5, 30).unwrap();
    date(sheet, 1, 6, (2019, 6, 30));
    sheet.write_boolean(1, 7, false).unwrap();
    // row 3
    sheet.write_string(2, 0, B).unwrap();
    sheet.write_string(2, 1, " 乙公司 ").unwrap();
    sheet.write_string(2, 2, "420102").unwrap();
    sheet.write_string(2, 3, "12.5万").unwrap();
    sheet.write_string(2, 4, "5%").unwrap();
    sheet.write_string(2, 6, "2018/1/5").unwrap();
    sheet.write_boolean(2, 7, false).unwrap();
    // row 4
    sheet.write_string(3, 0, C).unwrap();
    sheet.write_number(3, 2, 420102).unwrap();
    sheet.write_number(3, 3, 1234567.89).unwrap();
    sheet.write_number(3, 4, 0.055).unwrap();
    date(sheet, 3, 6, (2024, 1, 5));
    // row 5
    sheet.write_string(4, 0, D).unwrap();
    sheet.write_number(4, 2, 420102).unwrap();
    error(sheet, 4, 3, "=NA()", "#N/A");
    sheet.write_number(4, 4, 0.01).unwrap();
    // row 6 blank; row 7: a code Excel turned into a number
    sheet.write_number(6, 0, 914201020000000123.0).unwrap();
    sheet.write_number(6, 3, 100).unwrap();
    // row 8
    sheet.write_string(7, 0, E).unwrap();
    sheet.write_number(7, 2, 420102).unwrap();
    sheet.write_number(7, 4, 0.02).unwrap();
    sheet
        .write_formula(7, 5, Formula::new("=10+2").set_result("12"))
        .unwrap();
    date(sheet, 7, 6, (2010, 3, 1));
    // row 9
    sheet.write_string(8, 0, F).unwrap();
    sheet.write_number(8, 2, 420102).unwrap();
    sheet.write_number(8, 3, 100).unwrap();
    sheet.write_number(8, 4, 0.01).unwrap();
    date(sheet, 8, 6, (2010, 3, 1));
    sheet.write_boolean(8, 7, true).unwrap();
    book
}

fn decimal(s: &str) -> Cell {
    Cell::Num(Decimal::from_str(s).unwrap())
}

fn schema() -> mianshen::schema::Schema {
    let engine =
        mianshen::Engine::from_texts(SCHEMA, &[("award.policy", POLICY)]).expect("the set checks");
    engine.program().schema.clone()
}

#[test]
fn cells_are_read_as_the_contract_says() {
    let dir = Dir::new("cells");
    let path = dir.path("firms.xlsx");
    firms_workbook().save(&path).unwrap();
    let schema = schema();
    let set = read(&path, &schema, &ReadOptions::default()).expect("the workbook reads");
    assert_rows_accounted(&set);
    assert_eq!(set.rows, 7, "the blank row 6 is no row");
    let field = |name: &str| schema.lookup(name).unwrap();
    let rows: Vec<u64> = set.records.iter().map(|r| r.row).collect();
    assert_eq!(rows, [2, 3, 4, 8, 9], "numbered by the sheet's rows");
    let a = &set.records[0];
    assert_eq!(a.cells[field("region")], Cell::Text("420102".into()));
    assert_eq!(a.cells[field("revenue")], decimal("12.5"));
    assert_eq!(
        a.cells[field("rate")],
        decimal("0.1"),
        "0.1, not its binary"
    );
    assert_eq!(a.cells[field("staff")], decimal("30"));
    assert_eq!(
        a.cells[field("registered_on")],
        Cell::Date(mianshen::date::Date::parse_iso("2019-06-30").unwrap())
    );
    assert_eq!(a.cells[field("dishonest")], Cell::Bool(false));
    let b = &set.records[1];
    assert_eq!(b.cells[field("name")], Cell::Text(" 乙公司 ".into()));
    assert_eq!(b.cells[field("revenue")], decimal("125000"));
    assert_eq!(b.cells[field("rate")], decimal("0.05"));
    assert_eq!(b.cells[field("staff")], Cell::Missing, "an empty cell");
    assert_eq!(
        b.cells[field("registered_on")],
        Cell::Date(mianshen::date::Date::parse_iso("2018-01-05").unwrap())
    );
    let c = &set.records[2];
    assert_eq!(c.cells[field("revenue")], decimal("1234567.89"));
    assert_eq!(c.cells[field("rate")], decimal("0.055"));
    let e = &set.records[3];
    assert_eq!(e.cells[field("revenue")], Cell::Missing);
    assert_eq!(e.cells[field("staff")], decimal("12"), "a formula's value");
    assert_eq!(set.records[4].cells[field("dishonest")], Cell::Bool(true));
    let rejects: Vec<(u64, &str, &str)> = set
        .rejects
        .iter()
        .map(|r| (r.row, r.column.as_str(), r.value.as_str()))
        .collect();
    assert_eq!(
        rejects,
        [
            (5, "营业收入", "#N/A"),
            (7, "统一社会信用代码", "914201020000000100"),
        ]
    );
    assert!(set.rejects[0].reason.starts_with("Excel error cell"));
    let lost = &set.rejects[1].reason;
    assert!(lost.contains("stores this code as a number"), "{lost}");
    assert!(lost.contains("cannot be recovered"), "{lost}");
}

#[test]
fn a_run_over_a_workbook() {
    let dir = Dir::new("run");
    firms_workbook().save(dir.path("firms.xlsx")).unwrap();
    run_ok(&dir, &["firms.xlsx"]);
    assert_eq!(
        dir.read("out/decisions.csv"),
        format!(
            "key,policy,outcome,amount,funded,reasons\n\
             {A},award,eligible,1.25,1.25,\n\
             {B},award,eligible,12500.00,12500.00,\n\
             {C},award,ineligible,,,2020年前成立; values: registered_on=2024-01-05\n\
             {E},award,review,,,\"列入严重失信主体名单; 营业收入的10%; missing: revenue, dishonest\"\n\
             {F},award,ineligible,,,列入严重失信主体名单; values: dishonest=true\n"
        )
    );
    let rejects = dir.read("out/rejects.csv");
    let lines: Vec<&str> = rejects.lines().collect();
    assert_eq!(lines[0], "row,column,value,reason,file");
    assert!(
        lines[1].starts_with("5,营业收入,#N/A,\"Excel error cell:"),
        "{rejects}"
    );
    assert!(lines[1].ends_with(",firms.xlsx"), "{rejects}");
    assert!(
        lines[2].starts_with("7,统一社会信用代码,914201020000000100,"),
        "{rejects}"
    );
    assert_eq!(lines.len(), 3, "{rejects}");
    // the manifest holds the hash of the workbook's bytes
    let manifest: serde_json::Value = serde_json::from_str(&dir.read("out/manifest.json")).unwrap();
    let bytes = std::fs::read(dir.path("firms.xlsx")).unwrap();
    let sha = format!("{:x}", Sha256::digest(&bytes));
    assert!(
        manifest.to_string().contains(&sha),
        "{manifest:#}\nwants {sha}"
    );
}

/// A key on several rows rejects each of them, named by sheet rows (without
/// reading the workbook again), and `verify` replays the run.
#[test]
fn a_key_on_several_rows_of_a_sheet() {
    let dir = Dir::new("duplicates");
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in ["统一社会信用代码", "营业收入"].iter().enumerate() {
        sheet.write_string(1, c as u16, *h).unwrap();
    }
    for (r, (key, revenue)) in [(A, 1.0), (B, 2.0), (A, 3.0), (C, 4.0), (A, 5.0)]
        .into_iter()
        .enumerate()
    {
        sheet.write_string(2 + r as u32, 0, key).unwrap();
        sheet.write_number(2 + r as u32, 1, revenue).unwrap();
    }
    book.save(dir.path("dup.xlsx")).unwrap();
    run_ok(&dir, &["dup.xlsx"]);
    assert_eq!(
        dir.read("out/rejects.csv"),
        format!(
            "row,column,value,reason,file\n\
             3,统一社会信用代码,{A},\"the key is also on rows 5, 7\",dup.xlsx\n\
             5,统一社会信用代码,{A},\"the key is also on rows 3, 7\",dup.xlsx\n\
             7,统一社会信用代码,{A},\"the key is also on rows 3, 5\",dup.xlsx\n"
        )
    );
    let decisions = dir.read("out/decisions.csv");
    assert!(decisions.contains(B) && decisions.contains(C) && !decisions.contains(A));
    let verify = mianshen(&dir.0, &["verify", "out"]);
    assert!(
        verify.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
}

/// An Excel 97-2003 workbook (`tests/workbooks/make_xls.py` says how it was
/// made) reads as the `.xlsx` does: the same rows less 8.
#[test]
fn an_xls_workbook_reads_alike() {
    let dir = Dir::new("xls");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workbooks/firms.xls");
    std::fs::copy(fixture, dir.path("firms.xls")).unwrap();
    run_ok(&dir, &["firms.xls"]);
    assert_eq!(
        dir.read("out/decisions.csv"),
        format!(
            "key,policy,outcome,amount,funded,reasons\n\
             {A},award,eligible,1.25,1.25,\n\
             {B},award,eligible,12500.00,12500.00,\n\
             {C},award,ineligible,,,2020年前成立; values: registered_on=2024-01-05\n\
             {F},award,ineligible,,,列入严重失信主体名单; values: dishonest=true\n"
        )
    );
    let rejects = dir.read("out/rejects.csv");
    let rows: Vec<&str> = rejects
        .lines()
        .skip(1)
        .map(|l| &l[..l.find(",\"").unwrap()])
        .collect();
    assert_eq!(
        rows,
        ["5,营业收入,#N/A", "7,统一社会信用代码,914201020000000100"],
        "{rejects}"
    );
    assert!(
        rejects.contains("stores this code as a number"),
        "{rejects}"
    );
}

#[test]
fn the_header_need_not_be_on_a1() {
    let dir = Dir::new("offset");
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    // header on row 3 from column C; rows 1-2 and columns A-B empty
    for (c, h) in ["统一社会信用代码", "营业收入", "裁员率"]
        .iter()
        .enumerate()
    {
        sheet.write_string(2, 2 + c as u16, *h).unwrap();
    }
    sheet.write_string(3, 2, A).unwrap();
    sheet.write_string(3, 3, "12.5").unwrap();
    sheet.write_string(5, 2, B).unwrap();
    error(sheet, 5, 3, "=1/0", "#DIV/0!");
    book.save(dir.path("offset.xlsx")).unwrap();
    run_ok(&dir, &["offset.xlsx"]);
    let rejects = dir.read("out/rejects.csv");
    assert!(
        rejects.contains("\n6,营业收入,#DIV/0!,\"Excel error cell:"),
        "{rejects}"
    );
    let decisions = dir.read("out/decisions.csv");
    assert!(
        decisions.contains(&format!("{A},award,review,")),
        "{decisions}"
    );
}

#[test]
fn a_workbook_joins_a_csv_file() {
    let dir = Dir::new("joined");
    std::fs::write(
        dir.path("market.csv"),
        format!(
            "统一社会信用代码,企业名称,行政区划代码,成立日期,严重失信\n\
             {A},甲公司,420102,2019-06-30,否\n\
             {B},乙公司,420102,2018-01-05,否\n\
             {C},丙公司,420102,2015-01-01,否\n"
        ),
    )
    .unwrap();
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in ["统一社会信用代码", "营业收入", "裁员率"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    sheet.write_string(1, 0, B).unwrap();
    sheet.write_number(1, 1, 2_000_000).unwrap();
    sheet.write_number(1, 2, 0.1).unwrap();
    sheet.write_string(2, 0, A).unwrap();
    sheet.write_string(2, 1, "12.5万").unwrap();
    sheet.write_number(2, 2, 0.05).unwrap();
    sheet.write_string(3, 0, C).unwrap();
    error(sheet, 3, 1, "=NA()", "#N/A");
    book.save(dir.path("tax.xlsx")).unwrap();
    run_ok(&dir, &["市场监管=market.csv", "税务=tax.xlsx"]);
    assert_eq!(
        dir.read("out/decisions.csv"),
        format!(
            "key,policy,outcome,amount,funded,reasons\n\
             {A},award,eligible,12500.00,12500.00,\n\
             {B},award,eligible,200000.00,200000.00,\n"
        )
    );
    // C's error cell rejects its row in tax.xlsx and its row in market.csv
    let rejects = dir.read("out/rejects.csv");
    let lines: Vec<&str> = rejects.lines().collect();
    assert_eq!(lines.len(), 3, "{rejects}");
    assert!(lines[1].starts_with("4,统一社会信用代码,"), "{rejects}");
    assert!(lines[1].ends_with(",market.csv"), "{rejects}");
    assert!(
        lines[1].contains("tax.xlsx"),
        "names the failed row: {rejects}"
    );
    assert!(
        lines[2].starts_with("4,营业收入,#N/A,\"Excel error cell:"),
        "{rejects}"
    );
    assert!(lines[2].ends_with(",tax.xlsx"), "{rejects}");
}

#[test]
fn a_workbook_that_cannot_be_read_is_named() {
    let dir = Dir::new("unreadable");
    std::fs::write(dir.path("csv.xlsx"), format!("统一社会信用代码\n{A}\n")).unwrap();
    let bytes = firms_workbook().save_to_buffer().unwrap();
    std::fs::write(dir.path("cut.xlsx"), &bytes[..bytes.len() / 2]).unwrap();
    let mut empty = Workbook::new();
    empty.add_worksheet();
    empty.save(dir.path("empty.xlsx")).unwrap();
    std::fs::write(dir.path("far.xlsx"), cell_past_the_last_row()).unwrap();
    std::fs::write(dir.path("sheet.ods"), b"PK\x03\x04").unwrap();
    let mut header_only = Workbook::new();
    header_only
        .add_worksheet()
        .write_string(0, 0, "企业名称")
        .unwrap();
    header_only.save(dir.path("nokey.xlsx")).unwrap();
    for (file, says) in [
        ("csv.xlsx", "cannot be read as an Excel workbook"),
        ("cut.xlsx", "cannot be read as an Excel workbook"),
        ("far.xlsx", "its contents are malformed"),
        ("empty.xlsx", "第一个工作表 `Sheet1` 是空的"),
        ("sheet.ods", "spreadsheets ending in `.ods` are not read"),
        ("nokey.xlsx", "no column for the key field `uscc`"),
        ("absent.xlsx", "无法读取数据文件 `absent.xlsx`"),
    ] {
        let out = run(&dir, &[file]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file}: {stderr}");
        assert!(stderr.contains(&format!("`{file}`")), "{file}: {stderr}");
        assert!(stderr.contains(says), "{file}: {stderr}");
        assert!(!stderr.contains("panicked"), "{file}: {stderr}");
    }
}

/// The firms workbook with its sheet's XML changed by `change`.
fn firms_sheet_changed(change: impl Fn(String) -> String) -> Vec<u8> {
    use std::io::{Read, Write};
    let bytes = firms_workbook().save_to_buffer().unwrap();
    let mut zin = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut zout = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..zin.len() {
        let mut part = zin.by_index(i).unwrap();
        let name = part.name().unwrap().into_owned();
        let mut text = Vec::new();
        part.read_to_end(&mut text).unwrap();
        if name == "xl/worksheets/sheet1.xml" {
            text = change(String::from_utf8(text).unwrap()).into_bytes();
        }
        zout.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zout.write_all(&text).unwrap();
    }
    zout.finish().unwrap().into_inner()
}

/// The `<row r="N" …>…</row>` element of a sheet's XML.
fn row_element(xml: &str, n: u32) -> String {
    let start = xml.find(&format!("<row r=\"{n}\"")).unwrap();
    let end = start + xml[start..].find("</row>").unwrap() + "</row>".len();
    xml[start..end].to_string()
}

/// The sheet is read as it comes, on a thread of its own: the cells of a
/// row may come in any order (each goes under its column), its rows must
/// come in order (as the format writes them), or the file is named and not
/// read.
#[test]
fn a_sheet_is_read_in_the_order_written() {
    let dir = Dir::new("order");
    firms_workbook().save(dir.path("firms.xlsx")).unwrap();
    run_ok(&dir, &["firms.xlsx"]);
    let want = dir.read("out/decisions.csv");
    let reversed = firms_sheet_changed(|xml| {
        let row = row_element(&xml, 2);
        let open = row.find('>').unwrap() + 1;
        let close = row.len() - "</row>".len();
        let mut cells: Vec<String> = row[open..close]
            .split_inclusive("</c>")
            .map(str::to_string)
            .collect();
        assert!(cells.len() > 2, "{row}");
        cells.reverse();
        let changed = format!("{}{}</row>", &row[..open], cells.concat());
        xml.replacen(&row, &changed, 1)
    });
    std::fs::write(dir.path("reversed.xlsx"), reversed).unwrap();
    run_ok(&dir, &["reversed.xlsx"]);
    assert_eq!(dir.read("out/decisions.csv"), want);
    let swapped = firms_sheet_changed(|xml| {
        let (two, three) = (row_element(&xml, 2), row_element(&xml, 3));
        xml.replacen(&format!("{two}{three}"), &format!("{three}{two}"), 1)
    });
    std::fs::write(dir.path("swapped.xlsx"), swapped).unwrap();
    let out = run(&dir, &["swapped.xlsx"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`swapped.xlsx`"), "{stderr}");
    assert!(
        stderr.contains("its row 2 is written after row 3, out of order"),
        "{stderr}"
    );
}

/// The firms workbook with a cell reference past any row number in its
/// sheet (calamine's arithmetic overflows on it).
fn cell_past_the_last_row() -> Vec<u8> {
    firms_sheet_changed(|xml| {
        assert!(xml.contains(r#"<c r="A3""#));
        xml.replacen(r#"<c r="A3""#, r#"<c r="A99999999999""#, 1)
    })
}

#[test]
fn explain_and_the_library_read_workbooks() {
    let dir = Dir::new("explain");
    firms_workbook().save(dir.path("firms.xlsx")).unwrap();
    let out = mianshen(
        &dir.0,
        &[
            "explain",
            "policies",
            "--data",
            "firms.xlsx",
            "--firm",
            A,
            "--as-of",
            "2024-12-31",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1.25"), "{stdout}");
    let engine = mianshen::Engine::load(dir.path("policies")).unwrap();
    let as_of = mianshen::Date::parse_iso("2024-12-31").unwrap();
    let result = engine
        .run_file(dir.path("firms.xlsx"), as_of, true)
        .unwrap();
    assert_eq!(result.firms.len(), 5);
    let rows: Vec<u64> = result.rejects.iter().map(|r| r.row).collect();
    assert_eq!(rows, [5, 7]);
}

/// The bundled firms as a workbook, numbers stored as numbers (where the
/// shortest decimal of the binary number is the text itself, as Excel would
/// keep a typed number), ISO dates as date cells, true/false as booleans,
/// the rest as text: the run's decisions are byte for byte those of the CSV.
#[test]
fn a_workbook_decides_as_its_csv_does() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = Dir::new("same");
    let csv_path = root.join("policies/data/firms.csv");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(&csv_path)
        .unwrap();
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let (mut numbers, mut dates, mut bools) = (0, 0, 0);
    for (r, record) in reader.records().enumerate() {
        let record = record.unwrap();
        for (c, text) in record.iter().enumerate() {
            let (row, col) = (r as u32, c as u16);
            let iso = text.len() == 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-';
            if text.is_empty() {
            } else if r > 0 && text.parse::<f64>().is_ok_and(|f| f.to_string() == text) {
                sheet
                    .write_number(row, col, text.parse::<f64>().unwrap())
                    .unwrap();
                numbers += 1;
            } else if r > 0 && iso && ExcelDateTime::parse_from_str(text).is_ok() {
                date_cell(sheet, row, col, text);
                dates += 1;
            } else if r > 0 && (text == "true" || text == "false") {
                sheet.write_boolean(row, col, text == "true").unwrap();
                bools += 1;
            } else {
                sheet.write_string(row, col, text).unwrap();
            }
        }
    }
    assert!(
        numbers > 5000 && dates > 100 && bools > 50,
        "{numbers} {dates} {bools}"
    );
    book.save(dir.path("firms.xlsx")).unwrap();
    std::fs::copy(&csv_path, dir.path("firms.csv")).unwrap();
    let set = root.join("policies");
    let set = set.to_str().unwrap();
    for (data, out) in [("firms.csv", "csv"), ("firms.xlsx", "xlsx")] {
        let run = mianshen(
            &dir.0,
            &[
                "run",
                set,
                "--data",
                data,
                "--as-of",
                "2024-12-31",
                "--all",
                "--out",
                out,
            ],
        );
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
    for file in ["decisions.csv", "summary.csv", "conflicts.csv"] {
        assert!(
            dir.read(&format!("csv/{file}")) == dir.read(&format!("xlsx/{file}")),
            "{file} differs"
        );
    }
    // rejects differ only in the file's name
    let rejects = dir.read("csv/rejects.csv");
    assert!(rejects.lines().count() > 10, "{rejects}");
    assert_eq!(
        rejects.replace(",firms.csv\n", ",firms.xlsx\n"),
        dir.read("xlsx/rejects.csv")
    );
}

fn date_cell(sheet: &mut Worksheet, row: u32, col: u16, iso: &str) {
    let d = ExcelDateTime::parse_from_str(iso).unwrap();
    sheet
        .write_datetime_with_format(row, col, &d, &date_format())
        .unwrap();
}
