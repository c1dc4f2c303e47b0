//! `evaluate`: a shipped ensemble run in tract on a corpus — the kit's own models reproduce
//! their full-corpus fit, a reference-format sidecar feeds the same model the same inputs, an
//! encoder outside the vocabulary is refused, every hostile models folder or corpus is refused
//! naming the problem, and `compare --cross` evaluates two bundles both ways.

mod common;
use camino::{Utf8Path, Utf8PathBuf};
use common::*;
use predicates::str::contains;
use serde_json::Value;
use std::sync::OnceLock;

const MEMBER0: &str = "fr_regressor_v2_ensemble_v1_seed0";
const MEMBER1: &str = "fr_regressor_v2_ensemble_v1_seed1";

/// A `full --demo` run that promoted (default frames and epochs, two seeds — fewer frames or
/// epochs hold on the demo): its results folder and its bundle, shared by the tests.
fn promoted() -> &'static (Utf8PathBuf, Utf8PathBuf) {
    static RUN: OnceLock<(Utf8PathBuf, Utf8PathBuf)> = OnceLock::new();
    RUN.get_or_init(|| {
        let root = Utf8PathBuf::from_path_buf(tempfile::tempdir().unwrap().keep()).unwrap();
        let out = kit()
            .current_dir(&root)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args(["full", "--demo", "--seeds", "0,1", "--out-dir", "out", "-q"])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "the demo must promote: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bundle = root.join(String::from_utf8(out.stdout).unwrap().trim());
        (root.join("out"), bundle)
    })
}

fn out_dir() -> &'static Utf8Path {
    &promoted().0
}

fn shard() -> Utf8PathBuf {
    out_dir().join("corpus/shard.jsonl")
}

fn read_json(path: &Utf8Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn write_json(path: &Utf8Path, value: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap()).unwrap();
}

/// A copy of the exported models folder, to change.
fn models_copy() -> Scratch {
    let s = Scratch::new();
    std::fs::create_dir(s.join("models")).unwrap();
    for entry in out_dir().join("models").read_dir_utf8().unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), s.join("models").join(entry.file_name())).unwrap();
    }
    s
}

/// Runs `evaluate --models MODELS --corpus CORPUS EXTRA…`; returns the assertion handle.
fn evaluate(models: &Utf8Path, corpus: &Utf8Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    kit()
        .args([
            "evaluate",
            "--models",
            models.as_str(),
            "--corpus",
            corpus.as_str(),
        ])
        .args(extra)
        .assert()
}

/// Evaluates and returns the JSON written with `--out`, after validating it.
fn evaluation(models: &Utf8Path, corpus: &Utf8Path, extra: &[&str]) -> Value {
    let s = Scratch::new();
    let out = s.join("evaluation.json");
    evaluate(
        models,
        corpus,
        &[&["--out", out.as_str()][..], extra].concat(),
    )
    .success();
    kit().args(["validate", out.as_str()]).assert().success();
    read_json(&out)
}

/// A shard without metadata holding the demo rows changed by `change`.
fn changed_shard(s: &Scratch, change: impl Fn(&mut Value)) -> Utf8PathBuf {
    let path = s.join("changed.jsonl");
    let text: String = rows(&shard())
        .into_iter()
        .map(|mut row| {
            change(&mut row);
            format!("{row}\n")
        })
        .collect();
    std::fs::write(&path, text).unwrap();
    path
}

fn close(a: &Value, b: &Value, tolerance: f64, what: &str) {
    let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
    assert!((a - b).abs() <= tolerance, "{what}: {a} vs {b}");
}

#[test]
fn own_models_on_their_corpus_reproduce_the_full_corpus_fit() {
    let models = out_dir().join("models");
    let e = evaluation(&models, &shard(), &[]);
    assert_eq!(e["kind"], "evaluation");
    assert_eq!(e["n_rows"], rows(&shard()).len());
    let members = e["members"].as_array().unwrap();
    assert_eq!(members.len(), 2);
    for member in members {
        assert_eq!(member["fitted_on_this_corpus"], true);
        assert_eq!(member["full_fit"], "derived", "{member}");
        let recorded = &member["recorded_full_fit"];
        let here = &member["scores"]["overall"];
        assert_eq!(recorded["n_rows"], here["n_rows"]);
        // The kit's forward pass and tract differ by float32 rounding only.
        close(&recorded["plcc"], &here["plcc"], 1e-5, "PLCC");
        close(&recorded["srocc"], &here["srocc"], 1e-3, "SROCC");
        close(&recorded["rmse"], &here["rmse"], 1e-3, "RMSE");
        assert!(here["plcc"].as_f64().unwrap() > 0.9, "{here}");
        let scores = &member["scores"];
        assert_eq!(scores["per_source"].as_array().unwrap().len(), 9);
        assert_eq!(scores["per_encoder"][0]["name"], "libx264");
        assert_eq!(scores["per_cq"].as_array().unwrap().len(), 4);
    }
    assert!(e["ensemble"]["overall"]["plcc"].as_f64().unwrap() > 0.9);
    // The table says the same.
    evaluate(&models, &shard(), &[])
        .success()
        .stdout(contains("ensemble mean"))
        .stdout(contains("seed 1"))
        .stdout(contains("encoder libx264"))
        .stdout(contains("cq 37"))
        .stdout(contains("seed 0 was fitted on this corpus"))
        .stdout(
            predicates::str::is_match(
                r"seed 0 was fitted on this corpus: .*; the ONNX runtime gives .* \[derived\]\n",
            )
            .unwrap(),
        );
}

/// Issue 29: on a corpus it was not fitted on, a member's recorded fit cannot be reproduced:
/// the evaluation says it is only claimed, and the reference's sidecar records none.
#[test]
fn a_recorded_fit_on_another_corpus_is_only_claimed() {
    let s = Scratch::new();
    let other = changed_shard(&s, |row| {
        row["vmaf"] = (row["vmaf"].as_f64().unwrap() * 0.99).into();
    });
    let e = evaluation(&out_dir().join("models"), &other, &["--allow-missing-meta"]);
    for member in e["members"].as_array().unwrap() {
        assert_eq!(member["fitted_on_this_corpus"], false);
        assert_eq!(member["full_fit"], "claimed", "{member}");
        assert_eq!(member["recorded_full_fit"], Value::Null);
    }
    evaluate(&out_dir().join("models"), &other, &["--allow-missing-meta"])
        .success()
        .stdout(contains(
            "seed 0's sidecar records its fit on another corpus, which this evaluation cannot reproduce [claimed]",
        ));
}

#[test]
fn a_promote_bundle_evaluates_like_its_models_folder() {
    let from_bundle = evaluation(&promoted().1, &shard(), &[]);
    let from_folder = evaluation(&out_dir().join("models"), &shard(), &[]);
    assert_eq!(from_bundle["members"], from_folder["members"]);
    assert_eq!(from_bundle["ensemble"], from_folder["ensemble"]);
}

#[test]
fn a_reference_format_sidecar_feeds_the_model_the_same_inputs() {
    let s = Scratch::new();
    let dir = s.join("reference");
    std::fs::create_dir(&dir).unwrap();
    let kit_sidecar = read_json(&out_dir().join(format!("models/{MEMBER0}.json")));
    let onnx = format!("{MEMBER0}.onnx");
    std::fs::copy(out_dir().join("models").join(&onnx), dir.join(&onnx)).unwrap();
    // The reference's own sidecar, with this model's hash, scaling and CQ range.
    let mut sidecar = read_json(Utf8Path::new("tests/fixtures/reference-sidecar.json"));
    assert!(sidecar.get("schema_version").is_none() && sidecar.get("full_fit").is_none());
    for key in ["sha256", "feature_mean", "feature_std"] {
        sidecar[key] = kit_sidecar[key].clone();
    }
    for key in ["sha256", "n_rows", "cq_min", "cq_max"] {
        sidecar["corpus"][key] = kit_sidecar["corpus"][key].clone();
    }
    write_json(&dir.join(format!("{MEMBER0}.json")), &sidecar);
    let reference = evaluation(&dir, &shard(), &[]);
    let own = evaluation(&out_dir().join("models"), &shard(), &[]);
    assert_eq!(
        reference["members"][0]["scores"],
        own["members"][0]["scores"]
    );
    assert_eq!(reference["members"][0]["recorded_full_fit"], Value::Null);
    assert!(reference["members"][0].get("full_fit").is_none());

    // With the reference's own scaling (another corpus's) it still runs, to other figures.
    let mut foreign = read_json(Utf8Path::new("tests/fixtures/reference-sidecar.json"));
    foreign["sha256"] = kit_sidecar["sha256"].clone();
    write_json(&dir.join(format!("{MEMBER0}.json")), &foreign);
    let other = evaluation(&dir, &shard(), &[]);
    assert_eq!(other["members"][0]["fitted_on_this_corpus"], false);
    assert_ne!(other["members"][0]["scores"], own["members"][0]["scores"]);
}

#[test]
fn an_encoder_outside_the_vocabulary_is_refused_unless_allowed() {
    let s = Scratch::new();
    let corpus = changed_shard(&s, |row| row["encoder"] = "libaom-av1".into());
    evaluate(
        &out_dir().join("models"),
        &corpus,
        &["--allow-missing-meta"],
    )
    .code(2)
    .stderr(contains("encoded by `libaom-av1`"))
    .stderr(contains("lacks"));
    let e = evaluation(
        &out_dir().join("models"),
        &corpus,
        &["--allow-missing-meta", "--allow-unknown-encoders"],
    );
    assert_eq!(e["unknown_encoder_rows"], e["n_rows"]);
    // An encoder literally called `unknown` is no encoder the vocabulary knows either.
    let named_unknown = changed_shard(&s, |row| row["encoder"] = "unknown".into());
    evaluate(
        &out_dir().join("models"),
        &named_unknown,
        &["--allow-missing-meta"],
    )
    .code(2)
    .stderr(contains("encoded by `unknown`"));
}

/// Evaluating the changed models folder fails with exit 2 and a message containing `needle`.
fn refused(s: &Scratch, needle: &str) {
    evaluate(&s.join("models"), &shard(), &[])
        .code(2)
        .stderr(contains(needle));
}

/// Changes member 0's sidecar in a copy of the models folder.
fn with_sidecar(change: impl Fn(&mut Value)) -> Scratch {
    let s = models_copy();
    let path = s.join(&format!("models/{MEMBER0}.json"));
    let mut sidecar = read_json(&path);
    change(&mut sidecar);
    write_json(&path, &sidecar);
    s
}

#[test]
fn models_without_sidecars_are_refused() {
    let s = models_copy();
    std::fs::remove_file(s.join(&format!("models/{MEMBER1}.json"))).unwrap();
    refused(&s, &format!("{MEMBER1}.onnx` has no sidecar"));
    std::fs::remove_file(s.join(&format!("models/{MEMBER0}.json"))).unwrap();
    refused(&s, "holds no model sidecar");
    let missing = models_copy();
    std::fs::remove_file(missing.join(&format!("models/{MEMBER0}.onnx"))).unwrap();
    refused(&missing, "which is missing");
}

#[test]
fn sidecars_of_another_vocabulary_or_version_are_refused() {
    refused(
        &with_sidecar(|s| s["encoder_vocab_version"] = 3.into()),
        "encoder vocabulary version 3",
    );
    refused(
        &with_sidecar(|s| s["encoder_vocab"].as_array_mut().unwrap().swap(0, 1)),
        "but lists",
    );
    refused(
        &with_sidecar(|s| s["schema_version"] = 99.into()),
        "format version 99",
    );
    refused(
        &with_sidecar(|s| s["codec_block_layout"][13] = "crf_over_63".into()),
        "column `crf_over_63`",
    );
}

#[test]
fn a_model_that_does_not_match_its_sidecar_hash_is_refused() {
    let s = models_copy();
    let model = s.join(&format!("models/{MEMBER0}.onnx"));
    let mut bytes = std::fs::read(&model).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&model, bytes).unwrap();
    refused(&s, "is not the one the sidecar describes");
}

#[test]
fn mismatched_feature_order_and_bad_scaling_are_refused() {
    refused(
        &with_sidecar(|s| s["feature_order"][5] = "psnr".into()),
        "names `psnr`",
    );
    refused(
        &with_sidecar(|s| s["feature_order"][5] = "adm2".into()),
        "names `adm2` twice",
    );
    refused(
        &with_sidecar(|s| {
            s["feature_order"].as_array_mut().unwrap().pop();
        }),
        "lists 5 feature(s) but feature_mean has 6",
    );
    refused(
        &with_sidecar(|s| s["feature_std"][0] = 0.0.into()),
        "positive finite std",
    );
    refused(
        &with_sidecar(|s| s["input_names"] = serde_json::json!(["codec_onehot", "features"])),
        "its inputs are",
    );
    refused(
        &with_sidecar(|s| s["onnx"] = "../elsewhere.onnx".into()),
        "not a file name beside the sidecar",
    );
}

#[test]
fn duplicate_seeds_are_refused() {
    let s = models_copy();
    let path = s.join(&format!("models/{MEMBER1}.json"));
    let mut sidecar = read_json(&path);
    sidecar["seed"] = 0.into();
    write_json(&path, &sidecar);
    refused(&s, "are both seed 0");
}

#[test]
fn nan_rows_and_empty_corpora_are_refused() {
    let s = Scratch::new();
    let nan = s.join("nan.jsonl");
    let text = std::fs::read_to_string(shard()).unwrap();
    let first = text.lines().next().unwrap();
    let adm2 = first
        .split("\"adm2\":")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap();
    std::fs::write(&nan, first.replacen(adm2, "NaN", 1) + "\n").unwrap();
    evaluate(&out_dir().join("models"), &nan, &["--allow-missing-meta"])
        .code(2)
        .stderr(contains("nan.jsonl:1"));
    let empty = s.join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    evaluate(&out_dir().join("models"), &empty, &["--allow-missing-meta"])
        .code(2)
        .stderr(contains("no rows"));
}

#[test]
fn compare_cross_evaluates_two_bundles_both_ways() {
    let bundle = &promoted().1;
    kit()
        .args(["compare", "--cross", bundle.as_str(), bundle.as_str()])
        .assert()
        .success()
        .stdout(contains("A's models on B's corpus"))
        .stdout(contains("B's models on A's corpus"))
        .stdout(contains("!corpus/shard.jsonl"));
    kit()
        .args([
            "compare",
            "--cross",
            out_dir().join("PROMOTE.json").as_str(),
            bundle.as_str(),
        ])
        .assert()
        .code(2)
        .stderr(contains("--cross needs two results bundles"));
}
