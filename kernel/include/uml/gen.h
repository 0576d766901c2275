/*
 * kernel/sched: generation counters. A word in the arena that writers bump
 * and watchers sleep on until it moves, in any process of the machine.
 *
 * A plain host thread sleeps on the word's futex. A kernel thread sleeps on
 * its own CPU, so that the CPU's other threads keep running, and is woken by
 * the machine's broadcast: one eventfd in every CPU's epoll set, so waking
 * the watchers of every CPU costs the bumper one system call whatever their
 * number, and each CPU looks at its own sleepers' counters. A CPU of a
 * process that lost the broadcast (closed its fd) sleeps on the counter's
 * wait queue instead, and is woken through its doorbell.
 *
 * A bump only costs the system calls its sleepers need: each kind counts
 * itself before it looks at the word, the bumper looks at the counts after
 * it moved the word, so one of the two sees the other. A sleeper that died
 * counted leaves its count up: later bumps then make a call for nobody.
 *
 * Zeroed memory is a valid counter.
 */
#ifndef UML_GEN_H
#define UML_GEN_H

#include <stdint.h>

#include "sched.h"

struct kgen {
	_Atomic uint32_t v;
	_Atomic uint32_t hwaiters; /* host threads asleep on v's futex, or about to be */
	_Atomic uint32_t bwaiters; /* kernel threads waiting for the broadcast */
	_Atomic uint32_t kwaiters; /* kernel threads asleep on wq (no broadcast), or about to be */
	struct kwait wq;
};

uint32_t kgen_read(struct kgen *g);
/* Increment @g and wake every watcher. Returns the new value. */
uint32_t kgen_bump(struct kgen *g);
/*
 * Increment @g and wake at most @n of the host threads asleep on it (a
 * queue's worth: one per slot freed); kernel threads asleep on it all wake.
 */
uint32_t kgen_bump_n(struct kgen *g, int n);
/*
 * Sleep until @g differs from @seen or @timeout_ns passes (< 0: no limit).
 * Returns 0 when it differs (at once when it already does), -ETIMEDOUT, or
 * -EINTR: the kernel thread was interrupted (kthread_interrupt) or the host
 * thread took a signal.
 */
int kgen_wait(struct kgen *g, uint32_t seen, int64_t timeout_ns);
/*
 * The same, asleep on the counter's futex whatever the caller is: a kernel
 * thread's whole CPU sleeps with it. For a caller holding a lock that the
 * other threads of its CPU may take (the filesystem's): switching to one of
 * them would have it wait for a lock its own host thread holds, for ever.
 */
int kgen_wait_cpu(struct kgen *g, uint32_t seen, int64_t timeout_ns);

/*
 * Deferred wake-ups. Between kgen_defer_begin and the matching
 * kgen_defer_end (they nest), the calling thread's bumps move their counters
 * at once but wake nobody; the wake-ups go out at the outermost end. A
 * lock holder defers so that the threads it wakes don't run into its lock
 * (the filesystem lock does), a server so that they don't run before its
 * reply is out (the NFS service does, per request). A kernel thread that
 * sleeps meanwhile (a reply that waits for room in a peer that does not
 * read) sends what it deferred before it sleeps. A counter must outlive a
 * deferral of its wake-up. A thread that dies deferring leaves its
 * counters moved and their watchers asleep until the next bump: the
 * reaper rings the broadcast for each dead CPU, so kernel threads look
 * again then.
 */
void kgen_defer_begin(void);
void kgen_defer_end(void);

/*
 * The broadcast as this process holds it: the fd, or -1 when the process
 * has none (the machine has none, or the number it inherited is no longer
 * the machine's eventfd).
 */
int kgen_bcast_fd(void);
/* Ring the broadcast: every CPU looks at its sleepers' counters. */
void kgen_kick(void);

#endif
