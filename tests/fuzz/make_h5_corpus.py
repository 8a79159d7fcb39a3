#!/usr/bin/python3
"""Writes the seed corpus of fuzz_h5load: small valid HDF5 files (each under
20 KB) covering what load.hdf5 reads and rejects.

usage: /usr/bin/python3 tests/fuzz/make_h5_corpus.py [OUTDIR]   (default: corpus/h5load here)

The harness plans `load.hdf5 -> describe` pipelines on fixed dataset paths, so
every file keeps its data there:  /X (2-D) with /y (1-D, same rows),
/g/sub/v (under groups), /s (strings), /r3 (rank 3).  Between them the files
cover every integer width and signedness, float32/64, big-endian, chunked /
contiguous / compact / compressed / unallocated storage, the old and the new
file format (object headers, group and chunk indexes), column-name attributes,
soft and external links, a user block, and the files load.hdf5 must refuse
(strings, compound, enum, half floats, rank 3, empty, row mismatch, a group
where a dataset should be). Timestamps are off, so the bytes are reproducible.

Datasets whose bytes are not at an offset of the file sluice opened (issue
14): external links to side.h5 (which the harness writes beside in.h5), to
in.h5 itself and to a missing file; virtual datasets over side.h5, in.h5 and
a missing file; external raw storage (files HDF5 looks for in the current
folder, absent there). And datasets whose chunks were never written: part of
the chunks, none of 10^12 rows, a huge extensible-array dataset with one
chunk, contiguous storage never allocated.
"""
import os
import sys

import h5py
import numpy as np

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "h5load")
MAX_BYTES = 20 * 1024


def rows(n, cols, dtype, seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, cols)) * 10
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        a = np.clip(np.round(a), max(info.min, -100), min(info.max, 100))
    return a.astype(dtype)


def new(name, libver=None, userblock_size=0):
    """A new file whose root group records no times (its bytes do not depend
    on when it was made)."""
    path = os.path.join(OUT, name)
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)
    if userblock_size:
        fcpl.set_userblock(userblock_size)
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    if libver == "latest":
        fapl.set_libver_bounds(h5py.h5f.LIBVER_LATEST, h5py.h5f.LIBVER_LATEST)
    return h5py.File(h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl))


def ds(f, path, data, **kw):
    kw.setdefault("track_times", False)
    return f.create_dataset(path, data=data, **kw)


def group(f, path):
    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)
    lcpl = h5py.h5p.create(h5py.h5p.LINK_CREATE)
    lcpl.set_create_intermediate_group(True)
    h5py.h5g.create(f.id, path.encode(), lcpl=lcpl, gcpl=gcpl)


def xy(name, n=20, cols=3, xdt="f4", ydt="f4", seed=0, xkw=None, ykw=None, **fkw):
    with new(name, **fkw) as f:
        ds(f, "X", rows(n, cols, xdt, seed), **(xkw or {}))
        ds(f, "y", rows(n, 1, ydt, seed + 1)[:, 0], **(ykw or {}))


def main():
    os.makedirs(OUT, exist_ok=True)
    # numeric types, contiguous, the default (earliest) format
    xy("f32_contig.h5")
    xy("f64_contig.h5", xdt="f8", ydt="f8", seed=2)
    for dt in ("i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8"):
        xy("int_%s.h5" % dt, n=12, cols=2, xdt=dt, ydt=dt, seed=3)
    xy("bigendian.h5", xdt=">f4", ydt=">i4", seed=4)
    xy("bigendian_f8_u2.h5", xdt=">f8", ydt=">u2", seed=5)
    # storage layouts
    xy("chunked.h5", n=40, cols=4, xdt="f8", ydt="f8", seed=6, xkw={"chunks": (7, 4)}, ykw={"chunks": (16,)})
    xy("chunked_gzip_shuffle.h5", n=64, cols=3, seed=7,
       xkw={"chunks": (16, 3), "compression": "gzip", "shuffle": True}, ykw={"chunks": (32,), "compression": "gzip"})
    xy("chunked_fletcher.h5", n=30, cols=2, seed=8, xkw={"chunks": (8, 1), "fletcher32": True})
    xy("chunked_maxshape.h5", n=25, cols=3, seed=9, xkw={"chunks": (10, 3), "maxshape": (None, 3)},
       ykw={"chunks": (10,), "maxshape": (None,)})
    with new("compact.h5") as f:
        sp = h5py.h5s.create_simple((10, 2))
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_layout(h5py.h5d.COMPACT)
        dcpl.set_obj_track_times(False)
        h5py.h5d.create(f.id, b"X", h5py.h5t.IEEE_F32LE, sp, dcpl=dcpl).write(
            h5py.h5s.ALL, h5py.h5s.ALL, rows(10, 2, "f4", 10))
        ds(f, "y", np.arange(10, dtype="f4"))
    with new("unallocated_fill.h5") as f:
        f.create_dataset("X", shape=(15, 2), dtype="f4", chunks=(5, 2), fillvalue=1.5, track_times=False)
        f.create_dataset("y", shape=(15,), dtype="f4", fillvalue=-2.0, track_times=False)
    # the new file format: superblock v3, new-style groups, chunk indexes
    xy("latest.h5", libver="latest", seed=11)
    xy("latest_chunked.h5", n=50, cols=3, seed=12, libver="latest",
       xkw={"chunks": (10, 3)}, ykw={"chunks": (10,), "maxshape": (None,)})
    xy("latest_btree2.h5", n=30, cols=4, seed=13, libver="latest",
       xkw={"chunks": (8, 2), "maxshape": (None, None)}, ykw={"chunks": (8,), "compression": "gzip"})
    xy("userblock.h5", seed=14, userblock_size=512)
    # values
    with new("nan_inf.h5") as f:
        X = rows(16, 3, "f4", 15)
        X[1, 0] = np.nan
        X[3, 2] = np.inf
        X[5, 1] = -np.inf
        ds(f, "X", X)
        ds(f, "y", np.where(np.arange(16) % 5 == 0, np.nan, 1.0).astype("f8"))
    xy("one_row.h5", n=1, cols=1, seed=16)
    xy("wide.h5", n=4, cols=200, seed=17)
    xy("tall.h5", n=600, cols=2, xdt="f4", ydt="i1", seed=18, xkw={"chunks": (100, 2), "compression": "gzip"})
    # column names
    with new("columns_vlen.h5") as f:
        d = ds(f, "X", rows(10, 3, "f4", 19))
        d.attrs.create("columns", ["age", "bmi", "bp"], dtype=h5py.string_dtype())
        ds(f, "y", rows(10, 1, "f4", 20)[:, 0])
    with new("columns_fixed.h5") as f:
        d = ds(f, "X", rows(10, 3, "f8", 21))
        d.attrs["columns"] = np.array([b"a", b"bb", b"ccc"], dtype="S3")
        ds(f, "y", rows(10, 1, "f8", 22)[:, 0])
    with new("columns_wrong.h5") as f:
        d = ds(f, "X", rows(10, 3, "f4", 23))
        d.attrs["columns"] = np.array([b"only", b"two"], dtype="S4")
        y = ds(f, "y", rows(10, 1, "f4", 24)[:, 0])
        y.attrs["columns"] = np.array([7])
    # groups and links
    with new("group_path.h5") as f:
        group(f, "g/sub")
        ds(f, "g/sub/v", rows(30, 1, "f8", 25)[:, 0])
        ds(f, "X", rows(30, 2, "f4", 26))
        f["y"] = h5py.SoftLink("/g/sub/v")
    with new("group_path_latest.h5", libver="latest") as f:
        group(f, "g/sub")
        ds(f, "g/sub/v", rows(9, 2, "i2", 27), chunks=(3, 2))
    with new("links.h5") as f:
        group(f, "data")
        ds(f, "data/X", rows(8, 2, "f4", 28))
        f["X"] = h5py.SoftLink("/data/X")
        f["y"] = h5py.ExternalLink("missing.h5", "/y")
        f["g/sub/v"] = h5py.SoftLink("/nowhere")
    with new("group_not_dataset.h5") as f:
        group(f, "X")
        group(f, "g/sub/v")
        ds(f, "y", np.zeros(4, "f4"))
    # what load.hdf5 refuses
    with new("strings.h5") as f:
        ds(f, "s", np.array([b"a", b"bc", b"def"], dtype="S3"))
        ds(f, "X", np.array(["x", "yy"], dtype=object), dtype=h5py.string_dtype())
        ds(f, "y", np.zeros(2, "f4"))
    with new("rank3.h5") as f:
        ds(f, "r3", rows(24, 1, "f4", 29).reshape(2, 3, 4))
        ds(f, "X", np.zeros((0, 3), "f4"))
        ds(f, "y", np.float32(3.5))  # a scalar dataset: rank 0
    with new("compound_enum_half.h5") as f:
        ds(f, "X", np.zeros(5, dtype=[("a", "f4"), ("b", "i2")]))
        ds(f, "y", np.arange(5, dtype="u1"), dtype=h5py.enum_dtype({"lo": 0, "hi": 4}, basetype="u1"))
        ds(f, "g/sub/v", np.arange(5, dtype="f2"))
        ds(f, "s", np.array([1 + 2j, 3j]))
    xy("row_mismatch.h5", n=20, seed=30, ykw=None)
    with h5py.File(os.path.join(OUT, "row_mismatch.h5"), "a") as f:
        del f["y"]
        ds(f, "y", np.zeros(19, "f4"))
    with new("empty_cols.h5") as f:
        ds(f, "X", np.zeros((5, 0), "f4"))
        ds(f, "y", np.zeros(5, "f4"))
        f.create_dataset("r3", shape=None, dtype="f4", track_times=False)  # a null dataspace
    hostile_layouts()
    too_big = []
    for name in sorted(os.listdir(OUT)):
        size = os.path.getsize(os.path.join(OUT, name))
        if size > MAX_BYTES:
            too_big.append("%s (%d bytes)" % (name, size))
    if too_big:
        sys.exit("make_h5_corpus: over %d bytes: %s" % (MAX_BYTES, ", ".join(too_big)))
    print("wrote %d files to %s" % (len(os.listdir(OUT)), OUT))


def vds(f, name, shape, dtype, maps, fill=0):
    """A virtual dataset (h5py's VirtualLayout records times: the low-level
    calls do not). maps: ((row0, row1), source file, source dataset), rows
    row0:row1 of the source to the same rows here."""
    space = h5py.h5s.create_simple(shape)
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_obj_track_times(False)
    tid = h5py.h5t.py_create(np.dtype(dtype))
    dcpl.set_fill_value(np.array(fill, dtype=dtype))
    for (r0, r1), file, dset in maps:
        start, count = (r0,) + (0,) * (len(shape) - 1), (r1 - r0,) + tuple(shape[1:])
        vsel, ssel = h5py.h5s.create_simple(shape), h5py.h5s.create_simple(shape)
        vsel.select_hyperslab(start, count)
        ssel.select_hyperslab(start, count)
        dcpl.set_virtual(vsel, file.encode(), dset.encode(), ssel)
    h5py.h5d.create(f.id, name.encode(), tid, space, dcpl=dcpl).close()


def hostile_layouts():
    """Issue 14: datasets that live in another file, or whose storage was
    never written. side.h5 is the harness's (fuzz_h5load.c: /X float32 20 x 3,
    /y float32 20, /g/sub/v float64 20)."""
    with new("ext_link_side.h5") as f:
        ds(f, "Z", np.full(600, 7.0, "f4"))  # bytes where side.h5's data lie, in the wrong file
        f["X"] = h5py.ExternalLink("side.h5", "/X")
        f["y"] = h5py.ExternalLink("side.h5", "/y")
        f["g/sub/v"] = h5py.ExternalLink("side.h5", "/g/sub/v")
    with new("ext_link_self.h5") as f:
        group(f, "data")
        ds(f, "data/X", rows(12, 2, "f8", 40))
        ds(f, "data/y", rows(12, 1, "f8", 41)[:, 0])
        f["X"] = h5py.ExternalLink("in.h5", "/data/X")
        f["y"] = h5py.ExternalLink("in.h5", "/data/y")
    with new("ext_link_missing.h5") as f:
        ds(f, "Z", np.full(100, 7.0, "f4"))
        f["X"] = h5py.ExternalLink("missing.h5", "/X")
        f["y"] = h5py.ExternalLink("missing.h5", "/y")
        f["g/sub/v"] = h5py.ExternalLink("/nonexistent/dir/missing.h5", "/g/sub/v")
    with new("vds_side.h5") as f:
        ds(f, "data/X", rows(20, 3, "f4", 42))
        vds(f, "X", (20, 3), "<f4", [((0, 10), "side.h5", "/X"), ((10, 20), ".", "/data/X")], fill=-1)
        vds(f, "y", (20,), "<f4", [((0, 20), "side.h5", "/y")])
    with new("vds_missing.h5") as f:
        vds(f, "X", (16, 2), "<f8", [((0, 16), "missing.h5", "/X")], fill=3.5)
        ds(f, "y", rows(16, 1, "f8", 43)[:, 0])
    with new("external_raw.h5") as f:
        f.create_dataset("X", shape=(10, 2), dtype="f8", external=[("side.bin", 0, 160)], track_times=False)
        f.create_dataset("y", shape=(10,), dtype="f4", external=[("in.h5", 0, 24), ("in.h5", 100, 16)],
                         track_times=False)
    with new("unwritten_partial.h5") as f:
        x = f.create_dataset("X", shape=(40, 3), dtype="f4", chunks=(8, 3), track_times=False)
        x[0:16] = rows(16, 3, "f4", 44)
        ds(f, "y", rows(40, 1, "f4", 45)[:, 0], chunks=(8,))
        v = f.create_dataset("g/sub/v", shape=(40,), dtype="f8", chunks=(8,), compression="gzip",
                             track_times=False)
        v[8:24] = 1.0
    with new("unwritten_huge.h5") as f:
        f.create_dataset("X", shape=(10**12, 16), dtype="f8", chunks=True, track_times=False)
        f.create_dataset("y", shape=(10**12,), dtype="f8", chunks=True, track_times=False)
        f.create_dataset("g/sub/v", shape=(10**12,), dtype="f8", track_times=False)  # contiguous, never allocated
    with new("unwritten_huge_earray.h5", libver="latest") as f:
        x = f.create_dataset("X", shape=(10**9, 2), maxshape=(None, 2), dtype="f4", chunks=(64, 2),
                             track_times=False)
        x[0:64] = rows(64, 2, "f4", 46)
        f.create_dataset("y", shape=(10**9,), maxshape=(None,), dtype="f4", chunks=(64,), track_times=False)


if __name__ == "__main__":
    main()
