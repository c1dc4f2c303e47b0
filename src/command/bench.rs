//! `bench`: the speed benchmarks, each against a baseline run in the same process.

use super::context::Context;
use super::flags::{
    reference_inputs, references_required, FitArgs, ForceArgs, GridArgs, ReferenceArgs, SeedArgs,
    ShardFileArgs,
};
use crate::error::Result;
use crate::host::tools::Toolset;
use crate::layout::outputs::{self, Inputs};
use crate::{bench, budget, host::platform, ingest::corpus, ingest::merge, learn::train};
use camino::Utf8PathBuf;
use clap::{Args, Subcommand};

/// `ensemble-kit bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Which benchmark.
    #[command(subcommand)]
    pub which: BenchKind,
}

/// The available benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchKind {
    /// The corpus pipeline against the naive sequential way (encode, decode to .yuv, vmaf
    /// --threads 1), on the same cells.
    #[command(mut_arg("ref_dir", references_required))]
    Corpus {
        #[command(flatten)]
        references: ReferenceArgs,
        #[command(flatten)]
        grid: GridArgs,
        /// Scratch folder for both runs (default: a temporary folder): new, empty, or one an
        /// earlier bench used (it leaves a .ensemble-kit-bench marker), since the runs write
        /// and remove files there; another folder is refused without --force.
        #[arg(long, value_name = "DIR")]
        work_dir: Option<Utf8PathBuf>,
        #[command(flatten)]
        force: ForceArgs,
    },
    /// The LOSO fits of `train` with the fixed-order kernel against the same fits through
    /// ndarray's `general_mat_mul`, in one process: wall times, the ratio, GFLOP/s and peak
    /// memory; the ridge baseline's time; and the machine's FMA peak on the same vector path,
    /// measured by a short loop of independent multiply-adds, so GFLOP/s read against it.
    Train {
        #[command(flatten)]
        shards: ShardFileArgs,
        #[command(flatten)]
        seeds: SeedArgs,
        #[command(flatten)]
        fit: FitArgs,
        /// Resample the corpus to N rows (its rows repeated cyclically), e.g. 1000000 with
        /// `--epochs 1 --seeds 0` to show that training time and memory grow linearly in rows.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        rows: Option<u64>,
    },
}

/// The marker `bench corpus` leaves in a `--work-dir` it used.
const WORK_MARKER: &str = ".ensemble-kit-bench";

/// Runs one benchmark and prints its report.
pub fn bench(args: BenchArgs, context: &Context) -> Result<i32> {
    let progress = &context.progress;
    let report = match args.which {
        BenchKind::Corpus {
            references,
            grid,
            work_dir,
            force,
        } => {
            if let Some(dir) = &work_dir {
                let inputs = match &references.ref_dir {
                    Some(refs) => reference_inputs(Inputs::new(), "--ref-dir", refs),
                    None => Inputs::new(),
                };
                // The naive run's cells and the pipeline's shard and cell store.
                let writes = |rel: &camino::Utf8Path| {
                    rel.starts_with(bench::NAIVE) || rel.starts_with(bench::PIPELINE)
                };
                outputs::check_folder("--work-dir", dir, writes, &inputs)?;
                outputs::claim_scratch("--work-dir", dir, WORK_MARKER, force.force)?;
            }
            let platform = platform::detect()?;
            let tools = Toolset::locate(&context.overrides)?;
            let work = bench::WorkDir::new(work_dir)?;
            let request = corpus::CorpusRequest {
                grid: grid.grid(references.references(&work.path().join("x"))?),
                out: work.path().join(bench::PIPELINE).join("shard.jsonl"),
                jobs: grid.jobs,
                threads: grid.threads,
                allow_failed_cells: false,
                cell_dir: None,
                force: true,
                audit_cells: 0,
            };
            bench::corpus(&request, &tools, &platform, work.path(), progress)?
        }
        BenchKind::Train {
            shards,
            seeds,
            fit,
            rows,
        } => {
            train::check_seeds(&seeds.seeds)?;
            let rules = merge::MergeRules {
                allow_mixed_vmaf: false,
                allow_missing_meta: true,
            };
            let corpus = merge::load(&shards.corpus, rules)?;
            let request = bench::TrainBench {
                seeds: seeds.seeds,
                recipe: fit.recipe.recipe(),
                jobs: budget::fits(fit.jobs)?,
                rows: rows.map(|n| n as usize),
            };
            bench::train(&request, &corpus, progress)?
        }
    };
    print!("{report}");
    Ok(0)
}
