/*
 * The debug build (make check-debug, -DMM_DEBUG) of kernel/mm and of the
 * lock order (uml/sync.h): each mistake below is made in a child process,
 * which must stop with a report naming it.
 *  1  a double free
 *  2  a write past the end of an object
 *  3  a write to an object after it was freed
 *  4  correct use runs clean
 *  5  a wait queue's lock taken under the zone lock (the order inverted)
 *  6  a kernel thread that switches away holding a spinlock
 *  7  the true order runs clean: a host thread sleeping on a semaphore
 *     allocates its waiter under the queue's lock
 *  8  each kernel thread has its own record: while one sleeps holding a
 *     mutex ranked after the wait queues, another thread of its CPU takes a
 *     wait queue's lock
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "uml.h"
#include "uml/mm.h"
#include "uml/sched.h"

#ifdef MM_DEBUG
static struct kmem_cache *cache;

static void double_free(void)
{
	void *p = kmem_cache_alloc(cache);

	kmem_cache_free(cache, p);
	kmem_cache_free(cache, p);
}

static void overflow(void)
{
	char *p = kmem_cache_alloc(cache);

	memset(p, 'x', 48 + 1);
	kmem_cache_free(cache, p);
}

static void use_after_free(void)
{
	char *p = kmem_cache_alloc(cache);

	kmem_cache_free(cache, p);
	p[20] = 'x';
	/* The magazine hands the same object out next: the write is found then. */
	kmem_cache_alloc(cache);
}

static void clean(void)
{
	for (int i = 0; i < 1000; i++)
		kmem_cache_free(cache, kmem_cache_alloc(cache));
}

static void inverted_order(void)
{
	struct kwait wq;

	kwait_init(&wq);
	spin_lock(&mm_zone()->lock);
	spin_lock(&wq.lock);
}

static int hold_across_switch(void *arg)
{
	struct kwait *wq = arg;

	spin_lock(&wq->lock);
	kthread_sleep_ns(1000000);
	spin_unlock(&wq->lock);
	sched_cpu_stop(sched_this_cpu());
	return 0;
}

static void spinlock_across_switch(void)
{
	struct kwait *wq = kzalloc(sizeof(*wq));

	kwait_init(wq);
	if (sched_cpu_init() || kthread_create(NULL, "holder", 0, hold_across_switch, wq))
		return;
	sched_cpu_run(true);
}

static void true_order(void)
{
	struct ksem *s = kzalloc(sizeof(*s));

	ksem_init(s, 0);
	mm_drain(); /* the waiter's allocation then takes the zone lock */
	ksem_down_timeout(s, 1000000);
}

static kmutex_t *late_mutex;

static int sleep_holding_mutex(void *arg)
{
	(void)arg;
	kmutex_lock(late_mutex);
	kthread_sleep_ns(2000000);
	kmutex_unlock(late_mutex);
	sched_cpu_stop(sched_this_cpu());
	return 0;
}

static int take_queue_lock(void *arg)
{
	struct kwait *wq = arg;

	spin_lock(&wq->lock);
	spin_unlock(&wq->lock);
	return 0;
}

static void records_per_kthread(void)
{
	struct kwait *wq = kzalloc(sizeof(*wq));

	late_mutex = kzalloc(sizeof(*late_mutex));
	kwait_init(wq);
	if (kmutex_init_rank(late_mutex, LOCK_RANK_ZONE) || sched_cpu_init() ||
	    kthread_create(NULL, "mutex", 0, sleep_holding_mutex, NULL) ||
	    kthread_create(NULL, "queue", 1, take_queue_lock, wq))
		_exit(1);
	sched_cpu_run(true);
}

/* Run @fn in a child with stderr in a pipe; expect @want in the report. */
static void expect(void (*fn)(void), const char *want, const char *what)
{
	char buf[512] = "";
	int p[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe(p))
		bail_out("pipe");
	pid = fork();
	if (pid == 0) {
		dup2(p[1], 2);
		fn();
		_exit(0);
	}
	close(p[1]);
	/* Everything it said: an earlier case may have left a lock for it to take over, and say so.
	 */
	for (size_t len = 0; (n = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0;)
		len += (size_t)n, buf[len] = '\0';
	close(p[0]);
	waitpid(pid, &status, 0);
	if (!want)
		ok(WIFEXITED(status) && WEXITSTATUS(status) == 0 && !buf[0], "%s", what);
	else
		ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(buf, want),
		   "%s: %s", what,
		   strstr(buf, "umlsync") ? strtok(strstr(buf, "umlsync"), "\n")
		   : buf[0]		  ? strtok(buf, "\n")
					  : "(no report)");
}

int main(void)
{
	struct uml_boot_params bp = {.memory = 2 << 20};
	char inverted[96];

	plan(8);
	if (uml_boot(&bp))
		bail_out("uml_boot failed");
	cache = kmem_cache_create("dbg48", 48, 0);
	expect(double_free, "double free", "a double free is reported");
	expect(overflow, "red zone overwritten", "a write past the end is reported at free");
	expect(use_after_free, "written after it was freed", "a write after free is reported");
	expect(clean, NULL, "correct use runs clean");
	/* The ranks as sync.h numbers them today (a new rank moves the zone's). */
	snprintf(inverted, sizeof(inverted),
		 "taking kwait.lock (rank %d) while holding mm_zone.lock (rank %d)",
		 LOCK_RANK_KWAIT, LOCK_RANK_ZONE);
	expect(inverted_order, inverted, "an inverted lock order is reported with both locks");
	expect(spinlock_across_switch, "a kernel thread switches away holding kwait.lock",
	       "a kernel thread switching away holding a spinlock is reported");
	expect(true_order, NULL, "the true order runs clean");
	expect(records_per_kthread, NULL, "each kernel thread keeps its own record of locks held");
	return done_testing();
}
#else
int main(void)
{
	printf("1..0 # SKIP allocator debug checks need a -DMM_DEBUG build (make check-debug)\n");
	return 0;
}
#endif
