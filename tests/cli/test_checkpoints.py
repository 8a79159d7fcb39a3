#!/usr/bin/python3
"""Checkpoint, resume and reuse tests for sluice (issue 5).

usage: /usr/bin/python3 tests/cli/test_checkpoints.py --sluice PATH --gendata PATH --tmp DIR --source-root DIR
       [-k SUBSTRING ...]   (run only the tests whose name contains one of the substrings)
       [--keep]             (keep the big work folders under --tmp even when every test passed)

The tests run the real `sluice` binary on copies of pipelines/regression.yaml over
data made by sluice-gendata: 1 M x 16 rows for the kill/resume and lock tests
(so that stages last long enough to be killed inside), 200 k x 16 rows for the
others. They SIGKILL runs at many points and rerun them, corrupt checkpoints,
edit parameters and source files, and check what `run`, `status`, `clean` and
run.log say, reading every checkpoint back with h5py as an independent reader
and comparing it byte for byte with an uninterrupted run.

No pytest: a small runner catches the failure of each test, prints `ok NAME (S s)`
or `FAIL NAME: why`, lines starting with `#` for measured figures, and ends with
exactly one line `N passed, M failed`; the exit status is 1 when any test failed.
"""
import argparse
import json
import os
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
import traceback

import h5py
import numpy as np

SLUICE = GENDATA = TMP = SRC = None
TIMEOUT = 120
STAGES = ["load", "clean", "convert", "normalize", "lstsq", "gd", "evaluate", "evaluate_gd"]
PARENTS = {"load": [], "clean": ["load"], "convert": ["clean"], "normalize": ["convert"],
           "lstsq": ["normalize"], "gd": ["normalize"], "evaluate": ["lstsq", "normalize"],
           "evaluate_gd": ["gd", "normalize"]}
# what a workdir may hold once a run has finished: checkpoints and these
WORKDIR_FILES = {"run.log", "sluice.manifest", ".sluice.lock"}
# The kill tests aim at points inside stages, and a journal is saved only after
# the rows it records are fsynced: a stage must outlast a few saves. 3M rows make
# convert and normalize take ~0.6 s here; under a sanitizer, 2M rows take as long.
BIG_ROWS = 2000000 if os.environ.get("SLUICE_TEST_SANITIZER") else 3000000
SMALL_ROWS, FEATURES = 200000, 16
# the journal is written this often (seconds) in the kill tests
RESUME_ENV = {"SLUICE_RESUME_INTERVAL": "0.05"}
# Runs of the kill chain aimed at one point before the chain accepts a later one.
KILL_ATTEMPTS = 4
THREADS = 2


def note(fmt, *args):
    """A measured figure: printed at once and again in the final summary."""
    line = fmt % args if args else fmt
    print("# " + line, flush=True)
    FIGURES.append(line)


FIGURES = []


# ---------------------------------------------------------------------------
# helpers: running sluice
# ---------------------------------------------------------------------------

def tdir(name):
    d = os.path.join(TMP, name)
    if os.path.exists(d):
        shutil.rmtree(d)
    os.makedirs(d)
    return d


def sluice_env(env=None):
    e = dict(os.environ)
    e["LC_ALL"] = "C"
    e.pop("OMP_NUM_THREADS", None)
    e.pop("SLUICE_RESUME_INTERVAL", None)
    if env:
        e.update(env)
    return e


def children_cpu():
    """CPU seconds (user + system) of the child processes that have ended so far."""
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def sluice(*args, env=None, timeout=TIMEOUT):
    t0 = time.time()
    p = subprocess.run([SLUICE, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout, env=sluice_env(env))
    p.seconds = time.time() - t0
    return p


def show(p):
    return "exit %s\n--- stdout:\n%s--- stderr:\n%s" % (p.returncode, p.stdout, p.stderr)


def expect_rc(p, code):
    if p.returncode != code:
        raise AssertionError("expected exit %d, got %s" % (code, show(p)))
    return p


def run_ok(*args, **kw):
    return expect_rc(sluice(*args, **kw), 0)


def contains(text, *needles):
    for n in needles:
        if n not in text:
            raise AssertionError("expected %r in:\n%s" % (n, text))


class Run:
    """A `sluice run` in the background whose stdout (with --progress always, the
    live progress line) is collected as it comes."""

    def __init__(self, *args, env=None):
        self.t0 = time.time()
        self.args = [SLUICE, *map(str, args)]
        self.p = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=sluice_env(env))
        self.pid = self.p.pid
        self._out, self._err = [], []
        self._threads = [threading.Thread(target=self._pump, args=(self.p.stdout, self._out), daemon=True),
                         threading.Thread(target=self._pump, args=(self.p.stderr, self._err), daemon=True)]
        for t in self._threads:
            t.start()
        self.killed = False
        self.rc = None

    @staticmethod
    def _pump(f, into):
        while True:
            b = os.read(f.fileno(), 65536)
            if not b:
                break
            into.append(b.decode("utf-8", "replace"))

    @property
    def stdout(self):
        return "".join(self._out)

    @property
    def stderr(self):
        return "".join(self._err)

    def progress(self, stage, pass_name):
        """(chunks done, chunks) of the last progress the run showed for stage/pass, or None."""
        m = re.findall(r"\b%s %s \d+%% \((\d+)/(\d+) chunks\)" % (re.escape(stage), re.escape(pass_name)),
                       self.stdout)
        return (int(m[-1][0]), int(m[-1][1])) if m else None

    def alive(self):
        return self.p.poll() is None

    def kill(self):
        """SIGKILL; returns True when the signal ended the run (not its own exit)."""
        try:
            self.p.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.wait()
        self.killed = self.rc == -signal.SIGKILL
        return self.killed

    def wait(self, timeout=TIMEOUT):
        try:
            self.rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise AssertionError("%s did not end within %d s" % (" ".join(self.args), timeout))
        for t in self._threads:
            t.join(5)
        self.p.stdout.close()
        self.p.stderr.close()
        self.seconds = time.time() - self.t0
        return self.rc

    def show(self):
        return "exit %s\n--- stdout:\n%s\n--- stderr:\n%s" % (self.rc, self.stdout.replace("\r", "\n"), self.stderr)


def kill_when(args, cond, what, env=None, timeout=60):
    """Starts `sluice run ARGS`, polls cond(run) every 2 ms and SIGKILLs the run
    as soon as it holds. Returns the Run; run.killed tells whether the kill
    landed (False: the run ended by itself first, which must then be a success)."""
    r = Run(*args, env=env)
    deadline = time.time() + timeout
    while True:
        if not r.alive():
            r.wait()
            if r.rc != 0:
                raise AssertionError("while waiting to kill it %s, the run ended by itself: %s" % (what, r.show()))
            return r
        if cond(r):
            r.kill()
            if not r.killed and r.rc != 0:
                raise AssertionError("the run failed just before being killed %s: %s" % (what, r.show()))
            return r
        if time.time() > deadline:
            r.kill()
            raise AssertionError("waited %d s to kill a run %s: %s" % (timeout, what, r.show()))
        time.sleep(0.002)


def newer(path, t0):
    """path exists and was written since t0 (a file left by an earlier run does not count)."""
    try:
        return os.stat(path).st_mtime >= t0 - 0.01
    except FileNotFoundError:
        return False


# ---------------------------------------------------------------------------
# helpers: pipelines, workdirs, checkpoints
# ---------------------------------------------------------------------------

def gendata(path, rows, seed):
    p = subprocess.run([GENDATA, path, "--rows", str(rows), "--features", str(FEATURES), "--seed", str(seed)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, "sluice-gendata failed: %s" % p.stderr
    return path


def pipeline(d, data, wd, edits=(), name="p.yaml"):
    """pipelines/regression.yaml with its data file and workdir made absolute
    and each (old, new) of edits applied (old must occur exactly once)."""
    with open(os.path.join(SRC, "pipelines", "regression.yaml")) as f:
        text = f.read()
    edits = [("file: ../datasets/synthetic.h5", "file: " + data), ("workdir: ../runs/regression", "workdir: " + wd)] \
        + list(edits)
    for old, new in edits:
        assert text.count(old) == 1, "pipelines/regression.yaml: %r occurs %d times" % (old, text.count(old))
        text = text.replace(old, new)
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def run_log(wd):
    """Every run.log entry (parsed JSON), in order."""
    path = os.path.join(wd, "run.log")
    if not os.path.exists(path):
        return []
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            try:
                out.append(json.loads(line))
            except ValueError as e:
                raise AssertionError("run.log line %d is not JSON (%s): %r" % (n, e, line))
    return out


def log_count(wd):
    return len(run_log(wd))


def statuses(entries):
    """stage -> status of run.log entries (each stage at most once)."""
    out = {}
    for e in entries:
        assert e["stage"] not in out, "stage %s is logged twice by one run: %s" % (e["stage"], entries)
        out[e["stage"]] = e["status"]
    return out


def log_since(wd, n):
    return run_log(wd)[n:]


def expect_statuses(entries, ran, reused, what):
    got = statuses(entries)
    want = {s: "ran" for s in ran}
    want.update({s: "reused" for s in reused})
    if got != want:
        raise AssertionError("%s: run.log says %s, expected %s" % (what, _fmt(got), _fmt(want)))


def _fmt(d):
    return "{" + ", ".join("%s: %s" % (s, d[s]) for s in STAGES if s in d) + \
        "".join(", %s: %s" % (k, v) for k, v in d.items() if k not in STAGES) + "}"


def temp_files(wd):
    """Files in a workdir that are neither a checkpoint nor run.log / manifest / lock."""
    if not os.path.isdir(wd):
        return []
    return sorted(n for n in os.listdir(wd)
                  if n not in WORKDIR_FILES and not (n.endswith(".h5") and n[:-3] in STAGES))


def expect_no_temp(wd, what):
    left = temp_files(wd)
    assert not left, "%s: temporary files left in %s: %s" % (what, wd, left)


SKIP_ROOT_ATTRS = {"sluice_created", "sluice_host"}


def ckpt_content(path):
    """Everything of a checkpoint that must not depend on how the run went: each
    dataset's dtype, shape, bytes and attributes (sluice_hash, columns, ...) and
    the root attributes but the creation time and host."""
    out = {}
    with h5py.File(path, "r") as f:
        for k in sorted(f.keys()):
            d = f[k]
            assert isinstance(d, h5py.Dataset), "%s: %s is not a dataset" % (path, k)
            a = d[()]
            attrs = {n: _attr(d.attrs[n]) for n in sorted(d.attrs.keys())}
            out["dataset " + k] = (str(a.dtype), a.shape, a.tobytes(), attrs)
        for n in sorted(f.attrs.keys()):
            if n not in SKIP_ROOT_ATTRS:
                out["attribute " + n] = _attr(f.attrs[n])
    return out


def _attr(v):
    if isinstance(v, np.ndarray):
        return (str(v.dtype), v.shape, v.tobytes() if v.dtype.kind != "O" else repr(v.tolist()))
    if isinstance(v, bytes):
        return v
    return repr(v)


def expect_same_checkpoints(wd, ref, stages=STAGES, what="", data_only=False):
    """Each stage's checkpoint in wd holds what ref's holds: every dataset's values and
    attributes and the root attributes; data_only: the datasets' values and their
    sluice_hash only."""
    for s in stages:
        got_path, ref_path = os.path.join(wd, s + ".h5"), os.path.join(ref, s + ".h5")
        assert os.path.exists(got_path), "%s%s.h5 is missing in %s" % (what, s, wd)
        got, want = ckpt_content(got_path), ckpt_content(ref_path)
        if data_only:
            got, want = [{k: v[:3] + ({"sluice_hash": v[3].get("sluice_hash")},) for k, v in c.items()
                          if k.startswith("dataset ")} for c in (got, want)]
        assert sorted(got) == sorted(want), "%s%s.h5 holds %s, the uninterrupted run's %s" % (
            what, s, sorted(got), sorted(want))
        for k in want:
            if got[k] != want[k]:
                if k.startswith("dataset "):
                    g, w = got[k], want[k]
                    if g[:3] != w[:3]:
                        a = np.frombuffer(g[2], dtype=g[0]) if g[0] == w[0] and g[1] == w[1] else None
                        b = np.frombuffer(w[2], dtype=w[0])
                        detail = ""
                        if a is not None:
                            diff = np.flatnonzero(a.view("u1") != b.view("u1"))
                            detail = ": %d bytes differ, first at byte %d" % (len(diff), diff[0]) if len(diff) else ""
                        raise AssertionError("%s%s.h5 %s: %s %s differs from the uninterrupted run's %s %s%s"
                                             % (what, s, k, g[0], g[1], w[0], w[1], detail))
                    bad = [n for n in w[3] if g[3].get(n) != w[3][n]] + [n for n in g[3] if n not in w[3]]
                    raise AssertionError("%s%s.h5 %s: attributes %s differ from the uninterrupted run's: %r vs %r"
                                         % (what, s, k, bad, {n: g[3].get(n) for n in bad},
                                            {n: w[3].get(n) for n in bad}))
                raise AssertionError("%s%s.h5 %s = %r, the uninterrupted run's %r" % (what, s, k, got[k], want[k]))


def output_hash(path):
    with h5py.File(path, "r") as f:
        v = f.attrs["sluice_output_hash"]
    return v.decode() if isinstance(v, bytes) else str(v)


def parse_status(text):
    """stage -> (state, reason) from `sluice status`; one line per stage."""
    out = {}
    for line in text.splitlines():
        parts = line.split(None, 2)
        assert len(parts) >= 2 and parts[0] in STAGES, "unexpected status line %r in:\n%s" % (line, text)
        assert parts[0] not in out, "stage %s has two status lines:\n%s" % (parts[0], text)
        out[parts[0]] = (parts[1], parts[2] if len(parts) > 2 else "")
    assert sorted(out) == sorted(STAGES), "status lists %s, expected every stage:\n%s" % (sorted(out), text)
    return out


def status(yml, *args, code=None):
    p = sluice("status", yml, *args)
    if code is not None:
        expect_rc(p, code)
    return p, parse_status(p.stdout)


def expect_states(st, want, what):
    got = {s: st[s][0] for s in st}
    full = dict(want)
    for s in STAGES:
        full.setdefault(s, "fresh")
    assert got == full, "%s: status says %s, expected %s" % (
        what, _fmt({s: "%s (%s)" % st[s] if st[s][1] else st[s][0] for s in st}), _fmt(full))


def summary_lines(stdout):
    """stage -> the run summary line."""
    out = {}
    for line in re.split(r"[\r\n]", stdout):
        line = line.rsplit("\033[K", 1)[-1]
        m = re.match(r"^(\S+)\s+(\S+)\s+(\d+) rows\s", line)
        if m and m.group(1) in STAGES:
            out[m.group(1)] = line
    return out


def expect_summary_reused(stdout, stages):
    rows = summary_lines(stdout)
    for s in stages:
        assert re.search(r"\sreused(\s|$)", rows.get(s, "")), "summary line of %s does not say reused: %r in:\n%s" % (
            s, rows.get(s), stdout)


def descendants(stage):
    out, changed = {stage}, True
    while changed:
        changed = False
        for s in STAGES:
            if s not in out and any(p in out for p in PARENTS[s]):
                out.add(s)
                changed = True
    return [s for s in STAGES if s in out]


def ancestors(stage):
    out, todo = set(), [stage]
    while todo:
        for p in PARENTS[todo.pop()]:
            if p not in out:
                out.add(p)
                todo.append(p)
    return [s for s in STAGES if s in out]


# ---------------------------------------------------------------------------
# shared data and uninterrupted reference runs (made once, on first use)
# ---------------------------------------------------------------------------

_cache = {}


def small():
    """(data file, reference workdir) of the 200k-row pipeline, run once uninterrupted."""
    if "small" not in _cache:
        d = os.path.join(TMP, "shared")
        os.makedirs(d, exist_ok=True)
        data = gendata(os.path.join(d, "small.h5"), SMALL_ROWS, 42)
        wd = os.path.join(d, "ref_small")
        yml = pipeline(d, data, wd, name="ref_small.yaml")
        run_ok("run", yml, "-j", THREADS)
        _cache["small"] = (data, wd)
    return _cache["small"]


def big():
    """(data file, reference workdir, stage -> seconds) of the big pipeline (BIG_ROWS rows),
    run once uninterrupted with the journal written as often as in the kill tests."""
    if "big" not in _cache:
        d = os.path.join(TMP, "shared")
        os.makedirs(d, exist_ok=True)
        t0 = time.time()
        data = gendata(os.path.join(d, "big.h5"), BIG_ROWS, 7)
        t1 = time.time()
        wd = os.path.join(d, "ref_big")
        yml = pipeline(d, data, wd, name="ref_big.yaml")
        os.sync()
        p = run_ok("run", yml, "-j", THREADS, env=RESUME_ENV)
        secs = {e["stage"]: e["seconds"] for e in run_log(wd)}
        note("big pipeline (%d x %d): gendata %.1f s, uninterrupted run %.1f s; stages: %s", BIG_ROWS, FEATURES,
             t1 - t0, p.seconds, ", ".join("%s %.2f s" % (s, secs[s]) for s in STAGES))
        _cache["big"] = (data, wd, secs)
    return _cache["big"]


def fresh_small_run(name, edits=()):
    """A test folder with the small pipeline run once (every stage ran) in its own workdir."""
    data, ref = small()
    d = tdir(name)
    wd = os.path.join(d, "wd")
    yml = pipeline(d, data, wd, edits)
    run_ok("run", yml, "-j", THREADS)
    return d, wd, yml, ref


def link_workdir(ref, wd, stages):
    """A workdir holding the given checkpoints of ref as hard links (same inode, size
    and mtime, so the copied manifest lines still match): fresh without rehashing."""
    os.makedirs(wd)
    lines = []
    with open(os.path.join(ref, "sluice.manifest")) as f:
        for line in f:
            if line.split("\t", 1)[0] in stages:
                lines.append(line)
    for s in stages:
        os.link(os.path.join(ref, s + ".h5"), os.path.join(wd, s + ".h5"))
    with open(os.path.join(wd, "sluice.manifest"), "w") as f:
        f.writelines(lines)


def journal_passes(path):
    """[(pass name, chunks, chunks done, finished)] recorded in a resume journal, or
    None when it is missing or not in the layout this test knows (after the header
    of journal_rows: the writer's hash states, its leaf count and leaves' rows, the
    pass count, then per pass its name[64], chunks, chunks done, finished,
    accumulator size and accumulator)."""
    try:
        with open(path, "rb") as f:
            b = f.read()
    except FileNotFoundError:
        return None
    head = 8 + 33 + 6 * 8
    if len(b) < head or b[:8] != b"SLJRNL02":
        return None
    chunk_rows, max_rows, n_arrays, state_size, w_rows, w_bytes = struct.unpack("<6q", b[41:head])
    at = head + n_arrays * state_size
    try:
        (n_leaves,) = struct.unpack_from("<q", b, at)
        at += 8 + 8 * n_leaves
        (n_passes,) = struct.unpack_from("<q", b, at)
        at += 8
        out = []
        for _ in range(n_passes):
            name = b[at:at + 64].split(b"\0", 1)[0].decode("utf-8", "replace")
            nchunks, done_chunks, finished, acc_size = struct.unpack_from("<4q", b, at + 64)
            out.append((name, nchunks, done_chunks, bool(finished)))
            at += 64 + 32 + acc_size
    except struct.error:
        return None
    return out


def copy_workdir(src, dst):
    """Makes dst a copy of workdir src (dst is removed first; a missing src gives a
    missing dst). Complete checkpoints are never written again, so they are hard
    links; temporary checkpoints, journals, the manifest and run.log are written in
    place by a resumed run and are copied."""
    if os.path.exists(dst):
        shutil.rmtree(dst)
    if not os.path.isdir(src):
        return
    os.makedirs(dst)
    for n in os.listdir(src):
        a, b = os.path.join(src, n), os.path.join(dst, n)
        if n.endswith(".h5"):
            os.link(a, b)
        else:
            shutil.copy2(a, b)


def journal_rows(path):
    """(rows written, rows allocated) recorded in a resume journal, or None when its
    layout is not the one this test knows (SLJRNL02: magic, key, chunk_rows,
    max_rows, n_arrays, state size, rows written, ...)."""
    try:
        with open(path, "rb") as f:
            head = f.read(8 + 33 + 6 * 8)
    except FileNotFoundError:
        return None
    if len(head) < 8 + 33 + 6 * 8 or head[:8] != b"SLJRNL02":
        return None
    chunk_rows, max_rows, n_arrays, state_size, w_rows, w_bytes = struct.unpack("<6q", head[41:])
    return w_rows, max_rows


# ---------------------------------------------------------------------------
# 1. SIGKILL at many points, resume, same bytes
# ---------------------------------------------------------------------------

def test_kill_anywhere_then_resume_same_bytes():
    """A chain of runs of the big pipeline, each SIGKILLed at a new point (before
    any stage, inside each long stage, between stages, twice inside one stage), each
    resuming what the last left; then a run to completion. Every checkpoint equals
    the uninterrupted run's, no temporary file remains, and run.log of the last run
    says which stages it reused."""
    data, ref, ref_secs = big()
    d = tdir("kill_chain")
    wd = os.path.join(d, "wd")
    yml = pipeline(d, data, wd)
    base = ["run", yml, "-j", THREADS, "--progress", "always"]
    P = lambda *parts: os.path.join(wd, "".join(parts))

    def in_pass(stage, pass_name, fraction):
        """The stage's journal, saved by this run, records pass_name at least
        `fraction` done but not finished. The journal, not the progress line, is the
        trigger: the line is redrawn at most every 0.1 s, longer than some passes
        take here, and a kill after the save is a kill the journal can resume."""
        path = P(stage, ".h5.tmp.resume")

        def cond(r):
            if not newer(path, r.t0):
                return False
            for name, nchunks, done_chunks, finished in journal_passes(path) or ():
                if name == pass_name and not finished and fraction * nchunks <= done_chunks < nchunks:
                    return True
            return False
        return cond

    points = [
        ("before any stage", lambda r: time.time() - r.t0 >= 0.005),
        ("inside load (reading and hashing the source)", lambda r: newer(P("load.h5.tmp"), r.t0)),
        ("between load and clean", lambda r: newer(P("load.h5"), r.t0)),
        ("inside clean", in_pass("clean", "clean", 0.2)),
        ("inside convert (its journal written)", lambda r: newer(P("convert.h5.tmp.resume"), r.t0)),
        ("inside convert again, past half", in_pass("convert", "convert", 0.5)),
        ("between convert and normalize", lambda r: newer(P("convert.h5"), r.t0)),
        ("inside normalize's fit pass", in_pass("normalize", "fit", 0.2)),
        ("inside normalize's apply pass", in_pass("normalize", "apply", 0.3)),
        ("inside lstsq / gd", lambda r: newer(P("lstsq.h5.tmp"), r.t0) or newer(P("gd.h5.tmp"), r.t0)),
        ("between lstsq and evaluate", lambda r: newer(P("lstsq.h5"), r.t0) or newer(P("gd.h5"), r.t0)),
        ("near the end", lambda r: newer(P("evaluate.h5"), r.t0) or newer(P("evaluate_gd.h5"), r.t0)),
    ]
    want_hash = {s: output_hash(os.path.join(ref, s + ".h5")) for s in STAGES}
    landed, missed, retries = [], [], 0
    snap = os.path.join(d, "snapshot")
    i = 0
    while i < len(points):
        # Aim at point i, but a run that gets past it (a stage shorter than the poll
        # can see, a resumed pass jumping to 100%) is killed at the first later point it
        # reaches. Such an overshoot is undone from a copy of the workdir and the point
        # aimed at again, so how fast this machine runs a stage does not decide which
        # points the chain tests; the last attempt keeps what it reached.
        copy_workdir(wd, snap)
        for attempt in range(1, KILL_ATTEMPTS + 1):
            hit = []

            def cond(r, rest=points[i:]):
                for k, (what, c) in enumerate(rest):
                    if c(r):
                        hit.append(k)
                        return True
                return False

            # the disk idle at the start: a journal is saved only after its rows are
            # fsynced, and writeback left by earlier runs can delay the first save
            # past the end of a short stage
            os.sync()
            r = kill_when(base, cond, points[i][0], env=RESUME_ENV)
            if (r.killed and hit[-1] == 0) or attempt == KILL_ATTEMPTS:
                break
            retries += 1
            copy_workdir(snap, wd)
        if not r.killed:
            missed.append(points[i][0])
            break  # the run completed: nothing left to kill
        what = points[i + hit[-1]][0]
        i += hit[-1] + 1
        landed.append("%s (%.2f s%s)" % (what, r.seconds, ", attempt %d" % attempt if attempt > 1 else ""))
        # whatever moment the kill came, a <stage>.h5 that exists is complete
        for n in sorted(os.listdir(wd) if os.path.isdir(wd) else []):
            if n.endswith(".h5"):
                s = n[:-3]
                try:
                    h = output_hash(os.path.join(wd, n))
                except Exception as e:  # noqa: BLE001 - any failure to read is the finding
                    raise AssertionError("after a kill %s, %s cannot be read: %s" % (what, n, e))
                assert h == want_hash[s], "after a kill %s, %s holds other values than the uninterrupted run" % (
                    what, n)
    note("kill chain: %d kills landed (%d overshoots undone): %s%s", len(landed), retries, "; ".join(landed),
         "; ran to completion before: " + ", ".join(missed) if missed else "")
    assert len(landed) >= 10, "only %d of the kill points were reached: %s" % (len(landed), landed)
    before = {s for s in STAGES if os.path.exists(P(s, ".h5"))}
    left_before = temp_files(wd)
    n = log_count(wd)
    p = sluice("run", yml, "-j", THREADS, env=RESUME_ENV)
    if p.returncode != 0:
        raise AssertionError("the run after the last kill failed (it found %s): %s" % (left_before, show(p)))
    expect_same_checkpoints(wd, ref, what="after %d kills: " % len(landed))
    expect_no_temp(wd, "after the kills and a complete run")
    expect_statuses(log_since(wd, n), ran=[s for s in STAGES if s not in before],
                    reused=[s for s in STAGES if s in before], what="the run after the kills")
    expect_summary_reused(p.stdout, before)


def test_kill_inside_stage_resumes_not_restarts():
    """Kill inside normalize's output pass (after its journal is written), rerun: the
    rerun continues from the journal instead of restarting the stage from chunk 0:
    its run.log line says it took up the apply pass at the journal's row (its z-score
    is fitted from the moments clean gathered, ops/moments.c, so it has no fit pass to
    skip), its progress starts past that row, and its output equals the uninterrupted
    run's."""
    data, ref, ref_secs = big()
    d = tdir("resume_inside")
    wd = os.path.join(d, "wd")
    yml = pipeline(d, data, wd)
    args = ["run", yml, "-j", THREADS, "--progress", "always", "--until", "normalize"]
    journal = os.path.join(wd, "normalize.h5.tmp.resume")

    # The kill comes once the journal records at least half of normalize's
    # output rows (the fit pass writes none, so this is inside the apply
    # pass). The journal, not the progress line, is the trigger: the line is
    # redrawn at most every 0.1 s, and only the journal says which rows are
    # durable.
    def cond(r):
        jr = newer(journal, r.t0) and journal_rows(journal)
        return bool(jr) and 0.5 * jr[1] <= jr[0] < jr[1]

    # The window after that save is the last batch or two (~0.1 s); on a
    # loaded machine the poll can miss it, and the run must then be redone
    # from the same start.
    attempts = 5
    for attempt in range(1, attempts + 1):
        if os.path.exists(wd):
            shutil.rmtree(wd)
        link_workdir(ref, wd, ["load", "clean", "convert"])
        r = kill_when(args, cond, "inside normalize's apply pass", env=RESUME_ENV)
        if r.killed:
            break
    assert r.killed, "normalize finished before the kill in each of %d attempts: %s" % (attempts, r.show())
    at_kill = r.progress("normalize", "apply") or (0, 0)
    jr = journal_rows(journal)
    assert os.path.exists(os.path.join(wd, "normalize.h5.tmp")), os.listdir(wd)
    assert not os.path.exists(os.path.join(wd, "normalize.h5")), "normalize.h5 exists after a kill inside the stage"
    os.sync()  # the killed run's dirty pages must not be written back on the rerun's clock
    n = log_count(wd)
    cpu0 = children_cpu()
    r2 = Run(*args, env=RESUME_ENV)
    r2.wait()
    resumed_cpu = children_cpu() - cpu0
    assert r2.rc == 0, "the rerun after a kill inside normalize failed: %s" % r2.show()
    entries = log_since(wd, n)
    expect_statuses(entries, ran=["normalize"], reused=["load", "clean", "convert"], what="the rerun")
    rerun = [e for e in entries if e["stage"] == "normalize"][0]["seconds"]
    full = ref_secs["normalize"]
    first_apply = re.findall(r"normalize apply \d+% \((\d+)/(\d+) chunks\)", r2.stdout)
    expect_same_checkpoints(wd, ref, ["load", "clean", "convert", "normalize"], what="after the resume: ")
    expect_no_temp(wd, "after the resumed run")
    # the same run recomputing normalize from scratch, for the work a restart costs
    cpu0 = children_cpu()
    run_ok(*args, "--force", "normalize", env=RESUME_ENV)
    restart_cpu = children_cpu() - cpu0
    note("resume inside normalize: killed (attempt %d) at apply %d/%d chunks shown after %.2f s (journal: %s); "
         "rerun of normalize %.3f s vs %.3f s uninterrupted = %.0f%%; rerun's CPU %.2f s vs %.2f s for a forced "
         "run = %.0f%%; rerun's first apply progress %s", attempt, at_kill[0], at_kill[1], r.seconds,
         "%d of %d rows written" % jr if jr else "layout unknown", rerun, full, 100 * rerun / full, resumed_cpu,
         restart_cpu, 100 * resumed_cpu / restart_cpu, "%s/%s" % first_apply[0] if first_apply else "not shown")
    if jr is not None:
        assert jr[0] > 0, "the journal written inside normalize records no rows written: %s" % (jr,)
    # A restarted apply pass shows its first batches (4/122, 8/122, ...) first; a resumed
    # one starts past the chunks the journal recorded. The line is redrawn at most every
    # 0.1 s, and a resumed pass can end before its first redraw: then the CPU time below
    # is what tells.
    if first_apply:
        done, total = int(first_apply[0][0]), int(first_apply[0][1])
        resumed_from = jr[0] * total // jr[1] if jr else 1
        assert done > resumed_from, (
            "the rerun's apply pass showed %d/%d first; the journal had recorded %d chunks" % (
                done, total, resumed_from))
    # What the rerun skipped, as its run.log line records it: the apply pass's chunks up to
    # the journal's rows. (CPU time told the same on a quiet machine, but is no test: on a
    # loaded one a resumed run's CPU time came within 89 % of a restart's.)
    said = [e for e in entries if e["stage"] == "normalize"][0].get("resume", "")
    m = re.fullmatch(r"resumed at row (\d+) of (\d+) \(rows verified\); passes: apply from chunk (\d+) of (\d+)",
                     said)
    assert m, "the rerun's run.log line says %r, not that it resumed the apply pass" % said
    row, rows, chunk, chunks = map(int, m.groups())
    if jr is not None:
        assert (row, rows) == jr, "run.log says the rerun resumed at row %d of %d; the journal said %s" % (row, rows, jr)
    assert 0 < chunk < chunks, "the rerun's apply pass took up at chunk %d of %d" % (chunk, chunks)


def test_kill_inside_float32_stored_stage():
    """convert stores its widened arrays as float32 (test_widened_arrays_stored_as_float32).
    Killed inside it, a rerun resumes it: the rows kept are read back, widened and re-hashed
    (rows verified). Killed while it stored them as float64 (SLUICE_CKPT_FLOAT32=off), a rerun
    that stores float32 does not write float32 rows at float64 offsets: it starts the stage
    over. Both end with the uninterrupted run's checkpoint."""
    data, ref, ref_secs = big()
    d = tdir("resume_float32")
    wd = os.path.join(d, "wd")
    yml = pipeline(d, data, wd)
    args = ["run", yml, "-j", THREADS, "--until", "convert"]
    journal = os.path.join(wd, "convert.h5.tmp.resume")

    def cond(r):
        jr = newer(journal, r.t0) and journal_rows(journal)
        return bool(jr) and 0.3 * jr[1] <= jr[0] < jr[1]

    for killed_env, resumes in (({}, True), ({"SLUICE_CKPT_FLOAT32": "off"}, False)):
        for attempt in range(1, KILL_ATTEMPTS + 2):
            if os.path.exists(wd):
                shutil.rmtree(wd)
            link_workdir(ref, wd, ["load", "clean"])
            r = kill_when(args, cond, "inside convert", env=dict(RESUME_ENV, **killed_env))
            if r.killed:
                break
        assert r.killed, "convert finished before the kill in each attempt: %s" % r.show()
        os.sync()
        n = log_count(wd)
        run_ok(*args, env=RESUME_ENV)
        said = [e for e in log_since(wd, n) if e["stage"] == "convert"][0].get("resume", "")
        if resumes:
            assert re.match(r"resumed at row [1-9]\d* of \d+ \(rows verified\)", said), said
        else:
            assert said.startswith("restarted: cannot resume") and "not laid out as expected" in said, \
                "a rerun took up float64 rows as float32: %s" % said
        expect_same_checkpoints(wd, ref, ["load", "clean", "convert"], what="killed with %s: " % killed_env)
        expect_no_temp(wd, "after the rerun")


def test_kill_during_forced_rerun_leaves_no_temp():
    """A --force run killed inside a stage leaves <stage>.h5.tmp and its journal next
    to the old, still fresh <stage>.h5. The next (plain) run reuses the fresh
    checkpoint; when it ends, no temporary file may remain."""
    data, ref, ref_secs = big()
    d = tdir("kill_forced")
    wd = os.path.join(d, "wd")
    yml = pipeline(d, data, wd)
    args = ["run", yml, "-j", THREADS, "--until", "convert"]
    # convert is short (about 0.6 s) and its first journal comes after its
    # first rows are durable: a run can end before that, and is then redone
    attempts = 5
    for attempt in range(1, attempts + 1):
        if os.path.exists(wd):
            shutil.rmtree(wd)
        link_workdir(ref, wd, ["load", "clean", "convert"])
        os.sync()  # see the kill chain
        r = kill_when(args + ["--force", "convert"],
                      lambda r: newer(os.path.join(wd, "convert.h5.tmp.resume"), r.t0), "inside a forced convert",
                      env=RESUME_ENV)
        if r.killed:
            break
    assert r.killed, "the forced convert finished before the kill in each of %d attempts: %s" % (attempts, r.show())
    left = temp_files(wd)
    n = log_count(wd)
    run_ok(*args, env=RESUME_ENV)
    expect_statuses(log_since(wd, n), ran=[], reused=["load", "clean", "convert"], what="the run after the kill")
    expect_same_checkpoints(wd, ref, ["load", "clean", "convert"])
    assert not temp_files(wd), ("the kill left %s; the next run reused convert.h5 and ended, but left %s in %s"
                                % (left, temp_files(wd), wd))


def test_kill_during_journal_save_leaves_no_temp():
    """A kill while a resume journal is being saved leaves <stage>.h5.tmp.resume.tmp.
    The next run (default journal interval, so the resumed stage may end before it
    saves a journal again) completes the stage; no temporary file may remain."""
    data, ref, ref_secs = big()
    d = tdir("kill_journal_save")
    wd = os.path.join(d, "wd")
    link_workdir(ref, wd, ["load", "clean"])
    yml = pipeline(d, data, wd)
    args = ["run", yml, "-j", THREADS, "--until", "convert"]
    jtmp = os.path.join(wd, "convert.h5.tmp.resume.tmp")
    for attempt in range(10):
        r = kill_when(args, lambda r: os.path.exists(jtmp), "while convert's journal is saved", env=RESUME_ENV)
        if r.killed and os.path.exists(jtmp):
            break
    else:
        note("kill during a journal save: not hit in 10 attempts; nothing checked")
        return
    left = temp_files(wd)
    note("kill during a journal save: hit at attempt %d, leaving %s", attempt + 1, left)
    n = log_count(wd)
    run_ok(*args)
    expect_statuses(log_since(wd, n), ran=["convert"], reused=["load", "clean"], what="the run after the kill")
    expect_same_checkpoints(wd, ref, ["load", "clean", "convert"])
    assert not temp_files(wd), ("a kill during a journal save left %s; the next run completed convert but left %s"
                                % (left, temp_files(wd)))


# ---------------------------------------------------------------------------
# 2. reuse: nothing changed, parameters, formatting, source files
# ---------------------------------------------------------------------------

def xxh128(b):
    import xxhash
    return xxhash.xxh3_128_digest(b)


def test_hashes_recomputed_independently():
    """Every checkpoint's hashes, recomputed from its values by an independent reader
    (h5py, and the xxhash module's XXH3-128): each array's sluice_hash is the digest of its
    leaves' digests (a leaf per chunk of rows, sluice_hash_leaves), and sluice_output_hash
    covers the arrays' names, dtypes, columns and hashes, the rows and the chunk sizes. The
    filter (clean drops rows) has uneven leaves; the others one size."""
    data, ref = small()
    uneven = 0
    for stage in STAGES:
        with h5py.File(os.path.join(ref, stage + ".h5"), "r") as f:
            rows = int(f.attrs["sluice_rows"])
            leaves = [int(x) for x in np.atleast_1d(f.attrs["sluice_hash_leaves"])]
            if len(leaves) == 1:
                leaves = [leaves[0]] * (rows // leaves[0]) + ([rows % leaves[0]] if rows % leaves[0] else [])
            else:
                uneven += 1
            assert sum(leaves) == rows and all(n > 0 for n in leaves), (stage, rows, leaves[:5])
            whole = b""
            if "sluice_in_place" in f.attrs:
                # read in place: the values are the source's datasets, in the order the stage names them
                src = h5py.File(f.attrs["sluice_in_place"], "r")
                names = list(json.loads(f.attrs["sluice_params"])["arrays"])
                items = [(n, src[f.attrs["sluice_dataset." + n]]) for n in names]
            else:
                # HDF5 lists datasets by name; the hash takes them in the frame's order, which
                # is the names' order but for metrics (the order its list asks them in)
                asked = json.loads(f.attrs["sluice_params"]).get("metrics", ["mse", "rmse", "mae", "r2"])
                order = asked if f.attrs["sluice_op"] == "metrics" else sorted(f)
                items = [(n, f[n]) for n in order]
            for name, ds in items:
                values = ds[...].reshape(rows, -1)
                # float64 values that are float32's are stored as float32 (convert's widened
                # arrays): the frame's type is the dataset's attribute sluice_dtype
                if "sluice_dtype" in ds.attrs:
                    assert values.dtype == np.float32 and ds.attrs["sluice_dtype"] == "float64", (stage, name)
                    values = values.astype(np.float64)
                at, digests = 0, b""
                for n in leaves:
                    digests += xxh128(np.ascontiguousarray(values[at:at + n]).tobytes())
                    at += n
                got = xxh128(digests).hex()
                if "sluice_in_place" not in f.attrs:
                    want = ds.attrs["sluice_hash"]
                    want = want.decode() if isinstance(want, bytes) else want
                    assert got == want.rstrip("\0"), "%s/%s: values hash to %s, sluice_hash says %s" % (
                        stage, name, got, want)
                whole += (name.encode() + b"\0" + values.dtype.name.encode() + b"\0" +
                          struct.pack("<q", values.shape[1]) + got.encode() + b"\0")
            whole += struct.pack("<q", rows)
            if "sluice_chunk_sizes" in f.attrs:
                whole += b"".join(struct.pack("<q", int(x)) for x in f.attrs["sluice_chunk_sizes"])
            out = f.attrs["sluice_output_hash"]
            out = out.decode() if isinstance(out, bytes) else out
            if "sluice_in_place" in f.attrs:
                src.close()
            assert xxh128(whole).hex() == out, "%s: sluice_output_hash %s, recomputed %s" % (
                stage, out, xxh128(whole).hex())
    assert uneven >= 1, "no checkpoint of the pipeline had uneven leaves (clean drops rows)"


def test_widened_arrays_stored_as_float32():
    """convert's float64 arrays widened from float32 hold float32 values only: the checkpoint
    stores them as float32 (half the bytes: convert.h5 is the size of clean.h5, not twice it),
    with the frame's type in the dataset attribute sluice_dtype. Read back (h5py, widened) they
    are clean's values; their hashes and every later stage's bytes are those of a run that
    stores them as float64 (SLUICE_CKPT_FLOAT32=off), and a run on that workdir reuses all."""
    data, ref = small()
    d = tdir("float32_stored")
    wd = os.path.join(d, "wd")
    yml = pipeline(d, data, wd)
    p = sluice("run", yml, "-j", THREADS, env={"SLUICE_CKPT_FLOAT32": "off"})
    assert p.returncode == 0, show(p)
    with h5py.File(os.path.join(wd, "convert.h5"), "r") as f:
        assert all(f[k].dtype == np.float64 and "sluice_dtype" not in f[k].attrs for k in f), \
            {k: f[k].dtype for k in f}
    with h5py.File(os.path.join(ref, "convert.h5"), "r") as f, \
            h5py.File(os.path.join(ref, "clean.h5"), "r") as c, \
            h5py.File(os.path.join(wd, "convert.h5"), "r") as w:
        for k in ("X", "y"):
            assert f[k].dtype == np.float32 and f[k].attrs["sluice_dtype"] == "float64", (k, f[k].dtype)
            assert c[k].dtype == np.float32, c[k].dtype
            assert np.array_equal(f[k][...].astype(np.float64), w[k][...]), k
            assert np.array_equal(f[k][...], c[k][...]), k
            assert f[k].attrs["sluice_hash"] == w[k].attrs["sluice_hash"], k
    big_f64 = os.path.getsize(os.path.join(wd, "convert.h5"))
    small_f32 = os.path.getsize(os.path.join(ref, "convert.h5"))
    clean_size = os.path.getsize(os.path.join(ref, "clean.h5"))
    assert small_f32 < 0.51 * big_f64 and abs(small_f32 - clean_size) < 0.01 * clean_size, \
        (small_f32, big_f64, clean_size)
    expect_same_checkpoints(wd, ref, stages=[s for s in STAGES if s != "convert"], what="float64 on disk: ")
    assert output_hash(os.path.join(wd, "convert.h5")) == output_hash(os.path.join(ref, "convert.h5"))
    # the run that narrows reuses the float64 checkpoints: the values, not the layout, are the key
    n = log_count(wd)
    run_ok("run", yml, "-j", THREADS)
    expect_statuses(log_since(wd, n), ran=[], reused=STAGES, what="a run over float64 checkpoints")


def test_rerun_unchanged_reuses_everything():
    """A rerun with nothing changed reuses every stage, reads no checkpoint data
    (it takes a small fraction of the run, also on the big pipeline, whose
    checkpoints are 1.5 GB), and leaves the checkpoints untouched."""
    data, ref = small()
    d = tdir("unchanged")
    wd = os.path.join(d, "wd")
    yml = pipeline(d, data, wd)
    first = run_ok("run", yml, "-j", THREADS)
    stamps = {s: os.stat(os.path.join(wd, s + ".h5")).st_mtime_ns for s in STAGES}
    times = []
    for _ in range(3):
        n = log_count(wd)
        p = run_ok("run", yml, "-j", THREADS)
        times.append(p.seconds)
        expect_statuses(log_since(wd, n), ran=[], reused=STAGES, what="a rerun with nothing changed")
        expect_summary_reused(p.stdout, STAGES)
    assert stamps == {s: os.stat(os.path.join(wd, s + ".h5")).st_mtime_ns for s in STAGES}, "checkpoints rewritten"
    p, st = status(yml, code=0)
    expect_states(st, {}, "status after the reruns")
    bdata, bref, _ = big()
    bd = os.path.join(d, "big")
    os.makedirs(bd)
    byml = pipeline(bd, bdata, bref)
    n = log_count(bref)
    bp = run_ok("run", byml, "-j", THREADS)
    expect_statuses(log_since(bref, n), ran=[], reused=STAGES, what="a rerun of the big pipeline")
    note("rerun with nothing changed: %s s on %d rows (first run %.2f s); %.3f s on %d rows",
         "/".join("%.3f" % t for t in times), SMALL_ROWS, first.seconds, bp.seconds, BIG_ROWS)
    assert min(times) < 1.0, "a rerun that reuses everything took %s s on %d rows" % (times, SMALL_ROWS)
    assert bp.seconds < 1.5, ("a rerun that reuses everything took %.2f s on %d rows: it reads checkpoint data"
                              % (bp.seconds, BIG_ROWS))


def test_noop_parameter_recomputes_that_stage_only():
    """A parameter that does not change a stage's values (clip bounds outside the
    data) recomputes that stage; its descendants stay fresh (early cutoff)."""
    d, wd, yml, ref = fresh_small_run("noop_param")
    for k, (old, new) in enumerate([("mean_dtype: input }", "mean_dtype: input, clip: [-1e30, 1e30] }"),
                                    ("mean_dtype: input }", "mean_dtype: input, clip: [-1e6, 1e6], fill_value: 7 }")]):
        yml2 = pipeline(d, small()[0], wd, [(old, new)], name="noop%d.yaml" % k)
        p, st = status(yml2, code=1)
        assert st["clean"][0] == "stale" and "parameter" in st["clean"][1], "status of clean: %s" % (st["clean"],)
        n = log_count(wd)
        r = run_ok("run", yml2, "-j", THREADS)
        expect_statuses(log_since(wd, n), ran=["clean"], reused=[s for s in STAGES if s != "clean"],
                        what="after %s" % new)
        contains(summary_lines(r.stdout)["clean"], "(ran: parameter")
        expect_same_checkpoints(wd, ref, [s for s in STAGES if s != "clean"])
        expect_same_checkpoints(wd, ref, ["clean"], what="recomputed with %s: " % new, data_only=True)
        p, st = status(yml2, code=0)
        expect_states(st, {}, "status after the run")
    expect_no_temp(wd, "after the runs")


def test_normalize_parameter_recomputes_descendants():
    """method: minmax on normalize: status explains each stale stage in one line and
    exits 1; run recomputes exactly normalize and its descendants; status then
    exits 0."""
    d, wd, yml, ref = fresh_small_run("normalize_param")
    yml2 = pipeline(d, small()[0], wd, [("method: zscore", "method: minmax")], name="minmax.yaml")
    p, st = status(yml2, code=1)
    stale = descendants("normalize")
    expect_states(st, {s: "stale" for s in stale}, "status after method: minmax")
    assert st["normalize"][1] == "parameter 'method' changed (\"zscore\" -> \"minmax\")", \
        "status of normalize: %r" % (st["normalize"][1],)
    for s in stale[1:]:
        assert "normalize" in st[s][1] or any(x in st[s][1] for x in stale), "status of %s: %r" % (s, st[s])
    assert len(p.stdout.splitlines()) == len(STAGES), p.stdout
    dry = run_ok("run", yml2, "--dry-run")
    for s in STAGES:
        line = [l for l in dry.stdout.splitlines() if l.split()[0] == s]
        assert len(line) == 1, "dry run: %s" % dry.stdout
        word = line[0].split()[1]
        assert word == ("run" if s in stale else "reuse"), "dry run line %r" % line[0]
    n = log_count(wd)
    r = run_ok("run", yml2, "-j", THREADS)
    expect_statuses(log_since(wd, n), ran=stale, reused=[s for s in STAGES if s not in stale], what="after minmax")
    contains(summary_lines(r.stdout)["normalize"], "(ran: parameter 'method' changed (\"zscore\" -> \"minmax\"))")
    p, st = status(yml2, code=0)
    expect_states(st, {}, "status after the run")
    with h5py.File(os.path.join(wd, "normalize.h5"), "r") as f:
        X = f["X"][()]
    assert np.allclose(X.min(axis=0), 0) and np.allclose(X.max(axis=0), 1), "minmax X: %s %s" % (
        X.min(axis=0), X.max(axis=0))
    # and back: zscore's values again, the same bytes as before
    n = log_count(wd)
    run_ok("run", yml, "-j", THREADS)
    expect_statuses(log_since(wd, n), ran=stale, reused=[s for s in STAGES if s not in stale], what="back to zscore")
    expect_same_checkpoints(wd, ref)
    expect_no_temp(wd, "after the runs")


BLOCK_YAML = """\
# the regression pipeline again: other key order, block style, other number spellings
stages:
  evaluate_gd:
    metrics:
      - mse
      - rmse
      - r2
    data: normalize
    model: gd
    op: metrics
  gd:
    learning_rate: 1.0e-1
    epochs: 100
    input: normalize
    solver: "gradient_descent"
    op: linreg
  evaluate: {data: normalize, metrics: [mse, rmse, r2], model: lstsq, op: metrics}
  lstsq:
    solver: normal_equations
    input: normalize
    op: linreg
  normalize:
    method: 'zscore'
    arrays: X
    input: convert
    op: normalize
  convert: {dtype: float64, input: clean, op: convert}
  clean:
    mean_dtype: input
    nan:
      X: impute_mean
      y: drop_row
    input: load
    op: clean
  load:
    arrays:
      y: /y
      X: /X
    file: "DATA"
    op: load.hdf5
workdir: WD
pipeline: regression
"""


def test_yaml_order_and_formatting_do_not_matter():
    """Reordered keys and stages, block vs flow style, quoting, 0.1 vs 1.0e-1 vs
    0.100, a scalar for a one-element list: every stage is reused."""
    d, wd, yml, ref = fresh_small_run("yaml_format")
    variants = {
        "block.yaml": BLOCK_YAML.replace("DATA", small()[0]).replace("WD", wd),
        "spelling.yaml": open(yml).read().replace("learning_rate: 0.1 }", "learning_rate: 0.100 }")
                                         .replace("arrays: [X], method: zscore", "method: zscore,  arrays: X")
                                         .replace("{ op: convert, input: clean, dtype: float64 }",
                                                  "{dtype: float64,input: clean,op: convert}"),
    }
    for name, text in variants.items():
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write(text)
        p, st = status(path)
        expect_states(st, {}, "status of %s" % name)
        assert p.returncode == 0, show(p)
        n = log_count(wd)
        run_ok("run", path, "-j", THREADS)
        expect_statuses(log_since(wd, n), ran=[], reused=STAGES, what=name)
    expect_same_checkpoints(wd, ref)


def test_source_file_identity():
    """Touching the input file makes load stale (and only load recomputes: its
    values did not change). With verify: content, touching keeps everything fresh
    and a change of content is found even when the mtime is put back."""
    d = tdir("source_identity")
    data = gendata(os.path.join(d, "in.h5"), SMALL_ROWS, 42)
    ref = small()[1]
    wd = os.path.join(d, "wd")
    yml = pipeline(d, data, wd)
    run_ok("run", yml, "-j", THREADS)
    st0 = os.stat(data)
    os.utime(data, ns=(st0.st_atime_ns, st0.st_mtime_ns + 5 * 10 ** 9))
    p, st = status(yml, code=1)
    assert st["load"][0] == "stale" and "source file" in st["load"][1], "status of load: %s" % (st["load"],)
    n = log_count(wd)
    r = run_ok("run", yml, "-j", THREADS)
    expect_statuses(log_since(wd, n), ran=["load"], reused=STAGES[1:], what="after touching the input")
    contains(summary_lines(r.stdout)["load"], "(ran: a source file changed")
    expect_same_checkpoints(wd, ref, what="after touching the input: ", data_only=True)
    # verify: content
    ymlc = pipeline(d, data, wd, [("{ op: load.hdf5,", "{ op: load.hdf5, verify: content,")], name="content.yaml")
    n = log_count(wd)
    run_ok("run", ymlc, "-j", THREADS)
    expect_statuses(log_since(wd, n), ran=["load"], reused=STAGES[1:], what="after adding verify: content")
    os.utime(data, ns=(st0.st_atime_ns, st0.st_mtime_ns + 10 * 10 ** 9))
    p, st = status(ymlc, code=0)
    expect_states(st, {}, "status after touching the input with verify: content")
    n = log_count(wd)
    run_ok("run", ymlc, "-j", THREADS)
    expect_statuses(log_since(wd, n), ran=[], reused=STAGES, what="touched input with verify: content")
    # a new value, same size, mtime put back
    st1 = os.stat(data)
    with h5py.File(data, "r+") as f:
        f["X"][5, 3] = 12345.0
    os.utime(data, ns=(st1.st_atime_ns, st1.st_mtime_ns))
    assert os.stat(data).st_size == st1.st_size
    p, st = status(ymlc, code=1)
    assert st["load"][0] == "stale" and "source file" in st["load"][1], "status of load: %s" % (st["load"],)
    n = log_count(wd)
    run_ok("run", ymlc, "-j", THREADS)
    got = statuses(log_since(wd, n))
    assert got["load"] == "ran" and got["clean"] == "ran", "after changing a value of the input: %s" % _fmt(got)
    # load reads the source in place: its checkpoint names the file, and the
    # recomputed stages saw the new value
    with h5py.File(os.path.join(wd, "load.h5"), "r") as f:
        assert f.attrs["sluice_in_place"] == os.path.realpath(data), dict(f.attrs)
        assert "X" not in f, "load.h5 holds a copy of X"
    with h5py.File(data, "r") as f:
        y5 = f["y"][5]
    if not np.isnan(y5):  # row 5 is kept by clean
        with h5py.File(os.path.join(wd, "clean.h5"), "r") as f:
            kept = f["X"][...]
        assert (kept[:, 3] == np.float32(12345.0)).any(), "clean did not see the new value"
    expect_no_temp(wd, "after the runs")


# ---------------------------------------------------------------------------
# 3. integrity: truncated, zeroed, swapped checkpoints
# ---------------------------------------------------------------------------

def test_damaged_checkpoints_are_recomputed():
    """Truncating a checkpoint, zeroing a block of its values, zeroing its header,
    swapping two checkpoints: each time status names the damaged stage(s) with the
    reason and exits 1, run recomputes them (saying why in the summary line and
    run.log), the stages after them are reused (same values), and every output
    equals the uninterrupted run's."""
    d, wd, yml, ref = fresh_small_run("damaged")
    P = lambda s: os.path.join(wd, s + ".h5")

    def truncate():
        os.truncate(P("normalize"), os.path.getsize(P("normalize")) // 2)
        return ["normalize"]

    def zero_values():
        # 4 KiB inside the values of convert.h5's X (its second HDF5 chunk)
        with h5py.File(P("convert"), "r") as f:
            ds = f["X"].id
            off = ds.get_chunk_info(min(1, ds.get_num_chunks() - 1)).byte_offset + 1000
        with open(P("convert"), "r+b") as f:
            f.seek(off)
            f.write(b"\0" * 4096)
        return ["convert"]

    def zero_header():
        with open(P("clean"), "r+b") as f:
            f.write(b"\0" * 2048)
        return ["clean"]

    def swap():
        # lstsq.h5 and gd.h5: the same op and shapes, other values
        os.rename(P("lstsq"), P("swap"))
        os.rename(P("gd"), P("lstsq"))
        os.rename(P("swap"), P("gd"))
        return ["lstsq", "gd"]

    for damage in (truncate, zero_values, zero_header, swap):
        what = damage.__name__
        damaged = damage()
        stale = sorted({x for s in damaged for x in descendants(s)}, key=STAGES.index)
        p, st = status(yml, code=1)
        expect_states(st, {s: "stale" for s in stale}, "status after %s" % what)
        for s in damaged:
            note("%s: status says %s %s", what, s, st[s][1])
            assert "checkpoint" in st[s][1], "status after %s gives %s no reason about its checkpoint: %r" % (
                what, s, st[s][1])
        if what == "swap":
            assert "'gd'" in st["lstsq"][1] and "'lstsq'" in st["gd"][1], (st["lstsq"], st["gd"])
        if what == "zero_values":
            assert "'X'" in st["convert"][1], st["convert"]
        n = log_count(wd)
        r = run_ok("run", yml, "-j", THREADS)
        expect_statuses(log_since(wd, n), ran=damaged, reused=[s for s in STAGES if s not in damaged],
                        what="the run after %s" % what)
        rows = summary_lines(r.stdout)
        for e in log_since(wd, n):
            if e["status"] == "ran":
                assert e.get("reason") == st[e["stage"]][1], "run.log reason %r, status said %r" % (
                    e.get("reason"), st[e["stage"]][1])
                # the summary line says why too (a long reason may be cut short there)
                m = re.search(r"\(ran: (.*)\)\s*$", rows[e["stage"]])
                assert m and len(m.group(1)) >= min(40, len(e["reason"])) and \
                    e["reason"].startswith(m.group(1)), "summary line %r, status said %r" % (
                        rows[e["stage"]], st[e["stage"]][1])
        expect_same_checkpoints(wd, ref, what="after %s: " % what)
        expect_no_temp(wd, "after %s" % what)
        status(yml, code=0)
    # a checkpoint replaced by a copy of itself (new inode and mtime, same content) is still fresh
    shutil.copy(P("normalize"), P("normalize") + ".copy")
    os.replace(P("normalize") + ".copy", P("normalize"))
    n = log_count(wd)
    run_ok("run", yml, "-j", THREADS)
    expect_statuses(log_since(wd, n), ran=[], reused=STAGES, what="after copying normalize.h5 over itself")


# ---------------------------------------------------------------------------
# 4. --force, --from, --until, --dry-run, clean
# ---------------------------------------------------------------------------

def test_force_from_until_dry_run():
    d, wd, yml, ref = fresh_small_run("force_from_until")
    # --dry-run changes nothing and says why
    snap = {n: os.stat(os.path.join(wd, n)).st_mtime_ns for n in os.listdir(wd)}
    p = run_ok("run", yml, "--dry-run", "--force", "convert")
    lines = {l.split()[0]: l for l in p.stdout.splitlines()}
    assert sorted(lines) == sorted(STAGES), p.stdout
    for s in STAGES:
        want = "run" if s in descendants("convert") else "reuse"
        assert lines[s].split()[1] == want, "dry run line %r, expected %s" % (lines[s], want)
    contains(lines["convert"], "forced")
    assert {n: os.stat(os.path.join(wd, n)).st_mtime_ns for n in os.listdir(wd)} == snap, "--dry-run wrote files"
    # --force: the stage and everything downstream, though values do not change
    n = log_count(wd)
    r = run_ok("run", yml, "-j", THREADS, "--force", "convert")
    down = descendants("convert")
    expect_statuses(log_since(wd, n), ran=down, reused=ancestors("convert"), what="--force convert")
    contains(summary_lines(r.stdout)["convert"], "(ran: forced")
    # --from: the stage and its descendants only
    n = log_count(wd)
    run_ok("run", yml, "-j", THREADS, "--from", "normalize")
    got = statuses(log_since(wd, n))
    assert {s for s, v in got.items() if v == "ran"} == set(descendants("normalize")), "--from normalize: %s" % _fmt(got)
    n = log_count(wd)
    run_ok("run", yml, "-j", THREADS, "--from", "gd")
    got = statuses(log_since(wd, n))
    assert {s for s, v in got.items() if v == "ran"} == {"gd", "evaluate_gd"}, "--from gd: %s" % _fmt(got)
    expect_same_checkpoints(wd, ref)
    # --until on an empty workdir: only the stage and its ancestors
    wd2 = os.path.join(d, "wd_until")
    p = run_ok("run", yml, "--dry-run", "--until", "normalize", "--workdir", wd2)
    lines = {l.split()[0]: l.split()[1] for l in p.stdout.splitlines()}
    assert lines == {s: ("run" if s in ancestors("normalize") + ["normalize"] else "skip") for s in STAGES}, p.stdout
    assert not os.path.exists(wd2) or not os.listdir(wd2), "--dry-run wrote %s" % os.listdir(wd2)
    run_ok("run", yml, "-j", THREADS, "--until", "normalize", "--workdir", wd2)
    assert sorted(n for n in os.listdir(wd2) if n.endswith(".h5")) == ["clean.h5", "convert.h5", "load.h5",
                                                                       "normalize.h5"], os.listdir(wd2)
    expect_statuses(run_log(wd2), ran=["load", "clean", "convert", "normalize"], reused=[], what="--until normalize")
    p, st = status(yml, "--workdir", wd2, "--until", "normalize", code=0)
    p, st = status(yml, "--workdir", wd2, code=1)
    expect_states(st, {s: "missing" for s in descendants("lstsq") + descendants("gd")}, "status after --until")
    # unknown stage names: exit 2 and the list of stages
    for args in (["run", yml, "--force", "nope"], ["run", yml, "--from", "nope"], ["run", yml, "--until", "nope"],
                 ["run", yml, "--dry-run", "--force", "nope"], ["status", yml, "--until", "nope"],
                 ["clean", yml, "nope"]):
        n = log_count(wd)
        p = expect_rc(sluice(*args), 2)
        contains(p.stderr, "'nope'", ", ".join(STAGES))
        assert log_count(wd) == n, "%s ran stages" % args
    expect_same_checkpoints(wd, ref)
    expect_no_temp(wd, "after the runs")


def test_clean_then_status_missing():
    d, wd, yml, ref = fresh_small_run("clean")
    # what a killed run leaves for convert, by the names sluice gives them
    for n in ("convert.h5.tmp", "convert.h5.tmp.resume", "convert.h5.tmp.resume.tmp"):
        with open(os.path.join(wd, n), "wb") as f:
            f.write(b"partial")
    p = run_ok("clean", yml, "normalize", "lstsq")
    contains(p.stdout, "removed", wd)
    assert not os.path.exists(os.path.join(wd, "normalize.h5")) and not os.path.exists(os.path.join(wd, "lstsq.h5"))
    p, st = status(yml, code=1)
    assert st["normalize"][0] == "missing" and st["lstsq"][0] == "missing", p.stdout
    for s in ("load", "clean", "convert"):
        assert st[s][0] == "fresh", p.stdout
    for s in ("gd", "evaluate", "evaluate_gd"):
        assert st[s][0] == "stale", p.stdout
    p = run_ok("clean", yml, "convert")
    left = [n for n in os.listdir(wd) if n.startswith("convert.h5")]
    assert not left, "sluice clean convert left %s" % left
    p = run_ok("clean", yml)
    p, st = status(yml, code=1)
    expect_states(st, {s: "missing" for s in STAGES}, "status after clean")
    assert not [n for n in os.listdir(wd) if n.endswith(".h5")], os.listdir(wd)
    expect_no_temp(wd, "after clean")
    n = log_count(wd)
    run_ok("run", yml, "-j", THREADS)
    expect_statuses(log_since(wd, n), ran=STAGES, reused=[], what="the run after clean")
    expect_same_checkpoints(wd, ref)


# ---------------------------------------------------------------------------
# 5. the workdir lock
# ---------------------------------------------------------------------------

def test_lock_second_run_fails_or_waits():
    data, ref, ref_secs = big()
    d = tdir("lock")
    wd = os.path.join(d, "wd")
    link_workdir(ref, wd, ["load"])
    yml = pipeline(d, data, wd)
    args = ["run", yml, "-j", THREADS, "--until", "convert"]
    first = Run(*args)
    deadline = time.time() + 30
    while not newer(os.path.join(wd, "clean.h5.tmp"), first.t0) and first.alive() and time.time() < deadline:
        time.sleep(0.002)
    try:
        assert first.alive(), "the first run ended too soon: %s" % (first.wait() is not None and first.show())
        second = sluice(*args, timeout=30)
        assert first.alive(), "the first run ended before the second was refused; make it longer"
        expect_rc(second, 3)
        contains(second.stderr, wd, str(first.pid))
        assert second.seconds < 2, "the refused run took %.2f s" % second.seconds
        cl = sluice("clean", yml)
        expect_rc(cl, 3)
        contains(cl.stderr, wd, str(first.pid))
        waiter = Run(*(args + ["--wait"]))
        while first.alive():  # the waiter cannot end while the first run holds the workdir
            if not waiter.alive():
                # the first run may still be exiting (a sanitizer's leak check at exit) after it
                # wrote its last stage's line and released the workdir; before that, it holds it
                with open(os.path.join(wd, "run.log")) as f:
                    done = [e for e in map(json.loads, f) if e["pid"] == first.pid and e["stage"] == "convert"]
                assert done, "run --wait ended while the first run holds the workdir: %s" % (
                    waiter.wait() is not None and waiter.show())
                break
            time.sleep(0.01)
        assert first.wait() == 0, "the first run failed: %s" % first.show()
        assert waiter.wait() == 0, "run --wait failed: %s" % waiter.show()
    finally:
        for r in ("first", "waiter"):
            if r in locals() and locals()[r].alive():
                locals()[r].kill()
    entries = run_log(wd)
    mine = [e for e in entries if e["pid"] == waiter.pid]
    expect_statuses(mine, ran=[], reused=["load", "clean", "convert"], what="the --wait run")
    firsts = [e for e in entries if e["pid"] == first.pid]
    expect_statuses(firsts, ran=["clean", "convert"], reused=["load"], what="the first run")
    gap = min(e["start"] for e in mine) - max(e["end"] for e in firsts)
    note("lock: second run refused in %.3f s; the --wait run started its stages %.3f s after the first run's "
         "last stage ended", second.seconds, gap)
    assert gap >= -0.01, "the --wait run overlapped the first run"
    run_ok(*args)  # the lock was released
    expect_no_temp(wd, "after the lock test")


# ---------------------------------------------------------------------------
# 6. run.log
# ---------------------------------------------------------------------------

def test_run_log_format():
    # evaluate asks mae, which needs a pass (BLAS: X w); evaluate_gd scores by algebra (none)
    d, wd, yml, ref = fresh_small_run("run_log", [("model: lstsq, data: normalize, metrics: [mse, rmse, r2]",
                                                   "model: lstsq, data: normalize, metrics: [mse, rmse, mae, r2]")])
    entries = run_log(wd)
    assert [e["stage"] for e in entries if e["stage"] in ("load", "clean", "convert", "normalize")] == \
        ["load", "clean", "convert", "normalize"], [e["stage"] for e in entries]
    for e in entries:
        for k in ("stage", "op", "status", "key", "start", "end", "seconds", "rows", "bytes", "pid"):
            assert k in e, "run.log entry lacks %r: %s" % (k, e)
        assert e["status"] == "ran" and e["reason"] == "no checkpoint yet", e
        assert re.fullmatch(r"[0-9a-f]{32}", e["key"]), e
        assert e["end"] >= e["start"] > 1.6e9 and abs(e["seconds"] - (e["end"] - e["start"])) < 1e-3, e
        # ready: the output complete, before the commit (fsync, rename) that end waits for
        assert e["start"] <= e["ready"] <= e["end"], e
        # the run's start and thread budget, the same on every line of the run (sluice report)
        assert e["run_start"] == entries[0]["run_start"] <= e["start"] and e["threads"] == int(THREADS), e
        with h5py.File(os.path.join(wd, e["stage"] + ".h5"), "r") as f:
            key = f.attrs["sluice_key"]
            assert (key.decode() if isinstance(key, bytes) else key) == e["key"], (e, key)
            assert e["rows"] == int(f.attrs["sluice_rows"]), e
            assert e["bytes"] == sum(f[k].size * f[k].dtype.itemsize for k in f.keys()), e
    # BLAS work, counted by hand: the Gram of clean's centred [x, y, 1] rows in its statistics
    # pass (p = F + 2 columns, the last the ones that sum the others, up to 32: the upper
    # triangle's p (p + 1) / 2 products, over every row of the source, a dropped row as
    # zeros: kernels/pairmoments.c, kernels/gram_small.c), from which
    # normalize's and the models' fits and evaluate_gd's scores follow (ops/moments.c,
    # kernels/residual.c); the pass of a metrics stage that asks mae: X w
    by = {e["stage"]: e for e in entries}
    n_rows, F, p = by["normalize"]["rows"], FEATURES, FEATURES + 2
    assert p <= 32
    gram = by["load"]["rows"] * p * (p + 1)
    for stage, flops in (("clean", gram), ("evaluate", 2 * n_rows * F)):
        e = by[stage]
        assert e.get("blas_flops") == flops, "%s: run.log blas_flops %s, counted by hand %d" % (
            stage, e.get("blas_flops"), flops)
        assert 0 < e["blas_seconds"] <= THREADS * e["seconds"], e
    for stage in ("load", "convert", "normalize", "lstsq", "gd", "evaluate_gd"):
        assert "blas_flops" not in by[stage], "%s calls no BLAS, yet run.log says %s" % (stage, by[stage])
    assert (by["evaluate"]["passes"], by["evaluate_gd"]["passes"]) == (1, 0), (by["evaluate"], by["evaluate_gd"])
    n = log_count(wd)
    run_ok("run", yml, "-j", THREADS)
    for e in log_since(wd, n):
        assert e["status"] == "reused" and "error" not in e, e
        assert e["rows"] == [x for x in entries if x["stage"] == e["stage"]][0]["rows"], e
    # a stage that fails: status failed and the error; no partial file
    yml2 = pipeline(d, small()[0], wd, [("dtype: float64 }", "dtype: int8 }")], name="int8.yaml")
    n = log_count(wd)
    p = expect_rc(sluice("run", yml2, "-j", THREADS), 1)
    contains(p.stderr, "stage 'convert'")
    got = log_since(wd, n)
    st = statuses(got)
    assert st.get("convert") == "failed", "run.log after a failing convert: %s" % got
    bad = [e for e in got if e["stage"] == "convert"][0]
    assert bad.get("error") and "int8" in bad["error"], bad
    for s in descendants("convert")[1:]:
        assert s not in st, "stage %s after the failed one is logged: %s" % (s, got)
    expect_no_temp(wd, "after a failed stage")
    expect_same_checkpoints(wd, ref, ["load", "clean", "convert"], what="after a failed rerun of convert: ")


# ---------------------------------------------------------------------------
# runner
# ---------------------------------------------------------------------------

def main():
    global SLUICE, GENDATA, TMP, SRC
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sluice", required=True)
    ap.add_argument("--gendata", required=True)
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--source-root", required=True)
    ap.add_argument("-k", action="append", default=[], help="run only tests whose name contains this")
    ap.add_argument("--keep", action="store_true", help="keep the work folders when every test passed")
    a = ap.parse_args()
    SLUICE = os.path.abspath(a.sluice)
    GENDATA = os.path.abspath(a.gendata)
    TMP = os.path.abspath(a.tmp)
    SRC = os.path.abspath(a.source_root)
    if os.path.exists(TMP):
        shutil.rmtree(TMP)
    os.makedirs(TMP)
    for exe in (SLUICE, GENDATA):
        if not os.access(exe, os.X_OK):
            print("FAIL setup: %s is not an executable file" % exe)
            print("0 passed, 1 failed")
            return 1
    tests = [(n, f) for n, f in globals().items() if n.startswith("test_") and callable(f)]
    if a.k:
        tests = [(n, f) for n, f in tests if any(k in n for k in a.k)]
    passed = failed = 0
    t_all = time.time()
    for name, fn in tests:
        t0 = time.time()
        try:
            fn()
        except subprocess.TimeoutExpired as e:
            failed += 1
            print("FAIL %s: timed out after %ss: %s (%.1f s)" % (name, e.timeout, " ".join(map(str, e.cmd)),
                                                                  time.time() - t0), flush=True)
            continue
        except AssertionError as e:
            failed += 1
            where = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == __file__][-1]
            print("FAIL %s: %s (line %d, %.1f s)" % (name, str(e) or "assertion failed: " + (where.line or ""),
                                                     where.lineno, time.time() - t0), flush=True)
            continue
        except Exception as e:  # noqa: BLE001 - a test's crash is its failure
            failed += 1
            tb = traceback.extract_tb(e.__traceback__)
            here = [f for f in tb if f.filename == __file__] or tb
            print("FAIL %s: %s: %s (line %d, %.1f s)" % (name, type(e).__name__, e, here[-1].lineno,
                                                         time.time() - t0), flush=True)
            continue
        passed += 1
        print("ok %s (%.1f s)" % (name, time.time() - t0), flush=True)
    print("# total %.1f s" % (time.time() - t_all))
    if FIGURES:
        print("# figures:")
        for f in FIGURES:
            print("#   " + f)
    if not failed and not a.keep:
        shutil.rmtree(TMP, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
