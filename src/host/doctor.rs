//! `ensemble-kit doctor`: one table saying whether this box can run the pipeline — platform,
//! ffmpeg, each requested encoder (listed *and* a trial encode), vmaf, GPU probes, free disk —
//! with the fix beside every failure.

use crate::error::Error;
use crate::host::tools::{self, ffmpeg, ToolOverrides};
use crate::schema::{Check, CheckStatus, DoctorReport, Document, Platform};
use camino::{Utf8Path, Utf8PathBuf};

/// Headroom added to every disk estimate (logs, metadata, the shard itself).
const DISK_MARGIN: u64 = 256 << 20;

/// What `doctor` is asked to check.
#[derive(Debug, Clone)]
pub struct DoctorRequest {
    /// Encoders to prove; the platform's defaults when `None`.
    pub encoders: Option<Vec<String>>,
    /// References, for the disk estimate.
    pub ref_dir: Option<Utf8PathBuf>,
    /// Where outputs will go, for the free-disk check.
    pub out_dir: Utf8PathBuf,
    /// Cells at once, for the disk estimate.
    pub jobs: usize,
}

/// Runs every check; never fails itself — a problem becomes a failing line.
pub fn run(
    request: &DoctorRequest,
    overrides: &ToolOverrides,
    platform: &Platform,
) -> DoctorReport {
    let darwin = platform.os == "Darwin";
    let mut checks = vec![Check {
        item: "platform".into(),
        status: CheckStatus::Pass,
        detail: if platform.faked.is_empty() {
            platform.tag.clone()
        } else {
            format!("{} (faked by {})", platform.tag, platform.faked.join(" "))
        },
        fix: String::new(),
    }];

    match tools::locate_ffmpeg(overrides) {
        Ok(tool) => {
            checks.push(pass(
                "ffmpeg",
                format!(
                    "{} ({}, found by {})",
                    tool.path, tool.version, tool.found_by
                ),
            ));
            let encoders = request
                .encoders
                .clone()
                .unwrap_or_else(|| platform.default_encoders.clone());
            let listed = ffmpeg::list_encoders(&tool.path).unwrap_or_default();
            for encoder in encoders {
                let item = format!("encoder {encoder}");
                checks.push(match ffmpeg::check_usable(&tool.path, &encoder, &listed) {
                    Ok(()) => pass(
                        &item,
                        "listed by ffmpeg; a one-frame trial encode works".into(),
                    ),
                    Err(e) => fail(&item, first_line(&e), encoder_fix(&encoder, darwin)),
                });
            }
        }
        Err(e) => checks.push(fail(
            "ffmpeg",
            first_line(&e),
            install_fix("ffmpeg", darwin),
        )),
    }

    match tools::locate_vmaf(overrides) {
        Ok(tool) if tool.version == tools::PINNED_LIBVMAF => {
            checks.push(pass("vmaf", format!("{} (libvmaf {}, found by {})", tool.path, tool.version, tool.found_by)))
        }
        Ok(tool) => checks.push(Check {
            item: "vmaf".into(),
            status: CheckStatus::Warn,
            detail: format!("{} is libvmaf {}, not the pinned {}", tool.path, tool.version, tools::PINNED_LIBVMAF),
            fix: "scores differ slightly between libvmaf versions and shards of different versions do not merge; run scripts/bootstrap.sh for the pinned build".into(),
        }),
        Err(e) => checks.push(fail("vmaf", first_line(&e), "run scripts/bootstrap.sh (builds the pinned libvmaf into the cache), or pass --vmaf".into())),
    }

    if platform.os == "Linux" {
        checks.push(probe(
            "nvidia-smi",
            platform.has_nvidia,
            "NVIDIA GPU present",
            "no NVIDIA GPU (NVENC unavailable)",
        ));
        checks.push(probe(
            "vainfo (Intel iHD)",
            platform.has_intel_ihd,
            "Intel iHD driver present",
            "no Intel iHD driver (QSV unavailable)",
        ));
    }
    if darwin {
        checks.push(probe(
            "VideoToolbox",
            platform.has_videotoolbox,
            "available",
            "not available",
        ));
    }
    checks.push(disk_check(request));

    let ok = checks.iter().all(|c| c.status != CheckStatus::Fail);
    DoctorReport {
        kind: DoctorReport::SCHEMA.into(),
        platform: platform.tag.clone(),
        ok,
        checks,
    }
}

/// The table a person reads.
pub fn render(report: &DoctorReport) -> String {
    let mut text = format!("ensemble-kit doctor — platform {}\n", report.platform);
    let width = report
        .checks
        .iter()
        .map(|c| c.item.len())
        .max()
        .unwrap_or(4);
    for c in &report.checks {
        let status = match c.status {
            CheckStatus::Pass => "ok  ",
            CheckStatus::Warn => "WARN",
            CheckStatus::Fail => "FAIL",
        };
        text.push_str(&format!("  {status}  {:width$}  {}\n", c.item, c.detail));
        if !c.fix.is_empty() {
            text.push_str(&format!("        {:width$}  fix: {}\n", "", c.fix));
        }
    }
    text.push_str(if report.ok {
        "all required checks pass\n"
    } else {
        "some required checks FAIL (see fix lines)\n"
    });
    text
}

fn pass(item: &str, detail: String) -> Check {
    Check {
        item: item.into(),
        status: CheckStatus::Pass,
        detail,
        fix: String::new(),
    }
}

fn fail(item: &str, detail: String, fix: String) -> Check {
    Check {
        item: item.into(),
        status: CheckStatus::Fail,
        detail,
        fix,
    }
}

fn probe(item: &str, present: bool, yes: &str, no: &str) -> Check {
    pass(item, if present { yes } else { no }.into())
}

fn first_line(e: &Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_owned()
}

fn install_fix(program: &str, darwin: bool) -> String {
    if darwin {
        format!("brew install {program} (Homebrew puts it in /opt/homebrew/bin or /usr/local/bin), or pass --{program}")
    } else {
        format!("run scripts/bootstrap.sh (or `apt-get install {program}`), or pass --{program}")
    }
}

fn encoder_fix(encoder: &str, darwin: bool) -> String {
    match ffmpeg::family(encoder) {
        Ok(family) if darwin && family == ffmpeg::Family::Software => {
            "brew install ffmpeg (Homebrew's build includes libx264/libx265/libsvtav1)".into()
        }
        Ok(family) => ffmpeg::missing_encoder_fix(family).into(),
        Err(e) => e.to_string(),
    }
}

/// Free space where outputs go against a rough need: each concurrent cell's encode (at most a
/// quarter of its raw source) plus headroom.
fn disk_check(request: &DoctorRequest) -> Check {
    let largest_source = request
        .ref_dir
        .as_deref()
        .and_then(|dir| dir.read_dir_utf8().ok())
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| matches!(e.path().extension(), Some("yuv" | "y4m")))
        .filter_map(|e| e.metadata().ok().map(|m| m.len()))
        .max()
        .unwrap_or(0);
    let need = request.jobs as u64 * largest_source / 4 + DISK_MARGIN;
    let place = existing_ancestor(&request.out_dir);
    match fs4::available_space(&place) {
        Ok(free) if free >= need => pass(
            "free disk",
            format!("{} free at {place}, need about {}", mib(free), mib(need)),
        ),
        Ok(free) => fail(
            "free disk",
            format!("{} free at {place}, need about {}", mib(free), mib(need)),
            "free some space or point --out-dir at a larger disk".into(),
        ),
        Err(e) => Check {
            item: "free disk".into(),
            status: CheckStatus::Warn,
            detail: format!("could not read free space at {place}: {e}"),
            fix: "check the output folder exists and is readable".into(),
        },
    }
}

fn existing_ancestor(path: &Utf8Path) -> Utf8PathBuf {
    path.ancestors()
        .find(|p| !p.as_str().is_empty() && p.exists())
        .map(Utf8Path::to_owned)
        .unwrap_or_else(|| Utf8PathBuf::from("."))
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes >> 20)
}
