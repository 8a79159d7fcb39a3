/* Topological order of the stage graph (Kahn's algorithm with a min-heap, so
 * independent stages keep the order of the file) and cycle reporting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/error_int.h"
#include "plan/pipeline_int.h"

static void heap_push(size_t *h, size_t *n, size_t v)
{
    size_t i = (*n)++;
    h[i] = v;
    while (i > 0 && h[(i - 1) / 2] > h[i]) {
        size_t p = (i - 1) / 2, t = h[p];
        h[p] = h[i];
        h[i] = t;
        i = p;
    }
}

static size_t heap_pop(size_t *h, size_t *n)
{
    size_t top = h[0];
    h[0] = h[--(*n)];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < *n && h[l] < h[m])
            m = l;
        if (r < *n && h[r] < h[m])
            m = r;
        if (m == i)
            break;
        size_t t = h[m];
        h[m] = h[i];
        h[i] = t;
        i = m;
    }
    return top;
}

/* Finds a cycle among the stages left with unmet inputs and describes it in
 * data-flow order ("a -> b -> a"). */
static size_t describe_cycle(size_t n, const size_t *n_inputs, const size_t *const *inputs, const char *const *names,
                             const size_t *indeg, sl_error *err)
{
    size_t start = 0;
    while (start < n && indeg[start] == 0)
        start++;
    if (start == n) { /* only called when some stage is left */
        sl__error_set(err, SL_ERR_INTERNAL, "no cycle found among the unordered stages");
        return 0;
    }
    size_t *seen = calloc(n, sizeof *seen); /* step + 1 at which a stage was visited */
    size_t *path = malloc(n * sizeof *path);
    if (!seen || !path) {
        free(seen);
        free(path);
        sl__error_set(err, SL_ERR_CONFIG, "the stages form a cycle (stage '%s' is on it)", names[start]);
        return start;
    }
    size_t len = 0, v = start, last = start;
    while (!seen[v]) {
        seen[v] = ++len;
        path[len - 1] = v;
        last = v;
        size_t next = v;
        for (size_t j = 0; j < n_inputs[v]; j++)
            if (indeg[inputs[v][j]] > 0) {
                next = inputs[v][j];
                break;
            }
        v = next;
    }
    /* path[seen[v]-1 .. len-1] walks against the data flow and closes at v */
    size_t first = seen[v] - 1;
    char buf[SL_ERROR_MESSAGE_MAX - 128];
    size_t used = 0;
    for (size_t k = len; k-- > first;) {
        int w = snprintf(buf + used, sizeof buf - used, "%s -> ", names[path[k]]);
        if (w < 0 || (size_t)w >= sizeof buf - used) {
            used = sizeof buf - 1;
            break;
        }
        used += (size_t)w;
    }
    if (used < sizeof buf - 1)
        snprintf(buf + used, sizeof buf - used, "%s", names[last]);
    sl__error_set(err, SL_ERR_CONFIG,
                  "the stages form a cycle: %s; a stage cannot read its own output, directly or through others",
                  buf);
    size_t at = last;
    free(seen);
    free(path);
    return at;
}

sl_status sl__dag_sort(size_t n, const size_t *n_inputs, const size_t *const *inputs, const char *const *names,
                       size_t *order, size_t *cycle_at, sl_error *err)
{
    size_t *indeg = calloc(n + 1, sizeof *indeg), *start = calloc(n + 1, sizeof *start);
    size_t edges = 0;
    for (size_t i = 0; i < n; i++)
        edges += n_inputs[i];
    size_t *dependents = malloc((edges ? edges : 1) * sizeof *dependents);
    size_t *heap = malloc((n ? n : 1) * sizeof *heap);
    if (!indeg || !start || !dependents || !heap) {
        free(indeg);
        free(start);
        free(dependents);
        free(heap);
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    /* dependents of stage u, as a compressed row list */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n_inputs[i]; j++)
            start[inputs[i][j] + 1]++;
    for (size_t u = 0; u < n; u++)
        start[u + 1] += start[u];
    size_t *fill = calloc(n + 1, sizeof *fill);
    if (!fill) {
        free(indeg);
        free(start);
        free(dependents);
        free(heap);
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        indeg[i] = n_inputs[i];
        for (size_t j = 0; j < n_inputs[i]; j++) {
            size_t u = inputs[i][j];
            dependents[start[u] + fill[u]++] = i;
        }
    }
    free(fill);
    size_t hn = 0, done = 0;
    for (size_t i = 0; i < n; i++)
        if (indeg[i] == 0)
            heap_push(heap, &hn, i);
    while (hn > 0) {
        size_t u = heap_pop(heap, &hn);
        order[done++] = u;
        for (size_t k = start[u]; k < start[u + 1]; k++)
            if (--indeg[dependents[k]] == 0)
                heap_push(heap, &hn, dependents[k]);
    }
    sl_status s = SL_OK;
    if (done < n) {
        *cycle_at = describe_cycle(n, n_inputs, inputs, names, indeg, err);
        s = SL_ERR_CONFIG;
    }
    free(indeg);
    free(start);
    free(dependents);
    free(heap);
    return s;
}
