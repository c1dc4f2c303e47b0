//! `full`: doctor → corpus → train → verdict → (PROMOTE) export → report → bundle, in one
//! process, in one results folder:
//!
//! the layout `layout` describes (the shard's cell store `corpus/shard.cells/` is never
//! bundled). A folder the kit did not create, and that is not empty, is refused, and one run at
//! a time holds the folder's lock (`layout::lock`, as every writer of a results folder does).
//!
//! A re-run with the same arguments resumes: finished cells and seeds are reused through their
//! content keys, so only unfinished work runs; a changed argument changes exactly the keys that
//! depend on it. Leftovers of the layout a new run would not produce (other seeds, models after
//! a HOLD, older bundles) are removed so that only this run's verdict decides the bundle; files
//! outside the layout are never touched.

use crate::error::{Error, Result};
use crate::host::tools::{ToolOverrides, Toolset};
use crate::ingest::corpus::{self, CorpusRequest, Grid};
use crate::ingest::sources::{self, request::RequestFile};
use crate::learn::train::{self, Recipe};
use crate::progress::Progress;
use crate::schema::{LosoSeed, Platform, ProgressEvent, VerdictFile};
use crate::{
    deliver::bundle, deliver::export, deliver::report, host::doctor, ingest::merge, layout,
    learn::further_seeds, learn::gate,
};
use camino::{Utf8Path, Utf8PathBuf};

/// Everything `full` is asked to do.
#[derive(Debug, Clone)]
pub struct FullRequest {
    /// The cells to score, or `None` when `corpus` shards are given instead.
    pub grid: Option<Grid>,
    /// Ready shards to train on (skips the corpus stage).
    pub corpus: Vec<Utf8PathBuf>,
    /// Cells or folds at once.
    pub jobs: Option<usize>,
    /// Threads per cell.
    pub threads: Option<usize>,
    /// Keep going past failed cells.
    pub allow_failed_cells: bool,
    /// What merging the shards may tolerate.
    pub merge_rules: merge::MergeRules,
    /// Seeds the gate judges.
    pub seeds: Vec<u64>,
    /// Further seeds trained for the stability estimate (a count or `auto`).
    pub further_seeds: further_seeds::FurtherSeeds,
    /// Training recipe.
    pub recipe: Recipe,
    /// The results folder.
    pub out_dir: Utf8PathBuf,
    /// Ensemble id of exported models.
    pub ensemble_id: String,
    /// The cell store (default: beside the shard).
    pub cell_dir: Option<Utf8PathBuf>,
    /// Boxes whose shards did not arrive, for the verdict.
    pub missing_boxes: Vec<String>,
    /// Audit cells kept per shard.
    pub audit_cells: usize,
    /// Signs the bundle's manifest (`full --sign`), if given.
    pub signer: Option<crate::deliver::signing::Signer>,
    /// The owner's request this run answers (`full --request`), if any: bundled as
    /// `request.json`.
    pub answers: Option<RequestFile>,
}

/// What `full` produced.
#[derive(Debug, Clone)]
pub struct FullOutcome {
    /// The verdict.
    pub verdict: VerdictFile,
    /// Per-seed LOSO results.
    pub seeds: Vec<LosoSeed>,
    /// The bundle.
    pub bundle: Utf8PathBuf,
}

/// Removes files of the layout that this run would not write (listed by [`layout::stale_files`]).
fn remove_all(files: Vec<Utf8PathBuf>) -> Result<()> {
    for file in files {
        match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(&file, e)),
            _ => {}
        }
    }
    Ok(())
}

/// Removes the audit bitstreams of shards no longer in the corpus folder, so they do not travel
/// in this run's bundle.
fn remove_orphan_audit_cells(corpus_dir: &Utf8Path) -> Result<()> {
    if !layout::own_folder(corpus_dir)? {
        return Ok(());
    }
    for entry in corpus_dir
        .read_dir_utf8()
        .map_err(|e| Error::io(corpus_dir, e))?
    {
        let entry = entry.map_err(|e| Error::io(corpus_dir, e))?;
        let audit_dir = entry.path();
        if layout::is_audit_folder(entry.file_name()) && !audit_dir.with_extension("jsonl").exists()
        {
            remove_all(layout::stale_files(
                audit_dir,
                crate::layout::is_audit_file,
                |_| false,
            )?)?;
        }
    }
    Ok(())
}

/// Runs the whole pipeline.
pub fn run(
    request: &FullRequest,
    overrides: &ToolOverrides,
    platform: &Platform,
    progress: &Progress,
) -> Result<FullOutcome> {
    let out = &layout::resolve_root(&request.out_dir, "--out-dir")?;
    if let Some(grid) = &request.grid {
        if let Some(dir) = grid.references.dir() {
            // The verdict lists every file below --ref-dir: a name it cannot list must stop
            // the run now, not after the encoding and training.
            crate::walk::below(dir)?;
            if let Some(asked) = &request.answers {
                sources::request::check_sources(asked, &sources::discover(dir, grid.geometry)?)?;
            }
        }
    }
    // Checked before the lock (a foreign folder is refused untouched), claimed under it (two
    // runs racing for a new folder: one of them writes it).
    layout::check_claim(out)?;
    let _writing = layout::lock::writing(out, progress)?;
    layout::claim(out)?;
    let possible = further_seeds::with_further_seeds(&request.seeds, request.further_seeds.most())?;
    let shards = match &request.grid {
        Some(grid) => {
            progress.info("stage 1/6 doctor");
            let report = doctor::run(
                &doctor::DoctorRequest {
                    encoders: grid.encoders.clone(),
                    ref_dir: grid.references.dir().map(Utf8Path::to_owned),
                    out_dir: out.clone(),
                    jobs: request.jobs.unwrap_or_else(crate::budget::cores),
                },
                overrides,
                platform,
            );
            if !report.ok {
                return Err(Error::Environment(format!(
                    "doctor found problems:\n{}",
                    doctor::render(&report)
                )));
            }
            progress.info("stage 2/6 corpus");
            let tools = Toolset::locate(overrides)?;
            let shard = out.join(layout::SHARD);
            let corpus_request = CorpusRequest {
                grid: grid.clone(),
                out: shard.clone(),
                jobs: request.jobs,
                threads: request.threads,
                allow_failed_cells: request.allow_failed_cells,
                cell_dir: request.cell_dir.clone(),
                force: true,
                audit_cells: request.audit_cells,
            };
            corpus::run(&corpus_request, &tools, platform, progress)?;
            vec![shard]
        }
        None => {
            // This run scores nothing: a shard of an earlier run must not travel in its bundle
            // (unless it is one of the shards this run trains on).
            let corpus_dir = out.join(layout::CORPUS);
            let given: Vec<std::path::PathBuf> = request
                .corpus
                .iter()
                .flat_map(|shard| [shard.clone(), corpus::meta_path(shard)])
                .filter_map(|f| std::fs::canonicalize(f).ok())
                .collect();
            remove_all(layout::stale_files(
                &corpus_dir,
                layout::is_corpus_file,
                |name| {
                    std::fs::canonicalize(corpus_dir.join(name)).is_ok_and(|f| given.contains(&f))
                },
            )?)?;
            remove_orphan_audit_cells(&corpus_dir)?;
            request.corpus.clone()
        }
    };
    let mut corpus = merge::load(&shards, request.merge_rules)?;
    if let (Some(asked), None) = (&request.answers, &request.grid) {
        // Shards bring their sources' hashes in their rows (checked against their metadata).
        let found = corpus
            .rows
            .sources()
            .iter()
            .map(|(name, sha256)| {
                let found = sources::request::Found {
                    sha256,
                    geometry: None,
                };
                (name.as_str(), found)
            })
            .collect();
        sources::request::check(asked, &found)?;
    }
    // The request this run answers travels in its bundle; an earlier run's must not.
    let request_file = out.join(layout::REQUEST);
    match &request.answers {
        Some(asked) => crate::atomic::write(&request_file, &asked.bytes)?,
        None => remove_all(vec![request_file])?,
    }
    if request.grid.is_some() {
        // The shard is this folder's own: name it so that the results do not depend on where
        // the folder is.
        corpus.label = layout::SHARD.into();
    }

    progress.info("stage 3/6 train");
    let loso_dir = out.join(layout::LOSO);
    let remove_seeds_but = |kept: &[u64]| {
        remove_all(layout::stale_files(
            &loso_dir,
            |name| layout::seed_of(name).is_some(),
            |name| layout::seed_of(name).is_some_and(|s| kept.contains(&s)),
        )?)
    };
    remove_seeds_but(&possible)?;
    // The dataset lives only while the seeds train.
    let trained = {
        let data = train::Dataset::new(&corpus)?;
        further_seeds::train_further(&request.seeds, request.further_seeds, progress, |seeds| {
            let train_request = train::TrainRequest {
                out_dir: loso_dir.clone(),
                seeds: seeds.to_vec(),
                recipe: request.recipe,
                jobs: request.jobs,
            };
            train::run(&train_request, &corpus, &data, progress)
        })?
    };
    // Seeds an earlier, longer `auto` run left must not join this run's estimate.
    remove_seeds_but(&trained.iter().map(|s| s.seed).collect::<Vec<_>>())?;

    progress.info("stage 4/6 verdict");
    let corpus_root = request
        .grid
        .as_ref()
        .and_then(|grid| grid.references.dir())
        .map(Utf8Path::to_owned);
    let verdict_request = gate::VerdictRequest {
        loso_dir: loso_dir.clone(),
        seeds: request.seeds.clone(),
        corpus_root,
        out_dir: Some(out.clone()),
        missing_boxes: request.missing_boxes.clone(),
        corpus: shards.clone(),
    };
    let (verdict, _, seeds) = gate::run(&verdict_request)?;
    progress.event(ProgressEvent {
        plcc: Some(verdict.gate.mean_plcc),
        spread: Some(verdict.gate.plcc_spread),
        ..ProgressEvent::new("verdict")
            .stage("verdict")
            .status(verdict.verdict.as_str())
    });

    let models = out.join(layout::MODELS);
    remove_all(layout::stale_files(&models, layout::is_model_file, |_| {
        false
    })?)?;
    if verdict.gate.passed {
        progress.info("stage 5/6 export");
        let export_request = export::ExportRequest {
            out_dir: models,
            verdict: out.join(layout::PROMOTE),
            seeds: Some(request.seeds.clone()),
            ensemble_id: request.ensemble_id.clone(),
            recipe: request.recipe,
            jobs: request.jobs,
        };
        export::run(&export_request, &corpus, progress)?;
    } else {
        progress.info("stage 5/6 export skipped: the gate said HOLD");
    }

    let page = report::write_html(out)?;
    progress.info(&format!("report: {page}"));

    progress.info("stage 6/6 bundle");
    remove_all(layout::stale_files(out, layout::is_bundle, |_| false)?)?;
    let (_, bundle_path) = bundle::run(out, request.signer.as_ref())?;
    progress.event(
        ProgressEvent::new("bundle")
            .stage("bundle")
            .item(bundle_path.as_str())
            .status(verdict.verdict.as_str()),
    );
    Ok(FullOutcome {
        verdict,
        seeds,
        bundle: bundle_path,
    })
}

/// The one screen printed at the end. Its last sentence says what is left after what `full`
/// did (it exported and bundled already), not what is left after a bare `verdict`.
pub fn summary(outcome: &FullOutcome) -> String {
    let v = &outcome.verdict;
    let left = gate::recommendation(
        &v.gate,
        &v.fold_diagnosis,
        v.stability.as_ref(),
        gate::NextStep::Send(&outcome.bundle),
    );
    format!(
        "{}bundle: {}\nverify it with: ensemble-kit verify {}\n",
        gate::summary_ending(v, &outcome.seeds, &left),
        outcome.bundle,
        outcome.bundle
    )
}
