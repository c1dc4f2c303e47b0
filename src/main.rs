//! The `ensemble-kit` binary: parse the command line, run it, map the outcome to an exit code.

use clap::Parser;

fn main() {
    let cli = ensemble_kit::cli::Cli::parse();
    let code = match ensemble_kit::run(cli) {
        Ok(code) => code,
        Err(err) => {
            ensemble_kit::progress::to_stderr(&format!("error: {err}\n"));
            err.exit_code()
        }
    };
    std::process::exit(code);
}
