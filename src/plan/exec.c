/* The chunk executor: streams a pass over row chunks. Thread k of the team
 * reads and computes chunks k, k + T, k + 2T, ... in its own slot: data that
 * lies in its file as in memory (every checkpoint, most source files) is
 * read with pread, outside HDF5, so reading runs on every thread. Each
 * chunk's partial result is then merged, and its checkpoint rows claimed,
 * hashed and written (pwrite, outside HDF5), strictly in chunk order, one
 * chunk at a time, so results depend on the chunk size but never on the
 * thread count. Only what must go through HDF5 (compressed or converted
 * data) is read or written under the HDF5 lock, in batches on the calling
 * thread. Buffers are allocated once per pass, one set per slot. */
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "core/error_int.h"
#include "core/frame_int.h"
#include "io/checkpoint.h"
#include "io/h5util.h"
#include "kernels/blas.h"
#include "plan/budget.h"
#include "plan/exec_int.h"
#include "plan/journal.h"
#include "dist/dist.h"

void *sl_chunk_data(const sl_chunk *c, const char *name)
{
    for (size_t i = 0; i < c->n_arrays; i++)
        if (strcmp(c->arrays[i].info->name, name) == 0)
            return c->arrays[i].data;
    return NULL;
}

int sl_exec_threads(const sl_exec *ex)
{
    return ex->threads;
}

int sl_exec_streaming(const sl_exec *ex)
{
    return ex->capture;
}

/* One slot of a batch: the input chunk, an output chunk, a partial. When the
 * input is streamed, lv[0] is the chunk of the stored (or source) frame at
 * the bottom and each level above is computed from the one below by a
 * generator; the input chunk is the top level. */
typedef struct slot {
    int nlv;
    sl_chunk *lv;
    void **scratch; /* per level above 0: the generator's partial, dropped */
    sl_chunk out;
    void *partial;
    int64_t out_row0; /* where a direct writer puts the slot's output rows */
    sl__blas_counters blas; /* what BLIS did for this chunk */
    sl_status status;
    sl_error err;
    /* a shared scan (pass_run.mem): per member, its partial, the outcome of
     * its chunk(), what BLIS did in it, and its view of the input chunk */
    void **mpart;
    sl_status *mst;
    sl_error *merr;
    sl__blas_counters *mblas;
    sl_chunk *mview;
    /* block streaming (pass_run.block_rows): views of rows of the bottom
     * level and of the top level's buffer */
    sl_chunk bottom_view, top_view;
    int64_t *level_row0, *level_rows, *level_made; /* per level: the chunk's extent, rows computed so far */
} slot;

/* One member's pass in a shared scan. */
typedef struct scan_member {
    sl_exec *ex;
    sl_stage *st;
    const sl_pass *pass;
    void *acc;
    size_t pass_no;
    unsigned char *want; /* per array of the input: what its pass asked for (NULL: every array) */
    atomic_int dead;     /* its pass failed: no more chunk() or merge() for it */
    sl_status status;
    sl_error err;
} scan_member;

#define IN(s) (&(s)->lv[(s)->nlv - 1])

typedef struct pass_run {
    const sl_pass *pass;
    const sl_frame *in_frame; /* input, or the output frame for a source pass */
    const sl_frame *base;     /* the frame read from storage (or a source) at the bottom */
    const sl_pass *source;    /* what reads base's chunks when it is not stored: a source pass */
    int ngen;                 /* generators between base and in_frame */
    const sl_pass **gen;      /* bottom-up */
    unsigned char *want;      /* per array of base */
    int in_memory;            /* every wanted array of base is in memory: chunks are views */
    long *copy_from;          /* copy pass: output array i <- input array copy_from[i] */
    int nslots;
    slot *slots;
    int64_t rows;             /* rows of the input (of the source, for a source pass) */
    int64_t chunk_rows;
    void *block;              /* all chunk buffers */
    sl__ckpt_reader reader;
    int reader_open;
    int parallel_read;   /* each slot reads its own chunk in the parallel step */
    sl__ckpt_writer *writer;
    int direct_write;    /* the writer is direct: rows go to the file with pwrite, outside HDF5 */
    struct sl__budget *budget;
    int64_t reserved;    /* bytes of the budget this pass holds */
    size_t in_row_bytes; /* bytes of a row of the arrays read at the bottom level */
    int64_t lo, hi;      /* the positions in the pass's order this rank computes (all: 0, npos) */
    int64_t stride;      /* > 1: position i is chunk i * stride (sl__exec_sample_next), unless chunk_order */
    char *stash;         /* a rank after the first: its partials, each behind a merge flag, for rank 0 */
    size_t stash_item;   /* bytes of one entry of stash */
    int split_write;     /* the ranks write their own chunks' rows (run_pass_ranks) */
    int64_t next_row;    /* split_write: the output row of this rank's next chunk */
    scan_member *mem;    /* a shared scan: the members' passes (pass is mem[0]'s), else NULL */
    int nmem;
    int64_t block_rows;  /* > 0: the streamed levels are computed this many rows at a time (stream_blocks) */
} pass_run;

static sl_status check_pass(const sl_pass *pass, const void *acc, const sl__ckpt_writer *writer, sl_error *err)
{
    if (!pass->input && !pass->read)
        return sl__error_set(err, SL_ERR_USAGE, "pass '%s' has neither an input frame nor a read callback",
                             pass->name ? pass->name : "?");
    if (!pass->input && (!pass->output || pass->chunk))
        return sl__error_set(err, SL_ERR_USAGE,
                             "source pass '%s' needs an output frame and no chunk callback (read() fills it)",
                             pass->name);
    if (pass->partial_size && (!pass->merge || !acc || !pass->chunk))
        return sl__error_set(err, SL_ERR_USAGE, "pass '%s' has partials but no chunk, merge or accumulator",
                             pass->name);
    if (!pass->chunk && !pass->output)
        return sl__error_set(err, SL_ERR_USAGE, "pass '%s' does nothing: no chunk callback and no output",
                             pass->name);
    if (pass->chunk_order && pass->output)
        return sl__error_set(err, SL_ERR_USAGE, "pass '%s' reorders chunks and so cannot write output", pass->name);
    if (pass->output && !writer)
        return sl__error_set(err, SL_ERR_USAGE,
                             "pass '%s' writes a frame that is not open for writing (use the stage's output)",
                             pass->name);
    return SL_OK;
}

static sl_status check_order(const sl_pass *pass, int64_t nchunks, sl_error *err)
{
    unsigned char *seen = calloc((size_t)(nchunks ? nchunks : 1), 1);
    if (!seen)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_status s = SL_OK;
    for (int64_t k = 0; k < nchunks && s == SL_OK; k++) {
        int64_t c = pass->chunk_order[k];
        if (c < 0 || c >= nchunks || seen[c]++)
            s = sl__error_set(err, SL_ERR_INTERNAL, "pass '%s': chunk_order is not a permutation of 0..%lld",
                              pass->name, (long long)(nchunks - 1));
    }
    free(seen);
    return s;
}

/* Walks down from the input through streamed frames to the frame whose
 * chunks are read: stored, in memory, or produced by a source. */
static sl_status find_chain(pass_run *pr, sl_error *err)
{
    const sl_pass *pass = pr->pass;
    if (!pass->input) {
        pr->base = pr->in_frame;
        pr->source = pass;
        return SL_OK;
    }
    int n = 0;
    for (const sl_frame *f = pass->input; sl__frame_generator(f) && sl__frame_generator(f)->input;
         f = sl__frame_generator(f)->input)
        n++;
    pr->gen = calloc((size_t)(n ? n : 1), sizeof *pr->gen);
    if (!pr->gen)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    const sl_frame *f = pass->input;
    for (int k = n; k-- > 0; f = sl__frame_generator(f)->input)
        pr->gen[k] = sl__frame_generator(f);
    pr->ngen = n;
    pr->base = f;
    const sl_pass *g = sl__frame_generator(f);
    if (g) {
        pr->source = g; /* a streamed source: read() fills base's chunks */
        return SL_OK;
    }
    sl__h5_lock(); /* the path may be moving (a commit): it does so under the lock */
    int stored = sl__frame_path(f) != NULL;
    sl__h5_unlock();
    if (!stored && sl_frame_count(f) > 0 && !sl__frame_mem(f, 0))
        return sl__error_set(err, SL_ERR_INTERNAL, "pass '%s' reads a frame that has no data", pass->name);
    return SL_OK;
}

static size_t row_bytes(const sl_array_info *a)
{
    return (size_t)a->cols * sl_dtype_size(a->dtype);
}

/* Bytes of a row of the arrays read, for bytes_read: as the file holds
 * them when a checkpoint reader says which arrays it stores as float32
 * (narrow: half their row bytes), else as the frame does. */
static size_t input_row_bytes(const pass_run *pr, const unsigned char *narrow)
{
    size_t b = 0;
    for (size_t i = 0; i < sl_frame_count(pr->base); i++)
        if (pr->want[i])
            b += row_bytes(sl_frame_array(pr->base, i)) / (narrow && narrow[i] ? 2 : 1);
    return b;
}

static sl_status select_inputs(pass_run *pr, sl_error *err)
{
    const sl_pass *pass = pr->pass;
    size_t n = sl_frame_count(pr->base);
    pr->want = calloc(n ? n : 1, 1);
    if (!pr->want)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    /* a stored frame, or a streamed source that reads only what is asked,
     * straight under the pass: read the arrays the pass names */
    int by_name = pass->input && pr->ngen == 0 && (!pr->source || sl__frame_partial_source(pr->base));
    if (!by_name || (!pass->input_arrays && !pr->mem)) {
        memset(pr->want, 1, n);
    } else if (pr->mem) {
        /* a shared scan reads what any member asked for */
        for (int m = 0; m < pr->nmem; m++) {
            const char *const *names = pr->mem[m].pass->input_arrays;
            if (!names)
                memset(pr->want, 1, n);
            for (; names && *names; names++) {
                long i = sl_frame_find(pr->in_frame, *names);
                if (i < 0)
                    return sl__error_set(err, SL_ERR_INTERNAL, "pass '%s' reads array '%s', which its input lacks",
                                         pr->mem[m].pass->name, *names);
                pr->want[i] = 1;
            }
        }
    } else {
        for (const char *const *name = pass->input_arrays; *name; name++) {
            long i = sl_frame_find(pr->in_frame, *name);
            if (i < 0)
                return sl__error_set(err, SL_ERR_INTERNAL, "pass '%s' reads array '%s', which its input lacks",
                                     pass->name, *name);
            pr->want[i] = 1;
        }
    }
    pr->in_memory = !pr->source;
    for (size_t i = 0; i < n; i++)
        if (pr->want[i] && !sl__frame_mem(pr->base, i))
            pr->in_memory = 0;
    pr->in_row_bytes = input_row_bytes(pr, NULL);
    return SL_OK;
}

/* A pass without a chunk callback copies input arrays to the output arrays of
 * the same name. */
static sl_status plan_copy(pass_run *pr, sl_error *err)
{
    const sl_pass *pass = pr->pass;
    if (pass->chunk || !pass->input)
        return SL_OK;
    size_t n = sl_frame_count(pass->output);
    pr->copy_from = malloc((n ? n : 1) * sizeof *pr->copy_from);
    if (!pr->copy_from)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const sl_array_info *o = sl_frame_array(pass->output, i);
        long j = sl_frame_find(pass->input, o->name);
        const sl_array_info *a = j >= 0 ? sl_frame_array(pass->input, (size_t)j) : NULL;
        if (!a || a->dtype != o->dtype || a->cols != o->cols || (pr->ngen == 0 && !pr->want[j]))
            return sl__error_set(err, SL_ERR_INTERNAL, "pass '%s' copies array '%s', which its input lacks",
                                 pass->name, o->name);
        pr->copy_from[i] = j;
    }
    return SL_OK;
}

/* Bytes of one chunk buffer, rounded up to 64 so that every buffer of a slot
 * (and the partial after them) starts at a multiple of 64 bytes from the
 * malloc'd block, suitably aligned for any element type whatever the element
 * sizes and chunk rows. */
static size_t buf_bytes(const sl_array_info *a, int64_t chunk_rows)
{
    return (row_bytes(a) * (size_t)chunk_rows + 63) & ~(size_t)63;
}

/* The frame of level j of a slot: base at 0, then each generator's output. */
static const sl_frame *level_frame(const pass_run *pr, int j)
{
    return j == 0 ? pr->base : pr->gen[j - 1]->output;
}

/* A streamed filter's partials are scratch for its chunk() (its counts are
 * not reported when streamed). */
static size_t scratch_bytes(const sl_pass *g)
{
    return (g->partial_size + 63) & ~(size_t)63;
}

/* Blocks the top level holds when the levels are streamed: rows waiting
 * for a whole block, the next block's, and room for the window of waiting
 * rows to slide on before it moves back to the start (stream_blocks). */
#define TOP_BLOCKS 4

/* Rows a slot's buffer for level j holds: a chunk's, or when the levels
 * are streamed in blocks, a block's above the bottom and TOP_BLOCKS at the
 * top. */
static int64_t level_rows(const pass_run *pr, int j, int64_t chunk_rows)
{
    if (!pr->block_rows || j == 0)
        return chunk_rows;
    return j < pr->ngen ? pr->block_rows : TOP_BLOCKS * pr->block_rows;
}

/* Bytes a slot needs for the chunk of level j (0 when it reads nothing or
 * views memory). */
static size_t level_bytes(const pass_run *pr, int j, int64_t chunk_rows)
{
    const sl_frame *f = level_frame(pr, j);
    size_t b = 0;
    if (j == 0 && pr->in_memory)
        return 0;
    for (size_t i = 0; i < sl_frame_count(f); i++)
        if (j > 0 || pr->want[i])
            b += buf_bytes(sl_frame_array(f, i), level_rows(pr, j, chunk_rows));
    return b;
}

/* Bytes of the buffers of one slot. */
static size_t slot_bytes(const pass_run *pr, int64_t chunk_rows)
{
    const sl_pass *pass = pr->pass;
    size_t nout = pass->output && pass->input ? sl_frame_count(pass->output) : 0;
    size_t per_slot = 0;
    for (int j = 0; j < pr->ngen + 1; j++)
        per_slot += level_bytes(pr, j, chunk_rows) + (j > 0 ? scratch_bytes(pr->gen[j - 1]) : 0);
    for (size_t i = 0; pass->chunk && i < nout; i++)
        per_slot += buf_bytes(sl_frame_array(pass->output, i), chunk_rows);
    return per_slot + ((pass->partial_size + 63) & ~(size_t)63);
}

/* Saves the resume journal now: the rows written so far made durable
 * first, then the writer's state and the passes' records. */
static sl_status save_journal(sl_exec *ex, sl_error *err)
{
    sl__journal *jr = ex->jr;
    sl_status s = sl__ckpt_sync(ex->writer, err);
    int64_t n = 0;
    const int64_t *leaves = sl__ckpt_leaves(ex->writer, &n);
    int64_t *copy = s == SL_OK ? realloc(jr->leaves, (size_t)(n ? n : 1) * sizeof *copy) : NULL;
    if (s == SL_OK && !copy)
        s = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    if (s == SL_OK) {
        jr->leaves = copy;
        jr->n_leaves = n;
        if (n)
            memcpy(copy, leaves, (size_t)n * sizeof *copy);
        sl__ckpt_save_state(ex->writer, &jr->w_rows, &jr->w_bytes, jr->hash_states);
        s = sl__journal_save(jr, err);
    }
    jr->last_save = sl__now();
    return s;
}

/* The caller interrupted the run (sl_run_options.cancel) at a chunk
 * boundary where the journal, if the stage keeps one, has just been saved:
 * the stage keeps its temporary checkpoint, and the next run resumes here. */
static sl_status interrupted(sl_exec *ex, sl_error *err)
{
    ex->resume_kept = ex->jr && !ex->jr->disabled && ex->writer;
    return sl__error_set(err, SL_ERR_CANCELLED, "the run was interrupted");
}

/* Takes the pass's slots from the run's memory budget: one slot's buffers
 * plus the allowance for the op's scratch (a float64 copy of the chunk). */
static sl_status reserve_slots(sl_exec *ex, pass_run *pr, int64_t chunk_rows, int want, sl_error *err)
{
    pr->nslots = want;
    if (!ex->rc || !ex->rc->budget)
        return SL_OK;
    int64_t cols = 0;
    for (size_t i = 0; i < sl_frame_count(pr->in_frame); i++)
        cols += sl_frame_array(pr->in_frame, i)->cols;
    int64_t slot = (int64_t)slot_bytes(pr, chunk_rows) + cols * 8 * chunk_rows;
    for (int m = 1; m < pr->nmem; m++) /* a shared scan: each other member's partial and scratch */
        slot += (int64_t)((pr->mem[m].pass->partial_size + 63) & ~(size_t)63) + cols * 8 * chunk_rows;
    int n = sl__budget_take(ex->rc->budget, slot, want, ex->cancel);
    if (n == 0 && sl__run_interrupted(ex->rc)) {
        /* the passes before this one are recorded: keep them */
        sl_status s = ex->jr && !ex->jr->disabled && ex->writer ? save_journal(ex, err) : SL_OK;
        return s == SL_OK ? interrupted(ex, err) : s;
    }
    if (n == 0) {
        if (ex->cancel && atomic_load(ex->cancel))
            return sl__error_set(err, SL_ERR_CANCELLED, "cancelled because another stage failed");
        char need[32], total[32];
        sl__format_bytes(need, sizeof need, slot);
        sl__format_bytes(total, sizeof total, ex->rc->budget->total);
        return sl__error_set(err, SL_ERR_CONFIG,
                             "pass '%s' needs %s for one chunk of %lld rows, more than the memory budget of %s; "
                             "lower chunk_rows, or raise 'memory' (or --memory)",
                             pr->pass->name, need, (long long)chunk_rows, total);
    }
    pr->budget = ex->rc->budget;
    pr->reserved = (int64_t)n * slot;
    pr->nslots = n;
    return SL_OK;
}

/* Lays out every slot's chunk arrays in one block. */
static sl_status alloc_slots(pass_run *pr, int64_t chunk_rows, sl_error *err)
{
    const sl_pass *pass = pr->pass;
    int nlv = pr->ngen + 1;
    size_t nout = pass->output && pass->input ? sl_frame_count(pass->output) : 0;
    int own_out = pass->chunk != NULL;
    size_t partial = (pass->partial_size + 63) & ~(size_t)63;
    size_t per_slot = slot_bytes(pr, chunk_rows);
    pr->slots = calloc((size_t)pr->nslots, sizeof *pr->slots);
    pr->block = per_slot ? malloc(per_slot * (size_t)pr->nslots) : NULL;
    if (!pr->slots || (per_slot && !pr->block))
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory for %d chunk buffers of %zu bytes", pr->nslots,
                             per_slot);
    char *p = pr->block;
    for (int k = 0; k < pr->nslots; k++) {
        slot *s = &pr->slots[k];
        s->nlv = nlv;
        s->lv = calloc((size_t)nlv, sizeof *s->lv);
        s->scratch = calloc((size_t)nlv, sizeof *s->scratch);
        s->out.n_arrays = nout;
        s->out.arrays = calloc(nout ? nout : 1, sizeof *s->out.arrays);
        if (!s->lv || !s->scratch || !s->out.arrays)
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        for (int j = 0; j < nlv; j++) {
            const sl_frame *f = level_frame(pr, j);
            size_t n = sl_frame_count(f);
            sl_chunk *c = &s->lv[j];
            c->n_arrays = n;
            c->arrays = calloc(n ? n : 1, sizeof *c->arrays);
            if (!c->arrays)
                return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
            for (size_t i = 0; i < n; i++) {
                c->arrays[i].info = sl_frame_array(f, i);
                if (j > 0 || (!pr->in_memory && pr->want[i])) {
                    c->arrays[i].data = p;
                    p += buf_bytes(c->arrays[i].info, level_rows(pr, j, chunk_rows));
                }
            }
            if (j > 0 && scratch_bytes(pr->gen[j - 1])) {
                s->scratch[j] = p;
                p += scratch_bytes(pr->gen[j - 1]);
            }
        }
        for (size_t i = 0; i < nout; i++) {
            s->out.arrays[i].info = sl_frame_array(pass->output, i);
            if (own_out) {
                s->out.arrays[i].data = p;
                p += buf_bytes(s->out.arrays[i].info, chunk_rows);
            }
        }
        if (partial) {
            s->partial = p;
            p += partial;
        }
        if (pr->block_rows) {
            s->level_row0 = calloc(3 * (size_t)nlv, sizeof *s->level_row0);
            if (!s->level_row0)
                return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
            s->level_rows = s->level_row0 + nlv;
            s->level_made = s->level_rows + nlv;
            sl_chunk *v[2] = {&s->bottom_view, &s->top_view};
            for (int e = 0; e < 2; e++) {
                const sl_chunk *c = &s->lv[e == 0 ? 0 : nlv - 1];
                v[e]->n_arrays = c->n_arrays;
                v[e]->arrays = calloc(c->n_arrays ? c->n_arrays : 1, sizeof *v[e]->arrays);
                if (!v[e]->arrays)
                    return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
                for (size_t i = 0; i < c->n_arrays; i++)
                    v[e]->arrays[i].info = c->arrays[i].info;
            }
        }
    }
    return SL_OK;
}

static void free_pass_run(pass_run *pr)
{
    if (pr->reader_open) {
        sl__h5_lock();
        sl__ckpt_reader_close_locked(&pr->reader);
        sl__h5_unlock();
    }
    for (int k = 0; pr->slots && k < pr->nslots; k++) {
        for (int j = 0; pr->slots[k].lv && j < pr->slots[k].nlv; j++)
            free(pr->slots[k].lv[j].arrays);
        free(pr->slots[k].lv);
        free(pr->slots[k].bottom_view.arrays);
        free(pr->slots[k].top_view.arrays);
        free(pr->slots[k].level_row0);
        free(pr->slots[k].scratch);
        free(pr->slots[k].out.arrays);
        for (int m = 0; pr->slots[k].mpart && m < pr->nmem; m++)
            free(pr->slots[k].mpart[m]);
        for (int m = 0; pr->slots[k].mview && m < pr->nmem; m++)
            free(pr->slots[k].mview[m].arrays);
        free(pr->slots[k].mpart);
        free(pr->slots[k].mst);
        free(pr->slots[k].merr);
        free(pr->slots[k].mblas);
        free(pr->slots[k].mview);
    }
    free(pr->slots);
    free(pr->gen);
    free(pr->block);
    free(pr->want);
    free(pr->copy_from);
    if (pr->budget)
        sl__budget_give(pr->budget, pr->reserved);
}

/* Points the arrays of an in-memory input chunk at its rows. */
static void view_memory(const pass_run *pr, sl_chunk *c)
{
    for (size_t i = 0; i < c->n_arrays; i++) {
        if (!pr->want[i])
            continue;
        const char *base = sl__frame_mem(pr->base, i);
        c->arrays[i].data = (void *)(base + (size_t)c->row0 * row_bytes(c->arrays[i].info));
    }
}

static sl_status read_batch(pass_run *pr, int count, sl_error *err)
{
    if (pr->in_memory) {
        for (int k = 0; k < count; k++)
            view_memory(pr, &pr->slots[k].lv[0]);
        return SL_OK;
    }
    if (pr->parallel_read)
        return SL_OK; /* compute_slot reads */
    sl_status s = SL_OK;
    sl__h5_lock();
    for (int k = 0; k < count && s == SL_OK; k++) {
        sl_chunk *c = &pr->slots[k].lv[0];
        if (c->rows == 0)
            continue;
        s = pr->source ? pr->source->read(pr->source->ctx, c, err) : sl__ckpt_reader_read_locked(&pr->reader, c, err);
    }
    sl__h5_unlock();
    return s;
}

static sl_status read_slot(const pass_run *pr, slot *s)
{
    sl_chunk *c = &s->lv[0];
    if (c->rows == 0)
        return SL_OK;
    return pr->source ? pr->source->read(pr->source->ctx, c, &s->err)
                      : sl__ckpt_reader_read_direct(&pr->reader, c, &s->err);
}

/* Computes the streamed levels of a slot's input, bottom-up. Each level
 * must come out with the rows its frame's layout gives (set before). */
static sl_status stream_levels(const pass_run *pr, slot *s)
{
    for (int j = 1; j < s->nlv; j++) {
        const sl_pass *g = pr->gen[j - 1];
        sl_chunk *below = &s->lv[j - 1], *c = &s->lv[j];
        int64_t want = c->rows;
        if (below->rows == 0)
            continue; /* nothing was kept below: this level is empty too */
        c->rows = below->rows;
        if (s->scratch[j])
            memset(s->scratch[j], 0, g->partial_size);
        sl_status st = g->chunk(g->ctx, below, c, s->scratch[j], &s->err);
        if (st != SL_OK)
            return st;
        if (c->rows != want)
            return sl__error_set(&s->err, SL_ERR_INTERNAL,
                                 "streamed pass '%s' wrote %lld rows of chunk %lld where it declared %lld", g->name,
                                 (long long)c->rows, (long long)c->index, (long long)want);
    }
    return SL_OK;
}

/* Clears each member's outcome and BLIS counts for a new chunk. */
static void members_start(const pass_run *pr, slot *s)
{
    for (int m = 0; m < pr->nmem; m++) {
        s->mst[m] = SL_OK;
        s->mblas[m] = (sl__blas_counters){0};
    }
}

/* A shared scan: each live member's chunk() on the chunk read once, into
 * its own partial, seeing the arrays its pass asked for. `in` is the chunk,
 * or in a block-streamed pass its next rows (first: the chunk's first). */
static void compute_members(const pass_run *pr, slot *s, const sl_chunk *in, int first)
{
    for (int m = 0; m < pr->nmem; m++) {
        scan_member *mb = &pr->mem[m];
        if (in->rows == 0 || atomic_load(&mb->dead) || s->mst[m] != SL_OK)
            continue;
        const sl_chunk *view = in;
        if (mb->want) {
            sl_chunk *v = &s->mview[m];
            v->index = in->index;
            v->row0 = in->row0;
            v->rows = in->rows;
            for (size_t i = 0; i < v->n_arrays; i++)
                v->arrays[i].data = mb->want[i] ? in->arrays[i].data : NULL;
            view = v;
        }
        if (first)
            memset(s->mpart[m], 0, mb->pass->partial_size);
        sl__blas_counters before = sl__blas_thread_counters();
        s->mst[m] = mb->pass->chunk(mb->pass->ctx, view, NULL, s->mpart[m], &s->merr[m]);
        sl__blas_counters after = sl__blas_thread_counters();
        s->mblas[m].flops += after.flops - before.flops;
        s->mblas[m].seconds += after.seconds - before.seconds;
    }
}

/* ---- block streaming ----
 * Over an input streamed through stages that each compute a row from the
 * same row below (sl__frame_row_local), for a reduce pass whose chunk()
 * composes over blocks of B rows (sl__exec_blocks_next), a chunk read from
 * the bottom goes up the levels B rows at a time: each level's buffer holds
 * one block, so it stays in the core's cache between the levels, where a
 * whole chunk's levels went out to memory and back at every level. The top
 * level's rows gather in its buffer (filters below may have dropped some)
 * and go to the pass in runs of whole blocks, the chunk's last rows last:
 * the same chunk() results, to the bit, as one call on the whole chunk. */

void sl__chunk_view(const sl_chunk *c, int64_t r0, int64_t n, sl_chunk *v)
{
    v->index = c->index;
    v->row0 = c->row0 + r0;
    v->rows = n;
    for (size_t i = 0; i < c->n_arrays; i++) {
        v->arrays[i].info = c->arrays[i].info;
        v->arrays[i].data = sl__chunk_array_row(&c->arrays[i], r0);
    }
}

/* Hands the pass `rows` rows waiting in the top level's buffer from row
 * `head` on, which are rows [fed, fed + rows) of the chunk's top level. */
static sl_status feed_rows(const pass_run *pr, slot *s, int64_t head, int64_t fed, int64_t rows)
{
    sl_chunk *v = &s->top_view;
    sl__chunk_view(IN(s), head, rows, v);
    v->row0 = IN(s)->row0 + fed;
    if (pr->mem) {
        compute_members(pr, s, v, fed == 0);
        return SL_OK;
    }
    if (fed == 0 && s->partial)
        memset(s->partial, 0, pr->pass->partial_size);
    return pr->pass->chunk(pr->pass->ctx, v, NULL, s->partial, &s->err);
}

/* Moves the top level's rows [from, from + rows) to its start. */
static void keep_staged(sl_chunk *top, int64_t from, int64_t rows)
{
    for (size_t i = 0; i < top->n_arrays; i++) {
        size_t rb = row_bytes(top->arrays[i].info);
        char *d = top->arrays[i].data;
        memmove(d, d + (size_t)from * rb, (size_t)rows * rb);
    }
}

static sl_status stream_blocks(const pass_run *pr, slot *s)
{
    int top = s->nlv - 1;
    int64_t B = pr->block_rows, *row0 = s->level_row0, *want = s->level_rows, *made = s->level_made;
    for (int j = 0; j <= top; j++) {
        row0[j] = s->lv[j].row0;
        want[j] = s->lv[j].rows;
        made[j] = 0;
        if (j > 0 && s->scratch[j])
            memset(s->scratch[j], 0, pr->gen[j - 1]->partial_size);
    }
    /* the top buffer's waiting rows: [head, head + staged) */
    int64_t head = 0, staged = 0, fed = 0;
    sl_status st = SL_OK;
    for (int64_t r0 = 0; r0 < want[0] && st == SL_OK; r0 += B) {
        int64_t nb = want[0] - r0 < B ? want[0] - r0 : B;
        sl__chunk_view(&s->lv[0], r0, nb, &s->bottom_view);
        const sl_chunk *below = &s->bottom_view;
        for (int j = 1; j <= top && below->rows > 0 && st == SL_OK; j++) {
            const sl_pass *g = pr->gen[j - 1];
            sl_chunk *c = &s->lv[j];
            if (j < top && sl__frame_widening(level_frame(pr, j)) && sl__frame_any_float(level_frame(pr, j + 1))) {
                /* a float32 -> float64 widening under a reader that widens
                 * as it reads: the block goes up as it is (frame_int.h) */
                made[j] += below->rows;
                continue;
            }
            if (j == top) { /* after the rows waiting */
                if (head + staged + below->rows > TOP_BLOCKS * B) {
                    keep_staged(&s->lv[top], head, staged);
                    head = 0;
                }
                c = &s->top_view;
                sl__chunk_view(&s->lv[top], head + staged, below->rows, c);
            }
            c->index = s->lv[0].index;
            c->row0 = row0[j] + made[j];
            c->rows = below->rows;
            st = g->chunk(g->ctx, below, c, s->scratch[j], &s->err);
            if (st == SL_OK && (c->rows < 0 || c->rows > below->rows || made[j] + c->rows > want[j]))
                st = sl__error_set(&s->err, SL_ERR_INTERNAL,
                                   "streamed pass '%s' wrote %lld rows of chunk %lld where it declared %lld",
                                   g->name, (long long)(made[j] + c->rows), (long long)c->index,
                                   (long long)want[j]);
            made[j] += c->rows;
            if (j == top)
                staged += c->rows;
            below = c;
        }
        s->lv[top].row0 = row0[top]; /* the buffer's rows, for feed_rows */
        int64_t ready = r0 + nb >= want[0] ? staged : staged / B * B;
        if (st == SL_OK && ready > 0) {
            st = feed_rows(pr, s, head, fed, ready);
            fed += ready;
            staged -= ready;
            head += ready;
        }
    }
    for (int j = 0; j <= top; j++) {
        if (st == SL_OK && made[j] != want[j] && j > 0)
            st = sl__error_set(&s->err, SL_ERR_INTERNAL,
                               "streamed pass '%s' wrote %lld rows of chunk %lld where it declared %lld",
                               pr->gen[j - 1]->name, (long long)made[j], (long long)s->lv[0].index,
                               (long long)want[j]);
        s->lv[j].row0 = row0[j];
        s->lv[j].rows = want[j];
    }
    return st;
}

/* Whether the pass's input can be streamed in blocks (stream_blocks), and
 * of how many rows: every streamed level row-local, and the pass, or every
 * member of a shared scan, a reduce that composes over the same blocks. */
static int64_t block_rows_of(const pass_run *pr, const sl_exec *ex, int64_t slot_rows)
{
    const sl_pass *pass = pr->pass;
    if (pr->ngen == 0 || pass->output || pass->sequential || pass->chunk_order || !pass->chunk)
        return 0;
    int64_t b = pr->mem ? pr->mem[0].ex->block_rows_next : ex->block_rows_next;
    for (int m = 1; m < pr->nmem; m++)
        if (pr->mem[m].ex->block_rows_next != b)
            return 0;
    if (b <= 0 || 2 * b > slot_rows)
        return 0;
    /* SLUICE_BLOCKS=off: whole chunks at every level (A/B, the tests' check of the bits) */
    const char *env = getenv("SLUICE_BLOCKS");
    if (env && strcmp(env, "off") == 0)
        return 0;
    for (int j = 1; j <= pr->ngen; j++)
        if (!sl__frame_row_local(level_frame(pr, j)))
            return 0;
    return b;
}

static void compute_chunk(const pass_run *pr, slot *s)
{
    const sl_pass *pass = pr->pass;
    s->status = pr->parallel_read ? read_slot(pr, s) : SL_OK;
    if (pr->mem)
        members_start(pr, s);
    if (pr->block_rows) {
        if (s->status == SL_OK)
            s->status = stream_blocks(pr, s);
        return;
    }
    if (s->status == SL_OK)
        s->status = stream_levels(pr, s);
    if (pr->mem) {
        if (s->status == SL_OK)
            compute_members(pr, s, IN(s), 1);
        return;
    }
    if (s->status != SL_OK || !pass->chunk)
        return;
    s->out.rows = IN(s)->rows;
    if (IN(s)->rows == 0)
        return; /* an empty chunk (a filter kept nothing) is skipped, merge too */
    if (s->partial)
        memset(s->partial, 0, pass->partial_size);
    s->status = pass->chunk(pass->ctx, IN(s), pass->output ? &s->out : NULL, s->partial, &s->err);
    if (s->status == SL_OK && pass->output && (s->out.rows < 0 || s->out.rows > IN(s)->rows))
        s->status = sl__error_set(&s->err, SL_ERR_INTERNAL, "pass '%s' wrote %lld rows into a %lld-row chunk",
                                  pass->name, (long long)s->out.rows, (long long)IN(s)->rows);
    else if (s->status == SL_OK && pass->output && pass->out_rows && s->out.rows != pass->out_rows[s->out.index])
        s->status = sl__error_set(&s->err, SL_ERR_INTERNAL,
                                  "pass '%s' wrote %lld rows of chunk %lld where it declared %lld", pass->name,
                                  (long long)s->out.rows, (long long)s->out.index,
                                  (long long)pass->out_rows[s->out.index]);
}

/* The chunk at position i of the pass's processing order. */
static int64_t chunk_at(const pass_run *pr, int64_t i)
{
    return pr->pass->chunk_order ? pr->pass->chunk_order[i] : pr->stride > 1 ? i * pr->stride : i;
}

/* Sets a slot's levels and output to the rows of chunk c. */
static void aim_slot(const pass_run *pr, slot *sl, int64_t c)
{
    int64_t cr = pr->chunk_rows;
    for (int j = 0; j < sl->nlv; j++) {
        sl->lv[j].index = c;
        if (pr->pass->input) {
            sl__frame_chunk_span(level_frame(pr, j), cr, c, &sl->lv[j].row0, &sl->lv[j].rows);
        } else {
            sl->lv[j].row0 = c * cr;
            sl->lv[j].rows = (c + 1) * cr <= pr->rows ? cr : pr->rows - c * cr;
        }
    }
    sl->out.index = c;
    sl->out.row0 = IN(sl)->row0;
    sl->out.rows = IN(sl)->rows;
    sl->status = SL_OK;
}

static void compute_slot(const pass_run *pr, slot *s)
{
    sl__blas_counters before = sl__blas_thread_counters();
    compute_chunk(pr, s);
    sl__blas_counters after = sl__blas_thread_counters();
    s->blas.flops = after.flops - before.flops;
    s->blas.seconds = after.seconds - before.seconds;
}

static void compute_batch(pass_run *pr, int count, int threads)
{
    if (pr->pass->sequential) {
        for (int k = 0; k < count && (k == 0 || pr->slots[k - 1].status == SL_OK); k++)
            compute_slot(pr, &pr->slots[k]);
        return;
    }
    /* Slot k goes to thread k in every batch (static), so a slot's buffers
     * stay in the cache of the core that filled them last batch. Handed out
     * dynamically they moved between cores: on 2 threads the float32 ->
     * float64 and z-score kernels took 2-3 times the CPU time they take on
     * one, and the metrics passes ran 15-25 % slower. */
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (int k = 0; k < count; k++)
        compute_slot(pr, &pr->slots[k]);
}

/* The chunk a slot writes: its output chunk, or for a pass without a chunk
 * callback the input data itself. */
static const sl_chunk *output_of(pass_run *pr, slot *s)
{
    if (pr->pass->chunk)
        return &s->out;
    if (!pr->pass->input)
        return IN(s);
    for (size_t i = 0; i < s->out.n_arrays; i++)
        s->out.arrays[i].data = IN(s)->arrays[pr->copy_from[i]].data;
    s->out.rows = IN(s)->rows;
    return &s->out;
}

/* Writes a slot's output rows, in chunk order (one slot at a time). Rows are
 * claimed (and hashed) and, for a direct writer, written with pwrite, outside
 * HDF5: buffered writes to one file serialize on its inode lock (ext4, XFS),
 * so writing from every thread at once only made the others spin (measured:
 * 10 % slower end to end with every stage stored). */
static sl_status write_slot(pass_run *pr, slot *sl, sl_error *err)
{
    const sl_chunk *out = output_of(pr, sl);
    if (!pr->direct_write) {
        if (out->rows == 0)
            return SL_OK;
        sl__h5_lock();
        sl_status s = sl__ckpt_append_locked(pr->writer, out, err);
        sl__h5_unlock();
        return s;
    }
    sl_status s;
    if (pr->split_write) {
        /* the rows' place is known on every rank: a map keeps every row,
         * a filter declared its rows (out_rows) */
        if (!pr->pass->out_rows && out->rows != IN(sl)->rows)
            return sl__error_set(err, SL_ERR_INTERNAL,
                                 "pass '%s' wrote %lld rows of a %lld-row chunk, but its op keeps every row",
                                 pr->pass->name, (long long)out->rows, (long long)IN(sl)->rows);
        sl->out_row0 = pr->next_row;
        pr->next_row += out->rows;
        s = sl__ckpt_claim_at(pr->writer, out, sl->out_row0, err);
    } else {
        s = sl__ckpt_claim(pr->writer, out, &sl->out_row0, err);
    }
    return s == SL_OK ? sl__ckpt_write_at(pr->writer, out, sl->out_row0, err) : s;
}

/* split_write: the output row where chunk c starts, the same on every rank. */
static int64_t output_row_of(const pass_run *pr, int64_t c)
{
    const sl_pass *pass = pr->pass;
    int64_t row0 = 0, rows = 0;
    if (pass->out_rows) {
        for (int64_t k = 0; k < c; k++)
            row0 += pass->out_rows[k];
        return row0;
    }
    if (!pass->input)
        return c * pr->chunk_rows;
    sl__frame_chunk_span(pass->input, pr->chunk_rows, c, &row0, &rows);
    return row0;
}

/* Where this pass starts: 0, or the chunk after the last one the journal
 * recorded (the accumulator restored to that point). Returns 1 when the
 * journal says the pass is complete. */
static int resume_point(sl_exec *ex, sl_stage *st, const sl_pass *pass, void *acc, int64_t nchunks, size_t k,
                        int64_t *start)
{
    sl__journal *jr = ex->jr;
    *start = 0;
    if (!jr || jr->disabled)
        return 0;
    int resumable = !pass->sequential && !pass->chunk_order && (!pass->output || pass->output == sl_stage_output(st));
    if (!resumable) {
        /* state changes outside the journal from here on: record no more */
        sl__journal_truncate(jr, k);
        jr->disabled = 1;
        return 0;
    }
    if (k >= jr->n_passes)
        return 0;
    size_t acc_size = pass->acc_size ? pass->acc_size : pass->partial_size;
    sl__pass_record *r = &jr->passes[k];
    if (strcmp(r->name, pass->name ? pass->name : "") != 0 || r->nchunks != nchunks || r->acc_size != acc_size) {
        ex->journal_mismatch = 1;
        return 0;
    }
    if (acc_size)
        memcpy(acc, r->acc, acc_size);
    *start = r->chunks_done;
    return r->done;
}

/* Saves how far pass k has come, after making its output rows durable:
 * every few seconds, or now when save_now is set. */
static sl_status record_progress(sl_exec *ex, const sl_pass *pass, const void *acc, int64_t nchunks, size_t k,
                                 int64_t done, int finished, int save_now, sl_error *err)
{
    sl__journal *jr = ex->jr;
    if (!jr || jr->disabled)
        return SL_OK;
    /* the record is brought up to date only when it is saved or the pass
     * ends: an accumulator can be large (a filter's rows kept per chunk) */
    int save = save_now || sl__now() - jr->last_save >= sl__journal_interval();
    if (!save && !finished)
        return SL_OK;
    size_t acc_size = pass->acc_size ? pass->acc_size : pass->partial_size;
    sl__pass_record *r = sl__journal_pass(jr, k, pass->name, nchunks, acc_size);
    if (!r)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    r->chunks_done = done;
    r->done = finished;
    if (acc_size)
        memcpy(r->acc, acc, acc_size);
    return save ? save_journal(ex, err) : SL_OK;
}

/* The chunks of the stage output a pass writes: the input's chunks with the
 * rows out_rows declares, or, for a pass that kept every row, the input's
 * own layout. Uniform chunks are stored as no layout. */
static sl_status set_output_layout(const sl_exec *ex, const sl_pass *pass, sl_frame *out, int64_t nchunks,
                                   sl_error *err)
{
    int64_t n = 0;
    const int64_t *sizes = sl__frame_layout(pass->input, &n);
    if (pass->out_rows) {
        sizes = pass->out_rows;
        n = nchunks;
    }
    int64_t rows = 0, cr = ex->chunk_rows;
    int uniform = 1;
    for (int64_t c = 0; sizes && c < n; c++) {
        rows += sizes[c];
        if (sizes[c] != cr && (c + 1 < n || sizes[c] == 0))
            uniform = 0;
    }
    sl_status s = sl__frame_set_layout(out, uniform ? NULL : sizes, n, err);
    if (s == SL_OK && sizes)
        sl_frame_set_rows(out, rows);
    return s;
}

/* Whether the stage's output, written by this pass, keeps the input's chunks:
 * a map (it wrote every row), or a filter that declared its rows. A filter
 * that did not is cut in uniform chunks by its readers. */
static int keeps_input_chunks(sl_stage *st, const sl_pass *pass, const sl__ckpt_writer *w)
{
    return pass->output == sl_stage_output(st) && pass->input &&
           (pass->out_rows || sl__ckpt_rows(w) == sl_frame_rows(pass->input));
}

/* What comes after a chunk is computed, in chunk order, one chunk at a time:
 * its partial merged, its rows written, the counts, progress and journal. */
/* A member of a shared scan fails: it gets no more chunks, the others go on. */
static void member_fails(scan_member *mb, sl_status s, const sl_error *e)
{
    if (atomic_load(&mb->dead))
        return;
    mb->status = s;
    if (e)
        mb->err = *e;
    atomic_store(&mb->dead, 1);
}

/* finish_chunk for a shared scan: each live member's partial merged into
 * its accumulator, in chunk order, then its counts, progress and journal.
 * The bytes read, and the streamed levels' BLAS work, are charged to the
 * first member. The scan stops when no member is left. */
static sl_status finish_scan_chunk(pass_run *pr, slot *sl, int64_t done, int64_t nchunks, sl_error *err)
{
    if (sl->status != SL_OK) { /* reading or a streamed level failed: every member */
        for (int m = 0; m < pr->nmem; m++)
            member_fails(&pr->mem[m], sl->status, &sl->err);
        if (err)
            *err = sl->err;
        return sl->status;
    }
    int64_t rows = IN(sl)->rows;
    sl_exec *lead = pr->mem[0].ex;
    sl__blas_counters levels = sl->blas;
    for (int m = 0; m < pr->nmem; m++) {
        scan_member *mb = &pr->mem[m];
        levels.flops -= sl->mblas[m].flops;
        levels.seconds -= sl->mblas[m].seconds;
        if (atomic_load(&mb->dead) || rows == 0)
            continue;
        mb->ex->blas.flops += sl->mblas[m].flops;
        mb->ex->blas.seconds += sl->mblas[m].seconds;
        if (sl->mst[m] != SL_OK) {
            member_fails(mb, sl->mst[m], &sl->merr[m]);
            continue;
        }
        sl_error e;
        sl_error_clear(&e);
        sl_status ms = mb->pass->merge(mb->pass->ctx, mb->acc, sl->mpart[m], &e);
        if (ms != SL_OK)
            member_fails(mb, ms, &e);
    }
    lead->blas.flops += levels.flops;
    lead->blas.seconds += levels.seconds;
    if (!pr->in_memory)
        lead->bytes_read += sl->lv[0].rows * (int64_t)pr->in_row_bytes;
    int stop = sl__run_interrupted(lead->rc);
    int cancelled = !stop && lead->cancel && atomic_load(lead->cancel);
    int live = 0;
    for (int m = 0; m < pr->nmem; m++) {
        scan_member *mb = &pr->mem[m];
        if (atomic_load(&mb->dead))
            continue;
        sl_error e;
        sl_error_clear(&e);
        sl_status s = SL_OK;
        if (cancelled)
            s = sl__error_set(&e, SL_ERR_CANCELLED, "cancelled because another stage failed");
        if (s == SL_OK && (done % pr->nslots == 0 || done == pr->hi))
            sl__exec_progress(mb->ex, mb->pass->name, done, nchunks);
        if (s == SL_OK)
            s = record_progress(mb->ex, mb->pass, mb->acc, nchunks, mb->pass_no, done, done == pr->hi, stop, &e);
        if (s == SL_OK && stop)
            s = interrupted(mb->ex, &e);
        if (s != SL_OK)
            member_fails(mb, s, &e);
        else
            live++;
    }
    if (live > 0)
        return SL_OK;
    if (err)
        *err = pr->mem[0].err;
    return pr->mem[0].status != SL_OK ? pr->mem[0].status : SL_ERR_INTERNAL;
}

static sl_status finish_chunk(sl_exec *ex, pass_run *pr, slot *sl, void *acc, int64_t done, int64_t nchunks,
                              size_t pass_no, sl_error *err)
{
    if (pr->mem)
        return finish_scan_chunk(pr, sl, done, nchunks, err);
    const sl_pass *pass = pr->pass;
    if (sl->status != SL_OK) {
        if (err)
            *err = sl->err;
        return sl->status;
    }
    sl_status s = SL_OK;
    if (pass->partial_size && pr->stash) {
        /* rank 0 merges it, in chunk order, after its own (dist.h) */
        char *e = pr->stash + (size_t)(done - 1 - pr->lo) * pr->stash_item;
        int64_t merge = IN(sl)->rows > 0;
        memcpy(e, &merge, sizeof merge);
        if (merge)
            memcpy(e + sizeof merge, sl->partial, pass->partial_size);
    } else if (pass->partial_size && IN(sl)->rows > 0) {
        s = pass->merge(pass->ctx, acc, sl->partial, err);
    }
    if (s == SL_OK && pr->writer)
        s = write_slot(pr, sl, err);
    if (!pr->in_memory)
        ex->bytes_read += sl->lv[0].rows * (int64_t)pr->in_row_bytes;
    ex->blas.flops += sl->blas.flops;
    ex->blas.seconds += sl->blas.seconds;
    /* an interrupted run stops after this chunk, with the journal saved */
    int stop = sl__run_interrupted(ex->rc);
    if (s == SL_OK && !stop && ex->cancel && atomic_load(ex->cancel))
        s = sl__error_set(err, SL_ERR_CANCELLED, "cancelled because another stage failed");
    if (s == SL_OK && ((done - pr->lo) % pr->nslots == 0 || done == pr->hi)) {
        /* a rank shows its share of the pass as the whole pass */
        int64_t shown = pr->hi > pr->lo ? (done - pr->lo) * nchunks / (pr->hi - pr->lo) : nchunks;
        sl__exec_progress(ex, pass->name, shown, nchunks);
    }
    if (s == SL_OK)
        s = record_progress(ex, pass, acc, nchunks, pass_no, done, done == pr->hi, stop, err);
    if (s == SL_OK && stop)
        s = interrupted(ex, err);
    return s;
}

/* Chunks [first, nchunks) without a barrier between batches: thread k
 * computes chunks k, k + T, k + 2T, ... in its slot, each read on the thread
 * that computes it (or viewed in memory), and then, in an ordered region,
 * finishes it (finish_chunk) once chunk c - 1 is finished. While one thread
 * merges and writes chunk c, the others already compute the chunks after
 * it, so the merge and the writes run beside the computing, and a thread
 * that got a slow chunk holds up the others only when the ordered region
 * reaches it. The merge order, and so every rounding, is the batch loop's
 * (which finishes its chunks with finish_chunk too). */
static sl_status run_pipelined(sl_exec *ex, pass_run *pr, void *acc, int64_t first, int64_t nchunks,
                               size_t pass_no, sl_error *err)
{
    sl_status status = SL_OK;
    atomic_int stop = 0;
#pragma omp parallel num_threads(pr->nslots)
    {
        slot *sl = &pr->slots[omp_get_thread_num()];
#pragma omp for ordered schedule(static, 1)
        for (int64_t i = first; i < pr->hi; i++) {
            int go = !atomic_load(&stop);
            if (go) {
                aim_slot(pr, sl, chunk_at(pr, i));
                if (pr->in_memory)
                    view_memory(pr, &sl->lv[0]);
                compute_slot(pr, sl);
            }
#pragma omp ordered
            if (go && !atomic_load(&stop)) {
                sl_status s = finish_chunk(ex, pr, sl, acc, i + 1, nchunks, pass_no, err);
                if (s != SL_OK) {
                    status = s;
                    atomic_store(&stop, 1);
                }
            }
        }
    }
    return status;
}

/* How a pass runs when the run has several MPI ranks (dist.h). Chunk k is
 * the same rows for every rank count, and every partial is merged in chunk
 * order, so a pass gives the same bits on any number of ranks. */
typedef enum dist_mode {
    DIST_NONE,  /* one rank: the whole pass here */
    DIST_SPLIT, /* each rank a range of chunks; rank 0 merges the others' partials after its own, in order */
    DIST_CHAIN, /* each rank a range, one rank after another, the accumulator handed on: merge() reads
                   the chunk itself (merge_reads_input), so it must run where the chunk was computed */
    DIST_ROOT,  /* rank 0 alone: the pass writes a file; the others take its accumulator */
    DIST_ALL    /* every rank every chunk, in order: sequential passes (mini-batch training) */
} dist_mode;

static dist_mode dist_mode_of(const sl_exec *ex, const sl_pass *pass)
{
    if (sl__dist_size() == 1 || ex->solo)
        return DIST_NONE;
    if (pass->output)
        return DIST_ROOT;
    if (pass->sequential || pass->chunk_order)
        return DIST_ALL;
    return pass->merge_reads_input ? DIST_CHAIN : DIST_SPLIT;
}

/* What a rank's part of a pass leaves for the ranks to settle. */
typedef struct dist_part {
    int keeps;       /* DIST_ROOT: the output keeps the input's chunks */
    char *stash;     /* DIST_SPLIT, ranks after the first: partials for rank 0 */
    int64_t nstash;
    int split_write; /* DIST_SPLIT of a pass that writes the stage's output: each rank its rows */
    sl__ckpt_writer *writer; /* split_write, ranks after the first: this rank's part of rank 0's writer */
} dist_part;

/* This rank's part of a pass: all of it without MPI. */
static sl_status run_pass(sl_exec *ex, sl_stage *st, const sl_pass *pass, void *acc, dist_mode mode,
                          dist_part *part, sl_error *err)
{
    sl__ckpt_writer *writer = part->writer ? part->writer : pass->output ? sl__frame_writer(pass->output) : NULL;
    sl_status s = check_pass(pass, acc, writer, err);
    size_t pass_no = ex->pass_no++;
    int64_t stride = ex->sample_stride > 1 ? ex->sample_stride : 1; /* sl_exec_pass clears it */
    if (s == SL_OK && stride > 1 && (pass->output || pass->sequential || pass->chunk_order || !pass->input))
        s = sl__error_set(err, SL_ERR_INTERNAL, "pass '%s' samples chunks but writes, orders or reads a source",
                          pass->name);
    if (s)
        return s;
    pass_run pr;
    memset(&pr, 0, sizeof pr);
    pr.pass = pass;
    pr.stride = stride;
    pr.in_frame = pass->input ? pass->input : pass->output;
    pr.writer = writer;
    int64_t rows = pass->input ? sl_frame_rows(pass->input) : pass->source_rows;
    int64_t cr = ex->chunk_rows;
    int64_t nchunks = pass->input ? sl__frame_chunks(pass->input, cr) : rows > 0 ? (rows + cr - 1) / cr : 0;
    int64_t npos = (nchunks + stride - 1) / stride; /* the chunks it visits */
    /* One slot per thread. Two would even out chunks of uneven cost, but
     * they double what the pass holds in the caches while a chunk goes up
     * its streamed levels: on the reference workload that was 7-10 % slower. */
    int64_t nslots = (int64_t)ex->threads;
    int want = (int)(npos < nslots ? (npos > 0 ? npos : 1) : nslots);
    if (rows < 0)
        s = sl__error_set(err, SL_ERR_INTERNAL, "pass '%s' streams a frame whose rows are unknown", pass->name);
    if (s == SL_OK && pass->chunk_order)
        s = check_order(pass, nchunks, err);
    int64_t first = 0;
    if (s == SL_OK && resume_point(ex, st, pass, acc, npos, pass_no, &first)) {
        sl__exec_progress(ex, pass->name, npos, npos);
        if (keeps_input_chunks(st, pass, pr.writer))
            s = set_output_layout(ex, pass, pass->output, nchunks, err);
        if (pass->output == sl_stage_output(st))
            ex->streamed_output = 1;
        return s;
    }
    if (ex->journal_mismatch)
        return sl__error_set(err, SL_ERR_INTERNAL, "the resume journal does not match this stage's passes");
    if (s == SL_OK)
        s = find_chain(&pr, err);
    if (s == SL_OK)
        s = select_inputs(&pr, err);
    if (s == SL_OK)
        s = plan_copy(&pr, err);
    /* every level must have the input's chunks; the largest bounds the buffers */
    int64_t most = rows;
    for (int j = 0; s == SL_OK && pass->input && j <= pr.ngen; j++) {
        const sl_frame *f = level_frame(&pr, j);
        if (sl__frame_chunks(f, cr) != nchunks)
            s = sl__error_set(err, SL_ERR_INTERNAL, "pass '%s': a streamed level has %lld chunks, its input %lld",
                              pass->name, (long long)sl__frame_chunks(f, cr), (long long)nchunks);
        if (sl_frame_rows(f) > most)
            most = sl_frame_rows(f);
    }
    if (s == SL_OK && pass->out_rows && !pass->input)
        s = sl__error_set(err, SL_ERR_INTERNAL, "source pass '%s' declares out_rows", pass->name);
    int64_t slot_rows = most < cr ? (most > 0 ? most : 1) : cr;
    if (s == SL_OK)
        pr.block_rows = block_rows_of(&pr, ex, slot_rows);
    if (s == SL_OK)
        s = reserve_slots(ex, &pr, slot_rows, want, err);
    if (s == SL_OK)
        s = alloc_slots(&pr, slot_rows, err);
    if (s == SL_OK && !pr.source && !pr.in_memory && nchunks > 0) {
        sl__h5_lock();
        s = sl__ckpt_reader_open_locked(&pr.reader, pr.base, pr.want, err);
        pr.reader_open = 1;
        sl__h5_unlock();
        pr.parallel_read = s == SL_OK && pr.reader.all_direct;
        if (s == SL_OK)
            pr.in_row_bytes = input_row_bytes(&pr, pr.reader.narrow);
    }
    if (pr.source && pr.source->read_parallel)
        pr.parallel_read = 1;
    pr.direct_write = pr.writer && sl__ckpt_resumable(pr.writer);
    pr.rows = rows;
    pr.chunk_rows = cr;
    pr.lo = 0;
    pr.hi = npos;
    if (mode == DIST_SPLIT || mode == DIST_CHAIN)
        sl__dist_range(npos, &pr.lo, &pr.hi);
    pr.split_write = part->split_write;
    if (pr.split_write)
        pr.next_row = output_row_of(&pr, pr.lo);
    first = first > pr.lo ? first : pr.lo;
    if (s == SL_OK && mode == DIST_SPLIT && sl__dist_rank() > 0 && pass->partial_size) {
        pr.stash_item = sizeof(int64_t) + pass->partial_size;
        pr.stash = malloc((size_t)(pr.hi - pr.lo) * pr.stash_item + 1);
        if (!pr.stash)
            s = sl__error_set(err, SL_ERR_NOMEM, "out of memory for %lld partial results of pass '%s'",
                              (long long)(pr.hi - pr.lo), pass->name);
        part->stash = pr.stash;
        part->nstash = pr.hi - pr.lo;
    }
    /* Batches with a barrier remain for what must run in order (sequential
     * passes) and for chunks read on this thread (through HDF5, in order) */
    int pipelined = !pass->sequential && (pr.parallel_read || pr.in_memory);
    if (s == SL_OK && pipelined)
        s = run_pipelined(ex, &pr, acc, first, npos, pass_no, err);
    for (int64_t c0 = first; s == SL_OK && !pipelined && c0 < pr.hi; c0 += pr.nslots) {
        int count = (int)(pr.hi - c0 < pr.nslots ? pr.hi - c0 : pr.nslots);
        for (int k = 0; k < count; k++)
            aim_slot(&pr, &pr.slots[k], chunk_at(&pr, c0 + k));
        s = read_batch(&pr, count, err);
        if (s == SL_OK)
            compute_batch(&pr, count, ex->threads);
        for (int k = 0; k < count && s == SL_OK; k++)
            s = finish_chunk(ex, &pr, &pr.slots[k], acc, c0 + k + 1, npos, pass_no, err);
    }
    if (s == SL_OK && npos == 0)
        s = record_progress(ex, pass, acc, npos, pass_no, 0, 1, 0, err);
    /* a rank that wrote its share keeps the input's chunks as rank 0 does */
    part->keeps = s == SL_OK && (pr.split_write ? pass->input != NULL : keeps_input_chunks(st, pass, pr.writer));
    if (part->keeps)
        s = set_output_layout(ex, pass, pass->output, nchunks, err);
    if (s == SL_OK && pass->output == sl_stage_output(st))
        ex->streamed_output = 1;
    pr.stash = NULL; /* the caller's now (part) */
    free_pass_run(&pr);
    return s;
}

/* ---- shared scans ---- */

/* Each slot's per-member partials, outcomes and input views. */
static sl_status alloc_members(pass_run *pr, sl_error *err)
{
    size_t n = sl_frame_count(pr->in_frame);
    for (int k = 0; k < pr->nslots; k++) {
        slot *s = &pr->slots[k];
        size_t m = (size_t)pr->nmem;
        s->mpart = calloc(m, sizeof *s->mpart);
        s->mst = calloc(m, sizeof *s->mst);
        s->merr = calloc(m, sizeof *s->merr);
        s->mblas = calloc(m, sizeof *s->mblas);
        s->mview = calloc(m, sizeof *s->mview);
        if (!s->mpart || !s->mst || !s->merr || !s->mblas || !s->mview)
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        for (int j = 0; j < pr->nmem; j++) {
            size_t bytes = (pr->mem[j].pass->partial_size + 63) & ~(size_t)63;
            s->mpart[j] = aligned_alloc(64, bytes);
            s->mview[j].n_arrays = n;
            s->mview[j].arrays = calloc(n ? n : 1, sizeof *s->mview[j].arrays);
            if (!s->mpart[j] || !s->mview[j].arrays)
                return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
            for (size_t i = 0; i < n; i++)
                s->mview[j].arrays[i].info = sl_frame_array(pr->in_frame, i);
        }
    }
    return SL_OK;
}

/* What each member's pass asked for, when the scan reads more (the union):
 * its chunk() sees only its own arrays, as it would alone. */
static sl_status member_wants(pass_run *pr, sl_error *err)
{
    if (pr->ngen > 0 || pr->source)
        return SL_OK; /* a streamed input is read whole, alone too */
    size_t n = sl_frame_count(pr->in_frame);
    for (int m = 0; m < pr->nmem; m++) {
        const char *const *names = pr->mem[m].pass->input_arrays;
        if (!names)
            continue;
        unsigned char *w = calloc(n ? n : 1, 1);
        if (!w)
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        pr->mem[m].want = w;
        for (; *names; names++) {
            long i = sl_frame_find(pr->in_frame, *names);
            if (i >= 0)
                w[i] = 1;
        }
    }
    return SL_OK;
}

/* One scan of the frame the members' reduce passes all read, on `threads`
 * threads: each chunk read (and its streamed levels computed) once, every
 * member's chunk() and merge() on it. Each member's outcome is in its
 * status and err. */
static void run_scan(scan_member *mem, int nmem, int threads)
{
    sl_exec *ex = mem[0].ex;
    const sl_pass *pass = mem[0].pass;
    sl_error err;
    sl_error_clear(&err);
    int live = 0;
    for (int m = 0; m < nmem; m++) {
        mem[m].want = NULL;
        mem[m].pass_no = mem[m].ex->pass_no++;
        mem[m].status = check_pass(mem[m].pass, mem[m].acc, NULL, &mem[m].err);
        atomic_init(&mem[m].dead, mem[m].status != SL_OK);
        live += mem[m].status == SL_OK;
    }
    if (live == 0)
        return;
    pass_run pr;
    memset(&pr, 0, sizeof pr);
    pr.pass = pass;
    pr.in_frame = pass->input;
    pr.mem = mem;
    pr.nmem = nmem;
    int64_t rows = sl_frame_rows(pass->input);
    int64_t cr = ex->chunk_rows;
    int64_t nchunks = sl__frame_chunks(pass->input, cr);
    int want = (int)(nchunks < threads ? (nchunks > 0 ? nchunks : 1) : threads);
    sl_status s = SL_OK;
    if (rows < 0)
        s = sl__error_set(&err, SL_ERR_INTERNAL, "pass '%s' streams a frame whose rows are unknown", pass->name);
    if (s == SL_OK)
        s = find_chain(&pr, &err);
    if (s == SL_OK)
        s = select_inputs(&pr, &err);
    if (s == SL_OK)
        s = member_wants(&pr, &err);
    int64_t most = rows;
    for (int j = 0; s == SL_OK && j <= pr.ngen; j++) {
        const sl_frame *f = level_frame(&pr, j);
        if (sl__frame_chunks(f, cr) != nchunks)
            s = sl__error_set(&err, SL_ERR_INTERNAL, "pass '%s': a streamed level has %lld chunks, its input %lld",
                              pass->name, (long long)sl__frame_chunks(f, cr), (long long)nchunks);
        if (sl_frame_rows(f) > most)
            most = sl_frame_rows(f);
    }
    int64_t slot_rows = most < cr ? (most > 0 ? most : 1) : cr;
    if (s == SL_OK)
        pr.block_rows = block_rows_of(&pr, ex, slot_rows);
    if (s == SL_OK)
        s = reserve_slots(ex, &pr, slot_rows, want, &err);
    if (s == SL_OK)
        s = alloc_slots(&pr, slot_rows, &err);
    if (s == SL_OK)
        s = alloc_members(&pr, &err);
    if (s == SL_OK && !pr.source && !pr.in_memory && nchunks > 0) {
        sl__h5_lock();
        s = sl__ckpt_reader_open_locked(&pr.reader, pr.base, pr.want, &err);
        pr.reader_open = 1;
        sl__h5_unlock();
        pr.parallel_read = s == SL_OK && pr.reader.all_direct;
        if (s == SL_OK)
            pr.in_row_bytes = input_row_bytes(&pr, pr.reader.narrow);
    }
    if (pr.source && pr.source->read_parallel)
        pr.parallel_read = 1;
    pr.rows = rows;
    pr.chunk_rows = cr;
    pr.lo = 0;
    pr.hi = nchunks;
    int pipelined = pr.parallel_read || pr.in_memory;
    if (s == SL_OK && pipelined)
        s = run_pipelined(ex, &pr, NULL, 0, nchunks, 0, &err);
    for (int64_t c0 = 0; s == SL_OK && !pipelined && c0 < pr.hi; c0 += pr.nslots) {
        int count = (int)(pr.hi - c0 < pr.nslots ? pr.hi - c0 : pr.nslots);
        for (int k = 0; k < count; k++)
            aim_slot(&pr, &pr.slots[k], c0 + k);
        s = read_batch(&pr, count, &err);
        if (s == SL_OK)
            compute_batch(&pr, count, pr.nslots);
        for (int k = 0; k < count && s == SL_OK; k++)
            s = finish_chunk(ex, &pr, &pr.slots[k], NULL, c0 + k + 1, nchunks, 0, &err);
    }
    for (int m = 0; m < nmem; m++) {
        scan_member *mb = &mem[m];
        sl_status r = SL_OK;
        sl_error e;
        sl_error_clear(&e);
        if (s == SL_OK && nchunks == 0 && !atomic_load(&mb->dead))
            r = record_progress(mb->ex, mb->pass, mb->acc, 0, mb->pass_no, 0, 1, 0, &e);
        if (r != SL_OK)
            member_fails(mb, r, &e);
        if (s != SL_OK)
            member_fails(mb, s, &err); /* what failed the scan itself, for those it had not failed yet */
        if (nmem > 1)
            mb->ex->shared_passes++;
        free(mb->want);
        mb->want = NULL;
    }
    free_pass_run(&pr);
}

enum { M_BUSY, M_SOLO, M_WAITING, M_SCANNING, M_LEFT };

typedef struct scan_sub {
    sl_exec *ex;
    sl_stage *st;
    const sl_pass *pass;
    void *acc;
    const char *what; /* a memoizable reduction (sl__exec_pass_memo), or NULL */
    sl_status status;
    sl_error err;
    int done;
} scan_sub;

struct sl__scan_group {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
    int running; /* a member runs the waiting passes */
    int *team;   /* each member's threads */
    int total;   /* the threads the scheduler gave the group: a scan runs on no more */
    int *state;  /* M_* */
    scan_sub *sub;
};

sl__scan_group *sl__scan_group_new(int n, const int *team, int total)
{
    sl__scan_group *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->n = n;
    g->total = total;
    g->team = calloc((size_t)n, sizeof *g->team);
    g->state = calloc((size_t)n, sizeof *g->state);
    g->sub = calloc((size_t)n, sizeof *g->sub);
    if (!g->team || !g->state || !g->sub) {
        free(g->team);
        free(g->state);
        free(g->sub);
        free(g);
        return NULL;
    }
    memcpy(g->team, team, (size_t)n * sizeof *team);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    return g;
}

void sl__scan_group_free(sl__scan_group *g)
{
    if (!g)
        return;
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    free(g->team);
    free(g->state);
    free(g->sub);
    free(g);
}

void sl__scan_leave(sl__scan_group *g, int k)
{
    pthread_mutex_lock(&g->mu);
    g->state[k] = M_LEFT;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* The waiting passes may run: no member computes outside a pass (it may be
 * about to submit one over the same frame), and no one runs them already. */
static int scan_ready_locked(const sl__scan_group *g)
{
    int waiting = 0;
    if (g->running)
        return 0;
    for (int k = 0; k < g->n; k++) {
        if (g->state[k] == M_BUSY)
            return 0;
        waiting += g->state[k] == M_WAITING;
    }
    return waiting > 0;
}

static size_t acc_bytes(const sl_pass *pass)
{
    return pass->acc_size ? pass->acc_size : pass->partial_size;
}

/* A pass of one member on `threads` threads, as sl_exec_pass runs it alone. */
static sl_status run_alone(sl_exec *ex, sl_stage *st, const sl_pass *pass, void *acc, int threads, sl_error *err)
{
    int own = ex->threads;
    ex->threads = threads;
    dist_part part = {0};
    sl_status s = run_pass(ex, st, pass, acc, DIST_NONE, &part, err);
    ex->threads = own;
    return s;
}

/* Runs every waiting pass, those over one frame as one scan, on the teams
 * of their members together; called with mu held, returns with it held. */
static void run_waiting_locked(sl__scan_group *g)
{
    int n = g->n, threads = 0, count = 0;
    int *list = malloc((size_t)n * sizeof *list);
    scan_member *mem = calloc((size_t)n, sizeof *mem);
    unsigned char *used = calloc((size_t)n, 1);
    int *copy_of = calloc((size_t)n, sizeof *copy_of);
    for (int k = 0; k < n; k++)
        if (g->state[k] == M_WAITING) {
            g->state[k] = M_SCANNING;
            threads += g->team[k];
            if (list)
                list[count++] = k;
        }
    if (threads > g->total)
        threads = g->total; /* each member holds a thread, but the group no more than its share */
    g->running = 1;
    pthread_mutex_unlock(&g->mu);
    for (int a = 0; a < count; a++) {
        scan_sub *sa = &g->sub[list[a]];
        if (!mem || !used || !copy_of) { /* out of memory: each alone */
            sa->status = run_alone(sa->ex, sa->st, sa->pass, sa->acc, g->team[list[a]], &sa->err);
            continue;
        }
        if (used[a])
            continue;
        /* the passes over sa's input; one that computes the same memoizable
         * reduction as an earlier one is not run but copied from it */
        int m = 0;
        for (int b = a; b < count; b++) {
            scan_sub *sb = &g->sub[list[b]];
            if (used[b] || sb->pass->input != sa->pass->input)
                continue;
            used[b] = 1;
            copy_of[b] = -1;
            for (int c = a; c < b && sb->what; c++) {
                scan_sub *sc = &g->sub[list[c]];
                if (copy_of[c] < 0 && sc->pass->input == sb->pass->input && sc->what &&
                    strcmp(sc->what, sb->what) == 0 && acc_bytes(sc->pass) == acc_bytes(sb->pass)) {
                    copy_of[b] = c;
                    break;
                }
            }
            if (copy_of[b] < 0)
                mem[m++] = (scan_member){.ex = sb->ex, .st = sb->st, .pass = sb->pass, .acc = sb->acc};
        }
        if (m == 1) {
            sa->status = run_alone(sa->ex, sa->st, sa->pass, sa->acc, threads, &sa->err);
        } else {
            run_scan(mem, m, threads);
            for (int b = a, j = 0; b < count && j < m; b++) {
                scan_sub *sb = &g->sub[list[b]];
                if (sb->pass->input != sa->pass->input || copy_of[b] >= 0 || mem[j].ex != sb->ex)
                    continue;
                sb->status = mem[j].status;
                sb->err = mem[j].err;
                j++;
            }
        }
        for (int b = a; b < count; b++) {
            scan_sub *sb = &g->sub[list[b]];
            if (sb->pass->input != sa->pass->input || copy_of[b] < 0)
                continue;
            const scan_sub *from = &g->sub[list[copy_of[b]]];
            sb->status = from->status;
            sb->err = from->err;
            if (from->status == SL_OK)
                memcpy(sb->acc, from->acc, acc_bytes(sb->pass));
        }
    }
    free(copy_of);
    free(used);
    free(mem);
    pthread_mutex_lock(&g->mu);
    for (int a = 0; a < count; a++) {
        g->sub[list[a]].done = 1;
        g->state[list[a]] = M_BUSY; /* until it submits again or leaves */
    }
    free(list);
    g->running = 0;
    pthread_cond_broadcast(&g->cv);
}

/* Whether a member's pass may run in a shared scan: a reduce that writes
 * nothing, in chunk order, not taken up from a resume journal. */
static int scan_eligible(const sl_exec *ex, const sl_pass *pass, const void *acc)
{
    return pass->input && !pass->output && pass->partial_size > 0 && pass->chunk && pass->merge && acc &&
           !pass->sequential && !pass->chunk_order && !ex->capture && !ex->journal_mismatch && ex->sample_stride <= 1 &&
           !(ex->jr && !ex->jr->disabled && ex->pass_no < ex->jr->n_passes);
}

/* A member's pass: submitted to the group and run in a scan when eligible,
 * else run alone at once (the others do not wait for it meanwhile). */
static sl_status group_pass(sl_exec *ex, sl_stage *st, const sl_pass *pass, void *acc, sl_error *err)
{
    sl__scan_group *g = ex->scan;
    int k = ex->scan_member;
    pthread_mutex_lock(&g->mu);
    if (!scan_eligible(ex, pass, acc)) {
        g->state[k] = M_SOLO;
        pthread_cond_broadcast(&g->cv);
        pthread_mutex_unlock(&g->mu);
        dist_part part = {0};
        sl_status s = run_pass(ex, st, pass, acc, DIST_NONE, &part, err);
        pthread_mutex_lock(&g->mu);
        g->state[k] = M_BUSY;
        pthread_mutex_unlock(&g->mu);
        return s;
    }
    g->sub[k] = (scan_sub){.ex = ex, .st = st, .pass = pass, .acc = acc, .what = ex->memo_what, .status = SL_OK};
    g->state[k] = M_WAITING;
    while (!g->sub[k].done) {
        if (scan_ready_locked(g))
            run_waiting_locked(g);
        else
            pthread_cond_wait(&g->cv, &g->mu);
    }
    sl_status s = g->sub[k].status;
    if (s != SL_OK && err)
        *err = g->sub[k].err;
    pthread_mutex_unlock(&g->mu);
    return s;
}

/* Rank 0 merges one partial a later rank computed (dist_fold). */
typedef struct fold_ctx {
    const sl_pass *pass;
    void *acc;
} fold_ctx;

static sl_status fold_partial(void *ctx, const void *item, sl_error *err)
{
    fold_ctx *f = ctx;
    int64_t merge;
    memcpy(&merge, item, sizeof merge);
    return merge ? f->pass->merge(f->pass->ctx, f->acc, (const char *)item + sizeof merge, err) : SL_OK;
}

/* Whether the ranks can each write their own rows of the pass's output
 * (rank 0 decides, from its writer): the writer is direct (preallocated,
 * uncompressed) and fresh, and every rank knows where its rows go: the pass
 * reads a source, or its op keeps every row or declared the rows it keeps
 * (out_rows). Then rank 0 sends the others where the file's chunks lie and
 * each opens its part of the writer. Collective. */
static sl_status plan_split_write(sl_stage *st, const sl_pass *pass, dist_part *part, sl_error *err)
{
    int me = sl__dist_rank();
    void *plan = NULL;
    size_t len = 0;
    sl_status s = SL_OK;
    if (me == 0) {
        sl__ckpt_writer *w = sl__frame_writer(pass->output);
        int known_rows = !pass->input || pass->out_rows || (st->op->flags & SL_OP_STREAMABLE);
        if (w && sl__ckpt_resumable(w) && sl__ckpt_rows(w) == 0 && known_rows && !pass->merge_reads_input &&
            pass->output == sl_stage_output(st))
            s = sl__ckpt_part_export(w, &plan, &len, err);
    }
    uint64_t n = len;
    sl_status r = sl__dist_bcast(&n, sizeof n, 0, err);
    if (r == SL_OK && n > 0 && me != 0 && !(plan = malloc(n)))
        s = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    s = sl__dist_agree(r ? r : s, err);
    if (s == SL_OK && n > 0)
        s = sl__dist_bcast(plan, n, 0, err);
    if (s == SL_OK && n > 0 && me != 0)
        s = sl__ckpt_part_open(sl_stage_output(st), plan, n, &part->writer, err);
    free(plan);
    s = sl__dist_agree(s, err);
    part->split_write = s == SL_OK && n > 0;
    return s;
}

/* Rank 0 adds another rank's leaves (split_write) after its own rows. */
static sl_status fold_leaf(void *ctx, const void *item, sl_error *err)
{
    return sl__ckpt_add_item(ctx, item, err);
}

/* split_write, after the pass: each rank's rows made durable, and their
 * leaves added to rank 0's writer in rank order. Collective. */
static sl_status settle_split_write(const sl_pass *pass, dist_part *part, sl_status s, sl_error *err)
{
    void *items = NULL;
    int64_t count = 0;
    size_t size = 0;
    if (part->writer) {
        size = sl__ckpt_leaf_item_size(part->writer);
        if (s == SL_OK && (count = sl__ckpt_part_items(part->writer, &items, err)) < 0)
            s = SL_ERR_NOMEM;
        sl_error lost;
        sl_status c = sl__ckpt_part_close(part->writer, s == SL_OK, s == SL_OK ? err : &lost);
        part->writer = NULL;
        if (s == SL_OK)
            s = c;
    } else if (sl__dist_rank() == 0) {
        size = sl__ckpt_leaf_item_size(sl__frame_writer(pass->output));
    }
    s = sl__dist_agree(s, err);
    if (s == SL_OK)
        s = sl__dist_fold_at_root(items, count, size, fold_leaf, sl__frame_writer(pass->output), err);
    free(items);
    return sl__dist_agree(s, err);
}

/* A pass over several ranks (dist_mode): each rank runs its part, then the
 * ranks agree on the outcome (the failure of the first chunk in order wins)
 * and every rank ends with rank 0's accumulator, so the op's next steps are
 * the same everywhere. Every rank reaches every collective call here, in
 * the same order, whatever happened in its part. */
static sl_status run_pass_ranks(sl_exec *ex, sl_stage *st, const sl_pass *pass, void *acc, dist_mode mode,
                                sl_error *err)
{
    int me = sl__dist_rank(), n = sl__dist_size();
    size_t acc_bytes = pass->acc_size ? pass->acc_size : pass->partial_size;
    dist_part part = {0};
    sl_status s = SL_OK;
    char *token = NULL; /* DIST_CHAIN: the status so far, then the accumulator */
    if (mode == DIST_CHAIN) {
        token = malloc(sizeof(int64_t) + acc_bytes);
        if (!token)
            s = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    if (mode == DIST_CHAIN && me > 0 && token) {
        sl_status r = sl__dist_recv(token, sizeof(int64_t) + acc_bytes, me - 1, err);
        int64_t before;
        memcpy(&before, token, sizeof before);
        if (r != SL_OK)
            s = r;
        else if (before != SL_OK)
            s = sl__error_set(err, SL_ERR_CANCELLED, "cancelled because an earlier rank failed");
        else if (acc_bytes)
            memcpy(acc, token + sizeof(int64_t), acc_bytes);
    }
    if (mode == DIST_ROOT) {
        s = plan_split_write(st, pass, &part, err);
        if (part.split_write)
            mode = DIST_SPLIT;
    }
    if (mode == DIST_ROOT && me != 0)
        ex->pass_no++; /* rank 0 runs it; the others count it as run */
    else if (s == SL_OK)
        s = run_pass(ex, st, pass, acc, mode, &part, err);
    /* the wait for the other ranks starts here (rank_sync_seconds): with
     * the rows' fdatasync of a rank that wrote its own */
    double t0 = sl__now();
    if (part.split_write)
        s = settle_split_write(pass, &part, s, err);
    if (mode == DIST_CHAIN && me + 1 < n && token) {
        int64_t now = s;
        memcpy(token, &now, sizeof now);
        if (acc_bytes)
            memcpy(token + sizeof now, acc, acc_bytes);
        sl_error lost;
        sl__dist_send(token, sizeof now + acc_bytes, me + 1, s == SL_OK ? err : &lost);
    }
    free(token);
    s = sl__dist_agree(s, err);
    if (s == SL_OK && mode == DIST_SPLIT && pass->partial_size) {
        fold_ctx f = {pass, acc};
        s = sl__dist_fold_at_root(part.stash, part.nstash, sizeof(int64_t) + pass->partial_size, fold_partial, &f,
                                  err);
        s = sl__dist_agree(s, err);
    }
    free(part.stash);
    int root = mode == DIST_CHAIN ? n - 1 : 0;
    if (s == SL_OK && acc && acc_bytes && mode != DIST_ALL)
        s = sl__dist_bcast(acc, acc_bytes, root, err);
    ex->rank_sync_seconds += sl__now() - t0;
    if (s == SL_OK && mode == DIST_ROOT) {
        s = sl__dist_bcast(&part.keeps, sizeof part.keeps, 0, err);
        if (s == SL_OK && me != 0 && part.keeps)
            s = set_output_layout(ex, pass, pass->output, sl__frame_chunks(pass->input, ex->chunk_rows), err);
        if (s == SL_OK && me != 0 && pass->output == sl_stage_output(st))
            ex->streamed_output = 1;
    }
    return s;
}

static sl_status exec_pass(sl_exec *ex, sl_stage *st, const sl_pass *pass, void *acc, sl_error *err)
{
    sl_status s;
    if (ex->capture && pass->output == sl_stage_output(st)) {
        /* a streamed stage: its readers will run this pass on their chunks */
        if (pass->sequential || pass->chunk_order || (!pass->chunk && pass->input))
            return sl__error_set(err, SL_ERR_INTERNAL,
                                 "op '%s' is marked streamable but its output pass '%s' cannot be streamed",
                                 sl_stage_op_name(st), pass->name);
        s = sl__frame_set_generator(sl_stage_output(st), pass, err);
        if (s == SL_OK && ex->row_local_next) {
            sl__frame_set_row_local(sl_stage_output(st));
            if (ex->widening_next)
                sl__frame_set_widening(sl_stage_output(st));
            if (ex->any_float_next)
                sl__frame_set_any_float(sl_stage_output(st));
        }
        if (s == SL_OK && pass->input)
            s = set_output_layout(ex, pass, sl_stage_output(st),
                                  sl__frame_chunks(pass->input, ex->chunk_rows), err);
        if (s == SL_OK)
            ex->streamed_output = 1;
        return s;
    }
    dist_mode mode = dist_mode_of(ex, pass);
    if (mode != DIST_NONE)
        return run_pass_ranks(ex, st, pass, acc, mode, err);
    if (ex->scan)
        return group_pass(ex, st, pass, acc, err);
    dist_part part = {0};
    return run_pass(ex, st, pass, acc, mode, &part, err);
}

sl_status sl_exec_pass(sl_exec *ex, sl_stage *st, const sl_pass *pass, void *acc, sl_error *err)
{
    sl_status s = exec_pass(ex, st, pass, acc, err);
    /* for this pass only, whichever way it ran */
    ex->sample_stride = 0;
    ex->row_local_next = 0;
    ex->widening_next = 0;
    ex->any_float_next = 0;
    ex->block_rows_next = 0;
    return s;
}
