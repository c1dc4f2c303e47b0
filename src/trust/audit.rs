//! Audit cells (issue 20): scores an owner can re-check without the collaborator's hardware.
//!
//! After a shard is scored, K of its cells are chosen from the SHA-256 of the shard's rows (so
//! after every row exists; see README "Audit cells" for what this does and does not stop) and
//! their encoded bitstreams — the exact bytes that were scored, kept in the cell store — are
//! copied to `SHARD.audit/<key>.mkv` and listed in the shard's metadata. They travel in the
//! bundle like every other file of the results folder.
//!
//! `verify --audit --ref-dir DIR` checks the bundle as `verify` does, then derives which cells
//! each shard must list — for a plain shard from its rows, for each inner shard of a merged
//! corpus from the rows of the cells it lists ([`choice`]) — and, for every audit cell: the
//! owner's reference has the SHA-256 the rows name; the bitstream is a single-video-stream
//! Matroska file of the encoder's codec, of the size the rows' `enc_bytes` say; decoding it and
//! scoring it with the owner's `vmaf` (the corpus stage's own decode | score path) gives every
//! recorded per-frame feature and VMAF within [`TOLERANCE`]; and where the encoder writes its
//! CRF into the stream, it is the rows' `cq` ([`stream_cq`]).

mod choice;
mod rescore;
mod stream_cq;

pub use rescore::TOLERANCE;

use crate::deliver::verify::Verified;
use crate::error::{Error, Result};
use crate::host::tools::Toolset;
use crate::ingest::corpus::{
    self,
    audit_cells::{id_of, CellId, MIN_CELLS},
    identity,
};
use crate::ingest::merge::{self, MergeRules};
use crate::layout::dir_of;
use crate::progress::Progress;
use crate::schema::{self, CorpusRow, Document, Finding, ImportedShardMeta, MergedMeta, ShardMeta};
use crate::{digest, layout};
use camino::{Utf8Path, Utf8PathBuf};
use choice::{Findings, Rows};
use rescore::{label_of, Rescorer, Target};
use std::collections::BTreeMap;
use stream_cq::StreamCq;

/// What `verify --audit` found.
#[derive(Debug, Clone)]
pub struct Audited {
    /// The cells re-scored (`src/encoder/cqN`).
    pub cells: Vec<String>,
    /// Frames re-scored.
    pub frames: u64,
    /// The shards whose audit-cell choice was derived from their rows (inner shards of a
    /// merged corpus named `merged › inner`).
    pub derived: Vec<String>,
    /// The audited cells whose CQ was read from the bitstream (`src/encoder/cqN crf=…`).
    pub cq_read: Vec<String>,
    /// The audited cells whose encoder writes no CQ into the bitstream: taken as claimed.
    pub cq_claimed: Vec<String>,
}

impl Audited {
    /// What the audit established: the scores and the cell choice derived, each CQ read from
    /// the bitstream or only claimed.
    pub fn findings(&self) -> Vec<Finding> {
        let mut findings = vec![
            Finding::derived(format!(
                "audit: {} cell(s), {} frames re-scored; every feature and VMAF within {:.0e} of the rows ({})",
                self.cells.len(),
                self.frames,
                TOLERANCE,
                self.cells.join(", ")
            )),
            Finding::derived(format!(
                "audit: the audit cells of {} shard(s) are the ones their rows choose ({})",
                self.derived.len(),
                self.derived.join(", ")
            )),
        ];
        if !self.cq_read.is_empty() {
            findings.push(Finding::derived(format!(
                "audit: CQ read from the bitstream and equal to the rows' for {} cell(s) ({})",
                self.cq_read.len(),
                self.cq_read.join(", ")
            )));
        }
        if !self.cq_claimed.is_empty() {
            findings.push(Finding::claimed(format!(
                "audit: CQ not recorded in the bitstream: taken as claimed for {} cell(s) ({}); only libx264 and libx265 write it",
                self.cq_claimed.len(),
                self.cq_claimed.join(", ")
            )));
        }
        findings
    }
}

/// Re-scores every audit cell of a verified bundle, extracted into `root`, against the owner's
/// references in `ref_dir`; every problem is listed, each naming its cell (and frame).
pub fn run(
    bundle: &Utf8Path,
    root: &Utf8Path,
    verified: &Verified,
    ref_dir: &Utf8Path,
    tools: &Toolset,
    progress: &Progress,
) -> Result<Audited> {
    if !ref_dir.is_dir() {
        return Err(Error::Input(format!(
            "--ref-dir `{ref_dir}` is not a folder; give the folder of your own reference videos"
        )));
    }
    let mut audit = Audit {
        root,
        rescorer: Rescorer::new(ref_dir, tools),
        progress,
        findings: Findings::default(),
        cells: Vec::new(),
        frames: 0,
        cq_read: Vec::new(),
        cq_claimed: Vec::new(),
    };
    audit.bundle(verified)?;
    let problems = &audit.findings.problems;
    if !problems.is_empty() {
        return Err(Error::Input(format!(
            "{bundle} fails the audit:\n  {}",
            problems.join("\n  ")
        )));
    }
    for note in &audit.findings.unaudited {
        progress.warn(note);
    }
    Ok(Audited {
        cells: audit.cells,
        frames: audit.frames,
        derived: audit.findings.derived,
        cq_read: audit.cq_read,
        cq_claimed: audit.cq_claimed,
    })
}

/// The state of one audit.
struct Audit<'a> {
    root: &'a Utf8Path,
    rescorer: Rescorer<'a>,
    progress: &'a Progress,
    findings: Findings,
    cells: Vec<String>,
    frames: u64,
    cq_read: Vec<String>,
    cq_claimed: Vec<String>,
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
            let rows = identity::read_rows(shard)?;
            targets.push((shard.clone(), self.targets(rel, shard, &rows)?, rows));
        }
        if targets.iter().all(|(_, t, _)| t.is_empty()) {
            return Err(Error::Input(format!(
                "the bundle carries no audit cells, so its scores cannot be re-checked; ask the collaborator to re-run with --audit-cells {MIN_CELLS} or more"
            )));
        }
        for (shard, shard_targets, rows) in targets {
            let rows = rows_of(&rows, &shard_targets);
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
            self.findings
                .problems
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
            self.findings.problems.push(format!(
                "corpus mismatch: the bundled corpus (rows sha256 {}) is not the one {} was trained on ({}); its audit would prove nothing about the verdict",
                corpus.sha256, loso.path, seed.corpus_sha256
            ));
        }
        Ok(())
    }

    /// The audit cells a bundled corpus lists (a merged corpus: those of every shard in it),
    /// after deriving which cells each shard must list.
    fn targets(&mut self, rel: &Utf8Path, shard: &Utf8Path, rows: &Rows) -> Result<Vec<Target>> {
        let meta_path = corpus::meta_path(shard);
        let value = schema::read_value(&meta_path)?;
        let dir = dir_of(shard);
        let mut targets = Vec::new();
        match schema::kind_of(&value) {
            Some(ImportedShardMeta::SCHEMA) => {
                self.findings.unaudited.push(format!(
                    "{rel} was imported from the reference kit: it has no audit cells"
                ));
            }
            Some(MergedMeta::SCHEMA) => {
                let merged: MergedMeta = schema::decode_checked(value, &meta_path)?;
                choice::merged(rel.as_str(), &merged, rows, &mut self.findings);
                merged_targets(&merged, &dir, &mut targets);
            }
            _ => {
                let meta: ShardMeta = schema::decode_checked(value, &meta_path)?;
                let sha = digest::sha256_file(shard)?;
                if meta.shard_sha256 != sha {
                    self.findings.problems.push(format!(
                        "{rel}: its metadata says sha256 {}, the file is {sha}",
                        meta.shard_sha256
                    ));
                }
                choice::plain(rel.as_str(), &meta, rows, &mut self.findings);
                targets.extend(shard_targets(&meta, &dir));
            }
        }
        Ok(targets)
    }

    /// Checks and re-scores one audit cell, recording every problem.
    fn cell(&mut self, shard: &Utf8Path, target: &Target, rows: Option<&Vec<CorpusRow>>) {
        let label = label_of(&target.cell);
        match self.rescore(shard, target, rows) {
            Ok((frames, cq)) => {
                self.progress
                    .info(&format!("audit cell {label}: {frames} frames match; {cq}"));
                self.cells.push(label);
                self.frames += frames;
            }
            Err(why) => self
                .findings
                .problems
                .push(format!("audit cell {label}: {why}")),
        }
    }

    /// Re-scores one audit cell and reads its CQ from the bitstream where the encoder wrote
    /// it; the frames that matched and what was found about the CQ.
    fn rescore(
        &mut self,
        shard: &Utf8Path,
        target: &Target,
        rows: Option<&Vec<CorpusRow>>,
    ) -> std::result::Result<(u64, String), String> {
        let frames = self.rescorer.rescore(shard, target, rows)?;
        let label = label_of(&target.cell);
        let path = target.dir.join(&target.cell.file);
        let cq = match stream_cq::check(&path, &target.cell.encoder, target.cell.cq)? {
            StreamCq::Read(setting) => {
                self.cq_read.push(format!("{label} {setting}"));
                format!("CQ read from the bitstream ({setting})")
            }
            StreamCq::NotRecorded => {
                self.cq_claimed.push(label);
                "CQ not recorded in the bitstream: taken as claimed".to_owned()
            }
        };
        Ok((frames, cq))
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

/// The rows of the audited cells of one corpus, by cell, in frame order.
fn rows_of(rows: &Rows, targets: &[Target]) -> BTreeMap<CellId, Vec<CorpusRow>> {
    let mut by_cell: BTreeMap<CellId, Vec<CorpusRow>> = BTreeMap::new();
    for target in targets {
        let id = id_of(&target.cell);
        let first = (id.0.clone(), id.1.clone(), id.2, 0);
        let last = (id.0.clone(), id.1.clone(), id.2, u64::MAX);
        let cell_rows: Vec<CorpusRow> = rows.range(first..=last).map(|(_, r)| r.clone()).collect();
        if !cell_rows.is_empty() {
            by_cell.insert(id, cell_rows);
        }
    }
    by_cell
}
