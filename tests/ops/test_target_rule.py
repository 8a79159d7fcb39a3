"""Op tests of the features rule (docs/guide.md, "Features and targets"):
without the arrays named, normalize, scale and clean's clipping change only
the `features` array (X by default), never the target.

- the trap that was: load -> normalize (no arrays) -> linreg -> metrics on
  the shipped diabetes data. y leaves normalize bit for bit as it was read
  (h5py), stored and streamed, and the model and its MSE are those of
  scikit-learn's LinearRegression on StandardScaler'd X and the raw y: the
  MSE is in the target's units (it was in z-units, var(y) times smaller);
- logreg on breast_cancer.h5 converted to float64 (float labels 0.0/1.0,
  which the old default z-scored, so logreg refused them): the labels pass
  through and the model is NumPy's full-batch gradient descent on the
  StandardScaler'd features;
- `arrays: [X, y]` still normalizes y, as asked (vs NumPy);
- fit on train / apply to test (`stats`) with the default: X only in both,
  vs NumPy with the training part's mean and std; a features array under
  another name (`features: F`);
- scale and clean's clip_sigma by default: X changed (vs NumPy), y not;
- the plan-time error when the input has no `features` array, for the three
  ops, through `sluice run` and `sluice check`, with its position."""
import os
import subprocess

import h5py
import numpy as np
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.preprocessing import StandardScaler

import harness
from harness import Env, assert_close


def dataset(env, name):
    return os.path.join(env.root, "datasets", name)


def read_h5(path, *names):
    with h5py.File(path, "r") as f:
        return [f[n][...] for n in names]


def check(env, yaml_text, expect, name="c.yaml"):
    """Runs `sluice check` on a pipeline; returns stderr."""
    p = env.write(name, yaml_text)
    r = subprocess.run([env.sluice, "check", p], capture_output=True, text=True, timeout=60)
    if r.returncode != expect:
        raise AssertionError("check: exit %d (expected %d)\n%s%s" % (r.returncode, expect, r.stdout, r.stderr))
    return r.stderr


def test_y_untouched_and_mse_in_target_units(args):
    env = Env(args, "diabetes")
    X, y = read_h5(dataset(env, "diabetes.h5"), "X", "y")
    y = y.reshape(-1, 1)
    Xs = StandardScaler().fit_transform(X)
    sk = LinearRegression().fit(Xs, y.ravel())
    sk_pred = sk.predict(Xs)
    sk_mse, sk_r2 = mean_squared_error(y.ravel(), sk_pred), r2_score(y.ravel(), sk_pred)
    # the old default z-scored y too: the same fit, in z-units, has this MSE
    z_mse = sk_mse / y.var()
    assert abs(z_mse - sk_mse) > 0.5 * sk_mse, "the check below could not tell the units apart"
    for mode in ("true", "false"):
        text = ("pipeline: t\nworkdir: w\nstages:\n"
                "  load: { op: load.hdf5, file: %s, arrays: { X: /X, y: /y } }\n"
                "  norm: { op: normalize, input: load, checkpoint: %s }\n"
                "  fit:  { op: linreg, input: norm }\n"
                "  eval: { op: metrics, model: fit, data: norm, metrics: [mse, r2] }\n"
                "  save: { op: save.hdf5, input: norm, file: out.h5 }\n") % (dataset(env, "diabetes.h5"), mode)
        wd = "w_" + mode
        env.run(text, "--workdir", env.path(wd), "--chunk-rows", "100", "-q")
        saved_X, saved_y = read_h5(env.path("out.h5"), "X", "y")
        assert saved_y.dtype == y.dtype and saved_y.tobytes() == y.tobytes(), "y changed (checkpoint: %s)" % mode
        assert_close(saved_X, Xs, 1e-12, 1e-12, what="X vs StandardScaler (checkpoint: %s)" % mode)
        if mode == "true":
            with env.ckpt("norm", wd) as f:
                assert f["y"][...].tobytes() == y.tobytes(), "the checkpoint's y differs from the input"
                assert "mean" not in f["y"].attrs and "mean" in f["X"].attrs, dict(f["y"].attrs)
        with env.ckpt("fit", wd) as f:
            assert_close(f["coef"][...].ravel(), sk.coef_, 1e-9, what="coef vs LinearRegression")
            assert_close(f["intercept"][0, 0], sk.intercept_, 1e-12, what="intercept (the mean of y)")
        with env.ckpt("eval", wd) as f:
            mse, r2 = f["mse"][0, 0], f["r2"][0, 0]
        assert_close(mse, sk_mse, 1e-10, what="MSE in the target's units (z-units would be %.4g)" % z_mse)
        assert_close(r2, sk_r2, 1e-10, what="r2")
    print("     diabetes: MSE %.6g (sklearn %.6g; z-units would give %.4g)" % (mse, sk_mse, z_mse))


def test_logreg_float_labels_pass_through(args):
    env = Env(args, "breast_cancer")
    X, y = read_h5(dataset(env, "breast_cancer.h5"), "X", "y")
    yf = y.astype(np.float64)
    Xs = StandardScaler().fit_transform(X)
    epochs, lr = 60, 0.5
    w, b, n = np.zeros(X.shape[1]), 0.0, len(yf)
    for _ in range(epochs):
        p = 1.0 / (1.0 + np.exp(-(Xs @ w + b)))
        g = p - yf.ravel()
        w, b = w - lr * (Xs.T @ g) / n, b - lr * g.mean()
    text = ("pipeline: t\nworkdir: w\nstages:\n"
            "  load: { op: load.hdf5, file: %s, arrays: { X: /X, y: /y } }\n"
            "  f64:  { op: convert, input: load, dtype: float64 }\n"
            "  norm: { op: normalize, input: f64 }\n"
            "  fit:  { op: logreg, input: norm, epochs: %d, learning_rate: %r }\n"
            % (dataset(env, "breast_cancer.h5"), epochs, lr))
    env.run(text, "-q")
    with env.ckpt("norm") as f:
        got = f["y"][...]
        assert got.dtype == np.float64 and got.tobytes() == yf.tobytes(), "the labels changed"
        assert set(np.unique(got)) == {0.0, 1.0}
    with env.ckpt("fit") as f:
        assert_close(f["coef"][...].ravel(), w, 1e-8, 1e-10, what="coef vs NumPy gradient descent")
        assert_close(f["intercept"][0, 0], b, 1e-8, 1e-10, what="intercept")


def test_arrays_can_name_y(args):
    env = Env(args, "name_y")
    X, y = read_h5(dataset(env, "diabetes.h5"), "X", "y")
    y = y.reshape(-1, 1)
    text = ("pipeline: t\nworkdir: w\nstages:\n"
            "  load: { op: load.hdf5, file: %s, arrays: { X: /X, y: /y } }\n"
            "  both: { op: normalize, input: load, arrays: [X, y] }\n"
            "  yonly: { op: scale, input: load, arrays: [y], factor: 0.5, offset: 1 }\n"
            % dataset(env, "diabetes.h5"))
    env.run(text, "-q")
    assert_close(env.read("both", "y"), (y - y.mean()) / y.std(), 1e-12, 1e-12, what="y z-scored when named")
    assert_close(env.read("both", "X"), (X - X.mean(0)) / X.std(0), 1e-12, 1e-12, what="X")
    assert np.array_equal(env.read("yonly", "y"), y * 0.5 + 1)
    assert env.read("yonly", "X").tobytes() == X.tobytes(), "X is not named: unchanged"


def test_stats_and_features_name(args):
    env = Env(args, "stats")
    rng = np.random.default_rng(11)
    F = rng.normal(3.0, 2.0, size=(400, 3)) * [1.0, 10.0, 0.1]
    t = F @ [1.0, -0.5, 4.0] + rng.normal(size=400)
    path = env.path("d.h5")
    with h5py.File(path, "w") as f:
        f["F"], f["t"] = F, t
        f["Ftest"], f["ttest"] = F[:100] * 1.5, t[:100]
    text = ("pipeline: t\nworkdir: w\nstages:\n"
            "  train: { op: load.hdf5, file: %s, arrays: { F: /F, t: /t } }\n"
            "  test:  { op: load.hdf5, file: %s, arrays: { F: /Ftest, t: /ttest } }\n"
            "  fit:   { op: normalize, input: train, features: F }\n"
            "  apply: { op: normalize, input: test, stats: fit }\n"
            "  mm:    { op: normalize, input: train, features: F, method: minmax }\n"
            "  mm_te: { op: normalize, input: test, stats: mm, method: minmax }\n") % (path, path)
    env.run(text, "--chunk-rows", "64", "-q")
    mu, sd = F.mean(0), F.std(0)
    assert_close(env.read("fit", "F"), (F - mu) / sd, 1e-12, 1e-12, what="fit on train")
    assert_close(env.read("apply", "F"), (F[:100] * 1.5 - mu) / sd, 1e-12, 1e-12, what="applied to test")
    lo, hi = F.min(0), F.max(0)
    assert_close(env.read("mm_te", "F"), (F[:100] * 1.5 - lo) / (hi - lo), 1e-14, 1e-14, what="minmax applied")
    for st, want in (("fit", t), ("apply", t[:100]), ("mm", t), ("mm_te", t[:100])):
        got = env.read(st, "t")
        assert got.tobytes() == want.reshape(-1, 1).tobytes(), "%s changed the target" % st
        with env.ckpt(st) as f:
            assert "scale" in f["F"].attrs and "scale" not in f["t"].attrs, st


def test_scale_and_clip_default(args):
    env = Env(args, "scale_clip")
    rng = np.random.default_rng(5)
    X = rng.normal(size=(500, 3)) * [1.0, 3.0, 0.2]
    y = rng.normal(50.0, 20.0, size=(500, 1))
    path = env.path("d.h5")
    with h5py.File(path, "w") as f:
        f["X"], f["y"] = X, y
    text = ("pipeline: t\nworkdir: w\nstages:\n"
            "  load: { op: load.hdf5, file: %s, arrays: { X: /X, y: /y } }\n"
            "  sc:   { op: scale, input: load, factor: [2, 0.5, -1], offset: 3 }\n"
            "  cl:   { op: clean, input: load, clip_sigma: 1.5 }\n"
            "  clf:  { op: clean, input: load, clip: [-1, 1] }\n" % path)
    env.run(text, "-q")
    assert np.array_equal(env.read("sc", "X"), X * [2, 0.5, -1] + 3)
    lo, hi = X.mean(0) - 1.5 * X.std(0), X.mean(0) + 1.5 * X.std(0)
    assert_close(env.read("cl", "X"), np.clip(X, lo, hi), 1e-13, 1e-13, what="clip_sigma of X")
    assert np.array_equal(env.read("clf", "X"), np.clip(X, -1, 1))
    # each would change y if it touched it
    assert (np.abs(y - y.mean()) > 1.5 * y.std()).any() and (np.abs(y) > 1).any()
    for st in ("sc", "cl", "clf"):
        assert env.read(st, "y").tobytes() == y.tobytes(), "%s changed y" % st


def test_missing_features_array(args):
    env = Env(args, "missing")
    path = env.path("d.h5")
    with h5py.File(path, "w") as f:
        f["A"], f["B"], f["t"] = np.ones((10, 2)), np.arange(30.0).reshape(10, 3), np.arange(10.0)
    head = ("pipeline: t\nworkdir: w\nstages:\n"
            "  load: { op: load.hdf5, file: %s, arrays: { A: /A, B: /B, t: /t } }\n" % path)
    have = "it has A (float64, 2 columns), B (float64, 3 columns), t (float64, 1 column)"
    cases = [
        ("  n: { op: normalize, input: load }\n", "5:3",
         ["without 'arrays', normalize changes only the features array, named by 'features' (here 'X')",
          "so that a target keeps its values", "the input has no array 'X' (%s)" % have,
          "write 'features: B' to name the features array", "or 'arrays: [...]' to name every array to normalize"]),
        ("  n: { op: normalize, input: load, features: Z }\n", "5:46",
         ["(here 'Z')", "no array 'Z'", have]),
        ("  s: { op: scale, input: load, factor: 2 }\n", "5:3",
         ["without 'arrays', scale changes only the features array", "(here 'X')", have, "write 'features: B'",
          "every array to scale"]),
        ("  c: { op: clean, input: load, clip: [0, 1] }\n", "5:3",
         ["without 'clip_arrays', clean clips only the features array", "(here 'X')", have,
          "'clip_arrays: [...]' to name every array to clip"]),
    ]
    for stage, where, needles in cases:
        text = head + stage
        r = env.run(text, expect=2)
        err = check(env, text, 2)
        for n in needles:
            assert n in r.stderr, "run: %r not in %s" % (n, r.stderr)
            assert n in err, "check: %r not in %s" % (n, err)
        assert "p.yaml:%s: stage '%s'" % (where, stage.split(":")[0].strip()) in r.stderr, r.stderr
    # what the message says to write works, and changes only that array
    env.run(head + "  n: { op: normalize, input: load, features: B }\n", "-q")
    assert env.read("n", "A").tobytes() == np.ones((10, 2)).tobytes()
    assert env.read("n", "t").tobytes() == np.arange(10.0).reshape(-1, 1).tobytes()
    B = np.arange(30.0).reshape(10, 3)
    assert_close(env.read("n", "B"), (B - B.mean(0)) / B.std(0), 1e-14, 1e-14, what="B")
    # clean without clipping does not need a features array
    env.run(head + "  c: { op: clean, input: load, nan: { t: drop_row } }\n", "-q")


if __name__ == "__main__":
    harness.main([
        test_y_untouched_and_mse_in_target_units,
        test_logreg_float_labels_pass_through,
        test_arrays_can_name_y,
        test_stats_and_features_name,
        test_scale_and_clip_default,
        test_missing_features_array,
    ])
