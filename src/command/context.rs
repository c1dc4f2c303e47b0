//! What every command runs with, set by the global flags.

use crate::host::tools::ToolOverrides;
use crate::progress::Progress;

/// What every command runs with, from the global flags.
pub struct Context {
    /// Where progress, warnings and events go.
    pub progress: Progress,
    /// `--ffmpeg` and `--vmaf`.
    pub overrides: ToolOverrides,
}
