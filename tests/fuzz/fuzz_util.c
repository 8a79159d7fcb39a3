#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fuzz_util.h"

void fz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

static void remove_tree(const char *path, int keep_top)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d))) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                    continue;
                char child[4096];
                if (snprintf(child, sizeof child, "%s/%s", path, e->d_name) < (int)sizeof child)
                    remove_tree(child, 0);
            }
            closedir(d);
        }
        if (!keep_top)
            rmdir(path);
    } else if (!keep_top) {
        unlink(path);
    }
}

void fz_empty_dir(const char *dir)
{
    remove_tree(dir, 1);
}

#define MAX_TMPDIRS 4
static char tmpdirs[MAX_TMPDIRS][512];
static int n_tmpdirs;

static void remove_tmpdirs(void)
{
    for (int i = 0; i < n_tmpdirs; i++)
        remove_tree(tmpdirs[i], 0);
}

void fz_make_tmpdir(const char *tag, char *out, size_t size)
{
    const char *base = getenv("SLUICE_FUZZ_TMPDIR");
    struct stat sb;
    if (!base || !*base)
        base = stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : NULL;
    if (!base)
        base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    if (n_tmpdirs == MAX_TMPDIRS || size > sizeof tmpdirs[0])
        fz_fail("fz_make_tmpdir: too many folders or size too large");
    if (snprintf(out, size, "%s/sluice-fuzz-%s-XXXXXX", base, tag) >= (int)size)
        fz_fail("fz_make_tmpdir: path too long");
    if (!mkdtemp(out))
        fz_fail("cannot make a scratch folder %s: %s", out, strerror(errno));
    snprintf(tmpdirs[n_tmpdirs++], sizeof tmpdirs[0], "%s", out);
    if (n_tmpdirs == 1)
        atexit(remove_tmpdirs);
}

void fz_write_file(const char *path, const void *data, size_t size)
{
    /* a new inode each time: HDF5 knows an open file by its inode, and one
     * it could not close (KNOWN_HDF5_ISSUES.md) must not stand for the next */
    if (unlink(path) != 0 && errno != ENOENT)
        fz_fail("cannot remove %s: %s", path, strerror(errno));
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        fz_fail("cannot write %s: %s", path, strerror(errno));
}

void fz_check_error(sl_status s, const sl_error *err, const char *what)
{
    if (s == SL_OK)
        return;
    if (err->code != s)
        fz_fail("%s returned %d (%s) but err->code is %d", what, (int)s, sl_status_name(s), (int)err->code);
    if (memchr(err->message, '\0', sizeof err->message) == NULL || memchr(err->file, '\0', sizeof err->file) == NULL ||
        memchr(err->stage, '\0', sizeof err->stage) == NULL)
        fz_fail("%s: an sl_error field is not NUL-terminated", what);
    if (!err->message[0])
        fz_fail("%s failed with %s and no message", what, sl_status_name(s));
    if (err->line < 0 || err->col < 0 || (err->line == 0 && err->col != 0))
        fz_fail("%s: bad error position %d:%d (%s)", what, err->line, err->col, err->message);
    char buf[2048];
    sl_error_format(err, buf, sizeof buf);
    if (s == SL_ERR_INTERNAL)
        fz_fail("%s: internal error (a bug in sluice): %s", what, buf);
}
