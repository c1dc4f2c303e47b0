//! Outputs never replace inputs: the one rule every command that writes applies to the paths it
//! was told to write, before it writes anything.
//!
//! - **An output is never an input.** Paths are compared after resolving symbolic links and
//!   `..` (canonical paths) and by file identity (device and inode), so another spelling, a
//!   link or a hard link of an input is caught. An output file must not be an input file or
//!   folder, nor lie inside an input folder where the command reads it; an output folder must
//!   not be an input, nor hold an input the command would replace there. `--force` does not
//!   lift this: nothing can make replacing an input safe.
//! - **An existing output is the kit's.** A file already at an output path is replaced only
//!   when the kit wrote it with the same meaning ([`Written`]: a `kind`, metadata beside it, a
//!   tar's first member, …); an operator's file, a link or anything else is refused unless
//!   `--force`.
//!
//! Each refusal is an [`Error::Input`] (exit 2) naming the path, why, and the fix; it comes
//! before any write, so a refused command leaves everything as it was. It lives beside
//! `layout`, which knows which files are the kit's; the commands declare what they read and
//! write, and this module alone decides.

use crate::error::{Error, Result};
use camino::{Utf8Path, Utf8PathBuf};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Which files below an input folder the command reads, or below an output folder it writes
/// or removes (given the path relative to the folder).
type Filter = Box<dyn Fn(&Utf8Path) -> bool>;

/// The largest file this module reads to tell whether the kit wrote it (every JSON file the kit
/// writes is far smaller).
const READ_MAX: u64 = 64 << 20;

mod written;
use written::not_written;

/// What a command reads: files, and folders of which it reads some files.
#[derive(Default)]
pub struct Inputs {
    items: Vec<Input>,
}

struct Input {
    /// The flag that named it (`--corpus`), for messages.
    flag: String,
    path: Utf8PathBuf,
    /// `None` for a file; for a folder, which files below it the command reads.
    reads: Option<Filter>,
}

impl Inputs {
    /// No inputs yet.
    pub fn new() -> Inputs {
        Inputs::default()
    }

    /// A file the command reads, named by `flag`.
    pub fn file(mut self, flag: &str, path: &Utf8Path) -> Inputs {
        self.items.push(Input {
            flag: flag.to_owned(),
            path: path.to_owned(),
            reads: None,
        });
        self
    }

    /// Files the command reads, all named by `flag`.
    pub fn files<'a>(self, flag: &str, paths: impl IntoIterator<Item = &'a Utf8PathBuf>) -> Inputs {
        paths
            .into_iter()
            .fold(self, |inputs, p| inputs.file(flag, p))
    }

    /// A folder of which the command reads the files `reads` accepts (their path relative to
    /// `dir`, whether they exist yet or not: a file written there would be read next time).
    pub fn folder(
        mut self,
        flag: &str,
        dir: &Utf8Path,
        reads: impl Fn(&Utf8Path) -> bool + 'static,
    ) -> Inputs {
        self.items.push(Input {
            flag: flag.to_owned(),
            path: dir.to_owned(),
            reads: Some(Box::new(reads)),
        });
        self
    }
}

/// A file a command is about to write (or remove).
pub struct Output {
    /// How messages name it: the flag (`--out`) or what it is (`--out's metadata`).
    label: String,
    path: Utf8PathBuf,
    written: Written,
}

impl Output {
    /// The file at `path`, named `label` in messages, which the kit may replace when it is
    /// what `written` says.
    pub fn new(label: impl Into<String>, path: impl Into<Utf8PathBuf>, written: Written) -> Output {
        Output {
            label: label.into(),
            path: path.into(),
            written,
        }
    }
}

/// How the kit tells that an existing file at an output path is one it wrote, with the
/// meaning the command is about to write again.
#[derive(Debug, Clone)]
pub enum Written {
    /// JSON whose `kind` is this (`evaluation`, `loso-seed`, `libvmaf-build`, …).
    Kind(&'static str),
    /// A shard's metadata (`kind` `shard-meta`, `imported-shard` or `merged-corpus`).
    ShardMeta,
    /// A shard (`.jsonl`) whose metadata file `meta` is the kit's and names it.
    Shard {
        /// The metadata beside it (`NAME.meta.json`).
        meta: Utf8PathBuf,
    },
    /// A verdict file of an earlier run (a JSON document: the kit's, the reference kit's, or
    /// a damaged one, which SPEC §7 removes as stale).
    Verdict,
    /// A results bundle's `manifest.json`.
    Manifest,
    /// An armored SSH signature (`manifest.json.sig`).
    Signature,
    /// An exported model's sidecar: `kind` `fr` with the kit's `schema_version`.
    Sidecar,
    /// An exported ONNX model whose kit sidecar `sidecar` names it.
    Model {
        /// The sidecar beside it.
        sidecar: Utf8PathBuf,
    },
    /// The results page `report.html`.
    Report,
    /// A tar (gzip-compressed or not) whose first member's name `first` accepts.
    Tar {
        /// What the archive is, for messages.
        what: &'static str,
        /// Accepts the first member's name.
        first: fn(&str) -> bool,
    },
    /// The published schema of this name (`NAME.schema.json`, its `title` the kit's).
    Schema(&'static str),
    /// A `vmaf` the build record `record` (`BUILD.json`) lists with this file's SHA-256.
    Vmaf {
        /// The build record beside it.
        record: Utf8PathBuf,
    },
}

/// Refuses, before anything is written, each of `outputs` that is one of `inputs`, and each
/// that already holds a file the kit did not write unless `force`.
pub fn check(outputs: &[Output], inputs: &Inputs, force: bool) -> Result<()> {
    let known = Known::of(inputs);
    for out in outputs {
        known.refuse_file(&out.label, &out.path)?;
    }
    for out in outputs {
        refuse_foreign(out, force)?;
    }
    Ok(())
}

/// Refuses an output folder `dir` (named `label`) that is one of `inputs`, lies where an input
/// folder reads, or holds an input at a path `writes` accepts (relative to `dir`: what the
/// command writes or removes there).
pub fn check_folder(
    label: &str,
    dir: &Utf8Path,
    writes: impl Fn(&Utf8Path) -> bool,
    inputs: &Inputs,
) -> Result<()> {
    let known = Known::of(inputs);
    let place = Place::of(dir);
    for (input, at) in inputs.items.iter().zip(&known.places) {
        if let Some(how) = place.same_as(dir, at, &input.path) {
            return Err(Error::Input(format!(
                "{label} `{dir}` is {} `{}`{how}: this command would write its outputs into an input. \
                 Nothing was written; choose another folder for {label}",
                input.flag, input.path
            )));
        }
        if let Some(rel) = below(&at.canonical, &place.canonical) {
            if writes(&rel) {
                return Err(Error::Input(format!(
                    "{label} `{dir}` holds {} `{}`, which this command would replace or remove there. \
                     Nothing was written; choose another folder for {label}, or move the input out of it",
                    input.flag, input.path
                )));
            }
        }
        if let (Some(reads), Some(rel)) = (&input.reads, below(&place.canonical, &at.canonical)) {
            if reads(&rel) {
                return Err(Error::Input(format!(
                    "{label} `{dir}` lies inside {} `{}`, where this command reads its inputs. \
                     Nothing was written; choose a folder outside `{}`",
                    input.flag, input.path, input.path
                )));
            }
        }
    }
    // A hard link of an input file in the folder, where the command would write.
    let linked: Vec<(&Input, (u64, u64))> = inputs
        .items
        .iter()
        .zip(&known.places)
        .filter(|(input, _)| input.reads.is_none())
        .filter_map(|(input, at)| match at.inode {
            Some((dev, ino, links)) if links > 1 => Some((input, (dev, ino))),
            _ => None,
        })
        .collect();
    if linked.is_empty() || !dir.is_dir() {
        return Ok(());
    }
    for entry in crate::walk::below(dir)? {
        if !entry.kind.is_file() || !writes(&entry.rel) {
            continue;
        }
        let Ok(meta) = std::fs::metadata(&entry.path) else {
            continue;
        };
        if let Some((input, _)) = linked
            .iter()
            .find(|(_, id)| *id == (meta.dev(), meta.ino()))
        {
            return Err(Error::Input(format!(
                "{label} `{dir}` holds `{}`, a hard link to {} `{}`, which this command would replace there. \
                 Nothing was written; choose another folder for {label}, or move the link out of it",
                entry.path, input.flag, input.path
            )));
        }
    }
    Ok(())
}

/// Whether `a` and `b` lead to the same file or folder (by canonical path or file identity).
pub fn same_file(a: &Utf8Path, b: &Utf8Path) -> bool {
    Place::of(a).same_as(a, &Place::of(b), b).is_some()
}

/// Refuses a folder that is not new, empty or marked with `marker` (a file the kit wrote into
/// it when it first used it) unless `force`; then marks it. For scratch folders that the kit
/// fills and empties again (`bench corpus --work-dir`).
pub fn claim_scratch(label: &str, dir: &Utf8Path, marker: &str, force: bool) -> Result<()> {
    let mark = dir.join(marker);
    if !force && !mark.is_file() && dir.exists() {
        let empty = dir
            .read_dir_utf8()
            .map(|mut entries| entries.next().is_none())
            .unwrap_or(false);
        if !empty {
            return Err(Error::Input(format!(
                "{label} `{dir}` already holds files that ensemble-kit did not write (it has no {marker} marker), \
                 and this command writes and removes files there. Nothing was written; choose a new or empty folder, \
                 or pass --force to use it anyway"
            )));
        }
    }
    crate::atomic::write(
        &mark,
        b"This folder is ensemble-kit's scratch space; it writes and removes files here.\n",
    )
}

/// The inputs, resolved once.
struct Known<'a> {
    inputs: &'a Inputs,
    places: Vec<Place>,
}

impl<'a> Known<'a> {
    fn of(inputs: &'a Inputs) -> Known<'a> {
        Known {
            inputs,
            places: inputs.items.iter().map(|i| Place::of(&i.path)).collect(),
        }
    }

    /// Refuses the output file `path` when it is an input, or lies where an input folder reads.
    fn refuse_file(&self, label: &str, path: &Utf8Path) -> Result<()> {
        let place = Place::of(path);
        for (input, at) in self.inputs.items.iter().zip(&self.places) {
            if let Some(how) = place.same_as(path, at, &input.path) {
                return Err(Error::Input(format!(
                    "{label} `{path}` is {} `{}`{how}: writing it would replace an input of this command. \
                     Nothing was written; choose another path for {label} (--force does not change this)",
                    input.flag, input.path
                )));
            }
            let Some(reads) = &input.reads else { continue };
            let read_from = |file: &Utf8Path, how: &str| {
                Error::Input(format!(
                    "{label} `{path}` is `{file}`{how}, which this command reads from {} `{}`: writing it would replace an input of this command. \
                     Nothing was written; choose another path for {label} (--force does not change this)",
                    input.flag, input.path
                ))
            };
            if let Some(rel) = below(&place.canonical, &at.canonical).filter(|rel| reads(rel)) {
                let file = input.path.join(&rel);
                let how = place
                    .inode
                    .and_then(|_| place.same_as(path, &Place::of(&file), &file));
                if let Some(how) = how {
                    return Err(read_from(&file, how));
                }
                return Err(Error::Input(format!(
                    "{label} `{path}` lies inside {} `{}`, where this command reads files like it: writing it would change its inputs. \
                     Nothing was written; choose a path outside `{}`",
                    input.flag, input.path, input.path
                )));
            }
            if let Some(linked) = place.hard_link_into(&input.path, reads) {
                return Err(read_from(&linked, " (a hard link to it)"));
            }
        }
        Ok(())
    }
}

/// Where a path leads: its canonical form (symbolic links and `..` resolved; for a path that
/// does not exist yet, its nearest existing folder's) and, when it exists, its file identity.
struct Place {
    canonical: PathBuf,
    /// (device, inode, link count).
    inode: Option<(u64, u64, u64)>,
}

impl Place {
    fn of(path: &Utf8Path) -> Place {
        Place {
            canonical: resolve(path.as_std_path()),
            inode: std::fs::metadata(path)
                .ok()
                .map(|m| (m.dev(), m.ino(), m.nlink())),
        }
    }

    /// How `path` (this place) is the input `input` (at `other`): `Some("")` when spelt alike,
    /// else the way it reaches it; `None` when it is another file.
    fn same_as(&self, path: &Utf8Path, other: &Place, input: &Utf8Path) -> Option<&'static str> {
        let same_file = match (self.inode, other.inode) {
            (Some((d, i, _)), Some((od, oi, _))) => d == od && i == oi,
            _ => false,
        };
        if self.canonical != other.canonical && !same_file {
            return None;
        }
        Some(if path == input {
            ""
        } else if path.is_symlink() {
            " (through a symbolic link)"
        } else if self.canonical == other.canonical {
            " (spelt another way)"
        } else {
            " (a hard link to it)"
        })
    }

    /// The input file below `dir` that `reads` accepts and that this place is a hard link of.
    fn hard_link_into(&self, dir: &Utf8Path, reads: &Filter) -> Option<Utf8PathBuf> {
        let (dev, ino, links) = self.inode?;
        if links < 2 || !dir.is_dir() {
            return None;
        }
        crate::walk::below(dir)
            .ok()?
            .into_iter()
            .filter(|e| e.kind.is_file() && reads(&e.rel))
            .find(|e| std::fs::metadata(&e.path).is_ok_and(|m| m.dev() == dev && m.ino() == ino))
            .map(|e| e.path)
    }
}

/// `path` resolved: canonical when it exists, else its nearest existing ancestor's canonical
/// form with the rest appended (`..` in the rest taken lexically).
fn resolve(path: &Path) -> PathBuf {
    if let Ok(canonical) = std::fs::canonicalize(path) {
        return canonical;
    }
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut rest = Vec::new();
    let mut at = absolute.as_path();
    while let (Some(parent), Some(name)) = (at.parent(), at.file_name()) {
        rest.push(name.to_owned());
        if let Ok(mut canonical) = std::fs::canonicalize(parent) {
            for name in rest.iter().rev() {
                canonical.push(name);
            }
            return canonical;
        }
        at = parent;
    }
    absolute
}

/// `path` relative to `dir` when it lies strictly below it.
fn below(path: &Path, dir: &Path) -> Option<Utf8PathBuf> {
    let rel = path.strip_prefix(dir).ok()?;
    if rel.as_os_str().is_empty() {
        return None;
    }
    Utf8PathBuf::from_path_buf(rel.to_owned()).ok()
}

/// Refuses an existing output that the kit did not write, unless `force`; a folder where a file
/// goes is refused even then.
fn refuse_foreign(out: &Output, force: bool) -> Result<()> {
    let (label, path) = (&out.label, &out.path);
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if meta.is_dir() {
        return Err(Error::Input(format!(
            "{label} `{path}` is a folder, and this command writes a file there. Nothing was written; name a file for {label}"
        )));
    }
    if force {
        return Ok(());
    }
    let why = if meta.file_type().is_symlink() {
        Some("it is a symbolic link, and the kit writes none".to_owned())
    } else if !meta.is_file() {
        Some("it is not a regular file".to_owned())
    } else {
        not_written(path, &out.written)
    };
    match why {
        None => Ok(()),
        Some(why) => Err(Error::Input(format!(
            "{label} `{path}` already holds a file that ensemble-kit did not write ({why}). \
             Nothing was written; choose another path for {label}, or pass --force to replace it"
        ))),
    }
}

#[cfg(test)]
mod tests;
