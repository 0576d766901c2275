/*
 * kernel/sched: generation counters (struct kgen).
 *  1  a bump wakes a host thread asleep on the counter, not before the bump
 *  2  a bump from a host thread wakes a kernel thread, whose CPU kept running
 *     another kernel thread while it waited
 *  3  a host thread's wait on an unchanged counter times out after the time asked
 *  4  the same for a kernel thread
 *  5  a stale @seen returns 0 at once, on a host thread and on a kernel thread
 *  6  a kernel thread interrupted while it waits gets -EINTR, and at once
 *     from every later wait
 *  7  a host thread that takes a signal while it waits gets -EINTR
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "uml.h"
#include "uml/gen.h"
#include "uml/host.h"
#include "uml/sched.h"

#define MS 1000000LL

static struct kgen *gen;

static double now_s(void)
{
	return (double)host_mono_ns() / 1e9;
}

static void run_all(void)
{
	sched_cpu_stop(sched_this_cpu());
	sched_cpu_run(true);
}

struct host_waiter {
	uint32_t seen;
	int64_t timeout_ns;
	int result;
	double woke;
	_Atomic int done;
};

static void *host_wait(void *arg)
{
	struct host_waiter *w = arg;

	w->result = kgen_wait(gen, w->seen, w->timeout_ns);
	w->woke = now_s();
	atomic_store(&w->done, 1);
	return NULL;
}

static void test_host_wakes(void)
{
	struct host_waiter w = {.seen = kgen_read(gen), .timeout_ns = 5000 * MS, .result = 1};
	pthread_t th;
	double bumped;
	uint32_t v;

	if (pthread_create(&th, NULL, host_wait, &w))
		bail_out("pthread_create");
	usleep(50000);
	bumped = now_s();
	v = kgen_bump(gen);
	pthread_join(th, NULL);
	ok(w.result == 0 && v == w.seen + 1 && w.woke >= bumped && w.woke - bumped < 1.0,
	   "a bump wakes a host thread (%d, after %.4f s)", w.result, w.woke - bumped);
}

static _Atomic int kwaiting;
static int kresult = 1;
static long spins, spins_while_waiting;
static double kwoke, kbumped;

static int kwaiter(void *arg)
{
	uint32_t seen = kgen_read(gen);

	(void)arg;
	atomic_store(&kwaiting, 1);
	kresult = kgen_wait(gen, seen, 5000 * MS);
	kwoke = now_s();
	atomic_store(&kwaiting, 0);
	return 0;
}

static int spinner(void *arg)
{
	(void)arg;
	while (atomic_load(&kwaiting) || spins == 0) {
		spins++;
		if (atomic_load(&kwaiting))
			spins_while_waiting++;
		kthread_sleep_ns(1 * MS);
	}
	return 0;
}

static void *host_bump(void *arg)
{
	(void)arg;
	usleep(100000);
	kbumped = now_s();
	kgen_bump(gen);
	return NULL;
}

static void test_kthread_wakes(void)
{
	pthread_t th;

	if (kthread_create(NULL, "kwaiter", SCHED_PRIO_DEFAULT, kwaiter, NULL) ||
	    kthread_create(NULL, "spinner", SCHED_PRIO_DEFAULT, spinner, NULL) ||
	    pthread_create(&th, NULL, host_bump, NULL))
		bail_out("create");
	run_all();
	pthread_join(th, NULL);
	ok(kresult == 0 && spins_while_waiting > 20 && kwoke >= kbumped && kwoke - kbumped < 1.0,
	   "a bump wakes a kernel thread (%d, after %.4f s); its CPU ran %ld turns meanwhile",
	   kresult, kwoke - kbumped, spins_while_waiting);
}

static void test_host_timeout(void)
{
	double t0 = now_s(), waited;
	int r = kgen_wait(gen, kgen_read(gen), 100 * MS);

	waited = now_s() - t0;
	ok(r == -ETIMEDOUT && waited >= 0.1 && waited < 0.6,
	   "a host thread's wait times out (%d after %.4f s of 0.1)", r, waited);
}

static int ktimeout_result = 1;
static double ktimeout_waited;

static int ktimeout(void *arg)
{
	double t0 = now_s();

	(void)arg;
	ktimeout_result = kgen_wait(gen, kgen_read(gen), 100 * MS);
	ktimeout_waited = now_s() - t0;
	return 0;
}

static void test_kthread_timeout(void)
{
	if (kthread_create(NULL, "ktimeout", SCHED_PRIO_DEFAULT, ktimeout, NULL))
		bail_out("create");
	run_all();
	ok(ktimeout_result == -ETIMEDOUT && ktimeout_waited >= 0.099 && ktimeout_waited < 0.6,
	   "a kernel thread's wait times out (%d after %.4f s of 0.1)", ktimeout_result,
	   ktimeout_waited);
}

static int kstale_result = 1;
static double kstale_waited;

static int kstale(void *arg)
{
	double t0 = now_s();

	(void)arg;
	kstale_result = kgen_wait(gen, kgen_read(gen) - 1, 5000 * MS);
	kstale_waited = now_s() - t0;
	return 0;
}

static void test_stale(void)
{
	double t0 = now_s(), waited;
	int r = kgen_wait(gen, kgen_read(gen) - 1, 5000 * MS);

	waited = now_s() - t0;
	if (kthread_create(NULL, "kstale", SCHED_PRIO_DEFAULT, kstale, NULL))
		bail_out("create");
	run_all();
	ok(r == 0 && waited < 0.1 && kstale_result == 0 && kstale_waited < 0.1,
	   "a stale seen returns at once (host %d in %.4f s, kthread %d in %.4f s)", r, waited,
	   kstale_result, kstale_waited);
}

static int kintr_results[2] = {1, 1};
static double kintr_again;

static int kintr_waiter(void *arg)
{
	double t0;

	(void)arg;
	kintr_results[0] = kgen_wait(gen, kgen_read(gen), 2000 * MS);
	t0 = now_s();
	kintr_results[1] = kgen_wait(gen, kgen_read(gen), 5000 * MS);
	kintr_again = now_s() - t0;
	return 0;
}

static int kinterrupter(void *arg)
{
	kthread_sleep_ns(20 * MS);
	kthread_interrupt(arg);
	return 0;
}

static void test_kthread_interrupt(void)
{
	struct kthread *w;

	if (kthread_create(&w, "kintr", SCHED_PRIO_DEFAULT, kintr_waiter, NULL) ||
	    kthread_create(NULL, "interrupter", SCHED_PRIO_DEFAULT, kinterrupter, w))
		bail_out("create");
	run_all();
	kthread_join(w, NULL);
	ok(kintr_results[0] == -EINTR && kintr_results[1] == -EINTR && kintr_again < 0.1,
	   "an interrupted kernel thread's waits end with -EINTR (%d, %d in %.4f s)",
	   kintr_results[0], kintr_results[1], kintr_again);
}

static void on_signal(int sig)
{
	(void)sig;
}

static void test_host_signal(void)
{
	struct host_waiter w = {.seen = kgen_read(gen), .timeout_ns = 5000 * MS, .result = 1};
	struct sigaction sa;
	pthread_t th;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: the wait must see the signal */
	sigaction(SIGUSR1, &sa, NULL);
	if (pthread_create(&th, NULL, host_wait, &w))
		bail_out("pthread_create");
	/* A signal that comes before the thread sleeps is lost on it: send until it returns. */
	while (!atomic_load(&w.done)) {
		usleep(20000);
		pthread_kill(th, SIGUSR1);
	}
	pthread_join(th, NULL);
	is_int(w.result, -EINTR, "a host thread that takes a signal while it waits gets -EINTR");
}

int main(void)
{
	struct uml_boot_params bp = {.memory = 4 << 20};

	plan(7);
	if (uml_boot(&bp) || sched_cpu_init())
		bail_out("boot failed");
	gen = uml_zalloc(sizeof(*gen));
	if (!gen)
		bail_out("out of machine memory");
	test_host_wakes();
	test_kthread_wakes();
	test_host_timeout();
	test_kthread_timeout();
	test_stale();
	test_kthread_interrupt();
	test_host_signal();
	return done_testing();
}
