//! The gate's decision (SPEC §7): the verdict file, its gate numbers, the corpus it describes,
//! and why the seeds agree or not.

use super::document::Document;
#[cfg(doc)]
use super::document::SCHEMA_VERSION;
use super::experiment::Experiment;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The gate's decision. Verdict files, bundle manifests and model sidecars spell it `PROMOTE` or
/// `HOLD`; the kit holds and compares it as this type, never as a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// The gate passed: export the models and ship them.
    #[serde(rename = "PROMOTE")]
    Promote,
    /// The gate did not pass: ship nothing.
    #[serde(rename = "HOLD")]
    Hold,
}

impl Verdict {
    /// The word the files carry.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Promote => "PROMOTE",
            Verdict::Hold => "HOLD",
        }
    }

    /// The other decision: what a stale verdict file of the same folder would say.
    pub fn opposite(self) -> Verdict {
        match self {
            Verdict::Promote => Verdict::Hold,
            Verdict::Hold => Verdict::Promote,
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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

impl Gate {
    /// The decision the rules give: PROMOTE iff all three pass.
    pub fn verdict(&self) -> Verdict {
        if self.passed {
            Verdict::Promote
        } else {
            Verdict::Hold
        }
    }
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
// The doc line above is the schema's description; the schema keeps the title `Verdict` it had
// before that name went to the decision's type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "Verdict")]
pub struct VerdictFile {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `PROMOTE` or `HOLD`.
    #[schemars(with = "String", regex(pattern = "^(PROMOTE|HOLD)$"))]
    pub verdict: Verdict,
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
    /// Shards the judged seeds were trained on without their metadata (`--allow-missing-meta`):
    /// who scored them and with which libvmaf is unknown. Absent when every shard was verified.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unverified_shards: Vec<String>,
    /// What was measured, derived from the corpus, its shard metadata and the LOSO files
    /// (absent in the reference kit's verdicts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<Experiment>,
}

impl Document for VerdictFile {
    const SCHEMA: &'static str = "verdict";
}

impl VerdictFile {
    /// The model its stability interval was drawn by, which re-deriving it must use: the
    /// recorded one, or this kit's when it has no stability block.
    pub fn interval_model(&self) -> IntervalModel {
        self.stability
            .as_ref()
            .map_or(IntervalModel::CURRENT, |s| s.interval_model)
    }
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
    /// Its share of the seed-to-seed spread of the mean PLCC: its part cov(fold PLCC, seed
    /// mean) / folds of var(seed mean), counted 0 when negative (a source that moves against
    /// the others steadies the mean), then normalised over the sources that widen the spread,
    /// so the shares lie in [0, 1] and sum to 1 (all 0 when the seeds agree).
    #[schemars(range(min = 0.0, max = 1.0))]
    pub spread_share: f64,
}

/// The stability estimate (`--stability K`): the gate applied to every set of judged-size seeds
/// drawn from all trained seeds, and how sure that share is given how few seeds it rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Stability {
    /// Every seed pooled: the judged ones, then the further ones.
    pub seeds: Vec<u64>,
    /// Seeds per subset (as many as were judged).
    pub subset_size: u64,
    /// Subsets evaluated.
    pub subsets: u64,
    /// Whether every subset of the pooled seeds was evaluated (else a fixed-seed random sample
    /// of 20,000). Says how `p_promote` was counted, not how sure it is: see
    /// `p_promote_interval`.
    pub all_subsets: bool,
    /// Share of the subsets that pass the gate: the point estimate.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub p_promote: f64,
    /// Credible interval at `confidence` for the probability that a set of `subset_size` seeds
    /// passes, drawn by `interval_model` and widened to contain `p_promote`.
    pub p_promote_interval: [f64; 2],
    /// The model that drew `p_promote_interval`. Absent in verdicts written before issue 29
    /// (the normal model alone): each kit re-derives a block with the model that wrote it, so
    /// an older kit's bundle still verifies after the model improved.
    #[serde(default, skip_serializing_if = "IntervalModel::is_normal")]
    pub interval_model: IntervalModel,
    /// The interval's level (0.9).
    pub confidence: f64,
    /// Sample standard deviation of the per-seed mean PLCC over all pooled seeds.
    pub per_seed_plcc_std: f64,
    /// What the interval says: robust PROMOTE (it lies above 0.95), robust HOLD (below 0.05),
    /// fragile (within [0.05, 0.95]) or undecided (it straddles 0.05 or 0.95: train more seeds).
    pub label: StabilityLabel,
    /// The sources that explain most of the spread across the pooled seeds.
    pub driving_sources: Vec<String>,
}

/// Which model drew a stability block's `p_promote_interval`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntervalModel {
    /// A normal model of the per-seed mean PLCC alone: every verdict written before issue 29,
    /// which names no model. Too narrow in the tails when a fragile fold skews the seeds.
    #[default]
    Normal,
    /// The union of three models' intervals: the normal one (over the sorted values), a
    /// fragile fold that sinks some seeds under the line, and the Bayesian bootstrap.
    NormalFragileBootstrap,
}

impl IntervalModel {
    /// The model this kit draws new intervals with.
    pub const CURRENT: IntervalModel = IntervalModel::NormalFragileBootstrap;

    /// Whether this is the legacy normal model (which verdicts write by leaving the field out).
    pub fn is_normal(&self) -> bool {
        *self == IntervalModel::Normal
    }

    /// The words outputs use for it.
    pub fn describe(self) -> &'static str {
        match self {
            IntervalModel::Normal => "a normal model of the per-seed mean PLCC",
            IntervalModel::NormalFragileBootstrap => "three models of the per-seed mean PLCC",
        }
    }
}

/// How firmly the seeds decide the gate, read off the interval of `p_promote`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StabilityLabel {
    /// Nearly every set of seeds passes: the whole interval lies above 0.95.
    RobustPromote,
    /// Nearly every set of seeds fails: the whole interval lies below 0.05.
    RobustHold,
    /// The outcome depends on the seeds drawn: the whole interval lies within [0.05, 0.95].
    Fragile,
    /// Too few seeds to say: the interval reaches across 0.05 or 0.95.
    Undecided,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_is_spelled_as_the_files_spell_it() {
        for (verdict, word) in [(Verdict::Promote, "PROMOTE"), (Verdict::Hold, "HOLD")] {
            assert_eq!(verdict.as_str(), word);
            assert_eq!(serde_json::to_value(verdict).unwrap(), word);
            assert_eq!(
                serde_json::from_value::<Verdict>(word.into()).unwrap(),
                verdict
            );
            assert_eq!(verdict.opposite().opposite(), verdict);
        }
        assert!(serde_json::from_value::<Verdict>("promote".into()).is_err());
    }
}
