// Sequentially consistent atomic operations on memory shared between processes (the lock file's
// reader table is a shared mapping: Swift's own atomics only work on memory Swift owns).
#ifndef SEALKV_ATOMICS_H
#define SEALKV_ATOMICS_H
#include <stdint.h>
#include <stdbool.h>

static inline uint64_t sealkv_load64(const void *p) { return __atomic_load_n((const uint64_t *)p, __ATOMIC_SEQ_CST); }
static inline void sealkv_store64(void *p, uint64_t v) { __atomic_store_n((uint64_t *)p, v, __ATOMIC_SEQ_CST); }
static inline uint32_t sealkv_load32(const void *p) { return __atomic_load_n((const uint32_t *)p, __ATOMIC_SEQ_CST); }
static inline void sealkv_store32(void *p, uint32_t v) { __atomic_store_n((uint32_t *)p, v, __ATOMIC_SEQ_CST); }
/// Replaces *p with `desired` if it holds `expected`; returns whether it did.
static inline bool sealkv_cas32(void *p, uint32_t expected, uint32_t desired) {
    return __atomic_compare_exchange_n((uint32_t *)p, &expected, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}
static inline void sealkv_fence(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

#endif
