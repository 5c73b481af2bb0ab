//! `mianshen check DIR`: parse and type-check a policy set.

use std::path::Path;

use super::*;

/// `mianshen check DIR`
pub fn check(dir: &Path, json: bool) -> u8 {
    match load(dir, json) {
        Ok(set) => {
            let p = &set.program;
            let files = set.files.len() - 1;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "errors": [], "policies": p.policies.len(), "fields": p.schema.fields.len(), "files": files })
                );
            } else {
                println!(
                    "ok: {} policies, {} fields, {} policy file{} in {}",
                    p.policies.len(),
                    p.schema.fields.len(),
                    files,
                    if files == 1 { "" } else { "s" },
                    dir.display()
                );
                let warnings = crate::lint::lint(&set).len();
                if warnings > 0 {
                    eprintln!(
                        "提示:`mianshen lint {}` 发现 {warnings} 条警告 (hint: {warnings} lint warning{})",
                        dir.display(),
                        if warnings == 1 { "" } else { "s" }
                    );
                }
            }
            EXIT_OK
        }
        Err(code) => code,
    }
}
