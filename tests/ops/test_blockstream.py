"""Block streaming (src/plan/exec.c, stream_blocks): a pass over an input
streamed through row-local stages (clean, convert, normalize) computes the
streamed levels a block of rows at a time and hands metrics its rows in runs
of whole blocks. The scores must be the bits of the same pipeline with every
stage stored, of whole chunks at every level (SLUICE_BLOCKS=off), and of one
thread, with chunks whose kept rows are no multiple of the block (dropped
rows, a chunk dropped whole, a run of dropped rows longer than a block), and
equal NumPy's scores computed from the stored normalized data and model."""
import json
import os

import h5py
import numpy as np

from harness import Env, assert_close, main

METRICS = ("mse", "rmse", "mae", "r2")


def make_data(env, rows=30000, seed=11):
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(rows, 5)) * [1, 2, 3, 0.5, 10] + [0, 5, -3, 100, 0]).astype(np.float32)
    y = (X.astype(np.float64) @ [1.5, -2, 0.25, 3, 0.1] + rng.normal(size=rows)).astype(np.float32)
    X[rng.random(X.shape) < 0.03] = np.nan
    y[rng.random(rows) < 0.1] = np.nan
    y[6000:9000] = np.nan    # chunk 2 dropped whole
    y[12100:12800] = np.nan  # a run longer than a block
    with h5py.File(env.path("d.h5"), "w") as f:
        f["X"] = X
        f["y"] = y.reshape(-1, 1)
    return X, y


PIPE = """pipeline: blocks
workdir: {w}
checkpoint: {ck}
chunk_rows: 3000
stages:
  load:  {{ op: load.hdf5, file: d.h5, arrays: {{ X: /X, y: /y }} }}
  clean: {{ op: clean, input: load, nan: {{ y: drop_row, X: impute_mean }} }}
  f64:   {{ op: convert, input: clean, dtype: float64 }}
  norm:  {{ op: normalize, input: f64, arrays: [X] }}
  fit:   {{ op: linreg, input: norm }}
  gd:    {{ op: linreg, input: norm, solver: gradient_descent, epochs: 30, learning_rate: 0.2 }}
  score: {{ op: metrics, model: fit, data: norm, metrics: [mse, rmse, mae, r2] }}
  score_gd: {{ op: metrics, model: gd, data: norm, metrics: [mse, rmse, mae, r2] }}
"""


def run(env, w, ck, flags, extra_env=None):
    old = dict(os.environ)
    os.environ.update(extra_env or {})
    try:
        env.run(PIPE.format(w=w, ck=ck), "-q", *flags, name=w + ".yaml")
    finally:
        os.environ.clear()
        os.environ.update(old)
    with open(env.path(w, "run.log")) as f:
        return {e["stage"]: e for e in map(json.loads, f)}


def scores(env, w, stage):
    with h5py.File(env.path(w, stage + ".h5")) as f:
        return {m: f[m][...].tobytes() for m in METRICS}, {m: float(f[m][...].ravel()[0]) for m in METRICS}


def test_blocks_give_the_bits_of_whole_chunks(args):
    env = Env(args, "blocks")
    make_data(env)
    logs = {
        "stored": run(env, "stored", "true", ["-j", "1"]),
        "final": run(env, "final", "final", ["-j", "2"]),
        "final1": run(env, "final1", "final", ["-j", "1"]),
        "whole": run(env, "whole", "final", ["-j", "2"], {"SLUICE_BLOCKS": "off"}),
    }
    # streamed: the two metrics stages read the chain in one shared scan, one pass each
    for st in ("score", "score_gd"):
        assert logs["final"][st]["passes"] == 1, logs["final"][st]
        assert logs["final"]["clean"]["status"] == "streamed", logs["final"]["clean"]
    for st in ("score", "score_gd"):
        bits, _ = scores(env, "stored", st)
        for w in ("final", "final1", "whole"):
            other, _ = scores(env, w, st)
            assert other == bits, (st, w)


def test_scores_equal_numpy(args):
    env = Env(args, "numpy")
    make_data(env)
    run(env, "w", "true", ["-j", "2"])
    with h5py.File(env.path("w", "norm.h5")) as f:
        Z, y = f["X"][...], f["y"][...].ravel().astype(np.float64)
    assert len(y) == 30000 - int(np.isnan(h5py.File(env.path("d.h5"))["y"][...]).sum())
    for st, model in (("score", "fit"), ("score_gd", "gd")):
        with h5py.File(env.path("w", model + ".h5")) as f:
            coef, b = f["coef"][0], float(f["intercept"][0, 0])
        e = y - (Z @ coef + b)
        mse = np.mean(e * e)
        want = {"mse": mse, "rmse": np.sqrt(mse), "mae": np.mean(np.abs(e)),
                "r2": 1 - np.sum(e * e) / np.sum((y - y.mean()) ** 2)}
        _, got = scores(env, "w", st)
        for m in METRICS:
            assert_close(got[m], want[m], 1e-12, what="%s %s against NumPy" % (st, m))


if __name__ == "__main__":
    main([test_blocks_give_the_bits_of_whole_chunks, test_scores_equal_numpy])
