//! The network's training gives the same bits on every vector path.

use super::*;
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

/// Every parameter's bits, in a fixed order.
fn bits(m: &Mlp) -> Vec<u32> {
    let all = [
        flat(&m.w1),
        flat1(&m.b1),
        flat(&m.w2),
        flat1(&m.b2),
        flat1(&m.w3),
    ];
    let mut out: Vec<u32> = all
        .iter()
        .flat_map(|a| a.iter().map(|v| v.to_bits()))
        .collect();
    out.push(m.b3.to_bits());
    out
}

/// Training steps — masks, forward, backward, Adam — and predictions give the same bits on
/// every vector path this CPU runs, for full and ragged batches.
#[test]
fn training_is_bit_identical_on_every_path() {
    let runs = super::super::simd::on_each(|_| {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut model = Mlp::init(&mut rng);
        let mut adam = Adam::new(AdamConfig {
            lr: 5e-3,
            weight_decay: 1e-5,
        });
        let mut ws = Workspace::new(32);
        let mut losses = Vec::new();
        for step in 0..40 {
            let n = if step % 5 == 4 { 7 } else { 32 };
            let x = Array2::from_shape_fn((n, INPUT), |_| uniform01(&mut rng) * 4.0 - 2.0);
            let y = Array1::from_shape_fn(n, |i| x[[i, 0]] * 3.0 - x[[i, 5]]);
            ws.draw_masks(&mut rng, n);
            losses.push(
                model
                    .train_step(&mut adam, x.view(), y.view(), &mut ws)
                    .to_bits(),
            );
        }
        let x = Array2::from_shape_fn((45, INPUT), |_| uniform01(&mut rng) * 4.0 - 2.0);
        let predicted: Vec<u32> = model
            .predict(x.view())
            .iter()
            .map(|v| v.to_bits())
            .collect();
        (bits(&model), losses, predicted, rng.next_u64())
    });
    let (_, first) = &runs[0];
    for (path, run) in &runs {
        assert!(run == first, "{path:?} differs from {:?}", runs[0].0);
    }
}
