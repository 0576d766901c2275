/*
 * kernel/mm debug build (make check-debug, -DMM_DEBUG): each mistake below
 * is made in a child process, which must stop with a report naming it.
 *  1  a double free
 *  2  a write past the end of an object
 *  3  a write to an object after it was freed
 *  4  correct use runs clean
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "uml.h"
#include "uml/mm.h"

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
	n = read(p[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(p[0]);
	waitpid(pid, &status, 0);
	if (!want)
		ok(WIFEXITED(status) && WEXITSTATUS(status) == 0 && !buf[0], "%s", what);
	else
		ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(buf, want),
		   "%s: %s", what, buf[0] ? strtok(buf, "\n") : "(no report)");
}

int main(void)
{
	struct uml_boot_params bp = {.memory = 2 << 20};

	plan(4);
	if (uml_boot(&bp))
		bail_out("uml_boot failed");
	cache = kmem_cache_create("dbg48", 48, 0);
	expect(double_free, "double free", "a double free is reported");
	expect(overflow, "red zone overwritten", "a write past the end is reported at free");
	expect(use_after_free, "written after it was freed", "a write after free is reported");
	expect(clean, NULL, "correct use runs clean");
	return done_testing();
}
#else
int main(void)
{
	printf("1..0 # SKIP allocator debug checks need a -DMM_DEBUG build (make check-debug)\n");
	return 0;
}
#endif
