//! `import-corpus` end to end: a reference-format corpus (SPEC §5, written by hand in
//! `tests/fixtures/reference/`) becomes a golden kit shard and `imported-shard` metadata; with
//! `--ref-dir` its rows carry the videos' SHA-256, without it markers no real video has; the
//! shard trains, merges honestly, and a bad reference row is refused by file, line and field.

mod common;
use camino::{Utf8Path, Utf8PathBuf};
use common::*;
use predicates::prelude::*;
use predicates::str::contains;

const SOURCES: [&str; 3] = ["crowd", "harbour", "park"];

fn reference() -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reference/corpus.jsonl")
}

/// Runs `import-corpus REFERENCE --out OUT EXTRA…` with a pinned clock; returns the command.
fn import(reference: &Utf8Path, out: &Utf8Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    kit()
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .arg("import-corpus")
        .arg(reference)
        .arg("--out")
        .arg(out)
        .args(extra)
        .assert()
}

/// Tiny raw videos named as the fixture's sources (64x36, so imports pass --width/--height).
fn videos(s: &Scratch, names: &[&str]) -> Utf8PathBuf {
    let dir = s.join("refs");
    std::fs::create_dir_all(&dir).unwrap();
    for (i, name) in names.iter().enumerate() {
        let graph = format!("testsrc2=size=64x36:rate=25,hue=h={}", 40 * i);
        render_raw(&dir, &format!("{name}.yuv"), &graph, 2);
    }
    dir
}

fn meta(shard: &Utf8Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(shard.with_extension("meta.json")).unwrap())
        .unwrap()
}

#[test]
fn reference_rows_become_a_golden_shard_with_imported_provenance() {
    let s = Scratch::new();
    let out = s.join("imported.jsonl");
    import(&reference(), &out, &[]).success();
    golden(
        "import-shard.jsonl",
        &std::fs::read_to_string(&out).unwrap(),
    );
    golden(
        "import-shard.meta.json",
        &std::fs::read_to_string(out.with_extension("meta.json")).unwrap(),
    );
    // Timings are rounded half away from zero; nothing else changes.
    let rows = rows(&out);
    let times: Vec<u64> = rows
        .iter()
        .step_by(3)
        .map(|r| r["enc_time_ms"].as_u64().unwrap())
        .collect();
    assert_eq!(times, [185, 121, 97, 67, 231, 140]);
    let given = common::rows(&reference());
    for (mut row, original) in rows.into_iter().zip(given) {
        let row = row.as_object_mut().unwrap();
        row.remove("src_sha256");
        row.remove("enc_time_ms");
        let mut original = original;
        original.as_object_mut().unwrap().remove("enc_time_ms");
        assert_eq!(serde_json::Value::Object(row.clone()), original);
    }
    // The same import again is a no-op; a different one needs --force.
    import(&reference(), &out, &[]).success();
    let other = s.join("other.jsonl");
    let text = std::fs::read_to_string(reference()).unwrap();
    std::fs::write(&other, text.lines().take(6).collect::<Vec<_>>().join("\n")).unwrap();
    import(&other, &out, &[])
        .code(2)
        .stderr(contains("already holds a different shard").and(contains("--force")));
    import(&other, &out, &["--force"]).success();
    assert_eq!(meta(&out)["n_rows"], 6);
}

#[test]
fn ref_dir_gives_the_videos_hashes_and_markers_never_equal_them() {
    let s = Scratch::new();
    let dir = videos(&s, &SOURCES);
    let known = s.join("known.jsonl");
    let geometry = ["--ref-dir", dir.as_str(), "--width", "64", "--height", "36"];
    import(&reference(), &known, &geometry).success();
    let unknown = s.join("unknown.jsonl");
    import(&reference(), &unknown, &[]).success();

    let real: Vec<String> = SOURCES
        .iter()
        .map(|n| ensemble_kit::digest::sha256_file(&dir.join(format!("{n}.yuv"))).unwrap())
        .collect();
    for (source, sha) in meta(&known)["sources"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&real)
    {
        assert_eq!(source["sha256"], sha.as_str());
        assert_eq!(source["known"], true);
    }
    for row in common::rows(&known) {
        let i = SOURCES.iter().position(|n| row["src"] == *n).unwrap();
        assert_eq!(row["src_sha256"], real[i]);
    }
    for source in meta(&unknown)["sources"].as_array().unwrap() {
        assert_eq!(source["known"], false);
        assert!(!real.contains(&source["sha256"].as_str().unwrap().to_owned()));
    }
    // Same rows apart from the hashes.
    let strip = |shard: &Utf8Path| {
        let mut rows = common::rows(shard);
        rows.iter_mut().for_each(|r| {
            r.as_object_mut().unwrap().remove("src_sha256");
        });
        rows
    };
    assert_eq!(strip(&known), strip(&unknown));
    // Never merged by hash: the same source names with unknown videos are refused, with the fix.
    kit()
        .args(["merge", known.as_str(), unknown.as_str(), "--out"])
        .arg(s.join("merged.jsonl"))
        .assert()
        .code(2)
        .stderr(contains("re-import it with --ref-dir"));

    // A source without a video in --ref-dir is named.
    std::fs::remove_file(dir.join("park.yuv")).unwrap();
    import(&reference(), &s.join("partial.jsonl"), &geometry)
        .code(2)
        .stderr(contains("source `park`").and(contains("has no video in --ref-dir")));
}

#[test]
fn imported_shards_validate_train_and_merge_with_an_unknown_libvmaf() {
    let s = Scratch::new();
    let shard = s.join("imported.jsonl");
    import(&reference(), &shard, &[]).success();
    kit()
        .arg("validate")
        .arg(&shard)
        .arg(shard.with_extension("meta.json"))
        .assert()
        .success()
        .stdout(contains("libvmaf version is unknown").and(contains("ok (imported-shard)")));
    kit()
        .args(["train", "--corpus", shard.as_str(), "--out-dir"])
        .arg(s.join("loso"))
        .args(["--seeds", "0", "--epochs", "5", "-q"])
        .assert()
        .success();
    assert!(s.join("loso/loso_seed0.json").is_file());

    let merged = s.join("merged.jsonl");
    kit()
        .args(["merge", shard.as_str(), "--out", merged.as_str()])
        .assert()
        .success();
    let merged_meta = meta(&merged);
    assert_eq!(
        merged_meta["vmaf_versions"],
        serde_json::json!(["unknown (imported from the reference kit)"])
    );
    assert_eq!(
        merged_meta["imported_shards"],
        serde_json::json!([shard.as_str()])
    );
    assert_eq!(
        merged_meta["shards"][0]["imported"]["kind"],
        "imported-shard"
    );
    // A merge of that merge still knows an import is inside.
    let again = s.join("again.jsonl");
    kit()
        .args(["merge", merged.as_str(), "--out", again.as_str()])
        .assert()
        .success();
    assert_eq!(
        meta(&again)["imported_shards"],
        serde_json::json!([shard.as_str()])
    );

    // The metadata is checked against the shard like any other.
    let text = std::fs::read_to_string(&shard).unwrap();
    std::fs::write(
        &shard,
        text.lines().skip(1).collect::<Vec<_>>().join("\n") + "\n",
    )
    .unwrap();
    kit()
        .args(["train", "--corpus", shard.as_str(), "--out-dir"])
        .arg(s.join("loso2"))
        .assert()
        .code(2)
        .stderr(contains("/n_rows"));
}

#[test]
fn a_bad_reference_row_is_named_by_file_line_and_field() {
    let s = Scratch::new();
    let text = std::fs::read_to_string(reference()).unwrap();
    let case = |name: &str, line: usize, from: &str, to: &str| {
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        assert!(lines[line - 1].contains(from));
        lines[line - 1] = lines[line - 1].replace(from, to);
        let path = s.join(name);
        std::fs::write(&path, lines.join("\n")).unwrap();
        let out = s.join(&format!("{name}.out.jsonl"));
        let refused = import(&path, &out, &[]).code(2);
        assert!(!out.exists());
        (path, refused)
    };
    let (path, refused) = case(
        "negative.jsonl",
        3,
        "\"enc_time_ms\": 184.5",
        "\"enc_time_ms\": -1.5",
    );
    refused.stderr(contains(format!("{path}:3: /enc_time_ms")));
    let (path, refused) = case("nosrc.jsonl", 5, "\"src\": \"crowd\", ", "");
    refused.stderr(contains(format!("{path}:5: /")).and(contains("src")));
    let (path, refused) = case("twice.jsonl", 2, "\"cq\": 19", "\"cq\": 19, \"cq\": 25");
    refused.stderr(contains(format!("{path}:2:")));
}

#[test]
fn rows_without_size_and_timing_import_and_say_so() {
    let s = Scratch::new();
    let text = std::fs::read_to_string(reference()).unwrap();
    let bare = s.join("bare.jsonl");
    let stripped: Vec<String> = text
        .lines()
        .map(|l| {
            let mut row: serde_json::Value = serde_json::from_str(l).unwrap();
            let row = row.as_object_mut().unwrap();
            row.remove("enc_bytes");
            row.remove("enc_time_ms");
            serde_json::to_string(row).unwrap()
        })
        .collect();
    std::fs::write(&bare, stripped.join("\n") + "\n").unwrap();
    let shard = s.join("imported.jsonl");
    import(&bare, &shard, &[]).success();
    assert_eq!(
        meta(&shard)["not_recorded"],
        serde_json::json!(["enc_bytes", "enc_time_ms"])
    );
    let first = &rows(&shard)[0];
    assert_eq!(
        (first["enc_bytes"].as_u64(), first["enc_time_ms"].as_u64()),
        (Some(0), Some(0))
    );
    kit()
        .arg("validate")
        .arg(&shard)
        .arg(shard.with_extension("meta.json"))
        .assert()
        .success();
    // A complete reference corpus records nothing as absent.
    let full = s.join("full.jsonl");
    import(&reference(), &full, &[]).success();
    assert!(meta(&full).get("not_recorded").is_none());
}

#[test]
fn a_frame_given_twice_with_different_values_is_refused_at_import() {
    let s = Scratch::new();
    let text = std::fs::read_to_string(reference()).unwrap();
    let second = text.lines().nth(1).unwrap();
    let twice = s.join("twice.jsonl");
    std::fs::write(&twice, format!("{text}{second}\n")).unwrap();
    let shard = s.join("twice.out.jsonl");
    import(&twice, &shard, &[]).success();
    assert_eq!(
        rows(&shard).len(),
        text.lines().count(),
        "an identical repeat is one row"
    );
    kit()
        .arg("validate")
        .arg(&shard)
        .arg(shard.with_extension("meta.json"))
        .assert()
        .success();

    let changed = second.replace("\"vmaf\": 91.58", "\"vmaf\": 20.0");
    assert_ne!(changed, second);
    let clash = s.join("clash.jsonl");
    std::fs::write(&clash, format!("{text}{changed}\n")).unwrap();
    let out = s.join("clash.out.jsonl");
    let last = text.lines().count() + 1;
    import(&clash, &out, &[])
        .code(2)
        .stderr(contains(format!("{clash}:{last}:")))
        .stderr(contains("frame 1 of line 2 with different values"));
    assert!(!out.exists());
}

#[test]
fn a_feature_outside_libvmafs_range_is_refused_at_import() {
    let s = Scratch::new();
    let text = std::fs::read_to_string(reference()).unwrap();
    let huge = s.join("huge.jsonl");
    std::fs::write(
        &huge,
        text.replacen("\"motion2\": 2.4", "\"motion2\": 1e200", 1),
    )
    .unwrap();
    let out = s.join("huge.out.jsonl");
    import(&huge, &out, &[])
        .code(2)
        .stderr(contains(format!("{huge}:2: /motion2")));
    assert!(!out.exists());
}
