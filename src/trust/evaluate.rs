//! The evaluate stage: does a shipped ensemble hold on these encoders? Each member's ONNX model
//! runs in a real ONNX runtime (tract) on a corpus, fed inputs computed from its sidecar alone,
//! as a consumer would; PLCC, SROCC and RMSE follow per source, per encoder and per CQ, for
//! each seed and for the ensemble mean.
//!
//! An encoder the vocabulary lacks is refused by default rather than fed through the catch-all
//! `unknown` one-hot slot: that slot carries whatever the training corpus happened to hold
//! outside the vocabulary (usually nothing), so figures through it say little about the
//! encoder. `--allow-unknown-encoders` feeds such rows through it anyway, as the trainer does,
//! and the result counts them. A corpus row literally named `unknown` is such an encoder too.

pub mod members;
pub mod runtime;

use crate::error::{Error, Result};
use crate::ingest::merge::{self, Corpus, MergeRules};
use crate::schema::{
    CorpusRow, CqFigures, Document, EvaluatedMember, Evaluation, Evidence, Figures, Finding,
    NamedFigures, Scores, SCHEMA_VERSION,
};
use crate::trust::owner_checks::OwnerChecks;
use crate::{layout, stats};
use camino::{Utf8Path, Utf8PathBuf};
use members::Ensemble;
use std::collections::{BTreeMap, BTreeSet};

/// How `evaluate` treats what it reads.
#[derive(Debug, Clone)]
pub struct Options {
    /// Feed encoders outside a member's vocabulary through its `unknown` slot instead of
    /// refusing the corpus.
    pub allow_unknown_encoders: bool,
    /// How a results bundle is read: its cap, and who must have signed it.
    pub checks: OwnerChecks,
}

/// Evaluates the ensemble shipped at `models` (a bundle or a folder) on `corpus`.
pub fn run(models: &Utf8Path, corpus: &Corpus, options: &Options) -> Result<Evaluation> {
    let ensemble = members::open(models, &options.checks)?;
    evaluate(
        models.as_str(),
        &ensemble,
        corpus,
        options.allow_unknown_encoders,
    )
}

/// Runs every member of `ensemble` on `corpus` and scores them and their mean.
fn evaluate(
    models: &str,
    ensemble: &Ensemble,
    corpus: &Corpus,
    allow_unknown_encoders: bool,
) -> Result<Evaluation> {
    if corpus.rows.is_empty() {
        return Err(Error::Input(format!(
            "the corpus {} has no rows; there is nothing to evaluate",
            corpus.label
        )));
    }
    // Every member reads every row several times: rebuild them once.
    let rows: Vec<CorpusRow> = corpus.rows.iter().collect();
    let unknown_encoder_rows = check_encoders(ensemble, &rows, allow_unknown_encoders)?;
    let truth: Vec<f64> = rows.iter().map(|r| r.vmaf).collect();
    let mut sum = vec![0.0; truth.len()];
    let mut evaluated = Vec::new();
    for member in &ensemble.members {
        let predicted = member.runtime.predict(&rows)?;
        sum.iter_mut().zip(&predicted).for_each(|(s, p)| *s += p);
        let fitted_on_this_corpus = member.sidecar.corpus.sha256 == corpus.sha256;
        let scores = scores(&rows, &predicted, &truth);
        let full_fit = match member.sidecar.full_fit {
            Some(recorded) if fitted_on_this_corpus => {
                check_full_fit(&member.sidecar_file, &recorded, &scores.overall)?;
                Some(Evidence::Derived)
            }
            Some(_) => Some(Evidence::Claimed),
            None => None,
        };
        evaluated.push(EvaluatedMember {
            seed: member.sidecar.seed,
            id: member.sidecar.id.clone(),
            sidecar: member.sidecar_file.clone(),
            onnx: member.sidecar.onnx.clone(),
            sha256: member.sidecar.sha256.clone(),
            fitted_on_this_corpus,
            scores,
            recorded_full_fit: member.sidecar.full_fit.filter(|_| fitted_on_this_corpus),
            full_fit,
        });
    }
    let n = ensemble.members.len() as f64;
    let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
    Ok(Evaluation {
        kind: Evaluation::SCHEMA.into(),
        schema_version: SCHEMA_VERSION,
        models: models.to_owned(),
        signed: ensemble.signed.clone(),
        ensemble_id: ensemble.id.clone(),
        corpus: corpus.files.iter().map(|f| f.to_string()).collect(),
        corpus_sha256: corpus.sha256.clone(),
        n_rows: corpus.rows.len() as u64,
        unknown_encoder_rows,
        ensemble: scores(&rows, &mean, &truth),
        members: evaluated,
    })
}

/// How far an ONNX runtime's figures on a member's own corpus may be from the full-corpus fit
/// its sidecar records (PLCC, SROCC, RMSE): the kit's forward pass and another runtime differ
/// by float32 rounding only, well inside these.
pub const FULL_FIT_TOLERANCE: [f64; 3] = [1e-5, 1e-3, 1e-3];

/// A member evaluated on the corpus it was fitted on must reproduce the figures its sidecar
/// records: otherwise the sidecar (or the model) is not what was fitted — contradicted, exit 2.
fn check_full_fit(sidecar: &str, recorded: &Figures, runtime: &Figures) -> Result<()> {
    let [plcc, srocc, rmse] = FULL_FIT_TOLERANCE;
    let off = |a: Option<f64>, b: Option<f64>, tolerance: f64| match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() > tolerance,
        (a, b) => a.is_some() != b.is_some(),
    };
    if recorded.n_rows != runtime.n_rows
        || off(recorded.plcc, runtime.plcc, plcc)
        || off(recorded.srocc, runtime.srocc, srocc)
        || off(recorded.rmse, runtime.rmse, rmse)
    {
        return Err(Evidence::contradiction(format!(
            "{sidecar} records its full-corpus fit at {} but the ONNX runtime gives {} on that corpus (tolerance PLCC {plcc:e}, SROCC {srocc:e}, RMSE {rmse:e}); the sidecar or the model is not what was fitted",
            summary(recorded),
            summary(runtime)
        )));
    }
    Ok(())
}

/// Refuses a corpus holding an encoder some member's vocabulary lacks (unless allowed and the
/// member has an `unknown` slot); returns how many rows go through that slot.
fn check_encoders(
    ensemble: &Ensemble,
    rows: &[CorpusRow],
    allow_unknown_encoders: bool,
) -> Result<u64> {
    let mut per_encoder: BTreeMap<&str, u64> = BTreeMap::new();
    for row in rows {
        *per_encoder.entry(row.encoder.as_str()).or_default() += 1;
    }
    let mut unknown = BTreeSet::new();
    for member in &ensemble.members {
        let inputs = member.runtime.inputs();
        for &encoder in per_encoder.keys() {
            if inputs.knows(encoder) {
                continue;
            }
            if !allow_unknown_encoders || !inputs.has_unknown_slot() {
                return Err(Error::Input(format!(
                    "the corpus has {} row(s) encoded by `{encoder}`, which the vocabulary of model `{}` ({}) lacks; {}",
                    per_encoder[encoder],
                    member.sidecar.id,
                    member.sidecar.encoder_vocab.join(", "),
                    if inputs.has_unknown_slot() {
                        "they are refused rather than fed through its catch-all `unknown` slot (pass --allow-unknown-encoders to do that, as the trainer does)"
                    } else {
                        "it has no `unknown` slot to feed them through"
                    }
                )));
            }
            unknown.insert(encoder);
        }
    }
    Ok(unknown.iter().map(|e| per_encoder[e]).sum())
}

/// The figures of the rows `indices`.
fn figures(indices: &[usize], predicted: &[f64], truth: &[f64]) -> Figures {
    let p: Vec<f64> = indices.iter().map(|&i| predicted[i]).collect();
    let t: Vec<f64> = indices.iter().map(|&i| truth[i]).collect();
    Figures {
        n_rows: indices.len() as u64,
        plcc: stats::plcc(&p, &t),
        srocc: stats::srocc(&p, &t),
        rmse: stats::rmse(&p, &t),
    }
}

/// Row indices grouped by `key`, in key order.
fn groups<K: Ord>(rows: &[CorpusRow], key: impl Fn(&CorpusRow) -> K) -> BTreeMap<K, Vec<usize>> {
    let mut groups: BTreeMap<K, Vec<usize>> = BTreeMap::new();
    for (i, row) in rows.iter().enumerate() {
        groups.entry(key(row)).or_default().push(i);
    }
    groups
}

/// One predictor's figures overall and per source, encoder and CQ.
fn scores(rows: &[CorpusRow], predicted: &[f64], truth: &[f64]) -> Scores {
    let all: Vec<usize> = (0..rows.len()).collect();
    let named = |key: fn(&CorpusRow) -> String| {
        groups(rows, key)
            .into_iter()
            .map(|(name, indices)| NamedFigures {
                name,
                figures: figures(&indices, predicted, truth),
            })
            .collect()
    };
    Scores {
        overall: figures(&all, predicted, truth),
        per_source: named(|r| r.src.clone()),
        per_encoder: named(|r| r.encoder.clone()),
        per_cq: groups(rows, |r| r.cq)
            .into_iter()
            .map(|(cq, indices)| CqFigures {
                cq,
                figures: figures(&indices, predicted, truth),
            })
            .collect(),
    }
}

/// The evaluation as a readable table: the ensemble mean first, then each seed, each with its
/// figures over all rows and per source, encoder and CQ.
pub fn render(evaluation: &Evaluation) -> String {
    let seeds: Vec<String> = evaluation
        .members
        .iter()
        .map(|m| m.seed.to_string())
        .collect();
    let mut text = format!(
        "ensemble {} ({} member(s), seeds {}) from {} ({})\ncorpus {} ({} rows, sha256 {})\n",
        evaluation.ensemble_id,
        evaluation.members.len(),
        seeds.join(", "),
        evaluation.models,
        evaluation.signed,
        evaluation.corpus.join(", "),
        evaluation.n_rows,
        evaluation.corpus_sha256
    );
    if evaluation.unknown_encoder_rows > 0 {
        text.push_str(&format!(
            "{} row(s) fed through the vocabulary's `unknown` slot (--allow-unknown-encoders)\n",
            evaluation.unknown_encoder_rows
        ));
    }
    for member in &evaluation.members {
        let finding = match (member.recorded_full_fit, member.full_fit) {
            (Some(recorded), _) => Finding::derived(format!(
                "seed {} was fitted on this corpus: its sidecar records the full-corpus fit at {}; the ONNX runtime gives {}",
                member.seed,
                summary(&recorded),
                summary(&member.scores.overall)
            )),
            (None, Some(_)) => Finding::claimed(format!(
                "seed {}'s sidecar records its fit on another corpus, which this evaluation cannot reproduce",
                member.seed
            )),
            (None, None) => continue,
        };
        text.push_str(&format!("{finding}\n"));
    }
    let blocks = std::iter::once(("ensemble mean".to_owned(), &evaluation.ensemble)).chain(
        evaluation
            .members
            .iter()
            .map(|m| (format!("seed {}", m.seed), &m.scores)),
    );
    let blocks: Vec<(String, &Scores)> = blocks.collect();
    let labels = |s: &Scores| -> Vec<(String, Figures)> {
        std::iter::once(("all".to_owned(), s.overall))
            .chain(
                s.per_source
                    .iter()
                    .map(|g| (format!("source {}", g.name), g.figures)),
            )
            .chain(
                s.per_encoder
                    .iter()
                    .map(|g| (format!("encoder {}", g.name), g.figures)),
            )
            .chain(s.per_cq.iter().map(|g| (format!("cq {}", g.cq), g.figures)))
            .collect()
    };
    let width = blocks
        .iter()
        .flat_map(|(_, s)| labels(s))
        .map(|(label, _)| label.chars().count() + 2)
        .max()
        .unwrap_or(0)
        .max(13);
    text.push_str(&format!(
        "\n{:<width$}  {:>7}  {:>7}  {:>7}  {:>8}\n",
        "", "rows", "PLCC", "SROCC", "RMSE"
    ));
    let cell =
        |v: Option<f64>, decimals: usize| v.map_or("-".to_owned(), |v| format!("{v:.decimals$}"));
    for (title, s) in blocks {
        text.push_str(&format!("{title}\n"));
        for (label, f) in labels(s) {
            text.push_str(&format!(
                "  {:<w$}  {:>7}  {:>7}  {:>7}  {:>8}\n",
                label,
                f.n_rows,
                cell(f.plcc, 5),
                cell(f.srocc, 5),
                cell(f.rmse, 3),
                w = width - 2
            ));
        }
    }
    text
}

/// PLCC, SROCC and RMSE in one phrase.
fn summary(f: &Figures) -> String {
    let show = |v: Option<f64>| v.map_or("undefined".to_owned(), |v| format!("{v:.5}"));
    format!(
        "PLCC {} SROCC {} RMSE {}",
        show(f.plcc),
        show(f.srocc),
        show(f.rmse)
    )
}

/// The corpus shards a results folder holds (`corpus/*.jsonl`), merged by the default rules.
fn bundled_corpus(root: &Utf8Path, bundle: &Utf8Path) -> Result<Corpus> {
    let dir = root.join(layout::CORPUS);
    let mut shards: Vec<Utf8PathBuf> = match dir.read_dir_utf8() {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .map(|e| e.path().to_owned())
            .filter(|p| p.extension() == Some("jsonl") && p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    shards.sort();
    if shards.is_empty() {
        return Err(Error::Input(format!(
            "bundle `{bundle}` holds no corpus (corpus/*.jsonl) to evaluate the other side's models on"
        )));
    }
    merge::load(&shards, MergeRules::default())
}

/// `compare --cross`: each bundle's models evaluated on the other bundle's corpus — does A's
/// shipped ensemble hold on B's encoders, and B's on A's? Both must be PROMOTE bundles with
/// models and corpora.
pub fn cross(
    sides: [(&Utf8Path, &OwnerChecks); 2],
    allow_unknown_encoders: bool,
) -> Result<String> {
    let [(a, a_checks), (b, b_checks)] = sides;
    for path in [a, b] {
        if !members::is_bundle(path) {
            return Err(Error::Input(format!(
                "--cross needs two results bundles (.tar.gz) with models and corpora; `{path}` is not one"
            )));
        }
    }
    let open = |path: &Utf8Path, checks| -> Result<(Ensemble, Corpus, Vec<String>)> {
        let bundle = members::open_bundle(path, checks)?;
        let ensemble = bundle.ensemble()?;
        let corpus =
            bundled_corpus(&bundle.root, path).map_err(|e| e.as_members_of(path, &bundle.root))?;
        // Named as members of the bundle, not by the temporary folder they were read from.
        let names = corpus
            .files
            .iter()
            .map(|f| bundle.label(f).to_string())
            .collect();
        Ok((ensemble, corpus, names))
    };
    let (side_a, side_b) = (open(a, a_checks)?, open(b, b_checks)?);
    let mut text = String::new();
    for (title, models, ensemble, other) in [
        ("A's models on B's corpus", a, &side_a.0, &side_b),
        ("B's models on A's corpus", b, &side_b.0, &side_a),
    ] {
        let mut evaluation = evaluate(models.as_str(), ensemble, &other.1, allow_unknown_encoders)?;
        evaluation.corpus = other.2.clone();
        text.push_str(&format!("\n== {title} ==\n{}", render(&evaluation)));
    }
    Ok(text)
}
