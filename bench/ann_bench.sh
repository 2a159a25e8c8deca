#!/usr/bin/env bash
# Approximate nearest neighbours: encore's graph and forest indexes against hnswlib and faiss.
#
#   bench/ann_bench.sh                      # full size: 291,720 x 64 (Gaussian + ALS item factors)
#   ROWS=50000 QUERIES=2000 bench/ann_bench.sh   # a quick run while developing
#   MODEL=path.encm bench/ann_bench.sh      # item factors of an existing model
#
# For each data set (Gaussian ROWS x 64, and the 64-factor ALS item factors of the scale-1.0
# synthetic data, built and cached under build/bench-data/ when missing), build/ann_bench builds
# each encore index with 2 threads and sweeps its query effort, measuring recall@10 against exact
# cosine search, single-thread queries/s, build seconds, file bytes and open milliseconds; then
# bench/ann_peers.py does the same for hnswlib (M=16/32, efC 200, ef sweep) and faiss (flat IP,
# HNSW32, IVF1024 nprobe sweep) on the same vectors, queries and answers. The report prints the
# tables and encore's ratio against the best peer at each recall level, and plots recall vs QPS
# to build/bench-data/ann.png.
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${ROWS:-291720}
DIM=${DIM:-64}
QUERIES=${QUERIES:-10000}
USERS=${USERS:-358868}
PY=/usr/bin/python3
DATA=build/bench-data
OUT=$DATA/ann-results.jsonl

[ -x build/ann_bench ] && [ -x build/encore ] || { echo "build/ann_bench not found: build the project first" >&2; exit 1; }
"$PY" -c "import hnswlib, faiss" 2>/dev/null || echo "note: python3-hnswlib / python3-faiss missing (apt-get install -y python3-hnswlib python3-faiss); peers skipped" >&2
mkdir -p "$DATA"
: > "$OUT"

run_set() {  # $1 = name, rest = ann_bench data arguments
    local name=$1; shift
    echo "== $name" >&2
    build/ann_bench "$@" --queries "$QUERIES" --out "$DATA/ann-$name" | tee -a "$OUT" >&2
    "$PY" bench/ann_peers.py run "$DATA/ann-$name" | tee -a "$OUT" >&2
}

# Gaussian data has no structure to steer by: the graph needs a wider construction beam there, so
# both the default (120) and hnswlib's 200 are built.
run_set gaussian --gaussian "${ROWS}x${DIM}" --ef-construction 120,200

MODEL=${MODEL:-}
SCALE_MODEL=$DATA/lastfm360k-1.0-64.encm   # what bench/scale_bench.py trains and caches
if [ -z "$MODEL" ] && [ "$ROWS" = 291720 ] && [ ! -f "$SCALE_MODEL" ] && [ -f ../shared/datasets/synth_lastfm.py ]; then
    echo "training $SCALE_MODEL (synth_lastfm.py --scale 1.0, 64 factors)..." >&2
    TSV=$DATA/lastfm360k-1.0.tsv ENCD=$DATA/lastfm360k-1.0.encd
    [ -f "$TSV" ] || { "$PY" ../shared/datasets/synth_lastfm.py --scale 1.0 --out "$TSV.tmp" && mv "$TSV.tmp" "$TSV"; }
    [ -f "$ENCD" ] || build/encore ingest "$TSV" --format lastfm360k -o "$ENCD" --quiet
    build/encore train "$ENCD" --factors 64 --iterations 5 --threads 2 -o "$SCALE_MODEL" --quiet   # as scale_bench.py
fi
if [ -z "$MODEL" ] && [ "$ROWS" = 291720 ] && [ -f "$SCALE_MODEL" ]; then
    MODEL=$SCALE_MODEL   # the issue's data: 64-factor ALS item factors of the scale-1.0 synthetic log
elif [ -z "$MODEL" ]; then
    MODEL=$DATA/ann-als-$ROWS.encm   # without ../shared (or a quick run): encore's own generator
    if [ ! -f "$MODEL" ]; then
        echo "training $MODEL (synthetic $USERS users x $ROWS items, 64 factors)..." >&2
        build/encore synth --users "$USERS" --items "$ROWS" --seed 1 -o "$DATA/ann-plays-$ROWS.tsv" --quiet
        build/encore train "$DATA/ann-plays-$ROWS.tsv" --format lastfm360k --factors 64 --threads 2 \
            -o "$MODEL.tmp" --quiet
        mv "$MODEL.tmp" "$MODEL"
    fi
fi
run_set als-items --model "$MODEL" --ef-construction 120,200

"$PY" bench/ann_peers.py report "$OUT" --png "$DATA/ann.png"
