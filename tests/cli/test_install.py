#!/usr/bin/python3
"""`meson install` of this build into a scratch folder (DESTDIR): the installed
`sluice` names the prefix's library folder in its RUNPATH, and that is where
libsluice.so.0 is installed, so the binary runs from a prefix outside the
loader's path without LD_LIBRARY_PATH (issue 15: it failed with
"libsluice.so.0: cannot open shared object file"). The binary is not run from
DESTDIR: there its RUNPATH points at the real prefix, not the scratch copy.

usage: test_install.py --build BUILD_DIR --tmp TMP
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--tmp", required=True)
    a = ap.parse_args()
    dest = os.path.join(a.tmp, "destdir")
    shutil.rmtree(dest, ignore_errors=True)
    p = subprocess.run(["meson", "install", "-C", a.build, "--no-rebuild", "--quiet", "--destdir", dest],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    assert p.returncode == 0, "meson install failed:\n" + p.stdout
    info = json.loads(subprocess.run(["meson", "introspect", "--buildoptions", a.build], stdout=subprocess.PIPE,
                                     text=True, check=True).stdout)
    opt = {o["name"]: o["value"] for o in info}
    prefix, libdir = opt["prefix"], opt["libdir"]
    libdir = libdir if os.path.isabs(libdir) else os.path.join(prefix, libdir)
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
    shutil.rmtree(dest, ignore_errors=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print("FAIL:", e)
        sys.exit(1)
