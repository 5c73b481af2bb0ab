//! `mianshen test DIR`: the officers' cases.

use std::path::Path;

use super::*;

/// `mianshen test DIR`
pub fn test(dir: &Path, json: bool) -> u8 {
    let set = match load(dir, json) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let paths = crate::cases::find(dir);
    if paths.is_empty() {
        eprintln!(
            "error: no test files in `{}`: write cases in tests/*.yaml",
            dir.join("tests").display()
        );
        return EXIT_POLICY;
    }
    let mut files = Vec::new();
    let mut load_errors = 0;
    for p in &paths {
        match crate::cases::load(p) {
            Ok(f) => files.push(f),
            Err(e) => {
                load_errors += 1;
                eprintln!("error: {e}");
            }
        }
    }
    let results = crate::cases::run_files(&set.program, &files);
    let (text, passed, failed) = crate::cases::render(&results);
    print!("{text}");
    let failed = failed + load_errors;
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        EXIT_OK
    } else {
        EXIT_POLICY
    }
}
