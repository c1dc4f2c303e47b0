//! `build-libvmaf`: the `vmaf` CLI for one box, built with that platform's meson options, checked
//! to run and report its version, and recorded in `BUILD.json`.
//!
//! meson runs at the libvmaf folder (the reference kit ran it at the repository root and failed).
//! Without `--source`, the pinned source is taken from the `libvmaf-sys` crate that
//! `scripts/bootstrap.sh` fetched, after checking its SHA-256.

use crate::archive;
use crate::error::{Error, Result};
use crate::host::tools::{self, meson, search_path, vmaf};
use crate::progress::Progress;
use crate::schema::{Document, LibvmafBuild, SCHEMA_VERSION};
use crate::{atomic, digest, timestamp};
use camino::{Utf8Path, Utf8PathBuf};

/// The crate that vendors the pinned libvmaf source, and its SHA-256.
pub const PINNED_CRATE: (&str, &str) = (
    "libvmaf-sys-0.4.4.crate",
    "8b053ec5f32c6ba5ae9a51d2bbef0abd35e34033ad83c7b331bfec3e04df79a6",
);

/// The meson options of every build, then the platform's own.
pub fn meson_options(platform: &str) -> Result<Vec<String>> {
    let mut options: Vec<String> = [
        "--buildtype=release",
        "-Denable_float=true",
        "-Ddefault_library=static",
        "-Denable_tests=false",
        "-Denable_docs=false",
    ]
    .map(str::to_owned)
    .to_vec();
    match platform.rsplit('-').next() {
        Some("cuda") => options.push("-Denable_cuda=true".into()),
        Some("sycl") => options.push("-Denable_sycl=true".into()),
        Some("vulkan" | "cpu") => {}
        _ => {
            return Err(Error::Input(format!(
                "unknown platform `{platform}`; use linux-x86_64-cuda, linux-x86_64-sycl, linux-x86_64-vulkan, darwin-arm64-cpu or darwin-x86_64-cpu"
            )))
        }
    }
    Ok(options)
}

/// The libvmaf folder (with its `meson.build`) inside a source tree: the folder itself, a vmaf
/// repository root (`libvmaf/`), or the `libvmaf-sys` crate root (`vmaf/libvmaf/`).
pub fn meson_root(source: &Utf8Path) -> Result<Utf8PathBuf> {
    ["", "libvmaf", "vmaf/libvmaf"]
        .iter()
        .map(|sub| if sub.is_empty() { source.to_owned() } else { source.join(sub) })
        .find(|dir| {
            std::fs::read_to_string(dir.join("meson.build")).is_ok_and(|text| text.contains("project('libvmaf'"))
        })
        .ok_or_else(|| Error::Input(format!("no libvmaf meson project under `{source}` (looked at ., libvmaf/ and vmaf/libvmaf/)")))
}

fn project_version(root: &Utf8Path) -> String {
    let text = std::fs::read_to_string(root.join("meson.build")).unwrap_or_default();
    text.split("version :")
        .nth(1)
        .and_then(|rest| rest.split('\'').nth(1))
        .unwrap_or("unknown")
        .to_owned()
}

/// Checks that every project option (`-Denable_…=`) exists in the source's `meson_options.txt`
/// (meson's built-in options, such as `default_library`, are not declared there).
fn check_options(root: &Utf8Path, options: &[String]) -> Result<()> {
    let declared = std::fs::read_to_string(root.join("meson_options.txt")).unwrap_or_default();
    for option in options
        .iter()
        .filter_map(|o| o.strip_prefix("-D"))
        .filter(|o| o.starts_with("enable_"))
    {
        let name = option.split('=').next().unwrap_or_default();
        if !declared.contains(&format!("option('{name}'")) {
            return Err(Error::Input(format!(
                "libvmaf {} at `{root}` has no `{name}` option; this platform needs a newer libvmaf source (CUDA and SYCL scoring arrived in libvmaf 3.x): pass --source",
                project_version(root)
            )));
        }
    }
    Ok(())
}

/// The pinned crate in cargo's download cache (put there by `scripts/bootstrap.sh`), after
/// checking its SHA-256.
pub fn locate_pinned_crate() -> Result<Utf8PathBuf> {
    let home = std::env::var("CARGO_HOME")
        .map(Utf8PathBuf::from)
        .or_else(|_| std::env::var("HOME").map(|h| Utf8PathBuf::from(h).join(".cargo")))
        .map_err(|_| Error::Environment("neither CARGO_HOME nor HOME is set".into()))?;
    let crate_file = home
        .join("registry/cache")
        .read_dir_utf8()
        .into_iter()
        .flatten()
        .flatten()
        .map(|index| index.path().join(PINNED_CRATE.0))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::Environment(format!(
                "the pinned libvmaf source ({}) is not in {home}/registry/cache; run scripts/bootstrap.sh or pass --source",
                PINNED_CRATE.0
            ))
        })?;
    let sha = digest::sha256_file(&crate_file)?;
    if sha != PINNED_CRATE.1 {
        return Err(Error::Environment(format!(
            "{crate_file} has sha256 {sha}, expected {}; refusing to use it",
            PINNED_CRATE.1
        )));
    }
    Ok(crate_file)
}

/// Extracts the pinned crate into `into` and returns `into`.
pub fn pinned_source(into: &Utf8Path) -> Result<Utf8PathBuf> {
    let crate_file = locate_pinned_crate()?;
    archive::for_each_file(&crate_file, |name, _, reader| {
        let inner: Utf8PathBuf = name.components().skip(1).collect();
        if inner.as_str().is_empty() {
            return Ok(());
        }
        archive::extract_to(&into.join(inner), reader).map(|_| ())
    })?;
    Ok(into.to_owned())
}

/// Builds, checks and records the `vmaf` CLI for `platform` into `out`.
pub fn build(
    platform: &str,
    source: Option<&Utf8Path>,
    out: &Utf8Path,
    progress: &Progress,
) -> Result<LibvmafBuild> {
    let options = meson_options(platform)?;
    let folder = super::temporary::Folder::new("libvmaf")?;
    let scratch = folder.path();
    let (source, source_label) = match source {
        Some(dir) => (dir.to_owned(), dir.to_string()),
        None => (
            pinned_source(&scratch.join("src"))?,
            format!("{} (pinned)", PINNED_CRATE.0),
        ),
    };
    let root = meson_root(&source)?;
    check_options(&root, &options)?;
    let find = |name: &str| {
        search_path(name).ok_or_else(|| Error::Environment(format!("`{name}` is not on PATH; run scripts/bootstrap.sh (it installs meson, ninja and nasm)")))
    };
    let build_dir = scratch.join("build");
    progress.info(&format!("meson setup at {root} with {}", options.join(" ")));
    meson::setup(&find("meson")?, &build_dir, &root, &options).output("meson setup")?;
    progress.info("ninja tools/vmaf");
    meson::build_cli(&find("ninja")?, &build_dir).output("building vmaf with ninja")?;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let binary = out.join("vmaf");
    let built = std::fs::read(build_dir.join("tools/vmaf"))
        .map_err(|e| Error::io(build_dir.join("tools/vmaf"), e))?;
    atomic::write(&binary, &built)?;
    std::fs::set_permissions(&binary, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .map_err(|e| Error::io(&binary, e))?;
    let version = vmaf::version(&binary)?;
    vmaf::check_supported(&binary, &version)?;
    let record = LibvmafBuild {
        kind: LibvmafBuild::SCHEMA.into(),
        schema_version: SCHEMA_VERSION,
        platform: platform.into(),
        source: source_label,
        meson_root: root
            .strip_prefix(&source)
            .map(|r| r.to_string())
            .unwrap_or_default(),
        meson_options: options,
        libvmaf_version: version,
        binary: "vmaf".into(),
        binary_sha256: digest::sha256_bytes(&built),
        built_at_utc: timestamp::now_utc()?,
        pinned: tools::PINNED_LIBVMAF.into(),
    };
    atomic::write_json(&out.join("BUILD.json"), &record)?;
    Ok(record)
}
