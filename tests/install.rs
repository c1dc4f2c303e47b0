//! `install BUNDLE --into MODEL_DIR` (issue 32) on a copy of the vmaf fork's `model/tiny/`
//! (`tests/fixtures/vmaf-fork/`, pinned; see its SOURCES.md): a fresh demo PROMOTE bundle
//! installs and the fork's own `validate_model_registry.py` passes; HOLD, tampered and unsigned
//! bundles, hostile names, registries and links leave MODEL_DIR byte-identical; a second
//! install changes nothing; `--undo` restores every byte; a kill after any step leaves the old
//! tree or the new one.

mod common;
use camino::{Utf8Path, Utf8PathBuf};
use common::*;
use ensemble_kit::trust::install::{journal::KILL_HOOK, members, pyjson};
use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::sync::OnceLock;

const ENSEMBLE: &str = "fr_regressor_v2_ensemble_v1";

/// One `full --demo` run (five judged seeds, no stability seeds): (root, bundle).
fn demo() -> &'static (Utf8PathBuf, Utf8PathBuf) {
    static RUN: OnceLock<(Utf8PathBuf, Utf8PathBuf)> = OnceLock::new();
    RUN.get_or_init(|| {
        let root = Utf8PathBuf::from_path_buf(tempfile::tempdir().unwrap().keep()).unwrap();
        let out = stage_ok(
            &root,
            &["full", "--demo", "--stability", "0", "--out-dir", "results"],
        );
        let bundle = root.join(String::from_utf8(out.stdout).unwrap().trim());
        (root, bundle)
    })
}

fn bundle() -> &'static Utf8PathBuf {
    &demo().1
}

/// A copy of the fork fixture; MODEL_DIR is `fork/model/tiny` in it.
fn fork() -> Scratch {
    let s = Scratch::new();
    let fixture = Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vmaf-fork");
    copy(&fixture, &s.join("fork"));
    s
}

fn copy(from: &Utf8Path, to: &Utf8Path) {
    let status = std::process::Command::new("cp")
        .args(["-a", from.as_str(), to.as_str()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn model_dir(s: &Scratch) -> Utf8PathBuf {
    s.join("fork/model/tiny")
}

/// Every entry under `dir` (hidden ones too): a file's bytes, a link's target, or a folder.
fn snapshot(dir: &Utf8Path) -> BTreeMap<String, String> {
    let mut all = BTreeMap::new();
    for entry in walkdir::WalkDir::new(dir).min_depth(1) {
        let entry = entry.unwrap();
        let rel = entry
            .path()
            .strip_prefix(dir)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let kind = entry.file_type();
        let value = if kind.is_symlink() {
            format!(
                "link {}",
                std::fs::read_link(entry.path()).unwrap().display()
            )
        } else if kind.is_dir() {
            "folder".into()
        } else {
            ensemble_kit::digest::sha256_bytes(&std::fs::read(entry.path()).unwrap())
        };
        all.insert(rel, value);
    }
    all
}

/// `install ARGS` with `SOURCE_DATE_EPOCH` pinned (the replaced files' folder is named by it).
fn install(args: &[&str]) -> std::process::Output {
    kit()
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .arg("install")
        .args(args)
        .output()
        .unwrap()
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn install_ok(args: &[&str]) -> String {
    let out = install(args);
    assert!(out.status.success(), "install {args:?}: {}", text(&out));
    text(&out)
}

/// `install ARGS` must exit `code`, say `why`, and leave MODEL_DIR as it was.
fn refused(s: &Scratch, args: &[&str], code: i32, why: &str) {
    let before = snapshot(s.path());
    let out = install(args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "install {args:?}: {}",
        text(&out)
    );
    assert!(
        text(&out).contains(why),
        "install {args:?} should say `{why}`: {}",
        text(&out)
    );
    assert_eq!(
        snapshot(s.path()),
        before,
        "install {args:?} changed MODEL_DIR"
    );
}

fn python_has(modules: &str) -> bool {
    std::process::Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The fork's own validator, from the copy laid out as the fork (it finds
/// `model/tiny/registry.json` from its own place); `None` without python3.
fn validator(s: &Scratch) -> Option<std::process::Output> {
    if !python_has("json") {
        eprintln!("python3 is not installed: the fork's validator was not run");
        return None;
    }
    let mode = if python_has("jsonschema") {
        "with jsonschema (the whole Draft 2020-12 schema)"
    } else {
        "without jsonschema (the validator's structural fallback only)"
    };
    eprintln!("running the fork's validate_model_registry.py {mode}");
    Some(
        std::process::Command::new("python3")
            .arg(s.join("fork/ai/scripts/validate_model_registry.py"))
            .output()
            .unwrap(),
    )
}

fn read_json(path: &Utf8Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn a_demo_bundle_installs_the_forks_validator_passes_and_undo_restores_every_byte() {
    let s = fork();
    let dir = model_dir(&s);
    let original = snapshot(s.path());
    let old_registry = std::fs::read_to_string(dir.join("registry.json")).unwrap();

    let said = install_ok(&[bundle().as_str(), "--into", dir.as_str(), "--dry-run"]);
    assert!(said.contains("dry run, nothing written"), "{said}");
    assert!(
        said.contains(&format!("move aside {ENSEMBLE}_seed0.onnx.data")),
        "{said}"
    );
    assert!(
        said.contains(&format!("registry.json row {ENSEMBLE}_seed4:")),
        "{said}"
    );
    assert!(
        said.contains("    smoke: false -> false (unchanged)"),
        "{said}"
    );
    assert!(said.contains("    sha256: \"036c6224"), "{said}");
    assert_eq!(snapshot(s.path()), original, "--dry-run wrote");

    let said = install_ok(&[bundle().as_str(), "--into", dir.as_str()]);
    assert!(
        said.contains(&format!("installed {ENSEMBLE} (5 members)")),
        "{said}"
    );
    assert!(said.contains("validate_model_registry.py"), "{said}");

    // The members are the bundle's bytes; the registry rows and manifest name their sha256.
    let registry = read_json(&dir.join("registry.json"));
    let manifest = read_json(&dir.join(format!("{ENSEMBLE}.json")));
    let results = demo().0.join("results/models");
    for seed in 0..5 {
        let id = format!("{ENSEMBLE}_seed{seed}");
        for ext in ["onnx", "json"] {
            assert_eq!(
                std::fs::read(dir.join(format!("{id}.{ext}"))).unwrap(),
                std::fs::read(results.join(format!("{id}.{ext}"))).unwrap()
            );
        }
        assert!(!dir.join(format!("{id}.onnx.data")).exists());
        let sha = read_json(&dir.join(format!("{id}.json")))["sha256"].clone();
        let row = registry["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id.as_str())
            .unwrap();
        assert_eq!(row["sha256"], sha);
        assert_eq!(row["smoke"], false);
        assert_eq!(row["license"], "BSD-3-Clause-Plus-Patent");
        assert_eq!(manifest["members"][seed]["sha256"], sha);
        assert_eq!(manifest["members"][seed]["onnx"], format!("{id}.onnx"));
    }
    // The manifest carries the members' scaler and vocabulary v2, not the stale scaffold's.
    let sidecar = read_json(&dir.join(format!("{ENSEMBLE}_seed0.json")));
    for key in ["feature_mean", "feature_std", "feature_order"] {
        assert_eq!(manifest[key], sidecar[key], "{key}");
    }
    assert_eq!(manifest["codec_vocab"], sidecar["encoder_vocab"]);
    assert_eq!(manifest["codec_vocab_version"], 2);
    // Only the member rows' sha256 and notes lines changed; every other byte is the same.
    let new_registry = std::fs::read_to_string(dir.join("registry.json")).unwrap();
    let (old, new): (Vec<&str>, Vec<&str>) = (
        old_registry.lines().collect(),
        new_registry.lines().collect(),
    );
    assert_eq!(old.len(), new.len());
    let changed: Vec<&str> = old
        .iter()
        .zip(&new)
        .filter(|(a, b)| a != b)
        .map(|(_, b)| b.trim_start())
        .collect();
    assert_eq!(changed.len(), 10, "{changed:#?}");
    assert!(
        changed
            .iter()
            .all(|l| l.starts_with("\"sha256\": ") || l.starts_with("\"notes\": ")),
        "{changed:#?}"
    );
    // Everything replaced is kept.
    let set = dir.join(".ensemble-kit-replaced/20231114T221320Z");
    assert_eq!(
        std::fs::read_to_string(set.join("files/registry.json")).unwrap(),
        old_registry
    );
    assert!(set
        .join(format!("files/{ENSEMBLE}_seed3.onnx.data"))
        .is_file());
    assert_eq!(read_json(&set.join("journal.json"))["state"], "done");

    if let Some(out) = validator(&s) {
        assert!(out.status.success(), "the fork's validator: {}", text(&out));
        assert!(
            text(&out).contains("OK: 8 registry entries valid"),
            "{}",
            text(&out)
        );
    }
    if python_has("pytest, jsonschema") {
        let out = std::process::Command::new("python3")
            .current_dir(s.join("fork"))
            .args([
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "python/test/model_registry_schema_test.py",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the fork's schema test: {}",
            text(&out)
        );
    } else {
        eprintln!("pytest or jsonschema is not importable: the fork's schema test was not run");
    }

    let installed = snapshot(s.path());
    let said = install_ok(&[bundle().as_str(), "--into", dir.as_str()]);
    assert!(said.contains("no byte changed"), "{said}");
    assert_eq!(
        snapshot(s.path()),
        installed,
        "a second install changed MODEL_DIR"
    );

    let said = install_ok(&["--undo", dir.as_str()]);
    assert!(
        said.contains(&format!("put back {ENSEMBLE}_seed0.onnx.data")),
        "{said}"
    );
    assert_eq!(
        snapshot(s.path()),
        original,
        "--undo did not restore MODEL_DIR"
    );
    refused(&s, &["--undo", dir.as_str()], 2, "has no install to undo");
}

/// A copy of the demo's results folder that a test may change.
fn results_copy() -> Scratch {
    let s = Scratch::new();
    copy(&demo().0.join("results"), &s.join("results"));
    s
}

/// `bundle --out-dir results ARGS` in `root` after the page is rendered again, as a forger
/// who knows the format would; the new bundle's path.
fn rebundle(root: &Utf8Path, args: &[&str]) -> Utf8PathBuf {
    for entry in root.join("results").read_dir_utf8().unwrap() {
        let entry = entry.unwrap();
        if entry.file_name().starts_with("ensemble-results-") {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
    stage_ok(
        root,
        &["report", "--out-dir", "results", "--format", "html"],
    );
    let out = stage_ok(
        root,
        &[&["bundle", "--out-dir", "results"][..], args].concat(),
    );
    root.join(String::from_utf8(out.stdout).unwrap().trim())
}

fn edit_json(path: &Utf8Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut doc = read_json(path);
    edit(&mut doc);
    std::fs::write(path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
}

fn keygen(dir: &Utf8Path, name: &str) -> Utf8PathBuf {
    let key = dir.join(name);
    let status = std::process::Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            name,
            "-f",
            key.as_str(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    key
}

fn allowed_signers(dir: &Utf8Path, principal: &str, key: &Utf8Path) -> Utf8PathBuf {
    let public = std::fs::read_to_string(format!("{key}.pub")).unwrap();
    let mut fields = public.split_whitespace();
    let line = format!(
        "{principal} {} {}\n",
        fields.next().unwrap(),
        fields.next().unwrap()
    );
    let path = dir.join(format!("{principal}.allowed"));
    std::fs::write(&path, line).unwrap();
    path
}

#[test]
fn hold_tampered_and_unsigned_bundles_leave_model_dir_byte_identical() {
    let s = fork();
    let dir = model_dir(&s);
    let into = ["--into", dir.as_str()];

    // A HOLD: the same results with seed 0 judged worse, judged again and bundled honestly.
    let r = results_copy();
    let results = r.join("results");
    std::fs::remove_dir_all(results.join("models")).unwrap();
    std::fs::remove_file(results.join("PROMOTE.json")).unwrap();
    edit_json(&results.join("loso/loso_seed0.json"), |seed| {
        for fold in seed["folds"].as_array_mut().unwrap() {
            fold["plcc"] = 0.5.into();
        }
        for field in ["mean_plcc", "min_plcc", "max_plcc"] {
            seed[field] = 0.5.into();
        }
    });
    let out = stage(
        r.path(),
        &[
            "verdict",
            "--loso-dir",
            "results/loso",
            "--seeds",
            "0,1,2,3,4",
            "--out-dir",
            "results",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let hold = rebundle(r.path(), &[]);
    refused(
        &s,
        &[&[hold.as_str()][..], &into].concat(),
        1,
        "is a HOLD bundle",
    );
    refused(
        &s,
        &[&[hold.as_str()][..], &into, &["--dry-run"]].concat(),
        1,
        "is a HOLD bundle",
    );

    // Tampered: one byte of a model changed, the manifest left as it was.
    let tampered = s.join("tampered.tar.gz");
    let members: Vec<Member> = read_archive(bundle())
        .into_iter()
        .map(|(name, mut bytes)| {
            if name.ends_with("_seed2.onnx") {
                let last = bytes.len() - 1;
                bytes[last] ^= 1;
            }
            member(&name, bytes)
        })
        .collect();
    write_archive(&tampered, members);
    refused(
        &s,
        &[&[tampered.as_str()][..], &into].concat(),
        2,
        &format!("altered: models/{ENSEMBLE}_seed2.onnx"),
    );

    // Unsigned with --require-signature; signed by a key the owner did not list.
    refused(
        &s,
        &[&[bundle().as_str()][..], &into, &["--require-signature"]].concat(),
        2,
        "--require-signature refuses an unsigned bundle",
    );
    let r = results_copy();
    let alice = keygen(r.path(), "alice");
    let mallory = keygen(r.path(), "mallory");
    let signed = rebundle(r.path(), &["--sign", mallory.as_str()]);
    let owner = allowed_signers(r.path(), "alice", &alice);
    refused(
        &s,
        &[
            &[signed.as_str()][..],
            &into,
            &["--allowed-signers", owner.as_str()],
        ]
        .concat(),
        2,
        "does not allow to sign",
    );
    let before = snapshot(s.path());
    // Signed by a listed key, the same bundle installs.
    let owner = allowed_signers(r.path(), "mallory", &mallory);
    let said = install_ok(&[
        signed.as_str(),
        "--into",
        dir.as_str(),
        "--require-signature",
        "--allowed-signers",
        owner.as_str(),
    ]);
    assert!(said.contains("signed by mallory"), "{said}");
    assert_ne!(snapshot(s.path()), before);
}

/// `install ARGS` with the kill hook at step `n`: whether the run was killed there.
fn killed_at(n: u64, args: &[&str]) -> bool {
    let out = kit()
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .env(KILL_HOOK, n.to_string())
        .arg("install")
        .args(args)
        .output()
        .unwrap();
    match out.status.signal() {
        Some(9) => true,
        None if out.status.success() => false,
        _ => panic!("step {n}: {:?} {}", out.status, text(&out)),
    }
}

/// The model files (not install's own hidden ones): each is the old one, the new one, or
/// absent where one of them is absent — never a torn or mixed file.
fn old_or_new(
    now: &BTreeMap<String, String>,
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
    step: u64,
) {
    let visible = |m: &BTreeMap<String, String>| -> BTreeMap<String, String> {
        m.iter()
            .filter(|(k, _)| !k.contains("/."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let (now, old, new) = (visible(now), visible(old), visible(new));
    for name in now.keys().chain(old.keys()).chain(new.keys()) {
        let at = now.get(name);
        assert!(
            at == old.get(name) || at == new.get(name),
            "step {step}: {name} is neither old nor new"
        );
    }
}

#[test]
fn a_kill_after_any_step_leaves_the_old_tree_or_the_new_one() {
    let s = fork();
    let original = snapshot(&s.join("fork"));
    install_ok(&[bundle().as_str(), "--into", model_dir(&s).as_str()]);
    let installed = snapshot(&s.join("fork"));

    let mut steps = 0;
    for n in 1.. {
        let k = fork();
        let dir = model_dir(&k);
        let args = [bundle().as_str(), "--into", dir.as_str()];
        if !killed_at(n, &args) {
            break;
        }
        steps = n;
        old_or_new(&snapshot(&k.join("fork")), &original, &installed, n);
        // An undo then leaves the tree as it was before the killed install…
        copy(&k.join("fork"), &k.join("other"));
        install_ok(&["--undo", k.join("other/model/tiny").as_str()]);
        assert_eq!(
            snapshot(&k.join("other")),
            original,
            "step {n}: undo after the kill"
        );
        // …and an install finishes or rolls back first, then gives the clean result.
        install_ok(&args);
        assert_eq!(
            snapshot(&k.join("fork")),
            installed,
            "step {n}: install after the kill"
        );
    }
    eprintln!("an install was killed after each of its {steps} steps");
    assert!(steps > 40, "only {steps} steps");

    // An undo killed after any step is finished by the next.
    let mut steps = 0;
    for n in 1.. {
        let k = Scratch::new();
        copy(&s.join("fork"), &k.join("fork"));
        let dir = k.join("fork/model/tiny");
        if !killed_at(n, &["--undo", dir.as_str()]) {
            break;
        }
        steps = n;
        old_or_new(&snapshot(&k.join("fork")), &installed, &original, n);
        // (killed after its last step, the undo was complete: nothing is left to undo)
        let out = install(&["--undo", dir.as_str()]);
        assert!(
            out.status.success() || text(&out).contains("no install to undo"),
            "{}",
            text(&out)
        );
        assert_eq!(snapshot(&k.join("fork")), original, "undo step {n}");
    }
    eprintln!("an undo was killed after each of its {steps} steps");
    assert!(steps > 15, "only {steps} undo steps");
}

/// The bundle with its members passed through `edit` and the manifest listing them again.
fn rewritten(out: &Utf8Path, edit: impl Fn(&str, Vec<u8>) -> Vec<(String, Vec<u8>)>) {
    let mut files = Vec::new();
    let mut members = Vec::new();
    for (name, bytes) in read_archive(bundle()) {
        if name == "manifest.json" {
            continue;
        }
        for (name, bytes) in edit(&name, bytes) {
            files.push(serde_json::json!({
                "path": name,
                "size": bytes.len(),
                "sha256": ensemble_kit::digest::sha256_bytes(&bytes),
            }));
            members.push((name, bytes));
        }
    }
    let mut manifest = serde_json::from_slice::<serde_json::Value>(
        &read_archive(bundle())
            .into_iter()
            .find(|(n, _)| n == "manifest.json")
            .unwrap()
            .1,
    )
    .unwrap();
    manifest["n_files"] = files.len().into();
    manifest["files"] = files.into();
    let mut all = vec![(
        "manifest.json".to_owned(),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )];
    all.extend(members);
    // Written with raw names: the tar crate itself would refuse to write `..`.
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(out).unwrap(),
        flate2::Compression::fast(),
    );
    let mut builder = tar::Builder::new(gz);
    for (name, bytes) in all {
        let mut header = tar::Header::new_gnu();
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder.append(&header, bytes.as_slice()).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap();
}

#[test]
fn hostile_bundles_registries_and_links_are_refused_by_name_and_nothing_is_written() {
    let s = fork();
    let dir = model_dir(&s);
    let into = |b: &Utf8Path| vec![b.to_string(), "--into".into(), dir.to_string()];
    let run = |args: Vec<String>, why: &str| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&s, &args, 2, why);
    };

    // A member named `../registry.json`, listed in the manifest with its hash.
    let escape = s.join("escape.tar.gz");
    rewritten(&escape, |name, bytes| {
        let mut out = vec![(name.to_owned(), bytes)];
        if name == "PROMOTE.json" {
            out.push(("models/../registry.json".into(), b"{}\n".to_vec()));
        }
        out
    });
    run(into(&escape), "../registry.json");

    // A sidecar naming another member's model, with that model's hash; the manifest lists
    // the edited bytes, so every file matches it: install refuses.
    let seed1 = format!("models/{ENSEMBLE}_seed1.json");
    let seed1_sha = read_archive(bundle())
        .into_iter()
        .find(|(n, _)| *n == seed1)
        .map(|(_, b)| serde_json::from_slice::<serde_json::Value>(&b).unwrap()["sha256"].clone());
    let forged = s.join("forged.tar.gz");
    rewritten(&forged, |name, bytes| {
        if !name.ends_with("_seed0.json") {
            return vec![(name.to_owned(), bytes)];
        }
        let mut sidecar: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        sidecar["onnx"] = format!("{ENSEMBLE}_seed1.onnx").into();
        sidecar["sha256"] = seed1_sha.clone().unwrap();
        vec![(
            name.to_owned(),
            serde_json::to_vec_pretty(&sidecar).unwrap(),
        )]
    });
    // verify itself derives every sidecar field now (issue 29), so it refuses the edit
    // before install's own check of the names would.
    kit().args(["verify", forged.as_str()]).assert().code(2);
    run(into(&forged), "`onnx` is not what the bundled verdict");

    // registry.json huge, not JSON, of another schema version, or not in the fork's style.
    let registry = dir.join("registry.json");
    let good = std::fs::read(&registry).unwrap();
    for (bytes, why) in [
        (vec![b' '; 5 << 20], "registry.json` is 5242880 bytes"),
        (
            b"{\"models\": [".to_vec(),
            "registry.json` is refused: it is not JSON",
        ),
        (
            String::from_utf8(good.clone())
                .unwrap()
                .replace("\"schema_version\": 1", "\"schema_version\": 2")
                .into_bytes(),
            "its schema_version is 2",
        ),
        (
            String::from_utf8(good.clone())
                .unwrap()
                .replace("\n  ", "\n   ")
                .into_bytes(),
            "not written the way the fork writes it",
        ),
    ] {
        std::fs::write(&registry, bytes).unwrap();
        run(into(bundle()), why);
    }
    std::fs::write(&registry, &good).unwrap();

    // A symbolic link where a member's model, the registry or the replaced files' folder goes.
    let outside = s.join("outside.onnx");
    std::fs::write(&outside, b"not yours").unwrap();
    for name in [
        format!("{ENSEMBLE}_seed3.onnx"),
        "registry.json".into(),
        ".ensemble-kit-replaced".into(),
    ] {
        let path = dir.join(&name);
        let kept = s.join("kept");
        let _ = std::fs::rename(&path, &kept);
        std::os::unix::fs::symlink(&outside, &path).unwrap();
        run(into(bundle()), &name);
        std::fs::remove_file(&path).unwrap();
        let _ = std::fs::rename(&kept, &path);
    }
    assert_eq!(std::fs::read(&outside).unwrap(), b"not yours");

    // No registry at all: refused unless --new-registry.
    std::fs::remove_file(&registry).unwrap();
    run(into(bundle()), "has no registry.json");
}

/// Rewrites MODEL_DIR's registry through `edit`, in the fork's style.
fn edit_registry(dir: &Utf8Path, edit: impl FnOnce(&mut Vec<serde_json::Value>)) {
    let path = dir.join("registry.json");
    let mut registry = read_json(&path);
    edit(registry["models"].as_array_mut().unwrap());
    std::fs::write(&path, pyjson::render(&registry)).unwrap();
}

#[test]
fn missing_rows_are_added_with_the_ensembles_license_and_stray_rows_are_refused() {
    // Seeds 3 and 4 have no row: they are added after seed 2 with the ensemble's license.
    let s = fork();
    let dir = model_dir(&s);
    edit_registry(&dir, |rows| {
        rows.retain(|r| {
            !r["id"].as_str().unwrap().ends_with("_seed3")
                && !r["id"].as_str().unwrap().ends_with("_seed4")
        })
    });
    let said = install_ok(&[bundle().as_str(), "--into", dir.as_str(), "--dry-run"]);
    assert!(
        said.contains(&format!("registry.json row {ENSEMBLE}_seed3 (new row):")),
        "{said}"
    );
    assert!(
        said.contains("    license: (absent) -> \"BSD-3-Clause-Plus-Patent\""),
        "{said}"
    );
    install_ok(&[bundle().as_str(), "--into", dir.as_str()]);
    let registry = read_json(&dir.join("registry.json"));
    let ids: Vec<&str> = registry["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let seed = |n: u32| format!("{ENSEMBLE}_seed{n}");
    assert_eq!(&ids[1..6], [seed(0), seed(1), seed(2), seed(3), seed(4)]);
    let row = &registry["models"][4];
    assert_eq!(
        row["license_url"],
        "https://github.com/lusoris/vmaf/blob/master/LICENSE"
    );
    assert_eq!(
        row["sigstore_bundle"],
        format!("{}.onnx.sigstore.json", seed(3))
    );
    assert_eq!(row["smoke"], false);
    if let Some(out) = validator(&s) {
        assert!(out.status.success(), "{}", text(&out));
    }

    // No row of the ensemble to take the license from: refused, naming the rows.
    let s = fork();
    let dir = model_dir(&s);
    edit_registry(&dir, |rows| {
        rows.retain(|r| !r["id"].as_str().unwrap().starts_with(ENSEMBLE))
    });
    refused(
        &s,
        &[bundle().as_str(), "--into", dir.as_str()],
        2,
        "has no row of `fr_regressor_v2_ensemble_v1` to take the license fields",
    );

    // A row of the ensemble the bundle does not replace (seed 7), and another model's row
    // naming a member's file: refused.
    let s = fork();
    let dir = model_dir(&s);
    edit_registry(&dir, |rows| {
        let mut extra = rows[1].clone();
        extra["id"] = format!("{ENSEMBLE}_seed7").into();
        rows.push(extra);
    });
    refused(
        &s,
        &[bundle().as_str(), "--into", dir.as_str()],
        2,
        "that the bundle does not replace (fr_regressor_v2_ensemble_v1_seed7)",
    );
    let s = fork();
    let dir = model_dir(&s);
    edit_registry(&dir, |rows| {
        rows[0]["onnx"] = format!("{ENSEMBLE}_seed2.onnx").into()
    });
    refused(
        &s,
        &[bundle().as_str(), "--into", dir.as_str()],
        2,
        "row `fr_regressor_v1` names `fr_regressor_v2_ensemble_v1_seed2.onnx`",
    );
}

#[test]
fn a_folder_without_a_registry_needs_new_registry() {
    let s = Scratch::new();
    let dir = s.join("tiny");
    std::fs::create_dir(&dir).unwrap();
    refused(
        &s,
        &[bundle().as_str(), "--into", dir.as_str()],
        2,
        "has no registry.json",
    );
    let said = install_ok(&[bundle().as_str(), "--into", dir.as_str(), "--new-registry"]);
    assert!(
        said.contains("note: the new registry.json has no row to take `license`"),
        "{said}"
    );
    let registry = read_json(&dir.join("registry.json"));
    assert_eq!(registry["schema_version"], 1);
    assert_eq!(registry["models"].as_array().unwrap().len(), 5);
    install_ok(&["--undo", dir.as_str()]);
    assert_eq!(
        snapshot(&dir),
        BTreeMap::new(),
        "undo leaves the folder empty again"
    );
}

#[test]
fn install_checks_names_itself_whatever_verify_let_through() {
    // Members as install reads them, built from a real sidecar, then made hostile one way each.
    let dir = demo().0.join("results/models");
    let member = |seed: u64| {
        let id = format!("{ENSEMBLE}_seed{seed}");
        let sidecar_bytes = std::fs::read(dir.join(format!("{id}.json"))).unwrap();
        members::Member {
            onnx_member: format!("models/{id}.onnx"),
            sidecar_member: format!("models/{id}.json"),
            onnx: std::fs::read(dir.join(format!("{id}.onnx"))).unwrap(),
            sidecar: ensemble_kit::schema::parse_checked(&sidecar_bytes, Utf8Path::new("x"))
                .unwrap(),
            sidecar_bytes,
        }
    };
    let check = |edit: &dyn Fn(&mut members::Member)| {
        let mut one = member(0);
        edit(&mut one);
        members::check(vec![one, member(1)], "0".repeat(64))
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    members::check(vec![member(0), member(1)], "0".repeat(64)).unwrap();
    for (why, edit) in [
        (
            "`../registry.json` is not a plain path",
            &(|m: &mut members::Member| m.sidecar_member = "../registry.json".into())
                as &dyn Fn(&mut members::Member),
        ),
        ("`models/../x.onnx` is not a plain path", &|m| {
            m.onnx_member = "models/../x.onnx".into()
        }),
        ("names the model `../registry.json`", &|m| {
            m.sidecar.onnx = "../registry.json".into()
        }),
        (
            "names the model `fr_regressor_v2_ensemble_v1_seed1.onnx`",
            &|m| m.sidecar.onnx = format!("{ENSEMBLE}_seed1.onnx"),
        ),
        ("says its id is `registry`", &|m| {
            m.sidecar.id = "registry".into()
        }),
        ("does not fit the fork's registry", &|m| {
            m.sidecar.ensemble_id = "Team.Model".into();
            m.sidecar.id = "Team.Model_seed0".into();
        }),
        ("are not named", &|m| {
            m.onnx_member = "models/other.onnx".into()
        }),
        ("has sha256", &|m| m.onnx.push(0)),
        ("the other members to `other`", &|m| {
            m.sidecar.ensemble_id = "other".into();
            m.sidecar.id = "other_seed0".into();
            m.sidecar.onnx = "other_seed0.onnx".into();
            m.onnx_member = "models/other_seed0.onnx".into();
            m.sidecar_member = "models/other_seed0.json".into();
        }),
        ("disagree on `feature_mean`", &|m| {
            m.sidecar.feature_mean[0] += 1e-9
        }),
    ] {
        let err = check(edit);
        assert!(err.contains(why), "{why}: {err}");
    }
}

#[test]
fn install_runs_the_whole_verify_first_retrain_and_audit_included() {
    let s = fork();
    let dir = model_dir(&s);
    let meta = read_json(&demo().0.join("results/corpus/shard.meta.json"));
    let refs = demo().0.join(meta["ref_dir"].as_str().unwrap());
    let said = install_ok(&[
        bundle().as_str(),
        "--into",
        dir.as_str(),
        "--dry-run",
        "--retrain",
        "--audit",
        "--ref-dir",
        refs.as_str(),
    ]);
    assert!(said.contains("retrain identical (5 seed files"), "{said}");
    assert!(said.contains("audit: 3 cell(s)"), "{said}");
    assert!(said.contains("dry run, nothing written"), "{said}");
}
