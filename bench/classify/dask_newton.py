#!/usr/bin/python3
"""The Dask baseline of bench/classify/run: what a Dask user without dask-ml writes.

  dask_newton.py DATA.h5 [--workers T] [--l2 1.0] [--tol 1e-8] [--max-iter 100] [--chunk-rows R]

dask.array over the h5py datasets (da.from_array, R rows a chunk, default
1,048,576: 128 MiB of float64 X, Dask's own 'auto' size, a multiple of the
file's 65,536-row chunks), the threaded scheduler with T threads. Newton's
method for L2-penalized logistic regression with an intercept, the objective
of sluice's logreg and of scikit-learn's LogisticRegression(C = 1/l2):
mean log-loss + l2 |w|^2 / (2n). Each iteration is one da.compute of the
gradient X^T (p - y), sum(p - y) and the Hessian X^T (X * s[:, None]),
X^T s, sum(s) (s = p (1 - p)), so X is read once per iteration; the
(F+1) x (F+1) system is solved with NumPy. Stops when max|gradient| <= tol
(sluice's default 1e-8), as sluice's logreg does; no line search (a plain
Newton step, which logistic regression from w = 0 does not need on
overlapping classes). Then one more pass for the training accuracy.

Prints rows, coef, intercept, accuracy, n_iter, converged, passes; seconds on stderr."""
import sys
import time

t0 = time.perf_counter()
import dask  # noqa: E402
import dask.array as da  # noqa: E402
import h5py  # noqa: E402
import numpy as np  # noqa: E402


def arg(argv, name, default, conv):
    return conv(argv[argv.index(name) + 1]) if name in argv else default


def main(argv):
    path = argv[0]
    workers = arg(argv, "--workers", 2, int)
    l2 = arg(argv, "--l2", 1.0, float)
    tol = arg(argv, "--tol", 1e-8, float)
    max_iter = arg(argv, "--max-iter", 100, int)
    rows = arg(argv, "--chunk-rows", 1 << 20, int)
    dask.config.set(scheduler="threads", num_workers=workers)
    t1 = time.perf_counter()
    f = h5py.File(path, "r")
    X = da.from_array(f["X"], chunks=(rows, f["X"].shape[1]))
    y = da.from_array(f["y"], chunks=(rows,)).astype(np.float64)
    n, F = X.shape
    w, b = np.zeros(F), 0.0
    converged, it, passes = False, 0, 0
    while True:
        eta = X @ w + b
        p = 1.0 / (1.0 + da.exp(-eta))
        r = p - y
        s = p * (1.0 - p)
        gw, gb, Hww, Hwb, Hbb = da.compute(X.T @ r, r.sum(), X.T @ (X * s[:, None]), X.T @ s, s.sum())
        passes += 1
        g = np.append(gw + l2 * w, gb)
        if np.abs(g).max() / n <= tol:
            converged = True
            break
        if it == max_iter:
            break
        H = np.empty((F + 1, F + 1))
        H[:F, :F] = Hww + l2 * np.eye(F)
        H[:F, F] = H[F, :F] = Hwb
        H[F, F] = Hbb
        step = np.linalg.solve(H, g)
        w, b = w - step[:F], b - step[F]
        it += 1
    t2 = time.perf_counter()
    acc = float(da.compute(((X @ w + b > 0) == (y > 0.5)).mean())[0])
    passes += 1
    t3 = time.perf_counter()
    print("rows %d" % n)
    print("coef " + " ".join("%.17g" % v for v in w))
    print("intercept %.17g" % b)
    print("accuracy %.17g" % acc)
    print("n_iter %d" % it)
    print("converged %d" % converged)
    print("passes %d" % passes)
    print("seconds imports=%.3f fit=%.3f score=%.3f" % (t1 - t0, t2 - t1, t3 - t2), file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
