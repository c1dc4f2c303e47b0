//! Outputs never replace inputs (issue 29, Deliver item 5): every command that writes refuses,
//! with exit 2 and touching nothing, an output path that is one of its inputs — spelt as given,
//! through a symbolic link, as `x/../x`, or as a hard link — even with `--force`, and an
//! existing file the kit did not write unless `--force` (which then replaces it). A file the kit
//! wrote with the same meaning is replaced as before.
//!
//! Each test begins with the case that was a hole at b3ec481 (exit 0 and an input, or an
//! operator's file, gone); `verify --extract` and `full --out-dir` were already safe, and their
//! tests pin that.

mod common;
use camino::{Utf8Path, Utf8PathBuf};
use common::*;
use std::collections::BTreeMap;

/// Every file and link below `root` with its bytes (a link as its target): what a refused
/// command must leave exactly as it was.
fn snapshot(root: &Utf8Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in walkdir::WalkDir::new(root).min_depth(1) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(root).unwrap().to_string_lossy();
        let kind = entry.file_type();
        let bytes = if kind.is_symlink() {
            let target = std::fs::read_link(entry.path()).unwrap();
            format!("-> {}", target.display()).into_bytes()
        } else if kind.is_file() {
            std::fs::read(entry.path()).unwrap()
        } else {
            b"(folder)".to_vec()
        };
        files.insert(rel.into_owned(), bytes);
    }
    files
}

/// Runs `cmd`, which must be refused with exit 2 saying each of `says`, and leave every file
/// below `root` byte for byte as it was.
fn refused(cmd: &mut assert_cmd::Command, root: &Utf8Path, says: &[&str]) {
    let before = snapshot(root);
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{cmd:?} must be refused: {stderr}"
    );
    for words in says.iter().chain(&["Nothing was written"]) {
        assert!(
            stderr.contains(words),
            "{cmd:?}: expected `{words}` in: {stderr}"
        );
    }
    assert!(
        snapshot(root) == before,
        "{cmd:?} was refused but changed files below {root}"
    );
}

/// Runs `cmd`, which must succeed.
fn ok(cmd: &mut assert_cmd::Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `link` made a symbolic link to `target`.
fn symlink(target: &Utf8Path, link: &Utf8Path) -> Utf8PathBuf {
    std::os::unix::fs::symlink(target, link).unwrap();
    link.to_owned()
}

/// `link` made a hard link of `target`.
fn hard_link(target: &Utf8Path, link: &Utf8Path) -> Utf8PathBuf {
    std::fs::hard_link(target, link).unwrap();
    link.to_owned()
}

/// `path` spelt through its own folder and back: `DIR/../DIR_NAME/FILE`.
fn respelt(path: &Utf8Path) -> Utf8PathBuf {
    let dir = path.parent().unwrap();
    let folder = dir.file_name().unwrap();
    dir.join("..").join(folder).join(path.file_name().unwrap())
}

/// An operator's own file at `path`.
fn operators_file(path: &Utf8Path) -> Utf8PathBuf {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, "the operator's notes, not the kit's\n").unwrap();
    path.to_owned()
}

/// The kit, pinned to the step-by-step tests' clock.
fn kit_at(root: &Utf8Path) -> assert_cmd::Command {
    let mut cmd = kit();
    cmd.current_dir(root)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .arg("-q");
    cmd
}

/// A results folder made by hand through the PROMOTE path (a learnable shard without
/// metadata, seeds 0 and 1 at 150 epochs, verdict, export, bundle), once per test binary.
fn promoted_by_hand() -> &'static Utf8PathBuf {
    static DIR: std::sync::OnceLock<Utf8PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let root = Utf8PathBuf::from_path_buf(tempfile::tempdir().unwrap().keep()).unwrap();
        let shard = "results/corpus/shard.jsonl";
        learnable_shard(&root.join(shard), 8);
        let fit = ["--epochs", "150", "--allow-missing-meta"];
        let mut train = vec!["train", "--corpus", shard, "--out-dir", "results/loso"];
        train.extend(["--seeds", "0,1"]);
        train.extend(fit);
        stage_ok(&root, &train);
        stage_ok(&root, &JUDGE_SEEDS_0_1);
        let mut export = vec![
            "export",
            "--corpus",
            shard,
            "--verdict",
            "results/PROMOTE.json",
        ];
        export.extend(["--out-dir", "results/models"]);
        export.extend(fit);
        stage_ok(&root, &export);
        stage_ok(&root, &["bundle", "--out-dir", "results"]);
        root
    })
}

/// A copy of [`promoted_by_hand`]'s `results/` in a new scratch folder.
fn results() -> Scratch {
    let s = Scratch::new();
    let status = std::process::Command::new("cp")
        .args(["-a", promoted_by_hand().join("results").as_str()])
        .arg(s.path())
        .status()
        .unwrap();
    assert!(status.success());
    s
}

/// The one bundle in `dir`.
fn bundle_in(dir: &Utf8Path) -> Utf8PathBuf {
    dir.read_dir_utf8()
        .unwrap()
        .map(|e| e.unwrap().path().to_owned())
        .find(|p| p.as_str().ends_with(".tar.gz"))
        .expect("a bundle")
}

/// Files of the PROMOTE fixture: seed 0's sidecar and model (`export`'s default id), the shard.
const SIDECAR0: &str = "results/models/fr_regressor_v2_ensemble_v1_seed0.json";
const SHARD: &str = "results/corpus/shard.jsonl";

#[test]
fn evaluate_out_never_replaces_its_corpus_or_models() {
    let s = results();
    let root = s.path();
    let shard = s.join(SHARD);
    let models = s.join("results/models");
    let evaluate = |models: &Utf8Path, out: &Utf8Path, force: bool| {
        let mut cmd = kit_at(root);
        cmd.args(["evaluate", "--models", models.as_str()])
            .args(["--corpus", shard.as_str(), "--allow-missing-meta"])
            .args(["--out", out.as_str()]);
        if force {
            cmd.arg("--force");
        }
        cmd
    };
    // b3ec481 wrote the evaluation over its own corpus, exit 0.
    refused(
        &mut evaluate(&models, &shard, false),
        root,
        &["is --corpus"],
    );
    // Every other name of the corpus, even with --force.
    let other_names = [
        respelt(&shard),
        symlink(&shard, &s.join("link.jsonl")),
        hard_link(&shard, &s.join("hard.jsonl")),
    ];
    for name in &other_names {
        refused(&mut evaluate(&models, name, true), root, &["is --corpus"]);
    }
    // The bundle given as --models, and a file in the models folder it reads.
    let bundle = bundle_in(&s.join("results"));
    refused(
        &mut evaluate(&bundle, &bundle, true),
        root,
        &["is --models"],
    );
    let sidecar = s.join(SIDECAR0);
    refused(
        &mut evaluate(&models, &sidecar, true),
        root,
        &["reads from --models"],
    );
    refused(
        &mut evaluate(&models, &models.join("evaluation.json"), true),
        root,
        &["lies inside --models"],
    );
    // An operator's file: refused untouched, replaced with --force.
    let notes = operators_file(&s.join("notes.json"));
    refused(
        &mut evaluate(&models, &notes, false),
        root,
        &["did not write", "--force"],
    );
    ok(&mut evaluate(&models, &notes, true));
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&notes).unwrap()).unwrap();
    assert_eq!(written["kind"], "evaluation");
    // An evaluation the kit wrote is replaced as before, without --force.
    ok(&mut evaluate(&models, &notes, false));
}
