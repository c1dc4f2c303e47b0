//! How sure `p_promote` is (issue 22): a credible interval for the probability that a set of
//! `k` seeds passes the gate, from a model of the per-seed mean PLCC.
//!
//! The share of enumerated subsets describes the seeds at hand, not the training recipe: eight
//! seeds cannot tell a 2 % recipe from a 10 % one, and no resampling of those eight can show a
//! seed better or worse than the best or worst of them. So the per-seed mean PLCC is modelled as
//! normal with unknown mean μ and standard deviation σ (a mean over folds; seeds are independent
//! draws of the same training), with the reference prior p(μ, σ) ∝ 1/σ. Its posterior is
//! σ² | x ~ (n−1)s²/χ²ₙ₋₁ and μ | σ, x ~ N(x̄, σ²/n). For each of [`DRAWS`] posterior draws the
//! gate's pass probability is computed exactly (by quadrature, [`Rule::p_pass`]); the interval
//! is the central [`CONFIDENCE`] of those probabilities.
//!
//! Everything is a pure function of the values: the draws come from a fixed-seed generator
//! ([`draws`]) and the probabilities from [`quadrature`], so the interval has the same bits on
//! every CPU.

mod draws;
mod quadrature;

#[cfg(test)]
mod coverage;

use draws::Normal;
use libm::sqrt;
pub use quadrature::Rule;

/// The interval's level: the central 90 % of the posterior of P(pass).
pub const CONFIDENCE: f64 = 0.90;
/// Posterior draws: enough that the interval's ends move by well under 0.01 between seeds of
/// the generator, few enough that `verdict` stays quick (≈ 50 ms).
pub const DRAWS: usize = 4000;
/// The generator's fixed seed.
const RNG_SEED: u64 = 22;

/// The central [`CONFIDENCE`] interval of the posterior of P(pass) given per-seed values, from
/// `draws` posterior draws (the verdict's [`DRAWS`]; tests use fewer). Fewer than two values
/// say nothing about the spread: [0, 1].
pub fn credible_interval(values: &[f64], rule: &Rule, draws: usize) -> [f64; 2] {
    let n = values.len();
    if n < 2 || draws == 0 {
        return [0.0, 1.0];
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let squares: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
    if squares <= 0.0 {
        let p = rule.p_pass(mean, 0.0);
        return [p, p];
    }
    let mut normal = Normal::seeded(RNG_SEED);
    let mut ps: Vec<f64> = (0..draws)
        .map(|_| {
            let chi2: f64 = (1..n)
                .map(|_| {
                    let z = normal.next();
                    z * z
                })
                .sum();
            let sigma = sqrt(squares / chi2);
            let mu = mean + sigma / sqrt(n as f64) * normal.next();
            rule.p_pass(mu, sigma)
        })
        .collect();
    ps.sort_by(f64::total_cmp);
    let tail = (1.0 - CONFIDENCE) / 2.0;
    let lo = (tail * draws as f64).floor() as usize;
    let hi = ((1.0 - tail) * draws as f64).ceil() as usize;
    [ps[lo.min(draws - 1)], ps[hi.clamp(1, draws) - 1]]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::{RngCore, SeedableRng};

    #[test]
    fn the_interval_does_not_depend_on_anything_but_the_values() {
        let values = [0.951, 0.953, 0.949, 0.955, 0.950, 0.948, 0.952, 0.954];
        let rule = Rule::gate(5);
        let a = credible_interval(&values, &rule, DRAWS);
        assert_eq!(a, credible_interval(&values, &rule, DRAWS));
        assert!(a[0] <= a[1] && a[0] >= 0.0 && a[1] <= 1.0, "{a:?}");
        let [lo, _] = credible_interval(&[0.97; 6], &rule, DRAWS);
        assert!(lo > 1.0 - 1e-9, "seeds that agree far above the line: {lo}");
        assert_eq!(credible_interval(&[0.97], &rule, DRAWS), [0.0, 1.0]);
    }

    /// Coverage: per-seed values drawn from normals whose P(pass) is known; the 90 % interval
    /// from `n` of them should contain it in about 90 % of the draws.
    fn coverage(mu: f64, sigma: f64, n: usize, replicates: usize) -> (f64, f64) {
        let rule = Rule::gate(5);
        let truth = rule.p_pass(mu, sigma);
        let mut data = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut normal = Normal::seeded(data.next_u64());
        let covered = (0..replicates)
            .filter(|_| {
                let values: Vec<f64> = (0..n).map(|_| mu + sigma * normal.next()).collect();
                let [lo, hi] = credible_interval(&values, &rule, 400);
                lo <= truth && truth <= hi
            })
            .count();
        (truth, covered as f64 / replicates as f64)
    }

    #[test]
    fn the_interval_covers_the_true_probability_at_about_its_level() {
        let mut total = 0.0;
        let cases = [
            (0.951, 0.003, 8),
            (0.9545, 0.002, 8),
            (0.956, 0.0015, 8),
            (0.953, 0.002, 12),
            (0.958, 0.0012, 20),
        ];
        for (mu, sigma, n) in cases {
            let (truth, covered) = coverage(mu, sigma, n, 120);
            eprintln!("mu {mu} sigma {sigma} n {n}: P(pass) {truth:.3}, coverage {covered:.3}");
            total += covered;
        }
        let mean = total / cases.len() as f64;
        eprintln!("mean coverage {mean:.3}");
        assert!((0.84..=0.96).contains(&mean), "coverage {mean}");
    }
}
