//! What an install would change in MODEL_DIR, worked out before anything is written: each file
//! added, replaced or moved aside, and each registry row before and after.

use super::journal;
use super::manifest;
use super::members::Ensemble;
use super::registry::{self, Registry, RowChange, REGISTRY, REGISTRY_MAX, REGISTRY_SCHEMA};
use super::tree;
use crate::digest::sha256_bytes;
use crate::error::{Error, Result};
use crate::schema::JournalAction;
use camino::Utf8Path;
use std::fmt::Write;

/// One file of MODEL_DIR the install touches.
#[derive(Debug, Clone)]
pub struct FileChange {
    /// Its name in MODEL_DIR.
    pub name: String,
    /// Added, replaced or moved aside.
    pub action: JournalAction,
    /// SHA-256 of what is there now.
    pub old_sha256: Option<String>,
    /// What install writes there (none: the file is moved aside).
    pub new: Option<Vec<u8>>,
    /// Why the file changes, for the owner.
    pub why: String,
}

impl FileChange {
    /// SHA-256 of the new bytes.
    pub fn new_sha256(&self) -> Option<String> {
        self.new.as_deref().map(sha256_bytes)
    }
}

/// Everything one install changes.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The ensemble.
    pub ensemble_id: String,
    /// SHA-256 of the bundle's manifest.
    pub manifest_sha256: String,
    /// Members installed.
    pub members: usize,
    /// The files, in the order they are renamed into place (the registry last).
    pub changes: Vec<FileChange>,
    /// The registry's member rows, before and after.
    pub rows: Vec<RowChange>,
    /// What the owner should know.
    pub notices: Vec<String>,
}

/// The cheap checks of MODEL_DIR, run before the bundle is verified so that a wrong folder is
/// refused at once: a folder, with a readable registry of the fork's format (or none, with
/// `--new-registry`), and no link where install keeps its own files.
pub fn preflight(model_dir: &Utf8Path, new_registry: bool) -> Result<Option<Registry>> {
    if !model_dir.is_dir() {
        return Err(Error::Input(format!(
            "--into `{model_dir}` is not a folder; give the fork's model folder (model/tiny/)"
        )));
    }
    journal::check_replaced_folder(model_dir)?;
    let path = model_dir.join(REGISTRY);
    match tree::read_bounded(&path, REGISTRY_MAX, "a registry")? {
        Some(bytes) => registry::parse(&bytes, &path).map(Some),
        None if new_registry => Ok(None),
        None => Err(Error::Input(format!(
            "`{model_dir}` has no {REGISTRY}, so it is not the fork's model folder (model/tiny/); give that folder, or pass --new-registry to start a registry in this one"
        ))),
    }
}

/// What installing `ensemble` into `model_dir` changes.
pub fn make(model_dir: &Utf8Path, ensemble: &Ensemble, new_registry: bool) -> Result<Plan> {
    let registry = preflight(model_dir, new_registry)?;
    let schema_beside = tree::regular_file(&model_dir.join(REGISTRY_SCHEMA))?.is_some();
    let patched = registry::patch(registry.as_ref(), ensemble, schema_beside)?;
    let mut wanted: Vec<(String, Option<Vec<u8>>, String)> = Vec::new();
    for member in &ensemble.members {
        let onnx = member.onnx_name();
        wanted.push((
            onnx.clone(),
            Some(member.onnx.clone()),
            format!("model of seed {}", member.sidecar.seed),
        ));
        wanted.push((
            member.sidecar_name(),
            Some(member.sidecar_bytes.clone()),
            format!("sidecar of seed {}", member.sidecar.seed),
        ));
        wanted.push((
            format!("{onnx}.data"),
            None,
            "external weights of the old model; the new one holds every weight in its .onnx".into(),
        ));
        wanted.push((
            format!("{onnx}.sigstore.json"),
            None,
            "signs the old model's bytes, not the new ones".into(),
        ));
    }
    wanted.push((
        manifest::file_name(&ensemble.id),
        Some(manifest::render(ensemble).into_bytes()),
        "ensemble manifest".into(),
    ));
    wanted.push((
        REGISTRY.into(),
        Some(patched.text.into_bytes()),
        format!("{} member rows", patched.rows.len()),
    ));
    let mut changes = Vec::new();
    for (name, new, why) in wanted {
        if !tree::is_plain_name(&name) {
            return Err(Error::Input(format!(
                "install would write `{}`, which is not a plain file name in MODEL_DIR",
                name.escape_debug()
            )));
        }
        journal::check_not_staged(model_dir, &name)?;
        let old = tree::sha256_of(&model_dir.join(&name))?;
        let action = match (&old, &new) {
            (Some(old), Some(new)) if *old == sha256_bytes(new) => continue,
            (Some(_), Some(_)) => JournalAction::Replace,
            (None, Some(_)) => JournalAction::Add,
            (Some(_), None) => JournalAction::Remove,
            (None, None) => continue,
        };
        changes.push(FileChange {
            name,
            action,
            old_sha256: old,
            new,
            why,
        });
    }
    Ok(Plan {
        ensemble_id: ensemble.id.clone(),
        manifest_sha256: ensemble.manifest_sha256.clone(),
        members: ensemble.members.len(),
        changes,
        rows: patched.rows,
        notices: patched.notices,
    })
}

/// The files, one line each: `replace NAME (why)`.
pub fn describe_files(plan: &Plan, out: &mut String, tense: Tense) {
    for change in &plan.changes {
        let verb = match (change.action, tense) {
            (JournalAction::Add, Tense::Would) => "add",
            (JournalAction::Add, Tense::Did) => "added",
            (JournalAction::Replace, Tense::Would) => "replace",
            (JournalAction::Replace, Tense::Did) => "replaced",
            (JournalAction::Remove, Tense::Would) => "move aside",
            (JournalAction::Remove, Tense::Did) => "moved aside",
        };
        writeln!(out, "  {verb} {} ({})", change.name, change.why).expect("String");
    }
}

/// Each member row: with [`Tense::Would`] its fields before and after (a new row's every
/// field), with [`Tense::Did`] the fields that changed.
pub fn describe_rows(plan: &Plan, out: &mut String, tense: Tense) {
    let show = |v: Option<&serde_json::Value>| v.map_or("(absent)".into(), |v| v.to_string());
    for row in &plan.rows {
        let keys: Vec<&String> = match &row.before {
            Some(_) => registry::PATCHED
                .iter()
                .filter_map(|k| row.after.keys().find(|a| a == k))
                .collect(),
            None => row.after.keys().collect(),
        };
        let fresh = if row.before.is_none() {
            " (new row)"
        } else {
            ""
        };
        let changed: Vec<&str> = keys
            .iter()
            .filter(|k| row.before.as_ref().and_then(|b| b.get(**k)) != row.after.get(**k))
            .map(|k| k.as_str())
            .collect();
        if let Tense::Did = tense {
            let what = if changed.is_empty() {
                "unchanged".to_owned()
            } else {
                format!("set {}", changed.join(", "))
            };
            writeln!(out, "  {REGISTRY} row {}{fresh}: {what}", row.id).expect("String");
            continue;
        }
        writeln!(out, "  {REGISTRY} row {}{fresh}:", row.id).expect("String");
        for key in keys {
            let before = show(row.before.as_ref().and_then(|b| b.get(key)));
            let after = show(row.after.get(key));
            let same = if before == after { " (unchanged)" } else { "" };
            writeln!(out, "    {key}: {before} -> {after}{same}").expect("String");
        }
    }
}

/// How file lines are worded.
#[derive(Debug, Clone, Copy)]
pub enum Tense {
    /// `--dry-run`.
    Would,
    /// After the install.
    Did,
}
