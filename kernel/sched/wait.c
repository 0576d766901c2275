/*
 * Sleeping: wait queues, and the semaphores, mutexes, rw-semaphores and
 * completions built on them. A waiter is a kernel thread (woken through the
 * scheduler, possibly on another CPU) or a plain host thread (woken through a
 * futex on its waiter). Wake-ups are done with the queue's lock held, so a
 * waiter that gives up on a timeout and takes the lock knows for sure whether
 * it was woken.
 */
#include <errno.h>
#include <stdint.h>

#include "uml/host.h"
#include "uml/mm.h"
#include "sched_internal.h"

void kwait_init(struct kwait *wq)
{
	spin_lock_init_rank(&wq->lock, LOCK_RANK_KWAIT);
	list_init(&wq->waiters);
}

/* Unlink @w if it is still queued; returns whether it was. Lock held. */
static bool wq_del(struct kwait *wq, struct kwaiter *w)
{
	/* A waker unlinks what it wakes, so a waiter still linked was not woken. */
	if (!list_linked(&wq->waiters, &w->node))
		return false;
	list_del(&wq->waiters, &w->node);
	return true;
}

static void waiter_wake(struct kwaiter *w)
{
	atomic_store(&w->woken, 1);
	if (w->thread)
		sched_wake(w->thread);
	else
		host_futex_wake(&w->woken, 1);
}

/* Lock held. Wakes up to @n waiters, counting a wake-one waiter as the last. */
static int wake_locked(struct kwait *wq, int n)
{
	int woken = 0;

	while (woken < n && !list_empty(&wq->waiters)) {
		struct kwaiter *w = list_entry(list_pop_head(&wq->waiters), struct kwaiter, node);

		waiter_wake(w);
		woken++;
		if (w->excl)
			break;
	}
	return woken;
}

int kwait_wake(struct kwait *wq, int n)
{
	int woken;

	spin_lock(&wq->lock);
	woken = wake_locked(wq, n);
	spin_unlock(&wq->lock);
	return woken;
}

int kwait_sleep_locked(struct kwait *wq, unsigned flags, int64_t timeout_ns)
{
	struct kthread *t = kthread_self();
	struct kwaiter host_w = {0}, *w;
	bool queued;

	if (t) {
		w = &t->waiter; /* on a kernel thread: in the arena, visible to every waker */
	} else {
		w = kzalloc(sizeof(*w)); /* a host thread's stack is its own: use the arena */
		if (!w)
			w = &host_w; /* only ever woken from this process then */
	}
	atomic_store(&w->woken, 0);
	w->excl = !!(flags & KWAIT_EXCL);
	w->pid = host_pid();
	list_add_tail(&wq->waiters, &w->node);
	spin_unlock(&wq->lock);

	if (t) {
		bool intr = flags & KWAIT_INTR;

		if (timeout_ns >= 0)
			sched_timer_arm(t, timeout_ns);
		else
			t->timed_out = false;
		sched_block_until(t, atomic_load(&w->woken) || t->timed_out ||
					 (intr && atomic_load(&t->interrupted)));
		sched_timer_cancel(t);
	} else {
		uint64_t deadline = timeout_ns >= 0 ? host_mono_ns() + (uint64_t)timeout_ns : 0;

		while (!atomic_load(&w->woken)) {
			int64_t left = -1;

			if (timeout_ns >= 0) {
				uint64_t now = host_mono_ns();

				if (now >= deadline)
					break;
				left = (int64_t)(deadline - now);
			}
			host_futex_wait(&w->woken, 0, left);
		}
	}
	if (atomic_load(&w->woken)) {
		queued = false;
	} else {
		spin_lock(&wq->lock);
		queued = wq_del(wq, w);
		spin_unlock(&wq->lock);
	}
	if (!t && w != &host_w)
		kfree(w);
	if (!queued)
		return 0;
	return t && !t->timed_out && atomic_load(&t->interrupted) ? -EINTR : -ETIMEDOUT;
}

/* --- semaphores --- */

void ksem_init(struct ksem *s, int64_t count)
{
	kwait_init(&s->wq);
	s->count = count;
}

int ksem_down_timeout(struct ksem *s, int64_t timeout_ns)
{
	spin_lock(&s->wq.lock);
	if (s->count > 0) {
		s->count--;
		spin_unlock(&s->wq.lock);
		return 0;
	}
	/* ksem_up hands its unit straight to the waiter it wakes. */
	return kwait_sleep_locked(&s->wq, KWAIT_EXCL, timeout_ns);
}

void ksem_down(struct ksem *s)
{
	ksem_down_timeout(s, -1);
}

void ksem_up(struct ksem *s)
{
	spin_lock(&s->wq.lock);
	if (!wake_locked(&s->wq, 1))
		s->count++;
	spin_unlock(&s->wq.lock);
}

/* --- mutexes with recorded owners --- */

#define KMTX_CHECK_NS 100000000 /* how often a waiter checks that the owner lives */
#define KMTX_SPIN     200	/* polls of a held mutex before going to sleep */

void kmtx_init(struct kmtx *m)
{
	kwait_init(&m->wq);
	atomic_store(&m->owner, 0);
	m->recovered = 0;
}

int kmtx_lock(struct kmtx *m)
{
	uint32_t me = host_pid(), owner = 0;
	bool check_owner = false;

	if (likely(atomic_compare_exchange_strong_explicit(
		&m->owner, &owner, me, memory_order_acquire, memory_order_relaxed)))
		return 0;
	/* Holders keep it for nanoseconds: a short spin beats a sleep and a wake. */
	for (int i = 0; i < KMTX_SPIN; i++) {
		host_cpu_relax();
		owner = 0;
		if (atomic_load_explicit(&m->owner, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_weak_explicit(
			&m->owner, &owner, me, memory_order_acquire, memory_order_relaxed))
			return 0;
	}
	for (;;) {
		spin_lock(&m->wq.lock);
		owner = atomic_load(&m->owner);
		/* Every change below is a CAS: the fast paths don't take wq.lock. */
		for (;;) {
			uint32_t holder = owner & ~KMTX_WAITERS;
			bool dead = holder && check_owner && !host_task_alive(holder);

			if (!holder || dead) {
				uint32_t want =
				    me | (list_empty(&m->wq.waiters) ? 0 : KMTX_WAITERS);

				if (!atomic_compare_exchange_strong(&m->owner, &owner, want))
					continue;
				if (dead)
					m->recovered++; /* the holder's process is gone: say so */
				spin_unlock(&m->wq.lock);
				return dead ? -EOWNERDEAD : 0;
			}
			if ((owner & KMTX_WAITERS) ||
			    atomic_compare_exchange_strong(&m->owner, &owner, owner | KMTX_WAITERS))
				break;
		}
		switch (kwait_sleep_locked(&m->wq, KWAIT_EXCL, KMTX_CHECK_NS)) {
		case 0:
			if ((atomic_load(&m->owner) & ~KMTX_WAITERS) == me)
				return 0; /* handed over by kmtx_unlock */
			break;
		default:
			check_owner = true; /* held for long: is the holder still there? */
		}
	}
}

void kmtx_unlock(struct kmtx *m)
{
	uint32_t me = atomic_load_explicit(&m->owner, memory_order_relaxed);

	if (likely(!(me & KMTX_WAITERS)) &&
	    atomic_compare_exchange_strong_explicit(&m->owner, &me, 0, memory_order_release,
						    memory_order_relaxed))
		return;
	spin_lock(&m->wq.lock);
	if (!list_empty(&m->wq.waiters)) {
		/* Hand over to the first waiter, so a stream of newcomers can't starve it. */
		struct kwaiter *w = list_entry(m->wq.waiters.first, struct kwaiter, node);

		atomic_store(&m->owner, w->pid | (w->node.next ? KMTX_WAITERS : 0));
		wake_locked(&m->wq, 1);
	} else {
		atomic_store(&m->owner, 0);
	}
	spin_unlock(&m->wq.lock);
}

/* --- completions --- */

void kcompletion_init(struct kcompletion *c)
{
	kwait_init(&c->wq);
	c->done = 0;
}

void kcompletion_wait(struct kcompletion *c)
{
	spin_lock(&c->wq.lock);
	while (!c->done) {
		kwait_sleep_locked(&c->wq, 0, -1);
		spin_lock(&c->wq.lock);
	}
	spin_unlock(&c->wq.lock);
}

void kcompletion_complete(struct kcompletion *c)
{
	spin_lock(&c->wq.lock);
	c->done = 1;
	wake_locked(&c->wq, INT32_MAX);
	spin_unlock(&c->wq.lock);
}
