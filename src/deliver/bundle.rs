//! The results bundle (SPEC §9): `manifest.json` listing every result file with its size and
//! SHA-256, and a deterministic `ensemble-results-<UTC>.tar.gz` (checked by `crate::deliver::verify`).
//!
//! Only the verdict of this run's LOSO decides what goes in: the verdict file is re-judged from
//! the `loso_seed*.json` it names (bundled from wherever they lie in the folder), a stale
//! opposite verdict is an error, and models go in only with a PROMOTE whose corpus they were
//! fitted on. A bundle `verify` would refuse is never written.

use crate::archive::{self, Entry};
use crate::deliver::signing::{self, Signer};
use crate::error::{Error, Result};
use crate::schema::{
    self, LosoSeed, Manifest, ManifestFile, Sidecar, Verdict, VerdictFile, SCHEMA_VERSION,
};
use crate::{atomic, digest, layout, learn::gate, timestamp, walk};
use camino::{Utf8Path, Utf8PathBuf};

/// The result files among `entries` (relative and sorted) that `is_result` accepts; anything
/// else in the folder — cell stores, earlier bundles, the operator's own files — stays out. A
/// link where a result file belongs is refused.
fn result_files(
    entries: &[walk::Entry],
    is_result: impl Fn(&Utf8Path) -> bool,
) -> Result<Vec<Utf8PathBuf>> {
    let mut files = Vec::new();
    for entry in entries {
        if entry.kind.is_dir() || !is_result(&entry.rel) {
            continue;
        }
        if entry.kind.is_symlink() {
            return Err(Error::Input(format!(
                "{} is a symbolic link; bundles hold regular files only (copy the file instead)",
                entry.path
            )));
        }
        if entry.kind.is_file() {
            files.push(entry.rel.clone());
        }
    }
    Ok(files)
}

/// Whether `rel` is a file the verdict's bundle carries although it lies outside the results
/// layout, as when `train`, `verdict` and `export` wrote into one flat folder: a seed file in
/// the folder the verdict judged (`loso_rel`), or a model with its sidecar directly in `dir`.
fn judged_elsewhere(dir: &Utf8Path, rel: &Utf8Path, loso_rel: &Utf8Path) -> bool {
    let Some(name) = rel.file_name() else {
        return false;
    };
    let parent = rel.parent().unwrap_or(Utf8Path::new(""));
    if parent == loso_rel && layout::seed_of(name).is_some() {
        return true;
    }
    let partner = match rel.extension() {
        Some("onnx") => rel.with_extension("json"),
        Some("json") => rel.with_extension("onnx"),
        _ => return false,
    };
    parent.as_str().is_empty()
        && name != layout::MANIFEST
        && layout::is_model_file(name)
        && dir.join(partner).is_file()
}

/// The one verdict file in the results folder, re-judged from its LOSO files; the hash of the
/// corpus those files were trained on; and their folder relative to `dir`.
fn current_verdict(
    dir: &Utf8Path,
    files: &[Utf8PathBuf],
) -> Result<(VerdictFile, String, Utf8PathBuf)> {
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
    if !gate::judgement(
        &seeds,
        gate::other_seeds(loso_dir, &verdict.seeds)?,
        verdict.interval_model(),
    )?
    .matches(&verdict)
    {
        return Err(Error::Input(format!(
            "{path} is stale: the LOSO results in {} no longer give that verdict (gate, per-source diagnosis or stability); re-run `ensemble-kit verdict`",
            verdict.loso_dir
        )));
    }
    let judged_corpus = seeds
        .first()
        .map(|l| l.corpus_sha256.clone())
        .unwrap_or_default();
    let canonical = |p: &Utf8Path| std::fs::canonicalize(p).map_err(|e| Error::io(p, e));
    let loso_rel = canonical(loso_dir)?
        .strip_prefix(canonical(dir)?)
        .ok()
        .and_then(|rel| Utf8PathBuf::from_path_buf(rel.to_owned()).ok())
        .ok_or_else(|| {
            Error::Input(format!(
                "{path} judged the LOSO files in `{loso_dir}`, outside {dir}; a bundle carries what its verdict judged, \
                 so train into the results folder (ensemble-kit train --out-dir {dir}/{}) and judge again",
                layout::LOSO
            ))
        })?;
    Ok((verdict, judged_corpus, loso_rel))
}

/// Checks every model sidecar in the folder: allowed only with PROMOTE, fitted on the judged
/// corpus, and matching its model file's hash; a PROMOTE needs the model of every judged seed.
fn check_models(
    dir: &Utf8Path,
    files: &[Utf8PathBuf],
    verdict: &VerdictFile,
    judged_corpus: &str,
) -> Result<()> {
    let mut exported = Vec::new();
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
        exported.push(sidecar.seed);
    }
    if verdict.verdict == Verdict::Promote {
        if let Some(seed) = verdict.seeds.iter().find(|s| !exported.contains(s)) {
            return Err(Error::Input(format!(
                "{dir} holds a PROMOTE verdict but no model of judged seed {seed}; a PROMOTE bundle carries the ensemble — run `ensemble-kit export` first"
            )));
        }
    }
    Ok(())
}

/// The name of the bundle made now: `ensemble-results-<UTC>.tar.gz`.
pub fn file_name() -> Result<String> {
    let stamp = humantime::format_rfc3339_seconds(timestamp::now()?)
        .to_string()
        .replace(['-', ':'], "");
    Ok(layout::bundle_file(&stamp))
}

/// Writes `manifest.json` (and, with a `signer`, its signature `manifest.json.sig`) and the
/// bundle into `dir`; returns the manifest and the bundle path.
pub fn run(dir: &Utf8Path, signer: Option<&Signer>) -> Result<(Manifest, Utf8PathBuf)> {
    if !dir.is_dir() {
        return Err(Error::Input(format!(
            "--out-dir `{dir}` is not an existing folder"
        )));
    }
    let entries = walk::below(dir)?;
    let layout_files = result_files(&entries, layout::is_kit_file)?;
    let (verdict, judged_corpus, loso_rel) = current_verdict(dir, &layout_files)?;
    let files = result_files(&entries, |rel| {
        layout::is_kit_file(rel) || judged_elsewhere(dir, rel, &loso_rel)
    })?;
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
    let bundle = dir.join(file_name()?);
    let members: Vec<Entry> = files
        .iter()
        .map(|rel| Entry {
            source: dir.join(rel),
            name: rel.to_string(),
            executable: false,
        })
        .chain(signature.map(|source| Entry {
            source,
            name: layout::SIGNATURE.into(),
            executable: false,
        }))
        .collect();
    let manifest_entry = Entry {
        source: dir.join(layout::MANIFEST),
        name: layout::MANIFEST.into(),
        executable: false,
    };
    archive::write_tar_gz(
        &bundle,
        Some(manifest_entry),
        members,
        archive::entry_mtime()?,
    )?;
    // The bundle is for `verify`: one it would refuse is not handed out.
    if let Err(e) = crate::deliver::verify::verify(&bundle, None, u64::MAX) {
        std::fs::remove_file(&bundle).map_err(|e| Error::io(&bundle, e))?;
        return Err(Error::Input(format!(
            "the bundle of {dir} would not pass `ensemble-kit verify`, so none was written: {e}"
        )));
    }
    Ok((manifest, bundle))
}
