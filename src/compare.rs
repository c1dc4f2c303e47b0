//! `compare`: the point of the whole exercise is an independent second verdict. Two results
//! side by side — each a verdict file (the kit's or the reference kit's), a results bundle
//! (verified first), or a LOSO folder (the kit's or the reference's, judged here over the
//! gate's seeds 0–4) — with per-seed and per-source PLCC, the rules that decided, and, when
//! they disagree, whether that is seed luck (both fragile) or a real difference.

use crate::error::{Error, Result};
use crate::schema::{self, Stability, VerdictFile};
use crate::{gate, layout, stability, train, verify};
use camino::Utf8Path;
use std::collections::BTreeSet;

/// Reads one side: a LOSO folder is judged (nothing written), a bundle verified in one read
/// bounded by `max_total_size`, a verdict file validated.
pub fn load(path: &Utf8Path, max_total_size: u64) -> Result<VerdictFile> {
    if path.is_dir() {
        let request = gate::VerdictRequest {
            loso_dir: path.to_owned(),
            seeds: train::DEFAULT_SEEDS.to_vec(),
            corpus_root: None,
            out_dir: None,
            missing_boxes: Vec::new(),
        };
        return Ok(gate::assess(&request)?.0);
    }
    if !path.exists() {
        return Err(Error::Input(format!(
            "`{path}` does not exist; give a {}/{}, a results bundle or a LOSO folder",
            layout::PROMOTE,
            layout::HOLD
        )));
    }
    if !path.as_str().ends_with(".tar.gz") {
        return schema::read_json(path);
    }
    Ok(verify::verify(path, None, max_total_size)?.verdict)
}

/// Compares two results; returns whether their verdicts agree and the report to print.
pub fn run(a_path: &Utf8Path, b_path: &Utf8Path, max_total_size: u64) -> Result<(bool, String)> {
    let (a, b) = (load(a_path, max_total_size)?, load(b_path, max_total_size)?);
    let agree = a.verdict == b.verdict;
    let mut text = String::new();
    for (side, path, v) in [("A", a_path, &a), ("B", b_path, &b)] {
        text.push_str(&format!(
            "{side}: {path}\n   {} mean PLCC {:.5} spread {:.5}; {}{}\n",
            v.verdict,
            v.gate.mean_plcc,
            v.gate.plcc_spread,
            deciding_rules(v),
            fragility(v)
        ));
    }
    text.push_str(&rows("seed", &a, &b, |v| {
        v.seeds
            .iter()
            .map(|s| {
                (
                    s.to_string(),
                    v.gate.per_seed_plccs.get(&s.to_string()).copied(),
                )
            })
            .collect()
    }));
    text.push_str(&rows("source", &a, &b, |v| {
        v.fold_diagnosis
            .iter()
            .map(|d| (d.source.clone(), d.mean_plcc))
            .collect()
    }));
    text.push_str(&format!(
        "mean PLCC B − A: {:+.5}; spread B − A: {:+.5}\n{}\n",
        b.gate.mean_plcc - a.gate.mean_plcc,
        b.gate.plcc_spread - a.gate.plcc_spread,
        conclusion(&a, &b)
    ));
    Ok((agree, text))
}

/// A table of one quantity per key (seed, or source with its mean PLCC over seeds) for both
/// sides; empty when neither side has any.
fn rows(
    what: &str,
    a: &VerdictFile,
    b: &VerdictFile,
    values: impl Fn(&VerdictFile) -> Vec<(String, Option<f64>)>,
) -> String {
    let (va, vb) = (values(a), values(b));
    let mut keys: Vec<&String> = va
        .iter()
        .chain(&vb)
        .map(|(k, _)| k)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // Seeds in numeric order (10 after 9), names alphabetically.
    keys.sort_by_key(|k| (k.parse::<u64>().unwrap_or(u64::MAX), k.to_string()));
    if keys.is_empty() {
        return String::new();
    }
    let width = keys
        .iter()
        .map(|k| k.len())
        .max()
        .unwrap_or(0)
        .max(what.len());
    let get = |list: &[(String, Option<f64>)], key: &str| {
        list.iter().find(|(k, _)| k == key).and_then(|(_, p)| *p)
    };
    let cell = |p: Option<f64>| p.map_or("      -".to_owned(), |p| format!("{p:.5}"));
    let mut text = format!("  {what:<width$}        A        B    B − A\n");
    for key in keys {
        let (x, y) = (get(&va, key), get(&vb, key));
        let delta = match (x, y) {
            (Some(x), Some(y)) => format!("{:+.5}", y - x),
            _ => "-".to_owned(),
        };
        text.push_str(&format!(
            "  {key:<width$}  {}  {}  {delta}\n",
            cell(x),
            cell(y)
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

fn fragility(v: &VerdictFile) -> String {
    v.stability
        .as_ref()
        .map_or(String::new(), |s| format!("; {}", stability::describe(s)))
}

/// The last line: agreement, or what a disagreement means given how fragile each side is.
fn conclusion(a: &VerdictFile, b: &VerdictFile) -> String {
    if a.verdict == b.verdict {
        return format!("AGREE: both {}", a.verdict);
    }
    let says = format!("A says {}, B says {}", a.verdict, b.verdict);
    let robust = |s: &Stability, v: &VerdictFile| s.label.backs(v.verdict);
    match (&a.stability, &b.stability) {
        (Some(x), Some(y)) if !robust(x, a) && !robust(y, b) => format!(
            "DISAGREE, but neither side is robust: {says}, and either could have come out the other way with other seeds (A {}, B {})",
            x.label, y.label
        ),
        (Some(x), Some(y)) => format!(
            "DISAGREE, robustly: {says}, and at least one side is robust across seeds (A {}, B {}); the boxes really differ",
            x.label, y.label
        ),
        (Some(known), None) | (None, Some(known)) => {
            let side = if a.stability.is_some() { "A" } else { "B" };
            let other = if side == "A" { "B" } else { "A" };
            format!(
                "DISAGREE: {says}; {side} is {} but how fragile {other} is is unknown (train further seeds with --stability K there too to tell luck from a real difference)",
                stability::describe(known)
            )
        }
        (None, None) => format!(
            "DISAGREE: {says}; how fragile each is is unknown (train further seeds with --stability K on both sides to tell luck from a real difference)"
        ),
    }
}
