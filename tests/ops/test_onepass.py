"""One-pass fits by algebra (issue 18, src/ops/moments.c): a chain clean
(drop_row, impute_mean) → convert → normalize (z-score) → linreg gathers its
statistics in clean's one pass over the source; normalize fits and linreg
solves from moments, with no pass of their own. Checked against a reference
computed in long double on the imputed data (a column of mean 1e8 and
standard deviation 1 with 30 % missing values included), against sluice's
own passes (SLUICE_ALGEBRA=off), and for identical bits stored and
streamed, on 1 and 2 threads."""
import json
import os

import h5py
import numpy as np

from harness import Env, assert_close, main


def make_data(env, rows=20000, seed=5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 4))
    X[:, 0] = 1e8 + rng.normal(size=rows)          # the naive formula's nightmare
    X[:, 1] = 3 * X[:, 1] + 0.5 * X[:, 2] - 7
    y = X[:, 1] * 2 - (X[:, 0] - 1e8) + 0.3 * X[:, 3] + rng.normal(size=rows) * 0.1
    X[rng.random(rows) < 0.3, 0] = np.nan
    for c in (1, 2, 3):
        X[rng.random(rows) < 0.1, c] = np.nan
    y[rng.random(rows) < 0.05] = np.nan
    with h5py.File(env.path("d.h5"), "w") as f:
        f["X"] = X
        f["y"] = y.reshape(-1, 1)
    return X, y


PIPE = """pipeline: onepass
workdir: {w}
checkpoint: {ck}
stages:
  load:  {{ op: load.hdf5, file: d.h5, arrays: {{ X: /X, y: /y }} }}
  clean: {{ op: clean, input: load, nan: {{ y: drop_row, X: impute_mean }} }}
  f64:   {{ op: convert, input: clean, dtype: float64 }}
  norm:  {{ op: normalize, input: f64 }}
  fit:   {{ op: linreg, input: norm }}
  ridge: {{ op: linreg, input: norm, l2: 10 }}
  gd:    {{ op: linreg, input: norm, solver: gradient_descent, epochs: 50, learning_rate: 0.2 }}
"""


def run_log(env, w):
    with open(env.path(w, "run.log")) as f:
        return {e["stage"]: e for e in map(json.loads, f)}


def reference(X, y, fill, l2=0.0):
    """Imputed (with clean's fill values, as stored), z-scored least squares (ridge), all in long double."""
    keep = ~np.isnan(y)
    X, y = X[keep].astype(np.longdouble), y[keep].astype(np.longdouble)
    for c in range(X.shape[1]):
        X[np.isnan(X[:, c]), c] = fill[c]
    mu = X.mean(0)
    mu = mu + (X - mu).mean(0)  # a second pass: NumPy sums a column (axis 0) row by row
    sd = np.sqrt(((X - mu) ** 2).mean(0))
    Z = (X - mu) / sd
    zc, yc = Z - Z.mean(0), y - y.mean()
    C = zc.T @ zc + l2 * np.eye(X.shape[1], dtype=np.longdouble)
    w = np.linalg.solve(C.astype(np.float64), (zc.T @ yc).astype(np.float64))  # the system is tiny and well posed
    # one step of iterative refinement in long double
    r = zc.T @ yc - C @ w.astype(np.longdouble)
    w = w + np.linalg.solve(C.astype(np.float64), r.astype(np.float64))
    b = y.mean() - (Z.mean(0) * w).sum()
    return mu, sd, w, b


def run_modes(env, extra=""):
    """PIPE (+ extra stages) stored on 1 thread, streamed (checkpoint: final) on 2 and 1, and stored
    with SLUICE_ALGEBRA=off (every stage makes its passes): each in the workdir of its name."""
    runs = {}
    for w, ck, flags, envv in (("stored", "true", ["-j", "1"], {}), ("final", "final", ["-j", "2"], {}),
                               ("final1", "final", ["-j", "1"], {}),
                               ("passes", "true", ["-j", "2"], {"SLUICE_ALGEBRA": "off"})):
        old = dict(os.environ)
        os.environ.update(envv)
        try:
            runs[w] = env.run(PIPE.format(w=w, ck=ck) + extra, "-q", *flags, name=w + ".yaml")
        finally:
            os.environ.clear()
            os.environ.update(old)
    return runs


def test_one_pass_and_the_reference(args):
    env = Env(args, "onepass")
    X, y = make_data(env)
    runs = run_modes(env)
    log = {w: run_log(env, w) for w in runs}
    # stored: normalize only applies (its fit came from clean's moments), linreg makes no pass
    assert log["stored"]["norm"]["passes"] == 1, log["stored"]["norm"]
    for st in ("fit", "ridge", "gd"):
        assert log["stored"][st]["passes"] == 0, log["stored"][st]
    # without the algebra: normalize fits and applies, the Gram pass is made (shared by the three fits)
    assert log["passes"]["norm"]["passes"] == 2, log["passes"]["norm"]
    assert sum(log["passes"][st]["passes"] for st in ("fit", "ridge", "gd")) >= 1
    # final: the whole chain is read once, by the first fit that realizes it
    assert sum(log["final"][st]["passes"] for st in ("fit", "ridge", "gd")) == 1, log["final"]
    with h5py.File(env.path("stored", "clean.h5")) as f:
        fill = f["X"].attrs["impute_value"]
        # clean's fill values are the observed means: the column of mean 1e8 to the last
        # bit of a double, the others (means near 0, spread 1 to 3) to 1e-15 of their spread,
        # which is what a float64 sum of their 14,000 values can promise
        cols = [X[~np.isnan(y) & ~np.isnan(X[:, c]), c].astype(np.longdouble) for c in range(4)]
        obs = np.array([v.mean() for v in cols], dtype=np.float64)
        assert_close(fill[:1], obs[:1], 1e-15, what="impute value of the column of mean 1e8")
        spread = np.array([v.std() for v in cols], dtype=np.float64)
        err = np.abs(fill - obs) / np.maximum(np.abs(obs), spread)
        assert (err <= 1e-15).all(), "impute values: errors %s of max(|mean|, spread)" % err
    mu, sd, w, b = reference(X, y, fill)
    _, _, wr, br = reference(X, y, fill, 10.0)
    with h5py.File(env.path("stored", "norm.h5")) as f:
        assert_close(f["X"].attrs["mean"], mu.astype(np.float64), 1e-15, what="normalize's means")
        assert_close(f["X"].attrs["scale"], sd.astype(np.float64), 1e-13, what="normalize's stds")
    for st, ww, bb in (("fit", w, b), ("ridge", wr, br)):
        with h5py.File(env.path("stored", st + ".h5")) as f:
            assert_close(f["coef"][0], ww, 1e-12, what=st + " coefficients vs long double")
            assert_close(f["intercept"][0, 0], float(bb), 1e-12, what=st + " intercept vs long double")
        # the passes z-score each value of the 1e8 column, rounding it by up to 7e-9: they are the less exact
        with h5py.File(env.path("passes", st + ".h5")) as p:
            perr = np.abs(p["coef"][0] - ww.astype(np.float64)).max() / np.abs(ww.astype(np.float64)).max()
            print("     %s: sluice's own passes are %.2g off the long-double reference; the algebra is within 1e-12"
                  % (st, perr))
            assert perr < 1e-8
    # stored and streamed, 1 and 2 threads: the same bits
    for st in ("fit", "ridge", "gd"):
        with h5py.File(env.path("stored", st + ".h5")) as a:
            for other in ("final", "final1"):
                with h5py.File(env.path(other, st + ".h5")) as b2:
                    for k in a.keys():
                        assert a[k][...].tobytes() == b2[k][...].tobytes(), (st, k, other)
    # NumPy in float64 on the z-scored data: it rounds each z of the 1e8 column (7e-9), the algebra does not
    keep = ~np.isnan(y)
    Xi = X[keep].copy()
    for c in range(4):
        obs = ~np.isnan(Xi[:, c])
        Xi[~obs, c] = Xi[obs, c].mean()
    Z = (Xi - Xi.mean(0)) / Xi.std(0)
    A = np.hstack([Z, np.ones((len(Z), 1))])
    ls = np.linalg.lstsq(A, y[keep], rcond=None)[0]
    with h5py.File(env.path("stored", "fit.h5")) as f:
        err = np.abs(f["coef"][0] - ls[:-1]).max() / np.abs(ls[:-1]).max()
    print("     NumPy float64 lstsq on its own z-scores: max relative difference %.2g" % err)
    assert err < 1e-9


def test_falls_back_to_passes(args):
    """Clipping is not affine: normalize and linreg make their passes, with the same answers."""
    env = Env(args, "fallback")
    X, y = make_data(env, rows=3000)
    text = PIPE.format(w="w", ck="true").replace("X: impute_mean }", "X: impute_mean }, clip_sigma: 50")
    env.run(text, "-q")
    log = run_log(env, "w")
    # normalize fits by a pass; the fits make the Gram pass (shared when one finishes before another starts)
    assert log["norm"]["passes"] == 2, log["norm"]
    assert sum(log[st]["passes"] for st in ("fit", "ridge", "gd")) >= 1, [log[st] for st in ("fit", "ridge", "gd")]
    with h5py.File(env.path("w", "clean.h5")) as f:
        fill = f["X"].attrs["impute_value"]
    mu, sd, w, b = reference(X, y, fill)  # clip_sigma 50 clips nothing here
    with h5py.File(env.path("w", "fit.h5")) as f:
        assert_close(f["coef"][0], w, 1e-11, what="coefficients by passes")


def test_chunks_refused_by_the_one_pass(args):
    """clean's one pass centres each chunk on its first 128 rows' means; where a column is seen
    once there, at 1e8, and near 0 after them, that would cost it ~13 bits, and the chunk is taken
    block by block instead (kernels/pairmoments.c, ops/clean.c): the fits keep 1e-12."""
    env = Env(args, "refused")
    X, y = make_data(env, rows=20000)
    rows = np.arange(len(X))
    first = rows % 8192 < 128
    X[first, 2] = np.nan
    X[rows % 8192 == 0, 2] = 1e8
    with h5py.File(env.path("d.h5"), "w") as f:
        f["X"] = X
        f["y"] = y.reshape(-1, 1)
    env.run(PIPE.format(w="w", ck="true"), "-q")
    with h5py.File(env.path("w", "clean.h5")) as f:
        fill = f["X"].attrs["impute_value"]
    obs = X[~np.isnan(y) & ~np.isnan(X[:, 2]), 2].astype(np.longdouble)
    spread = float(obs.std())
    assert abs(fill[2] - float(obs.mean())) <= 1e-15 * max(abs(float(obs.mean())), spread), (fill[2], obs.mean())
    mu, sd, w, b = reference(X, y, fill)
    with h5py.File(env.path("w", "norm.h5")) as f:
        assert_close(f["X"].attrs["scale"], sd.astype(np.float64), 1e-13, what="normalize's stds")
    with h5py.File(env.path("w", "fit.h5")) as f:
        assert_close(f["coef"][0], w, 1e-12, what="coefficients vs long double")


METRICS = """  score:     { op: metrics, model: fit, data: norm, metrics: [mse, rmse, r2] }
  score_gd:  { op: metrics, model: gd, data: norm, metrics: [r2, mse] }
  score_mae: { op: metrics, model: fit, data: norm, metrics: [mse, mae] }
"""


def scores(env, w, st):
    with h5py.File(env.path(w, st + ".h5")) as f:
        return {k: f[k][0, 0] for k in f.keys()}


def test_metrics_by_algebra(args):
    """mse, rmse and r2 of a linear model on the top of the chain follow from the same moments
    (kernels/residual.c): no pass. Against long double on the stored z-scored data and model
    to 1e-12, against the pass (a metric that needs one, and SLUICE_ALGEBRA=off), identical
    bits stored and streamed, on 1 and 2 threads. A model that fits to 1e-7 of the truth's
    spread cancels too much of the sums: the pass scores it."""
    env = Env(args, "algebra-metrics")
    X, y = make_data(env)
    run_modes(env, METRICS)
    for w in ("stored", "final"):
        log = run_log(env, w)
        assert log["score"]["passes"] == 0 and log["score_gd"]["passes"] == 0, (log["score"], log["score_gd"])
        assert log["score_mae"]["passes"] + log["score_mae"].get("shared_passes", 0) >= 1, log["score_mae"]
    assert run_log(env, "passes")["score"]["passes"] == 1
    with h5py.File(env.path("stored", "norm.h5")) as f:
        Z, yz = f["X"][...].astype(np.longdouble), f["y"][...].ravel().astype(np.longdouble)
    for st, model in (("score", "fit"), ("score_gd", "gd")):
        with h5py.File(env.path("stored", model + ".h5")) as f:
            coef, b = f["coef"][0].astype(np.longdouble), np.longdouble(f["intercept"][0, 0])
        e = yz - Z @ coef - b
        mse = (e * e).mean()
        want = {"mse": mse, "rmse": np.sqrt(mse), "r2": 1 - (e * e).sum() / ((yz - yz.mean()) ** 2).sum()}
        got, passes = scores(env, "stored", st), scores(env, "passes", st)
        for k in got:
            assert_close(got[k], float(want[k]), 1e-12, what="%s %s vs long double" % (st, k))
            assert_close(got[k], passes[k], 1e-12, what="%s %s vs the pass" % (st, k))
        for other in ("final", "final1"):
            o = scores(env, other, st)
            assert all(o[k].tobytes() == got[k].tobytes() for k in got), (st, other, got, o)
        if st == "score":
            assert_close(got["mse"], scores(env, "stored", "score_mae")["mse"], 1e-12, what="mse vs its pass")
    # y follows X to 1e-7 of its spread: Σe² is 1e-14 of the terms that cancel to it
    rng = np.random.default_rng(9)
    X2 = rng.normal(size=(5000, 3)) * [1, 2, 3] + [4, 5, 6]
    y2 = X2 @ [1.5, -2.0, 0.25] + 7 + rng.normal(size=5000) * 1e-7
    X2[rng.random(5000) < 0.05, 1] = np.nan  # imputed, but drops the rows of y only
    y2[rng.random(5000) < 0.05] = np.nan
    with h5py.File(env.path("d.h5"), "w") as f:
        f["X"] = np.where(np.isnan(X2), np.nan, X2)
        f["y"] = y2.reshape(-1, 1)
    text = PIPE.format(w="exact", ck="true").replace("X: impute_mean", "X: drop_row") + METRICS
    env.run(text, "-q", name="exact.yaml")
    log = run_log(env, "exact")
    assert log["score"]["passes"] == 1, log["score"]
    with h5py.File(env.path("exact", "norm.h5")) as f, h5py.File(env.path("exact", "fit.h5")) as m:
        Z, yz = f["X"][...].astype(np.longdouble), f["y"][...].ravel().astype(np.longdouble)
        e = yz - Z @ m["coef"][0].astype(np.longdouble) - np.longdouble(m["intercept"][0, 0])
    assert_close(scores(env, "exact", "score")["mse"], float((e * e).mean()), 1e-9, what="a near-exact fit's mse")


if __name__ == "__main__":
    main([test_one_pass_and_the_reference, test_falls_back_to_passes, test_chunks_refused_by_the_one_pass,
          test_metrics_by_algebra])
