//! The printed comparison: both sides, the experiment table, the references, the PLCC tables,
//! then the one conclusion.

use super::facts::{deltas, short};
use super::side::Side;
use crate::schema::{CompareReport, Conclusion, Evidence, PlccDelta, ReferenceMatch, VerdictFile};

/// The printed comparison: both sides, the experiment table, the references, the PLCC tables,
/// then the one conclusion.
pub(super) fn render(report: &CompareReport, a: &Side, b: &Side) -> String {
    let mut text = String::new();
    for (label, side, v) in [("A", &report.a, &a.verdict), ("B", &report.b, &b.verdict)] {
        text.push_str(&format!(
            "{label}: {} ({}; {})\n   {} mean PLCC {:.5} spread {:.5}; {}{}\n",
            side.path,
            side.read_as,
            side.signed,
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
    text.push_str("references (bytes derived from a side's own corpus rows, or only claimed):\n");
    for r in &report.references {
        let status = match r.status {
            ReferenceMatch::Shared => "shared (same sha256)",
            ReferenceMatch::SharedByName => "shared by name; bytes unverified",
            ReferenceMatch::DifferentBytes => "SAME NAME, DIFFERENT BYTES",
            ReferenceMatch::OnlyInA => "only in A",
            ReferenceMatch::OnlyInB => "only in B",
        };
        let state = |label: &str, e: Option<Evidence>| e.map(|e| format!("{label} {e}"));
        let states: Vec<String> = [state("A", r.a), state("B", r.b)]
            .into_iter()
            .flatten()
            .collect();
        text.push_str(&format!("  {}  {status}; {}\n", r.name, states.join(", ")));
    }
    for (label, side) in [("A", &report.a), ("B", &report.b)] {
        let g = &side.grounds;
        text.push_str(&format!(
            "  {label} rests on: references' bytes {}, corpus trained on {}, judged seeds {}\n",
            g.references, g.corpus, g.judged_seeds
        ));
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
        Conclusion::Consistent => "CONSISTENT (claimed, not proven)",
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
