//! Whether a file already at an output path is one the kit wrote with that meaning: its JSON
//! `kind`, the metadata beside a shard, a tar's first member, the kit's build record. Only such
//! a file is replaced without `--force`.

use super::{Written, READ_MAX};
use crate::schema::{
    self, Document, ImportedShardMeta, LibvmafBuild, MergedMeta, ShardMeta, SIDECAR_KIND,
};
use camino::Utf8Path;
use std::io::Read;

/// Why the regular file at `path` is not one the kit wrote as `written`; `None` when it is.
pub(super) fn not_written(path: &Utf8Path, written: &Written) -> Option<String> {
    match written {
        Written::Kind(kind) => json_kind(path, &[kind]),
        Written::ShardMeta => json_kind(
            path,
            &[
                ShardMeta::SCHEMA,
                ImportedShardMeta::SCHEMA,
                MergedMeta::SCHEMA,
            ],
        ),
        Written::Shard { meta } => {
            if let Some(why) = json_kind(
                meta,
                &[
                    ShardMeta::SCHEMA,
                    ImportedShardMeta::SCHEMA,
                    MergedMeta::SCHEMA,
                ],
            ) {
                return Some(format!(
                    "no shard metadata of the kit's beside it: `{meta}`: {why}"
                ));
            }
            let value = json(meta).ok()?;
            let name = path.file_name().unwrap_or_default();
            let named = ["shard_file", "corpus_file"]
                .iter()
                .any(|k| value.get(k).and_then(|v| v.as_str()) == Some(name));
            (!named).then(|| format!("its metadata `{meta}` describes another file"))
        }
        // Any JSON document under a verdict's name is an earlier run's verdict (the kit's, the
        // reference kit's, or a damaged one): SPEC §7 has the stale one removed, whatever it
        // says, so that it can never decide a bundle.
        Written::Verdict => json(path).err(),
        Written::Manifest => json(path).map_or_else(Some, |value| {
            let keys = ["schema_version", "verdict", "files", "n_files"];
            (!keys.iter().all(|k| value.get(k).is_some()))
                .then(|| "it is not a bundle manifest".to_owned())
        }),
        Written::Signature => (!head(path).starts_with(b"-----BEGIN SSH SIGNATURE-----"))
            .then(|| "it is not an SSH signature".to_owned()),
        Written::Sidecar => json_kind(path, &[SIDECAR_KIND]).or_else(|| {
            json(path).ok()?.get("schema_version").is_none().then(|| {
                "a model sidecar, but not one the kit exported (no `schema_version`)".to_owned()
            })
        }),
        Written::Model { sidecar } => {
            if let Some(why) = not_written(sidecar, &Written::Sidecar) {
                return Some(format!(
                    "no sidecar of the kit's beside it: `{sidecar}`: {why}"
                ));
            }
            let value = json(sidecar).ok()?;
            (value.get("onnx").and_then(|v| v.as_str()) != path.file_name())
                .then(|| format!("its sidecar `{sidecar}` names another model"))
        }
        Written::Report => {
            let head = head(path);
            let page = head.starts_with(b"<!DOCTYPE html>")
                && head
                    .windows(b"<title>ensemble-kit report".len())
                    .any(|w| w == b"<title>ensemble-kit report");
            (!page).then(|| "it is not the kit's report page".to_owned())
        }
        Written::Tar { what, first } => {
            let name = crate::archive::open(path).ok().and_then(|mut archive| {
                let entry = archive.entries().ok()?.next()?.ok()?;
                let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
                Some(name)
            });
            match name {
                Some(name) if first(&name) => None,
                _ => Some(format!("it is not {what}")),
            }
        }
        Written::Schema(name) => {
            let title = |v: &serde_json::Value| v.get("title").cloned();
            let ours = schema::render(name)
                .ok()
                .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok());
            json(path).map_or_else(Some, |value| {
                let same = value.get("$schema").is_some()
                    && ours.as_ref().and_then(title) == title(&value);
                (!same).then(|| format!("it is not the kit's `{name}` schema"))
            })
        }
        Written::Vmaf { record } => {
            if let Some(why) = json_kind(record, &[LibvmafBuild::SCHEMA]) {
                return Some(format!(
                    "no build record of the kit's beside it: `{record}`: {why}"
                ));
            }
            let recorded = json(record).ok()?.get("binary_sha256").cloned();
            let actual = crate::digest::sha256_file(path).ok();
            (recorded.as_ref().and_then(|v| v.as_str()) != actual.as_deref())
                .then(|| format!("its build record `{record}` lists another binary"))
        }
    }
}

/// Why `path` is not JSON of one of `kinds`; `None` when it is.
fn json_kind(path: &Utf8Path, kinds: &[&str]) -> Option<String> {
    match json(path) {
        Err(why) => Some(why),
        Ok(value) => match schema::kind_of(&value) {
            Some(kind) if kinds.contains(&kind) => None,
            Some(kind) => Some(format!(
                "its `kind` is \"{kind}\", not \"{}\"",
                kinds.join("\" or \"")
            )),
            None => Some(format!("no `kind` \"{}\"", kinds.join("\" or \""))),
        },
    }
}

/// `path` as JSON, or why it is not JSON the kit could have written.
fn json(path: &Utf8Path) -> std::result::Result<serde_json::Value, String> {
    let bytes = crate::walk::read_capped(path, READ_MAX)
        .map_err(|e| format!("it cannot be read: {e}"))?
        .ok_or("it is larger than any such file the kit writes")?;
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(value) if value.is_object() => Ok(value),
        _ => Err("it is not a JSON object".into()),
    }
}

/// The first KiB of `path` (empty when it cannot be read).
fn head(path: &Utf8Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Ok(file) = std::fs::File::open(path) {
        let _ = file.take(1024).read_to_end(&mut bytes);
    }
    bytes
}
