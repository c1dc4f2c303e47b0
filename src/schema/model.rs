//! What training and export write: one seed's leave-one-source-out run (the kit's file, and
//! the reference kit's it also reads) and the sidecar beside each exported model.

use super::document::Document;
#[cfg(doc)]
use super::document::SCHEMA_VERSION;
use super::evaluation::Figures;
use super::verdict::Gate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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

impl Document for ReferenceLosoSeed {
    const SCHEMA: &'static str = "reference-loso-seed";
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

/// A `loso_seed{N}.json` in the smallest shape the reference's gate and validator read: the
/// seed, its mean PLCC and one PLCC per fold (the reference's own tests write these). Read so
/// that such a LOSO folder can be judged; what it does not record stays unknown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReferenceMinimalSeed {
    /// The RNG seed.
    pub seed: u64,
    /// Mean fold PLCC.
    pub mean_plcc: Option<f64>,
    /// Per fold.
    pub per_fold: Vec<ReferenceMinimalFold>,
}

impl Document for ReferenceMinimalSeed {
    const SCHEMA: &'static str = "reference-minimal-seed";
}

/// One fold of a [`ReferenceMinimalSeed`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReferenceMinimalFold {
    /// The held-out source.
    pub source: String,
    /// PLCC; null when undefined.
    pub plcc: Option<f64>,
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
    #[schemars(extend("const" = LosoSeed::SCHEMA))]
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
    /// Width of the codec block (14: the 12-slot one-hot, `preset_norm`, `crf_norm`), as the
    /// reference writes it.
    pub num_codecs: u64,
    /// Encoder vocabulary version: the integer 2, as the reference writes it.
    pub encoder_vocab_version: u32,
    /// Rows whose encoder is outside the vocabulary (mapped to `unknown`).
    pub unknown_encoder_rows: u64,
    /// Hash of corpus, seed, recipe and recipe revision; a re-run with the same key reuses this
    /// file.
    pub recipe_key: String,
    /// The revision of the training recipe it was trained by: with the parameters above, what a
    /// later kit needs to train it again (absent in files of kits that did not record it, which
    /// trained revision 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe_revision: Option<u32>,
    /// The ensemble-kit version that trained it (absent where `recipe_revision` is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kit_version: Option<String>,
    /// Wall time of this seed's training in seconds (0 when `SOURCE_DATE_EPOCH` pins outputs).
    pub wall_time_s: f64,
    /// Shards of the corpus accepted without their metadata (`--allow-missing-meta`), so who
    /// scored them and with which libvmaf is unknown; absent when every shard was verified.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unverified_shards: Vec<String>,
}

impl Document for LosoSeed {
    const SCHEMA: &'static str = "loso-seed";
}

/// `kind` of a model sidecar: the reference's model kind (full-reference regressor).
pub const SIDECAR_KIND: &str = "fr";

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
    /// The training recipe's revision (absent in sidecars of kits that did not record it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe_revision: Option<u32>,
    /// The ensemble-kit version that fitted the model (absent where `recipe_revision` is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kit_version: Option<String>,
}

/// The gate that allowed an export: the reference's keys, then the verdict's gate as the kit
/// writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SidecarGate {
    // A string, as in the reference's sidecar: only ever written (always `PROMOTE`), never
    // compared, and a sidecar is read for its model checks whatever word it holds.
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
    #[schemars(extend("const" = SIDECAR_KIND))]
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
    /// The full-corpus fit on its own rows, by the kit's forward pass: what `evaluate` in an
    /// ONNX runtime must reproduce on this corpus (absent in sidecars of earlier kits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_fit: Option<Figures>,
}

impl Document for Sidecar {
    const SCHEMA: &'static str = "model-sidecar";
}
