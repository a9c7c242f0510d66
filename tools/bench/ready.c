// Start-to-serving time: starts a command (badged), then polls its Unix socket every 0.5 ms until a
// Health call is answered OK. Prints "ready_ms=... pid=..." and leaves the command running.
//
//   ready SOCKET TIMEOUT_S -- COMMAND ARGS...
//
// The Health call is hand-encoded (RequestFrame{call_id=1, method="badges.v1.Badges/Health"}) so
// that nothing but the server's own start-up is timed.
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int read_n(int fd, uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

// 1 = Health answered OK, 0 = not yet.
static int try_health(const char *path) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return 0;
    }
    static const char method[] = "badges.v1.Badges/Health";
    uint8_t out[64] = {'B', 'A', 'D', 'G', 'E', 'S', 0, 1};
    size_t body = 2 + 2 + sizeof(method) - 1;
    out[8] = 0, out[9] = 0, out[10] = 0, out[11] = (uint8_t)body;
    out[12] = 0x08, out[13] = 0x01;                          // call_id = 1
    out[14] = 0x1a, out[15] = (uint8_t)(sizeof(method) - 1);  // method
    memcpy(out + 16, method, sizeof(method) - 1);
    int ok = 0;
    uint8_t in[4096];
    if (write(fd, out, 12 + body) == (ssize_t)(12 + body) && read_n(fd, in, 12) == 0) {
        uint32_t len = (uint32_t)in[8] << 24 | (uint32_t)in[9] << 16 | (uint32_t)in[10] << 8 | in[11];
        if (len <= sizeof(in) && read_n(fd, in, len) == 0) {
            // Walk the ResponseFrame's fields; OK is status 0, which proto3 leaves out.
            ok = 1;
            size_t at = 0;
            while (at < len) {
                uint8_t tag = in[at++];
                uint64_t v = 0;
                for (int shift = 0; at < len; shift += 7) {
                    uint8_t b = in[at++];
                    v |= (uint64_t)(b & 0x7f) << shift;
                    if (!(b & 0x80)) break;
                }
                if ((tag & 7) == 2) at += v;
                else if (tag == 0x18 && v != 0) ok = 0;
            }
        }
    }
    close(fd);
    return ok;
}

int main(int argc, char **argv) {
    if (argc < 5 || strcmp(argv[3], "--") != 0) {
        fprintf(stderr, "usage: ready SOCKET TIMEOUT_S -- COMMAND ARGS...\n");
        return 64;
    }
    signal(SIGPIPE, SIG_IGN);
    unlink(argv[1]);
    uint64_t start = now_ns(), limit = start + (uint64_t)(atof(argv[2]) * 1e9);
    pid_t pid = fork();
    if (pid == 0) {
        // Keep our stdout (often a shell's $(...)) free, or the caller would wait for the server to exit.
        dup2(2, 1);
        execvp(argv[4], argv + 4);
        perror("ready: exec");
        _exit(127);
    }
    while (now_ns() < limit) {
        if (try_health(argv[1])) {
            printf("ready_ms=%.1f pid=%d\n", (double)(now_ns() - start) / 1e6, (int)pid);
            return 0;
        }
        usleep(500);
    }
    fprintf(stderr, "ready: %s did not answer Health within %s s\n", argv[1], argv[2]);
    kill(pid, SIGTERM);
    return 1;
}
