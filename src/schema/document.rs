//! What makes a type a document with a published schema, and the version of the formats.
//!
//! Kept apart from the registry in `mod.rs`, which lists the documents, so that the modules
//! defining them can name their schema without importing the registry back.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use std::sync::OnceLock;

/// Version of the kit's on-disk formats (every schema in `schemas/`); bumped on any incompatible
/// change.
pub const SCHEMA_VERSION: u32 = 1;

/// The version a binary built as another release says it is (see [`build_as`]).
static BUILT_AS: OnceLock<&'static str> = OnceLock::new();

/// The version of the kit writing a document: the crate's, unless the binary was built as
/// another release with [`build_as`]. Files record it as data; no check compares it with the
/// running kit's, so bundles of an earlier release verify under a later one.
pub fn kit_version() -> &'static str {
    BUILT_AS.get().copied().unwrap_or(env!("CARGO_PKG_VERSION"))
}

/// Builds the binary as release `version` (called once, first thing in `main`): how the
/// upgrade test gets a kit one minor version on without a second build of the crate.
pub fn build_as(version: &'static str) {
    // A second call changes nothing: the first binary's version stands.
    let _ = BUILT_AS.set(version);
}

/// A document the kit publishes a schema for (`schemas/NAME.schema.json`). The name lives with
/// the type, so reading a file as `T` validates it against `T`'s schema without the caller
/// spelling the name, and the registry lists each document once.
pub trait Document: DeserializeOwned + JsonSchema {
    /// The schema's name: `ensemble-kit schema NAME` and `schemas/NAME.schema.json`.
    const SCHEMA: &'static str;

    /// Whether [`Document::within_schema`] holds every constraint of the schema that the type
    /// itself does not, so that a JSON Lines reader may decode a line straight into the type
    /// and skip the validator when it holds (a corpus has millions of rows).
    const CHECKED_BY_TYPE: bool = false;

    /// For a type with [`Document::CHECKED_BY_TYPE`]: whether a value decoded straight from
    /// its bytes (unknown and duplicate fields already refused by the decoder) is one the
    /// schema accepts. A line that fails goes through the validator, so every refusal keeps
    /// the validator's words.
    fn within_schema(&self) -> bool {
        false
    }
}
