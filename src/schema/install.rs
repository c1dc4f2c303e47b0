//! What `install` keeps in the owner's model tree: the journal of one install, beside the files
//! it replaced (`MODEL_DIR/.ensemble-kit-replaced/<UTC>/journal.json`), from which a killed run
//! is finished or rolled back and `install --undo` puts the replaced files back.

use super::document::Document;
#[cfg(doc)]
use super::document::SCHEMA_VERSION;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where an install stands. It moves `staging` → `committing` → `done`, and `done` → `undoing`
/// (after which the journal's folder is removed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JournalState {
    /// New files are being written beside their targets and the replaced ones kept; nothing in
    /// the model tree has changed yet. A run that finds this rolls back.
    Staging,
    /// Every new file is staged and every replaced one kept; the renames are under way. A run
    /// that finds this finishes them.
    Committing,
    /// The install is complete.
    Done,
    /// `--undo` is putting the kept files back. A run that finds this finishes the undo.
    Undoing,
}

/// What an install does to one file of the model tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JournalAction {
    /// A new file where there was none.
    Add,
    /// A new file in place of an old one (kept).
    Replace,
    /// An old file taken away (kept), e.g. a member's `.onnx.data` the new model does not use.
    Remove,
}

/// One file an install adds, replaces or removes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct JournalEntry {
    /// Its name in the model tree (a plain file name).
    pub name: String,
    /// What the install does to it.
    pub action: JournalAction,
    /// SHA-256 of the file before the install (`replace`, `remove`).
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub old_sha256: Option<String>,
    /// SHA-256 of the file the install writes (`add`, `replace`).
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub new_sha256: Option<String>,
}

/// `journal.json` of one install.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InstallJournal {
    /// Always `install-journal`.
    #[schemars(extend("const" = InstallJournal::SCHEMA))]
    pub kind: String,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Where the install stands.
    pub state: JournalState,
    /// When it started (UTC; `SOURCE_DATE_EPOCH` when set).
    pub started_at_utc: String,
    /// The bundle installed, as given.
    pub bundle: String,
    /// SHA-256 of the bundle's `manifest.json` (which lists every other file's).
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub bundle_manifest_sha256: String,
    /// The ensemble installed.
    pub ensemble_id: String,
    /// Every file the install touches, in the order it renames them.
    pub entries: Vec<JournalEntry>,
}

impl Document for InstallJournal {
    const SCHEMA: &'static str = "install-journal";
}
