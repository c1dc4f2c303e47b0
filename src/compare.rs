//! `compare`: the point of the whole exercise is an independent second verdict. Two verdict
//! files (or results bundles, verified first) side by side: agree or disagree, per-seed PLCC,
//! and the differences in mean PLCC and spread.

use crate::archive;
use crate::bundle;
use crate::error::{Error, Result};
use crate::schema::{self, Verdict};
use camino::Utf8Path;
use std::collections::BTreeSet;

/// Reads the verdict of a verdict file, or of a bundle after verifying it.
pub fn load(path: &Utf8Path) -> Result<Verdict> {
    if !path.is_file() {
        return Err(Error::Input(format!(
            "`{path}` does not exist; give a PROMOTE.json/HOLD.json or a results bundle"
        )));
    }
    if !path.as_str().ends_with(".tar.gz") {
        return schema::read_json(path, "verdict");
    }
    bundle::verify(path, None)?;
    let mut found = None;
    archive::for_each_file(path, |name, reader| {
        if matches!(name.file_name(), Some("PROMOTE.json" | "HOLD.json")) {
            let bytes = archive::read_member(path, name, reader)?;
            found = Some(schema::parse_checked(
                &bytes,
                &archive::member_label(path, name),
                "verdict",
            )?);
        }
        Ok(())
    })?;
    found.ok_or_else(|| Error::Input(format!("{path} holds no PROMOTE.json or HOLD.json")))
}

/// Compares two verdicts; returns whether they agree and the report to print.
pub fn run(a_path: &Utf8Path, b_path: &Utf8Path) -> Result<(bool, String)> {
    let (a, b) = (load(a_path)?, load(b_path)?);
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
