/* Private: the ranks of an MPI run.
 *
 * `sluice-mpi` (the build with -Dmpi=enabled) runs one process per rank, each
 * with its own OpenMP threads. Every rank runs the same pipeline, stage by
 * stage in the same order, and the passes split their chunks: rank r computes
 * a contiguous range of global chunks (chunk k is the same rows for every rank
 * count). Whatever the ranks must agree on goes through these calls, which the
 * executor and the scheduler make in the same order on every rank.
 *
 * Without MPI (the serial build, or the MPI build started without mpirun, or
 * before MPI_Init) there is one rank: every call here is then a cheap no-op,
 * so the serial code path is the same code. */
#ifndef SL_DIST_H
#define SL_DIST_H

#include <stddef.h>
#include <stdint.h>
#include "sluice/error.h"

/* Ranks of the run (1 without MPI) and this process's rank (0 without MPI). */
int sl__dist_size(void);
int sl__dist_rank(void);

/* The global chunks [lo, hi) that this rank computes in a pass of nchunks:
 * contiguous ranges in rank order, sizes differing by at most one (a rank
 * may get none when there are more ranks than chunks). */
void sl__dist_range(int64_t nchunks, int64_t *lo, int64_t *hi);

/* Every rank passes its own outcome; every rank returns the same one: SL_OK
 * when all succeeded, else the failure of the lowest failing rank, whose
 * error is copied into err on every rank. A collective call: all ranks must
 * reach it. */
sl_status sl__dist_agree(sl_status s, sl_error *err);

/* Copies n bytes from rank `root` to every rank. */
sl_status sl__dist_bcast(void *buf, size_t n, int root, sl_error *err);

/* Rank 0 folds, in rank order, the items every other rank hands it: each
 * rank r > 0 sends its `count` items of `size` bytes (in blocks), and rank 0
 * calls fold(ctx, item) on each, after the items of rank r - 1. Rank 0
 * passes no items of its own (it folded them as it computed). Once a fold
 * fails, rank 0 still receives the rest (no rank is left waiting) but folds
 * no more, and returns the failure; the other ranks return SL_OK (agree
 * afterwards). */
sl_status sl__dist_fold_at_root(const void *items, int64_t count, size_t size,
                                sl_status (*fold)(void *ctx, const void *item, sl_error *err), void *ctx,
                                sl_error *err);

/* Point to point, for a chain of ranks: n bytes to rank `to`, from rank `from`. */
sl_status sl__dist_send(const void *buf, size_t n, int to, sl_error *err);
sl_status sl__dist_recv(void *buf, size_t n, int from, sl_error *err);

#endif
