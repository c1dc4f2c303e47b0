//! The results bundle (SPEC §9): `manifest.json` listing every result file with its size and
//! SHA-256, and a deterministic `ensemble-results-<UTC>.tar.gz`; plus `verify`, which checks a
//! bundle against its manifest and the model sidecars and extracts it safely.
//!
//! Only the verdict of this run's LOSO decides what goes in: the verdict file is re-judged from
//! the `loso_seed*.json` it names, a stale opposite verdict is an error, and models go in only
//! with a PROMOTE whose corpus they were fitted on.

use crate::archive::{self, Entry};
use crate::error::{Error, Result};
use crate::schema::{self, LosoSeed, Manifest, ManifestFile, Sidecar, Verdict, SCHEMA_VERSION};
use crate::{atomic, digest, gate, timestamp};
use camino::{Utf8Path, Utf8PathBuf};
use std::collections::BTreeMap;

/// Name of the manifest inside the results folder and the bundle.
pub const MANIFEST: &str = "manifest.json";

/// Folders and files of the results folder that never go into a bundle: cell stores (work
/// caches), earlier bundles, the manifest itself (it is regenerated) and temporary files.
fn excluded(rel: &Utf8Path) -> bool {
    rel.as_str() == MANIFEST
        || rel
            .components()
            .any(|c| c.as_str().ends_with(".cells") || c.as_str().starts_with('.'))
        || rel
            .file_name()
            .is_some_and(|n| n.starts_with("ensemble-results-") && n.ends_with(".tar.gz"))
}

fn walk(root: &Utf8Path, dir: &Utf8Path, out: &mut Vec<Utf8PathBuf>) -> Result<()> {
    for entry in dir.read_dir_utf8().map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let rel = entry
            .path()
            .strip_prefix(root)
            .expect("below root")
            .to_owned();
        if excluded(&rel) {
            continue;
        }
        let kind = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
        if kind.is_symlink() {
            return Err(Error::Input(format!(
                "{} is a symbolic link; bundles hold regular files only (copy the file instead)",
                entry.path()
            )));
        } else if kind.is_dir() {
            walk(root, entry.path(), out)?;
        } else if kind.is_file() {
            out.push(rel);
        }
    }
    Ok(())
}

/// The one verdict file in the results folder, re-judged from its LOSO files, and the hash of
/// the corpus those files were trained on.
fn current_verdict(dir: &Utf8Path, files: &[Utf8PathBuf]) -> Result<(Verdict, String)> {
    let verdicts: Vec<&Utf8PathBuf> = files
        .iter()
        .filter(|f| matches!(f.file_name(), Some("PROMOTE.json" | "HOLD.json")))
        .collect();
    let rel = match verdicts.as_slice() {
        [one] => (*one).clone(),
        [] => return Err(Error::Input(format!("{dir} holds no PROMOTE.json or HOLD.json; run `ensemble-kit verdict` first"))),
        many => {
            return Err(Error::Input(format!(
                "{dir} holds more than one verdict ({}); remove the stale one or re-run `ensemble-kit verdict`",
                many.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
            )))
        }
    };
    let path = dir.join(&rel);
    let verdict: Verdict = schema::read_json(&path, "verdict")?;
    let loso_dir = Utf8Path::new(&verdict.loso_dir);
    let seeds: Vec<LosoSeed> = verdict
        .seeds
        .iter()
        .map(|&s| gate::read_seed(loso_dir, s))
        .collect::<Result<_>>()?;
    if gate::judge_seeds(&seeds) != verdict.gate {
        return Err(Error::Input(format!(
            "{path} is stale: the LOSO results in {} no longer give that gate; re-run `ensemble-kit verdict`",
            verdict.loso_dir
        )));
    }
    let judged_corpus = seeds
        .first()
        .map(|l| l.corpus_sha256.clone())
        .unwrap_or_default();
    Ok((verdict, judged_corpus))
}

/// Checks every model sidecar in the folder: allowed only with PROMOTE, fitted on the judged
/// corpus, and matching its model file's hash.
fn check_models(
    dir: &Utf8Path,
    files: &[Utf8PathBuf],
    verdict: &Verdict,
    judged_corpus: &str,
) -> Result<()> {
    for rel in files.iter().filter(|f| f.extension() == Some("onnx")) {
        if verdict.verdict != "PROMOTE" {
            return Err(Error::Input(format!(
                "{} is a model, but this run's verdict is {}; remove models from earlier runs before bundling",
                dir.join(rel),
                verdict.verdict
            )));
        }
        let sidecar_path = dir.join(rel).with_extension("json");
        let sidecar: Sidecar = schema::read_json(&sidecar_path, "model-sidecar")?;
        if sidecar.corpus.sha256 != judged_corpus {
            return Err(Error::Input(format!("{sidecar_path} was fitted on another corpus than the one judged; re-run `ensemble-kit export`")));
        }
        let actual = digest::sha256_file(&dir.join(rel))?;
        if actual != sidecar.sha256 {
            return Err(Error::Input(format!(
                "{} does not match its sidecar's sha256; re-run `ensemble-kit export`",
                dir.join(rel)
            )));
        }
    }
    Ok(())
}

/// Writes `manifest.json` and the bundle into `dir`; returns the manifest and the bundle path.
pub fn run(dir: &Utf8Path) -> Result<(Manifest, Utf8PathBuf)> {
    if !dir.is_dir() {
        return Err(Error::Input(format!(
            "--out-dir `{dir}` is not an existing folder"
        )));
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files)?;
    files.sort();
    let (verdict, judged_corpus) = current_verdict(dir, &files)?;
    check_models(dir, &files, &verdict, &judged_corpus)?;
    let listed: Vec<ManifestFile> = files
        .iter()
        .map(|rel| {
            let path = dir.join(rel);
            let size = std::fs::metadata(&path)
                .map_err(|e| Error::io(&path, e))?
                .len();
            Ok(ManifestFile {
                path: rel.to_string(),
                size,
                sha256: digest::sha256_file(&path)?,
            })
        })
        .collect::<Result<_>>()?;
    let manifest = Manifest {
        schema_version: SCHEMA_VERSION,
        verdict: verdict.verdict.clone(),
        generated_at_utc: timestamp::now_utc()?,
        n_files: listed.len() as u64,
        files: listed,
    };
    atomic::write_json(&dir.join(MANIFEST), &manifest)?;
    let stamp = humantime::format_rfc3339_seconds(timestamp::now()?)
        .to_string()
        .replace(['-', ':'], "");
    let bundle = dir.join(format!("ensemble-results-{stamp}.tar.gz"));
    let mut entries: Vec<Entry> = files
        .iter()
        .map(|rel| Entry {
            source: dir.join(rel),
            name: rel.to_string(),
        })
        .collect();
    entries.push(Entry {
        source: dir.join(MANIFEST),
        name: MANIFEST.into(),
    });
    archive::write_tar_gz(&bundle, entries, archive::entry_mtime()?)?;
    Ok((manifest, bundle))
}

/// What `verify` found.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The bundle's manifest.
    pub manifest: Manifest,
    /// Files checked.
    pub files: usize,
}

/// Checks a bundle: every manifest entry present with its size and hash, nothing extra, every
/// sidecar's hash matching its model; then extracts it into `extract` if given. Problems are
/// listed together, each naming its file.
pub fn verify(bundle: &Utf8Path, extract: Option<&Utf8Path>) -> Result<Verified> {
    if !bundle.is_file() {
        return Err(Error::Input(format!("bundle `{bundle}` does not exist")));
    }
    let mut seen: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut manifest_bytes = None;
    let mut sidecars: Vec<(String, Sidecar)> = Vec::new();
    archive::for_each_file(bundle, |name, reader| {
        if name.extension() != Some("json") {
            let hashed = archive::hash_reader(reader)
                .map_err(|e| Error::Input(format!("{bundle}: cannot read `{name}`: {e}")))?;
            seen.insert(name.to_string(), hashed);
            return Ok(());
        }
        let bytes = archive::read_member(bundle, name, reader)?;
        if name.as_str() == MANIFEST {
            manifest_bytes = Some(bytes);
            return Ok(());
        }
        if let Ok(sidecar) = serde_json::from_slice::<Sidecar>(&bytes) {
            sidecars.push((name.to_string(), sidecar));
        }
        seen.insert(
            name.to_string(),
            (bytes.len() as u64, digest::sha256_bytes(&bytes)),
        );
        Ok(())
    })?;
    let manifest_bytes = manifest_bytes.ok_or_else(|| {
        Error::Input(format!(
            "{bundle} has no {MANIFEST}; it is not a results bundle"
        ))
    })?;
    let manifest: Manifest = schema::parse_checked(
        &manifest_bytes,
        &archive::member_label(bundle, Utf8Path::new(MANIFEST)),
        "manifest",
    )?;

    let mut problems = Vec::new();
    for file in &manifest.files {
        match seen.get(&file.path) {
            None => problems.push(format!("missing: {}", file.path)),
            Some((size, sha)) if *size != file.size || *sha != file.sha256 => {
                problems.push(format!(
                    "altered: {} (sha256 {sha}, manifest says {})",
                    file.path, file.sha256
                ))
            }
            Some(_) => {}
        }
    }
    let listed: std::collections::BTreeSet<&str> =
        manifest.files.iter().map(|f| f.path.as_str()).collect();
    for name in seen.keys().filter(|n| !listed.contains(n.as_str())) {
        problems.push(format!("extra: {name} (not in the manifest)"));
    }
    for (name, sidecar) in &sidecars {
        let model = Utf8Path::new(name).with_file_name(&sidecar.onnx);
        match seen.get(model.as_str()) {
            Some((_, sha)) if *sha == sidecar.sha256 => {}
            Some((_, sha)) => problems.push(format!(
                "altered: {model} (sha256 {sha}, sidecar {name} says {})",
                sidecar.sha256
            )),
            None => problems.push(format!("missing: {model} (named by sidecar {name})")),
        }
    }
    if manifest.n_files != manifest.files.len() as u64 {
        problems.push(format!(
            "{MANIFEST}: n_files says {} but lists {}",
            manifest.n_files,
            manifest.files.len()
        ));
    }
    if !problems.is_empty() {
        return Err(Error::Input(format!(
            "{bundle} fails verification:\n  {}",
            problems.join("\n  ")
        )));
    }
    if let Some(dir) = extract {
        archive::for_each_file(bundle, |name, reader| {
            archive::extract_to(&dir.join(name), reader).map(|_| ())
        })?;
    }
    Ok(Verified {
        files: manifest.files.len(),
        manifest,
    })
}
