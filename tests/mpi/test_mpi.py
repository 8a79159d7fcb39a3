#!/usr/bin/python3
"""sluice-mpi under mpirun (issue 13): the shipped pipelines at 1 to 4 ranks and
1 and 2 threads a rank give checkpoints bitwise equal to a single-process run;
one rank's error is every rank's error, in bounded time; a run killed mid-way
resumes at another rank count to the same bits.

usage: /usr/bin/python3 tests/mpi/test_mpi.py --sluice-mpi PATH --gendata PATH --tmp DIR --source-root DIR
       [--sluice PATH]   (the serial build's sluice: also compared with, when given)
       [-k SUBSTRING ...]

The reference of every comparison is a run of the same pipeline by one
process without mpirun (the serial build's `sluice` when given, else
`sluice-mpi` started alone, which runs as a singleton). Checkpoints are
compared array by array, bit for bit (NaNs included), and by their recorded
hashes and results. No pytest: prints `ok NAME` / `FAIL NAME: why`, then
`N passed, M failed`.
"""
import argparse
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import traceback

import h5py
import numpy as np

SLUICE_MPI = SLUICE = GENDATA = TMP = SRC = None
TIMEOUT = 300
MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none"]


def tdir(name):
    d = os.path.join(TMP, name)
    if os.path.exists(d):
        shutil.rmtree(d)
    os.makedirs(d)
    return d


def env_for(threads=None):
    e = dict(os.environ, LC_ALL="C")
    e.pop("OMP_NUM_THREADS", None)
    # no progress line from any rank; a test reads exit codes and stderr
    return e


def show(p):
    return "exit %d\n--- stdout:\n%s--- stderr:\n%s" % (p.returncode, p.stdout, p.stderr)


def run_serial(d, yml, *args, binary=None, timeout=TIMEOUT):
    return subprocess.run([binary or SLUICE or SLUICE_MPI, "run", yml, "--progress", "never", *map(str, args)],
                          cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout,
                          env=env_for())


def run_mpi(d, yml, ranks, *args, timeout=TIMEOUT):
    return subprocess.run(MPIRUN + ["-np", str(ranks), SLUICE_MPI, "run", yml, "--progress", "never",
                                    *map(str, args)],
                          cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout,
                          env=env_for())


def expect_ok(p, what):
    if p.returncode != 0:
        raise AssertionError("%s failed: %s" % (what, show(p)))


def pipeline_copy(d, name, data=None, workdir="w"):
    """A shipped pipeline written into d with absolute data paths and workdir d/workdir."""
    with open(os.path.join(SRC, "pipelines", name)) as f:
        text = f.read()
    text = re.sub(r"(?m)^workdir: .*$", "workdir: " + workdir, text)
    text = text.replace("../datasets/", os.path.join(SRC, "datasets") + "/")
    if data:
        text = text.replace(os.path.join(SRC, "datasets", "synthetic.h5"), data)
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def set_workdir(yml, workdir):
    with open(yml) as f:
        text = f.read()
    text = re.sub(r"(?m)^workdir: .*$", "workdir: " + workdir, text)
    with open(yml, "w") as f:
        f.write(text)


def gendata(path, rows, features=16, seed=42):
    p = subprocess.run([GENDATA, path, "--rows", str(rows), "--features", str(features), "--seed", str(seed)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, "sluice-gendata failed: %s" % p.stderr
    return path


def exact(v):
    """A value that compares equal exactly when v does, bit for bit (NaNs too)."""
    if isinstance(v, np.ndarray):
        if v.dtype == object:
            return ("objects", v.shape, [x.decode() if isinstance(x, bytes) else x for x in v.ravel().tolist()])
        return (v.dtype.str, v.shape, v.tobytes())
    if isinstance(v, (float, np.floating)):
        return ("float", np.float64(v).tobytes())
    return v


def checkpoint_content(path):
    """{dataset or attribute: exact value} of a checkpoint."""
    out = {}
    with h5py.File(path, "r") as f:
        for k, v in f.attrs.items():
            # when and by which process, and the identity (path, size, mtime) of a file a sink wrote
            if k in ("sluice_created", "sluice_seconds", "sluice_pid", "sluice_outputs"):
                continue
            out["@" + k] = exact(v)
        for name, ds in f.items():
            out[name] = exact(ds[...])
            for k, v in ds.attrs.items():
                out[name + "@" + k] = exact(v)
    return out


def expect_same_workdir(got_wd, ref_wd, what):
    ref = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ref_wd, "*.h5")))
    got = sorted(os.path.basename(p) for p in glob.glob(os.path.join(got_wd, "*.h5")))
    if got != ref:
        raise AssertionError("%s: checkpoints %s, the single-process run made %s" % (what, got, ref))
    for name in ref:
        a, b = checkpoint_content(os.path.join(got_wd, name)), checkpoint_content(os.path.join(ref_wd, name))
        if a.keys() != b.keys():
            raise AssertionError("%s: %s holds %s, the single-process run's %s" % (what, name, sorted(a), sorted(b)))
        for k in a:
            if a[k] != b[k]:
                raise AssertionError("%s: %s differs from the single-process run's in %r" % (what, name, k))
    left = [n for n in os.listdir(got_wd) if ".tmp" in n]
    if left:
        raise AssertionError("%s: temporary files left: %s" % (what, left))


_DATA = {}


def synthetic(rows):
    if rows not in _DATA:
        d = os.path.join(TMP, "data")
        os.makedirs(d, exist_ok=True)
        _DATA[rows] = gendata(os.path.join(d, "synthetic_%d.h5" % rows), rows)
    return _DATA[rows]


def sweep(name, yml, d, ranks=(1, 2, 3, 4), threads=(1, 2), extra=()):
    """Runs yml once alone (the reference), then under mpirun at every rank and
    thread count, each into a workdir of its own, and compares."""
    set_workdir(yml, "ref")
    expect_ok(run_serial(d, yml, "-j", 2, *extra), "%s: the single-process run" % name)
    if SLUICE and SLUICE != SLUICE_MPI:
        set_workdir(yml, "ref_mpi_binary")
        expect_ok(run_serial(d, yml, "-j", 2, *extra, binary=SLUICE_MPI), "%s: sluice-mpi alone" % name)
        expect_same_workdir(os.path.join(d, "ref_mpi_binary"), os.path.join(d, "ref"),
                            "%s: sluice-mpi alone against sluice" % name)
    for p in ranks:
        for t in threads:
            wd = "w_%d_%d" % (p, t)
            set_workdir(yml, wd)
            expect_ok(run_mpi(d, yml, p, "-j", t, *extra), "%s at %d ranks x %d threads" % (name, p, t))
            expect_same_workdir(os.path.join(d, wd), os.path.join(d, "ref"),
                                "%s at %d ranks x %d threads" % (name, p, t))


# ---------------------------------------------------------------------------

def test_regression_any_ranks_any_threads_same_bits():
    """pipelines/regression.yaml (clean with float32 sums, convert, z-score, least
    squares, 100 epochs of GD, two metrics) on 100k rows in chunks of 4096 (25
    chunks): every checkpoint at 1-4 ranks x 1-2 threads equals the
    single-process run's, bit for bit."""
    d = tdir("regression")
    yml = pipeline_copy(d, "regression.yaml", data=synthetic(100_000))
    sweep("regression", yml, d, extra=("--chunk-rows", 4096))


def test_regression_streamed_same_bits():
    """The same with `checkpoint: final` (every intermediate streamed into the passes
    that read it): the fits' passes read the source, split over the ranks."""
    d = tdir("regression_final")
    yml = pipeline_copy(d, "regression.yaml", data=synthetic(100_000))
    with open(yml) as f:
        text = f.read()
    with open(yml, "w") as f:
        f.write(text.replace("stages:", "checkpoint: final\nstages:", 1))
    sweep("regression (checkpoint: final)", yml, d, ranks=(1, 2, 4), extra=("--chunk-rows", 4096))


def test_logreg_sampled_passes_same_bits():
    """logreg by Newton on 200,000 rows in 64-row chunks: its warm start's passes
    visit every 256th, then every 16th chunk (a sample the ranks split like any
    pass), the classes pass reads the target alone, the binary model's last step
    is certified. Binary and softmax models and their accuracy at 1-3 ranks x 1-2
    threads equal the single-process run's, bit for bit."""
    d = tdir("logreg_sampled")
    rng = np.random.default_rng(11)
    X = rng.normal(size=(200_000, 3))
    z = X @ np.array([1.0, -2.0, 0.5]) + 0.25
    y = (rng.random(len(X)) < 1 / (1 + np.exp(-z))).astype(np.int64)
    y3 = np.where(X[:, 2] > 1.0, 2, y)
    data = os.path.join(d, "c.h5")
    with h5py.File(data, "w") as f:
        f["X"], f["y"], f["y3"] = X, y, y3
    yml = os.path.join(d, "logreg.yaml")
    with open(yml, "w") as f:
        f.write("pipeline: logreg-ranks\nworkdir: w\ncheckpoint: final\nstages:\n"
                "  d:  { op: load.hdf5, file: %s, arrays: { X: /X, y: /y } }\n"
                "  d3: { op: load.hdf5, file: %s, arrays: { X: /X, y: /y3 } }\n"
                "  bin:  { op: logreg, input: d, l2: 1 }\n"
                "  soft: { op: logreg, input: d3, l2: 1 }\n"
                "  acc:  { op: metrics, model: bin, data: d, metrics: [accuracy] }\n" % (data, data))
    sweep("logreg (sampled passes)", yml, d, ranks=(1, 2, 3), extra=("--chunk-rows", 64))


def test_example_and_lesson_same_bits():
    """The shipped example (diabetes) and lesson pipelines at 1-4 ranks: fewer
    chunks than ranks (the lesson has 4 rows: 3 ranks get none)."""
    for name in ("example.yaml", "lesson.yaml"):
        d = tdir(name.split(".")[0])
        yml = pipeline_copy(d, name)
        sweep(name, yml, d, threads=(1,))


def test_bad_value_in_one_ranks_rows_fails_every_rank():
    """A value that convert cannot cast (300 into int8) in the last chunk, which the
    last rank computes: every rank stops, one `sluice:` line names the stage and
    the row, the exit code is the single-process run's, within the timeout."""
    d = tdir("bad_value")
    rows = 4 * 1024
    x = np.ones((rows, 2))
    x[rows - 5, 1] = 300.0
    with h5py.File(os.path.join(d, "data.h5"), "w") as f:
        f["X"] = x
    yml = os.path.join(d, "p.yaml")
    with open(yml, "w") as f:
        f.write("pipeline: bad\nworkdir: ref\nchunk_rows: 1024\nstages:\n"
                "  load: { op: load.hdf5, file: data.h5, arrays: { X: /X } }\n"
                "  small: { op: convert, input: load, dtype: int8 }\n")
    ref = run_serial(d, yml, "-j", 1)
    assert ref.returncode == 1, "the single-process run should fail: %s" % show(ref)
    for p in (2, 4):
        set_workdir(yml, "w%d" % p)
        t0 = time.time()
        got = run_mpi(d, yml, p, "-j", 1, timeout=120)
        assert got.returncode == ref.returncode, "at %d ranks: %s" % (p, show(got))
        lines = [l for l in got.stderr.splitlines() if l.startswith("sluice: ")]
        ref_line = ref.stderr.splitlines()[0]
        assert lines == [ref_line], "at %d ranks, stderr should be the single-process run's one line %r:\n%s" % (
            p, ref_line, show(got))
        assert time.time() - t0 < 60
        left = [n for n in os.listdir(os.path.join(d, "w%d" % p)) if ".tmp" in n]
        assert not left, "temporary files left at %d ranks: %s" % (p, left)


def test_in_memory_run_is_refused_over_ranks():
    """workdir ":memory:" keeps outputs in one process's memory: over ranks it is
    refused before any stage runs, with one line saying what to do; on one rank
    it runs and writes nothing."""
    d = tdir("memory")
    yml = pipeline_copy(d, "lesson.yaml")
    got = run_mpi(d, yml, 2, "--workdir", ":memory:", timeout=120)
    assert got.returncode == 2, show(got)
    lines = [l for l in got.stderr.splitlines() if l.startswith("sluice: ")]
    assert lines == ['sluice: an in-memory run (workdir ":memory:") cannot be split over 2 MPI ranks: give it a '
                     'workdir, or run it on one rank'], show(got)
    one = run_mpi(d, yml, 1, "--workdir", ":memory:", timeout=120)
    expect_ok(one, "an in-memory run on one rank")
    assert not os.path.exists(os.path.join(d, "w")), os.listdir(d)


def test_killed_rank_then_other_rank_count_same_bits():
    """One rank of a 3-rank run SIGKILLed while a stage runs (mpirun then ends the
    job); the rerun at 2 ranks reuses what was committed and ends with the
    single-process run's checkpoints."""
    d = tdir("kill")
    yml = pipeline_copy(d, "regression.yaml", data=synthetic(3_000_000))
    set_workdir(yml, "ref")
    expect_ok(run_serial(d, yml, "-j", 1, "--chunk-rows", 4096), "the single-process run")
    set_workdir(yml, "w")
    p = subprocess.Popen(MPIRUN + ["-np", "3", SLUICE_MPI, "run", yml, "-j", "1", "--chunk-rows", "4096",
                                   "--progress", "never"],
                         cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_for())
    killed = None
    deadline = time.time() + 120
    wd = os.path.join(d, "w")
    while p.poll() is None and time.time() < deadline and killed is None:
        # once the first stage that writes rows is committed, inside the next, kill the last rank
        if os.path.exists(os.path.join(wd, "clean.h5")) and os.path.exists(os.path.join(wd, "convert.h5.tmp")):
            out = subprocess.run(["pgrep", "-P", str(p.pid), "-x", "sluice-mpi"], stdout=subprocess.PIPE, text=True)
            pids = sorted(int(x) for x in out.stdout.split())
            if len(pids) == 3:
                killed = pids[-1]
                os.kill(killed, signal.SIGKILL)
        time.sleep(0.005)
    try:
        p.wait(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise AssertionError("mpirun did not end after a rank was killed")
    p.stdout.close()
    p.stderr.close()
    if killed is None:
        raise AssertionError("the run ended before a rank could be killed (exit %s)" % p.returncode)
    assert p.returncode != 0, "mpirun succeeded although a rank was killed"
    expect_ok(run_mpi(d, yml, 2, "-j", 1, "--chunk-rows", 4096), "the rerun at 2 ranks")
    expect_same_workdir(wd, os.path.join(d, "ref"), "after a kill and a rerun at another rank count")


def test_slurm_job_of_two_tasks_runs_two_ranks():
    """`sluice-mpi submit --ntasks-per-node 2` on a real one-node Slurm (the
    slurm suite's tests/slurm/cluster.py): the job script runs
    `mpirun -np $SLURM_NTASKS sluice-mpi run`, run.log says 2 ranks, and every
    checkpoint equals the single-process run's."""
    sys.path.insert(0, os.path.join(SRC, "tests", "slurm"))
    import cluster  # noqa: E402 -- the slurm suite's one-node Slurm
    d = tdir("slurm_two_tasks")
    yml = pipeline_copy(d, "regression.yaml", data=synthetic(100_000))
    wd = os.path.join(d, "w")
    set_workdir(yml, wd)
    try:
        c = cluster.Cluster(os.path.join(TMP, "slurm-cluster"))
        c.__enter__()
    except cluster.ClusterError as e:
        raise AssertionError("could not start a one-node Slurm (scripts/bootstrap installs slurm-wlm and munge): %s"
                             % e)
    try:
        # OpenMPI refuses root unless told: the job runs as root here
        env = dict(env_for(), **c.env, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
        p = subprocess.run([SLUICE_MPI, "submit", yml, "--ntasks-per-node", "2", "--cpus-per-task", "1", "--time",
                            "10"], cwd=d, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=60)
        expect_ok(p, "sluice-mpi submit")
        m = re.search(r"job (\d+)", p.stdout)
        assert m, "no job id in submit's output:\n" + show(p)
        job = m.group(1)
        deadline = time.time() + 240
        while True:
            q = subprocess.run(["scontrol", "-o", "show", "job", job], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env, timeout=30)
            state = re.search(r"\bJobState=(\S+)", q.stdout)
            state = state.group(1) if state else "?"
            code = re.search(r"\bExitCode=(\S+)", q.stdout)
            if state in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"):
                break
            if time.time() > deadline:
                raise AssertionError("job %s still %s after 240 s" % (job, state))
            time.sleep(0.5)
        logs = "".join(open(f).read() for f in sorted(glob.glob(os.path.join(wd, "slurm", "*.out")) +
                                                       glob.glob(os.path.join(wd, "slurm", "*.err"))))
        assert state == "COMPLETED", "job %s ended %s (exit %s):\n%s" % (job, state, code and code.group(1), logs)
        with open(glob.glob(os.path.join(wd, "slurm", "*.sbatch"))[0]) as f:
            script = f.read()
        assert "mpirun -np \"$SLURM_NTASKS\"" in script and "sluice-mpi run" in script, script
    finally:
        c.__exit__(None, None, None)
    import json
    with open(os.path.join(wd, "run.log")) as f:
        ranks = {json.loads(line).get("ranks") for line in f if line.strip()}
    assert ranks == {2}, "run.log's ranks: %s (the job did not run 2 ranks)" % ranks
    set_workdir(yml, "ref")
    expect_ok(run_serial(d, yml, "-j", 1), "the single-process run")
    expect_same_workdir(wd, os.path.join(d, "ref"), "a Slurm job of 2 tasks")


def main():
    global SLUICE_MPI, SLUICE, GENDATA, TMP, SRC
    ap = argparse.ArgumentParser()
    ap.add_argument("--sluice-mpi", required=True)
    ap.add_argument("--sluice")
    ap.add_argument("--gendata", required=True)
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--source-root", required=True)
    ap.add_argument("-k", action="append", default=[])
    a = ap.parse_args()
    SLUICE_MPI, GENDATA = os.path.abspath(a.sluice_mpi), os.path.abspath(a.gendata)
    SLUICE = os.path.abspath(a.sluice) if a.sluice else os.environ.get("SLUICE_SERIAL")
    TMP, SRC = os.path.abspath(a.tmp), os.path.abspath(a.source_root)
    os.makedirs(TMP, exist_ok=True)
    if shutil.which("mpirun") is None:
        print("FAIL setup: mpirun is not installed (scripts/bootstrap installs openmpi-bin)")
        print("0 passed, 1 failed")
        return 1
    tests = [(n, f) for n, f in globals().items() if n.startswith("test_") and callable(f)]
    if a.k:
        tests = [(n, f) for n, f in tests if any(k in n for k in a.k)]
    passed = failed = 0
    for name, fn in tests:
        t0 = time.time()
        try:
            fn()
        except Exception as e:  # noqa: BLE001 -- report every failure and go on
            failed += 1
            msg = str(e) if isinstance(e, AssertionError) else traceback.format_exc()
            print("FAIL %s: %s" % (name, msg), flush=True)
            continue
        passed += 1
        print("ok %s (%.1f s)" % (name, time.time() - t0), flush=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
