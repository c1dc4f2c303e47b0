//! Bounded against hostile input (issue 30, Deliver 3): a bundle, a models folder or a sidecar
//! written by an attacker — members edited, `manifest.json`'s hashes recomputed, re-bundled with
//! the kit itself — cannot crash the owner's checks, keep them running without end, leave files
//! behind in TMPDIR, or name files that are gone. Each test was seen failing on b3ec481.

mod common;
use camino::{Utf8Path, Utf8PathBuf};
use common::*;
use serde_json::Value;

const MODEL0: &str = "results/models/fr_regressor_v2_ensemble_v1_seed0";

fn read_json(path: &Utf8Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn write_json(path: &Utf8Path, value: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap()).unwrap();
}

/// `bundle --out-dir results` in `root`, as an attacker re-bundles an edited results folder
/// (the kit recomputes the manifest's hashes); the bundle's path.
fn rebundle(root: &Utf8Path) -> Utf8PathBuf {
    let out = stage_ok(root, &["bundle", "--out-dir", "results"]);
    root.join(String::from_utf8(out.stdout).unwrap().trim())
}

// ---------------------------------------------------------------------------------------------
// Recipes read from a bundle are held to the kit's ranges before they size anything.

/// `verify --retrain BUNDLE ARGS` in `root`, given at most `limit` (a retrain that would run
/// for ever is killed: `None`).
fn retrain(root: &Utf8Path, bundle: &Utf8Path, args: &[&str], secs: u64) -> (Option<i32>, String) {
    let mut cmd = kit_process();
    cmd.current_dir(root)
        .args(["verify", "--retrain", bundle.as_str()])
        .args(args);
    let (code, _, stderr) = run_for(cmd, std::time::Duration::from_secs(secs));
    (code, stderr)
}

#[test]
fn sidecar_recipes_out_of_range_are_refused_before_any_training() {
    for (field, value, shown) in [
        (
            "batch_size",
            serde_json::json!(1_000_000_000_000_000u64),
            "recipe batch_size 1000000000000000 is outside 1..=4096",
        ),
        (
            "batch_size",
            serde_json::json!(1u64 << 62),
            "recipe batch_size 4611686018427387904 is outside 1..=4096",
        ),
        (
            "epochs",
            serde_json::json!(1_000_000_000_000u64),
            "recipe epochs 1000000000000 is outside 1..=10000",
        ),
    ] {
        let s = copy_of_promoted();
        let sidecar = s.join(&format!("{MODEL0}.json"));
        let mut doc = read_json(&sidecar);
        doc["training_recipe"][field] = value;
        write_json(&sidecar, &doc);
        let bundle = rebundle(s.path());
        let started = std::time::Instant::now();
        let (code, stderr) = retrain(s.path(), &bundle, &[], 120);
        assert_eq!(code, Some(2), "{field}: {stderr}");
        assert!(stderr.contains(shown), "{stderr}");
        // Named as the bundle's member, never by the temporary folder it was read from.
        assert!(
            stderr.contains(&format!(
                "{bundle}!models/fr_regressor_v2_ensemble_v1_seed0.json"
            )),
            "{stderr}"
        );
        assert!(!stderr.contains("retraining"), "it trained first: {stderr}");
        assert!(started.elapsed().as_secs() < 60);
    }
}

#[test]
fn loso_files_claiming_a_billion_epochs_with_a_recomputed_key_are_refused() {
    let s = copy_of_promoted();
    let results = s.join("results");
    for seed in [0, 1] {
        let path = results.join(format!("loso/loso_seed{seed}.json"));
        let mut doc = read_json(&path);
        doc["epochs"] = 1_000_000_000u64.into();
        rekey(&mut doc);
        write_json(&path, &doc);
    }
    // The verdict's experiment says the same (it is derived from the LOSO files and checked).
    let verdict = results.join("PROMOTE.json");
    let mut doc = read_json(&verdict);
    doc["experiment"]["recipe"]["epochs"] = 1_000_000_000u64.into();
    write_json(&verdict, &doc);
    let bundle = forge_bundle(&results, &s.join("forged.tar.gz"), None);
    let (code, stderr) = retrain(s.path(), &bundle, &[], 120);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("loso/loso_seed0.json: /epochs: 1000000000 is outside 1..=10000"),
        "{stderr}"
    );
}

#[test]
fn retrain_says_what_it_will_cost_and_needs_leave_past_the_limit() {
    let s = copy_of_promoted();
    let results = s.join("results");
    // Within range, but 50 times the training: a few CPU minutes on the demo corpus.
    for seed in [0, 1] {
        let path = results.join(format!("loso/loso_seed{seed}.json"));
        let mut doc = read_json(&path);
        doc["epochs"] = 10_000u64.into();
        rekey(&mut doc);
        write_json(&path, &doc);
    }
    let verdict = results.join("PROMOTE.json");
    let mut doc = read_json(&verdict);
    doc["experiment"]["recipe"]["epochs"] = 10_000u64.into();
    write_json(&verdict, &doc);
    let bundle = forge_bundle(&results, &s.join("forged.tar.gz"), None);
    let (code, stderr) = retrain(s.path(), &bundle, &["--max-retrain-minutes", "1"], 60);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("row-epochs per second one core trains here"),
        "{stderr}"
    );
    assert!(
        stderr.contains("more than --max-retrain-minutes 1 allows; nothing was trained"),
        "{stderr}"
    );
    // The shipped bundle: the estimate is printed before the training, which then runs.
    let shipped = copy_of_promoted();
    let good = rebundle(shipped.path());
    let (code, stderr) = retrain(s.path(), &good, &[], 600);
    assert_eq!(code, Some(0), "{stderr}");
    let estimate = stderr.find("CPU time").expect("an estimate");
    let training = stderr.find("retraining 2 seed file(s)").expect("training");
    assert!(estimate < training, "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// A stopped run leaves nothing in TMPDIR.

/// The entries of `dir`.
fn entries(dir: &Utf8Path) -> Vec<String> {
    let mut names: Vec<String> = dir
        .read_dir_utf8()
        .unwrap()
        .map(|e| e.unwrap().file_name().to_owned())
        .collect();
    names.sort();
    names
}

/// Starts `verify --retrain BUNDLE` with its own TMPDIR and waits until it is training.
fn retraining(bundle: &Utf8Path, tmp: &Utf8Path, log: &Utf8Path) -> std::process::Child {
    let mut child = kit_process()
        .args(["verify", "--retrain", bundle.as_str()])
        .env("TMPDIR", tmp)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    for _ in 0..600 {
        if std::fs::read_to_string(log)
            .unwrap()
            .contains("seed file(s)")
        {
            return child;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!(
        "it never started training: {}",
        std::fs::read_to_string(log).unwrap()
    );
}

fn signal(child: &std::process::Child, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_stopped_retrain_leaves_nothing_in_tmpdir() {
    let s = copy_of_promoted();
    let bundle = rebundle(s.path());
    let tmp = s.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let log = s.join("log");
    for stop in ["TERM", "INT"] {
        let mut child = retraining(&bundle, &tmp, &log);
        assert!(!entries(&tmp).is_empty(), "the extraction is in TMPDIR");
        signal(&child, stop);
        let status = child.wait().unwrap();
        assert!(!status.success());
        assert_eq!(entries(&tmp), Vec::<String>::new(), "SIG{stop} left these");
    }
    // SIGKILL runs no code: what it leaves is removed by the next run that needs TMPDIR.
    let mut child = retraining(&bundle, &tmp, &log);
    signal(&child, "KILL");
    child.wait().unwrap();
    let left = entries(&tmp);
    assert!(!left.is_empty());
    kit()
        .args(["evaluate", "--models", bundle.as_str(), "--corpus"])
        .arg(s.join("results/corpus/shard.jsonl"))
        .env("TMPDIR", &tmp)
        .assert()
        .success();
    assert_eq!(
        entries(&tmp),
        Vec::<String>::new(),
        "the SIGKILL's {left:?} are still there"
    );
}

// ---------------------------------------------------------------------------------------------
// Refusals name bundle members, never the temporary folder they were read from.

#[test]
fn an_audit_refusal_names_the_bundle_member_not_a_staging_file() {
    let s = Scratch::new();
    let out = kit()
        .current_dir(s.path())
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .args(["full", "--demo", "--frames", "6", "--encoders", "libx264"])
        .args(["--cqs", "25,37", "--seeds", "0,1", "--epochs", "40"])
        .args(["--stability", "0", "--out-dir", "results", "-q"])
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    let results = s.join("results");
    let meta_path = results.join("corpus/shard.meta.json");
    let mut meta = read_json(&meta_path);
    let refs = Utf8PathBuf::from(meta["ref_dir"].as_str().unwrap());
    let refs = if refs.is_absolute() {
        refs
    } else {
        s.join(refs.as_str())
    };
    // Metadata `verify` reads leniently and the audit reads strictly.
    meta["settings"]["audit_cells"] = "three".into();
    write_json(&meta_path, &meta);
    let bundle = forge_bundle(&results, &s.join("forged.tar.gz"), None);
    let tmp = s.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let out = kit()
        .args([
            "verify",
            "--audit",
            "--ref-dir",
            refs.as_str(),
            bundle.as_str(),
        ])
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{bundle}!corpus/shard.meta.json: /settings/audit_cells"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains(tmp.as_str()), "a staging path: {stderr}");
}
