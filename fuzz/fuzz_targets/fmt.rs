//! Any text as a policy file given to `mianshen fmt`: a file that does not
//! parse is refused with its diagnostics, one that does is laid out so that
//! it reads to the same tree (`fmt` checks that itself and refuses
//! otherwise, which is a defect here), formatting twice is formatting once,
//! and the lint of a set that checks never crashes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mianshen::diag::SourceText;
use mianshen::fmt::{format, FmtError};

#[path = "../common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match format(&SourceText::new("f.policy", text.as_ref())) {
        Ok(once) => {
            let twice = format(&SourceText::new("f.policy", once.as_str()));
            assert!(matches!(twice, Ok(ref t) if *t == once), "fmt is not idempotent");
        }
        Err(FmtError::Syntax(_)) => {}
        Err(FmtError::Changed) => panic!("fmt changed the meaning"),
    }
    if let Ok(set) = mianshen::load::PolicySet::from_texts(common::SCHEMA, &[("f.policy", &text)]) {
        let _ = mianshen::lint::lint(&set);
    }
});
