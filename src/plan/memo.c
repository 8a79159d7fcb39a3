#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "plan/exec_int.h"

typedef struct memo_entry {
    struct memo_entry *next;
    const sl_frame *frame;
    char *what;
    size_t size;
    unsigned char data[];
} memo_entry;

struct sl__memo {
    pthread_mutex_t mu;
    memo_entry *head;
};

sl__memo *sl__memo_new(void)
{
    sl__memo *m = calloc(1, sizeof *m);
    if (m)
        pthread_mutex_init(&m->mu, NULL);
    return m;
}

void sl__memo_free(sl__memo *m)
{
    if (!m)
        return;
    for (memo_entry *e = m->head, *next; e; e = next) {
        next = e->next;
        free(e->what);
        free(e);
    }
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static sl__memo *memo_of(const sl_exec *ex)
{
    return ex && ex->rc ? ex->rc->memo : NULL;
}

int sl__exec_memo_get(sl_exec *ex, const sl_frame *frame, const char *what, void *out, size_t size)
{
    sl__memo *m = memo_of(ex);
    if (!m)
        return 0;
    int found = 0;
    pthread_mutex_lock(&m->mu);
    for (memo_entry *e = m->head; e && !found; e = e->next)
        if (e->frame == frame && e->size == size && strcmp(e->what, what) == 0) {
            memcpy(out, e->data, size);
            found = 1;
        }
    pthread_mutex_unlock(&m->mu);
    return found;
}

void sl__exec_memo_put(sl_exec *ex, const sl_frame *frame, const char *what, const void *data, size_t size)
{
    sl__memo *m = memo_of(ex);
    if (!m)
        return;
    memo_entry *e = malloc(sizeof *e + size);
    char *w = strdup(what);
    if (!e || !w) {
        free(e);
        free(w);
        return;
    }
    e->frame = frame;
    e->what = w;
    e->size = size;
    memcpy(e->data, data, size);
    pthread_mutex_lock(&m->mu);
    e->next = m->head;
    m->head = e;
    pthread_mutex_unlock(&m->mu);
}

sl_status sl__exec_pass_memo(sl_exec *ex, sl_stage *st, const sl_pass *pass, void *acc, const char *what,
                             sl_error *err)
{
    size_t size = pass->acc_size ? pass->acc_size : pass->partial_size;
    if (sl__exec_memo_get(ex, pass->input, what, acc, size))
        return SL_OK;
    ex->memo_what = what;
    sl_status s = sl_exec_pass(ex, st, pass, acc, err);
    ex->memo_what = NULL;
    if (s == SL_OK)
        sl__exec_memo_put(ex, pass->input, what, acc, size);
    return s;
}
