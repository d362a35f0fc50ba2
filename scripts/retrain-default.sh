#!/usr/bin/env bash
# Retrains the shipped default model (data/default.lut) from scratch on ../shared/data:
#   1. least-squares fit of the 18 single-stage models for every picture (chroma models also
#      read luma and the other chroma plane),
#   2. LUT-aware fine-tuning of the six luma models,
#   3. pruning by access counts,
#   4. the same three steps for 18 models of inter pictures only (P/B slices of the
#      random-access streams; chroma models read their own plane only), added beside the
#      first 18: the runtime takes them for inter pictures when the caller gives the slice
#      type,
# then measures it on the validation split (data/default-benchmark/).
# Usage: scripts/retrain-default.sh [WORKDIR]   (intermediate containers go to WORKDIR,
# default target/retrain). Deterministic: the same corpus gives the same bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-target/retrain}
mkdir -p "$work"
start=$(date +%s)
stamp() { echo "[$(( $(date +%s) - start )) s] $*" >&2; }

cargo build --release -p lut-build
bin=target/release/lut-build

stamp "fit"
"$bin" fit --out "$work/fit.lut" --lambda 10000 --level-lambda 500000 --cross luma,chroma
stamp "finetune (luma)"
"$bin" finetune --lut "$work/fit.lut" --out "$work/ft.lut" --components y --iterations 300 --lr 0.001
stamp "prune"
"$bin" prune --in "$work/ft.lut" --out "$work/all.lut"
cp "$work/fit.fit.json" data/default.fit.json
cp "$work/ft.finetune.json" data/default.finetune.json

stamp "fit (inter pictures)"
"$bin" fit --out "$work/inter-fit.lut" --lambda 10000 --level-lambda 500000 --cross none --pictures inter
stamp "finetune (inter luma)"
"$bin" finetune --lut "$work/inter-fit.lut" --out "$work/inter-ft.lut" --components y --iterations 300 --lr 0.001
stamp "prune (inter)"
"$bin" prune --in "$work/inter-ft.lut" --out "$work/inter.lut"
cp "$work/inter-fit.fit.json" data/default-inter.fit.json
cp "$work/inter-ft.finetune.json" data/default-inter.finetune.json
"$bin" merge --base "$work/all.lut" --take "$work/inter.lut" --components y,u,v --add --out data/default.lut
stamp "built data/default.lut ($(stat -c %s data/default.lut) bytes); rebuilding lut-filter to embed it"
cargo build --release -p lut-filter -p lut-build
stamp "benchmark (validation split)"
"$bin" benchmark --lut data/default.lut --report data/default-benchmark
stamp "done"
