//! The keys a merge has seen, found as rows stream in, so that a repeated key is caught at the
//! line that repeats it. Each entry is two indices — the row in the merged columns and the last
//! shard that had its key — and the key itself is read from the columns, never copied.

use super::columns::{Columns, CompactKey};
use hashbrown::HashTable;
use std::hash::{BuildHasher, RandomState};

/// A key's entry: where its row is, and which shard had it last (8 bytes, so the index of a
/// 10⁶-row corpus stays near 20 MB).
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    row: u32,
    shard: u32,
}

impl Entry {
    /// The row's index in the merged columns.
    pub fn row(self) -> usize {
        self.row as usize
    }

    /// The index of the last shard that had this key.
    pub fn shard(self) -> usize {
        self.shard as usize
    }

    /// Records that shard `shard` had this key too.
    pub fn seen_in(&mut self, shard: usize) {
        self.shard = u32::try_from(shard).expect("fewer than 2³² shards");
    }
}

/// The keys of the rows merged so far.
#[derive(Debug, Default)]
pub struct Seen {
    index: HashTable<Entry>,
    hasher: RandomState,
}

impl Seen {
    /// The entry of `key`, if a row with it was merged.
    pub fn find(&mut self, rows: &Columns, key: CompactKey) -> Option<&mut Entry> {
        let hash = self.hasher.hash_one(key);
        self.index.find_mut(hash, |e| rows.key(e.row()) == key)
    }

    /// Records that row `row` of `rows`, just merged from shard `shard`, holds its key.
    pub fn insert(&mut self, rows: &Columns, row: usize, shard: usize) {
        let hasher = &self.hasher;
        let mut entry = Entry {
            row: u32::try_from(row).expect("fewer than 2³² rows"),
            shard: 0,
        };
        entry.seen_in(shard);
        self.index
            .insert_unique(hasher.hash_one(rows.key(row)), entry, |e| {
                hasher.hash_one(rows.key(e.row()))
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::CorpusRow;

    fn row(frame_index: u64) -> CorpusRow {
        CorpusRow {
            src: "a".into(),
            src_sha256: "a".repeat(64),
            encoder: "libx264".into(),
            cq: 19,
            frame_index,
            enc_bytes: 1,
            enc_time_ms: 1,
            vmaf: 90.0,
            adm2: 0.9,
            vif_scale0: 0.5,
            vif_scale1: 0.6,
            vif_scale2: 0.7,
            vif_scale3: 0.8,
            motion2: 1.0,
        }
    }

    #[test]
    fn a_key_is_found_with_its_row_and_last_shard() {
        let (mut rows, mut seen) = (Columns::default(), Seen::default());
        for frame in 0..1000 {
            let i = rows.push(&row(frame));
            seen.insert(&rows, i, 0);
        }
        let key = rows.key_of(&row(500));
        let entry = seen.find(&rows, key).expect("merged");
        assert_eq!((entry.row(), entry.shard()), (500, 0));
        entry.seen_in(3);
        assert_eq!(seen.find(&rows, key).map(|e| e.shard()), Some(3));
        let missing = rows.key_of(&row(1000));
        assert!(seen.find(&rows, missing).is_none());
    }
}
