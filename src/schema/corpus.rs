//! The corpus itself: the reference videos (sources), one scored frame (the kit's row and the
//! reference kit's), and one cell of frames as the cell cache stores it.

use super::document::Document;
#[cfg(doc)]
use super::document::SCHEMA_VERSION;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A frame rate as an exact fraction (`30000/1001`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Fps {
    /// Numerator.
    #[schemars(range(min = 1))]
    pub num: u32,
    /// Denominator.
    #[schemars(range(min = 1))]
    pub den: u32,
}

impl std::fmt::Display for Fps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

/// Width, height and frame rate of a reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Geometry {
    /// Luma width in pixels (even).
    #[schemars(range(min = 2))]
    pub width: u32,
    /// Luma height in pixels (even).
    #[schemars(range(min = 2))]
    pub height: u32,
    /// Frames per second.
    pub fps: Fps,
}

/// How a reference file stores its frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    /// Headerless planar 4:2:0 8-bit (`.yuv`).
    Raw,
    /// YUV4MPEG2 (`.y4m`), 4:2:0 8-bit.
    Y4m,
}

/// One reference video, identified by its content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Source {
    /// Source name used in corpus rows and folds (the file name without extension).
    pub name: String,
    /// File name relative to the reference folder.
    pub file: String,
    /// Raw or Y4M.
    pub format: SourceFormat,
    /// Geometry from the file name, the Y4M header, flags or the defaults.
    pub geometry: Geometry,
    /// Number of whole frames in the file.
    pub frames: u64,
    /// File size in bytes.
    pub bytes: u64,
    /// SHA-256 of the whole file.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub sha256: String,
}

/// One scored frame of one cell: the fields of the reference producer (SPEC §5).
///
/// `enc_bytes` and `enc_time_ms` describe the whole cell's encode (every row of a cell carries
/// the same values).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CorpusRow {
    /// Source name.
    #[schemars(length(min = 1))]
    pub src: String,
    /// SHA-256 of the source file.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub src_sha256: String,
    /// ffmpeg encoder name.
    #[schemars(length(min = 1))]
    pub encoder: String,
    /// Quality knob the cell was encoded at.
    #[schemars(range(max = 255))]
    pub cq: u32,
    /// 0-based frame number within the cell.
    pub frame_index: u64,
    /// Size of the cell's encoded stream in bytes.
    pub enc_bytes: u64,
    /// Wall time of the cell's encode in milliseconds.
    pub enc_time_ms: u64,
    /// VMAF (model vmaf_v0.6.1).
    #[schemars(range(min = 0.0, max = 100.0))]
    pub vmaf: f64,
    /// `integer_adm2`.
    #[schemars(range(min = 0.0, max = 2.0))]
    pub adm2: f64,
    /// `integer_vif_scale0`.
    #[schemars(range(min = 0.0, max = 2.0))]
    pub vif_scale0: f64,
    /// `integer_vif_scale1`.
    #[schemars(range(min = 0.0, max = 2.0))]
    pub vif_scale1: f64,
    /// `integer_vif_scale2`.
    #[schemars(range(min = 0.0, max = 2.0))]
    pub vif_scale2: f64,
    /// `integer_vif_scale3`.
    #[schemars(range(min = 0.0, max = 2.0))]
    pub vif_scale3: f64,
    /// `integer_motion2`: a mean absolute difference of blurred pixels on libvmaf's 8-bit
    /// scale (it rescales higher bit depths), so within [0, 255].
    #[schemars(range(min = 0.0, max = 255.0))]
    pub motion2: f64,
}

impl Document for CorpusRow {
    const SCHEMA: &'static str = "corpus-row";
    const CHECKED_BY_TYPE: bool = true;

    /// The schema's bounds (see the field attributes): names not empty, the SHA-256 as 64
    /// lower-case hex digits, `cq` at most 255, every score within its range (inclusive).
    fn within_schema(&self) -> bool {
        let within = |v: f64, max: f64| (0.0..=max).contains(&v);
        !self.src.is_empty()
            && !self.encoder.is_empty()
            && self.src_sha256.len() == 64
            && self
                .src_sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            && self.cq <= 255
            && within(self.vmaf, 100.0)
            && [
                self.adm2,
                self.vif_scale0,
                self.vif_scale1,
                self.vif_scale2,
                self.vif_scale3,
            ]
            .iter()
            .all(|&v| within(v, 2.0))
            && within(self.motion2, 255.0)
    }
}

impl CorpusRow {
    /// The six model features in SPEC order: adm2, vif_scale0..3, motion2.
    pub fn features(&self) -> [f64; 6] {
        [
            self.adm2,
            self.vif_scale0,
            self.vif_scale1,
            self.vif_scale2,
            self.vif_scale3,
            self.motion2,
        ]
    }
}

/// Everything a cell's result depends on; its hash is the cell's cache key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CellKeyInputs {
    /// Version of the cell cache layout.
    pub cache_format: u32,
    /// SHA-256 of the source.
    pub src_sha256: String,
    /// Encoder name.
    pub encoder: String,
    /// Quality knob.
    pub cq: u32,
    /// Frames scored.
    pub frames: u64,
    /// The encode command line with `{source}` and `{encoded}` for the paths.
    pub encode_argv: Vec<String>,
    /// The decode command line with `{encoded}` for the path.
    pub decode_argv: Vec<String>,
    /// The scoring command line with `{source}` for the path.
    pub score_argv: Vec<String>,
    /// ffmpeg's version.
    pub ffmpeg_version: String,
    /// libvmaf's version.
    pub vmaf_version: String,
    /// SHA-256 of the ffmpeg program: the version text alone can be faked.
    pub ffmpeg_sha256: String,
    /// SHA-256 of the `vmaf` program and the libvmaf (with its built-in model) it loads.
    pub vmaf_sha256: String,
}

/// A finished cell as stored in the cell cache (`<cells>/<key>.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CellRecord {
    /// Always `cell`.
    #[schemars(extend("const" = CellRecord::SCHEMA))]
    pub kind: String,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// SHA-256 of the canonical JSON of `inputs`.
    pub key: String,
    /// What the result depends on.
    pub inputs: CellKeyInputs,
    /// Encoded stream size in bytes.
    pub enc_bytes: u64,
    /// Encode wall time in milliseconds.
    pub enc_time_ms: u64,
    /// Decode-and-score wall time in milliseconds.
    pub score_time_ms: u64,
    /// One row per frame, in frame order.
    pub rows: Vec<CorpusRow>,
}

impl Document for CellRecord {
    const SCHEMA: &'static str = "cell";
}

/// One row as the reference (Python) kit writes it (SPEC §5): the fields of [`CorpusRow`]
/// without `src_sha256`, and a fractional `enc_time_ms`. `import-corpus` reads these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferenceRow {
    /// Source name.
    #[schemars(length(min = 1))]
    pub src: String,
    /// ffmpeg encoder name.
    #[schemars(length(min = 1))]
    pub encoder: String,
    /// Quality knob the cell was encoded at.
    #[schemars(range(max = 255))]
    pub cq: u32,
    /// 0-based frame number within the cell.
    pub frame_index: u64,
    /// Size of the cell's encoded stream in bytes; absent in rows the reference's loader reads
    /// without it (the import records that it was not recorded).
    #[serde(default)]
    pub enc_bytes: Option<u64>,
    /// Wall time of the cell's encode in milliseconds, fractional (rounded on import); may be
    /// absent like `enc_bytes`.
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 1e15))]
    pub enc_time_ms: Option<f64>,
    /// VMAF (model vmaf_v0.6.1).
    #[schemars(range(min = 0.0, max = 100.0))]
    pub vmaf: f64,
    /// `integer_adm2`.
    #[schemars(range(min = 0.0, max = 2.0))]
    pub adm2: f64,
    /// `integer_vif_scale0`.
    #[schemars(range(min = 0.0, max = 2.0))]
    pub vif_scale0: f64,
    /// `integer_vif_scale1`.
    #[schemars(range(min = 0.0, max = 2.0))]
    pub vif_scale1: f64,
    /// `integer_vif_scale2`.
    #[schemars(range(min = 0.0, max = 2.0))]
    pub vif_scale2: f64,
    /// `integer_vif_scale3`.
    #[schemars(range(min = 0.0, max = 2.0))]
    pub vif_scale3: f64,
    /// `integer_motion2`: a mean absolute difference of blurred pixels on libvmaf's 8-bit
    /// scale (it rescales higher bit depths), so within [0, 255].
    #[schemars(range(min = 0.0, max = 255.0))]
    pub motion2: f64,
}

impl Document for ReferenceRow {
    const SCHEMA: &'static str = "reference-row";
}
