#ifndef CSCHEDAFFINITY_SHIM_H
#define CSCHEDAFFINITY_SHIM_H

// The CPUs this process may run on (sched_getaffinity(2), as `taskset` sets them): Swift's Glibc
// module leaves out the _GNU_SOURCE part of <sched.h>, and CPU_COUNT is a macro.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sched.h>

/// How many CPUs the calling thread may run on, or 0 if that cannot be told.
static inline int badges_allowed_cpu_count(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return 0;
    return CPU_COUNT(&set);
}

#endif
