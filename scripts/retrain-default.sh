#!/usr/bin/env bash
# Retrains the shipped default model (data/default.lut) from scratch on ../shared/data:
#   1. least-squares fit of the 12 single-stage chroma models for every picture (they also
#      read luma and the other chroma plane; patterns s, l, x), pruned by access counts;
#   2. least-squares fit of the 6 luma models for every picture with patterns s, l, x
#      (docs/fit.md, "Patterns"), LUT-aware fine-tuning, pruning;
#   3. the same for 18 models of inter pictures only (P/B slices of the random-access
#      streams; U reads its own plane, V also luma and U; patterns s, l, x), added beside the
#      first 18: the runtime takes them for inter pictures when the caller gives the slice type,
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
ridge=(--lambda 10000 --level-lambda 500000)
tune=(--components y --iterations 300 --lr 0.001)

# models: fit, (fine-tune luma,) prune. $1 = name, $2 = pictures, rest = fit options.
models() {
  local name=$1 pictures=$2
  shift 2
  stamp "fit $name ($pictures pictures)"
  "$bin" fit --out "$work/$name-fit.lut" "${ridge[@]}" --pictures "$pictures" "$@"
  local pruned_from="$work/$name-fit.lut"
  if [[ $name == y* ]]; then
    stamp "finetune $name"
    "$bin" finetune --lut "$work/$name-fit.lut" --out "$work/$name-ft.lut" "${tune[@]}"
    pruned_from="$work/$name-ft.lut"
  fi
  stamp "prune $name"
  "$bin" prune --in "$pruned_from" --out "$work/$name.lut"
}

models uv all --components u,v --cross luma,chroma --patterns s,l,x
models y all --components y --patterns s,l,x
models u-inter inter --components u --cross none --patterns s,l,x
models v-inter inter --components v --cross luma,chroma --patterns s,l,x
models y-inter inter --components y --patterns s,l,x
cp "$work/uv-fit.fit.json" data/default.fit.json
cp "$work/y-fit.fit.json" data/default-luma.fit.json
cp "$work/y-ft.finetune.json" data/default.finetune.json
cp "$work/u-inter-fit.fit.json" data/default-inter-u.fit.json
cp "$work/v-inter-fit.fit.json" data/default-inter-v.fit.json
cp "$work/y-inter-fit.fit.json" data/default-inter-luma.fit.json
cp "$work/y-inter-ft.finetune.json" data/default-inter.finetune.json

# Order of the models in the file: chroma for every picture, luma for every picture, luma for
# inter pictures, chroma for inter pictures.
"$bin" merge --base "$work/uv.lut" --take "$work/y.lut" --components y --out "$work/all.lut"
"$bin" merge --base "$work/all.lut" --take "$work/y-inter.lut" --components y --add --out "$work/with-inter-luma.lut"
"$bin" merge --base "$work/with-inter-luma.lut" --take "$work/u-inter.lut" --components u --add --out "$work/with-inter-u.lut"
"$bin" merge --base "$work/with-inter-u.lut" --take "$work/v-inter.lut" --components v --add --out data/default.lut
stamp "built data/default.lut ($(stat -c %s data/default.lut) bytes); rebuilding lut-filter to embed it"
cargo build --release -p lut-filter -p lut-build
stamp "benchmark (validation split)"
"$bin" benchmark --lut data/default.lut --report data/default-benchmark
stamp "done"
