//! Loading a policy set directory: `schema.yaml` plus every `*.policy` below
//! it, parsed and checked into a [`Program`].

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::diag::{Diagnostic, SourceText, Sources};
use crate::program::Program;
use crate::schema::Schema;

/// A loaded, checked policy set.
#[derive(Debug, Clone)]
pub struct PolicySet {
    pub program: Program,
    /// Every file the set was built from (schema first), for the manifest.
    pub files: Vec<SetFile>,
    /// The policy files' texts and syntax trees, in path order (for
    /// `mianshen lint`, which reads what was written, comments aside).
    pub sources: Sources,
    pub syntax: Vec<crate::syntax::ast::SourceFile>,
}

/// One input file of the set with its SHA-256.
#[derive(Debug, Clone)]
pub struct SetFile {
    /// Path relative to the policy set directory, with `/` separators.
    pub path: String,
    pub sha256: String,
}

/// Why a policy set did not load, with every problem found.
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
pub enum LoadError {
    /// Its files could not be read: the folder is not there or not a
    /// folder, a file or folder cannot be read, or it holds no policy file
    /// (a problem of the command line or the disk, exit status 2).
    #[error("the policy set cannot be read ({} problems)", .0.len())]
    #[diagnostic(code(mianshen::load::unreadable))]
    Unreadable(#[related] Vec<Diagnostic>),
    /// It was read but does not check: the schema, the syntax, names or
    /// types (a problem of the policies, exit status 1).
    #[error("the policy set does not check ({} problems)", .0.len())]
    #[diagnostic(code(mianshen::load::invalid))]
    Invalid(#[related] Vec<Diagnostic>),
}

impl LoadError {
    /// Every problem, in the order they are reported.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            LoadError::Unreadable(d) | LoadError::Invalid(d) => d,
        }
    }
}

/// A load error reads as its diagnostics (for `render_human(&e)`).
impl std::ops::Deref for LoadError {
    type Target = [Diagnostic];

    fn deref(&self) -> &[Diagnostic] {
        self.diagnostics()
    }
}

/// Deepest directory nesting searched for policy files.
const MAX_DIR_DEPTH: usize = 32;
/// Largest policy file accepted.
const MAX_FILE_BYTES: u64 = 4 << 20;

impl PolicySet {
    /// Loads and checks the set in `dir`. All problems are returned at once.
    ///
    /// Parsing and checking run on a thread with a large stack, so that deeply
    /// nested (but accepted) expressions never exhaust the caller's stack.
    pub fn load(dir: &Path) -> Result<PolicySet, LoadError> {
        let dir = dir.to_path_buf();
        let worker = std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn(move || load_here(&dir));
        match worker {
            Ok(handle) => handle.join().unwrap_or_else(|_| {
                Err(LoadError::Invalid(vec![Diagnostic::new(
                    "internal",
                    "the policy checker stopped unexpectedly",
                )]))
            }),
            Err(e) => Err(LoadError::Unreadable(vec![Diagnostic::new(
                "internal",
                format!("cannot start the checker: {e}"),
            )])),
        }
    }

    /// Loads a set from texts held in memory: `(relative path, text)` pairs for
    /// policy files, and the schema text. For embedding and tests.
    pub fn from_texts(schema: &str, files: &[(&str, &str)]) -> Result<PolicySet, Vec<Diagnostic>> {
        let schema = SourceText::new("schema.yaml", schema);
        let files: Vec<(String, SourceText)> = files
            .iter()
            .map(|(p, t)| (p.to_string(), SourceText::new(*p, *t)))
            .collect();
        build(schema, files)
    }
}

fn load_here(dir: &Path) -> Result<PolicySet, LoadError> {
    let display = |p: &Path| p.to_string_lossy().replace('\\', "/");
    if !dir.is_dir() {
        return Err(LoadError::Unreadable(vec![Diagnostic::new(
            "load::not-a-directory",
            format!("`{}` 不是目录 (not a directory)", display(dir)),
        )
        .help(
            "请给出放着 schema.yaml 和 *.policy 文件的政策集目录;单个测试文件用 `mianshen test 文件`",
        )]));
    }
    let mut diags = Vec::new();
    // a file read but not readable as text is a problem of the policies
    let mut invalid = false;
    let schema_path = dir.join("schema.yaml");
    // the SHA-256 of each file's bytes, schema first, as `files` lists them
    let mut hashes = Vec::new();
    let schema = match read_text(&schema_path) {
        Ok((t, sha256)) => {
            hashes.push(sha256);
            SourceText::new(display(&schema_path), t)
        }
        Err(e) => {
            let (code, e) = match e {
                ReadProblem::Unreadable(e) => ("load::schema", e),
                ReadProblem::Content(e) => {
                    invalid = true;
                    ("schema::file", e)
                }
                ReadProblem::NotUtf8 { .. } => {
                    invalid = true;
                    (
                        "schema::file",
                        "文件不是 UTF-8 编码,请另存为 UTF-8 (not UTF-8)".into(),
                    )
                }
            };
            diags.push(
                Diagnostic::new(
                    code,
                    format!("无法读取 `{}`:{e} (cannot read)", display(&schema_path)),
                )
                .help("政策集要有 schema.yaml,说明企业档案有哪些字段"),
            );
            SourceText::new(display(&schema_path), "")
        }
    };
    let mut paths = Vec::new();
    find_policies(dir, dir, 0, &mut paths, &mut diags);
    paths.sort();
    let mut files = Vec::new();
    for rel in paths {
        let full = dir.join(&rel);
        match read_text(&full) {
            Ok((t, sha256)) => {
                hashes.push(sha256);
                files.push((
                    rel.to_string_lossy().replace('\\', "/"),
                    SourceText::new(display(&full), t),
                ))
            }
            Err(ReadProblem::Unreadable(e)) => diags.push(Diagnostic::new(
                "load::file",
                format!("无法读取 `{}`:{e} (cannot read)", display(&full)),
            )),
            Err(ReadProblem::Content(e)) => {
                invalid = true;
                diags.push(Diagnostic::new(
                    "syntax::file",
                    format!("无法读取 `{}`:{e} (cannot read)", display(&full)),
                ))
            }
            Err(ReadProblem::NotUtf8 { lossy, at }) => {
                invalid = true;
                let src = SourceText::new(display(&full), lossy);
                diags.push(
                    Diagnostic::new("syntax::encoding", "文件不是 UTF-8 编码 (not UTF-8)")
                        .at(&src, at, at + '\u{FFFD}'.len_utf8())
                        .label("这里不是 UTF-8")
                        .help("请把政策文件另存为 UTF-8 编码(记事本、WPS 的“另存为”里可选编码)"),
                )
            }
        }
    }
    if files.is_empty() && diags.is_empty() {
        let near: Vec<String> = almost_policies(dir)
            .iter()
            .map(|n| format!("`{n}`"))
            .collect();
        let help = if near.is_empty() {
            "政策文件的名字以 `.policy` 结尾, 放在这个目录或它的子目录里 (policy files end in `.policy`, in this folder or below it)".to_string()
        } else {
            format!(
                "找到 {}: 名字要以 `.policy` 结尾, 记事本另存时可能加上了 `.txt`, 请改名 (found {}: a policy file's name ends in `.policy`; Notepad may have added `.txt`)",
                near.join("、"),
                near.join(", ")
            )
        };
        diags.push(
            Diagnostic::new(
                "load::empty",
                format!("`{}` 里没有 *.policy 文件 (no policy file)", display(dir)),
            )
            .help(help),
        );
    }
    if !diags.is_empty() {
        return Err(if invalid {
            LoadError::Invalid(diags)
        } else {
            LoadError::Unreadable(diags)
        });
    }
    let mut set = build(schema, files).map_err(LoadError::Invalid)?;
    // the manifest's hashes are of the files as they are on disk
    for (file, sha256) in set.files.iter_mut().zip(hashes) {
        file.sha256 = sha256;
    }
    Ok(set)
}

fn build(
    schema_src: SourceText,
    files: Vec<(String, SourceText)>,
) -> Result<PolicySet, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let schema = match Schema::load(&schema_src) {
        Ok(s) => Some(s),
        Err(d) => {
            diags.extend(d);
            None
        }
    };
    let sources = Sources {
        files: files.iter().map(|(_, s)| s.clone()).collect(),
    };
    let mut asts = Vec::new();
    // what the files that could not be read whole may define
    let mut unread = std::collections::BTreeSet::new();
    for (i, (_, src)) in files.iter().enumerate() {
        let (ast, d) = crate::syntax::parse_file(src, i as u32);
        if !d.is_empty() {
            unread.extend(crate::syntax::declared_names(&src.text));
        }
        diags.extend(d);
        asts.push(ast);
    }
    let names: Vec<String> = files.iter().map(|(p, _)| p.clone()).collect();
    let program = match &schema {
        Some(schema) => match crate::check::check(schema, &sources, &asts, &names, &unread) {
            Ok(p) => Some(p),
            Err(d) => {
                diags.extend(d);
                None
            }
        },
        None => None,
    };
    match program {
        Some(program) if diags.is_empty() => {
            let mut set_files = vec![SetFile {
                path: "schema.yaml".into(),
                sha256: sha256_hex(schema_src.text.as_bytes()),
            }];
            for (path, src) in &files {
                set_files.push(SetFile {
                    path: path.clone(),
                    sha256: sha256_hex(src.text.as_bytes()),
                });
            }
            Ok(PolicySet {
                program,
                files: set_files,
                sources,
                syntax: asts,
            })
        }
        _ => {
            diags.sort_by_key(|d| d.sort_key());
            Err(diags)
        }
    }
}

fn find_policies(
    root: &Path,
    dir: &Path,
    depth: usize,
    out: &mut Vec<PathBuf>,
    diags: &mut Vec<Diagnostic>,
) {
    if depth > MAX_DIR_DEPTH {
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            diags.push(Diagnostic::new(
                "load::dir",
                format!("cannot list `{}`: {e}", dir.display()),
            ));
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            find_policies(root, &path, depth + 1, out, diags);
        } else if path.extension().is_some_and(|e| e == "policy") {
            if let Ok(rel) = path.strip_prefix(root) {
                out.push(rel.to_path_buf());
            }
        }
    }
}

/// Why a file could not be taken: it cannot be read (a command-line matter)
/// or what it holds is not a policy text (a policy error).
enum ReadProblem {
    Unreadable(String),
    Content(String),
    /// Not UTF-8: the text as far as it can be shown, and the first bad byte.
    NotUtf8 {
        lossy: String,
        at: usize,
    },
}

/// A file's text (a leading byte-order mark dropped) and the SHA-256 of its
/// bytes as they are on disk, the mark included (what `sha256sum` gives,
/// for the manifest).
fn read_text(path: &Path) -> Result<(String, String), ReadProblem> {
    let meta = std::fs::metadata(path).map_err(|e| ReadProblem::Unreadable(e.to_string()))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(ReadProblem::Content(format!(
            "the file is larger than {} MiB",
            MAX_FILE_BYTES >> 20
        )));
    }
    let raw = std::fs::read(path).map_err(|e| ReadProblem::Unreadable(e.to_string()))?;
    let sha256 = sha256_hex(&raw);
    let bytes = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&raw);
    let text = String::from_utf8(bytes.to_vec()).map_err(|e| ReadProblem::NotUtf8 {
        lossy: String::from_utf8_lossy(bytes).into_owned(),
        at: e.utf8_error().valid_up_to(),
    })?;
    Ok((text, sha256))
}

/// Lowercase hex SHA-256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Bytes in lower-case hexadecimal, as hashes are written.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Files in `dir` and the folders right under it whose names hold `.policy`
/// without ending in it (`a.policy.txt`, `a.Policy`), by path, at most five.
fn almost_policies(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut dirs = vec![(dir.to_path_buf(), 0)];
    while let Some((d, depth)) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() && depth == 0 {
                dirs.push((path, 1));
                continue;
            }
            let name = e.file_name().to_string_lossy().to_string();
            if name.to_lowercase().contains(".policy") && !name.ends_with(".policy") {
                let shown = path.strip_prefix(dir).unwrap_or(&path);
                found.push(shown.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    found.sort();
    found.truncate(5);
    found
}
