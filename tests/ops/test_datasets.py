"""The shipped classification data sets (datasets/README.md): breast_cancer.h5,
iris.h5 and wine.h5 against scikit-learn's own loaders, and read by load.hdf5.

- with h5py: /X equals load_*().data bit for bit (float64, n x F), /y equals
  .target (int64, n x 1), /X's `columns` are .feature_names, /y's `classes`
  are .target_names, the file's class counts are np.bincount(.target), and
  the only filters are HDF5's built-in shuffle and deflate (no plugin);
- through sluice: load.hdf5 -> convert (float32 X, a stored copy) and
  load.hdf5 -> describe: the copy's column names are the feature names and its
  values NumPy's float32 cast; describe's count, mean, std, min, max are
  NumPy's over the loader's arrays (1e-12)."""
import os

import h5py
import numpy as np
import sklearn.datasets

import harness
from harness import Env, assert_close

SETS = {"breast_cancer": sklearn.datasets.load_breast_cancer, "iris": sklearn.datasets.load_iris,
        "wine": sklearn.datasets.load_wine}
BUILTIN_FILTERS = {h5py.h5z.FILTER_SHUFFLE, h5py.h5z.FILTER_DEFLATE}


def path_of(env, name):
    return os.path.join(env.root, "datasets", name + ".h5")


def strs(values):
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def test_files_equal_the_loaders(args):
    env = Env(args, "files")
    for name, load in SETS.items():
        b = load()
        with h5py.File(path_of(env, name), "r") as f:
            X, y = f["X"], f["y"]
            assert X.dtype == np.dtype("<f8") and y.dtype == np.dtype("<i8"), (name, X.dtype, y.dtype)
            assert X.shape == b.data.shape and y.shape == (len(b.target), 1), (name, X.shape, y.shape)
            assert X[...].tobytes() == np.ascontiguousarray(b.data, dtype=np.float64).tobytes(), name + " X"
            assert np.array_equal(y[...].ravel(), b.target), name + " y"
            assert strs(X.attrs["columns"]) == strs(b.feature_names), name + " columns"
            assert strs(y.attrs["classes"]) == strs(b.target_names), name + " classes"
            assert list(f.attrs["class_counts"]) == list(np.bincount(b.target)), name + " class counts"
            assert f.attrs["rows"] == b.data.shape[0] and f.attrs["features"] == b.data.shape[1]
            for d in (X, y):
                plist = d.id.get_create_plist()
                used = {plist.get_filter(k)[0] for k in range(plist.get_nfilters())}
                assert used <= BUILTIN_FILTERS, "%s/%s needs a filter plugin: %s" % (name, d.name, used)


def test_load_hdf5_reads_them(args):
    env = Env(args, "load")
    for name, load in SETS.items():
        b = load()
        X, y = b.data, b.target.reshape(-1, 1)
        text = ("pipeline: t\nworkdir: w_%s\nstages:\n"
                "  load: { op: load.hdf5, file: %s, arrays: { X: /X, y: /y } }\n"
                "  f32:  { op: convert, input: load, dtype: float32, arrays: [X] }\n"
                "  desc: { op: describe, input: load }\n") % (name, path_of(env, name))
        env.run(text, "--chunk-rows", "100", "-q", name=name + ".yaml")
        wd = "w_" + name
        with env.ckpt("f32", wd) as f:
            assert strs(f["X"].attrs["columns"]) == strs(b.feature_names), name
            assert f["X"][...].tobytes() == X.astype(np.float32).tobytes(), name + " X as float32"
            assert f["y"].dtype == np.int64 and np.array_equal(f["y"][...], y), name + " y"
        with env.ckpt("desc", wd) as f:
            for arr, v in (("X", X), ("y", y.astype(np.float64))):
                assert np.array_equal(f[arr + ".count"][...].ravel(), np.full(v.shape[1], len(v))), name
                for stat, want in (("mean", v.mean(0)), ("std", v.std(0)), ("min", v.min(0)), ("max", v.max(0))):
                    assert_close(f["%s.%s" % (arr, stat)][...].ravel(), want, 1e-12, 1e-12,
                                 what="%s %s.%s" % (name, arr, stat))


if __name__ == "__main__":
    harness.main([test_files_equal_the_loaders, test_load_hdf5_reads_them])
