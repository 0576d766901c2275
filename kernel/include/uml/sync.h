/*
 * kernel/sync: locks that work between processes sharing the arena and that
 * survive a holder killed with SIGKILL. Nothing here sleeps in a scheduler sense,
 * so kernel/mm can use it.
 *
 * spinlock_t: a word holding the owner's host tid. Waiters spin; a waiter that
 * has spun for long checks whether the owner still exists and, when it does
 * not, takes the lock over. Use it for short critical sections.
 *
 * kmutex_t: a sleeping lock for longer sections (the filesystem). It is a
 * robust, process-shared futex mutex: when its owner dies the kernel hands it
 * to the next locker, who is told so.
 */
#ifndef UML_SYNC_H
#define UML_SYNC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "compiler.h"

/*
 * The lock order. A thread takes a lock only when the lock's rank is above
 * the rank of every lock it holds, so the kernel's locks nest in this order
 * (outermost first) and never the other way round:
 *
 *   LOCK_RANK_VFS	  vfs_sb.lock (kmutex, kernel/fs): its users allocate, and
 *			  hooks under it bump generations and take uml locks
 *   LOCK_RANK_SCHED	  machine.sched_lock (kernel/core): makes the kthread
 *			  cache and frees dead CPUs' threads under it
 *   LOCK_RANK_INET	  inet.lock and every netif.lock (kernel/net/inet): a
 *			  delivery wakes a socket's queue under inet.lock and
 *			  buffers are freed under both; they never nest in
 *			  each other
 *   LOCK_RANK_KWAIT	  kwait.lock, every wait queue (ksem, kmtx, kcompletion,
 *			  generations): a wake takes the woken thread's CPU
 *			  remote_lock; a host thread allocates its waiter
 *   LOCK_RANK_WAITERS	  machine.waiters_lock (kernel/sched): the host threads
 *			  that sleep on wait queues, so a dead one is unlinked;
 *			  nothing nests inside
 *   LOCK_RANK_CPU_REMOTE sched_cpu.remote_lock: nothing nests inside
 *   LOCK_RANK_EXPORTS	  nfs_state.lock (kernel/net/nfs): nothing nests inside
 *   LOCK_RANK_NLM	  nfs_lock_table.lock (kernel/net/nfs/lock.c): allocates
 *			  under it (the zone); nothing else nests inside
 *   LOCK_RANK_ROOTS	  machine.roots_lock (kernel/core): nothing nests inside
 *   LOCK_RANK_CPUS	  machine.cpu_lock (kernel/core): nothing nests inside
 *   LOCK_RANK_ZONE	  mm_zone.lock: may be taken under any of the others, by
 *			  an allocation or free that misses the thread's magazine
 *
 * The leaves (waiters, remote, exports, nlm, roots, cpus, zone) never nest among
 * themselves today; the zone comes last because anything may allocate.
 * Sleeping locks (kmtx, ksem, kcompletion) have no rank: a sleep releases its
 * queue's lock first, and a kmtx may be held across anything.
 *
 * The debug build (-DMM_DEBUG) checks it: each thread keeps a record of the
 * ranked locks it holds (each kernel thread its own, swapped at every switch,
 * since one host thread runs many), and taking a lock whose rank is not above
 * all of them panics with both names. A kernel thread that switches away
 * while holding a spinlock panics too: the next thread of its CPU, on the
 * same host thread, would spin on it for ever. Locks of rank LOCK_RANK_NONE
 * (spin_lock_init, kmutex_init, SPINLOCK_INIT) are not checked.
 */
enum lock_rank {
	LOCK_RANK_NONE,
	LOCK_RANK_VFS,
	LOCK_RANK_SCHED,
	LOCK_RANK_INET,
	LOCK_RANK_KWAIT,
	LOCK_RANK_WAITERS,
	LOCK_RANK_CPU_REMOTE,
	LOCK_RANK_EXPORTS,
	LOCK_RANK_NLM,
	LOCK_RANK_ROOTS,
	LOCK_RANK_CPUS,
	LOCK_RANK_ZONE,
	LOCK_RANK_COUNT
};

typedef struct {
	_Atomic uint32_t owner;	 /* host tid of the holder, 0 when free */
	_Atomic uint16_t stolen; /* how often the lock was taken from a dead owner */
	uint16_t rank;		 /* enum lock_rank, set at init */
} spinlock_t;
_Static_assert(sizeof(spinlock_t) == 8, "spinlock_t sits in arena structures of fixed layout");

#define SPINLOCK_INIT                                                                              \
	{                                                                                          \
		0, 0, LOCK_RANK_NONE                                                               \
	}

static inline void spin_lock_init_rank(spinlock_t *l, enum lock_rank rank)
{
	atomic_store(&l->owner, 0);
	atomic_store(&l->stolen, 0);
	l->rank = (uint16_t)rank;
}

static inline void spin_lock_init(spinlock_t *l)
{
	spin_lock_init_rank(l, LOCK_RANK_NONE);
}

/*
 * Take @l. Returns 0, or 1 when the lock was recovered from an owner that died
 * while holding it: the state it guards may be half-updated and the caller
 * should check or repair it.
 */
int spin_lock(spinlock_t *l);
void spin_unlock(spinlock_t *l);
/* "vfs_sb.lock" and so on, for messages. */
const char *spin_rank_name(unsigned rank);

typedef struct {
	pthread_mutex_t m;
	_Atomic uint32_t recovered; /* times the mutex was taken over from a dead owner */
	uint32_t rank;		    /* enum lock_rank, set at init */
} kmutex_t;
_Static_assert(sizeof(kmutex_t) == sizeof(pthread_mutex_t) + 8, "kmutex_t grew");

/* 0 or a negative errno. */
int kmutex_init_rank(kmutex_t *m, enum lock_rank rank);
static inline int kmutex_init(kmutex_t *m)
{
	return kmutex_init_rank(m, LOCK_RANK_NONE);
}
/*
 * Returns 0, or -EOWNERDEAD when the previous owner died holding the mutex;
 * the mutex is then held and already marked consistent.
 */
int kmutex_lock(kmutex_t *m);
void kmutex_unlock(kmutex_t *m);

#ifdef MM_DEBUG
#define LOCK_HELD_MAX 16
/* The ranked locks a thread holds, in the order taken. */
struct lock_held {
	uint32_t n;
	uint8_t rank[LOCK_HELD_MAX];
	bool spin[LOCK_HELD_MAX];
	const void *lock[LOCK_HELD_MAX];
};
/* Record taking @lock of @rank; panics when @rank is not above every lock held. */
void spin_order_acquire(const void *lock, unsigned rank, bool spin);
void spin_order_release(const void *lock, unsigned rank);
/*
 * For kernel/sched's switches: from now on this host thread runs with the
 * record @h (a kernel thread's), or with its own when @h is NULL. Panics when
 * the record being left holds a spinlock.
 */
void spin_order_switch(struct lock_held *h);
/* How many ranked locks the running thread holds. */
unsigned spin_order_held(void);
#else
static inline void spin_order_acquire(const void *lock, unsigned rank, bool spin)
{
	(void)lock, (void)rank, (void)spin;
}
static inline void spin_order_release(const void *lock, unsigned rank)
{
	(void)lock, (void)rank;
}
#endif

#endif
