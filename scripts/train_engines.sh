#!/bin/bash
# Train every engine of benchmarks/inference.md one after another (run it on a quiet machine; each step's
# wall time and the load average go to stdout), then run the all-engines benchmark. About 35 minutes on
# 2 cores. Usage: bash scripts/train_engines.sh [OUT_PREFIX]   (default runs/)
set -euo pipefail
out=${1:-runs}
mkdir -p "$out"
step() {
    local name=$1; shift
    local start; start=$(date +%s)
    echo "[engines] $(date -u +%H:%M:%S) $name: $*"
    "$@" > "$out/engines-$name.log" 2>&1 || { echo "[engines] $name failed: see $out/engines-$name.log" >&2; exit 1; }
    echo "[engines] $name done in $(( $(date +%s) - start )) s (load $(cut -d' ' -f1-3 /proc/loadavg))"
}
step static mlnews train configs/classifier/static.yaml --out "$out/static"
step tfidf mlnews train configs/classifier/tfidf.yaml --out "$out/tfidf"
step teacher mlnews train configs/classifier/e5-small.yaml --out "$out/e5-small"
step student mlnews train configs/classifier/e5-small-student.yaml --out "$out/e5-small-student" \
    "distill.teacher=$out/e5-small"
step embed mlnews train configs/classifier/e5-embed.yaml --out "$out/e5-embed"
for m in e5-small e5-small-student e5-embed; do
    step "export-$m" mlnews export "$out/$m" --onnx --int8
done
sleep 30  # let the load average settle before timing
step bench python scripts/bench_inference.py --teacher "$out/e5-small" --student "$out/e5-small-student" \
    --embedding "$out/e5-embed" --static "$out/static" --tfidf "$out/tfidf" --n 3000 \
    --json "$out/bench_inference.json" --md "$out/bench_inference.md"
cat "$out/bench_inference.md"
