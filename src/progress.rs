//! Progress and diagnostics for people: timestamped lines on stderr, so that logs in CI read
//! the same as a terminal. Stdout stays reserved for machine-readable output.

use std::time::Instant;

/// How much the operator wants to hear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// Only warnings and errors.
    Quiet,
    /// Stage and cell progress.
    Normal,
    /// Also every command line run.
    Verbose,
}

/// A reporter shared by all stages and threads of one run.
#[derive(Debug)]
pub struct Progress {
    verbosity: Verbosity,
    started: Instant,
}

impl Progress {
    /// A reporter at `verbosity`, timing from now.
    pub fn new(verbosity: Verbosity) -> Self {
        Progress {
            verbosity,
            started: Instant::now(),
        }
    }

    /// The verbosity the operator chose.
    pub fn verbosity(&self) -> Verbosity {
        self.verbosity
    }

    fn line(&self, tag: &str, message: &str) {
        let secs = self.started.elapsed().as_secs_f64();
        eprintln!("[{secs:7.1}s] {tag}{message}");
    }

    /// Normal progress.
    pub fn info(&self, message: &str) {
        if self.verbosity >= Verbosity::Normal {
            self.line("", message);
        }
    }

    /// Detail for `--verbose`.
    pub fn detail(&self, message: &str) {
        if self.verbosity >= Verbosity::Verbose {
            self.line("", message);
        }
    }

    /// Something the operator should look at; always shown.
    pub fn warn(&self, message: &str) {
        self.line("warning: ", message);
    }
}
