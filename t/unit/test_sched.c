/*
 * kernel/sched: kernel threads, the scheduler and the sleeping primitives.
 *  1     threads of one priority run round-robin
 *  2     a more urgent thread runs first
 *  3     sleepers wake in deadline order, never early
 *  4     join returns the thread's result; many detached threads come and go
 *  5     a thread blocked on a pipe wakes when it becomes readable; a wait times out
 *  6     a plain host thread wakes a kernel thread (doorbell)
 *  7     100 threads x 200 increments under a kmtx with yields inside stay exact
 *  8     semaphores as a bounded queue between two processes: 20000 items in order
 *  9     a completion in one process wakes a thread in another
 * 10-11  a kmtx holder killed with SIGKILL: the next locker is told, within a bounded time
 * 12     a host thread interrupts threads waiting on an fd, a sleep and a wait queue
 * 13     a thread of another process is interrupted
 * 14     two processes accept from one listener through exclusive watches: none lost
 * 15     stacks of every order; bad orders are refused
 * 16     host threads that slept on a semaphore (each with a waiter in the
 *        arena) exit cleanly, one after another: the waiter is freed by a
 *        key destructor that may run after the allocator's own has given
 *        the thread's cache back (it crashed there, found by test_tcp)
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "uml.h"
#include "uml/host.h"
#include "uml/mm.h"
#include "uml/sched.h"
#include "uml/compiler.h"

static char trace[256];
static int ntrace;

static void mark(char c)
{
	if (ntrace < (int)sizeof(trace) - 1)
		trace[ntrace++] = c;
}

static int rr_thread(void *arg)
{
	for (int i = 0; i < 3; i++) {
		mark(*(char *)arg);
		kthread_yield();
	}
	return 0;
}

static void run_all(void)
{
	sched_cpu_stop(sched_this_cpu());
	sched_cpu_run(true);
}

static void test_round_robin(void)
{
	static char ids[] = "abc";

	ntrace = 0;
	for (int i = 0; i < 3; i++)
		kthread_create(NULL, "rr", SCHED_PRIO_DEFAULT, rr_thread, &ids[i]);
	run_all();
	trace[ntrace] = '\0';
	ok(strcmp(trace, "abcabcabc") == 0, "round-robin among equals (%s)", trace);
}

static int mark_once(void *arg)
{
	mark(*(char *)arg);
	return 0;
}

static void test_priority(void)
{
	static char lo = 'l', hi = 'h';

	ntrace = 0;
	kthread_create(NULL, "lo", 3, mark_once, &lo);
	kthread_create(NULL, "hi", 0, mark_once, &hi);
	run_all();
	trace[ntrace] = '\0';
	ok(strcmp(trace, "hl") == 0, "the urgent thread runs first (%s)", trace);
}

struct sleeper {
	char id;
	uint64_t ns, woke;
};

static int sleep_thread(void *arg)
{
	struct sleeper *s = arg;
	uint64_t t0 = host_mono_ns();

	kthread_sleep_ns(s->ns);
	s->woke = host_mono_ns() - t0;
	mark(s->id);
	return 0;
}

static void test_timers(void)
{
	struct sleeper s[3] = {{'b', 20000000, 0}, {'a', 5000000, 0}, {'c', 40000000, 0}};

	ntrace = 0;
	for (int i = 0; i < 3; i++)
		kthread_create(NULL, "sleep", SCHED_PRIO_DEFAULT, sleep_thread, &s[i]);
	run_all();
	trace[ntrace] = '\0';
	ok(strcmp(trace, "abc") == 0 && s[0].woke >= s[0].ns && s[1].woke >= s[1].ns &&
	       s[2].woke >= s[2].ns,
	   "sleepers wake in deadline order, none early (%s)", trace);
}

static int square(void *arg)
{
	long v = (long)arg;

	kthread_yield();
	return (int)(v * v);
}

static int joiner(void *arg)
{
	int *res = arg, r = 0;
	struct kthread *t;

	kthread_create(&t, "sq", SCHED_PRIO_DEFAULT, square, (void *)7L);
	kthread_join(t, &r);
	*res = r;
	for (int i = 0; i < 1000; i++)
		kthread_create(NULL, "short", SCHED_PRIO_DEFAULT, square, (void *)(long)i);
	return 0;
}

static void test_join(void)
{
	int res = 0;
	struct sched_stats st;

	kthread_create(NULL, "joiner", SCHED_PRIO_DEFAULT, joiner, &res);
	run_all();
	sched_cpu_stats((int)0, &st);
	ok(res == 49 && st.threads == 0, "join gives 49; 1000 detached threads all gone");
}

static int pipe_fds[2];
static int fd_result, fd_timeout;

static int reader(void *arg)
{
	char c;

	(void)arg;
	fd_timeout = kthread_wait_fd(pipe_fds[0], EPOLLIN, 10);
	fd_result = kthread_wait_fd(pipe_fds[0], EPOLLIN, 5000);
	if (read(pipe_fds[0], &c, 1) != 1)
		fd_result = -EIO;
	return 0;
}

static int writer(void *arg)
{
	(void)arg;
	kthread_sleep_ns(30000000);
	if (write(pipe_fds[1], "x", 1) != 1)
		return -1;
	return 0;
}

static void test_wait_fd(void)
{
	if (pipe(pipe_fds))
		bail_out("pipe");
	kthread_create(NULL, "reader", SCHED_PRIO_DEFAULT, reader, NULL);
	kthread_create(NULL, "writer", SCHED_PRIO_DEFAULT, writer, NULL);
	run_all();
	ok(fd_timeout == -ETIMEDOUT && (fd_result & EPOLLIN),
	   "blocked on a pipe: times out empty, wakes when written");
	close(pipe_fds[0]);
	close(pipe_fds[1]);
}

static struct ksem host_sem;
static int host_woken;

static int wait_host(void *arg)
{
	(void)arg;
	ksem_down(&host_sem);
	host_woken = 1;
	return 0;
}

static void *host_poster(void *arg)
{
	(void)arg;
	usleep(20000);
	ksem_up(&host_sem);
	return NULL;
}

static void test_host_wakes_kthread(void)
{
	pthread_t th;

	ksem_init(&host_sem, 0);
	kthread_create(NULL, "waiter", SCHED_PRIO_DEFAULT, wait_host, NULL);
	pthread_create(&th, NULL, host_poster, NULL);
	run_all();
	pthread_join(th, NULL);
	ok(host_woken, "a host thread's ksem_up wakes a kernel thread");
}

static struct ksem exit_sem;

static void *sleep_then_exit(void *arg)
{
	(void)arg;
	/* Both: a kmalloc'd object in this thread's magazine, and a host waiter. */
	kfree(kmalloc(64));
	return (void *)(intptr_t)ksem_down_timeout(&exit_sem, 1000000);
}

static void test_host_thread_exit(void)
{
	int good = 0;

	ksem_init(&exit_sem, 0);
	for (int i = 0; i < 8; i++) {
		pthread_t th;
		void *rc = NULL;

		pthread_create(&th, NULL, sleep_then_exit, NULL);
		pthread_join(th, &rc);
		good += (intptr_t)rc == -ETIMEDOUT;
	}
	ok(good == 8, "8 host threads slept on a semaphore, timed out and exited (%d did)", good);
}

struct shared {
	struct kmtx mtx;
	long counter;
	struct ksem empty, full;
	long ring[8];
	struct kcompletion ping;
	struct kthread *_Atomic remote;	  /* a thread of the child, for test 13 */
	struct kthread *_Atomic acceptor; /* the child's acceptor, test 14 */
	_Atomic int accepted[2];
};

static struct shared *sh;

static int incrementer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 200; i++) {
		kmtx_lock(&sh->mtx);
		long v = sh->counter;

		kthread_yield(); /* others run while we hold it; they must wait */
		sh->counter = v + 1;
		kmtx_unlock(&sh->mtx);
	}
	return 0;
}

static void test_mutex_stress(void)
{
	for (int i = 0; i < 100; i++)
		kthread_create(NULL, "inc", SCHED_PRIO_DEFAULT, incrementer, NULL);
	run_all();
	is_int(sh->counter, 20000, "100 threads x 200 increments under a kmtx");
}

#define ITEMS 20000

static int producer(void *arg)
{
	(void)arg;
	for (long i = 0; i < ITEMS; i++) {
		ksem_down(&sh->empty);
		sh->ring[i % 8] = i;
		ksem_up(&sh->full);
	}
	return 0;
}

static int consumer(void *arg)
{
	long *bad = arg;

	for (long i = 0; i < ITEMS; i++) {
		ksem_down(&sh->full);
		*bad += sh->ring[i % 8] != i;
		ksem_up(&sh->empty);
	}
	return 0;
}

static pid_t in_child(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct kthread *t;
		int ret = 1;

		if (sched_cpu_init() == 0 &&
		    kthread_create(&t, "child", SCHED_PRIO_DEFAULT, fn, arg) == 0) {
			sched_cpu_stop(sched_this_cpu());
			sched_cpu_run(true);
			ret = 0;
		}
		_exit(ret);
	}
	return pid;
}

static void test_bounded_queue(void)
{
	long bad = 0;
	pid_t pid;
	int status;

	ksem_init(&sh->empty, 8);
	ksem_init(&sh->full, 0);
	pid = in_child(producer, NULL);
	kthread_create(NULL, "consumer", SCHED_PRIO_DEFAULT, consumer, &bad);
	run_all();
	waitpid(pid, &status, 0);
	ok(bad == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "a producer process and a consumer process pass %d items in order", ITEMS);
}

static int ping_waiter(void *arg)
{
	(void)arg;
	kcompletion_wait(&sh->ping);
	return 0;
}

static int ping_completer(void *arg)
{
	(void)arg;
	kthread_sleep_ns(20000000);
	kcompletion_complete(&sh->ping);
	return 0;
}

static void test_cross_process_wake(void)
{
	pid_t pid;
	int status;

	kcompletion_init(&sh->ping);
	pid = in_child(ping_waiter, NULL);
	kthread_create(NULL, "completer", SCHED_PRIO_DEFAULT, ping_completer, NULL);
	run_all();
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "a completion in one process wakes a thread in another");
}

static int hold_forever(void *arg)
{
	int *fd = arg;

	kmtx_lock(&sh->mtx);
	if (write(*fd, "x", 1) != 1)
		return 1;
	for (;;)
		kthread_sleep_ns(1000000000);
	return 0;
}

static int lock_result = 1;
static uint64_t lock_wait_ns;

static int take_over(void *arg)
{
	uint64_t t0 = host_mono_ns();

	(void)arg;
	lock_result = kmtx_lock(&sh->mtx);
	lock_wait_ns = host_mono_ns() - t0;
	kmtx_unlock(&sh->mtx);
	return 0;
}

static void test_dead_holder(void)
{
	int p[2];
	pid_t pid;
	char c;

	kmtx_init(&sh->mtx);
	if (pipe(p))
		bail_out("pipe");
	pid = in_child(hold_forever, &p[1]);
	if (read(p[0], &c, 1) != 1)
		bail_out("holder did not start");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	kthread_create(NULL, "take", SCHED_PRIO_DEFAULT, take_over, NULL);
	run_all();
	is_int(lock_result, -EOWNERDEAD, "the next locker is told the holder died");
	ok(lock_wait_ns < 2000000000ull && sh->mtx.recovered == 1, "recovered in %.3f s",
	   (double)lock_wait_ns / 1e9);
	close(p[0]);
	close(p[1]);
}

static struct kwait intr_wq;
static int intr_fd_rc = 1, intr_sleep_rc = 1, intr_wq_rc = 1, intr_again = 1;
static uint64_t intr_t0;
static struct kthread *intr_threads[3];

static int intr_fd(void *arg)
{
	(void)arg;
	intr_fd_rc = kthread_wait_fd(pipe_fds[0], EPOLLIN, -1);
	/* The flag stays: the next wait ends at once. */
	intr_again = kthread_wait_fd(pipe_fds[0], EPOLLIN, -1);
	return 0;
}

static int intr_sleep(void *arg)
{
	(void)arg;
	intr_sleep_rc = kthread_sleep_ns(10000000000ull);
	return 0;
}

static int intr_queue(void *arg)
{
	(void)arg;
	spin_lock(&intr_wq.lock);
	intr_wq_rc = kwait_sleep_locked(&intr_wq, KWAIT_INTR, -1);
	return 0;
}

static void *interrupter(void *arg)
{
	(void)arg;
	usleep(20000);
	for (int i = 0; i < 3; i++)
		kthread_interrupt(intr_threads[i]);
	return NULL;
}

static void test_interrupt(void)
{
	pthread_t th;
	uint64_t took;

	if (pipe(pipe_fds))
		bail_out("pipe");
	kwait_init(&intr_wq);
	kthread_create(&intr_threads[0], "ifd", SCHED_PRIO_DEFAULT, intr_fd, NULL);
	kthread_create(&intr_threads[1], "isleep", SCHED_PRIO_DEFAULT, intr_sleep, NULL);
	kthread_create(&intr_threads[2], "iwq", SCHED_PRIO_DEFAULT, intr_queue, NULL);
	intr_t0 = host_mono_ns();
	pthread_create(&th, NULL, interrupter, NULL);
	run_all();
	for (int i = 0; i < 3; i++)
		kthread_join(intr_threads[i], NULL);
	took = host_mono_ns() - intr_t0;
	pthread_join(th, NULL);
	ok(intr_fd_rc == -EINTR && intr_again == -EINTR && intr_sleep_rc == -EINTR &&
	       intr_wq_rc == -EINTR && took < 2000000000ull && list_empty(&intr_wq.waiters),
	   "interrupted from a host thread: fd %d (then %d), sleep %d, queue %d, in %.3f s",
	   intr_fd_rc, intr_again, intr_sleep_rc, intr_wq_rc, (double)took / 1e9);
	close(pipe_fds[0]);
	close(pipe_fds[1]);
}

static int remote_waiter(void *arg)
{
	int *fd = arg;

	atomic_store(&sh->remote, kthread_self());
	return kthread_wait_fd(*fd, EPOLLIN, 10000) == -EINTR ? 0 : 1;
}

static void test_remote_interrupt(void)
{
	int p[2], status = -1;
	uint64_t t0;
	pid_t pid;

	if (pipe(p))
		bail_out("pipe");
	atomic_store(&sh->remote, NULL);
	pid = in_child(remote_waiter, &p[0]);
	while (!atomic_load(&sh->remote))
		usleep(1000);
	usleep(10000); /* let it block */
	t0 = host_mono_ns();
	kthread_interrupt(atomic_load(&sh->remote));
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0 && host_mono_ns() - t0 < 2000000000ull,
	   "a thread blocked in another process is interrupted");
	close(p[0]);
	close(p[1]);
}

/* Accept from the shared listener until interrupted; count into accepted[@which]. */
static int listener_fd;

static int acceptor(void *arg)
{
	int which = (int)(intptr_t)arg;
	struct kwatch w;

	if (which == 1)
		atomic_store(&sh->acceptor, kthread_self());
	if (kwatch_add(&w, listener_fd, EPOLLIN | EPOLLEXCLUSIVE))
		return 1;
	while (kwatch_wait(&w, -1) >= 0) {
		int fd;

		while ((fd = accept4(listener_fd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
			atomic_fetch_add(&sh->accepted[which], 1);
			close(fd);
		}
	}
	kwatch_del(&w);
	return 0;
}

#define NCONNECT 300

static void *connector(void *arg)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	(void)arg;
	getsockname(listener_fd, (struct sockaddr *)&sa, &len);
	for (int i = 0; i < NCONNECT; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (connect(fd, (struct sockaddr *)&sa, len) == 0 && i % 7 == 0)
			usleep(200); /* now and then a lull, so both sides go back to sleep */
		close(fd);
	}
	for (int i = 0; i < 5000; i++) {
		if (atomic_load(&sh->accepted[0]) + atomic_load(&sh->accepted[1]) >= NCONNECT)
			break;
		usleep(1000);
	}
	for (int i = 0; i < (int)(sizeof(intr_threads) / sizeof(intr_threads[0])); i++)
		if (intr_threads[i])
			kthread_interrupt(intr_threads[i]);
	kthread_interrupt(atomic_load(&sh->acceptor));
	return NULL;
}

static void test_shared_listener(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int status = -1, total;
	pthread_t th;
	pid_t pid;

	listener_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (listener_fd < 0 || bind(listener_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(listener_fd, 512))
		bail_out("listen");
	atomic_store(&sh->acceptor, NULL);
	pid = in_child(acceptor, (void *)(intptr_t)1);
	while (!atomic_load(&sh->acceptor))
		usleep(1000);
	memset(intr_threads, 0, sizeof(intr_threads));
	kthread_create(&intr_threads[0], "acceptor", SCHED_PRIO_DEFAULT, acceptor, (void *)0);
	pthread_create(&th, NULL, connector, NULL);
	run_all();
	kthread_join(intr_threads[0], NULL);
	pthread_join(th, NULL);
	waitpid(pid, &status, 0);
	total = atomic_load(&sh->accepted[0]) + atomic_load(&sh->accepted[1]);
	ok(total == NCONNECT && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "%d connections accepted of %d (this process %d, the other %d)", total, NCONNECT,
	   atomic_load(&sh->accepted[0]), atomic_load(&sh->accepted[1]));
	close(listener_fd);
}

static int deep(void *arg)
{
	volatile char buf[8192];

	buf[0] = 1;
	buf[sizeof(buf) - 1] = (char)(intptr_t)arg;
	return buf[0] + buf[sizeof(buf) - 1];
}

static void test_stack_orders(void)
{
	struct kthread *t[SCHED_STACK_ORDER_MAX + 1];
	int bad = 0, sum = 0;

	for (int round = 0; round < 3; round++) { /* the second and third reuse cached stacks */
		for (unsigned o = 2; o <= SCHED_STACK_ORDER_MAX; o++)
			if (kthread_create_stack(&t[o], "deep", SCHED_PRIO_DEFAULT, o, deep,
						 (void *)(intptr_t)o))
				bad++;
		run_all();
		for (unsigned o = 2; o <= SCHED_STACK_ORDER_MAX; o++) {
			int r = 0;

			kthread_join(t[o], &r);
			sum += r;
		}
	}
	ok(!bad && sum == 3 * (5 + 2 + 3 + 4 + 5 + 6) &&
	       kthread_create_stack(NULL, "x", 0, 1, deep, NULL) == -EINVAL &&
	       kthread_create_stack(NULL, "x", 0, SCHED_STACK_ORDER_MAX + 1, deep, NULL) == -EINVAL,
	   "threads on stacks of 16 KiB to 256 KiB; other sizes refused");
}

int main(void)
{
	struct uml_boot_params bp = {.memory = 16 << 20};

	plan(16);
	if (uml_boot(&bp) || sched_cpu_init())
		bail_out("boot failed");
	sh = uml_zalloc(sizeof(*sh));
	kmtx_init(&sh->mtx);
	test_round_robin();
	test_priority();
	test_timers();
	test_join();
	test_wait_fd();
	test_host_wakes_kthread();
	test_mutex_stress();
	test_bounded_queue();
	test_cross_process_wake();
	test_dead_holder();
	test_interrupt();
	test_remote_interrupt();
	test_shared_listener();
	test_stack_orders();
	test_host_thread_exit();
	return done_testing();
}
