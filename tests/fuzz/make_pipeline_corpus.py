#!/usr/bin/python3
"""Writes the seed corpus of fuzz_pipeline (corpus/pipeline here): the shipped
pipelines with their data paths pointed at the harness's d.h5, every op in
valid and broken configurations, config-error snippets, YAML corner cases
(anchors and aliases, flow and block styles, tags, quoting, multiple
documents, bad encodings), and the limits (deep nesting, alias bombs).

usage: /usr/bin/python3 tests/fuzz/make_pipeline_corpus.py [OUTDIR]

The harness's d.h5 holds X float32 20x3 (columns a, b, c), y float32 20 (0/1),
I int32 20x2, g/sub/v float64 20, s (strings) and r3 (rank 3).
Regenerating replaces the generated files only (names start with a digit or a
letter; crash regressions live in ../regressions).
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus", "pipeline")

LOAD = "load: { op: load.hdf5, file: d.h5, arrays: { X: /X, y: /y } }"


def stages(*lines, head=""):
    return head + "stages:\n" + "".join("  %s\n" % l for l in lines)


SEEDS = {}


def seed(name, text):
    assert name not in SEEDS, name
    SEEDS[name] = text if isinstance(text, bytes) else text.encode("utf-8")


def shipped():
    for fn in sorted(os.listdir(os.path.join(ROOT, "pipelines"))):
        if not fn.endswith(".yaml"):
            continue
        text = open(os.path.join(ROOT, "pipelines", fn)).read()
        text = re.sub(r"(op: load\.hdf5, file: )[^,]+", r"\1d.h5", text)
        text = re.sub(r"(op: save\.hdf5, .*file: )[^ ,}]+", r"\1out.h5", text)
        text = re.sub(r"(?m)^workdir: .*$", "workdir: wd", text)
        seed("shipped_" + fn[:-5], text)
        if "weights: [4, 3]" in text:
            seed("shipped_%s_3features" % fn[:-5],
                 text.replace("weights: [4, 3]", "weights: [4, 3, 2]").replace("init_weights: [4, 3]",
                                                                              "init_weights: [4, 3, 2]"))


def valid():
    head = "pipeline: p\ndescription: a seed\nworkdir: wd\nchunk_rows: 7\nthreads: 2\n"
    seed("ops_all", stages(
        LOAD,
        "ints: { op: load.hdf5, file: d.h5, arrays: { I: /I, v: /g/sub/v }, verify: content }",
        "desc: { op: describe, input: load, arrays: [X] }",
        "clean: { op: clean, input: load, nan: { X: impute_mean, y: drop_row }, inf: nan, clip: [-3, 3], "
        "clip_arrays: [X], mean_dtype: input }",
        "conv: { op: convert, input: clean, dtype: float64, arrays: [X, y] }",
        "cols: { op: convert, input: load, columns: [a, 2], column_array: X }",
        "drop: { op: convert, input: load, drop_columns: [-1], label: b, label_array: t }",
        "scale: { op: scale, input: conv, arrays: [X], transform: log1p, factor: [1, 2, 3], offset: [0.5], "
        "domain_errors: nan }",
        "train: { op: split, input: scale, part: train, test_fraction: 0.3, validation_fraction: 0.1, seed: 3 }",
        "val: { op: split, input: scale, part: validation, test_fraction: 0.3, validation_fraction: 0.1, seed: 3 }",
        "test: { op: split, input: scale, part: test, test_fraction: 0.3, shuffle: false }",
        "norm: { op: normalize, input: train, arrays: [X], method: minmax, zero_variance: unit }",
        "norm_test: { op: normalize, input: test, stats: norm }",
        "ls: { op: linreg, input: norm, solver: normal_equations, l2: 0.5, rank_deficient: pinv, "
        "fit_intercept: false }",
        "gd: { op: linreg, input: norm, solver: gradient_descent, epochs: 5, learning_rate: 0.01, batch_size: 4, "
        "seed: 9, init_weights: [1, 2, 3], init_bias: 0.5 }",
        "lr: { op: logreg, input: norm, epochs: 3, learning_rate: 0.2, l2: 0.1, batch_size: 0 }",
        "pred: { op: predict, input: norm_test, model: ls, output: yhat }",
        "prob: { op: predict, input: norm_test, model: lr }",
        "manual: { op: predict, input: norm_test, weights: [1, 0, -1], bias: 2, features: X }",
        "m1: { op: metrics, input: pred, prediction: yhat, metrics: [mse, rmse, mae, r2] }",
        "m2: { op: metrics, input: prob, metrics: [accuracy, log_loss] }",
        "m3: { op: metrics, model: gd, data: norm_test, features: X, truth: y }",
        "save: { op: save.hdf5, input: pred, file: out/p.h5, arrays: [yhat], overwrite: false }",
        "desc_ints: { op: describe, input: ints }",
        head=head))
    seed("block_style", """pipeline: block
stages:
  load:
    op: load.hdf5
    file: d.h5
    arrays:
      X: /X
      y: /y
  conv:
    op: convert
    input: load
    dtype: float64
  fit:
    op: linreg
    input: conv
    solver: gradient_descent
    epochs: 2
  eval:
    op: metrics
    model: fit
    data: conv
    metrics:
      - mse
      - r2
""")
    seed("clean_variants", stages(
        LOAD,
        "a: { op: clean, input: load, nan: { X: impute_median } }",
        "b: { op: clean, input: load, nan: { X: impute_constant }, fill_value: -1.5, inf: keep }",
        "c: { op: clean, input: load, nan: { X: fail, y: keep }, clip_sigma: 2.5 }",
        "d: { op: clean, input: load }"))
    seed("scale_variants", stages(
        LOAD,
        "a: { op: scale, input: load, transform: sqrt }",
        "b: { op: scale, input: load, transform: log, domain_errors: error, factor: [2] }",
        "c: { op: scale, input: load, transform: square, offset: [1, 2, 3] }",
        "d: { op: scale, input: load, transform: none }"))
    seed("convert_ints", stages(
        "load: { op: load.hdf5, file: d.h5, arrays: { I: /I, v: /g/sub/v } }",
        "a: { op: convert, input: load, dtype: int8 }",
        "b: { op: convert, input: load, dtype: uint64, arrays: [I] }",
        "c: { op: convert, input: a, dtype: float32 }",
        "d: { op: describe, input: c }"))
    seed("diamond", stages(
        LOAD,
        "a: { op: convert, input: load, dtype: float64 }",
        "b: { op: convert, input: load, dtype: float32 }",
        "c: { op: normalize, input: a }",
        "d: { op: normalize, input: b, stats: c }"))
    seed("file_order_reversed", stages(
        "m: { op: metrics, input: p }",
        "p: { op: predict, input: n, model: f }",
        "f: { op: linreg, input: n }",
        "n: { op: normalize, input: c }",
        "c: { op: convert, input: load, dtype: float64 }",
        LOAD))
    seed("threads_auto", "threads: auto\nchunk_rows: 1\n" + stages(LOAD, "d: { op: describe, input: load }"))
    seed("checkpoint_settings", "checkpoint: final\n" + stages(
        LOAD, "c: { op: convert, input: load, dtype: float64, checkpoint: false }",
        "d: { op: describe, input: c, checkpoint: true }"))
    seed("absolute_and_dot_paths", stages(
        "load: { op: load.hdf5, file: ./sub/../d.h5, arrays: { X: /X } }",
        "save: { op: save.hdf5, input: load, file: /nonexistent/dir/x.h5 }"))


def selection():
    """Sweeps, folds, select and { best: ... } (plan/expand.c)."""
    cv = ("f: { op: convert, input: load, dtype: float64 }",
          "tr: { op: split, input: f, part: train, folds: 4 }",
          "te: { op: split, input: f, part: test, folds: 4, shuffle: true, seed: 3 }",
          "n: { op: normalize, input: tr, arrays: [X] }",
          "nt: { op: normalize, input: te, stats: n, arrays: [X] }",
          "fit: { op: linreg, input: n, sweep: { l2: [0.1, 1, 1e1], fit_intercept: [true, false] } }",
          "sc: { op: metrics, model: fit, data: nt, metrics: [r2, mse] }",
          "cv: { op: select, input: sc, metric: mse, goal: min }",
          "final: { op: linreg, input: f, l2: { best: cv }, fit_intercept: { best: cv } }")
    seed("select_cv", stages(LOAD, *cv))
    seed("select_one_fold", stages(LOAD, "s: { op: split, input: load, part: test, folds: 5, fold: 2 }",
                                   "d: { op: describe, input: s, sweep: { arrays: [X, y] } }"))
    seed("err_select_folds_differ", stages(LOAD, *cv[:2], cv[2].replace("folds: 4", "folds: 3"), *cv[3:]))
    seed("err_select_best", stages(LOAD, *cv[:-1], "final: { op: linreg, input: f, epochs: { best: cv },"
                                   " l2: [{ best: sc }], sweep: { seed: [{ best: cv }] } }"))


def errors():
    seed("err_empty", "")
    seed("err_comment_only", "# nothing\n")
    seed("err_doc_marker", "---\n")
    seed("err_list", "- a\n- b\n")
    seed("err_scalar", "just text\n")
    seed("err_no_stages", "pipeline: x\n")
    seed("err_stages_list", "stages: [a, b]\n")
    seed("err_stages_empty", "stages: {}\n")
    seed("err_top_typo", "stage:\n  " + LOAD + "\n")
    seed("err_bad_settings", "pipeline: 'bad name!'\nchunk_rows: 0\nthreads: many\nworkdir: ''\n" + stages(LOAD))
    seed("err_chunk_rows_big", "chunk_rows: 99999999999999999999999\n" + stages(LOAD))
    seed("err_chunk_rows_hex", "chunk_rows: 0x10\nthreads: -1\n" + stages(LOAD))
    seed("err_workdir_map", "workdir: { a: 1 }\n" + stages(LOAD))
    seed("err_stage_name", 'stages:\n  "../evil": { op: describe }\n  ".hidden": { op: describe }\n')
    seed("err_stage_scalar", stages("a: describe"))
    seed("err_no_op", stages("a: { input: b }"))
    seed("err_op_list", stages("a: { op: [describe] }"))
    seed("err_unknown_op", stages("a: { op: descibe, input: load }", LOAD))
    seed("err_unknown_param", stages(LOAD, "d: { op: describe, input: load, arrayz: [X] }"))
    seed("err_missing_required", stages(LOAD, "s: { op: split, input: load }"))
    seed("err_unknown_input", stages(LOAD, "d: { op: describe, input: lod }"))
    seed("err_cycle", stages("a: { op: describe, input: b }", "b: { op: describe, input: a }"))
    seed("err_self_cycle", stages("a: { op: convert, input: a }"))
    seed("err_bad_enum", stages(LOAD, "c: { op: convert, input: load, dtype: float46 }"))
    seed("err_bad_numbers", stages(
        LOAD,
        "s: { op: split, input: load, part: test, test_fraction: 1.5, seed: 1.5 }",
        "f: { op: linreg, input: load, epochs: 0, learning_rate: -1, l2: nan, batch_size: -3 }"))
    seed("err_bad_bool", stages(LOAD, "s: { op: split, input: load, part: train, shuffle: maybe }"))
    seed("err_bad_list", stages(LOAD, "d: { op: describe, input: load, arrays: X }"))
    seed("err_bad_map", stages("load: { op: load.hdf5, file: d.h5, arrays: [X, y] }"))
    seed("err_arrays_empty", stages("load: { op: load.hdf5, file: d.h5, arrays: {} }"))
    seed("err_missing_file", stages("load: { op: load.hdf5, file: nope.h5, arrays: { X: /X } }"))
    seed("err_dir_as_file", stages("load: { op: load.hdf5, file: ., arrays: { X: /X } }"))
    seed("err_missing_dataset", stages("load: { op: load.hdf5, file: d.h5, arrays: { X: /nope, y: /g/x/y } }"))
    seed("err_group_dataset", stages("load: { op: load.hdf5, file: d.h5, arrays: { X: /g } }"))
    seed("err_string_dataset", stages("load: { op: load.hdf5, file: d.h5, arrays: { s: /s } }"))
    seed("err_rank3", stages("load: { op: load.hdf5, file: d.h5, arrays: { r: /r3 } }"))
    seed("err_row_mismatch", stages("load: { op: load.hdf5, file: d.h5, arrays: { X: /X, s: /s } }"))
    seed("err_verify", stages("load: { op: load.hdf5, file: d.h5, arrays: { X: /X }, verify: hash }",
                              "d: { op: describe, input: load, verify: stat }"))
    seed("err_shape_weights", stages(LOAD, "p: { op: predict, input: load, weights: [1, 2] }"))
    seed("err_model_not_model", stages(LOAD, "p: { op: predict, input: load, model: load }"))
    seed("err_metrics_args", stages(LOAD, "m: { op: metrics, metrics: [mse, f1] }",
                                    "m2: { op: metrics, input: load, model: load }"))
    seed("err_columns", stages(LOAD, "c: { op: convert, input: load, columns: [zz, 7, -9], drop_columns: [a] }"))
    seed("err_label_missing_array", stages(LOAD, "c: { op: convert, input: load, label: q, column_array: Z }"))
    seed("err_stats_not_normalize", stages(LOAD, "n: { op: normalize, input: load, stats: load }"))
    seed("err_save_checkpoint", "workdir: wd\n" + stages(LOAD, "s: { op: save.hdf5, input: load, file: wd/load.h5 }"))
    seed("err_save_overwrites_input", stages(LOAD, "s: { op: save.hdf5, input: load, file: d.h5 }",
                                             "t: { op: save.hdf5, input: load, file: ./d.h5 }"))
    seed("err_int_features", stages("load: { op: load.hdf5, file: d.h5, arrays: { X: /I, y: /y } }",
                                    "f: { op: linreg, input: load }", "n: { op: normalize, input: load }"))
    seed("err_labels_2d", stages("load: { op: load.hdf5, file: d.h5, arrays: { X: /X, y: /I } }",
                                 "f: { op: logreg, input: load }"))


def yaml_corners():
    seed("yaml_anchors", """base: &base { op: convert, dtype: float64 }
stages:
  load: &l { op: load.hdf5, file: d.h5, arrays: &arr { X: /X, y: /y } }
  a: { op: convert, input: load, dtype: &dt float64 }
  b: { op: convert, input: a, dtype: *dt }
  c: { op: describe, input: *dt }
""")
    seed("yaml_alias_stage", """stages:
  load: &L { op: load.hdf5, file: d.h5, arrays: { X: /X } }
  load2: *L
  d: &D { op: describe, input: load }
  e: *D
""")
    seed("yaml_alias_key", """stages:
  &k load: { op: load.hdf5, file: d.h5, arrays: { X: /X } }
  d: { op: describe, input: *k }
""")
    seed("yaml_merge_key", """stages:
  load: { op: load.hdf5, file: d.h5, arrays: { X: /X } }
  d: { <<: { op: describe }, input: load }
""")
    seed("yaml_recursive_alias", "a: &a [1, *a]\nstages: {}\n")
    seed("yaml_unknown_alias", "stages: *nothing\n")
    seed("yaml_redefined_anchor", "x: &a 1\ny: &a [2]\nstages: { s: { op: describe, input: *a } }\n")
    bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 9):
        bomb += "a%d: &a%d [%s]\n" % (i, i, ", ".join(["*a%d" % (i - 1)] * 10))
    seed("yaml_alias_bomb", bomb + "stages: { s: { op: describe, input: *a8 } }\n")
    seed("yaml_deep_flow", "stages: " + "[" * 70 + "]" * 70 + "\n")
    seed("yaml_deep_flow_ok", "description: " + "[" * 60 + "]" * 60 + "\nstages: { d: { op: describe } }\n")
    deep = "stages:\n"
    for i in range(70):
        deep += "  " * (i + 1) + "k%d:\n" % i
    seed("yaml_deep_block", deep + "  " * 71 + "leaf\n")
    seed("yaml_deep_map_flow", "stages: " + "{a: " * 65 + "b" + "}" * 65 + "\n")
    seed("yaml_tags", """stages:
  !!str load: !!map { op: !!str load.hdf5, file: !custom d.h5, arrays: { X: /X } }
  c: { op: convert, input: load, dtype: !!str float32 }
  s: { op: split, input: c, part: train, shuffle: !!bool true, seed: !!int 3, test_fraction: !!float 0.5 }
""")
    seed("yaml_quoting", """'stages':
  "load": { op: 'load.hdf5', file: "d.h5", arrays: { "X": '/X', y: "/\\u0079" } }
  'd': { "op": describe, input: 'load', arrays: ["X", 'y'] }
""")
    seed("yaml_block_scalars", """description: |
  a literal
  block
stages:
  load: { op: load.hdf5, file: >-
      d.h5, arrays: { X: /X } }
  d: { op: describe, input: load, description: "folded\\nline" }
""")
    seed("yaml_null_values", stages("load: { op: load.hdf5, file: ~, arrays: null }", "d: { op: describe, input: }"))
    seed("yaml_bools_nulls", stages(LOAD, "s: { op: split, input: load, part: test, shuffle: False, seed: Null }",
                                    "t: { op: split, input: load, part: test, shuffle: yes }"))
    seed("yaml_numbers", stages(LOAD,
                                "a: { op: scale, input: load, factor: [1e3, -.5, +0.25, .inf, -.Inf, .nan], "
                                "offset: [0x1F, 0o17, 1_000, 1e400] }",
                                "b: { op: linreg, input: load, epochs: 1e3, l2: 1e-320, learning_rate: 0x0.8p1 }"))
    seed("yaml_two_docs", "stages: { d: { op: describe } }\n---\nstages: {}\n")
    seed("yaml_doc_end", "---\nstages:\n  " + LOAD + "\n...\n")
    seed("yaml_directives", "%YAML 1.1\n%TAG !e! tag:example.com,2000:\n---\nstages: { load: !e!x { op: describe } }\n")
    seed("yaml_dup_keys", stages(LOAD, "d: { op: describe, input: load, input: load }", LOAD))
    seed("yaml_complex_key", "stages:\n  ? [a, b]\n  : { op: describe }\n  ? { k: v }\n  : x\n")
    seed("yaml_tab", "stages:\n  " + LOAD + "\n\tc: {}\n")
    seed("yaml_unclosed", "stages: { load: { op: load.hdf5, file: 'd.h5, arrays: [X\n")
    seed("yaml_bad_indent", "stages:\n  load: { op: describe }\n bad: 1\n")
    seed("yaml_bom", b"\xef\xbb\xbfstages:\n  " + LOAD.encode() + b"\n")
    seed("yaml_utf16", "stages: { d: { op: describe } }\n".encode("utf-16"))
    seed("yaml_bad_utf8", b"stages:\n  d\xc3\x28: { op: describe }\n  e: { op: \xff\xfe }\n")
    seed("yaml_nul", b"stages:\n  d: { op: desc\x00ribe }\n")
    seed("yaml_control_chars", b"stages:\n  d: { op: \"\\x01\\u2028\\U0001F600\" }\n")
    seed("yaml_unicode_names", "pipeline: caf\u00e9\nstages:\n  \u00e9tape: { op: describe }\n  \U0001F600: {}\n")
    seed("yaml_long_name", stages("%s: { op: describe }" % ("n" * 300), LOAD))
    seed("yaml_long_value", stages("load: { op: load.hdf5, file: %s.h5, arrays: { X: /X } }" % ("f" * 5000)))
    seed("yaml_many_stages", stages(LOAD, *["s%d: { op: %s, input: %s }" % (
        i, "convert, dtype: float64" if i % 2 else "normalize", "load" if i == 0 else "s%d" % (i - 1))
        for i in range(60)]))
    seed("yaml_describe_chain", stages(LOAD, "d0: { op: describe, input: load, arrays: [y] }",
                                       "d1: { op: describe, input: d0, arrays: [y.min] }"))
    seed("yaml_wide_map", "stages:\n  " + LOAD + "\n  d: { op: describe, input: load, arrays: [%s] }\n"
         % ", ".join("a%d" % i for i in range(400)))
    seed("yaml_flow_everything", "{pipeline: f, stages: {load: {op: load.hdf5, file: d.h5, arrays: {X: /X, y: /y}}, "
         "d: {op: describe, input: load}}}")
    seed("yaml_crlf", ("stages:\r\n  " + LOAD + "\r\n  d: { op: describe, input: load }\r\n").encode())
    seed("yaml_no_newline", ("stages: { d: { op: describe, input: load }, " + LOAD + " }").encode())


def main():
    shipped()
    valid()
    selection()
    errors()
    yaml_corners()
    os.makedirs(OUT, exist_ok=True)
    for fn in os.listdir(OUT):
        if fn[0].isalnum():
            os.remove(os.path.join(OUT, fn))
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name + ".yaml"), "wb") as f:
            f.write(data)
    print("wrote %d files to %s" % (len(SEEDS), OUT))


if __name__ == "__main__":
    main()
