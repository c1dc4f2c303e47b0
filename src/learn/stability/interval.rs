//! How sure `p_promote` is (issues 22 and 29): a credible interval for the probability that a
//! set of `k` seeds passes the gate, from models of the per-seed mean PLCC.
//!
//! The share of enumerated subsets describes the seeds at hand, not the training recipe: eight
//! seeds cannot tell a 2 % recipe from a 10 % one. And real per-seed means are not normal: a
//! fragile fold that fails now and then pulls a seed's mean down, so they are skewed, with a
//! second cluster under the main one. A normal model alone then puts the whole interval under
//! the truth (issue 29: five blocks of 8 of 40 seeds whose P(pass) is 0.045 gave upper ends
//! 0.036–0.043). So three models are drawn ([`DRAWS`] each) and the interval is the union of
//! their central [`CONFIDENCE`] ranges — honest when any one of them describes the seeds:
//!
//! - **Normal** ([`normal_model`]): the per-seed means are normal with unknown μ and σ under the
//!   reference prior p(μ, σ) ∝ 1/σ, so σ² | x ~ (n−1)s²/χ²ₙ₋₁ and μ | σ, x ~ N(x̄, σ²/n); per
//!   draw the gate's pass probability is exact ([`Rule::p_pass`]). It extrapolates beyond the
//!   seeds seen, from their mean and spread.
//! - **Fragile fold** ([`hurdle_model`]): since seeds are independent, P(pass) = g^k · R
//!   exactly, with g = P(a seed ≥ the per-seed minimum) and R = P(k such seeds lie within the
//!   spread). How many seeds clear the line is a binomial count whatever the shape, so g gets
//!   Clopper and Pearson's interval; R comes from the normal model of the seeds that clear it.
//! - **Bootstrap** ([`bootstrap_model`]): Dirichlet(1, …, 1) weights on the seeds (the Bayesian
//!   bootstrap) and, per draw, the weighted share of the k-seed subsets that pass: any shape,
//!   no extrapolation beyond the seeds seen.
//!
//! Measured coverage, in the tails and on skewed seeds, is in [`coverage`] and README. What no
//! interval from n seeds can do: see a failure that shows in none of them (a fold that fails
//! once in fifty seeds), unless it also refuses ever to call eight or forty clean seeds robust.
//!
//! Everything is a pure function of the values: the draws come from fixed-seed generators
//! ([`draws`]) and the probabilities from [`quadrature`], so the interval has the same bits on
//! every CPU.

mod draws;
mod quadrature;

#[cfg(test)]
mod coverage;

use crate::schema::IntervalModel;
use draws::Normal;
use libm::sqrt;
pub use quadrature::Rule;
use quadrature::{power, within_spread};

/// The interval's level: the central 90 % of the posterior of P(pass).
pub const CONFIDENCE: f64 = 0.90;
/// Posterior draws per model: enough that the interval's ends move by well under 0.01 between
/// seeds of the generators, few enough that `verdict` stays quick.
pub const DRAWS: usize = 4000;
/// The normal models' generator's fixed seed.
const RNG_SEED: u64 = 22;
/// The bootstrap weights' generator's fixed seed.
const WEIGHTS_SEED: u64 = 29;
/// The fixed seed of the fragile-fold model's extra seed weight.
const EXTRA_SEED: u64 = 7;

/// The union of the three models' central [`CONFIDENCE`] intervals of P(pass) given per-seed
/// values, from `draws` posterior draws each (the verdict's [`DRAWS`]; tests use fewer). Fewer
/// than two values say nothing about the spread: [0, 1].
pub fn credible_interval(values: &[f64], rule: &Rule, draws: usize) -> [f64; 2] {
    if values.len() < 2 || draws == 0 {
        return [0.0, 1.0];
    }
    if rule.subset_size == 0 {
        return [1.0, 1.0];
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let weights = dirichlet_draws(sorted.len(), draws);
    let bootstrap = bootstrap_model(&sorted, rule, &weights);
    [
        Some(central(normal_model(&sorted, rule, draws))),
        Some(hurdle_model(&sorted, rule, &weights)),
        (!bootstrap.is_empty()).then(|| central(bootstrap)),
    ]
    .into_iter()
    .flatten()
    .fold([1.0, 0.0], |[lo, hi], [a, b]| [lo.min(a), hi.max(b)])
}

/// The central [`CONFIDENCE`] interval of P(pass) drawn by `model`: [`credible_interval`] for
/// this kit's model, [`normal_alone`] for a verdict written before it.
pub fn credible_interval_by(
    model: IntervalModel,
    values: &[f64],
    rule: &Rule,
    draws: usize,
) -> [f64; 2] {
    match model {
        IntervalModel::NormalFragileBootstrap => credible_interval(values, rule, draws),
        IntervalModel::Normal => normal_alone(values, rule, draws),
    }
}

/// The interval every verdict carried before issue 29, bit for bit: the normal model alone,
/// over the values in the order the verdict pooled them (its sums run in that order).
fn normal_alone(values: &[f64], rule: &Rule, draws: usize) -> [f64; 2] {
    if values.len() < 2 || draws == 0 {
        return [0.0, 1.0];
    }
    central(normal_model(values, rule, draws))
}

/// The central [`CONFIDENCE`] of a posterior sample. Adding 0 turns the −0 of an empty sum
/// (a draw in which no subset passes) into 0, so no interval is written as starting at −0.
fn central(mut ps: Vec<f64>) -> [f64; 2] {
    let draws = ps.len();
    ps.sort_by(f64::total_cmp);
    let tail = (1.0 - CONFIDENCE) / 2.0;
    let lo = (tail * draws as f64).floor() as usize;
    let hi = ((1.0 - tail) * draws as f64).ceil() as usize;
    [
        ps[lo.min(draws - 1)] + 0.0,
        ps[hi.clamp(1, draws) - 1] + 0.0,
    ]
}

/// P(pass) per draw of the normal model's posterior of (μ, σ) given `values` (at least two).
fn normal_model(values: &[f64], rule: &Rule, draws: usize) -> Vec<f64> {
    normal_posterior(values, draws).map_or_else(
        || vec![rule.p_pass(values[0], 0.0); draws],
        |posterior| {
            posterior
                .map(|(mu, sigma)| rule.p_pass(mu, sigma))
                .collect()
        },
    )
}

/// Draws of (μ, σ) from the normal model's posterior given `values`, from the fixed-seed
/// generator; `None` when the values do not vary (σ is then 0).
fn normal_posterior(values: &[f64], draws: usize) -> Option<impl Iterator<Item = (f64, f64)>> {
    let n = values.len();
    let mean = values.iter().sum::<f64>() / n as f64;
    let squares: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
    if squares <= 0.0 {
        return None;
    }
    let mut normal = Normal::seeded(RNG_SEED);
    Some((0..draws).map(move |_| {
        let chi2: f64 = (1..n)
            .map(|_| {
                let z = normal.next();
                z * z
            })
            .sum();
        let sigma = sqrt(squares / chi2);
        let mu = mean + sigma / sqrt(n as f64) * normal.next();
        (mu, sigma)
    }))
}

/// The fragile-fold model's interval of P(pass) = g^k · R: g = P(a seed is at or above the
/// per-seed minimum), R the normal model's probability that k of those seeds lie within the
/// spread (1 when fewer than two of them, or all equal, leave nothing to tell). The m of n
/// seeds at or above the line are a binomial count, so g's interval is Clopper and Pearson's,
/// which holds g at its level whatever g is: the lower end draws g from Beta(m, n − m + 1) and
/// the upper end from Beta(m + 1, n − m), i.e. one more seed below, or above, the line than
/// were seen (the bootstrap weights of the seeds, `weights` one row per draw, plus an extra
/// one). With no seed below the line the lower end takes g = 1: a failure that never showed
/// in n seeds cannot be counted (see the module doc).
fn hurdle_model(sorted: &[f64], rule: &Rule, weights: &[Vec<f64>]) -> [f64; 2] {
    let first = sorted.partition_point(|&v| v < rule.per_seed_min);
    let passing = &sorted[first..];
    let posterior = (passing.len() >= 2)
        .then(|| normal_posterior(passing, weights.len()))
        .flatten();
    let within: Vec<f64> = match posterior {
        Some(posterior) => {
            let widths: Vec<f64> = posterior
                .map(|(_, sigma)| rule.spread_max / sigma)
                .collect();
            within_spread(rule.subset_size, &widths)
        }
        None => vec![1.0; weights.len()],
    };
    let mut extra = Normal::seeded(EXTRA_SEED);
    let (lows, highs): (Vec<f64>, Vec<f64>) = weights
        .iter()
        .zip(within)
        .map(|(w, within)| {
            let above: f64 = w[first..].iter().sum();
            let below: f64 = w[..first].iter().sum();
            let one_more = extra.exponential();
            let total = above + below + one_more;
            let g_low = if first == 0 { 1.0 } else { above / total };
            let g_high = (above + one_more) / total;
            let k = rule.subset_size;
            (power(g_low, k) * within, power(g_high, k) * within)
        })
        .unzip();
    [central(lows)[0], central(highs)[1]]
}

/// Per draw, the share of k-seed subsets that pass with each subset weighted by the product of
/// its seeds' weights: Σ over the lowest seed j of a passing subset of w_j e_{k−1}(weights of
/// the seeds above j within the spread) / e_k(all weights). With equal weights it is the counted
/// share. Empty when there are fewer than k seeds.
fn bootstrap_model(sorted: &[f64], rule: &Rule, weights: &[Vec<f64>]) -> Vec<f64> {
    let k = rule.subset_size;
    if sorted.len() < k {
        return Vec::new();
    }
    // The seeds a passing subset with lowest seed j may hold besides j: j+1..end[j].
    let end: Vec<usize> = (0..sorted.len())
        .map(|j| {
            j + 1
                + sorted[j + 1..]
                    .iter()
                    .take_while(|&&v| v - sorted[j] <= rule.spread_max)
                    .count()
        })
        .collect();
    weights
        .iter()
        .map(|w| {
            let passing: f64 = (0..sorted.len())
                .filter(|&j| sorted[j] >= rule.per_seed_min && end[j] - j >= k)
                .map(|j| w[j] * symmetric(&w[j + 1..end[j]], k - 1))
                .sum();
            (passing / symmetric(w, k)).clamp(0.0, 1.0)
        })
        .collect()
}

/// The elementary symmetric polynomial e_k of `w`: the sum over k-subsets of their products.
fn symmetric(w: &[f64], k: usize) -> f64 {
    let mut e = vec![0.0; k + 1];
    e[0] = 1.0;
    for &x in w {
        for j in (1..=k).rev() {
            e[j] += e[j - 1] * x;
        }
    }
    e[k]
}

/// `draws` rows of Dirichlet(1, …, 1) weights on `n` seeds, unnormalised (independent
/// exponentials), from a fixed-seed generator of their own.
fn dirichlet_draws(n: usize, draws: usize) -> Vec<Vec<f64>> {
    let mut generator = Normal::seeded(WEIGHTS_SEED);
    (0..draws)
        .map(|_| (0..n).map(|_| generator.exponential()).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let [lo, hi] = credible_interval(&[0.93, 0.94, 0.945, 0.92, 0.935], &rule, DRAWS);
        assert!(
            lo == 0.0 && lo.is_sign_positive() && hi < 0.05,
            "all under the line: {lo} {hi}"
        );
        let mut reversed = values;
        reversed.reverse();
        assert_eq!(
            credible_interval(&reversed, &rule, DRAWS),
            a,
            "the order of the seeds"
        );
    }

    /// Six of eight seeds clear the line, in a cluster far tighter than the spread (R = 1): the
    /// fragile-fold model's ends are Clopper and Pearson's 90 % bounds on g, to the fifth power
    /// (g in [0.40031, 0.95361], from the binomial sums), within the draws' own noise.
    #[test]
    fn the_fragile_fold_model_counts_like_clopper_and_pearson() {
        let sorted = [0.90, 0.91, 0.9600, 0.9601, 0.9602, 0.9603, 0.9604, 0.9605];
        let [lo, hi] = hurdle_model(&sorted, &Rule::gate(5), &dirichlet_draws(8, DRAWS));
        let (exact_lo, exact_hi) = (power(0.40031, 5), power(0.95361, 5));
        assert!((lo / exact_lo - 1.0).abs() < 0.2, "{lo} vs {exact_lo}");
        assert!((hi / exact_hi - 1.0).abs() < 0.03, "{hi} vs {exact_hi}");
        let clean = [0.9600, 0.9601, 0.9602, 0.9603, 0.9604, 0.9605];
        let [lo, _] = hurdle_model(&clean, &Rule::gate(5), &dirichlet_draws(6, DRAWS));
        assert!(lo > 0.99, "no seed under the line: nothing to count ({lo})");
    }

    #[test]
    fn the_bootstrap_with_equal_weights_is_the_counted_share() {
        let values = [
            0.9512, 0.9531, 0.9488, 0.9549, 0.9503, 0.9470, 0.9526, 0.9541, 0.9519,
        ];
        let rule = Rule::gate(5);
        let per_seed: Vec<(u64, f64)> = (0u64..).zip(values).collect();
        let counted = crate::learn::stability::count(&per_seed, 5, |set| {
            crate::learn::rule::judge(set).passed
        });
        let (passed, subsets) = (counted.passed, counted.evaluated);
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let share = bootstrap_model(&sorted, &rule, &[vec![1.0; values.len()]])[0];
        assert!(
            (share - passed as f64 / subsets as f64).abs() < 1e-12,
            "{share} {passed}"
        );
        assert!(passed > 0 && passed < subsets);
    }
}
