#!/usr/bin/python3
"""tests/fuzz/triage.py on reports written here: an input that crashes again alone is
decided by its new report; one that does not (the fuzzer stand-in is /bin/true) by the
report the fuzz log holds before "Test unit written to" its name, inside libhdf5 or inside
sluice; without a report anywhere it needs a human (exit 1).

usage: test_triage.py SOURCE_ROOT TMP"""
import os
import subprocess
import sys

ROOT, TMP = sys.argv[1], sys.argv[2]
TRIAGE = os.path.join(ROOT, "tests", "fuzz", "triage.py")

HDF5_REPORT = """INFO: Running with entropic power schedule (0xFF, 100).
#512	pulse  cov: 10 ft: 10 corp: 5/1Kb exec/s: 100 rss: 60Mb
==42==ERROR: AddressSanitizer: SEGV on unknown address 0x000000000000 (pc 0x7f0 bp 0x1 sp 0x2 T0)
    #0 0x7fe7aecf54de in H5F__accum_read (/lib/x86_64-linux-gnu/libhdf5_serial.so.103+0xf54de)
    #1 0x7fe7aecf5000 in H5F_block_read (/lib/x86_64-linux-gnu/libhdf5_serial.so.103+0xf5000)
    #2 0x55fde2100000 in walk_path_locked {root}/src/ops/load_hdf5.c:94:17
SUMMARY: AddressSanitizer: SEGV (/lib/x86_64-linux-gnu/libhdf5_serial.so.103+0xf54de) in H5F__accum_read
MS: 1 ChangeByte-; base unit: 0000
artifact_prefix='art/'; Test unit written to art/{name}
"""
SLUICE_REPORT = """==43==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x602 at pc 0x55 bp 0x1 sp 0x2
READ of size 8 at 0x602 thread T0
    #0 0x55fde2100010 in plan_array_locked {root}/src/ops/load_hdf5.c:387:17
    #1 0x55fde2100020 in LLVMFuzzerTestOneInput {root}/tests/fuzz/fuzz_h5load.c:120:5
SUMMARY: AddressSanitizer: heap-buffer-overflow {root}/src/ops/load_hdf5.c:387:17 in plan_array_locked
artifact_prefix='art/'; Test unit written to art/{name}
"""


def triage(log, name):
    os.makedirs(TMP, exist_ok=True)
    art = os.path.join(TMP, name)
    with open(art, "wb") as f:
        f.write(b"\x89HDF")
    args = ["/usr/bin/python3", TRIAGE, "--exe", "/bin/true"]
    if log is not None:
        path = os.path.join(TMP, name + ".log")
        with open(path, "w") as f:
            f.write(log)
        args += ["--log", path]
    return subprocess.run(args + [art], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)


def main():
    failed = 0
    cases = [
        ("libhdf5's crash, not alone", "crash-aaa",
         "earlier unit\n" + HDF5_REPORT.format(root=ROOT, name="crash-aaa"), 0,
         ["libhdf5 SEGV (not alone: the fuzz log's report)", "H5F__accum_read", "1 hdf5"]),
        ("sluice's crash, not alone", "crash-bbb",
         HDF5_REPORT.format(root=ROOT, name="crash-other") + SLUICE_REPORT.format(root=ROOT, name="crash-bbb"), 1,
         ["SLUICE heap-buffer-overflow (not alone", "plan_array_locked"]),
        ("no report in the log", "crash-ccc", HDF5_REPORT.format(root=ROOT, name="crash-other"), 1,
         ["UNREPRODUCIBLE"]),
        ("no log", "crash-ddd", None, 1, ["UNREPRODUCIBLE"]),
    ]
    for what, name, log, rc, needles in cases:
        p = triage(log, name)
        missing = [n for n in needles if n not in p.stdout]
        if p.returncode != rc or missing:
            failed += 1
            print("FAIL %s: exit %d (expected %d), missing %s:\n%s" % (what, p.returncode, rc, missing, p.stdout))
        else:
            print("ok %s" % what)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
