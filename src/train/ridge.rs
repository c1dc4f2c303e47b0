//! The second opinion: ridge regression (linfa's elastic net with no L1 part) on the same
//! inputs and folds as the MLP, so an operator sees whether the network earns its keep.

use linfa::prelude::*;
use linfa_elasticnet::ElasticNet;
use ndarray::{Array1, Array2};

/// The ridge penalty (inputs are standardised, so one value suits every corpus).
pub const PENALTY: f64 = 1e-3;

/// Fits on the training rows and predicts the held-out ones; `None` if the fit fails.
pub fn fit_predict(
    x_train: &Array2<f32>,
    y_train: &Array1<f32>,
    x_val: &Array2<f32>,
) -> Option<Vec<f64>> {
    let dataset = Dataset::new(x_train.mapv(f64::from), y_train.mapv(f64::from));
    let model = ElasticNet::params()
        .penalty(PENALTY)
        .l1_ratio(0.0)
        .fit(&dataset)
        .ok()?;
    Some(model.predict(&x_val.mapv(f64::from)).to_vec())
}
