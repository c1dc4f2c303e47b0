//! `--stability K|auto` (issue 22): how many further seeds `train` and `full` train, beyond the
//! judged ones, for the stability estimate. It drives training rounds and judges them, so it
//! sits above the gate. With
//! `auto`, seeds are added in batches until the stability label is decided (robust or fragile)
//! or a cap is reached. Training is deterministic per seed, so seeds added later are the seeds
//! a single larger run would have trained.

use crate::error::{Error, Result};
use crate::learn::gate;
use crate::learn::stability::describe;
use crate::progress::Progress;
use crate::schema::{LosoSeed, StabilityLabel};

/// Further seeds `full` trains by default: enough for a first estimate of `p_promote` (56
/// five-seed sets out of eight seeds) while `full --demo` stays under half a minute on two cores
/// (measured: 27 s with 3, 32 s with 5).
pub const FULL_DEFAULT_FURTHER_SEEDS: u64 = 3;

/// Most further seeds one run may train: far beyond what an estimate needs, well below what
/// would exhaust memory.
pub const MAX_FURTHER_SEEDS: u64 = 1000;

/// `seeds` followed by `further` more, numbered on from the largest of them (5…K+4 after the
/// gate's 0–4).
pub fn with_further_seeds(seeds: &[u64], further: u64) -> Result<Vec<u64>> {
    if further > MAX_FURTHER_SEEDS {
        return Err(Error::Input(format!(
            "--stability {further} is more than {MAX_FURTHER_SEEDS} further seeds; a few dozen give a good estimate"
        )));
    }
    let next = seeds.iter().max().map_or(Some(0), |m| m.checked_add(1));
    let end = next.and_then(|n| n.checked_add(further));
    match (next, end) {
        (Some(next), Some(end)) => Ok(seeds.iter().copied().chain(next..end).collect()),
        _ => Err(Error::Input(
            "--seeds leaves no room for further seed numbers after the largest; use smaller seeds"
                .into(),
        )),
    }
}

/// Further seeds `auto` trains first (the default of `full`: 56 five-seed sets of eight).
pub const AUTO_FIRST: u64 = FULL_DEFAULT_FURTHER_SEEDS;
/// Further seeds `auto` adds per round while the label is undecided.
pub const AUTO_BATCH: u64 = 8;
/// Most further seeds `auto` trains (45 seeds in all with the gate's five: enough to tell a
/// P(pass) of 0.02 from 0.10 when the seeds are not borderline).
pub const AUTO_MAX: u64 = 40;

/// `--stability K` (K further seeds) or `--stability auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FurtherSeeds {
    /// Exactly this many.
    Count(u64),
    /// Batches until the label is decided, at most [`AUTO_MAX`].
    Auto,
}

impl FurtherSeeds {
    /// The most further seeds this setting may train.
    pub fn most(self) -> u64 {
        match self {
            FurtherSeeds::Count(k) => k,
            FurtherSeeds::Auto => AUTO_MAX,
        }
    }
}

impl std::str::FromStr for FurtherSeeds {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s == "auto" {
            return Ok(FurtherSeeds::Auto);
        }
        s.parse().map(FurtherSeeds::Count).map_err(|_| {
            format!("`{s}` is neither a number of further seeds nor `auto` (e.g. --stability 8)")
        })
    }
}

impl std::fmt::Display for FurtherSeeds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FurtherSeeds::Count(k) => write!(f, "{k}"),
            FurtherSeeds::Auto => f.write_str("auto"),
        }
    }
}

/// Trains the `judged` seeds and further ones through `train` (which trains exactly the seeds
/// it is given, reusing finished ones, and returns their results in that order): `K` of them,
/// or with `auto` rounds of [`AUTO_BATCH`] until the label is decided or [`AUTO_MAX`] are
/// trained, saying after each round where the estimate stands. Returns every seed trained.
pub fn train_further(
    judged: &[u64],
    further: FurtherSeeds,
    progress: &Progress,
    mut train: impl FnMut(&[u64]) -> Result<Vec<LosoSeed>>,
) -> Result<Vec<LosoSeed>> {
    let all = with_further_seeds(judged, further.most())?;
    let first = match further {
        FurtherSeeds::Count(k) => return train(&all[..judged.len() + k as usize]),
        FurtherSeeds::Auto => AUTO_FIRST as usize,
    };
    let mut done = train(&all[..judged.len() + first])?;
    loop {
        let count = done.len() - judged.len();
        let Some(stability) = assess(judged, &done)? else {
            progress.info(&format!(
                "--stability auto stops after {} seeds: a seed has no defined mean PLCC, so the gate cannot judge sets of them",
                done.len()
            ));
            return Ok(done);
        };
        let now = describe(&stability);
        if stability.label != StabilityLabel::Undecided {
            progress.info(&format!(
                "--stability auto: decided after {} seeds: {now}",
                done.len()
            ));
            return Ok(done);
        }
        if count as u64 >= AUTO_MAX {
            progress.info(&format!(
                "--stability auto: still undecided at its cap of {AUTO_MAX} further seeds ({} in all): {now}",
                done.len()
            ));
            return Ok(done);
        }
        let next = (count + AUTO_BATCH as usize).min(AUTO_MAX as usize);
        progress.info(&format!(
            "--stability auto: {now}; training seeds {}–{} (cap {AUTO_MAX} further)",
            all[judged.len() + count],
            all[judged.len() + next - 1]
        ));
        done.extend(train(&all[judged.len() + count..judged.len() + next])?);
    }
}

/// The stability block over the seeds trained so far, as `verdict` will compute it; `None`
/// when a seed has no defined mean PLCC.
fn assess(judged: &[u64], done: &[LosoSeed]) -> Result<Option<crate::schema::Stability>> {
    if done.iter().any(|s| s.mean_plcc.is_none()) {
        return Ok(None);
    }
    let (judged_seeds, others): (Vec<LosoSeed>, Vec<LosoSeed>) =
        done.iter().cloned().partition(|s| judged.contains(&s.seed));
    let judgement = gate::judgement(&judged_seeds, others, crate::schema::IntervalModel::CURRENT)?;
    judgement.stability.map(Some).ok_or_else(|| {
        Error::Input(
            "--stability auto: the further seeds were not trained like the judged ones".into(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn further_seeds_are_a_count_or_auto() {
        assert_eq!("auto".parse(), Ok(FurtherSeeds::Auto));
        assert_eq!("7".parse(), Ok(FurtherSeeds::Count(7)));
        assert!("many"
            .parse::<FurtherSeeds>()
            .unwrap_err()
            .contains("`many`"));
        assert_eq!(FurtherSeeds::Auto.to_string(), "auto");
        assert_eq!(FurtherSeeds::Auto.most(), AUTO_MAX);
    }

    /// Runs `auto` with a stand-in trainer whose seed `n` has mean PLCC `mean(n)`; returns the
    /// batches it was asked to train.
    fn batches(mean: impl Fn(u64) -> f64) -> Vec<Vec<u64>> {
        let dir = camino::Utf8PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/reference/loso"
        ));
        let template = gate::read_seed(&dir, 0).unwrap();
        let progress = Progress::new(crate::progress::Verbosity::Quiet, false);
        let mut asked = Vec::new();
        let judged = [0, 1, 2, 3, 4];
        let trained = train_further(&judged, FurtherSeeds::Auto, &progress, |seeds| {
            asked.push(seeds.to_vec());
            Ok(seeds
                .iter()
                .map(|&n| LosoSeed {
                    seed: n,
                    mean_plcc: Some(mean(n)),
                    ..template.clone()
                })
                .collect())
        })
        .unwrap();
        let all: Vec<u64> = asked.concat();
        assert_eq!(trained.iter().map(|s| s.seed).collect::<Vec<_>>(), all);
        asked
    }

    #[test]
    fn auto_stops_as_soon_as_the_label_is_decided() {
        let asked = batches(|n| 0.975 + 0.0001 * (n % 3) as f64);
        assert_eq!(asked, vec![(0..8).collect::<Vec<u64>>()]);
    }

    #[test]
    fn auto_adds_batches_up_to_its_cap_while_undecided() {
        const BORDERLINE: [f64; 8] = [0.949, 0.951, 0.953, 0.954, 0.955, 0.952, 0.948, 0.947];
        let asked = batches(|n| BORDERLINE[n as usize % 8]);
        let sizes: Vec<usize> = asked.iter().map(Vec::len).collect();
        assert_eq!(sizes, [8, 8, 8, 8, 8, 5]);
        assert_eq!(asked.concat(), (0..45).collect::<Vec<u64>>());
    }
}
