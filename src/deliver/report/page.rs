//! The HTML around the charts: the verdict banner with the gate's rules, the stability summary,
//! four figures and a footer. Inline CSS only: the page loads nothing.

use super::charts;
use super::results::Results;
use crate::error::Result;
use crate::schema::{Experiment, Known, Stability, StabilityLabel};
use crate::schema::{FoldDiagnosis, Gate, LosoSeed};

/// Text made safe for HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body{font-family:sans-serif;margin:0;background:#f6f7f9;color:#1d1f23}
main{max-width:1280px;margin:0 auto;padding:16px 24px}
.banner{border-radius:10px;padding:18px 24px;color:#fff;margin:8px 0 16px}
.banner.promote{background:#1b7f3b}.banner.hold{background:#c01c28}
.banner h1{margin:0 0 6px;font-size:34px;letter-spacing:1px}
.banner p{margin:4px 0;font-size:17px}
table{border-collapse:collapse;background:#fff;font-size:15px}
td,th{padding:6px 12px;border-bottom:1px solid #e2e4e8;text-align:left}
.pass{color:#1b7f3b;font-weight:bold}.fail{color:#c01c28;font-weight:bold}
.summary{display:flex;gap:24px;flex-wrap:wrap;align-items:flex-start}
.summary p{max-width:560px;margin:4px 0 10px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(600px,1fr));gap:16px;margin-top:16px}
figure{background:#fff;margin:0;padding:12px 16px;border-radius:10px;box-shadow:0 1px 3px #0002}
figure h2{font-size:18px;margin:0 0 8px}
figure svg{max-width:100%;height:auto;display:block}
figcaption{font-size:14px;color:#4a4f57;margin-top:6px}
footer{font-size:13px;color:#4a4f57;margin:16px 0}
";

/// One rule of the gate: what it checks, the value, the limit, whether it passed.
struct Rule {
    name: &'static str,
    value: String,
    limit: String,
    pass: bool,
}

fn rules(g: &Gate) -> [Rule; 3] {
    let lowest = g
        .per_seed_plccs
        .values()
        .copied()
        .fold(f64::INFINITY, f64::min);
    [
        Rule {
            name: "mean PLCC over seeds",
            value: format!("{:.4}", g.mean_plcc),
            limit: format!("≥ {}", g.mean_plcc_threshold),
            pass: g.mean_plcc_pass,
        },
        Rule {
            name: "seed spread (max − min)",
            value: format!("{:.4}", g.plcc_spread),
            limit: format!("≤ {}", g.plcc_spread_max),
            pass: g.plcc_spread_pass,
        },
        Rule {
            name: "every seed",
            value: format!("lowest {lowest:.4}"),
            limit: format!("≥ {}", g.per_seed_min),
            pass: g.per_seed_pass,
        },
    ]
}

/// Which rule decided: the failing ones for a HOLD, all three for a PROMOTE.
fn decided_by(rules: &[Rule]) -> String {
    let failing: Vec<String> = rules
        .iter()
        .filter(|r| !r.pass)
        .map(|r| format!("{} {} is not {}", r.name, r.value, r.limit))
        .collect();
    if failing.is_empty() {
        "all three rules pass".into()
    } else {
        failing.join("; ")
    }
}

/// Seeds as `0, 1, 2`.
fn seed_list(seeds: &[u64]) -> String {
    seeds
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn banner(results: &Results) -> String {
    let v = &results.verdict;
    let g = &v.gate;
    let class = if g.passed { "promote" } else { "hold" };
    format!(
        "<header class=\"banner {class}\"><h1>{}</h1>\
         <p>mean PLCC <b>{:.4}</b> · spread <b>{:.4}</b> · {} seeds judged ({})</p>\
         <p>Decided by: {}</p></header>\n",
        escape(v.verdict.as_str()),
        g.mean_plcc,
        g.plcc_spread,
        v.seeds.len(),
        seed_list(&v.seeds),
        escape(&decided_by(&rules(g))),
    )
}

fn rules_table(g: &Gate) -> String {
    let mut html =
        String::from("<table><tr><th>rule</th><th>value</th><th>limit</th><th></th></tr>");
    for r in rules(g) {
        let (class, word) = if r.pass {
            ("pass", "pass")
        } else {
            ("fail", "FAIL")
        };
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{class}\">{word}</td></tr>",
            r.name,
            escape(&r.value),
            escape(&r.limit)
        ));
    }
    html.push_str("</table>");
    html
}

/// The per-source diagnosis over the judged seeds, with what "share of spread" means.
fn diagnosis_table(diagnosis: &[FoldDiagnosis]) -> String {
    if diagnosis.is_empty() {
        return String::new();
    }
    let f = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{v:.4}"));
    let mut html = String::from(
        "<table><tr><th>held-out source</th><th>mean PLCC</th><th>min</th><th>max</th>\
         <th>share of spread</th></tr>",
    );
    for d in diagnosis {
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1} %</td></tr>",
            escape(&d.source),
            f(d.mean_plcc),
            f(d.min_plcc),
            f(d.max_plcc),
            100.0 * d.spread_share
        ));
    }
    html.push_str(
        "</table><p>Share of spread: how much of the seed-to-seed spread of the mean PLCC each \
         held-out source accounts for — its fold PLCC's covariance with the seed mean. A source \
         whose PLCC moves against the others steadies the mean and counts 0 %; the shares sum \
         to 100 %. A source with a large share decides whether the seeds agree.</p>",
    );
    html
}

fn stability_text(stability: Option<&Stability>, n_seeds: usize, n_judged: usize) -> String {
    let Some(s) = stability else {
        return format!(
            "<p>Stability: {n_seeds} seed file(s), {n_judged} judged; the verdict carries no \
             stability estimate (further seeds, <code>--stability K</code>, give one).</p>"
        );
    };
    let [lo, hi] = s.p_promote_interval;
    let mut parts = vec![format!(
        "P(PROMOTE) for a {}-seed set <b>{lo:.2}–{hi:.2}</b> ({:.0} % interval from {}; \
         {:.3} of {} {}sets of these seeds pass)",
        s.subset_size,
        100.0 * s.confidence,
        s.interval_model.describe(),
        s.p_promote,
        s.subsets,
        if s.all_subsets { "" } else { "sampled " },
    )];
    parts.push(match s.label {
        StabilityLabel::RobustPromote | StabilityLabel::RobustHold => {
            format!("<span class=\"pass\">{}</span>", s.label)
        }
        StabilityLabel::Fragile => {
            "<span class=\"fail\">fragile</span>: another set of seeds could decide otherwise"
                .into()
        }
        StabilityLabel::Undecided => "<span class=\"fail\">undecided</span>: too few seeds to \
             tell; train more seeds (<code>--stability K</code> or <code>--stability auto</code>)"
            .into(),
    });
    parts.push(format!("per-seed PLCC std {:.4}", s.per_seed_plcc_std));
    if !s.driving_sources.is_empty() {
        parts.push(format!(
            "driven by {}",
            escape(&s.driving_sources.join(", "))
        ));
    }
    format!(
        "<p>Stability over {n_seeds} seeds: {}.</p>",
        parts.join(" · ")
    )
}

fn figure(title: &str, body: &str, caption: &str) -> String {
    format!(
        "<figure><h2>{}</h2>\n{body}\n<figcaption>{caption}</figcaption></figure>\n",
        escape(title)
    )
}

/// PLCC of the fold holding out `source` in `seed`, if defined.
fn fold_plcc(seed: &LosoSeed, source: &str) -> Option<f64> {
    seed.folds
        .iter()
        .find(|f| f.held_out == source)
        .and_then(|f| f.plcc)
}

/// The fold whose mean PLCC over the judged seeds is lowest.
fn worst_fold<'a>(folds: &'a [String], judged: &[&LosoSeed]) -> Option<(&'a str, f64)> {
    folds
        .iter()
        .filter_map(|f| {
            let values: Vec<f64> = judged.iter().filter_map(|s| fold_plcc(s, f)).collect();
            (!values.is_empty())
                .then(|| (f.as_str(), values.iter().sum::<f64>() / values.len() as f64))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

fn scatter_figure(folds: &[String], judged: &[&LosoSeed]) -> Result<String> {
    let title = "Predicted vs true VMAF, worst fold";
    let Some((worst, mean)) = worst_fold(folds, judged) else {
        return Ok(figure(title, "<p>No fold has a defined PLCC.</p>", ""));
    };
    let per_seed: Vec<(u64, &[f64], &[f64])> = judged
        .iter()
        .filter_map(|s| {
            let fold = s.folds.iter().find(|f| f.held_out == worst)?;
            (!fold.true_vmaf.is_empty() && fold.true_vmaf.len() == fold.predicted_vmaf.len())
                .then(|| (s.seed, &fold.true_vmaf[..], &fold.predicted_vmaf[..]))
        })
        .collect();
    let caption = format!(
        "Held-out source <b>{}</b>, mean PLCC {mean:.4} over the judged seeds; one colour per seed.",
        escape(worst)
    );
    let body = if per_seed.is_empty() {
        "<p>These LOSO files hold no per-row predictions (written by the reference kit or an \
         older ensemble-kit); retrain to see them.</p>"
            .into()
    } else {
        charts::predicted_vs_true(&per_seed)?
    };
    Ok(figure(title, &body, &caption))
}

/// The whole page.
pub fn render(results: &Results) -> Result<String> {
    let v = &results.verdict;
    let g = &v.gate;
    let judged = results.judged();
    let folds: Vec<String> = judged[0].folds.iter().map(|f| f.held_out.clone()).collect();
    let per_seed: Vec<(u64, f64)> = judged
        .iter()
        .filter_map(|s| Some((s.seed, s.mean_plcc?)))
        .collect();
    let seed_chart = charts::seed_means(&per_seed, g.mean_plcc_threshold, g.plcc_spread_max)?;
    let all_seeds: Vec<u64> = results.seeds.iter().map(|s| s.seed).collect();
    let heat: Vec<Vec<Option<f64>>> = folds
        .iter()
        .map(|f| results.seeds.iter().map(|s| fold_plcc(s, f)).collect())
        .collect();
    let heat_chart = charts::fold_heat_map(&folds, &all_seeds, &heat)?;
    let all_means: Vec<f64> = results.seeds.iter().filter_map(|s| s.mean_plcc).collect();
    let judged_means: Vec<f64> = per_seed.iter().map(|(_, p)| *p).collect();
    let histogram = charts::stability_histogram(&all_means, &judged_means)?;

    let first = judged[0];
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>ensemble-kit report: {}</title><style>{STYLE}</style></head>\n<body><main>\n",
        escape(v.verdict.as_str())
    );
    html.push_str(&banner(results));
    html.push_str(&format!(
        "<section class=\"summary\">{}<div><p>{}</p>{}{}</div></section>\n<div class=\"grid\">\n",
        rules_table(g),
        escape(&v.recommendation),
        stability_text(
            results.verdict.stability.as_ref(),
            results.seeds.len(),
            judged.len()
        ),
        diagnosis_table(&v.fold_diagnosis),
    ));
    html.push_str(&figure(
        "Per-seed mean PLCC and the gate",
        &seed_chart,
        &format!(
            "Red line: the threshold {}; green band: the spread window, {} above the lowest seed, \
             that every seed must fit in; grey line: the mean. Green dots fit the gate, red dots \
             do not.",
            g.mean_plcc_threshold, g.plcc_spread_max
        ),
    ));
    html.push_str(&figure(
        "PLCC per fold and seed",
        &heat_chart,
        &format!(
            "Each row holds out one source; colour runs from the lowest (dark) to the highest \
             (yellow) fold PLCC; {} seed file(s), seeds {} judged.",
            all_seeds.len(),
            seed_list(&v.seeds)
        ),
    ));
    html.push_str(&scatter_figure(&folds, &judged)?);
    html.push_str(&figure(
        "Stability of per-seed mean PLCC",
        &histogram,
        &format!(
            "All {} seed file(s) in the LOSO folder; triangles mark the judged seeds.",
            all_seeds.len()
        ),
    ));
    html.push_str("</div>\n");
    html.push_str(&experiment_section(v.experiment.as_ref()));
    html.push_str(&format!(
        "<footer>Verdict of {} · corpus {} ({} rows, {} folds, sha256 {}) · LOSO folder {} \
         · {}</footer>\n</main></body></html>\n",
        escape(&v.generated_at_utc),
        escape(&first.corpus),
        first.n_rows,
        first.n_folds,
        escape(
            first
                .corpus_sha256
                .get(..12)
                .unwrap_or(&first.corpus_sha256)
        ),
        escape(&v.loso_dir),
        // The kit that trained, as the files record it: never the kit rendering the page, so a
        // later kit renders (and `verify` checks) an earlier kit's page byte for byte.
        escape(
            &v.experiment
                .as_ref()
                .and_then(|e| e.recipe.kit_version.get())
                .map_or("trained by an unrecorded producer".to_owned(), |k| format!(
                    "ensemble-kit {k}"
                ))
        ),
    ));
    Ok(html)
}

/// What the verdict measured (its `experiment`), as a small table; unknown facts say so.
fn experiment_section(experiment: Option<&Experiment>) -> String {
    let Some(e) = experiment else {
        return "<section class=\"experiment\"><h2>Experiment</h2><p>The verdict does not \
                record what it measured.</p></section>\n"
            .into();
    };
    fn known<T>(value: &Known<T>, show: impl Fn(&T) -> String) -> String {
        value.get().map_or_else(|| "unknown".to_owned(), show)
    }
    let sources: Vec<String> = e
        .sources
        .iter()
        .map(|s| {
            format!(
                "{} (sha256 {}, {}, {} frames)",
                s.name,
                known(&s.sha256, |h| h.get(..12).unwrap_or(h).to_owned()),
                known(&s.geometry, |g| format!(
                    "{}x{} @ {}",
                    g.width, g.height, g.fps
                )),
                known(&s.frames, u64::to_string)
            )
        })
        .collect();
    let shards = known(&e.shards, |list| {
        list.iter()
            .map(|s| {
                format!(
                    "{}: {} · libvmaf {} ({}) · vmaf {} · ffmpeg {}",
                    s.file,
                    known(&s.platform, String::clone),
                    known(&s.libvmaf_version, String::clone),
                    known(&s.vmaf_model, String::clone),
                    known(&s.vmaf_sha256, |h| h.get(..12).unwrap_or(h).to_owned()),
                    known(&s.ffmpeg_sha256, |h| h.get(..12).unwrap_or(h).to_owned())
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    });
    let r = &e.recipe;
    let rows = [
        ("LOSO files by", format!("{:?}", e.producer).to_lowercase()),
        ("references", sources.join("; ")),
        (
            "encoders",
            known(&e.encoders, |list| {
                list.iter()
                    .map(|x| format!("{} ({} rows, cq {:?})", x.encoder, x.rows, x.cqs))
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
        ),
        ("shards", shards),
        ("platforms", known(&e.platforms, |p| p.join(", "))),
        (
            "recipe",
            format!(
                "{} epochs, batch {}, lr {}, weight decay {}, dropout {}, kit {}",
                r.epochs,
                r.batch_size,
                r.lr,
                r.weight_decay,
                known(&r.dropout, f64::to_string),
                known(&r.kit_version, String::clone)
            ),
        ),
        ("seeds", seed_list(&e.seeds)),
    ];
    let mut html = String::from("<section class=\"experiment\"><h2>Experiment</h2><table>");
    for (what, value) in rows {
        html.push_str(&format!(
            "<tr><td>{what}</td><td>{}</td></tr>",
            escape(&value)
        ));
    }
    html.push_str("</table></section>\n");
    html
}
