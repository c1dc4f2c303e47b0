//! The SPEC §6 network, 20 → 64 → 64 → 1 with exact GELU and dropout 0.1, trained by Adam with
//! L2 weight decay added to the gradient exactly as `torch.optim.Adam` does.
//!
//! Weights are stored input-major (`w1` is 20×64, i.e. PyTorch's `weight.T`) so a batch's
//! forward pass is `x · w1`. All buffers of a training step live in [`Workspace`], so the inner
//! loop allocates nothing.

mod adam;

pub use adam::{Adam, AdamConfig};

use super::kernel::{self, Gemm, Operand};
use super::mathf::gelu_forward;
use super::shape::{DROPOUT, HIDDEN, INPUT};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rand_core::RngCore;

/// Rows per forward pass of [`Mlp::predict`].
const PREDICT_ROWS: usize = 1024;

/// The network's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    /// First layer weights, INPUT×HIDDEN.
    pub w1: Array2<f32>,
    /// First layer bias.
    pub b1: Array1<f32>,
    /// Second layer weights, HIDDEN×HIDDEN.
    pub w2: Array2<f32>,
    /// Second layer bias.
    pub b2: Array1<f32>,
    /// Output weights, HIDDEN.
    pub w3: Array1<f32>,
    /// Output bias.
    pub b3: f32,
}

/// A uniform f32 in [0, 1) from 24 random bits.
pub fn uniform01(rng: &mut impl RngCore) -> f32 {
    (rng.next_u32() >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
}

fn uniform_array(rng: &mut impl RngCore, n: usize, bound: f32) -> Vec<f32> {
    (0..n)
        .map(|_| (uniform01(rng) * 2.0 - 1.0) * bound)
        .collect()
}

impl Mlp {
    /// PyTorch's default `nn.Linear` initialisation: Kaiming-uniform weights with a = √5, which
    /// is uniform in ±1/√fan_in, and biases uniform in ±1/√fan_in.
    pub fn init(rng: &mut impl RngCore) -> Mlp {
        let b_in = 1.0 / (INPUT as f32).sqrt();
        let b_hidden = 1.0 / (HIDDEN as f32).sqrt();
        // Drawn in PyTorch's order: weight then bias, layer by layer (values differ anyway).
        let w1 = Array2::from_shape_vec((INPUT, HIDDEN), uniform_array(rng, INPUT * HIDDEN, b_in))
            .expect("shape");
        let b1 = Array1::from(uniform_array(rng, HIDDEN, b_in));
        let w2 = Array2::from_shape_vec(
            (HIDDEN, HIDDEN),
            uniform_array(rng, HIDDEN * HIDDEN, b_hidden),
        )
        .expect("shape");
        let b2 = Array1::from(uniform_array(rng, HIDDEN, b_hidden));
        let w3 = Array1::from(uniform_array(rng, HIDDEN, b_hidden));
        let b3 = uniform_array(rng, 1, b_hidden)[0];
        Mlp {
            w1,
            b1,
            w2,
            b2,
            w3,
            b3,
        }
    }

    /// Predictions for the rows of `x` (evaluation mode: no dropout), [`PREDICT_ROWS`] at a
    /// time: each row's output depends on that row alone, so the chunking changes no value and
    /// the buffers stay small however many rows a held-out source has.
    pub fn predict(&self, x: ArrayView2<f32>) -> Array1<f32> {
        let mut ws = Workspace::new(PREDICT_ROWS.min(x.nrows()));
        let mut out = Vec::with_capacity(x.nrows());
        for chunk in x.axis_chunks_iter(ndarray::Axis(0), PREDICT_ROWS) {
            let n = chunk.nrows();
            self.forward(chunk, &mut ws, n, false);
            out.extend_from_slice(&ws.out[..n]);
        }
        Array1::from(out)
    }

    /// Forward pass of the first `n` rows into the workspace; with `train`, applies the
    /// dropout masks already in `ws.mask1`/`ws.mask2`. The bias starts each output's sum.
    fn forward(&self, x: ArrayView2<f32>, ws: &mut Workspace, n: usize, train: bool) {
        let x = x.as_standard_layout();
        let x = x.as_slice().expect("standard layout");
        ws.gemm.product(
            n,
            INPUT,
            Operand::rows(x, INPUT),
            flat(&self.w1),
            Some(flat1(&self.b1)),
            slice_mut(&mut ws.z1, n),
        );
        gelu_forward(
            as_slice(&ws.z1, n),
            slice_mut(&mut ws.h1, n),
            train.then(|| (as_slice(&ws.mask1, n), slice_mut(&mut ws.slope1, n))),
        );
        ws.gemm.product(
            n,
            HIDDEN,
            Operand::rows(as_slice(&ws.h1, n), HIDDEN),
            flat(&self.w2),
            Some(flat1(&self.b2)),
            slice_mut(&mut ws.z2, n),
        );
        gelu_forward(
            as_slice(&ws.z2, n),
            slice_mut(&mut ws.h2, n),
            train.then(|| (as_slice(&ws.mask2, n), slice_mut(&mut ws.slope2, n))),
        );
        kernel::transpose(as_slice(&ws.h2, n), n, HIDDEN, &mut ws.h2t);
        kernel::dot_rows(&ws.h2t, n, flat1(&self.w3), self.b3, &mut ws.out[..n]);
    }

    /// One Adam step on a batch with the dropout masks in `ws`; returns the batch's MSE loss.
    pub fn train_step(
        &mut self,
        adam: &mut Adam,
        x: ArrayView2<f32>,
        y: ArrayView1<f32>,
        ws: &mut Workspace,
    ) -> f32 {
        let n = x.nrows();
        let x = x.as_standard_layout();
        self.forward(x.view(), ws, n, true);
        let x = x.as_slice().expect("standard layout");
        let mut loss = 0.0;
        for ((g, &out), &y) in ws.g_out[..n].iter_mut().zip(&ws.out[..n]).zip(y.iter()) {
            let diff = out - y;
            loss += diff * diff;
            *g = diff * (2.0 / n as f32);
        }
        let loss = loss / n as f32;

        let grads = &mut ws.grads;
        let w3 = flat1(&self.w3);
        kernel::weighted_column_sums(
            as_slice(&ws.h2, n),
            &ws.g_out[..n],
            flat1_mut(&mut grads.w3),
        );
        grads.b3 = ws.g_out[..n].iter().sum();
        // d(z2) = (g_out ⊗ w3) · slope2 (GELU' and dropout).
        let slopes = as_slice(&ws.slope2, n).chunks_exact(HIDDEN);
        for ((g2, &g), slope) in slice_mut(&mut ws.g2, n)
            .chunks_exact_mut(HIDDEN)
            .zip(&ws.g_out[..n])
            .zip(slopes)
        {
            for ((d, &w), &s) in g2.iter_mut().zip(w3).zip(slope) {
                *d = g * w * s;
            }
        }
        let gemm = ws.gemm;
        let g2 = as_slice(&ws.g2, n);
        // dW2 = h1ᵀ · g2, summed over the batch's rows in order.
        gemm.product(
            HIDDEN,
            n,
            Operand::transposed(as_slice(&ws.h1, n), HIDDEN),
            g2,
            None,
            flat_mut(&mut grads.w2),
        );
        column_sums(g2, flat1_mut(&mut grads.b2));
        // d(h1) = g2 · W2ᵀ, with W2ᵀ laid out row-major so each output row is contiguous.
        kernel::transpose(flat(&self.w2), HIDDEN, HIDDEN, flat_mut(&mut ws.w2t));
        gemm.product(
            n,
            HIDDEN,
            Operand::rows(g2, HIDDEN),
            flat(&ws.w2t),
            None,
            slice_mut(&mut ws.g1, n),
        );
        // d(z1) = d(h1) · slope1.
        for (g, &s) in slice_mut(&mut ws.g1, n)
            .iter_mut()
            .zip(as_slice(&ws.slope1, n))
        {
            *g *= s;
        }
        // dW1 = xᵀ · g1.
        gemm.product(
            INPUT,
            n,
            Operand::transposed(x, INPUT),
            as_slice(&ws.g1, n),
            None,
            flat_mut(&mut grads.w1),
        );
        column_sums(as_slice(&ws.g1, n), flat1_mut(&mut grads.b1));

        adam.step(self, grads);
        loss
    }
}

/// Sums the rows of a row-major matrix of width HIDDEN into `out`.
fn column_sums(rows: &[f32], out: &mut [f32]) {
    out.fill(0.0);
    for row in rows.chunks_exact(HIDDEN) {
        for (o, v) in out.iter_mut().zip(row) {
            *o += v;
        }
    }
}

fn as_slice(a: &Array2<f32>, n: usize) -> &[f32] {
    &a.as_slice().expect("workspace is contiguous")[..n * HIDDEN]
}

fn slice_mut(a: &mut Array2<f32>, n: usize) -> &mut [f32] {
    &mut a.as_slice_mut().expect("workspace is contiguous")[..n * HIDDEN]
}

/// Gradients with the same shapes as [`Mlp`].
#[derive(Debug, Clone)]
pub struct Grads {
    w1: Array2<f32>,
    b1: Array1<f32>,
    w2: Array2<f32>,
    b2: Array1<f32>,
    w3: Array1<f32>,
    b3: f32,
}

impl Grads {
    fn zeros() -> Grads {
        Grads {
            w1: Array2::zeros((INPUT, HIDDEN)),
            b1: Array1::zeros(HIDDEN),
            w2: Array2::zeros((HIDDEN, HIDDEN)),
            b2: Array1::zeros(HIDDEN),
            w3: Array1::zeros(HIDDEN),
            b3: 0.0,
        }
    }
}

/// Every buffer one training step needs, sized for the largest batch.
#[derive(Debug, Clone)]
pub struct Workspace {
    z1: Array2<f32>,
    /// `mask · GELU'(z1)` per unit, from the forward pass.
    slope1: Array2<f32>,
    h1: Array2<f32>,
    z2: Array2<f32>,
    /// `mask · GELU'(z2)` per unit.
    slope2: Array2<f32>,
    h2: Array2<f32>,
    out: Vec<f32>,
    g_out: Vec<f32>,
    g1: Array2<f32>,
    g2: Array2<f32>,
    /// Dropout mask of the first hidden layer: 0 or 1/(1-p).
    pub mask1: Array2<f32>,
    /// Dropout mask of the second hidden layer.
    pub mask2: Array2<f32>,
    /// W2 transposed, for the backward pass.
    w2t: Array2<f32>,
    /// The second hidden layer's output transposed, for the output unit's sums.
    h2t: Vec<f32>,
    /// Random bytes behind one dropout mask.
    noise: Vec<u8>,
    grads: Grads,
    /// Which implementation computes the matrix products (the fixed kernel unless benchmarking).
    pub gemm: Gemm,
}

impl Workspace {
    /// Buffers for batches of up to `batch` rows.
    pub fn new(batch: usize) -> Workspace {
        let m = || Array2::zeros((batch, HIDDEN));
        Workspace {
            z1: m(),
            slope1: m(),
            h1: m(),
            z2: m(),
            slope2: m(),
            h2: m(),
            out: vec![0.0; batch],
            g_out: vec![0.0; batch],
            g1: m(),
            g2: m(),
            mask1: m(),
            mask2: m(),
            w2t: Array2::zeros((HIDDEN, HIDDEN)),
            h2t: vec![0.0; HIDDEN * batch],
            noise: vec![0; 2 * batch * HIDDEN],
            grads: Grads::zeros(),
            gemm: Gemm::Fixed,
        }
    }

    /// Draws fresh dropout masks for the first `n` rows: each unit is dropped when 16 random
    /// bits fall below p·2¹⁶ (p = 0.100006), else kept and scaled by 1/(1−p). The bits are the
    /// RNG's stream read as little-endian 16-bit words (one `next_u64` gives four units).
    pub fn draw_masks(&mut self, rng: &mut impl RngCore, n: usize) {
        for mask in [&mut self.mask1, &mut self.mask2] {
            let noise = &mut self.noise[..2 * n * HIDDEN];
            rng.fill_bytes(noise);
            dropout_mask(noise, slice_mut(mask, n));
        }
    }
}

super::simd::per_path! {
    /// Each unit's mask from its two bytes of noise: 0 below the threshold, else 1/(1−p).
    fn dropout_mask(noise: &[u8], mask: &mut [f32]) {
        let keep = 1.0 / (1.0 - DROPOUT);
        let threshold = (DROPOUT * 65536.0).round() as u16;
        for (v, bits) in mask.iter_mut().zip(noise.chunks_exact(2)) {
            *v = if u16::from_le_bytes([bits[0], bits[1]]) < threshold {
                0.0
            } else {
                keep
            };
        }
    }
}

fn flat(a: &Array2<f32>) -> &[f32] {
    a.as_slice().expect("contiguous")
}
fn flat_mut(a: &mut Array2<f32>) -> &mut [f32] {
    a.as_slice_mut().expect("contiguous")
}
fn flat1(a: &Array1<f32>) -> &[f32] {
    a.as_slice().expect("contiguous")
}
fn flat1_mut(a: &mut Array1<f32>) -> &mut [f32] {
    a.as_slice_mut().expect("contiguous")
}

#[cfg(test)]
mod tests;
