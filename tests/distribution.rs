//! The distribution tarball: byte-identical when built twice, under 50 MiB, and — unpacked into an
//! empty folder — its own `./bootstrap` (building the pinned vmaf from the bundled source into a
//! fresh cache) makes `doctor` pass and the demo pipeline run.

mod common;
use camino::Utf8Path;
use common::*;

fn build(out: &Utf8Path) -> Vec<u8> {
    kit()
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args([
            "make-distribution-tarball",
            "--out",
            out.as_str(),
            "--project-dir",
            env!("CARGO_MANIFEST_DIR"),
        ])
        .assert()
        .success();
    std::fs::read(out).unwrap()
}

#[test]
fn tarball_is_reproducible_and_runs_after_its_own_bootstrap() {
    let s = Scratch::new();
    let first = build(&s.join("a.tar.gz"));
    let second = build(&s.join("b.tar.gz"));
    assert_eq!(first, second, "two builds must be byte-identical");
    assert!((first.len() as u64) < 50 << 20, "{} bytes", first.len());

    let unpacked = s.join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    tar::Archive::new(flate2::read::GzDecoder::new(first.as_slice()))
        .unpack(&unpacked)
        .unwrap();
    let top = std::fs::read_dir(&unpacked)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let top = camino::Utf8PathBuf::from_path_buf(top).unwrap();
    for name in [
        "bin/ensemble-kit",
        "bootstrap",
        "README-FIRST.md",
        "MANIFEST.json",
        "scripts/bootstrap.sh",
        "schemas/verdict.schema.json",
    ] {
        assert!(top.join(name).is_file(), "{name} is in the tarball");
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(top.join("MANIFEST.json")).unwrap()).unwrap();
    for file in manifest["files"].as_array().unwrap() {
        let path = top.join(file["path"].as_str().unwrap());
        assert_eq!(
            ensemble_kit::digest::sha256_file(&path).unwrap(),
            file["sha256"].as_str().unwrap(),
            "{path}"
        );
    }

    let cache = s.join("fresh-cache");
    let run = |program: &str, args: &[&str]| {
        let out = std::process::Command::new(top.join(program))
            .args(args)
            .current_dir(&top)
            .env("ENSEMBLE_KIT_CACHE", &cache)
            .env_remove("ENSEMBLE_KIT_VMAF")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, log) = run("bootstrap", &[]);
    assert_eq!(code, 0, "{log}");
    assert!(cache.join("libvmaf-2.3.1/bin/vmaf").is_file(), "{log}");
    let (code, log) = run("bin/ensemble-kit", &["doctor", "--encoders", "libx264"]);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("found by bootstrap cache"), "{log}");
    let (code, log) = run(
        "bin/ensemble-kit",
        &[
            "full", "--demo", "--frames", "4", "--seeds", "0", "--epochs", "5",
        ],
    );
    assert!(code == 0 || code == 1, "{log}");
    assert!(
        log.contains("bundle: ensemble-results/ensemble-results-"),
        "{log}"
    );
}

/// Issue 21 item 22: modes come from each file's role, whatever bits the checkout has.
#[test]
fn tarball_modes_follow_roles_not_the_checkouts_bits() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new();
    let modes_from = |bits: u32| {
        let project = s.join(&format!("checkout-{bits:o}"));
        std::fs::create_dir_all(&project).unwrap();
        for dir in ["scripts", "schemas"] {
            let from = format!("{}/{dir}", env!("CARGO_MANIFEST_DIR"));
            let copied = std::process::Command::new("cp")
                .args(["-r", &from, project.join(dir).as_str()])
                .status()
                .unwrap();
            assert!(copied.success());
        }
        for entry in walkdir::WalkDir::new(&project).min_depth(1) {
            let entry = entry.unwrap();
            if entry.file_type().is_file() {
                std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(bits))
                    .unwrap();
            }
        }
        let out = s.join(&format!("kit-{bits:o}.tar.gz"));
        kit()
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args([
                "make-distribution-tarball",
                "--out",
                out.as_str(),
                "--project-dir",
                project.as_str(),
            ])
            .assert()
            .success();
        let bytes = std::fs::read(&out).unwrap();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
        let mut modes = std::collections::BTreeMap::new();
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let rel = path.split_once('/').unwrap().1.to_owned();
            modes.insert(rel, entry.header().mode().unwrap());
        }
        modes
    };
    for bits in [0o644, 0o777] {
        let modes = modes_from(bits);
        for program in [
            "bin/ensemble-kit",
            "bootstrap",
            "scripts/bootstrap.sh",
            "scripts/kit.sh",
        ] {
            assert_eq!(modes[program], 0o755, "{program} from a {bits:o} checkout");
        }
        for data in [
            "README-FIRST.md",
            "MANIFEST.json",
            "schemas/verdict.schema.json",
        ] {
            assert_eq!(modes[data], 0o644, "{data} from a {bits:o} checkout");
        }
    }
}
