#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
/* the state struct is needed to save and restore a running hash */
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>
#include "core/error_int.h"
#include "core/fsutil.h"
#include "core/hash.h"

struct sl__hasher {
    XXH3_state_t *st;
};

sl__hasher *sl__hasher_new(void)
{
    sl__hasher *h = malloc(sizeof *h);
    if (!h)
        return NULL;
    h->st = XXH3_createState();
    if (!h->st) {
        free(h);
        return NULL;
    }
    XXH3_128bits_reset(h->st);
    return h;
}

void sl__hasher_free(sl__hasher *h)
{
    if (h) {
        XXH3_freeState(h->st);
        free(h);
    }
}

void sl__hasher_reset(sl__hasher *h)
{
    XXH3_128bits_reset(h->st);
}

void sl__hasher_add(sl__hasher *h, const void *data, size_t n)
{
    if (n)
        XXH3_128bits_update(h->st, data, n);
}

void sl__hasher_add_str(sl__hasher *h, const char *s)
{
    sl__hasher_add(h, s ? s : "", s ? strlen(s) + 1 : 1);
}

void sl__hasher_add_i64(sl__hasher *h, int64_t v)
{
    /* fixed little-endian bytes, so keys are the same on every host */
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)v >> (8 * i));
    sl__hasher_add(h, b, 8);
}

void sl__hash_leaf(const void *data, size_t n, unsigned char out[SL_LEAF_BYTES])
{
    XXH128_canonicalFromHash((XXH128_canonical_t *)out, XXH3_128bits(data, n));
}

void sl__hasher_add_leaf(sl__hasher *h, const sl__hasher *leaf)
{
    XXH128_canonical_t d;
    XXH128_canonicalFromHash(&d, XXH3_128bits_digest(leaf->st));
    sl__hasher_add(h, &d, sizeof d);
}

void sl__hasher_hex(const sl__hasher *h, char out[SL_HASH_HEX])
{
    XXH128_hash_t d = XXH3_128bits_digest(h->st);
    snprintf(out, SL_HASH_HEX, "%016llx%016llx", (unsigned long long)d.high64, (unsigned long long)d.low64);
}

size_t sl__hasher_state_size(void)
{
    return sizeof(XXH3_state_t);
}

void sl__hasher_save(const sl__hasher *h, void *buf)
{
    XXH3_copyState((XXH3_state_t *)buf, h->st);
}

void sl__hasher_restore(sl__hasher *h, const void *buf)
{
    /* the state points at xxHash's built-in secret, whose address differs
     * from one process to the next: keep this process's pointer */
    const unsigned char *secret = h->st->extSecret;
    XXH3_copyState(h->st, (const XXH3_state_t *)buf);
    h->st->extSecret = secret;
}

sl_status sl__hash_file(const char *path, char out[SL_HASH_HEX], sl_error *err)
{
    /* a regular file only: a FIFO would block, /dev/zero never end */
    struct stat sb;
    char why[256];
    FILE *f = sl__fopen_read(path, &sb, why, sizeof why);
    if (!f)
        return sl__error_set(err, SL_ERR_IO, "cannot read '%s' to hash it: %s", path, why);
    sl__hasher *h = sl__hasher_new();
    enum { BUF = 1 << 20 };
    unsigned char *buf = malloc(BUF);
    if (!h || !buf) {
        fclose(f);
        free(buf);
        sl__hasher_free(h);
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    size_t n;
    while ((n = fread(buf, 1, BUF, f)) > 0)
        sl__hasher_add(h, buf, n);
    int bad = ferror(f);
    fclose(f);
    free(buf);
    sl_status s = SL_OK;
    if (bad)
        s = sl__error_set(err, SL_ERR_IO, "cannot read '%s' to hash it", path);
    else
        sl__hasher_hex(h, out);
    sl__hasher_free(h);
    return s;
}

size_t sl__name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return (size_t)(h ^ (h >> 32));
}
