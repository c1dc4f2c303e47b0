//! Adam as `torch.optim.Adam` computes it (β = 0.9, 0.999, ε = 1e-8, L2 decay added to the
//! gradient, no amsgrad), with one shortcut that changes no bit: parameters that have come to
//! rest are not recomputed.
//!
//! Why it exists: an input column that is zero in every training row (the one-hot of an encoder
//! the corpus does not hold) gives its 64 first-layer weights a gradient of exactly +0. Weight
//! decay then drives each of them to a subnormal value where the weight and its first moment
//! stop changing, and every later step multiplies those subnormals again. On Intel cores each
//! such vector operation takes a microcode assist: at 10⁶ rows the assists were a third of the
//! training time (AMD cores handle subnormals in hardware). A chunk of [`LANES`] parameters
//! whose update was proven to leave the weight and the first moment unchanged is skipped while
//! the proof still holds; its second moment still decays by β₂, exactly as the full update
//! would decay it. The proof is in [`rests`].

use super::{flat, flat1, flat1_mut, flat_mut, Grads, Mlp};

const B1: f32 = 0.9;
const B2: f32 = 0.999;
const EPS: f32 = 1e-8;

/// Parameters per rest check: one AVX-512 vector, so a resting chunk costs no vector work.
const LANES: usize = 16;

/// Half the smallest positive subnormal f32, 2⁻¹⁵⁰: a product at most this large rounds to zero.
const ROUNDS_TO_ZERO: f64 = f64::from_bits((1023 - 150) << 52);

/// Below 2⁻¹²⁷ a product rounds to a subnormal f32 or zero, never to a normal number.
const ROUNDS_BELOW_NORMAL: f64 = f64::from_bits((1023 - 127) << 52);

/// Adam hyper-parameters of SPEC §6.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f32,
    /// L2 penalty added to the gradient.
    pub weight_decay: f32,
}

/// Adam's state: first and second moments per parameter and the step count.
#[derive(Debug, Clone)]
pub struct Adam {
    config: AdamConfig,
    step: i32,
    m: Grads,
    v: Grads,
    /// Per chunk of [`LANES`] parameters, tensor by tensor: the largest step size for which the
    /// chunk is proven at rest, or 0 when it is not.
    resting: Vec<f32>,
}

impl Adam {
    /// Fresh optimiser state.
    pub fn new(config: AdamConfig) -> Adam {
        let zeros = Grads::zeros();
        let chunks = tensors(&zeros)
            .iter()
            .map(|t| t.len().div_ceil(LANES))
            .sum();
        Adam {
            config,
            step: 0,
            m: zeros.clone(),
            v: zeros,
            resting: vec![0.0; chunks],
        }
    }

    /// `torch.optim.Adam.step` (β = 0.9, 0.999, ε = 1e-8, L2 decay, no amsgrad).
    pub(super) fn step(&mut self, p: &mut Mlp, g: &Grads) {
        self.step += 1;
        let k = AdamStep::at(self.step, self.config);
        let mut resting = self.resting.as_mut_slice();
        let tensors = weights_mut(p).into_iter().zip(tensors(g)).zip(
            tensors_mut(&mut self.m)
                .into_iter()
                .zip(tensors_mut(&mut self.v)),
        );
        for ((p, g), (m, v)) in tensors {
            let (mine, others) = std::mem::take(&mut resting).split_at_mut(p.len().div_ceil(LANES));
            resting = others;
            update_tensor(p, g, m, v, mine, k);
        }
    }
}

/// The network's six tensors as flat slices, in the order [`Adam::step`] updates them.
fn weights_mut(p: &mut Mlp) -> [&mut [f32]; 6] {
    [
        flat_mut(&mut p.w1),
        flat1_mut(&mut p.b1),
        flat_mut(&mut p.w2),
        flat1_mut(&mut p.b2),
        flat1_mut(&mut p.w3),
        std::slice::from_mut(&mut p.b3),
    ]
}

/// Gradients or moments as flat slices, in the same order.
fn tensors(g: &Grads) -> [&[f32]; 6] {
    [
        flat(&g.w1),
        flat1(&g.b1),
        flat(&g.w2),
        flat1(&g.b2),
        flat1(&g.w3),
        std::slice::from_ref(&g.b3),
    ]
}

/// The same, to write.
fn tensors_mut(g: &mut Grads) -> [&mut [f32]; 6] {
    [
        flat_mut(&mut g.w1),
        flat1_mut(&mut g.b1),
        flat_mut(&mut g.w2),
        flat1_mut(&mut g.b2),
        flat1_mut(&mut g.w3),
        std::slice::from_mut(&mut g.b3),
    ]
}

/// The per-step constants of an Adam update.
#[derive(Debug, Clone, Copy)]
struct AdamStep {
    step_size: f32,
    inv_bc2_sqrt: f32,
    wd: f32,
}

impl AdamStep {
    /// The constants of step `step` (counted from 1), with torch's bias corrections.
    fn at(step: i32, config: AdamConfig) -> AdamStep {
        let bc1 = 1.0 - B1.powi(step);
        let bc2_sqrt = (1.0 - B2.powi(step)).sqrt();
        AdamStep {
            step_size: config.lr / bc1,
            inv_bc2_sqrt: 1.0 / bc2_sqrt,
            wd: config.weight_decay,
        }
    }
}

/// One tensor's update: runs of active chunks go to [`adam_update`] whole; a chunk whose
/// gradient is all +0 is updated alone and tested for rest, or, while its rest holds, only
/// decays its second moment.
fn update_tensor(
    p: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    resting: &mut [f32],
    k: AdamStep,
) {
    let mut run_start = 0;
    for (chunk, rest) in resting.iter_mut().enumerate() {
        let lanes = chunk * LANES..((chunk + 1) * LANES).min(p.len());
        if !g[lanes.clone()].iter().all(|g| g.to_bits() == 0) {
            *rest = 0.0;
            continue;
        }
        let run = run_start..lanes.start;
        adam_update(
            &mut p[run.clone()],
            &g[run.clone()],
            &mut m[run.clone()],
            &mut v[run],
            k,
        );
        run_start = lanes.end;
        if k.step_size <= *rest {
            for v in &mut v[lanes] {
                *v *= B2;
            }
        } else {
            *rest = update_and_test(
                &mut p[lanes.clone()],
                &g[lanes.clone()],
                &mut m[lanes.clone()],
                &mut v[lanes],
                k,
            );
        }
    }
    let run = run_start..p.len();
    adam_update(
        &mut p[run.clone()],
        &g[run.clone()],
        &mut m[run.clone()],
        &mut v[run],
        k,
    );
}

/// Updates one chunk whose gradient is all +0, and returns the step size up to which it is at
/// rest (0 when it is not).
fn update_and_test(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], k: AdamStep) -> f32 {
    let mut before = [(0f32, 0f32); LANES];
    for (b, (&p, &m)) in before.iter_mut().zip(p.iter().zip(m.iter())) {
        *b = (p, m);
    }
    adam_update(p, g, m, v, k);
    let mut all = p.iter().zip(m.iter()).zip(&before);
    if all.all(|((&p, &m), &(p0, m0))| rests(p0, m0, p, m, k)) {
        k.step_size
    } else {
        0.0
    }
}

/// Whether a parameter with gradient +0 that went from `(p0, m0)` to `(p, m)` in a step of
/// size `k.step_size` is at rest: every later step with gradient +0 and a step size no larger
/// leaves `p` and `m` as they are and sets `v` to `fl(β₂·v)`.
///
/// The update computes, in f32 with rounding to nearest:
/// g' = +0 + wd·p; m' = β₁·m + (1−β₁)·g'; v' = β₂·v + ((1−β₂)·g')·g';
/// p' = p − (s·m') / (√v'·c + ε).
/// With `p` and `m` unchanged by this step, g' and m' are the same in the next (they depend on
/// `p`, `m` and the gradient only), so m' = m again. When |wd·p| < 2⁻¹²⁷, g' is subnormal or
/// zero, so ((1−β₂)·g')·g' is below 2⁻²⁵² and rounds to +0 (the two factors share a sign), and
/// v' = fl(β₂·v) + 0 = fl(β₂·v). When |s·m'| ≤ 2⁻¹⁵⁰, s·m' rounds to a zero with the sign of m';
/// a smaller step size keeps it there (rounding is monotone), and the divisor is positive and
/// finite (v' ≥ 0, c and ε positive), so the quotient is that same signed zero, and p' equals
/// what this step gave: p. The products are formed in f64, where two f32 factors multiply
/// exactly. NaN and infinities fail the comparisons and never rest.
fn rests(p0: f32, m0: f32, p: f32, m: f32, k: AdamStep) -> bool {
    p.to_bits() == p0.to_bits()
        && m.to_bits() == m0.to_bits()
        && (f64::from(k.wd) * f64::from(p)).abs() < ROUNDS_BELOW_NORMAL
        && (f64::from(k.step_size) * f64::from(m)).abs() <= ROUNDS_TO_ZERO
}

super::super::simd::per_path! {
    /// One Adam update of a parameter slice with L2 decay added to the gradient.
    fn adam_update(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], k: AdamStep) {
        for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
            let g = g + k.wd * *p;
            *m = B1 * *m + (1.0 - B1) * g;
            *v = B2 * *v + (1.0 - B2) * g * g;
            *p -= k.step_size * *m / (v.sqrt() * k.inv_bc2_sqrt + EPS);
        }
    }
}

#[cfg(test)]
mod tests;
