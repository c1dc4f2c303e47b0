//! The facts two experiments are compared on: references matched by name and bytes, the
//! experiment table with each fact's role, and PLCC per source and per encoder side by side.

use super::side::Side;
use crate::schema::{
    self, ComparedFact, ComparedReference, Experiment, ExperimentRecipe, Known, PlccDelta,
    ReferenceMatch, VerdictFile,
};
use std::collections::{BTreeMap, BTreeSet};

/// Matches the references of two sides by name, then by SHA-256 where both know it, saying
/// for each side whether its bytes were derived from its own corpus rows or are only claimed.
pub(super) fn references(a_side: &Side, b_side: &Side) -> Vec<ComparedReference> {
    let (a, b) = (&a_side.experiment, &b_side.experiment);
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
                a: na.contains_key(name).then_some(a_side.grounds.references),
                b: nb.contains_key(name).then_some(b_side.grounds.references),
            }
        })
        .collect()
}

/// A fact as printed: its value, or `unknown`.
fn shown<T>(value: &Known<T>, show: impl Fn(&T) -> String) -> Option<String> {
    value.get().map(show)
}

/// The first 12 characters of a hash.
pub(super) fn short(sha: &str) -> String {
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
pub(super) enum Role {
    /// Meant to differ between boxes (encoders, platforms, seeds).
    Intended,
    /// May differ, and is named when explaining a disagreement (tools, grid, frames).
    Input,
    /// Must be the same to compare at all (the training and gate recipe).
    Recipe,
}

/// The experiment table: (fact, A, B, role).
pub(super) fn facts(a: &Side, b: &Side) -> Vec<(ComparedFact, Role)> {
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
            "recipe revision",
            Role::Recipe,
            recipe(|r| {
                r.recipe_revision
                    .as_ref()
                    .and_then(|k| k.get())
                    .map(u32::to_string)
            }),
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
pub(super) fn deltas(
    a: Vec<(String, Option<f64>)>,
    b: Vec<(String, Option<f64>)>,
) -> Vec<PlccDelta> {
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

pub(super) fn per_source(v: &VerdictFile) -> Vec<(String, Option<f64>)> {
    v.fold_diagnosis
        .iter()
        .map(|d| (d.source.clone(), d.mean_plcc))
        .collect()
}

pub(super) fn per_encoder(e: &Experiment) -> Vec<(String, Option<f64>)> {
    e.encoders
        .get()
        .map(|list| {
            list.iter()
                .map(|r| (r.encoder.clone(), r.loso_plcc.get().copied()))
                .collect()
        })
        .unwrap_or_default()
}
