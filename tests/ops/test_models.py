"""Op tests of linreg, logreg, predict and metrics against NumPy and
scikit-learn values in tests/fixtures/models.h5 (made by
tests/fixtures/make_models.py): least squares to 1e-9 relative of
LinearRegression / Ridge, minimum-norm solutions against numpy lstsq,
gradient descent to 1e-10 of NumPy loops (full batch and mini-batch, same
batch order), metrics to 1e-12 of sklearn.metrics; several chunk sizes;
bitwise thread independence; and the errors."""
import subprocess

import numpy as np

import harness
from harness import Env, assert_close

FIX = "models.h5"


def fixture_expect(env, key):
    import h5py
    with h5py.File(env.fixture(FIX), "r") as f:
        return f["expect/" + key][...]


def loads(env):
    """load.hdf5 stages for every fixture group."""
    f = env.fixture(FIX)
    groups = {
        "reg": "{ X: /reg/X, y: /reg/y }",
        "reg32": "{ X: /reg/X32, y: /reg/y_int }",
        "std": "{ X: /std/X, y: /std/y }",
        "lesson": "{ X: /lesson/X, y: /lesson/y }",
        "coll": "{ X: /coll/X, y: /coll/y }",
        "const": "{ X: /const/X, y: /const/y }",
        "nan": "{ X: /nan/X, y: /nan/y }",
        "cls": "{ X: /cls/X, y: /cls/y }",
        "clsbad": "{ X: /cls/X, y: /cls/y_bad }",
        "linmodel": "{ coef: /lin_model/coef, intercept: /lin_model/intercept }",
        "logmodel": "{ coef: /log_model/coef, intercept: /log_model/intercept, threshold: /log_model/threshold }",
    }
    return "".join("  %s: { op: load.hdf5, file: %s, arrays: %s }\n" % (k, f, v) for k, v in groups.items())


def pipeline(env, stages):
    return "pipeline: models\nworkdir: w\nstages:\n" + loads(env) + stages


def check_model(env, stage, key, rtol, atol=0.0, workdir="w"):
    with env.ckpt(stage, workdir) as f:
        assert_close(f["coef"][...], fixture_expect(env, key + "/coef"), rtol, atol, what=stage + " coef")
        assert_close(f["intercept"][...], fixture_expect(env, key + "/intercept"), rtol, atol,
                     what=stage + " intercept")


def same_bytes(env, stages, arrays, wa, wb):
    for st in stages:
        with env.ckpt(st, wa) as fa, env.ckpt(st, wb) as fb:
            for a in arrays:
                if a not in fa:
                    continue
                x, y = fa[a][...], fb[a][...]
                if x.tobytes() != y.tobytes():
                    raise AssertionError("%s/%s differs between %s and %s" % (st, a, wa, wb))
                for k in fa[a].attrs:
                    if k == "loss" and fa[a].attrs[k].tobytes() != fb[a].attrs[k].tobytes():
                        raise AssertionError("%s/%s loss differs" % (st, a))


# ------------------------------------------------------------ least squares

LSQ = """\
  ols: { op: linreg, input: reg }
  ols32: { op: linreg, input: reg32 }
  ols_noint: { op: linreg, input: reg, fit_intercept: false }
  ridge: { op: linreg, input: reg, l2: 2.5 }
  ridge_noint: { op: linreg, input: reg, l2: 2.5, fit_intercept: false }
  ols_lesson: { op: linreg, input: lesson }
  pinv: { op: linreg, input: coll, rank_deficient: pinv }
"""


def test_least_squares_vs_sklearn(args):
    env = Env(args, "lsq")
    for cr in (256, 1000, 65536):
        wd = "w%d" % cr
        env.run(pipeline(env, LSQ), "--chunk-rows", str(cr), "--workdir", env.path(wd), "-q")
        for st in ("ols", "ols32", "ols_noint", "ridge", "ridge_noint", "ols_lesson"):
            check_model(env, st, st, 1e-9, workdir=wd)
        check_model(env, "pinv", "pinv", 1e-9, workdir=wd)
        with env.ckpt("pinv", wd) as f:
            assert f.attrs["result.rank"] == fixture_expect(env, "pinv/rank")[0]
        with env.ckpt("ols", wd) as f:
            names = [n.decode() if isinstance(n, bytes) else n for n in f["coef"].attrs["columns"]]
            assert names == ["age", "income", "height", "score"], names
            assert list(f["coef"].attrs["model_kind"]) == [0.0]
            assert "loss" not in f["coef"].attrs
            assert f.attrs["result.rows"] == 3000
            assert f["coef"].shape == (1, 4) and f["intercept"].shape == (1, 1)


def test_train_mse_result(args):
    env = Env(args, "mse")
    env.run(pipeline(env, "  ols: { op: linreg, input: reg }\n"), "-q")
    import h5py
    with h5py.File(env.fixture(FIX), "r") as f:
        X, y = f["reg/X"][...], f["reg/y"][...]
    w, b = fixture_expect(env, "ols/coef").ravel(), fixture_expect(env, "ols/intercept")[0, 0]
    with env.ckpt("ols") as f:
        assert_close(f.attrs["result.train_mse"], np.mean((X @ w + b - y) ** 2), 1e-9, what="train_mse")


# --------------------------------------------------------- gradient descent

GD = """\
  gd: { op: linreg, input: std, solver: gradient_descent, epochs: 100, learning_rate: 0.1 }
  gd_noint_l2: { op: linreg, input: std, solver: gradient_descent, epochs: 150, learning_rate: 0.05,
                 fit_intercept: false, l2: 30 }
"""


def test_full_batch_gd_vs_numpy(args):
    env = Env(args, "gd")
    for cr in (333, 4096):
        wd = "w%d" % cr
        env.run(pipeline(env, GD), "--chunk-rows", str(cr), "--workdir", env.path(wd), "-q")
        for st in ("gd", "gd_noint_l2"):
            check_model(env, st, st, 1e-10, 1e-12, workdir=wd)
            with env.ckpt(st, wd) as f:
                loss = f["coef"].attrs["loss"]
                assert_close(loss, fixture_expect(env, st + "/loss"), 1e-10, what=st + " loss")
        with env.ckpt("gd_noint_l2", wd) as f:
            assert f["intercept"][0, 0] == 0.0


MB = """\
  mb: { op: linreg, input: std, solver: gradient_descent, epochs: 4, learning_rate: 0.05, batch_size: 64, seed: 7 }
  mb_l2: { op: linreg, input: std, solver: gradient_descent, epochs: 3, learning_rate: 0.05, batch_size: 100,
           seed: 11, l2: 5 }
"""


def test_minibatch_gd_vs_numpy(args):
    env = Env(args, "mb")
    for cr in (500, 1024):
        wd = "w%d" % cr
        env.run(pipeline(env, MB), "--chunk-rows", str(cr), "--workdir", env.path(wd), "-q")
        check_model(env, "mb", "mb%d" % cr, 1e-10, 1e-12, workdir=wd)
        with env.ckpt("mb", wd) as f:
            assert_close(f["coef"].attrs["loss"], fixture_expect(env, "mb%d/loss" % cr), 1e-10, what="mb loss")
            assert_close(f.attrs["result.train_mse"], fixture_expect(env, "mb%d/mse" % cr)[0], 1e-10,
                         what="mb train_mse")
    env.run(pipeline(env, MB), "--chunk-rows", "300", "--workdir", env.path("w300"), "-q")
    check_model(env, "mb_l2", "mb_l2", 1e-10, 1e-12, workdir="w300")
    with env.ckpt("mb_l2", "w300") as f:
        assert_close(f["coef"].attrs["loss"], fixture_expect(env, "mb_l2/loss"), 1e-10, what="mb_l2 loss")


# ----------------------------------------------------------------- logistic

LOG = """\
  logreg: { op: logreg, input: cls, epochs: 200, learning_rate: 0.5 }
  logreg_l2: { op: logreg, input: cls, epochs: 50, learning_rate: 0.5, l2: 20 }
  logreg_mb: { op: logreg, input: cls, epochs: 5, learning_rate: 0.2, batch_size: 32, seed: 3 }
"""


def test_logreg_vs_numpy(args):
    env = Env(args, "logreg")
    env.run(pipeline(env, LOG), "--chunk-rows", "700", "-q")
    for st in ("logreg", "logreg_l2", "logreg_mb"):
        check_model(env, st, st, 1e-10, 1e-12)
    with env.ckpt("logreg") as f:
        assert_close(f["coef"].attrs["loss"], fixture_expect(env, "logreg/loss"), 1e-10, what="logreg loss")
        assert list(f["coef"].attrs["model_kind"]) == [1.0]
        assert f["threshold"][...].tolist() == [[0.5]]
        assert_close(f.attrs["result.train_log_loss"], fixture_expect(env, "logreg/final_loss")[0], 1e-10,
                     what="train_log_loss")
    with env.ckpt("logreg_mb") as f:
        assert_close(f["coef"].attrs["loss"], fixture_expect(env, "logreg_mb/loss"), 1e-10, what="mb loss")
    # 200 epochs of full-batch descent come close to sklearn's optimum
    check_model(env, "logreg", "sk_logistic", 2e-3)


def test_logreg_converges_to_sklearn(args):
    env = Env(args, "logreg_long")
    env.run(pipeline(env, "  long: { op: logreg, input: cls, epochs: 3000, learning_rate: 1.0 }\n"), "-q")
    check_model(env, "long", "sk_logistic", 1e-4)


# ---------------------------------------------------------- predict, metrics

PRED = """\
  lesson_pred: { op: predict, input: lesson, weights: [4, 3], bias: 10 }
  lin_pred: { op: predict, input: reg, model: linmodel }
  log_pred: { op: predict, input: cls, model: logmodel, output: cls_hat, probability: p_hat }
  lesson_m: { op: metrics, input: lesson_pred }
  reg_m: { op: metrics, input: lin_pred, metrics: [mse, rmse, mae, r2] }
  reg_m2: { op: metrics, model: linmodel, data: reg }
  cls_m: { op: metrics, input: log_pred, prediction: cls_hat, probability: p_hat }
  cls_m2: { op: metrics, model: logmodel, data: cls, metrics: [accuracy, log_loss] }
  trained: { op: linreg, input: lesson }
  trained_pred: { op: predict, input: lesson, model: trained, output: yhat }
"""


def test_predict(args):
    env = Env(args, "predict")
    env.run(pipeline(env, PRED), "--chunk-rows", "777", "-q")
    assert_close(env.read("lesson_pred", "y_pred"), fixture_expect(env, "lesson_pred").reshape(-1, 1), 1e-15,
                 what="lesson y_pred")
    assert_close(env.read("lin_pred", "y_pred"), fixture_expect(env, "lin_pred").reshape(-1, 1), 1e-13,
                 what="y_pred")
    with env.ckpt("lin_pred") as f:
        assert sorted(f.keys()) == ["X", "y", "y_pred"], list(f.keys())
        import h5py
        with h5py.File(env.fixture(FIX), "r") as src:
            assert f["X"][...].tobytes() == src["reg/X"][...].tobytes()
    with env.ckpt("log_pred") as f:
        assert sorted(f.keys()) == ["X", "cls_hat", "p_hat", "y"], list(f.keys())
        assert_close(f["p_hat"][...], fixture_expect(env, "log_prob").reshape(-1, 1), 1e-13, what="y_prob")
        assert np.array_equal(f["cls_hat"][...].ravel(), fixture_expect(env, "log_class"))
    # a trained model's predictions are X w + b with its own weights
    with env.ckpt("trained") as f:
        w, b = f["coef"][0], f["intercept"][0, 0]
    import h5py
    with h5py.File(env.fixture(FIX), "r") as src:
        X = src["lesson/X"][...]
    assert_close(env.read("trained_pred", "yhat").ravel(), X @ w + b, 1e-14, what="trained predictions")


def test_metrics_vs_sklearn(args):
    env = Env(args, "metrics")
    env.run(pipeline(env, PRED), "--chunk-rows", "777", "-q")
    reg = fixture_expect(env, "reg_metrics")
    for st in ("reg_m", "reg_m2"):
        with env.ckpt(st) as f:
            assert list(f.keys()) == ["mae", "mse", "r2", "rmse"], list(f.keys())
            for k, name in enumerate(("mse", "rmse", "mae", "r2")):
                assert f[name].shape == (1, 1)
                assert_close(f[name][0, 0], reg[k], 1e-12, what="%s %s" % (st, name))
                assert_close(f.attrs["result." + name], reg[k], 1e-12, what="%s result.%s" % (st, name))
    les = fixture_expect(env, "lesson_metrics")
    with env.ckpt("lesson_m") as f:
        for k, name in enumerate(("mse", "rmse", "mae", "r2")):
            assert_close(f[name][0, 0], les[k], 1e-12, what="lesson " + name)
    cls = fixture_expect(env, "cls_metrics")
    # a classifier's default metrics (cls_m; their values against sklearn: test_classify_metrics.py)
    for st, keys in (("cls_m", ["accuracy", "f1", "log_loss", "precision", "recall", "roc_auc"]),
                     ("cls_m2", ["accuracy", "log_loss"])):
        with env.ckpt(st) as f:
            assert sorted(f.keys()) == keys, list(f.keys())
            assert_close(f["accuracy"][0, 0], cls[0], 1e-12, what=st + " accuracy")
            assert_close(f["log_loss"][0, 0], cls[1], 1e-12, what=st + " log_loss")


def test_metrics_chunk_sizes(args):
    env = Env(args, "metrics_chunks")
    reg = fixture_expect(env, "reg_metrics")
    stages = "  m: { op: metrics, model: linmodel, data: reg }\n"
    for cr in (1, 64, 3000):
        wd = "w%d" % cr
        env.run(pipeline(env, stages), "--chunk-rows", str(cr), "--workdir", env.path(wd), "-q")
        with env.ckpt("m", wd) as f:
            for k, name in enumerate(("mse", "rmse", "mae", "r2")):
                assert_close(f[name][0, 0], reg[k], 1e-12, what="chunk %d %s" % (cr, name))


def test_summary_prints_metrics(args):
    env = Env(args, "summary")
    r = env.run(pipeline(env, "  m: { op: metrics, model: linmodel, data: reg }\n"))
    line = [l for l in r.stdout.splitlines() if l.startswith("m ")]
    assert line and "mse=" in line[0] and "r2=" in line[0], r.stdout


def test_reused_model(args):
    """A model stage reused from its checkpoint feeds predict and metrics
    like a fresh one (the model kind is in the schema, the weights are read
    from the checkpoint)."""
    env = Env(args, "reuse")
    stages = ("  lr: { op: logreg, input: cls, epochs: 20, learning_rate: 0.5 }\n"
              "  p: { op: predict, input: cls, model: lr, output: %s }\n"
              "  m: { op: metrics, model: lr, data: cls, metrics: [%s] }\n")
    env.run(pipeline(env, stages % ("c1", "accuracy")), "-q")
    first = env.read("p", "y_prob")
    r = env.run(pipeline(env, stages % ("c2", "log_loss, accuracy")))
    line = [l for l in r.stdout.splitlines() if l.startswith("lr ")]
    assert line and "reused" in line[0], r.stdout
    with env.ckpt("p") as f:
        assert sorted(f.keys()) == ["X", "c2", "y", "y_prob"], list(f.keys())
        assert f["y_prob"][...].tobytes() == first.tobytes()
    with env.ckpt("m") as f:
        assert list(f.keys()) == ["accuracy", "log_loss"] or sorted(f.keys()) == ["accuracy", "log_loss"]
        assert 0.5 < f["accuracy"][0, 0] < 1 and 0 < f["log_loss"][0, 0] < 0.7


# -------------------------------------------------------- thread independence

ALL = LSQ + GD + MB + LOG + PRED


def test_threads_bitwise(args):
    env = Env(args, "threads")
    for j in ("1", "2"):
        env.run(pipeline(env, ALL), "-j", j, "--chunk-rows", "500", "--workdir", env.path("w" + j), "-q")
    stages = ["ols", "ridge", "pinv", "gd", "gd_noint_l2", "mb", "mb_l2", "logreg", "logreg_l2", "logreg_mb",
              "lin_pred", "log_pred", "reg_m", "reg_m2", "cls_m", "cls_m2"]
    arrays = ["coef", "intercept", "y_pred", "p_hat", "cls_hat", "mse", "rmse", "mae", "r2", "accuracy",
              "log_loss"]
    same_bytes(env, stages, arrays, "w1", "w2")


# ------------------------------------------------------------------- errors

def run_fail(env, stages, expect, *words, check=True):
    r = env.run(pipeline(env, stages), expect=expect)
    for w in words:
        if w not in r.stderr:
            raise AssertionError("message lacks %r:\n%s" % (w, r.stderr))
    if check:
        p = env.path("p.yaml")
        c = subprocess.run([env.sluice, "check", p], capture_output=True, text=True, timeout=60)
        if c.returncode != 2:
            raise AssertionError("sluice check exit %d on a config error\n%s" % (c.returncode, c.stderr))
    return r


def test_errors_at_run_time(args):
    env = Env(args, "errors_run")
    run_fail(env, "  s: { op: linreg, input: coll }\n", 1, "collinear", "c ≈", "a", "b", "rank_deficient: pinv",
             check=False)
    run_fail(env, "  s: { op: linreg, input: const }\n", 1, "column 1", "constant", check=False)
    run_fail(env, "  s: { op: linreg, input: nan }\n", 1, "row 1234 column 2", "clean", check=False)
    run_fail(env, "  s: { op: logreg, input: clsbad, solver: gradient_descent }\n", 1, "row 77", "labels 0 or 1",
             check=False)
    run_fail(env, "  s: { op: linreg, input: std, solver: gradient_descent, learning_rate: 50 }\n", 1,
             "diverged", "learning_rate", check=False)
    run_fail(env, "  s: { op: metrics, model: logmodel, data: clsbad, metrics: [log_loss] }\n", 1, "row 77",
             "log_loss needs labels 0 or 1", check=False)


def test_errors_at_plan_time(args):
    env = Env(args, "errors_plan")
    run_fail(env, "  s: { op: predict, input: reg, model: logmodel }\n", 2, "4 columns", "3 weight")
    run_fail(env, "  s: { op: predict, input: lesson, weights: [1, 2, 3] }\n", 2, "2 columns", "3 weights")
    run_fail(env, "  s: { op: predict, input: reg, model: linmodel, weights: [1, 2, 3, 4] }\n", 2, "not both")
    run_fail(env, "  s: { op: predict, input: reg }\n", 2, "needs a model")
    run_fail(env, "  s: { op: predict, input: reg, model: linmodel, output: y }\n", 2, "already has an array named 'y'")
    run_fail(env, "  s: { op: predict, input: reg, model: reg }\n", 2, "not a model")
    run_fail(env, "  s: { op: metrics, input: reg, metrics: [mse, rmsee] }\n", 2, "unknown metric 'rmsee'",
             "did you mean 'rmse'")
    run_fail(env, "  s: { op: metrics, input: reg, metrics: [mse, mse] }\n", 2, "twice")
    run_fail(env, "  s: { op: metrics, input: reg, metrics: [mse] }\n", 2, "y_pred")
    run_fail(env, "  s: { op: metrics, model: linmodel, data: reg, metrics: [log_loss] }\n", 2, "log_loss",
             "linear")
    run_fail(env, "  s: { op: metrics, model: logmodel, data: reg }\n", 2, "4 columns", "3 weights")
    run_fail(env, "  s: { op: metrics, model: linmodel }\n", 2, "'data'")
    run_fail(env, "  s: { op: metrics, input: reg, model: linmodel, data: reg }\n", 2, "not both")
    run_fail(env, "  s: { op: linreg, input: reg, target: X }\n", 2, "1 column")
    run_fail(env, "  s: { op: linreg, input: reg, features: Z }\n", 2, "'Z'", "X (float64")
    run_fail(env, "  s: { op: linreg, input: reg, solver: newton }\n", 2, "solver")
    run_fail(env, "  s: { op: linreg, input: reg, learning_rate: 0 }\n", 2, "learning_rate")
    run_fail(env, "  s: { op: logreg, input: cls, l2: -1 }\n", 2, "l2")
    run_fail(env, "  s: { op: logreg, input: cls, batch_size: -5 }\n", 2, "batch_size")


if __name__ == "__main__":
    harness.main([
        test_least_squares_vs_sklearn,
        test_train_mse_result,
        test_full_batch_gd_vs_numpy,
        test_minibatch_gd_vs_numpy,
        test_logreg_vs_numpy,
        test_logreg_converges_to_sklearn,
        test_predict,
        test_metrics_vs_sklearn,
        test_metrics_chunk_sizes,
        test_summary_prints_metrics,
        test_reused_model,
        test_threads_bitwise,
        test_errors_at_run_time,
        test_errors_at_plan_time,
    ])
