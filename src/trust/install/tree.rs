//! Reading the owner's model tree without trusting it: only plain file names directly in
//! MODEL_DIR, never through a symbolic link, each read bounded and hashed.

use crate::error::{Error, Result};
use camino::Utf8Path;

/// Longest file name install writes or reads in MODEL_DIR (file systems cap names at 255 bytes).
const NAME_MAX: usize = 255;

/// Whether `name` is a plain file name install may touch: no folder, no `.`/`..`, not hidden
/// (install's own staging and backup names start with a dot), at most 255 bytes.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= NAME_MAX
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
}

/// What is at `path`, never following a link: `None` when nothing is there, an error naming it
/// when it is a link, a folder or anything but a regular file.
pub fn regular_file(path: &Utf8Path) -> Result<Option<std::fs::Metadata>> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
        Ok(meta) if meta.file_type().is_symlink() => Err(Error::Input(format!(
            "`{path}` is a symbolic link; install replaces files in MODEL_DIR by renaming and never follows a link out of it: put the file itself there (or remove the link)"
        ))),
        Ok(meta) if !meta.is_file() => Err(Error::Input(format!(
            "`{path}` is not a regular file; install only adds, replaces and keeps regular files: move it away"
        ))),
        Ok(meta) => Ok(Some(meta)),
    }
}

/// The bytes of the regular file at `path` (none when absent), refusing one over `max` bytes
/// (`what` names it in the message) and reading at most `max + 1` bytes whatever it claims.
pub fn read_bounded(path: &Utf8Path, max: u64, what: &str) -> Result<Option<Vec<u8>>> {
    let Some(meta) = regular_file(path)? else {
        return Ok(None);
    };
    let too_big = |size: String| {
        Error::Input(format!(
            "`{path}` is {size} bytes; install reads {what} only up to {max} bytes, so this is not one it should rewrite"
        ))
    };
    if meta.len() > max {
        return Err(too_big(meta.len().to_string()));
    }
    // It may grow while read: then its size is known only to be over the cap.
    match crate::walk::read_capped(path, max)? {
        Some(bytes) => Ok(Some(bytes)),
        None => Err(too_big(format!("more than {max}"))),
    }
}

/// SHA-256 of the regular file at `path`, or `None` when nothing is there (links refused).
pub fn sha256_of(path: &Utf8Path) -> Result<Option<String>> {
    match regular_file(path)? {
        None => Ok(None),
        Some(_) => crate::digest::sha256_file(path).map(Some),
    }
}

/// Makes what was renamed or created in `dir` durable.
pub fn sync_dir(dir: &Utf8Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_pass() {
        for good in ["registry.json", "a_seed0.onnx", "x.onnx.data"] {
            assert!(is_plain_name(good), "{good}");
        }
        for bad in [
            "",
            "../registry.json",
            "models/a.onnx",
            ".hidden",
            "..",
            "a\\b",
            &"x".repeat(256),
        ] {
            assert!(!is_plain_name(bad), "{bad}");
        }
    }

    #[test]
    fn links_folders_and_big_files_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8Path::from_path(dir.path()).unwrap();
        std::fs::write(root.join("real.json"), b"{}").unwrap();
        std::os::unix::fs::symlink(root.join("real.json"), root.join("link.json")).unwrap();
        std::fs::create_dir(root.join("folder.json")).unwrap();
        let err = read_bounded(&root.join("link.json"), 10, "x").unwrap_err();
        assert!(
            err.to_string().contains("link.json` is a symbolic link"),
            "{err}"
        );
        let err = read_bounded(&root.join("folder.json"), 10, "x").unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        let err = read_bounded(&root.join("real.json"), 1, "a registry").unwrap_err();
        assert!(err.to_string().contains("up to 1 bytes"), "{err}");
        assert_eq!(
            read_bounded(&root.join("real.json"), 2, "x").unwrap(),
            Some(b"{}".to_vec())
        );
        assert_eq!(read_bounded(&root.join("absent"), 2, "x").unwrap(), None);
    }
}
