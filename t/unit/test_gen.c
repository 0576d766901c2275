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
 *  8-9 a bump wakes a kernel thread in each of 16 child processes: all of
 *     them, with one ring of the broadcast (its eventfd count moves by one)
 *     and no doorbell rung
 * 10-11 a bump between kgen_defer_begin and _end moves the counter at once
 *     and wakes nobody until the end; then every sleeper wakes
 * 12  a child that closed the broadcast fd still wakes (its CPU sleeps on
 *     the counter's queue and hears its doorbell)
 * 13-14 kgen_bump_n(1) with three host threads asleep wakes one; the others
 *     sleep on until the next bump
 * 15  a CPU that dies between its bump and the wake-ups it deferred: the
 *     reaper rings the broadcast and the sleepers wake
 * 16  a process that closed the broadcast fd bumps: it rings every CPU's
 *     doorbell instead, and a kernel thread of another process wakes
 * 17  a kernel thread that bumps while deferring and then sleeps (as one
 *     whose reply waits for a peer that does not read) sends its wake-ups
 *     when it sleeps, not when it wakes up again
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "uml.h"
#include "uml/gen.h"
#include "uml/host.h"
#include "uml/machine.h"
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

/* --- across processes --- */

#define NCHILD 16

/* In the arena: what each child saw. */
struct child_view {
	_Atomic uint32_t asleep; /* its kernel thread is about to wait */
	_Atomic uint32_t woke;	 /* its wait returned 0 */
	_Atomic uint64_t remote_wakes;
};
static struct child_view *views;

static int child_waiter(void *arg)
{
	struct child_view *v = arg;
	uint32_t seen = kgen_read(gen);
	int r;

	atomic_store(&v->asleep, 1);
	r = kgen_wait(gen, seen, 10000 * MS);
	if (r == 0)
		atomic_store(&v->woke, 1);
	sched_cpu_stop(sched_this_cpu());
	return 0;
}

/* A child CPU with one kernel thread waiting on gen; without the broadcast if @no_bcast. */
static pid_t start_child(struct child_view *v, bool no_bcast)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	if (no_bcast)
		close(machine->bcast_fd);
	if (uml_attach() < 0 || sched_cpu_init() ||
	    kthread_create(NULL, "waiter", SCHED_PRIO_DEFAULT, child_waiter, v))
		_exit(1);
	sched_cpu_run(true);
	for (int i = 0; i < MACHINE_MAX_CPUS; i++) {
		struct sched_stats st;

		if (sched_cpu_stats(i, &st) == 0 && st.pid == (uint32_t)getpid())
			atomic_store(&v->remote_wakes, st.remote_wakes);
	}
	_exit(0);
}

static bool all_asleep(int n)
{
	for (int i = 0; i < 200; i++) {
		int k = 0;

		for (int c = 0; c < n; c++)
			k += atomic_load(&views[c].asleep);
		if (k == n)
			return usleep(20000), true; /* and a moment to get into the wait */
		usleep(10000);
	}
	return false;
}

static int count_woke(int n)
{
	int k = 0;

	for (int c = 0; c < n; c++)
		k += atomic_load(&views[c].woke);
	return k;
}

static int wait_children(pid_t *pids, int n)
{
	int fine = 0;

	for (int c = 0; c < n; c++) {
		int st;

		if (waitpid(pids[c], &st, 0) == pids[c] && WIFEXITED(st) && WEXITSTATUS(st) == 0)
			fine++;
	}
	uml_reap(); /* their CPUs, gone without sched_cpu_exit */
	return fine;
}

static uint64_t eventfd_count(void)
{
	char path[64], buf[512], *at;
	FILE *f;
	size_t len;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", machine->bcast_fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	at = strstr(buf, "eventfd-count:");
	return at ? strtoull(at + strlen("eventfd-count:"), NULL, 16) : 0;
}

static void test_broadcast(void)
{
	pid_t pids[NCHILD];
	uint64_t before, after;
	uint64_t rw = 0;
	int fine, woke;

	memset(views, 0, sizeof(*views) * NCHILD);
	for (int c = 0; c < NCHILD; c++)
		pids[c] = start_child(&views[c], false);
	if (!all_asleep(NCHILD))
		bail_out("children did not start");
	before = eventfd_count();
	kgen_bump(gen);
	after = eventfd_count();
	fine = wait_children(pids, NCHILD);
	woke = count_woke(NCHILD);
	ok(fine == NCHILD && woke == NCHILD,
	   "one bump wakes the kernel threads of %d processes (%d woke, %d exited well)", NCHILD,
	   woke, fine);
	for (int c = 0; c < NCHILD; c++)
		rw += atomic_load(&views[c].remote_wakes);
	ok(after == before + 1 && rw == 0,
	   "with one ring of the broadcast (its count moved by %llu) and no doorbell (%llu remote "
	   "wakes)",
	   (unsigned long long)(after - before), (unsigned long long)rw);
}

static void test_deferred(void)
{
	pid_t pids[4];
	uint32_t v0 = kgen_read(gen);
	int early, fine;

	memset(views, 0, sizeof(*views) * 4);
	for (int c = 0; c < 4; c++)
		pids[c] = start_child(&views[c], false);
	if (!all_asleep(4))
		bail_out("children did not start");
	kgen_defer_begin();
	kgen_defer_begin(); /* nested: only the outer end wakes */
	kgen_bump(gen);
	kgen_defer_end();
	usleep(200000);
	early = count_woke(4);
	ok(kgen_read(gen) == v0 + 1 && early == 0,
	   "a deferred bump moves the counter at once and wakes nobody (%d woke)", early);
	kgen_defer_end();
	fine = wait_children(pids, 4);
	ok(fine == 4 && count_woke(4) == 4, "the end of the deferral wakes them all (%d of 4)",
	   count_woke(4));
}

static void test_no_bcast(void)
{
	pid_t pid;

	memset(views, 0, sizeof(*views));
	pid = start_child(&views[0], true);
	if (!all_asleep(1))
		bail_out("child did not start");
	kgen_bump(gen);
	ok(wait_children(&pid, 1) == 1 && count_woke(1) == 1,
	   "a CPU whose process closed the broadcast still wakes (through its doorbell)");
}

static void test_bump_n(void)
{
	struct host_waiter w[3];
	pthread_t th[3];
	int done = 0;

	for (int i = 0; i < 3; i++) {
		w[i] = (struct host_waiter){.seen = kgen_read(gen), .timeout_ns = 5000 * MS};
		if (pthread_create(&th[i], NULL, host_wait, &w[i]))
			bail_out("pthread_create");
	}
	usleep(100000);
	kgen_bump_n(gen, 1);
	usleep(200000);
	for (int i = 0; i < 3; i++)
		done += atomic_load(&w[i].done);
	ok(done == 1, "kgen_bump_n(1) with three host threads asleep wakes one (%d woke)", done);
	kgen_bump_n(gen, 2);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	done = 0;
	for (int i = 0; i < 3; i++)
		done += w[i].result == 0;
	ok(done == 3, "the next bump wakes the other two (%d of 3 saw it move)", done);
}

/* A CPU that moves the counter with its wake-ups deferred, then dies. */
static pid_t start_dying_bumper(void)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	if (uml_attach() < 0 || sched_cpu_init())
		_exit(1);
	kgen_defer_begin();
	kgen_bump(gen);
	_exit(0); /* the CPU stays registered: its process is gone */
}

static void test_dead_bumper(void)
{
	pid_t pids[2], bumper;
	int early, fine;

	memset(views, 0, sizeof(*views) * 2);
	for (int c = 0; c < 2; c++)
		pids[c] = start_child(&views[c], false);
	if (!all_asleep(2))
		bail_out("children did not start");
	bumper = start_dying_bumper();
	waitpid(bumper, NULL, 0);
	usleep(100000);
	early = count_woke(2);
	uml_reap();
	fine = wait_children(pids, 2);
	ok(early == 0 && fine == 2 && count_woke(2) == 2,
	   "a CPU that died before its deferred wake-ups: asleep until the reaper (%d woke "
	   "before), then awake (%d)",
	   early, count_woke(2));
}

static void test_bump_without_bcast(void)
{
	pid_t pid, bumper;
	int fine;

	memset(views, 0, sizeof(*views));
	pid = start_child(&views[0], false);
	if (!all_asleep(1))
		bail_out("child did not start");
	bumper = fork();
	if (bumper == 0) {
		close(machine->bcast_fd);
		kgen_bump(gen);
		_exit(kgen_bcast_fd() == -1 ? 0 : 1);
	}
	fine = wait_children(&bumper, 1);
	fine += wait_children(&pid, 1);
	ok(fine == 2 && count_woke(1) == 1,
	   "a process without the broadcast wakes another's kernel thread (through the doorbells)");
}

static int sleeping_woke = -1;

static int defer_then_sleep(void *arg)
{
	(void)arg;
	kgen_defer_begin();
	kgen_bump(gen);
	kthread_sleep_ns(1000 * MS);
	sleeping_woke = count_woke(1); /* before the deferral ends */
	kgen_defer_end();
	return 0;
}

static void test_defer_sleep(void)
{
	pid_t pid;
	int fine;

	memset(views, 0, sizeof(*views));
	pid = start_child(&views[0], false);
	if (!all_asleep(1))
		bail_out("child did not start");
	if (kthread_create(NULL, "defer-sleep", SCHED_PRIO_DEFAULT, defer_then_sleep, NULL))
		bail_out("kthread_create");
	run_all();
	fine = wait_children(&pid, 1);
	ok(fine == 1 && sleeping_woke == 1,
	   "a kernel thread that sleeps while deferring sends its wake-ups as it sleeps (%d woke "
	   "before its deferral ended)",
	   sleeping_woke);
}

int main(void)
{
	struct uml_boot_params bp = {.memory = 4 << 20};

	plan(17);
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
	views = uml_zalloc(sizeof(*views) * NCHILD);
	if (!views)
		bail_out("out of machine memory");
	test_broadcast();
	test_deferred();
	test_no_bcast();
	test_bump_n();
	test_dead_bumper();
	test_bump_without_bcast();
	test_defer_sleep();
	return done_testing();
}
