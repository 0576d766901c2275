/*
 * Death at a random instant, not only at a lock: the allocator (`make
 * mm-kill`, not part of `make test` while it still fails).
 *  1  two children allocate and free objects of every size and pages in a
 *     loop and are SIGKILLed 1-6 ms in, 300 times; after each the reaper
 *     runs and the check is clean. What the dead children held stays theirs
 *     (their pointers died with them), so the machine fills up and later
 *     allocations fail: that is part of the test.
 *
 * It found windows of one kind (fixed): a thread slot and the object and
 * page magazines were put in their tables before they were zeroed, so a
 * thread killed in between left the reaper the magazines, counts and
 * in-flight pointer of the object's last life, and it freed them --
 * kernel/mm/slab.c:303's assertion, seen in t/module/82_shutdown and
 * 83_killstorm. Runs failed 3 in 9 before; about 1 in 10 still ends on
 * slab.c:303 or buddy.c:177-178 (a page freed that is not a block's head):
 * at least one more window, open (issue 10's note).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../unit/tap.h"
#include "uml.h"
#include "uml/mm.h"

static char report[16384];

static void churn(unsigned seed)
{
	void *p[256] = {0};

	srand(seed);
	for (;;) {
		int i = rand() % 256;

		if (p[i]) {
			kfree(p[i]);
			p[i] = NULL;
		} else {
			p[i] = kmalloc(1 + (size_t)(rand() % (rand() % 4 ? 2048 : 20000)));
		}
		if (rand() % 64 == 0) {
			unsigned o = (unsigned)(rand() % 3);
			void *pg = page_alloc(o);

			if (pg)
				page_free(pg, o);
		}
	}
}

int main(void)
{
	struct uml_boot_params bp = {.memory = 64 << 20};
	int bad = 0, n = 300;

	if (uml_boot(&bp))
		bail_out("uml_boot");
	plan(1);
	srand(18);
	for (int it = 0; it < n; it++) {
		struct timespec ts = {0, 1000000 + (rand() % 5000) * 1000};
		pid_t pid[2];

		for (int k = 0; k < 2; k++) {
			pid[k] = fork();
			if (pid[k] == 0)
				churn((unsigned)(it * 2 + k));
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
	}
	is_int(bad, 0,
	       "%d times two children killed at random instants of allocating and freeing: the "
	       "check is clean after each",
	       n);
	return done_testing();
}
