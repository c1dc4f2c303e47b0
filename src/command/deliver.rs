//! Commands that hand a verdict on or check one: `export` (ONNX models after PROMOTE),
//! `bundle`, `verify`, `compare` and `report`.

use super::context::Context;
use super::flags::{BundleCapArgs, EnsembleArgs, FitArgs, ShardArgs, SignArgs};
use crate::error::Result;
use crate::signing::{AllowedSigners, Signer};
use crate::{bundle, compare, export, report, verify};
use camino::Utf8PathBuf;
use clap::Args;

/// `ensemble-kit export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub shards: ShardArgs,
    /// The PROMOTE.json that allows the export.
    #[arg(long, value_name = "FILE")]
    pub verdict: Utf8PathBuf,
    /// Where `<ensemble-id>_seed<N>.onnx` and `.json` go.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Utf8PathBuf,
    /// Seeds to export (default: the verdict's).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub seeds: Option<Vec<u64>>,
    #[command(flatten)]
    pub ensemble: EnsembleArgs,
    #[command(flatten)]
    pub fit: FitArgs,
}

/// Fits every seed on the whole corpus and writes the models.
pub fn export(args: ExportArgs, context: &Context) -> Result<i32> {
    let corpus = args.shards.load()?;
    let request = export::ExportRequest {
        out_dir: args.out_dir,
        verdict: args.verdict,
        seeds: args.seeds,
        ensemble_id: args.ensemble.ensemble_id,
        recipe: args.fit.recipe.recipe(),
        jobs: args.fit.jobs,
    };
    export::run(&request, &corpus, &context.progress)?;
    Ok(0)
}

/// `ensemble-kit bundle`.
#[derive(Debug, Args)]
pub struct BundleArgs {
    /// The results folder (corpus, LOSO files, verdict, models).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Utf8PathBuf,
    #[command(flatten)]
    pub sign: SignArgs,
    /// Bundle this signature of DIR/manifest.json, made elsewhere (`ssh-keygen -Y sign -f KEY
    /// -n ensemble-kit DIR/manifest.json`, e.g. with a hardware token) after an earlier
    /// `bundle` wrote that manifest; it must verify over the manifest written again now.
    #[arg(long, value_name = "FILE", conflicts_with = "sign")]
    pub signature: Option<Utf8PathBuf>,
}

/// Writes the manifest and the bundle, and prints the bundle's path.
pub fn bundle(args: BundleArgs, context: &Context) -> Result<i32> {
    let signer = match &args.signature {
        Some(file) => Some(Signer::from_signature_file(file)?),
        None => args.sign.signer()?,
    };
    let (manifest, path) = bundle::run(&args.out_dir, signer.as_ref())?;
    context.progress.info(&format!(
        "{}: {} files, verdict {}",
        path, manifest.n_files, manifest.verdict
    ));
    println!("{path}");
    Ok(0)
}

/// `ensemble-kit verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The `.tar.gz` bundle (read once; a pipe works).
    pub bundle: Utf8PathBuf,
    /// Extract into DIR (new or empty) once everything matched (no absolute paths, `..`,
    /// links or devices).
    #[arg(long, value_name = "DIR")]
    pub extract: Option<Utf8PathBuf>,
    #[command(flatten)]
    pub cap: BundleCapArgs,
    /// Require a signature by a key this file allows (git's `allowed_signers` format:
    /// `principals [options] keytype base64-key`) in namespace `ensemble-kit`, and name the
    /// signer; an unsigned bundle or another key fails (exit 2).
    #[arg(long, value_name = "FILE")]
    pub allowed_signers: Option<Utf8PathBuf>,
}

/// Checks a bundle (and extracts it when asked).
pub fn verify(args: VerifyArgs) -> Result<i32> {
    let path = &args.bundle;
    let allowed = args
        .allowed_signers
        .as_deref()
        .map(AllowedSigners::read)
        .transpose()?;
    let verified = verify::verify_signed(
        path,
        args.extract.as_deref(),
        args.cap.max_total_size,
        allowed.as_ref(),
    )?;
    println!(
        "{path}: ok ({} files match the manifest; verdict {}; {})",
        verified.files, verified.manifest.verdict, verified.signature
    );
    if let Some(dir) = args.extract {
        println!("extracted into {dir}");
    }
    Ok(0)
}

/// `ensemble-kit compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The first verdict file or bundle.
    pub a: Utf8PathBuf,
    /// The second verdict file or bundle.
    pub b: Utf8PathBuf,
    #[command(flatten)]
    pub cap: BundleCapArgs,
}

/// Prints the comparison; exit 0 when the verdicts agree, 1 when they do not.
pub fn compare(args: CompareArgs) -> Result<i32> {
    let (agree, report) = compare::run(&args.a, &args.b, args.cap.max_total_size)?;
    print!("{report}");
    Ok(if agree { 0 } else { 1 })
}

/// `ensemble-kit report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The results folder of `full`.
    #[arg(long, value_name = "DIR", default_value = crate::layout::DEFAULT_OUT_DIR)]
    pub out_dir: Utf8PathBuf,
    /// `outputs` (verdict, mean-plcc, plcc-spread, bundle, verdict-file), `markdown`, or
    /// `html` (writes DIR/report.html: verdict, charts, no network).
    #[arg(long, value_parser = ["outputs", "markdown", "html"], default_value = "outputs")]
    pub format: String,
}

/// Prints the CI summary of a results folder, or writes its page.
pub fn report(args: ReportArgs, context: &Context) -> Result<i32> {
    if args.format == "html" {
        let page = report::write_html(&args.out_dir)?;
        context.progress.info(&format!("wrote {page}"));
        return Ok(0);
    }
    let (outputs, markdown) = report::ci_summary(&args.out_dir)?;
    print!(
        "{}",
        if args.format == "markdown" {
            markdown
        } else {
            outputs
        }
    );
    Ok(0)
}
