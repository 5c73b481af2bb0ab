//! Any bytes as a CSV data file under the example schema: every row must
//! end up as one record or among the rejects, and the example policy set
//! must run over the records without a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mianshen::data::ReadOptions;
use std::path::Path;

#[path = "../common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let program = common::example_program();
    match common::oracle::read_bytes(
        Path::new("x.csv"),
        data.to_vec(),
        &program.schema,
        &ReadOptions::default(),
    ) {
        Ok(set) => {
            common::assert_rows_accounted(&set);
            common::run_and_check(program, &set);
        }
        // a file that cannot be read at all is an error with a message
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
