//! Every type the kit writes to disk or prints as JSON, defined once, with the JSON Schemas
//! generated from them (`schemas/*.schema.json`) and the validation every read goes through.
//!
//! A file that fails validation is rejected with its path, line (for JSON Lines) and the JSON
//! pointer of the offending field.

use crate::error::{Error, Result};
use crate::tools::Tool;
use camino::Utf8Path;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::sync::OnceLock;

/// Version of the on-disk formats below; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// A frame rate as an exact fraction (`30000/1001`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Fps {
    /// Numerator.
    #[schemars(range(min = 1))]
    pub num: u32,
    /// Denominator.
    #[schemars(range(min = 1))]
    pub den: u32,
}

impl std::fmt::Display for Fps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

/// Width, height and frame rate of a reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Geometry {
    /// Luma width in pixels (even).
    #[schemars(range(min = 2))]
    pub width: u32,
    /// Luma height in pixels (even).
    #[schemars(range(min = 2))]
    pub height: u32,
    /// Frames per second.
    pub fps: Fps,
}

/// How a reference file stores its frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    /// Headerless planar 4:2:0 8-bit (`.yuv`).
    Raw,
    /// YUV4MPEG2 (`.y4m`), 4:2:0 8-bit.
    Y4m,
}

/// One reference video, identified by its content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Source {
    /// Source name used in corpus rows and folds (the file name without extension).
    pub name: String,
    /// File name relative to the reference folder.
    pub file: String,
    /// Raw or Y4M.
    pub format: SourceFormat,
    /// Geometry from the file name, the Y4M header, flags or the defaults.
    pub geometry: Geometry,
    /// Number of whole frames in the file.
    pub frames: u64,
    /// File size in bytes.
    pub bytes: u64,
    /// SHA-256 of the whole file.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub sha256: String,
}

/// One scored frame of one cell: the fields of the reference producer (SPEC §5).
///
/// `enc_bytes` and `enc_time_ms` describe the whole cell's encode (every row of a cell carries
/// the same values).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CorpusRow {
    /// Source name.
    #[schemars(length(min = 1))]
    pub src: String,
    /// SHA-256 of the source file.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub src_sha256: String,
    /// ffmpeg encoder name.
    #[schemars(length(min = 1))]
    pub encoder: String,
    /// Quality knob the cell was encoded at.
    #[schemars(range(max = 255))]
    pub cq: u32,
    /// 0-based frame number within the cell.
    pub frame_index: u64,
    /// Size of the cell's encoded stream in bytes.
    pub enc_bytes: u64,
    /// Wall time of the cell's encode in milliseconds.
    pub enc_time_ms: u64,
    /// VMAF (model vmaf_v0.6.1).
    #[schemars(range(min = 0.0, max = 100.0))]
    pub vmaf: f64,
    /// `integer_adm2`.
    #[schemars(range(min = 0.0, max = 2.0))]
    pub adm2: f64,
    /// `integer_vif_scale0`.
    #[schemars(range(min = 0.0, max = 2.0))]
    pub vif_scale0: f64,
    /// `integer_vif_scale1`.
    #[schemars(range(min = 0.0, max = 2.0))]
    pub vif_scale1: f64,
    /// `integer_vif_scale2`.
    #[schemars(range(min = 0.0, max = 2.0))]
    pub vif_scale2: f64,
    /// `integer_vif_scale3`.
    #[schemars(range(min = 0.0, max = 2.0))]
    pub vif_scale3: f64,
    /// `integer_motion2`.
    #[schemars(range(min = 0.0))]
    pub motion2: f64,
}

/// Everything a cell's result depends on; its hash is the cell's cache key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CellKeyInputs {
    /// Version of the cell cache layout.
    pub cache_format: u32,
    /// SHA-256 of the source.
    pub src_sha256: String,
    /// Encoder name.
    pub encoder: String,
    /// Quality knob.
    pub cq: u32,
    /// Frames scored.
    pub frames: u64,
    /// The encode command line with `{source}` and `{encoded}` for the paths.
    pub encode_argv: Vec<String>,
    /// The decode command line with `{encoded}` for the path.
    pub decode_argv: Vec<String>,
    /// The scoring command line with `{source}` for the path.
    pub score_argv: Vec<String>,
    /// ffmpeg's version.
    pub ffmpeg_version: String,
    /// libvmaf's version.
    pub vmaf_version: String,
    /// SHA-256 of the ffmpeg program: the version text alone can be faked.
    pub ffmpeg_sha256: String,
    /// SHA-256 of the `vmaf` program and the libvmaf (with its built-in model) it loads.
    pub vmaf_sha256: String,
}

/// A finished cell as stored in the cell cache (`<cells>/<key>.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CellRecord {
    /// Always `cell`.
    #[schemars(extend("const" = "cell"))]
    pub kind: String,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// SHA-256 of the canonical JSON of `inputs`.
    pub key: String,
    /// What the result depends on.
    pub inputs: CellKeyInputs,
    /// Encoded stream size in bytes.
    pub enc_bytes: u64,
    /// Encode wall time in milliseconds.
    pub enc_time_ms: u64,
    /// Decode-and-score wall time in milliseconds.
    pub score_time_ms: u64,
    /// One row per frame, in frame order.
    pub rows: Vec<CorpusRow>,
}

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
}

/// Provenance of a shard, written beside it as `SHARD.meta.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ShardMeta {
    /// Always `shard-meta`.
    #[schemars(extend("const" = "shard-meta"))]
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
}

/// The tools a shard was scored with.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct ShardTools {
    /// ffmpeg.
    pub ffmpeg: Tool,
    /// libvmaf's `vmaf`.
    pub vmaf: Tool,
}

/// What `platform --json` prints and every shard records (SPEC §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Platform {
    /// Always `platform`.
    #[schemars(extend("const" = "platform"))]
    pub kind: String,
    /// `linux-x86_64-cuda`, `linux-x86_64-sycl`, `linux-x86_64-vulkan`, `darwin-arm64-cpu`, …
    pub tag: String,
    /// `uname -s` (`Linux`, `Darwin`).
    pub os: String,
    /// `uname -m` (`x86_64`, `arm64`, `aarch64`).
    pub arch: String,
    /// `nvidia-smi` succeeded.
    pub has_nvidia: bool,
    /// `vainfo` reports Intel's iHD driver.
    pub has_intel_ihd: bool,
    /// VideoToolbox is available (macOS).
    pub has_videotoolbox: bool,
    /// Encoders used when `--encoders` is not given.
    pub default_encoders: Vec<String>,
    /// The `KIT_FAKE_*` variables that shaped this answer.
    pub faked: Vec<String>,
}

/// Outcome of one `doctor` check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Works.
    Pass,
    /// Works, but worth a look.
    Warn,
    /// Blocks a run.
    Fail,
}

/// One line of `doctor`'s table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Check {
    /// What was checked.
    pub item: String,
    /// Outcome.
    pub status: CheckStatus,
    /// What was found.
    pub detail: String,
    /// How to fix a failure or warning (empty when passing).
    pub fix: String,
}

/// What `doctor --json` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DoctorReport {
    /// Always `doctor`.
    #[schemars(extend("const" = "doctor"))]
    pub kind: String,
    /// Platform tag.
    pub platform: String,
    /// True when no check failed.
    pub ok: bool,
    /// Every check, in order.
    pub checks: Vec<Check>,
}

/// A `loso_seed{N}.json` written by the reference (Python) kit: SPEC §6's fields only — no
/// `kind`, `schema_version` or corpus hash. Read so that `verdict` and `compare` can judge the
/// owner's own results; never written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReferenceLosoSeed {
    /// The RNG seed.
    pub seed: u64,
    /// The corpus file, as the reference names it.
    pub corpus: String,
    /// Number of folds.
    pub n_folds: u64,
    /// Per fold.
    pub folds: Vec<ReferenceFold>,
    /// Mean fold PLCC.
    pub mean_plcc: Option<f64>,
    /// Sample std of the fold PLCCs.
    pub std_plcc: Option<f64>,
    /// Smallest fold PLCC.
    pub min_plcc: Option<f64>,
    /// Largest fold PLCC.
    pub max_plcc: Option<f64>,
    /// Mean SROCC.
    pub mean_srocc: Option<f64>,
    /// Mean RMSE.
    pub mean_rmse: Option<f64>,
    /// Training epochs.
    pub epochs: u64,
    /// Mini-batch size.
    pub batch_size: u64,
    /// Adam learning rate.
    pub lr: f64,
    /// L2 weight decay.
    pub weight_decay: f64,
    /// Width of the codec block.
    pub num_codecs: u64,
    /// Encoder vocabulary version (the reference writes a string or a number).
    pub encoder_vocab_version: serde_json::Value,
    /// Training time.
    pub wall_time_s: f64,
}

/// One fold of a [`ReferenceLosoSeed`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReferenceFold {
    /// The held-out source.
    pub held_out: String,
    /// Training rows.
    pub n_train: u64,
    /// Held-out rows.
    pub n_val: u64,
    /// PLCC; null when undefined.
    pub plcc: Option<f64>,
    /// SROCC; null when undefined.
    pub srocc: Option<f64>,
    /// RMSE; null when undefined.
    pub rmse: Option<f64>,
}

/// One LOSO fold's outcome (SPEC §6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FoldResult {
    /// The held-out source.
    pub held_out: String,
    /// Training rows.
    pub n_train: u64,
    /// Validation (held-out) rows.
    pub n_val: u64,
    /// PLCC of the MLP on the held-out rows; null when undefined.
    pub plcc: Option<f64>,
    /// SROCC on the held-out rows; null when undefined.
    pub srocc: Option<f64>,
    /// RMSE on the held-out rows, in VMAF points.
    pub rmse: Option<f64>,
    /// PLCC of the ridge-regression baseline on the same fold.
    pub baseline_plcc: Option<f64>,
    /// The held-out rows' true VMAF, in corpus order, rounded to 0.001 (a kit extra, so the
    /// report can plot predicted against true; absent in the reference's files).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub true_vmaf: Vec<f64>,
    /// The MLP's prediction for each of `true_vmaf`'s rows, rounded to 0.001.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub predicted_vmaf: Vec<f64>,
    /// Smallest cq of the training rows: `crf_norm`'s range in this fold (absent in files of
    /// other producers).
    pub cq_min: Option<f64>,
    /// Largest cq of the training rows.
    pub cq_max: Option<f64>,
}

/// `loso_seed{N}.json`: one seed's full LOSO run (SPEC §6 fields, plus extras).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LosoSeed {
    /// Always `loso-seed`.
    #[schemars(extend("const" = "loso-seed"))]
    pub kind: String,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The RNG seed.
    pub seed: u64,
    /// The corpus file(s), comma-separated as given.
    pub corpus: String,
    /// SHA-256 of the merged corpus rows (timings excluded).
    pub corpus_sha256: String,
    /// Rows after merging.
    pub n_rows: u64,
    /// Number of folds (sources).
    pub n_folds: u64,
    /// Per fold, in source order.
    pub folds: Vec<FoldResult>,
    /// Mean PLCC over folds with a defined PLCC; null if none.
    pub mean_plcc: Option<f64>,
    /// Sample standard deviation (ddof 1) of the fold PLCCs.
    pub std_plcc: Option<f64>,
    /// Smallest fold PLCC.
    pub min_plcc: Option<f64>,
    /// Largest fold PLCC.
    pub max_plcc: Option<f64>,
    /// Fisher-z 95 % confidence interval of `mean_plcc`: the mean of the folds' lower and
    /// upper bounds tanh(atanh(r) ± 1.96/√(n_val − 3)).
    pub plcc_ci95: Option<[f64; 2]>,
    /// Mean SROCC over folds.
    pub mean_srocc: Option<f64>,
    /// Mean RMSE over folds.
    pub mean_rmse: Option<f64>,
    /// Mean PLCC of the ridge-regression baseline on the same folds.
    pub baseline_mean_plcc: Option<f64>,
    /// Training epochs.
    pub epochs: u64,
    /// Mini-batch size.
    pub batch_size: u64,
    /// Adam learning rate.
    pub lr: f64,
    /// L2 weight decay.
    pub weight_decay: f64,
    /// Dropout probability.
    pub dropout: f64,
    /// Slots of the encoder one-hot.
    pub num_codecs: u64,
    /// Encoder vocabulary version (`v2`).
    pub encoder_vocab_version: String,
    /// Rows whose encoder is outside the vocabulary (mapped to `unknown`).
    pub unknown_encoder_rows: u64,
    /// Hash of corpus, seed and recipe; a re-run with the same key reuses this file.
    pub recipe_key: String,
    /// Wall time of this seed's training in seconds (0 when `SOURCE_DATE_EPOCH` pins outputs).
    pub wall_time_s: f64,
}

/// The gate's numbers (SPEC §7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Gate {
    /// All three rules pass.
    pub passed: bool,
    /// Mean over seeds of `mean_plcc`.
    pub mean_plcc: f64,
    /// 0.95.
    pub mean_plcc_threshold: f64,
    /// `mean_plcc ≥ threshold`.
    pub mean_plcc_pass: bool,
    /// max − min of the per-seed `mean_plcc`.
    pub plcc_spread: f64,
    /// 0.005.
    pub plcc_spread_max: f64,
    /// `plcc_spread ≤ max`.
    pub plcc_spread_pass: bool,
    /// Per seed (`"0"`, `"1"`, …) its `mean_plcc`.
    pub per_seed_plccs: BTreeMap<String, f64>,
    /// Every seed must reach this (0.95).
    pub per_seed_min: f64,
    /// Every seed reaches `per_seed_min`.
    pub per_seed_pass: bool,
    /// Seeds below `per_seed_min`.
    pub failing_seeds: Vec<u64>,
}

/// The reference corpus the verdict describes (SPEC §7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VerdictCorpus {
    /// Whether `--corpus-root` was given and exists.
    pub present: bool,
    /// The folder, as given.
    pub corpus_root: Option<String>,
    /// SHA-256 over the sorted (relative path, file SHA-256) lines of its files.
    pub sha256: Option<String>,
    /// Reference videos (`.yuv`/`.y4m` outside a `dis/` folder).
    pub ref_count: u64,
    /// Distorted videos (files under a `dis/` folder).
    pub dis_count: u64,
    /// `.yuv` files anywhere below it (the reference writes it only when `present`).
    #[serde(default)]
    pub yuv_count: u64,
}

/// `PROMOTE.json` / `HOLD.json` (SPEC §7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Verdict {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `PROMOTE` or `HOLD`.
    #[schemars(regex(pattern = "^(PROMOTE|HOLD)$"))]
    pub verdict: String,
    /// When the verdict was made (UTC; `SOURCE_DATE_EPOCH` when set).
    pub generated_at_utc: String,
    /// The folder of `loso_seed*.json` files, as given.
    pub loso_dir: String,
    /// The seeds judged, each once.
    #[schemars(extend("uniqueItems" = true))]
    pub seeds: Vec<u64>,
    /// The gate.
    pub gate: Gate,
    /// The reference corpus.
    pub corpus: VerdictCorpus,
    /// What to do next, in a sentence.
    pub recommendation: String,
    /// `ADR-0309`.
    pub adr: String,
    /// `ADR-0303`.
    pub parent_adr: String,
    /// Boxes (CI runner labels) whose corpus shards did not arrive, so the ensemble was trained
    /// without them; absent when every box reported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_boxes: Vec<String>,
    /// Per source, its PLCC across the judged seeds and its share of their spread.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fold_diagnosis: Vec<FoldDiagnosis>,
    /// How often the gate would pass for other sets of seeds; present when seeds beyond the
    /// judged ones were trained (`--stability K`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stability: Option<Stability>,
}

/// One source's fold PLCC across seeds: what makes the seeds agree or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FoldDiagnosis {
    /// The held-out source.
    pub source: String,
    /// Mean of its fold PLCC over the seeds where it is defined.
    pub mean_plcc: Option<f64>,
    /// Smallest.
    pub min_plcc: Option<f64>,
    /// Largest.
    pub max_plcc: Option<f64>,
    /// Sample standard deviation (ddof 1).
    pub std_plcc: Option<f64>,
    /// Its share of the variance of the per-seed mean PLCC: cov(fold PLCC, seed mean) /
    /// (folds × var(seed mean)); the shares of all sources sum to 1 (0 when the seeds agree).
    pub spread_share: f64,
}

/// The stability estimate (`--stability K`): the gate applied to every set of judged-size seeds
/// drawn from all trained seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Stability {
    /// Every seed pooled: the judged ones, then the further ones.
    pub seeds: Vec<u64>,
    /// Seeds per subset (as many as were judged).
    pub subset_size: u64,
    /// Subsets evaluated.
    pub subsets: u64,
    /// Whether every subset was evaluated (else a fixed-seed random sample of 20,000).
    pub exact: bool,
    /// Share of the subsets that pass the gate.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub p_promote: f64,
    /// Sample standard deviation of the per-seed mean PLCC over all pooled seeds.
    pub per_seed_plcc_std: f64,
    /// 0.05 < p_promote < 0.95: whether PROMOTE or HOLD comes out depends on the seeds drawn.
    pub fragile: bool,
    /// The sources that explain most of the spread across the pooled seeds.
    pub driving_sources: Vec<String>,
}

/// `kind` of a model sidecar: the reference's model kind (full-reference regressor).
pub const SIDECAR_KIND: &str = "fr";

/// The schema that checks a document claiming `kind`: a sidecar's `kind` is the reference's
/// model kind, not a schema name.
pub fn schema_of_kind(kind: &str) -> &str {
    if kind == SIDECAR_KIND {
        "model-sidecar"
    } else {
        kind
    }
}

/// The values of the codec block's last two columns (a kit addition to the sidecar).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CodecBlockValues {
    /// `preset_norm`, the same for every row.
    pub preset_norm: f64,
    /// How `crf_norm` is computed from a row's cq and `corpus.cq_min`/`corpus.cq_max`.
    pub crf_norm: String,
}

/// The corpus a model was fitted on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SidecarCorpus {
    /// The shard(s), comma-separated as given.
    pub path: String,
    /// SHA-256 of the merged rows (timings excluded).
    pub sha256: String,
    /// Rows.
    pub n_rows: u64,
    /// Smallest cq of the rows: `crf_norm`'s lower end.
    pub cq_min: f64,
    /// Largest cq of the rows: `crf_norm`'s upper end.
    pub cq_max: f64,
}

/// The recipe a model was fitted with: the reference's keys, then the kit's `layers`,
/// `activation` and `rng`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TrainingRecipe {
    /// Raw features (6).
    pub in_features: u64,
    /// Width of each hidden layer (64).
    pub hidden: u64,
    /// Hidden layers (2).
    pub depth: u64,
    /// Dropout during training.
    pub dropout: f64,
    /// Codec block width (14).
    pub num_codecs: u64,
    /// Epochs.
    pub epochs: u64,
    /// Mini-batch size.
    pub batch_size: u64,
    /// Adam learning rate.
    pub lr: f64,
    /// L2 weight decay.
    pub weight_decay: f64,
    /// `Adam`.
    pub optimizer: String,
    /// `MSE`.
    pub loss: String,
    /// `full_corpus`: no row held out.
    pub fit_set: String,
    /// `fit_on_full_corpus`: standardisation and CQ range from every row.
    pub scaler: String,
    /// Layer widths, input to output.
    pub layers: Vec<u64>,
    /// `gelu-erf`.
    pub activation: String,
    /// RNG and stream the fit used (`chacha8`, seed, stream).
    pub rng: String,
}

/// The gate that allowed an export: the reference's keys, then the verdict's gate as the kit
/// writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SidecarGate {
    /// `PROMOTE`.
    pub verdict: String,
    /// The verdict's `per_seed_min`, under the reference's name.
    pub per_seed_min_threshold: f64,
    /// This seed's mean LOSO PLCC; null when the verdict did not judge this seed.
    pub this_seed_loso_plcc: Option<f64>,
    /// The verdict's gate, every field.
    #[serde(flatten)]
    pub verdict_gate: Gate,
}

/// The JSON beside each exported model (SPEC §8): a superset of the reference's sidecar, so the
/// reference's registry and consumer read it unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Sidecar {
    /// Always `fr` ([`SIDECAR_KIND`]).
    #[schemars(extend("const" = "fr"))]
    pub kind: String,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `<ensemble_id>_seed<N>`.
    pub id: String,
    /// The ensemble this member belongs to.
    pub ensemble_id: String,
    /// The seed.
    pub seed: u64,
    /// Always true: the model takes the codec block.
    pub codec_aware: bool,
    /// The codec block's 14 column names, in input order.
    pub codec_block_layout: Vec<String>,
    /// What the codec block's `preset_norm` and `crf_norm` columns hold.
    pub codec_block_values: CodecBlockValues,
    /// Encoder vocabulary (v2).
    pub encoder_vocab: Vec<String>,
    /// Vocabulary version (2).
    pub encoder_vocab_version: u32,
    /// The six features, in input order.
    pub feature_order: Vec<String>,
    /// Means to subtract before feeding `features`.
    pub feature_mean: Vec<f64>,
    /// Standard deviations to divide by.
    pub feature_std: Vec<f64>,
    /// The model's input names: `features`, `codec_onehot`.
    pub input_names: Vec<String>,
    /// The model's output names: `score`.
    pub output_names: Vec<String>,
    /// The model's file name (beside this file).
    pub onnx: String,
    /// ONNX opset.
    pub opset: u64,
    /// SHA-256 of the model file, which holds every weight.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub sha256: String,
    /// The corpus it was fitted on.
    pub corpus: SidecarCorpus,
    /// How it was fitted.
    pub training_recipe: TrainingRecipe,
    /// The gate that allowed the export.
    pub gate: SidecarGate,
    /// Mean over the judged seeds of their mean LOSO PLCC (the gate's `mean_plcc`).
    pub loso_mean_plcc: f64,
    /// One sentence on what the model is and how to feed it.
    pub notes: String,
    /// The decision records the reference's registry expects.
    pub parent_adrs: Vec<String>,
}

/// One file listed in a bundle manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ManifestFile {
    /// Path relative to the results folder, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub sha256: String,
}

/// `manifest.json` of a results bundle (SPEC §9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Manifest {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `PROMOTE` or `HOLD`.
    #[schemars(regex(pattern = "^(PROMOTE|HOLD)$"))]
    pub verdict: String,
    /// When the bundle was made (UTC; `SOURCE_DATE_EPOCH` when set).
    pub generated_at_utc: String,
    /// Every bundled file but the manifest, sorted by path.
    pub files: Vec<ManifestFile>,
    /// `files.len()`.
    pub n_files: u64,
}

/// One reference in a corpus-transport archive (SPEC §9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TransportRow {
    /// Source name.
    pub corpus: String,
    /// The raw file's name, restored by `extract-corpus`.
    pub yuv: String,
    /// The lossless FFV1 Matroska file's name inside the archive.
    pub mkv: String,
    /// Always `yuv420p`.
    pub pix_fmt: String,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Frame rate (`25`, `30000/1001`).
    pub fps: String,
    /// Raw size in bytes.
    pub in_bytes: u64,
    /// Matroska size in bytes.
    pub out_bytes: u64,
    /// SHA-256 of the raw file.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub yuv_sha256: String,
}

/// `transport-manifest.json` inside a corpus-transport archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TransportManifest {
    /// Always `corpus-transport`.
    #[schemars(extend("const" = "corpus-transport"))]
    pub kind: String,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// One row per reference, sorted by name.
    pub rows: Vec<TransportRow>,
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
    #[schemars(extend("const" = "merged-corpus"))]
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

/// One row as the reference (Python) kit writes it (SPEC §5): the fields of [`CorpusRow`]
/// without `src_sha256`, and a fractional `enc_time_ms`. `import-corpus` reads these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferenceRow {
    /// Source name.
    #[schemars(length(min = 1))]
    pub src: String,
    /// ffmpeg encoder name.
    #[schemars(length(min = 1))]
    pub encoder: String,
    /// Quality knob the cell was encoded at.
    #[schemars(range(max = 255))]
    pub cq: u32,
    /// 0-based frame number within the cell.
    pub frame_index: u64,
    /// Size of the cell's encoded stream in bytes.
    pub enc_bytes: u64,
    /// Wall time of the cell's encode in milliseconds, fractional (rounded on import).
    #[schemars(range(min = 0.0, max = 1e15))]
    pub enc_time_ms: f64,
    /// VMAF (model vmaf_v0.6.1).
    #[schemars(range(min = 0.0, max = 100.0))]
    pub vmaf: f64,
    /// `integer_adm2`.
    #[schemars(range(min = 0.0, max = 2.0))]
    pub adm2: f64,
    /// `integer_vif_scale0`.
    #[schemars(range(min = 0.0, max = 2.0))]
    pub vif_scale0: f64,
    /// `integer_vif_scale1`.
    #[schemars(range(min = 0.0, max = 2.0))]
    pub vif_scale1: f64,
    /// `integer_vif_scale2`.
    #[schemars(range(min = 0.0, max = 2.0))]
    pub vif_scale2: f64,
    /// `integer_vif_scale3`.
    #[schemars(range(min = 0.0, max = 2.0))]
    pub vif_scale3: f64,
    /// `integer_motion2`.
    #[schemars(range(min = 0.0))]
    pub motion2: f64,
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
    #[schemars(extend("const" = "imported-shard"))]
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
}

/// One NDJSON event of `--message-format json` (fields not relevant to an event are omitted).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ProgressEvent {
    /// `stage-start`, `stage-finish`, `cell`, `fold`, `verdict` or `bundle`.
    #[schemars(regex(pattern = "^(stage-start|stage-finish|cell|fold|verdict|bundle)$"))]
    pub event: String,
    /// Seconds since the command started.
    pub elapsed_s: f64,
    /// The stage (`doctor`, `corpus`, `train`, `verdict`, `export`, `bundle`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Items done so far in this stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<u64>,
    /// Items in this stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// The item: a cell `src/encoder/cqN`, a fold's held-out source, a bundle path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// `done`, `reused`, `failed`, `PROMOTE` or `HOLD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The seed of a fold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// A fold's PLCC, or the verdict's mean PLCC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plcc: Option<f64>,
    /// The verdict's seed spread.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spread: Option<f64>,
}

impl ProgressEvent {
    /// An event of kind `event` with no other field set.
    pub fn new(event: &str) -> ProgressEvent {
        ProgressEvent {
            event: event.into(),
            ..ProgressEvent::default()
        }
    }
    /// Sets the stage.
    pub fn stage(self, stage: &str) -> Self {
        ProgressEvent {
            stage: Some(stage.into()),
            ..self
        }
    }
    /// Sets the count.
    pub fn count(self, n: u64, total: u64) -> Self {
        ProgressEvent {
            n: Some(n),
            total: Some(total),
            ..self
        }
    }
    /// Sets the total.
    pub fn total(self, total: Option<u64>) -> Self {
        ProgressEvent { total, ..self }
    }
    /// Sets the item.
    pub fn item(self, item: &str) -> Self {
        ProgressEvent {
            item: Some(item.into()),
            ..self
        }
    }
    /// Sets the status.
    pub fn status(self, status: &str) -> Self {
        ProgressEvent {
            status: Some(status.into()),
            ..self
        }
    }
}

/// `MANIFEST.json` of a distribution tarball.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DistributionManifest {
    /// Always `distribution`.
    #[schemars(extend("const" = "distribution"))]
    pub kind: String,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// ensemble-kit version.
    pub version: String,
    /// OS and architecture of the binary.
    pub target: String,
    /// Every other file of the tarball, relative to its top folder, sorted.
    pub files: Vec<ManifestFile>,
    /// `files.len()`.
    pub n_files: u64,
}

/// `BUILD.json` written by `build-libvmaf`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LibvmafBuild {
    /// Always `libvmaf-build`.
    #[schemars(extend("const" = "libvmaf-build"))]
    pub kind: String,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The platform tag it was built for.
    pub platform: String,
    /// The source folder, or the pinned crate.
    pub source: String,
    /// Where meson ran, relative to the source.
    pub meson_root: String,
    /// The meson options used.
    pub meson_options: Vec<String>,
    /// What the built `vmaf --version` reports.
    pub libvmaf_version: String,
    /// The binary's file name (beside BUILD.json).
    pub binary: String,
    /// SHA-256 of the binary.
    pub binary_sha256: String,
    /// When (UTC; `SOURCE_DATE_EPOCH` when set).
    pub built_at_utc: String,
    /// The libvmaf version the kit pins.
    pub pinned: String,
}

/// A named schema the kit publishes in `schemas/`.
pub struct SchemaDoc {
    /// Name used by `ensemble-kit schema NAME` and the file `schemas/NAME.schema.json`.
    pub name: &'static str,
    generate: fn() -> schemars::Schema,
}

/// Every published schema.
pub const ALL: &[SchemaDoc] = &[
    SchemaDoc {
        name: "corpus-row",
        generate: || schemars::schema_for!(CorpusRow),
    },
    SchemaDoc {
        name: "shard-meta",
        generate: || schemars::schema_for!(ShardMeta),
    },
    SchemaDoc {
        name: "cell",
        generate: || schemars::schema_for!(CellRecord),
    },
    SchemaDoc {
        name: "platform",
        generate: || schemars::schema_for!(Platform),
    },
    SchemaDoc {
        name: "doctor",
        generate: || schemars::schema_for!(DoctorReport),
    },
    SchemaDoc {
        name: "loso-seed",
        generate: || schemars::schema_for!(LosoSeed),
    },
    SchemaDoc {
        name: "reference-loso-seed",
        generate: || schemars::schema_for!(ReferenceLosoSeed),
    },
    SchemaDoc {
        name: "verdict",
        generate: || schemars::schema_for!(Verdict),
    },
    SchemaDoc {
        name: "model-sidecar",
        generate: || schemars::schema_for!(Sidecar),
    },
    SchemaDoc {
        name: "manifest",
        generate: || schemars::schema_for!(Manifest),
    },
    SchemaDoc {
        name: "corpus-transport",
        generate: || schemars::schema_for!(TransportManifest),
    },
    SchemaDoc {
        name: "merged-corpus",
        generate: || schemars::schema_for!(MergedMeta),
    },
    SchemaDoc {
        name: "progress-event",
        generate: || schemars::schema_for!(ProgressEvent),
    },
    SchemaDoc {
        name: "libvmaf-build",
        generate: || schemars::schema_for!(LibvmafBuild),
    },
    SchemaDoc {
        name: "distribution",
        generate: || schemars::schema_for!(DistributionManifest),
    },
    SchemaDoc {
        name: "reference-row",
        generate: || schemars::schema_for!(ReferenceRow),
    },
    SchemaDoc {
        name: "imported-shard",
        generate: || schemars::schema_for!(ImportedShardMeta),
    },
];

/// The schema called `name`, as pretty JSON with a trailing newline.
pub fn render(name: &str) -> Result<String> {
    let doc = find(name)?;
    let mut text = serde_json::to_string_pretty(&(doc.generate)()).expect("schemas serialise");
    text.push('\n');
    Ok(text)
}

fn find(name: &str) -> Result<&'static SchemaDoc> {
    ALL.iter().find(|d| d.name == name).ok_or_else(|| {
        let names: Vec<&str> = ALL.iter().map(|d| d.name).collect();
        Error::Input(format!(
            "unknown schema `{name}`; known: {}",
            names.join(", ")
        ))
    })
}

fn validator(name: &str) -> Result<&'static jsonschema::Validator> {
    static VALIDATORS: OnceLock<BTreeMap<&'static str, jsonschema::Validator>> = OnceLock::new();
    let all = VALIDATORS.get_or_init(|| {
        ALL.iter()
            .map(|d| {
                let schema = serde_json::to_value((d.generate)()).expect("schemas serialise");
                let v = jsonschema::validator_for(&schema).expect("generated schemas compile");
                (d.name, v)
            })
            .collect()
    });
    find(name).map(|d| &all[d.name])
}

/// Checks `value` against schema `name`; the error names `path`, `line` and the field.
pub fn check(
    name: &str,
    value: &serde_json::Value,
    path: &Utf8Path,
    line: Option<usize>,
) -> Result<()> {
    let validator = validator(name)?;
    if let Some(err) = validator.iter_errors(value).next() {
        let pointer = err.instance_path().to_string();
        return Err(Error::Invalid {
            path: path.to_owned(),
            line,
            field: if pointer.is_empty() {
                "/".to_owned()
            } else {
                pointer
            },
            message: err.to_string(),
        });
    }
    Ok(())
}

/// Parses JSON bytes that came from `path` (a file, or `archive!member`); an error names it
/// and the line.
pub fn parse_value(bytes: &[u8], path: &Utf8Path) -> Result<serde_json::Value> {
    crate::strict_json::from_slice(bytes).map_err(|e| Error::Invalid {
        path: path.to_owned(),
        line: Some(e.line()),
        field: "/".into(),
        message: format!("not valid JSON: {e}"),
    })
}

/// Reads a file as JSON, before any schema check.
pub fn read_value(path: &Utf8Path) -> Result<serde_json::Value> {
    parse_value(&std::fs::read(path).map_err(|e| Error::io(path, e))?, path)
}

/// Parses JSON bytes from `path`, validates them against schema `name`, and deserialises them.
pub fn parse_checked<T: DeserializeOwned>(bytes: &[u8], path: &Utf8Path, name: &str) -> Result<T> {
    decode_checked(parse_value(bytes, path)?, path, name)
}

/// Validates a parsed document from `path` against schema `name` and deserialises it.
pub fn decode_checked<T: DeserializeOwned>(
    value: serde_json::Value,
    path: &Utf8Path,
    name: &str,
) -> Result<T> {
    check(name, &value, path, None)?;
    decode(value, path, None)
}

/// Reads a JSON file, validates it against schema `name`, and deserialises it.
pub fn read_json<T: DeserializeOwned>(path: &Utf8Path, name: &str) -> Result<T> {
    parse_checked(
        &std::fs::read(path).map_err(|e| Error::io(path, e))?,
        path,
        name,
    )
}

/// Streams a JSON Lines file, validating each line against schema `name` and handing the
/// 1-based line number and the value to `each`. Memory stays flat in the file's size.
pub fn for_each_jsonl<T: DeserializeOwned>(
    path: &Utf8Path,
    name: &str,
    mut each: impl FnMut(usize, T) -> Result<()>,
) -> Result<()> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line_no = i + 1;
        let line = line.map_err(|e| Error::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let value = crate::strict_json::from_str(&line).map_err(|e| Error::Invalid {
            path: path.to_owned(),
            line: Some(line_no),
            field: "/".into(),
            message: format!("not valid JSON: {e}"),
        })?;
        check(name, &value, path, Some(line_no))?;
        each(line_no, decode(value, path, Some(line_no))?)?;
    }
    Ok(())
}

fn decode<T: DeserializeOwned>(
    value: serde_json::Value,
    path: &Utf8Path,
    line: Option<usize>,
) -> Result<T> {
    serde_json::from_value(value).map_err(|e| Error::Invalid {
        path: path.to_owned(),
        line,
        field: "/".into(),
        message: e.to_string(),
    })
}

/// Which schema a JSON document claims through its `kind` field.
pub fn kind_of(value: &serde_json::Value) -> Option<&str> {
    value.get("kind").and_then(|k| k.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_renders_and_compiles() {
        for doc in ALL {
            assert!(render(doc.name).unwrap().contains("\"$schema\""));
            validator(doc.name).unwrap();
        }
    }

    #[test]
    fn bad_row_names_line_and_field() {
        let row = serde_json::json!({"src": "a", "src_sha256": "00", "encoder": "x", "cq": 1,
            "frame_index": 0, "enc_bytes": 1, "enc_time_ms": 1, "vmaf": 50.0, "adm2": 0.9,
            "vif_scale0": 0.5, "vif_scale1": 0.5, "vif_scale2": 0.5, "vif_scale3": 0.5,
            "motion2": 1.0});
        let err = check("corpus-row", &row, Utf8Path::new("s.jsonl"), Some(7)).unwrap_err();
        assert!(
            err.to_string().starts_with("s.jsonl:7: /src_sha256:"),
            "{err}"
        );
    }
}
