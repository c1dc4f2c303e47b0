//! The flake, evaluated offline: `flake.nix`'s `outputs` applied to stand-in `nixpkgs` and
//! `crane` inputs (tests/nix/) with `nix-instantiate --eval --strict`, checking the attribute tree
//! per system, the apps' programs, and that the wrappers put ffmpeg and the platform's libvmaf on
//! PATH. CI installs Nix from Debian's packages (`nix-bin`).

use std::process::Command;

fn evaluate() -> Option<serde_json::Value> {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = match Command::new("nix-instantiate")
        .args(["--eval", "--strict", "--json", "tests/nix/eval.nix"])
        .current_dir(root)
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
fn flake_outputs_per_system() {
    let Some(eval) = evaluate() else { return };
    assert_eq!(
        names(&eval["outputs"]),
        ["apps", "checks", "devShells", "packages"]
    );
    for system in ["x86_64-linux", "aarch64-darwin", "x86_64-darwin"] {
        let s = &eval["perSystem"][system];
        let packages = names(&s["packages"]);
        for p in [
            "default",
            "ensemble-kit",
            "full",
            "libvmaf-cpu",
            "libvmaf-cuda",
            "libvmaf-sycl",
        ] {
            assert!(packages.contains(&p), "{system}: packages.{p}");
        }
        assert_eq!(
            packages.contains(&"libvmaf-darwin"),
            system.ends_with("darwin"),
            "{system}: the Darwin build"
        );
        assert_eq!(names(&s["apps"]), ["default", "full"]);
        assert_eq!(names(&s["checks"]), ["build", "clippy", "fmt", "tests"]);
        assert_eq!(names(&s["devShells"]), ["default"]);
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
        let scorer = if system.ends_with("linux") {
            "stub-libvmaf-cuda"
        } else {
            "stub-libvmaf"
        };
        let wrapper = s["fullWrapper"].as_str().unwrap();
        assert!(
            wrapper.contains(&format!(
                "--prefix PATH : /nix/store/stub-ffmpeg-full/bin:/nix/store/{scorer}/bin"
            )),
            "{system}: the wrapper puts ffmpeg and the platform's libvmaf on PATH: {wrapper}"
        );
        assert!(s["fullCpuWrapper"]
            .as_str()
            .unwrap()
            .contains("/nix/store/stub-libvmaf/bin"));
        assert_eq!(s["libvmafCuda"]["mesonFlags"][0], "-Denable_cuda=true");
        assert_eq!(
            s["libvmafCuda"]["unfreeAllowed"], true,
            "unfree CUDA allowed for the CUDA scorer"
        );
        assert_eq!(s["libvmafCpuUnfree"], false, "and only for it");
        assert_eq!(
            s["syclEvaluates"], false,
            "libvmaf-sycl explains at evaluation time instead of building"
        );
        assert_eq!(s["testsVmaf"], "/nix/store/stub-libvmaf/bin/vmaf");
    }
}

#[test]
fn flake_lock_pins_real_revisions() {
    let lock: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/flake.lock")).unwrap(),
    )
    .unwrap();
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
