#!/bin/bash
# encore precompute on the Last.fm-360K-scale model through its graph index: wall time, peak RSS and
# store size, with the CPU named.
#
#   bench/precompute_bench.sh [MODEL.encm] [GRAPH.enci]
#
# Defaults: the scale-1.0 synthetic model and index under build/bench-data/ (bench/ann_bench.sh or
# bench/scale_bench.py trains the model; `encore index MODEL -o GRAPH` builds the index).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model=${1:-$root/build/bench-data/lastfm360k-1.0-64.encm}
index=${2:-$root/build/bench-data/lastfm360k-1.0-64.graph.enci}
threads=${THREADS:-2}
[[ -f $model && -f $index ]] || { echo "precompute_bench: $model or $index missing (see the header)" >&2; exit 1; }
out=$(mktemp -d "$root/build/bench-data/precompute.XXXXXX")
trap 'rm -rf "$out"' EXIT
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; vector extensions: $(grep -o -w 'avx2\|avx512f\|avx512bw\|avx512vl\|avx512_bf16\|fma' /proc/cpuinfo | sort -u | tr '\n' ' ')"
/usr/bin/time -f "%e s wall, %M KB peak RSS" "$root/build/encore" precompute "$model" --index "$index" \
    -o "$out/store.db" --threads "$threads" --json --quiet 2>"$out/time" | tee "$out/report.json"
cat "$out/time"
/usr/bin/python3 - "$out/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"{r['items']} items, {r['users']} users: {r['seconds']:.1f} s, store {r['bytes'] / 1e6:.0f} MB "
      f"({r['related_rows']} related rows, {r['radio_lists']} radio lists, {r['recommendation_lists']} recommendation lists)")
PY
