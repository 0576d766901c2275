/*
 * kernel/sched: generation counters. A word in the arena that writers bump
 * and watchers sleep on until it moves, in any process of the machine. A
 * plain host thread sleeps on the word's futex; a kernel thread sleeps on
 * the counter's wait queue, so that the other threads of its CPU keep
 * running. Zeroed memory is a valid counter.
 */
#ifndef UML_GEN_H
#define UML_GEN_H

#include <stdint.h>

#include "sched.h"

struct kgen {
	_Atomic uint32_t v;
	_Atomic uint32_t kwaiters; /* kernel threads asleep on wq, or about to be */
	struct kwait wq;
};

uint32_t kgen_read(struct kgen *g);
/* Increment @g and wake every watcher. Returns the new value. */
uint32_t kgen_bump(struct kgen *g);
/*
 * Sleep until @g differs from @seen or @timeout_ns passes (< 0: no limit).
 * Returns 0 when it differs (at once when it already does), -ETIMEDOUT, or
 * -EINTR: the kernel thread was interrupted (kthread_interrupt) or the host
 * thread took a signal.
 */
int kgen_wait(struct kgen *g, uint32_t seen, int64_t timeout_ns);

#endif
