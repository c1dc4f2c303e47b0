//! The gate's pass probability when per-seed mean PLCCs are independent normal values, to
//! the digits a posterior needs and with the same bits on every CPU: Simpson's rule over `libm`
//! functions (pure Rust, no platform maths library) and powers by repeated multiplication. The
//! interval's normal model evaluates it once per posterior draw; the fragile-fold model reads
//! the spread part of it from a table ([`within_spread`]).

use libm::{erfc, exp, log, sqrt};

/// The quadrature runs over standardised values within ±`Z_MAX` (beyond, the normal density is
/// below 1e-14) in `STEPS` Simpson steps (at most 0.1 wide: error below 1e-4, far under the
/// posterior's own spread).
const Z_MAX: f64 = 8.0;
const STEPS: usize = 160;
/// Widths at which [`within_spread`] computes the spread probability exactly.
const TABLE_NODES: usize = 256;

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

/// P(k standard normal values span at most w) for each w of `widths`: [`Rule::p_pass`] without
/// the per-seed minimum, which depends on w alone. So it is computed exactly at [`TABLE_NODES`]
/// widths evenly spaced in log w over the range asked for and interpolated (cubic Hermite,
/// error below 1e-5), instead of one quadrature per draw.
pub(super) fn within_spread(k: usize, widths: &[f64]) -> Vec<f64> {
    let exact = |w: f64| {
        let rule = Rule {
            subset_size: k,
            per_seed_min: f64::NEG_INFINITY,
            spread_max: w,
        };
        rule.p_pass(0.0, 1.0)
    };
    let logs: Vec<f64> = widths.iter().map(|&w| log(w)).collect();
    let (lo, hi) = logs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &u| {
            (lo.min(u), hi.max(u))
        });
    if widths.len() <= TABLE_NODES || !(lo.is_finite() && hi.is_finite()) || hi - lo <= 0.0 {
        return widths.iter().map(|&w| exact(w)).collect();
    }
    let step = (hi - lo) / (TABLE_NODES - 1) as f64;
    let nodes: Vec<f64> = (0..TABLE_NODES)
        .map(|i| exact(exp(lo + i as f64 * step)))
        .collect();
    let last = TABLE_NODES - 1;
    let slope = |i: usize| {
        let (a, b) = (i.saturating_sub(1), (i + 1).min(last));
        (nodes[b] - nodes[a]) / (b - a) as f64
    };
    logs.iter()
        .map(|&u| {
            let x = (u - lo) / step;
            let i = (x.floor() as usize).min(last - 1);
            let t = x - i as f64;
            let (t2, t3) = (t * t, t * t * t);
            (2.0 * t3 - 3.0 * t2 + 1.0) * nodes[i]
                + (t3 - 2.0 * t2 + t) * slope(i)
                + (-2.0 * t3 + 3.0 * t2) * nodes[i + 1]
                + (t3 - t2) * slope(i + 1)
        })
        .map(|p| p.clamp(0.0, 1.0))
        .collect()
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
pub(super) fn power(x: f64, e: usize) -> f64 {
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

    #[test]
    fn the_tabulated_spread_probability_agrees_with_the_quadrature() {
        for k in [2, 5, 9] {
            let widths: Vec<f64> = (0..2000).map(|i| 0.2 * exp(i as f64 * 0.0017)).collect();
            let tabulated = within_spread(k, &widths);
            for (w, p) in widths.iter().zip(tabulated).step_by(7) {
                let exact = within_spread(k, &[*w])[0];
                assert!((p - exact).abs() < 1e-5, "k {k} w {w}: {p} vs {exact}");
            }
        }
    }
}
