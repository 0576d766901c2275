/* Small language helpers shared by every layer of the kernel. */
#ifndef UML_COMPILER_H
#define UML_COMPILER_H

#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>

#define ARRAY_SIZE(a)		      (sizeof(a) / sizeof((a)[0]))
#define likely(x)		      __builtin_expect(!!(x), 1)
#define unlikely(x)		      __builtin_expect(!!(x), 0)
#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))
#define ALIGN_UP(x, a)		      (((x) + ((a)-1)) & ~((__typeof__(x))(a)-1))
#define IS_POW2(x)		      ((x) != 0 && ((x) & ((x)-1)) == 0)
#define MIN(a, b)		      ((a) < (b) ? (a) : (b))
#define MAX(a, b)		      ((a) > (b) ? (a) : (b))
#define __unused		      __attribute__((unused))
#define __cacheline_aligned	      __attribute__((aligned(64)))

/* Relaxed loads and stores of shared words that other processes change. */
#define READ_ONCE(x)	 atomic_load_explicit(&(x), memory_order_relaxed)
#define WRITE_ONCE(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)

#endif
