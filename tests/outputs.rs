//! Outputs never replace inputs (issue 29, Deliver item 5): every command that writes refuses,
//! with exit 2 and touching nothing, an output path that is one of its inputs — spelt as given,
//! through a symbolic link, as `x/../x`, or as a hard link — even with `--force`, and an
//! existing file the kit did not write unless `--force` (which then replaces it). A file the kit
//! wrote with the same meaning is replaced as before.
//!
//! Each test begins with the case that was a hole at b3ec481 (exit 0 and an input, or an
//! operator's file, gone); `verify --extract` and `full --out-dir` were already safe, and their
//! tests pin that.

mod common;
use camino::{Utf8Path, Utf8PathBuf};
use common::*;
use std::collections::BTreeMap;

/// Every file and link below `root` with its bytes (a link as its target): what a refused
/// command must leave exactly as it was.
fn snapshot(root: &Utf8Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in walkdir::WalkDir::new(root).min_depth(1) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(root).unwrap().to_string_lossy();
        let kind = entry.file_type();
        let bytes = if kind.is_symlink() {
            let target = std::fs::read_link(entry.path()).unwrap();
            format!("-> {}", target.display()).into_bytes()
        } else if kind.is_file() {
            std::fs::read(entry.path()).unwrap()
        } else {
            b"(folder)".to_vec()
        };
        files.insert(rel.into_owned(), bytes);
    }
    files
}

/// Runs `cmd`, which must be refused with exit 2 saying each of `says`, and leave every file
/// below `root` byte for byte as it was.
fn refused(cmd: &mut assert_cmd::Command, root: &Utf8Path, says: &[&str]) {
    let before = snapshot(root);
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{cmd:?} must be refused: {stderr}"
    );
    for words in says.iter().chain(&["Nothing was written"]) {
        assert!(
            stderr.contains(words),
            "{cmd:?}: expected `{words}` in: {stderr}"
        );
    }
    assert!(
        snapshot(root) == before,
        "{cmd:?} was refused but changed files below {root}"
    );
}

/// Runs `cmd`, which must succeed.
fn ok(cmd: &mut assert_cmd::Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `link` made a symbolic link to `target`.
fn symlink(target: &Utf8Path, link: &Utf8Path) -> Utf8PathBuf {
    std::os::unix::fs::symlink(target, link).unwrap();
    link.to_owned()
}

/// `link` made a hard link of `target`.
fn hard_link(target: &Utf8Path, link: &Utf8Path) -> Utf8PathBuf {
    std::fs::hard_link(target, link).unwrap();
    link.to_owned()
}

/// `path` spelt through its own folder and back: `DIR/../DIR_NAME/FILE`.
fn respelt(path: &Utf8Path) -> Utf8PathBuf {
    let dir = path.parent().unwrap();
    let folder = dir.file_name().unwrap();
    dir.join("..").join(folder).join(path.file_name().unwrap())
}

/// An operator's own file at `path`.
fn operators_file(path: &Utf8Path) -> Utf8PathBuf {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, "the operator's notes, not the kit's\n").unwrap();
    path.to_owned()
}

/// The kit, pinned to the step-by-step tests' clock.
fn kit_at(root: &Utf8Path) -> assert_cmd::Command {
    let mut cmd = kit();
    cmd.current_dir(root)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .arg("-q");
    cmd
}

/// A results folder made by hand through the PROMOTE path (a learnable shard without
/// metadata, seeds 0 and 1 at 150 epochs, verdict, export, bundle), once per test binary.
fn promoted_by_hand() -> &'static Utf8PathBuf {
    static DIR: std::sync::OnceLock<Utf8PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let root = Utf8PathBuf::from_path_buf(tempfile::tempdir().unwrap().keep()).unwrap();
        let shard = "results/corpus/shard.jsonl";
        learnable_shard(&root.join(shard), 8);
        let fit = ["--epochs", "150", "--allow-missing-meta"];
        let mut train = vec!["train", "--corpus", shard, "--out-dir", "results/loso"];
        train.extend(["--seeds", "0,1"]);
        train.extend(fit);
        stage_ok(&root, &train);
        stage_ok(&root, &JUDGE_SEEDS_0_1);
        let mut export = vec![
            "export",
            "--corpus",
            shard,
            "--verdict",
            "results/PROMOTE.json",
        ];
        export.extend(["--out-dir", "results/models"]);
        export.extend(fit);
        stage_ok(&root, &export);
        stage_ok(&root, &["bundle", "--out-dir", "results"]);
        root
    })
}

/// A copy of [`promoted_by_hand`]'s `results/` in a new scratch folder.
fn results() -> Scratch {
    let s = Scratch::new();
    let status = std::process::Command::new("cp")
        .args(["-a", promoted_by_hand().join("results").as_str()])
        .arg(s.path())
        .status()
        .unwrap();
    assert!(status.success());
    s
}

/// The one bundle in `dir`.
fn bundle_in(dir: &Utf8Path) -> Utf8PathBuf {
    dir.read_dir_utf8()
        .unwrap()
        .map(|e| e.unwrap().path().to_owned())
        .find(|p| p.as_str().ends_with(".tar.gz"))
        .expect("a bundle")
}

/// Files of the PROMOTE fixture: seed 0's sidecar and model (`export`'s default id), the shard.
const SIDECAR0: &str = "results/models/fr_regressor_v2_ensemble_v1_seed0.json";
const MODEL0: &str = "results/models/fr_regressor_v2_ensemble_v1_seed0.onnx";
const SHARD: &str = "results/corpus/shard.jsonl";

#[test]
fn evaluate_out_never_replaces_its_corpus_or_models() {
    let s = results();
    let root = s.path();
    let shard = s.join(SHARD);
    let models = s.join("results/models");
    let evaluate = |models: &Utf8Path, out: &Utf8Path, force: bool| {
        let mut cmd = kit_at(root);
        cmd.args(["evaluate", "--models", models.as_str()])
            .args(["--corpus", shard.as_str(), "--allow-missing-meta"])
            .args(["--out", out.as_str()]);
        if force {
            cmd.arg("--force");
        }
        cmd
    };
    // b3ec481 wrote the evaluation over its own corpus, exit 0.
    refused(
        &mut evaluate(&models, &shard, false),
        root,
        &["is --corpus"],
    );
    // Every other name of the corpus, even with --force.
    let other_names = [
        respelt(&shard),
        symlink(&shard, &s.join("link.jsonl")),
        hard_link(&shard, &s.join("hard.jsonl")),
    ];
    for name in &other_names {
        refused(&mut evaluate(&models, name, true), root, &["is --corpus"]);
    }
    // The bundle given as --models, and a file in the models folder it reads.
    let bundle = bundle_in(&s.join("results"));
    refused(
        &mut evaluate(&bundle, &bundle, true),
        root,
        &["is --models"],
    );
    let sidecar = s.join(SIDECAR0);
    refused(
        &mut evaluate(&models, &sidecar, true),
        root,
        &["reads from --models"],
    );
    refused(
        &mut evaluate(&models, &models.join("evaluation.json"), true),
        root,
        &["lies inside --models"],
    );
    // An operator's file: refused untouched, replaced with --force.
    let notes = operators_file(&s.join("notes.json"));
    refused(
        &mut evaluate(&models, &notes, false),
        root,
        &["did not write", "--force"],
    );
    ok(&mut evaluate(&models, &notes, true));
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&notes).unwrap()).unwrap();
    assert_eq!(written["kind"], "evaluation");
    // An evaluation the kit wrote is replaced as before, without --force.
    ok(&mut evaluate(&models, &notes, false));
}

/// Two shards of the learnable corpus (sources s0–s1 and s2–s3) merged into kit shards with
/// metadata: (a, b).
fn two_shards(s: &Scratch) -> (Utf8PathBuf, Utf8PathBuf) {
    let all = s.join("all.jsonl");
    learnable_shard(&all, 2);
    let text = std::fs::read_to_string(&all).unwrap();
    std::fs::remove_file(&all).unwrap();
    std::fs::create_dir_all(s.join("in")).unwrap();
    let mut made = Vec::new();
    for (name, sources) in [("a", ["\"s0\"", "\"s1\""]), ("b", ["\"s2\"", "\"s3\""])] {
        let raw = s.join(&format!("{name}.raw.jsonl"));
        let rows: String = text
            .lines()
            .filter(|l| {
                sources
                    .iter()
                    .any(|src| l.contains(&format!("\"src\":{src}")))
            })
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&raw, rows).unwrap();
        let shard = s.join(&format!("in/{name}.jsonl"));
        stage_ok(
            s.path(),
            &[
                "merge",
                raw.as_str(),
                "--out",
                shard.as_str(),
                "--allow-missing-meta",
            ],
        );
        std::fs::remove_file(&raw).unwrap();
        made.push(shard);
    }
    (made[0].clone(), made[1].clone())
}

#[test]
fn merge_out_never_replaces_a_shard_it_merges() {
    let s = Scratch::new();
    let root = s.path();
    let (a, b) = two_shards(&s);
    let merge = |out: &Utf8Path, force: bool| {
        let mut cmd = kit_at(root);
        cmd.args(["merge", a.as_str(), b.as_str(), "--out", out.as_str()])
            .arg("--allow-missing-meta");
        if force {
            cmd.arg("--force");
        }
        cmd
    };
    // b3ec481 compared spellings only: `in/../in/a.jsonl` got the merge of a and b.
    refused(&mut merge(&respelt(&a), false), root, &["is SHARD"]);
    refused(
        &mut merge(&symlink(&a, &s.join("link.jsonl")), true),
        root,
        &["is SHARD"],
    );
    refused(
        &mut merge(&hard_link(&a, &s.join("hard.jsonl")), true),
        root,
        &["is SHARD"],
    );
    refused(&mut merge(&a, true), root, &["is SHARD"]);
    // An operator's file at --out, or beside it where the metadata goes.
    let theirs = operators_file(&s.join("out/theirs.jsonl"));
    refused(
        &mut merge(&theirs, false),
        root,
        &["did not write", "--force"],
    );
    operators_file(&s.join("out/new.meta.json"));
    refused(
        &mut merge(&s.join("out/new.jsonl"), false),
        root,
        &["--out's metadata", "did not write"],
    );
    ok(&mut merge(&theirs, true));
    assert_eq!(rows(&theirs).len(), 4 * 2 * 3 * 2);
    // A merge the kit wrote is replaced as before.
    ok(&mut merge(&theirs, false));
}

#[test]
fn import_corpus_out_never_replaces_the_reference_rows() {
    let s = Scratch::new();
    let root = s.path();
    let reference = s.join("ref/corpus.jsonl");
    std::fs::create_dir_all(s.join("ref")).unwrap();
    std::fs::copy(
        Utf8Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reference/corpus.jsonl"),
        &reference,
    )
    .unwrap();
    let import = |out: &Utf8Path, force: bool| {
        let mut cmd = kit_at(root);
        cmd.args(["import-corpus", reference.as_str(), "--out", out.as_str()]);
        if force {
            cmd.arg("--force");
        }
        cmd
    };
    // b3ec481 compared spellings only; with --force it replaced the reference's rows.
    refused(
        &mut import(&respelt(&reference), true),
        root,
        &["is REFERENCE"],
    );
    let link = symlink(&reference, &s.join("link.jsonl"));
    refused(&mut import(&link, true), root, &["is REFERENCE"]);
    let hard = hard_link(&reference, &s.join("hard.jsonl"));
    refused(&mut import(&hard, true), root, &["is REFERENCE"]);
    // The metadata beside --out: b3ec481 replaced an operator's file there.
    let meta = operators_file(&s.join("out/shard.meta.json"));
    let out = s.join("out/shard.jsonl");
    refused(
        &mut import(&out, false),
        root,
        &["--out's metadata", "did not write"],
    );
    ok(&mut import(&out, true));
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta).unwrap()).unwrap();
    assert_eq!(written["kind"], "imported-shard");
    // The same import again is a no-op, as before.
    ok(&mut import(&out, false));
}

#[test]
fn corpus_out_never_replaces_a_reference_or_an_operators_metadata() {
    let s = Scratch::new();
    let root = s.path();
    let refs = s.join("refs");
    std::fs::create_dir_all(&refs).unwrap();
    for (i, name) in ["a_64x36_25fps.yuv", "b_64x36_25fps.yuv"]
        .iter()
        .enumerate()
    {
        let graph = format!("testsrc2=size=64x36:rate=25,hue=h={}", 90 * i);
        render_raw(&refs, name, &graph, 2);
    }
    let corpus = |out: &Utf8Path, force: bool| {
        let mut cmd = kit_at(root);
        cmd.args(["corpus", "--ref-dir", refs.as_str(), "--out", out.as_str()])
            .args(["--encoders", "libx264", "--cqs", "25", "--audit-cells", "0"]);
        if force {
            cmd.arg("--force");
        }
        cmd
    };
    // b3ec481 replaced an operator's NAME.meta.json when no shard stood beside it.
    let meta = operators_file(&s.join("out/shard.meta.json"));
    let out = s.join("out/shard.jsonl");
    refused(
        &mut corpus(&out, false),
        root,
        &["--out's metadata", "did not write"],
    );
    // A shard name that leads to a reference, even with --force.
    let reference = refs.join("a_64x36_25fps.yuv");
    let link = symlink(&reference, &s.join("link.jsonl"));
    refused(
        &mut corpus(&link, true),
        root,
        &["reads from --ref-dir", "through a symbolic link"],
    );
    let hard = hard_link(&reference, &s.join("hard.jsonl"));
    refused(&mut corpus(&hard, true), root, &["a hard link to it"]);
    let spelt = s.join("refs/../refs/new.jsonl");
    std::fs::remove_file(&hard).unwrap();
    hard_link(&reference, &s.join("refs/new.jsonl"));
    refused(&mut corpus(&spelt, true), root, &["a hard link to it"]);
    std::fs::remove_file(s.join("refs/new.jsonl")).unwrap();
    // An operator's file at --out (no metadata of the kit's beside it).
    let theirs = operators_file(&s.join("theirs.jsonl"));
    refused(
        &mut corpus(&theirs, false),
        root,
        &["did not write", "--force"],
    );
    // With --force the metadata is replaced; then the kit's own shard is resumed as before.
    ok(&mut corpus(&out, true));
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta).unwrap()).unwrap();
    assert_eq!(written["kind"], "shard-meta");
    ok(&mut corpus(&out, false));
}

#[test]
fn train_never_replaces_its_corpus_or_an_operators_seed_file() {
    let s = Scratch::new();
    let root = s.path();
    let shard = s.join("corpus.jsonl");
    learnable_shard(&shard, 2);
    let train = |force: bool| {
        let mut cmd = kit_at(root);
        cmd.args(["train", "--corpus", shard.as_str(), "--out-dir", "loso"])
            .args(["--seeds", "0", "--epochs", "2", "--allow-missing-meta"]);
        if force {
            cmd.arg("--force");
        }
        cmd
    };
    // b3ec481 wrote over a seed file it did not write (here: the reference kit's).
    let seed0 = s.join("loso/loso_seed0.json");
    std::fs::create_dir_all(s.join("loso")).unwrap();
    std::fs::write(&seed0, r#"{"seed": 0, "mean_plcc": 0.99, "folds": []}"#).unwrap();
    refused(
        &mut train(false),
        root,
        &["loso_seed0.json", "did not write", "--force"],
    );
    // The seed file's name leading to the corpus, even with --force.
    std::fs::remove_file(&seed0).unwrap();
    symlink(&shard, &seed0);
    refused(
        &mut train(true),
        root,
        &["is --corpus", "through a symbolic link"],
    );
    std::fs::remove_file(&seed0).unwrap();
    hard_link(&shard, &seed0);
    refused(
        &mut train(true),
        root,
        &["is --corpus", "a hard link to it"],
    );
    std::fs::remove_file(&seed0).unwrap();
    symlink(Utf8Path::new("../loso/../corpus.jsonl"), &seed0);
    refused(&mut train(true), root, &["is --corpus"]);
    // With --force an operator's file is replaced; a seed file of the kit's is reused.
    std::fs::remove_file(&seed0).unwrap();
    operators_file(&seed0);
    ok(&mut train(true));
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&seed0).unwrap()).unwrap();
    assert_eq!(written["kind"], "loso-seed");
    ok(&mut train(false));
}

#[test]
fn verdict_never_replaces_or_removes_a_file_it_did_not_write() {
    let s = Scratch::new();
    let root = s.path();
    let loso = s.join("loso");
    for seed in 0..5 {
        seed_file(&loso, seed, &[("a", 0.97), ("b", 0.971), ("c", 0.972)]);
    }
    let verdict = |extra: &[&str]| {
        let mut cmd = kit_at(root);
        cmd.args(["verdict", "--loso-dir", "loso", "--out-dir", "out"])
            .args(extra);
        cmd
    };
    // b3ec481 removed an operator's HOLD.json as "stale" beside the PROMOTE it wrote.
    let hold = operators_file(&s.join("out/HOLD.json"));
    refused(
        &mut verdict(&[]),
        root,
        &["HOLD.json", "did not write", "--force"],
    );
    std::fs::remove_file(&hold).unwrap();
    // The verdict's name leading to a seed file, even with --force.
    let promote = s.join("out/PROMOTE.json");
    symlink(&loso.join("loso_seed0.json"), &promote);
    refused(
        &mut verdict(&["--force"]),
        root,
        &["reads from --loso-dir", "symbolic link"],
    );
    std::fs::remove_file(&promote).unwrap();
    hard_link(&loso.join("loso_seed0.json"), &promote);
    refused(&mut verdict(&["--force"]), root, &["a hard link to it"]);
    std::fs::remove_file(&promote).unwrap();
    // Inside the reference folder it describes, the verdict would change that description.
    std::fs::create_dir_all(s.join("refs")).unwrap();
    std::fs::write(s.join("refs/a.yuv"), b"abc").unwrap();
    let mut inside = kit_at(root);
    inside
        .args(["verdict", "--loso-dir", "loso", "--corpus-root", "refs"])
        .args(["--out-dir", "refs/./verdict", "--force"]);
    refused(&mut inside, root, &["lies inside --corpus-root"]);
    // An operator's PROMOTE.json: replaced with --force; a verdict of the kit's as before.
    operators_file(&promote);
    refused(&mut verdict(&[]), root, &["PROMOTE.json", "did not write"]);
    ok(&mut verdict(&["--force"]));
    ok(&mut verdict(&[]));
    // Judging into the LOSO folder itself stays the default.
    let mut default = kit_at(root);
    ok(default.args(["verdict", "--loso-dir", "loso"]));
}

#[test]
fn export_never_replaces_its_inputs_or_an_operators_sidecar() {
    let s = results();
    let root = s.path();
    let export = |force: bool| {
        let mut cmd = kit_at(root);
        cmd.args([
            "export",
            "--corpus",
            SHARD,
            "--verdict",
            "results/PROMOTE.json",
        ])
        .args(["--out-dir", "results/models", "--epochs", "150"])
        .arg("--allow-missing-meta");
        if force {
            cmd.arg("--force");
        }
        cmd
    };
    // b3ec481 wrote a sidecar over a JSON file of the operator's with that name.
    let sidecar = s.join(SIDECAR0);
    std::fs::remove_file(&sidecar).unwrap();
    operators_file(&sidecar);
    refused(
        &mut export(false),
        root,
        &["sidecar", "did not write", "--force"],
    );
    // A model's name leading to the corpus or the verdict, even with --force.
    let model = s.join(MODEL0);
    std::fs::remove_file(&model).unwrap();
    hard_link(&s.join(SHARD), &model);
    refused(
        &mut export(true),
        root,
        &["is --corpus", "a hard link to it"],
    );
    std::fs::remove_file(&model).unwrap();
    symlink(Utf8Path::new("../PROMOTE.json"), &model);
    refused(&mut export(true), root, &["is --verdict"]);
    std::fs::remove_file(&model).unwrap();
    // With --force the operator's file is replaced; the kit's models are replaced as before.
    ok(&mut export(true));
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sidecar).unwrap()).unwrap();
    assert_eq!(written["kind"], "fr");
    ok(&mut export(false));
}

#[test]
fn bundle_never_replaces_its_inputs_or_an_operators_manifest() {
    let s = results();
    let root = s.path();
    let bundle = |force: bool| {
        let mut cmd = kit_at(root);
        cmd.args(["bundle", "--out-dir", "results"]);
        if force {
            cmd.arg("--force");
        }
        cmd
    };
    std::fs::remove_file(bundle_in(&s.join("results"))).unwrap();
    // b3ec481 wrote its manifest over the operator's manifest.json (and removed an operator's
    // manifest.json.sig when not signing).
    let manifest = s.join("results/manifest.json");
    operators_file(&manifest);
    refused(
        &mut bundle(false),
        root,
        &["manifest.json", "did not write", "--force"],
    );
    std::fs::remove_file(&manifest).unwrap();
    let signature = operators_file(&s.join("results/manifest.json.sig"));
    refused(
        &mut bundle(false),
        root,
        &["manifest.json.sig", "did not write"],
    );
    std::fs::remove_file(&signature).unwrap();
    // The manifest's name leading to a file it lists, even with --force.
    symlink(Utf8Path::new("PROMOTE.json"), &manifest);
    refused(
        &mut bundle(true),
        root,
        &["reads from --out-dir", "through a symbolic link"],
    );
    std::fs::remove_file(&manifest).unwrap();
    hard_link(&s.join("results/loso/loso_seed0.json"), &manifest);
    refused(&mut bundle(true), root, &["a hard link to it"]);
    std::fs::remove_file(&manifest).unwrap();
    // With --force the operator's manifest is replaced; the kit's files as before.
    operators_file(&manifest);
    ok(&mut bundle(true));
    ok(&mut bundle(false));
    ok(kit().args(["verify", bundle_in(&s.join("results")).as_str()]));
}

#[test]
fn report_html_never_replaces_its_inputs_or_an_operators_page() {
    let s = results();
    let root = s.path();
    let report = |force: bool| {
        let mut cmd = kit_at(root);
        cmd.args(["report", "--out-dir", "results", "--format", "html"]);
        if force {
            cmd.arg("--force");
        }
        cmd
    };
    // b3ec481 wrote the page over an operator's report.html.
    let page = operators_file(&s.join("results/report.html"));
    refused(
        &mut report(false),
        root,
        &["report.html", "did not write", "--force"],
    );
    std::fs::remove_file(&page).unwrap();
    // The page's name leading to the verdict it renders, even with --force.
    hard_link(&s.join("results/PROMOTE.json"), &page);
    refused(
        &mut report(true),
        root,
        &["reads from --out-dir", "a hard link to it"],
    );
    std::fs::remove_file(&page).unwrap();
    symlink(&respelt(&s.join("results/PROMOTE.json")), &page);
    refused(&mut report(true), root, &["reads from --out-dir"]);
    std::fs::remove_file(&page).unwrap();
    operators_file(&page);
    ok(&mut report(true));
    assert!(std::fs::read_to_string(&page)
        .unwrap()
        .contains("<title>ensemble-kit report"));
    ok(&mut report(false));
}

/// Already safe at b3ec481: `--extract` takes only a new or empty folder.
#[test]
fn verify_extract_never_replaces_the_bundle_or_a_folder_of_yours() {
    let s = results();
    let root = s.path();
    let bundle = bundle_in(&s.join("results"));
    let verify = |to: &Utf8Path| {
        let mut cmd = kit_at(root);
        cmd.args(["verify", bundle.as_str(), "--extract", to.as_str()]);
        cmd
    };
    let refused_somehow = |cmd: &mut assert_cmd::Command| {
        let before = snapshot(root);
        cmd.assert().code(2);
        assert!(snapshot(root) == before, "{cmd:?} changed files");
    };
    refused_somehow(&mut verify(&bundle));
    refused_somehow(&mut verify(&respelt(&bundle)));
    refused_somehow(&mut verify(&symlink(&bundle, &s.join("link"))));
    refused_somehow(&mut verify(&hard_link(&bundle, &s.join("hard"))));
    refused_somehow(&mut verify(&s.join("results")));
    let mut audit = verify(&s.join("refs"));
    std::fs::create_dir_all(s.join("refs")).unwrap();
    std::fs::write(s.join("refs/a.yuv"), b"x").unwrap();
    refused_somehow(audit.args(["--audit", "--ref-dir", "refs"]));
    ok(&mut verify(&s.join("new")));
}

/// Two tiny raw references in `DIR/refs`.
fn references(s: &Scratch) -> Utf8PathBuf {
    let refs = s.join("refs");
    std::fs::create_dir_all(&refs).unwrap();
    render_raw(&refs, "a_64x36_25fps.yuv", "testsrc2=size=64x36:rate=25", 2);
    render_raw(&refs, "b_64x36_25fps.yuv", "mandelbrot=s=64x36:r=25", 2);
    refs
}

#[test]
fn pack_corpus_out_never_replaces_a_reference() {
    let s = Scratch::new();
    let root = s.path();
    let refs = references(&s);
    let pack = |out: &Utf8Path, force: bool| {
        let mut cmd = kit_at(root);
        cmd.args([
            "pack-corpus",
            "--ref-dir",
            refs.as_str(),
            "--out",
            out.as_str(),
        ]);
        if force {
            cmd.arg("--force");
        }
        cmd
    };
    let reference = refs.join("a_64x36_25fps.yuv");
    // b3ec481 wrote the archive over the reference it had just packed.
    refused(
        &mut pack(&reference, false),
        root,
        &["reads from --ref-dir"],
    );
    refused(
        &mut pack(&respelt(&reference), true),
        root,
        &["spelt another way"],
    );
    refused(
        &mut pack(&symlink(&reference, &s.join("link.tar")), true),
        root,
        &["through a symbolic link"],
    );
    refused(
        &mut pack(&hard_link(&reference, &s.join("hard.tar")), true),
        root,
        &["a hard link to it"],
    );
    // A new .yuv in the reference folder would be packed as a reference next time.
    refused(
        &mut pack(&refs.join("refs_64x36_25fps.yuv"), true),
        root,
        &["lies inside --ref-dir"],
    );
    // An operator's file; an archive the kit wrote (even inside the folder) is replaced.
    let theirs = operators_file(&s.join("theirs.tar"));
    refused(
        &mut pack(&theirs, false),
        root,
        &["did not write", "--force"],
    );
    ok(&mut pack(&theirs, true));
    ok(&mut pack(&theirs, false));
    ok(&mut pack(&refs.join("refs.tar"), false));
    ok(&mut pack(&refs.join("refs.tar"), false));
}

#[test]
fn extract_corpus_never_replaces_its_archive() {
    let s = Scratch::new();
    let root = s.path();
    let refs = references(&s);
    let archive = s.join("refs.tar");
    ok(kit_at(root).args([
        "pack-corpus",
        "--ref-dir",
        refs.as_str(),
        "--out",
        archive.as_str(),
    ]));
    let extract = |archive: &Utf8Path, to: &Utf8Path, force: bool| {
        let mut cmd = kit_at(root);
        cmd.args(["extract-corpus", archive.as_str(), "--to", to.as_str()]);
        if force {
            cmd.arg("--force");
        }
        cmd
    };
    // b3ec481 with --force restored a reference over the archive it was reading, when the
    // archive lay in --to under that reference's name.
    let to = s.join("to");
    std::fs::create_dir_all(&to).unwrap();
    let inside = to.join("a_64x36_25fps.yuv");
    std::fs::copy(&archive, &inside).unwrap();
    refused(&mut extract(&inside, &to, true), root, &["holds ARCHIVE"]);
    refused(
        &mut extract(&inside, &respelt(&to), true),
        root,
        &["holds ARCHIVE"],
    );
    let link = symlink(&to, &s.join("link"));
    refused(&mut extract(&inside, &link, true), root, &["holds ARCHIVE"]);
    std::fs::remove_file(&inside).unwrap();
    hard_link(&archive, &inside);
    refused(
        &mut extract(&archive, &to, true),
        root,
        &["a hard link to ARCHIVE"],
    );
    std::fs::remove_file(&inside).unwrap();
    // --to naming the archive itself.
    refused(
        &mut extract(&archive, &archive, true),
        root,
        &["is ARCHIVE"],
    );
    // An operator's file in the way: refused untouched, replaced with --force (as before).
    operators_file(&inside);
    let before = snapshot(root);
    extract(&archive, &to, false).assert().code(2);
    assert!(snapshot(root) == before);
    ok(&mut extract(&archive, &to, true));
    assert_eq!(
        std::fs::read(&inside).unwrap(),
        std::fs::read(refs.join("a_64x36_25fps.yuv")).unwrap()
    );
}

#[test]
fn make_distribution_tarball_out_never_replaces_what_it_packs() {
    let s = Scratch::new();
    let root = s.path();
    let project = s.join("project");
    let checkout = Utf8Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(&project).unwrap();
    for dir in ["scripts", "schemas"] {
        let status = std::process::Command::new("cp")
            .args(["-a", checkout.join(dir).as_str(), project.as_str()])
            .status()
            .unwrap();
        assert!(status.success());
    }
    let tarball = |out: &Utf8Path, force: bool| {
        let mut cmd = kit_at(root);
        cmd.args(["make-distribution-tarball", "--out", out.as_str()])
            .args(["--project-dir", project.as_str()]);
        if force {
            cmd.arg("--force");
        }
        cmd
    };
    // b3ec481 wrote the tarball over the script it packs.
    let script = project.join("scripts/bootstrap.sh");
    refused(
        &mut tarball(&script, false),
        root,
        &["reads from --project-dir's scripts"],
    );
    refused(
        &mut tarball(&symlink(&script, &s.join("link.tar.gz")), true),
        root,
        &["through a symbolic link"],
    );
    refused(
        &mut tarball(&hard_link(&script, &s.join("hard.tar.gz")), true),
        root,
        &["a hard link to it"],
    );
    let schema = project.join("schemas/verdict.schema.json");
    refused(
        &mut tarball(&respelt(&schema), true),
        root,
        &["--project-dir's schemas"],
    );
    // An operator's file; a tarball the kit wrote is replaced as before.
    let theirs = operators_file(&s.join("theirs.tar.gz"));
    refused(
        &mut tarball(&theirs, false),
        root,
        &["did not write", "--force"],
    );
    ok(&mut tarball(&theirs, true));
    ok(&mut tarball(&theirs, false));
}

#[test]
fn schema_out_dir_never_replaces_an_operators_file() {
    let s = Scratch::new();
    let root = s.path();
    let schema = |force: bool| {
        let mut cmd = kit_at(root);
        cmd.args(["schema", "--out-dir", "schemas"]);
        if force {
            cmd.arg("--force");
        }
        cmd
    };
    // b3ec481 wrote over an operator's file of a schema's name.
    let theirs = operators_file(&s.join("schemas/verdict.schema.json"));
    refused(
        &mut schema(false),
        root,
        &["verdict.schema.json", "did not write", "--force"],
    );
    std::fs::remove_file(&theirs).unwrap();
    // A link is never the kit's, and a schema of another name is not this one.
    let elsewhere = operators_file(&s.join("elsewhere.json"));
    symlink(&elsewhere, &theirs);
    refused(&mut schema(false), root, &["symbolic link"]);
    std::fs::remove_file(&theirs).unwrap();
    std::fs::copy(
        Utf8Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/manifest.schema.json"),
        &theirs,
    )
    .unwrap();
    refused(
        &mut schema(false),
        root,
        &["not the kit's `verdict` schema"],
    );
    ok(&mut schema(true));
    // The kit's schemas are regenerated as before.
    ok(&mut schema(false));
    assert_eq!(
        std::fs::read(&theirs).unwrap(),
        std::fs::read(
            Utf8Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/verdict.schema.json")
        )
        .unwrap()
    );
}

#[test]
fn build_libvmaf_out_never_replaces_its_source_or_a_vmaf_of_yours() {
    let s = Scratch::new();
    let root = s.path();
    let source = ensemble_kit::host::libvmaf::pinned_source(&s.join("src"))
        .expect("run scripts/bootstrap.sh first (it fetches the pinned crate)");
    let build = |out: &Utf8Path, platform: &str, force: bool| {
        let mut cmd = kit_at(root);
        cmd.args(["build-libvmaf", "--platform", platform]).args([
            "--source",
            source.as_str(),
            "--out",
            out.as_str(),
        ]);
        if force {
            cmd.arg("--force");
        }
        cmd
    };
    // b3ec481 built and wrote over a `vmaf` of the operator's (e.g. --out /usr/local/bin).
    let bin = s.join("bin");
    operators_file(&bin.join("vmaf"));
    refused(
        &mut build(&bin, "linux-x86_64-vulkan", false),
        root,
        &["vmaf", "did not write", "--force"],
    );
    // Into the source tree it builds from, even with --force.
    refused(
        &mut build(&source, "linux-x86_64-vulkan", true),
        root,
        &["from --source"],
    );
    let link = symlink(&source, &s.join("link"));
    refused(
        &mut build(&link, "linux-x86_64-vulkan", true),
        root,
        &["from --source"],
    );
    // --force lets the build go on (it stops at once here: the pinned source has no CUDA).
    build(&bin, "linux-x86_64-cuda", true)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("has no `enable_cuda` option"));
}

/// Already safe at b3ec481: `full` takes only a new, empty or marked results folder.
#[test]
fn full_out_dir_never_takes_a_reference_folder() {
    let s = Scratch::new();
    let root = s.path();
    let refs = references(&s);
    let full = |out: &Utf8Path| {
        let mut cmd = kit_at(root);
        cmd.args([
            "full",
            "--ref-dir",
            refs.as_str(),
            "--out-dir",
            out.as_str(),
        ])
        .args([
            "--encoders",
            "libx264",
            "--cqs",
            "25",
            "--seeds",
            "0,1",
            "--epochs",
            "2",
        ]);
        cmd
    };
    for out in [
        refs.clone(),
        respelt(&refs.join("x")).parent().unwrap().to_owned(),
        symlink(&refs, &s.join("link")),
    ] {
        let before = snapshot(root);
        full(&out).assert().code(2);
        assert!(
            snapshot(root) == before,
            "full --out-dir {out} changed files"
        );
    }
}

#[test]
fn bench_corpus_work_dir_never_clears_a_folder_of_yours() {
    let s = Scratch::new();
    let root = s.path();
    let bench = |work: &Utf8Path, force: bool| {
        let mut cmd = kit_at(root);
        cmd.args(["bench", "corpus", "--demo", "--frames", "2", "--jobs", "1"])
            .args(["--encoders", "libx264", "--cqs", "51"])
            .args(["--work-dir", work.as_str()]);
        if force {
            cmd.arg("--force");
        }
        cmd
    };
    // b3ec481 removed `pipeline/shard.cells/` of whatever folder it was given, recursively.
    let work = s.join("work");
    operators_file(&work.join("pipeline/shard.cells/keep.txt"));
    refused(
        &mut bench(&work, false),
        root,
        &["did not write", "--force"],
    );
    // A folder of references: read, never written into.
    let refs = references(&s);
    let mut into_refs = kit_at(root);
    into_refs
        .args([
            "bench",
            "corpus",
            "--ref-dir",
            refs.as_str(),
            "--frames",
            "2",
        ])
        .args(["--work-dir", refs.as_str(), "--force"]);
    refused(&mut into_refs, root, &["--work-dir", "is --ref-dir"]);
    // With --force the folder is used (and marked); a marked folder is reused as before.
    ok(&mut bench(&work, true));
    ok(&mut bench(&work, false));
    let fresh = s.join("fresh");
    ok(&mut bench(&fresh, false));
}
