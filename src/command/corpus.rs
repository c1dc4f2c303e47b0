//! Commands that make a corpus: `corpus` (score references into a shard), `merge` (shards of
//! several boxes into one) and `import-corpus` (rows of the reference kit into a shard).

use super::context::Context;
use super::flags::{
    reference_inputs, references_required, shard_inputs, CellArgs, ForceArgs, GeometryArgs,
    GridArgs, MergeRuleArgs, ReferenceArgs,
};
use crate::error::Result;
use crate::host::tools::Toolset;
use crate::layout::outputs::{self, Inputs, Output, Written};
use crate::{host::platform, ingest::corpus, ingest::import, ingest::merge};
use camino::{Utf8Path, Utf8PathBuf};
use clap::{ArgGroup, Args};

/// `ensemble-kit corpus`.
#[derive(Debug, Args)]
#[command(mut_arg("ref_dir", references_required))]
pub struct CorpusArgs {
    #[command(flatten)]
    pub references: ReferenceArgs,

    /// The shard to write (`.jsonl`); its provenance goes to NAME.meta.json beside it.
    #[arg(long, value_name = "SHARD.jsonl")]
    pub out: Utf8PathBuf,

    #[command(flatten)]
    pub grid: GridArgs,

    #[command(flatten)]
    pub cells: CellArgs,

    /// Replace a shard from another run at --out, or a file there (or at NAME.meta.json) that
    /// ensemble-kit did not write; a reference is never replaced.
    #[arg(long)]
    pub force: bool,
}

/// A shard the command writes and its metadata beside it, each replaced without `--force`
/// only when the kit wrote it.
fn shard_outputs(out: &Utf8Path) -> [Output; 2] {
    let meta = corpus::meta_path(out);
    [
        Output::new("--out", out, Written::Shard { meta: meta.clone() }),
        Output::new("--out's metadata", meta, Written::ShardMeta),
    ]
}

/// Scores the grid into a shard.
pub fn corpus(args: CorpusArgs, context: &Context) -> Result<i32> {
    let inputs = match &args.references.ref_dir {
        Some(dir) => reference_inputs(Inputs::new(), "--ref-dir", dir),
        None => Inputs::new(),
    };
    outputs::check(&shard_outputs(&args.out), &inputs, args.force)?;
    let platform = platform::detect()?;
    let tools = Toolset::locate(&context.overrides)?;
    let request = corpus::CorpusRequest {
        grid: args.grid.grid(args.references.references(&args.out)?),
        out: args.out,
        jobs: args.grid.jobs,
        threads: args.grid.threads,
        allow_failed_cells: args.cells.allow_failed_cells,
        cell_dir: args.cells.cell_dir,
        force: args.force,
        audit_cells: args.cells.audit_cells,
    };
    corpus::run(&request, &tools, &platform, &context.progress)?;
    Ok(0)
}

/// `ensemble-kit merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards (`.jsonl`, each with its `.meta.json` when it has one).
    #[arg(required = true)]
    pub shards: Vec<Utf8PathBuf>,
    /// The merged corpus to write (`.jsonl`; provenance goes to NAME.meta.json): a new file,
    /// or a corpus the kit wrote; never one of the shards.
    #[arg(long, value_name = "CORPUS.jsonl")]
    pub out: Utf8PathBuf,
    #[command(flatten)]
    pub rules: MergeRuleArgs,
    #[command(flatten)]
    pub force: ForceArgs,
}

/// Merges the shards into one corpus.
pub fn merge(args: MergeArgs, context: &Context) -> Result<i32> {
    let inputs = shard_inputs(Inputs::new(), "SHARD", &args.shards);
    outputs::check(&shard_outputs(&args.out), &inputs, args.force.force)?;
    let corpus = merge::load(&args.shards, args.rules.rules())?;
    let meta = merge::write(&corpus, &args.out)?;
    context.progress.info(&format!(
        "merged {} shard(s): {} rows ({} duplicates dropped) into {}",
        args.shards.len(),
        meta.n_rows,
        meta.duplicates_dropped,
        args.out
    ));
    Ok(0)
}

/// `ensemble-kit import-corpus`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("geometry").args(["width", "height", "fps"]).multiple(true).requires("ref_dir")))]
pub struct ImportArgs {
    /// The reference kit's corpus (`.jsonl`, rows without `src_sha256`).
    pub reference: Utf8PathBuf,
    /// The shard to write (`.jsonl`); its provenance goes to NAME.meta.json beside it.
    #[arg(long, value_name = "SHARD.jsonl")]
    pub out: Utf8PathBuf,
    /// Folder of the source videos (`.yuv`, `.y4m`; named as the rows' `src`), whose SHA-256
    /// the rows then carry. Without it every source's hash is an unknown-source marker, which
    /// never merges with a shard scored from the real video.
    #[arg(long, value_name = "DIR")]
    pub ref_dir: Option<Utf8PathBuf>,
    #[command(flatten)]
    pub geometry: GeometryArgs,
    /// Replace a different shard at --out, or a file there (or at NAME.meta.json) that
    /// ensemble-kit did not write; the reference corpus is never replaced.
    #[arg(long)]
    pub force: bool,
}

/// Turns the reference kit's rows into a shard.
pub fn import(args: ImportArgs, context: &Context) -> Result<i32> {
    let mut inputs = Inputs::new().file("REFERENCE", &args.reference);
    if let Some(dir) = &args.ref_dir {
        inputs = reference_inputs(inputs, "--ref-dir", dir);
    }
    outputs::check(&shard_outputs(&args.out), &inputs, args.force)?;
    let request = import::ImportRequest {
        reference: args.reference,
        out: args.out.clone(),
        ref_dir: args.ref_dir,
        geometry: args.geometry.flags(),
        force: args.force,
    };
    let meta = import::run(&request)?;
    let unknown = meta.sources.iter().filter(|s| !s.known).count();
    context.progress.info(&format!(
        "imported {} rows of {} source(s) ({unknown} with an unknown video) into {}",
        meta.n_rows,
        meta.sources.len(),
        args.out
    ));
    Ok(0)
}
