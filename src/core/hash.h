/* Private: 128-bit content hashes (XXH3-128) for cache keys and checkpoint
 * integrity. Not cryptographic: they detect change and corruption, not
 * tampering by someone who wants a collision. */
#ifndef SL_HASH_H
#define SL_HASH_H

#include <stddef.h>
#include <stdint.h>
#include "sluice/error.h"

#define SL_HASH_HEX 33 /* 32 hex digits and a NUL */

typedef struct sl__hasher sl__hasher;

sl__hasher *sl__hasher_new(void);
void sl__hasher_free(sl__hasher *h);
void sl__hasher_reset(sl__hasher *h);
void sl__hasher_add(sl__hasher *h, const void *data, size_t n);
/* Adds a string and its terminating NUL, so "ab","c" and "a","bc" differ. */
void sl__hasher_add_str(sl__hasher *h, const char *s);
void sl__hasher_add_i64(sl__hasher *h, int64_t v);
/* Writes the digest as 32 lowercase hex digits. The state stays usable. */
void sl__hasher_hex(const sl__hasher *h, char out[SL_HASH_HEX]);

/* Checkpoint values are hashed in two levels, so that ranks (or threads)
 * can hash their own chunks: each chunk of rows gets a leaf digest of its
 * bytes (16 bytes, the same on every host), and an array's hash is a hasher
 * fed its leaves' digests in chunk order (docs/checkpoints.md). */
#define SL_LEAF_BYTES 16
void sl__hash_leaf(const void *data, size_t n, unsigned char out[SL_LEAF_BYTES]);
/* Adds to h, as one leaf, the digest of the bytes `leaf` was fed (for
 * leaves read in pieces). */
void sl__hasher_add_leaf(sl__hasher *h, const sl__hasher *leaf);

/* Copies the running state out and back (same build only: used to resume a
 * checkpoint that was being written). `buf` holds sl__hasher_state_size() bytes. */
size_t sl__hasher_state_size(void);
void sl__hasher_save(const sl__hasher *h, void *buf);
void sl__hasher_restore(sl__hasher *h, const void *buf);

/* A quick hash of a name (FNV-1a), for the in-memory tables that look names
 * up (a frame's arrays, the manifest's stages); not for anything stored. */
size_t sl__name_hash(const char *s);

/* Digest of a whole file's bytes. */
sl_status sl__hash_file(const char *path, char out[SL_HASH_HEX], sl_error *err);

#endif
