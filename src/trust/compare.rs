//! `compare`: the point of the whole exercise is an independent second verdict. Two results —
//! each a verdict file (the kit's or the reference kit's), a results bundle (verified first), or
//! a LOSO folder (the kit's or the reference's, judged here over the gate's seeds 0–4) — are
//! first matched as experiments (references by content, encoders, grid, frames, tools, recipe,
//! seeds), then given exactly one conclusion:
//!
//! - `CONFIRMS` (exit 0): the same references and recipe, the same verdict;
//! - `DISAGREES` (exit 1): the same experiment, another verdict, with what explains it (per
//!   source and per encoder PLCC, each side's stability, the inputs that differ);
//! - `NOT COMPARABLE` (exit 3): no reference in common, other reference sets, a shared name
//!   with other bytes, or another gate recipe.
//!
//! Every verdict file read is judged again from its own numbers first; one that contradicts
//! itself is refused (exit 2).

mod conclusion;
mod facts;
mod rejudge;
mod render;
mod side;

pub use conclusion::{compare, NAME_ONLY};
pub use rejudge::rejudge;
pub use side::{load, Side};

use super::owner_checks::OwnerChecks;
use crate::error::Result;
use crate::schema::CompareReport;
use camino::Utf8Path;

/// Compares two results, each read with the owner's checks given beside it (a bundle's signer
/// and request); returns the report (its `exit_code` is the process's) and its text.
pub fn run(sides: [(&Utf8Path, &OwnerChecks); 2]) -> Result<(CompareReport, String)> {
    let [(a_path, a_checks), (b_path, b_checks)] = sides;
    let (a, b) = (load(a_path, a_checks)?, load(b_path, b_checks)?);
    let report = compare(&a, &b);
    let text = render::render(&report, &a, &b);
    Ok((report, text))
}
