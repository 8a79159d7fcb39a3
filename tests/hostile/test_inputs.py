#!/usr/bin/python3
"""Hostile-input tests: inputs (issue 14). See common.py for how they run.

Source files sluice did not write: HDF5 layouts the direct reader must not
trust (external links, virtual datasets, external raw storage), datasets whose
chunks were never written, and paths that are FIFOs, devices, folders or
links where a data file or the pipeline file is expected."""
import os
import re
import shutil
import time

import h5py
import numpy as np

import common
from common import expect, expect_ok, h5, sluice, tdir, write  # noqa: F401

LOAD_CONVERT = """
pipeline: inputs
workdir: wd
stages:
  load: { op: load.hdf5, file: %s, arrays: %s }
  conv: { op: convert, input: load, dtype: float64 }
"""


def load_convert(d, file, arrays, streamed=False):
    """Runs load.hdf5 of `arrays` ({name: dataset}) then convert to float64;
    returns {name: array} read back from the convert checkpoint with h5py.
    Stored, load's output is the source read in place (the checkpoint
    reader); streamed, convert reads through load.hdf5's own reader."""
    spec = "{ %s }" % ", ".join("%s: %s" % kv for kv in arrays.items())
    text = LOAD_CONVERT % (file, spec)
    if streamed:
        text = text.replace("op: load.hdf5,", "op: load.hdf5, checkpoint: false,")
    yml = write(d, text)
    shutil.rmtree(os.path.join(d, "wd"), ignore_errors=True)  # nothing reused
    expect_ok(sluice(d, "check", yml))
    p = expect_ok(sluice(d, "run", yml))
    assert ("streamed" in p.stdout) == streamed, p.stdout
    with h5py.File(os.path.join(d, "wd", "conv.h5"), "r") as f:
        return {k: f[k][...] for k in arrays}


def expect_same(got, want, what):
    want = np.asarray(want, dtype=np.float64).reshape(len(want), -1)
    if got.shape != want.shape or not np.array_equal(got, want):
        raise AssertionError("%s: sluice read\n%s\nh5py reads\n%s" % (what, got[:3], want[:3]))


def h5py_values(path, dataset):
    with h5py.File(path, "r") as f:
        return f[dataset][...]


# ---------------------------------------------------------------------------
# item 1: datasets whose bytes are not at an offset of the file sluice opened
# ---------------------------------------------------------------------------

def test_external_link_reads_the_target_file():
    """An external link's dataset lives in the target file: reading the
    target's offsets from the linking file gave the linking file's bytes
    (here its own 7.0s), exit 0."""
    d = tdir("external_link")
    rng = np.random.default_rng(11)
    with h5py.File(os.path.join(d, "target.h5"), "w") as f:
        f["pad"] = np.arange(3000.0)  # the target's X lies past the linking file's header
        f["X"] = rng.normal(size=(40, 3))
        f["y"] = rng.normal(size=40)
    with h5py.File(os.path.join(d, "data.h5"), "w") as f:
        f["Z"] = np.full(20000, 7.0)  # bytes at the target's offsets, in the wrong file
        f["X"] = h5py.ExternalLink("target.h5", "/X")
        f["y"] = h5py.ExternalLink("target.h5", "/y")
    for streamed in (False, True):
        got = load_convert(d, "data.h5", {"X": "/X", "y": "/y"}, streamed=streamed)
        for k in ("X", "y"):
            expect_same(got[k], h5py_values(os.path.join(d, "data.h5"), "/" + k),
                        "external link /%s (load %s)" % (k, "streamed" if streamed else "stored"))


def test_virtual_dataset_reads_its_sources():
    """A virtual dataset (h5py.VirtualLayout) maps two source files: its
    values are theirs, read through HDF5."""
    d = tdir("virtual")
    rng = np.random.default_rng(12)
    parts = [rng.normal(size=(25, 4)), rng.normal(size=(15, 4))]
    for i, a in enumerate(parts):
        with h5py.File(os.path.join(d, "part%d.h5" % i), "w") as f:
            f["X"] = a
    layout = h5py.VirtualLayout(shape=(40, 4), dtype="f8")
    layout[0:25] = h5py.VirtualSource("part0.h5", "/X", shape=(25, 4))
    layout[25:40] = h5py.VirtualSource("part1.h5", "/X", shape=(15, 4))
    with h5py.File(os.path.join(d, "data.h5"), "w", libver="latest") as f:
        f["Z"] = np.full(20000, 7.0)
        f.create_virtual_dataset("X", layout, fillvalue=-1.0)
    want = h5py_values(os.path.join(d, "data.h5"), "/X")
    assert np.array_equal(want, np.vstack(parts)), "h5py does not read the virtual dataset's sources"
    got = load_convert(d, "data.h5", {"X": "/X"})
    expect_same(got["X"], want, "virtual dataset /X")


def test_external_raw_storage_reads_the_raw_file():
    """A contiguous dataset whose bytes are in an external raw file
    (h5py `external=`): the values are the raw file's."""
    d = tdir("external_raw")
    rng = np.random.default_rng(13)
    raw = rng.normal(size=(30, 2))
    raw.tofile(os.path.join(d, "raw.bin"))
    with h5py.File(os.path.join(d, "data.h5"), "w") as f:
        f["Z"] = np.full(20000, 7.0)
        f.create_dataset("X", shape=(30, 2), dtype="f8", external=[("raw.bin", 0, raw.nbytes)])
    got = load_convert(d, "data.h5", {"X": "/X"})
    expect_same(got["X"], raw, "external raw storage /X")


def rerun_after_change(d, change, arrays, what):
    """Runs load -> convert, applies change(), runs again without removing the
    workdir: the second run must recompute load (its values come from the
    changed file) and convert must hold h5py's new values."""
    spec = "{ %s }" % ", ".join("%s: %s" % kv for kv in arrays.items())
    yml = write(d, LOAD_CONVERT % ("data.h5", spec))
    shutil.rmtree(os.path.join(d, "wd"), ignore_errors=True)
    expect_ok(sluice(d, "run", yml))
    change()
    p = expect_ok(sluice(d, "run", yml))
    assert not re.search(r"(?m)^load .*reused", p.stdout), "%s: load was reused:\n%s" % (what, p.stdout)
    with h5py.File(os.path.join(d, "wd", "conv.h5"), "r") as f:
        for k, ds in arrays.items():
            expect_same(f[k][...], h5py_values(os.path.join(d, "data.h5"), ds), what)


def new_values_of_x(path, shape, rng):
    """A change for rerun_after_change: new values for /X in the HDF5 file at
    path, after a pause (so that its mtime moves)."""
    def rewrite():
        time.sleep(0.01)
        with h5py.File(path, "r+") as f:
            f["X"][...] = rng.normal(size=shape)
    return rewrite


def test_linked_files_are_part_of_the_cache_key():
    """The files a source's values come from through links (an external link's
    target, a virtual dataset's source, external raw storage) are part of the
    stage's identity: rewriting one makes the stage stale. Before, only the
    linking file counted, and the next run reused the old values."""
    rng = np.random.default_rng(14)
    # an external link
    d = tdir("key_external_link")
    with h5py.File(os.path.join(d, "target.h5"), "w") as f:
        f["X"] = rng.normal(size=(30, 3))
    with h5py.File(os.path.join(d, "data.h5"), "w") as f:
        f["X"] = h5py.ExternalLink("target.h5", "/X")
    rerun_after_change(d, new_values_of_x(os.path.join(d, "target.h5"), (30, 3), rng), {"X": "/X"},
                       "external link target rewritten")
    # a virtual dataset's source
    d = tdir("key_virtual")
    with h5py.File(os.path.join(d, "part.h5"), "w") as f:
        f["X"] = rng.normal(size=(20, 2))
    layout = h5py.VirtualLayout(shape=(20, 2), dtype="f8")
    layout[:] = h5py.VirtualSource("part.h5", "/X", shape=(20, 2))
    with h5py.File(os.path.join(d, "data.h5"), "w", libver="latest") as f:
        f.create_virtual_dataset("X", layout, fillvalue=-1.0)
    rerun_after_change(d, new_values_of_x(os.path.join(d, "part.h5"), (20, 2), rng), {"X": "/X"},
                       "virtual source rewritten")
    # external raw storage
    d = tdir("key_external_raw")
    raw = rng.normal(size=(25, 2))
    raw.tofile(os.path.join(d, "raw.bin"))
    with h5py.File(os.path.join(d, "data.h5"), "w") as f:
        f.create_dataset("X", shape=(25, 2), dtype="f8", external=[("raw.bin", 0, raw.nbytes)])

    def rewrite_raw():
        time.sleep(0.01)
        rng.normal(size=(25, 2)).tofile(os.path.join(d, "raw.bin"))
    old = os.getcwd()
    os.chdir(d)  # HDF5 looks for a relative raw file in the current folder (sluice runs in d)
    try:
        rerun_after_change(d, rewrite_raw, {"X": "/X"}, "external raw file rewritten")
    finally:
        os.chdir(old)


def test_plain_and_linked_datasets_in_one_stage():
    """A plain dataset next to an external link in one stage: both right
    (the plain one may be read directly, the linked one may not)."""
    d = tdir("plain_and_linked")
    rng = np.random.default_rng(14)
    y = rng.normal(size=50)
    with h5py.File(os.path.join(d, "target.h5"), "w") as f:
        f["pad"] = np.arange(5000.0)
        f["X"] = rng.normal(size=(50, 2))
    with h5py.File(os.path.join(d, "data.h5"), "w") as f:
        f["Z"] = np.full(20000, 7.0)
        f["y"] = y
        f["X"] = h5py.ExternalLink("target.h5", "/X")
    got = load_convert(d, "data.h5", {"X": "/X", "y": "/y"})
    expect_same(got["X"], h5py_values(os.path.join(d, "target.h5"), "/X"), "external link /X")
    expect_same(got["y"], y, "plain /y")


def test_other_files_of_a_dataset_are_checked_before_the_run():
    """The files a dataset reads besides its own: an external link's target,
    a virtual dataset's sources, external raw storage. A FIFO there blocked
    HDF5's open forever; a missing virtual source was read as fill values
    (exit 0); a missing raw file failed only in the middle of `run`. Now
    `check` and `run` stop at once, exit 3, naming the dataset and the file."""
    d = tdir("other_files")
    os.mkfifo(os.path.join(d, "fifo.h5"))
    with h5py.File(os.path.join(d, "data.h5"), "w") as f:
        f["R"] = np.arange(20.0).reshape(10, 2)
        f["elink_fifo"] = h5py.ExternalLink("fifo.h5", "/X")
        for name, src, dset in (("vds_missing", "nothere.h5", "/X"), ("vds_fifo", "fifo.h5", "/X"),
                                ("vds_nodset", ".", "/nods")):
            lay = h5py.VirtualLayout(shape=(10, 2), dtype="f8")
            lay[:] = h5py.VirtualSource(src, dset, shape=(10, 2))
            f.create_virtual_dataset(name, lay, fillvalue=3.5)
        f.create_dataset("raw_missing", shape=(10, 2), dtype="f8", external=[("nothere.bin", 0, 160)])
        f.create_dataset("raw_fifo", shape=(10, 2), dtype="f8", external=[("fifo.h5", 0, 160)])
    cases = {
        "elink_fifo": ("is reached through an external link to '%s/fifo.h5'" % d, "it is a FIFO"),
        "vds_missing": ("virtual dataset '/vds_missing'", "'/X' in 'nothere.h5', which cannot be found", "fill value"),
        "vds_fifo": ("virtual dataset '/vds_fifo'", "'%s/fifo.h5': it is a FIFO" % d),
        "vds_nodset": ("virtual dataset '/vds_nodset'", "'/nods' in '.', which has no such dataset"),
        "raw_missing": ("dataset '/raw_missing'", "external file 'nothere.bin', which cannot be found",
                        "HDF5_EXTFILE_PREFIX"),
        "raw_fifo": ("dataset '/raw_fifo'", "external file 'fifo.h5': it is a FIFO"),
    }
    for dataset, needles in cases.items():
        yml = write(d, LOAD_CONVERT % ("data.h5", "{ X: /%s }" % dataset))
        for cmd in ("check", "run"):
            expect(sluice(d, cmd, yml, timeout=SHORT), 3, "stage 'load'", "in '%s/data.h5'" % d, *needles)
        assert not os.path.exists(os.path.join(d, "wd", "conv.h5")), dataset + ": a stage ran"


def test_external_raw_file_with_a_very_long_name():
    """External raw storage naming a file of 5000 characters: libhdf5 1.10 hands the
    name back without its terminating NUL when it fills the caller's buffer, and
    sluice read past its 4096-byte buffer (found with a fuzzing probe; ASan:
    stack-buffer-overflow). Now the name is refused, exit 3, at check and at run."""
    d = tdir("external_raw_long_name")
    name = "r" * 5000
    with h5py.File(os.path.join(d, "data.h5"), "w") as f:
        f.create_dataset("X", shape=(10, 2), dtype="f8", external=[(name, 0, 160)])
    yml = write(d, LOAD_CONVERT % ("data.h5", "{ X: /X }"))
    for cmd in ("check", "run"):
        expect(sluice(d, cmd, yml, timeout=SHORT), 3, "dataset '/X'", "external file '%s...'" % ("r" * 64),
               "a name longer than 4095 bytes")


def test_external_raw_file_found_beside_with_origin_prefix():
    """Run from another folder, a relative raw file is not found (an error at
    `check`, not in the middle of `run`); HDF5_EXTFILE_PREFIX='${ORIGIN}'
    finds it beside the HDF5 file, and the values are the raw file's."""
    d = tdir("external_raw_origin")
    data = os.path.join(d, "data")
    os.makedirs(data)
    raw = np.random.default_rng(15).normal(size=(12, 3))
    raw.tofile(os.path.join(data, "raw.bin"))
    with h5py.File(os.path.join(data, "data.h5"), "w") as f:
        f.create_dataset("X", shape=(12, 3), dtype="f8", external=[("raw.bin", 0, raw.nbytes)])
    yml = write(d, LOAD_CONVERT % ("data/data.h5", "{ X: /X }"))
    expect(sluice(d, "check", yml, timeout=SHORT), 3, "external file 'raw.bin', which cannot be found",
           "in the current folder")
    env = {"HDF5_EXTFILE_PREFIX": "${ORIGIN}"}
    expect_ok(sluice(d, "check", yml, env=env, timeout=SHORT))
    expect_ok(sluice(d, "run", yml, env=env, timeout=SHORT))
    with h5py.File(os.path.join(d, "wd", "conv.h5"), "r") as f:
        expect_same(f["X"][...], raw, "external raw storage beside the file")


# ---------------------------------------------------------------------------
# item 6 (inputs): special files where a data file or the pipeline file is
# expected. Run under a short timeout, so that a regression that blocks fails.
# ---------------------------------------------------------------------------

SHORT = 20  # seconds: the answer takes milliseconds; a blocked open never comes


def special(d, name, kind):
    """Makes d/name a `kind`: fifo, zero (a link to /dev/zero), dir (a link
    to a folder). Returns its path."""
    path = os.path.join(d, name)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "zero":
        os.symlink("/dev/zero", path)
    else:
        os.makedirs(os.path.join(d, "folder"), exist_ok=True)
        os.symlink("folder", path)
    return path


WHAT = {"fifo": "it is a FIFO, not a regular file", "zero": "it is a character device, not a regular file",
        "dir": "it is a directory, not a regular file"}


def test_special_file_as_load_file():
    """load.hdf5's file is a FIFO (HDF5's open blocked forever), a link to
    /dev/zero or a link to a folder: `check` and `run` stop at once, exit 3,
    naming the path, what it is, and the parameter."""
    for kind in ("fifo", "zero", "dir"):
        d = tdir("load_file_" + kind)
        path = special(d, "data.h5", kind)
        yml = write(d, LOAD_CONVERT % ("data.h5", "{ X: /X }"))
        for cmd in ("check", "run"):
            expect(sluice(d, cmd, yml, timeout=SHORT), 3, "stage 'load'", "cannot open HDF5 file '%s'" % path,
                   WHAT[kind], "check 'file'")
        assert not os.path.exists(os.path.join(d, "wd", "load.h5")), "a checkpoint was written"


def test_special_file_as_pipeline_file():
    """The pipeline file is a FIFO (fopen blocked forever), a link to
    /dev/zero or a link to a folder: exit 3 naming it and what it is."""
    for kind in ("fifo", "zero", "dir"):
        d = tdir("pipeline_file_" + kind)
        h5(d)
        path = special(d, "p.yaml", kind)
        for cmd in ("check", "run", "status"):
            expect(sluice(d, cmd, path, timeout=SHORT), 3, "cannot open pipeline file '%s'" % path, WHAT[kind])


def test_symlinks_to_regular_files_stay_fine():
    """A link to a regular data file and a link to the pipeline file are
    followed, and `verify: content` hashes the data through the link."""
    d = tdir("symlinked_inputs")
    os.makedirs(os.path.join(d, "real"))
    src = h5(os.path.join(d, "real"), name="source.h5", rows=30, cols=2, seed=5)
    os.symlink(os.path.join("real", "source.h5"), os.path.join(d, "data.h5"))
    text = LOAD_CONVERT % ("data.h5", "{ X: /X, y: /y }")
    text = text.replace("op: load.hdf5,", "op: load.hdf5, verify: content,")
    write(os.path.join(d, "real"), text, name="real.yaml")
    os.symlink(os.path.join("real", "real.yaml"), os.path.join(d, "p.yaml"))
    # the pipeline's folder is the link's (paths resolve against it): data.h5 is the link
    expect_ok(sluice(d, "check", "p.yaml", timeout=SHORT))
    expect_ok(sluice(d, "run", "p.yaml", timeout=SHORT))
    with h5py.File(os.path.join(d, "wd", "conv.h5"), "r") as f:
        for k in ("X", "y"):
            expect_same(f[k][...], h5py_values(src, "/" + k), "linked source /" + k)
    p = expect_ok(sluice(d, "status", "p.yaml", timeout=SHORT))
    assert "fresh" in p.stdout, "a second look does not find the stages fresh:\n" + p.stdout


# ---------------------------------------------------------------------------
# item 9: datasets whose chunks (or storage) were never written
# ---------------------------------------------------------------------------

def expect_unwritten(d, dataset, *needles):
    """`check` and `run` stop within seconds, before any stage runs: exit 1
    at the stage, naming the file and the dataset; no checkpoint."""
    path = os.path.join(d, "data.h5")
    yml = write(d, LOAD_CONVERT % ("data.h5", "{ X: %s }" % dataset))
    for cmd in ("check", "run"):
        start = time.monotonic()
        expect(sluice(d, cmd, yml, timeout=SHORT), 1, "stage 'load'", "dataset '%s' in '%s'" % (dataset, path),
               *needles)
        took = time.monotonic() - start
        assert took < 5, "%s took %.1f s" % (cmd, took)
    left = os.listdir(os.path.join(d, "wd")) if os.path.isdir(os.path.join(d, "wd")) else []
    assert not [n for n in left if n.endswith(".h5") or n.endswith(".tmp")], "files left: %s" % left


def test_huge_declared_dataset_with_no_chunk_written():
    """The issue's file: 1.6 KB declaring 10^12 x 16 float64 and no chunk
    written. `check` said ok and `run` streamed fill values for hours."""
    d = tdir("unwritten_huge")
    with h5py.File(os.path.join(d, "data.h5"), "w") as f:
        f.create_dataset("X", shape=(10**12, 16), dtype="f8", chunks=True)
    assert os.path.getsize(os.path.join(d, "data.h5")) < 4096
    expect_unwritten(d, "/X", "0 of its", "chunks written", "fill value", "write the whole dataset")


def test_partly_written_chunked_dataset():
    """3 of 10 chunks written, plain and compressed: the other 700 rows were
    read as zeros (the fill value), exit 0."""
    for comp in (None, "gzip"):
        d = tdir("unwritten_part_%s" % comp)
        with h5py.File(os.path.join(d, "data.h5"), "w") as f:
            x = f.create_dataset("X", shape=(1000, 4), dtype="f8", chunks=(100, 4), compression=comp)
            x[0:300] = 1.5
        expect_unwritten(d, "/X", "has 3 of its 10 chunks written", "fill value")


def test_huge_partly_written_unfiltered_dataset():
    """Many declared chunks (more than are counted one by one), a few
    written: bounded by the file's size, without walking the chunk index."""
    d = tdir("unwritten_huge_part")
    with h5py.File(os.path.join(d, "data.h5"), "w", libver="latest") as f:
        x = f.create_dataset("X", shape=(10**10, 4), dtype="f8", chunks=(4096, 4))
        x[0:3 * 4096] = 2.0
    expect_unwritten(d, "/X", "chunks written", "each chunk takes 131072", "fill value")


def test_contiguous_dataset_never_written():
    """A contiguous dataset created but never written has no storage at all."""
    d = tdir("unwritten_contiguous")
    with h5py.File(os.path.join(d, "data.h5"), "w") as f:
        f.create_dataset("X", shape=(5000, 3), dtype="f8")
    expect_unwritten(d, "/X", "was never written", "fill value")


def test_fully_written_chunked_dataset_runs():
    """The same shapes written in full read back exactly (the check does not
    refuse good files)."""
    d = tdir("written_chunked")
    rng = np.random.default_rng(21)
    x = rng.normal(size=(1000, 4))
    with h5py.File(os.path.join(d, "data.h5"), "w") as f:
        f.create_dataset("X", data=x, chunks=(100, 4))
        f.create_dataset("y", data=x[:, 0], chunks=(64,), compression="gzip")
    got = load_convert(d, "data.h5", {"X": "/X", "y": "/y"})
    expect_same(got["X"], x, "chunked /X")
    expect_same(got["y"], x[:, 0], "compressed chunked /y")


if __name__ == "__main__":
    common.main(globals())
