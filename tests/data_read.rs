//! The data-reading stage on small files: encodings, headers, rejects, keys.

mod common;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};

use common::assert_rows_accounted;
use common::oracle::{read, DataSet};
use mianshen::data::{DataError, Encoding, ReadOptions};
use mianshen::date::Date;
use mianshen::record::Cell;
use mianshen::schema::{Check, Field, FieldType, Schema};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

const A: &str = "91350100M000100Y43";
const B: &str = "91420102MA4K2L3R0G";
const C: &str = "91420102MA4K2L3R63";
const D: &str = "91420102MA4K2L3R76";

fn field(name: &str, ty: FieldType, title: Option<&str>) -> Field {
    Field {
        name: name.into(),
        ty,
        title: title.map(Into::into),
        aliases: Vec::new(),
        source: None,
        check: None,
    }
}

fn schema() -> Schema {
    let mut uscc = field("uscc", FieldType::Text, Some("统一社会信用代码"));
    uscc.check = Some(Check::Uscc);
    let mut revenue = field("revenue", FieldType::Money, Some("上年度营业收入"));
    revenue.aliases = vec!["营收".into()];
    let size = ["大型", "中型", "小型", "微型"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    Schema::new(
        vec![
            uscc,
            field("name", FieldType::Text, Some("企业名称")),
            field("size", FieldType::Enum(size), Some("企业规模")),
            field("employees", FieldType::Integer, Some("参保职工人数")),
            field("layoff_rate", FieldType::Percent, Some("上年度裁员率")),
            revenue,
            field("registered_on", FieldType::Date, Some("成立日期")),
            field("tags", FieldType::List, Some("企业标签")),
            field("serious_dishonesty", FieldType::Bool, Some("严重失信主体")),
        ],
        "uscc",
    )
    .expect("a valid schema")
}

// Field indexes in `schema()`.
const USCC: usize = 0;
const NAME: usize = 1;
const SIZE: usize = 2;
const EMPLOYEES: usize = 3;
const LAYOFF: usize = 4;
const REVENUE: usize = 5;
const REGISTERED: usize = 6;
const TAGS: usize = 7;
const DISHONEST: usize = 8;

/// A file in the temp directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, bytes: &[u8]) -> TempFile {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("mianshen-data-{}-{n}-{name}", std::process::id()));
        std::fs::write(&path, bytes).expect("write temp file");
        TempFile(path)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn read_with(name: &str, bytes: &[u8], encoding: Encoding) -> Result<DataSet, DataError> {
    let file = TempFile::new(name, bytes);
    read(file.path(), &schema(), &ReadOptions { encoding })
}

fn read_ok(name: &str, bytes: &[u8]) -> DataSet {
    let set = read_with(name, bytes, Encoding::Auto).expect("the file reads");
    assert_rows_accounted(&set);
    set
}

fn dec(s: &str) -> Cell {
    Cell::Num(Decimal::from_str(s).unwrap())
}

fn text(s: &str) -> Cell {
    Cell::Text(s.into())
}

fn reasons(set: &DataSet) -> Vec<(u64, &str, &str, &str)> {
    set.rejects
        .iter()
        .map(|r| {
            (
                r.row,
                r.column.as_str(),
                r.value.as_str(),
                r.reason.as_str(),
            )
        })
        .collect()
}

#[test]
fn utf8_with_bom_and_crlf() {
    let csv = format!(
        "\u{feff}uscc,name,employees,layoff_rate,revenue,registered_on,tags,serious_dishonesty\r\n\
         {A},甲公司,\"1,200\",5.5%,12.5万,2024/1/5,高新; 专精特新,否\r\n\
         {B}, 乙 ,30,0.02,\"1,234.50\",20200229,,Y\r\n"
    );
    let set = read_ok("bom.csv", csv.as_bytes());
    assert_eq!(set.rows, 2);
    assert!(set.rejects.is_empty(), "{:?}", set.rejects);
    assert!(set.unknown_columns.is_empty());
    let [a, b] = &set.records[..] else {
        panic!("two records")
    };
    assert_eq!((a.row, b.row), (2, 3));
    assert_eq!(a.cells[USCC], text(A));
    assert_eq!(a.cells[EMPLOYEES], dec("1200"));
    assert_eq!(a.cells[LAYOFF], dec("0.055"));
    assert_eq!(a.cells[REVENUE], dec("125000"));
    assert_eq!(
        a.cells[REGISTERED],
        Cell::Date(Date::new(2024, 1, 5).unwrap())
    );
    assert_eq!(
        a.cells[TAGS],
        Cell::List(vec!["高新".into(), "专精特新".into()].into())
    );
    assert_eq!(a.cells[DISHONEST], Cell::Bool(false));
    assert_eq!(a.cells[SIZE], Cell::Missing, "no column: missing");
    assert_eq!(b.cells[NAME], text(" 乙 "), "text is verbatim");
    assert_eq!(
        b.cells[TAGS],
        Cell::List(Box::new([])),
        "an empty list cell is the empty list"
    );
    assert_eq!(b.cells[DISHONEST], Cell::Bool(true));
    let sha = Sha256::digest(csv.as_bytes());
    let hex: String = sha.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(set.sha256, hex);
}

#[test]
fn gbk_file_with_title_columns() {
    let csv = format!(
        "统一社会信用代码,企业名称,企业规模,上年度营业收入,营收备注\n\
         {A},武汉甲科技有限公司,小型,1.2亿元,好\n\
         {B},乙公司,特大型,100,\n"
    );
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(&csv);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&gbk).is_err(), "really not UTF-8");
    for encoding in [Encoding::Auto, Encoding::Gb18030] {
        let set = read_with("gbk.csv", &gbk, encoding).expect("reads");
        assert_rows_accounted(&set);
        assert_eq!(set.unknown_columns, vec!["营收备注".to_string()]);
        assert_eq!(set.records.len(), 1);
        assert_eq!(set.records[0].cells[NAME], text("武汉甲科技有限公司"));
        assert_eq!(set.records[0].cells[SIZE], text("小型"));
        assert_eq!(set.records[0].cells[REVENUE], dec("120000000"));
        assert_eq!(
            reasons(&set),
            vec![(
                3,
                "企业规模",
                "特大型",
                "`特大型` is not one of 大型, 中型, 小型, 微型"
            )]
        );
    }
    // Forced UTF-8: the GBK header cannot be read.
    let err = read_with("gbk.csv", &gbk, Encoding::Utf8).unwrap_err();
    assert!(matches!(err, DataError::HeaderNotUtf8 { .. }), "{err}");
    assert!(err.to_string().contains("try --encoding gb18030"));
}

#[test]
fn forced_utf8_rejects_only_the_bad_rows() {
    let mut bytes = format!("uscc,name\n{A},甲\n{B},").into_bytes();
    bytes.extend_from_slice(&encoding_rs::GBK.encode("乙公司").0);
    bytes.extend_from_slice(format!("\n{C},丙\n").as_bytes());
    let set = read_with("mixed.csv", &bytes, Encoding::Utf8).expect("reads");
    assert_rows_accounted(&set);
    assert_eq!(
        set.records.iter().map(|r| r.row).collect::<Vec<_>>(),
        vec![2, 4]
    );
    assert_eq!(set.rejects.len(), 1);
    assert_eq!(
        (set.rejects[0].row, set.rejects[0].column.as_str()),
        (3, "name")
    );
    assert_eq!(
        set.rejects[0].reason,
        "not valid UTF-8; try --encoding gb18030"
    );
    // Auto: not valid UTF-8, so the whole file is GB18030; the UTF-8 parts
    // that do not decode are rejected, nothing is lost.
    let set = read_with("mixed.csv", &bytes, Encoding::Auto).expect("reads");
    assert_rows_accounted(&set);
    assert_eq!(set.rows, 3);
    let row3 = set
        .records
        .iter()
        .find(|r| r.row == 3)
        .expect("row 3 reads as GB18030");
    assert_eq!(row3.cells[NAME], text("乙公司"));
}

#[test]
fn ragged_rows_and_bad_cells() {
    let csv = format!(
        "uscc,employees,registered_on,unknown\n\
         {A},12,2024-01-05\n\
         {B},12.5,2024-1-5,x\n\
         {C},3,2024-01-05,x,extra\n\
         {D},7,2023-02-29,x\n\
         91420102MA4K2L3R77,7,2020-01-01,x\n"
    );
    let set = read_ok("ragged.csv", csv.as_bytes());
    assert_eq!(set.rows, 5);
    assert!(set.records.is_empty());
    assert_eq!(
        reasons(&set),
        vec![
            (2, "", "", "expected 4 cells, found 3"),
            (3, "employees", "12.5", "`12.5` is not a whole number"),
            (
                3,
                "registered_on",
                "2024-1-5",
                "`2024-1-5` is not a date: write `2024-01-05`, `2024/1/5`, `20240105` or `2024年1月5日`"
            ),
            (4, "", "", "expected 4 cells, found 5"),
            (5, "registered_on", "2023-02-29", "`2023-02-29` is not a date: there is no such day in the calendar"),
            (6, "uscc", "91420102MA4K2L3R77", "the check character is `7`, it should be `6`"),
        ]
    );
}

#[test]
fn duplicate_keys_reject_every_row_of_the_key() {
    let csv = format!(
        "uscc,employees\n\
         {A},1\n\
         {B},2\n\
         \n\
         {A},bad\n\
         {C},3\n\
         {A},4\n\
         {B},5\n\
         ,6\n\
         {D},7\n"
    );
    let set = read_ok("dups.csv", csv.as_bytes());
    assert_eq!(set.rows, 8, "the blank line is not a row");
    assert_eq!(
        set.records.iter().map(|r| r.row).collect::<Vec<_>>(),
        vec![6, 10]
    );
    assert_eq!(
        reasons(&set),
        vec![
            (2, "uscc", A, "the key is also on rows 5, 7"),
            (3, "uscc", B, "the key is also on row 8"),
            (5, "uscc", A, "the key is also on rows 2, 7"),
            (
                5,
                "employees",
                "bad",
                "`bad` is not a number: write digits like `1,234.5`, `-3` or `12.5万`"
            ),
            (7, "uscc", A, "the key is also on rows 2, 5"),
            (8, "uscc", B, "the key is also on row 3"),
            (9, "uscc", "", "the key is empty"),
        ]
    );
}

#[test]
fn a_ragged_row_still_counts_as_a_duplicate() {
    let csv = format!("uscc,employees\r\n\r\n{A},1\r\n{A},2,3\r\n{B},4\r\n");
    let set = read_ok("raggeddup.csv", csv.as_bytes());
    assert_eq!(
        set.records.iter().map(|r| r.row).collect::<Vec<_>>(),
        vec![5]
    );
    assert_eq!(
        reasons(&set),
        vec![
            (3, "uscc", A, "the key is also on row 4"),
            (4, "", "", "expected 2 cells, found 3"),
            (4, "uscc", A, "the key is also on row 3"),
        ]
    );
}

#[test]
fn a_bad_key_still_counts_as_a_duplicate() {
    let csv = "uscc,name\nX1,a\nX1,b\nX2,c\n";
    let set = read_ok("badkeys.csv", csv.as_bytes());
    assert!(set.records.is_empty());
    let r = reasons(&set);
    assert_eq!(r.len(), 5);
    assert_eq!(
        r[0],
        (
            2,
            "uscc",
            "X1",
            "a credit code has 18 characters, this one has 2"
        )
    );
    assert_eq!(r[1], (2, "uscc", "X1", "the key is also on row 3"));
    assert_eq!(r[4].0, 4);
}

#[test]
fn header_problems() {
    let err = read_with("empty.csv", b"", Encoding::Auto).unwrap_err();
    assert!(matches!(err, DataError::NoHeader { .. }));
    assert!(err.to_string().contains("没有表头"), "{err}");
    let err = read_with("blank.csv", b"\n\r\n  \n", Encoding::Auto).unwrap_err();
    assert!(matches!(err, DataError::NoHeader { .. }));

    let err = read_with("nokey.csv", b"name,employees\na,1\n", Encoding::Auto).unwrap_err();
    assert!(matches!(err, DataError::NoKeyColumn { .. }));
    assert!(
        err.to_string()
            .contains("no column for the key field `uscc`; name one `uscc` or `统一社会信用代码`"),
        "{err}"
    );

    // The key check comes first, before the ambiguity.
    let err = read_with("nokey2.csv", "name,企业名称\n".as_bytes(), Encoding::Auto).unwrap_err();
    assert!(matches!(err, DataError::NoKeyColumn { .. }));

    let err = read_with("amb.csv", "uscc,revenue,营收\n".as_bytes(), Encoding::Auto).unwrap_err();
    assert!(
        err.to_string().contains(
            "columns `revenue` (column 2) and `营收` (column 3) both name the field `revenue`"
        ),
        "{err}"
    );
    let err = read_with("amb2.csv", "uscc, uscc \n".as_bytes(), Encoding::Auto).unwrap_err();
    assert!(matches!(err, DataError::AmbiguousColumns { .. }), "{err}");

    let err = read(
        Path::new("/nonexistent/mianshen/x.csv"),
        &schema(),
        &ReadOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, DataError::Unreadable { .. }));
    assert!(
        err.to_string()
            .starts_with("无法读取数据文件 `/nonexistent/mianshen/x.csv`"),
        "{err}"
    );

    let set = read_ok("header.csv", " 统一社会信用代码 ,备注,备注\n".as_bytes());
    assert_eq!(set.rows, 0);
    assert!(set.records.is_empty() && set.rejects.is_empty());
    assert_eq!(set.unknown_columns, vec!["备注".to_string()]);
}

#[test]
fn quoted_newlines_keep_line_numbers() {
    let csv = format!("uscc,name\n{A},\"two\nlines\"\n{B},x\n\n{C},\"a,b\"\n");
    let set = read_ok("quoted.csv", csv.as_bytes());
    assert_eq!(
        set.records.iter().map(|r| r.row).collect::<Vec<_>>(),
        vec![2, 4, 6]
    );
    assert_eq!(set.records[0].cells[NAME], text("two\nlines"));
    assert_eq!(set.records[2].cells[NAME], text("a,b"));
}

#[test]
fn old_mac_line_endings() {
    let csv = format!("uscc,name\r{A},a\r\r{B},b\r");
    let set = read_ok("cr.csv", csv.as_bytes());
    assert_eq!(
        set.records.iter().map(|r| r.row).collect::<Vec<_>>(),
        vec![2, 4]
    );
}

#[test]
fn long_values_are_cut_in_rejects() {
    let long = "9".repeat(500);
    let csv = format!("uscc,employees\n{A},{long}\n");
    let set = read_ok("long.csv", csv.as_bytes());
    assert_eq!(set.rejects.len(), 1);
    assert_eq!(set.rejects[0].value.chars().count(), 200);
    assert!(set.rejects[0]
        .reason
        .contains("more than 28 significant digits"));
}

#[test]
fn json_lines() {
    let jsonl = format!(
        concat!(
            "{{\"uscc\": \"{A}\", \"employees\": 12, \"revenue\": 12345678901234567890.12, \"serious_dishonesty\": false, ",
            "\"tags\": [\"高新\", \" 专精特新 \"], \"registered_on\": null, \"extra\": 1}}\r\n",
            "\n",
            "{{\"统一社会信用代码\": \"{B}\", \"上年度裁员率\": \"5.5%\", \"企业标签\": null, \"employees\": \"1.2万\", \"more\": {{}}}}\n",
            "[1, 2]\n",
            "{{\"uscc\": \"{C}\", \"employees\": 1.5, \"serious_dishonesty\": \"maybe\", \"tags\": \"a|b\"}}\n",
            "{{\"name\": \"no key\"}}\n",
            "{{\"uscc\": \"{D}\", \"统一社会信用代码\": \"{D}\"}}\n",
            "{{\"uscc\": \"\", \"size\": true}}\n",
            "{{\"uscc\": 1e5\n",
            "   \n",
        ),
        A = A,
        B = B,
        C = C,
        D = D
    );
    let set = read_ok("firms.jsonl", jsonl.as_bytes());
    assert_eq!(set.rows, 8);
    assert_eq!(
        set.unknown_columns,
        vec!["extra".to_string(), "more".to_string()]
    );
    let [a, b] = &set.records[..] else {
        panic!("two records: {:?}", set)
    };
    assert_eq!((a.row, b.row), (1, 3));
    assert_eq!(a.cells[EMPLOYEES], dec("12"));
    assert_eq!(a.cells[REVENUE], dec("12345678901234567890.12"));
    assert_eq!(a.cells[DISHONEST], Cell::Bool(false));
    assert_eq!(
        a.cells[TAGS],
        Cell::List(vec!["高新".into(), "专精特新".into()].into())
    );
    assert_eq!(a.cells[REGISTERED], Cell::Missing);
    assert_eq!(b.cells[USCC], text(B));
    assert_eq!(b.cells[LAYOFF], dec("0.055"));
    assert_eq!(b.cells[TAGS], Cell::List(Box::new([])));
    assert_eq!(b.cells[EMPLOYEES], dec("12000"));
    let r = reasons(&set);
    assert_eq!(r[0].0, 4);
    assert_eq!((r[0].1, r[0].2), ("", "[1, 2]"));
    assert!(r[0].3.starts_with("not a JSON object"), "{}", r[0].3);
    assert_eq!(r[1], (5, "employees", "1.5", "`1.5` is not a whole number"));
    assert_eq!(r[2].1, "serious_dishonesty");
    assert_eq!(r[3].0, 6);
    assert_eq!((r[3].1, r[3].3), ("uscc", "the key is empty"));
    assert_eq!(
        r[4],
        (
            7,
            "统一社会信用代码",
            D,
            "`uscc` and `统一社会信用代码` both name the field `uscc`"
        )
    );
    assert_eq!(r[5], (8, "uscc", "", "the key is empty"));
    assert_eq!(
        r[6],
        (
            8,
            "size",
            "true",
            // read as the cell `true`, as an Excel boolean cell is
            "`true` is not one of 大型, 中型, 小型, 微型"
        )
    );
    assert_eq!(r[7].0, 9);
    assert!(r[7].3.starts_with("not valid JSON"), "{}", r[7].3);
    assert_eq!(r.len(), 8);
}

#[test]
fn json_lines_duplicates_and_repeated_keys() {
    let jsonl = format!(
        "{{\"uscc\": \"{A}\"}}\n{{\"uscc\": \"{A}\", \"employees\": \"x\"}}\n{{\"uscc\": \"{B}\", \"uscc\": \"{C}\"}}\n"
    );
    let set = read_ok("dups.jsonl", jsonl.as_bytes());
    assert!(set.records.is_empty());
    let r = reasons(&set);
    assert_eq!(r[0], (1, "uscc", A, "the key is also on row 2"));
    assert_eq!(r[1], (2, "uscc", A, "the key is also on row 1"));
    assert_eq!(r[2].1, "employees");
    assert_eq!(
        r[3],
        (3, "uscc", C, "`uscc` and `uscc` both name the field `uscc`")
    );
}

#[test]
fn many_rows_are_all_accounted_for() {
    // Every third key repeats the one before; every fifth row has a bad number.
    let mut csv = String::from("uscc,employees,serious_dishonesty\n");
    let mut keys = Vec::new();
    for i in 0..300u32 {
        let key = if i % 3 == 2 {
            keys.last().cloned().unwrap()
        } else {
            uscc(&format!("9142010200{i:07}"))
        };
        let employees = if i % 5 == 0 {
            "\"1,0\"".to_string()
        } else {
            i.to_string()
        };
        csv += &format!(
            "{key},{employees},{}\n",
            if i % 2 == 0 { "是" } else { "N" }
        );
        keys.push(key);
    }
    let set = read_ok("many.csv", csv.as_bytes());
    assert_eq!(set.rows, 300);
    // i % 3 == 1 and i % 3 == 2 share a key, so only i % 3 == 0 can be a
    // record, unless its number is bad (i % 15 == 0).
    assert_eq!(set.records.len(), 100 - 20);
    assert_eq!(
        set.rejects.len(),
        200 + 20 + (0..300).filter(|i| i % 3 != 0 && i % 5 == 0).count()
    );
}

/// A valid credit code from its first 17 characters.
fn uscc(body: &str) -> String {
    const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    const WEIGHTS: [usize; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let sum: usize = body
        .chars()
        .zip(WEIGHTS)
        .map(|(c, w)| ALPHABET.find(c).unwrap() * w)
        .sum();
    let check = ALPHABET.chars().nth((31 - sum % 31) % 31).unwrap();
    format!("{body}{check}")
}

/// A small deterministic generator, so the garbled inputs below are the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % below as u64) as usize
    }
}

#[test]
fn garbled_input_never_panics_and_loses_no_row() {
    let pieces: [&[u8]; 24] = [
        b",",
        b"\"",
        b"\n",
        b"\r\n",
        b"\r",
        b" ",
        b"1",
        b"-",
        b".",
        b"%",
        b"{",
        b"}",
        b"[",
        b":",
        b"\xEF\xBB\xBF",
        b"\xFF",
        b"\xB9\xFA",
        "万".as_bytes(),
        "、".as_bytes(),
        b"uscc",
        A.as_bytes(),
        b"2024-01-05",
        b"null",
        b"\"uscc\"",
    ];
    let schema = schema();
    let mut rng = Lcg(7);
    for round in 0..3000 {
        let mut bytes = Vec::new();
        if round % 2 == 0 {
            bytes.extend_from_slice(b"uscc,employees,tags,registered_on\n");
        }
        for _ in 0..rng.next(60) {
            bytes.extend_from_slice(pieces[rng.next(pieces.len())]);
        }
        let name = if round % 3 == 0 { "x.jsonl" } else { "x.csv" };
        let encoding = [Encoding::Auto, Encoding::Utf8, Encoding::Gb18030][round % 3];
        let opts = ReadOptions { encoding };
        if let Ok(set) = common::oracle::read_bytes(Path::new(name), bytes, &schema, &opts) {
            assert_rows_accounted(&set);
            assert!(set.rejects.iter().all(|r| r.value.chars().count() <= 200));
        }
    }
}

#[test]
fn garbled_cells_never_panic() {
    let pieces = [
        "1", "0", ",", ".", "-", "%", "万", "亿", "元", "年", "月", "日", "/", "-", " ",
        "\u{3000}", "9999", "e",
    ];
    let types = [
        FieldType::Integer,
        FieldType::Number,
        FieldType::Percent,
        FieldType::Date,
        FieldType::Bool,
        FieldType::List,
        FieldType::Enum(vec!["1".into()]),
    ];
    let mut rng = Lcg(11);
    for _ in 0..20000 {
        let cell: String = (0..rng.next(12))
            .map(|_| pieces[rng.next(pieces.len())])
            .collect();
        for ty in &types {
            let _ = mianshen::data::parse_cell(ty, &cell);
        }
    }
}

/// An absent key of a `list` field is the empty list, as null and an empty
/// CSV cell are: the same firm reads the same from either format.
#[test]
fn an_absent_list_key_is_the_empty_list() {
    let jsonl = format!("{{\"uscc\": \"{A}\", \"employees\": 3}}\n");
    let set = read_ok("firms.jsonl", jsonl.as_bytes());
    assert_eq!(set.records[0].cells[TAGS], Cell::List(Box::new([])));
    let csv = format!("uscc,employees,tags\n{A},3,\n");
    let from_csv = read_ok("firms.csv", csv.as_bytes());
    assert_eq!(set.records[0].cells, from_csv.records[0].cells);
}

/// A JSON number is read from the text it was written with, exponent
/// included (a text field takes it as written; a money field rejects it,
/// quoting it as written).
#[test]
fn json_numbers_keep_their_written_text() {
    let jsonl = format!(
        "{{\"uscc\": \"{A}\", \"name\": 1E5, \"employees\": 12}}\n\
         {{\"uscc\": \"{B}\", \"revenue\": 1.50e1, \"name\": \"x\"}}\n"
    );
    let set = read_ok("firms.jsonl", jsonl.as_bytes());
    let [a] = &set.records[..] else {
        panic!("one record: {set:?}")
    };
    assert_eq!(a.cells[NAME], text("1E5"));
    let r = reasons(&set);
    assert_eq!(r[0].0, 2);
    assert_eq!((r[0].1, r[0].2), ("revenue", "1.50e1"));
}

#[test]
fn a_file_separated_otherwise_or_in_utf16_is_named_so() {
    for (sep, said) in [(";", "分号"), ("\t", "制表符")] {
        let text = format!("uscc{sep}name{sep}employees\n91420100MA4K2L3R0G{sep}a{sep}1\n");
        let err = read_with("semi.csv", text.as_bytes(), Encoding::Auto).unwrap_err();
        assert!(matches!(err, DataError::NoKeyColumn { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains(&format!("文件似乎用{said}")) && text.contains("请另存为逗号分隔的 CSV"),
            "{text}"
        );
    }
    // a comma file without the key column: no such hint
    let err = read_with("nokey.csv", b"name,employees\na,1\n", Encoding::Auto).unwrap_err();
    assert!(!err.to_string().contains("似乎"), "{err}");
    assert!(!err.to_string().contains("第 1 行"), "{err}");
    // a title row above the header, and merged cells' group titles
    let titled = "2024年度企业名单（单位：万元）,,\nuscc,name,employees\n91420100MA4K2L3R0G,a,1\n";
    let err = read_with("title.csv", titled.as_bytes(), Encoding::Auto).unwrap_err();
    assert!(
        err.to_string()
            .contains("第 1 行只有 `2024年度企业名单（单位：万元）` 一格, 像是标题行"),
        "{err}"
    );
    let grouped = "基本信息,,财务数据,\nuscc,name,employees,revenue\n";
    let err = read_with("grouped.csv", grouped.as_bytes(), Encoding::Auto).unwrap_err();
    assert!(
        err.to_string()
            .contains("第 1 行 4 格中只有 2 格有字 (`基本信息`、`财务数据`)"),
        "{err}"
    );
    // Excel's "Unicode Text": UTF-16 with its byte-order mark, either way round
    let utf16le: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain("uscc\tname\r\n".encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let utf16be: Vec<u8> = [0xFE, 0xFF]
        .into_iter()
        .chain("uscc\tname\r\n".encode_utf16().flat_map(u16::to_be_bytes))
        .collect();
    for (bytes, encoding) in [
        (&utf16le, Encoding::Auto),
        (&utf16be, Encoding::Auto),
        (&utf16le, Encoding::Utf8),
        (&utf16le, Encoding::Gb18030),
    ] {
        let err = read_with("u16.csv", bytes, encoding).unwrap_err();
        assert!(matches!(err, DataError::Utf16 { .. }), "{err}");
        assert!(err.to_string().contains("UTF-16"), "{err}");
    }
}

#[test]
fn keys_with_blanks_around_them_are_counted() {
    // a text key (no `check`): ` A ` reads, and is not the firm `A`
    let dir = std::env::temp_dir().join(format!("mianshen-padded-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/run/ledger");
    common::copy_dir(&case, &dir);
    let data = std::fs::read_to_string(dir.join("data.csv")).unwrap();
    // lines 3 and 5 of the file get their key padded
    let padded: String = data
        .lines()
        .enumerate()
        .map(|(i, l)| match i {
            2 => format!(" {l}\n"),
            4 => {
                let (key, rest) = l.split_once(',').unwrap();
                format!("{key} ,{rest}\n")
            }
            _ => format!("{l}\n"),
        })
        .collect();
    std::fs::write(dir.join("padded.csv"), padded).unwrap();
    let run = |file: &str, out: &str| {
        common::mianshen(
            &dir,
            &[
                "run",
                "policies",
                "--data",
                file,
                "--ledger",
                "ledger.csv",
                "--as-of",
                "2024-12-31",
                "--out",
                out,
            ],
        )
    };
    let (code, text) = run("padded.csv", "o1");
    assert_eq!(code, 0, "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("warning:")
            && l.contains("`padded.csv`: 有 2 行的主键前后带空格, 第一行是第 3 行")),
        "{text}"
    );
    let manifest = std::fs::read_to_string(dir.join("o1/manifest.json")).unwrap();
    assert!(manifest.contains("主键前后带空格"), "{manifest}");
    let (code, text) = run("data.csv", "o2");
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains("主键前后带空格"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
