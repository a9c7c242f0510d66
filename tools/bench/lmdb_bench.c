// The storage limit: raw LMDB in-process, with badged's key layout (len|customer|len|badge|u64 award
// id) and ~100-byte values, so the figures bound what a List or an Issue can cost in storage.
//
//   lmdb_bench DIR read  SECONDS [CUSTOMERS AWARDS]   populate (once), then random "Lists": one read
//                                                    txn + one cursor range scan of a customer's awards
//   lmdb_bench DIR write SECONDS [BATCH]             durable puts of new award keys, BATCH (1000) per
//                                                    commit, fsync on every commit
//
// Prints one line of key=value. The map is sized up front (1 GiB), as badged does.
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define CHECK(x)                                                                      \
    do {                                                                              \
        int rc_ = (x);                                                                \
        if (rc_ != 0) {                                                               \
            fprintf(stderr, "lmdb_bench: %s: %s (line %d)\n", #x, mdb_strerror(rc_), __LINE__); \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void) {  // xorshift64: deterministic, cheap
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static size_t customer_prefix(uint8_t *key, uint64_t customer) {
    char id[32];
    int n = snprintf(id, sizeof(id), "cust-%llu", (unsigned long long)customer);
    key[0] = (uint8_t)n;
    memcpy(key + 1, id, (size_t)n);
    return 1 + (size_t)n;
}

static size_t award_key(uint8_t *key, uint64_t customer, uint64_t badge, uint64_t award) {
    size_t at = customer_prefix(key, customer);
    char id[32];
    int n = snprintf(id, sizeof(id), "bench-%llu", (unsigned long long)badge);
    key[at++] = (uint8_t)n;
    memcpy(key + at, id, (size_t)n);
    at += (size_t)n;
    for (int shift = 56; shift >= 0; shift -= 8) key[at++] = (uint8_t)(award >> shift);
    return at;
}

static MDB_env *open_env(const char *dir, unsigned flags) {
    MDB_env *env;
    mkdir(dir, 0755);
    CHECK(mdb_env_create(&env));
    CHECK(mdb_env_set_mapsize(env, (size_t)1 << 30));
    CHECK(mdb_env_set_maxdbs(env, 4));
    CHECK(mdb_env_open(env, dir, MDB_NOTLS | flags, 0644));
    return env;
}

static int bench_read(const char *dir, double seconds, uint64_t customers, uint64_t awards) {
    uint8_t value[100];
    memset(value, 'v', sizeof(value));
    // Populate without fsync (setup, not measured), then sync once.
    MDB_env *env = open_env(dir, MDB_NOSYNC);
    MDB_txn *txn;
    MDB_dbi dbi;
    CHECK(mdb_txn_begin(env, NULL, 0, &txn));
    CHECK(mdb_dbi_open(txn, "awards", MDB_CREATE, &dbi));
    MDB_stat st;
    CHECK(mdb_stat(txn, dbi, &st));
    uint64_t award = 1;
    if (st.ms_entries < customers * awards) {
        for (uint64_t c = 0; c < customers; c++) {
            for (uint64_t b = 0; b < awards; b++) {
                uint8_t key[64];
                MDB_val k = {award_key(key, c, b, award++), key}, v = {sizeof(value), value};
                CHECK(mdb_put(txn, dbi, &k, &v, 0));
            }
        }
    }
    CHECK(mdb_txn_commit(txn));
    CHECK(mdb_env_sync(env, 1));

    CHECK(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn));
    MDB_cursor *cursor;
    CHECK(mdb_cursor_open(txn, dbi, &cursor));
    mdb_txn_reset(txn);
    uint64_t lists = 0, rows = 0, bytes = 0;
    uint64_t start = now_ns(), stop = start + (uint64_t)(seconds * 1e9), now = start;
    while (now < stop) {
        for (int i = 0; i < 64; i++) {
            // One List: a short read txn and one range scan over the customer's prefix.
            CHECK(mdb_txn_renew(txn));
            CHECK(mdb_cursor_renew(txn, cursor));
            uint8_t prefix[40];
            size_t plen = customer_prefix(prefix, next_rand() % customers);
            MDB_val k = {plen, prefix}, v;
            int rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
            while (rc == 0 && k.mv_size >= plen && memcmp(k.mv_data, prefix, plen) == 0) {
                rows++;
                bytes += ((const uint8_t *)v.mv_data)[0] + v.mv_size;  // touch the value
                rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
            }
            mdb_txn_reset(txn);
            lists++;
        }
        now = now_ns();
    }
    double elapsed = (double)(now - start) / 1e9;
    printf("lmdb read lists=%llu rows_per_list=%.1f seconds=%.3f ops_per_s=%.0f checksum=%llu\n",
           (unsigned long long)lists, (double)rows / (double)lists, elapsed, (double)lists / elapsed,
           (unsigned long long)bytes);
    mdb_cursor_close(cursor);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return 0;
}

static int bench_write(const char *dir, double seconds, int batch) {
    uint8_t value[100];
    memset(value, 'w', sizeof(value));
    MDB_env *env = open_env(dir, 0);  // durable: fsync on every commit
    MDB_txn *txn;
    MDB_dbi dbi;
    CHECK(mdb_txn_begin(env, NULL, 0, &txn));
    CHECK(mdb_dbi_open(txn, "writes", MDB_CREATE, &dbi));
    CHECK(mdb_txn_commit(txn));
    uint64_t puts = 0, commits = 0, award = now_ns();  // fresh award ids every run
    uint64_t start = now_ns(), stop = start + (uint64_t)(seconds * 1e9), now = start;
    while (now < stop) {
        CHECK(mdb_txn_begin(env, NULL, 0, &txn));
        for (int i = 0; i < batch; i++) {
            uint8_t key[64];
            uint64_t r = next_rand();
            MDB_val k = {award_key(key, (r >> 8) % 1000000, r % 10, award++), key}, v = {sizeof(value), value};
            CHECK(mdb_put(txn, dbi, &k, &v, 0));
        }
        CHECK(mdb_txn_commit(txn));
        puts += (uint64_t)batch;
        commits++;
        now = now_ns();
    }
    double elapsed = (double)(now - start) / 1e9;
    printf("lmdb write batch=%d puts=%llu commits=%llu seconds=%.3f ops_per_s=%.0f commits_per_s=%.0f\n", batch,
           (unsigned long long)puts, (unsigned long long)commits, elapsed, (double)puts / elapsed,
           (double)commits / elapsed);
    mdb_env_close(env);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 4 && strcmp(argv[2], "read") == 0)
        return bench_read(argv[1], atof(argv[3]), argc > 4 ? strtoull(argv[4], NULL, 10) : 10000,
                          argc > 5 ? strtoull(argv[5], NULL, 10) : 10);
    if (argc >= 4 && strcmp(argv[2], "write") == 0)
        return bench_write(argv[1], atof(argv[3]), argc > 4 ? atoi(argv[4]) : 1000);
    fprintf(stderr, "usage: lmdb_bench DIR read SECONDS [CUSTOMERS AWARDS] | lmdb_bench DIR write SECONDS [BATCH]\n");
    return 64;
}
