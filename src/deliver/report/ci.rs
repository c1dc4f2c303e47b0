//! `report --format outputs|markdown`: what a results folder says, for CI systems.

use crate::error::{Error, Result};
use crate::layout;
use crate::progress::outside;
use crate::schema::{self, VerdictFile};
use camino::{Utf8Path, Utf8PathBuf};

/// What a results folder says, for CI systems: `key=value` lines (GitHub step outputs) and a
/// markdown verdict table (the step summary).
pub fn ci_summary(out_dir: &Utf8Path) -> Result<(String, String)> {
    let verdict_file = layout::verdict_file(out_dir)?;
    let verdict: VerdictFile = schema::read_json(&verdict_file)?;
    let mut bundles: Vec<Utf8PathBuf> = out_dir
        .read_dir_utf8()
        .map_err(|e| Error::io(out_dir, e))?
        .flatten()
        .filter(|e| layout::is_bundle(e.file_name()))
        .map(|e| e.path().to_owned())
        .collect();
    bundles.sort();
    // Paths are outside text too: a folder named `##[error]…` must not act in the log.
    let bundle = bundles
        .pop()
        .map(|b| outside(b.as_str()))
        .unwrap_or_default();
    let verdict_file = outside(verdict_file.as_str());
    let g = &verdict.gate;
    let outputs = format!(
        "verdict={}\nmean-plcc={:.6}\nplcc-spread={:.6}\nbundle={bundle}\nverdict-file={verdict_file}\n",
        verdict.verdict, g.mean_plcc, g.plcc_spread
    );
    let mark = |pass: bool| if pass { "✅" } else { "❌" };
    let mut markdown = format!(
        "### ensemble-kit verdict: **{}**\n\n| rule | value | limit | |\n|---|---|---|---|\n\
         | mean PLCC over seeds | {:.4} | ≥ {} | {} |\n| seed spread (max − min) | {:.4} | ≤ {} | {} |\n\
         | every seed | min {:.4} | ≥ {} | {} |\n\n| seed | mean PLCC |\n|---|---|\n",
        verdict.verdict,
        g.mean_plcc,
        g.mean_plcc_threshold,
        mark(g.mean_plcc_pass),
        g.plcc_spread,
        g.plcc_spread_max,
        mark(g.plcc_spread_pass),
        g.per_seed_plccs.values().copied().fold(f64::INFINITY, f64::min),
        g.per_seed_min,
        mark(g.per_seed_pass),
    );
    let mut seeds: Vec<(u64, f64)> = g
        .per_seed_plccs
        .iter()
        .map(|(s, p)| (s.parse().unwrap_or(0), *p))
        .collect();
    seeds.sort_by_key(|(s, _)| *s);
    for (seed, plcc) in seeds {
        markdown.push_str(&format!("| {seed} | {plcc:.4} |\n"));
    }
    if let Some(s) = &verdict.stability {
        markdown.push_str(&format!(
            "\nStability: {}\n",
            crate::learn::stability::describe(s)
        ));
    }
    markdown.push_str(&format!(
        "\n{}\n\nBundle: `{}`\n",
        markdown_text(&verdict.recommendation),
        code_text(&bundle)
    ));
    Ok((outputs, markdown))
}

/// Text from files (the recommendation names sources) as literal markdown: what markdown or
/// HTML would read as markup is backslash-escaped and line breaks become spaces, so a name
/// cannot add a heading, a link, an image or a table row to the step summary.
fn markdown_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '!' | '|' | '~' | '&' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Text for a markdown code span: no backtick to close it early, no line break.
fn code_text(text: &str) -> String {
    text.chars()
        .map(|c| if c == '`' || c.is_control() { '\'' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_markdown_stay_text() {
        let hostile =
            "driven by x\n### ensemble-kit verdict: **PROMOTE**\n![i](http://e/i.png) <script>";
        let md = markdown_text(hostile);
        assert!(
            !md.contains('\n') && !md.contains("![") && !md.contains("**"),
            "{md}"
        );
        assert!(
            md.contains(r"\#\#\# ensemble-kit verdict: \*\*PROMOTE\*\*"),
            "{md}"
        );
        assert!(md.contains(r"\<script\>"), "{md}");
        assert_eq!(code_text("a`b\nc"), "a'b'c");
    }
}
