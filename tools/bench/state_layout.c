// What storing criterion states differently would save, in raw LMDB (no Swift, no decoding).
//
// Today each state is one record, keyed customer|badge|criterion: an event reads and writes the
// ~10 states of the badges listening to its type, ten cursor seeks and ten puts. The alternative
// measured here keeps one record per customer|event type holding those ten states (~1.6 KB): one
// get, one put. Shapes as in tools/bench/evaluate: 2,000 customers, 50 badges, 5 event types,
// ~150-byte states, write transactions of 50 events without sync (the journal carries durability).
// Prints per-event read and write cost for both layouts, three alternating rounds.
//
//   gcc -O2 -o /tmp/state_layout tools/bench/state_layout.c -llmdb
//   mkdir -p /tmp/sl-db && taskset -c 1 /tmp/state_layout /tmp/sl-db [EVENTS]
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#define CUSTOMERS 2000
#define BADGES 50
#define TYPES 5
#define STATE 150
#define BATCH 50
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static void chk(int rc, const char *what) { if (rc) { fprintf(stderr, "%s: %s\n", what, mdb_strerror(rc)); exit(1); } }
// Length-prefixed ids, as the store's keys are ("cust-N" is 5 + digits bytes).
static int digits(int n) { return 1 + (n > 9) + (n > 99) + (n > 999); }
static size_t keyA(char *k, int c, int b) { return sprintf(k, "%c" "cust-%d" "%c" "rule-%d" "count", 5 + digits(c), c, 5 + digits(b), b); }
static size_t keyB(char *k, int c, int t) { return sprintf(k, "%c" "cust-%d" "type-%d", 5 + digits(c), c, t); }
static unsigned long long seed = 88172645463325252ULL;
static unsigned long long rnd(void) { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; return seed; }
int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp/sl-db";
    int events = argc > 2 ? atoi(argv[2]) : 200000;
    MDB_env *env; MDB_dbi a, b; MDB_txn *txn; MDB_val k, v; char key[64]; char val[STATE * 12];
    memset(val, 7, sizeof val);
    chk(mdb_env_create(&env), "create"); mdb_env_set_mapsize(env, 4ULL << 30); mdb_env_set_maxdbs(env, 4);
    chk(mdb_env_open(env, dir, MDB_NOSYNC | MDB_WRITEMAP | MDB_NOTLS, 0644), "open");
    chk(mdb_txn_begin(env, NULL, 0, &txn), "begin");
    chk(mdb_dbi_open(txn, "a", MDB_CREATE, &a), "dbi a"); chk(mdb_dbi_open(txn, "b", MDB_CREATE, &b), "dbi b");
    for (int c = 0; c < CUSTOMERS; c++) {
        for (int x = 0; x < BADGES; x++) { k.mv_size = keyA(key, c, x); k.mv_data = key; v.mv_size = STATE; v.mv_data = val; chk(mdb_put(txn, a, &k, &v, 0), "seed a"); }
        for (int t = 0; t < TYPES; t++) { k.mv_size = keyB(key, c, t); k.mv_data = key; v.mv_size = 10 * (STATE + 12); v.mv_data = val; chk(mdb_put(txn, b, &k, &v, 0), "seed b"); }
    }
    chk(mdb_txn_commit(txn), "commit seed");
    for (int round = 0; round < 3; round++) {
        for (int layout = 0; layout < 2; layout++) {
            // Reads: one read txn per event, as the event loop plans.
            double t0 = now(); unsigned long sum = 0;
            for (int e = 0; e < events; e++) {
                int c = rnd() % CUSTOMERS, t = rnd() % TYPES;
                chk(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), "rbegin");
                if (layout == 0) {
                    MDB_cursor *cur; chk(mdb_cursor_open(txn, a, &cur), "cur");
                    for (int i = 0; i < 10; i++) { k.mv_size = keyA(key, c, t + TYPES * i); k.mv_data = key; if (!mdb_cursor_get(cur, &k, &v, MDB_SET_KEY)) sum += ((unsigned char *)v.mv_data)[0]; }
                    mdb_cursor_close(cur);
                } else {
                    k.mv_size = keyB(key, c, t); k.mv_data = key; if (!mdb_get(txn, b, &k, &v)) sum += ((unsigned char *)v.mv_data)[0];
                }
                mdb_txn_abort(txn);
            }
            double reads = events / (now() - t0);
            // Writes: BATCH events per write txn, no sync (the journal carries durability).
            t0 = now();
            for (int e = 0; e < events; e += BATCH) {
                chk(mdb_txn_begin(env, NULL, 0, &txn), "wbegin");
                MDB_cursor *cur; chk(mdb_cursor_open(txn, layout ? b : a, &cur), "wcur");
                for (int j = 0; j < BATCH; j++) {
                    int c = rnd() % CUSTOMERS, t = rnd() % TYPES;
                    if (layout == 0) {
                        for (int i = 0; i < 10; i++) { k.mv_size = keyA(key, c, t + TYPES * i); k.mv_data = key; v.mv_size = STATE; v.mv_data = val; chk(mdb_cursor_put(cur, &k, &v, 0), "put a"); }
                    } else {
                        k.mv_size = keyB(key, c, t); k.mv_data = key; v.mv_size = 10 * (STATE + 12); v.mv_data = val; chk(mdb_cursor_put(cur, &k, &v, 0), "put b");
                    }
                }
                mdb_cursor_close(cur);
                chk(mdb_txn_commit(txn), "wcommit");
            }
            double writes = events / (now() - t0);
            printf("round %d %-28s reads %8.0f events/s (%.2f us)  writes %8.0f events/s (%.2f us) [%lu]\n", round,
                   layout ? "one record per event type" : "one record per criterion", reads, 1e6 / reads, writes, 1e6 / writes, sum);
        }
    }
    mdb_env_close(env);
    return 0;
}
