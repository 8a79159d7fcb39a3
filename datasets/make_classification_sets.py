#!/usr/bin/python3
"""Write scikit-learn's bundled classification data sets to datasets/*.h5.

usage: /usr/bin/python3 datasets/make_classification_sets.py [OUT_DIR] [--check]

  OUT_DIR   default: the folder of this script (datasets/)
  --check   write nothing; compare the files in OUT_DIR with the loaders and
            with the CSV files, value for value, and exit 1 on a difference

Writes, from sklearn.datasets.load_breast_cancer(), load_iris() and
load_wine() (which read sklearn/datasets/data/breast_cancer.csv, iris.csv and
wine_data.csv):

  breast_cancer.h5, iris.h5, wine.h5, each with
  /X  float64 (n, F), attribute "columns" = the loader's feature_names (the
      attribute load.hdf5 reads column names from)
  /y  int64 (n, 1), the loader's target (class numbers 0, 1, ...), attribute
      "classes" = the loader's target_names (the name of class k at k)
  file attributes: source, licence, citation, rows, features, classes,
      class_counts, generator

The values are the loaders' own arrays, and the script checks them against
its own parse of the CSV files (Python's float() of each decimal: the nearest
float64) before writing. Each dataset is one chunk, byte-shuffled and deflated
(level 9): both filters are built into HDF5, so load.hdf5, h5py and h5dump
read the files without a plugin. That saves 15 % on breast_cancer.h5 (127 KB
instead of 149 KB contiguous). The files are written with fixed creation properties (no timestamps, earliest
file format), so the same h5py/HDF5/zlib versions give the same bytes.
"""
import csv
import os
import sys

import h5py
import numpy as np

LICENCE = ("BSD-3-Clause, as distributed with scikit-learn (Copyright (c) 2007-2019 scikit-learn "
           "developers; Debian's /usr/share/doc/python3-sklearn/copyright)")

SETS = {
    "breast_cancer": dict(
        loader="load_breast_cancer", csv="breast_cancer.csv", rows=569, features=30,
        source=("scikit-learn sklearn/datasets/data/breast_cancer.csv (load_breast_cancer), a copy of the UCI "
                "Machine Learning Repository's Breast Cancer Wisconsin (Diagnostic) data set; creators "
                "William H. Wolberg, W. Nick Street, Olvi L. Mangasarian, donor Nick Street, November 1995"),
        citation=("W.N. Street, W.H. Wolberg and O.L. Mangasarian (1993), \"Nuclear feature extraction for "
                  "breast tumor diagnosis\", IS&T/SPIE 1993 International Symposium on Electronic Imaging: "
                  "Science and Technology, volume 1905, 861-870")),
    "iris": dict(
        loader="load_iris", csv="iris.csv", rows=150, features=4,
        source=("scikit-learn sklearn/datasets/data/iris.csv (load_iris): Fisher's iris data as in his paper "
                "(and in R; the UCI Machine Learning Repository's copy has two wrong data points); creator "
                "R.A. Fisher, donor Michael Marshall, July 1988"),
        citation=("R.A. Fisher (1936), \"The use of multiple measurements in taxonomic problems\", Annual "
                  "Eugenics 7, Part II, 179-188")),
    "wine": dict(
        loader="load_wine", csv="wine_data.csv", rows=178, features=13,
        source=("scikit-learn sklearn/datasets/data/wine_data.csv (load_wine), a copy of the UCI Machine "
                "Learning Repository's Wine recognition data set; original owners M. Forina et al., PARVUS, "
                "Institute of Pharmaceutical and Food Analysis and Technologies, Genoa"),
        citation=("Lichman, M. (2013), UCI Machine Learning Repository [https://archive.ics.uci.edu/ml], "
                  "Irvine, CA: University of California, School of Information and Computer Science")),
}


def parse_csv(path):
    """X, y and the class names of one of sklearn's CSV files, parsed here
    (header: n, F, class names; then F values and the class per line)."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    n, F = int(rows[0][0]), int(rows[0][1])
    X = np.array([[float(v) for v in r[:F]] for r in rows[1:]], dtype=np.float64)
    y = np.array([int(r[F]) for r in rows[1:]], dtype=np.int64)
    if X.shape != (n, F) or len(rows[0]) < 3:
        raise ValueError("%s: header says %d x %d, found %s" % (path, n, F, X.shape))
    return X, y, list(rows[0][2:])


def load(name):
    """What the loader gives, checked against our own parse of its CSV file."""
    import sklearn.datasets
    spec = SETS[name]
    b = getattr(sklearn.datasets, spec["loader"])()
    X = np.ascontiguousarray(b.data, dtype=np.float64)
    y = np.asarray(b.target, dtype=np.int64).reshape(-1, 1)
    names = [str(s) for s in b.feature_names]
    classes = [str(s) for s in b.target_names]
    data_dir = os.path.join(os.path.dirname(sklearn.datasets.__file__), "data")
    Xc, yc, cc = parse_csv(os.path.join(data_dir, spec["csv"]))
    if X.shape != (spec["rows"], spec["features"]) or len(names) != spec["features"]:
        raise ValueError("%s: unexpected shape %s" % (name, X.shape))
    if not (np.array_equal(X, Xc) and np.array_equal(y.ravel(), yc) and classes == cc):
        raise ValueError("%s: the loader and the CSV file disagree" % name)
    if not np.isfinite(X).all():
        raise ValueError("%s: non-finite values" % name)
    if sorted(set(y.ravel().tolist())) != list(range(len(classes))):
        raise ValueError("%s: classes are not 0..%d" % (name, len(classes) - 1))
    return X, y, names, classes


def utf8_strings(values):
    """Keywords of attrs.create for an array of variable-length UTF-8 strings."""
    return dict(data=np.array(values, dtype=object), dtype=h5py.string_dtype("utf-8"))


def write(path, name, X, y, names, classes):
    spec = SETS[name]
    counts = np.bincount(y.ravel(), minlength=len(classes)).astype(np.int64)
    tmp = path + ".tmp"
    # libver earliest + no time tracking: deterministic bytes for a given h5py/HDF5/zlib
    with h5py.File(tmp, "w", libver="earliest", track_order=False) as h:
        # deflate and shuffle are built into HDF5 (no plugin to read them); one
        # chunk per dataset compresses best at these sizes
        opts = dict(track_times=False, shuffle=True, compression="gzip", compression_opts=9)
        dx = h.create_dataset("X", data=X, dtype="<f8", chunks=X.shape, **opts)
        dx.attrs.create("columns", **utf8_strings(names))
        dy = h.create_dataset("y", data=y, dtype="<i8", chunks=y.shape, **opts)
        dy.attrs.create("classes", **utf8_strings(classes))
        for key in ("source", "citation"):
            h.attrs[key] = spec[key]
        h.attrs["licence"] = LICENCE
        h.attrs["rows"] = np.int64(X.shape[0])
        h.attrs["features"] = np.int64(X.shape[1])
        h.attrs.create("classes", **utf8_strings(classes))
        h.attrs["class_counts"] = counts
        h.attrs["generator"] = "datasets/make_classification_sets.py"
    os.replace(tmp, path)
    print("wrote %s: X %s float64, y %s int64, classes %s"
          % (path, X.shape, y.shape, ", ".join("%s=%d" % c for c in zip(classes, counts))))


def check(path, name, X, y, names, classes):
    """Differences between the file and the loader, as text ("" when none)."""
    with h5py.File(path, "r") as h:
        got = {"X": h["X"][...], "y": h["y"][...],
               "columns": [s.decode() if isinstance(s, bytes) else s for s in h["X"].attrs["columns"]],
               "classes": [s.decode() if isinstance(s, bytes) else s for s in h["y"].attrs["classes"]]}
        types = (h["X"].dtype, h["y"].dtype)
    bad = []
    if types != (np.dtype("<f8"), np.dtype("<i8")):
        bad.append("types %s" % (types,))
    if got["X"].shape != X.shape or got["X"].tobytes() != X.tobytes():
        bad.append("X differs")
    if got["y"].shape != y.shape or not np.array_equal(got["y"], y):
        bad.append("y differs")
    if got["columns"] != names:
        bad.append("column names differ")
    if got["classes"] != classes:
        bad.append("class names differ")
    return "; ".join(bad)


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("-")]
    if any(a in ("-h", "--help") for a in argv[1:]):
        print(__doc__)
        return 0
    out_dir = args[0] if args else os.path.dirname(os.path.abspath(__file__))
    status = 0
    for name in SETS:
        X, y, names, classes = load(name)
        path = os.path.join(out_dir, name + ".h5")
        if "--check" in argv:
            why = check(path, name, X, y, names, classes)
            print("%s: %s" % (path, why or "equal to %s()" % SETS[name]["loader"]))
            status |= bool(why)
        else:
            write(path, name, X, y, names, classes)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
