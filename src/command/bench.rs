//! `bench`: the speed benchmarks, each against a baseline run in the same process.

use super::context::Context;
use super::flags::{
    references_required, FitArgs, GridArgs, ReferenceArgs, SeedArgs, ShardFileArgs,
};
use crate::error::Result;
use crate::tools::Toolset;
use crate::{bench, budget, corpus, platform};
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
        /// Scratch folder for both runs (default: a temporary folder).
        #[arg(long, value_name = "DIR")]
        work_dir: Option<Utf8PathBuf>,
    },
    /// `train` against our PyTorch implementation of the same recipe
    /// (scripts/reference/torch_loso.py), same corpus, seeds and jobs: speed, peak memory,
    /// and the difference in mean PLCC.
    Train {
        #[command(flatten)]
        shards: ShardFileArgs,
        #[command(flatten)]
        seeds: SeedArgs,
        #[command(flatten)]
        fit: FitArgs,
        /// The Python that has torch installed.
        #[arg(long, default_value = "python3")]
        python: String,
        /// The PyTorch reference script.
        #[arg(
            long,
            default_value = "scripts/reference/torch_loso.py",
            value_name = "PATH"
        )]
        torch_script: Utf8PathBuf,
        /// Scratch folder for both runs (default: a temporary folder).
        #[arg(long, value_name = "DIR")]
        work_dir: Option<Utf8PathBuf>,
    },
}

/// Runs one benchmark and prints its report.
pub fn bench(args: BenchArgs, context: &Context) -> Result<i32> {
    let progress = &context.progress;
    let report = match args.which {
        BenchKind::Corpus {
            references,
            grid,
            work_dir,
        } => {
            let platform = platform::detect()?;
            let tools = Toolset::locate(&context.overrides)?;
            let work = bench::WorkDir::new(work_dir)?;
            let request = corpus::CorpusRequest {
                grid: grid.grid(references.references(&work.path().join("x"))?),
                out: work.path().join("pipeline/shard.jsonl"),
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
            python,
            torch_script,
            work_dir,
        } => {
            let work = bench::WorkDir::new(work_dir)?;
            let jobs = budget::fits(fit.jobs)?;
            let request = bench::TrainBench {
                corpus: shards.corpus,
                seeds: seeds.seeds,
                epochs: fit.recipe.epochs,
                jobs,
                python,
                torch_script,
            };
            bench::train(&request, work.path(), progress)?
        }
    };
    print!("{report}");
    Ok(0)
}
