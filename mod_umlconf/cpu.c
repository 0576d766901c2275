/*
 * Each httpd child is a CPU of the machine: child_init attaches it and starts
 * one host thread, with every signal blocked so httpd's signal handling is
 * unchanged, that runs the child's kernel threads: the watcher, the NFS
 * service (an acceptor and a thread per connection), the receive thread of
 * its queue of each UmlConfInterface and a stopper (uml_cpu_stop_on_fd).
 * The child's pool cleanup makes the stopper end them all, joins the host
 * thread and detaches.
 *
 * When httpd collects a dead child (child_status hook, at once) the parent
 * frees the CPUs of children that died without detaching (uml_reap) and
 * subtracts their share of the admission counters, so a child killed with
 * SIGKILL mid-request leaks no slot. The monitor hook (every ten seconds in
 * the unix MPMs) does the same for any child missed that way.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "umlconf.h"

/* The watcher's stack: knob apply code logs through httpd, which wants room. */
#define CPU_INIT_TRIES 5 /* reap and retry, after 20, 40 .. 320 ms */

_Atomic bool umlconf_cpu_down;
#define WATCHER_STACK_KIB 128

/*
 * This child's CPU. The main thread sets it up before the host thread starts
 * and reads it after joining; in between only the CPU's threads touch it.
 */
static struct {
	pthread_t host;
	bool running;
	int stop_fd; /* eventfd: readable tells the stopper to end the threads */
	const struct uml_nfs_listener *nfs;
	struct umlconf_child *me;
	uml_thread_t *watcher;
	uml_nfs_server_t *server;
} cpu_threads = {.stop_fd = -1};

/* Move a child's counts out of the global totals. Call with children_lock held. */
static void child_reclaim(struct umlconf_shared *sh, struct umlconf_child *c, int cpu, uint32_t pid)
{
	int32_t f = atomic_exchange(&c->in_flight, 0);
	int32_t q = atomic_exchange(&c->queued, 0);

	if (f)
		atomic_fetch_sub(&sh->in_flight, f);
	if (q)
		atomic_fetch_sub(&sh->queued, q);
	if (f || q) {
		umlconf_admit_kick(sh);
		ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, umlconf_server,
			     UMLCONF_LOGNO(10009) "child %u (cpu %d) ended with %d request(s) in "
						  "flight and %d queued; their admission slots are "
						  "free again",
			     pid, cpu, f, q);
	}
}

/* The child exits (stop_fd is readable): end the CPU's other threads. */
static void cpu_threads_stop(void *arg)
{
	(void)arg;
	if (cpu_threads.server)
		uml_nfs_stop(cpu_threads.server);
	umlconf_interfaces_stop();
	if (cpu_threads.watcher)
		uml_thread_interrupt(cpu_threads.watcher);
	uml_import_stop();
}

static void *cpu_main(void *arg)
{
	pid_t pid = getpid();
	int rc;

	(void)arg;
	/*
	 * What stands in the way may be a dead child's leftovers (its CPU not
	 * reaped yet, its memory): reap and try again before giving up.
	 */
	for (int i = 0; (rc = uml_cpu_init()) < 0 && i < CPU_INIT_TRIES; i++) {
		uml_reap();
		apr_sleep(apr_time_from_msec(20 << i));
	}
	if (rc < 0) {
		atomic_store(&umlconf_cpu_down, true);
		ap_log_error(APLOG_MARK, APLOG_ERR, -rc, umlconf_server,
			     UMLCONF_LOGNO(10007) "child %ld cannot run kernel threads: it would "
						  "not apply knob changes, so it refuses requests "
						  "with 503 until httpd replaces it",
			     (long)pid);
		return NULL;
	}
	rc = uml_cpu_stop_on_fd(cpu_threads.stop_fd, cpu_threads_stop, NULL);
	if (rc == 0) {
		rc = uml_thread_create_stack(&cpu_threads.watcher, "umlconf-watch",
					     WATCHER_STACK_KIB, umlconf_watcher_main,
					     cpu_threads.me);
		if (rc < 0) {
			atomic_store(&umlconf_cpu_down, true);
			ap_log_error(APLOG_MARK, APLOG_ERR, -rc, umlconf_server,
				     UMLCONF_LOGNO(10019) "child %ld: cannot start the watcher; "
							  "it would not apply knob changes, so it "
							  "refuses requests with 503",
				     (long)pid);
		}
		umlconf_import_start();
		/*
		 * NFS on the machine's address answers through the queue of the
		 * process whose thread sends: a child without its queue would
		 * take connections it cannot answer, so it leaves them to the
		 * others.
		 */
		if (umlconf_interfaces_start() < 0 && cpu_threads.nfs &&
		    (cpu_threads.nfs->net_tcp || cpu_threads.nfs->net_udp))
			cpu_threads.nfs = NULL;
		if (cpu_threads.nfs) {
			rc = uml_nfs_start(cpu_threads.nfs, &cpu_threads.server);
			if (rc < 0)
				ap_log_error(APLOG_MARK, APLOG_ERR, -rc, umlconf_server,
					     UMLCONF_LOGNO(10013) "child %ld cannot serve NFS "
								  "(%s); other children still do",
					     (long)pid, strerror(-rc));
		}
	} else {
		atomic_store(&umlconf_cpu_down, true);
		ap_log_error(APLOG_MARK, APLOG_ERR, -rc, umlconf_server,
			     UMLCONF_LOGNO(10020) "child %ld: cannot start its kernel threads; it "
						  "refuses requests with 503",
			     (long)pid);
		uml_cpu_stop();
	}
	/* Until the stopper has ended the others and every thread is gone. */
	uml_cpu_run(true);
	uml_cpu_exit();
	return NULL;
}

static apr_status_t cpu_stop(void *arg)
{
	struct umlconf_shared *sh = umlconf_sh;
	int cpu = umlconf_cpu;
	uint64_t one = 1;

	(void)arg;
	if (cpu_threads.running) {
		if (write(cpu_threads.stop_fd, &one, sizeof(one)) < 0)
			ap_log_error(APLOG_MARK, APLOG_ERR, errno, umlconf_server,
				     UMLCONF_LOGNO(10021) "cannot tell the kernel threads to stop");
		else
			pthread_join(cpu_threads.host, NULL);
	}
	cpu_threads.running = false;
	cpu_threads.watcher = NULL;
	cpu_threads.server = NULL;
	if (cpu_threads.stop_fd >= 0)
		close(cpu_threads.stop_fd);
	cpu_threads.stop_fd = -1;

	if (cpu >= 0) {
		struct umlconf_child *me = &sh->child[cpu];

		uml_lock(sh->children_lock);
		if (atomic_load(&me->pid) == (uint32_t)getpid()) {
			child_reclaim(sh, me, cpu, (uint32_t)getpid());
			atomic_store(&me->pid, 0);
		}
		uml_unlock(sh->children_lock);
		umlconf_cpu = -1;
		uml_detach();
	}
	return APR_SUCCESS;
}

/*
 * Start the CPU's host thread, which takes no signals (httpd's threads
 * handle them), and say it runs before any signal can be taken again: a
 * child's SIGTERM during child_init runs httpd's just_die, which destroys
 * pchild, so cpu_stop, right there. Told nothing of a thread that exists,
 * cpu_stop would detach the machine under it.
 */
static int cpu_thread_start(void)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&cpu_threads.host, NULL, cpu_main, NULL);
	if (rc == 0)
		cpu_threads.running = true;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -rc;
}

void umlconf_cpu_start(apr_pool_t *pchild, server_rec *s, const struct uml_nfs_listener *nfs)
{
	struct umlconf_shared *sh = umlconf_sh;
	struct umlconf_child *me;
	uint32_t prev, pid = (uint32_t)getpid();
	int cpu, rc;

	if (!sh)
		return;
	cpu = uml_attach();
	if (cpu < 0) {
		atomic_store(&umlconf_cpu_down, true);
		ap_log_error(APLOG_MARK, APLOG_ERR, -cpu, s,
			     UMLCONF_LOGNO(10006) "child %u cannot attach to the machine (%s): it "
						  "would not apply knob changes, so it refuses "
						  "requests with 503",
			     pid, strerror(-cpu));
		return;
	}
	me = &sh->child[cpu];
	uml_lock(sh->children_lock);
	/* The CPU was free, so a previous owner is dead: take its share out first. */
	prev = atomic_load(&me->pid);
	if (prev && prev != pid)
		child_reclaim(sh, me, cpu, prev);
	atomic_store(&me->applied_gen, 0);
	atomic_store(&me->applied_ns, 0);
	atomic_store(&me->pid, pid);
	uml_unlock(sh->children_lock);
	umlconf_cpu = cpu;
	apr_pool_cleanup_register(pchild, NULL, cpu_stop, apr_pool_cleanup_null);

	cpu_threads.me = me;
	cpu_threads.nfs = nfs && (nfs->tcp_fd >= 0 || nfs->net_tcp || nfs->net_udp) ? nfs : NULL;
	cpu_threads.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (cpu_threads.stop_fd < 0)
		rc = -errno;
	else
		rc = cpu_thread_start();
	if (rc < 0) {
		atomic_store(&umlconf_cpu_down, true);
		ap_log_error(
		    APLOG_MARK, APLOG_ERR, -rc, s,
		    UMLCONF_LOGNO(10022) "child %u: cannot start the thread that runs its "
					 "watcher and NFS service; it refuses requests with "
					 "503",
		    pid);
	}
}

/* Reclaim @dead (a pid httpd has collected), or every dead child when 0. */
static void cpu_reap(uint32_t dead)
{
	struct umlconf_shared *sh = umlconf_sh;

	if (!sh)
		return;
	uml_reap();
	uml_lock(sh->children_lock);
	for (int cpu = 0; cpu < UML_MAX_CPUS; cpu++) {
		struct umlconf_child *c = &sh->child[cpu];
		uint32_t pid = atomic_load(&c->pid);

		if (!pid || (dead ? pid != dead : uml_task_alive(pid)))
			continue;
		child_reclaim(sh, c, cpu, pid);
		atomic_store(&c->pid, 0);
	}
	uml_unlock(sh->children_lock);
}

int umlconf_cpu_reap(apr_pool_t *p, server_rec *s)
{
	(void)p;
	(void)s;
	cpu_reap(0);
	return DECLINED;
}

void umlconf_cpu_child_status(server_rec *s, pid_t pid, ap_generation_t gen, int slot,
			      mpm_child_status state)
{
	(void)s;
	(void)gen;
	(void)slot;
	if (state == MPM_CHILD_EXITED)
		cpu_reap((uint32_t)pid);
}
