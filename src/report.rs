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

pub use ci::ci_summary;

use crate::error::{Error, Result};
use crate::schema::{self, LosoSeed, VerdictFile};
use crate::{atomic, gate, layout};
use camino::{Utf8Path, Utf8PathBuf};

/// Everything the page shows, read from a results folder.
#[derive(Debug, Clone)]
pub struct Results {
    /// The verdict (`PROMOTE.json` or `HOLD.json`).
    pub verdict: VerdictFile,
    /// Every `loso_seed{N}.json` of the LOSO folder, by seed: the judged seeds and any extra
    /// stability seeds.
    pub seeds: Vec<LosoSeed>,
}

impl Results {
    /// Reads the verdict of `out_dir` and every seed file of the LOSO folder it judged.
    pub fn read(out_dir: &Utf8Path) -> Result<Results> {
        let path = layout::verdict_file(out_dir)?;
        let verdict: VerdictFile = schema::read_json(&path)?;
        if verdict.seeds.is_empty() {
            return Err(Error::Invalid {
                path,
                line: None,
                field: "/seeds".into(),
                message: "judges no seeds; there is nothing to report".into(),
            });
        }
        let loso_dir = gate::loso_dir_of(&path, &verdict);
        let mut numbers: Vec<u64> = loso_dir
            .read_dir_utf8()
            .map_err(|e| Error::io(&loso_dir, e))?
            .flatten()
            .filter_map(|e| layout::seed_of(e.file_name()))
            .collect();
        numbers.sort_unstable();
        let seeds = numbers
            .into_iter()
            .map(|seed| gate::read_seed(&loso_dir, seed))
            .collect::<Result<Vec<_>>>()?;
        if let Some(missing) = verdict
            .seeds
            .iter()
            .find(|s| !seeds.iter().any(|l| l.seed == **s))
        {
            return Err(Error::Input(format!(
                "{path} judged seed {missing}, but {loso_dir} has no loso_seed{missing}.json"
            )));
        }
        Ok(Results { verdict, seeds })
    }

    /// The judged seeds' files, in the verdict's order.
    pub fn judged(&self) -> Vec<&LosoSeed> {
        self.verdict
            .seeds
            .iter()
            .filter_map(|s| self.seeds.iter().find(|l| l.seed == *s))
            .collect()
    }
}

/// Writes `out_dir/report.html` and returns its path.
pub fn write_html(out_dir: &Utf8Path) -> Result<Utf8PathBuf> {
    let html = page::render(&Results::read(out_dir)?)?;
    let path = out_dir.join(layout::REPORT);
    atomic::write(&path, html.as_bytes())?;
    Ok(path)
}
