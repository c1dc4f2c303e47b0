//! What makes a type a document with a published schema, and the version of the formats.
//!
//! Kept apart from the registry in `mod.rs`, which lists the documents, so that the modules
//! defining them can name their schema without importing the registry back.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

/// Version of the kit's on-disk formats (every schema in `schemas/`); bumped on any incompatible
/// change.
pub const SCHEMA_VERSION: u32 = 1;

/// A document the kit publishes a schema for (`schemas/NAME.schema.json`). The name lives with
/// the type, so reading a file as `T` validates it against `T`'s schema without the caller
/// spelling the name, and the registry lists each document once.
pub trait Document: DeserializeOwned + JsonSchema {
    /// The schema's name: `ensemble-kit schema NAME` and `schemas/NAME.schema.json`.
    const SCHEMA: &'static str;
}
