//! Every `vmaf` command line the kit runs, and the parsing of its per-frame JSON.

use super::process::Invocation;
use crate::error::{Error, Result};
use crate::schema::{ScoringBackend, Source, SourceFormat};
use camino::Utf8Path;
use serde::Deserialize;

/// The libvmaf release `scripts/bootstrap.sh` builds and the kit prefers.
pub const PINNED_LIBVMAF: &str = "2.3.1";

/// The libvmaf model every score uses (built into the `vmaf` binary).
pub const MODEL: &str = "vmaf_v0.6.1";

/// The oldest libvmaf major version whose CLI and feature names the kit understands.
const MIN_MAJOR: u32 = 2;

/// `vmaf --version` (libvmaf 2.x prints the bare version, e.g. `2.3.1`).
pub fn version(vmaf: &Utf8Path) -> Result<String> {
    let out = Invocation::new(vmaf, vec!["--version".into()]).output("reading the vmaf version")?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    text.split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(|w| w.trim_start_matches('v').to_owned())
        .ok_or_else(|| Error::Environment(format!("`{vmaf} --version` printed no version")))
}

/// Refuses a libvmaf older than 2.0, whose CLI and JSON differ.
pub fn check_supported(vmaf: &Utf8Path, version: &str) -> Result<()> {
    let major: Option<u32> = version.split('.').next().and_then(|m| m.parse().ok());
    match major {
        Some(m) if m >= MIN_MAJOR => Ok(()),
        _ => Err(Error::Environment(format!(
            "`{vmaf}` is libvmaf {version}, but the kit needs libvmaf {MIN_MAJOR}.0 or newer; \
             run scripts/bootstrap.sh to build the pinned {} or pass --vmaf",
            PINNED_LIBVMAF
        ))),
    }
}

/// How a scoring run is set up: frames, CPU threads, and where libvmaf computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScoreSettings {
    /// Frames to score from the start.
    pub frames: u64,
    /// CPU threads libvmaf may use.
    pub threads: usize,
    /// CPU or CUDA.
    pub backend: ScoringBackend,
}

/// Whether this `vmaf` was built with CUDA: such builds take `--gpumask` (their usage text,
/// printed by `vmaf` without arguments, lists it).
pub fn supports_cuda(vmaf: &Utf8Path) -> bool {
    Invocation::new(vmaf, vec![])
        .capture("reading vmaf's usage")
        .map(|out| {
            String::from_utf8_lossy(&out.stdout).contains("--gpumask")
                || String::from_utf8_lossy(&out.stderr).contains("--gpumask")
        })
        .unwrap_or(false)
}

/// Scores frames of `distorted` (a path, or `/dev/stdin` for a pipe) against the reference,
/// printing per-frame JSON on stdout. On the CUDA backend, `--gpumask 0` lets libvmaf use the
/// GPU for every feature it has a CUDA kernel for.
pub fn score(
    vmaf: &Utf8Path,
    source: &Source,
    reference: &str,
    distorted: &str,
    settings: ScoreSettings,
) -> Invocation {
    let ScoreSettings {
        frames,
        threads,
        backend,
    } = settings;
    let mut args: Vec<String> = vec![
        "--reference".into(),
        reference.into(),
        "--distorted".into(),
        distorted.into(),
    ];
    if source.format == SourceFormat::Raw {
        let g = &source.geometry;
        args.extend([
            "--width".into(),
            g.width.to_string(),
            "--height".into(),
            g.height.to_string(),
            "--pixel_format".into(),
            "420".into(),
            "--bitdepth".into(),
            "8".into(),
        ]);
    }
    args.extend([
        "--model".into(),
        format!("version={MODEL}"),
        "--frame_cnt".into(),
        frames.to_string(),
        "--threads".into(),
        threads.to_string(),
        "--json".into(),
        "--output".into(),
        "/dev/stdout".into(),
        "--quiet".into(),
    ]);
    if backend == ScoringBackend::Cuda {
        args.extend(["--gpumask".into(), "0".into()]);
    }
    Invocation::new(vmaf, args)
}

/// The scores of one frame that the corpus keeps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameScores {
    /// 0-based frame number as libvmaf reports it.
    pub frame_index: u64,
    /// The VMAF score.
    pub vmaf: f64,
    /// `integer_adm2`.
    pub adm2: f64,
    /// `integer_vif_scale0..3`.
    pub vif: [f64; 4],
    /// `integer_motion2`.
    pub motion2: f64,
}

#[derive(Deserialize)]
struct Report {
    frames: Vec<ReportFrame>,
}

#[derive(Deserialize)]
struct ReportFrame {
    #[serde(rename = "frameNum")]
    frame_num: u64,
    metrics: std::collections::HashMap<String, f64>,
}

/// Parses libvmaf's JSON report into per-frame scores; a missing metric or a non-finite value
/// is an error naming the frame and the metric, and the frames must be numbered 0..n−1 in
/// order, once each (a repeated or skipped number would silently merge or lose rows later).
pub fn parse_report(json: &[u8]) -> std::result::Result<Vec<FrameScores>, String> {
    let report: Report = crate::strict_json::from_slice(json)
        .and_then(serde_json::from_value)
        .map_err(|e| format!("vmaf's JSON report is unreadable: {e}"))?;
    if let Some((expected, frame)) = report
        .frames
        .iter()
        .enumerate()
        .find(|(i, f)| f.frame_num != *i as u64)
    {
        return Err(format!(
            "vmaf's JSON report numbers its frame #{expected} as frameNum {}; frames must be numbered 0..{} in order, once each",
            frame.frame_num,
            report.frames.len().saturating_sub(1)
        ));
    }
    report
        .frames
        .iter()
        .map(|f| {
            let get = |key: &str| -> std::result::Result<f64, String> {
                let v = *f
                    .metrics
                    .get(key)
                    .ok_or_else(|| format!("frame {}: vmaf's report lacks `{key}`", f.frame_num))?;
                if v.is_finite() {
                    Ok(v)
                } else {
                    Err(format!(
                        "frame {}: `{key}` is not finite ({v})",
                        f.frame_num
                    ))
                }
            };
            Ok(FrameScores {
                frame_index: f.frame_num,
                vmaf: get("vmaf")?,
                adm2: get("integer_adm2")?,
                vif: [
                    get("integer_vif_scale0")?,
                    get("integer_vif_scale1")?,
                    get("integer_vif_scale2")?,
                    get("integer_vif_scale3")?,
                ],
                motion2: get("integer_motion2")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_per_frame_metrics() {
        let json = br#"{"version":"2.3.1","frames":[{"frameNum":0,"metrics":{"integer_adm2":0.94,
          "integer_vif_scale0":0.55,"integer_vif_scale1":0.82,"integer_vif_scale2":0.88,
          "integer_vif_scale3":0.91,"integer_motion2":0.0,"vmaf":74.4}}]}"#;
        let frames = parse_report(json).unwrap();
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].vif[3], 0.91);
        assert_eq!(frames[0].vmaf, 74.4);
    }

    #[test]
    fn missing_metric_names_frame_and_key() {
        let json = br#"{"frames":[{"frameNum":0,"metrics":{"vmaf":1.0}}]}"#;
        assert_eq!(
            parse_report(json).unwrap_err(),
            "frame 0: vmaf's report lacks `integer_adm2`"
        );
    }

    #[test]
    fn frame_numbers_must_count_from_zero_once_each() {
        let frame = |n: u64| {
            format!(
                r#"{{"frameNum":{n},"metrics":{{"integer_adm2":0.9,"integer_vif_scale0":0.5,
                "integer_vif_scale1":0.5,"integer_vif_scale2":0.5,"integer_vif_scale3":0.5,
                "integer_motion2":0.0,"vmaf":50.0}}}}"#
            )
        };
        let report = |nums: &[u64]| {
            let frames: Vec<String> = nums.iter().map(|&n| frame(n)).collect();
            format!(r#"{{"frames":[{}]}}"#, frames.join(","))
        };
        assert_eq!(
            parse_report(report(&[0, 1, 2]).as_bytes()).unwrap().len(),
            3
        );
        for bad in [&[0, 0, 0, 0][..], &[1, 2], &[0, 2, 1], &[0, 1, 1]] {
            let err = parse_report(report(bad).as_bytes()).unwrap_err();
            assert!(err.contains("once each"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn too_old_version_is_refused() {
        assert!(check_supported(Utf8Path::new("vmaf"), "1.5.3").is_err());
        assert!(check_supported(Utf8Path::new("vmaf"), "2.3.1").is_ok());
        assert!(check_supported(Utf8Path::new("vmaf"), "3.0.0").is_ok());
    }
}
