#!/usr/bin/python3
"""Peers for build/query_bench: the same single queries with numpy, implicit 0.7.3 and hnswlib.

  query_peers.py DIR [--rounds 3]

DIR is what `query_bench ... --dump DIR` wrote (factors, played items, query ids). One thread
(OPENBLAS_NUM_THREADS / OMP_NUM_THREADS are set to 1 before numpy loads). Each query is timed on its
own, as encore's are; the report is the median over rounds of each round's p50, in milliseconds:
  - numpy: related = unit-norm item matrix @ item, argpartition, sort; recommend = items @ user,
    played items set to -inf, argpartition, sort (norms computed once, outside the timing);
  - implicit (when ../shared/peers' build is importable: PYTHONPATH=/tmp/implicit-0.7.3):
    AlternatingLeastSquares with these factors, similar_items(i, N=n+1) and recommend(u, user_items[u], N=n);
  - hnswlib: M=16, ef_construction=200, inner product on unit-norm rows, built with 2 threads (once
    per dump: saved as DIR/hnswlib-M16-ef200.bin), queried at ef 32 and 64 with recall@n against
    numpy's exact answers.
"""
import json
import os
import sys
import time

os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
import numpy as np  # noqa: E402


def load(d):
    meta = json.load(open(os.path.join(d, "meta.json")))
    ni, nu, k = meta["items"], meta["users"], meta["factors"]
    items = np.fromfile(os.path.join(d, "items.f32"), dtype=np.float32).reshape(ni, k)
    users = np.fromfile(os.path.join(d, "users.f32"), dtype=np.float32).reshape(nu, k)
    indptr = np.fromfile(os.path.join(d, "played_indptr.i64"), dtype=np.int64)
    indices = np.fromfile(os.path.join(d, "played_indices.i32"), dtype=np.int32)
    qi = np.fromfile(os.path.join(d, "query_items.i32"), dtype=np.int32)
    qu = np.fromfile(os.path.join(d, "query_users.i32"), dtype=np.int32)
    return meta, items, users, indptr, indices, qi, qu


def p50_ms(queries, f):
    ts = []
    for q in queries:
        t0 = time.perf_counter()
        f(int(q))
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)) * 1e3


def top(scores, n):
    part = np.argpartition(-scores, n)[:n]
    return part[np.argsort(-scores[part])]


def main():
    d = sys.argv[1]
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 3
    meta, items, users, indptr, indices, qi, qu = load(d)
    n = meta["n"]
    unit = items / np.maximum(np.linalg.norm(items, axis=1, keepdims=True), 1e-30)
    unit = np.ascontiguousarray(unit.astype(np.float32))

    def np_related(i):
        s = unit @ unit[i]
        s[i] = -np.inf
        return top(s, n)

    def np_recommend(u):
        s = items @ users[u]
        s[indices[indptr[u]:indptr[u + 1]]] = -np.inf
        return top(s, n)

    peers = {"numpy related exact": (qi, np_related), "numpy recommend exact": (qu, np_recommend)}

    try:
        import scipy.sparse as sp
        from implicit.cpu.als import AlternatingLeastSquares
        model = AlternatingLeastSquares(factors=items.shape[1], num_threads=1)
        model.item_factors, model.user_factors = items, users
        ui = sp.csr_matrix((np.ones(len(indices), dtype=np.float32), indices, indptr),
                           shape=(users.shape[0], items.shape[0]))
        model.similar_items(0, N=n + 1)  # computes its cached norms once, outside the timing
        peers["implicit similar_items"] = (qi, lambda i: model.similar_items(i, N=n + 1))
        peers["implicit recommend"] = (qu, lambda u: model.recommend(u, ui[u], N=n, filter_already_liked_items=True))
    except ImportError as e:
        print(f"# implicit not importable ({e}); build it with ../shared/peers/build-implicit.sh and set PYTHONPATH",
              file=sys.stderr)

    try:
        import hnswlib
        t0 = time.perf_counter()
        index = hnswlib.Index(space="ip", dim=unit.shape[1])
        cached = os.path.join(d, "hnswlib-M16-ef200.bin")  # built once per dump, reused by later runs
        if os.path.exists(cached):
            index.load_index(cached, max_elements=unit.shape[0])
        else:
            index.init_index(max_elements=unit.shape[0], M=16, ef_construction=200, random_seed=1)
            index.add_items(unit, num_threads=2)
            index.save_index(cached)
        index.set_num_threads(1)
        truth = [set(np_related(int(i)).tolist()) for i in qi]
        for ef in (32, 64):
            index.set_ef(ef)
            hits = 0
            for q, t in zip(qi, truth):
                labels, _ = index.knn_query(unit[q], k=n + 1)
                hits += len(t & (set(labels[0].tolist()) - {int(q)}))
            recall = hits / (n * len(qi))
            peers[f"hnswlib ef {ef} (recall {recall:.4f})"] = (
                qi, lambda i: index.knn_query(unit[i], k=n + 1), lambda ef=ef: index.set_ef(ef))
    except ImportError:
        print("# hnswlib missing (apt-get install python3-hnswlib)", file=sys.stderr)

    results = {name: [] for name in peers}
    for _ in range(rounds):
        for name, (queries, f, *setup) in peers.items():
            for prepare in setup:
                prepare()  # outside the timing (hnswlib's ef)
            results[name].append(p50_ms(queries, f))
    for name, v in results.items():
        print(json.dumps({"peer": name, "p50_ms": float(np.median(v)), "rounds": v}))


if __name__ == "__main__":
    main()
