//! The second opinion: ridge regression on the same inputs and folds as the MLP, so an operator
//! sees whether the network earns its keep.
//!
//! Solved by its normal equations: one pass over the rows for the means, one accumulating the
//! centred XᵀX and Xᵀy (O(n·d²) with d = 20, linear in rows), then a Cholesky solve of the
//! d×d system. Everything is f64 with every sum in row order and plain IEEE operations (Rust
//! never fuses a multiply and an add), so the result has the same bits on every CPU.

use ndarray::Array2;

/// The ridge penalty (inputs are standardised, so one value suits every corpus).
pub const PENALTY: f64 = 1e-3;

/// A fitted ridge model: intercept and weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Ridge {
    /// The intercept.
    pub intercept: f64,
    /// One weight per input column.
    pub weights: Vec<f64>,
}

impl Ridge {
    /// Minimises (1/2n)·‖y − Xw − b‖² + (PENALTY/2)·‖w‖² — scikit-learn's ridge objective, and
    /// linfa's elastic net with no L1 part, which this replaces: with x̄, ȳ the means and Xc, yc
    /// the centred data, (XcᵀXc/n + PENALTY·I)·w = Xcᵀyc/n and b = ȳ − x̄·w. `None` without
    /// rows or when the system is not positive definite (non-finite inputs).
    ///
    /// `rows` yields each (input row, target) in order, once per pass (two passes), so the rows
    /// may be computed as they are read instead of held as a matrix.
    pub fn fit<R, I>(rows: impl Fn() -> I) -> Option<Ridge>
    where
        R: AsRef<[f32]>,
        I: Iterator<Item = (R, f32)>,
    {
        let (mut n, mut d) = (0usize, 0usize);
        let mut x_mean = Vec::new();
        let mut y_mean = 0f64;
        for (row, t) in rows() {
            let row = row.as_ref();
            if n == 0 {
                d = row.len();
                x_mean = vec![0f64; d];
            }
            n += 1;
            for (m, &v) in x_mean.iter_mut().zip(row) {
                *m += f64::from(v);
            }
            y_mean += f64::from(t);
        }
        if n == 0 {
            return None;
        }
        x_mean.iter_mut().for_each(|m| *m /= n as f64);
        y_mean /= n as f64;

        // Upper triangle of XcᵀXc (row-major d×d) and Xcᵀyc.
        let mut gram = vec![0f64; d * d];
        let mut xty = vec![0f64; d];
        let mut centred = vec![0f64; d];
        for (row, t) in rows() {
            for ((c, &v), m) in centred.iter_mut().zip(row.as_ref()).zip(&x_mean) {
                *c = f64::from(v) - m;
            }
            let t = f64::from(t) - y_mean;
            for i in 0..d {
                let ci = centred[i];
                for (g, &cj) in gram[i * d + i..(i + 1) * d].iter_mut().zip(&centred[i..]) {
                    *g += ci * cj;
                }
                xty[i] += ci * t;
            }
        }
        for i in 0..d {
            for j in i..d {
                gram[i * d + j] /= n as f64;
                gram[j * d + i] = gram[i * d + j];
            }
            gram[i * d + i] += PENALTY;
            xty[i] /= n as f64;
        }
        let weights = cholesky_solve(&mut gram, xty, d)?;
        let intercept = y_mean - dot(&x_mean, &weights);
        Some(Ridge { intercept, weights })
    }

    /// Predictions for the rows of `x`.
    pub fn predict(&self, x: &Array2<f32>) -> Vec<f64> {
        x.rows()
            .into_iter()
            .map(|row| {
                row.iter()
                    .zip(&self.weights)
                    .fold(self.intercept, |acc, (&v, w)| acc + f64::from(v) * w)
            })
            .collect()
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).fold(0.0, |acc, (x, y)| acc + x * y)
}

/// Solves `a·w = b` for a symmetric positive definite row-major `d×d` matrix `a` (overwritten
/// by its Cholesky factor L, a = L·Lᵀ); `None` if a pivot is not positive.
fn cholesky_solve(a: &mut [f64], mut b: Vec<f64>, d: usize) -> Option<Vec<f64>> {
    for j in 0..d {
        let pivot = a[j * d + j] - dot(&a[j * d..j * d + j], &a[j * d..j * d + j]);
        if !(pivot > 0.0 && pivot.is_finite()) {
            return None;
        }
        let l_jj = pivot.sqrt();
        a[j * d + j] = l_jj;
        for i in j + 1..d {
            let s = a[i * d + j] - dot(&a[i * d..i * d + j], &a[j * d..j * d + j]);
            a[i * d + j] = s / l_jj;
        }
    }
    // L·z = b, then Lᵀ·w = z.
    for i in 0..d {
        b[i] = (b[i] - dot(&a[i * d..i * d + i], &b[..i])) / a[i * d + i];
    }
    for i in (0..d).rev() {
        let s = (i + 1..d).fold(b[i], |acc, k| acc - a[k * d + i] * b[k]);
        b[i] = s / a[i * d + i];
    }
    Some(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array1;

    /// The rows of a matrix with their targets, as [`Ridge::fit`] reads them.
    fn fit_matrix(x: &Array2<f32>, y: &Array1<f32>) -> Option<Ridge> {
        Ridge::fit(|| {
            x.rows()
                .into_iter()
                .map(|r| r.to_vec())
                .zip(y.iter().copied())
        })
    }

    /// Two strongly correlated inputs, a constant one and noise: the closed form of the 2×2
    /// system (Cramer's rule) is what the fit must give, to rounding — an iterative solver
    /// stopped at a tolerance (linfa's coordinate descent) is off by far more.
    #[test]
    fn matches_the_closed_form_of_two_correlated_inputs() {
        let n = 200;
        let t: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
        let x = Array2::from_shape_fn((n, 3), |(i, j)| match j {
            0 => t[i] as f32,
            1 => (t[i] + 0.05 * (i as f64 * 1.3).cos()) as f32,
            _ => 1.0,
        });
        let y: Array1<f32> = (0..n)
            .map(|i| (2.0 * t[i] - 1.0 + 0.1 * (i as f64 * 2.1).sin()) as f32)
            .collect();
        let fit = fit_matrix(&x, &y).unwrap();

        let col = |j: usize| {
            x.column(j)
                .iter()
                .map(|&v| f64::from(v))
                .collect::<Vec<_>>()
        };
        let (a, b) = (col(0), col(1));
        let yv: Vec<f64> = y.iter().map(|&v| f64::from(v)).collect();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / n as f64;
        let cov = |u: &[f64], v: &[f64]| {
            let (mu, mv) = (mean(u), mean(v));
            u.iter()
                .zip(v)
                .map(|(p, q)| (p - mu) * (q - mv))
                .sum::<f64>()
                / n as f64
        };
        let (saa, sbb, sab) = (cov(&a, &a) + PENALTY, cov(&b, &b) + PENALTY, cov(&a, &b));
        let (say, sby) = (cov(&a, &yv), cov(&b, &yv));
        let det = saa * sbb - sab * sab;
        let wa = (say * sbb - sab * sby) / det;
        let wb = (saa * sby - sab * say) / det;
        let intercept = mean(&yv) - wa * mean(&a) - wb * mean(&b);

        assert!(
            (fit.weights[0] - wa).abs() < 1e-9,
            "{} vs {wa}",
            fit.weights[0]
        );
        assert!(
            (fit.weights[1] - wb).abs() < 1e-9,
            "{} vs {wb}",
            fit.weights[1]
        );
        assert_eq!(fit.weights[2], 0.0, "a constant column carries no weight");
        assert!((fit.intercept - intercept).abs() < 1e-9);
        let predicted = fit.predict(&x);
        let expected = intercept + wa * a[7] + wb * b[7];
        assert!((predicted[7] - expected).abs() < 1e-9);
    }

    #[test]
    fn no_rows_or_non_finite_inputs_give_none() {
        assert!(fit_matrix(&Array2::zeros((0, 3)), &Array1::zeros(0)).is_none());
        let mut x = Array2::<f32>::ones((4, 2));
        x[[1, 0]] = f32::NAN;
        assert!(fit_matrix(&x, &Array1::ones(4)).is_none());
    }
}
