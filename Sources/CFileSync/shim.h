#ifndef CFILESYNC_SHIM_H
#define CFILESYNC_SHIM_H

// sync_file_range(2) is a GNU extension that Swift's Glibc module does not declare (it is built
// without _GNU_SOURCE), so it is declared here as glibc defines it.
extern int sync_file_range(int fd, long long offset, long long nbytes, unsigned int flags);

enum {
    CFILESYNC_WAIT_BEFORE = 1,
    CFILESYNC_WRITE = 2,
    CFILESYNC_WAIT_AFTER = 4,
};

// O_DIRECT is hidden the same way; glibc's internal name for it (its value differs by
// architecture) is always defined. The base copy is written around the page cache with it.
#if defined(__linux__)
#include <fcntl.h>
enum { CFILESYNC_O_DIRECT = __O_DIRECT };
#else
enum { CFILESYNC_O_DIRECT = 0 };
#endif

// pthread_setname_np(3), another GNU extension, for naming the writer's and the journal's threads
// (pthread_t is an unsigned long in glibc).
extern int pthread_setname_np(unsigned long thread, const char *name);

#endif
