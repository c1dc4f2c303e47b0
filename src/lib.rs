//! ensemble-kit: retrain and independently re-verify a VMAF regressor ensemble on your own
//! hardware, as one reproducible command.
//!
//! The data flows through one module per stage — `platform`, `sources`, `corpus`, … — each a
//! function from typed inputs to typed outputs, callable alone (a subcommand) and from the
//! pipeline. `tools` owns the external programs, `schema` every on-disk type, `layout` the
//! results folder, `error` every message; `command` turns each subcommand's flags into a
//! stage's request. This file only dispatches.
//!
//! Commands whose stage module has another name: `full` → `pipeline`, `verdict` → `gate`,
//! `pack-corpus`/`extract-corpus` → `transport`, `import-corpus` → `import`,
//! `make-distribution-tarball` → `distribution`, `build-libvmaf` → `libvmaf`. What `train` and
//! `export` read is `merge::Corpus`: one or more shards, merged.

pub mod archive;
pub mod atomic;
pub mod audit;
pub mod bench;
pub mod budget;
pub mod cli;
pub mod command;
pub mod compare;
pub mod deliver;
pub mod digest;
pub mod error;
pub mod evaluate;
pub mod host;
pub mod ingest;
pub mod layout;
pub mod learn;
pub mod pipeline;
pub mod progress;
pub mod retrain;
pub mod schema;
pub mod stats;
pub mod strict_json;
pub mod timestamp;
pub mod walk;

use cli::Cli;
use command::{Command, Context};

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
