"""Compressed checkpoints: the same values as uncompressed ones, the filter
really applied, changing the setting recomputes only the stage's file, and a
missing filter plugin is a clear config error."""
import os
import subprocess
import sys

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
    assert "'compression' must be none, deflate, lz4 or zstd" in r.stderr, r.stderr


if __name__ == "__main__":
    harness.main([test_every_codec_keeps_values, test_stage_setting_and_early_cutoff,
                  test_missing_plugin_is_a_config_error])
