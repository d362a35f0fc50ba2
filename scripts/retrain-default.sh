#!/usr/bin/env bash
# Retrains the shipped default model (data/default.lut) from scratch on ../shared/data:
#   1. least-squares fit of the 12 single-stage chroma models for every picture (they also
#      read luma and the other chroma plane; patterns s, l, x), pruned by access counts;
#   2. least-squares fit of the 6 luma models for every picture with patterns s, l, x
#      (docs/fit.md, "Patterns"), LUT-aware fine-tuning, pruning;
#   3. the same for 18 models of inter pictures only (P/B slices of the random-access
#      streams; U reads its own plane, V also luma and U; patterns s, l, x), added beside the
#      first 18: the runtime takes them for inter pictures when the caller gives the slice type,
#   4. cross-component chroma networks (lut-train, DESIGN §2's chroma architecture) for the
#      QP ranges in NETWORKS below: trained on the train split, turned into tables, pruned, and
#      put in place of the least-squares chroma models of those ranges; the trained weights
#      go to data/networks/,
# then measures it on the validation split (data/default-benchmark/).
# Usage: scripts/retrain-default.sh [WORKDIR]   (intermediate containers go to WORKDIR,
# default target/retrain). Deterministic: the same corpus gives the same bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-target/retrain}
mkdir -p "$work"
start=$(date +%s)
stamp() { echo "[$(( $(date +%s) - start )) s] $*" >&2; }

cargo build --release -p lut-build -p lut-train
bin=target/release/lut-build
trainer=target/release/lut-train
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
"$bin" merge --base "$work/with-inter-u.lut" --take "$work/v-inter.lut" --components v --add --out "$work/least-squares.lut"

# 4. Chroma networks. The first (U, QP 33-37) starts from random weights with a tiny output
# gain, so that it leaves the identity; it was run in three segments whose cosine schedules had
# 8000, 6000 and 4000 updates (interrupted at 250 and 750, resumed with a shorter run), and is
# reproduced exactly so (a resumed run equals an uninterrupted one, for any thread count). The
# others start from a trained network of the same architecture (--init) and run 1500 updates.
net() { # component, QP range, lut-train options
  local c=$1 r=$2
  shift 2
  stamp "train chroma network $c $r"
  "$trainer" train --arch chroma-cc --component "$c" --qp-range "$r" --hidden 32,32 --batch 16 \
    --crop 48 --val-every 250 --checkpoint-every 250 --quiet --out "$work/net-$c-$r" "$@"
}
first=(--warmup 100 --lr 3e-3 --out-gain 0.01)
net u 33-37 "${first[@]}" --steps 8000 --stop-at 250
net u 33-37 "${first[@]}" --steps 6000 --stop-at 750 --resume
net u 33-37 "${first[@]}" --steps 4000 --resume
warm() { # component, QP range, the network it starts from
  net "$1" "$2" --warmup 50 --lr 2e-3 --steps 1500 --init "$work/net-$3/net.net"
}
NETWORKS=(u-33-37)
for job in "v 33-37 u-33-37" "u 28-32 u-33-37" "v 28-32 v-33-37"; do
  read -r c r from <<< "$job"
  warm "$c" "$r" "$from"
  NETWORKS+=("$c-$r")
done
mkdir -p data/networks
current="$work/least-squares.lut"
for n in "${NETWORKS[@]}"; do
  c=${n%%-*} r=${n#*-}
  stamp "tables of network $n"
  "$bin" from-net --net "$work/net-$n/net.net" --out "$work/net-$n.lut" --report "$work/net-$n.transfer.json"
  "$bin" prune --in "$work/net-$n.lut" --out "$work/net-$n-pruned.lut"
  "$bin" merge --base "$current" --take "$work/net-$n-pruned.lut" --components "$c" --pictures all \
    --qp-ranges "$r" --out "$work/with-net-$n.lut"
  current="$work/with-net-$n.lut"
  cp "$work/net-$n/net.net" "data/networks/$c-qp$r.net"
  # the run's log without its per-update lines (start, validation, summary)
  grep -v '"loss":' "$work/net-$n/log.jsonl" > "data/networks/$c-qp$r.log.jsonl"
done
cp "$current" data/default.lut
stamp "built data/default.lut ($(stat -c %s data/default.lut) bytes); rebuilding lut-filter to embed it"
cargo build --release -p lut-filter -p lut-build
stamp "benchmark (validation split)"
"$bin" benchmark --lut data/default.lut --report data/default-benchmark
stamp "done"
