#!/usr/bin/python3
"""Plugins of the sluice command (issue 15, item 5).

The example plugin (examples/plugin_clip.c, libsluice-clipper.so: op
example.clip_abs) used from a pipeline file's `plugins:` by the build's
sluice: its output against NumPy, reuse on a second run, recomputation when
the plugin's version changes (a second build of it, 1.1.0), a run SIGKILLed
inside the plugin's stage and resumed, the search (the pipeline's folder,
SLUICE_PLUGIN_PATH, paths), `sluice ops` and its origins, and each error a
plugin can give, by its exact text.

usage: test_plugins.py --sluice PATH --gendata PATH --tmp DIR --clipper SO --clipper-v2 SO
                       --bogus-no-entry SO --bogus-abi-999 SO --bogus-dup-builtin SO
                       --bogus-dup-plugin SO --bogus-init-fails SO --bogus-twice SO [-k SUBSTRING ...]

No pytest: prints `ok NAME`, `skip NAME: why` or `FAIL NAME: why`, then a summary.
"""
import argparse
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import textwrap
import time
import traceback

import h5py
import numpy as np

A = None
TIMEOUT = 120
BOUND = 1.5


class Skip(Exception):
    pass


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def tdir(name):
    d = os.path.join(A.tmp, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def write(d, text, name="p.yaml"):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(textwrap.dedent(text).lstrip("\n"))
    return path


def put(so, d, name="libsluice-clipper.so"):
    """A copy of a built module in d, under name."""
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, name)
    shutil.copyfile(so, path)
    return path


def data(d, rows=5000):
    """data.h5: X rows x 4 float64 (spread past the bound, some NaNs) and y float32."""
    rng = np.random.default_rng(15)
    X = rng.normal(scale=2.0, size=(rows, 4))
    X[rng.random(size=X.shape) < 0.01] = np.nan
    y = rng.normal(scale=1.5, size=rows).astype(np.float32)
    with h5py.File(os.path.join(d, "data.h5"), "w") as f:
        f["X"] = X
        f["y"] = y
    return X, y


def sluice(d, *args, env=None):
    e = dict(os.environ, LC_ALL="C")
    e.pop("OMP_NUM_THREADS", None)
    e.pop("SLUICE_PLUGIN_PATH", None)
    e.update(env or {})
    return subprocess.run([A.sluice, *map(str, args)], cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=TIMEOUT, env=e)


def show(p):
    return "exit %d\n--- stdout:\n%s--- stderr:\n%s" % (p.returncode, p.stdout, p.stderr)


def ok(p):
    if p.returncode != 0:
        raise AssertionError("expected success, got " + show(p))
    return p


def fails(p, code, line):
    """Exit `code` and exactly one line on stderr: `line`."""
    if p.returncode != code or p.stderr.splitlines() != [line]:
        raise AssertionError("expected exit %d and the one line\n  %s\ngot %s" % (code, line, show(p)))


def run_log(wd):
    with open(os.path.join(wd, "run.log")) as f:
        return [json.loads(line) for line in f if line.strip()]


def last_status(wd):
    """stage -> status in the last run's run.log lines (load and clip)."""
    return {e["stage"]: e["status"] for e in run_log(wd)[-2:]}


PIPELINE = """\
    plugins: [clipper]
    workdir: wd
    chunk_rows: 512
    stages:
      load: { op: load.hdf5, file: data.h5, arrays: { X: /X, y: /y } }
      clip: { op: example.clip_abs, input: load, bound: %g }
    """ % BOUND


def clipped(a, bound=BOUND):
    """NumPy's clip, with the op's rule: NaN passes through; counts per column."""
    out = np.where(np.abs(a) > bound, np.sign(a) * bound, a).astype(a.dtype)
    count = (np.abs(a) > bound).sum(axis=0)
    return out, count


def expect_clip_output(wd, X, y, version):
    with h5py.File(os.path.join(wd, "clip.h5"), "r") as f:
        gx, gy = f["X"][...], f["y"][...].reshape(-1)
        attrs = dict(f.attrs)
        per_col = f["X"].attrs["clipped"]
    wx, cx = clipped(X)
    wy, cy = clipped(y)
    assert gx.dtype == np.float64 and gy.dtype == np.float32, (gx.dtype, gy.dtype)
    assert np.array_equal(gx.view(np.uint64), wx.view(np.uint64)), "X differs from NumPy's clip"
    assert np.array_equal(gy.view(np.uint32), wy.view(np.uint32)), "y differs from NumPy's clip"
    assert list(per_col) == list(cx), "X's 'clipped' attribute %s, NumPy counts %s" % (list(per_col), list(cx))
    assert attrs["result.values_clipped"] == cx.sum() + cy, (attrs["result.values_clipped"], cx.sum() + cy)
    assert attrs["sluice_plugin"] == "clipper " + version, attrs.get("sluice_plugin")
    assert attrs["sluice_op"] == "example.clip_abs"


_BASE = {}


def base():
    """A folder with data.h5, the plugin beside p.yaml, and one complete run."""
    if "d" not in _BASE:
        d = tdir("base")
        X, y = data(d)
        put(A.clipper, d)
        write(d, PIPELINE)
        ok(sluice(d, "run", "p.yaml", "-j", "2"))
        _BASE.update(d=d, X=X, y=y)
    return _BASE["d"], _BASE["X"], _BASE["y"]


# ---------------------------------------------------------------------------
# the plugin's op in a pipeline: values, reuse, version, resume
# ---------------------------------------------------------------------------

def test_run_matches_numpy():
    d, X, y = base()
    wd = os.path.join(d, "wd")
    assert last_status(wd) == {"load": "ran", "clip": "ran"}, last_status(wd)
    expect_clip_output(wd, X, y, "1.0.0")


def test_second_run_reuses():
    d, X, y = base()
    wd = os.path.join(d, "wd")
    p = ok(sluice(d, "run", "p.yaml", "-j", "2"))
    assert last_status(wd) == {"load": "reused", "clip": "reused"}, last_status(wd)
    assert "values_clipped=" in p.stdout, p.stdout
    ok(sluice(d, "status", "p.yaml"))
    expect_clip_output(wd, X, y, "1.0.0")


def test_check_and_graph():
    d, _, _ = base()
    p = ok(sluice(d, "check", "p.yaml"))
    assert "example.clip_abs" in p.stdout and p.stdout.rstrip().endswith("ok"), p.stdout
    p = ok(sluice(d, "graph", "p.yaml"))
    assert "example.clip_abs" in p.stdout, p.stdout


def test_new_version_recomputes():
    """The plugin replaced by its 1.1.0 build: clip is stale (status says why),
    the run recomputes it and reuses load; the 1.0.0 build back: again."""
    d = tdir("version")
    X, y = data(d, rows=3000)
    put(A.clipper, d)
    write(d, PIPELINE)
    wd = os.path.join(d, "wd")
    ok(sluice(d, "run", "p.yaml"))
    put(A.clipper_v2, d)
    p = sluice(d, "status", "p.yaml")
    assert p.returncode == 1 and "plugin changed (clipper 1.0.0 -> clipper 1.1.0)" in p.stdout, show(p)
    ok(sluice(d, "run", "p.yaml"))
    assert last_status(wd) == {"load": "reused", "clip": "ran"}, last_status(wd)
    expect_clip_output(wd, X, y, "1.1.0")
    ok(sluice(d, "run", "p.yaml"))
    assert last_status(wd) == {"load": "reused", "clip": "reused"}, last_status(wd)
    put(A.clipper, d)
    ok(sluice(d, "run", "p.yaml"))
    assert last_status(wd) == {"load": "reused", "clip": "ran"}, last_status(wd)
    expect_clip_output(wd, X, y, "1.0.0")


def journal_rows(path):
    """(rows written, rows allocated) of a resume journal (SLJRNL02: magic[8], key[33],
    chunk_rows, max_rows, n_arrays, state size, rows written, bytes written), or None."""
    try:
        with open(path, "rb") as f:
            head = f.read(8 + 33 + 6 * 8)
    except (FileNotFoundError, IsADirectoryError):
        return None
    if len(head) < 8 + 33 + 6 * 8 or head[:8] != b"SLJRNL02":
        return None
    _, max_rows, _, _, w_rows, _ = struct.unpack("<6q", head[41:])
    return w_rows, max_rows


def test_kill_in_plugin_stage_resumes():
    """1M x 8 rows; the run is SIGKILLed once clip's journal records 20-80 % of its
    rows; the rerun resumes clip (run.log says at which row) and its output is
    NumPy's clip of the data, with the counts of the whole data."""
    d = tdir("resume")
    p = subprocess.run([A.gendata, os.path.join(d, "data.h5"), "--rows", "1000000", "--features", "8", "--seed",
                        "5", "--chunk-rows", "4096"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    put(A.clipper, d)
    write(d, PIPELINE.replace("chunk_rows: 512", "chunk_rows: 1024"))
    wd = os.path.join(d, "wd")
    journal = os.path.join(wd, "clip.h5.tmp.resume")
    env = dict(os.environ, LC_ALL="C", SLUICE_RESUME_INTERVAL="0")  # a journal after every batch
    env.pop("SLUICE_PLUGIN_PATH", None)
    killed_at = None
    for _ in range(5):
        shutil.rmtree(wd, ignore_errors=True)
        r = subprocess.Popen([A.sluice, "run", "p.yaml", "-j", "1"], cwd=d, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        deadline = time.time() + TIMEOUT
        while r.poll() is None and time.time() < deadline:
            jr = journal_rows(journal)
            if jr and 0.2 * jr[1] <= jr[0] <= 0.8 * jr[1]:
                r.send_signal(signal.SIGKILL)
                break
            time.sleep(0.002)
        if r.poll() is None and time.time() >= deadline:
            r.kill()
        r.wait()
        r.stderr.close()
        if r.returncode == -signal.SIGKILL:
            killed_at = journal_rows(journal)
            break
    if not killed_at:
        raise Skip("could not kill the run inside clip in 5 attempts (the machine ran it too fast)")
    assert os.path.exists(os.path.join(wd, "clip.h5.tmp")), os.listdir(wd)
    p = ok(sluice(d, "run", "p.yaml", "-j", "2", env={"SLUICE_RESUME_INTERVAL": "0"}))
    e = [e for e in run_log(wd) if e["stage"] == "clip"][-1]
    assert e["status"] == "ran" and e.get("resume", "").startswith("resumed at row "), e
    with h5py.File(os.path.join(d, "data.h5"), "r") as f:
        X, y = f["X"][...], f["y"][...].reshape(-1)
    with h5py.File(os.path.join(wd, "clip.h5"), "r") as f:
        gx, total = f["X"][...], f.attrs["result.values_clipped"]
    wx, cx = clipped(X)
    _, cy = clipped(y)
    assert np.array_equal(gx.view(np.uint32), wx.view(np.uint32)), "X differs from NumPy's clip after the resume"
    assert total == cx.sum() + cy, (total, cx.sum() + cy)
    assert not [f for f in os.listdir(wd) if ".tmp" in f], os.listdir(wd)
    return "killed at row %d of %d; %s" % (killed_at[0], killed_at[1], e["resume"])


# ---------------------------------------------------------------------------
# finding plugins
# ---------------------------------------------------------------------------

def test_search_path_and_paths():
    """A bare name from SLUICE_PLUGIN_PATH (its second folder; a missing folder is
    skipped), a path relative to the pipeline file, a file name ending in .so, and
    one file named twice (loaded once)."""
    d = tdir("search")
    X, y = data(d, rows=1000)
    lib = os.path.join(d, "lib")
    put(A.clipper, lib)
    write(d, PIPELINE)
    env = {"SLUICE_PLUGIN_PATH": "%s/none:%s" % (d, lib)}
    ok(sluice(d, "run", "p.yaml", env=env))
    expect_clip_output(os.path.join(d, "wd"), X, y, "1.0.0")
    for spec in ["lib/libsluice-clipper.so", "libsluice-clipper.so", "[clipper, ./lib/libsluice-clipper.so]"]:
        text = PIPELINE.replace("[clipper]", spec if spec.startswith("[") else "[%s]" % spec)
        write(d, text)
        ok(sluice(d, "check", "p.yaml", env=env))


def test_ops_lists_plugin_ops_with_origin():
    d = tdir("ops")
    put(A.clipper, d)
    path = os.path.realpath(os.path.join(d, "libsluice-clipper.so"))
    p = ok(sluice(d, "ops", env={"SLUICE_PLUGIN_PATH": d}))
    want = "example.clip_abs   (plugin clipper 1.0.0 from %s)" % path
    assert want in p.stdout.splitlines(), p.stdout
    assert p.stdout.startswith("load.hdf5\n"), p.stdout[:200]
    p = ok(sluice(d, "ops", "example.clip_abs", "--plugin", os.path.join(d, "libsluice-clipper.so")))
    assert p.stdout.splitlines()[0] == want and "bound" in p.stdout, p.stdout
    # the op reference stays that of the built-in ops
    plain = ok(sluice(d, "ops", "--markdown")).stdout
    assert ok(sluice(d, "ops", "--markdown", env={"SLUICE_PLUGIN_PATH": d})).stdout == plain
    assert "clip_abs" not in plain
    p = sluice(d, "ops", "--plugin")
    assert p.returncode == 2 and p.stderr.splitlines() == [
        "sluice: --plugin needs a plugin name or path", "run 'sluice --help' for usage"], show(p)
    # without the plugin, the op is unknown
    p = sluice(d, "ops", "example.clip_abs")
    assert p.returncode == 2 and p.stderr.splitlines()[0] == (
        "sluice: unknown op 'example.clip_abs'; run 'sluice ops' to list the ops"), show(p)


def test_ops_path_with_a_bad_plugin():
    d = tdir("ops_bad")
    put(A.bogus_no_entry, d, "bogus.so")
    path = os.path.realpath(os.path.join(d, "bogus.so"))
    fails(sluice(d, "ops", env={"SLUICE_PLUGIN_PATH": d}), 2,
          "sluice: plugin '%s' exports no 'sluice_plugin' symbol: is it a sluice plugin? Build it with "
          "SL_PLUGIN(name, version, init) from <sluice/plugin.h>" % path)


# ---------------------------------------------------------------------------
# errors, by their exact text, located at the `plugins:` item
# ---------------------------------------------------------------------------

def case(name, plugins, modules=()):
    """A folder with data.h5, the clipper plugin, `modules` ((source, name) pairs)
    and p.yaml naming `plugins`. Returns (folder, its real path)."""
    d = tdir(name)
    data(d, rows=100)
    put(A.clipper, d)
    for so, fname in modules:
        put(so, d, fname)
    write(d, PIPELINE.replace("[clipper]", plugins))
    return d, os.path.realpath(d)


def test_error_missing_file():
    d, real = case("err_missing_path", "[clipper, lib/nothere.so]")
    fails(sluice(d, "run", "p.yaml"), 3,
          "sluice: p.yaml:1:20: cannot open plugin '%s/lib/nothere.so': No such file or directory" % real)


def test_error_folder_as_plugin():
    d, real = case("err_folder", "[clipper, ./lib]")
    os.makedirs(os.path.join(d, "lib"))
    fails(sluice(d, "run", "p.yaml"), 2, "sluice: p.yaml:1:20: plugin '%s/lib' is not a regular file" % real)


def test_error_name_not_found():
    d, real = case("err_missing_name", "[nothere]")
    fails(sluice(d, "check", "p.yaml", env={"SLUICE_PLUGIN_PATH": "/nonexistent"}), 2,
          "sluice: p.yaml:1:11: plugin 'nothere' not found: no nothere.so or libsluice-nothere.so in %s or in "
          "SLUICE_PLUGIN_PATH /nonexistent; put it there, add its folder to SLUICE_PLUGIN_PATH, or give its path"
          % real)


def test_error_no_entry_symbol():
    d, real = case("err_no_entry", "[./bogus.so]", [(A.bogus_no_entry, "bogus.so")])
    fails(sluice(d, "run", "p.yaml"), 2,
          "sluice: p.yaml:1:11: plugin '%s/bogus.so' exports no 'sluice_plugin' symbol: is it a sluice plugin? "
          "Build it with SL_PLUGIN(name, version, init) from <sluice/plugin.h>" % real)


def test_error_wrong_abi():
    d, real = case("err_abi", "[future]", [(A.bogus_abi_999, "future.so")])
    version = ok(sluice(d, "version")).stdout.split()[1]
    fails(sluice(d, "run", "p.yaml"), 2,
          "sluice: p.yaml:1:11: plugin '%s/future.so' was built for sluice ABI 999, but this libsluice %s supports "
          "ABI 1 to 1: rebuild it against this sluice's headers" % (real, version))


def test_error_not_a_shared_object():
    d, real = case("err_not_elf", "[junk]")
    with open(os.path.join(d, "junk.so"), "w") as f:
        f.write("not a shared object\n" * 100)
    p = sluice(d, "run", "p.yaml")
    prefix = "sluice: p.yaml:1:11: cannot load plugin '%s/junk.so': " % real
    assert p.returncode == 2 and p.stderr.startswith(prefix) and len(p.stderr.splitlines()) == 1, show(p)


def test_error_duplicate_of_builtin_op():
    d, real = case("err_dup_builtin", "[clipper, ./dup.so]", [(A.bogus_dup_builtin, "dup.so")])
    fails(sluice(d, "run", "p.yaml"), 2,
          "sluice: p.yaml:1:20: plugin 'dupdescribe' 0.1 (%s/dup.so) adds op 'describe', which is a built-in op: "
          "rename the plugin's op" % real)


def test_error_duplicate_of_plugin_op():
    d, real = case("err_dup_plugin", "[clipper, ./dup.so]", [(A.bogus_dup_plugin, "dup.so")])
    fails(sluice(d, "run", "p.yaml"), 2,
          "sluice: p.yaml:1:20: plugin 'clipcopy' 0.1 (%s/dup.so) adds op 'example.clip_abs', which plugin "
          "'clipper' 1.0.0 (%s/libsluice-clipper.so) already added: ops of plugins need names of their own; load "
          "only one of the two" % (real, real))


def test_error_same_plugin_twice():
    d, real = case("err_same_name", "[clipper, v2/libsluice-clipper.so]")
    put(A.clipper_v2, os.path.join(d, "v2"))
    fails(sluice(d, "run", "p.yaml"), 2,
          "sluice: p.yaml:1:20: plugin 'clipper' (%s/v2/libsluice-clipper.so): a plugin of that name is already "
          "loaded, version 1.0.0 from %s/libsluice-clipper.so; load only one of them" % (real, real))


def test_error_init_fails():
    d, real = case("err_init", "[grumpy]", [(A.bogus_init_fails, "libsluice-grumpy.so")])
    fails(sluice(d, "run", "p.yaml"), 2,
          "sluice: p.yaml:1:11: plugin 'grumpy' (%s/libsluice-grumpy.so): needs BOGUS_LICENSE to be set" % real)


def test_error_op_added_twice():
    """The plugin's second sl_plugin_add_op fails and its init returns SL_OK all the
    same: the load fails, and none of its ops is left (the pipeline's op is unknown
    to the next command)."""
    d, real = case("err_twice", "[twice]", [(A.bogus_twice, "twice.so")])
    fails(sluice(d, "check", "p.yaml"), 2,
          "sluice: p.yaml:1:11: plugin 'twice' (%s/twice.so) adds op 'bogus.noop' twice" % real)


def test_error_plugins_key_shape():
    d, _ = case("err_shape_map", "{ a: b }")
    fails(sluice(d, "check", "p.yaml"), 2,
          "sluice: p.yaml:1:10: 'plugins' must be a list of plugin names or paths, such as [clipper, "
          "./lib/my.so], found a mapping")
    d, _ = case("err_shape_empty", "[]")
    fails(sluice(d, "check", "p.yaml"), 2,
          "sluice: p.yaml:1:10: 'plugins' must be a list of plugin names or paths, such as [clipper, "
          "./lib/my.so], found an empty list")
    d, _ = case("err_shape_item", "[clipper, [x]]")
    fails(sluice(d, "check", "p.yaml"), 2, "sluice: p.yaml:1:20: a plugin must be a name or a path, found a list")
    d, _ = case("err_shape_blank", "[clipper, '']")
    fails(sluice(d, "check", "p.yaml"), 2,
          "sluice: p.yaml:1:20: a plugin needs a name or a path, found an empty one")


def test_unknown_op_hints_at_plugins():
    d, _ = case("err_no_plugins", "[clipper]")
    write(d, PIPELINE.replace("    plugins: [clipper]\n", ""))
    fails(sluice(d, "check", "p.yaml"), 2,
          "sluice: p.yaml:5:15: stage 'clip': unknown op 'example.clip_abs'; run 'sluice ops' to list the ops (an op "
          "of a plugin needs the plugin in the pipeline's 'plugins:' list)")


# ---------------------------------------------------------------------------

def main():
    global A
    ap = argparse.ArgumentParser()
    for opt in ["--sluice", "--gendata", "--tmp", "--clipper", "--clipper-v2", "--bogus-no-entry",
                "--bogus-abi-999", "--bogus-dup-builtin", "--bogus-dup-plugin", "--bogus-init-fails",
                "--bogus-twice"]:
        ap.add_argument(opt, required=True)
    ap.add_argument("-k", action="append", default=[])
    A = ap.parse_args()
    for k, v in vars(A).items():
        if isinstance(v, str):
            setattr(A, k, os.path.abspath(v))  # meson passes them relative to the build folder
    os.makedirs(A.tmp, exist_ok=True)
    tests = [(n, f) for n, f in sorted(globals().items()) if n.startswith("test_") and callable(f)]
    passed = failed = skipped = 0
    for name, fn in tests:
        if A.k and not any(k in name for k in A.k):
            continue
        t0 = time.time()
        try:
            note = fn()
            print("ok %s (%.1f s)%s" % (name, time.time() - t0, ": " + note if note else ""), flush=True)
            passed += 1
        except Skip as e:
            print("skip %s: %s" % (name, e), flush=True)
            skipped += 1
        except Exception:
            print("FAIL %s:\n%s" % (name, traceback.format_exc()), flush=True)
            failed += 1
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
