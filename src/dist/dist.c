/* The ranks of an MPI run (dist.h). Built with MPI only under -Dmpi=enabled
 * (SL_HAVE_MPI); otherwise one rank and no MPI at all. */
#include <stdlib.h>
#include <string.h>
#include "core/error_int.h"
#include "dist/dist.h"

#ifdef SL_HAVE_MPI
#include <limits.h>
#include <time.h>
#include <mpi.h>

static int active(void)
{
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    if (init)
        MPI_Finalized(&fin);
    return init && !fin;
}

int sl__dist_size(void)
{
    int n = 1;
    if (active())
        MPI_Comm_size(MPI_COMM_WORLD, &n);
    return n;
}

int sl__dist_rank(void)
{
    int r = 0;
    if (active())
        MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

/* Waits for a request without spinning. OpenMPI's blocking calls poll at
 * full speed: a rank waiting for rank 0 (which writes a checkpoint alone, or
 * merges the others' partials) would take a core from it. Polling with
 * growing sleeps (20 us to 1 ms) costs at most a millisecond a wait. */
static int wait_idle(MPI_Request *req)
{
    long ns = 20000;
    for (;;) {
        int done = 0;
        int rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS || done)
            return rc;
        struct timespec ts = {0, ns};
        nanosleep(&ts, NULL);
        if (ns < 1000000)
            ns *= 2;
    }
}

static sl_status mpi_fail(sl_error *err, const char *what, int rc)
{
    char text[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(rc, text, &len);
    return sl__error_set(err, SL_ERR_IO, "MPI %s failed: %s", what, text);
}
#else
int sl__dist_size(void)
{
    return 1;
}

int sl__dist_rank(void)
{
    return 0;
}
#endif

void sl__dist_range(int64_t nchunks, int64_t *lo, int64_t *hi)
{
    int64_t p = sl__dist_size(), r = sl__dist_rank();
    int64_t base = nchunks / p, extra = nchunks % p;
    *lo = r * base + (r < extra ? r : extra);
    *hi = *lo + base + (r < extra ? 1 : 0);
}

sl_status sl__dist_agree(sl_status s, sl_error *err)
{
#ifdef SL_HAVE_MPI
    if (sl__dist_size() == 1)
        return s;
    /* the lowest failing rank: MIN over (failed ? rank : size) */
    int me = sl__dist_rank(), n = sl__dist_size();
    int mine = s != SL_OK ? me : n, first = n;
    MPI_Request req;
    int rc = MPI_Iallreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &req);
    if (rc == MPI_SUCCESS)
        rc = wait_idle(&req);
    if (rc != MPI_SUCCESS)
        return mpi_fail(err, "agreement", rc);
    if (first == n)
        return SL_OK;
    sl_error e;
    if (me == first && err)
        e = *err;
    else
        memset(&e, 0, sizeof e);
    e.code = me == first ? s : e.code;
    rc = MPI_Ibcast(&e, (int)sizeof e, MPI_BYTE, first, MPI_COMM_WORLD, &req);
    if (rc == MPI_SUCCESS)
        rc = wait_idle(&req);
    if (rc != MPI_SUCCESS)
        return mpi_fail(err, "agreement", rc);
    if (err)
        *err = e;
    return e.code;
#else
    (void)err;
    return s;
#endif
}

sl_status sl__dist_bcast(void *buf, size_t n, int root, sl_error *err)
{
#ifdef SL_HAVE_MPI
    if (sl__dist_size() == 1)
        return SL_OK;
    for (size_t off = 0; off < n;) {
        size_t part = n - off < (size_t)INT_MAX ? n - off : (size_t)INT_MAX;
        MPI_Request req;
        int rc = MPI_Ibcast((char *)buf + off, (int)part, MPI_BYTE, root, MPI_COMM_WORLD, &req);
        if (rc == MPI_SUCCESS)
            rc = wait_idle(&req);
        if (rc != MPI_SUCCESS)
            return mpi_fail(err, "broadcast", rc);
        off += part;
    }
    return SL_OK;
#else
    (void)buf, (void)n, (void)root, (void)err;
    return SL_OK;
#endif
}

#ifdef SL_HAVE_MPI
/* Messages of at most this many bytes: MPI counts are ints. */
#define BLOCK ((size_t)1 << 26)

static sl_status send_bytes(const void *buf, size_t n, int to, int tag, sl_error *err)
{
    for (size_t off = 0; off < n;) {
        size_t part = n - off < BLOCK ? n - off : BLOCK;
        MPI_Request req;
        int rc = MPI_Isend((const char *)buf + off, (int)part, MPI_BYTE, to, tag, MPI_COMM_WORLD, &req);
        if (rc == MPI_SUCCESS)
            rc = wait_idle(&req);
        if (rc != MPI_SUCCESS)
            return mpi_fail(err, "send", rc);
        off += part;
    }
    return SL_OK;
}

static sl_status recv_bytes(void *buf, size_t n, int from, int tag, sl_error *err)
{
    for (size_t off = 0; off < n;) {
        size_t part = n - off < BLOCK ? n - off : BLOCK;
        MPI_Request req;
        int rc = MPI_Irecv((char *)buf + off, (int)part, MPI_BYTE, from, tag, MPI_COMM_WORLD, &req);
        if (rc == MPI_SUCCESS)
            rc = wait_idle(&req);
        if (rc != MPI_SUCCESS)
            return mpi_fail(err, "receive", rc);
        off += part;
    }
    return SL_OK;
}
#endif

sl_status sl__dist_send(const void *buf, size_t n, int to, sl_error *err)
{
#ifdef SL_HAVE_MPI
    return send_bytes(buf, n, to, 2, err);
#else
    (void)buf, (void)n, (void)to;
    return sl__error_set(err, SL_ERR_INTERNAL, "several ranks without MPI");
#endif
}

sl_status sl__dist_recv(void *buf, size_t n, int from, sl_error *err)
{
#ifdef SL_HAVE_MPI
    return recv_bytes(buf, n, from, 2, err);
#else
    (void)buf, (void)n, (void)from;
    return sl__error_set(err, SL_ERR_INTERNAL, "several ranks without MPI");
#endif
}

sl_status sl__dist_fold_at_root(const void *items, int64_t count, size_t size,
                                sl_status (*fold)(void *ctx, const void *item, sl_error *err), void *ctx,
                                sl_error *err)
{
    int n = sl__dist_size(), me = sl__dist_rank();
    if (n == 1)
        return SL_OK;
#ifdef SL_HAVE_MPI
    if (me != 0) {
        sl_status s = send_bytes(&count, sizeof count, 0, 1, err);
        for (int64_t done = 0; s == SL_OK && done < count;) {
            int64_t k = size ? (int64_t)(BLOCK / size) : count;
            if (k < 1)
                k = 1;
            if (k > count - done)
                k = count - done;
            s = send_bytes((const char *)items + (size_t)done * size, (size_t)k * size, 0, 1, err);
            done += k;
        }
        return s;
    }
    (void)items;
    size_t cap = size < BLOCK ? BLOCK - BLOCK % (size ? size : 1) : size;
    char *buf = malloc(cap ? cap : 1);
    sl_status s = buf ? SL_OK : sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_status folded = SL_OK;
    sl_error fold_err;
    for (int r = 1; r < n && s == SL_OK; r++) {
        int64_t total = 0;
        s = recv_bytes(&total, sizeof total, r, 1, err);
        for (int64_t done = 0; s == SL_OK && done < total;) {
            int64_t k = (int64_t)(cap / (size ? size : 1));
            if (k > total - done)
                k = total - done;
            s = recv_bytes(buf, (size_t)k * size, r, 1, err);
            for (int64_t i = 0; s == SL_OK && folded == SL_OK && i < k; i++)
                folded = fold(ctx, buf + (size_t)i * size, &fold_err);
            done += k;
        }
    }
    free(buf);
    if (s == SL_OK && folded != SL_OK) {
        if (err)
            *err = fold_err;
        s = folded;
    }
    return s;
#else
    (void)items, (void)count, (void)size, (void)fold, (void)ctx, (void)me;
    return sl__error_set(err, SL_ERR_INTERNAL, "several ranks without MPI");
#endif
}
