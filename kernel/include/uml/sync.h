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
#include <stdint.h>
#include "compiler.h"

typedef struct {
	_Atomic uint32_t owner;	  /* host tid of the holder, 0 when free */
	_Atomic uint32_t stolen;  /* how often the lock was taken from a dead owner */
} spinlock_t;

#define SPINLOCK_INIT {0, 0}

static inline void spin_lock_init(spinlock_t *l)
{
	atomic_store(&l->owner, 0);
	atomic_store(&l->stolen, 0);
}

/*
 * Take @l. Returns 0, or 1 when the lock was recovered from an owner that died
 * while holding it: the state it guards may be half-updated and the caller
 * should check or repair it.
 */
int spin_lock(spinlock_t *l);
void spin_unlock(spinlock_t *l);
/* Returns 1 if taken, 0 if busy. Never recovers. */
int spin_trylock(spinlock_t *l);
/* True when the calling thread holds @l (for assertions). */
int spin_is_mine(const spinlock_t *l);

typedef struct {
	pthread_mutex_t m;
	_Atomic uint32_t recovered; /* times the mutex was taken over from a dead owner */
} kmutex_t;

int kmutex_init(kmutex_t *m);
/*
 * Returns 0, or -EOWNERDEAD when the previous owner died holding the mutex;
 * the mutex is then held and already marked consistent.
 */
int kmutex_lock(kmutex_t *m);
void kmutex_unlock(kmutex_t *m);

#endif
