//! The owner's request (issue 30): what an owner asks a collaborator to measure — the
//! references by name, SHA-256 and geometry, optionally the encoders and the recipe — with a
//! random nonce, a time and the owner's name. `full --request` answers it and the bundle
//! carries it, under the manifest's signature.

use super::corpus::Source;
use super::document::Document;
#[cfg(doc)]
use super::document::SCHEMA_VERSION;
use crate::error::{Error, Result};
use camino::Utf8Path;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::SystemTime;

/// The recipe an owner asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestedRecipe {
    /// Training epochs per fit (`--epochs`).
    #[schemars(range(min = 1, max = 10000))]
    pub epochs: usize,
    /// The seeds the gate judges (`--seeds`).
    #[schemars(length(min = 1))]
    pub seeds: Vec<u64>,
}

/// `REQUEST.json`, written by `ensemble-kit request` and carried in a bundle as `request.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Always `request`.
    #[schemars(extend("const" = Request::SCHEMA))]
    pub kind: String,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// 128 random bits as 32 lowercase hex digits: no two requests share one, so an answer to
    /// one request is no answer to another.
    #[schemars(regex(pattern = r"^[0-9a-f]{32}$"))]
    pub nonce: String,
    /// When the owner made the request (RFC 3339, UTC, whole seconds).
    #[schemars(regex(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"))]
    pub created_at_utc: String,
    /// Who asks (an `allowed_signers` principal, such as an e-mail address).
    #[schemars(length(min = 1))]
    pub owner: String,
    /// The references to measure, sorted by name; each must be scored with these bytes.
    #[schemars(length(min = 1))]
    pub references: Vec<Source>,
    /// The encoders asked for, if the owner chose them.
    pub encoders: Option<Vec<String>>,
    /// The recipe asked for, if the owner chose it.
    pub recipe: Option<RequestedRecipe>,
}

impl Document for Request {
    const SCHEMA: &'static str = "request";
}

impl Request {
    /// When the request was made, read from `path` (a file, or `BUNDLE!request.json`).
    pub fn created(&self, path: &Utf8Path) -> Result<SystemTime> {
        humantime::parse_rfc3339(&self.created_at_utc).map_err(|e| Error::Invalid {
            path: path.to_owned(),
            line: None,
            field: "/created_at_utc".into(),
            message: format!("`{}` is not a time: {e}", self.created_at_utc),
        })
    }
}
