//! The flake, evaluated offline: `flake.nix`'s `outputs` applied to stand-in `nixpkgs` and
//! `crane` inputs (tests/nix/) with `nix-instantiate --eval --strict`, in the spirit of
//! `nix flake check --no-build`: every package, app, check and devShell of every system evaluates
//! (no `throw`, no CUDA outside Linux), the apps' programs, the wrappers' PATH, the CPU libvmaf
//! built from the bootstrap's pinned crate with its meson options, and `checks.tests` running the
//! tests on a source that keeps what they read. CI installs Nix from Debian's packages
//! (`nix-bin`); nixpkgs itself needs a newer Nix than Debian's, hence the stand-ins.

use camino::{Utf8Path, Utf8PathBuf};
use std::process::Command;

const SYSTEMS: [&str; 3] = ["x86_64-linux", "aarch64-darwin", "x86_64-darwin"];

fn root() -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Evaluates tests/nix/eval.nix; `probes` are (path relative to the checkout, Nix file type) pairs
/// whose fate under the tests' source filter comes back in `tests.kept`.
fn evaluate(probes: &[(String, &str)]) -> Option<serde_json::Value> {
    let probes = probes
        .iter()
        .map(|(path, kind)| format!("{{ path = \"{path}\"; type = \"{kind}\"; }}"))
        .collect::<Vec<_>>()
        .join(" ");
    let out = match Command::new("nix-instantiate")
        .args(["--eval", "--strict", "--json", "tests/nix/eval.nix"])
        .args(["--arg", "probes", &format!("[ {probes} ]")])
        .current_dir(root())
        .output()
    {
        Ok(out) => out,
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must have nix-instantiate (apt-get install nix-bin)"
            );
            eprintln!("skipped: no nix-instantiate here (CI installs nix-bin)");
            return None;
        }
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

fn names(v: &serde_json::Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

#[test]
fn every_output_of_every_system_evaluates() {
    let Some(eval) = evaluate(&[]) else { return };
    assert_eq!(
        names(&eval["outputs"]),
        ["apps", "checks", "devShells", "packages"]
    );
    for system in SYSTEMS {
        let s = &eval["perSystem"][system];
        let linux = system.ends_with("linux");
        for (kind, results) in s["evaluates"].as_object().unwrap() {
            for (name, ok) in results.as_object().unwrap() {
                assert_eq!(ok, true, "{system}: {kind}.{name} does not evaluate");
            }
        }
        for (name, kind) in s["packageTypes"].as_object().unwrap() {
            assert_eq!(kind, "derivation", "{system}: packages.{name}");
        }
        for (name, kind) in s["appTypes"].as_object().unwrap() {
            assert_eq!(kind, "app", "{system}: apps.{name}");
        }
        let mut packages = vec!["default", "ensemble-kit", "full", "full-cpu", "libvmaf-cpu"];
        let mut apps = vec!["default", "full"];
        if linux {
            packages.extend(["full-cuda", "libvmaf-cuda"]);
            apps.push("full-cuda");
        }
        packages.sort();
        assert_eq!(
            names(&s["packages"]),
            packages,
            "{system}: CUDA on Linux only, no SYCL package (it cannot build here)"
        );
        assert_eq!(names(&s["apps"]), apps, "{system}");
        assert_eq!(names(&s["checks"]), ["build", "clippy", "fmt", "tests"]);
        assert_eq!(names(&s["devShells"]), ["default"]);
    }
}

#[test]
fn apps_and_wrappers_run_the_kit_with_ffmpeg_and_one_cpu_libvmaf() {
    let Some(eval) = evaluate(&[]) else { return };
    for system in SYSTEMS {
        let s = &eval["perSystem"][system];
        assert_eq!(s["defaultIsFull"], true);
        assert_eq!(
            s["appDefault"],
            "/nix/store/stub-ensemble-kit-full/bin/ensemble-kit"
        );
        assert!(
            s["appFull"]
                .as_str()
                .unwrap()
                .ends_with("ensemble-kit-full-app"),
            "{system}: apps.full runs `ensemble-kit full`"
        );
        // `full` scores with the same libvmaf 2.3.1 as the bootstrap on every system.
        for wrapper in ["fullWrapper", "fullCpuWrapper"] {
            let script = s[wrapper].as_str().unwrap();
            assert!(
                script.contains(
                    "--prefix PATH : /nix/store/stub-ffmpeg-full/bin:/nix/store/stub-libvmaf-2.3.1/bin"
                ),
                "{system}: {wrapper} puts ffmpeg and the pinned CPU libvmaf on PATH: {script}"
            );
        }
        if system.ends_with("linux") {
            let script = s["fullCudaWrapper"].as_str().unwrap();
            assert!(
                script.contains("/nix/store/stub-libvmaf-cuda/bin"),
                "{script}"
            );
            assert!(s["appFullCuda"]
                .as_str()
                .unwrap()
                .ends_with("ensemble-kit-full-cuda-app"));
        }
    }
}

/// The pinned crate's sha256 and the meson options, as scripts/bootstrap.sh has them.
fn bootstrap_pins() -> (String, String, Vec<String>) {
    let text = std::fs::read_to_string(root().join("scripts/bootstrap.sh")).unwrap();
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("bootstrap.sh sets {key}"))
            .to_owned()
    };
    let setup = text
        .split("meson setup")
        .nth(1)
        .and_then(|rest| rest.split(">\"$CACHE").next())
        .expect("bootstrap.sh runs meson setup");
    let mut options: Vec<String> = setup
        .split_whitespace()
        .filter(|w| w.starts_with("-D") || w.starts_with("--buildtype="))
        .map(str::to_owned)
        .collect();
    options.sort();
    (
        value("CRATE_SHA256"),
        format!("{}-{}", value("CRATE"), value("CRATE_VERSION")),
        options,
    )
}

#[test]
fn cpu_libvmaf_is_built_from_the_bootstraps_pinned_crate() {
    let Some(eval) = evaluate(&[]) else { return };
    let (sha256, crate_name, bootstrap_options) = bootstrap_pins();
    assert_eq!(crate_name, "libvmaf-sys-0.4.4");
    for system in SYSTEMS {
        let cpu = &eval["perSystem"][system]["libvmafCpu"];
        assert_eq!(cpu["version"], "2.3.1", "{system}");
        assert_eq!(cpu["mainProgram"], "vmaf");
        assert_eq!(
            cpu["src"]["sha256"],
            sha256.as_str(),
            "{system}: same crate"
        );
        assert_eq!(
            cpu["src"]["url"],
            "https://crates.io/api/v1/crates/libvmaf-sys/0.4.4/download"
        );
        assert!(
            cpu["src"]["name"].as_str().unwrap().ends_with(".tar.gz"),
            "the .crate is a gzipped tar; the name tells the unpacker"
        );
        assert_eq!(
            cpu["sourceRoot"],
            format!("{crate_name}/vmaf/libvmaf"),
            "meson runs at the libvmaf folder"
        );
        let mut options: Vec<String> = names(&cpu["mesonFlags"])
            .into_iter()
            .map(str::to_owned)
            .collect();
        options.push(format!(
            "--buildtype={}",
            cpu["mesonBuildType"].as_str().unwrap()
        ));
        options.sort();
        assert_eq!(options, bootstrap_options, "{system}: same meson options");
    }
}

#[test]
fn cuda_libvmaf_is_patched_for_the_sandbox_and_alone_unfree() {
    let Some(eval) = evaluate(&[]) else { return };
    let s = &eval["perSystem"]["x86_64-linux"];
    let cuda = &s["libvmafCuda"];
    assert!(
        names(&cuda["mesonFlags"]).contains(&"-Denable_cuda=true"),
        "the meson flag is what turns CUDA on"
    );
    assert_eq!(
        cuda["postPatch"].as_str().unwrap().trim(),
        "substituteInPlace src/meson.build --replace-fail /usr/local/cuda/include /nix/store/stub-cudatoolkit/include"
    );
    assert_eq!(cuda["cudaPath"], "/nix/store/stub-cudatoolkit");
    assert_eq!(
        cuda["unfreeAllowed"], true,
        "unfree CUDA allowed for the CUDA scorer"
    );
}

/// Every file under `dir` (relative to the checkout), with its parent folders.
fn walk(rel: &Utf8Path, probes: &mut Vec<(String, &'static str)>) {
    let abs = root().join(rel);
    if abs.is_dir() {
        probes.push((rel.to_string(), "directory"));
        for entry in abs.read_dir_utf8().unwrap() {
            walk(&rel.join(entry.unwrap().file_name()), probes);
        }
    } else {
        probes.push((rel.to_string(), "regular"));
    }
}

#[test]
fn checks_tests_runs_the_tests_on_a_source_with_their_data() {
    let mut probes = Vec::new();
    for rel in [
        "schemas",
        "tests/golden",
        "tests/fixtures",
        "tests/action-metadata.schema.json",
        "scripts",
        ".github/workflows",
        "action.yml",
        "flake.lock",
        "src/lib.rs",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        walk(Utf8Path::new(rel), &mut probes);
    }
    // Parents of the probed paths must be kept too, or the filter never descends into them.
    probes.extend([
        ("tests".into(), "directory"),
        (".github".into(), "directory"),
    ]);
    let kept_count = probes.len();
    probes.push(("README.md".into(), "regular"));
    let Some(eval) = evaluate(&probes) else {
        return;
    };
    for system in SYSTEMS {
        let tests = &eval["perSystem"][system]["tests"];
        assert_eq!(
            tests["doCheck"], true,
            "{system}: checks.tests runs the tests"
        );
        assert_eq!(
            tests["ENSEMBLE_KIT_VMAF"],
            "/nix/store/stub-libvmaf-2.3.1/bin/vmaf"
        );
        let kept = tests["kept"].as_array().unwrap();
        for ((path, _), kept) in probes.iter().zip(kept).take(kept_count) {
            assert_eq!(kept, true, "{system}: the tests' source drops {path}");
        }
        assert_eq!(kept[kept_count], false, "README.md is not a test input");
    }
}

#[test]
fn flake_lock_pins_real_revisions() {
    let lock: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("flake.lock")).unwrap()).unwrap();
    let nixpkgs = &lock["nodes"]["nixpkgs"];
    assert_eq!(nixpkgs["original"]["ref"], "nixos-26.05");
    assert_eq!(
        nixpkgs["locked"]["rev"],
        "531670d871c0e29724a02f3cbcac170adc65b58c"
    );
    assert_eq!(
        lock["nodes"]["crane"]["locked"]["rev"],
        "b8d87f76ea4e4b6f30f2e6eaf3fbb60ff7d87167"
    );
    for node in ["nixpkgs", "crane"] {
        let hash = lock["nodes"][node]["locked"]["narHash"].as_str().unwrap();
        assert!(
            hash.starts_with("sha256-") && hash.len() == 51,
            "{node}: {hash}"
        );
    }
}
