"""Op tests of metrics' classification scores: precision, recall and f1
(average binary, macro, weighted; pos_label), the confusion matrix, log_loss
of K-class probabilities and roc_auc (binary, one-vs-rest macro), against
sklearn.metrics computed here from data the test writes with h5py: binary
labels 0/1 and 2/5, 3 classes 2, 5, 9 (a `classes` list), 4 classes 0..3 read
as int32 with float32 probabilities (one class never predicted, a label
only predicted), scores with many ties, probabilities of exactly 0 and 1,
and a logistic model scored on the fly. Every number to 1e-12 (relative),
the confusion matrix exactly; the same values for 1 and 2 threads and for
a 7-row chunk size; the run summary's table; and the errors."""
import warnings

import h5py
import numpy as np
from sklearn import metrics as skm

import harness
from harness import Env, assert_close

RTOL = 1e-12


def make_data(path):
    """The groups of the test file, and what sklearn says about each stage."""
    rng = np.random.default_rng(20240611)
    g = {}
    n = 3001
    # binary: probabilities on a grid of 0.05, so most scores tie, with 0 and 1
    p = np.round(rng.beta(2, 2, n) * 20) / 20
    p[:5] = [0.0, 1.0, 0.0, 1.0, 0.5]
    y = (rng.random(n) < 0.2 + 0.6 * p).astype(np.float64)
    yp = (p > 0.5).astype(np.float64)
    g["bin"] = dict(y=y, y_pred=yp, y_prob=p.reshape(-1, 1), y_prob2=np.column_stack([1 - p, p]))
    # the same problem with labels 2 and 5 (5 the positive one)
    g["b25"] = dict(y=np.where(y == 1, 5.0, 2.0), y_pred=np.where(yp == 1, 5.0, 2.0), y_prob=p)
    # 3 classes 2, 5, 9: rows of probabilities from a few patterns (ties), summing to 1, some 0
    pats = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8], [0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3],
                     [0.45, 0.45, 0.1], [0.0, 0.0, 1.0]])
    n3 = 2503
    P3 = pats[rng.integers(0, len(pats), n3)]
    cls3 = np.array([2.0, 5.0, 9.0])
    y3 = cls3[[rng.choice(3, p=row) for row in P3]]
    y3p = np.where(rng.random(n3) < 0.7, cls3[P3.argmax(1)], cls3[rng.integers(0, 3, n3)])
    g["c3"] = dict(y=y3, y_pred=y3p, y_prob=P3)
    # 4 classes 0..3, int32 labels, float32 probabilities; 3 is never predicted, 7 is only predicted
    n4 = 1999
    P4 = rng.dirichlet([1, 2, 3, 1], n4).astype(np.float32)
    y4 = np.array([rng.choice(4, p=row / row.sum()) for row in P4.astype(np.float64)], dtype=np.int32)
    y4p = np.minimum(P4.argmax(1), 2).astype(np.int32)
    y4p[rng.random(n4) < 0.05] = 7
    g["c4"] = dict(y=y4, y_pred=y4p, y_prob=P4)
    # a logistic model and data to score with it
    X = rng.normal(size=(1500, 3))
    w, b = np.array([1.5, -2.0, 0.5]), 0.25
    ym = (rng.random(1500) < 1 / (1 + np.exp(-(X @ w + b)))).astype(np.float64)
    g["mdata"] = dict(X=X, y=ym)
    g["model"] = dict(coef=w.reshape(1, -1), intercept=np.array([[b]]), threshold=np.array([[0.5]]))
    with h5py.File(path, "w") as f:
        for grp, arrays in g.items():
            for k, v in arrays.items():
                f["%s/%s" % (grp, k)] = v
    return g


LOADS = {
    "bin": "{ y: /bin/y, y_pred: /bin/y_pred, y_prob: /bin/y_prob }",
    "bin2": "{ y: /bin/y, y_pred: /bin/y_pred, y_prob: /bin/y_prob2 }",
    "b25": "{ y: /b25/y, y_pred: /b25/y_pred, y_prob: /b25/y_prob }",
    "c3": "{ y: /c3/y, y_pred: /c3/y_pred, y_prob: /c3/y_prob }",
    "c4": "{ y: /c4/y, y_pred: /c4/y_pred, y_prob: /c4/y_prob }",
    "mdata": "{ X: /mdata/X, y: /mdata/y }",
    "model": "{ coef: /model/coef, intercept: /model/intercept, threshold: /model/threshold }",
}

ALL = "[accuracy, precision, recall, f1, log_loss, roc_auc, confusion]"
STAGES = {
    "m_bin": "input: bin",
    "m_bin_all": "input: bin, metrics: " + ALL,
    "m_bin_macro": "input: bin, average: macro, metrics: [precision, recall, f1]",
    "m_bin_weighted": "input: bin, average: weighted, metrics: [precision, recall, f1]",
    "m_bin_pos0": "input: bin, pos_label: 0, metrics: [precision, recall, f1]",
    "m_bin2": "input: bin2, metrics: [log_loss, roc_auc]",
    "m_b25": "input: b25, classes: [2, 5], pos_label: 5, metrics: [precision, recall, f1, log_loss, roc_auc, "
             "confusion]",
    "m_c3": "input: c3, classes: [2, 5, 9]",
    "m_c3_weighted": "input: c3, classes: [2, 5, 9], average: weighted, metrics: [precision, recall, f1, roc_auc, "
                     "confusion]",
    "m_c4": "input: c4, metrics: " + ALL,
    "m_c4_weighted": "input: c4, average: weighted, metrics: [precision, recall, f1]",
    "m_model": "model: model, data: mdata",
}


def pipeline(env, stages=STAGES, loads=LOADS):
    """load.hdf5 stages (arrays of data.h5, or (file, arrays)), then metrics stages."""
    text = "pipeline: classify\nworkdir: w\nstages:\n"
    for k, v in loads.items():
        file, arrays = v if isinstance(v, tuple) else ("data.h5", v)
        text += "  %s: { op: load.hdf5, file: %s, arrays: %s }\n" % (k, env.path(file), arrays)
    for k, v in stages.items():
        text += "  %s: { op: metrics, %s }\n" % (k, v)
    return text


def expected(g):
    """{stage: {metric: value}} from sklearn; 'confusion' is (labels, matrix)."""
    warnings.simplefilter("ignore")  # zero_division: sklearn warns and reports 0
    e = {}

    def cls_scores(y, yp, prob, avg, pos=1, labels=None, auc=True, ll=True):
        d = {"accuracy": skm.accuracy_score(y, yp)}
        kw = {"average": avg} if avg != "binary" else {"pos_label": pos}
        d["precision"] = skm.precision_score(y, yp, **kw)
        d["recall"] = skm.recall_score(y, yp, **kw)
        d["f1"] = skm.f1_score(y, yp, **kw)
        if ll:
            d["log_loss"] = skm.log_loss(y, prob, labels=labels)
        if auc:
            d["roc_auc"] = (skm.roc_auc_score(y, prob) if prob.ndim == 1 else
                            skm.roc_auc_score(y, prob, multi_class="ovr", average="macro", labels=labels))
        union = np.unique(np.concatenate([y, yp]))
        d["confusion"] = (union, skm.confusion_matrix(y, yp, labels=union))
        return d

    b = g["bin"]
    y, yp, p = b["y"], b["y_pred"], b["y_prob"].ravel()
    full = cls_scores(y, yp, p, "binary")
    e["m_bin"] = {k: full[k] for k in ("accuracy", "precision", "recall", "f1", "log_loss", "roc_auc")}
    e["m_bin_all"] = full
    for avg in ("macro", "weighted"):
        d = cls_scores(y, yp, p, avg, auc=False, ll=False)
        e["m_bin_" + avg] = {k: d[k] for k in ("precision", "recall", "f1")}
    d = cls_scores(y, yp, p, "binary", pos=0, auc=False, ll=False)
    e["m_bin_pos0"] = {k: d[k] for k in ("precision", "recall", "f1")}
    e["m_bin2"] = {"log_loss": skm.log_loss(y, b["y_prob2"]), "roc_auc": skm.roc_auc_score(y, b["y_prob2"][:, 1])}
    b = g["b25"]
    d = cls_scores(b["y"], b["y_pred"], b["y_prob"], "binary", pos=5)
    e["m_b25"] = {k: d[k] for k in ("precision", "recall", "f1", "log_loss", "roc_auc", "confusion")}
    c = g["c3"]
    d = cls_scores(c["y"], c["y_pred"], c["y_prob"], "macro", labels=[2, 5, 9])
    e["m_c3"] = {k: d[k] for k in ("accuracy", "precision", "recall", "f1", "log_loss")}
    d = cls_scores(c["y"], c["y_pred"], c["y_prob"], "weighted", labels=[2, 5, 9])
    e["m_c3_weighted"] = {k: d[k] for k in ("precision", "recall", "f1", "roc_auc", "confusion")}
    c = g["c4"]
    y4, y4p, P4 = c["y"].astype(np.float64), c["y_pred"].astype(np.float64), c["y_prob"].astype(np.float64)
    e["m_c4"] = cls_scores(y4, y4p, P4, "macro", labels=[0, 1, 2, 3])
    d = cls_scores(y4, y4p, P4, "weighted", auc=False, ll=False)
    e["m_c4_weighted"] = {k: d[k] for k in ("precision", "recall", "f1")}
    m, md = g["model"], g["mdata"]
    z = md["X"] @ m["coef"].ravel() + m["intercept"][0, 0]
    pm = 1 / (1 + np.exp(-z))
    d = cls_scores(md["y"], (z > 0).astype(np.float64), pm, "binary")
    e["m_model"] = {k: d[k] for k in ("accuracy", "precision", "recall", "f1", "log_loss", "roc_auc")}
    return e


def check_stage(env, stage, want, workdir="w"):
    with env.ckpt(stage, workdir) as f:
        assert sorted(f.keys()) == sorted(want), (stage, sorted(f.keys()), sorted(want))
        for k, v in want.items():
            assert f[k].shape == (1, 1), (stage, k, f[k].shape)
            if k == "confusion":
                labels, cm = v
                K = len(labels)
                assert f[k][0, 0] == K, (stage, f[k][0, 0], K)
                got_labels = f[k].attrs["labels"]
                assert np.array_equal(got_labels, labels), (stage, got_labels, labels)
                got = f[k].attrs["matrix"].reshape(K, K)
                assert np.array_equal(got, cm), "%s confusion\n%s\nwant\n%s" % (stage, got, cm)
                assert "result.confusion" not in f.attrs
                continue
            assert_close(f[k][0, 0], v, RTOL, what="%s %s" % (stage, k))
            assert f.attrs["result." + k] == f[k][0, 0], (stage, k)


def setup(args, name):
    env = Env(args, name)
    g = make_data(env.path("data.h5"))
    return env, g, expected(g)


def test_vs_sklearn(args):
    env, g, want = setup(args, "sklearn")
    env.run(pipeline(env), "-q")
    for stage, w in want.items():
        check_stage(env, stage, w)
    # the defaults: binary probabilities add roc_auc, more than 2 columns average macro without it
    assert sorted(want["m_bin"]) == ["accuracy", "f1", "log_loss", "precision", "recall", "roc_auc"]
    assert sorted(want["m_c3"]) == ["accuracy", "f1", "log_loss", "precision", "recall"]


def arrays_and_attrs(env, stage, workdir):
    with env.ckpt(stage, workdir) as f:
        return {k: (f[k][...].tobytes(), {a: np.asarray(f[k].attrs[a]).tobytes() for a in f[k].attrs
                                          if a != "sluice_hash"}) for k in f.keys()}


def test_threads_and_chunks(args):
    """Counts are exact: every value made of counts (all but log_loss) is the
    same bits for any chunk size; everything is the same bits for 1 and 2
    threads; and every chunk size agrees with sklearn."""
    env, g, want = setup(args, "threads")
    runs = {"c7j1": ("7", "1"), "c7j2": ("7", "2"), "c1000j2": ("1000", "2")}
    for wd, (cr, j) in runs.items():
        env.run(pipeline(env), "--chunk-rows", cr, "--threads", j, "--workdir", env.path(wd), "-q")
        for stage, w in want.items():
            check_stage(env, stage, w, workdir=wd)
    for stage in want:
        a = arrays_and_attrs(env, stage, "c7j1")
        assert a == arrays_and_attrs(env, stage, "c7j2"), stage
        b = arrays_and_attrs(env, stage, "c1000j2")
        for k in a:
            if k != "log_loss":
                assert a[k] == b[k], (stage, k)


def test_summary_prints_confusion(args):
    env, g, want = setup(args, "summary")
    r = env.run(pipeline(env, {"m": STAGES["m_c3_weighted"]}))
    lines = r.stdout.splitlines()
    at = [i for i, l in enumerate(lines) if l.startswith("m ")]
    assert at, r.stdout
    labels, cm = want["m_c3_weighted"]["confusion"]
    table = lines[at[0] + 1:at[0] + 3 + len(labels)]
    assert "rows: true label, columns: predicted label" in table[0], r.stdout
    assert [float(x) for x in table[1].split()] == list(labels), r.stdout
    for i, row in enumerate(table[2:]):
        cells = [float(x) for x in row.split()]
        assert cells == [labels[i]] + list(cm[i]), (row, cm[i])
    # a reused stage prints it again, from its checkpoint
    r = env.run(pipeline(env, {"m": STAGES["m_c3_weighted"]}))
    assert "reused" in r.stdout and "\n".join(table) in r.stdout, r.stdout


def test_label_limit(args):
    """1024 distinct labels are counted (an 8 MB attribute); 1025 are refused."""
    env = Env(args, "limit")
    rng = np.random.default_rng(5)
    y = rng.permutation(np.repeat(np.arange(1024.0) - 100, 3))
    yp = np.where(rng.random(len(y)) < 0.5, y, np.roll(y, 1))
    with h5py.File(env.path("data.h5"), "w") as f:
        f["y"], f["yp"] = y, yp
        f["y2"], f["yp2"] = np.append(y, 1e6), np.append(yp, 1e6)
    loads = {"d": "{ y: /y, y_pred: /yp }", "d2": "{ y: /y2, y_pred: /yp2 }"}
    env.run(pipeline(env, {"m": "input: d, average: macro, metrics: [confusion, f1]"}, loads), "--chunk-rows", "500",
            "-q")
    labels = np.unique(np.concatenate([y, yp]))
    assert len(labels) == 1024
    warnings.simplefilter("ignore")
    check_stage(env, "m", {"confusion": (labels, skm.confusion_matrix(y, yp, labels=labels)),
                           "f1": skm.f1_score(y, yp, average="macro")})
    r = env.run(pipeline(env, {"m": "input: d2, metrics: [confusion]"}, loads), expect=1)
    assert ("the truth 'y' and the predictions 'y_pred' hold more than 1024 distinct labels; precision, recall, "
            "f1 and confusion count at most 1024 (are these continuous values?") in r.stderr, r.stderr


# ------------------------------------------------------------------- errors

def fails(env, stages, code, *words, loads=LOADS):
    r = env.run(pipeline(env, stages, loads), expect=code)
    for w in words:
        if w not in r.stderr:
            raise AssertionError("message lacks %r:\n%s" % (w, r.stderr))
    return r


def test_errors(args):
    env, g, want = setup(args, "errors")
    # a truth label that is not a class of the probabilities: its value and first row
    y3 = g["c3"]["y"]
    row = int(np.argmax(y3 == 9))
    fails(env, {"m": "input: c3, classes: [2, 5, 8], metrics: [log_loss]"}, 1,
          "stage 'm': array 'y' row %d holds 9, which is not one of the classes of the probabilities (2, 5, 8); "
          "set 'classes' to the class of each probability column" % row)
    fails(env, {"m": "input: c3, metrics: [roc_auc]"}, 1, "row 0 holds %g, which is not one of the classes of the "
          "probabilities (0, 1, 2)" % y3[0])
    # n x 1 probabilities without classes: labels 0 and 1
    fails(env, {"m": "input: b25, metrics: [roc_auc]"}, 1, "row 0 holds %g, but roc_auc needs labels 0 or 1"
          % g["b25"]["y"][0])
    # roc_auc of one class
    with h5py.File(env.path("one.h5"), "w") as f:
        f["y"], f["p"] = np.ones(50), np.linspace(0, 1, 50)
        f["P"] = np.tile([0.2, 0.3, 0.5], (50, 1))
        f["y3"] = np.repeat([0.0, 1.0], 25)
    one = {"one": ("one.h5", "{ y: /y, y_prob: /p }"), "three": ("one.h5", "{ y: /y3, y_prob: /P }")}
    fails(env, {"m": "input: one, metrics: [roc_auc]"}, 1, "roc_auc needs rows of both classes, but every row of "
          "'y' is 1, and the ROC AUC is not defined for one class", loads=one)
    fails(env, {"m": "input: three, metrics: [roc_auc]"}, 1, "roc_auc (one-vs-rest) needs rows of every class, but "
          "no row of 'y' is 2 (column 2 of 'y_prob'), so its ROC AUC is not defined", loads=one)
    # average: binary with 3 labels; pos_label not a label
    fails(env, {"m": "input: c3, average: binary, metrics: [precision]"}, 1,
          "average is binary, but the truth 'y' and the predictions 'y_pred' hold 3 labels (2, 5, 9); set average: "
          "macro or weighted")
    fails(env, {"m": "input: b25, metrics: [f1]"}, 1,
          "pos_label is 1, which is not one of the labels (2, 5) of the truth 'y' and the predictions 'y_pred'")
    # plan time (exit 2): unknown average, classes that do not fit, too many columns, bad names
    fails(env, {"m": "input: c3, average: micro"}, 2,
          "parameter 'average' expects one of binary, macro, weighted, found 'micro'")
    fails(env, {"m": "input: c3, classes: [2, 5]"}, 2,
          "'classes' has 2 values, but 'y_prob' has 3 probability columns: give one class per column")
    fails(env, {"m": "input: bin, classes: [1], metrics: [log_loss]"}, 2,
          "'classes' has 1 values, but 'y_prob' has 1 probability column: give one class per column (2 for a column "
          "of the second class's probability)")
    fails(env, {"m": "input: c3, classes: [2, 5, 2]"}, 2,
          "'classes': value 2 is 2; the classes must be distinct finite numbers")
    fails(env, {"m": "input: c3, classes: [2, 5, .nan]"}, 2, "'classes': value 2 is nan")
    fails(env, {"m": "input: bin, pos_label: .inf, metrics: [f1]"}, 2, "'pos_label' is not a finite number")
    fails(env, {"m": "input: bin, metrics: [roc_auc, recal]"}, 2, "unknown metric 'recal'; the metrics are mse, "
          "rmse, mae, r2, accuracy, log_loss, precision, recall, f1, roc_auc, confusion; did you mean 'recall'?")
    with h5py.File(env.path("wide.h5"), "w") as f:
        f["y"], f["P"] = np.zeros(3), np.full((3, 1025), 1 / 1025)
    fails(env, {"m": "input: wide, metrics: [log_loss]"}, 2,
          "array 'y_prob' has 1025 columns; metrics takes at most 1024 classes",
          loads={"wide": ("wide.h5", "{ y: /y, y_prob: /P }")})
    fails(env, {"m": "input: mdata, metrics: [roc_auc]"}, 2,
          "roc_auc needs predicted probabilities: the input has no array 'y_prob' (set 'probability')")
    lin = dict(LOADS, linmodel="{ coef: /model/coef, intercept: /model/intercept }")
    fails(env, {"m": "model: linmodel, data: mdata, metrics: [roc_auc]"}, 2,
          "roc_auc needs predicted probabilities, and the model is linear", loads=lin)


if __name__ == "__main__":
    harness.main([
        test_vs_sklearn,
        test_threads_and_chunks,
        test_summary_prints_confusion,
        test_label_limit,
        test_errors,
    ])
