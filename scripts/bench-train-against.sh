#!/usr/bin/env bash
# Times this checkout's trainer against another commit's, side by side on one machine: builds
# COMMIT in a scratch worktree, then runs the same `train` (5 seeds x 200 epochs, default jobs)
# with each binary in turn, ROUNDS times, and prints wall and user seconds, peak RSS and the
# ratio of the summed times. Training output of both is left in the scratch folder.
# Usage: scripts/bench-train-against.sh COMMIT CORPUS.jsonl [ROUNDS]   (default 3 rounds)
# Example: scripts/make-bench-corpus.sh && scripts/bench-train-against.sh f58e452 bench/corpus.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
commit=${1:?usage: $0 COMMIT CORPUS.jsonl [ROUNDS]}
corpus=$(realpath "${2:?usage: $0 COMMIT CORPUS.jsonl [ROUNDS]}")
rounds=${3:-3}
scratch=${BENCH_SCRATCH:-target/bench-against}
mkdir -p "$scratch"
scratch=$(realpath "$scratch")

cargo build --release --quiet
new=$(realpath target/release/ensemble-kit)
worktree="$scratch/$commit"
[ -d "$worktree" ] || git worktree add --detach "$worktree" "$commit" >/dev/null
(cd "$worktree" && cargo build --release --quiet)
old="$worktree/target/release/ensemble-kit"

times="$scratch/times.txt"
: >"$times"
for round in $(seq "$rounds"); do
  for who in old new; do
    bin=$old
    [ "$who" = new ] && bin=$new
    rm -rf "$scratch/out-$who"
    /usr/bin/time -f "$who %e %U %M" -a -o "$times" \
      "$bin" train --corpus "$corpus" --out-dir "$scratch/out-$who" -q
    tail -n 1 "$times" | awk -v r="$round" '{printf "round %s %-3s %8.2f s wall %8.2f s user %7.1f MiB peak RSS\n", r, $1, $2, $3, $4 / 1024}'
  done
done
awk -v c="$commit" '{wall[$1] += $2; user[$1] += $3}
  END {printf "new is %.2fx as fast as %s (summed wall), %.2fx (summed user)\n", wall["old"] / wall["new"], c, user["old"] / user["new"]}' "$times"
