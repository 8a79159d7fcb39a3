/* Running Slurm's commands and naming a run's jobs. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "cli/cli.h"
#include "cli/slurm.h"

extern char **environ;

int slurm_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_verror(code, fmt, ap);
    va_end(ap);
    return code;
}

/* Appends what fd gives to buf (keeping at most cap-1 bytes, reading on so
 * that the child never blocks on a full pipe); 0 at end of file. */
static int drain(int fd, char *buf, size_t cap, size_t *len)
{
    char tmp[4096];
    ssize_t r = read(fd, tmp, sizeof tmp);
    if (r < 0 && errno == EINTR)
        return 1;
    if (r <= 0)
        return 0;
    size_t keep = *len + 1 < cap ? cap - 1 - *len : 0;
    if ((size_t)r < keep)
        keep = (size_t)r;
    memcpy(buf + *len, tmp, keep);
    *len += keep;
    buf[*len] = '\0';
    return 1;
}

/* 1 when `prog` is an executable file in one of PATH's folders: checked
 * before spawning because some posix_spawnp implementations (valgrind's, old
 * glibc's) report a missing program only as the child's exit code 127. */
static int on_path(const char *prog)
{
    if (strchr(prog, '/'))
        return access(prog, X_OK) == 0;
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    char full[4096];
    for (const char *dir = path;; dir += strcspn(dir, ":") + 1) {
        int len = (int)strcspn(dir, ":");
        snprintf(full, sizeof full, "%.*s/%s", len ? len : 1, len ? dir : ".", prog);
        if (access(full, X_OK) == 0)
            return 1;
        if (!dir[len])
            return 0;
    }
}

int slurm_cmd(char *const argv[], char *out, size_t cap, char *errtext, size_t errcap, int *spawn_errno,
              int timeout_s)
{
    out[0] = errtext[0] = '\0';
    *spawn_errno = 0;
    if (!on_path(argv[0]))
        return *spawn_errno = ENOENT, 127;
    int po[2], pe[2];
    if (pipe(po) != 0)
        return *spawn_errno = errno, 127;
    if (pipe(pe) != 0) {
        *spawn_errno = errno;
        close(po[0]);
        close(po[1]);
        return 127;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    posix_spawn_file_actions_addclose(&fa, po[0]);
    posix_spawn_file_actions_addclose(&fa, pe[0]);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(po[1]);
    close(pe[1]);
    if (rc != 0) {
        *spawn_errno = rc;
        close(po[0]);
        close(pe[0]);
        return 127;
    }
    size_t lo = 0, le = 0;
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    int open_fds = 2, timed_out = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (open_fds > 0) {
        int wait_ms = -1;
        if (timeout_s > 0) {
            struct timespec t;
            clock_gettime(CLOCK_MONOTONIC, &t);
            long long left = (long long)timeout_s * 1000 - ((long long)(t.tv_sec - t0.tv_sec) * 1000 +
                                                          (t.tv_nsec - t0.tv_nsec) / 1000000);
            if (left <= 0) {
                /* an unresponsive controller must not hang `status` */
                kill(pid, SIGKILL);
                timed_out = 1;
                break;
            }
            wait_ms = (int)left;
        }
        int r = poll(fds, 2, wait_ms);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (!drain(fds[i].fd, i ? errtext : out, i ? errcap : cap, i ? &le : &lo)) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return 127;
    if (timed_out) {
        snprintf(errtext, errcap, "no answer within %d s", timeout_s);
        *spawn_errno = ETIMEDOUT;
        return 124;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void slurm_job_name(const char *pipeline, const char *abs_workdir, char *out, size_t cap)
{
    /* FNV-1a: two workdirs of one pipeline get different names, and the
     * same workdir the same name in every submission */
    uint32_t h = 2166136261u;
    for (const unsigned char *c = (const unsigned char *)abs_workdir; *c; c++)
        h = (h ^ *c) * 16777619u;
    snprintf(out, cap, "sluice-%s-%08x", pipeline, h);
}

char *slurm_jobs_file(const char *dir, const char *job_name)
{
    size_t n = strlen(dir) + strlen(job_name) + 8;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s.jobs", dir, job_name);
    return s;
}

char *slurm_abs_path(const char *path)
{
    char cwd[4096];
    if (path[0] != '/' && !getcwd(cwd, sizeof cwd))
        return NULL;
    size_t n = strlen(path) + (path[0] == '/' ? 0 : strlen(cwd)) + 3;
    char *joined = malloc(n), *out = malloc(n);
    if (!joined || !out) {
        free(joined);
        free(out);
        return NULL;
    }
    snprintf(joined, n, "%s/%s", path[0] == '/' ? "" : cwd, path);
    /* copy component by component; ".." removes the last one kept */
    size_t o = 0;
    const char *c = joined;
    while (*c) {
        while (*c == '/')
            c++;
        size_t len = strcspn(c, "/");
        if (len == 0)
            break;
        if (len == 1 && c[0] == '.') {
        } else if (len == 2 && c[0] == '.' && c[1] == '.') {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
        } else {
            out[o++] = '/';
            memcpy(out + o, c, len);
            o += len;
        }
        c += len;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
    free(joined);
    return out;
}
