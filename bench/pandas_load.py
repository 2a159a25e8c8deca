#!/usr/bin/env python3
"""Time pandas loading a Last.fm-360K-shaped TSV, the baseline for bench/ingest_vs_pandas.sh.

    pandas_load.py FILE read   # pandas.read_csv alone
    pandas_load.py FILE csr    # read_csv + category codes + scipy CSR, as implicit's lastfm loader does

Prints the seconds spent loading (imports excluded) on stdout.
"""
import csv
import sys
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp


def main():
    path, mode = sys.argv[1], sys.argv[2]
    start = time.perf_counter()
    if mode == "read":
        df = pd.read_csv(path, sep="\t", header=None, names=["user", "mbid", "artist", "plays"],
                         na_filter=False, quoting=csv.QUOTE_NONE)
        rows = len(df)
    elif mode == "csr":
        # implicit.datasets.lastfm: user, artist name, plays -> categories -> (artist x user) CSR
        df = pd.read_csv(path, sep="\t", header=None, usecols=[0, 2, 3], names=["user", "artist", "plays"],
                         na_filter=False, quoting=csv.QUOTE_NONE)
        df["user"] = df["user"].astype("category")
        df["artist"] = df["artist"].astype("category")
        m = sp.coo_matrix((df["plays"].astype(np.float32),
                           (df["artist"].cat.codes.copy(), df["user"].cat.codes.copy()))).tocsr()
        rows = m.nnz
    else:
        sys.exit(f"unknown mode {mode!r} (read or csr)")
    elapsed = time.perf_counter() - start
    print(f"{elapsed:.3f}")
    print(f"{mode}: {rows} rows in {elapsed:.3f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
