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


if __name__ == "__main__":
    common.main(globals())
