//! Skipping resting parameters gives the same bits as updating every parameter every step.

use super::*;
use crate::learn::train::mlp::uniform01;
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

/// The update without the shortcut: every tensor whole, every step (the kit before it).
fn plain_step(step: i32, config: AdamConfig, p: &mut Mlp, g: &Grads, m: &mut Grads, v: &mut Grads) {
    let k = AdamStep::at(step, config);
    let all = weights_mut(p).into_iter().zip(tensors(g));
    for ((p, g), (m, v)) in all.zip(tensors_mut(m).into_iter().zip(tensors_mut(v))) {
        adam_update(p, g, m, v, k);
    }
}

fn bits(g: &Grads) -> Vec<u32> {
    tensors(g)
        .iter()
        .flat_map(|t| t.iter().map(|v| v.to_bits()))
        .collect()
}

fn params(p: &Mlp) -> Grads {
    Grads {
        w1: p.w1.clone(),
        b1: p.b1.clone(),
        w2: p.w2.clone(),
        b2: p.b2.clone(),
        w3: p.w3.clone(),
        b3: p.b3,
    }
}

/// The step after which row 14's gradient is live (the dead rows come to rest by step ~4,500).
const WAKE: i32 = 5000;

/// How many steps row 14 stays live before it is +0 again.
const AWAKE: i32 = 300;

/// A gradient like a corpus with dead inputs gives: rows 3–13 of the first layer +0 (11 encoder
/// columns no row holds), row 14 +0 but for [`AWAKE`] steps after [`WAKE`] (a column that wakes:
/// its chunks must leave their rest, and prove a new one once it is +0 again), row 15 −0 (not a
/// rest: only +0 is), one lane of row 16 live in every step (a chunk rests only whole), the rest
/// random; b3 +0.
fn gradient(rng: &mut ChaCha8Rng, step: i32) -> Grads {
    let mut g = Grads::zeros();
    let mut draw = |scale: f32| (uniform01(rng) * 2.0 - 1.0) * scale;
    for (i, v) in flat_mut(&mut g.w1).iter_mut().enumerate() {
        let row = i / 64;
        *v = match row {
            3..=13 => 0.0,
            14 if step <= WAKE || step > WAKE + AWAKE => 0.0,
            15 => -0.0,
            16 if i % 64 != 5 => 0.0,
            _ => draw(1e-2),
        };
    }
    for t in [
        flat1_mut(&mut g.b1),
        flat_mut(&mut g.w2),
        flat1_mut(&mut g.b2),
        flat1_mut(&mut g.w3),
    ] {
        for v in t.iter_mut() {
            *v = draw(1e-2);
        }
    }
    g
}

#[test]
fn resting_parameters_skipped_give_the_bits_of_the_full_update() {
    let config = AdamConfig {
        lr: 5e-4,
        weight_decay: 1e-5,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut fast_p = Mlp::init(&mut rng);
    let mut plain_p = fast_p.clone();
    let mut adam = Adam::new(config);
    let (mut m, mut v) = (Grads::zeros(), Grads::zeros());
    let mut grads_rng = ChaCha8Rng::seed_from_u64(11);
    for step in 1..=WAKE + 1000 {
        let g = gradient(&mut grads_rng, step);
        adam.step(&mut fast_p, &g);
        plain_step(step, config, &mut plain_p, &g, &mut m, &mut v);
        if step % 250 == 0 || step < 50 {
            assert_eq!(
                bits(&params(&fast_p)),
                bits(&params(&plain_p)),
                "weights at step {step}"
            );
            assert_eq!(bits(&adam.m), bits(&m), "first moments at step {step}");
            assert_eq!(bits(&adam.v), bits(&v), "second moments at step {step}");
        }
        let resting = adam.resting.iter().filter(|&&r| r > 0.0).count();
        if step == WAKE {
            assert!(
                resting >= 48,
                "rows 3–14 (48 chunks) rest by step {WAKE}: {resting}"
            );
        }
        if step == WAKE + 1 {
            assert!(
                adam.resting[14 * 4..15 * 4].iter().all(|&r| r == 0.0),
                "a woken row does not rest"
            );
        }
    }
    assert!(
        adam.resting[15 * 4..16 * 4].iter().all(|&r| r == 0.0),
        "a −0 gradient never rests"
    );
    assert_eq!(
        adam.resting[16 * 4],
        0.0,
        "a chunk with one live lane never rests"
    );
    assert!(
        adam.resting[16 * 4 + 1..17 * 4].iter().all(|&r| r > 0.0),
        "its dead neighbours do"
    );
}

/// The proof's edge cases: a signed zero that flips, NaN, a step size that grows.
#[test]
fn rest_needs_unchanged_bits_a_zero_quotient_and_a_step_size_no_larger() {
    let k = AdamStep {
        step_size: 5e-4,
        inv_bc2_sqrt: 1.0,
        wd: 1e-5,
    };
    let tiny = f32::from_bits(3);
    assert!(rests(tiny, tiny, tiny, tiny, k));
    assert!(!rests(-0.0, tiny, 0.0, tiny, k), "−0 became +0: changed");
    assert!(!rests(f32::NAN, 0.0, f32::NAN, 0.0, k));
    assert!(
        !rests(0.0, 1e-30, 0.0, 1e-30, k),
        "s·m does not round to zero"
    );
    assert!(
        !rests(1.0, 0.0, 1.0, 0.0, k),
        "wd·p is normal: v would take a term"
    );
    let mut rest = [0f32; 1];
    let (mut p, mut m, mut v) = ([tiny; 16], [tiny; 16], [1e-20f32; 16]);
    update_tensor(&mut p, &[0.0; 16], &mut m, &mut v, &mut rest, k);
    assert_eq!(rest[0], 5e-4);
    let larger = AdamStep {
        step_size: 1e-3,
        ..k
    };
    let v_before = v;
    update_tensor(&mut p, &[0.0; 16], &mut m, &mut v, &mut rest, larger);
    assert_eq!(
        rest[0], 1e-3,
        "re-tested at the larger step size, not skipped"
    );
    assert_eq!(v[0], v_before[0] * B2);
}
