//! The results bundle (SPEC §9): `manifest.json` listing every result file with its size and
//! SHA-256, and a deterministic `ensemble-results-<UTC>.tar.gz` (checked by `crate::verify`).
//!
//! Only the verdict of this run's LOSO decides what goes in: the verdict file is re-judged from
//! the `loso_seed*.json` it names, a stale opposite verdict is an error, and models go in only
//! with a PROMOTE whose corpus they were fitted on.

use crate::archive::{self, Entry};
use crate::error::{Error, Result};
use crate::schema::{
    self, LosoSeed, Manifest, ManifestFile, Sidecar, Verdict, VerdictFile, SCHEMA_VERSION,
};
use crate::signing::{self, Signer};
use crate::{atomic, digest, gate, layout, timestamp, walk};
use camino::{Utf8Path, Utf8PathBuf};

/// The files of the results layout below `dir` (see [`layout::is_kit_file`]), relative and
/// sorted; anything else in the folder — cell stores, earlier bundles, the operator's own
/// files — stays out. A link where a result file belongs is refused.
fn result_files(dir: &Utf8Path) -> Result<Vec<Utf8PathBuf>> {
    let mut files = Vec::new();
    for entry in walk::below(dir)? {
        if entry.kind.is_dir() || !layout::is_kit_file(&entry.rel) {
            continue;
        }
        if entry.kind.is_symlink() {
            return Err(Error::Input(format!(
                "{} is a symbolic link; bundles hold regular files only (copy the file instead)",
                entry.path
            )));
        }
        if entry.kind.is_file() {
            files.push(entry.rel);
        }
    }
    Ok(files)
}

/// The one verdict file in the results folder, re-judged from its LOSO files, and the hash of
/// the corpus those files were trained on.
fn current_verdict(dir: &Utf8Path, files: &[Utf8PathBuf]) -> Result<(VerdictFile, String)> {
    let verdicts: Vec<&Utf8PathBuf> = files
        .iter()
        .filter(|f| {
            f.file_name()
                .and_then(layout::verdict_of_file_name)
                .is_some()
        })
        .collect();
    let rel = match verdicts.as_slice() {
        [one] => (*one).clone(),
        [] => return Err(Error::Input(format!("{dir} holds no {} or {}; run `ensemble-kit verdict` first", layout::PROMOTE, layout::HOLD))),
        many => {
            return Err(Error::Input(format!(
                "{dir} holds more than one verdict ({}); remove the stale one or re-run `ensemble-kit verdict`",
                many.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
            )))
        }
    };
    let path = dir.join(&rel);
    let verdict: VerdictFile = schema::read_json(&path)?;
    let loso_dir = &gate::loso_dir_of(&path, &verdict);
    let seeds: Vec<LosoSeed> = verdict
        .seeds
        .iter()
        .map(|&s| gate::read_seed(loso_dir, s))
        .collect::<Result<_>>()?;
    if !gate::judgement(&seeds, gate::other_seeds(loso_dir, &verdict.seeds)?)?.matches(&verdict) {
        return Err(Error::Input(format!(
            "{path} is stale: the LOSO results in {} no longer give that verdict (gate, per-source diagnosis or stability); re-run `ensemble-kit verdict`",
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
    verdict: &VerdictFile,
    judged_corpus: &str,
) -> Result<()> {
    for rel in files.iter().filter(|f| f.extension() == Some("onnx")) {
        if verdict.verdict != Verdict::Promote {
            return Err(Error::Input(format!(
                "{} is a model, but this run's verdict is {}; remove models from earlier runs before bundling",
                dir.join(rel),
                verdict.verdict
            )));
        }
        let sidecar_path = dir.join(rel).with_extension("json");
        let sidecar: Sidecar = schema::read_json(&sidecar_path)?;
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

/// Writes `manifest.json` (and, with a `signer`, its signature `manifest.json.sig`) and the
/// bundle into `dir`; returns the manifest and the bundle path.
pub fn run(dir: &Utf8Path, signer: Option<&Signer>) -> Result<(Manifest, Utf8PathBuf)> {
    if !dir.is_dir() {
        return Err(Error::Input(format!(
            "--out-dir `{dir}` is not an existing folder"
        )));
    }
    let files = result_files(dir)?;
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
        verdict: verdict.verdict,
        generated_at_utc: Signer::manifest_time(signer, dir)?,
        n_files: listed.len() as u64,
        files: listed,
    };
    atomic::write_json(&dir.join(layout::MANIFEST), &manifest)?;
    let signature = signing::write_signature(dir, signer)?;
    let stamp = humantime::format_rfc3339_seconds(timestamp::now()?)
        .to_string()
        .replace(['-', ':'], "");
    let bundle = dir.join(layout::bundle_file(&stamp));
    let entries: Vec<Entry> = files
        .iter()
        .map(|rel| Entry {
            source: dir.join(rel),
            name: rel.to_string(),
        })
        .chain(signature.map(|source| Entry {
            source,
            name: layout::SIGNATURE.into(),
        }))
        .collect();
    let manifest_entry = Entry {
        source: dir.join(layout::MANIFEST),
        name: layout::MANIFEST.into(),
    };
    archive::write_tar_gz(
        &bundle,
        Some(manifest_entry),
        entries,
        archive::entry_mtime()?,
    )?;
    Ok((manifest, bundle))
}
