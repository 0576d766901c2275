/*
 * Generation counters (uml/gen.h): a futex word for host threads; for kernel
 * threads, the machine's broadcast and a scan of each CPU's own sleepers, or
 * a wait queue where the process has no broadcast.
 */
#include <errno.h>

#include "uml/gen.h"
#include "uml/host.h"
#include "uml/machine.h"
#include "sched_internal.h"

uint32_t kgen_read(struct kgen *g)
{
	return atomic_load_explicit(&g->v, memory_order_acquire);
}

/* --- the broadcast --- */

/*
 * Checked once per process (and per machine: a restart may boot another):
 * the number was the machine's eventfd in the booter, and a process that
 * closed it may hold something else under it by now.
 */
static _Atomic uint32_t bcast_checked_gen; /* fork generation of the check; 0: none */
static struct machine *_Atomic bcast_checked_machine;
static _Atomic int bcast_checked_fd = -1;

int kgen_bcast_fd(void)
{
	uint32_t gen = host_fork_generation();
	uint64_t id;
	int fd = -1;

	if (!machine)
		return -1;
	if (atomic_load_explicit(&bcast_checked_gen, memory_order_acquire) == gen &&
	    atomic_load(&bcast_checked_machine) == machine)
		return atomic_load(&bcast_checked_fd);
	host_fork_watch();
	if (machine->bcast_fd >= 0 && host_bcast_id(machine->bcast_fd, &id) == 0 &&
	    id == machine->bcast_id)
		fd = machine->bcast_fd;
	/* Racing threads store the same answer; the generation goes last. */
	atomic_store(&bcast_checked_gen, 0);
	atomic_store(&bcast_checked_fd, fd);
	atomic_store(&bcast_checked_machine, machine);
	atomic_store_explicit(&bcast_checked_gen, gen, memory_order_release);
	return fd;
}

void kgen_kick(void)
{
	int fd = kgen_bcast_fd();

	if (fd >= 0)
		host_bcast_ring(fd);
	else if (machine)
		sched_ring_all(); /* CPUs of other processes may have it: reach them one by one */
}

void kgen_scan(struct sched_cpu *cpu)
{
	list_for_each(pos, &cpu->gen_waiters)
	{
		struct kthread *t = list_entry(pos, struct kthread, gen_node);

		if (!t->gen_moved && atomic_load(&t->gen->v) != t->gen_seen) {
			t->gen_moved = true;
			sched_wake(t);
		}
	}
}

/* --- bumps, now or deferred --- */

static __thread struct kgen_defer host_defer;

static struct kgen_defer *defer_of_current(void)
{
	struct kthread *t = kthread_self();

	return t ? &t->defer : &host_defer;
}

/* Note what a bump owes; false when there is no room: wake now. */
static bool defer_add(struct kgen_defer *d, struct kgen *g, int futex, bool wq, bool ring)
{
	uint32_t i;

	for (i = 0; i < d->n && d->wake[i].g != g; i++)
		;
	if (i == d->n) {
		if (d->n == KGEN_DEFER_MAX)
			return false;
		d->wake[d->n++] = (typeof(d->wake[0])){.g = g};
	}
	d->wake[i].futex = (int)MIN((int64_t)d->wake[i].futex + futex, INT32_MAX);
	d->wake[i].wq |= wq;
	d->ring |= ring;
	return true;
}

static void wake_now(struct kgen *g, int futex, bool wq)
{
	if (futex)
		host_futex_wake(&g->v, futex);
	if (wq)
		kwait_wake(&g->wq, INT32_MAX);
}

uint32_t kgen_bump_n(struct kgen *g, int n)
{
	uint32_t v = atomic_fetch_add(&g->v, 1) + 1;
	/* After the move: a sleeper counted itself before it looked (uml/gen.h). */
	int futex = n > 0 && atomic_load(&g->hwaiters) ? n : 0;
	bool wq = atomic_load(&g->kwaiters) != 0;
	bool ring = atomic_load(&g->bwaiters) != 0;
	struct kgen_defer *d = defer_of_current();

	if (d->depth && defer_add(d, g, futex, wq, ring))
		return v;
	wake_now(g, futex, wq);
	if (ring)
		kgen_kick();
	return v;
}

uint32_t kgen_bump(struct kgen *g)
{
	return kgen_bump_n(g, INT32_MAX);
}

void kgen_defer_begin(void)
{
	defer_of_current()->depth++;
}

/* Send what @d owes now; its depth stays. */
static void defer_flush(struct kgen_defer *d)
{
	bool ring = d->ring;

	for (uint32_t i = 0; i < d->n; i++)
		wake_now(d->wake[i].g, d->wake[i].futex, d->wake[i].wq);
	d->n = 0;
	d->ring = false;
	if (ring)
		kgen_kick(); /* one system call for every counter and every CPU */
}

void kgen_defer_end(void)
{
	struct kgen_defer *d = defer_of_current();

	/* An end without a begin is the caller's bug: it must not undo a begin to come. */
	if (unlikely(d->depth == 0) || --d->depth)
		return;
	defer_flush(d);
}

void kgen_defer_sleeping(struct kthread *t)
{
	if (t->defer.n || t->defer.ring)
		defer_flush(&t->defer);
}

/* --- waits --- */

static inline bool interrupted(struct kthread *t)
{
	return atomic_load_explicit(&t->interrupted, memory_order_relaxed);
}

/*
 * On a CPU with the broadcast: listed on the CPU, which scans its list each
 * time it polls (kgen_scan); no shared lock, no queue to unlink at death.
 */
static int kgen_wait_bcast(struct kthread *t, struct kgen *g, uint32_t seen, int64_t timeout_ns)
{
	struct sched_cpu *cpu = t->cpu;

	t->gen = g;
	t->gen_seen = seen;
	t->gen_moved = false;
	list_add_tail(&cpu->gen_waiters, &t->gen_node);
	atomic_fetch_add(&g->bwaiters, 1);
	if (atomic_load(&g->v) == seen) {
		if (timeout_ns >= 0)
			sched_timer_arm(t, timeout_ns);
		else
			t->timed_out = false;
		sched_block_until(t, t->gen_moved || t->timed_out || interrupted(t));
		sched_timer_cancel(t);
	}
	atomic_fetch_sub(&g->bwaiters, 1);
	list_del(&cpu->gen_waiters, &t->gen_node);
	if (atomic_load(&g->v) != seen)
		return 0;
	return interrupted(t) ? -EINTR : -ETIMEDOUT;
}

static int kgen_wait_queue(struct kgen *g, uint32_t seen, int64_t timeout_ns)
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
		if (err && err != -EAGAIN)
			return err;
	}
}

static int kgen_wait_host(struct kgen *g, uint32_t seen, int64_t timeout_ns)
{
	uint64_t deadline = timeout_ns >= 0 ? host_mono_ns() + (uint64_t)timeout_ns : 0;
	int err = 0;

	atomic_fetch_add(&g->hwaiters, 1);
	for (;;) {
		int64_t left = -1;

		if (kgen_read(g) != seen)
			break;
		if (timeout_ns >= 0) {
			uint64_t now = host_mono_ns();

			if (now >= deadline) {
				err = -ETIMEDOUT;
				break;
			}
			left = (int64_t)(deadline - now);
		}
		if (host_futex_wait(&g->v, seen, left) == -EINTR) {
			err = -EINTR;
			break;
		}
	}
	atomic_fetch_sub(&g->hwaiters, 1);
	return err;
}

int kgen_wait_cpu(struct kgen *g, uint32_t seen, int64_t timeout_ns)
{
	return kgen_wait_host(g, seen, timeout_ns);
}

int kgen_wait(struct kgen *g, uint32_t seen, int64_t timeout_ns)
{
	struct kthread *t = kthread_self();

	if (!t)
		return kgen_wait_host(g, seen, timeout_ns);
	if (t->cpu->bcast)
		return kgen_wait_bcast(t, g, seen, timeout_ns);
	return kgen_wait_queue(g, seen, timeout_ns);
}
