//! Holes a hostile or unlucky run could use to fake, flip or lose a verdict (issue 11), each
//! driven through the real binary with real ffmpeg and vmaf: the results folder is the kit's
//! own, one shard per run, cells keyed by tool content, vmaf's frame numbers, shard metadata,
//! distinct seeds, one video per source name, duplicate JSON keys, unreadable references, a full
//! disk, and bundles that do not depend on the results folder's name.

mod common;
use camino::{Utf8Path, Utf8PathBuf};
use common::*;
use predicates::prelude::*;
use predicates::str::contains;
use std::sync::OnceLock;

/// The small grid of every run here.
const GRID: &[&str] = &[
    "--frames",
    "4",
    "--cqs",
    "19,37",
    "--encoders",
    "libx264",
    "--jobs",
    "1",
];

/// Renders raw 64x64 references into `dir`: one per (name, lavfi graph).
fn refs(dir: &Utf8Path, clips: &[(&str, &str)]) -> Utf8PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    for (name, graph) in clips {
        render_raw(dir, &format!("{name}_64x64.yuv"), graph, 4);
    }
    dir.to_owned()
}

const SCENES: &[(&str, &str)] = &[
    ("mandel", "mandelbrot=s=64x64:r=25"),
    ("life", "life=s=64x64:r=25:mold=10:ratio=0.5:seed=7"),
    ("test", "testsrc2=s=64x64:r=25"),
];

/// `corpus` over `refs` into `out` with the small grid and any extra flags.
fn corpus(refs: &Utf8Path, out: &Utf8Path, extra: &[&str]) -> assert_cmd::Command {
    let mut cmd = kit();
    cmd.args(["corpus", "--ref-dir", refs.as_str(), "--out", out.as_str()])
        .args(GRID)
        .args(extra);
    cmd
}

/// One real shard (three sources), scored once for every test that only reads it.
fn shared_shard() -> &'static Utf8Path {
    static SHARD: OnceLock<(Scratch, Utf8PathBuf)> = OnceLock::new();
    let (_, shard) = SHARD.get_or_init(|| {
        let s = Scratch::new();
        let refs = refs(&s.join("refs"), SCENES);
        let shard = s.join("shard.jsonl");
        corpus(&refs, &shard, &[]).assert().success();
        (s, shard)
    });
    shard
}

/// Copies the shared shard and its metadata into `dir`.
fn copy_shard(dir: &Utf8Path) -> Utf8PathBuf {
    let shard = dir.join("shard.jsonl");
    std::fs::copy(shared_shard(), &shard).unwrap();
    std::fs::copy(
        shared_shard().with_extension("meta.json"),
        shard.with_extension("meta.json"),
    )
    .unwrap();
    shard
}

/// Rewrites a shard's lines with `edit` and updates its metadata's hash and row count, as a
/// careful forger would, so that only the content check under test can catch it.
fn forge(shard: &Utf8Path, edit: impl Fn(usize, &str) -> String) {
    let text = std::fs::read_to_string(shard).unwrap();
    let lines: Vec<String> = text.lines().enumerate().map(|(i, l)| edit(i, l)).collect();
    std::fs::write(shard, lines.join("\n") + "\n").unwrap();
    let meta_path = shard.with_extension("meta.json");
    let mut meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
    meta["shard_sha256"] = ensemble_kit::digest::sha256_file(shard).unwrap().into();
    meta["n_rows"] = lines.len().into();
    std::fs::write(&meta_path, serde_json::to_string_pretty(&meta).unwrap()).unwrap();
}

/// A `vmaf` that runs the real one and rewrites its JSON report with a sed expression.
fn rewriting_vmaf(dir: &Utf8Path, sed: &str) -> Utf8PathBuf {
    let real = ensemble_kit::host::tools::locate_vmaf(&Default::default())
        .unwrap()
        .path;
    script(
        &dir.join("vmaf"),
        &format!(
            "case \"$1\" in --version) exec \"{real}\" --version;; esac\n\
             \"{real}\" \"$@\" | sed -E '{sed}'"
        ),
    )
}

// 1. `full` works only in a folder of its own and touches only its own files.
#[test]
fn full_refuses_a_foreign_folder_and_leaves_foreign_files_alone() {
    let s = Scratch::new();
    let refs = refs(&s.join("refs"), &SCENES[..2]);
    let full = |out: &str| {
        let mut cmd = kit();
        cmd.current_dir(s.path())
            .args(["full", "--ref-dir", refs.as_str(), "--out-dir", out])
            .args(GRID)
            .args(["--seeds", "0,1", "--epochs", "5", "-q"]);
        cmd
    };
    std::fs::create_dir_all(s.join("D/models")).unwrap();
    std::fs::create_dir_all(s.join("D/loso")).unwrap();
    std::fs::write(s.join("D/models/keep.txt"), "x").unwrap();
    std::fs::write(s.join("D/loso/notes.txt"), "y").unwrap();
    full("D")
        .assert()
        .code(2)
        .stderr(contains("did not write"))
        .stderr(contains("nothing in `D` was touched"));
    let mut left: Vec<String> = walk(&s.join("D"));
    left.sort();
    assert_eq!(left, ["loso/notes.txt", "models/keep.txt"]);

    // In the kit's own folder, an operator's files survive re-runs and never go into the bundle.
    let first = full("E").output().unwrap();
    assert!(matches!(first.status.code(), Some(0 | 1)), "{first:?}");
    for (file, text) in [
        ("E/models/keep.txt", "x"),
        ("E/loso/notes.txt", "y"),
        ("E/mine.txt", "z"),
    ] {
        std::fs::create_dir_all(s.join(file).parent().unwrap()).unwrap();
        std::fs::write(s.join(file), text).unwrap();
    }
    let second = full("E").output().unwrap();
    assert!(matches!(second.status.code(), Some(0 | 1)), "{second:?}");
    for file in ["E/models/keep.txt", "E/loso/notes.txt", "E/mine.txt"] {
        assert!(s.join(file).is_file(), "{file} was removed");
    }
    let manifest = std::fs::read_to_string(s.join("E/manifest.json")).unwrap();
    for name in ["keep.txt", "notes.txt", "mine.txt", ".ensemble-kit"] {
        assert!(!manifest.contains(name), "{name} was bundled:\n{manifest}");
    }
}

fn walk(dir: &Utf8Path) -> Vec<String> {
    let mut files = Vec::new();
    for entry in dir.read_dir_utf8().unwrap().flatten() {
        let name = entry.file_name().to_owned();
        if entry.path().is_dir() {
            files.extend(
                walk(entry.path())
                    .into_iter()
                    .map(|f| format!("{name}/{f}")),
            );
        } else {
            files.push(name);
        }
    }
    files
}

// 3. Two runs cannot write one shard.
#[test]
fn two_corpus_runs_on_one_output_cannot_both_write_it() {
    let s = Scratch::new();
    let refs = refs(&s.join("refs"), &SCENES[..1]);
    let slow_ffmpeg = script(
        &s.join("ffmpeg"),
        &format!(
            "case \"$*\" in *libx264*) sleep 3;; esac\nexec \"{}\" \"$@\"",
            real_ffmpeg()
        ),
    );
    let out = s.join("out/shard.jsonl");
    let mut first = std::process::Command::new(assert_cmd::cargo::cargo_bin("ensemble-kit"))
        .args(["--ffmpeg", slow_ffmpeg.as_str()])
        .args(["corpus", "--ref-dir", refs.as_str(), "--out", out.as_str()])
        .args(GRID)
        .args(["--cell-dir", s.join("cells-a").as_str(), "-q"])
        .env_remove("SOURCE_DATE_EPOCH")
        .spawn()
        .unwrap();
    // Wait until the first run holds the output (its cell store appears after the lock).
    for _ in 0..200 {
        if s.join("cells-a/lock").exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    corpus(&refs, &out, &["--cell-dir", s.join("cells-b").as_str()])
        .assert()
        .code(2)
        .stderr(contains("another ensemble-kit run is writing the shard"));
    assert!(first.wait().unwrap().success());
    kit().args(["validate", out.as_str()]).assert().success();
}

// 6. A cell is keyed by the tools' content, not their version text.
#[test]
fn cells_scored_by_another_vmaf_with_the_same_version_are_not_reused() {
    let s = Scratch::new();
    let refs = refs(&s.join("refs"), &SCENES[..1]);
    let fake = rewriting_vmaf(s.path(), r#"s/"vmaf": [0-9.]+/"vmaf": 50.000000/g"#);
    let cells = s.join("cells");
    let faked = s.join("faked.jsonl");
    kit()
        .args(["--vmaf", fake.as_str()])
        .args([
            "corpus",
            "--ref-dir",
            refs.as_str(),
            "--out",
            faked.as_str(),
        ])
        .args(GRID)
        .args(["--cell-dir", cells.as_str()])
        .assert()
        .success();
    assert!(rows(&faked).iter().all(|r| r["vmaf"] == 50.0));
    let real = s.join("real.jsonl");
    corpus(&refs, &real, &["--cell-dir", cells.as_str()])
        .assert()
        .success();
    let scores: Vec<f64> = rows(&real)
        .iter()
        .map(|r| r["vmaf"].as_f64().unwrap())
        .collect();
    assert!(
        scores.iter().all(|&v| v != 50.0),
        "cells of the fake vmaf were reused: {scores:?}"
    );
    let meta = std::fs::read_to_string(real.with_extension("meta.json")).unwrap();
    assert!(meta.contains("\"sha256\""), "{meta}");
}

// 7. vmaf's frame numbers are checked, and a shard repeating a frame is invalid.
#[test]
fn frame_numbers_must_be_zero_to_n_minus_one_once_each() {
    let s = Scratch::new();
    let refs = refs(&s.join("refs"), &SCENES[..1]);
    let fake = rewriting_vmaf(s.path(), r#"s/"frameNum": [0-9]+/"frameNum": 0/g"#);
    kit()
        .args(["--vmaf", fake.as_str()])
        .args(["corpus", "--ref-dir", refs.as_str()])
        .args(["--out", s.join("x.jsonl").as_str()])
        .args(GRID)
        .assert()
        .code(2)
        .stderr(contains(
            "vmaf's JSON report numbers its frame #1 as frameNum 0",
        ));

    let shard = copy_shard(s.path());
    forge(&shard, |_, line| {
        let mut row: serde_json::Value = serde_json::from_str(line).unwrap();
        row["frame_index"] = 0.into();
        row.to_string()
    });
    kit()
        .args(["validate", shard.as_str()])
        .assert()
        .code(2)
        .stderr(contains("shard.jsonl:2: /frame_index"))
        .stderr(contains("appears twice"));
}

// 8. Every shard brings metadata that matches it, unless the operator explicitly accepts one
//    without, and the merge records that.
#[test]
fn shards_need_metadata_that_matches_them() {
    let s = Scratch::new();
    let shard = copy_shard(s.path());
    let out = s.join("merged.jsonl");
    let merge = |extra: &[&str]| {
        let mut cmd = kit();
        cmd.args(["merge", shard.as_str(), "--out", out.as_str()])
            .args(extra);
        cmd
    };
    let meta = shard.with_extension("meta.json");
    let text = std::fs::read_to_string(&meta).unwrap();
    std::fs::remove_file(&meta).unwrap();
    merge(&[])
        .assert()
        .code(2)
        .stderr(contains("has no metadata beside it"))
        .stderr(contains("--allow-missing-meta"));
    kit()
        .args(["train", "--corpus", shard.as_str(), "--out-dir"])
        .arg(s.join("loso"))
        .assert()
        .code(2)
        .stderr(contains("has no metadata beside it"));
    merge(&["--allow-missing-meta"]).assert().success();
    let merged = std::fs::read_to_string(out.with_extension("meta.json")).unwrap();
    assert!(
        merged.contains("\"unverified_shards\": [\n    \""),
        "{merged}"
    );

    // Metadata from another shard (or of an edited shard) does not match.
    std::fs::write(&meta, &text).unwrap();
    let lines = std::fs::read_to_string(&shard).unwrap();
    let fewer: Vec<&str> = lines.lines().skip(1).collect();
    std::fs::write(&shard, fewer.join("\n") + "\n").unwrap();
    merge(&[])
        .assert()
        .code(2)
        .stderr(contains("shard.meta.json: /n_rows"));
}

// Issue 21 item 9: a corpus merged with --allow-missing-meta stays unverified downstream:
// training asks for the flag again, and the LOSO files and the verdict name the shard.
#[test]
fn an_unverified_shard_is_carried_into_training_and_the_verdict() {
    let s = Scratch::new();
    let shard = copy_shard(s.path());
    std::fs::remove_file(shard.with_extension("meta.json")).unwrap();
    kit()
        .current_dir(s.path())
        .args([
            "merge",
            "shard.jsonl",
            "--allow-missing-meta",
            "--out",
            "merged.jsonl",
        ])
        .assert()
        .success();
    let train = |extra: &[&str]| {
        let mut cmd = kit();
        cmd.current_dir(s.path())
            .args(["train", "--corpus", "merged.jsonl", "--out-dir", "loso"])
            .args(["--seeds", "0,1", "--epochs", "1"])
            .args(extra);
        cmd
    };
    train(&[])
        .assert()
        .code(2)
        .stderr(contains(
            "merged from shard(s) accepted without metadata (shard.jsonl)",
        ))
        .stderr(contains("--allow-missing-meta again"));
    train(&["--allow-missing-meta"]).assert().success();
    let read = |path: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(s.join(path)).unwrap()).unwrap()
    };
    let named = serde_json::json!(["shard.jsonl"]);
    assert_eq!(read("loso/loso_seed0.json")["unverified_shards"], named);
    let out = kit()
        .current_dir(s.path())
        .args(["verdict", "--loso-dir", "loso", "--seeds", "0,1"])
        .output()
        .unwrap();
    let verdict = match out.status.code() {
        Some(0) => read("loso/PROMOTE.json"),
        Some(1) => read("loso/HOLD.json"),
        _ => panic!("{out:?}"),
    };
    assert_eq!(verdict["unverified_shards"], named);
}

// 9. Seeds are distinct.
#[test]
fn repeated_seeds_are_refused() {
    let s = Scratch::new();
    let loso = s.join("loso");
    kit()
        .args(["train", "--corpus", shared_shard().as_str(), "--out-dir"])
        .arg(&loso)
        .args(["--seeds", "0", "--epochs", "5", "-q"])
        .assert()
        .success();
    kit()
        .args([
            "verdict",
            "--loso-dir",
            loso.as_str(),
            "--seeds",
            "0,0,0,0,0",
        ])
        .assert()
        .code(2)
        .stderr(contains("names seed 0 more than once"));
    kit()
        .args(["train", "--corpus", shared_shard().as_str(), "--out-dir"])
        .arg(&loso)
        .args(["--seeds", "1,2,1"])
        .assert()
        .code(2)
        .stderr(contains("names seed 1 more than once"));
}

// 10. One source name, one video.
#[test]
fn two_videos_with_one_source_name_are_refused() {
    let s = Scratch::new();
    let a = refs(&s.join("a"), &[("clip", "mandelbrot=s=64x64:r=25")]);
    let b = refs(&s.join("b"), &[("clip", "testsrc2=s=64x64:r=25")]);
    corpus(&a, &s.join("a.jsonl"), &[]).assert().success();
    corpus(&b, &s.join("b.jsonl"), &[]).assert().success();
    kit()
        .args(["merge", "a.jsonl", "b.jsonl", "--out", "ab.jsonl"])
        .current_dir(s.path())
        .assert()
        .code(2)
        .stderr(contains(
            "source name `clip_64x64` stands for two different videos",
        ))
        .stderr(contains("`a.jsonl`"))
        .stderr(contains("`b.jsonl`"));
}

// Issue 21 item 4: one video, one name — a second box's copy under another name (scored at
// another cq, so no row collides) would be a second fold that leaks the held-out video.
#[test]
fn one_video_under_two_names_is_refused_naming_both() {
    let s = Scratch::new();
    let copy: Vec<String> = rows(shared_shard())
        .into_iter()
        .filter(|r| r["src"] == "mandel_64x64")
        .map(|mut r| {
            r["src"] = "zoom_64x64".into();
            r["cq"] = (r["cq"].as_u64().unwrap() + 1).into();
            r.to_string()
        })
        .collect();
    std::fs::write(s.join("b.jsonl"), copy.join("\n") + "\n").unwrap();
    kit()
        .current_dir(s.path())
        .args(["merge", shared_shard().as_str(), "b.jsonl"])
        .args(["--allow-missing-meta", "--out", "ab.jsonl"])
        .assert()
        .code(2)
        .stderr(contains("source `mandel_64x64` in"))
        .stderr(contains("source `zoom_64x64` in `b.jsonl`"))
        .stderr(contains("are the same video"));
}

// 11. Duplicate JSON keys are refused in rows and in metadata.
#[test]
fn duplicate_json_keys_are_refused() {
    let s = Scratch::new();
    let shard = copy_shard(s.path());
    forge(&shard, |i, line| {
        if i == 2 {
            line.replacen('{', "{\"vmaf\":99.0,", 1)
        } else {
            line.to_owned()
        }
    });
    kit()
        .args(["validate", shard.as_str()])
        .assert()
        .code(2)
        .stderr(contains("shard.jsonl:3"))
        .stderr(contains("duplicate key `vmaf`"));

    std::fs::create_dir(s.join("again")).unwrap();
    let shard = copy_shard(&s.join("again"));
    let meta = shard.with_extension("meta.json");
    let text = std::fs::read_to_string(&meta).unwrap();
    std::fs::write(&meta, text.replacen('{', "{\n  \"n_rows\": 1,", 1)).unwrap();
    kit()
        .args(["merge", shard.as_str(), "--out"])
        .arg(s.join("m.jsonl"))
        .assert()
        .code(2)
        .stderr(contains("duplicate key `n_rows`"));
}

// 15. References that cannot be read are named, never a crash.
#[test]
fn unreadable_references_are_refused_with_a_sentence() {
    let s = Scratch::new();
    let frame = vec![128u8; 64 * 64 * 3 / 2];
    let y4m = |name: &str, header: &[u8]| {
        let dir = s.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let mut bytes = header.to_vec();
        for _ in 0..4 {
            bytes.extend_from_slice(b"FRAME\n");
            bytes.extend_from_slice(&frame);
        }
        std::fs::write(dir.join("clip.y4m"), bytes).unwrap();
        dir
    };
    let ascii = y4m("ascii", b"YUV4MPEG2 W64 H64 F25:1 \xc3\xa9 C420jpeg\n");
    corpus(&ascii, &s.join("o.jsonl"), &[])
        .assert()
        .code(2)
        .stderr(contains(
            "clip.y4m`: the header token at byte 24 is not ASCII",
        ));
    let interlaced = y4m("interlaced", b"YUV4MPEG2 W64 H64 F25:1 It C420jpeg\n");
    corpus(&interlaced, &s.join("o.jsonl"), &[])
        .assert()
        .code(2)
        .stderr(contains("it is interlaced (It)"));

    use std::os::unix::ffi::OsStrExt;
    let names = refs(&s.join("names"), &SCENES[..1]);
    let odd = names
        .as_std_path()
        .join(std::ffi::OsStr::from_bytes(b"caf\xe9_64x64.yuv"));
    std::fs::copy(names.join("mandel_64x64.yuv"), odd).unwrap();
    corpus(&names, &s.join("o.jsonl"), &[])
        .assert()
        .code(2)
        .stderr(contains("caf\u{fffd}_64x64.yuv"))
        .stderr(contains("not valid UTF-8; rename it"));
}

// 16. A full disk is called a full disk.
#[test]
fn a_full_disk_is_reported_as_such() {
    let s = Scratch::new();
    let refs = refs(&s.join("refs"), &SCENES[..1]);
    let small = s.join("small");
    std::fs::create_dir_all(&small).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs", small.as_str()])
        .status()
        .is_ok_and(|st| st.success());
    if !mounted {
        eprintln!("skipped: mounting a small tmpfs needs root (CI runs as root)");
        return;
    }
    struct Unmount<'a>(&'a Utf8Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .arg(self.0.as_str())
                .status();
        }
    }
    let _unmount = Unmount(&small);
    // Fill the disk but for a few kilobytes: the store's lock and folders fit, an encode doesn't.
    let _ = std::fs::write(small.join("filler"), vec![0u8; 1 << 20]);
    corpus(
        &refs,
        &s.join("o.jsonl"),
        &["--cell-dir", small.join("cells").as_str()],
    )
    .assert()
    .code(2)
    .stderr(contains("disk full at"))
    .stderr(contains("small/cells/scratch"));
}

// 17. The same run in two results folders gives the same bundle.
#[test]
fn bundle_bytes_do_not_depend_on_the_results_folder_name() {
    let s = Scratch::new();
    let refs = refs(&s.join("refs"), &SCENES[..2]);
    let bundle_sha = |out: &str| {
        let run = kit()
            .current_dir(s.path())
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args(["full", "--ref-dir", refs.as_str(), "--out-dir", out])
            .args(GRID)
            .args(["--seeds", "0,1", "--epochs", "5", "-q"])
            .output()
            .unwrap();
        assert!(matches!(run.status.code(), Some(0 | 1)), "{run:?}");
        let bundle = s.join(String::from_utf8(run.stdout).unwrap().trim());
        ensemble_kit::digest::sha256_file(&bundle).unwrap()
    };
    assert_eq!(bundle_sha("first"), bundle_sha("second-results"));
}

/// Review finding: `full` must not follow a symbolic link out of its folder, and a run on given
/// shards must not ship the shard an earlier run scored.
#[test]
fn full_follows_no_link_and_ships_no_stale_shard() {
    let s = Scratch::new();
    let refs = refs(&s.join("refs"), &SCENES[..2]);
    let full = |extra: &[&str]| {
        let mut cmd = kit();
        cmd.current_dir(s.path())
            .args(["full", "--out-dir", "D"])
            .args(GRID)
            .args(["--seeds", "0,1", "--epochs", "5", "--stability", "0", "-q"])
            .args(extra);
        cmd
    };
    let first = full(&["--ref-dir", refs.as_str()]).output().unwrap();
    assert!(matches!(first.status.code(), Some(0 | 1)), "{first:?}");

    std::fs::create_dir(s.join("registry")).unwrap();
    std::fs::write(s.join("registry/model_seed0.onnx"), "x").unwrap();
    std::fs::remove_dir_all(s.join("D/models")).ok();
    std::os::unix::fs::symlink(s.join("registry"), s.join("D/models")).unwrap();
    full(&["--ref-dir", refs.as_str()])
        .assert()
        .code(2)
        .stderr(contains("is a symbolic link"));
    assert!(s.join("registry/model_seed0.onnx").is_file());
    std::fs::remove_file(s.join("D/models")).unwrap();

    let other = copy_shard(&{
        let dir = s.join("other");
        std::fs::create_dir(&dir).unwrap();
        dir
    });
    let second = full(&["--corpus", other.as_str()]).output().unwrap();
    assert!(matches!(second.status.code(), Some(0 | 1)), "{second:?}");
    assert!(!s.join("D/corpus/shard.jsonl").exists());
    let manifest = std::fs::read_to_string(s.join("D/manifest.json")).unwrap();
    assert!(!manifest.contains("corpus/"), "{manifest}");
}

/// Review finding: a tool's identity is its content, not where it is installed.
#[test]
fn the_same_vmaf_elsewhere_reuses_every_cell() {
    let s = Scratch::new();
    let refs = refs(&s.join("refs"), &SCENES[..1]);
    let cells = s.join("cells");
    corpus(&refs, &s.join("a.jsonl"), &["--cell-dir", cells.as_str()])
        .assert()
        .success();
    let real = ensemble_kit::host::tools::locate_vmaf(&Default::default())
        .unwrap()
        .path;
    std::fs::create_dir(s.join("bin")).unwrap();
    std::fs::copy(&real, s.join("bin/vmaf")).unwrap();
    kit()
        .current_dir(s.path())
        .args(["--vmaf", "bin/vmaf"])
        .args(["corpus", "--ref-dir", refs.as_str(), "--out", "b.jsonl"])
        .args(GRID)
        .args(["--cell-dir", cells.as_str()])
        .assert()
        .success()
        .stderr(contains("cell 2/2").and(contains("reused")))
        .stderr(contains(" done:").not());
}

/// Review finding: rows imported from the reference kit carry no libvmaf version, and unknown
/// may not mix with a known version unasked.
#[test]
fn an_import_does_not_slip_past_the_libvmaf_version_guard() {
    let s = Scratch::new();
    let imported = s.join("imported.jsonl");
    kit()
        .args(["import-corpus"])
        .arg(format!(
            "{}/tests/fixtures/reference/corpus.jsonl",
            env!("CARGO_MANIFEST_DIR")
        ))
        .args(["--out", imported.as_str()])
        .assert()
        .success();
    let ours = copy_shard(s.path());
    let merge = |extra: &[&str]| {
        let mut cmd = kit();
        cmd.args(["merge", imported.as_str(), ours.as_str(), "--out"])
            .arg(s.join("m.jsonl"))
            .args(extra);
        cmd
    };
    merge(&[])
        .assert()
        .code(2)
        .stderr(contains("different libvmaf versions"))
        .stderr(contains("unknown (imported from the reference kit)"));
    merge(&["--allow-mixed-vmaf"]).assert().success();
}

/// Issue 21 item 18: a name below --ref-dir that the verdict cannot list stops `full` before
/// any encoding, naming it.
#[test]
fn a_name_below_the_ref_dir_that_is_not_utf8_stops_full_before_encoding() {
    use std::os::unix::ffi::OsStrExt;
    let s = Scratch::new();
    let refs = refs(&s.join("refs"), &SCENES[..2]);
    std::fs::create_dir(refs.join("notes")).unwrap();
    let name = std::ffi::OsStr::from_bytes(b"take-\xff.txt");
    std::fs::write(refs.join("notes").as_std_path().join(name), "x").unwrap();
    kit()
        .current_dir(s.path())
        .args(["full", "--ref-dir", refs.as_str(), "--out-dir", "D"])
        .args(GRID)
        .args(["--seeds", "0,1", "--epochs", "5", "--stability", "0", "-q"])
        .assert()
        .code(2)
        .stderr(contains(refs.join("notes").as_str()))
        .stderr(contains("`take-\u{FFFD}.txt` is invalid UTF-8; rename it"));
    assert!(
        !s.join("D").exists(),
        "full started before checking the names"
    );
}

/// Issue 21 item 17: an --out-dir that is a symbolic link is resolved once, at the start: the
/// whole run, bundle included, happens in the folder it names.
#[test]
fn an_out_dir_that_is_a_link_is_the_folder_it_names() {
    let s = Scratch::new();
    let refs = refs(&s.join("refs"), &SCENES[..2]);
    std::fs::create_dir(s.join("real")).unwrap();
    std::os::unix::fs::symlink(s.join("real"), s.join("link")).unwrap();
    let out = kit()
        .current_dir(s.path())
        .args(["full", "--ref-dir", refs.as_str(), "--out-dir", "link"])
        .args(GRID)
        .args(["--seeds", "0,1", "--epochs", "5", "--stability", "0", "-q"])
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    assert!(s.join("link").is_symlink(), "the link itself is left alone");
    assert!(s.join("real/manifest.json").is_file());
    assert!(s.join("real/corpus/shard.jsonl").is_file());
    let bundle = String::from_utf8(out.stdout).unwrap();
    assert!(
        bundle
            .trim()
            .starts_with(s.join("real").canonicalize_utf8().unwrap().as_str()),
        "{bundle}"
    );

    std::os::unix::fs::symlink(s.join("nowhere"), s.join("dangling")).unwrap();
    kit()
        .args(["full", "--ref-dir", refs.as_str(), "--out-dir"])
        .arg(s.join("dangling"))
        .args(GRID)
        .assert()
        .code(2)
        .stderr(contains("is a symbolic link that does not name a folder"));
}
