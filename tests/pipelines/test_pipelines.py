"""The shipped pipelines, run as users run them, checked against independent
values: the lesson against numbers derived by hand (plain Python, no NumPy),
the reference regression against our NumPy + scikit-learn baseline script,
the diabetes example against scikit-learn, the model selection against
scikit-learn's GridSearchCV, and the wine classification against scikit-learn."""
import math
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ops"))
import harness  # noqa: E402
import h5py  # noqa: E402
import numpy as np  # noqa: E402


def copy_pipeline(env, name, replace):
    """The shipped pipeline with paths rewritten to absolute ones, workdir w."""
    with open(os.path.join(env.root, "pipelines", name)) as f:
        text = f.read()
    for old, new in replace.items():
        text = text.replace(old, new)
    text = re.sub(r"(?m)^workdir: .*$", "workdir: w", text)
    return text


def test_lesson_matches_hand_derivation(args):
    env = harness.Env(args, "lesson")
    data = os.path.join(env.root, "datasets")
    env.run(copy_pipeline(env, "lesson.yaml", {"../datasets/": data + "/"}))
    # by hand: scaling by 1.1 does not change z-scores; per column the
    # deviations from the mean are (0.5, -1.5, 3.5, -2.5) with variance 21/4
    # and (0.5, -0.5, 1.5, -1.5) with variance 5/4
    d0, d1 = [0.5, -1.5, 3.5, -2.5], [0.5, -0.5, 1.5, -1.5]
    z0 = [v / math.sqrt(21 / 4) for v in d0]
    z1 = [v / math.sqrt(5 / 4) for v in d1]
    y = [75.0, 60.0, 90.0, 55.0]
    pred = [4 * a + 3 * b + 10 for a, b in zip(z0, z1)]
    mse = sum((p - t) ** 2 for p, t in zip(pred, y)) / 4
    err = [p - t for p, t in zip(pred, y)]
    w0 = 4 - 0.1 * sum(e * a for e, a in zip(err, z0)) / 4
    w1 = 3 - 0.1 * sum(e * b for e, b in zip(err, z1)) / 4
    b = 10 - 0.1 * sum(err) / 4
    X = env.read("normalize", "X")
    harness.assert_close(X[:, 0], z0, 1e-13, 1e-15, "z-scores, column 0")
    harness.assert_close(X[:, 1], z1, 1e-13, 1e-15, "z-scores, column 1")
    harness.assert_close(env.read("scale", "X"), [[5.5, 7.7], [3.3, 6.6], [8.8, 8.8], [2.2, 5.5]], 1e-15, 0, "X * 1.1")
    harness.assert_close(env.read("predict", "y_pred")[:, 0], pred, 1e-13, 0, "predictions")
    harness.assert_close(env.read("mse", "mse")[0, 0], mse, 1e-12, 0, "mse")
    harness.assert_close(env.read("step", "coef")[0], [w0, w1], 1e-12, 0, "weights after one step")
    harness.assert_close(env.read("step", "intercept")[0, 0], b, 1e-12, 0, "bias after one step")


def test_regression_matches_numpy_baseline(args):
    env = harness.Env(args, "regression")
    data = env.path("synthetic.h5")
    gendata = os.path.join(os.path.dirname(args.sluice), "..", "tools", "sluice-gendata")
    subprocess.run([gendata, data, "--rows", "200000", "--features", "16", "--seed", "42"], check=True)
    env.run(copy_pipeline(env, "regression.yaml", {"../datasets/synthetic.h5": data}))
    base = subprocess.run([sys.executable, os.path.join(env.root, "bench", "baselines", "numpy_sklearn.py"), data],
                          capture_output=True, text=True, check=True).stdout
    lines = dict(l.split(" ", 1) for l in base.strip().splitlines())
    with env.ckpt("lstsq") as f:
        got = " ".join("%.6f" % v for v in f["coef"][0]) + " intercept %.6f" % f["intercept"][0, 0]
    assert got == lines["coef"], "least squares:\n sluice %s\n numpy  %s" % (got, lines["coef"])
    with env.ckpt("gd") as f:
        got = " ".join("%.6f" % v for v in f["coef"][0]) + " bias %.6f" % f["intercept"][0, 0]
    assert got == lines["gd"], "gradient descent:\n sluice %s\n numpy  %s" % (got, lines["gd"])
    mse = float(lines["mse_lstsq"])
    assert "%.6f" % env.read("evaluate", "mse")[0, 0] == "%.6f" % mse
    # run.log: what each stage read and how many passes it ran. load is
    # stored in place (one pass that reads and hashes the source, nothing
    # written); clean reads the
    # source's 16 + 1 float32 columns twice (statistics, then the cleaning
    # pass); lstsq and gd read nothing: their co-moments, and normalize's
    # z-score, follow from the moments clean's statistics pass gathers
    # (ops/moments.c), so normalize makes only its apply pass.
    log = {}
    with open(env.path("w", "run.log")) as f:
        for line in f:
            e = json.loads(line)
            log[e["stage"]] = e
    kept = int(log["clean"]["rows"])
    assert 190000 < kept < 200000, log["clean"]
    assert (log["load"]["bytes"], log["load"]["bytes_read"], log["load"]["passes"]) == (0, 200000 * 17 * 4, 1), \
        log["load"]
    assert (log["clean"]["bytes_read"], log["clean"]["passes"]) == (2 * 200000 * 17 * 4, 2), log["clean"]
    assert (log["lstsq"]["bytes_read"], log["lstsq"]["passes"]) == (0, 0), log["lstsq"]
    assert log["normalize"]["passes"] == 1, log["normalize"]
    assert (log["gd"]["bytes_read"], log["gd"]["passes"]) == (0, 0), log["gd"]
    assert (log["gd"]["scan_group"], log["gd"]["shared_passes"]) == ("lstsq", 0), log["gd"]
    assert (log["lstsq"]["scan_group"], log["lstsq"]["shared_passes"]) == ("lstsq", 0), log["lstsq"]
    # convert's float64 arrays hold float32 values: stored as float32, and read as such
    assert log["convert"]["bytes"] == kept * 17 * 4, log["convert"]
    assert log["normalize"]["bytes_read"] == kept * 17 * 4, log["normalize"]


def h5_content(path):
    """A checkpoint's datasets (bytes, dtype, shape) and attributes, all but
    its creation time."""
    out = {}
    with h5py.File(path, "r") as f:
        for k, v in f.attrs.items():
            if k != "sluice_created":
                out["/@" + k] = np.asarray(v).tobytes()
        for name, d in f.items():
            out[name] = (d[...].tobytes(), str(d.dtype), d.shape)
            for k, v in d.attrs.items():
                out[name + "@" + k] = np.asarray(v).tobytes()
    return out


def test_shared_scans(args):
    """bench/pipelines/regression-final-mae.yaml (everything up to the models
    streamed; mae, which needs a pass): evaluate and evaluate_gd, ready together,
    score their models in one scan of the streamed chain load -> clean -> convert
    -> normalize. The
    checkpoints hold the bytes of runs without shared scans
    (SLUICE_SHARED_SCANS=0), on 1 and 2 threads; run.log shows the scan group
    and that the source was read once for the two."""
    env = harness.Env(args, "scans")
    data = env.path("synthetic.h5")
    gendata = os.path.join(os.path.dirname(args.sluice), "..", "tools", "sluice-gendata")
    subprocess.run([gendata, data, "--rows", "50000", "--features", "6", "--seed", "7"], check=True,
                   capture_output=True)
    with open(os.path.join(env.root, "bench", "pipelines", "regression-final-mae.yaml")) as f:
        text = f.read().replace("../../datasets/synthetic.h5", data)
    assert "mae" in text
    stored = ["lstsq", "gd", "evaluate", "evaluate_gd"]
    runs = {}
    old = os.environ.get("SLUICE_SHARED_SCANS")
    try:
        for scans in ("1", "0"):
            for j in ("1", "2"):
                os.environ["SLUICE_SHARED_SCANS"] = scans
                wd = "w-%s-%s" % (scans, j)
                env.run(re.sub(r"(?m)^workdir: .*$", "workdir: " + wd, text), "-j", j, "--chunk-rows", "4096")
                files = {st: h5_content(env.path(wd, st + ".h5")) for st in stored}
                with open(env.path(wd, "run.log")) as f:
                    log = {e["stage"]: e for e in map(json.loads, f)}
                runs[(scans, j)] = (files, log)
    finally:
        if old is None:
            os.environ.pop("SLUICE_SHARED_SCANS", None)
        else:
            os.environ["SLUICE_SHARED_SCANS"] = old
    ref = runs[("0", "1")][0]
    for k, (files, _) in runs.items():
        for st in stored:
            assert files[st] == ref[st], "%s differs with SLUICE_SHARED_SCANS=%s -j %s" % (st, k[0], k[1])
    one_read = 50000 * 7 * 4  # the source's 6 + 1 float32 columns, read under the streamed chain
    for j in ("1", "2"):
        on, off = runs[("1", j)][1], runs[("0", j)][1]
        for st in ("evaluate", "evaluate_gd"):
            assert (on[st]["scan_group"], on[st]["shared_passes"], on[st]["passes"]) == ("evaluate", 1, 1), on[st]
            assert "scan_group" not in off[st] and off[st]["bytes_read"] == one_read, off[st]
        # the shared scan's bytes are charged to the group's first stage
        assert (on["evaluate"]["bytes_read"], on["evaluate_gd"]["bytes_read"]) == (one_read, 0), \
            (on["evaluate"], on["evaluate_gd"])
        assert on["lstsq"]["scan_group"] == on["gd"]["scan_group"] == "lstsq", (on["lstsq"], on["gd"])
    # a member with nothing to run (reused) leaves its group: the other does
    # not wait for it
    os.environ.pop("SLUICE_SHARED_SCANS", None)
    try:
        env.run(re.sub(r"(?m)^workdir: .*$", "workdir: w-1-2", text), "-j", "2", "--chunk-rows", "4096",
                "--force", "evaluate")
    finally:
        if old is not None:
            os.environ["SLUICE_SHARED_SCANS"] = old
    assert h5_content(env.path("w-1-2", "evaluate.h5")) == ref["evaluate"]


def test_example_matches_sklearn(args):
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import mean_squared_error, r2_score
    env = harness.Env(args, "example")
    data = os.path.join(env.root, "datasets")
    env.run(copy_pipeline(env, "example.yaml", {"../datasets/": data + "/",
                                                "../runs/example-predictions.h5": env.path("pred.h5")}))
    train_X, train_y = env.read("train", "X"), env.read("train", "y")[:, 0]
    test_X, test_y = env.read("test", "X"), env.read("test", "y")[:, 0]
    assert len(train_y) == 331 and len(test_y) == 111
    with h5py.File(os.path.join(data, "diabetes.h5")) as f:
        all_y = f["y"][...]
    assert sorted(np.concatenate([train_y, test_y])) == sorted(all_y), "the split is not a partition"
    mu, sd = train_X.mean(0), train_X.std(0)
    m = LinearRegression().fit((train_X - mu) / sd, train_y)
    harness.assert_close(env.read("fit", "coef")[0], m.coef_, 1e-9, 0, "coefficients")
    harness.assert_close(env.read("fit", "intercept")[0, 0], m.intercept_, 1e-9, 0, "intercept")
    pred = m.predict((test_X - mu) / sd)
    harness.assert_close(env.read("evaluate", "mse")[0, 0], mean_squared_error(test_y, pred), 1e-9, 0, "test mse")
    harness.assert_close(env.read("evaluate", "r2")[0, 0], r2_score(test_y, pred), 1e-9, 0, "test r2")
    with h5py.File(env.path("pred.h5")) as f:
        harness.assert_close(f["y_pred"][:, 0], pred, 1e-9, 1e-9, "saved predictions")


def test_select_matches_gridsearchcv(args):
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV, KFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    env = harness.Env(args, "select")
    data = os.path.join(env.root, "datasets")
    text = copy_pipeline(env, "select.yaml", {"../datasets/": data + "/"})
    l2s = [float(v) for v in re.search(r"sweep: \{ l2: \[([^]]*)\]", text).group(1).split(",")]
    r = env.run(text)
    assert "cv: %d settings, mean and std over 5 folds" % len(l2s) in r.stdout, r.stdout
    with h5py.File(os.path.join(data, "diabetes.h5")) as f:
        X, y = f["X"][...].astype(np.float64), f["y"][...].astype(np.float64).reshape(-1)
    gs = GridSearchCV(Pipeline([("scale", StandardScaler()), ("ridge", Ridge())]), {"ridge__alpha": l2s},
                      cv=KFold(5), scoring="r2").fit(X, y)
    harness.assert_close(env.read("cv", "mean")[:, 0], gs.cv_results_["mean_test_score"], 1e-10, 0, "mean r2")
    harness.assert_close(env.read("cv", "std")[:, 0], gs.cv_results_["std_test_score"], 1e-10, 0, "std of r2")
    with env.ckpt("cv") as f:
        assert f.attrs["result.best.l2"] == gs.best_params_["ridge__alpha"], f.attrs["result.best.l2"]
    ridge = gs.best_estimator_.named_steps["ridge"]
    harness.assert_close(env.read("final", "coef")[0], ridge.coef_, 1e-10, 0, "refit coefficients")
    harness.assert_close(env.read("final", "intercept")[0, 0], ridge.intercept_, 1e-10, 0, "refit intercept")


def test_classify_matches_sklearn(args):
    from sklearn.linear_model import LogisticRegression
    from sklearn import metrics
    env = harness.Env(args, "classify")
    data = os.path.join(env.root, "datasets")
    r = env.run(copy_pipeline(env, "classify.yaml", {"../datasets/": data + "/"}))
    assert "confusion (rows: true label" in r.stdout, r.stdout
    train_X, train_y = env.read("train", "X"), env.read("train", "y")[:, 0]
    test_X, test_y = env.read("test", "X"), env.read("test", "y")[:, 0]
    with h5py.File(os.path.join(data, "wine.h5")) as f:
        assert sorted(np.concatenate([train_y, test_y])) == sorted(f["y"][:, 0]), "the split is not a partition"
    mu, sd = train_X.mean(0), train_X.std(0)
    m = LogisticRegression(C=1.0, solver="newton-cg", tol=1e-14, max_iter=1000,
                           multi_class="multinomial").fit((train_X - mu) / sd, train_y)
    harness.assert_close(env.read("fit", "coef"), m.coef_, 1e-6, 1e-9, "coefficients")
    harness.assert_close(env.read("fit", "intercept")[:, 0], m.intercept_, 1e-6, 1e-9, "intercepts")
    prob = m.predict_proba((test_X - mu) / sd)
    harness.assert_close(env.read("pred", "y_prob"), prob, 1e-6, 1e-12, "test probabilities")
    pred = env.read("pred", "y_pred")[:, 0]
    assert (pred == m.predict((test_X - mu) / sd)).all()
    with env.ckpt("score") as f:
        for name, want in (("accuracy", metrics.accuracy_score(test_y, pred)),
                           ("precision", metrics.precision_score(test_y, pred, average="macro")),
                           ("recall", metrics.recall_score(test_y, pred, average="macro")),
                           ("f1", metrics.f1_score(test_y, pred, average="macro")),
                           ("log_loss", metrics.log_loss(test_y, env.read("pred", "y_prob")))):
            harness.assert_close(f.attrs["result." + name], want, 1e-12, 0, name)
        K = len(f["confusion"].attrs["labels"])
        assert (f["confusion"].attrs["matrix"].reshape(K, K) == metrics.confusion_matrix(test_y, pred)).all()


if __name__ == "__main__":
    harness.main([test_lesson_matches_hand_derivation, test_regression_matches_numpy_baseline, test_shared_scans,
                  test_example_matches_sklearn, test_select_matches_gridsearchcv, test_classify_matches_sklearn])
