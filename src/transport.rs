//! Shipping references between boxes (SPEC §9): `pack-corpus` compresses each raw `.yuv`
//! losslessly to FFV1 Matroska (proving the round trip by decoding and hashing before it is
//! packed) into one deterministic tar with a manifest of relative names; `extract-corpus`
//! restores byte-identical `.yuv` files, checks each SHA-256, refuses unsafe entries, and
//! resumes by skipping files already restored.

use crate::archive::{self, Entry};
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::schema::{self, SourceFormat, TransportManifest, TransportRow, SCHEMA_VERSION};
use crate::sources::{self, GeometryFlags};
use crate::tools::{ffmpeg, process::Invocation, Tool};
use crate::{atomic, digest};
use camino::Utf8Path;

/// Name of the manifest inside a transport archive.
pub const MANIFEST: &str = "transport-manifest.json";

/// SHA-256 of what an ffmpeg invocation writes to stdout.
fn sha256_of_output(inv: &Invocation, what: &str) -> Result<String> {
    let mut reader = inv
        .expression()
        .stdin_null()
        .stderr_capture()
        .reader()
        .map_err(|e| inv.failure(what, format!("could not start: {e}"), b""))?;
    let (_, sha) =
        archive::hash_reader(&mut reader).map_err(|e| inv.failure(what, e.to_string(), b""))?;
    Ok(sha)
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
        let restored = sha256_of_output(
            &ffmpeg::raw_decode(&ffmpeg_tool.path, mkv.as_str(), "-"),
            &format!("checking {mkv_name}"),
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
        kind: "corpus-transport".into(),
        schema_version: SCHEMA_VERSION,
        rows,
    };
    atomic::write_json(&work.join(MANIFEST), &manifest)?;
    let mut entries: Vec<Entry> = manifest
        .rows
        .iter()
        .map(|r| Entry {
            source: work.join(&r.mkv),
            name: r.mkv.clone(),
        })
        .collect();
    entries.push(Entry {
        source: work.join(MANIFEST),
        name: MANIFEST.into(),
    });
    atomic::write_with(out, |w| {
        archive::write_tar(w, entries, archive::entry_mtime().unwrap_or(0))
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

/// Restores every reference of `archive_path` into `to`; returns (restored, already present).
pub fn extract(
    ffmpeg_tool: &Tool,
    archive_path: &Utf8Path,
    to: &Utf8Path,
    progress: &Progress,
) -> Result<(usize, usize)> {
    if !archive_path.is_file() {
        return Err(Error::Input(format!(
            "archive `{archive_path}` does not exist"
        )));
    }
    let mut manifest: Option<TransportManifest> = None;
    archive::for_each_file(archive_path, |name, reader| {
        if name.as_str() == MANIFEST {
            let bytes = archive::read_member(archive_path, name, reader)?;
            manifest = Some(schema::parse_checked(
                &bytes,
                &archive::member_label(archive_path, name),
                "corpus-transport",
            )?);
        }
        Ok(())
    })?;
    let manifest = manifest.ok_or_else(|| {
        Error::Input(format!(
            "{archive_path} has no {MANIFEST}; it is not a corpus-transport archive"
        ))
    })?;
    for row in &manifest.rows {
        plain_name(archive_path, &row.yuv)?;
        plain_name(archive_path, &row.mkv)?;
    }
    std::fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
    let done = |row: &TransportRow| {
        let path = to.join(&row.yuv);
        path.is_file()
            && digest::sha256_file(&path).ok().as_deref() == Some(row.yuv_sha256.as_str())
    };
    let skipped = manifest.rows.iter().filter(|r| done(r)).count();
    let mut restored = 0usize;
    let mut seen = std::collections::BTreeSet::new();
    archive::for_each_file(archive_path, |name, reader| {
        let Some(row) = manifest.rows.iter().find(|r| r.mkv == name.as_str()) else {
            return Ok(());
        };
        seen.insert(row.mkv.clone());
        if done(row) {
            return Ok(());
        }
        let mkv = to.join(format!(".{}.partial", row.mkv));
        archive::extract_to(&mkv, reader)?;
        let yuv = to.join(&row.yuv);
        let partial = to.join(format!(".{}.partial", row.yuv));
        let decoded = ffmpeg::raw_decode(&ffmpeg_tool.path, mkv.as_str(), partial.as_str())
            .output(&format!("restoring {}", row.yuv));
        let _ = std::fs::remove_file(&mkv);
        decoded?;
        let sha = digest::sha256_file(&partial)?;
        if sha != row.yuv_sha256 {
            let _ = std::fs::remove_file(&partial);
            return Err(Error::Input(format!(
                "{}: restored sha256 {sha} does not match the manifest's {}",
                row.yuv, row.yuv_sha256
            )));
        }
        std::fs::rename(&partial, &yuv).map_err(|e| Error::io(&yuv, e))?;
        restored += 1;
        progress.info(&format!("restored {yuv} (sha256 verified)"));
        Ok(())
    })?;
    if let Some(missing) = manifest
        .rows
        .iter()
        .find(|r| !seen.contains(&r.mkv) && !done(r))
    {
        return Err(Error::Input(format!(
            "{archive_path} lacks {} named in its manifest",
            missing.mkv
        )));
    }
    Ok((restored, skipped))
}
