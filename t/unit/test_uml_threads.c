/*
 * libuml's thread API, used as an application would: only uml.h.
 *  1  worker threads fed through a semaphore each return their share; join collects them
 *  2  a thread waits for a pipe and wakes when it is written
 *  3  uml_lock keeps a counter exact across yields, and returns 0 (no holder died)
 *  4  /status-style scheduler text lists this CPU
 *  5  a kernel thread asleep on a generation leaves its CPU to the others,
 *     and wakes when another process bumps the generation
 *  6  a kernel thread's wait on an unchanged generation times out
 *  7  a thread on a 16 KiB stack interrupts itself: its later waits (sleep,
 *     fd, generation) end with -EINTR; another thread interrupts a sleeper
 */
#include <sys/wait.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "uml.h"

static uml_sem_t *work;
static uml_lock_t *lock;
static long counter, lock_errors;
static int fds[2];

static int worker(void *arg)
{
	int done = 0;

	(void)arg;
	while (uml_sem_down_timeout(work, 50) == 0) {
		if (uml_lock(lock))
			lock_errors++;
		long v = counter;

		uml_thread_yield();
		counter = v + 1;
		uml_unlock(lock);
		done++;
	}
	return done;
}

static int feeder(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++) {
		uml_sem_up(work);
		if (i % 100 == 0)
			uml_thread_sleep_ms(1);
	}
	return 0;
}

static int waiter(void *arg)
{
	char c;
	int *got = arg;

	*got = uml_thread_wait_fd(fds[0], false, 5000);
	if (read(fds[0], &c, 1) != 1)
		*got = -EIO;
	return 0;
}

static int poker(void *arg)
{
	(void)arg;
	uml_thread_sleep_ms(10);
	return write(fds[1], "x", 1) == 1 ? 0 : -1;
}

static uml_gen_t *gen;
static long spins;
static int gen_result = 1, gen_timeout = 1;
static volatile int gen_waiting;

static int gen_waiter(void *arg)
{
	uint32_t seen = uml_gen_read(gen);

	(void)arg;
	gen_waiting = 1;
	gen_result = uml_gen_wait(gen, seen, 5000);
	gen_waiting = 0;
	gen_timeout = uml_gen_wait(gen, uml_gen_read(gen), 30);
	return 0;
}

static int spinner(void *arg)
{
	(void)arg;
	while (gen_waiting || spins == 0) {
		spins++;
		uml_thread_sleep_ms(1);
	}
	return 0;
}

static void test_gen(void)
{
	pid_t pid;
	int status;

	gen = uml_zalloc(sizeof(*gen));
	pid = fork();
	if (pid == 0) {
		usleep(100000);
		uml_gen_bump(gen);
		_exit(0);
	}
	uml_thread_create(NULL, "gen-waiter", gen_waiter, NULL);
	uml_thread_create(NULL, "spinner", spinner, NULL);
	uml_cpu_stop();
	uml_cpu_run(true);
	waitpid(pid, &status, 0);
	ok(gen_result == 0 && spins > 20,
	   "a kthread asleep on a generation lets its CPU run (%ld turns) and wakes on "
	   "another process's bump",
	   spins);
	is_int(gen_timeout, -ETIMEDOUT, "a kthread's wait on an unchanged generation times out");
}

static int intr_results[4] = {1, 1, 1, 1};

static int self_interrupter(void *arg)
{
	(void)arg;
	uml_thread_interrupt(uml_thread_self());
	intr_results[0] = uml_thread_sleep_ms(1000);
	intr_results[1] = uml_thread_wait_fd(fds[0], false, 1000);
	intr_results[2] = uml_gen_wait(gen, uml_gen_read(gen), 1000);
	return 0;
}

static int long_sleeper(void *arg)
{
	(void)arg;
	intr_results[3] = uml_thread_sleep_ms(10000);
	return 0;
}

static int stopper(void *arg)
{
	uml_thread_interrupt(arg);
	return 0;
}

static void test_interrupt(void)
{
	uml_thread_t *sleeper;

	if (uml_thread_create_stack(NULL, "self", 16, self_interrupter, NULL) ||
	    uml_thread_create(&sleeper, "sleeper", long_sleeper, NULL) ||
	    uml_thread_create(NULL, "stopper", stopper, sleeper))
		bail_out("create");
	uml_cpu_stop();
	uml_cpu_run(true);
	uml_thread_join(sleeper, NULL);
	ok(intr_results[0] == -EINTR && intr_results[1] == -EINTR && intr_results[2] == -EINTR &&
	       intr_results[3] == -EINTR &&
	       uml_thread_create_stack(NULL, "x", 8, stopper, NULL) == -EINVAL,
	   "interrupted waits end with -EINTR (%d %d %d %d)", intr_results[0], intr_results[1],
	   intr_results[2], intr_results[3]);
}

int main(void)
{
	struct uml_boot_params bp = {.memory = 8 << 20};
	uml_thread_t *w[4];
	int sum = 0, got = 0;
	char buf[1024];

	plan(7);
	if (uml_boot(&bp) || uml_cpu_init() || pipe(fds))
		bail_out("boot failed");
	work = uml_sem_new(0);
	lock = uml_lock_new();
	for (int i = 0; i < 4; i++)
		uml_thread_create(&w[i], "worker", worker, NULL);
	uml_thread_create(NULL, "feeder", feeder, NULL);
	uml_thread_create(NULL, "waiter", waiter, &got);
	uml_thread_create(NULL, "poker", poker, NULL);
	/* Run until only the workers remain, then collect them from a thread of their own. */
	uml_cpu_stop();
	uml_cpu_run(true);
	for (int i = 0; i < 4; i++) {
		int r = 0;

		uml_thread_join(w[i], &r);
		sum += r;
	}
	ok(sum == 1000, "4 workers took 1000 units of work between them (%d)", sum);
	ok(got > 0, "a thread waiting on a pipe wakes when it is written");
	ok(counter == 1000 && lock_errors == 0,
	   "uml_lock kept the counter exact across yields, returning 0 (%ld, %ld)", counter,
	   lock_errors);
	uml_sched_status(buf, sizeof(buf));
	ok(strncmp(buf, "# cpu pid threads", 17) == 0 && strchr(buf, '\n')[1] != '\0',
	   "scheduler status lists this CPU");
	test_gen();
	test_interrupt();
	return done_testing();
}
