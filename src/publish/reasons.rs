//! Why firms were not paid, per policy: the labels of ineligible decisions
//! (listed only when the run was `--all`) and the fields reviews lack.

use std::collections::HashMap;

use super::firms::Decision;
use super::review::missing;
use crate::eval::Outcome;

/// Per policy, how often each reason and each missing field occurs.
pub struct Reasons {
    pub ineligible: Vec<HashMap<String, u64>>,
    pub missing: Vec<HashMap<String, u64>>,
}

impl Reasons {
    pub fn new(policies: usize) -> Reasons {
        Reasons {
            ineligible: vec![HashMap::new(); policies],
            missing: vec![HashMap::new(); policies],
        }
    }

    pub fn add(&mut self, decisions: &[Decision]) {
        for d in decisions {
            match d.outcome {
                Outcome::Ineligible => {
                    if let Some(m) = self.ineligible.get_mut(d.policy) {
                        for label in d.reasons.split("; ") {
                            if !label.is_empty() && !label.starts_with("values: ") {
                                *m.entry(label.to_string()).or_default() += 1;
                            }
                        }
                    }
                }
                Outcome::Review => {
                    if let Some(m) = self.missing.get_mut(d.policy) {
                        for f in missing(&d.reasons).0 {
                            *m.entry(f.to_string()).or_default() += 1;
                        }
                    }
                }
                Outcome::Eligible => {}
            }
        }
    }

    /// Policy `p`'s `n` most frequent in `list`, most first (ties by text).
    pub fn top(list: &[HashMap<String, u64>], p: usize, n: usize) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = list
            .get(p)
            .map(|counts| counts.iter().map(|(k, c)| (k.clone(), *c)).collect())
            .unwrap_or_default();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }
}
