#!/usr/bin/python3
"""Convert scikit-learn's bundled (raw, unscaled) diabetes data to datasets/diabetes.h5.

usage: /usr/bin/python3 datasets/make_diabetes.py [OUT.h5] [SKLEARN_DATA_DIR]

  OUT.h5            default: diabetes.h5 next to this script
  SKLEARN_DATA_DIR  default: the data/ directory of the installed sklearn.datasets
                    (e.g. /usr/lib/python3/dist-packages/sklearn/datasets/data)

Reads diabetes_data_raw.csv.gz (442 rows x 10 space-separated columns: age, sex, bmi,
bp, s1..s6, in original units) and diabetes_target.csv.gz (442 values: disease
progression one year after baseline) and writes:

  /X  float64 (442, 10), contiguous, attribute "columns" = the 10 feature names
  /y  float64 (442,)
  file attributes: source, licence, citation, rows, features, generator

The values are exactly the parsed decimal values of the CSV files (all are short
decimals, so parsing is exact to the nearest float64 and reproducible).  The file is
written with fixed creation properties (no timestamps, earliest file format), so
re-running this script with the same h5py/HDF5 versions gives the same bytes.
"""
import gzip
import os
import sys

import h5py
import numpy as np

COLUMNS = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]

SOURCE = ("scikit-learn sklearn/datasets/data/diabetes_data_raw.csv.gz and "
          "diabetes_target.csv.gz (raw, unscaled version of load_diabetes); "
          "original data: Bradley Efron, Trevor Hastie, Iain Johnstone, Robert "
          "Tibshirani, https://web.stanford.edu/~hastie/Papers/LARS/ "
          "(also https://www4.stat.ncsu.edu/~boos/var.select/diabetes.html)")
LICENCE = ("BSD-3-Clause, as distributed with scikit-learn "
           "(Copyright (c) 2007-2019 scikit-learn developers)")
CITATION = ("Bradley Efron, Trevor Hastie, Iain Johnstone and Robert Tibshirani "
            "(2004) \"Least Angle Regression\", Annals of Statistics 32(2), 407-499 "
            "(with discussion)")


def default_data_dir():
    import sklearn.datasets
    return os.path.join(os.path.dirname(sklearn.datasets.__file__), "data")


def read_gz(path):
    with gzip.open(path, "rt", encoding="ascii") as fh:
        return np.loadtxt(fh, dtype=np.float64, ndmin=1)


def main(argv):
    if len(argv) > 1 and argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0
    here = os.path.dirname(os.path.abspath(__file__))
    out = argv[1] if len(argv) > 1 else os.path.join(here, "diabetes.h5")
    data_dir = argv[2] if len(argv) > 2 else default_data_dir()

    X = read_gz(os.path.join(data_dir, "diabetes_data_raw.csv.gz"))
    y = read_gz(os.path.join(data_dir, "diabetes_target.csv.gz"))
    if X.shape != (442, 10) or y.shape != (442,):
        print("unexpected shapes: X %s, y %s" % (X.shape, y.shape), file=sys.stderr)
        return 1
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        print("non-finite values in input", file=sys.stderr)
        return 1

    tmp = out + ".tmp"
    # libver earliest + no time tracking: deterministic bytes for a given h5py/HDF5.
    with h5py.File(tmp, "w", libver="earliest", track_order=False) as h:
        dx = h.create_dataset("X", data=X, dtype="<f8", track_times=False)
        dx.attrs.create("columns", np.array(COLUMNS, dtype=object),
                        dtype=h5py.string_dtype("utf-8"))
        h.create_dataset("y", data=y, dtype="<f8", track_times=False)
        h.attrs["source"] = SOURCE
        h.attrs["licence"] = LICENCE
        h.attrs["citation"] = CITATION
        h.attrs["rows"] = np.int64(X.shape[0])
        h.attrs["features"] = np.int64(X.shape[1])
        h.attrs["generator"] = "datasets/make_diabetes.py"
    os.replace(tmp, out)
    print("wrote %s: X %s float64, y %s float64" % (out, X.shape, y.shape))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
