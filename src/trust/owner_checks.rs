//! The whole `verify` with the owner's options, as one call that `verify` and `install` share:
//! the bundle checked (and a signer required with `--allowed-signers`, a signature at all with
//! `--require-signature`), its audit cells re-scored (`--audit --ref-dir`), its seeds trained
//! again (`--retrain`). A further signer policy goes into [`OwnerChecks`] and nowhere else.

use super::{audit, retrain};
use crate::deliver::signing::{AllowedSigners, Signature};
use crate::deliver::verify::{self, Verified};
use crate::error::{Error, Result};
use crate::host::tools::{ToolOverrides, Toolset};
use crate::progress::Progress;
use camino::{Utf8Path, Utf8PathBuf};

/// What the owner asks of a bundle beyond its own consistency.
#[derive(Debug, Clone, Default)]
pub struct OwnerChecks {
    /// A signature by a key this `allowed_signers` file allows.
    pub allowed_signers: Option<Utf8PathBuf>,
    /// A valid signature, by any key (an unsigned bundle is refused).
    pub require_signature: bool,
    /// Re-score the audit cells against these references.
    pub audit_ref_dir: Option<Utf8PathBuf>,
    /// Train every bundled seed (and model) again and require the same bytes.
    pub retrain: bool,
    /// Most bytes the bundle may unpack.
    pub max_total_size: u64,
}

/// A bundle that passed every check asked for.
pub struct Passed {
    /// The bundle check.
    pub verified: Verified,
    /// What the audit re-scored, when asked (one line).
    pub audit: Option<String>,
    /// What the re-training found, when asked (one line).
    pub retrain: Option<String>,
    /// The temporary extraction `--retrain` used without `--extract`, removed when dropped.
    _extraction: Option<retrain::Extraction>,
}

/// Runs every check `checks` asks for on `bundle`, extracting it into `extract` (a new or empty
/// folder) only when the bundle verified and the audit passed.
pub fn run(
    bundle: &Utf8Path,
    extract: Option<&Utf8Path>,
    checks: &OwnerChecks,
    overrides: &ToolOverrides,
    progress: &Progress,
) -> Result<Passed> {
    let allowed = checks
        .allowed_signers
        .as_deref()
        .map(AllowedSigners::read)
        .transpose()?;
    let retrain_into = checks
        .retrain
        .then(|| retrain::Extraction::new(extract))
        .transpose()?;
    let extract = retrain_into
        .as_ref()
        .map(|e| e.dir.clone())
        .or_else(|| extract.map(Utf8Path::to_owned));
    let mut audit_line = None;
    let verified = match &checks.audit_ref_dir {
        Some(ref_dir) => {
            let request = audit::AuditRequest {
                bundle: bundle.to_owned(),
                extract: extract.clone(),
                max_total_size: checks.max_total_size,
                ref_dir: ref_dir.clone(),
            };
            let tools = Toolset::locate(overrides)?;
            let audited = audit::run(&request, allowed.as_ref(), &tools, progress)?;
            audit_line = Some(format!(
                "audit: {} cell(s), {} frames re-scored; every feature and VMAF within {:.0e} of the rows ({})",
                audited.cells.len(),
                audited.frames,
                audit::TOLERANCE,
                audited.cells.join(", ")
            ));
            audited.verified
        }
        None => verify::verify_signed(
            bundle,
            extract.as_deref(),
            checks.max_total_size,
            allowed.as_ref(),
        )?,
    };
    if checks.require_signature && matches!(verified.signature, Signature::Unsigned) {
        return Err(Error::Input(format!(
            "{bundle} is unsigned (no {}), and --require-signature refuses an unsigned bundle",
            crate::layout::SIGNATURE
        )));
    }
    let mut retrain_line = None;
    if let Some(into) = &retrain_into {
        let done = retrain::run(&into.dir, &verified, None, progress)?;
        retrain_line = Some(format!(
            "{bundle}: retrain identical ({} seed files, {} folds, {} models) in {:.1} s",
            done.loso_files, done.folds, done.models, done.seconds
        ));
    }
    Ok(Passed {
        verified,
        audit: audit_line,
        retrain: retrain_line,
        _extraction: retrain_into,
    })
}

impl Passed {
    /// `BUNDLE: ok (…)`, then the audit's and the re-training's lines, each ending in a newline.
    pub fn report(&self, bundle: &Utf8Path) -> String {
        let verified = &self.verified;
        let mut text = format!(
            "{bundle}: ok ({} files match the manifest; verdict {}; {})\n",
            verified.files, verified.manifest.verdict, verified.signature
        );
        for line in self.audit.iter().chain(&self.retrain) {
            text.push_str(line);
            text.push('\n');
        }
        text
    }
}
