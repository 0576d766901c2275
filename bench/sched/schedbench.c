/*
 * Scheduler figures (issue "kernel/sched"), each against its peer in one run.
 *
 *   schedbench switch N      ns per switch: two kernel threads handing a token back
 *                            and forth with semaphores, and with plain yields; two
 *                            pthreads with a mutex+condvar; two swapcontext contexts.
 *   schedbench create N      ns per thread create+exit+join: kthread vs pthread.
 *   schedbench lock N        ns per lock+unlock, uncontended: kmtx, spinlock, robust
 *                            process-shared pthread mutex; then two processes
 *                            contending for the same lock.
 * Each prints "name value" lines.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "uml.h"
#include "uml/sched.h"
#include "uml/sync.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static long iters;

/* --- switch: kernel threads --- */

static struct ksem *ping, *pong;

static int kping(void *arg)
{
	(void)arg;
	for (long i = 0; i < iters; i++) {
		ksem_up(ping);
		ksem_down(pong);
	}
	return 0;
}

static int kpong(void *arg)
{
	(void)arg;
	for (long i = 0; i < iters; i++) {
		ksem_down(ping);
		ksem_up(pong);
	}
	return 0;
}

static int kyield(void *arg)
{
	(void)arg;
	for (long i = 0; i < iters; i++)
		kthread_yield();
	return 0;
}

static double run_pair(int (*a)(void *), int (*b)(void *))
{
	uint64_t t0 = now_ns();

	kthread_create(NULL, "a", SCHED_PRIO_DEFAULT, a, NULL);
	kthread_create(NULL, "b", SCHED_PRIO_DEFAULT, b, NULL);
	sched_cpu_stop(sched_this_cpu());
	sched_cpu_run(true);
	return (double)(now_ns() - t0) / (double)(2 * iters);
}

/* --- switch: pthreads on a condvar --- */

static pthread_mutex_t pm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pc = PTHREAD_COND_INITIALIZER;
static long turn;

static void *pt_side(void *arg)
{
	long me = (long)arg;

	pthread_mutex_lock(&pm);
	for (long i = 0; i < iters; i++) {
		while ((turn & 1) != me)
			pthread_cond_wait(&pc, &pm);
		turn++;
		pthread_cond_signal(&pc);
	}
	pthread_mutex_unlock(&pm);
	return NULL;
}

static double run_pthreads(void)
{
	pthread_t a, b;
	uint64_t t0 = now_ns();

	pthread_create(&a, NULL, pt_side, (void *)0L);
	pthread_create(&b, NULL, pt_side, (void *)1L);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	return (double)(now_ns() - t0) / (double)(2 * iters);
}

/* --- switch: swapcontext --- */

static ucontext_t uc_main, uc_a, uc_b;

static void uc_fn(void)
{
	for (;;)
		swapcontext(&uc_b, &uc_a);
}

static double run_swapcontext(void)
{
	static char stack[64 * 1024];
	uint64_t t0;

	getcontext(&uc_b);
	uc_b.uc_stack.ss_sp = stack;
	uc_b.uc_stack.ss_size = sizeof(stack);
	uc_b.uc_link = &uc_main;
	makecontext(&uc_b, uc_fn, 0);
	t0 = now_ns();
	for (long i = 0; i < iters; i++)
		swapcontext(&uc_a, &uc_b);
	return (double)(now_ns() - t0) / (double)(2 * iters);
}

static int cmd_switch(void)
{
	ping = uml_zalloc(sizeof(*ping));
	pong = uml_zalloc(sizeof(*pong));
	ksem_init(ping, 0);
	ksem_init(pong, 0);
	printf("kthread_sem %.2f\n", run_pair(kping, kpong));
	printf("kthread_yield %.2f\n", run_pair(kyield, kyield));
	printf("pthread_condvar %.2f\n", run_pthreads());
	printf("swapcontext %.2f\n", run_swapcontext());
	return 0;
}

/* --- create --- */

static int knop(void *arg)
{
	return (int)(long)arg;
}

static int kcreator(void *arg)
{
	(void)arg;
	for (long i = 0; i < iters; i++) {
		struct kthread *t;

		kthread_create(&t, "nop", SCHED_PRIO_DEFAULT, knop, NULL);
		kthread_join(t, NULL);
	}
	return 0;
}

static void *pnop(void *arg)
{
	return arg;
}

static int cmd_create(void)
{
	uint64_t t0 = now_ns();

	kthread_create(NULL, "creator", SCHED_PRIO_DEFAULT, kcreator, NULL);
	sched_cpu_stop(sched_this_cpu());
	sched_cpu_run(true);
	printf("kthread_create_join %.2f\n", (double)(now_ns() - t0) / (double)iters);
	t0 = now_ns();
	for (long i = 0; i < iters; i++) {
		pthread_t t;

		pthread_create(&t, NULL, pnop, NULL);
		pthread_join(t, NULL);
	}
	printf("pthread_create_join %.2f\n", (double)(now_ns() - t0) / (double)iters);
	return 0;
}

/* --- locks --- */

struct locks {
	struct kmtx k;
	spinlock_t s;
	pthread_mutex_t p;
	long counter;
};

static void lock_loop(struct locks *l, int which)
{
	for (long i = 0; i < iters; i++) {
		switch (which) {
		case 0:
			kmtx_lock(&l->k);
			l->counter++;
			kmtx_unlock(&l->k);
			break;
		case 1:
			spin_lock(&l->s);
			l->counter++;
			spin_unlock(&l->s);
			break;
		default:
			pthread_mutex_lock(&l->p);
			l->counter++;
			pthread_mutex_unlock(&l->p);
		}
	}
}

static int cmd_lock(void)
{
	static const char *names[] = {"kmtx", "spinlock", "pthread_pshared_robust"};
	struct locks *l = uml_zalloc(sizeof(*l));
	pthread_mutexattr_t a;

	kmtx_init(&l->k);
	spin_lock_init(&l->s);
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&l->p, &a);
	for (int w = 0; w < 3; w++) {
		uint64_t t0 = now_ns();

		lock_loop(l, w);
		printf("%s_uncontended %.2f\n", names[w], (double)(now_ns() - t0) / (double)iters);
	}
	for (int w = 0; w < 3; w++) {
		uint64_t t0 = now_ns();

		l->counter = 0;
		if (fork() == 0) {
			lock_loop(l, w);
			_exit(0);
		}
		lock_loop(l, w);
		wait(NULL);
		printf("%s_2proc %.2f\n", names[w], (double)(now_ns() - t0) / (double)(2 * iters));
		if (l->counter != 2 * iters)
			fprintf(stderr, "schedbench: %s lost updates\n", names[w]);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct uml_boot_params bp = {.memory = 64 << 20};

	if (argc != 3 || uml_boot(&bp) || sched_cpu_init()) {
		fprintf(stderr, "usage: schedbench switch|create|lock N\n");
		return 2;
	}
	iters = atol(argv[2]);
	if (!strcmp(argv[1], "switch"))
		return cmd_switch();
	if (!strcmp(argv[1], "create"))
		return cmd_create();
	if (!strcmp(argv[1], "lock"))
		return cmd_lock();
	return 2;
}
