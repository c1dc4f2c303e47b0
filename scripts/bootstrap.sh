#!/usr/bin/env bash
# Installs what ensemble-kit needs on this machine, idempotently:
#   - ffmpeg and the libvmaf build tools (apt on Debian/Ubuntu, Homebrew on macOS);
#   - the pinned libvmaf source (libvmaf 2.3.1, vendored by the crates.io crate libvmaf-sys
#     0.4.4, fetched with cargo and checked against its sha256);
#   - the `vmaf` CLI built from it into $CACHE/libvmaf-2.3.1/bin/vmaf, where the kit looks.
# A second run finds everything in place and does nothing.
#
# Cache folder: $ENSEMBLE_KIT_CACHE, else $XDG_CACHE_HOME/ensemble-kit, else ~/.cache/ensemble-kit
# (the same rule as the kit). Set ENSEMBLE_KIT_SKIP_PACKAGES=1 to skip apt/brew, and
# ENSEMBLE_KIT_LIBVMAF_CRATE=FILE to use a copy of the pinned crate instead of fetching it with
# cargo (the distribution tarball ships one, so machines without Rust need no cargo).
set -euo pipefail

LIBVMAF_VERSION=2.3.1
CRATE=libvmaf-sys
CRATE_VERSION=0.4.4
CRATE_SHA256=8b053ec5f32c6ba5ae9a51d2bbef0abd35e34033ad83c7b331bfec3e04df79a6

CACHE=${ENSEMBLE_KIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ensemble-kit}
PREFIX="$CACHE/libvmaf-$LIBVMAF_VERSION"
VMAF="$PREFIX/bin/vmaf"

say() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { printf 'bootstrap: error: %s\n' "$*" >&2; exit 2; }
have() { command -v "$1" >/dev/null 2>&1; }

install_packages() {
  [ "${ENSEMBLE_KIT_SKIP_PACKAGES:-0}" = 1 ] && return 0
  local need=()
  case "$(uname -s)" in
    Linux)
      for tool in ffmpeg meson ninja nasm xxd cc c++ pkg-config; do have "$tool" || need+=("$tool"); done
      [ ${#need[@]} -eq 0 ] && return 0
      have apt-get || die "missing ${need[*]} and no apt-get here; install them with your package manager"
      local sudo=()
      [ "$(id -u)" -ne 0 ] && sudo=(sudo)
      say "installing packages for: ${need[*]}"
      "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
      "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        ffmpeg meson ninja-build nasm xxd gcc g++ pkg-config ca-certificates >/dev/null
      ;;
    Darwin)
      for tool in ffmpeg meson ninja nasm; do have "$tool" || need+=("$tool"); done
      [ ${#need[@]} -eq 0 ] && return 0
      have brew || die "missing ${need[*]}; install Homebrew (https://brew.sh) first"
      say "brew install ${need[*]}"
      brew install ffmpeg meson ninja nasm
      ;;
    *) die "unsupported OS $(uname -s)";;
  esac
}

sha256_of() {
  if have sha256sum; then sha256sum "$1" | cut -d' ' -f1; else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

# Fetches the pinned crate with cargo (the registry's ordinary client) and prints its path.
fetch_crate() {
  have cargo || die "cargo is needed to fetch the pinned libvmaf source; install Rust (rustup)"
  local work="$CACHE/fetch-$CRATE-$CRATE_VERSION"
  mkdir -p "$work/src"
  cat > "$work/Cargo.toml" <<TOML
[package]
name = "ensemble-kit-libvmaf-fetch"
version = "0.0.0"
edition = "2021"
[dependencies]
$CRATE = { version = "=$CRATE_VERSION", default-features = false }
TOML
  echo 'fn main() {}' > "$work/src/main.rs"
  (cd "$work" && cargo fetch --quiet >&2)
  local home=${CARGO_HOME:-$HOME/.cargo}
  local crate
  crate=$(ls "$home"/registry/cache/*/"$CRATE-$CRATE_VERSION.crate" 2>/dev/null | head -n1)
  [ -n "$crate" ] || die "cargo fetch did not leave $CRATE-$CRATE_VERSION.crate in $home/registry/cache"
  printf '%s\n' "$crate"
}

build_vmaf() {
  if [ -x "$VMAF" ] && [ "$("$VMAF" --version 2>&1)" = "$LIBVMAF_VERSION" ]; then
    say "vmaf $LIBVMAF_VERSION already built: $VMAF"
    return 0
  fi
  local crate actual src build
  crate=${ENSEMBLE_KIT_LIBVMAF_CRATE:-}
  [ -n "$crate" ] || crate=$(fetch_crate)
  [ -f "$crate" ] || die "the pinned libvmaf crate $crate does not exist"
  actual=$(sha256_of "$crate")
  [ "$actual" = "$CRATE_SHA256" ] || die "$crate has sha256 $actual, expected $CRATE_SHA256; refusing to build"
  src="$CACHE/src-$CRATE-$CRATE_VERSION"
  rm -rf "$src" && mkdir -p "$src"
  tar -xzf "$crate" -C "$src" --strip-components=1
  # meson must run at the libvmaf subdirectory, not the repository root.
  build="$src/build"
  say "building libvmaf $LIBVMAF_VERSION (meson at vmaf/libvmaf)"
  meson setup "$build" "$src/vmaf/libvmaf" --buildtype=release -Denable_float=true \
    -Ddefault_library=static -Denable_tests=false -Denable_docs=false >"$CACHE/meson-setup.log" 2>&1 \
    || { tail -n 20 "$CACHE/meson-setup.log" >&2; die "meson setup failed (log: $CACHE/meson-setup.log)"; }
  ninja -C "$build" tools/vmaf >"$CACHE/ninja.log" 2>&1 \
    || { tail -n 20 "$CACHE/ninja.log" >&2; die "ninja failed (log: $CACHE/ninja.log)"; }
  mkdir -p "$PREFIX/bin"
  cp "$build/tools/vmaf" "$VMAF.tmp" && mv "$VMAF.tmp" "$VMAF"
  local version
  version=$("$VMAF" --version 2>&1)
  [ "$version" = "$LIBVMAF_VERSION" ] || die "built vmaf reports version $version, expected $LIBVMAF_VERSION"
  rm -rf "$src"
  say "built $VMAF ($version)"
}

mkdir -p "$CACHE"
install_packages
have ffmpeg || die "ffmpeg is still missing after the package step"
build_vmaf
say "ready: ffmpeg $(ffmpeg -hide_banner -version | head -n1 | cut -d' ' -f3), vmaf $("$VMAF" --version 2>&1)"
