//! Walking a folder tree the one way the kit does: everything below a root, no symbolic link
//! below it followed, every name UTF-8, and I/O errors naming the path they happened on.
//! (A root that is itself a link is read as the folder it names.) And reading one file the one
//! way the kit does when its size bounds what it may be: never past the cap, whatever the file
//! claims or grows to while read.

use crate::error::{Error, Result};
use camino::{Utf8Path, Utf8PathBuf};
use std::fs::FileType;
use std::io::Read;
use walkdir::WalkDir;

/// One entry below the root.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The path relative to the root.
    pub rel: Utf8PathBuf,
    /// The path as found (the root joined with `rel`).
    pub path: Utf8PathBuf,
    /// What the entry itself is (a link is a link, not what it names).
    pub kind: FileType,
}

/// Every entry below `root` (folders, files, links), sorted by relative path.
pub fn below(root: &Utf8Path) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for entry in WalkDir::new(root).min_depth(1).follow_links(false) {
        let entry = entry.map_err(|e| walk_error(root, e))?;
        let kind = entry.file_type();
        let path = Utf8PathBuf::try_from(entry.into_path()).map_err(|e| {
            let dir = e.as_path().parent().and_then(Utf8Path::from_path);
            let name = e.as_path().file_name().unwrap_or_default().to_string_lossy();
            let why = format!(
                "the file name `{name}` is invalid UTF-8; rename it (e.g. to plain ASCII) so that it can be listed"
            );
            Error::io(
                dir.unwrap_or(root).to_owned(),
                std::io::Error::new(std::io::ErrorKind::InvalidData, why),
            )
        })?;
        let rel = path.strip_prefix(root).expect("below root").to_owned();
        entries.push(Entry { rel, path, kind });
    }
    entries.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(entries)
}

/// A failed step of the walk as the kit reports I/O errors: the path it failed on and why.
fn walk_error(root: &Utf8Path, e: walkdir::Error) -> Error {
    let path = e
        .path()
        .and_then(Utf8Path::from_path)
        .unwrap_or(root)
        .to_owned();
    let text = e.to_string();
    Error::io(
        path,
        e.into_io_error()
            .unwrap_or_else(|| std::io::Error::other(text)),
    )
}

/// The bytes of `path` when it holds at most `max`, `None` when it holds more (read no further
/// than `max + 1` bytes to tell); I/O errors name the path.
pub fn read_capped(path: &Utf8Path, max: u64) -> Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(max.saturating_add(1)).read_to_end(&mut bytes))
        .map_err(|e| Error::io(path, e))?;
    Ok((bytes.len() as u64 <= max).then_some(bytes))
}
