//! One network fitted on rows, and one LOSO fold trained and scored, from its own RNG stream.

use super::dataset::Dataset;
use super::kernel::Gemm;
use super::mlp::{Adam, Mlp, Workspace};
use super::recipe::Recipe;
use super::ridge;
use super::shape::INPUT;
use crate::schema::FoldResult;
use crate::stats;
use ndarray::{Array1, Array2};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

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
