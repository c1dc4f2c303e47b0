//! What the report shows, read from a results folder: the verdict and every seed file of the
//! LOSO folder it judged.

use crate::error::{Error, Result};
use crate::schema::{self, LosoSeed, VerdictFile};
use crate::{layout, learn::gate};
use camino::Utf8Path;

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
        let seeds = gate::seed_numbers(&loso_dir)?
            .into_iter()
            .map(|seed| gate::read_seed(&loso_dir, seed))
            .collect::<Result<Vec<_>>>()?;
        if let Some(missing) = verdict
            .seeds
            .iter()
            .find(|s| !seeds.iter().any(|l| l.seed == **s))
        {
            return Err(Error::Input(format!(
                "{path} judged seed {missing}, but {loso_dir} has no {}",
                layout::seed_file(*missing)
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
