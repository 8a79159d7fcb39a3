"""Shared helpers for the op tests: run sluice on a pipeline written by the
test, read checkpoints with h5py (the independent reader), and a tiny runner
that prints one line per test and a closing 'N passed, M failed' line."""
import argparse
import os
import shutil
import subprocess
import sys
import traceback

import h5py
import numpy as np


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sluice", required=True)
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--source-root", required=True)
    return ap.parse_args()


class Env:
    def __init__(self, args, name):
        self.sluice = args.sluice
        self.root = args.source_root
        self.dir = os.path.join(args.tmp, name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def fixture(self, name):
        return os.path.join(self.root, "tests", "fixtures", name)

    def write(self, name, text):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def run(self, yaml_text, *flags, expect=0, name="p.yaml"):
        """Writes the pipeline, runs `sluice run`, checks the exit code."""
        p = self.write(name, yaml_text)
        r = subprocess.run([self.sluice, "run", p, *flags], capture_output=True, text=True, timeout=120)
        if expect is not None and r.returncode != expect:
            raise AssertionError("exit %d (expected %d)\nstdout:\n%s\nstderr:\n%s"
                                 % (r.returncode, expect, r.stdout, r.stderr))
        return r

    def ckpt(self, stage, workdir="w"):
        """Opens workdir/<stage>.h5 read-only (close it or use `with`)."""
        return h5py.File(self.path(workdir, stage + ".h5"), "r")

    def read(self, stage, array, workdir="w"):
        with self.ckpt(stage, workdir) as f:
            return f[array][...]


def assert_close(got, want, rtol, atol=0.0, what=""):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        raise AssertionError("%s: shape %s, expected %s" % (what, got.shape, want.shape))
    if not np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True):
        err = np.abs(got - want) / np.maximum(np.abs(want), 1e-300)
        raise AssertionError("%s: max relative error %.3g > %.3g\ngot  %s\nwant %s"
                             % (what, np.nanmax(err), rtol, got.ravel()[:8], want.ravel()[:8]))


def main(tests):
    """Runs each test(args); prints ok/FAIL lines and 'N passed, M failed'."""
    args = parse_args()
    passed = failed = 0
    for t in tests:
        try:
            t(args)
            print("ok   %s" % t.__name__)
            passed += 1
        except Exception:
            print("FAIL %s\n%s" % (t.__name__, traceback.format_exc()))
            failed += 1
        sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
