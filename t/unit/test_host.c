/*
 * kernel/host: whether a task lives (lock owners, CPUs and thread caches are
 * recovered from tasks it calls dead), and the panic report.
 *  1  a running child process is alive
 *  2  a child killed with SIGKILL and not yet waited for (a zombie) is dead:
 *     kill(pid, 0) called it alive, so a killed httpd child kept its locks
 *  3  a child that exited and was reaped is dead
 *  4  a child that called _exit and was not waited for is dead
 *  5  a running thread that is not a process is alive; once it has exited it is dead
 *  6  a process whose main thread exited while another thread runs is alive
 *  7  host_panic prints its message and aborts
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "uml/host.h"

/* Wait until @pid has exited, leaving it unreaped (a zombie). */
static void wait_exit_noreap(pid_t pid)
{
	siginfo_t si;

	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT))
		bail_out("waitid");
}

static pid_t child_forever(void)
{
	pid_t pid = fork();

	if (pid < 0)
		bail_out("fork");
	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

static void test_children(void)
{
	pid_t pid = child_forever();

	ok(host_task_alive((uint32_t)pid), "a running child is alive");
	kill(pid, SIGKILL);
	wait_exit_noreap(pid);
	ok(!host_task_alive((uint32_t)pid), "a killed child not yet waited for is dead");
	waitpid(pid, NULL, 0);
	ok(!host_task_alive((uint32_t)pid), "a reaped child is dead");

	pid = fork();
	if (pid == 0)
		_exit(0);
	wait_exit_noreap(pid);
	ok(!host_task_alive((uint32_t)pid), "a child that exited, not yet waited for, is dead");
	waitpid(pid, NULL, 0);
}

static int thread_pipe[2];
static _Atomic uint32_t thread_tid;

static void *thread_main(void *arg)
{
	char c;

	atomic_store(&thread_tid, (uint32_t)syscall(SYS_gettid));
	if (read(thread_pipe[0], &c, 1) < 0)
		return NULL;
	return arg;
}

static void test_thread(void)
{
	pthread_t th;
	bool alive, dead;

	if (pipe(thread_pipe) || pthread_create(&th, NULL, thread_main, NULL))
		bail_out("pipe or pthread_create");
	while (!atomic_load(&thread_tid))
		usleep(1000);
	alive = host_task_alive(atomic_load(&thread_tid));
	if (write(thread_pipe[1], "x", 1) != 1)
		bail_out("write");
	pthread_join(th, NULL);
	dead = !host_task_alive(atomic_load(&thread_tid));
	ok(alive && dead, "a thread: alive while it runs (%d), dead after it exited (%d)", alive,
	   dead);
	close(thread_pipe[0]);
	close(thread_pipe[1]);
}

static void *sleeper(void *arg)
{
	for (;;)
		pause();
	return arg;
}

/* The main thread's state, as /proc shows it: 'Z' once it has exited. */
static char main_thread_state(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, pid);
	f = fopen(path, "r");
	if (!f)
		return '?';
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	p = p ? strrchr(buf, ')') : NULL;
	return p && p[1] == ' ' ? p[2] : '?';
}

static void test_main_thread_exited(void)
{
	pid_t pid = fork();
	char state = '?';

	if (pid == 0) {
		pthread_t th;

		if (pthread_create(&th, NULL, sleeper, NULL))
			_exit(1);
		pthread_exit(NULL);
	}
	for (int i = 0; i < 2000 && state != 'Z'; i++) {
		usleep(1000);
		state = main_thread_state(pid);
	}
	ok(state == 'Z' && host_task_alive((uint32_t)pid),
	   "a process whose main thread exited (state %c) while another runs is alive", state);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void test_panic(void)
{
	char buf[256] = "";
	int p[2], status;
	bool reported;
	ssize_t n;
	pid_t pid;

	if (pipe(p))
		bail_out("pipe");
	pid = fork();
	if (pid == 0) {
		dup2(p[1], 2);
		host_panic("umltest: %s %d", "panic", 42);
	}
	close(p[1]);
	n = read(p[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(p[0]);
	waitpid(pid, &status, 0);
	reported = strcmp(buf, "umltest: panic 42\n") == 0;
	buf[strcspn(buf, "\n")] = '\0';
	ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && reported,
	   "host_panic reports \"%s\" and aborts", buf);
}

int main(void)
{
	plan(7);
	test_children();
	test_thread();
	test_main_thread_exited();
	test_panic();
	return done_testing();
}
