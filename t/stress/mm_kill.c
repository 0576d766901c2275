/*
 * Death at a random instant, not only at a lock: the allocator. One run is
 * part of make test (check-unit); `make mm-kill` runs MM_KILL_RUNS more,
 * each with its own seed (MM_KILL_SEED).
 *  1  two children allocate and free objects of every size and pages in a
 *     loop and are SIGKILLed 1-6 ms in, 300 times; after each the reaper
 *     runs and the check is clean.
 *  2  what the children held is listed in memory they share with the test
 *     (an object is listed once its allocation returns, and unlisted before
 *     it is freed), and the test frees it all after each death: nothing is
 *     freed twice -- a repair that gave back an object a dead child still
 *     held would make the test's free the second one -- and every page is
 *     back at the end but for the objects lost, which it reports: a death
 *     between an allocation's return and the store that lists it, or
 *     between the unlisting and the free, loses one (the caller's window),
 *     and until the zone named what it moves (mm_zone.transit) so did a
 *     death between a slab and a magazine.
 *  3  the kernel logged nothing but the takeovers of the zone's lock
 *
 * The kernel's messages (a takeover of the zone's lock from a dead child is
 * logged each time) go to a file named at the start, kept if the run fails.
 *
 * It found windows of two kinds (fixed). A thread slot and the object and
 * page magazines were put in their tables before they were zeroed, so a
 * thread killed in between left the reaper the magazines and in-flight
 * pointer of the object's last life (slab.c's assertion in
 * kmem_cache_free_locked, seen in t/module/82_shutdown and 83_killstorm).
 * And the page allocator's repair, after a holder died splitting a block,
 * freed the page it found lost, merged it with the free halves, then took
 * the head of a half it had just merged for lost too and listed it twice:
 * two owners for one page later (buddy.c's assertion in page_free_locked,
 * and caches whose counts no longer matched their slabs).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../unit/audit.h"
#include "../unit/tap.h"
#include "uml.h"
#include "uml/mm.h"

static char report[16384];

/* What each child holds, in memory shared with the test. */
struct holdings {
	void *volatile obj[256];
	void *volatile pages;
	volatile unsigned order;
};
static struct holdings *held;

static void churn(unsigned seed, struct holdings *h)
{
	srand(seed);
	for (;;) {
		int i = rand() % 256;
		void *q = h->obj[i];

		if (q) {
			h->obj[i] = NULL;
			kfree(q);
		} else {
			h->obj[i] = kmalloc(1 + (size_t)(rand() % (rand() % 4 ? 2048 : 20000)));
		}
		if (rand() % 64 == 0) {
			unsigned o = (unsigned)(rand() % 3);

			h->order = o;
			h->pages = page_alloc(o);
			q = h->pages;
			h->pages = NULL;
			page_free(q, o);
		}
	}
}

/* Free what a dead child held, and forget it. */
static void free_holdings(struct holdings *h)
{
	for (int i = 0; i < 256; i++) {
		kfree(h->obj[i]);
		h->obj[i] = NULL;
	}
	if (h->pages)
		page_free(h->pages, h->order);
	h->pages = NULL;
}

/* The log's lines that are not the expected takeover of the zone's lock. */
static int log_others(const char *path, int *takeovers)
{
	FILE *f = fopen(path, "r");
	char line[512];
	int others = 0;

	*takeovers = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "umlmm: took the page allocator over from a dead holder")) {
			++*takeovers;
		} else if (others++ < 5) {
			line[strcspn(line, "\n")] = '\0';
			diag("kernel: %s", line);
		}
	}
	fclose(f);
	return others;
}

int main(void)
{
	struct uml_boot_params bp = {.memory = 64 << 20};
	const char *seed = getenv("MM_KILL_SEED"), *tmp = getenv("TMPDIR");
	int bad = 0, twice = 0, n = 300, takeovers, others, saved, fd;
	char path[256];

	uint64_t before;

	if (uml_boot(&bp))
		bail_out("uml_boot");
	held = mmap(NULL, 2 * sizeof(*held), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
		    0);
	if (held == MAP_FAILED)
		bail_out("mmap");
	memset(held, 0, 2 * sizeof(*held));
	before = pages_used();
	plan(3);
	snprintf(path, sizeof(path), "%s/mm-kill.%d.log", tmp ? tmp : "/tmp", (int)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		bail_out("%s: cannot create", path);
	diag("seed %s; the kernel's messages go to %s", seed ? seed : "18", path);
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	close(fd);
	srand(seed ? (unsigned)atoi(seed) : 18);
	for (int it = 0; it < n; it++) {
		struct timespec ts = {0, 1000000 + (rand() % 5000) * 1000};
		pid_t pid[2];

		for (int k = 0; k < 2; k++) {
			pid[k] = fork();
			if (pid[k] == 0)
				churn((unsigned)rand(), &held[k]);
		}
		nanosleep(&ts, NULL);
		for (int k = 0; k < 2; k++) {
			kill(pid[k], SIGKILL);
			waitpid(pid[k], NULL, 0);
		}
		uml_reap();
		uml_check(report, sizeof(report));
		if (strncmp(report, "ok", 2) != 0 && bad++ < 2)
			diag("after kill %d: %.400s", it, report);
		free_holdings(&held[0]);
		free_holdings(&held[1]);
		uml_check(report, sizeof(report));
		if (strncmp(report, "ok", 2) != 0 && twice++ < 2)
			diag("after freeing what kill %d's children held: %.400s", it, report);
	}
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	is_int(bad, 0,
	       "%d times two children killed at random instants of allocating and freeing: the "
	       "check is clean after each",
	       n);
	{
		uint64_t after = pages_used();

		diag("after %d deaths, %lld pages more in use than before (objects lost)", n,
		     (long long)(after - before));
		is_int(twice, 0,
		       "what the dead children held was freed by the test after each death: the "
		       "check is clean after each (nothing was freed twice)");
	}
	others = log_others(path, &takeovers);
	diag("the zone's lock was taken over from a dead child %d times", takeovers);
	is_int(others, 0, "the kernel said nothing else (%s)", path);
	if (bad == 0 && others == 0)
		unlink(path);
	return done_testing();
}
