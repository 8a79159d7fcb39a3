#!/usr/bin/python3
"""libsluice as a program embeds it, from the installed library only (issue 15).

`meson install` of this build into a scratch DESTDIR; the examples are then
compiled with nothing but `pkg-config --cflags --libs sluice` (through
PKG_CONFIG_SYSROOT_DIR, which points the flags into the DESTDIR), and run:

- examples/embed_lesson.c: the lesson on the program's own arrays (sl_op_call,
  a pipeline built in code, workdir ":memory:"), run in an empty directory
  under strace: no file may be created, written, renamed or removed anywhere,
  and every number must equal the derivation by hand below;
- examples/score_rows.c: a model trained by the installed `sluice` from a
  pipeline file, read back from its checkpoint and applied to rows given in
  memory; the predictions are checked against the weights h5py reads.

usage: test_embedding.py --build BUILD --source-root ROOT --tmp TMP
"""
import argparse
import math
import os
import re
import shutil
import subprocess
import sys

import h5py

import installed

CC = ["cc"]
WRITES = re.compile(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|^\d+\s+(mkdir|mkdirat|rename|renameat2?|unlink|unlinkat|"
                    r"link|linkat|symlink|symlinkat|truncate|ftruncate|creat)\(")


# Files the runtimes of scripts/check's sanitizer builds make for themselves:
# TSan's copy of read-only data, LLVM libomp's registration of the process.
RUNTIME_FILES = re.compile(r'"(/dev/null|/tmp/tsan\.rodata\.\d+|/dev/shm/__KMP_REGISTERED_LIB_\d+_\d+)"')


def file_writes(trace_lines):
    """The strace lines that create, write, rename or remove a file, but for
    the runtimes' own files (and what is done through their descriptors)."""
    runtime_fds, writes = set(), []
    for line in trace_lines:
        if RUNTIME_FILES.search(line):
            m = re.search(r"= (\d+)$", line.strip())
            if m:
                runtime_fds.add((line.split()[0], m.group(1)))
            continue
        m = re.match(r"(\d+)\s+f?truncate\((\d+),", line)
        if m and m.groups() in runtime_fds:
            continue
        if WRITES.search(line):
            writes.append(line)
    return writes


def installed_env(**extra):
    """The environment without the build's LD_LIBRARY_PATH (meson test sets it
    to the build's library, which would win over the examples' RUNPATH)."""
    env = dict(os.environ, **extra)
    if "LD_LIBRARY_PATH" not in extra:
        env.pop("LD_LIBRARY_PATH", None)
    return env


def compile_example(src, out, dest, libdir, root):
    env = installed.pkg_config_env(dest, libdir)
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "sluice"], env=env, stdout=subprocess.PIPE,
                           text=True, check=True).stdout.split()
    paths = [f[2:] for f in flags if f[:2] in ("-I", "-L")]
    assert paths and all(x.startswith(dest + "/") for x in paths), "pkg-config points outside the install: %s" % flags
    cmd = CC + ["-std=c11", "-Wall", "-Wextra", "-Werror", src, "-o", out] + flags + \
          ["-Wl,-rpath," + dest + libdir]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert p.returncode == 0, "%s\n%s" % (" ".join(cmd), p.stdout)


def close(got, want, rel, what):
    assert abs(got - want) <= rel * max(1.0, abs(want)), "%s: %.17g, expected %.17g" % (what, got, want)


def lesson_by_hand(y):
    """The lesson pipeline's numbers, derived by hand (tests/pipelines)."""
    d0, d1 = [0.5, -1.5, 3.5, -2.5], [0.5, -0.5, 1.5, -1.5]
    z0 = [v / math.sqrt(21 / 4) for v in d0]
    z1 = [v / math.sqrt(5 / 4) for v in d1]
    pred = [4 * a + 3 * b + 10 for a, b in zip(z0, z1)]
    err = [p - t for p, t in zip(pred, y)]
    return {"mse": [sum(e * e for e in err) / 4],
            "step_coef": [4 - 0.1 * sum(e * a for e, a in zip(err, z0)) / 4,
                          3 - 0.1 * sum(e * b for e, b in zip(err, z1)) / 4],
            "step_intercept": [10 - 0.1 * sum(err) / 4]}, z0, z1


def check_embed_lesson(exe, dest, tmp):
    empty = os.path.join(tmp, "empty-cwd")
    shutil.rmtree(empty, ignore_errors=True)
    os.makedirs(empty)
    trace = os.path.join(tmp, "embed.strace")
    # LeakSanitizer cannot work under ptrace: the leak check is the run after
    asan = os.environ.get("ASAN_OPTIONS", "")
    traced = installed_env(ASAN_OPTIONS=(asan + ":" if asan else "") + "detect_leaks=0")
    p = subprocess.run(["strace", "-f", "-qq", "-e", "trace=%file,%desc", "-o", trace, exe], cwd=empty, env=traced,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    assert p.returncode == 0, "embed_lesson failed:\n" + p.stdout + p.stderr
    again = subprocess.run([exe], cwd=empty, env=installed_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=120)
    assert again.returncode == 0 and again.stdout == p.stdout, "embed_lesson without strace:\n" + again.stderr
    loaded = [l for l in open(trace) if "libsluice.so.0" in l and not l.rstrip().endswith(")")
              and "= -1" not in l]
    assert loaded and all(dest in l for l in loaded), "not the installed libsluice:\n" + "".join(loaded)
    writes = file_writes(open(trace))
    assert not writes, "the in-memory lesson touched files:\n" + "".join(writes[:20])
    assert os.listdir(empty) == [], os.listdir(empty)
    got = {}
    for line in p.stdout.splitlines():
        name, *vals = line.split()
        got[name] = [float(v) for v in vals]
    want, z0, z1 = lesson_by_hand([75.0, 60.0, 90.0, 55.0])
    # z-scores of the unscaled X are those of X * 1.1
    for i, v in enumerate(got["zscore"]):
        close(v, (z0 if i % 2 == 0 else z1)[i // 2], 1e-14, "zscore[%d]" % i)
    # least squares solves exactly: w = (5, 2), b = 34.5 (5*5 + 2*7 + 34.5 = 73.5 ...)
    for v, w in zip(got["lstsq_coef"] + got["lstsq_intercept"], [5, 2, 34.5]):
        close(v, w, 1e-12, "least squares")
    for run, y in (("run1", [75.0, 60.0, 90.0, 55.0]), ("run2", [75.0, 60.0, 90.0, 55.0]),
                   ("run3", [75.0, 60.0, 90.0, 65.0])):
        want, _, _ = lesson_by_hand(y)
        for key, vals in want.items():
            for g, w in zip(got["%s.%s" % (run, key)], vals):
                close(g, w, 1e-12, "%s %s" % (run, key))
    assert got["run1.computed"] == [6] and got["run2.computed"] == [0] and got["run3.computed"] == [6], got
    print("ok: the lesson in memory matches the derivation by hand, and wrote no file")


def check_score_rows(exe, dest, prefix, libdir, root, tmp):
    work = os.path.join(tmp, "score")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    text = open(os.path.join(root, "pipelines", "lesson.yaml")).read()
    text = text.replace("../runs/lesson", os.path.join(work, "runs")).replace(
        "../datasets/", os.path.join(root, "datasets") + "/")
    yaml = os.path.join(work, "lesson.yaml")
    open(yaml, "w").write(text)
    sluice = os.path.join(dest + prefix, "bin", "sluice")
    env = installed_env(LD_LIBRARY_PATH=dest + libdir)  # its RUNPATH names the real prefix
    p = subprocess.run([sluice, "run", yaml, "-q"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=120)
    assert p.returncode == 0, "installed sluice failed:\n" + p.stdout
    rows = [(1.0, 2.0), (0.5, -0.25), (3.0, 0.0)]
    p = subprocess.run([exe, yaml, "step"] + ["%r,%r" % r for r in rows], env=installed_env(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=120)
    assert p.returncode == 0, "score_rows failed:\n" + p.stdout + p.stderr
    lines = p.stdout.split("\n")
    # load, scale, normalize and step were trained by the run above: all reused
    assert lines[0] == "reused 4", lines[0]
    with h5py.File(os.path.join(work, "runs", "step.h5"), "r") as f:
        w = f["coef"][0]
        b = f["intercept"][0, 0]
    for line, (x0, x1) in zip(lines[1:], rows):
        close(float(line), w[0] * x0 + w[1] * x1 + b, 1e-14, "prediction of %r" % ((x0, x1),))
    print("ok: rows in memory scored with the model of a checkpoint")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--source-root", required=True)
    ap.add_argument("--tmp", required=True)
    a = ap.parse_args()
    os.makedirs(a.tmp, exist_ok=True)
    root = os.path.realpath(a.source_root)
    global CC
    CC = installed.compile_command(a.build)
    dest, prefix, libdir = installed.install(a.build, a.tmp)
    exes = {}
    for name in ("embed_lesson", "score_rows"):
        exes[name] = os.path.join(a.tmp, name)
        compile_example(os.path.join(root, "examples", name + ".c"), exes[name], dest, libdir, root)
    check_embed_lesson(exes["embed_lesson"], dest, a.tmp)
    check_score_rows(exes["score_rows"], dest, prefix, libdir, root, a.tmp)
    shutil.rmtree(dest, ignore_errors=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print("FAIL:", e)
        sys.exit(1)
