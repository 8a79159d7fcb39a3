#!/usr/bin/python3
"""sluice submit and the job states of sluice status, on a real one-node Slurm.

usage: /usr/bin/python3 tests/slurm/test_slurm.py --sluice PATH --tmp DIR --source-root DIR
       [-k SUBSTRING ...]   (run only the tests whose name contains one of the substrings)

The tests that need no Slurm (--print, bad input) run first. Then cluster.py
starts munged, slurmctld and slurmd as root (as CI runs), the tests submit real
jobs, wait for them (bounded) and read the results back with h5py; the daemons
are stopped at the end, on failure too. They run twice: without an accounting
database (sacct fails: status's squeue/scontrol fallback answers) and with
slurmdbd on a MariaDB of its own (sacct answers). Slurm that cannot start here
is a failure, never a skip: CI is root on the same kind of machine.

No pytest: prints `ok NAME` or `FAIL NAME: why`, then `N passed, M failed`.
"""
import argparse
import fcntl
import glob
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Cluster  # noqa: E402

SLUICE = TMP = SRC = None
CLUSTER = None
TIMEOUT = 60
JOB_WAIT = 180  # seconds a test waits for its jobs to end
ENDED = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE",
         "PREEMPTED")


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def tdir(name):
    d = os.path.join(TMP, name)
    if os.path.exists(d):
        shutil.rmtree(d)
    os.makedirs(d)
    return d


def write(d, text, name="p.yaml"):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(textwrap.dedent(text).lstrip("\n"))
    return path


def data(d, nan_at=None, rows=3000):
    """data.h5 (X rows x 4, y) and other.h5 (X 500 x 3); a NaN in X at nan_at."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(rows, 4))
    y = X @ np.array([1.0, 2.0, 3.0, 4.0]) + 0.1 * rng.normal(size=rows)
    if nan_at:
        X[nan_at] = np.nan
    with h5py.File(os.path.join(d, "data.h5"), "w") as f:
        f["X"] = X
        f["y"] = y
    with h5py.File(os.path.join(d, "other.h5"), "w") as f:
        f["X"] = rng.normal(size=(500, 3))


def env():
    e = dict(CLUSTER.env if CLUSTER else os.environ, LC_ALL="C")
    e.pop("OMP_NUM_THREADS", None)
    return e


def sluice(*args, cwd=None, extra_env=None):
    e = env()
    if extra_env:
        e.update(extra_env)
    return subprocess.run([SLUICE, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=TIMEOUT, cwd=cwd, env=e)


def show(p):
    return "exit %d\n--- stdout:\n%s--- stderr:\n%s" % (p.returncode, p.stdout, p.stderr)


def expect_rc(p, code):
    if p.returncode != code:
        raise AssertionError("expected exit %d, got %s" % (code, show(p)))
    return p


def expect_error(p, code, *needles, usage=False):
    """Exit code and one `sluice: ...` line (plus the usage hint) holding every needle."""
    expect_rc(p, code)
    lines = p.stderr.splitlines()
    if len(lines) != (2 if usage else 1) or not lines[0].startswith("sluice: "):
        raise AssertionError("expected %d line(s) on stderr, the first 'sluice: ...'\n%s" % (2 if usage else 1,
                                                                                          show(p)))
    for n in needles:
        if n not in lines[0]:
            raise AssertionError("expected %r in the message\n%s" % (n, show(p)))


def contains(text, *needles):
    for n in needles:
        if n not in text:
            raise AssertionError("expected %r in:\n%s" % (n, text))


def not_contains(text, *needles):
    for n in needles:
        if n in text:
            raise AssertionError("did not expect %r in:\n%s" % (n, text))


def submitted(p):
    """{stage or '(all stages)': job id} from submit's output."""
    jobs = {}
    for line in p.stdout.splitlines():
        m = re.match(r"^(\S+(?: stages\))?)\s+job (\d+)", line)
        if m:
            jobs[m.group(1)] = m.group(2)
    if not jobs:
        raise AssertionError("no job ids in submit's output\n" + show(p))
    return jobs


def job_state(job):
    """(state, exit code) as the controller has it (no accounting database here)."""
    p = subprocess.run(["scontrol", "-o", "show", "job", job], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, env=env(), timeout=30)
    state = re.search(r"\bJobState=(\S+)", p.stdout)
    code = re.search(r"\bExitCode=(\S+)", p.stdout)
    return (state.group(1) if state else "?", code.group(1) if code else "?")


def wait_jobs(jobs):
    """Waits until every job has ended; {job: (state, exit)}."""
    end = time.monotonic() + JOB_WAIT
    while True:
        states = {j: job_state(j) for j in jobs}
        if all(s[0] in ENDED for s in states.values()):
            return states
        if time.monotonic() > end:
            raise AssertionError("jobs still not ended after %d s: %s\n%s" % (JOB_WAIT, states,
                                                                             CLUSTER.log("slurmctld.log")))
        time.sleep(0.5)


def status_jobs(text):
    """{stage: (job, state, elapsed, exit)} from the job table of sluice status."""
    rows, inside = {}, False
    for line in text.splitlines():
        if line.startswith("stage ") and "state" in line:
            inside = True
            continue
        if inside:
            m = re.match(r"^(\S+(?: stages\))?)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)$", line)
            if not m:
                break
            rows[m.group(1)] = m.groups()[1:]
    return rows


def status_until(d, code, settled, *args):
    """sluice status until settled(stdout, rows) holds (bounded): Slurm's answers
    may lag (sacct's database is written after the job ends), and an empty
    one means "ask again"."""
    end = time.monotonic() + 30
    while True:
        p = expect_rc(sluice("status", "p.yaml", *args, cwd=d), code)
        rows = status_jobs(p.stdout)
        if settled(p.stdout, rows):
            return p.stdout, rows
        if time.monotonic() > end:
            raise AssertionError("sluice status did not show what was expected within 30 s:\n" + p.stdout)
        time.sleep(1)


def source_note_ok(text):
    """With a database sacct answers for every job in the end; without one
    the last line says the controller answered, and why."""
    if CLUSTER.accounting:
        return "states from" not in text
    return "states from squeue/scontrol (sacct: Slurm accounting storage is disabled)" in text


def arrays(path):
    with h5py.File(path, "r") as f:
        return {k: f[k][...] for k in f.keys()}, f.attrs.get("sluice_output_hash")


def same_checkpoints(wd_a, wd_b, stages):
    for st in stages:
        a, ha = arrays(os.path.join(wd_a, st + ".h5"))
        b, hb = arrays(os.path.join(wd_b, st + ".h5"))
        if sorted(a) != sorted(b) or ha != hb:
            raise AssertionError("%s: arrays %s / %s, hashes %s / %s" % (st, sorted(a), sorted(b), ha, hb))
        for k in a:
            if a[k].dtype != b[k].dtype or not np.array_equal(a[k], b[k], equal_nan=True):
                raise AssertionError("%s/%s differs between the Slurm job and the plain run" % (st, k))


def run_log(wd):
    with open(os.path.join(wd, "run.log")) as f:
        return [json.loads(line) for line in f if line.strip()]


MODEL = """
pipeline: model
chunk_rows: 512
stages:
  load:  { op: load.hdf5, file: data.h5, arrays: { X: /X, y: /y } }
  conv:  { op: convert, input: load, dtype: float32, checkpoint: false }
  norm:  { op: normalize, input: conv, arrays: [X] }
  fit:   { op: linreg, input: norm }
  pred:  { op: predict, input: norm, model: fit }
  score: { op: metrics, input: pred, metrics: [mse, r2] }
"""

BRANCHES = """
pipeline: branches
chunk_rows: 512
stages:
  load:  { op: load.hdf5, file: data.h5, arrays: { X: /X, y: /y } }
  conv:  { op: convert, input: load, dtype: float64 }
  clean: { op: clean, input: conv, nan: { X: %s } }
  fit:   { op: linreg, input: clean }
  pred:  { op: predict, input: clean, model: fit }
  score: { op: metrics, input: pred, metrics: [mse, r2] }
  load2: { op: load.hdf5, file: other.h5, arrays: { X: /X } }
  desc:  { op: describe, input: load2 }
"""


# ---------------------------------------------------------------------------
# without Slurm: the scripts, the settings, bad input
# ---------------------------------------------------------------------------

def test_print_settings_from_file_and_command_line():
    d = tdir("print_settings")
    data(d)
    write(d, MODEL.replace("chunk_rows: 512\n", "chunk_rows: 512\nslurm:\n  partition: fromfile\n"
                           "  account: proj-7\n  mem: 2G\n  cpus_per_task: 3\n  time: 1-12:00:00\n"))
    p = expect_rc(sluice("submit", "p.yaml", "--print", "--partition", "cli_part", "--cpus-per-task", "2",
                         "--nodes", "1", cwd=d), 0)
    wd = os.path.join(d, "runs", "model")
    name = re.search(r"#SBATCH --job-name=(sluice-model-[0-9a-f]{8})\n", p.stdout)
    if not name:
        raise AssertionError("no job name sluice-model-<hash>\n" + p.stdout)
    contains(p.stdout, "#!/bin/bash\n", "#SBATCH --partition=cli_part\n", "#SBATCH --cpus-per-task=2\n",
             "#SBATCH --account=proj-7\n", "#SBATCH --mem=2G\n", "#SBATCH --time=1-12:00:00\n",
             "#SBATCH --nodes=1\n", "set -eu\n",
             '#SBATCH --output="%s/slurm/%s-%%j.out"' % (wd, name.group(1)),
             '#SBATCH --chdir="%s"' % wd,
             '%s run %s --workdir %s -j "${SLURM_CPUS_PER_TASK:-1}" --progress never &' % (
                 SLUICE, os.path.join(d, "p.yaml"), wd))
    not_contains(p.stdout, "fromfile", "cpus-per-task=3", "mpirun", "--until")
    if os.path.exists(wd):
        raise AssertionError("--print wrote into the workdir: %s" % os.listdir(wd))
    # a relative --workdir is relative to the current folder, made absolute
    p = expect_rc(sluice("submit", "p.yaml", "--print", "--workdir", "elsewhere/../w2", cwd=d), 0)
    contains(p.stdout, '#SBATCH --chdir="%s/w2"' % d, "--workdir %s/w2 " % d)


def test_print_multi_task_uses_mpirun():
    d = tdir("print_mpi")
    data(d)
    write(d, MODEL)
    p = expect_rc(sluice("submit", "p.yaml", "--print", "--nodes", "2", "--ntasks-per-node", "2",
                         "--cpus-per-task", "4", cwd=d), 0)
    mpi = os.path.join(os.path.dirname(SLUICE), "sluice-mpi")
    contains(p.stdout, "#SBATCH --nodes=2\n", "#SBATCH --ntasks-per-node=2\n",
             'mpirun -np "$SLURM_NTASKS" %s run %s' % (mpi, os.path.join(d, "p.yaml")),
             '-j "${SLURM_CPUS_PER_TASK:-1}"')
    # one task in all: the serial program, even with a --nodes of 1
    p = expect_rc(sluice("submit", "p.yaml", "--print", "--ntasks-per-node", "1", cwd=d), 0)
    not_contains(p.stdout, "mpirun", "sluice-mpi")


def test_print_per_stage_jobs_of_stored_stages():
    d = tdir("print_per_stage")
    data(d)
    write(d, MODEL)
    p = expect_rc(sluice("submit", "p.yaml", "--print", "--per-stage", cwd=d), 0)
    # conv is streamed: no job of its own, computed inside norm's
    for st in ("load", "norm", "fit", "pred", "score"):
        contains(p.stdout, "--until %s --wait &" % st, ".%s.sbatch\n" % st)
    not_contains(p.stdout, "--until conv", ".conv.sbatch")
    contains(p.stdout, "--hold --dependency=afterok:<jobs of load> --kill-on-invalid-dep=yes ",
             "--hold --dependency=afterok:<jobs of norm, fit> --kill-on-invalid-dep=yes ",
             "--hold --dependency=afterok:<jobs of pred> --kill-on-invalid-dep=yes ")
    contains(p.stdout, "# submitted held, then released: sbatch --parsable --hold %s/runs/model/slurm/" % d)
    # each job cancels what its jobs file lists after it when it fails
    contains(p.stdout, 'trap \'cancel_descendants; exit 143\' TERM', 'wait $! || { rc=$?; cancel_descendants;')


def test_bad_slurm_settings():
    d = tdir("bad_settings")
    data(d)
    cases = [
        ("slurm:\n  partitoin: gpu\n", (3, 3), "unknown key 'partitoin' under 'slurm' (did you mean 'partition'?); "
                                              "expected nodes, ntasks_per_node, cpus_per_task, time, partition, "
                                              "account or mem"),
        ("slurm:\n  time: 25:61\n", (3, 9), "'slurm.time' must be a time limit in Slurm's format: minutes, "
                                            "minutes:seconds, hours:minutes:seconds, days-hours, days-hours:minutes, "
                                            "days-hours:minutes:seconds (e.g. 90, 2:00:00, 1-12:00:00) or UNLIMITED, "
                                            "found '25:61'"),
        ("slurm:\n  nodes: \"2\"\n", (3, 10), "'slurm.nodes' must be a node count from 1 to 100000, found '2' "
                                              "(remove the quotes)"),
        ("slurm:\n  mem: lots\n", (3, 8), "'slurm.mem' must be a memory size per node in Slurm's format"),
        ("slurm:\n  account: 'a b'\n", (3, 12), "'slurm.account' must be an account name (letters, digits, '_', "
                                                "'-', '.'), found 'a b'"),
        ("slurm:\n  cpus_per_task: [2]\n", (3, 18), "'slurm.cpus_per_task' must be a CPU count from 1 to 4096 (the "
                                                    "threads of each task), found a list"),
        ("slurm: gpu\n", (2, 8), "'slurm' must be a mapping of Slurm settings (nodes, ntasks_per_node, "
                                 "cpus_per_task, time, partition, account, mem), found a string"),
    ]
    for head, (line, col), msg in [(h, (ln + 1, c), m) for h, (ln, c), m in cases]:
        write(d, MODEL.replace("chunk_rows: 512\n", "chunk_rows: 512\n" + head))
        for cmd in ("check", "submit"):
            expect_error(sluice(cmd, "p.yaml", "--print", cwd=d) if cmd == "submit" else sluice(cmd, "p.yaml", cwd=d),
                         2, "p.yaml:%d:%d: " % (line, col), msg)


def test_bad_submit_options():
    d = tdir("bad_options")
    data(d)
    write(d, MODEL)
    expect_error(sluice("submit", "p.yaml", "--time", "1:60:00", cwd=d), 2,
                 "--time needs a time limit in Slurm's format: minutes, minutes:seconds, hours:minutes:seconds, "
                 "days-hours, days-hours:minutes, days-hours:minutes:seconds (e.g. 90, 2:00:00, 1-12:00:00) or "
                 "UNLIMITED, found '1:60:00'", usage=True)
    expect_error(sluice("submit", "p.yaml", "--time", "0", cwd=d), 2, "--time needs a time limit", usage=True)
    expect_error(sluice("submit", "p.yaml", "--nodes", cwd=d), 2, "--nodes needs a node count from 1 to 100000",
                 usage=True)
    expect_error(sluice("submit", "p.yaml", "--mem", "4X", cwd=d), 2, "--mem needs a memory size per node", usage=True)
    expect_error(sluice("submit", "p.yaml", "--partition", "a;rm", cwd=d), 2, "--partition needs a partition name",
                 usage=True)
    expect_error(sluice("submit", "p.yaml", "--threads", "2", cwd=d), 2, "unknown option '--threads' for submit",
                 usage=True)
    expect_error(sluice("submit", cwd=d), 2, "submit needs a pipeline file: sluice submit FILE", usage=True)
    expect_error(sluice("submit", "p.yaml", "q.yaml", cwd=d), 2, "submit takes one pipeline file; 'q.yaml' is extra",
                 usage=True)
    # a path that a job script cannot quote safely
    expect_error(sluice("submit", "p.yaml", "--print", "--workdir", "w$HOME", cwd=d), 2,
                 "cannot submit: the path '%s/w$HOME' has '$', which a job script cannot hold safely" % d)
    # every stage streamed: nothing for --per-stage to give a job
    write(d, "stages:\n  load: { op: load.hdf5, file: data.h5, arrays: { X: /X }, checkpoint: false }\n", "s.yaml")
    expect_error(sluice("submit", "s.yaml", "--per-stage", cwd=d), 2,
                 "--per-stage: pipeline 's' stores no stage (every stage is streamed), so no stage gets a job of its "
                 "own; submit it as one job, without --per-stage")
    # more stored stages than one submission may hold as jobs
    write(d, "stages:\n  load: { op: load.hdf5, file: data.h5, arrays: { X: /X } }\n" +
          "".join("  d%d: { op: describe, input: load }\n" % i for i in range(2000)), "many.yaml")
    expect_error(sluice("submit", "many.yaml", "--per-stage", "--print", cwd=d), 2,
                 "--per-stage would submit 2001 jobs, more than the 2000 one submission may hold (Slurm itself holds "
                 "10000 jobs by default, MaxJobCount); store fewer stages (checkpoint: false or final) or submit the "
                 "pipeline as one job")
    contains(expect_rc(sluice("submit", "many.yaml", "--print", cwd=d), 0).stdout, "#SBATCH --job-name=sluice-many-")
    contains(expect_rc(sluice("submit", "--help", cwd=d), 0).stdout, "usage: sluice submit FILE")
    contains(expect_rc(sluice("--help", cwd=d), 0).stdout, "  submit FILE ")


def test_submit_without_sbatch():
    d = tdir("no_sbatch")
    data(d)
    write(d, MODEL)
    empty = tdir("no_sbatch_path")
    # the scripts are written first, never through a link left at their temporary name
    script = re.search(r"^# ---- (\S+)$", expect_rc(sluice("submit", "p.yaml", "--print", cwd=d), 0).stdout,
                       re.M).group(1)
    os.makedirs(os.path.dirname(script))
    victim = os.path.join(d, "victim")
    os.symlink(victim, script + ".tmp")
    p = sluice("submit", "p.yaml", cwd=d, extra_env={"PATH": empty})
    expect_error(p, 3, "cannot run 'sbatch': No such file or directory; sluice submit needs Slurm's client commands "
                       "(sbatch, scontrol, scancel): install them (Debian: slurm-client, which slurm-wlm includes) or "
                       "submit from a login node of the cluster")
    if glob.glob(os.path.join(d, "runs", "model", "slurm", "*.jobs")):
        raise AssertionError("a jobs file was written though nothing was submitted")
    if os.path.lexists(victim) or os.path.lexists(script + ".tmp") or not os.path.isfile(script):
        raise AssertionError("the script was written through the link, or not at all")


def test_submit_unwritable_slurm_folder():
    d = tdir("unwritable")
    data(d)
    write(d, MODEL)
    with open(os.path.join(d, "afile"), "w") as f:
        f.write("x")
    expect_error(sluice("submit", "p.yaml", "--workdir", "afile/wd", cwd=d), 3,
                 "cannot create folder '%s/afile/wd/slurm' for the job scripts: Not a directory" % d)
    # the script's own name taken by a folder
    p = expect_rc(sluice("submit", "p.yaml", "--print", cwd=d), 0)
    script = re.search(r"^# ---- (\S+)$", p.stdout, re.M).group(1)
    os.makedirs(script)
    expect_error(sluice("submit", "p.yaml", cwd=d), 3, "cannot write job script '%s': Is a directory" % script)


def test_status_ignores_a_jobs_file_that_is_not_a_file():
    """A FIFO where the jobs file goes must not hang `status` (nor a folder fail it)."""
    d = tdir("jobs_fifo")
    data(d)
    write(d, MODEL)
    name = re.search(r"#SBATCH --job-name=(\S+)", expect_rc(sluice("submit", "p.yaml", "--print", cwd=d), 0).stdout)
    folder = os.path.join(d, "runs", "model", "slurm")
    os.makedirs(folder)
    os.mkfifo(os.path.join(folder, name.group(1) + ".jobs"))
    p = expect_rc(sluice("status", "p.yaml", cwd=d), 1)  # times out (60 s) if it blocks
    contains(p.stdout, "load             missing")
    not_contains(p.stdout, "jobs of the last submission")


# ---------------------------------------------------------------------------
# on the real Slurm
# ---------------------------------------------------------------------------

def test_submit_one_job():
    d = tdir("one_job")
    data(d)
    write(d, MODEL)
    # a workdir with a space and a quote: the #SBATCH lines and the script quote it
    wd = os.path.join(d, "the job's wd")
    p = expect_rc(sluice("submit", "p.yaml", "--cpus-per-task", "2", "--time", "10", "--workdir", wd, cwd=d), 0)
    jobs = submitted(p)
    job = jobs["(all stages)"]
    contains(p.stdout, "submitted 1 job named sluice-model-")
    states = wait_jobs([job])
    if states[job] != ("COMPLETED", "0:0"):
        raise AssertionError("job %s: %s\n%s" % (job, states[job], "".join(
            open(f).read() for f in sorted(glob.glob(wd + "/slurm/*.out") + glob.glob(wd + "/slurm/*.err")))))
    out = glob.glob(os.path.join(wd, "slurm", "sluice-model-*-%s.out" % job))
    if len(out) != 1:
        raise AssertionError("no output file of job %s in %s" % (job, os.listdir(os.path.join(wd, "slurm"))))
    contains(open(out[0]).read(), "checkpoints in %s" % wd)
    # the same values as a plain run in another workdir (conv is streamed)
    expect_rc(sluice("run", "p.yaml", "--workdir", "plain", "-j", "2", "-q", cwd=d), 0)
    same_checkpoints(wd, os.path.join(d, "plain"), ["load", "norm", "fit", "pred", "score"])
    if os.path.exists(os.path.join(wd, "conv.h5")):
        raise AssertionError("the streamed stage was stored by the job")
    status_until(d, 0, lambda text, rows: rows.get("(all stages)") is not None and
                 rows["(all stages)"][:2] == (job, "COMPLETED") and rows["(all stages)"][3] == "0:0" and
                 source_note_ok(text), "--workdir", wd)
    # a job Slurm no longer knows (forgotten by the controller, never in the
    # database): "unknown, ask again", never failed; status's exit is the stages'
    jobs_file = glob.glob(os.path.join(wd, "slurm", "*.jobs"))[0]
    with open(jobs_file, "a") as f:
        f.write("old\t99999\t-\t-\n")
    text, rows = status_until(d, 0, lambda text, rows: "old" in rows, "--workdir", wd)
    if rows["old"][1:] != ("unknown", "-", "-") or rows["(all stages)"][1] != "COMPLETED":
        raise AssertionError("a job Slurm does not know:\n" + text)
    contains(text, "unknown: Slurm gave no answer for that job (controller busy or restarting, or the job is older "
                   "than it keeps); ask again")
    not_contains(text, "FAILED")


def test_per_stage_failure_cancels_descendants_then_resubmit():
    d = tdir("per_stage")
    data(d, nan_at=(1234, 2))
    write(d, BRANCHES % "fail")
    p = expect_rc(sluice("submit", "p.yaml", "--per-stage", "--cpus-per-task", "1", cwd=d), 0)
    jobs = submitted(p)
    if sorted(jobs) != sorted(["load", "conv", "clean", "fit", "pred", "score", "load2", "desc"]):
        raise AssertionError("jobs: %s" % jobs)
    contains(p.stdout, "pred             job %s, after clean, fit\n" % jobs["pred"])
    states = wait_jobs(list(jobs.values()))
    want = {"load": "COMPLETED", "conv": "COMPLETED", "clean": "FAILED", "fit": "CANCELLED", "pred": "CANCELLED",
            "score": "CANCELLED", "load2": "COMPLETED", "desc": "COMPLETED"}
    got = {st: states[j][0] for st, j in jobs.items()}
    if got != want:
        raise AssertionError("job states %s, expected %s" % (got, want))
    wd = os.path.join(d, "runs", "branches")
    err = open(glob.glob(os.path.join(wd, "slurm", "*.clean-%s.err" % jobs["clean"]))[0]).read()
    contains(err, "stage 'clean': array 'X' has 1 NaN or +-Inf value (nan: fail); the first is at row 1234, column 2",
             "cancelling the jobs downstream: %s %s %s" % (jobs["fit"], jobs["pred"], jobs["score"]))
    # status: the stages and the jobs, from one look at Slurm
    text, rows = status_until(d, 1, lambda text, rows: {st: r[1] for st, r in rows.items()} == want and
                              rows["clean"][3] == "1:0" and rows["load"][3] == "0:0" and source_note_ok(text))
    contains(text, "desc             fresh", "clean            missing")
    n_log = len(run_log(wd))

    # fixed pipeline, resubmitted: what was fresh is reused, the rest runs
    write(d, BRANCHES % "drop_row")
    p = expect_rc(sluice("submit", "p.yaml", "--per-stage", cwd=d), 0)
    jobs2 = submitted(p)
    if set(jobs2.values()) & set(jobs.values()):
        raise AssertionError("job ids reused: %s %s" % (jobs, jobs2))
    states = wait_jobs(list(jobs2.values()))
    bad = {st: states[j] for st, j in jobs2.items() if states[j] != ("COMPLETED", "0:0")}
    if bad:
        raise AssertionError("jobs not completed: %s" % bad)
    new = run_log(wd)[n_log:]
    ran = sorted(e["stage"] for e in new if e["status"] == "ran")
    if ran != ["clean", "fit", "pred", "score"]:
        raise AssertionError("stages run again: %s (expected clean, fit, pred, score)" % ran)
    reused = {e["stage"] for e in new if e["status"] == "reused"}
    if not {"load", "conv", "load2", "desc"} <= reused:
        raise AssertionError("fresh stages not reused: %s" % reused)
    status_until(d, 0, lambda text, rows: {st: r[:2] for st, r in rows.items()} ==
                 {st: (j, "COMPLETED") for st, j in jobs2.items()} and source_note_ok(text))
    # the same values as one plain run of the fixed pipeline
    expect_rc(sluice("run", "p.yaml", "--workdir", "plain", "-q", cwd=d), 0)
    same_checkpoints(wd, os.path.join(d, "plain"), ["conv", "clean", "fit", "pred", "score", "desc"])


def running_sluice(workdir, stage):
    """1 when a `sluice run ... --until STAGE` on workdir is running (here, a job's)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if argv[0] == SLUICE and "--until" in argv and stage in argv and workdir in argv:
            return True
    return False


def test_cancelled_job_cancels_descendants():
    """scancel of a running stage's job: Slurm sends SIGTERM before it kills,
    and the script's trap cancels the jobs downstream. The job is kept running
    by holding the workdir's lock, which its `sluice run --wait` waits for."""
    d = tdir("cancelled")
    data(d)
    write(d, """
        pipeline: held
        stages:
          load:  { op: load.hdf5, file: data.h5, arrays: { X: /X, y: /y } }
          fit:   { op: linreg, input: load }
          pred:  { op: predict, input: load, model: fit }
          desc:  { op: describe, input: load }
        """)
    wd = os.path.join(d, "runs", "held")
    os.makedirs(wd)
    with open(os.path.join(wd, ".sluice.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        jobs = submitted(expect_rc(sluice("submit", "p.yaml", "--per-stage", cwd=d), 0))
        end = time.monotonic() + JOB_WAIT
        while not (job_state(jobs["load"])[0] == "RUNNING" and running_sluice(wd, "load")):
            if time.monotonic() > end or job_state(jobs["load"])[0] in ENDED:
                raise AssertionError("the job of load never waited for the lock: %s" % (job_state(jobs["load"]),))
            time.sleep(0.2)
        subprocess.run(["scancel", jobs["load"]], env=env(), timeout=30, check=True)
        states = wait_jobs(list(jobs.values()))
    got = {st: states[j][0] for st, j in jobs.items()}
    if set(got.values()) != {"CANCELLED"}:
        raise AssertionError("job states %s, expected all CANCELLED" % got)
    err = open(glob.glob(os.path.join(wd, "slurm", "*.load-%s.err" % jobs["load"]))[0]).read()
    contains(err, "cancelling the jobs downstream: %s %s %s" % (jobs["fit"], jobs["pred"], jobs["desc"]))


def test_submit_refused_and_jobs_file_unwritable():
    d = tdir("refused")
    data(d)
    write(d, MODEL)
    expect_error(sluice("submit", "p.yaml", "--partition", "nosuch", cwd=d), 3,
                 "sbatch refused job script '", "(exit 1): sbatch: error: invalid partition specified: nosuch")
    # the jobs file cannot be written: the held jobs already submitted are cancelled
    p = expect_rc(sluice("submit", "p.yaml", "--print", cwd=d), 0)
    name = re.search(r"#SBATCH --job-name=(\S+)", p.stdout).group(1)
    jobs_file = os.path.join(d, "runs", "model", "slurm", name + ".jobs")
    os.makedirs(jobs_file)
    p = sluice("submit", "p.yaml", "--per-stage", cwd=d)
    expect_error(p, 3, "cannot write the jobs file '%s': Is a directory" % jobs_file)
    q = subprocess.run(["squeue", "-h", "-t", "all", "-n", name, "-o", "%i %T"], stdout=subprocess.PIPE, text=True,
                       env=env(), timeout=30)
    states = dict(line.split() for line in q.stdout.splitlines())
    if len(states) != 5 or set(states.values()) != {"CANCELLED"}:
        raise AssertionError("the jobs of the failed submission: %s" % states)


# ---------------------------------------------------------------------------

NEEDS_SLURM = ("test_submit_one_job", "test_per_stage_failure_cancels_descendants_then_resubmit",
               "test_cancelled_job_cancels_descendants", "test_submit_refused_and_jobs_file_unwritable")


def run_tests(tests, done):
    passed = failed = 0
    for name, fn in tests:
        done.append(name)
        t0 = time.monotonic()
        try:
            fn()
        except Exception as e:  # noqa: BLE001 -- report every failure and go on
            failed += 1
            msg = str(e) if isinstance(e, AssertionError) else traceback.format_exc()
            print("FAIL %s: %s" % (name, msg), flush=True)
            continue
        passed += 1
        print("ok %s (%.1f s)" % (name, time.monotonic() - t0), flush=True)
    return passed, failed


def main():
    global SLUICE, TMP, SRC, CLUSTER
    ap = argparse.ArgumentParser()
    ap.add_argument("--sluice", required=True)
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--source-root", required=True)
    ap.add_argument("-k", action="append", default=[])
    a = ap.parse_args()
    # meson's timeout sends SIGTERM: leave through the with-block, which stops the daemons
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    SLUICE, TMP, SRC = os.path.abspath(a.sluice), os.path.abspath(a.tmp), os.path.abspath(a.source_root)
    os.makedirs(TMP, exist_ok=True)
    tests = [(n, f) for n, f in globals().items() if n.startswith("test_") and callable(f)]
    if a.k:
        tests = [(n, f) for n, f in tests if any(k in n for k in a.k)]
    plain = [(n, f) for n, f in tests if n not in NEEDS_SLURM]
    on_slurm = [(n, f) for n, f in tests if n in NEEDS_SLURM]
    done = []
    passed, failed = run_tests(plain, done)
    # the tests on Slurm twice: without an accounting database (sacct fails, the
    # controller answers) and with one (slurmdbd on MariaDB: sacct answers)
    for accounting in (False, True):
        if not on_slurm:
            break
        label = "with slurmdbd" if accounting else "without accounting"
        tests = [("%s [%s]" % (n, label), f) for n, f in on_slurm]
        t0 = time.monotonic()
        try:
            with Cluster(os.path.join(TMP, "cluster-" + label.replace(" ", "-")), accounting=accounting) as c:
                CLUSTER = c
                print("# one-node Slurm %s up in %.1f s" % (label, time.monotonic() - t0), flush=True)
                p, f = run_tests(tests, done)
                passed, failed = passed + p, failed + f
        except Exception as e:  # noqa: BLE001 -- Slurm that cannot start fails every test that needs it
            for name, _ in tests:
                if name not in done:
                    print("FAIL %s: the one-node Slurm: %s" % (name, e), flush=True)
                    failed += 1
        finally:
            CLUSTER = None
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
