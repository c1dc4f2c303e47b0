//! The machine-readable progress stream (`--message-format json`).

use super::document::Document;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One NDJSON event of `--message-format json` (fields not relevant to an event are omitted).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ProgressEvent {
    /// `stage-start`, `stage-finish`, `cell`, `fold`, `verdict` or `bundle`.
    #[schemars(regex(pattern = "^(stage-start|stage-finish|cell|fold|verdict|bundle)$"))]
    pub event: String,
    /// Seconds since the command started.
    pub elapsed_s: f64,
    /// The stage (`doctor`, `corpus`, `train`, `verdict`, `export`, `bundle`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Items done so far in this stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<u64>,
    /// Items in this stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// The item: a cell `src/encoder/cqN`, a fold's held-out source, a bundle path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// `done`, `reused`, `failed`, `PROMOTE` or `HOLD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The seed of a fold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// A fold's PLCC, or the verdict's mean PLCC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plcc: Option<f64>,
    /// The verdict's seed spread.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spread: Option<f64>,
}

impl Document for ProgressEvent {
    const SCHEMA: &'static str = "progress-event";
}

impl ProgressEvent {
    /// An event of kind `event` with no other field set.
    pub fn new(event: &str) -> ProgressEvent {
        ProgressEvent {
            event: event.into(),
            ..ProgressEvent::default()
        }
    }
    /// Sets the stage.
    pub fn stage(self, stage: &str) -> Self {
        ProgressEvent {
            stage: Some(stage.into()),
            ..self
        }
    }
    /// Sets the count.
    pub fn count(self, n: u64, total: u64) -> Self {
        ProgressEvent {
            n: Some(n),
            total: Some(total),
            ..self
        }
    }
    /// Sets the total.
    pub fn total(self, total: Option<u64>) -> Self {
        ProgressEvent { total, ..self }
    }
    /// Sets the item.
    pub fn item(self, item: &str) -> Self {
        ProgressEvent {
            item: Some(item.into()),
            ..self
        }
    }
    /// Sets the status.
    pub fn status(self, status: &str) -> Self {
        ProgressEvent {
            status: Some(status.into()),
            ..self
        }
    }
}
