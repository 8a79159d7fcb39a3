/* The command line under mpirun (sluice-mpi): which rank prints, and the
 * ranks' agreement on failures they find before the library's own
 * agreements start (loading the pipeline file). Without MPI: one rank. */
#include <stdio.h>
#include "cli/cli.h"

#ifdef SL_HAVE_MPI
#include <mpi.h>

static int ranks_active(void)
{
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    if (init)
        MPI_Finalized(&fin);
    return init && !fin;
}

int cli_rank(void)
{
    int r = 0;
    if (ranks_active())
        MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int cli_settle(int rc, const sl_error *err)
{
    if (!ranks_active())
        return rc == EXIT_OK || !err ? rc : cli_fail(err);
    int me = cli_rank(), n = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    int mine = rc != EXIT_OK ? me : n, first = n;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first == n)
        return EXIT_OK;
    if (me == first && err) {
        char buf[2048];
        fprintf(stderr, "sluice: %s\n", sl_error_format(err, buf, sizeof buf));
    }
    MPI_Bcast(&rc, 1, MPI_INT, first, MPI_COMM_WORLD);
    return rc;
}
#else
int cli_rank(void)
{
    return 0;
}

int cli_settle(int rc, const sl_error *err)
{
    return rc == EXIT_OK || !err ? rc : cli_fail(err);
}
#endif
