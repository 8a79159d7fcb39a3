#!/usr/bin/python3
"""Hostile-input tests: signals, the scheduler's depth, threads, advice (issue 14).
See common.py for how they run."""
import fcntl
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import h5py
import numpy as np

import common
from common import Skip, expect, expect_ok, h5, read_array, sluice, tdir, write  # noqa: F401


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


# ---------------------------------------------------------------------------
# item 11: SIGINT, SIGTERM, SIGPIPE
# ---------------------------------------------------------------------------

STAGES = ["load", "clean", "convert", "normalize", "lstsq", "gd", "evaluate", "evaluate_gd"]
ROWS = 1000000  # convert and normalize take about a second each here: room to land a signal inside
SHARED = {}


def regression(d, data, wd):
    """pipelines/regression.yaml on `data`, with its checkpoints in `wd`."""
    with open(os.path.join(common.SRC, "pipelines", "regression.yaml")) as f:
        text = f.read()
    text = text.replace("file: ../datasets/synthetic.h5", "file: " + data)
    text = text.replace("workdir: ../runs/regression", "workdir: " + wd)
    return write(d, text)


def reference():
    """(data file, workdir of an uninterrupted run, its run.log) made once."""
    if not SHARED:
        d = tdir("signals_ref")
        data = os.path.join(d, "data.h5")
        g = subprocess.run([common.GENDATA, data, "--rows", str(ROWS), "--features", "16", "--seed", "7"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
        assert g.returncode == 0, g.stderr
        wd = os.path.join(d, "wd")
        expect_ok(sluice(d, "run", regression(d, data, wd), "-j", "2", timeout=240))
        SHARED.update(data=data, wd=wd, log=run_log(wd))
    return SHARED["data"], SHARED["wd"], SHARED["log"]


def run_log(wd):
    with open(os.path.join(wd, "run.log")) as f:
        return [json.loads(line) for line in f]


def expect_same_checkpoints(wd, ref):
    """Every stage's checkpoint holds the reference run's arrays and output hash."""
    for st in STAGES:
        with h5py.File(os.path.join(wd, st + ".h5"), "r") as a, h5py.File(os.path.join(ref, st + ".h5"), "r") as b:
            assert sorted(a.keys()) == sorted(b.keys()), (st, list(a.keys()), list(b.keys()))
            for k in b.keys():
                assert np.array_equal(a[k][...], b[k][...], equal_nan=True), "%s/%s differs" % (st, k)
            assert a.attrs["sluice_output_hash"] == b.attrs["sluice_output_hash"], st


def workdir_files(wd):
    return set(os.listdir(wd))


def start(args, env=None):
    e = dict(os.environ, LC_ALL="C", SLUICE_RESUME_INTERVAL="0.05")
    e.pop("OMP_NUM_THREADS", None)
    e.update(env or {})
    return subprocess.Popen([common.SLUICE, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=e)


def stop_inside(proc, path, sig):
    """Sends sig once `path` (a stage's resume journal) exists: the stage is
    part-way through, with rows written and journalled."""
    deadline = time.time() + 120
    while not os.path.exists(path):
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError("the run ended (exit %s) before %s appeared\n%s%s" % (proc.returncode, path, out, err))
        time.sleep(0.005)
    proc.send_signal(sig)
    try:
        return proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError("the run did not stop within 120 s of %s" % signal.Signals(sig).name)


def interrupt_and_resume(name, sig, stage, committed):
    """A run of the reference pipeline stopped by sig inside `stage`: exit
    128 + sig, one line saying what is kept, run.log's "interrupted" line, no
    temporary file but the stage's checkpoint and journal; then a run that
    resumes the stage (it reads less than a whole run of it) and ends with
    the checkpoints of an uninterrupted run."""
    data, ref, ref_log = reference()
    d = tdir(name)
    wd = os.path.join(d, "wd")
    p = regression(d, data, wd)
    # one thread: the stage lasts long enough for the signal to land inside it (the
    # values do not depend on the thread count; the reference ran with two)
    proc = start(["run", p, "-j", "1"])
    out, err = stop_inside(proc, os.path.join(wd, stage + ".h5.tmp.resume"), sig)
    signame = signal.Signals(sig).name
    shown = "exit %s\n--- stdout:\n%s--- stderr:\n%s" % (proc.returncode, out, err)
    assert proc.returncode == 128 + sig, "expected exit %d\n%s" % (128 + sig, shown)
    lines = err.splitlines()
    assert lines == ["sluice: interrupted by %s: %d stages committed to %s, '%s' will resume where it stopped; "
                     "run again to continue" % (signame, committed, wd, stage)], shown
    last = [e for e in run_log(wd) if e["stage"] == stage][-1]
    assert last["status"] == "interrupted" and "the run was interrupted" in last["error"], last
    kept = {".sluice.lock", "run.log", "sluice.manifest", stage + ".h5.tmp", stage + ".h5.tmp.resume"}
    kept |= {s + ".h5" for s in STAGES[:STAGES.index(stage)]}
    assert workdir_files(wd) == kept, sorted(workdir_files(wd))
    # the next run resumes the stage where it stopped
    expect_ok(sluice(d, "run", p, "-j", "2", timeout=240))
    rerun = [e for e in run_log(wd) if e["stage"] == stage][-1]
    full = [e for e in ref_log if e["stage"] == stage][-1]
    assert rerun["status"] == "ran" and rerun["bytes_read"] < full["bytes_read"], (
        "the rerun read %d bytes for %s, an uninterrupted run %d: it restarted instead of resuming" % (
            rerun["bytes_read"], stage, full["bytes_read"]))
    expect_same_checkpoints(wd, ref)
    assert workdir_files(wd) == {".sluice.lock", "run.log", "sluice.manifest"} | {s + ".h5" for s in STAGES}, \
        sorted(workdir_files(wd))


def test_sigint_inside_a_stage_keeps_its_work():
    """Item 11: SIGINT killed the run with no message, no run.log line, and a
    next run started the stage over."""
    interrupt_and_resume("sigint", signal.SIGINT, "convert", 2)


def test_sigterm_inside_a_stage_keeps_its_work():
    """Item 11: the same for SIGTERM, inside normalize (a fit pass, then the
    pass that writes)."""
    interrupt_and_resume("sigterm", signal.SIGTERM, "normalize", 3)


def test_stdout_reader_gone_run_completes():
    """Item 11: `sluice run p.yaml | head -1`: the second line written killed
    sluice with SIGPIPE mid-run. Now the run goes on to the end, silently on
    stdout, and its checkpoints are those of a run that printed everything."""
    data, ref, _ = reference()
    d = tdir("sigpipe")
    wd = os.path.join(d, "wd")
    proc = start(["run", regression(d, data, wd), "-j", "2"])
    first = proc.stdout.readline()
    proc.stdout.close()  # what head does after its line
    try:
        err = proc.stderr.read()
        proc.wait(timeout=240)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    assert first.startswith("load "), first
    # the reference pipeline's gradient descent stops short of its tolerance and says so
    err = "".join(l for l in err.splitlines(True) if not l.startswith("warning: stage 'gd': the model did not converge"))
    assert proc.returncode == 0 and err == "", "exit %s, stderr:\n%s" % (proc.returncode, err)
    assert [e["status"] for e in run_log(wd)] == ["ran"] * len(STAGES), run_log(wd)
    expect_same_checkpoints(wd, ref)
    assert workdir_files(wd) == {".sluice.lock", "run.log", "sluice.manifest"} | {s + ".h5" for s in STAGES}, \
        sorted(workdir_files(wd))


def test_sigint_inside_save_removes_its_temporary_file():
    """Item 11: a stage that cannot resume (save.hdf5 writes the user's file,
    not its checkpoint) stopped by SIGINT leaves no temporary file: neither
    <file>.tmp nor its own <stage>.h5.tmp or journal; the user's earlier file
    is untouched, and the next run writes the file whole."""
    data, _, _ = reference()
    d = tdir("sigint_save")
    wd = os.path.join(d, "wd")
    out = os.path.join(d, "out.h5")
    with h5py.File(out, "w") as f:
        f["old"] = np.arange(3.0)
    p = write(d, """
        pipeline: saves
        workdir: wd
        stages:
          load: { op: load.hdf5, file: %s, arrays: { X: /X, y: /y } }
          conv: { op: convert, input: load, dtype: float64 }
          save: { op: save.hdf5, input: conv, file: out.h5, overwrite: true }
        """ % data)
    proc = start(["run", p, "-j", "1"])
    o, e = stop_inside(proc, out + ".tmp", signal.SIGINT)
    assert proc.returncode == 130, "exit %s\n%s%s" % (proc.returncode, o, e)
    assert e.splitlines() == ["sluice: interrupted by SIGINT: 2 stages committed to %s; run again to continue" % wd], e
    assert sorted(os.listdir(d)) == ["out.h5", "p.yaml", "wd"], sorted(os.listdir(d))
    assert sorted(os.listdir(wd)) == [".sluice.lock", "conv.h5", "load.h5", "run.log", "sluice.manifest"], \
        sorted(os.listdir(wd))
    assert list(h5py.File(out, "r").keys()) == ["old"]
    assert [x["status"] for x in run_log(wd) if x["stage"] == "save"] == ["interrupted"], run_log(wd)
    expect_ok(sluice(d, "run", p))
    with h5py.File(out, "r") as f, h5py.File(data, "r") as src:
        assert np.array_equal(f["X"][...], src["X"][...].astype(np.float64), equal_nan=True)


def small_run_waiting_for_lock(name):
    """A small pipeline whose workdir's lock this test holds, and a
    `run --wait` started on it: (folder, workdir, the lock's file, the run)."""
    d = tdir(name)
    h5(d, rows=1000, cols=3)
    p = write(d, """
        pipeline: waits
        workdir: wd
        stages:
          load: { op: load.hdf5, file: data.h5, arrays: { X: /X, y: /y } }
          conv: { op: convert, input: load, dtype: float32 }
        """)
    wd = os.path.join(d, "wd")
    os.makedirs(wd)
    lock = open(os.path.join(wd, ".sluice.lock"), "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    proc = start(["run", p, "--wait", "-j", "2"])
    time.sleep(0.5)  # loads the pipeline and waits for the lock
    assert proc.poll() is None, "the run did not wait for the lock: exit %s %s" % (proc.returncode,
                                                                                 proc.communicate())
    return d, wd, lock, proc


def test_signal_before_any_stage_starts():
    """Item 11: a SIGINT while the run waits (--wait) for another run's
    workdir: it stops waiting at once, starts no stage, says so and exits 130
    (before, the signal killed it), while the other run still holds the
    workdir."""
    d, wd, lock, proc = small_run_waiting_for_lock("sig_waiting")
    try:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        lock.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, "exit %s\n%s%s" % (proc.returncode, out, err)
    assert err.splitlines() == ["sluice: interrupted by SIGINT: 0 stages committed to %s; run again to continue" % wd], err
    assert sorted(os.listdir(wd)) == [".sluice.lock"], os.listdir(wd)
    expect_ok(sluice(d, "run", "p.yaml"))


def test_second_signal_ends_the_run_at_once():
    """Item 11: the first signal asks the run to stop at its next chunk; a
    second one must end it at once, whatever it is doing (here: waiting for
    the workdir), by the signal's default action."""
    d, wd, lock, proc = small_run_waiting_for_lock("sig_twice")
    try:
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        first = proc.poll()
        assert first in (None, 143), "the first SIGTERM ended the run with %s: %s" % (first, proc.communicate())
        if first is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=10)
            assert proc.returncode == -signal.SIGINT, "after a second signal: exit %s" % proc.returncode
    finally:
        lock.close()
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert sorted(os.listdir(wd)) == [".sluice.lock"], os.listdir(wd)


# ---------------------------------------------------------------------------
# item 12: a process limit that does not leave room for the threads
# ---------------------------------------------------------------------------

NOBODY = 65534


def as_nobody(d, nproc, *args):
    """sluice run as user nobody (RLIMIT_NPROC is not enforced for root) with
    at most nproc processes and threads of that user."""
    cmd = ["prlimit", "--nproc=%d" % nproc, "setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
           "--clear-groups", common.SLUICE, *args]
    e = dict(os.environ, LC_ALL="C")
    e.pop("OMP_NUM_THREADS", None)
    return subprocess.run(cmd, cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120, env=e)


def test_thread_limit_is_a_sluice_error():
    """Item 12: with a process limit (ulimit -u) too low for the threads of
    -j 4, the run ended inside libgomp ("libgomp: Thread creation failed"),
    with no sluice error. Now it fails before any stage runs, saying how many
    threads it needs, the limit, and the -j that fits; that -j then runs, with
    the numbers of an unlimited run."""
    if os.geteuid() != 0:
        raise Skip("needs root, to run sluice as user nobody under a process limit")
    if not (shutil.which("prlimit") and shutil.which("setpriv")):
        raise Skip("needs prlimit and setpriv (util-linux)")
    d = tempfile.mkdtemp(prefix="sluice-nproc-")  # in /tmp: a folder user nobody can reach and write
    try:
        os.chmod(d, 0o777)
        h5(d, rows=100000, cols=4)  # 13 chunks: the stages take OpenMP teams
        write(d, """
            pipeline: limited
            workdir: wd
            stages:
              load: { op: load.hdf5, file: data.h5, arrays: { X: /X, y: /y } }
              conv: { op: convert, input: load, dtype: float64 }
              norm: { op: normalize, input: conv, arrays: [X] }
              fit: { op: linreg, input: norm }
            """)
        probe = as_nobody(d, 64, "version")
        if probe.returncode != 0:
            raise Skip("cannot run sluice as user nobody here: %s" % probe.stderr.strip())
        msg = expect(as_nobody(d, 4, "run", "p.yaml", "-j", "4"), 3,
                     "cannot start the 8 threads a run with 4 threads needs: only ", "could be started",
                     "ulimit -u, is 4", "run with -j ", "or raise the limit")
        assert not os.path.exists(os.path.join(d, "wd")), "a stage ran before the error: %s" % os.listdir(d)
        j = msg.split("run with -j ", 1)[1].split(" ", 1)[0]
        assert 1 <= int(j) < 4, msg
        expect_ok(as_nobody(d, 4, "run", "p.yaml", "-j", j))
        expect_ok(sluice(d, "run", "p.yaml", "-j", "4", "--workdir", "free"))
        for st, arrays in (("norm", ["X", "y"]), ("fit", ["coef", "intercept"])):
            for a in arrays:
                got = read_array(os.path.join(d, "wd", st + ".h5"), a)
                want = read_array(os.path.join(d, "free", st + ".h5"), a)
                assert np.array_equal(got, want), "%s/%s differs from an unlimited run" % (st, a)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    common.main(globals())
