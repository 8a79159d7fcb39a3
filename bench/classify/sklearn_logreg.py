#!/usr/bin/python3
"""The scikit-learn baseline of bench/classify/run: what a scikit-learn user writes.

  sklearn_logreg.py DATA.h5 [--C 1.0]

Loads X and y with h5py (all in memory), fits LogisticRegression(C=1.0) with
its defaults (lbfgs, tol 1e-4, max_iter 100), and scores it on the training
data. Prints, one per line: rows, coef (17 significant digits), intercept,
accuracy, n_iter, converged; on stderr: seconds load=.. fit=.. score=.."""
import sys
import time
import warnings

t0 = time.perf_counter()
import h5py  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402


def main(argv):
    path = argv[0]
    C = float(argv[argv.index("--C") + 1]) if "--C" in argv else 1.0
    t1 = time.perf_counter()
    with h5py.File(path, "r") as f:
        X = f["X"][...]
        y = f["y"][...]
    t2 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        m = LogisticRegression(C=C).fit(X, y)
    t3 = time.perf_counter()
    acc = m.score(X, y)
    t4 = time.perf_counter()
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    for w in caught:
        print("warning: %s" % w.message, file=sys.stderr)
    print("rows %d" % X.shape[0])
    print("coef " + " ".join("%.17g" % v for v in m.coef_.ravel()))
    print("intercept " + " ".join("%.17g" % v for v in m.intercept_.ravel()))
    print("accuracy %.17g" % acc)
    print("n_iter %d" % int(np.max(m.n_iter_)))
    print("converged %d" % converged)
    print("seconds imports=%.3f load=%.3f fit=%.3f score=%.3f" % (t1 - t0, t2 - t1, t3 - t2, t4 - t3),
          file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
