/*
 * Spinlocks between processes. The lock word holds the owner's host tid, so a
 * waiter can tell a busy owner from a dead one: after spinning for a while it
 * asks the host whether the owner still exists, and takes the lock over if
 * not. A stolen lock is reported to the taker, whose job it is to check the
 * state the lock guards.
 *
 * A spin never goes on silently: finding its own tid in the word (a kernel
 * thread that switched away holding the lock, or a lock taken twice) can
 * never end and panics, naming the lock; a wait of more than SPIN_REPORT_NS
 * is reported once on stderr with the owner's tid, and the spin goes on.
 */
#include "uml/host.h"
#include "uml/sync.h"

/* Spins between liveness checks of the owner; each check costs a few system calls. */
#define SPIN_CHECK_EVERY 4096
#define SPIN_REPORT_NS	 2000000000ull

static const char *const rank_name[LOCK_RANK_COUNT] = {
    [LOCK_RANK_NONE] = "an unranked lock",
    [LOCK_RANK_VFS] = "vfs_sb.lock",
    [LOCK_RANK_SCHED] = "machine.sched_lock",
    [LOCK_RANK_INET] = "inet.lock/netif.lock",
    [LOCK_RANK_KWAIT] = "kwait.lock",
    [LOCK_RANK_WAITERS] = "machine.waiters_lock",
    [LOCK_RANK_CPU_REMOTE] = "sched_cpu.remote_lock",
    [LOCK_RANK_EXPORTS] = "nfs_state.lock",
    [LOCK_RANK_NLM] = "nfs_lock_table.lock",
    [LOCK_RANK_ROOTS] = "machine.roots_lock",
    [LOCK_RANK_CPUS] = "machine.cpu_lock",
    [LOCK_RANK_ZONE] = "mm_zone.lock",
};

const char *spin_rank_name(unsigned rank)
{
	return rank < LOCK_RANK_COUNT ? rank_name[rank] : "a lock of unknown rank";
}

/* The slow part of spin_lock: @l is held by @owner. */
static int __attribute__((noinline)) spin_contended(spinlock_t *l, uint32_t me, uint32_t owner)
{
	uint64_t start = 0;
	unsigned spins = 0;
	bool reported = false;

	for (;;) {
		if (owner == me)
			host_panic("umlsync: tid %u spins on %s (%p), which it holds itself", me,
				   spin_rank_name(l->rank), (void *)l);
		if (++spins % SPIN_CHECK_EVERY) {
			host_cpu_relax();
		} else {
			uint64_t now = host_mono_ns();

			if (!start)
				start = now;
			if (!host_task_alive(owner)) {
				/* Only one waiter wins the takeover; the others keep spinning. */
				if (atomic_compare_exchange_strong_explicit(&l->owner, &owner, me,
									    memory_order_acquire,
									    memory_order_relaxed)) {
					atomic_fetch_add(&l->stolen, 1);
					host_fault_point();
					return 1;
				}
			} else if (!reported && now - start > SPIN_REPORT_NS) {
				host_log("umlsync: tid %u has waited %llu ms for %s (%p), held by "
					 "live tid %u",
					 me, (unsigned long long)((now - start) / 1000000),
					 spin_rank_name(l->rank), (void *)l, owner);
				reported = true;
			}
			/* The owner may be descheduled on this 2-core box: let it run. */
			host_yield();
		}
		owner = 0;
		if (atomic_compare_exchange_weak_explicit(
			&l->owner, &owner, me, memory_order_acquire, memory_order_relaxed)) {
			host_fault_point();
			return 0;
		}
	}
}

int spin_lock(spinlock_t *l)
{
	uint32_t me = host_tid(), owner = 0;

	/* Before spinning: an inverted order is reported, not left to deadlock. */
	spin_order_acquire(l, l->rank, true);
	if (likely(atomic_compare_exchange_strong_explicit(
		&l->owner, &owner, me, memory_order_acquire, memory_order_relaxed))) {
		host_fault_point();
		return 0;
	}
	return spin_contended(l, me, owner);
}

void spin_unlock(spinlock_t *l)
{
	host_fault_point();
	spin_order_release(l, l->rank);
	atomic_store_explicit(&l->owner, 0, memory_order_release);
#ifdef MM_DEBUG
	if (unlikely(host_fault_pause_due) && spin_order_held() == 0)
		host_fault_pause_now();
#endif
}
