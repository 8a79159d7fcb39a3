#!/usr/bin/python3
"""Hostile-input tests: the resume journal and the temporary checkpoint an
interrupted run leaves (issue 14, items 2 and 7). See common.py for how they run.

A run of `load -> convert` on 1M rows is killed (SIGKILL) once its resume
journal records between a fifth and four fifths of convert's rows as written
and durable; the test then damages what the run left and reruns. Every rerun
must end with a convert checkpoint equal, values and recorded hash, to that
of a run that was never interrupted.
"""
import os
import signal
import struct
import subprocess
import time

import h5py
import numpy as np

import common
from common import Skip, expect_ok, sluice, tdir, write  # noqa: F401

ROWS = 1_000_000
PIPELINE = """\
pipeline: resume
workdir: wd
chunk_rows: 1024
stages:
  load:    { op: load.hdf5, file: data.h5, arrays: { X: /X, y: /y } }
  convert: { op: convert, input: load, dtype: float64 }
"""
# a journal after every batch of chunks: the run is slower and the window to kill it in wider
ENV = {"SLUICE_RESUME_INTERVAL": "0"}
_REF = {}


def gendata(path, rows=ROWS):
    p = subprocess.run([common.GENDATA, path, "--rows", str(rows), "--features", "8", "--seed", "7",
                        "--chunk-rows", "4096"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=120)
    assert p.returncode == 0, "sluice-gendata failed: %s" % p.stderr
    return path


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


def reference():
    """The folder of an uninterrupted run (made once): data.h5 and wd/convert.h5."""
    if "d" not in _REF:
        d = tdir("reference")
        gendata(os.path.join(d, "data.h5"))
        write(d, PIPELINE)
        expect_ok(sluice(d, "run", "p.yaml", "-j", "1", timeout=300))
        _REF["d"] = d
    return _REF["d"]


def case(name):
    """A folder with the reference's data file (a hard link: same identity, so the
    same cache keys) and the pipeline."""
    d = tdir(name)
    os.link(os.path.join(reference(), "data.h5"), os.path.join(d, "data.h5"))
    write(d, PIPELINE)
    return d


def killed_mid_convert(d, attempts=5):
    """Runs the pipeline and SIGKILLs it inside convert, after a journal save that
    records 20-80 % of its rows. Returns the journal's (rows written, rows)."""
    wd = os.path.join(d, "wd")
    journal = os.path.join(wd, "convert.h5.tmp.resume")
    for _ in range(attempts):
        if os.path.exists(wd):
            subprocess.run(["rm", "-rf", wd], check=True)
        env = dict(os.environ, LC_ALL="C", **ENV)
        p = subprocess.Popen([common.SLUICE, "run", "p.yaml", "-j", "1"], cwd=d, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 120
        killed = False
        while p.poll() is None and time.time() < deadline:
            jr = journal_rows(journal)
            if jr and 0.2 * jr[1] <= jr[0] <= 0.8 * jr[1]:
                p.send_signal(signal.SIGKILL)
                killed = True
                break
            time.sleep(0.002)
        if p.poll() is None and not killed:
            p.kill()
        p.wait()
        p.stderr.close()
        if killed and p.returncode == -signal.SIGKILL:
            jr = journal_rows(journal)
            assert jr and jr[0] > 0, "the journal records no rows after the kill: %r" % (jr,)
            assert os.path.exists(os.path.join(wd, "convert.h5.tmp")), os.listdir(wd)
            return jr
    raise Skip("could not kill the run inside convert in %d attempts (the machine ran it too fast)" % attempts)


def run_log(wd):
    import json
    with open(os.path.join(wd, "run.log")) as f:
        return [json.loads(line) for line in f if line.strip()]


def expect_same_as_reference(d, what):
    got, want = os.path.join(d, "wd", "convert.h5"), os.path.join(reference(), "wd", "convert.h5")
    with h5py.File(got, "r") as g, h5py.File(want, "r") as w:
        for name in ("X", "y"):
            a, b = g[name][...], w[name][...]
            bits = "u%d" % a.dtype.itemsize  # the values' bits, NaNs included
            if a.shape != b.shape or a.dtype != b.dtype or not np.array_equal(a.view(bits), b.view(bits)):
                bad = np.argwhere(a.view(bits) != b.view(bits))[:3].tolist() if a.shape == b.shape else a.shape
                raise AssertionError("%s: convert's %s differs from an uninterrupted run's (first at %s)" % (
                    what, name, bad))
        for attr in ("sluice_output_hash", "sluice_key"):
            if g.attrs.get(attr) != w.attrs.get(attr):
                raise AssertionError("%s: convert's %s is %r, an uninterrupted run's %r" % (
                    what, attr, g.attrs.get(attr), w.attrs.get(attr)))
        for name in ("X", "y"):
            if g[name].attrs.get("sluice_hash") != w[name].attrs.get("sluice_hash"):
                raise AssertionError("%s: %s's recorded hash differs from an uninterrupted run's" % (what, name))


def expect_no_temp(wd):
    left = [n for n in os.listdir(wd) if ".tmp" in n or n.endswith(".resume")]
    assert not left, "temporary files left: %s" % left


def convert_entry(wd):
    return [e for e in run_log(wd) if e["stage"] == "convert"][-1]


# ---------------------------------------------------------------------------

def test_resume_keeps_verified_rows():
    """The control: nothing damaged, the rerun resumes (run.log says so) and gives the
    uninterrupted run's checkpoint."""
    d = case("resume_clean")
    w_rows, rows = killed_mid_convert(d)
    expect_ok(sluice(d, "run", "p.yaml", "-j", "1", env=ENV, timeout=300))
    e = convert_entry(os.path.join(d, "wd"))
    want = "resumed at row %d of %d" % (w_rows, rows)
    assert want in e.get("resume", ""), "run.log's convert line does not say %r: %r" % (want, e)
    expect_same_as_reference(d, "after a resume")
    expect_no_temp(os.path.join(d, "wd"))


def test_resume_rejects_altered_rows():
    """Rows the journal says are written and durable are changed in convert.h5.tmp
    (raw bytes, HDF5's metadata untouched); the rerun must not keep them: it
    recomputes the stage, says why in run.log, and commits the right rows under
    the right hash. Before the fix, the altered rows were committed with the hash
    of the original ones."""
    d = case("resume_altered")
    w_rows, _ = killed_mid_convert(d)
    tmp = os.path.join(d, "wd", "convert.h5.tmp")
    with h5py.File(tmp, "r") as f:
        ds = f["X"]
        chunk_rows = ds.chunks[0]
        cols = ds.shape[1]
        row = min(w_rows - 1, chunk_rows // 2)  # inside the first chunk, among the rows written
        # stored as float32 (float32 values made float64: docs/guide.md 4) or as float64
        size = ds.dtype.itemsize
        off = ds.id.get_chunk_info(0).byte_offset + row * cols * size
        old = ds[row, 0]
    fd = os.open(tmp, os.O_WRONLY)
    try:
        os.pwrite(fd, struct.pack("<f" if size == 4 else "<d", 12345.5), off)
    finally:
        os.close(fd)
    with h5py.File(tmp, "r") as f:
        assert f["X"][row, 0] == 12345.5 and old != 12345.5, "the test did not alter the row it meant to"
    expect_ok(sluice(d, "run", "p.yaml", "-j", "1", env=ENV, timeout=300))
    expect_same_as_reference(d, "after a resume from altered rows")
    e = convert_entry(os.path.join(d, "wd"))
    resume = e.get("resume", "")
    assert resume.startswith("restarted:") and "'X'" in resume and "not the rows" in resume, (
        "run.log's convert line does not say the rows were rejected: %r" % e)
    expect_no_temp(os.path.join(d, "wd"))


def test_resume_rejects_truncated_file():
    """The temporary checkpoint cut short (its last rows gone): the rerun starts the
    stage over and commits the right checkpoint."""
    d = case("resume_truncated")
    killed_mid_convert(d)
    tmp = os.path.join(d, "wd", "convert.h5.tmp")
    with h5py.File(tmp, "r") as f:
        first = f["X"].id.get_chunk_info(0).byte_offset
    os.truncate(tmp, first + 4096)
    expect_ok(sluice(d, "run", "p.yaml", "-j", "1", env=ENV, timeout=300))
    expect_same_as_reference(d, "after a resume from a truncated file")
    e = convert_entry(os.path.join(d, "wd"))
    assert e.get("resume", "").startswith("restarted:"), "run.log's convert line does not say it restarted: %r" % e


def test_resume_tmp_replaced_by_link():
    """The interrupted run's convert.h5.tmp moved away and a link to it planted in its
    place (a decoy standing for a file of the user's): the rerun must neither
    write through the link nor trust it; it starts the stage over in a new file and
    leaves the decoy's bytes as they were. Before the fix, the rerun resumed
    writing into the decoy."""
    d = case("resume_tmp_link")
    killed_mid_convert(d)
    tmp = os.path.join(d, "wd", "convert.h5.tmp")
    decoy = os.path.join(d, "decoy.h5")
    os.rename(tmp, decoy)
    os.symlink(decoy, tmp)
    with open(decoy, "rb") as f:
        before = f.read()
    expect_ok(sluice(d, "run", "p.yaml", "-j", "1", env=ENV, timeout=300))
    with open(decoy, "rb") as f:
        assert f.read() == before, "the decoy behind the planted link was written"
    expect_same_as_reference(d, "after a rerun beside a planted link")
    e = convert_entry(os.path.join(d, "wd"))
    assert "not the regular file an interrupted run left" in e.get("resume", ""), (
        "run.log's convert line does not say why it restarted: %r" % e)
    assert not os.path.islink(os.path.join(d, "wd", "convert.h5"))
    expect_no_temp(os.path.join(d, "wd"))


def _rerun_with_journal(d, make):
    """Kills a run inside convert, replaces its journal by make(path), reruns.
    Returns the rerun's peak RSS in KiB."""
    killed_mid_convert(d)
    journal = os.path.join(d, "wd", "convert.h5.tmp.resume")
    os.unlink(journal)
    make(journal)
    env = dict(os.environ, LC_ALL="C", **ENV)
    p = subprocess.Popen([common.SLUICE, "run", "p.yaml", "-j", "1"], cwd=d, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        time.sleep(0.01)
    else:
        p.kill()
        p.wait()
        raise AssertionError("the rerun did not end in 120 s (it blocked on the journal)")
    err = p.stderr.read().decode()
    p.stderr.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    assert p.returncode == 0, "the rerun failed: exit %d: %s" % (p.returncode, err)
    expect_same_as_reference(d, "after a rerun with a hostile journal")
    expect_no_temp(os.path.join(d, "wd"))
    return ru.ru_maxrss


def test_journal_sparse_huge():
    """A sparse 2 GiB and a 64 GiB journal: once read whole into memory (2 GB of RSS;
    64 GiB exhausted it). Now a journal larger than its stage can write is not
    read: the stage restarts, in little memory."""
    for size in (2 << 30, 64 << 30):
        d = case("journal_sparse_%d" % (size >> 30))

        def make(path, size=size):
            with open(path, "wb") as f:
                f.truncate(size)
        rss = _rerun_with_journal(d, make)
        assert rss < 512 * 1024, "a rerun beside a sparse %d GiB journal peaked at %d MiB" % (size >> 30, rss >> 10)


def test_journal_fifo_and_device():
    """A FIFO, and a link to /dev/zero, where the journal is expected: the rerun once
    blocked forever (or read without end). Now neither is read or followed."""
    d = case("journal_fifo")
    _rerun_with_journal(d, os.mkfifo)
    d = case("journal_devzero")
    _rerun_with_journal(d, lambda path: os.symlink("/dev/zero", path))
    assert os.path.exists("/dev/zero") and not os.path.isfile("/dev/zero")


if __name__ == "__main__":
    common.main(globals())
