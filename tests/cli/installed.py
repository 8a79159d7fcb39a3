"""This build installed into a scratch DESTDIR, for the tests that use sluice
as a user of the installed files would (test_install.py, test_embedding.py)."""
import json
import os
import re
import shutil
import subprocess


def build_options(build):
    info = json.loads(subprocess.run(["meson", "introspect", "--buildoptions", build], stdout=subprocess.PIPE,
                                     text=True, check=True).stdout)
    return {o["name"]: o["value"] for o in info}


def compile_command(build):
    """How to compile a program for the library this build made: its C
    compiler, and under a sanitized build (scripts/check's asan and tsan
    parts) the same sanitizers, whose runtime must come first."""
    ninja = open(os.path.join(build, "build.ninja")).read()
    m = re.search(r"^rule c_COMPILER\n command = (\S+)", ninja, flags=re.M)
    cc = [m.group(1) if m else "cc"]
    san = build_options(build).get("b_sanitize", "none")
    return cc if san in ("none", "") else cc + ["-fsanitize=" + san]


def install(build, tmp):
    """`meson install` into tmp/destdir: (dest, prefix, libdir), the files
    being under dest + prefix and dest + libdir."""
    dest = os.path.join(tmp, "destdir")
    shutil.rmtree(dest, ignore_errors=True)
    p = subprocess.run(["meson", "install", "-C", build, "--no-rebuild", "--quiet", "--destdir", dest],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    assert p.returncode == 0, "meson install failed:\n" + p.stdout
    opt = build_options(build)
    prefix, libdir = opt["prefix"], opt["libdir"]
    libdir = libdir if os.path.isabs(libdir) else os.path.join(prefix, libdir)
    return dest, prefix, libdir


def pkg_config_env(dest, libdir):
    """pkg-config reading the installed sluice.pc, its paths moved into dest."""
    pc = os.path.join(dest + libdir, "pkgconfig")
    return dict(os.environ, PKG_CONFIG_PATH=pc, PKG_CONFIG_LIBDIR=pc, PKG_CONFIG_SYSROOT_DIR=dest)
