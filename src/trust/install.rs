//! `install BUNDLE --into MODEL_DIR`: the owner's last step, after the whole `verify` passed —
//! the members' ONNX models and sidecars go into the vmaf fork's model folder (`model/tiny/`),
//! their `registry.json` rows get the new sha256 and `smoke: false` (every other row keeps its
//! bytes), and the ensemble manifest lists the members with their scaler and vocabulary.
//!
//! It is all or nothing ([`journal`]): replaced files are kept under
//! `MODEL_DIR/.ensemble-kit-replaced/<UTC>/`, a killed run is finished or rolled back by the
//! next one, and `install --undo` puts the last install's files back byte for byte.
//!
//! - [`members`] reads the bundle's models and sidecars back from the verified extraction;
//! - [`registry`] patches the registry, written in the fork's style by [`pyjson`];
//! - [`manifest`] writes `<ensemble_id>.json`;
//! - [`plan`] works out what changes before anything is written (`--dry-run` prints it);
//! - [`tree`] reads MODEL_DIR without following links or reading past a bound.

pub mod journal;
pub mod manifest;
pub mod members;
pub mod plan;
pub mod pyjson;
pub mod registry;
pub mod tree;

use crate::deliver::verify::Verified;
use crate::error::{Error, Result};
use crate::schema::{InstallJournal, JournalEntry, JournalState, Verdict, SCHEMA_VERSION};
use camino::{Utf8Path, Utf8PathBuf};
use journal::{Staged, Steps};
use plan::Tense;

/// What `install` is asked to do.
#[derive(Debug, Clone)]
pub struct Request {
    /// The bundle, as given (recorded in the journal).
    pub bundle: Utf8PathBuf,
    /// The fork's model folder.
    pub model_dir: Utf8PathBuf,
    /// Start a registry when MODEL_DIR has none.
    pub new_registry: bool,
    /// Print what would change; write nothing.
    pub dry_run: bool,
}

/// How an install ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The bundle is a HOLD: nothing to install (exit 1).
    Hold(String),
    /// MODEL_DIR already holds exactly this bundle.
    Unchanged(String),
    /// `--dry-run`: what would change.
    DryRun(String),
    /// Installed.
    Installed(String),
}

impl Outcome {
    /// 1 for a HOLD, else 0.
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Hold(_) => 1,
            _ => 0,
        }
    }

    /// What to print.
    pub fn text(&self) -> &str {
        match self {
            Outcome::Hold(t)
            | Outcome::Unchanged(t)
            | Outcome::DryRun(t)
            | Outcome::Installed(t) => t,
        }
    }
}

/// The checks of MODEL_DIR that need no bundle, run before the (possibly long) verify.
pub fn preflight(request: &Request) -> Result<()> {
    plan::preflight(&request.model_dir, request.new_registry).map(|_| ())
}

/// Installs the bundle `verified` (extracted, after every check, in `extracted`).
pub fn run(request: &Request, verified: &Verified, extracted: &Utf8Path) -> Result<Outcome> {
    let model_dir = &request.model_dir;
    if verified.verdict.verdict != Verdict::Promote {
        return Ok(Outcome::Hold(format!(
            "{} is a {} bundle: its ensemble did not pass the gate, so it carries no model to install; {model_dir} was not touched\n",
            request.bundle, verified.verdict.verdict
        )));
    }
    let ensemble = members::read(extracted, &verified.manifest)?;
    if request.dry_run {
        if let Some(set) = journal::unfinished(model_dir)? {
            return Err(Error::Input(format!(
                "an install or undo in `{model_dir}` was stopped half way ({set}); run `install` or `install --undo` without --dry-run, which finishes or rolls it back first"
            )));
        }
        let plan = plan::make(model_dir, &ensemble, request.new_registry)?;
        let mut text = format!(
            "dry run, nothing written: installing {} ({} members) into {model_dir} would\n",
            plan.ensemble_id, plan.members
        );
        if plan.changes.is_empty() {
            text.push_str("  change nothing: it holds exactly this bundle already\n");
        }
        plan::describe_files(&plan, &mut text, Tense::Would);
        plan::describe_rows(&plan, &mut text, Tense::Would);
        notices(&plan.notices, &mut text);
        return Ok(Outcome::DryRun(text));
    }
    let _lock = journal::lock(model_dir)?;
    let mut steps = Steps::from_env();
    let mut text: String = journal::recover(model_dir, &mut steps)?
        .iter()
        .map(|r| format!("{r}\n"))
        .collect();
    let plan = plan::make(model_dir, &ensemble, request.new_registry)?;
    if plan.changes.is_empty() {
        text.push_str(&format!(
            "{model_dir} already holds exactly this bundle's {} members of {}, their sidecars, registry rows and manifest: no byte changed\n",
            plan.members, plan.ensemble_id
        ));
        return Ok(Outcome::Unchanged(text));
    }
    let journal = InstallJournal {
        kind: <InstallJournal as crate::schema::Document>::SCHEMA.into(),
        schema_version: SCHEMA_VERSION,
        state: JournalState::Staging,
        started_at_utc: crate::timestamp::now_utc()?,
        bundle: request.bundle.to_string(),
        bundle_manifest_sha256: plan.manifest_sha256.clone(),
        ensemble_id: plan.ensemble_id.clone(),
        entries: Vec::new(),
    };
    let files: Vec<Staged> = plan
        .changes
        .iter()
        .map(|c| Staged {
            entry: JournalEntry {
                name: c.name.clone(),
                action: c.action,
                old_sha256: c.old_sha256.clone(),
                new_sha256: c.new_sha256(),
            },
            new: c.new.as_deref(),
        })
        .collect();
    let set = journal::apply(model_dir, journal, &files, &mut steps)?;
    text.push_str(&format!(
        "installed {} ({} members) into {model_dir}:\n",
        plan.ensemble_id, plan.members
    ));
    plan::describe_files(&plan, &mut text, Tense::Did);
    plan::describe_rows(&plan, &mut text, Tense::Did);
    notices(&plan.notices, &mut text);
    text.push_str(&format!(
        "the replaced files are kept in {set}/ (`ensemble-kit install --undo {model_dir}` puts them back); last, check the tree with the fork's own validator: `python3 ai/scripts/validate_model_registry.py`\n"
    ));
    Ok(Outcome::Installed(text))
}

/// Puts back what the last install into `model_dir` replaced, and removes what it added. When
/// a killed run left an install unfinished, the undo is of that install: one stopped before it
/// changed anything is only rolled back, and an undo stopped half way is only finished.
pub fn undo(model_dir: &Utf8Path) -> Result<String> {
    if !model_dir.is_dir() {
        return Err(Error::Input(format!(
            "--undo `{model_dir}` is not a folder; give the model folder an install wrote into"
        )));
    }
    let _lock = journal::lock(model_dir)?;
    let mut steps = Steps::from_env();
    let recovered = journal::recover(model_dir, &mut steps)?;
    let mut text: String = recovered.iter().map(|r| format!("{r}\n")).collect();
    if recovered
        .iter()
        .any(|r| !matches!(r, journal::Recovered::Finished(_)))
    {
        text.push_str(&format!(
            "{model_dir} is as it was before the interrupted run; `install --undo` again undoes the install before it\n"
        ));
        return Ok(text);
    }
    let (set, journal) = journal::undo(model_dir, &mut steps)?;
    text.push_str(&format!(
        "undid the install of {} ({}) kept in {set}:\n",
        journal.bundle, journal.ensemble_id
    ));
    for entry in &journal.entries {
        let verb = match entry.action {
            crate::schema::JournalAction::Add => "removed",
            _ => "put back",
        };
        text.push_str(&format!("  {verb} {}\n", entry.name));
    }
    text.push_str(&format!("{model_dir} is as it was before that install\n"));
    Ok(text)
}

fn notices(notices: &[String], text: &mut String) {
    for notice in notices {
        text.push_str(&format!("note: {notice}\n"));
    }
}
