//! `compare`: the point of the whole exercise is an independent second verdict. Two verdict
//! files (or results bundles, verified first) side by side: agree or disagree, per-seed PLCC,
//! and the differences in mean PLCC and spread.

use crate::error::{Error, Result};
use crate::schema::{self, Verdict};
use crate::verify;
use camino::Utf8Path;
use std::collections::BTreeSet;

/// Reads the verdict of a verdict file, or of a bundle: the one verdict that the same read
/// checked against the bundle's manifest and LOSO files, bounded by `max_total_size`.
pub fn load(path: &Utf8Path, max_total_size: u64) -> Result<Verdict> {
    if !path.exists() || path.is_dir() {
        return Err(Error::Input(format!(
            "`{path}` does not exist; give a PROMOTE.json/HOLD.json or a results bundle"
        )));
    }
    if !path.as_str().ends_with(".tar.gz") {
        return schema::read_json(path, "verdict");
    }
    Ok(verify::verify(path, None, max_total_size)?.verdict)
}

/// Compares two verdicts; returns whether they agree and the report to print.
/// Bundles are read with the `max_total_size` cap.
pub fn run(a_path: &Utf8Path, b_path: &Utf8Path, max_total_size: u64) -> Result<(bool, String)> {
    let (a, b) = (load(a_path, max_total_size)?, load(b_path, max_total_size)?);
    let agree = a.verdict == b.verdict;
    let mut text = format!(
        "A: {a_path}\n   {} mean PLCC {:.5} spread {:.5}\nB: {b_path}\n   {} mean PLCC {:.5} spread {:.5}\n  seed        A        B   B − A\n",
        a.verdict, a.gate.mean_plcc, a.gate.plcc_spread, b.verdict, b.gate.mean_plcc, b.gate.plcc_spread
    );
    let seeds: BTreeSet<u64> = a.seeds.iter().chain(&b.seeds).copied().collect();
    for seed in seeds {
        let get = |v: &Verdict| v.gate.per_seed_plccs.get(&seed.to_string()).copied();
        let cell = |p: Option<f64>| p.map_or("      -".to_owned(), |p| format!("{p:.5}"));
        let delta = match (get(&a), get(&b)) {
            (Some(x), Some(y)) => format!("{:+.5}", y - x),
            _ => "-".to_owned(),
        };
        text.push_str(&format!(
            "  {seed:>4}  {}  {}  {delta}\n",
            cell(get(&a)),
            cell(get(&b))
        ));
    }
    text.push_str(&format!(
        "mean PLCC B − A: {:+.5}; spread B − A: {:+.5}\n{}\n",
        b.gate.mean_plcc - a.gate.mean_plcc,
        b.gate.plcc_spread - a.gate.plcc_spread,
        if agree {
            format!("AGREE: both {}", a.verdict)
        } else {
            format!("DISAGREE: A says {}, B says {}", a.verdict, b.verdict)
        }
    ));
    Ok((agree, text))
}
