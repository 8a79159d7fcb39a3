"""logreg's Newton solver (binary, multinomial, one-vs-rest), predict on
multi-class models and convergence reporting, on the data sets that ship
with scikit-learn (datasets/), against scikit-learn fitted in the test.

scikit-learn's default lbfgs stops on its relative loss decrease (ftol
64·eps) long before max|grad| reaches a tol like 1e-10, so its coefficients
are good to about 1e-4 only; the references here are its exact solvers
(newton-cholesky for binary problems, newton-cg for multinomial ones), and
each sluice model's optimality is also checked directly: the gradient of
scikit-learn's objective, computed with NumPy at sluice's coefficients."""
import json
import os

import h5py
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score

from harness import Env, assert_close, main

import warnings
warnings.filterwarnings("ignore")  # newton-cg's ConvergenceWarning at max_iter with tol 1e-14


def data(env, name):
    with h5py.File(os.path.join(env.root, "datasets", name + ".h5"), "r") as f:
        return f["X"][...], f["y"][...].ravel()


def standardized(X):
    return (X - X.mean(0)) / X.std(0)


def pipeline(env, stages, datasets=("breast_cancer", "iris", "wine")):
    loads = "".join(
        "  %s: { op: load.hdf5, file: %s, arrays: { X: /X, y: /y } }\n"
        "  %s_f: { op: convert, input: %s, dtype: float64, arrays: [X] }\n"
        "  %s_z: { op: normalize, input: %s_f }\n"
        % (d, os.path.join(env.root, "datasets", d + ".h5"), d, d, d, d) for d in datasets)
    return "pipeline: classify\nworkdir: w\nstages:\n" + loads + stages


def run_log(env, workdir="w"):
    with open(env.path(workdir, "run.log")) as f:
        return [json.loads(line) for line in f]


def grad_norm(X, y, coef, intercept, l2, multinomial):
    """max |grad| of the mean log-loss + l2 |W|^2 / (2n) at (coef, intercept), by NumPy."""
    n = X.shape[0]
    Z = X @ coef.T + intercept
    if multinomial:
        Z = Z - Z.max(1, keepdims=True)
        P = np.exp(Z)
        P /= P.sum(1, keepdims=True)
        R = P - (y[:, None] == np.arange(coef.shape[0])[None, :])
    else:
        R = (1 / (1 + np.exp(-Z))) - y[:, None]
    gw = (R.T @ X + l2 * coef) / n
    gb = R.sum(0) / n
    return max(np.abs(gw).max(), np.abs(gb).max())


def model(env, stage, workdir="w"):
    with env.ckpt(stage, workdir) as f:
        return (f["coef"][...], f["intercept"][...].ravel(), dict(f["coef"].attrs),
                {k[7:]: float(v) for k, v in f.attrs.items() if k.startswith("result.")})


def test_binary_newton_breast_cancer(args):
    env = Env(args, "binary")
    env.run(pipeline(env, "  fit: { op: logreg, input: breast_cancer_z, l2: 1, tol: 1e-10 }\n"
                          "  raw: { op: logreg, input: breast_cancer_f, l2: 1, tol: 1e-10, max_iter: 200 }\n",
                     datasets=("breast_cancer",)), "-q")
    X, y = data(env, "breast_cancer")
    for stage, Xs in (("fit", standardized(X)), ("raw", X)):
        coef, b, attrs, res = model(env, stage)
        sk = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-14, max_iter=1000).fit(Xs, y)
        assert_close(coef, sk.coef_, 1e-6 if stage == "raw" else 1e-10, what=stage + " coef")
        assert_close(b, sk.intercept_, 1e-6 if stage == "raw" else 1e-10, what=stage + " intercept")
        assert res["converged"] == 1 and list(attrs["classes"]) == [0.0, 1.0]
        assert list(attrs["model_kind"]) == [1.0]
        g = grad_norm(Xs, y, coef, b, 1.0, False)
        # unscaled features (areas in the 1000s) leave a floor of rounding in the gradient
        assert g <= (1e-9 if stage == "fit" else 1e-7), "%s: max|grad| %.3g at sluice's solution" % (stage, g)
        p = 1 / (1 + np.exp(-(Xs @ coef.ravel() + b[0])))
        ll = -np.mean(y * np.log(p) + (1 - y) * np.log1p(-p))
        assert_close(res["train_log_loss"], ll, 1e-10, what="train_log_loss")
        print("     breast_cancer %s: %d Newton steps, max|grad| %.2g (sklearn lbfgs: %.2g)" % (
            stage, res["iterations"], g,
            grad_norm(Xs, y, *(lambda m: (m.coef_, m.intercept_))(
                LogisticRegression(C=1.0, tol=1e-10, max_iter=10000).fit(Xs, y)), 1.0, False)))
    # the bar: within 20 passes over the data (the classes pass included)
    passes = {e["stage"]: e["passes"] for e in run_log(env) if e["status"] == "ran"}
    assert passes["fit"] <= 20, passes


def test_softmax_iris_wine(args):
    env = Env(args, "softmax")
    env.run(pipeline(env, "  iris_fit: { op: logreg, input: iris_z, l2: 1, tol: 1e-10 }\n"
                          "  wine_fit: { op: logreg, input: wine_z, l2: 0.5, tol: 1e-10 }\n"
                          "  iris_ovr: { op: logreg, input: iris_z, l2: 1, tol: 1e-10, multi_class: ovr }\n"
                          "  iris_pred: { op: predict, input: iris_z, model: iris_fit }\n"
                          "  wine_pred: { op: predict, input: wine_z, model: wine_fit }\n"
                          "  ovr_pred: { op: predict, input: iris_z, model: iris_ovr }\n"
                          "  iris_acc: { op: metrics, input: iris_pred, metrics: [accuracy] }\n",
                     datasets=("iris", "wine")), "-q")
    for ds, fit, pred, l2, mc in (("iris", "iris_fit", "iris_pred", 1.0, "multinomial"),
                                  ("wine", "wine_fit", "wine_pred", 0.5, "multinomial"),
                                  ("iris", "iris_ovr", "ovr_pred", 1.0, "ovr")):
        X, y = data(env, ds)
        Xs = standardized(X)
        sk = LogisticRegression(C=1 / l2, solver="newton-cg", tol=1e-14, max_iter=1000, multi_class=mc).fit(Xs, y)
        coef, b, attrs, res = model(env, fit)
        assert coef.shape == sk.coef_.shape, (coef.shape, sk.coef_.shape)
        assert_close(coef, sk.coef_, 1e-6, what=fit + " coef")
        assert_close(b, sk.intercept_, 1e-6, atol=1e-9, what=fit + " intercept")
        assert res["converged"] == 1 and res["iterations"] <= 20, res
        assert list(attrs["model_kind"]) == [2.0 if mc == "multinomial" else 3.0]
        assert list(attrs["classes"]) == [0.0, 1.0, 2.0]
        if mc == "multinomial":
            assert grad_norm(Xs, y, coef, b, l2, True) <= 1e-9
            # the iterates stay where lbfgs's do from zeros: the class rows sum to 0
            assert np.abs(coef.sum(0)).max() < 1e-12 and abs(b.sum()) < 1e-12
        with env.ckpt(pred) as f:
            prob, yp = f["y_prob"][...], f["y_pred"][...].ravel()
            assert list(f["y_prob"].attrs["classes"]) == [0.0, 1.0, 2.0]
            assert [c.decode() if isinstance(c, bytes) else c for c in f["y_prob"].attrs["columns"]] == \
                ["p(0)", "p(1)", "p(2)"]
        assert_close(prob, sk.predict_proba(Xs), 1e-7, atol=1e-12, what=pred + " probabilities")
        assert (yp == sk.predict(Xs)).all(), pred
        print("     %s %s: accuracy %.4f (sklearn %.4f), %d steps" % (
            ds, mc, accuracy_score(y, yp), sk.score(Xs, y), res["iterations"]))
    with env.ckpt("iris_acc") as f:
        X, y = data(env, "iris")
        sk = LogisticRegression(C=1, solver="newton-cg", tol=1e-14, max_iter=1000).fit(standardized(X), y)
        assert f.attrs["result.accuracy"] == sk.score(standardized(X), y)


def test_labels_threshold_and_threads(args):
    """Any two (or more) label values; the classes decode predictions; a
    binary threshold; bits independent of threads and chunking."""
    env = Env(args, "labels")
    X, y = data(env, "breast_cancer")
    Xs = standardized(X)
    with h5py.File(env.path("bc.h5"), "w") as f:
        f["X"] = Xs
        f["y"] = np.where(y == 1, 7.5, -2.0).reshape(-1, 1)
        f["y3"] = np.where(Xs[:, 0] > 0.5, 30, np.where(y == 1, 10, 20)).reshape(-1, 1).astype(np.int32)
    stages = ("pipeline: labels\nworkdir: w\nstages:\n"
              "  d: { op: load.hdf5, file: bc.h5, arrays: { X: /X, y: /y } }\n"
              "  d3: { op: load.hdf5, file: bc.h5, arrays: { X: /X, y: /y3 } }\n"
              "  fit: { op: logreg, input: d, l2: 2, tol: 1e-11 }\n"
              "  fit3: { op: logreg, input: d3, l2: 2 }\n"
              "  p: { op: predict, input: d, model: fit, threshold: 0.3 }\n"
              "  p3: { op: predict, input: d3, model: fit3 }\n")
    env.run(stages, "-q", "--threads", "1", "--chunk-rows", "37")
    env.run(stages, "-q", "--threads", "2", "--chunk-rows", "37", "--workdir", env.path("w2"))
    env.run(stages, "-q", "--workdir", env.path("w3"))
    for st in ("fit", "fit3", "p", "p3"):
        with env.ckpt(st) as a, env.ckpt(st, "w2") as b, env.ckpt(st, "w3") as c:
            for k in a.keys():
                # threads never change a bit; chunking only the rounding of the sums
                assert a[k][...].tobytes() == b[k][...].tobytes(), (st, k)
                assert_close(c[k][...], a[k][...], 1e-10, atol=1e-14, what="%s %s, chunk 37 vs default" % (st, k))
    # scikit-learn takes 7.5 for a continuous target: the same two classes, as strings in the same order
    sk = LogisticRegression(C=0.5, solver="newton-cholesky", tol=1e-14).fit(Xs, np.where(y == 1, "b", "a"))
    coef, b, attrs, _ = model(env, "fit")
    assert list(attrs["classes"]) == [-2.0, 7.5]
    assert_close(coef, sk.coef_, 1e-8, what="coef with labels -2, 7.5")
    with env.ckpt("p") as f:
        p, yp = f["y_prob"][...].ravel(), f["y_pred"][...].ravel()
    assert_close(p, sk.predict_proba(Xs)[:, 1], 1e-8, atol=1e-14, what="P(7.5)")
    assert (yp == np.where(p > 0.3, 7.5, -2.0)).all()
    y3 = np.where(Xs[:, 0] > 0.5, 30, np.where(y == 1, 10, 20))
    sk3 = LogisticRegression(C=0.5, solver="newton-cg", tol=1e-14, max_iter=1000).fit(Xs, y3)
    with env.ckpt("p3") as f:
        assert (f["y_pred"][...].ravel() == sk3.predict(Xs)).all()
        assert list(f["y_prob"].attrs["classes"]) == [10.0, 20.0, 30.0]


def test_encoded_labels_decode(args):
    """encode's class table reaches the model (attribute labels) and predict's decode."""
    env = Env(args, "decode")
    X, y = data(env, "wine")
    names = np.array([-5.0, 2.5, 40.0])  # the classes of wine as odd numbers
    with h5py.File(env.path("w.h5"), "w") as f:
        f["X"] = standardized(X)
        f["y"] = names[y].reshape(-1, 1)
    env.run("pipeline: d\nworkdir: w\nstages:\n"
            "  d: { op: load.hdf5, file: w.h5, arrays: { X: /X, y: /y } }\n"
            "  e: { op: encode, input: d, labels: [y] }\n"
            "  f: { op: logreg, input: e, l2: 1 }\n"
            "  codes: { op: predict, input: e, model: f }\n"
            "  labels: { op: predict, input: e, model: f, decode: true, output: label }\n"
            "  acc: { op: metrics, input: codes, metrics: [accuracy] }\n", "-q")
    # scikit-learn calls 2.5 continuous: it gets the codes, mapped back to the labels below
    sk = LogisticRegression(C=1, solver="newton-cg", tol=1e-14, max_iter=1000).fit(standardized(X), y)
    _, _, attrs, _ = model(env, "f")
    assert list(attrs["classes"]) == [0.0, 1.0, 2.0] and list(attrs["labels"]) == list(names)
    with env.ckpt("codes") as f:
        codes = f["y_pred"][...].ravel()
    with env.ckpt("labels") as f:
        lab = f["label"][...].ravel()
        assert list(f["y_prob"].attrs["classes"]) == list(names)
        cols = [c.decode() if isinstance(c, bytes) else c for c in f["y_prob"].attrs["columns"]]
        assert cols == ["p(-5)", "p(2.5)", "p(40)"], cols
    assert (lab == names[sk.predict(standardized(X))]).all()
    assert (names[codes.astype(int)] == lab).all()
    with env.ckpt("acc") as f:
        assert f.attrs["result.accuracy"] == sk.score(standardized(X), y)
    r = env.run("pipeline: d\nworkdir: w\nstages:\n"
                "  d: { op: load.hdf5, file: w.h5, arrays: { X: /X, y: /y } }\n"
                "  f: { op: logreg, input: d, l2: 1 }\n"
                "  p: { op: predict, input: d, model: f, decode: true }\n", expect=1)
    assert "'decode' needs a model trained on labels encoded by an encode stage" in r.stderr, r.stderr


def test_warm_start_on_many_chunks(args):
    """With 48 chunks or more (a sample of 3 chunks and 100 rows an unknown), Newton
    starts from its solution on every 16th chunk and polishes on all rows: the same
    optimum (scikit-learn's) in fewer full steps. The binary model's last step is
    certified (no pass checks it): a pass per step after the classes', where softmax
    takes one more."""
    env = Env(args, "warm")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40000, 5))
    z = X @ np.array([1.5, -2.0, 0.5, 0.0, 1.0]) + 0.3
    y = (rng.random(40000) < 1 / (1 + np.exp(-z))).astype(np.int64)
    y3 = np.where(X[:, 3] > 0.8, 2, y)
    with h5py.File(env.path("d.h5"), "w") as f:
        f["X"], f["y"], f["y3"] = X, y.reshape(-1, 1), y3.reshape(-1, 1)
    text = ("pipeline: warm\nworkdir: w\nstages:\n"
            "  d: { op: load.hdf5, file: d.h5, arrays: { X: /X, y: /y } }\n"
            "  d3: { op: load.hdf5, file: d.h5, arrays: { X: /X, y: /y3 } }\n"
            "  bin: { op: logreg, input: d, l2: 1, tol: 1e-11 }\n"
            "  soft: { op: logreg, input: d3, l2: 1, tol: 1e-11 }\n"
            "  bin8: { op: logreg, input: d, l2: 1 }\n")
    env.run(text, "-q", "--chunk-rows", "256")
    env.run(text, "-q", "--chunk-rows", "40000", "--workdir", env.path("one"))
    for st, yy, solver in (("bin", y, "newton-cholesky"), ("soft", y3, "newton-cg")):
        sk = LogisticRegression(C=1.0, solver=solver, tol=1e-14, max_iter=1000).fit(X, yy)
        coef, b, attrs, res = model(env, st)
        assert_close(coef, sk.coef_, 1e-8, what=st + " coef, warm-started")
        assert_close(b, sk.intercept_, 1e-8, atol=1e-10, what=st + " intercept, warm-started")
        assert res["converged"] == 1
        _, _, _, cold = model(env, st, "one")  # one chunk: from zero
        # the full steps after the warm start: fewer than from zero
        assert res["iterations"] < cold["iterations"], (st, res["iterations"], cold["iterations"])
        print("     %s: %d full Newton steps after the warm start, %d from zero" % (
            st, res["iterations"], cold["iterations"]))
        # the loss trace holds the full objective only
        assert len(attrs["loss"]) == res["iterations"] + 1
    # The certified last step, from zero on one chunk, default tol: the classes'
    # pass, then one pass a step (every step is taken whole here), none after the
    # last; at the optimum all the same (the gradient, by NumPy, within tol).
    log = [e for e in run_log(env, "one") if e["stage"] == "bin8"][-1]
    coef, b, attrs, res = model(env, "bin8", "one")
    assert res["converged"] == 1
    assert log["passes"] == 1 + res["iterations"], (log["passes"], res["iterations"])
    g = grad_norm(X, y, coef, b, 1.0, False)
    assert g <= 1e-8, g
    print("     bin8: %d steps in %d passes, max|grad| %.2g by NumPy (tol 1e-8)" % (
        res["iterations"], log["passes"], g))


def test_convergence_reported(args):
    env = Env(args, "converge")
    # separable classes without a penalty have no finite optimum
    X = np.linspace(-3, 3, 200).reshape(-1, 1)
    with h5py.File(env.path("sep.h5"), "w") as f:
        f["X"] = X
        f["y"] = (X > 0).astype(np.int64)
    head = "pipeline: c\nworkdir: w\nstages:\n  d: { op: load.hdf5, file: sep.h5, arrays: { X: /X, y: /y } }\n"
    r = env.run(head + "  sep: { op: logreg, input: d }\n", "-q")
    assert "warning: stage 'sep': the model separates the training classes perfectly" in r.stderr, r.stderr
    assert "set l2 > 0" in r.stderr
    line = [e for e in run_log(env) if e["stage"] == "sep"][-1]
    assert line["warnings"] and "separates" in line["warnings"][0], line
    r = env.run(head + "  sep: { op: logreg, input: d, l2: 0.01 }\n", "-q")
    assert "warning" not in r.stderr, r.stderr
    r = env.run(head + "  sep: { op: logreg, input: d, max_iter: 3, on_no_convergence: error }\n", expect=1)
    assert "did not converge" in r.stderr and "max_iter" in r.stderr, r.stderr
    # a step limit too low: not converged; enough steps: converged, no warning
    env2 = Env(args, "converge2")
    Xb, yb = data(env2, "breast_cancer")
    with h5py.File(env2.path("bc.h5"), "w") as f:
        f["X"] = standardized(Xb)
        f["y"] = yb.reshape(-1, 1)
    head = "pipeline: c\nworkdir: w\nstages:\n  d: { op: load.hdf5, file: bc.h5, arrays: { X: /X, y: /y } }\n"
    r = env2.run(head + "  short: { op: logreg, input: d, l2: 1, max_iter: 2 }\n"
                        "  full: { op: logreg, input: d, l2: 1 }\n"
                        "  gd: { op: logreg, input: d, l2: 1, learning_rate: 1, epochs: 20000, tol: 1e-5 }\n"
                        "  gd_short: { op: logreg, input: d, l2: 1, epochs: 5 }\n")
    assert "stage 'short'" in r.stderr and "max_iter" in r.stderr, r.stderr
    assert "stage 'full'" not in r.stderr and "stage 'gd'" not in r.stderr, r.stderr
    assert "stage 'gd_short'" in r.stderr and "epochs" in r.stderr, r.stderr
    res = {st: model(env2, st)[3] for st in ("short", "full", "gd", "gd_short")}
    assert res["short"]["converged"] == 0 and res["short"]["iterations"] == 2
    assert res["full"]["converged"] == 1
    # gradient descent stops early once max|grad| <= tol
    assert res["gd"]["converged"] == 1 and res["gd"]["iterations"] < 20000, res["gd"]
    coef, b, _, _ = model(env2, "gd")
    assert grad_norm(standardized(Xb), yb, coef, b, 1.0, False) <= 1e-5 * (1 + 1e-9)
    assert res["gd_short"]["converged"] == 0
    # linreg's gradient descent reports the same way (diabetes: the epochs' loss and the exact optimum)
    env3 = Env(args, "converge3")
    dia = os.path.join(env3.root, "datasets", "diabetes.h5")
    head = ("pipeline: c\nworkdir: w\nstages:\n  d: { op: load.hdf5, file: %s, arrays: { X: /X, y: /y } }\n"
            "  f: { op: convert, input: d, dtype: float64 }\n  z: { op: normalize, input: f }\n" % dia)
    r = env3.run(head + "  few: { op: linreg, input: z, solver: gradient_descent, epochs: 10 }\n"
                        "  tol: { op: linreg, input: z, solver: gradient_descent, epochs: 100000, learning_rate: 0.2,"
                        " tol: 1e-6 }\n"
                        "  exact: { op: linreg, input: z }\n")
    assert "stage 'few'" in r.stderr and "normal_equations" in r.stderr, r.stderr
    assert "stage 'tol'" not in r.stderr, r.stderr
    few, tol, exact = (model(env3, st) for st in ("few", "tol", "exact"))
    assert few[3]["converged"] == 0 and few[3]["iterations"] == 10
    assert tol[3]["converged"] == 1 and tol[3]["iterations"] < 100000
    assert len(tol[2]["loss"]) == tol[3]["iterations"]
    # max|grad| <= 1e-6 bounds the distance to the optimum by 1e-6 / (smallest eigenvalue of X'X/n)
    assert_close(tol[0], exact[0], 1e-3, what="linreg descent stopped by tol vs the normal equations")


def test_validation_loss(args):
    env = Env(args, "validation")
    env.run(pipeline(env, "  tr: { op: split, input: breast_cancer_z, part: train, seed: 3 }\n"
                          "  te: { op: split, input: breast_cancer_z, part: test, seed: 3 }\n"
                          "  nt: { op: logreg, input: tr, l2: 1, validation: te }\n"
                          "  gd: { op: logreg, input: tr, l2: 1, epochs: 30, learning_rate: 1, validation: te }\n"
                          "  gdt: { op: logreg, input: tr, l2: 1, epochs: 5000, learning_rate: 1, tol: 1e-3, "
                          "validation: te }\n",
                     datasets=("breast_cancer",)), "-q")
    with env.ckpt("te") as f:
        Xt, yt = f["X"][...], f["y"][...].ravel()
    for st in ("nt", "gd", "gdt"):
        coef, b, attrs, res = model(env, st)
        p = 1 / (1 + np.exp(-(Xt @ coef.ravel() + b[0])))
        want = -np.mean(yt * np.log(p) + (1 - yt) * np.log1p(-p))
        assert_close(res["validation_log_loss"], want, 1e-12, what=st + " validation log-loss")
        v = attrs["validation_loss"]
        assert v[-1] == res["validation_log_loss"]
        n_iter = int(res["iterations"])
        assert len(v) == n_iter + 1, (st, len(v), n_iter)
        # the first value is the loss of the starting weights (all zero): log 2
        assert_close(v[0], np.log(2), 1e-12, what=st + " start")
    assert model(env, "gdt")[3]["iterations"] < 5000


def test_config_errors(args):
    env = Env(args, "errors")
    X, y = data(env, "iris")
    with h5py.File(env.path("d.h5"), "w") as f:
        f["X"] = X
        f["y"] = y.reshape(-1, 1)
        f["one"] = np.zeros((150, 1))
        f["Xbig"] = np.random.default_rng(1).normal(size=(1500, 2))
        f["many"] = np.arange(1500.0).reshape(-1, 1)
    head = "pipeline: e\nworkdir: w\nstages:\n  d: { op: load.hdf5, file: d.h5, arrays: { X: /X, y: /y } }\n" \
           "  o: { op: load.hdf5, file: d.h5, arrays: { X: /X, y: /one } }\n" \
           "  m: { op: load.hdf5, file: d.h5, arrays: { X: /Xbig, y: /many } }\n"
    cases = [
        ("  f: { op: logreg, input: d, solver: newton, epochs: 5 }\n", 2, ["'epochs' belongs to gradient descent"]),
        ("  f: { op: logreg, input: d, solver: gradient_descent, multi_class: ovr }\n", 2,
         ["multi_class 'ovr' needs solver newton"]),
        ("  f: { op: logreg, input: d, epochs: 5, max_iter: 3 }\n", 2, ["'max_iter' bounds Newton's steps"]),
        ("  f: { op: logreg, input: d, tol: 0 }\n", 2, ["'tol' is 0"]),
        ("  f: { op: logreg, input: d, threshold: 1 }\n", 2, ["'threshold' is 1"]),
        ("  f: { op: logreg, input: d, multi_class: binary }\n", 1, ["holds 3 classes", "multinomial or ovr"]),
        ("  f: { op: logreg, input: o }\n", 1, ["one class only"]),
        ("  f: { op: logreg, input: d }\n  p: { op: predict, input: d, model: f, threshold: 0.2 }\n", 2,
         ["'threshold' is for binary models"]),
        ("  f: { op: linreg, input: d }\n  p: { op: predict, input: d, model: f, threshold: 0.2 }\n", 2,
         ["'threshold' is for logistic models; this model is linear"]),
        ("  f: { op: logreg, input: d }\n  p: { op: predict, input: d, model: f, probability: X }\n", 2,
         ["the input already has an array named 'X'; set 'probability' to another name"]),
        ("  f: { op: logreg, input: d }\n  s: { op: metrics, model: f, data: d, metrics: [accuracy] }\n", 1,
         ["the model has 3 rows: a multi-class model; score it with predict"]),
        ("  f: { op: logreg, input: m }\n", 1, ["holds more than 1024 distinct labels", "linreg"]),
        ("  f: { op: linreg, input: d, tol: 1e-3 }\n", 2, ["'tol' is for gradient descent"]),
        ("  f: { op: linreg, input: d }\n  p: { op: predict, input: d, model: f, decode: true }\n", 2,
         ["'decode' turns a classifier's class codes into labels; this model is linear"]),
        ("  f: { op: logreg, input: d, validation: m }\n", 2, ["the validation frame needs array 'X' of 4 columns"]),
        ("  f: { op: logreg, input: o, validation: d, solver: gradient_descent }\n", 1,
         ["the validation frame's array 'y' row 100 holds 2, a class the training data does not have"]),
    ]
    for stages, code, texts in cases:
        r = env.run(head + stages, expect=code)
        for t in texts:
            assert t in r.stderr, (t, r.stderr)


if __name__ == "__main__":
    main([test_binary_newton_breast_cancer, test_softmax_iris_wine, test_labels_threshold_and_threads,
          test_encoded_labels_decode, test_warm_start_on_many_chunks, test_convergence_reported, test_validation_loss, test_config_errors])
