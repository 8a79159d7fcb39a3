/* Unit tests of a frame's array names (src/core/frame.c): every name added
 * is found at its index while the name index grows, names that differ in one
 * character or share a prefix stay apart, a duplicate is refused wherever it
 * comes (before and after the index grew) and leaves the frame as it was, the
 * SL_MAX_ARRAYS cap holds, and a frame of SL_MAX_ARRAYS arrays is planned in
 * a blink (the name check used to be linear: quadratic for the frame). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include "sluice/frame.h"

static void name_of(char *buf, size_t n, const char *prefix, int i)
{
    snprintf(buf, n, "%s%d", prefix, i);
}

static void expect_all_found(const sl_frame *f, const char *prefix, int n)
{
    char name[SL_NAME_MAX];
    for (int i = 0; i < n; i++) {
        name_of(name, sizeof name, prefix, i);
        long at = sl_frame_find(f, name);
        if (at != i)
            fail_msg("'%s' found at %ld, expected %d", name, at, i);
        assert_string_equal(sl_frame_array(f, (size_t)at)->name, name);
    }
}

static void test_find_while_growing(void **state)
{
    (void)state;
    sl_frame *f = sl_frame_new();
    assert_non_null(f);
    sl_error err;
    assert_int_equal(sl_frame_find(f, "a"), -1);
    char name[SL_NAME_MAX];
    for (int i = 0; i < 1000; i++) {
        name_of(name, sizeof name, "a", i);
        assert_int_equal(sl_frame_add(f, name, SL_FLOAT32, 1 + i % 3, &err), SL_OK);
        /* every earlier name still found after each growth of the index */
        if ((i & (i + 1)) == 0 || i % 97 == 0)
            expect_all_found(f, "a", i + 1);
    }
    expect_all_found(f, "a", 1000);
    assert_int_equal(sl_frame_count(f), 1000);
    /* near misses are not found */
    assert_int_equal(sl_frame_find(f, "a1000"), -1);
    assert_int_equal(sl_frame_find(f, "a"), -1);
    assert_int_equal(sl_frame_find(f, "A1"), -1);
    assert_int_equal(sl_frame_find(f, "a01"), -1);
    assert_int_equal(sl_frame_find(f, ""), -1);
    assert_int_equal(sl_frame_find(f, NULL), -1);
    assert_int_equal(sl_frame_array(f, 7)->cols, 1 + 7 % 3);
    sl_frame_free(f);
}

static void test_duplicates_refused(void **state)
{
    (void)state;
    sl_frame *f = sl_frame_new();
    sl_error err;
    char name[SL_NAME_MAX];
    for (int i = 0; i < 300; i++) {
        name_of(name, sizeof name, "x.mean", i);
        assert_int_equal(sl_frame_add(f, name, SL_FLOAT64, 2, &err), SL_OK);
        /* the first, a middle and the latest name again */
        int again[] = {0, i / 2, i};
        for (int k = 0; k < 3; k++) {
            char dup[SL_NAME_MAX];
            name_of(dup, sizeof dup, "x.mean", again[k]);
            assert_int_equal(sl_frame_add(f, dup, SL_FLOAT64, 2, &err), SL_ERR_CONFIG);
            assert_non_null(strstr(err.message, "already has an array named"));
            assert_int_equal(sl_frame_count(f), (size_t)i + 1);
        }
    }
    expect_all_found(f, "x.mean", 300);
    sl_frame_free(f);
}

static void test_cap_and_speed(void **state)
{
    (void)state;
    sl_frame *f = sl_frame_new();
    sl_error err;
    char name[SL_NAME_MAX];
    clock_t t0 = clock();
    for (int i = 0; i < SL_MAX_ARRAYS; i++) {
        name_of(name, sizeof name, "describe.of.describe.", i);
        assert_int_equal(sl_frame_add(f, name, SL_FLOAT64, 1, &err), SL_OK);
    }
    assert_int_equal(sl_frame_add(f, "one.more", SL_FLOAT64, 1, &err), SL_ERR_CONFIG);
    assert_non_null(strstr(err.message, "at most"));
    expect_all_found(f, "describe.of.describe.", SL_MAX_ARRAYS);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    /* ~10^4 adds and finds; the linear check took ~5*10^7 compares (seconds
     * under a sanitizer). CPU time, so a busy machine does not matter. */
    if (secs > 1.0)
        fail_msg("%d arrays took %.2f s of CPU to add and find", SL_MAX_ARRAYS, secs);
    sl_frame_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_while_growing),
        cmocka_unit_test(test_duplicates_refused),
        cmocka_unit_test(test_cap_and_speed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
