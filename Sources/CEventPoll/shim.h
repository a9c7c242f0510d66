#ifndef CEVENTPOLL_SHIM_H
#define CEVENTPOLL_SHIM_H

// epoll(7) and timerfd(2) for badge-load's socket driver: Swift's Glibc module does not include
// these Linux headers.
#include <sys/epoll.h>
#include <sys/timerfd.h>

#endif
