/* Private: the run's memory budget for chunk buffers.
 *
 * Every pass of the executor holds, per batch slot, the buffers of one chunk
 * at each level it reads and writes plus an allowance for the op's own
 * per-chunk scratch (one float64 copy of the chunk). A pass takes as many
 * slots as it wants (two per thread) or as fit in what is left of the budget,
 * at least one, and waits while another pass holds what one slot needs.
 * Before any stage runs, sl__budget_check makes sure one slot of every
 * stage fits, so a run that cannot fit says so before it starts. */
#ifndef SL_BUDGET_H
#define SL_BUDGET_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include "plan/pipeline_int.h"

#define SL__DEFAULT_MEMORY ((int64_t)1 << 30)
#define SL__MIN_MEMORY ((int64_t)1 << 20)
/* What a slot holds besides rows: buffer alignment and per-chunk partial
 * results (sums, counts), which no op makes larger than this. */
#define SL__SLOT_SLACK ((int64_t)64 << 10)

typedef struct sl__budget {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int64_t total, used, peak;
} sl__budget;

void sl__budget_init(sl__budget *b, int64_t total);
void sl__budget_destroy(sl__budget *b);
/* Takes between 1 and want slots of `slot` bytes; 0 when one slot exceeds
 * the whole budget, or when cancel became set while waiting. */
int sl__budget_take(sl__budget *b, int64_t slot, int want, const atomic_int *cancel);
void sl__budget_give(sl__budget *b, int64_t bytes);

/* Fails when one slot of some selected stage does not fit in `total` bytes,
 * naming the stage that needs the most and the chunk_rows that fits all. */
sl_status sl__budget_check(const sl_pipeline *p, const unsigned char *selected, int64_t chunk_rows, int64_t total,
                           sl_error *err);

/* "512 MiB" style text of a byte count. */
void sl__format_bytes(char *buf, size_t size, int64_t bytes);

#endif
