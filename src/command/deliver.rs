//! Commands that hand a verdict on or check one: `export` (ONNX models after PROMOTE),
//! `bundle`, `verify`, `compare` and `report`.

use super::context::Context;
use super::flags::{
    reference_inputs, shard_inputs, BundleCapArgs, EnsembleArgs, FitArgs, ForceArgs,
    OwnerCheckArgs, RequestArgs, ShardArgs, SignArgs, SignerArgs,
};
use crate::deliver::signing::Signer;
use crate::error::Result;
use crate::layout::{
    self,
    outputs::{self, Inputs, Output, Written},
};
use crate::progress;
use crate::{
    deliver::bundle, deliver::export, deliver::report, trust::compare, trust::evaluate,
    trust::owner_checks,
};
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
    #[command(flatten)]
    pub force: ForceArgs,
}

/// Fits every seed on the whole corpus and writes the models.
pub fn export(args: ExportArgs, context: &Context) -> Result<i32> {
    // The seeds asked for, else the verdict's (when it cannot be read, the stage says why).
    let seeds = args.seeds.clone().unwrap_or_else(|| {
        crate::schema::read_value(&args.verdict)
            .ok()
            .and_then(|v| serde_json::from_value(v["seeds"].clone()).ok())
            .unwrap_or_default()
    });
    let members: Vec<Output> = seeds
        .iter()
        .flat_map(|&seed| {
            let id = export::member_id(&args.ensemble.ensemble_id, seed);
            let sidecar = args.out_dir.join(format!("{id}.json"));
            [
                Output::new(
                    "--out-dir's model",
                    args.out_dir.join(format!("{id}.onnx")),
                    Written::Model {
                        sidecar: sidecar.clone(),
                    },
                ),
                Output::new("--out-dir's sidecar", sidecar, Written::Sidecar),
            ]
        })
        .collect();
    let inputs = shard_inputs(
        Inputs::new().file("--verdict", &args.verdict),
        "--corpus",
        &args.shards.files.corpus,
    );
    outputs::check(&members, &inputs, args.force.force)?;
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
    #[command(flatten)]
    pub force: ForceArgs,
}

/// Writes the manifest and the bundle, and prints the bundle's path.
pub fn bundle(args: BundleArgs, context: &Context) -> Result<i32> {
    let dir = &args.out_dir;
    let signature_out = dir.join(layout::SIGNATURE);
    let mut inputs = Inputs::new().folder("--out-dir", dir, layout::is_kit_file);
    if let Some(key) = &args.sign.sign {
        inputs = inputs.file("--sign", key);
    }
    // A signature made of DIR/manifest.json is read before the bundle writes it there again.
    if let Some(file) = args
        .signature
        .as_ref()
        .filter(|f| !outputs::same_file(f, &signature_out))
    {
        inputs = inputs.file("--signature", file);
    }
    let bundle_name = bundle::file_name()?;
    let written = [
        Output::new(
            "the manifest",
            dir.join(layout::MANIFEST),
            Written::Manifest,
        ),
        Output::new("the signature", signature_out, Written::Signature),
        Output::new(
            "the bundle",
            dir.join(&bundle_name),
            Written::Tar {
                what: "a results bundle (its first member manifest.json)",
                first: |name| name == layout::MANIFEST,
            },
        ),
    ];
    outputs::check(&written, &inputs, args.force.force)?;
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
    pub checks: OwnerCheckArgs,
}

/// Checks a bundle (and extracts it when asked, once every check passed).
pub fn verify(args: VerifyArgs, context: &Context) -> Result<i32> {
    let path = &args.bundle;
    if let Some(dir) = &args.extract {
        let mut inputs = Inputs::new().file("BUNDLE", path);
        if let Some(file) = &args.checks.signers.allowed_signers {
            inputs = inputs.file("--allowed-signers", file);
        }
        if let Some(file) = &args.checks.request.request {
            inputs = inputs.file("--request", file);
        }
        if let Some(refs) = &args.checks.ref_dir {
            inputs = reference_inputs(inputs, "--ref-dir", refs);
        }
        // Everything below the folder is the bundle's (it must be new or empty).
        outputs::check_folder("--extract", dir, |_| true, &inputs)?;
    }
    let passed = owner_checks::run(
        path,
        args.extract.as_deref(),
        &args.checks.checks(),
        &context.overrides,
        &context.progress,
    )?;
    progress::to_stdout(&passed.report(path));
    if let Some(dir) = &passed.extracted {
        progress::to_stdout(&format!("extracted into {dir}\n"));
    }
    Ok(0)
}

/// `ensemble-kit compare`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 CONFIRMS (the same experiment, the same verdict, and every fact \
that rests on — the references' bytes, the corpus trained on, the judged seeds — derived from \
the sides' own files), 1 DISAGREES (the same experiment, another verdict), 2 bad input \
(unreadable, or a file that contradicts its own numbers or the files it names), 3 NOT \
COMPARABLE (no reference in common, other references, a shared name with other bytes, or \
another gate recipe), 4 CONSISTENT (claimed, not proven): the same verdict on what the sides \
state, but a fact a confirmation needs is only claimed (a verdict file alone, a bundle \
without its corpus)."
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
    /// Every bundle side must be signed by a key --allowed-signers allows; --signer names who
    /// must have signed B, the answer.
    #[command(flatten)]
    pub signers: SignerArgs,
    /// B, the answer, must be a bundle answering this request.
    #[command(flatten)]
    pub request: RequestArgs,
}

/// Prints the comparison; exits 0 CONFIRMS, 1 DISAGREES, 3 NOT COMPARABLE, 4 CONSISTENT
/// (claimed, not proven).
pub fn compare(args: CompareArgs) -> Result<i32> {
    // The owner's own side A needs a listed key, if any; B, the answer, is the one asked for.
    let checks_b = args.signers.checks(Some(&args.request), &args.cap);
    let checks_a = owner_checks::OwnerChecks {
        signer: None,
        request: None,
        ..checks_b.clone()
    };
    let cross = args
        .cross
        .then(|| evaluate::cross([(&args.a, &checks_a), (&args.b, &checks_b)], false))
        .transpose()?
        .unwrap_or_default();
    let (report, text) = compare::run([(&args.a, &checks_a), (&args.b, &checks_b)])?;
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
    #[command(flatten)]
    pub force: ForceArgs,
}

/// Prints the CI summary of a results folder, or writes its page.
pub fn report(args: ReportArgs, context: &Context) -> Result<i32> {
    if args.format == "html" {
        let dir = &args.out_dir;
        let inputs = Inputs::new().folder("--out-dir", dir, |rel| {
            layout::is_kit_file(rel) && rel != layout::REPORT
        });
        let page = Output::new("the page", dir.join(layout::REPORT), Written::Report);
        outputs::check(&[page], &inputs, args.force.force)?;
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
