#!/usr/bin/python3
"""The reference workload as a NumPy + scikit-learn user writes it, all in
memory: load -> drop rows whose label is NaN -> impute NaN features with the
column mean -> float64 -> z-score (ddof 0) -> LinearRegression and 100 epochs
of full-batch gradient descent (lr 0.1) -> MSE.

usage: numpy_sklearn.py DATA.h5 [--epochs 100] [--lr 0.1] [--digits 6]
Prints, to 6 decimals (or --digits): the least-squares coefficients and intercept, the
gradient-descent weights and bias, and both MSEs; stage timings to stderr."""
import argparse
import sys
import time

import h5py
import numpy as np
from sklearn.linear_model import LinearRegression


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--digits", type=int, default=6, help="decimals printed (bench/run asks for more to compare)")
    a = ap.parse_args()
    t = {}
    t0 = time.perf_counter()
    with h5py.File(a.data, "r") as h:
        X = h["X"][...]
        y = h["y"][...]
    t["load"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    keep = ~np.isnan(y)
    X = X[keep]
    y = y[keep]
    mu = np.nanmean(X, axis=0)
    r, c = np.where(np.isnan(X))
    X[r, c] = mu[c]
    t["clean"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    X = X.astype(np.float64)
    y = y.astype(np.float64)
    t["convert"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    t["normalize"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    m = LinearRegression().fit(X, y)
    t["lstsq"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    w = np.zeros(X.shape[1])
    b = 0.0
    n = len(y)
    for _ in range(a.epochs):
        err = X @ w + b - y
        w -= a.lr * (X.T @ err) / n
        b -= a.lr * err.mean()
    t["gd"] = time.perf_counter() - t0
    print("rows", n)
    d = a.digits
    print("coef", " ".join("%.*f" % (d, v) for v in m.coef_), "intercept %.*f" % (d, m.intercept_))
    print("gd", " ".join("%.*f" % (d, v) for v in w), "bias %.*f" % (d, b))
    print("mse_lstsq %.*f" % (d, np.mean((X @ m.coef_ + m.intercept_ - y) ** 2)))
    print("mse_gd %.*f" % (d, np.mean((X @ w + b - y) ** 2)))
    print(" ".join("%s=%.3f" % kv for kv in t.items()), file=sys.stderr)


if __name__ == "__main__":
    main()
