//! `compare` decides what it is looking at (issue 18): the experiment inside every verdict,
//! CONFIRMS / DISAGREES / NOT COMPARABLE with exits 0 / 1 / 3, the "name only" caveat of a
//! reference-kit side, identical training, and every verdict file judged again from its own
//! numbers (issue 21 item 7). The full runs use real ffmpeg and vmaf on tiny references; the
//! hardware side goes through `tests/fixtures/standin-ffmpeg.sh`.

mod common;
use camino::{Utf8Path, Utf8PathBuf};
use common::*;
use predicates::str::contains;

/// A small, fast `full`: few frames, two CQs, two seeds, few epochs, no further seeds.
const SMALL: &[&str] = &[
    "--frames",
    "4",
    "--cqs",
    "19,37",
    "--seeds",
    "0,1",
    "--epochs",
    "3",
    "--stability",
    "0",
    "--jobs",
    "1",
];

/// The CUDA box of `tests/hardware.rs`, faked.
const CUDA_BOX: &[(&str, &str)] = &[
    ("KIT_FAKE_UNAME_S", "Linux"),
    ("KIT_FAKE_UNAME_M", "x86_64"),
    ("KIT_FAKE_HAS_NVIDIA_SMI", "1"),
    ("KIT_FAKE_HAS_IHD", "0"),
];

const SCENES: &[(&str, &str)] = &[
    ("mandel", "mandelbrot=s=64x64:r=25"),
    ("life", "life=s=64x64:r=25:mold=10:ratio=0.5:seed=7"),
    ("test", "testsrc2=s=64x64:r=25"),
];

fn fixture(name: &str) -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Raw 64x64 references, one per (name, lavfi graph).
fn refs(dir: &Utf8Path, clips: &[(&str, &str)]) -> Utf8PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    for (name, graph) in clips {
        render_raw(dir, &format!("{name}_64x64.yuv"), graph, 4);
    }
    dir.to_owned()
}

/// Runs `full` in `root` with `args`, through the stand-in ffmpeg on a faked CUDA box when
/// `hardware`; returns its results folder's bundle.
fn full(root: &Utf8Path, out: &str, args: &[&str], hardware: bool) -> Utf8PathBuf {
    let mut cmd = kit();
    cmd.current_dir(root)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .args(["-q", "full", "--out-dir", out])
        .args(args);
    if hardware {
        cmd.args(["--ffmpeg", fixture("standin-ffmpeg.sh").as_str()])
            .env("STANDIN_REAL_FFMPEG", real_ffmpeg());
        for (k, v) in CUDA_BOX {
            cmd.env(k, v);
        }
    }
    let output = cmd.output().unwrap();
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "full {out}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    bundle_of(&root.join(out))
}

fn bundle_of(out: &Utf8Path) -> Utf8PathBuf {
    out.read_dir_utf8()
        .unwrap()
        .flatten()
        .map(|e| e.path().to_owned())
        .find(|p| p.as_str().ends_with(".tar.gz"))
        .expect("a bundle")
}

fn verdict_file(out: &Utf8Path) -> Utf8PathBuf {
    ["PROMOTE.json", "HOLD.json"]
        .iter()
        .map(|n| out.join(n))
        .find(|p| p.exists())
        .expect("a verdict file")
}

/// `compare A B` in `root`: (exit code, stdout, stderr).
fn compare(root: &Utf8Path, a: &Utf8Path, b: &Utf8Path, extra: &[&str]) -> (i32, String, String) {
    let out = kit()
        .current_dir(root)
        .args(["compare", a.as_str(), b.as_str()])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn json(path: &Utf8Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Acceptance: libx264 on one box, a hardware encoder on another, the same references →
/// comparable, with the encoders listed as the intended difference; the same with one
/// reference's bytes changed under its name → NOT COMPARABLE naming it. The experiment is in
/// each verdict, checked by `verify` and shown in the report.
#[test]
fn two_boxes_with_other_encoders_compare_and_changed_bytes_do_not() {
    let s = Scratch::new();
    let refs_a = refs(&s.join("refs"), SCENES);
    let x264: Vec<&str> = [
        SMALL,
        &["--ref-dir", refs_a.as_str(), "--encoders", "libx264"],
    ]
    .concat();
    let a = full(s.path(), "a", &x264, false);
    let nvenc: Vec<&str> = [
        SMALL,
        &["--ref-dir", refs_a.as_str(), "--encoders", "h264_nvenc"],
    ]
    .concat();
    let b = full(s.path(), "b", &nvenc, true);

    // The experiment block: derived from the corpus, its metadata and the LOSO files.
    let verdict = json(&verdict_file(&s.join("a")));
    let e = &verdict["experiment"];
    assert_eq!(e["producer"], "kit");
    assert_eq!(e["corpus_found"], true);
    assert_eq!(e["sources"].as_array().unwrap().len(), 3);
    let mandel = &e["sources"][1];
    assert_eq!(mandel["name"], "mandel_64x64");
    assert_eq!(
        mandel["sha256"],
        ensemble_kit::digest::sha256_file(&refs_a.join("mandel_64x64.yuv")).unwrap()
    );
    assert_eq!(mandel["geometry"]["width"], 64);
    assert_eq!(mandel["frames"], 4);
    assert_eq!(e["encoders"][0]["encoder"], "libx264");
    assert_eq!(e["encoders"][0]["rows"], 3 * 2 * 4);
    assert_eq!(e["cqs"], serde_json::json!([19, 37]));
    assert_eq!(e["shards"][0]["vmaf_model"], "vmaf_v0.6.1");
    assert!(!e["shards"][0]["libvmaf_version"]
        .as_str()
        .unwrap()
        .is_empty());
    assert_eq!(e["recipe"]["epochs"], 3);
    assert_eq!(e["recipe"]["kit_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(e["seeds"], serde_json::json!([0, 1]));
    kit()
        .args(["validate", verdict_file(&s.join("a")).as_str()])
        .assert()
        .success();
    let hw = json(&verdict_file(&s.join("b")));
    assert_eq!(hw["experiment"]["encoders"][0]["encoder"], "h264_nvenc");
    assert_eq!(
        hw["experiment"]["platforms"],
        serde_json::json!(["linux-x86_64-cuda"])
    );
    let page = std::fs::read_to_string(s.join("a/report.html")).unwrap();
    assert!(page.contains("<h2>Experiment</h2>"), "the report shows it");
    assert!(page.contains("libx264 (24 rows"), "{page}");

    let (code, stdout, _) = compare(s.path(), &a, &b, &[]);
    assert!(matches!(code, 0 | 1), "comparable:\n{stdout}");
    assert!(
        stdout.contains("encoders") && stdout.contains("differs (intended)"),
        "{stdout}"
    );
    assert!(stdout.contains("shared (same sha256)"), "{stdout}");
    let last = stdout.lines().rev().find(|l| !l.starts_with("  ")).unwrap();
    assert!(
        last.starts_with("CONFIRMS") || last.starts_with("DISAGREES"),
        "{stdout}"
    );
    if code == 0 {
        assert!(
            stdout.contains("differing as intended: encoders"),
            "{stdout}"
        );
    }
    assert!(!stdout.contains("identical training"), "{stdout}");

    // The same runs, one reference's bytes changed under its name.
    let refs_c = s.join("refs-changed");
    refs(
        &refs_c,
        &[
            SCENES[0],
            SCENES[1],
            ("test", "testsrc2=s=64x64:r=25,hue=h=90"),
        ],
    );
    let changed: Vec<&str> = [
        SMALL,
        &["--ref-dir", refs_c.as_str(), "--encoders", "h264_nvenc"],
    ]
    .concat();
    let c = full(s.path(), "c", &changed, true);
    let (code, stdout, _) = compare(s.path(), &a, &c, &[]);
    assert_eq!(code, 3, "{stdout}");
    assert!(
        stdout.contains("NOT COMPARABLE") && stdout.contains("different bytes: test_64x64"),
        "{stdout}"
    );
    assert!(
        stdout.contains("test_64x64  SAME NAME, DIFFERENT BYTES"),
        "{stdout}"
    );

    // `verify` derives the experiment again from the bundled corpus and refuses another one.
    let mut forged = json(&verdict_file(&s.join("a")));
    forged["experiment"]["encoders"][0]["rows"] = 999.into();
    std::fs::write(
        verdict_file(&s.join("a")),
        serde_json::to_string_pretty(&forged).unwrap(),
    )
    .unwrap();
    std::fs::remove_file(&a).unwrap();
    // `bundle` verifies what it would write, so the forged block never leaves the box.
    kit()
        .current_dir(s.path())
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .args(["bundle", "--out-dir", "a"])
        .assert()
        .code(2)
        .stderr(contains(
            "experiment is not what its bundled LOSO files and corpus give",
        ));
}

/// Acceptance: the reference kit's LOSO folder (real clips) against a `full --demo` bundle
/// (synthetic clips): NOT COMPARABLE, exit 3, "no reference in common".
#[test]
fn the_reference_loso_folder_and_a_demo_bundle_have_no_reference_in_common() {
    let s = Scratch::new();
    let demo = full(
        s.path(),
        "demo",
        &[
            "--demo",
            "--demo-frames",
            "3",
            "--frames",
            "3",
            "--cqs",
            "25",
            "--encoders",
            "libx264",
            "--seeds",
            "0,1",
            "--epochs",
            "2",
            "--stability",
            "0",
        ],
        false,
    );
    let (code, stdout, _) = compare(s.path(), &fixture("reference/loso"), &demo, &[]);
    assert_eq!(code, 3, "{stdout}");
    assert!(
        stdout.contains("NOT COMPARABLE: no reference in common"),
        "{stdout}"
    );
    assert!(stdout.contains("BigBuckBunny  only in A"), "{stdout}");
    // The JSON form says the same and validates against its schema.
    let (code, stdout, _) = compare(s.path(), &fixture("reference/loso"), &demo, &["--json"]);
    assert_eq!(code, 3);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["conclusion"], "NOT COMPARABLE");
    assert_eq!(report["exit_code"], 3);
    assert_eq!(report["a"]["experiment"]["producer"], "reference");
    assert_eq!(report["a"]["experiment"]["sources"][0]["sha256"], "unknown");
    let path = s.join("compare.json");
    std::fs::write(&path, &stdout).unwrap();
    kit().args(["validate", path.as_str()]).assert().success();
}

/// A reference-format LOSO folder of the fixture corpus's sources (crowd, harbour, park),
/// trained with the recipe of the kit run it is compared with.
fn reference_loso(dir: &Utf8Path, epochs: u64) {
    std::fs::create_dir_all(dir).unwrap();
    for seed in 0..5u64 {
        let plccs = [0.97 + 0.001 * seed as f64, 0.96, 0.98];
        let folds: Vec<serde_json::Value> = ["crowd", "harbour", "park"]
            .iter()
            .zip(plccs)
            .map(|(name, p)| serde_json::json!({"held_out": name, "n_train": 12, "n_val": 6, "plcc": p, "srocc": p, "rmse": 1.0}))
            .collect();
        let mean = plccs.iter().sum::<f64>() / 3.0;
        let doc = serde_json::json!({
            "seed": seed, "corpus": "runs/corpus.jsonl", "n_folds": 3, "folds": folds,
            "mean_plcc": mean, "std_plcc": 0.01,
            "min_plcc": plccs.iter().copied().fold(f64::INFINITY, f64::min),
            "max_plcc": plccs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            "mean_srocc": mean, "mean_rmse": 1.0, "epochs": epochs, "batch_size": 32,
            "lr": 0.0005, "weight_decay": 1e-5, "num_codecs": 14, "encoder_vocab_version": 2,
            "wall_time_s": 1.0
        });
        std::fs::write(
            dir.join(format!("loso_seed{seed}.json")),
            serde_json::to_string_pretty(&doc).unwrap(),
        )
        .unwrap();
    }
}

/// Acceptance: a kit run on the reference's corpus imported with `import-corpus`, against the
/// reference's LOSO folder of the same sources: comparable, matched by name only.
#[test]
fn an_imported_reference_corpus_compares_with_the_reference_loso_by_name_only() {
    let s = Scratch::new();
    let shard = s.join("imported.jsonl");
    kit()
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .args(["import-corpus", fixture("reference/corpus.jsonl").as_str()])
        .args(["--out", shard.as_str()])
        .assert()
        .success();
    full(
        s.path(),
        "kit",
        &[
            "--corpus",
            shard.as_str(),
            "--seeds",
            "0,1,2,3,4",
            "--epochs",
            "2",
            "--stability",
            "0",
        ],
        false,
    );
    reference_loso(&s.join("reference"), 2);
    let kit_verdict = verdict_file(&s.join("kit"));
    let e = &json(&kit_verdict)["experiment"];
    assert_eq!(e["corpus_found"], true);
    assert_eq!(
        e["sources"][0]["sha256"], "unknown",
        "an import without the videos knows no bytes"
    );
    let (code, stdout, _) = compare(s.path(), &s.join("reference"), &kit_verdict, &[]);
    assert!(matches!(code, 0 | 1), "comparable:\n{stdout}");
    assert!(
        stdout.contains("matched by name only; bytes unverified"),
        "{stdout}"
    );
    assert!(
        stdout.contains("crowd  shared by name; bytes unverified"),
        "{stdout}"
    );
    // Another recipe is another experiment.
    reference_loso(&s.join("reference-200"), 200);
    let (code, stdout, _) = compare(s.path(), &s.join("reference-200"), &kit_verdict, &[]);
    assert_eq!(code, 3, "{stdout}");
    assert!(
        stdout.contains("another gate recipe: epochs (200 vs 2)"),
        "{stdout}"
    );
}

/// A kit LOSO folder of seeds 0–5 with the given fold PLCC per source, named corpus `corpus`.
fn kit_loso(dir: &Utf8Path, corpus: &str, folds: &[(&str, f64)]) {
    for seed in 0..6u64 {
        let folds: Vec<(&str, Option<f64>)> = folds
            .iter()
            .map(|(n, p)| (*n, Some(p + 0.0001 * seed as f64)))
            .collect();
        let mut doc = seed_doc(seed, &folds);
        doc["corpus_sha256"] = corpus.into();
        rekey(&mut doc);
        write_seed(dir, &doc);
    }
}

const ABCD: &[(&str, f64)] = &[("a", 0.99), ("b", 0.98), ("c", 0.985), ("d", 0.97)];

#[test]
fn the_same_corpus_and_seeds_are_identical_training() {
    let s = Scratch::new();
    kit_loso(&s.join("one"), "c1", ABCD);
    kit_loso(&s.join("two"), "c1", ABCD);
    let (code, stdout, _) = compare(s.path(), &s.join("one"), &s.join("two"), &[]);
    // Hand-made LOSO folders without their corpus: the references are only claimed.
    assert_eq!(code, 4, "{stdout}");
    assert!(
        stdout.contains("identical training: both trained corpus c1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("CONSISTENT (claimed, not proven)"),
        "{stdout}"
    );
    kit_loso(&s.join("three"), "c2", ABCD);
    let (code, stdout, _) = compare(s.path(), &s.join("one"), &s.join("three"), &[]);
    assert_eq!(code, 4, "{stdout}");
    assert!(!stdout.contains("identical training"), "{stdout}");
}

/// Hostile or foreign inputs: mismatched source lists, a source named twice, NaN, and verdict
/// files whose flags contradict their numbers (issue 21 item 7).
#[test]
fn mismatched_sources_are_not_comparable_and_duplicates_refused() {
    let s = Scratch::new();
    kit_loso(&s.join("abcd"), "c1", ABCD);
    kit_loso(
        &s.join("abce"),
        "c2",
        &[("a", 0.99), ("b", 0.98), ("c", 0.985), ("e", 0.97)],
    );
    let (code, stdout, _) = compare(s.path(), &s.join("abcd"), &s.join("abce"), &[]);
    assert_eq!(code, 3, "{stdout}");
    assert!(
        stdout.contains("the reference sets differ (only in A: d; only in B: e)"),
        "{stdout}"
    );
    kit_loso(
        &s.join("twice"),
        "c3",
        &[("a", 0.99), ("a", 0.98), ("c", 0.985)],
    );
    let (code, _, stderr) = compare(s.path(), &s.join("abcd"), &s.join("twice"), &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("twice") && stderr.contains("/experiment/sources/1/name"),
        "{stderr}"
    );
}

#[test]
fn a_verdict_file_that_contradicts_its_numbers_is_refused() {
    let s = Scratch::new();
    kit_loso(&s.join("run"), "c1", ABCD);
    kit()
        .current_dir(s.path())
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .args(["verdict", "--loso-dir", "run", "--out-dir", "out"])
        .assert()
        .code(0);
    let promote = s.join("out/PROMOTE.json");
    let original = json(&promote);
    assert!(original["stability"].is_object(), "seed 5 gives stability");
    let (code, stdout, _) = compare(s.path(), &promote, &s.join("run"), &[]);
    // Its corpus is not at hand, so its references stay claimed (issue 29): consistent, not
    // confirmed.
    assert_eq!(
        code, 4,
        "the honest file is consistent with its own folder:\n{stdout}"
    );

    type Edit = fn(&mut serde_json::Value);
    let cases: [(&str, Edit); 4] = [
        ("/gate/mean_plcc", |v| v["gate"]["mean_plcc"] = 0.31.into()),
        ("/verdict", |v| v["verdict"] = "HOLD".into()),
        ("/stability", |v| v["stability"]["p_promote"] = 0.5.into()),
        ("/seeds", |v| v["seeds"] = serde_json::json!([0, 1, 2, 3])),
    ];
    for (field, edit) in cases {
        let mut forged = original.clone();
        edit(&mut forged);
        let path = s.join("forged.json");
        std::fs::write(&path, serde_json::to_string_pretty(&forged).unwrap()).unwrap();
        let (code, _, stderr) = compare(s.path(), &path, &promote, &[]);
        assert_eq!(code, 2, "{field}: {stderr}");
        assert!(
            stderr.contains("forged.json") && stderr.contains(field),
            "{field}: {stderr}"
        );
    }
    let text = std::fs::read_to_string(&promote).unwrap().replacen(
        "\"mean_plcc\": ",
        "\"mean_plcc\": NaN, \"x\": ",
        1,
    );
    let path = s.join("nan.json");
    std::fs::write(&path, text).unwrap();
    let (code, _, stderr) = compare(s.path(), &path, &promote, &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("nan.json"), "{stderr}");
}
