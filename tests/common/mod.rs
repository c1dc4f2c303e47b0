//! Helpers shared by the integration tests: the kit binary, scratch folders, shard readers and
//! ffmpeg wrappers that damage one step of a real run.
#![allow(dead_code)]

use assert_cmd::Command;
use camino::{Utf8Path, Utf8PathBuf};
use std::collections::BTreeMap;

/// What the caller's environment must not decide for the kit under test: the platform fakes
/// and the build time.
const OUTSIDE_ENV: [&str; 6] = [
    "KIT_FAKE_UNAME_S",
    "KIT_FAKE_UNAME_M",
    "KIT_FAKE_HAS_NVIDIA_SMI",
    "KIT_FAKE_HAS_IHD",
    "KIT_FAKE_HAS_VIDEOTOOLBOX",
    "SOURCE_DATE_EPOCH",
];

/// The kit binary, with every `KIT_FAKE_*` variable cleared so the host's real answers apply.
pub fn kit() -> Command {
    let mut cmd = Command::cargo_bin("ensemble-kit").unwrap();
    for var in OUTSIDE_ENV {
        cmd.env_remove(var);
    }
    cmd
}

/// The `SOURCE_DATE_EPOCH` of the tests that drive the stages one by one.
pub const EPOCH: &str = "1700000000";

/// Runs one stage of the kit in `root` the way the step-by-step tests do (`SOURCE_DATE_EPOCH`
/// [`EPOCH`], `-q`) and returns its output whatever the exit code.
pub fn stage(root: &Utf8Path, args: &[&str]) -> std::process::Output {
    kit()
        .current_dir(root)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .args(args)
        .arg("-q")
        .output()
        .unwrap()
}

/// [`stage`], which must succeed (its stderr is shown when it does not).
pub fn stage_ok(root: &Utf8Path, args: &[&str]) -> std::process::Output {
    let out = stage(root, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `verdict` on seeds 0 and 1 of `results/loso`, written into `results/`.
pub const JUDGE_SEEDS_0_1: [&str; 7] = [
    "verdict",
    "--loso-dir",
    "results/loso",
    "--seeds",
    "0,1",
    "--out-dir",
    "results",
];

/// A scratch folder with a UTF-8 path.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    pub fn path(&self) -> &Utf8Path {
        Utf8Path::from_path(self.dir.path()).unwrap()
    }
    pub fn join(&self, name: &str) -> Utf8PathBuf {
        self.path().join(name)
    }
}

/// Rows of a shard as JSON objects.
pub fn rows(shard: &Utf8Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(shard)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The rows without their timing field, keyed by (source sha, encoder, cq, frame).
pub fn rows_without_timings(
    shard: &Utf8Path,
) -> BTreeMap<(String, String, u64, u64), serde_json::Value> {
    let mut map = BTreeMap::new();
    for mut row in rows(shard) {
        row.as_object_mut().unwrap().remove("enc_time_ms");
        let key = (
            row["src_sha256"].as_str().unwrap().to_owned(),
            row["encoder"].as_str().unwrap().to_owned(),
            row["cq"].as_u64().unwrap(),
            row["frame_index"].as_u64().unwrap(),
        );
        assert!(
            map.insert(key.clone(), row).is_none(),
            "duplicate row {key:?}"
        );
    }
    map
}

/// Writes an executable shell script.
pub fn script(path: &Utf8Path, body: &str) -> Utf8PathBuf {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_owned()
}

/// The real ffmpeg on PATH.
pub fn real_ffmpeg() -> String {
    let out = std::process::Command::new("sh")
        .args(["-c", "command -v ffmpeg"])
        .output()
        .unwrap();
    let path = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(
        !path.is_empty(),
        "ffmpeg is not on PATH; run scripts/bootstrap.sh"
    );
    path
}

/// Writes `frames` frames of a lavfi pattern as raw 4:2:0 into `dir/name`.
pub fn render_raw(dir: &Utf8Path, name: &str, graph: &str, frames: u32) {
    let status = std::process::Command::new(real_ffmpeg())
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            graph,
            "-frames:v",
            &frames.to_string(),
            "-pix_fmt",
            "yuv420p",
            "-f",
            "rawvideo",
        ])
        .arg(dir.join(name))
        .status()
        .unwrap();
    assert!(status.success());
}

/// One member of a hand-made archive: its name, its size and a reader of exactly that many
/// bytes.
pub struct Member {
    pub name: String,
    pub size: u64,
    pub data: Box<dyn std::io::Read>,
}

/// A member holding `bytes`.
pub fn member(name: &str, bytes: Vec<u8>) -> Member {
    Member {
        name: name.to_owned(),
        size: bytes.len() as u64,
        data: Box::new(std::io::Cursor::new(bytes)),
    }
}

/// A member of `size` zero bytes, streamed (compresses to almost nothing in a `.tar.gz`).
pub fn zeros(name: &str, size: u64) -> Member {
    Member {
        name: name.to_owned(),
        size,
        data: Box::new(std::io::Read::take(std::io::repeat(0), size)),
    }
}

/// Writes `members` in the order given as a tar, gzip-compressed when `path` ends in `.gz`.
pub fn write_archive(path: &Utf8Path, members: Vec<Member>) {
    let file = std::fs::File::create(path).unwrap();
    let out: Box<dyn std::io::Write> = if path.as_str().ends_with(".gz") {
        Box::new(flate2::write::GzEncoder::new(
            file,
            flate2::Compression::fast(),
        ))
    } else {
        Box::new(file)
    };
    let mut builder = tar::Builder::new(out);
    for m in members {
        let mut header = tar::Header::new_gnu();
        header.set_size(m.size);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, &m.name, m.data).unwrap();
    }
    builder.finish().unwrap();
    // Dropping the builder drops the gzip writer, which writes the gzip trailer.
}

/// The regular files of a tar (gzip or not) as (name, bytes), in archive order.
pub fn read_archive(path: &Utf8Path) -> Vec<(String, Vec<u8>)> {
    let file = std::fs::File::open(path).unwrap();
    let reader: Box<dyn std::io::Read> = if path.as_str().ends_with(".gz") {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut archive = tar::Archive::new(reader);
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
            (name, bytes)
        })
        .collect()
}

/// Makes `path` a named pipe that serves `bytes` to the first reader only: a command reading
/// it twice would wait forever for the second copy.
pub fn serve_once(path: &Utf8Path, bytes: Vec<u8>) {
    if !path.exists() {
        let status = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let path = path.to_owned();
    std::thread::spawn(move || {
        // Opening blocks until a reader comes; a reader that stops early is not an error here.
        let _ = std::fs::write(path, bytes);
    });
}

/// The hidden entries (temporary folders) directly in `dir`.
pub fn hidden_entries(dir: &Utf8Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

/// Compares `actual` with `tests/golden/NAME` (rewritten first under `UPDATE_GOLDEN=1`).
pub fn golden(name: &str, actual: &str) {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing golden {path}; run with UPDATE_GOLDEN=1"));
    assert_eq!(actual, expected, "{name} differs from its golden file");
}

/// A kit-format seed file's document whose folds have the given PLCCs (source name, PLCC;
/// `None` is an undefined PLCC) and whose summary agrees with them: hand-made LOSO results for
/// gate and compare tests.
pub fn seed_doc(seed: u64, folds: &[(&str, Option<f64>)]) -> serde_json::Value {
    let defined: Option<Vec<f64>> = folds.iter().map(|(_, p)| *p).collect();
    let (mean, min, max) = match defined {
        Some(plccs) => (
            Some(plccs.iter().sum::<f64>() / plccs.len() as f64),
            Some(plccs.iter().copied().fold(f64::INFINITY, f64::min)),
            Some(plccs.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
        ),
        None => (None, None, None),
    };
    let folds: Vec<serde_json::Value> = folds
        .iter()
        .map(|(name, p)| serde_json::json!({"held_out": name, "n_train": 100, "n_val": 50, "plcc": p, "srocc": p, "rmse": 2.5, "baseline_plcc": 0.9}))
        .collect();
    let mut doc = serde_json::json!({
        "kind": "loso-seed", "schema_version": 1, "seed": seed, "corpus": "corpus.jsonl",
        "corpus_sha256": "00", "n_rows": 400, "n_folds": folds.len(), "folds": folds,
        "mean_plcc": mean, "std_plcc": mean.map(|_| 0.0), "min_plcc": min, "max_plcc": max,
        "plcc_ci95": null, "mean_srocc": mean, "mean_rmse": 2.5, "baseline_mean_plcc": 0.9,
        "epochs": 200, "batch_size": 32, "lr": 0.0005, "weight_decay": 1e-5, "dropout": 0.1,
        "num_codecs": 14, "encoder_vocab_version": 2, "unknown_encoder_rows": 0,
        "recipe_key": "", "wall_time_s": 0.0
    });
    rekey(&mut doc);
    doc
}

/// Sets a kit seed document's `recipe_key` to the one its seed, corpus and recipe give (as
/// training writes it), after a test changed any of them.
pub fn rekey(doc: &mut serde_json::Value) {
    use ensemble_kit::learn::train::recorded_key;
    let loso: ensemble_kit::schema::LosoSeed = serde_json::from_value(doc.clone()).unwrap();
    doc["recipe_key"] = recorded_key(&loso).into();
}

/// Writes `doc` as `DIR/loso_seed{seed}.json` (the seed named in the document).
pub fn write_seed(dir: &Utf8Path, doc: &serde_json::Value) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join(format!("loso_seed{}.json", doc["seed"])),
        serde_json::to_string_pretty(doc).unwrap(),
    )
    .unwrap();
}

/// Writes a kit-format `DIR/loso_seed{seed}.json` whose folds have the given PLCCs (see
/// [`seed_doc`]).
pub fn seed_file(dir: &Utf8Path, seed: u64, folds: &[(&str, f64)]) {
    let folds: Vec<(&str, Option<f64>)> = folds.iter().map(|(n, p)| (*n, Some(*p))).collect();
    write_seed(dir, &seed_doc(seed, &folds));
}

/// Runs an exported model with tract on `x` (rows of the 6 standardised features then the 14
/// codec-block columns, as the model's two inputs) and returns its `score` output.
pub fn run_with_tract(
    model: &std::path::Path,
    x: ndarray::ArrayView2<f32>,
) -> tract_onnx::prelude::Tensor {
    use tract_onnx::prelude::*;
    let runnable = tract_onnx::onnx()
        .model_for_path(model)
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let columns = |from: usize, to: usize| {
        let data: Vec<f32> = x.slice(ndarray::s![.., from..to]).iter().copied().collect();
        Tensor::from_shape(&[x.nrows(), to - from], &data).unwrap()
    };
    let out = runnable
        .run(tvec!(columns(0, 6).into(), columns(6, 20).into()))
        .unwrap();
    out[0].clone().into_tensor()
}

/// A hand-written shard that the network learns within a few hundred epochs (no vmaf needed):
/// sources s0–s3 × libx264/libsvtav1 × cq 20/30/40 × `frames` frames, features spread by a
/// fixed hash, the target a linear function of them. 8 frames and 150 epochs PROMOTE. Without
/// metadata: train on it with `--allow-missing-meta`.
pub fn learnable_shard(path: &Utf8Path, frames: u64) {
    let frac = |key: [u64; 5]| {
        let h = key.iter().fold(0u64, |h, &v| {
            (h.wrapping_mul(1_000_003) ^ v.wrapping_mul(2_654_435_761)).wrapping_add(12_345)
        });
        let h = (h ^ (h >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        ((h >> 40) as f64) / (1u64 << 24) as f64
    };
    let mut text = String::new();
    for s in 0..4u64 {
        for (e, encoder) in ["libx264", "libsvtav1"].iter().enumerate() {
            for cq in [20u32, 30, 40] {
                for f in 0..frames {
                    let t = |j: u64| frac([s, e as u64, u64::from(cq), f, j]);
                    let adm2 = 0.7 + 0.3 * t(0);
                    let vif = [
                        0.3 + 0.5 * t(1),
                        0.4 + 0.4 * t(2),
                        0.5 + 0.3 * t(3),
                        0.6 + 0.3 * t(4),
                    ];
                    let motion2 = 10.0 * t(5);
                    let vmaf = 2.0 + 10.0 * (adm2 - 0.7) + 3.0 * vif[0] - 0.05 * f64::from(cq)
                        + 0.2 * motion2;
                    text.push_str(&format!(
                        r#"{{"src":"s{s}","src_sha256":"{s:064x}","encoder":"{encoder}","cq":{cq},"frame_index":{f},"enc_bytes":100,"enc_time_ms":1,"vmaf":{vmaf},"adm2":{adm2},"vif_scale0":{},"vif_scale1":{},"vif_scale2":{},"vif_scale3":{},"motion2":{motion2}}}"#,
                        vif[0], vif[1], vif[2], vif[3]
                    ));
                    text.push('\n');
                }
            }
        }
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A results folder that went through the whole PROMOTE path once (corpus, train seeds 0 and
/// 1, verdict, export; `SOURCE_DATE_EPOCH` 1700000000), made once per test binary.
pub fn promoted() -> &'static Utf8PathBuf {
    static DIR: std::sync::OnceLock<Utf8PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let root = Utf8PathBuf::from_path_buf(tempfile::tempdir().unwrap().keep()).unwrap();
        let out = root.join("results");
        let shard = out.join("corpus/shard.jsonl");
        let run = |args: &[&str]| {
            stage_ok(&root, args);
        };
        run(&["corpus", "--demo", "--out", shard.as_str()]);
        std::fs::remove_dir_all(out.join("corpus/shard.cells")).unwrap();
        run(&[
            "train",
            "--corpus",
            shard.as_str(),
            "--out-dir",
            "results/loso",
            "--seeds",
            "0,1",
        ]);
        run(&JUDGE_SEEDS_0_1);
        run(&[
            "export",
            "--corpus",
            shard.as_str(),
            "--verdict",
            "results/PROMOTE.json",
            "--out-dir",
            "results/models",
        ]);
        root
    })
}

/// Copies the shared results folder so a test can change it.
pub fn copy_of_promoted() -> Scratch {
    let s = Scratch::new();
    let status = std::process::Command::new("cp")
        .args(["-a", promoted().join("results").as_str(), s.path().as_str()])
        .status()
        .unwrap();
    assert!(status.success());
    s
}

/// Every file of a results folder (but manifest.json and its signature, bundles, the cell
/// store and hidden files such as locks), relative, sorted.
pub fn result_files(dir: &Utf8Path, rel: &Utf8Path, out: &mut Vec<Utf8PathBuf>) {
    for entry in dir.join(rel).read_dir_utf8().unwrap() {
        let entry = entry.unwrap();
        let file_name = entry.file_name();
        let name = rel.join(file_name);
        if file_name.starts_with('.') || file_name.ends_with(".cells") {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            result_files(dir, &name, out);
        } else if name != "manifest.json"
            && name != "manifest.json.sig"
            && !file_name.starts_with("ensemble-results-")
        {
            out.push(name);
        }
    }
    out.sort();
}

/// Makes `manifest.json.sig` from the manifest's bytes.
pub type Sign<'a> = &'a dyn Fn(&[u8]) -> Vec<u8>;

/// A bundle made by hand from `results`, the way an attacker ships files the kit's own
/// `bundle` would refuse to pack: manifest first (signed by `sign` when given), then the files
/// sorted, each listed with its true size and hash whatever its verdict files claim and
/// whatever the manifest says the verdict is; each of `extra` follows, listed with the (size,
/// sha256) given.
pub fn forged_signed_bundle(
    results: &Utf8Path,
    verdict: &str,
    out: &Utf8Path,
    extra: Vec<(Member, (u64, String))>,
    sign: Option<Sign>,
) {
    let mut files = Vec::new();
    result_files(results, Utf8Path::new(""), &mut files);
    let mut listed = Vec::new();
    let mut members = Vec::new();
    for name in files {
        let bytes = std::fs::read(results.join(&name)).unwrap();
        listed.push(serde_json::json!({
            "path": name.as_str(),
            "size": bytes.len(),
            "sha256": ensemble_kit::digest::sha256_bytes(&bytes),
        }));
        members.push(member(name.as_str(), bytes));
    }
    for (m, (size, sha256)) in extra {
        listed.push(serde_json::json!({"path": m.name, "size": size, "sha256": sha256}));
        members.push(m);
    }
    let manifest = serde_json::json!({
        "schema_version": ensemble_kit::schema::SCHEMA_VERSION,
        "verdict": verdict,
        "generated_at_utc": "2023-11-14T22:13:20Z",
        "n_files": listed.len(),
        "files": listed,
    });
    let manifest = (serde_json::to_string_pretty(&manifest).unwrap() + "\n").into_bytes();
    let mut head = vec![member("manifest.json", manifest.clone())];
    if let Some(sign) = sign {
        head.push(member("manifest.json.sig", sign(&manifest)));
    }
    members.splice(0..0, head);
    write_archive(out, members);
}

/// [`forged_signed_bundle`] without a signature.
pub fn forged_bundle(
    results: &Utf8Path,
    verdict: &str,
    out: &Utf8Path,
    extra: Vec<(Member, (u64, String))>,
) {
    forged_signed_bundle(results, verdict, out, extra, None);
}

/// [`forged_signed_bundle`] of the whole of `results` under the verdict it holds; returns `out`.
pub fn forge_bundle(results: &Utf8Path, out: &Utf8Path, sign: Option<Sign>) -> Utf8PathBuf {
    let verdict = if results.join("PROMOTE.json").exists() {
        "PROMOTE"
    } else {
        "HOLD"
    };
    forged_signed_bundle(results, verdict, out, Vec::new(), sign);
    out.to_owned()
}

/// `ssh-keygen -Y sign -f KEY -n NAMESPACE` of `message`: the armored signature.
pub fn openssh_signature(key: &Utf8Path, namespace: &str, message: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("manifest.json");
    std::fs::write(&file, message).unwrap();
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-f", key.as_str(), "-n", namespace])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(dir.path().join("manifest.json.sig")).unwrap()
}

/// A new key pair `dir/name` (and `.pub`) made by `ssh-keygen ARGS` without a passphrase.
pub fn ssh_keygen(dir: &Utf8Path, name: &str, args: &[&str]) -> Utf8PathBuf {
    let key = dir.join(name);
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-N", "", "-C", name, "-f", key.as_str()])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    key
}

/// Runs `cmd` to its end or for at most `limit`, then kills it: (exit code, or `None` when it
/// had to be killed; stdout; stderr).
pub fn run_for(
    mut cmd: std::process::Command,
    limit: std::time::Duration,
) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = cmd
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if started.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let read =
        |p: std::path::PathBuf| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
    (code, read(out), read(err))
}

/// The kit binary as a plain `std::process::Command` (for [`run_for`] and signals), with the
/// same environment as [`kit`].
pub fn kit_process() -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("ensemble-kit"));
    for var in OUTSIDE_ENV {
        cmd.env_remove(var);
    }
    cmd
}
