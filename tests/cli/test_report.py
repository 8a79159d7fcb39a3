#!/usr/bin/python3
"""Tests of `sluice report` (issue 17): the run report, one self-contained HTML page.

usage: /usr/bin/python3 tests/cli/test_report.py --sluice PATH --gendata PATH --tmp DIR --source-root DIR
       [-k SUBSTRING ...]     (run only the tests whose name contains one of the substrings)
       [--screenshots DIR]    (also copy the Chromium screenshots of the example and
                               regression reports there: docs/report-example.png, ...)

The shipped example and regression pipelines run into temporary workdirs; their reports
are read back with Python's html.parser (and every inline SVG with xml.etree, which
fails on anything not well-formed), and checked against independent sources: the stages
and input edges against the YAML (PyYAML) and `sluice graph`'s DOT output, rows, bytes,
metrics and loss curves against the checkpoints read with h5py. Then headless Chromium
(Debian's `chromium`) loads each report: no console message, the DOM it parsed has one
node per stage, and its screenshot is not blank. Without chromium those checks are
skipped with a message saying so (scripts/bootstrap installs it).

No pytest: prints `ok NAME` or `FAIL NAME: why`, then `N passed, M failed`.
"""
import argparse
import html.parser
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import traceback
import xml.etree.ElementTree as ET
import zlib

import h5py
import numpy as np
import yaml

SLUICE = GENDATA = TMP = SRC = SHOTS = None
TIMEOUT = 120
SVG_NS = "{http://www.w3.org/2000/svg}"


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def tdir(name):
    d = os.path.join(TMP, name)
    if os.path.exists(d):
        shutil.rmtree(d)
    os.makedirs(d)
    return d


def sluice(*args, cwd=None):
    env = dict(os.environ, LC_ALL="C")
    env.pop("OMP_NUM_THREADS", None)
    return subprocess.run([SLUICE] + list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)


def ok(p, what):
    assert p.returncode == 0, "%s: exit %d\nstdout: %s\nstderr: %s" % (what, p.returncode, p.stdout, p.stderr)
    return p


def copy_pipeline(d, name, subs):
    """pipelines/NAME into d with its paths replaced (so that nothing is written in the
    source tree); returns the copy's path."""
    text = open(os.path.join(SRC, "pipelines", name)).read()
    for a, b in subs.items():
        assert a in text, "%s has no %r" % (name, a)
        text = text.replace(a, b)
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def example(d):
    return copy_pipeline(d, "example.yaml", {
        "../datasets/diabetes.h5": os.path.join(SRC, "datasets", "diabetes.h5"),
        "../runs/example-predictions.h5": os.path.join(d, "predictions.h5"),
        "workdir: ../runs/example": "workdir: " + os.path.join(d, "work")})


def regression(d, rows=20000):
    data = os.path.join(d, "synthetic.h5")
    subprocess.run([GENDATA, data, "--rows", str(rows), "--features", "16", "--seed", "42"], check=True,
                   capture_output=True, timeout=TIMEOUT)
    return copy_pipeline(d, "regression.yaml", {"../datasets/synthetic.h5": data,
                                                "workdir: ../runs/regression": "workdir: " + os.path.join(d, "work")})


class Page(html.parser.HTMLParser):
    """Every element's tag, attributes and classes, and the page's text."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.elems, self.text = [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr":
            self.row = a.get("data-stage")
        elif tag == "td":
            a["_row"] = getattr(self, "row", None)  # the stage of the table row it is in
        self.elems.append((tag, a, set((a.get("class") or "").split())))

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag=None, cls=None):
        return [a for t, a, c in self.elems if (tag is None or t == tag) and (cls is None or cls in c)]


def read_report(path):
    text = open(path, encoding="utf-8").read()
    # self-contained: no script, nothing fetched (the only URL is the SVG namespace)
    assert "<script" not in text.lower(), "the report has a script"
    urls = set(re.findall(r"(?:https?:)?//[\w.-]+[^\s\"'<>)]*", text)) - {"http://www.w3.org/2000/svg"}
    assert not [u for u in urls if u.startswith(("http", "//"))], "the report refers to %s" % sorted(urls)
    assert not re.search(r"<(link|img|iframe|object|embed)\b", text), "the report loads another file"
    # each inline SVG is well-formed XML: escaping mistakes break it
    svgs = re.findall(r"<svg\b.*?</svg>", text, flags=re.S)
    for s in svgs:
        try:
            ET.fromstring(s)
        except ET.ParseError as e:
            raise AssertionError("an SVG of the report is not well-formed XML (%s): %s" % (e, s[:300]))
    return text, Page(text), svgs


def dot_edges(pipeline):
    """(from, to, param) of every input, from `sluice graph`'s DOT."""
    dot = ok(sluice("graph", pipeline), "graph").stdout
    return sorted(re.findall(r'^\s*"([^"]+)" -> "([^"]+)" \[label="([^"]+)"\];$', dot, flags=re.M))


def yaml_stages(pipeline):
    return list(yaml.safe_load(open(pipeline))["stages"].keys())


def check_dag(pipeline, page):
    stages = yaml_stages(pipeline)
    nodes = page.find("g", "node")
    names = [n["data-stage"] for n in nodes]
    assert sorted(names) == sorted(stages), "DAG nodes %s, the pipeline's stages %s" % (names, stages)
    assert [n["id"] for n in nodes] == ["stage-" + s for s in names], "node ids"
    edges = sorted((e["data-from"], e["data-to"], e["data-param"]) for e in page.find("path", "edge"))
    want = dot_edges(pipeline)
    assert edges == want, "DAG edges %s, sluice graph says %s" % (edges, want)
    # and against the YAML itself: the parameters that name input stages
    spec = yaml.safe_load(open(pipeline))["stages"]
    named = sorted((v, s, k) for s, st in spec.items() for k, v in st.items() if k in ("input", "model", "data", "stats"))
    assert edges == named, "DAG edges %s, the YAML's inputs %s" % (edges, named)
    for e in page.find("path", "edge"):
        assert e["d"].startswith("M") and " C" in e["d"], "edge path %r" % e["d"]


def check_table_against_checkpoints(page, work, stages):
    rows = {r["data-stage"]: r for r in page.find("tr") if "data-stage" in r}
    cells = [(t, a) for t, a, c in page.elems if t == "td"]
    assert set(rows) == set(stages), "stage table rows %s" % sorted(rows)
    # the td cells carrying data-rows / data-bytes, in table order
    rows_cells = [a for t, a in cells if "data-rows" in a]
    got_rows = {a["_row"]: int(a["data-rows"]) for a in rows_cells}
    got_bytes = {a["_row"]: int(a["data-bytes"]) for t, a in cells if "data-bytes" in a}
    for s in stages:
        path = os.path.join(work, s + ".h5")
        if not os.path.exists(path):
            continue
        with h5py.File(path, "r") as f:
            want_rows = int(f.attrs["sluice_rows"])
            want_bytes = sum(f[k].size * f[k].dtype.itemsize for k in f if isinstance(f[k], h5py.Dataset))
        assert got_rows.get(s) == want_rows, "stage %s: report says %s rows, checkpoint %d" % (s, got_rows.get(s),
                                                                                             want_rows)
        assert got_bytes.get(s) == want_bytes, "stage %s: report says %s bytes, checkpoint %d" % (
            s, got_bytes.get(s), want_bytes)
    return len(rows_cells)


def check_metrics(page, work, metric_stages):
    cells = page.find("td")
    vals = {(a["data-stage"], a["data-metric"]): float(a["data-value"]) for a in cells if "data-metric" in a}
    seen = set()
    for s in metric_stages:
        with h5py.File(os.path.join(work, s + ".h5"), "r") as f:
            keys = [k[7:] for k in f.attrs if k.startswith("result.")]
            assert keys, "stage %s has no results" % s
            # in the order the op recorded them
            order = [a["data-metric"] for a in cells if a.get("data-stage") == s and "data-metric" in a]
            assert order == f.attrs["sluice_results"].split("\n"), "metrics of %s in the order %s" % (s, order)
            for k in keys:
                want = float(f.attrs["result." + k])
                assert vals.get((s, k)) == want, "metric %s of %s: report %r, checkpoint %r" % (k, s, vals.get((s, k)),
                                                                                            want)
                seen.add((s, k))
    assert set(vals) == seen, "the report shows metrics %s, the checkpoints have %s" % (sorted(vals), sorted(seen))


# ---------------------------------------------------------------------------
# Chromium
# ---------------------------------------------------------------------------

def chromium():
    for c in ("chromium", "chromium-browser"):
        p = shutil.which(c)
        if p:
            return p
    return None


def chromium_run(url, *args):
    # as root Chromium needs --no-sandbox; --disable-gpu: no GPU process in a container
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           "--enable-logging=stderr", "--v=0", "--user-data-dir=" + os.path.join(TMP, "chromium-profile")] + list(args)
    return subprocess.run(cmd + [url], capture_output=True, text=True, timeout=TIMEOUT)


def console_messages(stderr):
    return [l for l in stderr.splitlines() if ":CONSOLE" in l or "Uncaught" in l]


def png_pixels(path):
    """(width, height, rows of RGB tuples) of an 8-bit RGB/RGBA PNG: a tiny reader,
    enough for Chromium's screenshots."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "%s is not a PNG" % path
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6), "PNG depth %d colour type %d" % (depth, color)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, bpp, rows


def check_in_chromium(report, stages, shot_name, height=1600, publish=True):
    if not chromium():
        print("  (skipped the Chromium checks of %s: chromium is not installed; scripts/bootstrap installs it)"
              % os.path.basename(report))
        return
    url = "file://" + report
    p = chromium_run(url, "--dump-dom")
    assert p.returncode == 0, "chromium --dump-dom: exit %d: %s" % (p.returncode, p.stderr[-2000:])
    msgs = console_messages(p.stderr)
    assert not msgs, "the report logs to the console in Chromium:\n" + "\n".join(msgs)
    dom = Page(p.stdout)
    got = sorted(n["data-stage"] for n in dom.find("g", "node"))
    assert got == sorted(stages), "Chromium's DOM has nodes %s" % got
    shot = os.path.join(os.path.dirname(report), shot_name)
    p = chromium_run(url, "--screenshot=" + shot, "--window-size=1200,%d" % height)
    assert p.returncode == 0 and os.path.exists(shot), "chromium --screenshot: %s" % p.stderr[-2000:]
    msgs = console_messages(p.stderr)
    assert not msgs, "the report logs to the console in Chromium:\n" + "\n".join(msgs)
    w, h, bpp, rows = png_pixels(shot)
    assert (w, h) == (1200, height), "screenshot is %dx%d" % (w, h)
    bg = bytes(rows[0][:3])
    inked = sum(1 for r in rows[::4] for x in range(0, w * bpp, 4 * bpp) if bytes(r[x:x + 3]) != bg)
    total = len(rows[::4]) * len(range(0, w * bpp, 4 * bpp))
    assert inked > total * 0.03, "the screenshot is nearly blank (%d of %d sampled pixels inked)" % (inked, total)
    # colour is drawn (boxes, badges, bars), not only grey text
    colour = sum(1 for r in rows[::2] for x in range(0, w * bpp, 2 * bpp) if max(r[x:x + 3]) - min(r[x:x + 3]) > 60)
    assert colour > 500, "the screenshot has almost no colour (%d sampled pixels): nothing drawn?" % colour
    if SHOTS and publish:
        shutil.copyfile(shot, os.path.join(SHOTS, shot_name))


# ---------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------

def test_example_report():
    d = tdir("example")
    pipe = example(d)
    work = os.path.join(d, "work")
    ok(sluice("run", pipe, "-q", "-j", "2"), "run")
    p = ok(sluice("report", pipe), "report")
    report = os.path.join(work, "report.html")
    assert p.stdout == "report in %s\n" % report, "report printed %r" % p.stdout
    text, page, svgs = read_report(report)
    check_dag(pipe, page)
    stages = yaml_stages(pipe)
    assert check_table_against_checkpoints(page, work, stages) >= len(stages) - 1
    check_metrics(page, work, ["evaluate"])
    # every stage computed in the last run: one timeline bar each, computed boxes
    assert sorted(b["data-stage"] for b in page.find("g", "bar")) == sorted(stages)
    assert all("ran" in c for t, a, c in page.elems if "node" in c), "a stage is not drawn as computed"
    assert "Not run yet" not in text
    # sl_pipeline_status judged every checkpoint: all fresh after the run
    assert "could not be judged" not in text and "could not be planned" not in text, "no freshness shown"
    fresh = [a for a in page.find("span", "badge") if "fresh" in a["class"].split()]
    assert len(fresh) == len(stages), "%d stages shown fresh of %d" % (len(fresh), len(stages))
    # a second run reuses everything: the report says so
    ok(sluice("run", pipe, "-q", "--report"), "rerun with --report")
    text, page, svgs = read_report(report)
    kinds = {a["data-stage"]: c for t, a, c in page.elems if "node" in c}
    assert all("reused" in c for c in kinds.values()), "after a rerun: %s" % kinds
    assert "reused: its checkpoint was fresh" in text
    check_table_against_checkpoints(page, work, stages)
    # the first run's report is the one shown and screenshot: all computed
    ok(sluice("clean", pipe), "clean")
    ok(sluice("run", pipe, "-q", "--report"), "run after clean")
    check_in_chromium(report, stages, "report-example.png", 1720)


def test_regression_report():
    d = tdir("regression")
    pipe = regression(d)
    work = os.path.join(d, "work")
    ok(sluice("run", pipe, "-q", "--report"), "run --report")
    report = os.path.join(work, "report.html")
    text, page, svgs = read_report(report)
    check_dag(pipe, page)
    stages = yaml_stages(pipe)
    check_table_against_checkpoints(page, work, stages)
    check_metrics(page, work, ["evaluate", "evaluate_gd"])
    # the loss curve of gd: one point per epoch, log scale when it spans > 2 decades
    with h5py.File(os.path.join(work, "gd.h5"), "r") as f:
        loss = np.asarray(f["coef"].attrs["loss"])
    assert len(loss) == yaml.safe_load(open(pipe))["stages"]["gd"]["epochs"]
    curves = page.find("div", "loss")
    assert [c["data-stage"] for c in curves] == ["gd"], "loss curves for %s" % [c["data-stage"] for c in curves]
    lines = page.find("polyline", "series")
    assert len(lines) == 1 and int(lines[0]["data-points"]) == len(loss) == len(lines[0]["points"].split()), \
        "the loss curve has %s points, gd %d epochs" % (lines[0].get("data-points"), len(loss))
    # the plotted heights follow the loss: the first epoch's point is the highest
    ys = [float(p.split(",")[1]) for p in lines[0]["points"].split()]
    assert ys.index(min(ys)) == int(np.argmax(loss)), "the curve's top is not the largest loss"
    logy = loss.max() / loss.min() > 100
    assert ("(log scale)" in text) == logy, "log scale said %s, loss spans %g" % (not logy, loss.max() / loss.min())
    check_in_chromium(report, stages, "report-regression.png", 2250)


def test_validation_loss_curve():
    """A model given a validation stage: its curve has the training and the validation loss."""
    d = tdir("classify")
    pipe = copy_pipeline(d, "classify.yaml", {
        "../datasets/wine.h5": os.path.join(SRC, "datasets", "wine.h5"),
        "workdir: ../runs/classify": "workdir: " + os.path.join(d, "work")})
    work = os.path.join(d, "work")
    ok(sluice("run", pipe, "-q", "--report"), "run --report")
    text, page, svgs = read_report(os.path.join(work, "report.html"))
    with h5py.File(os.path.join(work, "fit.h5"), "r") as f:
        loss = np.asarray(f["coef"].attrs["loss"])
        vloss = np.asarray(f["coef"].attrs["validation_loss"])
    curves = page.find("div", "loss")
    assert [c["data-stage"] for c in curves] == ["fit"], [c["data-stage"] for c in curves]
    lines = page.find("polyline", "series")
    assert sorted(int(l["data-points"]) for l in lines) == sorted([len(loss), len(vloss)]), \
        [l["data-points"] for l in lines]
    assert "validation loss" in text and "training loss" in text
    check_metrics(page, work, ["score"])


def test_not_run_yet():
    d = tdir("notrun")
    pipe = example(d)
    p = ok(sluice("report", pipe, "-o", os.path.join(d, "r.html")), "report before any run")
    text, page, svgs = read_report(os.path.join(d, "r.html"))
    assert page.find("div", "not-run"), "the report does not say the pipeline has not run"
    check_dag(pipe, page)
    assert all("notrun" in c for t, a, c in page.elems if "node" in c)
    # data missing too: the structure is enough for the DAG (sl_pipeline_read_file)
    text = open(pipe).read().replace(os.path.join(SRC, "datasets", "diabetes.h5"), os.path.join(d, "absent.h5"))
    open(pipe, "w").write(text)
    p = ok(sluice("report", pipe), "report without data")
    assert p.stdout == "report in %s\n" % os.path.join(d, "work", "report.html"), p.stdout
    text, page, svgs = read_report(os.path.join(d, "work", "report.html"))
    check_dag(pipe, page)
    assert "could not be planned" in text and "absent.h5" in text


def test_failed_run_report_escapes_text():
    """run --report after a failure: the page shows it; the workdir's path and the
    error's quotes are escaped (stage names cannot hold <, & or quotes; paths can)."""
    d = tdir("failed")
    data = os.path.join(d, "nan.h5")
    with h5py.File(data, "w") as f:
        x = np.arange(200.0).reshape(100, 2)
        x[5, 1] = np.nan
        f["X"], f["y"] = x, np.ones((100, 1))
    work = os.path.join(d, "w<&\"'x")
    pipe = os.path.join(d, "p.yaml")
    with open(pipe, "w") as f:
        f.write("pipeline: failing\nworkdir: '%s'\nstages:\n" % work.replace("'", "''"))
        f.write("  load: { op: load.hdf5, file: %s, arrays: { X: /X, y: /y } }\n" % data)
        f.write("  fit:  { op: linreg, input: load }\n")
        f.write("  ev:   { op: metrics, model: fit, data: load, metrics: [mse] }\n")
    p = sluice("run", pipe, "--report", "-q")
    assert p.returncode == 1, "run: exit %d, %s" % (p.returncode, p.stderr)
    report = os.path.join(work, "report.html")
    text, page, svgs = read_report(report)
    check_dag(pipe, page)
    kinds = {a["data-stage"]: c for t, a, c in page.elems if "node" in c}
    assert "failed" in kinds["fit"] and "notrun" in kinds["ev"] and "ran" in kinds["load"], kinds
    assert page.find("div", "fail"), "no failure banner"
    assert "w&lt;&amp;&quot;&#39;x" in text and "w<&" not in text, "the workdir path is not escaped"
    workdir_text = [a for t, a, c in page.elems if "workdir" in c]
    assert workdir_text, "the workdir is not shown"
    assert work in "".join(page.text), "the parsed page does not give the workdir back"
    err = p.stderr.strip().split("sluice: ", 1)[-1]
    assert err in "".join(page.text), "the page does not show the error %r" % err
    check_in_chromium(report, ["load", "fit", "ev"], "report-failed.png", publish=False)


def test_report_setting():
    d = tdir("setting")
    pipe = example(d)
    text = open(pipe).read().replace("stages:", "report: true\nstages:", 1)
    open(pipe, "w").write(text)
    p = ok(sluice("run", pipe), "run with report: true")
    report = os.path.join(d, "work", "report.html")
    assert "report in %s\n" % report in p.stdout, p.stdout
    read_report(report)
    os.remove(report)
    ok(sluice("run", pipe, "-q"), "quiet run")
    assert os.path.exists(report), "report: true wrote no report on a quiet run"
    open(pipe, "w").write(text.replace("report: true", "report: maybe"))
    p = sluice("run", pipe)
    assert p.returncode == 2 and "'report' must be true (write workdir/report.html after every run) or false, " \
        "found maybe" in p.stderr, p.stderr


def test_report_usage_and_io_errors():
    d = tdir("usage")
    pipe = example(d)
    for args, msg in ((["report"], "report needs a pipeline file: sluice report FILE"),
                      (["report", pipe, "-o"], "-o needs a file name for the report"),
                      (["report", pipe, "--bogus"], "unknown option '--bogus' for report"),
                      (["report", pipe, pipe], "report takes one pipeline file")):
        p = sluice(*args)
        assert p.returncode == 2 and msg in p.stderr, "%s: exit %d, %r" % (args, p.returncode, p.stderr)
    p = sluice("report", pipe, "-o", os.path.join(d, "no", "such", "r.html"))
    assert p.returncode == 3 and "cannot write report '%s': No such file or directory" % os.path.join(
        d, "no", "such", "r.html") in p.stderr, p.stderr
    blocker = os.path.join(d, "file")
    open(blocker, "w").close()
    p = sluice("report", pipe, "--workdir", os.path.join(blocker, "work"))
    assert p.returncode == 3 and "cannot make the workdir" in p.stderr, p.stderr
    p = sluice("report", os.path.join(d, "absent.yaml"))
    assert p.returncode == 3 and "cannot open pipeline file" in p.stderr, p.stderr
    p = ok(sluice("report", "--help"), "help")
    assert p.stdout.startswith("usage: sluice report FILE")


def test_run_log_damaged_and_old_lines():
    """A torn line is counted and skipped; lines without run_start (older sluice)
    are grouped into runs by pid; JSON escapes come back as text."""
    d = tdir("runlog")
    pipe = example(d)
    work = os.path.join(d, "work")
    ok(sluice("run", pipe, "-q", "--until", "as_f64"), "run")
    with open(os.path.join(work, "run.log"), "a") as f:
        f.write('{"stage":"describe","op":"describe","status":"ran","start":1.0,"end":2.5,"seconds":1.5,'
                '"rows":1,"bytes":9,"pid":1,"reason":"caf\\u00e9 \\"q\\" \\ud83d\\ude00 <b>"}\n')
        f.write('{"stage":"train","status":"ra\n')
    p = ok(sluice("report", pipe), "report")
    text, page, svgs = read_report(os.path.join(work, "report.html"))
    assert "1 line of run.log could not be read" in text, "the torn line is not reported"
    assert 'café "q" \U0001F600 <b>' in "".join(page.text), "the JSON escapes are not decoded"
    # the last run is the old line's (pid 1): one bar
    assert [b["data-stage"] for b in page.find("g", "bar")] == ["describe"]


def main():
    global SLUICE, GENDATA, TMP, SRC, SHOTS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sluice", required=True)
    ap.add_argument("--gendata", required=True)
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--source-root", required=True)
    ap.add_argument("--screenshots")
    ap.add_argument("-k", action="append", default=[])
    a = ap.parse_args()
    SLUICE, GENDATA = os.path.abspath(a.sluice), os.path.abspath(a.gendata)
    TMP, SRC = os.path.abspath(a.tmp), os.path.abspath(a.source_root)
    SHOTS = os.path.abspath(a.screenshots) if a.screenshots else None
    if os.path.exists(TMP):
        shutil.rmtree(TMP)
    os.makedirs(TMP)
    tests = [(n, f) for n, f in globals().items() if n.startswith("test_") and callable(f)]
    if a.k:
        tests = [(n, f) for n, f in tests if any(k in n for k in a.k)]
    if chromium():
        # the console check is only worth something if it sees a console error
        ctl = os.path.join(TMP, "control.html")
        open(ctl, "w").write("<!DOCTYPE html><title>x</title><script>console.error('control')</script>")
        msgs = console_messages(chromium_run("file://" + ctl, "--dump-dom").stderr)
        if not any("control" in m for m in msgs):
            print("FAIL setup: Chromium's console messages do not reach its stderr; the console check would see "
                  "nothing")
            print("0 passed, 1 failed")
            return 1
    passed = failed = 0
    for name, fn in tests:
        t0 = time.time()
        try:
            fn()
            print("ok %s (%.1f s)" % (name, time.time() - t0))
            passed += 1
        except Exception as e:
            failed += 1
            print("FAIL %s: %s" % (name, e))
            traceback.print_exc(file=sys.stdout)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
