//! `make-distribution-tarball`: everything a machine without Nix (or Rust) needs — the release
//! binary, `scripts/`, `schemas/`, the pinned libvmaf source crate, an operator
//! `README-FIRST.md`, a `./bootstrap`, and a checksummed `MANIFEST.json` — as one deterministic
//! `.tar.gz`: built twice from the same commit and `SOURCE_DATE_EPOCH`, byte-identical.

use crate::archive::{self, Entry};
use crate::error::{Error, Result};
use crate::host::libvmaf::PINNED_CRATE;
use crate::schema::{DistributionManifest, Document, ManifestFile, SCHEMA_VERSION};
use crate::{atomic, digest, walk};
use camino::{Utf8Path, Utf8PathBuf};

/// Largest tarball we ship.
pub const MAX_BYTES: u64 = 50 << 20;

/// The folder name inside the tarball.
pub fn prefix() -> String {
    format!(
        "ensemble-kit-{}-{}-{}",
        crate::schema::kit_version(),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

const BOOTSTRAP: &str = r#"#!/usr/bin/env bash
# Installs ffmpeg and builds the pinned libvmaf `vmaf` from the bundled source (no cargo needed).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export ENSEMBLE_KIT_LIBVMAF_CRATE="$here/vendor/@CRATE_FILE@"
exec "$here/scripts/bootstrap.sh" "$@"
"#;

const README_FIRST: &str = "# ensemble-kit VERSION — read me first

Reproduce the VMAF regressor verdict on this machine, without Nix.

1. Unpack (you have, if you are reading this) and enter the folder.
2. `./bootstrap` — installs ffmpeg and the libvmaf build tools (apt or Homebrew; asks for sudo
   when not root) and builds the pinned libvmaf 2.3.1 `vmaf` from `vendor/` into
   `~/.cache/ensemble-kit`. Running it again does nothing.
3. `./bin/ensemble-kit doctor` — every line should say `ok`; each `FAIL` carries its fix.
4. One command: `./bin/ensemble-kit full --ref-dir /path/to/references`
   (or `./bin/ensemble-kit full --demo` to see it work on built-in clips first).

The verdict lands in `ensemble-results/PROMOTE.json` or `ensemble-results/HOLD.json`, and the
file to send back is `ensemble-results/ensemble-results-<UTC>.tar.gz` (the last line `full`
prints). `./bin/ensemble-kit verify <bundle>` checks it. Exit codes: 0 PROMOTE, 1 HOLD, 2 a problem
with the input or the machine (the message says what and how to fix it).

`MANIFEST.json` lists every file of this folder with its SHA-256; `schemas/` describes every file
the kit reads or writes.
";

/// Builds the tarball at `out` from `project` (the source checkout: `scripts/`, `schemas/`) and
/// the running binary; returns its manifest.
pub fn build(project: &Utf8Path, out: &Utf8Path) -> Result<DistributionManifest> {
    for needed in ["scripts/bootstrap.sh", "schemas"] {
        if !project.join(needed).exists() {
            return Err(Error::Input(format!("`{project}` lacks {needed}; run from the ensemble-kit checkout or pass --project-dir")));
        }
    }
    let folder = super::temporary::Folder::new("distribution")?;
    let staging = folder.path();
    let exe = std::env::current_exe()
        .map_err(|e| Error::Environment(format!("cannot find this program: {e}")))?;
    let exe = Utf8PathBuf::from_path_buf(exe)
        .map_err(|p| Error::Environment(format!("{} is not UTF-8", p.display())))?;
    let mut files: Vec<(Utf8PathBuf, String)> = vec![(exe, "bin/ensemble-kit".into())];
    for dir in ["scripts", "schemas"] {
        files.extend(collect(project, dir)?);
    }
    files.push((
        crate::host::libvmaf::locate_pinned_crate()?,
        format!("vendor/{}", PINNED_CRATE.0),
    ));
    let generated = [
        (
            "bootstrap",
            BOOTSTRAP.replace("@CRATE_FILE@", PINNED_CRATE.0),
        ),
        (
            "README-FIRST.md",
            README_FIRST.replace("VERSION", crate::schema::kit_version()),
        ),
    ];
    for (name, text) in generated {
        let path = staging.join(name);
        atomic::write(&path, text.as_bytes())?;
        files.push((path, name.into()));
    }
    files.sort_by(|a, b| a.1.cmp(&b.1));
    let listed = files
        .iter()
        .map(|(source, name)| {
            let size = std::fs::metadata(source)
                .map_err(|e| Error::io(source, e))?
                .len();
            Ok(ManifestFile {
                path: name.clone(),
                size,
                sha256: digest::sha256_file(source)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let manifest = DistributionManifest {
        kind: DistributionManifest::SCHEMA.into(),
        schema_version: SCHEMA_VERSION,
        version: crate::schema::kit_version().into(),
        target: format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH),
        n_files: listed.len() as u64,
        files: listed,
    };
    atomic::write_json(&staging.join("MANIFEST.json"), &manifest)?;
    files.push((staging.join("MANIFEST.json"), "MANIFEST.json".into()));

    let prefix = prefix();
    let entries = files
        .into_iter()
        .map(|(source, name)| Entry {
            executable: is_program(&name),
            source,
            name: format!("{prefix}/{name}"),
        })
        .collect();
    archive::write_tar_gz(out, None, entries, archive::entry_mtime()?)?;
    let size = std::fs::metadata(out).map_err(|e| Error::io(out, e))?.len();
    if size > MAX_BYTES {
        return Err(Error::Environment(format!(
            "{out} is {size} bytes, over the {MAX_BYTES}-byte limit"
        )));
    }
    Ok(manifest)
}

/// Whether the tarball's file `name` is a program (the binary, `bootstrap`, everything in
/// `scripts/`): its mode comes from this role, not from the checkout's permission bits, which a
/// copy or an unzip may have lost (or set on every file).
fn is_program(name: &str) -> bool {
    name == "bin/ensemble-kit" || name == "bootstrap" || name.starts_with("scripts/")
}

/// The files below `project/dir` (hidden ones left out), each with its name in the tarball.
fn collect(project: &Utf8Path, dir: &str) -> Result<Vec<(Utf8PathBuf, String)>> {
    Ok(walk::below(&project.join(dir))?
        .into_iter()
        .filter(|e| e.kind.is_file() && !e.rel.file_name().unwrap_or_default().starts_with('.'))
        .map(|e| (e.path, format!("{dir}/{}", e.rel)))
        .collect())
}
