//! The train stage (SPEC §6): leave-one-source-out cross-validation of the MLP, repeated per
//! seed, written as `loso_seed{N}.json`.
//!
//! Every (seed, fold) pair trains from its own deterministic RNG stream (ChaCha8 seeded by the
//! seed, stream = fold index), so folds and seeds train in parallel and the files are
//! byte-identical whatever `--jobs` is. A seed file whose `recipe_key` matches is reused.

pub mod features;
pub mod kernel;
pub mod mathf;
pub mod mlp;
pub mod ridge;
pub mod shape;
#[cfg(test)]
mod tests;

use crate::error::{Error, Result};
use crate::merge::Corpus;
use crate::progress::Progress;
use crate::schema::{self, Document, FoldResult, LosoSeed, ProgressEvent, SCHEMA_VERSION};
use crate::{atomic, budget, digest, stats};
use camino::{Utf8Path, Utf8PathBuf};
use features::{CqRange, InputScaling, Standardiser};
use kernel::Gemm;
use mlp::{Adam, AdamConfig, Mlp, Workspace};
use ndarray::{Array1, Array2};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use rayon::prelude::*;
use shape::INPUT;
use std::time::Instant;

/// The training recipe of SPEC §6.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recipe {
    /// Passes over the training rows.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Adam settings.
    pub adam: AdamConfig,
}

impl Default for Recipe {
    fn default() -> Self {
        Recipe {
            epochs: DEFAULT_EPOCHS,
            batch_size: 32,
            adam: AdamConfig {
                lr: 5e-4,
                weight_decay: 1e-5,
            },
        }
    }
}

/// Bumped whenever training changes in a way [`Recipe`] does not show, so seed files of an older
/// recipe are retrained rather than reused (2: `crf_norm` is a min-max over the fitted rows' CQ
/// range instead of `cq / 63`; 3: the fixed-order kernel and the closed-form ridge baseline).
pub const RECIPE_REVISION: u32 = 3;

/// Epochs per fit unless the operator says otherwise (SPEC §6).
pub const DEFAULT_EPOCHS: usize = 200;

/// The default seeds of the gate.
pub const DEFAULT_SEEDS: &[u64] = &[0, 1, 2, 3, 4];

/// The corpus as model inputs: raw features, encoder slots, cqs, targets and fold membership.
pub struct Dataset {
    features: Vec<[f64; 6]>,
    encoder_slot: Vec<usize>,
    cq: Vec<u32>,
    target: Vec<f32>,
    source: Vec<usize>,
    /// Sorted unique source names: the folds.
    pub sources: Vec<String>,
    /// Rows whose encoder is outside the vocabulary.
    pub unknown_encoder_rows: u64,
}

impl Dataset {
    /// Builds the dataset; fewer than two sources is an input error.
    pub fn new(corpus: &Corpus) -> Result<Dataset> {
        let mut sources: Vec<String> = corpus.rows.iter().map(|r| r.src.clone()).collect();
        sources.sort();
        sources.dedup();
        if sources.len() < 2 {
            return Err(Error::Input(format!(
                "the corpus ({}) has {} source(s); leave-one-source-out needs at least 2",
                corpus
                    .files
                    .iter()
                    .map(|f| f.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                sources.len()
            )));
        }
        let rows = &corpus.rows;
        Ok(Dataset {
            features: rows.iter().map(features::raw_features).collect(),
            encoder_slot: rows
                .iter()
                .map(|r| features::encoder_slot(&r.encoder))
                .collect(),
            cq: rows.iter().map(|r| r.cq).collect(),
            target: rows.iter().map(|r| r.vmaf as f32).collect(),
            source: rows
                .iter()
                .map(|r| sources.binary_search(&r.src).expect("listed"))
                .collect(),
            unknown_encoder_rows: rows
                .iter()
                .filter(|r| features::is_unknown(&r.encoder))
                .count() as u64,
            sources,
        })
    }

    /// The first `n` rows of this dataset repeated cyclically: a corpus of any size with the
    /// same folds, for `bench train --rows`.
    pub fn repeated(&self, n: usize) -> Dataset {
        let cycle = |i: usize| i % self.len();
        Dataset {
            features: (0..n).map(|i| self.features[cycle(i)]).collect(),
            encoder_slot: (0..n).map(|i| self.encoder_slot[cycle(i)]).collect(),
            cq: (0..n).map(|i| self.cq[cycle(i)]).collect(),
            target: (0..n).map(|i| self.target[cycle(i)]).collect(),
            source: (0..n).map(|i| self.source[cycle(i)]).collect(),
            sources: self.sources.clone(),
            unknown_encoder_rows: (0..n)
                .filter(|&i| features::is_unknown_slot(self.encoder_slot[cycle(i)]))
                .count() as u64,
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.target.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.target.is_empty()
    }

    /// Inputs and targets of the given rows under a scaling.
    pub fn matrix(&self, rows: &[usize], scaling: &InputScaling) -> (Array2<f32>, Array1<f32>) {
        let mut x = Array2::zeros((rows.len(), INPUT));
        for (mut out, &i) in x.rows_mut().into_iter().zip(rows) {
            out.assign(&ndarray::ArrayView1::from(&scaling.input(
                &self.features[i],
                self.encoder_slot[i],
                self.cq[i],
            )));
        }
        (x, rows.iter().map(|&i| self.target[i]).collect())
    }

    /// The rows of fold `fold`: (training rows — every other source's —, the held-out source's).
    pub fn fold_rows(&self, fold: usize) -> (Vec<usize>, Vec<usize>) {
        (0..self.len()).partition(|&i| self.source[i] != fold)
    }

    /// The scaling fitted on the given rows: a fold's training rows, or all rows for export.
    pub fn scaling(&self, rows: &[usize]) -> InputScaling {
        InputScaling {
            standardiser: Standardiser::fit(rows.iter().map(|&i| &self.features[i])),
            cq_range: CqRange::fit(rows.iter().map(|&i| self.cq[i])),
        }
    }
}

/// Trains one network on `x`/`y` from `rng`: PyTorch-default init, then per epoch a fresh
/// shuffle and batches with fresh dropout masks.
pub fn fit(x: &Array2<f32>, y: &Array1<f32>, recipe: &Recipe, rng: &mut ChaCha8Rng) -> Mlp {
    fit_with(x, y, recipe, rng, Gemm::Fixed)
}

/// [`fit`] with the matrix products computed by `gemm` (`bench train` times both).
pub fn fit_with(
    x: &Array2<f32>,
    y: &Array1<f32>,
    recipe: &Recipe,
    rng: &mut ChaCha8Rng,
    gemm: Gemm,
) -> Mlp {
    let mut model = Mlp::init(rng);
    let mut adam = Adam::new(recipe.adam);
    let mut ws = Workspace::new(recipe.batch_size);
    ws.gemm = gemm;
    let n = x.nrows();
    let mut order: Vec<usize> = (0..n).collect();
    let mut xb = Array2::zeros((recipe.batch_size, INPUT));
    let mut yb = Array1::zeros(recipe.batch_size);
    for _ in 0..recipe.epochs {
        shuffle(&mut order, rng);
        let mut batches = order.chunks(recipe.batch_size).peekable();
        while let Some(batch) = batches.next() {
            let b = batch.len();
            let (rows, xb_flat) = (
                x.as_slice().expect("contiguous"),
                xb.as_slice_mut().expect("contiguous"),
            );
            if let Some(next) = batches.peek() {
                prefetch_rows(rows, next);
            }
            for (k, &i) in batch.iter().enumerate() {
                xb_flat[k * INPUT..(k + 1) * INPUT]
                    .copy_from_slice(&rows[i * INPUT..(i + 1) * INPUT]);
                yb[k] = y[i];
            }
            ws.draw_masks(rng, b);
            model.train_step(
                &mut adam,
                xb.slice(ndarray::s![..b, ..]),
                yb.slice(ndarray::s![..b]),
                &mut ws,
            );
        }
    }
    model
}

/// Asks the CPU to bring the next batch's input rows into cache while this batch trains: the
/// rows are drawn at random from a matrix larger than the per-core cache, and gathering them
/// cold cost more than the output unit's whole forward pass. Only a hint; no value changes.
fn prefetch_rows(rows: &[f32], batch: &[usize]) {
    #[cfg(target_arch = "x86_64")]
    for &i in batch {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // A row of INPUT floats spans at most two cache lines: its first and last element.
        for at in [i * INPUT, (i + 1) * INPUT - 1] {
            if let Some(value) = rows.get(at) {
                // SAFETY: a prefetch never faults and changes no state the program can see;
                // the address is that of a live element.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(value).cast()) };
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (rows, batch);
}

/// Fisher–Yates with the fold's RNG.
fn shuffle(order: &mut [usize], rng: &mut ChaCha8Rng) {
    for i in (1..order.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
}

/// The RNG of one (seed, fold): ChaCha8 seeded by `seed`, on stream `fold`.
pub fn rng_for(seed: u64, fold: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(fold);
    rng
}

/// One fold's predictions and scores, the products computed by `gemm` (`bench train` times
/// both; training uses [`Gemm::Fixed`]).
pub fn run_fold(
    data: &Dataset,
    fold: usize,
    seed: u64,
    recipe: &Recipe,
    baseline: Option<f64>,
    gemm: Gemm,
) -> FoldResult {
    let (train, val) = data.fold_rows(fold);
    let scaling = data.scaling(&train);
    let (x_train, y_train) = data.matrix(&train, &scaling);
    let (x_val, y_val) = data.matrix(&val, &scaling);
    let model = fit_with(
        &x_train,
        &y_train,
        recipe,
        &mut rng_for(seed, fold as u64),
        gemm,
    );
    let predicted: Vec<f64> = model
        .predict(x_val.view())
        .iter()
        .map(|&v| f64::from(v))
        .collect();
    let truth: Vec<f64> = y_val.iter().map(|&v| f64::from(v)).collect();
    FoldResult {
        held_out: data.sources[fold].clone(),
        n_train: train.len() as u64,
        n_val: val.len() as u64,
        plcc: stats::plcc(&predicted, &truth),
        srocc: stats::srocc(&predicted, &truth),
        rmse: stats::rmse(&predicted, &truth),
        baseline_plcc: baseline,
        true_vmaf: stats::round_milli(&truth),
        predicted_vmaf: stats::round_milli(&predicted),
        cq_min: Some(scaling.cq_range.min),
        cq_max: Some(scaling.cq_range.max),
    }
}

/// The ridge baseline's PLCC on one fold.
pub fn baseline_fold(data: &Dataset, fold: usize) -> Option<f64> {
    let (train, val) = data.fold_rows(fold);
    let scaling = data.scaling(&train);
    let (x_train, y_train) = data.matrix(&train, &scaling);
    let (x_val, y_val) = data.matrix(&val, &scaling);
    let predicted = ridge::fit_predict(&x_train, &y_train, &x_val)?;
    stats::plcc(
        &predicted,
        &y_val.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(),
    )
}

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

/// A seed file's `recipe_key`: the SHA-256 of everything its results depend on (corpus, seed,
/// recipe, recipe revision, kit version). Training reuses a file only under its key, the
/// gate refuses a file whose key is not the one of its own seed, corpus and recipe, and a
/// verdict's experiment knows the kit version that trained a seed file whose key is this one.
pub fn recipe_key(corpus_sha256: &str, seed: u64, recipe: &Recipe) -> String {
    digest::sha256_bytes(
        format!(
            "{corpus_sha256}|{seed}|{recipe:?}|r{RECIPE_REVISION}|{}",
            env!("CARGO_PKG_VERSION")
        )
        .as_bytes(),
    )
}

/// The recipe a seed file records (its f32 hyper-parameters as written, see [`round_f32`]).
pub fn recorded_recipe(loso: &LosoSeed) -> Recipe {
    let f32_of = |v: f64| v.to_string().parse::<f32>().unwrap_or(f32::NAN);
    Recipe {
        epochs: loso.epochs as usize,
        batch_size: loso.batch_size as usize,
        adam: AdamConfig {
            lr: f32_of(loso.lr),
            weight_decay: f32_of(loso.weight_decay),
        },
    }
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

/// Runs LOSO for every seed (reusing seed files whose recipe key matches) and writes them.
pub fn run(request: &TrainRequest, corpus: &Corpus, progress: &Progress) -> Result<Vec<LosoSeed>> {
    check_seeds(&request.seeds)?;
    let data = Dataset::new(corpus)?;
    if data.unknown_encoder_rows > 0 {
        progress.warn(&format!(
            "{} row(s) have an encoder outside vocabulary {} and use its `unknown` slot",
            data.unknown_encoder_rows,
            features::encoder_vocab_label()
        ));
    }
    let jobs = budget::fits(request.jobs)?;
    let corpus_label = &corpus.label;
    let key_of = |seed: u64| recipe_key(&corpus.sha256, seed, &request.recipe);

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
                .map(|f| baseline_fold(&data, f))
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
                    &data,
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
                progress.info(&format!(
                    "fold {n}/{} seed {seed} held-out {}: PLCC {plcc}",
                    tasks.len(),
                    result.held_out
                ));
                progress.advance(&format!("seed {seed} {}", result.held_out));
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
    let mut out = Vec::new();
    for (&seed, reused) in request.seeds.iter().zip(finished) {
        let loso = match reused {
            Some(loso) => loso,
            None => {
                let folds: Vec<FoldResult> = results
                    .iter()
                    .filter(|(s, _, _)| *s == seed)
                    .map(|(_, f, _)| f.clone())
                    .collect();
                let wall: f64 = results
                    .iter()
                    .filter(|(s, _, _)| *s == seed)
                    .map(|(_, _, t)| t)
                    .sum();
                let loso = summarise(
                    seed,
                    folds,
                    &data,
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
        wall_time_s,
        unverified_shards: corpus.unverified.iter().map(|f| f.to_string()).collect(),
    }
}

/// An f32 hyper-parameter as the f64 its decimal spelling means (5e-4, not 0.000500000024).
pub fn round_f32(v: f32) -> f64 {
    v.to_string().parse().expect("f32 prints as a number")
}
