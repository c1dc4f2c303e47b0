//! Writing files so that a reader never sees half of one: write a temporary sibling, flush it,
//! then rename it over the target. A killed run leaves either the old file or the new one.

use crate::error::{Error, Result};
use camino::Utf8Path;
use std::io::Write;

/// Writes `bytes` to `path` atomically, creating the parent folder if needed.
pub fn write(path: &Utf8Path, bytes: &[u8]) -> Result<()> {
    write_with(path, |w| w.write_all(bytes))
}

/// Writes `value` as pretty JSON with a trailing newline, atomically.
pub fn write_json<T: serde::Serialize>(path: &Utf8Path, value: &T) -> Result<()> {
    write(path, &json_bytes(value))
}

/// The bytes [`write_json`] writes for `value`.
pub fn json_bytes<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("on-disk types always serialise");
    bytes.push(b'\n');
    bytes
}

/// Streams content into a temporary sibling of `path` through `fill`, then renames it into place.
pub fn write_with(
    path: &Utf8Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_str().is_empty() => p,
        _ => Utf8Path::new("."),
    };
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", path.file_name().unwrap_or("out")))
        .suffix(".tmp")
        .tempfile_in(parent)
        .map_err(|e| Error::io(parent, e))?;
    {
        let mut buffered = std::io::BufWriter::new(tmp.as_file_mut());
        fill(&mut buffered).map_err(|e| Error::io(path, e))?;
        buffered.flush().map_err(|e| Error::io(path, e))?;
    }
    // Temporary files are created private (0600); outputs are ordinary files.
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .map_err(|e| Error::io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Takes an exclusive lock on `lock_path` (created if missing) for as long as the returned file
/// lives, so that two runs never write the same output; `busy` is the error sentence when
/// another process holds it.
pub fn lock_exclusive(
    lock_path: &Utf8Path,
    busy: impl FnOnce() -> String,
) -> Result<std::fs::File> {
    if let Some(parent) = lock_path.parent().filter(|p| !p.as_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let lock = std::fs::File::create(lock_path).map_err(|e| Error::io(lock_path, e))?;
    if lock.try_lock().is_err() {
        return Err(Error::Input(busy()));
    }
    Ok(lock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_existing_file_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let path = camino::Utf8PathBuf::from_path_buf(dir.path().join("a/b.json")).unwrap();
        write(&path, b"old").unwrap();
        write_json(&path, &serde_json::json!({"k": 1})).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\n  \"k\": 1\n}\n"
        );
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }
}
