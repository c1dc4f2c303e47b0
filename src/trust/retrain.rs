//! `verify --retrain`: proves on the owner's own machine that a bundle's verdict follows from its
//! corpus. Training is a pure function of (corpus rows, seeds, recipe) on every CPU (SPEC §11),
//! so every bundled `loso_seed*.json` — judged and stability seeds alike — is trained again from
//! the bundled corpus with the recipe it records, and on PROMOTE every exported model too; the
//! results must be the bundled bytes.
//!
//! Some fields are not results of training and are taken from the bundled file before
//! comparing: `wall_time_s` (a measurement); `corpus` and `unverified_shards` (shard paths as
//! the collaborator typed them; the rows are pinned by `corpus_sha256`, which is compared); and
//! who trained it — `recipe_key`, `recipe_revision`, `kit_version` —, once the gate found the
//! key to be the file's own and the revision is one this kit trains. A file of another revision
//! stops the retrain before any work with exit 5 and the kit version to use. Each model's
//! sidecar is derived again too (as the kit version it names) and compared byte for byte.
//!
//! Every recipe is held to the kit's ranges ([`Recipe::bounded`]) and the whole re-training is
//! [`estimate`]d before any of it starts; past `--max-retrain-minutes` it does not start.
//! Messages name the bundle's members (`BUNDLE!path`), never the temporary folder.

pub mod estimate;

use crate::deliver::verify::Verified;
use crate::error::{Error, Result};
use crate::host::temporary;
use crate::ingest::merge::{self, Corpus, MergeRules};
use crate::learn::train::{self, shape::DROPOUT, Dataset, Recipe};
use crate::progress::Progress;
use crate::schema::{self, Evidence, LosoSeed, Sidecar, Verdict, VerdictFile};
use crate::{atomic, deliver::export, layout};
use camino::{Utf8Path, Utf8PathBuf};
use std::time::Instant;

/// What a successful re-training checked.
#[derive(Debug, Clone)]
pub struct Retrained {
    /// Seed files trained again and found identical.
    pub loso_files: usize,
    /// Folds among them.
    pub folds: usize,
    /// Exported models fitted again and found identical.
    pub models: usize,
    /// Wall time of the whole re-training, in seconds.
    pub seconds: f64,
}

/// How far `--retrain` may go.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Fits at once (default: one per core).
    pub jobs: Option<usize>,
    /// The most CPU minutes the estimate may say (`--max-retrain-minutes`).
    pub max_cpu_minutes: u64,
}

/// Re-trains what the verified `bundle`, extracted into `dir`, holds and compares the bytes;
/// an [`Error::Input`] (exit 2) names the first member and fold that differ.
pub fn run(
    bundle: &Utf8Path,
    dir: &Utf8Path,
    verified: &Verified,
    limits: Limits,
    progress: &Progress,
) -> Result<Retrained> {
    retrain(bundle, dir, verified, limits, progress).map_err(|e| e.as_members_of(bundle, dir))
}

/// [`run`], its errors naming files by where they were extracted.
fn retrain(
    bundle: &Utf8Path,
    dir: &Utf8Path,
    verified: &Verified,
    limits: Limits,
    progress: &Progress,
) -> Result<Retrained> {
    let started = Instant::now();
    let names: Vec<&str> = verified
        .manifest
        .files
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    let seed_files: Vec<SeedFile> = names
        .iter()
        .filter(|n| layout::seed_of(Utf8Path::new(n).file_name().unwrap_or_default()).is_some())
        .map(|n| Ok((dir.join(n), schema::read_json(&dir.join(n))?)))
        .collect::<Result<_>>()?;
    if seed_files.is_empty() {
        return Err(Error::Input(
            "the bundle holds no loso_seed*.json to retrain".into(),
        ));
    }
    for (name, loso) in &seed_files {
        let (revision, kit_version) = train::trained_by(loso);
        implemented(name, revision, &kit_version)?;
    }
    let groups = by_recipe(&seed_files)?;
    let sidecars: Vec<(Utf8PathBuf, Sidecar, Recipe)> =
        if verified.manifest.verdict == Verdict::Promote {
            names
                .iter()
                .filter(|n| n.starts_with(&format!("{}/", layout::MODELS)) && n.ends_with(".json"))
                .map(|n| {
                    let path = dir.join(n);
                    let sidecar: Sidecar = schema::read_json(&path)?;
                    let r = &sidecar.training_recipe;
                    let recipe = recipe_of(&path, r.epochs, r.batch_size, r.lr, r.weight_decay)?;
                    Ok((path, sidecar, recipe))
                })
                .collect::<Result<_>>()?
        } else {
            Vec::new()
        };
    let corpus = bundled_corpus(dir, &names, &seed_files[0].1.corpus_sha256)?;
    let data = Dataset::new(&corpus)?;
    let work: Vec<estimate::Fits> = groups
        .iter()
        .map(|(recipe, files)| estimate::Fits::loso(recipe, files.len(), &data))
        .chain(
            sidecars
                .iter()
                .map(|(_, _, recipe)| estimate::Fits::model(recipe, &data)),
        )
        .collect();
    let jobs = crate::budget::fits(limits.jobs)?;
    let guess = estimate::Estimate::of(&work, &data, jobs);
    progress.info(&guess.to_string());
    guess.allowed(limits.max_cpu_minutes)?;
    // The re-trained seed files go here, removed when dropped (and on SIGTERM or SIGINT).
    let scratch = temporary::Folder::new("retrain")?;
    let scratch = scratch.path();

    let mut folds = 0;
    for (recipe, files) in groups {
        progress.info(&format!(
            "retraining {} seed file(s) on {} rows ({} epochs)",
            files.len(),
            corpus.rows.len(),
            recipe.epochs
        ));
        let request = train::TrainRequest {
            out_dir: scratch.join(format!("loso-{}", recipe.epochs)),
            seeds: files.iter().map(|(_, l)| l.seed).collect(),
            recipe,
            jobs: limits.jobs,
        };
        let retrained = train::run(&request, &corpus, &data, progress)?;
        for ((name, bundled), again) in files.iter().zip(retrained) {
            folds += again.folds.len();
            compare_seed(name, bundled, again)?;
        }
    }

    let fitting = Fitting {
        verdict: &verified.verdict,
        corpus: &corpus,
        data: &data,
        jobs: limits.jobs,
    };
    for (name, sidecar, recipe) in &sidecars {
        progress.info(&format!(
            "refitting {} on all {} rows",
            crate::error::members_of(name.as_str(), bundle, dir),
            data.len()
        ));
        fitting.refit(name, sidecar, recipe)?;
    }
    Ok(Retrained {
        loso_files: seed_files.len(),
        folds,
        models: sidecars.len(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// What every bundled member is fitted again from.
struct Fitting<'a> {
    verdict: &'a VerdictFile,
    corpus: &'a Corpus,
    data: &'a Dataset,
    jobs: Option<usize>,
}

impl Fitting<'_> {
    /// Fits one bundled member (its sidecar extracted at `name`) again, as the kit that made
    /// it, and requires its model and its sidecar to be the bundled bytes (the sidecar's
    /// `corpus.path` is the operator's name for the corpus, taken from the bundled file like a
    /// seed file's `corpus`).
    fn refit(&self, name: &Utf8Path, sidecar: &Sidecar, recipe: &Recipe) -> Result<()> {
        let r = &sidecar.training_recipe;
        let (revision, kit_version) = match (r.recipe_revision, &r.kit_version) {
            (Some(revision), kit) => (revision, kit.clone().unwrap_or_else(|| "unknown".into())),
            (None, _) => (
                train::UNRECORDED_REVISION,
                train::UNRECORDED_REVISION_KIT.to_owned(),
            ),
        };
        implemented(name, revision, &kit_version)?;
        let derivation = export::Derivation {
            verdict: self.verdict,
            recipe: *recipe,
            ensemble_id: &sidecar.ensemble_id,
            kit_version: &kit_version,
            corpus_label: &sidecar.corpus.path,
        };
        let (bytes, mut again) = export::derive_members(
            &derivation,
            self.corpus,
            self.data,
            &[sidecar.seed],
            self.jobs,
        )?
        .remove(0);
        if r.recipe_revision.is_none() {
            // Written before sidecars recorded the revision and the kit.
            again.training_recipe.recipe_revision = None;
            again.training_recipe.kit_version = None;
        }
        let model = name.with_file_name(&sidecar.onnx);
        let bundled = std::fs::read(&model).map_err(|e| Error::io(&model, e))?;
        if bytes != bundled {
            return Err(Evidence::contradiction(format!(
            "retrain differs: {model} (seed {}) is not what the bundled corpus and recipe give (sha256 {}, retrained {})",
            sidecar.seed,
            crate::digest::sha256_bytes(&bundled),
            crate::digest::sha256_bytes(&bytes)
        )));
        }
        let bundled = std::fs::read(name).map_err(|e| Error::io(name, e))?;
        if atomic::json_bytes(&again) != bundled {
            let field = first_difference(sidecar, &again);
            return Err(Evidence::contradiction(format!(
            "retrain differs: {name} (seed {}) is not the sidecar the bundled corpus, verdict and recipe give: {field} differs; the model is identical, so the sidecar was edited",
            sidecar.seed
        )));
        }
        Ok(())
    }
}

/// Refuses, with exit 5 and the kit version to use, a file of a recipe revision this kit does
/// not train.
fn implemented(what: &Utf8Path, revision: u32, kit_version: &str) -> Result<()> {
    if train::IMPLEMENTED_REVISIONS.contains(&revision) {
        return Ok(());
    }
    Err(Error::OtherRevision {
        what: what.to_string(),
        revision,
        kit_version: kit_version.to_owned(),
        this_kit: schema::kit_version().to_owned(),
        implemented: format!("{:?}", train::IMPLEMENTED_REVISIONS),
    })
}

/// The first top-level field (or `field.sub` one level down) in which two documents differ.
fn first_difference<T: serde::Serialize>(bundled: &T, again: &T) -> String {
    let (b, a) = (
        serde_json::to_value(bundled).expect("serialises"),
        serde_json::to_value(again).expect("serialises"),
    );
    let Some((key, value)) = a
        .as_object()
        .and_then(|a| a.iter().find(|(k, v)| b.get(k.as_str()) != Some(*v)))
    else {
        return "its layout".into();
    };
    let inner = value.as_object().and_then(|inner| {
        inner
            .iter()
            .find(|(k, v)| b[key.as_str()].get(k.as_str()) != Some(*v))
            .map(|(k, _)| k.clone())
    });
    match inner {
        Some(sub) => format!("`{key}.{sub}`"),
        None => format!("`{key}`"),
    }
}

/// The bundled corpus whose rows hash to `sha256`: all bundled `.jsonl` shards merged, or one
/// of them alone.
fn bundled_corpus(dir: &Utf8Path, names: &[&str], sha256: &str) -> Result<Corpus> {
    let shards: Vec<Utf8PathBuf> = names
        .iter()
        .filter(|n| n.ends_with(".jsonl"))
        .map(|n| dir.join(n))
        .collect();
    let rules = MergeRules {
        allow_mixed_vmaf: true,
        allow_missing_meta: true,
    };
    let candidates = std::iter::once(shards.clone()).chain(shards.iter().map(|s| vec![s.clone()]));
    for files in candidates.filter(|f| !f.is_empty()) {
        if let Ok(corpus) = merge::load(&files, rules) {
            if corpus.sha256 == sha256 {
                return Ok(corpus);
            }
        }
    }
    Err(Error::Input(format!(
        "the bundle holds no corpus whose rows hash to {sha256}, the corpus its LOSO files were trained on; it cannot be retrained"
    )))
}

/// The recipe a file records, held to the kit's ranges ([`Recipe::bounded`]); dropout is fixed.
fn recipe_of(
    name: &Utf8Path,
    epochs: u64,
    batch_size: u64,
    lr: f64,
    weight_decay: f64,
) -> Result<Recipe> {
    Recipe::bounded(epochs, batch_size, lr, weight_decay).map_err(|(field, why)| {
        Error::Input(format!(
            "{name}: recipe {field} {why}, the range this kit trains with; it is not retrained"
        ))
    })
}

/// A bundled seed file: where it was extracted, and its contents.
type SeedFile = (Utf8PathBuf, LosoSeed);

/// The seed files grouped by the recipe each records, in bundle order.
fn by_recipe(files: &[SeedFile]) -> Result<Vec<(Recipe, Vec<SeedFile>)>> {
    let mut groups: Vec<(Recipe, Vec<SeedFile>)> = Vec::new();
    for (name, loso) in files {
        if train::round_f32(DROPOUT) != loso.dropout {
            return Err(Error::Input(format!(
                "{name}: dropout {} is not this kit's {DROPOUT}; it was trained by another recipe",
                loso.dropout
            )));
        }
        let recipe = recipe_of(
            name,
            loso.epochs,
            loso.batch_size,
            loso.lr,
            loso.weight_decay,
        )?;
        match groups.iter_mut().find(|(r, _)| *r == recipe) {
            Some((_, group)) => group.push((name.clone(), loso.clone())),
            None => groups.push((recipe, vec![(name.clone(), loso.clone())])),
        }
    }
    Ok(groups)
}

/// Requires the retrained seed file to be the bundled one byte for byte (but for the three
/// fields the module documentation names), else names the first fold or field that differs.
fn compare_seed(name: &Utf8Path, bundled: &LosoSeed, again: LosoSeed) -> Result<()> {
    // The gate checked the bundled key against the file's own recipe and revision, and the
    // revision is one this kit trains: who trained it is provenance, not a result.
    let again = LosoSeed {
        corpus: bundled.corpus.clone(),
        unverified_shards: bundled.unverified_shards.clone(),
        wall_time_s: bundled.wall_time_s,
        recipe_key: bundled.recipe_key.clone(),
        recipe_revision: bundled.recipe_revision,
        kit_version: bundled.kit_version.clone(),
        ..again
    };
    let bytes = std::fs::read(name).map_err(|e| Error::io(name, e))?;
    if atomic::json_bytes(&again) == bytes {
        return Ok(());
    }
    let differs = |what: String| {
        Err(Evidence::contradiction(format!(
            "retrain differs: {name} {what}; the bundled results do not follow from the bundled corpus and recipe"
        )))
    };
    for (i, (b, a)) in bundled.folds.iter().zip(&again.folds).enumerate() {
        if b != a {
            let plcc = |p: Option<f64>| p.map_or("undefined".into(), |p| p.to_string());
            return differs(format!(
                "fold {i} (held out `{}`): bundled PLCC {}, retrained {}",
                b.held_out,
                plcc(b.plcc),
                plcc(a.plcc)
            ));
        }
    }
    let field = first_difference(bundled, &again);
    differs(format!("differs in {field} (every fold matches)"))
}
