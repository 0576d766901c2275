/*
 * The kernel's only door to the host: memory, futexes, time, task ids.
 * Keeping every system call here lets the layers above be read (and ported)
 * without knowing Linux.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "uml/compiler.h"
#include "uml/host.h"

void *host_map_shared(size_t size, void *hint)
{
	void *p;

	p = mmap(hint, size, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS | (hint ? MAP_FIXED_NOREPLACE : 0), -1, 0);
	if (p == MAP_FAILED && hint)
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void host_unmap(void *addr, size_t size)
{
	munmap(addr, size);
}

int host_futex_wait(_Atomic uint32_t *word, uint32_t expect, int64_t timeout_ns)
{
	struct timespec ts, *tsp = NULL;
	long r;

	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		tsp = &ts;
	}
	/* Not FUTEX_PRIVATE: the word is shared with other processes. */
	r = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, expect, tsp, NULL, 0);
	if (r == 0 || errno == EAGAIN)
		return 0;
	return errno == ETIMEDOUT ? -ETIMEDOUT : -EINTR;
}

int host_futex_wake(_Atomic uint32_t *word, int n)
{
	long woken = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, n, NULL, NULL, 0);

	return woken > 0 ? (int)woken : 0;
}

/*
 * Thread ids are cached per thread; a fork gives the child's only thread the
 * parent's cache, so forks bump a generation that invalidates it.
 */
_Atomic uint32_t host_fork_gen = 1;
static __thread uint32_t host_tid_cache __attribute__((tls_model("initial-exec")));
static __thread uint32_t host_tid_gen __attribute__((tls_model("initial-exec")));
static pthread_once_t host_atfork_once = PTHREAD_ONCE_INIT;

static void host_after_fork(void)
{
	atomic_fetch_add(&host_fork_gen, 1);
}

static void host_atfork_register(void)
{
	pthread_atfork(NULL, NULL, host_after_fork);
}

void host_fork_watch(void)
{
	pthread_once(&host_atfork_once, host_atfork_register);
}

uint32_t host_tid(void)
{
	uint32_t gen = atomic_load_explicit(&host_fork_gen, memory_order_relaxed);

	if (unlikely(host_tid_gen != gen)) {
		host_fork_watch();
		host_tid_cache = (uint32_t)syscall(SYS_gettid);
		host_tid_gen = atomic_load(&host_fork_gen);
	}
	return host_tid_cache;
}

uint32_t host_pid(void)
{
	static uint32_t pid, pid_gen;
	uint32_t gen = atomic_load_explicit(&host_fork_gen, memory_order_relaxed);

	/* getpid() is a system call each time; the pid changes only at fork. */
	if (unlikely(pid_gen != gen)) {
		host_fork_watch();
		pid = (uint32_t)getpid();
		pid_gen = atomic_load(&host_fork_gen);
	}
	return pid;
}

/* Read /proc/<tid>/<file> into @buf (NUL-terminated); the length, or a negative errno. */
static ssize_t proc_read(uint32_t tid, const char *file, char *buf, size_t size)
{
	char path[48];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/%s", tid, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n;
}

/*
 * A zombie's thread-group leader may stand for a process whose other threads
 * still run (the main thread called pthread_exit): that process lives.
 */
static bool zombie_leads_live_threads(uint32_t tid)
{
	char buf[2048];
	const char *p;

	if (proc_read(tid, "status", buf, sizeof(buf)) <= 0)
		return false;
	p = strstr(buf, "\nThreads:");
	return p && strtoul(p + strlen("\nThreads:"), NULL, 10) > 1;
}

bool host_task_alive(uint32_t tid)
{
	char buf[512];
	const char *state;
	ssize_t n;

	/* No task; and kill(0) would ask about our own process group. */
	if (tid == 0 || tid > INT32_MAX)
		return false;
	/* kill() takes a thread id too; one system call rules most dead tasks out. */
	if (kill((pid_t)tid, 0) != 0 && errno == ESRCH)
		return false;
	/*
	 * It exists, maybe only as a zombie its parent has not waited for yet;
	 * /proc/<tid> also names a thread that is not a group leader. The state
	 * follows the command's name, which may itself hold ") ".
	 */
	n = proc_read(tid, "stat", buf, sizeof(buf));
	if (n == -ENOENT || n == -ESRCH)
		return false;
	state = n > 0 ? strrchr(buf, ')') : NULL;
	if (!state || state[1] != ' ')
		return true; /* unsure: a live owner must not lose its locks */
	switch (state[2]) {
	case 'X':
		return false;
	case 'Z':
		return zombie_leads_live_threads(tid);
	default:
		return true;
	}
}

uint64_t host_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void host_wall(int64_t *sec, uint32_t *nsec)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	*sec = ts.tv_sec;
	*nsec = (uint32_t)ts.tv_nsec;
}

void host_random(void *buf, size_t len)
{
	unsigned char *p = buf;
	uint64_t x;

	if (getrandom(buf, len, GRND_NONBLOCK) == (ssize_t)len)
		return;
	x = host_mono_ns() ^ ((uint64_t)getpid() << 32);
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)x;
	}
}

void host_yield(void)
{
	sched_yield();
}

/* @fmt and a newline on stderr in one write, so as not to interleave with another process. */
static void host_vlog(const char *fmt, va_list ap)
{
	char msg[512];
	int n;

	n = vsnprintf(msg, sizeof(msg) - 1, fmt, ap);
	n = n < 0 ? 0 : MIN(n, (int)sizeof(msg) - 2);
	msg[n++] = '\n';
	while (write(STDERR_FILENO, msg, (size_t)n) < 0 && errno == EINTR)
		;
}

void host_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	host_vlog(fmt, ap);
	va_end(ap);
	abort();
}

void host_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	host_vlog(fmt, ap);
	va_end(ap);
}

#ifdef MM_DEBUG
/*
 * Per thread, since a test arms the thread that does the work; the count of
 * points passed is per process. UINT64_MAX in host_fault_left means "not
 * looked at the environment yet".
 */
__thread uint64_t host_fault_left = UINT64_MAX;
__thread bool host_fault_pause_due;
static __thread bool fault_pause; /* the armed point pauses rather than kills */
static _Atomic uint64_t fault_passed;

void host_fault_arm(uint64_t n)
{
	atomic_store(&fault_passed, 0);
	host_fault_left = n;
	fault_pause = false;
	host_fault_pause_due = false;
}

void host_fault_arm_pause(uint64_t n)
{
	host_fault_arm(n);
	fault_pause = true;
}

void host_fault_pause_now(void)
{
	host_fault_pause_due = false;
	raise(SIGSTOP);
}

uint64_t host_fault_count(void)
{
	return atomic_load(&fault_passed);
}

void host_fault_point_slow(void)
{
	if (host_fault_left == UINT64_MAX) {
		const char *e = getenv("UML_FAULT_AT");

		host_fault_left = e ? strtoull(e, NULL, 10) : 0;
		if (!host_fault_left)
			return;
	}
	atomic_fetch_add(&fault_passed, 1);
	if (--host_fault_left != 0)
		return;
	if (fault_pause)
		host_fault_pause_due = true;
	else
		kill(getpid(), SIGKILL);
}
#endif

void host_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}
