//! The identity of rows across shards: the key a merge deduplicates on, the timeless form two
//! shards must agree on, and the SHA-256 of a shard's or corpus's rows in that form — the
//! corpus identity `train` reports, and the seed of a shard's audit-cell choice.

use crate::digest;
use crate::error::Result;
use crate::schema::{self, CorpusRow};
use camino::Utf8Path;
use std::borrow::Borrow;
use std::collections::BTreeMap;

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
pub fn rows_sha256<R: Borrow<CorpusRow>>(rows: impl IntoIterator<Item = R>) -> String {
    digest::sha256_written(|canonical| {
        for row in rows {
            serde_json::to_writer(&mut *canonical, &timeless(row.borrow()))?;
            canonical.write_all(b"\n")?;
        }
        Ok(())
    })
}

/// The rows of one shard file by [`key`] (a later row of a key replaces an earlier one; a
/// merge refuses a shard that holds a key twice).
pub fn read_rows(shard: &Utf8Path) -> Result<BTreeMap<RowKey, CorpusRow>> {
    let mut rows = BTreeMap::new();
    schema::for_each_jsonl(shard, |_, row: CorpusRow| {
        rows.insert(key(&row), row);
        Ok(())
    })?;
    Ok(rows)
}

/// [`rows_sha256`] of a shard file's rows.
pub fn shard_rows_sha256(shard: &Utf8Path) -> Result<String> {
    let rows: Vec<CorpusRow> = read_rows(shard)?.into_values().collect();
    Ok(rows_sha256(&rows))
}
