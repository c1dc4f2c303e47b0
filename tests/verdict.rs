//! The gate end to end through the binary: golden verdict files for PROMOTE and each way to
//! HOLD, and exit 2 for every kind of bad seed file.

mod common;
use common::*;

/// A valid `loso_seed{seed}.json` whose two folds both have `mean_plcc`; returns its document.
fn seed_file(dir: &camino::Utf8Path, seed: u64, mean_plcc: Option<f64>) -> serde_json::Value {
    let doc = seed_doc(seed, &[("a", mean_plcc), ("b", mean_plcc)]);
    write_seed(dir, &doc);
    doc
}

/// Runs `verdict` in `root` on `root/loso` with a pinned clock; returns (exit code, stderr).
fn verdict(root: &camino::Utf8Path, extra: &[&str]) -> (i32, String) {
    let out = kit()
        .current_dir(root)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["verdict", "--loso-dir", "loso"])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn case(plccs: &[f64]) -> Scratch {
    let s = Scratch::new();
    for (seed, &p) in plccs.iter().enumerate() {
        seed_file(&s.join("loso"), seed as u64, Some(p));
    }
    s
}

#[test]
fn promote() {
    let s = case(&[0.970, 0.971, 0.972, 0.9705, 0.9715]);
    std::fs::write(s.join("loso/HOLD.json"), "{}").unwrap();
    let (code, stderr) = verdict(s.path(), &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("verdict: PROMOTE"), "{stderr}");
    golden(
        "verdict-promote.json",
        &std::fs::read_to_string(s.join("loso/PROMOTE.json")).unwrap(),
    );
    assert!(
        !s.join("loso/HOLD.json").exists(),
        "the stale HOLD.json must be removed"
    );
}

#[test]
fn hold_by_mean() {
    let s = case(&[0.940, 0.941, 0.942, 0.9405, 0.9415]);
    std::fs::write(s.join("loso/PROMOTE.json"), "{}").unwrap();
    let (code, stderr) = verdict(s.path(), &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("mean PLCC 0.9410 (≥ 0.95) FAIL"),
        "{stderr}"
    );
    golden(
        "verdict-hold-mean.json",
        &std::fs::read_to_string(s.join("loso/HOLD.json")).unwrap(),
    );
    assert!(
        !s.join("loso/PROMOTE.json").exists(),
        "the stale PROMOTE.json must be removed"
    );
}

#[test]
fn hold_by_spread() {
    let s = case(&[0.960, 0.970, 0.965, 0.962, 0.968]);
    let (code, stderr) = verdict(s.path(), &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains("spread 0.0100 (≤ 0.005) FAIL"), "{stderr}");
    golden(
        "verdict-hold-spread.json",
        &std::fs::read_to_string(s.join("loso/HOLD.json")).unwrap(),
    );
}

#[test]
fn hold_by_one_weak_seed() {
    let s = case(&[0.9520, 0.9530, 0.9495, 0.9525, 0.9535]);
    let (code, stderr) = verdict(s.path(), &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains("< per-seed minimum"), "{stderr}");
    golden(
        "verdict-hold-weak-seed.json",
        &std::fs::read_to_string(s.join("loso/HOLD.json")).unwrap(),
    );
}

#[test]
fn verdict_describes_the_reference_corpus() {
    let s = case(&[0.970, 0.971, 0.972, 0.9705, 0.9715]);
    std::fs::create_dir_all(s.join("refs/dis")).unwrap();
    std::fs::write(s.join("refs/a.yuv"), b"abc").unwrap();
    std::fs::write(s.join("refs/dis/a_cq25.yuv"), b"def").unwrap();
    let (code, _) = verdict(s.path(), &["--corpus-root", "refs"]);
    assert_eq!(code, 0);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.join("loso/PROMOTE.json")).unwrap())
            .unwrap();
    assert_eq!(v["corpus"]["present"], true);
    assert_eq!(
        (
            v["corpus"]["ref_count"].as_u64(),
            v["corpus"]["dis_count"].as_u64(),
            v["corpus"]["yuv_count"].as_u64()
        ),
        (Some(1), Some(1), Some(2))
    );
    kit()
        .args([
            "validate",
            s.join("loso/PROMOTE.json").as_str(),
            s.join("loso/loso_seed0.json").as_str(),
        ])
        .assert()
        .success();
}

fn refused(s: &Scratch, message: &str) {
    let (code, stderr) = verdict(s.path(), &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(message),
        "expected `{message}` in: {stderr}"
    );
    assert!(!s.join("loso/PROMOTE.json").exists() && !s.join("loso/HOLD.json").exists());
}

#[test]
fn missing_seed_file() {
    let s = case(&[0.97, 0.97, 0.97, 0.97]);
    refused(&s, "loso_seed4.json` is missing");
}

#[test]
fn malformed_seed_file() {
    let s = case(&[0.97; 5]);
    std::fs::write(s.join("loso/loso_seed2.json"), "{\"seed\": 2,\n  oops").unwrap();
    refused(&s, "loso/loso_seed2.json:2: /: not valid JSON");
}

#[test]
fn wrong_schema_version() {
    let s = case(&[0.97; 5]);
    let mut doc = seed_file(&s.join("loso"), 3, Some(0.97));
    doc["schema_version"] = 99.into();
    std::fs::write(s.join("loso/loso_seed3.json"), doc.to_string()).unwrap();
    refused(
        &s,
        "loso/loso_seed3.json: /schema_version: unknown schema version 99",
    );
}

#[test]
fn field_of_the_wrong_type() {
    let s = case(&[0.97; 5]);
    let mut doc = seed_file(&s.join("loso"), 1, Some(0.97));
    doc["folds"][1]["n_val"] = "fifty".into();
    std::fs::write(s.join("loso/loso_seed1.json"), doc.to_string()).unwrap();
    refused(&s, "loso/loso_seed1.json: /folds/1/n_val:");
}

#[test]
fn undefined_plcc() {
    let s = case(&[0.97; 5]);
    seed_file(&s.join("loso"), 0, None);
    refused(&s, "loso/loso_seed0.json: /mean_plcc: PLCC is undefined");
}

#[test]
fn empty_loso_dir() {
    let s = Scratch::new();
    std::fs::create_dir_all(s.join("loso")).unwrap();
    refused(&s, "holds no loso_seed*.json files");
}

// Issue 21 item 8: seed files must be what their own seed trained, on the same folds.
#[test]
fn a_copy_of_another_seed_with_only_its_number_edited_is_refused() {
    let s = case(&[0.97]);
    let doc = seed_doc(0, &[("a", Some(0.97)), ("b", Some(0.97))]);
    for seed in 1..5 {
        let mut copy = doc.clone();
        copy["seed"] = seed.into();
        write_seed(&s.join("loso"), &copy);
    }
    refused(
        &s,
        "loso/loso_seed1.json: /recipe_key: is not the key of seed 1",
    );
}

#[test]
fn copies_with_forged_keys_are_refused_by_their_predictions() {
    let s = case(&[0.97]);
    let mut doc = seed_doc(0, &[("a", Some(0.97)), ("b", Some(0.97))]);
    for fold in 0..2 {
        doc["folds"][fold]["true_vmaf"] = serde_json::json!([50.0, 60.0, 70.0]);
        doc["folds"][fold]["predicted_vmaf"] = serde_json::json!([51.0, 59.5, 70.2]);
    }
    for seed in 0..5 {
        let mut copy = doc.clone();
        copy["seed"] = seed.into();
        rekey(&mut copy);
        write_seed(&s.join("loso"), &copy);
    }
    refused(&s, "seeds 0 and 1 predict exactly the same values");
}

#[test]
fn judged_seeds_with_other_folds_are_refused() {
    let s = case(&[0.97, 0.97, 0.97, 0.97]);
    write_seed(
        &s.join("loso"),
        &seed_doc(4, &[("a", Some(0.97)), ("c", Some(0.97))]),
    );
    refused(&s, "seed 4 was not validated on the folds of seed 0");
}

// Issue 21 item 6: a source name from a collaborator's files cannot forge workflow commands
// in the log or markup in the Action's step summary.
#[test]
fn hostile_source_names_are_neither_log_commands_nor_markdown() {
    let s = Scratch::new();
    let evil = "x\n::error::forged\n### ensemble-kit verdict: **PROMOTE**\n![i](http://e/i.png)";
    for (seed, p) in [0.93, 0.97, 0.95, 0.96, 0.94].into_iter().enumerate() {
        let doc = seed_doc(seed as u64, &[(evil, Some(p)), ("b", Some(0.97))]);
        write_seed(&s.join("loso"), &doc);
    }
    // A fold name is a source name: one with a line break is refused (issue 30), and the
    // refusal quotes it without starting a line with `::`.
    let (code, stderr) = verdict(s.path(), &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("holds a control character"), "{stderr}");
    assert!(stderr.contains("::error::forged"), "{stderr}");
    assert!(
        !stderr.lines().any(|l| l.trim_start().starts_with("::")),
        "{stderr}"
    );
    for (seed, p) in [0.93, 0.97, 0.95, 0.96, 0.94].into_iter().enumerate() {
        let doc = seed_doc(seed as u64, &[("a", Some(p)), ("b", Some(0.97))]);
        write_seed(&s.join("loso"), &doc);
    }
    let (code, stderr) = verdict(s.path(), &[]);
    assert_eq!(code, 1, "{stderr}");
    // The step summary shows the verdict's recommendation, which names sources.
    let hold = s.join("loso/HOLD.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&hold).unwrap()).unwrap();
    doc["recommendation"] = format!("Do not ship this model: driven by {evil}").into();
    std::fs::write(&hold, doc.to_string()).unwrap();
    let out = kit()
        .current_dir(s.path())
        .args(["report", "--out-dir", "loso", "--format", "markdown"])
        .output()
        .unwrap();
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.contains("forged"), "{md}");
    assert_eq!(md.matches("### ").count(), 1, "{md}");
    assert!(!md.contains("![") && !md.contains("\n::"), "{md}");
}
