//! `compare`: the point of the whole exercise is an independent second verdict. Two results —
//! each a verdict file (the kit's or the reference kit's), a results bundle (verified first), or
//! a LOSO folder (the kit's or the reference's, judged here over the gate's seeds 0–4) — are
//! first matched as experiments (references by content, encoders, grid, frames, tools, recipe,
//! seeds), then given exactly one conclusion:
//!
//! - `CONFIRMS` (exit 0): the same references and recipe, the same verdict;
//! - `DISAGREES` (exit 1): the same experiment, another verdict, with what explains it (per
//!   source and per encoder PLCC, each side's stability, the inputs that differ);
//! - `NOT COMPARABLE` (exit 3): no reference in common, other reference sets, a shared name
//!   with other bytes, or another gate recipe.
//!
//! Every verdict file read is judged again from its own numbers first; one that contradicts
//! itself is refused (exit 2).

use crate::error::{Error, Result};
use crate::schema::{
    self, CompareReport, ComparedFact, ComparedReference, ComparedSide, Conclusion, Document,
    Experiment, ExperimentRecipe, Known, PlccDelta, Producer, ReferenceMatch, Stability,
    VerdictFile,
};
use crate::{gate, layout, stability, train, verify};
use camino::{Utf8Path, Utf8PathBuf};
use std::collections::{BTreeMap, BTreeSet};

/// The caveat of a side matched by source names only.
pub const NAME_ONLY: &str = "matched by name only; bytes unverified";

/// Largest difference tolerated between a verdict file's stated gate numbers and the ones its
/// per-seed PLCCs give (rounding of another producer).
const REJUDGE_TOLERANCE: f64 = 1e-9;

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

/// Issue 21 item 7: a verdict file must say what its own numbers say. Its gate is judged again
/// from its per-seed PLCCs under its own thresholds, and its stability label from its
/// `p_promote`; the first contradiction is an error naming the file and the field.
pub fn rejudge(verdict: &VerdictFile, path: &Utf8Path) -> Result<()> {
    let contradiction = |field: &str, message: String| Error::Invalid {
        path: path.to_owned(),
        line: None,
        field: field.into(),
        message: format!("{message}; the file contradicts itself and cannot be trusted"),
    };
    let g = &verdict.gate;
    let mut per_seed = Vec::new();
    for (key, &plcc) in &g.per_seed_plccs {
        let seed = key.parse::<u64>().map_err(|_| {
            contradiction(
                &format!("/gate/per_seed_plccs/{key}"),
                format!("`{key}` is not a seed number"),
            )
        })?;
        if !(-1.0..=1.0).contains(&plcc) {
            return Err(contradiction(
                &format!("/gate/per_seed_plccs/{key}"),
                format!("{plcc} is not a correlation"),
            ));
        }
        per_seed.push((seed, plcc));
    }
    let listed: BTreeSet<u64> = verdict.seeds.iter().copied().collect();
    let judged: BTreeSet<u64> = per_seed.iter().map(|(s, _)| *s).collect();
    if per_seed.is_empty() || listed != judged || listed.len() != verdict.seeds.len() {
        return Err(contradiction(
            "/seeds",
            format!(
                "lists seeds {:?} but the gate has PLCCs for {:?}",
                verdict.seeds, judged
            ),
        ));
    }
    let again = crate::rule::judge_with(
        &per_seed,
        [g.mean_plcc_threshold, g.plcc_spread_max, g.per_seed_min],
    );
    let close = |a: f64, b: f64| (a - b).abs() <= REJUDGE_TOLERANCE;
    let checks = [
        (
            "/gate/mean_plcc",
            close(g.mean_plcc, again.mean_plcc),
            format!(
                "{} but the per-seed PLCCs give {}",
                g.mean_plcc, again.mean_plcc
            ),
        ),
        (
            "/gate/plcc_spread",
            close(g.plcc_spread, again.plcc_spread),
            format!(
                "{} but the per-seed PLCCs give {}",
                g.plcc_spread, again.plcc_spread
            ),
        ),
        (
            "/gate/mean_plcc_pass",
            g.mean_plcc_pass == again.mean_plcc_pass,
            format!(
                "{} but {:.5} against {} gives {}",
                g.mean_plcc_pass, again.mean_plcc, g.mean_plcc_threshold, again.mean_plcc_pass
            ),
        ),
        (
            "/gate/plcc_spread_pass",
            g.plcc_spread_pass == again.plcc_spread_pass,
            format!(
                "{} but {:.5} against {} gives {}",
                g.plcc_spread_pass, again.plcc_spread, g.plcc_spread_max, again.plcc_spread_pass
            ),
        ),
        (
            "/gate/failing_seeds",
            g.failing_seeds == again.failing_seeds,
            format!(
                "{:?} but the per-seed PLCCs give {:?}",
                g.failing_seeds, again.failing_seeds
            ),
        ),
        (
            "/gate/per_seed_pass",
            g.per_seed_pass == again.per_seed_pass,
            format!(
                "{} but the per-seed PLCCs give {}",
                g.per_seed_pass, again.per_seed_pass
            ),
        ),
        (
            "/gate/passed",
            g.passed == again.passed,
            format!("{} but its rules give {}", g.passed, again.passed),
        ),
        (
            "/verdict",
            verdict.verdict == again.verdict(),
            format!(
                "says {} but its gate's numbers give {}",
                verdict.verdict,
                again.verdict()
            ),
        ),
    ];
    if let Some((field, _, message)) = checks.into_iter().find(|(_, ok, _)| !ok) {
        return Err(contradiction(field, message));
    }
    if let Some(s) = &verdict.stability {
        if let Some(message) = stability_contradiction(s) {
            return Err(contradiction("/stability", message));
        }
    }
    Ok(())
}

/// The stability label of a side as `compare` reads it, and whether the block is consistent:
/// its label is the one its interval of `p_promote` gives, and its `p_promote` lies inside that
/// interval (the estimate widens the interval to take in the counted share). The one place
/// that knows how stability is labelled.
fn stability_state(s: &Stability) -> (String, bool) {
    let [lo, hi] = s.p_promote_interval;
    (
        s.label.to_string(),
        s.label == stability::label(s.p_promote_interval) && (lo..=hi).contains(&s.p_promote),
    )
}

/// A side's stability label, when further seeds were trained.
fn stability_label(v: &VerdictFile) -> Option<String> {
    v.stability.as_ref().map(|s| stability_state(s).0)
}

fn stability_contradiction(s: &Stability) -> Option<String> {
    let (label, consistent) = stability_state(s);
    (!consistent).then(|| {
        let [lo, hi] = s.p_promote_interval;
        format!(
            "says {label} with p_promote {} and its interval {lo}–{hi}, but that interval gives {} and must hold p_promote",
            s.p_promote,
            stability::label(s.p_promote_interval)
        )
    })
}

/// Compares two results; returns the report (its `exit_code` is the process's) and its text.
pub fn run(
    a_path: &Utf8Path,
    b_path: &Utf8Path,
    max_total_size: u64,
) -> Result<(CompareReport, String)> {
    let (a, b) = (load(a_path, max_total_size)?, load(b_path, max_total_size)?);
    let report = compare(&a, &b);
    let text = render(&report, &a, &b);
    Ok((report, text))
}

/// Matches the references of two experiments by name, then by SHA-256 where both know it.
fn references(a: &Experiment, b: &Experiment) -> Vec<ComparedReference> {
    let by_name = |e: &Experiment| -> BTreeMap<String, Option<String>> {
        e.sources
            .iter()
            .map(|s| (s.name.clone(), s.sha256.get().cloned()))
            .collect()
    };
    let (na, nb) = (by_name(a), by_name(b));
    let names: BTreeSet<&String> = na.keys().chain(nb.keys()).collect();
    names
        .into_iter()
        .map(|name| {
            let status = match (na.get(name), nb.get(name)) {
                (Some(Some(x)), Some(Some(y))) if x == y => ReferenceMatch::Shared,
                (Some(Some(_)), Some(Some(_))) => ReferenceMatch::DifferentBytes,
                (Some(_), Some(_)) => ReferenceMatch::SharedByName,
                (Some(_), None) => ReferenceMatch::OnlyInA,
                _ => ReferenceMatch::OnlyInB,
            };
            ComparedReference {
                name: name.clone(),
                status,
            }
        })
        .collect()
}

/// A fact as printed: its value, or `unknown`.
fn shown<T>(value: &Known<T>, show: impl Fn(&T) -> String) -> Option<String> {
    value.get().map(show)
}

/// The first 12 characters of a hash.
fn short(sha: &str) -> String {
    sha.get(..12).unwrap_or(sha).to_owned()
}

/// Distinct values of one shard fact, joined; unknown when any shard does not record it.
fn shard_fact(
    e: &Experiment,
    fact: impl Fn(&schema::ExperimentShard) -> Option<String>,
) -> Option<String> {
    let shards = e.shards.get()?;
    let values: Option<BTreeSet<String>> = shards.iter().map(fact).collect();
    values.map(|v| v.into_iter().collect::<Vec<_>>().join(", "))
}

/// How a fact compares: whether it blocks a comparison when it differs, and whether a
/// difference is meant.
#[derive(Clone, Copy, PartialEq)]
enum Role {
    /// Meant to differ between boxes (encoders, platforms, seeds).
    Intended,
    /// May differ, and is named when explaining a disagreement (tools, grid, frames).
    Input,
    /// Must be the same to compare at all (the training and gate recipe).
    Recipe,
}

/// The experiment table: (fact, A, B, role).
fn facts(a: &Side, b: &Side) -> Vec<(ComparedFact, Role)> {
    type Getter = Box<dyn Fn(&Side) -> Option<String>>;
    let recipe = |f: fn(&ExperimentRecipe) -> Option<String>| -> Getter {
        Box::new(move |s: &Side| {
            (!s.experiment.sources.is_empty())
                .then(|| f(&s.experiment.recipe))
                .flatten()
        })
    };
    let rows: Vec<(&str, Role, Getter)> = vec![
        (
            "references",
            Role::Input,
            Box::new(|s: &Side| {
                (!s.experiment.sources.is_empty()).then(|| s.experiment.sources.len().to_string())
            }),
        ),
        (
            "encoders",
            Role::Intended,
            Box::new(|s: &Side| {
                shown(&s.experiment.encoders, |e| {
                    e.iter()
                        .map(|e| format!("{} ({} rows)", e.encoder, e.rows))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
            }),
        ),
        (
            "grid (cq)",
            Role::Input,
            Box::new(|s: &Side| {
                shown(&s.experiment.cqs, |c| {
                    c.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
                })
            }),
        ),
        (
            "frames scored",
            Role::Input,
            Box::new(|s: &Side| {
                let frames: Option<BTreeSet<u64>> = s
                    .experiment
                    .sources
                    .iter()
                    .map(|x| x.scored_frames.get().copied())
                    .collect();
                frames.filter(|f| !f.is_empty()).map(|f| {
                    f.into_iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                })
            }),
        ),
        (
            "platforms",
            Role::Intended,
            Box::new(|s: &Side| shown(&s.experiment.platforms, |p| p.join(", "))),
        ),
        (
            "libvmaf",
            Role::Input,
            Box::new(|s: &Side| shard_fact(&s.experiment, |x| x.libvmaf_version.get().cloned())),
        ),
        (
            "vmaf model",
            Role::Input,
            Box::new(|s: &Side| shard_fact(&s.experiment, |x| x.vmaf_model.get().cloned())),
        ),
        (
            "vmaf sha256",
            Role::Input,
            Box::new(|s: &Side| {
                shard_fact(&s.experiment, |x| x.vmaf_sha256.get().map(|h| short(h)))
            }),
        ),
        (
            "ffmpeg sha256",
            Role::Input,
            Box::new(|s: &Side| {
                shard_fact(&s.experiment, |x| x.ffmpeg_sha256.get().map(|h| short(h)))
            }),
        ),
        (
            "epochs",
            Role::Recipe,
            recipe(|r| Some(r.epochs.to_string())),
        ),
        (
            "batch size",
            Role::Recipe,
            recipe(|r| Some(r.batch_size.to_string())),
        ),
        (
            "learning rate",
            Role::Recipe,
            recipe(|r| Some(r.lr.to_string())),
        ),
        (
            "weight decay",
            Role::Recipe,
            recipe(|r| Some(r.weight_decay.to_string())),
        ),
        (
            "dropout",
            Role::Recipe,
            recipe(|r| r.dropout.get().map(f64::to_string)),
        ),
        (
            "features",
            Role::Recipe,
            recipe(|r| r.features.get().map(|f| f.join(","))),
        ),
        (
            "crf_norm",
            Role::Recipe,
            recipe(|r| r.crf_norm.get().cloned()),
        ),
        (
            "kit version",
            Role::Input,
            recipe(|r| r.kit_version.get().cloned()),
        ),
        (
            "gate thresholds",
            Role::Recipe,
            Box::new(|s: &Side| {
                let g = &s.verdict.gate;
                Some(format!(
                    "mean ≥ {}, spread ≤ {}, each ≥ {}",
                    g.mean_plcc_threshold, g.plcc_spread_max, g.per_seed_min
                ))
            }),
        ),
        (
            "judged seeds",
            Role::Recipe,
            Box::new(|s: &Side| Some(s.verdict.seeds.len().to_string())),
        ),
        (
            "seeds trained",
            Role::Intended,
            Box::new(|s: &Side| Some(format!("{:?}", s.experiment.seeds))),
        ),
        (
            "corpus sha256",
            Role::Intended,
            Box::new(|s: &Side| shown(&s.experiment.corpus_sha256, |h| short(h))),
        ),
    ];
    rows.into_iter()
        .map(|(fact, role, get)| {
            let (x, y) = (get(a), get(b));
            let status = match (&x, &y) {
                (Some(x), Some(y)) if x == y => "same",
                (Some(_), Some(_)) => "differs",
                _ => "unknown",
            };
            let fact = ComparedFact {
                fact: fact.into(),
                a: x.unwrap_or_else(|| "unknown".into()),
                b: y.unwrap_or_else(|| "unknown".into()),
                status: status.into(),
                intended: role == Role::Intended,
            };
            (fact, role)
        })
        .collect()
}

/// B − A per key of two (key, PLCC) lists.
fn deltas(a: Vec<(String, Option<f64>)>, b: Vec<(String, Option<f64>)>) -> Vec<PlccDelta> {
    let (ma, mb): (BTreeMap<_, _>, BTreeMap<_, _>) =
        (a.into_iter().collect(), b.into_iter().collect());
    let keys: BTreeSet<&String> = ma.keys().chain(mb.keys()).collect();
    keys.into_iter()
        .map(|key| {
            let (x, y) = (
                ma.get(key).copied().flatten(),
                mb.get(key).copied().flatten(),
            );
            PlccDelta {
                key: key.clone(),
                a: x,
                b: y,
                delta: x.zip(y).map(|(x, y)| y - x),
            }
        })
        .collect()
}

fn per_source(v: &VerdictFile) -> Vec<(String, Option<f64>)> {
    v.fold_diagnosis
        .iter()
        .map(|d| (d.source.clone(), d.mean_plcc))
        .collect()
}

fn per_encoder(e: &Experiment) -> Vec<(String, Option<f64>)> {
    e.encoders
        .get()
        .map(|list| {
            list.iter()
                .map(|r| (r.encoder.clone(), r.loso_plcc.get().copied()))
                .collect()
        })
        .unwrap_or_default()
}

/// The comparison of two sides read.
pub fn compare(a: &Side, b: &Side) -> CompareReport {
    let references = references(&a.experiment, &b.experiment);
    let table = facts(a, b);
    let names = |wanted: &ReferenceMatch| -> Vec<String> {
        references
            .iter()
            .filter(|r| &r.status == wanted)
            .map(|r| r.name.clone())
            .collect()
    };
    let different_bytes = names(&ReferenceMatch::DifferentBytes);
    let (only_a, only_b) = (
        names(&ReferenceMatch::OnlyInA),
        names(&ReferenceMatch::OnlyInB),
    );
    let by_name = names(&ReferenceMatch::SharedByName);
    let shared = references.len() - only_a.len() - only_b.len();
    let recipe_differs: Vec<String> = table
        .iter()
        .filter(|(f, role)| {
            *role == Role::Recipe && f.status == "differs" && f.fact != "references"
        })
        .map(|(f, _)| format!("{} ({} vs {})", f.fact, f.a, f.b))
        .collect();
    let unknown_side = [("A", a), ("B", b)]
        .into_iter()
        .find(|(_, s)| s.experiment.sources.is_empty());
    let not_comparable = if let Some((label, side)) = unknown_side {
        Some(format!(
            "{label} ({}) does not record which references it measured, so there is no reference in common to compare; give its LOSO folder or bundle instead",
            side.path
        ))
    } else if !different_bytes.is_empty() {
        Some(format!(
            "the same name stands for different bytes: {} — the two sides scored different videos under one name; give both boxes the same file (check its sha256) and re-run",
            different_bytes.join(", ")
        ))
    } else if shared == 0 {
        Some(
            "no reference in common: the two sides measured different videos, so their verdicts say nothing about each other; run `full` on the owner's references (or import the owner's corpus) and compare again"
                .to_owned(),
        )
    } else if !only_a.is_empty() || !only_b.is_empty() {
        Some(format!(
            "the reference sets differ (only in A: {}; only in B: {}); the gate averages over the folds, so run both on the same references and compare again",
            list_or_none(&only_a),
            list_or_none(&only_b)
        ))
    } else if !recipe_differs.is_empty() {
        Some(format!(
            "another gate recipe: {}; re-run one side with the other's recipe and compare again",
            recipe_differs.join(", ")
        ))
    } else {
        None
    };
    let identical_training = matches!(
        (a.experiment.corpus_sha256.get(), b.experiment.corpus_sha256.get()),
        (Some(x), Some(y)) if x == y
    ) && a.experiment.seeds == b.experiment.seeds
        && a.experiment.recipe == b.experiment.recipe;
    let caveats: Vec<String> = if !by_name.is_empty() && not_comparable.is_none() {
        vec![format!("{NAME_ONLY}: {}", by_name.join(", "))]
    } else {
        Vec::new()
    };
    let per_source = deltas(per_source(&a.verdict), per_source(&b.verdict));
    let per_encoder = deltas(per_encoder(&a.experiment), per_encoder(&b.experiment));
    let (conclusion, reason) = match not_comparable {
        Some(reason) => (Conclusion::NotComparable, reason),
        None if a.verdict.verdict == b.verdict.verdict => (
            Conclusion::Confirms,
            format!(
                "both {} on the same references with the same recipe{}",
                a.verdict.verdict,
                intended_differences(&table)
            ),
        ),
        None => (
            Conclusion::Disagrees,
            format!(
                "the same experiment, but A says {} and B says {}",
                a.verdict.verdict, b.verdict.verdict
            ),
        ),
    };
    let attribution = if conclusion == Conclusion::Disagrees {
        attribution(a, b, &table, &per_source, &per_encoder, identical_training)
    } else {
        Vec::new()
    };
    let exit_code = match conclusion {
        Conclusion::Confirms => 0,
        Conclusion::Disagrees => 1,
        Conclusion::NotComparable => 3,
    };
    CompareReport {
        kind: CompareReport::SCHEMA.into(),
        conclusion,
        exit_code,
        reason,
        caveats,
        identical_training,
        a: compared_side(a),
        b: compared_side(b),
        references,
        facts: table.into_iter().map(|(f, _)| f).collect(),
        per_source,
        per_encoder,
        attribution,
    }
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// `; differing as meant: encoders, platforms` — what is allowed to differ and did.
fn intended_differences(table: &[(ComparedFact, Role)]) -> String {
    let differing: Vec<&str> = table
        .iter()
        .filter(|(f, role)| *role == Role::Intended && f.status == "differs")
        .map(|(f, _)| f.fact.as_str())
        .collect();
    if differing.is_empty() {
        String::new()
    } else {
        format!("; differing as intended: {}", differing.join(", "))
    }
}

fn compared_side(s: &Side) -> ComparedSide {
    ComparedSide {
        path: s.path.to_string(),
        read_as: s.read_as.into(),
        verdict: s.verdict.verdict.to_string(),
        mean_plcc: s.verdict.gate.mean_plcc,
        plcc_spread: s.verdict.gate.plcc_spread,
        stability: stability_label(&s.verdict),
        p_promote: s.verdict.stability.as_ref().map(|st| st.p_promote),
        experiment: s.experiment.clone(),
    }
}

/// What explains a disagreement, one sentence each: seed luck or not, the sources and encoders
/// that moved most, and the inputs that differ.
fn attribution(
    a: &Side,
    b: &Side,
    table: &[(ComparedFact, Role)],
    per_source: &[PlccDelta],
    per_encoder: &[PlccDelta],
    identical_training: bool,
) -> Vec<String> {
    // The same corpus and seeds leave no room for seed luck.
    let mut lines = if identical_training {
        vec!["identical training (same corpus, recipe and seeds) gave different results: neither the data nor seed luck explains this; suspect the training arithmetic of one box (check with `verify --retrain`)".to_owned()]
    } else {
        vec![luck(a, b)]
    };
    let worst = |list: &[PlccDelta]| {
        list.iter()
            .filter_map(|d| d.delta.map(|x| (d, x)))
            .max_by(|x, y| x.1.abs().total_cmp(&y.1.abs()))
            .map(|(d, x)| {
                (
                    d.key.clone(),
                    d.a.unwrap_or(f64::NAN),
                    d.b.unwrap_or(f64::NAN),
                    x,
                )
            })
    };
    match worst(per_source) {
        Some((key, x, y, d)) => lines.push(format!(
            "the source that moved most is {key}: fold PLCC {x:.5} in A, {y:.5} in B ({d:+.5})"
        )),
        None => lines.push("per-source PLCC: unknown on at least one side (one judged seed, or a verdict file without folds)".into()),
    }
    match worst(per_encoder) {
        Some((key, x, y, d)) => lines.push(format!(
            "the encoder whose rows moved most is {key}: held-out PLCC {x:.5} in A, {y:.5} in B ({d:+.5})"
        )),
        None => lines.push("per-encoder PLCC: unknown on at least one side, or no encoder in common (the kit's per-row predictions and corpus are needed on both)".into()),
    }
    let inputs: Vec<String> = table
        .iter()
        .filter(|(f, role)| *role != Role::Recipe && f.status == "differs")
        .map(|(f, _)| f.fact.clone())
        .collect();
    lines.push(if inputs.is_empty() {
        "no recorded input differs".into()
    } else {
        format!("inputs that differ: {}", inputs.join(", "))
    });
    lines
}

/// Whether seed luck can explain a disagreement, from each side's stability: when neither side
/// is robustly its own verdict, either could have come out the other way with other seeds.
fn luck(a: &Side, b: &Side) -> String {
    let state = |s: &Side| {
        s.verdict
            .stability
            .as_ref()
            .map(|st| (stability::describe(st), st.label.backs(s.verdict.verdict)))
    };
    match (state(a), state(b)) {
        (Some((x, false)), Some((y, false))) => format!(
            "neither side is robust (A {x}; B {y}): either could have come out the other way with other seeds — seed luck explains it"
        ),
        (Some((x, _)), Some((y, _))) => format!(
            "A is {x}; B is {y}: at least one side is robust across seeds, so the difference is real"
        ),
        (Some((known_state, _)), None) | (None, Some((known_state, _))) => {
            let (known, other) = if state(a).is_some() { ("A", "B") } else { ("B", "A") };
            format!(
                "{known} is {known_state}, but how fragile {other} is is unknown (train further seeds with --stability K there too to tell luck from a real difference)"
            )
        }
        (None, None) => "how fragile each side is is unknown (train further seeds with --stability K on both sides to tell luck from a real difference)".into(),
    }
}

/// The printed comparison: both sides, the experiment table, the references, the PLCC tables,
/// then the one conclusion.
fn render(report: &CompareReport, a: &Side, b: &Side) -> String {
    let mut text = String::new();
    for (label, side, v) in [("A", &report.a, &a.verdict), ("B", &report.b, &b.verdict)] {
        text.push_str(&format!(
            "{label}: {} ({})\n   {} mean PLCC {:.5} spread {:.5}; {}{}\n",
            side.path,
            side.read_as,
            side.verdict,
            side.mean_plcc,
            side.plcc_spread,
            deciding_rules(v),
            side.stability
                .as_ref()
                .map_or(String::new(), |label| format!(
                    "; p_promote {:.3} over {} seeds ({label})",
                    side.p_promote.unwrap_or(f64::NAN),
                    v.stability.as_ref().map_or(0, |s| s.seeds.len())
                ))
        ));
    }
    let width = report
        .facts
        .iter()
        .map(|f| f.fact.chars().count())
        .max()
        .unwrap_or(0);
    let a_width = report
        .facts
        .iter()
        .map(|f| f.a.chars().count())
        .max()
        .unwrap_or(0)
        .max(1);
    text.push_str("experiment:\n");
    for f in &report.facts {
        let note = match (f.status.as_str(), f.intended) {
            ("differs", true) => "differs (intended)",
            (status, _) => status,
        };
        text.push_str(&format!(
            "  {:<width$}  {:<a_width$}  |  {}  [{note}]\n",
            f.fact, f.a, f.b
        ));
    }
    text.push_str("references:\n");
    for r in &report.references {
        let status = match r.status {
            ReferenceMatch::Shared => "shared (same sha256)",
            ReferenceMatch::SharedByName => "shared by name; bytes unverified",
            ReferenceMatch::DifferentBytes => "SAME NAME, DIFFERENT BYTES",
            ReferenceMatch::OnlyInA => "only in A",
            ReferenceMatch::OnlyInB => "only in B",
        };
        text.push_str(&format!("  {}  {status}\n", r.name));
    }
    text.push_str(&seed_rows(a, b));
    text.push_str(&delta_rows("source", &report.per_source));
    text.push_str(&delta_rows("encoder", &report.per_encoder));
    if report.identical_training {
        text.push_str(&format!(
            "identical training: both trained corpus {} with seeds {:?}\n",
            a.experiment
                .corpus_sha256
                .get()
                .map_or("?".into(), |h| short(h)),
            a.experiment.seeds
        ));
    }
    let caveat = if report.caveats.is_empty() {
        String::new()
    } else {
        format!(" ({})", report.caveats.join("; "))
    };
    let word = match report.conclusion {
        Conclusion::Confirms => "CONFIRMS",
        Conclusion::Disagrees => "DISAGREES",
        Conclusion::NotComparable => "NOT COMPARABLE",
    };
    text.push_str(&format!("{word}{caveat}: {}\n", report.reason));
    for line in &report.attribution {
        text.push_str(&format!("  - {line}\n"));
    }
    text
}

/// Per-seed PLCC of both sides.
fn seed_rows(a: &Side, b: &Side) -> String {
    let per_seed = |v: &VerdictFile| -> Vec<(String, Option<f64>)> {
        v.seeds
            .iter()
            .map(|s| {
                (
                    s.to_string(),
                    v.gate.per_seed_plccs.get(&s.to_string()).copied(),
                )
            })
            .collect()
    };
    let mut list = deltas(per_seed(&a.verdict), per_seed(&b.verdict));
    // Seeds in numeric order (10 after 9).
    list.sort_by_key(|d| d.key.parse::<u64>().unwrap_or(u64::MAX));
    delta_rows("seed", &list)
}

/// A table of one quantity per key for both sides; empty when neither side has any.
fn delta_rows(what: &str, list: &[PlccDelta]) -> String {
    if list.is_empty() {
        return String::new();
    }
    let width = list
        .iter()
        .map(|d| d.key.chars().count())
        .max()
        .unwrap_or(0)
        .max(what.len());
    let cell = |p: Option<f64>| p.map_or("      -".to_owned(), |p| format!("{p:.5}"));
    let mut text = format!("  {what:<width$}        A        B    B − A\n");
    for d in list {
        let delta = d.delta.map_or("-".to_owned(), |x| format!("{x:+.5}"));
        text.push_str(&format!(
            "  {:<width$}  {}  {}  {delta}\n",
            d.key,
            cell(d.a),
            cell(d.b)
        ));
    }
    text
}

/// Which gate rules failed, or that all passed.
fn deciding_rules(v: &VerdictFile) -> String {
    let g = &v.gate;
    let mut failed = Vec::new();
    if !g.mean_plcc_pass {
        failed.push(format!("mean PLCC < {}", g.mean_plcc_threshold));
    }
    if !g.plcc_spread_pass {
        failed.push(format!("spread > {}", g.plcc_spread_max));
    }
    if !g.per_seed_pass {
        failed.push(format!(
            "seed(s) {:?} < {}",
            g.failing_seeds, g.per_seed_min
        ));
    }
    if failed.is_empty() {
        "every rule passed".into()
    } else {
        format!("failed: {}", failed.join(", "))
    }
}
