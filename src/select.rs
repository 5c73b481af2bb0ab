//! A run over part of a policy set: `mianshen run --policy ID … --only
//! renshe/`, so a bureau can evaluate its own policies alone. The selection
//! is recorded in the manifest, and `verify` replays it.
//!
//! Groups apply among the selected policies only: an `exclusive` or
//! `combined` group keeps its selected members (a firm's results under a
//! subset can therefore differ from a whole run, which is why the manifest
//! says what was selected).

use crate::program::Program;

/// Which policies a run evaluates: by id, and by the folder or file of the
/// set they are written in. Empty lists select everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub policies: Vec<String>,
    /// Paths relative to the policy set (`renshe/`, `renshe/wengang.policy`).
    pub only: Vec<String>,
}

impl Selection {
    pub fn is_all(&self) -> bool {
        self.policies.is_empty() && self.only.is_empty()
    }

    /// The selection as the manifest records it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "policies": self.policies, "only": self.only })
    }

    /// The selection a manifest recorded (none: the whole set).
    pub fn from_json(v: &serde_json::Value) -> Selection {
        let list = |k: &str| -> Vec<String> {
            v[k].as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        Selection {
            policies: list("policies"),
            only: list("only"),
        }
    }
}

/// `only` as a path inside the set: `./renshe/` and `policies/renshe` (the
/// set's own folder written in front) both mean `renshe`.
fn inside_set(only: &str, set_dir: &str) -> String {
    let p = only.replace('\\', "/");
    let p = p.trim_start_matches("./");
    let set = set_dir.replace('\\', "/");
    let set = set.trim_start_matches("./").trim_end_matches('/');
    let p = match p.strip_prefix(set) {
        Some(rest) if !set.is_empty() && (rest.is_empty() || rest.starts_with('/')) => rest,
        _ => p,
    };
    p.trim_matches('/').to_string()
}

impl Program {
    /// That `id` names no policy of the set, with the closest id, or else
    /// the ids that begin with it, as a suggestion.
    pub fn no_such_policy(&self, id: &str) -> String {
        let ids = || self.policies.iter().map(|p| p.id.as_str());
        let near = match crate::suggest::closest(id, ids()) {
            Some(s) => format!("`{s}`"),
            None => ids()
                .filter(|p| p.starts_with(id))
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", "),
        };
        let near = if near.is_empty() {
            near
        } else {
            format!(" (是不是 {near}? did you mean {near}?)")
        };
        format!("政策集里没有编号为 `{id}` 的政策 (no policy `{id}`){near}")
    }

    /// The program restricted to the selected policies. `Err` names an id
    /// not in the set (with the closest one) or a path that holds none.
    pub fn select(&self, sel: &Selection, set_dir: &str) -> Result<Program, String> {
        for id in &sel.policies {
            if self.policy_index(id).is_none() {
                return Err(self.no_such_policy(id));
            }
        }
        let only: Vec<String> = sel.only.iter().map(|o| inside_set(o, set_dir)).collect();
        let in_paths = |file: &str| {
            only.is_empty()
                || only
                    .iter()
                    .any(|o| o.is_empty() || file == o || file.starts_with(&format!("{o}/")))
        };
        for (given, o) in sel.only.iter().zip(&only) {
            if !self
                .policies
                .iter()
                .any(|p| o.is_empty() || p.file == *o || p.file.starts_with(&format!("{o}/")))
            {
                return Err(format!(
                    "`{given}` 下没有政策文件 (no policy file under it): give a folder or file inside the policy set, e.g. `renshe/`"
                ));
            }
        }
        let keep: Vec<bool> = self
            .policies
            .iter()
            .map(|p| (sel.policies.is_empty() || sel.policies.contains(&p.id)) && in_paths(&p.file))
            .collect();
        if !keep.contains(&true) {
            return Err("所选的政策与路径没有交集 (the selection holds no policy)".into());
        }
        // old index → new index
        let mut index = Vec::with_capacity(keep.len());
        let mut next = 0usize;
        for k in &keep {
            index.push(k.then_some(next));
            next += usize::from(*k);
        }
        let remap = |ids: &[usize]| -> Vec<usize> {
            ids.iter()
                .filter_map(|i| index.get(*i).copied().flatten())
                .collect()
        };
        let mut out = self.clone();
        out.policies = self
            .policies
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(p, _)| p.clone())
            .collect();
        for x in &mut out.exclusives {
            x.policies = remap(&x.policies);
        }
        out.exclusives.retain(|x| !x.policies.is_empty());
        for x in &mut out.combined {
            x.policies = remap(&x.policies);
        }
        out.combined.retain(|x| !x.policies.is_empty());
        // a run needs the ledger only for what it evaluates
        let kept_ids: Vec<String> = out
            .policies
            .iter()
            .map(|p| format!("policy {}", p.id))
            .collect();
        let kept_groups: Vec<String> = out
            .combined
            .iter()
            .map(|c| format!("combined \"{}\"", c.label))
            .collect();
        out.ledger_uses.retain(|u| {
            !(u.within.starts_with("policy ") || u.within.starts_with("combined "))
                || kept_ids.contains(&u.within)
                || kept_groups.contains(&u.within)
        });
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program() -> Program {
        crate::engine::Engine::from_texts(
            "key: uscc\nfields:\n  uscc: { type: text }\n  n: { type: integer }\n",
            &[
                (
                    "renshe/a.policy",
                    "policy a {\n  title \"a\"\n  amount n * 2\n}\npolicy b {\n  title \"b\"\n  amount n\n}\n",
                ),
                ("keji/c.policy", "policy c {\n  title \"c\"\n  amount paid(old)\n}\nexclusive \"g\" { a, c } keep highest\n"),
            ],
        )
        .expect("the set checks")
        .program()
        .clone()
    }

    #[test]
    fn by_folder_and_id_with_groups_remapped() {
        let p = program();
        let sel = Selection {
            policies: vec![],
            only: vec!["policies/renshe/".into()],
        };
        let s = p.select(&sel, "policies").expect("a selection");
        let ids: Vec<&str> = s.policies.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(
            s.exclusives.first().map(|x| x.policies.clone()),
            Some(vec![0])
        );
        assert!(
            s.ledger_uses.is_empty(),
            "c reads the ledger and is not selected"
        );
        let sel = Selection {
            policies: vec!["c".into()],
            only: vec![],
        };
        let s = p.select(&sel, "policies").expect("a selection");
        assert_eq!(s.policies.len(), 1);
        assert_eq!(
            s.exclusives.first().map(|x| x.policies.clone()),
            Some(vec![0])
        );
        assert_eq!(s.ledger_uses.len(), 1);
    }

    #[test]
    fn unknown_ids_and_empty_paths_are_errors() {
        let p = program();
        let e = p.select(
            &Selection {
                policies: vec!["bb".into()],
                only: vec![],
            },
            "x",
        );
        assert!(e.is_err_and(|e| e.contains("`b`")));
        let e = p.select(
            &Selection {
                policies: vec![],
                only: vec!["shuiwu".into()],
            },
            "x",
        );
        assert!(e.is_err());
        let e = p.select(
            &Selection {
                policies: vec!["c".into()],
                only: vec!["renshe".into()],
            },
            "x",
        );
        assert!(e.is_err());
    }
}
