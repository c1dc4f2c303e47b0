//! How often the 90 % interval of P(a 5-seed set passes) holds the true probability (issue 29
//! item 7), in the tails where a verdict is read as robust: true P in [0.01, 0.1] and in
//! [0.9, 0.99].
//!
//! Per-seed mean PLCC is drawn from a plain normal or from the shape real corpora give: most
//! seeds in a tight cluster, and with probability q one fragile fold of ten drops by D, pulling
//! the seed's mean down by D / 10 (skewed, not normal). The true probability of each shape is a
//! Monte Carlo of the gate itself ([`rule::judge`]); the interval is the one
//! [`stability::estimate`] writes into a verdict, beside the one it wrote before issue 29 (the
//! normal model alone). Everything has a fixed seed, so the table comes out the same on every
//! run (README shows it):
//!
//! `cargo test --release --lib learn::stability::interval::coverage::coverage_table -- --ignored --nocapture`

use super::{Normal, Rule};
use crate::learn::{rule, stability};
use crate::schema::IntervalModel;
use rayon::prelude::*;

/// Folds of the fragile shapes (the field report's ten camera clips).
const FOLDS: f64 = 10.0;
/// Seeds per set, as the gate judges them.
const K: usize = 5;

/// A generating distribution of the per-seed mean PLCC.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// N(mu, sigma²).
    Normal { mu: f64, sigma: f64 },
    /// base + N(0, s²), minus `fold_drop` / [`FOLDS`] with probability `q`.
    Fragile {
        base: f64,
        s: f64,
        q: f64,
        fold_drop: f64,
    },
}

impl Shape {
    fn draw(&self, normal: &mut Normal) -> f64 {
        match *self {
            Shape::Normal { mu, sigma } => mu + sigma * normal.next(),
            Shape::Fragile {
                base,
                s,
                q,
                fold_drop,
            } => {
                let value = base + s * normal.next();
                if normal.uniform() < q {
                    value - fold_drop / FOLDS
                } else {
                    value
                }
            }
        }
    }

    /// P(the fragile fold fails in at most one of `n` seeds): how often n seeds show it too
    /// faintly to measure (none for a normal).
    fn faint(&self, n: usize) -> Option<f64> {
        match *self {
            Shape::Normal { .. } => None,
            Shape::Fragile { q, .. } => {
                let clean = (1.0 - q).powi(n as i32 - 1);
                Some(clean * (1.0 - q) + n as f64 * q * clean)
            }
        }
    }

    fn describe(&self) -> String {
        match *self {
            Shape::Normal { mu, sigma } => format!("normal {mu} ± {sigma}"),
            Shape::Fragile {
                base,
                s,
                q,
                fold_drop,
            } => format!(
                "fragile {base} ± {s}, one fold −{fold_drop} in {:.0} % of seeds",
                100.0 * q
            ),
        }
    }
}

/// P(a set of [`K`] seeds drawn from `shape` passes), by the gate itself over `sets` sets.
fn true_p(shape: Shape, sets: usize, seed: u64) -> f64 {
    let mut normal = Normal::seeded(seed);
    let passed = (0..sets)
        .filter(|_| {
            let set: Vec<(u64, f64)> = (0..K as u64)
                .map(|i| (i, shape.draw(&mut normal)))
                .collect();
            rule::judge(&set).passed
        })
        .count();
    passed as f64 / sets as f64
}

/// `replicates` data sets of `n` seeds each, drawn in order from one fixed-seed generator.
fn data_sets(shape: Shape, n: usize, replicates: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut normal = Normal::seeded(seed);
    (0..replicates)
        .map(|_| (0..n).map(|_| shape.draw(&mut normal)).collect())
        .collect()
}

/// The two intervals of one data set, from `draws` posterior draws: `[before, now]`. Both hold
/// the counted share, as [`stability::estimate`] makes them; before issue 29 the model was the
/// normal one alone.
fn intervals(values: &[f64], draws: usize) -> [[f64; 2]; 2] {
    let per_seed: Vec<(u64, f64)> = (0u64..).zip(values.iter().copied()).collect();
    let counted = stability::count(&per_seed, K, |set| rule::judge(set).passed);
    let share = counted.passed as f64 / counted.evaluated as f64;
    [IntervalModel::Normal, IntervalModel::CURRENT]
        .map(|model| stability::widened_interval(model, values, K, share, draws))
}

/// How a set of intervals fared against the truth.
struct Score {
    /// The share that holds the truth.
    coverage: f64,
    mean_width: f64,
    /// The shares wholly under the truth and wholly over it.
    under: f64,
    over: f64,
    /// The share whose label is robust the wrong way: robust PROMOTE while the truth is at most
    /// 0.95, or robust HOLD while it is at least 0.05.
    wrongly_robust: f64,
}

fn score(intervals: &[[f64; 2]], truth: f64) -> Score {
    let share = |f: &dyn Fn(f64, f64) -> bool| {
        intervals.iter().filter(|[lo, hi]| f(*lo, *hi)).count() as f64 / intervals.len() as f64
    };
    Score {
        coverage: share(&|lo, hi| lo <= truth && truth <= hi),
        mean_width: intervals.iter().map(|[lo, hi]| hi - lo).sum::<f64>() / intervals.len() as f64,
        under: share(&|_, hi| hi < truth),
        over: share(&|lo, _| lo > truth),
        wrongly_robust: share(&|lo, hi| {
            (lo > stability::ROBUST_PROMOTE_ABOVE && truth <= stability::ROBUST_PROMOTE_ABOVE)
                || (hi < stability::ROBUST_HOLD_BELOW && truth >= stability::ROBUST_HOLD_BELOW)
        }),
    }
}

/// The scores of both intervals, `[before, now]`, over `replicates` data sets of `n` seeds.
fn study(
    shape: Shape,
    truth: f64,
    n: usize,
    replicates: usize,
    draws: usize,
    seed: u64,
) -> [Score; 2] {
    let both: Vec<[[f64; 2]; 2]> = data_sets(shape, n, replicates, seed)
        .par_iter()
        .map(|values| intervals(values, draws))
        .collect();
    [0, 1].map(|i| score(&both.iter().map(|b| b[i]).collect::<Vec<_>>(), truth))
}

/// The study's settings: six with true P in [0.01, 0.1], six in [0.9, 0.99]. The last low one
/// is the field report's shape (a tight cluster just over the line, and a fold that sinks
/// nearly half the seeds far under it: P 0.045); the last two high ones are fragile folds that
/// seldom show in 8–21 seeds.
const SETTINGS: [Shape; 12] = [
    Shape::Normal {
        mu: 0.9505,
        sigma: 0.003,
    },
    Shape::Normal {
        mu: 0.951,
        sigma: 0.0025,
    },
    Shape::Fragile {
        base: 0.9535,
        s: 0.0008,
        q: 0.46,
        fold_drop: 0.06,
    },
    Shape::Fragile {
        base: 0.953,
        s: 0.001,
        q: 0.4,
        fold_drop: 0.06,
    },
    Shape::Fragile {
        base: 0.9535,
        s: 0.0008,
        q: 0.6,
        fold_drop: 0.06,
    },
    FIELD_REPORT,
    Shape::Normal {
        mu: 0.96,
        sigma: 0.0013,
    },
    Shape::Normal {
        mu: 0.9555,
        sigma: 0.0012,
    },
    Shape::Fragile {
        base: 0.958,
        s: 0.0006,
        q: 0.3,
        fold_drop: 0.03,
    },
    Shape::Fragile {
        base: 0.958,
        s: 0.0007,
        q: 0.3,
        fold_drop: 0.03,
    },
    Shape::Fragile {
        base: 0.958,
        s: 0.0007,
        q: 0.15,
        fold_drop: 0.03,
    },
    Shape::Fragile {
        base: 0.96,
        s: 0.0007,
        q: 0.02,
        fold_drop: 0.12,
    },
];

/// The field report in shape: P(pass) 0.045, and the normal model's interval wholly
/// under it.
const FIELD_REPORT: Shape = Shape::Fragile {
    base: 0.953,
    s: 0.001,
    q: 0.46,
    fold_drop: 0.1,
};

/// The data sets' generator's seed for setting `s` at `n` seeds (the test reuses the table's).
fn data_seed(s: usize, n: usize) -> u64 {
    100 * s as u64 + n as u64
}

/// The coverage table: every setting at 8, 13 and 21 seeds, 1,000 intervals each, with the
/// verdict's [`super::DRAWS`]. Slow (72,000 intervals), hence ignored; run it with the command
/// in the module doc.
#[test]
#[ignore]
fn coverage_table() {
    const REPLICATES: usize = 1000;
    const TRUTH_SETS: usize = 2_000_000;
    println!("| setting | true P | seeds | P(fold fails in ≤ 1 seed) | intervals | coverage before | coverage now | width before → now | now: under P / over P | wrongly robust before → now |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (s, &shape) in SETTINGS.iter().enumerate() {
        let truth = true_p(shape, TRUTH_SETS, 1_000 + s as u64);
        for n in [8, 13, 21] {
            let [before, now] = study(shape, truth, n, REPLICATES, super::DRAWS, data_seed(s, n));
            println!(
                "| {} | {truth:.3} | {n} | {} | {REPLICATES} | {:.3} | **{:.3}** | {:.2} → {:.2} | {:.3} / {:.3} | {:.3} → {:.3} |",
                shape.describe(),
                shape.faint(n).map_or("—".into(), |p| format!("{p:.2}")),
                before.coverage,
                now.coverage,
                before.mean_width,
                now.mean_width,
                now.under,
                now.over,
                before.wrongly_robust,
                now.wrongly_robust,
            );
        }
    }
}

/// Issue 29 item 7, the acceptance: on skewed per-seed means where the normal model alone (the
/// interval before issue 29) held the truth far less often than 90 %, the interval now holds it
/// at least 90 % of the time — the field report's shape (P 0.045) and a low-tail one
/// (P 0.078) at 8 seeds, and a high-tail one (P 0.93) at 21. 400 of the table's data sets
/// each, 400 posterior draws (the table's 4,000 give the same picture); fixed seeds, so the
/// figures are the same on every run.
#[test]
fn the_interval_holds_the_truth_on_skewed_seeds_where_the_normal_model_did_not() {
    const REPLICATES: usize = 400;
    for (s, n) in [(5, 8), (3, 8), (9, 21)] {
        let shape = SETTINGS[s];
        let truth = true_p(shape, 200_000, 1_000 + s as u64);
        let [before, now] = study(shape, truth, n, REPLICATES, 400, data_seed(s, n));
        eprintln!(
            "{} at {n} seeds: P {truth:.3}, coverage before {:.3}, now {:.3} (under {:.3}, over {:.3})",
            shape.describe(),
            before.coverage,
            now.coverage,
            now.under,
            now.over
        );
        assert!(
            before.coverage < 0.85,
            "{}: the study lost its case",
            shape.describe()
        );
        assert!(
            now.coverage >= 0.9,
            "{} at {n} seeds: coverage {} < 0.9 (true P {truth})",
            shape.describe(),
            now.coverage
        );
    }
}

/// On normal per-seed means whose P(pass) is known exactly ([`Rule::p_pass`]), spread across
/// the range, the interval holds it about as often as it says: not much less (dishonest), nor
/// nearly always (too wide to tell a robust verdict from a fragile one).
#[test]
fn the_interval_covers_normal_seeds_at_about_its_level() {
    const REPLICATES: usize = 120;
    let rule = Rule::gate(K);
    let cases = [
        (0.951, 0.003, 8),
        (0.9545, 0.002, 8),
        (0.956, 0.0015, 8),
        (0.953, 0.002, 12),
        (0.958, 0.0012, 20),
    ];
    let mut total = 0.0;
    for (c, (mu, sigma, n)) in cases.into_iter().enumerate() {
        let truth = rule.p_pass(mu, sigma);
        let shape = Shape::Normal { mu, sigma };
        let [_, now] = study(shape, truth, n, REPLICATES, 400, 7 + c as u64);
        eprintln!(
            "{} n {n}: P(pass) {truth:.3}, coverage {:.3}",
            shape.describe(),
            now.coverage
        );
        total += now.coverage;
    }
    let mean = total / cases.len() as f64;
    eprintln!("mean coverage {mean:.3}");
    assert!((0.84..=0.96).contains(&mean), "coverage {mean}");
}
