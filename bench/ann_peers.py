#!/usr/bin/python3
"""Peers for bench/ann_bench.sh: hnswlib and faiss on the exact problem ann_bench wrote, and the report.

  ann_peers.py run DIR                 # JSON lines on stdout, one per (library, settings, query param)
  ann_peers.py report FILE.jsonl [--png OUT.png]

run reads DIR/meta.json, vectors.f32, queries.f32, truth.i32 (cosine: everything is normalised and
searched by inner product), builds with 2 threads and queries with 1 thread, in one batch per setting.
report prints a markdown table per dataset and, for each encore index kind, its queries/s against the
best peer at recall levels 0.90 / 0.95 / 0.99 (best = highest QPS among points reaching that recall).
"""
import json
import os
import sys
import tempfile
import time

import numpy as np


def load(d):
    meta = json.load(open(os.path.join(d, "meta.json")))
    n, dim, nq, k = meta["rows"], meta["dim"], meta["queries"], meta["k"]
    x = np.fromfile(os.path.join(d, "vectors.f32"), dtype=np.float32).reshape(n, dim)
    q = np.fromfile(os.path.join(d, "queries.f32"), dtype=np.float32).reshape(nq, dim)
    truth = np.fromfile(os.path.join(d, "truth.i32"), dtype=np.int32).reshape(nq, k)
    norm = lambda a: a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-30)
    return meta, np.ascontiguousarray(norm(x)), np.ascontiguousarray(norm(q)), truth


def recall(ids, truth):
    k = truth.shape[1]
    return float(np.mean([len(set(a[:k]) & set(t)) for a, t in zip(ids, truth)]) / k)


def emit(**row):
    print(json.dumps(row), flush=True)


def run(d):
    meta, x, q, truth = load(d)
    k, ds = meta["k"], meta["dataset"]
    tmp = tempfile.mkdtemp(prefix="ann-peers-")
    try:
        import hnswlib
        for m in (16, 32):
            t0 = time.perf_counter()
            idx = hnswlib.Index(space="ip", dim=x.shape[1])
            idx.init_index(max_elements=x.shape[0], ef_construction=200, M=m, random_seed=1)
            idx.set_num_threads(2)
            idx.add_items(x, np.arange(x.shape[0]))
            build = time.perf_counter() - t0
            path = os.path.join(tmp, "h.bin")
            idx.save_index(path)
            size = os.path.getsize(path)
            t0 = time.perf_counter()
            idx = hnswlib.Index(space="ip", dim=x.shape[1])
            idx.load_index(path, max_elements=x.shape[0])
            open_ms = (time.perf_counter() - t0) * 1e3
            idx.set_num_threads(1)
            for ef in (10, 16, 24, 32, 48, 64, 96, 128, 192, 256):
                idx.set_ef(max(ef, k))
                t0 = time.perf_counter()
                ids, _ = idx.knn_query(q, k=k)
                qps = len(q) / (time.perf_counter() - t0)
                emit(library="hnswlib", settings=f"hnswlib M={m} efC=200", dataset=ds, param=ef, param_name="ef",
                     recall=recall(ids, truth), qps=qps, build_s=build, bytes=size, open_ms=open_ms)
            os.remove(path)
    except ImportError:
        print("ann_peers: hnswlib not installed (apt-get install python3-hnswlib)", file=sys.stderr)
    try:
        import faiss
        def timed_faiss(name, make, params, setp, pname):
            faiss.omp_set_num_threads(2)
            t0 = time.perf_counter()
            idx = make()
            build = time.perf_counter() - t0
            path = os.path.join(tmp, "f.index")
            faiss.write_index(idx, path)
            size = os.path.getsize(path)
            t0 = time.perf_counter()
            idx = faiss.read_index(path)
            open_ms = (time.perf_counter() - t0) * 1e3
            os.remove(path)
            faiss.omp_set_num_threads(1)
            for p in params:
                setp(idx, p)
                t0 = time.perf_counter()
                _, ids = idx.search(q, k)
                qps = len(q) / (time.perf_counter() - t0)
                emit(library="faiss", settings=name, dataset=ds, param=p, param_name=pname, recall=recall(ids, truth),
                     qps=qps, build_s=build, bytes=size, open_ms=open_ms)

        def flat():
            i = faiss.IndexFlatIP(x.shape[1]); i.add(x); return i

        def hnsw():
            i = faiss.IndexHNSWFlat(x.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
            i.hnsw.efConstruction = 200
            i.add(x)
            return i

        def ivf():
            quant = faiss.IndexFlatIP(x.shape[1])
            i = faiss.IndexIVFFlat(quant, x.shape[1], 1024, faiss.METRIC_INNER_PRODUCT)
            i.train(x)
            i.add(x)
            return i

        def set_ef(i, p): i.hnsw.efSearch = max(p, k)
        def set_nprobe(i, p): i.nprobe = p
        timed_faiss("faiss IndexFlatIP (exact)", flat, [0], lambda i, p: None, "-")
        timed_faiss("faiss IndexHNSWFlat M=32 efC=200", hnsw, (16, 32, 64, 128, 256), set_ef, "efSearch")
        timed_faiss("faiss IndexIVFFlat nlist=1024", ivf, (1, 2, 4, 8, 16, 32), set_nprobe, "nprobe")
    except ImportError:
        print("ann_peers: faiss not installed (apt-get install python3-faiss)", file=sys.stderr)
    os.rmdir(tmp)


def best_at(rows, level):
    ok = [r for r in rows if r["recall"] >= level]
    return max(ok, key=lambda r: r["qps"]) if ok else None


def report(path, png=None):
    rows = [json.loads(l) for l in open(path) if l.strip().startswith("{")]
    points = [r for r in rows if "qps" in r]
    for ds in dict.fromkeys(r["dataset"] for r in points):
        pr = [r for r in points if r["dataset"] == ds]
        print(f"\n### {ds}\n")
        print("| library, settings | param | recall@10 | QPS (1 thread) | build s (2 thr) | file MB | open ms |")
        print("|---|---|---|---|---|---|---|")
        for r in pr:
            print(f"| {r['settings']} | {r['param_name']} {r['param']} | {r['recall']:.3f} | {r['qps']:,.0f} | "
                  f"{r['build_s']:.1f} | {r['bytes'] / 1e6:.0f} | {r['open_ms']:.1f} |")
        peers = [r for r in pr if r["library"] != "encore"]
        print(f"\nencore vs the best peer at each recall level ({ds}):\n")
        print("| encore index | recall >= | encore QPS | best peer (settings, QPS) | ratio |")
        print("|---|---|---|---|---|")
        for kind in ("graph", "forest"):
            mine = [r for r in pr if r["library"] == "encore" and r["settings"].startswith(kind)]
            for level in (0.90, 0.95, 0.99):
                a, b = best_at(mine, level), best_at(peers, level)
                if not a:
                    continue
                peer = f"{b['settings']} {b['param_name']} {b['param']}, {b['qps']:,.0f}" if b else "none reaches it"
                ratio = f"{a['qps'] / b['qps']:.2f}x" if b else "-"
                print(f"| {kind} | {level:.2f} | {a['qps']:,.0f} ({a['param_name']} {a['param']}) | {peer} | {ratio} |")
        items = [r for r in pr if "item_qps" in r and r["settings"].startswith("graph")]
        if items:
            print(f"\nencore graph, related-items path (search_item: the beam starts at the query item's own node; {ds}):\n")
            print("| settings | ef | recall@10 | QPS (1 thread) |")
            print("|---|---|---|---|")
            for r in items:
                print(f"| {r['settings']} | {r['param']} | {r['item_recall']:.3f} | {r['item_qps']:,.0f} |")
    if png:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        dss = list(dict.fromkeys(r["dataset"] for r in points))
        fig, axes = plt.subplots(1, len(dss), figsize=(7 * len(dss), 5), squeeze=False)
        for ax, ds in zip(axes[0], dss):
            for s in dict.fromkeys(r["settings"] for r in points if r["dataset"] == ds):
                pts = sorted((r["recall"], r["qps"]) for r in points if r["dataset"] == ds and r["settings"] == s)
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=s)
            ax.set_xlabel("recall@10")
            ax.set_ylabel("queries/s (1 thread)")
            ax.set_yscale("log")
            ax.set_title(ds)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(png, dpi=110)
        print(f"\nplot: {png}")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "run":
        run(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "report":
        png = sys.argv[sys.argv.index("--png") + 1] if "--png" in sys.argv else None
        report(sys.argv[2], png)
    else:
        sys.exit(__doc__)
