/* Private kernel: per-row random keys and out-of-core exact selection of the
 * k smallest keys.
 *
 * A row's key is a pure function of (seed, row index): the row-th output of a
 * splitmix64 generator seeded with mix64(seed). For one seed the keys of all
 * rows are distinct (row -> state is a bijection modulo 2^64 and mix64 is a
 * bijection), so "the k rows with the smallest keys" is a well-defined set
 * that does not depend on chunking or threads.
 *
 * Selecting them without holding the keys in memory: a few histogram passes
 * over the keys, each counting the keys of the still-undecided range into
 * SL__KSELECT_BINS bins of the next SL__KSELECT_BITS bits, until the k-th
 * smallest key is the last key of its bin. The result is a threshold `last`
 * such that exactly k keys are <= last. Histogram counts are integers, so
 * partial histograms can be summed in any order. */
#ifndef SL_KEYSELECT_H
#define SL_KEYSELECT_H

#include <stddef.h>
#include <stdint.h>

#define SL__KSELECT_BITS 12
#define SL__KSELECT_BINS (1u << SL__KSELECT_BITS)

/* The splitmix64 finalizer (a bijection of 64-bit words). */
uint64_t sl__mix64(uint64_t z);
/* Key of row `row` for `seed`. */
uint64_t sl__row_key(uint64_t seed, uint64_t row);

typedef struct sl__kselect {
    uint64_t want;   /* how many of the smallest keys to select */
    uint64_t below;  /* keys known to be below the undecided range */
    uint64_t prefix; /* undecided range: keys whose top (64 - hi) bits equal prefix */
    int hi;          /* 64 at the start: every key is undecided */
    int done;        /* 1: the selection is exactly the keys <= last (none if want == 0) */
    uint64_t last;
} sl__kselect;

/* Starts a selection of the `want` smallest of `total` keys; want == 0 and
 * want >= total are decided at once. */
void sl__kselect_init(sl__kselect *ks, uint64_t want, uint64_t total);

/* Adds the undecided keys among keys[0..n) to hist (SL__KSELECT_BINS counts). */
void sl__kselect_hist(const sl__kselect *ks, const uint64_t *keys, size_t n, uint64_t *hist);
/* The same for the keys of rows row0 .. row0 + rows - 1 under `seed`. */
void sl__kselect_hist_rows(const sl__kselect *ks, uint64_t seed, uint64_t row0, uint64_t rows, uint64_t *hist);

/* Narrows the undecided range with the histogram of all undecided keys.
 * Returns 0, or -1 when the histogram is inconsistent with the state (fewer
 * keys than wanted) or equal keys straddle the boundary (cannot happen for
 * row keys). Call until ks->done; each step decides SL__KSELECT_BITS more
 * bits, so at most ceil(64 / SL__KSELECT_BITS) steps are needed. */
int sl__kselect_step(sl__kselect *ks, const uint64_t *hist);

/* 1 when key is among the selected (only once ks->done). */
static inline int sl__kselect_has(const sl__kselect *ks, uint64_t key)
{
    return ks->want > 0 && key <= ks->last;
}

#endif
