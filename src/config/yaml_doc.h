/* Private: a YAML document as a tree of nodes that keep their source
 * positions, built with libyaml's event parser. Limits guard against hostile
 * input (depth, node count, alias expansion). */
#ifndef SL_YAML_DOC_H
#define SL_YAML_DOC_H

#include <stddef.h>
#include "sluice/error.h"

typedef enum sl__ykind { SL_Y_SCALAR, SL_Y_MAP, SL_Y_SEQ } sl__ykind;

typedef struct sl__ynode sl__ynode;
struct sl__ynode {
    sl__ykind kind;
    int line, col;          /* 1-based position of the node's first character */
    const char *text;       /* SL_Y_SCALAR: the value, NUL-terminated */
    int plain;              /* SL_Y_SCALAR: 1 when unquoted (only then are true/1/null typed) */
    size_t n;               /* SL_Y_MAP: pairs; SL_Y_SEQ: items */
    const sl__ynode **keys; /* SL_Y_MAP: key nodes (always scalars) */
    const sl__ynode **vals; /* SL_Y_MAP: values; SL_Y_SEQ: items */
};

/* Limits on hostile input. */
#define SL_YAML_MAX_BYTES (16u << 20)
#define SL_YAML_MAX_DEPTH 64
#define SL_YAML_MAX_NODES 1000000

typedef struct sl__ydoc sl__ydoc;

/* Parses one YAML document. Errors name `filename`, line and column: syntax
 * errors, a second document, non-scalar keys, duplicate keys (with the first
 * one's position), unknown aliases, and the limits above. An empty document
 * gives an empty map. */
sl_status sl__ydoc_parse(const char *text, size_t len, const char *filename, sl__ydoc **out,
                         const sl__ynode **root, sl_error *err);
void sl__ydoc_free(sl__ydoc *doc);

/* Value of `key` in a map node, or NULL. */
const sl__ynode *sl__ynode_get(const sl__ynode *map, const char *key);
/* "a mapping", "a list", "a string" etc. for error messages. */
const char *sl__ynode_kind_name(const sl__ynode *n);

#endif
