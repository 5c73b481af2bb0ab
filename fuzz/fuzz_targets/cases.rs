//! Any text as a test-case file (`tests/*.yaml`): it parses or is refused
//! with a message; parsed cases run against the example policy set.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match mianshen::cases::parse("t.yaml", &text) {
        Ok(file) => {
            let program = common::example_program();
            let results = mianshen::cases::run_files(program, &[file]);
            let _ = mianshen::cases::render(&results);
        }
        Err(message) => assert!(!message.is_empty()),
    }
});
