//! Every hardware family's corpus path exercised without the hardware: the platform is faked with
//! `KIT_FAKE_*`, and `tests/fixtures/standin-ffmpeg.sh` stands in for an ffmpeg with those
//! encoders (each hardware encode is performed by libx264 at the same quality). Everything after
//! the encode — decode, streaming into the real vmaf, frame counting, rows, shard metadata — runs
//! for real, and the recorded argv must match the golden command lines.

mod common;
use camino::Utf8PathBuf;
use common::*;

struct Box {
    tag: &'static str,
    fakes: &'static [(&'static str, &'static str)],
}

const BOXES: &[Box] = &[
    Box {
        tag: "linux-x86_64-cuda",
        fakes: &[
            ("KIT_FAKE_UNAME_S", "Linux"),
            ("KIT_FAKE_UNAME_M", "x86_64"),
            ("KIT_FAKE_HAS_NVIDIA_SMI", "1"),
            ("KIT_FAKE_HAS_IHD", "0"),
        ],
    },
    Box {
        tag: "linux-x86_64-sycl",
        fakes: &[
            ("KIT_FAKE_UNAME_S", "Linux"),
            ("KIT_FAKE_UNAME_M", "x86_64"),
            ("KIT_FAKE_HAS_NVIDIA_SMI", "0"),
            ("KIT_FAKE_HAS_IHD", "1"),
        ],
    },
    Box {
        tag: "linux-x86_64-vulkan",
        fakes: &[
            ("KIT_FAKE_UNAME_S", "Linux"),
            ("KIT_FAKE_UNAME_M", "x86_64"),
            ("KIT_FAKE_HAS_NVIDIA_SMI", "0"),
            ("KIT_FAKE_HAS_IHD", "0"),
        ],
    },
    Box {
        tag: "darwin-arm64-cpu",
        fakes: &[
            ("KIT_FAKE_UNAME_S", "Darwin"),
            ("KIT_FAKE_UNAME_M", "arm64"),
            ("KIT_FAKE_HAS_VIDEOTOOLBOX", "1"),
        ],
    },
    Box {
        tag: "darwin-x86_64-cpu",
        fakes: &[
            ("KIT_FAKE_UNAME_S", "Darwin"),
            ("KIT_FAKE_UNAME_M", "x86_64"),
            ("KIT_FAKE_HAS_VIDEOTOOLBOX", "1"),
        ],
    },
];

/// A recorded argv with the run's paths and sizes replaced by the goldens' placeholders.
fn normalise(line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut out = vec!["ffmpeg".to_owned()];
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        let next = words.get(i + 1).copied();
        match (w, next) {
            ("-i", Some(_)) => out.extend(["-i".into(), "{source}".into()]),
            ("-video_size", Some(_)) => out.extend(["-video_size".into(), "1920x1080".into()]),
            ("-framerate", Some(_)) => out.extend(["-framerate".into(), "25".into()]),
            ("-frames:v", Some(_)) => out.extend(["-frames:v".into(), "250".into()]),
            _ => {
                out.push(if i == words.len() - 1 {
                    "{encoded}".into()
                } else {
                    w.to_owned()
                });
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    out.join(" ")
}

fn golden_line(encoder: &str, cq: u32) -> String {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/argv.txt"
    ))
    .unwrap();
    let prefix = format!("encode {encoder} cq{cq}: ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no golden for {prefix}"))
        .replace('\'', "")
}

/// The real vmaf the kit would use (the bootstrap cache, else PATH).
fn real_vmaf() -> String {
    let cache = std::env::var("ENSEMBLE_KIT_CACHE")
        .map(Utf8PathBuf::from)
        .unwrap_or_else(|_| {
            Utf8PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/ensemble-kit")
        });
    let cached = cache.join("libvmaf-2.3.1/bin/vmaf");
    if cached.is_file() {
        return cached.to_string();
    }
    "vmaf".into()
}

fn fixture(name: &str) -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `corpus` on the demo (3 frames, cq 25) as box `b`, through the stand-in ffmpeg that records
/// hardware encodes in `log`.
fn standin_corpus(
    b: &Box,
    shard: &camino::Utf8Path,
    log: &camino::Utf8Path,
) -> assert_cmd::Command {
    let mut cmd = kit();
    cmd.args([
        "corpus",
        "--demo",
        "--frames",
        "3",
        "--cqs",
        "25",
        "--out",
        shard.as_str(),
    ])
    .args(["--ffmpeg", fixture("standin-ffmpeg.sh").as_str()])
    .env("STANDIN_REAL_FFMPEG", real_ffmpeg())
    .env("STANDIN_ARGV_LOG", log);
    for (k, v) in b.fakes {
        cmd.env(k, v);
    }
    cmd
}

fn run_box(b: &Box) {
    let s = Scratch::new();
    let log = s.join("argv.log");
    let shard = s.join("shard.jsonl");
    let mut cmd = standin_corpus(b, &shard, &log);
    cmd.arg("-q");
    let stderr = String::from_utf8(cmd.assert().success().get_output().stderr.clone()).unwrap();
    kit().args(["validate", shard.as_str()]).assert().success();
    if b.tag.ends_with("cuda") {
        assert!(
            stderr.contains("built without CUDA; scoring on the CPU"),
            "never silently: {stderr}"
        );
    }

    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.join("shard.meta.json")).unwrap()).unwrap();
    assert_eq!(meta["platform"]["tag"], b.tag);
    assert_eq!(meta["settings"]["scoring_backend"], "cpu");
    let defaults: Vec<String> =
        serde_json::from_value(meta["platform"]["default_encoders"].clone()).unwrap();
    let encoders: std::collections::BTreeSet<String> = rows(&shard)
        .iter()
        .map(|r| r["encoder"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        encoders,
        defaults.iter().cloned().collect(),
        "{}: rows carry the platform's encoder names",
        b.tag
    );
    assert_eq!(rows(&shard).len(), 9 * defaults.len() * 3);

    let recorded = std::fs::read_to_string(&log).unwrap_or_default();
    let hardware = defaults.iter().any(|e| !e.starts_with("lib"));
    assert_eq!(
        recorded.is_empty(),
        !hardware,
        "{}: hardware encodes went through the stand-in",
        b.tag
    );
    for line in recorded.lines() {
        let encoder = line
            .split_whitespace()
            .skip_while(|w| *w != "-c:v")
            .nth(1)
            .unwrap();
        let normalised = normalise(line);
        if normalised.contains("-f null") {
            continue; // the one-frame trial encode
        }
        assert_eq!(
            normalised,
            golden_line(encoder, 25),
            "{}: recorded argv",
            b.tag
        );
    }
}

#[test]
fn every_platform_scores_through_its_own_encoders() {
    for b in BOXES {
        run_box(b);
    }
}

#[test]
fn cuda_box_with_a_cuda_vmaf_scores_on_the_gpu() {
    let s = Scratch::new();
    let (log, vmaf_log, shard) = (
        s.join("argv.log"),
        s.join("vmaf.log"),
        s.join("shard.jsonl"),
    );
    let mut cmd = standin_corpus(&BOXES[0], &shard, &log);
    cmd.args([
        "--encoders",
        "h264_nvenc",
        "--vmaf",
        fixture("standin-vmaf-cuda.sh").as_str(),
    ])
    .env("STANDIN_REAL_VMAF", real_vmaf())
    .env("STANDIN_VMAF_LOG", &vmaf_log);
    cmd.assert()
        .success()
        .stderr(predicates::str::contains("scoring on the GPU"));
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.join("shard.meta.json")).unwrap()).unwrap();
    assert_eq!(meta["settings"]["scoring_backend"], "cuda");
    let logged = std::fs::read_to_string(&vmaf_log).unwrap();
    let scored: Vec<&str> = logged
        .lines()
        .filter(|l| l.contains("--reference"))
        .collect();
    assert_eq!(scored.len(), 9, "one scoring run per cell");
    assert!(scored.iter().all(|l| l.contains("--gpumask 0")), "{logged}");
}

#[test]
fn darwin_doctor_gives_homebrew_fixes() {
    let out = kit()
        .args(["doctor", "--encoders", "libvvenc"])
        .env("KIT_FAKE_UNAME_S", "Darwin")
        .env("KIT_FAKE_UNAME_M", "arm64")
        .env("KIT_FAKE_HAS_VIDEOTOOLBOX", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("darwin-arm64-cpu") && text.contains("brew install ffmpeg"),
        "{text}"
    );
    assert!(text.contains("VideoToolbox"), "{text}");
}
