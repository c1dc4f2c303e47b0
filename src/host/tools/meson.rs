//! The meson and ninja command lines that build libvmaf's `vmaf` CLI.

use super::process::Invocation;
use camino::Utf8Path;

/// `meson setup BUILD ROOT OPTIONS…` (ROOT is the libvmaf folder, not the repository root).
pub fn setup(
    meson: &Utf8Path,
    build: &Utf8Path,
    root: &Utf8Path,
    options: &[String],
) -> Invocation {
    let mut args = vec!["setup".to_owned(), build.to_string(), root.to_string()];
    args.extend(options.iter().cloned());
    Invocation::new(meson, args)
}

/// `ninja -C BUILD tools/vmaf`: only the CLI and the library it links.
pub fn build_cli(ninja: &Utf8Path, build: &Utf8Path) -> Invocation {
    Invocation::new(
        ninja,
        vec!["-C".into(), build.to_string(), "tools/vmaf".into()],
    )
}
