//! Fold-local input scaling: a fold's `crf_norm` range (like its standardisation) comes from its
//! training rows only, so the held-out source's CQs never shape its own inputs.

use super::*;
use crate::schema::CorpusRow;
use features::InputScaling;

/// A corpus whose sources `a` and `b` were encoded at cq 20 and 30, and `c` at cq 10 and 50.
fn corpus() -> Corpus {
    let rows = [
        ("a", 20),
        ("a", 30),
        ("b", 20),
        ("b", 30),
        ("c", 10),
        ("c", 50),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (src, cq))| CorpusRow {
        src: src.into(),
        src_sha256: format!("{src:0>64}"),
        encoder: "libx264".into(),
        cq,
        frame_index: i as u64,
        enc_bytes: 1,
        enc_time_ms: 1,
        vmaf: 100.0 - f64::from(cq),
        adm2: 1.0 - f64::from(cq) / 100.0,
        vif_scale0: 0.5,
        vif_scale1: 0.6,
        vif_scale2: 0.7,
        vif_scale3: 0.8,
        motion2: i as f64,
    })
    .collect();
    Corpus {
        files: vec!["synthetic.jsonl".into()],
        file_rows: vec![6],
        file_sha256: vec!["0".repeat(64)],
        rows,
        sha256: "0".repeat(64),
        vmaf_versions: Vec::new(),
        duplicates: 0,
        unverified: Vec::new(),
        imported: Vec::new(),
        label: "synthetic.jsonl".into(),
    }
}

/// Column 19 of the network input: `crf_norm`.
fn crf_norms(data: &Dataset, rows: &[usize], scaling: &InputScaling) -> Vec<f32> {
    data.matrix(rows, scaling).0.column(19).to_vec()
}

#[test]
fn held_out_cqs_do_not_widen_their_folds_crf_norm_range() {
    let data = Dataset::new(&corpus()).unwrap();
    let fold_c = data.sources.iter().position(|s| s == "c").unwrap();
    let (train, val) = data.fold_rows(fold_c);
    let scaling = data.scaling(&train);
    assert_eq!(
        (scaling.cq_range.min, scaling.cq_range.max),
        (20.0, 30.0),
        "the training rows (a, b) alone define the range"
    );
    assert_eq!(crf_norms(&data, &train, &scaling), [0.0, 1.0, 0.0, 1.0]);
    assert_eq!(
        crf_norms(&data, &val, &scaling),
        [-1.0, 3.0],
        "held-out cqs are normalised over the training range, not clamped into it"
    );

    let fold_a = data.sources.iter().position(|s| s == "a").unwrap();
    let (train, _) = data.fold_rows(fold_a);
    let scaling = data.scaling(&train);
    assert_eq!((scaling.cq_range.min, scaling.cq_range.max), (10.0, 50.0));
    let all: Vec<usize> = (0..data.len()).collect();
    assert_eq!(
        data.scaling(&all).cq_range,
        scaling.cq_range,
        "the export fit's range is the whole corpus's"
    );
}

#[test]
fn a_fold_records_the_cq_range_it_trained_with() {
    let data = Dataset::new(&corpus()).unwrap();
    let fold_c = data.sources.iter().position(|s| s == "c").unwrap();
    let recipe = Recipe {
        epochs: 1,
        ..Recipe::default()
    };
    let result = run_fold(&data, fold_c, 0, &recipe, None, Gemm::Fixed);
    assert_eq!((result.cq_min, result.cq_max), (Some(20.0), Some(30.0)));
}
