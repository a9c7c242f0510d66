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

#endif
