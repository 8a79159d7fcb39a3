#include <pthread.h>
#include "io/h5util.h"

static pthread_mutex_t h5_mutex = PTHREAD_MUTEX_INITIALIZER;

void sl__h5_lock(void)
{
    pthread_mutex_lock(&h5_mutex);
    /* the library never prints: errors are read off the stack and reported
     * through sl_error. Set on every lock because a thread-safe HDF5 keeps
     * this setting per thread. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void sl__h5_unlock(void)
{
    pthread_mutex_unlock(&h5_mutex);
}
