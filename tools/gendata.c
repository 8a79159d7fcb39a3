/* sluice-gendata: write a large synthetic regression data set with NaNs, or a
 * classification data set, to HDF5.
 *
 *   sluice-gendata OUT.h5 --rows N --features F [--seed S] [--nan-rate R]
 *                  [--label-nan-rate R] [--noise SD] [--chunk-rows C] [--threads T]
 *   sluice-gendata OUT.h5 --task classification --rows N --features F [--seed S]
 *                  [--classes K] [--chunk-rows C] [--threads T]
 *
 * Regression (the default, --task regression; the data model of
 * shared/reference/make_dataset.py):
 *   X[i,j] ~ Normal(mean j, sd 1+j)                float32, N x F
 *   w[j]   ~ Normal(0, 1), b = 3                    the true model (from the seed)
 *   y[i]   = sum_j X[i,j] w[j] + b + Normal(0, noise)   float32, N
 *   then X[i,j] = NaN with probability nan-rate and y[i] = NaN with probability
 *   label-nan-rate (y is computed from the complete row first).
 * y is computed in double from the float32-rounded X values, so a noise-free data
 * set (--noise 0) satisfies y = X w + b up to the float32 rounding of y.
 *
 * Output: datasets "X" (N,F) float32 and "y" (N,) float32, chunked by
 * (min(C,N), F) and (min(C,N),), uncompressed, no timestamps; file attributes
 * true_w (float64[F]), true_b, seed (uint64), noise, nan_rate, label_nan_rate
 * (float64) and generator = "sluice-gendata".  Written to OUT.h5.tmp, renamed to
 * OUT.h5 on success, removed on failure.
 *
 * Classification (--task classification), a logistic model whose classes overlap:
 *   X[i,j] ~ Normal(0, 1)                               float64, N x F, no NaNs
 *   K = 2 (the default): v ~ Normal(0, I_F), w = 5 v / |v|, b = 0.5;
 *       P(y=1 | x) = 1 / (1 + exp(-(x.w + b)))
 *       The score x.w + b ~ Normal(0.5, 25): the Bayes accuracy is about 0.895
 *       and about 54 % of the labels are 1, whatever F and the seed.
 *   K > 2 (--classes K): row k of W (K x F) is 5 v_k / |v_k|, b = 0;
 *       P(y=k | x) = softmax_k(x W^T + b)
 *   y[i] ~ that distribution (one uniform per row), int64 in {0, ..., K-1}.
 * Datasets "X" (N,F) float64 and "y" (N,) int64, chunked as above; attributes
 * task = "classification", classes (uint64), true_w (float64[F] when K = 2, else
 * [K,F]), true_b (a scalar when K = 2, else float64[K]), seed, bayes_accuracy
 * (float64: the mean over the rows of max_k P(y=k | x), the expected accuracy of
 * the true model on these rows; summed exactly in units of 2^-24 so that it does
 * not depend on the threads or the chunking) and generator.
 *
 * Determinism: every random value is a pure function of (seed, stream, row,
 * column) through a counter-based hash (the splitmix64 finaliser applied twice),
 * so the output is bit-identical for a given seed whatever the thread count and
 * chunk size.  Normals come from Box-Muller on two 53-bit uniforms; X uses both
 * Box-Muller outputs (column pair 2k, 2k+1 shares one draw).
 *
 * Execution: chunk by chunk with two buffers.  Inside one OpenMP parallel region
 * the main thread writes chunk c-1 to HDF5 while all the other threads generate
 * chunk c (rows split dynamically; the main thread joins when its write is done).
 * All HDF5 calls are made by the main thread.  Memory: 2 x chunk (X and y).
 *
 * Exit status: 0 success, 1 out of memory / internal, 2 bad usage, 3 I/O error.
 */
#include <errno.h>
#include <hdf5.h>
#include <inttypes.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_USAGE 2
#define EXIT_IO 3
#define EXIT_INTERNAL 1

#define DEFAULT_CHUNK_ROWS 65536u
/* When --chunk-rows is not given and F is large, shrink the default chunk so
 * that one X chunk stays at most this big. */
#define DEFAULT_CHUNK_MAX_BYTES (64u << 20)
/* HDF5 limit: a chunk must be smaller than 4 GiB. */
#define HDF5_CHUNK_MAX_BYTES 0xFFFFFFFFull

static const char *prog = "sluice-gendata";

/* ---------------------------------------------------------------- hashing */

/* Stream identifiers: each kind of random draw has its own key. */
enum { STREAM_W = 1, STREAM_X = 2, STREAM_XNAN = 3, STREAM_NOISE = 4, STREAM_YNAN = 5,
       STREAM_LABEL = 6 };

/* classification: |w| (each row of W) and the binary intercept */
#define CLS_WEIGHT_NORM 5.0
#define CLS_BINARY_BIAS 0.5
#define CLS_MAX_CLASSES 1000u
/* bayes_accuracy is summed as integers in units of 2^-24 per row */
#define BAYES_SCALE 16777216.0

#define GOLDEN 0x9E3779B97F4A7C15ull
#define COLMUL 0xD6E8FEB86659FD93ull

static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t stream_key(uint64_t seed, uint64_t stream)
{
    return mix64(mix64(seed ^ 0x736C75696365ull /* "sluice" */) + stream * GOLDEN);
}

/* Per-(stream, row) key; then value(col) = mix64(row_key ^ (col+1) * COLMUL). */
static inline uint64_t row_key(uint64_t skey, uint64_t row)
{
    return mix64(skey + (row + 1) * GOLDEN);
}

static inline uint64_t cell_hash(uint64_t rkey, uint64_t col)
{
    return mix64(rkey ^ ((col + 1) * COLMUL));
}

/* uniform in [0, 1) with 53 bits */
static inline double u01(uint64_t h) { return (double)(h >> 11) * 0x1p-53; }
/* uniform in (0, 1] with 53 bits (safe for log) */
static inline double u01_open0(uint64_t h) { return (double)((h >> 11) + 1) * 0x1p-53; }

/* Box-Muller: two independent standard normals from the two hashes. */
static inline void box_muller(uint64_t h1, uint64_t h2, double *z0, double *z1)
{
    const double two_pi = 6.283185307179586476925286766559;
    double r = sqrt(-2.0 * log(u01_open0(h1)));
    double t = two_pi * u01(h2);
    *z0 = r * cos(t);
    *z1 = r * sin(t);
}

/* ------------------------------------------------------------- parameters */

struct params {
    const char *out;
    uint64_t rows, features, seed, chunk_rows;
    double nan_rate, label_nan_rate, noise;
    int threads; /* 0 = OpenMP default */
    int chunk_given;
    int classify;     /* --task classification */
    uint64_t classes; /* K, classification only */
};

static void usage(FILE *fp)
{
    fprintf(fp,
        "usage: %s OUT.h5 --rows N --features F [options]\n"
        "\n"
        "Write a synthetic regression data set to OUT.h5: X float32 (N x F), column j\n"
        "~ Normal(j, 1+j); y = X w + 3 + Normal(0, noise) with w ~ Normal(0, 1) drawn\n"
        "from the seed; then NaNs injected in X and y. The output is bit-identical for\n"
        "a given seed whatever the thread count and chunk size.\n"
        "\n"
        "With --task classification: X float64 (N x F) ~ Normal(0, 1), no NaNs, and\n"
        "labels y int64 in {0, 1} drawn from P(y=1|x) = 1/(1+exp(-(x.w + 0.5))) with\n"
        "|w| = 5 (a Bayes accuracy of about 0.895: the classes overlap); with\n"
        "--classes K > 2, y in {0..K-1} from a softmax over K weight vectors of norm 5.\n"
        "\n"
        "options:\n"
        "  --rows N             number of rows, N >= 1 (required)\n"
        "  --features F         number of features, F >= 1 (required)\n"
        "  --seed S             unsigned 64-bit seed (default 42)\n"
        "  --task T             regression (default) or classification\n"
        "  --classes K          classification: number of classes, 2 <= K <= 1000 (default 2)\n"
        "  --nan-rate R         regression: probability of NaN per X element, in [0,1]\n"
        "                       (default 0.01)\n"
        "  --label-nan-rate R   regression: probability of NaN per y element, in [0,1]\n"
        "                       (default 0.005)\n"
        "  --noise SD           regression: standard deviation of the label noise, >= 0\n"
        "                       (default 0.5)\n"
        "  --chunk-rows C       HDF5 chunk rows and generation block, C >= 1\n"
        "                       (default 65536, smaller if a chunk would exceed 64 MiB)\n"
        "  --threads T          OpenMP threads, T >= 1 (default: OMP_NUM_THREADS or all)\n"
        "  -h, --help           print this help and exit\n"
        "\n"
        "Options also accept --name=value. Writes OUT.h5.tmp, then renames it.\n"
        "Exit status: 0 ok, 2 bad usage, 3 I/O error, 1 other error.\n",
        prog);
}

static int bad_usage(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "%s: ", prog);
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\nTry '%s --help' for more information.\n", prog);
    return EXIT_USAGE;
}

/* Strict unsigned decimal (or 0x-hex) integer; no sign, no trailing junk. */
static int parse_u64(const char *s, uint64_t *v)
{
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ' || *s == '\t')
        return -1;
    int base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        base = 16;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, base);
    if (errno || end == s || *end)
        return -1;
    *v = (uint64_t)x;
    return 0;
}

static int parse_double(const char *s, double *v)
{
    if (!s || !*s || *s == ' ' || *s == '\t')
        return -1;
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(x))
        return -1;
    *v = x;
    return 0;
}

static int parse_args(int argc, char **argv, struct params *p)
{
    memset(p, 0, sizeof *p);
    p->seed = 42;
    p->nan_rate = 0.01;
    p->label_nan_rate = 0.005;
    p->noise = 0.5;
    p->chunk_rows = DEFAULT_CHUNK_ROWS;
    p->classes = 2;
    int have_rows = 0, have_features = 0, no_more_opts = 0;
    const char *regression_only = NULL, *classes_given = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (no_more_opts || a[0] != '-' || a[1] == '\0') {
            if (p->out)
                return bad_usage("unexpected argument '%s' (output already given as '%s')",
                                 a, p->out);
            p->out = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            no_more_opts = 1;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        }
        /* --name value or --name=value */
        char name[64];
        const char *val;
        const char *eq = strchr(a, '=');
        if (eq) {
            size_t n = (size_t)(eq - a);
            if (n >= sizeof name)
                return bad_usage("unknown option '%s'%s", a, "");
            memcpy(name, a, n);
            name[n] = '\0';
            val = eq + 1;
        } else {
            if (strlen(a) >= sizeof name)
                return bad_usage("unknown option '%s'%s", a, "");
            strcpy(name, a);
            val = NULL;
        }
        static const char *const known[] = {"--rows", "--features", "--seed", "--nan-rate",
                                            "--label-nan-rate", "--noise", "--chunk-rows",
                                            "--threads", "--task", "--classes"};
        int k = -1;
        for (int j = 0; j < (int)(sizeof known / sizeof known[0]); j++)
            if (!strcmp(name, known[j]))
                k = j;
        if (k < 0)
            return bad_usage("unknown option '%s'%s", name, "");
        if (!val) {
            if (i + 1 >= argc)
                return bad_usage("option '%s' needs a value%s", name, "");
            val = argv[++i];
        }
        uint64_t u;
        double d;
        switch (k) {
        case 0: /* rows */
        case 1: /* features */
            if (parse_u64(val, &u) || u < 1)
                return bad_usage("%s must be an integer >= 1, got '%s'", name, val);
            if (k == 0) { p->rows = u; have_rows = 1; }
            else { p->features = u; have_features = 1; }
            break;
        case 2:
            if (parse_u64(val, &u))
                return bad_usage("%s must be an unsigned 64-bit integer, got '%s'", name, val);
            p->seed = u;
            break;
        case 3:
        case 4:
            if (parse_double(val, &d) || d < 0.0 || d > 1.0)
                return bad_usage("%s must be a number in [0, 1], got '%s'", name, val);
            if (k == 3) p->nan_rate = d;
            else p->label_nan_rate = d;
            regression_only = known[k];
            break;
        case 5:
            if (parse_double(val, &d) || d < 0.0)
                return bad_usage("%s must be a finite number >= 0, got '%s'", name, val);
            p->noise = d;
            regression_only = known[k];
            break;
        case 6:
            if (parse_u64(val, &u) || u < 1)
                return bad_usage("%s must be an integer >= 1, got '%s'", name, val);
            p->chunk_rows = u;
            p->chunk_given = 1;
            break;
        case 7:
            if (parse_u64(val, &u) || u < 1 || u > 4096)
                return bad_usage("%s must be an integer in [1, 4096], got '%s'", name, val);
            p->threads = (int)u;
            break;
        case 8:
            if (!strcmp(val, "classification"))
                p->classify = 1;
            else if (!strcmp(val, "regression"))
                p->classify = 0;
            else
                return bad_usage("%s must be regression or classification, got '%s'", name, val);
            break;
        case 9:
            if (parse_u64(val, &u) || u < 2 || u > CLS_MAX_CLASSES)
                return bad_usage("%s must be an integer in [2, 1000], got '%s'", name, val);
            p->classes = u;
            classes_given = known[k];
            break;
        }
    }
    if (!p->out)
        return bad_usage("missing output file name%s%s", "", "");
    if (!have_rows)
        return bad_usage("missing --rows N%s%s", "", "");
    if (!have_features)
        return bad_usage("missing --features F%s%s", "", "");
    if (p->classify && regression_only)
        return bad_usage("%s applies to --task regression only (classification data has no "
                         "NaNs and no noise term)%s", regression_only, "");
    if (!p->classify && classes_given)
        return bad_usage("%s needs --task classification%s", classes_given, "");
    if (p->classify) {
        p->nan_rate = p->label_nan_rate = p->noise = 0.0;
    }
    const uint64_t elem = p->classify ? sizeof(double) : sizeof(float);

    char buf1[32], buf2[32];
    if (p->features > (HDF5_CHUNK_MAX_BYTES / elem)) {
        snprintf(buf1, sizeof buf1, "%" PRIu64, p->features);
        return bad_usage("--features %s is too large (one row must fit an HDF5 chunk < 4 GiB)%s",
                         buf1, "");
    }
    if (p->rows > (UINT64_C(1) << 62) / p->features / elem) {
        snprintf(buf1, sizeof buf1, "%" PRIu64, p->rows);
        snprintf(buf2, sizeof buf2, "%" PRIu64, p->features);
        return bad_usage("data set too large: %s rows x %s features", buf1, buf2);
    }
    uint64_t row_bytes = p->features * elem;
    if (!p->chunk_given && p->chunk_rows * row_bytes > DEFAULT_CHUNK_MAX_BYTES) {
        p->chunk_rows = DEFAULT_CHUNK_MAX_BYTES / row_bytes;
        if (p->chunk_rows < 1)
            p->chunk_rows = 1;
    }
    if (p->chunk_rows > p->rows)
        p->chunk_rows = p->rows;
    if (p->chunk_rows * row_bytes > HDF5_CHUNK_MAX_BYTES) {
        snprintf(buf1, sizeof buf1, "%" PRIu64, p->chunk_rows);
        return bad_usage("--chunk-rows %s is too large for this many features "
                         "(an HDF5 chunk must be < 4 GiB)%s", buf1, "");
    }
    if (p->chunk_rows > SIZE_MAX / row_bytes / 2) {
        snprintf(buf1, sizeof buf1, "%" PRIu64, p->chunk_rows);
        return bad_usage("--chunk-rows %s is too large%s", buf1, "");
    }
    return 0;
}

/* ------------------------------------------------------------- generation */

struct model {
    uint64_t features;
    double *w;      /* true weights, F (regression, binary); K x F (K > 2 classes) */
    double b;
    double *bk;     /* classification: the intercepts, 1 (binary) or K */
    uint64_t classes; /* classification: K; 0 for regression */
    double noise, nan_rate, label_nan_rate;
    uint64_t kx, kxnan, knoise, kynan, klabel;
};

/* Row `k` of the weight stream: F standard normals. Row 0 is the regression's w. */
static void make_weights_row(uint64_t seed, uint64_t k, uint64_t f, double *w)
{
    uint64_t rk = row_key(stream_key(seed, STREAM_W), k);
    for (uint64_t j = 0; j < f; j += 2) {
        double z0, z1;
        box_muller(cell_hash(rk, j), cell_hash(rk, j + 1), &z0, &z1);
        w[j] = z0;
        if (j + 1 < f)
            w[j + 1] = z1;
    }
}

/* Generate global row `row` into x[0..F) and *y. */
static inline void gen_row(const struct model *m, uint64_t row, float *restrict x, float *y)
{
    const uint64_t f = m->features;
    const double *w = m->w;
    uint64_t rk = row_key(m->kx, row);
    double acc = 0.0;
    for (uint64_t j = 0; j < f; j += 2) {
        double z0, z1;
        box_muller(cell_hash(rk, j), cell_hash(rk, j + 1), &z0, &z1);
        float x0 = (float)((double)j + (1.0 + (double)j) * z0);
        x[j] = x0;
        acc += (double)x0 * w[j];
        if (j + 1 < f) {
            float x1 = (float)((double)(j + 1) + (2.0 + (double)j) * z1);
            x[j + 1] = x1;
            acc += (double)x1 * w[j + 1];
        }
    }
    double yv = acc + m->b;
    if (m->noise > 0.0) {
        double z0, z1;
        uint64_t nk = row_key(m->knoise, row);
        box_muller(cell_hash(nk, 0), cell_hash(nk, 1), &z0, &z1);
        yv += m->noise * z0;
    }
    *y = (float)yv;

    if (m->nan_rate > 0.0) {
        uint64_t nk = row_key(m->kxnan, row);
        for (uint64_t j = 0; j < f; j++)
            if (u01(cell_hash(nk, j)) < m->nan_rate)
                x[j] = NAN;
    }
    if (m->label_nan_rate > 0.0) {
        if (u01(cell_hash(row_key(m->kynan, row), 0)) < m->label_nan_rate)
            *y = NAN;
    }
}

/* Classification weights: row k of W is the weight stream's row k scaled to
 * norm CLS_WEIGHT_NORM (K = 2: one row, w); intercepts 0.5 (K = 2) or 0. */
static void make_class_model(uint64_t seed, struct model *m)
{
    const uint64_t f = m->features, rows = m->classes == 2 ? 1 : m->classes;
    for (uint64_t k = 0; k < rows; k++) {
        double *w = m->w + k * f, ss = 0.0;
        make_weights_row(seed, k, f, w);
        for (uint64_t j = 0; j < f; j++)
            ss += w[j] * w[j];
        double scale = ss > 0.0 ? CLS_WEIGHT_NORM / sqrt(ss) : 0.0;
        for (uint64_t j = 0; j < f; j++)
            w[j] *= scale;
        m->bk[k] = m->classes == 2 ? CLS_BINARY_BIAS : 0.0;
    }
}

/* Classification row `row`: x[0..F) ~ Normal(0, 1), *y drawn from the model's
 * class probabilities with one uniform; returns max_k P(y=k | x) in units of
 * 2^-24 (rounded), for bayes_accuracy. */
static inline uint64_t gen_row_class(const struct model *m, uint64_t row, double *restrict x,
                                     int64_t *y)
{
    const uint64_t f = m->features, K = m->classes;
    uint64_t rk = row_key(m->kx, row);
    for (uint64_t j = 0; j < f; j += 2) {
        double z0, z1;
        box_muller(cell_hash(rk, j), cell_hash(rk, j + 1), &z0, &z1);
        x[j] = z0;
        if (j + 1 < f)
            x[j + 1] = z1;
    }
    const double u = u01(cell_hash(row_key(m->klabel, row), 0));
    double pmax;
    if (K == 2) {
        double s = m->bk[0];
        for (uint64_t j = 0; j < f; j++)
            s += x[j] * m->w[j];
        double p1;
        if (s >= 0.0) {
            p1 = 1.0 / (1.0 + exp(-s));
        } else {
            double e = exp(s);
            p1 = e / (1.0 + e);
        }
        *y = u < p1 ? 1 : 0;
        pmax = p1 >= 0.5 ? p1 : 1.0 - p1;
    } else {
        double z[CLS_MAX_CLASSES], zmax = -INFINITY, sum = 0.0;
        for (uint64_t k = 0; k < K; k++) {
            const double *w = m->w + k * f;
            double s = m->bk[k];
            for (uint64_t j = 0; j < f; j++)
                s += x[j] * w[j];
            z[k] = s;
            if (s > zmax)
                zmax = s;
        }
        for (uint64_t k = 0; k < K; k++) {
            z[k] = exp(z[k] - zmax);
            sum += z[k];
        }
        /* the largest term is exp(0) = 1 */
        pmax = 1.0 / sum;
        double target = u * sum, c = 0.0;
        int64_t pick = -1;
        for (uint64_t k = 0; k < K; k++) {
            c += z[k];
            if (target < c) {
                pick = (int64_t)k;
                break;
            }
        }
        if (pick < 0) /* rounding at the very top: the last class with mass */
            for (uint64_t k = K; k-- > 0;)
                if (z[k] > 0.0) {
                    pick = (int64_t)k;
                    break;
                }
        *y = pick;
    }
    return (uint64_t)(pmax * BAYES_SCALE + 0.5);
}

/* ------------------------------------------------------------------- HDF5 */

static int write_attr_string(hid_t loc, const char *name, const char *value)
{
    int ok = -1;
    hid_t t = H5Tcopy(H5T_C_S1), s = -1, a = -1;
    if (t < 0 || H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0)
        goto out;
    if ((s = H5Screate(H5S_SCALAR)) < 0)
        goto out;
    if ((a = H5Acreate2(loc, name, t, s, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        goto out;
    if (H5Awrite(a, t, &value) < 0)
        goto out;
    ok = 0;
out:
    if (a >= 0) H5Aclose(a);
    if (s >= 0) H5Sclose(s);
    if (t >= 0) H5Tclose(t);
    return ok;
}

/* An attribute over dataspace s (closed here; < 0: its creation failed). */
static int write_attr_in(hid_t loc, const char *name, hid_t ftype, hid_t mtype, hid_t s, const void *data)
{
    int ok = -1;
    hid_t a = -1;
    if (s < 0)
        goto out;
    if ((a = H5Acreate2(loc, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        goto out;
    if (H5Awrite(a, mtype, data) < 0)
        goto out;
    ok = 0;
out:
    if (a >= 0) H5Aclose(a);
    if (s >= 0) H5Sclose(s);
    return ok;
}

static int write_attr(hid_t loc, const char *name, hid_t ftype, hid_t mtype, hsize_t n,
                      int scalar, const void *data)
{
    return write_attr_in(loc, name, ftype, mtype, scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, NULL),
                         data);
}

/* A float64 attribute of rank 1 or 2. */
static int write_attr_2d(hid_t loc, const char *name, int rank, const hsize_t *dims, const double *data)
{
    return write_attr_in(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, H5Screate_simple(rank, dims, NULL), data);
}

static hid_t make_dataset(hid_t file, const char *name, int rank, const hsize_t *dims,
                          const hsize_t *chunk, hid_t ftype)
{
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), space = -1, d = -1;
    if (dcpl < 0)
        return -1;
    if (H5Pset_chunk(dcpl, rank, chunk) < 0 || H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0 ||
        H5Pset_obj_track_times(dcpl, 0) < 0)
        goto out;
    if ((space = H5Screate_simple(rank, dims, NULL)) < 0)
        goto out;
    d = H5Dcreate2(file, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
out:
    if (space >= 0) H5Sclose(space);
    H5Pclose(dcpl);
    return d;
}

/* Write rows [r0, r0+n) of X and y (memory types mx, my). Returns 0 or -1. */
static int write_block(hid_t dx, hid_t dy, uint64_t f, uint64_t r0, uint64_t n,
                       hid_t mx, hid_t my, const void *x, const void *y)
{
    int ok = -1;
    hid_t fsx = -1, msx = -1, fsy = -1, msy = -1;
    hsize_t start2[2] = {r0, 0}, count2[2] = {n, f};
    hsize_t start1[1] = {r0}, count1[1] = {n};
    if ((fsx = H5Dget_space(dx)) < 0 || (fsy = H5Dget_space(dy)) < 0)
        goto out;
    if (H5Sselect_hyperslab(fsx, H5S_SELECT_SET, start2, NULL, count2, NULL) < 0 ||
        H5Sselect_hyperslab(fsy, H5S_SELECT_SET, start1, NULL, count1, NULL) < 0)
        goto out;
    if ((msx = H5Screate_simple(2, count2, NULL)) < 0 || (msy = H5Screate_simple(1, count1, NULL)) < 0)
        goto out;
    if (H5Dwrite(dx, mx, msx, fsx, H5P_DEFAULT, x) < 0 ||
        H5Dwrite(dy, my, msy, fsy, H5P_DEFAULT, y) < 0)
        goto out;
    ok = 0;
out:
    if (msy >= 0) H5Sclose(msy);
    if (fsy >= 0) H5Sclose(fsy);
    if (msx >= 0) H5Sclose(msx);
    if (fsx >= 0) H5Sclose(fsx);
    return ok;
}

/* ------------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    struct params p;
    int rc = parse_args(argc, argv, &p);
    if (rc)
        return rc;
    if (p.threads > 0)
        omp_set_num_threads(p.threads);

    const uint64_t N = p.rows, F = p.features, C = p.chunk_rows;
    const uint64_t nchunks = (N + C - 1) / C;

    /* Everything that is allocated or opened is released at `done`, whatever
     * the exit path: the error paths run under ASan's leak checker in the
     * tests, and a leak there would hide a real one. */
    rc = EXIT_IO;
    char *tmp = NULL;
    const char *what = NULL;
    hid_t file = -1, dx = -1, dy = -1;
    int tmp_made = 0;
    struct model m = {0};
    m.features = F;
    m.b = 3.0;
    m.noise = p.noise;
    m.nan_rate = p.nan_rate;
    m.label_nan_rate = p.label_nan_rate;
    m.kx = stream_key(p.seed, STREAM_X);
    m.kxnan = stream_key(p.seed, STREAM_XNAN);
    m.knoise = stream_key(p.seed, STREAM_NOISE);
    m.kynan = stream_key(p.seed, STREAM_YNAN);
    m.klabel = stream_key(p.seed, STREAM_LABEL);
    m.classes = p.classify ? p.classes : 0;
    /* weight rows: 1 (regression, binary classification) or K */
    const uint64_t wrows = m.classes > 2 ? m.classes : 1;
    const size_t xelem = p.classify ? sizeof(double) : sizeof(float);
    const size_t yelem = p.classify ? sizeof(int64_t) : sizeof(float);
    m.w = malloc(wrows * F * sizeof *m.w);
    m.bk = malloc(wrows * sizeof *m.bk);
    void *xbuf[2] = {malloc(C * F * xelem), malloc(C * F * xelem)};
    void *ybuf[2] = {malloc(C * yelem), malloc(C * yelem)};
    if (!m.w || !m.bk || !xbuf[0] || !xbuf[1] || !ybuf[0] || !ybuf[1]) {
        fprintf(stderr, "%s: out of memory (chunk of %" PRIu64 " rows x %" PRIu64
                " features)\n", prog, C, F);
        rc = EXIT_INTERNAL;
        goto done;
    }
    if (p.classify)
        make_class_model(p.seed, &m);
    else
        make_weights_row(p.seed, 0, F, m.w);
    const hid_t mx = p.classify ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT;
    const hid_t my = p.classify ? H5T_NATIVE_INT64 : H5T_NATIVE_FLOAT;
    /* classification: the sum of max_k P(y=k|x) over the rows, in units of 2^-24 */
    uint64_t bayes_units = 0;

    size_t tlen = strlen(p.out) + 5;
    tmp = malloc(tlen);
    if (!tmp) {
        fprintf(stderr, "%s: out of memory\n", prog);
        rc = EXIT_INTERNAL;
        goto done;
    }
    snprintf(tmp, tlen, "%s.tmp", p.out);

    /* Open with stdio first: gives a clear errno message for a bad path. */
    FILE *probe = fopen(tmp, "wb");
    if (!probe) {
        fprintf(stderr, "%s: cannot create '%s': %s\n", prog, tmp, strerror(errno));
        goto done;
    }
    fclose(probe);
    tmp_made = 1;

    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    errno = 0;
    hsize_t dimx[2] = {N, F}, chx[2] = {C, F}, dimy[1] = {N}, chy[1] = {C};
    double true_b = m.b;

    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    if (fcpl >= 0)
        H5Pset_obj_track_times(fcpl, 0);
    /* true_w is an attribute of F doubles; attributes over 64 KiB need the
     * HDF5 1.8 file format (dense attribute storage). Otherwise keep the
     * default (earliest) format, as h5py does. */
    hid_t fapl = H5P_DEFAULT;
    if (wrows * F * sizeof(double) > 32768) {
        fapl = H5Pcreate(H5P_FILE_ACCESS);
        if (fapl < 0 || H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST) < 0) {
            if (fapl >= 0)
                H5Pclose(fapl);
            if (fcpl >= 0)
                H5Pclose(fcpl);
            what = "set up the HDF5 file format";
            goto fail;
        }
    }
    file = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl >= 0 ? fcpl : H5P_DEFAULT, fapl);
    if (fcpl >= 0)
        H5Pclose(fcpl);
    if (fapl != H5P_DEFAULT)
        H5Pclose(fapl);
    if (file < 0) { what = "create the HDF5 file"; goto fail; }
    if ((dx = make_dataset(file, "X", 2, dimx, chx,
                           p.classify ? H5T_IEEE_F64LE : H5T_IEEE_F32LE)) < 0) {
        what = "create dataset X";
        goto fail;
    }
    if ((dy = make_dataset(file, "y", 1, dimy, chy, p.classify ? H5T_STD_I64LE : H5T_IEEE_F32LE)) < 0) {
        what = "create dataset y";
        goto fail;
    }
    if (p.classify) {
        hsize_t wdims[2] = {wrows, F};
        if (write_attr_string(file, "task", "classification") < 0 ||
            write_attr(file, "classes", H5T_STD_U64LE, H5T_NATIVE_UINT64, 1, 1, &m.classes) < 0 ||
            write_attr_2d(file, "true_w", wrows > 1 ? 2 : 1, wrows > 1 ? wdims : wdims + 1, m.w) < 0 ||
            write_attr(file, "true_b", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, wrows, wrows == 1,
                       m.bk) < 0 ||
            write_attr(file, "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, 1, 1, &p.seed) < 0 ||
            write_attr_string(file, "generator", "sluice-gendata") < 0) {
            what = "write the file attributes";
            goto fail;
        }
    } else if (write_attr(file, "true_w", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, F, 0, m.w) < 0 ||
        write_attr(file, "true_b", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, 1, &true_b) < 0 ||
        write_attr(file, "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, 1, 1, &p.seed) < 0 ||
        write_attr(file, "noise", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, 1, &p.noise) < 0 ||
        write_attr(file, "nan_rate", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, 1, &p.nan_rate) < 0 ||
        write_attr(file, "label_nan_rate", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, 1,
                   &p.label_nan_rate) < 0 ||
        write_attr_string(file, "generator", "sluice-gendata") < 0) {
        what = "write the file attributes";
        goto fail;
    }

    /* Pipeline: iteration c generates chunk c into buffer c&1 (all threads,
     * dynamic rows) while the main thread first writes chunk c-1 from the
     * other buffer, then joins the generation. */
    volatile int write_failed = 0;
    const uint64_t block = 512; /* rows per dynamic work item */
#pragma omp parallel default(none) shared(m, xbuf, ybuf, write_failed, dx, dy, bayes_units) \
    firstprivate(N, F, C, nchunks, block, mx, my)
    {
        for (uint64_t c = 0; c <= nchunks; c++) {
#pragma omp master
            {
                if (c > 0 && !write_failed) {
                    uint64_t r0 = (c - 1) * C, n = (r0 + C <= N) ? C : N - r0;
                    if (write_block(dx, dy, F, r0, n, mx, my, xbuf[(c - 1) & 1], ybuf[(c - 1) & 1]) < 0)
                        write_failed = 1;
                }
            }
            if (c < nchunks) {
                uint64_t r0 = c * C, n = (r0 + C <= N) ? C : N - r0;
                uint64_t nblocks = (n + block - 1) / block;
#pragma omp for schedule(dynamic, 1)
                for (uint64_t bi = 0; bi < nblocks; bi++) {
                    uint64_t lo = bi * block, hi = lo + block < n ? lo + block : n;
                    if (m.classes) {
                        double *xb = xbuf[c & 1];
                        int64_t *yb = ybuf[c & 1];
                        uint64_t units = 0; /* integers: the sum does not depend on the order */
                        for (uint64_t i = lo; i < hi; i++)
                            units += gen_row_class(&m, r0 + i, xb + i * F, yb + i);
#pragma omp atomic
                        bayes_units += units;
                    } else {
                        float *xb = xbuf[c & 1], *yb = ybuf[c & 1];
                        for (uint64_t i = lo; i < hi; i++)
                            gen_row(&m, r0 + i, xb + i * F, yb + i);
                    }
                }
            }
#pragma omp barrier
            int stop = write_failed;
#pragma omp barrier
            if (stop)
                break;
        }
    }
    if (write_failed) { what = "write the data"; goto fail; }
    /* exact up to 2^40 rows (2^64 units); beyond that the attribute is left out */
    if (p.classify && N < (UINT64_C(1) << 40)) {
        double bayes = (double)bayes_units / BAYES_SCALE / (double)N;
        if (write_attr(file, "bayes_accuracy", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, 1, &bayes) < 0) {
            what = "write the file attributes";
            goto fail;
        }
    }

    rc = H5Dclose(dx); dx = -1;
    if (rc < 0) { what = "close dataset X"; goto fail; }
    rc = H5Dclose(dy); dy = -1;
    if (rc < 0) { what = "close dataset y"; goto fail; }
    rc = H5Fclose(file); file = -1;
    if (rc < 0) { what = "close (flush) the file"; goto fail; }
    if (rename(tmp, p.out) != 0) {
        fprintf(stderr, "%s: cannot rename '%s' to '%s': %s\n", prog, tmp, p.out, strerror(errno));
        rc = EXIT_IO;
        goto done;
    }
    tmp_made = 0;
    rc = 0;
    goto done;

fail:
    fprintf(stderr, "%s: I/O error: cannot %s in '%s'%s%s\n", prog, what, tmp,
            errno ? ": " : "", errno ? strerror(errno) : "");
    rc = EXIT_IO;
done:
    if (dx >= 0) H5Dclose(dx);
    if (dy >= 0) H5Dclose(dy);
    if (file >= 0) H5Fclose(file);
    if (tmp_made)
        unlink(tmp);
    free(tmp);
    free(m.w);
    free(m.bk);
    for (int i = 0; i < 2; i++) { free(xbuf[i]); free(ybuf[i]); }
    return rc;
}
