#!/usr/bin/python3
"""Hostile-input tests: the workdir and the files sluice writes (issue 14,
items 3, 4, 5, the workdir half of 6, 10 and run.log in 12). See common.py
for how they run.

Each test builds the situation of the issue with real files (links, FIFOs,
device nodes, a second writer holding a lock, a source inside the workdir),
runs the real sluice and checks the exit code, the one-line message and,
above all, what happened to the files sluice must not touch (their bytes).
"""
import fcntl
import hashlib
import os
import resource
import shutil
import signal
import subprocess
import time

import numpy as np

import common
from common import Skip, expect, expect_ok, h5, sluice, tdir, write  # noqa: F401

# the byte a sluice writer locks in its temporary file: (1 << 40) + its pid
# (src/core/fsutil.c, sl__writer_lock)
WRITER_LOCK_BASE = 1 << 40
SHORT = 20  # seconds: every command below ends at once when it works; a hang is a failure


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run(d, *args, env=None, timeout=SHORT):
    """sluice in d; a hang (a FIFO opened for reading, say) fails the test."""
    try:
        return sluice(d, *args, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError("'sluice %s' did not end within %d s (blocked)" % (" ".join(map(str, args)), timeout))


def decoy(d):
    """A file standing for ~/.bashrc or /etc/passwd: what a planted link points to."""
    path = os.path.join(d, "decoy")
    with open(path, "w") as f:
        f.write("export SECRET=1\n")
    return path, digest(path)


PIPE = """
pipeline: t
workdir: work
stages:
  load: { op: load.hdf5, file: data.h5, arrays: { X: /X, y: /y } }
  conv: { op: convert, input: load, dtype: float32 }
"""


# ---- item 3: a checkpoint or an output that is the same file as a source ----

def test_checkpoint_named_like_its_source_is_refused():
    """workdir: the data folder, and a stage named like the data file: its
    checkpoint 'data.h5' is the source. check and run refuse (exit 2), and
    neither they nor clean touch the data."""
    d = tdir("ckpt_is_source")
    src = h5(d, "data.h5")
    before = digest(src)
    write(d, """
        pipeline: t
        workdir: .
        stages:
          data: { op: load.hdf5, file: data.h5, arrays: { X: /X } }
          conv: { op: convert, input: data, dtype: float32 }
        """)
    for cmd in ("check", "run", "clean"):
        expect(run(d, cmd, "p.yaml"), 2, "'%s'" % src, "the checkpoint of stage 'data'", "is the same file as",
               "which stage 'data' reads", "rename the stage or use another workdir")
        assert digest(src) == before, "%s changed the source data.h5" % cmd


def test_load_of_its_own_checkpoint_path_is_refused():
    """A load stage whose file is its own checkpoint path (work/load.h5,
    written as a path that reaches it through '..')."""
    d = tdir("load_own_ckpt")
    os.makedirs(os.path.join(d, "work", "sub"))
    src = h5(os.path.join(d, "work"), "load.h5")
    before = digest(src)
    write(d, """
        pipeline: t
        workdir: work
        stages:
          load: { op: load.hdf5, file: work/sub/../load.h5, arrays: { X: /X } }
        """)
    for cmd in ("check", "run", "clean"):
        expect(run(d, cmd, "p.yaml"), 2, "the checkpoint of stage 'load'", "is the same file as")
        assert digest(src) == before, "%s changed work/load.h5" % cmd


def test_save_through_a_symlinked_folder_is_refused():
    """save.hdf5 writes 'alias/data.h5' where alias is a link to the folder
    of the source: the same file under another path."""
    d = tdir("save_via_link")
    os.makedirs(os.path.join(d, "data"))
    src = h5(os.path.join(d, "data"), "data.h5")
    os.symlink("data", os.path.join(d, "alias"))
    before = digest(src)
    write(d, """
        pipeline: t
        workdir: work
        stages:
          load: { op: load.hdf5, file: data/data.h5, arrays: { X: /X, y: /y } }
          save: { op: save.hdf5, input: load, file: alias/data.h5 }
        """)
    for cmd in ("check", "run"):
        expect(run(d, cmd, "p.yaml"), 2, "stage 'save'", "which stage 'save' writes, is the same file as",
               "which stage 'load' reads", "write to another file")
    assert digest(src) == before, "the source was replaced"


def test_save_over_the_pipeline_file_is_refused():
    d = tdir("save_over_yaml")
    h5(d, "data.h5")
    path = write(d, PIPE + "  save: { op: save.hdf5, input: conv, file: p.yaml }\n")
    before = digest(path)
    for cmd in ("check", "run"):
        expect(run(d, cmd, "p.yaml"), 2, "stage 'save'", "is the same file as", "the pipeline file")
    assert digest(path) == before, "the pipeline file was replaced"


def test_save_to_a_device_or_fifo_is_refused():
    """`file: /dev/null` run as root replaced /dev/null with an HDF5 file.
    A character device made here (the same as /dev/null: 1, 3) stands for it,
    so that the machine's own /dev/null is never at risk, and a FIFO too."""
    d = tdir("save_special")
    h5(d, "data.h5")
    nodes = [("fifo", os.mkfifo, "a FIFO")]
    if os.geteuid() == 0:
        nodes.append(("nulldev", lambda p: os.mknod(p, 0o666 | 0o020000, os.makedev(1, 3)), "a character device"))
    for name, make, kind in nodes:
        target = os.path.join(d, name)
        if os.path.lexists(target):
            os.unlink(target)
        make(target)
        write(d, PIPE + "  save: { op: save.hdf5, input: conv, file: %s }\n" % name)
        for cmd in ("check", "run"):
            expect(run(d, cmd, "p.yaml"), 2, "'%s'" % target, "is %s, not a regular file" % kind)
        st = os.lstat(target)
        assert not os.path.isfile(target) and not os.path.islink(target), "%s was replaced by a file" % name
        assert st.st_mode & 0o170000 in (0o010000, 0o020000), "%s is no longer a device or FIFO" % name


def test_clean_leaves_files_sluice_did_not_write():
    """A file the user put at a checkpoint's name (work/load.h5, not written
    by sluice: its inode is not the one the manifest recorded, and it has no
    sluice attributes) is left alone by clean, which says so; the checkpoints
    sluice wrote are removed."""
    d = tdir("clean_user_file")
    h5(d, "data.h5")
    write(d, PIPE)
    expect_ok(run(d, "run", "p.yaml"))
    work = os.path.join(d, "work")
    os.unlink(os.path.join(work, "load.h5"))
    user = h5(work, "load.h5", rows=7, seed=3)
    before = digest(user)
    p = run(d, "clean", "p.yaml")
    expect(p, 3, "left '%s' in place" % user, "may be your data", "removed 1 other file")
    assert os.path.exists(user) and digest(user) == before, "clean deleted or changed the user's file"
    assert not os.path.exists(os.path.join(work, "conv.h5")), "clean left conv.h5, which sluice wrote"


# ---- item 4: two runs saving to the same file ----

def test_save_tmp_of_another_live_writer_is_kept():
    """Another process is writing out.h5 (it holds a writer's lock on
    out.h5.tmp, as a sluice run saving there does). This run fails at once,
    says who is writing, and leaves that process's temporary file as it
    was; once the lock is gone, the stale file is replaced and the run
    succeeds."""
    d = tdir("save_tmp_locked")
    h5(d, "data.h5")
    write(d, PIPE + "  save: { op: save.hdf5, input: conv, file: out.h5 }\n")
    tmp = os.path.join(d, "out.h5.tmp")
    content = b"half of another run's output"
    with open(tmp, "wb") as f:
        f.write(content)
        f.flush()
        # a classic POSIX lock: this process must not open and close the file
        # again while it holds it (that would drop the lock)
        fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, WRITER_LOCK_BASE + os.getpid())
        p = run(d, "run", "p.yaml")
        expect(p, 3, "another process (pid %d) is writing '%s'" % (os.getpid(), os.path.join(d, "out.h5")),
               "wait for it to finish")
        assert os.path.exists(tmp) and os.path.getsize(tmp) == len(content), \
            "the other writer's out.h5.tmp was removed or changed"
        assert not os.path.exists(os.path.join(d, "out.h5")), "out.h5 appeared although another run writes it"
    with open(tmp, "rb") as f:
        assert f.read() == content, "the other writer's out.h5.tmp was changed"
    # the writer is gone (its lock with it): its file is stale
    expect_ok(run(d, "run", "p.yaml"))
    assert not os.path.exists(tmp), "the stale out.h5.tmp is still there"
    X = common.read_array(os.path.join(d, "out.h5"), "X")
    assert X.shape == (20, 3) and X.dtype.name == "float32"


def wait_stopped(pid):
    """Waits until every thread of pid is stopped (SIGSTOP is asynchronous)."""
    deadline = time.time() + SHORT
    while time.time() < deadline:
        states = []
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
                states.append(f.read().rsplit(")", 1)[1].split()[0])
        if all(st in "tT" for st in states):
            return
        time.sleep(0.001)
    raise AssertionError("process %d did not stop" % pid)


def test_two_runs_saving_to_one_file():
    """Two real runs, from two workdirs, save to the same out.h5. Run A is
    stopped (SIGSTOP) while it writes out.h5.tmp; run B fails at once naming
    A's pid and leaves A's file alone (it used to truncate and then delete
    it, and both runs failed); A, continued, completes with the right
    values."""
    d = tdir("two_writers")
    rows = 3_000_000
    h5(d, "data.h5", X=np.arange(rows * 4, dtype=np.float64).reshape(rows, 4))
    for w in ("a", "b"):
        write(d, """
            pipeline: t
            workdir: work_%s
            stages:
              load: { op: load.hdf5, file: data.h5, arrays: { X: /X } }
              save: { op: save.hdf5, input: load, file: out.h5 }
            """ % w, name="%s.yaml" % w)
    tmp = os.path.join(d, "out.h5.tmp")
    env = dict(os.environ, LC_ALL="C")
    a = subprocess.Popen([common.SLUICE, "run", "a.yaml", "-j1", "--progress", "never"], cwd=d, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + SHORT
        while not os.path.exists(tmp) and a.poll() is None and time.time() < deadline:
            time.sleep(0.0005)
        a.send_signal(signal.SIGSTOP)
        wait_stopped(a.pid)
        if not os.path.exists(tmp):
            raise Skip("run A finished before it could be stopped while writing out.h5.tmp")
        size = os.path.getsize(tmp)
        p = run(d, "run", "b.yaml")
        expect(p, 3, "another process (pid %d) is writing '%s'" % (a.pid, os.path.join(d, "out.h5")),
               "wait for it to finish")
        assert os.path.exists(tmp) and os.path.getsize(tmp) == size, "run B removed or truncated A's out.h5.tmp"
        a.send_signal(signal.SIGCONT)
        out, err = a.communicate(timeout=60)
        assert a.returncode == 0, "run A failed after B tried: exit %d\n%s" % (a.returncode, err)
    finally:
        if a.poll() is None:
            a.send_signal(signal.SIGCONT)
            a.kill()
            a.wait()
    assert not os.path.exists(tmp)
    X = common.read_array(os.path.join(d, "out.h5"), "X")
    assert X.shape == (rows, 4) and X[-1, -1] == rows * 4 - 1 and X[12345, 2] == 12345 * 4 + 2


def test_private_file_of_a_killed_writer_is_removed():
    """A temporary file is made under a private name (`<file>.tmp.<pid>`),
    locked, then put in place. A writer killed between the two leaves the
    private file; the next writer of that file removes it (nobody holds its
    lock), and leaves a private file some live process holds alone."""
    d = tdir("private_leftover")
    h5(d, "data.h5")
    write(d, PIPE)
    os.makedirs(os.path.join(d, "work"))
    stale = os.path.join(d, "work", "conv.h5.tmp.4242")
    with open(stale, "w") as f:
        f.write("left by a killed run")
    held = os.path.join(d, "work", "conv.h5.tmp.4343")
    fd = os.open(held, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a live writer's lock
        expect_ok(run(d, "run", "p.yaml"))
        assert not os.path.exists(stale), "the stale private file was left: %s" % os.listdir(os.path.join(d, "work"))
        assert os.path.exists(held), "a private file a live process holds was removed"
    finally:
        os.close(fd)


# ---- item 5: links planted in the workdir ----

def test_links_planted_in_the_workdir_are_not_followed():
    """A link at .sluice.lock, run.log, sluice.manifest.tmp or
    <stage>.h5.tmp pointing at a decoy. The lock and run.log are files
    sluice keeps: a link there is refused (exit 3, saying it is a link).
    sluice.manifest.tmp and conv.h5.tmp are scratch names sluice creates
    anew: the link is removed (not followed) and the run succeeds. In every
    case the decoy keeps its bytes."""
    for name, refused in ((".sluice.lock", "cannot open lock file"), ("run.log", "cannot write run log"),
                          ("sluice.manifest.tmp", None), ("conv.h5.tmp", None)):
        d = tdir("link_" + name.strip("."))
        h5(d, "data.h5")
        write(d, PIPE)
        target, before = decoy(d)
        os.makedirs(os.path.join(d, "work"))
        link = os.path.join(d, "work", name)
        os.symlink(target, link)
        p = run(d, "run", "p.yaml")
        if refused:
            expect(p, 3, refused, "'%s'" % link, "is a symbolic link", "remove the link")
            assert not os.path.exists(os.path.join(d, "work", "conv.h5")), "a stage ran although %s was refused" % name
        else:
            expect_ok(p)
            assert not os.path.islink(link), "the link at %s is still there" % name
            assert os.path.exists(os.path.join(d, "work", "conv.h5"))
        assert digest(target) == before, "sluice wrote through the link at work/%s into the decoy" % name


# ---- item 6, the workdir half: FIFOs and device links where sluice reads ----

def test_fifo_or_device_link_in_the_workdir_does_not_block():
    """A FIFO, or a link to /dev/zero, where a checkpoint, sluice.manifest or
    run.log is expected: check ends at once (it reads no workdir file), run
    and status end at once with exit 3, naming
    the path and what it is; nothing is written through it."""
    cases = [("conv.h5", "fifo", "a FIFO"), ("conv.h5", "zero", "a symbolic link"),
             ("sluice.manifest", "fifo", "a FIFO"), ("sluice.manifest", "zero", "a symbolic link"),
             ("run.log", "fifo", "a FIFO")]
    for name, kind, said in cases:
        d = tdir("special_%s_%s" % (name.replace(".", "_"), kind))
        h5(d, "data.h5")
        write(d, PIPE)
        work = os.path.join(d, "work")
        os.makedirs(work)
        path = os.path.join(work, name)
        if kind == "fifo":
            os.mkfifo(path)
        else:
            os.symlink("/dev/zero", path)
        expect_ok(run(d, "check", "p.yaml"))  # check reads no workdir file: it neither blocks nor fails
        cmds = ("run", "status") if name != "run.log" else ("run",)
        for cmd in cmds:
            p = run(d, cmd, "p.yaml")
            expect(p, 3, "'%s'" % path, said)
        assert os.path.islink(path) or os.path.exists(path), "%s was removed" % name
        if kind == "fifo":
            assert not os.path.isfile(path) and os.path.exists(path)
        assert not os.path.exists(os.path.join(work, "load.h5")), "a stage ran despite work/%s" % name


# ---- item 10: the manifest is read once and written a bounded number of times ----

def chain(n):
    """A pipeline of n stored trivial stages (each scales the one before)."""
    lines = ["pipeline: many", "workdir: work", "stages:",
             "  s0: { op: load.hdf5, file: data.h5, arrays: { y: /y } }"]
    for i in range(1, n):
        lines.append("  s%d: { op: scale, input: s%d, arrays: [y], factor: 1.0 }" % (i, i - 1))
    return "\n".join(lines) + "\n"


def manifest_calls(d, n):
    """Runs the n-stage chain twice (computing, then reusing everything) under
    the fault shim's call log; the manifest's counted calls of each run."""
    shim = os.path.join(os.path.dirname(os.path.dirname(common.SLUICE)), "tests", "faults", "libfaultshim.so")
    if not os.path.exists(shim):
        raise Skip("no %s (build the faults tests)" % shim)
    h5(d, "data.h5", rows=8, cols=1)
    write(d, chain(n))
    counts = []
    for k in range(2):
        log = os.path.join(d, "calls%d.log" % k)
        p = run(d, "run", "p.yaml", env={"LD_PRELOAD": shim, "FAULT_LOG": log, "SLUICE_COMMIT": "inline"},
                timeout=120)
        expect_ok(p)
        with open(log) as f:
            calls = [l.split("\t") for l in f if "sluice.manifest" in l]
        counts.append({fn: sum(1 for c in calls if c[1] == fn) for fn in ("open", "rename", "write", "fopen")})
    return counts


def test_manifest_calls_do_not_grow_with_the_stages():
    """sluice.manifest was read and rewritten once per stage: O(N^2) for N
    stored stages. Counted without timing: the manifest's opens, writes and
    renames in a run that reuses all N stages are the same for N = 40 and
    N = 160 (one read), and a run that computes them renames it at most
    log2(N) + 2 times."""
    small = manifest_calls(tdir("manifest_40"), 40)
    big = manifest_calls(tdir("manifest_160"), 160)
    assert small[1] == big[1], "reusing every stage: %s for 40 stages, %s for 160" % (small[1], big[1])
    assert big[1]["rename"] <= 1 and big[1]["open"] <= 2, "reusing every stage: %s" % big[1]
    assert big[0]["rename"] <= 9, "computing 160 stages renamed the manifest %d times" % big[0]["rename"]


def test_many_stored_stages_are_reused_quickly():
    """8,000 stored trivial stages: the run that reuses them all took ~22 s
    (16 s of CPU here, most of it rewriting the manifest). It must end within
    a generous minute, using under 10 s of CPU (about 5 s now; CPU time,
    unlike the wall clock, hardly depends on what else the machine runs).
    The workdir is on tmpfs when there is one (the first run fsyncs 8,000
    files)."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else common.TMP
    d = os.path.join(base, "sluice-hostile-many-%d" % os.getpid())
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    try:
        h5(d, "data.h5", rows=4, cols=1)
        write(d, chain(8000))
        expect_ok(run(d, "run", "p.yaml", "--progress", "never", timeout=600))
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        p = expect_ok(run(d, "run", "p.yaml", "--progress", "never", timeout=60))
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        assert p.stdout.count("reused") >= 8000, "not every stage was reused:\n" + p.stdout[-2000:]
        # the bound is for the normal build: a sanitizer build (scripts/check's
        # asan and tsan parts) costs several times the CPU of the same work
        if not os.environ.get("SLUICE_TEST_SANITIZER"):
            assert cpu < 10, "reusing 8,000 stages took %.1f s of CPU" % cpu
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---- item 12, run.log: a log that cannot be written is an error ----

def test_run_log_that_is_a_folder_stops_the_run():
    d = tdir("runlog_folder")
    h5(d, "data.h5")
    write(d, PIPE)
    os.makedirs(os.path.join(d, "work", "run.log"))
    p = run(d, "run", "p.yaml")
    expect(p, 3, "cannot write run log '%s'" % os.path.join(d, "work", "run.log"), "is a directory")
    assert not os.path.exists(os.path.join(d, "work", "load.h5")), "stages ran without a run log"


def test_run_log_write_failure_fails_the_run():
    """A full disk when a stage's line is appended to run.log (the shim fails
    that write with ENOSPC): exit 3, naming run.log, the stage and the
    reason; the run used to end with exit 0 and the line lost."""
    shim = os.path.join(os.path.dirname(os.path.dirname(common.SLUICE)), "tests", "faults", "libfaultshim.so")
    if not os.path.exists(shim):
        raise Skip("no %s (build the faults tests)" % shim)
    d = tdir("runlog_full")
    h5(d, "data.h5")
    write(d, PIPE)
    env = {"LD_PRELOAD": shim, "SLUICE_COMMIT": "inline"}
    log = os.path.join(d, "calls.log")
    expect_ok(run(d, "run", "p.yaml", env=dict(env, FAULT_LOG=log)))
    with open(log) as f:
        writes = [l.split("\t") for l in f]
    # the calls that append to run.log: write or fclose of its stream
    hits = [c for c in writes if c[4].strip().endswith("run.log") and c[1] in ("write", "fclose")]
    if not hits:
        raise AssertionError("the counting run made no counted write to run.log")
    fn, n = hits[-1][1], hits[-1][2]
    expect_ok(run(d, "clean", "p.yaml"))
    p = run(d, "run", "p.yaml", env=dict(env, FAULT_FN=fn, FAULT_N=n, FAULT_ERRNO="ENOSPC"))
    expect(p, 3, "cannot write run log", "run.log", "No space left on device", "stage 'conv'")


if __name__ == "__main__":
    common.main(globals())
