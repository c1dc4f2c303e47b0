//! The gate's three rules (SPEC §7), the one place that knows their thresholds: PROMOTE iff the
//! mean over seeds of `mean_plcc` ≥ 0.95, the seed-to-seed spread ≤ 0.005 and every seed
//! ≥ 0.95. The gate, the stability estimate and `compare` all judge through it.

use crate::schema::Gate;
use std::collections::BTreeMap;

/// Lowest acceptable mean over seeds of `mean_plcc`.
pub const MEAN_PLCC_THRESHOLD: f64 = 0.95;
/// Largest acceptable max − min of the per-seed `mean_plcc`.
pub const PLCC_SPREAD_MAX: f64 = 0.005;
/// Lowest acceptable `mean_plcc` of any single seed.
pub const PER_SEED_MIN: f64 = 0.95;

/// Applies the three rules to (seed, mean PLCC) pairs.
pub fn judge(per_seed: &[(u64, f64)]) -> Gate {
    judge_with(
        per_seed,
        [MEAN_PLCC_THRESHOLD, PLCC_SPREAD_MAX, PER_SEED_MIN],
    )
}

/// Applies the three rules with the given [mean threshold, spread maximum, per-seed minimum]:
/// how `compare` re-judges a verdict file from its own numbers and thresholds.
pub fn judge_with(per_seed: &[(u64, f64)], thresholds: [f64; 3]) -> Gate {
    let [mean_threshold, spread_max, per_seed_min] = thresholds;
    let values: Vec<f64> = per_seed.iter().map(|(_, p)| *p).collect();
    let mean_plcc = values.iter().sum::<f64>() / values.len() as f64;
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let plcc_spread = max - min;
    let failing_seeds: Vec<u64> = per_seed
        .iter()
        .filter(|(_, p)| *p < per_seed_min)
        .map(|(s, _)| *s)
        .collect();
    let mean_plcc_pass = mean_plcc >= mean_threshold;
    let plcc_spread_pass = plcc_spread <= spread_max;
    let per_seed_pass = failing_seeds.is_empty();
    Gate {
        passed: mean_plcc_pass && plcc_spread_pass && per_seed_pass,
        mean_plcc,
        mean_plcc_threshold: mean_threshold,
        mean_plcc_pass,
        plcc_spread,
        plcc_spread_max: spread_max,
        plcc_spread_pass,
        per_seed_plccs: per_seed
            .iter()
            .map(|(s, p)| (s.to_string(), *p))
            .collect::<BTreeMap<_, _>>(),
        per_seed_min,
        per_seed_pass,
        failing_seeds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(judge(&[(0, 0.97), (1, 0.972)]).passed);
        let by_mean = judge(&[(0, 0.949), (1, 0.9485)]);
        assert!(!by_mean.mean_plcc_pass && by_mean.plcc_spread_pass);
        let by_spread = judge(&[(0, 0.96), (1, 0.97)]);
        assert!(by_spread.mean_plcc_pass && !by_spread.plcc_spread_pass);
        let weak = judge(&[(0, 0.9502), (1, 0.9499), (2, 0.953)]);
        assert!(weak.mean_plcc_pass && weak.plcc_spread_pass && !weak.per_seed_pass);
        assert_eq!(weak.failing_seeds, vec![1]);
    }
}
