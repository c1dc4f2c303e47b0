//! Audit cells, the ingest half (issue 20): after a shard is scored, K of its cells are chosen
//! from the SHA-256 of the shard's rows (timings excluded, in key order: the corpus identity of
//! [`super::identity::rows_sha256`]) and their encoded bitstreams — the exact bytes that were
//! scored, kept in the cell store — are copied to `SHARD.audit/<key>.mkv` and listed in the
//! shard's metadata; a merge gathers them. Seeding the choice with the rows, not the file, lets
//! an owner recompute it for a shard inside a merged corpus, whose file he never sees.
//! `trust::audit` re-checks the choice and re-scores the cells for `verify --audit`.

use super::cache::CellStore;
use crate::error::{Error, Result};
use crate::layout::{self, dir_of, is_audit_file};
use crate::schema::{AuditCell, CellSummary, Source};
use crate::{atomic, digest};
use camino::{Utf8Path, Utf8PathBuf};
use std::collections::{BTreeMap, BTreeSet};

/// Audit cells kept per shard unless `--audit-cells` says otherwise. Three bitstreams cost a
/// few megabytes at 1080p (README "Audit cells"), and a box that made up a quarter of its cells
/// has one of them audited with a probability of 1 − 0.75³ ≈ 58 %, half of them ≈ 88 %.
pub const DEFAULT_CELLS: usize = 3;

/// The fewest audit cells a shard may keep, unless it keeps none (`--audit-cells 0`): with one,
/// a box that made up a quarter of its cells is caught with a probability of 25 %, with three
/// 58 %. `verify --audit` refuses a shard that lists fewer than this (or than its cells).
pub const MIN_CELLS: usize = 3;

/// `--audit-cells`: 0 (keep none, so the shard cannot be audited) or at least [`MIN_CELLS`].
pub fn parse_count(text: &str) -> std::result::Result<usize, String> {
    let k: usize = text
        .parse()
        .map_err(|_| format!("`{text}` is not a whole number"))?;
    check_count(k).map(|()| k)
}

/// Refuses a count of audit cells between 0 and [`MIN_CELLS`].
pub fn check_count(k: usize) -> std::result::Result<(), String> {
    if k != 0 && k < MIN_CELLS {
        return Err(format!(
            "{k} audit cell(s) per shard is below the minimum of {MIN_CELLS}, and `verify --audit` would refuse the shard; \
             give {MIN_CELLS} or more, or 0 to keep none (the shard then cannot be audited)"
        ));
    }
    Ok(())
}

/// A cell as the rows name it: (`src_sha256`, `encoder`, `cq`).
pub type CellId = (String, String, u32);

/// The `k` cells chosen by `seed` (the shard's rows SHA-256): each cell ranked by the SHA-256
/// of the seed and its identity, the lowest `k` kept, returned sorted. Anyone holding the
/// shard's rows can recompute the choice.
pub fn choose(seed: &str, cells: &BTreeSet<CellId>, k: usize) -> Vec<CellId> {
    let mut ranked: Vec<(String, &CellId)> = cells
        .iter()
        .map(|id| {
            let text = format!("{seed}\n{}\n{}\n{}", id.0, id.1, id.2);
            (digest::sha256_bytes(text.as_bytes()), id)
        })
        .collect();
    ranked.sort();
    let mut chosen: Vec<CellId> = ranked
        .into_iter()
        .take(k)
        .map(|(_, id)| id.clone())
        .collect();
    chosen.sort();
    chosen
}

/// The identity of a listed audit cell.
pub fn id_of(cell: &AuditCell) -> CellId {
    (cell.src_sha256.clone(), cell.encoder.clone(), cell.cq)
}

/// Chooses `k` of the shard's finished cells by `seed` (its rows SHA-256) and copies their
/// bitstreams from the cell store into `SHARD.audit/`, removing audit files of earlier runs;
/// returns them for the shard's metadata.
pub fn keep(
    shard: &Utf8Path,
    seed: &str,
    store: &CellStore,
    cells: &[CellSummary],
    sources: &[Source],
    k: usize,
) -> Result<Vec<AuditCell>> {
    let sha_of: BTreeMap<&str, &str> = sources
        .iter()
        .map(|s| (s.name.as_str(), s.sha256.as_str()))
        .collect();
    let by_id: BTreeMap<CellId, &CellSummary> = cells
        .iter()
        .map(|c| {
            let src_sha = sha_of.get(c.src.as_str()).copied().unwrap_or_default();
            ((src_sha.to_owned(), c.encoder.clone(), c.cq), c)
        })
        .collect();
    let ids: BTreeSet<CellId> = by_id.keys().cloned().collect();
    let dir = dir_of(shard);
    let mut kept = Vec::new();
    for id in choose(seed, &ids, k) {
        let cell = by_id[&id];
        let file = format!("{}.mkv", cell.key);
        let from = store.bitstream(&cell.key);
        let to = dir.join(&file);
        copy(&from, &to)?;
        kept.push(AuditCell {
            src: cell.src.clone(),
            src_sha256: id.0,
            encoder: cell.encoder.clone(),
            cq: cell.cq,
            key: cell.key.clone(),
            file,
            bytes: std::fs::metadata(&to).map_err(|e| Error::io(&to, e))?.len(),
            sha256: digest::sha256_file(&to)?,
        });
    }
    let wanted: BTreeSet<&str> = kept.iter().map(|c| c.file.as_str()).collect();
    for stale in layout::stale_files(&dir, is_audit_file, |name| wanted.contains(name))? {
        std::fs::remove_file(&stale).map_err(|e| Error::io(&stale, e))?;
    }
    Ok(kept)
}

/// Copies a bitstream atomically.
fn copy(from: &Utf8Path, to: &Utf8Path) -> Result<()> {
    let mut source = std::fs::File::open(from).map_err(|e| Error::io(from, e))?;
    atomic::write_with(to, |w| std::io::copy(&mut source, w).map(|_| ()))
}

/// Copies the audit bitstreams of merged shards into the merged corpus's `.audit/` folder; two
/// shards may only name one file name for the same bytes.
pub fn gather(inputs: &[Utf8PathBuf], out: &Utf8Path) -> Result<usize> {
    let dir = dir_of(out);
    let mut copied: BTreeMap<String, String> = BTreeMap::new();
    for input in inputs {
        let from_dir = dir_of(input);
        if !from_dir.is_dir() {
            continue;
        }
        for entry in from_dir
            .read_dir_utf8()
            .map_err(|e| Error::io(&from_dir, e))?
        {
            let entry = entry.map_err(|e| Error::io(&from_dir, e))?;
            let name = entry.file_name().to_owned();
            if !is_audit_file(&name) || !entry.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let sha = digest::sha256_file(entry.path())?;
            match copied.get(&name) {
                Some(earlier) if *earlier != sha => {
                    return Err(Error::Input(format!(
                        "two shards carry different audit bitstreams named {name} (the second in {from_dir}); they cannot be merged"
                    )))
                }
                Some(_) => {}
                None => {
                    copy(entry.path(), &dir.join(&name))?;
                    copied.insert(name, sha);
                }
            }
        }
    }
    for stale in layout::stale_files(&dir, is_audit_file, |n| copied.contains_key(n))? {
        std::fs::remove_file(&stale).map_err(|e| Error::io(&stale, e))?;
    }
    Ok(copied.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u32) -> BTreeSet<CellId> {
        (0..n)
            .map(|cq| ("a".repeat(64), "libx264".to_owned(), cq))
            .collect()
    }

    #[test]
    fn the_choice_is_a_function_of_the_hash() {
        let cells = ids(40);
        let one = choose(&"1".repeat(64), &cells, 3);
        assert_eq!(one.len(), 3);
        assert_eq!(one, choose(&"1".repeat(64), &cells, 3));
        assert_ne!(one, choose(&"2".repeat(64), &cells, 3));
        assert_eq!(choose(&"1".repeat(64), &cells, 0), Vec::<CellId>::new());
        assert_eq!(choose(&"1".repeat(64), &ids(2), 3).len(), 2);
    }

    #[test]
    fn a_count_below_the_minimum_is_refused_unless_it_is_zero() {
        assert_eq!(parse_count("0"), Ok(0));
        assert_eq!(parse_count("3"), Ok(MIN_CELLS));
        assert_eq!(parse_count("40"), Ok(40));
        for k in ["1", "2"] {
            assert!(parse_count(k)
                .unwrap_err()
                .contains("below the minimum of 3"));
        }
        assert!(parse_count("x").is_err());
    }
}
