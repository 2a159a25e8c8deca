#!/bin/bash
# Load on encore serve with wrk (loopback), on the Last.fm-360K-scale store: lookups (related items
# and user recommendations, half each) and a radio mix (next + durable feedback), alternating rounds;
# prints requests/s, p50 / p99 latency and errors per round and their medians, with the CPU named.
#
#   bench/serve_bench.sh [STORE.db] [ROUNDS=3] [SECONDS=15]
#
# STORE defaults to build/bench-data/lastfm360k.db (bench/precompute_bench.sh's inputs; made here
# with encore precompute when missing). The server runs with --threads 2; wrk uses 2 threads and 2
# connections (the server gives each connection a thread).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
store=${1:-$root/build/bench-data/lastfm360k.db}
rounds=${2:-3}
secs=${3:-15}
command -v wrk >/dev/null || { echo "serve_bench: wrk missing (apt-get install wrk)" >&2; exit 1; }
if [[ ! -f $store ]]; then
    "$root/build/encore" precompute "$root/build/bench-data/lastfm360k-1.0-64.encm" \
        --index "$root/build/bench-data/lastfm360k-1.0-64.graph.enci" -o "$store" --quiet
fi
work=$(mktemp -d)
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$root/build/encore" serve "$store" --threads 2 --port "$port" --sessions "$work/sessions.db" --quiet &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
base=http://127.0.0.1:$port
for _ in $(seq 300); do curl -sf "$base/health" >/dev/null && break; sleep 0.1; done
/usr/bin/python3 - "$store" "$work" "$base" <<'PY'
import json, random, sqlite3, sys, urllib.parse, urllib.request
store, work, base = sys.argv[1:4]
db = sqlite3.connect(f"file:{store}?immutable=1", uri=True)
rng = random.Random(1)
n_items = db.execute("SELECT COUNT(*) FROM items").fetchone()[0]
n_users = db.execute("SELECT COUNT(*) FROM users").fetchone()[0]
items = [db.execute("SELECT key FROM items WHERE idx = ?", (rng.randrange(n_items),)).fetchone()[0] for _ in range(20000)]
users = [db.execute("SELECT key FROM users WHERE idx = ?", (rng.randrange(n_users),)).fetchone()[0] for _ in range(20000)]
q = lambda s: urllib.parse.quote(s, safe="")
open(f"{work}/items.txt", "w").write("\n".join(map(q, items)) + "\n")
open(f"{work}/users.txt", "w").write("\n".join(map(q, users)) + "\n")
sessions = []
for k in range(400):
    req = urllib.request.Request(f"{base}/radio", json.dumps({"item": items[k], "n": 1, "seed": k}).encode(),
                                 {"Content-Type": "application/json"})
    sessions.append(json.load(urllib.request.urlopen(req))["session"])
open(f"{work}/sessions.txt", "w").write("\n".join(sessions) + "\n")
PY
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; vector extensions: $(grep -o -w 'avx2\|avx512f\|avx512bw\|avx512vl\|fma' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "# store $store ($(du -m "$store" | cut -f1) MB); server --threads 2; wrk -t2 -c2, ${secs}s per run"
export ENCORE_KEYS_DIR=$work
ENCORE_KEYS_DIR=$work wrk -t2 -c2 -d3s -s "$root/bench/wrk/lookups.lua" "$base" >/dev/null  # warm-up
for r in $(seq "$rounds"); do
    for mix in lookups radio; do
        wrk -t2 -c2 -d"${secs}s" --latency -s "$root/bench/wrk/$mix.lua" "$base" >"$work/$mix.$r.txt"
    done
done
/usr/bin/python3 - "$work" "$rounds" <<'PY'
import re, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
def unit(v, u):
    return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[u]
print("| mix | round | requests/s | p50 | p99 | errors (non-2xx, socket) |")
print("|---|---|---|---|---|---|")
for mix in ("lookups", "radio"):
    rps, p50, p99 = [], [], []
    for r in range(1, rounds + 1):
        t = open(f"{work}/{mix}.{r}.txt").read()
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
        l50 = unit(*re.search(r"50%\s+([\d.]+)(us|ms|s)", t).groups())
        l99 = unit(*re.search(r"99%\s+([\d.]+)(us|ms|s)", t).groups())
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
        sock = re.search(r"Socket errors: (.*)", t)
        rps.append(rate); p50.append(l50); p99.append(l99)
        print(f"| {mix} | {r} | {rate:,.0f} | {l50:.3f} ms | {l99:.3f} ms | {non2xx.group(1) if non2xx else 0}, {sock.group(1) if sock else 'none'} |")
    print(f"| **{mix}** | median | **{statistics.median(rps):,.0f}** | **{statistics.median(p50):.3f} ms** | **{statistics.median(p99):.3f} ms** | |")
PY
