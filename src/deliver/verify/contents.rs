//! Reading a bundle's members in one pass: each hashed, staged when extracting, refused unread
//! when the manifest does not allow it, and the JSON the checks need parsed (verdicts, LOSO
//! files, sidecars, corpus metadata); corpus rows collected as their bytes stream through.

use crate::archive::{self, SizeCap};
use crate::deliver::signing;
use crate::error::{Error, Result};
use crate::layout::{self, MANIFEST, SIGNATURE};
use crate::learn::gate;
use crate::schema::{
    self, CorpusRow, LosoSeed, Manifest, Provenance, Request, Sidecar, VerdictFile,
};
use camino::{Utf8Path, Utf8PathBuf};
use std::collections::BTreeMap;
use std::io::Write;

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

/// What one read of a bundle gathered.
#[derive(Default)]
pub(super) struct Contents {
    pub(super) manifest: Option<Manifest>,
    /// The manifest's bytes, which its signature signs.
    pub(super) manifest_bytes: Vec<u8>,
    /// The bytes of `manifest.json.sig`, if the bundle has one.
    pub(super) signature: Option<Vec<u8>>,
    /// Declared size of every file the manifest lists.
    pub(super) declared: BTreeMap<String, u64>,
    /// (size, sha256) of every member read, but the manifest.
    pub(super) hashes: BTreeMap<String, (u64, String)>,
    /// Members named like a verdict file, parsed.
    pub(super) verdicts: Vec<(String, Result<VerdictFile>)>,
    /// `loso_seed{N}.json` members by folder and seed, parsed.
    pub(super) loso: BTreeMap<Utf8PathBuf, BTreeMap<u64, Result<LosoSeed>>>,
    /// Model sidecars by member path: every JSON member where the layout puts models, parsed
    /// and checked against the sidecar schema.
    pub(super) sidecars: Vec<(String, Result<Sidecar>)>,
    /// Members refused unread (unlisted, or not their declared size), with why.
    pub(super) refused: BTreeMap<String, String>,
    /// Bytes of JSON members read into memory so far, and the most allowed (see [`JSON_SHARE`]).
    pub(super) json_held: u64,
    pub(super) json_cap: u64,
    /// The rows of every `corpus/*.jsonl` member, by member (`None`: a line that is no row).
    pub(super) corpus_rows: BTreeMap<String, Option<Vec<CorpusRow>>>,
    /// The metadata beside them (`corpus/*.meta.json`), by member, or why it cannot be read.
    pub(super) corpus_meta: BTreeMap<String, std::result::Result<Provenance, String>>,
    /// The owner's request the bundle answers (`request.json`), parsed.
    pub(super) request: Option<Result<Request>>,
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
    pub(super) fn take(
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
        if let Some(why) = loso_seed_number(name).and_then(|seed| self.not_named(name, seed)) {
            self.refused.insert(name.to_string(), why);
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

    /// A seed file is read only when the verdict before it (the kit bundles the verdict first)
    /// judges its seed or pools it for stability: what verify holds is what the verdict needs,
    /// not what the member cap allows. Why another seed file is refused unread, if it is.
    fn not_named(&self, name: &Utf8Path, seed: u64) -> Option<String> {
        let Some(verdict) = self.verdicts.iter().find_map(|(_, v)| v.as_ref().ok()) else {
            return Some(format!(
                "not read: {name} comes before any readable verdict file (the kit bundles the verdict first and reads only the seed files it names)"
            ));
        };
        let pooled = verdict.stability.as_ref().map_or(&[][..], |s| &s.seeds[..]);
        if verdict.seeds.contains(&seed) || pooled.contains(&seed) {
            return None;
        }
        Some(format!(
            "not read: {name}: seed {seed} is neither judged by the verdict ({:?}) nor pooled for its stability ({pooled:?}); a bundle carries only the seed files its verdict names",
            verdict.seeds
        ))
    }

    /// Keeps what the checks need from a JSON member: a verdict, a LOSO result, a sidecar.
    fn inspect(&mut self, name: &Utf8Path, bytes: &[u8], label: &Utf8Path) {
        if name.as_str() == layout::REQUEST {
            self.request = Some(schema::parse_checked(bytes, label));
        } else if layout::verdict_of_file_name(name.file_name().unwrap_or_default()).is_some() {
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
                .map_err(|e| e.to_string());
            self.corpus_meta.insert(name.to_string(), meta);
        } else if layout::is_model_place(name) {
            self.sidecars
                .push((name.to_string(), schema::parse_checked(bytes, label)));
        }
    }
}
