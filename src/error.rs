//! Every error the kit can report, written in one place.
//!
//! Each variant says what failed and with which path or tool, so the message the operator reads
//! is composed here and nowhere else. All but one exit with code 2 ("bad input or
//! environment"); a HOLD verdict is not an error and never travels through this type.

use camino::{Utf8Path, Utf8PathBuf};

/// The kit's error type; its `Display` is the one sentence printed to the operator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input the operator gave us is wrong: a flag, a folder, a file's contents.
    #[error("{0}")]
    Input(String),

    /// The machine lacks something the run needs (a tool, an encoder, disk space).
    #[error("{0}")]
    Environment(String),

    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder involved.
        path: Utf8PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },

    /// An external program exited unsuccessfully; the tail of its stderr is kept.
    #[error("{what} failed ({status}): `{command}`\n--- last lines of stderr ---\n{stderr_tail}")]
    Tool {
        /// What we were doing, in words ("encode cell foo/libx264/cq25").
        what: String,
        /// The command line, for copy-paste reproduction.
        command: String,
        /// Exit status or the reason it did not run.
        status: String,
        /// The last lines the program wrote to stderr.
        stderr_tail: String,
    },

    /// A file the kit reads does not match its schema.
    #[error("{path}{}: {field}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        /// The file that failed validation.
        path: Utf8PathBuf,
        /// 1-based line number for JSON Lines files.
        line: Option<usize>,
        /// JSON pointer of the offending field ("/" for the whole document).
        field: String,
        /// What is wrong with it.
        message: String,
    },

    /// A verified bundle that this kit cannot train again: it records a recipe revision this
    /// kit does not implement. Not a fault of the bundle (exit 5, not 2).
    #[error("{what} was trained by recipe revision {revision} (ensemble-kit {kit_version}), and this kit (ensemble-kit {this_kit}) trains revision(s) {implemented}: the bundle's hashes, signature and verdict check out, but to re-derive its bytes retrain with ensemble-kit {kit_version}")]
    OtherRevision {
        /// The file that records the revision.
        what: String,
        /// The revision it records.
        revision: u32,
        /// The kit version that trained it.
        kit_version: String,
        /// This kit's version.
        this_kit: String,
        /// The revisions this kit implements.
        implemented: String,
    },

    /// Some corpus cells failed and the operator did not allow that.
    #[error("{count} cell(s) failed; finished cells are kept and a re-run resumes. Pass --allow-failed-cells to write the shard without them.\n{details}")]
    CellsFailed {
        /// How many cells failed.
        count: usize,
        /// One block per failed cell: its name and the error.
        details: String,
    },
}

impl Error {
    /// Wraps an I/O error with the path it concerned.
    pub fn io(path: impl Into<Utf8PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The same error with every path below `root` — the folder a bundle was extracted into,
    /// which is gone when the command ends — named as the member of `bundle` it was read from
    /// (`BUNDLE!path`, as [`crate::archive::member_label`] writes it).
    pub fn as_members_of(self, bundle: &Utf8Path, root: &Utf8Path) -> Error {
        let name = |text: String| members_of(&text, bundle, root);
        let path = |p: Utf8PathBuf| Utf8PathBuf::from(name(p.into_string()));
        match self {
            Error::Input(m) => Error::Input(name(m)),
            Error::Environment(m) => Error::Environment(name(m)),
            Error::Io { path: p, source } => Error::Io {
                path: path(p),
                source,
            },
            Error::Tool {
                what,
                command,
                status,
                stderr_tail,
            } => Error::Tool {
                what: name(what),
                command: name(command),
                status,
                stderr_tail: name(stderr_tail),
            },
            Error::Invalid {
                path: p,
                line,
                field,
                message,
            } => Error::Invalid {
                path: path(p),
                line,
                field,
                message: name(message),
            },
            Error::CellsFailed { count, details } => Error::CellsFailed {
                count,
                details: name(details),
            },
            Error::OtherRevision {
                what,
                revision,
                kit_version,
                this_kit,
                implemented,
            } => Error::OtherRevision {
                what: name(what),
                revision,
                kit_version,
                this_kit,
                implemented,
            },
        }
    }

    /// The documented process exit code for this error: 5 for a bundle that needs another kit
    /// version to be trained again, 2 (bad input or environment) for everything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::OtherRevision { .. } => 5,
            _ => 2,
        }
    }
}

/// `text` with every path below `root` (an extracted bundle) named as the member of `bundle`
/// it was read from, `BUNDLE!path`; see [`Error::as_members_of`].
pub fn members_of(text: &str, bundle: &Utf8Path, root: &Utf8Path) -> String {
    text.replace(&format!("{root}/"), &format!("{bundle}!"))
        .replace(root.as_str(), bundle.as_str())
}

/// The kit's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
