/* Internals of kernel/sched shared by its files. */
#ifndef UML_SCHED_INTERNAL_H
#define UML_SCHED_INTERNAL_H

#include "uml/sched.h"

enum kthread_state { KT_RUNNING = 1, KT_RUNNABLE, KT_BLOCKED, KT_DEAD };

struct kgen;

/* A thread's deferred wake-ups (kgen_defer_begin): what its bumps owe. */
#define KGEN_DEFER_MAX 4
struct kgen_defer {
	uint32_t depth;
	uint32_t n;
	bool ring; /* the broadcast */
	struct {
		struct kgen *g;
		int futex; /* host threads to wake on g->v */
		bool wq;   /* g->wq to wake */
	} wake[KGEN_DEFER_MAX];
};

struct kthread {
	void *sp;		/* saved stack pointer while switched out */
	struct sched_cpu *cpu;	/* home CPU; never changes */
	struct list_node rq;	/* on a run queue or the remote list */
	struct list_node timer; /* on the timer list */
	struct list_node all;	/* on the CPU's list of every thread */
	_Atomic uint32_t state; /* enum kthread_state */
	uint8_t prio;
	bool timed_out;
	bool detached; /* nobody will join: free at exit */
	uint8_t stack_order;
	_Atomic uint32_t interrupted; /* kthread_interrupt was called */
	uint64_t wake_at;	      /* monotonic ns, while on the timer list */
	uint32_t io_events;
	int (*fn)(void *); /* only ever called in the creating process */
	void *arg;
	int ret;
	char *stack; /* 2^stack_order pages, the first one a guard */
	unsigned valgrind_id;
	struct kcompletion done;
	struct kwaiter waiter;
	/* Waiting for a kgen to move, woken by the broadcast (local to its CPU). */
	struct list_node gen_node; /* on cpu->gen_waiters */
	struct kgen *gen;
	uint32_t gen_seen;
	bool gen_moved;
	struct kgen_defer defer;
	char name[16];
#ifdef MM_DEBUG
	struct lock_held held; /* the locks it holds (uml/sync.h) */
#endif
};

/*
 * A CPU, in the arena. Fields under "local" are touched only by the host
 * thread that runs the CPU; remote by anyone under remote_lock.
 */
struct sched_cpu {
	uint32_t id, pid, tid;
	char bell[64];
	spinlock_t remote_lock; /* LOCK_RANK_CPU_REMOTE: a leaf (uml/sync.h) */
	struct list remote;	/* woken threads (kthread.rq), in the order woken */
	_Atomic uint32_t bell_pending;
	_Atomic uint32_t stop;
	_Atomic uint64_t switches;
	_Atomic uint64_t remote_wakes;
	_Atomic uint64_t io_wakes;
	_Atomic uint32_t ntimers;
	_Atomic uint32_t nthreads;
	_Atomic uint32_t nrunnable;
	/* local */
	struct list rq[SCHED_NPRIO]; /* runnable threads (kthread.rq), FIFO per priority */
	struct list timers;	     /* kthread.timer, by wake_at */
	struct kthread *current;
	struct kthread *zombie;
	struct list all;    /* every thread (kthread.all), so a dead CPU's can be freed */
#define SCHED_STACK_CACHE 4 /* per CPU: 256 KiB of default stacks at most */
	struct {
		char *stack;
		unsigned order;
	} stack_cache[SCHED_STACK_CACHE]; /* freed stacks, guard page still set */
	uint32_t nstack_cache;
	void *idle_sp;
	int epfd, bellfd;
	uint32_t since_poll;
	bool bcast;		 /* the broadcast is in epfd */
	struct list gen_waiters; /* kthread.gen_node: threads waiting for a kgen to move */
};

/*
 * Take the waiter of a dead thread off the queue it slept on, if any, under
 * the queue's lock: a waker that popped it has finished waking it by then.
 */
void kwait_forget(struct kwaiter *w);
/* Make @t runnable; from any thread of any process. */
void sched_wake(struct kthread *t);
/* Ring every CPU's doorbell: the broadcast's stand-in for a process without it. */
void sched_ring_all(void);
/* Wake the threads of @cpu (the calling one) whose kgen has moved. */
void kgen_scan(struct sched_cpu *cpu);
/*
 * @t is about to sleep: what it deferred goes out now. A deferral holds
 * wake-ups until a lock is free or a reply is out, never for as long as a
 * wait may last (a peer that does not read its replies).
 */
void kgen_defer_sleeping(struct kthread *t);
/* The current thread gives up the CPU (its state says why). */
void sched_switch_away(struct sched_cpu *cpu);
/* Put the current thread on the timer list for @timeout_ns from now. */
void sched_timer_arm(struct kthread *t, int64_t timeout_ns);
void sched_timer_cancel(struct kthread *t);

/*
 * Block the current thread @t until @cond holds; whoever makes @cond true
 * calls sched_wake(@t), from this CPU or another. The state is set before
 * @cond is read, so a waker on another CPU either finds the thread blocked
 * and queues it, or the thread finds @cond true. A thread that finds @cond
 * true after a waker queued it still switches away once, to use up that
 * queue entry: a running thread never sits on a queue.
 */
#define sched_block_until(t, cond)                                                                 \
	do {                                                                                       \
		for (;;) {                                                                         \
			atomic_store(&(t)->state, KT_BLOCKED);                                     \
			if (cond) {                                                                \
				uint32_t st_ = KT_BLOCKED;                                         \
				if (!atomic_compare_exchange_strong(&(t)->state, &st_,             \
								    KT_RUNNING))                   \
					sched_switch_away((t)->cpu);                               \
				break;                                                             \
			}                                                                          \
			sched_switch_away((t)->cpu);                                               \
		}                                                                                  \
	} while (0)

#endif
