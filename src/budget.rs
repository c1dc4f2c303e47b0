//! The one global thread budget: cells (or folds) run `jobs` at a time and each may use
//! `threads` threads, with `jobs × threads ≤ cores`.

use crate::error::{Error, Result};

/// Cores this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Resolves `--jobs` and `--threads` against the core count: by default one thread per job
/// and as many jobs as cores. A request over the budget is an input error.
pub fn split(jobs: Option<usize>, threads: Option<usize>) -> Result<(usize, usize)> {
    let cores = cores();
    let threads = threads.unwrap_or(1).max(1);
    let jobs = jobs.unwrap_or((cores / threads).max(1)).max(1);
    if jobs * threads > cores {
        return Err(Error::Input(format!(
            "--jobs {jobs} × --threads {threads} = {} exceeds this machine's {cores} cores; lower one of them",
            jobs * threads
        )));
    }
    Ok((jobs, threads))
}

/// Resolves `--jobs` for training fits, which are single-threaded each: one per core by
/// default, never more than the cores.
pub fn fits(jobs: Option<usize>) -> Result<usize> {
    Ok(split(jobs, Some(1))?.0)
}

/// A pool of `jobs` worker threads: the one way a stage runs work in parallel under the budget.
pub fn pool(jobs: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| Error::Environment(format!("could not start {jobs} worker threads: {e}")))
}
