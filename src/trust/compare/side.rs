//! One side of a comparison as read: a LOSO folder judged, a bundle verified, or a verdict file
//! validated; each re-judged from its own numbers, with the experiment it records or implies.

use super::rejudge::rejudge;
use crate::error::{Error, Result};
use crate::learn::gate::experiment;
use crate::schema::{
    Evidence, Experiment, ExperimentRecipe, Grounds, Known, Producer, Stability, VerdictFile,
};
use crate::trust::owner_checks::{self, OwnerChecks};
use crate::{layout, learn::gate, learn::train, schema};
use camino::{Utf8Path, Utf8PathBuf};
use std::collections::BTreeSet;

/// One side as read: its verdict, what it measured, and what of that is proven.
pub struct Side {
    /// The path given.
    pub path: Utf8PathBuf,
    /// `bundle`, `verdict file` or `LOSO folder`.
    pub read_as: &'static str,
    /// The verdict, re-judged from its own numbers.
    pub verdict: VerdictFile,
    /// What it measured (from the verdict, or derived from its LOSO folder, or nothing known).
    pub experiment: Experiment,
    /// Which facts the verdict rests on were derived here and which are only claimed.
    pub grounds: Grounds,
    /// Who signed it, or why it carries no signature.
    pub signed: String,
    /// This kit's stability block over its seeds, when its verdict's was drawn by an older
    /// interval model and the seeds are at hand.
    pub stability_now: Option<Stability>,
}

impl Side {
    /// The stability block compare reasons with: this kit's derivation when there is one, else
    /// the verdict's.
    pub fn stability(&self) -> Option<&Stability> {
        self.stability_now
            .as_ref()
            .or(self.verdict.stability.as_ref())
    }

    /// The verdict's own block, when compare reasons with this kit's instead: an older kit's
    /// claim.
    pub fn older_stability(&self) -> Option<&Stability> {
        self.stability_now
            .as_ref()
            .and(self.verdict.stability.as_ref())
    }
}

/// Reads one side: a LOSO folder is judged (nothing written), a bundle verified in one read
/// with the owner's `checks` (its cap, signer and request), a verdict file validated and —
/// when its LOSO folder is beside it — judged again from it; each verdict is then judged again
/// from its own numbers. Only a bundle is signed or answers a request: a side asked for a
/// named signer or a request must be one.
pub fn load(path: &Utf8Path, checks: &OwnerChecks) -> Result<Side> {
    let is_bundle = path.as_str().ends_with(".tar.gz");
    if !is_bundle && (checks.signer.is_some() || checks.request.is_some()) {
        return Err(Error::Input(format!(
            "`{path}` is not a results bundle, so it carries no signature and answers no request; --signer and --request ask B for both: give the collaborator's bundle as B"
        )));
    }
    let mut signed = "not a bundle: carries no signature".to_string();
    let (read_as, verdict, grounds, stability_now) = if path.is_dir() {
        let verdict = assess(path)?;
        let found = verdict.experiment.as_ref().is_some_and(|e| e.corpus_found);
        ("LOSO folder", verdict, judged_here(found), None)
    } else if !path.exists() {
        return Err(Error::Input(format!(
            "`{path}` does not exist; give a {}/{}, a results bundle or a LOSO folder",
            layout::PROMOTE,
            layout::HOLD
        )));
    } else if is_bundle {
        let verified = owner_checks::verified(path, None, checks)?;
        signed = verified.signature.to_string();
        (
            "bundle",
            verified.verdict,
            verified.grounds,
            verified.stability_now,
        )
    } else {
        let verdict: VerdictFile = schema::read_json(path)?;
        // Its own numbers first, so a file that contradicts itself is named by its field.
        rejudge(&verdict, path)?;
        let (grounds, stability_now) = loose_grounds(path, &verdict)?;
        ("verdict file", verdict, grounds, stability_now)
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
        grounds,
        signed,
        stability_now,
    })
}

/// What a verdict judged here from its LOSO files rests on: the seeds derived, the corpus and
/// the references' bytes derived only when the corpus was found and hashed to the seeds'.
fn judged_here(corpus_found: bool) -> Grounds {
    let corpus = Evidence::derived_if(corpus_found);
    Grounds {
        references: corpus,
        corpus,
        judged_seeds: Evidence::Derived,
    }
}

/// A loose verdict file is only claims, unless its LOSO folder lies beside it: then the verdict
/// must be what those files give (gate, diagnosis, stability and — for the kit's verdicts — the
/// experiment, with the corpus they name when it is found), or it is contradicted (exit 2).
/// With the grounds comes this kit's stability block when the verdict's is an older model's.
fn loose_grounds(path: &Utf8Path, verdict: &VerdictFile) -> Result<(Grounds, Option<Stability>)> {
    let loso = gate::loso_dir_of(path, verdict);
    let has_seeds = loso.is_dir() && gate::seed_numbers(&loso).is_ok_and(|s| !s.is_empty());
    if !has_seeds {
        return Ok((Grounds::CLAIMED, None));
    }
    let contradicted = |field: &str, message: String| Error::Invalid {
        path: path.to_owned(),
        line: None,
        field: field.into(),
        message: format!(
            "{}: {message}; do not rely on this verdict file",
            Evidence::Contradicted
        ),
    };
    let request = gate::VerdictRequest {
        loso_dir: loso.clone(),
        seeds: verdict.seeds.clone(),
        corpus_root: None,
        out_dir: None,
        missing_boxes: verdict.missing_boxes.clone(),
        corpus: Vec::new(),
    };
    let (again, judged) = gate::assess(&request)?;
    let others = gate::other_seeds(&loso, &verdict.seeds)?;
    let model = verdict.interval_model();
    if verdict.experiment.is_none() {
        // The reference kit's verdict (or a kit's from before verdicts recorded their
        // experiment): its per-seed PLCCs must be its LOSO files', and a stability block what
        // they give.
        if verdict.stability.is_some()
            && gate::judgement(&judged, others.clone(), model)?.stability != verdict.stability
        {
            return Err(contradicted(
                "/stability",
                format!("the LOSO files beside it ({loso}) judged again do not give this stability block"),
            ));
        }
        for seed in &judged {
            let stated = verdict.gate.per_seed_plccs.get(&seed.seed.to_string());
            if stated
                .zip(seed.mean_plcc)
                .is_none_or(|(a, b)| (a - b).abs() > 1e-9)
            {
                return Err(contradicted(
                    &format!("/gate/per_seed_plccs/{}", seed.seed),
                    format!(
                        "{loso} gives seed {} a mean PLCC of {:?}",
                        seed.seed, seed.mean_plcc
                    ),
                ));
            }
        }
        return Ok((judged_here(false), None));
    }
    if !gate::judgement(&judged, others.clone(), model)?.matches(verdict) {
        return Err(contradicted(
            "/gate",
            format!("the LOSO files beside it ({loso}) judged again do not give this verdict"),
        ));
    }
    let derived = again
        .experiment
        .expect("the kit's verdicts carry an experiment");
    let stated = verdict.experiment.as_ref().expect("checked above");
    if let Some(what) = experiment::contradiction(stated, &derived) {
        return Err(contradicted(
            "/experiment",
            format!(
                "its experiment is not what the LOSO files beside it{} give ({what})",
                if derived.corpus_found {
                    " and their corpus"
                } else {
                    ""
                }
            ),
        ));
    }
    let stability_now = gate::current_stability(&judged, others, model)?;
    Ok((judged_here(derived.corpus_found), stability_now))
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
            recipe_revision: None,
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
