//! Every ffmpeg command line the kit runs: encoding a cell with the SPEC §3 arguments of its
//! encoder family, decoding it back to raw frames, trial encodes, and the demo generator.

use super::process::Invocation;
use crate::error::{Error, Result};
use crate::schema::{Source, SourceFormat};
use camino::Utf8Path;
use std::collections::BTreeSet;

/// The encoder families of SPEC §3; each has its own quality knob and device arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// NVIDIA NVENC (`*_nvenc`).
    Nvenc,
    /// Intel Quick Sync (`*_qsv`).
    Qsv,
    /// VA-API (`*_vaapi`).
    Vaapi,
    /// Apple VideoToolbox (`*_videotoolbox`).
    VideoToolbox,
    /// CPU encoders (`libx264`, `libx265`, …).
    Software,
}

/// Every encoder the kit knows how to drive, with its family and highest accepted `cq`.
pub const KNOWN_ENCODERS: &[(&str, Family, u32)] = &[
    ("libx264", Family::Software, 51),
    ("libx265", Family::Software, 51),
    ("libsvtav1", Family::Software, 63),
    ("libaom-av1", Family::Software, 63),
    ("libvpx-vp9", Family::Software, 63),
    ("libvvenc", Family::Software, 63),
    ("h264_nvenc", Family::Nvenc, 51),
    ("hevc_nvenc", Family::Nvenc, 51),
    ("av1_nvenc", Family::Nvenc, 63),
    ("h264_qsv", Family::Qsv, 51),
    ("hevc_qsv", Family::Qsv, 51),
    ("av1_qsv", Family::Qsv, 51),
    ("h264_vaapi", Family::Vaapi, 51),
    ("hevc_vaapi", Family::Vaapi, 51),
    ("av1_vaapi", Family::Vaapi, 255),
    ("h264_videotoolbox", Family::VideoToolbox, 63),
    ("hevc_videotoolbox", Family::VideoToolbox, 63),
];

/// The VA-API render node used when an operator asks for a `*_vaapi` encoder.
pub const VAAPI_DEVICE: &str = "/dev/dri/renderD128";

/// The arguments one encoder needs: some before `-i` (hardware devices), some after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncoderArgs {
    /// Arguments placed before the input (device initialisation).
    pub before_input: Vec<String>,
    /// Arguments placed after the input (codec, quality knob, preset, filters).
    pub after_input: Vec<String>,
}

/// Looks up a known encoder's family; unknown names are an input error listing the known ones.
pub fn family(encoder: &str) -> Result<Family> {
    lookup(encoder).map(|(_, family, _)| family)
}

/// Checks that `cq` is within the encoder's quality range.
pub fn check_cq(encoder: &str, cq: u32) -> Result<()> {
    let (_, _, max) = lookup(encoder)?;
    if cq > max {
        return Err(Error::Input(format!(
            "cq {cq} is out of range for {encoder} (0..={max}); choose values in that range with --cqs"
        )));
    }
    Ok(())
}

fn lookup(encoder: &str) -> Result<(&'static str, Family, u32)> {
    KNOWN_ENCODERS
        .iter()
        .copied()
        .find(|(name, _, _)| *name == encoder)
        .ok_or_else(|| {
            let known: Vec<&str> = KNOWN_ENCODERS.iter().map(|(n, _, _)| *n).collect();
            Error::Input(format!(
                "unknown encoder `{encoder}`; known encoders: {}",
                known.join(", ")
            ))
        })
}

/// VideoToolbox's `-q:v` for a given `cq`: `clamp(100 - 2*cq, 1, 100)` (SPEC §3).
pub fn videotoolbox_quality(cq: u32) -> u32 {
    (100 - 2 * i64::from(cq)).clamp(1, 100) as u32
}

/// The SPEC §3 arguments for `encoder` at quality `cq`.
pub fn encoder_args(encoder: &str, cq: u32) -> Result<EncoderArgs> {
    let words = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    let (before, after) = match family(encoder)? {
        Family::Nvenc => (
            String::new(),
            format!("-c:v {encoder} -rc vbr -cq {cq} -b:v 0 -preset p4"),
        ),
        Family::Qsv => (
            "-init_hw_device qsv=hw".to_owned(),
            format!("-c:v {encoder} -global_quality {cq} -preset medium"),
        ),
        Family::Vaapi => (
            format!("-vaapi_device {VAAPI_DEVICE}"),
            format!("-vf format=nv12,hwupload -c:v {encoder} -qp {cq}"),
        ),
        Family::VideoToolbox => (
            String::new(),
            format!(
                "-c:v {encoder} -q:v {} -realtime 0",
                videotoolbox_quality(cq)
            ),
        ),
        Family::Software => (String::new(), software_args(encoder, cq)),
    };
    Ok(EncoderArgs {
        before_input: words(&before),
        after_input: words(&after),
    })
}

/// Each CPU encoder's own rate-control and preset vocabulary.
fn software_args(encoder: &str, cq: u32) -> String {
    match encoder {
        "libsvtav1" => format!("-c:v {encoder} -crf {cq} -preset 8"),
        "libaom-av1" => format!("-c:v {encoder} -crf {cq} -b:v 0 -cpu-used 6"),
        "libvpx-vp9" => format!("-c:v {encoder} -crf {cq} -b:v 0 -deadline good -cpu-used 2"),
        "libvvenc" => format!("-c:v {encoder} -qp {cq} -preset medium"),
        _ => format!("-c:v {encoder} -crf {cq} -preset medium"),
    }
}

fn base_args() -> Vec<String> {
    ["-hide_banner", "-nostdin", "-loglevel", "error"]
        .map(str::to_owned)
        .to_vec()
}

/// How ffmpeg must read a reference: raw planar frames need their geometry spelled out.
fn source_input_args(source: &Source, path: &str) -> Vec<String> {
    let mut args = Vec::new();
    if source.format == SourceFormat::Raw {
        let g = &source.geometry;
        args.extend([
            "-f".into(),
            "rawvideo".into(),
            "-pix_fmt".into(),
            "yuv420p".into(),
            "-video_size".into(),
            format!("{}x{}", g.width, g.height),
            "-framerate".into(),
            g.fps.to_string(),
        ]);
    }
    args.extend(["-i".into(), path.into()]);
    args
}

/// What to encode: which encoder, at which quality, how many frames, with how many threads.
#[derive(Debug, Clone, Copy)]
pub struct EncodeSettings<'a> {
    /// ffmpeg encoder name.
    pub encoder: &'a str,
    /// Quality knob.
    pub cq: u32,
    /// Frames from the start of the source.
    pub frames: u64,
    /// Threads a software encoder may use (the cell's share of the thread budget).
    pub threads: usize,
}

/// Encodes the first frames of `source` (read from `source_path`) into a Matroska file `out`.
pub fn encode(
    ffmpeg: &Utf8Path,
    source: &Source,
    source_path: &str,
    settings: EncodeSettings,
    out: &str,
) -> Result<Invocation> {
    let EncodeSettings {
        encoder,
        cq,
        frames,
        threads,
    } = settings;
    let enc = encoder_args(encoder, cq)?;
    let mut args = base_args();
    args.push("-y".into());
    args.extend(enc.before_input);
    args.extend(source_input_args(source, source_path));
    args.extend(["-map".into(), "0:v:0".into(), "-an".into()]);
    args.extend(["-frames:v".into(), frames.to_string()]);
    args.extend(enc.after_input);
    if family(encoder)? == Family::Software {
        args.extend(["-threads".into(), threads.to_string()]);
    }
    args.extend([
        "-fflags".into(),
        "+bitexact".into(),
        "-f".into(),
        "matroska".into(),
        out.into(),
    ]);
    Ok(Invocation::new(ffmpeg, args))
}

/// Decodes an encoded cell back to 8-bit 4:2:0 at the source's geometry, `frames` frames, as
/// raw planes (or YUV4MPEG2 when the reference is `.y4m`), written to `out` (`-` for stdout).
/// The Matroska demuxer is forced and only plain files may be opened: an audit cell comes from
/// someone else's bundle, and a playlist posing as it must not make ffmpeg read other files.
pub fn decode(
    ffmpeg: &Utf8Path,
    source: &Source,
    encoded: &str,
    frames: u64,
    out: &str,
) -> Invocation {
    let g = &source.geometry;
    let muxer = match source.format {
        SourceFormat::Raw => "rawvideo",
        SourceFormat::Y4m => "yuv4mpegpipe",
    };
    let mut args = base_args();
    args.push("-y".into());
    args.extend(forced_matroska(encoded));
    args.extend(["-map".into(), "0:v:0".into()]);
    args.extend(["-frames:v".into(), frames.to_string()]);
    args.extend([
        "-vf".into(),
        format!("scale={}:{}:flags=bicubic", g.width, g.height),
        "-pix_fmt".into(),
        "yuv420p".into(),
        "-f".into(),
        muxer.into(),
        out.into(),
    ]);
    Invocation::new(ffmpeg, args)
}

/// `-f matroska -protocol_whitelist file -i INPUT`: how the kit opens a Matroska file that may
/// be hostile.
fn forced_matroska(input: &str) -> Vec<String> {
    let mut args: Vec<String> = ["-f", "matroska", "-protocol_whitelist", "file", "-i"]
        .map(str::to_owned)
        .to_vec();
    args.push(input.into());
    args
}

/// Lists the streams of a Matroska file (opened as [`decode`] opens it) without decoding:
/// ffmpeg prints them on stderr and exits non-zero for want of an output, so the caller reads
/// stderr whatever the status.
pub fn probe(ffmpeg: &Utf8Path, input: &str) -> Invocation {
    let mut args: Vec<String> = ["-hide_banner", "-nostdin", "-loglevel", "info"]
        .map(str::to_owned)
        .to_vec();
    args.extend(forced_matroska(input));
    Invocation::new(ffmpeg, args)
}

/// The codec ffmpeg names in a probe for what `encoder` writes (`h264`, `hevc`, `av1`, `vp9`,
/// `vvc`).
pub fn codec_of(encoder: &str) -> Result<&'static str> {
    family(encoder)?;
    Ok(match encoder {
        "libx264" => "h264",
        "libx265" => "hevc",
        "libsvtav1" | "libaom-av1" => "av1",
        "libvpx-vp9" => "vp9",
        "libvvenc" => "vvc",
        hw if hw.starts_with("h264_") => "h264",
        hw if hw.starts_with("hevc_") => "hevc",
        _ => "av1",
    })
}

/// The streams of a probe's stderr (`Stream #0:0: Video: h264 (High) …` → `Video: h264 …`).
pub fn probed_streams(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("Stream #"))
        .map(|l| {
            l.split_once(": ")
                .map_or(l, |(_, rest)| rest)
                .trim()
                .to_owned()
        })
        .collect()
}

/// Losslessly compresses a raw reference into FFV1 Matroska (for shipping references).
pub fn ffv1_pack(ffmpeg: &Utf8Path, source: &Source, source_path: &str, out: &str) -> Invocation {
    let mut args = base_args();
    args.push("-y".into());
    args.extend(source_input_args(source, source_path));
    args.extend(
        [
            "-map",
            "0:v:0",
            "-c:v",
            "ffv1",
            "-level",
            "3",
            "-g",
            "1",
            "-slicecrc",
            "1",
            "-fflags",
            "+bitexact",
            "-f",
            "matroska",
        ]
        .map(str::to_owned),
    );
    args.push(out.into());
    Invocation::new(ffmpeg, args)
}

/// Decodes a Matroska file — the FFV1 `.mkv` that [`ffv1_pack`] writes — to raw 8-bit 4:2:0
/// planes at its own size, to `out` (`-` for stdout). The input may come from an untrusted
/// archive, so the demuxer is forced and only plain files may be opened: an HLS playlist or
/// concat list posing as the `.mkv` cannot make ffmpeg read other files.
pub fn raw_decode(ffmpeg: &Utf8Path, input: &str, out: &str) -> Invocation {
    let mut args = base_args();
    args.push("-y".into());
    args.extend(forced_matroska(input));
    args.extend(["-pix_fmt", "yuv420p", "-f", "rawvideo"].map(str::to_owned));
    args.push(out.into());
    Invocation::new(ffmpeg, args)
}

/// A one-frame encode of a synthetic picture with `encoder`, to prove it really works here.
pub fn trial_encode(ffmpeg: &Utf8Path, encoder: &str) -> Result<Invocation> {
    let enc = encoder_args(encoder, 30)?;
    let mut args = base_args();
    args.extend(enc.before_input);
    args.extend(["-f", "lavfi", "-i", "testsrc2=s=256x144:r=25"].map(str::to_owned));
    args.extend([
        "-frames:v".into(),
        "1".into(),
        "-pix_fmt".into(),
        "yuv420p".into(),
    ]);
    args.extend(enc.after_input);
    args.extend(["-f", "null", "-"].map(str::to_owned));
    Ok(Invocation::new(ffmpeg, args))
}

/// Renders a lavfi filter graph to `frames` raw 4:2:0 frames at `out` (used for `--demo`).
pub fn render_lavfi(ffmpeg: &Utf8Path, graph: &str, frames: u64, out: &Utf8Path) -> Invocation {
    let mut args = base_args();
    args.push("-y".into());
    args.extend(["-f".into(), "lavfi".into(), "-i".into(), graph.into()]);
    args.extend(["-frames:v".into(), frames.to_string()]);
    args.extend(["-pix_fmt", "yuv420p", "-f", "rawvideo"].map(str::to_owned));
    args.push(out.to_string());
    Invocation::new(ffmpeg, args)
}

/// Proves `encoder` usable with this ffmpeg: it must be listed in `ffmpeg -encoders` and a
/// one-frame trial encode must succeed. The error says which test failed and how to fix it.
pub fn check_usable(ffmpeg: &Utf8Path, encoder: &str, listed: &BTreeSet<String>) -> Result<()> {
    let family = family(encoder)?;
    if !listed.contains(encoder) {
        return Err(Error::Environment(format!(
            "ffmpeg `{ffmpeg}` does not offer the encoder `{encoder}` (it is not in `ffmpeg -encoders`)\nfix: {}",
            missing_encoder_fix(family)
        )));
    }
    trial_encode(ffmpeg, encoder)?
        .output(&format!("a one-frame trial encode with {encoder}"))
        .map_err(|e| Error::Environment(format!("{e}\nfix: {}", missing_encoder_fix(family))))?;
    Ok(())
}

/// The one-line fix for an encoder family that ffmpeg cannot use.
pub fn missing_encoder_fix(family: Family) -> &'static str {
    match family {
        Family::Nvenc => "needs an NVIDIA GPU with its driver (nvidia-smi must work) and an ffmpeg built with NVENC (Debian's and Homebrew's are)",
        Family::Qsv => "needs an Intel GPU with the iHD driver (vainfo must list it) and an ffmpeg built with oneVPL/libmfx",
        Family::Vaapi => "needs a VA-API driver (vainfo must work) and read access to /dev/dri/renderD128",
        Family::VideoToolbox => "needs macOS and an ffmpeg built with VideoToolbox (Homebrew's `brew install ffmpeg` is)",
        Family::Software => "install an ffmpeg built with that library (Debian/Ubuntu: `apt-get install ffmpeg`; macOS: `brew install ffmpeg`) or pick another with --encoders",
    }
}

/// ffmpeg's version string (`5.1.6-0+deb12u1`, `7.1`, `N-1234-gabc`).
pub fn version(ffmpeg: &Utf8Path) -> Result<String> {
    let out = Invocation::new(ffmpeg, vec!["-hide_banner".into(), "-version".into()])
        .output("reading the ffmpeg version")?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)
        .map(str::to_owned)
        .ok_or_else(|| Error::Environment(format!("`{ffmpeg} -version` printed no version line")))
}

/// The video encoders this ffmpeg build lists in `ffmpeg -encoders`.
pub fn list_encoders(ffmpeg: &Utf8Path) -> Result<BTreeSet<String>> {
    let out = Invocation::new(ffmpeg, vec!["-hide_banner".into(), "-encoders".into()])
        .output("listing ffmpeg's encoders")?;
    Ok(parse_encoder_list(&String::from_utf8_lossy(&out.stdout)))
}

/// Parses the table printed by `ffmpeg -encoders` (a legend, a ` ------` rule, then rows).
pub fn parse_encoder_list(text: &str) -> BTreeSet<String> {
    text.lines()
        .skip_while(|l| !l.trim_start().starts_with("---"))
        .skip(1)
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let flags = words.next()?;
            let name = words.next()?;
            flags.starts_with('V').then(|| name.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn videotoolbox_quality_is_clamped() {
        assert_eq!(videotoolbox_quality(0), 100);
        assert_eq!(videotoolbox_quality(25), 50);
        assert_eq!(videotoolbox_quality(49), 2);
        assert_eq!(videotoolbox_quality(50), 1);
        assert_eq!(videotoolbox_quality(63), 1);
    }

    #[test]
    fn unknown_encoder_lists_the_known_ones() {
        let err = family("mpeg4").unwrap_err().to_string();
        assert!(
            err.contains("unknown encoder `mpeg4`") && err.contains("libx264"),
            "{err}"
        );
    }

    #[test]
    fn cq_range_is_per_encoder() {
        assert!(check_cq("libx264", 51).is_ok());
        assert!(check_cq("libx264", 52).is_err());
        assert!(check_cq("libsvtav1", 63).is_ok());
    }

    #[test]
    fn every_known_encoder_has_its_codec() {
        let expected = [
            ("libx264", "h264"),
            ("libx265", "hevc"),
            ("libsvtav1", "av1"),
            ("libaom-av1", "av1"),
            ("libvpx-vp9", "vp9"),
            ("libvvenc", "vvc"),
            ("h264_nvenc", "h264"),
            ("hevc_nvenc", "hevc"),
            ("av1_nvenc", "av1"),
            ("h264_qsv", "h264"),
            ("hevc_qsv", "hevc"),
            ("av1_qsv", "av1"),
            ("h264_vaapi", "h264"),
            ("hevc_vaapi", "hevc"),
            ("av1_vaapi", "av1"),
            ("h264_videotoolbox", "h264"),
            ("hevc_videotoolbox", "hevc"),
        ];
        assert_eq!(expected.len(), KNOWN_ENCODERS.len());
        for (encoder, codec) in expected {
            assert_eq!(codec_of(encoder).unwrap(), codec, "{encoder}");
        }
        assert!(codec_of("mpeg4").is_err());
    }

    #[test]
    fn probe_streams_are_listed() {
        let stderr = "Input #0, matroska,webm, from 'a.mkv':\n  Duration: 00:00:01.00\n  Stream #0:0: Video: h264 (High), yuv420p, 320x180, 25 fps\n  Stream #0:1(eng): Audio: aac\nAt least one output file must be specified\n";
        assert_eq!(
            probed_streams(stderr),
            ["Video: h264 (High), yuv420p, 320x180, 25 fps", "Audio: aac"]
        );
    }

    #[test]
    fn encoder_list_parsing() {
        let text = "Encoders:\n V..... = Video\n ------\n V....D libx264  H.264\n A....D aac  AAC\n V....D h264_nvenc  NVIDIA\n";
        let set = parse_encoder_list(text);
        assert_eq!(
            set.into_iter().collect::<Vec<_>>(),
            ["h264_nvenc", "libx264"]
        );
    }
}
