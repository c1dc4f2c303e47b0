//! Deterministic, safe tar archives shared by the results bundle and the corpus transport.
//!
//! Writing: entries sorted by path, regular files only, uid/gid 0, no user or group names,
//! modes normalised (0644, or 0755 for executables), one fixed mtime, and — for `.tar.gz` — a
//! gzip header without file name or time. Reading: an entry that is not a regular file or
//! folder, or whose path is absolute or climbs with `..`, is refused.

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
}

/// The mtime every entry gets: `SOURCE_DATE_EPOCH`, else the current time.
pub fn entry_mtime() -> Result<u64> {
    let now = crate::timestamp::now()?;
    Ok(now
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0))
}

/// Writes `entries` (sorted here) as a tar stream into `out`.
pub fn write_tar(out: &mut dyn Write, mut entries: Vec<Entry>, mtime: u64) -> std::io::Result<()> {
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let mut builder = tar::Builder::new(out);
    for entry in &entries {
        let file = std::fs::File::open(&entry.source)?;
        let meta = file.metadata()?;
        let executable = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o111 != 0;
        let mut header = tar::Header::new_ustar();
        header.set_path(&entry.name)?;
        header.set_size(meta.len());
        header.set_mode(if executable { 0o755 } else { 0o644 });
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder.append(&header, file)?;
    }
    builder.into_inner()?.flush()
}

/// Writes a deterministic `.tar.gz` (no name or time in the gzip header) atomically.
pub fn write_tar_gz(path: &Utf8Path, entries: Vec<Entry>, mtime: u64) -> Result<()> {
    crate::atomic::write_with(path, |w| {
        let mut gz = flate2::GzBuilder::new()
            .mtime(0)
            .write(w, flate2::Compression::default());
        write_tar(&mut gz, entries, mtime)?;
        gz.finish()?.flush()
    })
}

/// Checks an entry path is relative and stays inside the extraction folder.
pub fn safe_path(archive: &Utf8Path, raw: &str) -> Result<Utf8PathBuf> {
    let path = Utf8PathBuf::from(raw);
    let unsafe_entry =
        |why: &str| Error::Input(format!("{archive}: refusing entry `{raw}`: {why}"));
    if path.as_str().is_empty() {
        return Err(unsafe_entry("empty path"));
    }
    for component in path.components() {
        match component {
            Utf8Component::Normal(_) | Utf8Component::CurDir => {}
            Utf8Component::ParentDir => return Err(unsafe_entry("it climbs out with `..`")),
            Utf8Component::RootDir | Utf8Component::Prefix(_) => {
                return Err(unsafe_entry("it is an absolute path"))
            }
        }
    }
    Ok(path)
}

/// Opens `path` as a tar archive, gzip-compressed or not (told by the gzip magic bytes).
pub fn open(path: &Utf8Path) -> Result<tar::Archive<Box<dyn Read>>> {
    let mut magic = [0u8; 2];
    let gzip = std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == [0x1f, 0x8b];
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let reader: Box<dyn Read> = if gzip {
        Box::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)))
    } else {
        Box::new(std::io::BufReader::new(file))
    };
    Ok(tar::Archive::new(reader))
}

/// Visits every regular file of an archive with its checked path and a reader of its content.
/// Links, devices and other special entries are refused; folders are skipped.
pub fn for_each_file(
    path: &Utf8Path,
    mut each: impl FnMut(&Utf8Path, &mut dyn Read) -> Result<()>,
) -> Result<()> {
    let mut archive = open(path)?;
    let broken = |e: std::io::Error| Error::Input(format!("{path} is not a readable archive: {e}"));
    for entry in archive.entries().map_err(broken)? {
        let mut entry = entry.map_err(broken)?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let name = safe_path(path, &raw)?;
        match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => each(&name, &mut entry)?,
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

/// How errors name a member of an archive: `archive!member`.
pub fn member_label(archive: &Utf8Path, member: &Utf8Path) -> Utf8PathBuf {
    Utf8PathBuf::from(format!("{archive}!{member}"))
}

/// Reads a whole archive member into memory (manifests, verdicts, small results files).
pub fn read_member(
    archive: &Utf8Path,
    member: &Utf8Path,
    reader: &mut dyn Read,
) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(|e| Error::Input(format!("{archive}: cannot read `{member}`: {e}")))?;
    Ok(bytes)
}

/// Streams `reader` into `dest` atomically, returning (size, sha256).
pub fn extract_to(dest: &Utf8Path, reader: &mut dyn Read) -> Result<(u64, String)> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let mut size = 0u64;
    crate::atomic::write_with(dest, |w| {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            hasher.update(&buf[..n]);
            size += n as u64;
            w.write_all(&buf[..n])?;
        }
    })?;
    Ok((size, hex::encode(hasher.finalize())))
}

/// Hashes a reader: (size, sha256).
pub fn hash_reader(reader: &mut dyn Read) -> std::io::Result<(u64, String)> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let size = std::io::copy(reader, &mut hasher)?;
    Ok((size, hex::encode(hasher.finalize())))
}
