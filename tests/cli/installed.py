"""This build installed into a scratch DESTDIR, for the tests that use sluice
as a user of the installed files would (test_install.py, test_embedding.py)."""
import json
import os
import shutil
import subprocess


def install(build, tmp):
    """`meson install` into tmp/destdir: (dest, prefix, libdir), the files
    being under dest + prefix and dest + libdir."""
    dest = os.path.join(tmp, "destdir")
    shutil.rmtree(dest, ignore_errors=True)
    p = subprocess.run(["meson", "install", "-C", build, "--no-rebuild", "--quiet", "--destdir", dest],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    assert p.returncode == 0, "meson install failed:\n" + p.stdout
    info = json.loads(subprocess.run(["meson", "introspect", "--buildoptions", build], stdout=subprocess.PIPE,
                                     text=True, check=True).stdout)
    opt = {o["name"]: o["value"] for o in info}
    prefix, libdir = opt["prefix"], opt["libdir"]
    libdir = libdir if os.path.isabs(libdir) else os.path.join(prefix, libdir)
    return dest, prefix, libdir


def pkg_config_env(dest, libdir):
    """pkg-config reading the installed sluice.pc, its paths moved into dest."""
    pc = os.path.join(dest + libdir, "pkgconfig")
    return dict(os.environ, PKG_CONFIG_PATH=pc, PKG_CONFIG_LIBDIR=pc, PKG_CONFIG_SYSROOT_DIR=dest)
