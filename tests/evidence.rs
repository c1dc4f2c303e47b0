//! Proven or only claimed (issue 29 items 1, 3, 4): every fact a confirmation rests on is
//! derived from bytes the owner holds, or shown as only claimed, or — derived and different —
//! refused. The hostile bundles are made as a collaborator would make them: edit, retrain where
//! it helps him, recompute every hash the manifest lists.

mod common;
use camino::{Utf8Path, Utf8PathBuf};
use common::*;
use predicates::str::contains;
use serde_json::Value;
use std::sync::OnceLock;

fn read(path: &Utf8Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn write(path: &Utf8Path, doc: &Value) {
    std::fs::write(path, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
}

/// Bundles a results folder with the kit and returns the bundle.
fn bundle(root: &Utf8Path, results: &str) -> Utf8PathBuf {
    for entry in root.join(results).read_dir_utf8().unwrap() {
        let entry = entry.unwrap();
        if entry.file_name().starts_with("ensemble-results-") {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
    let out = stage_ok(root, &["bundle", "--out-dir", results]);
    root.join(String::from_utf8(out.stdout).unwrap().trim())
}

/// The owner's bundle: the demo references, scored, trained (seeds 0, 1), judged, exported.
fn owner() -> &'static Utf8PathBuf {
    static BUNDLE: OnceLock<Utf8PathBuf> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let s = copy_of_promoted();
        let root = s.path().to_owned();
        std::mem::forget(s);
        bundle(&root, "results")
    })
}

/// The owner's references as his bundle's verdict names them: name → sha256.
fn owner_sources() -> Vec<Value> {
    let s = Scratch::new();
    stage_ok(s.path(), &["verify", owner().as_str(), "--extract", "x"]);
    read(&s.join("x/PROMOTE.json"))["experiment"]["sources"]
        .as_array()
        .unwrap()
        .clone()
}

/// The collaborator's results folder: other videos scored under the owner's file names (other
/// bytes, other scores), honestly trained, judged and exported — then its verdict's references
/// replaced by the owner's (their SHA-256s are public in the owner's bundle).
fn collaborator() -> &'static Utf8PathBuf {
    static DIR: OnceLock<Utf8PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let s = copy_of_promoted();
        let root = s.path().to_owned();
        std::mem::forget(s);
        let results = root.join("results");
        let shard = results.join("corpus/shard.jsonl");
        let other =
            |sha: &str| ensemble_kit::digest::sha256_bytes(format!("other {sha}").as_bytes());
        let mut all = rows(&shard);
        for (i, row) in all.iter_mut().enumerate() {
            let sha = row["src_sha256"].as_str().unwrap().to_owned();
            row["src_sha256"] = other(&sha).into();
            let vmaf = row["vmaf"].as_f64().unwrap();
            row["vmaf"] = (vmaf - 0.01 * (i % 7) as f64).max(0.0).into();
        }
        let text: String = all
            .iter()
            .map(|r| serde_json::to_string(r).unwrap() + "\n")
            .collect();
        std::fs::write(&shard, text).unwrap();
        let meta_path = results.join("corpus/shard.meta.json");
        let mut meta = read(&meta_path);
        meta["shard_sha256"] = ensemble_kit::digest::sha256_file(&shard).unwrap().into();
        for source in meta["sources"].as_array_mut().unwrap() {
            let sha = source["sha256"].as_str().unwrap().to_owned();
            source["sha256"] = other(&sha).into();
        }
        meta["audit_cells"] = Value::Array(Vec::new());
        meta["settings"]["audit_cells"] = 0.into();
        write(&meta_path, &meta);
        std::fs::remove_dir_all(results.join("corpus/shard.audit")).ok();
        for args in [
            vec![
                "train",
                "--corpus",
                shard.as_str(),
                "--out-dir",
                "results/loso",
                "--seeds",
                "0,1",
            ],
            JUDGE_SEEDS_0_1.to_vec(),
            vec![
                "export",
                "--corpus",
                shard.as_str(),
                "--verdict",
                "results/PROMOTE.json",
                "--out-dir",
                "results/models",
            ],
        ] {
            stage_ok(&root, &args);
        }
        let verdict_path = results.join("PROMOTE.json");
        let mut verdict = read(&verdict_path);
        verdict["experiment"]["sources"] = Value::Array(owner_sources());
        write(&verdict_path, &verdict);
        stage_ok(
            &root,
            &["report", "--out-dir", "results", "--format", "html"],
        );
        root
    })
}

/// A copy of the collaborator's folder.
fn copy_of_collaborator() -> Scratch {
    let s = Scratch::new();
    let status = std::process::Command::new("cp")
        .args([
            "-a",
            collaborator().join("results").as_str(),
            s.path().as_str(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    s
}

/// Runs `compare A B` and returns (exit code, stdout, stderr).
fn compare(root: &Utf8Path, a: &Utf8Path, b: &Utf8Path) -> (i32, String, String) {
    let out = kit()
        .current_dir(root)
        .args(["compare", a.as_str(), b.as_str()])
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

// Item 1: compare never CONFIRMS across different videos.

#[test]
fn other_videos_under_copied_sha256s_without_the_corpus_are_only_consistent() {
    let s = copy_of_collaborator();
    std::fs::remove_dir_all(s.join("results/corpus")).unwrap();
    let forged = bundle(s.path(), "results");
    kit()
        .current_dir(s.path())
        .args(["verify", forged.as_str()])
        .assert()
        .success();
    let (code, out, err) = compare(s.path(), owner(), &forged);
    assert_eq!(code, 4, "{out}{err}");
    assert!(!out.contains("CONFIRMS"), "{out}");
    assert!(out.contains("CONSISTENT (claimed, not proven)"), "{out}");
    assert!(
        out.contains("B (bundle) only claims the references' bytes, the corpus trained on"),
        "{out}"
    );
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("demo_"))
        .unwrap();
    assert!(line.contains("A derived, B claimed"), "{out}");
}

#[test]
fn other_videos_under_copied_sha256s_with_their_corpus_are_refused() {
    let s = copy_of_collaborator();
    // `bundle` refuses to write it, so the collaborator writes it by hand.
    let forged = s.join("forged.tar.gz");
    forged_bundle(&s.join("results"), "PROMOTE", &forged, vec![]);
    kit()
        .current_dir(s.path())
        .args(["verify", forged.as_str()])
        .assert()
        .code(2)
        .stderr(contains(
            "experiment is not what its bundled LOSO files and corpus give",
        ));
    let (code, out, err) = compare(s.path(), owner(), &forged);
    assert_eq!(code, 2, "{out}{err}");
}

#[test]
fn a_bundled_corpus_whose_metadata_does_not_read_is_refused_not_ignored() {
    let s = copy_of_collaborator();
    std::fs::write(s.join("results/corpus/shard.meta.json"), b"{ not json").unwrap();
    let forged = s.join("forged.tar.gz");
    forged_bundle(&s.join("results"), "PROMOTE", &forged, vec![]);
    kit()
        .current_dir(s.path())
        .args(["verify", forged.as_str()])
        .assert()
        .code(2)
        .stderr(contains("shard.meta.json"));
    let (code, out, err) = compare(s.path(), owner(), &forged);
    assert_eq!(code, 2, "{out}{err}");
}

#[test]
fn a_bundled_corpus_that_is_not_the_one_trained_on_is_refused_not_ignored() {
    let s = copy_of_collaborator();
    // The owner's own corpus in the collaborator's bundle: real, but not what his seeds trained.
    let owner_results = promoted().join("results/corpus");
    for file in ["shard.jsonl", "shard.meta.json"] {
        std::fs::copy(
            owner_results.join(file),
            s.join("results/corpus").join(file),
        )
        .unwrap();
    }
    let forged = s.join("forged.tar.gz");
    forged_bundle(&s.join("results"), "PROMOTE", &forged, vec![]);
    kit()
        .current_dir(s.path())
        .args(["verify", forged.as_str()])
        .assert()
        .code(2)
        .stderr(contains("contradicted: the bundled corpus"))
        .stderr(contains(
            "is not the corpus the judged seeds were trained on",
        ));
}

#[test]
fn a_loose_verdict_with_its_loso_folder_is_consistent_or_contradicted_never_confirms() {
    let s = copy_of_collaborator();
    let verdict = s.join("results/PROMOTE.json");
    // The seed files name the corpus they trained on; point them at this copy's.
    let shard = s.join("results/corpus/shard.jsonl");
    for seed in ["loso_seed0.json", "loso_seed1.json"] {
        let path = s.join("results/loso").join(seed);
        let mut file = read(&path);
        file["corpus"] = shard.as_str().into();
        write(&path, &file);
    }
    // The LOSO folder beside it, its corpus out of reach: the references stay claimed.
    std::fs::rename(s.join("results/corpus"), s.join("elsewhere")).unwrap();
    let (code, out, err) = compare(s.path(), owner(), &verdict);
    assert_eq!(code, 4, "{out}{err}");
    assert!(out.contains("CONSISTENT (claimed, not proven)"), "{out}");
    // With the corpus the seeds name back beside them, the copied references are contradicted.
    std::fs::rename(s.join("elsewhere"), s.join("results/corpus")).unwrap();
    let (code, out, err) = compare(s.path(), owner(), &verdict);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("contradicted") && err.contains("/experiment"),
        "{err}"
    );
}

#[test]
fn the_owners_bundle_against_itself_confirms_with_every_fact_derived() {
    let s = Scratch::new();
    let (code, out, err) = compare(s.path(), owner(), owner());
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("CONFIRMS"), "{out}");
    assert!(
        out.contains("A rests on: references' bytes derived, corpus trained on derived, judged seeds derived"),
        "{out}"
    );
}

// Item 3: sidecars are part of the model.

/// One edit of a JSON file.
type Edit = fn(&mut Value);

/// The owner's results with one sidecar field edited through `edit`.
fn with_edited_sidecar(edit: impl Fn(&mut Value)) -> (Scratch, Utf8PathBuf) {
    let s = copy_of_promoted();
    let path = s.join("results/models/fr_regressor_v2_ensemble_v1_seed0.json");
    let mut sidecar = read(&path);
    edit(&mut sidecar);
    write(&path, &sidecar);
    let forged = s.join("forged.tar.gz");
    forged_bundle(&s.join("results"), "PROMOTE", &forged, vec![]);
    (s, forged)
}

#[test]
fn an_edited_sidecar_is_contradicted_by_the_bundle_it_travels_in() {
    let cases: [(&str, Edit); 4] = [
        ("feature_mean", |v| v["feature_mean"][0] = 0.5.into()),
        ("corpus.cq_max", |v| v["corpus"]["cq_max"] = 63.0.into()),
        ("gate.this_seed_loso_plcc", |v| {
            v["gate"]["this_seed_loso_plcc"] = 0.999.into()
        }),
        ("loso_mean_plcc", |v| v["loso_mean_plcc"] = 0.999.into()),
    ];
    for (field, edit) in cases {
        let (s, forged) = with_edited_sidecar(edit);
        kit()
            .current_dir(s.path())
            .args(["verify", forged.as_str()])
            .assert()
            .code(2)
            .stderr(contains(format!("`{field}` is not what the bundled")));
    }
}

#[test]
fn retrain_requires_every_sidecar_byte_for_byte() {
    // The fit's own figures cannot be derived without fitting: plain verify takes them, retrain
    // refits and refuses.
    let (s, forged) = with_edited_sidecar(|v| v["full_fit"]["rmse"] = 1.47.into());
    kit()
        .current_dir(s.path())
        .args(["verify", forged.as_str()])
        .assert()
        .success();
    kit()
        .current_dir(s.path())
        .args(["verify", "--retrain", forged.as_str()])
        .assert()
        .code(2)
        .stderr(contains("the sidecar was edited"))
        .stderr(contains("`full_fit.rmse`"));
}

#[test]
fn evaluate_refuses_a_member_whose_recorded_fit_the_runtime_does_not_reproduce() {
    let s = copy_of_promoted();
    let path = s.join("results/models/fr_regressor_v2_ensemble_v1_seed0.json");
    let mut sidecar = read(&path);
    sidecar["full_fit"]["rmse"] = 1.47.into();
    sidecar["full_fit"]["plcc"] = 0.9.into();
    write(&path, &sidecar);
    kit()
        .current_dir(s.path())
        .args([
            "evaluate",
            "--models",
            "results/models",
            "--corpus",
            "results/corpus/shard.jsonl",
        ])
        .assert()
        .code(2)
        .stderr(contains("contradicted"))
        .stderr(contains("fr_regressor_v2_ensemble_v1_seed0.json"));
}

// Item 4: exactly the kit's files.

/// A HOLD results folder (the owner's LOSO files judged with an impossible seed set would not
/// do: this judges seeds 0 and 1 after a retrain that fails the gate).
fn hold_results() -> Scratch {
    let s = copy_of_promoted();
    std::fs::remove_dir_all(s.join("results/models")).unwrap();
    for seed in [0, 1] {
        let path = s.join(&format!("results/loso/loso_seed{seed}.json"));
        let mut doc = read(&path);
        for fold in doc["folds"].as_array_mut().unwrap() {
            fold["plcc"] = 0.5.into();
        }
        for field in ["mean_plcc", "min_plcc", "max_plcc"] {
            doc[field] = 0.5.into();
        }
        doc["std_plcc"] = 0.0.into();
        doc["plcc_ci95"] = Value::Null;
        write(&path, &doc);
    }
    kit()
        .current_dir(s.path())
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .args(JUDGE_SEEDS_0_1)
        .assert()
        .code(1);
    std::fs::remove_file(s.join("results/PROMOTE.json")).ok();
    stage_ok(
        s.path(),
        &["report", "--out-dir", "results", "--format", "html"],
    );
    s
}

#[test]
fn a_bundle_holds_exactly_the_kits_files() {
    let s = hold_results();
    let results = s.join("results");
    let extras: [(&str, &[u8]); 4] = [
        ("summary.html", b"<h1>PROMOTE</h1><script>alert(1)</script>"),
        ("models/install.sh", b"#!/bin/sh\nrm -rf ~\n"),
        ("Promote.json", b"{}"),
        ("loso/notes.txt", b"hello"),
    ];
    for (name, bytes) in extras {
        let forged = s.join("forged.tar.gz");
        let m = member(name, bytes.to_vec());
        let listed = (
            bytes.len() as u64,
            ensemble_kit::digest::sha256_bytes(bytes),
        );
        forged_bundle(&results, "HOLD", &forged, vec![(m, listed)]);
        let out = s.join("out");
        kit()
            .current_dir(s.path())
            .args(["verify", forged.as_str(), "--extract", out.as_str()])
            .assert()
            .code(2)
            .stderr(contains(format!("not a kit file: {name}")));
        assert!(!out.exists(), "{name}: something was extracted");
    }
}

#[test]
fn a_model_of_a_seed_the_verdict_did_not_judge_is_refused() {
    let s = copy_of_promoted();
    let models = s.join("results/models");
    let mut sidecar = read(&models.join("fr_regressor_v2_ensemble_v1_seed0.json"));
    sidecar["seed"] = 7.into();
    sidecar["id"] = "fr_regressor_v2_ensemble_v1_seed7".into();
    sidecar["onnx"] = "fr_regressor_v2_ensemble_v1_seed7.onnx".into();
    write(
        &models.join("fr_regressor_v2_ensemble_v1_seed7.json"),
        &sidecar,
    );
    std::fs::copy(
        models.join("fr_regressor_v2_ensemble_v1_seed0.onnx"),
        models.join("fr_regressor_v2_ensemble_v1_seed7.onnx"),
    )
    .unwrap();
    let forged = s.join("forged.tar.gz");
    forged_bundle(&s.join("results"), "PROMOTE", &forged, vec![]);
    kit()
        .current_dir(s.path())
        .args(["verify", forged.as_str()])
        .assert()
        .code(2)
        .stderr(contains("model of a seed the verdict did not judge"))
        .stderr(contains("seed 7"));
    kit()
        .current_dir(s.path())
        .args([
            "evaluate",
            "--models",
            forged.as_str(),
            "--corpus",
            "results/corpus/shard.jsonl",
        ])
        .assert()
        .code(2);
}

#[test]
fn extract_writes_only_after_every_requested_check_passed() {
    // A bundle that verifies but whose retrain is refuted (an edited fit figure).
    let (s, forged) = with_edited_sidecar(|v| v["full_fit"]["srocc"] = 0.5.into());
    let out = s.join("extracted");
    kit()
        .current_dir(s.path())
        .args([
            "verify",
            "--retrain",
            "--extract",
            out.as_str(),
            forged.as_str(),
        ])
        .assert()
        .code(2)
        .stderr(contains("retrain differs"));
    assert!(!out.exists(), "a refuted bundle was extracted");
    let leftovers: Vec<String> = hidden_entries(s.path());
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // The same into an empty folder the operator made: it stays empty.
    std::fs::create_dir(&out).unwrap();
    kit()
        .current_dir(s.path())
        .args([
            "verify",
            "--retrain",
            "--extract",
            out.as_str(),
            forged.as_str(),
        ])
        .assert()
        .code(2);
    assert_eq!(out.read_dir_utf8().unwrap().count(), 0);
}

/// `verify BUNDLE` under a 256 MiB address-space limit: (exit code, stderr).
fn verify_in_256_mib(bundle: &Utf8Path) -> (Option<i32>, String) {
    let kit = assert_cmd::cargo::cargo_bin("ensemble-kit");
    let out = std::process::Command::new("sh")
        .args(["-c", "ulimit -v 262144 && exec \"$0\" verify \"$1\""])
        .arg(&kit)
        .arg(bundle.as_str())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn seed_files_the_verdict_does_not_name_are_not_read() {
    let s = copy_of_promoted();
    let results = s.join("results");
    let forged = s.join("forged.tar.gz");
    let listed = |bytes: &[u8]| {
        (
            bytes.len() as u64,
            ensemble_kit::digest::sha256_bytes(bytes),
        )
    };
    // Eight seed files of 15 MiB of real folds each, which b3ec481 parsed and held, one after
    // another, until the member cap (1 GiB) and not the verdict bounded its memory.
    let mut big = read(&results.join("loso/loso_seed0.json"));
    let folds = big["folds"].as_array().unwrap().clone();
    let copies = (15 << 20) / serde_json::to_vec(&folds).unwrap().len();
    let many: Vec<Value> = folds
        .iter()
        .cycle()
        .take(folds.len() * copies)
        .cloned()
        .collect();
    big["n_folds"] = many.len().into();
    big["folds"] = many.into();
    let extra: Vec<_> = (10..18)
        .map(|seed| {
            big["seed"] = seed.into();
            let bytes = serde_json::to_vec(&big).unwrap();
            let listed = listed(&bytes);
            (member(&format!("loso/loso_seed{seed}.json"), bytes), listed)
        })
        .collect();
    forged_bundle(&results, "PROMOTE", &forged, extra);
    let (code, err) = verify_in_256_mib(&forged);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("not read: loso/loso_seed10.json: seed 10 is neither judged by the verdict"),
        "{err}"
    );

    // One small seed file of a seed the verdict neither judged nor pooled.
    let mut seed = read(&results.join("loso/loso_seed0.json"));
    seed["seed"] = 9.into();
    let bytes = serde_json::to_vec(&seed).unwrap();
    let listed_9 = listed(&bytes);
    forged_bundle(
        &results,
        "PROMOTE",
        &forged,
        vec![(member("loso/loso_seed9.json", bytes), listed_9)],
    );
    kit()
        .args(["verify", forged.as_str()])
        .assert()
        .code(2)
        .stderr(contains("seed 9 is neither judged by the verdict"));

    // A judged seed file placed before the verdict: not read, since nothing yet says it is
    // wanted (the kit bundles the verdict first).
    let mut files = Vec::new();
    result_files(&results, Utf8Path::new(""), &mut files);
    files.sort_by_key(|f| !f.as_str().starts_with("loso/"));
    let entries: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|f| (f.to_string(), std::fs::read(results.join(f)).unwrap()))
        .collect();
    let manifest = serde_json::json!({
        "schema_version": ensemble_kit::schema::SCHEMA_VERSION,
        "verdict": "PROMOTE",
        "generated_at_utc": "2023-11-14T22:13:20Z",
        "n_files": entries.len(),
        "files": entries.iter().map(|(path, bytes)| {
            let (size, sha256) = listed(bytes);
            serde_json::json!({"path": path, "size": size, "sha256": sha256})
        }).collect::<Vec<_>>(),
    });
    let mut members = vec![member(
        "manifest.json",
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )];
    members.extend(
        entries
            .into_iter()
            .map(|(name, bytes)| member(&name, bytes)),
    );
    write_archive(&forged, members);
    kit()
        .args(["verify", forged.as_str()])
        .assert()
        .code(2)
        .stderr(contains(
            "not read: loso/loso_seed0.json comes before any readable verdict file",
        ));
}
