//! What the kit ships: the results bundle's manifest, a corpus-transport archive's manifest and
//! the distribution tarball's manifest.

use super::document::Document;
#[cfg(doc)]
use super::document::SCHEMA_VERSION;
use super::verdict::Verdict;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One file listed in a bundle manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ManifestFile {
    /// Path relative to the results folder, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub sha256: String,
}

/// `manifest.json` of a results bundle (SPEC §9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Manifest {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `PROMOTE` or `HOLD`.
    #[schemars(with = "String", regex(pattern = "^(PROMOTE|HOLD)$"))]
    pub verdict: Verdict,
    /// When the bundle was made (UTC; `SOURCE_DATE_EPOCH` when set).
    pub generated_at_utc: String,
    /// Every bundled file but the manifest, sorted by path.
    pub files: Vec<ManifestFile>,
    /// `files.len()`.
    pub n_files: u64,
}

impl Document for Manifest {
    const SCHEMA: &'static str = "manifest";
}

/// One reference in a corpus-transport archive (SPEC §9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TransportRow {
    /// Source name.
    pub corpus: String,
    /// The raw file's name, restored by `extract-corpus`.
    pub yuv: String,
    /// The lossless FFV1 Matroska file's name inside the archive.
    pub mkv: String,
    /// Always `yuv420p`.
    pub pix_fmt: String,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Frame rate (`25`, `30000/1001`).
    pub fps: String,
    /// Raw size in bytes.
    pub in_bytes: u64,
    /// Matroska size in bytes.
    pub out_bytes: u64,
    /// SHA-256 of the raw file.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub yuv_sha256: String,
}

/// `transport-manifest.json` inside a corpus-transport archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TransportManifest {
    /// Always `corpus-transport`.
    #[schemars(extend("const" = TransportManifest::SCHEMA))]
    pub kind: String,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// One row per reference, sorted by name.
    pub rows: Vec<TransportRow>,
}

impl Document for TransportManifest {
    const SCHEMA: &'static str = "corpus-transport";
}

/// `MANIFEST.json` of a distribution tarball.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DistributionManifest {
    /// Always `distribution`.
    #[schemars(extend("const" = DistributionManifest::SCHEMA))]
    pub kind: String,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// ensemble-kit version.
    pub version: String,
    /// OS and architecture of the binary.
    pub target: String,
    /// Every other file of the tarball, relative to its top folder, sorted.
    pub files: Vec<ManifestFile>,
    /// `files.len()`.
    pub n_files: u64,
}

impl Document for DistributionManifest {
    const SCHEMA: &'static str = "distribution";
}
