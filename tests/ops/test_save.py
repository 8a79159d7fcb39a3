"""Op tests of save.hdf5's column names: an array with column names is saved
with them in its dataset's `columns` attribute, the attribute load.hdf5 reads,
so save -> load gives the names back.

- names from a source (variable-length UTF-8 with non-ASCII text and an
  empty name, and fixed-length byte strings), through convert's column
  selection and label split, a streamed normalize and a linreg model: h5py
  reads each `columns` attribute as a list of str equal to the names given
  (computed here from the source's names); arrays without names get no
  attribute; the values are the input's (NumPy);
- the round trip: a second pipeline loads the saved file with load.hdf5 and
  selects columns by name (convert `columns: [...]`, which needs the names)
  and stores the result, whose names and values equal NumPy's selection;
- `arrays:` saves a subset with its names."""
import os

import h5py
import numpy as np

import harness
from harness import Env, assert_close

NAMES = ["âge", "bmi (kg/m²)", "bp", "", "s1,s2"]
SHORT = [b"p", b"q"]


def names_of(dset):
    """The `columns` attribute as h5py gives it, checked to be a list of str."""
    got = list(dset.attrs["columns"])
    assert all(isinstance(n, str) for n in got), "not read as str: %r" % got
    return got


def source(env):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 5)) * [1, 2, 3, 4, 5] + [40, 25, 90, 1, 7]
    Z = rng.integers(0, 9, size=(300, 2)).astype(np.int32)
    y = X @ [0.5, -1.0, 0.25, 2.0, 0.0] + rng.normal(size=300)
    path = env.path("in.h5")
    with h5py.File(path, "w") as f:
        f["X"] = X
        f["X"].attrs.create("columns", data=np.array(NAMES, dtype=object), dtype=h5py.string_dtype("utf-8"))
        f["Z"] = Z
        f["Z"].attrs["columns"] = np.array(SHORT)  # fixed-length ASCII, as NumPy writes bytes
        f["y"] = y
    return path, X, Z, y.reshape(-1, 1)


def test_names_saved(args):
    env = Env(args, "saved")
    path, X, Z, y = source(env)
    text = ("pipeline: t\nworkdir: w\nstages:\n"
            "  load:  { op: load.hdf5, file: %s, arrays: { X: /X, Z: /Z, y: /y } }\n"
            "  pick:  { op: convert, input: load, columns: [bp, 'bmi (kg/m²)', 'âge', 3], column_array: X,\n"
            "           label: 's1,s2', label_array: last }\n"
            "  norm:  { op: normalize, input: pick, checkpoint: false }\n"
            "  fit:   { op: linreg, input: norm }\n"
            "  save:  { op: save.hdf5, input: norm, file: out/all.h5 }\n"
            "  model: { op: save.hdf5, input: fit, file: out/model.h5 }\n"
            "  some:  { op: save.hdf5, input: load, file: out/some.h5, arrays: [Z] }\n") % path
    env.run(text, "--chunk-rows", "64", "-q")
    order = [2, 1, 0, 3]  # bp, bmi, age, the unnamed column by index; 's1,s2' became the label
    want_names = [NAMES[c] for c in order]
    Xp = X[:, order]
    with h5py.File(env.path("out", "all.h5"), "r") as f:
        assert sorted(f.keys()) == ["X", "Z", "last", "y"], list(f.keys())
        assert names_of(f["X"]) == want_names, names_of(f["X"])
        assert names_of(f["last"]) == [NAMES[4]]
        assert names_of(f["Z"]) == [s.decode() for s in SHORT]
        assert "columns" not in f["y"].attrs, dict(f["y"].attrs)
        assert_close(f["X"][...], (Xp - Xp.mean(0)) / Xp.std(0), 1e-12, 1e-12, what="X")
        assert f["last"][...].tobytes() == X[:, [4]].tobytes()
        assert f["Z"][...].tobytes() == Z.tobytes() and f["y"][...].tobytes() == y.tobytes()
    with h5py.File(env.path("out", "model.h5"), "r") as f:
        assert names_of(f["coef"]) == want_names, "the model's coef is named by its features"
        assert "columns" not in f["intercept"].attrs
    with h5py.File(env.path("out", "some.h5"), "r") as f:
        assert list(f.keys()) == ["Z"] and names_of(f["Z"]) == ["p", "q"]


def test_round_trip(args):
    env = Env(args, "round_trip")
    path, X, Z, y = source(env)
    first = ("pipeline: a\nworkdir: wa\nstages:\n"
             "  load: { op: load.hdf5, file: %s, arrays: { X: /X, Z: /Z, y: /y } }\n"
             "  save: { op: save.hdf5, input: load, file: saved.h5 }\n") % path
    env.run(first, "-q", name="a.yaml")
    # columns by name work only if load.hdf5 read the names save.hdf5 wrote
    second = ("pipeline: b\nworkdir: wb\nstages:\n"
              "  back: { op: load.hdf5, file: saved.h5, arrays: { X: /X, Z: /Z, y: /y } }\n"
              "  sel:  { op: convert, input: back, columns: ['s1,s2', 'âge'], column_array: X }\n"
              "  all:  { op: convert, input: back, dtype: float64 }\n")
    env.run(second, "-q", name="b.yaml")
    with env.ckpt("sel", "wb") as f:
        assert names_of(f["X"]) == [NAMES[4], NAMES[0]]
        assert f["X"][...].tobytes() == np.ascontiguousarray(X[:, [4, 0]]).tobytes()
    with env.ckpt("all", "wb") as f:
        assert names_of(f["X"]) == NAMES and names_of(f["Z"]) == ["p", "q"]
        assert "columns" not in f["y"].attrs
        assert f["X"][...].tobytes() == X.tobytes() and np.array_equal(f["Z"][...], Z)
    # and a second save of the reloaded frame writes the same names again
    third = ("pipeline: c\nworkdir: wc\nstages:\n"
             "  back: { op: load.hdf5, file: saved.h5, arrays: { X: /X, Z: /Z } }\n"
             "  save: { op: save.hdf5, input: back, file: again.h5 }\n")
    env.run(third, "-q", name="c.yaml")
    with h5py.File(env.path("saved.h5"), "r") as a, h5py.File(env.path("again.h5"), "r") as b:
        for k in ("X", "Z"):
            assert names_of(a[k]) == names_of(b[k]), k


if __name__ == "__main__":
    harness.main([test_names_saved, test_round_trip])
