/* Unit tests of stage parameters: typing, defaults, bounds, choices, paths,
 * every error with its message and exact position, the canonical text and
 * did-you-mean suggestions. */
#include <locale.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "config/params_int.h"
#include "config/yaml_doc.h"

static const sl_param_spec linreg_params[] = {
    {"input", SL_PARAM_INPUT, 1, NULL, NULL, 0, 0, "the stage whose frame to fit"},
    {"epochs", SL_PARAM_INT, 0, "100", NULL, 1, 100000, "passes over the data"},
    {"learning_rate", SL_PARAM_NUMBER, 0, "0.1", NULL, 0, 10, "step size of gradient descent"},
    {"shuffle", SL_PARAM_BOOL, 0, "false", NULL, 0, 0, "shuffle rows between epochs"},
    {"label", SL_PARAM_STRING, 0, NULL, NULL, 0, 0, "name of the label array"},
    {"solver", SL_PARAM_CHOICE, 0, "normal_equations", "normal_equations|gradient_descent", 0, 0,
     "how to fit"},
    {"metrics", SL_PARAM_STRING_LIST, 0, "[mse, rmse]", NULL, 0, 0, "metrics to report"},
    {"weights", SL_PARAM_NUMBER_LIST, 0, NULL, NULL, -1, 1, "per-feature weights"},
    {"arrays", SL_PARAM_STRING_MAP, 0, NULL, NULL, 0, 0, "array names to dataset paths"},
    {"seed", SL_PARAM_INT, 0, NULL, NULL, 0, 0, "random seed"},
    {"scale", SL_PARAM_NUMBER, 0, NULL, NULL, 0, 0, "unbounded factor"},
    {"out", SL_PARAM_PATH, 0, "model.h5", NULL, 0, 0, "where to write the model"},
};
static const sl_op linreg = {.name = "linreg", .params = linreg_params,
                             .n_params = sizeof linreg_params / sizeof *linreg_params};

static const sl_param_spec load_params[] = {
    {"file", SL_PARAM_PATH, 1, NULL, NULL, 0, 0, "the HDF5 file to read"},
    {"method", SL_PARAM_CHOICE, 1, NULL, "zscore|minmax", 0, 0, NULL},
};
static const sl_op load = {.name = "load.hdf5", .params = load_params, .n_params = 2};

static const sl_op bare = {.name = "noop", .params = NULL, .n_params = 0};

static const char *const reserved[] = {"op", NULL};

typedef struct built {
    sl__ydoc *doc;
    sl_params *p;
    sl_error err;
    sl_status st;
} built;

static built build_with(const sl_op *op, const char *text, const char *base_dir)
{
    built b;
    const sl__ynode *root;
    sl_error_clear(&b.err);
    b.p = NULL;
    if (sl__ydoc_parse(text, strlen(text), "p.yaml", &b.doc, &root, &b.err) != SL_OK)
        fail_msg("YAML error: %s", b.err.message);
    b.st = sl__params_build(op, root, reserved, base_dir, "p.yaml", &b.p, &b.err);
    return b;
}

static void built_free(built *b)
{
    sl__params_free(b->p);
    sl__ydoc_free(b->doc);
}

static sl_params *build_ok(const sl_op *op, const char *text, const char *base_dir, sl__ydoc **doc)
{
    built b = build_with(op, text, base_dir);
    if (b.st != SL_OK)
        fail_msg("unexpected error: %d:%d: %s", b.err.line, b.err.col, b.err.message);
    assert_non_null(b.p);
    *doc = b.doc;
    return b.p;
}

static void build_err(const sl_op *op, const char *text, int line, int col, const char *message)
{
    built b = build_with(op, text, NULL);
    assert_int_equal(b.st, SL_ERR_CONFIG);
    assert_int_equal(b.err.code, SL_ERR_CONFIG);
    assert_null(b.p);
    assert_string_equal(b.err.file, "p.yaml");
    assert_string_equal(b.err.message, message);
    assert_int_equal(b.err.line, line);
    assert_int_equal(b.err.col, col);
    built_free(&b);
}

/* ---- values ---------------------------------------------------------------------- */

static void test_every_type(void **state)
{
    (void)state;
    sl__ydoc *doc;
    sl_params *p = build_ok(&linreg,
                            "op: linreg\n"
                            "input: normalize\n"
                            "epochs: 250\n"
                            "learning_rate: 2.5e-2\n"
                            "shuffle: True\n"
                            "label: \"y\"\n"
                            "solver: gradient_descent\n"
                            "metrics: [mse, 'r2']\n"
                            "weights: [-1, 0.5, 1]\n"
                            "arrays: {y: /y, X: /X}\n"
                            "seed: -12345678901\n"
                            "scale: .inf\n"
                            "out: /abs/m.h5\n",
                            NULL, &doc);
    assert_string_equal(sl_params_string(p, "input"), "normalize");
    assert_int_equal(sl_params_int(p, "epochs"), 250);
    assert_true(sl_params_number(p, "learning_rate") == 0.025);
    assert_int_equal(sl_params_bool(p, "shuffle"), 1);
    assert_string_equal(sl_params_string(p, "label"), "y");
    assert_string_equal(sl_params_string(p, "solver"), "gradient_descent");
    assert_int_equal(sl_params_len(p, "metrics"), 2);
    assert_string_equal(sl_params_list_string(p, "metrics", 0), "mse");
    assert_string_equal(sl_params_list_string(p, "metrics", 1), "r2");
    assert_null(sl_params_list_string(p, "metrics", 2));
    assert_int_equal(sl_params_len(p, "weights"), 3);
    assert_true(sl_params_list_number(p, "weights", 0) == -1.0);
    assert_true(sl_params_list_number(p, "weights", 1) == 0.5);
    assert_true(sl_params_list_number(p, "weights", 3) == 0.0);
    /* Map keys come back sorted, as in the canonical text. */
    assert_int_equal(sl_params_len(p, "arrays"), 2);
    assert_string_equal(sl_params_map_key(p, "arrays", 0), "X");
    assert_string_equal(sl_params_map_value(p, "arrays", 0), "/X");
    assert_string_equal(sl_params_map_key(p, "arrays", 1), "y");
    assert_string_equal(sl_params_map_value(p, "arrays", 1), "/y");
    assert_null(sl_params_map_key(p, "arrays", 2));
    assert_true(sl_params_int(p, "seed") == INT64_C(-12345678901));
    assert_true(isinf(sl_params_number(p, "scale")) && sl_params_number(p, "scale") > 0);
    assert_string_equal(sl_params_string(p, "out"), "/abs/m.h5");
    /* Numeric getters convert between INT and NUMBER. */
    assert_true(sl_params_number(p, "epochs") == 250.0);
    /* Getters of the wrong kind read as empty. */
    assert_null(sl_params_string(p, "epochs"));
    assert_int_equal(sl_params_len(p, "input"), 0);
    assert_null(sl_params_list_string(p, "weights", 0));
    int line, col;
    sl__params_pos(p, "weights", &line, &col);
    assert_int_equal(line, 9);
    assert_int_equal(col, 10);
    sl__params_free(p);
    sl__ydoc_free(doc);
}

static void test_defaults_and_absent(void **state)
{
    (void)state;
    sl__ydoc *doc;
    sl_params *p = build_ok(&linreg, "{op: linreg, input: a}", NULL, &doc);
    assert_int_equal(sl_params_has(p, "epochs"), 1);
    assert_int_equal(sl_params_int(p, "epochs"), 100);
    assert_true(sl_params_number(p, "learning_rate") == 0.1);
    assert_int_equal(sl_params_has(p, "shuffle"), 1);
    assert_int_equal(sl_params_bool(p, "shuffle"), 0);
    assert_string_equal(sl_params_string(p, "solver"), "normal_equations");
    assert_int_equal(sl_params_len(p, "metrics"), 2);
    assert_string_equal(sl_params_list_string(p, "metrics", 1), "rmse");
    assert_string_equal(sl_params_string(p, "out"), "model.h5");
    /* Defaulted values have no position. */
    int line = -1, col = -1;
    sl__params_pos(p, "epochs", &line, &col);
    assert_int_equal(line, 0);
    assert_int_equal(col, 0);
    sl__params_pos(p, "input", &line, &col);
    assert_int_equal(line, 1);
    assert_int_equal(col, 21);
    /* Optional without default: absent, reads as 0 / NULL / empty. */
    assert_int_equal(sl_params_has(p, "label"), 0);
    assert_null(sl_params_string(p, "label"));
    assert_int_equal(sl_params_has(p, "weights"), 0);
    assert_int_equal(sl_params_len(p, "weights"), 0);
    assert_int_equal(sl_params_len(p, "arrays"), 0);
    assert_null(sl_params_map_value(p, "arrays", 0));
    assert_int_equal(sl_params_int(p, "seed"), 0);
    /* Names outside the schema read as empty too, and the reserved key is
     * not a parameter. */
    assert_int_equal(sl_params_has(p, "op"), 0);
    assert_int_equal(sl_params_has(p, "nope"), 0);
    assert_int_equal(sl_params_int(p, "nope"), 0);
    assert_true(sl_params_number(p, "nope") == 0.0);
    assert_int_equal(sl_params_bool(p, "nope"), 0);
    assert_null(sl_params_string(p, "nope"));
    assert_int_equal(sl_params_len(p, "nope"), 0);
    assert_null(sl_params_list_string(p, "nope", 0));
    assert_true(sl_params_list_number(p, "nope", 0) == 0.0);
    assert_null(sl_params_map_key(p, "nope", 0));
    sl__params_pos(p, "nope", &line, &col);
    assert_int_equal(line, 0);
    sl__params_pos(p, "label", &line, &col);
    assert_int_equal(line, 0);
    assert_int_equal(sl_params_has(NULL, "epochs"), 0);
    assert_null(sl_params_string(NULL, "input"));
    sl__params_free(p);
    sl__params_free(NULL);
    sl__ydoc_free(doc);
}

static void test_single_scalar_lists(void **state)
{
    (void)state;
    sl__ydoc *doc;
    sl_params *p = build_ok(&linreg, "input: a\nmetrics: mae\nweights: 0.25\n", NULL, &doc);
    assert_int_equal(sl_params_len(p, "metrics"), 1);
    assert_string_equal(sl_params_list_string(p, "metrics", 0), "mae");
    assert_int_equal(sl_params_len(p, "weights"), 1);
    assert_true(sl_params_list_number(p, "weights", 0) == 0.25);
    sl__params_free(p);
    sl__ydoc_free(doc);
    /* An empty list is a list. */
    p = build_ok(&linreg, "input: a\nmetrics: []\narrays: {}\n", NULL, &doc);
    assert_int_equal(sl_params_has(p, "metrics"), 1);
    assert_int_equal(sl_params_len(p, "metrics"), 0);
    assert_int_equal(sl_params_has(p, "arrays"), 1);
    sl__params_free(p);
    sl__ydoc_free(doc);
}

static void test_numbers(void **state)
{
    (void)state;
    struct {
        const char *text;
        double want;
    } cases[] = {{"1e3", 1000.0},  {"-2", -2.0},     {".5", 0.5},    {"+1.", 1.0},
                 {"1E-2", 0.01},   {"-.inf", -HUGE_VAL}, {"+.Inf", HUGE_VAL}, {"0", 0.0}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char text[64];
        snprintf(text, sizeof text, "input: a\nscale: %s\n", cases[i].text);
        sl__ydoc *doc;
        sl_params *p = build_ok(&linreg, text, NULL, &doc);
        assert_true(sl_params_number(p, "scale") == cases[i].want);
        sl__params_free(p);
        sl__ydoc_free(doc);
    }
    sl__ydoc *doc;
    sl_params *p = build_ok(&linreg, "input: a\nscale: .NaN\n", NULL, &doc);
    assert_true(isnan(sl_params_number(p, "scale")));
    sl__params_free(p);
    sl__ydoc_free(doc);
}

static void test_number_locale(void **state)
{
    (void)state;
    /* A program may run under a locale whose decimal point is ','. */
    const char *names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "C.UTF-8"};
    const char *set = NULL;
    for (size_t i = 0; i < 4 && !set; i++)
        set = setlocale(LC_NUMERIC, names[i]);
    sl__ydoc *doc;
    sl_params *p = build_ok(&linreg, "input: a\nscale: 2.5\nlearning_rate: 0.25\n", NULL, &doc);
    assert_true(sl_params_number(p, "scale") == 2.5);
    char *canon = sl__params_canonical(p);
    assert_non_null(strstr(canon, "\"learning_rate\":0.25,"));
    assert_non_null(strstr(canon, "\"scale\":2.5,"));
    free(canon);
    sl__params_free(p);
    sl__ydoc_free(doc);
    setlocale(LC_NUMERIC, "C");
}

/* ---- errors -------------------------------------------------------------------------- */

static void test_int_errors(void **state)
{
    (void)state;
    build_err(&linreg, "input: a\nepochs: 1.5\n", 2, 9, "parameter 'epochs' expects an integer, found '1.5'");
    build_err(&linreg, "input: a\nepochs: abc\n", 2, 9, "parameter 'epochs' expects an integer, found 'abc'");
    build_err(&linreg, "input: a\nepochs: [1, 2]\n", 2, 9, "parameter 'epochs' expects an integer, found a list");
    build_err(&linreg, "input: a\nepochs: {a: 1}\n", 2, 9,
              "parameter 'epochs' expects an integer, found a mapping");
    build_err(&linreg, "input: a\nepochs:\n", 2, 8, "parameter 'epochs' expects an integer, found an empty value");
    build_err(&linreg, "input: a\nepochs: '5'\n", 2, 9,
              "parameter 'epochs' expects an integer, found the quoted string '5'; remove the quotes");
    build_err(&linreg, "input: a\nseed: 99999999999999999999\n", 2, 7,
              "parameter 'seed' expects an integer that fits in 64 bits, found '99999999999999999999'");
}

static void test_bounds(void **state)
{
    (void)state;
    build_err(&linreg, "input: a\nepochs: 0\n", 2, 9, "parameter 'epochs' must be between 1 and 100000, found '0'");
    build_err(&linreg, "input: a\nepochs: 100001\n", 2, 9,
              "parameter 'epochs' must be between 1 and 100000, found '100001'");
    build_err(&linreg, "input: a\nlearning_rate: -0.1\n", 2, 16,
              "parameter 'learning_rate' must be between 0 and 10, found '-0.1'");
    build_err(&linreg, "input: a\nlearning_rate: .inf\n", 2, 16,
              "parameter 'learning_rate' must be between 0 and 10, found '.inf'");
    build_err(&linreg, "input: a\nlearning_rate: .nan\n", 2, 16,
              "parameter 'learning_rate' must be between 0 and 10, found '.nan'");
    build_err(&linreg, "input: a\nweights: [0, 1, 1.5]\n", 2, 17,
              "parameter 'weights' must be between -1 and 1, found '1.5' (item 3 of the list)");
    /* The bounds themselves are inside. */
    sl__ydoc *doc;
    sl_params *p = build_ok(&linreg, "input: a\nepochs: 1\nlearning_rate: 10\nweights: [-1, 1]\n", NULL, &doc);
    assert_int_equal(sl_params_int(p, "epochs"), 1);
    sl__params_free(p);
    sl__ydoc_free(doc);
}

static void test_number_errors(void **state)
{
    (void)state;
    build_err(&linreg, "input: a\nscale: 1,5\n", 2, 8, "parameter 'scale' expects a number, found '1,5'");
    build_err(&linreg, "input: a\nscale: \"2.5\"\n", 2, 8,
              "parameter 'scale' expects a number, found the quoted string '2.5'; remove the quotes");
    build_err(&linreg, "input: a\nscale: 1e999\n", 2, 8,
              "parameter 'scale' expects a number within the range of a double, found '1e999'");
    build_err(&linreg, "input: a\nscale: inf\n", 2, 8, "parameter 'scale' expects a number, found 'inf'");
    build_err(&linreg, "input: a\nweights: [1, x]\n", 2, 14,
              "parameter 'weights' expects a number, found 'x' (item 2 of the list)");
    build_err(&linreg, "input: a\nweights: [[1]]\n", 2, 11,
              "parameter 'weights' expects a number, found a list (item 1 of the list)");
    build_err(&linreg, "input: a\nweights: {a: 1}\n", 2, 10,
              "parameter 'weights' expects a number or a list of numbers, found a mapping");
}

static void test_bool_errors(void **state)
{
    (void)state;
    build_err(&linreg, "input: a\nshuffle: yes\n", 2, 10,
              "parameter 'shuffle' expects true or false, found 'yes' (accepted: true, false, True, False, TRUE, "
              "FALSE)");
    build_err(&linreg, "input: a\nshuffle: 'true'\n", 2, 10,
              "parameter 'shuffle' expects true or false, found the quoted string 'true'; remove the quotes");
    const char *ok[] = {"true", "TRUE", "false", "False"};
    for (size_t i = 0; i < 4; i++) {
        char text[64];
        snprintf(text, sizeof text, "input: a\nshuffle: %s\n", ok[i]);
        sl__ydoc *doc;
        sl_params *p = build_ok(&linreg, text, NULL, &doc);
        assert_int_equal(sl_params_bool(p, "shuffle"), i < 2);
        sl__params_free(p);
        sl__ydoc_free(doc);
    }
}

static void test_string_errors(void **state)
{
    (void)state;
    build_err(&linreg, "input: a\nlabel: [y]\n", 2, 8, "parameter 'label' expects a string, found a list");
    build_err(&linreg, "input: a\nlabel: ~\n", 2, 8, "parameter 'label' expects a string, found an empty value");
    build_err(&linreg, "input: ''\n", 1, 8, "parameter 'input' expects a stage name, found an empty string");
    build_err(&linreg, "input: a\nout: \"\"\n", 2, 6, "parameter 'out' expects a file path, found an empty string");
    build_err(&linreg, "input: a\nmetrics: [mse, {a: b}]\n", 2, 16,
              "parameter 'metrics' expects a string, found a mapping (item 2 of the list)");
    build_err(&linreg, "input: a\nmetrics:\n", 2, 9,
              "parameter 'metrics' expects a string or a list of strings, found an empty value");
    build_err(&linreg, "input: a\narrays: [X]\n", 2, 9,
              "parameter 'arrays' expects a mapping of names to strings, found a list");
    build_err(&linreg, "input: a\narrays:\n  X: /X\n  y: {a: 1}\n", 4, 6,
              "parameter 'arrays' expects a string, found a mapping (value of key 'y')");
    /* a list of names is a value too (load.csv's columns), but not an empty one */
    build_err(&linreg, "input: a\narrays:\n  X: /X\n  y: []\n", 4, 6,
              "parameter 'arrays': an empty list (value of key 'y') names nothing");
    /* Long or multi-line values are shortened in messages. */
    build_err(&linreg,
              "input: a\nepochs: \"line one\\nline two is very long, longer than sixty characters in all\"\n", 2,
              9,
              "parameter 'epochs' expects an integer, found the quoted string 'line one\\nline two is very long, "
              "longer than sixty characters...'");
    /* Any scalar is a string, quoted or not. */
    sl__ydoc *doc;
    sl_params *p = build_ok(&linreg, "input: 5\nlabel: ''\nmetrics: [1, true]\n", NULL, &doc);
    assert_string_equal(sl_params_string(p, "input"), "5");
    assert_string_equal(sl_params_string(p, "label"), "");
    assert_string_equal(sl_params_list_string(p, "metrics", 1), "true");
    sl__params_free(p);
    sl__ydoc_free(doc);
}

static void test_choice(void **state)
{
    (void)state;
    build_err(&linreg, "input: a\nsolver: gradient_decent\n", 2, 9,
              "parameter 'solver' expects one of normal_equations, gradient_descent, found 'gradient_decent'; "
              "did you mean 'gradient_descent'?");
    build_err(&linreg, "input: a\nsolver: sgd\n", 2, 9,
              "parameter 'solver' expects one of normal_equations, gradient_descent, found 'sgd'");
    build_err(&load, "file: x.h5\nmethod: ZScore\n", 2, 9,
              "parameter 'method' expects one of zscore, minmax, found 'ZScore'; did you mean 'zscore'?");
    /* A quoted choice is fine. */
    sl__ydoc *doc;
    sl_params *p = build_ok(&load, "file: x.h5\nmethod: \"minmax\"\n", NULL, &doc);
    assert_string_equal(sl_params_string(p, "method"), "minmax");
    sl__params_free(p);
    sl__ydoc_free(doc);
}

static void test_unknown_key(void **state)
{
    (void)state;
    build_err(&linreg, "op: linreg\ninput: a\nlerning_rate: 0.1\n", 3, 1,
              "unknown parameter 'lerning_rate' for op 'linreg'; did you mean 'learning_rate'? (parameters: "
              "input, epochs, learning_rate, shuffle, label, solver, metrics, weights, arrays, seed, scale, out)");
    build_err(&linreg, "input: a\n  # comment\nzzz: 1\n", 3, 1,
              "unknown parameter 'zzz' for op 'linreg' (parameters: input, epochs, learning_rate, shuffle, label, "
              "solver, metrics, weights, arrays, seed, scale, out)");
    /* Reserved keys are candidates for the suggestion, not parameters. */
    build_err(&load, "opp: load.hdf5\nfile: a\nmethod: zscore\n", 1, 1,
              "unknown parameter 'opp' for op 'load.hdf5'; did you mean 'op'? (parameters: file, method)");
    build_err(&bare, "{op: noop, x: 1}", 1, 12, "unknown parameter 'x' for op 'noop' (op 'noop' takes no parameters)");
    sl__ydoc *doc;
    sl_params *p = build_ok(&bare, "op: noop\n", NULL, &doc);
    char *canon = sl__params_canonical(p);
    assert_string_equal(canon, "{}");
    free(canon);
    sl__params_free(p);
    sl__ydoc_free(doc);
}

static void test_missing_required(void **state)
{
    (void)state;
    build_err(&load, "stages:\n  load:\n    op: load.hdf5\n    method: minmax\n", 1, 1,
              "unknown parameter 'stages' for op 'load.hdf5' (parameters: file, method)");
    /* The error points at the stage's mapping. */
    built b;
    const sl__ynode *root;
    sl_error_clear(&b.err);
    const char *text = "stages:\n  load:\n    op: load.hdf5\n    method: minmax\n";
    assert_int_equal(sl__ydoc_parse(text, strlen(text), "p.yaml", &b.doc, &root, &b.err), SL_OK);
    const sl__ynode *stage = sl__ynode_get(sl__ynode_get(root, "stages"), "load");
    b.st = sl__params_build(&load, stage, reserved, NULL, "p.yaml", &b.p, &b.err);
    assert_int_equal(b.st, SL_ERR_CONFIG);
    assert_null(b.p);
    assert_string_equal(b.err.message, "stage is missing required parameter 'file' of op 'load.hdf5' (file path: "
                                       "the HDF5 file to read)");
    assert_int_equal(b.err.line, 3);
    assert_int_equal(b.err.col, 5);
    built_free(&b);
    build_err(&load, "{op: load.hdf5, file: a}", 1, 1,
              "stage is missing required parameter 'method' of op 'load.hdf5' (one of zscore, minmax)");
    build_err(&linreg, "op: linreg\n", 1, 1,
              "stage is missing required parameter 'input' of op 'linreg' (stage name: the stage whose frame to "
              "fit)");
}

static void test_stage_not_mapping(void **state)
{
    (void)state;
    build_err(&linreg, "[a, b]", 1, 1, "a stage must be a mapping of parameters, found a list");
}

static void test_bad_default(void **state)
{
    (void)state;
    static const sl_param_spec specs[] = {{"n", SL_PARAM_INT, 0, "ten", NULL, 0, 0, "a count"}};
    static const sl_op op = {.name = "broken", .params = specs, .n_params = 1};
    built b = build_with(&op, "op: broken\n", NULL);
    assert_int_equal(b.st, SL_ERR_INTERNAL);
    assert_string_equal(b.err.message, "op 'broken' has an invalid default for parameter 'n' ('ten'): parameter 'n' "
                                       "expects an integer, found 'ten'");
    assert_string_equal(b.err.file, "");
    assert_int_equal(b.err.line, 0);
    built_free(&b);
    /* A given value does not read the default. */
    sl__ydoc *doc;
    sl_params *p = build_ok(&op, "n: 3\n", NULL, &doc);
    assert_int_equal(sl_params_int(p, "n"), 3);
    sl__params_free(p);
    sl__ydoc_free(doc);
}

/* ---- paths ------------------------------------------------------------------------------ */

static void check_path(const char *given, const char *base, const char *want)
{
    char text[256];
    snprintf(text, sizeof text, "file: '%s'\nmethod: zscore\n", given);
    sl__ydoc *doc;
    sl_params *p = build_ok(&load, text, base, &doc);
    assert_string_equal(sl_params_string(p, "file"), want);
    sl__params_free(p);
    sl__ydoc_free(doc);
}

static void test_paths(void **state)
{
    (void)state;
    check_path("data/x.h5", "/work/pipes", "/work/pipes/data/x.h5");
    check_path("data/x.h5", "/work/pipes/", "/work/pipes/data/x.h5");
    check_path("data/x.h5", "pipes", "pipes/data/x.h5");
    check_path("/abs/x.h5", "/work/pipes", "/abs/x.h5");
    check_path("x.h5", NULL, "x.h5");
    check_path("x.h5", "", "x.h5");
    /* Defaults are resolved too, and the canonical text holds the result. */
    sl__ydoc *doc;
    sl_params *p = build_ok(&linreg, "input: a\n", "/runs", &doc);
    assert_string_equal(sl_params_string(p, "out"), "/runs/model.h5");
    char *canon = sl__params_canonical(p);
    assert_non_null(strstr(canon, "\"out\":\"/runs/model.h5\""));
    free(canon);
    sl__params_free(p);
    sl__ydoc_free(doc);
}

/* ---- canonical text ---------------------------------------------------------------------- */

static char *canonical_of(const char *text)
{
    sl__ydoc *doc;
    sl_params *p = build_ok(&linreg, text, "/base", &doc);
    char *c = sl__params_canonical(p);
    assert_non_null(c);
    sl__params_free(p);
    sl__ydoc_free(doc);
    return c;
}

static void test_canonical(void **state)
{
    (void)state;
    char *a = canonical_of("op: linreg\n"
                           "input: norm\n"
                           "learning_rate: 1.0\n"
                           "weights: [0.5, 1e0]\n"
                           "arrays: {y: /y, X: /X}\n"
                           "label: \"say \\\"hi\\\"\\n\\ttab\\\\ \\u0001\"\n"
                           "scale: -.inf\n"
                           "epochs: 007\n");
    char *b = canonical_of("epochs: 7\n"
                           "scale: -.Inf\n"
                           "label: \"say \\\"hi\\\"\\n\\ttab\\\\ \\x01\"\n"
                           "arrays:\n  X: /X\n  y: /y\n"
                           "weights:\n  - 5e-1\n  - 1.00\n"
                           "learning_rate: 1e0\n"
                           "input: norm\n"
                           "op: linreg\n");
    assert_string_equal(a, b);
    assert_string_equal(a, "{\"input\":\"norm\",\"epochs\":7,\"learning_rate\":1,\"shuffle\":false,"
                           "\"label\":\"say \\\"hi\\\"\\n\\ttab\\\\ \\u0001\",\"solver\":\"normal_equations\","
                           "\"metrics\":[\"mse\",\"rmse\"],\"weights\":[0.5,1],\"arrays\":{\"X\":\"/X\",\"y\":\"/y\"},"
                           "\"scale\":\"-inf\",\"out\":\"/base/model.h5\"}");
    free(a);
    free(b);
    /* A changed value changes the text; 0.1 is printed with 17 digits. */
    a = canonical_of("input: norm\nlearning_rate: 0.1\nseed: -3\nscale: .nan\n");
    assert_non_null(strstr(a, "\"learning_rate\":0.10000000000000001,"));
    assert_non_null(strstr(a, "\"seed\":-3,"));
    assert_non_null(strstr(a, "\"scale\":\"nan\","));
    free(a);
}

/* ---- suggestions and names --------------------------------------------------------------- */

static void test_suggest(void **state)
{
    (void)state;
    const char *const cands[] = {"input", "epochs", "learning_rate", "solver", "x"};
    assert_string_equal(sl__suggest("lerning_rate", cands, 5), "learning_rate");
    assert_string_equal(sl__suggest("inptu", cands, 5), "input"); /* transposition counts 1 */
    assert_string_equal(sl__suggest("EPOCHS", cands, 5), "epochs");
    assert_string_equal(sl__suggest("slover", cands, 5), "solver");
    assert_string_equal(sl__suggest("y", cands, 5), "x"); /* the limit is at least 1 */
    assert_null(sl__suggest("zzz", cands, 5));
    assert_null(sl__suggest("epxxcs", cands, 5)); /* 3 edits > 6 / 3 */
    assert_string_equal(sl__suggest("epxhcs", cands, 5), "epochs"); /* 2 with a transposition */
    assert_string_equal(sl__suggest("epxchs", cands, 5), "epochs");
    assert_null(sl__suggest("input", cands, 0));
    assert_null(sl__suggest(NULL, cands, 5));
}

static void test_type_names(void **state)
{
    (void)state;
    assert_string_equal(sl_param_type_name(SL_PARAM_INT), "integer");
    assert_string_equal(sl_param_type_name(SL_PARAM_NUMBER), "number");
    assert_string_equal(sl_param_type_name(SL_PARAM_BOOL), "boolean");
    assert_string_equal(sl_param_type_name(SL_PARAM_STRING), "string");
    assert_string_equal(sl_param_type_name(SL_PARAM_CHOICE), "choice");
    assert_string_equal(sl_param_type_name(SL_PARAM_INPUT), "stage name");
    assert_string_equal(sl_param_type_name(SL_PARAM_PATH), "file path");
    assert_string_equal(sl_param_type_name(SL_PARAM_STRING_LIST), "list of strings");
    assert_string_equal(sl_param_type_name(SL_PARAM_NUMBER_LIST), "list of numbers");
    assert_string_equal(sl_param_type_name(SL_PARAM_STRING_MAP), "map of strings");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type),
        cmocka_unit_test(test_defaults_and_absent),
        cmocka_unit_test(test_single_scalar_lists),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_number_locale),
        cmocka_unit_test(test_int_errors),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_number_errors),
        cmocka_unit_test(test_bool_errors),
        cmocka_unit_test(test_string_errors),
        cmocka_unit_test(test_choice),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_stage_not_mapping),
        cmocka_unit_test(test_bad_default),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_canonical),
        cmocka_unit_test(test_suggest),
        cmocka_unit_test(test_type_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
