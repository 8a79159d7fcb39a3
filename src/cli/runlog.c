/* Reads workdir/run.log for the report: one JSON object a line, flat
 * (strings, numbers, true/false/null). The reader is strict about JSON but
 * forgiving about the log: a line it cannot parse (a run killed mid-write)
 * is counted and skipped, fields it does not know are ignored, and lines of
 * older versions without run_start are grouped into runs by their pid. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cli/report.h"

typedef struct cursor {
    const char *s;
} cursor;

static void skip_ws(cursor *c)
{
    while (*c->s == ' ' || *c->s == '\t' || *c->s == '\r' || *c->s == '\n')
        c->s++;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char h = s[i];
        v <<= 4;
        if (h >= '0' && h <= '9')
            v |= (unsigned)(h - '0');
        else if (h >= 'a' && h <= 'f')
            v |= (unsigned)(h - 'a' + 10);
        else if (h >= 'A' && h <= 'F')
            v |= (unsigned)(h - 'A' + 10);
        else
            return 0;
    }
    *out = v;
    return 1;
}

/* Appends code point u as UTF-8; a lone surrogate becomes U+FFFD. */
static size_t put_utf8(char *o, unsigned u)
{
    if (u >= 0xD800 && u <= 0xDFFF)
        u = 0xFFFD;
    if (u < 0x80)
        return o[0] = (char)u, 1;
    if (u < 0x800)
        return o[0] = (char)(0xC0 | (u >> 6)), o[1] = (char)(0x80 | (u & 0x3F)), 2;
    if (u < 0x10000)
        return o[0] = (char)(0xE0 | (u >> 12)), o[1] = (char)(0x80 | ((u >> 6) & 0x3F)),
               o[2] = (char)(0x80 | (u & 0x3F)), 3;
    return o[0] = (char)(0xF0 | (u >> 18)), o[1] = (char)(0x80 | ((u >> 12) & 0x3F)),
           o[2] = (char)(0x80 | ((u >> 6) & 0x3F)), o[3] = (char)(0x80 | (u & 0x3F)), 4;
}

/* A JSON string at c (after its opening quote) into a malloc'd string: never
 * longer than its escaped form, so one allocation of that size holds it. */
static char *parse_string(cursor *c)
{
    const char *q = c->s;
    while (*q && *q != '"')
        q += (*q == '\\' && q[1]) ? 2 : 1;
    if (*q != '"')
        return NULL;
    char *out = malloc((size_t)(q - c->s) + 1), *o = out;
    if (!out)
        return NULL;
    const char *s = c->s;
    while (s < q) {
        if (*s != '\\') {
            if ((unsigned char)*s < 0x20)
                break; /* a raw control character: not JSON */
            *o++ = *s++;
            continue;
        }
        s++;
        unsigned u, lo;
        switch (*s++) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u':
            if (s + 4 > q || !hex4(s, &u))
                goto bad;
            s += 4;
            /* a surrogate pair is one code point; \uXXXX takes 6 bytes and
             * its UTF-8 at most 3, a pair 12 and 4: the buffer suffices */
            if (u >= 0xD800 && u <= 0xDBFF && s + 6 <= q && s[0] == '\\' && s[1] == 'u' && hex4(s + 2, &lo) &&
                lo >= 0xDC00 && lo <= 0xDFFF) {
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                s += 6;
            }
            o += put_utf8(o, u);
            break;
        default: goto bad;
        }
    }
    if (s != q)
        goto bad;
    *o = '\0';
    c->s = q + 1;
    return out;
bad:
    free(out);
    return NULL;
}

static int parse_number(cursor *c, double *v)
{
    const char *p = c->s;
    if (*p == '-')
        p++;
    if (*p < '0' || *p > '9')
        return 0;
    char *end;
    errno = 0;
    *v = strtod(c->s, &end);
    if (end == c->s || errno == ERANGE)
        return 0;
    c->s = end;
    return 1;
}

static void set_str(char **slot, char *v)
{
    free(*slot);
    *slot = v;
}

static void rl_entry_free(rl_entry *e)
{
    free(e->stage);
    free(e->op);
    free(e->status);
    free(e->reason);
    free(e->error);
    free(e->resume);
}

/* Stores one field; unknown keys are ignored (newer logs may add fields). */
static void store(rl_entry *e, const char *key, char *str, double num)
{
    static const struct {
        const char *key;
        size_t off;
    } strs[] = {{"stage", offsetof(rl_entry, stage)},   {"op", offsetof(rl_entry, op)},
                {"status", offsetof(rl_entry, status)}, {"reason", offsetof(rl_entry, reason)},
                {"error", offsetof(rl_entry, error)},   {"resume", offsetof(rl_entry, resume)}};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (strcmp(key, strs[i].key) == 0) {
            if (str)
                set_str((char **)((char *)e + strs[i].off), str);
            return;
        }
    free(str);
    if (strcmp(key, "start") == 0)
        e->start = num;
    else if (strcmp(key, "end") == 0)
        e->end = num;
    else if (strcmp(key, "seconds") == 0)
        e->seconds = num;
    else if (strcmp(key, "ready") == 0)
        e->ready = num;
    else if (strcmp(key, "run_start") == 0)
        e->run_start = num;
    else if (strcmp(key, "rows") == 0)
        e->rows = (long long)num;
    else if (strcmp(key, "bytes") == 0)
        e->bytes = (long long)num;
    else if (strcmp(key, "bytes_read") == 0)
        e->bytes_read = (long long)num;
    else if (strcmp(key, "pid") == 0)
        e->pid = (long long)num;
    else if (strcmp(key, "threads") == 0)
        e->threads = (int)num;
}

/* Parses one JSON object of flat fields into *e (zeroed first). 0 on
 * success, -1 when the text is not such an object or names no stage. */
static int rl_parse_line(const char *line, rl_entry *e)
{
    memset(e, 0, sizeof *e);
    e->rows = e->bytes = e->bytes_read = e->pid = -1;
    cursor c = {line};
    skip_ws(&c);
    if (*c.s++ != '{')
        return -1;
    skip_ws(&c);
    if (*c.s == '}')
        c.s++;
    else
        for (;;) {
            skip_ws(&c);
            if (*c.s++ != '"')
                goto bad;
            char *key = parse_string(&c);
            if (!key)
                goto bad;
            skip_ws(&c);
            char *str = NULL;
            double num = 0;
            int ok = *c.s++ == ':';
            skip_ws(&c);
            if (ok && *c.s == '"') {
                c.s++;
                ok = (str = parse_string(&c)) != NULL;
            } else if (!ok) {
                /* no ':' after the key */
            } else if (strncmp(c.s, "true", 4) == 0 || strncmp(c.s, "null", 4) == 0) {
                num = *c.s == 't';
                c.s += 4;
            } else if (strncmp(c.s, "false", 5) == 0) {
                c.s += 5;
            } else {
                ok = parse_number(&c, &num); /* nested objects or arrays: none in run.log */
            }
            if (ok)
                store(e, key, str, num);
            free(key);
            if (!ok)
                goto bad;
            skip_ws(&c);
            char sep = *c.s++;
            if (sep == '}')
                break;
            if (sep != ',')
                goto bad;
        }
    skip_ws(&c);
    if (*c.s || !e->stage)
        goto bad;
    return 0;
bad:
    rl_entry_free(e);
    memset(e, 0, sizeof *e);
    return -1;
}

/* Two lines belong to the same run when they carry the same run_start, or,
 * in logs written before run_start, the same pid. */
static int same_run(const rl_entry *a, const rl_entry *b)
{
    if (a->run_start > 0 || b->run_start > 0)
        return a->run_start == b->run_start;
    return a->pid == b->pid;
}

int rl_read(const char *path, rl_log *log)
{
    memset(log, 0, sizeof *log);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *line = NULL;
    size_t cap = 0, alloc = 0;
    ssize_t len;
    int rc = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        if (len == 0 || (len == 1 && line[0] == '\n'))
            continue;
        if (log->n == alloc) {
            size_t na = alloc ? 2 * alloc : 64;
            rl_entry *ne = realloc(log->e, na * sizeof *ne);
            if (!ne) {
                rc = -1;
                errno = ENOMEM;
                break;
            }
            log->e = ne;
            alloc = na;
        }
        if (rl_parse_line(line, &log->e[log->n]) == 0)
            log->n++;
        else
            log->bad++;
    }
    free(line);
    fclose(f);
    if (rc) {
        rl_free(log);
        return rc;
    }
    /* the most recent run: the trailing lines that share the last line's run */
    size_t b = log->n;
    while (b > 0 && same_run(&log->e[b - 1], &log->e[log->n - 1]))
        b--;
    log->last_begin = b;
    return 0;
}

void rl_free(rl_log *log)
{
    for (size_t i = 0; i < log->n; i++)
        rl_entry_free(&log->e[i]);
    free(log->e);
    memset(log, 0, sizeof *log);
}
