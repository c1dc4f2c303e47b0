//! Commands that ship references between boxes: `pack-corpus` and `extract-corpus`.

use super::context::Context;
use super::flags::{parse_size, reference_inputs, ForceArgs, GeometryArgs};
use crate::error::Result;
use crate::host::tools;
use crate::ingest::transport::{self, ExtractRequest, MANIFEST, TRANSPORT_TOTAL_MAX};
use crate::layout::outputs::{self, Inputs, Output, Written};
use camino::Utf8PathBuf;
use clap::Args;

/// `ensemble-kit pack-corpus`.
#[derive(Debug, Args)]
pub struct PackArgs {
    /// Folder of `.yuv` references.
    #[arg(long, value_name = "DIR")]
    pub ref_dir: Utf8PathBuf,
    /// The archive to write (a tar): a new file or an archive pack-corpus wrote; never a
    /// reference.
    #[arg(long, value_name = "ARCHIVE")]
    pub out: Utf8PathBuf,
    #[command(flatten)]
    pub geometry: GeometryArgs,
    #[command(flatten)]
    pub force: ForceArgs,
}

/// Packs the references and prints how many went in.
pub fn pack(args: PackArgs, context: &Context) -> Result<i32> {
    let archive = Written::Tar {
        what: "a corpus-transport archive (its first member transport-manifest.json)",
        first: |name| name == MANIFEST,
    };
    outputs::check(
        &[Output::new("--out", &args.out, archive)],
        &reference_inputs(Inputs::new(), "--ref-dir", &args.ref_dir),
        args.force.force,
    )?;
    let ffmpeg = tools::locate_ffmpeg(&context.overrides)?;
    let manifest = transport::pack(
        &ffmpeg,
        &args.ref_dir,
        args.geometry.flags(),
        &args.out,
        &context.progress,
    )?;
    crate::progress::to_stdout(&format!(
        "{}: {} reference(s)\n",
        args.out,
        manifest.rows.len()
    ));
    Ok(0)
}

/// `ensemble-kit extract-corpus`.
#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// The archive (read once; a pipe works).
    pub archive: Utf8PathBuf,
    /// Where to restore the `.yuv` files.
    #[arg(long, value_name = "DIR")]
    pub to: Utf8PathBuf,
    /// Replace files in --to that differ from the archive's (identical ones are skipped); the
    /// archive itself is never replaced.
    #[arg(long)]
    pub force: bool,
    /// Most bytes the archive may unpack in total (members and decoded references);
    /// K, M, G, T suffixes are powers of 1024.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value_t = TRANSPORT_TOTAL_MAX)]
    pub max_total_size: u64,
}

/// Restores the references, checking every hash.
pub fn extract(args: ExtractArgs, context: &Context) -> Result<i32> {
    // It restores `NAME.yuv` files directly in --to.
    outputs::check_folder(
        "--to",
        &args.to,
        |rel| rel.components().count() == 1 && rel.extension() == Some("yuv"),
        &Inputs::new().file("ARCHIVE", &args.archive),
    )?;
    let ffmpeg = tools::locate_ffmpeg(&context.overrides)?;
    let to = args.to.clone();
    let request = ExtractRequest {
        archive: args.archive,
        to: args.to,
        force: args.force,
        max_total_size: args.max_total_size,
    };
    let (restored, skipped) = transport::extract(&ffmpeg, &request, &context.progress)?;
    crate::progress::to_stdout(&format!(
        "{to}: {restored} restored, {skipped} already present; every sha256 verified\n"
    ));
    Ok(0)
}
