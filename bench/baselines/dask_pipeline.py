#!/usr/bin/python3
"""The reference workload as a Dask user writes it: lazy chunked arrays over the
h5py datasets (one Dask chunk per HDF5 chunk), the threaded scheduler, the
cleaned and normalized data persisted in memory, least squares from the normal
equations (X^T X and X^T y reduced over chunks, solved with NumPy), and 100
epochs of full-batch gradient descent (lr 0.1), one Dask computation each.

  load -> drop rows whose label is NaN -> impute NaN features with the column
  mean (float32, as np.nanmean) -> float64 -> z-score (ddof 0) -> lstsq, GD -> MSE

usage: dask_pipeline.py DATA.h5 [--epochs 100] [--lr 0.1] [--workers N] [--digits 6] [--distributed N]

--distributed N runs the same program on Dask's distributed scheduler: a
LocalCluster of N worker processes, one thread each (dask.distributed, the
cluster scheduler a Python user would pick to use several processes or
nodes). An h5py dataset cannot be sent to a worker, so each chunk is read by
a task that opens the file itself, as Dask's documentation does it.
Prints what bench/baselines/numpy_sklearn.py prints, in the same format: the
least-squares coefficients and intercept, the gradient-descent weights and
bias, and both MSEs; stage timings to stderr."""
import argparse
import os
import sys
import time

import dask
import dask.array as da
import h5py
import numpy as np


class Timer:
    def __init__(self):
        self.t = {}
        self.t0 = time.perf_counter()

    def lap(self, name):
        now = time.perf_counter()
        self.t[name] = self.t.get(name, 0.0) + now - self.t0
        self.t0 = now


def read_rows(path, name, lo, hi):
    with h5py.File(path, "r") as f:
        return f[name][lo:hi]


def chunks_read_by_workers(path, hx, rows_per_chunk):
    """X and y as Dask arrays whose chunks are read by the workers."""
    rows, cols = hx.shape
    dtype = hx.dtype
    xs, ys = [], []
    for lo in range(0, rows, rows_per_chunk):
        hi = min(rows, lo + rows_per_chunk)
        xs.append(da.from_delayed(dask.delayed(read_rows)(path, "X", lo, hi), (hi - lo, cols), dtype))
        ys.append(da.from_delayed(dask.delayed(read_rows)(path, "y", lo, hi), (hi - lo,), dtype))
    return da.concatenate(xs), da.concatenate(ys)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--workers", type=int, default=os.cpu_count(), help="threads of the Dask scheduler")
    ap.add_argument("--digits", type=int, default=6, help="decimals printed (6: numpy_sklearn.py's format)")
    ap.add_argument("--distributed", type=int, default=0, help="worker processes of a dask.distributed LocalCluster")
    a = ap.parse_args()
    client = None
    if a.distributed:
        from dask.distributed import Client, LocalCluster
        client = Client(LocalCluster(n_workers=a.distributed, threads_per_worker=1, processes=True,
                                     dashboard_address=None))
    else:
        dask.config.set(scheduler="threads", num_workers=a.workers)
    tm = Timer()

    h5 = h5py.File(a.data, "r")
    hx, hy = h5["X"], h5["y"]
    rows_per_chunk = hx.chunks[0] if hx.chunks else 65536
    if client is None:
        X = da.from_array(hx, chunks=(rows_per_chunk, hx.shape[1]))
        y = da.from_array(hy, chunks=(rows_per_chunk,))
    else:
        X, y = chunks_read_by_workers(a.data, hx, rows_per_chunk)

    # clean: drop unlabelled rows, impute features with the column mean
    labelled = ~da.isnan(y)
    X, y = X[labelled], y[labelled]
    col_mean = da.nanmean(X, axis=0).compute()  # pass 1 over the file
    X = da.where(da.isnan(X), col_mean, X)
    tm.lap("clean")

    # convert, then z-score with statistics of the converted data
    X, y = X.astype(np.float64), y.astype(np.float64)
    mu, sd = dask.compute(X.mean(axis=0), X.std(axis=0))  # pass 2
    X = (X - mu) / sd
    tm.lap("normalize")

    # the normalized data stays in memory for the 101 passes that follow
    X, y = dask.persist(X, y)  # pass 3
    X.compute_chunk_sizes()
    y.compute_chunk_sizes()
    n = int(y.shape[0])
    tm.lap("persist")

    # least squares: normal equations of [X 1] from one reduction over the chunks
    XtX, Xt1, Xty, sum_y = dask.compute(X.T @ X, X.sum(axis=0), X.T @ y, y.sum())
    f = X.shape[1]
    G = np.empty((f + 1, f + 1))
    G[:f, :f], G[:f, f], G[f, :f], G[f, f] = XtX, Xt1, Xt1, n
    beta = np.linalg.solve(G, np.append(Xty, sum_y))
    coef, intercept = beta[:f], beta[f]
    tm.lap("lstsq")

    # gradient descent on the MSE, one pass over the persisted chunks per epoch
    w = np.zeros(f)
    b = 0.0
    for _ in range(a.epochs):
        err = X @ w + b - y
        gw, ge = dask.compute(X.T @ err, err.sum())
        w = w - a.lr * gw / n
        b = b - a.lr * ge / n
    tm.lap("gd")

    mse_lstsq, mse_gd = dask.compute(((X @ coef + intercept - y) ** 2).mean(), ((X @ w + b - y) ** 2).mean())
    tm.lap("mse")
    h5.close()

    d = a.digits
    print("rows", n)
    print("coef", " ".join("%.*f" % (d, v) for v in coef), "intercept %.*f" % (d, intercept))
    print("gd", " ".join("%.*f" % (d, v) for v in w), "bias %.*f" % (d, b))
    print("mse_lstsq %.*f" % (d, mse_lstsq))
    print("mse_gd %.*f" % (d, mse_gd))
    print(" ".join("%s=%.3f" % kv for kv in tm.t.items()), file=sys.stderr)
    if client is not None:
        client.close()


if __name__ == "__main__":
    main()
