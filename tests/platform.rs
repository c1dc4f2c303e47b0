//! Platform detection for every tag, through the `KIT_FAKE_*` variables, against golden JSON.

mod common;
use common::{golden, kit};

fn detect(fakes: &[(&str, &str)]) -> String {
    let mut cmd = kit();
    cmd.args(["platform", "--json"]);
    for (k, v) in fakes {
        cmd.env(k, v);
    }
    let out = cmd.assert().success().get_output().stdout.clone();
    String::from_utf8(out).unwrap()
}

const LINUX: &[(&str, &str)] = &[
    ("KIT_FAKE_UNAME_S", "Linux"),
    ("KIT_FAKE_UNAME_M", "x86_64"),
];

#[test]
fn cuda_when_nvidia_smi_works() {
    let fakes = [
        LINUX,
        &[("KIT_FAKE_HAS_NVIDIA_SMI", "1"), ("KIT_FAKE_HAS_IHD", "0")],
    ]
    .concat();
    golden("platform-linux-x86_64-cuda.json", &detect(&fakes));
}

#[test]
fn cuda_box_with_intel_offers_both_families() {
    let fakes = [
        LINUX,
        &[("KIT_FAKE_HAS_NVIDIA_SMI", "1"), ("KIT_FAKE_HAS_IHD", "1")],
    ]
    .concat();
    golden("platform-linux-x86_64-cuda+ihd.json", &detect(&fakes));
}

#[test]
fn sycl_when_only_intel_ihd() {
    let fakes = [
        LINUX,
        &[("KIT_FAKE_HAS_NVIDIA_SMI", "0"), ("KIT_FAKE_HAS_IHD", "1")],
    ]
    .concat();
    golden("platform-linux-x86_64-sycl.json", &detect(&fakes));
}

#[test]
fn vulkan_cpu_baseline_without_gpu() {
    let fakes = [
        LINUX,
        &[("KIT_FAKE_HAS_NVIDIA_SMI", "0"), ("KIT_FAKE_HAS_IHD", "0")],
    ]
    .concat();
    golden("platform-linux-x86_64-vulkan.json", &detect(&fakes));
}

#[test]
fn darwin_arm64() {
    let fakes = [
        ("KIT_FAKE_UNAME_S", "Darwin"),
        ("KIT_FAKE_UNAME_M", "arm64"),
        ("KIT_FAKE_HAS_VIDEOTOOLBOX", "1"),
    ];
    golden("platform-darwin-arm64-cpu.json", &detect(&fakes));
}

#[test]
fn darwin_x86_64() {
    let fakes = [
        ("KIT_FAKE_UNAME_S", "Darwin"),
        ("KIT_FAKE_UNAME_M", "x86_64"),
        ("KIT_FAKE_HAS_VIDEOTOOLBOX", "1"),
    ];
    golden("platform-darwin-x86_64-cpu.json", &detect(&fakes));
}

#[test]
fn human_output_names_the_tag() {
    kit()
        .arg("platform")
        .envs(LINUX.iter().copied())
        .env("KIT_FAKE_HAS_NVIDIA_SMI", "0")
        .env("KIT_FAKE_HAS_IHD", "1")
        .assert()
        .success()
        .stdout(predicates::str::contains("linux-x86_64-sycl"))
        .stdout(predicates::str::contains("h264_qsv hevc_qsv av1_qsv"));
}

#[test]
fn bad_fake_value_is_refused() {
    kit()
        .arg("platform")
        .env("KIT_FAKE_HAS_IHD", "yes")
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "KIT_FAKE_HAS_IHD is `yes`, but it must be 1 or 0",
        ));
}

#[test]
fn an_unknown_os_is_unknown_with_the_cpu_baseline() {
    let fakes = [
        ("KIT_FAKE_UNAME_S", "FreeBSD"),
        ("KIT_FAKE_UNAME_M", "x86_64"),
        ("KIT_FAKE_HAS_NVIDIA_SMI", "1"),
        ("KIT_FAKE_HAS_IHD", "0"),
    ];
    golden("platform-unknown-with-nvidia.json", &detect(&fakes));
    let plain = detect(&[("KIT_FAKE_UNAME_S", "FreeBSD")]);
    assert!(plain.contains("\"tag\": \"unknown\""), "{plain}");
    assert!(
        plain.contains("\"default_encoders\": [\n    \"libx264\"\n  ]"),
        "{plain}"
    );
}
