/* faultshim: an LD_PRELOAD library that makes the N-th call of one libc or
 * HDF5 function fail, for tests/faults/test_faults.py.
 *
 * Interposed: write, pwrite/pwrite64, open/open64/openat/openat64 (opens for
 * writing: O_CREAT, O_WRONLY or O_RDWR, and every open made by libsluice
 * itself, which opens read-only only to fsync or hash), ftruncate/ftruncate64, fsync,
 * fdatasync, rename, fopen/fopen64 (write modes only) and fclose (of those
 * streams), malloc/calloc/realloc, and H5Dwrite, H5Fcreate, H5Fflush,
 * H5Fclose (the calls libsluice makes into libhdf5 through its PLT).
 *
 * Environment:
 *   FAULT_FN=name       the function to fail (the names above; pwrite64 counts
 *                       as pwrite, open64/openat/openat64 as open, ftruncate64
 *                       as ftruncate, fopen64 as fopen)
 *   FAULT_N=k           fail its k-th counted call (1-based)
 *   FAULT_REPEAT=1      fail every counted call from the k-th on (a disk that
 *                       stays full, memory that stays short)
 *   FAULT_ERRNO=name    errno of the failure: ENOSPC, EIO, ENOMEM, EDQUOT,
 *                       EROFS, EACCES, EFBIG, EXDEV, EPERM, or a number
 *                       (default: ENOMEM for the malloc family, EIO otherwise)
 *   FAULT_KILL=1        instead of failing, kill the process with SIGKILL at
 *                       that call (a crash at an exact point)
 *   FAULT_FROM=substr   count only calls made from an object whose path
 *                       contains substr (default: every caller)
 *   FAULT_MALLOC_FROM=substr  the same for malloc/calloc/realloc only; default
 *                       "libsluice" (so HDF5's, libc's and OpenMP's own
 *                       allocations are neither counted nor failed); "*": all
 *   FAULT_LOG=file      append one line per counted call:
 *                       seq <TAB> fn <TAB> n <TAB> caller <TAB> detail [<TAB> FAIL]
 *                       (detail: the path, or the fd and the path it names,
 *                       or the HDF5 file name, or the allocation size)
 *
 * Without FAULT_FN nothing fails: the shim only counts (and logs). Counting
 * is the same whether or not FAULT_LOG is set, so a logged unarmed run gives
 * the call numbers an armed run will see.
 *
 * HDF5 functions that fail push an "injected fault" message on the HDF5
 * error stack (what sluice quotes) and set errno. H5Fclose runs the real
 * close first (nothing leaks) and then reports failure; the others fail
 * without doing anything. fclose closes the stream and then reports failure
 * (a buffered write that could not be flushed).
 *
 * malloc and friends are looked up with dlsym(RTLD_NEXT), which may itself
 * allocate: those allocations come from a static bootstrap buffer, and free
 * and realloc recognize its pointers. */
#define _GNU_SOURCE
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* HDF5 1.10+ types, declared here so that the shim does not link HDF5 */
typedef int64_t hid_t;
typedef int herr_t;
typedef int H5F_scope_t;

enum {
    F_WRITE, F_PWRITE, F_OPEN, F_FTRUNCATE, F_FSYNC, F_FDATASYNC, F_RENAME, F_FOPEN, F_FCLOSE,
    F_MALLOC, F_CALLOC, F_REALLOC, F_H5DWRITE, F_H5FCREATE, F_H5FFLUSH, F_H5FCLOSE, F_COUNT
};
static const char *const fn_names[F_COUNT] = {
    "write", "pwrite", "open", "ftruncate", "fsync", "fdatasync", "rename", "fopen", "fclose",
    "malloc", "calloc", "realloc", "H5Dwrite", "H5Fcreate", "H5Fflush", "H5Fclose",
};

#define TLS _Thread_local __attribute__((tls_model("initial-exec")))

/* ---- configuration, read once (getenv does not allocate) ---- */

static atomic_int cfg_state; /* 0 not read, 1 reading, 2 read */
static int armed_fn = -1;
static long fault_n;
static int fault_repeat, fault_kill, fault_errno_io = EIO, fault_errno_mem = ENOMEM, errno_given;
static const char *from_all, *from_malloc;
static const char *log_path;
static int log_fd = -1;
static atomic_long counts[F_COUNT];
static atomic_long seq;
static TLS int in_hook;

static int parse_errno(const char *s)
{
    static const struct { const char *name; int value; } names[] = {
        {"ENOSPC", ENOSPC}, {"EIO", EIO}, {"ENOMEM", ENOMEM}, {"EDQUOT", EDQUOT}, {"EROFS", EROFS},
        {"EACCES", EACCES}, {"EFBIG", EFBIG}, {"EXDEV", EXDEV}, {"EPERM", EPERM}, {"EINTR", EINTR},
        {"EBADF", EBADF}, {"EMFILE", EMFILE}, {"ENFILE", ENFILE}, {"EEXIST", EEXIST},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0)
            return names[i].value;
    int v = atoi(s);
    return v > 0 ? v : EIO;
}

static void read_cfg(void)
{
    int expect = 0;
    if (!atomic_compare_exchange_strong(&cfg_state, &expect, 1))
        return; /* read (or being read: the early, single-threaded case) */
    const char *fn = getenv("FAULT_FN");
    for (int i = 0; fn && i < F_COUNT; i++)
        if (strcmp(fn, fn_names[i]) == 0)
            armed_fn = i;
    if (fn && (strcmp(fn, "pwrite64") == 0))
        armed_fn = F_PWRITE;
    if (fn && (strcmp(fn, "open64") == 0 || strcmp(fn, "openat") == 0 || strcmp(fn, "openat64") == 0))
        armed_fn = F_OPEN;
    if (fn && strcmp(fn, "ftruncate64") == 0)
        armed_fn = F_FTRUNCATE;
    if (fn && strcmp(fn, "fopen64") == 0)
        armed_fn = F_FOPEN;
    const char *n = getenv("FAULT_N");
    fault_n = n ? atol(n) : 0;
    if (fault_n < 1)
        armed_fn = -1;
    const char *r = getenv("FAULT_REPEAT");
    fault_repeat = r && *r && strcmp(r, "0") != 0;
    const char *k = getenv("FAULT_KILL");
    fault_kill = k && *k && strcmp(k, "0") != 0;
    const char *e = getenv("FAULT_ERRNO");
    if (e && *e) {
        fault_errno_io = fault_errno_mem = parse_errno(e);
        errno_given = 1;
    }
    from_all = getenv("FAULT_FROM");
    if (from_all && !*from_all)
        from_all = NULL;
    from_malloc = getenv("FAULT_MALLOC_FROM");
    if (!from_malloc || !*from_malloc)
        from_malloc = "libsluice";
    if (strcmp(from_malloc, "*") == 0)
        from_malloc = NULL;
    log_path = getenv("FAULT_LOG");
    if (log_path && !*log_path)
        log_path = NULL;
    atomic_store(&cfg_state, 2);
}

/* ---- the real functions ---- */

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off64_t);
static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static int (*real_ftruncate)(int, off_t);
static int (*real_ftruncate64)(int, off64_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_rename)(const char *, const char *);
static FILE *(*real_fopen)(const char *, const char *);
static FILE *(*real_fopen64)(const char *, const char *);
static int (*real_fclose)(FILE *);
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static herr_t (*real_H5Dwrite)(hid_t, hid_t, hid_t, hid_t, hid_t, const void *);
static hid_t (*real_H5Fcreate)(const char *, unsigned, hid_t, hid_t);
static herr_t (*real_H5Fflush)(hid_t, H5F_scope_t);
static herr_t (*real_H5Fclose)(hid_t);

#define RESOLVE(name)                                                                                            \
    do {                                                                                                         \
        if (!real_##name)                                                                                        \
            *(void **)&real_##name = dlsym(RTLD_NEXT, #name);                                                    \
    } while (0)

/* ---- bootstrap allocations (while dlsym resolves malloc) ---- */

static _Alignas(16) char boot_buf[1 << 16];
static atomic_size_t boot_used;
static atomic_int alloc_resolving;

static int is_boot(const void *p)
{
    return (const char *)p >= boot_buf && (const char *)p < boot_buf + sizeof boot_buf;
}

static void *boot_alloc(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    size_t at = atomic_fetch_add(&boot_used, n);
    if (at + n > sizeof boot_buf)
        return NULL;
    return boot_buf + at;
}

static void resolve_alloc(void)
{
    if (real_malloc && real_calloc && real_realloc && real_free)
        return;
    atomic_store(&alloc_resolving, 1);
    RESOLVE(malloc);
    RESOLVE(calloc);
    RESOLVE(realloc);
    RESOLVE(free);
    atomic_store(&alloc_resolving, 0);
}

/* ---- which object called ---- */

typedef struct range { uintptr_t lo, hi; } range;
typedef struct from_set {
    const char *substr;
    range r[16];
    int n;
    int found;
} from_set;
static from_set set_all, set_malloc;

static int collect(struct dl_phdr_info *info, size_t size, void *user)
{
    (void)size;
    from_set *s = user;
    if (!info->dlpi_name || !strstr(info->dlpi_name, s->substr))
        return 0;
    for (int i = 0; i < info->dlpi_phnum && s->n < 16; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            s->r[s->n].lo = info->dlpi_addr + ph->p_vaddr;
            s->r[s->n].hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
            s->n++;
        }
    }
    return 0;
}

static int caller_in(from_set *s, const char *substr, const void *caller)
{
    if (!substr)
        return 1;
    if (!s->found) {
        /* objects are all loaded before main (sluice dlopens nothing) */
        s->substr = substr;
        s->n = 0;
        dl_iterate_phdr(collect, s);
        if (s->n == 0)
            return 0;
        s->found = 1;
    }
    uintptr_t a = (uintptr_t)caller;
    for (int i = 0; i < s->n; i++)
        if (a >= s->r[i].lo && a < s->r[i].hi)
            return 1;
    return 0;
}

/* ---- the log ---- */

static void fd_path(int fd, char *buf, size_t n)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t r = readlink(link, buf, n - 1);
    buf[r > 0 ? r : 0] = '\0';
}

static void log_line(int fn, long n, const void *caller, const char *detail, int fail)
{
    if (!log_path)
        return;
    RESOLVE(write);
    RESOLVE(open);
    if (log_fd < 0) {
        int fd = real_open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return;
        log_fd = fd;
    }
    Dl_info di;
    const char *obj = "?";
    if (dladdr(caller, &di) && di.dli_fname) {
        const char *slash = strrchr(di.dli_fname, '/');
        obj = slash ? slash + 1 : di.dli_fname;
    }
    char line[1536];
    int len = snprintf(line, sizeof line, "%ld\t%s\t%ld\t%s\t%s%s\n", (long)atomic_fetch_add(&seq, 1) + 1,
                       fn_names[fn], n, obj, detail, fail ? "\tFAIL" : "");
    if (len > (int)sizeof line - 1)
        len = (int)sizeof line - 1;
    if (len > 0 && real_write(log_fd, line, (size_t)len) < 0) {
        /* nothing to do: the log is for the test only */
    }
}

/* Counts the call when it is tracked; 1 when it must fail. detail is built
 * only when logging. */
typedef void (*detail_fn)(char *buf, size_t n, const void *a, long b);

static int hook(int fn, const void *caller, detail_fn describe, const void *a, long b)
{
    if (in_hook)
        return 0;
    if (atomic_load(&cfg_state) != 2) {
        read_cfg();
        if (atomic_load(&cfg_state) != 2)
            return 0;
    }
    int is_alloc = fn == F_MALLOC || fn == F_CALLOC || fn == F_REALLOC;
    in_hook = 1;
    int tracked = caller_in(&set_all, from_all, caller) &&
                  (!is_alloc || caller_in(&set_malloc, from_malloc, caller));
    int fail = 0;
    if (tracked) {
        long n = atomic_fetch_add(&counts[fn], 1) + 1;
        fail = fn == armed_fn && (n == fault_n || (fault_repeat && n > fault_n));
        if (log_path) {
            char detail[1200] = "";
            if (describe)
                describe(detail, sizeof detail, a, b);
            log_line(fn, n, caller, detail, fail);
        }
        if (fail && fault_kill)
            raise(SIGKILL);
    }
    in_hook = 0;
    return fail;
}

static int fail_errno(int fn)
{
    int is_alloc = fn == F_MALLOC || fn == F_CALLOC || fn == F_REALLOC;
    return is_alloc ? fault_errno_mem : (errno_given ? fault_errno_io : EIO);
}

/* ---- details ---- */

static void d_fd(char *buf, size_t n, const void *a, long b)
{
    (void)a;
    char p[1024];
    fd_path((int)b, p, sizeof p);
    snprintf(buf, n, "fd=%ld %s", b, p);
}

static void d_path(char *buf, size_t n, const void *a, long b)
{
    (void)b;
    snprintf(buf, n, "%s", (const char *)a);
}

static void d_open(char *buf, size_t n, const void *a, long flags)
{
    int acc = (int)flags & O_ACCMODE;
    snprintf(buf, n, "%s (%s%s%s%s%s)", (const char *)a,
             acc == O_WRONLY ? "O_WRONLY" : acc == O_RDWR ? "O_RDWR" : "O_RDONLY", flags & O_CREAT ? "|O_CREAT" : "",
             flags & O_TRUNC ? "|O_TRUNC" : "", flags & O_APPEND ? "|O_APPEND" : "",
             (flags & O_DIRECTORY) == O_DIRECTORY ? "|O_DIRECTORY" : "");
}

static void d_rename(char *buf, size_t n, const void *a, long b)
{
    const char *const *pp = a;
    (void)b;
    snprintf(buf, n, "%s -> %s", pp[0], pp[1]);
}

static void d_size(char *buf, size_t n, const void *a, long b)
{
    (void)a;
    snprintf(buf, n, "size=%ld", b);
}

static void d_stream(char *buf, size_t n, const void *a, long b)
{
    (void)b;
    d_fd(buf, n, NULL, (long)fileno((FILE *)a));
}

static ssize_t (*get_name(void))(hid_t, char *, size_t)
{
    static ssize_t (*f)(hid_t, char *, size_t);
    if (!f)
        *(void **)&f = dlsym(RTLD_DEFAULT, "H5Fget_name");
    return f;
}

static void d_h5obj(char *buf, size_t n, const void *a, long b)
{
    (void)a;
    char name[1024] = "";
    ssize_t (*f)(hid_t, char *, size_t) = get_name();
    if (!f || f((hid_t)b, name, sizeof name) < 0)
        name[0] = '\0';
    snprintf(buf, n, "%s", name);
}

/* ---- HDF5 errors ---- */

static void h5_push(const char *func, int maj_fn, const char *minor, int e)
{
    herr_t (*clear)(hid_t);
    herr_t (*push)(hid_t, const char *, const char *, unsigned, hid_t, hid_t, hid_t, const char *, ...);
    *(void **)&clear = dlsym(RTLD_DEFAULT, "H5Eclear2");
    *(void **)&push = dlsym(RTLD_DEFAULT, "H5Epush2");
    hid_t *cls = dlsym(RTLD_DEFAULT, "H5E_ERR_CLS_g");
    hid_t *maj = dlsym(RTLD_DEFAULT, maj_fn == F_H5DWRITE ? "H5E_DATASET_g" : "H5E_FILE_g");
    hid_t *min = dlsym(RTLD_DEFAULT, minor);
    if (!clear || !push || !cls || !maj || !min)
        return;
    clear(0);
    push(0, "faultshim.c", func, __LINE__, *cls, *maj, *min, "injected %s fault: %s", func, strerror(e));
}

/* ---- the interposed functions ---- */

#define CALLER __builtin_return_address(0)

ssize_t write(int fd, const void *buf, size_t count)
{
    RESOLVE(write);
    if (hook(F_WRITE, CALLER, d_fd, NULL, fd)) {
        errno = fail_errno(F_WRITE);
        return -1;
    }
    return real_write(fd, buf, count);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t off)
{
    RESOLVE(pwrite);
    if (hook(F_PWRITE, CALLER, d_fd, NULL, fd)) {
        errno = fail_errno(F_PWRITE);
        return -1;
    }
    return real_pwrite(fd, buf, count, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off64_t off)
{
    RESOLVE(pwrite64);
    if (hook(F_PWRITE, CALLER, d_fd, NULL, fd)) {
        errno = fail_errno(F_PWRITE);
        return -1;
    }
    return real_pwrite64(fd, buf, count, off);
}

static from_set set_sluice;

/* opens for writing, and every open libsluice makes itself (read-only ones
 * are to fsync a file or folder, or to hash a file) */
static int counted_open(int flags, const void *caller)
{
    return (flags & O_CREAT) || (flags & O_ACCMODE) == O_WRONLY || (flags & O_ACCMODE) == O_RDWR ||
           caller_in(&set_sluice, "libsluice", caller);
}

static mode_t mode_arg(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    RESOLVE(open);
    if (counted_open(flags, CALLER) && hook(F_OPEN, CALLER, d_open, path, flags)) {
        errno = fail_errno(F_OPEN);
        return -1;
    }
    return real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    RESOLVE(open64);
    if (counted_open(flags, CALLER) && hook(F_OPEN, CALLER, d_open, path, flags)) {
        errno = fail_errno(F_OPEN);
        return -1;
    }
    return real_open64(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    RESOLVE(openat);
    if (counted_open(flags, CALLER) && hook(F_OPEN, CALLER, d_open, path, flags)) {
        errno = fail_errno(F_OPEN);
        return -1;
    }
    return real_openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    RESOLVE(openat64);
    if (counted_open(flags, CALLER) && hook(F_OPEN, CALLER, d_open, path, flags)) {
        errno = fail_errno(F_OPEN);
        return -1;
    }
    return real_openat64(dirfd, path, flags, mode);
}

int ftruncate(int fd, off_t len)
{
    RESOLVE(ftruncate);
    if (hook(F_FTRUNCATE, CALLER, d_fd, NULL, fd)) {
        errno = fail_errno(F_FTRUNCATE);
        return -1;
    }
    return real_ftruncate(fd, len);
}

int ftruncate64(int fd, off64_t len)
{
    RESOLVE(ftruncate64);
    if (hook(F_FTRUNCATE, CALLER, d_fd, NULL, fd)) {
        errno = fail_errno(F_FTRUNCATE);
        return -1;
    }
    return real_ftruncate64(fd, len);
}

int fsync(int fd)
{
    RESOLVE(fsync);
    if (hook(F_FSYNC, CALLER, d_fd, NULL, fd)) {
        errno = fail_errno(F_FSYNC);
        return -1;
    }
    return real_fsync(fd);
}

int fdatasync(int fd)
{
    RESOLVE(fdatasync);
    if (hook(F_FDATASYNC, CALLER, d_fd, NULL, fd)) {
        errno = fail_errno(F_FDATASYNC);
        return -1;
    }
    return real_fdatasync(fd);
}

int rename(const char *from, const char *to)
{
    RESOLVE(rename);
    const char *pp[2] = {from, to};
    if (hook(F_RENAME, CALLER, d_rename, pp, 0)) {
        errno = fail_errno(F_RENAME);
        return -1;
    }
    return real_rename(from, to);
}

/* streams opened for writing through fopen, so that fclose counts only those */
static _Atomic(FILE *) wstreams[256];

static void remember(FILE *f)
{
    for (int i = 0; f && i < 256; i++) {
        FILE *none = NULL;
        if (atomic_compare_exchange_strong(&wstreams[i], &none, f))
            return;
    }
}

static int forget(FILE *f)
{
    for (int i = 0; f && i < 256; i++) {
        FILE *want = f;
        if (atomic_compare_exchange_strong(&wstreams[i], &want, NULL))
            return 1;
    }
    return 0;
}

static int write_mode(const char *mode)
{
    return mode && (strchr(mode, 'w') || strchr(mode, 'a') || strchr(mode, '+'));
}

FILE *fopen(const char *path, const char *mode)
{
    RESOLVE(fopen);
    if (!write_mode(mode))
        return real_fopen(path, mode);
    if (hook(F_FOPEN, CALLER, d_path, path, 0)) {
        errno = fail_errno(F_FOPEN);
        return NULL;
    }
    FILE *f = real_fopen(path, mode);
    remember(f);
    return f;
}

FILE *fopen64(const char *path, const char *mode)
{
    RESOLVE(fopen64);
    if (!write_mode(mode))
        return real_fopen64(path, mode);
    if (hook(F_FOPEN, CALLER, d_path, path, 0)) {
        errno = fail_errno(F_FOPEN);
        return NULL;
    }
    FILE *f = real_fopen64(path, mode);
    remember(f);
    return f;
}

int fclose(FILE *f)
{
    RESOLVE(fclose);
    if (!forget(f))
        return real_fclose(f);
    int fail = hook(F_FCLOSE, CALLER, d_stream, f, 0);
    int rc = real_fclose(f);
    if (fail) {
        errno = fail_errno(F_FCLOSE);
        return EOF;
    }
    return rc;
}

void *malloc(size_t n)
{
    if (!real_malloc) {
        if (atomic_load(&alloc_resolving))
            return boot_alloc(n);
        resolve_alloc();
    }
    if (hook(F_MALLOC, CALLER, d_size, NULL, (long)n)) {
        errno = fail_errno(F_MALLOC);
        return NULL;
    }
    return real_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    if (!real_calloc) {
        if (atomic_load(&alloc_resolving)) {
            if (size && n > SIZE_MAX / size)
                return NULL;
            return boot_alloc(n * size); /* static: already zero */
        }
        resolve_alloc();
    }
    if (hook(F_CALLOC, CALLER, d_size, NULL, (long)(n * size))) {
        errno = fail_errno(F_CALLOC);
        return NULL;
    }
    return real_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    if (is_boot(p)) {
        void *q = malloc(n);
        if (q) {
            size_t avail = (size_t)(boot_buf + sizeof boot_buf - (char *)p);
            memcpy(q, p, n < avail ? n : avail);
        }
        return q;
    }
    if (!real_realloc) {
        if (atomic_load(&alloc_resolving))
            return boot_alloc(n);
        resolve_alloc();
    }
    if (hook(F_REALLOC, CALLER, d_size, NULL, (long)n)) {
        errno = fail_errno(F_REALLOC);
        return NULL;
    }
    return real_realloc(p, n);
}

void free(void *p)
{
    if (!p || is_boot(p))
        return;
    if (!real_free)
        resolve_alloc();
    real_free(p);
}

herr_t H5Dwrite(hid_t dset, hid_t mem_type, hid_t mem_space, hid_t file_space, hid_t plist, const void *buf)
{
    RESOLVE(H5Dwrite);
    if (hook(F_H5DWRITE, CALLER, d_h5obj, NULL, (long)dset)) {
        int e = fail_errno(F_H5DWRITE);
        h5_push("H5Dwrite", F_H5DWRITE, "H5E_WRITEERROR_g", e);
        errno = e;
        return -1;
    }
    return real_H5Dwrite(dset, mem_type, mem_space, file_space, plist, buf);
}

hid_t H5Fcreate(const char *name, unsigned flags, hid_t fcpl, hid_t fapl)
{
    RESOLVE(H5Fcreate);
    if (hook(F_H5FCREATE, CALLER, d_path, name, 0)) {
        int e = fail_errno(F_H5FCREATE);
        h5_push("H5Fcreate", F_H5FCREATE, "H5E_CANTCREATE_g", e);
        errno = e;
        return -1;
    }
    return real_H5Fcreate(name, flags, fcpl, fapl);
}

herr_t H5Fflush(hid_t obj, H5F_scope_t scope)
{
    RESOLVE(H5Fflush);
    if (hook(F_H5FFLUSH, CALLER, d_h5obj, NULL, (long)obj)) {
        int e = fail_errno(F_H5FFLUSH);
        h5_push("H5Fflush", F_H5FFLUSH, "H5E_CANTFLUSH_g", e);
        errno = e;
        return -1;
    }
    return real_H5Fflush(obj, scope);
}

herr_t H5Fclose(hid_t file)
{
    RESOLVE(H5Fclose);
    int fail = hook(F_H5FCLOSE, CALLER, d_h5obj, NULL, (long)file);
    herr_t rc = real_H5Fclose(file);
    if (fail) {
        int e = fail_errno(F_H5FCLOSE);
        h5_push("H5Fclose", F_H5FCLOSE, "H5E_CANTCLOSEFILE_g", e);
        errno = e;
        return -1;
    }
    return rc;
}
