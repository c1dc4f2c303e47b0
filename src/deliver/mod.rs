//! What a verdict hands on: after a PROMOTE, the full-corpus fit per seed as ONNX models with
//! their sidecars (`export`); the results as CI outputs, markdown or a self-contained page
//! (`report`); the signature of the manifest (`signing`); the one reader of a bundle, which
//! checks every member and re-judges its verdict (`verify`); and the deterministic, signed,
//! self-checked bundle itself (`bundle`).
//!
//! Takes in the `learn` stage's verdict and LOSO files and the corpus they were trained on;
//! hands on `ensemble-results-<UTC>.tar.gz`, which `trust` re-checks on the owner's side.
//! `verify` sits here, not in `trust`, because `bundle` refuses to hand out what `verify`
//! would refuse, and `verify` re-renders the report: report < verify < bundle.

pub mod bundle;
pub mod export;
pub mod report;
pub mod signing;
pub mod verify;
