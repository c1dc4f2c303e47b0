//! The train stage through the binary: every fold present, rows accounted for, the same bytes
//! whatever `--jobs` is, seeds reused on a re-run, and bad corpora refused.

mod common;
use common::*;
use predicates::str::contains;

/// A small real corpus: the demo references, 6 frames, two cqs.
fn demo_shard(s: &Scratch) -> camino::Utf8PathBuf {
    let shard = s.join("corpus/shard.jsonl");
    kit()
        .args([
            "corpus",
            "--demo",
            "--frames",
            "6",
            "--cqs",
            "19,37",
            "--out",
            shard.as_str(),
            "-q",
        ])
        .assert()
        .success();
    shard
}

fn train(
    shard: &camino::Utf8Path,
    out: &camino::Utf8Path,
    extra: &[&str],
) -> assert_cmd::assert::Assert {
    kit()
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args([
            "train",
            "--corpus",
            shard.as_str(),
            "--out-dir",
            out.as_str(),
            "--seeds",
            "0,1",
            "--epochs",
            "8",
        ])
        .args(extra)
        .assert()
}

#[test]
fn folds_rows_and_bytes_identical_whatever_the_jobs() {
    let s = Scratch::new();
    let shard = demo_shard(&s);
    let n_rows = rows(&shard).len() as u64;
    train(&shard, &s.join("j1"), &["--jobs", "1"]).success();
    train(&shard, &s.join("j2"), &["--jobs", "2"]).success();
    for seed in [0, 1] {
        let name = format!("loso_seed{seed}.json");
        let (a, b) = (
            std::fs::read(s.join("j1").join(&name)).unwrap(),
            std::fs::read(s.join("j2").join(&name)).unwrap(),
        );
        assert_eq!(a, b, "{name} differs between --jobs 1 and --jobs 2");
        let doc: serde_json::Value = serde_json::from_slice(&a).unwrap();
        let folds = doc["folds"].as_array().unwrap();
        assert_eq!(folds.len(), 9, "one fold per demo source");
        for fold in folds {
            assert_eq!(
                fold["n_train"].as_u64().unwrap() + fold["n_val"].as_u64().unwrap(),
                n_rows
            );
        }
        assert_eq!(doc["seed"], seed);
        assert!(doc["mean_plcc"].as_f64().is_some());
        assert!(doc["baseline_mean_plcc"].as_f64().is_some());
        assert_eq!(
            doc["wall_time_s"], 0.0,
            "SOURCE_DATE_EPOCH pins the timing field"
        );
    }
    let a: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.join("j1/loso_seed0.json")).unwrap()).unwrap();
    let b: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.join("j1/loso_seed1.json")).unwrap()).unwrap();
    assert_ne!(
        a["folds"], b["folds"],
        "different seeds must train differently"
    );

    train(&shard, &s.join("j1"), &["--jobs", "2"])
        .success()
        .stderr(contains("seed 0: reusing"))
        .stderr(contains("seed 1: reusing"));
    kit()
        .args(["validate", s.join("j1/loso_seed0.json").as_str()])
        .assert()
        .success();
}

/// One synthetic row whose `adm2` and `motion2` track its VMAF and frame.
fn row(src: &str, encoder: &str, cq: u32, frame: u64, vmaf: f64) -> String {
    let hex: String = src.bytes().map(|b| format!("{b:02x}")).collect();
    format!(
        r#"{{"src":"{src}","src_sha256":"{hex:0>64}","encoder":"{encoder}","cq":{cq},"frame_index":{frame},"enc_bytes":100,"enc_time_ms":1,"vmaf":{vmaf},"adm2":{},"vif_scale0":0.5,"vif_scale1":0.6,"vif_scale2":0.7,"vif_scale3":0.8,"motion2":{}}}"#,
        0.5 + vmaf / 250.0,
        frame as f64 * 0.1
    )
}

/// A hand-written shard (no metadata: the tests that train on it pass --allow-missing-meta).
fn synthetic(s: &Scratch, sources: &[&str], encoder: &str) -> camino::Utf8PathBuf {
    let mut text = String::new();
    for src in sources {
        for cq in [20, 30, 40] {
            for frame in 0..4 {
                text.push_str(&row(
                    src,
                    encoder,
                    cq,
                    frame,
                    100.0 - cq as f64 - frame as f64,
                ));
                text.push('\n');
            }
        }
    }
    let path = s.join("synthetic.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn corpus_with_one_source_is_refused() {
    let s = Scratch::new();
    let shard = synthetic(&s, &["only"], "libx264");
    train(&shard, &s.join("out"), &["--allow-missing-meta"])
        .code(2)
        .stderr(contains(
            "has 1 source(s); leave-one-source-out needs at least 2",
        ));
    assert!(!s.join("out/loso_seed0.json").exists());
}

#[test]
fn unknown_encoders_are_counted() {
    let s = Scratch::new();
    let shard = synthetic(&s, &["a", "b", "c"], "h264_videotoolbox");
    train(&shard, &s.join("out"), &["--allow-missing-meta"])
        .success()
        .stderr(contains("36 row(s) have an encoder outside vocabulary v2"));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.join("out/loso_seed0.json")).unwrap())
            .unwrap();
    assert_eq!(doc["unknown_encoder_rows"], 36);
}

/// Issue 21 item 24: the LOSO file describes the codec block as the reference trainer writes it
/// (and as the kit's own sidecar does): 14 columns, vocabulary version the integer 2.
#[test]
fn loso_files_describe_the_codec_block_as_the_reference_does() {
    let s = Scratch::new();
    let shard = synthetic(&s, &["a", "b"], "libx264");
    train(&shard, &s.join("out"), &["--allow-missing-meta"]).success();
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.join("out/loso_seed0.json")).unwrap())
            .unwrap();
    assert_eq!(doc["num_codecs"], serde_json::json!(14));
    assert_eq!(doc["encoder_vocab_version"], serde_json::json!(2));
}

#[test]
fn non_finite_feature_is_refused_with_file_line_and_field() {
    let s = Scratch::new();
    let shard = synthetic(&s, &["a", "b"], "libx264");
    let text = std::fs::read_to_string(&shard).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[4] = lines[4].replace("\"motion2\":0", "\"motion2\":null");
    std::fs::write(&shard, lines.join("\n")).unwrap();
    // The shard has no metadata; with the flag, a kit without the bound panics in training.
    train(&shard, &s.join("out"), &["--allow-missing-meta"])
        .code(2)
        .stderr(contains(format!("{shard}:5: /motion2:")));
    lines[4] = lines[4].replace("\"motion2\":null", "\"motion2\":NaN");
    std::fs::write(&shard, lines.join("\n")).unwrap();
    train(&shard, &s.join("out"), &[])
        .code(2)
        .stderr(contains(format!("{shard}:5: /: not valid JSON")));
}

#[test]
fn missing_corpus_is_refused() {
    let s = Scratch::new();
    train(&s.join("nope.jsonl"), &s.join("out"), &[])
        .code(2)
        .stderr(contains("nope.jsonl` does not exist"));
}

#[test]
fn a_feature_beyond_libvmafs_range_is_refused_not_a_panic() {
    let s = Scratch::new();
    let shard = synthetic(&s, &["a", "b"], "libx264");
    let text = std::fs::read_to_string(&shard).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert!(lines[4].contains("\"motion2\":0"));
    lines[4] = lines[4].replacen("\"motion2\":0", "\"motion2\":1e200", 1);
    std::fs::write(&shard, lines.join("\n")).unwrap();
    // The shard has no metadata; with the flag, a kit without the bound panics in training.
    train(&shard, &s.join("out"), &["--allow-missing-meta"])
        .code(2)
        .stderr(contains(format!("{shard}:5: /motion2:")));
}
