//! `install`: a verified PROMOTE bundle into the vmaf fork's model folder, and `install --undo`.

use super::context::Context;
use super::flags::OwnerCheckArgs;
use crate::error::{Error, Result};
use crate::trust::{install, owner_checks};
use camino::Utf8PathBuf;
use clap::Args;

/// `ensemble-kit install`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 installed (or already installed, or undone), 1 HOLD \
(nothing to install; MODEL_DIR untouched), 2 bad input: anything verify refuses, an unsigned \
bundle with --require-signature, a MODEL_DIR or registry.json install will not rewrite \
(MODEL_DIR untouched)."
)]
pub struct InstallArgs {
    /// The results bundle (`ensemble-results-<UTC>.tar.gz`).
    #[arg(required_unless_present = "undo", conflicts_with = "undo")]
    pub bundle: Option<Utf8PathBuf>,
    /// The fork's model folder (`model/tiny/`, holding `registry.json`).
    #[arg(long, value_name = "MODEL_DIR", required_unless_present = "undo")]
    pub into: Option<Utf8PathBuf>,
    /// Put back the files the last install into MODEL_DIR replaced, and remove the ones it
    /// added (refused when one of them changed since). It reads no bundle, so the signer
    /// policy (ENSEMBLE_KIT_ALLOWED_SIGNERS) has nothing to check.
    #[arg(long, value_name = "MODEL_DIR", conflicts_with_all = ["into", "dry_run", "new_registry", "require_signature", "retrain", "audit", "signer", "request"])]
    pub undo: Option<Utf8PathBuf>,
    /// Refuse an unsigned bundle (a signature by any key; with --allowed-signers, by one it
    /// allows).
    #[arg(long)]
    pub require_signature: bool,
    #[command(flatten)]
    pub checks: OwnerCheckArgs,
    /// Start a registry.json in a MODEL_DIR that has none (else refused: it is not the fork's
    /// model folder).
    #[arg(long)]
    pub new_registry: bool,
    /// Print the files that would be added, replaced or moved aside and each registry row's
    /// fields before and after; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Verifies the bundle with the owner's checks, then installs it (or undoes the last install).
pub fn install(args: InstallArgs, context: &Context) -> Result<i32> {
    if let Some(model_dir) = &args.undo {
        print!("{}", install::undo(model_dir)?);
        return Ok(0);
    }
    let (Some(bundle), Some(model_dir)) = (args.bundle, args.into) else {
        return Err(Error::Input(
            "give BUNDLE --into MODEL_DIR, or --undo MODEL_DIR".into(),
        ));
    };
    let request = install::Request {
        bundle,
        model_dir,
        new_registry: args.new_registry,
        dry_run: args.dry_run,
    };
    install::preflight(&request)?;
    let mut checks = args.checks.checks();
    checks.require_signature = args.require_signature;
    // Removed when dropped, and on SIGTERM or SIGINT.
    let scratch = crate::host::temporary::Folder::new("install")?;
    let extracted = scratch.path().join("bundle");
    let passed = owner_checks::run(
        &request.bundle,
        Some(&extracted),
        &checks,
        &context.overrides,
        &context.progress,
    )?;
    print!("{}", passed.report(&request.bundle));
    let outcome = install::run(&request, &passed.verified, &extracted)?;
    print!("{}", outcome.text());
    Ok(outcome.exit_code())
}
