/* Private: file system helpers. */
#ifndef SL_FSUTIL_H
#define SL_FSUTIL_H

#include "sluice/error.h"

/* Creates folder `path` and its missing parents (like mkdir -p). `what`
 * names the folder's role in the error ("workdir", "output"). */
sl_status sl__make_dirs(const char *path, const char *what, sl_error *err);

/* The folder part of a path ("." when it has none); malloc'd, NULL on OOM. */
char *sl__dir_name(const char *path);

#endif
