/* F_OFD_SETLK and F_OFD_GETLK (open file description locks), renameat2 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/error_int.h"
#include "core/fsutil.h"

sl_status sl__make_dirs(const char *path, const char *what, sl_error *err)
{
    char *p = strdup(path);
    if (!p)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            sl__error_set(err, SL_ERR_IO, "cannot create %s folder '%s': %s", what, p, strerror(errno));
            free(p);
            return SL_ERR_IO;
        }
        *s = c;
        if (c == '\0')
            break;
    }
    free(p);
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return sl__error_set(err, SL_ERR_IO, "%s '%s' is not a folder", what, path);
    return SL_OK;
}

char *sl__dir_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    size_t n = (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

char *sl__path_normalize(const char *path)
{
    char cwd[4096] = "";
    if (path[0] != '/' && !getcwd(cwd, sizeof cwd))
        return NULL;
    size_t n = strlen(cwd) + strlen(path) + 3;
    char *in = malloc(n), *out = malloc(n);
    if (!in || !out) {
        free(in);
        free(out);
        return NULL;
    }
    snprintf(in, n, "%s/%s", cwd, path);
    size_t len = 0;
    char *save = NULL;
    for (char *seg = strtok_r(in, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
        if (strcmp(seg, ".") == 0)
            continue;
        if (strcmp(seg, "..") == 0) {
            while (len > 0 && out[len - 1] != '/')
                len--;
            if (len > 0)
                len--;
            continue;
        }
        out[len++] = '/';
        size_t sl = strlen(seg);
        memcpy(out + len, seg, sl);
        len += sl;
    }
    if (len == 0)
        out[len++] = '/';
    out[len] = '\0';
    free(in);
    return out;
}

/* Opens without blocking (a FIFO with no writer would block a plain open),
 * checks that it is a regular file, then makes the descriptor blocking. */
static int open_checked(const char *path, int flags, mode_t mode, struct stat *st)
{
    struct stat local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    int fd = open(path, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, mode);
    if (fd < 0) {
        if (errno == ELOOP || errno == EMLINK) {
            /* O_NOFOLLOW on a link: say what it is */
            int e = errno;
            if (lstat(path, st) != 0)
                memset(st, 0, sizeof *st);
            errno = e == EMLINK ? ELOOP : e;
        } else if (errno == ENXIO || errno == EISDIR || errno == ENODEV) {
            int e = errno;
            if (stat(path, st) == 0 && !S_ISREG(st->st_mode))
                e = SL__ENOTREG;
            errno = e;
        }
        return -1;
    }
    if (fstat(fd, st) != 0) {
        int e = errno; /* not "not a regular file": st says nothing */
        close(fd);
        errno = e;
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        close(fd);
        errno = SL__ENOTREG;
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int sl__open_read(const char *path, struct stat *st)
{
    return open_checked(path, O_RDONLY, 0, st);
}

int sl__open_own(const char *path, int flags, struct stat *st)
{
    return open_checked(path, flags | O_NOFOLLOW, 0666, st);
}

int sl__create_new(const char *path, mode_t mode)
{
    if (unlink(path) != 0 && errno != ENOENT) {
        /* a folder, or an unwritable parent: the create below says why */
        struct stat sb;
        if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            errno = SL__ENOTREG;
            return -1;
        }
    }
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
    return fd;
}

const char *sl__file_kind(mode_t mode)
{
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISLNK(mode))
        return "a symbolic link";
    return "not a regular file";
}

const char *sl__open_error_text(int errnum, const struct stat *st, char *buf, size_t size)
{
    if (errnum == ELOOP)
        snprintf(buf, size, "it is a symbolic link, and sluice follows no link where it writes; remove the link");
    else if (errnum == SL__ENOTREG && st && st->st_mode)
        snprintf(buf, size, "it is %s, not a regular file", sl__file_kind(st->st_mode));
    else if (errnum == SL__ENOTREG)
        snprintf(buf, size, "it is not a regular file");
    else
        snprintf(buf, size, "%s", strerror(errnum));
    return buf;
}

int sl__same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* A writer's lock is a write lock on one byte far past any real file's end,
 * at WRITER_LOCK_BASE + the writer's pid: F_OFD_GETLK reports an open file
 * description lock's pid as -1, but it does report where the lock is. An
 * OFD lock belongs to the descriptor, so HDF5 opening and closing the same
 * file (which drops a process's classic POSIX locks) leaves it in place. */
#define WRITER_LOCK_BASE ((off_t)1 << 40)

int sl__writer_lock(int fd)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = WRITER_LOCK_BASE + getpid(), .l_len = 1};
    return fcntl(fd, F_OFD_SETLK, &fl);
}

int sl__writer_of(const char *path, long *pid)
{
    *pid = 0;
    int fd = sl__open_own(path, O_RDONLY, NULL);
    if (fd < 0)
        return 0; /* missing, a link or not a regular file: no sluice writer holds it */
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    int held = fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
    if (held && fl.l_pid > 0)
        *pid = (long)fl.l_pid; /* a classic POSIX lock names its process */
    else if (held && fl.l_start > WRITER_LOCK_BASE)
        *pid = (long)(fl.l_start - WRITER_LOCK_BASE);
    close(fd);
    return held;
}

int sl__unlink_own(const char *path, int fd)
{
    struct stat mine, there;
    if (fd < 0 || fstat(fd, &mine) != 0 || lstat(path, &there) != 0 || !sl__same_file(&mine, &there))
        return -1; /* not the file we made (another process replaced it): leave it */
    return unlink(path);
}

/* Puts file `from` at `to` unless something is there (EEXIST): atomic, so
 * a file appears at `to` already locked. renameat2 where the file system
 * has it, else link + unlink. */
static int place_new(const char *from, const char *to)
{
#ifdef RENAME_NOREPLACE
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
#endif
    if (link(from, to) != 0)
        return -1;
    unlink(from);
    return 0;
}

/* Removes the files `path.<pid>` that no live writer holds: a process killed
 * between making its private file and putting it in place left it. */
static void remove_stale_private(const char *path)
{
    char *dir = sl__dir_name(path);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    size_t blen = strlen(base);
    DIR *d = dir ? opendir(dir) : NULL;
    for (struct dirent *e = d ? readdir(d) : NULL; e; e = readdir(d)) {
        const char *tail = e->d_name + blen;
        if (strncmp(e->d_name, base, blen) != 0 || tail[0] != '.' || !tail[1] ||
            strspn(tail + 1, "0123456789") != strlen(tail + 1))
            continue;
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        char *full = malloc(n);
        long pid;
        if (full) {
            snprintf(full, n, "%s/%s", dir, e->d_name);
            if (!sl__writer_of(full, &pid))
                unlink(full);
            free(full);
        }
    }
    if (d)
        closedir(d);
    free(dir);
}

int sl__create_locked(const char *path, long *holder)
{
    *holder = 0;
    remove_stale_private(path);
    size_t n = strlen(path) + 32;
    char *mine = malloc(n);
    if (!mine) {
        errno = ENOMEM;
        return -1;
    }
    /* made and locked under a name of this process's own, then put in
     * place: no other process ever sees the file unlocked */
    snprintf(mine, n, "%s.%ld", path, (long)getpid());
    int fd = sl__create_new(mine, 0666);
    int e = errno;
    if (fd >= 0 && sl__writer_lock(fd) != 0) {
        e = errno;
        close(fd);
        unlink(mine);
        fd = -1;
    }
    for (int attempt = 0; fd >= 0; attempt++) {
        if (place_new(mine, path) == 0)
            break;
        e = errno;
        if (e == EEXIST && attempt == 0 && !sl__writer_of(path, holder)) {
            /* stale: no live writer holds it (a link or FIFO planted there
             * is removed, never followed) */
            if (unlink(path) == 0 || errno == ENOENT)
                continue;
            e = errno;
        } else if (e == EEXIST) {
            e = EBUSY; /* a live writer: *holder says who, when known */
        }
        close(fd);
        unlink(mine);
        fd = -1;
    }
    free(mine);
    if (fd < 0)
        errno = e;
    return fd;
}

FILE *sl__fopen_read(const char *path, struct stat *st, char *why, size_t size)
{
    int fd = sl__open_read(path, st);
    FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        sl__open_error_text(e, st, why, size);
    }
    return f;
}

void sl__start_writeback(int fd, off_t off, off_t len)
{
    /* asynchronous: queues the range for writing and returns (a hint;
     * durability still comes from fdatasync) */
    (void)sync_file_range(fd, off, len, SYNC_FILE_RANGE_WRITE);
}
