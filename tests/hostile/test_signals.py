#!/usr/bin/python3
"""Hostile-input tests: signals, the scheduler's depth, threads, advice (issue 14).
See common.py for how they run."""
import os

import numpy as np

import common
from common import expect, expect_ok, h5, read_array, sluice, tdir, write  # noqa: F401


# ---------------------------------------------------------------------------
# item 8: a chain of streamed stages as deep as the documented limit
# ---------------------------------------------------------------------------

def chain_run(name, n):
    """load.hdf5 -> n - 2 streamed converts (float32 and float64 in turn) -> a
    stored scale adding 1: n stages, every one but the last streamed, so the
    last stage's pass computes n - 1 levels per chunk. Returns the result."""
    d = tdir(name)
    x = np.arange(36, dtype=np.float64).reshape(12, 3)  # exact in float32
    h5(d, X=x)
    lines = ["pipeline: chain", "workdir: wd", "checkpoint: false", "stages:",
             "  s0: { op: load.hdf5, file: data.h5, arrays: { X: /X } }"]
    lines += ["  s%d: { op: convert, input: s%d, dtype: %s }" % (i, i - 1, "float32" if i % 2 else "float64")
              for i in range(1, n - 1)]
    lines.append("  last: { op: scale, input: s%d, offset: 1, checkpoint: true }" % (n - 2))
    write(d, "\n".join(lines) + "\n")
    ok = expect_ok(sluice(d, "check", "p.yaml", timeout=120))
    assert "pipeline 'chain': %d stages" % n in ok.stdout, ok.stdout[:200]
    expect_ok(sluice(d, "run", "p.yaml", "-q", timeout=240))
    got = read_array(os.path.join(d, "wd", "last.h5"), "X")
    want_dtype = np.float32 if (n - 2) % 2 else np.float64
    assert got.dtype == want_dtype, "last stage's dtype %s, expected %s" % (got.dtype, want_dtype)
    assert np.array_equal(got, x + 1), "chain of %d stages computed\n%s" % (n, got)
    left = sorted(os.listdir(os.path.join(d, "wd")))
    assert left == [".sluice.lock", "last.h5", "run.log", "sluice.manifest"], left
    return d


def test_streamed_chain_of_50000_stages():
    """Item 8: realizing a streamed stage recursed into the stage it reads, one
    stack frame per stage, on a worker thread: 50,000 stages died with SIGSEGV."""
    chain_run("chain50k", 50000)


def test_streamed_chain_at_the_100000_stage_limit():
    """Item 8: the documented limit itself, 100,000 stages, runs."""
    chain_run("chain100k", 100000)


# ---------------------------------------------------------------------------
# item 13: advice that fits the setting
# ---------------------------------------------------------------------------

def collinear_folder(name):
    """1,000 rows whose third feature is the sum of the first two."""
    d = tdir(name)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1000, 3)) * [1, 2, 3] + [5, 0, 1]
    x[:, 2] = x[:, 0] + x[:, 1]
    h5(d, X=x, y=x @ [1.0, 2.0, 0.0] + rng.normal(size=1000))
    return d


def fit_yaml(l2):
    return ("pipeline: lr\nworkdir: wd\nstages:\n  load: { op: load.hdf5, file: data.h5, arrays: { X: /X, y: /y } }\n"
            "  fit: { op: linreg, input: load%s }\n" % ("" if l2 is None else ", l2: %s" % l2))


def test_collinear_advice_fits_l2():
    """Item 13: with l2 already > 0 (1e-12, too small to matter) the message
    said "Set l2 > 0 (ridge)". It must say to raise l2, by how much, and name
    rank_deficient: pinv; the l2 it names then makes the system solvable.
    Without l2 the advice stays "Set l2 > 0"."""
    d = collinear_folder("collinear")
    write(d, fit_yaml(None))
    msg = expect(sluice(d, "run", "p.yaml"), 1, "p.yaml:5:3: stage 'fit'", "collinear", "X[2] ≈ 1·X[0] + 1·X[1]",
                 "Set l2 > 0 (ridge)", "rank_deficient: pinv")
    assert "raise l2" not in msg, msg
    write(d, fit_yaml("1e-12"))
    msg = expect(sluice(d, "run", "p.yaml"), 1, "p.yaml:5:39: stage 'fit'", "collinear",
                 "l2 = 1e-12 is too small", "raise l2 (to ", "rank_deficient: pinv")
    assert "Set l2 > 0" not in msg, msg
    enough = msg.split("raise l2 (to ", 1)[1].split(" ", 1)[0]
    assert float(enough) > 1e-12, msg
    write(d, fit_yaml(enough))
    expect_ok(sluice(d, "run", "p.yaml"))
    coef = read_array(os.path.join(d, "wd", "fit.h5"), "coef")
    # the ridge splits the weight of X[2] between X[0] and X[1]: y = X[0] + 2 X[1]
    assert np.allclose(coef[0, :2] + coef[0, 2], [1, 2], atol=0.1), coef


if __name__ == "__main__":
    common.main(globals())
