//! What a corpus is made of — the references, the encoders, the quality levels and how many
//! frames of each source — and that grid resolved on this box into the cells to run.
//!
//! The command line builds a [`Grid`] once; `corpus`, `full` and `bench corpus` carry it and
//! resolve it the same way, so a flag such as `--cqs` means one thing everywhere.

use super::cell::Cell;
use super::demo;
use crate::error::{Error, Result};
use crate::host::tools::ffmpeg;
use crate::ingest::sources::{self, GeometryFlags};
use crate::progress::Progress;
use crate::schema::{Platform, ScoringBackend, Source};
use camino::{Utf8Path, Utf8PathBuf};

/// SPEC §3's default quality grid.
pub const DEFAULT_CQS: &[u32] = &[19, 25, 31, 37];

/// Where the references come from.
#[derive(Debug, Clone)]
pub enum References {
    /// `--ref-dir DIR`.
    Dir(Utf8PathBuf),
    /// `--demo`: the built-in clips of this many frames, rendered into this folder if missing.
    Demo(Utf8PathBuf, u64),
}

impl References {
    /// The operator's own folder, if the references are not the demo's (for `doctor`'s disk
    /// estimate and the verdict's corpus description).
    pub fn dir(&self) -> Option<&Utf8Path> {
        match self {
            References::Dir(dir) => Some(dir),
            References::Demo(..) => None,
        }
    }
}

/// The cells a corpus run is asked for, as the operator gave them.
#[derive(Debug, Clone)]
pub struct Grid {
    /// The references.
    pub references: References,
    /// Geometry for raw files without it in their names.
    pub geometry: GeometryFlags,
    /// Encoders; the platform's defaults when `None`.
    pub encoders: Option<Vec<String>>,
    /// Quality levels.
    pub cqs: Vec<u32>,
    /// Frames per source (from the start); all frames when `None`.
    pub frames: Option<u64>,
}

/// A grid resolved on this box: the references found and hashed, the encoders chosen and the
/// quality levels checked against them.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The folder the references are read from (the demo's rendered folder for `--demo`).
    pub ref_dir: Utf8PathBuf,
    /// The references, in name order.
    pub sources: Vec<Source>,
    /// Encoders.
    pub encoders: Vec<String>,
    /// Quality levels, sorted and distinct.
    pub cqs: Vec<u32>,
    /// Frames per source, checked to be at most every source's length.
    pub frames: Option<u64>,
}

impl Grid {
    /// Renders the demo references if asked, hashes the references and checks the grid's
    /// numbers; nothing is encoded yet.
    pub fn plan(
        &self,
        ffmpeg: &Utf8Path,
        platform: &Platform,
        progress: &Progress,
    ) -> Result<Plan> {
        let ref_dir = match &self.references {
            References::Dir(dir) => dir.clone(),
            References::Demo(dir, frames) => {
                progress.info(&format!("rendering the demo references into {dir}"));
                demo::ensure(ffmpeg, dir, *frames)?
            }
        };
        progress.info(&format!("hashing references in {ref_dir}"));
        let sources = sources::discover(&ref_dir, self.geometry)?;
        let frames = frames_per_source(&sources, self.frames)?;
        let encoders = self
            .encoders
            .clone()
            .unwrap_or_else(|| platform.default_encoders.clone());
        let cqs = checked_cqs(&self.cqs, &encoders)?;
        Ok(Plan {
            ref_dir,
            sources,
            encoders,
            cqs,
            frames,
        })
    }
}

impl Plan {
    /// Every (source, encoder, cq) cell, in source, encoder, cq order.
    pub fn cells(&self, backend: ScoringBackend) -> Vec<Cell<'_>> {
        let mut cells = Vec::new();
        for source in &self.sources {
            for encoder in &self.encoders {
                for &cq in &self.cqs {
                    cells.push(Cell {
                        source,
                        source_path: self.ref_dir.join(&source.file),
                        encoder: encoder.clone(),
                        cq,
                        frames: self.frames.unwrap_or(source.frames),
                        backend,
                    });
                }
            }
        }
        cells
    }
}

fn frames_per_source(sources: &[Source], frames: Option<u64>) -> Result<Option<u64>> {
    if let Some(wanted) = frames {
        if wanted == 0 {
            return Err(Error::Input("--frames must be at least 1".into()));
        }
        if let Some(short) = sources.iter().find(|s| s.frames < wanted) {
            return Err(Error::Input(format!(
                "source `{}` has only {} frames, fewer than --frames {wanted}; lower --frames or drop that source",
                short.file, short.frames
            )));
        }
    }
    Ok(frames)
}

fn checked_cqs(cqs: &[u32], encoders: &[String]) -> Result<Vec<u32>> {
    if cqs.is_empty() {
        return Err(Error::Input("--cqs needs at least one value".into()));
    }
    if encoders.is_empty() {
        return Err(Error::Input("--encoders needs at least one encoder".into()));
    }
    let mut sorted = cqs.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    for encoder in encoders {
        for &cq in &sorted {
            ffmpeg::check_cq(encoder, cq)?;
        }
    }
    Ok(sorted)
}
