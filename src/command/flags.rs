//! Flag groups that more than one command takes, each declared here once together with the one
//! conversion into what the stages take (`--cqs` into a [`Grid`], `--epochs` into a
//! [`Recipe`], …).

use crate::error::{Error, Result};
use crate::host::tools;
use crate::ingest::corpus::{demo, Grid, References, DEFAULT_CQS};
use crate::ingest::merge::{self, Corpus, MergeRules};
use crate::ingest::sources::GeometryFlags;
use crate::layout::outputs::Inputs;
use crate::learn::train::{Recipe, DEFAULT_EPOCHS, DEFAULT_SEEDS};
use crate::schema::Fps;
use camino::{Utf8Path, Utf8PathBuf};
use clap::{Arg, Args};
use std::sync::LazyLock;

/// Where the references come from (at most one of `--ref-dir` and `--demo`; a command that
/// always scores requires one with [`references_required`]).
#[derive(Debug, Args, Clone)]
pub struct ReferenceArgs {
    /// Folder of references: `.yuv` (geometry from NAME_WxH_Nfps.yuv, else the flags, else
    /// 1920x1080 25 fps) and `.y4m`.
    #[arg(long, value_name = "DIR", conflicts_with = "demo")]
    pub ref_dir: Option<Utf8PathBuf>,

    /// Use the built-in demo references (9 synthetic 320x180 clips; nothing to supply).
    #[arg(long)]
    pub demo: bool,

    /// Frames per demo clip (with --demo).
    #[arg(long, value_name = "N", default_value_t = demo::DEFAULT_FRAMES, requires = "demo")]
    pub demo_frames: u64,
}

/// Makes `--ref-dir` required unless `--demo` is given, for commands that always score (`full`
/// also trains on `--corpus` shards, and says itself when neither is given).
pub fn references_required(ref_dir: Arg) -> Arg {
    ref_dir.required_unless_present("demo")
}

impl ReferenceArgs {
    /// The references asked for; `--demo` clips go to the cache (or beside `out`).
    pub fn references(&self, out: &Utf8Path) -> Result<References> {
        match (&self.ref_dir, self.demo) {
            (Some(dir), _) => Ok(References::Dir(dir.clone())),
            (None, true) => {
                let base = tools::cache_dir().unwrap_or_else(|| {
                    out.parent()
                        .map(Utf8Path::to_owned)
                        .unwrap_or_else(|| Utf8PathBuf::from("."))
                });
                let frames = self.demo_frames;
                Ok(References::Demo(base.join(demo::dir_name(frames)), frames))
            }
            (None, false) => Err(Error::Input("give --ref-dir DIR or --demo".into())),
        }
    }
}

/// The references a folder holds as a command's inputs: its `.yuv` and `.y4m` files (those
/// [`crate::ingest::sources::discover`] reads), named by `flag`.
pub fn reference_inputs(inputs: Inputs, flag: &str, dir: &Utf8Path) -> Inputs {
    inputs.folder(flag, dir, |rel| {
        let name = rel.as_str();
        rel.components().count() == 1
            && !name.starts_with('.')
            && (name.ends_with(".yuv") || name.ends_with(".y4m"))
    })
}

/// Shards as a command's inputs, named by `flag`: each file, its metadata beside it and its
/// audit bitstreams (`NAME.audit/`).
pub fn shard_inputs(inputs: Inputs, flag: &str, shards: &[Utf8PathBuf]) -> Inputs {
    shards.iter().fold(inputs, |inputs, shard| {
        inputs
            .file(flag, shard)
            .file(
                &format!("{flag}'s metadata"),
                &crate::ingest::corpus::meta_path(shard),
            )
            .folder(
                &format!("{flag}'s audit cells"),
                &crate::layout::dir_of(shard),
                |_| true,
            )
    })
}

/// `--force` of the commands that write: may an output replace a file the kit did not write?
#[derive(Debug, Args, Clone, Copy)]
pub struct ForceArgs {
    /// Replace an existing output that ensemble-kit did not write (a file of yours at the
    /// output path). Without it such a file is refused and left untouched. An output that is
    /// one of the command's inputs is refused even with --force.
    #[arg(long)]
    pub force: bool,
}

/// `--cqs`'s default as the command line spells it.
static DEFAULT_CQS_TEXT: LazyLock<String> = LazyLock::new(|| comma_list(DEFAULT_CQS));

/// `--seeds`'s default as the command line spells it.
static DEFAULT_SEEDS_TEXT: LazyLock<String> = LazyLock::new(|| comma_list(DEFAULT_SEEDS));

fn comma_list<T: ToString>(values: &[T]) -> String {
    values
        .iter()
        .map(T::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The cell grid and how to run it.
#[derive(Debug, Args, Clone)]
pub struct GridArgs {
    #[command(flatten)]
    pub encoders: EncoderArgs,

    /// Quality levels (the encoder's cq/crf/qp), comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = DEFAULT_CQS_TEXT.as_str(),
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

    #[command(flatten)]
    pub geometry: GeometryArgs,
}

impl GridArgs {
    /// The grid these flags ask for, over `references`.
    pub fn grid(&self, references: References) -> Grid {
        Grid {
            references,
            geometry: self.geometry.flags(),
            encoders: self.encoders.encoders.clone(),
            cqs: self.cqs.clone(),
            frames: self.frames,
        }
    }
}

/// The encoders to use (`corpus`, `full`, `bench corpus`) or to prove usable (`doctor`).
#[derive(Debug, Args, Clone)]
pub struct EncoderArgs {
    /// Encoders, comma-separated (default: the platform's, see `ensemble-kit platform`).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub encoders: Option<Vec<String>>,
}

/// The geometry of raw references whose names carry none.
#[derive(Debug, Args, Clone, Copy)]
pub struct GeometryArgs {
    /// Width of raw references whose names carry no geometry.
    #[arg(long)]
    pub width: Option<u32>,

    /// Height of raw references whose names carry no geometry.
    #[arg(long)]
    pub height: Option<u32>,

    /// Frame rate of raw references whose names carry none (25, 29.97, 30000/1001).
    #[arg(long, value_parser = parse_fps)]
    pub fps: Option<Fps>,
}

impl GeometryArgs {
    /// The geometry these flags give.
    pub fn flags(self) -> GeometryFlags {
        GeometryFlags {
            width: self.width,
            height: self.height,
            fps: self.fps,
        }
    }
}

/// How the cells of a scoring run are kept (`corpus`, `full`).
#[derive(Debug, Args, Clone)]
pub struct CellArgs {
    /// Write the shard even if some cells fail (they are listed in the metadata).
    #[arg(long)]
    pub allow_failed_cells: bool,

    /// Where finished cells are kept for resuming (default: SHARD.cells/ beside the shard;
    /// OUT/corpus/shard.cells/ for `full`). A folder outside a CI workspace survives the
    /// checkout's cleanup, so a box resumes.
    #[arg(long, value_name = "DIR")]
    pub cell_dir: Option<Utf8PathBuf>,

    /// Cells whose encoded bitstreams are kept in SHARD.audit/ and bundled, chosen from the
    /// hash of the shard's rows after scoring, so that an owner can re-score them
    /// (`verify --audit`); at least 3, or 0 to keep none (the shard then cannot be audited).
    #[arg(long, value_name = "K", default_value_t = crate::ingest::corpus::audit_cells::DEFAULT_CELLS, value_parser = crate::ingest::corpus::audit_cells::parse_count)]
    pub audit_cells: usize,
}

/// The name exported models carry (`export`, `full`).
#[derive(Debug, Args, Clone)]
pub struct EnsembleArgs {
    /// Ensemble id, the models' file name prefix.
    #[arg(long, default_value = crate::deliver::export::DEFAULT_ENSEMBLE_ID, value_parser = crate::deliver::export::parse_ensemble_id)]
    pub ensemble_id: String,
}

/// Signing the bundle's manifest (`bundle`, `full`).
#[derive(Debug, Args, Clone)]
pub struct SignArgs {
    /// Sign manifest.json (an SSHSIG in namespace `ensemble-kit`, bundled as
    /// manifest.json.sig) with this unencrypted OpenSSH ed25519 private key file — or, given a
    /// public key file (KEY.pub), with that identity of the ssh-agent at SSH_AUTH_SOCK, as
    /// `ssh-keygen -Y sign -f KEY.pub` does. Checked before any work starts.
    #[arg(long, value_name = "KEY")]
    pub sign: Option<Utf8PathBuf>,
}

impl SignArgs {
    /// The signer `--sign` names, checked now (readable, ed25519, in the agent).
    pub fn signer(&self) -> Result<Option<crate::deliver::signing::Signer>> {
        self.sign
            .as_deref()
            .map(crate::deliver::signing::Signer::from_key_file)
            .transpose()
    }
}

/// How much a results bundle may unpack (`verify`, `compare`).
#[derive(Debug, Args, Clone)]
pub struct BundleCapArgs {
    /// Most bytes a bundle may unpack in total; K, M, G, T suffixes are powers of 1024.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value_t = crate::deliver::verify::BUNDLE_TOTAL_MAX)]
    pub max_total_size: u64,
}

/// The environment variable that makes an `allowed_signers` file the policy of every command
/// that reads a bundle (`verify`, `install`, `compare`, `evaluate`), as if each were given
/// `--allowed-signers FILE`: an owner sets it once, and no command then accepts an unsigned
/// bundle or another key by forgetting a flag.
pub const ALLOWED_SIGNERS_ENV: &str = "ENSEMBLE_KIT_ALLOWED_SIGNERS";

/// Who must have signed a bundle (`verify`, `install`, `compare`, `evaluate`).
#[derive(Debug, Args, Clone)]
pub struct SignerArgs {
    /// Require a signature by a key this file allows (git's `allowed_signers` format:
    /// `principals [options] keytype base64-key`) in namespace `ensemble-kit`, and name the
    /// signer; an unsigned bundle or another key fails (exit 2). The environment variable sets
    /// it for every command that reads a bundle.
    #[arg(long, value_name = "FILE", env = ALLOWED_SIGNERS_ENV)]
    pub allowed_signers: Option<Utf8PathBuf>,
    /// Require that PRINCIPAL signed (as `ssh-keygen -Y verify -I PRINCIPAL`): a line of the
    /// allowed_signers file whose principals match PRINCIPAL must list the key; a key listed
    /// only for someone else fails (exit 2).
    #[arg(long, value_name = "PRINCIPAL", requires = "allowed_signers")]
    pub signer: Option<String>,
}

/// The owner's request a bundle must answer (`verify`, `install`, `compare`).
#[derive(Debug, Args, Clone)]
pub struct RequestArgs {
    /// Require that the bundle answers this request (`ensemble-kit request`): it carries the
    /// same request.json — the nonce the owner drew — and measured its references (exit 2 for
    /// a bundle that answers another request, or none). The signer's valid-after/valid-before
    /// are judged at the request's time.
    #[arg(long, value_name = "REQUEST.json")]
    pub request: Option<Utf8PathBuf>,
}

/// What the owner checks of a bundle beyond its own consistency (`verify`, `install`).
#[derive(Debug, Args, Clone)]
pub struct OwnerCheckArgs {
    #[command(flatten)]
    pub cap: BundleCapArgs,
    /// Also train every bundled seed file again (and on PROMOTE every model) from the bundled
    /// corpus with its recorded recipe, and require the same bytes (exit 2 names the first
    /// file and fold that differ).
    #[arg(long)]
    pub retrain: bool,
    /// The most CPU time --retrain may take, in minutes, by the estimate it prints before it
    /// starts (measured on this machine); a bundle that needs more is refused untrained.
    #[arg(long, value_name = "N", default_value_t = crate::trust::retrain::estimate::DEFAULT_MAX_MINUTES, value_parser = clap::value_parser!(u64).range(1..), requires = "retrain")]
    pub max_retrain_minutes: u64,
    /// Also re-score the bundle's audit cells against your own references (exit 2 naming the
    /// cell and frame that differ).
    #[arg(long, requires = "ref_dir")]
    pub audit: bool,
    /// Your reference videos, for --audit (each must have the SHA-256 the rows name).
    #[arg(long, value_name = "DIR", requires = "audit")]
    pub ref_dir: Option<Utf8PathBuf>,
    #[command(flatten)]
    pub signers: SignerArgs,
    #[command(flatten)]
    pub request: RequestArgs,
}

impl SignerArgs {
    /// The checks of a bundle that only these flags (and `request`) ask for.
    pub fn checks(
        &self,
        request: Option<&RequestArgs>,
        cap: &BundleCapArgs,
    ) -> crate::trust::owner_checks::OwnerChecks {
        crate::trust::owner_checks::OwnerChecks {
            allowed_signers: self.allowed_signers.clone(),
            signer: self.signer.clone(),
            request: request.and_then(|r| r.request.clone()),
            max_total_size: cap.max_total_size,
            ..Default::default()
        }
    }
}

impl OwnerCheckArgs {
    /// The checks these flags ask for.
    pub fn checks(&self) -> crate::trust::owner_checks::OwnerChecks {
        crate::trust::owner_checks::OwnerChecks {
            audit_ref_dir: self.ref_dir.clone().filter(|_| self.audit),
            retrain: self.retrain,
            max_retrain_minutes: self.max_retrain_minutes,
            ..self.signers.checks(Some(&self.request), &self.cap)
        }
    }
}

/// A byte count: digits, optionally followed by K, M, G or T (powers of 1024).
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
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

fn parse_fps(text: &str) -> std::result::Result<Fps, String> {
    crate::ingest::sources::parse_fps(text)
}

/// The shards a training stage reads (`train`, `export`, `bench train`).
#[derive(Debug, Args, Clone)]
pub struct ShardFileArgs {
    /// Corpus shard(s) (`.jsonl`); several are merged (deduplicated per frame).
    #[arg(long, required = true, num_args = 1.., value_delimiter = ',', value_name = "SHARD")]
    pub corpus: Vec<Utf8PathBuf>,
}

/// The corpus a training stage reads: the shards and what merging them may tolerate.
#[derive(Debug, Args, Clone)]
pub struct ShardArgs {
    #[command(flatten)]
    pub files: ShardFileArgs,
    #[command(flatten)]
    pub rules: MergeRuleArgs,
}

impl ShardArgs {
    /// The shards, merged under the rules asked for.
    pub fn load(&self) -> Result<Corpus> {
        merge::load(&self.files.corpus, self.rules.rules())
    }
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
    pub fn rules(self) -> MergeRules {
        MergeRules {
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
        default_value = DEFAULT_SEEDS_TEXT.as_str(),
        value_name = "LIST"
    )]
    pub seeds: Vec<u64>,
}

/// How long to train.
#[derive(Debug, Args, Clone, Copy)]
pub struct RecipeArgs {
    /// Training epochs per fit (1 to 10000).
    #[arg(long, default_value_t = DEFAULT_EPOCHS, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=crate::learn::train::EPOCHS_MAX as u64))]
    pub epochs: usize,
}

impl RecipeArgs {
    /// The training recipe of SPEC §6 with the operator's epoch count.
    pub fn recipe(self) -> Recipe {
        Recipe {
            epochs: self.epochs,
            ..Recipe::default()
        }
    }
}

/// The recipe and how many fits run at once (`train`, `export`, `bench train`).
#[derive(Debug, Args, Clone, Copy)]
pub struct FitArgs {
    #[command(flatten)]
    pub recipe: RecipeArgs,
    /// Fits (folds, seeds) at once (default: one per core).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
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
