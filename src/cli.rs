//! The command line's global flags; the subcommands and their own flags live in
//! [`crate::command`].

use crate::command::{Command, Context};
use crate::host::tools::ToolOverrides;
use crate::progress::{Progress, Verbosity};
use camino::Utf8PathBuf;
use clap::Parser;

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

const EXIT_CODES: &str = "Exit codes: 0 ok (PROMOTE; compare: CONFIRMS), 1 HOLD (compare: \
DISAGREES), 2 bad input or environment, 3 compare: NOT COMPARABLE, 4 compare: CONSISTENT \
(claimed, not proven), 5 verify --retrain: the bundle verifies but needs another ensemble-kit \
version to train again.";

impl Cli {
    /// The subcommand, and the context the global flags set for it.
    pub fn into_parts(self) -> (Command, Context) {
        let verbosity = match (self.quiet, self.verbose) {
            (true, _) => Verbosity::Quiet,
            (_, true) => Verbosity::Verbose,
            _ => Verbosity::Normal,
        };
        let context = Context {
            progress: Progress::new(verbosity, self.message_format == "json"),
            overrides: ToolOverrides {
                ffmpeg: self.ffmpeg,
                vmaf: self.vmaf,
            },
        };
        (self.command, context)
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// clap's own consistency checks (unknown ids in groups, conflicts and requirements); they
    /// run only in debug builds, so `cargo test` without `--release` is where this bites.
    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
