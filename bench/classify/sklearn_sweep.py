#!/usr/bin/python3
"""The scikit-learn baseline of part 2 of bench/classify/run: a grid search over C.

  sklearn_sweep.py DATA.h5 --l2 V1,V2,... [--n-jobs 1]

Loads X and y with h5py (all in memory), runs
GridSearchCV(LogisticRegression(), {'C': [1/l2 ...]}, cv=KFold(5), scoring='accuracy',
n_jobs=N, refit=True) (LogisticRegression's defaults: lbfgs, tol 1e-4, max_iter 100;
KFold(5) without shuffle, the folds sluice's `split ... folds: 5` makes; GridSearchCV's
cv=5 would be StratifiedKFold for a classifier). Prints, one per line: rows, l2 (the
values, in order), mean and std (mean_test_score, std_test_score), rank, scores (the 4 x 5
fold accuracies, row by row), best_l2, coef and intercept of the refit (17 significant
digits), n_iter (the refit's), converged; on stderr: seconds imports=.. load=.. search=.."""
import sys
import time
import warnings

t0 = time.perf_counter()
import h5py  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold  # noqa: E402


def main(argv):
    path = argv[0]
    l2s = [float(v) for v in argv[argv.index("--l2") + 1].split(",")]
    n_jobs = int(argv[argv.index("--n-jobs") + 1]) if "--n-jobs" in argv else 1
    t1 = time.perf_counter()
    with h5py.File(path, "r") as f:
        X = f["X"][...]
        y = f["y"][...]
    t2 = time.perf_counter()
    gs = GridSearchCV(LogisticRegression(), {"C": [1.0 / v for v in l2s]}, cv=KFold(5), scoring="accuracy",
                      n_jobs=n_jobs, refit=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        gs.fit(X, y)
    t3 = time.perf_counter()
    cr = gs.cv_results_
    m = gs.best_estimator_
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    for w in caught:
        print("warning: %s" % w.message, file=sys.stderr)
    print("rows %d" % X.shape[0])
    print("l2 " + " ".join("%.17g" % v for v in l2s))
    print("mean " + " ".join("%.17g" % v for v in cr["mean_test_score"]))
    print("std " + " ".join("%.17g" % v for v in cr["std_test_score"]))
    print("rank " + " ".join("%d" % v for v in cr["rank_test_score"]))
    for i in range(len(l2s)):
        print("scores " + " ".join("%.17g" % cr["split%d_test_score" % k][i] for k in range(5)))
    print("best_l2 %.17g" % (1.0 / gs.best_params_["C"]))
    print("best_index %d" % gs.best_index_)
    print("coef " + " ".join("%.17g" % v for v in m.coef_.ravel()))
    print("intercept " + " ".join("%.17g" % v for v in m.intercept_.ravel()))
    print("n_iter %d" % int(np.max(m.n_iter_)))
    print("converged %d" % converged)
    print("seconds imports=%.3f load=%.3f search=%.3f refit=%.3f" % (t1 - t0, t2 - t1, t3 - t2, gs.refit_time_),
          file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
