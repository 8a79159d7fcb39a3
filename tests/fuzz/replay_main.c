/* Replays fuzz inputs without libFuzzer: runs the harness once on every file
 * named on the command line or found (one level deep) in a folder named
 * there, as `fuzzer -runs=0 DIR...` does. Built with any compiler, so every
 * build (normal, ASan/UBSan, TSan, valgrind) replays the corpus and the
 * saved crashes. As with libFuzzer, -timeout=N ends the program when one
 * input takes more than N seconds (SIGALRM's default action: a handler
 * would not run under TSan while libhdf5's uninstrumented code loops);
 * other options starting with '-' are ignored. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fuzz_util.h"

static unsigned timeout_s;

static size_t replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        exit(2);
    }
    size_t cap = 4096, n = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fprintf(stderr, "replay: out of memory\n");
            exit(2);
        }
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        cap *= 2;
        buf = realloc(buf, cap);
    }
    fclose(f);
    /* An exact-size copy, so ASan sees any read past the end as libFuzzer's would. */
    unsigned char *data = malloc(n ? n : 1);
    if (!data)
        exit(2);
    memcpy(data, buf, n);
    free(buf);
    fprintf(stderr, "replay: %s\n", path);
    alarm(timeout_s);
    LLVMFuzzerTestOneInput(data, n);
    alarm(0);
    free(data);
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "replay: cannot open folder %s\n", dir);
        exit(2);
    }
    char **names = NULL;
    size_t n = 0, cap = 0, done = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            names = realloc(names, cap * sizeof *names);
            if (!names)
                exit(2);
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
            done += replay_file(path);
        free(names[i]);
    }
    free(names);
    return done;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], "-timeout=", 9) == 0)
            timeout_s = (unsigned)strtoul(argv[i] + 9, NULL, 10);
    signal(SIGALRM, SIG_DFL);
    LLVMFuzzerInitialize(&argc, &argv);
    size_t done = 0;
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        if (argv[i][0] == '-')
            continue;
        if (stat(argv[i], &sb) != 0) {
            fprintf(stderr, "replay: no such file or folder: %s\n", argv[i]);
            return 2;
        }
        done += S_ISDIR(sb.st_mode) ? replay_dir(argv[i]) : replay_file(argv[i]);
    }
    printf("replayed %zu inputs\n", done);
    return 0;
}
