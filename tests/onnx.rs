//! Exported models checked by two independent runtimes — tract (Rust) and onnxruntime (Python,
//! installed by CI) — against the kit's own forward pass on 1,000 rows, plus the operator
//! allowlist libvmaf's loader enforces.

mod common;

use camino::Utf8PathBuf;
use common::run_with_tract;
use ensemble_kit::deliver::export::onnx::{serialise, OP_ALLOWLIST};
use ensemble_kit::learn::train::features::{codec_block, CqRange};
use ensemble_kit::learn::train::{mlp::Mlp, rng_for};
use ndarray::{s, Array2};
use rand_core::RngCore;
use tract_onnx::prelude::*;

const ROWS: usize = 1000;

/// A model with PyTorch-style random weights, and 1,000 rows of plausible inputs: codec blocks
/// as the kit builds them, `crf_norm` a min-max over a model fitted on cq 19..37 (cqs 0..63, so
/// it also leaves [0, 1] as a consumer's may).
fn model_and_inputs(seed: u64) -> (Mlp, Array2<f32>) {
    let mut rng = rng_for(seed, 7);
    let model = Mlp::init(&mut rng);
    let cq_range = CqRange {
        min: 19.0,
        max: 37.0,
    };
    let mut x = Array2::<f32>::zeros((ROWS, 20));
    for mut row in x.rows_mut() {
        for v in row.slice_mut(s![..6]).iter_mut() {
            *v = (rng.next_u32() as f32 / u32::MAX as f32 - 0.5) * 6.0;
        }
        let (slot, cq) = ((rng.next_u32() % 12) as usize, rng.next_u32() % 64);
        row.slice_mut(s![6..])
            .assign(&ndarray::ArrayView1::from(&codec_block(
                slot, cq, &cq_range,
            )));
    }
    (model, x)
}

fn write_model(dir: &tempfile::TempDir, model: &Mlp) -> Utf8PathBuf {
    let path = Utf8PathBuf::from_path_buf(dir.path().join("m.onnx")).unwrap();
    std::fs::write(&path, serialise(model, "test", "test model", "test")).unwrap();
    path
}

fn assert_close(ours: &[f32], theirs: &[f32], runtime: &str) {
    assert_eq!(ours.len(), theirs.len());
    let worst = ours
        .iter()
        .zip(theirs)
        .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
        .fold(0f32, f32::max);
    eprintln!(
        "{runtime}: worst relative difference {worst:e} over {} rows",
        ours.len()
    );
    assert!(
        worst <= 1e-5,
        "{runtime} differs from the kit's forward pass by {worst}"
    );
}

#[test]
fn tract_matches_the_kit_forward_pass() {
    for seed in 0..3 {
        let (model, x) = model_and_inputs(seed);
        let dir = tempfile::tempdir().unwrap();
        let path = write_model(&dir, &model);
        let theirs = run_with_tract(path.as_std_path(), x.view());
        assert_eq!(theirs.shape(), &[ROWS], "output `score` is [batch]");
        assert_close(
            model.predict(x.view()).as_slice().unwrap(),
            theirs
                .to_plain_array_view::<f32>()
                .unwrap()
                .as_slice()
                .unwrap(),
            "tract",
        );
    }
}

#[test]
fn only_allowlisted_operators_and_declared_interface() {
    let (model, _) = model_and_inputs(1);
    let dir = tempfile::tempdir().unwrap();
    let path = write_model(&dir, &model);
    let proto = tract_onnx::onnx().proto_model_for_path(&path).unwrap();
    assert_eq!(
        proto
            .opset_import
            .iter()
            .find(|o| o.domain.is_empty())
            .unwrap()
            .version,
        17
    );
    let graph = proto.graph.unwrap();
    for node in &graph.node {
        assert!(
            OP_ALLOWLIST.contains(&node.op_type.as_str()),
            "operator {} is not on libvmaf's allowlist",
            node.op_type
        );
    }
    assert!(
        graph.node.iter().any(|n| n.op_type == "Erf"),
        "GELU must be spelled with Erf"
    );
    let names =
        |v: &[tract_onnx::pb::ValueInfoProto]| v.iter().map(|i| i.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&graph.input), ["features", "codec_onehot"]);
    assert_eq!(names(&graph.output), ["score"]);
    assert!(
        graph.initializer.iter().all(|t| t.external_data.is_empty()),
        "no external weight files"
    );
}

#[test]
fn onnxruntime_matches_the_kit_forward_pass() {
    let python = std::env::var("ENSEMBLE_KIT_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = std::process::Command::new(&python)
        .args(["-c", "import onnxruntime, numpy"])
        .output();
    if !probe.map(|o| o.status.success()).unwrap_or(false) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have onnxruntime: `{python} -m pip install onnxruntime numpy`"
        );
        eprintln!("skipped: {python} has no onnxruntime (CI installs it)");
        return;
    }
    let (model, x) = model_and_inputs(2);
    let dir = tempfile::tempdir().unwrap();
    let path = write_model(&dir, &model);
    let inputs = dir.path().join("x.f32");
    std::fs::write(
        &inputs,
        x.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>(),
    )
    .unwrap();
    let script = r#"
import sys, numpy as np, onnxruntime as ort
x = np.fromfile(sys.argv[2], dtype="<f4").reshape(-1, 20)
s = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
(y,) = s.run(["score"], {"features": x[:, :6].copy(), "codec_onehot": x[:, 6:].copy()})
sys.stdout.write(" ".join(repr(float(v)) for v in y))
"#;
    let out = std::process::Command::new(&python)
        .args(["-c", script])
        .arg(path.as_str())
        .arg(&inputs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Vec<f32> = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    assert_close(
        model.predict(x.view()).as_slice().unwrap(),
        &theirs,
        "onnxruntime",
    );
}
