/* Private: the clock sluice times itself with. */
#ifndef SL_CLOCK_H
#define SL_CLOCK_H

/* Monotonic seconds (for durations). */
double sl__now(void);

#endif
