#include "kernels/shuffle.h"

uint64_t sl__splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

uint64_t sl__stream(uint64_t seed, uint64_t a, uint64_t b)
{
    uint64_t t = seed;
    uint64_t s = sl__splitmix64(&t) ^ a;
    t = s;
    return sl__splitmix64(&t) ^ b;
}

void sl__permutation(int64_t *p, int64_t n, uint64_t state)
{
    for (int64_t i = 0; i < n; i++)
        p[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(sl__splitmix64(&state) % (uint64_t)(i + 1));
        int64_t t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
}
