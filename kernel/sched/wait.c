/*
 * Sleeping: wait queues, and the semaphores, mutexes, rw-semaphores and
 * completions built on them. A waiter is a kernel thread (woken through the
 * scheduler, possibly on another CPU) or a plain host thread (woken through a
 * futex on its waiter). Wake-ups are done with the queue's lock held, so a
 * waiter that gives up on a timeout and takes the lock knows for sure whether
 * it was woken.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include "uml/host.h"
#include "uml/machine.h"
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

int kwait_wake_locked(struct kwait *wq, int n)
{
	return wake_locked(wq, n);
}

int kwait_wake(struct kwait *wq, int n)
{
	int woken;

	spin_lock(&wq->lock);
	woken = wake_locked(wq, n);
	spin_unlock(&wq->lock);
	return woken;
}

/*
 * A host thread's waiter: allocated in the arena at its first sleep and
 * kept for the thread's life, listed in machine.host_waiters so that the
 * reaper finds it when the process dies (kwait_reap), freed when the thread
 * exits. A forked child inherits the pointer, not the waiter: the fork
 * generation tells; nor is it the waiter of a machine booted since (a
 * restart into another layout).
 */
static __thread struct kwaiter *host_waiter;
static __thread uint32_t host_waiter_gen;
static __thread struct machine *host_waiter_machine; /* a restart may boot another */
static pthread_key_t host_waiter_key;
static pthread_once_t host_waiter_once = PTHREAD_ONCE_INIT;

static void host_waiter_release(void *arg)
{
	struct kwaiter *w = arg;

	if (!w || !machine || w->tid != host_tid() || host_waiter_machine != machine)
		return;
	spin_lock(&machine->waiters_lock);
	list_del(&machine->host_waiters, &w->reg);
	spin_unlock(&machine->waiters_lock);
	kfree(w);
	host_waiter = NULL;
}

static void host_waiter_key_init(void)
{
	pthread_key_create(&host_waiter_key, host_waiter_release);
}

/* This host thread's waiter, or NULL when the arena is out of memory. */
static struct kwaiter *host_waiter_get(void)
{
	struct kwaiter *w;

	if (host_waiter && host_waiter_gen == host_fork_generation() &&
	    host_waiter_machine == machine)
		return host_waiter;
	host_fork_watch();
	pthread_once(&host_waiter_once, host_waiter_key_init);
	w = kzalloc(sizeof(*w));
	if (!w)
		return NULL;
	w->pid = host_pid();
	w->tid = host_tid();
	spin_lock(&machine->waiters_lock);
	list_add_tail(&machine->host_waiters, &w->reg);
	spin_unlock(&machine->waiters_lock);
	host_waiter = w;
	host_waiter_gen = host_fork_generation();
	host_waiter_machine = machine;
	pthread_setspecific(host_waiter_key, w);
	return w;
}

int kwait_sleep_locked(struct kwait *wq, unsigned flags, int64_t timeout_ns)
{
	struct kthread *t = kthread_self();
	struct kwaiter *w;
	bool queued;

	/* On a kernel thread: in its struct kthread, visible to every waker. */
	w = t ? &t->waiter : host_waiter_get();
	if (!w) {
		/* No room for a waiter: let the caller look again in a moment. */
		spin_unlock(&wq->lock);
		host_sleep_ns(1000000);
		return -EAGAIN;
	}
	atomic_store(&w->woken, 0);
	w->excl = !!(flags & KWAIT_EXCL);
	w->pid = host_pid();
	w->wq = wq;
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
	/* Under the lock: a waker that popped us may still be waking us. */
	spin_lock(&wq->lock);
	queued = wq_del(wq, w);
	w->wq = NULL;
	spin_unlock(&wq->lock);
	if (!queued)
		return 0;
	return t && !t->timed_out && atomic_load(&t->interrupted) ? -EINTR : -ETIMEDOUT;
}

void kwait_forget(struct kwaiter *w)
{
	struct kwait *wq = w->wq;

	if (!wq)
		return;
	spin_lock(&wq->lock);
	wq_del(wq, w);
	w->wq = NULL;
	spin_unlock(&wq->lock);
}

int kwait_reap(void)
{
	struct list dead;
	uint32_t live_pid = 0, dead_pid = 0;
	int n = 0;

	if (!machine)
		return 0;
	list_init(&dead);
	spin_lock(&machine->waiters_lock);
	list_for_each_safe(pos, &machine->host_waiters)
	{
		struct kwaiter *w = list_entry(pos, struct kwaiter, reg);
		bool gone;

		/* One liveness check per process, not per thread: they come in runs. */
		if (w->pid == live_pid) {
			gone = false;
		} else if (w->pid == dead_pid) {
			gone = true;
		} else {
			gone = !host_task_alive(w->pid);
			*(gone ? &dead_pid : &live_pid) = w->pid;
		}
		if (!gone)
			continue;
		list_del(&machine->host_waiters, &w->reg);
		list_add_tail(&dead, &w->reg);
	}
	spin_unlock(&machine->waiters_lock);
	/* Off the registry, nobody else reaps them; take each queue's lock without waiters_lock. */
	for (struct list_node *pos; (pos = list_pop_head(&dead)); n++) {
		struct kwaiter *w = list_entry(pos, struct kwaiter, reg);

		kwait_forget(w);
		kfree(w);
	}
	return n;
}

/* --- semaphores --- */

void ksem_init(struct ksem *s, int64_t count)
{
	kwait_init(&s->wq);
	s->count = count;
}

int ksem_down_timeout(struct ksem *s, int64_t timeout_ns)
{
	uint64_t deadline = timeout_ns >= 0 ? host_mono_ns() + (uint64_t)timeout_ns : 0;
	int err;

	do {
		spin_lock(&s->wq.lock);
		if (s->count > 0) {
			s->count--;
			spin_unlock(&s->wq.lock);
			return 0;
		}
		if (timeout_ns >= 0) {
			uint64_t now = host_mono_ns();

			timeout_ns = now < deadline ? (int64_t)(deadline - now) : 0;
		}
		/* ksem_up hands its unit straight to the waiter it wakes. */
		err = kwait_sleep_locked(&s->wq, KWAIT_EXCL, timeout_ns);
	} while (err == -EAGAIN);
	return err;
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
		&m->owner, &owner, me, memory_order_acquire, memory_order_relaxed))) {
		host_fault_point();
		return 0;
	}
	/* Holders keep it for nanoseconds: a short spin beats a sleep and a wake. */
	for (int i = 0; i < KMTX_SPIN; i++) {
		host_cpu_relax();
		owner = 0;
		if (atomic_load_explicit(&m->owner, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_weak_explicit(
			&m->owner, &owner, me, memory_order_acquire, memory_order_relaxed)) {
			host_fault_point();
			return 0;
		}
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
				host_fault_point();
				return dead ? -EOWNERDEAD : 0;
			}
			if ((owner & KMTX_WAITERS) ||
			    atomic_compare_exchange_strong(&m->owner, &owner, owner | KMTX_WAITERS))
				break;
		}
		switch (kwait_sleep_locked(&m->wq, KWAIT_EXCL, KMTX_CHECK_NS)) {
		case 0:
			if ((atomic_load(&m->owner) & ~KMTX_WAITERS) == me) {
				host_fault_point();
				return 0; /* handed over by kmtx_unlock */
			}
			break;
		default:
			check_owner = true; /* held for long: is the holder still there? */
		}
	}
}

void kmtx_unlock(struct kmtx *m)
{
	uint32_t me;

	host_fault_point();
	me = atomic_load_explicit(&m->owner, memory_order_relaxed);

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
