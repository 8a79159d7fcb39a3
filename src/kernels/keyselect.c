#include "kernels/keyselect.h"

#define GOLDEN_GAMMA 0x9e3779b97f4a7c15ull

uint64_t sl__mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t sl__row_key(uint64_t seed, uint64_t row)
{
    /* splitmix64: state starts at mix64(seed), output i = mix64(state + (i + 1) * gamma) */
    return sl__mix64(sl__mix64(seed) + (row + 1) * GOLDEN_GAMMA);
}

void sl__kselect_init(sl__kselect *ks, uint64_t want, uint64_t total)
{
    *ks = (sl__kselect){.want = want, .hi = 64};
    if (want == 0) {
        ks->done = 1;
    } else if (want >= total) {
        ks->done = 1;
        ks->last = UINT64_MAX;
    }
}

/* Low end of the bits the next step decides. */
static int lo_bit(const sl__kselect *ks)
{
    return ks->hi > SL__KSELECT_BITS ? ks->hi - SL__KSELECT_BITS : 0;
}

static inline int undecided(const sl__kselect *ks, uint64_t key)
{
    return ks->hi == 64 || (key >> ks->hi) == ks->prefix;
}

void sl__kselect_hist(const sl__kselect *ks, const uint64_t *keys, size_t n, uint64_t *hist)
{
    if (ks->done)
        return;
    int lo = lo_bit(ks);
    uint64_t mask = (1ull << (ks->hi - lo)) - 1;
    for (size_t i = 0; i < n; i++)
        if (undecided(ks, keys[i]))
            hist[(keys[i] >> lo) & mask]++;
}

void sl__kselect_hist_rows(const sl__kselect *ks, uint64_t seed, uint64_t row0, uint64_t rows, uint64_t *hist)
{
    if (ks->done)
        return;
    int lo = lo_bit(ks);
    uint64_t mask = (1ull << (ks->hi - lo)) - 1;
    uint64_t s = sl__mix64(seed);
    for (uint64_t r = row0; r < row0 + rows; r++) {
        uint64_t key = sl__mix64(s + (r + 1) * GOLDEN_GAMMA);
        if (undecided(ks, key))
            hist[(key >> lo) & mask]++;
    }
}

int sl__kselect_step(sl__kselect *ks, const uint64_t *hist)
{
    if (ks->done)
        return 0;
    int lo = lo_bit(ks);
    uint64_t nbins = 1ull << (ks->hi - lo);
    uint64_t need = ks->want - ks->below; /* >= 1: the k-th key is undecided */
    uint64_t cum = 0;
    for (uint64_t b = 0; b < nbins; b++) {
        if (cum + hist[b] < need) {
            cum += hist[b];
            continue;
        }
        /* the need-th undecided key is in bin b */
        uint64_t prefix = ks->hi == 64 ? b : (ks->prefix << (ks->hi - lo)) | b;
        if (cum + hist[b] == need) {
            /* it is the bin's largest key: everything up to the bin's end */
            ks->last = lo == 0 ? prefix : (prefix << lo) | ((1ull << lo) - 1);
            ks->done = 1;
            return 0;
        }
        if (lo == 0)
            return -1; /* equal keys on both sides of the boundary */
        ks->below += cum;
        ks->prefix = prefix;
        ks->hi = lo;
        return 0;
    }
    return -1;
}
