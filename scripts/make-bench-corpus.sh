#!/usr/bin/env bash
# The training benchmark's corpus: the nine demo scenes at 156 frames, libx264 at cq 19/25/31/37,
# scored by the real vmaf — 9 sources × 4 × 156 = 5,616 rows.
# Usage: scripts/make-bench-corpus.sh [OUT.jsonl]   (default bench/corpus.jsonl)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/corpus.jsonl}
cargo run --release --quiet -- corpus --demo --demo-frames 156 --encoders libx264 --out "$out"
