//! The owner's whole check of one bundle, as `verify` and `install` run it: the bundle verified
//! (hashes, names, signature, the re-judged verdict and experiment; a signature at all with
//! `--require-signature`), then what the owner asked to derive again — the audit cells
//! re-scored against his references, every seed and model trained again —, and only when all
//! of it passed the extraction moved into place. A bundle refused by any check leaves nothing
//! behind. The signer policy lives in [`OwnerChecks`] and nowhere else: `compare` and
//! `evaluate` read every bundle through [`verified`] with it.

mod answer;

use super::audit::{self, Audited};
use super::retrain::{self, Retrained};
use crate::deliver::signing::{AllowedSigners, Required, Signature};
use crate::deliver::verify::{self, Verified};
use crate::error::{Error, Result};
use crate::host::temporary;
use crate::host::tools::{ToolOverrides, Toolset};
use crate::ingest::sources::request::RequestFile;
use crate::layout;
use crate::progress::Progress;
use crate::schema::Finding;
use camino::{Utf8Path, Utf8PathBuf};

/// What the owner asks of a bundle beyond its own consistency.
#[derive(Debug, Clone, Default)]
pub struct OwnerChecks {
    /// A signature by a key this `allowed_signers` file allows.
    pub allowed_signers: Option<Utf8PathBuf>,
    /// That principal, and no other, must have signed (OpenSSH's `-I`; with `allowed_signers`).
    pub signer: Option<String>,
    /// The bundle must answer this request of the owner's; its time is the moment the
    /// signer's `valid-after`/`valid-before` are judged at.
    pub request: Option<Utf8PathBuf>,
    /// A valid signature, by any key (an unsigned bundle is refused).
    pub require_signature: bool,
    /// Re-score the audit cells against these references.
    pub audit_ref_dir: Option<Utf8PathBuf>,
    /// Train every bundled seed (and model) again and require the same bytes.
    pub retrain: bool,
    /// The most CPU minutes the re-training's estimate may say.
    pub max_retrain_minutes: u64,
    /// Most bytes the bundle may unpack.
    pub max_total_size: u64,
}

/// A bundle that passed every check asked for.
#[derive(Debug)]
pub struct Passed {
    /// The bundle as verified.
    pub verified: Verified,
    /// The audit, when asked.
    pub audited: Option<Audited>,
    /// The re-training, when asked.
    pub retrained: Option<Retrained>,
    /// Where the bundle was extracted, when asked.
    pub extracted: Option<Utf8PathBuf>,
    /// Whether it was checked to answer the owner's request (`--request`).
    pub answered: bool,
}

/// Verifies `bundle` (extracting into `root` when given) with the signer and request checks
/// of `checks` — no audit, no re-training: how every command that reads a bundle reads it.
pub fn verified(
    bundle: &Utf8Path,
    root: Option<&Utf8Path>,
    checks: &OwnerChecks,
) -> Result<Verified> {
    let allowed = checks
        .allowed_signers
        .as_deref()
        .map(AllowedSigners::read)
        .transpose()?;
    let asked = checks
        .request
        .as_deref()
        .map(RequestFile::read)
        .transpose()?;
    let required = allowed.as_ref().map(|allowed| Required {
        allowed,
        principal: checks.signer.as_deref(),
        at: asked.as_ref().map(RequestFile::created),
    });
    let verified = verify::verify_signed(bundle, root, checks.max_total_size, required.as_ref())?;
    if checks.require_signature && matches!(verified.signature, Signature::Unsigned) {
        return Err(Error::Input(format!(
            "{bundle} is unsigned (no {}), and --require-signature refuses an unsigned bundle",
            layout::SIGNATURE
        )));
    }
    if let Some(asked) = &asked {
        answer::check(bundle, &verified, asked)?;
    }
    Ok(verified)
}

/// Runs every check `checks` asks for on `bundle` (the audit with the tools `overrides` name);
/// extracts into `extract` (a new or empty folder) only when all of them passed.
pub fn run(
    bundle: &Utf8Path,
    extract: Option<&Utf8Path>,
    checks: &OwnerChecks,
    overrides: &ToolOverrides,
    progress: &Progress,
) -> Result<Passed> {
    let dest = extract
        .map(|dest| layout::resolve_root(dest, "--extract"))
        .transpose()?;
    let unpacked = checks.audit_ref_dir.is_some() || checks.retrain;
    // Beside --extract when given (renamed into place at the end), else in TMPDIR; removed
    // when dropped, and on SIGTERM or SIGINT.
    let (_staging, root): (Option<Box<dyn std::any::Any>>, Option<Utf8PathBuf>) = match &dest {
        Some(dest) => {
            let dir = verify::private_folder_beside(dest)?;
            let root = Utf8Path::from_path(dir.path())
                .ok_or_else(|| Error::Environment("the extraction folder is not UTF-8".into()))?
                .join("bundle");
            (Some(Box::new(dir)), Some(root))
        }
        None if unpacked => {
            let folder = temporary::Folder::new("check")?;
            let root = folder.path().join("bundle");
            (Some(Box::new(folder)), Some(root))
        }
        None => (None, None),
    };
    let verified = verified(bundle, root.as_deref(), checks)?;
    let audited = match (&checks.audit_ref_dir, &root) {
        (Some(ref_dir), Some(root)) => Some(
            audit::run(
                bundle,
                root,
                &verified,
                ref_dir,
                &Toolset::locate(overrides)?,
                progress,
            )
            .map_err(|e| e.as_members_of(bundle, root))?,
        ),
        _ => None,
    };
    let retrained = match (&root, checks.retrain) {
        (Some(root), true) => {
            let limits = retrain::Limits {
                jobs: None,
                max_cpu_minutes: checks.max_retrain_minutes,
            };
            Some(retrain::run(bundle, root, &verified, limits, progress)?)
        }
        _ => None,
    };
    if let (Some(root), Some(dest)) = (&root, &dest) {
        verify::move_into_place(root, dest)?;
    }
    Ok(Passed {
        verified,
        audited,
        retrained,
        extracted: dest,
        answered: checks.request.is_some(),
    })
}

impl Passed {
    /// `BUNDLE: ok (…)`, then the audit's and the re-training's findings, each ending in its
    /// state and a newline.
    pub fn report(&self, bundle: &Utf8Path) -> String {
        let verified = &self.verified;
        let mut text = format!(
            "{bundle}: ok ({} files match the manifest; verdict {}; {}; {})\n",
            verified.files,
            verified.manifest.verdict,
            verify::made_by(verified),
            verified.signature
        );
        for finding in self
            .audited
            .as_ref()
            .map_or_else(Vec::new, Audited::findings)
        {
            text.push_str(&format!("{finding}\n"));
        }
        if let Some(request) = self.verified.request.as_ref().filter(|_| self.answered) {
            text.push_str(&format!(
                "{bundle}: answers request {} of {}, made {}\n",
                request.nonce,
                crate::progress::outside(&request.owner),
                request.created_at_utc
            ));
        }
        if let Some(done) = &self.retrained {
            let finding = Finding::derived(format!(
                "{bundle}: retrain identical ({} seed files, {} folds, {} models) in {:.1} s",
                done.loso_files, done.folds, done.models, done.seconds
            ));
            text.push_str(&format!("{finding}\n"));
        }
        text
    }
}
