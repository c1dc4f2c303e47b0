//! How each fact a confirmation rests on stands (SPEC §12): derived here, only claimed by the
//! sender, or contradicted. One type for verify, compare, retrain, audit, evaluate and install,
//! so that no check decides alone what it takes on trust.

use crate::error::Error;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The state of one fact.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// Re-computed here from bytes the owner holds: the bundle's own files, or his references.
    Derived,
    /// Written by the other side and not checkable with what is present.
    Claimed,
    /// Derived, and different from the claim: always refused (exit 2), naming the fact.
    Contradicted,
}

impl Evidence {
    /// `derived` when `derived` holds, else `claimed`.
    pub fn derived_if(derived: bool) -> Evidence {
        if derived {
            Evidence::Derived
        } else {
            Evidence::Claimed
        }
    }

    /// The refusal of a contradicted fact (exit 2): `contradicted: ` and what was derived
    /// against what was claimed. Every check words its contradictions through this.
    pub fn contradiction(what: impl std::fmt::Display) -> Error {
        Error::Input(format!("contradicted: {what}"))
    }
}

/// One fact a check established, in the words its output uses, and how it stands: every line
/// `verify --audit` and `--retrain` print ends in its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How it stands.
    pub evidence: Evidence,
    /// What was found.
    pub text: String,
}

impl Finding {
    /// A fact re-computed here.
    pub fn derived(text: impl Into<String>) -> Finding {
        Finding {
            evidence: Evidence::Derived,
            text: text.into(),
        }
    }

    /// A fact taken as the sender wrote it.
    pub fn claimed(text: impl Into<String>) -> Finding {
        Finding {
            evidence: Evidence::Claimed,
            text: text.into(),
        }
    }
}

impl std::fmt::Display for Finding {
    /// `TEXT [derived]` or `TEXT [claimed]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [{}]", self.text, self.evidence)
    }
}

impl std::fmt::Display for Evidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Evidence::Derived => "derived",
            Evidence::Claimed => "claimed",
            Evidence::Contradicted => "contradicted",
        })
    }
}

/// What one side of a comparison, or one verified bundle, rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Grounds {
    /// The references' bytes (their SHA-256s): derived from bundled corpus rows that the judged
    /// seeds were trained on, claimed when only a verdict names them.
    pub references: Evidence,
    /// The corpus the judged seeds were trained on: derived when its rows are at hand and hash
    /// to the seeds' `corpus_sha256`.
    pub corpus: Evidence,
    /// The judged seeds' results: derived when their LOSO files are at hand and give the verdict
    /// again, claimed when only a verdict file states them.
    pub judged_seeds: Evidence,
}

impl Grounds {
    /// Every fact claimed: a verdict file alone.
    pub const CLAIMED: Grounds = Grounds {
        references: Evidence::Claimed,
        corpus: Evidence::Claimed,
        judged_seeds: Evidence::Claimed,
    };

    /// The facts that are only claimed, by name.
    pub fn claimed(&self) -> Vec<&'static str> {
        [
            ("the references' bytes", self.references),
            ("the corpus trained on", self.corpus),
            ("the judged seeds", self.judged_seeds),
        ]
        .into_iter()
        .filter(|(_, e)| *e != Evidence::Derived)
        .map(|(name, _)| name)
        .collect()
    }

    /// Whether every fact is derived.
    pub fn proven(&self) -> bool {
        self.claimed().is_empty()
    }
}
