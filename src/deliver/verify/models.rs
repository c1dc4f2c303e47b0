//! Judging a bundle's models: none with HOLD; with PROMOTE exactly one per judged seed, each
//! model named by its sidecar with its hash, and every sidecar field the bundle can give derived
//! again — the gate figures from the verdict, the scaler and CQ range from the corpus (when it
//! is bundled; claimed otherwise) — so an edited sidecar cannot pass with an intact model.

use super::contents::Contents;
use crate::deliver::export::{self, Derivation};
use crate::ingest::merge::Corpus;
use crate::learn::gate::experiment::CorpusEvidence;
use crate::learn::train::features::{CqRange, InputScaling, Standardiser};
use crate::learn::train::{self, Dataset};
use crate::schema::{Evidence, LosoSeed, Sidecar, Verdict, VerdictFile};
use camino::Utf8Path;
use std::collections::BTreeMap;

impl Contents {
    /// Every model and sidecar of the bundle, against the verdict, the judged seeds and (when
    /// bundled) the corpus they were trained on.
    pub(super) fn check_models(
        &self,
        verdict: &VerdictFile,
        judged: &[LosoSeed],
        corpus: Option<&CorpusEvidence>,
        problems: &mut Vec<String>,
    ) {
        let word = verdict.verdict;
        let onnx: Vec<&String> = self
            .hashes
            .keys()
            .filter(|n| Utf8Path::new(n).extension() == Some("onnx"))
            .collect();
        if word != Verdict::Promote {
            for model in onnx
                .iter()
                .copied()
                .chain(self.sidecars.iter().map(|(n, _)| n))
            {
                problems.push(format!(
                    "model in a {word} bundle: {model} (models go only with PROMOTE)"
                ));
            }
            return;
        }
        let mut named: BTreeMap<String, &str> = BTreeMap::new();
        let mut by_seed: BTreeMap<u64, &str> = BTreeMap::new();
        let scaled = corpus.and_then(|c| scaled_corpus(c, judged));
        for (name, parsed) in &self.sidecars {
            let sidecar = match parsed {
                Ok(sidecar) => sidecar,
                Err(e) => {
                    problems.push(format!(
                        "invalid: {e} (every JSON file where models go is a model sidecar)"
                    ));
                    continue;
                }
            };
            if !verdict.seeds.contains(&sidecar.seed) {
                problems.push(format!(
                    "model of a seed the verdict did not judge: {name} (seed {}; judged {:?})",
                    sidecar.seed, verdict.seeds
                ));
            }
            if let Some(first) = by_seed.insert(sidecar.seed, name) {
                problems.push(format!(
                    "two models of seed {}: {first} and {name} (a PROMOTE bundle carries one per judged seed)",
                    sidecar.seed
                ));
            }
            let model = Utf8Path::new(name).with_file_name(&sidecar.onnx);
            named.insert(model.to_string(), name);
            match self.hashes.get(model.as_str()) {
                Some((_, sha)) if *sha == sidecar.sha256 => {}
                Some((_, sha)) => problems.push(format!(
                    "altered: {model} (sha256 {sha}, sidecar {name} says {})",
                    sidecar.sha256
                )),
                None => problems.push(format!("missing: {model} (named by sidecar {name})")),
            }
            if judged
                .first()
                .is_some_and(|s| s.corpus_sha256 != sidecar.corpus.sha256)
            {
                problems.push(format!(
                    "corpus mismatch: {name} was fitted on another corpus than the one judged"
                ));
            } else if let Some(field) = sidecar_contradiction(sidecar, verdict, scaled.as_ref()) {
                problems.push(format!(
                    "{}: {name}: `{field}` is not what the bundled {} give{}",
                    Evidence::Contradicted,
                    if scaled.is_some() {
                        "verdict, LOSO files and corpus"
                    } else {
                        "verdict and LOSO files"
                    },
                    " (the sidecar was edited after export)"
                ));
            }
        }
        for model in onnx {
            if !named.contains_key(model.as_str()) {
                problems.push(format!(
                    "model without a sidecar: {model} (every model comes with the sidecar that says how to feed it)"
                ));
            }
        }
        for seed in &verdict.seeds {
            if !by_seed.contains_key(seed) {
                problems.push(format!(
                    "missing: the model of judged seed {seed} (a PROMOTE bundle carries one model per judged seed)"
                ));
            }
        }
    }
}

/// The first sidecar field that differs from what the bundle derives: everything but the fit's
/// own results (`full_fit`, checked by `verify --retrain` and `evaluate`), the corpus as the
/// operator named it, and — without a bundled corpus — the scaler and corpus figures, which are
/// then only claimed.
fn sidecar_contradiction(
    sidecar: &Sidecar,
    verdict: &VerdictFile,
    scaled: Option<&(Corpus, InputScaling)>,
) -> Option<String> {
    let r = &sidecar.training_recipe;
    let kit_version = match (r.recipe_revision, &r.kit_version) {
        (None, _) => train::UNRECORDED_REVISION_KIT.to_owned(),
        (Some(_), kit) => kit.clone().unwrap_or_default(),
    };
    let f32_of = |v: f64| v.to_string().parse::<f32>().unwrap_or(f32::NAN);
    let derivation = Derivation {
        verdict,
        recipe: train::Recipe {
            epochs: usize::try_from(r.epochs).unwrap_or(usize::MAX),
            batch_size: usize::try_from(r.batch_size).unwrap_or(usize::MAX),
            adam: train::mlp::AdamConfig {
                lr: f32_of(r.lr),
                weight_decay: f32_of(r.weight_decay),
            },
        },
        ensemble_id: &sidecar.ensemble_id,
        kit_version: &kit_version,
        corpus_label: &sidecar.corpus.path,
    };
    let (corpus, scaling) = match scaled {
        Some((corpus, scaling)) => ((corpus.sha256.as_str(), corpus.rows.len() as u64), *scaling),
        None => (
            (sidecar.corpus.sha256.as_str(), sidecar.corpus.n_rows),
            claimed_scaling(sidecar),
        ),
    };
    let mut expected = export::sidecar(
        &derivation,
        corpus,
        &scaling,
        sidecar.seed,
        sidecar.sha256.clone(),
    );
    expected.full_fit = sidecar.full_fit;
    if r.recipe_revision.is_none() {
        expected.training_recipe.recipe_revision = None;
        expected.training_recipe.kit_version = None;
    }
    // Through the same text as the file's, so that floats compare as read.
    let expected: Sidecar =
        serde_json::from_str(&serde_json::to_string(&expected).expect("sidecars serialise"))
            .expect("sidecars read back");
    first_difference(sidecar, &expected)
}

/// The bundled corpus as training read it, with the scaler of a full-corpus fit.
fn scaled_corpus(evidence: &CorpusEvidence, judged: &[LosoSeed]) -> Option<(Corpus, InputScaling)> {
    let mut corpus = Corpus::of_rows(evidence.rows.iter().cloned(), evidence.sha256.clone());
    corpus.label = judged.first().map(|s| s.corpus.clone()).unwrap_or_default();
    let data = Dataset::new(&corpus).ok()?;
    let scaling = data.scaling(&(0..data.len()).collect::<Vec<_>>());
    Some((corpus, scaling))
}

/// The scaler a sidecar claims, for a bundle without its corpus.
fn claimed_scaling(sidecar: &Sidecar) -> InputScaling {
    let six = |v: &[f64]| <[f64; 6]>::try_from(v).unwrap_or([f64::NAN; 6]);
    InputScaling {
        standardiser: Standardiser {
            mean: six(&sidecar.feature_mean),
            std: six(&sidecar.feature_std),
        },
        cq_range: CqRange {
            min: sidecar.corpus.cq_min,
            max: sidecar.corpus.cq_max,
        },
    }
}

/// The first field (`a.b` one level down) in which two sidecars differ, compared as the text
/// they are written as.
fn first_difference(bundled: &Sidecar, expected: &Sidecar) -> Option<String> {
    let (b, e) = (
        serde_json::to_value(bundled).expect("serialises"),
        serde_json::to_value(expected).expect("serialises"),
    );
    if b == e {
        return None;
    }
    let (b, e) = (b.as_object()?, e.as_object()?);
    let (key, value) = e.iter().find(|(k, v)| b.get(k.as_str()) != Some(*v))?;
    let sub = value.as_object().and_then(|inner| {
        inner
            .iter()
            .find(|(k, v)| b[key.as_str()].get(k.as_str()) != Some(*v))
            .map(|(k, _)| k.clone())
    });
    Some(match sub {
        Some(sub) => format!("{key}.{sub}"),
        None => key.clone(),
    })
}
