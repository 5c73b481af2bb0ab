//! Any text as a policy file, checked against the example schema. A bad
//! policy must become diagnostics (which render in both forms), never a
//! crash; a good one is run over a few fixed firms.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mianshen::data::ReadOptions;
use mianshen::load::PolicySet;
use std::path::Path;

#[path = "../common.rs"]
mod common;

/// Firms for the policies that check: a plain one, an empty one, and two
/// with extreme and negative values (28 digits is the reader's limit).
/// Columns the schema lacks are ignored.
const FIRMS: &str = "\
uscc,size,employees,insured_months,layoff_rate,ui_premium_paid,revenue,revenue_prev,rnd,rnd_prev,registered_on,tags,serious_dishonesty,region,industry,credit_grade,patents,ip_loan,tax_local
91420102MA4K2L3R0G,小型,25,24,3%,10万,5000万,4000万,300万,200万,2015-06-01,专精特新;高新技术企业,否,420102,C3511,A,12,1000万,50万
91440300MA5F00001A,,,,,,,,,,,,,,,,,,
91440300MA5F00002D,大型,99999999,-5,99.99,9999999999999999999999999,-1,0,0.01,9999999999999999999999999,2024-12-31,,是,,,D,0,0,-3
91440300MA5F00003G,中型,9999999999999999999999999999,0,9999999999999999999999999999,9999999999999999999999999999,-9999999999999999999999999999,9999999999999999999999999999,-9999999999999999999999999999,0.0000000000000000000000000001,0001-01-01,,否,,,C,-9999999999999999999999999999,9999999999999999999999999999,9999999999999999999999999999
";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match PolicySet::from_texts(common::SCHEMA, &[("f.policy", &text)]) {
        Ok(set) => {
            let program = &set.program;
            let firms = common::oracle::read_bytes(
                Path::new("firms.csv"),
                FIRMS.as_bytes().to_vec(),
                &program.schema,
                &ReadOptions::default(),
            );
            if let Ok(firms) = firms {
                let result = common::run_and_check(program, &firms);
                for record in &firms.records {
                    let key = record.key(program.schema.key);
                    let firm = result.firms.iter().find(|f| f.key == key);
                    let e = mianshen::explain::explain(
                        program,
                        record,
                        firm,
                        &result.summary,
                        common::as_of(),
                        None,
                        &[],
                    );
                    let _ = mianshen::explain::render(&e);
                }
            }
        }
        Err(diags) => {
            assert!(!diags.is_empty(), "a refused policy set says why");
            let _ = mianshen::diag::render_human(&diags);
            let _ = mianshen::diag::render_json(&diags);
        }
    }
});
