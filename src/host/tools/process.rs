//! The one wrapper every external command goes through: it keeps the command line for error
//! messages and turns a failure into an [`Error::Tool`] carrying the tail of stderr.

use crate::error::{Error, Result};
use camino::{Utf8Path, Utf8PathBuf};

/// How many trailing stderr lines an error message shows.
const STDERR_TAIL_LINES: usize = 12;

/// A program plus its arguments, built by `tools::ffmpeg` or `tools::vmaf` and run here.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// Absolute or PATH-relative program.
    pub program: Utf8PathBuf,
    /// Arguments, without the program.
    pub args: Vec<String>,
}

impl Invocation {
    /// A new invocation of `program` with `args`.
    pub fn new(program: &Utf8Path, args: Vec<String>) -> Self {
        Invocation {
            program: program.to_owned(),
            args,
        }
    }

    /// The command line as a shell would show it, for logs and error messages.
    pub fn display(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .map(shell_quote)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The duct expression for this invocation; callers choose its redirections.
    pub fn expression(&self) -> duct::Expression {
        duct::cmd(self.program.as_str(), &self.args)
    }

    /// Runs to completion capturing stdout and stderr, whatever the exit status; only a
    /// program that cannot start is an error.
    pub fn capture(&self, what: &str) -> Result<std::process::Output> {
        let handle = self
            .expression()
            .stdin_null()
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .start()
            .map_err(|e| self.failure(what, format!("could not start: {e}"), b""))?;
        let _running = super::children::register(handle.pids());
        handle
            .into_output()
            .map_err(|e| self.failure(what, format!("could not be waited for: {e}"), b""))
    }

    /// Runs to completion capturing stdout and stderr; a non-zero exit becomes [`Error::Tool`].
    pub fn output(&self, what: &str) -> Result<std::process::Output> {
        let output = self.capture(what)?;
        if output.status.success() {
            Ok(output)
        } else {
            Err(self.failure(what, output.status.to_string(), &output.stderr))
        }
    }

    /// Builds the error for a failed run of this invocation.
    pub fn failure(&self, what: &str, status: String, stderr: &[u8]) -> Error {
        Error::Tool {
            what: what.to_owned(),
            command: self.display(),
            status,
            stderr_tail: stderr_tail(stderr),
        }
    }
}

/// The last few lines of a program's stderr, lossily decoded.
pub fn stderr_tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return "(stderr was empty)".to_owned();
    }
    lines[lines.len().saturating_sub(STDERR_TAIL_LINES)..].join("\n")
}

fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_carries_command_and_stderr_tail() {
        let inv = Invocation::new(
            Utf8Path::new("sh"),
            vec!["-c".into(), "echo one >&2; echo two >&2; exit 3".into()],
        );
        let err = inv.output("a test").unwrap_err().to_string();
        assert!(err.contains("a test failed"), "{err}");
        assert!(err.contains("one\ntwo"), "{err}");
        assert!(err.contains("'echo one"), "{err}");
    }

    #[test]
    fn tail_keeps_last_lines_only() {
        let text: String = (0..30).map(|i| format!("line{i}\n")).collect();
        let tail = stderr_tail(text.as_bytes());
        assert!(tail.starts_with("line18"));
        assert!(tail.ends_with("line29"));
    }
}
