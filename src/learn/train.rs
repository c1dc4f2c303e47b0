//! The train stage (SPEC §6): leave-one-source-out cross-validation of the MLP, repeated per
//! seed, written as `loso_seed{N}.json`.
//!
//! Every (seed, fold) pair trains from its own deterministic RNG stream (ChaCha8 seeded by the
//! seed, stream = fold index), so folds and seeds train in parallel and the files are
//! byte-identical whatever `--jobs` is. A seed file whose `recipe_key` matches is reused.

mod dataset;
pub mod features;
mod fit;
pub mod kernel;
mod keystream;
pub mod mathf;
pub mod mlp;
mod recipe;
pub mod ridge;
pub mod shape;
pub mod simd;
#[cfg(test)]
mod tests;

pub use dataset::Dataset;
pub use fit::{baseline_fold, fit, fit_with, rng_for, run_fold};
pub use recipe::{
    recipe_key, recorded_key, recorded_recipe, round_f32, trained_by, Recipe, BATCH_SIZE_MAX,
    DEFAULT_EPOCHS, EPOCHS_MAX, IMPLEMENTED_REVISIONS, RECIPE_REVISION, UNRECORDED_REVISION,
    UNRECORDED_REVISION_KIT,
};

use crate::error::{Error, Result};
use crate::ingest::merge::Corpus;
use crate::progress::Progress;
use crate::schema::{self, Document, FoldResult, LosoSeed, ProgressEvent, SCHEMA_VERSION};
use crate::{atomic, budget, stats};
use camino::{Utf8Path, Utf8PathBuf};
use kernel::Gemm;
use rayon::prelude::*;
use std::time::Instant;

/// The default seeds of the gate.
pub const DEFAULT_SEEDS: &[u64] = &[0, 1, 2, 3, 4];

/// What `train` is asked to do.
#[derive(Debug, Clone)]
pub struct TrainRequest {
    /// Where `loso_seed{N}.json` go.
    pub out_dir: Utf8PathBuf,
    /// Seeds, each a full LOSO run.
    pub seeds: Vec<u64>,
    /// The recipe.
    pub recipe: Recipe,
    /// (seed, fold) trainings at once.
    pub jobs: Option<usize>,
}

/// The file of one seed.
pub fn seed_path(dir: &Utf8Path, seed: u64) -> Utf8PathBuf {
    dir.join(crate::layout::seed_file(seed))
}

/// Refuses an empty seed list or one that names a seed twice: a repeated seed would be
/// trained or judged twice and make the spread across seeds look smaller than it is.
pub fn check_seeds(seeds: &[u64]) -> Result<()> {
    if seeds.is_empty() {
        return Err(Error::Input("--seeds needs at least one seed".into()));
    }
    let mut seen = std::collections::BTreeSet::new();
    if let Some(repeated) = seeds.iter().find(|s| !seen.insert(**s)) {
        return Err(Error::Input(format!(
            "--seeds names seed {repeated} more than once; seeds must be distinct (e.g. 0,1,2,3,4)"
        )));
    }
    Ok(())
}

/// Runs LOSO for every seed (reusing seed files whose recipe key matches) and writes them:
/// `data` is `corpus`'s rows as model inputs ([`Dataset::new`]); the rows themselves are not
/// read, so a caller may free them first.
pub fn run(
    request: &TrainRequest,
    corpus: &Corpus,
    data: &Dataset,
    progress: &Progress,
) -> Result<Vec<LosoSeed>> {
    check_seeds(&request.seeds)?;
    if data.unknown_encoder_rows > 0 {
        progress.warn(&format!(
            "{} row(s) have an encoder outside vocabulary {} and use its `unknown` slot",
            data.unknown_encoder_rows,
            features::encoder_vocab_label()
        ));
    }
    let jobs = budget::fits(request.jobs)?;
    progress.detail(&format!("arithmetic: {}", simd::describe()));
    let corpus_label = &corpus.label;
    let key_of = |seed: u64| recipe_key(&corpus.sha256, seed, &request.recipe, RECIPE_REVISION);

    let mut finished: Vec<Option<LosoSeed>> = Vec::new();
    for &seed in &request.seeds {
        let path = seed_path(&request.out_dir, seed);
        let reusable = path
            .exists()
            .then(|| schema::read_json::<LosoSeed>(&path).ok())
            .flatten()
            .filter(|s| s.recipe_key == key_of(seed));
        if reusable.is_some() {
            progress.info(&format!("seed {seed}: reusing {path}"));
        }
        finished.push(reusable);
    }
    let todo: Vec<u64> = request
        .seeds
        .iter()
        .zip(&finished)
        .filter(|(_, f)| f.is_none())
        .map(|(s, _)| *s)
        .collect();
    let n_folds = data.sources.len();
    progress.info(&format!(
        "{} rows, {n_folds} folds, {} seed(s) to train ({} reused), {} epochs, {jobs} at a time",
        data.len(),
        todo.len(),
        request.seeds.len() - todo.len(),
        request.recipe.epochs
    ));

    let pool = budget::pool(jobs)?;
    let results: Vec<(u64, FoldResult, f64)> = pool.install(|| {
        let baselines: Vec<Option<f64>> = if todo.is_empty() {
            Vec::new()
        } else {
            (0..n_folds)
                .into_par_iter()
                .map(|f| baseline_fold(data, f))
                .collect()
        };
        let tasks: Vec<(u64, usize)> = todo
            .iter()
            .flat_map(|&s| (0..n_folds).map(move |f| (s, f)))
            .collect();
        let done = std::sync::atomic::AtomicUsize::new(0);
        progress.stage_start("train", Some(tasks.len() as u64));
        let results: Vec<(u64, FoldResult, f64)> = tasks
            .par_iter()
            .map(|&(seed, fold)| {
                let t = Instant::now();
                let result = run_fold(
                    data,
                    fold,
                    seed,
                    &request.recipe,
                    baselines[fold],
                    Gemm::Fixed,
                );
                let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                let plcc = result
                    .plcc
                    .map_or("undefined".into(), |p| format!("{p:.4}"));
                let held_out = crate::progress::outside(&result.held_out);
                progress.info(&format!(
                    "fold {n}/{} seed {seed} held-out {held_out}: PLCC {plcc}",
                    tasks.len()
                ));
                progress.advance(&format!("seed {seed} {held_out}"));
                progress.event(ProgressEvent {
                    seed: Some(seed),
                    plcc: result.plcc,
                    ..ProgressEvent::new("fold")
                        .stage("train")
                        .count(n as u64, tasks.len() as u64)
                        .item(&result.held_out)
                });
                (seed, result, t.elapsed().as_secs_f64())
            })
            .collect();
        progress.stage_finish("train");
        results
    });

    let pinned = crate::timestamp::pinned();
    // Each seed's folds are moved into its file, not copied: at 10⁶ rows the held-out
    // predictions are 16 MB per seed.
    let mut results = results.into_iter().peekable();
    let mut out = Vec::new();
    for (&seed, reused) in request.seeds.iter().zip(finished) {
        let loso = match reused {
            Some(loso) => loso,
            None => {
                let mut folds = Vec::new();
                let mut wall = 0.0;
                while let Some((_, fold, t)) = results.next_if(|(s, _, _)| *s == seed) {
                    folds.push(fold);
                    wall += t;
                }
                let loso = summarise(
                    seed,
                    folds,
                    data,
                    corpus,
                    corpus_label,
                    &request.recipe,
                    key_of(seed),
                    if pinned { 0.0 } else { wall },
                );
                atomic::write_json(&seed_path(&request.out_dir, seed), &loso)?;
                loso
            }
        };
        out.push(loso);
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn summarise(
    seed: u64,
    folds: Vec<FoldResult>,
    data: &Dataset,
    corpus: &Corpus,
    corpus_label: &str,
    recipe: &Recipe,
    recipe_key: String,
    wall_time_s: f64,
) -> LosoSeed {
    let plccs: Vec<f64> = folds.iter().filter_map(|f| f.plcc).collect();
    let with_n: Vec<(f64, u64)> = folds
        .iter()
        .filter_map(|f| f.plcc.map(|p| (p, f.n_val)))
        .collect();
    let ci = stats::fisher_z_ci95(&with_n).map(|(lo, hi)| [lo, hi]);
    LosoSeed {
        kind: LosoSeed::SCHEMA.into(),
        schema_version: SCHEMA_VERSION,
        seed,
        corpus: corpus_label.to_owned(),
        corpus_sha256: corpus.sha256.clone(),
        n_rows: data.len() as u64,
        n_folds: folds.len() as u64,
        mean_plcc: stats::mean(plccs.iter().copied()),
        std_plcc: stats::sample_std(&plccs),
        min_plcc: plccs.iter().copied().reduce(f64::min),
        max_plcc: plccs.iter().copied().reduce(f64::max),
        plcc_ci95: ci,
        mean_srocc: stats::mean(folds.iter().filter_map(|f| f.srocc)),
        mean_rmse: stats::mean(folds.iter().filter_map(|f| f.rmse)),
        baseline_mean_plcc: stats::mean(folds.iter().filter_map(|f| f.baseline_plcc)),
        folds,
        epochs: recipe.epochs as u64,
        batch_size: recipe.batch_size as u64,
        lr: round_f32(recipe.adam.lr),
        weight_decay: round_f32(recipe.adam.weight_decay),
        dropout: round_f32(shape::DROPOUT),
        num_codecs: features::CODEC_BLOCK as u64,
        encoder_vocab_version: features::ENCODER_VOCAB_VERSION,
        unknown_encoder_rows: data.unknown_encoder_rows,
        recipe_key,
        recipe_revision: Some(RECIPE_REVISION),
        kit_version: Some(schema::kit_version().to_owned()),
        wall_time_s,
        unverified_shards: corpus.unverified.iter().map(|f| f.to_string()).collect(),
    }
}
