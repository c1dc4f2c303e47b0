//! Training is a pure function of (corpus rows, seeds, recipe) on every CPU (SPEC §11): the same
//! binary trains the same LOSO files and exports the same ONNX models natively, under
//! `qemu-x86_64 -cpu Nehalem` (SSE4.2, no AVX, no FMA: the software `fma` path) and under
//! `-cpu Haswell` (AVX2 + FMA). CI installs Debian's `qemu-user` for this test.

mod common;
use camino::{Utf8Path, Utf8PathBuf};
use common::*;

/// Runs the kit binary with `args` in `root`, through `runner` (e.g. qemu) when given.
fn run(root: &Utf8Path, runner: &[&str], args: &[&str]) {
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
        .arg("-q")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {runner:?} (install Debian's qemu-user): {e}"));
    assert!(
        out.status.success(),
        "{runner:?} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
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
        ],
    );
    run(
        root,
        &[],
        &[
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
        run(
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
            ],
        );
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
