#!/usr/bin/env bash
# Runs ensemble-kit by the first path that works on this machine, and says which one it took:
#   1. Nix: `nix run` on the flake beside this script, when a Nix new enough for the pinned crane
#      (NIX_MIN_VERSION) is on PATH; flakes are switched on for this one command, so a Nix
#      without them in its configuration works too;
#   2. the binary in $ENSEMBLE_KIT_BIN, else `ensemble-kit` on PATH;
#   3. a release build of this checkout with cargo (after scripts/bootstrap.sh).
# KIT_USE_NIX picks among them: `auto` (the default) tries them in that order, `true` allows only
# Nix and fails when it is unusable, `false` skips Nix. Any case is accepted; other values fail.
#
# Executed: `scripts/kit.sh ARGS…` runs `ensemble-kit ARGS…`. Sourced (as scripts/action-run.sh
# does): defines `resolve_kit`, which fills the array `kit` and the string `kit_path`.
# Failures of the resolution itself exit 2 with a sentence, never 1, which means HOLD.

NIX_MIN_VERSION=2.31.2

# Text that came from outside (inputs, paths) as a log line, by the kit's own rule for such text
# (`ensemble-kit`'s progress::outside): control characters, line breaks included, shown as `?`
# so it never starts a line, and `##[` — a workflow command anywhere in a line — as `#\#[`.
log_safe() {
  printf '%s' "$*" | LC_ALL=C tr '[:cntrl:]' '?' | sed -e ':a' -e 's/##\[/#\\#[/' -e 'ta'
}

# On a GitHub runner the message becomes an error annotation.
kit_die() {
  if [ "${GITHUB_ACTIONS:-}" = true ]; then
    printf '::error title=ensemble-kit::%s\n' "$(log_safe "$*")" >&2
  else
    printf 'ensemble-kit: error: %s\n' "$(log_safe "$*")" >&2
  fi
  exit 2
}

# Prints why Nix cannot run the flake here, or nothing when it can.
nix_unusable() {
  command -v nix >/dev/null 2>&1 || { echo "no nix on PATH"; return; }
  local version
  version=$(nix --version 2>/dev/null | awk '{print $NF}')
  [ -n "$version" ] || { echo "\`nix --version\` printed nothing"; return; }
  if ! awk -v have="$version" -v need="$NIX_MIN_VERSION" 'BEGIN {
    split(have, h, "."); split(need, w, ".")
    for (i = 1; i <= 3; i++) if (h[i] + 0 != w[i] + 0) exit !(h[i] + 0 > w[i] + 0)
  }'; then
    echo "nix $version is older than $NIX_MIN_VERSION, the oldest the pinned crane supports"
  fi
}

resolve_kit() {
  local root use why
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  use=$(printf '%s' "${KIT_USE_NIX:-auto}" | tr '[:upper:]' '[:lower:]')
  case "$use" in
    auto | true | false) ;;
    *) kit_die "use-nix must be auto, true or false, not \`${KIT_USE_NIX}\`" ;;
  esac
  if [ "$use" != false ]; then
    why=$(nix_unusable)
    if [ -z "$why" ]; then
      kit=(nix --extra-experimental-features "nix-command flakes" run "$root#default" --)
      kit_path="Nix (flake at $root)"
      printf 'ensemble-kit: using %s\n' "$(log_safe "$kit_path")" >&2
      return 0
    fi
    [ "$use" = true ] && kit_die "use-nix is true but $why; install Nix >= $NIX_MIN_VERSION or set use-nix to auto"
    printf 'ensemble-kit: not using Nix: %s\n' "$(log_safe "$why")" >&2
  fi
  if [ -n "${ENSEMBLE_KIT_BIN:-}" ]; then
    kit=("$ENSEMBLE_KIT_BIN")
    kit_path="the binary in ENSEMBLE_KIT_BIN ($ENSEMBLE_KIT_BIN)"
  elif command -v ensemble-kit >/dev/null 2>&1; then
    kit=("$(command -v ensemble-kit)")
    kit_path="ensemble-kit from PATH (${kit[0]})"
  else
    command -v cargo >/dev/null 2>&1 ||
      kit_die "no usable Nix, no ensemble-kit on PATH and no cargo to build it; install one of them"
    printf 'ensemble-kit: building %s with cargo\n' "$(log_safe "$root")" >&2
    "$root/scripts/bootstrap.sh" >&2
    CARGO_TARGET_DIR="$root/target" cargo build --release --locked --quiet \
      --manifest-path "$root/Cargo.toml" >&2
    kit=("$root/target/release/ensemble-kit")
    kit_path="a cargo build of $root"
  fi
  printf 'ensemble-kit: using %s\n' "$(log_safe "$kit_path")" >&2
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  resolve_kit
  exec "${kit[@]}" "$@"
fi
