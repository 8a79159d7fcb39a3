"""Op tests of load.csv: pipelines run through the CLI on CSV files the test
writes, every value compared with an independent reading of the same text
(Python's csv module and float(), which is correctly rounded, or NumPy / h5py).

- dialect: header names, quoted fields with "" and delimiters, CRLF, a UTF-8
  byte order mark, comment and empty lines, ';' and TSV (from the extension),
  columns by name and by index, header: false, dtypes and inferred types;
- boundaries: quoted fields holding newlines and delimiters placed across
  every chunk boundary (chunk_rows 1 to 13) and thread boundary (-j 1/-j 2),
  the checkpoints bitwise the same for every chunk size and thread count;
- exact numbers: random doubles written by repr() read back to the same bits
  as float(); a CSV and an HDF5 file of the same numbers give bitwise
  identical checkpoints in the stages after the load;
- missing values: the default spellings are NaN, na_values replaces them, a
  missing value in an integer array is an error;
- bad input: a short row, a long row, a non-number, an unterminated quote,
  invalid UTF-8 in the header, text after a closing quote, an unknown
  column, with the exact file:line:column, value and column; on_bad_row: skip
  counts what it skips; `sluice check` finds what the plan reads;
- the cache: editing the CSV file reruns the load and the stages after it;
- `sluice convert-csv`: the HDF5 file it writes holds the same values."""
import csv
import io
import os
import random
import shutil
import struct
import subprocess

import h5py
import numpy as np

import harness
from harness import Env


def bits(a):
    return np.asarray(a, dtype=np.float64).view(np.uint64)


def same_bits(got, want, what):
    got = np.asarray(got)
    want = np.asarray(want)
    if got.shape != want.shape:
        raise AssertionError("%s: shape %s, expected %s" % (what, got.shape, want.shape))
    if got.dtype != want.dtype:
        raise AssertionError("%s: dtype %s, expected %s" % (what, got.dtype, want.dtype))
    g = got.view(np.uint8)
    w = want.view(np.uint8)
    if not np.array_equal(g, w):
        i = np.argwhere(got.ravel() != want.ravel())
        raise AssertionError("%s: differs, first at %s: %r vs %r" % (what, i[:1], got.ravel()[i[:1]],
                                                                      want.ravel()[i[:1]]))


def load_yaml(params, extra="", chunk_rows=None):
    head = "pipeline: t\nworkdir: w\n" + ("chunk_rows: %d\n" % chunk_rows if chunk_rows else "")
    return head + "stages:\n  load: { op: load.csv, %s }\n%s" % (params, extra)


def expect_error(env, yaml_text, code, *needles, check=False):
    r = env.run(yaml_text, expect=code)
    for n in needles:
        if n not in r.stderr:
            raise AssertionError("message lacks %r:\n%s" % (n, r.stderr))
    if check:
        p = env.write("c.yaml", yaml_text)
        c = subprocess.run([env.sluice, "check", p], capture_output=True, text=True, timeout=60)
        if c.returncode != code or any(n not in c.stderr for n in needles):
            raise AssertionError("check: exit %d\n%s" % (c.returncode, c.stderr))
    return r.stderr


def reference(text, delim=",", comment=None, header=True):
    """(names, rows of strings) as Python's csv module reads the text."""
    if text.startswith("\ufeff"):
        text = text[1:]
    rows = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delim)
            if r and not (comment and r[0].startswith(comment))]
    return (rows[0], rows[1:]) if header else ([str(i) for i in range(len(rows[0]))], rows)


NA = {"", "NA", "N/A", "NaN", "nan", "null", "NULL"}


def as_float(v):
    return float("nan") if v in NA else float(v)


def test_dialect(args):
    env = Env(args, "dialect")
    text = ('\ufeffid,"the ""name""",price,qty\r\n'
            '1,"a, b",2.5,3\r\n'
            '# not a comment unless asked\r\n'
            '\r\n'
            '2,"line\nbreak",-1e-3,4\r\n'
            '3,plain, 7 ,5\r\n')
    env.write("d.csv", text.replace("# not a comment unless asked\r\n", ""))
    names, rows = reference(text.replace("# not a comment unless asked\r\n", ""))
    # the columns of an array as a YAML list or as one string: the same
    for arrays in ("{ X: 'price,0', y: qty }", "{ X: [price, 0], y: [qty] }"):
        env.run(load_yaml("file: d.csv, arrays: %s" % arrays), "-j", "2")
        with env.ckpt("load") as f:
            X, y = f["X"][...], f["y"][...]
            assert X.dtype == np.float64 and y.dtype == np.int64, (X.dtype, y.dtype)
        same_bits(X, np.array([[as_float(r[2]), float(r[0])] for r in rows]), "X")
        same_bits(y, np.array([[int(r[3])] for r in rows]), "y")
    expect_error(env, load_yaml("file: d.csv, arrays: { X: ['a,b'] }"), 2,
                 "parameter 'arrays': the list item 'a,b' (value of key 'X') holds a ',', which separates names")
    assert names[1] == 'the "name"', names
    # comment lines, ';' and a byte order mark, header: false
    env.write("c.csv", "\ufeff# made by hand\n1;2\n# a \"quote in a comment\n3;4\n")
    env.run(load_yaml("file: c.csv, delimiter: ';', comment: '#', header: false, dtypes: { X: float32 }"))
    same_bits(env.read("load", "X"), np.array([[1, 2], [3, 4]], dtype=np.float32), "X ;")
    with env.ckpt("load") as f:
        cols = [c.decode() if isinstance(c, bytes) else c for c in f["X"].attrs.get("columns", [])]
    assert cols in ([], ["0", "1"]), cols
    # TSV from the extension; quoted tabs
    env.write("t.tsv", 'a\tb\n"1\tx"\t2\n3\t4\n')
    expect_error(env, load_yaml("file: t.tsv, arrays: { X: a }"), 1, "t.tsv:2:1: '1\tx' in column 'a' is not a number")
    env.run(load_yaml("file: t.tsv, arrays: { X: b }"))
    same_bits(env.read("load", "X"), np.array([[2], [4]], dtype=np.int64), "X tsv")


def quoted_text(rng, i):
    choices = ['"a,b"', '"x\ny"', '"q""q,\n\n"', '"\r\n,"', "plain", '""', '","']
    return choices[rng.randrange(len(choices))] if i % 3 else '"%d\n,%d"' % (i, i)


def test_chunk_and_thread_boundaries(args):
    """Quoted newlines and delimiters in every position relative to chunk
    boundaries (chunk_rows 1..13) and between the threads' chunks."""
    env = Env(args, "boundaries")
    rng = random.Random(7)
    lines = ['v,"text, quoted",w']
    for i in range(300):
        lines.append("%r,%s,%d" % (rng.uniform(-1e6, 1e6), quoted_text(rng, i), i))
    text = "\n".join(lines) + "\n"
    env.write("b.csv", text)
    names, rows = reference(text)
    assert len(rows) == 300
    want_X = np.array([[float(r[0])] for r in rows])
    want_w = np.array([[int(r[2])] for r in rows])
    first = None
    for cr in (1, 2, 3, 5, 7, 13, 64):
        for j in ("1", "2"):
            shutil.rmtree(env.path("w"), ignore_errors=True)
            env.run(load_yaml("file: b.csv, arrays: { X: v, w: w }", chunk_rows=cr), "-j", j)
            X, w = env.read("load", "X"), env.read("load", "w")
            same_bits(X, want_X, "X chunk_rows %d -j %s" % (cr, j))
            same_bits(w, want_w, "w chunk_rows %d -j %s" % (cr, j))
    # --chunk-rows on the command line differs from the plan's: still the same values
    for cr in ("5", "1000"):
        shutil.rmtree(env.path("w"), ignore_errors=True)
        env.run(load_yaml("file: b.csv, arrays: { X: v, w: w }", chunk_rows=7), "-j", "2", "--chunk-rows", cr,
                )
        same_bits(env.read("load", "X"), want_X, "X --chunk-rows %s" % cr)
    # a stage after the load, streamed (checkpoint: false) and stored, thread counts: same checkpoints
    for ck in ("true", "false"):
        for j in ("1", "2"):
            shutil.rmtree(env.path("w"), ignore_errors=True)
            env.run(load_yaml("file: b.csv, arrays: { X: v, w: w }, checkpoint: %s" % ck,
                              "  d: { op: describe, input: load }\n", chunk_rows=4), "-j", j)
            with env.ckpt("d") as f:
                m = {k: f[k][...] for k in f}
            if first is None:
                first = m
            for k in first:
                same_bits(m[k], first[k], "describe %s (checkpoint %s, -j %s)" % (k, ck, j))


def random_doubles(rng, n):
    out = []
    while len(out) < n:
        b = rng.getrandbits(64)
        x = struct.unpack("<d", struct.pack("<Q", b))[0]
        if x == x and abs(x) != float("inf"):
            out.append(x)
    return out


def test_exact_numbers(args):
    """repr() of random doubles (all exponents, subnormals), float32 values
    and round decimals: the bits float() gives; a CSV and an HDF5 file of the
    same numbers give the same checkpoints downstream."""
    env = Env(args, "exact")
    rng = random.Random(11)
    n = 3000
    cols = [random_doubles(rng, n),
            [float(np.float32(rng.gauss(0, 10 ** rng.randint(-5, 5)))) for _ in range(n)],
            [round(rng.uniform(-100, 100), rng.randint(0, 6)) for _ in range(n)],
            [5e-324 * rng.randint(1, 1 << 20) * rng.choice([1, -1]) for _ in range(n)]]
    specials = ["-0", "0.0", "1e308", "1.7976931348623157e308", "2.2250738585072014e-308", "inf", "-Infinity",
                "4.9406564584124654e-324", "123456789012345678901234567890", "0.1", "9007199254740993"]
    lines = ["a,b,c,d"] + [",".join(repr(c[i]) for c in cols) for i in range(n)]
    lines += [",".join([s] * 4) for s in specials]
    env.write("e.csv", "\n".join(lines) + "\n")
    want = np.array([[float(v) for v in l.split(",")] for l in lines[1:]])
    env.run(load_yaml("file: e.csv", "  f32: { op: convert, input: load, dtype: float32 }\n"
                      "  d: { op: describe, input: load }\n", chunk_rows=500), "-j", "2")
    same_bits(env.read("load", "X"), want, "X")
    # the same numbers in HDF5: identical checkpoints after the load
    with h5py.File(env.path("e.h5"), "w") as f:
        f["X"] = want
    env.write("h.yaml", "pipeline: h\nworkdir: wh\nchunk_rows: 500\nstages:\n"
                        "  load: { op: load.hdf5, file: e.h5, arrays: { X: /X } }\n"
                        "  f32: { op: convert, input: load, dtype: float32 }\n"
                        "  d: { op: describe, input: load }\n")
    subprocess.run([env.sluice, "run", env.path("h.yaml"), "-j", "2"], check=True, capture_output=True)
    for st in ("f32", "d"):
        with env.ckpt(st) as a, env.ckpt(st, "wh") as b:
            assert sorted(a) == sorted(b), (sorted(a), sorted(b))
            for k in a:
                same_bits(a[k][...], b[k][...], "%s/%s csv vs hdf5" % (st, k))
            assert a.attrs["sluice_output_hash"] == b.attrs["sluice_output_hash"], st


def test_missing_values(args):
    env = Env(args, "na")
    env.write("n.csv", "a,b\n1,\nNA,2\nN/A,3\nnull,4\nNULL,5\nnan,6\n-,7\n")
    expect_error(env, load_yaml("file: n.csv, arrays: { X: a }, sample_rows: 2"), 1,
                 "n.csv:8:1: '-' in column 'a' is not a number; fix the value, add its spelling to na_values")
    env.write("n.csv", "a,b\n1,\nNA,2\nN/A,3\nnull,4\nNULL,5\nnan,6\n")
    env.run(load_yaml("file: n.csv, arrays: { X: 'a', Y: b }, dtypes: { Y: float64 }"))
    X, Y = env.read("load", "X"), env.read("load", "Y")
    assert X[0, 0] == 1 and np.isnan(X[1:, 0]).all(), X
    assert np.isnan(Y[0, 0]) and (Y[1:, 0] == np.arange(2, 7)).all(), Y
    # integer array: a missing value is an error with where and what to do
    env.write("i.csv", "a,b\n1,2\n3,\n")
    expect_error(env, load_yaml("file: i.csv, dtypes: { X: int64 }"), 1,
                 "i.csv:3:3: missing value '' in column 'b', which is read as int64 (integers have no NaN)")
    # custom spellings: -999 means missing, '' does not (it is then not a number)
    env.write("m.csv", "a\n1.5\n-999\n")
    env.run(load_yaml("file: m.csv, na_values: ['-999']"))
    X = env.read("load", "X")
    assert X[0, 0] == 1.5 and np.isnan(X[1, 0]), X


def test_bad_input(args):
    env = Env(args, "bad")
    cases = [
        ("a,b,c\n1,2,3\n4,5\n", "s.csv:3:4: this row has 2 fields, the header 3 (last column 'c')"),
        ("a,b,c\n1,2,3\n4,5,6,7\n", "s.csv:3:7: this row has 4 fields, the header 3"),
        ("a,b,c\n1,2,3\n4,x5,6\n", "s.csv:3:3: 'x5' in column 'b' is not a number"),
        ('a,b,c\n1,2,3\n4,"5"x,6\n', "s.csv:3:3: text after the closing quote of a quoted field"),
    ]
    for text, msg in cases:
        env.write("s.csv", text)
        expect_error(env, load_yaml("file: s.csv"), 1, msg, check=True)
        # past the sample: found at run time, with the same text
        env.write("s.csv", text.replace("a,b,c\n1,2,3\n", "a,b,c\n" + "1,2,3\n" * 30))
        expect_error(env, load_yaml("file: s.csv, sample_rows: 5"), 1, msg.replace(":3:", ":32:"))
    env.write("u.csv", 'a,b\n1,2\n3,"4\n5,6\n')
    expect_error(env, load_yaml("file: u.csv"), 1,
                 "u.csv:3:3: the quoted field that starts here is never closed", check=True)
    env.write("h.csv", b"a,b\xff\xfe,c\n1,2,3\n".decode("latin-1"))
    with open(env.path("h.csv"), "wb") as f:
        f.write(b"a,b\xff\xfe,c\n1,2,3\n")
    expect_error(env, load_yaml("file: h.csv"), 1,
                 "h.csv:1:4: the header's column 2 is not valid UTF-8 (byte 0xff)", check=True)
    env.write("k.csv", "a,b\n1,2\n")
    expect_error(env, load_yaml("file: k.csv, arrays: { X: 'a,z' }"), 2,
                 "array 'X': '%s' has no column 'z' (its 2 columns: 'a', 'b')" % env.path("k.csv"), check=True)
    expect_error(env, load_yaml("file: k.csv, arrays: { X: 'a,0' }"), 2, "column 'a' of", "is named twice")
    expect_error(env, load_yaml("file: k.csv, dtypes: { Z: float64 }"), 2, "'dtypes' names array 'Z'")
    expect_error(env, load_yaml("file: k.csv, dtypes: { X: uint8 }"), 2, "dtype 'uint8' is not one load.csv reads")
    expect_error(env, load_yaml("file: k.csv, delimiter: ab"), 2, "'delimiter' must be one character")
    expect_error(env, load_yaml("file: none.csv"), 3, "cannot open CSV file")
    env.write("e.csv", "a,b\n")
    expect_error(env, load_yaml("file: e.csv"), 1, "has a header but no data rows")
    env.write("z.csv", "\n\n")
    expect_error(env, load_yaml("file: z.csv"), 1, "has no records")
    env.write("i.csv", "a\n1\n2.5\n")
    expect_error(env, load_yaml("file: i.csv, sample_rows: 1"), 1, "i.csv:3:1: '2.5' in column 'a' is not a int64 integer")


def test_gzip(args):
    """A .csv.gz (two gzip members, as `cat a.gz b.gz` makes) gives the plain
    file's values at every chunk size and thread count; .tsv.gz is tab
    separated; a damaged stream is an I/O error."""
    import gzip
    env = Env(args, "gzip")
    rng = random.Random(3)
    lines = ['v,"t",w'] + ["%r,%s,%d" % (rng.uniform(-1, 1), quoted_text(rng, i), i) for i in range(500)]
    text = "\n".join(lines) + "\n"
    env.write("p.csv", text)
    half = len(text) // 2
    with open(env.path("g.csv.gz"), "wb") as f:
        f.write(gzip.compress(text[:half].encode()) + gzip.compress(text[half:].encode()))
    env.run(load_yaml("file: p.csv, arrays: { X: 'v,w' }"))
    want = env.read("load", "X")
    for cr in (3, 64, 4096):
        for j in ("1", "2"):
            shutil.rmtree(env.path("w"), ignore_errors=True)
            env.run(load_yaml("file: g.csv.gz, arrays: { X: 'v,w' }", chunk_rows=cr), "-j", j)
            same_bits(env.read("load", "X"), want, "gzip chunk_rows %d -j %s" % (cr, j))
    # streamed into a stage that reads it twice (describe, then a checkpoint of convert): rewinds
    shutil.rmtree(env.path("w"), ignore_errors=True)
    env.run(load_yaml("file: g.csv.gz, arrays: { X: 'v,w' }, checkpoint: false",
                      "  c: { op: convert, input: load, dtype: float32 }\n", chunk_rows=50), "-j", "2")
    same_bits(env.read("c", "X"), want.astype(np.float32), "gzip streamed")
    with open(env.path("t.tsv.gz"), "wb") as f:
        f.write(gzip.compress(b"a\tb\n1\t2\n"))
    env.run(load_yaml("file: t.tsv.gz"))
    same_bits(env.read("load", "X"), np.array([[1, 2]], dtype=np.int64), "tsv.gz")
    data = bytearray(gzip.compress(text.encode() * 20))
    data[len(data) // 2] ^= 0xff
    with open(env.path("bad.csv.gz"), "wb") as f:
        f.write(bytes(data))
    expect_error(env, load_yaml("file: bad.csv.gz"), 3, "cannot decompress '%s' at byte" % env.path("bad.csv.gz"),
                 "check the file with gzip -t")


def test_skip_bad_rows(args):
    env = Env(args, "skip")
    lines = ["a,b"] + ["%d,%d" % (i, 2 * i) for i in range(50)]
    lines[10] = "9,oops"
    lines[20] = "19"
    lines[30] = '29,"7'  # quotes are closed later: this record runs into the next line
    lines[31] = '30"x,2'
    env.write("k.csv", "\n".join(lines) + "\n")
    r = env.run(load_yaml("file: k.csv, on_bad_row: skip", chunk_rows=4), "-j", "2")
    X = env.read("load", "X")
    good = [l for i, l in enumerate(lines[1:], 1) if i not in (10, 20, 30, 31)]
    same_bits(X, np.array([[float(v) for v in l.split(",")] for l in good]), "X skip")
    assert "rows_skipped=3" in r.stdout and "first_skipped_line=11" in r.stdout, r.stdout


def test_cache_follows_the_file(args):
    env = Env(args, "cache")
    env.write("c.csv", "a\n1\n2\n")
    y = load_yaml("file: c.csv", "  d: { op: describe, input: load }\n")
    env.run(y)
    r = env.run(y)
    assert "reused" in r.stdout, r.stdout
    os.utime(env.path("c.csv"), None)
    env.write("c.csv", "a\n1\n3\n")
    r = env.run(y)
    assert "reused" not in r.stdout.split("\n")[0], r.stdout
    assert env.read("load", "X")[1, 0] == 3


def test_convert_csv(args):
    env = Env(args, "convert")
    start = os.path.getmtime(env.dir) - 1
    env.write("v.csv", "a;b;c\n1;2.5;x\n3;NA;y\n")
    out = env.path("v.h5")
    r = subprocess.run([env.sluice, "convert-csv", env.path("v.csv"), out, "--delimiter", ";",
                        "--arrays", "X=a,b", "-j", "2"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with h5py.File(out, "r") as f:
        X = f["X"][...]
    assert X.shape == (2, 2) and X[0, 1] == 2.5 and np.isnan(X[1, 1]), X
    r = subprocess.run([env.sluice, "convert-csv", env.path("v.csv"), out, "--delimiter", ";"],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "'x' in column 'c' is not a number" in r.stderr, r.stderr
    r = subprocess.run([env.sluice, "convert-csv", env.path("v.csv")], capture_output=True, text=True)
    assert r.returncode == 2 and "convert-csv needs" in r.stderr, r.stderr
    for argv, msg in ((["a.csv", "b.h5", "c"], "convert-csv takes an input and an output file; 'c' is extra"),
                      (["a.csv", "b.h5", "--arrays", "abc"], "--arrays needs NAME=VALUE"),
                      (["a.csv", "b.h5", "--dtype", "=x"], "--dtype needs NAME=VALUE"),
                      (["a.csv", "b.h5", "--delimiter"], "--delimiter needs one character"),
                      (["a.csv", "b.h5", "--comment"], "--comment needs one character"),
                      (["a.csv", "b.h5", "--bogus"], "unknown option '--bogus' for convert-csv")):
        r = subprocess.run([env.sluice, "convert-csv", *argv], capture_output=True, text=True)
        assert r.returncode == 2 and msg in r.stderr, (argv, r.stderr)
    # the workdir it made is gone
    assert not [n for n in os.listdir(os.environ.get("TMPDIR", "/tmp")) if n.startswith("sluice-convert-")
                and os.path.getmtime(os.path.join(os.environ.get("TMPDIR", "/tmp"), n)) > start], "left a workdir"


if __name__ == "__main__":
    harness.main([test_dialect, test_chunk_and_thread_boundaries, test_exact_numbers, test_missing_values,
                  test_bad_input, test_gzip, test_skip_bad_rows, test_cache_follows_the_file, test_convert_csv])
