/*
 * Generation counters: a futex word for host threads, a wait queue for
 * kernel threads, whose CPU must not stop while one of them waits.
 */
#include <errno.h>

#include "uml/gen.h"
#include "uml/host.h"

uint32_t kgen_read(struct kgen *g)
{
	return atomic_load_explicit(&g->v, memory_order_acquire);
}

uint32_t kgen_bump(struct kgen *g)
{
	uint32_t v = atomic_fetch_add(&g->v, 1) + 1;

	host_futex_wake(&g->v, INT32_MAX);
	/*
	 * A kernel thread counts itself in kwaiters before it looks at v, and
	 * we look at kwaiters after changing v: either it sees the new value
	 * or we see it and wake the queue (whose lock it holds until queued).
	 */
	if (atomic_load(&g->kwaiters))
		kwait_wake(&g->wq, INT32_MAX);
	return v;
}

static int kgen_wait_kthread(struct kgen *g, uint32_t seen, int64_t timeout_ns)
{
	uint64_t deadline = timeout_ns >= 0 ? host_mono_ns() + (uint64_t)timeout_ns : 0;

	for (;;) {
		int64_t left = -1;
		int err;

		if (timeout_ns >= 0) {
			uint64_t now = host_mono_ns();

			if (now >= deadline)
				return atomic_load(&g->v) != seen ? 0 : -ETIMEDOUT;
			left = (int64_t)(deadline - now);
		}
		spin_lock(&g->wq.lock);
		atomic_fetch_add(&g->kwaiters, 1);
		if (atomic_load(&g->v) != seen) {
			atomic_fetch_sub(&g->kwaiters, 1);
			spin_unlock(&g->wq.lock);
			return 0;
		}
		err = kwait_sleep_locked(&g->wq, KWAIT_INTR, left);
		atomic_fetch_sub(&g->kwaiters, 1);
		if (atomic_load(&g->v) != seen)
			return 0;
		if (err)
			return err;
	}
}

static int kgen_wait_host(struct kgen *g, uint32_t seen, int64_t timeout_ns)
{
	uint64_t deadline = timeout_ns >= 0 ? host_mono_ns() + (uint64_t)timeout_ns : 0;

	for (;;) {
		int64_t left = -1;

		if (kgen_read(g) != seen)
			return 0;
		if (timeout_ns >= 0) {
			uint64_t now = host_mono_ns();

			if (now >= deadline)
				return -ETIMEDOUT;
			left = (int64_t)(deadline - now);
		}
		if (host_futex_wait(&g->v, seen, left) == -EINTR)
			return -EINTR;
	}
}

int kgen_wait(struct kgen *g, uint32_t seen, int64_t timeout_ns)
{
	if (kthread_self())
		return kgen_wait_kthread(g, seen, timeout_ns);
	return kgen_wait_host(g, seen, timeout_ns);
}
