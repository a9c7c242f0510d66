// LD_PRELOAD shim that counts heap allocations (malloc, calloc, realloc, posix_memalign,
// aligned_alloc; not the obsolete memalign/valloc/pvalloc, which Swift and glibc's users here do
// not call) made by a process and prints the total to stderr at exit:
//   malloc_count: <allocations>
// Used by tools/bench/allocations to report allocations per Evaluate, a figure that, unlike
// time on a shared VM, is the same from run to run.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_ulong allocations;

#define NEXT(name) static __typeof__(name) *next_##name; if (!next_##name) next_##name = dlsym(RTLD_NEXT, #name)

// dlsym itself may call calloc before the real one is known: served from a small static buffer
// (never freed, and copied out if it is ever realloc'ed).
static _Alignas(max_align_t) char bootstrap[4096];
static atomic_size_t bootstrap_used;

static int in_bootstrap(const void *block) {
    return (const char *)block >= bootstrap && (const char *)block < bootstrap + sizeof bootstrap;
}

void *malloc(size_t size) {
    NEXT(malloc);
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return next_malloc(size);
}

void *calloc(size_t count, size_t size) {
    static _Thread_local int resolving;
    static __typeof__(calloc) *next_calloc;
    if (!next_calloc) {
        if (resolving) {
            size_t bytes = (count * size + 15) & ~(size_t)15;
            size_t start = atomic_fetch_add(&bootstrap_used, bytes);
            if (start + bytes > sizeof bootstrap) return NULL;
            return bootstrap + start;  // static storage: already zero
        }
        resolving = 1;
        next_calloc = dlsym(RTLD_NEXT, "calloc");
        resolving = 0;
    }
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return next_calloc(count, size);
}

void *realloc(void *block, size_t size) {
    if (in_bootstrap(block)) {
        void *moved = malloc(size);
        size_t left = (size_t)(bootstrap + sizeof bootstrap - (char *)block);
        if (moved) memcpy(moved, block, size < left ? size : left);
        return moved;
    }
    NEXT(realloc);
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return next_realloc(block, size);
}

int posix_memalign(void **block, size_t alignment, size_t size) {
    NEXT(posix_memalign);
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return next_posix_memalign(block, alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    NEXT(aligned_alloc);
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return next_aligned_alloc(alignment, size);
}

void free(void *block) {
    if (in_bootstrap(block)) return;
    NEXT(free);
    next_free(block);
}

__attribute__((destructor)) static void report(void) {
    char line[64];
    int length = snprintf(line, sizeof line, "malloc_count: %lu\n", atomic_load(&allocations));
    if (length > 0) (void)!write(2, line, (size_t)length);
}
