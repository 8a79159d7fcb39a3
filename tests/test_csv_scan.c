/* Unit tests of CSV record and field scanning (src/io/csv_scan.c): record
 * ends with quoted newlines and delimiters, "" escapes, CRLF, comment and
 * blank lines, records cut at a buffer's end (incomplete unless at the end
 * of the file), an unterminated quote, text after a closing quote, UTF-8
 * checks, and parsing records into typed rows with NA spellings and the
 * error messages (line:column, value, column), all values worked by hand. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "io/csv_scan.h"

static const sl__csv_dialect comma = {',', '"', '#'};

static size_t rlen(const char *s, int at_eof, long long *open, int64_t *nl)
{
    return sl__csv_record_len(&comma, s, strlen(s), at_eof, open, nl);
}

static void test_record_len(void **state)
{
    (void)state;
    long long open;
    int64_t nl;
    assert_int_equal(rlen("1,2\n3,4\n", 0, &open, &nl), 4);
    assert_int_equal(nl, 1);
    assert_int_equal(rlen("1,2", 0, &open, &nl), 0);  /* more may follow */
    assert_int_equal(rlen("1,2", 1, &open, &nl), 3);  /* the file's end */
    assert_int_equal(rlen("\"a\nb\",2\nx\n", 0, &open, &nl), 8);
    assert_int_equal(nl, 2);
    assert_int_equal(rlen("\"a,\"\"\n\",2\r\nx", 0, &open, &nl), 11);
    assert_int_equal(open, -1);
    assert_int_equal(rlen("1,\"a\n", 0, &open, &nl), 0); /* inside quotes at the buffer's end */
    assert_int_equal(rlen("1,\"a\"", 0, &open, &nl), 0); /* a closing quote or "" ? more decides */
    assert_int_equal(rlen("1,\"a\"", 1, &open, &nl), 5);
    assert_int_equal(open, -1);
    assert_int_equal(rlen("1,\"a\nb", 1, &open, &nl), 6);
    assert_int_equal(open, 2);
    assert_int_equal(rlen("1,a\"b\n", 0, &open, &nl), 6); /* a quote inside a field is text */
    assert_int_equal(rlen("# a \" comment\n1\n", 0, &open, &nl), 14);
    assert_true(sl__csv_record_skipped(&comma, "# a \" comment\n", 14));
    assert_true(sl__csv_record_skipped(&comma, "\r\n", 2));
    assert_true(sl__csv_record_skipped(&comma, "\n", 1));
    assert_false(sl__csv_record_skipped(&comma, ",\n", 2));
}

static void test_split(void **state)
{
    (void)state;
    sl__csv_field f[8];
    const char *rec = "1,\"a,\"\"b\",,x\"y\r\n";
    size_t k = sl__csv_split(&comma, rec, strlen(rec), f, 8);
    assert_int_equal(k, 4);
    assert_int_equal(f[0].n, 1);
    assert_int_equal(f[1].quoted, 1);
    char buf[32];
    assert_int_equal(sl__csv_unquote(&f[1], '"', buf, sizeof buf), 4);
    assert_string_equal(buf, "a,\"b");
    assert_int_equal(f[2].n, 0);
    assert_int_equal(f[3].n, 3); /* x"y: the quote is text, \r\n is not */
    rec = "\"a\"b,2";
    k = sl__csv_split(&comma, rec, strlen(rec), f, 8);
    assert_int_equal(k, 2);
    assert_int_equal(f[0].bad, 1);
    assert_int_equal(sl__csv_split(&comma, "", 0, f, 8), 1); /* one empty field */
    assert_int_equal(sl__csv_split(&comma, "a,b,c,d", 7, f, 2), 4); /* counted past max */
}

static void test_utf8(void **state)
{
    (void)state;
    size_t bad;
    assert_true(sl__csv_utf8_ok("pr\xc3\xa9x,\xe2\x82\xac,\xf0\x9f\x98\x80", 14, &bad));
    assert_false(sl__csv_utf8_ok("ab\xff", 3, &bad));
    assert_int_equal(bad, 2);
    assert_false(sl__csv_utf8_ok("a\xc3", 2, &bad)); /* cut */
    assert_false(sl__csv_utf8_ok("\xc0\xaf", 2, &bad)); /* overlong */
    assert_false(sl__csv_utf8_ok("\xed\xa0\x80", 3, &bad)); /* a surrogate */
}

static const char *const names[] = {"a", "b", "c"};
static const int arr[] = {0, -1, 1};
static const int64_t col[] = {0, 0, 0};
static const sl_dtype dts[] = {SL_FLOAT64, SL_INT64};
static const int64_t ncols[] = {1, 1};
static const char *const na[] = {"", "NA"};

static sl__csv_reader reader(int skip)
{
    sl__csv_reader r = {comma, 3, arr, col, 2, dts, ncols, na, 2, 0, skip, "f.csv", names};
    return r;
}

/* Up to max_rows (at most 4) rows of text, whose first line is line0, into
 * a (column a) and c (column c). */
typedef struct parsed {
    double a[4];
    int64_t c[4];
    int64_t rows, skipped;
    sl_error err;
} parsed;

static sl_status parse(const char *text, int64_t line0, int64_t max_rows, int skip, parsed *out)
{
    void *data[] = {out->a, out->c};
    sl__csv_field f[4];
    sl_error_clear(&out->err);
    sl__csv_reader r = reader(skip);
    return sl__csv_parse(&r, text, strlen(text), line0, data, max_rows, f, &out->rows, &out->skipped, &out->err);
}

static void test_parse_rows(void **state)
{
    (void)state;
    parsed p;
    assert_int_equal(parse("1.5,x,7\n# c\n\n\"2e3\",\"q\nq\",-8\r\nNA,,9", 1, 4, 0, &p), SL_OK);
    assert_int_equal(p.rows, 3);
    assert_true(p.a[0] == 1.5 && p.a[1] == 2000.0 && isnan(p.a[2]));
    assert_true(p.c[0] == 7 && p.c[1] == -8 && p.c[2] == 9);
    /* at most max_rows: the rest is the next chunk's, bad or not */
    assert_int_equal(parse("1,x,2\n3,x,4\nbad", 1, 2, 0, &p), SL_OK);
    assert_int_equal(p.rows, 2);
}

static void expect_error(const char *text, int64_t max_rows, const char *want)
{
    parsed p;
    assert_int_not_equal(parse(text, 10, max_rows, 0, &p), SL_OK);
    if (!strstr(p.err.message, want))
        fail_msg("message '%s' lacks '%s'", p.err.message, want);
}

static void test_parse_errors(void **state)
{
    (void)state;
    expect_error("1,x,2\n1,x\n", 4, "f.csv:11:4: this row has 2 fields, the header 3 (last column 'c')");
    expect_error("1,x,2,3\n", 4, "f.csv:10:7: this row has 4 fields, the header 3");
    expect_error("1,x,2\n1,\"x\ny\",abc\n", 4, "f.csv:12:4: 'abc' in column 'c' is not a number");
    expect_error("1,x,NA\n", 4, "f.csv:10:5: missing value 'NA' in column 'c', which is read as int64");
    expect_error("1,x,2.5\n", 4, "f.csv:10:5: '2.5' in column 'c' is not a int64 integer");
    expect_error("1,x,\"9\"z\n", 4, "f.csv:10:5: text after the closing quote");
    expect_error("1,x,2\n1,\"x\n", 4, "f.csv:11:3: the quoted field that starts here is never closed");
}

static void test_parse_skip(void **state)
{
    (void)state;
    parsed p;
    assert_int_equal(parse("1,x,2\n1,x\nbad,x,3\n4,x,NA\n5,x,6", 1, 4, 1, &p), SL_OK);
    assert_int_equal(p.rows, 2);
    assert_int_equal(p.skipped, 3);
    assert_true(p.a[0] == 1 && p.a[1] == 5 && p.c[0] == 2 && p.c[1] == 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_len), cmocka_unit_test(test_split),       cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_parse_rows), cmocka_unit_test(test_parse_errors), cmocka_unit_test(test_parse_skip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
