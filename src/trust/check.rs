//! The owner's whole check of one bundle, as `verify` and `install` run it: the bundle verified
//! (hashes, names, signature, the re-judged verdict and experiment), then what the owner asked
//! to derive again — the audit cells re-scored against his references, every seed and model
//! trained again —, and only when all of it passed the extraction moved into place. A bundle
//! refused by any check leaves nothing behind.

use super::audit::{self, Audited};
use super::retrain::{self, Retrained};
use crate::deliver::signing::AllowedSigners;
use crate::deliver::verify::{self, Verified};
use crate::error::{Error, Result};
use crate::host::tools::{ToolOverrides, Toolset};
use crate::layout;
use crate::progress::Progress;
use camino::{Utf8Path, Utf8PathBuf};

/// What the owner asks of one bundle.
#[derive(Debug, Default)]
pub struct CheckRequest {
    /// The bundle.
    pub bundle: Utf8PathBuf,
    /// Extract into this folder (new or empty) once every check passed.
    pub extract: Option<Utf8PathBuf>,
    /// Cap on what the bundle may unpack to.
    pub max_total_size: u64,
    /// Require a signature by a key this file allows.
    pub allowed: Option<AllowedSigners>,
    /// Re-score the audit cells against the references in this folder.
    pub audit: Option<Utf8PathBuf>,
    /// Train every seed and model again and require the same bytes.
    pub retrain: bool,
    /// Fits at once when retraining.
    pub jobs: Option<usize>,
}

/// What the checks found.
#[derive(Debug)]
pub struct Checked {
    /// The bundle as verified.
    pub verified: Verified,
    /// The audit, when asked.
    pub audited: Option<Audited>,
    /// The retrain, when asked.
    pub retrained: Option<Retrained>,
    /// Where the bundle was extracted, when asked.
    pub extracted: Option<Utf8PathBuf>,
}

/// Runs every check asked for (the audit with the tools `overrides` name); extracts only when
/// all of them passed.
pub fn run(
    request: &CheckRequest,
    overrides: &ToolOverrides,
    progress: &Progress,
) -> Result<Checked> {
    let dest = request
        .extract
        .as_deref()
        .map(|dest| layout::resolve_root(dest, "--extract"))
        .transpose()?;
    let unpacked = request.audit.is_some() || request.retrain;
    let staging = match &dest {
        Some(dest) => Some(verify::private_folder_beside(dest)?),
        None if unpacked => Some(
            tempfile::Builder::new()
                .prefix("ensemble-kit-check-")
                .tempdir()
                .map_err(|e| Error::Environment(format!("cannot make a temporary folder: {e}")))?,
        ),
        None => None,
    };
    let root = staging
        .as_ref()
        .map(|dir| {
            Utf8Path::from_path(dir.path())
                .map(|p| p.join("bundle"))
                .ok_or_else(|| {
                    Error::Environment("the temporary folder's path is not UTF-8".into())
                })
        })
        .transpose()?;
    let verified = verify::verify_signed(
        &request.bundle,
        root.as_deref(),
        request.max_total_size,
        request.allowed.as_ref(),
    )?;
    let audited = match (&request.audit, &root) {
        (Some(ref_dir), Some(root)) => Some(audit::run(
            &request.bundle,
            root,
            &verified,
            ref_dir,
            &Toolset::locate(overrides)?,
            progress,
        )?),
        _ => None,
    };
    let retrained = match (&root, request.retrain) {
        (Some(root), true) => Some(retrain::run(root, &verified, request.jobs, progress)?),
        _ => None,
    };
    if let (Some(root), Some(dest)) = (&root, &dest) {
        verify::move_into_place(root, dest)?;
    }
    Ok(Checked {
        verified,
        audited,
        retrained,
        extracted: dest,
    })
}
