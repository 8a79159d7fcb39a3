"""Op tests of normalize and split: pipelines run through the CLI on
tests/fixtures/normsplit.h5, outputs compared with the NumPy / scikit-learn
values that tests/fixtures/make_normsplit.py stored there.

normalize: z-score vs (X - X.mean(0)) / X.std(0) within 1e-12 (relative, with
an absolute 1e-12 for z-values near 0) at chunk sizes 100, 333 and 65536;
min-max; fit on train / apply to test; float32 and integer inputs;
pass-through arrays (by default only the `features` array changes); constant
columns both ways (error, and `unit` vs scikit-learn's StandardScaler /
MinMaxScaler); thread-count independence (bitwise); the errors (NaN input,
zero variance, stats from a non-normalize stage, mismatched columns or
method, no `features` array), also through `sluice check`.

split: part sizes vs scikit-learn's train_test_split for many (n, fraction)
pairs; the parts partition the input exactly; contiguous parts equal
scikit-learn's shuffle=False parts; shuffled parts equal the documented key
selection (recomputed with NumPy); reproducible per seed, different for other
seeds, independent of chunk size and threads; the errors."""
import math
import subprocess

import h5py
import numpy as np

import harness
from harness import Env, assert_close

FIX = "normsplit.h5"


def expected(env, path):
    with h5py.File(env.fixture(FIX), "r") as f:
        return f["expected/" + path][...]


def data(env, path):
    with h5py.File(env.fixture(FIX), "r") as f:
        return f[path][...]


def attrs(env, stage, array, workdir="w"):
    with env.ckpt(stage, workdir) as f:
        return {k: np.asarray(v) for k, v in f[array].attrs.items()}


def result(env, stage, key, workdir="w"):
    with env.ckpt(stage, workdir) as f:
        return float(f.attrs["result." + key])


def check(env, yaml_text, expect, name="c.yaml"):
    """Runs `sluice check` on a pipeline; returns stderr."""
    p = env.write(name, yaml_text)
    r = subprocess.run([env.sluice, "check", p], capture_output=True, text=True, timeout=60)
    if r.returncode != expect:
        raise AssertionError("check: exit %d (expected %d)\n%s%s" % (r.returncode, expect, r.stdout, r.stderr))
    return r.stderr


def expect_error(env, yaml_text, code, *needles, check_too=True):
    """The run fails with exit `code` and a message holding every needle; a
    config error (2) is also found by `sluice check`."""
    r = env.run(yaml_text, expect=code)
    for n in needles:
        if n not in r.stderr:
            raise AssertionError("message lacks %r:\n%s" % (n, r.stderr))
    if check_too and code == 2:
        err = check(env, yaml_text, 2)
        for n in needles:
            if n not in err:
                raise AssertionError("check message lacks %r:\n%s" % (n, err))
    return r.stderr


def pipeline(env, stages, arrays="X: /X, y: /y"):
    return ("pipeline: t\nworkdir: w\nstages:\n"
            "  load: { op: load.hdf5, file: %s, arrays: { %s } }\n" % (env.fixture(FIX), arrays)) + stages


def zscore_close(got, want, what):
    """1e-12 relative; z-values near 0 (|z| < 1) are held to 1e-12 absolute,
    since NumPy's own mean is a few ulps off and x - mean cancels there."""
    assert_close(got, want, rtol=1e-12, atol=1e-12, what=what)
    return float(np.max(np.abs(got - want)))


# ---- normalize ---------------------------------------------------------------

def test_zscore_vs_numpy(args):
    env = Env(args, "zscore")
    y = pipeline(env, "  norm: { op: normalize, input: load, arrays: [X] }\n")
    want = expected(env, "zscore/X")
    report = []
    for chunk in (100, 333, 65536):
        wd = "w%d" % chunk
        env.run(y, "--chunk-rows", str(chunk), "--workdir", env.path(wd))
        got = env.read("norm", "X", wd)
        err = zscore_close(got, want, "z-score, chunk %d" % chunk)
        a = attrs(env, "norm", "X", wd)
        assert_close(a["mean"], expected(env, "zscore/mean"), 1e-14, what="mean")
        assert_close(a["scale"], expected(env, "zscore/std"), 1e-14, what="std")
        assert a["count"].tolist() == [3000.0], a["count"]
        with env.ckpt("norm", wd) as f:
            assert f["X"].dtype == np.float64
            assert np.array_equal(f["y"][...], data(env, "y")), "y passes through"
        # against exactly rounded sums sluice is as close as NumPy or closer
        exact = zscore_close(got, expected(env, "zscore/X_fsum"), "z-score vs fsum reference, chunk %d" % chunk)
        ref, npm = expected(env, "zscore/mean_fsum"), expected(env, "zscore/mean")
        ulps = np.abs(a["mean"] - ref) / np.spacing(np.abs(ref))
        np_ulps = np.abs(npm - ref) / np.spacing(np.abs(ref))
        assert np.all(ulps <= np_ulps + 4), "mean is %s ulps off, NumPy's %s" % (ulps, np_ulps)
        report.append("chunk %d: max |dz| %.2g vs NumPy, %.2g vs fsum; mean off by at most %d ulps (NumPy %d)"
                      % (chunk, err, exact, ulps.max(), np_ulps.max()))
    # one chunk sums as NumPy does (row by row): the same bits
    assert np.array_equal(env.read("norm", "X", "w65536"), want)
    print("     " + "\n     ".join(report))


def test_zscore_threads_bitwise(args):
    env = Env(args, "threads")
    y = pipeline(env, "  norm: { op: normalize, input: load, arrays: [X] }\n"
                      "  mm: { op: normalize, input: load, arrays: [X], method: minmax }\n")
    env.run(y, "--chunk-rows", "100", "-j", "1", "--workdir", env.path("w1"))
    env.run(y, "--chunk-rows", "100", "-j", "2", "--workdir", env.path("w2"))
    for st in ("norm", "mm"):
        a, b = env.read(st, "X", "w1"), env.read(st, "X", "w2")
        assert a.tobytes() == b.tobytes(), "%s differs between 1 and 2 threads" % st
        for k, v in attrs(env, st, "X", "w1").items():
            assert np.array_equal(v, attrs(env, st, "X", "w2")[k]), k


def test_minmax_vs_numpy(args):
    env = Env(args, "minmax")
    y = pipeline(env, "  mm: { op: normalize, input: load, arrays: [X], method: minmax }\n")
    for chunk in (100, 65536):
        wd = "w%d" % chunk
        env.run(y, "--chunk-rows", str(chunk), "--workdir", env.path(wd))
        got = env.read("mm", "X", wd)
        assert_close(got, expected(env, "minmax/X"), 1e-15, what="minmax chunk %d" % chunk)
        # min and max are exact, so the values are too
        assert np.array_equal(got, expected(env, "minmax/X"))
        a = attrs(env, "mm", "X", wd)
        assert np.array_equal(a["min"], expected(env, "minmax/min"))
        assert np.array_equal(a["scale"], expected(env, "minmax/scale"))
        assert got.min() == 0.0 and got.max() == 1.0


def test_fit_train_apply_test(args):
    env = Env(args, "apply")
    f = env.fixture(FIX)
    y = ("pipeline: t\nworkdir: w\nstages:\n"
         "  train: { op: load.hdf5, file: %s, arrays: { X: /X } }\n"
         "  test: { op: load.hdf5, file: %s, arrays: { X: /Xtest } }\n"
         "  fit: { op: normalize, input: train, arrays: [X] }\n"
         "  apply: { op: normalize, input: test, stats: fit }\n"
         "  fitmm: { op: normalize, input: train, method: minmax }\n"
         "  applymm: { op: normalize, input: test, stats: fitmm, method: minmax }\n"
         "  again: { op: normalize, input: test, stats: apply }\n") % (f, f)
    for chunk in (100, 65536):
        wd = "w%d" % chunk
        env.run(y, "--chunk-rows", str(chunk), "--workdir", env.path(wd))
        got = env.read("apply", "X", wd)
        err = zscore_close(got, expected(env, "apply_zscore/Xtest"), "apply z-score chunk %d" % chunk)
        fa, aa = attrs(env, "fit", "X", wd), attrs(env, "apply", "X", wd)
        for k in ("mean", "scale", "count"):
            assert np.array_equal(fa[k], aa[k]), "apply carries the statistics it applied: " + k
        got = env.read("applymm", "X", wd)
        assert_close(got, expected(env, "apply_minmax/Xtest"), 1e-15, 1e-15, what="apply minmax")
        # statistics can be chained: a stage that applied them can lend them on
        assert np.array_equal(env.read("again", "X", wd), env.read("apply", "X", wd))
    # resume: `fit` is reused from its checkpoint (its statistics come back
    # from the HDF5 attributes) while `apply` is recomputed
    before = env.read("apply", "X", "w100")
    r = env.run(y, "--chunk-rows", "100", "--workdir", env.path("w100"), "--force", "apply")
    assert np.array_equal(env.read("apply", "X", "w100"), before), "apply after resume differs"
    assert np.array_equal(attrs(env, "apply", "X", "w100")["mean"], attrs(env, "fit", "X", "w100")["mean"])
    print("     apply z-score: max |dz| %.2g" % err)


def test_float32_and_int(args):
    env = Env(args, "types")
    y = pipeline(env, "  norm: { op: normalize, input: load, arrays: [X32, I] }\n"
                      "  dflt: { op: normalize, input: load, features: X32 }\n"
                      "  dint: { op: normalize, input: load, features: I }\n",
                 arrays="X32: /X32, I: /I, y: /y")
    env.run(y, "--chunk-rows", "256")
    with env.ckpt("norm") as f:
        assert f["X32"].dtype == np.float32, f["X32"].dtype
        assert f["I"].dtype == np.float64, f["I"].dtype
        x32, i = f["X32"][...], f["I"][...]
        assert np.array_equal(f["y"][...], data(env, "y"))
    want32 = expected(env, "zscore32/X32")
    # double arithmetic rounded once to float32: at most 1 ulp from NumPy's
    ulps = np.abs(x32.astype(np.float64) - want32) / np.spacing(np.abs(want32))
    assert ulps.max() <= 1.0, ulps.max()
    zscore_close(i, expected(env, "zscore_int/I"), "int32 z-score")
    # default arrays: the `features` array alone; y and the other arrays keep their bytes
    with env.ckpt("dflt") as f:
        assert f["I"].dtype == np.int32 and np.array_equal(f["I"][...], data(env, "I"))
        assert f["y"][...].tobytes() == data(env, "y").tobytes(), "y passes through"
        assert "mean" in f["X32"].attrs and "mean" not in f["y"].attrs and "mean" not in f["I"].attrs
        assert f["X32"][...].tobytes() == x32.tobytes()
    # an integer features array is normalized as if named, into float64
    with env.ckpt("dint") as f:
        assert f["I"].dtype == np.float64 and f["I"][...].tobytes() == i.tobytes()
        assert f["X32"].dtype == np.float32 and np.array_equal(f["X32"][...], data(env, "X32"))
        assert "mean" not in f["X32"].attrs and "mean" not in f["y"].attrs


def test_zero_variance_error(args):
    env = Env(args, "zv_error")
    y = pipeline(env, "  norm: { op: normalize, input: load, arrays: [Xc] }\n", arrays="Xc: /Xc")
    expect_error(env, y, 1, "array 'Xc' column 1 ('flat') is constant", "every value is 0.1)",
                 "standard deviation is 0", "zero_variance: unit", "and 1 more constant column",
                 "drop the column with a convert stage before this one (drop_columns: [flat], column_array: Xc)")
    y = pipeline(env, "  norm: { op: normalize, input: load, arrays: [Xc], method: minmax }\n", arrays="Xc: /Xc")
    expect_error(env, y, 1, "column 1 ('flat') is constant", "range (max - min) is 0")


def test_zero_variance_unit_vs_sklearn(args):
    env = Env(args, "zv_unit")
    y = pipeline(env, "  z: { op: normalize, input: load, arrays: [Xc], zero_variance: unit }\n"
                      "  m: { op: normalize, input: load, arrays: [Xc], zero_variance: unit, method: minmax }\n",
                 arrays="Xc: /Xc")
    env.run(y, "--chunk-rows", "100")
    got = env.read("z", "Xc")
    zscore_close(got, expected(env, "unit_zscore/Xc"), "unit z-score vs StandardScaler")
    # constant columns become exactly 0 (sklearn leaves ~1e-16 for 0.1)
    assert np.all(got[:, 1:] == 0.0)
    a = attrs(env, "z", "Xc")
    assert_close(a["mean"], expected(env, "unit_zscore/mean"), 1e-14, what="mean_")
    assert_close(a["scale"], expected(env, "unit_zscore/scale"), 1e-14, what="scale_")
    assert a["scale"][1] == 1.0 and a["scale"][2] == 1.0
    assert result(env, "z", "constant_columns") == 2.0
    got = env.read("m", "Xc")
    assert_close(got, expected(env, "unit_minmax/Xc"), 1e-15, 1e-15, what="unit minmax vs MinMaxScaler")
    a = attrs(env, "m", "Xc")
    assert np.array_equal(a["min"], expected(env, "unit_minmax/min"))
    assert_close(a["scale"], expected(env, "unit_minmax/scale_sklearn"), 1e-15, what="1 / scale_")
    assert a["scale"][1] == 1.0 and a["scale"][2] == 1.0


def test_nan_errors(args):
    env = Env(args, "nan")
    y = pipeline(env, "  norm: { op: normalize, input: load, arrays: [X] }\n", arrays="X: /Xnan")
    for chunk in ("100", "65536"):
        r = env.run(y, "--chunk-rows", chunk, expect=1)
        for n in ("array 'X' has 3 NaN or infinite values", "the first is nan at row 1234, column 2 ('r')",
                  "clean stage"):
            assert n in r.stderr, r.stderr
    # applying statistics to data with NaN
    f = env.fixture(FIX)
    y = ("pipeline: t\nworkdir: w\nstages:\n"
         "  a: { op: load.hdf5, file: %s, arrays: { X: /Xfin } }\n"
         "  b: { op: load.hdf5, file: %s, arrays: { X: /Xnan } }\n"
         "  fit: { op: normalize, input: a }\n"
         "  apply: { op: normalize, input: b, stats: fit }\n") % (f, f)
    r = env.run(y, "--chunk-rows", "1000", expect=1)
    assert "array 'X' has NaN or infinite values (1 in rows 1000 to 1999)" in r.stderr, r.stderr
    assert "the first is nan at row 1234, column 2" in r.stderr, r.stderr


def test_stats_errors(args):
    env = Env(args, "stats_errors")
    f = env.fixture(FIX)
    head = ("pipeline: t\nworkdir: w\nstages:\n"
            "  train: { op: load.hdf5, file: %s, arrays: { X: /X, y: /y } }\n"
            "  test: { op: load.hdf5, file: %s, arrays: { X: /Xtest4 } }\n"
            "  test5: { op: load.hdf5, file: %s, arrays: { X: /Xtest } }\n"
            "  fit: { op: normalize, input: train, arrays: [X] }\n") % (f, f, f)
    expect_error(env, head + "  apply: { op: normalize, input: test5, stats: train }\n", 2,
                 "'stats' names stage 'train', a 'load.hdf5' stage; it must name a normalize stage")
    expect_error(env, head + "  apply: { op: normalize, input: test, stats: fit }\n", 2,
                 "array 'X' has 4 columns here but 5 in stage 'fit'")
    expect_error(env, head + "  apply: { op: normalize, input: test5, stats: fit, method: minmax }\n", 2,
                 "method is minmax but stage 'fit' (named by 'stats') fitted zscore statistics")
    expect_error(env, head + "  apply: { op: normalize, input: train, stats: fit, arrays: [y] }\n", 2,
                 "array 'y' has no statistics in stage 'fit'", "which normalized X")
    y2 = ("pipeline: t\nworkdir: w\nstages:\n"
          "  a: { op: load.hdf5, file: %s, arrays: { X: /Xfin } }\n"
          "  b: { op: load.hdf5, file: %s, arrays: { X: /Xc } }\n"
          "  fit: { op: normalize, input: a }\n"
          "  apply: { op: normalize, input: b, stats: fit, zero_variance: unit }\n") % (f, f)
    expect_error(env, y2, 2, "array 'X' column 0 is 'u' here but 'p' in stage 'fit'")
    expect_error(env, head + "  n: { op: normalize, input: test, features: F }\n", 2,
                 "without 'arrays', normalize changes only the features array", "(here 'F')",
                 "it has X (float64, 4 columns)", "write 'features: X'")
    expect_error(env, head + "  n: { op: normalize, input: train, arrays: [Z] }\n", 2,
                 "'arrays' names array 'Z', which the input lacks")
    # the location of the error is the parameter's line in the file
    y = head + "  apply: { op: normalize, input: test5, stats: train }\n"
    assert "p.yaml:8:48: stage 'apply'" in env.run(y, expect=2).stderr
    assert "c.yaml:8:48: stage 'apply'" in check(env, y, 2)


# ---- split -------------------------------------------------------------------

def split_stage(name, inp, part, tf, vf=0.0, shuffle=True, seed=0):
    return ("  %s: { op: split, input: %s, part: %s, test_fraction: %r, validation_fraction: %r, "
            "shuffle: %s, seed: %d }\n" % (name, inp, part, tf, vf, "true" if shuffle else "false", seed))


def test_split_counts_vs_sklearn(args):
    env = Env(args, "split_counts")
    f = env.fixture(FIX)
    counts = expected(env, "split/counts")
    ns = sorted(set(int(n) for n in counts[:, 0]))
    y = "pipeline: t\nworkdir: w\nstages:\n"
    for n in ns:
        y += "  load%d: { op: load.hdf5, file: %s, arrays: { idx: /rows/n%d, x: /rows/x%d } }\n" % (n, f, n, n)
    cases = []
    for n, fm, n_train, n_test in counts:
        frac = fm / 1e6
        for shuffle in (True, False):
            tag = "n%d_f%d_%s" % (n, fm, "s" if shuffle else "c")
            y += split_stage("tr_" + tag, "load%d" % n, "train", frac, shuffle=shuffle)
            y += split_stage("te_" + tag, "load%d" % n, "test", frac, shuffle=shuffle)
            cases.append((tag, int(n), frac, int(n_train), int(n_test)))
    env.run(y, "--chunk-rows", "64")
    for tag, n, frac, n_train, n_test in cases:
        tr, te = env.read("tr_" + tag, "idx").ravel(), env.read("te_" + tag, "idx").ravel()
        assert (len(tr), len(te)) == (n_train, n_test), \
            "%s: sluice %d/%d, sklearn %d/%d" % (tag, len(tr), len(te), n_train, n_test)
        assert np.array_equal(np.sort(np.concatenate([tr, te])), np.arange(n)), tag + ": not a partition"
        assert np.all(np.diff(tr) > 0) and np.all(np.diff(te) > 0), tag + ": order not kept"
        assert result(env, "te_" + tag, "rows") == n_test
        # the other arrays travel with their rows
        x = env.read("tr_" + tag, "x")
        assert np.array_equal(x[:, 0], 10.0 * tr) and np.array_equal(x[:, 1], -1.0 * tr)
        if tag.endswith("_c"):
            assert np.array_equal(tr, np.arange(n_train)) and np.array_equal(te, np.arange(n_train, n))
    # sklearn's shuffle=False parts, exactly
    assert np.array_equal(env.read("tr_n101_f300000_c", "idx").ravel(), expected(env, "split/contiguous_train_101_0.3"))
    assert np.array_equal(env.read("te_n101_f300000_c", "idx").ravel(), expected(env, "split/contiguous_test_101_0.3"))
    print("     %d (n, fraction) cases, shuffled and contiguous" % len(cases))


def three_way(env, seed=42, tf=0.25, vf=0.1, shuffle=True):
    y = ("pipeline: t\nworkdir: w\nstages:\n"
         "  load: { op: load.hdf5, file: %s, arrays: { idx: /rows/n3000, x: /rows/x3000 } }\n" % env.fixture(FIX))
    for part in ("train", "validation", "test"):
        y += split_stage(part, "load", part, tf, vf, shuffle, seed)
    return y


def read_parts(env, wd):
    return {p: env.read(p, "idx", wd).ravel() for p in ("train", "validation", "test")}


def test_split_three_way_shuffled(args):
    env = Env(args, "split_three")
    env.run(three_way(env), "--chunk-rows", "100")
    parts = read_parts(env, "w")
    n_test, n_val = math.ceil(0.25 * 3000), math.ceil(0.1 * 3000)
    assert len(parts["test"]) == n_test and len(parts["validation"]) == n_val
    assert len(parts["train"]) == 3000 - n_test - n_val
    allrows = np.concatenate(list(parts.values()))
    assert np.array_equal(np.sort(allrows), np.arange(3000)), "parts do not partition the rows"
    assert np.array_equal(parts["test"], expected(env, "split/shuffled_test")), "test part != smallest keys"
    assert np.array_equal(parts["validation"], expected(env, "split/shuffled_validation"))
    for p, v in parts.items():
        assert np.all(np.diff(v) > 0), p + ": rows not in input order"
    # contiguous three-way: train, validation, test blocks
    env.run(three_way(env, shuffle=False), "--workdir", env.path("wc"))
    c = read_parts(env, "wc")
    assert np.array_equal(c["train"], np.arange(1950))
    assert np.array_equal(c["validation"], np.arange(1950, 2250))
    assert np.array_equal(c["test"], np.arange(2250, 3000))
    print("     key passes: %d" % result(env, "test", "key_passes"))


def test_split_reproducible(args):
    env = Env(args, "split_repro")
    runs = {}
    for wd, flags, seed in (("a", ["--chunk-rows", "100", "-j", "1"], 42),
                            ("b", ["--chunk-rows", "100", "-j", "2"], 42),
                            ("c", ["--chunk-rows", "7", "-j", "2"], 42),
                            ("d", ["--chunk-rows", "65536"], 42),
                            ("e", ["--chunk-rows", "100"], 43),
                            ("f", ["--chunk-rows", "100"], 0)):
        env.run(three_way(env, seed=seed), *flags, "--workdir", env.path(wd), name=wd + ".yaml")
        runs[wd] = read_parts(env, wd)
        with env.ckpt("train", wd) as f:
            runs[wd]["x"] = f["x"][...].tobytes()
    for wd in ("b", "c", "d"):
        for p in runs["a"]:
            assert np.array_equal(runs["a"][p], runs[wd][p]), "seed 42 differs in run %s, part %s" % (wd, p)
    for wd in ("e", "f"):
        assert not np.array_equal(runs["a"]["test"], runs[wd]["test"]), "another seed gives the same test part"
        overlap = len(np.intersect1d(runs["a"]["test"], runs[wd]["test"])) / len(runs["a"]["test"])
        assert 0.15 < overlap < 0.35, "test parts of different seeds overlap %.2f, expected ~0.25" % overlap


def test_split_then_normalize(args):
    """The usual pipeline: split, fit on train, apply to test, vs NumPy."""
    env = Env(args, "split_norm")
    y = ("pipeline: t\nworkdir: w\nstages:\n"
         "  load: { op: load.hdf5, file: %s, arrays: { X: /X, idx: /rows/n3000 } }\n" % env.fixture(FIX))
    y += split_stage("train", "load", "train", 0.2, seed=5)
    y += split_stage("test", "load", "test", 0.2, seed=5)
    y += ("  fit: { op: normalize, input: train, arrays: [X] }\n"
          "  apply: { op: normalize, input: test, stats: fit }\n")
    env.run(y, "--chunk-rows", "128")
    X = data(env, "X")
    tr, te = env.read("train", "idx").ravel(), env.read("test", "idx").ravel()
    Xtr, Xte = X[tr], X[te]
    zscore_close(env.read("fit", "X"), (Xtr - Xtr.mean(0)) / Xtr.std(0), "fit on train")
    zscore_close(env.read("apply", "X"), (Xte - Xtr.mean(0)) / Xtr.std(0), "apply to test")
    assert attrs(env, "apply", "X")["count"].tolist() == [len(tr)]


def test_split_errors(args):
    env = Env(args, "split_errors")
    f = env.fixture(FIX)
    head = ("pipeline: t\nworkdir: w\nstages:\n"
            "  load: { op: load.hdf5, file: %s, arrays: { idx: /rows/n2 } }\n") % f
    expect_error(env, head + "  s: { op: split, input: load, part: test, test_fraction: 0 }\n", 2,
                 "test_fraction is 0; it must be more than 0 and less than 1")
    expect_error(env, head + "  s: { op: split, input: load, part: test, test_fraction: 1 }\n", 2,
                 "test_fraction is 1")
    expect_error(env, head + "  s: { op: split, input: load, part: test, test_fraction: 1.5 }\n", 2,
                 "test_fraction")
    expect_error(env, head + "  s: { op: split, input: load, part: test, test_fraction: 0.6, "
                             "validation_fraction: 0.4 }\n", 2, "leaves no rows to train on")
    expect_error(env, head + "  s: { op: split, input: load, part: validation }\n", 2,
                 "part is validation but validation_fraction is 0")
    expect_error(env, head + "  s: { op: split, input: load, part: tset }\n", 2, "part")
    # 2 rows, 70% test: ceil(1.4) = 2 test rows, no train rows (sklearn refuses too)
    expect_error(env, head + "  s: { op: split, input: load, part: test, test_fraction: 0.7 }\n", 2,
                 "the input has 2 rows", "the train part would be empty")


if __name__ == "__main__":
    harness.main([
        test_zscore_vs_numpy,
        test_zscore_threads_bitwise,
        test_minmax_vs_numpy,
        test_fit_train_apply_test,
        test_float32_and_int,
        test_zero_variance_error,
        test_zero_variance_unit_vs_sklearn,
        test_nan_errors,
        test_stats_errors,
        test_split_counts_vs_sklearn,
        test_split_three_way_shuffled,
        test_split_reproducible,
        test_split_then_normalize,
        test_split_errors,
    ])
