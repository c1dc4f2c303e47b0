//! The merge stage: one or more shards read as one corpus. Every row is validated; rows are
//! deduplicated on (`src_sha256`, `encoder`, `cq`, `frame_index`) — never on `src_sha256` alone,
//! which would collapse distinct cells — and two rows with the same key but different values are
//! a conflict naming both shards. Shards scored by different libvmaf versions are refused unless
//! explicitly allowed. `merge` writes the union with every input's provenance.

mod columns;
mod seen;

pub use columns::Columns;

use crate::error::{Error, Result};
use crate::ingest::corpus::identity::timeless;
pub use crate::ingest::corpus::identity::{key, rows_sha256, RowKey};
use crate::ingest::corpus::meta_path;
use crate::schema::{
    self, decode_provenance, CorpusRow, Document, MergedMeta, MergedShard, Provenance,
    SCHEMA_VERSION,
};
use crate::{atomic, digest, timestamp};
use camino::{Utf8Path, Utf8PathBuf};
use std::collections::{BTreeMap, BTreeSet};

/// What a merge tolerates beyond the default rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MergeRules {
    /// Merge shards scored by different libvmaf versions.
    pub allow_mixed_vmaf: bool,
    /// Accept shards without their `.meta.json` (their libvmaf version and tools are then
    /// unknown, so the mixed-version guard cannot see them); the merge records which.
    pub allow_missing_meta: bool,
}

/// A merged corpus in memory.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// The shard files, as given.
    pub files: Vec<Utf8PathBuf>,
    /// Rows each file contributed before deduplication.
    pub file_rows: Vec<u64>,
    /// SHA-256 of each file, hashed once while loading (checked against its metadata, and
    /// recorded by `write`).
    pub file_sha256: Vec<String>,
    /// Unique rows, sorted by key.
    pub rows: Columns,
    /// SHA-256 of the rows (timings excluded) in key order: the corpus's identity.
    pub sha256: String,
    /// The libvmaf versions that scored it (from the shards' metadata, when present).
    pub vmaf_versions: Vec<String>,
    /// Identical rows dropped.
    pub duplicates: u64,
    /// Shards accepted without metadata (only with [`MergeRules::allow_missing_meta`]).
    pub unverified: Vec<Utf8PathBuf>,
    /// Shards imported from the reference kit, whose libvmaf version is unknown.
    pub imported: Vec<String>,
    /// How LOSO files and sidecars name the corpus: the files as given, comma-separated (`full`
    /// names its own shard relative to the results folder instead).
    pub label: String,
}

impl Corpus {
    /// Rows already merged (sorted by key, unique), with their identity: a bundle's corpus as
    /// training read it. No file stands behind them; the label is empty.
    pub fn of_rows(rows: impl IntoIterator<Item = CorpusRow>, sha256: String) -> Corpus {
        Corpus {
            files: Vec::new(),
            file_rows: Vec::new(),
            file_sha256: Vec::new(),
            rows: rows.into_iter().collect(),
            sha256,
            vmaf_versions: Vec::new(),
            duplicates: 0,
            unverified: Vec::new(),
            imported: Vec::new(),
            label: String::new(),
        }
    }
}

/// The libvmaf "version" of rows imported from the reference kit, which does not record it.
pub const IMPORTED_VMAF: &str = "unknown (imported from the reference kit)";

/// The metadata beside `shard`, if any, checked against its schema (not against the shard).
pub fn provenance(shard: &Utf8Path) -> Result<Option<Provenance>> {
    let path = meta_path(shard);
    if !path.exists() {
        return Ok(None);
    }
    // One read: the kind and the document checked come from the same bytes.
    decode_provenance(schema::read_value(&path)?, &path).map(Some)
}

/// The shard's metadata, checked against the shard: it must exist (unless `allow_missing`) and
/// name the shard's exact SHA-256 and row count, so that a shard cannot borrow another's
/// provenance or shed its own to slip past the libvmaf-version guard.
fn checked_provenance(
    shard: &Utf8Path,
    rows: u64,
    actual: &str,
    allow_missing: bool,
) -> Result<Option<Provenance>> {
    let meta_file = meta_path(shard);
    let Some(found) = provenance(shard)? else {
        if allow_missing {
            return Ok(None);
        }
        return Err(Error::Input(format!(
            "`{shard}` has no metadata beside it (`{meta_file}`), so who scored it and with which libvmaf is unknown; \
             copy the .meta.json that `ensemble-kit corpus` wrote next to it, or pass --allow-missing-meta to accept it unverified"
        )));
    };
    let (n_rows, sha, field) = match &found {
        Provenance::Shard(m) => (m.n_rows, &m.shard_sha256, "/shard_sha256"),
        Provenance::Imported(m) => (m.n_rows, &m.shard_sha256, "/shard_sha256"),
        Provenance::Merged(m) => (m.n_rows, &m.corpus_sha256, "/corpus_sha256"),
    };
    let mismatch = |field: &str, message: String| Error::Invalid {
        path: meta_file.clone(),
        line: None,
        field: field.into(),
        message,
    };
    if n_rows != rows {
        return Err(mismatch(
            "/n_rows",
            format!("says {n_rows} rows but {shard} has {rows}"),
        ));
    }
    if sha != actual {
        return Err(mismatch(
            field,
            format!("does not match {shard} (its sha256 is {actual})"),
        ));
    }
    Ok(Some(found))
}

/// Loads and merges `files`: every row validated, every shard's metadata checked against it,
/// no key twice within one shard, one video per source name and one name per video, and one
/// libvmaf version unless the rules allow more.
pub fn load(files: &[Utf8PathBuf], rules: MergeRules) -> Result<Corpus> {
    if files.is_empty() {
        return Err(Error::Input(
            "no corpus given; pass one or more .jsonl shards".into(),
        ));
    }
    let mut rows = Columns::default();
    let mut seen = seen::Seen::default();
    let mut duplicates = 0u64;
    let mut file_rows = Vec::new();
    let mut file_sha256 = Vec::new();
    let mut versions: BTreeMap<String, Utf8PathBuf> = BTreeMap::new();
    let mut videos: BTreeMap<String, (String, usize)> = BTreeMap::new();
    let mut names: BTreeMap<String, (String, usize)> = BTreeMap::new();
    let mut unverified = Vec::new();
    let mut imported = Vec::new();
    for (index, file) in files.iter().enumerate() {
        if !file.is_file() {
            return Err(Error::Input(format!("corpus `{file}` does not exist; pass the .jsonl shard written by `ensemble-kit corpus`")));
        }
        let mut count = 0u64;
        schema::for_each_jsonl(file, |line, row: CorpusRow| {
            count += 1;
            crate::ingest::sources::check_name(&row.src).map_err(|message| Error::Invalid {
                path: file.clone(),
                line: Some(line),
                field: "/src".into(),
                message,
            })?;
            match videos.get(&row.src) {
                Some((sha, from)) if *sha != row.src_sha256 => {
                    let marker = crate::ingest::import::unknown_source_marker(&row.src);
                    let fix = if *sha == marker || row.src_sha256 == marker {
                        "one shard was imported without --ref-dir, so its video is unknown; re-import it with --ref-dir"
                    } else {
                        "each source is one leave-one-out fold, so rename one of the videos and re-score it"
                    };
                    return Err(Error::Input(format!(
                        "source name `{}` stands for two different videos: sha256 {sha} in `{}` and {} in `{file}` (line {line}); {fix}",
                        row.src, files[*from], row.src_sha256
                    )));
                }
                Some(_) => {}
                None => {
                    if let Some((other, from)) = names.get(&row.src_sha256) {
                        return Err(Error::Input(format!(
                            "source `{other}` in `{}` and source `{}` in `{file}` (line {line}) are the same video (sha256 {}); \
                             one video is one leave-one-out fold, or its held-out frames leak into training — score it under one name",
                            files[*from], row.src, row.src_sha256
                        )));
                    }
                    names.insert(row.src_sha256.clone(), (row.src.clone(), index));
                    videos.insert(row.src.clone(), (row.src_sha256.clone(), index));
                }
            }
            // Each key's entry remembers the last shard that had it, so a key seen twice in
            // one shard is found without a set of keys per shard.
            let row_key = rows.key_of(&row);
            match seen.find(&rows, row_key) {
                Some(entry) if entry.shard() == index => {
                    return Err(Error::Invalid {
                        path: file.clone(),
                        line: Some(line),
                        field: "/frame_index".into(),
                        message: format!(
                            "{}/{}/cq{} frame {} appears twice in this shard; each frame of a cell is scored once",
                            row.src, row.encoder, row.cq, row.frame_index
                        ),
                    });
                }
                Some(entry) if timeless(&rows.row(entry.row())) == timeless(&row) => {
                    duplicates += 1;
                    entry.seen_in(index);
                }
                Some(entry) => {
                    return Err(Error::Input(format!(
                        "conflicting rows for {}/{}/cq{}/frame {}: `{}` and `{file}` (line {line}) disagree (vmaf {} vs {}); \
                         these shards were not scored the same way and cannot be merged",
                        row.src, row.encoder, row.cq, row.frame_index, files[entry.shard()], rows.vmaf(entry.row()), row.vmaf
                    )));
                }
                None => {
                    let merged = rows.push_keyed(&row, row_key);
                    seen.insert(&rows, merged, index);
                }
            }
            Ok(())
        })?;
        let sha256 = digest::sha256_file(file)?;
        match checked_provenance(file, count, &sha256, rules.allow_missing_meta)? {
            Some(found) => {
                if let Provenance::Merged(m) = &found {
                    if !m.unverified_shards.is_empty() && !rules.allow_missing_meta {
                        return Err(Error::Input(format!(
                            "`{file}` was merged from shard(s) accepted without metadata ({}), so who scored them and with which libvmaf is unknown; \
                             pass --allow-missing-meta again to use it unverified (the LOSO files and the verdict will name them)",
                            m.unverified_shards.join(", ")
                        )));
                    }
                    unverified.extend(m.unverified_shards.iter().map(Utf8PathBuf::from));
                }
                for version in found.vmaf_versions() {
                    versions.entry(version).or_insert_with(|| file.clone());
                }
                let from_reference = found.imported(file);
                if !from_reference.is_empty() {
                    // Unknown is a version of its own: it may not mix with known ones unasked.
                    versions
                        .entry(IMPORTED_VMAF.into())
                        .or_insert_with(|| file.clone());
                }
                imported.extend(from_reference);
            }
            None => unverified.push(file.clone()),
        }
        file_rows.push(count);
        file_sha256.push(sha256);
    }
    if versions.len() > 1 && !rules.allow_mixed_vmaf {
        let list: Vec<String> = versions
            .iter()
            .map(|(v, f)| format!("{f} (libvmaf {v})"))
            .collect();
        return Err(Error::Input(format!(
            "shards were scored by different libvmaf versions: {}; re-score with one version or pass --allow-mixed-vmaf",
            list.join(", ")
        )));
    }
    drop(seen);
    let rows = rows.sorted_by_key();
    Ok(Corpus {
        label: files
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join(","),
        files: files.to_vec(),
        file_rows,
        file_sha256,
        sha256: rows_sha256(rows.iter()),
        rows,
        vmaf_versions: versions.into_keys().collect(),
        duplicates,
        unverified,
        imported,
    })
}

/// Checks one shard or merged corpus as `merge` would read it (rows, keys, sources, and the
/// metadata when present) and describes it.
pub fn validate(shard: &Utf8Path) -> Result<String> {
    let rules = MergeRules {
        allow_missing_meta: true,
        ..MergeRules::default()
    };
    let corpus = load(&[shard.to_owned()], rules)?;
    let rows = corpus.file_rows[0];
    Ok(if corpus.unverified.iter().any(|f| f == shard) {
        format!("corpus shard, {rows} rows, but no metadata beside it: merge and train refuse it without --allow-missing-meta")
    } else if !corpus.unverified.is_empty() {
        format!("corpus shard, {rows} rows, metadata matches; merged from shards without metadata, so train refuses it without --allow-missing-meta")
    } else if !corpus.imported.is_empty() {
        format!("corpus shard, {rows} rows, metadata matches; imported from the reference kit, so its libvmaf version is unknown")
    } else {
        format!("corpus shard, {rows} rows, metadata matches")
    })
}

/// Writes the merged corpus to `out` (`.jsonl`, rows in key order) and its provenance beside it.
pub fn write(corpus: &Corpus, out: &Utf8Path) -> Result<MergedMeta> {
    if out.extension() != Some("jsonl") {
        return Err(Error::Input(format!(
            "--out `{out}` must name a .jsonl file"
        )));
    }
    if corpus.files.iter().any(|f| f == out) {
        return Err(Error::Input(format!(
            "--out `{out}` is also an input; write the merge to a new file"
        )));
    }
    let pinned = timestamp::pinned();
    atomic::write_with(out, |w| {
        for row in corpus.rows.iter() {
            serde_json::to_writer(&mut *w, &if pinned { timeless(&row) } else { row })?;
            w.write_all(b"\n")?;
        }
        Ok(())
    })?;
    let shards = corpus
        .files
        .iter()
        .zip(corpus.file_rows.iter().zip(&corpus.file_sha256))
        .map(|(file, (&rows, sha256))| {
            let (meta, merged, imported) = match provenance(file)? {
                Some(Provenance::Shard(m)) => (Some(*m), None, None),
                Some(Provenance::Imported(m)) => (None, None, Some(*m)),
                Some(Provenance::Merged(m)) => (None, Some(m), None),
                None => (None, None, None),
            };
            Ok(MergedShard {
                file: file.to_string(),
                sha256: sha256.clone(),
                rows,
                meta,
                merged,
                imported,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let meta = MergedMeta {
        kind: MergedMeta::SCHEMA.into(),
        schema_version: SCHEMA_VERSION,
        kit_version: schema::kit_version().into(),
        created_at_utc: timestamp::now_utc()?,
        corpus_file: out.file_name().expect("checked name").into(),
        corpus_sha256: digest::sha256_file(out)?,
        rows_sha256: corpus.sha256.clone(),
        n_rows: corpus.rows.len() as u64,
        duplicates_dropped: corpus.duplicates,
        vmaf_versions: corpus
            .vmaf_versions
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        unverified_shards: corpus.unverified.iter().map(|f| f.to_string()).collect(),
        imported_shards: corpus.imported.clone(),
        shards,
    };
    crate::ingest::corpus::audit_cells::gather(&corpus.files, out)?;
    atomic::write_json(&meta_path(out), &meta)?;
    Ok(meta)
}
