//! `mianshen lint DIR`: warnings about policies that check but likely do
//! not say what was meant.

use std::path::Path;

use super::*;
use crate::diag::render_json_as;

/// `mianshen lint DIR [--deny warnings]`: exit 0 unless the set has errors
/// (1), or warnings were found and are denied (1).
pub fn lint(dir: &Path, deny: bool, json: bool) -> u8 {
    let set = match load(dir, json) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let warnings = crate::lint::lint(&set);
    if json {
        println!("{}", render_json_as(&warnings, "warnings"));
    } else if warnings.is_empty() {
        println!("ok: 没有警告 (no warnings) in {}", dir.display());
    } else {
        eprint!("{}", render_human(&warnings));
    }
    if deny && !warnings.is_empty() {
        EXIT_POLICY
    } else {
        EXIT_OK
    }
}
