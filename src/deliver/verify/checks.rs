//! Judging what one read of a bundle gathered: every listed member present with its hash, one
//! of the kit's files, and nothing else; no colliding names; one verdict that its own LOSO
//! files give again; and the bundled report exactly what the kit derives. The corpus and
//! experiment (`corpus`) and the models (`models`) are judged beside.

use super::contents::Contents;
use crate::error::{Error, Result};
use crate::layout::{self, MANIFEST};
use crate::learn::gate;
use crate::schema::{Evidence, Grounds, LosoSeed, Manifest, Request, Stability, VerdictFile};
use camino::{Utf8Component, Utf8Path, Utf8PathBuf};
use std::collections::BTreeMap;

/// The bundle's one verdict as verify re-derived it.
pub(super) struct CheckedVerdict {
    /// The verdict, agreeing with its LOSO files under the interval model it names.
    pub verdict: VerdictFile,
    /// What it rests on.
    pub grounds: Grounds,
    /// This kit's stability block over the same seeds, when the verdict's was drawn by an
    /// older model.
    pub stability_now: Option<Stability>,
}

/// The plain components of a path (no `.`, root or prefix), to compare folders.
fn plain_components(path: &Utf8Path) -> Vec<&str> {
    path.components()
        .filter_map(|c| match c {
            Utf8Component::Normal(part) => Some(part),
            _ => None,
        })
        .collect()
}

/// The members whose names are one file on a case-insensitive or Unicode-normalising file
/// system (macOS, Windows): `Promote.json` beside `HOLD.json` would unpack as a second verdict
/// there, so such pairs are refused, one problem per pair.
fn colliding_names<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    use unicode_normalization::UnicodeNormalization;
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    let mut problems = Vec::new();
    for name in names.collect::<std::collections::BTreeSet<_>>() {
        let folded: String = name
            .nfkc()
            .collect::<String>()
            .to_lowercase()
            .nfkc()
            .collect();
        if let Some(first) = seen.insert(folded, name) {
            problems.push(format!(
                "colliding names: `{first}` and `{name}` are one file on case-insensitive or normalising file systems (macOS, Windows)"
            ));
        }
    }
    problems
}

impl Contents {
    /// Every check of a whole bundle; returns its manifest, its verdict, what the verdict rests
    /// on and the request it answers, or every problem.
    #[allow(clippy::type_complexity)]
    pub(super) fn judge(
        mut self,
        bundle: &Utf8Path,
    ) -> Result<(Manifest, CheckedVerdict, Option<Request>)> {
        let Some(manifest) = self.manifest.clone() else {
            return Err(Error::Input(format!(
                "{bundle} has no {MANIFEST}; it is not a results bundle"
            )));
        };
        let mut problems: Vec<String> = self.refused.values().cloned().collect();
        for file in &manifest.files {
            match self.hashes.get(&file.path) {
                Some((size, sha)) if *size != file.size || *sha != file.sha256 => {
                    problems.push(format!(
                        "altered: {} (sha256 {sha}, manifest says {})",
                        file.path, file.sha256
                    ))
                }
                Some(_) => {}
                None if self.refused.contains_key(&file.path) => {}
                None => problems.push(format!("missing: {}", file.path)),
            }
        }
        for name in self
            .hashes
            .keys()
            .filter(|n| !self.declared.contains_key(*n))
        {
            problems.push(format!("extra: {name} (not in the manifest)"));
        }
        problems.extend(colliding_names(
            self.declared
                .keys()
                .chain(self.hashes.keys())
                .chain(self.refused.keys())
                .map(String::as_str)
                .chain([MANIFEST]),
        ));
        if manifest.n_files != manifest.files.len() as u64 {
            problems.push(format!(
                "{MANIFEST}: n_files says {} but lists {}",
                manifest.n_files,
                manifest.files.len()
            ));
        }
        let request = match self.request.take().transpose() {
            Ok(request) => request,
            Err(e) => {
                problems.push(format!("invalid: {e}"));
                None
            }
        };
        let judged = self.check_verdict(&manifest, &mut problems);
        match judged {
            Some(checked) if problems.is_empty() => Ok((manifest, checked, request)),
            // One problem, one line: member names are the archive's to spell.
            _ => Err(Error::Input(format!(
                "{bundle} fails verification:\n  {}",
                problems
                    .iter()
                    .map(|p| crate::progress::outside(p))
                    .collect::<Vec<_>>()
                    .join("\n  ")
            ))),
        }
    }

    /// The one verdict file: its name, its `verdict`, its gate, the manifest's verdict and the
    /// gate re-judged from the bundled LOSO files must agree; every member is one of the kit's;
    /// the bundled corpus, report, experiment and models are what the kit derives from them.
    fn check_verdict(
        &self,
        manifest: &Manifest,
        problems: &mut Vec<String>,
    ) -> Option<CheckedVerdict> {
        let (name, parsed) = match self.verdicts.as_slice() {
            [one] => one,
            [] => {
                problems.push(format!(
                    "no verdict: the bundle holds neither {} nor {}",
                    layout::PROMOTE,
                    layout::HOLD
                ));
                return None;
            }
            many => {
                let names: Vec<&str> = many.iter().map(|(n, _)| n.as_str()).collect();
                problems.push(format!(
                    "more than one verdict: {}; a bundle carries exactly one",
                    names.join(", ")
                ));
                return None;
            }
        };
        let verdict = match parsed {
            Ok(verdict) => verdict,
            Err(e) => {
                problems.push(format!("invalid: {e}"));
                return None;
            }
        };
        let word = verdict.verdict;
        let file_name = Utf8Path::new(name).file_name().unwrap_or_default();
        if layout::verdict_of_file_name(file_name) != Some(word) {
            problems.push(format!("verdict mismatch: {name} says {word}"));
        }
        if manifest.verdict != word {
            problems.push(format!(
                "verdict mismatch: {MANIFEST} says {}, {name} says {word}",
                manifest.verdict
            ));
        }
        let gate_word = verdict.gate.verdict();
        if gate_word != word {
            problems.push(format!(
                "verdict mismatch: {name} says {word} but its own gate says {gate_word}"
            ));
        }
        let (folder, seeds) = self.judged_seeds(verdict, name, problems)?;
        self.check_members(manifest, &folder, problems);
        let (judged, others) = seeds?;
        let model = verdict.interval_model();
        match gate::judgement(&judged, others.clone(), model) {
            Ok(rejudged) if rejudged.matches(verdict) => {}
            Ok(rejudged) => problems.push(format!(
                "stale: {name} does not match its LOSO files judged again ({}, mean PLCC {:.5}, spread {:.5}{})",
                rejudged.gate.verdict(),
                rejudged.gate.mean_plcc,
                rejudged.gate.plcc_spread,
                rejudged.stability.as_ref().map_or(String::new(), |s| format!(", p_promote {:.3}", s.p_promote))
            )),
            Err(e) => problems.push(format!("invalid: {e}")),
        }
        self.check_reports(verdict, &judged, &others, problems);
        let corpus = self.bundled_corpus(&judged, problems);
        self.check_experiment(verdict, name, &judged, &others, corpus.as_ref(), problems);
        self.check_models(verdict, &judged, corpus.as_ref(), problems);
        let found = Evidence::derived_if(corpus.is_some());
        let grounds = Grounds {
            references: found,
            corpus: found,
            judged_seeds: Evidence::Derived,
        };
        // A judgement that failed was reported above.
        let stability_now = gate::current_stability(&judged, others, model)
            .ok()
            .flatten();
        Some(CheckedVerdict {
            verdict: verdict.clone(),
            grounds,
            stability_now,
        })
    }

    /// A bundle holds exactly the kit's files ([`layout::is_bundle_member`]): anything else
    /// would be vouched for by the manifest and its signature, and extracted beside them.
    fn check_members(&self, manifest: &Manifest, loso: &Utf8Path, problems: &mut Vec<String>) {
        for file in &manifest.files {
            if !layout::is_bundle_member(Utf8Path::new(&file.path), loso) {
                problems.push(format!(
                    "not a kit file: {} (a bundle holds exactly the kit's results — verdict, report, LOSO files, corpus and its audit cells, models — and nothing the kit did not write)",
                    file.path
                ));
            }
        }
    }

    /// A bundled `report.html` is derived data that a browser runs: it must be exactly the
    /// page this kit renders from the bundle's own verdict and LOSO files.
    fn check_reports(
        &self,
        verdict: &VerdictFile,
        judged: &[LosoSeed],
        others: &[LosoSeed],
        problems: &mut Vec<String>,
    ) {
        let reports: Vec<(&String, &String)> = self
            .hashes
            .iter()
            .filter(|(name, _)| Utf8Path::new(name).file_name() == Some(layout::REPORT))
            .map(|(name, (_, sha))| (name, sha))
            .collect();
        if reports.is_empty() {
            return;
        }
        let mut seeds: Vec<LosoSeed> = judged.iter().chain(others).cloned().collect();
        seeds.sort_by_key(|s| s.seed);
        let results = crate::deliver::report::Results {
            verdict: verdict.clone(),
            seeds,
        };
        let expected = crate::deliver::report::render_html(&results)
            .map(|html| crate::digest::sha256_bytes(html.as_bytes()));
        for (name, sha) in reports {
            if expected.as_ref().ok() != Some(sha) {
                problems.push(format!(
                    "altered: {name} is not the page the bundle's verdict and LOSO files give; do not open it \
                     (`ensemble-kit report --out-dir DIR --format html` on the extracted folder renders the true one)"
                ));
            }
        }
    }

    /// The bundled LOSO results of every seed the verdict judged, from the folder its
    /// `loso_dir` ends with (or the only folder holding any).
    /// Returns their folder, and the judged and further seeds when every judged one is there.
    #[allow(clippy::type_complexity)]
    fn judged_seeds(
        &self,
        verdict: &VerdictFile,
        name: &str,
        problems: &mut Vec<String>,
    ) -> Option<(Utf8PathBuf, Option<(Vec<LosoSeed>, Vec<LosoSeed>)>)> {
        let loso_dir = plain_components(Utf8Path::new(&verdict.loso_dir));
        let matching = self
            .loso
            .iter()
            .filter(|(folder, _)| loso_dir.ends_with(&plain_components(folder)))
            .max_by_key(|(folder, _)| plain_components(folder).len());
        let (folder, seeds) = match (matching, self.loso.len()) {
            (Some(found), _) => found,
            (None, 1) => self.loso.iter().next().expect("one folder"),
            (None, 0) => {
                problems.push(format!("missing: the loso_seed*.json files {name} judged"));
                return None;
            }
            (None, _) => {
                problems.push(format!(
                    "ambiguous: several folders hold loso_seed*.json and none is {name}'s loso_dir `{}`",
                    verdict.loso_dir
                ));
                return None;
            }
        };
        let mut judged = Vec::new();
        for seed in &verdict.seeds {
            match seeds.get(seed) {
                Some(Ok(loso)) => judged.push(loso.clone()),
                Some(Err(e)) => problems.push(format!("invalid: {e}")),
                None => problems.push(format!(
                    "missing: {} (judged by {name})",
                    crate::learn::train::seed_path(folder, *seed)
                )),
            }
        }
        let others: Vec<LosoSeed> = seeds
            .iter()
            .filter(|(seed, _)| !verdict.seeds.contains(seed))
            .filter_map(|(_, parsed)| parsed.as_ref().ok().cloned())
            .collect();
        let complete = judged.len() == verdict.seeds.len();
        Some((folder.clone(), complete.then_some((judged, others))))
    }
}
