/* Helpers shared by the fuzz harnesses and the standalone replay driver:
 * scratch folders (on tmpfs when there is one) and the oracles that turn a
 * silent misbehaviour into a crash the fuzzer can report. */
#ifndef SL_FUZZ_UTIL_H
#define SL_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include "sluice/error.h"

/* The libFuzzer entry points; the replay driver (replay_main.c) calls them
 * when the harness is built without libFuzzer. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Makes a fresh folder "sluice-fuzz-<tag>-XXXXXX" under $SLUICE_FUZZ_TMPDIR,
 * /dev/shm or $TMPDIR (in that order) into out[size]; it is removed at exit.
 * Aborts when it cannot. */
void fz_make_tmpdir(const char *tag, char *out, size_t size);
/* Removes everything inside `dir` (not dir itself). */
void fz_empty_dir(const char *dir);
/* Writes `size` bytes to `path`, replacing it. Aborts on failure. */
void fz_write_file(const char *path, const void *data, size_t size);

/* Checks what every failing library call promises: a failure code, a
 * message, sane positions; SL_ERR_INTERNAL ("a bug in sluice") is a finding
 * too. Aborts with the message when a promise is broken. */
void fz_check_error(sl_status s, const sl_error *err, const char *what);

/* Prints to stderr and aborts (the fuzzer saves the input). */
void fz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
