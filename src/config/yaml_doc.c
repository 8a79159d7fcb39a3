/* A YAML document as a tree of positioned nodes, built from libyaml's event
 * stream. All nodes, strings and child arrays live in one arena that
 * sl__ydoc_free releases at once. Aliases share the anchored node, so the tree
 * is a DAG; its size is bounded by counting every alias expansion, which is
 * what a consumer walking the tree would pay. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "config/yaml_doc.h"
#include "core/error_int.h"

/* ---- arena ----------------------------------------------------------------- */

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    max_align_t data[];
} arena_block;

#define ARENA_BLOCK_BYTES ((size_t)64 * 1024)

struct sl__ydoc {
    arena_block *blocks;
};

static void *arena_alloc(sl__ydoc *doc, size_t size)
{
    const size_t align = sizeof(max_align_t);
    size = (size + align - 1) / align * align;
    if (size == 0)
        size = align;
    arena_block *b = doc->blocks;
    if (!b || b->cap - b->used < size) {
        /* A large request gets a block of its own so the current block's
         * free space is not wasted. */
        size_t cap = size > ARENA_BLOCK_BYTES / 4 ? size : ARENA_BLOCK_BYTES;
        arena_block *nb = malloc(sizeof *nb + cap);
        if (!nb)
            return NULL;
        nb->used = 0;
        nb->cap = cap;
        if (b && size > ARENA_BLOCK_BYTES / 4) {
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            doc->blocks = nb;
        }
        b = nb;
    }
    void *p = (char *)b->data + b->used;
    b->used += size;
    return p;
}

static char *arena_strdup(sl__ydoc *doc, const char *s, size_t len)
{
    char *p = arena_alloc(doc, len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

void sl__ydoc_free(sl__ydoc *doc)
{
    if (!doc)
        return;
    arena_block *b = doc->blocks;
    while (b) {
        arena_block *next = b->next;
        free(b);
        b = next;
    }
    free(doc);
}

/* ---- string -> index hash table (duplicate keys, anchors) ------------------ */

/* Both uses can see hundreds of thousands of names in hostile input, so a
 * linear scan would make parsing quadratic. */
typedef struct strtab {
    const char **keys;
    size_t *vals;
    size_t cap, n;
} strtab;

static size_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return (size_t)h;
}

static void strtab_free(strtab *t)
{
    free(t->keys);
    free(t->vals);
    memset(t, 0, sizeof *t);
}

static size_t *strtab_slot(const strtab *t, const char *key, int *found)
{
    size_t i = str_hash(key) & (t->cap - 1);
    while (t->keys[i] && strcmp(t->keys[i], key) != 0)
        i = (i + 1) & (t->cap - 1);
    *found = t->keys[i] != NULL;
    return &t->vals[i];
}

static int strtab_grow(strtab *t)
{
    size_t cap = t->cap ? t->cap * 2 : 16;
    strtab nt = {calloc(cap, sizeof *nt.keys), calloc(cap, sizeof *nt.vals), cap, 0};
    if (!nt.keys || !nt.vals) {
        strtab_free(&nt);
        return -1;
    }
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->keys[i])
            continue;
        size_t j = str_hash(t->keys[i]) & (cap - 1);
        while (nt.keys[j])
            j = (j + 1) & (cap - 1);
        nt.keys[j] = t->keys[i];
        nt.vals[j] = t->vals[i];
    }
    nt.n = t->n;
    strtab_free(t);
    *t = nt;
    return 0;
}

static const size_t *strtab_get(const strtab *t, const char *key)
{
    if (t->cap == 0)
        return NULL;
    int found;
    const size_t *v = strtab_slot(t, key, &found);
    return found ? v : NULL;
}

/* Inserts or overwrites; `key` must outlive the table. */
static int strtab_put(strtab *t, const char *key, size_t val)
{
    if ((t->n + 1) * 2 > t->cap && strtab_grow(t) != 0)
        return -1;
    int found;
    size_t *v = strtab_slot(t, key, &found);
    if (!found) {
        size_t i = (size_t)(v - t->vals);
        t->keys[i] = key;
        t->n++;
    }
    *v = val;
    return 0;
}

/* ---- growable pointer vector ------------------------------------------------ */

typedef struct nvec {
    const sl__ynode **items;
    size_t n, cap;
} nvec;

static int nvec_push(nvec *v, const sl__ynode *node)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        const sl__ynode **items = realloc(v->items, cap * sizeof *items);
        if (!items)
            return -1;
        v->items = items;
        v->cap = cap;
    }
    v->items[v->n++] = node;
    return 0;
}

/* ---- builder ------------------------------------------------------------------ */

typedef struct anchor {
    const char *name;        /* in the arena */
    const sl__ynode *node;   /* NULL while the anchored collection is still open */
    size_t size;             /* expanded node count of node */
} anchor;

typedef struct builder {
    yaml_parser_t parser;
    sl__ydoc *doc;
    const char *text;
    size_t len;
    const char *filename;
    sl_error *err;
    size_t total; /* nodes so far, every alias expansion counted */
    anchor *anchors;
    size_t n_anchors, cap_anchors;
    strtab anchor_index; /* name -> latest anchor with that name */
} builder;

static int line_of(yaml_mark_t m) { return (int)m.line + 1; }
static int col_of(yaml_mark_t m) { return (int)m.column + 1; }

static sl_status fail_at(builder *b, int line, int col, const char *fmt, ...) SL_PRINTF(4, 5);
static sl_status fail_at(builder *b, int line, int col, const char *fmt, ...)
{
    sl__error_at(b->err, SL_ERR_CONFIG, b->filename, line, col, "%s", "");
    va_list ap;
    va_start(ap, fmt);
    sl__error_vset(b->err, SL_ERR_CONFIG, fmt, ap);
    va_end(ap);
    return SL_ERR_CONFIG;
}

static sl_status fail_nomem(builder *b)
{
    return sl__error_at(b->err, SL_ERR_NOMEM, b->filename, 0, 0, "out of memory while reading the YAML");
}

/* Reader errors (bad encoding) carry a byte offset but no mark. */
static void offset_to_pos(const char *text, size_t len, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n') {
            (*line)++;
            *col = 1;
        } else if ((c & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

static sl_status fail_syntax(builder *b)
{
    const yaml_parser_t *p = &b->parser;
    if (p->error == YAML_MEMORY_ERROR)
        return fail_nomem(b);
    const char *problem = p->problem ? p->problem : "unknown error";
    if (p->error == YAML_READER_ERROR) {
        int line, col;
        offset_to_pos(b->text, b->len, p->problem_offset, &line, &col);
        if (p->problem_value != -1)
            return fail_at(b, line, col, "invalid YAML: %s (character #x%X); the file must be UTF-8 text",
                           problem, (unsigned)p->problem_value);
        return fail_at(b, line, col, "invalid YAML: %s; the file must be UTF-8 text", problem);
    }
    int line = line_of(p->problem_mark), col = col_of(p->problem_mark);
    size_t off = p->problem_mark.index;
    int cline = line_of(p->context_mark), ccol = col_of(p->context_mark);
    if (p->context && (cline != line || ccol != col))
        fail_at(b, line, col, "invalid YAML: %s (%s at line %d, column %d)", problem, p->context, cline, ccol);
    else if (p->context)
        fail_at(b, line, col, "invalid YAML: %s (%s)", problem, p->context);
    else
        fail_at(b, line, col, "invalid YAML: %s", problem);
    /* Tabs are the most common cause of "cannot start any token". */
    if (off < b->len && b->text[off] == '\t')
        sl__error_append(b->err, "; indent with spaces, not tabs");
    return SL_ERR_CONFIG;
}

static sl_status next_event(builder *b, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&b->parser, ev))
        return fail_syntax(b);
    return SL_OK;
}

static sl_status count_nodes(builder *b, size_t add, int line, int col, const char *alias)
{
    b->total += add;
    if (b->total <= SL_YAML_MAX_NODES)
        return SL_OK;
    if (alias)
        return fail_at(b, line, col,
                       "alias '*%s' expands the document to more than %d nodes; the limit guards against "
                       "alias bombs (use fewer aliases)",
                       alias, SL_YAML_MAX_NODES);
    return fail_at(b, line, col, "the document has more than %d nodes; split it into smaller files",
                   SL_YAML_MAX_NODES);
}

static sl__ynode *new_node(builder *b, sl__ykind kind, yaml_mark_t m)
{
    sl__ynode *n = arena_alloc(b->doc, sizeof *n);
    if (n) {
        memset(n, 0, sizeof *n);
        n->kind = kind;
        n->line = line_of(m);
        n->col = col_of(m);
    }
    return n;
}

/* Registers an anchor when its node starts, so that an alias inside the
 * node itself finds it incomplete (a cycle) rather than an older namesake. */
static sl_status anchor_open(builder *b, const yaml_char_t *name, size_t *slot)
{
    if (b->n_anchors == b->cap_anchors) {
        size_t cap = b->cap_anchors ? b->cap_anchors * 2 : 16;
        anchor *a = realloc(b->anchors, cap * sizeof *a);
        if (!a)
            return fail_nomem(b);
        b->anchors = a;
        b->cap_anchors = cap;
    }
    const char *s = arena_strdup(b->doc, (const char *)name, strlen((const char *)name));
    if (!s)
        return fail_nomem(b);
    *slot = b->n_anchors;
    b->anchors[b->n_anchors++] = (anchor){s, NULL, 0};
    if (strtab_put(&b->anchor_index, s, *slot) != 0)
        return fail_nomem(b);
    return SL_OK;
}

static sl_status parse_node(builder *b, yaml_event_t *ev, int depth, const sl__ynode **out, size_t *size);

static sl_status parse_alias(builder *b, yaml_event_t *ev, const sl__ynode **out, size_t *size)
{
    const char *name = (const char *)ev->data.alias.anchor;
    int line = line_of(ev->start_mark), col = col_of(ev->start_mark);
    const size_t *slot = strtab_get(&b->anchor_index, name);
    if (!slot)
        return fail_at(b, line, col, "unknown alias '*%s'; expected an anchor '&%s' on an earlier node", name,
                       name);
    const anchor *a = &b->anchors[*slot];
    if (!a->node)
        return fail_at(b, line, col,
                       "alias '*%s' refers to a node that contains it; recursive aliases are not supported",
                       name);
    sl_status st = count_nodes(b, a->size, line, col, name);
    if (st != SL_OK)
        return st;
    *out = a->node;
    *size = a->size;
    /* A scalar is cheap to copy, and the copy lets errors about it (as a key
     * or a parameter value) point at the alias rather than at the anchor.
     * Collections stay shared, so expansion costs nothing. */
    if (a->node->kind == SL_Y_SCALAR) {
        sl__ynode *copy = new_node(b, SL_Y_SCALAR, ev->start_mark);
        if (!copy)
            return fail_nomem(b);
        copy->text = a->node->text;
        copy->plain = a->node->plain;
        *out = copy;
    }
    return SL_OK;
}

static sl_status parse_scalar(builder *b, yaml_event_t *ev, const sl__ynode **out, size_t *size)
{
    sl_status st = count_nodes(b, 1, line_of(ev->start_mark), col_of(ev->start_mark), NULL);
    if (st != SL_OK)
        return st;
    sl__ynode *n = new_node(b, SL_Y_SCALAR, ev->start_mark);
    if (!n || !(n->text = arena_strdup(b->doc, (const char *)ev->data.scalar.value, ev->data.scalar.length)))
        return fail_nomem(b);
    /* An explicit !!str tag makes a plain scalar a string, like quotes do;
     * other tags are ignored. */
    const char *tag = (const char *)ev->data.scalar.tag;
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !(tag && strcmp(tag, YAML_STR_TAG) == 0);
    if (ev->data.scalar.anchor) {
        size_t slot;
        if ((st = anchor_open(b, ev->data.scalar.anchor, &slot)) != SL_OK)
            return st;
        b->anchors[slot].node = n;
        b->anchors[slot].size = 1;
    }
    *out = n;
    *size = 1;
    return SL_OK;
}

static const sl__ynode **copy_items(builder *b, const nvec *v)
{
    if (v->n == 0)
        return NULL;
    const sl__ynode **items = arena_alloc(b->doc, v->n * sizeof *items);
    if (items)
        memcpy(items, v->items, v->n * sizeof *items);
    return items;
}

/* Reads the children of an open collection up to its end event. */
typedef struct coll {
    sl__ynode *node;
    nvec keys, vals;
    strtab seen; /* map key text -> index in keys */
    size_t size;
} coll;

static sl_status add_map_key(builder *b, coll *c, const sl__ynode *key)
{
    if (key->kind != SL_Y_SCALAR)
        return fail_at(b, key->line, key->col,
                       "mapping keys must be scalars (plain or quoted text), found %s as a key",
                       sl__ynode_kind_name(key));
    const size_t *first = strtab_get(&c->seen, key->text);
    if (first) {
        const sl__ynode *k0 = c->keys.items[*first];
        return fail_at(b, key->line, key->col,
                       "duplicate key '%s' (first defined at line %d, column %d); each key may appear once "
                       "in a mapping",
                       key->text, k0->line, k0->col);
    }
    if (strtab_put(&c->seen, key->text, c->keys.n) != 0 || nvec_push(&c->keys, key) != 0)
        return fail_nomem(b);
    return SL_OK;
}

static sl_status parse_children(builder *b, coll *c, yaml_event_type_t end, int depth)
{
    int is_map = end == YAML_MAPPING_END_EVENT;
    for (;;) {
        yaml_event_t ev;
        sl_status st = next_event(b, &ev);
        if (st != SL_OK)
            return st;
        if (ev.type == end) {
            yaml_event_delete(&ev);
            return SL_OK;
        }
        const sl__ynode *child;
        size_t child_size;
        st = parse_node(b, &ev, depth, &child, &child_size);
        yaml_event_delete(&ev);
        if (st != SL_OK)
            return st;
        c->size += child_size;
        /* Keys and values alternate within a mapping's events. */
        int as_key = is_map && c->keys.n == c->vals.n;
        if (as_key)
            st = add_map_key(b, c, child);
        else if (nvec_push(&c->vals, child) != 0)
            st = fail_nomem(b);
        if (st != SL_OK)
            return st;
    }
}

static sl_status parse_collection(builder *b, yaml_event_t *ev, int depth, const sl__ynode **out,
                                  size_t *size)
{
    int is_map = ev->type == YAML_MAPPING_START_EVENT;
    int line = line_of(ev->start_mark), col = col_of(ev->start_mark);
    if (depth + 1 > SL_YAML_MAX_DEPTH)
        return fail_at(b, line, col, "nesting is deeper than %d levels; flatten the document",
                       SL_YAML_MAX_DEPTH);
    sl_status st = count_nodes(b, 1, line, col, NULL);
    if (st != SL_OK)
        return st;
    coll c = {0};
    c.size = 1;
    c.node = new_node(b, is_map ? SL_Y_MAP : SL_Y_SEQ, ev->start_mark);
    if (!c.node)
        return fail_nomem(b);
    const yaml_char_t *aname = is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
    size_t slot = 0;
    if (aname && (st = anchor_open(b, aname, &slot)) != SL_OK)
        return st;
    st = parse_children(b, &c, is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT, depth + 1);
    if (st == SL_OK) {
        c.node->n = c.vals.n;
        c.node->vals = copy_items(b, &c.vals);
        c.node->keys = is_map ? copy_items(b, &c.keys) : NULL;
        if (c.vals.n && (!c.node->vals || (is_map && !c.node->keys)))
            st = fail_nomem(b);
    }
    free(c.keys.items);
    free(c.vals.items);
    strtab_free(&c.seen);
    if (st != SL_OK)
        return st;
    if (aname) {
        b->anchors[slot].node = c.node;
        b->anchors[slot].size = c.size;
    }
    *out = c.node;
    *size = c.size;
    return SL_OK;
}

static sl_status parse_node(builder *b, yaml_event_t *ev, int depth, const sl__ynode **out, size_t *size)
{
    switch (ev->type) {
    case YAML_ALIAS_EVENT: return parse_alias(b, ev, out, size);
    case YAML_SCALAR_EVENT: return parse_scalar(b, ev, out, size);
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: return parse_collection(b, ev, depth, out, size);
    default: break;
    }
    return sl__error_at(b->err, SL_ERR_INTERNAL, b->filename, line_of(ev->start_mark), col_of(ev->start_mark),
                        "unexpected YAML event %d", (int)ev->type);
}

static const sl__ynode *empty_map(builder *b)
{
    yaml_mark_t start = {0, 0, 0};
    return new_node(b, SL_Y_MAP, start);
}

/* An empty document ("", comments only, or a bare "---") is an empty map. */
static int is_empty_root(const yaml_event_t *ev)
{
    return ev->type == YAML_SCALAR_EVENT && ev->data.scalar.length == 0 &&
           ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.anchor && !ev->data.scalar.tag;
}

static sl_status parse_document(builder *b, const sl__ynode **root)
{
    yaml_event_t ev;
    sl_status st = next_event(b, &ev);
    if (st != SL_OK)
        return st;
    if (is_empty_root(&ev)) {
        yaml_event_delete(&ev);
        *root = empty_map(b);
        return *root ? SL_OK : fail_nomem(b);
    }
    size_t size;
    st = parse_node(b, &ev, 0, root, &size);
    yaml_event_delete(&ev);
    if (st != SL_OK)
        return st;
    if ((st = next_event(b, &ev)) != SL_OK)
        return st;
    yaml_event_delete(&ev); /* DOCUMENT-END, the only event a parser can give here */
    return SL_OK;
}

/* Parses the stream: STREAM-START, at most one document, STREAM-END. */
static sl_status parse_stream(builder *b, const sl__ynode **root)
{
    yaml_event_t ev;
    sl_status st;
    *root = NULL;
    for (;;) {
        if ((st = next_event(b, &ev)) != SL_OK)
            return st;
        yaml_event_type_t type = ev.type;
        yaml_mark_t m = ev.start_mark;
        yaml_event_delete(&ev);
        if (type == YAML_STREAM_END_EVENT)
            break;
        if (type != YAML_DOCUMENT_START_EVENT)
            continue;
        if (*root)
            return fail_at(b, line_of(m), col_of(m),
                           "a second YAML document starts here; expected one document per file (remove the "
                           "'---' separator or split the file)");
        if ((st = parse_document(b, root)) != SL_OK)
            return st;
    }
    if (!*root && !(*root = empty_map(b)))
        return fail_nomem(b);
    return SL_OK;
}

sl_status sl__ydoc_parse(const char *text, size_t len, const char *filename, sl__ydoc **out,
                         const sl__ynode **root, sl_error *err)
{
    *out = NULL;
    *root = NULL;
    if (!filename)
        filename = "";
    if (len > SL_YAML_MAX_BYTES)
        return sl__error_at(err, SL_ERR_CONFIG, filename, 0, 0,
                            "the YAML text is %zu bytes; expected at most %u bytes", len,
                            (unsigned)SL_YAML_MAX_BYTES);
    builder b = {0};
    b.text = text ? text : "";
    b.len = text ? len : 0;
    b.filename = filename;
    b.err = err;
    b.doc = calloc(1, sizeof *b.doc);
    if (!b.doc || !yaml_parser_initialize(&b.parser)) {
        free(b.doc);
        return sl__error_at(err, SL_ERR_NOMEM, filename, 0, 0, "out of memory while reading the YAML");
    }
    yaml_parser_set_input_string(&b.parser, (const unsigned char *)b.text, b.len);
    const sl__ynode *r;
    sl_status st = parse_stream(&b, &r);
    yaml_parser_delete(&b.parser);
    free(b.anchors);
    strtab_free(&b.anchor_index);
    if (st != SL_OK) {
        sl__ydoc_free(b.doc);
        return st;
    }
    *out = b.doc;
    *root = r;
    return SL_OK;
}

/* ---- queries ------------------------------------------------------------------ */

const sl__ynode *sl__ynode_get(const sl__ynode *map, const char *key)
{
    if (!map || map->kind != SL_Y_MAP || !key)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i]->text, key) == 0)
            return map->vals[i];
    return NULL;
}

static int is_null_text(const char *s)
{
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

const char *sl__ynode_kind_name(const sl__ynode *n)
{
    if (!n)
        return "nothing";
    switch (n->kind) {
    case SL_Y_MAP: return "a mapping";
    case SL_Y_SEQ: return "a list";
    case SL_Y_SCALAR: break;
    }
    if (n->plain && is_null_text(n->text))
        return "an empty value";
    return "a string";
}
