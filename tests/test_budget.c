/* Unit tests of the memory budget (src/plan/budget.c): sizes parsed as
 * documented; a pass gets the slots that fit, at least one, none when one
 * slot is larger than the budget; a pass that cannot get one slot waits
 * until another gives memory back, and stops waiting when the run is
 * cancelled; the peak never exceeds the budget. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "plan/budget.h"

static void test_parse_size(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t bytes;
    } ok[] = {{"0", 0},           {"1048576", 1048576}, {"1e9", 1000000000}, {"512MiB", 512LL << 20},
              {"2 GiB", 2LL << 30}, {"300MB", 300000000}, {"1.5G", 3LL << 29},  {"64K", 65536},
              {"1TB", 1000000000000LL}, {"7B", 7}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t b = -1;
        if (!sl_parse_size(ok[i].text, &b) || b != ok[i].bytes)
            fail_msg("'%s': got %lld, expected %lld", ok[i].text, (long long)b, (long long)ok[i].bytes);
    }
    static const char *const bad[] = {"", "lots", "-1MiB", "12 parsecs", "1MiBs", "nan", "1e30", "MiB"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t b = -1;
        if (sl_parse_size(bad[i], &b))
            fail_msg("'%s' parsed as %lld", bad[i], (long long)b);
    }
    assert_false(sl_parse_size(NULL, &(int64_t){0}));
}

static void test_take_what_fits(void **state)
{
    (void)state;
    sl__budget b;
    sl__budget_init(&b, 100);
    assert_int_equal(sl__budget_take(&b, 30, 4, NULL), 3); /* 90 of 100 */
    assert_int_equal(b.used, 90);
    sl__budget_give(&b, 90);
    assert_int_equal(sl__budget_take(&b, 101, 1, NULL), 0); /* never fits */
    assert_int_equal(sl__budget_take(&b, 25, 2, NULL), 2);
    assert_int_equal(sl__budget_take(&b, 25, 4, NULL), 2); /* the rest */
    assert_int_equal(b.used, 100);
    assert_int_equal(b.peak, 100);
    sl__budget_give(&b, 100);
    assert_int_equal(b.used, 0);
    assert_int_equal(sl__budget_take(&b, 0, 3, NULL), 3); /* nothing to hold */
    assert_int_equal(b.used, 0);
    sl__budget_destroy(&b);
}

typedef struct waiter {
    sl__budget *b;
    atomic_int *cancel;
    int got;
    atomic_int done;
} waiter;

static void *wait_for_slot(void *p)
{
    waiter *w = p;
    w->got = sl__budget_take(w->b, 60, 2, w->cancel);
    atomic_store(&w->done, 1);
    return NULL;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_waits_until_given_back(void **state)
{
    (void)state;
    sl__budget b;
    sl__budget_init(&b, 100);
    assert_int_equal(sl__budget_take(&b, 70, 1, NULL), 1);
    waiter w = {.b = &b};
    atomic_init(&w.done, 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, wait_for_slot, &w), 0);
    sleep_ms(300);
    assert_int_equal(atomic_load(&w.done), 0); /* 30 left: 60 does not fit */
    sl__budget_give(&b, 70);
    pthread_join(t, NULL);
    assert_int_equal(w.got, 1); /* one of the two it wanted fits in 100 */
    assert_int_equal(b.used, 60);
    assert_true(b.peak <= 100);
    sl__budget_destroy(&b);
}

static void test_cancel_stops_waiting(void **state)
{
    (void)state;
    sl__budget b;
    sl__budget_init(&b, 100);
    assert_int_equal(sl__budget_take(&b, 50, 2, NULL), 2);
    atomic_int cancel;
    atomic_init(&cancel, 0);
    waiter w = {.b = &b, .cancel = &cancel};
    atomic_init(&w.done, 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, wait_for_slot, &w), 0);
    sleep_ms(150);
    assert_int_equal(atomic_load(&w.done), 0);
    atomic_store(&cancel, 1);
    pthread_join(t, NULL);
    assert_int_equal(w.got, 0);
    assert_int_equal(b.used, 100);
    sl__budget_destroy(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_take_what_fits),
        cmocka_unit_test(test_waits_until_given_back),
        cmocka_unit_test(test_cancel_stops_waiting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
