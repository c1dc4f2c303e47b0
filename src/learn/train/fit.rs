//! One network fitted on rows of the shared dataset, and one LOSO fold trained and scored, from
//! its own RNG stream.

use super::dataset::Dataset;
use super::features::InputScaling;
use super::kernel::Gemm;
use super::keystream::Keystream;
use super::mlp::{Adam, Mlp, Workspace};
use super::recipe::Recipe;
use super::ridge::Ridge;
use super::shape::INPUT;
use crate::schema::FoldResult;
use crate::stats;
use ndarray::{Array1, Array2};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// Trains one network on the dataset's `rows` under `scaling` from `rng` (read through
/// [`Keystream`]: the same numbers, faster on the AVX-512 path): PyTorch-default init, then per
/// epoch a fresh shuffle and batches with fresh dropout masks.
pub fn fit(
    data: &Dataset,
    rows: &[usize],
    scaling: &InputScaling,
    recipe: &Recipe,
    rng: &mut ChaCha8Rng,
) -> Mlp {
    fit_with(data, rows.to_vec(), scaling, recipe, rng, Gemm::Fixed)
}

/// [`fit`] with the matrix products computed by `gemm` (`bench train` times both), shuffling
/// `rows` in place as each epoch's order (so a fold's training rows exist once).
///
/// Each batch is gathered from the shared rows and standardised on the way (no copy of the
/// rows per fit); the next batch's rows are prefetched while this one trains, since they are
/// drawn at random from a matrix larger than the per-core cache. The batch keeps the shuffled
/// order: sorting it would make the gather friendlier to the cache but change the order of the
/// loss's sums, and so the bits of every model (see README, "Same bits everywhere").
pub fn fit_with(
    data: &Dataset,
    mut order: Vec<usize>,
    scaling: &InputScaling,
    recipe: &Recipe,
    rng: &mut ChaCha8Rng,
    gemm: Gemm,
) -> Mlp {
    Keystream::run(rng, |mut rng| {
        let mut model = Mlp::init(&mut rng);
        let mut adam = Adam::new(recipe.adam);
        let mut ws = Workspace::new(recipe.batch_size);
        ws.gemm = gemm;
        let mut xb = Array2::zeros((recipe.batch_size, INPUT));
        let mut yb = Array1::zeros(recipe.batch_size);
        for _ in 0..recipe.epochs {
            shuffle(&mut order, &mut rng);
            let mut batches = order.chunks(recipe.batch_size).peekable();
            while let Some(batch) = batches.next() {
                let b = batch.len();
                if let Some(next) = batches.peek() {
                    next.iter().for_each(|&i| data.prefetch(i));
                }
                let xb_flat = xb.as_slice_mut().expect("contiguous");
                for (k, &i) in batch.iter().enumerate() {
                    xb_flat[k * INPUT..(k + 1) * INPUT].copy_from_slice(&data.input(i, scaling));
                    yb[k] = data.target(i);
                }
                ws.draw_masks(&mut rng, b);
                model.train_step(
                    &mut adam,
                    xb.slice(ndarray::s![..b, ..]),
                    yb.slice(ndarray::s![..b]),
                    &mut ws,
                );
            }
        }
        model
    })
}

/// Fisher–Yates with the fold's RNG.
fn shuffle(order: &mut [usize], rng: &mut impl RngCore) {
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
    let n_train = train.len() as u64;
    let model = fit_with(
        data,
        train,
        &scaling,
        recipe,
        &mut rng_for(seed, fold as u64),
        gemm,
    );
    let (x_val, y_val) = data.matrix(&val, &scaling);
    let predicted: Vec<f64> = model
        .predict(x_val.view())
        .iter()
        .map(|&v| f64::from(v))
        .collect();
    let truth: Vec<f64> = y_val.iter().map(|&v| f64::from(v)).collect();
    FoldResult {
        held_out: data.sources[fold].clone(),
        n_train,
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
    let ridge = Ridge::fit(|| {
        train
            .iter()
            .map(|&i| (data.input(i, &scaling), data.target(i)))
    })?;
    let (x_val, y_val) = data.matrix(&val, &scaling);
    let predicted = ridge.predict(&x_val);
    stats::plcc(
        &predicted,
        &y_val.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(),
    )
}
