//! The command line: every subcommand and flag, with the help an operator acts on.

use camino::Utf8PathBuf;
use clap::{Args, Parser, Subcommand};

/// Retrain and independently re-verify a VMAF regressor ensemble on your own hardware.
///
/// Exit codes: 0 success (or PROMOTE), 1 HOLD, 2 bad input or environment.
#[derive(Debug, Parser)]
#[command(name = "ensemble-kit", version, about, long_about = None, after_help = EXIT_CODES)]
pub struct Cli {
    /// The ffmpeg to use (else $ENSEMBLE_KIT_FFMPEG, the bootstrap cache, then PATH).
    #[arg(long, global = true, value_name = "PATH")]
    pub ffmpeg: Option<Utf8PathBuf>,

    /// The libvmaf `vmaf` CLI to use (else $ENSEMBLE_KIT_VMAF, the bootstrap cache, then PATH).
    #[arg(long, global = true, value_name = "PATH")]
    pub vmaf: Option<Utf8PathBuf>,

    /// Only print warnings and errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Also print every external command line.
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// `human` (lines or bars on stderr) or `json` (NDJSON progress events on stdout; schema
    /// `ensemble-kit schema progress-event`).
    #[arg(long, global = true, value_parser = ["human", "json"], default_value = "human")]
    pub message_format: String,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

const EXIT_CODES: &str = "Exit codes: 0 ok (PROMOTE), 1 HOLD, 2 bad input or environment.";

/// The subcommands, one per pipeline stage plus tools around them.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The whole pipeline: doctor → corpus → train → verdict → (PROMOTE) export → bundle.
    ///
    /// Re-running with the same arguments resumes where it stopped. Exit 0 PROMOTE, 1 HOLD,
    /// 2 bad input or environment.
    Full(FullArgs),
    /// Summarise a results folder: step outputs (`key=value`) or a markdown table for CI, or a
    /// self-contained page for people (`DIR/report.html`).
    Report {
        /// The results folder of `full`.
        #[arg(long, value_name = "DIR", default_value = "ensemble-results")]
        out_dir: Utf8PathBuf,
        /// `outputs` (verdict, mean-plcc, plcc-spread, bundle, verdict-file), `markdown`, or
        /// `html` (writes DIR/report.html: verdict, charts, no network).
        #[arg(long, value_parser = ["outputs", "markdown", "html"], default_value = "outputs")]
        format: String,
    },
    /// Merge shards from several boxes into one corpus (deduplicated per frame).
    Merge {
        /// The shards (`.jsonl`, each with its `.meta.json` when it has one).
        #[arg(required = true)]
        shards: Vec<Utf8PathBuf>,
        /// The merged corpus to write (`.jsonl`; provenance goes to NAME.meta.json).
        #[arg(long, value_name = "CORPUS.jsonl")]
        out: Utf8PathBuf,
        #[command(flatten)]
        rules: MergeRuleArgs,
    },
    /// Turn rows written by the reference (Python) kit into a kit shard: source hashes from
    /// --ref-dir (else marked unknown), timings rounded to whole ms, provenance "imported".
    ImportCorpus(ImportArgs),
    /// Detect the platform tag and default encoders (SPEC §3; honours KIT_FAKE_*).
    Platform {
        /// Print JSON (schema: `ensemble-kit schema platform`).
        #[arg(long)]
        json: bool,
    },
    /// Check that this box can run the pipeline, with a fix for each failure.
    Doctor(DoctorArgs),
    /// Encode and score references into a corpus shard (JSON Lines + NAME.meta.json).
    Corpus(CorpusArgs),
    /// Train the leave-one-source-out MLP ensemble per seed; writes loso_seed{N}.json.
    Train(TrainArgs),
    /// Apply the promotion gate to loso_seed*.json; writes PROMOTE.json or HOLD.json.
    ///
    /// Exit 0 PROMOTE, 1 HOLD, 2 bad input (missing, malformed or undefined seed files).
    Verdict(VerdictArgs),
    /// After PROMOTE: fit each seed on the whole corpus; write ONNX models and sidecars.
    Export(ExportArgs),
    /// Write manifest.json and a deterministic ensemble-results-<UTC>.tar.gz of a results folder.
    Bundle {
        /// The results folder (corpus, LOSO files, verdict, models).
        #[arg(long, value_name = "DIR")]
        out_dir: Utf8PathBuf,
    },
    /// Check a results bundle against its manifest, sidecars and verdict; optionally extract
    /// it safely.
    ///
    /// Exit 0 when every file matches and the one verdict agrees with the manifest and the
    /// bundled LOSO files, 2 naming each missing, extra or altered file or disagreement.
    Verify {
        /// The `.tar.gz` bundle (read once; a pipe works).
        bundle: Utf8PathBuf,
        /// Extract into DIR (new or empty) once everything matched (no absolute paths, `..`,
        /// links or devices).
        #[arg(long, value_name = "DIR")]
        extract: Option<Utf8PathBuf>,
        #[command(flatten)]
        cap: BundleCapArgs,
    },
    /// Compare two verdicts (files or bundles): exit 0 agree, 1 disagree, 2 bad input.
    Compare {
        /// The first verdict file or bundle.
        a: Utf8PathBuf,
        /// The second verdict file or bundle.
        b: Utf8PathBuf,
        #[command(flatten)]
        cap: BundleCapArgs,
    },
    /// Pack raw references losslessly (FFV1 .mkv per source + manifest) to ship them.
    PackCorpus {
        /// Folder of `.yuv` references.
        #[arg(long, value_name = "DIR")]
        ref_dir: Utf8PathBuf,
        /// The archive to write (a tar).
        #[arg(long, value_name = "ARCHIVE")]
        out: Utf8PathBuf,
        /// Width of references whose names carry no geometry.
        #[arg(long)]
        width: Option<u32>,
        /// Height of references whose names carry no geometry.
        #[arg(long)]
        height: Option<u32>,
        /// Frame rate of references whose names carry none.
        #[arg(long, value_parser = parse_fps)]
        fps: Option<crate::schema::Fps>,
    },
    /// Restore byte-identical `.yuv` references from a pack-corpus archive (resumable).
    ExtractCorpus {
        /// The archive (read once; a pipe works).
        archive: Utf8PathBuf,
        /// Where to restore the `.yuv` files.
        #[arg(long, value_name = "DIR")]
        to: Utf8PathBuf,
        /// Replace files in --to that differ from the archive's (identical ones are skipped).
        #[arg(long)]
        force: bool,
        /// Most bytes the archive may unpack in total (members and decoded references);
        /// K, M, G, T suffixes are powers of 1024.
        #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value_t = crate::transport::TRANSPORT_TOTAL_MAX)]
        max_total_size: u64,
    },
    /// Build libvmaf's `vmaf` CLI for one platform (meson at the libvmaf folder); writes
    /// OUT/vmaf and OUT/BUILD.json.
    BuildLibvmaf {
        /// linux-x86_64-cuda, linux-x86_64-sycl, linux-x86_64-vulkan, darwin-arm64-cpu, darwin-x86_64-cpu.
        #[arg(long)]
        platform: String,
        /// libvmaf source: the libvmaf folder, a vmaf checkout, or an unpacked libvmaf-sys crate
        /// (default: the pinned crate from cargo's cache, hash-checked).
        #[arg(long, value_name = "DIR")]
        source: Option<Utf8PathBuf>,
        /// Where to put `vmaf` and `BUILD.json` (default: binaries/PLATFORM).
        #[arg(long, value_name = "DIR")]
        out: Option<Utf8PathBuf>,
    },
    /// Build the distribution tarball for machines without Nix (deterministic under
    /// SOURCE_DATE_EPOCH): binary, scripts, schemas, pinned libvmaf source, README-FIRST.md.
    MakeDistributionTarball {
        /// The `.tar.gz` to write.
        #[arg(long, value_name = "FILE")]
        out: Utf8PathBuf,
        /// The ensemble-kit checkout holding `scripts/` and `schemas/`.
        #[arg(long, value_name = "DIR", default_value = ".")]
        project_dir: Utf8PathBuf,
    },
    /// Print a JSON Schema of a kit file (corpus-row, shard-meta, cell, platform, doctor,
    /// loso-seed, verdict).
    Schema {
        /// The schema's name.
        #[arg(required_unless_present = "out_dir")]
        name: Option<String>,
        /// Write every schema to DIR/NAME.schema.json instead.
        #[arg(long, value_name = "DIR", conflicts_with = "name")]
        out_dir: Option<Utf8PathBuf>,
    },
    /// Validate kit files (shards, shard metadata, cells, …) against their schemas.
    Validate {
        /// Files to check; each failure names file, line and field.
        #[arg(required = true)]
        files: Vec<Utf8PathBuf>,
    },
    /// Benchmarks that print speed ratios against a baseline run in the same process.
    Bench(BenchArgs),
}

/// Where the references come from (exactly one of `--ref-dir` and `--demo`).
#[derive(Debug, Args, Clone)]
pub struct ReferenceArgs {
    /// Folder of references: `.yuv` (geometry from NAME_WxH_Nfps.yuv, else the flags, else
    /// 1920x1080 25 fps) and `.y4m`.
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with = "demo",
        required_unless_present = "demo"
    )]
    pub ref_dir: Option<Utf8PathBuf>,

    /// Use the built-in demo references (9 synthetic 320x180 clips; nothing to supply).
    #[arg(long)]
    pub demo: bool,

    /// Frames per demo clip (with --demo).
    #[arg(long, value_name = "N", default_value_t = crate::corpus::demo::DEFAULT_FRAMES, requires = "demo")]
    pub demo_frames: u64,
}

/// The cell grid and how to run it.
#[derive(Debug, Args, Clone)]
pub struct GridArgs {
    /// Encoders, comma-separated (default: the platform's, see `ensemble-kit platform`).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub encoders: Option<Vec<String>>,

    /// Quality levels (the encoder's cq/crf/qp), comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "19,25,31,37",
        value_name = "LIST"
    )]
    pub cqs: Vec<u32>,

    /// Score only the first N frames of every source.
    #[arg(long, value_name = "N")]
    pub frames: Option<u64>,

    /// Cells run at once (default: cores / --threads). jobs × threads must not exceed cores.
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,

    /// Threads each cell's encoder and vmaf may use (default 1).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// Width of raw references whose names carry no geometry.
    #[arg(long)]
    pub width: Option<u32>,

    /// Height of raw references whose names carry no geometry.
    #[arg(long)]
    pub height: Option<u32>,

    /// Frame rate of raw references whose names carry none (25, 29.97, 30000/1001).
    #[arg(long, value_parser = parse_fps)]
    pub fps: Option<crate::schema::Fps>,
}

/// How much a results bundle may unpack (`verify`, `compare`).
#[derive(Debug, Args, Clone)]
pub struct BundleCapArgs {
    /// Most bytes a bundle may unpack in total; K, M, G, T suffixes are powers of 1024.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value_t = crate::verify::BUNDLE_TOTAL_MAX)]
    pub max_total_size: u64,
}

/// A byte count: digits, optionally followed by K, M, G or T (powers of 1024).
fn parse_size(text: &str) -> Result<u64, String> {
    let (digits, shift) = match text.trim().char_indices().last() {
        Some((i, unit)) if unit.is_ascii_alphabetic() => {
            let shift = match unit.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err(format!("unknown size unit `{unit}`; use K, M, G or T")),
            };
            (&text.trim()[..i], shift)
        }
        _ => (text.trim(), 0),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1u64 << shift))
        .ok_or_else(|| format!("`{text}` is not a size (for example 512M or 4G)"))
}

fn parse_fps(text: &str) -> Result<crate::schema::Fps, String> {
    crate::sources::parse_fps(text)
}

/// `ensemble-kit doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Encoders to prove usable (default: the platform's).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub encoders: Option<Vec<String>>,
    /// References, to estimate the disk a run needs.
    #[arg(long, value_name = "DIR")]
    pub ref_dir: Option<Utf8PathBuf>,
    /// Where outputs will be written (for the free-disk check).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out_dir: Utf8PathBuf,
    /// Print JSON (schema: `ensemble-kit schema doctor`).
    #[arg(long)]
    pub json: bool,
}

/// `ensemble-kit corpus`.
#[derive(Debug, Args)]
pub struct CorpusArgs {
    #[command(flatten)]
    pub references: ReferenceArgs,

    /// The shard to write (`.jsonl`); its provenance goes to NAME.meta.json beside it.
    #[arg(long, value_name = "SHARD.jsonl")]
    pub out: Utf8PathBuf,

    #[command(flatten)]
    pub grid: GridArgs,

    /// Write the shard even if some cells fail (they are listed in the metadata).
    #[arg(long)]
    pub allow_failed_cells: bool,

    /// Where finished cells are kept for resuming (default: SHARD.cells/ beside the shard).
    #[arg(long, value_name = "DIR")]
    pub cell_dir: Option<Utf8PathBuf>,

    /// Replace a shard from another run at --out.
    #[arg(long)]
    pub force: bool,
}

/// `ensemble-kit import-corpus`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The reference kit's corpus (`.jsonl`, rows without `src_sha256`).
    pub reference: Utf8PathBuf,
    /// The shard to write (`.jsonl`); its provenance goes to NAME.meta.json beside it.
    #[arg(long, value_name = "SHARD.jsonl")]
    pub out: Utf8PathBuf,
    /// Folder of the source videos (`.yuv`, `.y4m`; named as the rows' `src`), whose SHA-256
    /// the rows then carry. Without it every source's hash is an unknown-source marker, which
    /// never merges with a shard scored from the real video.
    #[arg(long, value_name = "DIR")]
    pub ref_dir: Option<Utf8PathBuf>,
    /// Width of raw videos in --ref-dir whose names carry no geometry.
    #[arg(long, requires = "ref_dir")]
    pub width: Option<u32>,
    /// Height of raw videos in --ref-dir whose names carry no geometry.
    #[arg(long, requires = "ref_dir")]
    pub height: Option<u32>,
    /// Frame rate of raw videos in --ref-dir whose names carry none.
    #[arg(long, value_parser = parse_fps, requires = "ref_dir")]
    pub fps: Option<crate::schema::Fps>,
    /// Replace a different shard at --out.
    #[arg(long)]
    pub force: bool,
}

/// `ensemble-kit full`.
#[derive(Debug, Args)]
pub struct FullArgs {
    /// Folder of references (see `corpus --help`).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["demo", "corpus"])]
    pub ref_dir: Option<Utf8PathBuf>,
    /// Use the built-in demo references.
    #[arg(long, conflicts_with = "corpus")]
    pub demo: bool,
    /// Frames per demo clip (with --demo).
    #[arg(long, value_name = "N", default_value_t = crate::corpus::demo::DEFAULT_FRAMES, requires = "demo")]
    pub demo_frames: u64,
    /// Train on ready shards instead of scoring references (e.g. merged from several boxes).
    #[arg(long, num_args = 1.., value_delimiter = ',', value_name = "SHARD")]
    pub corpus: Vec<Utf8PathBuf>,
    #[command(flatten)]
    pub grid: GridArgs,
    #[command(flatten)]
    pub seeds: SeedArgs,
    /// Further seeds trained for the stability estimate (see `train --stability`).
    #[arg(long, value_name = "K", default_value_t = crate::stability::FULL_DEFAULT_FURTHER_SEEDS)]
    pub stability: u64,
    /// Training epochs per fold.
    #[arg(long, default_value_t = 200)]
    pub epochs: usize,
    /// The results folder.
    #[arg(long, value_name = "DIR", default_value = "ensemble-results")]
    pub out_dir: Utf8PathBuf,
    /// Ensemble id of exported models.
    #[arg(long, default_value = crate::export::DEFAULT_ENSEMBLE_ID)]
    pub ensemble_id: String,
    /// Write the shard even if some cells fail.
    #[arg(long)]
    pub allow_failed_cells: bool,
    #[command(flatten)]
    pub rules: MergeRuleArgs,
    /// Where finished cells are kept for resuming (default: OUT/corpus/shard.cells/). A folder
    /// outside a CI workspace survives the checkout's cleanup, so a box resumes.
    #[arg(long, value_name = "DIR", conflicts_with = "corpus")]
    pub cell_dir: Option<Utf8PathBuf>,
    /// A box whose shard did not arrive (repeatable); recorded in the verdict as
    /// `missing_boxes` so the owner sees what the ensemble was trained without.
    #[arg(long = "missing-box", value_name = "BOX")]
    pub missing_boxes: Vec<String>,
}

/// `ensemble-kit train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub shards: ShardArgs,
    /// Where loso_seed{N}.json are written.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Utf8PathBuf,
    #[command(flatten)]
    pub seeds: SeedArgs,
    /// Also train K further seeds (after the largest of --seeds) on the same folds, so that
    /// `verdict` can say how often other seeds would pass the gate.
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub stability: u64,
    #[command(flatten)]
    pub recipe: RecipeArgs,
}

/// The corpus a training stage reads.
#[derive(Debug, Args, Clone)]
pub struct ShardArgs {
    /// Corpus shard(s) (`.jsonl`); several are merged (deduplicated per frame).
    #[arg(long, required = true, num_args = 1.., value_delimiter = ',', value_name = "SHARD")]
    pub corpus: Vec<Utf8PathBuf>,
    #[command(flatten)]
    pub rules: MergeRuleArgs,
}

/// What a merge of shards may tolerate.
#[derive(Debug, Args, Clone, Copy)]
pub struct MergeRuleArgs {
    /// Merge shards scored by different libvmaf versions.
    #[arg(long)]
    pub allow_mixed_vmaf: bool,
    /// Accept shards without their .meta.json (recorded as unverified in a merge's metadata).
    #[arg(long)]
    pub allow_missing_meta: bool,
}

impl MergeRuleArgs {
    /// The rules these flags ask for.
    pub fn rules(self) -> crate::merge::MergeRules {
        crate::merge::MergeRules {
            allow_mixed_vmaf: self.allow_mixed_vmaf,
            allow_missing_meta: self.allow_missing_meta,
        }
    }
}

/// The seeds to train or judge.
#[derive(Debug, Args, Clone)]
pub struct SeedArgs {
    /// Seeds, comma-separated; each is one full LOSO run (the gate is defined over 0..4).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0,1,2,3,4",
        value_name = "LIST"
    )]
    pub seeds: Vec<u64>,
}

/// How long to train and how many fits run at once.
#[derive(Debug, Args, Clone)]
pub struct RecipeArgs {
    /// Training epochs per fit.
    #[arg(long, default_value_t = 200)]
    pub epochs: usize,
    /// Fits (folds, seeds) at once (default: one per core).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// `ensemble-kit export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub shards: ShardArgs,
    /// The PROMOTE.json that allows the export.
    #[arg(long, value_name = "FILE")]
    pub verdict: Utf8PathBuf,
    /// Where `<ensemble-id>_seed<N>.onnx` and `.json` go.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Utf8PathBuf,
    /// Seeds to export (default: the verdict's).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub seeds: Option<Vec<u64>>,
    /// Ensemble id, the models' file name prefix.
    #[arg(long, default_value = crate::export::DEFAULT_ENSEMBLE_ID)]
    pub ensemble_id: String,
    #[command(flatten)]
    pub recipe: RecipeArgs,
}

/// `ensemble-kit verdict`.
#[derive(Debug, Args)]
pub struct VerdictArgs {
    /// Folder holding loso_seed{N}.json.
    #[arg(long, value_name = "DIR")]
    pub loso_dir: Utf8PathBuf,
    #[command(flatten)]
    pub seeds: SeedArgs,
    /// Reference corpus folder to describe in the verdict (counts and a content hash).
    #[arg(long, value_name = "DIR")]
    pub corpus_root: Option<Utf8PathBuf>,
    /// Where to write the verdict (default: the --loso-dir).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<Utf8PathBuf>,
}

/// `ensemble-kit bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Which benchmark.
    #[command(subcommand)]
    pub which: BenchKind,
}

/// The available benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchKind {
    /// The corpus pipeline against the naive sequential way (encode, decode to .yuv, vmaf
    /// --threads 1), on the same cells.
    Corpus {
        #[command(flatten)]
        references: ReferenceArgs,
        #[command(flatten)]
        grid: GridArgs,
        /// Scratch folder for both runs (default: a temporary folder).
        #[arg(long, value_name = "DIR")]
        work_dir: Option<Utf8PathBuf>,
    },
    /// `train` against our PyTorch implementation of the same recipe
    /// (scripts/reference/torch_loso.py), same corpus, seeds and jobs: speed, peak memory,
    /// and the difference in mean PLCC.
    Train {
        /// Corpus shard(s) (e.g. from scripts/make-bench-corpus.sh).
        #[arg(long, required = true, num_args = 1.., value_delimiter = ',', value_name = "SHARD")]
        corpus: Vec<Utf8PathBuf>,
        #[command(flatten)]
        seeds: SeedArgs,
        #[command(flatten)]
        recipe: RecipeArgs,
        /// The Python that has torch installed.
        #[arg(long, default_value = "python3")]
        python: String,
        /// The PyTorch reference script.
        #[arg(
            long,
            default_value = "scripts/reference/torch_loso.py",
            value_name = "PATH"
        )]
        torch_script: Utf8PathBuf,
        /// Scratch folder for both runs (default: a temporary folder).
        #[arg(long, value_name = "DIR")]
        work_dir: Option<Utf8PathBuf>,
    },
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("20K"), Ok(20 << 10));
        assert_eq!(parse_size("4g"), Ok(4 << 30));
        assert!(parse_size("4X").is_err());
        assert!(parse_size("G").is_err());
        assert!(parse_size("99999999999T").is_err());
    }
}
