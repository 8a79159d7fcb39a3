"""Op tests of encode: pipelines run through the CLI on HDF5 files the tests
write, outputs compared with scikit-learn 1.2 computed here.

labels: codes and `classes` vs LabelEncoder (labels like -1, 2.5, 7; int32,
int64, float32 and float64 inputs), exactly; fit on train / apply to test
(`fit:`) vs LabelEncoder.transform; unknown and NaN labels, max_classes.

one-hot: values and column names vs OneHotEncoder(sparse_output=False) and
get_feature_names_out for drop none / first / if_binary, several columns, an
int array and a float array (float32 too), `columns` with pass-through vs
ColumnTransformer(remainder='passthrough', verbose_feature_names_out=False);
fit / apply with unknown: error and ignore (handle_unknown='ignore', with its
warning under drop); dtype; the diabetes data's sex column; encode feeding
normalize and linreg (coefficients vs LinearRegression on the encoder's
output); a second run reuses every stage and `sluice status` says fresh;
bitwise the same for -j 1 and -j 2 and any chunk size; the errors."""
import os
import subprocess
import warnings

import h5py
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression
from sklearn.preprocessing import LabelEncoder, OneHotEncoder

import harness
from harness import Env, assert_close

VARIANTS = [(7, 1), (7, 2), (65536, 1), (65536, 2)]


def h5(env, name, columns=None, **arrays):
    """Writes an HDF5 file of the given arrays (columns: array -> names)."""
    path = env.path(name)
    with h5py.File(path, "w") as f:
        for k, v in arrays.items():
            f[k] = v
        for k, names in (columns or {}).items():
            f[k].attrs["columns"] = np.array(names, dtype=h5py.string_dtype())
    return path


def pipeline(stages, **files):
    """A pipeline of one load stage per file (stage name -> (path, arrays)) and `stages`."""
    head = "pipeline: t\nworkdir: w\nstages:\n"
    for stage, (path, arrays) in files.items():
        head += "  %s: { op: load.hdf5, file: %s, arrays: { %s } }\n" % (
            stage, path, ", ".join("%s: /%s" % (a, a) for a in arrays))
    return head + stages


def read_all(env, stage, workdir="w"):
    with env.ckpt(stage, workdir) as f:
        return {k: f[k][...] for k in f.keys()}


def array_attrs(env, stage, array, workdir="w"):
    with env.ckpt(stage, workdir) as f:
        return {k: (list(v) if k == "columns" else np.asarray(v)) for k, v in f[array].attrs.items()}


def runs(env, yaml_text, stages, variants=VARIANTS, any_chunk=("enc", "enc_tr", "enc_te")):
    """Runs the pipeline once per (chunk_rows, threads) in a workdir of its
    own. Every stage in `stages` must give the same bytes for any thread
    count, and those in `any_chunk` (the encodings) for any chunk size too
    (a model's sums follow the chunks). Returns the first variant's workdir."""
    seen = {}
    for chunk, j in variants:
        wd = "w_%d_%d" % (chunk, j)
        env.run(yaml_text, "--chunk-rows", str(chunk), "-j", str(j), "--workdir", env.path(wd))
        for st in stages:
            got = read_all(env, st, wd)
            key = st if st in any_chunk else (st, chunk)
            if key not in seen:
                seen[key] = (wd, got)
                continue
            for k, v in got.items():
                w = seen[key][1][k]
                if v.dtype != w.dtype or v.shape != w.shape or v.tobytes() != w.tobytes():
                    raise AssertionError("stage %s array %s differs between %s and %s" % (st, k, seen[key][0], wd))
    return "w_%d_%d" % variants[0]


def exact(got, want, what):
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        raise AssertionError("%s: shape %s, expected %s" % (what, got.shape, want.shape))
    if got.dtype != want.dtype:
        raise AssertionError("%s: dtype %s, expected %s" % (what, got.dtype, want.dtype))
    same = (got == want) | ((np.isnan(got) & np.isnan(want)) if got.dtype.kind == "f" else False)
    if not same.all():
        i = np.argwhere(~same)[0]
        raise AssertionError("%s: %d values differ, first at %s: %r, expected %r"
                             % (what, (~same).sum(), tuple(i), got[tuple(i)], want[tuple(i)]))


def same_list(got, want, what):
    got, want = [str(x) for x in got], [str(x) for x in want]
    if got != want:
        raise AssertionError("%s:\n got  %s\n want %s" % (what, got, want))


def check(env, yaml_text, expect, name="c.yaml"):
    p = env.write(name, yaml_text)
    r = subprocess.run([env.sluice, "check", p], capture_output=True, text=True, timeout=60)
    if r.returncode != expect:
        raise AssertionError("check: exit %d (expected %d)\n%s%s" % (r.returncode, expect, r.stdout, r.stderr))
    return r.stderr


def expect_error(env, yaml_text, code, *needles, check_too=False):
    """The run fails with exit `code` and one 'sluice: ' line holding every
    needle; check_too: `sluice check` finds it too (a stage planned with the
    pipeline, not in the run)."""
    r = env.run(yaml_text, expect=code)
    lines = [l for l in r.stderr.splitlines() if l.startswith("sluice: ")]
    if len(lines) != 1:
        raise AssertionError("expected one 'sluice: ' line:\n%s" % r.stderr)
    for n in needles:
        if n not in lines[0]:
            raise AssertionError("message lacks %r:\n%s" % (n, r.stderr))
    if check_too:
        err = check(env, yaml_text, code)
        for n in needles:
            if n not in err:
                raise AssertionError("check message lacks %r:\n%s" % (n, err))
    return lines[0]


def rng(seed=0):
    return np.random.default_rng(seed)


# ---- labels ----------------------------------------------------------------------------------

def test_labels_vs_label_encoder(args):
    """Non-0-based, non-integer labels in float64 and float32 arrays, and
    integer labels in int32 and int64 arrays, all in one stage."""
    env = Env(args, "labels")
    g = rng(1)
    n = 500
    arrays = {
        "y": g.choice([2.5, 7.0, -1.0], n),
        "f": g.choice([0.1, -3.75, 1e20, 5.0], n).astype(np.float32),
        "i": g.choice([-3, 10, 4, 1000], n).astype(np.int32),
        "k": g.choice([2 ** 40, -7, 0], n).astype(np.int64),
        "X": g.normal(size=(n, 3)),
    }
    path = h5(env, "d.h5", **arrays)
    y = pipeline("  enc: { op: encode, input: load, labels: [y, f, i, k] }\n", load=(path, arrays))
    wd = runs(env, y, ["enc"])
    got = read_all(env, "enc", wd)
    for name in ("y", "f", "i", "k"):
        le = LabelEncoder().fit(arrays[name])
        want = le.transform(arrays[name]).astype(np.int64).reshape(-1, 1)
        exact(got[name], want, "codes of " + name)
        exact(array_attrs(env, "enc", name, wd)["classes"], le.classes_.astype(np.float64), "classes of " + name)
    exact(got["X"], arrays["X"], "X passes through")


def test_labels_fit_apply(args):
    """fit: applies the train stage's classes to the test labels; the test
    stage carries the same classes; an unknown label is an error naming it,
    its row and the classes."""
    env = Env(args, "labels_fit")
    g = rng(2)
    ytr = g.choice([2.5, 7.0, -1.0, 11.0], 300)
    yte = g.choice([7.0, -1.0, 11.0], 120)
    tr = h5(env, "tr.h5", y=ytr)
    te = h5(env, "te.h5", y=yte)
    stages = ("  enc_tr: { op: encode, input: tr, labels: [y] }\n"
              "  enc_te: { op: encode, input: te, fit: enc_tr }\n")
    y = pipeline(stages, tr=(tr, ["y"]), te=(te, ["y"]))
    wd = runs(env, y, ["enc_tr", "enc_te"])
    le = LabelEncoder().fit(ytr)
    exact(read_all(env, "enc_te", wd)["y"], le.transform(yte).astype(np.int64).reshape(-1, 1), "test codes")
    exact(array_attrs(env, "enc_te", "y", wd)["classes"], le.classes_, "test classes")
    # a label train never had
    bad = yte.copy()
    row = 37
    bad[row] = 3.0
    bad[90] = 4.0
    h5(env, "te.h5", y=bad)
    expect_error(env, y, 1, "stage 'enc_te'", "array 'y' row %d holds label 3, which stage 'enc_tr' (named by 'fit') "
                 "did not see" % row, "its classes are -1, 2.5, 7, 11")
    nan = yte.copy()
    nan[[5, 70]] = np.nan
    h5(env, "te.h5", y=nan)
    expect_error(env, y, 1, "stage 'enc_te'", "array 'y' row 5 holds NaN (2 NaN labels in this chunk)")
    try:
        LabelEncoder().fit(ytr).transform(bad)
    except ValueError as e:
        assert "unseen labels" in str(e), e
    else:
        raise AssertionError("LabelEncoder accepted an unseen label")


def test_labels_errors_at_run_time(args):
    env = Env(args, "labels_errors")
    g = rng(3)
    y = g.choice([1.0, 2.0], 100)
    y[41] = np.nan
    y[77] = np.nan
    path = h5(env, "d.h5", y=y)
    expect_error(env, pipeline("  enc: { op: encode, input: load, labels: [y] }\n", load=(path, ["y"])), 1,
                 "array 'y' row 41 holds NaN (2 NaN labels); class labels must be numbers")
    many = np.arange(30, dtype=np.float64)[g.permutation(30)].repeat(3)
    path = h5(env, "m.h5", y=many)
    expect_error(env, pipeline("  enc: { op: encode, input: load, labels: [y], max_classes: 20 }\n",
                               load=(path, ["y"])), 1,
                 "array 'y' column 0 has more than 20 distinct values (max_classes) within its first")
    env.run(pipeline("  enc: { op: encode, input: load, labels: [y], max_classes: 30 }\n", load=(path, ["y"])))
    big = np.array([1, 2 ** 53 + 1, 3], dtype=np.int64)
    path = h5(env, "b.h5", y=big)
    expect_error(env, pipeline("  enc: { op: encode, input: load, labels: [y] }\n", load=(path, ["y"])), 1,
                 "array 'y' row 1 column 0 holds 9007199254740993, beyond 2^53")


# ---- one-hot ---------------------------------------------------------------------------------

def onehot_case(env, X, names, drop, stage_extra="", dtype=np.float64):
    """encode X (one-hot, every column) against OneHotEncoder(drop); names:
    the columns attribute or None. Returns the encoder."""
    arrays = {"X": X, "y": np.arange(len(X), dtype=np.float64)}
    path = h5(env, "d_%s.h5" % drop, columns={"X": names} if names else None, **arrays)
    y = pipeline("  enc: { op: encode, input: load, onehot: [X], drop: %s%s }\n" % (drop, stage_extra),
                 load=(path, ["X", "y"]))
    wd = runs(env, y, ["enc"])
    oh = OneHotEncoder(sparse_output=False, drop=None if drop == "none" else drop, dtype=dtype)
    want = oh.fit_transform(X)
    got = read_all(env, "enc", wd)
    exact(got["X"], want, "one-hot X, drop %s" % drop)
    exact(got["y"], arrays["y"].reshape(-1, 1), "y passes through")
    at = array_attrs(env, "enc", "X", wd)
    same_list(at["columns"], oh.get_feature_names_out(names), "names, drop %s" % drop)
    for j, cats in enumerate(oh.categories_):
        exact(at["categories.%d" % j], cats.astype(np.float64), "categories of column %d" % j)
    drops = oh.drop_idx_ if oh.drop_idx_ is not None else [None] * X.shape[1]
    exact(at["dropped"], np.array([-1.0 if d is None else float(d) for d in drops]), "dropped")
    exact(at["encoded_columns"], np.arange(X.shape[1], dtype=np.float64), "encoded_columns")
    return oh


def test_onehot_vs_sklearn(args):
    """An int array (3, 2 and 1 categories) and a float array (with 2.5, a
    negative, a NaN category, 1e16 and 1e-05 in the names), each for drop
    none, first and if_binary."""
    env = Env(args, "onehot")
    g = rng(4)
    n = 400
    Xi = np.column_stack([g.choice([3, -1, 10], n), g.choice([0, 1], n), np.full(n, 5)]).astype(np.int64)
    Xf = np.column_stack([g.choice([2.5, -1.0, 7.0, np.nan], n), g.choice([1e16, 1e-05, 0.0001], n),
                          g.choice([1.0, 2.0], n)])
    for drop in ("none", "first", "if_binary"):
        onehot_case(env, Xi, ["color", "size", "const"], drop)
        onehot_case(env, Xf, None, drop)


def test_onehot_float32_and_dtype(args):
    """float32 categories are named by their float32 digits; dtype sets the
    output's type (int8 here, OneHotEncoder(dtype=np.int8))."""
    env = Env(args, "onehot32")
    g = rng(5)
    X = np.column_stack([g.choice([0.1, 1e-4, 3.0, 123456789.0], 200), g.choice([1.5, 2.0], 200)]).astype(np.float32)
    onehot_case(env, X, None, "none", ", dtype: int8", dtype=np.int8)
    onehot_case(env, X, ["a", "b"], "if_binary", ", dtype: float32", dtype=np.float32)


def test_onehot_columns_pass_through(args):
    """columns: [2, 0] of an array without names, and by name of one with
    names: the encoded columns first (in the order given), then the rest, as
    ColumnTransformer(remainder='passthrough') gives them."""
    env = Env(args, "columns")
    g = rng(6)
    n = 300
    X = np.column_stack([g.choice([1.0, 2.0, 3.0], n), g.normal(size=n), g.choice([-5.0, 5.0], n), g.normal(size=n)])
    names = ["color", "w", "side", "h"]
    arrays = {"X": X, "Z": X.copy()}
    path = h5(env, "d.h5", columns={"Z": names}, **arrays)
    y = pipeline("  enc: { op: encode, input: load, onehot: [X, Z], drop: if_binary,\n"
                 "         columns: { X: [2, 0], Z: [side, color] } }\n", load=(path, ["X", "Z"]))
    wd = runs(env, y, ["enc"])
    got = read_all(env, "enc", wd)
    ct = ColumnTransformer([("oh", OneHotEncoder(sparse_output=False, drop="if_binary"), [2, 0])],
                           remainder="passthrough", verbose_feature_names_out=False)
    exact(got["X"], ct.fit_transform(X), "X")
    same_list(array_attrs(env, "enc", "X", wd)["columns"], ct.get_feature_names_out(), "X names")
    exact(array_attrs(env, "enc", "X", wd)["encoded_columns"], np.array([2.0, 0.0]), "X encoded_columns")
    df = pd.DataFrame(X, columns=names)
    ct = ColumnTransformer([("oh", OneHotEncoder(sparse_output=False, drop="if_binary"), ["side", "color"])],
                           remainder="passthrough", verbose_feature_names_out=False)
    exact(got["Z"], ct.fit_transform(df), "Z")
    same_list(array_attrs(env, "enc", "Z", wd)["columns"], ct.get_feature_names_out(), "Z names")


def test_onehot_fit_apply_unknown(args):
    """fit: applies the train stage's categories; a category train lacks is
    an error with unknown: error, all-zero columns with unknown: ignore (and
    a warning when a category is dropped, as scikit-learn warns)."""
    env = Env(args, "onehot_fit")
    g = rng(7)
    Xtr = np.column_stack([g.choice([1, 2, 3], 200), g.choice([10, 20], 200)]).astype(np.int32)
    Xte = np.column_stack([g.choice([1, 2, 3], 80), g.choice([10, 20], 80)]).astype(np.int32)
    ytr = g.choice([3.0, -2.0, 8.5], 200)
    tr = h5(env, "tr.h5", columns={"X": ["a", "b"]}, X=Xtr, y=ytr)
    te_path = env.path("te.h5")

    def pipe(extra=""):
        return pipeline("  enc_tr: { op: encode, input: tr, onehot: [X], labels: [y], drop: first }\n"
                        "  enc_te: { op: encode, input: te, fit: enc_tr, onehot: [X]%s }\n" % extra,
                        tr=(tr, ["X", "y"]), te=(te_path, ["X"]))

    h5(env, "te.h5", columns={"X": ["a", "b"]}, X=Xte)
    wd = runs(env, pipe(), ["enc_tr", "enc_te"])
    oh = OneHotEncoder(sparse_output=False, drop="first").fit(Xtr)
    exact(read_all(env, "enc_tr", wd)["X"], oh.transform(Xtr), "fitted")
    le = LabelEncoder().fit(ytr)  # labels fitted in the same stage, by the read its plan makes
    exact(read_all(env, "enc_tr", wd)["y"], le.transform(ytr).astype(np.int64).reshape(-1, 1), "labels beside")
    exact(array_attrs(env, "enc_tr", "y", wd)["classes"], le.classes_, "classes beside")
    exact(read_all(env, "enc_te", wd)["X"], oh.transform(Xte), "applied")
    same_list(array_attrs(env, "enc_te", "X", wd)["columns"], oh.get_feature_names_out(["a", "b"]), "names")
    exact(array_attrs(env, "enc_te", "X", wd)["categories.0"], np.array([1.0, 2.0, 3.0]), "categories carried")
    bad = Xte.copy()
    bad[13, 1] = 30
    bad[50, 0] = 4
    bad[51, 1] = 30
    h5(env, "te.h5", columns={"X": ["a", "b"]}, X=bad)
    expect_error(env, pipe(), 1, "array 'X' row 50 column 0 ('a') holds 4, a category stage 'enc_tr' (named by "
                 "'fit') did not see")
    r = env.run(pipe(", unknown: ignore"))
    ign = OneHotEncoder(sparse_output=False, drop="first", handle_unknown="ignore").fit(Xtr)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        want = ign.transform(bad)
    assert any("unknown categories in columns [0, 1]" in str(w.message) for w in caught), caught
    exact(read_all(env, "enc_te")["X"], want, "unknown: ignore")
    with env.ckpt("enc_te") as f:
        assert float(f.attrs["result.unknown_values"]) == 3, f.attrs["result.unknown_values"]
    for col, k in ((0, 1), (1, 2)):
        w = "array 'X' column %d: %d value%s that stage 'enc_tr' (named by 'fit') did not see got all-zero " \
            "columns" % (col, k, "" if k == 1 else "s")
        assert w in r.stderr, r.stderr


def test_diabetes_sex_and_linreg(args):
    """The diabetes data's sex column (1 or 2) one-hot encoded (drop:
    if_binary keeps sex_2.0) by name, the other nine columns passing through;
    linreg on encode's output against LinearRegression on the
    ColumnTransformer's; a normalize stage reads the encoded frame too. The
    same bytes at -j 1 and -j 2 with 7-row chunks; a second run reuses every
    stage and `sluice status` calls them all fresh."""
    env = Env(args, "diabetes")
    with h5py.File(os.path.join(env.root, "datasets", "diabetes.h5"), "r") as f:
        X = f["X"][...]
        y = f["y"][...]
        names = [c.decode() if isinstance(c, bytes) else c for c in f["X"].attrs["columns"]]
    assert sorted(set(X[:, 1])) == [1.0, 2.0], set(X[:, 1])
    path = h5(env, "diabetes.h5", columns={"X": names}, X=X, y=y)
    yaml_text = pipeline("  enc: { op: encode, input: load, onehot: [X], columns: { X: [sex] }, drop: if_binary }\n"
                         "  norm: { op: normalize, input: enc, arrays: [X] }\n"
                         "  fit: { op: linreg, input: enc }\n", load=(path, ["X", "y"]))
    wd = runs(env, yaml_text, ["enc", "norm", "fit"], [(7, 1), (7, 2)])
    ct = ColumnTransformer([("oh", OneHotEncoder(sparse_output=False, drop="if_binary"), ["sex"])],
                           remainder="passthrough", verbose_feature_names_out=False)
    Z = ct.fit_transform(pd.DataFrame(X, columns=names))
    got = read_all(env, "enc", wd)
    exact(got["X"], Z, "encoded diabetes")
    same_list(array_attrs(env, "enc", "X", wd)["columns"], ct.get_feature_names_out(), "names")
    assert array_attrs(env, "enc", "X", wd)["columns"][0] == "sex_2.0"
    lr = LinearRegression().fit(Z, y)
    model = read_all(env, "fit", wd)
    assert_close(model["coef"].ravel(), lr.coef_, 1e-9, what="coef")
    assert_close(model["intercept"].ravel(), [lr.intercept_], 1e-9, what="intercept")
    assert_close(read_all(env, "norm", wd)["X"], (Z - Z.mean(0)) / Z.std(0), 1e-12, 1e-12, what="normalized")
    r = env.run(yaml_text, "--chunk-rows", "7", "--workdir", env.path(wd))
    for st in ("load", "enc", "norm", "fit"):
        line = [l for l in r.stdout.splitlines() if l.startswith(st + " ")]
        assert line and "reused" in line[0], r.stdout
    p = env.write("p.yaml", yaml_text)
    s = subprocess.run([env.sluice, "status", p, "--chunk-rows", "7", "--workdir", env.path(wd)],
                       capture_output=True, text=True, timeout=60)
    assert s.returncode == 0, s.stdout + s.stderr
    for st in ("load", "enc", "norm", "fit"):
        line = [l for l in s.stdout.splitlines() if l.startswith(st + " ")]
        assert line and line[0].split()[1] == "fresh", s.stdout


def test_onehot_multi_category_linreg(args):
    """Three categorical columns (drop: first) and two numeric ones feed
    linreg: the coefficients equal LinearRegression's on the
    ColumnTransformer's output, at any chunk size and thread count."""
    env = Env(args, "linreg")
    g = rng(8)
    n = 1000
    X = np.column_stack([g.choice([1, 2, 3, 4], n), g.normal(size=n), g.choice([0, 5], n),
                         g.choice([-2, 7, 9], n), g.normal(size=n)]).astype(np.float64)
    w = np.array([0.5, -1.0, 2.0, 0.25, 1.5])
    y = X @ w + 3 + 0.1 * g.normal(size=n)
    path = h5(env, "d.h5", X=X, y=y)
    yaml_text = pipeline("  enc: { op: encode, input: load, onehot: [X], columns: { X: '0, 2, 3' }, drop: first }\n"
                         "  fit: { op: linreg, input: enc }\n", load=(path, ["X", "y"]))
    wd = runs(env, yaml_text, ["enc", "fit"], [(7, 1), (7, 2), (333, 2), (65536, 1)])
    ct = ColumnTransformer([("oh", OneHotEncoder(sparse_output=False, drop="first"), [0, 2, 3])],
                           remainder="passthrough", verbose_feature_names_out=False)
    Z = ct.fit_transform(X)
    exact(read_all(env, "enc", wd)["X"], Z, "encoded")
    lr = LinearRegression().fit(Z, y)
    model = read_all(env, "fit", wd)
    assert_close(model["coef"].ravel(), lr.coef_, 1e-9, what="coef")
    assert_close(model["intercept"].ravel(), [lr.intercept_], 1e-9, what="intercept")


# ---- errors ----------------------------------------------------------------------------------

def test_config_errors(args):
    env = Env(args, "config_errors")
    g = rng(9)
    X = np.column_stack([g.choice([1.0, 2.0], 50), g.normal(size=50)])
    path = h5(env, "d.h5", columns={"X": ["color", "w"]}, X=X, y=g.choice([0.0, 1.0], 50))
    y = lambda s: pipeline(s, load=(path, ["X", "y"]))  # noqa: E731
    expect_error(env, y("  enc: { op: encode, input: load }\n"), 2,
                 "encode needs 'labels: [...]' (arrays of class labels to number 0..K-1) or 'onehot: [...]'",
                 check_too=True)
    expect_error(env, y("  enc: { op: encode, input: load, labels: [z] }\n"), 2,
                 "'labels' names array 'z', which the input lacks; it has X (float64, 2 columns)", check_too=True)
    expect_error(env, y("  enc: { op: encode, input: load, labels: [X] }\n"), 2,
                 "'labels' names array 'X', which has 2 columns; a label array has one column", check_too=True)
    expect_error(env, y("  enc: { op: encode, input: load, labels: [y], onehot: [y] }\n"), 2,
                 "array 'y' is in both 'labels' and 'onehot'; encode it one way", check_too=True)
    expect_error(env, y("  enc: { op: encode, input: load, onehot: [X], columns: { y: [0] } }\n"), 2,
                 "'columns' names array 'y', which 'onehot' does not list", check_too=True)
    expect_error(env, y("  enc: { op: encode, input: load, onehot: [X], columns: { X: [colour] } }\n"), 2,
                 "'columns' names column 'colour', which array 'X' lacks; did you mean 'color'?", check_too=True)
    expect_error(env, y("  enc: { op: encode, input: load, onehot: [X], columns: { X: [color, 0] } }\n"), 2,
                 "'columns' lists column 0 ('0') of array 'X' twice", check_too=True)
    expect_error(env, y("  enc: { op: encode, input: load, onehot: [X], columns: { X: ' , ' } }\n"), 2,
                 "'columns' names no column of array 'X'; list at least one", check_too=True)
    expect_error(env, y("  n: { op: normalize, input: load }\n  enc: { op: encode, input: load, fit: n }\n"), 2,
                 "'fit' names stage 'n', a 'normalize' stage; it must name an encode stage", check_too=True)
    # labels-only fit stages are planned with the pipeline: sluice check finds these
    lab = "  a: { op: encode, input: load, labels: [y] }\n"
    expect_error(env, y(lab + "  b: { op: encode, input: load, fit: a, onehot: [X] }\n"), 2,
                 "'onehot' names array 'X', which stage 'a' (named by 'fit') did not encode one-hot; that stage "
                 "encoded labels: y", check_too=True)
    expect_error(env, y(lab + "  b: { op: encode, input: load, fit: a, columns: { X: [0] } }\n"), 2,
                 "the columns to encode come from stage 'a' (named by 'fit'); remove 'columns' here", check_too=True)
    # a one-hot fit stage plans in the run, and so does the stage applying it
    oh = "  a: { op: encode, input: load, onehot: [X], drop: first }\n"
    expect_error(env, y(oh + "  b: { op: encode, input: load, fit: a, drop: none }\n"), 2,
                 "this stage's drop is none but stage 'a' (named by 'fit') encoded with drop first; leave 'drop' "
                 "out to use that stage's")
    other = h5(env, "o.h5", columns={"X": ["color", "h"]}, X=X, Z=X[:, :1].copy())
    both = "  other: { op: load.hdf5, file: %s, arrays: { %%s } }\n" % other
    expect_error(env, y(oh + both % "Z: /Z" + "  b: { op: encode, input: other, fit: a }\n"), 2,
                 "stage 'a' (named by 'fit') encoded array 'X', which this stage's input lacks; it has Z (float64, "
                 "1 column); name the arrays to encode with 'labels' and 'onehot'")
    expect_error(env, y(oh + both % "X: /Z" + "  b: { op: encode, input: other, fit: a }\n"), 2,
                 "array 'X' has 1 columns here but 2 in stage 'a' (named by 'fit'); the tables of one cannot be "
                 "applied to the other")
    expect_error(env, y(oh + both % "X: /X" + "  b: { op: encode, input: other, fit: a }\n"), 2,
                 "array 'X' column 1 is 'h' here but 'w' in stage 'a' (named by 'fit'); the columns must be the "
                 "same, in the same order")


def test_data_errors(args):
    env = Env(args, "data_errors")
    g = rng(10)
    X = np.column_stack([g.choice([1.0, 2.0], 60), g.choice([300.0, 1.0], 60)])
    path = h5(env, "d.h5", X=X, y=np.full(60, np.nan))
    y = lambda s: pipeline(s, load=(path, ["X", "y"]))  # noqa: E731
    expect_error(env, y("  c: { op: clean, input: load, nan: { y: drop_row } }\n"
                        "  enc: { op: encode, input: c, labels: [y] }\n"), 1,
                 "stage 'enc'", "the input has no rows, so there are no classes or categories to fit")
    first = int(np.argmax(X[:, 1] == 300.0))
    expect_error(env, y("  enc: { op: encode, input: load, onehot: [X], columns: { X: [0] }, dtype: int8 }\n"), 1,
                 "array 'X' row %d column 1 passes through the one-hot encoding, but its value 300 does not fit in "
                 "int8" % first)
    one = h5(env, "one.h5", X=np.ones((10, 2)))
    expect_error(env, pipeline("  enc: { op: encode, input: load, onehot: [X], drop: first }\n", load=(one, ["X"])),
                 1, "array 'X' would have no columns: each encoded column has one category")
    tr = h5(env, "tr.h5", X=X)
    yaml_text = pipeline("  a: { op: encode, input: load, onehot: [X] }\n"
                         "  b: { op: encode, input: load, fit: a }\n", load=(tr, ["X"]))
    env.run(yaml_text)
    with h5py.File(env.path("w", "a.h5"), "r+") as f:
        del f["X"].attrs["categories.1"]
    expect_error(env, yaml_text, 1, "stage 'a' (named by 'fit') holds no fitted 'categories.1' for array 'X'",
                 "rerun it")


if __name__ == "__main__":
    harness.main([
        test_labels_vs_label_encoder,
        test_labels_fit_apply,
        test_labels_errors_at_run_time,
        test_onehot_vs_sklearn,
        test_onehot_float32_and_dtype,
        test_onehot_columns_pass_through,
        test_onehot_fit_apply_unknown,
        test_diabetes_sex_and_linreg,
        test_onehot_multi_category_linreg,
        test_config_errors,
        test_data_errors,
    ])
