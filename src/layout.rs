//! The results folder's layout: the one place that knows its names, which of its files the kit
//! writes, and the marker that says a folder is the kit's own.
//!
//! ```text
//! OUT/.ensemble-kit-results                       (the marker)
//! OUT/.ensemble-kit-results.lock                  (held by every writer while it runs: `lock`)
//! OUT/corpus/NAME.jsonl, OUT/corpus/NAME.meta.json
//! OUT/corpus/NAME.audit/<cell key>.mkv            (the shard's audit cells' bitstreams)
//! OUT/loso/loso_seed{N}.json
//! OUT/PROMOTE.json | OUT/HOLD.json
//! OUT/models/NAME.onnx + NAME.json                (PROMOTE only)
//! OUT/report.html                                 (the page `report --format html` writes)
//! OUT/request.json                                (the owner's request, with `full --request`)
//! OUT/manifest.json, OUT/ensemble-results-<UTC>.tar.gz
//! ```
//!
//! `full` only removes, and `bundle` only packs, files of this layout: anything else an operator
//! keeps in the folder is left alone and never sent away. [`outputs`] holds the rule every
//! command's outputs follow: never an input, and never a file the kit did not write.

pub mod outputs;

pub mod lock;

use crate::error::{Error, Result};
use crate::schema::Verdict;
use camino::{Utf8Component, Utf8Path, Utf8PathBuf};

/// Written by `full` into a results folder it creates (or finds empty): only a folder with this
/// marker is the kit's to clean up.
pub const MARKER: &str = ".ensemble-kit-results";
/// Locked by every command that writes a results folder for its whole run (hidden, so never
/// bundled): two runs in one results folder would remove each other's files. See [`lock`].
pub const LOCK: &str = ".ensemble-kit-results.lock";
/// The LOSO folder.
pub const LOSO: &str = "loso";
/// The exported models' folder.
pub const MODELS: &str = "models";
/// The corpus folder.
pub const CORPUS: &str = "corpus";
/// The shard `full` scores into.
pub const SHARD: &str = "corpus/shard.jsonl";
/// The verdict file when the gate passed.
pub const PROMOTE: &str = "PROMOTE.json";
/// The verdict file when it did not.
pub const HOLD: &str = "HOLD.json";
/// The self-contained HTML report.
pub const REPORT: &str = "report.html";
/// The owner's request a run answers (`full --request`), bundled under the manifest's signature.
pub const REQUEST: &str = "request.json";
/// The bundle's manifest, in the results folder and first in the bundle.
pub const MANIFEST: &str = "manifest.json";
/// The SSH signature of the manifest in a signed bundle (`bundle --sign`).
pub const SIGNATURE: &str = "manifest.json.sig";
/// The results folder `full` and `report` use unless told otherwise.
pub const DEFAULT_OUT_DIR: &str = "ensemble-results";

/// How every seed file's name starts (`loso_seed{N}.json`).
const SEED_PREFIX: &str = "loso_seed";
/// How every bundle's name starts (`ensemble-results-<UTC>.tar.gz`).
const BUNDLE_PREFIX: &str = "ensemble-results-";

/// The name of the file that holds `verdict`.
pub fn verdict_file_name(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Promote => PROMOTE,
        Verdict::Hold => HOLD,
    }
}

/// The verdict a file of that name holds, or `None` when the name is not a verdict file's.
pub fn verdict_of_file_name(name: &str) -> Option<Verdict> {
    match name {
        PROMOTE => Some(Verdict::Promote),
        HOLD => Some(Verdict::Hold),
        _ => None,
    }
}

/// The verdict file of a results folder (`PROMOTE.json` or `HOLD.json`), or an error saying
/// how to make one.
pub fn verdict_file(dir: &Utf8Path) -> Result<Utf8PathBuf> {
    [PROMOTE, HOLD]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.exists())
        .ok_or_else(|| {
            Error::Input(format!(
                "{dir} holds no {PROMOTE} or {HOLD}; run `ensemble-kit full` first"
            ))
        })
}

/// Makes `dir` a results folder of the kit's: creates it with the marker, marks it when it is
/// empty, accepts it when already marked, and refuses (touching nothing) a folder that holds
/// anything else ([`check_claim`]).
pub fn claim(dir: &Utf8Path) -> Result<()> {
    check_claim(dir)?;
    let marker = dir.join(MARKER);
    if marker.is_file() {
        return Ok(());
    }
    crate::atomic::write(&marker, b"This folder is an ensemble-kit results folder.\n")
}

/// Whether `claim` would take `dir`, touching nothing: it is marked (and its layout folders are
/// real folders), or it is missing or holds only the marker's and lock's own files (another run
/// may be claiming it this moment; its lock then decides).
pub fn check_claim(dir: &Utf8Path) -> Result<()> {
    if dir.join(MARKER).is_file() {
        for sub in [CORPUS, LOSO, MODELS] {
            own_folder(&dir.join(sub))?;
        }
        return Ok(());
    }
    if dir.exists() {
        let entries = dir
            .as_std_path()
            .read_dir()
            .map_err(|e| Error::Input(format!("--out-dir `{dir}` cannot be read: {e}")))?;
        let marker_temp = format!(".{MARKER}.");
        let foreign = entries.flatten().any(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            !name.starts_with(MARKER) && !name.starts_with(&marker_temp)
        });
        if foreign {
            return Err(Error::Input(format!(
                "--out-dir `{dir}` already holds files that ensemble-kit did not write (it has no {MARKER} marker); \
                 choose a new or empty folder — nothing in `{dir}` was touched"
            )));
        }
    }
    Ok(())
}

/// The folder an output flag (`flag`: `--out-dir`, `--extract`) names, decided once at the
/// start: a symbolic link is resolved to the folder it names (so every step writes into that
/// folder, and none meets a link later); a link to nothing or to a file is refused.
pub fn resolve_root(dir: &Utf8Path, flag: &str) -> Result<Utf8PathBuf> {
    if !dir.is_symlink() {
        return Ok(dir.to_owned());
    }
    match dir.canonicalize_utf8() {
        Ok(target) if target.is_dir() => Ok(target),
        _ => Err(Error::Input(format!(
            "{flag} `{dir}` is a symbolic link that does not name a folder; point it at a folder or pass a real folder"
        ))),
    }
}

/// Checks that `dir`, if it exists, is a real folder and not a symbolic link: the kit writes and
/// removes files in it, and must never follow a link out of the results folder.
pub fn own_folder(dir: &Utf8Path) -> Result<bool> {
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(dir, e)),
        Ok(meta) if meta.is_dir() => Ok(true),
        Ok(_) => Err(Error::Input(format!(
            "`{dir}` is a symbolic link or not a folder; the kit writes and removes files only in folders of its own results folder — replace it with a real folder"
        ))),
    }
}

/// Whether `rel` (relative to the results folder) is a file the kit writes there, so may be
/// bundled or replaced.
pub fn is_kit_file(rel: &Utf8Path) -> bool {
    let parts: Vec<&str> = rel
        .components()
        .map(|c| match c {
            Utf8Component::Normal(part) => part,
            _ => "/",
        })
        .collect();
    match parts.as_slice() {
        [PROMOTE | HOLD | REPORT | REQUEST] => true,
        [LOSO, name] => seed_of(name).is_some(),
        [MODELS, name] => is_model_file(name),
        [CORPUS, name] => is_corpus_file(name),
        [CORPUS, folder, name] => is_audit_folder(folder) && is_audit_file(name),
        _ => false,
    }
}

/// The name of one seed's LOSO file: `loso_seed{N}.json`.
pub fn seed_file(seed: u64) -> String {
    format!("{SEED_PREFIX}{seed}.json")
}

/// The seed of a `loso_seed{N}.json` file name, written the one way the kit writes it (no
/// leading zeros or sign), so that one seed cannot hide under two names.
pub fn seed_of(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(SEED_PREFIX)?.strip_suffix(".json")?;
    let seed: u64 = digits.parse().ok()?;
    (seed.to_string() == digits).then_some(seed)
}

/// Whether a file name looks like a seed file at all (`loso_seed*.json`), canonical or not.
pub fn is_seed_like(name: &str) -> bool {
    name.starts_with(SEED_PREFIX) && name.ends_with(".json")
}

/// Whether a file name in `corpus/` is a shard or its metadata.
pub fn is_corpus_file(name: &str) -> bool {
    name.ends_with(".jsonl") || name.ends_with(".meta.json")
}

/// Whether a folder name in `corpus/` is a shard's audit bitstreams' (`NAME.audit`).
pub fn is_audit_folder(name: &str) -> bool {
    name.strip_suffix(".audit")
        .is_some_and(|shard| !shard.is_empty() && !shard.starts_with('.'))
}

/// Whether `rel` lies where a bundle keeps models: in `models/`, or at the top of a flat
/// results folder (where `train`, `verdict` and `export` wrote into one folder).
pub fn is_model_place(rel: &Utf8Path) -> bool {
    let parent = rel.parent().map_or("", Utf8Path::as_str);
    let name = rel.file_name().unwrap_or_default();
    (parent == MODELS || parent.is_empty()) && is_model_file(name) && !is_reserved(name)
}

/// Whether `name` is, or on a case-insensitive file system (macOS, Windows) opens, one of the
/// results folder's own files, so can never be a model: `Promote.json` beside `HOLD.json`
/// would answer for `PROMOTE.json` there.
fn is_reserved(name: &str) -> bool {
    [PROMOTE, HOLD, REPORT, REQUEST, MANIFEST, SIGNATURE]
        .iter()
        .any(|reserved| name.eq_ignore_ascii_case(reserved))
}

/// Whether `rel` is a member a results bundle may hold: a file of the layout
/// ([`is_kit_file`]), or what a flat results folder holds in its place — a seed file in the
/// folder the verdict judged (`loso`), a model or sidecar at the top.
pub fn is_bundle_member(rel: &Utf8Path, loso: &Utf8Path) -> bool {
    let in_loso = rel.parent() == Some(loso) && rel.file_name().and_then(seed_of).is_some();
    is_kit_file(rel) || in_loso || is_model_place(rel)
}

/// Whether a file name in `models/` is an exported model or its sidecar.
pub fn is_model_file(name: &str) -> bool {
    !name.starts_with('.') && (name.ends_with(".onnx") || name.ends_with(".json"))
}

/// Whether a top-level file name is a bundle the kit wrote.
pub fn is_bundle(name: &str) -> bool {
    name.starts_with(BUNDLE_PREFIX) && name.ends_with(".tar.gz")
}

/// The name of the bundle made at `stamp` (a compact UTC time).
pub fn bundle_file(stamp: &str) -> String {
    format!("{BUNDLE_PREFIX}{stamp}.tar.gz")
}

/// The kit's files directly inside `dir` (a folder of the layout) that `keep` rejects, for
/// removal; other files are never listed.
pub fn stale_files(
    dir: &Utf8Path,
    is_ours: impl Fn(&str) -> bool,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<Utf8PathBuf>> {
    if !own_folder(dir)? {
        return Ok(Vec::new());
    }
    let mut stale = Vec::new();
    for entry in dir.read_dir_utf8().map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
        if is_file && is_ours(name) && !keep(name) {
            stale.push(entry.path().to_owned());
        }
    }
    stale.sort();
    Ok(stale)
}

/// The folder of a shard's audit bitstreams: `x/shard.jsonl` → `x/shard.audit/`.
pub fn dir_of(shard: &Utf8Path) -> Utf8PathBuf {
    shard.with_extension("audit")
}

/// Whether `name` is an audit bitstream's file name: a cell key (64 lowercase hex) + `.mkv`.
pub fn is_audit_file(name: &str) -> bool {
    name.strip_suffix(".mkv").is_some_and(|key| {
        key.len() == 64 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_files() {
        for ours in [
            "PROMOTE.json",
            "HOLD.json",
            "report.html",
            "request.json",
            "loso/loso_seed12.json",
            "models/vmaf_tiny_seed0.onnx",
            "models/vmaf_tiny_seed0.json",
            "corpus/shard.jsonl",
            "corpus/shard.meta.json",
            "corpus/shard.audit/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.mkv",
        ] {
            assert!(is_kit_file(Utf8Path::new(ours)), "{ours}");
        }
        for theirs in [
            "keep.txt",
            "loso/notes.txt",
            "loso/loso_seedx.json",
            "loso/loso_seed004.json",
            "loso/loso_seed+4.json",
            "models/keep.txt",
            "models/sub/a.onnx",
            "PROMOTE.json.bak",
            "loso/report.html",
            "loso/request.json",
            "corpus/shard.cells/abc.json",
            "corpus/shard.audit/notes.txt",
            "corpus/.audit/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.mkv",
            "corpus/shard.cells/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.mkv",
        ] {
            assert!(!is_kit_file(Utf8Path::new(theirs)), "{theirs}");
        }
    }

    #[test]
    fn verdict_file_names() {
        for verdict in [Verdict::Promote, Verdict::Hold] {
            let name = verdict_file_name(verdict);
            assert_eq!(name, format!("{verdict}.json"));
            assert_eq!(verdict_of_file_name(name), Some(verdict));
        }
        assert_eq!(verdict_of_file_name("PROMOTE.json.bak"), None);
    }

    #[test]
    fn claim_marks_new_and_empty_folders_and_refuses_others() {
        let root = tempfile::tempdir().unwrap();
        let root = Utf8Path::from_path(root.path()).unwrap();
        claim(&root.join("new")).unwrap();
        assert!(root.join("new").join(MARKER).is_file());
        claim(&root.join("new")).unwrap();
        std::fs::create_dir(root.join("empty")).unwrap();
        claim(&root.join("empty")).unwrap();
        std::fs::create_dir_all(root.join("theirs/models")).unwrap();
        let err = claim(&root.join("theirs")).unwrap_err().to_string();
        assert!(err.contains("did not write"), "{err}");
        assert!(!root.join("theirs").join(MARKER).exists());
    }

    #[test]
    fn audit_file_names_are_keys() {
        assert!(is_audit_file(&format!("{}.mkv", "0a".repeat(32))));
        for bad in [
            "x.mkv".to_owned(),
            format!("{}.mp4", "0a".repeat(32)),
            format!("{}.mkv", "0A".repeat(32)),
            format!("../{}.mkv", "0a".repeat(31)),
        ] {
            assert!(!is_audit_file(&bad), "{bad}");
        }
    }
}
