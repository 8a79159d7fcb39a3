#!/usr/bin/python3
"""Tests for sluice-gendata (tools/gendata.c).

usage: /usr/bin/python3 tests/test_gendata.py PATH_TO_sluice-gendata TMPDIR

Runs the generator a few times into TMPDIR (about 100 MB in all, removed at the end)
and checks: layout (shapes, dtypes, chunking, attributes), NaN rates, recovery of
the true model by least squares, determinism across thread counts and chunk sizes,
the classification task (--task classification, --classes K: labels, class
balance, the Bayes accuracy, recovery of the generating weights by scikit-learn's
LogisticRegression, determinism), and the handling of bad usage and I/O errors.  Prints one line per test and a final
line "P passed, F failed"; exits 0 only if everything passed.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

import h5py
import numpy as np

GEN = None
TMP = None


def run(*args, expect=0):
    p = subprocess.run([GEN, *map(str, args)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=600)
    if expect is not None and p.returncode != expect:
        raise AssertionError("sluice-gendata %s: exit %d (expected %d)\nstdout: %s\nstderr: %s"
                             % (" ".join(map(str, args)), p.returncode, expect,
                                p.stdout, p.stderr))
    return p


def gen(name, rows, features, *extra):
    out = os.path.join(TMP, name)
    run(out, "--rows", rows, "--features", features, *extra)
    assert os.path.exists(out), "output file not created"
    assert not os.path.exists(out + ".tmp"), "temporary file left behind"
    return out


def load(path):
    with h5py.File(path, "r") as h:
        return (h["X"][()], h["y"][()], np.asarray(h.attrs["true_w"]),
                float(h.attrs["true_b"]))


# --------------------------------------------------------------------------- tests

def test_layout():
    n, f = 1000, 5
    out = gen("layout.h5", n, f, "--seed", 7, "--chunk-rows", 300)
    with h5py.File(out, "r") as h:
        assert set(h.keys()) == {"X", "y"}, list(h.keys())
        X, y = h["X"], h["y"]
        assert X.shape == (n, f) and X.dtype == np.dtype("<f4"), (X.shape, X.dtype)
        assert y.shape == (n,) and y.dtype == np.dtype("<f4"), (y.shape, y.dtype)
        assert X.chunks == (300, f), X.chunks
        assert y.chunks == (300,), y.chunks
        assert X.compression is None and y.compression is None
        a = h.attrs
        w = np.asarray(a["true_w"])
        assert w.shape == (f,) and w.dtype == np.float64, (w.shape, w.dtype)
        assert float(a["true_b"]) == 3.0
        assert int(a["seed"]) == 7
        gname = a["generator"]
        gname = gname.decode() if isinstance(gname, bytes) else str(gname)
        assert gname == "sluice-gendata", gname
        assert float(a["noise"]) == 0.5
        assert float(a["nan_rate"]) == 0.01 and float(a["label_nan_rate"]) == 0.005

    # chunk rows larger than N are clipped to N; default chunk is 65536
    out = gen("layout_small.h5", 10, 3)
    with h5py.File(out, "r") as h:
        assert h["X"].chunks == (10, 3) and h["y"].chunks == (10,)
        assert np.isfinite(np.asarray(h.attrs["true_w"])).all()
    out = gen("layout_default.h5", 70000, 2, "--nan-rate", 0, "--label-nan-rate", 0)
    with h5py.File(out, "r") as h:
        assert h["X"].chunks == (65536, 2) and h["y"].chunks == (65536,)
        X = h["X"][()]
        # column j ~ Normal(j, 1 + j)
        assert abs(X[:, 0].mean() - 0.0) < 0.03 and abs(X[:, 1].mean() - 1.0) < 0.05
        assert abs(X[:, 0].std() - 1.0) < 0.02 and abs(X[:, 1].std() - 2.0) < 0.04
        assert abs(np.corrcoef(X[:, 0], X[:, 1])[0, 1]) < 0.02
    # many features: true_w (80 kB) no longer fits a compact attribute
    out = gen("wide.h5", 3, 10000, "--chunk-rows", 2)
    with h5py.File(out, "r") as h:
        assert h["X"].shape == (3, 10000) and h["X"].chunks == (2, 10000)
        assert np.asarray(h.attrs["true_w"]).shape == (10000,)
    # a single row, a single feature
    out = gen("one.h5", 1, 1)
    with h5py.File(out, "r") as h:
        assert h["X"].shape == (1, 1) and h["y"].shape == (1,) and h["X"].chunks == (1, 1)


def test_nan_rates():
    n, f = 200000, 8
    X, y, _, _ = load(gen("nan_default.h5", n, f, "--seed", 1))
    # 6 binomial standard deviations
    for got, rate, count in ((np.isnan(X).mean(), 0.01, X.size),
                             (np.isnan(y).mean(), 0.005, y.size)):
        tol = 6 * np.sqrt(rate * (1 - rate) / count)
        assert abs(got - rate) < tol, "NaN rate %.6f, expected %.4f +- %.6f" % (got, rate, tol)
    # NaNs spread over all columns
    per_col = np.isnan(X).mean(axis=0)
    assert (abs(per_col - 0.01) < 6 * np.sqrt(0.01 * 0.99 / n)).all(), per_col
    # injection in y is independent of X: y's NaNs are not only on rows with NaN X
    assert np.isnan(y[~np.isnan(X).any(axis=1)]).any()

    X, y, _, _ = load(gen("nan_custom.h5", n, f, "--seed", 2, "--nan-rate", 0.2,
                          "--label-nan-rate", 0.1))
    for got, rate, count in ((np.isnan(X).mean(), 0.2, X.size),
                             (np.isnan(y).mean(), 0.1, y.size)):
        tol = 6 * np.sqrt(rate * (1 - rate) / count)
        assert abs(got - rate) < tol, "NaN rate %.6f, expected %.4f +- %.6f" % (got, rate, tol)

    X, y, _, _ = load(gen("nan_zero.h5", 5000, 4, "--nan-rate", 0, "--label-nan-rate", 0))
    assert np.isfinite(X).all() and np.isfinite(y).all()
    X, y, _, _ = load(gen("nan_one.h5", 5000, 4, "--nan-rate", 1, "--label-nan-rate", 1))
    assert np.isnan(X).all() and np.isnan(y).all()


def fit(X, y):
    keep = np.isfinite(X).all(axis=1) & np.isfinite(y)
    A = np.hstack([X[keep].astype(np.float64), np.ones((keep.sum(), 1))])
    coef, *_ = np.linalg.lstsq(A, y[keep].astype(np.float64), rcond=None)
    resid = y[keep] - A @ coef
    return coef, A, resid


def test_least_squares():
    n, f, noise = 200000, 8, 0.5
    X, y, w, b = load(gen("fit.h5", n, f, "--seed", 3, "--noise", noise))
    coef, A, resid = fit(X, y)
    assert A.shape[0] > 0.9 * n
    # standard errors of the OLS estimate under the true noise level
    se = noise * np.sqrt(np.diag(np.linalg.inv(A.T @ A)))
    err = coef - np.append(w, b)
    z = np.abs(err) / se
    assert (z < 6).all(), "estimate off by %s standard errors (err %s)" % (z, err)
    assert abs(resid.std() / noise - 1) < 0.02, resid.std()

    # without noise, the fit is exact up to float32 rounding of y
    X, y, w, b = load(gen("fit_exact.h5", 20000, 6, "--seed", 4, "--noise", 0))
    coef, _, resid = fit(X, y)
    assert np.abs(coef - np.append(w, b)).max() < 1e-4, coef - np.append(w, b)
    assert np.abs(resid).max() < 1e-4 * max(1.0, np.abs(y[np.isfinite(y)]).max())


def test_determinism():
    n, f = 200000, 7  # odd F: last column uses one Box-Muller output
    ref = gen("det_ref.h5", n, f, "--seed", 99, "--threads", 1)
    Xr, yr, wr, br = load(ref)
    variants = [("det_t2.h5", ["--threads", 2]),
                ("det_t2_c1000.h5", ["--threads", 2, "--chunk-rows", 1000]),
                ("det_t1_c7777.h5", ["--threads", 1, "--chunk-rows", 7777]),
                ("det_t3_c65536.h5", ["--threads", 3, "--chunk-rows", 65536])]
    for name, extra in variants:
        X, y, w, b = load(gen(name, n, f, "--seed", 99, *extra))
        assert X.tobytes() == Xr.tobytes(), "X differs for %s" % extra
        assert y.tobytes() == yr.tobytes(), "y differs for %s" % extra
        assert w.tobytes() == wr.tobytes() and b == br
    # same seed and same chunking: the whole file is byte-identical (no timestamps)
    with open(ref, "rb") as a, open(os.path.join(TMP, "det_t2.h5"), "rb") as c:
        assert a.read() == c.read(), "files differ between --threads 1 and 2"
    # each value depends only on its coordinates: fewer rows = a prefix
    Xp, yp, wp, _ = load(gen("det_prefix.h5", 1234, f, "--seed", 99))
    assert Xp.tobytes() == Xr[:1234].tobytes() and yp.tobytes() == yr[:1234].tobytes()
    assert wp.tobytes() == wr.tobytes()
    # another seed gives other data
    Xo, _, wo, _ = load(gen("det_other.h5", 1000, f, "--seed", 100))
    assert not np.array_equal(wo, wr)
    assert np.mean(Xo == Xr[:1000]) < 0.01
    for name, _ in variants:
        os.unlink(os.path.join(TMP, name))


def load_class(path):
    with h5py.File(path, "r") as h:
        a = h.attrs
        return (h["X"][()], h["y"][()], np.asarray(a["true_w"]), np.asarray(a["true_b"]),
                {k: a[k] for k in a})


def test_classification_layout():
    n, f = 30000, 16
    out = gen("cls.h5", n, f, "--task", "classification", "--seed", 5, "--chunk-rows", 4000)
    with h5py.File(out, "r") as h:
        assert set(h.keys()) == {"X", "y"}, list(h.keys())
        X, y = h["X"], h["y"]
        assert X.shape == (n, f) and X.dtype == np.dtype("<f8"), (X.shape, X.dtype)
        assert y.shape == (n,) and y.dtype == np.dtype("<i8"), (y.shape, y.dtype)
        assert X.chunks == (4000, f) and y.chunks == (4000,), (X.chunks, y.chunks)
        a = h.attrs
        task = a["task"].decode() if isinstance(a["task"], bytes) else str(a["task"])
        assert task == "classification" and int(a["classes"]) == 2 and int(a["seed"]) == 5
        w = np.asarray(a["true_w"])
        assert w.shape == (f,) and w.dtype == np.float64
        assert abs(np.linalg.norm(w) - 5.0) < 1e-12, np.linalg.norm(w)
        assert float(a["true_b"]) == 0.5
        assert "nan_rate" not in a and "noise" not in a
    X, y, w, b, attrs = load_class(out)
    assert np.isfinite(X).all()
    assert set(np.unique(y)) == {0, 1}
    # X ~ Normal(0, 1), independent columns
    assert np.abs(X.mean(0)).max() < 0.04 and np.abs(X.std(0) - 1).max() < 0.03
    C = np.corrcoef(X.T)
    assert np.abs(C - np.eye(f)).max() < 0.04
    # the labels follow P(y=1|x) = sigmoid(x.w + b): observed frequencies per decile of p
    p = 1 / (1 + np.exp(-(X @ w + b)))
    order = np.argsort(p)
    for part in np.array_split(order, 10):
        sd = np.sqrt(max(p[part].mean() * (1 - p[part].mean()), 1e-4) / len(part))
        assert abs(y[part].mean() - p[part].mean()) < 6 * sd, (y[part].mean(), p[part].mean())
    # overlapping classes: the Bayes accuracy is about 0.895 (|w| = 5, b = 0.5), and the
    # attribute is the mean of max(p, 1-p) over the rows
    bayes = float(attrs["bayes_accuracy"])
    assert abs(bayes - np.maximum(p, 1 - p).mean()) < 1e-6, (bayes, np.maximum(p, 1 - p).mean())
    assert 0.87 < bayes < 0.92, bayes
    acc = ((p > 0.5) == (y == 1)).mean()
    assert abs(acc - bayes) < 6 * np.sqrt(bayes * (1 - bayes) / n), (acc, bayes)
    assert 0.50 < y.mean() < 0.58, y.mean()   # about 54 % ones


def test_classification_recovers_weights():
    from sklearn.linear_model import LogisticRegression
    n, f = 100000, 8
    X, y, w, b, _ = load_class(gen("cls_fit.h5", n, f, "--task", "classification", "--seed", 11))
    # nearly unpenalized maximum likelihood
    m = LogisticRegression(C=1e6, solver="newton-cholesky", tol=1e-10, max_iter=100).fit(X, y)
    est = np.append(m.coef_.ravel(), m.intercept_[0])
    truth = np.append(w, float(b))
    # standard errors from the Fisher information at the true parameters
    A = np.hstack([X, np.ones((n, 1))])
    p = 1 / (1 + np.exp(-(A @ truth)))
    se = np.sqrt(np.diag(np.linalg.inv(A.T @ (A * (p * (1 - p))[:, None]))))
    z = np.abs(est - truth) / se
    assert (z < 6).all(), "estimate off by %s standard errors (est %s, true %s)" % (z, est, truth)
    assert np.abs(est - truth).max() < 0.15, est - truth
    # the weights really matter: a model fitted on shuffled labels is far from them
    y_perm = np.random.default_rng(0).permutation(y)
    m0 = LogisticRegression(C=1e6, solver="newton-cholesky", tol=1e-10, max_iter=100).fit(X, y_perm)
    assert np.abs(m0.coef_.ravel() - w).max() > 1.0

    # K classes: softmax over K weight vectors of norm 5, intercepts 0; the fit is
    # identified up to a shift common to all classes, so compare centred weights
    k = 3
    X, y, W, B, attrs = load_class(gen("cls_fit3.h5", n, f, "--task", "classification",
                                       "--classes", k, "--seed", 11))
    assert W.shape == (k, f) and B.shape == (k,) and (B == 0).all()
    assert np.allclose(np.linalg.norm(W, axis=1), 5.0)
    assert np.array_equal(W[0], w), "row 0 of W is the binary model's w"
    assert y.dtype == np.int64 and set(np.unique(y)) == set(range(k))
    assert 0.8 < float(attrs["bayes_accuracy"]) < 0.95
    m = LogisticRegression(C=1e6, solver="newton-cg", tol=1e-6, max_iter=1000).fit(X, y)
    err = (m.coef_ - m.coef_.mean(0)) - (W - W.mean(0))
    assert np.abs(err).max() < 0.15, err
    assert np.abs((m.intercept_ - m.intercept_.mean())).max() < 0.1, m.intercept_
    Z = X @ W.T
    acc_true = (Z.argmax(1) == y).mean()
    assert abs(acc_true - float(attrs["bayes_accuracy"])) < 0.01


def test_classification_determinism():
    n, f = 100000, 7  # odd F
    for extra in ([], ["--classes", 4]):
        ref = gen("cdet_ref.h5", n, f, "--task", "classification", "--seed", 8, "--threads", 1, *extra)
        Xr, yr, wr, br, ar = load_class(ref)
        for name, opts in (("cdet_t2.h5", ["--threads", 2]),
                           ("cdet_t2_c999.h5", ["--threads", 2, "--chunk-rows", 999]),
                           ("cdet_t3_c65536.h5", ["--threads", 3, "--chunk-rows", 65536])):
            X, y, w, b, a = load_class(gen(name, n, f, "--task", "classification", "--seed", 8,
                                           *opts, *extra))
            assert X.tobytes() == Xr.tobytes() and y.tobytes() == yr.tobytes(), opts + extra
            assert w.tobytes() == wr.tobytes() and b.tobytes() == br.tobytes()
            assert float(a["bayes_accuracy"]) == float(ar["bayes_accuracy"]), opts + extra
            os.unlink(os.path.join(TMP, name))
        with open(ref, "rb") as r1:
            first = r1.read()
        again = gen("cdet_again.h5", n, f, "--task", "classification", "--seed", 8, "--threads", 2,
                    *extra)
        with open(again, "rb") as r2:
            assert first == r2.read(), "files differ between runs of the same seed"
        Xp, yp, _, _, _ = load_class(gen("cdet_prefix.h5", 777, f, "--task", "classification",
                                         "--seed", 8, *extra))
        assert Xp.tobytes() == Xr[:777].tobytes() and yp.tobytes() == yr[:777].tobytes()
        Xo, yo, wo, _, _ = load_class(gen("cdet_other.h5", 1000, f, "--task", "classification",
                                          "--seed", 9, *extra))
        assert not np.array_equal(wo, wr) and np.mean(Xo == Xr[:1000]) < 0.01
    # explicit --task regression is the default
    a = gen("treg_a.h5", 100, 3)
    b = gen("treg_b.h5", 100, 3, "--task", "regression")
    with open(a, "rb") as fa, open(b, "rb") as fb:
        assert fa.read() == fb.read()


def test_bad_usage():
    out = os.path.join(TMP, "bad.h5")
    cases = [
        [],
        [out],
        [out, "--rows", 10],
        [out, "--features", 3],
        ["--rows", 10, "--features", 3],
        [out, "--rows", 0, "--features", 3],
        [out, "--rows", -5, "--features", 3],
        [out, "--rows", "abc", "--features", 3],
        [out, "--rows", "10x", "--features", 3],
        [out, "--rows", "", "--features", 3],
        [out, "--rows", 10, "--features", 0],
        [out, "--rows", 10, "--features", 3, "--nan-rate", 1.5],
        [out, "--rows", 10, "--features", 3, "--nan-rate", -0.1],
        [out, "--rows", 10, "--features", 3, "--nan-rate", "nan"],
        [out, "--rows", 10, "--features", 3, "--label-nan-rate", 2],
        [out, "--rows", 10, "--features", 3, "--noise", -1],
        [out, "--rows", 10, "--features", 3, "--threads", 0],
        [out, "--rows", 10, "--features", 3, "--chunk-rows", 0],
        [out, "--rows", 10, "--features", 3, "--seed", "-1"],
        [out, "--rows", 10, "--features", 3, "--bogus", 1],
        [out, "--rows", 10, "--features"],
        [out, "other.h5", "--rows", 10, "--features", 3],
        [out, "--rows", 10, "--features", 3, "--task", "clustering"],
        [out, "--rows", 10, "--features", 3, "--task"],
        [out, "--rows", 10, "--features", 3, "--classes", 3],
        [out, "--rows", 10, "--features", 3, "--task", "classification", "--classes", 1],
        [out, "--rows", 10, "--features", 3, "--task", "classification", "--classes", 1001],
        [out, "--rows", 10, "--features", 3, "--task", "classification", "--nan-rate", 0.1],
        [out, "--rows", 10, "--features", 3, "--task", "classification", "--noise", 1],
    ]
    for args in cases:
        p = run(*args, expect=2)
        assert "sluice-gendata" in p.stderr and len(p.stderr.strip()) > 20, \
            "no clear message for %s: %r" % (args, p.stderr)
        assert not os.path.exists(out) and not os.path.exists(out + ".tmp"), args
    p = run("--help", expect=0)
    assert "usage" in p.stdout.lower() and "--rows" in p.stdout and "--nan-rate" in p.stdout
    assert "--task" in p.stdout and "--classes" in p.stdout
    # --name=value form is accepted
    run(out, "--rows=10", "--features=3", "--nan-rate=0.5", expect=0)
    assert os.path.exists(out)
    os.unlink(out)
    # I/O error: exit 3, message, nothing left behind
    missing = os.path.join(TMP, "no_such_dir", "x.h5")
    p = run(missing, "--rows", 10, "--features", 3, expect=3)
    assert "no_such_dir" in p.stderr, p.stderr
    assert not os.path.exists(os.path.dirname(missing))


TESTS = [test_layout, test_nan_rates, test_least_squares, test_determinism,
         test_classification_layout, test_classification_recovers_weights,
         test_classification_determinism, test_bad_usage]


def main(argv):
    global GEN, TMP
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    GEN = os.path.abspath(argv[1])
    os.makedirs(argv[2], exist_ok=True)
    TMP = tempfile.mkdtemp(prefix="test_gendata.", dir=argv[2])
    passed = failed = 0
    try:
        for t in TESTS:
            try:
                t()
                passed += 1
                print("PASS %s" % t.__name__)
            except Exception:
                failed += 1
                print("FAIL %s" % t.__name__)
                traceback.print_exc(file=sys.stdout)
            sys.stdout.flush()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
