/* Private kernel: deterministic shuffles for mini-batch training. Every
 * permutation comes from a splitmix64 stream (Steele, Lea & Flood 2014; the
 * generator of Java's SplittableRandom) whose start depends only on the seed
 * and two stream numbers, so an epoch's order is the same on any thread count
 * and easy to reproduce in NumPy (see tests/fixtures/make_models.py):
 *
 *   next(s):   s += 0x9E3779B97F4A7C15; z = s;
 *              z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
 *              z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
 *              return z ^ (z >> 31)                         (mod 2^64)
 *   stream(seed, a, b):  s = seed; s = next(s) ^ a; s = next(s) ^ b; return s
 *                        (each next() on its own copy of the state)
 *   permutation(n, s):   p = [0, 1, ..., n-1];
 *                        for i = n-1 down to 1: j = next(s) % (i + 1); swap p[i], p[j]
 */
#ifndef SL_SHUFFLE_H
#define SL_SHUFFLE_H

#include <stdint.h>

/* Advances the state and returns the next output. */
uint64_t sl__splitmix64(uint64_t *state);

/* Start state of stream (a, b) of a seed. */
uint64_t sl__stream(uint64_t seed, uint64_t a, uint64_t b);

/* p (n entries) = a permutation of 0..n-1 by Fisher-Yates from the state. */
void sl__permutation(int64_t *p, int64_t n, uint64_t state);

#endif
