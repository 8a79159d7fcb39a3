/* Private: file system helpers. */
#ifndef SL_FSUTIL_H
#define SL_FSUTIL_H

#include "sluice/error.h"

/* Creates folder `path` and its missing parents (like mkdir -p). `what`
 * names the folder's role in the error ("workdir", "output"). */
sl_status sl__make_dirs(const char *path, const char *what, sl_error *err);

/* The folder part of a path ("." when it has none); malloc'd, NULL on OOM. */
char *sl__dir_name(const char *path);

/* An absolute, textually normalized form of path (no ".", "..", "//"),
 * relative paths taken from the current directory; malloc'd, NULL on OOM.
 * Symbolic links are not resolved. */
char *sl__path_normalize(const char *path);

#endif
