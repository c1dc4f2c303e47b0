//! Shipping references between boxes (SPEC §9): `pack-corpus` compresses each raw `.yuv`
//! losslessly to FFV1 Matroska (proving the round trip by decoding and hashing before it is
//! packed) into one deterministic tar with a manifest of relative names, written first;
//! `extract-corpus` restores byte-identical `.yuv` files in one read of the archive, checks
//! each SHA-256, refuses unsafe entries, duplicate names and files of the operator's it would
//! replace (unless `--force`), bounds every member and decoded file by its declared size and
//! the whole by a cap, and resumes by skipping files already restored.

use crate::archive::{self, Entry, SizeCap};
use crate::error::{Error, Result};
use crate::host::tools::{ffmpeg, process::Invocation};
use crate::ingest::sources::{self, GeometryFlags};
use crate::progress::Progress;
use crate::schema::{
    self, Document, SourceFormat, Tool, TransportManifest, TransportRow, SCHEMA_VERSION,
};
use crate::{atomic, digest};
use camino::{Utf8Path, Utf8PathBuf};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

/// Name of the manifest inside a transport archive.
pub const MANIFEST: &str = "transport-manifest.json";

/// Default cap on what `extract-corpus` may write in total (members and decoded references).
/// Raw references are big — a minute of 1080p 4:2:0 is 4.7 GB — so the cap is generous, yet a
/// kilobyte archive cannot fill a disk before any hash is checked. `--max-total-size` raises it.
pub const TRANSPORT_TOTAL_MAX: u64 = 64 << 30;

/// Streams what an ffmpeg invocation writes to stdout into `sink`, hashing it, and stops
/// ffmpeg once it has written more than `limit` bytes; returns (size, sha256).
fn stream_output(
    inv: &Invocation,
    what: &str,
    limit: u64,
    sink: &mut dyn Write,
) -> Result<(u64, String)> {
    let reader = inv
        .expression()
        .stdin_null()
        .stderr_capture()
        .reader()
        .map_err(|e| inv.failure(what, format!("could not start: {e}"), b""))?;
    let _running = crate::host::tools::children::register(reader.pids());
    match archive::copy_hashed(&mut &reader, sink, limit) {
        Ok(Some(copied)) => Ok(copied),
        Ok(None) => {
            let _ = reader.kill();
            Err(Error::Input(format!(
                "{what}: ffmpeg's output passed the {limit} bytes expected, so it was stopped"
            )))
        }
        Err(e) => {
            let stderr = match reader.try_wait() {
                Ok(Some(output)) => output.stderr.clone(),
                _ => Vec::new(),
            };
            Err(inv.failure(what, e.to_string(), &stderr))
        }
    }
}

/// Packs every raw reference in `ref_dir` into `out`.
pub fn pack(
    ffmpeg_tool: &Tool,
    ref_dir: &Utf8Path,
    geometry: GeometryFlags,
    out: &Utf8Path,
    progress: &Progress,
) -> Result<TransportManifest> {
    let sources = sources::discover(ref_dir, geometry)?;
    if let Some(y4m) = sources.iter().find(|s| s.format == SourceFormat::Y4m) {
        return Err(Error::Input(format!(
            "`{}` is .y4m; pack-corpus carries raw .yuv references only (convert it with ffmpeg -f rawvideo, or move it aside)",
            y4m.file
        )));
    }
    let parent = out
        .parent()
        .filter(|p| !p.as_str().is_empty())
        .unwrap_or(Utf8Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let work = tempfile::Builder::new()
        .prefix(".pack-corpus")
        .tempdir_in(parent)
        .map_err(|e| Error::io(parent, e))?;
    let work = Utf8Path::from_path(work.path())
        .expect("UTF-8 parent")
        .to_owned();
    let mut rows = Vec::new();
    for source in &sources {
        let mkv_name = format!("{}.mkv", source.name);
        let mkv = work.join(&mkv_name);
        let source_path = ref_dir.join(&source.file);
        ffmpeg::ffv1_pack(
            &ffmpeg_tool.path,
            source,
            source_path.as_str(),
            mkv.as_str(),
        )
        .output(&format!("packing {}", source.file))?;
        let (_, restored) = stream_output(
            &ffmpeg::raw_decode(&ffmpeg_tool.path, mkv.as_str(), "-"),
            &format!("checking {mkv_name}"),
            source.bytes,
            &mut std::io::sink(),
        )?;
        if restored != source.sha256 {
            return Err(Error::Environment(format!(
                "packing {} is not lossless with this ffmpeg (decoded sha256 {restored}, source {})",
                source.file, source.sha256
            )));
        }
        let out_bytes = std::fs::metadata(&mkv)
            .map_err(|e| Error::io(&mkv, e))?
            .len();
        progress.info(&format!(
            "packed {} ({} → {} bytes, round trip verified)",
            source.file, source.bytes, out_bytes
        ));
        rows.push(TransportRow {
            corpus: source.name.clone(),
            yuv: source.file.clone(),
            mkv: mkv_name,
            pix_fmt: "yuv420p".into(),
            width: source.geometry.width,
            height: source.geometry.height,
            fps: source.geometry.fps.to_string(),
            in_bytes: source.bytes,
            out_bytes,
            yuv_sha256: source.sha256.clone(),
        });
    }
    let manifest = TransportManifest {
        kind: TransportManifest::SCHEMA.into(),
        schema_version: SCHEMA_VERSION,
        rows,
    };
    atomic::write_json(&work.join(MANIFEST), &manifest)?;
    let entries: Vec<Entry> = manifest
        .rows
        .iter()
        .map(|r| Entry {
            source: work.join(&r.mkv),
            name: r.mkv.clone(),
            executable: false,
        })
        .collect();
    let manifest_entry = Entry {
        source: work.join(MANIFEST),
        name: MANIFEST.into(),
        executable: false,
    };
    atomic::write_with(out, |w| {
        archive::write_tar(
            w,
            Some(manifest_entry),
            entries,
            archive::entry_mtime().unwrap_or(0),
        )
    })?;
    Ok(manifest)
}

/// A plain file name: no folders, nothing hidden.
fn plain_name(archive_path: &Utf8Path, name: &str) -> Result<()> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return Err(Error::Input(format!(
            "{archive_path}: refusing file name `{name}` in the manifest (names must be plain)"
        )));
    }
    Ok(())
}

/// Checks a member is the size its manifest row declares.
fn declared_size(archive_path: &Utf8Path, row: &TransportRow, size: u64) -> Result<()> {
    if size != row.out_bytes {
        return Err(Error::Input(format!(
            "{archive_path}: `{}` is {size} bytes but the manifest says {}",
            row.mkv, row.out_bytes
        )));
    }
    Ok(())
}

/// What `extract-corpus` is asked to do.
#[derive(Debug, Clone)]
pub struct ExtractRequest {
    /// The pack-corpus archive (read once, so a pipe works).
    pub archive: Utf8PathBuf,
    /// Where the `.yuv` files are restored.
    pub to: Utf8PathBuf,
    /// Replace files in `to` that differ from the archive's.
    pub force: bool,
    /// Most bytes the archive may unpack in total.
    pub max_total_size: u64,
}

/// Restores every reference of the archive into `request.to` in one read of the archive;
/// returns (restored, already present).
pub fn extract(
    ffmpeg_tool: &Tool,
    request: &ExtractRequest,
    progress: &Progress,
) -> Result<(usize, usize)> {
    let archive_path = &request.archive;
    if !archive_path.exists() || archive_path.is_dir() {
        return Err(Error::Input(format!(
            "archive `{archive_path}` does not exist"
        )));
    }
    let parent = request
        .to
        .parent()
        .filter(|p| !p.as_str().is_empty())
        .unwrap_or(Utf8Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".extract-corpus-")
        .tempdir_in(parent)
        .map_err(|e| Error::io(parent, e))?;
    let mut run = Restore {
        ffmpeg: ffmpeg_tool,
        request,
        progress,
        staging: Utf8Path::from_path(staging.path())
            .expect("UTF-8 parent")
            .to_owned(),
        cap: SizeCap::new(
            archive_path,
            "corpus-transport archive",
            request.max_total_size,
        ),
        plan: None,
        waiting: Vec::new(),
        staged: 0,
        restored: 0,
    };
    archive::for_each_file(archive_path, |name, size, reader| {
        run.take(name, size, reader)
    })?;
    let plan = run.plan.take().ok_or_else(|| {
        Error::Input(format!(
            "{archive_path} has no {MANIFEST}; it is not a corpus-transport archive"
        ))
    })?;
    if let Some(missing) = plan.unread.values().next() {
        return Err(Error::Input(format!(
            "{archive_path} lacks {} named in its manifest",
            missing.mkv
        )));
    }
    Ok((run.restored, plan.present))
}

/// The manifest once read: the rows still to restore, by member name.
struct Plan {
    /// Rows whose member has not been read yet and whose `.yuv` is not present.
    unread: BTreeMap<String, TransportRow>,
    /// Rows already present in `to` with the right content.
    present: usize,
}

/// One `extract-corpus` run over the archive's members.
struct Restore<'a> {
    ffmpeg: &'a Tool,
    request: &'a ExtractRequest,
    progress: &'a Progress,
    /// Private folder beside `to` for members and decoded files until they are checked.
    staging: Utf8PathBuf,
    cap: SizeCap,
    plan: Option<Plan>,
    /// Members read before the manifest: (name, size, staged file).
    waiting: Vec<(String, u64, Utf8PathBuf)>,
    /// Members staged so far (names their staged files).
    staged: usize,
    restored: usize,
}

impl Restore<'_> {
    /// Takes one member: the manifest, or an `.mkv` restored at once once the manifest is
    /// known (staged until then, within the cap).
    fn take(&mut self, name: &Utf8Path, size: u64, reader: &mut dyn std::io::Read) -> Result<()> {
        let archive_path = &self.request.archive;
        if name.as_str() == MANIFEST {
            self.cap.reserve(name.as_str(), size)?;
            let bytes = archive::read_member(archive_path, name, size, reader)?;
            let manifest: TransportManifest =
                schema::parse_checked(&bytes, &archive::member_label(archive_path, name))?;
            self.plan = Some(self.plan(manifest)?);
            for (member, size, staged) in std::mem::take(&mut self.waiting) {
                self.restore_staged(&member, size, &staged)?;
            }
            return Ok(());
        }
        match &self.plan {
            Some(plan) => {
                let Some(row) = plan.unread.get(name.as_str()) else {
                    return Ok(());
                };
                declared_size(archive_path, row, size)?;
                let staged = self.stage(name, size, reader)?;
                self.restore_staged(name.as_str(), size, &staged)
            }
            None => {
                let staged = self.stage(name, size, reader)?;
                self.waiting.push((name.to_string(), size, staged));
                Ok(())
            }
        }
    }

    /// Checks the manifest against itself and against `to`, before anything is written there.
    fn plan(&self, manifest: TransportManifest) -> Result<Plan> {
        let archive_path = &self.request.archive;
        let to = &self.request.to;
        let (mut names, mut unread, mut present, mut clashes) =
            (BTreeSet::new(), BTreeMap::new(), 0, Vec::new());
        for row in manifest.rows {
            plain_name(archive_path, &row.yuv)?;
            plain_name(archive_path, &row.mkv)?;
            for name in [&row.yuv, &row.mkv] {
                if !names.insert(name.clone()) {
                    return Err(Error::Input(format!(
                        "{archive_path}: its manifest names `{name}` twice; refusing an archive where one reference would replace another"
                    )));
                }
            }
            let target = to.join(&row.yuv);
            if target.is_file() && digest::sha256_file(&target)? == row.yuv_sha256 {
                present += 1;
                continue;
            }
            if target.exists() && !self.request.force {
                clashes.push(target.to_string());
            }
            unread.insert(row.mkv.clone(), row);
        }
        if !clashes.is_empty() {
            return Err(Error::Input(format!(
                "{} already exist(s) with other content than the archive's; move them aside or pass --force to replace them",
                clashes.join(", ")
            )));
        }
        Ok(Plan { unread, present })
    }

    /// Writes member `name` (at most `size` bytes, within the cap) into the staging folder.
    fn stage(
        &mut self,
        name: &Utf8Path,
        size: u64,
        reader: &mut dyn std::io::Read,
    ) -> Result<Utf8PathBuf> {
        self.cap.reserve(name.as_str(), size)?;
        self.staged += 1;
        let staged = self.staging.join(format!("member-{}", self.staged));
        let file = std::fs::File::create_new(&staged).map_err(|e| Error::io(&staged, e))?;
        let mut out = std::io::BufWriter::new(file);
        archive::copy_hashed(reader, &mut out, size)
            .and_then(|_| out.flush())
            .map_err(|e| {
                Error::Input(format!(
                    "{}: cannot unpack `{name}`: {e}",
                    self.request.archive
                ))
            })?;
        Ok(staged)
    }

    /// Decodes a staged member of `size` bytes into its `.yuv`, within the declared sizes,
    /// checks the SHA-256, and moves it into `to`; members the manifest does not need are
    /// dropped.
    fn restore_staged(&mut self, member: &str, size: u64, staged: &Utf8Path) -> Result<()> {
        let row = self
            .plan
            .as_mut()
            .expect("the manifest is read")
            .unread
            .remove(member);
        let result = match row {
            Some(row) => declared_size(&self.request.archive, &row, size)
                .and_then(|()| self.restore(&row, staged)),
            None => Ok(()),
        };
        let _ = std::fs::remove_file(staged);
        result
    }

    fn restore(&mut self, row: &TransportRow, mkv: &Utf8Path) -> Result<()> {
        let what = format!("restoring {}", row.yuv);
        self.cap.reserve(&row.yuv, row.in_bytes)?;
        let partial = self.staging.join(format!("{}.partial", row.yuv));
        let file = std::fs::File::create_new(&partial).map_err(|e| Error::io(&partial, e))?;
        let mut out = std::io::BufWriter::new(file);
        let decode = ffmpeg::raw_decode(&self.ffmpeg.path, mkv.as_str(), "-");
        let (_, sha) = stream_output(&decode, &what, row.in_bytes, &mut out)?;
        out.flush().map_err(|e| Error::io(&partial, e))?;
        if sha != row.yuv_sha256 {
            return Err(Error::Input(format!(
                "{}: restored sha256 {sha} does not match the manifest's {}",
                row.yuv, row.yuv_sha256
            )));
        }
        let to = &self.request.to;
        let yuv = to.join(&row.yuv);
        if yuv.exists() && !self.request.force {
            return Err(Error::Input(format!(
                "{yuv} appeared while restoring it; move it aside or pass --force to replace it"
            )));
        }
        std::fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
        std::fs::rename(&partial, &yuv).map_err(|e| Error::io(&yuv, e))?;
        self.restored += 1;
        self.progress
            .info(&format!("restored {yuv} (sha256 verified)"));
        Ok(())
    }
}
