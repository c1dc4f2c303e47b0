#!/usr/bin/env bash
# Times this checkout's trainer against another commit's, side by side on one machine: builds
# COMMIT in a scratch worktree, then runs the same `train` (5 seeds x 200 epochs, default jobs)
# with each binary in turn, ROUNDS times, and prints wall and user seconds, peak RSS and the
# ratio of the summed times. Training output of both is left in the scratch folder.
#
# With --reference DIR it also times the PyTorch trainer DIR/torch_loso.py (same corpus, seeds
# and epochs; `scripts/reference` holds ours) in every round, when a python3 with torch is
# available, and prints the kit's speed-up over it; without torch it says so and skips it.
# Usage: scripts/bench-train-against.sh [--reference DIR] COMMIT CORPUS.jsonl [ROUNDS]   (3 rounds)
# Example: scripts/make-bench-corpus.sh && scripts/bench-train-against.sh --reference scripts/reference b3ec481 bench/corpus.jsonl
set -euo pipefail
usage="usage: $0 [--reference DIR] COMMIT CORPUS.jsonl [ROUNDS]"
reference=
if [ "${1:-}" = --reference ]; then
  reference=$(realpath "${2:?$usage}")
  shift 2
fi
cd "$(dirname "$0")/.."
commit=${1:?$usage}
corpus=$(realpath "${2:?$usage}")
rounds=${3:-3}
scratch=${BENCH_SCRATCH:-target/bench-against}
mkdir -p "$scratch"
scratch=$(realpath "$scratch")

whos="old new"
if [ -n "$reference" ]; then
  if [ -f "$reference/torch_loso.py" ] && python3 -c 'import torch' 2>/dev/null; then
    whos="ref old new"
  else
    echo "--reference $reference: skipped (needs $reference/torch_loso.py and a python3 with torch)" >&2
  fi
fi

cargo build --release --quiet
new=$(realpath target/release/ensemble-kit)
worktree="$scratch/$commit"
[ -d "$worktree" ] || git worktree add --detach "$worktree" "$commit" >/dev/null
(cd "$worktree" && cargo build --release --quiet)
old="$worktree/target/release/ensemble-kit"

times="$scratch/times.txt"
: >"$times"
for round in $(seq "$rounds"); do
  for who in $whos; do
    rm -rf "$scratch/out-$who"
    case $who in
      ref) run=(python3 "$reference/torch_loso.py" --corpus "$corpus" --out-dir "$scratch/out-ref") ;;
      old) run=("$old" train --corpus "$corpus" --out-dir "$scratch/out-old" -q) ;;
      new) run=("$new" train --corpus "$corpus" --out-dir "$scratch/out-new" -q) ;;
    esac
    /usr/bin/time -f "$who %e %U %M" -a -o "$times" "${run[@]}"
    tail -n 1 "$times" | awk -v r="$round" '{printf "round %s %-3s %8.2f s wall %8.2f s user %7.1f MiB peak RSS\n", r, $1, $2, $3, $4 / 1024}'
  done
done
awk -v c="$commit" '{wall[$1] += $2; user[$1] += $3}
  END {
    printf "new is %.2fx as fast as %s (summed wall), %.2fx (summed user)\n", wall["old"] / wall["new"], c, user["old"] / user["new"]
    if ("ref" in wall) printf "new is %.1fx as fast as the reference trainer (summed wall), %.1fx (summed user)\n", wall["ref"] / wall["new"], user["ref"] / user["new"]
  }' "$times"
