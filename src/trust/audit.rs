//! Audit cells (issue 20): scores an owner can re-check without the collaborator's hardware.
//!
//! After a shard is scored, K of its cells are chosen from the SHA-256 of the shard file (so
//! after every row exists; see README "Audit cells" for what this does and does not stop) and
//! their encoded bitstreams — the exact bytes that were scored, kept in the cell store — are
//! copied to `SHARD.audit/<key>.mkv` and listed in the shard's metadata. They travel in the
//! bundle like every other file of the results folder.
//!
//! `verify --audit --ref-dir DIR` checks the bundle as `verify` does, then, for every audit cell:
//! the owner's reference has the SHA-256 the rows name; the bitstream is a single-video-stream
//! Matroska file of the encoder's codec, of the size the rows' `enc_bytes` say; and decoding it
//! and scoring it with the owner's `vmaf` (the corpus stage's own decode | score path) gives
//! every recorded per-frame feature and VMAF within [`TOLERANCE`].

mod rescore;

pub use rescore::TOLERANCE;

use crate::deliver::verify::{self, Verified};
use crate::error::{Error, Result};
use crate::host::{temporary, tools::Toolset};
use crate::ingest::corpus::{
    self,
    audit_cells::{choose, id_of, CellId},
};
use crate::ingest::merge::{self, MergeRules};
use crate::layout::dir_of;
use crate::progress::Progress;
use crate::schema::{self, CorpusRow, Document, ImportedShardMeta, MergedMeta, ShardMeta};
use crate::{digest, layout};
use camino::{Utf8Path, Utf8PathBuf};
use rescore::{label_of, Rescorer, Target};
use std::collections::{BTreeMap, BTreeSet};

/// What `verify --audit` is asked to do.
#[derive(Debug, Clone)]
pub struct AuditRequest {
    /// The bundle.
    pub bundle: Utf8PathBuf,
    /// Extract into this folder once the bundle verified and every audit cell re-scored.
    pub extract: Option<Utf8PathBuf>,
    /// Cap on what the bundle may unpack to.
    pub max_total_size: u64,
    /// The owner's reference videos.
    pub ref_dir: Utf8PathBuf,
}

/// What `verify --audit` found.
#[derive(Debug, Clone)]
pub struct Audited {
    /// The bundle check.
    pub verified: Verified,
    /// The cells re-scored (`src/encoder/cqN`).
    pub cells: Vec<String>,
    /// Frames re-scored.
    pub frames: u64,
}

/// Verifies the bundle, then re-scores every audit cell it carries; every problem is listed,
/// each naming its cell (and frame).
pub fn run(
    request: &AuditRequest,
    allowed: Option<&crate::deliver::signing::AllowedSigners>,
    tools: &Toolset,
    progress: &Progress,
) -> Result<Audited> {
    if !request.ref_dir.is_dir() {
        return Err(Error::Input(format!(
            "--ref-dir `{}` is not a folder; give the folder of your own reference videos",
            request.ref_dir
        )));
    }
    // Beside --extract when given (then renamed into place), else in TMPDIR; removed when
    // `_staging` is dropped.
    let (_staging, root): (Box<dyn std::any::Any>, Utf8PathBuf) = match &request.extract {
        Some(dest) => {
            let dir = verify::private_folder_beside(dest)?;
            let root = Utf8Path::from_path(dir.path())
                .ok_or_else(|| Error::Environment("the extraction folder is not UTF-8".into()))?
                .join("bundle");
            (Box::new(dir), root)
        }
        None => {
            let folder = temporary::Folder::new("audit")?;
            let root = folder.path().join("bundle");
            (Box::new(folder), root)
        }
    };
    audit(request, &root, allowed, tools, progress)
        .map_err(|e| e.as_members_of(&request.bundle, &root))
}

/// [`run`] with the bundle extracted into `root`, naming files there.
fn audit(
    request: &AuditRequest,
    root: &Utf8Path,
    allowed: Option<&crate::deliver::signing::AllowedSigners>,
    tools: &Toolset,
    progress: &Progress,
) -> Result<Audited> {
    let verified =
        verify::verify_signed(&request.bundle, Some(root), request.max_total_size, allowed)?;
    let mut audit = Audit {
        root,
        rescorer: Rescorer::new(&request.ref_dir, tools),
        progress,
        problems: Vec::new(),
        cells: Vec::new(),
        frames: 0,
    };
    audit.bundle(&verified)?;
    if !audit.problems.is_empty() {
        return Err(Error::Input(format!(
            "{} fails the audit:\n  {}",
            request.bundle,
            audit.problems.join("\n  ")
        )));
    }
    let (cells, frames) = (audit.cells, audit.frames);
    if let Some(dest) = &request.extract {
        std::fs::rename(root, dest).map_err(|e| Error::io(dest, e))?;
    }
    Ok(Audited {
        verified,
        cells,
        frames,
    })
}

/// The state of one audit.
struct Audit<'a> {
    root: &'a Utf8Path,
    rescorer: Rescorer<'a>,
    progress: &'a Progress,
    problems: Vec<String>,
    cells: Vec<String>,
    frames: u64,
}

impl Audit<'_> {
    /// Audits every corpus in the extracted bundle.
    fn bundle(&mut self, verified: &Verified) -> Result<()> {
        let shards: Vec<Utf8PathBuf> = verified
            .manifest
            .files
            .iter()
            .map(|f| Utf8PathBuf::from(&f.path))
            .filter(|p| {
                p.parent() == Some(Utf8Path::new(layout::CORPUS)) && p.extension() == Some("jsonl")
            })
            .collect();
        if shards.is_empty() {
            return Err(Error::Input(format!(
                "the bundle carries no corpus (no {}/*.jsonl), so there is nothing to audit; ask for a bundle made by `full` from references",
                layout::CORPUS
            )));
        }
        let paths: Vec<Utf8PathBuf> = shards.iter().map(|s| self.root.join(s)).collect();
        self.judged_corpus(verified, &paths)?;
        let mut targets = Vec::new();
        for (rel, shard) in shards.iter().zip(&paths) {
            targets.push((shard.clone(), self.targets(rel, shard)?));
        }
        if targets.iter().all(|(_, t)| t.is_empty()) {
            return Err(Error::Input(
                "the bundle carries no audit cells, so its scores cannot be re-checked; ask the collaborator to re-run with --audit-cells 1 or more".into(),
            ));
        }
        for (shard, shard_targets) in targets {
            let rows = rows_of(&shard, &shard_targets)?;
            for target in shard_targets {
                self.cell(&shard, &target, rows.get(&id_of(&target.cell)));
            }
        }
        Ok(())
    }

    /// The bundled corpus must be the one the judged LOSO files were trained on: auditing
    /// other rows would prove nothing about the verdict.
    fn judged_corpus(&mut self, verified: &Verified, shards: &[Utf8PathBuf]) -> Result<()> {
        let seeds = &verified.verdict.seeds;
        let loso = verified.manifest.files.iter().find(|f| {
            Utf8Path::new(&f.path)
                .file_name()
                .and_then(layout::seed_of)
                .is_some_and(|s| seeds.contains(&s))
        });
        let Some(loso) = loso else {
            self.problems
                .push("no judged loso_seed*.json in the bundle".into());
            return Ok(());
        };
        let path = self.root.join(&loso.path);
        let seed: schema::LosoSeed = schema::read_json(&path)?;
        let rules = MergeRules {
            allow_mixed_vmaf: true,
            allow_missing_meta: false,
        };
        let corpus = merge::load(shards, rules)?;
        if corpus.sha256 != seed.corpus_sha256 {
            self.problems.push(format!(
                "corpus mismatch: the bundled corpus (rows sha256 {}) is not the one {} was trained on ({}); its audit would prove nothing about the verdict",
                corpus.sha256, loso.path, seed.corpus_sha256
            ));
        }
        Ok(())
    }

    /// The audit cells a bundled corpus lists (a merged corpus: those of every shard in it).
    fn targets(&mut self, rel: &Utf8Path, shard: &Utf8Path) -> Result<Vec<Target>> {
        let meta_path = corpus::meta_path(shard);
        let value = schema::read_value(&meta_path)?;
        let dir = dir_of(shard);
        let mut targets = Vec::new();
        match schema::kind_of(&value) {
            Some(ImportedShardMeta::SCHEMA) => {
                self.progress.warn(&format!(
                    "{rel} was imported from the reference kit: it has no audit cells"
                ));
            }
            Some(MergedMeta::SCHEMA) => {
                let merged: MergedMeta = schema::decode_checked(value, &meta_path)?;
                merged_targets(&merged, &dir, &mut targets);
            }
            _ => {
                let meta: ShardMeta = schema::decode_checked(value, &meta_path)?;
                self.check_choice(rel, shard, &meta)?;
                targets.extend(shard_targets(&meta, &dir));
            }
        }
        Ok(targets)
    }

    /// A shard's audit cells must be the ones its own bytes choose.
    fn check_choice(&mut self, rel: &Utf8Path, shard: &Utf8Path, meta: &ShardMeta) -> Result<()> {
        let sha = digest::sha256_file(shard)?;
        if meta.shard_sha256 != sha {
            self.problems.push(format!(
                "{rel}: its metadata says sha256 {}, the file is {sha}",
                meta.shard_sha256
            ));
        }
        let mut ids = BTreeSet::new();
        schema::for_each_jsonl(shard, |_, row: CorpusRow| {
            ids.insert((row.src_sha256, row.encoder, row.cq));
            Ok(())
        })?;
        let listed: Vec<CellId> = {
            let mut l: Vec<CellId> = meta.audit_cells.iter().map(id_of).collect();
            l.sort();
            l
        };
        let chosen = choose(&sha, &ids, meta.settings.audit_cells);
        if listed != chosen {
            let names = |cells: &[CellId]| {
                cells
                    .iter()
                    .map(|(_, e, cq)| format!("{e}/cq{cq}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            self.problems.push(format!(
                "{rel}: its audit cells ({}) are not the {} its rows choose ({}); the rows changed after the cells were chosen, or the cells were picked by hand",
                names(&listed),
                meta.settings.audit_cells,
                names(&chosen)
            ));
        }
        Ok(())
    }

    /// Checks and re-scores one audit cell, recording every problem.
    fn cell(&mut self, shard: &Utf8Path, target: &Target, rows: Option<&Vec<CorpusRow>>) {
        let label = label_of(&target.cell);
        match self.rescorer.rescore(shard, target, rows) {
            Ok(frames) => {
                self.progress
                    .info(&format!("audit cell {label}: {frames} frames match"));
                self.cells.push(label);
                self.frames += frames;
            }
            Err(why) => self.problems.push(format!("audit cell {label}: {why}")),
        }
    }
}

fn shard_targets(meta: &ShardMeta, dir: &Utf8Path) -> Vec<Target> {
    meta.audit_cells
        .iter()
        .map(|cell| Target {
            cell: cell.clone(),
            dir: dir.to_owned(),
            sources: meta.sources.clone(),
            vmaf_version: meta.tools.vmaf.version.clone(),
            backend: meta.settings.scoring_backend,
        })
        .collect()
}

/// The audit cells of every shard inside a merged corpus (their bitstreams were gathered into
/// the merged corpus's own `.audit/` folder).
fn merged_targets(merged: &MergedMeta, dir: &Utf8Path, out: &mut Vec<Target>) {
    for shard in &merged.shards {
        if let Some(meta) = &shard.meta {
            out.extend(shard_targets(meta, dir));
        }
        if let Some(inner) = &shard.merged {
            merged_targets(inner, dir, out);
        }
    }
}

/// The rows of the audited cells of one corpus, by cell, in file order.
fn rows_of(shard: &Utf8Path, targets: &[Target]) -> Result<BTreeMap<CellId, Vec<CorpusRow>>> {
    let wanted: BTreeSet<CellId> = targets.iter().map(|t| id_of(&t.cell)).collect();
    let mut rows: BTreeMap<CellId, Vec<CorpusRow>> = BTreeMap::new();
    schema::for_each_jsonl(shard, |_, row: CorpusRow| {
        let id = (row.src_sha256.clone(), row.encoder.clone(), row.cq);
        if wanted.contains(&id) {
            rows.entry(id).or_default().push(row);
        }
        Ok(())
    })?;
    for cell_rows in rows.values_mut() {
        cell_rows.sort_by_key(|r| r.frame_index);
    }
    Ok(rows)
}
