//! A verdict file read by `compare` must say what its own numbers say: its gate judged again
//! from its per-seed PLCCs under its own thresholds, its stability label from its interval.

use crate::error::{Error, Result};
use crate::learn::rule;
use crate::learn::stability;
use crate::schema::{Stability, VerdictFile};
use camino::Utf8Path;
use std::collections::BTreeSet;

/// Largest difference tolerated between a verdict file's stated gate numbers and the ones its
/// per-seed PLCCs give (rounding of another producer).
const REJUDGE_TOLERANCE: f64 = 1e-9;

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
    let again = rule::judge_with(
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

/// Why a stability block contradicts itself, if it does: its label must be the one its interval
/// of `p_promote` gives, and its `p_promote` must lie inside that interval (the estimate widens
/// the interval to take in the counted share).
fn stability_contradiction(s: &Stability) -> Option<String> {
    let [lo, hi] = s.p_promote_interval;
    let given = stability::label(s.p_promote_interval);
    (s.label != given || !(lo..=hi).contains(&s.p_promote)).then(|| {
        format!(
            "says {} with p_promote {} and its interval {lo}–{hi}, but that interval gives {given} and must hold p_promote",
            s.label, s.p_promote
        )
    })
}
