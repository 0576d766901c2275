/*
 * Death at any instant: a process of the machine killed with SIGKILL leaves
 * nothing behind that the reaper does not take back.
 *  1-4  a child's kernel thread asleep on a shared generation and its host
 *       thread asleep on a shared semaphore are killed: after uml_reap both
 *       queues are empty, and the generation and the semaphore work for the
 *       next process (the reaper used to free the thread and leave its
 *       waiter linked, so the next wake walked freed memory). The child
 *       closed the machine's broadcast fd first, as a program that closes
 *       every fd it did not open would: its kernel thread then sleeps on the
 *       generation's queue, the path this tests.
 *  5-7  twenty children, each a CPU serving NFS with a connection open and
 *       waiters asleep, killed one after the other: every page comes back,
 *       the check is clean, no CPU is left
 *  8-9  uml_check finds a page that is neither free nor allocated, and a
 *       slab whose free list was cut; 10 a file rendered by uml_check (as
 *       /status/check is, under the vfs lock) reads "ok"
 * 11    with every CPU slot held by a process that died unreaped, a new
 *       process still attaches
 * 12    a child dies holding the export table's lock with an entry half
 *       copied: the next user drops that entry (its clients are refused
 *       until it is configured again) and the check is clean
 * 13    a child dies holding it with a slab's free list bent back on itself:
 *       the repair cuts it, and no object is handed out twice
 * 14    a child dies holding the tree's lock with an inode taken from the
 *       cache and not yet hashed: the next holder frees it
 * 15-18 a child dies holding the page allocator's lock with a free block
 *       taken off its list and a slab's count wrong: the next allocation
 *       takes the lock over, rebuilds the lists, and every page is free again
 * 19-20 a child dies holding it in the middle of a split: the block comes
 *       back whole and listed once (the repair used to list a half twice)
 * 21-22 a child becomes a CPU, runs a thread and leaves, a thousand times,
 *       while this process reaps without pause: no CPU is taken for dead
 *       while it is being born. One was, when the table showed it before it
 *       named its thread: the reaper freed it, its threads and stacks under
 *       the child, which met them again at exit (82_shutdown's double free).
 *       This race rarely hits that window; 23-25 stop the child in it.
 * 23-25 (debug build) the same child is stopped at its first, second, ...
 *       N-th lock instant that leaves it holding none, the reaper runs, and
 *       it goes on: it finishes unharmed every time, the check is clean and
 *       every page is back (the reaper takes nothing from the living; this
 *       sweep finds the window above at once, where the race took chance)
 * 26-   the sweeps (debug build): a child is killed at its first, second,
 *       ... N-th lock taken or released, until it gets through; after each
 *       death the reaper runs, the check is clean and every page is back:
 *       26-29 while it creates, writes, renames, links and removes files
 *             and directories: every name is there whole or not at all
 *       30-32 while it writes a knob-like hooked file twice (validate, store,
 *             commit to a value in the arena under a mutex): the value in
 *             force is always the one the file shows
 *       33-34 while, as a CPU serving NFS, it accepts a connection and
 *             answers a call
 *       35-37 while it fills three slabs of a cache and empties them: the
 *             allocator's own instants too, where a block is becoming a
 *             slab or stopping being one (a death there once lost a whole
 *             slab, which test 6 saw about once in 15 runs)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit.h"
#include "tap.h"
#include "uml.h"
#include "uml/gen.h"
#include "uml/host.h"
#include "uml/machine.h"
#include "uml/mm.h"
#include "uml/nfs3.h"
#include "uml/sched.h"
#include "uml/vfs.h"
#include "../../kernel/fs/fs_internal.h"

static struct kgen *gen;
static struct ksem *sem;
static struct uml_nfs_listener nfs;
static char report[16384];

static bool queue_empty(struct kwait *wq)
{
	bool empty;

	spin_lock(&wq->lock);
	empty = list_empty(&wq->waiters);
	spin_unlock(&wq->lock);
	return empty;
}

static bool wait_for(bool (*cond)(void), int ms)
{
	for (int i = 0; i < ms; i++) {
		if (cond())
			return true;
		usleep(1000);
	}
	return cond();
}

static bool both_asleep(void)
{
	return !queue_empty(&gen->wq) && !queue_empty(&sem->wq);
}

/* With the broadcast, the kernel thread sleeps on its CPU's list, not on gen's queue. */
static bool host_asleep(void)
{
	return !queue_empty(&sem->wq);
}

static int gen_sleeper(void *arg)
{
	(void)arg;
	return kgen_wait(gen, kgen_read(gen), -1);
}

static void *sem_sleeper(void *arg)
{
	(void)arg;
	ksem_down(sem);
	return NULL;
}

/* An NFS NULL call over a fresh connection: the reply says a connection thread runs. */
static int nfs_null_conn(void)
{
	uint32_t rec[11], reply[8];
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	getsockname(nfs.tcp_fd, (struct sockaddr *)&sa, &len);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	/* Record mark, xid, CALL, RPC 2, NFS 100003 v3 proc 0, AUTH_NONE twice. */
	rec[0] = htonl(0x80000000u | 40);
	rec[1] = htonl(0x1234);
	rec[2] = 0;
	rec[3] = htonl(2);
	rec[4] = htonl(100003);
	rec[5] = htonl(3);
	rec[6] = 0;
	rec[7] = rec[8] = rec[9] = rec[10] = 0;
	if (write(fd, rec, sizeof(rec)) != sizeof(rec) || read(fd, reply, sizeof(reply)) < 16) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A child that is a CPU: NFS service, a thread asleep on gen, a host thread
 * on sem; without the broadcast when @no_bcast (its kernel thread then sleeps
 * on gen's queue).
 */
static void cpu_child(int ready_fd, bool no_bcast)
{
	uml_nfs_server_t *srv;
	pthread_t host;

	if (no_bcast)
		close(machine->bcast_fd);
	if (uml_attach() < 0 || uml_cpu_init() || uml_nfs_start(&nfs, &srv) ||
	    kthread_create(NULL, "sleeper", SCHED_PRIO_DEFAULT, gen_sleeper, NULL) ||
	    pthread_create(&host, NULL, sem_sleeper, NULL))
		_exit(1);
	if (write(ready_fd, "r", 1) != 1)
		_exit(1);
	uml_cpu_run(false);
	_exit(0);
}

static pid_t start_cpu_child_as(bool no_bcast)
{
	int p[2];
	char c;
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		cpu_child(p[1], no_bcast);
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1) {
		close(p[0]);
		return -1;
	}
	close(p[0]);
	return pid;
}

static pid_t start_cpu_child(void)
{
	return start_cpu_child_as(false);
}

static void kill_and_wait(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void test_waiters(void)
{
	pid_t pid = start_cpu_child_as(true);
	bool asleep = pid > 0 && wait_for(both_asleep, 5000);

	ok(asleep, "a child's kernel thread sleeps on the generation, its host thread on "
		   "the semaphore");
	kill_and_wait(pid);
	uml_reap();
	ok(queue_empty(&gen->wq) && queue_empty(&sem->wq),
	   "after the reaper, neither queue holds the dead waiters");
	kgen_bump(gen);
	ksem_up(sem);
	ok(ksem_down_timeout(sem, 0) == 0, "the unit posted to the semaphore is there: no "
					   "dead waiter took it");
	ok(check_ok(), "the check is clean");
}

static void test_kill_cycles(void)
{
	uint64_t before, after;
	int killed = 0, conns = 0;

	/* One round first: the caches the children use exist from then on. */
	kill_and_wait(start_cpu_child());
	before = pages_used();
	for (int i = 0; i < 20; i++) {
		pid_t pid = start_cpu_child();
		int fd;

		if (pid < 0)
			break;
		wait_for(host_asleep, 5000);
		fd = nfs_null_conn();
		conns += fd >= 0;
		kill_and_wait(pid);
		if (fd >= 0)
			close(fd);
		killed++;
	}
	after = pages_used();
	diag("killed %d CPUs with %d NFS connections: pages in use %llu before, %llu after", killed,
	     conns, (unsigned long long)before, (unsigned long long)after);
	ok(killed == 20 && conns == 20, "twenty CPUs, each serving a connection, were killed");
	is_int((long long)after, (long long)before, "every page came back");
	ok(check_ok(), "the check is clean");
}

static void test_check_finds(void)
{
	struct mm_zone *z = mm_zone();
	char *p = page_alloc(0), *q;
	struct page *pg = mm_page_of(p);
	struct kmem_cache *c = kmem_cache_create("check-test", 64, 0);
	uint32_t saved;
	uint8_t flags = pg->flags;

	/* A page that says it is neither free nor allocated. */
	spin_lock(&z->lock);
	pg->flags = 0;
	spin_unlock(&z->lock);
	uml_check(report, sizeof(report));
	ok(strncmp(report, "FAIL", 4) == 0 && strstr(report, "neither free nor"),
	   "a page that is neither free nor allocated is found");
	spin_lock(&z->lock);
	pg->flags = flags;
	spin_unlock(&z->lock);
	page_free(p, 0);

	/* A slab whose free list lost its head. */
	q = kmem_cache_alloc(c);
	pg = mm_page_of(q);
	pg = &z->pages[pg->head];
	spin_lock(&z->lock);
	saved = pg->freelist;
	pg->freelist = 0;
	spin_unlock(&z->lock);
	uml_check(report, sizeof(report));
	ok(strncmp(report, "FAIL", 4) == 0 && strstr(report, "check-test"),
	   "a slab whose free list was cut is found");
	spin_lock(&z->lock);
	pg->freelist = saved;
	spin_unlock(&z->lock);
	kmem_cache_free(c, q);
	mm_drain();
	kmem_cache_destroy(c);
}

static size_t render_check(void *arg, char *buf, size_t size)
{
	(void)arg;
	return uml_check(buf, size);
}

static void test_check_rendered(void)
{
	static struct vfs_hooks h = {.render = render_check};
	char buf[64] = "";
	struct vfs_ino f;

	vfs_put("/check", 0444, "", 0, &f);
	vfs_set_hooks(f, &h);
	ok(uml_get_file("/check", buf, sizeof(buf) - 1) > 0 && strncmp(buf, "ok\n", 3) == 0,
	   "a file rendered by uml_check under the vfs lock reads ok");
}

static void test_slots_of_the_dead(void)
{
	pid_t dead = fork(), pid;
	int status = -1, filled = 0;

	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);
	for (int i = 0; i < MACHINE_MAX_CPUS; i++)
		if (atomic_load(&machine->cpu[i].pid) == 0) {
			atomic_store(&machine->cpu[i].pid, (uint32_t)dead);
			filled++;
		}
	pid = fork();
	if (pid == 0)
		_exit(uml_attach() >= 0 ? 0 : 1);
	waitpid(pid, &status, 0);
	ok(filled > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "with all %d free slots held by a dead process, a new process attaches", filled);
	uml_reap();
}

static int born_thread(void *arg)
{
	(*(int *)arg)++;
	uml_cpu_stop(); /* uml_cpu_run returns once this thread is gone */
	return 0;
}

/* The child: CPU after CPU, each running a thread; exit 0 if all went well. */
static void born_child(int rounds)
{
	int ran = 0;

	if (uml_attach() < 0)
		_exit(1);
	for (int i = 0; i < rounds; i++) {
		if (uml_cpu_init() || uml_thread_create(NULL, "born", born_thread, &ran))
			_exit(2);
		if (uml_cpu_run(true) < 0 || ran != i + 1)
			_exit(3);
		if (uml_cpu_exit())
			_exit(4);
	}
	_exit(0);
}

static void test_born_not_dead(void)
{
	uint64_t before = pages_used(), after;
	int status = -1;
	long reaps = 0;
	pid_t pid = fork();

	if (pid == 0)
		born_child(1000);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		uml_reap();
		reaps++;
	}
	after = pages_used();
	diag("a thousand CPUs born and gone under %ld reaps: pages in use %llu before, %llu "
	     "after",
	     reaps, (unsigned long long)before, (unsigned long long)after);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "the child became a CPU, ran a thread and left, a thousand times, under the reaper "
	   "(status %#x)",
	   status);
	ok(after == before && check_ok(), "every page is back and the check is clean");
}

#ifdef MM_DEBUG
static void test_born_sweep(void)
{
	uint64_t before = pages_used(), n;
	int paused = 0, bad_exit = 0, bad_check = 0, bad_pages = 0;
	uint64_t first_bad = 0;

	for (n = 1; n < 10000; n++) {
		int status = -1;
		bool stopped;
		pid_t pid = fork();

		if (pid == 0) {
			host_fault_arm_pause(n);
			born_child(1);
		}
		waitpid(pid, &status, WUNTRACED);
		stopped = WIFSTOPPED(status);
		if (stopped) {
			paused++;
			uml_reap();
			kill(pid, SIGCONT);
			waitpid(pid, &status, 0);
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			bad_exit++;
			first_bad = first_bad ? first_bad : n;
			diag("stopped at point %llu and reaped: status %#x", (unsigned long long)n,
			     status);
		}
		if (!check_ok())
			bad_check++;
		if (pages_used() != before) {
			bad_pages++;
			before = pages_used();
		}
		if (!stopped)
			break;
	}
	diag("a CPU's birth, run and exit: stopped and reaped at %d instants", paused);
	ok(paused >= 10 && n < 10000, "the child was stopped at each of its %d free lock instants",
	   paused);
	ok(bad_exit == 0, "it finished unharmed after every reap (%d did not, the first at %llu)",
	   bad_exit, (unsigned long long)first_bad);
	ok(bad_check == 0 && bad_pages == 0,
	   "the check was clean and every page back every time (%d checks failed, %d page "
	   "counts moved)",
	   bad_check, bad_pages);
}
#endif

static void test_export_takeover(void)
{
	const char *one[] = {"10.1.2.3"};
	struct nfs_state *st = machine->nfs;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(900)};
	struct vfs_ino dir;
	char err[128];
	int status;
	pid_t pid;

	vfs_mkpath("/torn", 0755, &dir);
	uml_nfs_export("/torn", 0, one, 1, err, sizeof(err));
	inet_pton(AF_INET, "10.1.2.3", &sa.sin_addr);
	pid = fork();
	if (pid == 0) {
		/* Half way through replacing the entry: the new allowlist, the old rest. */
		spin_lock(&st->lock);
		for (uint32_t i = 0; i < st->nexports; i++)
			if (!strcmp(st->exports[i].path, "/torn"))
				snprintf(st->exports[i].clients[0].text,
					 sizeof(st->exports[i].clients[0].text), "*");
		raise(SIGKILL);
	}
	waitpid(pid, &status, 0);
	ok(!nfs_peer_listed((struct sockaddr *)&sa) && check_ok(),
	   "the torn export is dropped, not served, and the check is clean");
}

/* A slab's free list a dead holder bent back on itself: cut, so nothing is handed out twice. */
static void test_slab_loop(void)
{
	struct mm_zone *z = mm_zone();
	struct kmem_cache *c = kmem_cache_create("loop-test", 256, 0);
	void *first = kmem_cache_alloc(c), *got[128];
	bool twice = false;
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		struct page *pg = &z->pages[mm_page_of(first)->head];
		char *mem = z->start + ((size_t)mm_page_of(first)->head << PAGE_SHIFT);

		spin_lock(&z->lock);
		/* The first free object's link points at itself. */
		*(uint32_t *)(mem + pg->freelist - 1) = pg->freelist;
		raise(SIGKILL);
	}
	waitpid(pid, &status, 0);
	mm_shrink(); /* takes the lock over */
	for (int i = 0; i < 128; i++) {
		got[i] = kmem_cache_alloc(c);
		for (int j = 0; j < i; j++)
			twice |= got[j] == got[i] || got[i] == first;
	}
	ok(!twice, "a free list bent back on itself is cut: 128 objects, all different");
	for (int i = 0; i < 128; i++)
		kmem_cache_free(c, got[i]);
	kmem_cache_free(c, first);
}

/* An inode a process took from the cache and died before hashing. */
static void test_inode_leak(void)
{
	uint64_t before = pages_used();
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		vfs_lock();
		kmem_cache_zalloc(vfs_sb->inode_cache);
		raise(SIGKILL);
	}
	waitpid(pid, &status, 0);
	uml_reap();
	ok(check_ok() && pages_used() == before,
	   "an inode taken and never hashed by a dead holder is freed on takeover");
}

static void test_zone_takeover(void)
{
	struct mm_zone *z = mm_zone();
	uint64_t before = pages_used();
	struct kmem_cache *c = kmem_cache_create("takeover-test", 128, 0);
	void *obj = kmem_cache_alloc(c), *p;
	int status;
	pid_t pid;

	pid = fork();
	if (pid == 0) {
		/* Half of a block's removal from its list, and a count moved early. */
		spin_lock(&z->lock);
		for (unsigned o = 3; o < MM_MAX_ORDER; o++) {
			if (!z->free[o].head)
				continue;
			z->free[o].head = z->pages[z->free[o].head - 1].next;
			break;
		}
		c->active += 5;
		raise(SIGKILL);
	}
	waitpid(pid, &status, 0);
	ok(WIFSIGNALED(status), "the child died holding the allocator's lock");
	p = page_alloc(4); /* takes the lock over */
	page_free(p, 4);
	ok(check_ok(), "the lists were rebuilt: the check is clean");
	kmem_cache_free(c, obj);
	mm_drain();
	is_int(kmem_cache_destroy(c), 0, "the cache's count is right again: it can go");
	ok(pages_used() == before, "every page is where it was (%llu in use)",
	   (unsigned long long)pages_used());
}

/*
 * A child dies splitting a block: taken off its list, its upper halves
 * already free on theirs, the page handed out not yet marked. The repair
 * frees that page, which merges back with the halves into the whole block;
 * it used to go on to the next page -- the head of a half it had just
 * merged -- take it for lost too, and list it a second time.
 */
static void test_split_takeover(void)
{
	struct mm_zone *z = mm_zone();
	uint64_t before = pages_used();
	int status;
	pid_t pid;
	void *p;

	pid = fork();
	if (pid == 0) {
		spin_lock(&z->lock);
		for (unsigned o = 3; o < MM_MAX_ORDER; o++) {
			uint32_t idx;

			if (!z->free[o].head)
				continue;
			idx = z->free[o].head - 1;
			z->free[o].head = z->pages[idx].next;
			z->pages[idx].flags = 0;
			for (unsigned h = o; h-- > 0;) {
				z->pages[idx + (1u << h)].order = (uint8_t)h;
				z->pages[idx + (1u << h)].flags = PG_FREE;
			}
			break;
		}
		raise(SIGKILL);
	}
	waitpid(pid, &status, 0);
	ok(WIFSIGNALED(status), "a child died holding the allocator's lock mid-split");
	p = page_alloc(0); /* takes the lock over */
	page_free(p, 0);
	ok(check_ok() && pages_used() == before,
	   "the split block is whole and listed once: the check is clean, every page is back");
}

#ifdef MM_DEBUG
static struct vfs_ctx ctx;

/* The work a child is killed in the middle of: each step a few locks. */
static void sweep_work(struct vfs_ino dir)
{
	static char data[6000];
	struct vfs_sattr sa = {0};
	struct vfs_ino f, d;

	memset(data, 'x', sizeof(data));
	vfs_create(dir, "a", 1, &sa, true, NULL, &ctx, &f);
	vfs_write(f, 0, data, sizeof(data), &ctx);
	vfs_rename(dir, "a", 1, dir, "b", 1, &ctx);
	vfs_mkdir(dir, "d", 1, &sa, &ctx, &d);
	vfs_rename(dir, "b", 1, d, "c", 1, &ctx);
	vfs_create(dir, "e", 1, &sa, true, NULL, &ctx, &f);
	vfs_link(f, d, "e2", 2, &ctx);
	vfs_remove(dir, "e", 1, &ctx);
	vfs_remove(d, "c", 1, &ctx);
	vfs_remove(d, "e2", 2, &ctx);
	vfs_rmdir(dir, "d", 1, &ctx);
}

static bool file_whole(struct vfs_ino dir, const char *name)
{
	struct vfs_attr a;
	struct vfs_ino f;

	if (vfs_lookup(dir, name, strlen(name), &f))
		return true; /* not there at all */
	/* There: empty (created, not yet written) or with every byte. */
	return vfs_getattr(f, &a) == 0 && (a.size == 0 || a.size == 6000);
}

/* Remove whatever the child left in @dir. */
static void sweep_clean(struct vfs_ino dir)
{
	struct vfs_ino d;

	if (vfs_lookup(dir, "d", 1, &d) == 0) {
		vfs_remove(d, "c", 1, &ctx);
		vfs_remove(d, "e2", 2, &ctx);
		vfs_rmdir(dir, "d", 1, &ctx);
	}
	vfs_remove(dir, "a", 1, &ctx);
	vfs_remove(dir, "b", 1, &ctx);
	vfs_remove(dir, "e", 1, &ctx);
}

/* A knob: the file's content, validated, and its value in force in the arena. */
struct knob_state {
	struct kmtx lock;
	int64_t value;
	struct kgen gen;
};
static struct knob_state *knob;
static long knob_parsed;

static int knob_validate(void *arg, const char *data, size_t len, struct vfs_ctx *c)
{
	char buf[16], *end;

	(void)arg;
	(void)c;
	if (!len || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, data, len);
	buf[len] = '\0';
	knob_parsed = strtol(buf, &end, 10);
	return end != buf && !strcmp(end, "\n") ? 0 : -EINVAL;
}

static void knob_commit(void *arg, const char *data, size_t len)
{
	(void)arg;
	(void)data;
	(void)len;
	kmtx_lock(&knob->lock);
	knob->value = knob_parsed;
	kmtx_unlock(&knob->lock);
	kgen_bump(&knob->gen);
}

static struct vfs_hooks knob_hooks = {.validate = knob_validate, .commit = knob_commit};

static long knob_file(struct vfs_ino f)
{
	char buf[16] = "";
	size_t n = 0;
	bool eof;

	vfs_read(f, 0, buf, sizeof(buf) - 1, &n, &eof);
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

static void test_knob_sweep(void)
{
	struct vfs_ino f;
	uint64_t before, n;
	int deaths = 0, bad_check = 0, apart = 0, bad_pages = 0, status;
	pid_t pid;

	knob = kzalloc(sizeof(*knob));
	kmtx_init(&knob->lock);
	kwait_init(&knob->gen.wq);
	vfs_put("/knob", 0644, "10\n", 3, &f);
	vfs_set_hooks(f, &knob_hooks);
	knob->value = 10;
	before = pages_used();
	for (n = 1; n < 10000; n++) {
		pid = fork();
		if (pid == 0) {
			host_fault_arm(n);
			vfs_write(f, 0, "42\n", 3, &ctx);
			vfs_write(f, 0, "17\n", 3, &ctx);
			_exit(0);
		}
		waitpid(pid, &status, 0);
		uml_reap();
		if (!check_ok())
			bad_check++;
		if (knob_file(f) != knob->value) {
			apart++;
			diag("killed at point %llu: the file says %ld, the value in force is %lld",
			     (unsigned long long)n, knob_file(f), (long long)knob->value);
		}
		if (pages_used() != before)
			bad_pages++;
		if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
			break;
		deaths++;
		/* Back to the start for the next run. */
		vfs_write(f, 0, "10\n", 3, &ctx);
	}
	diag("knob sweep: %llu injection points, %d deaths; %d unclean checks, %d times the "
	     "file and the value apart, %d leaks",
	     (unsigned long long)n - 1, deaths, bad_check, apart, bad_pages);
	ok(n > 4 && (uint64_t)deaths == n - 1, "killed at each of %llu instants of two knob writes",
	   (unsigned long long)n - 1);
	is_int(apart, 0, "after every death the value in force is the one the file shows");
	ok(bad_check == 0 && bad_pages == 0, "and the check is clean, every page back");
}

/*
 * After a death at point @n, reaped: the check, and the pages in use against
 * @before, which a leak moves to the new count so that it is counted once.
 */
static void audit_death(uint64_t n, uint64_t *before, int *bad_check, int *bad_pages)
{
	uint64_t used;

	if (!check_ok())
		(*bad_check)++;
	used = pages_used();
	if (used != *before) {
		(*bad_pages)++;
		diag("killed at point %llu: %llu pages in use, %llu before", (unsigned long long)n,
		     (unsigned long long)used, (unsigned long long)*before);
		*before = used;
	}
}

/*
 * A child fills three slabs of a cache of its own and empties them, and is
 * killed at each instant on the way, the allocator's own among them (the
 * block a slab is made of, taken and not yet a slab, or no longer one and
 * not yet free). The objects it held are nobody's after its death: they are
 * reclaimed, and then every page must be back.
 */
static void test_slab_sweep(void)
{
	struct kmem_cache *c = kmem_cache_create("sweep-slab", 1000, 0);
	uint64_t before = pages_used(), n;
	int deaths = 0, bad_check = 0, bad_pages = 0, status;
	unsigned want = 3 * c->per_slab, reclaimed = 0;
	pid_t pid;

	for (n = 1; n < 10000; n++) {
		pid = fork();
		if (pid == 0) {
			void *obj[64];

			host_fault_arm(n);
			for (unsigned i = 0; i < want && i < 64; i++)
				obj[i] = kmem_cache_alloc(c);
			for (unsigned i = 0; i < want && i < 64; i++)
				kmem_cache_free(c, obj[i]);
			mm_drain();
			_exit(0);
		}
		waitpid(pid, &status, 0);
		uml_reap();
		reclaimed += kmem_cache_reclaim(c, NULL, 0);
		audit_death(n, &before, &bad_check, &bad_pages);
		if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
			break;
		deaths++;
	}
	diag("slab sweep: %llu injection points, %d deaths, %u objects reclaimed; %d unclean "
	     "checks, %d leaks",
	     (unsigned long long)n - 1, deaths, reclaimed, bad_check, bad_pages);
	ok(n > 4 && (uint64_t)deaths == n - 1 && want <= 64,
	   "killed at each of %llu instants of three slabs grown and given back",
	   (unsigned long long)n - 1);
	ok(bad_check == 0 && bad_pages == 0,
	   "after every death the check is clean and every page is back");
	is_int(kmem_cache_destroy(c), 0, "the cache holds nothing: it can go");
}

/* The child serves NFS and dies at the n-th lock of its CPU thread. */
static void conn_child(int ready_fd, uint64_t n)
{
	uml_nfs_server_t *srv;

	if (uml_attach() < 0 || uml_cpu_init() || uml_nfs_start(&nfs, &srv))
		_exit(1);
	if (write(ready_fd, "r", 1) != 1)
		_exit(1);
	host_fault_arm(n);
	uml_cpu_run(false);
	_exit(0);
}

static void test_conn_sweep(void)
{
	uint64_t before = pages_used(), n;
	int deaths = 0, bad_check = 0, bad_pages = 0;

	for (n = 1; n < 1000; n++) {
		int p[2], fd, status = 0;
		bool answered;
		pid_t pid;
		char c;

		if (pipe(p))
			break;
		pid = fork();
		if (pid == 0) {
			close(p[0]);
			conn_child(p[1], n);
		}
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			break;
		close(p[0]);
		fd = nfs_null_conn();
		answered = fd >= 0;
		if (fd >= 0)
			close(fd);
		/*
		 * Unanswered: it is dying. Answered: it may still die closing
		 * the connection; alive after that, it got past every point.
		 */
		for (int ms = 0; waitpid(pid, &status, WNOHANG) == 0; ms++) {
			if (ms == (answered ? 200 : 5000)) {
				kill_and_wait(pid);
				status = 0;
				answered = true;
				break;
			}
			usleep(1000);
		}
		uml_reap();
		audit_death(n, &before, &bad_check, &bad_pages);
		if (answered && !WIFSIGNALED(status))
			break;
		deaths++;
	}
	diag("connection sweep: %llu injection points, %d deaths; %d unclean checks, %d leaks",
	     (unsigned long long)n - 1, deaths, bad_check, bad_pages);
	ok(n > 4 && (uint64_t)deaths >= n - 1,
	   "a CPU was killed at each of %llu instants of a connection's setup and first call",
	   (unsigned long long)n - 1);
	ok(bad_check == 0 && bad_pages == 0,
	   "after every death the check is clean, every page back");
}

static void test_sweep(void)
{
	struct vfs_ino dir, d;
	uint64_t before, points = 0;
	int deaths = 0, bad_check = 0, bad_names = 0, bad_pages = 0, first_bad = 0;
	int status;
	pid_t pid;

	vfs_mkpath("/sweep", 0777, &dir);
	/* How many points one run passes: arm past the end and count. */
	pid = fork();
	if (pid == 0) {
		host_fault_arm(UINT64_MAX - 1);
		sweep_work(dir);
		_exit((int)MIN(host_fault_count(), 255));
	}
	waitpid(pid, &status, 0);
	sweep_clean(dir);
	before = pages_used();
	for (uint64_t n = 1; n < 10000; n++) {
		bool died;

		pid = fork();
		if (pid == 0) {
			host_fault_arm(n);
			sweep_work(dir);
			_exit(0);
		}
		waitpid(pid, &status, 0);
		died = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
		uml_reap();
		if (!check_ok()) {
			bad_check++;
			first_bad = first_bad ? first_bad : (int)n;
		}
		if (!file_whole(dir, "a") || !file_whole(dir, "b") ||
		    (vfs_lookup(dir, "d", 1, &d) == 0 && !file_whole(d, "c")))
			bad_names++;
		sweep_clean(dir);
		if (pages_used() != before) {
			bad_pages++;
			diag("killed at point %llu: %llu pages in use, %llu before",
			     (unsigned long long)n, (unsigned long long)pages_used(),
			     (unsigned long long)before);
			before = pages_used();
		}
		if (!died) {
			points = n - 1;
			break;
		}
		deaths++;
	}
	diag("sweep: %llu injection points, %d deaths; %d unclean checks (first at %d), %d "
	     "torn names, %d leaks",
	     (unsigned long long)points, deaths, bad_check, first_bad, bad_names, bad_pages);
	ok(points > 20 && (uint64_t)deaths == points,
	   "the child was killed at each of its %llu lock instants, then got through",
	   (unsigned long long)points);
	is_int(bad_check, 0, "after every death the check is clean");
	is_int(bad_names, 0, "after every death each name is there whole or not at all");
	is_int(bad_pages, 0, "after every death and clean-up every page is back");
}
#endif

int main(void)
{
	struct uml_boot_params bp = {.memory = 32 << 20};

	if (uml_boot(&bp))
		bail_out("uml_boot");
	gen = kzalloc(sizeof(*gen));
	sem = kzalloc(sizeof(*sem));
	kwait_init(&gen->wq);
	ksem_init(sem, 0);
	if (uml_nfs_listen("127.0.0.1", 0, UML_NFS_TCP, &nfs))
		bail_out("uml_nfs_listen");
	{
		const char *all[] = {"127.0.0.1"};
		char err[128];

		if (uml_nfs_export("/", 0, all, 1, err, sizeof(err)))
			bail_out("uml_nfs_export: %s", err);
	}
	test_waiters();
	test_kill_cycles();
	test_check_finds();
	test_check_rendered();
	test_slots_of_the_dead();
	test_export_takeover();
	test_slab_loop();
	test_inode_leak();
	test_zone_takeover();
	test_split_takeover();
	test_born_not_dead();
#ifdef MM_DEBUG
	test_born_sweep();
	test_sweep();
	test_knob_sweep();
	test_conn_sweep();
	test_slab_sweep();
#else
	skip(15, "the fault-injection sweeps need the debug build (make check-debug)");
#endif
	return done_testing();
}
