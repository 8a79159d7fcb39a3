/* Private kernel: exact k-th smallest value of a column too large to hold in
 * memory, by a few streaming passes (as NumPy's median / nanmedian would
 * find it in memory).
 *
 * Doubles are mapped to 64-bit keys whose unsigned order is the numeric order
 * (-0.0 is taken as +0.0). A selection keeps a key range [lo, hi] known to
 * hold the wanted value, how many values lie in that range (count) and the
 * wanted value's rank among them (k). Each histogram pass counts the values of
 * the range in SL_QSEL_BINS bins of 2^shift keys, and the range narrows to the
 * bin holding rank k: at least SL_QSEL_BINS / 2 times narrower per pass, so
 * at most 6 passes narrow the whole key space to one key. Once the range
 * holds at most SL_QSEL_COLLECT values, one more pass collects them and the
 * wanted value is picked exactly. Counts merge by addition, so the result is
 * exact and depends on neither the thread count nor the chunk size.
 *
 * Memory: SL_QSEL_BINS counts per selection per chunk for a histogram pass,
 * SL_QSEL_COLLECT doubles per selection per chunk for the collect pass. */
#ifndef SL_QUANTILE_H
#define SL_QUANTILE_H

#include <stdint.h>
#include "sluice/frame.h"

#define SL_QSEL_BINS 2048
#define SL_QSEL_COLLECT 4096

typedef struct sl__qsel {
    int64_t k;      /* 0-based rank of the wanted value among the values of [lo, hi] */
    int64_t count;  /* values with a key in [lo, hi] */
    uint64_t lo, hi;
    unsigned shift; /* histogram bins hold 2^shift keys */
    int done;
    double value;   /* the result once done */
} sl__qsel;

typedef enum sl__qsel_step {
    SL_QSEL_STEP_DONE,    /* value is known */
    SL_QSEL_STEP_HIST,    /* the next pass histograms the range */
    SL_QSEL_STEP_COLLECT  /* the next pass collects the range's values */
} sl__qsel_step;

/* Order-preserving key of a value that is not NaN, and back. */
uint64_t sl__qsel_key(double v);
double sl__qsel_unkey(uint64_t key);

/* Starts selecting the k-th smallest (0-based) of n values whose smallest
 * and largest are min and max. n > 0, 0 <= k < n. */
void sl__qsel_init(sl__qsel *q, int64_t n, int64_t k, double min, double max);

sl__qsel_step sl__qsel_next(const sl__qsel *q);

/* Counts the values of one column of a block into hist (SL_QSEL_BINS
 * entries, added to): rows values of type t, `stride` elements apart; rows
 * with drop[r] != 0 (drop may be NULL) and NaNs (and +-Inf when skip_inf)
 * are skipped, as are values outside [lo, hi]. */
void sl__qsel_hist(const sl__qsel *q, const void *data, sl_dtype t, int64_t rows, int64_t stride,
                   const unsigned char *drop, int skip_inf, int64_t *hist);

/* Copies the values of [lo, hi] of one column (skipping as sl__qsel_hist)
 * to out, at most cap of them; returns how many there were (may exceed cap:
 * then the data do not match the counts). */
int64_t sl__qsel_collect(const sl__qsel *q, const void *data, sl_dtype t, int64_t rows, int64_t stride,
                         const unsigned char *drop, int skip_inf, double *out, int64_t cap);

/* Narrows the range to the bin of hist (the merged counts of a histogram
 * pass) holding rank k. Returns 0, or -1 when the counts do not add up to
 * count (the data changed between passes). */
int sl__qsel_narrow(sl__qsel *q, const int64_t *hist);

/* Picks the value from the n collected values (reordered in place).
 * Returns 0, or -1 when n != count. */
int sl__qsel_finish(sl__qsel *q, double *values, int64_t n);

/* Exact k-th smallest (0-based) of n doubles without NaN, reordering them;
 * deterministic. */
double sl__select_kth(double *v, int64_t n, int64_t k);

#endif
