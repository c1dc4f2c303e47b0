//! Helpers shared by the integration tests: the kit binary, scratch folders, shard readers and
//! ffmpeg wrappers that damage one step of a real run.
#![allow(dead_code)]

use assert_cmd::Command;
use camino::{Utf8Path, Utf8PathBuf};
use std::collections::BTreeMap;

/// The kit binary, with every `KIT_FAKE_*` variable cleared so the host's real answers apply.
pub fn kit() -> Command {
    let mut cmd = Command::cargo_bin("ensemble-kit").unwrap();
    for var in [
        "KIT_FAKE_UNAME_S",
        "KIT_FAKE_UNAME_M",
        "KIT_FAKE_HAS_NVIDIA_SMI",
        "KIT_FAKE_HAS_IHD",
        "KIT_FAKE_HAS_VIDEOTOOLBOX",
        "SOURCE_DATE_EPOCH",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// A scratch folder with a UTF-8 path.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    pub fn path(&self) -> &Utf8Path {
        Utf8Path::from_path(self.dir.path()).unwrap()
    }
    pub fn join(&self, name: &str) -> Utf8PathBuf {
        self.path().join(name)
    }
}

/// Rows of a shard as JSON objects.
pub fn rows(shard: &Utf8Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(shard)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The rows without their timing field, keyed by (source sha, encoder, cq, frame).
pub fn rows_without_timings(
    shard: &Utf8Path,
) -> BTreeMap<(String, String, u64, u64), serde_json::Value> {
    let mut map = BTreeMap::new();
    for mut row in rows(shard) {
        row.as_object_mut().unwrap().remove("enc_time_ms");
        let key = (
            row["src_sha256"].as_str().unwrap().to_owned(),
            row["encoder"].as_str().unwrap().to_owned(),
            row["cq"].as_u64().unwrap(),
            row["frame_index"].as_u64().unwrap(),
        );
        assert!(
            map.insert(key.clone(), row).is_none(),
            "duplicate row {key:?}"
        );
    }
    map
}

/// Writes an executable shell script.
pub fn script(path: &Utf8Path, body: &str) -> Utf8PathBuf {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_owned()
}

/// The real ffmpeg on PATH.
pub fn real_ffmpeg() -> String {
    let out = std::process::Command::new("sh")
        .args(["-c", "command -v ffmpeg"])
        .output()
        .unwrap();
    let path = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(
        !path.is_empty(),
        "ffmpeg is not on PATH; run scripts/bootstrap.sh"
    );
    path
}

/// Writes `frames` frames of a lavfi pattern as raw 4:2:0 into `dir/name`.
pub fn render_raw(dir: &Utf8Path, name: &str, graph: &str, frames: u32) {
    let status = std::process::Command::new(real_ffmpeg())
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            graph,
            "-frames:v",
            &frames.to_string(),
            "-pix_fmt",
            "yuv420p",
            "-f",
            "rawvideo",
        ])
        .arg(dir.join(name))
        .status()
        .unwrap();
    assert!(status.success());
}
