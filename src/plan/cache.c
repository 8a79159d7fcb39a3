#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "config/params_int.h"
#include "core/error_int.h"
#include "core/frame_int.h"
#include "core/fsutil.h"
#include "io/checkpoint.h"
#include "io/h5util.h"
#include "ops/ops_int.h"
#include "plan/cache.h"
#include "sluice/plugin.h"

char *sl__ckpt_path(const char *workdir, const char *stage)
{
    size_t n = strlen(workdir) + strlen(stage) + 8;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s.h5", workdir, stage);
    return p;
}

void sl__ckpt_info_free(sl__ckpt_info *info)
{
    free(info->params);
    free(info->inputs);
    free(info->sources);
    free(info->outputs);
    free(info->layout);
    free(info->leaves);
    memset(info, 0, sizeof *info);
}

/* A string attribute of obj (fixed or variable length), malloc'd; NULL when absent. */
static char *read_str_attr_locked(hid_t obj, const char *name)
{
    if (H5Aexists(obj, name) <= 0)
        return NULL;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t ft = H5Aget_type(a);
    char *out = NULL;
    if (H5Tget_class(ft) == H5T_STRING) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        /* HDF5 does not convert between character sets */
        H5Tset_cset(mt, H5Tget_cset(ft));
        if (H5Tis_variable_str(ft) > 0) {
            H5Tset_size(mt, H5T_VARIABLE);
            char *v = NULL;
            if (H5Aread(a, mt, &v) >= 0 && v) {
                out = strdup(v);
                H5free_memory(v);
            }
        } else {
            size_t n = H5Tget_size(ft);
            H5Tset_size(mt, n + 1);
            out = calloc(n + 1, 1);
            if (out && H5Aread(a, mt, out) < 0) {
                free(out);
                out = NULL;
            }
        }
        H5Tclose(mt);
    }
    H5Tclose(ft);
    H5Aclose(a);
    return out;
}

static int64_t read_int_attr_locked(hid_t obj, const char *name, int64_t fallback)
{
    if (H5Aexists(obj, name) <= 0)
        return fallback;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    int64_t v = fallback;
    if (H5Aread(a, H5T_NATIVE_INT64, &v) < 0)
        v = fallback;
    H5Aclose(a);
    return v;
}

static void copy_attr(hid_t f, const char *name, char *dst, size_t size)
{
    char *v = read_str_attr_locked(f, name);
    snprintf(dst, size, "%s", v ? v : "");
    free(v);
}

/* A 1-D int64 attribute, malloc'd into *out; returns its entries, 0 when
 * absent, -1 when there but unreadable. */
static int64_t read_i64s_attr_locked(hid_t f, const char *name, int64_t **out)
{
    *out = NULL;
    if (H5Aexists(f, name) <= 0)
        return 0;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    hid_t space = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
    hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    *out = n > 0 ? malloc((size_t)n * sizeof **out) : NULL;
    int64_t got = *out && H5Aread(a, H5T_NATIVE_INT64, *out) >= 0 ? (int64_t)n : -1;
    if (space >= 0)
        H5Sclose(space);
    if (a >= 0)
        H5Aclose(a);
    return got;
}

sl_status sl__ckpt_info_read(const char *path, sl__ckpt_info *info, sl_error *err)
{
    memset(info, 0, sizeof *info);
    sl__h5_lock();
    hid_t f;
    sl_status s = sl__h5_open_read_locked(path, &f, err);
    if (s == SL_OK) {
        copy_attr(f, "sluice_key", info->key, sizeof info->key);
        copy_attr(f, "sluice_output_hash", info->output_hash, sizeof info->output_hash);
        copy_attr(f, "sluice_op", info->op, sizeof info->op);
        copy_attr(f, "sluice_stage", info->stage, sizeof info->stage);
        copy_attr(f, "sluice_plugin", info->plugin, sizeof info->plugin);
        info->params = read_str_attr_locked(f, "sluice_params");
        info->inputs = read_str_attr_locked(f, "sluice_inputs");
        info->sources = read_str_attr_locked(f, "sluice_sources");
        info->outputs = read_str_attr_locked(f, "sluice_outputs");
        info->chunk_rows = read_int_attr_locked(f, "sluice_chunk_rows", -1);
        info->compression = read_int_attr_locked(f, "sluice_compression", 0);
        info->rows = read_int_attr_locked(f, "sluice_rows", -1);
        info->nlayout = read_i64s_attr_locked(f, "sluice_chunk_sizes", &info->layout);
        info->nleaves = read_i64s_attr_locked(f, "sluice_hash_leaves", &info->leaves);
        H5Fclose(f);
    }
    sl__h5_unlock();
    return s;
}

int sl__ckpt_result_read(const char *path, const char *key, double *value)
{
    char name[SL_NAME_MAX + 16];
    snprintf(name, sizeof name, "result.%s", key);
    sl_error e;
    sl__h5_lock();
    hid_t f;
    int found = 0;
    if (sl__h5_open_read_locked(path, &f, &e) == SL_OK) {
        if (H5Aexists(f, name) > 0) {
            hid_t a = H5Aopen(f, name, H5P_DEFAULT);
            found = a >= 0 && H5Aread(a, H5T_NATIVE_DOUBLE, value) >= 0;
            if (a >= 0)
                H5Aclose(a);
        }
        H5Fclose(f);
    }
    sl__h5_unlock();
    return found;
}

/* ---- keys ---- */

static int verify_content(const sl_stage *st)
{
    return st->verify_content;
}

/* Appends item to the string *buf (*len chars, room for *cap). */
static sl_status append_item(char **buf, size_t *len, size_t *cap, const char *item, sl_error *err)
{
    size_t n = strlen(item);
    if (*len + n + 1 > *cap) {
        size_t cap2 = 2 * (*len + n + 1);
        char *b = realloc(*buf, cap2);
        if (!b)
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        *buf = b;
        *cap = cap2;
    }
    memcpy(*buf + *len, item, n + 1);
    *len += n;
    return SL_OK;
}

/* Appends "path size S mtime M;" (or "path content HASH;") to *buf. */
static sl_status append_identity(char **buf, size_t *len, size_t *cap, const char *path, int content,
                                 const char *what, sl_error *err)
{
    char item[4096];
    struct stat sb;
    if (stat(path, &sb) != 0)
        return sl__error_set(err, SL_ERR_IO, "cannot read %s file '%s': %s", what, path, strerror(errno));
    if (content) {
        char hex[SL_HASH_HEX];
        sl_status s = sl__hash_file(path, hex, err);
        if (s)
            return s;
        snprintf(item, sizeof item, "%s content %s;", path, hex);
    } else {
        snprintf(item, sizeof item, "%s size %lld mtime %lld.%09ld;", path, (long long)sb.st_size,
                 (long long)sb.st_mtim.tv_sec, (long)sb.st_mtim.tv_nsec);
    }
    return append_item(buf, len, cap, item, err);
}

/* The identity of the files named by the PATH parameters of a stage whose op
 * has `flag` (SL_OP_SOURCE: files read; SL_OP_SINK: files written). */
static sl_status stage_files(const sl_stage *st, unsigned flag, int content, char **out, sl_error *err)
{
    *out = NULL;
    size_t cap = 64, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    buf[0] = '\0';
    const char *what = flag == SL_OP_SOURCE ? "source" : "output";
    for (size_t j = 0; (st->op->flags & flag) && j < st->op->n_params; j++) {
        const sl_param_spec *ps = &st->op->params[j];
        if (ps->type != SL_PARAM_PATH || !sl_params_has(st->params, ps->name))
            continue;
        sl_status s = append_identity(&buf, &len, &cap, sl_params_string(st->params, ps->name), content, what, err);
        if (s) {
            free(buf);
            return s == SL_ERR_NOMEM ? s : sl__stage_locate(st, err, ps->name);
        }
    }
    /* a frame the program holds: its content, hashed now (op input) */
    if (flag == SL_OP_SOURCE && st->op == &sl__op_input) {
        char id[SL_HASH_HEX + 256], item[SL_HASH_HEX + 280];
        sl_status s = sl__input_identity(st, id, sizeof id, err);
        if (s == SL_OK) {
            snprintf(item, sizeof item, "memory %s;", id);
            s = append_item(&buf, &len, &cap, item, err);
        }
        if (s) {
            free(buf);
            return s;
        }
    }
    /* the files the source's values come from through links (plan time) */
    for (size_t k = 0; flag == SL_OP_SOURCE && k < st->n_linked; k++) {
        sl_status s = append_identity(&buf, &len, &cap, st->linked[k], content, "linked source", err);
        if (s) {
            free(buf);
            return s == SL_ERR_NOMEM ? s : sl__stage_locate(st, err, NULL);
        }
    }
    *out = buf;
    return SL_OK;
}

sl_status sl__stage_sources(const sl_stage *st, char **out, sl_error *err)
{
    return stage_files(st, SL_OP_SOURCE, verify_content(st), out, err);
}

sl_status sl__stage_outputs(const sl_stage *st, char **out, sl_error *err)
{
    return stage_files(st, SL_OP_SINK, 0, out, err);
}

char *sl__stage_inputs_text(const sl_stage *st)
{
    size_t n = 1;
    for (size_t j = 0; j < st->n_inputs; j++)
        n += strlen(st->inputs[j].param) + SL_HASH_HEX + 2;
    char *s = malloc(n);
    if (!s)
        return NULL;
    s[0] = '\0';
    /* strcat from the end found so far: a gathering stage has one input
     * per member, and rescanning the text for each would be quadratic */
    char *end = s;
    for (size_t j = 0; j < st->n_inputs; j++) {
        /* the select stage a { best: ... } value comes from: the value it
         * gives is in the parameters, and a new choice of the same value
         * must not recompute the stage */
        if (st->inputs[j].best)
            continue;
        end += sprintf(end, "%s=%s;", st->inputs[j].param, st->pipe->stages[st->inputs[j].stage].out_hash);
    }
    return s;
}
void sl__stage_plugin_text(const sl_stage *st, char *buf, size_t size)
{
    const sl_plugin *pl = sl_op_plugin(st->op);
    snprintf(buf, size, "%s%s%s", pl ? sl_plugin_name(pl) : "", pl ? " " : "", pl ? sl_plugin_version(pl) : "");
}

sl_status sl__stage_key(sl_stage *st, int64_t chunk_rows, sl_error *err)
{
    char plugin[SL__PLUGIN_TEXT_MAX];
    sl__stage_plugin_text(st, plugin, sizeof plugin);
    char *params = sl__params_canonical(st->params);
    char *inputs = sl__stage_inputs_text(st);
    char *sources = NULL;
    sl_status s = params && inputs ? sl__stage_sources(st, &sources, err) : sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    if (s == SL_OK) {
        sl__hasher *h = sl__hasher_new();
        if (!h) {
            s = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        } else {
            sl__hasher_add_str(h, "sluice-stage-key");
            sl__hasher_add_i64(h, SL_FORMAT_VERSION);
            sl__hasher_add_str(h, st->op->name);
            /* a plugin's version: a new version of it recomputes its stages.
             * Only for plugins' ops, so that other keys (and the checkpoints
             * made before plugins existed) stay as they were. */
            if (plugin[0])
                sl__hasher_add_str(h, plugin);
            sl__hasher_add_str(h, params);
            sl__hasher_add_i64(h, chunk_rows);
            sl__hasher_add_i64(h, st->compression);
            sl__hasher_add_str(h, inputs);
            sl__hasher_add_str(h, sources);
            sl__hasher_hex(h, st->key);
            sl__hasher_free(h);
            free(st->sources);
            st->sources = sources;
            sources = NULL;
        }
    }
    free(params);
    free(inputs);
    free(sources);
    return s;
}

/* ---- why a key differs ---- */

/* Splits a flat JSON object into its top-level members: calls fn for each
 * key and raw value text. */
typedef void (*member_fn)(const char *key, size_t klen, const char *val, size_t vlen, void *user);

static void json_members(const char *j, member_fn fn, void *user)
{
    if (!j || *j != '{')
        return;
    const char *p = j + 1;
    while (*p && *p != '}') {
        if (*p != '"')
            return;
        const char *k = ++p;
        while (*p && *p != '"')
            p += (*p == '\\' && p[1]) ? 2 : 1;
        size_t klen = (size_t)(p - k);
        if (*p++ != '"' || *p++ != ':')
            return;
        const char *v = p;
        int depth = 0, in_str = 0;
        for (; *p; p++) {
            if (in_str) {
                if (*p == '\\' && p[1])
                    p++;
                else if (*p == '"')
                    in_str = 0;
            } else if (*p == '"') {
                in_str = 1;
            } else if (*p == '[' || *p == '{') {
                depth++;
            } else if (*p == ']' || *p == '}') {
                if (depth == 0)
                    break;
                depth--;
            } else if (*p == ',' && depth == 0) {
                break;
            }
        }
        fn(k, klen, v, (size_t)(p - v), user);
        if (*p == ',')
            p++;
    }
}

typedef struct diff_ctx {
    const char *other;
    char *out;
    size_t size;
    int found;
    int removed; /* reporting members of the old text missing from the new */
} diff_ctx;

typedef struct find_ctx {
    const char *key;
    size_t klen;
    const char *val;
    size_t vlen;
} find_ctx;

static void find_member(const char *k, size_t kl, const char *v, size_t vl, void *user)
{
    find_ctx *f = user;
    if (kl == f->klen && strncmp(k, f->key, kl) == 0) {
        f->val = v;
        f->vlen = vl;
    }
}

static void diff_member(const char *k, size_t kl, const char *v, size_t vl, void *user)
{
    diff_ctx *d = user;
    if (d->found)
        return;
    find_ctx f = {k, kl, NULL, 0};
    json_members(d->other, find_member, &f);
    if (d->removed) {
        if (!f.val) {
            snprintf(d->out, d->size, "parameter '%.*s' was removed (was %.*s)", (int)kl, k, (int)(vl > 80 ? 80 : vl), v);
            d->found = 1;
        }
        return;
    }
    if (!f.val)
        snprintf(d->out, d->size, "parameter '%.*s' was added (%.*s)", (int)kl, k, (int)(vl > 80 ? 80 : vl), v);
    else if (f.vlen != vl || strncmp(f.val, v, vl) != 0)
        snprintf(d->out, d->size, "parameter '%.*s' changed (%.*s -> %.*s)", (int)kl, k, (int)(f.vlen > 60 ? 60 : f.vlen),
                 f.val, (int)(vl > 60 ? 60 : vl), v);
    else
        return;
    d->found = 1;
}

static void key_reason(const sl_stage *st, const sl__ckpt_info *info, int64_t chunk_rows, char *out, size_t size)
{
    char *params = sl__params_canonical(st->params);
    char *inputs = sl__stage_inputs_text(st);
    char plugin[SL__PLUGIN_TEXT_MAX];
    sl__stage_plugin_text(st, plugin, sizeof plugin);
    snprintf(out, size, "its inputs or settings changed");
    if (strcmp(info->op, st->op->name) != 0) {
        snprintf(out, size, "op changed (%s -> %s)", info->op, st->op->name);
    } else if (strcmp(info->plugin, plugin) != 0) {
        snprintf(out, size, "plugin changed (%s -> %s)", info->plugin[0] ? info->plugin : "none",
                 plugin[0] ? plugin : "none");
    } else if (params && info->params && strcmp(params, info->params) != 0) {
        diff_ctx d = {info->params, out, size, 0, 0};
        json_members(params, diff_member, &d);
        d.other = params;
        d.removed = 1;
        json_members(info->params, diff_member, &d);
        if (!d.found)
            snprintf(out, size, "parameters changed");
    } else if (info->compression != st->compression) {
        snprintf(out, size, "compression changed");
    } else if (info->chunk_rows != chunk_rows) {
        snprintf(out, size, "chunk_rows changed (%lld -> %lld)", (long long)info->chunk_rows, (long long)chunk_rows);
    } else if (inputs && info->inputs && strcmp(inputs, info->inputs) != 0) {
        for (size_t j = 0; j < st->n_inputs; j++) {
            const sl_stage *in = &st->pipe->stages[st->inputs[j].stage];
            if (st->inputs[j].best)
                continue;
            char probe[SL_NAME_MAX + SL_HASH_HEX + 4];
            snprintf(probe, sizeof probe, "%s=%s;", st->inputs[j].param, in->out_hash);
            if (!strstr(info->inputs, probe)) {
                snprintf(out, size, "input '%s' (stage '%s') has new values", st->inputs[j].param, in->name);
                break;
            }
        }
    } else if (st->sources && info->sources && strcmp(st->sources, info->sources) != 0) {
        snprintf(out, size, "a source file changed (was: %.200s now: %.200s)", info->sources, st->sources);
    } else {
        snprintf(out, size, "it was made by another sluice format version");
    }
    free(params);
    free(inputs);
}

/* ---- integrity ---- */

/* Size, mtime, inode and ctime: a file edited and given its old mtime back
 * still has a new ctime. */
static void file_identity(const struct stat *sb, char *buf, size_t n)
{
    snprintf(buf, n, "%lld %lld.%09ld %llu %lld.%09ld", (long long)sb->st_size, (long long)sb->st_mtim.tv_sec,
             (long)sb->st_mtim.tv_nsec, (unsigned long long)sb->st_ino, (long long)sb->st_ctim.tv_sec,
             (long)sb->st_ctim.tv_nsec);
}

/* The manifest is read once per run and kept in memory (a run over N stored
 * stages used to read and rewrite it once per stage: O(N^2)). It is only a
 * fast path: an entry whose identity does not match the file, or a missing
 * one, makes sluice re-hash the checkpoint, never trust it. So it may lag
 * behind the checkpoints: it is written when the run ends and, while it
 * runs, after 1, 2, 4, 8, ... new records, which bounds the writes by
 * log2(N) + 1 and what a crash can lose to half of a run's records. */
#define MANIFEST_ID 128
/* A manifest far larger than 10^5 stages' entries is not one sluice wrote;
 * it is ignored (and rewritten) rather than read. */
#define MANIFEST_MAX_BYTES (64u << 20)

typedef struct manifest_entry {
    char *stage;
    char id[MANIFEST_ID]; /* "" when the checkpoint is gone */
} manifest_entry;

struct sl__manifest {
    char *workdir, *path, *tmp;
    pthread_mutex_t mu; /* stages are checked and committed on several threads */
    manifest_entry *e;
    size_t n, cap;
    size_t *slot, nslots; /* open addressing: index + 1 into e, 0 empty */
    size_t pending, next_save; /* records since the last save; save when pending reaches next_save */
};

static size_t *find_slot(const sl__manifest *m, const char *stage)
{
    static size_t none = 0;
    if (!m->nslots)
        return &none; /* nothing recorded yet */
    size_t k = sl__name_hash(stage) & (m->nslots - 1);
    while (m->slot[k] && strcmp(m->e[m->slot[k] - 1].stage, stage) != 0)
        k = (k + 1) & (m->nslots - 1);
    return &m->slot[k];
}

/* Adds or updates stage's entry. 0 on success, -1 out of memory. */
static int manifest_put(sl__manifest *m, const char *stage, const char *id)
{
    if (2 * (m->n + 1) > m->nslots) {
        size_t ns = m->nslots ? 2 * m->nslots : 64;
        size_t *slot = calloc(ns, sizeof *slot), *old = m->slot;
        if (!slot)
            return -1;
        m->slot = slot;
        m->nslots = ns;
        for (size_t i = 0; i < m->n; i++)
            *find_slot(m, m->e[i].stage) = i + 1;
        free(old);
    }
    size_t *k = find_slot(m, stage);
    if (!*k) {
        if (m->n == m->cap) {
            size_t nc = m->cap ? 2 * m->cap : 64;
            manifest_entry *e = realloc(m->e, nc * sizeof *e);
            if (!e)
                return -1;
            m->e = e;
            m->cap = nc;
        }
        if (!(m->e[m->n].stage = strdup(stage)))
            return -1;
        *k = ++m->n;
    }
    snprintf(m->e[*k - 1].id, MANIFEST_ID, "%s", id);
    return 0;
}

void sl__manifest_free(sl__manifest *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        free(m->e[i].stage);
    free(m->e);
    free(m->slot);
    free(m->workdir);
    free(m->path);
    free(m->tmp);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* Reads the entries of an opened manifest. 0, or -1 out of memory. */
static int manifest_parse(sl__manifest *m, FILE *f)
{
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *tab = strchr(line, '\t');
        line[strcspn(line, "\n")] = '\0';
        if (!tab || tab == line)
            continue; /* not an entry sluice wrote */
        *tab = '\0';
        if (manifest_put(m, line, tab + 1) != 0)
            return -1;
    }
    return 0;
}

sl_status sl__manifest_open(const char *workdir, sl__manifest **out, sl_error *err)
{
    *out = NULL;
    sl__manifest *m = calloc(1, sizeof *m);
    size_t n = strlen(workdir) + 32;
    if (m) {
        m->workdir = strdup(workdir);
        m->path = malloc(n);
        m->tmp = malloc(n);
        pthread_mutex_init(&m->mu, NULL);
        m->next_save = 1;
    }
    if (!m || !m->workdir || !m->path || !m->tmp) {
        sl__manifest_free(m);
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    snprintf(m->path, n, "%s/sluice.manifest", workdir);
    snprintf(m->tmp, n, "%s/sluice.manifest.tmp", workdir);
    struct stat sb;
    int fd = sl__open_own(m->path, O_RDONLY, &sb);
    if (fd < 0 && errno != ENOENT) {
        char why[256];
        sl__error_set(err, SL_ERR_IO, "cannot read '%s': %s", m->path, sl__open_error_text(errno, &sb, why, sizeof why));
        sl__manifest_free(m);
        return SL_ERR_IO;
    }
    FILE *f = fd >= 0 && sb.st_size <= (off_t)MANIFEST_MAX_BYTES ? fdopen(fd, "r") : NULL;
    int bad = f && manifest_parse(m, f) != 0;
    if (f)
        fclose(f);
    else if (fd >= 0)
        close(fd);
    if (bad) {
        sl__manifest_free(m);
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    *out = m;
    return SL_OK;
}

/* The whole manifest as text, malloc'd (length in *len). */
static char *manifest_text(const sl__manifest *m, size_t *len)
{
    size_t cap = 1;
    for (size_t i = 0; i < m->n; i++)
        cap += strlen(m->e[i].stage) + MANIFEST_ID + 2;
    char *buf = malloc(cap);
    size_t used = 0;
    for (size_t i = 0; buf && i < m->n; i++)
        if (m->e[i].id[0])
            used += (size_t)snprintf(buf + used, cap - used, "%s\t%s\n", m->e[i].stage, m->e[i].id);
    *len = used;
    return buf;
}

/* Writes the manifest through a temporary file sluice creates itself (a
 * link planted at sluice.manifest.tmp is removed, not followed) renamed
 * over it. Called with m->mu held. */
static sl_status manifest_write_locked(sl__manifest *m, sl_error *err)
{
    size_t len = 0;
    char *text = manifest_text(m, &len);
    if (!text)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    int fd = sl__create_new(m->tmp, 0666);
    sl_status s = SL_OK;
    if (fd < 0) {
        int e = errno;
        char why[256];
        struct stat sb;
        if (lstat(m->tmp, &sb) != 0)
            memset(&sb, 0, sizeof sb);
        s = sl__error_set(err, SL_ERR_IO, "cannot write '%s': %s", m->tmp, sl__open_error_text(e, &sb, why, sizeof why));
    }
    for (size_t done = 0; s == SL_OK && done < len;) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0)
            s = sl__error_set(err, SL_ERR_IO, "cannot write '%s': %s", m->tmp, strerror(errno));
        else
            done += (size_t)w;
    }
    if (s == SL_OK && rename(m->tmp, m->path) != 0)
        s = sl__error_set(err, SL_ERR_IO, "cannot write '%s': %s", m->path, strerror(errno));
    if (s != SL_OK && fd >= 0)
        sl__unlink_own(m->tmp, fd);
    if (fd >= 0)
        close(fd);
    free(text);
    if (s == SL_OK)
        m->pending = 0;
    return s;
}

sl_status sl__manifest_save(sl__manifest *m, sl_error *err)
{
    if (!m)
        return SL_OK;
    pthread_mutex_lock(&m->mu);
    sl_status s = m->pending ? manifest_write_locked(m, err) : SL_OK;
    pthread_mutex_unlock(&m->mu);
    return s;
}

/* The identity the manifest recorded for `stage`, into buf; 0 when none. */
static int manifest_lookup(sl__manifest *m, const char *stage, char *buf, size_t n)
{
    if (!m)
        return 0;
    pthread_mutex_lock(&m->mu);
    size_t k = *find_slot(m, stage);
    int found = k && m->e[k - 1].id[0];
    if (found)
        snprintf(buf, n, "%s", m->e[k - 1].id);
    pthread_mutex_unlock(&m->mu);
    return found;
}

sl_status sl__manifest_record(sl__manifest *m, const char *stage, sl_error *err)
{
    if (!m)
        return SL_OK;
    char *ckpt = sl__ckpt_path(m->workdir, stage);
    if (!ckpt)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    struct stat sb;
    char id[MANIFEST_ID] = "";
    if (lstat(ckpt, &sb) == 0 && S_ISREG(sb.st_mode))
        file_identity(&sb, id, sizeof id);
    free(ckpt);
    sl_status s = SL_OK;
    pthread_mutex_lock(&m->mu);
    size_t k = *find_slot(m, stage);
    if (k ? strcmp(m->e[k - 1].id, id) != 0 : id[0] != '\0') {
        if (manifest_put(m, stage, id) != 0)
            s = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        else if (++m->pending >= m->next_save) {
            m->next_save *= 2;
            s = manifest_write_locked(m, err);
        }
    }
    pthread_mutex_unlock(&m->mu);
    return s;
}

void sl__manifest_forget(sl__manifest *m, const char *stage)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    size_t k = *find_slot(m, stage);
    if (k && m->e[k - 1].id[0]) {
        m->e[k - 1].id[0] = '\0';
        m->pending++;
    }
    pthread_mutex_unlock(&m->mu);
}

int sl__manifest_owns(sl__manifest *m, const char *stage, const char *path)
{
    /* the whole identity, not the inode alone: a file made after the
     * checkpoint was deleted may get its inode number */
    struct stat sb;
    char recorded[MANIFEST_ID], now[MANIFEST_ID];
    if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode) || !manifest_lookup(m, stage, recorded, sizeof recorded))
        return 0;
    file_identity(&sb, now, sizeof now);
    return strcmp(now, recorded) == 0;
}

/* Rows of leaf k, which starts at row r, as sluice_hash_leaves says (one
 * number: every leaf but a shorter last one; else each leaf's rows); 0 when
 * the attribute does not describe the rows. */
static int64_t leaf_rows(const sl__ckpt_info *info, int64_t k, int64_t r)
{
    int64_t left = info->rows - r;
    if (info->nleaves == 1 && info->leaves[0] > 0)
        return info->leaves[0] < left ? info->leaves[0] : left;
    if (info->nleaves > 1 && k < info->nleaves && info->leaves[k] > 0 && info->leaves[k] <= left)
        return info->leaves[k];
    return 0;
}

/* Re-hashes every array of the checkpoint and compares with what it
 * recorded. 1 intact, 0 not (reason filled). */
static int content_intact(sl_stage *st, const char *path, const sl__ckpt_info *info, char *reason, size_t rsize)
{
    const sl_frame *f = st->output;
    sl__hasher *all = sl__hasher_new(), *h = sl__hasher_new(), *leaf = sl__hasher_new();
    int ok = all && h && leaf, place = sl__stage_in_place(st);
    sl_error e;
    /* in place: the values are the source's, which the checkpoint's output
     * hash covers (it has no arrays, nor per-array hashes, of its own) */
    char *src = NULL;
    if (ok && place && sl__stage_place(st, &src, &e) != SL_OK) {
        snprintf(reason, rsize, "its source cannot be read (%s)", e.message);
        ok = 0;
    }
    const char *file_path = place ? src : path;
    sl__h5_lock();
    hid_t file;
    if (ok && sl__h5_open_read_locked(file_path, &file, &e) != SL_OK) {
        snprintf(reason, rsize, "its checkpoint cannot be read (%s)", e.message);
        ok = 0;
    } else if (ok) {
        for (size_t i = 0; ok && i < sl_frame_count(f); i++) {
            const sl_array_info *a = sl_frame_array(f, i);
            hid_t d = H5Dopen2(file, place ? sl__frame_dataset(f, i) : a->name, H5P_DEFAULT);
            char *want = d >= 0 && !place ? read_str_attr_locked(d, "sluice_hash") : NULL;
            int rank = d >= 0 ? sl__h5_rank_locked(d) : 2;
            size_t row_bytes = (size_t)a->cols * sl_dtype_size(a->dtype);
            int64_t block = (int64_t)((8u << 20) / (row_bytes ? row_bytes : 1)) + 1;
            void *buf = malloc((size_t)block * row_bytes);
            sl__hasher_reset(h);
            /* leaf by leaf (hash.h) */
            int good = info->nleaves >= 1;
            for (int64_t r = 0, k = 0; ok && good && d >= 0 && (want || place) && buf && leaf && r < info->rows;
                 k++) {
                int64_t rows = leaf_rows(info, k, r);
                if (!(good = rows > 0))
                    break;
                sl__hasher_reset(leaf);
                for (int64_t done = 0; ok && done < rows; done += block) {
                    int64_t n = rows - done < block ? rows - done : block;
                    if (sl__h5_read_rows_locked(d, rank, r + done, n, a->cols, a->dtype, buf, file_path, a->name,
                                                &e) != SL_OK)
                        ok = 0;
                    else
                        sl__hasher_add(leaf, buf, (size_t)n * row_bytes);
                }
                sl__hasher_add_leaf(h, leaf);
                r += rows;
            }
            char got[SL_HASH_HEX];
            sl__hasher_hex(h, got);
            if (ok && (d < 0 || (!want && !place) || !buf || !good || (want && strcmp(got, want) != 0))) {
                snprintf(reason, rsize, "its checkpoint was modified: the values of '%s' do not match their hash",
                         a->name);
                ok = 0;
            } else if (!ok) {
                snprintf(reason, rsize, "its checkpoint cannot be read: %s", e.message);
            }
            sl__hasher_add_str(all, a->name);
            sl__hasher_add_str(all, sl_dtype_name(a->dtype));
            sl__hasher_add_i64(all, a->cols);
            sl__hasher_add_str(all, got);
            free(buf);
            free(want);
            if (d >= 0)
                H5Dclose(d);
        }
        H5Fclose(file);
    }
    sl__h5_unlock();
    if (ok) {
        char got[SL_HASH_HEX];
        sl__ckpt_hash_tail(all, info->rows, info->layout, info->nlayout);
        sl__hasher_hex(all, got);
        if (strcmp(got, info->output_hash) != 0) {
            snprintf(reason, rsize, "its checkpoint was modified: its hashes do not agree");
            ok = 0;
        }
    }
    free(src);
    sl__hasher_free(all);
    sl__hasher_free(h);
    sl__hasher_free(leaf);
    return ok;
}

/* A sink is fresh only while the files it wrote are as it left them. */
static int outputs_unchanged(const sl_stage *st, const sl__ckpt_info *info)
{
    char *now = NULL;
    sl_error e;
    if (sl__stage_outputs(st, &now, &e) != SL_OK)
        return 0;
    int same = info->outputs && strcmp(now, info->outputs) == 0;
    free(now);
    return same;
}

int sl__stage_fresh(sl_stage *st, const char *workdir, int64_t chunk_rows, char *reason, size_t rsize, sl_error *err)
{
    (void)err;
    char *path = sl__ckpt_path(workdir, st->name);
    if (!path) {
        snprintf(reason, rsize, "out of memory");
        return 0;
    }
    struct stat sb;
    int fresh = 0;
    sl__ckpt_info info;
    memset(&info, 0, sizeof info);
    sl_error e;
    if (lstat(path, &sb) != 0) {
        snprintf(reason, rsize, "no checkpoint yet");
    } else if (!S_ISREG(sb.st_mode)) { /* never opened: a FIFO would block, a link lead elsewhere */
        snprintf(reason, rsize, "'%s' is %s, not a checkpoint sluice wrote", path, sl__file_kind(sb.st_mode));
    } else if (sl__ckpt_info_read(path, &info, &e) != SL_OK) {
        snprintf(reason, rsize, "its checkpoint is unreadable (%s)", e.message);
    } else if (strcmp(info.stage, st->name) != 0) {
        snprintf(reason, rsize, "its checkpoint belongs to another stage ('%s')", info.stage);
    } else if (strcmp(info.key, st->key) != 0) {
        key_reason(st, &info, chunk_rows, reason, rsize);
    } else if ((st->op->flags & SL_OP_SINK) && !outputs_unchanged(st, &info)) {
        snprintf(reason, rsize, "the file it wrote is missing or was changed since");
    } else {
        char id[128], recorded[256];
        file_identity(&sb, id, sizeof id);
        if (manifest_lookup(st->pipe->manifest, st->name, recorded, sizeof recorded) && strcmp(id, recorded) == 0)
            fresh = 1;
        else if (st->plan_later != SL__PLAN_NOW && sl_frame_count(st->output) == 0)
            fresh = 1; /* not planned yet (status): its arrays, hence its content, are checked when a run plans it */
        else if (content_intact(st, path, &info, reason, rsize))
            fresh = 1; /* touched but intact: the manifest is updated on adopt */
    }
    if (fresh)
        memcpy(st->out_hash, info.output_hash, SL_HASH_HEX);
    sl__ckpt_info_free(&info);
    free(path);
    return fresh;
}

sl_status sl__workdir_check(const sl_pipeline *p, const char *workdir, sl_error *err)
{
    for (size_t i = 0; i < p->n; i++) {
        const sl_stage *st = &p->stages[i];
        if (st->checkpoint != SL__CKPT_STORE)
            continue;
        char *path = sl__ckpt_path(workdir, st->name);
        if (!path)
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        struct stat sb;
        sl_status s = SL_OK;
        if (lstat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
            s = sl__error_set(err, SL_ERR_IO,
                              "checkpoint '%s' is %s, not a file sluice wrote; sluice follows no link and opens no "
                              "special file in its workdir: remove it",
                              path, sl__file_kind(sb.st_mode));
            sl__stage_locate(st, err, NULL);
        }
        free(path);
        if (s)
            return s;
    }
    return SL_OK;
}

/* Reads float64 vector attributes of a dataset into the frame. */
static herr_t adopt_attr(hid_t loc, const char *name, const H5A_info_t *ainfo, void *user)
{
    (void)ainfo;
    void **ctx = user;
    sl_frame *f = ctx[0];
    const char *array = ctx[1];
    sl_error *err = ctx[2];
    if (strcmp(name, "sluice_hash") == 0 || strcmp(name, "columns") == 0 || !sl__name_ok(name))
        return 0; /* not one sluice wrote (someone annotated the file): not the frame's */
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
    herr_t rc = 0;
    if (H5Tget_class(t) == H5T_FLOAT) {
        hssize_t n = H5Sget_simple_extent_npoints(sp);
        double *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
        if (!v || (n > 0 && H5Aread(a, H5T_NATIVE_DOUBLE, v) < 0) ||
            sl_frame_set_attr(f, array, name, v, (size_t)(n > 0 ? n : 0), err) != SL_OK)
            rc = -1;
        free(v);
    }
    H5Sclose(sp);
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

static herr_t adopt_result(hid_t loc, const char *name, const H5A_info_t *ainfo, void *user)
{
    (void)ainfo;
    void **ctx = user;
    sl_stage *st = ctx[0];
    sl_error *err = ctx[1];
    if (strncmp(name, "result.", 7) != 0)
        return 0;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    double v = 0;
    herr_t rc = H5Aread(a, H5T_NATIVE_DOUBLE, &v) < 0 || sl_stage_set_result(st, name + 7, v, err) ? -1 : 0;
    H5Aclose(a);
    return rc;
}

/* A filter's output keeps the chunks it was written in (sluice_chunk_sizes). */
static sl_status adopt_layout(sl_stage *st, const sl__ckpt_info *info, const char *path, sl_error *err)
{
    if (!info->layout && info->nlayout == 0)
        return SL_OK;
    int ok = info->nlayout > 0;
    int64_t rows = 0;
    for (int64_t c = 0; ok && c < info->nlayout; c++) {
        ok = info->layout[c] >= 0 && info->layout[c] <= sl_stage_chunk_rows(st);
        rows += info->layout[c];
    }
    if (!ok || rows != info->rows)
        return sl__error_set(err, SL_ERR_IO,
                             "checkpoint '%s' has a damaged sluice_chunk_sizes attribute; remove it and run again",
                             path);
    return sl__frame_set_layout(st->output, info->layout, info->nlayout, err);
}

sl_status sl__stage_adopt(sl_stage *st, const char *workdir, sl_error *err)
{
    char *path = sl__ckpt_path(workdir, st->name);
    if (!path)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl__frame_drop_data(st->output);
    st->n_results = 0;
    sl__stage_clear_warnings(st);
    sl__ckpt_info info;
    sl_status s = sl__ckpt_info_read(path, &info, err);
    if (s == SL_OK) {
        sl_frame_set_rows(st->output, info.rows);
        s = adopt_layout(st, &info, path, err);
    }
    if (s == SL_OK) {
        sl__h5_lock();
        hid_t f = H5I_INVALID_HID;
        s = sl__h5_open_read_locked(path, &f, err);
        for (size_t i = 0; s == SL_OK && !sl__stage_in_place(st) && i < sl_frame_count(st->output); i++) {
            const char *name = sl_frame_array(st->output, i)->name;
            hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
            void *ctx[3] = {st->output, (void *)name, err};
            hsize_t idx = 0;
            if (d < 0 || H5Aiterate2(d, H5_INDEX_NAME, H5_ITER_INC, &idx, adopt_attr, ctx) < 0)
                s = err->code ? err->code
                              : sl__error_set(err, SL_ERR_IO,
                                              "cannot read array '%s' of checkpoint '%s'; remove it and run again",
                                              name, path);
            if (d >= 0)
                H5Dclose(d);
        }
        if (s == SL_OK) {
            void *ctx[2] = {st, err};
            hsize_t idx = 0;
            sl_error_clear(err);
            char *order = read_str_attr_locked(f, "sluice_results");
            if (order) {
                /* in the order the op recorded them (scheduler.c) */
                char name[SL_NAME_MAX + 16];
                for (char *k = order, *next; s == SL_OK && k && *k; k = next) {
                    next = strchr(k, '\n');
                    if (next)
                        *next++ = '\0';
                    snprintf(name, sizeof name, "result.%s", k);
                    if (H5Aexists(f, name) <= 0 || adopt_result(f, name, NULL, ctx) < 0)
                        s = SL_ERR_IO;
                }
                free(order);
            } else if (H5Aiterate2(f, H5_INDEX_NAME, H5_ITER_INC, &idx, adopt_result, ctx) < 0) {
                s = SL_ERR_IO;
            }
            if (s != SL_OK)
                s = err->code ? err->code
                              : sl__error_set(err, SL_ERR_IO,
                                              "cannot read the results of checkpoint '%s'; remove it and run again",
                                              path);
        }
        if (f >= 0) /* on every path: a failed adopt kept the file open */
            H5Fclose(f);
        sl__h5_unlock();
        sl__ckpt_info_free(&info);
    }
    if (s == SL_OK)
        s = sl__stage_in_place(st) ? sl__stage_place(st, NULL, err) : sl__frame_set_path(st->output, path, err);
    if (s == SL_OK)
        s = sl__manifest_record(st->pipe->manifest, st->name, err);
    free(path);
    return s;
}
