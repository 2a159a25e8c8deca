#!/usr/bin/env python3
"""The Last.fm-360K-scale benchmark: ingest, ALS and exact batch queries on the synthetic full-size log,
each next to its peer or floor measured in the same run. One command:

    /usr/bin/python3 bench/scale_bench.py            # SCALE=1.0 RUNS=3 THREADS=2 by default

Generates build/bench-data/lastfm360k-$SCALE.tsv with ../shared/datasets/synth_lastfm.py when missing
(cached), then prints a Markdown table (medians of RUNS runs). Needs build/encore and Debian's
python3-numpy / python3-pandas / python3-scipy.
"""
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.chdir(ROOT)
SCALE = os.environ.get("SCALE", "1.0")
RUNS = int(os.environ.get("RUNS", "3"))
THREADS = os.environ.get("THREADS", "2")
ITERS = int(os.environ.get("ITERS", "5"))
ONLY = set(filter(None, os.environ.get("ONLY", "").split(",")))  # e.g. ONLY=ingest,als
PY = "/usr/bin/python3"
ENCORE = "build/encore"
DATA = "build/bench-data"
TSV = f"{DATA}/lastfm360k-{SCALE}.tsv"
ENCD = f"{DATA}/lastfm360k-{SCALE}.encd"
MODEL = f"{DATA}/lastfm360k-{SCALE}-64.encm"
rows = []


def want(part):
    return not ONLY or part in ONLY


def run(cmd, env=None):
    """Runs cmd (a list); returns (wall seconds, peak RSS bytes, stdout)."""
    with tempfile.NamedTemporaryFile("r") as tf:
        t0 = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", tf.name] + cmd, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        t = time.perf_counter() - t0
        if p.returncode != 0:
            sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr}")
        rss = int(tf.read().strip().splitlines()[-1]) * 1024
    return t, rss, p.stdout


def median_of(fn):
    vals = [fn() for _ in range(RUNS)]
    return statistics.median(v[0] for v in vals), vals


def machine():
    model = "?"
    for line in subprocess.run(["lscpu"], stdout=subprocess.PIPE, text=True).stdout.splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    return f"{model}, {os.cpu_count()} cores, {platform.machine()}"


def main():
    if not os.path.exists(ENCORE):
        sys.exit("build/encore not found: run scripts/setup.sh first")
    os.makedirs(DATA, exist_ok=True)
    if not os.path.exists(TSV):
        print(f"generating {TSV} ...", file=sys.stderr)
        subprocess.run([PY, "../shared/datasets/synth_lastfm.py", "--scale", SCALE, "--out", TSV + ".tmp"], check=True)
        os.rename(TSV + ".tmp", TSV)
    mb = os.path.getsize(TSV) / 1e6
    subprocess.run(["cat", TSV], stdout=subprocess.DEVNULL)  # page cache warm for everyone
    print(f"# encore scale benchmark — {machine()}, {THREADS} threads, scale {SCALE}, median of {RUNS}\n")

    if want("ingest"):
        t_enc, _ = median_of(lambda: run([ENCORE, "ingest", TSV, "--format", "lastfm360k", "-o", ENCD, "--quiet",
                                          "--threads", THREADS]))
        # pandas_load.py prints its own load time (interpreter start and imports excluded)
        t_pd = statistics.median(float(run([PY, "bench/pandas_load.py", TSV, "read"])[2].split()[0]) for _ in range(RUNS))
        t_csr = statistics.median(float(run([PY, "bench/pandas_load.py", TSV, "csr"])[2].split()[0]) for _ in range(RUNS))
        rows.append(("ingest TSV -> .encd (both orientations, written)", f"{t_enc:.2f} s", f"{mb / t_enc:.0f} MB/s",
                     f"pandas read_csv {t_pd:.2f} s ({t_pd / t_enc:.1f}x); + codes + csr {t_csr:.2f} s ({t_csr / t_enc:.1f}x)"))
    elif not os.path.exists(ENCD):
        run([ENCORE, "ingest", TSV, "--format", "lastfm360k", "-o", ENCD, "--quiet"])

    nnz = json.loads(run([ENCORE, "info", ENCD, "--json"])[2])
    n_users, n_items, nz = nnz["users"], nnz["items"], nnz["nnz"]

    if want("als"):
        for solver, factors in (("cg", 32), ("cg", 64), ("cg", 128), ("cholesky", 64)):
            out = f"{DATA}/bench-{solver}-{factors}.encm"
            per_iter = []
            rss = []
            for _ in range(RUNS):
                _, r, _ = run([ENCORE, "train", ENCD, "--factors", str(factors), "--solver", solver, "--iterations",
                               str(ITERS), "--regularization", "0.05", "--threads", THREADS, "-o", out, "--quiet"])
                info = json.loads(run([ENCORE, "info", out, "--json"])[2])
                per_iter.append(info["info"]["training"]["seconds_per_iteration"])
                rss.append(r)
            s = statistics.median(per_iter)
            k = factors
            steps = 3
            if solver == "cg":
                # per side: (steps + 1) passes of 4k flops per non-zero; in the eigenbasis (the default) the
                # Gram products are k per row and step (left out), and each half-step rotates both factor
                # matrices (2k^2 per row): 2 (n_users + n_items) 2k^2 per iteration.
                flops = sum((steps + 1) * 4 * k * nz for n in (n_users, n_items)) + 4 * k * k * (n_users + n_items)
            else:
                # per side: the rank-n_u update (2 k^2 per non-zero, symmetric half ~k^2) + k^3/3 factorisation
                flops = sum(2 * k * k * nz + n * (k ** 3 / 3 + 2 * k * k) for n in (n_users, n_items))
            # every factor row read once per non-zero per side; CG reads the half-precision copy
            # (--cg-gather half, the default), Cholesky the float32 factors
            gathered = 2 * nz * k * (2 if solver == "cg" else 4)
            implicit = {("cg", 32): 4.0, ("cg", 64): 5.2, ("cg", 128): 6.9, ("cholesky", 64): 15.9}[(solver, factors)]
            rows.append((f"ALS {solver} {factors} factors, s/iteration", f"{s:.3f} s",
                         f"{flops / s / 1e9:.0f} GFLOP/s, {gathered / s / 1e9:.0f} GB/s gathered",
                         f"implicit {implicit} s ({implicit / s:.1f}x); peak RSS {statistics.median(rss) / 1e9:.2f} GB; "
                         f"{flops / 1e9:.0f} GFLOP, {gathered / 1e9:.1f} GB per iteration"))
            if solver == "cg" and factors == 64:
                os.replace(out, MODEL)
            elif os.path.exists(out):
                os.remove(out)

    if want("queries"):
        if not os.path.exists(MODEL):
            run([ENCORE, "train", ENCD, "--factors", "64", "--iterations", str(ITERS), "--threads", THREADS, "-o", MODEL,
                 "--quiet"])
        env = dict(os.environ)
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
        env["OPENBLAS_NUM_THREADS"] = THREADS
        for what, cmd, m, n in (
            ("related items, all items, k=20", [ENCORE, "related", MODEL, "--all", "-n", "20"], n_items, n_items),
            ("recommend, all users, k=10, played filtered", [ENCORE, "recommend", MODEL, "--all-users", "-n", "10"],
             n_users, n_items),
        ):
            out = f"{DATA}/bench-out.tsv"
            t, _ = median_of(lambda: run(cmd + ["-o", out, "--quiet", "--threads", THREADS]))
            g = run([PY, "bench/sgemm_baseline.py", str(m), str(n), "64"], env=env)[2].split()
            sg = float(g[0])
            rows.append((what, f"{t:.1f} s", f"{2 * m * n * 64 / t / 1e9:.0f} GFLOP/s",
                         f"numpy SGEMM same shape {sg:.1f} s ({g[1]} GFLOP/s, {g[2]}): ratio {t / sg:.2f}"))
            os.remove(out)

    print("| what | encore | rate | next to |")
    print("|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
