//! One side of a comparison as read: a LOSO folder judged, a bundle verified, or a verdict file
//! validated; each re-judged from its own numbers, with the experiment it records or implies.

use super::rejudge::rejudge;
use crate::error::{Error, Result};
use crate::schema::{Experiment, ExperimentRecipe, Known, Producer, VerdictFile};
use crate::{deliver::verify, layout, learn::gate, learn::train, schema};
use camino::{Utf8Path, Utf8PathBuf};
use std::collections::BTreeSet;

/// One side as read: its verdict and what it measured.
pub struct Side {
    /// The path given.
    pub path: Utf8PathBuf,
    /// `bundle`, `verdict file` or `LOSO folder`.
    pub read_as: &'static str,
    /// The verdict, re-judged from its own numbers.
    pub verdict: VerdictFile,
    /// What it measured (from the verdict, or derived from its LOSO folder, or nothing known).
    pub experiment: Experiment,
}

/// Reads one side: a LOSO folder is judged (nothing written), a bundle verified in one read
/// bounded by `max_total_size`, a verdict file validated; each verdict is then judged again
/// from its own numbers.
pub fn load(path: &Utf8Path, max_total_size: u64) -> Result<Side> {
    let (read_as, verdict) = if path.is_dir() {
        ("LOSO folder", assess(path)?)
    } else if !path.exists() {
        return Err(Error::Input(format!(
            "`{path}` does not exist; give a {}/{}, a results bundle or a LOSO folder",
            layout::PROMOTE,
            layout::HOLD
        )));
    } else if path.as_str().ends_with(".tar.gz") {
        (
            "bundle",
            verify::verify(path, None, max_total_size)?.verdict,
        )
    } else {
        ("verdict file", schema::read_json(path)?)
    };
    rejudge(&verdict, path)?;
    let experiment = match &verdict.experiment {
        Some(experiment) => experiment.clone(),
        None => beside(path, &verdict)?,
    };
    check_sources(&experiment, path)?;
    Ok(Side {
        path: path.to_owned(),
        read_as,
        verdict,
        experiment,
    })
}

/// Judges a LOSO folder over the gate's default seeds, writing nothing.
fn assess(dir: &Utf8Path) -> Result<VerdictFile> {
    let request = gate::VerdictRequest {
        loso_dir: dir.to_owned(),
        seeds: train::DEFAULT_SEEDS.to_vec(),
        corpus_root: None,
        out_dir: None,
        missing_boxes: Vec::new(),
        corpus: Vec::new(),
    };
    Ok(gate::assess(&request)?.0)
}

/// The experiment of a verdict file that carries none (the reference kit's): derived from its
/// LOSO folder when that is beside it, else only its seeds are known.
fn beside(path: &Utf8Path, verdict: &VerdictFile) -> Result<Experiment> {
    let loso = gate::loso_dir_of(path, verdict);
    let has_seeds = loso.is_dir() && gate::seed_numbers(&loso).is_ok_and(|s| !s.is_empty());
    if has_seeds {
        if let Some(experiment) = assess(&loso)?.experiment {
            return Ok(experiment);
        }
    }
    Ok(Experiment {
        producer: Producer::Reference,
        corpus_sha256: Known::UNKNOWN,
        corpus_found: false,
        sources: Vec::new(),
        encoders: Known::UNKNOWN,
        cqs: Known::UNKNOWN,
        shards: Known::UNKNOWN,
        platforms: Known::UNKNOWN,
        recipe: ExperimentRecipe {
            epochs: 0,
            batch_size: 0,
            lr: 0.0,
            weight_decay: 0.0,
            dropout: Known::UNKNOWN,
            features: Known::UNKNOWN,
            crf_norm: Known::UNKNOWN,
            kit_version: Known::UNKNOWN,
            num_codecs: 0,
            encoder_vocab_version: String::new(),
        },
        seeds: verdict.seeds.clone(),
    })
}

/// A source name twice in one experiment cannot be matched: refused, naming the field.
fn check_sources(experiment: &Experiment, path: &Utf8Path) -> Result<()> {
    let mut seen = BTreeSet::new();
    for (i, source) in experiment.sources.iter().enumerate() {
        if !seen.insert(&source.name) {
            return Err(Error::Invalid {
                path: path.to_owned(),
                line: None,
                field: format!("/experiment/sources/{i}/name"),
                message: format!(
                    "source `{}` is listed twice; each reference is one fold, so this file cannot be matched with another",
                    source.name
                ),
            });
        }
    }
    Ok(())
}
