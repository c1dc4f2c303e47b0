//! A corpus's rows held as compact columns, so that a 10⁶-row corpus fits in about 70 MB: the
//! few distinct sources, encoders and cells are stored once and each row names its cell by
//! index, and every other number is one entry of a column. A [`CorpusRow`] exists only on
//! demand ([`Columns::row`], [`Columns::iter`]); nothing per row survives parsing.

use crate::schema::CorpusRow;
use hashbrown::HashTable;
use std::hash::{BuildHasher, RandomState};

/// The compact identity of a row within one [`Columns`]: (source, encoder, cq, frame_index),
/// with the source and the encoder as indices into their tables.
pub type CompactKey = (u32, u32, u32, u64);

/// What the rows of one cell share: the cell (source, encoder, cq) and its encode's size and
/// time. The rows of a cell nearly always agree on the encode; when a merge joins frames of one
/// cell from two shards that timed it differently, the cell is stored once per encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Cell {
    source: u32,
    encoder: u32,
    cq: u32,
    enc_bytes: u64,
    enc_time_ms: u64,
}

/// Rows as columns; see the module documentation.
#[derive(Debug, Clone, Default)]
pub struct Columns {
    /// Distinct (`src`, `src_sha256`) pairs, in order of first appearance.
    sources: Vec<(String, String)>,
    /// Distinct encoders, in order of first appearance.
    encoders: Vec<String>,
    /// Distinct cells as encoded, in order of first appearance.
    cells: Vec<Cell>,
    /// Find a value's index in `sources`, `encoders` and `cells`.
    source_ids: HashTable<u32>,
    encoder_ids: HashTable<u32>,
    cell_ids: HashTable<u32>,
    hasher: RandomState,
    /// Per row: its index in `cells`, its frame, VMAF and six model features (as
    /// [`CorpusRow::features`] orders them).
    cell: Vec<u32>,
    frame_index: Vec<u64>,
    vmaf: Vec<f64>,
    features: [Vec<f64>; 6],
}

/// The index in `values` of the value `probe` hashes and `matches` finds, added by `make` when
/// new; `hash` hashes a stored value as `probe` was hashed. A lookup borrows, never allocates.
fn intern<T>(
    values: &mut Vec<T>,
    ids: &mut HashTable<u32>,
    probe: u64,
    matches: impl Fn(&T) -> bool,
    hash: impl Fn(&T) -> u64,
    make: impl FnOnce() -> T,
) -> u32 {
    if let Some(&id) = ids.find(probe, |&id| matches(&values[id as usize])) {
        return id;
    }
    let id = u32::try_from(values.len()).expect("fewer than 2³² distinct values");
    values.push(make());
    ids.insert_unique(probe, id, |&id| hash(&values[id as usize]));
    id
}

impl Columns {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.cell.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.cell.is_empty()
    }

    /// The source and encoder of `row`, adding either to its table when new.
    fn names_of(&mut self, row: &CorpusRow) -> (u32, u32) {
        let hasher = &self.hasher;
        let pair = (row.src.as_str(), row.src_sha256.as_str());
        let source = intern(
            &mut self.sources,
            &mut self.source_ids,
            hasher.hash_one(pair),
            |(name, sha)| (name.as_str(), sha.as_str()) == pair,
            |(name, sha)| hasher.hash_one((name.as_str(), sha.as_str())),
            || (row.src.clone(), row.src_sha256.clone()),
        );
        let encoder = intern(
            &mut self.encoders,
            &mut self.encoder_ids,
            hasher.hash_one(row.encoder.as_str()),
            |name| *name == row.encoder,
            |name| hasher.hash_one(name.as_str()),
            || row.encoder.clone(),
        );
        (source, encoder)
    }

    /// The compact key `row` has (or would have) here, adding its source and encoder to their
    /// tables when new.
    pub fn key_of(&mut self, row: &CorpusRow) -> CompactKey {
        let (source, encoder) = self.names_of(row);
        (source, encoder, row.cq, row.frame_index)
    }

    /// Appends `row` and returns its index.
    pub fn push(&mut self, row: &CorpusRow) -> usize {
        let key = self.key_of(row);
        self.push_keyed(row, key)
    }

    /// Appends `row`, whose key [`Columns::key_of`] just gave, and returns its index: a merge
    /// looks the key up first and need not intern the row's names twice.
    pub fn push_keyed(&mut self, row: &CorpusRow, key: CompactKey) -> usize {
        let (source, encoder, cq, frame_index) = key;
        debug_assert!(
            (cq, frame_index) == (row.cq, row.frame_index),
            "the row's own key"
        );
        let cell = Cell {
            source,
            encoder,
            cq: row.cq,
            enc_bytes: row.enc_bytes,
            enc_time_ms: row.enc_time_ms,
        };
        let hasher = &self.hasher;
        let id = intern(
            &mut self.cells,
            &mut self.cell_ids,
            hasher.hash_one(cell),
            |c| *c == cell,
            |c| hasher.hash_one(c),
            || cell,
        );
        self.cell.push(id);
        self.frame_index.push(row.frame_index);
        self.vmaf.push(row.vmaf);
        for (column, value) in self.features.iter_mut().zip(row.features()) {
            column.push(value);
        }
        self.len() - 1
    }

    fn cell(&self, i: usize) -> &Cell {
        &self.cells[self.cell[i] as usize]
    }

    /// The compact key of row `i`.
    pub fn key(&self, i: usize) -> CompactKey {
        let cell = self.cell(i);
        (cell.source, cell.encoder, cell.cq, self.frame_index[i])
    }

    /// Row `i`, rebuilt.
    pub fn row(&self, i: usize) -> CorpusRow {
        let cell = self.cell(i);
        let (src, src_sha256) = self.sources[cell.source as usize].clone();
        let [adm2, vif_scale0, vif_scale1, vif_scale2, vif_scale3, motion2] = self.features(i);
        CorpusRow {
            src,
            src_sha256,
            encoder: self.encoders[cell.encoder as usize].clone(),
            cq: cell.cq,
            frame_index: self.frame_index[i],
            enc_bytes: cell.enc_bytes,
            enc_time_ms: cell.enc_time_ms,
            vmaf: self.vmaf[i],
            adm2,
            vif_scale0,
            vif_scale1,
            vif_scale2,
            vif_scale3,
            motion2,
        }
    }

    /// Every row in order, each rebuilt as it is reached.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = CorpusRow> + '_ {
        (0..self.len()).map(|i| self.row(i))
    }

    /// The distinct (`src`, `src_sha256`) pairs; [`Columns::source_id`] indexes them.
    pub fn sources(&self) -> &[(String, String)] {
        &self.sources
    }

    /// The distinct encoders; [`Columns::encoder_id`] indexes them.
    pub fn encoders(&self) -> &[String] {
        &self.encoders
    }

    /// Row `i`'s index into [`Columns::sources`].
    pub fn source_id(&self, i: usize) -> usize {
        self.cell(i).source as usize
    }

    /// Row `i`'s index into [`Columns::encoders`].
    pub fn encoder_id(&self, i: usize) -> usize {
        self.cell(i).encoder as usize
    }

    /// Row `i`'s cq.
    pub fn cq(&self, i: usize) -> u32 {
        self.cell(i).cq
    }

    /// Row `i`'s VMAF.
    pub fn vmaf(&self, i: usize) -> f64 {
        self.vmaf[i]
    }

    /// Row `i`'s six model features, as [`CorpusRow::features`] orders them.
    pub fn features(&self, i: usize) -> [f64; 6] {
        std::array::from_fn(|f| self.features[f][i])
    }

    /// The rows reordered by the key a merge sorts on: (`src_sha256`, `encoder`, `cq`,
    /// `frame_index`), the strings compared as text. Keys must be unique.
    pub fn sorted_by_key(mut self) -> Columns {
        let rank = |names: Vec<&str>| -> Vec<u32> {
            let mut order: Vec<u32> = (0..names.len() as u32).collect();
            order.sort_unstable_by_key(|&id| names[id as usize]);
            let mut rank = vec![0; names.len()];
            for (r, id) in order.into_iter().enumerate() {
                rank[id as usize] = r as u32;
            }
            rank
        };
        let source_rank = rank(self.sources.iter().map(|(_, sha)| sha.as_str()).collect());
        let encoder_rank = rank(self.encoders.iter().map(String::as_str).collect());
        let mut order: Vec<u32> = (0..self.len() as u32).collect();
        order.sort_unstable_by_key(|&i| {
            let (source, encoder, cq, frame_index) = self.key(i as usize);
            (
                source_rank[source as usize],
                encoder_rank[encoder as usize],
                cq,
                frame_index,
            )
        });
        permute(&mut self.cell, &order);
        permute(&mut self.frame_index, &order);
        permute(&mut self.vmaf, &order);
        for column in &mut self.features {
            permute(column, &order);
        }
        self
    }
}

/// `column` in the row order `order` (one column at a time, so the extra memory is one column).
fn permute<T: Copy>(column: &mut Vec<T>, order: &[u32]) {
    *column = order.iter().map(|&i| column[i as usize]).collect();
}

impl FromIterator<CorpusRow> for Columns {
    fn from_iter<I: IntoIterator<Item = CorpusRow>>(rows: I) -> Columns {
        let mut columns = Columns::default();
        for row in rows {
            columns.push(&row);
        }
        columns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(src: &str, encoder: &str, cq: u32, frame_index: u64) -> CorpusRow {
        CorpusRow {
            src: src.into(),
            src_sha256: format!("{src:0>64}"),
            encoder: encoder.into(),
            cq,
            frame_index,
            enc_bytes: 1000 + u64::from(cq),
            enc_time_ms: 7,
            vmaf: 90.5 - f64::from(cq),
            adm2: 0.9,
            vif_scale0: 0.1,
            vif_scale1: 0.2,
            vif_scale2: 0.3,
            vif_scale3: 0.4,
            motion2: frame_index as f64,
        }
    }

    #[test]
    fn rows_come_back_as_they_went_in() {
        let rows = vec![
            row("b", "libx265", 25, 1),
            row("a", "libx264", 19, 0),
            row("b", "libx264", 25, 0),
            row("a", "libx264", 19, 1),
        ];
        let columns: Columns = rows.iter().cloned().collect();
        assert_eq!(columns.len(), 4);
        assert_eq!(columns.iter().collect::<Vec<_>>(), rows);
        assert_eq!(columns.sources().len(), 2, "each source stored once");
        assert_eq!(columns.encoders().len(), 2, "each encoder stored once");
        assert_eq!(columns.cells.len(), 3, "each cell stored once");
        assert_eq!(columns.features(2), [0.9, 0.1, 0.2, 0.3, 0.4, 0.0]);
    }

    #[test]
    fn a_cell_timed_twice_keeps_each_rows_timing() {
        let mut later = row("a", "libx264", 19, 1);
        later.enc_time_ms = 9;
        let rows = vec![row("a", "libx264", 19, 0), later];
        let columns: Columns = rows.iter().cloned().collect();
        assert_eq!(columns.cells.len(), 2);
        assert_eq!(
            columns.key(1),
            (0, 0, 19, 1),
            "one key space for both encodes"
        );
        assert_eq!(columns.iter().collect::<Vec<_>>(), rows);
    }

    #[test]
    fn a_name_under_two_hashes_is_two_sources() {
        let mut other = row("a", "libx264", 19, 0);
        other.src_sha256 = "f".repeat(64);
        let rows = vec![row("a", "libx264", 19, 0), other];
        let columns: Columns = rows.iter().cloned().collect();
        assert_eq!(columns.sources().len(), 2);
        assert_eq!(columns.iter().collect::<Vec<_>>(), rows);
    }

    #[test]
    fn sorting_follows_the_merge_key_as_text() {
        // "b" hashes to 0…0b and "a" to 0…0a; encoders compare as text; then cq and frame.
        let rows = vec![
            row("b", "libx264", 19, 0),
            row("a", "libx265", 19, 0),
            row("a", "libx264", 25, 0),
            row("a", "libx264", 19, 10),
            row("a", "libx264", 19, 2),
        ];
        let mut expected = rows.clone();
        expected.sort_by(|x, y| {
            crate::ingest::corpus::identity::key(x).cmp(&crate::ingest::corpus::identity::key(y))
        });
        let columns: Columns = rows.into_iter().collect();
        assert_eq!(columns.sorted_by_key().iter().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn a_key_is_found_without_adding_a_row() {
        let mut columns = Columns::default();
        let i = columns.push(&row("a", "libx264", 19, 3));
        let mut retimed = row("a", "libx264", 19, 3);
        retimed.enc_time_ms = 9;
        assert_eq!(columns.key_of(&retimed), columns.key(i));
        assert_ne!(columns.key_of(&row("a", "libx264", 19, 4)), columns.key(i));
        assert_eq!(
            (columns.len(), columns.cells.len()),
            (1, 1),
            "nothing added"
        );
    }
}
