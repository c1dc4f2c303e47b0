//! Audit cells (issue 20 item 3, issue 29 item 2): `full` keeps K bitstreams chosen from the
//! hash of the shard's rows and bundles them; `verify --audit --ref-dir` derives which cells each
//! shard (also inside a merged corpus) must list, re-scores them against the owner's references
//! and reads the CRF x264 wrote into them; it fails, naming cell and frame, for an edited row,
//! other references, hostile bitstreams, cells listed or left out by hand, too few cells, and
//! a relabelled CQ.

mod common;
use camino::{Utf8Path, Utf8PathBuf};
use common::*;
use ensemble_kit::ingest::corpus::audit_cells::{choose, CellId};
use ensemble_kit::ingest::merge::{key, rows_sha256};
use ensemble_kit::schema::CorpusRow;
use predicates::str::contains;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

/// `full` on the demo clips, few frames, one encoder, two cqs (18 cells).
fn full_args<'a>(out: &'a str, cells: &'a str) -> Vec<&'a str> {
    vec![
        "full",
        "--demo",
        "--frames",
        "6",
        "--encoders",
        "libx264",
        "--cqs",
        "25,37",
        "--seeds",
        "0,1",
        "--epochs",
        "40",
        "--stability",
        "0",
        "--cell-dir",
        cells,
        "--out-dir",
        out,
        "-q",
    ]
}

/// Runs `full` in `root`; returns the bundle's path.
fn run_full(root: &Utf8Path, out: &str) -> Utf8PathBuf {
    let output = kit()
        .current_dir(root)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .args(full_args(out, "cells"))
        .output()
        .unwrap();
    let code = output.status.code().unwrap();
    assert!(
        code == 0 || code == 1,
        "full failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    root.join(String::from_utf8(output.stdout).unwrap().trim())
}

/// One `full` run shared by the tests: (root, bundle).
fn fresh() -> &'static (Utf8PathBuf, Utf8PathBuf) {
    static RUN: OnceLock<(Utf8PathBuf, Utf8PathBuf)> = OnceLock::new();
    RUN.get_or_init(|| {
        let root = Utf8PathBuf::from_path_buf(tempfile::tempdir().unwrap().keep()).unwrap();
        let bundle = run_full(&root, "results");
        (root, bundle)
    })
}

fn meta(results: &Utf8Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(results.join("corpus/shard.meta.json")).unwrap()).unwrap()
}

/// The demo references the run scored (the owner has the same clips).
fn ref_dir() -> Utf8PathBuf {
    let (root, _) = fresh();
    let dir = meta(&root.join("results"))["ref_dir"]
        .as_str()
        .unwrap()
        .to_owned();
    root.join(dir)
}

/// A copy of the shared results folder (and its cell store) that a test may change.
fn copy_of_results() -> Scratch {
    let (root, _) = fresh();
    let s = Scratch::new();
    for name in ["results", "cells"] {
        let status = std::process::Command::new("cp")
            .args(["-a", root.join(name).as_str(), s.path().as_str()])
            .status()
            .unwrap();
        assert!(status.success());
    }
    s
}

fn audit(bundle: &Utf8Path, refs: &Utf8Path) -> assert_cmd::assert::Assert {
    kit()
        .args([
            "verify",
            "--audit",
            "--ref-dir",
            refs.as_str(),
            bundle.as_str(),
        ])
        .assert()
}

fn run_ok(root: &Utf8Path, args: &[&str]) -> i32 {
    let out = stage(root, args);
    let code = out.status.code().unwrap();
    assert!(
        code == 0 || code == 1,
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    code
}

/// Re-trains on `shard`, re-judges, re-exports and re-bundles `results` after its corpus was
/// changed, so that everything but the audit is consistent again; returns the new bundle.
fn rejudge(root: &Utf8Path, shard: &str) -> Utf8PathBuf {
    let train = ["train", "--corpus", shard, "--out-dir", "results/loso"];
    run_ok(
        root,
        &[&train[..], &["--seeds", "0,1", "--epochs", "40"]].concat(),
    );
    let _ = std::fs::remove_dir_all(root.join("results/models"));
    if run_ok(root, &JUDGE_SEEDS_0_1) == 0 {
        run_ok(
            root,
            &[
                "export",
                "--corpus",
                shard,
                "--verdict",
                "results/PROMOTE.json",
                "--out-dir",
                "results/models",
                "--epochs",
                "40",
            ],
        );
    }
    rebundle(root)
}

/// Writes a new bundle of `results` as it is now.
fn rebundle(root: &Utf8Path) -> Utf8PathBuf {
    for entry in root.join("results").read_dir_utf8().unwrap() {
        let entry = entry.unwrap();
        if entry.file_name().starts_with("ensemble-results-") {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
    // A forger renders the page again too: a bundle's report must be its own files' page.
    stage_ok(
        root,
        &["report", "--out-dir", "results", "--format", "html"],
    );
    let out = stage_ok(root, &["bundle", "--out-dir", "results"]);
    root.join(String::from_utf8(out.stdout).unwrap().trim())
}

/// Rewrites the shard's rows through `edit`, then its metadata's hash and row count, as a
/// forger who knows the format would.
fn edit_rows(results: &Utf8Path, edit: impl FnOnce(&mut Vec<serde_json::Value>)) {
    let shard = results.join("corpus/shard.jsonl");
    let mut all = rows(&shard);
    edit(&mut all);
    let text: String = all
        .iter()
        .map(|r| serde_json::to_string(r).unwrap() + "\n")
        .collect();
    std::fs::write(&shard, text).unwrap();
    edit_meta(results, |m| {
        m["shard_sha256"] = ensemble_kit::digest::sha256_file(&shard).unwrap().into();
        m["n_rows"] = all.len().into();
    });
}

fn edit_meta(results: &Utf8Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = results.join("corpus/shard.meta.json");
    let mut doc = meta(results);
    edit(&mut doc);
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
}

/// The first audit cell of the metadata: (src, cq, its bitstream's path).
fn first_audit_cell(results: &Utf8Path) -> (String, u64, Utf8PathBuf) {
    let m = meta(results);
    let cell = &m["audit_cells"][0];
    (
        cell["src"].as_str().unwrap().to_owned(),
        cell["cq"].as_u64().unwrap(),
        results
            .join("corpus/shard.audit")
            .join(cell["file"].as_str().unwrap()),
    )
}

/// Replaces the first audit cell's bitstream with `bytes` and makes the metadata and the rows
/// agree with it, so only the audit's own checks can refuse it (once the seeds are trained on
/// those rows again: `rejudge`).
fn swap_bitstream(results: &Utf8Path, bytes: &[u8]) -> String {
    let (src, cq, path) = first_audit_cell(results);
    std::fs::write(&path, bytes).unwrap();
    edit_meta(results, |m| {
        m["audit_cells"][0]["bytes"] = bytes.len().into();
        m["audit_cells"][0]["sha256"] = ensemble_kit::digest::sha256_bytes(bytes).into();
    });
    edit_rows(results, |rows| {
        for row in rows.iter_mut().filter(|r| r["src"] == src && r["cq"] == cq) {
            row["enc_bytes"] = bytes.len().into();
        }
    });
    format!("audit cell {src}/libx264/cq{cq}")
}

#[test]
fn a_fresh_bundle_carries_its_audit_cells_and_passes_the_audit() {
    let (root, bundle) = fresh();
    let results = root.join("results");
    let m = meta(&results);
    let cells = m["audit_cells"].as_array().unwrap();
    assert_eq!(cells.len(), 3, "{m}");
    assert_eq!(m["settings"]["audit_cells"], 3);
    // The choice's seed is the rows' hash: for one shard, the corpus identity training records.
    let loso: Value =
        serde_json::from_slice(&std::fs::read(results.join("loso/loso_seed0.json")).unwrap())
            .unwrap();
    assert_eq!(m["rows_sha256"], loso["corpus_sha256"]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(results.join("manifest.json")).unwrap()).unwrap();
    for cell in cells {
        let path = format!("corpus/shard.audit/{}", cell["file"].as_str().unwrap());
        let listed = manifest["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == path.as_str())
            .unwrap_or_else(|| panic!("{path} is not in the manifest"));
        assert_eq!(listed["sha256"], cell["sha256"]);
        assert_eq!(listed["size"], cell["bytes"]);
    }
    audit(bundle, &ref_dir())
        .success()
        .stdout(contains("ok ("))
        .stdout(contains("audit: 3 cell(s), 18 frames re-scored"));
    // --extract together with --audit extracts only after the audit passed.
    let s = Scratch::new();
    kit()
        .args(["verify", "--audit", "--ref-dir", ref_dir().as_str()])
        .args(["--extract", s.join("x").as_str(), bundle.as_str()])
        .assert()
        .success();
    assert!(s
        .join("x/corpus/shard.audit")
        .join(cells[0]["file"].as_str().unwrap())
        .is_file());
}

#[test]
fn the_same_run_keeps_the_same_cells_and_bundles_the_same_bytes() {
    let (root, bundle) = fresh();
    // A second run into another folder (the finished cells come from the shared store).
    let again = run_full(root, "again");
    assert_eq!(
        meta(&root.join("again"))["audit_cells"],
        meta(&root.join("results"))["audit_cells"]
    );
    assert_eq!(
        std::fs::read(&again).unwrap(),
        std::fs::read(bundle).unwrap(),
        "bundles of the same run differ"
    );
}

#[test]
fn an_edited_row_of_an_audited_cell_fails_naming_cell_and_frame() {
    let s = copy_of_results();
    let results = s.join("results");
    let (src, cq, _) = first_audit_cell(&results);
    edit_rows(&results, |rows| {
        let row = rows
            .iter_mut()
            .find(|r| r["src"] == src.as_str() && r["cq"] == cq && r["frame_index"] == 2)
            .unwrap();
        row["vmaf"] = (row["vmaf"].as_f64().unwrap() * 0.9).into();
    });
    let bundle = rejudge(s.path(), "results/corpus/shard.jsonl");
    // Everything else is consistent: the plain check passes.
    kit().args(["verify", bundle.as_str()]).assert().success();
    audit(&bundle, &ref_dir()).code(2).stderr(contains(format!(
        "audit cell {src}/libx264/cq{cq}: frame 2: vmaf recorded"
    )));
}

#[test]
fn references_with_other_bytes_fail() {
    let (_, bundle) = fresh();
    let s = Scratch::new();
    let refs = s.join("refs");
    std::fs::create_dir(&refs).unwrap();
    for entry in ref_dir().read_dir_utf8().unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), refs.join(entry.file_name())).unwrap();
    }
    let (src, _, _) = first_audit_cell(&fresh().0.join("results"));
    let victim = refs
        .read_dir_utf8()
        .unwrap()
        .map(|e| e.unwrap().path().to_owned())
        .find(|p| p.file_stem() == Some(src.as_str()))
        .unwrap();
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&victim, bytes).unwrap();
    audit(bundle, &refs)
        .code(2)
        .stderr(contains(format!("audit cell {src}/libx264/cq")))
        .stderr(contains(
            "these are not the references the collaborator used",
        ));
}

#[test]
fn bitstreams_that_are_not_matroska_or_are_a_playlist_are_refused() {
    let playlist = b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nfile:///etc/passwd\n#EXTINF:1.0,\nhttp://example.invalid/x.ts\n#EXT-X-ENDLIST\n";
    let concat = b"ffconcat version 1.0\nfile '/etc/passwd'\nfile 'http://example.invalid/x.mkv'\n"
        .repeat(2);
    for bytes in [&playlist[..], &concat[..], &[0u8; 4096][..]] {
        let s = copy_of_results();
        let cell = swap_bitstream(&s.join("results"), bytes);
        audit(&rejudge(s.path(), "results/corpus/shard.jsonl"), &ref_dir())
            .code(2)
            .stderr(contains(format!("{cell}: ")))
            .stderr(contains("is not a Matroska file"));
    }
    // A real Matroska file, but not what libx264 writes (MPEG-4 Part 2 plus an audio stream).
    let s = copy_of_results();
    let other = s.join("other.mkv");
    let status = std::process::Command::new(real_ffmpeg())
        .args(["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i"])
        .args([
            "testsrc2=s=320x180:r=25",
            "-f",
            "lavfi",
            "-i",
            "sine",
            "-t",
            "0.24",
        ])
        .args([
            "-c:v",
            "mpeg4",
            "-c:a",
            "pcm_s16le",
            "-f",
            "matroska",
            other.as_str(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let cell = swap_bitstream(&s.join("results"), &std::fs::read(&other).unwrap());
    audit(&rejudge(s.path(), "results/corpus/shard.jsonl"), &ref_dir())
        .code(2)
        .stderr(contains(format!("{cell}: ")))
        .stderr(contains("must hold exactly one h264 video stream"));
}

#[test]
fn a_missing_audit_cell_or_one_not_in_the_rows_is_refused() {
    let s = copy_of_results();
    let results = s.join("results");
    let (src, cq, path) = first_audit_cell(&results);
    std::fs::remove_file(&path).unwrap();
    audit(&rebundle(s.path()), &ref_dir())
        .code(2)
        .stderr(contains(format!(
            "audit cell {src}/libx264/cq{cq}: missing: {}",
            path.file_name().unwrap()
        )));

    let s = copy_of_results();
    let results = s.join("results");
    edit_rows(&results, |rows| {
        rows.retain(|r| !(r["src"] == src.as_str() && r["cq"] == cq));
    });
    audit(&rejudge(s.path(), "results/corpus/shard.jsonl"), &ref_dir())
        .code(2)
        .stderr(contains(format!(
            "audit cell {src}/libx264/cq{cq}: not named in the rows of shard.jsonl"
        )));
}

#[test]
fn merge_keeps_each_shards_audit_cells() {
    let s = copy_of_results();
    let shard = s.join("results/corpus/shard.jsonl");
    kit()
        .args([
            "merge",
            shard.as_str(),
            "--out",
            s.join("m/merged.jsonl").as_str(),
            "-q",
        ])
        .assert()
        .success();
    let mut kept: Vec<String> = s
        .join("m/merged.audit")
        .read_dir_utf8()
        .unwrap()
        .map(|e| e.unwrap().file_name().to_owned())
        .collect();
    kept.sort();
    let mut listed: Vec<String> = meta(&s.join("results"))["audit_cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["file"].as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    assert_eq!(kept, listed);
}

#[test]
fn no_audit_cells_keeps_no_bitstreams_and_cannot_be_audited() {
    let s = copy_of_results();
    let mut args = full_args("results", "cells");
    args.extend(["--audit-cells", "0"]);
    let out = kit()
        .current_dir(s.path())
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .args(&args)
        .output()
        .unwrap();
    let bundle = s.path().join(String::from_utf8(out.stdout).unwrap().trim());
    let leftovers: Vec<_> = s
        .join("results/corpus/shard.audit")
        .read_dir_utf8()
        .unwrap()
        .collect();
    assert!(leftovers.is_empty(), "stale audit cells were kept");
    kit().args(["verify", bundle.as_str()]).assert().success();
    audit(&bundle, &ref_dir())
        .code(2)
        .stderr(contains("carries no audit cells"));
}

/// The cells a shard's metadata lists, as (source sha256, encoder, cq) with their rows count.
fn listed_cells(meta: &Value) -> BTreeMap<CellId, u64> {
    let sha_of = |src: &Value| {
        meta["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == *src)
            .unwrap()["sha256"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    meta["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let id = (
                sha_of(&c["src"]),
                c["encoder"].as_str().unwrap().to_owned(),
                c["cq"].as_u64().unwrap() as u32,
            );
            (id, c["rows"].as_u64().unwrap())
        })
        .collect()
}

/// What a forger who read the kit's source recomputes for a shard (`meta`) whose rows sit in
/// `rows`: the SHA-256 of its listed cells' rows (timings excluded, key order) and the cells
/// that seed chooses.
fn rechoose(rows: &[Value], meta: &Value) -> (String, Vec<CellId>) {
    let cells = listed_cells(meta);
    let mut own: BTreeMap<_, CorpusRow> = BTreeMap::new();
    for row in rows {
        let row: CorpusRow = serde_json::from_value(row.clone()).unwrap();
        let id = (row.src_sha256.clone(), row.encoder.clone(), row.cq);
        if cells.get(&id).is_some_and(|&n| row.frame_index < n) {
            own.insert(key(&row), row);
        }
    }
    let seed = rows_sha256(own.into_values());
    let ids: BTreeSet<CellId> = cells.into_keys().collect();
    let k = meta["settings"]["audit_cells"].as_u64().unwrap() as usize;
    let chosen = choose(&seed, &ids, k);
    (seed, chosen)
}

/// Makes `meta` list `cells` as its audit cells, their bitstreams copied from the cell store
/// `store` into `audit_dir`, as `corpus` would have kept them.
fn list_audit_cells(meta: &mut Value, cells: &[CellId], store: &Utf8Path, audit_dir: &Utf8Path) {
    let summaries = meta["cells"].as_array().unwrap().clone();
    let sources = meta["sources"].as_array().unwrap().clone();
    let entries: Vec<Value> = cells
        .iter()
        .map(|(sha, encoder, cq)| {
            let src = &sources
                .iter()
                .find(|s| s["sha256"] == sha.as_str())
                .unwrap()["name"];
            let cell = summaries
                .iter()
                .find(|c| c["src"] == *src && c["encoder"] == encoder.as_str() && c["cq"] == *cq)
                .unwrap();
            let file = format!("{}.mkv", cell["key"].as_str().unwrap());
            std::fs::copy(store.join(&file), audit_dir.join(&file)).unwrap();
            let bytes = std::fs::read(audit_dir.join(&file)).unwrap();
            serde_json::json!({
                "src": src, "src_sha256": sha, "encoder": encoder, "cq": cq,
                "key": cell["key"], "file": file, "bytes": bytes.len(),
                "sha256": ensemble_kit::digest::sha256_bytes(&bytes),
            })
        })
        .collect();
    meta["audit_cells"] = entries.into();
}

/// The results folder's merged corpus.
const MERGED: &str = "results/corpus/merged.jsonl";

/// `results/corpus/merged.jsonl`: the shared run's shard (cqs 25, 37) merged with a second
/// shard of the same box (cq 31, `b/shard.jsonl`), then trained, judged and bundled by `full
/// --corpus` (which drops the first shard's own files from the folder): (root, bundle).
fn merged() -> &'static (Utf8PathBuf, Utf8PathBuf) {
    static RUN: OnceLock<(Utf8PathBuf, Utf8PathBuf)> = OnceLock::new();
    RUN.get_or_init(|| {
        let root = Utf8PathBuf::from_path_buf(copy_of_results().dir.keep()).unwrap();
        stage_ok(
            &root,
            &[
                "corpus",
                "--demo",
                "--frames",
                "6",
                "--encoders",
                "libx264",
                "--cqs",
                "31",
                "--cell-dir",
                "cells",
                "--out",
                "b/shard.jsonl",
            ],
        );
        stage_ok(
            &root,
            &[
                "merge",
                "results/corpus/shard.jsonl",
                "b/shard.jsonl",
                "--out",
                MERGED,
            ],
        );
        let out = stage(
            &root,
            &[
                "full",
                "--corpus",
                MERGED,
                "--seeds",
                "0,1",
                "--epochs",
                "40",
                "--stability",
                "0",
                "--out-dir",
                "results",
            ],
        );
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "full --corpus: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bundle = root.join(String::from_utf8(out.stdout).unwrap().trim());
        (root, bundle)
    })
}

/// A copy of the merged run's results folder and cell store that a test may change.
fn copy_of_merged() -> Scratch {
    let (root, _) = merged();
    let s = Scratch::new();
    for name in ["results", "cells"] {
        let status = std::process::Command::new("cp")
            .args(["-a", root.join(name).as_str(), s.path().as_str()])
            .status()
            .unwrap();
        assert!(status.success());
    }
    s
}

fn merged_meta(results: &Utf8Path) -> Value {
    serde_json::from_slice(&std::fs::read(results.join("corpus/merged.meta.json")).unwrap())
        .unwrap()
}

/// Writes the merged corpus's rows and metadata as a forger would: the file's hash, row count
/// and rows hash recomputed, so that only the audit's own derivations can object.
fn write_merged(results: &Utf8Path, rows: &[Value], mut meta: Value) {
    let corpus = results.join("corpus/merged.jsonl");
    let text: String = rows
        .iter()
        .map(|r| serde_json::to_string(r).unwrap() + "\n")
        .collect();
    std::fs::write(&corpus, text).unwrap();
    let parsed: Vec<CorpusRow> = rows
        .iter()
        .map(|r| serde_json::from_value(r.clone()).unwrap())
        .collect();
    meta["corpus_sha256"] = ensemble_kit::digest::sha256_file(&corpus).unwrap().into();
    meta["n_rows"] = rows.len().into();
    meta["rows_sha256"] = rows_sha256(&parsed).into();
    std::fs::write(
        results.join("corpus/merged.meta.json"),
        serde_json::to_vec_pretty(&meta).unwrap(),
    )
    .unwrap();
}

/// `src/encoder/cqN` of an audit-cell or cell-summary entry.
fn label(cell: &Value) -> String {
    format!(
        "{}/{}/cq{}",
        cell["src"].as_str().unwrap(),
        cell["encoder"].as_str().unwrap(),
        cell["cq"]
    )
}

#[test]
fn an_honest_merged_corpus_passes_with_every_inner_choice_derived() {
    let (root, bundle) = merged();
    audit(bundle, &ref_dir())
        .success()
        .stdout(contains("audit: 6 cell(s), 36 frames re-scored"))
        .stdout(contains(
            "audit: the audit cells of 2 shard(s) are the ones their rows choose \
             (corpus/merged.jsonl › results/corpus/shard.jsonl, corpus/merged.jsonl › b/shard.jsonl)",
        ))
        .stdout(contains(
            "audit: CQ read from the bitstream and equal to the rows' for 6 cell(s)",
        ))
        .stdout(contains("/libx264/cq31 crf=31.0"))
        // Every line says how its fact stands (issue 29): all of these were derived here.
        .stdout(contains("shard.jsonl) [derived]\n"))
        .stdout(predicates::function::function(|out: &str| {
            let audit: Vec<&str> = out.lines().filter(|l| l.starts_with("audit: ")).collect();
            audit.len() == 3 && audit.iter().all(|l| l.ends_with(" [derived]"))
        }));
    // Each inner shard records the seed the owner derives.
    let m = merged_meta(&root.join("results"));
    let rows = rows(&root.join(MERGED));
    for shard in m["shards"].as_array().unwrap() {
        let (seed, chosen) = rechoose(&rows, &shard["meta"]);
        assert_eq!(shard["meta"]["rows_sha256"], seed.as_str(), "recorded seed");
        assert_eq!(chosen.len(), 3);
    }
}

#[test]
fn a_merged_corpus_whose_inner_shard_lists_another_cell_than_its_rows_choose_fails() {
    let s = copy_of_merged();
    let results = s.join("results");
    let mut m = merged_meta(&results);
    let mut rows = rows(&s.join(MERGED));
    // The box forges a chosen cell's scores…
    let forged = m["shards"][0]["meta"]["audit_cells"][0].clone();
    for row in rows.iter_mut().filter(|r| {
        r["src"] == forged["src"] && r["cq"] == forged["cq"] && r["encoder"] == forged["encoder"]
    }) {
        row["vmaf"] = (row["vmaf"].as_f64().unwrap() * 0.9).into();
    }
    // …and lists an honest cell in its place, with that cell's real bitstream.
    let inner = &mut m["shards"][0]["meta"];
    let (seed, _) = rechoose(&rows, inner);
    let listed: Vec<CellId> = inner["audit_cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let cq = c["cq"].as_u64().unwrap() as u32;
            (
                c["src_sha256"].as_str().unwrap().to_owned(),
                "libx264".to_owned(),
                cq,
            )
        })
        .collect();
    let honest = listed_cells(inner)
        .into_keys()
        .find(|id| !listed.contains(id))
        .unwrap();
    let mut swapped = listed.clone();
    swapped[0] = honest;
    swapped.sort();
    let audit_dir = results.join("corpus/merged.audit");
    std::fs::remove_file(audit_dir.join(forged["file"].as_str().unwrap())).unwrap();
    list_audit_cells(inner, &swapped, &s.join("cells"), &audit_dir);
    inner["rows_sha256"] = seed.into();
    let now_listed: Vec<String> = inner["audit_cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(label)
        .collect();
    write_merged(&results, &rows, m);
    let bundle = rejudge(s.path(), MERGED);
    kit().args(["verify", bundle.as_str()]).assert().success();
    audit(&bundle, &ref_dir())
        .code(2)
        .stderr(contains(format!(
            "corpus/merged.jsonl › results/corpus/shard.jsonl: its audit cells ({}) are not the 3 its rows choose (",
            now_listed.join(", ")
        )));
}

#[test]
fn an_inner_shard_that_leaves_a_cell_out_of_its_list_fails() {
    let s = copy_of_merged();
    let results = s.join("results");
    let mut m = merged_meta(&results);
    let rows = rows(&s.join(MERGED));
    // The box drops one cell from its shard's list (its rows stay in the corpus), so the cell
    // is out of the draw; it then lists what the remaining cells choose, bitstreams and all.
    let inner = &mut m["shards"][0]["meta"];
    let listed: Vec<String> = inner["audit_cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(label)
        .collect();
    let cells = inner["cells"].as_array_mut().unwrap();
    let at = cells
        .iter()
        .position(|c| !listed.contains(&label(c)))
        .unwrap();
    let hidden = cells.remove(at);
    inner["n_rows"] = (inner["n_rows"].as_u64().unwrap() - hidden["rows"].as_u64().unwrap()).into();
    let (seed, chosen) = rechoose(&rows, inner);
    let audit_dir = results.join("corpus/merged.audit");
    list_audit_cells(inner, &chosen, &s.join("cells"), &audit_dir);
    inner["rows_sha256"] = seed.into();
    let shard_rows = m["shards"][0]["rows"].as_u64().unwrap();
    m["shards"][0]["rows"] = (shard_rows - hidden["rows"].as_u64().unwrap()).into();
    write_merged(&results, &rows, m);
    let bundle = rebundle(s.path());
    kit().args(["verify", bundle.as_str()]).assert().success();
    audit(&bundle, &ref_dir()).code(2).stderr(contains(format!(
        "corpus/merged.jsonl: rows of 1 cell(s) belong to no inner shard's listed cells: {} (6 rows)",
        label(&hidden)
    )));
}

#[test]
fn fewer_audit_cells_than_the_minimum_are_refused_when_scoring() {
    // 1 or 2 is refused before any work; 0 (no audit) stays allowed.
    let s = copy_of_results();
    for k in ["1", "2"] {
        kit()
            .current_dir(s.path())
            .args(["corpus", "--demo", "--frames", "6", "--encoders", "libx264"])
            .args([
                "--cqs",
                "25,37",
                "--cell-dir",
                "cells",
                "--out",
                "few/shard.jsonl",
            ])
            .args(["--audit-cells", k, "-q"])
            .assert()
            .code(2)
            .stderr(contains(format!(
                "{k} audit cell(s) per shard is below the minimum of 3"
            )));
    }
}

#[test]
fn a_shard_listing_fewer_audit_cells_than_the_minimum_fails_the_audit() {
    // The metadata asks for one cell and lists one. Whichever cell the rule puts first, a
    // one-cell list is refused: each of the three is tried.
    let outputs: Vec<std::process::Output> = (0..3)
        .map(|i| {
            let s = copy_of_results();
            edit_meta(&s.join("results"), |m| {
                m["settings"]["audit_cells"] = 1.into();
                m["audit_cells"] = vec![m["audit_cells"][i].clone()].into();
            });
            audit(&rebundle(s.path()), &ref_dir()).get_output().clone()
        })
        .collect();
    for (i, out) in outputs.iter().enumerate() {
        assert_eq!(
            out.status.code(),
            Some(2),
            "a one-cell list (cell {i}) passed the audit"
        );
    }
    for out in outputs {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("corpus/shard.jsonl: lists 1 audit cell(s), fewer than the minimum 3 (it has 18 cells)"),
            "{stderr}"
        );
    }
}

#[test]
fn a_cell_whose_rows_claim_another_cq_than_its_bitstream_says_fails() {
    let s = copy_of_results();
    let results = s.join("results");
    // Every cell is audited, so the relabelled one is among them whatever the draw.
    stage_ok(
        s.path(),
        &[
            "corpus",
            "--demo",
            "--frames",
            "6",
            "--encoders",
            "libx264",
            "--cqs",
            "25,37",
            "--cell-dir",
            "cells",
            "--out",
            "results/corpus/shard.jsonl",
            "--audit-cells",
            "18",
        ],
    );
    // The box's cq-25 encode of one source is sent as a cq-31 cell: rows, cell and audit cell.
    let (src, _, _) = first_audit_cell(&results);
    let relabel = |v: &mut Value| {
        if v["src"] == src.as_str() && v["cq"] == 25 {
            v["cq"] = 31.into();
        }
    };
    edit_rows(&results, |rows| rows.iter_mut().for_each(relabel));
    let rows = rows(&results.join("corpus/shard.jsonl"));
    edit_meta(&results, |m| {
        m["cells"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .for_each(relabel);
        m["audit_cells"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .for_each(relabel);
        let (seed, chosen) = rechoose(&rows, m);
        assert_eq!(chosen.len(), 18);
        m["rows_sha256"] = seed.into();
    });
    let bundle = rejudge(s.path(), "results/corpus/shard.jsonl");
    kit().args(["verify", bundle.as_str()]).assert().success();
    audit(&bundle, &ref_dir()).code(2).stderr(contains(format!(
        "audit cell {src}/libx264/cq31: CQ: the bitstream says crf=25.0 (libx264 writes its settings into the stream), the rows claim cq 31"
    )));
}
