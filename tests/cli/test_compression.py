"""Compressed checkpoints: the same values as uncompressed ones, the filter
really applied, changing the setting recomputes only the stage's file, and a
missing filter plugin is a clear config error."""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ops"))
import harness  # noqa: E402
import h5py  # noqa: E402
import numpy as np  # noqa: E402

PIPELINE = """pipeline: comp
workdir: w
{setting}
stages:
  load:    {{ op: load.hdf5, file: {data}, arrays: {{ X: /X, y: /y }} }}
  convert: {{ op: convert, input: load, dtype: float64 }}
  stats:   {{ op: describe, input: convert }}
"""


def make_data(env):
    path = env.path("d.h5")
    rng = np.random.default_rng(5)
    with h5py.File(path, "w") as f:
        f["X"] = rng.normal(size=(5000, 4)).astype(np.float32)
        f["y"] = rng.normal(size=5000).astype(np.float32)
    return path


def filters_of(path, name):
    with h5py.File(path) as f:
        d = f[name]
        return d.compression, dict(d._filters)


def test_every_codec_keeps_values(args):
    env = harness.Env(args, "codecs")
    data = make_data(env)
    env.run(PIPELINE.format(setting="", data=data), "--workdir", env.path("plain"))
    expect = {"deflate": "gzip", "lz4": "32004", "zstd": "32001"}
    for codec, marker in expect.items():
        wd = env.path("w-" + codec)
        env.run(PIPELINE.format(setting="compression: " + codec, data=data), "--workdir", wd)
        comp, filters = filters_of(os.path.join(wd, "convert.h5"), "X")
        assert comp == marker or marker in filters, "%s: filters %s" % (codec, filters)
        for stage in ("load", "convert", "stats"):
            with h5py.File(os.path.join(env.path("plain"), stage + ".h5")) as a, \
                    h5py.File(os.path.join(wd, stage + ".h5")) as b:
                for k in a.keys():
                    assert np.array_equal(a[k][...], b[k][...], equal_nan=True), "%s %s %s" % (codec, stage, k)
                    assert a[k].attrs["sluice_hash"] == b[k].attrs["sluice_hash"]


def test_stage_setting_and_early_cutoff(args):
    env = harness.Env(args, "cutoff")
    data = make_data(env)
    text = PIPELINE.format(setting="", data=data)
    env.run(text)
    changed = text.replace("dtype: float64 }", "dtype: float64, compression: deflate }")
    r = env.run(changed)
    log = [l for l in open(env.path("w", "run.log")).read().splitlines()][-3:]
    status = {l.split('"stage":"')[1].split('"')[0]: l.split('"status":"')[1].split('"')[0] for l in log}
    assert status == {"load": "reused", "convert": "ran", "stats": "reused"}, status
    assert "compression changed" in r.stdout, r.stdout
    assert filters_of(env.path("w", "convert.h5"), "X")[0] == "gzip"


def test_missing_plugin_is_a_config_error(args):
    env = harness.Env(args, "noplugin")
    data = make_data(env)
    p = env.write("p.yaml", PIPELINE.format(setting="compression: zstd", data=data))
    r = subprocess.run([args.sluice, "check", p], capture_output=True, text=True,
                       env=dict(os.environ, HDF5_PLUGIN_PATH=env.path("no-plugins-here")))
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "p.yaml:3:14:" in r.stderr and "hdf5-filter-plugin-blosc-serial" in r.stderr, r.stderr
    bad = PIPELINE.format(setting="compression: zip", data=data)
    r = env.run(bad, expect=2)
    assert "'compression' must be none, auto, deflate, lz4 or zstd" in r.stderr, r.stderr


# compression: auto. SLUICE_WRITE_BANDWIDTH stands for the disk (a slow
# network file system), so that the decision does not depend on this
# machine's; ratios and CPU times are still measured on the data.
AUTO = """pipeline: auto
workdir: w
compression: {setting}
stages:
  load:      {{ op: load.hdf5, file: {data}, arrays: {{ X: /X, y: /y }} }}
  convert:   {{ op: convert, input: load, dtype: float64 }}
  normalize: {{ op: normalize, input: convert, arrays: [X], method: zscore }}
  stats:     {{ op: describe, input: normalize, compression: none }}
"""


def make_auto_data(env, rows=20000):
    path = env.path("d.h5")
    rng = np.random.default_rng(7)
    with h5py.File(path, "w") as f:
        f["X"] = rng.normal(size=(rows, 4)).astype(np.float32)
        f["y"] = rng.integers(0, 3, size=rows).astype(np.float32)  # labels
    return path


def run_env(env, text, workdir, bandwidth=None, expect=0):
    p = env.write("p.yaml", text)
    e = dict(os.environ)
    e.pop("SLUICE_WRITE_BANDWIDTH", None)
    if bandwidth:
        e["SLUICE_WRITE_BANDWIDTH"] = bandwidth
    r = subprocess.run([env.sluice, "run", p, "--workdir", workdir], capture_output=True, text=True, env=e,
                       timeout=120)
    assert r.returncode == expect, (r.returncode, r.stdout, r.stderr)
    return r


def log_of(workdir):
    out = {}
    for line in open(os.path.join(workdir, "run.log")).read().splitlines():
        rec = json.loads(line)
        out[rec["stage"]] = rec  # the last run's
    return out


def auto_attr(path):
    with h5py.File(path) as f:
        return json.loads(f.attrs["sluice_compression_auto"])


def assert_same_as_plain(plain, wd, stages):
    for stage in stages:
        with h5py.File(os.path.join(plain, stage + ".h5")) as a, h5py.File(os.path.join(wd, stage + ".h5")) as b:
            assert a.attrs["sluice_output_hash"] == b.attrs["sluice_output_hash"], stage
            assert sorted(a.keys()) == sorted(b.keys()), stage
            for k in a.keys():
                assert a[k].dtype == b[k].dtype and np.array_equal(a[k][...], b[k][...], equal_nan=True), (stage, k)
                assert a[k].attrs["sluice_hash"] == b[k].attrs["sluice_hash"], (stage, k)


def assert_consistent(path, rec):
    """Each array's choice follows its figures, and the dataset is what was chosen."""
    figures = auto_attr(path)
    assert rec["compression"]["choice"] == figures["choice"], (rec["compression"], figures)
    with h5py.File(path) as f:
        for name, a in figures.get("arrays", {}).items():
            pays = a["saved_ns_per_byte"] > a["cpu_ns_per_byte"]
            assert (a["compression"] == "deflate") == pays, (name, a)
            assert abs(a["saved_ns_per_byte"] - 1e9 * (1 - a["ratio"]) / figures["write_bw"]) < 1e-3 * max(
                1.0, abs(a["saved_ns_per_byte"])), (name, a, figures["write_bw"])
            d = f[name]
            assert (d.compression == "gzip") == pays and bool(d.shuffle) == pays, (name, d.compression, d.shuffle)
    return figures


def test_auto_compresses_what_pays(args):
    env = harness.Env(args, "auto")
    data = make_auto_data(env)
    plain, wd = env.path("plain"), env.path("w-auto")
    run_env(env, AUTO.format(setting="none", data=data), plain)
    run_env(env, AUTO.format(setting="auto", data=data), wd, bandwidth="5e6")
    log = log_of(wd)
    # float32 -> float64 is stored as float32 (the 29 zero mantissa bits a value are not
    # written at all: docs/guide.md 4), and auto measures what is stored: X's float32 values
    # compress little; the labels much
    conv = assert_consistent(os.path.join(wd, "convert.h5"), log["convert"])
    assert conv["choice"] == "deflate" and conv["bw_from"] == "SLUICE_WRITE_BANDWIDTH", conv
    assert conv["arrays"]["X"]["ratio"] > 0.75 and conv["arrays"]["y"]["ratio"] < 0.3, conv
    with h5py.File(os.path.join(plain, "convert.h5")) as f:
        assert f["X"].dtype == np.float32 and f["X"].attrs["sluice_dtype"] == "float64", f["X"].dtype
    assert os.path.getsize(os.path.join(wd, "convert.h5")) < 0.95 * os.path.getsize(os.path.join(plain, "convert.h5"))
    assert log["convert"]["compression"]["ratio"] == conv["ratio"]
    # z-scored values fill every mantissa bit: whatever was chosen follows the figures
    norm = assert_consistent(os.path.join(wd, "normalize.h5"), log["normalize"])
    assert norm["arrays"]["X"]["ratio"] > conv["arrays"]["X"]["ratio"], (norm, conv)
    # a source is read in place, as with none; a stage set to none has no figures
    assert log["load"]["bytes"] == 0 and "compression" not in log["load"], log["load"]
    assert "compression" not in log["stats"], log["stats"]
    with h5py.File(os.path.join(wd, "stats.h5")) as f:
        assert "sluice_compression_auto" not in f.attrs
    assert_same_as_plain(plain, wd, ("convert", "normalize", "stats"))
    # the stage downstream keeps its key: compression is not in its inputs' hashes
    with h5py.File(os.path.join(plain, "stats.h5")) as a, h5py.File(os.path.join(wd, "stats.h5")) as b:
        assert a.attrs["sluice_key"] == b.attrs["sluice_key"]
    # a second run reuses everything, whatever the disk now measures
    run_env(env, AUTO.format(setting="auto", data=data), wd)
    assert {s: r["status"] for s, r in log_of(wd).items()} == {
        "load": "reused", "convert": "reused", "normalize": "reused", "stats": "reused"}
    assert not [n for n in os.listdir(wd) if n.startswith(".sluice.bwprobe")]


def test_auto_on_a_fast_disk_writes_as_none(args):
    env = harness.Env(args, "auto-fast")
    data = make_auto_data(env)
    wd = env.path("w")
    run_env(env, AUTO.format(setting="auto", data=data), wd, bandwidth="1e13")
    log = log_of(wd)
    for stage in ("convert", "normalize"):
        figures = auto_attr(os.path.join(wd, stage + ".h5"))
        assert figures["choice"] == "none" and "less time than deflating" in figures["why"], figures
        assert 1e9 / figures["write_bw"] <= figures["deflate_floor_ns"], figures
        assert log[stage]["compression"]["choice"] == "none"
        with h5py.File(os.path.join(wd, stage + ".h5")) as f:
            assert all(f[k].compression is None for k in f.keys())


def test_auto_probe_measures_the_workdir(args):
    env = harness.Env(args, "auto-probe")
    data = make_auto_data(env)
    plain, wd = env.path("plain"), env.path("w")
    run_env(env, AUTO.format(setting="none", data=data), plain)
    run_env(env, AUTO.format(setting="auto", data=data), wd)
    log = log_of(wd)
    for stage in ("convert", "normalize"):
        figures = auto_attr(os.path.join(wd, stage + ".h5"))
        assert figures["bw_from"] == "probe" and figures["write_bw"] > 0 and figures["deflate_floor_ns"] > 0, figures
        if "arrays" in figures:
            assert_consistent(os.path.join(wd, stage + ".h5"), log[stage])
        else:  # decided at open: no data could pay on this disk
            assert 1e9 / figures["write_bw"] <= figures["deflate_floor_ns"], figures
    assert not [n for n in os.listdir(wd) if n.startswith(".sluice.bwprobe")]
    assert_same_as_plain(plain, wd, ("convert", "normalize", "stats"))


def test_auto_killed_stage_restarts(args):
    """A stage auto compresses is written through HDF5: killed inside it, the
    next run computes it from the beginning, to the same values."""
    env = harness.Env(args, "auto-kill")
    data = make_auto_data(env, rows=1500000)
    text = AUTO.format(setting="auto", data=data)
    plain, wd = env.path("plain"), env.path("w")
    run_env(env, AUTO.format(setting="none", data=data), plain)
    p = env.write("p.yaml", text)
    e = dict(os.environ, SLUICE_WRITE_BANDWIDTH="5e6", SLUICE_RESUME_INTERVAL="0.05")
    proc = subprocess.Popen([env.sluice, "run", p, "--workdir", wd], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=e)
    tmp = os.path.join(wd, "convert.h5.tmp")
    deadline = time.time() + 60
    while not os.path.exists(tmp) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.002)
    time.sleep(0.05)
    killed = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert killed and os.path.exists(tmp), "the run ended before it could be killed in convert"
    assert not os.path.exists(tmp + ".resume"), "a stage written through HDF5 keeps no journal"
    run_env(env, text, wd, bandwidth="5e6")
    log = log_of(wd)
    assert log["convert"]["status"] == "ran" and "resume" not in log["convert"], log["convert"]
    assert log["convert"]["compression"]["choice"] == "deflate", log["convert"]
    assert not os.path.exists(tmp)
    assert_same_as_plain(plain, wd, ("convert", "normalize", "stats"))

def test_auto_measured_none_is_preallocated(args):
    """A disk slow enough that compressing might pay, data that does not pay
    it: measured, chosen none, written preallocated as with none (the same
    file), not through HDF5's growing datasets."""
    env = harness.Env(args, "auto-none")
    data = make_auto_data(env)
    plain, wd = env.path("plain"), env.path("w")
    run_env(env, AUTO.format(setting="none", data=data), plain)
    # 1e8 B/s: 10 ns a byte to write, above deflate's floor even under sanitizers (1.5 ns here,
    # 4.2 under ASan), so the arrays are measured; and below deflate's 14-22 ns a byte on this
    # data, so none pays
    run_env(env, AUTO.format(setting="auto", data=data), wd, bandwidth="1e8")
    log = log_of(wd)
    for stage in ("convert", "normalize"):
        path = os.path.join(wd, stage + ".h5")
        figures = assert_consistent(path, log[stage])
        assert 1e9 / figures["write_bw"] > figures["deflate_floor_ns"], figures  # measured, not ruled out
        assert "arrays" in figures and "why" not in figures, figures
        if figures["choice"] == "none":
            assert os.path.getsize(path) == os.path.getsize(os.path.join(plain, stage + ".h5")), stage
            with h5py.File(path) as f:
                assert all(f[k].chunks and f[k].compression is None for k in f.keys())
    assert_same_as_plain(plain, wd, ("convert", "normalize", "stats"))



if __name__ == "__main__":
    harness.main([test_every_codec_keeps_values, test_stage_setting_and_early_cutoff,
                  test_missing_plugin_is_a_config_error, test_auto_compresses_what_pays,
                  test_auto_on_a_fast_disk_writes_as_none, test_auto_probe_measures_the_workdir,
                  test_auto_measured_none_is_preallocated, test_auto_killed_stage_restarts])
