//! `ensemble-kit evaluate`: a shipped ensemble run in an ONNX runtime on a corpus.

use super::flags::{BundleCapArgs, ShardArgs};
use crate::error::Result;
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
    /// Also write the evaluation as JSON (schema `evaluation`) to FILE.
    #[arg(long, value_name = "FILE")]
    pub out: Option<Utf8PathBuf>,
    #[command(flatten)]
    pub cap: BundleCapArgs,
}

/// Runs the ensemble on the corpus, prints the table and writes the JSON when asked.
pub fn evaluate(args: EvaluateArgs) -> Result<i32> {
    let corpus = args.shards.load()?;
    let options = evaluate::Options {
        allow_unknown_encoders: args.allow_unknown_encoders,
        max_total_size: args.cap.max_total_size,
    };
    let evaluation = evaluate::run(&args.models, &corpus, options)?;
    if let Some(out) = &args.out {
        atomic::write_json(out, &evaluation)?;
    }
    crate::progress::to_stdout(&evaluate::render(&evaluation));
    Ok(0)
}
