/* CSV text from a plain or a gzip file (src/io/csv_source.h). zlib's gzread
 * reads concatenated gzip members as one stream, and gzseek forward
 * decompresses and drops; backward it starts again from the beginning. The
 * gzip path is single-threaded by nature: load.csv reads its chunks one at
 * a time, in order, so each is decompressed once. */
#include "io/csv_source.h"
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "core/error_int.h"

sl_status sl__csv_source_open(sl__csv_source *src, int fd, const char *file, sl_error *err)
{
    src->fd = fd;
    src->gz = NULL;
    src->file = file;
    unsigned char magic[2];
    if (pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
        int d = dup(fd);
        gzFile g = d >= 0 ? gzdopen(d, "rb") : NULL;
        if (!g) {
            if (d >= 0)
                close(d);
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        }
        gzbuffer(g, 1 << 20);
        src->gz = g;
    }
    return SL_OK;
}

int64_t sl__csv_source_size(const sl__csv_source *src)
{
    struct stat sb;
    return !src->gz && fstat(src->fd, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

int sl__csv_source_serial(const sl__csv_source *src)
{
    return src->gz != NULL;
}

static sl_status gz_failed(sl__csv_source *src, int64_t off, sl_error *err)
{
    int code = 0;
    const char *why = gzerror((gzFile)src->gz, &code);
    return sl__error_set(err, SL_ERR_IO, "cannot decompress '%s' at byte %lld of its text: %s; check the file with "
                         "gzip -t",
                         src->file, (long long)off, code == Z_ERRNO ? strerror(errno) : why);
}

sl_status sl__csv_source_read(sl__csv_source *src, char *buf, size_t n, int64_t off, size_t *got, sl_error *err)
{
    *got = 0;
    if (!src->gz) {
        for (;;) {
            ssize_t k = pread(src->fd, buf, n, (off_t)off);
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0)
                return sl__error_set(err, SL_ERR_IO, "cannot read '%s' at byte %lld: %s", src->file, (long long)off,
                                     strerror(errno));
            *got = (size_t)k;
            return SL_OK;
        }
    }
    gzFile g = src->gz;
    if (gztell(g) != off && gzseek(g, off, SEEK_SET) != off)
        return gz_failed(src, off, err);
    while (*got < n) {
        unsigned want = n - *got > (1u << 30) ? 1u << 30 : (unsigned)(n - *got);
        int k = gzread(g, buf + *got, want);
        if (k < 0)
            return gz_failed(src, off + (int64_t)*got, err);
        if (k == 0)
            break;
        *got += (size_t)k;
    }
    return SL_OK;
}

sl_status sl__csv_source_read_all(sl__csv_source *src, char *buf, size_t n, int64_t off, sl_error *err)
{
    size_t done = 0;
    while (done < n) {
        size_t got;
        sl_status s = sl__csv_source_read(src, buf + done, n - done, off + (int64_t)done, &got, err);
        if (s)
            return s;
        if (got == 0)
            return sl__error_set(err, SL_ERR_IO,
                                 "'%s' ended at byte %lld, before the %lld bytes sluice indexed; did the file "
                                 "change while sluice read it? Run again",
                                 src->file, (long long)(off + (int64_t)done), (long long)(off + (int64_t)n));
        done += got;
    }
    return SL_OK;
}

void sl__csv_source_close(sl__csv_source *src)
{
    if (src->gz)
        gzclose((gzFile)src->gz);
    src->gz = NULL;
    if (src->fd >= 0)
        close(src->fd);
    src->fd = -1;
}
