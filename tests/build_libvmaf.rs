//! `build-libvmaf` from the pinned source (meson at the libvmaf folder) produces a `vmaf` the kit
//! accepts, recorded in BUILD.json; a platform whose meson option the source lacks is refused.

mod common;
use common::*;
use predicates::str::contains;

#[test]
fn cpu_build_from_the_pinned_source_is_accepted() {
    let s = Scratch::new();
    let source = ensemble_kit::host::libvmaf::pinned_source(&s.join("src"))
        .expect("run scripts/bootstrap.sh first (it fetches the pinned crate)");
    let out = s.join("binaries/linux-x86_64-vulkan");
    kit()
        .args([
            "build-libvmaf",
            "--platform",
            "linux-x86_64-vulkan",
            "--source",
            source.as_str(),
            "--out",
            out.as_str(),
            "-q",
        ])
        .assert()
        .success()
        .stdout(contains("libvmaf 2.3.1 for linux-x86_64-vulkan"));
    kit()
        .args(["validate", out.join("BUILD.json").as_str()])
        .assert()
        .success();
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("BUILD.json")).unwrap()).unwrap();
    assert_eq!(
        record["meson_root"], "vmaf/libvmaf",
        "meson runs at the libvmaf folder"
    );
    assert_eq!(record["libvmaf_version"], "2.3.1");
    // The kit accepts the built binary as its scorer.
    let shard = s.join("c/shard.jsonl");
    kit()
        .args([
            "corpus",
            "--demo",
            "--frames",
            "2",
            "--cqs",
            "25",
            "--out",
            shard.as_str(),
            "--vmaf",
            out.join("vmaf").as_str(),
            "-q",
        ])
        .assert()
        .success();

    kit()
        .args([
            "build-libvmaf",
            "--platform",
            "linux-x86_64-cuda",
            "--source",
            source.as_str(),
            "--out",
            s.join("cuda").as_str(),
        ])
        .assert()
        .code(2)
        .stderr(contains("has no `enable_cuda` option"));
}
