//! What a verdict measured (issue 18): the references, encoders, grid, tools and training recipe,
//! derived from the corpus, its shard metadata and the LOSO files — never typed by hand — and
//! what `compare --json` prints about two of them.

use super::corpus::Geometry;
use super::document::Document;
use super::evidence::{Evidence, Grounds};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The word a file carries for a fact its inputs do not record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum UnknownMarker {
    /// Not recorded by the inputs (a reference-kit file, or a corpus that was not found).
    #[serde(rename = "unknown")]
    Unknown,
}

/// A fact derived from the inputs, or `"unknown"` when they do not record it: the kit states
/// partial knowledge and never guesses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Known<T> {
    /// `"unknown"` (tried first, so the marker never reads as a value).
    Unknown(UnknownMarker),
    /// The derived value.
    Known(T),
}

impl<T> Known<T> {
    /// The marker.
    pub const UNKNOWN: Known<T> = Known::Unknown(UnknownMarker::Unknown);

    /// The value, when known.
    pub fn get(&self) -> Option<&T> {
        match self {
            Known::Known(v) => Some(v),
            Known::Unknown(_) => None,
        }
    }
}

impl<T> From<Option<T>> for Known<T> {
    fn from(value: Option<T>) -> Self {
        value.map_or(Known::UNKNOWN, Known::Known)
    }
}

/// Who wrote the LOSO files a verdict judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Producer {
    /// This kit (`kind: loso-seed`).
    Kit,
    /// The reference (Python) kit: SPEC §6's fields only.
    Reference,
}

/// One reference video of the experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExperimentSource {
    /// The source name (a LOSO fold).
    pub name: String,
    /// SHA-256 of the video file.
    pub sha256: Known<String>,
    /// Width, height and frame rate.
    pub geometry: Known<Geometry>,
    /// Whole frames in the file.
    pub frames: Known<u64>,
    /// Distinct frames scored (rows of one cell).
    pub scored_frames: Known<u64>,
}

/// One encoder present in the corpus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EncoderRows {
    /// ffmpeg encoder name.
    pub encoder: String,
    /// Corpus rows it contributed.
    pub rows: u64,
    /// CQs it was scored at, ascending.
    pub cqs: Vec<u32>,
    /// PLCC of the held-out predictions of its rows, pooled over folds, mean over the judged
    /// seeds: which encoder's rows the ensemble mispredicts. Unknown without the kit's per-row
    /// predictions, or when undefined.
    pub loso_plcc: Known<f64>,
}

/// One shard that scored rows of the corpus (a merged corpus lists each input shard).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExperimentShard {
    /// The shard's file name.
    pub file: String,
    /// Platform tag of the box that scored it.
    pub platform: Known<String>,
    /// libvmaf version.
    pub libvmaf_version: Known<String>,
    /// libvmaf model.
    pub vmaf_model: Known<String>,
    /// SHA-256 of the `vmaf` program and its libvmaf.
    pub vmaf_sha256: Known<String>,
    /// SHA-256 of the `ffmpeg` program.
    pub ffmpeg_sha256: Known<String>,
    /// Frames scored per cell, as the shard was asked.
    pub frames_per_source: Known<Option<u64>>,
}

/// How the seeds were trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExperimentRecipe {
    /// Epochs.
    pub epochs: u64,
    /// Mini-batch size.
    pub batch_size: u64,
    /// Adam learning rate.
    pub lr: f64,
    /// L2 weight decay.
    pub weight_decay: f64,
    /// Dropout probability (the reference does not record it).
    pub dropout: Known<f64>,
    /// The raw features, in input order.
    pub features: Known<Vec<String>>,
    /// How `crf_norm` is computed.
    pub crf_norm: Known<String>,
    /// The kit version that trained, as the seed files record it (or as the key of files that
    /// record no revision binds it).
    pub kit_version: Known<String>,
    /// The training recipe's revision the seed files record: with the parameters above, the
    /// recipe in substance (absent in verdicts of kits that did not record it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe_revision: Option<Known<u32>>,
    /// Codec block width.
    pub num_codecs: u64,
    /// Encoder vocabulary version.
    pub encoder_vocab_version: String,
}

/// `experiment` in a verdict: what was measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Experiment {
    /// Who wrote the LOSO files.
    pub producer: Producer,
    /// SHA-256 of the trained corpus rows (timings excluded), as the LOSO files record it.
    pub corpus_sha256: Known<String>,
    /// Whether the corpus files were found and hash to `corpus_sha256`: the facts below that
    /// come from rows and shard metadata are unknown otherwise.
    pub corpus_found: bool,
    /// The references, by name (the LOSO folds).
    pub sources: Vec<ExperimentSource>,
    /// The encoders present, by name.
    pub encoders: Known<Vec<EncoderRows>>,
    /// Every CQ present, ascending.
    pub cqs: Known<Vec<u32>>,
    /// The shards that scored the rows.
    pub shards: Known<Vec<ExperimentShard>>,
    /// The platforms (box tags) that scored, sorted.
    pub platforms: Known<Vec<String>>,
    /// The training recipe.
    pub recipe: ExperimentRecipe,
    /// Every seed trained in the same run (judged and further), ascending.
    pub seeds: Vec<u64>,
}

/// One reference as `compare` matched it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ReferenceMatch {
    /// On both sides with the same SHA-256.
    Shared,
    /// On both sides by name; at least one side does not know its bytes.
    SharedByName,
    /// Same name, different SHA-256.
    DifferentBytes,
    /// Only in A.
    OnlyInA,
    /// Only in B.
    OnlyInB,
}

/// One row of `compare`'s reference table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ComparedReference {
    /// Source name.
    pub name: String,
    /// How it matched.
    pub status: ReferenceMatch,
    /// How A's bytes of it are known: derived from A's own corpus rows, or only claimed.
    pub a: Option<Evidence>,
    /// How B's are.
    pub b: Option<Evidence>,
}

/// One row of `compare`'s experiment table: a fact of each side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ComparedFact {
    /// What (`encoders`, `cqs`, `recipe.epochs`, …).
    pub fact: String,
    /// A's value, as printed (`unknown` when not recorded).
    pub a: String,
    /// B's value.
    pub b: String,
    /// `same`, `differs`, or `unknown` when either side does not record it.
    pub status: String,
    /// Whether a difference here is meant (encoders, platforms, tools, seeds) rather than a
    /// change of experiment.
    pub intended: bool,
}

/// A per-key PLCC difference in the attribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlccDelta {
    /// Source or encoder.
    pub key: String,
    /// A's PLCC.
    pub a: Option<f64>,
    /// B's PLCC.
    pub b: Option<f64>,
    /// B − A.
    pub delta: Option<f64>,
}

/// The conclusion of `compare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Conclusion {
    /// The same experiment and the same verdict (exit 0).
    #[serde(rename = "CONFIRMS")]
    Confirms,
    /// The same experiment, another verdict (exit 1).
    #[serde(rename = "DISAGREES")]
    Disagrees,
    /// Not the same experiment (exit 3).
    #[serde(rename = "NOT COMPARABLE")]
    NotComparable,
    /// The same verdict on what the sides claim, but a fact a confirmation needs is only
    /// claimed on one side or both (exit 4).
    #[serde(rename = "CONSISTENT (claimed, not proven)")]
    Consistent,
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ComparedSide {
    /// The path given.
    pub path: String,
    /// `bundle`, `verdict file` or `LOSO folder`.
    pub read_as: String,
    /// `PROMOTE` or `HOLD`.
    pub verdict: String,
    /// The gate's mean PLCC.
    pub mean_plcc: f64,
    /// The gate's seed spread.
    pub plcc_spread: f64,
    /// Stability label (`robust`, `fragile`, …) when further seeds were trained.
    pub stability: Option<String>,
    /// Its p_promote, with the label.
    pub p_promote: Option<f64>,
    /// What it measured.
    pub experiment: Experiment,
    /// What its verdict rests on: which facts were derived here and which are only claimed.
    pub grounds: Grounds,
    /// Who signed it: `signed by PRINCIPALS (KEY)`, `signed with KEY (signer not checked: …)`,
    /// `unsigned`, or why a side that is not a bundle carries no signature.
    pub signed: String,
}

/// What `compare --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CompareReport {
    /// Always `compare`.
    #[schemars(extend("const" = CompareReport::SCHEMA))]
    pub kind: String,
    /// `CONFIRMS`, `DISAGREES`, `NOT COMPARABLE` or `CONSISTENT (claimed, not proven)`.
    pub conclusion: Conclusion,
    /// The process exit code: 0, 1, 3 or 4.
    pub exit_code: i32,
    /// One sentence: why, and for `NOT COMPARABLE` what to do.
    pub reason: String,
    /// Caveats that hold (`matched by name only; bytes unverified`).
    pub caveats: Vec<String>,
    /// Both trained the same corpus (same SHA-256) with the same seeds.
    pub identical_training: bool,
    /// A.
    pub a: ComparedSide,
    /// B.
    pub b: ComparedSide,
    /// Every reference of either side.
    pub references: Vec<ComparedReference>,
    /// The experiment table.
    pub facts: Vec<ComparedFact>,
    /// Per source, mean fold PLCC over the judged seeds.
    pub per_source: Vec<PlccDelta>,
    /// Per encoder, the PLCC of its held-out rows.
    pub per_encoder: Vec<PlccDelta>,
    /// For a disagreement: what explains it, one sentence each.
    pub attribution: Vec<String>,
}

impl Document for CompareReport {
    const SCHEMA: &'static str = "compare";
}
