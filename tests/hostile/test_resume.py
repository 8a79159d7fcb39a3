#!/usr/bin/python3
"""Hostile-input tests: resume (issue 14). See common.py for how they run."""
import common
from common import expect, expect_ok, h5, sluice, tdir, write  # noqa: F401


if __name__ == "__main__":
    common.main(globals())
