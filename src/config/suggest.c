/* Did-you-mean suggestions: the candidate nearest to a misspelt word by
 * Damerau-Levenshtein distance (optimal string alignment: insertions,
 * deletions, substitutions and adjacent transpositions each cost 1). */
#include <stdlib.h>
#include <string.h>
#include "config/params_int.h"

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

static size_t min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;
    return m < c ? m : c;
}

/* Case is ignored: "Learning_Rate" is as close to "learning_rate" as it gets.
 * Returns (size_t)-1 when out of memory. */
static size_t osa_distance(const char *a, size_t la, const char *b, size_t lb)
{
    size_t *rows = malloc(3 * (lb + 1) * sizeof *rows);
    if (!rows)
        return (size_t)-1;
    size_t *prev2 = rows, *prev = rows + lb + 1, *cur = rows + 2 * (lb + 1);
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        unsigned char ca = lower((unsigned char)a[i - 1]);
        for (size_t j = 1; j <= lb; j++) {
            unsigned char cb = lower((unsigned char)b[j - 1]);
            size_t cost = ca != cb;
            cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
            if (i > 1 && j > 1 && ca == lower((unsigned char)b[j - 2]) &&
                lower((unsigned char)a[i - 2]) == cb && prev2[j - 2] + 1 < cur[j])
                cur[j] = prev2[j - 2] + 1;
        }
        size_t *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    size_t d = prev[lb];
    free(rows);
    return d;
}

const char *sl__suggest(const char *word, const char *const *candidates, size_t n)
{
    if (!word || !candidates)
        return NULL;
    size_t lw = strlen(word);
    size_t limit = lw / 3 > 1 ? lw / 3 : 1;
    const char *best = NULL;
    size_t best_d = limit + 1;
    for (size_t i = 0; i < n; i++) {
        const char *c = candidates[i];
        if (!c)
            continue;
        size_t lc = strlen(c);
        /* The length difference is a lower bound of the distance; skipping
         * here also keeps a huge word from costing a huge table. */
        size_t diff = lw > lc ? lw - lc : lc - lw;
        if (diff >= best_d)
            continue;
        size_t d = osa_distance(word, lw, c, lc);
        if (d < best_d) {
            best_d = d;
            best = c;
        }
    }
    return best;
}
