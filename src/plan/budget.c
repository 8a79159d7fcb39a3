#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/error_int.h"
#include "plan/budget.h"

void sl__budget_init(sl__budget *b, int64_t total)
{
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    b->total = total;
    b->used = b->peak = 0;
}

void sl__budget_destroy(sl__budget *b)
{
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
}

int sl__budget_take(sl__budget *b, int64_t slot, int want, const atomic_int *cancel)
{
    if (slot <= 0)
        return want;
    if (slot > b->total || want < 1)
        return 0;
    pthread_mutex_lock(&b->mu);
    /* whoever holds the rest gives it back at the end of its pass; wake up
     * now and then to notice a failed run */
    while (b->total - b->used < slot && !(cancel && atomic_load(cancel))) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&b->cv, &b->mu, &ts);
    }
    int n = 0;
    if (b->total - b->used >= slot) {
        int64_t fit = (b->total - b->used) / slot;
        n = fit < want ? (int)fit : want;
        b->used += (int64_t)n * slot;
        if (b->used > b->peak)
            b->peak = b->used;
    }
    pthread_mutex_unlock(&b->mu);
    return n;
}

void sl__budget_give(sl__budget *b, int64_t bytes)
{
    if (bytes <= 0)
        return;
    pthread_mutex_lock(&b->mu);
    b->used -= bytes;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static int64_t frame_row_bytes(const sl_frame *f, int64_t *cols)
{
    int64_t b = 0;
    for (size_t i = 0; f && i < sl_frame_count(f); i++) {
        const sl_array_info *a = sl_frame_array(f, i);
        b += a->cols * (int64_t)sl_dtype_size(a->dtype);
        if (cols)
            *cols += a->cols;
    }
    return b;
}

/* Row bytes of the chunk levels a pass reading each stage's output holds:
 * the stage's output and, when it is streamed, the levels it is computed
 * from (every path down to a stored frame counts). One sweep in pipeline
 * order, where inputs come first, rather than a recursion down each chain:
 * a chain of streamed stages is as deep as the user makes it (100,000), and
 * paths that meet again would be walked once per path. The sums stop at
 * 2^32 bytes a row, far above any budget, so that no product overflows. */
static int64_t *chain_row_bytes(const sl_pipeline *p)
{
    const int64_t cap = (int64_t)1 << 32;
    int64_t *b = malloc((p->n ? p->n : 1) * sizeof *b);
    for (size_t i = 0; b && i < p->n; i++) {
        const sl_stage *s = &p->stages[i];
        b[i] = frame_row_bytes(s->output, NULL);
        for (size_t j = 0; s->checkpoint == SL__CKPT_STREAM && j < s->n_inputs; j++)
            b[i] += b[s->inputs[j].stage];
        if (b[i] > cap)
            b[i] = cap;
    }
    return b;
}

/* Bytes of one slot of a pass of stage st (an upper bound over its passes:
 * every array of every input, streamed levels included, plus its output and
 * the scratch allowance) at chunk_rows rows per chunk; chain from
 * chain_row_bytes. */
static int64_t stage_slot_bytes(const sl_stage *st, const int64_t *chain, int64_t chunk_rows)
{
    const sl_pipeline *p = st->pipe;
    int64_t in = 0, cols = 0;
    for (size_t j = 0; j < st->n_inputs; j++) {
        in += chain[st->inputs[j].stage];
        frame_row_bytes(p->stages[st->inputs[j].stage].output, &cols);
    }
    if (st->n_inputs == 0) /* a source reads into its output frame */
        in += frame_row_bytes(st->output, &cols);
    /* a chunk holds no more rows than the frame it reads (when known), and
     * a reduction's output no more than its rows */
    int64_t in_rows = st->n_inputs ? -1 : sl_frame_rows(st->output);
    for (size_t j = 0; j < st->n_inputs; j++) {
        int64_t r = sl_frame_rows(p->stages[st->inputs[j].stage].output);
        if (r < 0) {
            in_rows = -1;
            break;
        }
        in_rows = r > in_rows ? r : in_rows;
    }
    if (in_rows >= 1 && in_rows < chunk_rows)
        chunk_rows = in_rows;
    int64_t out_rows = sl_frame_rows(st->output);
    if (out_rows < 0 || out_rows > chunk_rows)
        out_rows = chunk_rows;
    return (in + cols * 8) * chunk_rows + frame_row_bytes(st->output, NULL) * out_rows + SL__SLOT_SLACK;
}

void sl__format_bytes(char *buf, size_t size, int64_t bytes)
{
    if (bytes >= ((int64_t)1 << 30))
        snprintf(buf, size, "%.1f GiB", (double)bytes / (double)((int64_t)1 << 30));
    else if (bytes >= ((int64_t)1 << 20))
        snprintf(buf, size, "%.1f MiB", (double)bytes / (double)((int64_t)1 << 20));
    else
        snprintf(buf, size, "%lld bytes", (long long)bytes);
}

/* The most any selected stage needs for one slot of chunk_rows rows. */
static int64_t most_needed(const sl_pipeline *p, const unsigned char *selected, const int64_t *chain,
                           int64_t chunk_rows, const sl_stage **worst)
{
    int64_t most = 0;
    for (size_t i = 0; i < p->n; i++) {
        const sl_stage *st = &p->stages[i];
        if ((selected && !selected[i]) || st->checkpoint == SL__CKPT_STREAM)
            continue;
        int64_t b = stage_slot_bytes(st, chain, chunk_rows);
        if (b > most) {
            most = b;
            if (worst)
                *worst = st;
        }
    }
    return most;
}

sl_status sl__budget_check(const sl_pipeline *p, const unsigned char *selected, int64_t chunk_rows, int64_t total,
                           sl_error *err)
{
    const sl_stage *worst = NULL;
    int64_t *chain = chain_row_bytes(p);
    if (!chain)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    int64_t need = most_needed(p, selected, chain, chunk_rows, &worst);
    if (!worst || need <= total) {
        free(chain);
        return SL_OK;
    }
    /* the largest chunk_rows every stage fits with (need grows with rows) */
    int64_t lo = 0, hi = chunk_rows;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo + 1) / 2;
        if (most_needed(p, selected, chain, mid, NULL) <= total)
            lo = mid;
        else
            hi = mid - 1;
    }
    free(chain);
    char need_s[32], total_s[32], fix[96];
    sl__format_bytes(need_s, sizeof need_s, need);
    sl__format_bytes(total_s, sizeof total_s, total);
    if (lo > 0)
        snprintf(fix, sizeof fix, "set chunk_rows to at most %lld, or raise 'memory' (or --memory)", (long long)lo);
    else
        snprintf(fix, sizeof fix, "raise 'memory' (or --memory)");
    sl__error_set(err, SL_ERR_CONFIG,
                  "one chunk of %lld rows needs %s here (inputs, output and scratch together), more than the "
                  "memory budget of %s; %s",
                  (long long)chunk_rows, need_s, total_s, fix);
    return sl__stage_locate(worst, err, NULL);
}

int sl_parse_size(const char *text, int64_t *out)
{
    static const struct {
        const char *unit;
        double mult;
    } units[] = {{"", 1},       {"B", 1},           {"KB", 1e3},        {"MB", 1e6},           {"GB", 1e9},
                 {"TB", 1e12},  {"KiB", 1024.0},    {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"TiB", 1099511627776.0},
                 {"K", 1024.0}, {"M", 1048576.0},   {"G", 1073741824.0}};
    if (!text)
        return 0;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || errno || !(v >= 0))
        return 0;
    while (*end == ' ')
        end++;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(end, units[i].unit) == 0) {
            double b = v * units[i].mult;
            if (b > 9.0e18)
                return 0;
            *out = (int64_t)b;
            return 1;
        }
    return 0;
}
