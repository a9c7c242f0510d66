// The transport limit: length-prefixed ping-pong over a Unix socket, the same framing badged uses
// (u32 big-endian length + body), with nothing else in the way.
//
//   pingpong serve SOCKET              echo every frame back; one thread per connection
//   pingpong client SOCKET SECONDS DEPTH [SIZE]
//                                      keep DEPTH frames of SIZE (64) bytes in flight on one
//                                      connection for SECONDS; print one line of key=value
//
// The server, like badged, answers every complete frame of a read burst with one write.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BUF (1 << 20)

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void *serve_one(void *arg) {
    int fd = (int)(intptr_t)arg;
    uint8_t *in = malloc(BUF), *out = malloc(BUF);
    size_t have = 0;
    for (;;) {
        ssize_t r = read(fd, in + have, BUF - have);
        if (r <= 0) break;
        have += (size_t)r;
        size_t at = 0, outn = 0;
        // Echo every complete frame of this burst, then write once (as badged flushes once per burst).
        while (have - at >= 4) {
            uint32_t len = be32(in + at);
            if (len > BUF / 2) goto done;
            if (have - at < 4 + (size_t)len) break;
            if (outn + 4 + len > BUF) {
                if (write_all(fd, out, outn) < 0) goto done;
                outn = 0;
            }
            memcpy(out + outn, in + at, 4 + len);
            outn += 4 + len;
            at += 4 + len;
        }
        if (outn > 0 && write_all(fd, out, outn) < 0) break;
        memmove(in, in + at, have - at);
        have -= at;
    }
done:
    close(fd);
    free(in);
    free(out);
    return NULL;
}

static int serve(const char *path) {
    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
    unlink(path);
    if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 64) < 0) {
        perror("pingpong serve");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR) continue;
            return 1;
        }
        pthread_t t;
        pthread_create(&t, NULL, serve_one, (void *)(intptr_t)fd);
        pthread_detach(t);
    }
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int client(const char *path, double seconds, int depth, int size) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
    for (int tries = 0; connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0; tries++) {
        if (tries > 2000) {  // 2 s for the server to come up
            perror("pingpong connect");
            return 1;
        }
        usleep(1000);
    }
    size_t frame = 4 + (size_t)size;
    uint8_t *msg = calloc(1, frame), *in = malloc(BUF), *out = malloc(frame * (size_t)depth);
    msg[0] = (uint8_t)(size >> 24), msg[1] = (uint8_t)(size >> 16), msg[2] = (uint8_t)(size >> 8),
    msg[3] = (uint8_t)size;
    // Replies come back in order, so a ring of send times per slot is enough.
    uint64_t *sent = calloc((size_t)depth, sizeof(uint64_t));
    size_t cap = 20u << 20, nlat = 0;
    uint64_t *lat = malloc(cap * sizeof(uint64_t));
    size_t head = 0, tail = 0;  // sends issued / replies received
    uint64_t start = now_ns(), stop = start + (uint64_t)(seconds * 1e9);
    for (int i = 0; i < depth; i++) {
        memcpy(out + (size_t)i * frame, msg, frame);
        sent[head++ % (size_t)depth] = start;
    }
    write_all(fd, out, frame * (size_t)depth);
    size_t have = 0;
    uint64_t now = start;
    while (tail < head) {
        ssize_t r = read(fd, in + have, BUF - have);
        if (r <= 0) break;
        have += (size_t)r;
        now = now_ns();
        size_t at = 0, outn = 0;
        while (have - at >= frame) {
            uint64_t t = sent[tail++ % (size_t)depth];
            if (nlat < cap) lat[nlat++] = now - t;
            at += frame;
            if (now < stop) {
                memcpy(out + outn, msg, frame);
                outn += frame;
                sent[head++ % (size_t)depth] = now;
            }
        }
        memmove(in, in + at, have - at);
        have -= at;
        if (outn > 0 && write_all(fd, out, outn) < 0) break;
    }
    double elapsed = (double)(now - start) / 1e9;
    qsort(lat, nlat, sizeof(uint64_t), cmp_u64);
    printf("pingpong depth=%d size=%d calls=%zu seconds=%.3f ops_per_s=%.0f p50_us=%.1f p99_us=%.1f\n", depth, size,
           tail, elapsed, (double)tail / elapsed, nlat ? lat[nlat / 2] / 1e3 : 0.0,
           nlat ? lat[nlat * 99 / 100] / 1e3 : 0.0);
    close(fd);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "serve") == 0) return serve(argv[2]);
    if (argc >= 5 && strcmp(argv[1], "client") == 0)
        return client(argv[2], atof(argv[3]), atoi(argv[4]), argc > 5 ? atoi(argv[5]) : 64);
    fprintf(stderr, "usage: pingpong serve SOCKET | pingpong client SOCKET SECONDS DEPTH [SIZE]\n");
    return 64;
}
