/* Private: the resume journal of a stage being computed. While a stage runs,
 * its executor records every few seconds how far each pass has come (chunks
 * done and the accumulator of a reduce at that point) and where the
 * checkpoint writer stands (rows, hash states), after making those rows
 * durable. A run killed mid-stage finds the journal beside the temporary
 * checkpoint and continues from there: passes already done return their
 * accumulator at once, the interrupted pass resumes at its next chunk. The
 * journal is one small binary file, replaced atomically, with a checksum. */
#ifndef SL_JOURNAL_H
#define SL_JOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include "core/hash.h"
#include "sluice/error.h"

typedef struct sl__pass_record {
    char name[64];
    int64_t nchunks;
    int64_t chunks_done;
    int done;
    size_t acc_size;
    void *acc;
} sl__pass_record;

typedef struct sl__journal {
    char *path; /* <checkpoint>.tmp.resume */
    char key[SL_HASH_HEX];
    int64_t chunk_rows, max_rows;
    size_t n_arrays;
    size_t n_passes;
    sl__pass_record *passes;
    int64_t w_rows, w_bytes;   /* writer state when saved */
    void *hash_states;         /* n_arrays states */
    int64_t *leaves;           /* rows of each leaf hashed (sl__ckpt_leaves) */
    int64_t n_leaves;
    int loaded;                /* read from disk: the run is resuming */
    int disabled;              /* a pass that cannot be resumed ran: record nothing more */
    double last_save;
} sl__journal;

/* Starts a journal for a stage; when `path` holds a valid journal for the
 * same key, chunk size, rows and arrays, loads it (j->loaded = 1). */
sl_status sl__journal_open(sl__journal *j, const char *ckpt_path, const char *key, int64_t chunk_rows,
                           int64_t max_rows, size_t n_arrays, sl_error *err);
void sl__journal_close(sl__journal *j);
/* Forgets everything from pass k on (the run took another path). */
void sl__journal_truncate(sl__journal *j, size_t k);
/* Record of pass k, created (empty) when missing. NULL on OOM. */
sl__pass_record *sl__journal_pass(sl__journal *j, size_t k, const char *name, int64_t nchunks, size_t acc_size);
/* Writes the journal to disk (atomically). */
sl_status sl__journal_save(sl__journal *j, sl_error *err);
/* Removes the journal file. */
void sl__journal_remove(const sl__journal *j);
/* Seconds between saves (SLUICE_RESUME_INTERVAL, default 2). */
double sl__journal_interval(void);

#endif
