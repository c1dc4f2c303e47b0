//! Which kind of box this is (SPEC §3) and which encoders it offers by default.
//!
//! Every probe can be faked with `KIT_FAKE_UNAME_S`, `KIT_FAKE_UNAME_M`,
//! `KIT_FAKE_HAS_NVIDIA_SMI`, `KIT_FAKE_HAS_IHD` and `KIT_FAKE_HAS_VIDEOTOOLBOX` (`1`/`0`), so
//! each platform's path is testable on a machine without that hardware.

use crate::error::{Error, Result};
use crate::host::tools::process::Invocation;
use crate::schema::{Document, Platform};
use camino::Utf8Path;

/// Detects the platform, honouring the `KIT_FAKE_*` variables.
pub fn detect() -> Result<Platform> {
    let mut faked = Vec::new();
    let os = fake_text("KIT_FAKE_UNAME_S", &mut faked).unwrap_or_else(|| {
        match std::env::consts::OS {
            "macos" => "Darwin",
            "linux" => "Linux",
            other => other,
        }
        .to_owned()
    });
    let arch = fake_text("KIT_FAKE_UNAME_M", &mut faked).unwrap_or_else(|| {
        match (os.as_str(), std::env::consts::ARCH) {
            ("Darwin", "aarch64") => "arm64",
            (_, other) => other,
        }
        .to_owned()
    });
    let darwin = os == "Darwin";
    let linux = os == "Linux";
    let has_nvidia = fake_flag("KIT_FAKE_HAS_NVIDIA_SMI", &mut faked)?
        .unwrap_or_else(|| linux && probe_succeeds("nvidia-smi", &["-L"], None));
    let has_intel_ihd = fake_flag("KIT_FAKE_HAS_IHD", &mut faked)?
        .unwrap_or_else(|| linux && probe_succeeds("vainfo", &[], Some("iHD")));
    let has_videotoolbox = fake_flag("KIT_FAKE_HAS_VIDEOTOOLBOX", &mut faked)?.unwrap_or(darwin);

    let (tag, default_encoders) = if !darwin && !linux {
        // SPEC §3 knows Linux and macOS only; like the reference, any other OS is `unknown`
        // and gets the CPU baseline, whatever GPU it may report.
        ("unknown".to_owned(), vec!["libx264"])
    } else if darwin {
        let encoders: &[&str] = if has_videotoolbox {
            &["h264_videotoolbox", "hevc_videotoolbox"]
        } else {
            &["libx264"]
        };
        (format!("darwin-{arch}-cpu"), encoders.to_vec())
    } else if has_nvidia {
        let mut encoders = vec!["h264_nvenc", "hevc_nvenc", "av1_nvenc"];
        if has_intel_ihd {
            encoders.extend(["h264_qsv", "hevc_qsv", "av1_qsv"]);
        }
        (format!("{}-{arch}-cuda", os.to_lowercase()), encoders)
    } else if has_intel_ihd {
        (
            format!("{}-{arch}-sycl", os.to_lowercase()),
            vec!["h264_qsv", "hevc_qsv", "av1_qsv"],
        )
    } else {
        (
            format!("{}-{arch}-vulkan", os.to_lowercase()),
            vec!["libx264"],
        )
    };
    Ok(Platform {
        kind: Platform::SCHEMA.into(),
        tag,
        os,
        arch,
        has_nvidia,
        has_intel_ihd,
        has_videotoolbox,
        default_encoders: default_encoders.into_iter().map(str::to_owned).collect(),
        faked,
    })
}

fn fake_text(var: &str, faked: &mut Vec<String>) -> Option<String> {
    let value = std::env::var(var).ok().filter(|v| !v.is_empty())?;
    faked.push(var.to_owned());
    Some(value)
}

fn fake_flag(var: &str, faked: &mut Vec<String>) -> Result<Option<bool>> {
    match fake_text(var, faked).as_deref() {
        None => Ok(None),
        Some("1") => Ok(Some(true)),
        Some("0") => Ok(Some(false)),
        Some(other) => Err(Error::Input(format!(
            "{var} is `{other}`, but it must be 1 or 0 (or unset to probe the real hardware)"
        ))),
    }
}

/// Runs a probe program; success (and `needle` in its output, when given) means present.
fn probe_succeeds(program: &str, args: &[&str], needle: Option<&str>) -> bool {
    let Some(path) = crate::host::tools::search_path(program) else {
        return false;
    };
    let inv = Invocation::new(
        Utf8Path::new(path.as_str()),
        args.iter().map(|a| a.to_string()).collect(),
    );
    match inv.output(program) {
        Ok(out) => needle.is_none_or(|n| {
            String::from_utf8_lossy(&out.stdout).contains(n)
                || String::from_utf8_lossy(&out.stderr).contains(n)
        }),
        Err(_) => false,
    }
}

/// Human-readable summary for `ensemble-kit platform`.
pub fn describe(p: &Platform) -> String {
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let mut text = format!(
        "platform:          {}\nos / arch:         {} / {}\nnvidia-smi:        {}\nintel iHD (vainfo): {}\nvideotoolbox:      {}\ndefault encoders:  {}\n",
        p.tag,
        p.os,
        p.arch,
        yes_no(p.has_nvidia),
        yes_no(p.has_intel_ihd),
        yes_no(p.has_videotoolbox),
        p.default_encoders.join(" ")
    );
    if !p.faked.is_empty() {
        text.push_str(&format!("faked by:          {}\n", p.faked.join(" ")));
    }
    text
}
