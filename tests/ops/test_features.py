"""Op tests of the feature-engineering ops poly and join, and of scale's
columns and append: pipelines run through the CLI, outputs read with h5py and
compared with scikit-learn and NumPy computed here.

poly: datasets/diabetes.h5 (X, 442 x 10, with column names) and a random
3-column array (no names; and an int32 one), degree 1..3, interaction_only
and include_bias true/false, replacing the array or adding `output`: values
equal (==) to PolynomialFeatures(...).fit_transform on float64 (the op makes
scikit-learn's products in scikit-learn's order, so no tolerance is needed)
and names equal to get_feature_names_out (of the column names, or x0.. for
an array without names).

join: one frame and two frames (two load.hdf5 stages) against np.hstack, the
type against np.result_type (int8/uint8, uint64/int8, float32/int16,
float32/int32, ...), column names (<array>[<j>] for unnamed arrays), keep;
`with` read by row range where the input's chunks are a filter's (clean
dropping rows, streamed) and the second frame's are uniform.

scale: columns (by name, index, negative index) and append, against NumPy;
the names <transform>(<name>), scaled(<name>), <array>[<j>]; the per-column
attributes; float32.

Streamed (checkpoint: false / final) and stored runs give the same bits; a
stage named by join's `with` stays stored. Bad input: the error texts."""
import math
import os
import subprocess

import h5py
import numpy as np
from sklearn.preprocessing import PolynomialFeatures

import harness
from harness import Env, assert_close


# ---- helpers -------------------------------------------------------------------------------------

def diabetes(env):
    return os.path.join(env.root, "datasets", "diabetes.h5")


def diabetes_data(env):
    with h5py.File(diabetes(env), "r") as f:
        return f["X"][...], f["y"][...], [str(n, "utf-8") if isinstance(n, bytes) else str(n)
                                          for n in f["X"].attrs["columns"]]


def columns(env, stage, array, workdir="w"):
    with env.ckpt(stage, workdir) as f:
        if "columns" not in f[array].attrs:
            return None
        return [str(n, "utf-8") if isinstance(n, bytes) else str(n) for n in f[array].attrs["columns"]]


def read_all(env, stage, workdir="w"):
    with env.ckpt(stage, workdir) as f:
        return {k: f[k][...] for k in f.keys()}


def exact(got, want, what):
    got, want = np.asarray(got), np.asarray(want)
    if want.ndim == 1 and got.shape == (len(want), 1):  # 1-D datasets load as n x 1
        want = want.reshape(-1, 1)
    if got.shape != want.shape:
        raise AssertionError("%s: shape %s, expected %s" % (what, got.shape, want.shape))
    if got.dtype != want.dtype:
        raise AssertionError("%s: dtype %s, expected %s" % (what, got.dtype, want.dtype))
    same = (got == want) | (np.isnan(got) & np.isnan(want) if got.dtype.kind == "f" else False)
    if not same.all():
        i = np.argwhere(~same)[0]
        raise AssertionError("%s: %d values differ, first at %s: %r, expected %r"
                             % (what, (~same).sum(), tuple(i), got[tuple(i)], want[tuple(i)]))


def check(env, yaml_text, code):
    p = env.write("c.yaml", yaml_text)
    r = subprocess.run([env.sluice, "check", p], capture_output=True, text=True, timeout=60)
    if r.returncode != code:
        raise AssertionError("check: exit %d (expected %d)\n%s%s" % (r.returncode, code, r.stdout, r.stderr))
    return r.stderr


def expect_error(env, yaml_text, code, *needles):
    """The run fails with exit `code` and a message holding every needle; a
    config error (2) is also found by `sluice check`, before any data is read."""
    r = env.run(yaml_text, expect=code)
    for n in needles:
        if n not in r.stderr:
            raise AssertionError("message lacks %r:\n%s" % (n, r.stderr))
    if code == 2:
        err = check(env, yaml_text, 2)
        for n in needles:
            if n not in err:
                raise AssertionError("check message lacks %r:\n%s" % (n, err))
    return r.stderr


def pipeline(env, stages, checkpoint=None, extra_loads=""):
    head = "pipeline: t\nworkdir: w\n"
    if checkpoint:
        head += "checkpoint: %s\n" % checkpoint
    return (head + "stages:\n  load: { op: load.hdf5, file: %s, arrays: { X: /X, y: /y } }\n" % diabetes(env)
            + extra_loads + stages)


def random_file(env, name="rnd.h5", rows=500, seed=7):
    """R: rows x 3 float64 of mixed scales and signs (no column names); Ri: int32."""
    rng = np.random.default_rng(seed)
    R = rng.normal(size=(rows, 3)) * np.array([1e-3, 1.0, 250.0]) + np.array([0.0, -2.0, 10.0])
    Ri = rng.integers(-50, 50, size=(rows, 2)).astype(np.int32)
    path = env.path(name)
    with h5py.File(path, "w") as f:
        f["R"] = R
        f["Ri"] = Ri
    return path, R, Ri


def poly_cases():
    for degree in (1, 2, 3):
        for inter in (False, True):
            for bias in (False, True):
                yield degree, inter, bias


def yb(v):
    return "true" if v else "false"


# ---- poly ----------------------------------------------------------------------------------------

def test_poly_vs_sklearn(args):
    env = Env(args, "poly")
    X, y, names = diabetes_data(env)
    path, R, Ri = random_file(env)
    stages = []
    for k, (d, inter, bias) in enumerate(poly_cases()):
        opts = "degree: %d, interaction_only: %s, include_bias: %s" % (d, yb(inter), yb(bias))
        stages.append("  p%d: { op: poly, input: load, %s }\n" % (k, opts))                     # replaces X
        stages.append("  q%d: { op: poly, input: rnd, array: R, output: P, %s }\n" % (k, opts))  # adds P
    stages.append("  qi: { op: poly, input: rnd, array: Ri, degree: 3 }\n")
    y_text = pipeline(env, "".join(stages),
                      extra_loads="  rnd: { op: load.hdf5, file: %s, arrays: { R: /R, Ri: /Ri } }\n" % path)
    for chunk, j in ((100, 2), (65536, 1)):
        wd = "w_%d_%d" % (chunk, j)
        env.run(y_text, "--chunk-rows", str(chunk), "-j", str(j), "--workdir", env.path(wd))
        for k, (d, inter, bias) in enumerate(poly_cases()):
            what = "degree %d interaction_only %s include_bias %s (chunk %d, -j %d)" % (d, inter, bias, chunk, j)
            pf = PolynomialFeatures(degree=d, interaction_only=inter, include_bias=bias).fit(X)
            got = read_all(env, "p%d" % k, wd)
            assert sorted(got) == ["X", "y"], sorted(got)
            exact(got["X"], pf.transform(X), "diabetes " + what)
            exact(got["y"], y, "y passes through, " + what)
            want_names = list(pf.get_feature_names_out(names))
            assert columns(env, "p%d" % k, "X", wd) == want_names, (columns(env, "p%d" % k, "X", wd), want_names)

            pf = PolynomialFeatures(degree=d, interaction_only=inter, include_bias=bias).fit(R)
            got = read_all(env, "q%d" % k, wd)
            assert sorted(got) == ["P", "R", "Ri"], sorted(got)
            exact(got["P"], pf.transform(R), "random " + what)
            exact(got["R"], R, "R kept, " + what)
            # no column names: scikit-learn's own x0, x1, x2
            assert columns(env, "q%d" % k, "P", wd) == list(pf.get_feature_names_out()), what
            assert columns(env, "q%d" % k, "R", wd) is None
        pf = PolynomialFeatures(degree=3, include_bias=False).fit(Ri.astype(np.float64))
        got = read_all(env, "qi", wd)
        exact(got["Ri"], pf.transform(Ri.astype(np.float64)), "int32 input, converted to float64")
    # the sizes the doc promises for 10 columns
    assert read_all(env, "p4", wd)["X"].shape[1] == 65 and read_all(env, "p8", wd)["X"].shape[1] == 285


def test_poly_errors(args):
    env = Env(args, "poly_errors")
    p = lambda s: pipeline(env, "  p: { op: poly, input: load, %s }\n" % s)
    expect_error(env, p("degree: 0"), 2, "parameter 'degree' must be between 1 and 64, found '0'")
    # diabetes X has 10 columns: C(10 + 7, 7) - 1 terms up to degree 7
    n7 = math.comb(17, 7) - 1
    expect_error(env, p("degree: 7"), 2,
                 "degree 7 of the 10 columns of array 'X' makes %d columns, more than the 10000 poly writes" % n7,
                 "interaction_only: true")
    expect_error(env, p("degree: 64"), 2, "degree 64 of the 10 columns of array 'X' makes %d columns"
                 % (math.comb(74, 64) - 1))
    # interaction_only stops at degree 10 (one product of all 10): sum of C(10, k) = 2^10 - 1
    env.run(p("degree: 20, interaction_only: true"))
    assert env.read("p", "X").shape == (442, 2 ** 10 - 1)
    expect_error(env, p("array: Z"), 2, "'array' names array 'Z', which the input lacks; it has X (float64, 10 "
                                        "columns), y (float64, 1 column)")
    expect_error(env, p("output: y"), 2, "the input already has an array named 'y'; set 'output' to a new name, "
                                         "or leave it out to replace 'X'")


# ---- join ----------------------------------------------------------------------------------------

def typed_file(env, name, rows, seed, dtypes):
    """Arrays A0, A1, ... of the given types, 2 columns each, values that fit every type."""
    rng = np.random.default_rng(seed)
    out = {}
    path = env.path(name)
    with h5py.File(path, "w") as f:
        for i, t in enumerate(dtypes):
            v = rng.integers(0, 100, size=(rows, 2))
            if np.dtype(t).kind == "f":
                v = v + rng.random(size=(rows, 2))
            if np.dtype(t).kind == "u" and np.dtype(t).itemsize == 8:
                v = v.astype(np.uint64) + np.uint64(2 ** 60)  # beyond 2^53: float64 rounds them
            out["A%d" % i] = np.asarray(v).astype(t)
            f["A%d" % i] = out["A%d" % i]
    return path, out


def test_join_one_frame(args):
    env = Env(args, "join_one")
    X, y, names = diabetes_data(env)
    types = ["int32", "uint8", "float32", "int8", "uint64", "int16"]
    path, A = typed_file(env, "t.h5", 442, 3, types)
    loads = "  t: { op: load.hdf5, file: %s, arrays: { %s } }\n" % (
        path, ", ".join("A%d: /A%d" % (i, i) for i in range(len(types))))
    combos = [["A0", "A1"], ["A2", "A5"], ["A2", "A0"], ["A3", "A1"], ["A4", "A3"], ["A1", "A4"], ["A0", "A2", "A1"]]
    stages = ("  j: { op: join, input: load, arrays: [X, y] }\n"
              "  k: { op: join, input: load, arrays: [y, X], output: Z, keep: true }\n"
              + "".join("  c%d: { op: join, input: t, arrays: [%s], output: J }\n" % (i, ", ".join(c))
                        for i, c in enumerate(combos)))
    env.run(pipeline(env, stages, extra_loads=loads), "--chunk-rows", "100", "-j", "2")
    got = read_all(env, "j")
    assert sorted(got) == ["X"], sorted(got)
    exact(got["X"], np.hstack([X, y.reshape(-1, 1)]), "join [X, y]")
    assert columns(env, "j", "X") == names + ["y[0]"], columns(env, "j", "X")
    got = read_all(env, "k")
    assert sorted(got) == ["X", "Z", "y"], sorted(got)
    exact(got["Z"], np.hstack([y.reshape(-1, 1), X]), "join [y, X] keep")
    exact(got["X"], X, "X kept")
    assert columns(env, "k", "Z") == ["y[0]"] + names
    for i, c in enumerate(combos):
        got = read_all(env, "c%d" % i)
        want = np.hstack([A[a] for a in c])
        assert want.dtype == np.result_type(*[A[a].dtype for a in c])
        exact(got["J"], want, "join %s (%s)" % (c, [str(A[a].dtype) for a in c]))
        assert sorted(got) == sorted(["J"] + [a for a in A if a not in c]), sorted(got)
        assert columns(env, "c%d" % i, "J") == ["%s[%d]" % (a, j) for a in c for j in range(2)]


def test_join_two_frames(args):
    """`with` from a second load.hdf5 stage; the input is a filter's output
    (clean dropping rows, streamed: its chunks hold fewer rows than
    chunk_rows), the second frame is uniform, so their chunks differ and
    `with` is read by row range."""
    env = Env(args, "join_two")
    rng = np.random.default_rng(11)
    n = 1000
    Xa = rng.normal(size=(n, 3))
    Xa[rng.random(n) < 0.2, rng.integers(0, 3)] = np.nan
    keep = ~np.isnan(Xa).any(axis=1)
    Ia = rng.integers(-100, 100, size=(n, 1)).astype(np.int16)
    with h5py.File(env.path("a.h5"), "w") as f:
        f["X"] = Xa
        f["I"] = Ia
        f["X"].attrs["columns"] = np.array(["u", "v", "w"], dtype=h5py.string_dtype())
    m = int(keep.sum())
    B = {"K": rng.integers(-5, 5, size=(m, 2)).astype(np.int8), "U": rng.integers(0, 250, size=(m, 1)).astype(np.uint8),
         "L": (rng.integers(0, 2 ** 40, size=(m, 1)).astype(np.uint64) + np.uint64(2 ** 62)),
         "F": rng.random(size=(m, 2)).astype(np.float32)}
    with h5py.File(env.path("b.h5"), "w") as f:
        for k, v in B.items():
            f[k] = v
    y_text = ("pipeline: t\nworkdir: w\ncheckpoint: false\nstages:\n"
              "  a: { op: load.hdf5, file: a.h5, arrays: { X: /X, I: /I } }\n"
              "  b: { op: load.hdf5, file: b.h5, arrays: { K: /K, U: /U, L: /L, F: /F } }\n"
              "  clean: { op: clean, input: a, nan: { X: drop_row } }\n"
              "  j1: { op: join, input: clean, arrays: [X], with: b, with_arrays: [K, U], checkpoint: true }\n"
              "  j2: { op: join, input: clean, arrays: [I], with: b, with_arrays: [U], checkpoint: true }\n"
              "  j3: { op: join, input: clean, arrays: [I], with: b, with_arrays: [L, K], keep: true, output: J,"
              " checkpoint: true }\n"
              "  j4: { op: join, input: clean, arrays: [I, X], with: b, with_arrays: [F], checkpoint: true }\n")
    outs = {}
    for chunk, j in ((100, 1), (100, 2), (65536, 2)):
        wd = "w_%d_%d" % (chunk, j)
        env.run(y_text, "--chunk-rows", str(chunk), "-j", str(j), "--workdir", env.path(wd))
        got = {s: read_all(env, s, wd) for s in ("j1", "j2", "j3", "j4")}
        Xk, Ik = Xa[keep], Ia[keep]
        exact(got["j1"]["X"], np.hstack([Xk, B["K"], B["U"]]), "X + K + U (chunk %d)" % chunk)
        assert got["j1"]["X"].dtype == np.float64
        assert sorted(got["j1"]) == ["I", "X"]
        exact(got["j1"]["I"], Ik, "I passes through the join")
        exact(got["j2"]["I"], np.hstack([Ik, B["U"]]), "int16 + uint8 stays int16")
        exact(got["j3"]["J"], np.hstack([Ik, B["L"], B["K"]]), "int16 + uint64 + int8: float64")
        assert got["j3"]["J"].dtype == np.result_type(np.int16, np.uint64, np.int8) == np.float64
        assert sorted(got["j3"]) == ["I", "J", "K", "L", "X"], sorted(got["j3"])
        exact(got["j3"]["L"], B["L"], "L kept from 'with'")
        exact(got["j4"]["I"], np.hstack([Ik, Xk, B["F"]]), "int16 + float64 + float32")
        assert columns(env, "j1", "X", wd) == ["u", "v", "w", "K[0]", "K[1]", "U[0]"]
        outs[(chunk, j)] = got
    for s in outs[(100, 1)]:
        for k, v in outs[(100, 1)][s].items():
            assert v.tobytes() == outs[(100, 2)][s][k].tobytes(), (s, k)


def test_join_errors(args):
    env = Env(args, "join_errors")
    path, A = typed_file(env, "t.h5", 442, 5, ["float64", "int32"])
    _, B = typed_file(env, "short.h5", 400, 5, ["float64"])
    loads = ("  t: { op: load.hdf5, file: %s, arrays: { A0: /A0, X: /A1 } }\n"
             "  s: { op: load.hdf5, file: short.h5, arrays: { S: /A0 } }\n" % path)
    p = lambda s: pipeline(env, "  j: { op: join, %s }\n" % s, extra_loads=loads)
    expect_error(env, p("input: load, arrays: []"), 2, "'arrays' is empty; name the arrays of 'input' to join")
    expect_error(env, p("input: load, arrays: [X, Q]"), 2,
                 "'arrays' names array 'Q', which the input lacks; it has X (float64, 10 columns), y (float64, 1 "
                 "column)")
    expect_error(env, p("input: load, arrays: [X], with: t, with_arrays: [B]"), 2,
                 "'with_arrays' names array 'B', which the 'with' stage lacks; it has A0 (float64, 2 columns), X "
                 "(int32, 2 columns)")
    expect_error(env, p("input: load, arrays: [X, y, X]"), 2, "'arrays' lists array 'X' twice")
    expect_error(env, p("input: load, arrays: [X], with_arrays: [y]"), 2,
                 "'with_arrays' names arrays of a second stage, but no 'with' stage is given")
    # the same named columns twice: X of load and X of load again through 'with'
    expect_error(env, p("input: load, arrays: [X], with: load, with_arrays: [X]"), 2,
                 "the joined array would have two columns named 'age' (array 'X' column 0 and 'with' array 'X' "
                 "column 0) (and 9 more names used twice); column names must be unique")
    # unnamed arrays: X of t has no names, so X[0] and X[1]; X of load is named age..s6
    env.run(p("input: load, arrays: [X], with: t, with_arrays: [X], output: Z"))
    assert columns(env, "j", "Z")[-2:] == ["X[0]", "X[1]"]
    expect_error(env, p("input: load, arrays: [X], with: t, with_arrays: [X], keep: true, output: Z"), 2,
                 "keep: true keeps array 'X' of both the input and the 'with' stage, and a frame has one array of "
                 "a name; set keep: false")
    expect_error(env, p("input: load, arrays: [X], keep: true"), 2,
                 "the joined array is named 'X', and so is an array the output keeps; set 'output' to another name")
    expect_error(env, p("input: load, arrays: [X], output: y"), 2, "the joined array is named 'y'")
    # rows known at plan time: a config error; after a filter: at run time
    expect_error(env, p("input: load, arrays: [X], with: s"), 2,
                 "the 'with' stage has 400 rows and the input 442; join puts the columns of the same row side by "
                 "side, so both must have the same rows")
    y_text = pipeline(env, "  c: { op: clean, input: t, nan: { A0: drop_row } }\n"
                           "  j: { op: join, input: c, arrays: [A0], with: s }\n", extra_loads=loads)
    assert check(env, y_text, 0) == ""
    expect_error(env, y_text, 1, "stage 'j'", "the 'with' stage has 400 rows and the input 442")


# ---- streamed and stored --------------------------------------------------------------------------

def test_streamed_same_bits(args):
    """poly and join streamed (checkpoint: false, final) give the bits of a
    stored run; the stage join reads by row range stays stored."""
    env = Env(args, "streamed")
    rng = np.random.default_rng(5)
    with h5py.File(env.path("o.h5"), "w") as f:
        f["Z"] = rng.integers(-3, 3, size=(442, 2)).astype(np.int16)
        f["W"] = rng.normal(size=(442, 2)).astype(np.float32)
    stages = ("  other: { op: load.hdf5, file: o.h5, arrays: { Z: /Z, W: /W } }\n"
              "  onorm: { op: normalize, input: other, arrays: [W] }\n"
              "  norm: { op: normalize, input: load, arrays: [X] }\n"
              "  j: { op: join, input: norm, arrays: [X], with: onorm, with_arrays: [W, Z], output: F }\n"
              "  p: { op: poly, input: j, array: F, degree: 2, interaction_only: true, output: P }\n"
              "  out: { op: save.hdf5, input: p, file: out_%s.h5 }\n")
    got = {}
    for ck, j in (("true", 2), ("final", 1), ("final", 2), ("false", 2)):
        wd = "w_%s_%d" % (ck, j)
        r = env.run(pipeline(env, stages % (ck + str(j)), checkpoint=ck), "--chunk-rows", "100", "-j", str(j),
                    "--workdir", env.path(wd))
        with h5py.File(env.path("out_%s%d.h5" % (ck, j)), "r") as f:
            got[(ck, j)] = {k: f[k][...] for k in f}
        stored = set(n[:-3] for n in os.listdir(env.path(wd)) if n.endswith(".h5"))
        if ck == "true":
            assert {"norm", "onorm", "j", "p"} <= stored, stored
            # the stored run against scikit-learn, on the join it stored
            F = read_all(env, "j", wd)["F"]
            pf = PolynomialFeatures(degree=2, interaction_only=True, include_bias=False).fit(F)
            exact(got[(ck, j)]["P"], pf.transform(F), "poly of the stored join")
            exact(read_all(env, "p", wd)["P"], pf.transform(F), "p.h5")
        else:
            lines = {l.split()[0]: l for l in r.stdout.splitlines() if l.strip()}
            for s in ("norm", "j", "p"):
                assert "streamed" in lines[s], r.stdout
                assert s not in stored, stored
            # read by row range: stored whatever 'checkpoint' says
            assert "onorm" in stored and "streamed" not in lines["onorm"], r.stdout
    base = got[("true", 2)]
    assert sorted(base) == ["F", "P", "y"], sorted(base)
    for key, arrs in got.items():
        for k in base:
            assert arrs[k].dtype == base[k].dtype and arrs[k].tobytes() == base[k].tobytes(), (key, k)


# ---- scale: columns and append -------------------------------------------------------------------

def test_scale_columns_append(args):
    env = Env(args, "scale_cols")
    X, y, names = diabetes_data(env)
    stages = ("  a: { op: scale, input: load, arrays: [X], transform: square, columns: [bmi, 0], append: true,"
              " factor: [2, 3], offset: 0.5 }\n"
              "  b: { op: scale, input: load, arrays: [X], transform: log1p, columns: [-1, s1] }\n"
              "  c: { op: scale, input: load, arrays: [X], transform: sqrt, domain_errors: nan }\n"
              "  d: { op: scale, input: load, arrays: [y], factor: 0.5, append: true }\n"
              "  e: { op: scale, input: load, arrays: [X], factor: 2, columns: [bp] }\n"
              "  f32: { op: convert, input: load, dtype: float32 }\n"
              "  g: { op: scale, input: f32, arrays: [X], transform: square, columns: [1], append: true }\n"
              "  h: { op: scale, input: load, arrays: [X], offset: [1, 2], columns: [age, sex], append: true }\n")
    env.run(pipeline(env, stages), "--chunk-rows", "100", "-j", "2")

    got = read_all(env, "a")
    exact(got["X"], np.hstack([X, np.square(X[:, [2, 0]]) * np.array([2.0, 3.0]) + 0.5]), "square append")
    exact(got["y"], y, "y untouched")
    assert columns(env, "a", "X") == names + ["square(bmi)", "square(age)"]
    with env.ckpt("a") as f:
        exact(f["X"].attrs["scale_factor"], np.array([1.0] * 10 + [2.0, 3.0]), "scale_factor per output column")
        exact(f["X"].attrs["scale_offset"], np.array([0.0] * 10 + [0.5, 0.5]), "scale_offset per output column")

    got = read_all(env, "b")["X"]
    want = X.copy()
    want[:, [9, 4]] = np.log1p(X[:, [9, 4]])
    others = [c for c in range(10) if c not in (4, 9)]
    exact(got[:, others], X[:, others], "columns not picked keep their values")
    assert_close(got, want, 1e-15, what="log1p of columns -1 and s1")  # the C library's log1p, not NumPy's
    want_names = list(names)
    want_names[9], want_names[4] = "log1p(s6)", "log1p(s1)"
    assert columns(env, "b", "X") == want_names

    got = read_all(env, "c")["X"]
    with np.errstate(invalid="ignore"):
        exact(got, np.sqrt(X), "sqrt of every column (NaN below 0)")
    assert columns(env, "c", "X") == ["sqrt(%s)" % n for n in names]

    got = read_all(env, "d")
    exact(got["y"], np.hstack([y.reshape(-1, 1), y.reshape(-1, 1) * 0.5]), "y append")
    assert columns(env, "d", "y") == ["y[0]", "scaled(y[0])"]
    assert columns(env, "d", "X") == names

    got = read_all(env, "e")["X"]
    want = X.copy()
    want[:, 3] = X[:, 3] * 2.0
    exact(got, want, "factor on one column")
    assert columns(env, "e", "X") == names  # factor alone keeps the name

    X32 = X.astype(np.float32)
    got = read_all(env, "g")["X"]
    exact(got, np.hstack([X32, np.square(X32[:, [1]].astype(np.float64)).astype(np.float32)]), "float32 append")

    got = read_all(env, "h")["X"]
    exact(got, np.hstack([X, X[:, [0, 1]] + np.array([1.0, 2.0])]), "offset append")
    assert columns(env, "h", "X")[-2:] == ["scaled(age)", "scaled(sex)"]


def test_scale_columns_errors(args):
    env = Env(args, "scale_cols_errors")
    p = lambda s: pipeline(env, "  s: { op: scale, input: load, %s }\n" % s)
    expect_error(env, p("arrays: [X, y], columns: [bmi]"), 2,
                 "'columns' picks columns of one array, but this stage scales 2 arrays (X, y); name that one array "
                 "in 'arrays'")
    expect_error(env, p("arrays: [X], columns: []"), 2,
                 "'columns' is empty; name the columns to scale, or leave it out to scale them all")
    expect_error(env, p("arrays: [X], columns: [bmi, bp], factor: [1, 2, 3]"), 2,
                 "'factor' has 3 values but 'columns' picks 2 columns of array 'X'; give one value, or one per "
                 "column picked")
    expect_error(env, p("arrays: [X], columns: [bmii]"), 2, "'columns' names column 'bmii', which array 'X' lacks",
                 "did you mean 'bmi'?")
    expect_error(env, p("arrays: [X], columns: [2, bmi]"), 2, "'columns' lists column 2 ('bmi') twice")
    expect_error(env, p("arrays: [X], columns: [10]"), 2, "'columns' names column 10 of array 'X', which has 10 "
                                                          "columns")
    expect_error(env, p("arrays: [y], columns: [a]"), 2, "'columns' names column 'a' of array 'y', which has no "
                                                         "column names")


if __name__ == "__main__":
    harness.main([
        test_poly_vs_sklearn, test_poly_errors, test_join_one_frame, test_join_two_frames, test_join_errors,
        test_streamed_same_bits, test_scale_columns_append, test_scale_columns_errors,
    ])
