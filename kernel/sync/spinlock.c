/*
 * Spinlocks between processes. The lock word holds the owner's host tid, so a
 * waiter can tell a busy owner from a dead one: after spinning for a while it
 * asks the host whether the owner still exists, and takes the lock over if
 * not. A stolen lock is reported to the taker, whose job it is to check the
 * state the lock guards.
 */
#include "uml/host.h"
#include "uml/sync.h"

/* Spins between liveness checks of the owner; each check costs a few system calls. */
#define SPIN_CHECK_EVERY 4096

int spin_lock(spinlock_t *l)
{
	uint32_t me = host_tid(), owner;
	unsigned spins = 0;

	/* Before spinning: an inverted order is reported, not left to deadlock. */
	spin_order_acquire(l, l->rank, true);
	for (;;) {
		owner = 0;
		if (atomic_compare_exchange_weak_explicit(
			&l->owner, &owner, me, memory_order_acquire, memory_order_relaxed))
			return 0;
		if (owner == 0)
			continue;
		if (++spins % SPIN_CHECK_EVERY) {
			host_cpu_relax();
			continue;
		}
		if (!host_task_alive(owner)) {
			/* Only one waiter wins the takeover; the others keep spinning. */
			if (atomic_compare_exchange_strong_explicit(&l->owner, &owner, me,
								    memory_order_acquire,
								    memory_order_relaxed)) {
				atomic_fetch_add(&l->stolen, 1);
				return 1;
			}
		}
		/* The owner may be descheduled on this 2-core box: let it run. */
		host_yield();
	}
}

void spin_unlock(spinlock_t *l)
{
	spin_order_release(l, l->rank);
	atomic_store_explicit(&l->owner, 0, memory_order_release);
}
