#!/usr/bin/env bash
# The GitHub Action's one step. Every input arrives in an environment variable (KIT_*), never
# spliced into shell text; arguments are passed as an array, so nothing is re-interpreted.
# Writes the step outputs to $GITHUB_OUTPUT and a verdict table to $GITHUB_STEP_SUMMARY.
set -euo pipefail

action_path=${KIT_ACTION_PATH:?KIT_ACTION_PATH is not set}
out_dir=${KIT_OUT_DIR:-ensemble-results}

argv=(full --out-dir "$out_dir" --cqs "${KIT_CQS:-19,25,31,37}" --seeds "${KIT_SEEDS:-0,1,2,3,4}")
if [ -n "${KIT_REF_DIR:-}" ]; then argv+=(--ref-dir "$KIT_REF_DIR"); else argv+=(--demo); fi
if [ -n "${KIT_ENCODERS:-}" ]; then argv+=(--encoders "$KIT_ENCODERS"); fi
if [ -n "${KIT_ARGS:-}" ]; then
  read -r -a extra <<<"$KIT_ARGS"
  argv+=("${extra[@]}")
fi

if [ "${KIT_USE_NIX:-true}" = true ]; then
  kit=(nix run "$action_path#default" --)
elif [ -n "${ENSEMBLE_KIT_BIN:-}" ]; then
  kit=("$ENSEMBLE_KIT_BIN")
elif command -v ensemble-kit >/dev/null 2>&1; then
  kit=(ensemble-kit)
else
  "$action_path/scripts/bootstrap.sh"
  cargo build --release --quiet --manifest-path "$action_path/Cargo.toml"
  kit=("$action_path/target/release/ensemble-kit")
fi

status=0
"${kit[@]}" "${argv[@]}" || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 1 ]; then
  echo "::error title=ensemble-kit::the run failed (exit $status); see the log above" >&2
  exit "$status"
fi

report() { "${kit[@]}" report --out-dir "$out_dir" --format "$1"; }
report outputs >>"${GITHUB_OUTPUT:-/dev/stdout}"
report markdown >>"${GITHUB_STEP_SUMMARY:-/dev/stdout}"

if [ "$status" -eq 1 ] && [ "${KIT_FAIL_ON_HOLD:-false}" = true ]; then
  echo "::error title=ensemble-kit::the gate said HOLD" >&2
  exit 1
fi
