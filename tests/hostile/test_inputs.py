#!/usr/bin/python3
"""Hostile-input tests: inputs (issue 14). See common.py for how they run.

Source files sluice did not write: HDF5 layouts the direct reader must not
trust (external links, virtual datasets, external raw storage), datasets whose
chunks were never written, and paths that are FIFOs, devices, folders or
links where a data file or the pipeline file is expected."""
import os

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


def load_convert(d, file, arrays):
    """Runs load.hdf5 of `arrays` ({name: dataset}) then convert to float64;
    returns {name: array} read back from the convert checkpoint with h5py."""
    spec = "{ %s }" % ", ".join("%s: %s" % kv for kv in arrays.items())
    yml = write(d, LOAD_CONVERT % (file, spec))
    expect_ok(sluice(d, "check", yml))
    expect_ok(sluice(d, "run", yml))
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
    got = load_convert(d, "data.h5", {"X": "/X", "y": "/y"})
    for k in ("X", "y"):
        expect_same(got[k], h5py_values(os.path.join(d, "data.h5"), "/" + k), "external link /" + k)


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


if __name__ == "__main__":
    common.main(globals())
