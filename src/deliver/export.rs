//! The export stage (SPEC §8), only after a PROMOTE verdict on the same corpus: per seed, fit the
//! MLP on the whole corpus with the training recipe and write `<ensemble-id>_seed<N>.onnx` plus
//! its sidecar JSON — a superset of the reference's sidecar (standardisation, codec block layout,
//! vocabulary, corpus with the CQ range of `crf_norm`, recipe, gate, and the model's hash).

pub mod onnx;
pub mod proto;

use crate::error::{Error, Result};
use crate::ingest::merge::Corpus;
use crate::learn::train::features::{self, InputScaling};
use crate::learn::train::{self, mlp, shape, Dataset, Recipe};
use crate::progress::Progress;
use crate::schema::{
    self, CodecBlockValues, Figures, Sidecar, SidecarCorpus, SidecarGate, TrainingRecipe, Verdict,
    VerdictFile, SCHEMA_VERSION, SIDECAR_KIND,
};
use crate::{atomic, budget, digest, stats};
use camino::{Utf8Path, Utf8PathBuf};
use ndarray::{Array1, Array2};
use rayon::prelude::*;

/// The ensemble id used when `--ensemble-id` is not given.
pub const DEFAULT_ENSEMBLE_ID: &str = "fr_regressor_v2_ensemble_v1";

/// Longest ensemble id: it becomes part of file names, which systems cap at 255 bytes.
const ENSEMBLE_ID_MAX: usize = 128;

/// Checks an ensemble id (`--ensemble-id`): it is the prefix of the models' file names in
/// `models/`, so it must be a plain name — ASCII letters, digits, `_`, `-` and `.`, starting with
/// a letter or digit — and never a path that writes outside `models/`.
pub fn parse_ensemble_id(id: &str) -> std::result::Result<String, String> {
    let plain = id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    let starts_well = id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if plain && starts_well && id.len() <= ENSEMBLE_ID_MAX {
        Ok(id.to_owned())
    } else {
        Err(format!(
            "`{}` is not an ensemble id: it is the models' file name prefix, so use up to {ENSEMBLE_ID_MAX} ASCII letters, digits, `_`, `-` or `.`, starting with a letter or digit (e.g. {DEFAULT_ENSEMBLE_ID})",
            id.escape_debug()
        ))
    }
}

/// The decision records the reference's registry expects in `parent_adrs`.
pub const PARENT_ADRS: [&str; 4] = ["ADR-0303", "ADR-0309", "ADR-0319", "ADR-0321"];

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
fn promoting_verdict(path: &Utf8Path, corpus: &Corpus) -> Result<VerdictFile> {
    if !path.exists() {
        return Err(Error::Input(format!(
            "verdict `{path}` does not exist; run `ensemble-kit verdict` first"
        )));
    }
    let verdict: VerdictFile = schema::read_json(path)?;
    if verdict.verdict != Verdict::Promote {
        return Err(Error::Input(format!(
            "`{path}` says {}: the gate did not promote, so there is nothing to export",
            verdict.verdict
        )));
    }
    for &seed in &verdict.seeds {
        let loso =
            crate::learn::gate::read_seed(&crate::learn::gate::loso_dir_of(path, &verdict), seed)?;
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
    parse_ensemble_id(&request.ensemble_id).map_err(Error::Input)?;
    let verdict = promoting_verdict(&request.verdict, corpus)?;
    let seeds = request
        .seeds
        .clone()
        .unwrap_or_else(|| verdict.seeds.clone());
    train::check_seeds(&seeds)?;
    let data = Dataset::new(corpus)?;
    progress.info(&format!(
        "fitting {} model(s) on all {} rows",
        seeds.len(),
        data.len()
    ));
    let derivation = Derivation {
        verdict: &verdict,
        recipe: request.recipe,
        ensemble_id: &request.ensemble_id,
        kit_version: schema::kit_version(),
        corpus_label: &corpus.label,
    };
    let mut sidecars = Vec::new();
    for (bytes, sidecar) in derive_members(&derivation, corpus, &data, &seeds, request.jobs)? {
        atomic::write(&request.out_dir.join(&sidecar.onnx), &bytes)?;
        atomic::write_json(
            &request.out_dir.join(format!("{}.json", sidecar.id)),
            &sidecar,
        )?;
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

/// What a member's model and sidecar are derived from besides the rows: the verdict that
/// allowed the export, the recipe, the ensemble id, the corpus as the operator named it, and
/// the kit version written into both. `export` derives as this kit; `verify --retrain` as the
/// kit that made the bundle, so that the bytes compare.
#[derive(Clone, Copy)]
pub struct Derivation<'a> {
    /// The PROMOTE verdict.
    pub verdict: &'a VerdictFile,
    /// The recipe of the full-corpus fit (the judged seeds').
    pub recipe: Recipe,
    /// The ensemble id.
    pub ensemble_id: &'a str,
    /// The kit version that fits.
    pub kit_version: &'a str,
    /// The corpus as the sidecar names it (`corpus.path`).
    pub corpus_label: &'a str,
}

/// Fits every seed on all of `data` (its own RNG stream, [`FULL_FIT_STREAM`]) and returns each
/// member's model bytes and sidecar, in seed order: what `export` writes and `verify --retrain`
/// derives again.
pub fn derive_members(
    derivation: &Derivation,
    corpus: &Corpus,
    data: &Dataset,
    seeds: &[u64],
    jobs: Option<usize>,
) -> Result<Vec<(Vec<u8>, Sidecar)>> {
    let all: Vec<usize> = (0..data.len()).collect();
    let scaling = data.scaling(&all);
    let (x, y) = data.matrix(&all, &scaling);
    let pool = budget::pool(budget::fits(jobs)?)?;
    let ensemble_id = derivation.ensemble_id;
    Ok(pool.install(|| {
        seeds
            .par_iter()
            .map(|&seed| {
                let model = train::fit(
                    data,
                    &all,
                    &scaling,
                    &derivation.recipe,
                    &mut train::rng_for(seed, FULL_FIT_STREAM),
                );
                let id = member_id(ensemble_id, seed);
                let bytes = onnx::serialise(
                    &model,
                    &id,
                    &format!("ensemble-kit {id} member of {ensemble_id}"),
                    derivation.kit_version,
                );
                let sidecar = Sidecar {
                    full_fit: Some(full_fit(&model, &x, &y)),
                    ..sidecar(
                        derivation,
                        (&corpus.sha256, corpus.rows.len() as u64),
                        &scaling,
                        seed,
                        digest::sha256_bytes(&bytes),
                    )
                };
                (bytes, sidecar)
            })
            .collect()
    }))
}

/// The full-corpus fit's figures on its own rows by the kit's forward pass: what a consumer's
/// ONNX runtime must reproduce on the same corpus (`evaluate` checks it).
fn full_fit(model: &mlp::Mlp, x: &Array2<f32>, y: &Array1<f32>) -> Figures {
    let predicted: Vec<f64> = model
        .predict(x.view())
        .iter()
        .map(|&v| f64::from(v))
        .collect();
    let truth: Vec<f64> = y.iter().map(|&v| f64::from(v)).collect();
    Figures {
        n_rows: truth.len() as u64,
        plcc: stats::plcc(&predicted, &truth),
        srocc: stats::srocc(&predicted, &truth),
        rmse: stats::rmse(&predicted, &truth),
    }
}

/// `<ensemble-id>_seed<N>`: the stem of a member's model and sidecar files.
pub fn member_id(ensemble_id: &str, seed: u64) -> String {
    format!("{ensemble_id}_seed{seed}")
}

/// The sidecar of one exported model whose file hashes to `sha256`: the reference's keys with the
/// reference's JSON types, plus the kit's own (`schema_version`, `codec_block_values`, the
/// recipe's layers and RNG, the verdict's whole gate).
pub fn sidecar(
    derivation: &Derivation,
    corpus: (&str, u64),
    scaling: &InputScaling,
    seed: u64,
    sha256: String,
) -> Sidecar {
    let (corpus_sha256, n_rows) = corpus;
    let Derivation {
        verdict,
        recipe,
        ensemble_id,
        kit_version,
        corpus_label,
    } = *derivation;
    let id = member_id(ensemble_id, seed);
    let strings = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let gate = &verdict.gate;
    Sidecar {
        kind: SIDECAR_KIND.into(),
        schema_version: SCHEMA_VERSION,
        onnx: format!("{id}.onnx"),
        id,
        ensemble_id: ensemble_id.to_owned(),
        seed,
        codec_aware: true,
        codec_block_layout: features::codec_block_layout(),
        codec_block_values: CodecBlockValues {
            preset_norm: f64::from(features::PRESET_NORM),
            crf_norm: features::crf_norm_convention(),
        },
        encoder_vocab: strings(&features::ENCODER_VOCAB_V2),
        encoder_vocab_version: features::ENCODER_VOCAB_VERSION,
        feature_order: strings(&features::FEATURE_ORDER),
        feature_mean: scaling.standardiser.mean.to_vec(),
        feature_std: scaling.standardiser.std.to_vec(),
        input_names: strings(&onnx::INPUT_NAMES),
        output_names: strings(&[onnx::OUTPUT_NAME]),
        opset: onnx::OPSET as u64,
        sha256,
        corpus: SidecarCorpus {
            path: corpus_label.to_owned(),
            sha256: corpus_sha256.to_owned(),
            n_rows,
            cq_min: scaling.cq_range.min,
            cq_max: scaling.cq_range.max,
        },
        training_recipe: TrainingRecipe {
            in_features: features::FEATURE_ORDER.len() as u64,
            hidden: shape::HIDDEN as u64,
            depth: shape::DEPTH as u64,
            dropout: train::round_f32(shape::DROPOUT),
            num_codecs: features::CODEC_BLOCK as u64,
            epochs: recipe.epochs as u64,
            batch_size: recipe.batch_size as u64,
            lr: train::round_f32(recipe.adam.lr),
            weight_decay: train::round_f32(recipe.adam.weight_decay),
            optimizer: "Adam".into(),
            loss: "MSE".into(),
            fit_set: "full_corpus".into(),
            scaler: "fit_on_full_corpus".into(),
            layers: vec![shape::INPUT as u64, shape::HIDDEN as u64, shape::HIDDEN as u64, 1],
            activation: "gelu-erf".into(),
            rng: format!("chacha8 seed {seed} stream {FULL_FIT_STREAM}"),
            recipe_revision: Some(train::RECIPE_REVISION),
            kit_version: Some(kit_version.to_owned()),
        },
        gate: SidecarGate {
            verdict: verdict.verdict.to_string(),
            per_seed_min_threshold: gate.per_seed_min,
            this_seed_loso_plcc: gate.per_seed_plccs.get(&seed.to_string()).copied(),
            verdict_gate: gate.clone(),
        },
        loso_mean_plcc: gate.mean_plcc,
        notes: format!(
            "Member seed {seed} of {} fitted by ensemble-kit on all {} rows after the LOSO gate said {} (mean PLCC {:.4}); feed it the six features standardised with feature_mean/feature_std and the codec block of codec_block_layout, whose crf_norm is a min-max of cq over corpus.cq_min..corpus.cq_max.",
            ensemble_id,
            n_rows,
            verdict.verdict,
            gate.mean_plcc
        ),
        parent_adrs: strings(&PARENT_ADRS),
        full_fit: None,
    }
}
