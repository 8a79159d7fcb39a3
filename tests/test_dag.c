/* Unit tests of the stage graph's topological sort (sl__dag_sort in
 * src/plan/dag.c): chains, diamonds, file order among independent stages,
 * duplicate edges, self-loops and longer cycles with their exact messages and
 * the stage they are reported at, and a 100,000-stage chain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "plan/pipeline_int.h"

#define MAXN 16
#define TAIL "; a stage cannot read its own output, directly or through others"

/* A small graph: names and, per stage, the indices (file order) it reads. */
typedef struct graph {
    size_t n;
    const char *names[MAXN];
    size_t n_in[MAXN];
    size_t in[MAXN][MAXN];
} graph;

static sl_status sort(const graph *g, size_t *order, size_t *cycle_at, sl_error *err)
{
    const size_t *rows[MAXN];
    for (size_t i = 0; i < g->n; i++)
        rows[i] = g->in[i];
    sl_error_clear(err);
    *cycle_at = (size_t)-1;
    for (size_t i = 0; i < g->n; i++)
        order[i] = (size_t)-1;
    return sl__dag_sort(g->n, g->n_in, rows, g->names, order, cycle_at, err);
}

static void expect_order(const graph *g, const size_t *want)
{
    size_t order[MAXN], at;
    sl_error err;
    sl_status s = sort(g, order, &at, &err);
    if (s != SL_OK)
        fail_msg("unexpected error %d: %s", s, err.message);
    assert_int_equal(err.code, SL_OK);
    for (size_t k = 0; k < g->n; k++)
        if (order[k] != want[k])
            fail_msg("order[%zu] = %zu (%s), expected %zu (%s)", k, order[k],
                     order[k] < g->n ? g->names[order[k]] : "?", want[k], g->names[want[k]]);
}

static void expect_cycle(const graph *g, const char *path, size_t at_want)
{
    size_t order[MAXN], at;
    sl_error err;
    sl_status s = sort(g, order, &at, &err);
    assert_int_equal(s, SL_ERR_CONFIG);
    assert_int_equal(err.code, SL_ERR_CONFIG);
    char want[512];
    snprintf(want, sizeof want, "the stages form a cycle: %s" TAIL, path);
    assert_string_equal(err.message, want);
    assert_int_equal(at, at_want);
}

static void test_empty(void **state)
{
    (void)state;
    graph g = {.n = 0};
    size_t order[1], at;
    sl_error err;
    assert_int_equal(sort(&g, order, &at, &err), SL_OK);
}

static void test_single(void **state)
{
    (void)state;
    graph g = {.n = 1, .names = {"only"}};
    const size_t want[] = {0};
    expect_order(&g, want);
}

/* A chain written backwards in the file: c reads b, b reads a. */
static void test_chain_reversed(void **state)
{
    (void)state;
    graph g = {.n = 3, .names = {"c", "b", "a"}, .n_in = {1, 1, 0}, .in = {{1}, {2}, {0}}};
    const size_t want[] = {2, 1, 0};
    expect_order(&g, want);
}

static void test_chain_forward(void **state)
{
    (void)state;
    graph g = {.n = 4, .names = {"a", "b", "c", "d"}, .n_in = {0, 1, 1, 1}, .in = {{0}, {0}, {1}, {2}}};
    const size_t want[] = {0, 1, 2, 3};
    expect_order(&g, want);
}

/* load -> left, right -> join, in file order and with join first. */
static void test_diamond(void **state)
{
    (void)state;
    graph g = {.n = 4, .names = {"load", "left", "right", "join"}, .n_in = {0, 1, 1, 2},
               .in = {{0}, {0}, {0}, {1, 2}}};
    const size_t want[] = {0, 1, 2, 3};
    expect_order(&g, want);

    graph h = {.n = 4, .names = {"join", "load", "left", "right"}, .n_in = {2, 0, 1, 1},
               .in = {{3, 2}, {0}, {1}, {1}}};
    const size_t want_h[] = {1, 2, 3, 0};
    expect_order(&h, want_h);
}

/* Stages with no path between them keep the order of the file. */
static void test_independent_keep_file_order(void **state)
{
    (void)state;
    graph g = {.n = 5, .names = {"e", "d", "c", "b", "a"}};
    const size_t want[] = {0, 1, 2, 3, 4};
    expect_order(&g, want);

    /* x (file 0) reads w (file 3); y and z are free: y, z, w come first in
     * file order, then x as soon as w is done */
    graph h = {.n = 5, .names = {"x", "y", "z", "w", "v"}, .n_in = {1, 0, 0, 0, 1}, .in = {{3}, {0}, {0}, {0}, {0}}};
    /* v (file 4) reads x */
    const size_t want_h[] = {1, 2, 3, 0, 4};
    expect_order(&h, want_h);

    /* two chains interleaved in the file: a1 b1 a2 b2 a3 b3 */
    graph k = {.n = 6, .names = {"a1", "b1", "a2", "b2", "a3", "b3"}, .n_in = {0, 0, 1, 1, 1, 1},
               .in = {{0}, {0}, {0}, {1}, {2}, {3}}};
    const size_t want_k[] = {0, 1, 2, 3, 4, 5};
    expect_order(&k, want_k);

    /* a stage freed late goes before a later-in-file stage freed earlier,
     * because ready stages are taken by file index */
    graph m = {.n = 4, .names = {"late", "free1", "dep", "free2"}, .n_in = {1, 0, 0, 0}, .in = {{2}}};
    /* ready at start: free1 (1), dep (2), free2 (3); late (0) after dep */
    const size_t want_m[] = {1, 2, 0, 3};
    expect_order(&m, want_m);
}

/* The same input named twice (e.g. input: a, model: a) is one dependency. */
static void test_duplicate_edges(void **state)
{
    (void)state;
    graph g = {.n = 3, .names = {"c", "a", "b"}, .n_in = {3, 0, 2}, .in = {{2, 1, 2}, {0}, {1, 1}}};
    const size_t want[] = {1, 2, 0};
    expect_order(&g, want);

    /* duplicate edges on a cycle: a reads b twice, b reads a */
    graph h = {.n = 2, .names = {"a", "b"}, .n_in = {2, 1}, .in = {{1, 1}, {0}}};
    expect_cycle(&h, "b -> a -> b", 1);
}

static void test_self_loop(void **state)
{
    (void)state;
    graph g = {.n = 1, .names = {"a"}, .n_in = {1}, .in = {{0}}};
    expect_cycle(&g, "a -> a", 0);

    /* after a good stage */
    graph h = {.n = 2, .names = {"load", "again"}, .n_in = {0, 2}, .in = {{0}, {0, 1}}};
    expect_cycle(&h, "again -> again", 1);
}

/* a reads b and b reads a: b's output flows into a and a's into b. */
static void test_two_cycle(void **state)
{
    (void)state;
    graph g = {.n = 2, .names = {"a", "b"}, .n_in = {1, 1}, .in = {{1}, {0}}};
    expect_cycle(&g, "b -> a -> b", 1);
}

/* a reads c, b reads a, c reads b: data flows a -> b -> c -> a. */
static void test_three_cycle(void **state)
{
    (void)state;
    graph g = {.n = 3, .names = {"a", "b", "c"}, .n_in = {1, 1, 1}, .in = {{2}, {0}, {1}}};
    expect_cycle(&g, "b -> c -> a -> b", 1);

    /* the same cycle with a source in front and other stages around it */
    graph h = {.n = 5, .names = {"load", "p", "q", "r", "free"}, .n_in = {0, 2, 1, 1, 1},
               .in = {{0}, {0, 3}, {1}, {2}, {0}}};
    /* p reads load and r; q reads p; r reads q: p -> q -> r -> p */
    expect_cycle(&h, "q -> r -> p -> q", 2);
}

/* A stage that only reads from a cycle is not named on it. */
static void test_cycle_with_tail(void **state)
{
    (void)state;
    /* tail (file 0) reads x; x reads y; y reads x */
    graph g = {.n = 3, .names = {"tail", "x", "y"}, .n_in = {1, 1, 1}, .in = {{1}, {2}, {1}}};
    expect_cycle(&g, "y -> x -> y", 2);

    /* tail after the cycle in the file */
    graph h = {.n = 4, .names = {"src", "x", "y", "tail"}, .n_in = {0, 1, 1, 1}, .in = {{0}, {2}, {1}, {1}}};
    expect_cycle(&h, "y -> x -> y", 2);
}

/* 100,000 stages, each reading the next one in the file: the order is the
 * file reversed. */
static void test_long_chain(void **state)
{
    (void)state;
    enum { N = 100000 };
    size_t *n_in = malloc(N * sizeof *n_in), *flat = malloc(N * sizeof *flat), *order = malloc(N * sizeof *order);
    const size_t **in = malloc(N * sizeof *in);
    const char **names = malloc(N * sizeof *names);
    char *text = malloc((size_t)N * 8);
    assert_non_null(n_in);
    assert_non_null(flat);
    assert_non_null(order);
    assert_non_null(in);
    assert_non_null(names);
    assert_non_null(text);
    for (size_t i = 0; i < N; i++) {
        snprintf(text + 8 * i, 8, "s%zu", i);
        names[i] = text + 8 * i;
        n_in[i] = i + 1 < N ? 1 : 0;
        flat[i] = i + 1;
        in[i] = &flat[i];
    }
    size_t at = 12345;
    sl_error err;
    sl_error_clear(&err);
    assert_int_equal(sl__dag_sort(N, n_in, in, names, order, &at, &err), SL_OK);
    for (size_t k = 0; k < N; k++)
        if (order[k] != N - 1 - k)
            fail_msg("order[%zu] = %zu, expected %zu", k, order[k], (size_t)(N - 1 - k));

    /* forward chain: s_i reads s_{i-1} */
    for (size_t i = 0; i < N; i++) {
        n_in[i] = i > 0;
        flat[i] = i - 1;
    }
    assert_int_equal(sl__dag_sort(N, n_in, in, names, order, &at, &err), SL_OK);
    for (size_t k = 0; k < N; k++)
        if (order[k] != k)
            fail_msg("order[%zu] = %zu", k, order[k]);

    /* close the forward chain into one 100,000-stage cycle: the message is
     * cut to fit, but stays one string within the error's buffer */
    n_in[0] = 1;
    flat[0] = N - 1;
    sl_error_clear(&err);
    assert_int_equal(sl__dag_sort(N, n_in, in, names, order, &at, &err), SL_ERR_CONFIG);
    assert_true(strlen(err.message) < sizeof err.message);
    assert_true(strncmp(err.message, "the stages form a cycle: ", 25) == 0);
    assert_true(at < N);
    free(n_in);
    free(flat);
    free(order);
    free(in);
    free(names);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_single),
        cmocka_unit_test(test_chain_reversed),
        cmocka_unit_test(test_chain_forward),
        cmocka_unit_test(test_diamond),
        cmocka_unit_test(test_independent_keep_file_order),
        cmocka_unit_test(test_duplicate_edges),
        cmocka_unit_test(test_self_loop),
        cmocka_unit_test(test_two_cycle),
        cmocka_unit_test(test_three_cycle),
        cmocka_unit_test(test_cycle_with_tail),
        cmocka_unit_test(test_long_chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
