/* Unit tests of the positioned YAML tree: positions, scalar styles, aliases,
 * limits and every parse error with its message and exact position. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "config/yaml_doc.h"

static const sl__ynode *parse_ok(const char *text, sl__ydoc **doc)
{
    const sl__ynode *root = NULL;
    sl_error err;
    sl_error_clear(&err);
    sl_status st = sl__ydoc_parse(text, strlen(text), "p.yaml", doc, &root, &err);
    if (st != SL_OK)
        fail_msg("unexpected error: %d:%d: %s", err.line, err.col, err.message);
    assert_non_null(*doc);
    assert_non_null(root);
    return root;
}

static void parse_err(const char *text, int line, int col, const char *message)
{
    sl__ydoc *doc = (sl__ydoc *)1;
    const sl__ynode *root = (const sl__ynode *)1;
    sl_error err;
    sl_error_clear(&err);
    sl_status st = sl__ydoc_parse(text, strlen(text), "p.yaml", &doc, &root, &err);
    assert_int_equal(st, SL_ERR_CONFIG);
    assert_int_equal(err.code, SL_ERR_CONFIG);
    assert_null(doc);
    assert_null(root);
    assert_string_equal(err.file, "p.yaml");
    assert_string_equal(err.message, message);
    assert_int_equal(err.line, line);
    assert_int_equal(err.col, col);
}

static void assert_pos(const sl__ynode *n, sl__ykind kind, int line, int col)
{
    assert_non_null(n);
    assert_int_equal(n->kind, kind);
    assert_int_equal(n->line, line);
    assert_int_equal(n->col, col);
}

static void test_nested_positions(void **state)
{
    (void)state;
    sl__ydoc *doc;
    const sl__ynode *root = parse_ok("pipeline: demo\n"
                                     "stages:\n"
                                     "  load:\n"
                                     "    op: load.hdf5\n"
                                     "    file: \"a.h5\"\n"
                                     "  train: { op: linreg, metrics: [mse, r2] }\n",
                                     &doc);
    assert_pos(root, SL_Y_MAP, 1, 1);
    assert_int_equal(root->n, 2);
    assert_pos(root->keys[1], SL_Y_SCALAR, 2, 1);
    const sl__ynode *stages = sl__ynode_get(root, "stages");
    assert_pos(stages, SL_Y_MAP, 3, 3);
    const sl__ynode *load = sl__ynode_get(stages, "load");
    assert_pos(load, SL_Y_MAP, 4, 5);
    assert_pos(load->keys[1], SL_Y_SCALAR, 5, 5);
    assert_pos(sl__ynode_get(load, "op"), SL_Y_SCALAR, 4, 9);
    assert_pos(sl__ynode_get(load, "file"), SL_Y_SCALAR, 5, 11);
    const sl__ynode *train = sl__ynode_get(stages, "train");
    assert_pos(train, SL_Y_MAP, 6, 10);
    const sl__ynode *metrics = sl__ynode_get(train, "metrics");
    assert_pos(metrics, SL_Y_SEQ, 6, 33);
    assert_int_equal(metrics->n, 2);
    assert_null(metrics->keys);
    assert_pos(metrics->vals[0], SL_Y_SCALAR, 6, 34);
    assert_string_equal(metrics->vals[1]->text, "r2");
    assert_pos(metrics->vals[1], SL_Y_SCALAR, 6, 39);
    sl__ydoc_free(doc);
}

static void test_block_sequence_positions(void **state)
{
    (void)state;
    sl__ydoc *doc;
    const sl__ynode *root = parse_ok("list:\n  - a\n  - [b, c]\n  - k: v\n", &doc);
    const sl__ynode *list = sl__ynode_get(root, "list");
    assert_pos(list, SL_Y_SEQ, 2, 3);
    assert_int_equal(list->n, 3);
    assert_pos(list->vals[0], SL_Y_SCALAR, 2, 5);
    assert_pos(list->vals[1], SL_Y_SEQ, 3, 5);
    assert_pos(list->vals[1]->vals[1], SL_Y_SCALAR, 3, 9);
    assert_pos(list->vals[2], SL_Y_MAP, 4, 5);
    assert_pos(sl__ynode_get(list->vals[2], "k"), SL_Y_SCALAR, 4, 8);
    sl__ydoc_free(doc);
}

static void test_quoted_and_plain(void **state)
{
    (void)state;
    sl__ydoc *doc;
    const sl__ynode *root = parse_ok("a: plain\n"
                                     "b: 'single'\n"
                                     "c: \"dou\\tble\"\n"
                                     "d: !!str 5\n"
                                     "e: |\n  block\n"
                                     "f: 5\n"
                                     "g:\n"
                                     "'h': x\n",
                                     &doc);
    const sl__ynode *n = sl__ynode_get(root, "a");
    assert_string_equal(n->text, "plain");
    assert_int_equal(n->plain, 1);
    n = sl__ynode_get(root, "b");
    assert_string_equal(n->text, "single");
    assert_int_equal(n->plain, 0);
    n = sl__ynode_get(root, "c");
    assert_string_equal(n->text, "dou\tble");
    assert_int_equal(n->plain, 0);
    n = sl__ynode_get(root, "d");
    assert_string_equal(n->text, "5");
    assert_int_equal(n->plain, 0);
    assert_pos(n, SL_Y_SCALAR, 4, 4);
    n = sl__ynode_get(root, "e");
    assert_string_equal(n->text, "block\n");
    assert_int_equal(n->plain, 0);
    assert_int_equal(sl__ynode_get(root, "f")->plain, 1);
    n = sl__ynode_get(root, "g");
    assert_string_equal(n->text, "");
    assert_int_equal(n->plain, 1);
    /* A quoted key is looked up by its text. */
    assert_pos(sl__ynode_get(root, "h"), SL_Y_SCALAR, 9, 6);
    assert_int_equal(root->keys[7]->plain, 0);
    sl__ydoc_free(doc);
}

static void test_kind_names_and_get(void **state)
{
    (void)state;
    sl__ydoc *doc;
    const sl__ynode *root = parse_ok("m: {}\ns: []\nx: abc\nq: ''\nn:\nt: ~\n", &doc);
    assert_string_equal(sl__ynode_kind_name(sl__ynode_get(root, "m")), "a mapping");
    assert_string_equal(sl__ynode_kind_name(sl__ynode_get(root, "s")), "a list");
    assert_string_equal(sl__ynode_kind_name(sl__ynode_get(root, "x")), "a string");
    assert_string_equal(sl__ynode_kind_name(sl__ynode_get(root, "q")), "a string");
    assert_string_equal(sl__ynode_kind_name(sl__ynode_get(root, "n")), "an empty value");
    assert_string_equal(sl__ynode_kind_name(sl__ynode_get(root, "t")), "an empty value");
    assert_string_equal(sl__ynode_kind_name(NULL), "nothing");
    assert_null(sl__ynode_get(root, "missing"));
    assert_null(sl__ynode_get(sl__ynode_get(root, "s"), "x"));
    assert_null(sl__ynode_get(NULL, "x"));
    assert_int_equal(sl__ynode_get(root, "m")->n, 0);
    sl__ydoc_free(doc);
}

static void test_empty_document(void **state)
{
    (void)state;
    const char *texts[] = {"", "# only a comment\n", "---\n", "--- # c\n...\n", "\n\n"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        sl__ydoc *doc;
        const sl__ynode *root = parse_ok(texts[i], &doc);
        assert_pos(root, SL_Y_MAP, 1, 1);
        assert_int_equal(root->n, 0);
        sl__ydoc_free(doc);
    }
    /* A NULL text with length 0 is an empty document too. */
    sl__ydoc *doc;
    const sl__ynode *root;
    sl_error err;
    assert_int_equal(sl__ydoc_parse(NULL, 0, "p.yaml", &doc, &root, &err), SL_OK);
    assert_int_equal(root->kind, SL_Y_MAP);
    sl__ydoc_free(doc);
    sl__ydoc_free(NULL);
}

static void test_non_map_root_allowed(void **state)
{
    (void)state;
    sl__ydoc *doc;
    const sl__ynode *root = parse_ok("[1, 2]\n", &doc);
    assert_pos(root, SL_Y_SEQ, 1, 1);
    sl__ydoc_free(doc);
    root = parse_ok("  hello\n", &doc);
    assert_pos(root, SL_Y_SCALAR, 1, 3);
    assert_string_equal(root->text, "hello");
    sl__ydoc_free(doc);
    root = parse_ok("--- ''\n", &doc);
    assert_int_equal(root->kind, SL_Y_SCALAR);
    sl__ydoc_free(doc);
}

static void test_duplicate_key(void **state)
{
    (void)state;
    parse_err("a: 1\nb:\n  x: 1\n  y: 2\n  x: 3\n", 5, 3,
              "duplicate key 'x' (first defined at line 3, column 3); each key may appear once in a mapping");
    parse_err("{a: 1, \"a\": 2}", 1, 8,
              "duplicate key 'a' (first defined at line 1, column 2); each key may appear once in a mapping");
    /* The same key in different maps is fine. */
    sl__ydoc *doc;
    parse_ok("a: {x: 1}\nb: {x: 1}\n", &doc);
    sl__ydoc_free(doc);
}

static void test_second_document(void **state)
{
    (void)state;
    parse_err("a: 1\n---\nb: 2\n", 2, 1,
              "a second YAML document starts here; expected one document per file (remove the '---' separator "
              "or split the file)");
    parse_err("a: 1\n...\n---\nb: 2\n", 3, 1,
              "a second YAML document starts here; expected one document per file (remove the '---' separator "
              "or split the file)");
}

static void test_syntax_errors(void **state)
{
    (void)state;
    parse_err("a: [1, 2\nb: 3\n", 2, 2,
              "invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence at line 1, column 4)");
    parse_err("a: 1\n b: 2\n", 2, 3, "invalid YAML: mapping values are not allowed in this context");
    parse_err("a:\n\tb: 1\n", 2, 1,
              "invalid YAML: found character that cannot start any token (while scanning for the next token); "
              "indent with spaces, not tabs");
    parse_err("a: 'open\n", 2, 1,
              "invalid YAML: found unexpected end of stream (while scanning a quoted scalar at line 1, column 4)");
    parse_err("a: 1\nb: x\xff\n", 2, 5,
              "invalid YAML: invalid leading UTF-8 octet (character #xFF); the file must be UTF-8 text");
}

static void test_bad_keys(void **state)
{
    (void)state;
    parse_err("? [a, b]\n: 1\n", 1, 3,
              "mapping keys must be scalars (plain or quoted text), found a list as a key");
    parse_err("x: 1\n{a: 1}: 2\n", 2, 1,
              "mapping keys must be scalars (plain or quoted text), found a mapping as a key");
}

static void test_aliases_share(void **state)
{
    (void)state;
    sl__ydoc *doc;
    const sl__ynode *root = parse_ok("base: &b {lr: 0.1}\nk: &s text\none: *b\ntwo: *s\n", &doc);
    const sl__ynode *base = sl__ynode_get(root, "base");
    assert_pos(base, SL_Y_MAP, 1, 7);
    assert_ptr_equal(sl__ynode_get(root, "one"), base);
    /* Scalars are copied with the alias's position. */
    assert_string_equal(sl__ynode_get(root, "two")->text, "text");
    assert_pos(sl__ynode_get(root, "two"), SL_Y_SCALAR, 4, 6);
    assert_ptr_equal(sl__ynode_get(root, "two")->text, sl__ynode_get(root, "k")->text);
    sl__ydoc_free(doc);
    /* A redefined anchor: aliases use the latest definition. */
    root = parse_ok("a: &x 1\nb: &x 2\nc: *x\n", &doc);
    assert_string_equal(sl__ynode_get(root, "c")->text, "2");
    sl__ydoc_free(doc);
    /* An alias may be a key when it names a scalar. */
    root = parse_ok("k: &n name\n*n : v\n", &doc);
    assert_string_equal(sl__ynode_get(root, "name")->text, "v");
    sl__ydoc_free(doc);
}

static void test_alias_errors(void **state)
{
    (void)state;
    parse_err("a: 1\nb: *nope\n", 2, 4, "unknown alias '*nope'; expected an anchor '&nope' on an earlier node");
    parse_err("a: &r [1, *r]\n", 1, 11,
              "alias '*r' refers to a node that contains it; recursive aliases are not supported");
    /* A scalar alias used as a key is located at the alias. */
    parse_err("a: &k b\nb: 1\n*k : 2\n", 3, 1,
              "duplicate key 'b' (first defined at line 2, column 1); each key may appear once in a mapping");
    /* libyaml itself wants '---' before a document that follows '...'. */
    parse_err("a: 1\n...\nb: 2\n", 3, 1, "invalid YAML: did not find expected <document start>");
}

/* Nine levels of ten aliases expand to 10^9 nodes from a few hundred bytes. */
static void test_billion_laughs(void **state)
{
    (void)state;
    char text[2048];
    size_t o = (size_t)snprintf(text, sizeof text, "a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 9; i++) {
        o += (size_t)snprintf(text + o, sizeof text - o, "%c: &%c [", 'a' + i, 'a' + i);
        for (int j = 0; j < 10; j++)
            o += (size_t)snprintf(text + o, sizeof text - o, "%s*%c", j ? ", " : "", 'a' + i - 1);
        o += (size_t)snprintf(text + o, sizeof text - o, "]\n");
    }
    /* Keys, maps and lists before 'f' count 123463 nodes and each *e adds
     * 111111, so the eighth *e on line 6 (column 8 + 7 * 4) crosses one
     * million. */
    parse_err(text, 6, 36,
              "alias '*e' expands the document to more than 1000000 nodes; the limit guards against alias bombs "
              "(use fewer aliases)");
    /* Within the limit, shared nodes are fine. */
    sl__ydoc *doc;
    text[0] = '\0';
    o = (size_t)snprintf(text, sizeof text, "a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 5; i++) {
        o += (size_t)snprintf(text + o, sizeof text - o, "%c: &%c [", 'a' + i, 'a' + i);
        for (int j = 0; j < 10; j++)
            o += (size_t)snprintf(text + o, sizeof text - o, "%s*%c", j ? ", " : "", 'a' + i - 1);
        o += (size_t)snprintf(text + o, sizeof text - o, "]\n");
    }
    const sl__ynode *root = parse_ok(text, &doc);
    assert_int_equal(sl__ynode_get(root, "e")->n, 10);
    sl__ydoc_free(doc);
}

static void test_node_limit_without_aliases(void **state)
{
    (void)state;
    /* "[0,0,...]" with SL_YAML_MAX_NODES items: the sequence itself is one
     * more node, so the last item crosses the limit. */
    size_t items = SL_YAML_MAX_NODES;
    char *text = malloc(items * 2 + 2);
    assert_non_null(text);
    text[0] = '[';
    for (size_t i = 0; i < items; i++) {
        text[1 + 2 * i] = '0';
        text[2 + 2 * i] = i + 1 < items ? ',' : ']';
    }
    text[items * 2 + 1] = '\0';
    char msg[128];
    snprintf(msg, sizeof msg, "the document has more than %d nodes; split it into smaller files", SL_YAML_MAX_NODES);
    parse_err(text, 1, (int)(items * 2), msg);
    free(text);
}

static void nested(char *buf, int levels)
{
    for (int i = 0; i < levels; i++)
        buf[i] = '[';
    for (int i = 0; i < levels; i++)
        buf[levels + i] = ']';
    buf[2 * levels] = '\0';
}

static void test_depth_limit(void **state)
{
    (void)state;
    char buf[4 * SL_YAML_MAX_DEPTH];
    sl__ydoc *doc;
    nested(buf, SL_YAML_MAX_DEPTH);
    const sl__ynode *n = parse_ok(buf, &doc);
    for (int i = 1; i < SL_YAML_MAX_DEPTH; i++)
        n = n->vals[0];
    assert_pos(n, SL_Y_SEQ, 1, SL_YAML_MAX_DEPTH);
    assert_int_equal(n->n, 0);
    sl__ydoc_free(doc);
    nested(buf, SL_YAML_MAX_DEPTH + 1);
    parse_err(buf, 1, SL_YAML_MAX_DEPTH + 1, "nesting is deeper than 64 levels; flatten the document");
    /* Block style counts the same way: mapping level L starts at line L,
     * column L. */
    char block[SL_YAML_MAX_DEPTH * (SL_YAML_MAX_DEPTH + 8)];
    size_t o = 0;
    for (int i = 0; i <= SL_YAML_MAX_DEPTH; i++)
        o += (size_t)snprintf(block + o, sizeof block - o, "%*sk:\n", i, "");
    snprintf(block + o, sizeof block - o, "%*sv\n", SL_YAML_MAX_DEPTH + 1, "");
    parse_err(block, SL_YAML_MAX_DEPTH + 1, SL_YAML_MAX_DEPTH + 1,
              "nesting is deeper than 64 levels; flatten the document");
}

static void test_size_limit(void **state)
{
    (void)state;
    size_t len = (size_t)SL_YAML_MAX_BYTES + 1;
    char *text = malloc(len);
    assert_non_null(text);
    memset(text, '#', len);
    sl__ydoc *doc;
    const sl__ynode *root;
    sl_error err;
    sl_error_clear(&err);
    assert_int_equal(sl__ydoc_parse(text, len, "big.yaml", &doc, &root, &err), SL_ERR_CONFIG);
    assert_string_equal(err.file, "big.yaml");
    assert_int_equal(err.line, 0);
    assert_int_equal(err.col, 0);
    assert_string_equal(err.message, "the YAML text is 16777217 bytes; expected at most 16777216 bytes");
    free(text);
}

static void test_null_error_and_format(void **state)
{
    (void)state;
    sl__ydoc *doc;
    const sl__ynode *root;
    assert_int_equal(sl__ydoc_parse("a: [", 4, "p.yaml", &doc, &root, NULL), SL_ERR_CONFIG);
    assert_null(doc);
    /* The message carries no position; sl_error_format adds it. */
    sl_error err;
    sl_error_clear(&err);
    sl__ydoc_parse("a: 1\na: 2\n", 10, "p.yaml", &doc, &root, &err);
    char buf[512];
    assert_string_equal(sl_error_format(&err, buf, sizeof buf),
                        "p.yaml:2:1: duplicate key 'a' (first defined at line 1, column 1); each key may appear "
                        "once in a mapping");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nested_positions),
        cmocka_unit_test(test_block_sequence_positions),
        cmocka_unit_test(test_quoted_and_plain),
        cmocka_unit_test(test_kind_names_and_get),
        cmocka_unit_test(test_empty_document),
        cmocka_unit_test(test_non_map_root_allowed),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_second_document),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_bad_keys),
        cmocka_unit_test(test_aliases_share),
        cmocka_unit_test(test_alias_errors),
        cmocka_unit_test(test_billion_laughs),
        cmocka_unit_test(test_node_limit_without_aliases),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_null_error_and_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
