//! The seed files the gate judges: read from a LOSO folder or a bundle, the kit's or the
//! reference kit's, and checked before any of their numbers is believed.

use crate::error::{Error, Result};
use crate::layout;
use crate::learn::train::{recorded_key, seed_path, Recipe};
use crate::schema::{
    self, Document, FoldResult, LosoSeed, ReferenceLosoSeed, ReferenceMinimalSeed, SCHEMA_VERSION,
};
use camino::Utf8Path;

/// Reads and checks one seed file: present, valid JSON, our schema version, defined PLCC.
pub fn read_seed(dir: &Utf8Path, seed: u64) -> Result<LosoSeed> {
    let path = seed_path(dir, seed);
    if !path.exists() {
        return Err(Error::Input(format!(
            "`{path}` is missing; train seed {seed} first (ensemble-kit train … --seeds {seed}) or drop it from --seeds"
        )));
    }
    parse_seed(
        &std::fs::read(&path).map_err(|e| Error::io(&path, e))?,
        &path,
        seed,
    )
}

/// Parses and checks the bytes of one seed file (read from disk or from a bundle, named by
/// `path` in errors): our schema version, valid, the expected seed, defined PLCC.
pub fn parse_seed(bytes: &[u8], path: &Utf8Path, seed: u64) -> Result<LosoSeed> {
    let path = path.to_owned();
    let value = parse_seed_value(bytes, &path)?;
    let minimal = is_minimal_reference_seed(&value);
    let reference = minimal || is_reference_seed(&value);
    let loso = if minimal {
        from_minimal_reference(schema::decode_checked(value, &path)?)
    } else if reference {
        from_reference(schema::decode_checked(value, &path)?)
    } else {
        let version = value.get("schema_version").and_then(|v| v.as_u64());
        if version != Some(u64::from(SCHEMA_VERSION)) {
            return Err(Error::Invalid {
                path,
                line: None,
                field: "/schema_version".into(),
                message: format!(
                    "unknown schema version {}; this kit reads version {SCHEMA_VERSION} (retrain with this kit)",
                    value.get("schema_version").map_or("(missing)".into(), |v| v.to_string())
                ),
            });
        }
        schema::decode_checked(value, &path)?
    };
    if loso.seed != seed {
        return Err(Error::Invalid {
            path,
            line: None,
            field: "/seed".into(),
            message: format!("says seed {}, expected {seed}", loso.seed),
        });
    }
    if loso.mean_plcc.is_none() {
        return Err(Error::Invalid {
            path,
            line: None,
            field: "/mean_plcc".into(),
            message: "PLCC is undefined for every fold of this seed (constant or too few rows); the gate cannot judge it".into(),
        });
    }
    check_summary(&loso, &path)?;
    if !reference {
        check_recipe(&loso, &path)?;
        check_key(&loso, &path)?;
    }
    Ok(loso)
}

/// A kit seed file's recipe must lie in the ranges the kit trains with, before anything (the
/// recipe key, a retraining) is computed from it.
fn check_recipe(loso: &LosoSeed, path: &Utf8Path) -> Result<()> {
    Recipe::bounded(loso.epochs, loso.batch_size, loso.lr, loso.weight_decay)
        .map(|_| ())
        .map_err(|(field, why)| Error::Invalid {
            path: path.to_owned(),
            line: None,
            field: format!("/{field}"),
            message: format!("{why}, the range this kit trains with; the file was not written by this kit's `train`"),
        })
}

/// A kit seed file's `recipe_key` must be the one its own seed, corpus, recipe and revision
/// give: a copy of another seed's file with only `seed` edited (which would fake a spread of 0)
/// is refused. (The reference kit records no key; its files are not checked.)
fn check_key(loso: &LosoSeed, path: &Utf8Path) -> Result<()> {
    let expected = recorded_key(loso);
    if loso.recipe_key == expected {
        return Ok(());
    }
    Err(Error::Invalid {
        path: path.to_owned(),
        line: None,
        field: "/recipe_key".into(),
        message: format!(
            "is not the key of seed {} trained on corpus {} with the recipe and revision it records ({expected}); \
             the file was copied from another seed or edited — retrain it",
            loso.seed, loso.corpus_sha256
        ),
    })
}

/// Largest difference tolerated between a seed's stated summary and its folds' values (the
/// reference computes the same means with numpy; they differ by rounding only).
const SUMMARY_TOLERANCE: f64 = 1e-9;

/// The gate judges a seed by its `mean_plcc`; that number must be what its folds say: as many
/// folds as `n_folds`, every PLCC a correlation (within [−1, 1]), and mean, min and max of the
/// defined fold PLCCs equal to the stated ones.
fn check_summary(loso: &LosoSeed, path: &Utf8Path) -> Result<()> {
    let invalid = |field: String, message: String| Error::Invalid {
        path: path.to_owned(),
        line: None,
        field,
        message,
    };
    if loso.folds.len() as u64 != loso.n_folds {
        return Err(invalid(
            "/n_folds".into(),
            format!(
                "says {} but the file lists {} folds",
                loso.n_folds,
                loso.folds.len()
            ),
        ));
    }
    for (i, fold) in loso.folds.iter().enumerate() {
        // A fold is a source: its name obeys the corpus rows' rule (no line breaks, tabs or
        // escapes, which would start lines of their own wherever it is printed).
        crate::ingest::sources::check_name(&fold.held_out)
            .map_err(|why| invalid(format!("/folds/{i}/held_out"), why))?;
        if fold.plcc.is_some_and(|p| !(-1.0..=1.0).contains(&p)) {
            return Err(invalid(
                format!("/folds/{i}/plcc"),
                format!(
                    "{:?} is not a correlation (it must lie within −1 and 1)",
                    fold.plcc
                ),
            ));
        }
    }
    let defined: Vec<f64> = loso.folds.iter().filter_map(|f| f.plcc).collect();
    let expected = [
        (
            "mean_plcc",
            loso.mean_plcc,
            crate::stats::mean(defined.iter().copied()),
        ),
        (
            "min_plcc",
            loso.min_plcc,
            defined.iter().copied().reduce(f64::min),
        ),
        (
            "max_plcc",
            loso.max_plcc,
            defined.iter().copied().reduce(f64::max),
        ),
    ];
    for (field, stated, from_folds) in expected {
        let agree = match (stated, from_folds) {
            (Some(a), Some(b)) => (a - b).abs() <= SUMMARY_TOLERANCE,
            (None, None) => true,
            _ => false,
        };
        if !agree {
            return Err(invalid(
                format!("/{field}"),
                format!("says {stated:?} but its folds give {from_folds:?}; the file was edited or is damaged"),
            ));
        }
    }
    Ok(())
}

/// Whether a seed file is the reference kit's: SPEC §6's fields with neither our `kind` nor a
/// `schema_version`.
fn is_reference_seed(value: &serde_json::Value) -> bool {
    value.get("kind").is_none() && value.get("schema_version").is_none()
}

/// Parses a seed file's JSON. The reference's trainer writes an undefined PLCC as Python's bare
/// `NaN` token, which is not JSON: in a reference-format file (only there) it reads as null,
/// undefined; a kit file holding it stays invalid.
fn parse_seed_value(bytes: &[u8], path: &Utf8Path) -> Result<serde_json::Value> {
    schema::parse_value(bytes, path).or_else(|strict| {
        python_nan_as_null(bytes)
            .and_then(|b| crate::strict_json::from_slice(&b).ok())
            .filter(is_reference_seed)
            .ok_or(strict)
    })
}

/// `bytes` with every bare `NaN` token outside JSON strings replaced by `null`; `None` when
/// there is none.
fn python_nan_as_null(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    let (mut in_string, mut escaped, mut replaced) = (false, false, false);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if bytes[i..].starts_with(b"NaN") {
            out.extend_from_slice(b"null");
            replaced = true;
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    replaced.then_some(out)
}

/// Whether a reference seed file has the minimal shape its gate reads (`seed`, `mean_plcc`,
/// `per_fold`) rather than its trainer's full one.
fn is_minimal_reference_seed(value: &serde_json::Value) -> bool {
    is_reference_seed(value) && value.get("per_fold").is_some() && value.get("folds").is_none()
}

/// What a minimal reference seed file does not record, said where the kit records a seed's recipe.
const MINIMAL_REFERENCE_RECIPE: &str =
    "reference (minimal file: no corpus, fold sizes, SROCC, RMSE, hyperparameters or timing recorded)";

/// A minimal reference seed file in the kit's terms: its folds' PLCCs, the summary derived from
/// them (checked against its `mean_plcc`), and every other number zero or absent, with the
/// recipe saying so. Its corpus is unknown, so it pools only with other such files.
fn from_minimal_reference(r: ReferenceMinimalSeed) -> LosoSeed {
    let defined: Vec<f64> = r.per_fold.iter().filter_map(|f| f.plcc).collect();
    let corpus = "(not recorded)".to_owned();
    LosoSeed {
        kind: LosoSeed::SCHEMA.into(),
        schema_version: SCHEMA_VERSION,
        seed: r.seed,
        corpus_sha256: format!("reference:{corpus}"),
        corpus,
        n_rows: 0,
        n_folds: r.per_fold.len() as u64,
        folds: r
            .per_fold
            .into_iter()
            .map(|f| FoldResult {
                held_out: f.source,
                n_train: 0,
                n_val: 0,
                plcc: f.plcc,
                srocc: None,
                rmse: None,
                baseline_plcc: None,
                true_vmaf: Vec::new(),
                predicted_vmaf: Vec::new(),
                cq_min: None,
                cq_max: None,
            })
            .collect(),
        mean_plcc: r.mean_plcc,
        std_plcc: crate::stats::sample_std(&defined),
        min_plcc: defined.iter().copied().reduce(f64::min),
        max_plcc: defined.iter().copied().reduce(f64::max),
        plcc_ci95: None,
        mean_srocc: None,
        mean_rmse: None,
        baseline_mean_plcc: None,
        epochs: 0,
        batch_size: 0,
        lr: 0.0,
        weight_decay: 0.0,
        dropout: 0.0,
        num_codecs: 0,
        encoder_vocab_version: 0,
        unknown_encoder_rows: 0,
        recipe_key: MINIMAL_REFERENCE_RECIPE.into(),
        recipe_revision: None,
        kit_version: None,
        wall_time_s: 0.0,
        unverified_shards: Vec::new(),
    }
}

/// The `recipe_key` a reference seed file is given in the kit's terms (the reference records
/// none).
const REFERENCE_RECIPE_KEY: &str = "reference";

/// Whether a seed file (in the kit's terms) was written by the reference kit.
pub fn is_reference(seed: &LosoSeed) -> bool {
    seed.recipe_key == REFERENCE_RECIPE_KEY && seed.corpus_sha256.starts_with("reference:")
}

/// A reference seed file in the kit's terms. What the reference does not record stays empty:
/// no corpus hash (it is named `reference:CORPUS`, so seeds of one reference corpus pool
/// together and never match a kit corpus), no baseline, no interval.
fn from_reference(r: ReferenceLosoSeed) -> LosoSeed {
    LosoSeed {
        kind: LosoSeed::SCHEMA.into(),
        schema_version: SCHEMA_VERSION,
        seed: r.seed,
        corpus_sha256: format!("reference:{}", r.corpus),
        corpus: r.corpus,
        n_rows: r.folds.iter().map(|f| f.n_val).sum(),
        n_folds: r.n_folds,
        folds: r
            .folds
            .into_iter()
            .map(|f| FoldResult {
                held_out: f.held_out,
                n_train: f.n_train,
                n_val: f.n_val,
                plcc: f.plcc,
                srocc: f.srocc,
                rmse: f.rmse,
                baseline_plcc: None,
                true_vmaf: Vec::new(),
                predicted_vmaf: Vec::new(),
                cq_min: None,
                cq_max: None,
            })
            .collect(),
        mean_plcc: r.mean_plcc,
        std_plcc: r.std_plcc,
        min_plcc: r.min_plcc,
        max_plcc: r.max_plcc,
        plcc_ci95: None,
        mean_srocc: r.mean_srocc,
        mean_rmse: r.mean_rmse,
        baseline_mean_plcc: None,
        epochs: r.epochs,
        batch_size: r.batch_size,
        lr: r.lr,
        weight_decay: r.weight_decay,
        dropout: 0.1, // SPEC §6; the reference does not record it
        num_codecs: r.num_codecs,
        encoder_vocab_version: reference_vocab_version(&r.encoder_vocab_version),
        unknown_encoder_rows: 0,
        recipe_key: REFERENCE_RECIPE_KEY.into(),
        recipe_revision: None,
        kit_version: None,
        wall_time_s: r.wall_time_s,
        unverified_shards: Vec::new(),
    }
}

/// A reference file's vocabulary version: the integer it writes (2), or an older `"v2"`
/// spelling; 0 (no version) for anything else.
fn reference_vocab_version(v: &serde_json::Value) -> u32 {
    match v {
        serde_json::Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        serde_json::Value::String(s) => s.strip_prefix('v').unwrap_or(s).parse().ok(),
        _ => None,
    }
    .unwrap_or(0)
}

/// The seed of every seed file in `dir`, in seed order.
pub fn seed_numbers(dir: &Utf8Path) -> Result<Vec<u64>> {
    let mut numbers: Vec<u64> = dir
        .read_dir_utf8()
        .map_err(|e| Error::io(dir, e))?
        .flatten()
        .filter_map(|e| layout::seed_of(e.file_name()))
        .collect();
    numbers.sort_unstable();
    Ok(numbers)
}

/// Every seed file in `dir` but the `judged` ones, in seed order.
pub fn other_seeds(dir: &Utf8Path, judged: &[u64]) -> Result<Vec<LosoSeed>> {
    seed_numbers(dir)?
        .into_iter()
        .filter(|n| !judged.contains(n))
        .map(|n| read_seed(dir, n))
        .collect()
}

/// Whether seed file `s` was trained like `first`: same corpus, folds and recipe.
pub fn same_run(s: &LosoSeed, first: &LosoSeed) -> bool {
    s.corpus_sha256 == first.corpus_sha256
        && s.n_folds == first.n_folds
        && s.epochs == first.epochs
        && s.batch_size == first.batch_size
        && s.lr == first.lr
        && folds_of(s) == folds_of(first)
}

/// A seed's folds as the gate compares them across seeds: held-out source and row counts.
pub(super) fn folds_of(seed: &LosoSeed) -> Vec<(&str, u64, u64)> {
    seed.folds
        .iter()
        .map(|f| (f.held_out.as_str(), f.n_train, f.n_val))
        .collect()
}
