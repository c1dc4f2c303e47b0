//! One command, many boxes: `full --demo` end to end, kill-and-resume giving the same verdict and
//! bundle bytes, and `merge` of overlapping, conflicting, mixed-version and malformed shards.

mod common;
use camino::{Utf8Path, Utf8PathBuf};
use common::*;
use predicates::str::contains;
use std::io::BufRead;

const FULL: &[&str] = &[
    "full",
    "--demo",
    "--frames",
    "12",
    "--seeds",
    "0,1",
    "--epochs",
    "60",
    "--out-dir",
    "out",
];

fn sha(path: &Utf8Path) -> String {
    ensemble_kit::digest::sha256_file(path).unwrap()
}

fn verdict_file(out: &Utf8Path) -> Utf8PathBuf {
    ["PROMOTE.json", "HOLD.json"]
        .iter()
        .map(|n| out.join(n))
        .find(|p| p.exists())
        .expect("a verdict file")
}

/// Runs `full` to completion in `root`; returns (exit code, bundle path).
fn full(root: &Utf8Path) -> (i32, Utf8PathBuf) {
    let out = kit()
        .current_dir(root)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .args(FULL)
        .output()
        .unwrap();
    let code = out.status.code().unwrap();
    assert!(
        code == 0 || code == 1,
        "full failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("verdict: ") && stderr.contains("bundle: "),
        "{stderr}"
    );
    (
        code,
        root.join(String::from_utf8(out.stdout).unwrap().trim()),
    )
}

/// Starts `full` in `root` and kills it once a stderr line contains `marker`.
fn full_killed_at(root: &Utf8Path, marker: &str) {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("ensemble-kit"))
        .current_dir(root)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .args(FULL)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let reached = stderr.lines().any(|line| line.unwrap().contains(marker));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(reached, "the run ended before `{marker}`");
}

#[test]
fn full_demo_ends_with_a_verified_bundle_and_resumes_to_the_same_bytes() {
    let clean = Scratch::new();
    let (code, bundle) = full(clean.path());
    kit().args(["verify", bundle.as_str()]).assert().success();
    let verdict = verdict_file(&clean.join("out"));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(clean.join("out/manifest.json")).unwrap()).unwrap();
    assert!(
        manifest["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == "report.html"),
        "the bundle holds the report: {manifest}"
    );
    assert_eq!(code == 0, verdict.file_name() == Some("PROMOTE.json"));

    let resumed = Scratch::new();
    full_killed_at(resumed.path(), "cell 4/");
    assert!(!resumed.join("out/corpus/shard.jsonl").exists());
    full_killed_at(resumed.path(), "fold 3/");
    assert!(!resumed
        .join("out")
        .join(verdict.file_name().unwrap())
        .exists());
    let (resumed_code, resumed_bundle) = full(resumed.path());
    assert_eq!(resumed_code, code);
    assert_eq!(
        std::fs::read(verdict_file(&resumed.join("out"))).unwrap(),
        std::fs::read(&verdict).unwrap(),
        "verdict bytes"
    );
    assert_eq!(resumed_bundle.file_name(), bundle.file_name());
    assert_eq!(
        sha(&resumed_bundle),
        sha(&bundle),
        "bundle hash after kill-and-resume"
    );
    assert_eq!(
        sha(&resumed.join("out/report.html")),
        sha(&clean.join("out/report.html")),
        "report bytes after kill-and-resume"
    );

    let (again_code, again) = full(resumed.path());
    assert_eq!(
        (again_code, sha(&again)),
        (code, sha(&bundle)),
        "a finished run re-runs to the same bundle"
    );
}

/// A demo shard with the given cqs, 4 frames each.
fn shard(s: &Scratch, name: &str, cqs: &str) -> Utf8PathBuf {
    let path = s.join(&format!("{name}/shard.jsonl"));
    kit()
        .args([
            "corpus",
            "--demo",
            "--frames",
            "4",
            "--cqs",
            cqs,
            "--out",
            path.as_str(),
            "-q",
        ])
        .assert()
        .success();
    path
}

#[test]
fn merge_overlapping_shards_without_duplicates() {
    let s = Scratch::new();
    let (a, b) = (shard(&s, "a", "19,25"), shard(&s, "b", "25,31"));
    let merged = s.join("merged.jsonl");
    kit()
        .args(["merge", a.as_str(), b.as_str(), "--out", merged.as_str()])
        .assert()
        .success()
        .stderr(contains("36 duplicates dropped"));
    let rows = rows_without_timings(&merged);
    assert_eq!(rows.len(), 9 * 3 * 4, "sources × unique cqs × frames");
    assert_eq!(rows.len(), common::rows(&merged).len(), "no duplicate rows");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.join("merged.meta.json")).unwrap())
            .unwrap();
    assert_eq!(meta["shards"].as_array().unwrap().len(), 2);
    assert_eq!(
        meta["shards"][1]["meta"]["kind"], "shard-meta",
        "each shard's provenance is kept"
    );
    kit().args(["validate", merged.as_str()]).assert().success();
    let out = s.join("loso");
    kit()
        .args([
            "train",
            "--corpus",
            a.as_str(),
            b.as_str(),
            "--out-dir",
            out.as_str(),
            "--seeds",
            "0",
            "--epochs",
            "2",
        ])
        .assert()
        .success();
}

#[test]
fn merge_refuses_conflicts_mixed_versions_and_malformed_shards() {
    let s = Scratch::new();
    let (a, b) = (shard(&s, "a", "25"), shard(&s, "b", "25"));
    let merged = s.join("merged.jsonl");

    let text = std::fs::read_to_string(&b).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut row: serde_json::Value = serde_json::from_str(&lines[3]).unwrap();
    row["vmaf"] = (row["vmaf"].as_f64().unwrap() - 1.0).into();
    lines[3] = row.to_string();
    let conflicting = s.join("c/shard.jsonl");
    std::fs::create_dir_all(conflicting.parent().unwrap()).unwrap();
    std::fs::write(&conflicting, lines.join("\n") + "\n").unwrap();
    kit()
        .args([
            "merge",
            a.as_str(),
            conflicting.as_str(),
            "--out",
            merged.as_str(),
        ])
        .assert()
        .code(2)
        .stderr(contains("conflicting rows"))
        .stderr(contains(a.as_str()))
        .stderr(contains(format!("{conflicting}` (line 4)")));

    let meta_path = s.join("b/shard.meta.json");
    let mut meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
    meta["tools"]["vmaf"]["version"] = "3.0.0".into();
    std::fs::write(&meta_path, meta.to_string()).unwrap();
    kit()
        .args(["merge", a.as_str(), b.as_str(), "--out", merged.as_str()])
        .assert()
        .code(2)
        .stderr(contains("different libvmaf versions"))
        .stderr(contains(format!("{b} (libvmaf 3.0.0)")));
    kit()
        .args([
            "merge",
            a.as_str(),
            b.as_str(),
            "--out",
            merged.as_str(),
            "--allow-mixed-vmaf",
        ])
        .assert()
        .success();

    let malformed = s.join("m/shard.jsonl");
    std::fs::create_dir_all(malformed.parent().unwrap()).unwrap();
    std::fs::write(&malformed, "{\"src\": 1}\n").unwrap();
    kit()
        .args([
            "merge",
            a.as_str(),
            malformed.as_str(),
            "--out",
            s.join("m2.jsonl").as_str(),
        ])
        .assert()
        .code(2)
        .stderr(contains(format!("{malformed}:1:")));
    assert!(!s.join("m2.jsonl").exists());
}

#[test]
fn json_message_format_is_pure_ndjson_with_a_schema() {
    let s = Scratch::new();
    let out = kit()
        .current_dir(s.path())
        .args([
            "full",
            "--demo",
            "--frames",
            "4",
            "--seeds",
            "0",
            "--epochs",
            "5",
            "--message-format",
            "json",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    for (i, line) in stdout.lines().enumerate() {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}: {line}", i + 1));
        ensemble_kit::schema::check(
            "progress-event",
            &value,
            Utf8Path::new("stdout"),
            Some(i + 1),
        )
        .unwrap();
        kinds.insert(value["event"].as_str().unwrap().to_owned());
    }
    for kind in [
        "stage-start",
        "stage-finish",
        "cell",
        "fold",
        "verdict",
        "bundle",
    ] {
        assert!(kinds.contains(kind), "no `{kind}` event in:\n{stdout}");
    }
}

// Issue 21 item 3: `full` holds its results folder's lock for the whole run, so a second run
// on the same folder is refused instead of deleting the first one's bundle.
#[test]
fn a_second_full_run_on_a_busy_results_folder_is_refused() {
    let s = Scratch::new();
    let out = s.join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join(ensemble_kit::layout::MARKER), "").unwrap();
    std::fs::write(out.join("PROMOTE.json"), "kept").unwrap();
    let held = std::fs::File::create(out.join(ensemble_kit::layout::LOCK)).unwrap();
    held.lock().unwrap();
    // A real corpus, so that a kit without the lock would run to the end (and replace the
    // other run's files) instead of stopping at a missing input.
    learnable_shard(&s.join("corpus.jsonl"), 8);
    kit()
        .current_dir(s.path())
        .args(["full", "--corpus", "corpus.jsonl", "--allow-missing-meta"])
        .args(["--out-dir", "out"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "another ensemble-kit run is using the results folder `out`",
        ));
    assert_eq!(
        std::fs::read_to_string(out.join("PROMOTE.json")).unwrap(),
        "kept"
    );
}
