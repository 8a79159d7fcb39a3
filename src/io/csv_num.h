/* Numbers of CSV text: exact decimal -> double (the bits strtod gives, in
 * any locale) and int64. Pure functions on a byte range, no NUL needed. */
#ifndef SL_IO_CSV_NUM_H
#define SL_IO_CSV_NUM_H

#include <stddef.h>
#include <stdint.h>

/* Parses s[0..n) as a decimal number: [+-]digits[.digits][(e|E)[+-]digits],
 * or inf, infinity, nan (any case, with a sign). Surrounding spaces are
 * allowed. Hex floats, "0x..", and anything else are refused. 1 with *out
 * correctly rounded (round to nearest even, as strtod), 0 when not a number. */
int sl__csv_parse_double(const char *s, size_t n, double *out);

/* The decimal number (no inf/nan, no spaces) that starts at s, read up to
 * the first byte that cannot continue it or end: the pointer past it, with
 * *out as sl__csv_parse_double gives it; NULL when none starts at s. For
 * parsing a field without finding its end first. */
const char *sl__csv_parse_double_prefix(const char *s, const char *end, double *out);

/* Parses s[0..n) as [+-]digits (surrounding spaces allowed) within int64.
 * 1 when it is, 0 when not a number, -1 when out of range. */
int sl__csv_parse_int64(const char *s, size_t n, int64_t *out);

#endif
