//! Reading one or more shards as one corpus: every row validated, rows deduplicated on
//! (`src_sha256`, `encoder`, `cq`, `frame_index`) — never on `src_sha256` alone — and two rows
//! with the same key but different values reported as a conflict naming both shards. Shards
//! scored by different libvmaf versions are refused unless explicitly allowed.

use crate::corpus::meta_path;
use crate::digest;
use crate::error::{Error, Result};
use crate::schema::{self, CorpusRow, ShardMeta};
use camino::{Utf8Path, Utf8PathBuf};
use std::collections::BTreeMap;

/// The identity of a row across shards.
pub type RowKey = (String, String, u32, u64);

/// A merged corpus in memory.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// The shard files, as given.
    pub files: Vec<Utf8PathBuf>,
    /// Unique rows, sorted by key.
    pub rows: Vec<CorpusRow>,
    /// SHA-256 of the rows (timings excluded) in key order: the corpus's identity.
    pub sha256: String,
    /// The libvmaf versions that scored it (from the shards' metadata, when present).
    pub vmaf_versions: Vec<String>,
    /// Duplicate rows dropped.
    pub duplicates: u64,
}

fn key(row: &CorpusRow) -> RowKey {
    (
        row.src_sha256.clone(),
        row.encoder.clone(),
        row.cq,
        row.frame_index,
    )
}

/// Two rows agree when everything but the encode timing is equal.
fn same_values(a: &CorpusRow, b: &CorpusRow) -> bool {
    CorpusRow {
        enc_time_ms: 0,
        ..a.clone()
    } == CorpusRow {
        enc_time_ms: 0,
        ..b.clone()
    }
}

/// Loads and merges `files`.
pub fn load(files: &[Utf8PathBuf], allow_mixed_vmaf: bool) -> Result<Corpus> {
    if files.is_empty() {
        return Err(Error::Input(
            "no corpus given; pass --corpus SHARD.jsonl (one or more)".into(),
        ));
    }
    let mut rows: BTreeMap<RowKey, (CorpusRow, usize)> = BTreeMap::new();
    let mut duplicates = 0u64;
    let mut versions: BTreeMap<String, Utf8PathBuf> = BTreeMap::new();
    for (index, file) in files.iter().enumerate() {
        if !file.is_file() {
            return Err(Error::Input(format!("corpus `{file}` does not exist; pass the .jsonl shard written by `ensemble-kit corpus`")));
        }
        if let Some(version) = vmaf_version(file)? {
            versions.entry(version).or_insert_with(|| file.clone());
        }
        schema::for_each_jsonl(file, "corpus-row", |line, row: CorpusRow| {
            match rows.get(&key(&row)) {
                Some((existing, from)) if same_values(existing, &row) => {
                    let _ = from;
                    duplicates += 1;
                }
                Some((existing, from)) => {
                    return Err(Error::Input(format!(
                        "conflicting rows for {}/{}/cq{}/frame {}: `{}` and `{}` (line {line}) disagree (vmaf {} vs {}); \
                         these shards were not scored the same way and cannot be merged",
                        row.src, row.encoder, row.cq, row.frame_index, files[*from], file, existing.vmaf, row.vmaf
                    )));
                }
                None => {
                    rows.insert(key(&row), (row, index));
                }
            }
            Ok(())
        })?;
    }
    if versions.len() > 1 && !allow_mixed_vmaf {
        let list: Vec<String> = versions
            .iter()
            .map(|(v, f)| format!("{f} (libvmaf {v})"))
            .collect();
        return Err(Error::Input(format!(
            "shards were scored by different libvmaf versions: {}; re-score with one version or pass --allow-mixed-vmaf",
            list.join(", ")
        )));
    }
    let rows: Vec<CorpusRow> = rows.into_values().map(|(row, _)| row).collect();
    let mut canonical = Vec::new();
    for row in &rows {
        serde_json::to_writer(
            &mut canonical,
            &CorpusRow {
                enc_time_ms: 0,
                ..row.clone()
            },
        )
        .expect("rows serialise");
        canonical.push(b'\n');
    }
    Ok(Corpus {
        files: files.to_vec(),
        sha256: digest::sha256_bytes(&canonical),
        rows,
        vmaf_versions: versions.into_keys().collect(),
        duplicates,
    })
}

/// The libvmaf version recorded in a shard's metadata, if the metadata is beside it.
fn vmaf_version(shard: &Utf8Path) -> Result<Option<String>> {
    let meta = meta_path(shard);
    if !meta.exists() {
        return Ok(None);
    }
    let meta: ShardMeta = schema::read_json(&meta, "shard-meta")?;
    Ok(Some(meta.tools.vmaf.version))
}
