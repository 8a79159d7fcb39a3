/* split: one part (train, validation or test) of a reproducible split of the
 * rows by fraction, or one fold of a k-fold split, shuffled with a seed or
 * contiguous. A stage outputs one frame, so a split is two or three stages
 * with the same settings and a different `part`; their outputs partition
 * the input's rows exactly.
 *
 * Every part is a range of ranks: the rows ordered by their index
 * (contiguous) or by a 64-bit key that is a pure function of (seed, row
 * index) (shuffled). By fraction, the test part is ranks [0, n_test) of the
 * keys, the validation part the next n_val, and contiguous the test part
 * is the last rows; fold i's test part is ranks [lo, hi) of KFold's sizes.
 * The key thresholds of a range are found out of core by a few histogram
 * passes over the keys (no data is read for them), then one filter pass
 * copies the part's rows, in their original order. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config/params_int.h"
#include "core/error_int.h"
#include "kernels/keyselect.h"
#include "ops/ops_int.h"
#include "plan/pipeline_int.h"

static const sl_param_spec params[] = {
    {"input", SL_PARAM_INPUT, 1, NULL, NULL, 0, 0, "stage whose output frame's rows are split"},
    {"part", SL_PARAM_CHOICE, 1, NULL, "train|test|validation", 0, 0, "the part of the split this stage outputs"},
    {"folds", SL_PARAM_INT, 0, NULL, NULL, 2, 100000,
     "k-fold split into this many folds (as scikit-learn's KFold); without 'fold', the stage is expanded over "
     "fold = 0..folds-1"},
    {"fold", SL_PARAM_INT, 0, NULL, NULL, 0, 99999, "with 'folds': the fold (from 0) whose train or test part this is"},
    {"test_fraction", SL_PARAM_NUMBER, 0, "0.25", NULL, 0, 1,
     "fraction of the rows in the test part, in (0, 1): ceil(test_fraction * rows) rows"},
    {"validation_fraction", SL_PARAM_NUMBER, 0, "0", NULL, 0, 1,
     "fraction of the rows in the validation part, in [0, 1): ceil(validation_fraction * rows) rows"},
    {"shuffle", SL_PARAM_BOOL, 0, NULL, NULL, 0, 0,
     "true: rows are assigned to parts at random (by seed); false: consecutive blocks (default: true, or false "
     "with 'folds', as KFold)"},
    {"seed", SL_PARAM_INT, 0, "0", NULL, 0, 0, "seed of the random assignment (shuffle: true)"},
};

enum { PART_TRAIN, PART_VALIDATION, PART_TEST };
static const char *const part_names[] = {"train", "validation", "test"};

typedef struct sp_state {
    int part;
    double test_fraction, validation_fraction;
    int shuffle;
    uint64_t seed;
    int64_t folds, fold; /* folds 0: a split by fraction */
    /* run time */
    int64_t n, n_train, n_val, n_test;
    int64_t lo, hi;   /* folds: the test part is the ranks [lo, hi) */
    sl__kselect below; /* by fraction: the n_test smallest keys (test); folds: the lo smallest */
    sl__kselect upto;  /* by fraction: the n_test + n_val smallest (test + validation); folds: the hi smallest */
} sp_state;

static void free_state(void *p)
{
    free(p);
}

/* Fold i's test part, as scikit-learn's KFold: the first n % k folds have
 * n / k + 1 rows, the others n / k, one after the other. */
static void fold_range(const sp_state *s, int64_t n, int64_t *lo, int64_t *hi)
{
    int64_t q = n / s->folds, r = n % s->folds;
    *lo = s->fold * q + (s->fold < r ? s->fold : r);
    *hi = *lo + q + (s->fold < r);
}

/* The part sizes for n rows, as scikit-learn's train_test_split computes
 * them: ceil(fraction * n) in double precision; or KFold's. */
static void counts(const sp_state *s, int64_t n, int64_t *train, int64_t *val, int64_t *test)
{
    if (s->folds) {
        int64_t lo, hi;
        fold_range(s, n, &lo, &hi);
        *test = hi - lo;
        *val = 0;
        *train = n - *test;
        return;
    }
    *test = n > 0 ? (int64_t)ceil(s->test_fraction * (double)n) : 0;
    *val = n > 0 ? (int64_t)ceil(s->validation_fraction * (double)n) : 0;
    *train = n - *test - *val;
}

static int64_t part_rows(const sp_state *s, int64_t train, int64_t val, int64_t test)
{
    return s->part == PART_TRAIN ? train : s->part == PART_VALIDATION ? val : test;
}

static sl_status too_few_rows(const sl_stage *st, const sp_state *s, sl_status code, int64_t n, sl_error *err)
{
    return sl_stage_error(st, err, code, "folds",
                          "the input has %lld rows, fewer than folds (%lld): every fold's test part needs a row (as "
                          "in scikit-learn's KFold); use fewer folds or give more rows",
                          (long long)n, (long long)s->folds);
}

/* What a k-fold split cannot be asked for. */
static sl_status check_folds(const sl_stage *st, const sp_state *s, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    int line = 0;
    if (!s->folds && sl_params_has(p, "fold"))
        return sl_stage_error(st, err, SL_ERR_CONFIG, "fold",
                              "'fold' picks one fold of a k-fold split: set 'folds' too (e.g. folds: 5), or remove "
                              "'fold'");
    if (!s->folds)
        return SL_OK;
    if (!sl_params_has(p, "fold"))
        return sl_stage_error(st, err, SL_ERR_CONFIG, "folds",
                              "folds: %lld without 'fold': a pipeline expands such a stage over fold = 0..%lld, "
                              "which it cannot do when 'folds' is swept; give 'fold', or do not sweep 'folds'",
                              (long long)s->folds, (long long)s->folds - 1);
    if (s->fold >= s->folds)
        return sl_stage_error(st, err, SL_ERR_CONFIG, "fold", "fold is %lld; with folds: %lld it must be from 0 to %lld",
                              (long long)s->fold, (long long)s->folds, (long long)s->folds - 1);
    if (s->part == PART_VALIDATION)
        return sl_stage_error(st, err, SL_ERR_CONFIG, "part",
                              "part is validation, but a fold of a k-fold split has only a train and a test part; use "
                              "part: train or test (split off a validation part in a split before the folds)");
    const char *fraction = NULL;
    sl__params_pos(p, "test_fraction", &line, NULL);
    if (line)
        fraction = "test_fraction";
    sl__params_pos(p, "validation_fraction", &line, NULL);
    if (line)
        fraction = "validation_fraction";
    if (fraction)
        return sl_stage_error(st, err, SL_ERR_CONFIG, fraction,
                              "%s does not apply with folds: each fold's test part is 1/folds of the rows (KFold's "
                              "sizes), the train part the rest; remove %s",
                              fraction, fraction);
    return SL_OK;
}

static sl_status empty_train(const sl_stage *st, const sp_state *s, sl_status code, int64_t n, int64_t val,
                             int64_t test, sl_error *err)
{
    return sl_stage_error(st, err, code, "test_fraction",
                          "the input has %lld rows: with test_fraction %g (%lld rows) and validation_fraction %g "
                          "(%lld rows) the train part would be empty; lower the fractions or give more rows",
                          (long long)n, s->test_fraction, (long long)test, s->validation_fraction, (long long)val);
}

static sl_status plan(sl_stage *st, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    const sl_frame *in = sl_stage_input(st, "input");
    sl_frame *out = sl_stage_output(st);
    sp_state *s = calloc(1, sizeof *s);
    if (!s)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_stage_set_state(st, s);
    const char *part = sl_params_string(p, "part");
    s->part = strcmp(part, "train") == 0 ? PART_TRAIN : strcmp(part, "validation") == 0 ? PART_VALIDATION : PART_TEST;
    s->test_fraction = sl_params_number(p, "test_fraction");
    s->validation_fraction = sl_params_number(p, "validation_fraction");
    s->folds = sl_params_int(p, "folds");
    s->fold = sl_params_int(p, "fold");
    /* KFold does not shuffle unless asked to */
    s->shuffle = sl_params_has(p, "shuffle") ? sl_params_bool(p, "shuffle") : !s->folds;
    s->seed = (uint64_t)sl_params_int(p, "seed");
    sl_status fc = check_folds(st, s, err);
    if (fc)
        return fc;
    if (!(s->test_fraction > 0 && s->test_fraction < 1))
        return sl_stage_error(st, err, SL_ERR_CONFIG, "test_fraction",
                              "test_fraction is %g; it must be more than 0 and less than 1", s->test_fraction);
    if (!(s->validation_fraction >= 0 && s->validation_fraction < 1))
        return sl_stage_error(st, err, SL_ERR_CONFIG, "validation_fraction",
                              "validation_fraction is %g; it must be at least 0 and less than 1",
                              s->validation_fraction);
    if (s->test_fraction + s->validation_fraction >= 1)
        return sl_stage_error(st, err, SL_ERR_CONFIG, "validation_fraction",
                              "test_fraction %g plus validation_fraction %g is %g, which leaves no rows to train "
                              "on; their sum must be less than 1",
                              s->test_fraction, s->validation_fraction, s->test_fraction + s->validation_fraction);
    if (s->part == PART_VALIDATION && s->validation_fraction == 0)
        return sl_stage_error(st, err, SL_ERR_CONFIG, "part",
                              "part is validation but validation_fraction is 0, so the part would be empty; set "
                              "validation_fraction (e.g. 0.1) in every stage of this split");
    sl_status rc = SL_OK;
    for (size_t i = 0; i < sl_frame_count(in) && rc == SL_OK; i++)
        rc = sl_frame_add_like(out, in, i, SL_DTYPE_NONE, err);
    int64_t n = sl_frame_rows(in), train, val, test;
    if (rc == SL_OK && n >= 0) {
        counts(s, n, &train, &val, &test);
        if (s->folds && n < s->folds)
            return too_few_rows(st, s, SL_ERR_CONFIG, n, err);
        if (train <= 0)
            return empty_train(st, s, SL_ERR_CONFIG, n, val, test, err);
        sl_frame_set_rows(out, part_rows(s, train, val, test));
    } else {
        sl_frame_set_rows(out, -1);
    }
    return rc;
}

/* ---- finding the key thresholds ------------------------------------------ */

static sl_status hist_chunk(void *ctx, const sl_chunk *in, sl_chunk *out, void *partial, sl_error *err)
{
    (void)out;
    (void)err;
    const sp_state *s = ctx;
    uint64_t *h = partial;
    sl__kselect_hist_rows(&s->below, s->seed, (uint64_t)in->row0, (uint64_t)in->rows, h);
    sl__kselect_hist_rows(&s->upto, s->seed, (uint64_t)in->row0, (uint64_t)in->rows, h + SL__KSELECT_BINS);
    return SL_OK;
}

static sl_status hist_merge(void *ctx, void *acc, const void *partial, sl_error *err)
{
    (void)ctx;
    (void)err;
    uint64_t *a = acc;
    const uint64_t *b = partial;
    for (size_t k = 0; k < 2 * (size_t)SL__KSELECT_BINS; k++)
        a[k] += b[k];
    return SL_OK;
}

static sl_status find_thresholds(sl_stage *st, sl_exec *ex, sp_state *s, int64_t *passes, sl_error *err)
{
    if (s->folds) {
        sl__kselect_init(&s->below, (uint64_t)s->lo, (uint64_t)s->n);
        sl__kselect_init(&s->upto, (uint64_t)s->hi, (uint64_t)s->n);
    } else {
        sl__kselect_init(&s->below, (uint64_t)s->n_test, (uint64_t)s->n);
        sl__kselect_init(&s->upto, (uint64_t)(s->n_test + s->n_val), (uint64_t)s->n);
    }
    size_t size = 2 * (size_t)SL__KSELECT_BINS * sizeof(uint64_t);
    uint64_t *hist = malloc(size);
    if (!hist)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    static const char *const no_arrays[] = {NULL};
    sl_pass pass = {.name = "keys",
                    .input = sl_stage_input(st, "input"),
                    .input_arrays = no_arrays, /* keys depend on row indices only */
                    .partial_size = size,
                    .ctx = s,
                    .chunk = hist_chunk,
                    .merge = hist_merge};
    sl_status rc = SL_OK;
    *passes = 0;
    while (rc == SL_OK && !(s->below.done && s->upto.done)) {
        if (*passes > 64 / SL__KSELECT_BITS + 1) {
            rc = sl__error_set(err, SL_ERR_INTERNAL, "split: the key thresholds did not converge");
            break;
        }
        memset(hist, 0, size);
        rc = sl_exec_pass(ex, st, &pass, hist, err);
        ++*passes;
        if (rc == SL_OK &&
            (sl__kselect_step(&s->below, hist) != 0 || sl__kselect_step(&s->upto, hist + SL__KSELECT_BINS) != 0))
            rc = sl__error_set(err, SL_ERR_INTERNAL, "split: inconsistent key histogram");
    }
    free(hist);
    return rc;
}

/* ---- the filter pass ----------------------------------------------------- */

static int part_of(const sp_state *s, int64_t r)
{
    if (s->folds && !s->shuffle)
        return r >= s->lo && r < s->hi ? PART_TEST : PART_TRAIN;
    if (!s->shuffle)
        return r < s->n_train ? PART_TRAIN : r < s->n_train + s->n_val ? PART_VALIDATION : PART_TEST;
    uint64_t key = sl__row_key(s->seed, (uint64_t)r);
    if (s->folds)
        return sl__kselect_has(&s->upto, key) && !sl__kselect_has(&s->below, key) ? PART_TEST : PART_TRAIN;
    if (sl__kselect_has(&s->below, key))
        return PART_TEST;
    if (sl__kselect_has(&s->upto, key))
        return PART_VALIDATION;
    return PART_TRAIN;
}

static sl_status split_chunk(void *ctx, const sl_chunk *in, sl_chunk *out, void *partial, sl_error *err)
{
    (void)err;
    const sp_state *s = ctx;
    int64_t k = 0;
    for (int64_t r = 0; r < in->rows; r++) {
        if (part_of(s, in->row0 + r) != s->part)
            continue;
        for (size_t i = 0; i < in->n_arrays; i++) {
            size_t rb = (size_t)in->arrays[i].info->cols * sl_dtype_size(in->arrays[i].info->dtype);
            memcpy((char *)out->arrays[i].data + (size_t)k * rb, (const char *)in->arrays[i].data + (size_t)r * rb,
                   rb);
        }
        k++;
    }
    out->rows = k;
    *(int64_t *)partial = k;
    return SL_OK;
}

static sl_status count_merge(void *ctx, void *acc, const void *partial, sl_error *err)
{
    (void)ctx;
    (void)err;
    *(int64_t *)acc += *(const int64_t *)partial;
    return SL_OK;
}

static sl_status run(sl_stage *st, sl_exec *ex, sl_error *err)
{
    sp_state *s = sl_stage_state(st);
    s->n = sl_frame_rows(sl_stage_input(st, "input"));
    counts(s, s->n, &s->n_train, &s->n_val, &s->n_test);
    if (s->folds && s->n < s->folds)
        return too_few_rows(st, s, SL_ERR_DATA, s->n, err);
    if (s->folds)
        fold_range(s, s->n, &s->lo, &s->hi);
    if (s->n_train <= 0)
        return empty_train(st, s, SL_ERR_DATA, s->n, s->n_val, s->n_test, err);
    int64_t passes = 0;
    sl_status rc = s->shuffle ? find_thresholds(st, ex, s, &passes, err) : SL_OK;
    int64_t written = 0;
    sl_pass pass = {.name = "split",
                    .input = sl_stage_input(st, "input"),
                    .output = sl_stage_output(st),
                    .partial_size = sizeof(int64_t),
                    .ctx = s,
                    .chunk = split_chunk,
                    .merge = count_merge};
    if (rc == SL_OK)
        rc = sl_exec_pass(ex, st, &pass, &written, err);
    int64_t want = part_rows(s, s->n_train, s->n_val, s->n_test);
    if (rc == SL_OK && written != want)
        rc = sl__error_set(err, SL_ERR_INTERNAL, "split wrote %lld rows to the %s part, expected %lld",
                           (long long)written, part_names[s->part], (long long)want);
    if (rc == SL_OK)
        rc = sl_stage_set_result(st, "rows", (double)written, err);
    if (rc == SL_OK && s->shuffle)
        rc = sl_stage_set_result(st, "key_passes", (double)passes, err);
    return rc;
}

static const char op_doc[] =
    "Outputs one part of a split of the input's rows into train, validation\n"
    "(optional) and test parts. A stage has one output frame, so a split takes\n"
    "two or three stages with the same `test_fraction`, `validation_fraction`,\n"
    "`shuffle` and `seed`, each with its own `part`:\n"
    "\n"
    "```yaml\n"
    "train: { op: split, input: data, part: train, test_fraction: 0.2, seed: 7 }\n"
    "test:  { op: split, input: data, part: test,  test_fraction: 0.2, seed: 7 }\n"
    "```\n"
    "\n"
    "Their outputs partition the input exactly: every row is in exactly one part.\n"
    "\n"
    "**Sizes**, for n input rows, as scikit-learn's `train_test_split` computes\n"
    "them: `n_test = ceil(test_fraction * n)`, `n_validation =\n"
    "ceil(validation_fraction * n)`, both in double precision (so\n"
    "`0.1 * 30 = 3.0000000000000004` gives 4 test rows, as in scikit-learn), and\n"
    "`n_train = n - n_test - n_validation`. The train part must not be empty. An\n"
    "input with too few rows is an error, as in scikit-learn. So is\n"
    "`test_fraction + validation_fraction >= 1`, or `part: validation` with\n"
    "`validation_fraction: 0`. When the input's row count is known at plan time,\n"
    "so is the output's, and `sluice check` reports an empty train part.\n"
    "\n"
    "**`shuffle: false`**: the parts are consecutive blocks of rows: the first\n"
    "`n_train` rows, then `n_validation`, then the last `n_test`. With no\n"
    "validation part, this is scikit-learn's `train_test_split(..., shuffle=False)`.\n"
    "\n"
    "**`shuffle: true`** (default without `folds`): row `r` gets the key `splitmix64(seed)`'s\n"
    "`r`-th output (the generator's state starts at `mix64(seed)`). The key is a\n"
    "pure function of the seed and the row index, so it does not depend on the\n"
    "chunk size or the thread count, and for one seed no two rows share a key. The\n"
    "test part is the `n_test` rows with the smallest keys, the validation part\n"
    "the next `n_validation`. The key thresholds are found exactly, with bounded\n"
    "memory, by histogram passes over the keys (4096 bins of 12 bits each,\n"
    "narrowed until the boundary key is the last of its bin). These passes\n"
    "compute keys but read no data. A few thousand rows take 1 pass, a million\n"
    "about 2 and a billion about 3; the result `key_passes` says how many. One\n"
    "filter pass then copies the part's rows.\n"
    "\n"
    "Rows keep their input order within a part. Unlike scikit-learn, which\n"
    "permutes the rows, sluice does not shuffle a part's rows. For full-batch\n"
    "training the order does not matter; a mini-batch trainer shuffles its own\n"
    "batches. The same seed gives the same parts on every run, machine, chunk\n"
    "size and thread count. Different seeds give different parts. The sets of\n"
    "rows differ from scikit-learn's for the same seed (a different generator),\n"
    "but the sizes are the same.\n"
    "\n"
    "**k-fold** (`folds: k`, 2 to 100000): fold `i`'s `test` part is exactly\n"
    "scikit-learn's `KFold(n_splits=k, shuffle=False)` i-th test indices: the\n"
    "first `n % k` folds have `n // k + 1` rows, the others `n // k`, one after\n"
    "the other from row 0; its `train` part is every other row, in row order. A\n"
    "stage with `folds` and no `fold` is expanded by the pipeline into one stage\n"
    "per fold, `train[fold=0]` ... `train[fold=k-1]` (see the guide's \"Model\n"
    "selection\"); `fold: i` (from 0) makes one fold's stage. `shuffle` defaults\n"
    "to false with `folds`, as in KFold; with `shuffle: true` rows are ranked by\n"
    "the key above (the same seeded mechanism: it cannot match NumPy's random\n"
    "generator) and fold `i`'s test part is the rows whose keys rank in KFold's\n"
    "range for fold `i`, found by the same histogram passes: the folds' test\n"
    "parts partition the rows, have KFold's sizes and depend only on the seed.\n"
    "`folds` refuses `part: validation`, `test_fraction` and\n"
    "`validation_fraction` (split off a validation part before the folds), a\n"
    "`fold` outside 0..k-1, `fold` without `folds`, and an input with fewer rows\n"
    "than folds (as KFold does).\n"
    "\n"
    "The output frame has the input's arrays (types, columns, column names)\n"
    "with the part's rows. The result `rows` is the row count of the part.\n";

const sl_op sl__op_split = {
    .abi = SL_ABI_VERSION,
    .name = "split",
    .summary = "one part (train, validation or test) of a reproducible row split, or of one fold of a k-fold split, "
               "shuffled by seed or contiguous",
    .doc = op_doc,
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .plan = plan,
    .flags = SL__OP_FOLDS,
    .run = run,
    .free_state = free_state,
};
