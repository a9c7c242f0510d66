// Wake-up hiccups: sleeps SLEEP_US over and over for SECONDS and counts how often the thread woke
// more than 1 ms (and 5 ms) late. An event loop waiting in epoll_wait pays the same delays, so on a
// machine that shows them, an open-loop p99 / p99.9 has them as a floor whatever the server does.
// Prints "late_1ms_per_s=... late_5ms_per_s=... max_ms=...".
//
//   hiccup SECONDS SLEEP_US
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: hiccup SECONDS SLEEP_US\n");
        return 2;
    }
    long long seconds = atoll(argv[1]), sleep_ns = atoll(argv[2]) * 1000;
    struct timespec request = {sleep_ns / 1000000000LL, sleep_ns % 1000000000LL};
    long long end = now_ns() + seconds * 1000000000LL, late1 = 0, late5 = 0, worst = 0;
    while (now_ns() < end) {
        long long before = now_ns();
        nanosleep(&request, NULL);
        long long lag = now_ns() - before - sleep_ns;
        if (lag > worst) worst = lag;
        if (lag > 1000000) late1++;
        if (lag > 5000000) late5++;
    }
    printf("late_1ms_per_s=%.1f late_5ms_per_s=%.1f max_ms=%.2f\n", (double)late1 / seconds,
           (double)late5 / seconds, worst / 1e6);
    return 0;
}
