#!/usr/bin/env bash
# Ingest speed: `encore ingest` against pandas.read_csv on a synthetic Last.fm-360K-shaped file.
#
#   bench/ingest_vs_pandas.sh                 # scale 1.0: ~16.5M rows, ~1.5 GB
#   SCALE=0.1 RUNS=5 THREADS=2 bench/ingest_vs_pandas.sh
#
# Generates build/bench-data/lastfm360k-$SCALE.tsv when missing (needs numpy), reads it once so every
# contender starts from the page cache, then reports the median of RUNS runs of:
#   encore ingest FILE --format lastfm360k -o build/bench-data/x.encd --quiet
#   pandas.read_csv alone, and read_csv + category codes + scipy CSR (implicit's lastfm loader)
set -euo pipefail
cd "$(dirname "$0")/.."

SCALE=${SCALE:-1.0}
RUNS=${RUNS:-3}
THREADS=${THREADS:-}
PY=/usr/bin/python3
DATA=build/bench-data
FILE=$DATA/lastfm360k-$SCALE.tsv
OUT=$DATA/x.encd

[ -x build/encore ] || { echo "build/encore not found: build the project first" >&2; exit 1; }
mkdir -p "$DATA"
if [ ! -f "$FILE" ]; then
    echo "generating $FILE (scale $SCALE)..." >&2
    "$PY" ../shared/datasets/synth_lastfm.py --scale "$SCALE" --out "$FILE.tmp"
    mv "$FILE.tmp" "$FILE"
fi
cat "$FILE" > /dev/null  # warm the page cache for everyone
MB=$(awk -v b="$(stat -L -c %s "$FILE")" 'BEGIN { printf "%.1f", b / 1e6 }')

now() { date +%s.%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# seconds of one `encore ingest` run (whole process: parse, build both matrices, write the file)
encore_once() {
    local t0 t1
    t0=$(now)
    build/encore ingest "$FILE" --format lastfm360k -o "$OUT" --quiet ${THREADS:+--threads "$THREADS"} >/dev/null
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

declare -A secs
secs[encore]=$(for _ in $(seq "$RUNS"); do encore_once; done | median)
secs[read]=$(for _ in $(seq "$RUNS"); do "$PY" bench/pandas_load.py "$FILE" read 2>/dev/null; done | median)
secs[csr]=$(for _ in $(seq "$RUNS"); do "$PY" bench/pandas_load.py "$FILE" csr 2>/dev/null; done | median)
rm -f "$OUT"

echo "file: $FILE ($MB MB), median of $RUNS runs${THREADS:+, encore --threads $THREADS}"
row() {  # label seconds
    awk -v l="$1" -v s="$2" -v mb="$MB" -v e="${secs[encore]}" \
        'BEGIN { printf "%-34s %8.2f s %9.1f MB/s %8.1fx encore\n", l, s, mb / s, s / e }'
}
row "encore ingest (+ write .encd)" "${secs[encore]}"
row "pandas read_csv" "${secs[read]}"
row "pandas read_csv + codes + csr" "${secs[csr]}"
