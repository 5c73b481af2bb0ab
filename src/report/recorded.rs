//! A finished run as its `manifest.json` records it: where its inputs are,
//! and which of them no longer match the hashes recorded. `verify` replays
//! from it; `publish` refuses a folder whose inputs changed.

use std::path::{Path, PathBuf};

use crate::data::{Encoding, Input};
use crate::load::PolicySet;

/// Why a results folder cannot be read as a run.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RecordedError {
    #[error("无法读取运行清单 `{}` (cannot read the manifest): {message}", path.display())]
    #[diagnostic(code(mianshen::results::manifest))]
    Manifest { path: PathBuf, message: String },
    #[error("数据文件个数不符: 该次运行读了 {recorded} 个数据文件, 请按原顺序全部用 --data 给出, 或都不给 (the run read {recorded} data files; give all of them with --data, in the same order, or none)")]
    #[diagnostic(code(mianshen::results::data_count))]
    DataCount { recorded: usize },
}

/// The run recorded in a results folder, with any inputs given anew.
pub struct Recorded {
    pub manifest_path: PathBuf,
    pub manifest: serde_json::Value,
    /// The policy set: as recorded, or as given.
    pub dir: PathBuf,
    /// The data files, each with the hash recorded.
    pub data: Vec<(Input, String)>,
    pub ledger: Option<PathBuf>,
    pub as_of: String,
    pub all: bool,
    pub encoding: Encoding,
    /// A run in a database (`run --postgres`): its table, and the database
    /// as said to people; it read no data file.
    pub database: Option<(String, String)>,
}

/// What differs between the recorded inputs and the files found now.
pub struct Changes {
    /// Each difference, said for people (empty: the inputs are the run's).
    pub changed: Vec<String>,
    /// The ledger, when only its hash differs (it may only have gained
    /// payments since the run: a replay decides).
    pub ledger_changed: Option<PathBuf>,
    /// When the ledger changed and the rows the run read are still its
    /// first rows: how many they are, and how many rows it has now.
    pub ledger_rows: Option<(u64, u64)>,
    /// The policy set as it loads now, when it checks clean.
    pub set: Option<PolicySet>,
}

fn text(v: &serde_json::Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

impl Recorded {
    /// Reads `out/manifest.json`; `policies`, `data` and `ledger` replace
    /// what it records (files that moved since the run).
    // serde_json's `value["key"]` gives `Null` for what is absent; it never panics
    #[allow(clippy::indexing_slicing)]
    pub fn read(
        out: &Path,
        policies: Option<&Path>,
        data: &[Input],
        ledger: Option<&Path>,
    ) -> Result<Recorded, RecordedError> {
        let manifest_path = out.join("manifest.json");
        let manifest: serde_json::Value = std::fs::read_to_string(&manifest_path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
            .map_err(|message| RecordedError::Manifest {
                path: manifest_path.clone(),
                message,
            })?;
        let dir = policies
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(text(&manifest["policy_set"]["dir"])));
        let database = manifest["database"].as_object().map(|d| {
            let port = d
                .get("port")
                .and_then(|p| p.as_u64())
                .map(|p| format!(":{p}"))
                .unwrap_or_default();
            let place = format!(
                "`{}{port}/{}`",
                text(&manifest["database"]["host"]),
                text(&manifest["database"]["dbname"])
            );
            (text(&manifest["table"]["table"]), place)
        });
        // the data files as recorded: a list, or one file (older manifests)
        let recorded: Vec<(Input, String)> = match &manifest["data"] {
            _ if database.is_some() => Vec::new(),
            serde_json::Value::Array(files) => files
                .iter()
                .map(|f| {
                    let input = Input {
                        source: f["source"].as_str().map(str::to_string),
                        path: PathBuf::from(text(&f["path"])),
                    };
                    (input, text(&f["sha256"]))
                })
                .collect(),
            one => vec![(
                Input {
                    source: None,
                    path: PathBuf::from(text(&one["path"])),
                },
                text(&one["sha256"]),
            )],
        };
        if !data.is_empty() && data.len() != recorded.len() {
            return Err(RecordedError::DataCount {
                recorded: recorded.len(),
            });
        }
        let data = recorded
            .into_iter()
            .enumerate()
            .map(|(i, (recorded, sha))| match data.get(i) {
                // a moved file keeps the source it was read with
                Some(moved) => (
                    Input {
                        source: moved.source.clone().or(recorded.source),
                        path: moved.path.clone(),
                    },
                    sha,
                ),
                None => (recorded, sha),
            })
            .collect();
        let recorded_ledger = manifest["ledger"]["path"].as_str().map(PathBuf::from);
        let encoding = match text(&manifest["encoding"]).as_str() {
            "utf8" => Encoding::Utf8,
            "gb18030" => Encoding::Gb18030,
            _ => Encoding::Auto,
        };
        Ok(Recorded {
            ledger: ledger.map(Path::to_path_buf).or(recorded_ledger),
            as_of: text(&manifest["as_of"]),
            all: manifest["all"].as_bool().unwrap_or(false),
            encoding,
            database,
            dir,
            data,
            manifest,
            manifest_path,
        })
    }

    /// The data files to read, in the run's order.
    pub fn inputs(&self) -> Vec<Input> {
        self.data.iter().map(|(i, _)| i.clone()).collect()
    }

    /// Re-hashes every input: the engine version, each policy file, each
    /// data file and the ledger against what the manifest recorded.
    #[allow(clippy::indexing_slicing)]
    pub fn changes(&self) -> Changes {
        let manifest = &self.manifest;
        let mut changed = Vec::new();
        let version = text(&manifest["engine"]["version"]);
        if version != env!("CARGO_PKG_VERSION") {
            let this = env!("CARGO_PKG_VERSION");
            changed.push(format!(
                "引擎版本不同: 结果由 mianshen {version} 产生, 当前为 mianshen {this} (the results were made by mianshen {version}; this is mianshen {this})"
            ));
        }
        let recorded: Vec<(String, String)> = manifest["policy_set"]["files"]
            .as_array()
            .map(|files| {
                files
                    .iter()
                    .map(|f| (text(&f["path"]), text(&f["sha256"])))
                    .collect()
            })
            .unwrap_or_default();
        let set = match PolicySet::load(&self.dir) {
            Ok(set) => Some(set),
            Err(_) if !self.dir.is_dir() => {
                changed.push(format!(
                    "政策集目录 `{}` 不存在: 清单中的相对路径从当前目录找起; 请在运行时所在的目录中执行, 或用 --policies 指明新位置 (the policy set folder is not found: relative paths are taken from the current folder; run from where the run was made, or give --policies)",
                    self.dir.display()
                ));
                None
            }
            Err(_) => {
                changed.push(format!(
                    "`{}` 中的政策集现在检查不通过 (the policy set no longer checks clean)",
                    self.dir.display()
                ));
                None
            }
        };
        if let Some(set) = &set {
            for (path, sha) in &recorded {
                match set.files.iter().find(|f| &f.path == path) {
                    None => changed.push(format!("政策文件已删除 (policy file `{path}` is gone)")),
                    Some(f) if &f.sha256 != sha => {
                        changed.push(format!("政策文件已改动 (policy file `{path}` has changed)"))
                    }
                    Some(_) => {}
                }
            }
            for f in &set.files {
                if !recorded.iter().any(|(p, _)| p == &f.path) {
                    changed.push(format!("新增了政策文件 (policy file `{}` is new)", f.path));
                }
            }
        }
        for (input, sha) in &self.data {
            let path = &input.path;
            match std::fs::read(path) {
                Ok(bytes) => {
                    if &crate::load::sha256_hex(&bytes) != sha {
                        changed.push(format!(
                            "数据文件已改动 (the data file `{}` has changed)",
                            path.display()
                        ));
                    }
                }
                Err(e) => changed.push(format!(
                    "数据文件无法读取 (the data file `{}` cannot be read): {e}",
                    path.display()
                )),
            }
        }
        let mut ledger_changed = None;
        let mut ledger_rows = None;
        if let Some(path) = &self.ledger {
            let sha = text(&manifest["ledger"]["sha256"]);
            match std::fs::read(path) {
                Ok(_) if manifest["ledger"].is_null() => changed.push(format!(
                    "该次运行没有读台账, 现在却给了 `{}` (the run read no ledger, and it was given)",
                    path.display()
                )),
                Ok(bytes) if crate::load::sha256_hex(&bytes) == sha => {}
                // changed since: the rows the run read must still be the
                // first rows, as they were (rows added after them, as
                // `ledger add` adds them, are for the replay to judge)
                Ok(_) => match (
                    manifest["ledger"]["rows"].as_u64(),
                    manifest["ledger"]["rows_sha256"].as_str(),
                ) {
                    (Some(rows), Some(digest)) => {
                        match crate::data::ledger::rows_digest(path, rows) {
                            Ok((Some(now), total)) if now == digest => {
                                ledger_changed = Some(path.clone());
                                ledger_rows = Some((rows, total));
                            }
                            Ok(_) => changed.push(format!(
                                "台账 `{}` 中该次运行读过的前 {rows} 条兑付记录在运行后被改动或删除; 运行后只应在其后追加记录 (the ledger's first {rows} payment rows, which the run read, have been changed or removed since; only rows added after them are expected)",
                                path.display()
                            )),
                            Err(e) => changed.push(format!(
                                "台账无法读取 (the ledger `{}` cannot be read): {e}",
                                path.display()
                            )),
                        }
                    }
                    // a manifest that recorded no digest of the rows
                    _ => ledger_changed = Some(path.clone()),
                },
                Err(e) => changed.push(format!(
                    "台账无法读取 (the ledger `{}` cannot be read): {e}",
                    path.display()
                )),
            }
        }
        Changes {
            changed,
            ledger_changed,
            ledger_rows,
            set,
        }
    }
}
