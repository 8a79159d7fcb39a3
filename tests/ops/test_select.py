"""Op tests of model selection: split's k folds, sweeps, select and
{ best: STAGE } (docs/guide.md, "Model selection"), run through the CLI on
datasets/diabetes.h5 and compared with scikit-learn computed here.

- k-fold parts: each fold's train and test rows equal KFold(k)'s, bitwise,
  for several k; shuffled folds partition the rows with KFold's sizes, are
  the documented key ranks (recomputed with NumPy), and depend only on the
  seed (not on chunk size or threads).
- 5-fold ridge with a 4-value l2 sweep: every member's r2 and mse equal
  Ridge(alpha=l2) on StandardScaler'd fold data; the select table equals
  GridSearchCV's cv_results_ (mean, std, rank, per-split scores); the best
  equals best_params_ / best_index_; `final` equals the refit; the shared
  stages run once; -j 1 and -j 2 give the same output hashes.
- reuse: a second run reuses everything, status says fresh; one changed
  sweep value recomputes only its members and the select stage, and
  `final` only when the best changes (decided by scikit-learn here).
- goal min on mse vs neg_mean_squared_error, and a two-parameter grid (a
  boolean too) with both values taken by { best: ... }.
- member names on the command line (--until, --force, --from, clean,
  status) and in `sluice graph` (DOT and Mermaid).
- the errors of the syntax, each at its line and column."""
import json
import os
import subprocess

import h5py
import numpy as np
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import harness
from harness import Env, assert_close

L2 = [0.01, 0.1, 1, 10]


def dataset(env):
    return os.path.join(env.root, "datasets", "diabetes.h5")


def diabetes(env):
    with h5py.File(dataset(env), "r") as f:
        return f["X"][...].astype(np.float64), f["y"][...].astype(np.float64).reshape(-1)


def label(v):
    """A number as a member's name shows it: the shortest text that reads back."""
    for p in (15, 16, 17):
        t = "%.*g" % (p, v)
        if float(t) == v:
            return t
    return t


def cv_text(env, l2s, metric="r2", goal="max", folds=5, final="final: { op: linreg, input: f64n, l2: { best: cv } }"):
    return """pipeline: cv
workdir: w
stages:
  data:  { op: load.hdf5, file: %s, arrays: { X: /X, y: /y } }
  f64:   { op: convert, input: data, dtype: float64 }
  train: { op: split, input: f64, part: train, folds: %d }
  test:  { op: split, input: f64, part: test,  folds: %d }
  norm:  { op: normalize, input: train, arrays: [X] }
  normt: { op: normalize, input: test, stats: norm, arrays: [X] }
  fit:   { op: linreg, input: norm, sweep: { l2: [%s] } }
  score: { op: metrics, model: fit, data: normt, metrics: [r2, mse] }
  cv:    { op: select, input: score, metric: %s, goal: %s }
  f64n:  { op: normalize, input: f64, arrays: [X] }
  %s
""" % (dataset(env), folds, folds, ", ".join(repr(v) for v in l2s), metric, goal, final)


def last_run(env, workdir="w"):
    """{stage: status} of the last run in workdir/run.log, and its lines."""
    with open(env.path(workdir, "run.log")) as f:
        lines = [json.loads(l) for l in f if l.strip()]
    last = [l for l in lines if l["run_start"] == lines[-1]["run_start"]]
    return {l["stage"]: l["status"] for l in last}, last


def result(env, stage, key, workdir="w"):
    with env.ckpt(stage, workdir) as f:
        return float(f.attrs["result." + key])


def attr(env, stage, key, workdir="w"):
    with env.ckpt(stage, workdir) as f:
        v = f.attrs[key]
        return v.decode() if isinstance(v, bytes) else str(v)


def sluice(env, *args):
    return subprocess.run([os.path.abspath(env.sluice), *args], capture_output=True, text=True, timeout=120,
                          cwd=env.dir)


def gridsearch(X, y, l2s, scoring="r2", grid=None):
    pipe = Pipeline([("scale", StandardScaler()), ("ridge", Ridge())])
    return GridSearchCV(pipe, grid or {"ridge__alpha": l2s}, cv=KFold(5), scoring=scoring).fit(X, y)


# ---------------------------------------------------------------------------
# k-fold parts
# ---------------------------------------------------------------------------

def test_kfold_parts_equal_kfold(args):
    env = Env(args, "kfold")
    X, y = diabetes(env)
    for k in (5, 3, 7):
        env.run("""pipeline: k
workdir: w%d
stages:
  data:  { op: load.hdf5, file: %s, arrays: { X: /X, y: /y } }
  f64:   { op: convert, input: data, dtype: float64 }
  train: { op: split, input: f64, part: train, folds: %d }
  test:  { op: split, input: f64, part: test, folds: %d }
""" % (k, dataset(env), k, k), "-j", "2")
        for i, (tr, te) in enumerate(KFold(k).split(X)):
            for part, rows in (("train", tr), ("test", te)):
                stage = "%s[fold=%d]" % (part, i)
                gotX, goty = env.read(stage, "X", "w%d" % k), env.read(stage, "y", "w%d" % k)
                assert np.array_equal(gotX, X[rows]), "%s (k=%d): X rows differ from KFold's" % (stage, k)
                assert np.array_equal(goty.reshape(-1), y[rows]), "%s (k=%d): y rows differ" % (stage, k)
                assert result(env, stage, "rows", "w%d" % k) == len(rows)
    print("     k = 5, 3, 7 on %d rows: every fold's train and test rows equal KFold's" % len(X))


def mix64(z):
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def row_keys(seed, n):
    """split's documented key of each row (the op's doc: splitmix64 of the seed)."""
    state = mix64(np.uint64(seed))
    with np.errstate(over="ignore"):
        return mix64(state + (np.arange(n, dtype=np.uint64) + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15))


def shuffled_folds(env, workdir, seed, *flags, n=103, k=5):
    env.run("""pipeline: s
workdir: %s
stages:
  data:  { op: load.hdf5, file: idx.h5, arrays: { i: /i } }
  train: { op: split, input: data, part: train, folds: %d, shuffle: true, seed: %d }
  test:  { op: split, input: data, part: test, folds: %d, shuffle: true, seed: %d }
""" % (workdir, k, seed, k, seed), *flags, name=workdir + ".yaml")
    return [(env.read("train[fold=%d]" % i, "i", workdir).reshape(-1),
             env.read("test[fold=%d]" % i, "i", workdir).reshape(-1)) for i in range(k)]


def test_kfold_shuffled(args):
    env = Env(args, "kfold_shuffled")
    n, k = 103, 5
    with h5py.File(env.path("idx.h5"), "w") as f:
        f["i"] = np.arange(n, dtype=np.int64).reshape(-1, 1)
    folds = shuffled_folds(env, "a", 11, "-j", "2")
    sizes = [len(te) for _, te in KFold(k).split(np.zeros(n))]
    order = np.argsort(row_keys(11, n), kind="stable")
    lo = 0
    for i, (tr, te) in enumerate(folds):
        assert len(te) == sizes[i], "fold %d: %d test rows, KFold has %d" % (i, len(te), sizes[i])
        assert np.all(np.diff(te) > 0) and np.all(np.diff(tr) > 0), "fold %d: rows not in row order" % i
        assert np.array_equal(tr, np.setdiff1d(np.arange(n), te)), "fold %d: train is not the other rows" % i
        assert np.array_equal(te, np.sort(order[lo:lo + sizes[i]])), "fold %d: not the documented key ranks" % i
        lo += sizes[i]
    allte = np.concatenate([te for _, te in folds])
    assert np.array_equal(np.sort(allte), np.arange(n)), "the test parts do not partition the rows"
    assert not np.array_equal(np.concatenate([te for _, te in folds]), np.arange(n)), "not shuffled"
    again = shuffled_folds(env, "b", 11, "-j", "1", "--chunk-rows", "7")
    for (a, b), (c, d) in zip(folds, again):
        assert np.array_equal(a, c) and np.array_equal(b, d), "the folds depend on the chunk size or threads"
    other = shuffled_folds(env, "c", 12)
    assert any(not np.array_equal(te, te2) for (_, te), (_, te2) in zip(folds, other)), "seed 12 gave seed 11's folds"
    print("     n=%d, k=%d: a partition of KFold's sizes, the key ranks; same for chunk 7 -j1; seed 12 differs" % (n, k))


# ---------------------------------------------------------------------------
# cross-validation against GridSearchCV
# ---------------------------------------------------------------------------

def test_cv_matches_gridsearch(args):
    env = Env(args, "cv")
    X, y = diabetes(env)
    r = env.run(cv_text(env, L2), "-j", "2")
    # every member against Ridge on the fold's scaled data
    for i, (tr, te) in enumerate(KFold(5).split(X)):
        sc = StandardScaler().fit(X[tr])
        for v in L2:
            pred = Ridge(alpha=v).fit(sc.transform(X[tr]), y[tr]).predict(sc.transform(X[te]))
            stage = "score[fold=%d,l2=%s]" % (i, label(v))
            assert_close(env.read(stage, "r2"), [[r2_score(y[te], pred)]], 1e-10, what=stage + " r2")
            assert_close(env.read(stage, "mse"), [[mean_squared_error(y[te], pred)]], 1e-10, what=stage + " mse")
    gs = gridsearch(X, y, L2)
    res = gs.cv_results_
    assert_close(env.read("cv", "param.l2").reshape(-1), L2, 0, what="param.l2")
    assert_close(env.read("cv", "mean").reshape(-1), res["mean_test_score"], 1e-10, what="mean")
    assert_close(env.read("cv", "std").reshape(-1), res["std_test_score"], 1e-10, what="std")
    assert np.array_equal(env.read("cv", "rank").reshape(-1), res["rank_test_score"]), "rank"
    scores = np.stack([res["split%d_test_score" % i] for i in range(5)], axis=1)
    assert_close(env.read("cv", "scores"), scores, 1e-10, what="scores")
    assert result(env, "cv", "best.l2") == gs.best_params_["ridge__alpha"], "best.l2"
    assert result(env, "cv", "best_index") == gs.best_index_, "best_index"
    assert_close(result(env, "cv", "best_mean"), gs.best_score_, 1e-10, what="best_mean")
    assert_close(result(env, "cv", "best_std"), res["std_test_score"][gs.best_index_], 1e-10, what="best_std")
    # final: the refit with the chosen l2
    ridge = gs.best_estimator_.named_steps["ridge"]
    assert_close(env.read("final", "coef").reshape(-1), ridge.coef_, 1e-10, what="final coef")
    assert_close(env.read("final", "intercept").reshape(-1), [ridge.intercept_], 1e-10, what="final intercept")
    assert json.loads(attr(env, "final", "sluice_params"))["l2"] == gs.best_params_["ridge__alpha"]
    # the shared stages once, every member once
    status, lines = last_run(env)
    names = [l["stage"] for l in lines]
    assert names.count("data") == 1 and names.count("f64") == 1, "shared stages ran more than once"
    assert len(names) == len(set(names)) == 2 + 5 * 4 + 2 * 20 + 3, "%d run.log lines" % len(names)
    assert set(status.values()) == {"ran"}, status
    assert "cv: 4 settings, mean and std over 5 folds" in r.stdout, r.stdout
    # the threads do not change a bit
    env.run(cv_text(env, L2), "-j", "1", "--workdir", env.path("w1"))
    for stage in ("cv", "final", "score[fold=3,l2=1]"):
        assert attr(env, stage, "sluice_output_hash") == attr(env, stage, "sluice_output_hash", "w1"), stage
    print("     40 members, the table, the best (l2=%g) and the refit equal scikit-learn's; -j1 = -j2"
          % gs.best_params_["ridge__alpha"])


def test_reuse_and_one_value_changed(args):
    env = Env(args, "reuse")
    X, y = diabetes(env)
    env.run(cv_text(env, L2))
    env.run(cv_text(env, L2))
    status, _ = last_run(env)
    assert set(status.values()) == {"reused"}, {k: v for k, v in status.items() if v != "reused"}
    st = sluice(env, "status", "p.yaml")
    assert st.returncode == 0, st.stdout + st.stderr
    # one value changed: its members, the select stage, and final only if the best moves
    new = L2[:-1] + [100]
    env.run(cv_text(env, new))
    status, _ = last_run(env)
    ran = sorted(k for k, v in status.items() if v == "ran")
    best_moved = gridsearch(X, y, new).best_params_ != gridsearch(X, y, L2).best_params_
    want = sorted(["fit[fold=%d,l2=100]" % i for i in range(5)] + ["score[fold=%d,l2=100]" % i for i in range(5)] +
                  ["cv"] + (["final"] if best_moved else []))
    assert ran == want, "ran %s, expected %s" % (ran, want)
    assert all(v == "reused" for k, v in status.items() if k not in want), status
    # a sweep whose best differs: final follows it
    other = [100, 1000]
    gs = gridsearch(X, y, other)
    assert gs.best_params_ != gridsearch(X, y, new).best_params_, "the test needs a sweep with another best"
    env.run(cv_text(env, other))
    status, _ = last_run(env)
    assert status["final"] == "ran", status["final"]
    assert json.loads(attr(env, "final", "sluice_params"))["l2"] == gs.best_params_["ridge__alpha"]
    ridge = gs.best_estimator_.named_steps["ridge"]
    assert_close(env.read("final", "coef").reshape(-1), ridge.coef_, 1e-10, what="final coef")
    st = sluice(env, "status", "p.yaml")
    assert st.returncode == 0, st.stdout + st.stderr
    print("     a second run reuses all; l2 10 -> 100 ran %d stages%s; a new best reran final"
          % (len(ran), " (final: the best moved)" if best_moved else ", final reused"))


def test_goal_min_and_a_grid(args):
    env = Env(args, "grid")
    X, y = diabetes(env)
    env.run(cv_text(env, L2, metric="mse", goal="min"))
    gs = gridsearch(X, y, L2, scoring="neg_mean_squared_error")
    res = gs.cv_results_
    assert_close(env.read("cv", "mean").reshape(-1), -res["mean_test_score"], 1e-10, what="mean mse")
    assert_close(env.read("cv", "std").reshape(-1), res["std_test_score"], 1e-10, what="std mse")
    assert np.array_equal(env.read("cv", "rank").reshape(-1), res["rank_test_score"]), "rank mse"
    assert result(env, "cv", "best.l2") == gs.best_params_["ridge__alpha"]
    # two parameters, a boolean among them: rows keyed by their values
    text = cv_text(env, L2, final="final: { op: linreg, input: f64n, l2: { best: cv }, fit_intercept: { best: cv } }")
    text = text.replace("sweep: { l2: [%s] }" % ", ".join(repr(v) for v in L2),
                        "sweep: { l2: [%s], fit_intercept: [true, false] }" % ", ".join(repr(v) for v in L2))
    env.run(text, "--workdir", env.path("w2"))
    grid = {"ridge__alpha": L2, "ridge__fit_intercept": [True, False]}
    gs = gridsearch(X, y, L2, grid=grid)
    res = gs.cv_results_
    a = env.read("cv", "param.l2", "w2").reshape(-1)
    fi = env.read("cv", "param.fit_intercept", "w2").reshape(-1)  # index in [true, false]
    mean = env.read("cv", "mean", "w2").reshape(-1)
    rank = env.read("cv", "rank", "w2").reshape(-1)
    assert len(mean) == 8
    # sluice takes a stage's swept parameters in the order of their names: fit_intercept first
    assert np.array_equal(fi, [0, 0, 0, 0, 1, 1, 1, 1]) and np.array_equal(a, L2 * 2), (fi, a)
    for r in range(8):
        cand = [c for c, p in enumerate(res["params"])
                if p["ridge__alpha"] == a[r] and p["ridge__fit_intercept"] == (fi[r] == 0)]
        assert len(cand) == 1
        assert_close(mean[r], res["mean_test_score"][cand[0]], 1e-10, what="mean of row %d" % r)
        assert rank[r] == res["rank_test_score"][cand[0]], "rank of row %d" % r
    params = json.loads(attr(env, "final", "sluice_params", "w2"))
    assert params["l2"] == gs.best_params_["ridge__alpha"], params
    assert params["fit_intercept"] == gs.best_params_["ridge__fit_intercept"], params
    ridge = gs.best_estimator_.named_steps["ridge"]
    assert_close(env.read("final", "coef", "w2").reshape(-1), ridge.coef_, 1e-10, what="final coef")
    # ties: a parameter the normal equations ignore gives equal means; the best is the first listed
    text = cv_text(env, L2, final="final: { op: linreg, input: f64n, seed: { best: cv } }")
    text = text.replace("sweep: { l2: [%s] }" % ", ".join(repr(v) for v in L2), "sweep: { seed: [3, 1, 2] }")
    env.run(text, "--workdir", env.path("w3"))
    gs = gridsearch(X, y, None, grid={"ridge__random_state": [3, 1, 2]})
    assert np.array_equal(env.read("cv", "rank", "w3").reshape(-1), gs.cv_results_["rank_test_score"]), "tied ranks"
    assert result(env, "cv", "best_index", "w3") == gs.best_index_ == 0
    assert result(env, "cv", "best.seed", "w3") == 3
    print("     goal min on mse = neg_mean_squared_error's; a 4 x 2 grid's rows, ranks and best = GridSearchCV's; "
          "ties rank alike, the first is the best")


# ---------------------------------------------------------------------------
# member names on the command line and in the graph
# ---------------------------------------------------------------------------

def test_member_names_on_the_command_line(args):
    env = Env(args, "names")
    text = cv_text(env, L2)
    env.run(text, "--until", "fit[fold=0,l2=0.1]")
    status, _ = last_run(env)
    assert sorted(status) == sorted(["data", "f64", "train[fold=0]", "norm[fold=0]", "fit[fold=0,l2=0.1]"]), status
    st = sluice(env, "status", "p.yaml")
    assert st.returncode == 1
    assert any(l.split()[:2] == ["fit[fold=0,l2=0.1]", "fresh"] for l in st.stdout.splitlines()), st.stdout
    assert any(l.split()[:2] == ["score[fold=4,l2=10]", "missing"] for l in st.stdout.splitlines()), st.stdout
    env.run(text)
    env.run(text, "--force", "fit")  # every member of fit, and what reads them
    status, _ = last_run(env)
    ran = {k for k, v in status.items() if v == "ran"}
    assert ran == {k for k in status if k.split("[")[0] in ("fit", "score", "cv", "final")}, ran
    assert len(ran) == 42, len(ran)
    env.run(text, "--from", "norm[fold=1]")
    status, _ = last_run(env)
    ran = {k for k, v in status.items() if v == "ran"}
    assert ran == {"norm[fold=1]", "normt[fold=1]", "cv", "final"} | \
        {"%s[fold=1,l2=%s]" % (s, label(v)) for s in ("fit", "score") for v in L2}, ran
    c = sluice(env, "clean", "p.yaml", "score")
    assert c.returncode == 0 and "removed 20 checkpoint files" in c.stdout, c.stdout + c.stderr
    assert not [f for f in os.listdir(env.path("w")) if f.startswith("score[")], os.listdir(env.path("w"))
    bad = sluice(env, "run", "p.yaml", "--until", "fitt")
    assert bad.returncode == 2 and "its stages: data, f64, train[...], test[...]" in bad.stderr, bad.stderr
    print("     --until/--force/--from/clean/status take a member's name or the stage's")


def test_graph_lists_members(args):
    env = Env(args, "graph")
    # graph reads the structure only: no data needed
    p = env.write("p.yaml", cv_text(env, L2).replace(dataset(env), "missing.h5"))
    g = sluice(env, "graph", p)
    assert g.returncode == 0, g.stderr
    nodes = [l.split('"')[1] for l in g.stdout.splitlines() if "[label=" in l and "->" not in l]
    assert len(nodes) == 65 and "fit[fold=4,l2=10]" in nodes and "train" not in nodes, nodes
    edges = [l.strip() for l in g.stdout.splitlines() if "->" in l]
    assert '"norm[fold=2]" -> "fit[fold=2,l2=0.1]" [label="input"];' in edges
    assert '"normt[fold=3]" -> "score[fold=3,l2=1]" [label="data"];' in edges
    assert '"fit[fold=3,l2=1]" -> "score[fold=3,l2=1]" [label="model"];' in edges
    assert '"cv" -> "final" [label="best"];' in edges
    assert sum(1 for e in edges if e.endswith('-> "cv" [label="input"];')) == 20
    assert 'subgraph "cluster_fit" {' in g.stdout and 'label="fit"; style=dashed;' in g.stdout
    m = sluice(env, "graph", p, "--mermaid")
    assert m.returncode == 0, m.stderr
    assert '["score[fold=0,l2=0.01]<br/><i>metrics</i>"]' in m.stdout and '["score"]' in m.stdout, m.stdout
    # f64, 5 train, 5 test, 5 norm, 5 normt, 20 fit, 20 into cv, f64n, final
    assert m.stdout.count("-->|input|") == 1 + 5 + 5 + 5 + 5 + 20 + 20 + 1 + 1, m.stdout.count("-->|input|")
    print("     65 stages, zipped and gathered edges, the best edge, a box per expanded stage")


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------

HEAD = "pipeline: e\nworkdir: w\nstages:\n  data:  { op: load.hdf5, file: %s, arrays: { X: /X, y: /y } }\n"


def at(text, needle, nth=0):
    """'line:col' of the nth occurrence of needle in text."""
    i = -1
    for _ in range(nth + 1):
        i = text.index(needle, i + 1)
    line = text.count("\n", 0, i) + 1
    return "%d:%d" % (line, i - text.rfind("\n", 0, i))


def check_fails(env, stages, needle_at, *needles, nth=0):
    """`sluice check` exits 2 with one line, at needle_at's position, holding every needle."""
    text = HEAD % dataset(env) + stages
    p = env.write("e.yaml", text)
    r = sluice(env, "check", p)
    lines = r.stderr.splitlines()
    if r.returncode != 2 or len(lines) != 1:
        raise AssertionError("exit %d\n%s%s" % (r.returncode, r.stdout, r.stderr))
    where = "e.yaml:%s: " % at(text, needle_at, nth)
    for n in (where,) + needles:
        if n not in lines[0]:
            raise AssertionError("message lacks %r:\n%s" % (n, lines[0]))


def test_errors_sweep(args):
    env = Env(args, "errors_sweep")
    lin = "  fit: { op: linreg, input: data, sweep: %s }\n"
    check_fails(env, lin % "{ l3: [1, 2] }", "l3:", "stage 'fit': unknown parameter 'l3' for op 'linreg'; did you "
                "mean 'l2'?")
    check_fails(env, lin % "{ l2: [1, abc] }", "abc", "parameter 'l2' expects a number, found 'abc'")
    check_fails(env, lin % '{ l2: [1, "2"] }', '"2"', "found the quoted string '2'; remove the quotes")
    check_fails(env, lin % "{ epochs: [10, 0] }", "0] }", "parameter 'epochs' must be between 1 and 10000000, found '0'")
    check_fails(env, lin % "[1, 2]", "[1, 2]", "'sweep' must be a mapping of parameters to lists of values, such as "
                "sweep: { l2: [0.01, 0.1, 1] }, found a list")
    check_fails(env, lin % "{}", "{} ", "'sweep' must be a mapping", "found an empty mapping")
    check_fails(env, lin % "{ l2: [] }", "[] ", "'sweep' gives no values for 'l2'; list at least one")
    check_fails(env, lin % "{ l2: [[1], 2] }", "[1]", "a swept value of 'l2' must be a single value, found a list")
    check_fails(env, lin % "{ input: [data] }", "input: [", "'input' names a stage; a stage's inputs cannot be swept")
    check_fails(env, lin % "{ l2: [1, 0.1, 1.0] }", "1.0", "items 1 and 3 of the sweep of 'l2' name the same member "
                "('1'); list each value once")
    check_fails(env, "  fit: { op: linreg, input: data, l2: 1, sweep: { l2: [1, 2] } }\n", "l2: [",
                "parameter 'l2' is given twice")
    text = ("  a: { op: linreg, input: data, sweep: { l2: [%s] } }\n"
            "  b: { op: metrics, model: a, data: data, sweep: { truth: [%s] } }\n"
            % (", ".join(str(i) for i in range(400)), ", ".join("t%d" % i for i in range(300))))
    check_fails(env, text, "b:", "expanding the stages makes more than 100000 stages (stage 'b' alone has more than "
                "100000 members); sweep fewer values")
    check_fails(env, "  fit: { op: linreg, input: data, sweep: { features: [%s, y] } }\n" % ("X" * 120), "fit:",
                "the name of a member of stage 'fit', 'fit[features=XXXX", "is longer than 127 characters")
    check_fails(env, "  a: { op: linreg, input: data, sweep: { l2: [1, 2] } }\n"
                "  b: { op: linreg, input: a, sweep: { l2: [1, 3] } }\n", "l2: [1, 3", "stage 'b': this stage is "
                "expanded over l2 = [1, 3], but its input 'input' (stage 'a') over l2 = [1, 2]: an axis has one list "
                "of values in a pipeline")


def test_errors_folds(args):
    env = Env(args, "errors_folds")
    sp = "  t: { op: split, input: data, part: %s }\n"
    check_fails(env, sp % "train, folds: 1", "1 }", "stage 't': parameter 'folds' must be between 2 and 100000, "
                "found '1'")
    check_fails(env, sp % "train, fold: 2", "2 }", "'fold' picks one fold of a k-fold split: set 'folds' too")
    check_fails(env, sp % "train, folds: 3, fold: 3", "3 }", "fold is 3; with folds: 3 it must be from 0 to 2")
    check_fails(env, sp % "validation, folds: 3", "validation", "stage 't[fold=0]': part is validation, but a fold "
                "of a k-fold split has only a train and a test part")
    check_fails(env, sp % "test, folds: 3, test_fraction: 0.2", "0.2", "test_fraction does not apply with folds")
    check_fails(env, sp % "test, folds: 3, validation_fraction: 0.2", "0.2",
                "validation_fraction does not apply with folds")
    check_fails(env, sp % "test, folds: 500", "500", "the input has 442 rows, fewer than folds (500): every fold's "
                "test part needs a row")
    check_fails(env, sp % "test, sweep: { folds: [3, 4] }", "3, 4", "stage 't[folds=3]': folds: 3 without 'fold': "
                "a pipeline expands such a stage over fold = 0..2, which it cannot do when 'folds' is swept")
    check_fails(env, "  a: { op: split, input: data, part: train, folds: 5 }\n"
                "  b: { op: split, input: data, part: test, folds: 3 }\n"
                "  n: { op: normalize, input: a, arrays: [X] }\n"
                "  m: { op: normalize, input: b, stats: n, arrays: [X] }\n", "n, arrays", "stage 'm': input 'stats' "
                "(stage 'n') is expanded over fold = [0, 1, 2, 3, 4], but input 'input' (stage 'b') over fold = [0, "
                "1, 2]: inputs that share an axis are read member by member on it, so they need the same values (the "
                "same folds)")


def test_errors_best(args):
    env = Env(args, "errors_best")
    cv = ("  t: { op: split, input: data, part: train, folds: 3 }\n"
          "  fit: { op: linreg, input: t, sweep: { l2: [1, 2] } }\n"
          "  score: { op: metrics, model: fit, data: t, metrics: [r2] }\n"
          "  cv: { op: select, input: score, metric: r2 }\n")
    check_fails(env, cv + "  f: { op: linreg, input: data, l2: { best: fit } }\n", "fit }", "stage 'f': { best: fit } "
                "names stage 'fit' of op 'linreg', which is not a select stage")
    check_fails(env, cv + "  f: { op: linreg, input: data, epochs: { best: cv } }\n", "{ best: cv }",
                "{ best: cv } for 'epochs': stage 'cv' did not sweep 'epochs' (it chose among l2)")
    check_fails(env, cv + "  f: { op: linreg, input: data, l2: { best: cvv } }\n", "cvv", "'best' names stage 'cvv', "
                "which the pipeline does not have (did you mean 'cv'?)")
    check_fails(env, cv + "  f: { op: linreg, input: data, l2: { best: [cv] } }\n", "[cv]",
                "{ best: ... } must name a select stage, found a list")
    check_fails(env, cv + "  f: { op: linreg, input: data, init_weights: [1, { best: cv }] }\n", "{ best: cv }",
                "{ best: cv } must be the whole value of a parameter, such as l2: { best: cv }, not part of one")
    check_fails(env, cv + "  f: { op: linreg, input: { best: cv } }\n", "{ best: cv }",
                "'input' names a stage; { best: cv } gives a parameter the value a select stage chose, not a stage")
    check_fails(env, cv + "  f: { op: linreg, input: data, sweep: { l2: [1, { best: cv }] } }\n", "{ best: cv }",
                "a swept value cannot be { best: cv }")
    check_fails(env, cv.replace("metric: r2 }", "metric: r2, sweep: { goal: [max, min] } }") +
                "  f: { op: linreg, input: data, l2: { best: cv } }\n", "cv }", "{ best: cv } names stage 'cv', which "
                "is expanded into members")
    check_fails(env, cv.replace("metric: r2", "metric: mse"), "mse", "stage 'cv': stage 'score[fold=0,l2=1]' has no "
                "array 'mse' to score with; it has r2 (float64, 1 column)")
    check_fails(env, cv.replace("input: score, metric: r2", "input: fit, metric: coef"), "coef", "array 'coef' of "
                "stage 'fit[fold=0,l2=1]' is not one number (1 x 1): it is 1 x 10")
    check_fails(env, cv + "  f: { op: linreg, input: data, l2: { best: cv } }\n"
                "  g: { op: linreg, input: data, l2: { best: f } }\n", "f }", "{ best: f } names stage 'f' of op "
                "'linreg', which is not a select stage")


def main():
    harness.main([
        test_kfold_parts_equal_kfold,
        test_kfold_shuffled,
        test_cv_matches_gridsearch,
        test_reuse_and_one_value_changed,
        test_goal_min_and_a_grid,
        test_member_names_on_the_command_line,
        test_graph_lists_members,
        test_errors_sweep,
        test_errors_folds,
        test_errors_best,
    ])


if __name__ == "__main__":
    main()
