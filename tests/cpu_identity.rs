//! Training is a pure function of (corpus rows, seeds, recipe) on every CPU (SPEC §11): the same
//! binary trains the same LOSO files and exports the same ONNX models natively, under
//! `qemu-x86_64 -cpu Nehalem` (SSE4.2, no AVX, no FMA: the software `fma` path) and under
//! `-cpu Haswell` (AVX2 + FMA). CI installs Debian's `qemu-user` for this test. Natively, on a
//! CPU with AVX-512F, the run takes the 16-lane AVX-512 path, so the three runs compare the
//! three paths; the test says which path ran natively, and says so when this CPU has no
//! AVX-512 (then the native run repeats one of the qemu paths, and the AVX-512 check is skipped).

mod common;
use camino::{Utf8Path, Utf8PathBuf};
use common::*;

/// Runs the kit binary with `args` in `root`, through `runner` (e.g. qemu) when given, and
/// returns what it printed on stderr.
fn run(root: &Utf8Path, runner: &[&str], args: &[&str]) -> String {
    let bin = assert_cmd::cargo::cargo_bin("ensemble-kit");
    let mut command = match runner.split_first() {
        Some((first, rest)) => {
            let mut c = std::process::Command::new(first);
            c.args(rest).arg(&bin);
            c
        }
        None => std::process::Command::new(&bin),
    };
    let out = command
        .current_dir(root)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {runner:?} (install Debian's qemu-user): {e}"));
    assert!(
        out.status.success(),
        "{runner:?} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The vector path a verbose `train` names (`arithmetic: avx512 (16 f32 lanes; ...)`).
fn path_named(stderr: &str) -> &str {
    stderr
        .lines()
        .find_map(|l| l.split("arithmetic: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("train -v names no arithmetic path:\n{stderr}"))
}

/// Whether this CPU runs the AVX-512 path.
fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Every file under `dir`, by path relative to it, with its bytes.
fn files(dir: &Utf8Path) -> Vec<(Utf8PathBuf, Vec<u8>)> {
    let mut out: Vec<(Utf8PathBuf, Vec<u8>)> = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let path = Utf8PathBuf::from_path_buf(e.path().to_owned()).unwrap();
            let bytes = std::fs::read(&path).unwrap();
            (path.strip_prefix(dir).unwrap().to_owned(), bytes)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn loso_files_and_onnx_are_identical_on_every_x86_64_cpu() {
    let s = Scratch::new();
    let root = s.path();
    learnable_shard(&root.join("corpus/shard.jsonl"), 8);
    // A PROMOTE verdict on this corpus, which `export` requires.
    run(
        root,
        &[],
        &[
            "train",
            "--corpus",
            "corpus/shard.jsonl",
            "--out-dir",
            "judged/loso",
            "--seeds",
            "0,1",
            "--epochs",
            "150",
            "--allow-missing-meta",
            "-q",
        ],
    );
    run(
        root,
        &[],
        &[
            "-q",
            "verdict",
            "--loso-dir",
            "judged/loso",
            "--seeds",
            "0,1",
            "--out-dir",
            "judged",
        ],
    );
    assert!(root.join("judged/PROMOTE.json").exists());

    let runners: [(&str, &[&str]); 3] = [
        ("native", &[]),
        ("nehalem", &["qemu-x86_64", "-cpu", "Nehalem"]),
        ("haswell", &["qemu-x86_64", "-cpu", "Haswell"]),
    ];
    for (name, runner) in runners {
        let loso = format!("{name}/loso");
        let models = format!("{name}/models");
        let said = run(
            root,
            runner,
            &[
                "train",
                "--corpus",
                "corpus/shard.jsonl",
                "--out-dir",
                &loso,
                "--seeds",
                "0",
                "--epochs",
                "3",
                "--allow-missing-meta",
                "-v",
            ],
        );
        let path = path_named(&said).to_owned();
        eprintln!("cpu_identity: {name} trained on the {path} path");
        match name {
            "native" if has_avx512() => assert_eq!(path, "avx512", "{said}"),
            "native" => eprintln!(
                "cpu_identity: skipped the AVX-512 check: this CPU has no AVX-512F (the native \
                 run took the {path} path)"
            ),
            "nehalem" => assert_eq!(path, "portable", "{said}"),
            _ => assert_eq!(path, "avx2", "{said}"),
        }
        run(
            root,
            runner,
            &[
                "export",
                "--corpus",
                "corpus/shard.jsonl",
                "--verdict",
                "judged/PROMOTE.json",
                "--out-dir",
                &models,
                "--seeds",
                "0",
                "--epochs",
                "3",
                "--allow-missing-meta",
                "-q",
            ],
        );
    }
    let native = files(&root.join("native"));
    let names: Vec<&str> = native.iter().map(|(p, _)| p.as_str()).collect();
    assert!(names.contains(&"loso/loso_seed0.json"), "{names:?}");
    assert!(names.iter().any(|n| n.ends_with(".onnx")), "{names:?}");
    for other in ["nehalem", "haswell"] {
        let theirs = files(&root.join(other));
        assert_eq!(
            theirs.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            native.iter().map(|(p, _)| p).collect::<Vec<_>>()
        );
        for ((path, a), (_, b)) in native.iter().zip(&theirs) {
            assert!(
                a == b,
                "{path} differs between native and qemu -cpu {other}"
            );
        }
    }
}
