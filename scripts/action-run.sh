#!/usr/bin/env bash
# The GitHub Action's one step. Every input arrives in an environment variable (KIT_*), never
# spliced into shell text; arguments are passed as an array, so nothing is re-interpreted.
# Writes the step outputs to $GITHUB_OUTPUT (delimiter form) and a verdict table to
# $GITHUB_STEP_SUMMARY.
#
# Exit codes: 0 PROMOTE; 1 HOLD with `fail-on-hold` (outputs written); 2 a bad input or a run
# that ended without a verdict (anything that is not a HOLD, e.g. a Nix failure).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/kit.sh
source "$here/kit.sh"

# Inputs and paths in messages go through kit.sh's log_safe: none can act as a workflow command.
fail() {
  echo "::error title=ensemble-kit::$(log_safe "$*")" >&2
  exit 2
}

# Inputs that are one value must be one line: a newline in a path or list is a mistake or an
# attempt to smuggle lines into $GITHUB_OUTPUT.
for name in KIT_REF_DIR KIT_ENCODERS KIT_CQS KIT_SEEDS KIT_OUT_DIR KIT_CELL_DIR KIT_USE_NIX \
  KIT_FAIL_ON_HOLD KIT_MISSING_BOXES KIT_ATTEST; do
  case "${!name:-}" in
    *$'\n'* | *$'\r'*) fail "input ${name#KIT_} must be a single line" ;;
  esac
done

# `true`/`false` in any case; anything else is an error rather than a silent `false`.
bool() {
  case "$(printf '%s' "$2" | tr '[:upper:]' '[:lower:]')" in
    true) echo true ;;
    false | '') echo false ;;
    *) fail "input $1 must be true or false, not \`$2\`" ;;
  esac
}
fail_on_hold=$(bool fail-on-hold "${KIT_FAIL_ON_HOLD:-false}")
# `attest` is acted on by the action's next step; a value it would not recognise fails here.
attest=$(bool attest "${KIT_ATTEST:-false}")

# Lines of a multi-line input, without carriage returns and empty lines.
lines() { printf '%s\n' "$1" | tr -d '\r' | sed '/^[[:space:]]*$/d'; }

out_dir=${KIT_OUT_DIR:-ensemble-results}
argv=(full --out-dir "$out_dir" --cqs "${KIT_CQS:-19,25,31,37}" --seeds "${KIT_SEEDS:-0,1,2,3,4}")

shards=()
while IFS= read -r pattern; do
  found=0
  while IFS= read -r match; do
    shards+=("$match")
    found=1
  done < <(compgen -G "$pattern" | LC_ALL=C sort || true)
  [ "$found" = 1 ] || fail "corpus: nothing matches \`$pattern\`"
done < <(lines "${KIT_CORPUS:-}")

if [ ${#shards[@]} -gt 0 ]; then
  [ -z "${KIT_REF_DIR:-}" ] || fail "give ref-dir or corpus, not both"
  for shard in "${shards[@]}"; do
    case "$shard" in *,*) fail "corpus: shard path \`$shard\` contains a comma; rename it" ;; esac
    argv+=(--corpus "$shard")
  done
else
  if [ -n "${KIT_REF_DIR:-}" ]; then argv+=(--ref-dir "$KIT_REF_DIR"); else argv+=(--demo); fi
  # Finished cells live outside the workspace, which checkout cleans, so a box resumes.
  argv+=(--cell-dir "${KIT_CELL_DIR:-${RUNNER_TOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}}/ensemble-kit/cells}")
fi
if [ -n "${KIT_ENCODERS:-}" ]; then argv+=(--encoders "$KIT_ENCODERS"); fi

missing=()
boxes_text=${KIT_MISSING_BOXES:-}
read -r -a boxes <<<"${boxes_text//,/ }"
for box in ${boxes[@]+"${boxes[@]}"}; do
  [[ "$box" =~ ^[A-Za-z0-9._-]+$ ]] || fail "missing-boxes: \`$box\` is not a runner label"
  missing+=("$box")
  argv+=(--missing-box "$box")
done

while IFS= read -r arg; do argv+=("$arg"); done < <(lines "${KIT_ARGS:-}")

resolve_kit

# A HOLD is exit 1 *and* a HOLD.json written by this run; the kit replaces it atomically, so a
# fresh one is newer than the stamp or has another inode.
stamp=$(mktemp)
trap 'rm -f "$stamp"' EXIT
inode() { ls -i "$1" 2>/dev/null | awk '{print $1}' || true; }
hold_before=$(inode "$out_dir/HOLD.json")
status=0
"${kit[@]}" "${argv[@]}" || status=$?
hold_now=$(inode "$out_dir/HOLD.json")
fresh_hold=false
if [ -n "$hold_now" ] && { [ "$hold_now" != "$hold_before" ] || [ "$out_dir/HOLD.json" -nt "$stamp" ]; }; then
  fresh_hold=true
fi
if [ "$status" -ne 0 ] && { [ "$status" -ne 1 ] || [ "$fresh_hold" != true ]; }; then
  fail "ensemble-kit ended with exit $status and no verdict (via $kit_path); see the log above"
fi

report=$("${kit[@]}" report --out-dir "$out_dir" --format outputs)
markdown=$("${kit[@]}" report --out-dir "$out_dir" --format markdown)

# Every output in the delimiter form, with a delimiter no value can contain.
delimiter="ensemble_kit_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
{
  while IFS='=' read -r key value; do
    case "$value" in *"$delimiter"*) fail "output $key contains the delimiter" ;; esac
    printf '%s<<%s\n%s\n%s\n' "$key" "$delimiter" "$value" "$delimiter"
  done <<<"$report"
  printf 'missing-boxes<<%s\n%s\n%s\n' "$delimiter" "${missing[*]:-}" "$delimiter"
} >>"${GITHUB_OUTPUT:-/dev/stdout}"

{
  printf '%s\n\nRan %s.\n' "$markdown" "$(log_safe "$kit_path")"
  if [ ${#missing[@]} -gt 0 ]; then
    printf '\n**Boxes that did not report** (trained without them): %s\n' "${missing[*]}"
  fi
  if [ "$attest" = true ]; then
    printf '\nThe bundle is attested by the next step; check it with %s.\n' \
      "\`gh attestation verify BUNDLE --repo ${GITHUB_REPOSITORY:-OWNER/REPO}\`"
  fi
} >>"${GITHUB_STEP_SUMMARY:-/dev/stdout}"

if [ "$status" -eq 1 ] && [ "$fail_on_hold" = true ]; then
  echo "::error title=ensemble-kit::the gate said HOLD" >&2
  exit 1
fi
