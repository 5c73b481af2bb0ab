//! Any text as the schema, with a small policy that is valid under the
//! example schema. A bad schema must become diagnostics, never a crash; a
//! good one reads a small data file built from its own field names.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mianshen::data::ReadOptions;
use mianshen::load::PolicySet;
use std::path::Path;

#[path = "../common.rs"]
mod common;

const POLICY: &str = r#"
define small = employees <= 30
policy p {
    title "稳岗返还"
    valid 2024-01-01 to 2024-12-31
    budget 100万
    allocate pro_rata
    require "参保满12个月" insured_months >= 12
    exclude "严重失信" serious_dishonesty
    amount "返还" { when size == "大型" then ui_premium_paid * 30% else ui_premium_paid * 60% }
    cap 300万
}
"#;

fuzz_target!(|data: &[u8]| {
    let schema = String::from_utf8_lossy(data);
    match PolicySet::from_texts(&schema, &[("p.policy", POLICY)]) {
        Ok(set) => {
            // one column per field, named by field name, then by title
            let program = &set.program;
            let names: Vec<String> = program
                .schema
                .fields
                .iter()
                .map(|f| csv_cell(&f.name))
                .collect();
            let mut csv = names.join(",");
            csv.push_str("\n");
            for values in [["1", "2024-01-01", "是", "小型"], ["", "x", "0", "12.5万"]] {
                let row: Vec<&str> = (0..names.len()).map(|i| values[i % values.len()]).collect();
                csv.push_str(&row.join(","));
                csv.push('\n');
            }
            if let Ok(firms) = common::oracle::read_bytes(
                Path::new("x.csv"),
                csv.into_bytes(),
                &program.schema,
                &ReadOptions::default(),
            ) {
                common::assert_rows_accounted(&firms);
                common::run_and_check(program, &firms);
            }
        }
        Err(diags) => {
            assert!(!diags.is_empty(), "a refused policy set says why");
            let _ = mianshen::diag::render_human(&diags);
            let _ = mianshen::diag::render_json(&diags);
        }
    }
});

fn csv_cell(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}
