#!/usr/bin/python3
"""Fault injection tests for sluice: failing writes, syncs, renames, opens,
allocations and HDF5 calls, and a full disk.

usage: /usr/bin/python3 tests/faults/test_faults.py --sluice PATH --shim PATH --tmp DIR --source-root DIR
       [--write-doc FILE]  (write the table of failure points there, e.g. docs/faults.md)
       [-k SUBSTRING ...]  (run only the cases whose name contains one of the substrings)

The shim (tests/faults/faultshim.c, LD_PRELOAD) counts the calls of each
interposed function and fails the N-th one. The test first runs the pipeline
below once with the shim unarmed and logging, to learn the calls a run makes
(function, number, caller, file), then picks failure points across the run by
what they touch: the first and last call of each function, each stage's
checkpoint writes, its commit (fdatasync, HDF5 close, fsync, rename, folder
fsync), the resume journal, the manifest, run.log, the lock file, save.hdf5's
output file, and allocations spread over the run. For each point it runs the
pipeline with the shim armed there and checks:

  - the exit code is 3 (I/O) or 1 (out of memory), never a signal, and stderr is
    one line `sluice: ...` that names the file (and the stage) that failed,
    with no abort, sanitizer or HDF5 diagnostics; a few calls whose failure is
    harmless by design (the pid in the lock file, closing a file that
    was only read, a journal that cannot be reopened) may instead let the run
    succeed, with the same results;
  - no `*.tmp` or `*.resume` file is left behind;
  - every checkpoint left in the workdir is a committed one, readable with h5py,
    with arrays and hashes equal to a clean run's;
  - a rerun without the shim completes, reuses exactly the stages whose
    checkpoints were committed before the fault (run.log), and ends with
    every checkpoint and the saved file byte-equal (arrays) to a clean run's.

The same is done for a run resuming from a resume journal (made by killing a
run with the shim's FAULT_KILL at a chosen write), and for a real full disk (a
2 MiB tmpfs; skipped with a message when mount is not permitted).

The table of failure points goes to --write-doc (docs/faults.md) when every
case passed, else to TMP/faults.md. No pytest: prints `ok NAME` / `FAIL NAME:
why` / `skip NAME: why`, and ends with `N passed, M failed`.
"""
import argparse
import errno as errno_mod
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import traceback

import h5py
import numpy as np

SLUICE = SHIM = TMP = SRC = None
WORK = None      # where the cases run: a tmpfs when one can be mounted (fsync is free there)
FAST = True      # False on a real disk: the long sweeps are left out
TIMEOUT = 60
STAGES = ["load", "clean", "convert", "normalize", "fit", "metrics", "save"]
ALLOC = ("malloc", "calloc", "realloc")
FN_ORDER = ["write", "pwrite", "open", "ftruncate", "fsync", "fdatasync", "rename", "fopen", "fclose",
            "H5Fcreate", "H5Fflush", "H5Dwrite", "H5Fclose", "malloc", "calloc", "realloc"]
BAD_STDERR = ("Sanitizer", "runtime error", "Segmentation", "Aborted", "core dumped", "HDF5-DIAG",
              "double free", "free(): ", "malloc(): ", "corrupted", "Assertion", "assertion")

PIPELINE = """\
pipeline: faults
workdir: work
chunk_rows: 256
stages:
  load:      {{ op: load.hdf5, file: {data}, arrays: {{ X: /X, y: /y }} }}
  clean:     {{ op: clean, input: load, nan: {{ X: impute_mean, y: drop_row }} }}
  convert:   {{ op: convert, input: clean, dtype: float32 }}
  normalize: {{ op: normalize, input: convert, arrays: [X] }}
  fit:       {{ op: linreg, input: normalize }}
  metrics:   {{ op: metrics, model: fit, data: normalize }}
  save:      {{ op: save.hdf5, input: normalize, file: out/result.h5 }}
"""

# the same with compressed checkpoints: written through HDF5 (H5Dwrite), not pwrite
PIPELINE_Z = PIPELINE.replace("chunk_rows: 256\n", "chunk_rows: 256\ncompression: deflate\n")

RESULTS = []     # rows of the table
PASSED, FAILED = [], []


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

class Call:
    """One line of the shim's log."""
    def __init__(self, seq, fn, n, caller, detail, fail, phase):
        self.seq, self.fn, self.n, self.caller, self.detail, self.fail = seq, fn, n, caller, detail, fail
        self.phase = phase          # 'plan', 'writing work/x.h5', 'after work/x.h5'

    def path(self):
        """The file the call touched, relative to the case folder ('' when none)."""
        d = self.detail
        if self.fn == "rename":
            return d.split(" -> ")[0]
        if d.startswith("fd="):
            return d.split(" ", 1)[1] if " " in d else ""
        if d.startswith("size="):
            return ""
        return re.sub(r" \(O_[A-Z_|]+\)$", "", d)

    def creates(self):
        return "O_CREAT" in self.detail

    def key(self):
        # an allocation's size may depend on the length of the folder's path
        # a temporary file is first made under a name with its writer's pid
        # (sl__create_locked), which changes from run to run
        return (self.fn, self.n, "" if self.fn in ALLOC else re.sub(r"\.tmp\.\d+", ".tmp.<pid>", self.detail))


def make_data(path, rows, seed):
    rng = np.random.default_rng(seed)
    f = 6
    X = rng.normal(size=(rows, f))
    X[rng.random((rows, f)) < 0.02] = np.nan
    y = np.nan_to_num(X) @ rng.normal(size=f) + 0.5 + 0.1 * rng.normal(size=rows)
    y[rng.random(rows) < 0.01] = np.nan
    with h5py.File(path, "w") as h:
        h["X"] = X
        h["y"] = y


def fresh(path):
    if os.path.exists(path):
        shutil.rmtree(path)
    os.makedirs(path)
    return path


def new_case(name, data, pipeline=PIPELINE):
    d = fresh(os.path.join(WORK, name))
    with open(os.path.join(d, "p.yaml"), "w") as f:
        f.write(pipeline.format(data=data))
    return d


def sluice(case, fault=None, log=None, env=None, args=()):
    e = dict(os.environ)
    e["LC_ALL"] = "C"
    for k in list(e):
        if k.startswith("FAULT_") or k in ("OMP_NUM_THREADS", "LD_PRELOAD"):
            del e[k]
    e["SLUICE_RESUME_INTERVAL"] = "0"   # a journal after every batch: journal writes to fail
    # each stage commits before the next starts, so that the calls come in one order run
    # after run; the committer thread's own order is tested by async_tests()
    e["SLUICE_COMMIT"] = "inline"
    # and stages ready together run one after another, not as a scan group whose
    # members' calls interleave (the shared scans have their own tests)
    e["SLUICE_SHARED_SCANS"] = "0"
    if fault is not None or log is not None:
        e["LD_PRELOAD"] = SHIM
    if log is not None:
        e["FAULT_LOG"] = log
        if os.path.exists(log):
            os.unlink(log)
    if fault:
        e.update({k: str(v) for k, v in fault.items()})
    if env:
        e.update(env)
    return subprocess.run([SLUICE, "run", "p.yaml", "-j1", "--progress", "never", *args], cwd=case,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=TIMEOUT, env=e)


def show(p):
    return "exit %d\n--- stdout:\n%s--- stderr:\n%s" % (p.returncode, p.stdout, p.stderr)


def relative(text, case):
    """Paths in text relative to the case folder; the data file as 'data.h5'."""
    text = text.replace(case + "/", "")
    text = text.replace(case, ".")
    text = re.sub(r"(/[^\s'\"]*)?/(data\w*\.h5)", r"\2", text)
    return text


def read_log(path, case):
    calls, phase = [], "plan"
    if not os.path.exists(path):
        return calls
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 5:
                continue
            seq, fn, n, caller, detail = parts[:5]
            fail = len(parts) > 5 and parts[5] == "FAIL"
            detail = relative(detail, case)
            detail = re.sub(r"^fd=\d+ ", "fd=N ", detail)
            c = Call(int(seq), fn, int(n), caller, detail, fail, phase)
            calls.append(c)
            # the phase a later call belongs to
            if fn == "H5Fcreate" and detail.endswith(".h5.tmp"):
                phase = "writing " + detail[:-4]
            elif fn == "rename" and re.search(r"\.h5\.tmp -> ", detail):
                phase = "after " + detail.split(" -> ")[1]
            elif fn == "open" and caller.startswith("libhdf5") and c.path().endswith(".h5.tmp") and \
                    not c.creates() and phase != "writing " + c.path()[:-4]:
                phase = "resuming " + c.path()[:-4]   # H5Fopen of a temporary file a journal names
            elif fn == "open" and c.path().endswith(".sluice.lock") and phase == "plan":
                phase = "run"
    return calls


def stage_of(path):
    """The stage a file in the case belongs to ('' when none)."""
    if path.startswith("out/"):
        return "save"
    m = re.match(r"work/([A-Za-z0-9_.-]+?)\.h5(\.|$)", path)
    return m.group(1) if m else ""


def phase_stage(phase):
    m = re.match(r"(writing|after|resuming) (\S+)", phase)
    return stage_of(m.group(2)) if m else ""


def snapshot(case):
    """{relative path: {'arrays': {name: (dtype, shape, bytes)}, 'hash': sluice_output_hash}} of the
    checkpoints and the saved file, read with h5py."""
    snap = {}
    for sub in ("work", "out"):
        d = os.path.join(case, sub)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if not name.endswith(".h5"):
                continue
            rel = sub + "/" + name
            with h5py.File(os.path.join(d, name), "r") as f:
                arrays = {k: (f[k].dtype.str, f[k].shape, f[k][...].tobytes()) for k in f.keys()}
                h = f.attrs.get("sluice_output_hash")
                if isinstance(h, bytes):
                    h = h.decode()
                place = f.attrs.get("sluice_in_place")
                if place is not None:
                    # a source stored in place (docs/guide.md 3.1): its arrays
                    # are the source's datasets, as sluice reads them
                    assert not arrays, "%s is in place but holds arrays %s" % (rel, sorted(arrays))
                    with h5py.File(place, "r") as src:
                        for k, v in f.attrs.items():
                            if k.startswith("sluice_dataset."):
                                a = src[v][...]
                                a = a.astype(a.dtype.newbyteorder("=")).reshape(len(a), -1)
                                arrays[k[len("sluice_dataset."):]] = (a.dtype.str, a.shape, a.tobytes())
            snap[rel] = {"arrays": arrays, "hash": h}
    return snap


def same_file(got, want, rel):
    if got["hash"] != want["hash"]:
        raise AssertionError("%s: sluice_output_hash %s, a clean run's is %s" % (rel, got["hash"], want["hash"]))
    if sorted(got["arrays"]) != sorted(want["arrays"]):
        raise AssertionError("%s: arrays %s, a clean run has %s" % (rel, sorted(got["arrays"]), sorted(want["arrays"])))
    for k, v in want["arrays"].items():
        g = got["arrays"][k]
        if g[0] != v[0] or g[1] != v[1] or g[2] != v[2]:
            raise AssertionError("%s: array '%s' (%s %s) differs from a clean run's (%s %s)"
                                 % (rel, k, g[0], g[1], v[0], v[1]))


def leftovers(case):
    out = []
    for sub in ("work", "out"):
        d = os.path.join(case, sub)
        if os.path.isdir(d):
            out += [sub + "/" + n for n in sorted(os.listdir(d)) if n.endswith(".tmp") or n.endswith(".resume")]
    return out


def committed(case):
    return [s for s in STAGES if os.path.exists(os.path.join(case, "work", s + ".h5"))]


def log_entries(case, offset=0):
    path = os.path.join(case, "work", "run.log")
    if not os.path.exists(path):
        return [], 0
    with open(path) as f:
        f.seek(offset)
        text = f.read()
    return [json.loads(l) for l in text.splitlines() if l.strip()], os.path.getsize(path)


def run_log_size(case):
    path = os.path.join(case, "work", "run.log")
    return os.path.getsize(path) if os.path.exists(path) else 0


def errno_text(name):
    return os.strerror(getattr(errno_mod, name))


def md(text):
    return text.replace("|", "\\|").replace("\n", " ")


# ---------------------------------------------------------------------------
# what is expected of a failure point
# ---------------------------------------------------------------------------

def tolerated(call, scenario):
    """Why a failure of this call may leave the run successful, or None."""
    p = call.path()
    if call.fn in ALLOC:
        return "absorbed"
    if p.endswith(".sluice.lock") and call.fn in ("ftruncate", "pwrite"):
        return "the pid in the lock file is only for messages"
    if call.fn == "H5Fclose" and not p.endswith(".tmp"):
        return "a file that was only read"
    if call.fn == "open" and p.endswith(".h5.tmp") and call.phase != "writing " + p[:-4]:
        return "the file a journal names cannot be reopened: the stage starts over"
    if call.fn == "open" and p.endswith(".h5.tmp.resume") and not call.creates():
        return "a journal that cannot be read is not trusted: the stage starts over"
    if call.fn == "open" and call.caller.startswith("libhdf5") and not call.creates():
        return "HDF5 looks for an existing file before creating it"
    return None


def names_of(call):
    """How a message names the file of a failed call (a journal or manifest by the
    name it is replaced to)."""
    path = call.path()
    if path in ("work", "out"):
        return {"'%s'" % path}
    return {os.path.basename(path), os.path.basename(re.sub(r"\.tmp$", "", path))}


def check_fault_run(p, call, case, scenario, err_name):
    """Checks the faulted run; returns (outcome, message line)."""
    if p.returncode < 0:
        raise AssertionError("killed by signal %d\n%s" % (-p.returncode, show(p)))
    for bad in BAD_STDERR:
        if bad in p.stderr:
            raise AssertionError("stderr has %r\n%s" % (bad, show(p)))
    if p.returncode == 0:
        why = tolerated(call, scenario)
        if not why:
            raise AssertionError("the run succeeded although %s #%d (%s) failed\n%s"
                                 % (call.fn, call.n, call.detail, show(p)))
        if p.stderr.strip():
            raise AssertionError("a successful run printed to stderr\n" + show(p))
        return "ok (%s)" % why, ""
    want = 1 if call.fn in ALLOC else 3
    if p.returncode != want:
        raise AssertionError("expected exit %d, got %s" % (want, show(p)))
    lines = p.stderr.splitlines()
    if len(lines) != 1 or not lines[0].startswith("sluice: "):
        raise AssertionError("expected one line 'sluice: ...' on stderr\n" + show(p))
    msg = relative(lines[0][len("sluice: "):], case)
    if call.fn in ALLOC:
        if "out of memory" not in msg:
            raise AssertionError("the message does not say 'out of memory'\n" + show(p))
    else:
        names = names_of(call)
        if not any(n in msg for n in names):
            raise AssertionError("the message does not name %s\n%s" % (" or ".join(sorted(names)), show(p)))
        if call.fn not in ("H5Fclose", "H5Fflush", "H5Dwrite") and errno_text(err_name) not in msg and \
                call.caller.startswith("libsluice"):
            raise AssertionError("the message does not give the error (%s)\n%s" % (errno_text(err_name), show(p)))
    st = stage_of(call.path()) or phase_stage(call.phase)
    m = re.search(r"stage '([^']+)'", msg)
    # the manifest is written for the whole run (also when it ends), not for one stage
    if call.phase != "plan" and call.phase != "run" and not m and "sluice.manifest" not in call.path():
        raise AssertionError("the message names no stage\n" + show(p))
    if st and m and call.fn not in ALLOC and stage_of(call.path()) and m.group(1) != st:
        raise AssertionError("the message names stage '%s', the failing file is stage '%s''s\n%s"
                             % (m.group(1), st, show(p)))
    return "exit %d" % p.returncode, msg


def run_case(case, call, label, scenario, ref, fault_env, env=None):
    """Runs one failure point in `case` (prepared by the caller) and checks everything.
    With env (async commits), the calls' order varies from run to run: the
    checks are then made on the call that did fail."""
    log = os.path.join(case, "fault.log")
    err_name = fault_env.get("FAULT_ERRNO", "ENOMEM" if call.fn in ALLOC else "EIO")
    before = run_log_size(case)
    p = sluice(case, fault=fault_env, log=log, env=env)
    calls = read_log(log, case)
    failed = [c for c in calls if c.fail]
    if not failed:
        raise AssertionError("the shim never failed %s #%d: the run made fewer calls than the counting run\n%s"
                             % (call.fn, call.n, show(p)))
    if env:
        # several calls may fail (FAULT_REPEAT) in threads that race: the one
        # reported is the one whose file the message names
        line = p.stderr.splitlines()[0] if p.stderr else ""
        call = next((c for c in failed if any(n in line for n in names_of(c))), failed[0])
    elif failed[0].key() != call.key():
        raise AssertionError("the failed call was %s #%d (%s), the counting run had %s #%d (%s) there: "
                             "the run is not deterministic" % (failed[0].fn, failed[0].n, failed[0].detail,
                                                               call.fn, call.n, call.detail))
    outcome, msg = check_fault_run(p, call, case, scenario, err_name)
    left = leftovers(case)
    if left:
        raise AssertionError("left behind after the fault: %s\n%s" % (", ".join(left), show(p)))
    done = committed(case)
    snap = snapshot(case)
    for rel, v in snap.items():
        if rel not in ref:
            raise AssertionError("%s is not a file a clean run makes" % rel)
        same_file(v, ref[rel], rel)
    # the rerun, without the shim
    offset = run_log_size(case)
    q = sluice(case)
    if q.returncode != 0:
        raise AssertionError("the rerun failed\n" + show(q))
    entries, _ = log_entries(case, offset)
    status = {e["stage"]: e["status"] for e in entries}
    reused = [s for s in STAGES if status.get(s) == "reused"]
    ran = [s for s in STAGES if status.get(s) == "ran"]
    if reused != done:
        raise AssertionError("the rerun reused %s; the checkpoints committed before the fault were %s"
                             % (reused or "nothing", done or "none"))
    if sorted(reused + ran) != sorted(STAGES):
        raise AssertionError("the rerun's run.log: %s" % status)
    final = snapshot(case)
    if sorted(final) != sorted(ref):
        raise AssertionError("after the rerun: files %s, a clean run makes %s" % (sorted(final), sorted(ref)))
    for rel in ref:
        same_file(final[rel], ref[rel], rel)
    if leftovers(case):
        raise AssertionError("left behind after the rerun: %s" % ", ".join(leftovers(case)))
    stage = re.search(r"stage '([^']+)'", msg)
    RESULTS.append({
        "scenario": scenario, "fn": call.fn, "n": call.n, "errno": err_name + (" (every call from here)" if fault_env.get("FAULT_REPEAT") else ""),
        "caller": call.caller.split(".so")[0], "point": describe(call, label),
        "stage": stage.group(1) if stage else "-", "exit": p.returncode, "outcome": outcome,
        "message": msg or "(none: the run succeeded)",
        "reused": ", ".join(reused) if reused else "nothing",
    })
    return p


def async_tests(calls, data, ref):
    """Without SLUICE_COMMIT=inline a thread makes each checkpoint durable
    (fsync, rename, folder fsync, manifest) while the stages after it already
    read it. Its failures must end the run as cleanly: one message naming the
    stage, no temporary file, only whole checkpoints, and a rerun that reuses
    exactly those. The call that fails is whichever comes at that number in
    this run."""
    for fn, label, e in (("fsync", "commit: fsync", "EIO"), ("rename", "commit: rename", "EXDEV")):
        cs = [c for c in calls if c.fn == fn and c.path() == "work/clean.h5.tmp"]
        if not cs:
            continue
        c = cs[0]

        def one(c=c, e=e, label=label):
            case = new_case("a_%s_%d" % (c.fn, c.n), data)
            run_case(case, c, label + " (committer thread)", "async commits", ref,
                     {"FAULT_FN": c.fn, "FAULT_N": c.n, "FAULT_ERRNO": e, "FAULT_REPEAT": 1},
                     env={"SLUICE_COMMIT": "thread"})
        report("async: %s #%d.. %s [every call from here] %s" % (c.fn, c.n, e, c.path() or c.phase), one)


def sweep(cs, data, ref):
    """Fails each call of cs in turn (all checks of run_case each time); the
    table gets one row for all of them."""
    first = len(RESULTS)
    bad = []
    for c in cs:
        case = new_case("s_%s_%d" % (c.fn, c.n), data)
        try:
            run_case(case, c, "", "fresh run", ref, {"FAULT_FN": c.fn, "FAULT_N": c.n, "FAULT_ERRNO": "ENOMEM"})
        except AssertionError as e:
            bad.append("%s #%d: %s" % (c.fn, c.n, e))
        shutil.rmtree(case, ignore_errors=True)
    rows, RESULTS[first:] = RESULTS[first:], []
    if bad:
        raise AssertionError("%d of %d failed:\n%s" % (len(bad), len(cs), "\n".join(bad)))
    msgs, reused = {}, {}
    for r in rows:
        m = re.sub(r"^p\.yaml:\d+:\d+: ", "", r["message"])
        msgs[m] = msgs.get(m, 0) + 1
        reused[r["reused"]] = reused.get(r["reused"], 0) + 1
    RESULTS.append({
        "scenario": "fresh run", "fn": cs[0].fn, "n": cs[0].n, "range": "%d-%d" % (cs[0].n, cs[-1].n),
        "errno": "ENOMEM", "caller": "libsluice",
        "point": "each of the %d calls while stage 'fit' runs, one run per call" % len(cs),
        "stage": "fit", "exit": ", ".join(sorted({str(r["exit"]) if r["exit"] else r["outcome"] for r in rows})),
        "outcome": ", ".join(sorted({r["outcome"] for r in rows})),
        "message": "; ".join("%s (%d)" % (m, k) for m, k in sorted(msgs.items())),
        "reused": "; ".join("%s (%d)" % (m, k) for m, k in sorted(reused.items())),
    })


def describe(call, label):
    where = call.phase
    if where.startswith("writing ") or where.startswith("resuming "):
        when = where
    elif where.startswith("after "):
        when = where[6:] + " renamed into place"
    else:
        when = "loading and planning" if where == "plan" else "run starting"
    if call.fn in ALLOC:
        return "%s (%s)" % (label, when)
    return "%s: `%s` (%s)" % (label, call.detail.replace("fd=N ", ""), when)


# ---------------------------------------------------------------------------
# choosing failure points
# ---------------------------------------------------------------------------

def pick(calls, want, label, fn, pred=lambda c: True, which=0):
    cs = [c for c in calls if c.fn == fn and pred(c)]
    if not cs:
        return
    c = cs[which] if -len(cs) <= which < len(cs) else cs[-1]
    if c.key() not in {x[0].key() for x in want}:
        want.append((c, label))


def choose_points(calls):
    """(call, label, errno) failure points spread across a run."""
    want = []
    is_ckpt = lambda s: (lambda c: c.path() == "work/%s.h5.tmp" % s)
    from_sl = lambda c: c.caller.startswith("libsluice")
    from_h5 = lambda c: c.caller.startswith("libhdf5")
    for fn in FN_ORDER:
        if fn in ALLOC:
            continue
        pick(calls, want, "first", fn)
        pick(calls, want, "last", fn, which=-1)
    for i, s in enumerate(STAGES[:-1]):
        ck = is_ckpt(s)
        # the stage's own chunk writes, and HDF5's writes around them
        pick(calls, want, "chunk write", "pwrite", lambda c, ck=ck: ck(c) and from_sl(c), which=i % 3)
        pick(calls, want, "batch sync", "fdatasync", ck, which=i % 2)
        pick(calls, want, "commit sync", "fdatasync", ck, which=-1)
        pick(calls, want, "create", "H5Fcreate", ck)
        pick(calls, want, "commit: close", "H5Fclose", ck)
        pick(calls, want, "commit: fsync", "fsync", ck)
        pick(calls, want, "commit: rename", "rename", ck)
        pick(calls, want, "commit: folder fsync", "fsync",
             lambda c, s=s: c.path() == "work" and c.phase == "after work/%s.h5" % s)
        pick(calls, want, "manifest", ("open", "write", "rename")[i % 3],
             lambda c, s=s: "sluice.manifest" in c.path() and c.phase == "after work/%s.h5" % s)
        jr = lambda c, s=s: c.path().startswith("work/%s.h5.tmp.resume" % s)
        pick(calls, want, "journal", ("open", "write", "fsync", "rename")[i % 4], jr, which=i % 2)
    pick(calls, want, "HDF5 metadata at create", "pwrite",
         lambda c: from_h5(c) and c.phase == "writing work/convert.h5")
    pick(calls, want, "HDF5 metadata at commit", "pwrite",
         lambda c: from_h5(c) and c.phase == "writing work/normalize.h5", which=-1)
    pick(calls, want, "HDF5 end of file at commit", "ftruncate",
         lambda c: from_h5(c) and c.phase == "writing work/clean.h5", which=-1)
    pick(calls, want, "HDF5 creates the file", "open",
         lambda c: from_h5(c) and c.path() == "work/fit.h5.tmp" and c.creates())
    pick(calls, want, "HDF5 looks for an existing file", "open",
         lambda c: from_h5(c) and c.path() == "work/metrics.h5.tmp" and not c.creates())
    pick(calls, want, "direct-write descriptor", "open", lambda c: from_sl(c) and c.path() == "work/clean.h5.tmp")
    pick(calls, want, "commit: open to fsync", "open",
         lambda c: c.path() == "work/convert.h5.tmp" and "O_RDONLY" in c.detail)
    pick(calls, want, "commit: open the folder to fsync", "open",
         lambda c: c.path() == "work" and c.phase == "after work/fit.h5")
    pick(calls, want, "flush after create", "H5Fflush", lambda c: c.path() == "work/metrics.h5.tmp")
    out = lambda c: c.path() == "out/result.h5.tmp"
    pick(calls, want, "saved file", "H5Fcreate", out)
    pick(calls, want, "saved file", "pwrite", lambda c: out(c) and from_sl(c))
    pick(calls, want, "saved file", "fdatasync", out)
    pick(calls, want, "saved file", "H5Fclose", out)
    pick(calls, want, "saved file", "rename", out)
    pick(calls, want, "saved file: folder fsync", "fsync", lambda c: c.path() == "out")
    pick(calls, want, "run.log", "open", lambda c: c.path().endswith("run.log"))
    pick(calls, want, "run.log", "write", lambda c: c.path().endswith("run.log"), which=2)
    pick(calls, want, "run.log", "write", lambda c: c.path().endswith("run.log"), which=-1)
    pick(calls, want, "lock file", "open", lambda c: c.path().endswith(".sluice.lock"))
    pick(calls, want, "reader close", "H5Fclose", lambda c: c.path() == "work/convert.h5")
    # allocations: spread evenly, plus the first and the last
    for fn, k in (("malloc", 12), ("calloc", 6), ("realloc", 6)):
        cs = [c for c in calls if c.fn == fn]
        for j in sorted({round(i * (len(cs) - 1) / (k - 1)) for i in range(k)} if cs else []):
            c = cs[j]
            want.append((c, "allocation"))
    points = []
    for c, label in want:
        e = "ENOMEM" if c.fn in ALLOC else \
            "EIO" if c.fn in ("fsync", "fdatasync", "H5Fclose", "H5Fflush") else \
            "EDQUOT" if c.fn == "write" and c.n % 2 else \
            "EROFS" if c.fn == "open" and "lock" in c.path() else \
            "EACCES" if c.fn in ("open", "fopen", "H5Fcreate") else \
            "EXDEV" if c.fn == "rename" and c.n % 3 == 0 else \
            "ENOSPC"
        points.append((c, label, e))
    return points


# ---------------------------------------------------------------------------
# the tests
# ---------------------------------------------------------------------------

def counted_run(case):
    log = os.path.join(case, "count.log")
    p = sluice(case, log=log)
    if p.returncode != 0:
        raise AssertionError("the unarmed run failed\n" + show(p))
    return read_log(log, case)


def report(name, fn):
    if SELECT and not any(s in name for s in SELECT):
        return
    t = time.time()
    try:
        r = fn()
        if r == "skip":
            return
        PASSED.append(name)
        print("ok %s (%.1f s)" % (name, time.time() - t), flush=True)
    except Exception as e:  # noqa: BLE001 -- report every failure and go on
        FAILED.append(name)
        msg = str(e) if isinstance(e, AssertionError) else traceback.format_exc()
        print("FAIL %s: %s" % (name, msg), flush=True)


def main():
    global SLUICE, SHIM, TMP, SRC, WORK, SELECT
    ap = argparse.ArgumentParser()
    ap.add_argument("--sluice", required=True)
    ap.add_argument("--shim", required=True)
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--source-root", required=True)
    ap.add_argument("--write-doc")
    ap.add_argument("-k", action="append", default=[])
    a = ap.parse_args()
    SLUICE, SHIM, SRC = os.path.abspath(a.sluice), os.path.abspath(a.shim), os.path.abspath(a.source_root)
    TMP = os.path.abspath(a.tmp)
    SELECT = a.k
    os.makedirs(TMP, exist_ok=True)
    # a timeout (SIGTERM from meson) still unmounts what the test mounted
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))
    mounts = []
    # the cases on a tmpfs: the same code paths, without waiting for the disk at every fsync
    WORK = os.path.join(TMP, "cases")
    for m in (os.path.join(TMP, "full"), WORK):
        if os.path.ismount(m):
            subprocess.run(["umount", "-l", m], stderr=subprocess.DEVNULL)
    fresh(WORK)
    global FAST
    shm = None
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512m", "tmpfs", WORK],
                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).returncode == 0:
        mounts.append(WORK)
    elif os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        shm = WORK = fresh("/dev/shm/sluice-faults-%d" % os.getpid())
        print("# cases run in /dev/shm (mount not permitted)", flush=True)
    else:
        FAST = False
        print("# cases run in %s (no tmpfs: mount not permitted), where every fsync waits for the disk: "
              "the sweeps of every allocation are left out" % WORK, flush=True)
    try:
        run_all(a)
    finally:
        for m in mounts:
            subprocess.run(["umount", "-l", m], stderr=subprocess.DEVNULL)
        if shm:
            shutil.rmtree(shm, ignore_errors=True)
    print("%d passed, %d failed" % (len(PASSED), len(FAILED)))
    return 1 if FAILED else 0


def run_all(a):
    data = os.path.join(WORK, "data.h5")
    make_data(data, 3000, 3)
    ref_case = new_case("reference", data)
    state = {}

    def reference():
        p = sluice(ref_case)
        if p.returncode != 0:
            raise AssertionError("the clean run failed\n" + show(p))
        state["ref"] = snapshot(ref_case)
        if sorted(state["ref"]) != sorted(["work/%s.h5" % s for s in STAGES] + ["out/result.h5"]):
            raise AssertionError("the clean run made %s" % sorted(state["ref"]))
        count_case = new_case("count", data)
        state["calls"] = counted_run(count_case)
        again = counted_run(new_case("count2", data))
        if [c.key() for c in again] != [c.key() for c in state["calls"]]:
            raise AssertionError("two unarmed runs made different calls: the call numbers are not reproducible")
    report("reference run and call counts", reference)
    if "ref" not in state:
        return
    ref, calls = state["ref"], state["calls"]

    # --- single faults across a fresh run ---
    points = choose_points(calls)
    for c, label, e in points:
        name = "%s #%d %s [%s] %s" % (c.fn, c.n, e, label, c.path() or c.phase)

        def one(c=c, e=e, label=label):
            case = new_case("f_%s_%d" % (c.fn, c.n), data)
            run_case(case, c, label, "fresh run", ref, {"FAULT_FN": c.fn, "FAULT_N": c.n, "FAULT_ERRNO": e})
        report(name, one)

    # --- every allocation while one stage runs (fit: a model's system, results, arrays held whole) ---
    for fn in ALLOC if FAST else ():
        cs = [c for c in calls if c.fn == fn and c.phase == "writing work/fit.h5"]
        if cs:
            report("%s #%d..#%d ENOMEM [every call while fit runs]" % (fn, cs[0].n, cs[-1].n),
                   lambda cs=cs: sweep(cs, data, ref))

    # --- persistent failures: every call from one point on ---
    for fn, where in (("malloc", "writing work/normalize.h5"), ("pwrite", "writing work/fit.h5"),
                      ("fsync", "after work/clean.h5")):
        cs = [c for c in calls if c.fn == fn and c.phase == where]
        if not cs:
            continue
        c = cs[0]
        e = "ENOMEM" if fn in ALLOC else "ENOSPC" if fn == "pwrite" else "EIO"

        def rep(c=c, e=e):
            case = new_case("r_%s_%d" % (c.fn, c.n), data)
            run_case(case, c, "every call from here", "fresh run", ref,
                     {"FAULT_FN": c.fn, "FAULT_N": c.n, "FAULT_ERRNO": e, "FAULT_REPEAT": 1})
        report("%s #%d.. %s [every call from here] %s" % (c.fn, c.n, e, c.path() or c.phase), rep)

    # --- the committer thread: commits run beside the next stages ---
    async_tests(calls, data, ref)

    # --- H5Dwrite: the extendible writer is not used by any built-in op ---
    n_dwrite = len([c for c in calls if c.fn == "H5Dwrite"])
    RESULTS.append({"scenario": "fresh run", "fn": "H5Dwrite", "n": 0, "errno": "-", "caller": "-",
                    "point": "not called: every stage's rows have a bound, so uncompressed checkpoints are "
                             "written directly (pwrite); see the compressed run", "stage": "-", "exit": "-",
                    "outcome": "%d calls" % n_dwrite, "message": "-", "reused": "-"})

    # --- compressed checkpoints: rows go through H5Dwrite ---
    compressed_tests(data, ref)

    # --- a run resuming from a journal ---
    resume_tests(data, ref, calls)

    # --- a full disk ---
    report("full disk (2 MiB tmpfs)", full_disk)

    write_doc(a, calls)


def compressed_tests(data, ref):
    state = {}

    def count():
        case = new_case("z_count", data, PIPELINE_Z)
        p = sluice(case, args=("--dry-run",))
        if p.returncode != 0 and "compression" in p.stderr:
            print("skip compressed checkpoints: this sluice has no 'compression' setting\n" + p.stderr, flush=True)
            return "skip"
        state["calls"] = counted_run(case)
        if not [c for c in state["calls"] if c.fn == "H5Dwrite"]:
            raise AssertionError("a run with compressed checkpoints made no H5Dwrite call")
    report("compressed checkpoints: call counts", count)
    if "calls" not in state:
        return
    calls, want = state["calls"], []
    ck = lambda s: (lambda c: c.path() == "work/%s.h5.tmp" % s)
    pick(calls, want, "first", "H5Dwrite")
    for i, s in enumerate(("clean", "normalize", "fit")):
        pick(calls, want, "rows", "H5Dwrite", ck(s), which=i)
    pick(calls, want, "saved file", "H5Dwrite", lambda c: c.path() == "out/result.h5.tmp")
    pick(calls, want, "last", "H5Dwrite", which=-1)
    pick(calls, want, "compressed chunk", "pwrite", lambda c: ck("convert")(c) and c.caller.startswith("libhdf5"),
         which=3)
    pick(calls, want, "commit: close", "H5Fclose", ck("metrics"))
    for c, label in want:
        e = "EIO" if c.fn == "H5Fclose" else "ENOSPC"
        name = "compressed: %s #%d %s [%s] %s" % (c.fn, c.n, e, label, c.path() or c.phase)

        def one(c=c, e=e, label=label):
            case = new_case("z_%s_%d" % (c.fn, c.n), data, PIPELINE_Z)
            run_case(case, c, label, "compressed", ref, {"FAULT_FN": c.fn, "FAULT_N": c.n, "FAULT_ERRNO": e})
        report(name, one)


def resume_tests(data, ref, calls):
    state = {}

    def make_template():
        norm_writes = [c for c in calls if c.fn == "pwrite" and c.path() == "work/normalize.h5.tmp"
                       and c.caller.startswith("libsluice")]
        journal = [c for c in calls if c.fn == "rename" and c.path() == "work/normalize.h5.tmp.resume.tmp"]
        # killed in the pass that writes the output, after two journals of it
        journal = [j for j in journal if norm_writes and j.seq > norm_writes[0].seq]
        if len(journal) < 3:
            raise AssertionError("normalize saved %d journals while writing; the test needs 3" % len(journal))
        kill_at = [c for c in norm_writes if c.seq > journal[1].seq][0]
        tpl = new_case("resume_template", data)
        p = sluice(tpl, fault={"FAULT_FN": "pwrite", "FAULT_N": kill_at.n, "FAULT_KILL": 1})
        if p.returncode != -9:
            raise AssertionError("the run was to be killed at pwrite #%d\n%s" % (kill_at.n, show(p)))
        have = sorted(os.listdir(os.path.join(tpl, "work")))
        for f in ("load.h5", "clean.h5", "convert.h5", "normalize.h5.tmp", "normalize.h5.tmp.resume"):
            if f not in have:
                raise AssertionError("after the kill the workdir has %s, not %s" % (have, f))
        # how the resumed run goes
        probe = os.path.join(WORK, "resume_count")
        shutil.copytree(tpl, probe, copy_function=shutil.copy2)
        rcalls = counted_run(probe)
        # relative paths: the same in every copy
        resumed = [c for c in rcalls if c.fn == "pwrite" and c.path() == "work/normalize.h5.tmp"
                   and c.caller.startswith("libsluice")]
        if not resumed or len(resumed) >= len(norm_writes):
            raise AssertionError("the resumed run wrote %d chunk writes into normalize, a fresh run %d: "
                                 "it did not resume" % (len(resumed), len(norm_writes)))
        entries, _ = log_entries(probe)
        st = {e["stage"]: e["status"] for e in entries if e["pid"] == entries[-1]["pid"]}
        if [s for s in STAGES if st.get(s) == "reused"] != ["load", "clean", "convert"]:
            raise AssertionError("the resumed run's run.log: %s" % st)
        for rel in ref:
            same_file(snapshot(probe)[rel], ref[rel], rel)
        state.update(tpl=tpl, rcalls=rcalls, killed_at=kill_at, fresh_writes=len(norm_writes),
                     resumed_writes=len(resumed))
    report("resume: a run killed in normalize resumes from its journal", make_template)
    if "tpl" not in state:
        return
    rcalls = state["rcalls"]
    norm = lambda c: c.path() == "work/normalize.h5.tmp"
    want = []
    pick(rcalls, want, "reopen (HDF5)", "open", lambda c: norm(c) and c.caller.startswith("libhdf5"))
    pick(rcalls, want, "reopen (direct writes)", "open", lambda c: norm(c) and c.caller.startswith("libsluice"))
    pick(rcalls, want, "resumed chunk write", "pwrite", lambda c: norm(c) and c.caller.startswith("libsluice"))
    pick(rcalls, want, "journal", "rename", lambda c: c.path() == "work/normalize.h5.tmp.resume.tmp")
    pick(rcalls, want, "journal", "write", lambda c: c.path() == "work/normalize.h5.tmp.resume.tmp", which=-1)
    pick(rcalls, want, "commit sync", "fdatasync", norm, which=-1)
    pick(rcalls, want, "commit: close", "H5Fclose", norm)
    pick(rcalls, want, "commit: rename", "rename", norm)
    allocs = [c for c in rcalls if c.fn == "malloc" and c.phase.startswith("resuming ")]
    if allocs:
        want.append((allocs[len(allocs) // 2], "allocation"))
    for c, label in want:
        e = "ENOMEM" if c.fn in ALLOC else "EIO" if c.fn in ("fdatasync", "H5Fclose") else \
            "EACCES" if c.fn == "open" else "ENOSPC"
        name = "resume: %s #%d %s [%s] %s" % (c.fn, c.n, e, label, c.path() or c.phase)

        def one(c=c, e=e, label=label):
            case = os.path.join(WORK, "rs_%s_%d" % (c.fn, c.n))
            if os.path.exists(case):
                shutil.rmtree(case)
            shutil.copytree(state["tpl"], case, copy_function=shutil.copy2)
            run_case(case, c, label, "resume", ref, {"FAULT_FN": c.fn, "FAULT_N": c.n, "FAULT_ERRNO": e})
        report(name, one)
    state.pop("tpl")


def full_disk():
    data = os.path.join(WORK, "data_big.h5")
    make_data(data, 20000, 5)
    ref_case = new_case("full_reference", data)
    p = sluice(ref_case)
    if p.returncode != 0:
        raise AssertionError("the clean run failed\n" + show(p))
    ref = snapshot(ref_case)
    mnt = os.path.join(TMP, "full")
    if os.path.ismount(mnt):
        subprocess.run(["umount", "-l", mnt], stderr=subprocess.DEVNULL)
    fresh(mnt)
    m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if m.returncode != 0:
        print("skip full disk (2 MiB tmpfs): mount -t tmpfs is not permitted here (%s)"
              % (m.stdout.strip() or "exit %d" % m.returncode), flush=True)
        return "skip"
    try:
        with open(os.path.join(mnt, "p.yaml"), "w") as f:
            f.write(PIPELINE.format(data=data))
        p = subprocess.run([SLUICE, "run", "p.yaml", "-j1", "--progress", "never"], cwd=mnt,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=TIMEOUT,
                           env=dict(os.environ, LC_ALL="C"))
        if p.returncode != 3:
            raise AssertionError("expected exit 3 on a full disk, got " + show(p))
        lines = p.stderr.splitlines()
        if len(lines) != 1 or not lines[0].startswith("sluice: ") or "No space left on device" not in lines[0]:
            raise AssertionError("expected one line 'sluice: ... No space left on device'\n" + show(p))
        msg = relative(lines[0][8:], mnt)
        named = re.search(r"'(work|out)/[^']+'", msg)
        if not named:
            raise AssertionError("the message names no file in the workdir\n" + show(p))
        left = leftovers(mnt)
        if left:
            raise AssertionError("left behind on the full disk: %s" % left)
        done = committed(mnt)
        if "load" not in done:
            raise AssertionError("no checkpoint fit on the disk (%s); the test wants load to" % done)
        for rel, v in snapshot(mnt).items():
            same_file(v, ref[rel], rel)
        # more space: the rerun completes and reuses what was committed
        r = subprocess.run(["mount", "-o", "remount,size=64m", mnt], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise AssertionError("remount failed: " + r.stdout)
        offset = run_log_size(mnt)
        q = subprocess.run([SLUICE, "run", "p.yaml", "-j1", "--progress", "never"], cwd=mnt,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=TIMEOUT,
                           env=dict(os.environ, LC_ALL="C"))
        if q.returncode != 0:
            raise AssertionError("the rerun with space failed\n" + show(q))
        entries, _ = log_entries(mnt, offset)
        reused = [e["stage"] for e in entries if e["status"] == "reused"]
        if reused != done:
            raise AssertionError("the rerun reused %s; committed before: %s" % (reused, done))
        final = snapshot(mnt)
        if sorted(final) != sorted(ref):
            raise AssertionError("after the rerun: %s" % sorted(final))
        for rel in ref:
            same_file(final[rel], ref[rel], rel)
        stage = re.search(r"stage '([^']+)'", msg)
        RESULTS.append({"scenario": "full disk", "fn": "(tmpfs, 2 MiB)", "n": "-", "errno": "ENOSPC",
                        "caller": "-", "point": "20000 x 6 rows: %s fit, the next checkpoint does not"
                                                % ", ".join(done),
                        "stage": stage.group(1) if stage else "-", "exit": p.returncode,
                        "outcome": "exit 3", "message": msg,
                        "reused": ", ".join(reused) + " (after remounting with 64 MiB)"})
    finally:
        subprocess.run(["umount", "-l", mnt], stderr=subprocess.DEVNULL)


KEEP_MARKER = "<!-- written by hand below: test_faults.py keeps it -->"


def write_doc(a, calls):
    out = a.write_doc if a.write_doc and not FAILED and not SELECT else os.path.join(TMP, "faults.md")
    counts = {}
    for c in calls:
        counts.setdefault(c.fn, [0, set()])
        counts[c.fn][0] += 1
        counts[c.fn][1].add(c.caller.split(".so")[0])
    order = {"fresh run": 0, "async commits": 1, "compressed": 2, "resume": 3, "full disk": 4}
    rows = sorted(RESULTS, key=lambda r: (order[r["scenario"]],
                                          FN_ORDER.index(r["fn"]) if r["fn"] in FN_ORDER else 99,
                                          r["n"] if isinstance(r["n"], int) else 0, r["errno"]))
    points = set()
    for r in rows:
        if isinstance(r["n"], int) and r["n"] > 0:
            lo, hi = map(int, r.get("range", "%d-%d" % (r["n"], r["n"])).split("-"))
            points.update((r["scenario"], r["fn"], k) for k in range(lo, hi + 1))
    distinct = len(points)
    L = []
    L.append("# Injected faults")
    L.append("")
    L.append(textwrap.dedent("""\
        Generated by `tests/faults/test_faults.py` (meson suite `faults`); do not edit. Each row is one
        run of the pipeline below with one call made to fail by the LD_PRELOAD shim
        `tests/faults/faultshim.c`, then a rerun without it. For every row the test checked: the exit
        code (3 for I/O, 1 for memory; never a signal), one `sluice: ...` line on stderr naming the file
        and stage, no `*.tmp` or `*.resume` file left behind, every checkpoint left in the workdir equal
        (arrays and hashes) to a clean run's, and a rerun that completes, reuses exactly the stages
        committed before the fault (its run.log) and ends with every checkpoint and the saved file
        byte-equal to a clean run's. Rows marked *ok (...)* are calls whose failure the run absorbs by
        design, with the same checks of its results: the pid in the lock file is only for messages,
        a file only read is closed whatever HDF5 says, HDF5 probes for an existing file before
        creating one, a resume journal that cannot be read is not trusted (the stage starts over),
        and the few allocations absorbed are in code with a fallback (a leftover journal `.tmp` is
        left for the next run to remove, a checkpoint whose freshness cannot be checked is
        recomputed). A run.log line that cannot be written fails the run. See
        [errors.md](errors.md) for every message, and the end of this page for hostile files and
        signals.""").rstrip())
    L.append("")
    L.append("```yaml")
    L.append(PIPELINE.format(data="data.h5").rstrip())
    L.append("```")
    L.append("")
    L.append(textwrap.dedent("""\
        3000 rows x 6 features of float64 with 2 % NaN in X and 1 % in y (so `clean` drops rows and
        its checkpoint is shrunk at commit), `-j 1`, `SLUICE_RESUME_INTERVAL=0` (a resume journal after
        every batch of chunks), `SLUICE_COMMIT=inline` (each stage made durable before the next
        starts, so that the calls come in the same order in every run; the *async commits* rows run
        without it, with the committer thread, and fail whichever call comes at that number). Paths are relative to the run's folder. Call numbers count the calls
        of that function (from the caller named, for allocations only those made by libsluice)
        since the process started; they change with sluice's code and the HDF5 and C library versions."""))
    L.append("")
    L.append("Calls a clean run makes, by function:")
    L.append("")
    L.append("| function | calls | callers |")
    L.append("|---|---:|---|")
    for fn in FN_ORDER:
        n, callers = counts.get(fn, [0, set()])
        L.append("| %s | %d | %s |" % (fn, n, ", ".join(sorted(callers)) or "-"))
    L.append("")
    L.append("%d distinct failure points (calls failed), in %d rows." % (distinct, len(rows)))
    L.append("")
    for scen, title in (("fresh run", "A fresh run"), ("compressed", "Compressed checkpoints"),
                        ("resume", "A run resuming from a journal"), ("full disk", "A full disk")):
        rs = [r for r in rows if r["scenario"] == scen]
        if not rs:
            continue
        L.append("## " + title)
        L.append("")
        if scen == "resume":
            L.append(textwrap.dedent("""\
                The workdir of a run killed (SIGKILL, by the shim's `FAULT_KILL`) in `normalize`'s
                second pass (the one that writes rows), after two journals of that pass: `load`, `clean`
                and `convert` committed, `normalize.h5.tmp` and its journal present. The resumed run writes only the chunks after the journal's;
                each row fails one of its calls. A failure (unlike a kill) removes the temporary file
                and the journal, so the rerun computes `normalize` from the start."""))
            L.append("")
        if scen == "compressed":
            L.append(textwrap.dedent("""\
                The same pipeline with `compression: deflate`: compressed chunks have no fixed place in the
                file, so rows are written through HDF5 (`H5Dwrite`, which compresses and writes them), the
                datasets grow as rows arrive, and there is no resume journal. The checkpoints' values and
                hashes are the uncompressed run's."""))
            L.append("")
        if scen == "full disk":
            L.append(textwrap.dedent("""\
                The pipeline on 20000 rows, run in a 2 MiB tmpfs (`mount -t tmpfs -o size=2m`), then again
                after `mount -o remount,size=64m`. No shim: the kernel says ENOSPC."""))
            L.append("")
        L.append("| function | call | errno | caller | failure point | exit | message | the rerun reused |")
        L.append("|---|---:|---|---|---|---|---|---|")
        for r in rs:
            ex = r["outcome"] if r["exit"] == 0 else str(r["exit"])
            L.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["fn"], r.get("range", r["n"]), r["errno"], r["caller"], md(r["point"]), md(ex), md(r["message"]), md(r["reused"])))
        L.append("")
    # the hand-written part after the marker (hostile files and signals,
    # tests/hostile) is kept as it is
    kept = ""
    if os.path.exists(a.write_doc or ""):
        old = open(a.write_doc).read()
        if KEEP_MARKER in old:
            kept = old[old.index(KEEP_MARKER):]
    with open(out, "w") as f:
        f.write("\n".join(L))
        if kept:
            f.write("\n" + kept)
    print("# table of failure points written to %s" % out, flush=True)


if __name__ == "__main__":
    sys.exit(main())
