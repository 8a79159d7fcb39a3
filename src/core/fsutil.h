/* Private: file system helpers. */
#ifndef SL_FSUTIL_H
#define SL_FSUTIL_H

#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
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

/* Files sluice did not create are hostile until proved otherwise: a FIFO
 * blocks an open, a link planted in a shared workdir redirects a write to
 * another file (issue 14). These helpers open only regular files, and never
 * follow a link where sluice itself writes. Each returns a descriptor (with
 * O_CLOEXEC) or -1 with errno set; errno is SL__ENOTREG when the path is not
 * a regular file (`st`, when given, then says what it is: sl__file_kind).
 * None of them blocks on a FIFO or a device. */
#define SL__ENOTREG 1000

/* Opens an existing file for reading; links are followed (users link their
 * data sets), so st describes the target. */
int sl__open_read(const char *path, struct stat *st);
/* Opens an existing file that sluice wrote, in its workdir (flags: O_RDONLY,
 * O_RDWR, O_WRONLY, | O_APPEND, | O_CREAT): a final symbolic link is refused
 * (errno ELOOP), as is anything that is not a regular file. */
int sl__open_own(const char *path, int flags, struct stat *st);
/* Creates `path` anew, empty (O_RDWR): whatever is at path, a stale file or
 * a planted link, is unlinked first (never followed), then the file is made
 * with O_CREAT | O_EXCL | O_NOFOLLOW, so a link raced in is refused (EEXIST). */
int sl__create_new(const char *path, mode_t mode);
/* "a FIFO", "a directory", "a character device", "a block device", "a
 * socket", "a symbolic link" or "not a regular file". */
const char *sl__file_kind(mode_t mode);
/* A message for a failed sl__open_* of `path`, into buf: the system's text,
 * or, for ELOOP / SL__ENOTREG, what the path is and that sluice will not use
 * it. `st` is what the open returned. */
const char *sl__open_error_text(int errnum, const struct stat *st, char *buf, size_t size);
/* sl__open_read as a stdio stream ("rb"); on failure NULL, with what went
 * wrong in why (sl__open_error_text). */
FILE *sl__fopen_read(const char *path, struct stat *st, char *why, size_t size);
/* 1 when a and b are the same file (device and inode). */
int sl__same_file(const struct stat *a, const struct stat *b);

/* Writers of a file sluice creates outside its locked workdir (save.hdf5's
 * `<file>.tmp`, which two runs with different workdirs may both want) mark
 * it as theirs while they write: sl__writer_lock takes a non-blocking
 * advisory lock on fd (held until the descriptor is closed; -1 with errno
 * EAGAIN when another process holds one). sl__writer_of says whether another
 * process holds such a lock on `path` (1, with its pid when known, else 0),
 * without blocking and without following a link. */
int sl__writer_lock(int fd);
int sl__writer_of(const char *path, long *pid);
/* Unlinks `path` only when it is the file open at fd (device and inode):
 * a failing writer removes its own temporary file, never one another
 * process put there since. -1 (nothing removed) otherwise. */
int sl__unlink_own(const char *path, int fd);

/* Creates `path` anew, empty, and locked as its writer's (sl__writer_lock),
 * atomically: the file is made under a name of this process's own
 * (`path.<pid>`), locked, then put at `path` only if nothing is there, so
 * another process never finds it unlocked. A stale file at path (no live
 * writer) is removed first, and so are the private files of processes
 * killed before they put theirs in place. Fails with EBUSY when a live
 * writer holds path (*holder: its pid, when known). */
int sl__create_locked(const char *path, long *holder);

/* Starts writing the bytes [off, off + len) of fd to disk, without waiting
 * (sync_file_range): a later fdatasync then has less left to wait for. */
void sl__start_writeback(int fd, off_t off, off_t len);

#endif
