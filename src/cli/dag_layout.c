/* A layered drawing of the pipeline's DAG, left to right, for the report
 * (Sugiyama's method, kept small):
 *   1. layers: a stage goes one layer after its latest input (longest path
 *      over the topological order the pipeline keeps);
 *   2. an edge spanning several layers gets a dummy vertex in each layer it
 *      crosses, so that it is routed between the boxes, not through them;
 *   3. order within layers: barycenter sweeps, down and up, keeping the
 *      order with the fewest crossings seen;
 *   4. vertical positions: each vertex pulled towards its neighbours in the
 *      previous (then next) layer, keeping the order and the spacing.
 * Everything is a deterministic function of the pipeline: the same file
 * draws the same picture. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cli/report.h"

enum { H_GAP = 68, V_GAP = 22, DUMMY_H = 8 };

typedef struct vtx {
    int layer;
    double key;   /* barycenter, for sorting */
    double y;     /* centre */
    double h;     /* height of its slot */
    size_t pos;   /* index in its layer */
} vtx;

typedef struct seg {
    size_t a, b; /* vertex a in layer L, b in layer L + 1 */
} seg;

typedef struct ctx {
    vtx *v;
    size_t nv;
    seg *s;
    size_t ns;
    /* each vertex's neighbours in the layer before (up) and after (dn):
     * up[up_off[v] .. up_off[v + 1]), so a sweep costs the segments once */
    size_t *up_off, *up, *dn_off, *dn;
    size_t **layer; /* layer[L]: vertex ids in order */
    size_t *lsize;
    int nl;
} ctx;

/* qsort has no user argument in C11: the layer being sorted is here (the
 * report is made on one thread). Ties keep their current order (qsort is
 * not stable): the output is the same on every libc. */
static const ctx *sort_ctx;
static int by_key(const void *x, const void *y)
{
    const ctx *c = sort_ctx;
    const vtx *a = &c->v[*(const size_t *)x], *b = &c->v[*(const size_t *)y];
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static void renumber(ctx *c, int L)
{
    for (size_t k = 0; k < c->lsize[L]; k++)
        c->v[c->layer[L][k]].pos = k;
}

/* The mean of the neighbours' positions (pos) or heights (y) in the layer
 * before (down) or after, or `none` for a vertex without such neighbours. */
static double neighbour_mean(const ctx *c, size_t id, int down, int by_y, double none)
{
    const size_t *off = down ? c->up_off : c->dn_off, *nb = down ? c->up : c->dn;
    if (off[id] == off[id + 1])
        return none;
    double sum = 0;
    for (size_t k = off[id]; k < off[id + 1]; k++)
        sum += by_y ? c->v[nb[k]].y : (double)c->v[nb[k]].pos;
    return sum / (double)(off[id + 1] - off[id]);
}

/* Orders layer L by the mean position of each vertex's neighbours in layer
 * L - 1 (down) or L + 1 (up); a vertex without such neighbours keeps its
 * place. */
static void sweep_layer(ctx *c, int L, int down)
{
    for (size_t k = 0; k < c->lsize[L]; k++) {
        size_t id = c->layer[L][k];
        c->v[id].key = neighbour_mean(c, id, down, 0, (double)k);
    }
    sort_ctx = c;
    qsort(c->layer[L], c->lsize[L], sizeof(size_t), by_key);
    renumber(c, L);
}

/* Crossings between segments of the same layer pair. Quadratic in the
 * segments of a pair; a huge pipeline is only sorted, not counted. */
static size_t crossings(const ctx *c)
{
    size_t x = 0;
    for (size_t i = 0; i < c->ns; i++)
        for (size_t j = i + 1; j < c->ns; j++) {
            const seg *p = &c->s[i], *q = &c->s[j];
            if (c->v[p->a].layer != c->v[q->a].layer)
                continue;
            long long da = (long long)c->v[p->a].pos - (long long)c->v[q->a].pos;
            long long db = (long long)c->v[p->b].pos - (long long)c->v[q->b].pos;
            x += (da < 0 && db > 0) || (da > 0 && db < 0);
        }
    return x;
}

static void save_order(const ctx *c, size_t *out)
{
    for (size_t i = 0; i < c->nv; i++)
        out[i] = c->v[i].pos;
}

static void load_order(ctx *c, const size_t *in)
{
    for (size_t i = 0; i < c->nv; i++) {
        c->v[i].pos = in[i];
        c->layer[c->v[i].layer][in[i]] = i;
    }
}

static void order_layers(ctx *c)
{
    size_t *best = malloc(c->nv * sizeof *best);
    int count = c->ns <= 4000;
    size_t best_x = count ? crossings(c) : 0;
    if (best)
        save_order(c, best);
    for (int it = 0; it < 8 && (!count || best_x > 0); it++) {
        int down = it % 2 == 0;
        for (int k = 1; k < c->nl; k++)
            sweep_layer(c, down ? k : c->nl - 1 - k, down);
        size_t x = count ? crossings(c) : 0;
        if (best && count && x < best_x) {
            best_x = x;
            save_order(c, best);
        }
    }
    if (best && count)
        load_order(c, best);
    free(best);
}

/* Places the vertices of layer L in order, each as near to want[] as the
 * spacing allows: the mean of the placement pushed down from the top and
 * the one pushed up from the bottom (both keep the order and the gaps, so
 * their mean does too). */
static void place_layer(ctx *c, int L, const double *want)
{
    size_t m = c->lsize[L];
    if (m == 0)
        return;
    double *fw = malloc(m * sizeof *fw), *bw = malloc(m * sizeof *bw);
    if (!fw || !bw) {
        free(fw);
        free(bw);
        return;
    }
    for (size_t k = 0; k < m; k++) {
        const vtx *v = &c->v[c->layer[L][k]];
        fw[k] = want[k];
        if (k) {
            const vtx *u = &c->v[c->layer[L][k - 1]];
            double min = fw[k - 1] + (u->h + v->h) / 2 + V_GAP;
            if (fw[k] < min)
                fw[k] = min;
        }
    }
    for (size_t k = m; k-- > 0;) {
        const vtx *v = &c->v[c->layer[L][k]];
        bw[k] = want[k];
        if (k + 1 < m) {
            const vtx *u = &c->v[c->layer[L][k + 1]];
            double max = bw[k + 1] - (u->h + v->h) / 2 - V_GAP;
            if (bw[k] > max)
                bw[k] = max;
        }
    }
    for (size_t k = 0; k < m; k++)
        c->v[c->layer[L][k]].y = (fw[k] + bw[k]) / 2;
    free(fw);
    free(bw);
}

static void place(ctx *c)
{
    /* start: each layer stacked and centred on 0 */
    for (int L = 0; L < c->nl; L++) {
        double total = 0;
        for (size_t k = 0; k < c->lsize[L]; k++)
            total += c->v[c->layer[L][k]].h + (k ? V_GAP : 0);
        double y = -total / 2;
        for (size_t k = 0; k < c->lsize[L]; k++) {
            vtx *v = &c->v[c->layer[L][k]];
            v->y = y + v->h / 2;
            y += v->h + V_GAP;
        }
    }
    size_t maxm = 0;
    for (int L = 0; L < c->nl; L++)
        if (c->lsize[L] > maxm)
            maxm = c->lsize[L];
    double *want = malloc((maxm ? maxm : 1) * sizeof *want);
    for (int it = 0; want && it < 6; it++) {
        int down = it % 2 == 0;
        for (int k = 1; k < c->nl; k++) {
            int L = down ? k : c->nl - 1 - k;
            for (size_t j = 0; j < c->lsize[L]; j++) {
                size_t id = c->layer[L][j];
                want[j] = neighbour_mean(c, id, down, 1, c->v[id].y);
            }
            place_layer(c, L, want);
        }
    }
    free(want);
}

/* The neighbour lists (ctx's up and dn) from the segments. */
static int build_adjacency(ctx *c)
{
    c->up_off = calloc(c->nv + 1, sizeof *c->up_off);
    c->dn_off = calloc(c->nv + 1, sizeof *c->dn_off);
    c->up = malloc((c->ns ? c->ns : 1) * sizeof *c->up);
    c->dn = malloc((c->ns ? c->ns : 1) * sizeof *c->dn);
    size_t *fill = calloc(2 * c->nv + 1, sizeof *fill);
    if (!c->up_off || !c->dn_off || !c->up || !c->dn || !fill) {
        free(fill);
        return -1;
    }
    for (size_t i = 0; i < c->ns; i++) {
        c->up_off[c->s[i].b + 1]++;
        c->dn_off[c->s[i].a + 1]++;
    }
    for (size_t v = 0; v < c->nv; v++) {
        c->up_off[v + 1] += c->up_off[v];
        c->dn_off[v + 1] += c->dn_off[v];
    }
    for (size_t i = 0; i < c->ns; i++) {
        size_t a = c->s[i].a, b = c->s[i].b;
        c->up[c->up_off[b] + fill[b]++] = a;
        c->dn[c->dn_off[a] + fill[c->nv + a]++] = b;
    }
    free(fill);
    return 0;
}

/* Makes room for one more element in *arr (n used of *cap): 0, or -1. */
static int grow(void **arr, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap * 2 + 16;
    void *na = realloc(*arr, nc * elem);
    if (!na)
        return -1;
    *arr = na;
    *cap = nc;
    return 0;
}

static int add_vertex(ctx *c, size_t *cap, int layer, double h)
{
    if (grow((void **)&c->v, c->nv, cap, sizeof *c->v) < 0)
        return -1;
    c->v[c->nv++] = (vtx){.layer = layer, .h = h};
    return 0;
}

static int add_seg(ctx *c, size_t *cap, size_t a, size_t b)
{
    if (grow((void **)&c->s, c->ns, cap, sizeof *c->s) < 0)
        return -1;
    c->s[c->ns++] = (seg){a, b};
    return 0;
}

void dag_layout_free(dag_layout *l)
{
    for (size_t e = 0; e < l->nedges; e++)
        free(l->edges[e].pts);
    free(l->edges);
    free(l->x);
    free(l->y);
    free(l->w);
    free(l->h);
    free(l->layer);
    memset(l, 0, sizeof *l);
}

static void free_ctx(ctx *c)
{
    for (int L = 0; L < c->nl && c->layer; L++)
        free(c->layer[L]);
    free(c->layer);
    free(c->lsize);
    free(c->v);
    free(c->s);
    free(c->up_off);
    free(c->up);
    free(c->dn_off);
    free(c->dn);
}

/* Where edge e's arrowhead meets its target's left side: the inputs of a
 * stage are spread along it, ordered by the height they arrive from (the
 * last dummy of a long edge, else the source), so that they do not cross
 * at the box. from_y[e]: that height. */
static double port_offset(const dag_layout *l, const double *from_y, size_t e, double h)
{
    /* a stage's inputs are consecutive edges (made stage by stage) */
    size_t to = l->edges[e].to, b = e, end = e + 1, rank = 0;
    while (b > 0 && l->edges[b - 1].to == to)
        b--;
    while (end < l->nedges && l->edges[end].to == to)
        end++;
    size_t k = end - b;
    double me = from_y[e];
    for (size_t f = b; f < end; f++)
        rank += from_y[f] < me || (from_y[f] == me && f < e);
    if (k < 2)
        return 0;
    double step = fmin(12.0, (h - 8) / (double)(k - 1));
    return ((double)rank - (double)(k - 1) / 2) * step;
}

int dag_layout_make(const sl_pipeline *p, const double *w, double h, dag_layout *out)
{
    memset(out, 0, sizeof *out);
    size_t n = sl_pipeline_stage_count(p);
    ctx c = {0};
    size_t vcap = 0, scap = 0, ne = 0;
    int rc = -1;
    for (size_t i = 0; i < n; i++)
        ne += sl_pipeline_stage_input_count(p, i);
    out->n = n;
    out->x = calloc(n ? n : 1, sizeof *out->x);
    out->y = calloc(n ? n : 1, sizeof *out->y);
    out->w = calloc(n ? n : 1, sizeof *out->w);
    out->h = calloc(n ? n : 1, sizeof *out->h);
    out->layer = calloc(n ? n : 1, sizeof *out->layer);
    out->edges = calloc(ne ? ne : 1, sizeof *out->edges);
    if (!out->x || !out->y || !out->w || !out->h || !out->layer || !out->edges)
        goto done;
    /* 1. layers (inputs come earlier in the pipeline's order) */
    for (size_t i = 0; i < n; i++) {
        int L = 0;
        for (size_t j = 0; j < sl_pipeline_stage_input_count(p, i); j++) {
            size_t from = sl_pipeline_stage_input(p, i, j, NULL);
            if (from < i && out->layer[from] + 1 > L)
                L = out->layer[from] + 1;
        }
        out->layer[i] = L;
        if (L + 1 > c.nl)
            c.nl = L + 1;
        if (add_vertex(&c, &vcap, L, h) < 0)
            goto done;
    }
    /* 2. edges, with a dummy in each layer crossed */
    size_t *chain_end = calloc(ne ? ne : 1, sizeof *chain_end); /* the first dummy of edge e, or SIZE_MAX */
    if (!chain_end)
        goto done;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < sl_pipeline_stage_input_count(p, i); j++) {
            const char *param = NULL;
            size_t from = sl_pipeline_stage_input(p, i, j, &param);
            dag_edge *e = &out->edges[out->nedges];
            e->from = from;
            e->to = i;
            e->label = param;
            chain_end[out->nedges++] = c.nv;
            size_t prev = from;
            for (int L = out->layer[from] + 1; L < out->layer[i]; L++) {
                if (add_vertex(&c, &vcap, L, DUMMY_H) < 0 || add_seg(&c, &scap, prev, c.nv - 1) < 0) {
                    free(chain_end);
                    goto done;
                }
                prev = c.nv - 1;
            }
            if (add_seg(&c, &scap, prev, i) < 0) {
                free(chain_end);
                goto done;
            }
        }
    c.layer = calloc((size_t)(c.nl ? c.nl : 1), sizeof *c.layer);
    c.lsize = calloc((size_t)(c.nl ? c.nl : 1), sizeof *c.lsize);
    if (!c.layer || !c.lsize) {
        free(chain_end);
        goto done;
    }
    for (size_t v = 0; v < c.nv; v++)
        c.lsize[c.v[v].layer]++;
    for (int L = 0; L < c.nl; L++) {
        c.layer[L] = malloc((c.lsize[L] ? c.lsize[L] : 1) * sizeof **c.layer);
        if (!c.layer[L]) {
            free(chain_end);
            goto done;
        }
        c.lsize[L] = 0;
    }
    for (size_t v = 0; v < c.nv; v++) {
        c.v[v].pos = c.lsize[c.v[v].layer];
        c.layer[c.v[v].layer][c.lsize[c.v[v].layer]++] = v;
    }
    /* 3. and 4. */
    if (build_adjacency(&c) < 0) {
        free(chain_end);
        goto done;
    }
    order_layers(&c);
    place(&c);
    /* columns: each layer as wide as its widest box */
    double *colx = calloc((size_t)c.nl + 1, sizeof *colx), *colw = calloc((size_t)c.nl + 1, sizeof *colw);
    if (!colx || !colw) {
        free(colx);
        free(colw);
        free(chain_end);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        if (w[i] > colw[out->layer[i]])
            colw[out->layer[i]] = w[i];
    const double margin = 12;
    for (int L = 0; L < c.nl; L++)
        colx[L + 1] = colx[L] + colw[L] + H_GAP;
    double ymin = 0, ymax = 0;
    for (size_t v = 0; v < c.nv; v++) {
        if (v == 0 || c.v[v].y - c.v[v].h / 2 < ymin)
            ymin = c.v[v].y - c.v[v].h / 2;
        if (v == 0 || c.v[v].y + c.v[v].h / 2 > ymax)
            ymax = c.v[v].y + c.v[v].h / 2;
    }
    for (size_t i = 0; i < n; i++) {
        out->w[i] = w[i];
        out->h[i] = h;
        out->x[i] = margin + colx[out->layer[i]] + (colw[out->layer[i]] - w[i]) / 2;
        out->y[i] = margin + c.v[i].y - h / 2 - ymin;
    }
    out->width = 2 * margin + (c.nl ? colx[c.nl] - H_GAP : 0);
    out->height = 2 * margin + (ymax - ymin);
    /* routes: out of the source's right side, through each dummy's column
     * at the dummy's height, into the target's left side */
    double *from_y = malloc((out->nedges ? out->nedges : 1) * sizeof *from_y);
    for (size_t e = 0; from_y && e < out->nedges; e++) {
        int span = out->layer[out->edges[e].to] - out->layer[out->edges[e].from];
        from_y[e] = span > 1 ? c.v[chain_end[e] + (size_t)(span - 2)].y : c.v[out->edges[e].from].y;
    }
    for (size_t e = 0; from_y && rc != 0 && e < out->nedges; e++) {
        dag_edge *ed = &out->edges[e];
        int span = out->layer[ed->to] - out->layer[ed->from];
        size_t np = 2 + 2 * (size_t)(span > 1 ? span - 1 : 0);
        ed->pts = malloc(np * sizeof *ed->pts);
        if (!ed->pts)
            break;
        size_t k = 0;
        ed->pts[k++] = (dag_point){out->x[ed->from] + out->w[ed->from], out->y[ed->from] + h / 2};
        for (int d = 0; d < span - 1; d++) {
            const vtx *dv = &c.v[chain_end[e] + (size_t)d];
            double yy = margin + dv->y - ymin;
            ed->pts[k++] = (dag_point){margin + colx[dv->layer], yy};
            ed->pts[k++] = (dag_point){margin + colx[dv->layer] + colw[dv->layer], yy};
        }
        ed->pts[k++] = (dag_point){out->x[ed->to], out->y[ed->to] + h / 2 + port_offset(out, from_y, e, h)};
        ed->npts = k;
        if (e + 1 == out->nedges)
            rc = 0;
    }
    if (out->nedges == 0)
        rc = 0;
    free(from_y);
    free(colx);
    free(colw);
    free(chain_end);
done:
    free_ctx(&c);
    if (rc)
        dag_layout_free(out);
    return rc;
}
