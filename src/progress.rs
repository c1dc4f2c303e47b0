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
            json_to_stdout(&format!(
                "{}\n",
                serde_json::to_string(&event).expect("events serialise")
            ));
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
/// turn a run into a crash. The text goes through [`log_safe`].
pub fn to_stderr(text: &str) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(log_safe(text).as_bytes());
}

/// Writes human text to stdout through [`log_safe`] (a CI runner reads stdout for workflow
/// commands as it reads stderr), ignoring a closed pipe as [`to_stderr`] does.
pub fn to_stdout(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().write_all(log_safe(text).as_bytes());
}

/// Writes a JSON document to stdout with `##[` spelled `#\u0023[` (the same string to a JSON
/// reader, nothing to a CI runner); JSON escapes line breaks itself.
pub fn json_to_stdout(json: &str) {
    use std::io::Write;
    let _ = std::io::stdout().write_all(json.replace(V2_COMMAND, "#\\u0023[").as_bytes());
}

/// How GitHub's runner recognises a workflow command of the second syntax: anywhere in a line
/// (`##[error]…`, `##[add-mask]…`, `##[stop-commands]…`).
const V2_COMMAND: &str = "##[";
/// How it recognises one of the first syntax: at the start of a line, after blanks.
const V1_COMMAND: &str = "::";

/// Text that came from outside the kit — a source name, a principal, a namespace, a path, a
/// tool's message — as the kit prints it: on one line (every control character escaped, a line
/// break as `\n`, so such text never starts a line of its own) and unable to act as a GitHub
/// Actions workflow command in either syntax (see [`log_safe`]). Every printer passes outside
/// text through here, and every printed text through [`log_safe`].
pub fn outside(text: &str) -> String {
    defuse(&escape(text, |_| true))
}

/// A whole text for a log, its own line breaks and tabs kept: other control characters are
/// escaped, a line that would start with `::` (after blanks) — the runner's first command
/// syntax (`::error`, `::add-mask`, `::stop-commands`) — is quoted with `> `, and `##[`, the
/// second syntax, which the runner obeys anywhere in a line, is spelled `#\#[`.
pub fn log_safe(text: &str) -> String {
    escape(text, |c| c != '\n' && c != '\t')
        .split_inclusive('\n')
        .map(defuse)
        .collect()
}

/// `text` with the control characters `escaped` picks written as Rust escapes (`\n`, `\u{1b}`).
fn escape(text: &str, escaped: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && escaped(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// One line that cannot be a workflow command: `##[` broken up anywhere, a leading `::` quoted.
fn defuse(line: &str) -> String {
    let mut line = line.to_owned();
    while line.contains(V2_COMMAND) {
        line = line.replace(V2_COMMAND, "#\\#[");
    }
    if line.trim_start().starts_with(V1_COMMAND) {
        line.insert_str(0, "> ");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_cannot_be_workflow_commands() {
        let text = "seed a\n::error::forged\n  ::add-mask::x\r\x1b[2Jok\nx ##[error]y ###[z\n";
        assert_eq!(
            log_safe(text),
            "seed a\n> ::error::forged\n>   ::add-mask::x\\r\\u{1b}[2Jok\nx #\\#[error]y ##\\#[z\n"
        );
    }

    #[test]
    fn outside_text_stays_on_its_line_and_does_nothing() {
        let name = "a\n::error::x\t##[add-mask]y";
        let safe = outside(name);
        assert_eq!(safe, "a\\n::error::x\\t#\\#[add-mask]y");
        assert!(!safe.contains('\n') && !safe.contains("##["));
        assert_eq!(outside("::stop-commands::t"), "> ::stop-commands::t");
        let line = format!("  {}  0.99\n", outside("\u{85}::warning::w"));
        assert_eq!(
            log_safe(&line),
            line,
            "an escaped name needs no second pass"
        );
    }
}
