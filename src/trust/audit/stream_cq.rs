//! The CQ an encoder wrote into its own bitstream. libx264 and libx265 put their settings into
//! the stream as text (an SEI message: `x264 - core … options: … rc=crf … crf=19.0 …`), so an
//! audit cell's CQ is read from the first bytes of its Matroska file and must equal the rows'
//! `cq`. Hardware encoders (NVENC, Quick Sync, VAAPI, VideoToolbox) and the other software
//! encoders write no such text: their CQ stays as claimed, and the audit says so.

use camino::Utf8Path;
use std::io::Read;

/// How far into a bitstream the settings are looked for: the kit's encodes carry them in the
/// first frame (x264) or the codec header (x265), a few hundred bytes in.
pub(super) const SCAN_BYTES: u64 = 1 << 20;

/// What a bitstream says about its CQ.
#[derive(Debug, PartialEq)]
pub(super) enum StreamCq {
    /// The encoder wrote its settings and their `crf=` equals the rows' cq (the text found).
    Read(String),
    /// The encoder writes no settings into the stream: the CQ is taken as claimed.
    NotRecorded,
}

/// How the settings text of `encoder` begins, for the encoders that write one.
fn settings_prefix(encoder: &str) -> Option<&'static str> {
    match encoder {
        "libx264" | "libx264rgb" => Some("x264 - core "),
        "libx265" => Some("x265 (build "),
        _ => None,
    }
}

/// Reads the CQ from the bitstream at `path` and compares it with `cq`, the rows' claim; an
/// encoder that writes its settings but whose stream carries none, or another CRF, is refused.
pub(super) fn check(path: &Utf8Path, encoder: &str, cq: u32) -> Result<StreamCq, String> {
    let Some(prefix) = settings_prefix(encoder) else {
        return Ok(StreamCq::NotRecorded);
    };
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(SCAN_BYTES).read_to_end(&mut head))
        .map_err(|e| format!("cannot read {path}: {e}"))?;
    compare(&head, prefix, encoder, cq)
}

/// [`check`] on the bytes read.
fn compare(head: &[u8], prefix: &str, encoder: &str, cq: u32) -> Result<StreamCq, String> {
    let Some(text) = settings_text(head, prefix) else {
        return Err(format!(
            "CQ: {encoder} writes its settings (`{prefix}… crf=…`) into the bitstream, but none are in its first {} MiB; the stream was not written by {encoder} as the kit runs it, or its settings were stripped",
            SCAN_BYTES >> 20
        ));
    };
    let options = text.split_once("options: ").map_or("", |(_, o)| o);
    let setting = |name: &str| {
        options
            .split(' ')
            .find_map(|o| o.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
    };
    let Some(crf) = setting("crf") else {
        return Err(format!(
            "CQ: the bitstream's {encoder} settings name no crf (rc={}); the rows claim cq {cq}, which the kit encodes with -crf",
            setting("rc").unwrap_or("unknown")
        ));
    };
    if crf.parse::<f64>().ok() != Some(f64::from(cq)) {
        return Err(format!(
            "CQ: the bitstream says crf={crf} ({encoder} writes its settings into the stream), the rows claim cq {cq}"
        ));
    }
    Ok(StreamCq::Read(format!("crf={crf}")))
}

/// The printable text that starts at the first `prefix` in `head`.
fn settings_text<'a>(head: &'a [u8], prefix: &str) -> Option<&'a str> {
    let start = head
        .windows(prefix.len())
        .position(|w| w == prefix.as_bytes())?;
    let len = head[start..]
        .iter()
        .position(|b| !(0x20..0x7f).contains(b))
        .unwrap_or(head.len() - start);
    std::str::from_utf8(&head[start..start + len]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const X264: &str = "x264 - core 164 r3108 31e19f9 - H.264/MPEG-4 AVC codec - Copyleft 2003-2023 - http://www.videolan.org/x264.html - options: cabac=1 ref=3 rc=crf mbtree=1 crf=25.0 qcomp=0.60";

    fn stream(text: &str) -> Vec<u8> {
        [
            &[0x1A, 0x45, 0xDF, 0xA3, 0, 0, 1, 6, 5][..],
            text.as_bytes(),
            &[0, 0x80, 0, 0, 1],
        ]
        .concat()
    }

    #[test]
    fn the_crf_is_read_where_the_encoder_writes_it() {
        let head = stream(X264);
        assert_eq!(
            compare(&head, "x264 - core ", "libx264", 25),
            Ok(StreamCq::Read("crf=25.0".into()))
        );
        let other = compare(&head, "x264 - core ", "libx264", 31).unwrap_err();
        assert!(other.contains("the bitstream says crf=25.0"), "{other}");
        assert!(other.contains("the rows claim cq 31"), "{other}");
        let x265 = stream("x265 (build 199) - 3.5+1 - H.265/HEVC codec - options: cpuid=1 rc=crf crf=19.0 bitrate=0");
        assert_eq!(
            compare(&x265, "x265 (build ", "libx265", 19),
            Ok(StreamCq::Read("crf=19.0".into()))
        );
    }

    #[test]
    fn a_stream_without_settings_or_crf_is_refused_and_others_are_not_recorded() {
        let none = compare(&stream("no settings"), "x264 - core ", "libx264", 25).unwrap_err();
        assert!(none.contains("none are in its first 1 MiB"), "{none}");
        let qp = stream(
            &X264
                .replace("rc=crf", "rc=cqp")
                .replace("crf=25.0", "qp=25"),
        );
        let qp = compare(&qp, "x264 - core ", "libx264", 25).unwrap_err();
        assert!(qp.contains("name no crf (rc=cqp)"), "{qp}");
        for encoder in ["h264_nvenc", "hevc_qsv", "h264_videotoolbox", "libsvtav1"] {
            assert_eq!(settings_prefix(encoder), None);
        }
    }
}
