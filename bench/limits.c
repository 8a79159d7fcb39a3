/* bench/limits.c: what this machine can do at most, for bench/run to compare
 * sluice's passes against. Prints one JSON object on stdout.
 *
 *   memory (OpenMP, OMP_NUM_THREADS threads, arrays of --mib MiB each, best of --reps):
 *     read     s += a[i]            (vectorised reduction, so it is bandwidth- not latency-bound)
 *     write    a[i] = v
 *     copy     a[i] = b[i]
 *     triad    a[i] = b[i] + k c[i] (STREAM's triad; 3 arrays counted, no write-allocate)
 *     f32to64  d[i] = (double) f[i] (the convert stage's kernel: 4 bytes in, 8 out)
 *     fresh    memset() of newly mmap'ed memory: writing pages the process has never touched, as the
 *              kernel does for every page of a new file it caches (page faults, zeroing included)
 *   BLIS (threads from BLIS_NUM_THREADS / OMP_NUM_THREADS):
 *     dgemm    square m x m x m, 2 m^3 flops
 *     gram     G = X^T X over row-major chunks of 65536 x p (p = --gram-cols), streamed over the
 *              whole buffer as sluice's Gram pass does; counted as 2 n p^2 flops (GEMM-equivalent),
 *              once with bli_dgemm and once with bli_dsyrk (which does half of that arithmetic)
 *   files (only with --file / --dir):
 *     file_read   pread() of FILE in 8 MiB blocks, 1 thread (warm page cache if FILE was just read)
 *     file_read_par  the same with every OpenMP thread reading its own 1 MiB blocks and summing
 *              them, as a streaming pass reads a file: the page cache's ceiling for such a pass
 *     file_write  write() of --file-mib MiB to a new file in DIR, then the same with fsync() (best of 3)
 *
 * Build: cc -O3 -fopenmp bench/limits.c -o limits -lblis
 * (bench/run builds it into bench/data/; nothing here depends on the rest of the repository.)
 * Options: --mib N  --reps N  --dgemm N  --gram-cols P  --only dgemm  --file PATH  --dir DIR  --file-mib N */
#define _GNU_SOURCE
#include <blis.h>
#include <errno.h>
#include <fcntl.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static double now(void) { return omp_get_wtime(); }

static void *xmalloc(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, n) != 0) {
        fprintf(stderr, "limits: cannot allocate %zu bytes\n", n);
        exit(1);
    }
    return p;
}

/* Best-of-reps seconds of f(); the first call also warms (page-faults) the arrays. */
typedef struct {
    double *a, *b, *c;
    float *f;
    size_t n;
    double sink;
} mem;

static void k_read(mem *m)
{
    double s = 0;
    const double *a = m->a;
#pragma omp parallel for simd reduction(+ : s) schedule(static)
    for (size_t i = 0; i < m->n; i++)
        s += a[i];
    m->sink += s;
}
static void k_write(mem *m)
{
    double *a = m->a, v = m->sink * 1e-300 + 1.0;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < m->n; i++)
        a[i] = v;
}
static void k_copy(mem *m)
{
    double *restrict a = m->a;
    const double *restrict b = m->b;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < m->n; i++)
        a[i] = b[i];
}
static void k_triad(mem *m)
{
    double *restrict a = m->a;
    const double *restrict b = m->b, *restrict c = m->c;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < m->n; i++)
        a[i] = b[i] + 3.0 * c[i];
}
static void k_f32to64(mem *m)
{
    double *restrict a = m->a;
    const float *restrict f = m->f;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < m->n; i++)
        a[i] = (double)f[i];
}

static void k_fresh(mem *m)
{
    size_t bytes = m->n * 8;
    char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return;
    memset(p, 1, bytes);
    m->sink += p[bytes / 2];
    munmap(p, bytes);
}

static double best(void (*k)(mem *), mem *m, int reps)
{
    double b = 1e30;
    for (int r = 0; r < reps; r++) {
        double t = now();
        k(m);
        t = now() - t;
        if (t < b)
            b = t;
    }
    return b;
}

static double file_read(const char *path, double *bytes_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "limits: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t bs = (size_t)8 << 20;
    char *buf = xmalloc(bs);
    double bestt = 1e30, bytes = 0;
    for (int r = 0; r < 2; r++) {
        off_t off = 0;
        ssize_t got;
        double t = now();
        while ((got = pread(fd, buf, bs, off)) > 0)
            off += got;
        t = now() - t;
        bytes = (double)off;
        if (t < bestt)
            bestt = t;
    }
    free(buf);
    close(fd);
    *bytes_out = bytes;
    return bestt;
}

static double file_read_par(const char *path, double *bytes_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    off_t size = lseek(fd, 0, SEEK_END);
    size_t bs = (size_t)1 << 20, n = size > 0 ? (size_t)size / bs : 0;
    double bestt = 1e30, sink = 0;
    for (int r = 0; r < 2 && n > 0; r++) {
        double t = now();
#pragma omp parallel reduction(+ : sink)
        {
            double *buf = xmalloc(bs);
#pragma omp for schedule(dynamic, 1)
            for (size_t k = 0; k < n; k++) {
                if (pread(fd, buf, bs, (off_t)(k * bs)) != (ssize_t)bs)
                    continue;
                for (size_t i = 0; i < bs / 8; i++)
                    sink += buf[i] == buf[i]; /* touch every value (NaN-safe), as a pass would */
            }
            free(buf);
        }
        t = now() - t;
        if (t < bestt)
            bestt = t;
    }
    close(fd);
    *bytes_out = (double)(n * bs) + (sink < 0 ? 1 : 0);
    return n > 0 ? bestt : -1;
}

static double file_write(const char *dir, size_t mib, int do_fsync)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/limits-write.%ld.tmp", dir, (long)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "limits: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t bs = (size_t)8 << 20;
    char *buf = xmalloc(bs);
    memset(buf, 0x5a, bs);
    double t = now();
    for (size_t done = 0; done < mib << 20; done += bs)
        if (write(fd, buf, bs) != (ssize_t)bs) {
            t = -1;
            break;
        }
    if (t >= 0 && do_fsync && fsync(fd) != 0)
        t = -1;
    if (t >= 0)
        t = now() - t;
    close(fd);
    unlink(path);
    free(buf);
    return t;
}

static double dgemm_rate(dim_t m, int reps)
{
    double one = 1, zero = 0;
    double *A = xmalloc((size_t)m * m * 8), *B = xmalloc((size_t)m * m * 8), *C = xmalloc((size_t)m * m * 8);
    for (size_t i = 0; i < (size_t)m * m; i++) {
        A[i] = 1.0 / (double)(i % 977 + 1);
        B[i] = 0.5;
        C[i] = 0;
    }
    double b = 1e30;
    for (int r = 0; r < reps; r++) {
        double t = now();
        bli_dgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, m, m, &one, A, 1, m, B, 1, m, &zero, C, 1, m);
        t = now() - t;
        if (t < b)
            b = t;
    }
    free(A);
    free(B);
    free(C);
    return 2.0 * (double)m * m * m / b / 1e9;
}

/* X is n x p row-major; G (p x p) accumulates X^T X chunk by chunk, as a Gram pass does. */
static double gram_rate(const double *X, size_t n, dim_t p, int use_syrk, int reps)
{
    const dim_t chunk = 65536;
    double one = 1, G[64 * 64];
    double b = 1e30;
    for (int r = 0; r < reps; r++) {
        memset(G, 0, sizeof G);
        double t = now();
        for (size_t s = 0; s < n; s += (size_t)chunk) {
            dim_t k = (dim_t)(n - s < (size_t)chunk ? n - s : (size_t)chunk);
            const double *x = X + s * (size_t)p;
            /* A = X^T (p x k): element (j, i) at x[i p + j] -> rs 1, cs p */
            if (use_syrk)
                bli_dsyrk(BLIS_LOWER, BLIS_NO_TRANSPOSE, p, k, &one, (double *)x, 1, p, &one, G, p, 1);
            else
                bli_dgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, p, p, k, &one, (double *)x, 1, p, (double *)x, p, 1,
                          &one, G, p, 1);
        }
        t = now() - t;
        if (t < b)
            b = t;
    }
    return 2.0 * (double)n * p * p / b / 1e9;
}

int main(int argc, char **argv)
{
    size_t mib = 256, file_mib = 512;
    int reps = 5, only_dgemm = 0;
    dim_t dg = 1500, p = 17;
    const char *file = NULL, *dir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--only") && v && !strcmp(v, "dgemm"))
            only_dgemm = 1, i++;
        else if (!strcmp(a, "--mib") && v)
            mib = strtoull(v, NULL, 10), i++;
        else if (!strcmp(a, "--reps") && v)
            reps = atoi(v), i++;
        else if (!strcmp(a, "--dgemm") && v)
            dg = atol(v), i++;
        else if (!strcmp(a, "--gram-cols") && v)
            p = atol(v), i++;
        else if (!strcmp(a, "--file") && v)
            file = v, i++;
        else if (!strcmp(a, "--dir") && v)
            dir = v, i++;
        else if (!strcmp(a, "--file-mib") && v)
            file_mib = strtoull(v, NULL, 10), i++;
        else {
            fprintf(stderr, "usage: limits [--mib N] [--reps N] [--dgemm N] [--gram-cols P] [--only dgemm] "
                            "[--file PATH] [--dir DIR] [--file-mib N]\n");
            return 2;
        }
    }
    if (mib < 1 || reps < 1 || dg < 1 || p < 1 || p > 64) {
        fprintf(stderr, "limits: bad option value\n");
        return 2;
    }
    printf("{\"threads\": %d", omp_get_max_threads());
    printf(", \"blis_threads\": %ld", (long)bli_thread_get_num_threads());
    /* BLIS 0.9 reads BLIS_ARCH_TYPE as the number of an arch_t: the harness
     * needs these to force a kernel set */
    printf(", \"arch_ids\": {\"zen3\": %d, \"haswell\": %d}", (int)BLIS_ARCH_ZEN3, (int)BLIS_ARCH_HASWELL);
    printf(", \"dgemm_n\": %ld, \"dgemm_gflops\": %.2f", (long)dg, dgemm_rate(dg, 3));
    if (only_dgemm) {
        /* the Gram shape too, so that a forced kernel set is compared like for like */
        size_t n = ((size_t)64 << 20) / 8 / (size_t)p;
        double *x = xmalloc(n * (size_t)p * 8);
        for (size_t i = 0; i < n * (size_t)p; i++)
            x[i] = (double)(i % 7) - 3;
        printf(", \"gram_cols\": %ld, \"gram_dgemm_gflops\": %.2f, \"gram_dsyrk_gflops\": %.2f", (long)p,
               gram_rate(x, n, p, 0, 3), gram_rate(x, n, p, 1, 3));
        free(x);
    } else {
        mem m = {0};
        m.n = (mib << 20) / 8;
        m.a = xmalloc(m.n * 8);
        m.b = xmalloc(m.n * 8);
        m.c = xmalloc(m.n * 8);
        m.f = xmalloc(m.n * 4);
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < m.n; i++) { /* first touch by the threads that will use the pages */
            m.a[i] = 1;
            m.b[i] = 2;
            m.c[i] = 3;
            m.f[i] = 4;
        }
        double bytes = (double)m.n * 8;
        printf(", \"array_mib\": %zu", mib);
        printf(", \"read_gbs\": %.2f", bytes / best(k_read, &m, reps) / 1e9);
        printf(", \"write_gbs\": %.2f", bytes / best(k_write, &m, reps) / 1e9);
        printf(", \"copy_gbs\": %.2f", 2 * bytes / best(k_copy, &m, reps) / 1e9);
        printf(", \"triad_gbs\": %.2f", 3 * bytes / best(k_triad, &m, reps) / 1e9);
        printf(", \"f32to64_gbs\": %.2f", 1.5 * bytes / best(k_f32to64, &m, reps) / 1e9);
        printf(", \"fresh_gbs\": %.2f", bytes / best(k_fresh, &m, reps) / 1e9);
        size_t n = m.n / (size_t)p; /* rows of a p-column matrix in the same 'mib' */
        printf(", \"gram_cols\": %ld, \"gram_rows\": %zu", (long)p, n);
        printf(", \"gram_dgemm_gflops\": %.2f", gram_rate(m.b, n, p, 0, 3));
        printf(", \"gram_dsyrk_gflops\": %.2f", gram_rate(m.b, n, p, 1, 3));
        printf(", \"sink\": %g", m.sink);
        free(m.a);
        free(m.b);
        free(m.c);
        free(m.f);
    }
    if (file) {
        double pbytes = 0, pt = file_read_par(file, &pbytes);
        if (pt > 0)
            printf(", \"file_read_par_gbs\": %.2f", pbytes / pt / 1e9);
        double bytes = 0, t = file_read(file, &bytes);
        if (t > 0)
            printf(", \"file_read_gbs\": %.2f", bytes / t / 1e9);
    }
    if (dir) {
        double t = 1e30, tf = 1e30;
        for (int r = 0; r < 3; r++) { /* best of 3: the page cache's state varies */
            double x = file_write(dir, file_mib, 0), y = file_write(dir, file_mib, 1);
            t = x > 0 && x < t ? x : t;
            tf = y > 0 && y < tf ? y : tf;
        }
        double bytes = (double)(file_mib << 20);
        printf(", \"file_mib\": %zu", file_mib);
        if (t < 1e30)
            printf(", \"file_write_gbs\": %.2f", bytes / t / 1e9);
        if (tf < 1e30)
            printf(", \"file_write_fsync_gbs\": %.2f", bytes / tf / 1e9);
    }
    printf("}\n");
    return 0;
}
