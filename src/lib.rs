//! ensemble-kit: retrain and independently re-verify a VMAF regressor ensemble on your own
//! hardware, as one reproducible command.
//!
//! The folders follow the data, each importing only the ones below it (a test keeps the order):
//!
//! ```text
//! command/, cli     the verbs: flags → a stage's request
//! pipeline, bench   several stages in order (`full`, the benchmarks)
//! trust/            the owner's re-checks of a bundle: compare, audit, retrain, evaluate
//! deliver/          PROMOTE → ONNX + sidecars → report → signed, self-checked bundle (verify)
//! learn/            corpus → LOSO × seeds → loso_seed*.json → gate → verdict
//! ingest/           references → cells → encode | decode | vmaf → shard → merge
//! host/             this box and the programs it drives
//! schema/, layout, error, …   the ground: on-disk types, the results folder's names, errors
//! ```
//!
//! Each stage is a function from typed inputs to typed outputs, callable alone (a subcommand)
//! and from the pipeline. A new capability goes as a child beside the module that owns its
//! data, never as a new top-level file. This file only dispatches.

pub mod cli;
pub mod command;

pub mod bench;
pub mod pipeline;

// The five stages, each importing only those below it: trust > deliver > learn > ingest > host.
pub mod deliver;
pub mod host;
pub mod ingest;
pub mod learn;
pub mod trust;

// The ground: shared by every stage, importing none.
pub mod archive;
pub mod atomic;
pub mod budget;
pub mod digest;
pub mod error;
pub mod layout;
pub mod progress;
pub mod schema;
pub mod stats;
pub mod strict_json;
pub mod timestamp;
pub mod walk;

use cli::Cli;
use command::{Command, Context};

/// The binary: parses the process's command line (its `--version` the kit version this binary
/// was built as), runs it, prints an error, and returns the exit code.
pub fn main() -> i32 {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command().version(schema::kit_version()).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            progress::to_stderr(&format!("error: {err}\n"));
            err.exit_code()
        }
    }
}

/// Runs one parsed command line and returns the process exit code (0 ok/PROMOTE, 1 HOLD).
pub fn run(cli: Cli) -> error::Result<i32> {
    let (subcommand, context) = cli.into_parts();
    timestamp::check()?;
    host::tools::children::end_with_the_kit().map_err(|e| {
        error::Error::Environment(format!("cannot watch for termination signals: {e}"))
    })?;
    dispatch(subcommand, &context)
}

/// Hands a subcommand to the function of `command` that runs it.
fn dispatch(subcommand: Command, context: &Context) -> error::Result<i32> {
    match subcommand {
        Command::Request(args) => command::request::request(args),
        Command::Full(args) => command::full::full(args, context),
        Command::Report(args) => command::deliver::report(args, context),
        Command::Merge(args) => command::corpus::merge(args, context),
        Command::ImportCorpus(args) => command::corpus::import(args, context),
        Command::Platform(args) => command::inspect::platform(args),
        Command::Doctor(args) => command::inspect::doctor(args, context),
        Command::Corpus(args) => command::corpus::corpus(args, context),
        Command::Train(args) => command::train::train(args, context),
        Command::Verdict(args) => command::train::verdict(args, context),
        Command::Export(args) => command::deliver::export(args, context),
        Command::Bundle(args) => command::deliver::bundle(args, context),
        Command::Verify(args) => command::deliver::verify(args, context),
        Command::Compare(args) => command::deliver::compare(args),
        Command::Install(args) => command::install::install(args, context),
        Command::Evaluate(args) => command::evaluate::evaluate(args),
        Command::PackCorpus(args) => command::transport::pack(args, context),
        Command::ExtractCorpus(args) => command::transport::extract(args, context),
        Command::BuildLibvmaf(args) => command::build::libvmaf(args, context),
        Command::MakeDistributionTarball(args) => command::build::tarball(args),
        Command::Schema(args) => command::inspect::schema(args, context),
        Command::Validate(args) => command::inspect::validate(args),
        Command::Bench(args) => command::bench::bench(args, context),
    }
}
