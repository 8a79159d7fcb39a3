/* Private: what makes a checkpoint reusable. A stage's cache key hashes its
 * op, canonical parameters, chunk size, the output hashes of its inputs (so a
 * recomputed input whose values did not change leaves its descendants fresh:
 * early cutoff) and, for source ops, the identity of the files they read. A
 * checkpoint is fresh when its recorded key equals the stage's key and the
 * file is intact: unchanged since sluice wrote it (size, mtime, inode in the
 * workdir manifest), or, when it was touched, its values still hash to what
 * it recorded. */
#ifndef SL_CACHE_H
#define SL_CACHE_H

#include "plan/pipeline_int.h"

#define SL_FORMAT_VERSION 2 /* 2: values hashed in leaves of a chunk each (hash.h) */

/* "name version" of the plugin a stage's op came from, or "" (an op built
 * in or registered by the program): part of the stage's cache key, and the
 * sluice_plugin attribute of its checkpoint. */
#define SL__PLUGIN_TEXT_MAX (SL_NAME_MAX + 64)
void sl__stage_plugin_text(const sl_stage *st, char *buf, size_t size);

/* What a checkpoint says about itself (its attributes; no data is read). */
typedef struct sl__ckpt_info {
    char key[SL_HASH_HEX];
    char output_hash[SL_HASH_HEX];
    char op[SL_NAME_MAX * 2];
    char stage[SL_NAME_MAX * 2];
    char plugin[SL__PLUGIN_TEXT_MAX]; /* "name version" of the op's plugin (sluice_plugin), "" for other ops */
    char *params;  /* canonical JSON, malloc'd */
    char *inputs;  /* "param=hash;..." of the inputs it was made from, malloc'd */
    char *sources; /* identity of the source files, malloc'd */
    char *outputs; /* identity of the files a sink wrote, malloc'd */
    int64_t chunk_rows;
    int64_t compression;
    int64_t rows;
    int64_t *layout; /* rows of each chunk (sluice_chunk_sizes), malloc'd; NULL: uniform */
    int64_t nlayout; /* entries of layout; -1: the attribute is there but unreadable */
    int64_t *leaves; /* rows of each leaf of the values' hashes (sluice_hash_leaves), malloc'd */
    int64_t nleaves; /* entries of leaves (1: every leaf but a shorter last); 0 absent, -1 unreadable */
} sl__ckpt_info;

void sl__ckpt_info_free(sl__ckpt_info *info);

/* Reads the attributes of checkpoint `path`. SL_ERR_IO when it is missing or
 * unreadable (err says why). */
sl_status sl__ckpt_info_read(const char *path, sl__ckpt_info *info, sl_error *err);

/* The identity of the files a source stage reads ("path size mtime;..."), or
 * their content hashes when the stage says `verify: content`. */
sl_status sl__stage_sources(const sl_stage *st, char **out, sl_error *err);
/* The identity (path, size, mtime) of the files a sink stage writes. */
sl_status sl__stage_outputs(const sl_stage *st, char **out, sl_error *err);
/* "param=hash;..." of the stage's inputs' output hashes (inputs must be done). */
char *sl__stage_inputs_text(const sl_stage *st);

/* Computes st->key. The stage's inputs must have their out_hash. */
sl_status sl__stage_key(sl_stage *st, int64_t chunk_rows, sl_error *err);

/* Checks whether st's checkpoint in workdir can be reused. Returns 1 fresh,
 * 0 not (reason says why in one line). Errors only for failures that are not
 * about the checkpoint itself (out of memory). */
int sl__stage_fresh(sl_stage *st, const char *workdir, int64_t chunk_rows, char *reason, size_t reason_size,
                    sl_error *err);

/* Before a run or status reads the workdir: every stored stage's
 * checkpoint path holds a regular file or nothing. A FIFO there would block
 * the open, a link would lead outside the workdir; both are errors naming
 * the path, found before any stage runs. */
sl_status sl__workdir_check(const sl_pipeline *p, const char *workdir, sl_error *err);

/* Makes a fresh checkpoint the stage's output: rows, attribute vectors and
 * results from the file, data left in it. */
sl_status sl__stage_adopt(sl_stage *st, const char *workdir, sl_error *err);

/* workdir/sluice.manifest: the identity (size, mtime, inode, ctime) of each
 * checkpoint sluice committed, read once per run and kept in memory (see
 * cache.c for when it is written). A run or status holds it in
 * pipe->manifest; every function below accepts NULL (nothing recorded). */
struct sl__manifest;
typedef struct sl__manifest sl__manifest;
/* Reads it (missing: empty). A link or special file there is an error. */
sl_status sl__manifest_open(const char *workdir, sl__manifest **out, sl_error *err);
/* Records the current identity of `stage`'s checkpoint (none when it is
 * gone); writes the manifest when enough records are pending. */
sl_status sl__manifest_record(sl__manifest *m, const char *stage, sl_error *err);
/* Drops stage's entry (written with the next save): its checkpoint is gone,
 * or the file at its name is not one sluice wrote. */
void sl__manifest_forget(sl__manifest *m, const char *stage);
/* Writes the manifest when a record is pending. */
sl_status sl__manifest_save(sl__manifest *m, sl_error *err);
void sl__manifest_free(sl__manifest *m);
/* 1 when `path` is a regular file (not a link) whose identity (size, mtime,
 * inode, ctime) the manifest recorded for `stage`: a checkpoint sluice
 * wrote, which clean may remove. */
int sl__manifest_owns(sl__manifest *m, const char *stage, const char *path);

/* The figure `key` a stage recorded (result.<key>) in checkpoint `path`:
 * 1 with *value set, 0 when the file or the figure is not there. */
int sl__ckpt_result_read(const char *path, const char *key, double *value);

/* Path of a stage's checkpoint: malloc'd "workdir/stage.h5". */
char *sl__ckpt_path(const char *workdir, const char *stage);

#endif
