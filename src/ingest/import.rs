//! The import stage: rows written by the reference (Python) kit in, a kit shard out (SPEC §5).
//!
//! Reference rows lack `src_sha256` and carry a fractional `enc_time_ms`. Each source gets the
//! SHA-256 of its video when `--ref-dir` holds it, or else an unknown-source marker that no
//! real video hashes to, so that an import without videos never merges by hash with a shard
//! scored from them. Timings are rounded to whole milliseconds; every other field is kept. A
//! size or timing the reference did not record (its loader does not need them) is written as 0
//! and named in the provenance. A frame given twice is one row if both are equal and refused
//! otherwise. The shard's provenance (`NAME.meta.json`, kind `imported-shard`) names the
//! reference file and says which source hashes are known.

use crate::error::{Error, Result};
use crate::ingest::corpus::meta_path;
use crate::ingest::sources::{self, GeometryFlags};
use crate::schema::{
    self, CorpusRow, Document, ImportedFile, ImportedShardMeta, ImportedSource, ReferenceRow,
    SCHEMA_VERSION,
};
use crate::{atomic, digest, timestamp};
use camino::{Utf8Path, Utf8PathBuf};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What `import-corpus` is asked to do.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    /// The reference kit's corpus (`.jsonl`).
    pub reference: Utf8PathBuf,
    /// The shard to write (`.jsonl`); its provenance goes beside it.
    pub out: Utf8PathBuf,
    /// Folder of the source videos, to take their real SHA-256.
    pub ref_dir: Option<Utf8PathBuf>,
    /// Geometry for raw videos in `ref_dir` without it in their names.
    pub geometry: GeometryFlags,
    /// Replace a different shard at `out`.
    pub force: bool,
}

/// Hashed before a source name to make its unknown-source marker; a video file never starts
/// with this text and a name, so the marker is never a real video's SHA-256.
const UNKNOWN_SOURCE_PREFIX: &str = "ensemble-kit unknown source (imported without --ref-dir)\0";

/// The `src_sha256` an import without `--ref-dir` gives the source `name`.
pub fn unknown_source_marker(name: &str) -> String {
    digest::sha256_bytes(format!("{UNKNOWN_SOURCE_PREFIX}{name}").as_bytes())
}

/// Runs the import and returns the written shard's metadata.
pub fn run(request: &ImportRequest) -> Result<ImportedShardMeta> {
    let (reference, out) = (&request.reference, &request.out);
    if out.extension() != Some("jsonl") {
        return Err(Error::Input(format!(
            "--out `{out}` must name a .jsonl file (the shard)"
        )));
    }
    if out == reference {
        return Err(Error::Input(format!(
            "--out `{out}` is the reference corpus itself; write the shard to a new file"
        )));
    }
    let rows = read_reference(reference)?;
    let sources = source_hashes(&rows, request)?;
    let not_recorded = not_recorded(&rows);
    let hash_of: BTreeMap<&str, &str> = sources
        .iter()
        .map(|s| (s.name.as_str(), s.sha256.as_str()))
        .collect();
    let n_rows = rows.len() as u64;
    let mut shard = Vec::new();
    for row in rows {
        let sha = hash_of[row.src.as_str()].to_owned();
        serde_json::to_writer(&mut shard, &corpus_row(row, sha)).expect("rows serialise");
        shard.push(b'\n');
    }
    check_not_in_the_way(out, &shard, request.force)?;
    atomic::write(out, &shard)?;
    let meta = ImportedShardMeta {
        kind: ImportedShardMeta::SCHEMA.into(),
        schema_version: SCHEMA_VERSION,
        kit_version: schema::kit_version().into(),
        created_at_utc: timestamp::now_utc()?,
        imported_from: ImportedFile {
            file: reference.file_name().unwrap_or(reference.as_str()).into(),
            sha256: digest::sha256_file(reference)?,
        },
        ref_dir: request.ref_dir.as_ref().map(|d| d.to_string()),
        shard_file: out.file_name().expect("checked .jsonl name").into(),
        shard_sha256: digest::sha256_bytes(&shard),
        n_rows,
        sources,
        not_recorded,
    };
    atomic::write_json(&meta_path(out), &meta)?;
    Ok(meta)
}

/// Every row of the reference corpus, each validated (an error names file, line and field).
fn read_reference(reference: &Utf8Path) -> Result<Vec<ReferenceRow>> {
    if !reference.is_file() {
        return Err(Error::Input(format!(
            "reference corpus `{reference}` does not exist; pass the .jsonl the reference kit wrote"
        )));
    }
    let mut rows = Vec::new();
    let mut first_line: HashMap<CellFrame, (usize, usize)> = HashMap::new();
    schema::for_each_jsonl(reference, |line, row: ReferenceRow| {
        crate::ingest::sources::check_name(&row.src).map_err(|message| Error::Invalid {
            path: reference.to_owned(),
            line: Some(line),
            field: "/src".into(),
            message,
        })?;
        let key = (
            row.src.clone(),
            row.encoder.clone(),
            row.cq,
            row.frame_index,
        );
        match first_line.get(&key) {
            None => {
                first_line.insert(key, (line, rows.len()));
                rows.push(row);
                Ok(())
            }
            Some(&(_, index)) if rows[index] == row => Ok(()), // the same row twice: one row
            Some(&(first, _)) => Err(Error::Invalid {
                path: reference.to_owned(),
                line: Some(line),
                field: "/".into(),
                message: format!(
                    "repeats source `{}`, encoder `{}`, cq {}, frame {} of line {first} with different values; one frame has one score: remove the wrong row",
                    row.src, row.encoder, row.cq, row.frame_index
                ),
            }),
        }
    })?;
    if rows.is_empty() {
        return Err(Error::Input(format!(
            "reference corpus `{reference}` holds no rows"
        )));
    }
    Ok(rows)
}

/// What identifies one frame's row: source, encoder, cq, frame index.
type CellFrame = (String, String, u32, u64);

/// The reference fields some row lacked (its loader reads rows without them), as recorded in
/// the shard's provenance; the shard holds 0 for them.
fn not_recorded(rows: &[ReferenceRow]) -> Vec<String> {
    let mut absent = Vec::new();
    if rows.iter().any(|r| r.enc_bytes.is_none()) {
        absent.push("enc_bytes".to_owned());
    }
    if rows.iter().any(|r| r.enc_time_ms.is_none()) {
        absent.push("enc_time_ms".to_owned());
    }
    absent
}

/// The hash of every source the rows name, sorted by name: from the videos in `--ref-dir`
/// (every source must have one there), else unknown-source markers.
fn source_hashes(rows: &[ReferenceRow], request: &ImportRequest) -> Result<Vec<ImportedSource>> {
    let names: BTreeSet<&str> = rows.iter().map(|r| r.src.as_str()).collect();
    let Some(dir) = &request.ref_dir else {
        return Ok(names
            .into_iter()
            .map(|name| ImportedSource {
                name: name.into(),
                sha256: unknown_source_marker(name),
                known: false,
            })
            .collect());
    };
    let videos: BTreeMap<String, String> = sources::discover(dir, request.geometry)?
        .into_iter()
        .map(|s| (s.name, s.sha256))
        .collect();
    names
        .into_iter()
        .map(|name| match videos.get(name) {
            Some(sha) => Ok(ImportedSource {
                name: name.into(),
                sha256: sha.clone(),
                known: true,
            }),
            None => Err(Error::Input(format!(
                "source `{name}` of `{}` has no video in --ref-dir `{dir}` (it holds: {}); \
                 add NAME.yuv or NAME.y4m, or import without --ref-dir to mark its hash unknown",
                request.reference,
                videos.keys().cloned().collect::<Vec<_>>().join(", ")
            ))),
        })
        .collect()
}

/// A reference row as a kit row: the source's hash added, the timing rounded to whole ms, an
/// absent size or timing 0 (see [`not_recorded`]).
fn corpus_row(row: ReferenceRow, src_sha256: String) -> CorpusRow {
    CorpusRow {
        src: row.src,
        src_sha256,
        encoder: row.encoder,
        cq: row.cq,
        frame_index: row.frame_index,
        enc_bytes: row.enc_bytes.unwrap_or(0),
        enc_time_ms: row.enc_time_ms.map_or(0, |ms| ms.round() as u64),
        vmaf: row.vmaf,
        adm2: row.adm2,
        vif_scale0: row.vif_scale0,
        vif_scale1: row.vif_scale1,
        vif_scale2: row.vif_scale2,
        vif_scale3: row.vif_scale3,
        motion2: row.motion2,
    }
}

/// Refuses to replace a different file at `out` (unless `force`); the same bytes again are fine.
fn check_not_in_the_way(out: &Utf8Path, shard: &[u8], force: bool) -> Result<()> {
    if force || !out.exists() {
        return Ok(());
    }
    if out.is_dir() {
        return Err(Error::Input(format!(
            "--out `{out}` is a folder; name a .jsonl file"
        )));
    }
    if std::fs::read(out).map_err(|e| Error::io(out, e))? == shard {
        return Ok(());
    }
    Err(Error::Input(format!(
        "`{out}` already holds a different shard; choose another --out, or pass --force to replace it"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_differ_per_name_and_from_the_plain_name_hash() {
        let a = unknown_source_marker("a");
        assert_eq!(a.len(), 64);
        assert_ne!(a, unknown_source_marker("b"));
        assert_ne!(a, digest::sha256_bytes(b"a"));
    }
}
