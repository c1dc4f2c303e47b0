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
//! Everything is a pure function of the values: the draws come from a ChaCha generator with a
//! fixed seed, and the arithmetic uses `libm` (pure Rust, no platform maths library) and
//! hand-rolled powers, so the interval has the same bits on every CPU.

use libm::{erfc, exp, log, sqrt};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// The interval's level: the central 90 % of the posterior of P(pass).
pub const CONFIDENCE: f64 = 0.90;
/// Posterior draws: enough that the interval's ends move by well under 0.01 between seeds of
/// the generator, few enough that `verdict` stays quick (≈ 50 ms).
pub const DRAWS: usize = 4000;
/// The generator's fixed seed.
const RNG_SEED: u64 = 22;
/// The quadrature runs over standardised values within ±`Z_MAX` (beyond, the normal density is
/// below 1e-14) in `STEPS` Simpson steps (at most 0.1 wide: error below 1e-4, far under the
/// posterior's own spread).
const Z_MAX: f64 = 8.0;
const STEPS: usize = 160;

/// The gate as the model sees it: every one of `subset_size` seeds at least `per_seed_min`,
/// and all of them within `spread_max` of each other (the mean rule then holds as well, since
/// its threshold is not above `per_seed_min`).
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Seeds per set.
    pub subset_size: usize,
    /// Lowest acceptable per-seed mean PLCC.
    pub per_seed_min: f64,
    /// Largest acceptable max − min.
    pub spread_max: f64,
}

// The model leaves out the gate's mean rule: it must follow from the per-seed rule.
const _: () = assert!(crate::learn::rule::MEAN_PLCC_THRESHOLD <= crate::learn::rule::PER_SEED_MIN);

impl Rule {
    /// The gate's rule for sets of `subset_size` seeds.
    pub fn gate(subset_size: usize) -> Self {
        Rule {
            subset_size,
            per_seed_min: crate::learn::rule::PER_SEED_MIN,
            spread_max: crate::learn::rule::PLCC_SPREAD_MAX,
        }
    }

    /// P(a set of independent N(mu, sigma²) values passes): the density of the smallest at m
    /// times the chance that the others lie in [m, m + spread], integrated over m ≥ the
    /// per-seed minimum: k ∫ φ(z) (Φ(z + w) − Φ(z))^(k−1) dz in standard units.
    pub fn p_pass(&self, mu: f64, sigma: f64) -> f64 {
        let k = self.subset_size;
        if k == 0 {
            return 1.0;
        }
        if sigma <= 0.0 || !sigma.is_finite() {
            return if mu >= self.per_seed_min { 1.0 } else { 0.0 };
        }
        let w = self.spread_max / sigma;
        let lower = ((self.per_seed_min - mu) / sigma).max(-Z_MAX);
        if lower >= Z_MAX {
            return 0.0;
        }
        let h = (Z_MAX - lower) / STEPS as f64;
        let f = |z: f64| density(z) * power(band(z, w), k - 1);
        let mut sum = f(lower) + f(Z_MAX);
        for i in 1..STEPS {
            let weight = if i % 2 == 1 { 4.0 } else { 2.0 };
            sum += weight * f(lower + i as f64 * h);
        }
        (k as f64 * sum * h / 3.0).clamp(0.0, 1.0)
    }
}

/// The central [`CONFIDENCE`] interval of the posterior of P(pass) given per-seed values.
/// Fewer than two values say nothing about the spread: [0, 1].
pub fn credible_interval(values: &[f64], rule: &Rule) -> [f64; 2] {
    credible_interval_with(values, rule, DRAWS)
}

/// [`credible_interval`] with a chosen number of posterior draws (tests use fewer).
pub(crate) fn credible_interval_with(values: &[f64], rule: &Rule, draws: usize) -> [f64; 2] {
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
    let mut normal = Normal::new();
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

/// Standard normal draws by Marsaglia's polar method (only `log` and `sqrt`, both from
/// `libm`), from the fixed-seed generator.
struct Normal {
    rng: ChaCha8Rng,
    spare: Option<f64>,
}

impl Normal {
    fn new() -> Self {
        Normal {
            rng: ChaCha8Rng::seed_from_u64(RNG_SEED),
            spare: None,
        }
    }

    fn uniform(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn next(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        loop {
            let u = 2.0 * self.uniform() - 1.0;
            let v = 2.0 * self.uniform() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                let f = sqrt(-2.0 * log(s) / s);
                self.spare = Some(v * f);
                return u * f;
            }
        }
    }
}

/// The standard normal density.
fn density(z: f64) -> f64 {
    exp(-0.5 * z * z) / sqrt(2.0 * std::f64::consts::PI)
}

/// Φ(z + w) − Φ(z), from whichever tail keeps its digits.
fn band(z: f64, w: f64) -> f64 {
    let upper = |x: f64| 0.5 * erfc(x / std::f64::consts::SQRT_2);
    if z >= 0.0 {
        upper(z) - upper(z + w)
    } else {
        upper(-(z + w)) - upper(-z)
    }
}

/// `x` to a whole power by repeated multiplication (the same bits everywhere, unlike `powi`).
fn power(x: f64, e: usize) -> f64 {
    (0..e).fold(1.0, |acc, _| acc * x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::rule;

    /// A Monte Carlo of the gate itself, with a fixed seed.
    fn simulated_p_pass(rule: &Rule, mu: f64, sigma: f64, trials: usize) -> f64 {
        let mut normal = Normal::new();
        let passed = (0..trials)
            .filter(|_| {
                let set: Vec<(u64, f64)> = (0..rule.subset_size)
                    .map(|i| (i as u64, mu + sigma * normal.next()))
                    .collect();
                rule::judge(&set).passed
            })
            .count();
        passed as f64 / trials as f64
    }

    #[test]
    fn the_quadrature_agrees_with_the_gate_simulated() {
        let rule = Rule::gate(5);
        for (mu, sigma) in [(0.955, 0.002), (0.952, 0.003), (0.97, 0.001), (0.96, 0.004)] {
            let exact = rule.p_pass(mu, sigma);
            let simulated = simulated_p_pass(&rule, mu, sigma, 200_000);
            assert!(
                (exact - simulated).abs() < 0.004,
                "mu {mu} sigma {sigma}: quadrature {exact}, simulation {simulated}"
            );
        }
        assert_eq!(rule.p_pass(0.96, 0.0), 1.0);
        assert_eq!(rule.p_pass(0.94, 0.0), 0.0);
        assert_eq!(rule.p_pass(0.5, 0.001), 0.0);
    }

    #[test]
    fn the_interval_does_not_depend_on_anything_but_the_values() {
        let values = [0.951, 0.953, 0.949, 0.955, 0.950, 0.948, 0.952, 0.954];
        let rule = Rule::gate(5);
        let a = credible_interval(&values, &rule);
        assert_eq!(a, credible_interval(&values, &rule));
        assert!(a[0] <= a[1] && a[0] >= 0.0 && a[1] <= 1.0, "{a:?}");
        let [lo, _] = credible_interval(&[0.97; 6], &rule);
        assert!(lo > 1.0 - 1e-9, "seeds that agree far above the line: {lo}");
        assert_eq!(credible_interval(&[0.97], &rule), [0.0, 1.0]);
    }

    /// Coverage: per-seed values drawn from normals whose P(pass) is known; the 90 % interval
    /// from `n` of them should contain it in about 90 % of the draws.
    fn coverage(mu: f64, sigma: f64, n: usize, replicates: usize) -> (f64, f64) {
        let rule = Rule::gate(5);
        let truth = rule.p_pass(mu, sigma);
        let mut data = ChaCha8Rng::seed_from_u64(7);
        let mut normal = Normal {
            rng: ChaCha8Rng::seed_from_u64(data.next_u64()),
            spare: None,
        };
        let covered = (0..replicates)
            .filter(|_| {
                let values: Vec<f64> = (0..n).map(|_| mu + sigma * normal.next()).collect();
                let [lo, hi] = credible_interval_with(&values, &rule, 400);
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
