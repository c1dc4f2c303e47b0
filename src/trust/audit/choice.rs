//! Which audit cells a shard must list, derived here: the choice's seed is the SHA-256 of the
//! shard's rows (timings excluded, key order), so it is recomputed from a plain shard's rows,
//! and for each inner shard of a merged corpus from the rows of exactly the cells its metadata
//! lists (the merged file holds them; the inner file's bytes never travel). Every row of a
//! merged corpus must belong to some inner shard's listed cells, so no cell is kept out of the
//! draw; nested merges are walked the same way.

use crate::ingest::corpus::audit_cells::{choose, id_of, CellId, MIN_CELLS};
use crate::ingest::corpus::identity::{rows_sha256, RowKey};
use crate::schema::{CorpusRow, MergedMeta, ShardMeta, Source};
use std::collections::{BTreeMap, BTreeSet};

/// A corpus file's rows by key.
pub(super) type Rows = BTreeMap<RowKey, CorpusRow>;

/// What deriving the choices found.
#[derive(Default)]
pub(super) struct Findings {
    /// Contradictions: each names the shard and both sides.
    pub problems: Vec<String>,
    /// The shards whose choice was derived (`corpus/merged.jsonl › a/shard.jsonl`).
    pub derived: Vec<String>,
    /// Rows that no audit can cover (imported from the reference kit), with why.
    pub unaudited: Vec<String>,
}

/// Derives a plain shard's choice from its own rows.
pub(super) fn plain(label: &str, meta: &ShardMeta, rows: &Rows, findings: &mut Findings) {
    let cells: BTreeSet<CellId> = rows.keys().map(cell_of).collect();
    let own: Vec<CorpusRow> = rows.values().cloned().collect();
    check(label, meta, &own, &cells, findings);
}

/// Derives the choice of every inner shard of a merged corpus from the merged rows, and
/// requires every row to belong to an inner shard's listed cells.
pub(super) fn merged(label: &str, meta: &MergedMeta, rows: &Rows, findings: &mut Findings) {
    let mut covered: BTreeSet<&RowKey> = BTreeSet::new();
    walk(label, meta, rows, &mut covered, findings);
    let mut orphans: BTreeMap<CellId, (String, u64)> = BTreeMap::new();
    for (key, row) in rows.iter().filter(|(k, _)| !covered.contains(k)) {
        orphans
            .entry(cell_of(key))
            .or_insert_with(|| (row.src.clone(), 0))
            .1 += 1;
    }
    if !orphans.is_empty() {
        let list: Vec<String> = orphans
            .iter()
            .map(|((_, encoder, cq), (src, n))| format!("{src}/{encoder}/cq{cq} ({n} rows)"))
            .collect();
        findings.problems.push(format!(
            "{label}: rows of {} cell(s) belong to no inner shard's listed cells: {}; a cell left out of a shard's list is left out of its audit draw",
            orphans.len(),
            list.join(", ")
        ));
    }
}

/// One level of a merged corpus: each inner shard's cells taken from `rows` and its choice
/// derived; inner merges recurse.
fn walk<'a>(
    label: &str,
    meta: &MergedMeta,
    rows: &'a Rows,
    covered: &mut BTreeSet<&'a RowKey>,
    findings: &mut Findings,
) {
    for shard in &meta.shards {
        let inner = format!("{label} › {}", shard.file);
        if let Some(m) = &shard.meta {
            let (own, cells) = listed_rows(&inner, m, rows, covered, findings);
            check(&inner, m, &own, &cells, findings);
        }
        if let Some(nested) = &shard.merged {
            walk(&inner, nested, rows, covered, findings);
        }
        if let Some(imported) = &shard.imported {
            let videos: BTreeSet<&str> =
                imported.sources.iter().map(|s| s.sha256.as_str()).collect();
            covered.extend(rows.keys().filter(|k| videos.contains(k.0.as_str())));
            findings.unaudited.push(format!(
                "{inner} was imported from the reference kit: its rows have no audit cells"
            ));
        }
        if shard.meta.is_none() && shard.merged.is_none() && shard.imported.is_none() {
            findings.problems.push(format!(
                "{inner}: no metadata, so which cells it holds and which it must audit cannot be derived"
            ));
        }
    }
}

/// The rows of the cells an inner shard lists (frames 0..rows of each), each cell required
/// whole in the merged corpus; returns them in key order with the cells' identities.
fn listed_rows<'a>(
    label: &str,
    meta: &ShardMeta,
    rows: &'a Rows,
    covered: &mut BTreeSet<&'a RowKey>,
    findings: &mut Findings,
) -> (Vec<CorpusRow>, BTreeSet<CellId>) {
    let mut own: BTreeMap<&RowKey, &CorpusRow> = BTreeMap::new();
    let mut cells = BTreeSet::new();
    for cell in &meta.cells {
        let Some(source) = meta.sources.iter().find(|s| s.name == cell.src) else {
            findings.problems.push(format!(
                "{label}: lists cell {}/{}/cq{} of a source not among its sources",
                cell.src, cell.encoder, cell.cq
            ));
            continue;
        };
        let id = (source.sha256.clone(), cell.encoder.clone(), cell.cq);
        let mut found = 0u64;
        for frame in 0..cell.rows {
            let key = (id.0.clone(), id.1.clone(), id.2, frame);
            if let Some((key, row)) = rows.get_key_value(&key) {
                own.insert(key, row);
                covered.insert(key);
                found += 1;
            }
        }
        if found != cell.rows {
            findings.problems.push(format!(
                "{label}: lists cell {}/{}/cq{} with {} rows (frames 0..{}), the merged corpus holds {found} of them",
                cell.src, cell.encoder, cell.cq, cell.rows, cell.rows
            ));
        }
        cells.insert(id);
    }
    (own.into_values().cloned().collect(), cells)
}

/// Requires a shard's listed audit cells to be the ones its rows choose, at least the minimum,
/// and its recorded seed to be the one derived.
fn check(
    label: &str,
    meta: &ShardMeta,
    own: &[CorpusRow],
    cells: &BTreeSet<CellId>,
    findings: &mut Findings,
) {
    let derived = rows_sha256(own);
    let hint = match &meta.rows_sha256 {
        Some(claimed) if *claimed != derived => {
            findings.problems.push(format!(
                "{label}: rows_sha256 (the audit choice's seed) claimed {claimed}, derived {derived} from its {} rows",
                own.len()
            ));
            ""
        }
        Some(_) => "",
        None => " (it records no rows_sha256: a kit that seeded the choice with the file's hash wrote it; re-score it with this kit)",
    };
    let mut listed: Vec<CellId> = meta.audit_cells.iter().map(id_of).collect();
    listed.sort();
    let least = MIN_CELLS.min(cells.len());
    if listed.len() < least {
        findings.problems.push(format!(
            "{label}: lists {} audit cell(s), fewer than the minimum {MIN_CELLS} (it has {} cells); a shard must be re-scored with --audit-cells {MIN_CELLS} or more",
            listed.len(),
            cells.len()
        ));
    }
    let chosen = choose(&derived, cells, meta.settings.audit_cells);
    if listed != chosen {
        findings.problems.push(format!(
            "{label}: its audit cells ({}) are not the {} its rows choose ({}){hint}; the rows changed after the cells were chosen, or the cells were picked by hand",
            names(&listed, &meta.sources),
            meta.settings.audit_cells,
            names(&chosen, &meta.sources)
        ));
    }
    findings.derived.push(label.to_owned());
}

/// The cell a row key belongs to.
fn cell_of(key: &RowKey) -> CellId {
    (key.0.clone(), key.1.clone(), key.2)
}

/// Cells as messages name them (`src/encoder/cqN`), in order.
fn names(cells: &[CellId], sources: &[Source]) -> String {
    if cells.is_empty() {
        return "none".into();
    }
    cells
        .iter()
        .map(|(sha, encoder, cq)| {
            let src = sources
                .iter()
                .find(|s| s.sha256 == *sha)
                .map_or_else(|| format!("sha256 {sha}"), |s| s.name.clone());
            format!("{src}/{encoder}/cq{cq}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}
