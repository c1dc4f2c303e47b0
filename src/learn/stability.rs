//! How much a verdict hinges on luck (issue 12): which sources make the seeds disagree, and —
//! when more seeds than the gate's five were trained on the same folds — how often a random
//! set of five would pass the gate.
//!
//! The gate is defined over seeds 0–4 and the verdict keeps judging exactly those, so that it
//! compares with the reference kit's. On a corpus where one source's fold PLCC swings from seed
//! to seed, whether those five pass is a coin toss; a confirmation that disagrees with the
//! owner's verdict means something only when both say how fragile they are.
//!
//! How sure the share is (issue 22) comes from [`interval`]; the label — robust, fragile or
//! undecided — is read off that interval, never off the point estimate alone.

pub mod interval;

use crate::progress::outside;
use crate::schema::{FoldDiagnosis, IntervalModel, LosoSeed, Stability, StabilityLabel, Verdict};
use crate::stats;
use rand_core::{RngCore, SeedableRng};
use std::collections::BTreeMap;

/// The per-source table printed by `train`, `verdict` and `full`. "share of spread" is each
/// source's part of the seed-to-seed spread of the mean PLCC (see [`diagnose`]): 0–100 %,
/// summing to 100 % over the sources.
pub fn render_diagnosis(diagnosis: &[FoldDiagnosis]) -> String {
    let f = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{v:.4}"));
    let names: Vec<String> = diagnosis.iter().map(|d| outside(&d.source)).collect();
    let width = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .max(6);
    let mut text = format!(
        "  {:<width$}  mean PLCC     min     max     std  share of spread\n",
        "source"
    );
    for (d, name) in diagnosis.iter().zip(&names) {
        text.push_str(&format!(
            "  {name:<width$}  {:>9}  {:>6}  {:>6}  {:>6}  {:>13.1} %\n",
            f(d.mean_plcc),
            f(d.min_plcc),
            f(d.max_plcc),
            f(d.std_plcc),
            100.0 * d.spread_share
        ));
    }
    text
}

/// Largest number of seed subsets evaluated one by one; beyond it, [`SAMPLED_SUBSETS`] random
/// ones estimate the share.
pub const EXACT_SUBSETS_MAX: u64 = 100_000;
/// Random subsets drawn when the exact count is too large.
pub const SAMPLED_SUBSETS: u64 = 20_000;
/// An interval of `p_promote` wholly above this makes the verdict a robust PROMOTE (see
/// [`label`]).
pub const ROBUST_PROMOTE_ABOVE: f64 = 0.95;
/// An interval of `p_promote` wholly below this makes the verdict a robust HOLD.
pub const ROBUST_HOLD_BELOW: f64 = 0.05;
/// A source drives the spread when its share is at least this many times its fair share
/// (1 / folds) and at least [`DRIVER_SHARE_MIN`]; at most [`DRIVERS_MAX`] are named.
const DRIVER_FAIR_SHARES: f64 = 2.0;
const DRIVER_SHARE_MIN: f64 = 0.2;
const DRIVERS_MAX: usize = 3;

/// Per source, its fold PLCC across `seeds` and its share of the spread of the per-seed mean
/// PLCC. The variance of the mean splits exactly into per-source parts cov(fold PLCC, seed
/// mean) / folds, but a part is negative for a source that moves against the others — a
/// "−5 %" no reader can place. So negative parts count 0 (that source steadies the mean) and
/// the rest are normalised: shares in [0, 1] that sum to 1 when the seeds disagree at all.
pub fn diagnose(seeds: &[LosoSeed]) -> Vec<FoldDiagnosis> {
    let means: Vec<f64> = seeds.iter().map(|s| s.mean_plcc.unwrap_or(0.0)).collect();
    let mut by_source: BTreeMap<&str, Vec<Option<f64>>> = BTreeMap::new();
    for seed in seeds {
        for fold in &seed.folds {
            by_source
                .entry(fold.held_out.as_str())
                .or_default()
                .push(fold.plcc);
        }
    }
    let variance = covariance(&means, &means);
    let parts: Vec<f64> = by_source
        .values()
        .map(|plccs| {
            let defined: Vec<f64> = plccs.iter().flatten().copied().collect();
            match (defined.len() == means.len(), variance) {
                (true, Some(v)) if v > 0.0 => {
                    covariance(&defined, &means).map_or(0.0, |c| c.max(0.0))
                }
                _ => 0.0,
            }
        })
        .collect();
    let widening: f64 = parts.iter().sum();
    by_source
        .into_iter()
        .zip(parts)
        .map(|((source, plccs), part)| {
            let defined: Vec<f64> = plccs.iter().flatten().copied().collect();
            let share = if widening > 0.0 { part / widening } else { 0.0 };
            FoldDiagnosis {
                source: source.to_owned(),
                mean_plcc: stats::mean(defined.iter().copied()),
                min_plcc: defined.iter().copied().reduce(f64::min),
                max_plcc: defined.iter().copied().reduce(f64::max),
                std_plcc: stats::sample_std(&defined),
                spread_share: share,
            }
        })
        .collect()
}

/// The sources that drive the seed spread: those whose share is well above their fair share,
/// largest first. Empty when no source stands out (the seeds disagree everywhere alike).
pub fn driving_sources(diagnosis: &[FoldDiagnosis]) -> Vec<String> {
    let fair = 1.0 / diagnosis.len().max(1) as f64;
    let threshold = (DRIVER_FAIR_SHARES * fair).max(DRIVER_SHARE_MIN);
    let mut ranked: Vec<&FoldDiagnosis> = diagnosis
        .iter()
        .filter(|d| d.spread_share >= threshold)
        .collect();
    ranked.sort_by(|a, b| b.spread_share.total_cmp(&a.spread_share));
    ranked
        .into_iter()
        .take(DRIVERS_MAX)
        .map(|d| d.source.clone())
        .collect()
}

/// The stability block: over all subsets of `judged.len()` seeds drawn from the judged and the
/// further seeds (see [`count`]), the share that `passes` (the gate) accepts, with its
/// [`interval`] and [`label`].
pub fn estimate(
    judged: &[LosoSeed],
    further: &[LosoSeed],
    passes: impl Fn(&[(u64, f64)]) -> bool,
    model: IntervalModel,
) -> Stability {
    let pooled: Vec<&LosoSeed> = judged.iter().chain(further).collect();
    let per_seed: Vec<(u64, f64)> = pooled
        .iter()
        .map(|s| (s.seed, s.mean_plcc.unwrap_or(0.0)))
        .collect();
    let k = judged.len();
    let counted = count(&per_seed, k, passes);
    let p_promote = counted.passed as f64 / counted.evaluated.max(1) as f64;
    let pooled_owned: Vec<LosoSeed> = pooled.into_iter().cloned().collect();
    let values: Vec<f64> = per_seed.iter().map(|(_, p)| *p).collect();
    let p_promote_interval = widened_interval(model, &values, k, p_promote, interval::DRAWS);
    Stability {
        seeds: per_seed.iter().map(|(s, _)| *s).collect(),
        subset_size: k as u64,
        subsets: counted.evaluated,
        all_subsets: counted.exact,
        p_promote,
        p_promote_interval,
        interval_model: model,
        confidence: interval::CONFIDENCE,
        per_seed_plcc_std: stats::sample_std(&values).unwrap_or(0.0),
        label: label(p_promote_interval),
        driving_sources: driving_sources(&diagnose(&pooled_owned)),
    }
}

/// How many `k`-seed sets of `per_seed` were judged, and how many of them `passes` accepts.
pub(crate) struct Counted {
    pub passed: u64,
    pub evaluated: u64,
    /// Every set was judged (else [`SAMPLED_SUBSETS`] drawn ones).
    pub exact: bool,
}

/// Judges every `k`-subset of `per_seed` when there are at most [`EXACT_SUBSETS_MAX`], else
/// [`SAMPLED_SUBSETS`] drawn with a fixed-seed ChaCha generator, so the count is reproducible.
pub(crate) fn count(
    per_seed: &[(u64, f64)],
    k: usize,
    passes: impl Fn(&[(u64, f64)]) -> bool,
) -> Counted {
    let total = n_choose_k(per_seed.len() as u64, k as u64);
    let exact = total <= EXACT_SUBSETS_MAX;
    let mut passed = 0u64;
    let mut evaluated = 0u64;
    let mut judge = |subset: &[usize]| {
        let chosen: Vec<(u64, f64)> = subset.iter().map(|&i| per_seed[i]).collect();
        evaluated += 1;
        if passes(&chosen) {
            passed += 1;
        }
    };
    if exact {
        for_each_subset(per_seed.len(), k, &mut judge);
    } else {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let mut indices: Vec<usize> = (0..per_seed.len()).collect();
        for _ in 0..SAMPLED_SUBSETS {
            for i in 0..k {
                let j = i + (rng.next_u64() % (indices.len() - i) as u64) as usize;
                indices.swap(i, j);
            }
            judge(&indices[..k]);
        }
    }
    Counted {
        passed,
        evaluated,
        exact,
    }
}

/// The interval a verdict carries: the models' interval of P(a `k`-seed set passes) from
/// `draws` posterior draws each, widened to hold the counted share `p_promote`: where none of
/// the models fits the seeds, the label can only become less sure.
pub(crate) fn widened_interval(
    model: IntervalModel,
    values: &[f64],
    k: usize,
    p_promote: f64,
    draws: usize,
) -> [f64; 2] {
    let [lo, hi] = interval::credible_interval_by(model, values, &interval::Rule::gate(k), draws);
    [lo.min(p_promote), hi.max(p_promote)]
}

/// The label an interval of `p_promote` earns: robust only when all of it lies beyond 0.95 (or
/// below 0.05), fragile when all of it lies within [0.05, 0.95], undecided otherwise.
pub fn label([lo, hi]: [f64; 2]) -> StabilityLabel {
    if lo > ROBUST_PROMOTE_ABOVE {
        StabilityLabel::RobustPromote
    } else if hi < ROBUST_HOLD_BELOW {
        StabilityLabel::RobustHold
    } else if lo >= ROBUST_HOLD_BELOW && hi <= ROBUST_PROMOTE_ABOVE {
        StabilityLabel::Fragile
    } else {
        StabilityLabel::Undecided
    }
}

impl StabilityLabel {
    /// The verdict nearly every set of seeds gives, for a robust label.
    pub fn robust_verdict(self) -> Option<Verdict> {
        match self {
            StabilityLabel::RobustPromote => Some(Verdict::Promote),
            StabilityLabel::RobustHold => Some(Verdict::Hold),
            StabilityLabel::Fragile | StabilityLabel::Undecided => None,
        }
    }

    /// Whether other seeds would give `verdict` nearly always: robust, and robustly that.
    pub fn backs(self, verdict: Verdict) -> bool {
        self.robust_verdict() == Some(verdict)
    }
}

impl std::fmt::Display for StabilityLabel {
    /// The words every output uses: `robust PROMOTE`, `robust HOLD`, `fragile`, `undecided`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.robust_verdict() {
            Some(v) => write!(f, "robust {v}"),
            None if *self == StabilityLabel::Fragile => f.write_str("fragile"),
            None => f.write_str("undecided"),
        }
    }
}

/// One line on a stability block, for the verdict text, `compare` and the Action summary:
/// "robust PROMOTE: P(a 5-seed set passes) 0.98–1.00 (90 % interval; 1.00 of 56 sets of 8
/// seeds)", with the advice to train more seeds when undecided.
pub fn describe(s: &Stability) -> String {
    let [lo, hi] = s.p_promote_interval;
    let advice = if s.label == StabilityLabel::Undecided {
        ": train more seeds (`--stability K` or `--stability auto`)"
    } else {
        ""
    };
    format!(
        "{}{advice}: P(a {}-seed set passes) {lo:.2}–{hi:.2} ({:.0} % interval; {:.3} of {} {}sets of {} seeds)",
        s.label,
        s.subset_size,
        100.0 * s.confidence,
        s.p_promote,
        s.subsets,
        if s.all_subsets { "" } else { "sampled " },
        s.seeds.len()
    )
}

/// Sample covariance (ddof 1) of two equally long series; `None` below two values.
fn covariance(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len();
    if n < 2 || b.len() != n {
        return None;
    }
    let (ma, mb) = (
        stats::mean(a.iter().copied())?,
        stats::mean(b.iter().copied())?,
    );
    Some(
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - ma) * (y - mb))
            .sum::<f64>()
            / (n - 1) as f64,
    )
}

fn n_choose_k(n: u64, k: u64) -> u64 {
    if k > n {
        return 0;
    }
    let mut result: u128 = 1;
    for i in 0..k.min(n - k) {
        result = result * u128::from(n - i) / u128::from(i + 1);
        if result > u128::from(u64::MAX) {
            return u64::MAX;
        }
    }
    result as u64
}

/// Calls `each` with every `k`-subset of `0..n`, in lexicographic order.
fn for_each_subset(n: usize, k: usize, each: &mut impl FnMut(&[usize])) {
    if k > n {
        return;
    }
    let mut subset: Vec<usize> = (0..k).collect();
    loop {
        each(&subset);
        let Some(i) = (0..k).rev().find(|&i| subset[i] < n - k + i) else {
            return;
        };
        subset[i] += 1;
        for j in i + 1..k {
            subset[j] = subset[j - 1] + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_label_follows_the_whole_interval() {
        use StabilityLabel::*;
        assert_eq!(label([0.96, 1.0]), RobustPromote);
        assert_eq!(label([0.0, 0.04]), RobustHold);
        assert_eq!(label([0.05, 0.95]), Fragile);
        assert_eq!(label([0.2, 0.6]), Fragile);
        assert_eq!(
            label([0.0, 0.1]),
            Undecided,
            "a point near 0.02 is not enough"
        );
        assert_eq!(label([0.9, 1.0]), Undecided);
        assert_eq!(label([0.0, 1.0]), Undecided);
        assert_eq!(RobustHold.to_string(), "robust HOLD");
        assert!(RobustPromote.backs(Verdict::Promote) && !RobustHold.backs(Verdict::Promote));
    }

    #[test]
    fn subsets_are_counted_and_enumerated() {
        assert_eq!(n_choose_k(10, 5), 252);
        assert_eq!(n_choose_k(45, 5), 1_221_759);
        assert_eq!(n_choose_k(3, 5), 0);
        let mut seen = Vec::new();
        for_each_subset(4, 2, &mut |s| seen.push(s.to_vec()));
        assert_eq!(
            seen,
            [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]].map(|a| a.to_vec())
        );
    }
}
