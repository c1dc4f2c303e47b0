//! `full`: the whole pipeline in one results folder (see [`crate::pipeline`]).

use super::context::Context;
use super::flags::{
    reference_inputs, shard_inputs, CellArgs, EnsembleArgs, GridArgs, MergeRuleArgs, RecipeArgs,
    ReferenceArgs, SeedArgs, SignArgs,
};
use crate::error::{Error, Result};
use crate::ingest::sources::request::RequestFile;
use crate::layout::{self, outputs, outputs::Inputs};
use crate::{host::platform, learn::further_seeds, pipeline, progress};
use camino::{Utf8Path, Utf8PathBuf};
use clap::Args;

/// `ensemble-kit full`.
#[derive(Debug, Args)]
pub struct FullArgs {
    #[command(flatten)]
    pub references: ReferenceArgs,
    /// Train on ready shards instead of scoring references (e.g. merged from several boxes).
    #[arg(
        long,
        num_args = 1..,
        value_delimiter = ',',
        value_name = "SHARD",
        conflicts_with_all = ["ref_dir", "demo", "cell_dir"]
    )]
    pub corpus: Vec<Utf8PathBuf>,
    #[command(flatten)]
    pub grid: GridArgs,
    #[command(flatten)]
    pub seeds: SeedArgs,
    /// Further seeds trained for the stability estimate, or `auto` (see `train --stability`).
    #[arg(
        long,
        value_name = "K|auto",
        default_value_t = further_seeds::FurtherSeeds::Count(further_seeds::FULL_DEFAULT_FURTHER_SEEDS)
    )]
    pub stability: further_seeds::FurtherSeeds,
    #[command(flatten)]
    pub recipe: RecipeArgs,
    /// The results folder.
    #[arg(long, value_name = "DIR", default_value = crate::layout::DEFAULT_OUT_DIR)]
    pub out_dir: Utf8PathBuf,
    #[command(flatten)]
    pub ensemble: EnsembleArgs,
    #[command(flatten)]
    pub cells: CellArgs,
    #[command(flatten)]
    pub rules: MergeRuleArgs,
    /// A box whose shard did not arrive (repeatable); recorded in the verdict as
    /// `missing_boxes` so the owner sees what the ensemble was trained without.
    #[arg(long = "missing-box", value_name = "BOX")]
    pub missing_boxes: Vec<String>,
    #[command(flatten)]
    pub sign: SignArgs,
    /// Answer this request of the owner's (`ensemble-kit request`): the references must be
    /// exactly the requested ones, byte for byte (refused before anything is encoded, naming
    /// each one that differs); its encoders are used unless --encoders is given, and its recipe
    /// must be the run's. The bundle carries the request, under the signature.
    #[arg(long, value_name = "REQUEST.json", conflicts_with = "demo")]
    pub request: Option<Utf8PathBuf>,
}

/// Runs the pipeline, prints the summary and the bundle's path; exit 0 PROMOTE, 1 HOLD.
pub fn full(args: FullArgs, context: &Context) -> Result<i32> {
    let progress = &context.progress;
    let mut inputs = shard_inputs(Inputs::new(), "--corpus", &args.corpus);
    if let Some(dir) = &args.references.ref_dir {
        inputs = reference_inputs(inputs, "--ref-dir", dir);
    }
    if let Some(key) = &args.sign.sign {
        inputs = inputs.file("--sign", key);
    }
    if let Some(file) = &args.request {
        inputs = inputs.file("--request", file);
    }
    // What a run writes or removes in the results folder; shards given with --corpus are kept
    // there (and trained on) by design.
    let keeps_shards = !args.corpus.is_empty();
    outputs::check_folder(
        "--out-dir",
        &args.out_dir,
        |rel| {
            let name = rel.as_str();
            let in_corpus = rel.starts_with(layout::CORPUS);
            (layout::is_kit_file(rel) && !(keeps_shards && in_corpus))
                || (!keeps_shards
                    && rel.starts_with(Utf8Path::new(layout::SHARD).with_extension("cells")))
                || [layout::MANIFEST, layout::SIGNATURE].contains(&name)
                || layout::is_bundle(name)
        },
        &inputs,
    )?;
    let signer = args.sign.signer()?;
    let answers = args.request.as_deref().map(RequestFile::read).transpose()?;
    let mut args = args;
    if let Some(asked) = &answers {
        asked_for(&mut args, asked)?;
    }
    let platform = platform::detect()?;
    let grid = if args.corpus.is_empty() {
        Some(args.grid.grid(args.references.references(&args.out_dir)?))
    } else {
        None
    };
    let request = pipeline::FullRequest {
        grid,
        corpus: args.corpus,
        jobs: args.grid.jobs,
        threads: args.grid.threads,
        allow_failed_cells: args.cells.allow_failed_cells,
        cell_dir: args.cells.cell_dir,
        merge_rules: args.rules.rules(),
        seeds: args.seeds.seeds,
        further_seeds: args.stability,
        recipe: args.recipe.recipe(),
        out_dir: args.out_dir,
        ensemble_id: args.ensemble.ensemble_id,
        missing_boxes: args.missing_boxes,
        audit_cells: args.cells.audit_cells,
        signer,
        answers,
    };
    let outcome = pipeline::run(&request, &context.overrides, &platform, progress)?;
    // With JSON events the `bundle` event carries the path; stdout stays pure NDJSON.
    if !progress.is_json() {
        progress::to_stderr(&pipeline::summary(&outcome));
        progress::to_stdout(&format!("{}\n", outcome.bundle));
    }
    Ok(if outcome.verdict.gate.passed { 0 } else { 1 })
}

/// Takes the encoders a request asks for unless `--encoders` names them, and refuses a run
/// whose encoders or recipe are not the requested ones.
fn asked_for(args: &mut FullArgs, asked: &RequestFile) -> Result<()> {
    let request = &asked.request;
    let path = &asked.path;
    if let Some(wanted) = &request.encoders {
        match &args.grid.encoders.encoders {
            None => args.grid.encoders.encoders = Some(wanted.clone()),
            Some(given) if given != wanted => {
                return Err(Error::Input(format!(
                    "--encoders {} is not what the request {path} asks for ({}); leave --encoders out to use the request's",
                    given.join(","),
                    wanted.join(",")
                )))
            }
            Some(_) => {}
        }
    }
    if let Some(recipe) = &request.recipe {
        if args.recipe.epochs != recipe.epochs || args.seeds.seeds != recipe.seeds {
            let seeds: Vec<String> = recipe.seeds.iter().map(u64::to_string).collect();
            return Err(Error::Input(format!(
                "the request {path} asks for --epochs {} --seeds {}; pass them (this run has --epochs {} --seeds {:?})",
                recipe.epochs,
                seeds.join(","),
                args.recipe.epochs,
                args.seeds.seeds
            )));
        }
    }
    Ok(())
}
