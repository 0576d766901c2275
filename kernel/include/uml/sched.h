/*
 * kernel/sched: kernel threads.
 *
 * A CPU is one host thread of a process attached to the machine that runs
 * sched_cpu_run(). Kernel threads are created on a CPU and stay there: their
 * stacks are machine pages, but the host resources they use (file
 * descriptors, the epoll set) belong to that process. Switching between them
 * is a few instructions of assembly, no system call; a thread blocked on a
 * socket costs nothing until epoll reports it ready.
 *
 * Scheduling is cooperative within a CPU: a thread runs until it blocks,
 * sleeps or yields. Each CPU has one FIFO run queue per priority; the highest
 * non-empty queue runs first. Waking a thread of another CPU (another process)
 * puts it on that CPU's remote list and rings its doorbell, a datagram socket
 * in its epoll set.
 *
 * The sleeping primitives (struct kwait and what is built on it: ksem, kmtx,
 * kcompletion) work for kernel threads and for plain host threads
 * alike, in any process of the machine; a plain host thread sleeps on a futex.
 *
 * Calls return 0 or a negative errno.
 */
#ifndef UML_SCHED_H
#define UML_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "compiler.h"
#include "list.h"
#include "sync.h"

#define SCHED_NPRIO	      4 /* 0 is the most urgent */
#define SCHED_PRIO_DEFAULT    2
#define SCHED_STACK_ORDER     4 /* 64 KiB stacks, the lowest page a guard */
#define SCHED_STACK_ORDER_MAX 6

struct sched_cpu;
struct kthread;

/*
 * A waiter; lives where every process can see it: in its kthread, or for a
 * host thread, allocated once per thread and listed in machine.host_waiters
 * (reg), so that when its process dies the reaper finds it and unlinks it
 * from the queue it slept on before the memory is reused.
 */
struct kwaiter {
	struct list_node node;	/* on kwait.waiters; unlinked once woken */
	struct kwait *wq;	/* the queue it sleeps on; NULL when it sleeps on none */
	struct kthread *thread; /* NULL: a host thread sleeping on woken */
	_Atomic uint32_t woken;
	uint32_t excl;	      /* wake-one waiter */
	uint32_t pid;	      /* the waiter's process */
	uint32_t tid;	      /* a host waiter's thread */
	struct list_node reg; /* a host waiter: on machine.host_waiters */
};

/* A wait queue. lock guards the list. */
struct kwait {
	spinlock_t lock;     /* LOCK_RANK_KWAIT: under vfs; over remote_lock, zone (uml/sync.h) */
	struct list waiters; /* of struct kwaiter, in arrival order */
};

/* Counting semaphore; count and the queue are guarded by wq.lock. */
struct ksem {
	struct kwait wq;
	int64_t count;
};

/*
 * Sleeping mutex with a recorded owner: a waiter that finds the owner's
 * process gone takes the mutex over and is told (-EOWNERDEAD).
 * owner is the holder's pid, with KMTX_WAITERS set while anyone sleeps on
 * wq; taking and releasing a free, uncontended mutex is one atomic each.
 */
#define KMTX_WAITERS 0x80000000u
struct kmtx {
	struct kwait wq;
	_Atomic uint32_t owner; /* pid | KMTX_WAITERS, 0: free */
	uint64_t recovered;	/* guarded by wq.lock */
};

struct kcompletion {
	struct kwait wq;
	uint32_t done;
};

struct sched_stats {
	uint64_t switches;
	uint32_t threads;
	uint32_t runnable;
	uint64_t remote_wakes;
	uint64_t io_wakes; /* threads woken by epoll */
	uint32_t timers;   /* threads sleeping with a deadline */
	uint32_t pid;
};

/* --- CPUs --- */

/* Make the calling host thread a CPU (once per host thread). */
int sched_cpu_init(void);
/*
 * Run kernel threads on this CPU until sched_cpu_stop() is called (from any
 * thread of this process) and, with @drain, until no thread is left.
 */
int sched_cpu_run(bool drain);
/* Ask @cpu (of this process) to return from sched_cpu_run; from any host thread, not a signal. */
void sched_cpu_stop(struct sched_cpu *cpu);
struct sched_cpu *sched_this_cpu(void);
/*
 * The calling host thread stops being a CPU and gives back what it holds.
 * Only when no thread of it is left (after sched_cpu_run with drain): -EBUSY.
 */
int sched_cpu_exit(void);
/*
 * From a thread of a CPU: start a kernel thread on it that waits until @fd is
 * readable, then calls @before(@arg) (may be NULL; e.g. to stop services and
 * interrupt threads) and sched_cpu_stop()s the CPU. 0 or a negative errno.
 */
int sched_stop_on_fd(int fd, void (*before)(void *), void *arg);
/* sched_cpu_stop every CPU of the calling process (from a thread that is not one). */
void sched_process_cpus_stop(void);
/*
 * Free the threads, stacks and state of CPUs whose process died. Returns how
 * many. Cheap; the process that booted calls it now and then (uml_reap).
 */
int sched_reap(void);
/*
 * Unlink from its queue and free every host thread's waiter whose process
 * is dead (part of sched_reap). Returns how many.
 */
int kwait_reap(void);
struct kcheck;
/* Audit the CPUs, this CPU's threads and the host waiters into @r (uml/check.h). */
void sched_check(struct kcheck *r);
/* Stats of CPU @i of the machine (0..MACHINE_MAX_CPUS-1); -ENOENT if not in use. */
int sched_cpu_stats(int i, struct sched_stats *st);

/* --- threads --- */

/*
 * A persistent, edge-triggered watch on a socket: registered once, so a
 * thread that waits on it again and again makes no system call to re-arm
 * it (kthread_wait_fd arms a one-shot watch at every wait). Readiness that
 * comes while nobody waits is kept in @events; the owner takes it with
 * kwatch_wait, and must work the socket until it would block (EAGAIN)
 * before it waits again, or it may wait for an edge that already passed.
 * With HOST_POLLEXCLUSIVE it suits a listener that many CPUs share: new work
 * wakes one CPU rather than all, which one-shot arming cannot do. A kwatch
 * belongs to one CPU and is used by one thread at a time; it lives in that
 * process's memory.
 */
struct kwatch {
	int fd;
	uint32_t events;	/* readiness seen and not yet taken */
	struct kthread *waiter; /* the thread in kwatch_wait, if any */
	struct sched_cpu *cpu;
};

/*
 * Create a thread on the calling CPU (or on @cpu's process when that is
 * this process) that runs @fn(@arg). *@out (may be NULL) names it for
 * kthread_join. Returns -ENOMEM without memory for the stack.
 */
int kthread_create(struct kthread **out, const char *name, int prio, int (*fn)(void *), void *arg);
/*
 * The same with a stack of 2^@stack_order pages (2..SCHED_STACK_ORDER_MAX),
 * the lowest one a guard: threads that run many at a time and need little
 * stack (a connection) take a smaller one.
 */
int kthread_create_stack(struct kthread **out, const char *name, int prio, unsigned stack_order,
			 int (*fn)(void *), void *arg);
/* Whether this CPU keeps a freed stack of 2^@order pages: a thread on it then takes no memory. */
bool kthread_stack_cached(unsigned order);
/* Wait for @t to finish (from a thread of the same CPU); its return value in *@ret. */
int kthread_join(struct kthread *t, int *ret);
/*
 * Nobody will join @t: it is freed when it finishes (or now, if it has).
 * From a thread of its CPU. Until it finishes the pointer stays usable, e.g.
 * for kthread_interrupt.
 */
void kthread_detach(struct kthread *t);
void kthread_yield(void);
/* Sleep @ns nanoseconds (a host thread sleeps on the host). 0, or -EINTR. */
int kthread_sleep_ns(uint64_t ns);
struct kthread *kthread_self(void);
/*
 * Wait until @fd is ready for @events (HOST_POLLIN/HOST_POLLOUT) or @timeout_ms
 * passes (< 0: no limit). Returns the ready events, -ETIMEDOUT or -EINTR.
 */
int kthread_wait_fd(int fd, uint32_t events, int timeout_ms);

/*
 * Interrupt @t: the wait it is in, and every interruptible wait it starts
 * from now on, returns -EINTR (kthread_wait_fd, kthread_sleep_ns, kwatch_wait,
 * kwait_sleep_locked with KWAIT_INTR). It is how a thread is asked to finish;
 * the flag is never cleared. Callable from any thread of any process, as long
 * as @t has not exited (the caller must know that, e.g. because @t unlinks
 * itself from the caller's list before it exits).
 */
void kthread_interrupt(struct kthread *t);

/*
 * Start watching @fd for @events (HOST_POLLIN, HOST_POLLOUT, HOST_POLLRDHUP, and
 * HOST_POLLEXCLUSIVE for a shared listener) on the calling CPU. Returns 0 or a
 * negative errno.
 */
int kwatch_add(struct kwatch *w, int fd, uint32_t events);
/*
 * Take the readiness seen on @w, waiting for some when there is none, at
 * most @timeout_ms (< 0: no limit). Returns the events, -ETIMEDOUT or -EINTR.
 */
int kwatch_wait(struct kwatch *w, int timeout_ms);
/* Stop watching; @w may be freed afterwards. */
void kwatch_del(struct kwatch *w);

/* --- sleeping primitives --- */

/* Zeroed memory is an empty queue too, but its lock then has no rank (uml/sync.h). */
void kwait_init(struct kwait *wq);
#define KWAIT_EXCL 0x1 /* a wake-one waiter */
#define KWAIT_INTR 0x2 /* a kernel thread's sleep ends when it is interrupted */
/*
 * Sleep on @wq until woken or @timeout_ns passes (< 0: none). Call with
 * wq->lock held; it is released while asleep and not held on return.
 * Returns 0 when woken, -ETIMEDOUT, or -EINTR (with KWAIT_INTR).
 */
int kwait_sleep_locked(struct kwait *wq, unsigned flags, int64_t timeout_ns);
/* Wake up to @n waiters (INT32_MAX: all). Takes wq->lock. */
int kwait_wake(struct kwait *wq, int n);
/* The same, wq->lock held (by a waker that changed what its sleepers look at under it). */
int kwait_wake_locked(struct kwait *wq, int n);

void ksem_init(struct ksem *s, int64_t count);
void ksem_down(struct ksem *s);
int ksem_down_timeout(struct ksem *s, int64_t timeout_ns);
void ksem_up(struct ksem *s);

void kmtx_init(struct kmtx *m);
/* 0, or -EOWNERDEAD when taken over from a holder whose process died. */
int kmtx_lock(struct kmtx *m);
void kmtx_unlock(struct kmtx *m);

void kcompletion_init(struct kcompletion *c);
void kcompletion_wait(struct kcompletion *c);
void kcompletion_complete(struct kcompletion *c);

#endif
