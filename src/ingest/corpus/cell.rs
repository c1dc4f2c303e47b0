//! One cell, end to end: encode the source with one encoder at one quality, then decode it and
//! stream the frames straight into `vmaf` through a pipe (no decoded `.yuv` on disk), counting
//! them on the way, and turn libvmaf's per-frame report into corpus rows.

use super::frames::FrameCounter;
use crate::error::{Error, Result};
use crate::host::tools::{ffmpeg, process::Invocation, vmaf, Toolset};
use crate::ingest::sources::frame_bytes;
use crate::schema::{
    CellKeyInputs, CellRecord, CorpusRow, Document, Source, SourceFormat, SCHEMA_VERSION,
};
use camino::{Utf8Path, Utf8PathBuf};
use std::io::{Read, Write};
use std::time::Instant;

/// Version of the cell cache layout; part of every key.
const CACHE_FORMAT: u32 = 3;

/// Size of the chunks relayed from the decoder to the scorer.
const RELAY_CHUNK: usize = 1 << 18;

/// One (source, encoder, cq) combination to encode and score.
#[derive(Debug, Clone)]
pub struct Cell<'a> {
    /// The reference.
    pub source: &'a Source,
    /// Where the reference lives.
    pub source_path: Utf8PathBuf,
    /// ffmpeg encoder name.
    pub encoder: String,
    /// Quality knob.
    pub cq: u32,
    /// Frames to encode and score from the start of the source.
    pub frames: u64,
    /// Where libvmaf scores.
    pub backend: crate::schema::ScoringBackend,
}

impl Cell<'_> {
    /// `src/encoder/cqN`, for progress lines and errors.
    pub fn label(&self) -> String {
        format!("{}/{}/cq{}", self.source.name, self.encoder, self.cq)
    }

    /// The encoder settings of this cell under a per-cell thread share.
    pub fn encode_settings(&self, threads: usize) -> ffmpeg::EncodeSettings<'_> {
        ffmpeg::EncodeSettings {
            encoder: &self.encoder,
            cq: self.cq,
            frames: self.frames,
            threads,
        }
    }

    /// The encode, decode and score command lines with real paths.
    fn invocations(
        &self,
        tools: &Toolset,
        threads: usize,
        encoded: &str,
        source_path: &str,
    ) -> Result<[Invocation; 3]> {
        Ok([
            ffmpeg::encode(
                &tools.ffmpeg.path,
                self.source,
                source_path,
                self.encode_settings(threads),
                encoded,
            )?,
            ffmpeg::decode(&tools.ffmpeg.path, self.source, encoded, self.frames, "-"),
            vmaf::score(
                &tools.vmaf.path,
                self.source,
                source_path,
                "/dev/stdin",
                vmaf::ScoreSettings {
                    frames: self.frames,
                    threads,
                    backend: self.backend,
                },
            ),
        ])
    }

    /// The encode, decode and score command lines with real paths, for `--verbose`.
    pub fn command_lines(
        &self,
        tools: &Toolset,
        threads: usize,
        scratch: &Utf8Path,
        key: &str,
    ) -> Result<Vec<String>> {
        let encoded = scratch.join(format!("{key}.mkv"));
        let [encode, decode, score] =
            self.invocations(tools, threads, encoded.as_str(), self.source_path.as_str())?;
        Ok(vec![
            encode.display(),
            format!("{} | {}", decode.display(), score.display()),
        ])
    }

    /// Everything the cell's result depends on (paths replaced by placeholders), i.e. its key.
    pub fn key_inputs(&self, tools: &Toolset, threads: usize) -> Result<CellKeyInputs> {
        let [encode, decode, score] = self.invocations(tools, threads, "{encoded}", "{source}")?;
        Ok(CellKeyInputs {
            cache_format: CACHE_FORMAT,
            src_sha256: self.source.sha256.clone(),
            encoder: self.encoder.clone(),
            cq: self.cq,
            frames: self.frames,
            encode_argv: encode.args,
            decode_argv: decode.args,
            score_argv: score.args,
            ffmpeg_version: tools.ffmpeg.version.clone(),
            vmaf_version: tools.vmaf.version.clone(),
            ffmpeg_sha256: tools.ffmpeg.sha256.clone(),
            vmaf_sha256: tools.vmaf.sha256.clone(),
        })
    }

    /// Encodes and scores the cell into `scratch`; returns the record and the encoded file,
    /// which the caller keeps (see [`super::cache::CellStore::save`]). A failed cell leaves no
    /// encoded file behind.
    pub fn run(
        &self,
        tools: &Toolset,
        threads: usize,
        key: &str,
        inputs: CellKeyInputs,
        scratch: &Utf8Path,
    ) -> Result<(CellRecord, Utf8PathBuf)> {
        let encoded = scratch.join(format!("{key}.mkv"));
        match self
            .encode_and_score(tools, threads, key, inputs, &encoded)
            .map_err(|e| explain_disk_full(&self.label(), scratch, e))
        {
            Ok(record) => Ok((record, encoded)),
            Err(e) => {
                let _ = std::fs::remove_file(&encoded);
                Err(e)
            }
        }
    }

    fn encode_and_score(
        &self,
        tools: &Toolset,
        threads: usize,
        key: &str,
        inputs: CellKeyInputs,
        encoded: &Utf8Path,
    ) -> Result<CellRecord> {
        let label = self.label();
        let [encode, decode, score] =
            self.invocations(tools, threads, encoded.as_str(), self.source_path.as_str())?;

        let started = Instant::now();
        encode.output(&format!("encoding cell {label}"))?;
        let enc_time_ms = started.elapsed().as_millis() as u64;
        let enc_bytes = std::fs::metadata(encoded)
            .map_err(|e| Error::io(encoded, e))?
            .len();

        let started = Instant::now();
        let scores = stream_and_score(&label, self.source, self.frames, &decode, &score)?;
        let score_time_ms = started.elapsed().as_millis() as u64;

        let rows = scores
            .into_iter()
            .map(|s| CorpusRow {
                src: self.source.name.clone(),
                src_sha256: self.source.sha256.clone(),
                encoder: self.encoder.clone(),
                cq: self.cq,
                frame_index: s.frame_index,
                enc_bytes,
                enc_time_ms,
                vmaf: s.vmaf,
                adm2: s.adm2,
                vif_scale0: s.vif[0],
                vif_scale1: s.vif[1],
                vif_scale2: s.vif[2],
                vif_scale3: s.vif[3],
                motion2: s.motion2,
            })
            .collect();
        Ok(CellRecord {
            kind: CellRecord::SCHEMA.into(),
            schema_version: SCHEMA_VERSION,
            key: key.to_owned(),
            inputs,
            enc_bytes,
            enc_time_ms,
            score_time_ms,
            rows,
        })
    }
}

/// Free space below which a failed cell is blamed on a full disk.
const DISK_NEARLY_FULL: u64 = 4 << 20;

/// A full disk makes a cell fail in misleading ways (ffmpeg exits 0 after a failed write and
/// leaves a truncated encode, which then looks like a decoder or scorer problem). When the
/// scratch folder's disk is (nearly) full, or a tool said so, the error says that instead.
fn explain_disk_full(label: &str, scratch: &Utf8Path, error: Error) -> Error {
    let free = fs4::available_space(scratch).ok();
    let said_so = error.to_string().contains("No space left on device");
    if !said_so && free.is_none_or(|f| f >= DISK_NEARLY_FULL) {
        return error;
    }
    let free = free.map_or("unknown".into(), |f| format!("{f} bytes"));
    Error::Environment(format!(
        "cell {label}: disk full at {scratch} ({free} free); free some space or pass --cell-dir on a larger disk, \
         then re-run (finished cells are kept)"
    ))
}

/// Runs `decode | vmaf` with the kit relaying (and counting) the frames in between, then checks
/// that the decoder, the relay and libvmaf all saw exactly `frames` frames. `verify --audit`
/// re-scores audit cells through this same path.
pub(crate) fn stream_and_score(
    label: &str,
    source: &Source,
    frames: u64,
    decode: &Invocation,
    score: &Invocation,
) -> Result<Vec<vmaf::FrameScores>> {
    let io_err = |e: std::io::Error| {
        Error::Environment(format!(
            "cell {label}: could not set up the scoring pipe: {e}"
        ))
    };
    let (pipe_reader, mut pipe_writer) = os_pipe::pipe().map_err(io_err)?;
    let scorer = score
        .expression()
        .stdin_file(pipe_reader)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .start()
        .map_err(|e| {
            score.failure(
                &format!("scoring cell {label}"),
                format!("could not start: {e}"),
                b"",
            )
        })?;
    let _scorer_running = crate::host::tools::children::register(scorer.pids());
    let mut decoder = decode
        .expression()
        .stdin_null()
        .stderr_capture()
        .unchecked()
        .reader()
        .map_err(|e| {
            decode.failure(
                &format!("decoding cell {label}"),
                format!("could not start: {e}"),
                b"",
            )
        })?;

    let _decoder_running = crate::host::tools::children::register(decoder.pids());
    let mut counter = FrameCounter::new(
        frame_bytes(source.geometry.width, source.geometry.height),
        source.format == SourceFormat::Y4m,
    );
    let mut buf = vec![0u8; RELAY_CHUNK];
    let mut scorer_gone = false;
    loop {
        let n = decoder.read(&mut buf).map_err(|e| {
            Error::Environment(format!("cell {label}: reading the decoder failed: {e}"))
        })?;
        if n == 0 {
            break;
        }
        counter.feed(&buf[..n]);
        if pipe_writer.write_all(&buf[..n]).is_err() {
            scorer_gone = true;
            let _ = decoder.kill();
            break;
        }
    }
    drop(pipe_writer);
    let scored = scorer
        .wait()
        .map_err(|e| score.failure(&format!("scoring cell {label}"), e.to_string(), b""))?;
    if !scored.status.success() || scorer_gone {
        return Err(score.failure(
            &format!("scoring cell {label}"),
            scored.status.to_string(),
            &scored.stderr,
        ));
    }
    if let Ok(Some(decoded)) = decoder.try_wait() {
        if !decoded.status.success() {
            return Err(decode.failure(
                &format!("decoding cell {label}"),
                decoded.status.to_string(),
                &decoded.stderr,
            ));
        }
    }

    let truncated = |what: String| {
        Error::Environment(format!(
            "cell {label}: {what}; the encode is truncated or the encoder dropped frames"
        ))
    };
    let decoded_frames = counter.finish().map_err(truncated)?;
    if decoded_frames != frames {
        return Err(truncated(format!(
            "decoding gave {decoded_frames} frames, expected {frames}"
        )));
    }
    let scores = vmaf::parse_report(&scored.stdout)
        .map_err(|e| Error::Environment(format!("cell {label}: {e}")))?;
    if scores.len() as u64 != frames {
        return Err(truncated(format!(
            "vmaf scored {} frames, expected {frames}",
            scores.len()
        )));
    }
    Ok(scores)
}
