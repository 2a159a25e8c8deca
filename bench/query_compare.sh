#!/bin/bash
# Same-run comparison of single-query latency: encore (build/query_bench) and its peers
# (bench/query_peers.py: numpy, implicit 0.7.3, hnswlib) in alternating rounds on the same host,
# one thread each; prints each side's median over rounds of the per-round p50 and the ratios.
#
#   bench/query_compare.sh MODEL.encm GRAPH.enci [ROUNDS=3] [QUERIES=1000]
#
# implicit is used when importable (PYTHONPATH=/tmp/implicit-0.7.3 after
# ../shared/peers/build-implicit.sh). The peers' inputs are dumped once into build/bench-data/query-peers.
set -euo pipefail
model=$1 index=$2 rounds=${3:-3} queries=${4:-1000}
root=$(cd "$(dirname "$0")/.." && pwd)
bench=$root/build/query_bench
dump=$root/build/bench-data/query-peers
[[ -x $bench ]] || { echo "query_compare: $bench missing (build first)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; vector extensions: $(grep -o -w 'avx2\|avx512f\|avx512bw\|avx512vl\|avx512_bf16\|avx512_vnni\|fma' /proc/cpuinfo | sort -u | tr '\n' ' ')"
"$bench" "$model" --index "$index" --queries "$queries" --rounds 1 --dump "$dump" | tail -1 >/dev/null  # dump + warm-up
for r in $(seq "$rounds"); do
    "$bench" "$model" --index "$index" --queries "$queries" --rounds 1 | tail -1 >>"$out/encore.jsonl"
    /usr/bin/python3 "$root/bench/query_peers.py" "$dump" --rounds 1 >>"$out/peers.jsonl"
    echo "# round $r done" >&2
done
/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
d = sys.argv[1]
enc = [json.loads(l) for l in open(f"{d}/encore.jsonl")]
peers = {}
for l in open(f"{d}/peers.jsonl"):
    j = json.loads(l)
    peers.setdefault(j["peer"], []).append(j["p50_ms"])
med = lambda v: statistics.median(v)
e = {k: med([x[k] for x in enc]) for k in enc[0]}
print(f"rounds: {len(enc)} (alternating encore / peers), one thread, n = 10; medians of per-round p50")
print("| query | encore p50 | peer | peer p50 | peer / encore |\n|---|---|---|---|---|")
rows = [("related, exact", "related_exact_p50_ms", ["implicit similar_items", "numpy related exact"]),
        ("recommend, known user, exact", "recommend_exact_p50_ms", ["implicit recommend", "numpy recommend exact"]),
        (f"related, graph index (recall {e['graph_recall']:.3f})", "related_graph_p50_ms",
         [p for p in peers if p.startswith("hnswlib")])]
for label, key, names in rows:
    for name in names:
        if name in peers:
            p = med(peers[name])
            print(f"| {label} | {e[key]:.4f} ms | {name} | {p:.4f} ms | {p / e[key]:.2f}x |")
print(f"\nopen (verify off) {e['open_ms']:.1f} ms; warm() {e['warm_ms']:.0f} ms; "
      f"first related through the index after open {e['first_query_ms']:.1f} ms; open with verify {e['open_verify_ms']:.0f} ms")
PY
