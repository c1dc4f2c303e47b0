//! The owner's re-checks of a shipped bundle: all he asks of one bundle, extracted only when
//! every check passed (`owner_checks`), two results compared as experiments (`compare`),
//! the audit cells re-scored against the owner's own references (`audit`, `verify --audit`),
//! every seed and model trained again to the same bytes (`retrain`, `verify --retrain`), and
//! the shipped ensemble run in an ONNX runtime on a corpus (`evaluate`), and — after all the
//! owner asked for passed — the members installed into the vmaf fork's model folder
//! (`install`).
//!
//! Takes in bundles, verdict files or LOSO folders from the `deliver` stage (read only through
//! `deliver::verify`) and, for the audit, the owner's references; hands on a conclusion with
//! an exit code: what the owner may rely on.

pub mod audit;
pub mod compare;
pub mod evaluate;
pub mod install;
pub mod owner_checks;
pub mod retrain;
