//! The export stage (SPEC §8), only after a PROMOTE verdict on the same corpus: per seed, fit the
//! MLP on the whole corpus with the training recipe and write `<ensemble-id>_seed<N>.onnx` plus
//! its sidecar JSON (standardisation, vocabulary, corpus, recipe, gate, and the model's hash).

pub mod onnx;
pub mod proto;

use crate::error::{Error, Result};
use crate::merge::Corpus;
use crate::progress::Progress;
use crate::schema::{
    self, CodecBlockLayout, Sidecar, SidecarCorpus, TrainingRecipe, Verdict, SCHEMA_VERSION,
};
use crate::train::{self, features, mlp, Dataset, Recipe};
use crate::{atomic, budget, digest};
use camino::{Utf8Path, Utf8PathBuf};
use rayon::prelude::*;

/// The ensemble id used when `--ensemble-id` is not given.
pub const DEFAULT_ENSEMBLE_ID: &str = "fr_regressor_v2_ensemble_v1";

/// RNG stream of the full-corpus fit (fold fits use streams 0..n_folds).
pub const FULL_FIT_STREAM: u64 = 1 << 32;

/// What `export` is asked to do.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// Where models and sidecars go.
    pub out_dir: Utf8PathBuf,
    /// The PROMOTE verdict that allows the export.
    pub verdict: Utf8PathBuf,
    /// Seeds to export (default: the verdict's).
    pub seeds: Option<Vec<u64>>,
    /// Ensemble id (file name prefix).
    pub ensemble_id: String,
    /// The training recipe.
    pub recipe: Recipe,
    /// Fits at once.
    pub jobs: Option<usize>,
}

/// Reads the verdict and insists it is a PROMOTE that judged this very corpus.
fn promoting_verdict(path: &Utf8Path, corpus: &Corpus) -> Result<Verdict> {
    if !path.exists() {
        return Err(Error::Input(format!(
            "verdict `{path}` does not exist; run `ensemble-kit verdict` first"
        )));
    }
    let verdict: Verdict = schema::read_json(path, "verdict")?;
    if verdict.verdict != "PROMOTE" {
        return Err(Error::Input(format!(
            "`{path}` says {}: the gate did not promote, so there is nothing to export",
            verdict.verdict
        )));
    }
    for &seed in &verdict.seeds {
        let loso = crate::gate::read_seed(&crate::gate::loso_dir_of(path, &verdict), seed)?;
        if loso.corpus_sha256 != corpus.sha256 {
            return Err(Error::Input(format!(
                "the verdict `{path}` judged a different corpus (seed {seed} trained on {}, this corpus is {}); retrain and re-judge first",
                loso.corpus_sha256, corpus.sha256
            )));
        }
    }
    Ok(verdict)
}

/// Fits and writes every seed's model and sidecar; returns the sidecars.
pub fn run(request: &ExportRequest, corpus: &Corpus, progress: &Progress) -> Result<Vec<Sidecar>> {
    let verdict = promoting_verdict(&request.verdict, corpus)?;
    let seeds = request
        .seeds
        .clone()
        .unwrap_or_else(|| verdict.seeds.clone());
    train::check_seeds(&seeds)?;
    let data = Dataset::new(corpus)?;
    let all: Vec<usize> = (0..data.len()).collect();
    let scaling = data.scaling(&all);
    let (x, y) = data.matrix(&all, &scaling);
    let (jobs, _) = budget::split(request.jobs, Some(1))?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| Error::Environment(format!("could not start {jobs} worker threads: {e}")))?;
    progress.info(&format!(
        "fitting {} model(s) on all {} rows",
        seeds.len(),
        data.len()
    ));
    let models: Vec<mlp::Mlp> = pool.install(|| {
        seeds
            .par_iter()
            .map(|&seed| {
                train::fit(
                    &x,
                    &y,
                    &request.recipe,
                    &mut train::rng_for(seed, FULL_FIT_STREAM),
                )
            })
            .collect()
    });

    let cqs = corpus.rows.iter().map(|r| r.cq);
    let corpus_info = SidecarCorpus {
        path: corpus.label.clone(),
        sha256: corpus.sha256.clone(),
        n_rows: corpus.rows.len() as u64,
        cq_min: cqs.clone().min().unwrap_or(0),
        cq_max: cqs.max().unwrap_or(0),
    };
    let mut sidecars = Vec::new();
    for (&seed, model) in seeds.iter().zip(&models) {
        let id = format!("{}_seed{seed}", request.ensemble_id);
        let onnx_name = format!("{id}.onnx");
        let bytes = onnx::serialise(
            model,
            &id,
            &format!("ensemble-kit {} member of {}", id, request.ensemble_id),
        );
        atomic::write(&request.out_dir.join(&onnx_name), &bytes)?;
        let sidecar = Sidecar {
            kind: "model-sidecar".into(),
            schema_version: SCHEMA_VERSION,
            id: id.clone(),
            ensemble_id: request.ensemble_id.clone(),
            seed,
            codec_block_layout: CodecBlockLayout {
                onehot: features::ENCODER_VOCAB_V2
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                preset_norm: f64::from(features::PRESET_NORM),
                crf_norm: "(cq - corpus.cq_min) / (corpus.cq_max - corpus.cq_min)".into(),
            },
            encoder_vocab: features::ENCODER_VOCAB_V2
                .iter()
                .map(|s| s.to_string())
                .collect(),
            encoder_vocab_version: features::encoder_vocab_label(),
            feature_order: features::FEATURE_ORDER
                .iter()
                .map(|s| s.to_string())
                .collect(),
            feature_mean: scaling.standardiser.mean.to_vec(),
            feature_std: scaling.standardiser.std.to_vec(),
            onnx: onnx_name,
            sha256: digest::sha256_bytes(&bytes),
            opset: onnx::OPSET as u64,
            corpus: corpus_info.clone(),
            training_recipe: TrainingRecipe {
                epochs: request.recipe.epochs as u64,
                batch_size: request.recipe.batch_size as u64,
                lr: train::round_f32(request.recipe.adam.lr),
                weight_decay: train::round_f32(request.recipe.adam.weight_decay),
                dropout: train::round_f32(mlp::DROPOUT),
                layers: vec![mlp::INPUT as u64, mlp::HIDDEN as u64, mlp::HIDDEN as u64, 1],
                activation: "gelu-erf".into(),
                rng: format!("chacha8 seed {seed} stream {FULL_FIT_STREAM}"),
            },
            gate: verdict.gate.clone(),
        };
        atomic::write_json(&request.out_dir.join(format!("{id}.json")), &sidecar)?;
        progress.info(&format!(
            "wrote {} ({} bytes, sha256 {})",
            request.out_dir.join(&sidecar.onnx),
            bytes.len(),
            sidecar.sha256
        ));
        sidecars.push(sidecar);
    }
    Ok(sidecars)
}
