//! `ensemble-kit evaluate`: a shipped ensemble run in an ONNX runtime on a corpus.

use super::flags::{shard_inputs, BundleCapArgs, ForceArgs, ShardArgs, SignerArgs};
use crate::error::Result;
use crate::layout::outputs::{self, Inputs, Output, Written};
use crate::schema::{Document, Evaluation};
use crate::{atomic, trust::evaluate};
use camino::Utf8PathBuf;
use clap::Args;

/// `ensemble-kit evaluate`.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// The ensemble: a PROMOTE results bundle (.tar.gz, verified first), or a folder of ONNX
    /// models each with its sidecar JSON (the kit's `export` or the reference kit's).
    #[arg(long, value_name = "BUNDLE|DIR")]
    pub models: Utf8PathBuf,
    #[command(flatten)]
    pub shards: ShardArgs,
    /// Feed encoders outside a model's vocabulary through its catch-all `unknown` slot (as the
    /// trainer does) instead of refusing the corpus.
    #[arg(long)]
    pub allow_unknown_encoders: bool,
    /// Also write the evaluation as JSON (schema `evaluation`) to FILE: a new file, or an
    /// evaluation written before; never one of the inputs (--models, --corpus).
    #[arg(long, value_name = "FILE")]
    pub out: Option<Utf8PathBuf>,
    #[command(flatten)]
    pub force: ForceArgs,
    #[command(flatten)]
    pub cap: BundleCapArgs,
    /// A bundle must be signed by a key --allowed-signers allows (and by --signer, if named).
    #[command(flatten)]
    pub signers: SignerArgs,
}

/// Runs the ensemble on the corpus, prints the table and writes the JSON when asked.
pub fn evaluate(args: EvaluateArgs) -> Result<i32> {
    if let Some(out) = &args.out {
        let models = if args.models.is_dir() {
            Inputs::new().folder("--models", &args.models, |rel| {
                rel.components().count() == 1 && matches!(rel.extension(), Some("onnx" | "json"))
            })
        } else {
            Inputs::new().file("--models", &args.models)
        };
        let inputs = shard_inputs(models, "--corpus", &args.shards.files.corpus);
        let written = Written::Kind(Evaluation::SCHEMA);
        outputs::check(
            &[Output::new("--out", out, written)],
            &inputs,
            args.force.force,
        )?;
    }
    let corpus = args.shards.load()?;
    let options = evaluate::Options {
        allow_unknown_encoders: args.allow_unknown_encoders,
        checks: args.signers.checks(None, &args.cap),
    };
    let evaluation = evaluate::run(&args.models, &corpus, &options)?;
    if let Some(out) = &args.out {
        atomic::write_json(out, &evaluation)?;
    }
    crate::progress::to_stdout(&evaluate::render(&evaluation));
    Ok(0)
}
