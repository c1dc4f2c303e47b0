//! Commands that hand a verdict on or check one: `export` (ONNX models after PROMOTE),
//! `bundle`, `verify`, `compare` and `report`.

use super::context::Context;
use super::flags::{BundleCapArgs, EnsembleArgs, FitArgs, ShardArgs, SignArgs};
use crate::deliver::signing::{AllowedSigners, Signer};
use crate::error::Result;
use crate::host::tools::Toolset;
use crate::{
    deliver::bundle, deliver::export, deliver::report, deliver::verify, trust::audit,
    trust::compare, trust::evaluate, trust::retrain,
};
use crate::{layout, progress};
use camino::{Utf8Path, Utf8PathBuf};
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
    let _writing = layout::lock::writing(&args.out_dir, &context.progress)?;
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
    let _writing = existing_results(&args.out_dir, context)?;
    let (manifest, path) = bundle::run(&args.out_dir, signer.as_ref())?;
    context.progress.info(&format!(
        "{}: {} files, verdict {}",
        path, manifest.n_files, manifest.verdict
    ));
    progress::to_stdout(&format!("{path}\n"));
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
    /// Also train every bundled seed file again (and on PROMOTE every model) from the bundled
    /// corpus with its recorded recipe, and require the same bytes (exit 2 names the first
    /// file and fold that differ).
    #[arg(long)]
    pub retrain: bool,
    /// The most CPU time --retrain may take, in minutes, by the estimate it prints before it
    /// starts (measured on this machine); a bundle that needs more is refused untrained.
    #[arg(long, value_name = "N", default_value_t = retrain::estimate::DEFAULT_MAX_MINUTES, value_parser = clap::value_parser!(u64).range(1..), requires = "retrain")]
    pub max_retrain_minutes: u64,
    /// Also re-score the bundle's audit cells against your own references (exit 2 naming the
    /// cell and frame that differ).
    #[arg(long, requires = "ref_dir")]
    pub audit: bool,
    /// Your reference videos, for --audit (each must have the SHA-256 the rows name).
    #[arg(long, value_name = "DIR", requires = "audit")]
    pub ref_dir: Option<Utf8PathBuf>,
    /// Require a signature by a key this file allows (git's `allowed_signers` format:
    /// `principals [options] keytype base64-key`) in namespace `ensemble-kit`, and name the
    /// signer; an unsigned bundle or another key fails (exit 2).
    #[arg(long, value_name = "FILE")]
    pub allowed_signers: Option<Utf8PathBuf>,
}

/// Checks a bundle (and extracts it when asked).
pub fn verify(args: VerifyArgs, context: &Context) -> Result<i32> {
    let path = &args.bundle;
    let allowed = args
        .allowed_signers
        .as_deref()
        .map(AllowedSigners::read)
        .transpose()?;
    let retrain_into = args
        .retrain
        .then(|| retrain::Extraction::new(args.extract.as_deref()))
        .transpose()?;
    let extract = retrain_into
        .as_ref()
        .map(|e| e.dir.clone())
        .or_else(|| args.extract.clone());
    let mut audit_line = String::new();
    let verified = match &args.ref_dir {
        Some(ref_dir) if args.audit => {
            let request = audit::AuditRequest {
                bundle: path.clone(),
                extract: extract.clone(),
                max_total_size: args.cap.max_total_size,
                ref_dir: ref_dir.clone(),
            };
            let tools = Toolset::locate(&context.overrides)?;
            let audited = audit::run(&request, allowed.as_ref(), &tools, &context.progress)?;
            audit_line = format!(
                "audit: {} cell(s), {} frames re-scored; every feature and VMAF within {:.0e} of the rows ({})\n",
                audited.cells.len(),
                audited.frames,
                audit::TOLERANCE,
                audited.cells.join(", ")
            );
            audited.verified
        }
        _ => verify::verify_signed(
            path,
            extract.as_deref(),
            args.cap.max_total_size,
            allowed.as_ref(),
        )?,
    };
    progress::to_stdout(&format!(
        "{path}: ok ({} files match the manifest; verdict {}; {})\n{audit_line}",
        verified.files, verified.manifest.verdict, verified.signature
    ));
    if let Some(into) = &retrain_into {
        let limits = retrain::Limits {
            jobs: None,
            max_cpu_minutes: args.max_retrain_minutes,
        };
        let done = retrain::run(path, &into.dir, &verified, limits, &context.progress)?;
        progress::to_stdout(&format!(
            "{path}: retrain identical ({} seed files, {} folds, {} models) in {:.1} s\n",
            done.loso_files, done.folds, done.models, done.seconds
        ));
    }
    if let Some(dir) = args.extract {
        progress::to_stdout(&format!("extracted into {dir}\n"));
    }
    Ok(0)
}

/// `ensemble-kit compare`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 CONFIRMS (the same experiment, the same verdict), \
1 DISAGREES (the same experiment, another verdict), 2 bad input (unreadable, or a verdict file \
that contradicts its own numbers), 3 NOT COMPARABLE (no reference in common, other references, \
a shared name with other bytes, or another gate recipe)."
)]
pub struct CompareArgs {
    /// The first verdict file, results bundle or LOSO folder.
    pub a: Utf8PathBuf,
    /// The second verdict file, results bundle or LOSO folder.
    pub b: Utf8PathBuf,
    /// Print the comparison as JSON (schema: `ensemble-kit schema compare`).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub cap: BundleCapArgs,
    /// Also run `evaluate` both ways: A's models on B's corpus and B's on A's (both must be
    /// PROMOTE bundles with models and corpora).
    #[arg(long)]
    pub cross: bool,
}

/// Prints the comparison; exits 0 CONFIRMS, 1 DISAGREES, 3 NOT COMPARABLE.
pub fn compare(args: CompareArgs) -> Result<i32> {
    let cross = args
        .cross
        .then(|| {
            evaluate::cross(
                &args.a,
                &args.b,
                evaluate::Options {
                    allow_unknown_encoders: false,
                    max_total_size: args.cap.max_total_size,
                },
            )
        })
        .transpose()?
        .unwrap_or_default();
    let (report, text) = compare::run(&args.a, &args.b, args.cap.max_total_size)?;
    if args.json {
        progress::json_to_stdout(&format!(
            "{}\n",
            serde_json::to_string_pretty(&report).expect("the report serialises")
        ));
        // The JSON on stdout stays one document; the cross evaluation goes to stderr.
        progress::to_stderr(&cross);
    } else {
        progress::to_stdout(&format!("{text}{cross}"));
    }
    Ok(report.exit_code)
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
        let _writing = existing_results(&args.out_dir, context)?;
        let page = report::write_html(&args.out_dir)?;
        context.progress.info(&format!("wrote {page}"));
        return Ok(0);
    }
    let (outputs, markdown) = report::ci_summary(&args.out_dir)?;
    progress::to_stdout(if args.format == "markdown" {
        &markdown
    } else {
        &outputs
    });
    Ok(0)
}

/// The lock of a results folder that must exist already (`bundle`, `report --format html`): a
/// missing one is left for the stage to refuse, not created by the lock.
fn existing_results(dir: &Utf8Path, context: &Context) -> Result<Option<layout::lock::Writer>> {
    dir.is_dir()
        .then(|| layout::lock::writing(dir, &context.progress))
        .transpose()
}
