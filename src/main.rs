//! The `ensemble-kit` binary: parse the command line, run it, map the outcome to an exit code.

fn main() {
    std::process::exit(ensemble_kit::main());
}
