#!/usr/bin/env python3
"""Time a plain blocked SGEMM of shape (m x k) @ (k x n) with numpy/OpenBLAS, no selection: the floor that
exact all-pairs scoring (related items for all items, recommendations for all users) is compared with.

    OPENBLAS_NUM_THREADS=2 python3 bench/sgemm_baseline.py M N K [BLOCK]

Prints the median seconds of 3 runs and the achieved GFLOP/s. Run it with OPENBLAS_CORETYPE unset so
OpenBLAS picks its native (AVX-512) kernel; the bench driver does that for this command only.
"""
import sys
import time

import numpy as np

m, n, k = (int(x) for x in sys.argv[1:4])
block = int(sys.argv[4]) if len(sys.argv) > 4 else 4096
rng = np.random.default_rng(0)
A = rng.standard_normal((m, k), dtype=np.float32)
B = rng.standard_normal((n, k), dtype=np.float32)
Bt = np.ascontiguousarray(B.T)
out = np.empty((block, n), dtype=np.float32)
times = []
for _ in range(3):
    t0 = time.perf_counter()
    for s in range(0, m, block):
        e = min(m, s + block)
        np.matmul(A[s:e], Bt, out=out[: e - s])
    times.append(time.perf_counter() - t0)
t = sorted(times)[1]
try:
    from threadpoolctl import threadpool_info
    core = ",".join(str(i.get("architecture")) for i in threadpool_info() if i.get("internal_api") == "openblas")
except Exception:  # threadpoolctl is optional
    core = "?"
print(f"{t:.3f} {2.0 * m * n * k / t / 1e9:.1f} {core}")
