//! `report`: for CI systems, step outputs and a markdown table ([`ci_summary`]); for people,
//! with `--format html`, one self-contained page (`report.html`, inline SVG, no scripts, no
//! network): the verdict and the rule that decided it,
//! the judged seeds against the gate band, every fold of every seed, the worst fold's
//! predictions, and how stable the per-seed PLCC is over every seed file present.
//!
//! The page depends only on the files it reads (its time is the verdict's), so with
//! `SOURCE_DATE_EPOCH` its bytes are the same across `--jobs` and re-runs.

mod charts;
mod ci;
mod page;
mod results;

pub use ci::ci_summary;
pub use results::Results;

use crate::error::Result;
use crate::{atomic, layout};
use camino::{Utf8Path, Utf8PathBuf};

/// The page of `results`: what `report.html` must hold, byte for byte (`verify` renders it
/// again from a bundle's verdict and LOSO files and refuses a bundled page that differs).
pub fn render_html(results: &Results) -> Result<String> {
    page::render(results)
}

/// Writes `out_dir/report.html` and returns its path.
pub fn write_html(out_dir: &Utf8Path) -> Result<Utf8PathBuf> {
    let html = render_html(&Results::read(out_dir)?)?;
    let path = out_dir.join(layout::REPORT);
    atomic::write(&path, html.as_bytes())?;
    Ok(path)
}
