//! `verify --retrain`: a fresh PROMOTE bundle re-trains to the same bytes (exit 0); a bundle whose
//! LOSO file was edited consistently — a fold PLCC and the summaries changed, the verdict judged
//! again, the sidecars exported again under it and the manifest re-hashed — passes plain
//! `verify` but not `--retrain` (exit 2, naming the file and the fold).

mod common;
use camino::{Utf8Path, Utf8PathBuf};
use common::*;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

/// Verdict and bundle of `root/results`; returns the bundle.
fn judge_and_bundle(root: &Utf8Path) -> Utf8PathBuf {
    for old in std::fs::read_dir(root.join("results")).unwrap() {
        let old = old.unwrap().path();
        if old.to_string_lossy().ends_with(".tar.gz") {
            std::fs::remove_file(old).unwrap();
        }
    }
    stage_ok(root, &JUDGE_SEEDS_0_1);
    assert!(root.join("results/PROMOTE.json").exists());
    let out = stage_ok(root, &["bundle", "--out-dir", "results"]);
    root.join(String::from_utf8(out.stdout).unwrap().trim())
}

#[test]
fn a_fresh_bundle_retrains_identically_and_an_edited_one_does_not() {
    let s = Scratch::new();
    let root = s.path();
    let shard = "results/corpus/shard.jsonl";
    learnable_shard(&root.join(shard), 8);
    // A few epochs, recorded in the LOSO files and sidecars: retrain must use them.
    let epochs = ["--epochs", "150", "--allow-missing-meta"];
    let mut train = vec!["train", "--corpus", shard, "--out-dir", "results/loso"];
    train.extend(["--seeds", "0,1,2"]);
    train.extend(epochs);
    stage_ok(root, &train);
    // Seed 2 is a stability seed: the verdict judges 0 and 1.
    stage_ok(root, &JUDGE_SEEDS_0_1);
    let mut export = vec![
        "export",
        "--corpus",
        shard,
        "--verdict",
        "results/PROMOTE.json",
    ];
    export.extend(["--out-dir", "results/models"]);
    export.extend(epochs);
    stage_ok(root, &export);
    let bundle = judge_and_bundle(root);

    kit()
        .args(["verify", "--retrain", bundle.as_str()])
        .assert()
        .success()
        .stdout(contains(
            "retrain identical (3 seed files, 12 folds, 2 models) in",
        ))
        .stdout(
            predicates::str::is_match(r"retrain identical \(.*\) in [0-9.]+ s \[derived\]\n")
                .unwrap(),
        );

    // Edit seed 1 consistently: fold 0's PLCC lowered, its summaries recomputed, the verdict
    // judged again and the bundle rebuilt.
    let path = root.join("results/loso/loso_seed1.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let plcc = doc["folds"][0]["plcc"].as_f64().unwrap();
    doc["folds"][0]["plcc"] = (plcc - 1e-4).into();
    let plccs: Vec<f64> = doc["folds"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["plcc"].as_f64())
        .collect();
    let n = plccs.len() as f64;
    let mean = plccs.iter().sum::<f64>() / n;
    let var = plccs.iter().map(|p| (p - mean) * (p - mean)).sum::<f64>() / (n - 1.0);
    doc["mean_plcc"] = mean.into();
    doc["std_plcc"] = var.sqrt().into();
    doc["min_plcc"] = plccs.iter().copied().fold(f64::INFINITY, f64::min).into();
    doc["max_plcc"] = plccs
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max)
        .into();
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
    // The models' sidecars carry the verdict's gate figures: a careful forger exports again
    // (the same models) under the verdict judged again.
    stage_ok(root, &JUDGE_SEEDS_0_1);
    stage_ok(root, &export);
    let edited = judge_and_bundle(root);

    kit()
        .args(["verify", edited.as_str()])
        .assert()
        .success()
        .stdout(contains("ok ("));
    kit()
        .args(["verify", "--retrain", edited.as_str()])
        .assert()
        .code(2)
        .stderr(contains("!loso/loso_seed1.json fold 0").and(contains("retrain differs: ")));
}
