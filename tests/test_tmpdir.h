/* Test helper: removes a folder the test made (mkdtemp) and everything in it. */
#ifndef SL_TEST_TMPDIR_H
#define SL_TEST_TMPDIR_H

#include <ftw.h>
#include <stdio.h>

static int sl_test_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* 0 when the folder and its contents are gone. */
static inline int sl_test_rmtree(const char *dir)
{
    return nftw(dir, sl_test_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
