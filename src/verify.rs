//! `verify` (and the bundle side of `compare`): one read of a results bundle checks it and,
//! with `--extract`, unpacks it into a private folder beside the destination that is moved
//! into place only when everything matched — so bytes swapped between a check and an
//! extraction cannot exist, and a refused bundle leaves nothing behind.
//!
//! A bundle passes when it holds every manifest entry with its size and SHA-256 and nothing
//! else; exactly one verdict file whose name, whose `verdict` field and the manifest's verdict
//! agree, and whose gate is what the bundled `loso_seed*.json` give when judged again; and
//! models only with PROMOTE — then one per judged seed —, each matching its sidecar and fitted
//! on the judged corpus.
//! Reading is bounded: no member past its declared size once the manifest is known, JSON in
//! memory up to [`archive::JSON_MEMBER_MAX`], the whole bundle up to a [`SizeCap`].

use crate::archive::{self, SizeCap};
use crate::error::{Error, Result};
use crate::gate::experiment::{self, CorpusEvidence};
use crate::layout::{MANIFEST, SIGNATURE};
use crate::schema::{
    self, CorpusRow, LosoSeed, Manifest, Provenance, Sidecar, Verdict, VerdictFile,
};
use crate::signing::{self, AllowedSigners, Signature};
use crate::{gate, layout};
use camino::{Utf8Component, Utf8Path, Utf8PathBuf};
use std::collections::BTreeMap;
use std::io::Write;

/// Default cap on what one results bundle may unpack to. A bundle holds text results and
/// small models — a corpus row is about half a kilobyte, so even a million-row shard fits
/// — while a megabyte-sized gzip bomb cannot fill the disk. `--max-total-size` raises it.
pub const BUNDLE_TOTAL_MAX: u64 = 1 << 30;

/// The share of the bundle's cap that its JSON members may take together: they are parsed and
/// held in memory (several bytes of memory per byte of JSON), so with the default 1 GiB cap
/// verify holds at most 128 MiB of JSON, whatever the number of members.
const JSON_SHARE: u64 = 8;

/// What `verify` found.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The bundle's manifest.
    pub manifest: Manifest,
    /// Files checked.
    pub files: usize,
    /// The bundle's one verdict, agreeing with its manifest and its LOSO files.
    pub verdict: VerdictFile,
    /// Its manifest's signature, checked (see [`signing::check`]).
    pub signature: Signature,
}

/// Checks a bundle in one read and, if `extract` is given, extracts it there (a new or empty
/// folder). Problems are listed together, each naming its file. A signature, if any, must be
/// valid; no signer is required.
pub fn verify(
    bundle: &Utf8Path,
    extract: Option<&Utf8Path>,
    max_total_size: u64,
) -> Result<Verified> {
    verify_signed(bundle, extract, max_total_size, None)
}

/// [`verify`], also requiring, with `allowed`, a signature by a key that file allows; nothing
/// is extracted unless the signer is allowed.
pub fn verify_signed(
    bundle: &Utf8Path,
    extract: Option<&Utf8Path>,
    max_total_size: u64,
    allowed: Option<&AllowedSigners>,
) -> Result<Verified> {
    if !bundle.exists() || bundle.is_dir() {
        return Err(Error::Input(format!("bundle `{bundle}` does not exist")));
    }
    let extract = extract
        .map(|dest| layout::resolve_root(dest, "--extract"))
        .transpose()?;
    let extract = extract.as_deref();
    let staging = extract.map(private_folder_beside).transpose()?;
    let staging_path = staging.as_ref().map(|dir| {
        Utf8Path::from_path(dir.path())
            .expect("UTF-8 parent")
            .to_owned()
    });
    let mut cap = SizeCap::new(bundle, "results bundle", max_total_size);
    let mut contents = Contents {
        json_cap: max_total_size / JSON_SHARE,
        ..Contents::default()
    };
    archive::for_each_file(bundle, |name, size, reader| {
        contents.take(
            bundle,
            name,
            size,
            reader,
            &mut cap,
            staging_path.as_deref(),
        )
    })?;
    let manifest_bytes = std::mem::take(&mut contents.manifest_bytes);
    let signature = contents.signature.take();
    let (manifest, verdict) = contents.judge(bundle)?;
    let signature = signing::check(bundle, &manifest_bytes, signature.as_deref(), allowed)?;
    if let (Some(staging), Some(dest)) = (staging, extract) {
        move_into_place(staging, dest)?;
    }
    Ok(Verified {
        files: manifest.files.len(),
        manifest,
        verdict,
        signature,
    })
}

/// A private folder in `dest`'s parent to extract into; `dest` must not hold anything yet, so
/// nothing of the operator's is ever overwritten.
pub(crate) fn private_folder_beside(dest: &Utf8Path) -> Result<tempfile::TempDir> {
    if dest.exists() {
        let empty = dest
            .read_dir_utf8()
            .map(|mut entries| entries.next().is_none())
            .unwrap_or(false);
        if !empty {
            return Err(Error::Input(format!(
                "--extract `{dest}` already exists and is not an empty folder; give a new or empty folder so nothing in it is overwritten"
            )));
        }
    }
    let parent = dest
        .parent()
        .filter(|p| !p.as_str().is_empty())
        .unwrap_or(Utf8Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    tempfile::Builder::new()
        .prefix(".verify-")
        .tempdir_in(parent)
        .map_err(|e| Error::io(parent, e))
}

/// Renames the checked extraction onto `dest` (absent or an empty folder).
fn move_into_place(staging: tempfile::TempDir, dest: &Utf8Path) -> Result<()> {
    // Temporary folders are created private (0700); the extracted folder is an ordinary one.
    std::fs::set_permissions(
        staging.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .map_err(|e| Error::io(dest, e))?;
    std::fs::rename(staging.path(), dest).map_err(|e| Error::io(dest, e))?;
    // The folder now lives at `dest`; dropping the handle finds nothing left to remove.
    drop(staging);
    Ok(())
}

/// Creates the file for member `name` inside the extraction folder.
fn staged_file(staging: &Utf8Path, name: &Utf8Path) -> Result<std::io::BufWriter<std::fs::File>> {
    let path = staging.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let file = std::fs::File::create_new(&path).map_err(|e| Error::io(&path, e))?;
    Ok(std::io::BufWriter::new(file))
}

/// The seed of a `loso_seed{N}.json` member.
fn loso_seed_number(name: &Utf8Path) -> Option<u64> {
    crate::layout::seed_of(name.file_name()?)
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

/// What one read of a bundle gathered.
#[derive(Default)]
struct Contents {
    manifest: Option<Manifest>,
    /// The manifest's bytes, which its signature signs.
    manifest_bytes: Vec<u8>,
    /// The bytes of `manifest.json.sig`, if the bundle has one.
    signature: Option<Vec<u8>>,
    /// Declared size of every file the manifest lists.
    declared: BTreeMap<String, u64>,
    /// (size, sha256) of every member read, but the manifest.
    hashes: BTreeMap<String, (u64, String)>,
    /// Members named like a verdict file, parsed.
    verdicts: Vec<(String, Result<VerdictFile>)>,
    /// `loso_seed{N}.json` members by folder and seed, parsed.
    loso: BTreeMap<Utf8PathBuf, BTreeMap<u64, Result<LosoSeed>>>,
    /// Model sidecars by member path.
    sidecars: Vec<(String, Sidecar)>,
    /// Members refused unread (unlisted, or not their declared size), with why.
    refused: BTreeMap<String, String>,
    /// Bytes of JSON members read into memory so far, and the most allowed (see [`JSON_SHARE`]).
    json_held: u64,
    json_cap: u64,
    /// The rows of every `corpus/*.jsonl` member, by member (`None`: a line that is no row).
    corpus_rows: BTreeMap<String, Option<Vec<CorpusRow>>>,
    /// The metadata beside them (`corpus/*.meta.json`), by member.
    corpus_meta: BTreeMap<String, Option<Provenance>>,
}

/// Whether a member is a corpus file of the results layout (`corpus/NAME.jsonl`).
fn is_corpus_member(name: &Utf8Path) -> bool {
    name.parent().map(Utf8Path::as_str) == Some(layout::CORPUS) && name.extension() == Some("jsonl")
}

/// Collects the corpus rows of a JSON Lines member as its bytes stream through (a corpus may
/// be far larger than a JSON member may be in memory; its rows are kept, as training keeps them).
#[derive(Default)]
struct RowCollector {
    pending: Vec<u8>,
    rows: Vec<CorpusRow>,
    bad: bool,
}

impl RowCollector {
    fn line(&mut self, bytes: &[u8]) {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        match serde_json::from_slice::<CorpusRow>(bytes) {
            Ok(row) => self.rows.push(row),
            Err(_) => self.bad = true,
        }
    }

    /// The rows, or `None` when a line was not a row.
    fn finish(mut self) -> Option<Vec<CorpusRow>> {
        let rest = std::mem::take(&mut self.pending);
        self.line(&rest);
        (!self.bad).then_some(self.rows)
    }
}

impl Write for RowCollector {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if let Some(last) = self.pending.iter().rposition(|&b| b == b'\n') {
            let complete: Vec<u8> = self.pending.drain(..=last).collect();
            for line in complete.split(|&b| b == b'\n') {
                self.line(line);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes everything to both.
struct Tee<'a>(&'a mut dyn Write, &'a mut dyn Write);

impl Write for Tee<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write_all(buf)?;
        self.1.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()?;
        self.1.flush()
    }
}

impl Contents {
    /// Reads one member: hashed, parsed if it is JSON the checks need, and staged if
    /// extracting; a member the manifest (when already read) does not allow is not read.
    fn take(
        &mut self,
        bundle: &Utf8Path,
        name: &Utf8Path,
        size: u64,
        reader: &mut dyn std::io::Read,
        cap: &mut SizeCap,
        staging: Option<&Utf8Path>,
    ) -> Result<()> {
        if name.as_str() == SIGNATURE && size > signing::SIGNATURE_MAX {
            return Err(Error::Input(format!(
                "{bundle}: refusing `{name}`: {size} bytes, and an SSH signature is at most {}",
                signing::SIGNATURE_MAX
            )));
        }
        if self.manifest.is_some() && name.as_str() != MANIFEST && name.as_str() != SIGNATURE {
            match self.declared.get(name.as_str()) {
                None => {
                    let why = format!("extra: {name} (not in the manifest; not read)");
                    self.refused.insert(name.to_string(), why);
                    return Ok(());
                }
                Some(&declared) if declared != size => {
                    let why = format!(
                        "altered: {name} ({size} bytes, manifest says {declared}; not read)"
                    );
                    self.refused.insert(name.to_string(), why);
                    return Ok(());
                }
                Some(_) => {}
            }
        }
        cap.reserve(name.as_str(), size)?;
        let unreadable =
            |e: std::io::Error| Error::Input(format!("{bundle}: cannot unpack `{name}`: {e}"));
        if name.extension() != Some("json") && name.as_str() != SIGNATURE {
            let mut rows = is_corpus_member(name).then(RowCollector::default);
            let mut sink = std::io::sink();
            let hashed = match staging {
                Some(dir) => {
                    let mut file = staged_file(dir, name)?;
                    let hashed = match rows.as_mut() {
                        Some(rows) => archive::copy_hashed(reader, &mut Tee(&mut file, rows), size),
                        None => archive::copy_hashed(reader, &mut file, size),
                    };
                    file.flush().map_err(unreadable)?;
                    hashed
                }
                None => match rows.as_mut() {
                    Some(rows) => archive::copy_hashed(reader, &mut Tee(&mut sink, rows), size),
                    None => archive::copy_hashed(reader, &mut sink, size),
                },
            };
            if let Some(rows) = rows {
                self.corpus_rows.insert(name.to_string(), rows.finish());
            }
            let hashed = hashed.map_err(unreadable)?.ok_or_else(|| {
                Error::Input(format!(
                    "{bundle}: `{name}` holds more than the {size} bytes its header says"
                ))
            })?;
            self.hashes.insert(name.to_string(), hashed);
            return Ok(());
        }
        self.json_held = self.json_held.saturating_add(size);
        if self.json_held > self.json_cap {
            return Err(Error::Input(format!(
                "{bundle}: with `{name}` its JSON members together pass {}, the most verify holds in memory (an eighth of the --max-total-size cap); if you trust the archive, raise the cap with --max-total-size",
                archive::describe_size(self.json_cap)
            )));
        }
        let bytes = archive::read_member(bundle, name, size, reader)?;
        if let Some(dir) = staging {
            let mut file = staged_file(dir, name)?;
            file.write_all(&bytes)
                .and_then(|()| file.flush())
                .map_err(unreadable)?;
        }
        let label = archive::member_label(bundle, name);
        if name.as_str() == MANIFEST {
            let manifest: Manifest = schema::parse_checked(&bytes, &label)?;
            self.declared = manifest
                .files
                .iter()
                .map(|f| (f.path.clone(), f.size))
                .collect();
            self.manifest = Some(manifest);
            self.manifest_bytes = bytes;
        } else if name.as_str() == SIGNATURE {
            self.signature = Some(bytes);
        } else {
            self.inspect(name, &bytes, &label);
            self.hashes.insert(
                name.to_string(),
                (bytes.len() as u64, crate::digest::sha256_bytes(&bytes)),
            );
        }
        Ok(())
    }

    /// Keeps what the checks need from a JSON member: a verdict, a LOSO result, a sidecar.
    fn inspect(&mut self, name: &Utf8Path, bytes: &[u8], label: &Utf8Path) {
        if layout::verdict_of_file_name(name.file_name().unwrap_or_default()).is_some() {
            self.verdicts
                .push((name.to_string(), schema::parse_checked(bytes, label)));
        } else if let Some(seed) = loso_seed_number(name) {
            let folder = name.parent().unwrap_or(Utf8Path::new("")).to_owned();
            self.loso
                .entry(folder)
                .or_default()
                .insert(seed, gate::parse_seed(bytes, label, seed));
        } else if name.parent().map(Utf8Path::as_str) == Some(layout::CORPUS) {
            let meta = schema::parse_value(bytes, label)
                .and_then(|value| schema::decode_provenance(value, label))
                .ok();
            self.corpus_meta.insert(name.to_string(), meta);
        } else if let Ok(sidecar) = serde_json::from_slice::<Sidecar>(bytes) {
            self.sidecars.push((name.to_string(), sidecar));
        }
    }

    /// Every check of a whole bundle; returns its manifest and verdict, or every problem.
    fn judge(self, bundle: &Utf8Path) -> Result<(Manifest, VerdictFile)> {
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
        for (name, sidecar) in &self.sidecars {
            let model = Utf8Path::new(name).with_file_name(&sidecar.onnx);
            match self.hashes.get(model.as_str()) {
                Some((_, sha)) if *sha == sidecar.sha256 => {}
                Some((_, sha)) => problems.push(format!(
                    "altered: {model} (sha256 {sha}, sidecar {name} says {})",
                    sidecar.sha256
                )),
                None => problems.push(format!("missing: {model} (named by sidecar {name})")),
            }
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
        let verdict = self.check_verdict(&manifest, &mut problems);
        match verdict {
            Some(verdict) if problems.is_empty() => Ok((manifest, verdict)),
            _ => Err(Error::Input(format!(
                "{bundle} fails verification:\n  {}",
                problems.join("\n  ")
            ))),
        }
    }

    /// The one verdict file: its name, its `verdict`, its gate, the manifest's verdict and the
    /// gate re-judged from the bundled LOSO files must agree, and models go only with PROMOTE.
    fn check_verdict(
        &self,
        manifest: &Manifest,
        problems: &mut Vec<String>,
    ) -> Option<VerdictFile> {
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
        let seeds = self.judged_seeds(verdict, name, problems);
        if let Some((seeds, others)) = &seeds {
            match gate::judgement(seeds, others.clone()) {
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
        }
        if let Some((judged, others)) = &seeds {
            self.check_reports(verdict, judged, others, problems);
            self.check_experiment(verdict, name, judged, others, problems);
        }
        let seeds = seeds.map(|(judged, _)| judged);
        if word != Verdict::Promote {
            let models = self
                .hashes
                .keys()
                .filter(|n| Utf8Path::new(n).extension() == Some("onnx"))
                .chain(self.sidecars.iter().map(|(n, _)| n));
            for model in models {
                problems.push(format!(
                    "model in a {word} bundle: {model} (models go only with PROMOTE)"
                ));
            }
        }
        if word == Verdict::Promote {
            for seed in &verdict.seeds {
                if !self.sidecars.iter().any(|(_, s)| s.seed == *seed) {
                    problems.push(format!(
                        "missing: the model of judged seed {seed} (a PROMOTE bundle carries one model per judged seed)"
                    ));
                }
            }
        }
        let judged_corpus = seeds
            .as_ref()
            .and_then(|s| s.first())
            .map(|l| &l.corpus_sha256);
        for (sidecar_name, sidecar) in &self.sidecars {
            if judged_corpus.is_some_and(|c| *c != sidecar.corpus.sha256) {
                problems.push(format!(
                    "corpus mismatch: {sidecar_name} was fitted on another corpus than the one judged"
                ));
            }
        }
        Some(verdict.clone())
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
        let results = crate::report::Results {
            verdict: verdict.clone(),
            seeds,
        };
        let expected = crate::report::render_html(&results)
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

    /// The bundled corpus: every `corpus/*.jsonl` member's rows with the metadata beside it;
    /// `None` when the bundle holds none or one cannot be read.
    fn corpus_evidence(&self) -> Option<CorpusEvidence> {
        if self.corpus_rows.is_empty() {
            return None;
        }
        let mut rows = Vec::new();
        let mut files = Vec::new();
        for (member, parsed) in &self.corpus_rows {
            rows.extend(parsed.clone()?);
            let meta = crate::corpus::meta_path(Utf8Path::new(member));
            let provenance = match self.corpus_meta.get(meta.as_str()) {
                Some(parsed) => Some(parsed.clone()?),
                None => None,
            };
            let file = Utf8Path::new(member)
                .file_name()
                .unwrap_or(member)
                .to_owned();
            files.push((file, provenance));
        }
        CorpusEvidence::from_rows(rows, files)
    }

    /// The verdict's `experiment`, derived again from the bundled LOSO files and corpus; where
    /// the bundle holds no corpus that the seeds were trained on, only what the LOSO files give.
    fn check_experiment(
        &self,
        verdict: &VerdictFile,
        name: &str,
        judged: &[LosoSeed],
        others: &[LosoSeed],
        problems: &mut Vec<String>,
    ) {
        let Some(stated) = &verdict.experiment else {
            return;
        };
        let evidence = self.corpus_evidence();
        let again = experiment::derive(judged, others, evidence.as_ref());
        // Through the same text as the file's, so that floats compare as read.
        let again: schema::Experiment =
            serde_json::from_str(&serde_json::to_string(&again).expect("experiments serialise"))
                .expect("experiments read back");
        let expected = if again.corpus_found {
            again
        } else {
            experiment::without_corpus(again)
        };
        let stated = if expected.corpus_found {
            stated.clone()
        } else {
            experiment::without_corpus(stated.clone())
        };
        if stated != expected {
            problems.push(format!(
                "stale: {name}'s experiment is not what its bundled LOSO files{} give",
                if expected.corpus_found {
                    " and corpus"
                } else {
                    ""
                }
            ));
        }
    }

    /// The bundled LOSO results of every seed the verdict judged, from the folder its
    /// `loso_dir` ends with (or the only folder holding any).
    fn judged_seeds(
        &self,
        verdict: &VerdictFile,
        name: &str,
        problems: &mut Vec<String>,
    ) -> Option<(Vec<LosoSeed>, Vec<LosoSeed>)> {
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
                    crate::train::seed_path(folder, *seed)
                )),
            }
        }
        let others: Vec<LosoSeed> = seeds
            .iter()
            .filter(|(seed, _)| !verdict.seeds.contains(seed))
            .filter_map(|(_, parsed)| parsed.as_ref().ok().cloned())
            .collect();
        (judged.len() == verdict.seeds.len()).then_some((judged, others))
    }
}
