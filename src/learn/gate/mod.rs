//! The gate (SPEC §7): PROMOTE iff the mean over seeds of `mean_plcc` ≥ 0.95, the seed-to-seed
//! spread ≤ 0.005, and every seed ≥ 0.95. Writes `PROMOTE.json` or `HOLD.json` and removes the
//! other, stale one, so an old verdict can never decide a later bundle.
//!
//! This module holds the judgement and the verdict file (the three rules themselves are
//! `crate::learn::rule`); `seed` reads and checks the seed files it judges, and `corpus_root`
//! describes the reference corpus a verdict names.

mod corpus_root;
pub mod experiment;
mod seed;

use seed::folds_of;
pub use seed::{is_reference, other_seeds, parse_seed, read_seed, same_run, seed_numbers};

use crate::error::{Error, Result};
use crate::learn::rule::judge;
use crate::progress::outside;
use crate::schema::{
    self, Document, FoldDiagnosis, Gate, IntervalModel, LosoSeed, Stability, VerdictFile,
    SCHEMA_VERSION,
};
use crate::{atomic, layout, learn::stability, timestamp};
use camino::{Utf8Path, Utf8PathBuf};
use corpus_root::describe_corpus;

/// What `verdict` is asked to judge.
#[derive(Debug, Clone)]
pub struct VerdictRequest {
    /// Folder of `loso_seed{N}.json`.
    pub loso_dir: Utf8PathBuf,
    /// Seeds to judge; each file must exist.
    pub seeds: Vec<u64>,
    /// The reference corpus folder to describe, if any.
    pub corpus_root: Option<Utf8PathBuf>,
    /// Where the verdict file goes (default: the LOSO folder).
    pub out_dir: Option<Utf8PathBuf>,
    /// Boxes whose shards did not arrive, recorded in the verdict.
    pub missing_boxes: Vec<String>,
    /// The corpus shards the seeds were trained on, when the caller knows them; otherwise
    /// the experiment looks for the files the seed files name (see [`experiment::locate`]).
    pub corpus: Vec<Utf8PathBuf>,
}

/// Applies the three rules to checked seed files (each has a defined mean PLCC).
pub fn judge_seeds(seeds: &[LosoSeed]) -> Gate {
    let per_seed: Vec<(u64, f64)> = seeds
        .iter()
        .map(|l| (l.seed, l.mean_plcc.expect("checked by parse_seed")))
        .collect();
    judge(&per_seed)
}

/// Judges the seeds, writes the verdict file (removing the stale opposite) and returns it with
/// its path and the seed files it judged.
pub fn run(request: &VerdictRequest) -> Result<(VerdictFile, Utf8PathBuf, Vec<LosoSeed>)> {
    let (verdict, seeds) = assess(request)?;
    let out_dir = request
        .out_dir
        .clone()
        .unwrap_or_else(|| request.loso_dir.clone());
    let path = out_dir.join(layout::verdict_file_name(verdict.verdict));
    schema::check(
        VerdictFile::SCHEMA,
        &serde_json::to_value(&verdict).expect("serialises"),
        &path,
        None,
    )?;
    atomic::write_json(&path, &verdict)?;
    let stale = out_dir.join(layout::verdict_file_name(verdict.verdict.opposite()));
    if stale.exists() {
        std::fs::remove_file(&stale).map_err(|e| Error::io(&stale, e))?;
    }
    Ok((verdict, path, seeds))
}

/// Judges the seeds of a LOSO folder (the kit's or the reference's) without writing anything:
/// the verdict and the seed files it judged.
pub fn assess(request: &VerdictRequest) -> Result<(VerdictFile, Vec<LosoSeed>)> {
    crate::learn::train::check_seeds(&request.seeds)?;
    let dir = &request.loso_dir;
    let any_seed = dir
        .read_dir_utf8()
        .map_err(|e| Error::Input(format!("--loso-dir `{dir}` cannot be read: {e}")))?
        .flatten()
        .any(|e| layout::is_seed_like(e.file_name()));
    if !any_seed {
        return Err(Error::Input(format!(
            "--loso-dir `{dir}` holds no loso_seed*.json files; run `ensemble-kit train` first"
        )));
    }
    let seeds: Vec<LosoSeed> = request
        .seeds
        .iter()
        .map(|&s| read_seed(dir, s))
        .collect::<Result<_>>()?;
    let others = other_seeds(dir, &request.seeds)?;
    let Judgement {
        gate,
        fold_diagnosis,
        stability,
        recommendation,
        unverified_shards,
    } = judgement(&seeds, others.clone(), IntervalModel::CURRENT)?;
    let evidence = experiment::locate(dir, &seeds[0], &request.corpus);
    let experiment = experiment::derive(&seeds, &others, evidence.as_ref());
    let out_dir = request.out_dir.clone().unwrap_or_else(|| dir.clone());
    let verdict = VerdictFile {
        schema_version: SCHEMA_VERSION,
        verdict: gate.verdict(),
        generated_at_utc: timestamp::now_utc()?,
        loso_dir: relative_to(dir, &out_dir),
        seeds: request.seeds.clone(),
        recommendation,
        gate,
        corpus: describe_corpus(request.corpus_root.as_deref())?,
        adr: "ADR-0309".into(),
        parent_adr: "ADR-0303".into(),
        missing_boxes: request.missing_boxes.clone(),
        fold_diagnosis,
        stability,
        unverified_shards,
        experiment: Some(experiment),
    };
    Ok((verdict, seeds))
}

/// Everything a verdict derives from its seed files. `verdict` writes it; `bundle` and
/// `verify` derive it again from the files they hold and refuse a verdict that says otherwise.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// The three rules over the judged seeds.
    pub gate: Gate,
    /// Per source, over the judged seeds.
    pub fold_diagnosis: Vec<FoldDiagnosis>,
    /// Over the judged and the further seeds, when there are further ones.
    pub stability: Option<Stability>,
    /// The sentence that says what to do.
    pub recommendation: String,
    /// Every shard a judged seed was trained on without its metadata.
    pub unverified_shards: Vec<String>,
}

impl Judgement {
    /// Whether `verdict` says what the seed files say.
    pub fn matches(&self, verdict: &VerdictFile) -> bool {
        self.gate == verdict.gate
            && self.fold_diagnosis == verdict.fold_diagnosis
            && self.stability == verdict.stability
            && self.recommendation == verdict.recommendation
            && self.unverified_shards == verdict.unverified_shards
    }
}

/// Judges `judged` (which must come from one run: same corpus, folds and recipe) and, for the
/// stability estimate, those of `others` trained the same way, its interval drawn by `model`
/// (this kit's for a new verdict, the recorded one when re-deriving a verdict).
pub fn judgement(
    judged: &[LosoSeed],
    others: Vec<LosoSeed>,
    model: IntervalModel,
) -> Result<Judgement> {
    let first = judged
        .first()
        .ok_or_else(|| Error::Input("--seeds needs at least one seed".into()))?;
    let same_run = |s: &LosoSeed| same_run(s, first);
    if let Some(odd) = judged.iter().find(|s| folds_of(s) != folds_of(first)) {
        return Err(Error::Input(format!(
            "seed {} was not validated on the folds of seed {} (held-out sources and row counts differ); \
             the judged seeds must come from one training run",
            odd.seed, first.seed
        )));
    }
    if let Some(odd) = judged.iter().find(|s| !same_run(s)) {
        return Err(Error::Input(format!(
            "seed {} was not trained like seed {} (corpus {} vs {}, {} vs {} folds, {} vs {} epochs); \
             the judged seeds must come from one training run",
            odd.seed,
            first.seed,
            odd.corpus_sha256,
            first.corpus_sha256,
            odd.n_folds,
            first.n_folds,
            odd.epochs,
            first.epochs
        )));
    }
    for (i, a) in judged.iter().enumerate() {
        if let Some(b) = judged[i + 1..].iter().find(|b| same_predictions(a, b)) {
            return Err(Error::Input(format!(
                "seeds {} and {} predict exactly the same values on every fold; two seeds never do, so one file is a copy of the other — retrain",
                a.seed, b.seed
            )));
        }
    }
    let further: Vec<LosoSeed> = others.into_iter().filter(|s| same_run(s)).collect();
    let gate = judge_seeds(judged);
    let fold_diagnosis = if judged.len() > 1 {
        stability::diagnose(judged)
    } else {
        Vec::new()
    };
    let stability = (!further.is_empty())
        .then(|| stability::estimate(judged, &further, |subset| judge(subset).passed, model));
    let unverified_shards: std::collections::BTreeSet<String> = judged
        .iter()
        .flat_map(|s| s.unverified_shards.iter().cloned())
        .collect();
    Ok(Judgement {
        unverified_shards: unverified_shards.into_iter().collect(),
        recommendation: recommendation(
            &gate,
            &fold_diagnosis,
            stability.as_ref(),
            NextStep::Export,
        ),
        gate,
        fold_diagnosis,
        stability,
    })
}

/// This kit's stability block over `judged` and `others` when a verdict's was drawn by `model`,
/// an older interval model: what a re-derivation shows beside the older block, so that no one
/// reads its narrower interval as today's. `None` when `model` is this kit's.
pub fn current_stability(
    judged: &[LosoSeed],
    others: Vec<LosoSeed>,
    model: IntervalModel,
) -> Result<Option<Stability>> {
    if model == IntervalModel::CURRENT {
        return Ok(None);
    }
    Ok(judgement(judged, others, IntervalModel::CURRENT)?.stability)
}

/// Whether two seeds recorded the same, non-empty per-row predictions on every fold.
fn same_predictions(a: &LosoSeed, b: &LosoSeed) -> bool {
    a.folds.iter().any(|f| !f.predicted_vmaf.is_empty())
        && a.folds.len() == b.folds.len()
        && a.folds
            .iter()
            .zip(&b.folds)
            .all(|(x, y)| x.predicted_vmaf == y.predicted_vmaf)
}

/// `dir` as the verdict records it: relative to the verdict's folder when inside it, so that the
/// same run in two results folders gives the same verdict bytes; as given otherwise.
fn relative_to(dir: &Utf8Path, verdict_dir: &Utf8Path) -> String {
    match dir.strip_prefix(verdict_dir) {
        Ok(rel) if rel.as_str().is_empty() => ".".into(),
        Ok(rel) => rel.to_string(),
        Err(_) => dir.to_string(),
    }
}

/// The LOSO folder a verdict file judged: its `loso_dir` taken relative to the verdict's own
/// folder (verdicts written before paths were relative named it from the working folder, which
/// is tried second).
pub fn loso_dir_of(verdict_path: &Utf8Path, verdict: &VerdictFile) -> Utf8PathBuf {
    let recorded = Utf8Path::new(&verdict.loso_dir);
    let beside = verdict_path
        .parent()
        .unwrap_or(Utf8Path::new(""))
        .join(recorded);
    if recorded.is_relative() && !beside.is_dir() && recorded.is_dir() {
        recorded.to_owned()
    } else {
        beside
    }
}

/// What is left after a PROMOTE, which depends on what the command that judged already did.
#[derive(Debug, Clone, Copy)]
pub enum NextStep<'a> {
    /// `verdict` judged: export, bundle and send are left.
    Export,
    /// `full` judged, exported and bundled: only sending this bundle is left.
    Send(&'a Utf8Path),
}

/// What to do next, in one sentence: promote or not, which rules failed, which sources drive a
/// failing spread, and how firmly other seeds would agree (the stability label).
pub fn recommendation(
    gate: &Gate,
    diagnosis: &[FoldDiagnosis],
    stability: Option<&Stability>,
    next: NextStep,
) -> String {
    let verdict = gate.verdict();
    let firmness = stability.filter(|s| !s.label.backs(verdict)).map(|s| {
        let why = stability::describe(s);
        match s.label.robust_verdict() {
            Some(other) => format!(
                "the judged seeds are a fluke: other seeds would almost always say {other} ({why})"
            ),
            None => format!("this {verdict} is not robust: {why}"),
        }
    });
    if gate.passed {
        let caveat = firmness.map_or(String::new(), |f| format!(", but {f}"));
        let left = match next {
            NextStep::Export => "export the ensemble (ensemble-kit export), bundle the results and send the bundle to the model owner.".to_owned(),
            NextStep::Send(bundle) => format!(
                "the ensemble is exported and bundled; what is left is to send {bundle} to the model owner, who checks it with `ensemble-kit verify`."
            ),
        };
        return format!("Gate passed{caveat}: {left}");
    }
    let mut failed = Vec::new();
    if !gate.mean_plcc_pass {
        failed.push(format!(
            "mean PLCC {:.4} < {}",
            gate.mean_plcc, gate.mean_plcc_threshold
        ));
    }
    if !gate.plcc_spread_pass {
        let drivers: Vec<String> = stability::driving_sources(diagnosis)
            .iter()
            .filter_map(|name| diagnosis.iter().find(|d| &d.source == name))
            .map(|d| match (d.min_plcc, d.max_plcc) {
                (Some(lo), Some(hi)) => format!(
                    "{} ({:.0} % of it; fold PLCC {lo:.3}–{hi:.3})",
                    outside(&d.source),
                    100.0 * d.spread_share
                ),
                _ => outside(&d.source),
            })
            .collect();
        let driven = if drivers.is_empty() {
            String::new()
        } else {
            format!(", driven by {}", drivers.join(" and "))
        };
        failed.push(format!(
            "seed spread {:.4} > {}{driven}",
            gate.plcc_spread, gate.plcc_spread_max
        ));
    }
    if !gate.per_seed_pass {
        failed.push(format!(
            "seed(s) {:?} below {}",
            gate.failing_seeds, gate.per_seed_min
        ));
    }
    let caveat = firmness.map_or(String::new(), |f| format!(" ({f})"));
    format!(
        "Do not ship this model: {}{caveat}. Add or diversify sources and retrain.",
        failed.join("; ")
    )
}

/// The human summary printed on stderr: per-seed PLCC, spread, and which rule failed.
pub fn summary(verdict: &VerdictFile, seeds: &[LosoSeed]) -> String {
    summary_ending(verdict, seeds, &verdict.recommendation)
}

/// [`summary`] ending in `recommendation` instead of the verdict's own (for `full`, which has
/// done more than `verdict` by the time it prints).
pub fn summary_ending(verdict: &VerdictFile, seeds: &[LosoSeed], recommendation: &str) -> String {
    let g = &verdict.gate;
    let mut text = format!(
        "verdict: {}\n  seed  mean PLCC  min PLCC  baseline PLCC  95% CI\n",
        verdict.verdict
    );
    for s in seeds {
        let f = |v: Option<f64>| v.map_or("   n/a".to_owned(), |v| format!("{v:.4}"));
        let ci = s
            .plcc_ci95
            .map_or("n/a".to_owned(), |[lo, hi]| format!("[{lo:.4}, {hi:.4}]"));
        let mark = if g.failing_seeds.contains(&s.seed) {
            "  < per-seed minimum"
        } else {
            ""
        };
        text.push_str(&format!(
            "  {:>4}  {:>9}  {:>8}  {:>13}  {ci}{mark}\n",
            s.seed,
            f(s.mean_plcc),
            f(s.min_plcc),
            f(s.baseline_mean_plcc)
        ));
    }
    let pass = |b: bool| if b { "pass" } else { "FAIL" };
    if !verdict.fold_diagnosis.is_empty() {
        text.push_str("per source, over the judged seeds:\n");
        text.push_str(&stability::render_diagnosis(&verdict.fold_diagnosis));
    }
    if let Some(s) = &verdict.stability {
        text.push_str(&format!(
            "  stability over seeds {:?}: {}; per-seed PLCC std {:.4}{}\n",
            s.seeds,
            stability::describe(s),
            s.per_seed_plcc_std,
            if s.driving_sources.is_empty() {
                String::new()
            } else {
                format!(
                    "; spread driven by {}",
                    outside(&s.driving_sources.join(", "))
                )
            }
        ));
    }
    text.push_str(&format!(
        "  mean PLCC {:.4} (≥ {}) {}; spread {:.4} (≤ {}) {}; every seed ≥ {} {}\n  {}\n",
        g.mean_plcc,
        g.mean_plcc_threshold,
        pass(g.mean_plcc_pass),
        g.plcc_spread,
        g.plcc_spread_max,
        pass(g.plcc_spread_pass),
        g.per_seed_min,
        pass(g.per_seed_pass),
        recommendation
    ));
    text
}
