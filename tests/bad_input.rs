//! Every bad input of the corpus stage: exit 2, one clear sentence naming the thing and the
//! fix, and no output file left looking complete.

mod common;
use common::*;
use predicates::str::contains;

/// Runs `corpus` into a fresh folder expecting exit 2 with `message`, and checks no shard was left.
fn refused(s: &Scratch, args: &[&str], message: &str) {
    let shard = s.join("out/shard.jsonl");
    kit()
        .arg("corpus")
        .args(args)
        .args(["--out", shard.as_str()])
        .assert()
        .code(2)
        .stderr(contains(message));
    assert!(!shard.exists(), "a refused run left {shard}");
    assert!(!s.join("out/shard.meta.json").exists());
}

fn refs_with(s: &Scratch, files: &[(&str, usize)]) -> camino::Utf8PathBuf {
    let refs = s.join("refs");
    std::fs::create_dir_all(&refs).unwrap();
    for (name, bytes) in files {
        std::fs::write(refs.join(name), vec![0u8; *bytes]).unwrap();
    }
    refs
}

#[test]
fn no_references_at_all() {
    let s = Scratch::new();
    refused(
        &s,
        &[],
        "required arguments were not provided:\n  --ref-dir <DIR>",
    );
    refused(
        &s,
        &["--ref-dir", s.join("refs").as_str(), "--demo"],
        "cannot be used with",
    );
    kit()
        .args(["full", "--out-dir", s.join("results").as_str()])
        .assert()
        .code(2)
        .stderr(contains("give --ref-dir DIR or --demo"));
    // Ready shards stand in for references: the missing shard is what `full` names.
    kit()
        .args(["full", "--corpus", s.join("nope.jsonl").as_str()])
        .args(["--out-dir", s.join("results").as_str()])
        .assert()
        .code(2)
        .stderr(contains("nope.jsonl` does not exist"));
    kit()
        .args(["full", "--corpus", "a.jsonl", "--demo"])
        .assert()
        .code(2)
        .stderr(contains("cannot be used with"));
}

#[test]
fn geometry_flags_of_an_import_need_its_videos() {
    let s = Scratch::new();
    kit()
        .args(["import-corpus", "rows.jsonl", "--width", "320"])
        .args(["--out", s.join("shard.jsonl").as_str()])
        .assert()
        .code(2)
        .stderr(contains("--ref-dir <DIR>"));
}

#[test]
fn missing_ref_dir() {
    let s = Scratch::new();
    refused(
        &s,
        &["--ref-dir", s.join("nope").as_str()],
        "is not an existing folder",
    );
}

#[test]
fn empty_ref_dir() {
    let s = Scratch::new();
    let refs = refs_with(&s, &[("notes.txt", 3)]);
    refused(
        &s,
        &["--ref-dir", refs.as_str()],
        "holds no .yuv or .y4m references",
    );
}

#[test]
fn yuv_that_is_not_whole_frames() {
    let s = Scratch::new();
    let refs = refs_with(&s, &[("clip_64x64_25fps.yuv", 64 * 64 * 3 / 2 * 2 + 5)]);
    refused(
        &s,
        &["--ref-dir", refs.as_str()],
        "not a whole number of 64x64 4:2:0 frames",
    );
}

#[test]
fn unknown_encoder() {
    let s = Scratch::new();
    refused(
        &s,
        &["--demo", "--encoders", "libx264,mpeg4"],
        "unknown encoder `mpeg4`",
    );
}

#[test]
fn encoder_that_ffmpeg_lacks() {
    let s = Scratch::new();
    refused(
        &s,
        &["--demo", "--encoders", "libvvenc"],
        "does not offer the encoder `libvvenc`",
    );
}

#[test]
fn hardware_encoder_without_its_hardware() {
    let s = Scratch::new();
    refused(&s, &["--demo", "--encoders", "h264_nvenc"], "h264_nvenc");
}

#[test]
fn vmaf_path_that_does_not_exist() {
    let s = Scratch::new();
    refused(
        &s,
        &["--demo", "--vmaf", s.join("no-vmaf").as_str()],
        "--vmaf points at",
    );
}

#[test]
fn vmaf_nowhere_to_be_found() {
    let s = Scratch::new();
    let shard = s.join("out/shard.jsonl");
    let path = std::env::var("PATH")
        .unwrap()
        .split(':')
        .filter(|d| !std::path::Path::new(d).join("vmaf").exists())
        .collect::<Vec<_>>()
        .join(":");
    kit()
        .args(["corpus", "--demo", "--out", shard.as_str()])
        .env("ENSEMBLE_KIT_CACHE", s.join("empty-cache"))
        .env("PATH", path)
        .env_remove("ENSEMBLE_KIT_VMAF")
        .assert()
        .code(2)
        .stderr(contains("`vmaf` was not found"))
        .stderr(contains("scripts/bootstrap.sh"));
}

#[test]
fn vmaf_too_old() {
    let s = Scratch::new();
    let old = script(&s.join("vmaf"), "echo 'VMAF version 1.5.3' >&2");
    refused(
        &s,
        &["--demo", "--vmaf", old.as_str()],
        "is libvmaf 1.5.3, but the kit needs libvmaf 2.0 or newer",
    );
}

#[test]
fn source_shorter_than_frames() {
    let s = Scratch::new();
    refused(
        &s,
        &["--demo", "--frames", "1000"],
        "has only 40 frames, fewer than --frames 1000",
    );
}

#[test]
fn unwritable_output() {
    let s = Scratch::new();
    std::fs::write(s.join("a-file"), b"x").unwrap();
    let shard = s.join("a-file/shard.jsonl");
    kit()
        .args(["corpus", "--demo", "--out", shard.as_str()])
        .assert()
        .code(2)
        .stderr(contains("cannot write the shard"));
}

#[test]
fn output_that_is_not_jsonl() {
    let s = Scratch::new();
    let out = s.join("shard.csv");
    kit()
        .args(["corpus", "--demo", "--out", out.as_str()])
        .assert()
        .code(2)
        .stderr(contains("must name a .jsonl file"));
}

#[test]
fn thread_budget_over_the_cores() {
    let s = Scratch::new();
    refused(
        &s,
        &["--demo", "--jobs", "64", "--threads", "64"],
        "exceeds this machine's",
    );
}

#[test]
fn shard_from_another_run_in_the_way() {
    let s = Scratch::new();
    let shard = s.join("out/shard.jsonl");
    kit()
        .args([
            "corpus",
            "--demo",
            "--frames",
            "2",
            "--cqs",
            "19",
            "--out",
            shard.as_str(),
        ])
        .assert()
        .success();
    let before = std::fs::read(&shard).unwrap();
    kit()
        .args([
            "corpus",
            "--demo",
            "--frames",
            "2",
            "--cqs",
            "37",
            "--out",
            shard.as_str(),
        ])
        .assert()
        .code(2)
        .stderr(contains("already holds a shard from another run"))
        .stderr(contains("--force"));
    assert_eq!(
        std::fs::read(&shard).unwrap(),
        before,
        "the other run's shard must be untouched"
    );
    kit()
        .args([
            "corpus",
            "--demo",
            "--frames",
            "2",
            "--cqs",
            "37",
            "--out",
            shard.as_str(),
            "--force",
        ])
        .assert()
        .success();
}

#[test]
fn validate_names_file_line_and_field() {
    let s = Scratch::new();
    let shard = s.join("bad.jsonl");
    let good = r#"{"src":"a","src_sha256":"0000000000000000000000000000000000000000000000000000000000000000","encoder":"libx264","cq":25,"frame_index":0,"enc_bytes":10,"enc_time_ms":1,"vmaf":80.0,"adm2":0.9,"vif_scale0":0.5,"vif_scale1":0.6,"vif_scale2":0.7,"vif_scale3":0.8,"motion2":1.5}"#;
    let next = good.replace("\"frame_index\":0", "\"frame_index\":1");
    let bad = good.replace("\"vmaf\":80.0", "\"vmaf\":180.0");
    std::fs::write(&shard, format!("{good}\n{next}\n{bad}\n")).unwrap();
    kit()
        .args(["validate", shard.as_str()])
        .assert()
        .code(2)
        .stderr(contains(format!("{shard}:3: /vmaf:")))
        .stderr(contains("180.0"));
}

/// A row written as an array holds its values by position only; the schema says "object", and
/// the typed fast path of the reader must not take it (a parity review of the column corpus).
#[test]
fn a_row_written_as_an_array_is_refused_by_validate_and_merge() {
    let s = Scratch::new();
    let shard = s.join("array.jsonl");
    let good = r#"{"src":"a","src_sha256":"0000000000000000000000000000000000000000000000000000000000000000","encoder":"libx264","cq":25,"frame_index":0,"enc_bytes":10,"enc_time_ms":1,"vmaf":80.0,"adm2":0.9,"vif_scale0":0.5,"vif_scale1":0.6,"vif_scale2":0.7,"vif_scale3":0.8,"motion2":1.5}"#;
    let next: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&good.replace("\"frame_index\":0", "\"frame_index\":1")).unwrap();
    let array: Vec<&serde_json::Value> = next.values().collect();
    let array = serde_json::to_string(&array).unwrap();
    std::fs::write(&shard, format!("{good}\n{array}\n")).unwrap();
    kit()
        .args(["validate", shard.as_str()])
        .assert()
        .code(2)
        .stderr(contains(format!("{shard}:2: /:")))
        .stderr(contains("is not of type \"object\""));
    kit()
        .args([
            "merge",
            "--allow-missing-meta",
            "--out",
            s.join("m.jsonl").as_str(),
            shard.as_str(),
        ])
        .assert()
        .code(2)
        .stderr(contains("is not of type \"object\""));
}

#[test]
fn validate_refuses_unknown_documents() {
    let s = Scratch::new();
    let file = s.join("x.json");
    std::fs::write(&file, "{\"hello\": 1}").unwrap();
    kit()
        .args(["validate", file.as_str()])
        .assert()
        .code(2)
        .stderr(contains("/kind"));
}

#[test]
fn a_source_date_epoch_past_year_9999_is_refused_up_front() {
    let s = Scratch::new();
    let refs = refs_with(&s, &[]);
    let loso = s.join("loso");
    seed_file(&loso, 0, &[("a", 0.99), ("b", 0.98)]);
    for epoch in ["253402300800", "18446744073709551615"] {
        kit()
            .env("SOURCE_DATE_EPOCH", epoch)
            .args(["verdict", "--loso-dir", loso.as_str(), "--seeds", "0"])
            .args(["--out-dir", s.join("verdict").as_str()])
            .assert()
            .code(2)
            .stderr(contains(format!("SOURCE_DATE_EPOCH is `{epoch}`")));
        kit()
            .env("SOURCE_DATE_EPOCH", epoch)
            .args(["full", "--ref-dir", refs.as_str()])
            .args(["--out-dir", s.join("results").as_str()])
            .assert()
            .code(2)
            .stderr(contains("SOURCE_DATE_EPOCH"));
        assert!(!s.join("results").exists(), "full started before checking");
        assert!(!s.join("verdict").exists());
    }
    kit()
        .env("SOURCE_DATE_EPOCH", "253402300799")
        .args(["verdict", "--loso-dir", loso.as_str(), "--seeds", "0"])
        .args(["--out-dir", s.join("verdict").as_str()])
        .assert()
        .code(0);
}

#[test]
fn y4m_with_odd_geometry_is_refused_at_discovery() {
    let s = Scratch::new();
    let refs = refs_with(&s, &[]);
    let (w, h) = (175u64, 143u64);
    let mut bytes = format!("YUV4MPEG2 W{w} H{h} F25:1 Ip C420jpeg\nFRAME\n").into_bytes();
    bytes.resize(
        bytes.len() + (w * h + 2 * w.div_ceil(2) * h.div_ceil(2)) as usize,
        128,
    );
    std::fs::write(refs.join("odd.y4m"), bytes).unwrap();
    refused(
        &s,
        &[
            "--ref-dir",
            refs.as_str(),
            "--encoders",
            "libx264",
            "--cqs",
            "30",
        ],
        "175x143 is not a usable 4:2:0 geometry",
    );
}
