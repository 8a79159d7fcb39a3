#!/usr/bin/python3
"""`meson install` of this build into a scratch folder (DESTDIR): the installed
`sluice` names the prefix's library folder in its RUNPATH, and that is where
libsluice.so.0 is installed, so the binary runs from a prefix outside the
loader's path without LD_LIBRARY_PATH (issue 15: it failed with
"libsluice.so.0: cannot open shared object file"). The binary is not run from
DESTDIR for that check: there its RUNPATH points at the real prefix, not the
scratch copy.

Then a plugin (examples/plugin_clip.c) is built against the installed headers
only, with `cc $(pkg-config --cflags sluice) -shared -fPIC` (pkg-config told
the scratch root by PKG_CONFIG_SYSROOT_DIR), and the installed sluice (its
libsluice from the scratch copy, through LD_LIBRARY_PATH) runs a pipeline file
that names it in `plugins:`, twice: computed, then reused (issue 15).

usage: test_install.py --build BUILD_DIR --tmp TMP --source-root DIR
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys

import installed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--source-root", required=True)
    a = ap.parse_args()
    dest, prefix, libdir = installed.install(a.build, a.tmp)
    exe = os.path.join(dest + prefix, "bin", "sluice")
    assert os.path.isfile(exe), "no installed sluice at %s" % exe
    dyn = subprocess.run(["readelf", "-d", exe], stdout=subprocess.PIPE, text=True, check=True).stdout
    m = re.search(r"\((?:RUNPATH|RPATH)\)\s+Library (?:runpath|rpath): \[([^\]]*)\]", dyn)
    assert m, "the installed sluice has no RUNPATH:\n" + dyn
    paths = m.group(1).split(":")
    assert libdir in paths, "its RUNPATH %s does not name the library folder %s" % (paths, libdir)
    lib = os.path.join(dest + libdir, "libsluice.so.0")
    assert os.path.exists(lib), "libsluice.so.0 is not installed in %s" % (dest + libdir)
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]*)\]", dyn)
    assert "libsluice.so.0" in needed, needed
    print("ok: %s has RUNPATH %s, where libsluice.so.0 is installed" % (exe[len(dest):], libdir))
    plugin_from_installed_headers(a, dest, libdir, exe)
    shutil.rmtree(dest, ignore_errors=True)
    return 0


def plugin_from_installed_headers(a, dest, libdir, exe):
    work = os.path.join(a.tmp, "plugin")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    env = installed.pkg_config_env(dest, libdir)
    cflags = subprocess.run(["pkg-config", "--cflags", "sluice"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    assert cflags.returncode == 0, "pkg-config --cflags sluice failed: " + cflags.stderr
    assert dest in cflags.stdout, "pkg-config's flags %r do not point into the installed copy" % cflags.stdout
    ex = os.path.join(a.source_root, "examples")
    so = os.path.join(work, "libsluice-clipper.so")
    # only the installed headers: no -I into the source tree (clip_op.h is the example's own, beside it)
    cc = ["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-fvisibility=hidden", *cflags.stdout.split(), "-shared",
          "-fPIC", os.path.join(ex, "plugin_clip.c"), os.path.join(ex, "clip_op.c"), "-o", so]
    p = subprocess.run(cc, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert p.returncode == 0, "building the plugin failed:\n%s\n%s" % (" ".join(cc), p.stdout)
    import h5py
    import numpy as np
    X = np.linspace(-4, 4, 600).reshape(200, 3)
    with h5py.File(os.path.join(work, "data.h5"), "w") as f:
        f["X"] = X
    with open(os.path.join(work, "p.yaml"), "w") as f:
        f.write("plugins: [clipper]\nworkdir: wd\nstages:\n"
                "  load: { op: load.hdf5, file: data.h5, arrays: { X: /X } }\n"
                "  clip: { op: example.clip_abs, input: load, bound: 2.5 }\n")
    run_env = dict(os.environ, LD_LIBRARY_PATH=dest + libdir, LC_ALL="C")
    run_env.pop("SLUICE_PLUGIN_PATH", None)
    for attempt, want in ((1, "ran"), (2, "reused")):
        p = subprocess.run([exe, "run", "p.yaml"], cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env=run_env, timeout=120)
        assert p.returncode == 0, "run %d of the installed sluice with the plugin failed:\n%s%s" % (
            attempt, p.stdout, p.stderr)
        with open(os.path.join(work, "wd", "run.log")) as f:
            last = [json.loads(line) for line in f if line.strip()][-1]
        assert last["stage"] == "clip" and last["status"] == want, "run %d: %s" % (attempt, last)
    with h5py.File(os.path.join(work, "wd", "clip.h5"), "r") as f:
        got = f["X"][...]
        assert f.attrs["sluice_plugin"] == "clipper 1.0.0", dict(f.attrs)
    assert np.array_equal(got, np.clip(X, -2.5, 2.5)), "the plugin's output is not X clipped to [-2.5, 2.5]"
    p = subprocess.run([exe, "ops", "example.clip_abs"], stdout=subprocess.PIPE, text=True,
                       env=dict(run_env, SLUICE_PLUGIN_PATH=work))
    assert p.returncode == 0 and "(plugin clipper 1.0.0 from %s)" % os.path.realpath(so) in p.stdout, p.stdout
    print("ok: a plugin built with pkg-config against the installed headers runs in the installed sluice")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print("FAIL:", e)
        sys.exit(1)
