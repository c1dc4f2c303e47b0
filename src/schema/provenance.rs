//! Where a corpus file came from, written beside it as `NAME.meta.json`: a shard the kit
//! scored, a shard imported from the reference kit's rows, or a merge of several.

use super::corpus::Source;
use super::document::Document;
#[cfg(doc)]
use super::document::SCHEMA_VERSION;
use super::host::{Platform, Tool};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A cell that failed, as listed in the shard metadata when failures were allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FailedCell {
    /// Source name.
    pub src: String,
    /// Encoder name.
    pub encoder: String,
    /// Quality knob.
    pub cq: u32,
    /// The error, including the tool's stderr tail.
    pub error: String,
}

/// One finished cell as summarised in the shard metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CellSummary {
    /// Source name.
    pub src: String,
    /// Encoder name.
    pub encoder: String,
    /// Quality knob.
    pub cq: u32,
    /// Cache key of the cell.
    pub key: String,
    /// Rows the cell contributed.
    pub rows: u64,
    /// Encoded size in bytes.
    pub enc_bytes: u64,
}

/// Where libvmaf computes the features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScoringBackend {
    /// On the CPU.
    Cpu,
    /// On an NVIDIA GPU (`vmaf --gpumask 0`, CUDA build of libvmaf).
    Cuda,
}

/// The settings a shard was produced with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ShardSettings {
    /// Encoders, in the order requested.
    pub encoders: Vec<String>,
    /// Quality levels, ascending.
    pub cqs: Vec<u32>,
    /// Frames scored per cell.
    pub frames_per_source: Option<u64>,
    /// libvmaf model.
    pub vmaf_model: String,
    /// Threads each cell's encoder and scorer may use. (How many cells ran at once is not
    /// recorded: it changes no row, and the shard — and so a bundle — must be the same bytes
    /// whatever `--jobs` was.)
    pub threads_per_job: usize,
    /// Whether failed cells were allowed.
    pub allow_failed_cells: bool,
    /// Where libvmaf scored this shard.
    pub scoring_backend: ScoringBackend,
    /// Audit cells asked for (`--audit-cells`: 0, or at least 3); fewer are kept when the shard
    /// has fewer cells.
    #[serde(default)]
    pub audit_cells: usize,
}

/// Provenance of a shard, written beside it as `SHARD.meta.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ShardMeta {
    /// Always `shard-meta`.
    #[schemars(extend("const" = ShardMeta::SCHEMA))]
    pub kind: String,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Version of ensemble-kit that wrote the shard.
    pub kit_version: String,
    /// When the shard was written (UTC, RFC 3339; `SOURCE_DATE_EPOCH` when set).
    pub created_at_utc: String,
    /// Hash of everything that decides the shard's rows; a re-run with the same plan resumes.
    pub plan_id: String,
    /// The shard's file name (beside this file).
    pub shard_file: String,
    /// SHA-256 of the shard file.
    pub shard_sha256: String,
    /// SHA-256 of the shard's rows with timings excluded, in key order (the corpus identity
    /// `train` reports for this shard alone): the seed of the audit-cell choice, which an owner
    /// can recompute from the rows even inside a merged corpus. Absent in shards written before
    /// the choice was seeded by the rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub rows_sha256: Option<String>,
    /// Number of rows in the shard.
    pub n_rows: u64,
    /// The machine that produced it.
    pub platform: Platform,
    /// ffmpeg and vmaf used.
    pub tools: ShardTools,
    /// Run settings.
    pub settings: ShardSettings,
    /// The exact encode command line per encoder and cq (paths as placeholders).
    pub encoder_argv: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    /// The reference folder as given.
    pub ref_dir: String,
    /// The references, sorted by name.
    pub sources: Vec<Source>,
    /// The cells whose rows are in the shard.
    pub cells: Vec<CellSummary>,
    /// Cells that failed (only non-empty with `--allow-failed-cells`).
    pub failed_cells: Vec<FailedCell>,
    /// The cells whose encoded bitstreams are kept in `SHARD.audit/`, chosen by `rows_sha256`
    /// after scoring, so that an owner can re-score them (`verify --audit`).
    #[serde(default)]
    pub audit_cells: Vec<AuditCell>,
}

/// One audit cell: a cell of the shard whose encoded bitstream travels with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditCell {
    /// Source name.
    pub src: String,
    /// SHA-256 of the source video the cell was encoded from.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub src_sha256: String,
    /// Encoder name.
    pub encoder: String,
    /// Quality knob.
    pub cq: u32,
    /// Cache key of the cell.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub key: String,
    /// The bitstream's file name inside `SHARD.audit/` (`<key>.mkv`, Matroska as encoded).
    #[schemars(regex(pattern = r"^[0-9a-f]{64}\.mkv$"))]
    pub file: String,
    /// Its size in bytes (equal to the rows' `enc_bytes`).
    pub bytes: u64,
    /// Its SHA-256.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub sha256: String,
}

impl Document for ShardMeta {
    const SCHEMA: &'static str = "shard-meta";
}

/// The tools a shard was scored with.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct ShardTools {
    /// ffmpeg.
    pub ffmpeg: Tool,
    /// libvmaf's `vmaf`.
    pub vmaf: Tool,
}

/// A file read by `import-corpus`, identified by its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ImportedFile {
    /// The file's name (without its folder).
    pub file: String,
    /// SHA-256 of the file.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub sha256: String,
}

/// One source of an imported shard and where its `src_sha256` came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ImportedSource {
    /// Source name.
    pub name: String,
    /// The `src_sha256` its rows carry: the video's SHA-256 when known, else a marker that no
    /// real video hashes to (SHA-256 of a fixed prefix and the name).
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub sha256: String,
    /// True when the video was found in `--ref-dir` and hashed; false for a marker.
    pub known: bool,
}

/// Provenance of a shard imported from the reference kit's rows, written beside it as
/// `SHARD.meta.json`. Who scored the rows, and with which libvmaf, is not recorded by the
/// reference, so it is not claimed here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ImportedShardMeta {
    /// Always `imported-shard`.
    #[schemars(extend("const" = ImportedShardMeta::SCHEMA))]
    pub kind: String,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Version of ensemble-kit that imported the rows.
    pub kit_version: String,
    /// When (UTC, RFC 3339; `SOURCE_DATE_EPOCH` when set).
    pub created_at_utc: String,
    /// The reference kit's corpus the rows came from.
    pub imported_from: ImportedFile,
    /// The folder the source videos were hashed in (`--ref-dir`), when given.
    pub ref_dir: Option<String>,
    /// The shard's file name (beside this file).
    pub shard_file: String,
    /// SHA-256 of the shard file.
    pub shard_sha256: String,
    /// Number of rows in the shard.
    pub n_rows: u64,
    /// Every source, sorted by name.
    pub sources: Vec<ImportedSource>,
    /// Reference fields some rows lacked (`enc_bytes`, `enc_time_ms`: its loader does not need
    /// them); the shard holds 0 for them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_recorded: Vec<String>,
}

impl Document for ImportedShardMeta {
    const SCHEMA: &'static str = "imported-shard";
}

/// One input of a merged corpus, with its own provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MergedShard {
    /// The shard file, as given.
    pub file: String,
    /// SHA-256 of the shard file.
    pub sha256: String,
    /// Rows it contributed before deduplication.
    pub rows: u64,
    /// Its `.meta.json`, when it had one (shards from other boxes carry theirs).
    pub meta: Option<ShardMeta>,
    /// The merged corpus's provenance, when the input was itself a merge.
    pub merged: Option<Box<MergedMeta>>,
    /// Its `.meta.json`, when it was imported from the reference kit (`import-corpus`).
    #[serde(default)]
    pub imported: Option<ImportedShardMeta>,
}

/// Provenance of a merged corpus, written beside it as `CORPUS.meta.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MergedMeta {
    /// Always `merged-corpus`.
    #[schemars(extend("const" = MergedMeta::SCHEMA))]
    pub kind: String,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Version of ensemble-kit that merged.
    pub kit_version: String,
    /// When (UTC; `SOURCE_DATE_EPOCH` when set).
    pub created_at_utc: String,
    /// The merged file's name (beside this file).
    pub corpus_file: String,
    /// SHA-256 of the merged file.
    pub corpus_sha256: String,
    /// SHA-256 of the rows with timings excluded: the corpus identity `train` reports.
    pub rows_sha256: String,
    /// Unique rows.
    pub n_rows: u64,
    /// Identical rows dropped.
    pub duplicates_dropped: u64,
    /// The libvmaf versions that scored the rows (of the shards whose metadata was present).
    pub vmaf_versions: Vec<String>,
    /// Shards merged without metadata (`--allow-missing-meta`): who scored them, and with which
    /// libvmaf, is unknown.
    #[serde(default)]
    pub unverified_shards: Vec<String>,
    /// Shards imported from the reference kit (`import-corpus`), directly or through a merged
    /// input: the reference does not record its libvmaf version, so they are missing from
    /// `vmaf_versions` and the mixed-version guard cannot see them.
    #[serde(default)]
    pub imported_shards: Vec<String>,
    /// Every input, in the order given.
    pub shards: Vec<MergedShard>,
}

impl Document for MergedMeta {
    const SCHEMA: &'static str = "merged-corpus";
}

/// What sits beside a shard: a shard's, an imported shard's or a merged corpus's metadata.
#[derive(Clone)]
pub enum Provenance {
    /// Scored by the kit (`corpus`).
    Shard(Box<ShardMeta>),
    /// Imported from the reference kit's rows (`import-corpus`).
    Imported(Box<ImportedShardMeta>),
    /// A merge of several.
    Merged(Box<MergedMeta>),
}

impl Provenance {
    /// The libvmaf versions known to have scored the rows (none for an import).
    pub fn vmaf_versions(&self) -> Vec<String> {
        match self {
            Provenance::Shard(m) => vec![m.tools.vmaf.version.clone()],
            Provenance::Imported(_) => Vec::new(),
            Provenance::Merged(m) => m.vmaf_versions.clone(),
        }
    }

    /// The imported shards behind `file`, whose libvmaf version is unknown.
    pub fn imported(&self, file: &camino::Utf8Path) -> Vec<String> {
        match self {
            Provenance::Shard(_) => Vec::new(),
            Provenance::Imported(_) => vec![file.to_string()],
            Provenance::Merged(m) => m.imported_shards.clone(),
        }
    }
}
