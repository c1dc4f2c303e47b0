//! `doctor` for every platform tag (faked with `KIT_FAKE_*`) against golden tables: what is
//! checked, what is missing on a box without that hardware, and the one-line fix for each.
//! Paths, versions and sizes of this machine are normalised.

mod common;
use common::*;

const PLATFORMS: &[(&str, &[(&str, &str)])] = &[
    (
        "linux-x86_64-cuda",
        &[
            ("KIT_FAKE_UNAME_S", "Linux"),
            ("KIT_FAKE_UNAME_M", "x86_64"),
            ("KIT_FAKE_HAS_NVIDIA_SMI", "1"),
            ("KIT_FAKE_HAS_IHD", "0"),
        ],
    ),
    (
        "linux-x86_64-sycl",
        &[
            ("KIT_FAKE_UNAME_S", "Linux"),
            ("KIT_FAKE_UNAME_M", "x86_64"),
            ("KIT_FAKE_HAS_NVIDIA_SMI", "0"),
            ("KIT_FAKE_HAS_IHD", "1"),
        ],
    ),
    (
        "linux-x86_64-vulkan",
        &[
            ("KIT_FAKE_UNAME_S", "Linux"),
            ("KIT_FAKE_UNAME_M", "x86_64"),
            ("KIT_FAKE_HAS_NVIDIA_SMI", "0"),
            ("KIT_FAKE_HAS_IHD", "0"),
        ],
    ),
    (
        "darwin-arm64-cpu",
        &[
            ("KIT_FAKE_UNAME_S", "Darwin"),
            ("KIT_FAKE_UNAME_M", "arm64"),
            ("KIT_FAKE_HAS_VIDEOTOOLBOX", "1"),
        ],
    ),
    (
        "darwin-x86_64-cpu",
        &[
            ("KIT_FAKE_UNAME_S", "Darwin"),
            ("KIT_FAKE_UNAME_M", "x86_64"),
            ("KIT_FAKE_HAS_VIDEOTOOLBOX", "1"),
        ],
    ),
];

/// Replaces what belongs to this machine with placeholders.
fn normalise(text: &str, ffmpeg: &str) -> String {
    let version = std::process::Command::new(ffmpeg)
        .arg("-version")
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&version.stdout)
        .split_whitespace()
        .nth(2)
        .unwrap()
        .to_owned();
    let mut out = text
        .replace(ffmpeg, "<ffmpeg>")
        .replace(&version, "<ffmpeg-version>");
    out = out
        .lines()
        .map(|line| {
            let mut words: Vec<String> = line.split(' ').map(str::to_owned).collect();
            for i in 0..words.len() {
                if words[i].ends_with("/bin/vmaf") {
                    words[i] = "<vmaf>".into();
                }
                if words.get(i + 1).is_some_and(|w| w.starts_with("MiB"))
                    && words[i].parse::<u64>().is_ok()
                {
                    words[i] = "<N>".into();
                }
            }
            words.join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n");
    out + "\n"
}

#[test]
fn doctor_tables_per_platform() {
    let ffmpeg = real_ffmpeg();
    for (tag, fakes) in PLATFORMS {
        let s = Scratch::new();
        let mut cmd = kit();
        cmd.current_dir(s.path())
            .args(["doctor", "--ffmpeg", &ffmpeg]);
        for (k, v) in *fakes {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let text = normalise(&String::from_utf8(out.stdout).unwrap(), &ffmpeg);
        let path = format!(
            "{}/tests/golden/doctor-{tag}.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        assert_eq!(
            text,
            std::fs::read_to_string(&path).unwrap(),
            "doctor for {tag} differs from {path}"
        );
        let failing = text.contains("FAIL ");
        assert_eq!(
            out.status.code(),
            Some(if failing { 2 } else { 0 }),
            "{tag}: exit code follows the table"
        );
        for line in text.lines().filter(|l| l.trim_start().starts_with("FAIL")) {
            let next = text
                .lines()
                .skip_while(|l| *l != line)
                .nth(1)
                .unwrap_or_default();
            assert!(
                next.trim_start().starts_with("fix: "),
                "{tag}: a failing line without its fix: {line}"
            );
        }
    }
}
