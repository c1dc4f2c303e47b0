//! The machine the kit runs on and what it found there: the platform, the external tools (as
//! every shard records them), `doctor`'s checks, and the `vmaf` that `build-libvmaf` built.

use super::document::Document;
#[cfg(doc)]
use super::document::SCHEMA_VERSION;
use camino::Utf8PathBuf;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What `platform --json` prints and every shard records (SPEC §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Platform {
    /// Always `platform`.
    #[schemars(extend("const" = Platform::SCHEMA))]
    pub kind: String,
    /// `linux-x86_64-cuda`, `linux-x86_64-sycl`, `linux-x86_64-vulkan`, `darwin-arm64-cpu`, …
    pub tag: String,
    /// `uname -s` (`Linux`, `Darwin`).
    pub os: String,
    /// `uname -m` (`x86_64`, `arm64`, `aarch64`).
    pub arch: String,
    /// `nvidia-smi` succeeded.
    pub has_nvidia: bool,
    /// `vainfo` reports Intel's iHD driver.
    pub has_intel_ihd: bool,
    /// VideoToolbox is available (macOS).
    pub has_videotoolbox: bool,
    /// Encoders used when `--encoders` is not given.
    pub default_encoders: Vec<String>,
    /// The `KIT_FAKE_*` variables that shaped this answer.
    pub faked: Vec<String>,
}

impl Document for Platform {
    const SCHEMA: &'static str = "platform";
}

/// Where a tool was found, so `doctor` can say which rule picked it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FoundBy {
    /// `--ffmpeg` / `--vmaf`.
    Flag,
    /// `ENSEMBLE_KIT_FFMPEG` / `ENSEMBLE_KIT_VMAF`.
    Environment,
    /// The bootstrap cache folder.
    BootstrapCache,
    /// The `PATH` search.
    Path,
}

impl std::fmt::Display for FoundBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FoundBy::Flag => "flag",
            FoundBy::Environment => "environment",
            FoundBy::BootstrapCache => "bootstrap cache",
            FoundBy::Path => "PATH",
        })
    }
}

/// A located tool with its version string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Tool {
    /// The program to run.
    #[schemars(with = "String")]
    pub path: Utf8PathBuf,
    /// The version the program reports.
    pub version: String,
    /// SHA-256 of the program's content (see [`content_sha256`]): what identifies the tool in
    /// cell keys and provenance, since a version string can be printed by anything.
    pub sha256: String,
    /// Which lookup rule found it.
    pub found_by: FoundBy,
}

/// Outcome of one `doctor` check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Works.
    Pass,
    /// Works, but worth a look.
    Warn,
    /// Blocks a run.
    Fail,
}

/// One line of `doctor`'s table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Check {
    /// What was checked.
    pub item: String,
    /// Outcome.
    pub status: CheckStatus,
    /// What was found.
    pub detail: String,
    /// How to fix a failure or warning (empty when passing).
    pub fix: String,
}

/// What `doctor --json` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DoctorReport {
    /// Always `doctor`.
    #[schemars(extend("const" = DoctorReport::SCHEMA))]
    pub kind: String,
    /// Platform tag.
    pub platform: String,
    /// True when no check failed.
    pub ok: bool,
    /// Every check, in order.
    pub checks: Vec<Check>,
}

impl Document for DoctorReport {
    const SCHEMA: &'static str = "doctor";
}

/// `BUILD.json` written by `build-libvmaf`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LibvmafBuild {
    /// Always `libvmaf-build`.
    #[schemars(extend("const" = LibvmafBuild::SCHEMA))]
    pub kind: String,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The platform tag it was built for.
    pub platform: String,
    /// The source folder, or the pinned crate.
    pub source: String,
    /// Where meson ran, relative to the source.
    pub meson_root: String,
    /// The meson options used.
    pub meson_options: Vec<String>,
    /// What the built `vmaf --version` reports.
    pub libvmaf_version: String,
    /// The binary's file name (beside BUILD.json).
    pub binary: String,
    /// SHA-256 of the binary.
    pub binary_sha256: String,
    /// When (UTC; `SOURCE_DATE_EPOCH` when set).
    pub built_at_utc: String,
    /// The libvmaf version the kit pins.
    pub pinned: String,
}

impl Document for LibvmafBuild {
    const SCHEMA: &'static str = "libvmaf-build";
}
