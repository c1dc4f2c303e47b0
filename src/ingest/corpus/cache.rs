//! The cell store: each finished cell saved atomically under the SHA-256 of everything its
//! result depends on (source hash, encoder, cq, the exact command lines, tool versions).
//!
//! A changed argument can never reuse a stale result. An unreadable or invalid stored cell is
//! reported and simply recomputed: the store never makes a run fail by itself.
//!
//! Each finished cell keeps its encoded bitstream (`<key>.mkv`) beside its record: audit cells
//! are chosen only after every cell is scored, and a hardware encode cannot be repeated
//! byte for byte, so the bytes that were scored must still exist then.

use crate::atomic;
use crate::digest;
use crate::error::{Error, Result};
use crate::schema::{self, CellKeyInputs, CellRecord};
use camino::{Utf8Path, Utf8PathBuf};

/// Written into every cell store the kit creates (or finds empty): only a folder with this
/// marker is the kit's to lock and to clear `scratch/` in.
pub const MARKER: &str = ".ensemble-kit-cells";

/// Makes `dir` a cell store of the kit's: creates and marks it when new or empty, accepts it
/// when marked, and refuses a folder holding anything else (touching nothing).
fn claim(dir: &Utf8Path) -> Result<()> {
    let marker = dir.join(MARKER);
    if marker.is_file() {
        return Ok(());
    }
    if dir.exists() {
        let mut entries = dir
            .read_dir_utf8()
            .map_err(|e| Error::Input(format!("--cell-dir `{dir}` cannot be read: {e}")))?;
        if entries.next().is_some() {
            return Err(Error::Input(format!(
                "--cell-dir `{dir}` already holds files that ensemble-kit did not write (it has no {MARKER} marker); \
                 choose a new or empty folder for the cell store — nothing in `{dir}` was touched"
            )));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    // Empty: its name is the mark, and it takes no block on a nearly full disk (where the cell
    // that does not fit should be the one to report "disk full").
    atomic::write(&marker, b"")
}

/// A folder of finished cells plus a scratch folder for encodes in flight, held under an
/// exclusive lock so that two runs never share one store.
#[derive(Debug)]
pub struct CellStore {
    dir: Utf8PathBuf,
    _lock: atomic::Lock,
}

impl CellStore {
    /// Opens (creating) the store at `dir`, locks it, and clears scratch files a killed run
    /// left behind. Only a folder with the store's [`MARKER`] is the kit's to lock and clean: a
    /// new or empty folder is marked, any other folder refused untouched.
    pub fn open(dir: &Utf8Path) -> Result<CellStore> {
        claim(dir)?;
        let lock = atomic::lock_exclusive(&dir.join("lock"), || {
            format!(
                "another ensemble-kit run is using the cell store `{dir}`; wait for it to finish or pass another --cell-dir"
            )
        })?;
        let store = CellStore {
            dir: dir.to_owned(),
            _lock: lock,
        };
        let scratch = store.scratch();
        if scratch.exists() {
            std::fs::remove_dir_all(&scratch).map_err(|e| Error::io(&scratch, e))?;
        }
        std::fs::create_dir_all(&scratch).map_err(|e| Error::io(&scratch, e))?;
        Ok(store)
    }

    /// Where encodes live while their cell is scored.
    pub fn scratch(&self) -> Utf8PathBuf {
        self.dir.join("scratch")
    }

    /// The cache key: SHA-256 of the canonical JSON of the inputs.
    pub fn key(inputs: &CellKeyInputs) -> String {
        digest::sha256_bytes(&serde_json::to_vec(inputs).expect("key inputs serialise"))
    }

    fn path(&self, key: &str) -> Utf8PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    /// Where a finished cell's encoded bitstream is kept.
    pub fn bitstream(&self, key: &str) -> Utf8PathBuf {
        self.dir.join(format!("{key}.mkv"))
    }

    /// The stored cell for `key`: `Ok(None)` when absent, `Err` (to be reported, then the cell
    /// recomputed) when present but unreadable, invalid, or not matching its key.
    pub fn load(&self, key: &str) -> Result<Option<CellRecord>> {
        let path = self.path(key);
        if !path.exists() {
            return Ok(None);
        }
        let record: CellRecord = schema::read_json(&path)?;
        if record.key != key || Self::key(&record.inputs) != key {
            return Err(Error::Invalid {
                path,
                line: None,
                field: "/key".into(),
                message: "the stored cell does not match its key".into(),
            });
        }
        let bitstream = self.bitstream(key);
        let kept = std::fs::metadata(&bitstream).map(|m| m.len()).ok();
        if kept != Some(record.enc_bytes) {
            return Err(Error::Invalid {
                path,
                line: None,
                field: "/enc_bytes".into(),
                message: format!(
                    "the cell's bitstream {bitstream} is missing or not {} bytes",
                    record.enc_bytes
                ),
            });
        }
        Ok(Some(record))
    }

    /// Saves a finished cell: its bitstream `encoded` (moved from the scratch folder) first,
    /// then its record atomically, so a stored record always has its bitstream.
    pub fn save(&self, record: &CellRecord, encoded: &Utf8Path) -> Result<()> {
        let bitstream = self.bitstream(&record.key);
        std::fs::rename(encoded, &bitstream).map_err(|e| Error::io(&bitstream, e))?;
        atomic::write_json(&self.path(&record.key), record)
    }
}
