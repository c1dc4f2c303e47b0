//! Parity with PyTorch: replay the fixture written by `scripts/reference/torch_loso.py
//! --fixture` (same initial weights, batch order and dropout masks) and match the loss after each
//! of the first 50 Adam steps and the final predictions to 1e-5 relative.
//!
//! Regenerate: `python3 scripts/reference/torch_loso.py --fixture tests/fixtures/torch_parity.json`.

use ensemble_kit::learn::train::mlp::{Adam, AdamConfig, Mlp, Workspace};
use ensemble_kit::learn::train::shape::DROPOUT;
use ndarray::{Array1, Array2};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct Fixture {
    lr: f32,
    weight_decay: f32,
    x: Vec<Vec<f32>>,
    y: Vec<f32>,
    init: BTreeMap<String, serde_json::Value>,
    batches: Vec<Vec<usize>>,
    masks1: Vec<String>,
    masks2: Vec<String>,
    losses: Vec<f32>,
    predictions: Vec<f32>,
}

fn matrix(v: &serde_json::Value) -> Array2<f32> {
    let rows: Vec<Vec<f32>> = serde_json::from_value(v.clone()).unwrap();
    let (r, c) = (rows.len(), rows[0].len());
    Array2::from_shape_vec((r, c), rows.into_iter().flatten().collect()).unwrap()
}

fn vector(v: &serde_json::Value) -> Array1<f32> {
    Array1::from(serde_json::from_value::<Vec<f32>>(v.clone()).unwrap())
}

fn mask(bits: &str, rows: usize) -> Array2<f32> {
    let keep = 1.0 / (1.0 - DROPOUT);
    Array2::from_shape_vec(
        (rows, 64),
        bits.bytes()
            .map(|b| if b == b'1' { keep } else { 0.0 })
            .collect(),
    )
    .unwrap()
}

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() <= 1e-5 * b.abs().max(1.0)
}

#[test]
fn matches_pytorch_step_by_step() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/torch_parity.json"
    );
    let f: Fixture = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let x = Array2::from_shape_vec((f.x.len(), 20), f.x.concat()).unwrap();
    let mut model = Mlp {
        w1: matrix(&f.init["0.weight"])
            .reversed_axes()
            .as_standard_layout()
            .to_owned(),
        b1: vector(&f.init["0.bias"]),
        w2: matrix(&f.init["3.weight"])
            .reversed_axes()
            .as_standard_layout()
            .to_owned(),
        b2: vector(&f.init["3.bias"]),
        w3: matrix(&f.init["6.weight"]).row(0).to_owned(),
        b3: vector(&f.init["6.bias"])[0],
    };
    let mut adam = Adam::new(AdamConfig {
        lr: f.lr,
        weight_decay: f.weight_decay,
    });
    let mut ws = Workspace::new(32);
    let mut worst = 0f32;
    for (step, batch) in f.batches.iter().enumerate() {
        let xb = x.select(ndarray::Axis(0), batch);
        let yb: Array1<f32> = batch.iter().map(|&i| f.y[i]).collect();
        ws.mask1 = mask(&f.masks1[step], batch.len());
        ws.mask2 = mask(&f.masks2[step], batch.len());
        let loss = model.train_step(&mut adam, xb.view(), yb.view(), &mut ws);
        worst = worst.max((loss - f.losses[step]).abs() / f.losses[step].abs());
        assert!(
            close(loss, f.losses[step]),
            "step {step}: loss {loss} vs torch {}",
            f.losses[step]
        );
    }
    let predictions = model.predict(x.view());
    for (i, (&ours, &theirs)) in predictions.iter().zip(&f.predictions).enumerate() {
        worst = worst.max((ours - theirs).abs() / theirs.abs().max(1.0));
        assert!(
            close(ours, theirs),
            "prediction {i}: {ours} vs torch {theirs}"
        );
    }
    eprintln!("worst relative difference from PyTorch: {worst:e}");
}
