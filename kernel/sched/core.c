/*
 * The scheduler: per-CPU run queues of kernel threads, direct switches
 * between threads, timers, I/O readiness through epoll, and wake-ups from
 * other processes through the CPU's doorbell.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "uml/check.h"
#include "uml/gen.h"
#include "uml/host.h"
#include "uml/machine.h"
#include "uml/mm.h"
#include "sched_internal.h"

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define VALGRIND_STACK_REGISTER(a, b) 0
#define VALGRIND_STACK_DEREGISTER(id) ((void)(id))
#endif

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define STACK_UNPOISON(p, n)		 ASAN_UNPOISON_MEMORY_REGION((p), (n))
#define FIBER_START(save, bottom, size)	 __sanitizer_start_switch_fiber((save), (bottom), (size))
#define FIBER_FINISH(save, bottom, size) __sanitizer_finish_switch_fiber((save), (bottom), (size))
#else
#define STACK_UNPOISON(p, n)		 ((void)(p), (void)(n))
#define FIBER_START(save, bottom, size)	 ((void)(save), (void)(bottom), (void)(size))
#define FIBER_FINISH(save, bottom, size) ((void)(save), (void)(bottom), (void)(size))
#endif

#define STACK_SIZE(t) (PAGE_SIZE << (t)->stack_order)
/* Poll for I/O after this many switches even while threads stay runnable. */
#define POLL_EVERY 64

void sched_switch(void **save_sp, void *load_sp);

/* This host thread's CPU; a forked child inherits it, so it counts only in its generation. */
static __thread struct sched_cpu *this_cpu;
static __thread uint32_t this_cpu_gen;

static inline struct sched_cpu *cur_cpu(void)
{
	return this_cpu_gen == host_fork_generation() ? this_cpu : NULL;
}
/* The host thread's own stack, learnt at the first switch (ASan only). */
static __thread const void *host_stack_bottom;
static __thread size_t host_stack_size;
/* The machine's cache of struct kthread; every process finds it there. */
#define kthread_cache (machine->kthread_cache)

struct sched_cpu *sched_this_cpu(void)
{
	return cur_cpu();
}

struct kthread *kthread_self(void)
{
	struct sched_cpu *cpu = sched_this_cpu();

	return cpu ? cpu->current : NULL;
}

static void reap_dead_cpu(struct sched_cpu *cpu);

/* The broadcast's pointer in every epoll set: any unique address. */
static char bcast_tag;

static struct sched_cpu **cpu_table(void)
{
	return machine->sched;
}

int sched_cpu_init(void)
{
	struct sched_cpu *cpu, **tab;
	bool reaped = false;
	int id = -1, err;

	if (cur_cpu())
		return -EALREADY;
	if (this_cpu) {
		/* Inherited through fork: the parent's CPU. Drop our copies of its fds. */
		host_close(this_cpu->epfd);
		host_close(this_cpu->bellfd);
		this_cpu = NULL;
		host_stack_bottom = NULL;
	}
	if (!machine)
		return -ENODEV;
	spin_lock(&machine->sched_lock);
	if (!kthread_cache)
		kthread_cache = kmem_cache_create("kthread", sizeof(struct kthread), 64);
	spin_unlock(&machine->sched_lock);
	cpu = kzalloc(sizeof(*cpu));
	if (!cpu || !kthread_cache) {
		kfree(cpu);
		return -ENOMEM;
	}
	/*
	 * Whose it is, before the table shows it: a reaper in another process
	 * judges every entry by its thread, and took a CPU with no tid yet
	 * for a dead one -- it freed our CPU, threads and stacks under us.
	 */
	cpu->pid = host_pid();
	cpu->tid = host_tid();
	spin_lock(&machine->sched_lock);
	tab = cpu_table();
	for (int i = 0; i < MACHINE_MAX_CPUS; i++)
		if (!tab[i] || !host_task_alive(tab[i]->tid)) {
			id = i;
			break;
		}
	if (id >= 0) {
		reaped = tab[id] != NULL;
		if (reaped)
			reap_dead_cpu(tab[id]);
		tab[id] = cpu;
	}
	spin_unlock(&machine->sched_lock);
	if (reaped)
		kgen_kick(); /* as sched_reap does */
	if (id < 0) {
		kfree(cpu);
		return -EBUSY;
	}
	cpu->id = (uint32_t)id;
	spin_lock_init_rank(&cpu->remote_lock, LOCK_RANK_CPU_REMOTE);
	{
		uint64_t boot;

		/*
		 * Abstract names are host-wide, and two machines may be mapped
		 * at the same address (a restarted server re-finds its hint):
		 * the boot's random verifier tells them apart. Within a boot the
		 * serial does: the slot number would not, since a CPU is found
		 * dead by its thread's exit while the rest of its process,
		 * still holding the old doorbell, may take a moment longer.
		 */
		memcpy(&boot, machine->boot_verf, sizeof(boot));
		snprintf(cpu->bell, sizeof(cpu->bell), "uml-%p-%016llx-%u", (void *)machine,
			 (unsigned long long)boot, atomic_fetch_add(&machine->cpu_serial, 1));
	}
	cpu->epfd = host_poll_create();
	cpu->bellfd = host_doorbell_open(cpu->bell);
	if (cpu->epfd < 0 || cpu->bellfd < 0) {
		err = cpu->epfd < 0 ? cpu->epfd : cpu->bellfd;
		goto out_free;
	}
	/* The doorbell stays armed: it is re-armed after every ring. */
	err = host_poll_arm(cpu->epfd, cpu->bellfd, HOST_POLLIN, cpu);
	if (err)
		goto out_free;
	/* Edge-triggered and never read: every ring is one event here (uml/gen.h). */
	list_init(&cpu->gen_waiters);
	{
		int bfd = kgen_bcast_fd();

		cpu->bcast = bfd >= 0 && host_poll_add(cpu->epfd, bfd, HOST_POLLIN | HOST_POLLET,
						       &bcast_tag) == 0;
	}
	host_fork_watch();
	this_cpu = cpu;
	this_cpu_gen = host_fork_generation();
	return 0;
out_free:
	if (cpu->epfd >= 0)
		host_close(cpu->epfd);
	if (cpu->bellfd >= 0)
		host_close(cpu->bellfd);
	spin_lock(&machine->sched_lock);
	cpu_table()[id] = NULL;
	spin_unlock(&machine->sched_lock);
	kfree(cpu);
	return err;
}

static void free_thread(struct kthread *t);

int sched_cpu_exit(void)
{
	struct sched_cpu *cpu = cur_cpu();

	if (!cpu)
		return -EPERM;
	if (cpu->current || atomic_load(&cpu->nthreads))
		return -EBUSY;
	spin_lock(&machine->sched_lock);
	cpu_table()[cpu->id] = NULL;
	spin_unlock(&machine->sched_lock);
	while (!list_empty(&cpu->all)) /* finished, never joined */
		free_thread(list_entry(cpu->all.first, struct kthread, all));
	while (cpu->nstack_cache) {
		char *stack = cpu->stack_cache[--cpu->nstack_cache].stack;

		host_protect(stack, PAGE_SIZE, false);
		page_free(stack, cpu->stack_cache[cpu->nstack_cache].order);
	}
	host_close(cpu->epfd);
	host_close(cpu->bellfd);
	this_cpu = NULL;
	host_stack_bottom = NULL;
	kfree(cpu);
	return 0;
}

int sched_cpu_stats(int i, struct sched_stats *st)
{
	struct sched_cpu *cpu;

	if (i < 0 || i >= MACHINE_MAX_CPUS || !machine)
		return -ENOENT;
	cpu = cpu_table()[i];
	if (!cpu || !host_task_alive(cpu->tid))
		return -ENOENT;
	st->switches = atomic_load(&cpu->switches);
	st->threads = atomic_load(&cpu->nthreads);
	st->runnable = atomic_load(&cpu->nrunnable);
	st->remote_wakes = atomic_load(&cpu->remote_wakes);
	st->io_wakes = atomic_load(&cpu->io_wakes);
	st->timers = atomic_load(&cpu->ntimers);
	st->pid = cpu->pid;
	return 0;
}

/* --- run queues (local) --- */

static void rq_push(struct sched_cpu *cpu, struct kthread *t)
{
	list_add_tail(&cpu->rq[t->prio], &t->rq);
	atomic_fetch_add_explicit(&cpu->nrunnable, 1, memory_order_relaxed);
}

static struct kthread *rq_pop(struct sched_cpu *cpu)
{
	for (unsigned p = 0; p < SCHED_NPRIO; p++) {
		struct list_node *n = list_pop_head(&cpu->rq[p]);

		if (!n)
			continue;
		atomic_fetch_sub_explicit(&cpu->nrunnable, 1, memory_order_relaxed);
		return list_entry(n, struct kthread, rq);
	}
	return NULL;
}

/* Threads woken from elsewhere join the run queue, in the order they came. */
static void drain_remote(struct sched_cpu *cpu)
{
	struct list_node *n;
	struct list woken;

	/* A peek without the lock: wakers only ever make the list non-empty. */
	if (!READ_ONCE(*(_Atomic(struct list_node *) *)&cpu->remote.first))
		return;
	spin_lock(&cpu->remote_lock);
	woken = cpu->remote;
	list_init(&cpu->remote);
	spin_unlock(&cpu->remote_lock);
	while ((n = list_pop_head(&woken)))
		rq_push(cpu, list_entry(n, struct kthread, rq));
}

void sched_wake(struct kthread *t)
{
	struct sched_cpu *cpu = t->cpu;
	uint32_t st = KT_BLOCKED;

	if (!atomic_compare_exchange_strong(&t->state, &st, KT_RUNNABLE))
		return; /* running, already runnable, or dead */
	if (cpu == cur_cpu()) {
		rq_push(cpu, t);
		return;
	}
	spin_lock(&cpu->remote_lock);
	list_add_tail(&cpu->remote, &t->rq);
	spin_unlock(&cpu->remote_lock);
	atomic_fetch_add_explicit(&cpu->remote_wakes, 1, memory_order_relaxed);
	if (atomic_exchange(&cpu->bell_pending, 1) == 0)
		host_doorbell_ring(cpu->bell);
}

/* --- timers (local): a list sorted by wake time --- */

static inline struct kthread *timer_first(struct sched_cpu *cpu)
{
	return list_entry(cpu->timers.first, struct kthread, timer);
}

void sched_timer_arm(struct kthread *t, int64_t timeout_ns)
{
	struct list_node *pos;

	t->wake_at = host_mono_ns() + (uint64_t)timeout_ns;
	t->timed_out = false;
	/* Behind those due at the same time: they fire in the order armed. */
	for (pos = t->cpu->timers.first; pos; pos = pos->next)
		if (list_entry(pos, struct kthread, timer)->wake_at > t->wake_at)
			break;
	list_add_before(&t->cpu->timers, pos, &t->timer);
	atomic_fetch_add_explicit(&t->cpu->ntimers, 1, memory_order_relaxed);
}

void sched_timer_cancel(struct kthread *t)
{
	if (!list_linked(&t->cpu->timers, &t->timer))
		return;
	list_del(&t->cpu->timers, &t->timer);
	atomic_fetch_sub_explicit(&t->cpu->ntimers, 1, memory_order_relaxed);
}

static void fire_timers(struct sched_cpu *cpu)
{
	struct kthread *t;
	uint64_t now;

	if (list_empty(&cpu->timers))
		return;
	now = host_mono_ns();
	while ((t = timer_first(cpu)) && t->wake_at <= now) {
		list_del(&cpu->timers, &t->timer);
		atomic_fetch_sub_explicit(&cpu->ntimers, 1, memory_order_relaxed);
		t->timed_out = true;
		sched_wake(t);
	}
}

/* --- I/O --- */

/*
 * epoll hands back a pointer per registration: the CPU itself (its doorbell),
 * a kthread (armed once by kthread_wait_fd) or a kwatch, tagged in its low bit.
 */
#define KWATCH_TAG 1u

static void poll_io(struct sched_cpu *cpu, int timeout_ms)
{
	struct host_poll_event ev[64];
	int n = host_poll_wait(cpu->epfd, ev, 64, timeout_ms);

	cpu->since_poll = 0;
	for (int i = 0; i < n; i++) {
		uintptr_t tag = (uintptr_t)ev[i].ptr;

		if (ev[i].ptr == &bcast_tag) {
			/* Nothing to re-arm or drain; kgen_scan below looks. */
		} else if (ev[i].ptr == cpu) {
			/*
			 * Empty the bell before saying it may ring again: the
			 * other order could swallow a ring made in between and
			 * leave bell_pending set for good, so that no waker
			 * rang again. A waker that still sees it set has queued
			 * its thread, which drain_remote below picks up.
			 */
			host_doorbell_drain(cpu->bellfd);
			atomic_store(&cpu->bell_pending, 0);
			host_poll_arm(cpu->epfd, cpu->bellfd, HOST_POLLIN, cpu);
		} else if (tag & KWATCH_TAG) {
			struct kwatch *w = (struct kwatch *)(tag & ~(uintptr_t)KWATCH_TAG);

			w->events |= ev[i].events;
			if (w->waiter)
				sched_wake(w->waiter);
		} else {
			struct kthread *t = ev[i].ptr;

			t->io_events = ev[i].events;
			sched_wake(t);
		}
		atomic_fetch_add_explicit(&cpu->io_wakes, 1, memory_order_relaxed);
	}
	/* Whatever woke us: a counter may have moved with its ring still on its way. */
	if (!list_empty(&cpu->gen_waiters))
		kgen_scan(cpu);
	drain_remote(cpu);
}

static inline bool interrupted(struct kthread *t)
{
	return atomic_load_explicit(&t->interrupted, memory_order_relaxed);
}

/* Arm @t's timer, or say there is none. */
static void timer_start(struct kthread *t, int64_t timeout_ns)
{
	if (timeout_ns >= 0)
		sched_timer_arm(t, timeout_ns);
	else
		t->timed_out = false;
}

int kthread_wait_fd(int fd, uint32_t events, int timeout_ms)
{
	struct kthread *t = kthread_self();
	int err;

	if (!t)
		return -EPERM;
	if (interrupted(t))
		return -EINTR;
	t->io_events = 0;
	err = host_poll_arm(t->cpu->epfd, fd, events, t);
	if (err)
		return err;
	timer_start(t, timeout_ms < 0 ? -1 : (int64_t)timeout_ms * 1000000);
	sched_block_until(t, t->io_events || t->timed_out || interrupted(t));
	sched_timer_cancel(t);
	if (t->io_events)
		return (int)t->io_events;
	/* The one-shot registration still points at us: take it back. */
	host_poll_forget(t->cpu->epfd, fd);
	return interrupted(t) ? -EINTR : -ETIMEDOUT;
}

void kthread_interrupt(struct kthread *t)
{
	atomic_store(&t->interrupted, 1);
	sched_wake(t);
}

int kwatch_add(struct kwatch *w, int fd, uint32_t events)
{
	struct sched_cpu *cpu = cur_cpu();

	if (!cpu)
		return -EPERM;
	w->fd = fd;
	w->events = 0;
	w->waiter = NULL;
	w->cpu = cpu;
	return host_poll_add(cpu->epfd, fd, events | HOST_POLLET,
			     (void *)((uintptr_t)w | KWATCH_TAG));
}

int kwatch_wait(struct kwatch *w, int timeout_ms)
{
	struct kthread *t = kthread_self();
	uint32_t ev;

	if (!t || w->cpu != t->cpu || w->waiter)
		return -EPERM;
	if (!w->events) {
		if (interrupted(t))
			return -EINTR;
		w->waiter = t;
		timer_start(t, timeout_ms < 0 ? -1 : (int64_t)timeout_ms * 1000000);
		sched_block_until(t, w->events || t->timed_out || interrupted(t));
		sched_timer_cancel(t);
		w->waiter = NULL;
		if (!w->events)
			return interrupted(t) ? -EINTR : -ETIMEDOUT;
	}
	ev = w->events;
	w->events = 0;
	return (int)ev;
}

void kwatch_del(struct kwatch *w)
{
	host_poll_forget(w->cpu->epfd, w->fd);
	w->events = 0;
}

/* --- switching --- */

static void free_thread(struct kthread *t)
{
	struct sched_cpu *cpu = t->cpu;

	list_del(&cpu->all, &t->all);
	VALGRIND_STACK_DEREGISTER(t->valgrind_id);
	/* Keep a few stacks, guard and all: creating a thread then needs no system call. */
	if (cpu->nstack_cache < SCHED_STACK_CACHE) {
		cpu->stack_cache[cpu->nstack_cache].stack = t->stack;
		cpu->stack_cache[cpu->nstack_cache++].order = t->stack_order;
	} else {
		host_protect(t->stack, PAGE_SIZE, false);
		page_free(t->stack, t->stack_order);
	}
	kmem_cache_free(kthread_cache, t);
}

/*
 * Free what a CPU whose process died still holds: its threads and cached
 * stacks. Its guard pages were set in that process only, so the pages are
 * plain memory everywhere else. Called with sched_lock held.
 */
static void reap_dead_cpu(struct sched_cpu *cpu)
{
	struct list_node *n;

	/*
	 * First off every shared wait queue (a generation every watcher
	 * sleeps on, a mutex, a completion of a thread of this very CPU),
	 * while all the threads still exist, then free them.
	 */
	list_for_each(pos, &cpu->all) kwait_forget(&list_entry(pos, struct kthread, all)->waiter);
	while ((n = list_pop_head(&cpu->all))) {
		struct kthread *t = list_entry(n, struct kthread, all);

		if (t->stack) /* NULL: it died making the thread */
			page_free(t->stack, t->stack_order);
		kmem_cache_free(kthread_cache, t);
	}
	while (cpu->nstack_cache) {
		cpu->nstack_cache--;
		page_free(cpu->stack_cache[cpu->nstack_cache].stack,
			  cpu->stack_cache[cpu->nstack_cache].order);
	}
	kfree(cpu);
}

int sched_reap(void)
{
	int n = 0;

	if (!machine)
		return 0;
	/* Host threads' waiters first: one may sleep on a dead CPU's thread. */
	kwait_reap();
	spin_lock(&machine->sched_lock);
	for (int i = 0; i < MACHINE_MAX_CPUS; i++) {
		struct sched_cpu *cpu = machine->sched[i];

		if (cpu && !host_task_alive(cpu->tid)) {
			machine->sched[i] = NULL;
			reap_dead_cpu(cpu);
			n++;
		}
	}
	spin_unlock(&machine->sched_lock);
	/* It may have died between moving a counter and waking its watchers (uml/gen.h). */
	if (n)
		kgen_kick();
	return n;
}

/* A dead thread's stack can go only once we are off it. */
static void reap_zombie(struct sched_cpu *cpu)
{
	struct kthread *z = cpu->zombie;

	if (!z)
		return;
	cpu->zombie = NULL;
	if (z->detached)
		free_thread(z);
}

/* The debug build's record of held locks follows the thread that runs (uml/sync.h). */
static inline void lock_record_switch(struct kthread *next)
{
#ifdef MM_DEBUG
	spin_order_switch(next ? &next->held : NULL);
#else
	(void)next;
#endif
}

static void switch_to(struct sched_cpu *cpu, void **save, struct kthread *next, bool dying)
{
	void *fake = NULL;

	atomic_fetch_add_explicit(&cpu->switches, 1, memory_order_relaxed);
	cpu->current = next;
	lock_record_switch(next);
	if (next) {
		atomic_store_explicit(&next->state, KT_RUNNING, memory_order_relaxed);
		FIBER_START(dying ? NULL : &fake, next->stack + PAGE_SIZE,
			    STACK_SIZE(next) - PAGE_SIZE);
		sched_switch(save, next->sp);
	} else {
		FIBER_START(dying ? NULL : &fake, host_stack_bottom, host_stack_size);
		sched_switch(save, cpu->idle_sp);
	}
	FIBER_FINISH(fake, NULL, NULL);
	reap_zombie(cpu);
}

void sched_switch_away(struct sched_cpu *cpu)
{
	struct kthread *prev = cpu->current, *next;
	uint32_t st = atomic_load(&prev->state);

	if (st == KT_RUNNING) { /* a yield */
		atomic_store(&prev->state, KT_RUNNABLE);
		rq_push(cpu, prev);
	} else if (st == KT_BLOCKED) {
		kgen_defer_sleeping(prev);
	}
	drain_remote(cpu);
	if (++cpu->since_poll >= POLL_EVERY)
		poll_io(cpu, 0);
	else if (!list_empty(&cpu->gen_waiters))
		kgen_scan(cpu); /* a load per waiter: moved counters don't wait for the poll */
	fire_timers(cpu);
	next = rq_pop(cpu);
	if (next == prev) {
		atomic_store(&prev->state, KT_RUNNING);
		return;
	}
	switch_to(cpu, &prev->sp, next, st == KT_DEAD);
}

void kthread_yield(void)
{
	struct kthread *t = kthread_self();

	if (t)
		sched_switch_away(t->cpu);
	else
		host_yield();
}

int kthread_sleep_ns(uint64_t ns)
{
	struct kthread *t = kthread_self();

	if (!t) {
		host_sleep_ns(ns);
		return 0;
	}
	if (interrupted(t))
		return -EINTR;
	sched_timer_arm(t, (int64_t)ns);
	sched_block_until(t, t->timed_out || interrupted(t));
	sched_timer_cancel(t);
	return t->timed_out ? 0 : -EINTR;
}

static void __attribute__((noreturn)) kthread_main(void)
{
	struct sched_cpu *cpu = cur_cpu();
	struct kthread *t = cpu->current;
	const void *bottom = NULL;
	size_t size = 0;

	/* The first switch into any thread tells ASan where the host stack is. */
	FIBER_FINISH(NULL, &bottom, &size);
	if (!host_stack_bottom) {
		host_stack_bottom = bottom;
		host_stack_size = size;
	}
	reap_zombie(cpu);
	t->ret = t->fn(t->arg);
	atomic_store(&t->state, KT_DEAD);
	atomic_fetch_sub(&cpu->nthreads, 1);
	cpu->zombie = t;
	if (!t->detached)
		kcompletion_complete(&t->done);
	sched_switch_away(cpu);
	__builtin_unreachable();
}

/* A stack of 2^@order pages from the CPU's cache or the page allocator, guard page set. */
static char *stack_get(struct sched_cpu *cpu, unsigned order)
{
	char *stack;

	for (uint32_t i = cpu->nstack_cache; i-- > 0;) {
		if (cpu->stack_cache[i].order != order)
			continue;
		stack = cpu->stack_cache[i].stack;
		cpu->stack_cache[i] = cpu->stack_cache[--cpu->nstack_cache];
		return stack;
	}
	stack = page_alloc(order);
	if (stack)
		host_protect(stack, PAGE_SIZE, true);
	return stack;
}

bool kthread_stack_cached(unsigned order)
{
	struct sched_cpu *cpu = cur_cpu();

	for (uint32_t i = 0; cpu && i < cpu->nstack_cache; i++)
		if (cpu->stack_cache[i].order == order)
			return true;
	return false;
}

int kthread_create_stack(struct kthread **out, const char *name, int prio, unsigned stack_order,
			 int (*fn)(void *), void *arg)
{
	struct sched_cpu *cpu = cur_cpu();
	struct kthread *t;
	uint64_t *sp;

	if (!cpu)
		return -EPERM;
	if (prio < 0 || prio >= SCHED_NPRIO || stack_order < 2 ||
	    stack_order > SCHED_STACK_ORDER_MAX)
		return -EINVAL;
	t = kmem_cache_zalloc(kthread_cache);
	if (!t)
		return -ENOMEM;
	/* On the CPU's list before anything else can fail or die: the reaper finds it there. */
	list_add_head(&cpu->all, &t->all);
	t->stack = stack_get(cpu, stack_order);
	if (!t->stack) {
		list_del(&cpu->all, &t->all);
		kmem_cache_free(kthread_cache, t);
		return -ENOMEM;
	}
	t->stack_order = (uint8_t)stack_order;
	/* A reused stack still bears its last owner's ASan frame markings. */
	STACK_UNPOISON(t->stack + PAGE_SIZE, STACK_SIZE(t) - PAGE_SIZE);
	t->valgrind_id = VALGRIND_STACK_REGISTER(t->stack + PAGE_SIZE, t->stack + STACK_SIZE(t));
	t->cpu = cpu;
	t->prio = (uint8_t)prio;
	t->fn = fn;
	t->arg = arg;
	t->detached = out == NULL;
	t->waiter.thread = t;
	snprintf(t->name, sizeof(t->name), "%s", name ? name : "kthread");
	kcompletion_init(&t->done);
	/*
	 * The first switch to the thread pops six zeroed registers and
	 * "returns" into kthread_main with the stack aligned as after a call.
	 */
	sp = (uint64_t *)(t->stack + STACK_SIZE(t));
	*--sp = 0;
	*--sp = (uint64_t)(uintptr_t)kthread_main;
	for (int i = 0; i < 6; i++)
		*--sp = 0;
	t->sp = sp;
	atomic_fetch_add(&cpu->nthreads, 1);
	atomic_store(&t->state, KT_RUNNABLE);
	rq_push(cpu, t);
	if (out)
		*out = t;
	return 0;
}

void kthread_detach(struct kthread *t)
{
	/* A dead thread whose last switch is done is freed now, else at its exit. */
	if (atomic_load(&t->state) == KT_DEAD && t->cpu->zombie != t)
		free_thread(t);
	else
		t->detached = true;
}

int kthread_create(struct kthread **out, const char *name, int prio, int (*fn)(void *), void *arg)
{
	return kthread_create_stack(out, name, prio, SCHED_STACK_ORDER, fn, arg);
}

int kthread_join(struct kthread *t, int *ret)
{
	/* Its stack's guard page is set in its own process: free it there. */
	if (t->detached || t->cpu->pid != host_pid())
		return -EINVAL;
	kcompletion_wait(&t->done);
	/* It completed just before its last switch: let that switch happen. */
	while (atomic_load(&t->state) != KT_DEAD || t->cpu->zombie == t)
		kthread_yield();
	if (ret)
		*ret = t->ret;
	free_thread(t);
	return 0;
}

int sched_cpu_run(bool drain)
{
	struct sched_cpu *cpu = cur_cpu();

	if (!cpu)
		return -EPERM;
	for (;;) {
		struct kthread *next;

		drain_remote(cpu);
		fire_timers(cpu);
		next = rq_pop(cpu);
		if (next) {
			switch_to(cpu, &cpu->idle_sp, next, false);
			continue;
		}
		if (atomic_load(&cpu->stop) && (!drain || atomic_load(&cpu->nthreads) == 0))
			break;
		{
			int timeout = -1;

			if (!list_empty(&cpu->timers)) {
				uint64_t now = host_mono_ns(), at = timer_first(cpu)->wake_at;

				timeout = at <= now ? 0 : (int)((at - now + 999999) / 1000000);
			}
			poll_io(cpu, timeout);
		}
	}
	atomic_store(&cpu->stop, 0);
	return 0;
}

void sched_cpu_stop(struct sched_cpu *cpu)
{
	atomic_store(&cpu->stop, 1);
	if (atomic_exchange(&cpu->bell_pending, 1) == 0)
		host_doorbell_ring(cpu->bell);
}

void sched_ring_all(void)
{
	/* Under sched_lock: a CPU of a dead process could be reaped meanwhile. */
	spin_lock(&machine->sched_lock);
	for (int i = 0; i < MACHINE_MAX_CPUS; i++) {
		struct sched_cpu *cpu = cpu_table()[i];

		if (cpu && atomic_exchange(&cpu->bell_pending, 1) == 0)
			host_doorbell_ring(cpu->bell);
	}
	spin_unlock(&machine->sched_lock);
}

void sched_process_cpus_stop(void)
{
	uint32_t pid = host_pid();

	if (!machine)
		return;
	/* Under sched_lock: a CPU of a dead process could be reaped meanwhile. */
	spin_lock(&machine->sched_lock);
	for (int i = 0; i < MACHINE_MAX_CPUS; i++) {
		struct sched_cpu *cpu = cpu_table()[i];

		if (cpu && cpu->pid == pid)
			sched_cpu_stop(cpu);
	}
	spin_unlock(&machine->sched_lock);
}

/*
 * Audit (uml_check): CPUs whose process died and that wait for the reaper,
 * the calling CPU's own threads (another CPU's lists are its own business
 * while it runs), and the host threads' waiters.
 */
void sched_check(struct kcheck *r)
{
	struct sched_cpu *me = cur_cpu();
	unsigned live = 0, dead = 0, threads = 0, waiters = 0, asleep = 0;

	if (!machine)
		return;
	spin_lock(&machine->sched_lock);
	for (int i = 0; i < MACHINE_MAX_CPUS; i++) {
		struct sched_cpu *cpu = cpu_table()[i];

		if (!cpu)
			continue;
		if (cpu == me || host_task_alive(cpu->tid)) {
			live++;
			continue;
		}
		dead++;
		kcheck_line(r, "sched: cpu %d of pid %u died and waits for the reaper", i,
			    cpu->pid);
	}
	spin_unlock(&machine->sched_lock);
	if (me && kthread_self()) {
		list_for_each(pos, &me->all)
		{
			struct kthread *t = list_entry(pos, struct kthread, all);
			struct page *pg = mm_page_of(t), *st = mm_page_of(t->stack);

			threads++;
			if (!pg || pg->cache != kthread_cache || !st || !(st->flags & PG_HEAD) ||
			    st->order != t->stack_order)
				kcheck_fail(r,
					    "sched: cpu %u: thread %p is not a thread with a stack",
					    me->id, (void *)t);
			if (threads > atomic_load(&me->nthreads) + 64) {
				kcheck_fail(r, "sched: cpu %u: its thread list loops", me->id);
				break;
			}
		}
	}
	spin_lock(&machine->waiters_lock);
	list_for_each(pos, &machine->host_waiters)
	{
		struct kwaiter *w = list_entry(pos, struct kwaiter, reg);

		waiters++;
		asleep += w->wq != NULL;
	}
	spin_unlock(&machine->waiters_lock);
	kcheck_line(r,
		    "sched: %u cpus live, %u dead; this cpu runs %u threads; %u host threads have "
		    "waiters, %u asleep",
		    live, dead, threads, waiters, asleep);
}
