#!/usr/bin/python3
"""Sorts what a fuzz run saved (crash-*, leak-*, timeout-*, oom-*, slow-unit-*)
into bugs of sluice and known-class bugs of libhdf5.

usage: /usr/bin/python3 tests/fuzz/triage.py --exe FUZZER [--timeout S] [--log LOG] ARTIFACT...

Each artifact is run again alone (`FUZZER -timeout=S ARTIFACT`, with the
environment's ASAN/UBSAN/LSAN options) and its sanitizer or libFuzzer report
is read. The first stack frame that is not the sanitizer, libFuzzer or libc
decides: inside libhdf5 it is HDF5's own bug on a corrupted file
(KNOWN_HDF5_ISSUES.md), anything else is sluice's. An input that does not
crash alone crashed on the state earlier inputs left in the process (HDF5
keeps global caches and open-file lists): with --log, the fuzz run's log,
the report written when it crashed decides, and is shown. One line per
artifact; the exit status is 1 when any artifact is sluice's, does not
reproduce and has no report in the log, or has no stack to decide by (that
needs a human), else 0.
"""
import argparse
import os
import re
import subprocess
import sys

FRAME = re.compile(r"^\s*#(\d+) 0x[0-9a-f]+(?P<rest>.*)$")
SKIP_FUNC = ("__interceptor_", "__asan", "__sanitizer", "__ubsan", "__lsan", "__tsan", "fuzzer::", "malloc", "calloc",
             "realloc", "free", "operator new", "__memcpy", "__memmove", "__memset", "__strlen", "__libc_",
             "StackTrace", "__GI_", "raise", "abort")
SKIP_WHERE = ("libc.so", "sysdeps/", "string/", "csu/", "libclang_rt", "compiler-rt")
# the repository: a frame is sluice's only when its file is in here (glibc's
# frames carry file:line too, as `../nptl/pthread_kill.c:44` or an absolute
# path of the build, and an abort inside libhdf5 passes through them)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))


def frames(report):
    """(function or "", the rest of the line: file:line and/or (module+offset), the line)."""
    out = []
    for line in report.splitlines():
        m = FRAME.match(line)
        if not m:
            continue
        rest = m.group("rest").strip()
        func = ""
        if rest.startswith("in "):
            rest = rest[3:]
            cut = min([i for i in (rest.find(" /"), rest.find(" (/"), rest.find(" (<"), rest.find(" ../")) if i >= 0]
                      or [len(rest)])
            func, rest = rest[:cut], rest[cut:]
        out.append((func, rest, line.strip()))
    return out


def decide(report):
    """('hdf5'|'sluice'|'unknown', kind, the deciding frame)."""
    kind = "crash"
    for pat, name in ((r"ERROR: libFuzzer: timeout", "timeout"), (r"ERROR: libFuzzer: out-of-memory", "oom"),
                      (r"ERROR: LeakSanitizer", "leak"), (r"ERROR: AddressSanitizer: ([\w-]+)", None),
                      (r"runtime error:", "ubsan"), (r"ERROR: libFuzzer: deadly signal", "deadly signal"),
                      (r"^fuzz: ", "harness check")):
        m = re.search(pat, report, re.M)
        if m:
            kind = name or m.group(1)
            break
    # the harness's own verdict that libhdf5 is at fault (fuzz_h5load.c)
    m = re.search(r"^fuzz: libhdf5 issue: .*$", report, re.M)
    if m:
        return "hdf5", "unclosable file", m.group(0)
    for func, where, line in frames(report):
        line = re.sub(r" \(BuildId: [0-9a-f]+\)", "", line)
        if "libhdf5" in where:
            return "hdf5", kind, line
        # sluice's code (and the harness) has file:line; the sanitizer's
        # interceptors, libFuzzer and libc frames have none, or are skipped
        if func.startswith(SKIP_FUNC) or any(s in where for s in SKIP_WHERE):
            continue
        m = re.search(r"(\S+\.[ch]):\d+", where)
        if m and os.path.realpath(m.group(1)).startswith(ROOT + os.sep):
            return "sluice", kind, line
    return "unknown", kind, ""


REPORT_START = re.compile(r"==\d+==ERROR|ERROR: libFuzzer|runtime error:|^fuzz: ")


def logged_report(log, name):
    """The report the fuzzer wrote before saving artifact `name` (its "Test unit written to"
    line), or ""."""
    lines = log.splitlines()
    end = next((i for i in range(len(lines) - 1, -1, -1) if "Test unit written to" in lines[i]
                and lines[i].rstrip().endswith("/" + name)), -1)
    if end < 0:
        return ""
    start = next((i for i in range(end, max(end - 400, -1), -1) if REPORT_START.search(lines[i])), -1)
    return "\n".join(lines[start:end + 1]) if start >= 0 else ""


def sluice_frame(report):
    """The outermost-first sluice frame under the HDF5 call, for the log."""
    for func, where, line in frames(report):
        if "/src/" in where or "/src/" in line:
            return re.sub(r"^#\d+ 0x[0-9a-f]+ in ", "", line).split(" (")[0]
    return ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exe", required=True)
    ap.add_argument("--timeout", type=int, default=10)
    ap.add_argument("--log", help="the fuzz run's log, for inputs that do not crash alone")
    ap.add_argument("artifacts", nargs="*")
    a = ap.parse_args()
    log = ""
    if a.log:
        with open(a.log, errors="replace") as f:
            log = f.read()
    bad = 0
    counts = {}
    for art in a.artifacts:
        name = os.path.basename(art)
        try:
            p = subprocess.run([a.exe, "-timeout=%d" % a.timeout, art], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, errors="replace", timeout=a.timeout * 6 + 60)
            report, rc = p.stdout, p.returncode
        except subprocess.TimeoutExpired as e:
            report, rc = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or ""), -1
        alone = ""
        if rc == 0:
            logged = logged_report(log, name)
            who, kind, line = decide(logged) if logged else ("unreproducible", "-", "")
            if logged:
                report, alone = logged, " (not alone: the fuzz log's report)"
        else:
            who, kind, line = decide(report)
        counts[who] = counts.get(who, 0) + 1
        if who == "hdf5":
            print("triage: %-46s libhdf5 %s%s: %s  [via %s]" % (name, kind, alone, line,
                                                               sluice_frame(report) or "?"))
        else:
            bad += 1
            print("triage: %-46s %s %s%s: %s" % (name, who.upper(), kind, alone, line or "(no stack)"))
            tail = "\n".join(report.splitlines()[-60:])
            print("  | " + tail.replace("\n", "\n  | "))
    print("triage: %d artifact(s): %s" % (len(a.artifacts),
                                           ", ".join("%d %s" % (n, k) for k, n in sorted(counts.items())) or "none"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
