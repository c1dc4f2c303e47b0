//! Progress for people and machines, shared by every stage and thread of one run.
//!
//! - On a terminal: a bar per counted stage (cells, folds) with counts and ETA, log lines printed
//!   above it (`indicatif`).
//! - Not a terminal (CI logs, pipes): plain timestamped lines on stderr, no redraws.
//! - `--message-format json`: NDJSON events on stdout (`schemas/progress-event.schema.json`),
//!   human lines suppressed; warnings still go to stderr.

use crate::schema::ProgressEvent;
use std::io::IsTerminal;
use std::sync::Mutex;
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
    json: bool,
    terminal: bool,
    started: Instant,
    bar: Mutex<Option<indicatif::ProgressBar>>,
}

impl Progress {
    /// A reporter at `verbosity`, emitting NDJSON events when `json`.
    pub fn new(verbosity: Verbosity, json: bool) -> Self {
        Progress {
            verbosity,
            json,
            terminal: std::io::stderr().is_terminal(),
            started: Instant::now(),
            bar: Mutex::new(None),
        }
    }

    /// The verbosity the operator chose.
    pub fn verbosity(&self) -> Verbosity {
        self.verbosity
    }

    /// Whether stdout carries NDJSON events (so nothing else may be printed there).
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Whether human lines are shown at all.
    fn human(&self, at_least: Verbosity) -> bool {
        !self.json && self.verbosity >= at_least
    }

    fn line(&self, tag: &str, message: &str) {
        let text = format!(
            "[{:7.1}s] {tag}{message}",
            self.started.elapsed().as_secs_f64()
        );
        match self.bar.lock().expect("progress lock").as_ref() {
            Some(bar) => bar.println(log_safe(&text)),
            None => to_stderr(&format!("{text}\n")),
        }
    }

    /// Normal progress.
    pub fn info(&self, message: &str) {
        if self.human(Verbosity::Normal) {
            self.line("", message);
        }
    }

    /// Detail for `--verbose`.
    pub fn detail(&self, message: &str) {
        if self.human(Verbosity::Verbose) {
            self.line("", message);
        }
    }

    /// Something the operator should look at; always shown.
    pub fn warn(&self, message: &str) {
        self.line("warning: ", message);
    }

    /// Emits one machine-readable event (only with `--message-format json`).
    pub fn event(&self, event: ProgressEvent) {
        if self.json {
            let event = ProgressEvent {
                elapsed_s: (self.started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
                ..event
            };
            println!(
                "{}",
                serde_json::to_string(&event).expect("events serialise")
            );
        }
    }

    /// A stage starts; counted stages (`total` items) get a bar on a terminal.
    pub fn stage_start(&self, stage: &str, total: Option<u64>) {
        self.event(ProgressEvent::new("stage-start").stage(stage).total(total));
        if let (Some(total), true, true) = (total, self.terminal, self.human(Verbosity::Normal)) {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{prefix:>8} [{bar:30}] {pos}/{len} {elapsed} eta {eta} {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(stage.to_owned());
            *self.bar.lock().expect("progress lock") = Some(bar);
        }
    }

    /// One item of the current counted stage is done.
    pub fn advance(&self, message: &str) {
        if let Some(bar) = self.bar.lock().expect("progress lock").as_ref() {
            bar.inc(1);
            bar.set_message(message.to_owned());
        }
    }

    /// A stage finished.
    pub fn stage_finish(&self, stage: &str) {
        if let Some(bar) = self.bar.lock().expect("progress lock").take() {
            bar.finish_and_clear();
        }
        self.event(ProgressEvent::new("stage-finish").stage(stage));
    }
}

/// Writes to stderr, ignoring failure: a reader that closed the pipe early (`| head`) must not
/// turn a run into a crash.
pub fn to_stderr(text: &str) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(log_safe(text).as_bytes());
}

/// Log text that names from files cannot turn into something else: control characters but line
/// breaks and tabs are escaped, and a line that would start with `::` — a GitHub Actions
/// workflow command (`::error`, `::add-mask`, `::stop-commands`) — is quoted with `> `.
pub fn log_safe(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            escaped.extend(c.escape_default());
        } else {
            escaped.push(c);
        }
    }
    escaped
        .split_inclusive('\n')
        .map(|line| {
            if line.trim_start().starts_with("::") {
                format!("> {line}")
            } else {
                line.to_owned()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_cannot_be_workflow_commands() {
        let text = "seed a\n::error::forged\n  ::add-mask::x\r\x1b[2Jok\n";
        assert_eq!(
            log_safe(text),
            "seed a\n> ::error::forged\n>   ::add-mask::x\\r\\u{1b}[2Jok\n"
        );
    }
}
