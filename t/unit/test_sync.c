/*
 * kernel/sync and libuml's locks and generations, between processes.
 *  1-2  spinlock and sleeping lock keep a shared counter exact under two processes
 *  3-4  a spinlock holder killed with SIGKILL: the lock is recovered, and the taker is told
 *  5-6  a uml_lock holder killed with SIGKILL: same, within a bounded time
 *  7-8  a watcher in another process wakes on a generation bump; a wait times out
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "uml.h"
#include "uml/host.h"
#include "uml/sync.h"

struct shared {
	spinlock_t spin;
	uint64_t spin_count;
	uint64_t lock_count;
	uml_gen_t gen;
};

static double now_s(void)
{
	return (double)host_mono_ns() / 1e9;
}

static void run_two(void (*fn)(struct shared *, uml_lock_t *), struct shared *sh, uml_lock_t *l)
{
	pid_t pid = fork();

	if (pid == 0) {
		fn(sh, l);
		_exit(0);
	}
	fn(sh, l);
	waitpid(pid, NULL, 0);
}

static void add_spin(struct shared *sh, uml_lock_t *l)
{
	(void)l;
	for (int i = 0; i < 200000; i++) {
		spin_lock(&sh->spin);
		sh->spin_count++;
		spin_unlock(&sh->spin);
	}
}

static void add_lock(struct shared *sh, uml_lock_t *l)
{
	for (int i = 0; i < 50000; i++) {
		uml_lock(l);
		sh->lock_count++;
		uml_unlock(l);
	}
}

/* Fork a child that takes the lock, says so through a pipe, and waits to be killed. */
static pid_t holder(struct shared *sh, uml_lock_t *l)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p))
		bail_out("pipe");
	pid = fork();
	if (pid == 0) {
		if (l)
			uml_lock(l);
		else
			spin_lock(&sh->spin);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	if (read(p[0], &c, 1) != 1)
		bail_out("holder did not start");
	close(p[0]);
	close(p[1]);
	return pid;
}

int main(void)
{
	struct uml_boot_params bp = {.memory = 2 << 20};
	struct shared *sh;
	uml_lock_t *l;
	double t0, waited;
	pid_t pid;
	int r, status;

	plan(8);
	if (uml_boot(&bp))
		bail_out("uml_boot failed");
	sh = uml_zalloc(sizeof(*sh));
	l = uml_lock_new();
	if (!sh || !l)
		bail_out("out of machine memory");

	run_two(add_spin, sh, l);
	is_int(sh->spin_count, 400000, "spinlock: two processes x 200000 increments");
	run_two(add_lock, sh, l);
	is_int(sh->lock_count, 100000, "uml_lock: two processes x 50000 increments");

	pid = holder(sh, NULL);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	t0 = now_s();
	r = spin_lock(&sh->spin);
	waited = now_s() - t0;
	is_int(r, 1, "spin_lock reports a lock recovered from a dead holder");
	ok(waited < 2.0 && atomic_load(&sh->spin.stolen) == 1, "recovered in %.3f s", waited);
	spin_unlock(&sh->spin);

	pid = holder(sh, l);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	t0 = now_s();
	r = uml_lock(l);
	waited = now_s() - t0;
	is_int(r, -EOWNERDEAD, "uml_lock reports a lock recovered from a dead holder");
	uml_unlock(l);
	ok(waited < 1.0 && uml_lock(l) == 0, "recovered in %.3f s and usable again", waited);
	uml_unlock(l);

	{
		uint32_t seen = uml_gen_read(&sh->gen);

		pid = fork();
		if (pid == 0)
			_exit(uml_gen_wait(&sh->gen, seen, 5000) == 0 ? 0 : 1);
		usleep(50000);
		t0 = now_s();
		uml_gen_bump(&sh->gen);
		waitpid(pid, &status, 0);
		waited = now_s() - t0;
		ok(WIFEXITED(status) && WEXITSTATUS(status) == 0 && waited < 1.0,
		   "a watcher in another process wakes on the bump (%.4f s)", waited);
	}
	t0 = now_s();
	r = uml_gen_wait(&sh->gen, uml_gen_read(&sh->gen), 100);
	waited = now_s() - t0;
	ok(r == -ETIMEDOUT && waited >= 0.09 && waited < 2.0, "an unchanged generation times out");
	return done_testing();
}
