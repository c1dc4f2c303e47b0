//! Re-scoring one audit cell: its bitstream checked (name, size, hash, Matroska, one stream of
//! the encoder's codec), the owner's reference checked by SHA-256, then decoded and scored with
//! the owner's `vmaf` through the corpus stage's own decode | score path.

use crate::host::tools::{ffmpeg, vmaf, Toolset};
use crate::ingest::corpus;
use crate::layout::is_audit_file;
use crate::schema::{AuditCell, CorpusRow, ScoringBackend, Source};
use crate::{budget, digest};
use camino::{Utf8Path, Utf8PathBuf};
use std::collections::BTreeMap;
use std::io::Read;

/// How far a re-scored value may be from the recorded one. libvmaf 2.x prints every metric
/// with six decimals, which the rows keep exactly, and the same libvmaf on the same decoded
/// frames computes the same integer features; only VMAF's SVM (libm `exp`) could round the
/// last printed digit the other way on another CPU. So: one unit in the sixth decimal (plus
/// float noise), and nothing more.
pub const TOLERANCE: f64 = 1.000_001e-6;

/// A bitstream smaller than this cannot be a Matroska file with one encoded frame.
const BITSTREAM_MIN: u64 = 64;

/// The EBML magic every Matroska file starts with.
const MATROSKA_MAGIC: [u8; 4] = [0x1A, 0x45, 0xDF, 0xA3];

/// A cell as messages name it: `src/encoder/cqN`.
pub(super) fn label_of(cell: &AuditCell) -> String {
    format!("{}/{}/cq{}", cell.src, cell.encoder, cell.cq)
}

/// One audit cell to re-score, with what its shard says about it.
pub(super) struct Target {
    /// The cell as the shard's metadata lists it.
    pub cell: AuditCell,
    /// The shard's `.audit/` folder.
    pub dir: Utf8PathBuf,
    /// The shard's sources.
    pub sources: Vec<Source>,
    /// The libvmaf version that scored the shard.
    pub vmaf_version: String,
    /// Where it was scored.
    pub backend: ScoringBackend,
}

/// Re-scores audit cells against the owner's references with the owner's tools.
pub(super) struct Rescorer<'a> {
    ref_dir: &'a Utf8Path,
    tools: &'a Toolset,
    /// SHA-256 of each reference file read so far.
    reference_sha: BTreeMap<Utf8PathBuf, String>,
}

impl<'a> Rescorer<'a> {
    /// A re-scorer over the references in `ref_dir`.
    pub(super) fn new(ref_dir: &'a Utf8Path, tools: &'a Toolset) -> Self {
        Rescorer {
            ref_dir,
            tools,
            reference_sha: BTreeMap::new(),
        }
    }

    /// Checks one audit cell's bitstream and re-scores it; the frames that matched, or why not.
    pub(super) fn rescore(
        &mut self,
        shard: &Utf8Path,
        target: &Target,
        rows: Option<&Vec<CorpusRow>>,
    ) -> std::result::Result<u64, String> {
        let cell = &target.cell;
        let shard_name = shard.file_name().unwrap_or_default();
        if cell.file != format!("{}.mkv", cell.key) || !is_audit_file(&cell.file) {
            return Err(format!("its file name `{}` is not `<key>.mkv`", cell.file));
        }
        let Some(rows) = rows else {
            return Err(format!("not named in the rows of {shard_name}"));
        };
        let path = target.dir.join(&cell.file);
        let size = std::fs::metadata(&path)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .ok_or_else(|| {
                format!(
                    "missing: {} (listed in the metadata, not in the bundle)",
                    cell.file
                )
            })?;
        let sha = digest::sha256_file(&path).map_err(|e| e.to_string())?;
        if size != cell.bytes || sha != cell.sha256 {
            return Err(format!(
                "{} is {size} bytes with sha256 {sha}; the metadata says {} bytes, {}",
                cell.file, cell.bytes, cell.sha256
            ));
        }
        if let Some(row) = rows.iter().find(|r| r.enc_bytes != size) {
            return Err(format!(
                "the bitstream is {size} bytes but frame {} says enc_bytes {}",
                row.frame_index, row.enc_bytes
            ));
        }
        let source = target
            .sources
            .iter()
            .find(|s| s.name == cell.src && s.sha256 == cell.src_sha256)
            .ok_or("its source is not among the shard's sources with that sha256")?;
        let reference = self.reference(source)?;
        if target.vmaf_version != self.tools.vmaf.version {
            return Err(format!(
                "scored with libvmaf {}, but this box's vmaf is {}; re-scores are comparable only with the same libvmaf (pass --vmaf, or build {} with scripts/bootstrap.sh)",
                target.vmaf_version,
                self.tools.vmaf.version,
                target.vmaf_version
            ));
        }
        self.probe(&path, size, &cell.encoder)?;
        let frames = rows.len() as u64;
        if let Some((i, row)) = rows
            .iter()
            .enumerate()
            .find(|(i, r)| r.frame_index != *i as u64)
        {
            return Err(format!(
                "its rows number frame #{i} as {}; they must be frames 0..{} once each",
                row.frame_index,
                frames - 1
            ));
        }
        let label = label_of(cell);
        let decode = ffmpeg::decode(&self.tools.ffmpeg.path, source, path.as_str(), frames, "-");
        let score = vmaf::score(
            &self.tools.vmaf.path,
            source,
            reference.as_str(),
            "/dev/stdin",
            vmaf::ScoreSettings {
                frames,
                threads: budget::cores(),
                backend: ScoringBackend::Cpu,
            },
        );
        let scores = corpus::cell::stream_and_score(&label, source, frames, &decode, &score)
            .map_err(|e| format!("re-scoring failed: {e}"))?;
        let on_gpu = if target.backend == ScoringBackend::Cuda {
            " (the collaborator scored on CUDA)"
        } else {
            ""
        };
        for (row, s) in rows.iter().zip(&scores) {
            let pairs = [
                ("vmaf", row.vmaf, s.vmaf),
                ("adm2", row.adm2, s.adm2),
                ("vif_scale0", row.vif_scale0, s.vif[0]),
                ("vif_scale1", row.vif_scale1, s.vif[1]),
                ("vif_scale2", row.vif_scale2, s.vif[2]),
                ("vif_scale3", row.vif_scale3, s.vif[3]),
                ("motion2", row.motion2, s.motion2),
            ];
            if let Some((name, recorded, rescored)) = pairs
                .into_iter()
                .find(|(_, a, b)| (a - b).abs() > TOLERANCE)
            {
                return Err(format!(
                    "frame {}: {name} recorded {recorded}, re-scored {rescored} (tolerance {TOLERANCE:.0e}){on_gpu}",
                    row.frame_index
                ));
            }
        }
        Ok(frames)
    }

    /// The owner's copy of a reference, which must have the SHA-256 the rows were scored with.
    fn reference(&mut self, source: &Source) -> std::result::Result<Utf8PathBuf, String> {
        let plain = Utf8Path::new(&source.file);
        if plain.components().count() != 1
            || plain.file_name() != Some(source.file.as_str())
            || source.file.starts_with('.')
        {
            return Err(format!(
                "its reference file name `{}` is not a plain file name",
                source.file
            ));
        }
        let path = self.ref_dir.join(plain);
        if !path.is_file() {
            return Err(format!(
                "the reference {path} is missing; --ref-dir must hold `{}`",
                source.file
            ));
        }
        let sha = match self.reference_sha.get(&path) {
            Some(sha) => sha.clone(),
            None => {
                let sha = digest::sha256_file(&path).map_err(|e| e.to_string())?;
                self.reference_sha.insert(path.clone(), sha.clone());
                sha
            }
        };
        if sha != source.sha256 {
            return Err(format!(
                "the reference {path} has sha256 {sha}, but the cell was scored against {}; these are not the references the collaborator used",
                source.sha256
            ));
        }
        Ok(path)
    }

    /// Refuses anything but a Matroska file with exactly one stream, a video of the encoder's
    /// codec, before it is decoded.
    fn probe(&self, path: &Utf8Path, size: u64, encoder: &str) -> std::result::Result<(), String> {
        let mut magic = [0u8; 4];
        let read = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic));
        if size < BITSTREAM_MIN || read.is_err() || magic != MATROSKA_MAGIC {
            return Err(format!(
                "{} is not a Matroska file (the kit encodes every cell to Matroska); refused unread",
                path.file_name().unwrap_or_default()
            ));
        }
        let codec = ffmpeg::codec_of(encoder).map_err(|e| e.to_string())?;
        let out = ffmpeg::probe(&self.tools.ffmpeg.path, path.as_str())
            .capture("probing an audit bitstream")
            .map_err(|e| e.to_string())?;
        let streams = ffmpeg::probed_streams(&String::from_utf8_lossy(&out.stderr));
        match streams.as_slice() {
            [one] if one.starts_with(&format!("Video: {codec}")) => Ok(()),
            _ => Err(format!(
                "{} must hold exactly one {codec} video stream (what {encoder} writes), but ffmpeg finds [{}]; refused",
                path.file_name().unwrap_or_default(),
                streams.join("; ")
            )),
        }
    }
}
