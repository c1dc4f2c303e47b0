//! Writing files so that a reader never sees half of one: write a temporary sibling, flush it,
//! then rename it over the target. A killed run leaves either the old file or the new one.

use crate::error::{Error, Result};
use camino::Utf8Path;
use std::io::Write;

/// Writes `bytes` to `path` atomically, creating the parent folder if needed.
pub fn write(path: &Utf8Path, bytes: &[u8]) -> Result<()> {
    write_with(path, |w| w.write_all(bytes))
}

/// Writes `value` as pretty JSON with a trailing newline, atomically. The text is streamed to
/// the file, never held whole (a seed file of a 10⁶-row corpus is 30 MB).
pub fn write_json<T: serde::Serialize>(path: &Utf8Path, value: &T) -> Result<()> {
    write_with(path, |w| {
        serde_json::to_writer_pretty(&mut *w, value)?;
        w.write_all(b"\n")
    })
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

/// An exclusive lock on a file, held until dropped. The file names the pid of its holder while
/// it is held and is emptied on release, so a pid found in it by the next holder is that of a
/// run that died holding it.
#[derive(Debug)]
pub struct Lock {
    file: std::fs::File,
    /// The pid a run that died holding the lock left in it, if any.
    pub taken_over: Option<u32>,
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
    }
}

/// Takes an exclusive lock on `lock_path` (created if missing) for as long as the returned
/// [`Lock`] lives, so that two runs never write the same output. The operating system releases
/// it when its holder dies, however it dies. When another process holds it, the error is
/// `busy` followed by that process's pid.
pub fn lock_exclusive(lock_path: &Utf8Path, busy: impl FnOnce() -> String) -> Result<Lock> {
    use std::io::Seek;
    if let Some(parent) = lock_path.parent().filter(|p| !p.as_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(lock_path)
        .map_err(|e| Error::io(lock_path, e))?;
    let locked = file.try_lock();
    let mut pid = holder_of(&mut file);
    // A holder that won the lock a moment ago names itself right after: wait briefly for it,
    // so that two runs started together are told which pid holds the folder.
    for _ in 0..NAMING_WAITS {
        if locked.is_ok() || pid.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
        pid = holder_of(&mut file);
    }
    if locked.is_err() {
        let by = pid.map_or("a process that has not named itself".into(), |p| {
            format!("pid {p}")
        });
        return Err(Error::Input(format!(
            "{} ({lock_path} is held by {by})",
            busy()
        )));
    }
    // The holder's name is a courtesy to the next run: the lock is the operating system's and
    // is held already. On a full disk it stays unnamed, and the run goes on to report the disk
    // where it needs the space.
    let _ = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()))
        .and_then(|()| file.flush());
    Ok(Lock {
        file,
        taken_over: pid.filter(|p| *p != std::process::id()),
    })
}

/// How many times (10 ms apart) a refused run re-reads a lock file its holder has not named
/// itself in yet.
const NAMING_WAITS: usize = 50;

/// The pid a lock file names, read from its start: at most [`HOLDER_MAX`] bytes, since the
/// refused run re-reads it while it waits and a file grown by something else must not size a
/// buffer.
fn holder_of(file: &mut std::fs::File) -> Option<u32> {
    use std::io::{Read, Seek};
    let mut holder = String::new();
    file.rewind().ok()?;
    file.take(HOLDER_MAX).read_to_string(&mut holder).ok()?;
    holder.trim().parse::<u32>().ok()
}

/// The most of a lock file read for its holder's pid (the kit writes one number and a newline).
const HOLDER_MAX: u64 = 64;

#[cfg(test)]
mod tests {
    use super::*;

    /// Two runs started together: the loser may look before the winner wrote its pid.
    #[test]
    fn a_run_refused_just_after_the_holder_won_is_told_its_pid() {
        let dir = tempfile::tempdir().unwrap();
        let path = camino::Utf8PathBuf::from_path_buf(dir.path().join("x.lock")).unwrap();
        let holder = std::fs::File::create(&path).unwrap();
        holder.try_lock().unwrap();
        let named = path.clone();
        let naming = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            std::fs::write(&named, "4194306\n").unwrap();
        });
        let err = lock_exclusive(&path, || "busy".into()).unwrap_err();
        naming.join().unwrap();
        assert_eq!(
            err.to_string(),
            format!("busy ({path} is held by pid 4194306)")
        );
    }

    #[test]
    fn a_lock_names_its_holder_and_what_a_dead_one_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = camino::Utf8PathBuf::from_path_buf(dir.path().join("x.lock")).unwrap();
        std::fs::write(&path, "4194305\n").unwrap();
        let lock = lock_exclusive(&path, || "busy".into()).unwrap();
        assert_eq!(
            lock.taken_over,
            Some(4_194_305),
            "a pid left by a dead holder"
        );
        let me = std::process::id();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{me}\n"));
        let err = lock_exclusive(&path, || "another run is writing".into()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("another run is writing ({path} is held by pid {me})")
        );
        drop(lock);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        assert_eq!(
            lock_exclusive(&path, || "busy".into()).unwrap().taken_over,
            None
        );
    }

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
