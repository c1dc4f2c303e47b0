//! Temporary folders end with the kit, as its child processes do ([`super::tools::children`]).
//! `verify --retrain` and `--audit`, `evaluate` and the builds extract and work in folders of
//! TMPDIR (up to the bundle's 1 GiB cap each); a stopped run must not leave them there.
//!
//! - Each is `$TMPDIR/ensemble-kit-<pid>-<purpose>-XXXXXX`, private (0700), and holds a lock on
//!   its `.alive` file for as long as it lives.
//! - It is removed when dropped, and on SIGTERM, SIGINT or SIGHUP by the watcher of
//!   [`super::tools::children`], before the kit dies of the signal.
//! - A SIGKILL (or a power cut) runs no code: the next run that makes a temporary folder removes
//!   every `ensemble-kit-*` folder of this user in TMPDIR whose lock nobody holds (one whose
//!   `.alive` is not there yet counts as held while its pid lives).

use crate::error::{Error, Result};
use camino::{Utf8Path, Utf8PathBuf};
use std::sync::{Mutex, Once};

/// How the kit's temporary folders' names start.
pub const PREFIX: &str = "ensemble-kit-";
/// The file each folder keeps locked while it lives.
const ALIVE: &str = ".alive";

/// The folders alive now, for the signal watcher.
static LIVE: Mutex<Vec<Utf8PathBuf>> = Mutex::new(Vec::new());
/// Leftovers are swept once per run, before its first folder.
static SWEPT: Once = Once::new();

/// A temporary folder of this run, removed when dropped.
#[derive(Debug)]
pub struct Folder {
    path: Utf8PathBuf,
    _alive: std::fs::File,
}

impl Folder {
    /// A new, empty folder in TMPDIR for `purpose` (a word in its name: `retrain`, `audit`…).
    pub fn new(purpose: &str) -> Result<Folder> {
        let tmp = std::env::temp_dir();
        SWEPT.call_once(|| sweep(&tmp));
        let unusable = |e: std::io::Error| {
            Error::Environment(format!(
                "cannot make a temporary folder in {} (TMPDIR): {e}",
                tmp.display()
            ))
        };
        let dir = tempfile::Builder::new()
            .prefix(&format!("{PREFIX}{}-{purpose}-", std::process::id()))
            .tempdir_in(&tmp)
            .map_err(unusable)?;
        let alive = std::fs::File::create_new(dir.path().join(ALIVE)).map_err(unusable)?;
        alive.try_lock().map_err(|e| unusable(e.into()))?;
        let path = Utf8PathBuf::from_path_buf(dir.keep()).map_err(|p| {
            let _ = std::fs::remove_dir_all(&p);
            Error::Environment(format!(
                "the temporary folder {} is not UTF-8; set TMPDIR to a UTF-8 path",
                p.display()
            ))
        })?;
        LIVE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(path.clone());
        Ok(Folder {
            path,
            _alive: alive,
        })
    }

    /// Where it is.
    pub fn path(&self) -> &Utf8Path {
        &self.path
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        LIVE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|p| p != &self.path);
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Removes every folder alive now: the kit is ending by a signal.
pub fn remove_all() {
    for path in LIVE.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
        let _ = std::fs::remove_dir_all(path);
    }
}

/// Removes the kit's folders in `tmp` that no living run holds (see the module documentation).
/// Whatever cannot be removed is left; a sweep never fails a run.
fn sweep(tmp: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    let me = rustix::process::geteuid().as_raw();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(pid_of) else {
            continue;
        };
        let dir = entry.path();
        let ours = std::fs::symlink_metadata(&dir).is_ok_and(|m| {
            use std::os::unix::fs::MetadataExt;
            m.is_dir() && m.uid() == me
        });
        if ours && !held(&dir, pid) {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// The pid in a name `ensemble-kit-<pid>-…`.
fn pid_of(name: &str) -> Option<i32> {
    let rest = name.strip_prefix(PREFIX)?;
    rest.split_once('-')?.0.parse().ok()
}

/// Whether a living run holds the folder: its `.alive` lock is taken, or — before the folder
/// has one — its pid lives.
fn held(dir: &std::path::Path, pid: i32) -> bool {
    match std::fs::File::open(dir.join(ALIVE)) {
        Ok(alive) => alive.try_lock().is_err(),
        Err(_) => rustix::process::Pid::from_raw(pid)
            .is_some_and(|pid| rustix::process::test_kill_process(pid).is_ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_lives_until_dropped_and_only_unheld_leftovers_are_swept() {
        let folder = Folder::new("test").unwrap();
        let path = folder.path().to_owned();
        assert!(path.join(ALIVE).is_file());
        let name = path.file_name().unwrap();
        assert_eq!(pid_of(name), Some(std::process::id() as i32));
        assert!(held(path.as_std_path(), 0), "its lock is held");
        drop(folder);
        assert!(!path.exists());

        let tmp = tempfile::tempdir().unwrap();
        let left = tmp.path().join(format!("{PREFIX}{}-retrain-abc", i32::MAX));
        std::fs::create_dir_all(left.join("bundle")).unwrap();
        std::fs::write(left.join(ALIVE), "").unwrap();
        let living = tmp
            .path()
            .join(format!("{PREFIX}{}-retrain-def", std::process::id()));
        std::fs::create_dir(&living).unwrap();
        let other = tmp.path().join("ensemble-kit-notes");
        std::fs::create_dir(&other).unwrap();
        sweep(tmp.path());
        assert!(
            !left.exists(),
            "a folder whose lock nobody holds is removed"
        );
        assert!(
            living.exists(),
            "a folder without a lock yet, of a living pid, is kept"
        );
        assert!(other.exists(), "a folder not named by the kit is kept");
    }
}
