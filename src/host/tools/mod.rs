//! The external programs the kit drives (ffmpeg and libvmaf's `vmaf`): where to find them,
//! which version they are, and the only code that builds their command lines.
//!
//! Lookup order for each tool: the command-line flag, then the environment variable
//! (`ENSEMBLE_KIT_FFMPEG`, `ENSEMBLE_KIT_VMAF`), then the bootstrap cache, then `PATH`.

pub mod children;
pub mod ffmpeg;
pub mod meson;
pub mod process;
pub mod vmaf;

use crate::error::{Error, Result};
use crate::schema::{FoundBy, Tool};
use camino::{Utf8Path, Utf8PathBuf};

pub use vmaf::PINNED_LIBVMAF;

/// The pair of tools every scoring run needs.
#[derive(Debug, Clone)]
pub struct Toolset {
    /// ffmpeg, for encoding and decoding.
    pub ffmpeg: Tool,
    /// libvmaf's command-line scorer.
    pub vmaf: Tool,
}

/// Explicit tool paths from the command line, if any.
#[derive(Debug, Clone, Default)]
pub struct ToolOverrides {
    /// `--ffmpeg`.
    pub ffmpeg: Option<Utf8PathBuf>,
    /// `--vmaf`.
    pub vmaf: Option<Utf8PathBuf>,
}

impl Toolset {
    /// Finds both tools and reads their versions; a missing or too-old tool is an error naming
    /// the fix.
    pub fn locate(overrides: &ToolOverrides) -> Result<Toolset> {
        Ok(Toolset {
            ffmpeg: locate_ffmpeg(overrides)?,
            vmaf: locate_vmaf(overrides)?,
        })
    }
}

/// Finds ffmpeg and reads its version.
pub fn locate_ffmpeg(overrides: &ToolOverrides) -> Result<Tool> {
    let (path, found_by) = find(
        "ffmpeg",
        overrides.ffmpeg.as_deref(),
        "ENSEMBLE_KIT_FFMPEG",
        None,
    )?;
    let version = ffmpeg::version(&path)?;
    Ok(Tool {
        sha256: content_sha256(&path, FFMPEG_LIBRARIES)?,
        path,
        version,
        found_by,
    })
}

/// Finds `vmaf`, reads its version and refuses one older than libvmaf 2.0.
pub fn locate_vmaf(overrides: &ToolOverrides) -> Result<Tool> {
    let cached = cache_dir().map(|d| pinned_vmaf_path(&d));
    let (path, found_by) = find(
        "vmaf",
        overrides.vmaf.as_deref(),
        "ENSEMBLE_KIT_VMAF",
        cached,
    )?;
    let version = vmaf::version(&path)?;
    vmaf::check_supported(&path, &version)?;
    Ok(Tool {
        sha256: content_sha256(&path, VMAF_LIBRARIES)?,
        path,
        version,
        found_by,
    })
}

/// The shared libraries whose code decides `vmaf`'s scores: libvmaf with its built-in model.
pub const VMAF_LIBRARIES: &[&str] = &["libvmaf"];
/// The shared libraries whose code decides ffmpeg's encodes and decodes.
pub const FFMPEG_LIBRARIES: &[&str] = &[
    "libavcodec",
    "libavformat",
    "libavutil",
    "libswscale",
    "libx264",
    "libx265",
    "libSvtAv1Enc",
    "libvpx",
    "libvvenc",
];

/// SHA-256 of a program's content: its file and the shared libraries it loads (found with
/// `ldd`) whose names start with one of `libraries`, by content only, so the same bytes give the
/// same identity wherever they are installed. A Debian `ffmpeg` is a small stub around
/// libavcodec and libx264, and a `vmaf` linked against a shared libvmaf carries its scoring
/// code and built-in model there; a statically linked program (the bootstrap's `vmaf`) is its
/// file alone.
pub fn content_sha256(program: &Utf8Path, libraries: &[&str]) -> Result<String> {
    let mut identity = format!("{}\n", crate::digest::sha256_file(program)?);
    for lib in linked_libraries(program, libraries) {
        identity.push_str(&format!("{}\n", crate::digest::sha256_file(&lib)?));
    }
    Ok(crate::digest::sha256_bytes(identity.as_bytes()))
}

/// The shared libraries named `prefix*` (for any of `prefixes`) that `program` loads, as `ldd`
/// resolves them, sorted by name (empty where there is no `ldd`, e.g. macOS, or the program is
/// static or a script).
fn linked_libraries(program: &Utf8Path, prefixes: &[&str]) -> Vec<Utf8PathBuf> {
    let Some(ldd) = search_path("ldd") else {
        return Vec::new();
    };
    let Ok(out) = process::Invocation::new(&ldd, vec![program.to_string()]).capture("ldd") else {
        return Vec::new();
    };
    let mut libs: Vec<(String, Utf8PathBuf)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let (name, rest) = line.trim().split_once(" => ")?;
            let path = rest.split_whitespace().next()?;
            (prefixes.iter().any(|p| name.starts_with(p)) && path.starts_with('/'))
                .then(|| (name.to_owned(), Utf8PathBuf::from(path)))
        })
        .collect();
    libs.sort();
    libs.into_iter().map(|(_, path)| path).collect()
}

/// The kit's cache folder: `$ENSEMBLE_KIT_CACHE`, else `$XDG_CACHE_HOME/ensemble-kit`, else
/// `~/.cache/ensemble-kit`. `scripts/bootstrap.sh` uses the same rule.
pub fn cache_dir() -> Option<Utf8PathBuf> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let Some(dir) = var("ENSEMBLE_KIT_CACHE") {
        return Some(dir.into());
    }
    if let Some(xdg) = var("XDG_CACHE_HOME") {
        return Some(Utf8PathBuf::from(xdg).join("ensemble-kit"));
    }
    var("HOME").map(|home| Utf8PathBuf::from(home).join(".cache/ensemble-kit"))
}

/// Where the bootstrap script installs the pinned `vmaf` inside the cache.
pub fn pinned_vmaf_path(cache: &Utf8Path) -> Utf8PathBuf {
    cache.join(format!("libvmaf-{PINNED_LIBVMAF}/bin/vmaf"))
}

fn find(
    name: &str,
    flag: Option<&Utf8Path>,
    env_var: &str,
    cached: Option<Utf8PathBuf>,
) -> Result<(Utf8PathBuf, FoundBy)> {
    if let Some(path) = flag {
        return require_file(path, &format!("--{name}")).map(|p| (p, FoundBy::Flag));
    }
    if let Some(path) = std::env::var(env_var).ok().filter(|v| !v.is_empty()) {
        return require_file(Utf8Path::new(&path), env_var).map(|p| (p, FoundBy::Environment));
    }
    if let Some(path) = cached.filter(|p| p.is_file()) {
        return Ok((path, FoundBy::BootstrapCache));
    }
    if let Some(path) = search_path(name) {
        return Ok((path, FoundBy::Path));
    }
    Err(Error::Environment(format!(
        "`{name}` was not found (looked at --{name}, {env_var}, the bootstrap cache and PATH); \
         run scripts/bootstrap.sh, or pass --{name} /path/to/{name}"
    )))
}

fn require_file(path: &Utf8Path, given_by: &str) -> Result<Utf8PathBuf> {
    if path.is_file() {
        Ok(path.to_owned())
    } else if let Some(found) = (!path.as_str().contains('/'))
        .then(|| search_path(path.as_str()))
        .flatten()
    {
        Ok(found)
    } else {
        Err(Error::Environment(format!(
            "{given_by} points at `{path}`, which is not an existing file; fix the path or unset it"
        )))
    }
}

/// Looks a program up on `PATH`, as a shell would.
pub fn search_path(name: &str) -> Option<Utf8PathBuf> {
    let path = std::env::var("PATH").ok()?;
    path.split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| Utf8PathBuf::from(dir).join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Utf8Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
