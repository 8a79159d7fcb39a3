/* Private: what compression: auto measures once per run (checkpoint.h). */
#ifndef SL_COMP_PROBE_H
#define SL_COMP_PROBE_H

/* compression: auto. What a run measures once: the bandwidth of a write and
 * fsync in its workdir, and deflate's CPU time per byte on the data it
 * compresses fastest (zeros): no array can compress faster, so when writing
 * a byte takes less time than that, compressing cannot pay for any stage. */
typedef struct sl__comp_probe {
    double write_bw;     /* bytes per second; 0: not known (compression never chosen) */
    double floor_ns;     /* deflate's CPU ns per byte of zeros (shuffle included) */
    int bw_from_env;     /* write_bw is SLUICE_WRITE_BANDWIDTH's */
} sl__comp_probe;
#endif
