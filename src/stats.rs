//! Agreement statistics between predictions and targets: PLCC, SROCC (average ranks for ties),
//! RMSE, and a Fisher-z confidence interval of a mean correlation. Undefined values (fewer than
//! two points, or a constant series) are `None`, never a crash or a NaN.

use statrs::statistics::{Data, OrderStatistics, RankTieBreaker};

/// Pearson's linear correlation; `None` for n < 2 or a constant series.
pub fn plcc(a: &[f64], b: &[f64]) -> Option<f64> {
    assert_eq!(a.len(), b.len(), "paired series");
    let n = a.len();
    if n < 2 {
        return None;
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / n as f64;
    let (ma, mb) = (mean(a), mean(b));
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (dx, dy) = (x - ma, y - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    let r = sab / (saa * sbb).sqrt();
    r.is_finite().then_some(r.clamp(-1.0, 1.0))
}

/// Spearman's rank correlation: PLCC of the ranks, ties sharing their average rank; `None`
/// when a value is not finite (a diverged model's NaN cannot be ranked, and statrs panics on it).
pub fn srocc(a: &[f64], b: &[f64]) -> Option<f64> {
    if !a.iter().chain(b).all(|v| v.is_finite()) {
        return None;
    }
    let ranks = |v: &[f64]| Data::new(v.to_vec()).ranks(RankTieBreaker::Average);
    plcc(&ranks(a), &ranks(b))
}

/// Each value rounded to 0.001: the nearest double to a three-decimal number, so it is written
/// with at most three decimals (compact per-row values in the LOSO files).
pub fn round_milli(values: &[f64]) -> Vec<f64> {
    values
        .iter()
        .map(|v| (v * 1000.0).round() / 1000.0)
        .collect()
}

/// Root mean squared error; `None` when empty.
pub fn rmse(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.is_empty() {
        return None;
    }
    let sum: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    Some((sum / a.len() as f64).sqrt())
}

/// Mean of the defined values; `None` when there are none.
pub fn mean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values
        .into_iter()
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// Sample standard deviation (ddof 1); `None` for fewer than two values.
pub fn sample_std(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let m = mean(values.iter().copied())?;
    let ss: f64 = values.iter().map(|v| (v - m) * (v - m)).sum();
    Some((ss / (values.len() - 1) as f64).sqrt())
}

/// The standard normal's 97.5 % quantile.
const Z_975: f64 = 1.959_963_984_540_054;

/// 95 % confidence interval of a mean correlation by Fisher's z: each correlation `r` from `n`
/// points gets the interval tanh(atanh(r) ± z₀.₉₇₅/√(n−3)); the mean's interval is the mean of
/// the lower and of the upper bounds (conservative: it assumes the folds' errors move together,
/// and it always brackets the mean). Pairs with n ≤ 3 carry no interval and are skipped;
/// `None` when none is left.
pub fn fisher_z_ci95(correlations: &[(f64, u64)]) -> Option<(f64, f64)> {
    // z₀.₉₇₅ as a constant, and atanh/tanh from the `libm` crate rather than the platform's C
    // library, so the interval has the same bits on every OS (SPEC §11).
    let bounds: Vec<(f64, f64)> = correlations
        .iter()
        .filter(|(_, n)| *n > 3)
        .map(|&(r, n)| {
            let z = libm::atanh(r.clamp(-0.999_999_999, 0.999_999_999));
            let half = Z_975 / ((n - 3) as f64).sqrt();
            (libm::tanh(z - half), libm::tanh(z + half))
        })
        .collect();
    let lo = mean(bounds.iter().map(|b| b.0))?;
    let hi = mean(bounds.iter().map(|b| b.1))?;
    Some((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [2.0, 4.0, 5.0, 4.0, 5.0];
        assert!((plcc(&a, &b).unwrap() - 0.774_596_669).abs() < 1e-8);
        // Ties in b share average ranks: b ranks = 1, 2.5, 4.5, 2.5, 4.5.
        assert!((srocc(&a, &b).unwrap() - 0.737_864_787).abs() < 1e-8);
        assert!((rmse(&a, &b).unwrap() - 1.8f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn rounded_values_print_with_three_decimals_at_most() {
        let rounded = round_milli(&[93.123_456_7, 0.000_4, -1.999_6, f64::from(87.654_32_f32)]);
        let printed = serde_json::to_string(&rounded).unwrap();
        assert_eq!(printed, "[93.123,0.0,-2.0,87.654]");
    }

    #[test]
    fn undefined_is_none() {
        assert_eq!(plcc(&[1.0], &[2.0]), None);
        assert_eq!(plcc(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(srocc(&[], &[]), None);
        assert_eq!(sample_std(&[0.9]), None);
        assert_eq!(fisher_z_ci95(&[(0.9, 3)]), None);
        assert_eq!(srocc(&[1.0, f64::NAN, 3.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(plcc(&[1.0, 2.0, 3.0], &[1.0, f64::INFINITY, 3.0]), None);
    }

    #[test]
    fn ci_brackets_the_mean() {
        let folds = [(0.97, 160), (0.98, 160), (0.99, 160), (0.40, 160)];
        let mean = folds.iter().map(|f| f.0).sum::<f64>() / 4.0;
        let (lo, hi) = fisher_z_ci95(&folds).unwrap();
        assert!(lo < mean && mean < hi && hi < 1.0, "{lo} {mean} {hi}");
    }
}
