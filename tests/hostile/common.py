"""Shared helpers of the hostile-input suite (tests/hostile/test_*.py).

Each test script is run by meson as
    /usr/bin/python3 tests/hostile/test_X.py --sluice PATH --gendata PATH --tmp DIR --source-root DIR [-k SUBSTR]
and prints `ok NAME` / `FAIL NAME: why` / `skip NAME: why`, then `N passed, M failed`.
No pytest: the scripts call `main(globals())`.
"""
import argparse
import os
import shutil
import subprocess
import sys
import textwrap
import traceback

import h5py
import numpy as np

# set by main()
SLUICE = GENDATA = TMP = SRC = None
TIMEOUT = 60


class Skip(Exception):
    """Raised by a test that cannot run here (says why)."""


def tdir(name):
    """A fresh, empty folder TMP/name."""
    d = os.path.join(TMP, name)
    if os.path.lexists(d):
        for root, dirs, _ in os.walk(d):
            for x in dirs:
                p = os.path.join(root, x)
                if not os.path.islink(p):
                    os.chmod(p, 0o755)
        os.chmod(d, 0o755)
        shutil.rmtree(d)
    os.makedirs(d)
    return d


def write(d, text, name="p.yaml"):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(textwrap.dedent(text).lstrip("\n"))
    return path


def h5(d, name="data.h5", rows=20, cols=3, seed=1, **arrays):
    """An HDF5 file of the given arrays (default: X rows x cols float64 and y rows)."""
    if not arrays:
        rng = np.random.default_rng(seed)
        arrays = {"X": rng.normal(size=(rows, cols)), "y": rng.normal(size=rows)}
    path = os.path.join(d, name)
    with h5py.File(path, "w") as f:
        for k, v in arrays.items():
            f[k] = v
    return path


def sluice(d, *args, env=None, timeout=TIMEOUT, stdin=subprocess.DEVNULL):
    """Runs the real sluice in folder d; a CompletedProcess (text)."""
    e = dict(os.environ, LC_ALL="C")
    e.pop("OMP_NUM_THREADS", None)
    if env:
        e.update(env)
    return subprocess.run([SLUICE, *map(str, args)], cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=stdin, text=True, timeout=timeout, env=e)


def show(p):
    return "exit %d\n--- stdout:\n%s--- stderr:\n%s" % (p.returncode, p.stdout, p.stderr)


def expect(p, code, *needles):
    """Exit `code` and exactly one `sluice: ...` line on stderr that contains every needle."""
    if p.returncode != code:
        raise AssertionError("expected exit %d, got %s" % (code, show(p)))
    lines = p.stderr.splitlines()
    if len(lines) != 1 or not lines[0].startswith("sluice: "):
        raise AssertionError("expected one line 'sluice: ...' on stderr\n%s" % show(p))
    for n in needles:
        if n not in lines[0]:
            raise AssertionError("expected %r in the message\n%s" % (n, show(p)))
    return lines[0]


def expect_ok(p):
    if p.returncode != 0:
        raise AssertionError("expected exit 0, got %s" % show(p))
    return p


def read_array(path, name):
    with h5py.File(path, "r") as f:
        return f[name][...]


def main(ns):
    """Runs every test_* function of the calling script's globals `ns`."""
    global SLUICE, GENDATA, TMP, SRC
    ap = argparse.ArgumentParser()
    ap.add_argument("--sluice", required=True)
    ap.add_argument("--gendata", required=True)
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--source-root", required=True)
    ap.add_argument("-k", action="append", default=[])
    a = ap.parse_args()
    SLUICE, GENDATA = os.path.abspath(a.sluice), os.path.abspath(a.gendata)
    TMP, SRC = os.path.abspath(a.tmp), os.path.abspath(a.source_root)
    os.makedirs(TMP, exist_ok=True)
    tests = [(n, f) for n, f in ns.items() if n.startswith("test_") and callable(f)]
    if a.k:
        tests = [(n, f) for n, f in tests if any(k in n for k in a.k)]
    passed = failed = skipped = 0
    for name, fn in tests:
        try:
            fn()
        except Skip as e:
            skipped += 1
            print("skip %s: %s" % (name, e), flush=True)
            continue
        except Exception as e:  # noqa: BLE001 -- report every failure and go on
            failed += 1
            msg = str(e) if isinstance(e, AssertionError) else traceback.format_exc()
            print("FAIL %s: %s" % (name, msg), flush=True)
            continue
        passed += 1
        print("ok %s" % name, flush=True)
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    sys.exit(1 if failed else 0)
