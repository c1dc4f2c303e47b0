//! Bundles outlive upgrades (issue 29 item 6): the recipe is recorded as data (a revision and
//! its parameters), not only in a key that binds the kit version, so the next release verifies,
//! compares and retrains this release's bundles, and names the kit to use for a revision it does
//! not train — never "invalid".
//!
//! The next release is this code built as one (`examples/next_release.rs`, which `cargo test`
//! builds beside the kit), so the test never rots as versions move on.

mod common;
use camino::{Utf8Path, Utf8PathBuf};
use common::*;
use predicates::str::contains;

/// The kit built as its next minor release.
fn next_release() -> assert_cmd::Command {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("examples")
        .join("next_release");
    assert!(
        path.is_file(),
        "{} is missing: `cargo test` builds it (or `cargo build --release --examples`)",
        path.display()
    );
    let mut command = assert_cmd::Command::new(path);
    command.env("SOURCE_DATE_EPOCH", EPOCH);
    command
}

/// This release's version and the next one's.
fn versions() -> (String, String) {
    let ours = env!("CARGO_PKG_VERSION").to_owned();
    let out = next_release().arg("--version").output().unwrap();
    let next = String::from_utf8(out.stdout).unwrap();
    let next = next
        .trim()
        .strip_prefix("ensemble-kit ")
        .unwrap()
        .to_owned();
    assert_ne!(ours, next);
    (ours, next)
}

/// Bundles a results folder with this release and returns the bundle.
fn bundle(root: &Utf8Path, results: &str) -> Utf8PathBuf {
    let out = stage_ok(root, &["bundle", "--out-dir", results]);
    root.join(String::from_utf8(out.stdout).unwrap().trim())
}

#[test]
fn the_next_release_verifies_compares_and_retrains_this_releases_bundle() {
    let (ours, next) = versions();
    let s = copy_of_promoted();
    let ours_bundle = bundle(s.path(), "results");
    next_release()
        .current_dir(s.path())
        .args(["verify", ours_bundle.as_str()])
        .assert()
        .success()
        .stdout(contains(format!(
            "made by ensemble-kit {ours}, recipe revision 3"
        )));
    next_release()
        .current_dir(s.path())
        .args(["verify", "--retrain", ours_bundle.as_str()])
        .assert()
        .success()
        .stdout(contains("retrain identical"));

    // The same experiment run by the next release: its bundle confirms this release's.
    let again = s.join("again");
    std::fs::create_dir_all(again.join("corpus")).unwrap();
    for file in ["shard.jsonl", "shard.meta.json"] {
        std::fs::copy(
            s.join("results/corpus").join(file),
            again.join("corpus").join(file),
        )
        .unwrap();
    }
    let shard = again.join("corpus/shard.jsonl");
    for args in [
        vec![
            "train",
            "--corpus",
            shard.as_str(),
            "--out-dir",
            "again/loso",
            "--seeds",
            "0,1",
        ],
        vec![
            "verdict",
            "--loso-dir",
            "again/loso",
            "--seeds",
            "0,1",
            "--out-dir",
            "again",
        ],
        vec![
            "export",
            "--corpus",
            shard.as_str(),
            "--verdict",
            "again/PROMOTE.json",
            "--out-dir",
            "again/models",
        ],
        vec!["bundle", "--out-dir", "again"],
    ] {
        next_release()
            .current_dir(s.path())
            .args(&args)
            .arg("-q")
            .assert()
            .success();
    }
    let next_bundle = std::fs::read_dir(&again)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .unwrap();
    let next_bundle = Utf8PathBuf::from_path_buf(next_bundle).unwrap();
    kit()
        .current_dir(s.path())
        .args(["verify", next_bundle.as_str()])
        .assert()
        .success()
        .stdout(contains(format!(
            "made by ensemble-kit {next}, recipe revision 3"
        )));
    let compared = next_release()
        .current_dir(s.path())
        .args(["compare", ours_bundle.as_str(), next_bundle.as_str()])
        .assert()
        .success()
        .stdout(contains("CONFIRMS"))
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(compared).unwrap();
    let kit_line = text.lines().find(|l| l.contains("kit version")).unwrap();
    assert!(
        kit_line.contains(&ours) && kit_line.contains(&next) && kit_line.contains("differs"),
        "{text}"
    );
    let revision_line = text
        .lines()
        .find(|l| l.contains("recipe revision"))
        .unwrap();
    assert!(revision_line.contains("[same]"), "{text}");
}

#[test]
fn a_revision_this_kit_does_not_train_verifies_and_names_the_kit_to_retrain_with() {
    let s = copy_of_promoted();
    for seed in [0, 1] {
        let path = s.join(&format!("results/loso/loso_seed{seed}.json"));
        let mut doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        doc["recipe_revision"] = 99.into();
        doc["kit_version"] = "9.9.0".into();
        rekey(&mut doc);
        std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
    }
    stage_ok(s.path(), &JUDGE_SEEDS_0_1);
    let bundle = bundle(s.path(), "results");
    for kit in [kit(), next_release()] {
        let mut kit = kit;
        kit.current_dir(s.path())
            .args(["verify", bundle.as_str()])
            .assert()
            .success()
            .stdout(contains("made by ensemble-kit 9.9.0, recipe revision 99"));
    }
    let refused = next_release()
        .current_dir(s.path())
        .args(["verify", "--retrain", bundle.as_str()])
        .assert()
        .code(5)
        .stderr(contains("retrain with ensemble-kit 9.9.0"))
        .get_output()
        .stderr
        .clone();
    let text = String::from_utf8(refused).unwrap();
    assert!(!text.contains("invalid"), "{text}");
}

/// A bundle made by kit 0.1.0 at b3ec481, before seed files recorded their revision (`full
/// --demo` with `SOURCE_DATE_EPOCH=1700000000`): it still verifies and retrains to the same
/// bytes.
#[test]
fn a_bundle_made_before_revisions_were_recorded_verifies_and_retrains() {
    let bundle = Utf8PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/bundles/b3ec481-demo.tar.gz"
    ));
    let s = Scratch::new();
    for mut kit in [kit(), next_release()] {
        kit.current_dir(s.path())
            .args(["verify", bundle.as_str()])
            .assert()
            .success()
            .stdout(contains(
                "made by ensemble-kit 0.1.0, recipe revision 3 (its key's; not recorded), its stability interval from a normal model of the per-seed mean PLCC",
            ));
    }
    next_release()
        .current_dir(s.path())
        .args(["verify", "--retrain", bundle.as_str()])
        .assert()
        .success()
        .stdout(contains(
            "retrain identical (8 seed files, 72 folds, 5 models)",
        ));
}
