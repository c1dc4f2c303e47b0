//! Commands that judge a corpus: `train` (the LOSO ensemble per seed) and `verdict` (the
//! promotion gate over the seed files).

use super::context::Context;
use super::flags::{shard_inputs, FitArgs, ForceArgs, SeedArgs, ShardArgs};
use crate::error::Result;
use crate::layout::{
    self,
    outputs::{self, Inputs, Output, Written},
};
use crate::progress::{self, Progress, Verbosity};
use crate::schema::{Document, LosoSeed, Verdict};
use crate::{learn::further_seeds, learn::gate, learn::stability, learn::train};
use camino::{Utf8Path, Utf8PathBuf};
use clap::Args;

/// `ensemble-kit train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub shards: ShardArgs,
    /// Where loso_seed{N}.json are written (a seed file there that ensemble-kit did not
    /// write is refused without --force).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Utf8PathBuf,
    #[command(flatten)]
    pub seeds: SeedArgs,
    /// Also train K further seeds (after the largest of --seeds) on the same folds, so that
    /// `verdict` can say how often other seeds would pass the gate; `auto` adds them in
    /// batches until the stability label is decided (at most 40).
    #[arg(long, value_name = "K|auto", default_value_t = further_seeds::FurtherSeeds::Count(0))]
    pub stability: further_seeds::FurtherSeeds,
    #[command(flatten)]
    pub fit: FitArgs,
    #[command(flatten)]
    pub force: ForceArgs,
}

/// Trains every seed and prints each one's mean PLCC (and, for several seeds, which sources
/// move the result).
pub fn train(args: TrainArgs, context: &Context) -> Result<i32> {
    let progress = &context.progress;
    let possible = further_seeds::with_further_seeds(&args.seeds.seeds, args.stability.most())?;
    let seed_files: Vec<Output> = possible
        .iter()
        .map(|&seed| {
            Output::new(
                "--out-dir's seed file",
                args.out_dir.join(layout::seed_file(seed)),
                Written::Kind(LosoSeed::SCHEMA),
            )
        })
        .collect();
    let inputs = shard_inputs(Inputs::new(), "--corpus", &args.shards.files.corpus);
    outputs::check(&seed_files, &inputs, args.force.force)?;
    let _writing = layout::lock::writing(&args.out_dir, progress)?;
    let mut corpus = args.shards.load()?;
    let data = train::Dataset::new(&corpus)?;
    // The fits read the rows only through the dataset: free the columns (about 70 MB at 10⁶
    // rows) before they start.
    corpus.rows = Default::default();
    let seeds =
        further_seeds::train_further(&args.seeds.seeds, args.stability, progress, |seeds| {
            let request = train::TrainRequest {
                out_dir: args.out_dir.clone(),
                seeds: seeds.to_vec(),
                recipe: args.fit.recipe.recipe(),
                jobs: args.fit.jobs,
            };
            train::run(&request, &corpus, &data, progress)
        })?;
    for s in &seeds {
        progress.info(&format!(
            "seed {}: mean PLCC {} (ridge baseline {})",
            s.seed,
            s.mean_plcc
                .map_or("undefined".into(), |p| format!("{p:.4}")),
            s.baseline_mean_plcc
                .map_or("undefined".into(), |p| format!("{p:.4}"))
        ));
    }
    if seeds.len() > 1 && verdict_visible(progress) {
        progress::to_stderr(&format!(
            "per source, over seeds {:?}:\n{}",
            seeds.iter().map(|s| s.seed).collect::<Vec<_>>(),
            stability::render_diagnosis(&stability::diagnose(&seeds))
        ));
    }
    Ok(0)
}

/// `ensemble-kit verdict`.
#[derive(Debug, Args)]
pub struct VerdictArgs {
    /// Folder holding loso_seed{N}.json.
    #[arg(long, value_name = "DIR")]
    pub loso_dir: Utf8PathBuf,
    #[command(flatten)]
    pub seeds: SeedArgs,
    /// Reference corpus folder to describe in the verdict (counts and a content hash).
    #[arg(long, value_name = "DIR")]
    pub corpus_root: Option<Utf8PathBuf>,
    /// Where to write the verdict (default: the --loso-dir). A PROMOTE.json or HOLD.json there
    /// that is not a verdict file is refused without --force.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<Utf8PathBuf>,
    #[command(flatten)]
    pub force: ForceArgs,
}

/// Applies the gate, writes the verdict and exits 0 for PROMOTE, 1 for HOLD.
pub fn verdict(args: VerdictArgs, context: &Context) -> Result<i32> {
    let progress = &context.progress;
    let out_dir = args.out_dir.as_deref().unwrap_or(&args.loso_dir);
    // Both names: one is written, the other (stale) one removed.
    let verdicts: Vec<Output> = [Verdict::Promote, Verdict::Hold]
        .into_iter()
        .map(|v| {
            let path = out_dir.join(layout::verdict_file_name(v));
            Output::new("the verdict file", path, Written::Verdict)
        })
        .collect();
    let mut inputs = Inputs::new().folder("--loso-dir", &args.loso_dir, |rel| {
        rel.components().count() == 1 && layout::is_seed_like(rel.as_str())
    });
    if let Some(root) = &args.corpus_root {
        let described = root.clone();
        inputs = inputs.folder("--corpus-root", root, move |rel| {
            described_by_corpus_root(&described, rel)
        });
    }
    outputs::check(&verdicts, &inputs, args.force.force)?;
    let _writing =
        layout::lock::writing(args.out_dir.as_ref().unwrap_or(&args.loso_dir), progress)?;
    let request = gate::VerdictRequest {
        loso_dir: args.loso_dir,
        seeds: args.seeds.seeds,
        corpus_root: args.corpus_root,
        out_dir: args.out_dir,
        missing_boxes: Vec::new(),
        corpus: Vec::new(),
    };
    let (verdict, path, seeds) = gate::run(&request)?;
    if verdict_visible(progress) {
        progress::to_stderr(&gate::summary(&verdict, &seeds));
    }
    progress.info(&format!("wrote {path}"));
    Ok(if verdict.gate.passed { 0 } else { 1 })
}

/// Whether the verdict's description of `--corpus-root` covers the file `rel` below `root`:
/// every file but those of the kit's own folders (a results folder or a cell store, known by
/// their markers).
fn described_by_corpus_root(root: &Utf8Path, rel: &Utf8Path) -> bool {
    let markers = [layout::MARKER, crate::ingest::corpus::cache::MARKER];
    !rel.ancestors()
        .skip(1)
        .filter(|folder| !folder.as_str().is_empty())
        .any(|folder| markers.iter().any(|m| root.join(folder).join(m).is_file()))
}

/// The verdict summary is shown unless the operator asked for quiet.
fn verdict_visible(progress: &Progress) -> bool {
    progress.verbosity() != Verbosity::Quiet
}
