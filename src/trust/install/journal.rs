//! All or nothing: an install stages every new file beside its target, keeps every file it
//! replaces under `MODEL_DIR/.ensemble-kit-replaced/<UTC>/files/`, and only then — the
//! journal's state moving from `staging` to `committing` — renames the staged files into place.
//! A run killed before that point is rolled back by the next one, a run killed after it is
//! finished; `--undo` renames the kept files back the same way.
//!
//! [`KILL_HOOK`] lets the tests stop a run after any step exactly as a kill would.

use super::tree;
use crate::error::{Error, Result};
use crate::schema::{self, InstallJournal, JournalAction, JournalEntry, JournalState};
use camino::{Utf8Path, Utf8PathBuf};
use std::io::Write;

/// The folder in MODEL_DIR that keeps replaced files, one folder per install.
pub const REPLACED: &str = ".ensemble-kit-replaced";
const JOURNAL: &str = "journal.json";
const JOURNAL_TMP: &str = "journal.json.tmp";
const FILES: &str = "files";
const JOURNAL_MAX: u64 = 1 << 20;

/// Test hook: with `ENSEMBLE_KIT_TEST_KILL_AFTER_STEP=N` the process sends itself SIGKILL right
/// after its N-th durable step (of an install, an undo or a recovery). It can do nothing a
/// real kill could not — which is what every step must survive.
pub const KILL_HOOK: &str = "ENSEMBLE_KIT_TEST_KILL_AFTER_STEP";

/// Counts durable steps, for [`KILL_HOOK`].
#[derive(Debug)]
pub struct Steps {
    done: u64,
    kill_after: Option<u64>,
}

impl Steps {
    /// Steps counted from zero; the hook read from the environment.
    pub fn from_env() -> Steps {
        Steps {
            done: 0,
            kill_after: std::env::var(KILL_HOOK).ok().and_then(|v| v.parse().ok()),
        }
    }

    fn done(&mut self, what: &str) {
        self.done += 1;
        if self.kill_after == Some(self.done) {
            let _ = writeln!(
                std::io::stderr(),
                "{KILL_HOOK}: killed after step {} ({what})",
                self.done
            );
            let _ = rustix::process::kill_process(
                rustix::process::getpid(),
                rustix::process::Signal::KILL,
            );
            std::process::abort();
        }
    }
}

/// `.<name>.ensemble-kit-new`: where the new `name` waits beside its target.
fn staged(model_dir: &Utf8Path, name: &str) -> Utf8PathBuf {
    model_dir.join(format!(".{name}.ensemble-kit-new"))
}

/// Refuses a staged file that no journal accounts for.
pub fn check_not_staged(model_dir: &Utf8Path, name: &str) -> Result<()> {
    let path = staged(model_dir, name);
    match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        _ => Err(Error::Input(format!(
            "`{path}` is left over and no install journal accounts for it; move it away, then install again"
        ))),
    }
}

/// Refuses a `.ensemble-kit-replaced` that is a link or not a folder.
pub fn check_replaced_folder(model_dir: &Utf8Path) -> Result<()> {
    let root = model_dir.join(REPLACED);
    match std::fs::symlink_metadata(&root) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(&root, e)),
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(Error::Input(format!(
            "`{root}` is not a folder (a link, or a file); install keeps replaced files there and follows no link: move it away"
        ))),
    }
}

/// Holds MODEL_DIR for one install or undo (a lock on the folder itself, so nothing is
/// written to take it).
pub fn lock(model_dir: &Utf8Path) -> Result<std::fs::File> {
    let dir = std::fs::File::open(model_dir).map_err(|e| Error::io(model_dir, e))?;
    match dir.try_lock() {
        Ok(()) => Ok(dir),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Input(format!(
            "another install or undo is running on `{model_dir}`; wait for it"
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(model_dir, e)),
    }
}

/// A set's name: `YYYYMMDDTHHMMSSZ`, then `-N` for the N-th in the same second.
fn set_key(name: &str) -> Option<(String, u32)> {
    let (stamp, n) = match name.split_once('-') {
        Some((stamp, n)) => (stamp, n.parse().ok().filter(|n| *n >= 2)?),
        None => (name, 1),
    };
    let b = stamp.as_bytes();
    let shape = b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit);
    shape.then(|| (stamp.to_owned(), n))
}

/// Every set folder under `.ensemble-kit-replaced/`, oldest first.
fn sets(model_dir: &Utf8Path) -> Result<Vec<Utf8PathBuf>> {
    check_replaced_folder(model_dir)?;
    let root = model_dir.join(REPLACED);
    let Ok(entries) = root.read_dir_utf8() else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&root, e))?;
        let Some(key) = set_key(entry.file_name()) else {
            continue;
        };
        let meta = entry
            .path()
            .symlink_metadata()
            .map_err(|e| Error::io(entry.path(), e))?;
        if !meta.is_dir() {
            return Err(Error::Input(format!(
                "`{}` is not a folder (a link, or a file); move it away",
                entry.path()
            )));
        }
        found.push((key, entry.into_path()));
    }
    found.sort();
    Ok(found.into_iter().map(|(_, path)| path).collect())
}

fn read_journal(set: &Utf8Path) -> Result<Option<InstallJournal>> {
    let path = set.join(JOURNAL);
    let Some(bytes) = tree::read_bounded(&path, JOURNAL_MAX, "an install journal")? else {
        return Ok(None);
    };
    let journal: InstallJournal = schema::parse_checked(&bytes, &path)?;
    for entry in &journal.entries {
        let consistent = match entry.action {
            JournalAction::Add => entry.old_sha256.is_none() && entry.new_sha256.is_some(),
            JournalAction::Replace => entry.old_sha256.is_some() && entry.new_sha256.is_some(),
            JournalAction::Remove => entry.old_sha256.is_some() && entry.new_sha256.is_none(),
        };
        if !tree::is_plain_name(&entry.name) || !consistent {
            return Err(Error::Input(format!(
                "`{path}` is refused: its entry `{}` is not one install writes; move the folder away",
                entry.name.escape_debug()
            )));
        }
    }
    Ok(Some(journal))
}

fn write_journal(set: &Utf8Path, journal: &InstallJournal) -> Result<()> {
    let tmp = set.join(JOURNAL_TMP);
    let mut file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    file.write_all(&crate::atomic::json_bytes(journal))
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, set.join(JOURNAL)).map_err(|e| Error::io(set.join(JOURNAL), e))?;
    tree::sync_dir(set)
}

/// A file to install: its journal entry and, unless it is moved aside, its new bytes.
pub struct Staged<'a> {
    /// What happens to it.
    pub entry: JournalEntry,
    /// The bytes to write.
    pub new: Option<&'a [u8]>,
}

/// Installs `files` into `model_dir` all or nothing; returns the folder keeping what was
/// replaced. `journal` is the journal to keep (its state and entries are set here).
pub fn apply(
    model_dir: &Utf8Path,
    mut journal: InstallJournal,
    files: &[Staged],
    steps: &mut Steps,
) -> Result<Utf8PathBuf> {
    let root = model_dir.join(REPLACED);
    std::fs::create_dir_all(&root).map_err(|e| Error::io(&root, e))?;
    let stamp = journal.started_at_utc.replace(['-', ':'], "");
    let set = (1..)
        .map(|n| match n {
            1 => root.join(&stamp),
            n => root.join(format!("{stamp}-{n}")),
        })
        .find(|path| !path.exists())
        .expect("some suffix is free");
    std::fs::create_dir(&set).map_err(|e| Error::io(&set, e))?;
    steps.done("made the folder for replaced files");
    journal.state = JournalState::Staging;
    journal.entries = files.iter().map(|f| f.entry.clone()).collect();
    write_journal(&set, &journal)?;
    steps.done("journal: staging");
    let kept = set.join(FILES);
    std::fs::create_dir(&kept).map_err(|e| Error::io(&kept, e))?;
    for file in files {
        let Some(bytes) = file.new else { continue };
        let path = staged(model_dir, &file.entry.name);
        let mut out = std::fs::File::create_new(&path).map_err(|e| Error::io(&path, e))?;
        out.write_all(bytes)
            .and_then(|()| out.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644)))
            .and_then(|()| out.sync_all())
            .map_err(|e| Error::io(&path, e))?;
        steps.done(&format!("staged {}", file.entry.name));
    }
    for file in files.iter().filter(|f| f.entry.old_sha256.is_some()) {
        keep(
            &model_dir.join(&file.entry.name),
            &kept.join(&file.entry.name),
        )?;
        steps.done(&format!("kept {}", file.entry.name));
    }
    tree::sync_dir(&kept)?;
    tree::sync_dir(model_dir)?;
    journal.state = JournalState::Committing;
    write_journal(&set, &journal)?;
    steps.done("journal: committing");
    commit(model_dir, &set, &mut journal, steps)?;
    Ok(set)
}

/// A second name for `from` at `to` (a hard link, else a synced copy).
fn keep(from: &Utf8Path, to: &Utf8Path) -> Result<()> {
    if std::fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    std::fs::copy(from, to)
        .and_then(|_| std::fs::File::open(to)?.sync_all())
        .map_err(|e| Error::io(to, e))
}

/// Renames every staged file into place and takes away the removed ones; safe to run again
/// after a kill. Ends with the journal `done`.
fn commit(
    model_dir: &Utf8Path,
    set: &Utf8Path,
    journal: &mut InstallJournal,
    steps: &mut Steps,
) -> Result<()> {
    for entry in &journal.entries {
        let target = model_dir.join(&entry.name);
        if entry.action == JournalAction::Remove {
            if let Some(now) = tree::sha256_of(&target)? {
                if Some(&now) != entry.old_sha256.as_ref() {
                    return Err(cannot_finish(set, &target));
                }
                std::fs::remove_file(&target).map_err(|e| Error::io(&target, e))?;
            }
        } else {
            let from = staged(model_dir, &entry.name);
            if tree::regular_file(&from)?.is_some() {
                std::fs::rename(&from, &target).map_err(|e| Error::io(&target, e))?;
            } else if tree::sha256_of(&target)? != entry.new_sha256 {
                return Err(cannot_finish(set, &target));
            }
        }
        steps.done(&format!("installed {}", entry.name));
    }
    tree::sync_dir(model_dir)?;
    journal.state = JournalState::Done;
    write_journal(set, journal)?;
    steps.done("journal: done");
    Ok(())
}

fn cannot_finish(set: &Utf8Path, target: &Utf8Path) -> Error {
    Error::Input(format!(
        "cannot finish the install journaled in `{set}`: `{target}` is neither the file it kept nor the one it installs (changed by hand?); put it back, or move `{set}` away and check MODEL_DIR yourself"
    ))
}

/// Takes away a set that never got far (no journal, or `staging`): its staged and kept files,
/// then the folder, then `.ensemble-kit-replaced` if that is empty now.
fn roll_back(model_dir: &Utf8Path, set: &Utf8Path, journal: Option<&InstallJournal>) -> Result<()> {
    let gone = |path: &Utf8Path, result: std::io::Result<()>| match result {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, e)),
        _ => Ok(()),
    };
    for entry in journal.map(|j| &j.entries[..]).unwrap_or_default() {
        let staged = staged(model_dir, &entry.name);
        gone(&staged, std::fs::remove_file(&staged))?;
        let kept = set.join(FILES).join(&entry.name);
        gone(&kept, std::fs::remove_file(&kept))?;
    }
    tree::sync_dir(model_dir)?;
    remove_set(set)
}

/// Removes a set folder whose files are gone, and `.ensemble-kit-replaced` when it is empty.
fn remove_set(set: &Utf8Path) -> Result<()> {
    for (path, result) in [
        (set.join(FILES), std::fs::remove_dir(set.join(FILES))),
        (
            set.join(JOURNAL_TMP),
            std::fs::remove_file(set.join(JOURNAL_TMP)),
        ),
        (set.join(JOURNAL), std::fs::remove_file(set.join(JOURNAL))),
        (set.to_owned(), std::fs::remove_dir(set)),
    ] {
        if let Err(e) = result.filter_missing() {
            return Err(Error::Input(format!(
                "cannot remove `{path}` ({e}): it holds files install did not put there; move them away"
            )));
        }
    }
    let root = set.parent().expect("a set lies in .ensemble-kit-replaced");
    let _ = std::fs::remove_dir(root);
    tree::sync_dir(root.parent().expect("in MODEL_DIR"))
}

trait FilterMissing {
    fn filter_missing(self) -> std::io::Result<()>;
}

impl FilterMissing for std::io::Result<()> {
    fn filter_missing(self) -> std::io::Result<()> {
        match self {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

/// Whether an install or undo was stopped half way (for `--dry-run`, which writes nothing).
pub fn unfinished(model_dir: &Utf8Path) -> Result<Option<Utf8PathBuf>> {
    for set in sets(model_dir)? {
        if read_journal(&set)?.is_none_or(|j| j.state != JournalState::Done) {
            return Ok(Some(set));
        }
    }
    Ok(None)
}

/// What [`recover`] did with a set a killed run left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovered {
    /// An install stopped before it changed anything, rolled back.
    RolledBack(Utf8PathBuf),
    /// An install stopped half way, finished.
    Finished(Utf8PathBuf),
    /// An undo stopped half way, finished.
    Undone(Utf8PathBuf),
}

impl std::fmt::Display for Recovered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Recovered::RolledBack(set) => write!(
                f,
                "rolled back an install that was stopped before it changed anything ({set})"
            ),
            Recovered::Finished(set) => {
                write!(f, "finished an install that was stopped half way ({set})")
            }
            Recovered::Undone(set) => {
                write!(f, "finished an undo that was stopped half way ({set})")
            }
        }
    }
}

/// Finishes or rolls back whatever a killed run left.
pub fn recover(model_dir: &Utf8Path, steps: &mut Steps) -> Result<Vec<Recovered>> {
    let mut done = Vec::new();
    for set in sets(model_dir)? {
        let journal = read_journal(&set)?;
        match journal.as_ref().map(|j| j.state) {
            None | Some(JournalState::Staging) => {
                roll_back(model_dir, &set, journal.as_ref())?;
                done.push(Recovered::RolledBack(set));
            }
            Some(JournalState::Committing) => {
                commit(model_dir, &set, &mut journal.expect("read"), steps)?;
                done.push(Recovered::Finished(set));
            }
            Some(JournalState::Undoing) => {
                put_back(model_dir, &set, &journal.expect("read"), steps)?;
                done.push(Recovered::Undone(set));
            }
            Some(JournalState::Done) => {
                let tmp = set.join(JOURNAL_TMP);
                std::fs::remove_file(&tmp)
                    .filter_missing()
                    .map_err(|e| Error::io(&tmp, e))?;
            }
        }
    }
    // A run killed between making `.ensemble-kit-replaced/` and its first set leaves it empty.
    let _ = std::fs::remove_dir(model_dir.join(REPLACED));
    Ok(done)
}

/// Puts back the files the last install replaced and takes away the ones it added, after
/// checking that each is still what that install wrote; returns that install's journal.
pub fn undo(model_dir: &Utf8Path, steps: &mut Steps) -> Result<(Utf8PathBuf, InstallJournal)> {
    let Some(set) = sets(model_dir)?.pop() else {
        return Err(Error::Input(format!(
            "`{model_dir}` has no install to undo (nothing in {REPLACED}/)"
        )));
    };
    let Some(mut journal) = read_journal(&set)? else {
        return Err(Error::Input(format!(
            "`{set}` has no {JOURNAL}; move it away"
        )));
    };
    let mut problems = Vec::new();
    for entry in &journal.entries {
        let target = model_dir.join(&entry.name);
        if tree::sha256_of(&target)? != entry.new_sha256 {
            problems.push(format!("`{}` changed since the install", entry.name));
        }
        if entry.old_sha256.is_some()
            && tree::sha256_of(&set.join(FILES).join(&entry.name))? != entry.old_sha256
        {
            problems.push(format!(
                "the kept copy of `{}` is missing or changed",
                entry.name
            ));
        }
    }
    if !problems.is_empty() {
        return Err(Error::Input(format!(
            "undo of the install kept in `{set}` would lose what is there now, so nothing was changed:\n  {}",
            problems.join("\n  ")
        )));
    }
    journal.state = JournalState::Undoing;
    write_journal(&set, &journal)?;
    steps.done("journal: undoing");
    put_back(model_dir, &set, &journal, steps)?;
    Ok((set, journal))
}

/// Renames the kept files back and removes the added ones; safe to run again after a kill.
fn put_back(
    model_dir: &Utf8Path,
    set: &Utf8Path,
    journal: &InstallJournal,
    steps: &mut Steps,
) -> Result<()> {
    for entry in journal.entries.iter().rev() {
        let target = model_dir.join(&entry.name);
        let kept = set.join(FILES).join(&entry.name);
        if entry.action == JournalAction::Add {
            std::fs::remove_file(&target)
                .filter_missing()
                .map_err(|e| Error::io(&target, e))?;
        } else if tree::regular_file(&kept)?.is_some() {
            std::fs::rename(&kept, &target).map_err(|e| Error::io(&target, e))?;
        }
        steps.done(&format!("put back {}", entry.name));
    }
    tree::sync_dir(model_dir)?;
    remove_set(set)?;
    steps.done("removed the kept set");
    Ok(())
}
