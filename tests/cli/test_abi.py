#!/usr/bin/env python3
"""The ABI policy, checked (docs/c-api.md, "ABI"): libsluice exports exactly
the functions its installed headers declare, each under the version node
src/libsluice.map gives it, and that map lists exactly those functions; the
guide, docs/c-api.md, mentions every one of them.

usage: test_abi.py LIBSLUICE.so INCLUDE_DIR BUILD_INCLUDE_DIR MAP
"""
import re
import subprocess
import sys
import unittest
from pathlib import Path

LIB, INC, BUILD_INC, MAP = (Path(a) for a in sys.argv[1:5])
del sys.argv[1:5]


def header_functions():
    """sl_* functions and extern data the public headers declare."""
    names = set()
    for h in sorted(list(INC.glob("sluice/*.h")) + list(BUILD_INC.glob("sluice/*.h"))):
        text = h.read_text()
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        text = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
        # a declaration: a name followed by '(' that is not a function
        # pointer's "(*name)" nor a call inside another declaration
        for m in re.finditer(r"\b(sl_[a-z]\w*)\s*\((?!\s*\*)", text):
            if not re.search(r"\(\s*\*\s*$", text[:m.start()]):
                names.add(m.group(1))
        for m in re.finditer(r'\bextern\b[^;(){}"]*?\b(sl_[a-z]\w*)\s*(\[[^]]*\])?\s*;', text):
            names.add(m.group(1))
    return names


def map_nodes():
    """{symbol: version node} from the linker version script."""
    text = re.sub(r"/\*.*?\*/", " ", MAP.read_text(), flags=re.S)
    text = re.sub(r"#[^\n]*", " ", text)
    nodes = {}
    for m in re.finditer(r"(SLUICE_[\w.]+)\s*\{(.*?)\}", text, flags=re.S):
        body = m.group(2)
        glob = re.search(r"global\s*:(.*?)(local\s*:|$)", body, flags=re.S)
        for sym in re.findall(r"[\w*\[\]-]+(?=\s*;)", glob.group(1) if glob else ""):
            nodes[sym] = m.group(1)
    return nodes


def exported():
    """{symbol: version} of the functions and data the library defines and exports."""
    out = subprocess.run(["nm", "-D", "--defined-only", "--with-symbol-versions", str(LIB)],
                         capture_output=True, text=True, check=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) != 3 or parts[1] not in "TWiVDRB":
            continue
        name, _, version = parts[2].partition("@")
        syms[name] = version.lstrip("@")
    return syms


class Abi(unittest.TestCase):
    def test_exports_are_the_headers_functions(self):
        want = header_functions()
        have = {s for s in exported() if not s.startswith("SLUICE_")}
        self.assertGreater(len(want), 100)
        self.assertEqual(sorted(want - have), [], "declared in include/sluice but not exported: add them to "
                         "the newest node of src/libsluice.map")
        self.assertEqual(sorted(have - want), [], "exported but declared in no public header: make them static "
                         "or sl__ private")

    def test_every_symbol_carries_its_node(self):
        nodes = map_nodes()
        self.assertTrue(all("*" not in s for s in nodes), "the map lists symbols by name, not by pattern")
        self.assertEqual(sorted(set(nodes) ^ header_functions()), [],
                         "src/libsluice.map must list exactly the public functions")
        for name, version in exported().items():
            if name.startswith("SLUICE_"):
                continue
            self.assertEqual(version, nodes[name], name)

    def test_the_guide_covers_every_public_function(self):
        guide = (MAP.parent.parent / "docs" / "c-api.md").read_text()
        missing = sorted(n for n in header_functions() if not re.search(r"\b%s\b" % n, guide))
        self.assertEqual(missing, [], "docs/c-api.md does not mention these public functions")

    def test_soname_is_the_major_version(self):
        out = subprocess.run(["readelf", "-d", str(LIB)], capture_output=True, text=True, check=True).stdout
        m = re.search(r"\(SONAME\)\s+Library soname: \[(.*?)\]", out)
        self.assertIsNotNone(m)
        self.assertRegex(m.group(1), r"^libsluice(-mpi)?\.so\.0$")


if __name__ == "__main__":
    unittest.main(verbosity=2)
