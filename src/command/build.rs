//! Commands that build what ships: `build-libvmaf` and `make-distribution-tarball`.

use super::context::Context;
use crate::error::Result;
use crate::{host::distribution, host::libvmaf};
use camino::Utf8PathBuf;
use clap::Args;

/// `ensemble-kit build-libvmaf`.
#[derive(Debug, Args)]
pub struct LibvmafArgs {
    /// linux-x86_64-cuda, linux-x86_64-sycl, linux-x86_64-vulkan, darwin-arm64-cpu, darwin-x86_64-cpu.
    #[arg(long)]
    pub platform: String,
    /// libvmaf source: the libvmaf folder, a vmaf checkout, or an unpacked libvmaf-sys crate
    /// (default: the pinned crate from cargo's cache, hash-checked).
    #[arg(long, value_name = "DIR")]
    pub source: Option<Utf8PathBuf>,
    /// Where to put `vmaf` and `BUILD.json` (default: binaries/PLATFORM).
    #[arg(long, value_name = "DIR")]
    pub out: Option<Utf8PathBuf>,
}

/// Builds `vmaf` for the platform and prints where it went.
pub fn libvmaf(args: LibvmafArgs, context: &Context) -> Result<i32> {
    let out = args
        .out
        .unwrap_or_else(|| Utf8PathBuf::from("binaries").join(&args.platform));
    let build = libvmaf::build(
        &args.platform,
        args.source.as_deref(),
        &out,
        &context.progress,
    )?;
    println!(
        "{}: libvmaf {} for {}",
        out.join(&build.binary),
        build.libvmaf_version,
        build.platform
    );
    Ok(0)
}

/// `ensemble-kit make-distribution-tarball`.
#[derive(Debug, Args)]
pub struct TarballArgs {
    /// The `.tar.gz` to write.
    #[arg(long, value_name = "FILE")]
    pub out: Utf8PathBuf,
    /// The ensemble-kit checkout holding `scripts/` and `schemas/`.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub project_dir: Utf8PathBuf,
}

/// Builds the tarball and prints what it holds.
pub fn tarball(args: TarballArgs) -> Result<i32> {
    let manifest = distribution::build(&args.project_dir, &args.out)?;
    println!(
        "{}: {} files, {}",
        args.out,
        manifest.n_files,
        distribution::prefix()
    );
    Ok(0)
}
