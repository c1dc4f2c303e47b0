//! Deterministic, safe tar archives shared by the results bundle and the corpus transport.
//!
//! Writing: the manifest (if any) first, so a reader knows every member's declared size
//! before reading it, then the entries sorted by path; regular files only, uid/gid 0, no user or group names,
//! modes normalised (0644, or 0755 for executables), one fixed mtime, and — for `.tar.gz` — a
//! gzip header without file name or time. Reading: an entry that is not a regular file or
//! folder, whose path is absolute or climbs with `..`, or that appears twice, is refused; the
//! archive is opened once, so it can be checked and extracted in one read (even from a pipe).
//! Reading is bounded: JSON read into memory by [`JSON_MEMBER_MAX`], everything an archive
//! unpacks by a [`SizeCap`].

use crate::error::{Error, Result};
use camino::{Utf8Component, Utf8Path, Utf8PathBuf};
use std::io::{Read, Write};

/// A file to put into an archive: where it is now and its path inside.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The file on disk.
    pub source: Utf8PathBuf,
    /// Its `/`-separated path inside the archive.
    pub name: String,
    /// Whether it is a program (mode 0755) rather than data (0644): set by the file's role, so
    /// the archive never depends on the permission bits of the folder it was made from.
    pub executable: bool,
}

/// The mtime every entry gets: `SOURCE_DATE_EPOCH`, else the current time.
pub fn entry_mtime() -> Result<u64> {
    let now = crate::timestamp::now()?;
    Ok(now
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0))
}

/// Writes `manifest` (if any) and then `entries` (sorted here) as a tar stream into `out`.
pub fn write_tar(
    out: &mut dyn Write,
    manifest: Option<Entry>,
    mut entries: Vec<Entry>,
    mtime: u64,
) -> std::io::Result<()> {
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let mut builder = tar::Builder::new(out);
    for entry in manifest.iter().chain(&entries) {
        let file = std::fs::File::open(&entry.source)?;
        let meta = file.metadata()?;
        let mut header = tar::Header::new_ustar();
        header.set_path(&entry.name)?;
        header.set_size(meta.len());
        header.set_mode(if entry.executable { 0o755 } else { 0o644 });
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder.append(&header, file)?;
    }
    builder.into_inner()?.flush()
}

/// Writes a deterministic `.tar.gz` (no name or time in the gzip header) atomically, the
/// manifest (if any) first.
pub fn write_tar_gz(
    path: &Utf8Path,
    manifest: Option<Entry>,
    entries: Vec<Entry>,
    mtime: u64,
) -> Result<()> {
    crate::atomic::write_with(path, |w| {
        let mut gz = flate2::GzBuilder::new()
            .mtime(0)
            .write(w, flate2::Compression::default());
        write_tar(&mut gz, manifest, entries, mtime)?;
        gz.finish()?.flush()
    })
}

/// Checks an entry path is relative and stays inside the extraction folder; returns it
/// without `.` components, so `./a` and `a` are the same member.
pub fn safe_path(archive: &Utf8Path, raw: &str) -> Result<Utf8PathBuf> {
    let unsafe_entry =
        |why: &str| Error::Input(format!("{archive}: refusing entry `{raw}`: {why}"));
    let mut path = Utf8PathBuf::new();
    for component in Utf8Path::new(raw).components() {
        match component {
            Utf8Component::Normal(part) => path.push(part),
            Utf8Component::CurDir => {}
            Utf8Component::ParentDir => return Err(unsafe_entry("it climbs out with `..`")),
            Utf8Component::RootDir | Utf8Component::Prefix(_) => {
                return Err(unsafe_entry("it is an absolute path"))
            }
        }
    }
    if path.as_str().is_empty() {
        return Err(unsafe_entry("empty path"));
    }
    Ok(path)
}

/// Opens `path` once as a tar archive, gzip-compressed or not (told by the gzip magic bytes,
/// peeked from the same read, so a pipe works too).
pub fn open(path: &Utf8Path) -> Result<tar::Archive<Box<dyn Read>>> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut buffered = std::io::BufReader::new(file);
    let gzip = buffered
        .fill_buf()
        .map_err(|e| Error::io(path, e))?
        .starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn Read> = if gzip {
        Box::new(flate2::read::GzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    Ok(tar::Archive::new(reader))
}

/// Visits every regular file of an archive, in archive order, with its checked path, its size
/// (the reader yields no more) and a reader of its content. Links, devices and other special
/// entries are refused, and so is a path that appears twice (no "last one wins"); folders are
/// skipped.
pub fn for_each_file(
    path: &Utf8Path,
    mut each: impl FnMut(&Utf8Path, u64, &mut dyn Read) -> Result<()>,
) -> Result<()> {
    let mut archive = open(path)?;
    let broken = |e: std::io::Error| Error::Input(format!("{path} is not a readable archive: {e}"));
    let mut seen = std::collections::BTreeSet::new();
    for entry in archive.entries().map_err(broken)? {
        let mut entry = entry.map_err(broken)?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let name = safe_path(path, &raw)?;
        match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if !seen.insert(name.clone()) {
                    return Err(Error::Input(format!(
                        "{path}: refusing entry `{raw}`: it appears twice in the archive"
                    )));
                }
                let size = entry.size();
                each(&name, size, &mut entry)?
            }
            tar::EntryType::Directory => {}
            other => {
                return Err(Error::Input(format!(
                    "{path}: refusing entry `{raw}`: it is a {other:?} entry, and only regular files are allowed"
                )));
            }
        }
    }
    Ok(())
}

/// How errors name a member of an archive: `archive!member` (the member's name as the archive
/// spells it may hold anything, so it is printed as outside text).
pub fn member_label(archive: &Utf8Path, member: &Utf8Path) -> Utf8PathBuf {
    Utf8PathBuf::from(format!(
        "{archive}!{}",
        crate::progress::outside(member.as_str())
    ))
}

/// Largest JSON member read into memory (manifests, verdicts, LOSO results, sidecars). The
/// kit's own are kilobytes; 16 MiB leaves a wide margin while a hostile archive cannot make
/// a reader hold gigabytes.
pub const JSON_MEMBER_MAX: u64 = 16 << 20;

/// Reads a JSON member of `size` bytes into memory, refusing one over [`JSON_MEMBER_MAX`].
pub fn read_member(
    archive: &Utf8Path,
    member: &Utf8Path,
    size: u64,
    reader: &mut dyn Read,
) -> Result<Vec<u8>> {
    if size > JSON_MEMBER_MAX {
        return Err(Error::Input(format!(
            "{archive}: refusing `{member}`: it is {} and JSON members are read into memory only up to {}",
            describe_size(size),
            describe_size(JSON_MEMBER_MAX)
        )));
    }
    let mut bytes = Vec::new();
    reader
        .take(size)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::Input(format!("{archive}: cannot read `{member}`: {e}")))?;
    Ok(bytes)
}

/// Copies `reader` into `out` while hashing it, reading at most one byte past `limit`:
/// returns `Some((size, sha256))`, or `None` when the reader held more than `limit` bytes.
pub fn copy_hashed(
    reader: &mut dyn Read,
    out: &mut dyn Write,
    limit: u64,
) -> std::io::Result<Option<(u64, String)>> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let mut bounded = reader.take(limit.saturating_add(1));
    let mut size = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = bounded.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        if size > limit {
            return Ok(None);
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])?;
    }
    Ok(Some((size, hex::encode(hasher.finalize()))))
}

/// Streams a trusted `reader` into `dest` atomically, returning (size, sha256).
pub fn extract_to(dest: &Utf8Path, reader: &mut dyn Read) -> Result<(u64, String)> {
    let mut copied = None;
    crate::atomic::write_with(dest, |w| {
        copied = copy_hashed(reader, w, u64::MAX)?;
        Ok(())
    })?;
    Ok(copied.expect("no limit"))
}

/// A byte count for messages: `1.5 GiB`, `16 MiB`, `912 bytes`.
pub fn describe_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ];
    match UNITS.iter().find(|(_, unit)| bytes >= *unit) {
        Some((name, unit)) if bytes.is_multiple_of(*unit) => format!("{} {name}", bytes / unit),
        Some((name, unit)) => format!("{:.1} {name}", bytes as f64 / *unit as f64),
        None => format!("{bytes} bytes"),
    }
}

/// Everything one archive unpacks — written to disk, held in memory or only hashed — counted
/// against a cap, so a small compressed archive cannot fill the disk or the memory or keep a
/// reader busy for hours. Each kind of archive has its own default cap; the operator raises
/// it with `--max-total-size`.
#[derive(Debug)]
pub struct SizeCap {
    archive: Utf8PathBuf,
    kind: &'static str,
    cap: u64,
    used: u64,
}

impl SizeCap {
    /// A cap of `cap` bytes for `archive`, a `kind` ("results bundle", …) named in the refusal.
    pub fn new(archive: &Utf8Path, kind: &'static str, cap: u64) -> Self {
        SizeCap {
            archive: archive.to_owned(),
            kind,
            cap,
            used: 0,
        }
    }

    /// Takes `bytes` for `what` (a member or a decoded file), refusing past the cap.
    pub fn reserve(&mut self, what: &str, bytes: u64) -> Result<()> {
        match self.used.checked_add(bytes).filter(|total| *total <= self.cap) {
            Some(total) => {
                self.used = total;
                Ok(())
            }
            None => Err(Error::Input(format!(
                "{}: `{what}` ({}) would take what this {} unpacks past its {} cap; if you trust the archive, raise the cap with --max-total-size",
                self.archive,
                describe_size(bytes),
                self.kind,
                describe_size(self.cap)
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_stops_one_byte_past_the_limit() {
        let mut out = Vec::new();
        assert!(copy_hashed(&mut &[7u8; 10][..], &mut out, 9)
            .unwrap()
            .is_none());
        assert!(out.len() <= 9);
        let mut out = Vec::new();
        let (size, _) = copy_hashed(&mut &[7u8; 10][..], &mut out, 10)
            .unwrap()
            .unwrap();
        assert_eq!((size, out.len()), (10, 10));
    }

    #[test]
    fn cap_counts_every_reservation() {
        let mut cap = SizeCap::new(Utf8Path::new("a.tar"), "test archive", 100);
        cap.reserve("x", 60).unwrap();
        let err = cap.reserve("y", 41).unwrap_err().to_string();
        assert!(
            err.contains("`y` (41 bytes)") && err.contains("100 bytes cap"),
            "{err}"
        );
        cap.reserve("z", 40).unwrap();
        assert!(cap.reserve("w", u64::MAX).is_err());
    }

    #[test]
    fn sizes_read_as_words() {
        assert_eq!(describe_size(912), "912 bytes");
        assert_eq!(describe_size(16 << 20), "16 MiB");
        assert_eq!(describe_size(3 << 29), "1.5 GiB");
    }

    #[test]
    fn dot_components_do_not_make_a_second_name() {
        let archive = Utf8Path::new("a.tar");
        assert_eq!(safe_path(archive, "./a/./b").unwrap(), "a/b");
        assert!(safe_path(archive, "./").is_err());
        assert!(safe_path(archive, "a/../../b").is_err());
    }
}
