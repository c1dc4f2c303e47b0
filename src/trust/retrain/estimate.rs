//! How long `verify --retrain` will take, said before it starts, and refused past a limit.
//!
//! Training costs the same per row and epoch whatever the corpus (the network's size is fixed),
//! so the work is counted in row-epochs: a seed file trains every fold on the rows of every
//! other source, `epochs × rows × (folds − 1)` (each row trains in all folds but its own); a
//! model is fitted once on every row, `epochs × rows`. The speed is measured here, not assumed:
//! one-epoch fits of the bundle's own rows, with each batch size the recipes ask for, for
//! [`CALIBRATION`] on one core. CPU time is row-epochs over that speed; the wall time divides
//! it by the fits run at once, which is a floor, since parallel fits share caches and memory.

use crate::error::{Error, Result};
use crate::learn::train::{self, Dataset, Recipe};
use std::time::{Duration, Instant};

/// The most CPU minutes `--retrain` takes unless `--max-retrain-minutes` allows more. On the
/// 2-core development machine (about 200,000 row-epochs per second per core, measured) the
/// gate's five seeds of SPEC §6's recipe on a 20,000-row corpus need about 15 of them.
pub const DEFAULT_MAX_MINUTES: u64 = 60;

/// How long the speed is measured for.
pub const CALIBRATION: Duration = Duration::from_millis(300);

/// Rows of the bundle's corpus one calibration fit trains on.
const CALIBRATION_ROWS: usize = 2_048;

/// One kind of fit the re-training runs: its recipe and how many row-epochs it needs.
pub struct Fits {
    batch_size: usize,
    row_epochs: f64,
}

impl Fits {
    /// `files` seed files of `recipe`: every fold of each, on `data`.
    pub fn loso(recipe: &Recipe, files: usize, data: &Dataset) -> Fits {
        let folds = data.sources.len().saturating_sub(1) as f64;
        Fits {
            batch_size: recipe.batch_size,
            row_epochs: files as f64 * recipe.epochs as f64 * data.len() as f64 * folds,
        }
    }

    /// One model of `recipe` fitted on all of `data`.
    pub fn model(recipe: &Recipe, data: &Dataset) -> Fits {
        Fits {
            batch_size: recipe.batch_size,
            row_epochs: recipe.epochs as f64 * data.len() as f64,
        }
    }
}

/// What the re-training will cost on this machine.
#[derive(Debug, Clone, Copy)]
pub struct Estimate {
    /// Rows trained, times epochs, over every fit.
    pub row_epochs: f64,
    /// Row-epochs one core trains per second here, at the slowest batch size asked for.
    pub per_second: f64,
    /// CPU seconds: row-epochs over the measured speed, per batch size.
    pub cpu_seconds: f64,
    /// Fits run at once.
    pub jobs: usize,
}

impl Estimate {
    /// Measures this machine's speed on `data` and adds up `work`.
    pub fn of(work: &[Fits], data: &Dataset, jobs: usize) -> Estimate {
        let mut sizes: Vec<usize> = work.iter().map(|f| f.batch_size).collect();
        sizes.sort_unstable();
        sizes.dedup();
        let speeds: Vec<(usize, f64)> = sizes.iter().map(|&b| (b, speed(data, b))).collect();
        let speed_of = |b: usize| {
            speeds
                .iter()
                .find(|(size, _)| *size == b)
                .map_or(f64::MIN_POSITIVE, |(_, s)| *s)
        };
        Estimate {
            row_epochs: work.iter().map(|f| f.row_epochs).sum(),
            per_second: speeds.iter().map(|(_, s)| *s).fold(f64::INFINITY, f64::min),
            cpu_seconds: work
                .iter()
                .map(|f| f.row_epochs / speed_of(f.batch_size))
                .sum(),
            jobs: jobs.max(1),
        }
    }

    /// Refuses an estimate over `max_minutes` CPU minutes, saying how to allow it.
    pub fn allowed(&self, max_minutes: u64) -> Result<()> {
        let minutes = self.cpu_seconds / 60.0;
        if minutes <= max_minutes as f64 {
            return Ok(());
        }
        Err(Error::Input(format!(
            "{self}, more than --max-retrain-minutes {max_minutes} allows; nothing was trained. If the bundle's recipes and corpus are what you expect, pass --max-retrain-minutes {}",
            minutes.ceil().min(u64::MAX as f64) as u64
        )))
    }
}

impl std::fmt::Display for Estimate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let minutes = self.cpu_seconds / 60.0;
        write!(
            f,
            "retraining needs {:.3e} row-epochs; at the {:.0} row-epochs per second one core trains here, about {} of CPU time ({} on {} core(s))",
            self.row_epochs,
            self.per_second,
            duration(minutes),
            duration(minutes / self.jobs as f64),
            self.jobs
        )
    }
}

/// Minutes in words: "12.5 minutes", "3.2 hours", "4.1e9 years".
fn duration(minutes: f64) -> String {
    match minutes {
        m if m < 120.0 => format!("{m:.1} minutes"),
        m if m < 48.0 * 60.0 => format!("{:.1} hours", m / 60.0),
        m if m < 1e4 * 525_600.0 => format!("{:.1} days", m / 1440.0),
        m => format!("{:.1e} years", m / 525_600.0),
    }
}

/// Row-epochs per second one core trains with mini-batches of `batch_size`: one-epoch fits of
/// `data`'s first rows, repeated for [`CALIBRATION`].
fn speed(data: &Dataset, batch_size: usize) -> f64 {
    let rows: Vec<usize> = (0..data.len().min(CALIBRATION_ROWS)).collect();
    let scaling = data.scaling(&rows);
    let recipe = Recipe {
        epochs: 1,
        batch_size,
        ..Recipe::default()
    };
    let started = Instant::now();
    let mut trained = 0u64;
    while started.elapsed() < CALIBRATION {
        train::fit(data, &rows, &scaling, &recipe, &mut train::rng_for(0, 0));
        trained += rows.len() as u64;
    }
    trained as f64 / started.elapsed().as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_the_unit_that_fits() {
        assert_eq!(duration(12.54), "12.5 minutes");
        assert_eq!(duration(300.0), "5.0 hours");
        assert_eq!(duration(1e6 * 525_600.0), "1.0e6 years");
    }

    #[test]
    fn an_estimate_over_the_limit_is_refused_naming_the_flag() {
        let estimate = Estimate {
            row_epochs: 1e12,
            per_second: 1e6,
            cpu_seconds: 1e6,
            jobs: 2,
        };
        let err = estimate.allowed(60).unwrap_err().to_string();
        assert!(
            err.contains("about 11.6 days of CPU time (5.8 days on 2 core(s))"),
            "{err}"
        );
        assert!(err.contains("--max-retrain-minutes 16667"), "{err}");
        assert!(estimate.allowed(20_000).is_ok());
    }
}
