//! The one conclusion of a comparison — CONFIRMS, DISAGREES or NOT COMPARABLE — and, for a
//! disagreement, what explains it: seed luck, the sources and encoders that moved, the inputs.

use super::facts::{deltas, facts, per_encoder, per_source, references, Role};
use super::side::Side;
use crate::learn::stability;
use crate::schema::{
    CompareReport, ComparedFact, ComparedSide, Conclusion, Document, PlccDelta, ReferenceMatch,
};

/// The caveat of a side matched by source names only.
pub const NAME_ONLY: &str = "matched by name only; bytes unverified";

/// The comparison of two sides read.
pub fn compare(a: &Side, b: &Side) -> CompareReport {
    let references = references(a, b);
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
    let claims = unproven(a, b);
    let (conclusion, reason) = match not_comparable {
        Some(reason) => (Conclusion::NotComparable, reason),
        None if a.verdict.verdict == b.verdict.verdict => match &claims {
            None => (
                Conclusion::Confirms,
                format!(
                    "both {} on the same references with the same recipe{}",
                    a.verdict.verdict,
                    intended_differences(&table)
                ),
            ),
            Some(claims) => (
                Conclusion::Consistent,
                format!(
                    "both {} on what the two sides state, but {claims}; a confirmation needs them derived — ask for the bundle `full` makes (it carries the corpus and LOSO files), and re-score its audit cells against your references with `verify --audit`",
                    a.verdict.verdict
                ),
            ),
        },
        None => (
            Conclusion::Disagrees,
            format!(
                "the same experiment, but A says {} and B says {}{}",
                a.verdict.verdict,
                b.verdict.verdict,
                claims.map_or(String::new(), |c| format!(" (on claimed facts: {c})"))
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
        Conclusion::Consistent => 4,
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

/// Which facts a confirmation needs are only claimed, side by side; `None` when every one was
/// derived on both sides.
fn unproven(a: &Side, b: &Side) -> Option<String> {
    let parts: Vec<String> = [("A", a), ("B", b)]
        .into_iter()
        .filter(|(_, side)| !side.grounds.proven())
        .map(|(label, side)| {
            format!(
                "{label} ({}) only claims {}",
                side.read_as,
                side.grounds.claimed().join(", ")
            )
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
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
        stability: s.stability().map(|st| match s.older_stability() {
            Some(older) => format!("{} (an older kit's block said {})", st.label, older.label),
            None => st.label.to_string(),
        }),
        p_promote: s.stability().map(|st| st.p_promote),
        experiment: s.experiment.clone(),
        grounds: s.grounds,
        signed: s.signed.clone(),
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
/// is robustly its own verdict, either could have come out the other way with other seeds. The
/// stability is this kit's wherever the seeds are at hand; an older kit's block is named as
/// such, beside this kit's label or alone when only the verdict is at hand.
fn luck(a: &Side, b: &Side) -> String {
    let state = |s: &Side| {
        s.stability().map(|st| {
            let caveat = match s.older_stability() {
                Some(older) => format!(
                    " (by this kit's interval model; the older kit's block, by its normal model alone, said {})",
                    older.label
                ),
                None if st.interval_model.is_normal() => " (its interval drawn by an older kit's normal model alone, which runs narrow in the tails)".into(),
                None => String::new(),
            };
            (
                format!("{}{caveat}", stability::describe(st)),
                st.label.backs(s.verdict.verdict),
            )
        })
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
