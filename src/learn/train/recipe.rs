//! The training recipe (SPEC §6) and the key that binds a seed file to it.

use super::mlp::AdamConfig;
use crate::digest;
use crate::schema::LosoSeed;

/// The training recipe of SPEC §6.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recipe {
    /// Passes over the training rows.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Adam settings.
    pub adam: AdamConfig,
}

impl Default for Recipe {
    fn default() -> Self {
        Recipe {
            epochs: DEFAULT_EPOCHS,
            batch_size: 32,
            adam: AdamConfig {
                lr: 5e-4,
                weight_decay: 1e-5,
            },
        }
    }
}

/// Bumped whenever training changes in a way [`Recipe`] does not show, so seed files of an older
/// recipe are retrained rather than reused (2: `crf_norm` is a min-max over the fitted rows' CQ
/// range instead of `cq / 63`; 3: the fixed-order kernel and the closed-form ridge baseline).
pub const RECIPE_REVISION: u32 = 3;

/// Epochs per fit unless the operator says otherwise (SPEC §6).
pub const DEFAULT_EPOCHS: usize = 200;

/// A seed file's `recipe_key`: the SHA-256 of everything its results depend on (corpus, seed,
/// recipe, recipe revision, kit version). Training reuses a file only under its key, the
/// gate refuses a file whose key is not the one of its own seed, corpus and recipe, and a
/// verdict's experiment knows the kit version that trained a seed file whose key is this one.
pub fn recipe_key(corpus_sha256: &str, seed: u64, recipe: &Recipe) -> String {
    digest::sha256_bytes(
        format!(
            "{corpus_sha256}|{seed}|{recipe:?}|r{RECIPE_REVISION}|{}",
            env!("CARGO_PKG_VERSION")
        )
        .as_bytes(),
    )
}

/// The recipe a seed file records (its f32 hyper-parameters as written, see [`round_f32`]).
pub fn recorded_recipe(loso: &LosoSeed) -> Recipe {
    let f32_of = |v: f64| v.to_string().parse::<f32>().unwrap_or(f32::NAN);
    Recipe {
        epochs: loso.epochs as usize,
        batch_size: loso.batch_size as usize,
        adam: AdamConfig {
            lr: f32_of(loso.lr),
            weight_decay: f32_of(loso.weight_decay),
        },
    }
}

/// An f32 hyper-parameter as the f64 its decimal spelling means (5e-4, not 0.000500000024).
pub fn round_f32(v: f32) -> f64 {
    v.to_string().parse().expect("f32 prints as a number")
}
