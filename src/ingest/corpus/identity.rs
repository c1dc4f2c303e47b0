//! The identity of rows across shards: the key a merge deduplicates on, the timeless form two
//! shards must agree on, and the SHA-256 of rows in that form — the corpus identity `train`
//! reports. Below both `merge` and the corpus stage, so that each can name a shard's rows the
//! same way without importing the other.

use crate::digest;
use crate::schema::CorpusRow;

/// The identity of a row across shards: (`src_sha256`, `encoder`, `cq`, `frame_index`).
pub type RowKey = (String, String, u32, u64);

/// The identity of `row` across shards.
pub fn key(row: &CorpusRow) -> RowKey {
    (
        row.src_sha256.clone(),
        row.encoder.clone(),
        row.cq,
        row.frame_index,
    )
}

/// A row with its timing zeroed: what two shards must agree on.
pub fn timeless(row: &CorpusRow) -> CorpusRow {
    CorpusRow {
        enc_time_ms: 0,
        ..row.clone()
    }
}

/// The identity of unique rows sorted by [`key`]: SHA-256 of their JSON lines with timings
/// excluded.
pub fn rows_sha256(rows: &[CorpusRow]) -> String {
    let mut canonical = Vec::new();
    for row in rows {
        serde_json::to_writer(&mut canonical, &timeless(row)).expect("rows serialise");
        canonical.push(b'\n');
    }
    digest::sha256_bytes(&canonical)
}
