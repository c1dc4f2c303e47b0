//! The gate's pass probability when per-seed mean PLCCs are independent normal values, to
//! the digits a posterior needs and with the same bits on every CPU: Simpson's rule over `libm`
//! functions (pure Rust, no platform maths library) and powers by repeated multiplication. The
//! interval's normal model evaluates it once per posterior draw.

use libm::{erfc, exp, sqrt};

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
    use super::super::draws::Normal;
    use super::*;
    use crate::learn::rule;

    /// A Monte Carlo of the gate itself, with a fixed seed.
    fn simulated_p_pass(rule: &Rule, mu: f64, sigma: f64, trials: usize) -> f64 {
        let mut normal = Normal::seeded(22);
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
}
