/*
 * The debug build's check of the lock order (uml/sync.h). Every thread has a
 * record of the ranked locks it holds; a kernel thread's record lives in its
 * struct kthread and kernel/sched makes it current at each switch, because
 * kernel threads take turns on one host thread and one may sleep holding the
 * vfs mutex while the next runs.
 */
#ifdef MM_DEBUG
#include "uml/host.h"
#include "uml/sync.h"

static __thread struct lock_held own;	   /* the host thread's record */
static __thread struct lock_held *current; /* NULL: own */
static __thread uint32_t current_gen;

/* A forked child holds none of its parent's locks and runs none of its kernel threads. */
static struct lock_held *held(void)
{
	if (unlikely(current_gen != host_fork_generation())) {
		host_fork_watch();
		own.n = 0;
		current = NULL;
		current_gen = host_fork_generation();
	}
	return current ? current : &own;
}

void spin_order_acquire(const void *lock, unsigned rank, bool spin)
{
	struct lock_held *h;

	if (rank == LOCK_RANK_NONE)
		return;
	h = held();
	for (uint32_t i = 0; i < h->n; i++)
		if (h->rank[i] >= rank)
			host_panic(
			    "umlsync: lock order: taking %s (rank %u) while holding %s (rank %u)",
			    spin_rank_name(rank), rank, spin_rank_name(h->rank[i]), h->rank[i]);
	if (h->n == LOCK_HELD_MAX)
		host_panic("umlsync: more than %d locks held, taking %s", LOCK_HELD_MAX,
			   spin_rank_name(rank));
	h->lock[h->n] = lock;
	h->rank[h->n] = (uint8_t)rank;
	h->spin[h->n] = spin;
	h->n++;
}

void spin_order_release(const void *lock, unsigned rank)
{
	struct lock_held *h;

	if (rank == LOCK_RANK_NONE)
		return;
	h = held();
	/* Usually the last one taken, but not always (hand-over-hand). */
	for (uint32_t i = h->n; i-- > 0;) {
		if (h->lock[i] != lock)
			continue;
		for (h->n--; i < h->n; i++) {
			h->lock[i] = h->lock[i + 1];
			h->rank[i] = h->rank[i + 1];
			h->spin[i] = h->spin[i + 1];
		}
		return;
	}
	host_panic("umlsync: releasing %s, which this thread does not hold", spin_rank_name(rank));
}

unsigned spin_order_held(void)
{
	return held()->n;
}

void spin_order_switch(struct lock_held *next)
{
	struct lock_held *h = held();

	for (uint32_t i = 0; i < h->n; i++)
		if (h->spin[i])
			host_panic("umlsync: a kernel thread switches away holding %s",
				   spin_rank_name(h->rank[i]));
	current = next;
}
#endif
