//! One results folder, one writer. Every command that writes a results folder — `full` in every
//! mode, `train`, `verdict`, `export`, `report --format html`, `bundle` — holds its lock for
//! its whole run: two writers would remove or bundle each other's files half-written (one `full`
//! announced a bundle the other then deleted).
//!
//! The lock is [`LOCK`] in the folder the command writes, in the layout's folders inside it
//! that exist (`loso/`, `models/`), and — for a `loso/` or `models/` folder of a results folder
//! (one holding the marker or a lock) — in that results folder: so `bundle` of a folder and
//! `train` into its `loso/` exclude each other, whichever starts first. The operating system
//! releases a lock when its holder dies; the file names the holder's pid, so a second writer is
//! refused naming it, and a run that finds the pid of one that died holding it says it took
//! the folder over.

use super::{LOCK, LOSO, MARKER, MODELS};
use crate::atomic::{self, Lock};
use crate::error::Result;
use crate::progress::{outside, Progress};
use camino::Utf8Path;

/// The locks one writer holds; released when dropped.
#[must_use = "the results folder is unlocked when this is dropped"]
#[derive(Debug)]
pub struct Writer {
    _locks: Vec<Lock>,
}

/// Takes the results folder `dir` (created if missing) for this run, with the folders its
/// writing touches (see the module documentation); another writer is refused naming its pid.
pub fn writing(dir: &Utf8Path, progress: &Progress) -> Result<Writer> {
    let mut folders = Vec::new();
    let parent = dir.parent().filter(|p| !p.as_str().is_empty());
    if let Some(parent) = parent {
        let layout_child = matches!(dir.file_name(), Some(LOSO | MODELS));
        if layout_child && (parent.join(MARKER).is_file() || parent.join(LOCK).is_file()) {
            folders.push(parent.to_owned());
        }
    }
    folders.push(dir.to_owned());
    folders.extend(
        [LOSO, MODELS]
            .iter()
            .map(|sub| dir.join(sub))
            .filter(|sub| std::fs::symlink_metadata(sub).is_ok_and(|m| m.is_dir())),
    );
    let mut locks = Vec::new();
    for folder in &folders {
        let lock = atomic::lock_exclusive(&folder.join(LOCK), || {
            format!(
                "another ensemble-kit run is using the results folder `{}`; wait for it to finish or choose another --out-dir",
                outside(folder.as_str())
            )
        })?;
        if let Some(pid) = lock.taken_over {
            progress.warn(&format!(
                "took over the results folder `{}` from pid {pid}, which held it when it ended without releasing it (killed, or the machine stopped); check the folder's files before you use them",
                outside(folder.as_str())
            ));
        }
        locks.push(lock);
    }
    Ok(Writer { _locks: locks })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Verbosity;

    #[test]
    fn a_loso_folder_and_its_results_folder_exclude_each_other() {
        let root = tempfile::tempdir().unwrap();
        let results = Utf8Path::from_path(root.path()).unwrap().join("results");
        std::fs::create_dir_all(results.join(LOSO)).unwrap();
        let quiet = Progress::new(Verbosity::Quiet, false);
        let bundling = writing(&results, &quiet).unwrap();
        let err = writing(&results.join(LOSO), &quiet)
            .unwrap_err()
            .to_string();
        assert!(err.contains("is using the results folder"), "{err}");
        assert!(
            err.contains(&format!("held by pid {}", std::process::id())),
            "{err}"
        );
        drop(bundling);
        let training = writing(&results.join(LOSO), &quiet).unwrap();
        assert!(
            writing(&results, &quiet).is_err(),
            "the other way round too"
        );
        drop(training);
    }
}
