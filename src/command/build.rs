//! Commands that build what ships: `build-libvmaf` and `make-distribution-tarball`.

use super::context::Context;
use super::flags::ForceArgs;
use crate::error::Result;
use crate::layout::outputs::{self, Inputs, Output, Written};
use crate::schema::{Document, LibvmafBuild};
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
    /// Where to put `vmaf` and `BUILD.json` (default: binaries/PLATFORM). A `vmaf` there that
    /// its BUILD.json does not list is refused without --force.
    #[arg(long, value_name = "DIR")]
    pub out: Option<Utf8PathBuf>,
    #[command(flatten)]
    pub force: ForceArgs,
}

/// Builds `vmaf` for the platform and prints where it went.
pub fn libvmaf(args: LibvmafArgs, context: &Context) -> Result<i32> {
    let out = args
        .out
        .unwrap_or_else(|| Utf8PathBuf::from("binaries").join(&args.platform));
    let record = out.join("BUILD.json");
    let built = [
        Output::new(
            "--out's vmaf",
            out.join("vmaf"),
            Written::Vmaf {
                record: record.clone(),
            },
        ),
        Output::new(
            "--out's build record",
            record,
            Written::Kind(LibvmafBuild::SCHEMA),
        ),
    ];
    let inputs = match &args.source {
        Some(source) => Inputs::new().folder("--source", source, |_| true),
        None => Inputs::new(),
    };
    outputs::check(&built, &inputs, args.force.force)?;
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
    /// The `.tar.gz` to write: a new file or a distribution tarball the kit wrote; never one
    /// of the files it packs.
    #[arg(long, value_name = "FILE")]
    pub out: Utf8PathBuf,
    /// The ensemble-kit checkout holding `scripts/` and `schemas/`.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub project_dir: Utf8PathBuf,
    #[command(flatten)]
    pub force: ForceArgs,
}

/// Builds the tarball and prints what it holds.
pub fn tarball(args: TarballArgs) -> Result<i32> {
    let project = &args.project_dir;
    let mut inputs = Inputs::new()
        .folder("--project-dir's scripts", &project.join("scripts"), |_| {
            true
        })
        .folder("--project-dir's schemas", &project.join("schemas"), |_| {
            true
        });
    if let Some(exe) = std::env::current_exe()
        .ok()
        .and_then(|p| Utf8PathBuf::from_path_buf(p).ok())
    {
        inputs = inputs.file("this program", &exe);
    }
    if let Ok(crate_file) = libvmaf::locate_pinned_crate() {
        inputs = inputs.file("the pinned libvmaf crate", &crate_file);
    }
    let tarball = Written::Tar {
        what: "a distribution tarball (its first member ensemble-kit-…/MANIFEST.json)",
        first: |name| name.starts_with("ensemble-kit-") && name.ends_with("/MANIFEST.json"),
    };
    outputs::check(
        &[Output::new("--out", &args.out, tarball)],
        &inputs,
        args.force.force,
    )?;
    let manifest = distribution::build(&args.project_dir, &args.out)?;
    println!(
        "{}: {} files, {}",
        args.out,
        manifest.n_files,
        distribution::prefix()
    );
    Ok(0)
}
