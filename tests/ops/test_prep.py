"""Op tests of the data-preparation ops clean, scale and convert's column
selection: pipelines run through the CLI on tests/fixtures/prep.h5, outputs
compared with the NumPy values that tests/fixtures/make_prep.py stored there.

clean: drop_row + impute_mean / impute_median / impute_constant, fixed clip
(float and int arrays), clip_sigma, inf: keep, float32 inputs, against the
NumPy script's order (drop, then nanmean/nanmedian over the kept rows, impute,
clip) at 1e-12 relative (medians, constants, clips and dropped rows exactly);
large medians (10,000 rows: histogram narrowing, 60% ties, odd and even
counts) exactly, at chunk sizes 100, 1000 and 65536; thread-count
independence (bitwise, -j 1 vs -j 2); results and attributes; the errors
(fail with count and first position, all-NaN column, unknown array, bad
action with did-you-mean, clip lo > hi, ...), config errors also through
`sluice check`.

scale: factor (scalar and per column) and offset, log, log1p, sqrt, square
vs NumPy (exact where NumPy is exact, 1e-13 for log/log1p), float32, domain
errors and domain_errors: nan, integer arrays, the `features` default.

clean and scale change only the `features` array (X) unless the arrays are
named (docs/guide.md, "Features and targets").

convert: columns by name / index / negative index, drop_columns, label split
(with and without dtype) vs NumPy fancy indexing, exactly; column names; the
errors (unknown name with did-you-mean, index out of range, ambiguous array,
label array clash, label among columns)."""
import subprocess

import h5py
import numpy as np

import harness
from harness import Env, assert_close

FIX = "prep.h5"


def fix(env, path):
    with h5py.File(env.fixture(FIX), "r") as f:
        return f[path][...]


def fix_attr(env, path, key):
    with h5py.File(env.fixture(FIX), "r") as f:
        return f[path].attrs[key]


def attrs(env, stage, array, workdir="w"):
    with env.ckpt(stage, workdir) as f:
        return {k: np.asarray(v) for k, v in f[array].attrs.items()}


def result(env, stage, key, workdir="w"):
    with env.ckpt(stage, workdir) as f:
        return float(f.attrs["result." + key])


def check(env, yaml_text, expect, name="c.yaml"):
    p = env.write(name, yaml_text)
    r = subprocess.run([env.sluice, "check", p], capture_output=True, text=True, timeout=60)
    if r.returncode != expect:
        raise AssertionError("check: exit %d (expected %d)\n%s%s" % (r.returncode, expect, r.stdout, r.stderr))
    return r.stderr


def expect_error(env, yaml_text, code, *needles):
    """The run fails with exit `code` and a message holding every needle; a
    config error (2) is also found by `sluice check`."""
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


def pipeline(env, stages, arrays="X: /in/X, y: /in/y, I: /in/I"):
    return ("pipeline: t\nworkdir: w\nstages:\n"
            "  load: { op: load.hdf5, file: %s, arrays: { %s } }\n" % (env.fixture(FIX), arrays)) + stages


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


def max_rel(got, want):
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    ok = np.isfinite(want)
    if not ok.any():
        return 0.0
    return float(np.max(np.abs(got[ok] - want[ok]) / np.maximum(np.abs(want[ok]), 1e-300)))


def read_all(env, stage, workdir="w"):
    with env.ckpt(stage, workdir) as f:
        return {k: f[k][...] for k in f.keys()}


def runs(env, yaml_text, stage, variants):
    """Runs the pipeline once per (chunk_rows, threads); checks that the
    thread count never changes a byte; returns the outputs per variant."""
    out = {}
    for chunk, j in variants:
        wd = "w_%d_%d" % (chunk, j)
        env.run(yaml_text, "--chunk-rows", str(chunk), "-j", str(j), "--workdir", env.path(wd))
        out[(chunk, j)] = (read_all(env, stage, wd), attrs_all(env, stage, wd))
    for (chunk, j), (arrs, _) in out.items():
        if j != 1 and (chunk, 1) in out:
            for k, v in arrs.items():
                if v.tobytes() != out[(chunk, 1)][0][k].tobytes():
                    raise AssertionError("chunk %d: array %s differs between -j 1 and -j %d" % (chunk, k, j))
    return out


def attrs_all(env, stage, workdir):
    with env.ckpt(stage, workdir) as f:
        a = {k: np.asarray(v) for k, v in f.attrs.items()}
        for name in f.keys():
            for k, v in f[name].attrs.items():
                a[name + "." + k] = np.asarray(v)
        return a


VARIANTS = [(100, 1), (100, 2), (65536, 1), (65536, 2), (333, 3)]
REPORT = []


# ---- clean ---------------------------------------------------------------------------------------

def test_clean_drop_mean(args):
    env = Env(args, "drop_mean")
    y = pipeline(env, "  clean: { op: clean, input: load, nan: { y: drop_row, X: impute_mean } }\n")
    want = {k: fix(env, "expect/drop_mean/" + k) for k in ("X", "y", "I", "mean")}
    for v, (arrs, at) in runs(env, y, "clean", VARIANTS).items():
        assert_close(arrs["X"], want["X"], 1e-12, what="X %s" % (v,))
        exact(arrs["y"], want["y"], "y %s" % (v,))
        exact(arrs["I"], want["I"], "I %s" % (v,))
        assert_close(at["X.impute_value"], want["mean"], 1e-14, what="impute_value %s" % (v,))
        REPORT.append("clean impute_mean vs np.nanmean %s: max rel %.2e"
                      % (v, max_rel(at["X.impute_value"], want["mean"])))
        assert at["result.rows_dropped"] == fix_attr(env, "expect/drop_mean", "rows_dropped")
        assert at["result.values_imputed"] == fix_attr(env, "expect/drop_mean", "values_imputed")
        assert at["result.values_clipped"] == 0
        assert int(at["sluice_rows"]) == len(want["y"])
        assert list(at["X.columns"]) == ["age", "bmi", "bp", "glucose"], at["X.columns"]


def test_clean_drop_median(args):
    env = Env(args, "drop_median")
    y = pipeline(env, "  clean: { op: clean, input: load, nan: { y: drop_row, X: impute_median } }\n")
    want = {k: fix(env, "expect/drop_median/" + k) for k in ("X", "y", "I", "median")}
    for v, (arrs, at) in runs(env, y, "clean", VARIANTS).items():
        exact(arrs["X"], want["X"], "X %s" % (v,))
        exact(arrs["y"], want["y"], "y %s" % (v,))
        exact(arrs["I"], want["I"], "I %s" % (v,))
        exact(at["X.impute_value"], want["median"], "impute_value %s" % (v,))


def test_clean_median_large(args):
    """10,000 rows: more values than one collect holds, so histogram passes
    narrow the range; column 1 is 60% zeros (and -0.0)."""
    env = Env(args, "median_large")
    y = pipeline(env, "  clean: { op: clean, input: load, nan: { M: impute_median } }\n", arrays="M: /in/M")
    M = fix(env, "in/M")
    med = fix(env, "expect/M_median/median")
    for v, (arrs, at) in runs(env, y, "clean", [(100, 1), (100, 2), (1000, 3), (65536, 1), (65536, 4)]).items():
        exact(at["M.impute_value"], med, "median %s" % (v,))
        out = arrs["M"]
        nan = np.isnan(M)
        exact(out[~nan], M[~nan], "kept values %s" % (v,))
        for c in range(2):
            assert (out[nan[:, c], c] == med[c]).all(), "column %d imputed values %s" % (c, v)
        assert at["result.values_imputed"] == nan.sum()


def test_clean_const_keep(args):
    env = Env(args, "const")
    y = pipeline(env, "  clean: { op: clean, input: load, nan: { X: impute_constant, y: keep }, fill_value: -1 }\n")
    want = {k: fix(env, "expect/const/" + k) for k in ("X", "y", "I")}
    for v, (arrs, at) in runs(env, y, "clean", [(100, 1), (100, 2)]).items():
        exact(arrs["X"], want["X"], "X")
        exact(arrs["y"], want["y"], "y (NaN and Inf kept)")
        exact(arrs["I"], want["I"], "I")
        assert at["result.values_imputed"] == fix_attr(env, "expect/const", "values_imputed")
        assert at["result.rows_dropped"] == 0
        exact(at["X.impute_value"], np.full(4, -1.0), "impute_value")


def test_clean_clip(args):
    env = Env(args, "clip")
    y = pipeline(env, "  clean: { op: clean, input: load, nan: { y: drop_row, X: impute_mean }, clip: [0, 100],\n"
                      "           clip_arrays: [X, y, I] }\n")
    want = {k: fix(env, "expect/clip/" + k) for k in ("X", "y", "I")}
    for v, (arrs, at) in runs(env, y, "clean", [(100, 1), (100, 2), (65536, 1)]).items():
        assert_close(arrs["X"], want["X"], 1e-12, what="X")
        exact(arrs["y"], want["y"], "y")
        exact(arrs["I"], want["I"], "I (int32 clipped)")
        assert at["result.values_clipped"] == fix_attr(env, "expect/clip", "values_clipped"), at
        exact(at["I.clip_lo"], np.zeros(2), "clip_lo")
        exact(at["I.clip_hi"], np.full(2, 100.0), "clip_hi")
    # default clip_arrays: the `features` array X only; the target y and I keep their values
    y = pipeline(env, "  clean: { op: clean, input: load, nan: { y: drop_row, X: impute_mean }, clip: [0, 100] }\n")
    env.run(y)
    assert_close(env.read("clean", "X"), want["X"], 1e-12, what="X clipped by default")
    exact(env.read("clean", "I"), fix(env, "expect/drop_mean/I"), "I not clipped by default")
    exact(env.read("clean", "y"), fix(env, "expect/drop_mean/y"), "y not clipped by default")
    assert not (fix(env, "expect/drop_mean/y") == want["y"]).all(), "the clip would change y: the check can fail"
    # `features` names another array to clip by default
    y = pipeline(env, "  clean: { op: clean, input: load, nan: { y: drop_row, X: impute_mean }, clip: [0, 100],\n"
                      "           features: I }\n")
    env.run(y)
    exact(env.read("clean", "I"), want["I"], "I clipped as the features array")
    assert_close(env.read("clean", "X"), fix(env, "expect/drop_mean/X"), 1e-12, what="X not clipped")


def test_clean_clip_sigma(args):
    env = Env(args, "sigma")
    y = pipeline(env, "  clean: { op: clean, input: load, nan: { y: drop_row, X: impute_mean }, clip_sigma: 2,\n"
                      "           clip_arrays: [X] }\n")
    want = {k: fix(env, "expect/sigma/" + k) for k in ("X", "y", "lo", "hi")}
    for v, (arrs, at) in runs(env, y, "clean", VARIANTS).items():
        assert_close(arrs["X"], want["X"], 1e-12, what="X %s" % (v,))
        exact(arrs["y"], want["y"], "y")
        assert_close(at["X.clip_lo"], want["lo"], 1e-13, what="lo")
        assert_close(at["X.clip_hi"], want["hi"], 1e-13, what="hi")
        REPORT.append("clean clip_sigma bounds vs nanmean -+ 2 nanstd %s: max rel %.2e"
                      % (v, max(max_rel(at["X.clip_lo"], want["lo"]), max_rel(at["X.clip_hi"], want["hi"]))))
        assert at["result.values_clipped"] == fix_attr(env, "expect/sigma", "values_clipped")


def test_clean_inf_keep(args):
    env = Env(args, "infkeep")
    y = pipeline(env, "  clean: { op: clean, input: load, inf: keep, nan: { y: drop_row, X: impute_mean } }\n")
    want = {k: fix(env, "expect/infkeep/" + k) for k in ("X", "y", "mean")}
    for v, (arrs, at) in runs(env, y, "clean", [(100, 1), (100, 2), (65536, 1)]).items():
        assert_close(arrs["X"], want["X"], 1e-12, what="X %s" % (v,))
        exact(arrs["y"], want["y"], "y (Inf rows kept)")
        assert_close(at["X.impute_value"], want["mean"], 1e-14, what="means with Inf")
        assert at["result.rows_dropped"] == fix_attr(env, "expect/infkeep", "rows_dropped")


def test_clean_float32(args):
    env = Env(args, "f32")
    for action, case in (("impute_mean", "f32_mean"), ("impute_median", "f32_median")):
        y = pipeline(env, "  clean: { op: clean, input: load, nan: { X: %s } }\n" % action, arrays="X: /in/Xf")
        want = fix(env, "expect/%s/X" % case)
        for v, (arrs, at) in runs(env, y, "clean", [(100, 1), (100, 2), (65536, 1)]).items():
            exact(arrs["X"], want, "%s X %s" % (case, v))
        if case == "f32_mean":
            # NumPy's own float32 nanmean accumulates in float32: a few float32 ulps off
            np32 = fix(env, "expect/f32_mean/numpy_f32_mean")
            got = at["X.impute_value"]
            REPORT.append("clean float32 impute_mean vs np.nanmean(float32 array): max rel %.2e (NumPy's float32 "
                          "accumulation)" % max_rel(got, np32))
            assert max_rel(got, np32) < 1e-5, (got, np32)


def test_clean_fail(args):
    env = Env(args, "fail")
    for case, nan in (("fail", "{ X: fail }"), ("fail_drop", "{ y: drop_row, X: fail }")):
        count = int(fix_attr(env, "expect/" + case, "count"))
        row = int(fix_attr(env, "expect/" + case, "row"))
        col = int(fix_attr(env, "expect/" + case, "col"))
        names = ["age", "bmi", "bp", "glucose"]
        y = pipeline(env, "  clean: { op: clean, input: load, nan: %s }\n" % nan)
        for chunk in ("100", "65536"):
            r = env.run(y, "--chunk-rows", chunk, "-j", "2", expect=1)
            for needle in ("array 'X'", "has %d NaN or +-Inf values" % count, "row %d, column %d ('%s')"
                           % (row, col, names[col]), "stage 'clean'"):
                assert needle in r.stderr, (needle, r.stderr)
    # no missing values: fail passes
    y = pipeline(env, "  clean: { op: clean, input: load, nan: { I: fail, M: fail }, inf: keep }\n",
                 arrays="I: /in/J, M: /in/P")
    expect_error(env, y, 1, "array 'M' has 20 NaN values", "row ")
    y = pipeline(env, "  clean: { op: clean, input: load, nan: { I: fail } }\n", arrays="I: /in/I")
    env.run(y)


def test_clean_errors(args):
    env = Env(args, "clean_errors")
    p = lambda s, **kw: pipeline(env, "  clean: { op: clean, input: load, %s }\n" % s, **kw)
    expect_error(env, p("nan: { Y: drop_row }"), 2, "'nan' names array 'Y', which the input lacks", "did you mean 'y'?")
    expect_error(env, p("nan: { y: drop_rows }"), 2, "'drop_rows'", "did you mean 'drop_row'?")
    expect_error(env, p("nan: { y: impute_medain }"), 2, "did you mean 'impute_median'?")
    expect_error(env, p("clip: [5, 1]"), 2, "lo 5 greater than hi 1")
    expect_error(env, p("clip: [5]"), 2, "'clip' needs two numbers")
    expect_error(env, p("clip: [0, 1], clip_sigma: 2"), 2, "not both")
    expect_error(env, p("clip_sigma: 0"), 2, "'clip_sigma' must be a finite number greater than 0")
    expect_error(env, p("clip_arrays: [X]"), 2, "neither 'clip' nor 'clip_sigma'")
    expect_error(env, p("clip: [0, 1], clip_arrays: [Q]"), 2, "array 'Q'")
    expect_error(env, p("clip_sigma: 2", arrays="M: /in/M"), 2,
                 "without 'clip_arrays', clean clips only the features array", "(here 'X')",
                 "M (float64, 2 columns)", "write 'features: M'", "'clip_arrays: [...]' to name every array to clip")
    expect_error(env, p("clip: [0.2, 0.8], clip_arrays: [I]"), 2, "no integer lies in")
    expect_error(env, p("nan: { y: explode }"), 2, "the actions are drop_row")
    expect_error(env, p("inf: maybe"), 2, "one of nan, keep")
    # all-NaN column: no mean, no median; a constant is fine
    for act, what in (("impute_mean", "mean"), ("impute_median", "median")):
        expect_error(env, p("nan: { Z: %s }" % act, arrays="Z: /in/Z"), 1,
                     "array 'Z' column 1 has no value that is not NaN or +-Inf", "no %s to impute" % what,
                     "impute_constant")
    env.run(p("nan: { Z: impute_constant }, fill_value: 3", arrays="Z: /in/Z"))
    assert (env.read("clean", "Z")[:, 1] == 3).all()


# ---- scale ---------------------------------------------------------------------------------------

def test_scale(args):
    env = Env(args, "scale")
    cases = [
        ("s_factor", "factor: 1.1", 0),
        ("s_percol", "factor: [1, 2, 3], offset: [0.5, -1, 0]", 0),
        ("s_log", "transform: log", 1e-13),
        ("s_log1p", "transform: log1p, factor: 2, offset: 1", 1e-13),
        ("s_sqrt", "transform: sqrt", 0),
        ("s_square", "transform: square, factor: 0.5", 0),
    ]
    P = fix(env, "in/P")
    for case, params, tol in cases:
        y = pipeline(env, "  s: { op: scale, input: load, features: P, %s }\n" % params, arrays="P: /in/P, I: /in/J")
        want = fix(env, "expect/%s/P" % case)
        for v, (arrs, at) in runs(env, y, "s", [(100, 1), (100, 2), (65536, 1)]).items():
            if tol == 0:
                exact(arrs["P"], want, "%s %s" % (case, v))
            else:
                assert_close(arrs["P"], want, tol, what=case)
                REPORT.append("scale %s vs NumPy: max rel %.2e" % (case, max_rel(arrs["P"], want)))
            exact(arrs["I"], fix(env, "in/J"), "I passes through")
            assert np.isnan(arrs["P"]).sum() == np.isnan(P).sum()
            assert "P.scale_factor" in at and "I.scale_factor" not in at
    # float32: computed in double, rounded once; within one float32 ulp of NumPy's float32 product
    y = pipeline(env, "  c: { op: convert, input: load, dtype: float32 }\n"
                      "  s: { op: scale, input: c, arrays: [P], factor: 1.1 }\n", arrays="P: /in/P")
    env.run(y)
    got = env.read("s", "P")
    exact(got, fix(env, "expect/s_f32/P"), "float32 scale")
    np32 = fix(env, "expect/s_f32/numpy_f32")
    ok = np.isnan(np32) | (np.abs(got - np32) <= np.spacing(np.abs(np32)))
    assert ok.all()


def test_scale_domain(args):
    env = Env(args, "scale_domain")
    y = pipeline(env, "  s: { op: scale, input: load, transform: log }\n", arrays="X: /in/Pneg")
    for chunk in ("100", "65536"):
        r = env.run(y, "--chunk-rows", chunk, "-j", "2", expect=1)
        for n in ("array 'X' row 417 column 2: value -3.5 is outside the domain of log", "domain_errors: nan"):
            assert n in r.stderr, (n, r.stderr)
    y = pipeline(env, "  s: { op: scale, input: load, transform: sqrt, arrays: P }\n", arrays="P: /in/Pneg")
    expect_error(env, y, 1, "row 417 column 2", "sqrt")
    # log of 0 is an error too (the first in row order is reported per chunk: row 417 before 800)
    y = pipeline(env, "  s: { op: scale, input: load, transform: log, domain_errors: nan, features: P }\n",
                 arrays="P: /in/Pneg")
    env.run(y)
    got = env.read("s", "P")
    want = fix(env, "expect/s_lognan/P")
    assert_close(got, want, 1e-13, what="log with NaN")
    assert np.isneginf(got[800, 0]) and np.isnan(got[417, 2])
    assert result(env, "s", "values_out_of_domain") == 2


def test_scale_errors(args):
    env = Env(args, "scale_errors")
    p = lambda s, arrays="P: /in/P, I: /in/J": pipeline(env, "  s: { op: scale, input: load, %s }\n" % s, arrays)
    expect_error(env, p("arrays: [I], factor: 2"), 2, "array 'I' holds int32", "convert it first")
    expect_error(env, p("features: P, factor: [1, 2]"), 2, "'factor' has 2 values but array 'P' has 3 columns")
    expect_error(env, p("features: P, offset: [1, 2, 3, 4]"), 2, "'offset' has 4 values")
    expect_error(env, p("transform: lg"), 2, "did you mean 'log'?")
    # without `arrays`, the features array alone: an integer one is refused as if named
    expect_error(env, p("factor: 2", arrays="X: /in/J, P: /in/P"), 2, "array 'X' holds int32", "convert it first")
    expect_error(env, p("factor: 2"), 2, "without 'arrays', scale changes only the features array",
                 "(here 'X')", "I (int32, 2 columns)", "P (float64, 3 columns)", "write 'features: P'",
                 "'arrays: [...]' to name every array to scale")
    expect_error(env, p("arrays: []"), 2, "'arrays' names no arrays")
    expect_error(env, p("arrays: [Q]"), 2, "array 'Q'")


# ---- convert -------------------------------------------------------------------------------------

def test_convert_columns(args):
    env = Env(args, "convert_cols")
    X = fix(env, "in/X")
    names = np.array(["age", "bmi", "bp", "glucose"])
    cases = [
        ("cols_names", "columns: [bp, age]", {"X": [2, 0]}),
        ("cols_index", "columns: [3, 1]", {"X": [3, 1]}),
        ("cols_neg", "columns: [-1, age]", {"X": [3, 0]}),
        ("drop_cols", "drop_columns: [bmi]", {"X": [0, 2, 3]}),
        ("label", "label: glucose, label_array: target", {"X": [0, 1, 2], "target": [3]}),
        ("label_f32", "label: 3, columns: [age, bp], label_array: y2, dtype: float32", {"X": [0, 2], "y2": [3]}),
    ]
    for case, params, cols in cases:
        y = pipeline(env, "  c: { op: convert, input: load, %s }\n" % params, arrays="X: /in/X, y: /in/y")
        for v, (arrs, at) in runs(env, y, "c", [(100, 1), (100, 2), (65536, 1)]).items():
            for k, idx in cols.items():
                exact(arrs[k], fix(env, "expect/%s/%s" % (case, k)), "%s %s" % (case, k))
                assert list(at[k + ".columns"]) == list(names[idx]), (case, k, at[k + ".columns"])
            exact(arrs["y"], fix(env, "in/y").astype(arrs["y"].dtype), "y passes")
        with env.ckpt("c", "w_100_1") as f:
            assert sorted(f.keys()) == sorted({"X", "y"} | set(cols)), list(f.keys())
    # frame order: the label array right after its source
    y = pipeline(env, "  c: { op: convert, input: load, label: age, label_array: a }\n", arrays="X: /in/X, y: /in/y")
    env.run(y)
    with env.ckpt("c") as f:
        assert f["a"].shape == (2000, 1) and f["X"].shape == (2000, 3)
    r = subprocess.run([env.sluice, "graph", env.path("p.yaml")], capture_output=True, text=True)
    # no names: indices only
    y = pipeline(env, "  c: { op: convert, input: load, columns: [1, 0] }\n", arrays="M: /in/M")
    env.run(y)
    exact(env.read("c", "M"), fix(env, "in/M")[:, [1, 0]], "M[:, [1, 0]]")


def test_convert_errors(args):
    env = Env(args, "convert_errors")
    p = lambda s, arrays="X: /in/X, y: /in/y": pipeline(env, "  c: { op: convert, input: load, %s }\n" % s, arrays)
    expect_error(env, p("columns: [ages]"), 2, "'columns' names column 'ages', which array 'X' lacks",
                 "did you mean 'age'?", "its columns: age, bmi, bp, glucose")
    expect_error(env, p("drop_columns: [4]"), 2, "column 4 of array 'X', which has 4 columns")
    expect_error(env, p("columns: [age, age]"), 2, "twice")
    expect_error(env, p("columns: [age, glucose], label: glucose, label_array: t"), 2, "is the label")
    expect_error(env, p("columns: [age]", arrays="X: /in/X, I: /in/I"), 2, "more than one", "set column_array")
    expect_error(env, p("label: age, label_array: y"), 2, "already has an array of that name")
    expect_error(env, p("columns: [a]", arrays="M: /in/M"), 2, "no column names", "0-based indices 0 to 1")
    expect_error(env, p("columns: [age], drop_columns: [bp]"), 2, "not both")
    expect_error(env, p("column_array: Xx, columns: [age]"), 2, "did you mean 'X'?")
    expect_error(env, p("drop_columns: [age, bmi, bp, glucose]"), 2, "no column of array 'X' is left")
    expect_error(env, p("arrays: [X]"), 2, "no dtype")
    expect_error(env, p("label_array: t"), 2, "nothing to do")
    r = env.run(p("columns: [age]", arrays="X: /in/X, I: /in/I").replace("columns: [age]",
                                                                        "columns: [age], column_array: X"))
    exact(env.read("c", "X"), fix(env, "in/X")[:, [0]], "column_array X")
    # an integer target still checks values: NaN in X
    expect_error(env, p("columns: [bp], dtype: int32"), 1, "array 'X' row", "column 2", "int32")


def test_report(args):
    for line in REPORT:
        print("     " + line)


if __name__ == "__main__":
    harness.main([
        test_clean_drop_mean, test_clean_drop_median, test_clean_median_large, test_clean_const_keep,
        test_clean_clip, test_clean_clip_sigma, test_clean_inf_keep, test_clean_float32, test_clean_fail,
        test_clean_errors, test_scale, test_scale_domain, test_scale_errors, test_convert_columns,
        test_convert_errors, test_report,
    ])
