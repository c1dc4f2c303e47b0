//! What `evaluate` reads and writes: a model sidecar as a consumer reads it (the reference
//! kit's keys, which the kit's own sidecar is a superset of) and the evaluation of an ensemble
//! on a corpus.

use super::document::Document;
#[cfg(doc)]
use super::document::SCHEMA_VERSION;
use super::evidence::Evidence;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A model sidecar as a consumer reads it: only the keys needed to feed the model and to check
/// it, which the reference kit's sidecar and the kit's own both carry. Everything else in the
/// file is ignored, so the reference's sidecars are read unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConsumerSidecar {
    /// `fr`: a full-reference regressor.
    pub kind: String,
    /// The kit's format version; absent in the reference's sidecars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<u32>,
    /// The member's id.
    pub id: String,
    /// The ensemble the member belongs to.
    pub ensemble_id: String,
    /// The member's seed.
    pub seed: u64,
    /// Names of the codec block's columns, in input order.
    pub codec_block_layout: Vec<String>,
    /// The encoder vocabulary of the one-hot, in slot order.
    pub encoder_vocab: Vec<String>,
    /// The vocabulary's version (the integer 2).
    pub encoder_vocab_version: u32,
    /// The features, in input order.
    pub feature_order: Vec<String>,
    /// Means to subtract from the features.
    pub feature_mean: Vec<f64>,
    /// Standard deviations to divide the features by.
    pub feature_std: Vec<f64>,
    /// The model's input names: features, then codec block.
    pub input_names: Vec<String>,
    /// The model's output names (the score first).
    pub output_names: Vec<String>,
    /// The model's file name, beside the sidecar.
    pub onnx: String,
    /// SHA-256 of the model file.
    pub sha256: String,
    /// The corpus the model was fitted on.
    pub corpus: ConsumerCorpus,
    /// The kit's record of the full-corpus fit on its own rows; absent in the reference's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_fit: Option<Figures>,
}

impl Document for ConsumerSidecar {
    const SCHEMA: &'static str = "consumer-sidecar";
}

/// The fitted corpus, as a consumer reads it: its identity and the CQ range of `crf_norm`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConsumerCorpus {
    /// SHA-256 of the corpus rows.
    pub sha256: String,
    /// Rows.
    pub n_rows: u64,
    /// Lower end of `crf_norm`'s min-max.
    pub cq_min: f64,
    /// Upper end of `crf_norm`'s min-max.
    pub cq_max: f64,
}

/// Agreement of predictions with the true VMAF over some rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Figures {
    /// Rows.
    pub n_rows: u64,
    /// Pearson correlation; null when undefined (fewer than 2 rows or constant values).
    pub plcc: Option<f64>,
    /// Spearman rank correlation; null when undefined.
    pub srocc: Option<f64>,
    /// Root mean squared error in VMAF points; null for no rows.
    pub rmse: Option<f64>,
}

/// The figures of the rows of one source or one encoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NamedFigures {
    /// The source or encoder.
    pub name: String,
    /// Its figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// The figures of the rows of one CQ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CqFigures {
    /// The CQ.
    pub cq: u32,
    /// Its figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// One predictor's figures over the whole corpus and per source, encoder and CQ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Scores {
    /// Every row.
    pub overall: Figures,
    /// Per source, sorted by name.
    pub per_source: Vec<NamedFigures>,
    /// Per encoder, sorted by name.
    pub per_encoder: Vec<NamedFigures>,
    /// Per CQ, ascending.
    pub per_cq: Vec<CqFigures>,
}

/// One member of the evaluated ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EvaluatedMember {
    /// The member's seed.
    pub seed: u64,
    /// The member's id.
    pub id: String,
    /// Its sidecar's file name.
    pub sidecar: String,
    /// Its model's file name.
    pub onnx: String,
    /// SHA-256 of the model file (equal to the sidecar's).
    pub sha256: String,
    /// The corpus it was fitted on is the evaluated corpus (same row hash).
    pub fitted_on_this_corpus: bool,
    /// Its figures.
    pub scores: Scores,
    /// The full-corpus fit's figures the sidecar records, when the evaluated corpus is the one
    /// the model was fitted on: the runtime should reproduce them.
    pub recorded_full_fit: Option<Figures>,
    /// How the sidecar's record of its full-corpus fit stands: `derived` when the runtime
    /// reproduced it on this corpus (else evaluate refused the member, exit 2), `claimed` when
    /// it was fitted on another corpus, absent when the sidecar records none (the reference's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_fit: Option<Evidence>,
}

/// `evaluate`'s result: a shipped ensemble run in an ONNX runtime on a corpus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Evaluation {
    /// Always `evaluation`.
    #[schemars(extend("const" = Evaluation::SCHEMA))]
    pub kind: String,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The models as given: a results bundle or a folder of models and sidecars.
    pub models: String,
    /// Who signed the bundle (`signed by PRINCIPALS (KEY)`, …), or that a folder carries no
    /// signature.
    #[serde(default)]
    pub signed: String,
    /// The ensemble's id.
    pub ensemble_id: String,
    /// The corpus shard(s), as given.
    pub corpus: Vec<String>,
    /// SHA-256 of the merged corpus rows.
    pub corpus_sha256: String,
    /// Rows evaluated.
    pub n_rows: u64,
    /// Rows whose encoder is outside the vocabulary, fed through its `unknown` slot (only with
    /// `--allow-unknown-encoders`; otherwise such a corpus is refused).
    pub unknown_encoder_rows: u64,
    /// The ensemble mean (the mean of the members' scores per row).
    pub ensemble: Scores,
    /// Each member, by seed.
    pub members: Vec<EvaluatedMember>,
}

impl Document for Evaluation {
    const SCHEMA: &'static str = "evaluation";
}
