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

/// The recipe revisions this kit trains: a seed file or model of another revision is verified
/// (hashes, schema, verdict) but cannot be trained again here.
pub const IMPLEMENTED_REVISIONS: &[u32] = &[RECIPE_REVISION];

/// The kit version that wrote every seed file without a `recipe_revision`: their keys bind it.
pub const UNRECORDED_REVISION_KIT: &str = "0.1.0";

/// The revision of seed files that do not record one (see [`UNRECORDED_REVISION_KIT`]).
pub const UNRECORDED_REVISION: u32 = 3;
/// The most epochs `--epochs` takes, and a seed file or sidecar may claim: fifty times SPEC
/// §6's 200.
pub const EPOCHS_MAX: usize = 10_000;
/// The largest mini-batch a seed file or sidecar may claim (the command line trains SPEC §6's
/// 32): the trainer holds one batch of inputs and activations.
pub const BATCH_SIZE_MAX: usize = 4_096;

impl Recipe {
    /// The recipe a file records, each number held to the range the kit trains with before it
    /// sizes anything: epochs 1..=[`EPOCHS_MAX`], batch size 1..=[`BATCH_SIZE_MAX`], a learning
    /// rate in (0, 1] and a weight decay in [0, 1). The learning rate and weight decay are read
    /// as the f32 their decimal spelling means, as [`recorded_recipe`] reads them. Else the
    /// first field out of range, by its name in the file, and why.
    pub fn bounded(
        epochs: u64,
        batch_size: u64,
        lr: f64,
        weight_decay: f64,
    ) -> Result<Recipe, (&'static str, String)> {
        let within = |field: &'static str, value: u64, max: usize| {
            usize::try_from(value)
                .ok()
                .filter(|v| (1..=max).contains(v))
                .ok_or_else(|| (field, format!("{value} is outside 1..={max}")))
        };
        let epochs = within("epochs", epochs, EPOCHS_MAX)?;
        let batch_size = within("batch_size", batch_size, BATCH_SIZE_MAX)?;
        if !(lr > 0.0 && lr <= 1.0) {
            return Err(("lr", format!("{lr} is outside (0, 1]")));
        }
        if !(0.0..1.0).contains(&weight_decay) {
            return Err(("weight_decay", format!("{weight_decay} is outside [0, 1)")));
        }
        Ok(Recipe {
            epochs,
            batch_size,
            adam: AdamConfig {
                lr: f32_of(lr),
                weight_decay: f32_of(weight_decay),
            },
        })
    }
}

/// An f64 hyper-parameter as the f32 its decimal spelling means.
fn f32_of(v: f64) -> f32 {
    v.to_string().parse::<f32>().unwrap_or(f32::NAN)
}

/// A seed file's `recipe_key`: the SHA-256 of everything its results depend on (corpus, seed,
/// recipe and its revision). Training reuses a file only under its key, and the gate refuses a
/// file whose key is not the one of its own seed, corpus, recipe and revision (a copy of
/// another seed's file with only `seed` edited). The kit version is not in it: training that
/// changes bits bumps the revision, so a later kit reads and reuses an earlier one's files.
pub fn recipe_key(corpus_sha256: &str, seed: u64, recipe: &Recipe, revision: u32) -> String {
    digest::sha256_bytes(format!("{corpus_sha256}|{seed}|{recipe:?}|r{revision}").as_bytes())
}

/// The key a seed file records, recomputed from its own fields: with its `recipe_revision`, or
/// for a file without one the key kit 0.1.0 wrote (which bound its version).
pub fn recorded_key(loso: &LosoSeed) -> String {
    let recipe = recorded_recipe(loso);
    match loso.recipe_revision {
        Some(revision) => recipe_key(&loso.corpus_sha256, loso.seed, &recipe, revision),
        None => digest::sha256_bytes(
            format!(
                "{}|{}|{recipe:?}|r{UNRECORDED_REVISION}|{UNRECORDED_REVISION_KIT}",
                loso.corpus_sha256, loso.seed
            )
            .as_bytes(),
        ),
    }
}

/// The revision and kit version a seed file was trained by, as it records them (or, for a file
/// that records neither, what its key binds).
pub fn trained_by(loso: &LosoSeed) -> (u32, String) {
    match (loso.recipe_revision, &loso.kit_version) {
        (Some(revision), Some(kit)) => (revision, kit.clone()),
        (Some(revision), None) => (revision, "unknown".into()),
        (None, _) => (UNRECORDED_REVISION, UNRECORDED_REVISION_KIT.into()),
    }
}

/// The recipe a seed file records (its f32 hyper-parameters as written, see [`round_f32`]).
pub fn recorded_recipe(loso: &LosoSeed) -> Recipe {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipes_from_files_are_held_to_the_kits_ranges() {
        let spec = Recipe::bounded(200, 32, 5e-4, 1e-5).unwrap();
        assert_eq!(spec, Recipe::default());
        for (recipe, field) in [
            (Recipe::bounded(1_000_000_000, 32, 5e-4, 1e-5), "epochs"),
            (Recipe::bounded(0, 32, 5e-4, 1e-5), "epochs"),
            (
                Recipe::bounded(200, 1_000_000_000_000_000, 5e-4, 1e-5),
                "batch_size",
            ),
            (Recipe::bounded(200, 1 << 62, 5e-4, 1e-5), "batch_size"),
            (Recipe::bounded(200, 32, f64::NAN, 1e-5), "lr"),
            (Recipe::bounded(200, 32, 5e-4, -1.0), "weight_decay"),
        ] {
            assert_eq!(recipe.unwrap_err().0, field);
        }
    }
}
