//! The corpus stage: references in, a validated shard out (SPEC §2–§5).
//!
//! Plan the cells (source × encoder × cq), reuse every cell the store already holds, run the
//! rest in parallel under the thread budget, and write the shard plus its provenance
//! (`NAME.meta.json`) atomically. A failed cell fails the run unless allowed, and every finished
//! cell stays in the store so that a re-run resumes.

pub mod audit_cells;
pub mod cache;
pub mod cell;
pub mod demo;
pub mod frames;
pub mod grid;
pub mod identity;

pub use grid::{Grid, Plan, References, DEFAULT_CQS};

use crate::error::{Error, Result};
use crate::host::tools::{ffmpeg, vmaf, Toolset};
use crate::progress::Progress;
use crate::schema::{
    self, CellSummary, CorpusRow, Document, FailedCell, Platform, ProgressEvent, ScoringBackend,
    ShardMeta, ShardSettings, ShardTools, SCHEMA_VERSION,
};
use crate::{atomic, budget, digest, timestamp};
use cache::CellStore;
use camino::{Utf8Path, Utf8PathBuf};
use cell::Cell;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Everything a corpus run is asked to do.
#[derive(Debug, Clone)]
pub struct CorpusRequest {
    /// The cells to score.
    pub grid: Grid,
    /// The shard to write (`*.jsonl`).
    pub out: Utf8PathBuf,
    /// Cells at once.
    pub jobs: Option<usize>,
    /// Threads per cell.
    pub threads: Option<usize>,
    /// Write the shard even if cells failed, listing them in the metadata.
    pub allow_failed_cells: bool,
    /// The cell store; `OUT.cells/` beside the shard when `None`.
    pub cell_dir: Option<Utf8PathBuf>,
    /// Replace a shard from another run at `out`.
    pub force: bool,
    /// Cells whose bitstreams are kept in `OUT.audit/` (see [`audit_cells`]).
    pub audit_cells: usize,
}

/// The companion metadata file of a shard: `x/shard.jsonl` → `x/shard.meta.json`.
pub fn meta_path(shard: &Utf8Path) -> Utf8PathBuf {
    shard.with_extension("meta.json")
}

/// Runs the corpus stage and returns the written shard's metadata.
pub fn run(
    request: &CorpusRequest,
    tools: &Toolset,
    platform: &Platform,
    progress: &Progress,
) -> Result<ShardMeta> {
    let out = &request.out;
    if out.extension() != Some("jsonl") {
        return Err(Error::Input(format!(
            "--out `{out}` must name a .jsonl file (the shard)"
        )));
    }
    audit_cells::check_count(request.audit_cells).map_err(Error::Input)?;
    check_writable(out)?;
    let _writing = atomic::lock_exclusive(&output_lock(out), || {
        format!("another ensemble-kit run is writing the shard `{out}`; wait for it to finish or choose another --out")
    })?;
    let plan = request.grid.plan(&tools.ffmpeg.path, platform, progress)?;
    check_encoders(tools, &plan.encoders, progress)?;
    let (jobs, threads) = budget::split(request.jobs, request.threads)?;
    let backend = scoring_backend(tools, platform, progress);

    let cells = plan.cells(backend);
    let keyed: Vec<(Cell, String, schema::CellKeyInputs)> = cells
        .into_iter()
        .map(|cell| {
            let inputs = cell.key_inputs(tools, threads)?;
            Ok((cell, CellStore::key(&inputs), inputs))
        })
        .collect::<Result<_>>()?;
    let plan_id = digest::sha256_bytes(
        keyed
            .iter()
            .map(|(_, k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join("\n")
            .as_bytes(),
    );
    check_not_in_the_way(out, &plan_id, request.force)?;

    let store_dir = request
        .cell_dir
        .clone()
        .unwrap_or_else(|| out.with_extension("cells"));
    let store = CellStore::open(&store_dir)?;
    progress.info(&format!(
        "{} sources × {} encoders × {} cqs = {} cells; {jobs} at a time, {threads} thread(s) each; cell store {store_dir}",
        plan.sources.len(),
        plan.encoders.len(),
        plan.cqs.len(),
        keyed.len()
    ));

    let pool = budget::pool(jobs)?;
    let done = AtomicUsize::new(0);
    let total = keyed.len();
    progress.stage_start("corpus", Some(total as u64));
    let outcomes: Vec<std::result::Result<CellSummary, FailedCell>> = pool.install(|| {
        keyed
            .par_iter()
            .map(|(cell, key, inputs)| {
                let outcome = finish_cell(&store, tools, threads, cell, key, inputs, progress);
                let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                let status = match &outcome {
                    Ok((_, true)) => "reused",
                    Ok((_, false)) => "done",
                    Err(_) => "failed",
                };
                match &outcome {
                    Ok((summary, _)) => progress.info(&format!(
                        "cell {n}/{total} {} {status}: {} frames",
                        cell.label(),
                        summary.rows
                    )),
                    Err(e) => {
                        progress.warn(&format!("cell {n}/{total} {} FAILED: {e}", cell.label()))
                    }
                }
                progress.advance(&cell.label());
                progress.event(
                    ProgressEvent::new("cell")
                        .stage("corpus")
                        .count(n as u64, total as u64)
                        .item(&cell.label())
                        .status(status),
                );
                outcome.map(|(summary, _)| summary).map_err(|e| FailedCell {
                    src: cell.source.name.clone(),
                    encoder: cell.encoder.clone(),
                    cq: cell.cq,
                    error: e.to_string(),
                })
            })
            .collect()
    });
    progress.stage_finish("corpus");
    let (finished, failed): (Vec<_>, Vec<_>) = outcomes.into_iter().partition(|o| o.is_ok());
    let finished: Vec<CellSummary> = finished
        .into_iter()
        .map(|o| o.expect("partitioned"))
        .collect();
    let failed: Vec<FailedCell> = failed
        .into_iter()
        .map(|o| o.expect_err("partitioned"))
        .collect();
    if !failed.is_empty() && !request.allow_failed_cells {
        let details = failed
            .iter()
            .map(|f| {
                format!(
                    "--- cell {}/{}/cq{} ---\n{}",
                    f.src, f.encoder, f.cq, f.error
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        return Err(Error::CellsFailed {
            count: failed.len(),
            details,
        });
    }

    // Someone may have written `out` while the cells ran: apply the no-clobber rule again.
    check_not_in_the_way(out, &plan_id, request.force)?;
    write_shard(out, &store, &finished)?;
    let shard_sha256 = digest::sha256_file(out)?;
    let rows_sha256 = identity::shard_rows_sha256(out)?;
    let audit_cells = audit_cells::keep(
        out,
        &rows_sha256,
        &store,
        &finished,
        &plan.sources,
        request.audit_cells,
    )?;
    let meta = ShardMeta {
        kind: ShardMeta::SCHEMA.into(),
        schema_version: SCHEMA_VERSION,
        kit_version: schema::kit_version().into(),
        created_at_utc: timestamp::now_utc()?,
        plan_id,
        shard_file: out.file_name().expect("checked .jsonl name").into(),
        shard_sha256,
        rows_sha256: Some(rows_sha256),
        n_rows: finished.iter().map(|c| c.rows).sum(),
        platform: platform.clone(),
        tools: ShardTools {
            ffmpeg: tools.ffmpeg.clone(),
            vmaf: tools.vmaf.clone(),
        },
        settings: ShardSettings {
            encoders: plan.encoders.clone(),
            cqs: plan.cqs.clone(),
            frames_per_source: plan.frames,
            vmaf_model: vmaf::MODEL.into(),
            threads_per_job: threads,
            allow_failed_cells: request.allow_failed_cells,
            scoring_backend: backend,
            audit_cells: request.audit_cells,
        },
        encoder_argv: encoder_argv(&keyed),
        ref_dir: plan.ref_dir.to_string(),
        sources: plan.sources,
        cells: finished,
        failed_cells: failed,
        audit_cells,
    };
    atomic::write_json(&meta_path(out), &meta)?;
    progress.info(&format!(
        "wrote {} rows to {out} (+ {})",
        meta.n_rows,
        meta_path(out)
    ));
    Ok(meta)
}

/// Loads a finished cell from the store, or runs and stores it. Returns whether it was reused.
fn finish_cell(
    store: &CellStore,
    tools: &Toolset,
    threads: usize,
    cell: &Cell,
    key: &str,
    inputs: &schema::CellKeyInputs,
    progress: &Progress,
) -> Result<(CellSummary, bool)> {
    let summary = |record: &schema::CellRecord| CellSummary {
        src: cell.source.name.clone(),
        encoder: cell.encoder.clone(),
        cq: cell.cq,
        key: key.to_owned(),
        rows: record.rows.len() as u64,
        enc_bytes: record.enc_bytes,
    };
    match store.load(key) {
        Ok(Some(record)) => return Ok((summary(&record), true)),
        Ok(None) => {}
        Err(e) => progress.warn(&format!(
            "stored cell {} is unusable and will be recomputed: {e}",
            cell.label()
        )),
    }
    if progress.verbosity() >= crate::progress::Verbosity::Verbose {
        for line in cell.command_lines(tools, threads, &store.scratch(), key)? {
            progress.detail(&format!("cell {}: {line}", cell.label()));
        }
    }
    let (record, encoded) = cell.run(tools, threads, key, inputs.clone(), &store.scratch())?;
    store.save(&record, &encoded)?;
    Ok((summary(&record), false))
}

/// Streams the rows of every finished cell, in plan order, into the shard (atomically). With
/// `SOURCE_DATE_EPOCH` set, `enc_time_ms` is written as 0 so the shard is byte-reproducible.
fn write_shard(out: &Utf8Path, store: &CellStore, cells: &[CellSummary]) -> Result<()> {
    let pinned = timestamp::pinned();
    atomic::write_with(out, |w| {
        for cell in cells {
            let record = store
                .load(&cell.key)
                .map_err(std::io::Error::other)?
                .ok_or_else(|| {
                    std::io::Error::other(format!("cell {} vanished from the store", cell.key))
                })?;
            for row in &record.rows {
                let timing = if pinned { 0 } else { row.enc_time_ms };
                serde_json::to_writer(
                    &mut *w,
                    &CorpusRow {
                        enc_time_ms: timing,
                        ..row.clone()
                    },
                )?;
                w.write_all(b"\n")?;
            }
        }
        Ok(())
    })
}

fn encoder_argv(
    keyed: &[(Cell, String, schema::CellKeyInputs)],
) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let mut map: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for (cell, _, inputs) in keyed {
        map.entry(cell.encoder.clone())
            .or_default()
            .entry(cell.cq.to_string())
            .or_insert_with(|| inputs.encode_argv.clone());
    }
    map
}

/// CUDA scoring on a box with an NVIDIA GPU and a CUDA build of libvmaf; otherwise the CPU,
/// with a warning when the box has a GPU that this `vmaf` cannot use.
fn scoring_backend(tools: &Toolset, platform: &Platform, progress: &Progress) -> ScoringBackend {
    if !platform.has_nvidia {
        return ScoringBackend::Cpu;
    }
    if vmaf::supports_cuda(&tools.vmaf.path) {
        progress.info("scoring on the GPU (CUDA build of libvmaf, --gpumask 0)");
        ScoringBackend::Cuda
    } else {
        progress.warn(&format!(
            "this box has an NVIDIA GPU but `{}` (libvmaf {}) was built without CUDA; scoring on the CPU",
            tools.vmaf.path, tools.vmaf.version
        ));
        ScoringBackend::Cpu
    }
}

fn check_encoders(tools: &Toolset, encoders: &[String], progress: &Progress) -> Result<()> {
    for encoder in encoders {
        ffmpeg::family(encoder)?;
    }
    let listed = ffmpeg::list_encoders(&tools.ffmpeg.path)?;
    for encoder in encoders {
        ffmpeg::check_usable(&tools.ffmpeg.path, encoder, &listed)?;
        progress.detail(&format!(
            "encoder {encoder}: listed and a trial encode works"
        ));
    }
    Ok(())
}

/// The lock file that keeps two runs from writing one shard: `x/.shard.jsonl.lock` (hidden, so
/// never bundled).
fn output_lock(out: &Utf8Path) -> Utf8PathBuf {
    out.with_file_name(format!(
        ".{}.lock",
        out.file_name().expect("checked .jsonl name")
    ))
}

/// Fails early, before any work, when the shard's folder cannot be written.
fn check_writable(out: &Utf8Path) -> Result<()> {
    let parent = out
        .parent()
        .filter(|p| !p.as_str().is_empty())
        .unwrap_or(Utf8Path::new("."));
    let unwritable = |e: std::io::Error| {
        Error::Input(format!(
            "cannot write the shard `{out}`: {e}; choose a writable --out"
        ))
    };
    std::fs::create_dir_all(parent).map_err(unwritable)?;
    tempfile::Builder::new()
        .prefix(".ensemble-kit-probe")
        .tempfile_in(parent)
        .map_err(unwritable)?;
    if out.is_dir() {
        return Err(Error::Input(format!(
            "--out `{out}` is a folder; name a .jsonl file"
        )));
    }
    Ok(())
}

/// Refuses to overwrite a shard that another plan produced (unless `--force`).
fn check_not_in_the_way(out: &Utf8Path, plan_id: &str, force: bool) -> Result<()> {
    if force || !out.exists() {
        return Ok(());
    }
    let meta = meta_path(out);
    let theirs: Option<ShardMeta> = schema::read_json(&meta).ok();
    match theirs {
        Some(m) if m.plan_id == plan_id => Ok(()),
        _ => Err(Error::Input(format!(
            "`{out}` already holds a shard from another run (different sources, encoders, cqs, frames or tools); \
             choose another --out, or pass --force to replace it"
        ))),
    }
}
