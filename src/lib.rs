//! ensemble-kit: retrain and independently re-verify a VMAF regressor ensemble on your own
//! hardware, as one reproducible command.
//!
//! The data flows through one module per stage — `platform`, `sources`, `corpus`, … — each a
//! function from typed inputs to typed outputs, callable alone (a subcommand) and from the
//! pipeline. `tools` owns the external programs, `schema` every on-disk type, `error` every
//! message. This file only wires the command line to the stages.

pub mod archive;
pub mod atomic;
pub mod bench;
pub mod budget;
pub mod bundle;
pub mod cli;
pub mod compare;
pub mod corpus;
pub mod digest;
pub mod distribution;
pub mod doctor;
pub mod error;
pub mod export;
pub mod gate;
pub mod import;
pub mod layout;
pub mod libvmaf;
pub mod merge;
pub mod pipeline;
pub mod platform;
pub mod progress;
pub mod report;
pub mod schema;
pub mod sources;
pub mod stability;
pub mod stats;
pub mod strict_json;
pub mod timestamp;
pub mod tools;
pub mod train;
pub mod transport;
pub mod verify;

use camino::{Utf8Path, Utf8PathBuf};
use cli::{Cli, Command, GridArgs, ReferenceArgs};
use error::{Error, Result};
use progress::{Progress, Verbosity};
use tools::{ToolOverrides, Toolset};

/// Runs one parsed command line and returns the process exit code (0 ok/PROMOTE, 1 HOLD).
pub fn run(cli: Cli) -> Result<i32> {
    let verbosity = match (cli.quiet, cli.verbose) {
        (true, _) => Verbosity::Quiet,
        (_, true) => Verbosity::Verbose,
        _ => Verbosity::Normal,
    };
    let progress = Progress::new(verbosity, cli.message_format == "json");
    let overrides = ToolOverrides {
        ffmpeg: cli.ffmpeg,
        vmaf: cli.vmaf,
    };
    match cli.command {
        Command::Platform { json } => {
            let platform = platform::detect()?;
            if json {
                print_json(&platform);
            } else {
                print!("{}", platform::describe(&platform));
            }
            Ok(0)
        }
        Command::Doctor(args) => {
            let platform = platform::detect()?;
            let (jobs, _) = budget::split(None, None)?;
            let request = doctor::DoctorRequest {
                encoders: args.encoders,
                ref_dir: args.ref_dir,
                out_dir: args.out_dir,
                jobs,
            };
            let report = doctor::run(&request, &overrides, &platform);
            if args.json {
                print_json(&report);
            } else {
                print!("{}", doctor::render(&report));
            }
            Ok(if report.ok { 0 } else { 2 })
        }
        Command::Corpus(args) => {
            let platform = platform::detect()?;
            let tools = Toolset::locate(&overrides)?;
            let request = corpus::CorpusRequest {
                references: references(&args.references, &args.out)?,
                geometry: geometry(&args.grid),
                out: args.out,
                encoders: args.grid.encoders,
                cqs: args.grid.cqs,
                jobs: args.grid.jobs,
                threads: args.grid.threads,
                frames: args.grid.frames,
                allow_failed_cells: args.allow_failed_cells,
                cell_dir: args.cell_dir,
                force: args.force,
            };
            corpus::run(&request, &tools, &platform, &progress)?;
            Ok(0)
        }
        Command::Train(args) => {
            let corpus = merge::load(&args.shards.corpus, args.shards.rules.rules())?;
            let request = train::TrainRequest {
                out_dir: args.out_dir,
                seeds: stability::with_further_seeds(&args.seeds.seeds, args.stability)?,
                recipe: recipe(&args.recipe),
                jobs: args.recipe.jobs,
            };
            let seeds = train::run(&request, &corpus, &progress)?;
            for s in &seeds {
                progress.info(&format!(
                    "seed {}: mean PLCC {} (ridge baseline {})",
                    s.seed,
                    s.mean_plcc
                        .map_or("undefined".into(), |p| format!("{p:.4}")),
                    s.baseline_mean_plcc
                        .map_or("undefined".into(), |p| format!("{p:.4}"))
                ));
            }
            if seeds.len() > 1 && verdict_visible(&progress) {
                progress::to_stderr(&format!(
                    "per source, over seeds {:?}:\n{}",
                    request.seeds,
                    stability::render_diagnosis(&stability::diagnose(&seeds))
                ));
            }
            Ok(0)
        }
        Command::Verdict(args) => {
            let request = gate::VerdictRequest {
                loso_dir: args.loso_dir,
                seeds: args.seeds.seeds,
                corpus_root: args.corpus_root,
                out_dir: args.out_dir,
                missing_boxes: Vec::new(),
            };
            let (verdict, path, seeds) = gate::run(&request)?;
            if verdict_visible(&progress) {
                progress::to_stderr(&gate::summary(&verdict, &seeds));
            }
            progress.info(&format!("wrote {path}"));
            Ok(if verdict.gate.passed { 0 } else { 1 })
        }
        Command::Export(args) => {
            let corpus = merge::load(&args.shards.corpus, args.shards.rules.rules())?;
            let request = export::ExportRequest {
                out_dir: args.out_dir,
                verdict: args.verdict,
                seeds: args.seeds,
                ensemble_id: args.ensemble_id,
                recipe: recipe(&args.recipe),
                jobs: args.recipe.jobs,
            };
            export::run(&request, &corpus, &progress)?;
            Ok(0)
        }
        Command::Bundle { out_dir } => {
            let (manifest, path) = bundle::run(&out_dir)?;
            progress.info(&format!(
                "{}: {} files, verdict {}",
                path, manifest.n_files, manifest.verdict
            ));
            println!("{path}");
            Ok(0)
        }
        Command::Verify {
            bundle: path,
            extract,
            cap,
        } => {
            let verified = verify::verify(&path, extract.as_deref(), cap.max_total_size)?;
            println!(
                "{path}: ok ({} files match the manifest; verdict {})",
                verified.files, verified.manifest.verdict
            );
            if let Some(dir) = extract {
                println!("extracted into {dir}");
            }
            Ok(0)
        }
        Command::Compare { a, b, cap } => {
            let (agree, report) = compare::run(&a, &b, cap.max_total_size)?;
            print!("{report}");
            Ok(if agree { 0 } else { 1 })
        }
        Command::PackCorpus {
            ref_dir,
            out,
            width,
            height,
            fps,
        } => {
            let ffmpeg = tools::locate_ffmpeg(&overrides)?;
            let geometry = sources::GeometryFlags { width, height, fps };
            let manifest = transport::pack(&ffmpeg, &ref_dir, geometry, &out, &progress)?;
            println!("{out}: {} reference(s)", manifest.rows.len());
            Ok(0)
        }
        Command::ExtractCorpus {
            archive,
            to,
            force,
            max_total_size,
        } => {
            let ffmpeg = tools::locate_ffmpeg(&overrides)?;
            let request = transport::ExtractRequest {
                archive,
                to: to.clone(),
                force,
                max_total_size,
            };
            let (restored, skipped) = transport::extract(&ffmpeg, &request, &progress)?;
            println!("{to}: {restored} restored, {skipped} already present; every sha256 verified");
            Ok(0)
        }
        Command::BuildLibvmaf {
            platform,
            source,
            out,
        } => {
            let out = out.unwrap_or_else(|| Utf8PathBuf::from("binaries").join(&platform));
            let build = libvmaf::build(&platform, source.as_deref(), &out, &progress)?;
            println!(
                "{}: libvmaf {} for {}",
                out.join(&build.binary),
                build.libvmaf_version,
                build.platform
            );
            Ok(0)
        }
        Command::MakeDistributionTarball { out, project_dir } => {
            let manifest = distribution::build(&project_dir, &out)?;
            println!(
                "{out}: {} files, {}",
                manifest.n_files,
                distribution::prefix()
            );
            Ok(0)
        }
        Command::Report { out_dir, format } if format == "html" => {
            let page = report::write_html(&out_dir)?;
            progress.info(&format!("wrote {page}"));
            Ok(0)
        }
        Command::Report { out_dir, format } => {
            let (outputs, markdown) = pipeline::report(&out_dir)?;
            print!(
                "{}",
                if format == "markdown" {
                    markdown
                } else {
                    outputs
                }
            );
            Ok(0)
        }
        Command::Merge { shards, out, rules } => {
            let corpus = merge::load(&shards, rules.rules())?;
            let meta = merge::write(&corpus, &out)?;
            progress.info(&format!(
                "merged {} shard(s): {} rows ({} duplicates dropped) into {out}",
                shards.len(),
                meta.n_rows,
                meta.duplicates_dropped
            ));
            Ok(0)
        }
        Command::ImportCorpus(args) => {
            let request = import::ImportRequest {
                reference: args.reference,
                out: args.out.clone(),
                ref_dir: args.ref_dir,
                geometry: sources::GeometryFlags {
                    width: args.width,
                    height: args.height,
                    fps: args.fps,
                },
                force: args.force,
            };
            let meta = import::run(&request)?;
            let unknown = meta.sources.iter().filter(|s| !s.known).count();
            progress.info(&format!(
                "imported {} rows of {} source(s) ({unknown} with an unknown video) into {}",
                meta.n_rows,
                meta.sources.len(),
                args.out
            ));
            Ok(0)
        }
        Command::Full(args) => {
            let platform = platform::detect()?;
            let references = if args.corpus.is_empty() {
                Some(references(
                    &ReferenceArgs {
                        ref_dir: args.ref_dir,
                        demo: args.demo,
                        demo_frames: args.demo_frames,
                    },
                    &args.out_dir,
                )?)
            } else {
                None
            };
            let request = pipeline::FullRequest {
                references,
                corpus: args.corpus,
                geometry: geometry(&args.grid),
                encoders: args.grid.encoders,
                cqs: args.grid.cqs,
                frames: args.grid.frames,
                jobs: args.grid.jobs,
                threads: args.grid.threads,
                allow_failed_cells: args.allow_failed_cells,
                merge_rules: args.rules.rules(),
                seeds: args.seeds.seeds,
                further_seeds: args.stability,
                recipe: train::Recipe {
                    epochs: args.epochs,
                    ..train::Recipe::default()
                },
                out_dir: args.out_dir,
                ensemble_id: args.ensemble_id,
                cell_dir: args.cell_dir,
                missing_boxes: args.missing_boxes,
            };
            let outcome = pipeline::run(&request, &overrides, &platform, &progress)?;
            // With JSON events the `bundle` event carries the path; stdout stays pure NDJSON.
            if !progress.is_json() {
                progress::to_stderr(&pipeline::summary(&outcome));
                println!("{}", outcome.bundle);
            }
            Ok(if outcome.verdict.gate.passed { 0 } else { 1 })
        }
        Command::Schema { name, out_dir } => {
            if let Some(dir) = out_dir {
                for doc in schema::ALL {
                    let path = dir.join(format!("{}.schema.json", doc.name));
                    atomic::write(&path, schema::render(doc.name)?.as_bytes())?;
                    progress.info(&format!("wrote {path}"));
                }
            } else {
                print!("{}", schema::render(name.as_deref().unwrap_or_default())?);
            }
            Ok(0)
        }
        Command::Validate { files } => {
            for file in &files {
                println!("{file}: ok ({})", validate(file)?);
            }
            Ok(0)
        }
        Command::Bench(args) => match args.which {
            cli::BenchKind::Corpus {
                references: refs,
                grid,
                work_dir,
            } => {
                let platform = platform::detect()?;
                let tools = Toolset::locate(&overrides)?;
                let work = bench::WorkDir::new(work_dir)?;
                let request = corpus::CorpusRequest {
                    references: references(&refs, &work.path().join("x"))?,
                    geometry: geometry(&grid),
                    out: work.path().join("pipeline/shard.jsonl"),
                    encoders: grid.encoders,
                    cqs: grid.cqs,
                    jobs: grid.jobs,
                    threads: grid.threads,
                    frames: grid.frames,
                    allow_failed_cells: false,
                    cell_dir: None,
                    force: true,
                };
                print!(
                    "{}",
                    bench::corpus(&request, &tools, &platform, work.path(), &progress)?
                );
                Ok(0)
            }
            cli::BenchKind::Train {
                corpus,
                seeds,
                recipe: knobs,
                python,
                torch_script,
                work_dir,
            } => {
                let work = bench::WorkDir::new(work_dir)?;
                let (jobs, _) = budget::split(knobs.jobs, Some(1))?;
                let request = bench::TrainBench {
                    corpus,
                    seeds: seeds.seeds,
                    epochs: knobs.epochs,
                    jobs,
                    python,
                    torch_script,
                };
                print!("{}", bench::train(&request, work.path(), &progress)?);
                Ok(0)
            }
        },
    }
}

/// The verdict summary is shown unless the operator asked for quiet.
fn verdict_visible(progress: &Progress) -> bool {
    progress.verbosity() != Verbosity::Quiet
}

/// Checks one kit file against its schema, choosing the schema from its extension or its
/// `kind` field, and returns a short description of what it holds.
pub fn validate(file: &Utf8Path) -> Result<String> {
    if file.extension() == Some("jsonl") {
        return merge::validate(file);
    }
    let value = schema::read_value(file)?;
    let is_verdict = value.get("verdict").is_some() && value.get("gate").is_some();
    let kind = schema::kind_of(&value)
        .map(schema::schema_of_kind)
        .or(is_verdict.then_some("verdict"))
        .ok_or_else(|| Error::Invalid {
            path: file.to_owned(),
            line: None,
            field: "/kind".into(),
            message: "no `kind` field, so this is not a file the kit can check".into(),
        })?;
    schema::check(kind, &value, file, None)?;
    Ok(kind.to_owned())
}

/// The references a command asked for; `--demo` clips go to the cache (or beside `out`).
fn references(args: &ReferenceArgs, out: &Utf8Path) -> Result<corpus::References> {
    match (&args.ref_dir, args.demo) {
        (Some(dir), _) => Ok(corpus::References::Dir(dir.clone())),
        (None, true) => {
            let base = tools::cache_dir().unwrap_or_else(|| {
                out.parent()
                    .map(Utf8Path::to_owned)
                    .unwrap_or_else(|| Utf8PathBuf::from("."))
            });
            let frames = args.demo_frames;
            Ok(corpus::References::Demo(
                base.join(corpus::demo::dir_name(frames)),
                frames,
            ))
        }
        (None, false) => Err(Error::Input("give --ref-dir DIR or --demo".into())),
    }
}

/// The training recipe of SPEC §6 with the operator's epoch count.
fn recipe(args: &cli::RecipeArgs) -> train::Recipe {
    train::Recipe {
        epochs: args.epochs,
        ..train::Recipe::default()
    }
}

fn geometry(grid: &GridArgs) -> sources::GeometryFlags {
    sources::GeometryFlags {
        width: grid.width,
        height: grid.height,
        fps: grid.fps,
    }
}

fn print_json<T: serde::Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("output types serialise")
    );
}
