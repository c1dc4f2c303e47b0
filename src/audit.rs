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

use crate::corpus::{
    self,
    audit_cells::{choose, id_of, CellId},
};
use crate::error::{Error, Result};
use crate::layout::{dir_of, is_audit_file};
use crate::merge::{self, MergeRules};
use crate::progress::Progress;
use crate::schema::{
    self, AuditCell, CorpusRow, Document, ImportedShardMeta, MergedMeta, ScoringBackend, ShardMeta,
    Source,
};
use crate::tools::{ffmpeg, vmaf, Toolset};
use crate::verify::{self, Verified};
use crate::{budget, digest, layout};
use camino::{Utf8Path, Utf8PathBuf};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

/// How far a re-scored value may be from the recorded one. libvmaf 2.x prints every metric
/// with six decimals, which the rows keep exactly, and the same libvmaf on the same decoded
/// frames computes the same integer features; only VMAF's SVM (libm `exp`) could round the
/// last printed digit the other way on another CPU. So: one unit in the sixth decimal (plus
/// float noise), and nothing more.
pub const TOLERANCE: f64 = 1.000_001e-6;

/// A bitstream smaller than this cannot be a Matroska file with one encoded frame.
const BITSTREAM_MIN: u64 = 64;

/// The EBML magic every Matroska file starts with.
const MATROSKA_MAGIC: [u8; 4] = [0x1A, 0x45, 0xDF, 0xA3];

fn label_of(cell: &AuditCell) -> String {
    format!("{}/{}/cq{}", cell.src, cell.encoder, cell.cq)
}

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
    allowed: Option<&crate::signing::AllowedSigners>,
    tools: &Toolset,
    progress: &Progress,
) -> Result<Audited> {
    if !request.ref_dir.is_dir() {
        return Err(Error::Input(format!(
            "--ref-dir `{}` is not a folder; give the folder of your own reference videos",
            request.ref_dir
        )));
    }
    let staging = match &request.extract {
        Some(dest) => verify::private_folder_beside(dest)?,
        None => tempfile::Builder::new()
            .prefix("ensemble-kit-audit-")
            .tempdir()
            .map_err(|e| Error::Environment(format!("cannot make a temporary folder: {e}")))?,
    };
    let root = Utf8Path::from_path(staging.path())
        .ok_or_else(|| Error::Environment("the temporary folder's path is not UTF-8".into()))?
        .join("bundle");
    let verified = verify::verify_signed(
        &request.bundle,
        Some(&root),
        request.max_total_size,
        allowed,
    )?;
    let mut audit = Audit {
        root: &root,
        ref_dir: &request.ref_dir,
        tools,
        progress,
        problems: Vec::new(),
        reference_sha: BTreeMap::new(),
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
        std::fs::rename(&root, dest).map_err(|e| Error::io(dest, e))?;
    }
    Ok(Audited {
        verified,
        cells,
        frames,
    })
}

/// One audit cell to re-score, with what its shard says about it.
struct Target {
    cell: AuditCell,
    /// The shard's `.audit/` folder.
    dir: Utf8PathBuf,
    sources: Vec<Source>,
    vmaf_version: String,
    backend: ScoringBackend,
}

/// The state of one audit.
struct Audit<'a> {
    root: &'a Utf8Path,
    ref_dir: &'a Utf8Path,
    tools: &'a Toolset,
    progress: &'a Progress,
    problems: Vec<String>,
    /// SHA-256 of each reference file read so far.
    reference_sha: BTreeMap<Utf8PathBuf, String>,
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
        match self.rescore(shard, target, rows) {
            Ok(frames) => {
                self.progress
                    .info(&format!("audit cell {label}: {frames} frames match"));
                self.cells.push(label);
                self.frames += frames;
            }
            Err(why) => self.problems.push(format!("audit cell {label}: {why}")),
        }
    }

    fn rescore(
        &mut self,
        shard: &Utf8Path,
        target: &Target,
        rows: Option<&Vec<CorpusRow>>,
    ) -> std::result::Result<u64, String> {
        let cell = &target.cell;
        let shard_name = shard.file_name().unwrap_or_default();
        if cell.file != format!("{}.mkv", cell.key) || !is_audit_file(&cell.file) {
            return Err(format!("its file name `{}` is not `<key>.mkv`", cell.file));
        }
        let Some(rows) = rows else {
            return Err(format!("not named in the rows of {shard_name}"));
        };
        let path = target.dir.join(&cell.file);
        let size = std::fs::metadata(&path)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .ok_or_else(|| {
                format!(
                    "missing: {} (listed in the metadata, not in the bundle)",
                    cell.file
                )
            })?;
        let sha = digest::sha256_file(&path).map_err(|e| e.to_string())?;
        if size != cell.bytes || sha != cell.sha256 {
            return Err(format!(
                "{} is {size} bytes with sha256 {sha}; the metadata says {} bytes, {}",
                cell.file, cell.bytes, cell.sha256
            ));
        }
        if let Some(row) = rows.iter().find(|r| r.enc_bytes != size) {
            return Err(format!(
                "the bitstream is {size} bytes but frame {} says enc_bytes {}",
                row.frame_index, row.enc_bytes
            ));
        }
        let source = target
            .sources
            .iter()
            .find(|s| s.name == cell.src && s.sha256 == cell.src_sha256)
            .ok_or("its source is not among the shard's sources with that sha256")?;
        let reference = self.reference(source)?;
        if target.vmaf_version != self.tools.vmaf.version {
            return Err(format!(
                "scored with libvmaf {}, but this box's vmaf is {}; re-scores are comparable only with the same libvmaf (pass --vmaf, or build {} with scripts/bootstrap.sh)",
                target.vmaf_version,
                self.tools.vmaf.version,
                target.vmaf_version
            ));
        }
        self.probe(&path, size, &cell.encoder)?;
        let frames = rows.len() as u64;
        if let Some((i, row)) = rows
            .iter()
            .enumerate()
            .find(|(i, r)| r.frame_index != *i as u64)
        {
            return Err(format!(
                "its rows number frame #{i} as {}; they must be frames 0..{} once each",
                row.frame_index,
                frames - 1
            ));
        }
        let label = label_of(cell);
        let decode = ffmpeg::decode(&self.tools.ffmpeg.path, source, path.as_str(), frames, "-");
        let score = vmaf::score(
            &self.tools.vmaf.path,
            source,
            reference.as_str(),
            "/dev/stdin",
            vmaf::ScoreSettings {
                frames,
                threads: budget::cores(),
                backend: ScoringBackend::Cpu,
            },
        );
        let scores = corpus::cell::stream_and_score(&label, source, frames, &decode, &score)
            .map_err(|e| format!("re-scoring failed: {e}"))?;
        let on_gpu = if target.backend == ScoringBackend::Cuda {
            " (the collaborator scored on CUDA)"
        } else {
            ""
        };
        for (row, s) in rows.iter().zip(&scores) {
            let pairs = [
                ("vmaf", row.vmaf, s.vmaf),
                ("adm2", row.adm2, s.adm2),
                ("vif_scale0", row.vif_scale0, s.vif[0]),
                ("vif_scale1", row.vif_scale1, s.vif[1]),
                ("vif_scale2", row.vif_scale2, s.vif[2]),
                ("vif_scale3", row.vif_scale3, s.vif[3]),
                ("motion2", row.motion2, s.motion2),
            ];
            if let Some((name, recorded, rescored)) = pairs
                .into_iter()
                .find(|(_, a, b)| (a - b).abs() > TOLERANCE)
            {
                return Err(format!(
                    "frame {}: {name} recorded {recorded}, re-scored {rescored} (tolerance {TOLERANCE:.0e}){on_gpu}",
                    row.frame_index
                ));
            }
        }
        Ok(frames)
    }

    /// The owner's copy of a reference, which must have the SHA-256 the rows were scored with.
    fn reference(&mut self, source: &Source) -> std::result::Result<Utf8PathBuf, String> {
        let plain = Utf8Path::new(&source.file);
        if plain.components().count() != 1
            || plain.file_name() != Some(source.file.as_str())
            || source.file.starts_with('.')
        {
            return Err(format!(
                "its reference file name `{}` is not a plain file name",
                source.file
            ));
        }
        let path = self.ref_dir.join(plain);
        if !path.is_file() {
            return Err(format!(
                "the reference {path} is missing; --ref-dir must hold `{}`",
                source.file
            ));
        }
        let sha = match self.reference_sha.get(&path) {
            Some(sha) => sha.clone(),
            None => {
                let sha = digest::sha256_file(&path).map_err(|e| e.to_string())?;
                self.reference_sha.insert(path.clone(), sha.clone());
                sha
            }
        };
        if sha != source.sha256 {
            return Err(format!(
                "the reference {path} has sha256 {sha}, but the cell was scored against {}; these are not the references the collaborator used",
                source.sha256
            ));
        }
        Ok(path)
    }

    /// Refuses anything but a Matroska file with exactly one stream, a video of the encoder's
    /// codec, before it is decoded.
    fn probe(&self, path: &Utf8Path, size: u64, encoder: &str) -> std::result::Result<(), String> {
        let mut magic = [0u8; 4];
        let read = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic));
        if size < BITSTREAM_MIN || read.is_err() || magic != MATROSKA_MAGIC {
            return Err(format!(
                "{} is not a Matroska file (the kit encodes every cell to Matroska); refused unread",
                path.file_name().unwrap_or_default()
            ));
        }
        let codec = ffmpeg::codec_of(encoder).map_err(|e| e.to_string())?;
        let out = ffmpeg::probe(&self.tools.ffmpeg.path, path.as_str())
            .capture("probing an audit bitstream")
            .map_err(|e| e.to_string())?;
        let streams = ffmpeg::probed_streams(&String::from_utf8_lossy(&out.stderr));
        match streams.as_slice() {
            [one] if one.starts_with(&format!("Video: {codec}")) => Ok(()),
            _ => Err(format!(
                "{} must hold exactly one {codec} video stream (what {encoder} writes), but ffmpeg finds [{}]; refused",
                path.file_name().unwrap_or_default(),
                streams.join("; ")
            )),
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
