//! The subcommands: one file per group, each owning its flags, the one conversion of those flags
//! into a stage's request, and what the command prints.

pub mod bench;
pub mod build;
pub mod context;
pub mod corpus;
pub mod deliver;
pub mod evaluate;
pub mod flags;
pub mod full;
pub mod inspect;
pub mod install;
pub mod request;
pub mod train;
pub mod transport;

pub use context::Context;

use clap::Subcommand;

/// The subcommands, one per pipeline stage plus tools around them.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write the owner's request (REQUEST.json): his references by name, SHA-256 and geometry,
    /// optionally encoders and recipe, a random 128-bit nonce, the time and who asks. A
    /// collaborator answers it with `full --request`; `verify --request` checks the answer.
    Request(request::RequestArgs),
    /// The whole pipeline: doctor → corpus → train → verdict → (PROMOTE) export → bundle.
    ///
    /// Re-running with the same arguments resumes where it stopped. Exit 0 PROMOTE, 1 HOLD,
    /// 2 bad input or environment.
    Full(full::FullArgs),
    /// Summarise a results folder: step outputs (`key=value`) or a markdown table for CI, or a
    /// self-contained page for people (`DIR/report.html`).
    Report(deliver::ReportArgs),
    /// Merge shards from several boxes into one corpus (deduplicated per frame).
    Merge(corpus::MergeArgs),
    /// Turn rows written by the reference (Python) kit into a kit shard: source hashes from
    /// --ref-dir (else marked unknown), timings rounded to whole ms, provenance "imported".
    ImportCorpus(corpus::ImportArgs),
    /// Detect the platform tag and default encoders (SPEC §3; honours KIT_FAKE_*).
    Platform(inspect::PlatformArgs),
    /// Check that this box can run the pipeline, with a fix for each failure.
    Doctor(inspect::DoctorArgs),
    /// Encode and score references into a corpus shard (JSON Lines + NAME.meta.json).
    Corpus(corpus::CorpusArgs),
    /// Train the leave-one-source-out MLP ensemble per seed; writes loso_seed{N}.json.
    ///
    /// The arithmetic runs on the CPU's widest vector path — avx512 (AVX-512F), avx2 (AVX2 +
    /// FMA) or portable — and `-v` names it. ENSEMBLE_KIT_SIMD=avx512|avx2|portable forces a
    /// path (capped at the CPU's; also for `export` and `bench train`): every path gives the same
    /// bits, so this is for comparing them and for benchmarks.
    Train(train::TrainArgs),
    /// Apply the promotion gate to loso_seed*.json; writes PROMOTE.json or HOLD.json.
    ///
    /// Exit 0 PROMOTE, 1 HOLD, 2 bad input (missing, malformed or undefined seed files).
    Verdict(train::VerdictArgs),
    /// After PROMOTE: fit each seed on the whole corpus; write ONNX models and sidecars.
    Export(deliver::ExportArgs),
    /// Write manifest.json and a deterministic ensemble-results-<UTC>.tar.gz of a results folder.
    Bundle(deliver::BundleArgs),
    /// Check a results bundle against its manifest, sidecars and verdict; optionally extract
    /// it safely.
    ///
    /// Exit 0 when every file matches and the one verdict agrees with the manifest and the
    /// bundled LOSO files, 2 naming each missing, extra or altered file or disagreement.
    Verify(deliver::VerifyArgs),
    /// Install a verified PROMOTE bundle into the vmaf fork's model folder (model/tiny/):
    /// the members' ONNX and sidecars, their registry.json rows and the ensemble manifest, all
    /// or nothing; `--undo MODEL_DIR` puts the last install's replaced files back.
    ///
    /// Runs the whole `verify` first (with --allowed-signers, --retrain, --audit as given).
    /// Exit 0 installed, 1 HOLD, 2 bad input; MODEL_DIR is untouched unless it exits 0.
    Install(install::InstallArgs),
    /// Compare two results as experiments (verdict files, bundles or LOSO folders): exit 0
    /// CONFIRMS, 1 DISAGREES, 2 bad input, 3 NOT COMPARABLE.
    Compare(deliver::CompareArgs),
    /// Run a shipped ensemble (a PROMOTE bundle, or ONNX models with sidecars — the kit's or
    /// the reference's) in an ONNX runtime on a corpus: PLCC, SROCC and RMSE per source,
    /// encoder and CQ, per seed and for the ensemble mean.
    ///
    /// Exit 0 evaluated, 2 bad input (a model without its sidecar or not matching its sha256,
    /// another vocabulary, an encoder the vocabulary lacks, an empty corpus).
    Evaluate(evaluate::EvaluateArgs),
    /// Pack raw references losslessly (FFV1 .mkv per source + manifest) to ship them.
    PackCorpus(transport::PackArgs),
    /// Restore byte-identical `.yuv` references from a pack-corpus archive (resumable).
    ExtractCorpus(transport::ExtractArgs),
    /// Build libvmaf's `vmaf` CLI for one platform (meson at the libvmaf folder); writes
    /// OUT/vmaf and OUT/BUILD.json.
    BuildLibvmaf(build::LibvmafArgs),
    /// Build the distribution tarball for machines without Nix (deterministic under
    /// SOURCE_DATE_EPOCH): binary, scripts, schemas, pinned libvmaf source, README-FIRST.md.
    MakeDistributionTarball(build::TarballArgs),
    /// Print a JSON Schema of a kit file (corpus-row, shard-meta, cell, platform, doctor,
    /// loso-seed, verdict).
    Schema(inspect::SchemaArgs),
    /// Validate kit files (shards, shard metadata, cells, …) against their schemas.
    Validate(inspect::ValidateArgs),
    /// Benchmarks that print speed ratios against a baseline run in the same process.
    Bench(bench::BenchArgs),
}
